"""Mixture-of-experts decoders with softmax attention: Mixtral, Phi-3.5-MoE, OLMoE, Granite MoE (and
its shared-expert and sliding-window variants), FlexOlmo, dots.llm1, Qwen2/3-MoE, ERNIE 4.5 MoE, DBRX,
gpt-oss, Llama 4, GLM-4.5, Solar Open, Hunyuan-A13B, K-EXAONE, MiniMax-M2, MiMo-V2-Flash, Arcee's
Trinity (AFMoE), Aleph Alpha's Kolibri 1, JetBrains' Mellum 2, Cohere's MoE (Command A+, North),
Flint, Tencent's Hy3 preview, Laguna, Aria's language model and JetMoE (experts in its attention
too).
Routed experts, optional shared experts, and the patterns that decide which layers are sparse
(decoder_sparse_step, mlp_only_layers, first_k_dense_replace, interleave_moe_layer_step,
mlp_layer_types, num_dense_layers)."""
from __future__ import annotations

from ..spec import Attention, Layer, MoEFFN, SpecError
from .common import (Config, activation, as_int, build_spec, clamp_window, context_length, dense_ffn, get,
                     gqa_attention, layer_types, layer_types_or_flags, mlp_layer_types, nullable_int,
                     positive_scalar, rope_fraction, rope_fraction_by_layer_type, routing)
from .dense import granite_swa_attention


def _experts(cfg: Config, **fields) -> MoEFFN:
    base = dict(experts=as_int(cfg, "num_local_experts", "num_experts", "n_routed_experts"),
                top_k=as_int(cfg, "num_experts_per_tok", "num_experts_per_token", "moe_topk"),
                d_expert=as_int(cfg, "moe_intermediate_size", "intermediate_size"),
                activation=activation(get(cfg, "hidden_act", default="silu")),
                **routing(cfg))
    base.update(fields)
    return MoEFFN(**base)


def _sliding(cfg: Config, n: int, context: int) -> list[tuple[str, int]]:
    types = layer_types(cfg, n)
    window = as_int(cfg, "sliding_window", default=0)
    if types is None:
        return [clamp_window(window, context)] * n
    return [clamp_window(window, context) if t == "sliding_attention" else ("full", 0) for t in types]


def import_mixtral(cfg: Config, name: str):
    """Mixtral and its kin, every layer sparse with experts of intermediate_size: Phi-3.5-MoE
    (biased LayerNorms, optional biased head), OLMoE (QK-norm over all heads), Granite MoE."""
    mt = cfg.get("model_type")
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    # Granite MoE Shared: one SwiGLU of shared_intermediate_size beside the experts
    shared = as_int(cfg, "shared_intermediate_size", default=0) if mt == "granitemoeshared" else 0
    moe = _experts(cfg, d_expert=as_int(cfg, "intermediate_size"), shared_experts=1 if shared else 0,
                   d_shared=shared)
    qk = "full" if mt in ("olmoe", "flex_olmo") else "none"
    layers = [Layer((gqa_attention(cfg, hidden=hidden, kind=k, window=w, qk_norm=qk),), (moe,))
              for k, w in _sliding(cfg, n, context)]
    if mt == "phimoe":
        return build_spec(cfg, name, layers, norm="layernorm", norm_bias=True,
                          lm_head_bias=bool(get(cfg, "lm_head_bias", default=False)))
    if mt == "flex_olmo":            # OLMo 2's layer: norms after attention and after the MLP
        return build_spec(cfg, name, layers, norm_placement="post")
    return build_spec(cfg, name, layers)


def import_qwen_moe(cfg: Config, name: str):
    """qwen2_moe / qwen3_moe: every decoder_sparse_step-th layer sparse unless in mlp_only_layers;
    Qwen2-MoE adds a gated shared expert."""
    mt = cfg["model_type"]
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    step = as_int(cfg, "decoder_sparse_step", default=1)
    dense_only = set(get(cfg, "mlp_only_layers", default=[]) or [])
    shared = as_int(cfg, "shared_expert_intermediate_size", default=0) if mt == "qwen2_moe" else 0
    moe = _experts(cfg, shared_experts=1 if shared else 0, d_shared=shared, shared_gate=bool(shared))
    dense = dense_ffn(cfg)
    qk_norm = "head" if mt in ("qwen3_moe", "qwen3_vl_moe_text", "qwen3_omni_moe_text") else "none"
    qkv_bias = mt == "qwen2_moe" or bool(get(cfg, "attention_bias", default=False))
    out_bias = bool(get(cfg, "attention_bias", default=False)) and mt != "qwen2_moe"
    use_window = get(cfg, "use_sliding_window", default=False)
    layers = []
    for i in range(n):
        kind, window = clamp_window(as_int(cfg, "sliding_window", default=0), context) \
            if use_window and i >= as_int(cfg, "max_window_layers", default=n) else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=window, qk_norm=qk_norm,
                             qkv_bias=qkv_bias, out_bias=out_bias)
        sparse = i not in dense_only and (i + 1) % step == 0
        layers.append(Layer((attn,), (moe if sparse else dense,)))
    return build_spec(cfg, name, layers)


def import_ernie4_5_moe(cfg: Config, name: str):
    """ERNIE 4.5 MoE: sparse layers every moe_layer_interval-th from moe_layer_start_index to
    moe_layer_end_index (-1: the last), routed experts with a score-correction bias and one shared
    MLP as wide as moe_num_shared_experts experts; use_bias puts biases on every projection and
    the head."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    bias = bool(get(cfg, "use_bias", default=False))
    start = as_int(cfg, "moe_layer_start_index", default=1)
    end = as_int(cfg, "moe_layer_end_index", default=-1)
    end = n - 1 if end == -1 else end
    interval = as_int(cfg, "moe_layer_interval", default=1)
    shared = as_int(cfg, "moe_num_shared_experts", default=2)
    d_expert = as_int(cfg, "moe_intermediate_size", default=1536)
    if bias and shared:
        raise SpecError("config.use_bias", "biases in the shared experts (use_bias with "
                                           "moe_num_shared_experts > 0) cannot be described")
    moe = MoEFFN(experts=as_int(cfg, "moe_num_experts", default=64), top_k=as_int(cfg, "moe_k", default=6),
                 d_expert=d_expert, shared_experts=1 if shared else 0, d_shared=shared * d_expert,
                 router_score_bias=True, activation=activation(get(cfg, "hidden_act", default="silu")))
    dense = dense_ffn(cfg, bias=bias)
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=bias, out_bias=bias)
    layers = [Layer((attn,), (moe if (i + 1) % interval == 0 and start <= i <= end else dense,))
              for i in range(n)]
    return build_spec(cfg, name, layers, lm_head_bias=bias)


def import_dbrx(cfg: Config, name: str):
    """DBRX: its own nesting (attn_config, ffn_config), fused unbiased QKV, bias-free LayerNorms,
    fine-grained MoE (16 experts, top 4) on every layer."""
    attn_cfg, ffn_cfg = cfg.get("attn_config") or {}, cfg.get("ffn_config") or {}
    for key, value in (("attn_config", attn_cfg), ("ffn_config", ffn_cfg)):
        if not isinstance(value, dict):
            raise SpecError(f"config.{key}", f"must be an object, got {type(value).__name__}")
    d, heads = as_int(cfg, "d_model", "hidden_size"), as_int(cfg, "n_heads", "num_attention_heads")
    act = ffn_cfg.get("ffn_act_fn") or {}
    attn = Attention(heads=heads, kv_heads=as_int(attn_cfg, "kv_n_heads", default=1), head_dim=d // heads)
    moe = MoEFFN(experts=as_int(ffn_cfg, "moe_num_experts", default=4),
                 top_k=as_int(ffn_cfg, "moe_top_k", default=1),
                 d_expert=as_int(ffn_cfg, "ffn_hidden_size", default=3584),
                 activation=activation(act.get("name") if isinstance(act, dict) else act))
    flat = {**cfg, "hidden_size": d, "max_position_embeddings": get(cfg, "max_seq_len", default=2048)}
    return build_spec(flat, name, [Layer((attn,), (moe,))] * as_int(cfg, "n_layers", "num_hidden_layers"),
                      norm="layernorm", norm_bias=False)


def import_dots1(cfg: Config, name: str):
    """dots.llm1: Qwen3's attention (QK-norm per head; sliding from layer max_window_layers on when
    a window is set) with DeepSeek-V3's MoE (score-correction bias, shared experts) after
    first_k_dense_replace dense layers."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    window = as_int(cfg, "sliding_window", default=0)
    start = as_int(cfg, "max_window_layers", default=n)
    types = layer_types(cfg, n) or ["sliding_attention" if window and i >= start else "full_attention"
                                    for i in range(n)]
    first = as_int(cfg, "first_k_dense_replace", default=0)
    moe = _experts(cfg, shared_experts=as_int(cfg, "n_shared_experts", default=0), router_score_bias=True)
    dense = dense_ffn(cfg)
    layers = []
    for i, t in enumerate(types):
        kind, w = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, qk_norm="head")
        layers.append(Layer((attn,), (dense if i < first else moe,)))
    return build_spec(cfg, name, layers)


def import_gpt_oss(cfg: Config, name: str):
    """gpt-oss: alternating 128-token sliding and full layers, attention sinks, biases on every
    projection, router with bias, experts with biases (clamped SwiGLU)."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    moe = _experts(cfg, d_expert=as_int(cfg, "intermediate_size"), router_bias=True,
                   expert_bias=True, activation="swiglu_oai")
    kinds = _sliding(cfg, n, context) if cfg.get("layer_types") else \
        [clamp_window(as_int(cfg, "sliding_window"), context) if i % 2 == 0 else ("full", 0)
         for i in range(n)]
    layers = [Layer((gqa_attention(cfg, hidden=hidden, kind=k, window=w, qkv_bias=True,
                                   out_bias=True, sinks=True),), (moe,)) for k, w in kinds]
    return build_spec(cfg, name, layers)


def import_llama4(cfg: Config, name: str):
    """Llama 4 text: chunked attention (8192) with RoPE on 3 of 4 layers, global NoPE layers whose
    queries take a temperature growing with position (attn_temperature_tuning), L2 QK-norm (no
    weights) on RoPE layers; MoE on every interleave_moe_layer_step-th layer with a
    shared expert; dense layers use intermediate_size_mlp."""
    cfg = cfg.get("text_config") or cfg
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    step = as_int(cfg, "interleave_moe_layer_step", default=1)
    moe_layers = get(cfg, "moe_layers")
    if moe_layers is None:
        moe_layers = list(range(step - 1, n, step)) if step else []
    ropes = get(cfg, "no_rope_layers")
    if not ropes:
        interval = as_int(cfg, "no_rope_layer_interval", default=4)
        ropes = [int((i + 1) % interval != 0) for i in range(n)]
    chunk = get(cfg, "attention_chunk_size", default=0) or 0
    qk = "l2" if get(cfg, "use_qk_norm", default=True) else "none"
    # the NoPE layers' temperature tuning (arXiv:2501.19399), counting positions from 1
    temperature = dict(temperature=positive_scalar(cfg, "attn_scale", 0.1),
                       temperature_period=as_int(cfg, "floor_scale", default=8192), temperature_offset=1) \
        if get(cfg, "attn_temperature_tuning", default=True) else {}
    d = as_int(cfg, "intermediate_size")
    moe = _experts(cfg, d_expert=d, shared_experts=1, d_shared=d)
    dense = dense_ffn(cfg, as_int(cfg, "intermediate_size_mlp", default=d))
    layers = []
    for i in range(n):
        rope = bool(ropes[i])
        kind, window = ("chunked", chunk) if rope and chunk and chunk < context else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=window, rope=rope,
                             qk_norm=qk if rope else "none", **({} if rope else temperature))
        layers.append(Layer((attn,), (moe if i in moe_layers else dense,)))
    return build_spec(cfg, name, layers, model_type="llama4_text")


def import_glm4_moe(cfg: Config, name: str):
    """GLM-4.5: first_k_dense_replace dense layers, then MoE with shared experts and
    DeepSeek-style score-correction bias; partial RoPE (0.5); optional QK-norm; MTP layers.
    GLM-4.5V's language model (glm4v_moe_text) is GLM-4.5 without QK-norm.
    Upstage's Solar Open (solar_open) is GLM-4.5's MoE on Llama's attention: every layer sparse,
    no QK-norm, attention_bias on Q/K/V only (off by default), no MTP."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    solar = cfg["model_type"] == "solar_open"
    first_dense = 0 if solar else as_int(cfg, "first_k_dense_replace", default=1)
    moe = _experts(cfg, shared_experts=as_int(cfg, "n_shared_experts", default=1),
                   router_score_bias=True)
    dense = dense_ffn(cfg) if first_dense else None
    attn = gqa_attention(cfg, hidden=hidden,
                         qk_norm="head" if get(cfg, "use_qk_norm") and not solar else "none",
                         qkv_bias=bool(get(cfg, "attention_bias", default=not solar)), out_bias=False)
    layers = [Layer((attn,), (dense if i < first_dense else moe,)) for i in range(n)]
    return build_spec(cfg, name, layers, rope_fraction=rope_fraction(cfg),
                      mtp_depth=0 if solar else as_int(cfg, "num_nextn_predict_layers", default=0))


def _per_layer(cfg: Config, key: str, n: int, default: int | None = None) -> list[int]:
    """A key that is one int or a list with one per layer (Hunyuan's num_experts, moe_topk)."""
    value = get(cfg, key, default=default)
    if isinstance(value, list):
        if len(value) < n:
            raise SpecError(f"config.{key}", f"lists {len(value)} values for {n} layers")
        return [int(v) for v in value[:n]]
    return [as_int(cfg, key, default=default)] * n


def import_hunyuan_moe(cfg: Config, name: str):
    """Hunyuan-A13B (hunyuan_v1_moe), as transformers builds it: Llama attention with QK-norm per
    head; in every layer a router over num_experts experts of intermediate_size, top moe_topk
    (either may be a per-layer list), plus one always-on MLP of intermediate_size."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="head")
    d_ff = as_int(cfg, "intermediate_size")
    act = activation(get(cfg, "hidden_act", default="silu"))
    layers = [Layer((attn,), (MoEFFN(experts=e, top_k=k, d_expert=d_ff, shared_experts=1, activation=act),))
              for e, k in zip(_per_layer(cfg, "num_experts", n, 1), _per_layer(cfg, "moe_topk", n, 1))]
    return build_spec(cfg, name, layers)


def import_exaone_moe(cfg: Config, name: str):
    """K-EXAONE (exaone_moe): EXAONE 4.0's attention (QK-norm per head, 3 sliding RoPE layers : 1
    global NoPE layer) in pre-norm layers; mlp_layer_types (by default first_k_dense_replace dense
    layers, then sparse) choose a dense MLP or DeepSeek-V3's MoE (score-correction bias, shared
    experts of num_shared_experts x moe_intermediate_size). Its MTP layers, which transformers
    skips when loading, are not counted."""
    from .dense import exaone4_attention_layers
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    mlp_types = get(cfg, "mlp_layer_types")
    if not (isinstance(mlp_types, list) and len(mlp_types) >= n):
        first = as_int(cfg, "first_k_dense_replace", default=1)
        mlp_types = ["dense" if i < first else "sparse" for i in range(n)]
    moe = _experts(cfg, shared_experts=as_int(cfg, "num_shared_experts", default=1), router_score_bias=True)
    dense = dense_ffn(cfg)
    layers = []
    for (kind, window, rope), m in zip(exaone4_attention_layers(cfg, n, context_length(cfg)), mlp_types):
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=window, rope=rope, qk_norm="head",
                             qkv_bias=False, out_bias=False)
        layers.append(Layer((attn,), (moe if m == "sparse" else dense,)))
    return build_spec(cfg, name, layers)


def import_minimax_m2(cfg: Config, name: str):
    """MiniMax-M2: full attention with QK-norm over all heads, partial RoPE (rotary_dim),
    MoE with score-correction bias on every layer, MTP modules."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    heads = as_int(cfg, "num_attention_heads")
    hd = as_int(cfg, "head_dim", default=hidden // heads)
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="full", qkv_bias=False, out_bias=False)
    moe = _experts(cfg, d_expert=as_int(cfg, "intermediate_size"), router_score_bias=True)
    rotary = get(cfg, "rotary_dim")
    mtp = as_int(cfg, "num_mtp_modules", default=0) if get(cfg, "use_mtp") else 0
    return build_spec(cfg, name, [Layer((attn,), (moe,))] * n,
                      rope_fraction=(rotary / hd) if rotary else rope_fraction(cfg), mtp_depth=mtp)


def import_mimo_v2(cfg: Config, name: str):
    """MiMo-V2-Flash: hybrid sliding-window (with sinks, twice the KV heads) and full attention,
    separate V head size, MoE after the first dense layer."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    types = layer_types_or_flags(
        cfg, n, "hybrid_layer_pattern", "sliding_attention", "full_attention",
        lambda i: "full_attention" if (i == 0 or (i + 1) % 6 == 0) else "sliding_attention")
    mlp_types = get(cfg, "mlp_layer_types")
    if mlp_types is None:
        freq = get(cfg, "moe_layer_freq")
        mlp_types = (["sparse" if f else "dense" for f in freq[:n]] if isinstance(freq, list)
                     else ["dense"] + ["sparse"] * (n - 1))
    window = as_int(cfg, "sliding_window", "sliding_window_size", default=0)
    if get(cfg, "sliding_window") is None and get(cfg, "sliding_window_size") is not None:
        window += 1   # transformers attends to sliding_window_size previous tokens plus the query
    bias = bool(get(cfg, "attention_bias", default=False))
    kv = as_int(cfg, "num_key_value_heads")
    vdim = as_int(cfg, "v_head_dim", default=0)
    moe = _experts(cfg, router_score_bias=True)
    dense = dense_ffn(cfg)
    layers = []
    for t, m in zip(types, mlp_types):
        swa = t == "sliding_attention"
        kind, w = clamp_window(window, context) if swa else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, kv_heads=kv * 2 if swa else kv,
                             qkv_bias=bias, out_bias=False, sinks=swa, v_head_dim=vdim)
        layers.append(Layer((attn,), (moe if m == "sparse" else dense,)))
    return build_spec(cfg, name, layers, rope_fraction=rope_fraction(cfg) if get(
        cfg, "partial_rotary_factor") else 0.334)


def _routed_experts(cfg: Config, experts_key: str, d_expert: int, **fields) -> MoEFFN:
    """Routed experts counted under the key the type's config.json uses (num_experts or
    num_local_experts), so that an error names the key the file holds."""
    return MoEFFN(experts=as_int(cfg, experts_key, "num_local_experts", "num_experts"),
                  top_k=as_int(cfg, "num_experts_per_tok"), d_expert=d_expert,
                  activation=activation(get(cfg, "hidden_act", default="silu")),
                  **{**routing(cfg), **fields})


def _one_shared(width: int) -> dict:
    """MoEFFN fields of one always-on MLP of ``width`` (none at 0)."""
    return dict(shared_experts=1 if width else 0, d_shared=width)


def import_jetmoe(cfg: Config, name: str):
    """JetMoE: a mixture of attention heads (each of num_local_experts holds q and o projections
    for num_key_value_heads heads of kv_channels; the top num_experts_per_tok per token run, over
    keys and values projected once) and a mixture of SwiGLU experts, both routed by a softmax
    over the chosen logits, each with one bias after the weighted sum. No biases elsewhere; the
    head tied by default."""
    n = as_int(cfg, "num_hidden_layers")
    kv, experts = as_int(cfg, "num_key_value_heads"), as_int(cfg, "num_local_experts")
    top_k = as_int(cfg, "num_experts_per_tok")
    attn = Attention(heads=top_k * kv, kv_heads=kv, head_dim=as_int(cfg, "kv_channels"), experts=experts,
                     top_k=top_k, out_bias=True)
    moe = MoEFFN(experts=experts, top_k=top_k, d_expert=as_int(cfg, "intermediate_size"),
                 activation=activation(get(cfg, "activation_function", default="silu")), normalize_top_k=True,
                 out_bias=True)
    return build_spec(cfg, name, [Layer((attn,), (moe,))] * n)


def import_aria_text(cfg: Config, name: str):
    """Aria's language model (Rhymes AI): Llama's attention and, in every layer, experts of
    intermediate_size (top moe_topk by logit, softmax over the chosen: the renormalised softmax)
    beside one always-on MLP moe_num_shared_experts times as wide. The routed experts are always
    SiLU-gated; a shared MLP with another activation, or biased, is refused: one MoE takes one."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    act = activation(get(cfg, "hidden_act", default="silu"))
    if act != "silu":
        raise SpecError("config.hidden_act", f"Aria's routed experts are SiLU-gated and its shared MLP "
                                             f"takes hidden_act ({cfg.get('hidden_act')!r}): one activation "
                                             f"per MoE is modelled")
    if get(cfg, "mlp_bias", default=False):
        raise SpecError("config.mlp_bias", "Aria's routed experts have no biases: a biased shared MLP beside "
                                           "them is not modelled")
    d_expert = as_int(cfg, "intermediate_size")
    moe = MoEFFN(experts=as_int(cfg, "moe_num_experts", default=8), top_k=as_int(cfg, "moe_topk", default=2),
                 d_expert=d_expert, normalize_top_k=True,
                 **_one_shared(d_expert * as_int(cfg, "moe_num_shared_experts", default=2)))
    return build_spec(cfg, name, [Layer((gqa_attention(cfg, hidden=hidden),), (moe,))] * n)


def import_afmoe(cfg: Config, name: str):
    """Arcee's AFMoE (Trinity Nano, Mini, Large): Llama attention with QK-norm per head and a sigmoid
    output gate (gate_proj), RoPE on the sliding layers only (every global_attn_every_n_layers-th
    layer global and without positions), a norm before and after each sublayer; num_dense_layers
    dense MLPs, then sigmoid-routed experts with a score-correction bias (expert_bias) beside one
    shared MLP of num_shared_experts x moe_intermediate_size. Its muP input scale and route_scale
    hold no weights."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    if get(cfg, "attention_bias"):
        # q_proj would take a bias and gate_proj, the gate half of the spec's gated query, none
        raise SpecError("config.attention_bias", "AFMoE's gate_proj has no bias beside a biased "
                                                 "q_proj; a query whose gate half alone is unbiased "
                                                 "cannot be described")
    context = context_length(cfg)
    window = nullable_int(cfg, "sliding_window", 1024)
    period = as_int(cfg, "global_attn_every_n_layers", default=4)
    types = layer_types(cfg, n) or ["sliding_attention" if (i + 1) % period else "full_attention"
                                    for i in range(n)]
    first_moe = as_int(cfg, "num_dense_layers", default=1)
    d_expert = as_int(cfg, "moe_intermediate_size")
    moe = _routed_experts(cfg, "num_experts", d_expert, router_score_bias=True,
                          **_one_shared(as_int(cfg, "num_shared_experts", default=2) * d_expert))
    dense = dense_ffn(cfg, bias=False)
    layers = []
    for i, t in enumerate(types):
        local = t == "sliding_attention"
        kind, w = clamp_window(window, context) if local else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, rope=local, qk_norm="head",
                             output_gate=True)
        layers.append(Layer((attn,), (moe if i >= first_moe else dense,)))
    return build_spec(cfg, name, layers, norm_placement="sandwich", rope_fraction=rope_fraction(cfg))


def import_kolibri1(cfg: Config, name: str):
    """Aleph Alpha's Kolibri 1: Qwen3-MoE's attention (QK-norm per head, no biases), four sliding
    RoPE layers to one global layer without positions (RoPE everywhere when sliding_window is null),
    GLM-4's norms before and after each sublayer, and on every layer DeepSeek-V3's MoE: a sigmoid
    router with a score-correction bias beside one ungated shared MLP of
    shared_expert_intermediate_size."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    window = nullable_int(cfg, "sliding_window", 513)
    types = layer_types(cfg, n) or ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention"
                                    for i in range(n)]
    moe = _routed_experts(cfg, "num_experts", as_int(cfg, "moe_intermediate_size"), router_score_bias=True,
                          **_one_shared(as_int(cfg, "shared_expert_intermediate_size", default=512)))
    kv = as_int(cfg, "num_key_value_heads", default=4)
    layers = []
    for t in types:
        local = t == "sliding_attention"
        kind, w = clamp_window(window, context) if local else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, rope=local or not window,
                             qk_norm="head", kv_heads=kv, qkv_bias=False, out_bias=False)
        layers.append(Layer((attn,), (moe,)))
    return build_spec(cfg, name, layers, norm_placement="sandwich", rope_fraction=rope_fraction(cfg))


def import_mellum(cfg: Config, name: str):
    """JetBrains' Mellum 2: Qwen3-MoE's layer (QK-norm per head, attention_bias on all four
    projections, a softmax router, no shared expert), sliding layers from layer_types (none by
    default) with a rotary fraction per layer type, and mlp_layer_types choosing the MoE (the default) or a dense MLP of
    intermediate_size. Its MTP layer, which transformers skips when loading, is not counted."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    window = nullable_int(cfg, "sliding_window", 1024)
    types = layer_types(cfg, n) or ["full_attention"] * n
    mlp_types = mlp_layer_types(cfg, n, ["sparse"] * n)
    moe = _routed_experts(cfg, "num_experts", as_int(cfg, "moe_intermediate_size"))
    dense = dense_ffn(cfg, bias=False)
    kv = as_int(cfg, "num_key_value_heads", default=4)
    fractions = rope_fraction_by_layer_type(cfg, {})          # rope_parameters keyed by layer type
    layers = []
    for t, m in zip(types, mlp_types):
        kind, w = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, qk_norm="head", kv_heads=kv,
                             rope_fraction=fractions.get(t, 0.0))
        layers.append(Layer((attn,), (moe if m == "sparse" else dense,)))
    return build_spec(cfg, name, layers, rope_fraction=rope_fraction(cfg))


def import_cohere2_moe(cfg: Config, name: str):
    """Cohere's MoE (cohere2_moe: Command A+, North Mini Code): Command R7B's parallel layer
    (attention and FFN side by side after one norm; sliding layers with RoPE, global layers without),
    first_k_dense_replace dense layers of prefix_dense_intermediate_size, then routed experts of
    intermediate_size with an optional shared MLP of num_shared_experts x intermediate_size. The dense
    layers follow prefix_dense_sliding_window_pattern; at 1 they are global and keep RoPE. RMSNorm
    when rms_norm_eps is set, else Cohere's bias-free LayerNorm."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    window = nullable_int(cfg, "sliding_window", 4096)
    first_dense = as_int(cfg, "first_k_dense_replace", default=0)
    prefix_period = as_int(cfg, "prefix_dense_sliding_window_pattern", default=1)
    period = as_int(cfg, "sliding_window_pattern", default=4)
    types = layer_types(cfg, n) or (
        ["sliding_attention" if (i + 1) % prefix_period else "full_attention" for i in range(first_dense)]
        + ["sliding_attention" if (i + 1) % period else "full_attention" for i in range(n - first_dense)])
    mlp_types = mlp_layer_types(cfg, n, ["dense" if i < first_dense else "sparse" for i in range(n)])
    d_expert = as_int(cfg, "intermediate_size")
    moe = _routed_experts(cfg, "num_experts", d_expert,
                          **_one_shared(as_int(cfg, "num_shared_experts", default=0) * d_expert))
    dense = dense_ffn(cfg, as_int(cfg, "prefix_dense_intermediate_size", "intermediate_size"), bias=False)
    layers = []
    for t, m in zip(types, mlp_types):
        local = t == "sliding_attention" and window > 0           # a null window: a global layer
        kind, w = clamp_window(window, context) if local else ("full", 0)
        rope = local or (m == "dense" and prefix_period == 1)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, rope=rope)
        layers.append(Layer((attn,), (dense if m == "dense" else moe,), norms=1))
    norm = "layernorm" if get(cfg, "rms_norm_eps") is None else "rmsnorm"
    return build_spec(cfg, name, layers, norm=norm, norm_bias=False, norm_placement="parallel")


def import_granitemoe_swa(cfg: Config, name: str):
    """IBM's Granite MoE with sliding windows (granitemoe_swa, Granite Swash): Granite MoE Shared's
    layer (experts of intermediate_size, an optional shared SwiGLU of shared_intermediate_size) with
    a learned sink logit per head in every layer, sliding layers from layer_types (by default all but
    layer 0 and every fourth after it) and per-layer RoPE bases (layer_rope_theta; 0: no positions),
    as dense.granite_swa_attention reads them."""
    moe = _routed_experts(cfg, "num_local_experts", as_int(cfg, "intermediate_size"),
                          **_one_shared(as_int(cfg, "shared_intermediate_size", default=0)))
    return build_spec(cfg, name, [Layer((attn,), (moe,)) for attn in granite_swa_attention(cfg)],
                      rope_fraction=rope_fraction(cfg))


def _layer_indices(cfg: Config, key: str, default: list[int]) -> set[int]:
    """A list of layer indices (absent or null: the class default)."""
    value = get(cfg, key, default=default)
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise SpecError(f"config.{key}", f"must be a list of layer indices, got {value!r}")
    return set(value)


def import_flint(cfg: Config, name: str):
    """Flint (RecursiveSI): Qwen3-MoE's attention (per-head QK-norm) with a learned sink per head;
    sliding layers rotate, full layers have no positions (default: layers 0, 1, every 4th from 1
    and the last full); dense SwiGLUs in mlp_only_layers (default 0 and 1), elsewhere routed
    experts plus a SwiGLU shared expert added without a gate."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    window = as_int(cfg, "sliding_window", default=513)
    types = layer_types(cfg, n) or ["full_attention" if i < 2 or i % 4 == 1 or i == n - 1
                                    else "sliding_attention" for i in range(n)]
    dense_only = _layer_indices(cfg, "mlp_only_layers", [0, 1])
    step = as_int(cfg, "decoder_sparse_step", default=1)
    if step <= 0:
        raise SpecError("config.decoder_sparse_step", f"must be positive, got {step}")
    moe = _routed_experts(cfg, "num_experts", as_int(cfg, "moe_intermediate_size"),
                          **_one_shared(as_int(cfg, "shared_expert_intermediate_size", default=1024))) \
        if as_int(cfg, "num_experts") > 0 else None
    dense = dense_ffn(cfg, bias=False)
    layers = []
    for i, t in enumerate(types):
        local = t == "sliding_attention"
        kind, w = clamp_window(window, context) if local else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, qk_norm="head", sinks=True, rope=local)
        sparse = moe is not None and i not in dense_only and (i + 1) % step == 0
        layers.append(Layer((attn,), (moe if sparse else dense,)))
    return build_spec(cfg, name, layers, rope_fraction=rope_fraction(cfg))


def import_hy_v3(cfg: Config, name: str):
    """Hy3 preview (Tencent): Llama's attention with per-head QK-norm; dense SwiGLU layers by
    mlp_layer_types (default: the first), the rest sigmoid-routed experts with a score-correction
    bias beside a shared SwiGLU as wide as num_shared_experts experts; num_nextn_predict_layers MTP
    modules."""
    if get(cfg, "mlp_bias"):       # the shared expert's biases: MoEFFN has none
        raise SpecError("config.mlp_bias", "biases in Hy3's shared expert are not modelled")
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="head")
    shared = as_int(cfg, "num_shared_experts", default=1)
    # transformers' HYV3MLP reads a width of 0 as "intermediate_size": without shared experts it
    # still builds one that wide
    shared_fields = dict(shared_experts=shared) if shared else \
        dict(shared_experts=1, d_shared=as_int(cfg, "intermediate_size"))
    moe = _routed_experts(cfg, "num_experts", as_int(cfg, "moe_intermediate_size"), router_score_bias=True,
                          **shared_fields)
    dense = dense_ffn(cfg, bias=False)
    types = mlp_layer_types(cfg, n, ["dense"] + ["sparse"] * (n - 1))
    layers = [Layer((attn,), (moe if t == "sparse" else dense,)) for t in types]
    return build_spec(cfg, name, layers, rope_fraction=rope_fraction(cfg),
                      mtp_depth=as_int(cfg, "num_nextn_predict_layers", default=0))


def import_laguna(cfg: Config, name: str):
    """Laguna: Llama attention with per-head QK-norm, a head count per layer
    (num_attention_heads_per_layer) and a softplus output gate from g_proj, one per head (gating
    true or "per-head") or per channel ("per-element", as wide as the output gate the spec counts
    in q_proj); sliding layers from layer_types, full layers rotating half of each head; dense
    layers by mlp_layer_types (default: the first), the rest sigmoid-routed experts with a
    score-correction bias beside one shared MLP of shared_expert_intermediate_size."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    types = layer_types(cfg, n) or ["full_attention"] * n
    window = nullable_int(cfg, "sliding_window", 512)
    fractions = rope_fraction_by_layer_type(cfg, {"full_attention": 0.5, "sliding_attention": 1.0})
    heads = get(cfg, "num_attention_heads_per_layer")
    if heads is None:
        heads = [as_int(cfg, "num_attention_heads")] * n
    elif not isinstance(heads, list) or len(heads) < n \
            or any(isinstance(h, bool) or not isinstance(h, int) for h in heads[:n]):
        raise SpecError("config.num_attention_heads_per_layer", f"must list a head count for each of the {n} layers")
    gating = get(cfg, "gating", default=True)
    if gating not in (True, "per-head", "per-element"):
        raise SpecError("config.gating", f"must be true, \"per-head\" or \"per-element\", got {gating!r}")
    gate = dict(output_gate=True) if gating == "per-element" else dict(head_gate="softplus")
    moe = _routed_experts(cfg, "num_experts", as_int(cfg, "moe_intermediate_size"), router_score_bias=True,
                          **_one_shared(as_int(cfg, "shared_expert_intermediate_size", default=512)))
    dense = dense_ffn(cfg, bias=False)
    layers = []
    for i, (t, m) in enumerate(zip(types, mlp_layer_types(cfg, n, ["dense"] + ["sparse"] * (n - 1)))):
        kind, w = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, qk_norm="head",
                             heads=heads[i], rope_fraction=fractions.get(t, 1.0), **gate)
        layers.append(Layer((attn,), (moe if m == "sparse" else dense,)))
    return build_spec(cfg, name, layers)


IMPORTERS = {
    "mixtral": import_mixtral,
    "aria_text": import_aria_text,
    "jetmoe": import_jetmoe,
    "phimoe": import_mixtral,
    "olmoe": import_mixtral,
    "granitemoe": import_mixtral,
    "granitemoeshared": import_mixtral,
    "qwen2_moe": import_qwen_moe,
    "qwen3_moe": import_qwen_moe,
    "qwen3_vl_moe_text": import_qwen_moe,
    "qwen3_omni_moe_text": import_qwen_moe,      # Qwen3-Omni's thinker: Qwen3-MoE's layer, top-k renormalized
    "ernie4_5_moe": import_ernie4_5_moe,
    "dbrx": import_dbrx,
    "flex_olmo": import_mixtral,
    "dots1": import_dots1,
    "gpt_oss": import_gpt_oss,
    "llama4": import_llama4,
    "llama4_text": import_llama4,
    "glm4_moe": import_glm4_moe,
    "solar_open": import_glm4_moe,
    "glm4v_moe_text": import_glm4_moe,
    "hunyuan_v1_moe": import_hunyuan_moe,
    "exaone_moe": import_exaone_moe,
    "minimax_m2": import_minimax_m2,
    "mimo_v2_flash": import_mimo_v2,
    "afmoe": import_afmoe,
    "kolibri1": import_kolibri1,
    "mellum": import_mellum,
    "cohere2_moe": import_cohere2_moe,
    "granitemoe_swa": import_granitemoe_swa,
    "flint": import_flint,
    "hy_v3": import_hy_v3,
    "laguna": import_laguna,
}
