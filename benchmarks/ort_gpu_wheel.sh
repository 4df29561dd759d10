#!/usr/bin/env bash
# ONNX Runtime's CUDA execution provider on the lent device machine.
#
# That machine's image has only the CPU build of onnxruntime and no network, and the
# onnxruntime-gpu wheel (about 256 MB; CUDA 13, like the image's torch, whose CUDA libraries it
# loads) is over one call's 64 MiB carry limit. So it travels in parts over consecutive calls to a
# machine kept warm, each call carrying one part (.ortgpu/pN), and the last call joins them.
#
#   here, once:          bash benchmarks/ort_gpu_wheel.sh pack
#   device, call N < last (carry [".ortgpu/pN"]):   bash benchmarks/ort_gpu_wheel.sh have
#   device, last call (carry [".ortgpu/pLAST"]):
#       source benchmarks/ort_gpu_wheel.sh install && python3 benchmarks/bench_kernels.py ...
#
# A call's working tree keeps only the ignored paths it carries, so each call moves its part out of
# the tree, to /tmp/ortgpu_parts, where parts accumulate while the machine stays warm; a machine
# given back in between (30 s idle) starts bare, and the parts must be sent again.
# `install` checks the joined wheel's sha256 against the one `pack` recorded, installs it into
# /tmp/ortgpu (beside, not over, the image's packages) and puts that first on PYTHONPATH.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
parts=/tmp/ortgpu_parts
stash() { mkdir -p "$parts" && { [ ! -d "$root/.ortgpu" ] || cp -r "$root"/.ortgpu/p* "$parts"/; }; }
version="${ORT_GPU_VERSION:-1.31.1}"
part_mb=56   # 64 MiB carry limit less the working tree (about 2 MB) and a margin

case "${1:-}" in
pack)
    exclude="$(git -C "$root" rev-parse --path-format=absolute --git-path info/exclude)"  # never travels untracked
    mkdir -p "$(dirname "$exclude")" && { grep -qx '/.ortgpu/' "$exclude" 2>/dev/null || echo '/.ortgpu/' >>"$exclude"; }
    parts="$root/.ortgpu"
    rm -rf "$parts" && mkdir -p "$parts/wheel"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        -d "$parts/wheel" "onnxruntime-gpu==$version" || exit 1
    wheel=$(ls "$parts"/wheel/*.whl)
    (cd "$parts" && split -b "${part_mb}M" -d -a 1 "$wheel" chunk.)
    n=0
    for chunk in "$parts"/chunk.*; do
        n=$((n + 1)); mkdir -p "$parts/p$n" && mv "$chunk" "$parts/p$n/"
    done
    basename "$wheel" >"$root/.ortgpu/p$n/name"
    sha256sum "$wheel" | cut -d' ' -f1 >"$root/.ortgpu/p$n/sha256"
    rm -rf "$parts/wheel"
    echo "$n parts in .ortgpu/p1 .. .ortgpu/p$n; carry one per call, in order, on a warm machine"
    ;;
have)
    stash; ls -la "$parts"/p*/ 2>/dev/null || echo "no parts here yet"
    ;;
install)
    stash
    n=$(ls -d "$parts"/p* 2>/dev/null | wc -l)
    last="$parts/p$n"
    [ -f "$last/name" ] || { echo "ort_gpu_wheel: part $n is not the last (no name, sha256 in it)"; return 1 2>/dev/null || exit 1; }
    if [ "$(cat /tmp/ortgpu/.sha256 2>/dev/null)" = "$(cat "$last/sha256")" ]; then  # installed by an earlier call
        export PYTHONPATH="/tmp/ortgpu${PYTHONPATH:+:$PYTHONPATH}"
        python3 -c "import onnxruntime as ort; print('onnxruntime', ort.__version__, ort.get_available_providers())"
        return 0 2>/dev/null || exit 0
    fi
    wheel="/tmp/$(cat "$last/name")"
    for i in $(seq 1 "$n"); do cat "$parts/p$i"/chunk.*; done >"$wheel"
    if [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$(cat "$last/sha256")" ]; then
        echo "ort_gpu_wheel: joined wheel's checksum differs (a part is missing or stale):"; ls -la "$parts"/p*/
        return 1 2>/dev/null || exit 1
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/ortgpu "$wheel" || { return 1 2>/dev/null || exit 1; }
    cp "$last/sha256" /tmp/ortgpu/.sha256
    export PYTHONPATH="/tmp/ortgpu${PYTHONPATH:+:$PYTHONPATH}"
    python3 -c "import torch, onnxruntime as ort; print('onnxruntime', ort.__version__, ort.get_available_providers())"
    ;;
*)
    echo "usage: $0 pack | have | install (source it, so PYTHONPATH carries over)"; exit 2
    ;;
esac
