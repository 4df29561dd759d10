"""Helpers shared by the Hugging Face config importers.

Importers read the raw ``config.json`` keys (as published), never ``transformers`` objects: the
engine must not import transformers at run time, and raw keys are what users have on disk.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterable, Mapping

from ..spec import (MAX_LAYERS, MAX_SIZE, Attention, DenseFFN, Layer, ModelSpec, MoEFFN, RopeScaling, SpecError,
                    too_large)

Config = Mapping[str, Any]


def get(cfg: Config, *keys: str, default: Any = None) -> Any:
    """The first of ``keys`` present in ``cfg`` with a non-null value, else ``default``."""
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    return default


def need(cfg: Config, *keys: str) -> Any:
    value = get(cfg, *keys)
    if value is None:
        raise SpecError(f"config.{keys[0]}", f"is required for model_type {cfg.get('model_type')!r}")
    return value


LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")


def as_int(cfg: Config, *keys: str, default: Any = None) -> int:
    value = get(cfg, *keys, default=default)
    if value is None:
        raise SpecError(f"config.{keys[0]}", f"is required for model_type {cfg.get('model_type')!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (isinstance(value, float) and not math.isfinite(value)) or int(value) != value:
        raise SpecError(f"config.{keys[0]}", f"must be an integer, got {value!r}")
    if abs(value) > MAX_SIZE:
        raise SpecError(f"config.{keys[0]}", too_large(value))
    if keys[0] in LAYER_COUNT_KEYS and value > MAX_LAYERS:   # before per-layer lists are built
        raise SpecError(f"config.{keys[0]}", f"at most {MAX_LAYERS} layers, got {int(value)}")
    return int(value)


# head_dim of transformers' config classes that fix one rather than derive hidden // heads: what a
# config.json without the key runs with (read off transformers 5.23)
HEAD_DIM_BY_DEFAULT = {
    "ernie4_5": 128, "gemma": 256, "gemma2": 256, "gemma3_text": 256, "glm": 128, "glm4": 128,
    "gpt_oss": 64, "llama4_text": 128, "mimo_v2_flash": 192, "minimax_m2": 128, "nemotron_h": 128,
    "qwen3": 128, "qwen3_next": 256, "qwen3_5_text": 256, "qwen3_5_moe_text": 256,
    "qwen3_vl_text": 128, "seed_oss": 128, "helium": 128, "cwm": 128, "ministral3": 128,
    "internlm3": 128, "iquestcoder": 128, "vaultgemma": 256, "solar_open": 128, "gemma4_text": 256,
    "gemma4_unified_text": 256, "flint": 128, "hy_v3": 128, "afmoe": 128, "kolibri1": 128, "mellum": 128,
    "cohere2_moe": 128, "laguna": 128, "lfm3": 128, "gemma3n_text": 256}


def head_dim(cfg: Config, heads: int, hidden: int) -> int:
    """``head_dim`` when the config gives it, else the type's transformers default (a fixed size
    or hidden // heads)."""
    if get(cfg, "head_dim") is not None:
        return as_int(cfg, "head_dim")      # 1.5 or true is refused, not read as 1
    fixed = HEAD_DIM_BY_DEFAULT.get(str(cfg.get("model_type")))
    if fixed:
        return fixed
    if heads <= 0:
        raise SpecError("config.num_attention_heads", f"must be positive, got {heads}")
    return hidden // heads


# The fraction of each head's dims that RoPE rotates when a config does not say: transformers'
# default for the type (GLM rotates half of each head: GlmConfig, Glm4Config, Glm4MoeConfig).
ROPE_FRACTION_DEFAULTS = {"glm": 0.5, "glm4": 0.5, "glm4_moe": 0.5, "gpt_neox": 0.25, "stablelm": 0.25,
                          "nemotron": 0.5, "glm4v_moe_text": 0.5, "persimmon": 0.5}


def rope_fraction(cfg: Config) -> float:
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    value = get(cfg, "partial_rotary_factor", "rotary_pct")
    if value is None and isinstance(params, Mapping):
        value = params.get("partial_rotary_factor")
    if value is None:
        return ROPE_FRACTION_DEFAULTS.get(str(cfg.get("model_type")), 1.0)
    return float(value)


def activation(name: Any) -> str:
    name = str(name or "silu").lower()
    table = {"silu": "silu", "swish": "silu", "gelu": "gelu", "gelu_new": "gelu_tanh",
             "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh", "relu": "relu",
             "relu2": "relu2", "gelu_tanh": "gelu_tanh", "xielu": "xielu"}
    return table.get(name, "silu")


def layer_types(cfg: Config, n: int) -> list[str] | None:
    """``layer_types`` when given and consistent with the layer count."""
    types = cfg.get("layer_types")
    if types is None:
        return None
    if not isinstance(types, list) or len(types) < n:
        raise SpecError("config.layer_types", f"must list at least num_hidden_layers ({n}) entries")
    return [str(t) for t in types[:n]]


def sliding_or_full_types(cfg: Config, n: int, period: int, family: str) -> list[str]:
    """``layer_types`` of a model whose layers are full_attention or sliding_attention; without
    them, transformers' default: every ``period``-th layer full (Gemma 3n: 5, Gemma 4: 6)."""
    types = layer_types(cfg, n)
    if types is None:
        return ["full_attention" if (i + 1) % period == 0 else "sliding_attention" for i in range(n)]
    unknown = sorted(set(types) - {"full_attention", "sliding_attention"})
    if unknown:
        raise SpecError("config.layer_types", f"{family} layers are full_attention or sliding_attention, "
                                              f"not {unknown[0]!r}")
    return types


def rope_fraction_by_layer_type(cfg: Config, defaults: Mapping[str, float]) -> dict[str, float]:
    """The rotary fraction of each layer type where rope_parameters is keyed by layer type (LFM3,
    Laguna: {"full_attention": {..., "partial_rotary_factor": 0.5}, ...}); ``defaults`` are the
    config class's."""
    params = cfg.get("rope_parameters")
    out = dict(defaults)
    if isinstance(params, Mapping):
        for layer_type, sub in params.items():
            if isinstance(sub, Mapping) and sub.get("partial_rotary_factor") is not None:
                value = sub["partial_rotary_factor"]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                    raise SpecError(f"config.rope_parameters.{layer_type}.partial_rotary_factor",
                                    f"must be above 0 and at most 1, got {value!r}")
                out[str(layer_type)] = float(value)
    return out


# model types whose transformers config leaves the top-k routing weights as the softmax gave them
# unless norm_topk_prob says otherwise (every other type with the key defaults to rescaling them)
NOT_NORMALIZED_TOP_K = frozenset({"deepseek_v2", "dots1", "flex_olmo", "kolibri1", "olmoe", "qwen2_moe",
                                  "qwen3_moe"})


# routed_scaling_factor of the config classes whose default is not 1
ROUTED_SCALE_BY_DEFAULT = {"axk1": 2.5, "axk2": 2.5, "deepseek_v3": 2.5, "kimi_k2": 2.5, "deepseek_v32": 2.5, "exaone_moe": 2.5,
                           "glm4_moe_lite": 1.8, "glm_moe_dsa": 2.5, "kimi_linear": 2.446, "longcat_flash": 6.0,
                           "bailing_hybrid": 2.5}


# Types whose transformers router limits each token to its topk_group best of n_group expert
# groups, with the config class's defaults (n_group, topk_group); DeepSeek-V2's only when its
# topk_method is group_limited_greedy
GROUP_LIMITED_BY_DEFAULT = {"deepseek_v3": (8, 4), "deepseek_v32": (8, 4), "kimi_k2": (8, 4), "axk1": (8, 4),
                            "deepseek_v2": (1, 1), "mistral4": (1, 1), "axk2": (1, 1), "glm4_moe": (1, 1), "glm4_moe_lite": (1, 1),
                            "glm4v_moe_text": (1, 1), "glm_moe_dsa": (1, 1), "dots1": (1, 1),
                            "exaone_moe": (1, 1), "solar_open": (1, 1), "mimo_v2_flash": (1, 1),
                            "nemotron_h": (1, 1), "kimi_linear": (1, 1), "bailing_hybrid": (8, 4)}


def expert_groups(cfg: Config) -> dict:
    """MoEFFN's expert_groups and groups_per_token (none where the type's router ignores them or
    the config has one group)."""
    mt = cfg.get("model_type")
    if mt not in GROUP_LIMITED_BY_DEFAULT or (mt == "deepseek_v2"
                                              and get(cfg, "topk_method") != "group_limited_greedy"):
        return {}
    groups_default, chosen_default = GROUP_LIMITED_BY_DEFAULT[mt]
    groups = as_int(cfg, "n_group", "num_expert_group", default=groups_default)
    chosen = as_int(cfg, "topk_group", default=chosen_default)
    return dict(expert_groups=groups, groups_per_token=chosen) if groups > 1 else {}


def routing(cfg: Config) -> dict:
    """MoEFFN's routing fields: norm_topk_prob and routed_scaling_factor, or the type's
    transformers defaults, and the expert groups."""
    mt = cfg.get("model_type")
    scale = get(cfg, "routed_scaling_factor", default=ROUTED_SCALE_BY_DEFAULT.get(mt, 1.0))
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise SpecError("config.routed_scaling_factor", f"must be a number, got {scale!r}")
    return dict(normalize_top_k=bool(get(cfg, "norm_topk_prob", default=mt not in NOT_NORMALIZED_TOP_K)),
                routed_scale=float(scale), **expert_groups(cfg))


def nullable_int(cfg: Config, key: str, default: int) -> int:
    """An optional integer of a config class: absent, the class default; an explicit null, 0 (none:
    a sliding_window of null, a q_lora_rank of null)."""
    if key in cfg and cfg[key] is None:
        return 0
    return as_int(cfg, key, default=default)


def mlp_layer_types(cfg: Config, n: int, default: list[str]) -> list[str]:
    """mlp_layer_types ("dense" or "sparse" per layer) when the config gives them, else ``default``."""
    types = get(cfg, "mlp_layer_types")
    if types is None:
        return default
    if not isinstance(types, list) or len(types) < n:
        raise SpecError("config.mlp_layer_types", f"must list at least num_hidden_layers ({n}) entries")
    return [str(t) for t in types[:n]]


def rope_by_layer_theta(cfg: Config, n: int) -> list[bool]:
    """Granite SWA's layer_rope_theta: a RoPE base per layer, 0 for a layer without positions
    (absent: every layer rotates with the global base)."""
    thetas = get(cfg, "layer_rope_theta")
    if thetas is None:
        return [True] * n
    if not isinstance(thetas, list) or len(thetas) < n \
            or any(isinstance(t, bool) or not isinstance(t, (int, float)) for t in thetas[:n]):
        raise SpecError("config.layer_rope_theta", f"must list a number for each of the {n} layers")
    return [t != 0 for t in thetas[:n]]


def layer_types_or_flags(cfg: Config, n: int, flags_key: str, when_set: str, when_unset: str,
                         default: Callable[[int], str]) -> list[str]:
    """``layer_types``; else a list of per-layer flags under ``flags_key`` (a model's own older
    form, such as MiniMax's attn_type_list); else ``default(i)`` for each layer."""
    types = layer_types(cfg, n)
    if types is not None:
        return types
    flags = get(cfg, flags_key)
    if isinstance(flags, list) and len(flags) >= n:
        return [when_set if flag else when_unset for flag in flags[:n]]
    return [default(i) for i in range(n)]


# Scores' scale and soft-caps where a type departs from softmax(q.k / sqrt(head_dim)), read off
# transformers 5.23 (each attention class's ``scaling``, each config class's defaults)
QUERY_PRE_ATTN_SCALAR_TYPES = frozenset({"gemma2", "gemma3_text", "vaultgemma"})
UNIT_SCALE_TYPES = frozenset({"gemma3n_text", "gemma4_text", "gemma4_unified_text"})    # QK norms set it
ATTENTION_MULTIPLIER_BY_DEFAULT = {"granite": 1.0, "granite_swa": 1.0, "granitemoe": 1.0, "granitemoe_swa": 1.0,
                                   "granitemoehybrid": 1.0, "granitemoeshared": 1.0,
                                   "hyperclovax": 0.08838834764831845}
ATTN_SOFTCAP_BY_DEFAULT = {"gemma2": 50.0, "vaultgemma": 50.0, "gemma3_text": None}
FINAL_SOFTCAP_BY_DEFAULT = {"gemma2": 30.0, "vaultgemma": 30.0, "gemma3_text": None, "gemma3n_text": 30.0,
                            "gemma4_text": None, "gemma4_unified_text": None, "nanochat": 15.0}
RESIDUAL_MULTIPLIER_TYPES = frozenset(ATTENTION_MULTIPLIER_BY_DEFAULT)
# token embeddings times sqrt(hidden_size): always (Gemma's normalizer), or where a config flag says
# so (its key and the config class's default)
EMBEDDING_SQRT_D_TYPES = frozenset({"gemma", "gemma2", "vaultgemma", "gemma3_text", "gemma3n_text", "gemma4_text",
                                    "gemma4_unified_text"})
EMBEDDING_SQRT_D_FLAGS = {"biogpt": ("scale_embedding", True), "xglm": ("scale_embedding", True),
                          "afmoe": ("mup_enabled", False)}
# embeddings times embedding_multiplier; logits times logit_scale (Cohere), divided by logits_scaling
# (Granite; HyperCLOVA X multiplies by it) or times lm_head_multiplier (Falcon-H1), with the config
# classes' defaults
EMBEDDING_MULTIPLIER_TYPES = RESIDUAL_MULTIPLIER_TYPES | {"falcon_h1"}
LOGIT_SCALE_KEYS = {**{t: ("logits_scaling", 1.0, t != "hyperclovax") for t in RESIDUAL_MULTIPLIER_TYPES},
                    **{t: ("logit_scale", 0.0625, False) for t in ("cohere", "cohere2", "cohere2_moe")},
                    "falcon_h1": ("lm_head_multiplier", 1.0, False)}
# MLA types whose softmax scale takes YaRN's mscale^2 (transformers' yarn_apply_mscale)
YARN_MSCALE_TYPES = frozenset({"deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2", "glm4_moe_lite",
                               "glm_moe_dsa", "longcat_flash", "youtu", "axk1", "minicpm3", "bailing_hybrid",
                               "mistral4", "axk2"})


def scalar(cfg: Config, key: str, default: Any) -> float:
    """A non-negative number under ``key`` (absent: ``default``; null or absent without a default: 0)."""
    value = cfg[key] if key in cfg else default
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SpecError(f"config.{key}", f"must be a non-negative number or null, got {value!r}")
    return float(value)


def score_fields(cfg: Config, head_size: int) -> dict[str, float]:
    """Attention's ``scale`` and ``softcap`` for the type; a scale equal to head_size^-1/2 is left
    at the default (0)."""
    mt = cfg.get("model_type")
    out: dict[str, float] = {}
    scale = 0.0
    if mt in QUERY_PRE_ATTN_SCALAR_TYPES:
        dims = scalar(cfg, "query_pre_attn_scalar", 256)
        if dims <= 0:
            raise SpecError("config.query_pre_attn_scalar", f"must be positive, got {dims!r}")
        scale = dims ** -0.5
    elif mt in UNIT_SCALE_TYPES:
        scale = 1.0
    elif mt in ATTENTION_MULTIPLIER_BY_DEFAULT:
        scale = scalar(cfg, "attention_multiplier", ATTENTION_MULTIPLIER_BY_DEFAULT[mt])
    if scale and not math.isclose(scale, head_size ** -0.5, rel_tol=1e-12):
        out["scale"] = scale
    if mt in ATTN_SOFTCAP_BY_DEFAULT:
        out["softcap"] = scalar(cfg, "attn_logit_softcapping", ATTN_SOFTCAP_BY_DEFAULT[mt])
    return out


# Types whose transformers code turns neighbouring dims (2i, 2i + 1) together: rotate_every_two
# (GPT-J, CodeGen), an interleaved rotate_half (Cohere, ERNIE 4.5, Helium, GLM), complex pairs
# (DeepSeek-V2, Llama 4), DeepSeek's MLA layout; and those where rope_interleave says so, by
# default True (DeepseekV3Config and its kin)
INTERLEAVED_ROPE_TYPES = frozenset({"gptj", "codegen", "cohere", "cohere2", "cohere2_moe", "ernie4_5", "ernie4_5_moe",
                                    "helium", "glm", "glm4", "glm4v_text", "deepseek_v2", "llama4_text",
                                    "deepseek_v32", "glm_moe_dsa", "longcat_flash", "bailing_hybrid", "axk2"})
ROPE_INTERLEAVE_FLAG_TYPES = frozenset({"deepseek_v3", "kimi_k2", "axk1", "glm4_moe_lite", "youtu", "mistral4"})


def model_numerics(cfg: Config) -> dict[str, Any]:
    """ModelSpec's ``logit_softcap``, ``residual_scale``, ``embedding_scale``, ``logit_scale`` and
    ``rope_interleaved`` where the type has them."""
    mt = cfg.get("model_type")
    out: dict[str, Any] = {}
    flag = EMBEDDING_SQRT_D_FLAGS.get(mt)
    if mt in EMBEDDING_SQRT_D_TYPES or (flag and bool(get(cfg, flag[0], default=flag[1]))):
        out["embedding_scale"] = math.sqrt(as_int(cfg, "hidden_size", "d_model", "n_embd"))
    if mt in EMBEDDING_MULTIPLIER_TYPES:
        out["embedding_scale"] = positive_scalar(cfg, "embedding_multiplier", 1.0)
    if mt in LOGIT_SCALE_KEYS:
        key, default, divides = LOGIT_SCALE_KEYS[mt]
        value = positive_scalar(cfg, key, default)
        out["logit_scale"] = 1.0 / value if divides else value
    if mt in INTERLEAVED_ROPE_TYPES or (mt in ROPE_INTERLEAVE_FLAG_TYPES
                                        and bool(get(cfg, "rope_interleave", default=True))):
        out["rope_interleaved"] = True
    if mt in FINAL_SOFTCAP_BY_DEFAULT:
        out["logit_softcap"] = scalar(cfg, "final_logit_softcapping", FINAL_SOFTCAP_BY_DEFAULT[mt])
    if mt in RESIDUAL_MULTIPLIER_TYPES:
        out["residual_scale"] = positive_scalar(cfg, "residual_multiplier", 1.0)
    return out


def positive_scalar(cfg: Config, key: str, default: float) -> float:
    """A positive number under ``key``; absent or null: ``default``."""
    value = scalar(cfg, key, default) if cfg.get(key) is not None else default
    if value <= 0:
        raise SpecError(f"config.{key}", f"must be positive, got {cfg.get(key)!r}")
    return value


def yarn_mscale(cfg: Config) -> float:
    """YaRN's attention-scale factor mscale = 0.1 * mscale_all_dim * ln(factor) + 1 (DeepSeek-V2,
    sec. "YaRN"), which MLA's softmax scale takes squared; 1 without YaRN."""
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling")
    if not isinstance(params, Mapping) or (params.get("rope_type") or params.get("type") or "default") == "default":
        return 1.0
    mscale_all_dim = params.get("mscale_all_dim") or 0
    factor = params.get("factor") or 1
    for key, value in (("mscale_all_dim", mscale_all_dim), ("factor", factor)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(f"config.rope_scaling.{key}", f"must be a number, got {value!r}")
    return _mscale(factor, mscale_all_dim) if mscale_all_dim else 1.0


def _mscale(factor: float, m: float = 1.0) -> float:
    """YaRN's mscale: 0.1 m ln(factor) + 1, and 1 where nothing is stretched."""
    return 0.1 * m * math.log(factor) + 1.0 if factor > 1 else 1.0


# Types whose queries take Llama 4's temperature by position on every layer, read from
# rope_parameters' llama_4_scaling_beta and original_max_position_embeddings (transformers'
# get_llama_4_attn_scale)
POSITION_TEMPERATURE_TYPES = frozenset({"ministral3", "mistral4"})


def position_temperature(cfg: Config) -> dict:
    """Attention's (or MLA's) temperature fields for the types that scale their queries by
    1 + beta ln(1 + floor(position / original_max_position_embeddings)); none where beta is
    absent or 0."""
    if cfg.get("model_type") not in POSITION_TEMPERATURE_TYPES:
        return {}
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling")
    beta = params.get("llama_4_scaling_beta") if isinstance(params, Mapping) else None
    if not beta:
        return {}
    beta = _theta(beta, "rope_parameters.llama_4_scaling_beta")
    period = params.get("original_max_position_embeddings")
    if isinstance(period, bool) or not isinstance(period, (int, float)) or period <= 0 or period != int(period):
        raise SpecError("config.rope_parameters.original_max_position_embeddings",
                        f"llama_4_scaling_beta scales the queries once per this many tokens: it must be a "
                        f"positive integer, got {period!r}")
    return dict(temperature=beta, temperature_period=int(period))


def gqa_attention(cfg: Config, *, hidden: int, heads_key: str = "num_attention_heads",
                  **overrides: Any) -> Attention:
    """The config's softmax attention; ``overrides`` replace any field. The score scale and
    soft-cap come from ``score_fields`` for the final head size."""
    heads = as_int(cfg, heads_key)
    kv = as_int(cfg, "num_key_value_heads", default=heads)
    fields = dict(heads=heads, kv_heads=kv, head_dim=head_dim(cfg, heads, hidden),
                  qkv_bias=bool(get(cfg, "attention_bias", default=False)),
                  out_bias=bool(get(cfg, "attention_bias", default=False)))
    fields.update(position_temperature(cfg))
    fields.update(overrides)
    fields = {**score_fields(cfg, fields["head_dim"]), **fields}
    return Attention(**fields)


def dense_ffn(cfg: Config, d_ff: int | None = None, **overrides: Any) -> DenseFFN:
    fields = dict(d_ff=int(d_ff if d_ff is not None else as_int(cfg, "intermediate_size")),
                  gated=True, activation=activation(get(cfg, "hidden_act", "hidden_activation")),
                  bias=bool(get(cfg, "mlp_bias", default=False)))
    fields.update(overrides)
    return DenseFFN(**fields)


# Model types whose transformers config ties the LM head to the embeddings when config.json does
# not say (each config class's own default; read off transformers 5.23).
TIED_BY_DEFAULT = frozenset({"gpt2", "falcon", "gemma", "gemma2", "gemma3", "gemma3_text", "smollm3",
                             "starcoder2", "cohere", "cohere2", "ernie4_5", "ernie4_5_moe",
                             "qwen3_vl_moe_text", "gpt_bigcode", "gpt_neo", "mamba", "falcon_mamba",
                             "opt", "mpt", "bloom", "vaultgemma", "lfm2", "lfm2_moe", "gemma4",
                             "gemma4_text", "gemma4_unified", "gemma4_unified_text", "granite_swa",
                             "youtu", "cohere2_moe", "openai-gpt", "xglm", "biogpt", "gpt_neox_japanese",
                             "ctrl", "lfm3", "gemma3n_text", "minicpm3", "jetmoe"})
# vocab_size when a config leaves it out (transformers' default for the type): Google's Gemma 3
# image-text configs omit it from text_config.
VOCAB_BY_DEFAULT = {"gemma3_text": 262_208, "gemma4_text": 262_144, "gemma4_unified_text": 262_144,
                    "gemma3n_text": 262_400}
# max_position_embeddings of transformers' config classes, which a config.json without the key
# runs with (Google's Gemma 3 configs leave it out of text_config: 131,072, not a 4,096 guess)
CONTEXT_BY_DEFAULT = {
    "gpt2": 1024, "llama": 2048, "mistral": 131072, "mixtral": 131072, "qwen2": 32768,
    "qwen2_moe": 32768, "qwen3": 32768, "qwen3_moe": 32768, "qwen3_next": 32768, "gemma": 8192,
    "gemma2": 8192, "gemma3": 131072, "gemma3_text": 131072, "glm": 131072, "glm4": 131072,
    "glm4_moe": 131072, "deepseek_v2": 2048, "deepseek_v3": 4096, "kimi_linear": 1048576,
    "longcat_flash": 131072, "gpt_oss": 131072, "phi": 2048, "phi3": 4096, "olmo": 2048,
    "olmo2": 2048, "olmo3": 2048, "falcon": 2048, "falcon_h1": 8192, "jamba": 262144,
    "nemotron_h": 4096, "granitemoehybrid": 2048, "minimax_m2": 196608, "llama4": 131072,
    "llama4_text": 131072, "smollm3": 32768, "mimo_v2_flash": 131072, "gptj": 2048, "gpt_neox": 2048,
    "starcoder2": 4096, "stablelm": 4096, "cohere": 8192, "cohere2": 8192, "phimoe": 131072,
    "olmoe": 4096, "granite": 2048, "granitemoe": 2048, "ernie4_5": 131072,
    "ernie4_5_moe": 131072, "qwen3_5_text": 32768, "qwen3_5_moe_text": 32768, "qwen3_vl_text": 128000,
    "qwen3_vl_moe_text": 128000, "seed_oss": 524288, "hunyuan_v1_dense": 2048, "helium": 4096,
    "arcee": 4096, "exaone4": 2048, "glm4_moe_lite": 202752, "minimax": 131072,
    "gpt_bigcode": 1024, "gpt_neo": 2048, "opt": 2048, "mpt": 2048, "nemotron": 4096,
    "granitemoeshared": 2048, "bamba": 262144, "ministral": 131072, "ministral3": 262144, "cwm": 131072,
    "flex_olmo": 4096, "dots1": 2048, "deepseek_v32": 163840, "glm_moe_dsa": 202752,
    "internlm3": 32768, "iquestcoder": 131072, "vaultgemma": 8192, "hyperclovax": 2048,
    "lfm2": 128000, "lfm2_moe": 128000, "solar_open": 131072, "hunyuan_v1_moe": 2048,
    "exaone_moe": 2048, "apertus": 65536, "glm4v_text": 32768, "glm4v_moe_text": 65536,
    "gemma4_text": 131072, "gemma4_unified_text": 262144, "granite_swa": 8192, "jais2": 8192,
    "youtu": 131072, "flint": 262144, "hy_v3": 131072, "axk1": 32768, "afmoe": 16384, "kolibri1": 262144,
    "mellum": 131072, "cohere2_moe": 8192, "granitemoe_swa": 2048, "emu3": 9216,
    "codegen": 2048, "openai-gpt": 512, "xglm": 2048, "biogpt": 1024, "gpt_neox_japanese": 2048, "ctrl": 256,
    "laguna": 131072, "lfm3": 128000, "olmo_hybrid": 65536, "gemma3n_text": 32768, "nanochat": 2048,
    "bitnet": 2048, "minicpm3": 32768, "aria_text": 2048, "persimmon": 16384, "diffllama": 2048,
    "bailing_hybrid": 262144, "jetmoe": 4096, "mistral4": 1048576, "axk2": 131072,
    "qwen3_omni_moe_text": 32768}


# model_max_length: Kimi Linear's config states its 1M context only there
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length")


def context_length(cfg: Config, default: int | None = None) -> int:
    """The context the config runs with: its own key, else the importer's ``default``, else
    transformers' default for its model type."""
    if default is None:
        default = CONTEXT_BY_DEFAULT.get(str(cfg.get("model_type")), 4096)
    return as_int(cfg, *CONTEXT_KEYS, default=default)


# RoPE bases of the config classes whose default is not 10,000 (transformers 5.23's default_theta;
# a pair is (full layers, sliding layers)), for configs that leave rope_theta out
DEFAULT_THETA: dict[str, float | tuple[float, float]] = {
    "apertus": 12e6, "bitnet": 5e5, "cohere": 5e5, "cwm": 1e6, "emu3": 1e6, "ernie4_5": 5e5, "ernie4_5_moe": 5e5,
    "flex_olmo": 5e5, "gpt_oss": 150000.0, "helium": 1e5, "hy_v3": 11158840.0, "lfm2": 1e6, "lfm2_moe": 1e6,
    "llama4_text": 5e5, "longcat_flash": 1e7, "minimax": 1e6, "minimax_m2": 5e6, "ministral3": 1e6,
    "mixtral": 1e6, "phimoe": 1e6, "qwen3_vl_text": 5e5, "qwen3_vl_moe_text": 5e5, "smollm3": 2e6,
    "solar_open": 1e6, "gemma3_text": (1e6, 1e4), "gemma3n_text": (1e6, 1e4), "gemma4_text": (1e6, 1e4),
    "gemma4_unified_text": (1e6, 1e4), "lfm3": (1e6, 1e4), "laguna": (5e5, 1e4), "mellum": (5e5, 1e4),
    "mimo_v2_flash": (5e6, 1e4), "olmo3": (5e5, 5e5), "qwen3_omni_moe_text": 1e6}
# Attention kinds and the layer types transformers keys rope_parameters by
_LAYER_TYPE_OF_KIND = {"full": "full_attention", "sliding": "sliding_attention", "chunked": "chunked_attention"}


def _theta(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SpecError(f"config.{key}", f"must be a positive number, got {value!r}")
    return float(value)


def rope_thetas(cfg: Config) -> tuple[float, dict[str, float]]:
    """The model's RoPE base and the bases of layer types that differ: from rope_parameters (flat,
    or keyed by layer type as Gemma 3's are in transformers 5), rope_theta and Gemma's
    rope_local_base_freq, else the config class's defaults."""
    default = DEFAULT_THETA.get(str(cfg.get("model_type")), 10000.0)
    full_default, local_default = default if isinstance(default, tuple) else (default, None)
    params = cfg.get("rope_parameters")
    by_type: dict[str, float] = {}
    model = None
    if isinstance(params, Mapping) and params and all(isinstance(v, Mapping) for v in params.values()):
        for layer_type, sub in params.items():
            theta = _theta(sub.get("rope_theta"), f"rope_parameters.{layer_type}.rope_theta")
            if theta is not None:
                by_type[str(layer_type)] = theta
        model = by_type.get("full_attention")
    else:
        flat = params.get("rope_theta") if isinstance(params, Mapping) else None
        model = _theta(get(cfg, "rope_theta", default=flat), "rope_theta")
        local = _theta(cfg.get("rope_local_base_freq"), "rope_local_base_freq")
        if local is not None:
            by_type["sliding_attention"] = local
    model = model if model is not None else full_default
    if local_default is not None and "sliding_attention" not in by_type:
        by_type["sliding_attention"] = local_default
    return model, {t: theta for t, theta in by_type.items() if theta != model}


# config rope types and ours; Phi-3's first long-context configs called longrope "su"
_SCALINGS = {"linear": "linear", "llama3": "llama3", "yarn": "yarn", "longrope": "longrope", "su": "longrope",
             "dynamic": "dynamic"}


def rope_scaling(cfg: Config) -> RopeScaling | None:
    """RoPE's stretch from rope_parameters (flat, or its full_attention entry where keyed by layer
    type) or the older rope_scaling: linear, llama3, yarn, longrope and dynamic NTK; None for the
    default and for mrope (Qwen2-VL's, which turns text tokens as plain RoPE does). The values
    transformers infers where a config leaves them out (modeling_rope_utils):
    - yarn's attention factor: mscale(factor, mscale) / mscale(factor, mscale_all_dim) where both
      are given (DeepSeek: 1), else 0.1 ln(factor) + 1;
    - longrope's factor: max_position_embeddings / original_max_position_embeddings (Phi-3 keeps
      the latter at the top level), and its attention factor sqrt(1 + ln(factor) / ln(original));
    - dynamic NTK stretches beyond max_position_embeddings."""
    params = cfg.get("rope_parameters")
    if isinstance(params, Mapping) and params and all(isinstance(v, Mapping) for v in params.values()):
        params = params.get("full_attention")
    if not isinstance(params, Mapping) or str(params.get("rope_type") or params.get("type") or "default") == "default":
        params = cfg.get("rope_scaling") if isinstance(cfg.get("rope_scaling"), Mapping) else params
    if not isinstance(params, Mapping):
        return None
    kind = _SCALINGS.get(str(params.get("rope_type") or params.get("type") or "default"))
    if kind is None:
        return None

    def number(key: str, default: float | None = None) -> float | None:
        value = params.get(key)
        return default if value is None else _theta(value, f"rope_scaling.{key}")
    original = int(number("original_max_position_embeddings", 0) or 0)
    if kind == "longrope" and not original:
        original = int(_theta(cfg.get("original_max_position_embeddings"), "original_max_position_embeddings") or 0)
    if kind == "dynamic":
        original = context_length(cfg)
    factor = number("factor")
    if factor is None and kind in ("yarn", "longrope") and original:
        factor = context_length(cfg) / original
    if factor is None:
        raise SpecError("config.rope_scaling.factor", f"{kind} RoPE scaling needs a factor")
    fields: dict[str, Any] = dict(kind=kind, factor=factor, original_context=original)
    if kind == "llama3":
        fields.update(low_freq_factor=number("low_freq_factor", 1.0), high_freq_factor=number("high_freq_factor", 4.0))
    if kind == "yarn":
        attention = params.get("attention_factor")
        if attention is None:
            m, m_all = params.get("mscale"), params.get("mscale_all_dim")
            attention = _mscale(factor, m) / _mscale(factor, m_all) if m and m_all else _mscale(factor)
        fields.update(beta_fast=number("beta_fast", 32.0), beta_slow=number("beta_slow", 1.0),
                      truncate=bool(params.get("truncate", True)), attention_factor=float(attention))
    if kind == "longrope":
        attention = number("attention_factor")
        if attention is None:
            attention = math.sqrt(1 + math.log(factor) / math.log(original)) if factor > 1 and original > 1 else 1.0
        fields.update(attention_factor=attention, short_factors=_factor_list(params, "short_factor"),
                      long_factors=_factor_list(params, "long_factor"))
    return RopeScaling(**fields)


def _factor_list(params: Mapping, key: str) -> tuple[float, ...]:
    values = params.get(key)
    if not isinstance(values, (list, tuple)) or not values:
        raise SpecError(f"config.rope_scaling.{key}", f"longrope scaling needs a list of factors, got {values!r}")
    return tuple(_theta(v, f"rope_scaling.{key}") for v in values)


def with_rope_bases(layer: Layer, by_type: Mapping[str, float]) -> Layer:
    """``layer`` with each attention's own RoPE base where its layer type has one."""
    def based(m):
        theta = by_type.get(_LAYER_TYPE_OF_KIND.get(getattr(m, "kind", ""), "")) if isinstance(m, Attention) else None
        return dataclasses.replace(m, rope_theta=theta) if theta and not m.rope_theta else m
    mixers = tuple(based(m) for m in layer.mixers)
    return layer if mixers == layer.mixers else dataclasses.replace(layer, mixers=mixers)


def routable_groups(layer: Layer) -> Layer:
    """``layer`` with any MoE's expert groups left out where they cannot route (groups of one ranked
    by two scores, fewer experts in a token's groups than its top-k: transformers' router fails or
    reaches outside them). Small test configs that keep DeepSeek-V3's default 8 groups do this;
    parameters and FLOPs do not depend on the grouping."""
    def fitted(f):
        if not isinstance(f, MoEFFN) or not f.expert_groups:
            return f
        try:
            f.validate_groups("")
        except SpecError:
            return dataclasses.replace(f, expert_groups=0, groups_per_token=0)
        return f
    ffns = tuple(fitted(f) for f in layer.ffns)
    return layer if ffns == layer.ffns else dataclasses.replace(layer, ffns=ffns)


def build_spec(cfg: Config, name: str, layers: Iterable[Layer], **globals_: Any) -> ModelSpec:
    """Group identical layers into named blocks and build the spec."""
    theta, by_type = rope_thetas(cfg)
    layers = [with_rope_bases(routable_groups(layer), by_type) for layer in layers]
    blocks: dict[str, Layer] = {}
    names_of: dict[Layer, str] = {}
    layout: list[str] = []
    for layer in layers:
        if layer not in names_of:
            base = block_label(layer)
            label, i = base, 2
            while label in blocks:
                label, i = f"{base}-{i}", i + 1
            blocks[label] = layer
            names_of[layer] = label
        layout.append(names_of[layer])
    hidden = as_int(cfg, "hidden_size", "d_model", "n_embd")
    nominal = globals_.pop("nominal_context", None)      # a recurrence's cap where none is stated
    if nominal and get(cfg, *CONTEXT_KEYS) is None:
        globals_["context_stated"] = False
    ctx = context_length(cfg, globals_.pop("default_context", nominal))
    vocab = as_int(cfg, "vocab_size", default=VOCAB_BY_DEFAULT.get(str(cfg.get("model_type"))))
    fields = dict(name=name, vocab_size=vocab, hidden_size=hidden,
                  context_length=ctx, blocks=blocks, layout=tuple(layout),
                  tie_embeddings=bool(get(cfg, "tie_word_embeddings",
                                          default=cfg.get("model_type") in TIED_BY_DEFAULT)),
                  model_type=str(cfg.get("model_type", "")), rope_theta=theta, rope_scaling=rope_scaling(cfg),
                  **model_numerics(cfg))
    fields.update(globals_)
    # A window wider than the context is a full layer in practice (some configs say so).
    return ModelSpec(**fields)


def block_label(layer: Layer) -> str:
    parts = []
    for m in layer.mixers:
        kind = getattr(m, "kind", None)
        if m.KIND == "attention":
            parts.append(({"full": "full", "sliding": "local", "chunked": "chunked"}[kind] if m.rope
                          else "nope") + ("-shared" if m.kv_shared else ""))
        elif m.KIND == "mla":
            parts.append("mla")
        elif m.KIND == "linear_attention":
            parts.append("linear")
        elif m.KIND == "short_conv":
            parts.append("conv")
        elif m.KIND == "cross_attention":
            parts.append("cross")
        else:
            parts.append(m.variant)
    for f in layer.ffns:
        parts.append(f.KIND + ("-sparse" if getattr(f, "activation_sparsity", 0) else ""))
    return "+".join(parts)


def clamp_window(window: int, context: int) -> tuple[str, int]:
    """Sliding layers whose window covers the whole context behave as full attention."""
    if not window or window >= context:
        return "full", 0
    return "sliding", int(window)


Importer = Callable[[Config, str], ModelSpec]
