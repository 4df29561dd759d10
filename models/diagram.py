"""What the architecture diagram shows, as plain data (no Qt).

``diagram_model(spec)`` turns a spec into:

- the overview column, in order: (vision encoder,) embedding, positional encoding, the decoder
  stack, final norm, LM head (, MTP modules). In the folded view consecutive layers of the same
  block are one ``run`` item ("xN"), and a period of runs that repeats (Gemma 3's 5 local + 1
  global, Jamba's 8-layer period) is one ``repeat`` item; unfolded, one ``layer`` item per layer;
- the per-layer strip: the mixer category and FFN category of every layer;
- one :class:`BlockDetail` per distinct block: its components in data-flow order with their
  shapes, parameter counts and the formula that gives each count, norm placement, head grouping,
  MLA latent cache, window, router and experts, the recurrence, per-layer weight bytes and
  KV-cache or state bytes.

Every number comes from :mod:`models.params` and :mod:`models.cost`; the widget only draws the
texts and counts held here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .cost import (CostReport, image_kv_elements, kv_elements_per_token, layer_cache_bytes,
                   state_elements)
from .dtypes import dtype
from .metrics import fmt_flops, plural
from .params import (Count, altup_stream_params, count_params, ffn_params, laurel_params, layer_params, linear,
                     mlp_params, norm_params, per_layer_table_params)
from .spec import (MLA, SSM, XIELU_PARAMS, Attention, CrossAttention, DenseFFN, Layer, LinearAttention,
                   ModelSpec, MoEFFN, RopeScaling, ShortConv)

MIXER_CATEGORIES = ("full", "sliding", "chunked", "mla", "cross", "linear", "ssm", "conv", "none")
FFN_CATEGORIES = ("dense", "moe", "none")

CATEGORY_LABELS = {
    "full": "full attention", "sliding": "sliding window", "chunked": "chunked attention",
    "mla": "MLA", "cross": "cross-attention to the image", "linear": "linear attention", "ssm": "SSM (Mamba)",
    "conv": "short convolution",
    "none": "none",
    "dense": "dense FFN", "moe": "MoE",
}

# the parameter groups of models.params.layer_params, as the properties table names them
PART_LABELS = {
    "attention": "Attention", "linear_attention": "Linear attention", "ssm": "SSM",
    "short_conv": "Short convolution", "per_layer_input": "Per-layer input", "altup": "AltUp",
    "laurel": "LAuReL", "ffn": "FFN", "router": "Router", "experts": "Routed experts",
    "shared_experts": "Shared experts", "norms": "Norm",
}

NORM_NAMES = {"rmsnorm": "RMSNorm", "layernorm": "LayerNorm", "layernorm_noparam": "LayerNorm (no weights)",
              "rmsnorm_noparam": "RMSNorm (no weights)"}

MAX_PERIOD_RUNS = 16  # longest period (in runs) the folded overview looks for


# --------------------------------------------------------------------------- formatting

def human_count(n: float) -> str:
    """16_777_216 -> '16.8M'; 671e9 -> '671B'."""
    n = float(n)
    units = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))
    for i, (div, suffix) in enumerate(units):
        if abs(n) >= div * (1 - 5e-4) or (i == len(units) - 1 and abs(n) >= 999.5):
            v = n / div
            if abs(v) >= 999.5 and i > 0:   # 999.9M reads as 1B, not 1e+03M
                v, suffix = n / units[i - 1][0], units[i - 1][1]
            return f"{v:.3g}{suffix}" if abs(v) < 999.5 else f"{v:.0f}{suffix}"
    return f"{n:.0f}"


def human_bytes(b: float) -> str:
    b = float(b)
    for div, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(b) >= div:
            value = b / div
            # 3 significant digits, but never scientific notation (999.5-1023 MiB printed "1e+03")
            return f"{value:.0f} {suffix}" if abs(value) >= 100 else f"{value:.3g} {suffix}"
    return f"{b:.0f} B"


def mixer_category(m) -> str:
    if m is None:
        return "none"
    if isinstance(m, Attention):
        return m.kind
    if isinstance(m, MLA):
        return "mla"
    if isinstance(m, LinearAttention):
        return "linear"
    if isinstance(m, SSM):
        return "ssm"
    if isinstance(m, ShortConv):
        return "conv"
    if isinstance(m, CrossAttention):
        return "cross"
    return "none"


def ffn_category(f) -> str:
    if f is None:
        return "none"
    return "moe" if isinstance(f, MoEFFN) else "dense"


def layer_ffn_category(layer: Layer) -> str:
    """A layer's FFN kind: "moe" where any of its FFNs routes (Gemma 4's MoE beside a dense MLP,
    LongCat-Flash's), else its FFN's."""
    return "moe" if any(isinstance(f, MoEFFN) for f in layer.ffns) else ffn_category(layer.ffn)


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Run:
    """Consecutive layers ``first .. first+count-1`` that all use block ``block``."""

    block: str
    first: int
    count: int


@dataclass(frozen=True)
class OverviewItem:
    """One box of the overview column.

    kind: vision | embedding | per_layer_input | altup | position | run | repeat | layer |
    final_norm | lm_head | mtp.
    ``run``: ``block`` x ``count`` from layer ``first``. ``repeat``: the runs of one period
    (``runs``) repeated ``repeat`` times, layers ``first .. first+count-1``. ``layer``: one layer.
    ``out_shape`` labels the edge leaving the box.
    """

    kind: str
    title: str
    lines: tuple[str, ...] = ()
    params: int = 0
    bytes: float = 0.0
    block: str = ""
    first: int = 0
    count: int = 0
    mixer: str = "none"
    ffn: str = "none"
    runs: tuple[Run, ...] = ()
    repeat: int = 1
    in_shape: str = ""
    out_shape: str = ""
    tooltip: str = ""

    @property
    def folded(self) -> bool:
        return self.kind in ("run", "repeat") and self.count > 1

    @property
    def layers(self) -> range:
        return range(self.first, self.first + self.count)


@dataclass(frozen=True)
class StripEntry:
    layer: int
    label: str          # "L12"
    block: str
    mixer: str          # one of MIXER_CATEGORIES (the first mixer of a parallel hybrid)
    ffn: str            # one of FFN_CATEGORIES
    mixers: tuple[str, ...] = ()   # every mixer's category (Falcon-H1: attention and SSM)


@dataclass(frozen=True)
class Component:
    """One module of a block. ``group``: norm | mixer | ffn | residual; ``kind``: norm,
    projection, attention, recurrence, conv, gate, router, experts, shared_experts, mlp, cache,
    residual, params."""

    name: str
    kind: str
    group: str
    shape: str = ""
    params: int = 0
    formula: str = ""

    @property
    def params_text(self) -> str:
        return human_count(self.params) if self.params else ""


@dataclass(frozen=True)
class HeadGrouping:
    """How query heads share key/value heads. kind: MHA | GQA | MQA | MLA | linear."""

    kind: str
    query_heads: int
    kv_heads: int
    per_group: int
    text: str


@dataclass(frozen=True)
class ExpertsView:
    experts: int
    top_k: int
    shared: int
    zero: int = 0


@dataclass
class BlockDetail:
    name: str
    title: str
    layers: tuple[int, ...]
    mixer: str
    ffn: str
    components: list[Component]
    norm_placement: str
    norm_text: str
    qk_norm: str
    head_grouping: HeadGrouping | None
    grouping_text: str
    latent_dims: tuple[int, int] | None     # MLA (kv_lora_rank, qk_rope_dim)
    latent_text: str
    window: int
    window_text: str
    experts: ExpertsView | None
    router_text: str
    experts_text: str
    shared_text: str
    recurrence_text: str
    params: int                # one layer, = sum of models.params.layer_params components
    params_active: int
    params_by_component: dict[str, int]
    weight_bytes: float        # one layer
    cache_bytes_per_token: float   # attention KV per token (before any window cap)
    cache_cap_tokens: int          # 0: grows with the context
    state_bytes: float             # constant recurrent state per sequence
    cache_bytes_at_context: float  # one layer, one sequence of `context` tokens
    context: int
    cache_text: str
    in_shape: str
    out_shape: str
    properties: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.layers)

    @property
    def params_text(self) -> str:
        return human_count(self.params)


@dataclass
class DiagramModel:
    name: str
    num_layers: int
    hidden_size: int
    vocab_size: int
    unfolded: bool
    overview: list[OverviewItem]
    folded_overview: list[OverviewItem]
    unfolded_overview: list[OverviewItem]
    runs: list[Run]
    strip: list[StripEntry]
    blocks: dict[str, BlockDetail]
    mixer_categories: tuple[str, ...]    # present, in MIXER_CATEGORIES order
    ffn_categories: tuple[str, ...]
    params_total: int
    params_active: int
    weight_bytes: float
    summary: str

    def overview_for(self, unfold: bool) -> list[OverviewItem]:
        return self.unfolded_overview if unfold else self.folded_overview

    @property
    def default_block(self) -> str:
        """The block of the most layers (ties: the first)."""
        return max(self.blocks.values(), key=lambda b: b.count).name


# --------------------------------------------------------------------------- helpers

class _Sizes:
    """Bytes per matrix element, per kept parameter, per cached element, and the context."""

    def __init__(self, spec: ModelSpec, report: CostReport | None, weight_bytes_per_param: float):
        if report is not None:
            wl = report.workload
            self.w = dtype(wl.weights).bytes(wl.group_size)
            self.expert = dtype(wl.expert_weights or wl.weights).bytes(wl.group_size)
            self.keep = dtype(wl.embeddings).bytes(wl.group_size)
            self.kv = dtype(wl.kv).bytes(wl.group_size)
            self.context = wl.context
            experts = f", experts {wl.expert_weights}" if wl.expert_weights else ""
            self.note = f"weights {wl.weights}{experts}, kv {wl.kv}"
        else:
            self.w = self.expert = self.keep = weight_bytes_per_param
            self.kv = 2.0
            self.context = spec.context_length
            self.note = f"{weight_bytes_per_param:g} bytes/param, 2-byte KV"

    def weights(self, c: Count, experts: Count | None = None) -> float:
        """Bytes of ``c``, of which ``experts`` (routed experts' matrices) at their own format."""
        routed = experts.matrix if experts is not None else 0
        return (c.matrix - routed) * self.w + routed * self.expert + c.kept * self.keep


def _lin(name: str, kind: str, group: str, n_in: int, n_out: int, bias: bool,
         in_expr: str, out_expr: str, shape: str = "") -> Component:
    c = linear(n_in, n_out, bias)
    formula = f"{name}: {in_expr} x {out_expr} = {n_in} x {n_out}"
    if bias:
        formula += f" + {n_out} bias"
    formula += f" = {human_count(c.total)}"
    return Component(name, kind, group, shape or f"{n_in} -> {n_out}", c.total, formula)


def _kept(name: str, kind: str, group: str, n: int, expr: str, shape: str = "") -> Component:
    return Component(name, kind, group, shape, n, f"{name}: {expr} = {human_count(n)}" if n
                     else f"{name}: {expr}")


def _head_grouping(a: Attention) -> HeadGrouping:
    per = a.heads // a.kv_heads
    if a.kv_heads == a.heads:
        kind, text = "MHA", f"MHA: {a.heads} query heads, each with its own KV head"
    elif a.kv_heads == 1:
        kind, text = "MQA", f"MQA: {a.heads} query heads share 1 KV head"
    else:
        kind, text = "GQA", (f"GQA: {a.heads} query heads share {a.kv_heads} KV heads, "
                             f"{per} per group")
    return HeadGrouping(kind, a.heads, a.kv_heads, per, text)


# How an attention layer without RoPE knows positions: the model's scheme (NoPE only when the
# model otherwise uses RoPE, as Llama 4's and SmolLM3's NoPE layers do).
_NOT_ROPE = {"rope": "NoPE", "alibi": "ALiBi", "learned": "learned positions",
             "sinusoidal": "sinusoidal positions", "none": "no positions"}


def _attention_components(a: Attention, d: int, i: str, position: str = "rope") -> list[Component]:
    q_out = a.heads * a.head_dim * (2 if a.output_gate else 1)
    gate = " x 2 (output gate)" if a.output_gate else ""
    if a.experts:
        out = _attention_expert_components(a, d, i)
    else:
        out = [_lin(f"q_proj{i}", "projection", "mixer", d, q_out, a.qkv_bias, "d",
                    f"heads*head_dim{gate}",
                    f"{d} -> {a.heads}x{a.head_dim} (q)" + (" + gate" if a.output_gate else ""))]
    if a.kv_shared:
        out.append(Component(f"shared K/V{i}", "attention", "mixer",
                             f"{a.kv_heads}x{a.head_dim} keys and values, no cache of its own", 0,
                             f"reads the cache of the last earlier {a.kind} layer that writes one "
                             f"(no k_proj, v_proj or k_norm)"))
    else:
        out.append(_lin(f"k_proj{i}", "projection", "mixer", d, a.kv_heads * a.head_dim, a.qkv_bias,
                        "d", "kv_heads*head_dim", f"{d} -> {a.kv_heads}x{a.head_dim} (k)"))
    if a.value_from_key:
        out.append(Component(f"v = k{i}", "attention", "mixer", "values: the key projection", 0,
                             "no v_proj: the key projection's output, before k's norm and RoPE, "
                             "is the value"))
    elif not a.kv_shared:
        out.append(_lin(f"v_proj{i}", "projection", "mixer", d, a.kv_heads * a.vdim, a.qkv_bias, "d",
                        "kv_heads*v_head_dim", f"{d} -> {a.kv_heads}x{a.vdim} (v)"))
    kv_norms = 0 if a.kv_shared else 1
    # Persimmon's QK LayerNorms: a bias beside each weight
    bias, per = (" + bias", 2) if a.qk_norm_bias else ("", 1)
    twice = " x 2" if a.qk_norm_bias else ""
    if a.qk_norm == "head":
        out.append(_kept(f"q_norm{'' if a.kv_shared else ', k_norm'}{i}", "norm", "mixer",
                         (1 + kv_norms) * a.head_dim * per,
                         f"{1 + kv_norms} x head_dim{twice} = {1 + kv_norms} x {a.head_dim}{twice}",
                         f"per head over {a.head_dim}{bias}"))
    elif a.qk_norm in ("full", "per_head"):
        n = (a.heads + a.kv_heads * kv_norms) * a.head_dim * per
        over = f"over all heads ({a.heads}x{a.head_dim})" if a.qk_norm == "full" else \
            f"each head over {a.head_dim}, own weights"
        kv = f" + {a.kv_heads}" if kv_norms else ""
        out.append(_kept(f"q_norm{'' if a.kv_shared else ', k_norm'}{i}", "norm", "mixer", n,
                         f"(heads{' + kv_heads' if kv_norms else ''}) x head_dim{twice} = ({a.heads}{kv}) x "
                         f"{a.head_dim}{twice}", over + bias))
    elif a.qk_norm == "l2":
        out.append(_kept(f"q/k norm{i}", "norm", "mixer", 0, "no weights",
                         f"RMS per head over {a.head_dim}, after RoPE"))
    if a.v_norm and not a.kv_shared:
        out.append(_kept(f"v_norm{i}", "norm", "mixer", 0, "no weights", f"RMS per head over {a.vdim}"))
    if a.sinks:
        out.append(_kept(f"sinks{i}", "attention", "mixer", a.heads, f"heads = {a.heads}",
                         "one sink logit per head"))
    if a.head_gate != "none":
        out.append(_lin(f"g_proj{i}", "projection", "mixer", d, a.heads, False, "d", "heads",
                        f"{d} -> {a.heads} ({a.head_gate} gate per head)"))
    rope = "RoPE" if a.rope else _NOT_ROPE.get(position, "NoPE")
    if a.rope and 0 < a.rope_fraction < 1:
        rope = f"RoPE on {a.rope_fraction:.0%}"
    if a.kind == "full":
        span = "all earlier tokens"
    elif a.kind == "sliding":
        span = f"last {a.window} tokens"
    else:
        span = f"own {a.window}-token chunk"
    cap = f", soft-cap {a.softcap:g}" if a.softcap else ""
    scores = f"softmax({score_formula(a.head_dim, a.scale, a.softcap)})"
    out.append(Component(
        f"{a.kind} attention{i}", "attention", "mixer",
        f"{a.heads} heads x {a.head_dim}, {rope}, keys: {span}{cap}", 0,
        (f"{scores} [v_j | v_j+{a.kv_heads // 2}] per head, then head h minus lambda x head h+{a.heads // 2}, "
         f"RMS-normalised over {2 * a.vdim} (no weights), x (1 - lambda_init); each query sees {span}"
         if a.differential else f"{scores} v per head; each query sees {span}")
        + ("; output * sigmoid(gate)" if a.output_gate else "")
        + (f"; each head's output * {a.head_gate}(g_proj)" if a.head_gate != "none" else "")
        + temperature_note(a)))
    if a.differential:
        out.append(_kept(f"lambda_q1, k1, q2, k2{i}", "attention", "mixer", 4 * a.head_dim,
                         f"4 x head_dim = 4 x {a.head_dim}",
                         "lambda = exp(lq1.lk1) - exp(lq2.lk2) + 0.8 - 0.6 exp(-0.3 l) at layer l"))
    if a.out_norm:
        out.append(_kept(f"attn_sub_norm{i}", "norm", "mixer", a.heads * a.vdim,
                         f"heads x v_head_dim = {a.heads} x {a.vdim}", f"RMSNorm({a.heads * a.vdim}) before o_proj"))
    if a.experts:
        kv_v = a.kv_heads * a.vdim
        out.append(_kept(f"o experts{i}", "projection", "mixer", a.experts * kv_v * d + (d if a.out_bias else 0),
                         f"experts x kv_heads*v_head_dim x d = {a.experts} x {kv_v} x {d}"
                         + (f" + {d} bias" if a.out_bias else ""),
                         f"each chosen expert {a.kv_heads}x{a.vdim} -> {d}, weighted by the router, summed"))
        return out
    out.append(_lin(f"o_proj{i}", "projection", "mixer", a.heads * a.vdim, d, a.out_bias,
                    "heads*v_head_dim", "d", f"{a.heads}x{a.vdim} -> {d}"))
    return out


def _attention_expert_components(a: Attention, d: int, i: str) -> list[Component]:
    """JetMoE's mixture of attention heads: its router and the experts' q projections."""
    kv_q = a.kv_heads * a.head_dim
    return [_kept(f"attention router{i}", "router", "mixer", d * a.experts, f"d x experts = {d} x {a.experts}",
                  f"{d} -> {a.experts} logits, top-{a.top_k} per token (softmax over the chosen)"),
            _kept(f"q experts{i}", "projection", "mixer", a.experts * d * kv_q,
                  f"experts x d x kv_heads*head_dim = {a.experts} x {d} x {kv_q}",
                  f"each chosen expert {d} -> {a.kv_heads}x{a.head_dim}: {a.top_k} x {a.kv_heads} = "
                  f"{a.heads} query heads")]


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-6 * x


def _groups_text(f: MoEFFN) -> str:
    """DeepSeek's group-limited routing, as the router's line says it ("" when not grouped)."""
    if not f.expert_groups:
        return ""
    return (f" within its best {f.groups_per_token} of {f.expert_groups} groups of "
            f"{f.experts // f.expert_groups}")


def _scale_text(scale: float, d: int) -> str:
    """A multiplier, named sqrt(d) where it is (Gemma's embedding normalizer)."""
    return f"sqrt({d}) = {scale:.4g}" if math.isclose(scale, math.sqrt(d), rel_tol=1e-12) else f"{scale:g}"


def rope_stretch_text(s: RopeScaling) -> str:
    """One line on RoPE's stretch for the Positions box."""
    cos_sin = f", cos/sin x{s.attention_factor:.3g}" if s.attention_factor not in (0.0, 1.0) else ""
    return {"linear": f"linear stretch: frequencies / {s.factor:g}",
            "llama3": f"llama3 stretch x{s.factor:g} of long waves ({s.original_context:,} trained)",
            "yarn": f"YaRN stretch x{s.factor:g} ({s.original_context:,} trained){cos_sin}",
            "longrope": f"LongRoPE: long factors past {s.original_context:,} tokens{cos_sin}",
            "dynamic": f"dynamic NTK x{s.factor:g}: base grows past {s.original_context:,} tokens"}[s.kind]


def score_formula(head_dim: int, scale: float, softcap: float = 0.0) -> str:
    """The attention scores as the spec defines them: q k^T / sqrt(head_dim), or times the spec's
    own scale, soft-capped as c tanh(s / c) where a cap is set."""
    if not scale:
        scores = f"q k^T / sqrt({head_dim})"
    elif scale == 1.0:
        scores = "q k^T"                                    # Gemma 3n/4: the QK norms set the scale
    elif _whole(1 / scale):
        scores = f"q k^T / {round(1 / scale)}"              # Granite's 1/128
    elif _whole(scale ** -2):
        scores = f"q k^T / sqrt({round(scale ** -2)})"      # Gemma 2/3's query_pre_attn_scalar
    else:
        scores = f"q k^T * {scale:.4g}"
    return f"{softcap:g} tanh({scores} / {softcap:g})" if softcap else scores


def temperature_note(m) -> str:
    """The queries' temperature by position (Llama 4's NoPE layers, Ministral 3, Mistral 4)."""
    if not m.temperature:
        return ""
    pos = f"(pos + {m.temperature_offset})" if m.temperature_offset else "pos"
    return f"; q * (1 + {m.temperature:g} ln(1 + floor({pos} / {m.temperature_period})))"


def _mla_components(m: MLA, d: int, i: str) -> list[Component]:
    qk = m.qk_head_dim
    out: list[Component] = []
    if m.q_gate:                        # A.X K2
        out.append(_lin(f"q_a_proj{i}", "projection", "mixer", d, m.q_lora_rank, m.bias, "d",
                        "q_lora_rank", f"{d} -> {m.q_lora_rank} (q latent)"))
        out.append(_kept(f"q_a_norm{i}", "norm", "mixer", m.q_lora_rank,
                         f"q_lora_rank = {m.q_lora_rank}", f"RMSNorm({m.q_lora_rank})"))
        out.append(_lin(f"q_gate_proj{i}", "projection", "mixer", 2 * m.q_lora_rank,
                        m.heads * (qk + m.v_head_dim), False, "2*q_lora_rank", "heads*(qk_nope+qk_rope+v_head_dim)",
                        f"[norm(q latent), q latent] {2 * m.q_lora_rank} -> {m.heads}x({m.qk_nope_dim}+"
                        f"{m.qk_rope_dim}) (q) + {m.heads}x{m.v_head_dim} (output gate)"))
    elif m.q_lora_rank:
        out.append(_lin(f"q_a_proj{i}", "projection", "mixer", d, m.q_lora_rank, m.bias, "d",
                        "q_lora_rank", f"{d} -> {m.q_lora_rank} (q latent)"))
        out.append(_kept(f"q_a_norm{i}", "norm", "mixer", m.q_lora_rank,
                         f"q_lora_rank = {m.q_lora_rank}", f"RMSNorm({m.q_lora_rank})"))
        out.append(_lin(f"q_b_proj{i}", "projection", "mixer", m.q_lora_rank, m.heads * qk, False,
                        "q_lora_rank", "heads*(qk_nope+qk_rope)",
                        f"{m.q_lora_rank} -> {m.heads}x({m.qk_nope_dim}+{m.qk_rope_dim}) (q)"))
    else:
        out.append(_lin(f"q_proj{i}", "projection", "mixer", d, m.heads * qk, False, "d",
                        "heads*(qk_nope+qk_rope)",
                        f"{d} -> {m.heads}x({m.qk_nope_dim}+{m.qk_rope_dim}) (q)"))
    out.append(_lin(f"kv_a_proj{i}", "projection", "mixer", d, m.kv_lora_rank + m.qk_rope_dim,
                    m.bias, "d", "kv_lora_rank+qk_rope",
                    f"{d} -> {m.kv_lora_rank} latent + {m.qk_rope_dim} rope key"))
    out.append(_kept(f"kv_a_norm{i}", "norm", "mixer", m.kv_lora_rank,
                     f"kv_lora_rank = {m.kv_lora_rank}", f"RMSNorm({m.kv_lora_rank})"))
    out.append(Component(
        f"latent KV cache{i}", "cache", "mixer",
        f"{m.kv_lora_rank} + {m.qk_rope_dim} = {m.kv_lora_rank + m.qk_rope_dim} per token", 0,
        f"cached per token: kv_lora_rank + qk_rope_dim = {m.kv_lora_rank} + {m.qk_rope_dim} "
        f"(vs {2 * m.heads * qk} for full K and V)"))
    out.append(_lin(f"kv_b_proj{i}", "projection", "mixer", m.kv_lora_rank,
                    m.heads * (m.qk_nope_dim + m.v_head_dim), False, "kv_lora_rank",
                    "heads*(qk_nope+v_head_dim)",
                    f"{m.kv_lora_rank} -> {m.heads}x({m.qk_nope_dim}+{m.v_head_dim}) (k_nope, v)"))
    span = "all earlier tokens" if m.kind == "full" else f"{m.kind} window {m.window}"
    if m.sparse:
        out += _indexer_components(m, d, i)
        span = f"the indexer's top {m.index_topk} of all earlier tokens"
    out.append(Component(
        f"MLA attention{i}", "attention", "mixer",
        f"{m.heads} heads, qk {qk} ({m.qk_nope_dim} nope + {m.qk_rope_dim} rope), v {m.v_head_dim}",
        0, f"softmax({score_formula(qk, m.scale)}) v; keys: {span}; decode absorbs kv_b_proj into q and o"
        + (f"; each head's output * {m.head_gate}(g_proj)" if m.head_gate != "none" else "")
        + ("; output * sigmoid(gate from q_gate_proj)" if m.q_gate else "")
        + temperature_note(m)))
    if m.head_gate != "none":
        out.append(_lin(f"g_proj{i}", "projection", "mixer", d, m.heads, False, "d", "heads",
                        f"{d} -> {m.heads} ({m.head_gate} gate per head)"))
    out.append(_lin(f"o_proj{i}", "projection", "mixer", m.heads * m.v_head_dim, d, m.bias,
                    "heads*v_head_dim", "d", f"{m.heads}x{m.v_head_dim} -> {d}"))
    return out


def _indexer_components(m: MLA, d: int, i: str) -> list[Component]:
    """DeepSeek Sparse Attention's lightning indexer: small heads scoring every earlier token."""
    ih, hd = m.index_heads, m.index_head_dim
    return [
        _lin(f"indexer wq_b{i}", "projection", "mixer", m.q_lora_rank, ih * hd, False, "q_lora_rank",
             "index_heads*index_head_dim", f"{m.q_lora_rank} -> {ih}x{hd} (index queries, from the q latent)"),
        _lin(f"indexer wk{i}", "projection", "mixer", d, hd, False, "d", "index_head_dim",
             f"{d} -> {hd} (one index key per token)"),
        _kept(f"indexer k_norm{i}", "norm", "mixer", 2 * hd, f"LayerNorm weight + bias = 2 x {hd}",
              f"LayerNorm({hd})"),
        _kept(f"indexer weights_proj{i}", "projection", "mixer", d * ih, f"d x index_heads = {d} x {ih} (fp32)",
              f"{d} -> {ih} (per-head weights)"),
        Component(f"index key cache{i}", "cache", "mixer", f"{hd} per token", 0,
                  f"cached per token beside the latent: index_head_dim = {hd}"),
        Component(f"top-k selection{i}", "attention", "mixer", f"top {m.index_topk} keys per query", 0,
                  f"score(t, s) = sum over {ih} heads of w_h ReLU(q_h . k_s); each query keeps its "
                  f"{m.index_topk} best keys (DeepSeek Sparse Attention)"
                  + ("; q and k turn their first qk_rope_dim dims in halves" if m.index_rope_halves else "")),
    ]


def _cross_attention_components(c: CrossAttention, d: int, i: str) -> list[Component]:
    """Llama 3.2 Vision's cross-attention: the text's queries, the image's keys and values."""
    qo, kv = c.heads * c.head_dim, c.kv_heads * c.head_dim
    out = [_lin(f"q_proj{i}", "projection", "mixer", d, qo, False, "d", "heads*head_dim",
                f"{d} -> {c.heads}x{c.head_dim} (q, from the text)"),
           _lin(f"k_proj{i}", "projection", "mixer", d, kv, False, "d", "kv_heads*head_dim",
                f"{d} -> {c.kv_heads}x{c.head_dim} (k, from the image)"),
           _lin(f"v_proj{i}", "projection", "mixer", d, kv, False, "d", "kv_heads*head_dim",
                f"{d} -> {c.kv_heads}x{c.head_dim} (v, from the image)")]
    if c.qk_norm == "head":
        out.append(_kept(f"q_norm, k_norm{i}", "norm", "mixer", 2 * c.head_dim, f"2 x head_dim = 2 x {c.head_dim}",
                         f"RMSNorm({c.head_dim}) per head on q and k"))
    out.append(Component(f"image cache{i}", "cache", "mixer", f"{c.image_tokens} image tokens x {2 * kv} per sequence",
                         0, f"the image's keys and values, projected once: image_tokens x 2 x kv_heads x head_dim "
                            f"= {c.image_tokens} x 2 x {kv}, whatever the context"))
    out.append(Component(f"cross-attention{i}", "attention", "mixer",
                         f"{c.heads} heads x {c.head_dim}, no positions, keys: all {c.image_tokens} image tokens", 0,
                         f"softmax({score_formula(c.head_dim, 0.0)}) v per head over the image's tokens; no "
                         "causal mask" + ("; output * tanh(attn gate)" if c.gated else "")))
    out.append(_lin(f"o_proj{i}", "projection", "mixer", qo, d, False, "heads*head_dim", "d", f"{qo} -> {d}"))
    if c.gated:
        out.append(_kept(f"tanh gates{i}", "gate", "mixer", 2, "attention + FFN = 2",
                         "the attention's and the FFN's outputs each times tanh(a learned scalar)"))
    return out


def _short_conv_components(c: ShortConv, d: int, i: str) -> list[Component]:
    """LFM2's gated short convolution: y = out_proj(C * conv(B * x))."""
    ch = c.channels
    conv = ch * c.kernel + (ch if c.bias else 0)
    return [
        _lin(f"in_proj{i}", "projection", "mixer", d, 3 * ch, c.bias, "d", "3*channels",
             f"{d} -> 3x{ch} (B, C, x)"),
        _kept(f"conv{i}", "recurrence", "mixer", conv,
              f"channels x kernel = {ch} x {c.kernel}" + (f" + {ch} bias" if c.bias else ""),
              f"depthwise causal conv, {c.kernel} taps, over B * x"),
        Component(f"conv state{i}", "cache", "mixer", f"{c.kernel - 1} x {ch} per sequence", 0,
                  f"cached per sequence: the last kernel - 1 = {c.kernel - 1} inputs of {ch} channels"),
        _lin(f"out_proj{i}", "projection", "mixer", ch, d, c.bias, "channels", "d",
             f"{ch} -> {d} (after C * conv)"),
    ]


def _linear_attention_components(la: LinearAttention, d: int, i: str) -> list[Component]:
    kt, vt = la.key_heads * la.key_dim, la.value_heads * la.value_dim
    kh, vh = la.key_heads, la.value_heads
    state = (f"state {vh} x {la.key_dim} x {la.value_dim} per sequence")
    out: list[Component] = []
    if la.variant == "gated_deltanet":
        conv_dim = 2 * kt + vt
        out += [
            _lin(f"in_proj_qkvz{i}", "projection", "mixer", d, 2 * kt + 2 * vt, False, "d",
                 "2*key_heads*key_dim + 2*value_heads*value_dim",
                 f"{d} -> q,k {kh}x{la.key_dim}, v,z {vh}x{la.value_dim}"),
            _lin(f"in_proj_ba{i}", "projection", "mixer", d, 2 * vh, False, "d", "2*value_heads",
                 f"{d} -> beta, alpha ({vh} each)"),
            _kept(f"conv1d{i}", "conv", "mixer", conv_dim * la.conv_kernel,
                  f"(2*{kt} + {vt}) x kernel {la.conv_kernel}",
                  f"depthwise causal, kernel {la.conv_kernel}"),
            _kept(f"dt_bias, A_log{i}", "gate", "mixer", 2 * vh, f"2 x value_heads = 2 x {vh}",
                  "per value head: step bias, decay rate"),
            Component(f"gated delta rule{i}", "recurrence", "mixer", state, 0,
                      "S_t = a_t S_{t-1} (I - b_t k_t k_t^T) + b_t v_t k_t^T;  o_t = S_t q_t"),
            _kept(f"gated norm{i}", "norm", "mixer", la.value_dim, f"value_dim = {la.value_dim}",
                  "RMSNorm(o) * silu(z)"),
        ]
    elif la.variant == "kimi_delta":
        hd = la.key_dim
        out += [
            _lin(f"q_proj{i}", "projection", "mixer", d, kt, False, "d", "key_heads*key_dim",
                 f"{d} -> {kh}x{la.key_dim}"),
            _lin(f"k_proj{i}", "projection", "mixer", d, kt, False, "d", "key_heads*key_dim",
                 f"{d} -> {kh}x{la.key_dim}"),
            _lin(f"v_proj{i}", "projection", "mixer", d, vt, False, "d", "value_heads*value_dim",
                 f"{d} -> {vh}x{la.value_dim}"),
            _kept(f"conv1d{i}", "conv", "mixer", (2 * kt + vt) * la.conv_kernel,
                  f"(2*{kt} + {vt}) x kernel {la.conv_kernel}",
                  f"depthwise causal, kernel {la.conv_kernel}"),
            *([_lin(f"f_proj{i}", "gate", "mixer", d, kt, False, "d", "key_heads*key_dim",
                    f"{d} -> {kt} (channel-wise forget gate)")] if la.full_rank_gates else
              [_lin(f"f_a_proj{i}", "gate", "mixer", d, hd, False, "d", "head_dim", f"{d} -> {hd}"),
               _lin(f"f_b_proj{i}", "gate", "mixer", hd, kt, False, "head_dim", "key_heads*key_dim",
                    f"{hd} -> {kt} (channel-wise forget gate)")]),
            _kept(f"dt_bias, A_log{i}", "gate", "mixer", kt + kh,
                  f"key_heads*key_dim + key_heads = {kt} + {kh}",
                  "step bias per key channel, decay rate per head"
                  + (f"; log a_t = {la.gate_lower_bound:g} sigmoid(e^A_log (f + dt_bias))"
                     if la.gate_lower_bound else "")),
            _lin(f"b_proj{i}", "gate", "mixer", d, vh, False, "d", "value_heads",
                 f"{d} -> {vh} (beta)"),
            Component(f"Kimi delta rule{i}", "recurrence", "mixer", state, 0,
                      "S_t = (I - b_t k_t k_t^T) Diag(a_t) S_{t-1} + b_t k_t v_t^T;  o_t = S_t^T q_t"),
            *([_lin(f"g_proj{i}", "gate", "mixer", d, vt, False, "d", "value_heads*value_dim",
                    f"{d} -> {vt} (output gate)")] if la.full_rank_gates else
              [_lin(f"g_a_proj{i}", "gate", "mixer", d, hd, False, "d", "head_dim", f"{d} -> {hd}"),
               _lin(f"g_b_proj{i}", "gate", "mixer", hd, vt, False, "head_dim",
                    "value_heads*value_dim", f"{hd} -> {vt} (output gate)")]),
            _kept(f"o_norm{i}", "norm", "mixer", la.value_dim, f"value_dim = {la.value_dim}",
                  "RMSNorm per head, x sigmoid(output gate)"),
        ]
    else:
        out += [
            _lin(f"qkv_proj{i}", "projection", "mixer", d, 2 * kt + vt, False, "d",
                 "2*key_heads*key_dim + value_heads*value_dim",
                 f"{d} -> q,k {kh}x{la.key_dim}, v {vh}x{la.value_dim}"),
            _lin(f"output_gate{i}", "gate", "mixer", d, vt, False, "d", "value_heads*value_dim",
                 f"{d} -> {vt}"),
            Component(f"lightning attention{i}", "recurrence", "mixer", state, 0,
                      "S_t = lambda_h S_{t-1} + k_t v_t^T;  o_t = q_t S_t;  lambda_h = exp(-ALiBi slope_h"
                      + (" x (1 - l/(L-1)) at layer l)" if la.decay_by_depth else ")")),
            _kept(f"norm{i}", "norm", "mixer", vt, f"value_heads*value_dim = {vt}",
                  f"RMSNorm over all {vh} heads, then x sigmoid(gate)"),
        ]
    out.append(_lin(f"out_proj{i}", "projection", "mixer", vt, d, False, "value_heads*value_dim",
                    "d", f"{vh}x{la.value_dim} -> {d}"))
    return out


def _dt_clamp_text(s: SSM) -> str:
    if not (s.dt_min or s.dt_max):
        return ""
    return f";  dt = softplus(.) clamped to [{s.dt_min:g}, {f'{s.dt_max:g}' if s.dt_max else 'inf'}]"


def _ssm_components(s: SSM, d: int, i: str) -> list[Component]:
    out: list[Component] = []
    if s.variant == "mamba2":
        gs = s.groups * s.d_state
        conv_dim = s.d_inner + 2 * gs
        out += [
            _lin(f"in_proj{i}", "projection", "mixer", d, 2 * s.d_inner + 2 * gs + s.heads,
                 s.proj_bias, "d", "2*d_inner + 2*groups*d_state + heads",
                 f"{d} -> z,x {s.d_inner}, B,C {s.groups}x{s.d_state}, dt {s.heads}"),
            _kept(f"conv1d{i}", "conv", "mixer",
                  conv_dim * s.conv_kernel + (conv_dim if s.conv_bias else 0),
                  f"{conv_dim} x kernel {s.conv_kernel}" + (f" + {conv_dim} bias" if s.conv_bias else ""),
                  f"depthwise causal over x,B,C, kernel {s.conv_kernel}"),
            _kept(f"dt_bias, A_log, D{i}", "gate", "mixer", 3 * s.heads, f"3 x heads = 3 x {s.heads}",
                  "per head: step bias, decay rate, skip"),
            Component(f"SSD scan{i}", "recurrence", "mixer",
                      f"state {s.heads} heads x {s.head_dim} x {s.d_state}", 0,
                      "h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t;  y_t = C_t h_t + D x_t" + _dt_clamp_text(s)),
        ]
        if s.gated_norm:
            out.append(_kept(f"gated norm{i}", "norm", "mixer", s.d_inner,
                             f"d_inner = {s.d_inner}", "RMSNorm(y * silu(z))"))
    else:
        out += [
            _lin(f"in_proj{i}", "projection", "mixer", d, 2 * s.d_inner, s.proj_bias, "d",
                 "2*d_inner", f"{d} -> x,z {s.d_inner}"),
            _kept(f"conv1d{i}", "conv", "mixer",
                  s.d_inner * s.conv_kernel + (s.d_inner if s.conv_bias else 0),
                  f"{s.d_inner} x kernel {s.conv_kernel}" + (f" + {s.d_inner} bias" if s.conv_bias else ""),
                  f"depthwise causal, kernel {s.conv_kernel}"),
            _lin(f"x_proj{i}", "projection", "mixer", s.d_inner, s.dt_rank + 2 * s.d_state, False,
                 "d_inner", "dt_rank + 2*d_state",
                 f"{s.d_inner} -> dt {s.dt_rank}, B,C {s.d_state}"),
            _lin(f"dt_proj{i}", "projection", "mixer", s.dt_rank, s.d_inner, True, "dt_rank",
                 "d_inner", f"{s.dt_rank} -> {s.d_inner}"),
            _kept(f"A_log, D{i}", "gate", "mixer", s.d_inner * s.d_state + s.d_inner,
                  f"d_inner x d_state + d_inner = {s.d_inner} x {s.d_state} + {s.d_inner}",
                  "decay rates per channel and state, skip per channel"),
        ]
        if s.inner_norms and s.inner_norms_affine:
            out.append(_kept(f"dt/B/C norms{i}", "norm", "mixer", s.dt_rank + 2 * s.d_state,
                             f"dt_rank + 2*d_state = {s.dt_rank} + 2 x {s.d_state}"))
        elif s.inner_norms:
            out.append(Component(f"dt/B/C norms{i}", "norm", "mixer", "RMSNorm without weights", 0,
                                 "dt, B and C each divided by its root mean square (no weights)"))
        out.append(Component(f"selective scan{i}", "recurrence", "mixer",
                             f"state {s.d_inner} x {s.d_state}", 0,
                             "h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t;  y_t = C_t h_t + D x_t; "
                             "y * silu(z)"))
    out.append(_lin(f"out_proj{i}", "projection", "mixer", s.d_inner, d, s.proj_bias, "d_inner",
                    "d", f"{s.d_inner} -> {d}"))
    return out


def _mixer_components(m, d: int, i: str, position: str = "rope") -> list[Component]:
    if isinstance(m, Attention):
        return _attention_components(m, d, i, position)
    if isinstance(m, MLA):
        return _mla_components(m, d, i)
    if isinstance(m, LinearAttention):
        return _linear_attention_components(m, d, i)
    if isinstance(m, ShortConv):
        return _short_conv_components(m, d, i)
    if isinstance(m, CrossAttention):
        return _cross_attention_components(m, d, i)
    return _ssm_components(m, d, i)


def _act_name(activation: str, gated: bool) -> str:
    base = {"silu": "SiLU", "gelu": "GELU", "gelu_tanh": "GELU(tanh)", "relu": "ReLU",
            "relu2": "ReLU^2", "swiglu_oai": "SwiGLU (clamped)", "xielu": "xIELU"}.get(activation, activation)
    if gated:
        return {"SiLU": "SwiGLU", "GELU": "GeGLU", "GELU(tanh)": "GeGLU(tanh)"}.get(base, f"gated {base}")
    return base


def _ffn_components(f, d: int, i: str) -> list[Component]:
    if isinstance(f, DenseFFN):
        act = _act_name(f.activation, f.gated)
        out = []
        if f.gated:
            out.append(_lin(f"gate_proj{i}", "projection", "ffn", d, f.d_ff, f.bias, "d", "d_ff",
                            f"{d} -> {f.d_ff}"))
        out.append(_lin(f"up_proj{i}", "projection", "ffn", d, f.d_ff, f.bias, "d", "d_ff",
                        f"{d} -> {f.d_ff} ({act})"))
        out.append(_lin(f"down_proj{i}", "projection", "ffn", f.d_ff, d, f.bias, "d_ff", "d",
                        f"{f.d_ff} -> {d}"))
        if f.activation == "xielu":
            out.append(_kept(f"xIELU{i}", "ffn", "ffn", XIELU_PARAMS,
                             "alpha_p, alpha_n (learned) + beta, eps (stored)", "learned activation"))
        if f.inner_norm:
            out.insert(len(out) - 1, _kept(f"ffn_sub_norm{i}", "norm", "ffn", f.d_ff, f"d_ff = {f.d_ff}",
                                           f"RMSNorm({f.d_ff}) before down_proj"))
        if f.activation_sparsity:
            out.insert(1, _kept(f"gaussian top-k{i}", "gate", "ffn", 0,
                                f"gate = relu(gate - mean - z std), z = Phi^-1({f.activation_sparsity:g})",
                                f"keeps the top {1 - f.activation_sparsity:.0%} of gate activations"))
        return out
    parts = ffn_params(f, d)
    n_router = f.experts + f.zero_experts
    out = [_lin(f"router{i}", "router", "ffn", d, n_router, f.router_bias, "d",
                "experts" + (" + zero experts" if f.zero_experts else ""),
                f"{d} -> {n_router} logits, top-{f.top_k}{_groups_text(f)}")]
    if f.router_score_bias:
        out.append(_kept(f"score-correction bias{i}", "router", "ffn", n_router,
                         f"experts = {n_router}", "aux-loss-free balancing"))
    if f.shared_gate and f.shared_experts:
        out.append(_kept(f"shared_expert_gate{i}", "router", "ffn", d, f"d x 1 = {d}",
                         f"{d} -> 1 (sigmoid)"))
    if f.out_bias:
        out.append(_kept(f"output bias{i}", "router", "ffn", d, f"d = {d}", "added after the experts' weighted sum"))
    ups = 3 if f.gated else 2
    per_expert = mlp_params(d, f.d_expert, f.gated, f.expert_bias).total
    out.append(Component(
        f"routed experts{i}", "experts", "ffn",
        f"{f.experts} x ({d} -> {f.d_expert} -> {d}), top-{f.top_k} per token",
        parts["experts"].total,
        f"experts x {ups} x d x d_expert = {f.experts} x {ups} x {d} x {f.d_expert}"
        + (" + biases" if f.expert_bias else "")
        + f" = {human_count(parts['experts'].total)} ({human_count(per_expert)} each)"))
    if f.shared_experts:
        out.append(Component(
            f"shared experts{i}", "shared_experts", "ffn",
            f"{f.shared_experts} x ({d} -> {f.shared_dff} -> {d}), always on",
            parts["shared_experts"].total,
            f"shared x {ups} x d x d_shared = {f.shared_experts} x {ups} x {d} x {f.shared_dff} "
            f"= {human_count(parts['shared_experts'].total)}"))
    if f.zero_experts:
        out.append(Component(f"zero experts{i}", "experts", "ffn",
                             f"{f.zero_experts} identity experts", 0,
                             "zero-computation experts: the token passes through unchanged"))
    return out


# the muP multipliers a part may carry (Falcon-H1), as the diagram names them
_MULTIPLIERS = {Attention: (("in_scale", "attention input"), ("key_scale", "keys"), ("out_scale", "attention output")),
                SSM: (("in_scale", "SSM input"), ("out_scale", "SSM output")),
                DenseFFN: (("gate_scale", "MLP gate"), ("out_scale", "MLP output"))}


def mup_multipliers_text(layer: Layer) -> str:
    """The layer's muP multipliers other than 1, e.g. "keys x 0.22, SSM z/x/B/C/dt rows x
    (0.5, 1.5, 0.8, 1.2, 2)"; empty where there are none."""
    bits = []
    for part in (*layer.mixers, *layer.ffns):
        for name, label in _MULTIPLIERS.get(type(part), ()):
            value = getattr(part, name)
            if value != 1.0:
                bits.append(f"{label} x {value:.4g}")
        if isinstance(part, SSM) and part.proj_scales:
            bits.append("SSM z/x/B/C/dt rows x (" + ", ".join(f"{v:.4g}" for v in part.proj_scales) + ")")
    return "; ".join(bits)


def _block_components(spec: ModelSpec, layer: Layer) -> tuple[list[Component], str]:
    d = spec.hidden_size
    np_ = norm_params(spec)
    place = spec.placement_of(layer)
    norm_kind = NORM_NAMES[spec.norm]
    subs = [("mixer", m) for m in layer.mixers] + [("ffn", f) for f in layer.ffns]
    explicit = layer.norms is not None and layer.norms != _derived_norms(place, len(subs))
    bias = " + bias" if spec.norm_bias else ""
    residual = "" if spec.residual_scale == 1.0 else f"{spec.residual_scale:g} * "   # Granite

    def norm(name: str) -> Component:
        return _kept(name, "norm", "norm", np_, f"d{' x 2' if spec.norm_bias else ''} = "
                     f"{d}{bias}", f"{norm_kind}({d})")

    def subparts(kind: str, part, idx: int, n_same: int) -> list[Component]:
        suffix = f" [{idx + 1}]" if n_same > 1 else ""
        return _mixer_components(part, d, suffix, spec.position) if kind == "mixer" else \
            _ffn_components(part, d, suffix)

    n_mix, n_ffn = len(layer.mixers), len(layer.ffns)
    comps: list[Component] = []
    if explicit:
        n = spec.norms_in(layer)
        comps.append(_kept("norms", "norm", "norm", n * np_, f"{n} x d = {n} x {d}",
                           f"{n} x {norm_kind}({d})"))
    counters = {"mixer": 0, "ffn": 0}
    n_streams = spec.altup_streams
    if n_streams:
        comps.append(_kept("altup predict", "router", "residual", d * n_streams + n_streams ** 3 + np_,
                           f"modality_router d x N + router_norm d + prediction_coefs N x N^2 = {d} x "
                           f"{n_streams} + {d} + {n_streams ** 3}",
                           f"{n_streams} streams x {d}: each predicted from all; the layer runs on stream 0"))
    if place == "parallel" and not explicit:
        comps.append(norm("input_norm"))
    for kind, part in subs:
        idx = counters[kind]
        counters[kind] += 1
        n_same = n_mix if kind == "mixer" else n_ffn
        tag = ("attn" if kind == "mixer" else "ffn") + (f"{idx + 1}" if n_same > 1 else "")
        if not explicit and place in ("pre", "sandwich"):
            comps.append(norm(f"pre_{tag}_norm"))
        rank = layer.norm_gate(counters["mixer"] + counters["ffn"] - 1)
        if rank:                        # A.X K2's gated RMSNorm
            comps.append(_kept(f"pre_{tag}_norm gate", "projection", "norm", 2 * d * rank,
                               f"fc1 d x rank + fc2 rank x d = 2 x {d} x {rank}",
                               f"{d} -> {rank} -> {d}: y = norm(x) times sigmoid(fc2(silu(fc1(y))))"))
        comps.extend(subparts(kind, part, idx, n_same))
        if not explicit and place == "sandwich":
            comps.append(norm(f"post_{tag}_norm"))
        if spec.laurel_rank and counters["mixer"] + counters["ffn"] == 1:
            r = spec.laurel_rank
            comps.append(_kept("laurel", "projection", "mixer", laurel_params(spec).total,
                               f"linear_left d x r + linear_right r x d + post_laurel_norm d = "
                               f"2 x {d} x {r} + {d}", f"rank {r} beside the sublayer: h + norm(R(L(h)))"))
            comps.append(Component("+ residual", "residual", "residual", f"[B, S, {d}]", 0,
                                   "x = (x + sublayer(h) + laurel(h)) / sqrt(2), h = norm(x)"))
        elif place != "parallel":
            comps.append(Component("+ residual", "residual", "residual", f"[B, S, {d}]", 0,
                                   f"x = x + {residual}sublayer(x)"))
        if not explicit and place == "post":
            comps.append(norm(f"post_{tag}_norm"))
    if place == "parallel":
        comps.append(Component("+ residual", "residual", "residual", f"[B, S, {d}]", 0,
                               f"x = x + {residual}(mixer(norm(x)) + ffn(norm(x)))"))
    if n_streams:
        comps.append(_kept("altup correct", "router", "residual", n_streams * n_streams + d,
                           f"correction_coefs N x N + correct_output_scale d = {n_streams} x {n_streams} + {d}",
                           "every stream moved by a learned share of the layer's change to stream 0"))
    if spec.per_layer_input:
        p = spec.per_layer_input
        comps += [_lin("per_layer_input_gate", "projection", "ffn", d, p, False, "d", "per_layer_input",
                       f"{d} -> {p}, times this layer's {p} per-layer input"),
                  _lin("per_layer_projection", "projection", "ffn", p, d, False, "per_layer_input", "d",
                       f"{p} -> {d}"),
                  norm("post_per_layer_input_norm"),
                  Component("+ residual", "residual", "residual", f"[B, S, {d}]", 0,
                            "streams 1 .. N-1 += norm(proj(act(gate(scale * stream 0)) * per_layer_input))"
                            if n_streams else "x = x + norm(proj(act(gate(x)) * per_layer_input))")]
    if spec.layer_scalar:
        comps.append(_kept("layer_scalar", "norm", "norm", 1, "1", "output x a stored scalar"))
    text = {
        "pre": f"pre-norm: {norm_kind} before each sublayer, residual around it",
        "post": f"post-norm: {norm_kind} after each residual add",
        "sandwich": f"sandwich: {norm_kind} before and after each sublayer (Gemma 2/3)",
        "parallel": f"parallel: one {norm_kind}, mixer and FFN side by side",
    }[place]
    if explicit:
        text += f"; {spec.norms_in(layer)} norm vectors in this block"
    gated = [(tag, layer.norm_gate(j)) for j, tag in enumerate(["mixer"] * n_mix + ["FFN"] * n_ffn)
             if layer.norm_gate(j)]
    if gated:              # A.X K2
        text += f"; the {' and '.join(t for t, _ in gated)}'s input norm gated by a rank-{gated[0][1]} MLP"
    return comps, text


def _derived_norms(place: str, subs: int) -> int:
    if place == "sandwich":
        return 2 * subs
    if place == "parallel":
        return 1
    return subs


def _block_detail(spec: ModelSpec, name: str, layer: Layer, layers: tuple[int, ...],
                  sizes: _Sizes) -> BlockDetail:
    d = spec.hidden_size
    parts, active = layer_params(spec, layer)
    params = sum(c.total for c in parts.values())
    total_count = Count()
    for c in parts.values():
        total_count = total_count + c
    comps, norm_text = _block_components(spec, layer)
    mixer, ffn = mixer_category(layer.mixer), layer_ffn_category(layer)

    qk_norm, qk_bias = "none", False
    grouping: HeadGrouping | None = None
    latent_text = window_text = router_text = experts_text = shared_text = ""
    recurrence_text = ""
    latent = None
    window = 0
    experts = None
    for mx in layer.mixers:
        if isinstance(mx, Attention):
            qk_norm, qk_bias = mx.qk_norm, mx.qk_norm_bias
            grouping = grouping or _head_grouping(mx)
            if mx.kind != "full":
                window = window or mx.window
                window_text = window_text or (
                    f"sliding window: each query attends to the last {mx.window} tokens"
                    if mx.kind == "sliding" else
                    f"chunked: each query attends within its {mx.window}-token chunk")
        elif isinstance(mx, MLA):
            latent = latent or (mx.kv_lora_rank, mx.qk_rope_dim)
            grouping = grouping or HeadGrouping(
                "MLA", mx.heads, 1, mx.heads,
                f"MLA: {mx.heads} heads decompress K and V from one shared {mx.kv_lora_rank}-d "
                f"latent (+ a shared {mx.qk_rope_dim}-d RoPE key)")
            latent_text = latent_text or (
                f"latent cache: kv_lora_rank {mx.kv_lora_rank} + qk_rope_dim {mx.qk_rope_dim} = "
                f"{mx.kv_lora_rank + mx.qk_rope_dim} elements per token (full K and V would be "
                f"{mx.heads * (mx.qk_head_dim + mx.v_head_dim)})"
                + (f"; q latent {mx.q_lora_rank}" if mx.q_lora_rank else "")
                + (f"; DSA index keys {mx.index_head_dim} more per token, each query reads its "
                   f"top {mx.index_topk} tokens" if mx.sparse else ""))
            if mx.kind != "full":
                window = window or mx.window
                window_text = window_text or f"{mx.kind} window {mx.window} tokens"
        elif isinstance(mx, LinearAttention):
            grouping = grouping or HeadGrouping(
                "linear", mx.value_heads, mx.key_heads, mx.value_heads // mx.key_heads,
                f"linear attention: {mx.value_heads} value heads share {mx.key_heads} q/k heads, "
                f"{mx.value_heads // mx.key_heads} per group")
            variant = {"gated_deltanet": "Gated DeltaNet", "kimi_delta": "Kimi Delta Attention",
                       "lightning": "Lightning Attention"}[mx.variant]
            recurrence_text = recurrence_text or (
                f"{variant}: constant state of {mx.value_heads} heads x {mx.key_dim} x "
                f"{mx.value_dim} per sequence, updated by the delta rule each token"
                if mx.variant != "lightning" else
                f"{variant}: constant state of {mx.value_heads} heads x {mx.key_dim} x "
                f"{mx.value_dim} per sequence" + (", decaying less with depth (none in the last layer)"
                                                  if mx.decay_by_depth else ""))
        elif isinstance(mx, CrossAttention):
            grouping = grouping or HeadGrouping(
                "cross", mx.heads, mx.kv_heads, mx.heads // mx.kv_heads,
                f"cross-attention: {mx.heads} text query heads share {mx.kv_heads} KV heads over the "
                f"image's {mx.image_tokens} tokens, {mx.heads // mx.kv_heads} per group")
            qk_norm = mx.qk_norm
        elif isinstance(mx, ShortConv):
            recurrence_text = recurrence_text or (
                f"gated short convolution: {mx.kernel} taps over {mx.channels} channels; the state is "
                f"the last {mx.kernel - 1} inputs, no attention")
        elif isinstance(mx, SSM):
            if mx.variant == "mamba2":
                recurrence_text = recurrence_text or (
                    f"Mamba-2 SSD: {mx.heads} heads x {mx.head_dim} channels x d_state "
                    f"{mx.d_state}, {plural(mx.groups, 'B/C group')}, scalar decay per head")
            else:
                recurrence_text = recurrence_text or (
                    f"Mamba-1 selective scan: d_inner {mx.d_inner} x d_state {mx.d_state}, "
                    f"dt rank {mx.dt_rank}")
    for fx in layer.ffns:
        if isinstance(fx, MoEFFN) and experts is None:
            experts = ExpertsView(fx.experts, fx.top_k, fx.shared_experts, fx.zero_experts)
            router_text = (f"router: {d} -> {fx.experts + fx.zero_experts} logits, "
                           f"top-{fx.top_k} per token{_groups_text(fx)}"
                           + (", score-correction bias" if fx.router_score_bias else "")
                           + (", router bias" if fx.router_bias else ""))
            experts_text = (f"{fx.experts} routed experts of d_ff {fx.d_expert}, {fx.top_k} active "
                            f"per token ({_act_name(fx.activation, fx.gated)})"
                            + (f"; {fx.zero_experts} zero-computation experts"
                               if fx.zero_experts else ""))
            shared_text = (f"{plural(fx.shared_experts, 'shared expert')} of d_ff {fx.shared_dff}, always on"
                           + (", sigmoid-gated" if fx.shared_gate else "")
                           if fx.shared_experts else "no shared experts")

    kv_per_token = sum(kv_elements_per_token(mx) for mx in layer.mixers) * sizes.kv
    caps = [mx.window for mx in layer.mixers
            if isinstance(mx, (Attention, MLA)) and mx.kind != "full"]
    cap = max(caps) if caps and len(caps) == sum(isinstance(mx, (Attention, MLA))
                                                 for mx in layer.mixers) else 0
    state = sum(state_elements(mx) for mx in layer.mixers) * sizes.kv
    image_kv = sum(image_kv_elements(mx) for mx in layer.mixers) * sizes.kv
    ctx = sizes.context
    at_ctx = layer_cache_bytes(layer, ctx, sizes.kv)
    cache_bits = []
    if kv_per_token:
        cache_bits.append(f"KV {human_bytes(kv_per_token)}/token"
                          + (f", capped at {cap} tokens" if cap else ""))
    if state:
        cache_bits.append(f"state {human_bytes(state)}/sequence")
    if image_kv:
        cache_bits.append(f"image KV {human_bytes(image_kv)}/sequence")
    cache_text = "; ".join(cache_bits) or "no cache"
    if cache_bits:
        cache_text += f" ({human_bytes(at_ctx)} at {ctx} tokens)"

    mixer_bits = []
    for mx in layer.mixers:
        if isinstance(mx, Attention):
            g = _head_grouping(mx)
            mixer_bits.append(("differential " if mx.differential else "")
                              + (f"mixture of {mx.experts} attention experts (top-{mx.top_k}), "
                                 if mx.experts else "")
                              + f"{CATEGORY_LABELS[mx.kind]} {g.kind} {mx.heads}/{mx.kv_heads}"
                              + (f" w{mx.window}" if mx.kind != "full" else "")
                              + (" on a shared cache" if mx.kv_shared else ""))
        elif isinstance(mx, MLA):
            mixer_bits.append(f"MLA {mx.heads}h latent {mx.kv_lora_rank}"
                              + (f" DSA top-{mx.index_topk}" if mx.sparse else ""))
        elif isinstance(mx, LinearAttention):
            mixer_bits.append({"gated_deltanet": "Gated DeltaNet", "kimi_delta": "KDA",
                               "lightning": "Lightning"}[mx.variant])
        elif isinstance(mx, ShortConv):
            mixer_bits.append(f"short conv k{mx.kernel}")
        elif isinstance(mx, CrossAttention):
            mixer_bits.append(f"cross-attention {mx.heads}/{mx.kv_heads} to {mx.image_tokens} image tokens"
                              + (", tanh-gated" if mx.gated else ""))
        else:
            mixer_bits.append("Mamba-2" if mx.variant == "mamba2" else "Mamba-1")
    ffn_bits = []
    for fx in layer.ffns:
        if isinstance(fx, MoEFFN):
            ffn_bits.append(f"MoE {fx.experts}e top-{fx.top_k}"
                            + (f" +{fx.shared_experts}s" if fx.shared_experts else ""))
        else:
            ffn_bits.append(f"dense {fx.d_ff}" + (f", gate top {1 - fx.activation_sparsity:.0%}"
                                                   if fx.activation_sparsity else ""))
    title = " + ".join(mixer_bits + ffn_bits)
    weight_bytes = sizes.weights(total_count, parts.get("experts"))
    edge = f"[B, S, {spec.altup_streams}, {d}]" if spec.altup_streams else f"[B, S, {d}]"

    props: list[tuple[str, str]] = [
        ("Block", name),
        ("Layers", _layers_text(layers)),
        ("Mixer", " + ".join(mixer_bits) or "none"),
        ("FFN", " + ".join(ffn_bits) or "none"),
        ("Parameters / layer", f"{human_count(params)} ({params:,})"),
        ("Active / layer", f"{human_count(active)} ({active:,})"),
        ("Parameters, all layers", human_count(params * len(layers))),
        ("Weights / layer", f"{human_bytes(weight_bytes)} ({sizes.note})"),
        ("Cache / layer", cache_text),
        ("Norms", norm_text),
    ]
    if qk_norm != "none":
        # the weighted QK norms take the model's form (LayerNorms in StableLM, Cohere, Persimmon)
        form = "LayerNorm" if spec.norm.startswith("layernorm") else "RMSNorm"
        props.append(("QK-norm", {"head": f"{form} per head over head_dim",
                                  "per_head": f"{form} per head over head_dim, each head its own weights",
                                  "full": f"{form} over all heads",
                                  "l2": "RMS norm per head after RoPE, no weights"}
                      [qk_norm] + (", with biases" if qk_bias else "")))
    for key, value in (("Head grouping", grouping.text if grouping else ""),
                       ("Latent cache", latent_text), ("Window", window_text),
                       ("Router", router_text), ("Experts", experts_text),
                       ("Shared experts", shared_text if experts else ""),
                       ("Recurrence", recurrence_text), ("muP multipliers", mup_multipliers_text(layer))):
        if value:
            props.append((key, value))
    for comp, c in parts.items():
        if c.total:
            props.append((f"{PART_LABELS.get(comp, comp.replace('_', ' '))} params",
                          f"{human_count(c.total)} ({c.total:,})"))
    props.append(("Tensor in / out", f"{edge} -> {edge}"))

    return BlockDetail(
        name=name, title=title, layers=layers, mixer=mixer, ffn=ffn, components=comps,
        norm_placement=spec.placement_of(layer), norm_text=norm_text, qk_norm=qk_norm,
        head_grouping=grouping, grouping_text=grouping.text if grouping else "",
        latent_dims=latent, latent_text=latent_text, window=window, window_text=window_text,
        experts=experts, router_text=router_text, experts_text=experts_text,
        shared_text=shared_text, recurrence_text=recurrence_text, params=params,
        params_active=active, params_by_component={k: c.total for k, c in parts.items() if c.total},
        weight_bytes=weight_bytes, cache_bytes_per_token=kv_per_token, cache_cap_tokens=cap,
        state_bytes=state, cache_bytes_at_context=at_ctx, context=ctx, cache_text=cache_text,
        in_shape=edge, out_shape=edge, properties=props)


def _layers_text(layers: tuple[int, ...]) -> str:
    if not layers:
        return ""
    spans = []
    start = prev = layers[0]
    for i in layers[1:]:
        if i == prev + 1:
            prev = i
            continue
        spans.append((start, prev))
        start = prev = i
    spans.append((start, prev))
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:8])
    if len(spans) > 8:
        text += ", ..."
    return f"{len(layers)} layer{'s' if len(layers) != 1 else ''}: {text}"


def layer_runs(layout: tuple[str, ...]) -> list[Run]:
    """Maximal runs of consecutive layers with the same block."""
    runs: list[Run] = []
    for i, name in enumerate(layout):
        if runs and runs[-1].block == name:
            last = runs[-1]
            runs[-1] = Run(name, last.first, last.count + 1)
        else:
            runs.append(Run(name, i, 1))
    return runs


def fold_runs(runs: list[Run]) -> list[tuple[tuple[Run, ...], int]]:
    """Group runs into (period, repeats): at each position the period (up to MAX_PERIOD_RUNS runs)
    whose repetition covers the most layers; a lone run is (run,), 1."""
    sig = [(r.block, r.count) for r in runs]
    out: list[tuple[tuple[Run, ...], int]] = []
    i, n = 0, len(runs)
    while i < n:
        best_p, best_r, best_cover = 1, 1, 0
        for p in range(2, min(MAX_PERIOD_RUNS, (n - i) // 2) + 1):
            r = 1
            while i + (r + 1) * p <= n and sig[i + r * p:i + (r + 1) * p] == sig[i:i + p]:
                r += 1
            if r >= 2:
                cover = sum(c for _, c in sig[i:i + p]) * r
                if cover > best_cover:
                    best_p, best_r, best_cover = p, r, cover
        if best_r >= 2:
            out.append((tuple(runs[i:i + best_p]), best_r))
            i += best_p * best_r
        else:
            out.append(((runs[i],), 1))
            i += 1
    return out


# --------------------------------------------------------------------------- the model

def diagram_model(spec: ModelSpec, report: CostReport | None = None, *,
                  weight_bytes_per_param: float = 2.0, unfold: bool = False) -> DiagramModel:
    """Everything the architecture diagram draws. With a ``report`` its workload's weight, KV and
    embedding formats and its context size the bytes; otherwise ``weight_bytes_per_param`` for
    all weights, 2-byte KV and the model's context length."""
    sizes = _Sizes(spec, report, weight_bytes_per_param)
    pr = report.params if report is not None else count_params(spec)
    d, v = spec.hidden_size, spec.vocab_size
    edge = f"[B, S, {d}]"
    # the stream between layers: N copies of it with AltUp
    stream = f"[B, S, {spec.altup_streams}, {d}]" if spec.altup_streams else edge

    # per-layer strip and the blocks in order of first use
    where: dict[str, list[int]] = {}
    strip: list[StripEntry] = []
    for i, name in enumerate(spec.layout):
        layer = spec.blocks[name]
        where.setdefault(name, []).append(i)
        strip.append(StripEntry(i, f"L{i}", name, mixer_category(layer.mixer),
                                layer_ffn_category(layer),
                                tuple(mixer_category(m) for m in layer.mixers)))
    blocks = {name: _block_detail(spec, name, spec.blocks[name], tuple(idx), sizes)
              for name, idx in where.items()}

    # head and tail of the overview
    head_items: list[OverviewItem] = []
    if spec.vision is not None:
        vp = spec.vision.params
        lines = (f"{human_count(vp)} params (not active per text token)",)
        if spec.vision.flops_per_image:        # the encoder's forward is costed (Llama 3.2 Vision)
            lines += (f"{fmt_flops(spec.vision.flops_per_image)} per image, in the prefill",)
        head_items.append(OverviewItem("vision", spec.vision.name, lines, vp, vp * sizes.keep,
                                       out_shape="[B, image tokens, d]"))
    emb = pr.by_component["embeddings"].total
    emb_lines = [f"{v} x {d}"]
    if spec.position == "learned":
        emb_lines.append(f"+ positions {spec.learned_positions} x {d}")
    if spec.embedding_scale != 1.0:
        emb_lines.append(f"times {_scale_text(spec.embedding_scale, d)}")
    if spec.embedding_norm:
        emb_lines.append(f"then {NORM_NAMES[spec.norm]} ({d})")
    emb_lines.append(f"{human_count(emb)} params, {human_bytes(emb * sizes.keep)}")
    head_items.append(OverviewItem(
        "embedding", "Token embedding", tuple(emb_lines), emb, emb * sizes.keep,
        in_shape="[B, S] token ids", out_shape=edge,
        tooltip=f"embeddings: vocab x d = {v} x {d} = {human_count(v * d)}"))
    if spec.per_layer_input:
        table, proj = per_layer_table_params(spec)
        lp, pv = spec.num_layers * spec.per_layer_input, spec.per_layer_vocab or v
        ple_bytes = (table + proj.kept) * sizes.keep + proj.matrix * sizes.w
        head_items.append(OverviewItem(
            "per_layer_input", "Per-layer inputs",
            (f"table {pv} x {spec.num_layers} layers x {spec.per_layer_input}",
             f"+ projection {d} -> {lp}", f"{human_count(table + proj.total)} params, {human_bytes(ple_bytes)}"),
            table + proj.total, ple_bytes, in_shape="[B, S] token ids",
            out_shape=f"[B, S, {spec.num_layers}, {spec.per_layer_input}]",
            tooltip=(f"per-layer input embeddings: a {pv} x {lp} table read a row per token, plus "
                     f"the embedding projected {d} -> {lp}; each layer adds its {spec.per_layer_input} "
                     f"channels through a gated projection")))
    if spec.altup_streams:
        n_s, half = spec.altup_streams, altup_stream_params(spec).total // 2
        head_items.append(OverviewItem(
            "altup", "AltUp streams", (f"{n_s} streams of {d}: the embedding",
                                       f"+ {n_s - 1} projections {d} -> {d}",
                                       f"{human_count(half)} params, {human_bytes(half * sizes.w)}"),
            half, half * sizes.w, out_shape=stream,
            tooltip=(f"AltUp: the residual stream is {n_s} copies of the hidden state; each layer runs on "
                     f"one, predicts all {n_s} first and corrects them by its output")))
    attn = [m for layer in spec.layers for m in layer.mixers if isinstance(m, (Attention, MLA))]
    nope_layers = sum(1 for layer in spec.layers      # without RoPE in a RoPE model
                      if any(isinstance(m, (Attention, MLA)) and not m.rope for m in layer.mixers)
                      ) if spec.position == "rope" else 0
    attn_layers = sum(1 for layer in spec.layers
                      if any(isinstance(m, (Attention, MLA)) for m in layer.mixers))
    if spec.position == "rope":
        pos = ("RoPE, interleaved pairs," if spec.rope_interleaved else "RoPE") + (
            f" on {spec.rope_fraction:.0%} of head dims" if spec.rope_fraction < 1 else " in attention") + (
            ", each pair turned by -angle" if spec.rope_reversed else "")
    else:
        pos = {"learned": f"learned absolute positions ({spec.learned_positions})",
               "alibi": "ALiBi attention bias", "none": "no positional encoding",
               "sinusoidal": "sinusoidal absolute positions (computed, no weights)"}[spec.position]
    pos_lines = [pos]
    if spec.position == "rope" and attn:
        local = sorted({m.rope_theta for m in attn if isinstance(m, Attention) and m.rope_theta})
        pos_lines.append(f"base {spec.rope_theta:,.0f}"
                         + "".join(f"; {theta:,.0f} in local layers" for theta in local))
        if spec.rope_scaling is not None:
            pos_lines.append(rope_stretch_text(spec.rope_scaling) + (" in global layers" if local else ""))
    if nope_layers:
        pos_lines.append(f"NoPE in {nope_layers} of {attn_layers} attention layers")
    if not attn:
        pos_lines.append("no attention layers: order from the recurrence")
    pos_lines.append(f"context {spec.context_length:,} tokens" if spec.context_stated else
                     f"no stated context (costed up to {spec.context_length:,} tokens)")
    head_items.append(OverviewItem("position", "Positions", tuple(pos_lines), out_shape=stream))

    tail: list[OverviewItem] = []
    if spec.altup_streams:
        n_s, half = spec.altup_streams, altup_stream_params(spec).total // 2
        tail.append(OverviewItem(
            "altup", "AltUp merge", (f"{n_s - 1} projections {d} -> {d}, then the mean of {n_s}",
                                     f"{human_count(half)} params, {human_bytes(half * sizes.w)}"),
            half, half * sizes.w, in_shape=stream, out_shape=edge))
    if spec.final_norm:
        fnp = norm_params(spec)
        tail.append(OverviewItem("final_norm", "Final norm",
                                 (f"{NORM_NAMES[spec.norm]} ({d})",), fnp, fnp * sizes.keep, out_shape=edge))
    head = pr.by_component["lm_head"].total
    if spec.tie_embeddings:
        head_lines = (f"{d} -> {v}", "tied to the embedding (shared weights)")
    else:
        head_lines = (f"{d} -> {v}", f"{human_count(head)} params, {human_bytes(head * sizes.keep)}")
    if spec.logit_scale != 1.0:
        ls = spec.logit_scale
        head_lines += (f"logits / {1 / ls:g}" if ls < 1 and _whole(1 / ls) else f"logits times {ls:g}",)
    if spec.logit_softcap:
        head_lines += (f"logits soft-capped: {spec.logit_softcap:g} tanh(z / {spec.logit_softcap:g})",)
    tail.append(OverviewItem("lm_head", "LM head", head_lines, head, head * sizes.keep,
                             in_shape=edge, out_shape=f"[B, S, {v}] logits",
                             tooltip=("tied: reuses the embedding matrix" if spec.tie_embeddings
                                      else f"lm_head: d x vocab = {d} x {v} = {human_count(d * v)}")))
    if spec.mtp_depth:
        tail.append(OverviewItem("mtp", f"MTP x{spec.mtp_depth}",
                                 (f"{human_count(pr.mtp)} params, beside the total",),
                                 pr.mtp, pr.mtp * sizes.w, out_shape=""))

    box_lines: dict[tuple[str, int], tuple[str, str]] = {}   # the unfolded stack repeats them

    def layer_box(run: Run, kind: str) -> OverviewItem:
        b = blocks[run.block]
        lines = box_lines.get((run.block, run.count))
        if lines is None:
            lines = box_lines[run.block, run.count] = (b.title, f"{human_count(b.params)}/layer" + (
                f" x {run.count} = {human_count(b.params * run.count)}" if run.count > 1 else "")
                + f", {human_bytes(b.weight_bytes * run.count)}")
        if kind == "layer":
            title = f"L{run.first}  {run.block}"
        elif run.count > 1:
            title = f"{run.block}  x{run.count}"
        else:
            title = f"{run.block}"
        return OverviewItem(kind, title, lines, b.params * run.count, b.weight_bytes * run.count,
                            block=run.block, first=run.first, count=run.count, mixer=b.mixer,
                            ffn=b.ffn, runs=(run,), in_shape=stream, out_shape=stream,
                            tooltip=f"layers {run.first}-{run.first + run.count - 1}: {b.title}")

    runs = layer_runs(spec.layout)
    folded_stack: list[OverviewItem] = []
    for period, reps in fold_runs(runs):
        if reps == 1:
            folded_stack.append(layer_box(period[0], "run"))
            continue
        per = sum(r.count for r in period)
        params = sum(blocks[r.block].params * r.count for r in period) * reps
        wbytes = sum(blocks[r.block].weight_bytes * r.count for r in period) * reps
        pattern = " + ".join(f"{r.count} {r.block}" for r in period)
        folded_stack.append(OverviewItem(
            "repeat", f"({pattern})  x{reps}",
            (f"layers {period[0].first}-{period[0].first + per * reps - 1}, "
             f"period {per}", f"{human_count(params)}, {human_bytes(wbytes)}"),
            params, wbytes, block=period[0].block, first=period[0].first, count=per * reps,
            mixer=blocks[period[0].block].mixer, ffn=blocks[period[0].block].ffn,
            runs=period, repeat=reps, in_shape=stream, out_shape=stream,
            tooltip=f"{reps} repeats of: {pattern}"))
    unfolded_stack = [layer_box(Run(name, i, 1), "layer") for i, name in enumerate(spec.layout)]
    folded = head_items + folded_stack + tail
    unfolded = head_items + unfolded_stack + tail

    weights = sizes.weights(Count(matrix=pr.quantizable, kept=pr.kept), pr.by_component.get("experts"))
    seen_m = {s.mixer for s in strip}.union(*(s.mixers for s in strip))
    seen_f = {s.ffn for s in strip}
    present_m = tuple(c for c in MIXER_CATEGORIES if c in seen_m)
    present_f = tuple(c for c in FFN_CATEGORIES if c in seen_f)
    summary = (f"{spec.name}: {spec.num_layers} layers, d {d}, vocab {v}; "
               f"{human_count(pr.total)} params ({human_count(pr.active)} active), "
               f"{human_bytes(weights)} weights")
    return DiagramModel(
        name=spec.name, num_layers=spec.num_layers, hidden_size=d, vocab_size=v, unfolded=unfold,
        overview=unfolded if unfold else folded, folded_overview=folded,
        unfolded_overview=unfolded, runs=runs, strip=strip, blocks=blocks,
        mixer_categories=present_m, ffn_categories=present_f, params_total=pr.total,
        params_active=pr.active, weight_bytes=weights, summary=summary)
