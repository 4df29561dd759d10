"""Dense decoder family: Llama and its descendants (Mistral, Qwen2/3, SmolLM3, Yi, Phi-3/4, OLMo 1/2/3,
Gemma 2/3, GLM-4, Granite 3, ERNIE 4.5, Qwen3-VL's text model, Seed-OSS, Hunyuan, Helium, Arcee AFM,
EXAONE 4.0, Nemotron-4 / Minitron, Ministral, Meta's CWM, InternLM3, IQuest-Coder, VaultGemma,
HyperCLOVA X, Apertus, Granite SWA, Jais 2, Emu3's language model, nanochat, BitNet, Diff-Llama). They
differ in small ways: biases, QK-norm, norm placement and kind, sliding-window layers, NoPE layers,
norms inside the sublayers and differential attention."""
from __future__ import annotations

from typing import Mapping

from ..spec import Attention, Layer, SpecError
from .common import (Config, activation, as_int, build_spec, clamp_window, context_length, dense_ffn, get,
                     gqa_attention, layer_types, nullable_int, rope_by_layer_theta, rope_fraction)

# Per model_type: (qkv_bias default, out_bias default, qk_norm, norm placement)
_VARIANTS = {
    "llama": (None, None, "none", "pre"),
    "mistral": (False, False, "none", "pre"),
    "qwen2": (True, False, "none", "pre"),
    "qwen3": (None, None, "head", "pre"),
    "smollm3": (None, None, "none", "pre"),
    "phi3": (False, False, "none", "pre"),
    "olmo": (False, False, "none", "pre"),
    "olmo2": (None, None, "full", "post"),
    "olmo3": (None, None, "full", "post"),
    "gemma": (None, None, "none", "pre"),
    "gemma2": (None, None, "none", "sandwich"),
    "gemma3_text": (None, None, "head", "sandwich"),
    "glm4": (True, False, "none", "sandwich"),
    "glm": (True, False, "none", "pre"),          # GLM-4 (2024), transformers-native format
    "granite": (None, None, "none", "pre"),       # Llama plus scalar multipliers (no weights)
    "ernie4_5": (None, None, "none", "pre"),      # use_bias: every projection, MLP included
    "qwen3_vl_text": (None, None, "head", "pre"),  # Qwen3 with 3D (time, height, width) RoPE
    "seed_oss": (None, None, "none", "pre"),      # attention_bias on Q/K/V, attention_out_bias on O
    "hunyuan_v1_dense": (None, None, "head", "pre"),
    "helium": (None, False, "none", "pre"),
    "arcee": (None, None, "none", "pre"),         # AFM: a plain ReLU^2 MLP
    "exaone4": (False, False, "head", "post"),    # 3 sliding RoPE layers : 1 global NoPE layer
    "nemotron": (None, None, "none", "pre"),      # Nemotron-4 / Minitron: LayerNorm1P, ReLU^2 MLP
    "ministral": (False, False, "none", "pre"),   # sliding layers from layer_types
    "ministral3": (False, False, "none", "pre"),
    "cwm": (False, False, "none", "pre"),         # Code World Model: 3 sliding layers : 1 full
    "internlm3": (None, None, "none", "pre"),     # qkv_bias / bias are its names for the biases
    "iquestcoder": (None, None, "none", "pre"),   # IQuest-Coder: Llama's layer
    "vaultgemma": (None, None, "none", "pre"),    # Gemma 2 without its norms after the sublayers
    "hyperclovax": (None, None, "none", "sandwich"),  # Granite with Peri-LN (use_post_norm)
    "apertus": (None, None, "head", "pre"),       # Apertus: a plain MLP with the learned xIELU
    "glm4v_text": (True, False, "none", "sandwich"),  # GLM-4.1V's GLM-4 (Q/K/V biases always)
}


def _window_kinds(cfg: Config, mt: str, n: int, context: int) -> list[tuple[str, int]]:
    """(kind, window) for each layer, from layer_types or the older per-family keys."""
    window = as_int(cfg, "sliding_window", default=0)
    types = layer_types(cfg, n)
    if mt == "qwen2" and not get(cfg, "use_sliding_window", default=False):
        types = None
        window = 0
    if types is not None:
        return [clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
                for t in types]
    if mt == "exaone4":
        return [clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
                for t in _exaone4_types(cfg, n)]
    if mt == "cwm":            # transformers' default: layer 0 and every 4th after it full
        return [("full", 0) if i % 4 == 0 else clamp_window(window, context) for i in range(n)]
    if mt in ("gemma2", "vaultgemma"):         # even layers local, odd layers global
        return [clamp_window(window, context) if i % 2 == 0 else ("full", 0) for i in range(n)]
    if mt == "gemma3_text":    # every sliding_window_pattern-th layer global
        period = as_int(cfg, "sliding_window_pattern", default=6)
        return [("full", 0) if (i + 1) % period == 0 else clamp_window(window, context)
                for i in range(n)]
    if mt in ("qwen3", "smollm3", "qwen2"):
        use = get(cfg, "use_sliding_window", default=False)
        if not use:
            return [("full", 0)] * n
        start = as_int(cfg, "max_window_layers", default=n)
        return [clamp_window(window, context) if i >= start else ("full", 0) for i in range(n)]
    return [clamp_window(window, context)] * n


def _exaone4_types(cfg: Config, n: int) -> list[str]:
    """EXAONE 4.0 without layer_types: sliding_window_pattern, an int (every n-th layer global) or
    a string such as "LLLG" repeated from layer 0; the last layer is always global; no
    sliding_window means every layer global."""
    if not get(cfg, "sliding_window"):
        return ["full_attention"] * n
    pattern = get(cfg, "sliding_window_pattern", default=4)
    if isinstance(pattern, str) and pattern and set(pattern) <= {"L", "G"}:
        types = ["sliding_attention" if pattern[i % len(pattern)] == "L" else "full_attention"
                 for i in range(n)]
        return types[:-1] + ["full_attention"]
    period = as_int(cfg, "sliding_window_pattern", default=4)
    return ["sliding_attention" if period and (i + 1) % period else "full_attention" for i in range(n)]


def exaone4_attention_layers(cfg: Config, n: int, context: int) -> list[tuple[str, int, bool]]:
    """(kind, window, rope) per layer of EXAONE 4.0's attention (K-EXAONE's too): sliding layers
    with RoPE and, when any layer slides, global layers without positions."""
    kinds = _window_kinds(cfg, "exaone4", n, context)
    hybrid = any(kind == "sliding" for kind, _ in kinds)
    return [(kind, window, kind == "sliding" or not hybrid) for kind, window in kinds]


def _rope_layers(cfg: Config, n: int) -> list[bool]:
    flags = cfg.get("no_rope_layers")
    if isinstance(flags, list) and len(flags) >= n:
        return [bool(x) for x in flags[:n]]
    interval = get(cfg, "no_rope_layer_interval")
    if interval:
        return [(i + 1) % int(interval) != 0 for i in range(n)]
    return [True] * n


def import_dense(cfg: Config, name: str):
    mt = str(cfg["model_type"])
    qkv_bias, out_bias, qk_norm, placement = _VARIANTS[mt]
    hidden = as_int(cfg, "hidden_size")
    n = as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    # InternLM3 names the biases qkv_bias and bias (transformers' attribute_map)
    bias_keys = ("attention_bias", "qkv_bias") if mt == "internlm3" else ("attention_bias",)
    bias = bool(get(cfg, *bias_keys, default=False))
    if mt == "qwen3" and get(cfg, "attention_bias"):
        qkv_bias = out_bias = True
    if mt in ("qwen2",):
        qkv_bias = True
    if mt in ("glm4", "glm"):
        qkv_bias = bool(get(cfg, "attention_bias", default=True))
    if mt == "ernie4_5":
        bias = bool(get(cfg, "use_bias", default=False))
    if mt == "seed_oss":
        qkv_bias = bool(get(cfg, "attention_bias", default=True))
        out_bias = bool(get(cfg, "attention_out_bias", default=False))
    qkv_bias = bias if qkv_bias is None else qkv_bias
    out_bias = bias if out_bias is None else out_bias
    if mt in ("gemma3_text", "gemma2", "gemma", "vaultgemma"):
        act = activation(get(cfg, "hidden_activation", "hidden_act", default="gelu_pytorch_tanh"))
    else:
        act = activation(get(cfg, "hidden_act", default="silu"))
    if mt in ("arcee", "nemotron", "apertus"):          # a plain MLP: ReLU^2 (xIELU for Apertus)
        default = "xielu" if mt == "apertus" else "relu2"
        ffn = dense_ffn(cfg, gated=False, activation=activation(get(cfg, "hidden_act", default=default)))
    elif mt == "internlm3":
        ffn = dense_ffn(cfg, activation=act, bias=bool(get(cfg, "mlp_bias", "bias", default=False)))
    else:
        ffn = dense_ffn(cfg, activation=act, **({"bias": bias} if mt == "ernie4_5" else {}))
    kinds = _window_kinds(cfg, mt, n, context)
    ropes = _rope_layers(cfg, n)
    if mt == "exaone4":                      # global layers go without positions
        ropes = [rope for _, _, rope in exaone4_attention_layers(cfg, n, context)]
    layers = []
    for (kind, window), rope in zip(kinds, ropes):
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=window, qk_norm=qk_norm,
                             qkv_bias=qkv_bias, out_bias=out_bias, rope=rope)
        layers.append(Layer((attn,), (ffn,)))
    if mt == "hyperclovax" and not get(cfg, "use_post_norm", default=True):
        placement = "pre"
    norm = {"olmo": "layernorm_noparam", "nemotron": "layernorm"}.get(mt, "rmsnorm")
    return build_spec(cfg, name, layers, norm=norm, norm_bias=mt == "nemotron", norm_placement=placement,
                      rope_fraction=rope_fraction(cfg))


# --------------------------------------------------------------------------- types with their own importer

def granite_swa_attention(cfg: Config) -> list[Attention]:
    """Granite SWA's attention per layer (its MoE variant's too): a learned sink logit per head;
    sliding layers from layer_types (default: layer 0 and every 4th after it full, the rest a
    128-token window); NoPE layers where layer_rope_theta is 0."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    window = nullable_int(cfg, "sliding_window", 128)
    types = layer_types(cfg, n) or ["full_attention" if i % 4 == 0 else "sliding_attention" for i in range(n)]
    attention = []
    for t, rope in zip(types, rope_by_layer_theta(cfg, n)):
        kind, win = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        attention.append(gqa_attention(cfg, hidden=hidden, kind=kind, window=win, sinks=True, rope=rope))
    return attention


def import_granite_swa(cfg: Config, name: str):
    """Granite SWA: Granite's layer with granite_swa_attention; its multipliers are scalars, not
    weights."""
    ffn = dense_ffn(cfg)
    return build_spec(cfg, name, [Layer((attn,), (ffn,)) for attn in granite_swa_attention(cfg)],
                      rope_fraction=rope_fraction(cfg))


def import_jais2(cfg: Config, name: str):
    """Jais 2: Llama's attention and a plain (ungated) ReLU^2 MLP, both with biases unless the
    config turns them off, under LayerNorms with biases."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    bias = bool(get(cfg, "attention_bias", default=True))
    attn = gqa_attention(cfg, hidden=hidden, qkv_bias=bias, out_bias=bias)
    ffn = dense_ffn(cfg, gated=False, activation=activation(get(cfg, "hidden_act", default="relu2")),
                    bias=bool(get(cfg, "mlp_bias", default=True)))
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * n, norm="layernorm", norm_bias=True,
                      rope_fraction=rope_fraction(cfg))


# Emu3TextConfig's KV heads when its config.json leaves them out (transformers 5.23)
_EMU3_KV_HEADS = 8


def _emu3_language_model(cfg: Config) -> dict:
    """Emu3's text_config, read as an emu3 config: the language model AutoModelForCausalLM builds.
    Its VQ-VAE (vq_config) is the image tokenizer that turns images into tokens of the shared
    vocabulary and back, outside that model; it is not counted."""
    text = cfg.get("text_config")
    if not isinstance(text, Mapping):
        raise SpecError("config.text_config", "emu3 configs need a text_config object (the language model)")
    return {**text, "model_type": "emu3"}


def import_emu3(cfg: Config, name: str):
    """BAAI's Emu3: a Llama decoder (GQA, SwiGLU, pre-norm RMSNorms; attention_bias and mlp_bias as in
    Llama) over one vocabulary of text and image tokens, in text_config. Its head is tied by
    text_config's flag alone (untied by default), as transformers builds the causal LM. Errors name
    the key inside text_config."""
    text = _emu3_language_model(cfg)
    try:
        return _import_emu3_text(text, name)
    except SpecError as err:
        if not err.field.startswith("config."):
            raise
        raise SpecError("config.text_config." + err.field[len("config."):], err.rule) from None


def _import_emu3_text(text: Config, name: str):
    hidden, n = as_int(text, "hidden_size"), as_int(text, "num_hidden_layers")
    attn = gqa_attention(text, hidden=hidden, kv_heads=as_int(text, "num_key_value_heads", default=_EMU3_KV_HEADS))
    layers = [Layer((attn,), (dense_ffn(text),))] * n
    return build_spec(text, name, layers, rope_fraction=rope_fraction(text))


def import_nanochat(cfg: Config, name: str):
    """Karpathy's nanochat: RMSNorms without weights (one after the embedding too, the same module
    as the final norm), a weightless QK norm after RoPE turning the other way round, a plain ReLU^2
    MLP, no biases, an untied head (its logit soft-cap has no weights)."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn = gqa_attention(cfg, hidden=hidden, qk_norm="l2")
    ffn = dense_ffn(cfg, gated=False, activation=activation(get(cfg, "hidden_act", default="relu2")))
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * n, norm="rmsnorm_noparam", embedding_norm=True,
                      rope_fraction=rope_fraction(cfg), rope_reversed=True)


def import_bitnet(cfg: Config, name: str):
    """Microsoft's BitNet b1.58: Llama's layer with an RMSNorm over the attention output before
    o_proj (attn_sub_norm) and one over the gated ReLU^2 hidden before down_proj (ffn_sub_norm).
    Its checkpoints hold ternary weights (quantization_config "bitnet"); the count is of the
    weights, whatever format stores them."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn = gqa_attention(cfg, hidden=hidden, out_norm=True)
    if attn.heads * attn.vdim != hidden:
        raise SpecError("config.head_dim", f"BitNet's attn_sub_norm has hidden_size ({hidden}) weights: the "
                                           f"heads' output ({attn.heads} x {attn.vdim}) must be as wide")
    ffn = dense_ffn(cfg, activation=activation(get(cfg, "hidden_act", default="relu2")), inner_norm=True)
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * n, rope_fraction=rope_fraction(cfg))


def import_diffllama(cfg: Config, name: str):
    """Diff-Llama: Llama's layer with differential attention (arXiv:2410.05258): heads in pairs over
    the same scores, values two KV heads wide, lambda's four learned vectors per layer. transformers
    refuses attention dropout here, as the paper defines none."""
    hidden, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn = gqa_attention(cfg, hidden=hidden, differential=True)
    return build_spec(cfg, name, [Layer((attn,), (dense_ffn(cfg),))] * n)


def import_dense_types() -> dict:
    return {**{mt: import_dense for mt in _VARIANTS}, "granite_swa": import_granite_swa, "jais2": import_jais2,
            "emu3": import_emu3, "nanochat": import_nanochat, "bitnet": import_bitnet,
            "diffllama": import_diffllama}
