"""Recurrent models and hybrids of attention with linear attention or state-space layers: Qwen3-Next
and Qwen3.5 (Gated DeltaNet 3:1), MiniMax-01 (Lightning Attention 7:1), Mamba and Falcon-Mamba,
Mamba-2, Jamba (Mamba-1 + attention 7:1, MoE every other layer), Nemotron-H (Mamba-2, attention, MLP
and MoE layers from hybrid_override_pattern), Granite 4.0-H, Bamba, Falcon-H1 (attention and Mamba-2
in parallel in every layer), LFM2 and LFM2-MoE (gated short convolutions with attention layers) and
LFM3 (the same with sliding and head-gated full attention layers), OLMo hybrid (Gated DeltaNet 3:1
under pre-norms, OLMo 3's post-norm attention)."""
from __future__ import annotations

import math
from typing import Mapping

from ..spec import SSM, Attention, Layer, LinearAttention, MoEFFN, ShortConv, SpecError
from .common import (Config, activation, as_int, build_spec, clamp_window, context_length, dense_ffn, get,
                     gqa_attention, layer_types, layer_types_or_flags, nullable_int, routing,
                     positive_scalar, rope_fraction_by_layer_type, scalar)


def _mamba2(cfg: Config, d: int, *, prefix: str = "", d_inner: int | None = None,
            heads_key: str = "num_heads", head_dim_key: str = "head_dim") -> SSM:
    heads = as_int(cfg, prefix + heads_key, default=0) or None
    hd = as_int(cfg, prefix + head_dim_key, default=0) or None
    if d_inner is None:
        d_inner = heads * hd if heads and hd else int(get(cfg, prefix + "expand", "expand",
                                                          default=2) * d)
    if not heads:
        heads = d_inner // (hd or 64)
    return SSM(variant="mamba2", d_inner=d_inner, heads=heads,
               d_state=as_int(cfg, prefix + "d_state", "state_size", "ssm_state_size"),
               groups=as_int(cfg, prefix + "n_groups", "n_groups", default=1),
               conv_kernel=as_int(cfg, prefix + "d_conv", "conv_kernel", default=4),
               conv_bias=bool(get(cfg, prefix + "conv_bias", "use_conv_bias", default=True)),
               proj_bias=bool(get(cfg, prefix + "proj_bias", "use_bias", default=False)), **_dt_limits(cfg))


def _dt_limits(cfg: Config) -> dict[str, float]:
    """Mamba-2's clamp of its step size as transformers applies it: Nemotron-H from time_step_min
    up, whatever its time_step_limit says; the others time_step_limit (default (0, inf))."""
    if cfg.get("model_type") == "nemotron_h":
        return dict(dt_min=scalar(cfg, "mamba_dt_min" if "mamba_dt_min" in cfg else "time_step_min", 0.001))
    limit = cfg.get("time_step_limit")
    if limit is None:
        return {}
    if not isinstance(limit, (list, tuple)) or len(limit) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in limit):
        raise SpecError("config.time_step_limit", f"must be [low, high] with 0 <= low, got {limit!r}")
    low, high = float(limit[0]), float(limit[1])
    return dict(dt_min=low, dt_max=high if math.isfinite(high) else 0.0)


def import_qwen3_next(cfg: Config, name: str):
    """Qwen3-Next and Qwen3.5 (dense and MoE text models): Gated DeltaNet layers with a gated
    full-attention layer every full_attention_interval-th (QK-norm per head, 25% RoPE); Qwen3.5's
    dense models have no experts and its MoE models make every layer sparse."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    types = layer_types(cfg, n)
    if types is None:
        interval = as_int(cfg, "full_attention_interval", default=4)
        types = ["full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(n)]
    qwen3_5 = str(cfg.get("model_type")).startswith("qwen3_5")
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="head", output_gate=True,
                         qkv_bias=bool(get(cfg, "attention_bias", default=False)),
                         out_bias=bool(get(cfg, "attention_bias", default=False)))
    gdn = LinearAttention(key_heads=as_int(cfg, "linear_num_key_heads"),
                          value_heads=as_int(cfg, "linear_num_value_heads"),
                          key_dim=as_int(cfg, "linear_key_head_dim"),
                          value_dim=as_int(cfg, "linear_value_head_dim"),
                          conv_kernel=as_int(cfg, "linear_conv_kernel_dim", default=4))
    experts = as_int(cfg, "num_experts", default=0)
    shared = as_int(cfg, "shared_expert_intermediate_size", default=0)
    moe = MoEFFN(experts=experts, top_k=as_int(cfg, "num_experts_per_tok"),
                 d_expert=as_int(cfg, "moe_intermediate_size"), shared_experts=1 if shared else 0,
                 d_shared=shared, shared_gate=bool(shared),
                 **routing(cfg)) if experts else None
    dense = dense_ffn(cfg) if moe is None or get(cfg, "intermediate_size") else None
    # Qwen3.5 MoE: every layer sparse, whatever the keys say
    step = 1 if qwen3_5 else as_int(cfg, "decoder_sparse_step", default=1)
    dense_only = set() if qwen3_5 else set(get(cfg, "mlp_only_layers", default=[]) or [])
    layers = []
    for i, t in enumerate(types):
        sparse = moe is not None and i not in dense_only and (i + 1) % step == 0
        ffn = moe if sparse else dense
        if ffn is None:
            raise SpecError("config.intermediate_size", f"layer {i} is dense (mlp_only_layers or "
                            "decoder_sparse_step) but no intermediate_size is given")
        layers.append(Layer((attn if t == "full_attention" else gdn,), (ffn,)))
    return build_spec(cfg, name, layers, rope_fraction=float(get(cfg, "partial_rotary_factor",
                                                                 default=0.25)),
                      mtp_depth=as_int(cfg, "num_nextn_predict_layers", default=0))


def import_minimax(cfg: Config, name: str):
    """MiniMax-Text-01 / MiniMax-M1: Lightning Attention layers with a softmax-attention layer
    every eighth (layer_types, or MiniMax's own attn_type_list: 1 softmax, 0 lightning; without
    either, transformers' alternation), MoE on every layer."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    types = layer_types_or_flags(cfg, n, "attn_type_list", "full_attention", "linear_attention",
                                 lambda i: "full_attention" if (i + 1) % 2 else "linear_attention")
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=False, out_bias=False)
    heads = as_int(cfg, "num_attention_heads")
    lightning = LinearAttention(key_heads=heads, value_heads=heads, key_dim=attn.head_dim,
                                value_dim=attn.head_dim, variant="lightning", conv_kernel=0, decay_by_depth=True)
    moe = MoEFFN(experts=as_int(cfg, "num_local_experts"), top_k=as_int(cfg, "num_experts_per_tok"),
                 d_expert=as_int(cfg, "intermediate_size"),
                 activation=activation(get(cfg, "hidden_act", default="silu")))
    layers = [Layer((attn if t == "full_attention" else lightning,), (moe,)) for t in types]
    rotary = get(cfg, "rotary_dim")
    return build_spec(cfg, name, layers, rope_fraction=min(1.0, rotary / attn.head_dim) if rotary
                      else float(get(cfg, "partial_rotary_factor", default=1.0)))


def import_mamba1(cfg: Config, name: str):
    """Mamba (state-spaces/mamba-*-hf) and Falcon-Mamba: Mamba-1 mixers only, one RMSNorm a layer.
    Falcon-Mamba normalises dt, B and C without weights, so its count is Mamba's."""
    falcon = cfg.get("model_type") == "falcon_mamba"
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    rank = get(cfg, "time_step_rank", default="auto")
    ssm = SSM(variant="mamba1", d_inner=int(get(cfg, "expand", default=2) * hidden),
              d_state=as_int(cfg, "state_size", default=16),
              conv_kernel=as_int(cfg, "conv_kernel", default=4),
              conv_bias=bool(get(cfg, "use_conv_bias", default=True)),
              proj_bias=bool(get(cfg, "use_bias", default=False)),
              dt_rank=math.ceil(hidden / 16) if rank == "auto" else as_int(cfg, "time_step_rank"),
              inner_norms=falcon, inner_norms_affine=not falcon, gated_norm=False)
    return build_spec(cfg, name, [Layer((ssm,), ())] * n, position="none", nominal_context=1 << 20)


def import_mamba2(cfg: Config, name: str):
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    ssm = _mamba2(cfg, hidden, d_inner=int(get(cfg, "expand", default=2) * hidden))
    return build_spec(cfg, name, [Layer((ssm,), ())] * n, position="none", nominal_context=1 << 20)


def import_jamba(cfg: Config, name: str):
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn_period = as_int(cfg, "attn_layer_period", default=8)
    attn_offset = as_int(cfg, "attn_layer_offset", default=4)
    exp_period = as_int(cfg, "expert_layer_period", default=2)
    exp_offset = as_int(cfg, "expert_layer_offset", default=1)
    d_inner = int(get(cfg, "mamba_expand", default=2) * hidden)
    dt_rank = get(cfg, "mamba_dt_rank", default="auto")
    dt_rank = math.ceil(hidden / 16) if dt_rank == "auto" else int(dt_rank)
    mamba = SSM(variant="mamba1", d_inner=d_inner, d_state=as_int(cfg, "mamba_d_state", default=16),
                conv_kernel=as_int(cfg, "mamba_d_conv", default=4),
                conv_bias=bool(get(cfg, "mamba_conv_bias", default=True)),
                proj_bias=bool(get(cfg, "mamba_proj_bias", default=False)),
                dt_rank=dt_rank, inner_norms=True, gated_norm=False)
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=False, out_bias=False, rope=False)
    experts = as_int(cfg, "num_experts", default=16)
    # Jamba keeps the top-k softmax weights as they are (JambaTopKRouter)
    moe = MoEFFN(experts=experts, top_k=as_int(cfg, "num_experts_per_tok", default=2),
                 d_expert=as_int(cfg, "intermediate_size"), normalize_top_k=False)
    dense = dense_ffn(cfg)
    layers = []
    for i in range(n):
        mixer = attn if i % attn_period == attn_offset else mamba
        ffn = moe if experts > 1 and i % exp_period == exp_offset else dense
        layers.append(Layer((mixer,), (ffn,)))
    return build_spec(cfg, name, layers, position="none", default_context=262144)


_NEMOTRON_KINDS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}


def import_nemotron_h(cfg: Config, name: str):
    hidden = as_int(cfg, "hidden_size")
    block_types = get(cfg, "layers_block_type")
    n = as_int(cfg, "num_hidden_layers", default=len(block_types) if block_types else None)
    pattern = get(cfg, "hybrid_override_pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or len(pattern) != n or set(pattern) - set(_NEMOTRON_KINDS):
            raise SpecError("config.hybrid_override_pattern",
                            f"must be {n} characters from M, *, -, E; got {pattern!r}")
        kinds = [_NEMOTRON_KINDS[c] for c in pattern]
    else:
        kinds = [{"full_attention": "attention", "linear_attention": "mamba"}.get(t, t)
                 for t in (block_types or get(cfg, "layer_types") or [])][:n]
        if len(kinds) != n or set(kinds) - set(_NEMOTRON_KINDS.values()):
            raise SpecError("config.layers_block_type",
                            f"must list {n} layer kinds from mamba, attention, mlp, moe")
    heads = as_int(cfg, "num_attention_heads")
    attn = Attention(heads=heads, kv_heads=as_int(cfg, "num_key_value_heads", default=heads),
                     head_dim=as_int(cfg, "head_dim", "attention_head_dim", default=hidden // heads),
                     qkv_bias=bool(get(cfg, "attention_bias", default=False)),
                     out_bias=bool(get(cfg, "attention_bias", default=False)), rope=False)
    mamba = _mamba2(cfg, hidden, prefix="mamba_", heads_key="num_heads", head_dim_key="head_dim")
    mamba = SSM(**{**mamba.__dict__, "d_state": as_int(cfg, "ssm_state_size", default=128),
                   "groups": as_int(cfg, "n_groups", default=1),
                   "conv_kernel": as_int(cfg, "conv_kernel", default=4),
                   "conv_bias": bool(get(cfg, "use_conv_bias", default=True)),
                   "proj_bias": bool(get(cfg, "use_bias", default=False))})
    act = activation(get(cfg, "mlp_hidden_act", default="relu2"))
    mlp = dense_ffn(cfg, gated=False, activation=act, bias=bool(get(cfg, "mlp_bias", default=False)))
    blocks = {"mamba": Layer((mamba,), ()), "attention": Layer((attn,), ()),
              "mlp": Layer((), (mlp,))}
    if "moe" in kinds:
        moe = MoEFFN(experts=as_int(cfg, "n_routed_experts"), top_k=as_int(cfg, "num_experts_per_tok"),
                     d_expert=as_int(cfg, "moe_intermediate_size"), gated=False, activation=act,
                     shared_experts=as_int(cfg, "n_shared_experts", default=1),
                     **routing(cfg),
                     d_shared=as_int(cfg, "moe_shared_expert_intermediate_size", default=0),
                     router_score_bias=True)
        blocks["moe"] = Layer((), (moe,))
    return build_spec(cfg, name, [blocks[k] for k in kinds], position="none")


def import_granite_hybrid(cfg: Config, name: str):
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    types = get(cfg, "layer_types", "layers_block_type") or ["mamba"] * n
    bias = bool(get(cfg, "attention_bias", default=False))
    pos = str(get(cfg, "position_embedding_type", default="rope"))
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=bias, out_bias=bias, rope=pos == "rope")
    mamba = _mamba2(cfg, hidden, prefix="mamba_", heads_key="n_heads", head_dim_key="d_head")
    experts = as_int(cfg, "num_local_experts", default=0)
    shared = as_int(cfg, "shared_intermediate_size")
    if experts > 0:
        ffn = MoEFFN(experts=experts, top_k=as_int(cfg, "num_experts_per_tok"),
                     d_expert=as_int(cfg, "intermediate_size"), shared_experts=1, d_shared=shared)
    else:
        ffn = dense_ffn(cfg, shared)
    layers = [Layer((mamba if t in ("mamba", "linear_attention") else attn,), (ffn,))
              for t in types[:n]]
    return build_spec(cfg, name, layers, position="rope" if pos == "rope" else "none")


def import_bamba(cfg: Config, name: str):
    """Bamba: Mamba-2 layers with attention at attn_layer_indices, a SwiGLU in every layer."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attention_at = set(get(cfg, "attn_layer_indices", default=[]) or [])
    types = layer_types(cfg, n) or ["attention" if i in attention_at else "mamba" for i in range(n)]
    bias = bool(get(cfg, "attention_bias", default=False))
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=bias, out_bias=bias)
    d_inner = int(get(cfg, "mamba_expand", default=2) * hidden)
    readable = {k: v for k, v in cfg.items() if not (k == "mamba_d_head" and v == "auto")}
    mamba = _mamba2(readable, hidden, prefix="mamba_", heads_key="n_heads", head_dim_key="d_head",
                    d_inner=d_inner)
    ffn = dense_ffn(cfg)
    layers = [Layer((attn if t in ("attention", "full_attention") else mamba,), (ffn,)) for t in types[:n]]
    return build_spec(cfg, name, layers)


def _multipliers(cfg: Config, key: str, count: int) -> tuple[float, ...]:
    """A list of ``count`` positive multipliers (absent or null: ones)."""
    values = cfg.get(key)
    if values is None:
        return (1.0,) * count
    if not isinstance(values, list) or len(values) != count or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 for v in values):
        raise SpecError(f"config.{key}", f"must list {count} positive numbers, got {values!r}")
    return tuple(float(v) for v in values)


def import_falcon_h1(cfg: Config, name: str):
    """Falcon-H1: attention and Mamba-2 side by side on one norm, then a SwiGLU MLP, with muP's
    multipliers inside the layer (the attention's input, keys and output; the SSM's input, its z, x,
    B, C and dt rows and its output; the MLP's gate and output). Embedding and logit multipliers
    are the spec's own."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    bias = bool(get(cfg, "attention_bias", default=False))
    mult = {key: positive_scalar(cfg, key, 1.0) for key in (
        "attention_in_multiplier", "key_multiplier", "attention_out_multiplier", "ssm_in_multiplier",
        "ssm_out_multiplier")}
    gate_scale, down_scale = _multipliers(cfg, "mlp_multipliers", 2)
    proj_scales = _multipliers(cfg, "ssm_multipliers", 5)
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=bias, out_bias=bias,
                         in_scale=mult["attention_in_multiplier"], key_scale=mult["key_multiplier"],
                         out_scale=mult["attention_out_multiplier"])
    d_inner = get(cfg, "mamba_d_ssm") or int(get(cfg, "mamba_expand", default=2) * hidden)
    mamba = SSM(variant="mamba2", d_inner=int(d_inner), heads=as_int(cfg, "mamba_n_heads"),
                d_state=as_int(cfg, "mamba_d_state"), groups=as_int(cfg, "mamba_n_groups", default=1),
                conv_kernel=as_int(cfg, "mamba_d_conv", default=4),
                conv_bias=bool(get(cfg, "mamba_conv_bias", default=True)),
                proj_bias=bool(get(cfg, "mamba_proj_bias", default=False)),
                gated_norm=bool(get(cfg, "mamba_rms_norm", default=False)),
                in_scale=mult["ssm_in_multiplier"], out_scale=mult["ssm_out_multiplier"],
                proj_scales=() if proj_scales == (1.0,) * 5 else proj_scales)
    ffn = dense_ffn(cfg, bias=bool(get(cfg, "mlp_bias", default=False)), gate_scale=gate_scale,
                    out_scale=down_scale)
    if get(cfg, "projectors_bias"):
        raise SpecError("config.projectors_bias", "Falcon-H1 with projector biases is not supported yet")
    layer = Layer((attn, mamba), (ffn,), norms=2)
    return build_spec(cfg, name, [layer] * n)


def _lfm2_d_ff(cfg: Config) -> int:
    """LFM2's MLP width as Lfm2MLP derives it: with block_auto_adjust_ff_dim (the default) two
    thirds of block_ff_dim (Liquid's name, which transformers reads before intermediate_size),
    times block_ffn_dim_multiplier and rounded up to block_multiple_of unless the multiplier is
    null."""
    ff = as_int(cfg, "block_ff_dim", "intermediate_size")
    if not get(cfg, "block_auto_adjust_ff_dim", default=True):
        return ff
    ff = int(2 * ff / 3)
    multiplier = cfg.get("block_ffn_dim_multiplier", 1.0)     # null (not absent) skips both steps
    if multiplier is None:
        return ff
    ff = int(float(multiplier) * ff)
    multiple = as_int(cfg, "block_multiple_of", default=256)
    return multiple * -(-ff // multiple)


def import_lfm2(cfg: Config, name: str):
    """LFM2 (lfm2) and LFM2-MoE (lfm2_moe): gated short-convolution layers with GQA attention
    layers (QK-norm per head, no biases) named by layer_types or full_attn_idxs (all attention when
    neither is given, as transformers reads it); LFM2-MoE's layers after num_dense_layers route to
    experts with a score-correction bias (use_expert_bias)."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    types = layer_types(cfg, n)
    if types is None:
        idxs = get(cfg, "full_attn_idxs")
        full = set(range(n)) if idxs is None else {int(i) for i in idxs}
        types = ["full_attention" if i in full else "conv" for i in range(n)]
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="head", qkv_bias=False, out_bias=False)
    conv = ShortConv(channels=hidden, kernel=as_int(cfg, "conv_L_cache", default=3),
                     bias=bool(get(cfg, "conv_bias", default=False)))
    if cfg["model_type"] == "lfm2_moe":
        dense_layers = as_int(cfg, "num_dense_layers", default=2)
        dense = dense_ffn(cfg, activation="silu", bias=False)
        moe = MoEFFN(experts=as_int(cfg, "num_experts"), top_k=as_int(cfg, "num_experts_per_tok"),
                     d_expert=as_int(cfg, "moe_intermediate_size"), activation="silu",
                     router_score_bias=bool(get(cfg, "use_expert_bias", default=True)),
                     **routing(cfg))
        ffns = [dense if i < dense_layers else moe for i in range(n)]
    else:
        ffns = [dense_ffn(cfg, d_ff=_lfm2_d_ff(cfg), activation="silu", bias=False)] * n
    layers = [Layer((conv if t == "conv" else attn,), (f,)) for t, f in zip(types, ffns)]
    tie = get(cfg, "tie_embedding")          # Liquid's key; transformers lets it win
    return build_spec(cfg, name, layers, **({} if tie is None else {"tie_embeddings": bool(tie)}))


def import_olmo_hybrid(cfg: Config, name: str):
    """OLMo hybrid (AI2): Gated DeltaNet layers (separate q, k, v, a, b and gate projections, as
    many weights as Qwen3-Next's fused ones; linear_* sizes, by default a key head of 0.75 x hidden
    / heads and value heads twice that) under pre-norms, and every 4th layer OLMo 3's attention
    (QK-norm over all heads) with its norms after the sublayers; RoPE only where rope_parameters
    states a base (the released checkpoints have none)."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    heads = as_int(cfg, "num_attention_heads")
    types = layer_types(cfg, n)
    if types is None:
        types = ["full_attention" if i % 4 == 3 else "linear_attention" for i in range(n)]
        if "full_attention" not in types:
            types[-1] = "full_attention"
    key_heads = as_int(cfg, "linear_num_key_heads", default=heads)
    key_dim = as_int(cfg, "linear_key_head_dim", default=int(0.75 * hidden / key_heads))
    gdn = LinearAttention(key_heads=key_heads, value_heads=as_int(cfg, "linear_num_value_heads", default=heads),
                          key_dim=key_dim, value_dim=as_int(cfg, "linear_value_head_dim", default=2 * key_dim),
                          conv_kernel=as_int(cfg, "linear_conv_kernel_dim", default=4),
                          negative_eigenvalues=bool(get(cfg, "linear_allow_neg_eigval", default=True)))
    params = cfg.get("rope_parameters")
    rope = isinstance(params, Mapping) and params.get("rope_theta") is not None
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="full", rope=rope)
    ffn = dense_ffn(cfg, bias=False)
    layers = [Layer((attn,), (ffn,), placement="post") if t == "full_attention" else Layer((gdn,), (ffn,))
              for t in types]
    return build_spec(cfg, name, layers, position="rope" if rope else "none")


def import_lfm3(cfg: Config, name: str):
    """LFM3 (Liquid): LFM2's gated short convolutions (kernel conv_L_cache, 7) with sliding and full
    attention layers (QK-norm per head, a sigmoid gate per head from g_proj unless
    use_attention_gate is false; the full layers rotate half of each head), SwiGLU MLPs of
    intermediate_size, sandwich norms unless use_sandwich_norm is false; by default layer 2 and
    every 4th after it full, every other 4th from 4 sliding, the rest convolutions."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    types = layer_types(cfg, n) or ["full_attention" if i % 4 == 2 else
                                    "sliding_attention" if i % 4 == 0 and i > 0 else "conv" for i in range(n)]
    window = nullable_int(cfg, "sliding_window", 256)
    fractions = rope_fraction_by_layer_type(cfg, {"full_attention": 0.5, "sliding_attention": 1.0})
    gate = "sigmoid" if get(cfg, "use_attention_gate", default=True) else "none"
    conv = ShortConv(channels=hidden, kernel=as_int(cfg, "conv_L_cache", default=7),
                     bias=bool(get(cfg, "conv_bias", default=False)))
    ffn = dense_ffn(cfg, activation="silu", bias=False)
    layers = []
    for t in types:
        if t == "conv":
            layers.append(Layer((conv,), (ffn,)))
            continue
        kind, w = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=w, qk_norm="head", head_gate=gate,
                             rope_fraction=fractions.get(t, 1.0))
        layers.append(Layer((attn,), (ffn,)))
    placement = "sandwich" if get(cfg, "use_sandwich_norm", default=True) else "pre"
    return build_spec(cfg, name, layers, norm_placement=placement)


IMPORTERS = {
    "qwen3_next": import_qwen3_next,
    "qwen3_5_text": import_qwen3_next,
    "qwen3_5_moe_text": import_qwen3_next,
    "minimax": import_minimax,
    "mamba": import_mamba1,
    "falcon_mamba": import_mamba1,
    "mamba2": import_mamba2,
    "jamba": import_jamba,
    "nemotron_h": import_nemotron_h,
    "granitemoehybrid": import_granite_hybrid,
    "falcon_h1": import_falcon_h1,
    "bamba": import_bamba,
    "lfm2": import_lfm2,
    "lfm2_moe": import_lfm2,
    "lfm3": import_lfm3,
    "olmo_hybrid": import_olmo_hybrid,
}


# mamba_ssm's own checkpoint format (state-spaces/mamba2-*): no model_type, MambaConfig keys, and
# the Mamba2 module's defaults for what ssm_cfg leaves out (mamba_ssm/models/config_mamba.py,
# mamba_ssm/modules/mamba2.py). Read as transformers' conversion script reads it
# (convert_mamba2_ssm_checkpoint_to_pytorch.py): a mamba2 config with the vocabulary padded.
MAMBA_SSM_KEYS = ("d_model", "n_layer", "ssm_cfg")
_MAMBA2_DEFAULTS = {"d_state": 128, "d_conv": 4, "expand": 2, "headdim": 64, "ngroups": 1,
                    "bias": False, "conv_bias": True}


def is_mamba_ssm_config(cfg: Config) -> bool:
    return "model_type" not in cfg and all(k in cfg for k in MAMBA_SSM_KEYS)


def import_mamba_ssm(cfg: Config, name: str):
    ssm_cfg = dict(cfg.get("ssm_cfg") or {})
    layer = ssm_cfg.pop("layer", "Mamba1")
    if layer != "Mamba2":
        raise SpecError("config.ssm_cfg.layer", f"mamba_ssm {layer} checkpoints are not supported "
                                                "(Mamba2 is)")
    if cfg.get("attn_layer_idx"):
        raise SpecError("config.attn_layer_idx", "mamba_ssm checkpoints with attention layers are "
                                                 "not supported")
    if as_int(cfg, "d_intermediate", default=0):
        raise SpecError("config.d_intermediate", "mamba_ssm checkpoints with MLP layers are not "
                                                 "supported")
    known = set(_MAMBA2_DEFAULTS) | {"d_ssm", "rmsnorm", "norm_before_gate", "chunk_size",
                                     "dt_min", "dt_max", "dt_init_floor", "dt_limit",
                                     "A_init_range", "D_has_hdim", "conv_init"}
    unknown = sorted(set(ssm_cfg) - known)
    if unknown:
        raise SpecError("config.ssm_cfg", f"unknown Mamba2 settings: {', '.join(unknown)}")
    if ssm_cfg.get("D_has_hdim") or ssm_cfg.get("d_ssm") or ssm_cfg.get("rmsnorm") is False:
        raise SpecError("config.ssm_cfg", "D_has_hdim, d_ssm and rmsnorm=false are not supported")
    if not get(cfg, "rms_norm", default=True):
        raise SpecError("config.rms_norm", "mamba_ssm checkpoints with LayerNorm are not supported")
    s = {**_MAMBA2_DEFAULTS, **ssm_cfg}
    d = as_int(cfg, "d_model")
    multiple = as_int(cfg, "pad_vocab_size_multiple", default=8)
    vocab = as_int(cfg, "vocab_size")
    vocab += (-vocab) % multiple
    d_inner = int(s["expand"] * d)
    translated = {
        "model_type": "mamba2", "hidden_size": d, "num_hidden_layers": as_int(cfg, "n_layer"),
        "vocab_size": vocab, "state_size": int(s["d_state"]), "expand": s["expand"],
        "head_dim": int(s["headdim"]), "num_heads": d_inner // int(s["headdim"]),
        "n_groups": int(s["ngroups"]), "conv_kernel": int(s["d_conv"]),
        "use_bias": bool(s["bias"]), "use_conv_bias": bool(s["conv_bias"]),
        "tie_word_embeddings": bool(get(cfg, "tie_embeddings", default=True)),
    }
    return import_mamba2(translated, name)
