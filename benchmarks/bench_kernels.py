"""GPU benchmark: the project's Triton kernels vs torch eager, torch SDPA and ONNX Runtime (CUDA EP).

Shapes: Llama-3-8B and Gemma 3 27B decode attention, DeepSeek-V3 MLA decode and MoE, Llama-3-8B MLP
as weight-only INT4, RMSNorm; decode batch 1/8/32 and context 4K/32K. Each case states the fewest
bytes it must move and its FLOPs. Times are medians of CUDA-graph replays
(``triton.testing.do_bench_cudagraph``), which leave out Python and launch overhead as a serving
engine's decode graphs do; variants that synchronise with the host (the eager MoE loop, ONNX Runtime)
use ``do_bench`` on the stream instead, and the Triton path is also timed that way ("triton_stream").
Inputs rotate over several copies whenever one copy fits in L2. Achieved bandwidth is reported as a
percent of the measured device-to-device copy bandwidth (a 2 GiB copy: "%copy"), and of a copy that
moves the case's own bytes, timed the same way ("%copy@size": what launch and tail leave of the
bandwidth at that size).

    python3 benchmarks/bench_kernels.py [--tune attention,mla,moe,int4] [--profile]
        [--only attention,mla,moe,ffn,int4,rmsnorm|none] [--no-ort] [--json NAME]

Writes $OUT/NAME (default kernels_bench.json) when OUT is set. Attention, MLA and INT4 are timed
twice: "triton" (split-K partials combined inside the kernel, the default) and "triton_2launch"
(combined by a second launch, or by torch for INT4).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
import triton
from triton.testing import do_bench, do_bench_cudagraph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kernels.triton_ops import decode_attention as da  # noqa: E402
from kernels.triton_ops import int4_gemm, mla_decode, moe, num_sms, reference, rmsnorm  # noqa: E402

DEV = "cuda"
BF16 = torch.bfloat16
GB = 1e9


@dataclass
class Case:
    kernel: str
    name: str
    bytes: float  # fewest bytes the operation must move
    flops: float
    times_us: dict[str, float] = field(default_factory=dict)  # graph replay, or stream for STREAM_ONLY variants
    errors: dict[str, str] = field(default_factory=dict)
    copy_gbps_at_size: float = float("nan")  # a copy moving the same bytes, timed the same way


@dataclass
class Device:
    name: str
    copy_gbps: float
    l2_bytes: int
    sms: int


STREAM_ONLY = ("eager_moe", "ort_fp16")  # variants that synchronise with the host: no graph capture


def time_us(fn, graph: bool = True) -> float:
    """Median microseconds per call: CUDA-graph replay, or launches on the stream (after L2 flushes)."""
    fn()
    torch.cuda.synchronize()
    if graph:
        return do_bench_cudagraph(fn, rep=50, return_mode="median") * 1e3
    return do_bench(fn, warmup=25, rep=100, return_mode="median") * 1e3


def measure_copy_bandwidth() -> float:
    """Device-to-device copy of 2 GiB: bytes read + written over the median time, in GB/s."""
    src = torch.randint(0, 255, (2 << 30,), dtype=torch.uint8, device=DEV)
    dst = torch.empty_like(src)
    us = time_us(lambda: dst.copy_(src), graph=False)
    return 2 * src.numel() / (us * 1e-6) / GB


def copy_gbps_at(nbytes: float, dev: Device) -> float:
    """(bytes read + written) / median time of device-to-device copies that move ``nbytes`` in all
    (half read, half written), replayed as a CUDA graph over buffers rotated past 4x L2, as the cases
    are timed. This is what a kernel that moves this many bytes can expect, launch and tail included:
    a copy of 8 MB cannot reach the 2 GiB copy's bandwidth either. From 4 GiB up, the 2 GiB copy's
    figure. Measured after the cases, when their tensors are gone."""
    if nbytes >= 4 * 2**30:
        return dev.copy_gbps
    half = max(1, int(nbytes) // 2)
    sets = rotation(lambda: (torch.empty(half, dtype=torch.uint8, device=DEV),
                             torch.empty(half, dtype=torch.uint8, device=DEV)), 2 * half, dev.l2_bytes)
    us = time_us(cycling(lambda dst, src: dst.copy_(src), sets))
    return 2 * half / (us * 1e-6) / GB


def rotation(make_set, set_bytes: float, l2_bytes: int) -> list:
    """Enough input sets that cycling through them touches 4x the L2 (at most 64 sets)."""
    return [make_set() for _ in range(min(64, max(1, math.ceil(4 * l2_bytes / set_bytes))))]


def cycling(fn, sets):
    """fn(*set) over the sets in turn, one per call."""
    it = itertools.cycle(sets)
    return lambda: fn(*next(it))


def run_variants(case: Case, variants: dict) -> Case:
    variants["triton_stream"] = variants["triton"]
    for name, fn in variants.items():
        try:
            case.times_us[name] = time_us(fn, graph=name not in STREAM_ONLY and name != "triton_stream")
        except Exception as exc:  # a baseline that cannot run this case is reported, not fatal
            case.errors[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
    print(f"  {case.kernel:10s} {case.name:36s} " + " ".join(f"{k}={v:.1f}us" for k, v in case.times_us.items())
          + "".join(f"\n    {k} failed: {v[:150]}" for k, v in case.errors.items()), flush=True)
    return case


def add_ort_variant(case: Case, variants: dict, module: torch.nn.Module, inputs: list[torch.Tensor]) -> None:
    """variants["ort_fp16"] = ``module`` run by ONNX Runtime, or the reason in case.errors."""
    try:
        variants["ort_fp16"] = ort_runner(module, inputs, torch.empty_like(module(*inputs)))
    except Exception as exc:
        case.errors["ort_fp16"] = f"{type(exc).__name__}: {str(exc)[:300]}"


def ort_runner(module: torch.nn.Module, inputs: list[torch.Tensor], out: torch.Tensor):
    """Export ``module`` to ONNX and return a callable that runs it with ONNX Runtime's CUDA EP on
    torch's current stream, inputs and output bound in place on the GPU (no host copies): the
    profiler's own session and binding code (kernels/onnx_runtime.py)."""
    from kernels import onnx_runtime as ortk

    path = os.path.join(tempfile.mkdtemp(), "block.onnx")
    names = [f"in{i}" for i in range(len(inputs))]
    try:
        torch.onnx.export(module, tuple(inputs), path, input_names=names, output_names=["out"], dynamo=False)
    except Exception:
        torch.onnx.export(module, tuple(inputs), path, input_names=names, output_names=["out"])
    session, messages = ortk.make_session(path, ("CUDAExecutionProvider",),
                                          compute_stream=torch.cuda.current_stream().cuda_stream)
    if ortk.session_device(session) != "cuda":
        raise RuntimeError("ONNX Runtime's CUDA EP did not load: " + "; ".join(messages))
    run = ortk.bound_run(session, dict(zip(names, inputs)), {"out": out})
    kept = (inputs, out)  # the binding holds raw pointers: the tensors must outlive the runner

    def run_kept():
        run()
        return kept[1]
    return run_kept


class _Attention(torch.nn.Module):
    def forward(self, q, k, v, lens):
        return reference.decode_attention(q, k, v, lens)


class _GatedFFN(torch.nn.Module):
    def forward(self, x, w_gate, w_up, w_down):
        return reference.gated_ffn(x, w_gate, w_up, w_down)


# ---------------------------------------------------------------------------------------------- attention

ATTENTION_MODELS = {  # name: (heads, kv heads, head dim, sliding window)
    "llama3-8b": (32, 8, 128, None),
    "gemma3-27b-global": (32, 16, 128, None),
    "gemma3-27b-local": (32, 16, 128, 1024),
}
BATCHES = (1, 8, 32)
CONTEXTS = (4096, 32768)


def attention_cases(dev: Device, with_ort: bool) -> list[Case]:
    cases = []
    for (model, (h, kvh, d, window)), b, t in itertools.product(ATTENTION_MODELS.items(), BATCHES, CONTEXTS):
        span = min(window or t, t)
        cache_bytes = 2 * b * kvh * span * d * 2
        case = Case("attention", f"{model} B={b} T={t // 1024}K", cache_bytes + 2 * b * h * d * 2,
                    4 * b * h * span * d)
        lens = torch.full((b,), t, dtype=torch.int32, device=DEV)
        sets = rotation(lambda: (torch.randn(b, h, d, device=DEV, dtype=BF16),
                                 torch.randn(b, kvh, t, d, device=DEV, dtype=BF16),
                                 torch.randn(b, kvh, t, d, device=DEV, dtype=BF16)), 2 * b * kvh * t * d * 2, dev.l2_bytes)
        variants = {
            "triton": cycling(lambda q, k, v: da.decode_attention(q, k, v, lens, window=window), sets),
            "triton_2launch": cycling(lambda q, k, v: da.decode_attention(q, k, v, lens, window=window,
                                                                         fused_merge=False), sets),
            "eager": cycling(lambda q, k, v: reference.decode_attention(q, k, v, lens, window=window), sets),
            "sdpa": cycling(lambda q, k, v: F.scaled_dot_product_attention(
                q[:, :, None], k[:, :, t - span:], v[:, :, t - span:], enable_gqa=True), sets),
            # the G query heads of a KV head as G query rows of one head: no KV repeat, any backend
            "sdpa_rows": cycling(lambda q, k, v: F.scaled_dot_product_attention(
                q.view(b, kvh, h // kvh, d), k[:, :, t - span:], v[:, :, t - span:]), sets),
        }
        if with_ort and model == "llama3-8b" and b == 8 and t == 4096:
            q, k, v = (x.half() for x in sets[0])
            add_ort_variant(case, variants, _Attention(), [q, k, v, lens])
            variants["triton_fp16"] = lambda: da.decode_attention(q, k, v, lens)
        cases.append(run_variants(case, variants))
        del sets, variants
        torch.cuda.empty_cache()
    return cases


def tune_attention(dev: Device) -> list[dict]:
    """Sweep block/warps/stages, the split count and the merge (fused or a second launch) for Llama-3-8B
    cases and the windowed Gemma 3 cases that are short enough to be latency-bound."""
    results = []
    cases = (("llama3-8b", 32, 8, 128, None, 1, 4096), ("llama3-8b", 32, 8, 128, None, 8, 32768),
             ("llama3-8b", 32, 8, 128, None, 32, 32768), ("gemma3-27b-local", 32, 16, 128, 1024, 1, 4096),
             ("gemma3-27b-local", 32, 16, 128, 1024, 8, 4096))
    for model, h, kvh, d, window, b, t in cases:
        span = min(window or t, t)
        q = torch.randn(b, h, d, device=DEV, dtype=BF16)
        k, v = (torch.randn(b, kvh, t, d, device=DEV, dtype=BF16) for _ in range(2))
        lens = torch.full((b,), t, dtype=torch.int32, device=DEV)
        base = da.attention_split_count(b * kvh, span, dev.sms)
        split_choices = sorted({1, max(1, base // 2), base, base * 2})
        for block_n, warps, stages, splits, fused in itertools.product(
                (32, 64, 128), (4, 8), (2, 3), split_choices, (True, False)):
            cfg = dict(block_n=block_n, num_warps=warps, num_stages=stages, num_splits=splits, fused_merge=fused)
            try:
                us = time_us(lambda: da.decode_attention(q, k, v, lens, window=window, **cfg))
            except Exception as exc:
                us = float("nan")
                cfg["error"] = type(exc).__name__
            results.append(dict(case=f"{model} B={b} T={t}", default_splits=base, us=us,
                                gbps=2 * b * kvh * span * d * 2 / (us * 1e-6) / GB, **cfg))
        del q, k, v
        torch.cuda.empty_cache()
    return results


def tune_attention_global(dev: Device) -> list[dict]:
    """The one shape where Triton trailed SDPA (Gemma-3 global, B=8: B*KVH = 128 programs on 132 SMs,
    0.6-0.9% behind in run 3), with Llama controls: tiles, warps, stages, 1-2 splits, and the
    unmasked body (whole KV blocks loaded without predicates), against SDPA timed in the same run.
    256-key tiles are left out at head dim 128: K and V tiles of 2 stages need 256 KiB of shared
    memory, above the H100's 227 KiB per block."""
    results = []
    cases = (("gemma3-27b-global", 32, 16, 128, 8, 4096), ("gemma3-27b-global", 32, 16, 128, 8, 32768),
             ("llama3-8b", 32, 8, 128, 8, 32768), ("llama3-8b", 32, 8, 128, 1, 4096))
    for model, h, kvh, d, b, t in cases:
        q = torch.randn(b, h, d, device=DEV, dtype=BF16)
        k, v = (torch.randn(b, kvh, t, d, device=DEV, dtype=BF16) for _ in range(2))
        lens = torch.full((b,), t, dtype=torch.int32, device=DEV)
        name, nbytes = f"{model} B={b} T={t}", 2 * b * kvh * t * d * 2
        us = time_us(lambda: F.scaled_dot_product_attention(q[:, :, None], k, v, enable_gqa=True))
        results.append(dict(case=name, variant="sdpa", us=us, gbps=nbytes / (us * 1e-6) / GB))
        base = da.attention_split_count(b * kvh, t, dev.sms)
        for block_n, warps, stages, splits, unmasked in itertools.product(
                (64, 128), (4, 8), (2, 3, 4), sorted({1, 2, base}), (False, True)):
            cfg = dict(block_n=block_n, num_warps=warps, num_stages=stages, num_splits=splits,
                       unmasked_body=unmasked)
            try:
                us = time_us(lambda: da.decode_attention(q, k, v, lens, **cfg))
            except Exception as exc:
                us = float("nan")
                cfg["error"] = type(exc).__name__
            results.append(dict(case=name, variant="triton", us=us, gbps=nbytes / (us * 1e-6) / GB, **cfg))
        del q, k, v
        torch.cuda.empty_cache()
    return results


# ---------------------------------------------------------------------------------------------- MLA

MLA = dict(heads=128, rank=512, rope=64, scale=(128 + 64) ** -0.5)


def mla_sets(dev: Device, b: int, t: int):
    h, r, p = MLA["heads"], MLA["rank"], MLA["rope"]

    def make():
        cache = torch.randn(b, t, r + p, device=DEV, dtype=BF16)  # one row per position: [latent | k_rope]
        return (torch.randn(b, h, r, device=DEV, dtype=BF16), torch.randn(b, h, p, device=DEV, dtype=BF16), cache)
    return rotation(make, b * t * (r + p) * 2, dev.l2_bytes)


def mla_cases(dev: Device) -> list[Case]:
    cases = []
    h, r, p, scale = MLA["heads"], MLA["rank"], MLA["rope"], MLA["scale"]
    for b, t in itertools.product(BATCHES, CONTEXTS):
        case = Case("mla", f"deepseek-v3 B={b} T={t // 1024}K", b * t * (r + p) * 2 + 2 * b * h * (r + p) * 2,
                    2 * b * h * t * (2 * r + p))
        lens = torch.full((b,), t, dtype=torch.int32, device=DEV)
        sets = mla_sets(dev, b, t)
        variants = {
            "triton": cycling(lambda qn, qr, c: mla_decode.mla_decode(qn, qr, c[..., :r], c[..., r:], lens, scale), sets),
            "triton_2launch": cycling(lambda qn, qr, c: mla_decode.mla_decode(
                qn, qr, c[..., :r], c[..., r:], lens, scale, fused_merge=False), sets),
            "eager": cycling(lambda qn, qr, c: reference.mla_decode(qn, qr, c[..., :r], c[..., r:], lens, scale), sets),
            # MQA over one latent head: the H query heads become H query rows
            "sdpa_rows": cycling(lambda qn, qr, c: F.scaled_dot_product_attention(
                torch.cat((qn, qr), -1)[:, None], c[:, None], c[:, None, :, :r], scale=scale), sets),
        }
        cases.append(run_variants(case, variants))
        del sets, variants
        torch.cuda.empty_cache()
    return cases


def tune_mla(dev: Device) -> list[dict]:
    results = []
    r, p, scale = MLA["rank"], MLA["rope"], MLA["scale"]
    for b, t in ((1, 4096), (32, 32768)):
        qn, qr, c = mla_sets(dev, b, t)[0]
        lens = torch.full((b,), t, dtype=torch.int32, device=DEV)
        for block_h, block_n, warps, stages in ((16, 32, 4, 2), (16, 64, 4, 2), (16, 32, 4, 3), (32, 32, 4, 2),
                                                (32, 32, 8, 2), (32, 64, 8, 2), (64, 32, 8, 2), (64, 16, 8, 2),
                                                (16, 16, 4, 3), (32, 16, 4, 3)):
            cfg = dict(block_h=block_h, block_n=block_n, num_warps=warps, num_stages=stages)
            try:
                us = time_us(lambda: mla_decode.mla_decode(qn, qr, c[..., :r], c[..., r:], lens, scale, **cfg))
            except Exception as exc:
                us = float("nan")
                cfg["error"] = type(exc).__name__
            results.append(dict(case=f"B={b} T={t}", us=us, gbps=b * t * (r + p) * 2 / (us * 1e-6) / GB, **cfg))
        del qn, qr, c
        torch.cuda.empty_cache()
    return results


# ---------------------------------------------------------------------------------------------- MoE and FFN

MOE = dict(experts=256, shared=1, top_k=8, d_model=7168, d_ff=2048)


def moe_weights():
    e = MOE["experts"] + MOE["shared"]  # the shared experts are the last ones, given to every token
    d, f = MOE["d_model"], MOE["d_ff"]
    w_gate = torch.randn(e, d, f, device=DEV, dtype=BF16) * d**-0.5
    w_up = torch.randn(e, d, f, device=DEV, dtype=BF16) * d**-0.5
    w_down = torch.randn(e, f, d, device=DEV, dtype=BF16) * f**-0.5
    return w_gate, w_up, w_down


def with_shared(weights, ids):
    """Append the shared experts to every token's routing, with weight 1."""
    n = ids.shape[0]
    shared = torch.arange(MOE["experts"], MOE["experts"] + MOE["shared"], device=DEV, dtype=ids.dtype)
    return (torch.cat((weights, torch.ones(n, MOE["shared"], device=DEV, dtype=weights.dtype)), 1),
            torch.cat((ids, shared.expand(n, -1)), 1))


def moe_layer(x, logits, w, use_triton, **cfg):
    weights, ids = with_shared(*moe.route(logits, MOE["top_k"], scoring="sigmoid", renormalize=True,
                                          use_triton=use_triton))
    if use_triton:
        return moe.moe_ffn(x, *w, weights, ids, **cfg)
    return reference.moe_ffn(x, *w, weights, ids)


def moe_cases(w) -> list[Case]:
    cases = []
    d, f = MOE["d_model"], MOE["d_ff"]
    for n in BATCHES:
        x = torch.randn(n, d, device=DEV, dtype=BF16)
        logits = torch.randn(n, MOE["experts"], device=DEV)
        _, ids = with_shared(*moe.route(logits, MOE["top_k"], scoring="sigmoid"))
        used = ids.unique().numel()
        case = Case("moe", f"deepseek-v3 N={n} ({used} experts)", used * 3 * d * f * 2 + 2 * n * d * 2,
                    6 * ids.numel() * d * f)
        cases.append(run_variants(case, {"triton": lambda: moe_layer(x, logits, w, True),
                                         "eager_moe": lambda: moe_layer(x, logits, w, False)}))
    return cases


def tune_moe(w) -> list[dict]:
    results = []
    d = MOE["d_model"]
    for n in (1, 32):
        x = torch.randn(n, d, device=DEV, dtype=BF16)
        logits = torch.randn(n, MOE["experts"], device=DEV)
        for block_n, block_k, warps, stages in ((64, 128, 4, 3), (64, 128, 4, 4), (32, 128, 4, 4), (128, 128, 4, 3),
                                                (64, 256, 4, 3), (64, 64, 4, 4), (128, 64, 4, 4), (64, 128, 8, 3)):
            cfg = dict(block_n=block_n, block_k=block_k, num_warps=warps, num_stages=stages)
            try:
                us = time_us(lambda: moe_layer(x, logits, w, True, **cfg))
            except Exception as exc:
                us = float("nan")
                cfg["error"] = type(exc).__name__
            results.append(dict(case=f"N={n}", us=us, **cfg))
    return results


def profile_moe(w) -> str:
    """torch.profiler table of the Triton MoE layer at N=1 and N=32 (device time per kernel)."""
    tables = []
    for n in (1, 32):
        x = torch.randn(n, MOE["d_model"], device=DEV, dtype=BF16)
        logits = torch.randn(n, MOE["experts"], device=DEV)
        moe_layer(x, logits, w, True)
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            for _ in range(5):
                moe_layer(x, logits, w, True)
            torch.cuda.synchronize()
        tables.append(f"N={n}\n" + prof.key_averages().table(sort_by="cuda_time_total", row_limit=8))
    print("\n".join(tables))
    return "\n".join(tables)


def ffn_cases(w, with_ort: bool) -> list[Case]:
    """The shared expert as a dense FFN: Triton grouped GEMM with one expert vs torch vs ORT (fp16)."""
    cases = []
    d, f = MOE["d_model"], MOE["d_ff"]
    shared = [t[MOE["experts"]:] for t in w]  # [1, d, F], [1, d, F], [1, F, d]
    for n in (1, 32):
        x = torch.randn(n, d, device=DEV, dtype=BF16)
        ones, zeros = torch.ones(n, 1, device=DEV), torch.zeros(n, 1, device=DEV, dtype=torch.int32)
        case = Case("ffn", f"deepseek-v3 shared expert N={n}", 3 * d * f * 2 + 2 * n * d * 2, 6 * n * d * f)
        variants = {"triton": lambda: moe.moe_ffn(x, *shared, ones, zeros),
                    "eager": lambda: reference.gated_ffn(x, shared[0][0], shared[1][0], shared[2][0])}
        if with_ort:
            args = [x.half(), *(t[0].half() for t in shared)]
            add_ort_variant(case, variants, _GatedFFN(), args)
            half = [t.half() for t in shared]
            variants["triton_fp16"] = lambda: moe.moe_ffn(args[0], *half, ones, zeros)
        cases.append(run_variants(case, variants))
    return cases


# ---------------------------------------------------------------------------------------------- INT4

INT4_SHAPES = {"llama3-8b up": (4096, 14336), "llama3-8b down": (14336, 4096)}  # (K, N)
GROUP = 128


def int4_sets(dev: Device, k: int, n: int):
    set_bytes = k * n / 2 + 2 * (k // GROUP) * n * 2
    return rotation(lambda: int4_gemm.quantize_int4(torch.randn(k, n, device=DEV, dtype=BF16), GROUP), set_bytes,
                    dev.l2_bytes), set_bytes


def int4_cases(dev: Device) -> list[Case]:
    cases = []
    for (name, (k, n)), m in itertools.product(INT4_SHAPES.items(), BATCHES):
        sets, set_bytes = int4_sets(dev, k, n)
        x = torch.randn(m, k, device=DEV, dtype=BF16)
        dense = torch.randn(k, n, device=DEV, dtype=BF16)
        case = Case("int4", f"{name} M={m}", set_bytes + m * (k + n) * 2, 2 * m * k * n)
        cases.append(run_variants(case, {
            "triton": cycling(lambda qw: int4_gemm.int4_matmul(x, qw), [(s,) for s in sets]),
            "triton_2launch": cycling(lambda qw: int4_gemm.int4_matmul(x, qw, fused_sum=False), [(s,) for s in sets]),
            "eager": cycling(lambda qw: reference.int4_matmul(x, *qw), [(s,) for s in sets]),
            "bf16_matmul": lambda: x @ dense,
        }))
        del sets, dense
        torch.cuda.empty_cache()
    return cases


def tune_int4(dev: Device) -> list[dict]:
    results = []
    for (name, (k, n)), m in itertools.product(INT4_SHAPES.items(), (1, 32)):
        sets, set_bytes = int4_sets(dev, k, n)
        x = torch.randn(m, k, device=DEV, dtype=BF16)
        for block_n, warps, stages, split_mult in ((128, 4, 3, 1), (128, 4, 4, 1), (64, 4, 3, 1), (256, 4, 3, 1),
                                                   (256, 8, 3, 1), (128, 4, 3, 2), (64, 4, 4, 2), (128, 8, 4, 1)):
            tiles = triton.cdiv(n, block_n) * triton.cdiv(m, max(16, triton.next_power_of_2(m)))
            split_k = max(1, min(triton.cdiv(2 * dev.sms, tiles), k // GROUP // 4)) * split_mult
            cfg = dict(block_n=block_n, num_warps=warps, num_stages=stages, split_k=split_k)
            try:
                us = time_us(cycling(lambda qw: int4_gemm.int4_matmul(x, qw, **cfg), [(s,) for s in sets]))
            except Exception as exc:
                us = float("nan")
                cfg["error"] = type(exc).__name__
            results.append(dict(case=f"{name} M={m}", us=us, gbps=set_bytes / (us * 1e-6) / GB, **cfg))
        del sets
        torch.cuda.empty_cache()
    return results


# ---------------------------------------------------------------------------------------------- RMSNorm

def rmsnorm_cases(dev: Device) -> list[Case]:
    cases = []
    for d, rows in itertools.product((4096, 7168), (32, 16384)):
        sets = rotation(lambda: (torch.randn(rows, d, device=DEV, dtype=BF16),), rows * d * 2, dev.l2_bytes)
        w = torch.randn(d, device=DEV, dtype=BF16)
        case = Case("rmsnorm", f"d={d} rows={rows}", 2 * rows * d * 2 + d * 2, 4 * rows * d)
        cases.append(run_variants(case, {
            "triton": cycling(lambda x: rmsnorm.rms_norm(x, w), sets),
            "eager": cycling(lambda x: reference.rms_norm(x, w), sets),
            "F.rms_norm": cycling(lambda x: F.rms_norm(x, (d,), w, 1e-6), sets),
        }))
    return cases


# ---------------------------------------------------------------------------------------------- report

def check_outputs() -> dict[str, float]:
    """Relative error of each kernel vs its torch path on one bf16 case (sanity check of the timed code)."""
    def rel(a, b):
        return ((a.float() - b.float()).norm() / b.float().norm()).item()
    q, k, v = torch.randn(4, 32, 128, device=DEV, dtype=BF16), *(torch.randn(4, 8, 4096, 128, device=DEV,
                                                                              dtype=BF16) for _ in range(2))
    lens = torch.full((4,), 4096, dtype=torch.int32, device=DEV)
    sdpa = F.scaled_dot_product_attention(q[:, :, None], k, v, enable_gqa=True)[:, :, 0]
    return {"attention_vs_sdpa": rel(da.decode_attention(q, k, v, lens), sdpa)}


def table(cases: list[Case], dev: Device) -> str:
    head = (f"{'kernel':10s} {'case':38s} {'MB':>8s} {'floor us':>9s} {'triton':>9s} {'tri strm':>9s} {'eager':>9s} "
            f"{'sdpa/F/mm':>9s} {'GB/s':>7s} {'%copy':>6s} {'%copy@size':>12s} {'vs best torch':>13s}")
    lines = [f"device: {dev.name}, copy bandwidth {dev.copy_gbps:.0f} GB/s, L2 {dev.l2_bytes >> 20} MiB, {dev.sms} SMs",
             head, "-" * len(head)]
    for c in cases:
        t = c.times_us
        tri = t.get("triton", float("nan"))
        torch_best = min((v for k, v in t.items() if not k.startswith(("triton", "ort"))), default=float("nan"))
        other = min((v for k, v in t.items() if k.startswith(("sdpa", "F.", "bf16"))), default=float("nan"))
        eager = t.get("eager", t.get("eager_moe", float("nan")))
        gbps = c.bytes / (tri * 1e-6) / GB
        lines.append(f"{c.kernel:10s} {c.name:38s} {c.bytes / 1e6:8.1f} {c.bytes / (dev.copy_gbps * GB) * 1e6:9.1f} "
                     f"{tri:9.1f} {t.get('triton_stream', float('nan')):9.1f} {eager:9.1f} {other:9.1f} "
                     f"{gbps:7.0f} {100 * gbps / dev.copy_gbps:5.0f}% {100 * gbps / c.copy_gbps_at_size:11.0f}% "
                     f"{torch_best / tri:12.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", default="",
                        help="sweep configurations of these: attention,attention_global,mla,moe,int4")
    parser.add_argument("--profile", action="store_true", help="per-kernel device times of the Triton MoE")
    parser.add_argument("--only", default="attention,mla,moe,ffn,int4,rmsnorm")
    parser.add_argument("--no-ort", action="store_true")
    parser.add_argument("--json", default="kernels_bench.json", help="file name under $OUT for the results")
    args = parser.parse_args()
    only = set(args.only.split(","))
    props = torch.cuda.get_device_properties(0)
    dev = Device(props.name, measure_copy_bandwidth(), props.L2_cache_size, num_sms(DEV))
    print(f"{dev}  torch {torch.__version__}  triton {triton.__version__}", flush=True)
    results = {"device": asdict(dev), "torch": torch.__version__, "triton": triton.__version__,
               "checks": check_outputs(), "tuning": {}}
    cases: list[Case] = []
    with_ort = not args.no_ort

    def guarded(section, fn, *a, tuning=False):
        if section not in only and not tuning:
            return []
        try:
            return fn(*a)
        except Exception:
            traceback.print_exc()
            results.setdefault("failed", {})[section] = traceback.format_exc()[-2000:]
            return []

    tune = set(args.tune.split(","))
    for section, fn in (("attention", tune_attention), ("attention_global", tune_attention_global),
                        ("mla", tune_mla), ("int4", tune_int4)):
        if section in tune:
            results["tuning"][section] = guarded(section, fn, dev, tuning=True)
    cases += guarded("attention", attention_cases, dev, with_ort)
    cases += guarded("mla", mla_cases, dev)
    if only & {"moe", "ffn"} or "moe" in tune:
        w = moe_weights()
        if "moe" in tune:
            results["tuning"]["moe"] = guarded("moe", tune_moe, w, tuning=True)
        if args.profile:
            results["profile"] = guarded("moe", profile_moe, w)
        cases += guarded("moe", moe_cases, w)
        cases += guarded("ffn", ffn_cases, w, with_ort)
        del w
        torch.cuda.empty_cache()
    cases += guarded("int4", int4_cases, dev)
    cases += guarded("rmsnorm", rmsnorm_cases, dev)

    for c in cases:  # the ceiling at each case's size, once the cases' tensors are gone
        try:
            c.copy_gbps_at_size = copy_gbps_at(c.bytes, dev)
        except Exception as exc:
            c.errors["copy_at_size"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    results["cases"] = [asdict(c) for c in cases]
    for section, rows in results["tuning"].items():
        for case in sorted({r["case"] for r in rows}):
            best = min((r for r in rows if r["case"] == case and r["us"] == r["us"]), key=lambda r: r["us"])
            print(f"tune {section} {case}: best {best}")
    for case in sorted({r["case"] for r in results["tuning"].get("attention_global", [])}):
        rows = [r for r in results["tuning"]["attention_global"] if r["case"] == case and r["us"] == r["us"]]
        sdpa = next((r["us"] for r in rows if r["variant"] == "sdpa"), float("nan"))
        for unmasked in (False, True):
            best = min((r for r in rows if r.get("unmasked_body") is unmasked), key=lambda r: r["us"], default=None)
            if best is None:
                print(f"global {case}: no triton timing with unmasked_body={unmasked}")
                continue
            print(f"global {case}: sdpa {sdpa:.1f} us; triton unmasked_body={unmasked} best {best['us']:.1f} us "
                  f"({sdpa / best['us']:.3f}x SDPA): block_n {best['block_n']}, {best['num_warps']} warps, "
                  f"{best['num_stages']} stages, {best['num_splits']} splits")
    print(json.dumps(results["checks"]))
    print(table(cases, dev))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
