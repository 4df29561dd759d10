#!/usr/bin/env bash
# One device-machine session, in stages that each fit a 10-minute call (results under $OUT):
#   tests     GPU correctness tests (kernels, blocks, ONNX Runtime, profiler)
#   bench     bench_kernels.py: every kernel against torch eager / SDPA / cuBLAS and ORT's CUDA EP
#   tune      the attention and INT4 sweeps (split count, fused merge, tiles, warps)
#   global    decode attention where it trailed SDPA (Gemma-3 global, B=8), unmasked body included
#   profiles  the CLI's profiles of real layer shapes (torch, SDPA, Triton), calibrated
# `bash benchmarks/gpu_session.sh tests bench` runs two; no argument runs all four.
# ORT's CUDA EP needs the onnxruntime-gpu wheel carried in parts (benchmarks/ort_gpu_wheel.sh):
# when the parts are on the machine, it is installed first, else ORT cases report why they skip.
set -uo pipefail
export PYTHONUNBUFFERED=1 ORBIT_EXPLORER_CONFIG_DIR="${OUT:-/tmp}/config"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-/tmp}"
stages="${*:-tests bench tune profiles}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ -d "$here/../.ortgpu" ] || [ -d /tmp/ortgpu_parts ]; then
    source "$here/ort_gpu_wheel.sh" install || echo "onnxruntime-gpu not installed; ORT runs on what the image has"
fi
for stage in $stages; do
    echo "=== $stage"
    case "$stage" in
    tests)
        python3 -m pytest tests/test_triton_kernels.py tests/test_blocks.py tests/test_onnx_runtime.py \
            tests/test_onnx_decode.py tests/test_profiler.py tests/test_cross_attention.py -q -p no:cacheprovider -n 8 2>&1 | tail -15 ;;
    bench)
        python3 "$here/bench_kernels.py" 2>&1 | tee "$out/bench.log" | tail -60 ;;
    tune)
        python3 "$here/bench_kernels.py" --only none --tune attention,int4 --json tune.json 2>&1 | tee "$out/tune.log" | tail -30 ;;
    global)
        python3 "$here/bench_kernels.py" --only none --tune attention_global --json global.json 2>&1 \
            | tee "$out/global.log" | grep -E "^global|Error" ;;
    profiles)
        # one JSON per model, packed into one file: a call brings back at most 8 files
        mkdir -p /tmp/profiles
        for spec in "llama-3-8b 4096 8" "gemma-3-27b 8192 8" "deepseek-v3 4096 8" "qwen3-next-80b-a3b 4096 8"; do
            set -- $spec
            timeout 150 python3 -m orbit_gui profile "$1" --device cuda --backends torch,sdpa,triton,onnxruntime \
                --context "$2" --batch "$3" --repeats 20 --calibrate --json > "/tmp/profiles/$1.json" \
                2> "/tmp/profiles/$1.err" || echo "profile $1 failed: $(tail -1 "/tmp/profiles/$1.err")"
            python3 "$here/profile_summary.py" "/tmp/profiles/$1.json"
        done
        tar czf "$out/profiles.tgz" -C /tmp profiles ;;
    *) echo "unknown stage $stage (tests, bench, tune, global, profiles)"; exit 2 ;;
    esac
done
