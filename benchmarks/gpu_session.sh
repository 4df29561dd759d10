#!/usr/bin/env bash
# One device-machine session: GPU correctness tests, then profiles of real layer shapes through
# the CLI (our Triton kernels vs torch eager / SDPA), results under $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 ORBIT_EXPLORER_CONFIG_DIR="${OUT:-/tmp}/config"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m pytest tests/test_triton_kernels.py tests/test_blocks.py tests/test_onnx_runtime.py \
    tests/test_profiler.py -q -p no:cacheprovider -x 2>&1 | tail -15
for spec in "llama-3-8b 4096 8" "gemma-2-9b 8192 8" "deepseek-v3 4096 8" "qwen3-next-80b-a3b 4096 8"; do
    set -- $spec
    python3 -m orbit_gui profile "$1" --device cuda --backends torch,sdpa,triton \
        --context "$2" --batch "$3" --repeats 20 --calibrate --json > "${OUT:-/tmp}/profile_$1.json" \
        2> "${OUT:-/tmp}/profile_$1.err" || echo "profile $1 failed: $(tail -1 "${OUT:-/tmp}/profile_$1.err")"
    python3 -m orbit_gui profile "$1" --device cuda --backends torch,sdpa,triton \
        --context "$2" --batch "$3" --repeats 20 2>&1 | tail -14
done
