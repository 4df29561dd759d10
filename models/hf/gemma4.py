"""Gemma 4 (gemma4_text): Gemma 3's sandwich-normed layers, five sliding layers to one global, with
what Gemma 4 adds:

- global layers with their own head size (``global_head_dim``) and, where keys double as values
  (``attention_k_eq_v``), their own KV head count and no v_proj;
- a weightless RMSNorm on the values of every layer;
- the small "E" models' KV sharing (the last ``num_kv_shared_layers`` layers read the cache of the
  last earlier layer of their kind), wider MLPs in those layers (``use_double_wide_mlp``) and
  per-layer input embeddings (``hidden_size_per_layer_input``);
- the 26B-A4B's MoE block beside the dense MLP in every layer, with three norms of its own.

The gemma4 checkpoints wrap it with a ViT (2D positions, no class token) and, in the E models, a
Conformer audio encoder, each projected into the text width (``gemma4_encoders``). The "unified"
12B (gemma4_unified_text: no per-layer inputs, no MoE) goes without encoders: merged pixel
patches and 40 ms audio frames are projected straight into the text width
(``gemma4_unified_encoders``).
Read the way transformers 5.23's Gemma4TextConfig and modeling_gemma4 build the model.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import DenseFFN, Layer, MoEFFN, SpecError, VisionEncoder
from .common import (Config, activation, as_int, build_spec, clamp_window, context_length, get, gqa_attention,
                     rope_fraction_by_layer_type, sliding_or_full_types)

SLIDING_PERIOD = 6            # transformers' default layer_types: five sliding layers, then a global one
# one dense MLP and the MoE block: the attention's two norms, the MLP's pre and post norms, the
# MoE block's pre and post norms, and the norm after their sum
MOE_LAYER_NORMS = 7


def _layer_types(cfg: Config, n: int) -> list[str]:
    """layer_types, or transformers' default; the last layer is always global (Gemma4TextConfig
    forces it)."""
    return sliding_or_full_types(cfg, n, SLIDING_PERIOD, "Gemma 4")[:-1] + ["full_attention"]


def _per_layer_overrides(cfg: Config, types: list[str]) -> dict[int, Mapping[str, Any]]:
    """Per-layer head_dim and num_key_value_heads: per_layer_config as transformers 5 saves it, or
    the global layers' global_head_dim (512 unless given) and, with attention_k_eq_v, their
    num_global_key_value_heads."""
    table = cfg.get("per_layer_config")
    if table is not None:
        if not isinstance(table, Mapping):
            raise SpecError("config.per_layer_config", "must map layer indices to their overrides")
        out = {}
        for key, value in table.items():
            if not str(key).isdigit() or not isinstance(value, Mapping):
                raise SpecError("config.per_layer_config", f"entry {key!r} is not a layer index "
                                                           f"with an object of overrides")
            out[int(key)] = value
        return out
    override: dict[str, Any] = {"head_dim": as_int(cfg, "global_head_dim", default=512)}
    if get(cfg, "attention_k_eq_v", default=False) and get(cfg, "num_global_key_value_heads") is not None:
        override["num_key_value_heads"] = as_int(cfg, "num_global_key_value_heads")
    return {i: override for i, t in enumerate(types) if t == "full_attention"}


def import_gemma4_text(cfg: Config, name: str):
    """Gemma 4's language model; the unified model's (gemma4_unified_text) has no per-layer inputs
    and no MoE block."""
    if get(cfg, "use_bidirectional_attention") == "all":
        raise SpecError("config.use_bidirectional_attention",
                        "'all' makes every token attend both ways (an encoder); Orbit models causal decoders")
    hidden = as_int(cfg, "hidden_size")
    n = as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    types = _layer_types(cfg, n)
    overrides = _per_layer_overrides(cfg, types)
    shared_from = n - as_int(cfg, "num_kv_shared_layers", default=0)
    if not 0 < shared_from <= n:
        raise SpecError("config.num_kv_shared_layers", f"must leave at least one of the {n} layers "
                                                       f"caching its own keys and values")
    k_eq_v = bool(get(cfg, "attention_k_eq_v", default=False))
    act = activation(get(cfg, "hidden_activation", default="gelu_pytorch_tanh"))
    d_ff = as_int(cfg, "intermediate_size")
    double_wide = bool(get(cfg, "use_double_wide_mlp", default=False))
    unified = cfg.get("model_type") == "gemma4_unified_text"
    moe = None
    if get(cfg, "enable_moe_block", default=False) and not unified:
        moe = MoEFFN(experts=as_int(cfg, "num_experts"), top_k=as_int(cfg, "top_k_experts"),
                     d_expert=as_int(cfg, "moe_intermediate_size"), activation=act, router_scales=True)
    window = as_int(cfg, "sliding_window", default=512)
    # the global layers' "proportional" RoPE turns a quarter of each head's dims
    fractions = rope_fraction_by_layer_type(cfg, {"full_attention": 0.25, "sliding_attention": 1.0})
    layers = []
    for i, t in enumerate(types):
        kind, win = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        over = overrides.get(i, {})
        fields: dict[str, Any] = dict(kind=kind, window=win, qk_norm="head", v_norm=True,
                                      rope_fraction=fractions.get(t, 1.0),
                                      value_from_key=k_eq_v and t == "full_attention" and i < shared_from,
                                      kv_shared=i >= shared_from)
        if "head_dim" in over:
            fields["head_dim"] = as_int(over, "head_dim")
        if "num_key_value_heads" in over:
            fields["kv_heads"] = as_int(over, "num_key_value_heads")
        attn = gqa_attention(cfg, hidden=hidden, **fields)
        ffn = DenseFFN(d_ff * (2 if double_wide and i >= shared_from else 1), activation=act)
        if moe is None:
            layers.append(Layer((attn,), (ffn,)))
        else:
            layers.append(Layer((attn,), (ffn, moe), norms=MOE_LAYER_NORMS))
    per_layer = {} if unified else dict(
        per_layer_input=as_int(cfg, "hidden_size_per_layer_input", default=256),
        per_layer_vocab=as_int(cfg, "vocab_size_per_layer_input", default=262_144))
    return build_spec(cfg, name, layers, norm_placement="sandwich", layer_scalar=True, **per_layer)


IMPORTERS = {"gemma4_text": import_gemma4_text, "gemma4_unified_text": import_gemma4_text}


# --------------------------------------------------------------------------- encoders

def _g(cfg: Mapping[str, Any], key: str, default):
    value = cfg.get(key)
    return default if value is None else value


def _clipped(cfg: Mapping[str, Any], default: bool) -> int:
    """Scalars each Gemma4ClippableLinear stores beside its weight: input and output min and max."""
    return 4 if _g(cfg, "use_clipped_linears", default) else 0


def _vision_tower(v: Mapping[str, Any]) -> int:
    """Gemma4VisionModel: a linear patch embedding, a 2 x positions x h table (one per image axis),
    sandwich-normed layers (q/k/v/o with QK-norm, a gated MLP; every linear clippable) and, with
    ``standardize``, a stored bias and scale."""
    h, i, n = _g(v, "hidden_size", 768), _g(v, "intermediate_size", 3072), _g(v, "num_hidden_layers", 16)
    heads, kv, hd = _g(v, "num_attention_heads", 12), _g(v, "num_key_value_heads", 12), _g(v, "head_dim", 64)
    p, positions = _g(v, "patch_size", 16), _g(v, "position_embedding_size", 10 * 1024)
    layer = (2 * h * heads * hd + 2 * h * kv * hd + 2 * hd + 3 * h * i + 4 * h
             + 7 * _clipped(v, False))
    return 3 * p * p * h + 2 * positions * h + n * layer + (2 * h if _g(v, "standardize", False) else 0)


def _audio_tower(a: Mapping[str, Any]) -> int:
    """Gemma4AudioModel: two strided 3x3 convs with LayerNorms, an input projection, Conformer
    layers (two half-step FFNs of 4h, chunked relative-position attention, a light depthwise conv
    block, three norms; linears clippable) and a biased output projection."""
    h, n = _g(a, "hidden_size", 1024), _g(a, "num_hidden_layers", 12)
    c0, c1 = _g(a, "subsampling_conv_channels", [128, 32])
    k, out = _g(a, "conv_kernel_size", 5), _g(a, "output_proj_dims", 1536)
    hd = h // _g(a, "num_attention_heads", 8)
    clip = _clipped(a, True)
    ffn = 2 * 4 * h * h + 2 * h + 2 * clip
    attention = 5 * h * h + hd + 4 * clip                 # q, k, v, post, relative_k; per-dim scale
    conv = 3 * h * h + h * k + 2 * h + 2 * clip           # linear_start (h -> 2h, GLU), linear_end
    subsample = 9 * c0 + c0 + 9 * c0 * c1 + c1 + (c0 // 4) * c1 * h
    return subsample + n * (2 * ffn + attention + conv + 3 * h) + h * out + out


def gemma4_encoders(vcfg: Mapping[str, Any] | None, text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """The vision tower and, where the config has one, the audio tower, each with its embedder (a
    weightless RMSNorm, then a projection into the text width)."""
    params, names = 0, []
    if isinstance(vcfg, Mapping):
        params += _vision_tower(vcfg) + _g(vcfg, "hidden_size", 768) * text_hidden
        names.append(f"ViT ({_g(vcfg, 'num_hidden_layers', 16)} layers, d {_g(vcfg, 'hidden_size', 768)})")
    acfg = config.get("audio_config")
    if isinstance(acfg, Mapping):
        params += _audio_tower(acfg) + _g(acfg, "output_proj_dims", 1536) * text_hidden
        names.append(f"Conformer audio ({_g(acfg, 'num_hidden_layers', 12)} layers)")
    return VisionEncoder(params=params, name=" + ".join(names) or "no encoders")


def gemma4_unified_encoders(vcfg: Mapping[str, Any] | None, text_hidden: int,
                            config: Mapping[str, Any]) -> VisionEncoder:
    """Gemma4UnifiedVisionEmbedder: a patch of (patch_size x pooling_kernel_size)^2 pixels x 3
    through LayerNorm, a biased linear to mm_embed_dim and LayerNorm, a factorized (row, column)
    position table and LayerNorm, then the embedder's projection into the text width; audio frames
    (audio_embed_dim samples) projected straight into it."""
    params, names = 0, []
    if isinstance(vcfg, Mapping):
        patch = (_g(vcfg, "patch_size", 16) * _g(vcfg, "pooling_kernel_size", 3)) ** 2 * 3
        mm, out = _g(vcfg, "mm_embed_dim", 3840), _g(vcfg, "output_proj_dims", 3840)
        params += (2 * patch + patch * mm + mm + 2 * mm + _g(vcfg, "mm_posemb_size", 1120) * 2 * mm + 2 * mm
                   + out * text_hidden)
        names.append("patch embedder (no vision encoder)")
    acfg = config.get("audio_config")
    if isinstance(acfg, Mapping):
        params += _g(acfg, "audio_embed_dim", 640) * text_hidden
        names.append("audio frame projection")
    return VisionEncoder(params=params, name=" + ".join(names) or "no encoders")
