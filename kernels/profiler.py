"""The profiling engine: one layer of each distinct kind of a spec, at true size, timed on a device.

For every distinct block of ``spec.layout`` the engine builds the torch layer (kernels/blocks),
times its prefill (``context`` tokens, ``batch`` sequences) and one decode step at position
``context`` over a filled KV cache / recurrent state, with each requested backend:

- ``torch``: eager (attention writes out its score matrix);
- ``sdpa``: attention through ``F.scaled_dot_product_attention`` (prefill and decode; blocks
  without softmax attention run the torch path);
- ``triton``: the project's kernels where one applies (decode attention, MLA decode, MoE, RMSNorm,
  INT4 weight-only GEMM when ``weights="int4"``), torch for the rest; CUDA only (Triton's
  interpreter is for correctness tests, never for timing);
- ``onnxruntime``: the block's prefill, and its decode step as a pure function of the token and
  the state (``kernels.onnx_graphs``: caches are read in place, the new rows written back after
  each run), exported to ONNX and run by ONNX Runtime on the best execution provider that loads,
  every tensor bound in place (IO binding).

Each timing yields a :class:`BlockResult` (latency percentiles, achieved FLOP/s and bytes/s from
the cost model's counts, the cost model's predicted time and roofline floor, peak memory, relative
error against a float64 (or fp32) copy of the layer). The LM head, final norm and embedding lookup
are timed once. Whole-model figures multiply each block's time by the number of layers that use it
and add the head: an extrapolation, and the result says so.

Nothing here raises for a missing device, an out-of-memory or a failing backend: those become
results with a status and a message. Before anything is allocated the predicted bytes are checked
against free memory (``torch.cuda.mem_get_info`` on a GPU, ``MemAvailable`` of /proc/meminfo on the
CPU).

API for a GUI worker::

    prof = Profiler(ProfileRequest(spec, device="cpu", backends=("torch", "onnxruntime")))
    result = prof.run(progress=lambda f, text: ..., should_cancel=lambda: flag,
                      on_result=lambda block_result: ...)        # or: for r in prof.iter_run(...)
"""
from __future__ import annotations

import copy
import math
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Generator, Iterable

from kernels.backends import switched_to, syncs_host
from models.cost import Workload, _Fmt, block_ops, cost_report, model_end_ops, tail_blocks
from models.dtypes import dtype as _dtype_info
from models.hardware import Hardware, get_hardware, hardware_db
from models.metrics import plural
from models.spec import MLA as SpecMLA
from models.spec import SSM as SpecSSM
from models.spec import Attention as SpecAttention
from models.spec import CrossAttention as SpecCross
from models.spec import LinearAttention as SpecLinearAttention
from models.spec import ModelSpec
from models.spec import MoEFFN as SpecMoE
from models.cost import image_encoder_ops, layer_cache_bytes

BACKENDS = ("torch", "sdpa", "triton", "onnxruntime")
PHASES = ("prefill", "decode")
HEAD_BLOCK = "LM head + embedding"
_DTYPES = {"fp32": 4, "bf16": 2, "fp16": 2}
_ALIASES = {"float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class _Cancelled(Exception):
    pass


# --------------------------------------------------------------------------- data

@dataclass
class ProfileRequest:
    """What to profile. ``dtype`` "auto": fp32 on the CPU, bf16 on CUDA. ``repeats`` timed runs
    after ``warmup`` untimed ones, stopping early after ``max_seconds`` per timing (at least one
    run). ``weights="int4"`` lets the triton backend run its INT4 GEMM on the projections.
    ``calibration`` (kernels.calibration.Calibration) sets the efficiencies of the predictions."""

    spec: ModelSpec
    device: str = "cpu"
    backends: tuple[str, ...] = ("torch", "sdpa", "triton", "onnxruntime")
    context: int = 512
    batch: int = 1
    dtype: str = "auto"
    repeats: int = 10
    warmup: int = 2
    max_seconds: float = 20.0
    phases: tuple[str, ...] = PHASES
    check_error: bool = True
    include_head: bool = True
    weights: str | None = None
    threads: int | None = None
    seed: int = 0
    calibration: Any = None

    def to_dict(self) -> dict:
        return {"model": self.spec.name, "device": self.device, "backends": list(self.backends),
                "context": self.context, "batch": self.batch, "dtype": self.dtype,
                "repeats": self.repeats, "warmup": self.warmup, "max_seconds": self.max_seconds,
                "phases": list(self.phases), "weights": self.weights, "threads": self.threads,
                "calibrated": self.calibration is not None,
                "calibration": self.calibration.to_dict() if self.calibration is not None else None}


@dataclass
class BlockResult:
    block: str                     # block name in spec.blocks, or HEAD_BLOCK
    layers: int                    # layers that use it
    phase: str                     # prefill | decode
    backend: str
    status: str = "ok"             # ok | skipped | oom | error | cancelled
    message: str = ""
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    mean_s: float | None = None
    samples: int = 0
    flops: float = 0.0             # cost-model FLOPs of one call (whole batch)
    bytes: float = 0.0             # cost-model bytes of one call
    achieved_flops_per_s: float | None = None
    achieved_bytes_per_s: float | None = None
    predicted_s: float = 0.0       # cost model at the request's efficiencies on this device
    floor_s: float = 0.0           # roofline floor: efficiencies 1
    roofline_pct: float | None = None   # 100 * floor_s / p50_s
    peak_memory_bytes: float | None = None
    rel_error: float | None = None
    reference: str = ""            # dtype of the reference the error is taken against
    provider: str = ""             # ONNX Runtime execution provider used
    kernels: tuple[str, ...] = ()  # Triton kernels used
    op_costs: list = field(default_factory=list)   # [(flops, bytes)] per cost-model operator

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def ratio(self) -> float | None:
        """predicted / measured (p50)."""
        return self.predicted_s / self.p50_s if self.p50_s else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kernels"] = list(self.kernels)
        d["op_costs"] = [list(x) for x in self.op_costs]
        d["ratio"] = self.ratio
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "BlockResult":
        data = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        data["kernels"] = tuple(data.get("kernels", ()))
        data["op_costs"] = [tuple(x) for x in data.get("op_costs", [])]
        return cls(**data)


@dataclass
class WholeModel:
    """Whole-model time of one backend, extrapolated from one layer per kind."""

    backend: str
    prefill_s: float | None
    decode_s: float | None            # one decode step (one token per sequence)
    predicted_prefill_s: float
    predicted_decode_s: float
    batch: int = 1
    extrapolated: bool = True
    note: str = ""

    @property
    def decode_ratio(self) -> float | None:
        """predicted / measured per-token decode time."""
        return self.predicted_decode_s / self.decode_s if self.decode_s else None

    @property
    def prefill_ratio(self) -> float | None:
        return self.predicted_prefill_s / self.prefill_s if self.prefill_s else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.batch / self.decode_s if self.decode_s else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(decode_ratio=self.decode_ratio, prefill_ratio=self.prefill_ratio,
                 tokens_per_s=self.tokens_per_s)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "WholeModel | None":
        if d is None:
            return None
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class ProfileResult:
    request: ProfileRequest
    device: str = ""                   # in words
    device_key: str = ""               # "cpu:<model>" / "cuda:<name>": the calibration key
    hardware_id: str = ""
    hardware_name: str = ""
    peak_flops: float = 0.0            # the cost model's figures used for predictions
    bandwidth: float = 0.0
    bandwidth_measured: bool = False   # the bandwidth is this device's measured one, not an estimate
    dtype: str = ""
    status: str = "ok"                 # ok | cancelled | error
    blocks: list[BlockResult] = field(default_factory=list)
    whole_model: WholeModel | None = None            # the first requested backend with figures
    whole_by_backend: dict[str, WholeModel] = field(default_factory=dict)
    extrapolated: bool = True
    note: str = ""
    messages: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def message(self) -> str:
        return self.messages[0] if self.messages else ""

    def find(self, block: str | None = None, phase: str | None = None,
             backend: str | None = None) -> list[BlockResult]:
        return [b for b in self.blocks if (block is None or b.block == block)
                and (phase is None or b.phase == phase) and (backend is None or b.backend == backend)]

    def workload(self) -> Workload:
        """The cost-model workload the predictions of this result were made with."""
        return profile_workload(self.request, self.hardware_id, self.dtype)

    def to_dict(self) -> dict:
        return {"request": self.request.to_dict(), "device": self.device,
                "device_key": self.device_key, "hardware_id": self.hardware_id,
                "hardware_name": self.hardware_name, "peak_flops": self.peak_flops,
                "bandwidth_bytes_per_s": self.bandwidth, "bandwidth_measured": self.bandwidth_measured,
                "dtype": self.dtype,
                "status": self.status, "blocks": [b.to_dict() for b in self.blocks],
                "whole_model": self.whole_model.to_dict() if self.whole_model else None,
                "whole_by_backend": {k: v.to_dict() for k, v in self.whole_by_backend.items()},
                "extrapolated": self.extrapolated, "note": self.note,
                "messages": list(self.messages), "elapsed_s": self.elapsed_s}

    @classmethod
    def from_dict(cls, d: dict, request: ProfileRequest) -> "ProfileResult":
        """The inverse of to_dict, given the request (results cross a process boundary as JSON)."""
        return cls(request=request, device=d.get("device", ""), device_key=d.get("device_key", ""),
                   hardware_id=d.get("hardware_id", ""), hardware_name=d.get("hardware_name", ""),
                   peak_flops=d.get("peak_flops", 0.0), bandwidth=d.get("bandwidth_bytes_per_s", 0.0),
                   bandwidth_measured=d.get("bandwidth_measured") is True,
                   dtype=d.get("dtype", ""), status=d.get("status", "ok"),
                   blocks=[BlockResult.from_dict(b) for b in d.get("blocks", [])],
                   whole_model=WholeModel.from_dict(d.get("whole_model")),
                   whole_by_backend={k: WholeModel.from_dict(v)
                                     for k, v in (d.get("whole_by_backend") or {}).items()},
                   extrapolated=d.get("extrapolated", True), note=d.get("note", ""),
                   messages=list(d.get("messages", [])), elapsed_s=d.get("elapsed_s", 0.0))


# --------------------------------------------------------------------------- devices and memory

def parse_device(text: str) -> tuple[str, int]:
    """("cpu", 0) or ("cuda", N); raises ValueError for anything else."""
    t = (text or "cpu").strip().lower()
    if t == "cpu":
        return "cpu", 0
    if t == "cuda" or t == "gpu":
        return "cuda", 0
    if t.startswith("cuda:") and t[5:].isdigit():
        return "cuda", int(t[5:])
    raise ValueError(f"unknown device {text!r}: use cpu, cuda or cuda:N")


def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine() or "unknown CPU"


def device_key(kind: str, index: int = 0) -> str:
    """The per-device calibration key: "cpu:<model name>" or "cuda:<GPU name>"."""
    if kind == "cpu":
        return f"cpu:{cpu_model_name()}"
    import torch
    return f"cuda:{torch.cuda.get_device_name(index)}"


def free_memory_bytes(kind: str, index: int = 0) -> float:
    """Free device memory now: cudaMemGetInfo, or MemAvailable of /proc/meminfo."""
    if kind == "cuda":
        import torch
        return float(torch.cuda.mem_get_info(index)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _rss() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in bytes, or (0, 0)."""
    rss = hwm = 0.0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = float(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = float(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")              # reset the peak resident set size to the current one
        return True
    except OSError:
        return False


def cpu_threads(requested: int | None = None) -> tuple[int, str]:
    """Threads to time with on the CPU and why: the request's, else the cores that are idle now
    (usable cores minus the 1-minute load average, at least 1, at most torch's default). Threads
    that share a busy core make memory-bound steps several times slower and very noisy."""
    import torch
    default = torch.get_num_threads()
    if requested:
        return requested, f"CPU: {plural(requested, 'torch thread')}, as requested"
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    idle = max(1, min(default, cores - int(load + 0.5)))
    return idle, (f"CPU: {plural(idle, 'torch thread')} ({plural(cores, 'core')}, load average {load:.1f}: "
                  "threads on busy cores would make the timings slow and noisy)")


def result_hardware(result: "ProfileResult") -> Hardware:
    """The cost model's device a result's predictions were made for (a GPU outside the hardware
    database gets the figures ``hardware_for`` measures)."""
    try:
        hw = get_hardware(result.hardware_id)
    except Exception:  # noqa: BLE001 - an unknown id
        hw = hardware_for(*parse_device(result.request.device))
    # an estimated bandwidth the profile replaced by its measurement (Profiler._measure_bandwidth)
    if result.bandwidth_measured and hw.estimate and result.bandwidth > 0:
        hw = replace(hw, bandwidth=result.bandwidth)
    return hw


def hardware_for(kind: str, index: int = 0) -> Hardware:
    """The cost model's Hardware for a device: the detected CPU, or the database entry whose name
    best matches the GPU's (memory taken from the device)."""
    if kind == "cpu":
        return get_hardware("cpu")
    import re

    import torch
    name = torch.cuda.get_device_name(index)
    props = torch.cuda.get_device_properties(index)

    def words(text: str) -> set[str]:
        found = set(re.findall(r"[a-z]+\d+[a-z]*|\d+gb|pcie|sxm|nvl", text.lower()))
        return {"sxm" if w.startswith("sxm") else w for w in found}
    mine = words(name)
    if "pcie" not in mine:          # "H100 80GB HBM3" is the SXM part; PCIe boards say so
        mine.add("sxm")
    best, score = None, 1           # at least the chip name and one more word
    for hw in hardware_db().values():
        if hw.kind == "cpu":
            continue
        s = len(mine & words(hw.name + " " + hw.id))
        if s > score:
            best, score = hw, s
    if best is None:
        return Hardware(id=f"cuda:{index}", name=name, vendor="", kind="gpu",
                        memory_bytes=float(props.total_memory), bandwidth=1e12,
                        peak_flops={"fp32": 5e13, "bf16": 2e14, "fp16": 2e14},
                        interconnect_bandwidth=3.2e10, estimate=True,
                        notes="not in the hardware database: rough figures; calibrate by profiling")
    return replace(best, memory_bytes=float(props.total_memory))


# --------------------------------------------------------------------------- cost model glue

def _fmt(dt: str, weights: str | None = None, group: int = 128) -> _Fmt:
    b = float(_DTYPES[dt])
    w = _dtype_info(weights).bytes(group) if weights else b
    return _Fmt(w, b, b, b)


def profile_workload(request: ProfileRequest, hardware_id: str, dt: str) -> Workload:
    """The Workload of the cost model that matches the profile (all formats at ``dt``)."""
    wl = Workload(context=request.context, batch=request.batch, weights=dt, kv=dt, activations=dt,
                  embeddings=dt, hardware=hardware_id, devices=1)
    cal = request.calibration
    if cal is not None:
        wl = replace(wl, compute_efficiency=cal.compute_efficiency,
                     memory_efficiency=cal.memory_efficiency)
    return wl


def op_time(flops: float, nbytes: float, peak: float, bw: float, ce: float = 1.0,
            me: float = 1.0) -> float:
    return max(flops / (peak * ce), nbytes / (bw * me))


def predict_ops(op_costs: Iterable, peak: float, bw: float, ce: float, me: float) -> float:
    return sum(op_time(f, b, peak, bw, ce, me) for f, b in op_costs)


def block_op_costs(spec: ModelSpec, block: str, phase: str, context: int, batch: int,
                   fmt: _Fmt) -> list[tuple[float, float]]:
    """As the cost model; a prefill of a block in the KV-shared tail (``tail_blocks``) is the
    step of the prompt's last token."""
    layer = spec.blocks[block]
    if phase == "decode":
        ops = block_ops(spec, layer, 1, batch, context, fmt, True)
    elif block in tail_blocks(spec):
        ops = block_ops(spec, layer, 1, batch, context - 1, fmt, True)
    else:
        ops = block_ops(spec, layer, context, batch, 0, fmt, False)
    return [(op.flops, op.bytes) for op in ops]


def head_op_costs(spec: ModelSpec, phase: str, context: int, batch: int,
                  fmt: _Fmt) -> list[tuple[float, float]]:
    """As the cost model: LM head on the last token of each sequence plus the embedding lookup,
    and Gemma 3n/4's per-layer input lookup and projection."""
    d, v = spec.hidden_size, spec.vocab_size
    tokens = 1 if phase == "decode" else context
    return [(2.0 * batch * d * v, v * d * fmt.keep + batch * v * 4),
            (0.0, batch * tokens * d * fmt.keep)] + \
        [(op.flops, op.bytes) for op in model_end_ops(spec, batch * tokens, batch, fmt)]


# --------------------------------------------------------------------------- small helpers

def _percentile(sorted_vals: list[float], q: float) -> float:
    if len(sorted_vals) == 1:
        return sorted_vals[0]
    pos = (len(sorted_vals) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def _is_oom(exc: BaseException) -> bool:
    name = type(exc).__name__
    text = str(exc).lower()
    return name in ("OutOfMemoryError", "MemoryError") or "out of memory" in text \
        or "failed to allocate" in text or "defaultcpuallocator: can't allocate" in text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".strip(": ")


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def _has_softmax_attention(layer) -> bool:
    return any(isinstance(m, (SpecAttention, SpecMLA, SpecCross)) for m in layer.mixers)


def _scores_written(spec: ModelSpec, layer) -> str:
    """What in the layer's attention SDPA cannot take, so that every backend writes the score
    matrix out ("" when nothing): a soft-cap, sinks, ALiBi (kernels.blocks.Attention.needs_scores)."""
    attention = [m for m in layer.mixers if isinstance(m, SpecAttention)]
    why = [name for name, present in (("soft-cap", any(m.softcap for m in attention)),
                                      ("attention sinks", any(m.sinks for m in attention)),
                                      ("ALiBi", bool(attention) and spec.position == "alibi")) if present]
    return ", ".join(why)


_TAIL_NOTE = ("the prompt's last token only: no later layer reads this KV-shared layer's keys and "
              "values, so a prefill needs it where the logits are kept")
_HOST_SYNC_NOTE = ("timed on the stream, launch overhead included: the torch MoE loop reads its "
                   "routing on the host, which a CUDA graph cannot capture")


# What the TorchScript exporter unrolls into the ONNX graph, and what it costs (CPU, 2 cores):
# a recurrent mixer one step per token (Mamba-2 2.7B as a token loop: 64 tokens 3.8 s, 256 11 s,
# 512 28 s), or one step per chunk where prefill is chunked (Qwen3-Next's Gated DeltaNet: 4096
# tokens, 64 chunks, 19 s); the MoE loop one expert at a time, each expert's weights an initializer
# of its own (MoE.experts_apart; 128 experts of 2048 x 512, 1.6 GB: 28 s, most of it writing them).
ORT_MAX_RECURRENT_STEPS = 256
ORT_MAX_CHUNKS = 64
ORT_MAX_EXPERTS = 128


def prefill_chunk(mixer) -> int | None:
    """Tokens per step of a recurrent mixer's chunked prefill (kernels.blocks.chunked); None for
    a token loop (Mamba-1) or a mixer that is not recurrent."""
    from kernels.blocks.chunked import CHUNK, CHUNK_PER_CHANNEL
    if isinstance(mixer, SpecLinearAttention):
        return CHUNK_PER_CHANNEL if mixer.variant == "kimi_delta" else CHUNK
    if isinstance(mixer, SpecSSM) and mixer.variant == "mamba2":
        return CHUNK
    return None


def ort_export_limit(layer, context: int, phase: str = "prefill") -> str | None:
    """Why a block's ``phase`` is not exported to ONNX at this context (None: it is). The decode
    step unrolls no recurrence: only the MoE loop limits it."""
    for m in layer.mixers if phase == "prefill" else ():
        chunk = prefill_chunk(m)
        if chunk:
            chunks = -(-context // chunk)
            if chunks > ORT_MAX_CHUNKS:
                return (f"not exported to ONNX: the chunked {m.variant} prefill unrolls into one ONNX "
                        f"subgraph per {chunk}-token chunk ({chunks} here; the export takes "
                        f"about 20 s at {ORT_MAX_CHUNKS} and grows with them)")
        elif isinstance(m, SpecSSM) and context > ORT_MAX_RECURRENT_STEPS:
            return (f"not exported to ONNX: the {m.variant} recurrence unrolls into one "
                    f"ONNX subgraph per token ({context} here; export takes minutes past "
                    f"{ORT_MAX_RECURRENT_STEPS})")
    moe = [f for f in layer.ffns if isinstance(f, SpecMoE) and f.experts > ORT_MAX_EXPERTS]
    if moe:
        return (f"not exported to ONNX: the MoE loop unrolls its {moe[0].experts} experts into the "
                f"ONNX graph, a subgraph and a set of weights each (past {ORT_MAX_EXPERTS}, the export "
                f"takes tens of seconds to minutes per layer)")
    return None


def _layer_param_count(spec: ModelSpec, layer) -> int:
    from models.params import layer_params
    parts, _ = layer_params(spec, layer)
    return sum(c.total for c in parts.values())


def _widest(spec: ModelSpec, layer) -> int:
    from models.cost import widest_intermediate
    return widest_intermediate(layer)


# --------------------------------------------------------------------------- the profiler

def _request_problem(req: ProfileRequest) -> str | None:
    """What is wrong with the request's counts and limits, or None."""
    for name in ("context", "batch", "repeats"):
        v = getattr(req, name)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            return f"{name} must be a positive integer, got {v!r}"
    if isinstance(req.warmup, bool) or not isinstance(req.warmup, int) or req.warmup < 0:
        return f"warmup must be 0 or more untimed runs, got {req.warmup!r}"
    if not (isinstance(req.max_seconds, (int, float)) and math.isfinite(req.max_seconds) and req.max_seconds > 0):
        return f"max_seconds must be a positive number of seconds, got {req.max_seconds!r}"
    if req.weights not in (None, "int4"):
        return f"weights takes int4 (the triton backend's INT4 GEMM) or nothing, got {req.weights!r}"
    cores = os.cpu_count() or 1
    if req.threads is not None and (isinstance(req.threads, bool) or not isinstance(req.threads, int)
                                    or not 1 <= req.threads <= 4 * cores):
        return f"threads must be from 1 to {4 * cores} (this machine has {cores} cores), got {req.threads!r}"
    return None


class Profiler:
    """Runs a :class:`ProfileRequest`. ``iter_run`` is a generator of BlockResults whose return
    value (``StopIteration.value``) is the ProfileResult; ``run`` drives it and calls
    ``on_result`` for each BlockResult as it finishes."""

    def __init__(self, request: ProfileRequest):
        self.request = request

    # ---- public
    def run(self, progress: ProgressFn | None = None, should_cancel: CancelFn | None = None,
            on_result: Callable[[BlockResult], None] | None = None) -> ProfileResult:
        gen = self.iter_run(progress, should_cancel)
        while True:
            try:
                r = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_result is not None:
                on_result(r)

    def iter_run(self, progress: ProgressFn | None = None,
                 should_cancel: CancelFn | None = None) -> Generator[BlockResult, None, ProfileResult]:
        t0 = time.perf_counter()
        self._progress = progress or (lambda f, t: None)
        self._cancel = should_cancel or (lambda: False)
        req = self.request
        result = ProfileResult(request=req)
        import torch
        old_threads = torch.get_num_threads()      # the set-up sets the profile's on the CPU
        try:
            try:
                ok = self._setup(result)
            except Exception as exc:  # noqa: BLE001 - a result, never a traceback
                result.status = "error"
                result.messages.insert(0, f"cannot set up the profile: {_first_line(exc)}")
                ok = False
            if not ok:
                result.elapsed_s = time.perf_counter() - t0
                self._progress(1.0, result.message)
                return result
            yield from self._run_all(result)
        except _Cancelled:
            result.status = "cancelled"
            result.messages.append("cancelled: the result is partial")
        finally:
            torch.set_num_threads(old_threads)
        self._summarise(result)
        result.elapsed_s = time.perf_counter() - t0
        self._progress(1.0, "cancelled" if result.status == "cancelled" else "done")
        return result

    # ---- set-up: device, dtype, hardware
    def _setup(self, result: ProfileResult) -> bool:
        req = self.request
        unknown = [b for b in req.backends if b not in BACKENDS]
        if unknown:
            result.status = "error"
            result.messages.append(f"unknown backend {unknown[0]!r}: choose from {', '.join(BACKENDS)}")
            return False
        bad_phase = [p for p in req.phases if p not in PHASES]
        if bad_phase:
            result.status = "error"
            result.messages.append(f"unknown phase {bad_phase[0]!r}: prefill or decode")
            return False
        problem = _request_problem(req)
        if problem:
            result.status = "error"
            result.messages.append(problem)
            return False
        try:
            kind, index = parse_device(req.device)
        except ValueError as exc:
            result.status = "error"
            result.messages.append(str(exc))
            return False
        import torch
        if kind == "cuda":
            if not torch.cuda.is_available():
                why = ("this torch build has no CUDA support" if torch.version.cuda is None
                       else "torch.cuda.is_available() is False (no GPU or driver)")
                result.status = "error"
                result.device = f"cuda:{index}"
                result.messages.append(f"no CUDA device: {why}")
                return False
            if index >= torch.cuda.device_count():
                result.status = "error"
                result.device = f"cuda:{index}"
                result.messages.append(f"no CUDA device: index {index} out of range "
                                       f"({plural(torch.cuda.device_count(), 'device')})")
                return False
        self.kind, self.index = kind, index
        self.device = torch.device(kind, index) if kind == "cuda" else torch.device("cpu")
        dt = _ALIASES.get(req.dtype.lower(), req.dtype.lower()) if req.dtype else "auto"
        if dt == "auto":
            dt = "fp32" if kind == "cpu" else "bf16"
            if kind == "cpu":
                result.messages.append("CPU runs in float32: bf16 matmuls on the CPU are slow and "
                                       "not representative")
        if dt not in _DTYPES:
            result.status = "error"
            result.messages.append(f"dtype must be fp32, bf16 or fp16, got {req.dtype!r}")
            return False
        if kind == "cpu" and dt != "fp32":
            result.messages.append(f"{dt} on the CPU: matmuls may be much slower than fp32")
        self.dt = dt
        self.torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dt]
        if kind == "cpu":
            self.threads, why = cpu_threads(req.threads)
            result.device = f"CPU: {cpu_model_name()}, {plural(self.threads, 'torch thread')}"
            result.messages.append(why)
        self.hw = hardware_for(kind, index)
        if kind == "cpu":
            torch.set_num_threads(self.threads)    # measured on the threads the blocks will use
        result.bandwidth_measured = self.hw.estimate and self._measure_bandwidth(result)
        self.fmt = _fmt(dt)
        wl = profile_workload(req, self.hw.id, dt)
        self.wl = wl
        self.peak, _ = self.hw.peak(dt)
        result.device_key = device_key(kind, index)
        result.hardware_id, result.hardware_name = self.hw.id, self.hw.name
        result.peak_flops, result.bandwidth, result.dtype = self.peak, self.hw.bandwidth, dt
        if kind != "cpu":
            result.device = f"cuda:{index}: {torch.cuda.get_device_name(index)}"
        if self.hw.estimate:
            figures = ("peak FLOP/s is an estimate" if result.bandwidth_measured
                       else "peak FLOP/s and bandwidth are estimates")
            result.messages.append(f"{self.hw.name}: {figures}; calibrate to fit the efficiencies "
                                   "to this machine")
        if req.calibration is not None:
            result.messages.append(
                f"predictions use calibration {getattr(req.calibration, 'device_key', '')} "
                f"(compute {wl.compute_efficiency:.3f}, memory {wl.memory_efficiency:.3f})")
        result.note = ("Whole-model figures are extrapolated: one layer of each distinct kind was "
                       "timed at true size and multiplied by the number of layers using it, plus "
                       f"the LM head{'' if req.include_head else ' (predicted, not timed)'}.")
        self._flush = None               # made with the first block (``_cache_flush``)
        return True

    def _measure_bandwidth(self, result: ProfileResult) -> bool:
        """Replace an estimated bandwidth by the device's measured streaming read
        (``kernels.memory_system``): the roofline floors and the calibration are relative to it."""
        from kernels.memory_system import last_level_cache_bytes, read_bandwidth
        fitted = getattr(self.request.calibration, "measured_bandwidth", 0.0)
        if fitted:      # the bandwidth the calibration's memory efficiency is relative to
            result.messages.append(f"{self.hw.name}: bandwidth {fitted / 1e9:.1f} GB/s, as measured "
                                   f"when the calibration was made")
            self.hw = replace(self.hw, bandwidth=fitted)
            return True
        try:
            measured = read_bandwidth(self.device, last_level_cache_bytes(self.kind, self.index))
        except Exception as exc:  # noqa: BLE001 - the estimate stays, with the reason
            result.messages.append(f"bandwidth not measured ({_first_line(exc)}); using the estimate")
            return False
        threads = f", {plural(self.threads, 'thread')}" if self.kind == "cpu" else ""
        result.messages.append(f"{self.hw.name}: bandwidth measured at {measured / 1e9:.1f} GB/s "
                               f"(streaming read{threads}) in place of the estimate "
                               f"{self.hw.bandwidth / 1e9:.1f} GB/s")
        self.hw = replace(self.hw, bandwidth=measured)
        return True

    def _cache_flush(self):
        """What evicts the block's weights and cache from the last-level cache before a timed run,
        as the other layers do in the whole model (``kernels.memory_system``). Made once, before
        the first block's memory baseline, so its buffer is not counted as the block's."""
        if self._flush is None:
            from kernels.memory_system import CacheFlush, last_level_cache_bytes
            self._flush = CacheFlush(self.device, last_level_cache_bytes(self.kind, self.index))
        return self._flush

    # ---- the loop
    def _units(self) -> list[tuple[str, str, str]]:
        req = self.request
        names = list(dict.fromkeys(req.spec.layout))
        units = [(b, p, be) for b in names for p in PHASES if p in req.phases for be in req.backends]
        if req.include_head:
            units += [(HEAD_BLOCK, p, "torch") for p in PHASES if p in req.phases]
        return units

    def _check_cancel(self):
        if self._cancel():
            raise _Cancelled()

    def _run_all(self, result: ProfileResult):
        req = self.request
        units = self._units()
        total = len(units)
        done = 0
        counts: dict[str, int] = {}
        for name in req.spec.layout:
            counts[name] = counts.get(name, 0) + 1
        order = list(dict.fromkeys(req.spec.layout))
        blocks = order + ([HEAD_BLOCK] if req.include_head else [])
        for name in blocks:
            mine = [u for u in units if u[0] == name]
            self._check_cancel()
            self._progress(done / total, f"{name}: building")
            results = []
            for r in self._profile_block(name, counts.get(name, 1), mine, done, total):
                done += 1
                result.blocks.append(r)
                self._progress(done / total, f"{r.block} {r.phase} {r.backend}: {r.status}")
                yield r
                if r.status == "cancelled":
                    raise _Cancelled()
                results.append(r)

    # ---- one block: all its phases and backends
    def _base(self, name: str, count: int, phase: str, backend: str) -> BlockResult:
        req = self.request
        if name == HEAD_BLOCK:
            costs = head_op_costs(req.spec, phase, req.context, req.batch, self.fmt)
        else:
            fmt = self.fmt
            if backend == "triton" and req.weights == "int4":
                fmt = _fmt(self.dt, "int4")
            costs = block_op_costs(req.spec, name, phase, req.context, req.batch, fmt)
        r = BlockResult(block=name, layers=count, phase=phase, backend=backend, op_costs=costs)
        r.flops = sum(f for f, _ in costs)
        r.bytes = sum(b for _, b in costs)
        r.predicted_s = predict_ops(costs, self.peak, self.hw.bandwidth,
                                    self.wl.compute_efficiency, self.wl.memory_efficiency)
        r.floor_s = predict_ops(costs, self.peak, self.hw.bandwidth, 1.0, 1.0)
        return r

    def _need_bytes(self, name: str) -> dict[str, float]:
        """Predicted bytes of building and running one block (or the head) on the device."""
        req = self.request
        spec = req.spec
        elt = _DTYPES[self.dt]
        d = spec.hidden_size
        B, S = req.batch, req.context
        lp = spec.num_layers * spec.per_layer_input
        if name == HEAD_BLOCK:
            w = spec.vocab_size * d * elt
            acts = B * S * d * elt * 3 + B * spec.vocab_size * 4 * 2
            if lp:                      # the per-layer table, its projection and their output
                w += ((spec.per_layer_vocab or spec.vocab_size) + d) * lp * elt
                acts += B * S * lp * elt * 3
            if spec.altup_streams:      # AltUp's stream projections and the streams they make
                w += 2 * (spec.altup_streams - 1) * d * d * elt
                acts += B * S * spec.residual_width * elt
            return {"base": w + acts, "eager": 0.0, "ort": 0.0, "ref": 0.0}
        layer = spec.blocks[name]
        params = _layer_param_count(spec, layer)
        weights = params * elt
        build = params * 4 if elt < 4 else 0.0          # modules are initialised in fp32
        # the cache a KV-shared layer reads (another layer's, full length) stands in beside its own
        shared = sum(m.kv_heads * (m.head_dim + m.vdim) for m in layer.mixers
                     if isinstance(m, SpecAttention) and m.kv_shared)
        cache = (layer_cache_bytes(layer, S + 1, elt) + shared * (S + 1) * elt) * B
        acts = B * S * (2 * spec.residual_width + _widest(spec, layer) + 2 * spec.per_layer_input) * elt * 3
        heads = max([m.heads for m in layer.mixers if isinstance(m, (SpecAttention, SpecMLA))],
                    default=0)
        scores = B * heads * S * S * 4 * 3            # eager score matrix, mask, probabilities
        for m in layer.mixers:                        # cross-attention: S queries x the image's tokens
            if isinstance(m, SpecCross):
                scores = max(scores, B * m.heads * S * m.image_tokens * 4 * 2)
                acts += B * m.image_tokens * (d + 2 * m.kv_heads * m.head_dim) * elt
        sdpa_scores = scores if self.kind == "cpu" or _scores_written(spec, layer) else 0.0
        # DSA's indexer: fp32 scores of a few heads at a time, their sum, and the top-k mask
        from kernels.blocks.mla import Indexer
        index_heads = [min(m.index_heads, Indexer.HEADS_AT_ONCE) for m in layer.mixers
                       if isinstance(m, SpecMLA) and m.sparse]
        if index_heads:
            acts += B * S * S * (4 * (max(index_heads) + 2) + 1)
        base = max(weights + build, weights + cache + acts)
        # ONNX Runtime's session holds its own weights (in bf16 also the fp16 copy that is exported);
        # on the CPU the exported protobuf and the session's set-up copies share the same memory
        # (Mixtral 8x7B's 5.8 GB fp32 layer: 13.3 GB more at the peak of its prefill export and session)
        ort_weights = weights * (2.5 if self.kind == "cpu" else 1.0) + (weights if self.dt == "bf16" else 0.0)
        # It runs the exported attention as MatMul -> Softmax on the whole score matrix, on the GPU
        # too (H100: Gemma 3 27B at B=8, S=8192 asked for a 32 GiB fp16 buffer, then more)
        return {"base": base, "eager": scores, "sdpa": sdpa_scores,
                "ort": ort_weights + acts + scores,
                # the decode graph's state filled with the prompt (recurrent states twice: two buffers alternate)
                "ort_decode": ort_weights + cache * 2,
                "ref": (weights + cache) * 8 / elt + acts * 8 / elt + scores * 2,
                "ref32": (weights + cache + acts) * 4 / elt + scores}

    def _profile_block(self, name: str, count: int, units, done: int, total: int):
        import torch
        need = self._need_bytes(name)
        free = free_memory_bytes(self.kind, self.index)
        budget = free * 0.9
        if need["base"] > budget:
            msg = (f"needs about {_fmt_bytes(need['base'])} (weights, cache and activations) but "
                   f"only {_fmt_bytes(free)} is free on {self.kind}; not allocated")
            for _, phase, backend in units:
                r = self._base(name, count, phase, backend)
                r.status, r.message = "oom", msg
                yield r
            return
        state: dict[str, Any] = {}
        try:
            with torch.no_grad():
                self._build(name, state)
        except Exception as exc:  # noqa: BLE001
            status = "oom" if _is_oom(exc) else "error"
            for _, phase, backend in units:
                r = self._base(name, count, phase, backend)
                r.status, r.message = status, f"building the block failed: {_first_line(exc)}"
                yield r
            self._free(state)
            return
        refs: dict[str, tuple[Any, str]] = {}
        try:
            for i, (_, phase, backend) in enumerate(units):
                self._check_cancel()
                self._progress((done + i) / total, f"{name} {phase} {backend}")
                r = self._base(name, count, phase, backend)
                if phase == "prefill" and state.get("tail"):
                    r.message = _TAIL_NOTE
                try:
                    self._one(name, phase, backend, state, r, need, refs)
                except _Cancelled:
                    r.status, r.message = "cancelled", "cancelled during timing"
                except Exception as exc:  # noqa: BLE001
                    r.status = "oom" if _is_oom(exc) else "error"
                    r.message = _first_line(exc)
                    if self.kind == "cuda":
                        torch.cuda.empty_cache()
                yield r
                if r.status == "cancelled":
                    return
        finally:
            refs.clear()
            self._free(state)

    def _free(self, state: dict):
        import gc
        state.clear()
        gc.collect()
        if self.kind == "cuda":
            import torch
            torch.cuda.empty_cache()

    def _build(self, name: str, state: dict):
        import torch
        req = self.request
        spec = req.spec
        g = torch.Generator(device="cpu").manual_seed(req.seed)
        B, S, d = req.batch, req.context, spec.hidden_size
        dev, dt = self.device, self.torch_dtype
        self._cache_flush()          # allocated before the baseline: not part of the block's memory
        if self.kind == "cpu":
            _reset_hwm()
        else:
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
        state["rss0"] = _rss()[0]
        state["cuda0"] = torch.cuda.memory_allocated(dev) if self.kind == "cuda" else 0
        torch.manual_seed(req.seed)
        if name == HEAD_BLOCK:
            v = spec.vocab_size
            w = torch.empty(v, d, dtype=dt, device=dev)
            w.uniform_(-d ** -0.5, d ** -0.5)
            state["head_w"] = w
            state["norm_w"] = torch.ones(d, dtype=dt, device=dev)
            state["logit_softcap"] = spec.logit_softcap
            state["embedding_scale"], state["logit_scale"] = spec.embedding_scale, spec.logit_scale
            state["ids_prefill"] = torch.randint(0, v, (B, S), generator=g).to(dev)
            state["ids_decode"] = torch.randint(0, v, (B, 1), generator=g).to(dev)
            if spec.per_layer_input:      # Gemma 3n/4: the per-layer table and its projection
                lp = spec.num_layers * spec.per_layer_input
                pv = spec.per_layer_vocab or v
                state["ple_w"] = torch.empty(pv, lp, dtype=dt, device=dev).uniform_(-1.0, 1.0)
                state["ple_proj"] = torch.empty(lp, d, dtype=dt, device=dev).uniform_(-d ** -0.5, d ** -0.5)
                state["ple_ids_prefill"] = state["ids_prefill"].remainder(pv)
                state["ple_ids_decode"] = state["ids_decode"].remainder(pv)
            if spec.altup_streams:        # Gemma 3n: the stream projections in and out
                n = spec.altup_streams - 1
                state["altup_in"] = torch.empty(n * d, d, dtype=dt, device=dev).uniform_(-d ** -0.5, d ** -0.5)
                state["altup_out"] = torch.empty(n, d, d, dtype=dt, device=dev).uniform_(-d ** -0.5, d ** -0.5)
            return
        from kernels.blocks import build_layer
        layer = build_layer(spec, spec.blocks[name], dtype=dt, device=dev).eval()
        state["layer"] = layer
        w = spec.residual_width          # AltUp (Gemma 3n): the layer takes all N streams
        state["x"] = torch.randn(B, S, w, generator=g).to(device=dev, dtype=dt)
        state["xt"] = torch.randn(B, 1, w, generator=g).to(device=dev, dtype=dt)
        p = spec.per_layer_input        # the layer's per-layer inputs (Gemma 3n/4), prompt and step
        state["ple"] = torch.randn(B, S, p, generator=g).to(device=dev, dtype=dt) if p else None
        state["ple_t"] = torch.randn(B, 1, p, generator=g).to(device=dev, dtype=dt) if p else None
        # a block of KV-shared layers at the end of the model: its prefill is the last token's step
        state["tail"] = name in tail_blocks(spec)
        state["states"] = layer.new_state(B, S + 1)
        state["filled"] = False

    # ---- one (phase, backend)
    def _one(self, name, phase, backend, st, r: BlockResult, need, refs):
        req = self.request
        layer = st.get("layer")
        free = free_memory_bytes(self.kind, self.index) * 0.9
        if name == HEAD_BLOCK:
            fn = self._head_fn(st, phase)
            self._time(fn, r, st)
            return
        spec_layer = req.spec.blocks[name]
        why = ort_export_limit(spec_layer, req.context, phase) if backend == "onnxruntime" else None
        if why:                                      # not exported at all: memory is beside the point
            r.status, r.message = "skipped", why
            return
        if backend == "onnxruntime":
            extra = need["ort" if phase == "prefill" else "ort_decode"]
            if extra > free:
                r.status = "oom"
                r.message = (f"onnxruntime needs about {_fmt_bytes(extra)} more (its own copy of the "
                             f"weights, {'the score matrix' if phase == 'prefill' else 'its own filled cache'}) "
                             f"but only {_fmt_bytes(free / 0.9)} is free; not run")
                return
            self._ort(st, r, phase)
            self._error(name, phase, st, r, refs, need)
            return
        if backend == "triton":
            why = self._triton_unavailable()
            if why:
                r.status, r.message = "skipped", why
                return
        # (triton's prefill is the SDPA path)
        extra = {"torch": need["eager"], "sdpa": need.get("sdpa", 0.0), "triton": need.get("sdpa", 0.0)}[backend]
        if phase == "prefill" and _has_softmax_attention(spec_layer) and extra > free:
            r.status = "oom"
            r.message = (f"{backend} needs about {_fmt_bytes(extra)} more (the attention scores) but only "
                         f"{_fmt_bytes(free / 0.9)} is free; not run")
            return
        with switched_to(layer, backend, phase, req.weights, r) as applied:
            if backend == "triton" and not applied:
                r.status = "skipped"
                r.message = f"no Triton kernel applies to this block's {phase}"
                return
            fn = self._layer_fn(st, phase)
            syncs = self.kind == "cuda" and syncs_host(layer)
            if syncs:
                r.message = "; ".join(x for x in (r.message, _HOST_SYNC_NOTE) if x)
            self._time(fn, r, st, graph=not syncs)
            self._error(name, phase, st, r, refs, need)
        if backend == "sdpa" and not _has_softmax_attention(spec_layer):
            r.message = "no softmax attention in this block: the torch code path"
        elif backend == "sdpa" or (backend == "triton" and phase == "prefill"):
            why = _scores_written(req.spec, spec_layer)
            if why and r.status == "ok":
                r.message = "; ".join(x for x in (r.message, f"SDPA takes no {why}: eager attention") if x)

    @staticmethod
    def _last_token(st) -> tuple:
        """The prefill of a block in the KV-shared tail: the prompt's last token (its x, its
        per-layer input, its position)."""
        ple = st["ple"][:, -1:] if st["ple"] is not None else None
        return st["x"][:, -1:], ple, st["x"].shape[1] - 1

    def _layer_fn(self, st, phase):
        layer, states = st["layer"], st["states"]
        x, xt, pos = st["x"], st["xt"], self.request.context
        ple, ple_t = ((st["ple"],), (st["ple_t"],)) if st["ple"] is not None else ((), ())
        if phase == "prefill" and st["tail"]:
            x_last, ple_last, last = self._last_token(st)
            extra = (ple_last,) if ple_last is not None else ()

            def last_step():           # the caches it reads are another layer's: nothing to reset
                return layer.step(x_last, states, last, *extra)
            return last_step
        if phase == "prefill":
            carried = layer.carried_state(states)

            def fn():                  # a new prompt: recurrent states start from zero each run
                for t in carried:
                    t.zero_()
                return layer(x, states, *ple)
            return fn
        if not st["filled"]:
            self._fill_prompt(layer, x, states, st["ple"])
            st["filled"] = True

        def step():
            return layer.step(xt, states, pos, *ple_t)
        return step

    def _fill_prompt(self, layer, x, states, ple=None):
        """Fill the cache / recurrent state with the prompt through SDPA, whatever backend is being
        timed: the eager path would hold B*H*S*S scores (64 GiB for Gemma 3 27B at B=8, S=8192)
        only to set up a decode step that never reads them. Attention that SDPA cannot take
        (soft-caps, sinks, ALiBi) runs eager a block of queries at a time."""
        import torch
        with torch.no_grad(), switched_to(layer, "sdpa", "prefill", bounded_scores=True):
            for t in layer.carried_state(states):          # a prompt starts from zero state
                t.zero_()
            layer(x, states, ple)

    def _head_fn(self, st, phase):
        import torch
        import torch.nn.functional as F
        w, nw = st["head_w"], st["norm_w"]
        ids = st["ids_decode" if phase == "decode" else "ids_prefill"]
        ple_w, ple_proj = st.get("ple_w"), st.get("ple_proj")
        ple_ids = st.get("ple_ids_decode" if phase == "decode" else "ple_ids_prefill")
        altup_in, altup_out = st.get("altup_in"), st.get("altup_out")
        cap = st.get("logit_softcap", 0.0)
        e_scale, l_scale = st.get("embedding_scale", 1.0), st.get("logit_scale", 1.0)

        def fn():
            h = F.embedding(ids, w)                       # the lookup (same table as the head)
            if e_scale != 1.0:                            # Gemma's sqrt(d), Granite's multiplier
                h = h * e_scale
            if ple_w is not None:                         # per-layer inputs: lookup + projection
                st["ple_out"] = F.embedding(ple_ids, ple_w) + h @ ple_proj.t()
            last = h[:, -1:]
            if altup_in is not None:                      # AltUp: N - 1 streams made, the last token's merged
                extra = (h @ altup_in.t()).unflatten(-1, (altup_out.shape[0], -1))     # [B, S, N-1, D]
                last = last + torch.einsum("bsnd,ned->bse", extra[:, -1:], altup_out) / (altup_out.shape[0] + 1)
            xf = last.float()
            y = (xf * (xf.pow(2).mean(-1, keepdim=True) + 1e-6).rsqrt()).to(w.dtype) * nw
            logits = (y @ w.t()).float()
            if l_scale != 1.0:                            # Cohere's logit_scale, Granite's 1 / logits_scaling
                logits = logits * l_scale
            return torch.tanh(logits / cap) * cap if cap else logits     # Gemma 2/3n: the final soft-cap
        return fn

    def _sync(self):
        if self.kind == "cuda":
            import torch
            torch.cuda.synchronize(self.device)

    def _graph(self, fn):
        """Capture ``fn`` in a CUDA graph and time its replays (Python launch overhead would
        otherwise dominate small kernels); falls back to the stream with a note."""
        import torch
        if getattr(self, "_graphs_broken", None):
            return fn, None, ("timed on the stream, launch overhead included (CUDA graphs off "
                              f"after an earlier capture failed: {self._graphs_broken})")
        gen = torch.cuda.default_generators[self.index]
        saved = gen.clone_state() if hasattr(gen, "clone_state") else None
        try:
            s = torch.cuda.Stream(self.device)
            s.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(s):
                fn()
            torch.cuda.current_stream(self.device).wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                static_out = fn()
            g.replay()
            torch.cuda.synchronize(self.device)
            return g.replay, static_out, "CUDA graph replays"
        except Exception as exc:  # noqa: BLE001
            # A failed capture can leave the context unable to capture again (later blocks then
            # fail with "operation failed due to a previous error during capture"): stop trying.
            self._graphs_broken = _first_line(exc)[:120]
            # The capture registered the default generator, and a capture that fails ends before
            # releasing it: its next random op (building the next block) then raises "Offset
            # increment outside graph capture". Swap in the state saved before the capture.
            if saved is not None:
                gen.graphsafe_set_state(saved)
            torch.cuda.synchronize(self.device)
            return fn, None, ("timed on the stream, launch overhead included (no CUDA graph: "
                              f"{self._graphs_broken})")

    def _time(self, fn, r: BlockResult, st, graph: bool = True):
        import torch
        req = self.request
        times: list[float] = []
        deadline = time.perf_counter() + req.max_seconds
        cuda = self.kind == "cuda"
        cold_caches = self._cache_flush()
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            _reset_hwm()
        with torch.inference_mode():
            for _ in range(req.warmup):
                self._check_cancel()
                out = fn()
                self._sync()
                if time.perf_counter() > deadline:
                    break
            static = None
            if cuda and graph:
                fn, static, note = self._graph(fn)
                r.message = "; ".join(x for x in (r.message, note) if x)
            for i in range(req.repeats):
                self._check_cancel()
                cold_caches()
                if cuda:
                    a = torch.cuda.Event(enable_timing=True)
                    b = torch.cuda.Event(enable_timing=True)
                    a.record()
                    out = fn()
                    b.record()
                    b.synchronize()
                    times.append(a.elapsed_time(b) / 1e3)
                else:
                    t = time.perf_counter()
                    out = fn()
                    times.append(time.perf_counter() - t)
                if time.perf_counter() > deadline and times:
                    if i + 1 < req.repeats:
                        stop = (f"stopped after {len(times)} of {req.repeats} runs "
                                f"(max {req.max_seconds:g} s)")
                        r.message = "; ".join(x for x in (r.message, stop) if x)
                    break
        st["out"] = static if static is not None else out
        self._fill_stats(r, times)
        self._peak(r, st)

    def _fill_stats(self, r: BlockResult, times: list[float]):
        s = sorted(times)
        r.samples = len(s)
        r.p50_s = statistics.median(s)
        r.p90_s = _percentile(s, 0.9)
        r.p99_s = _percentile(s, 0.99)
        r.mean_s = statistics.fmean(s)
        if r.p50_s > 0:
            r.achieved_flops_per_s = r.flops / r.p50_s
            r.achieved_bytes_per_s = r.bytes / r.p50_s
            r.roofline_pct = 100.0 * r.floor_s / r.p50_s

    def _peak(self, r: BlockResult, st):
        if self.kind == "cuda":
            import torch
            r.peak_memory_bytes = float(torch.cuda.max_memory_allocated(self.device) - st["cuda0"])
        else:
            rss, hwm = _rss()
            if hwm:
                r.peak_memory_bytes = max(hwm - st["rss0"], 0.0)

    # ---- numerical error against a float64 (or fp32) copy
    def _reference(self, name, phase, st, refs, need):
        if phase in refs:
            return refs[phase]
        import torch
        req = self.request
        free = free_memory_bytes(self.kind, self.index) * 0.9
        if need["ref"] <= free:
            rdt, label = torch.float64, "fp64"
        elif self.dt != "fp32" and need["ref32"] <= free:
            rdt, label = torch.float32, "fp32"
        else:
            refs["prefill"] = refs["decode"] = (None, "no room for a reference copy")
            return refs[phase]
        layer = st["layer"]
        with torch.no_grad():
            ref = copy.deepcopy(layer).to(rdt)
            x, xt = st["x"].to(rdt), st["xt"].to(rdt)
            ple, ple_t = ((st["ple"].to(rdt),), (st["ple_t"].to(rdt),)) if st["ple"] is not None else ((), ())
            states = ref.new_state(req.batch, req.context + 1)
            if st["tail"]:
                x_last, ple_last, last = self._last_token(st)
                y_pre = ref.step(x_last.to(rdt), states, last,
                                 *((ple_last.to(rdt),) if ple_last is not None else ()))
            else:
                y_pre = ref(x, states, *ple)
            y_dec = ref.step(xt, states, req.context, *ple_t) if "decode" in req.phases else None
        del ref, states
        refs["prefill"] = (y_pre, label)
        refs["decode"] = (y_dec, label)
        return refs[phase]

    def _error(self, name, phase, st, r: BlockResult, refs, need):
        req = self.request
        if not req.check_error or r.status != "ok":
            return
        import torch
        out = st.get("out")
        if phase == "decode" and r.backend != "onnxruntime":   # ORT's first step is kept by _ort
            # one step from the prompt's cache, exactly as the reference (the timed steps may
            # have advanced a recurrent state)
            st["states"] = st["layer"].new_state(req.batch, req.context + 1)
            ple_t = (st["ple_t"],) if st["ple_t"] is not None else ()
            with torch.inference_mode():
                self._fill_prompt(st["layer"], st["x"], st["states"], st["ple"])
                with switched_to(st["layer"], r.backend, phase, req.weights):
                    out = st["layer"].step(st["xt"], st["states"], req.context, *ple_t)
        try:
            y_ref, label = self._reference(name, phase, st, refs, need)
        except Exception as exc:  # noqa: BLE001
            r.reference = f"reference failed: {_first_line(exc)}"
            return
        if y_ref is None or out is None:
            r.reference = label
            return
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(out)
        y = out.to(device=y_ref.device, dtype=y_ref.dtype)
        denom = torch.linalg.vector_norm(y_ref).item()
        r.rel_error = torch.linalg.vector_norm(y - y_ref).item() / denom if denom else None
        r.reference = label

    # ---- ONNX Runtime
    def _ort(self, st, r: BlockResult, phase: str):
        """Export the block's prefill (x -> y) or decode step (kernels.onnx_graphs) and time it in
        ONNX Runtime on the best provider that loads; the output of the first run is kept for
        the numerical check."""
        import torch

        from kernels import onnx_graphs as graphs
        from kernels import onnx_runtime as ortk
        layer, x = st["layer"], st["x"]
        note = []
        if self.torch_dtype == torch.bfloat16:
            layer, x = copy.deepcopy(layer).to(torch.float16), x.to(torch.float16)
            note.append("exported in fp16 (ONNX Runtime IO binding has no bf16)")
        ple = [t.to(x.dtype) if t is not None else None for t in (st["ple"], st["ple_t"])]
        # a decode step, or the prefill of a KV-shared tail block: the last prompt token's step
        stepped = phase == "decode" or st["tail"]
        pos = self.request.context if phase == "decode" else self.request.context - 1
        prefer = (("CPUExecutionProvider",) if self.kind == "cpu" else ortk.DEFAULT_PREFERENCE)
        with tempfile.TemporaryDirectory(prefix="orbit-profile-") as tmp, torch.no_grad():
            path = Path(tmp) / "block.onnx"
            self._check_cancel()
            if not stepped:
                graph = graphs.prefill_graph(layer)
                inputs = (x,) + graphs.prefill_inputs(layer, x, ple[0], st["states"])
                ortk.export_block(graph, inputs, path, input_names=graph.input_names)
            else:
                if phase == "decode":
                    xt, ple_step = st["xt"].to(x.dtype), ple[1]
                else:
                    xt, ple_step = x[:, -1:], ple[0][:, -1:] if ple[0] is not None else None
                states = layer.new_state(self.request.batch, self.request.context + 1)
                if phase == "decode":
                    self._fill_prompt(layer, x, states, ple[0])
                graph = graphs.decode_step_graph(layer, states, pos)
                extra = (ple_step,) if ple_step is not None else ()
                ortk.export_block(graph, (xt, *extra, *graphs.flat_states(states)), path, dynamic=False,
                                  input_names=graph.input_names, output_names=graph.output_names)
            self._check_cancel()
            threads = torch.get_num_threads() if self.kind == "cpu" else None
            free_before = torch.cuda.mem_get_info(self.device)[0] if self.kind == "cuda" else None
            # on torch's stream: the decode loop's cache-row writes (torch) and ORT's next reads are ordered
            stream = torch.cuda.current_stream(self.device).cuda_stream if self.kind == "cuda" else None
            session, msgs = ortk.make_session(path, prefer, device_id=self.index, threads=threads,
                                              compute_stream=stream)
            note += msgs
            r.provider = ortk.short_name(session.get_providers()[0])
            sdev = ortk.session_device(session)
            if sdev != self.kind:
                # tensors are bound where the session runs; ORT then reads and writes them in place
                note.append("ONNX Runtime ran on the CPU: compare with care")
                x = x.to("cpu")
                ple = [t.to("cpu") if t is not None else None for t in ple]
                if not stepped:
                    inputs = tuple(t.to("cpu") for t in inputs)
                if stepped:
                    xt = xt.to("cpu")
                    ple_step = ple_step.to("cpu") if ple_step is not None else None
                    states = [{k: t.to("cpu") for k, t in s_.items()} for s_ in states]
            if not stepped:
                feeds = {name: t.contiguous() for name, t in zip(graph.input_names, inputs)}
                fn = ortk.bound_run(session, feeds, {"y": torch.empty_like(x)})
                first = fn().clone()
            else:
                fn = graphs.DecodeRunner(session, xt.contiguous(), states, pos,
                                         ple_step.contiguous() if ple_step is not None else None)
                first = fn.first
            self._time(fn, r, st, graph=False)
            st["out"] = first
            if sdev == "cuda" and free_before is not None:
                # ORT allocates from its own arena, which torch's peak does not see; the arena keeps
                # what it grew to, so the drop in the device's free memory is ORT's peak
                arena = free_before - torch.cuda.mem_get_info(self.device)[0]
                if arena > (r.peak_memory_bytes or 0):
                    r.peak_memory_bytes = float(arena)
                    note.append("peak memory from the device's free memory (ORT's arena)")
            session = fn = states = None        # ORT's arena goes before the next block is built
        r.message = "; ".join([f"provider {r.provider}"] + note + ([r.message] if r.message else []))

    # ---- Triton
    def _triton_unavailable(self) -> str | None:
        from kernels.triton_ops import interpreting, triton_available
        if self.kind != "cuda":
            return ("Triton kernels need a CUDA device; on the CPU they are checked for "
                    "correctness in Triton's interpreter (tests), never timed")
        if not triton_available():
            return "triton is not installed"
        if interpreting():
            return "TRITON_INTERPRET is set: the interpreter is for correctness tests, not timing"
        return None

    # ---- whole model
    def _summarise(self, result: ProfileResult):
        req = self.request
        counts: dict[str, int] = {}
        for name in req.spec.layout:
            counts[name] = counts.get(name, 0) + 1
        wl = self.wl
        try:
            rep = cost_report(req.spec, wl, self.hw)
            pred_pre, pred_dec = rep.prefill.time_s, rep.decode.time_s
        except Exception as exc:  # noqa: BLE001
            result.messages.append(f"whole-model prediction failed: {_first_line(exc)}")
            pred_pre = pred_dec = 0.0
        ok = {(b.block, b.phase, b.backend): b for b in result.blocks if b.ok}

        def head_time(phase):
            h = ok.get((HEAD_BLOCK, phase, "torch"))
            if h:
                return h.p50_s, True
            costs = head_op_costs(req.spec, phase, req.context, req.batch, self.fmt)
            return predict_ops(costs, self.peak, self.hw.bandwidth, wl.compute_efficiency,
                               wl.memory_efficiency), False

        # an image encoder the cost model times (Llama 3.2 Vision's) is not among the profiled
        # layers: its predicted time stands in, and the result says so
        image_costs = [(op.flops, op.bytes) for op in image_encoder_ops(req.spec, req.batch, self.fmt)]
        image_s = predict_ops(image_costs, self.peak, self.hw.bandwidth, wl.compute_efficiency,
                              wl.memory_efficiency) if image_costs else 0.0
        for backend in req.backends:
            notes = []
            totals = {}
            for phase in req.phases:
                total, have = 0.0, 0
                for name, n in counts.items():
                    b = ok.get((name, phase, backend))
                    if b is None:
                        sub = next((ok.get((name, phase, o)) for o in ("torch", "sdpa")
                                    if ok.get((name, phase, o))), None)
                        if sub is None:
                            continue
                        notes.append(f"{name} {phase}: {sub.backend} time used")
                        b = sub
                    else:
                        have += 1
                    total += b.p50_s * n
                if have == 0 or any(not (ok.get((nm, phase, backend)) or ok.get((nm, phase, "torch"))
                                         or ok.get((nm, phase, "sdpa"))) for nm in counts):
                    totals[phase] = None
                    continue
                t, measured = head_time(phase)
                if not measured:
                    notes.append(f"LM head {phase} predicted")
                if phase == "prefill" and image_s:
                    t += image_s
                    notes.append("image encoder predicted, not run")
                totals[phase] = total + t
            if all(v is None for v in totals.values()):
                continue
            note = "extrapolated from one layer per kind x layer count" + (
                "; " + "; ".join(notes) if notes else "")
            result.whole_by_backend[backend] = WholeModel(
                backend, totals.get("prefill"), totals.get("decode"), pred_pre, pred_dec,
                batch=req.batch, note=note)
        for backend in req.backends:
            w = result.whole_by_backend.get(backend)
            if w is not None and w.decode_s is not None:
                result.whole_model = w
                break
        else:
            if result.whole_by_backend:
                result.whole_model = next(iter(result.whole_by_backend.values()))


# --------------------------------------------------------------------------- convenience

def profile(request: ProfileRequest, progress: ProgressFn | None = None,
            should_cancel: CancelFn | None = None,
            on_result: Callable[[BlockResult], None] | None = None) -> ProfileResult:
    """Run ``request`` (see :class:`Profiler`)."""
    return Profiler(request).run(progress, should_cancel, on_result)
