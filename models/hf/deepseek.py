"""Multi-head latent attention models: DeepSeek-V2/V3 (and Kimi K2, which uses the V3 config;
GLM-4.7-Flash, which uses V3's layer), DeepSeek-V3.2 and GLM-5 (V3's layer with DeepSeek Sparse
Attention), Kimi Linear (KDA linear attention with MLA global layers), Ling 3.0 (bailing_hybrid:
KDA with full-rank, bounded gates beside gated MLA), LongCat-Flash (two MLA sublayers and a
shortcut MoE with zero-computation experts per layer), Youtu-LLM and MiniCPM3 (MLA over dense
layers), A.X K1 (V3's layer with a norm after each MoE block), A.X K2 (V3.2's layer with a query
gate and gated norms) and Mistral 4 (V3's layer, softmax routing)."""
from __future__ import annotations

import math

from ..spec import MLA, Layer, LinearAttention, MoEFFN, SpecError
from .common import (YARN_MSCALE_TYPES, Config, activation, as_int, build_spec, dense_ffn, get, layer_types,
                     mlp_layer_types, nullable_int, position_temperature, routing, yarn_mscale)


# DeepseekV3Config's latent sizes, which Youtu's and A.X K1's config classes keep: kv_lora_rank,
# qk_nope_head_dim, qk_rope_head_dim, v_head_dim
_V3_SIZES = (512, 128, 64, 128)


def _mla(cfg: Config, sizes: tuple = (None, None, None, None), **fields) -> MLA:
    """MLA from the config's keys; ``sizes`` are the config class's defaults for the latent sizes
    (None: the key is required)."""
    rank, nope, rope, v = sizes
    base = dict(heads=as_int(cfg, "num_attention_heads"),
                kv_lora_rank=as_int(cfg, "kv_lora_rank", default=rank),
                qk_nope_dim=as_int(cfg, "qk_nope_head_dim", default=nope),
                qk_rope_dim=as_int(cfg, "qk_rope_head_dim", default=rope),
                v_head_dim=as_int(cfg, "v_head_dim", default=v),
                q_lora_rank=as_int(cfg, "q_lora_rank", default=0),
                bias=bool(get(cfg, "attention_bias", default=False)))
    mscale = yarn_mscale(cfg) if cfg.get("model_type") in YARN_MSCALE_TYPES else 1.0
    if mscale != 1.0:
        base["scale"] = (base["qk_nope_dim"] + base["qk_rope_dim"]) ** -0.5 * mscale * mscale
    base.update(position_temperature(cfg))
    base.update(fields)
    return MLA(**base)


def _routed(cfg: Config, **fields) -> MoEFFN:
    base = dict(experts=as_int(cfg, "n_routed_experts", "num_experts", "num_local_experts"),
                top_k=as_int(cfg, "num_experts_per_tok", "num_experts_per_token", "moe_topk"),
                d_expert=as_int(cfg, "moe_intermediate_size", "expert_ffn_hidden_size"),
                shared_experts=as_int(cfg, "n_shared_experts", "num_shared_experts", default=0),
                activation=activation(get(cfg, "hidden_act", default="silu")),
                **routing(cfg))
    base.update(fields)
    return MoEFFN(**base)


def _sparse_layers(cfg: Config, n: int) -> list[bool]:
    """DeepSeek's first_k_dense_replace and moe_layer_freq."""
    first = as_int(cfg, "first_k_dense_replace", default=0)
    freq = as_int(cfg, "moe_layer_freq", default=1)
    return [i >= first and i % freq == 0 for i in range(n)]


# DeepSeek Sparse Attention: transformers' defaults (index_n_heads, index_head_dim, index_topk)
# and leading dense layers for the types whose layers carry the lightning indexer
_DSA_DEFAULTS = {"deepseek_v32": (64, 128, 2048), "glm_moe_dsa": (32, 128, 2048), "axk2": (16, 128, 2048)}
# first_k_dense_replace when a config leaves both it and mlp_layer_types out
_FIRST_DENSE_BY_DEFAULT = {"glm4_moe_lite": 1, "deepseek_v32": 3, "glm_moe_dsa": 3}


def _dsa_fields(cfg: Config) -> dict:
    """The MLA fields of DeepSeek-V3.2's indexer (GLM-5 reuses it). GLM's "shared" indexer layers,
    which reuse an earlier layer's top-k selection, are refused rather than costed as full ones."""
    heads, head_dim, topk = _DSA_DEFAULTS[cfg["model_type"]]
    shared = [t for t in (get(cfg, "indexer_types") or []) if t != "full"]
    if shared or get(cfg, "index_topk_pattern") or as_int(cfg, "index_topk_freq", default=1) > 1:
        raise SpecError("config.indexer_types", "layers that reuse another layer's top-k selection "
                                                "(\"shared\" indexers) are not modelled yet")
    return dict(index_heads=as_int(cfg, "index_n_heads", default=heads),
                index_head_dim=as_int(cfg, "index_head_dim", default=head_dim),
                index_topk=as_int(cfg, "index_topk", default=topk),
                # DeepSeek-V3.2's indexer (A.X K2's too) turns halves beside its MLA's interleaved pairs
                index_rope_halves=cfg["model_type"] in ("deepseek_v32", "axk2"))


def import_deepseek(cfg: Config, name: str):
    """deepseek_v2 / deepseek_v3; DeepSeek-V3.2 (deepseek_v32) and GLM-5 (glm_moe_dsa): V3's layer
    with DSA's lightning indexer; GLM-4.7-Flash (glm4_moe_lite: V3's layer). The last three name
    their dense layers by mlp_layer_types. V3 adds the per-expert score-correction bias and MTP."""
    n = as_int(cfg, "num_hidden_layers")
    model_type = cfg["model_type"]
    v3 = model_type != "deepseek_v2"
    mla = _mla(cfg, **(_dsa_fields(cfg) if model_type in _DSA_DEFAULTS else {}))
    moe = _routed(cfg, router_score_bias=v3)
    dense = dense_ffn(cfg)
    sparse_layers = _sparse_layers(cfg, n)
    if model_type in _FIRST_DENSE_BY_DEFAULT:
        types = get(cfg, "mlp_layer_types")
        first = as_int(cfg, "first_k_dense_replace", default=_FIRST_DENSE_BY_DEFAULT[model_type])
        sparse_layers = [t == "sparse" for t in types[:n]] if isinstance(types, list) and len(types) >= n \
            else [i >= first for i in range(n)]
    layers = [Layer((mla,), (moe if sparse else dense,)) for sparse in sparse_layers]
    return build_spec(cfg, name, layers,
                      mtp_depth=as_int(cfg, "num_nextn_predict_layers", default=0))


# Mistral4Config's latent sizes (Mistral Small 4) and q_lora_rank
_MISTRAL4_SIZES = (256, 64, 64, 128)
_MISTRAL4_Q_LORA = 1024


def import_mistral4(cfg: Config, name: str):
    """Mistral 4 (Mistral Small 4): DeepSeek-V3's MLA and MoE layer with a plain softmax router (no
    score-correction bias); where experts are grouped, groups rank by their two best scores. The
    first first_k_dense_replace layers (default none) keep a dense MLP."""
    n = as_int(cfg, "num_hidden_layers")
    mla = _mla(cfg, _MISTRAL4_SIZES, q_lora_rank=nullable_int(cfg, "q_lora_rank", _MISTRAL4_Q_LORA))
    moe = _routed(cfg, groups_by_two_best=True)
    first = as_int(cfg, "first_k_dense_replace", default=0)
    dense = dense_ffn(cfg)
    return build_spec(cfg, name, [Layer((mla,), (moe if i >= first else dense,)) for i in range(n)])


def import_youtu(cfg: Config, name: str):
    """Youtu-LLM (Tencent): MLA (queries through a 1536-rank latent unless q_lora_rank is null) and a
    SwiGLU MLP in every layer; no experts; the head tied by default."""
    n = as_int(cfg, "num_hidden_layers")
    mla = _mla(cfg, _V3_SIZES, q_lora_rank=nullable_int(cfg, "q_lora_rank", 1536))
    return build_spec(cfg, name, [Layer((mla,), (dense_ffn(cfg, bias=False),))] * n)


# MiniCPM3Config's defaults (openbmb/MiniCPM3-4B): the latent sizes as in _V3_SIZES (v_head_dim:
# None, hidden_size / heads), q_lora_rank, and the three muP scalars scale_emb, scale_depth and
# dim_model_base
_MINICPM3_SIZES = (256, 64, 32, None)
_MINICPM3_Q_LORA = 768
_MINICPM3_MUP = (12.0, 1.4, 256)


def import_minicpm3(cfg: Config, name: str):
    """MiniCPM3 (OpenBMB): Llama's layer with DeepSeek-V2's MLA (RoPE on halves, not pairs) and muP's
    scalars: embeddings times scale_emb, each sub-layer's output times scale_depth / sqrt(layers)
    before its residual add, the final hidden state divided by hidden_size / dim_model_base before
    the head. A null scale_depth or dim_model_base makes its scalar 1, as MiniCPM3Config does."""
    n = as_int(cfg, "num_hidden_layers")
    hidden = as_int(cfg, "hidden_size")
    heads = as_int(cfg, "num_attention_heads")
    rank, nope, rope, _ = _MINICPM3_SIZES
    mla = _mla(cfg, (rank, nope, rope, hidden // heads),
               q_lora_rank=nullable_int(cfg, "q_lora_rank", _MINICPM3_Q_LORA))
    emb, depth, base = _MINICPM3_MUP
    scale_depth = _mup_scalar(cfg, "scale_depth", depth, none=math.sqrt(n))
    dim_model_base = _mup_scalar(cfg, "dim_model_base", base, none=hidden)
    return build_spec(cfg, name, [Layer((mla,), (dense_ffn(cfg),))] * n,
                      embedding_scale=_mup_scalar(cfg, "scale_emb", emb, none=None),
                      residual_scale=scale_depth / math.sqrt(n), logit_scale=dim_model_base / hidden)


def _mup_scalar(cfg: Config, key: str, default: float, *, none: float | None) -> float:
    """A positive muP scalar under ``key``: absent, the config class's default; null, ``none`` (the
    value that makes it a no-op), where the class allows null."""
    value = cfg.get(key, default)
    if value is None and none is not None:
        return float(none)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SpecError(f"config.{key}", f"must be a positive number, got {value!r}")
    return float(value)


# A.X K1's sparse layers: input and post-attention norms, and post_mlp_layernorm on the MoE output
_AXK1_SPARSE_NORMS = 3


def _ax_mlp_types(cfg: Config, n: int) -> list[str]:
    """A.X K1's and K2's "dense" or "sparse" per layer: mlp_layer_types, else from
    first_k_dense_replace (default 1) and moe_layer_freq."""
    first = as_int(cfg, "first_k_dense_replace", default=1)
    freq = as_int(cfg, "moe_layer_freq", default=1)
    if freq <= 0:
        raise SpecError("config.moe_layer_freq", f"must be positive, got {freq}")
    return mlp_layer_types(cfg, n, ["sparse" if i >= first and i % freq == 0 else "dense" for i in range(n)])


def import_axk1(cfg: Config, name: str):
    """A.X K1 (SK Telecom): DeepSeek-V3's layers (MLA with a query latent; sigmoid-routed experts
    with a score-correction bias and shared experts) with an RMSNorm on each MoE block's output;
    dense layers by mlp_layer_types, else the first first_k_dense_replace and those off
    moe_layer_freq."""
    n = as_int(cfg, "num_hidden_layers")
    q_lora = nullable_int(cfg, "q_lora_rank", 1536)
    if not q_lora:
        raise SpecError("config.q_lora_rank", "A.X K1 always projects its queries through a latent: "
                                              "must be positive")
    mla = _mla(cfg, _V3_SIZES, q_lora_rank=q_lora)
    moe = _routed(cfg, router_score_bias=True, shared_experts=as_int(cfg, "n_shared_experts", default=1))
    types = _ax_mlp_types(cfg, n)
    dense = Layer((mla,), (dense_ffn(cfg, bias=False),))
    sparse = Layer((mla,), (moe,), norms=_AXK1_SPARSE_NORMS)
    return build_spec(cfg, name, [sparse if t == "sparse" else dense for t in types],
                      mtp_depth=as_int(cfg, "num_nextn_predict_layers", default=0))


# AXK2Config's latent sizes (A.X K2 Light), its q_lora_rank and gated_norm_rank
_AXK2_SIZES = (128, 64, 32, 64)
_AXK2_Q_LORA, _AXK2_GATE_RANK = 384, 16


def import_axk2(cfg: Config, name: str):
    """A.X K2 (SK Telecom): DeepSeek-V3.2's layer (MLA with DSA's lightning indexer; sigmoid-routed
    experts with a score-correction bias and shared experts), with three changes: the queries come
    from q_gate_proj over the query latent beside its normed self, which also gives a sigmoid gate
    per channel of the attention output; every layer's input RMSNorm is gated by a low-rank MLP
    (gated_norm_rank), and so is the MoE layers' post-attention one. Dense layers by
    mlp_layer_types, else the first first_k_dense_replace (default 1)."""
    n = as_int(cfg, "num_hidden_layers")
    q_lora = nullable_int(cfg, "q_lora_rank", _AXK2_Q_LORA)
    if not q_lora:
        raise SpecError("config.q_lora_rank", "A.X K2's query and output gate read the query latent: "
                                              "must be positive")
    rank = as_int(cfg, "gated_norm_rank", default=_AXK2_GATE_RANK)
    mla = _mla(cfg, _AXK2_SIZES, q_lora_rank=q_lora, q_gate=True, **_dsa_fields(cfg))
    moe = _routed(cfg, router_score_bias=True)
    dense = Layer((mla,), (dense_ffn(cfg, bias=False),), norm_gates=(rank, 0))
    sparse = Layer((mla,), (moe,), norm_gates=(rank, rank))
    return build_spec(cfg, name, [sparse if t == "sparse" else dense for t in _ax_mlp_types(cfg, n)])


def import_kimi_linear(cfg: Config, name: str):
    """Kimi Linear: KDA (kimi_delta) layers with MLA global layers (NoPE) at a 3:1 ratio;
    MoE with shared experts after first_k_dense_replace dense layers."""
    n = as_int(cfg, "num_hidden_layers")
    lin = cfg.get("linear_attn_config") or {}
    types = layer_types(cfg, n)
    if types is None:
        full = set(lin.get("full_attn_layers") or [])
        types = ["full_attention" if (i + 1) in full else "linear_attention" for i in range(n)]
    heads = int(lin.get("num_heads") or as_int(cfg, "linear_num_heads"))
    hd = int(lin.get("head_dim") or as_int(cfg, "linear_head_dim"))
    kda = LinearAttention(key_heads=heads, value_heads=heads, key_dim=hd, value_dim=hd,
                          variant="kimi_delta",
                          conv_kernel=int(lin.get("short_conv_kernel_size")
                                          or get(cfg, "linear_conv_kernel_dim", default=4)))
    mla = _mla(cfg, rope=False)
    mlp_types = get(cfg, "mlp_layer_types")
    if mlp_types is None:
        first = as_int(cfg, "first_k_dense_replace", default=1)
        mlp_types = ["dense" if i < first else "sparse" for i in range(n)]
    moe = _routed(cfg, router_score_bias=True)
    dense = dense_ffn(cfg)
    layers = [Layer((mla if t == "full_attention" else kda,), (moe if m == "sparse" else dense,))
              for t, m in zip(types, mlp_types)]
    return build_spec(cfg, name, layers, position="none")


# BailingHybridConfig's latent sizes (kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim)
_BAILING_SIZES = (512, 128, 64, 128)


def import_bailing_hybrid(cfg: Config, name: str):
    """Ling 3.0 (bailing_hybrid, inclusionAI): five KDA layers to one MLA layer (layer_group_size);
    the KDA's forget and output gates full rank and its forget gate bounded (kda_safe_gate:
    kda_lower_bound x sigmoid, else Kimi's softplus); MLA with queries projected directly, RoPE on
    interleaved pairs and a sigmoid gate per head; DeepSeek-V3's MoE after first_k_dense_replace
    dense layers (or mlp_layer_types); MTP layers beside the model."""
    n = as_int(cfg, "num_hidden_layers")
    types = layer_types(cfg, n)
    if types is None:
        group = as_int(cfg, "layer_group_size", default=6)
        if group <= 0:
            raise SpecError("config.layer_group_size", f"must be positive, got {group}")
        types = ["full_attention" if (i + 1) % group == 0 else "linear_attention" for i in range(n)]
    # the KDA's sizes: linear_* as transformers writes them, else the keys Ling's files use
    heads = as_int(cfg, "linear_num_heads", "num_attention_heads")
    hd = as_int(cfg, "linear_head_dim", "head_dim", default=128)
    safe = bool(get(cfg, "kda_safe_gate", default=True))
    bound = get(cfg, "kda_lower_bound", default=-5.0) if safe else 0.0
    if isinstance(bound, bool) or not isinstance(bound, (int, float)):
        raise SpecError("config.kda_lower_bound", f"must be a negative number, got {bound!r}")
    kda = LinearAttention(key_heads=heads, value_heads=heads, key_dim=hd, value_dim=hd, variant="kimi_delta",
                          conv_kernel=as_int(cfg, "linear_conv_kernel_dim", "short_conv_kernel_size", default=4),
                          full_rank_gates=True, gate_lower_bound=float(bound))
    mla = _mla(cfg, _BAILING_SIZES, q_lora_rank=0, head_gate="sigmoid")
    first = as_int(cfg, "first_k_dense_replace", default=2)
    mlp_types = mlp_layer_types(cfg, n, ["dense" if i < first else "sparse" for i in range(n)])
    # Ling's names beside DeepSeek's (transformers' attribute_map): num_shared_experts, moe_renormalize
    moe = _routed(cfg, router_score_bias=True,
                  shared_experts=as_int(cfg, "n_shared_experts", "num_shared_experts", default=1),
                  normalize_top_k=bool(get(cfg, "norm_topk_prob", "moe_renormalize", default=True)))
    dense = dense_ffn(cfg)
    layers = [Layer((mla if t == "full_attention" else kda,), (moe if m == "sparse" else dense,))
              for t, m in zip(types, mlp_types)]
    return build_spec(cfg, name, layers,
                      mtp_depth=as_int(cfg, "num_mtp_layers", "num_nextn_predict_layers", default=1))


def import_longcat(cfg: Config, name: str):
    """LongCat-Flash: each of num_layers layers holds two MLA sublayers, two dense MLPs and one
    MoE (512 experts + 256 zero-computation experts, top-12) fed by a shortcut connection."""
    n = as_int(cfg, "num_layers", "num_hidden_layers")
    mla = _mla(cfg)
    dense = dense_ffn(cfg, as_int(cfg, "ffn_hidden_size", "intermediate_size"))
    moe = _routed(cfg, zero_experts=as_int(cfg, "zero_expert_num", default=0),
                  router_bias=bool(get(cfg, "router_bias", default=False)),
                  router_score_bias=True, shared_experts=0)
    layer = Layer((mla, mla), (dense, dense, moe), norms=4)
    return build_spec(cfg, name, [layer] * n)


IMPORTERS = {
    "deepseek_v2": import_deepseek,
    "deepseek_v3": import_deepseek,
    "kimi_k2": import_deepseek,
    "glm4_moe_lite": import_deepseek,
    "deepseek_v32": import_deepseek,
    "glm_moe_dsa": import_deepseek,
    "kimi_linear": import_kimi_linear,
    "bailing_hybrid": import_bailing_hybrid,
    "longcat_flash": import_longcat,
    "youtu": import_youtu,
    "minicpm3": import_minicpm3,
    "axk1": import_axk1,
    "mistral4": import_mistral4,
    "axk2": import_axk2,
}
