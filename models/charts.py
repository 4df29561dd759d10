"""Series for the charts panel: pure functions of a spec, a workload and a cost report.

Every number here comes from the cost model (models/cost.py) or the economics module; the widgets
(widgets/charts.py) only draw them. Each function returns plain dataclasses of numpy arrays and
lists, and runs in a few milliseconds for a catalog model (reports are cached per spec and
workload, and sweeps that only need the decode pass skip the rest of the report).

- ``memory_vs_context``: memory by component against context length (log-spaced), so a sliding
  window's cap and a recurrent state's flat line show.
- ``roofline``: the device's roof at the report's compute format and every prefill and decode
  operator placed on it (Williams et al., CACM 2009).
- ``latency_breakdown``: seconds per operator kind and phase.
- ``devices_per_bitwidth``: the quantization calculator: devices needed at each weight format.
- ``scaling_with_sequence``: the current model against all-SSM and 3:1 hybrid variants of itself.
- ``thinking_budget_series``: latency and cost of a reasoning budget (survey section 7).
"""
from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

import numpy as np

from .cost import (CostReport, Workload, _phase, activation_bytes, cost_report, image_kv_elements, kv_cache_bytes,
                   kv_elements_per_token, state_elements, workload_formats)
from .dtypes import DTYPES
from .economics import serving_usd_per_million_tokens, thinking_budget
from .overrides import apply_overrides
from .spec import MLA, Attention, CrossAttention, ModelSpec, SpecError

GiB = 2**30

# --------------------------------------------------------------------------- report cache

_CACHE: "OrderedDict[tuple[int, Workload], tuple[ModelSpec, CostReport]]" = OrderedDict()
_CACHE_SIZE = 256


def cached_report(spec: ModelSpec, workload: Workload) -> CostReport:
    """cost_report(spec, workload), memoised on the spec object's identity (specs are immutable
    but hold dicts, so they do not hash) and the workload (a frozen dataclass)."""
    key = (id(spec), workload)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is spec:
        _CACHE.move_to_end(key)
        return hit[1]
    report = cost_report(spec, workload)
    _remember(spec, workload, report)
    return report


def _remember(spec: ModelSpec, workload: Workload, report: CostReport) -> None:
    _CACHE[(id(spec), workload)] = (spec, report)
    _CACHE.move_to_end((id(spec), workload))
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def clear_cache() -> None:
    _CACHE.clear()
    _VARIANTS.clear()




# --------------------------------------------------------------------------- memory vs context

MEMORY_COMPONENTS: tuple[str, ...] = ("weights", "kv_full", "kv_sliding", "mla_latent", "image_kv", "state",
                                      "activations", "reserve")
# the cache parts: they sum to the report's KV cache
CACHE_COMPONENTS: tuple[str, ...] = ("kv_full", "kv_sliding", "mla_latent", "image_kv", "state")
MEMORY_LABELS: dict[str, str] = {
    "weights": "weights",
    "kv_full": "KV cache, full attention",
    "kv_sliding": "KV cache, sliding/chunked",
    "mla_latent": "MLA latent cache",
    "image_kv": "image K/V (cross-attention)",
    "state": "recurrent state (linear attn / SSM)",
    "activations": "prefill activations",
    "reserve": "reserve",
}


@dataclass
class MemorySeries:
    contexts: np.ndarray                 # tokens per sequence
    components: dict[str, np.ndarray]    # bytes, all devices together, keys MEMORY_COMPONENTS
    total: np.ndarray                    # bytes
    capacity: float                      # bytes, all devices together
    batch: int
    devices: int
    windows: list[int]                   # the sliding / chunk spans that cap a component
    model_context: int                   # the model's trained context length
    current_context: int                 # the workload's context

    def nonzero(self) -> list[str]:
        return [k for k in MEMORY_COMPONENTS if np.any(self.components[k] > 0)]


def default_contexts(max_context: int, points: int = 40, extra: tuple[int, ...] = ()) -> np.ndarray:
    lo = 256 if max_context > 256 else max(1, max_context // 16)
    grid = np.geomspace(lo, max(max_context, lo + 1), points)
    values = set(int(round(x)) for x in grid)
    values.update(int(e) for e in extra if lo <= e <= max_context)
    return np.array(sorted(values), dtype=np.int64)


def memory_vs_context(spec: ModelSpec, workload: Workload,
                      contexts: np.ndarray | list[int] | None = None) -> MemorySeries:
    """Memory by component (cost model conventions) for ``workload.batch`` sequences of each
    context length. Reserve follows cost_report: reserve_bytes per device + reserve_fraction of
    weights + KV and state. At the workload's own context the parts sum to the report's total."""
    report = cached_report(spec, workload)
    wl = workload
    kv_b = workload_formats(wl).kv
    windows: set[int] = set()
    for layer in spec.blocks.values():
        for m in layer.mixers:
            if isinstance(m, (Attention, MLA)) and m.kind != "full" and m.window > 0:
                windows.add(int(m.window))
    if contexts is None:
        ctx = default_contexts(spec.context_length, 40, tuple(windows) + (wl.context,))
    else:
        ctx = np.asarray(contexts, dtype=np.int64)
    comps = {k: np.zeros(len(ctx)) for k in MEMORY_COMPONENTS}
    counts: dict[str, int] = {}
    for name in spec.layout:
        counts[name] = counts.get(name, 0) + 1
    c = ctx.astype(float)
    for name, n in counts.items():
        for m in spec.blocks[name].mixers:
            if isinstance(m, (Attention, MLA)):
                per_tok = kv_elements_per_token(m) * kv_b * n * wl.batch
                capped = m.kind != "full" and m.window > 0
                tokens = np.minimum(c, m.window) if capped else c
                key = "mla_latent" if isinstance(m, MLA) else ("kv_sliding" if capped else "kv_full")
                comps[key] += per_tok * tokens
            elif isinstance(m, CrossAttention):      # the image's keys and values: flat in context
                comps["image_kv"] += image_kv_elements(m) * kv_b * n * wl.batch
            else:
                comps["state"] += state_elements(m) * kv_b * n * wl.batch
    weights = report.memory.weights
    comps["weights"][:] = weights
    comps["activations"] = np.array([activation_bytes(spec, int(t), wl.batch, workload_formats(wl).act)
                                     for t in ctx], dtype=float)
    cache = sum(comps[k] for k in CACHE_COMPONENTS)
    comps["reserve"] = wl.reserve_bytes * wl.devices + wl.reserve_fraction * (weights + cache)
    total = sum(comps[k] for k in MEMORY_COMPONENTS)
    return MemorySeries(ctx, comps, total, report.memory.capacity, wl.batch, wl.devices,
                        sorted(windows), spec.context_length, wl.context)


# --------------------------------------------------------------------------- roofline

@dataclass
class RooflinePoint:
    phase: str           # prefill | decode
    name: str
    kind: str
    intensity: float     # FLOP/byte
    flops_per_s: float   # achieved, per device
    flops: float         # per layer, per device
    bytes: float
    time_s: float        # per layer
    count: int
    bound: str


@dataclass
class RooflineSeries:
    device: str
    compute_dtype: str
    peak: float                  # FLOP/s, dense datasheet, per device
    bandwidth: float             # bytes/s
    ridge: float                 # FLOP/byte where the roof bends
    compute_efficiency: float
    memory_efficiency: float
    intensity: np.ndarray        # x of the roof curves
    roof: np.ndarray             # min(peak, I * bandwidth)
    attainable: np.ndarray       # the same with the workload's efficiency factors
    points: list[RooflinePoint]

    def phase(self, phase: str) -> tuple[np.ndarray, np.ndarray, list[RooflinePoint]]:
        pts = [p for p in self.points if p.phase == phase]
        return (np.array([p.intensity for p in pts], dtype=float),
                np.array([p.flops_per_s for p in pts], dtype=float), pts)

    @property
    def ridge_efficient(self) -> float:
        return self.peak * self.compute_efficiency / (self.bandwidth * self.memory_efficiency)


def roofline(report: CostReport) -> RooflineSeries:
    hw = report.hardware
    peak, _ = hw.peak(report.compute_dtype)
    bw = hw.bandwidth
    wl = report.workload
    points = []
    for phase, rep in (("prefill", report.prefill), ("decode", report.decode)):
        for op in rep.ops:
            if op.kind == "comm" or op.flops <= 0 or op.bytes <= 0 or op.time_s <= 0:
                continue
            points.append(RooflinePoint(phase, op.name, op.kind, op.flops / op.bytes,
                                        op.flops / op.time_s, op.flops, op.bytes, op.time_s,
                                        op.count, op.bound))
    lo, hi = 0.1, 1e4
    if points:
        lo = min(lo, min(p.intensity for p in points) / 2)
        hi = max(hi, max(p.intensity for p in points) * 2)
    x = np.geomspace(lo, hi, 200)
    ridge = peak / bw
    x = np.unique(np.concatenate([x, [ridge, ridge * wl.compute_efficiency / wl.memory_efficiency]]))
    roof = np.minimum(peak, x * bw)
    attainable = np.minimum(peak * wl.compute_efficiency, x * bw * wl.memory_efficiency)
    return RooflineSeries(hw.name, report.compute_dtype, peak, bw, ridge, wl.compute_efficiency,
                          wl.memory_efficiency, x, roof, attainable, points)


# --------------------------------------------------------------------------- latency by kind

KIND_ORDER: tuple[str, ...] = ("vision", "projection", "attention", "recurrence", "conv", "ffn", "experts",
                               "router", "lm_head", "comm")
KIND_LABELS: dict[str, str] = {"vision": "image encoder", "projection": "projections", "attention": "attention",
                               "recurrence": "recurrence", "conv": "conv", "ffn": "FFN",
                               "experts": "experts", "router": "router", "lm_head": "LM head",
                               "comm": "all-reduce"}


def latency_breakdown(report: CostReport) -> dict[str, dict[str, float]]:
    """{"prefill": {kind: seconds}, "decode": {...}}, kinds in KIND_ORDER, zero kinds left out.
    Each phase's values sum to its time (TTFT, time per output token)."""
    out: dict[str, dict[str, float]] = {}
    for phase, rep in (("prefill", report.prefill), ("decode", report.decode)):
        by = rep.by_kind()
        ordered = {k: by[k] for k in KIND_ORDER if by.get(k, 0.0) > 0}
        ordered.update({k: v for k, v in by.items() if k not in ordered and v > 0})
        out[phase] = ordered
    return out


# --------------------------------------------------------------------------- quantization

QUANT_FORMATS: tuple[str, ...] = ("fp32", "bf16", "fp8", "int8", "int4", "nf4", "fp4", "ternary")
MAX_DEVICES = 64


class QuantRow(NamedTuple):
    dtype: str
    bits: float                  # storage bits per weight incl. group metadata
    weights_bytes: float
    devices_needed: int | None   # smallest N that fits, None above MAX_DEVICES
    fits_on_one: bool
    other_bytes: float           # KV cache, prefill activations, proportional reserve

    @property
    def model_bytes(self) -> float:
        """What the devices must hold together besides each one's fixed reserve."""
        return self.weights_bytes + self.other_bytes


def device_room(memory_bytes: float, workload: Workload) -> float:
    """Bytes one device has for the model once its fixed reserve is set aside. The cost model's
    memory per device is (model bytes)/N + reserve_bytes, so N devices hold a model of up to
    N x device_room (cost_report's ``memory.fits``)."""
    return memory_bytes - workload.reserve_bytes


def devices_per_bitwidth(spec: ModelSpec, workload: Workload,
                         formats: tuple[str, ...] = QUANT_FORMATS) -> list[QuantRow]:
    """For each weight format: the model's memory and the fewest devices (tensor parallel, the
    workload's device type, context and batch) whose memory holds it, i.e. cost_report(...).memory.fits.
    Routed experts in a format of their own (``expert_weights``) keep it in every row.

    A first guess comes from the model's bytes over device_room and is confirmed (and corrected)
    with cost_report, so the count is the cost model's own verdict."""
    rows = []
    for name in formats:
        wl1 = dataclasses.replace(workload, weights=name, devices=1)
        r1 = cached_report(spec, wl1)
        room = device_room(r1.hardware.memory_bytes, workload)
        variable = r1.memory.total - workload.reserve_bytes
        needed: int | None
        if room <= 0:
            needed = None
        else:
            guess = max(1, min(MAX_DEVICES + 1, math.ceil(variable / room)))

            def fits(n: int) -> bool:
                return cached_report(spec, dataclasses.replace(wl1, devices=n)).memory.fits
            n = guess
            while n <= MAX_DEVICES and not fits(n):
                n += 1
            while n > 1 and n - 1 <= MAX_DEVICES and fits(n - 1):
                n -= 1
            needed = n if n <= MAX_DEVICES else None
        rows.append(QuantRow(name, DTYPES[name].bits(workload.group_size), r1.memory.weights,
                             needed, needed == 1, variable - r1.memory.weights))
    return rows


# --------------------------------------------------------------------------- scaling

@dataclass
class ScalingVariant:
    key: str             # current | ssm | hybrid | sliding
    label: str
    spec_name: str
    decode_s: np.ndarray     # time per output token at each length (one decode step, whole batch)
    cache_bytes: np.ndarray  # KV cache + recurrent state, whole batch


@dataclass
class ScalingSeries:
    lengths: np.ndarray
    variants: list[ScalingVariant]
    omitted: list[tuple[str, str]] = field(default_factory=list)   # (label, reason)
    model_context: int = 0        # the model's stated context; 0 where it states none

    def variant(self, key: str) -> ScalingVariant | None:
        return next((v for v in self.variants if v.key == key), None)


def _has_softmax(layer) -> bool:
    return any(isinstance(m, (Attention, MLA)) for m in layer.mixers)


def linear_hybrid(spec: ModelSpec, period: int = 4) -> ModelSpec:
    """The 3:1 linear-attention hybrid of ``spec`` (Qwen3-Next, Kimi Linear style): of every
    ``period`` token-mixing layers the last keeps its softmax attention and the others become
    Gated DeltaNet (the ``attention=linear`` conversion); linear and SSM layers stay as they are.
    SpecError when the model has no attention to convert or is already that hybrid."""
    lin = apply_overrides(spec, {"attention": "linear"})
    blocks: dict = {}
    layout: list[str] = []
    i = 0
    changed = False
    for position, name in enumerate(spec.layout):
        layer = spec.blocks[name]
        if layer.mixers and (i % period) != period - 1 and _has_softmax(layer):
            key = f"linear({name})"
            blocks[key] = lin.blocks[lin.layout[position]]     # the edit may rename the block
            changed = True
        else:
            key = name
            blocks[key] = layer
        if layer.mixers:
            i += 1
        layout.append(key)
    if not changed:
        raise SpecError("attention", f"{spec.name} already has at most one softmax-attention layer "
                                     f"in {period}")
    return spec.with_changes(name=f"{spec.name} (3:1 linear hybrid)", blocks=blocks,
                             layout=tuple(layout))


_VARIANTS: "OrderedDict[int, tuple[ModelSpec, list, list]]" = OrderedDict()

VARIANT_LABELS = {"current": "current model", "ssm": "all SSM (Mamba-2)",
                  "hybrid": "3:1 linear:full hybrid (Gated DeltaNet)",
                  "sliding": "3:1 sliding:full attention"}


def scaling_variants(spec: ModelSpec) -> tuple[list[tuple[str, ModelSpec]], list[tuple[str, str]]]:
    """[(key, spec)] of the variants that can be built, and [(label, reason)] of those that cannot."""
    hit = _VARIANTS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1], hit[2]
    built: list[tuple[str, ModelSpec]] = [("current", spec)]
    omitted: list[tuple[str, str]] = []
    makers = (("ssm", lambda: apply_overrides(spec, {"attention": "ssm"})),
              ("hybrid", lambda: linear_hybrid(spec)),
              ("sliding", lambda: apply_overrides(spec, {"local_global": "3:1"})))
    all_ssm = all(m.KIND == "ssm" for layer in spec.layers for m in layer.mixers)
    for key, make in makers:
        if key == "ssm" and all_ssm:          # the current model's curve is that one
            continue
        try:
            variant = make()
        except SpecError as exc:
            omitted.append((VARIANT_LABELS[key], exc.rule))     # the knob's name means nothing here
            continue
        if variant.layers == spec.layers:
            omitted.append((VARIANT_LABELS[key], "same as the current model"))
            continue
        built.append((key, variant))
    _VARIANTS[id(spec)] = (spec, built, omitted)
    while len(_VARIANTS) > 32:
        _VARIANTS.popitem(last=False)
    return built, omitted


def decode_times(spec: ModelSpec, workload: Workload, positions) -> np.ndarray:
    """Time per output token (cost_report(...).tpot_s) with the decode step at each position,
    computing only the decode pass (the rest of the report does not change with position)."""
    base = cached_report(spec, workload)
    hw = base.hardware
    peak, _ = hw.peak(base.compute_dtype)
    fmt = workload_formats(workload)
    out = np.empty(len(positions))
    for i, p in enumerate(positions):
        wl = dataclasses.replace(workload, context=int(p), position=None)
        out[i] = _phase(spec, wl, hw, fmt, peak, True, base.params).time_s
    return out


def scaling_with_sequence(spec: ModelSpec, workload: Workload,
                          lengths: np.ndarray | list[int] | None = None) -> ScalingSeries:
    """Per-token decode time and KV/state memory against sequence length for the current model,
    an all-SSM variant (attention=ssm) and a 3:1 linear-attention hybrid (see linear_hybrid),
    plus the 3:1 sliding-window variant where the model has softmax attention."""
    if lengths is None:
        top = max(spec.context_length, 32768)
        lengths = np.unique(np.round(np.geomspace(512, top, 20)).astype(np.int64))
    lengths = np.asarray(lengths, dtype=np.int64)
    kv_b = workload_formats(workload).kv
    built, omitted = scaling_variants(spec)
    variants = []
    for key, vspec in built:
        try:
            times = decode_times(vspec, workload, lengths)
        except SpecError as exc:
            omitted.append((VARIANT_LABELS[key], str(exc)))
            continue
        cache = np.array([kv_cache_bytes(vspec, int(n), workload.batch, kv_b) for n in lengths])
        label = spec.name if key == "current" else VARIANT_LABELS[key]
        variants.append(ScalingVariant(key, label, vspec.name, times, cache))
    return ScalingSeries(lengths, variants, list(omitted), spec.context_length if spec.context_stated else 0)


# --------------------------------------------------------------------------- thinking budget

@dataclass
class ThinkingSeries:
    budgets: np.ndarray      # reasoning tokens per request
    seconds: np.ndarray      # TTFT + budget x TPOT
    dollars: np.ndarray | None   # whole batch; None without a cloud price for the device
    usd_per_million: float | None
    ttft_s: float
    tpot_s: float
    batch: int

    def __iter__(self) -> Iterator:
        return iter((self.budgets, self.seconds, self.dollars))


def thinking_budget_series(report: CostReport, budgets=None) -> ThinkingSeries:
    if budgets is None:
        budgets = np.linspace(0, 32768, 33)
    budgets = np.asarray(budgets, dtype=float)
    seconds = np.empty(len(budgets))
    dollars = np.empty(len(budgets))
    priced = True
    for i, b in enumerate(budgets):
        s, d = thinking_budget(report, int(b))
        seconds[i] = s
        if d is None:
            priced = False
        else:
            dollars[i] = d
    return ThinkingSeries(budgets, seconds, dollars if priced else None,
                          serving_usd_per_million_tokens(report), report.ttft_s, report.tpot_s,
                          report.workload.batch)


# --------------------------------------------------------------------------- bundle

@dataclass
class ChartData:
    label: str                 # "DeepSeek-V3 on 8x NVIDIA H200 SXM, fp8"
    model: str
    device: str
    devices: int
    workload: Workload
    memory: MemorySeries
    roofline: RooflineSeries
    latency: dict[str, dict[str, float]]
    ttft_s: float
    tpot_s: float
    quant: list[QuantRow]
    device_room: float         # bytes one device holds for the model (see device_room)
    scaling: ScalingSeries
    thinking: ThinkingSeries
    # whether the model fits the devices at this workload: latencies of one that does not are what
    # it would take if it did, and the charts say so
    fits: bool = True


def chart_data(spec: ModelSpec, workload: Workload, report: CostReport | None = None,
               name: str | None = None) -> ChartData:
    """Everything the charts panel draws for one model. ``report`` is cost_report(spec, workload)
    when the caller already has it; ``name`` what the titles and legends call the model (default
    the spec's: an edited model and its original need two)."""
    if report is None:
        report = cached_report(spec, workload)
    else:
        _remember(spec, workload, report)
    hw = report.hardware
    n = workload.devices
    formats = workload.weights + (f", experts {workload.expert_weights}" if workload.expert_weights else "")
    name = name or spec.name
    label = f"{name} on {n}x {hw.name}, {formats}" if n > 1 else f"{name} on {hw.name}, {formats}"
    return ChartData(
        label=label, model=name, device=hw.name, devices=n, workload=workload,
        memory=memory_vs_context(spec, workload),
        roofline=roofline(report),
        latency=latency_breakdown(report), ttft_s=report.ttft_s, tpot_s=report.tpot_s,
        quant=devices_per_bitwidth(spec, workload), device_room=device_room(hw.memory_bytes, workload),
        scaling=scaling_with_sequence(spec, workload),
        thinking=thinking_budget_series(report), fits=report.memory.fits)
