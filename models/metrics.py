"""What the metrics panel shows: each figure's text, its formula and inputs (the tooltip), and its
change against the unedited model. Widgets display these rows and compute nothing."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .cost import CostReport, prefill_tail_start
from .spec import MLA, SSM, Attention, CrossAttention, LinearAttention, ModelSpec, MoEFFN


def fmt_count(n: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


def fmt_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} PiB"


def plural(n: int, noun: str) -> str:
    """'1 device', '2 devices'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def three_figures(v: float) -> str:
    """``v`` (under 1000 in its unit) to three significant figures: 200, 62.4, 1.23."""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def fmt_flops(n: float) -> str:
    """Three significant figures: 62.4 TFLOP, 200 TFLOP, 1.23 PFLOP."""
    for div, unit in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if abs(n) >= div:
            return f"{three_figures(n / div)} {unit}FLOP"
    return f"{n:.0f} FLOP"


def fmt_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


@dataclass(frozen=True)
class MetricRow:
    key: str           # stable: used as the widget's objectName
    group: str
    label: str
    value: float
    text: str
    delta_text: str    # "" when unchanged
    tooltip: str
    better_lower: bool = True
    # a time the workload would take with memory it does not have (it does not fit): shown apart
    hypothetical: bool = False


def _delta(value: float, base: float | None, fmt, better_lower: bool) -> str:
    if base is None or value == base:
        return ""
    if fmt is _fit_count and not value:     # "−78 (−100%)" beside "does not fit" says it twice
        return "none fits"
    diff = value - base
    if not base:
        pct = ""
    elif value / base >= 10:           # "+112478.9%" reads worse than "×1126"
        pct = f" (×{value / base:,.0f})"
    else:                              # a decimal where it matters: +4.5%, but +344%
        share = abs(diff / base) * 100
        pct = f" ({'+' if diff > 0 else '−'}{share:.0f}%)" if share >= 100 else \
            f" ({'+' if diff > 0 else '−'}{share:.1f}%)"
    sign = "+" if diff > 0 else "−"
    return f"{sign}{fmt(abs(diff))}{pct}"


def _fit_count(v: float) -> str:
    """A largest batch or context: 0 means nothing fits, which should say so."""
    return f"{v:,.0f}" if v >= 1 else "does not fit"


def metric_rows(r: CostReport, base: CostReport | None = None) -> list[MetricRow]:
    wl, hw, p, m = r.workload, r.hardware, r.params, r.memory
    n = wl.devices
    peak, used = hw.peak(r.compute_dtype)

    def row(key, group, label, value, fmt, tooltip, base_value=None, better_lower=True):
        return MetricRow(key, group, label, value, fmt(value),
                         _delta(value, base_value, fmt, better_lower) if base else "", tooltip,
                         better_lower)

    b = base
    rows = [
        row("paramsTotal", "Parameters", "Total", p.total, fmt_count,
            "Sum of every weight the reference implementation allocates: embeddings "
            f"{fmt_count(p.component('embeddings'))}, attention {fmt_count(p.component('attention'))}, "
            f"linear attention {fmt_count(p.component('linear_attention'))}, SSM {fmt_count(p.component('ssm'))}, "
            f"dense FFN {fmt_count(p.component('ffn'))}, routed experts {fmt_count(p.component('experts'))}, "
            f"shared experts {fmt_count(p.component('shared_experts'))}, routers {fmt_count(p.component('router'))}, "
            f"norms {fmt_count(p.component('norms'))}, LM head {fmt_count(p.component('lm_head'))}"
            + (f"; MTP modules {fmt_count(p.mtp)} not included" if p.mtp else ""),
            b and b.params.total),
        row("paramsActive", "Parameters", "Active per token", p.active, fmt_count,
            "Total minus the routed experts a token does not use: experts x top_k / num_experts "
            "per MoE layer (zero-computation experts excluded). Counts the input embedding table, as "
            f"Mistral and Qwen do; without it (OpenAI's and DeepSeek's way): "
            f"{fmt_count(p.active_without_embeddings)}.", b and b.params.active),
        row("memWeights", "Memory", "Weights", m.weights, fmt_bytes, _weights_formula(p, wl), b and b.memory.weights),
        row("memKV", "Memory", "KV cache / state", m.kv_cache, fmt_bytes,
            f"batch {wl.batch} x {wl.context} tokens x per-layer cache at {wl.kv}: full attention "
            "2·kv_heads·head_dim per token; sliding/chunked capped at the window; MLA "
            "kv_lora_rank + rope dim; linear attention and SSM a constant state.",
            b and b.memory.kv_cache),
        row("memActivations", "Memory", "Activations (prefill peak)", m.activations, fmt_bytes,
            f"batch x context x (2·hidden + widest intermediate) x {wl.activations} + fp32 logits "
            "of the last token", b and b.memory.activations),
        row("memReserve", "Memory", "Reserve", m.reserve, fmt_bytes,
            f"{fmt_bytes(wl.reserve_bytes)} per device (CUDA context, allocator) + "
            f"{wl.reserve_fraction:.0%} of weights and KV (fragmentation)", b and b.memory.reserve),
        row("memPerDevice", "Memory", f"Per device (of {fmt_bytes(hw.memory_bytes)})", m.per_device,
            fmt_bytes, f"(weights + KV + reserve + activations) / {plural(n, 'device')}; capacity "
            f"{fmt_bytes(hw.memory_bytes)} on {hw.name}", b and b.memory.per_device),
        row("maxBatch", "Fit", "Largest batch at this context", float(r.max_batch),
            _fit_count, "Memory is linear in batch: (capacity - weights - reserve) / "
            "per-sequence (KV + activations)", b and float(b.max_batch), better_lower=False),
        row("maxContext", "Fit", "Largest context at this batch", float(r.max_context),
            _fit_count, ("Bisection on context up to the model's context length "
                         if r.spec.context_stated else
                         "Bisection on context up to the search's cap (the model states no context length) ")
            + f"({r.spec.context_length})" + (f" or the context asked ({wl.context}), the longer"
                                              if wl.context > r.spec.context_length else ""),
            b and float(b.max_context), better_lower=False),
        row("flopsPrefill", "FLOPs", f"Prefill ({wl.context} tokens × {wl.batch})", r.prefill.flops,
            fmt_flops, "2 FLOPs per multiply-accumulate over all matmuls; causal attention pairs "
            "counted exactly (sliding: min(i, window) keys); MoE top_k + shared experts; LM head on "
            "the last token only", b and b.prefill.flops),
        row("flopsDecode", "FLOPs", f"Decode step (× {wl.batch}, at {wl.decode_position})",
            r.decode.flops, fmt_flops, "Projections 2·params per token, attention 2·heads·(d_k+d_v) "
            "per cached key, MLA absorbed, MoE top_k + shared, LM head", b and b.decode.flops),
        row("ttft", "Latency", "Time to first token", r.ttft_s, fmt_seconds,
            f"Σ over operators max(FLOPs / ({fmt_flops(peak)}/s {used} × {wl.compute_efficiency:.0%}), "
            f"bytes / ({fmt_bytes(hw.bandwidth)}/s × {wl.memory_efficiency:.0%}))"
            + (f" / {n} devices + 2 all-reduces per layer" if n > 1 else ""), b and b.ttft_s),
        row("tpot", "Latency", "Time per output token", r.tpot_s, fmt_seconds,
            "One decode step, same roofline: weights (experts actually hit), KV cache and state "
            "reads at the memory bandwidth", b and b.tpot_s),
        row("tokensPerSec", "Latency", "Tokens per second", r.tokens_per_s, lambda v: f"{v:,.1f}",
            f"batch ({wl.batch}) / time per output token", b and b.tokens_per_s, better_lower=False),
    ]
    if not m.fits:
        rows = [dataclasses.replace(r, hypothetical=True, tooltip=f"{NO_FIT_NOTE} {r.tooltip}")
                if r.group == "Latency" else r for r in rows]
    return rows


NO_FIT_NOTE = "It does not fit in memory: this is what it would take if it did."


def _local_global(spec: ModelSpec) -> str:
    """local:global of the attention layers' repeating period (Gemma 3: 5:1 even when the layer
    count cuts the last period short; LFM3's global, local, global ...: 1:1); without a period that
    repeats, the ratio of the first run: leading local layers, then the global ones after them."""
    kinds = [m.kind != "full" for l in spec.layers for m in l.mixers if isinstance(m, (Attention, MLA))]
    if all(kinds):                     # every layer local: 1:0, as the user types it
        return "1:0"
    period = next((p for p in range(1, len(kinds) // 2 + 1)
                   if all(kinds[i] == kinds[i % p] for i in range(len(kinds)))), 0)
    if period:
        local = sum(kinds[:period])
        return f"{local}:{period - local}"
    local = next((i for i, is_local in enumerate(kinds) if not is_local), len(kinds))
    rest = kinds[local:]
    glob = next((i for i, is_local in enumerate(rest) if is_local), len(rest))
    return f"{local}:{glob}"


def _weights_formula(p, wl) -> str:
    experts = p.expert_matrix
    if wl.expert_weights and experts:
        matrices = (f"{fmt_count(p.quantizable - experts)} matrix weights x {wl.weights} + "
                    f"{fmt_count(experts)} routed-expert weights x {wl.expert_weights}")
    else:
        matrices = f"{fmt_count(p.quantizable)} matrix weights x {wl.weights}"
    return (f"{matrices} (group {wl.group_size}) + {fmt_count(p.kept)} other parameters "
            f"(embeddings, head, norms, biases, routers) x {wl.embeddings}")


def knob_values(spec: ModelSpec) -> dict[str, object]:
    """Current value of each spec knob, read off the first layer that has the feature, plus which
    knobs apply to this model at all."""
    values: dict[str, object] = {"layers": spec.num_layers, "attention": "none"}
    attn = next((m for l in spec.layers for m in l.mixers if isinstance(m, Attention)), None)
    if attn is not None:
        values["heads"] = attn.heads
        values["kv_heads"] = attn.kv_heads
        values["attention"] = ("mha" if attn.kv_heads == attn.heads else
                               "mqa" if attn.kv_heads == 1 else "gqa")
    kinds = {type(m) for l in spec.layers for m in l.mixers}
    if MLA in kinds:
        values["attention"] = "mla"
    elif attn is None and LinearAttention in kinds:
        values["attention"] = "linear"
    elif attn is None and SSM in kinds:
        values["attention"] = "ssm"
    sliding = [m for l in spec.layers for m in l.mixers if isinstance(m, (Attention, MLA)) and m.kind != "full"]
    values["window"] = sliding[0].window if sliding else None
    values["local_global"] = _local_global(spec) if sliding else None
    moe = next((f for l in spec.layers for f in l.ffns if isinstance(f, MoEFFN)), None)
    if moe is not None:
        values.update(experts=moe.experts, top_k=moe.top_k, shared_experts=moe.shared_experts,
                      experts_step=moe.expert_groups or 1)      # grouped experts change a group at a time
    dsa = next((m for l in spec.layers for m in l.mixers if isinstance(m, MLA) and m.sparse), None)
    values["index_topk"] = dsa.index_topk if dsa is not None else None
    values["kv_shared_layers"] = spec.num_layers - prefill_tail_start(spec) if attn is not None else None
    cross = next((m for l in spec.layers for m in l.mixers if isinstance(m, CrossAttention)), None)
    values["image_tokens"] = cross.image_tokens if cross is not None else None
    return values
