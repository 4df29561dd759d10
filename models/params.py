"""Parameter counts, exactly as the reference implementations allocate them.

Each function counts the weights one module holds; the formulas follow the Hugging Face
``transformers`` modules of the architectures named in the docstrings, and the test suite checks
them against those modules built on the meta device. Counts are split by component so the UI can
say where the parameters live, and into "quantizable" matrices (projections and experts, which a
weight bit-width applies to) and "kept" parameters (norms, biases, convolutions, routers, gates,
state-space constants), which stay at the higher precision of the embeddings.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .spec import (MLA, SSM, XIELU_PARAMS, Attention, CrossAttention, DenseFFN, Layer, LinearAttention, ModelSpec,
                   MoEFFN, ShortConv)

COMPONENTS = ("embeddings", "per_layer_input", "altup", "laurel", "attention", "linear_attention", "ssm",
              "short_conv", "ffn", "experts", "shared_experts", "router", "norms", "lm_head", "vision")


@dataclass
class Count:
    """Parameters of one module: matrices a weight bit-width applies to, and kept parameters."""

    matrix: int = 0
    kept: int = 0

    @property
    def total(self) -> int:
        return self.matrix + self.kept

    def __add__(self, other: "Count") -> "Count":
        return Count(self.matrix + other.matrix, self.kept + other.kept)

    def __mul__(self, k: int) -> "Count":
        return Count(self.matrix * k, self.kept * k)


def linear(n_in: int, n_out: int, bias: bool = False) -> Count:
    return Count(n_in * n_out, n_out if bias else 0)


# --------------------------------------------------------------------------- mixers

def attention_params(a: Attention, d: int) -> Count:
    """Q, K, V, O projections (Llama, Mistral, Qwen, Gemma, OLMo, gpt-oss ...).

    q: d x heads*head_dim (x2 with Qwen3-Next's output gate); k: d x kv*head_dim; v: d x kv*v_dim;
    o: heads*v_dim x d. QK-norm adds head_dim weights per q and k ("head") or one weight per
    channel of all heads ("full", OLMo 2; "per_head", Cohere and StableLM, which normalise each
    head on its own), twice that with Persimmon's biases; gpt-oss adds one sink logit per head; a
    per-head gate adds g_proj (d x heads); differential attention its four lambda vectors (4 x
    head_dim). Gemma 4 drops v with ``value_from_key``, and k, v and the k norm in a KV-shared layer
    (its v norm has no weights).
    """
    q_out = a.heads * a.head_dim * (2 if a.output_gate else 1)
    kv_sets = 0 if a.kv_shared else 1
    if a.experts:                      # JetMoE: q and o per expert, a router, one bias after the sum
        c = (moa_expert_params(a, d) * a.experts
             + Count(kept=d * a.experts + (d if a.out_bias else 0)))
    else:
        c = linear(d, q_out, a.qkv_bias) + linear(a.heads * a.vdim, d, a.out_bias)
    c += linear(d, a.kv_heads * a.head_dim, a.qkv_bias) * kv_sets
    c += linear(d, a.kv_heads * a.vdim, a.qkv_bias) * (0 if a.value_from_key else kv_sets)
    per_weight = 2 if a.qk_norm_bias else 1        # Persimmon: a bias beside each weight
    if a.qk_norm == "head":
        c += Count(kept=(1 + kv_sets) * a.head_dim * per_weight)
    elif a.qk_norm in ("full", "per_head"):
        c += Count(kept=(a.heads + a.kv_heads * kv_sets) * a.head_dim * per_weight)
    if a.sinks:
        c += Count(kept=a.heads)
    if a.head_gate != "none":          # LFM3, Laguna: g_proj, d -> one gate per head
        c += linear(d, a.heads)
    if a.out_norm:                     # BitNet's attn_sub_norm
        c += Count(kept=a.heads * a.vdim)
    if a.differential:                 # lambda_q1, lambda_k1, lambda_q2, lambda_k2
        c += Count(kept=4 * a.head_dim)
    return c


def moa_expert_params(a: Attention, d: int) -> Count:
    """One attention expert of a mixture of attention heads: q (d x kv_heads*head_dim) and o
    (kv_heads*v_head_dim x d), no biases (JetMoE's ParallelExperts)."""
    return linear(d, a.kv_heads * a.head_dim) + linear(a.kv_heads * a.vdim, d)


def idle_params(m, d: int) -> int:
    """A mixer's parameters a token does not use: the attention experts its router passes over."""
    if isinstance(m, Attention) and m.experts:
        return (m.experts - m.top_k) * moa_expert_params(m, d).total
    return 0


def mla_params(m: MLA, d: int) -> Count:
    """DeepSeek-V2/V3 MLA: q_a (d x q_lora) + RMSNorm + q_b (q_lora x heads*(nope+rope)), or a
    direct q projection; kv_a (d x kv_lora+rope) + RMSNorm; kv_b (kv_lora x heads*(nope+v));
    o (heads*v x d). ``bias`` is attention_bias on q_a, kv_a and o; a gate per head adds g_proj
    (d x heads). A.X K2's q_gate_proj (2 q_lora x heads*(nope+rope+v)) takes q_b's place."""
    qk = m.qk_head_dim
    if m.q_gate:                       # A.X K2: [norm(q latent), q latent] -> each head's query and gate
        c = linear(d, m.q_lora_rank, m.bias) + Count(kept=m.q_lora_rank) \
            + linear(2 * m.q_lora_rank, m.heads * (qk + m.v_head_dim))
    elif m.q_lora_rank:
        c = linear(d, m.q_lora_rank, m.bias) + Count(kept=m.q_lora_rank) \
            + linear(m.q_lora_rank, m.heads * qk)
    else:
        c = linear(d, m.heads * qk)
    c += linear(d, m.kv_lora_rank + m.qk_rope_dim, m.bias) + Count(kept=m.kv_lora_rank)
    c += linear(m.kv_lora_rank, m.heads * (m.qk_nope_dim + m.v_head_dim))
    c += linear(m.heads * m.v_head_dim, d, m.bias)
    if m.head_gate != "none":          # Ling 3.0: g_proj, d -> one gate per head
        c += linear(d, m.heads)
    if m.sparse:
        c += indexer_params(m, d)
    return c


def indexer_params(m: MLA, d: int) -> Count:
    """DeepSeek-V3.2's lightning indexer: wq_b (q_lora x index_heads*index_head_dim) from the
    query latent, wk (d x index_head_dim), a LayerNorm (weight and bias) on the key, and
    weights_proj (d x index_heads), the per-head weights of the score sum, which DeepSeek keeps in
    fp32 (counted as kept: weight-only quantization leaves it alone)."""
    hd = m.index_head_dim
    return (linear(m.q_lora_rank, m.index_heads * hd) + linear(d, hd)
            + Count(kept=2 * hd + d * m.index_heads))


def linear_attention_params(la: LinearAttention, d: int) -> Count:
    k_total = la.key_heads * la.key_dim
    v_total = la.value_heads * la.value_dim
    if la.variant == "gated_deltanet":
        # Qwen3-Next: in_proj_qkvz, in_proj_ba, depthwise conv over q,k,v (no bias),
        # dt_bias and A_log per value head, gated RMSNorm over value_dim, out_proj.
        conv_dim = 2 * k_total + v_total
        return (linear(d, 2 * k_total + 2 * v_total) + linear(d, 2 * la.value_heads)
                + Count(kept=conv_dim * la.conv_kernel + 2 * la.value_heads + la.value_dim)
                + linear(v_total, d))
    if la.variant == "kimi_delta":
        # Kimi Linear KDA: q/k/v projections, conv over q,k,v, low-rank channel-wise forget gate
        # (f_a, f_b, dt_bias per channel, A_log per head), beta (b_proj), low-rank output gate
        # (g_a, g_b), gated RMSNorm over head_dim, o_proj. Ling 3.0: the two gates full rank
        # (f_proj, g_proj).
        hd = la.key_dim
        if la.full_rank_gates:
            forget, output = linear(d, k_total), linear(d, v_total)
        else:
            forget, output = linear(d, hd) + linear(hd, k_total), linear(d, hd) + linear(hd, v_total)
        return (linear(d, k_total) * 2 + linear(d, v_total)
                + Count(kept=(2 * k_total + v_total) * la.conv_kernel)
                + forget + Count(kept=k_total + la.key_heads)
                + linear(d, la.value_heads) + output
                + Count(kept=la.value_dim) + linear(v_total, d))
    # lightning (MiniMax-01): fused qkv, output gate, RMSNorm over all heads, out_proj
    return (linear(d, 2 * k_total + v_total) + linear(d, v_total) + Count(kept=v_total)
            + linear(v_total, d))


def ssm_params(s: SSM, d: int) -> Count:
    if s.variant == "mamba2":
        # Mamba2Mixer: in_proj -> [z, x, B, C, dt]; depthwise conv over [x, B, C];
        # dt_bias, A_log, D per head; gated RMSNorm over d_inner; out_proj.
        conv_dim = s.d_inner + 2 * s.groups * s.d_state
        c = linear(d, 2 * s.d_inner + 2 * s.groups * s.d_state + s.heads, s.proj_bias)
        c += Count(kept=conv_dim * s.conv_kernel + (conv_dim if s.conv_bias else 0) + 3 * s.heads)
        if s.gated_norm:
            c += Count(kept=s.d_inner)
        return c + linear(s.d_inner, d, s.proj_bias)
    # Mamba-1 (Jamba): in_proj -> [x, z]; conv; x_proj -> [dt, B, C]; dt_proj; A_log (d_inner x
    # d_state); D; optional RMSNorms on dt, B, C; out_proj.
    c = linear(d, 2 * s.d_inner, s.proj_bias)
    c += Count(kept=s.d_inner * s.conv_kernel + (s.d_inner if s.conv_bias else 0))
    c += linear(s.d_inner, s.dt_rank + 2 * s.d_state) + linear(s.dt_rank, s.d_inner, True)
    c += Count(kept=s.d_inner * s.d_state + s.d_inner)
    if s.inner_norms and s.inner_norms_affine:
        c += Count(kept=s.dt_rank + 2 * s.d_state)
    return c + linear(s.d_inner, d, s.proj_bias)


def short_conv_params(c: ShortConv, d: int) -> Count:
    """LFM2: in_proj (d x 3c: B, C, x), a depthwise conv (c x kernel), out_proj (c x d), c the
    channels (LFM2: c = d); with conv_bias every one of the three has a bias."""
    ch = c.channels
    return (linear(d, 3 * ch, c.bias) + Count(kept=ch * c.kernel + (ch if c.bias else 0))
            + linear(ch, d, c.bias))


def cross_attention_params(c: CrossAttention, d: int) -> Count:
    """Llama 3.2 Vision's MllamaTextCrossAttention: q (d x heads*head_dim), k and v (d x
    kv_heads*head_dim, applied to the image's features), o (heads*head_dim x d), no biases; the
    QK norms head_dim each; Flamingo's two tanh gates one scalar each (the attention's and the
    FFN's, cross_attn_attn_gate and cross_attn_mlp_gate)."""
    qo = c.heads * c.head_dim
    return (linear(d, qo) + linear(d, c.kv_heads * c.head_dim) * 2 + linear(qo, d)
            + Count(kept=(2 * c.head_dim if c.qk_norm == "head" else 0) + (2 if c.gated else 0)))


def mixer_params(m, d: int) -> tuple[str, Count]:
    if isinstance(m, CrossAttention):
        return "attention", cross_attention_params(m, d)
    if isinstance(m, Attention):
        return "attention", attention_params(m, d)
    if isinstance(m, MLA):
        return "attention", mla_params(m, d)
    if isinstance(m, LinearAttention):
        return "linear_attention", linear_attention_params(m, d)
    if isinstance(m, ShortConv):
        return "short_conv", short_conv_params(m, d)
    return "ssm", ssm_params(m, d)


# --------------------------------------------------------------------------- FFNs

def mlp_params(d: int, d_ff: int, gated: bool, bias: bool) -> Count:
    """Gated (SwiGLU/GeGLU): gate + up (d x d_ff) and down (d_ff x d); plain: up and down."""
    ups = 2 if gated else 1
    return linear(d, d_ff, bias) * ups + linear(d_ff, d, bias)


def moe_params(f: MoEFFN, d: int) -> dict[str, Count]:
    """Router (d x experts [+bias] [+per-expert score bias] [+Gemma 4's d + experts scales]),
    routed experts, shared experts (with Qwen's sigmoid shared-expert gate, d x 1)."""
    slots = f.experts + f.zero_experts
    router = linear(d, slots, f.router_bias)
    router = Count(kept=router.total + (slots if f.router_score_bias else 0)
                   + (d + slots if f.router_scales else 0))
    experts = mlp_params(d, f.d_expert, f.gated, f.expert_bias) * f.experts
    shared = mlp_params(d, f.shared_dff, f.gated, False) * f.shared_experts
    if f.shared_gate and f.shared_experts:
        router += Count(kept=d)
    if f.out_bias:                     # JetMoE: a bias after the weighted sum, on every token
        router += Count(kept=d)
    return {"router": router, "experts": experts, "shared_experts": shared}


def ffn_params(f, d: int) -> dict[str, Count]:
    if isinstance(f, DenseFFN):
        # xIELU (Apertus): alpha_p and alpha_n learned, beta and eps stored beside them
        # BitNet's ffn_sub_norm: d_ff weights
        extra = Count(kept=(XIELU_PARAMS if f.activation == "xielu" else 0) + (f.d_ff if f.inner_norm else 0))
        return {"ffn": mlp_params(d, f.d_ff, f.gated, f.bias) + extra}
    return moe_params(f, d)


# --------------------------------------------------------------------------- whole model

@dataclass
class ParamReport:
    by_component: dict[str, Count]
    total: int
    active: int               # per token: routed experts counted top_k / experts
    quantizable: int          # matrices a weight bit-width applies to
    kept: int                 # everything else (incl. embeddings and LM head)
    embedding_like: int       # embeddings + LM head + a per-layer input table (their own precision)
    mtp: int                  # multi-token-prediction modules, reported beside the total
    per_layer: list[int] = field(default_factory=list)
    # tables a token only reads a row of: the input embedding unless tied, learned positions, a
    # per-layer input table (Gemma 3n/4's "effective" size leaves them out)
    lookup_only: int = 0

    def component(self, name: str) -> int:
        c = self.by_component.get(name)
        return c.total if c else 0

    @property
    def expert_matrix(self) -> int:
        """The routed experts' matrices (what Workload.expert_weights applies to)."""
        c = self.by_component.get("experts")
        return c.matrix if c else 0

    @property
    def active_without_embeddings(self) -> int:
        """The active count as OpenAI and DeepSeek state theirs: without the input embedding table,
        of which a token reads one row (gpt-oss-120b 5.13B, DeepSeek-V3 36.6B with its 0.9B head).
        A tied table is the LM head's matrix too, and stays (learned positions go). Mistral and Qwen count it (Mixtral
        8x7B 12.9B, Qwen3-30B-A3B 3.3B), as ``active`` does."""
        return self.active - self.lookup_only


def norm_params(spec: ModelSpec) -> int:
    """Weights of one hidden-size norm: RMSNorm d; LayerNorm d (+d bias); OLMo 1's none."""
    if spec.norm in ("layernorm_noparam", "rmsnorm_noparam"):
        return 0
    return spec.hidden_size * (2 if spec.norm_bias else 1)


def routed_real_experts(f: MoEFFN) -> float:
    """Experts a token runs on average: top_k, less the picks of zero-computation experts
    (LongCat-Flash: 12 of 768 slots, 256 of them zero, so 8 on average) under even routing. The
    active count and the FLOPs use the same figure (Meituan states 18.6B-31.3B, about 27B, active)."""
    return f.top_k * f.experts / (f.experts + f.zero_experts)     # top_k <= experts + zero_experts


def per_layer_input_params(spec: ModelSpec) -> Count:
    """Gemma 3n/4 per-layer input, in each layer: per_layer_input_gate (d x p), per_layer_projection
    (p x d) and post_per_layer_input_norm (d); p = ``per_layer_input``."""
    p = spec.per_layer_input
    if not p:
        return Count()
    return linear(spec.hidden_size, p) + linear(p, spec.hidden_size) + Count(kept=norm_params(spec))


def per_layer_table_params(spec: ModelSpec) -> tuple[int, Count]:
    """Gemma 3n/4 per-layer inputs at the model's input: the table (per_layer_vocab x L*p, read a
    row per token like the token embedding), then per_layer_model_projection (d x L*p) and
    per_layer_projection_norm (p)."""
    p, n = spec.per_layer_input, spec.num_layers
    if not p:
        return 0, Count()
    return (spec.per_layer_vocab or spec.vocab_size) * n * p, linear(spec.hidden_size, n * p) + Count(kept=p)


def altup_params(spec: ModelSpec) -> Count:
    """Gemma 3n's AltUp, in each layer (Gemma3nTextAltUp): modality_router (d x N), prediction_coefs
    (N x N^2), correction_coefs (N x N), router_norm (d) and correct_output_scale (d); all kept."""
    n, d = spec.altup_streams, spec.hidden_size
    return Count(kept=d * n + n ** 3 + n * n + norm_params(spec) + d) if n else Count()


def altup_stream_params(spec: ModelSpec) -> Count:
    """Gemma 3n's AltUp at the model's ends: altup_projections make N - 1 streams from the embedding
    and altup_unembed_projections bring them back before the final norm (d x d each)."""
    n, d = spec.altup_streams, spec.hidden_size
    return Count(2 * (n - 1) * d * d) if n else Count()


def laurel_params(spec: ModelSpec) -> Count:
    """Gemma 3n's LAuReL, in each layer (Gemma3nTextLaurelBlock): linear_left (d x r),
    linear_right (r x d) and post_laurel_norm (d)."""
    r, d = spec.laurel_rank, spec.hidden_size
    return linear(d, r) + linear(r, d) + Count(kept=norm_params(spec)) if r else Count()


def norm_gate_params(layer: Layer, d: int) -> Count:
    """A.X K2's gated RMSNorms in ``layer``: each gate MLP W1 (d x rank) and W2 (rank x d)."""
    return Count(matrix=sum(2 * d * rank for rank in layer.norm_gates))


def layer_params(spec: ModelSpec, layer: Layer) -> tuple[dict[str, Count], int]:
    """Components of one layer and its active parameter count."""
    d = spec.hidden_size
    parts: dict[str, Count] = {}
    active = 0
    for name, count in (("per_layer_input", per_layer_input_params(spec)), ("altup", altup_params(spec)),
                        ("laurel", laurel_params(spec))):
        if count.total:
            parts[name] = count
            active += count.total
    for m in layer.mixers:
        name, c = mixer_params(m, d)
        parts[name] = parts.get(name, Count()) + c
        active += c.total - idle_params(m, d)
    for f in layer.ffns:
        for name, c in ffn_params(f, d).items():
            parts[name] = parts.get(name, Count()) + c
            if name == "experts":
                active += round(c.total / f.experts * routed_real_experts(f))
            else:
                active += c.total
    # Gemma 4's layer_scalar is counted with the norms: a stored per-layer scale of the stream;
    # A.X K2's gated norms with them too (their gate MLPs are matrices)
    norms = Count(kept=spec.norms_in(layer) * norm_params(spec) + int(spec.layer_scalar))
    norms += norm_gate_params(layer, d)
    parts["norms"] = parts.get("norms", Count()) + norms
    return parts, active + norms.total


def count_params(spec: ModelSpec) -> ParamReport:
    d, v = spec.hidden_size, spec.vocab_size
    comp: dict[str, Count] = {k: Count() for k in COMPONENTS}
    embed = v * d + (spec.learned_positions * d if spec.position == "learned" else 0)
    comp["embeddings"] = Count(kept=embed)
    table, ple_in = per_layer_table_params(spec)
    comp["per_layer_input"] = Count(kept=table) + ple_in
    comp["altup"] = altup_stream_params(spec)
    head = 0 if spec.tie_embeddings else v * d
    head += v if spec.lm_head_bias else 0
    comp["lm_head"] = Count(kept=head)
    # the final norm, and BLOOM's norm after the lookup: every token passes through both
    outer_norms = norm_params(spec) * (int(spec.final_norm) + int(spec.embedding_norm))
    comp["norms"] = Count(kept=outer_norms)
    active = embed + head + outer_norms + table + ple_in.total + comp["altup"].total
    # one count per distinct block, times the layers that use it (DeepSeek-V3: 2 blocks, 61 layers)
    cache: dict[str, tuple[dict[str, Count], int]] = {}
    for name, n in Counter(spec.layout).items():
        parts, act = cache[name] = layer_params(spec, spec.blocks[name])
        for k, c in parts.items():
            comp[k] = comp[k] + c * n
        active += act * n
    layer_total = {name: sum(c.total for c in parts.values()) for name, (parts, _) in cache.items()}
    per_layer = [layer_total[name] for name in spec.layout]
    if spec.vision is not None:
        comp["vision"] = Count(kept=spec.vision.params)
    total = sum(c.total for c in comp.values())
    quantizable = sum(c.matrix for c in comp.values())
    mtp = 0
    if spec.mtp_depth:
        # DeepSeek-V3 MTP module: two norms, eh_proj (2d x d), one decoder layer of the last
        # layer's kind and the shared head's norm; embeddings and head shared with the model.
        parts, _ = cache[spec.layout[-1]]
        mtp = spec.mtp_depth * (3 * norm_params(spec) + 2 * d * d
                                + sum(c.total for c in parts.values()))
    return ParamReport(comp, total, active, quantizable, total - quantizable, embed + head + table,
                       mtp, per_layer, embed - (v * d if spec.tie_embeddings else 0) + table)
