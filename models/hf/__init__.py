"""Hugging Face ``config.json`` import: the raw config dict in, a validated ModelSpec out.

Every supported ``model_type`` maps to an importer in one family module. Nothing here imports
``transformers``, and ``auto_map`` (remote code) is never looked at.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ..spec import Attention, Layer, ModelSpec, SpecError
from . import deepseek, gemma3n, gemma4, gpt, hybrid, mllama, moe
from .common import TIED_BY_DEFAULT, get
from .dense import import_dense_types

IMPORTERS = {**import_dense_types(), **moe.IMPORTERS, **deepseek.IMPORTERS, **gpt.IMPORTERS,
             **hybrid.IMPORTERS, **gemma3n.IMPORTERS, **gemma4.IMPORTERS, **mllama.IMPORTERS}
# Multimodal wrappers whose language model sits in text_config, with the type it is read as (None:
# whichever supported type text_config names, else the wrapper's transformers default below).
_WRAPPERS = {"gemma3": "gemma3_text", "llama4": "llama4_text",
             "qwen2_vl": "qwen2", "qwen2_5_vl": "qwen2", "qwen3_5": "qwen3_5_text",
             "qwen3_5_moe": "qwen3_5_moe_text", "qwen3_vl": "qwen3_vl_text",
             "qwen3_vl_moe": "qwen3_vl_moe_text", "lfm2_vl": "lfm2", "glm4v": "glm4v_text",
             "glm4v_moe": "glm4v_moe_text", "gemma3n": "gemma3n_text", "gemma4": "gemma4_text",
             "gemma4_unified": "gemma4_unified_text", "aria": "aria_text", "fuyu": "persimmon",
             "exaone4_5": "exaone4", "lfm3_vl": "lfm3", "paddleocr_vl": "ernie4_5",
             "qwen2_5_omni_thinker": "qwen2", "qwen3_omni_moe_thinker": "qwen3_omni_moe_text",
             "glm_ocr": "glm4v_text",
             **dict.fromkeys(("mistral3", "llava", "llava_next", "llava_onevision", "llava_next_video", "video_llava", "vipllava",
                              "idefics2", "idefics3", "smolvlm", "aya_vision", "cohere2_vision", "internvl",
                              "kimi_k25", "paligemma", "shieldgemma2", "glm46v", "glmga", "cosmos3_omni",
                              "lighton_ocr", "hyperclovax_vision_v2", "minicpmv4_6", "minicpmv4_7",
                              "minicpm_ocr", "qianfan_ocr", "deepseek_vl", "video_llama_3",
                              "got_ocr2", "blip-2", "instructblip", "instructblipvideo"))}
_DEFAULT_TEXT_TYPE = {"mistral3": "mistral", "llava": "llama", "llava_next": "llama", "llava_onevision": "qwen2", "llava_next_video": "llama",
                      "video_llava": "llama", "vipllava": "llama", "idefics2": "mistral", "idefics3": "llama",
                      "smolvlm": "llama", "aya_vision": "cohere2", "cohere2_vision": "cohere2", "internvl": "qwen2",
                      "kimi_k25": "deepseek_v3", "paligemma": "gemma", "shieldgemma2": "gemma3_text",
                      "glm46v": "glm4v_text", "glmga": "glm4v_text", "cosmos3_omni": "qwen3_vl_text",
                      "lighton_ocr": "qwen3", "hyperclovax_vision_v2": "hyperclovax",
                      "minicpmv4_6": "qwen3_5_text", "minicpmv4_7": "qwen3_5_text", "minicpm_ocr": "qwen3_5_text",
                      "qianfan_ocr": "qwen3", "deepseek_vl": "llama",
                      "video_llama_3": "qwen2", "got_ocr2": "qwen2", "blip-2": "opt",
                      "instructblip": "opt", "instructblipvideo": "opt"}
# Wrappers that tie the head when config.json says nothing (their transformers class default;
# Mistral3Config's "tied" is left out on purpose, see spec_from_hf_config)
_TIED_WRAPPERS = frozenset({"gemma3", "lfm2_vl", "aya_vision", "internvl", "gemma3n", "gemma4",
                            "gemma4_unified", "kimi_k25", "cohere2_vision", "paligemma", "shieldgemma2",
                            "lighton_ocr", "lfm3_vl", "hyperclovax_vision_v2", "minicpm_ocr", "deepseek_vl",
                            "paddleocr_vl", "got_ocr2"})
# Wrappers with encoders beyond vision_config (Gemma 3n's and 4's, the Qwen Omni thinkers' audio_config)
_AUDIO_WRAPPERS = frozenset({"gemma3n", "gemma4", "gemma4_unified", "qwen2_5_omni_thinker",
                             "qwen3_omni_moe_thinker"})
# Wrappers whose head transformers ties by text_config's flag alone (else the text type's default),
# whatever the wrapper's says: the language model is built from text_config by itself
_TIED_BY_TEXT = frozenset({"blip-2", "instructblip", "instructblipvideo"})
# Language models that are encoder-decoders (BLIP-2's and InstructBLIP's Flan-T5), which a ModelSpec
# of decoder layers cannot describe
_ENCODER_DECODER_TEXT = frozenset({"t5", "mt5", "umt5", "longt5", "switch_transformers"})
# Wrappers whose published configs may keep the language model's keys at the top level
_FLAT_TEXT = frozenset({"qwen2_vl", "qwen2_5_vl", "fuyu", "paddleocr_vl"})
# Wrappers whose config class ties the head where either it or its text_config ties it, each flag
# taking its class default when unstated (PaddleOCRVLConfig: a flat file's text_config keeps its
# default, true, so transformers ties PaddleOCR-VL's published head; VideoLlama3Config)
_TIED_IF_EITHER_TIES = frozenset({"paddleocr_vl", "video_llama_3"})
# Wrappers whose language model is read as a type with interleaved RoPE pairs but turns rotate-half
# pairs (PaddleOCR-VL's ERNIE 4.5 layer: transformers' PaddleOCRTextModel)
_ROPE_HALVES = frozenset({"paddleocr_vl"})
# RoPE bases of the wrappers' own text-config classes where they differ from the type their
# language model is read as (Qwen2VLTextConfig: 1,000,000; Qwen2Config: 10,000), for a text_config
# that states none
_TEXT_THETA = {"qwen2_vl": 1e6, "qwen2_5_vl": 1e6, "qwen2_5_omni_thinker": 1e6}
# Text-config class defaults of wrappers where they differ from the type read (GlmOcrTextConfig's
# context), for a text_config that leaves the key out
_TEXT_DEFAULTS = {"glm_ocr": {"max_position_embeddings": 131072}}
# Wrappers whose language model is the type read without its Q/K/V biases (GLM-OCR's GLM-4V layer)
_NO_QKV_BIAS = frozenset({"glm_ocr"})
# Wrappers whose image encoder is sized by their own keys, without a vision_config (Fuyu's patch
# embedding)
_NO_VISION_CONFIG = frozenset({"fuyu"})
SUPPORTED_MODEL_TYPES = tuple(sorted(set(IMPORTERS) | set(_WRAPPERS)))
# image-text checkpoints (language model + image encoder): the wrappers, and Llama 3.2 Vision,
# whose language model reads the image through its own cross-attention layers
WRAPPER_TYPES = frozenset(_WRAPPERS) | frozenset(mllama.IMPORTERS)
# Where an unsupported type's message starts listing the supported ones (the app moves the list
# into the dialog's details)
SUPPORTED_LIST_MARKER = "; supported model types: "


# What a config with wrong types or absurd values raises inside an importer's arithmetic.
_UNREADABLE = (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, IndexError,
               OverflowError)


def _without_qkv_bias(layer: Layer) -> Layer:
    return dataclasses.replace(layer, mixers=tuple(
        dataclasses.replace(m, qkv_bias=False) if isinstance(m, Attention) else m for m in layer.mixers))


def _states_rope_base(cfg: Mapping[str, Any]) -> bool:
    """Whether a config gives its RoPE base: rope_theta, or a rope_theta in rope_parameters (flat or
    by layer type) or rope_scaling."""
    if cfg.get("rope_theta") is not None:
        return True
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling")
    if not isinstance(params, Mapping):
        return False
    return params.get("rope_theta") is not None or any(
        isinstance(v, Mapping) and v.get("rope_theta") is not None for v in params.values())


def spec_from_hf_config(config: Mapping[str, Any], name: str | None = None) -> ModelSpec:
    """Translate a Hugging Face config dict. Raises SpecError naming the offending key."""
    if not isinstance(config, Mapping):
        raise SpecError("config", "a Hugging Face config must be a JSON object")
    model_type = config.get("model_type")
    if model_type is None and hybrid.is_mamba_ssm_config(config):
        return hybrid.import_mamba_ssm(config, str(name or config.get("_name_or_path") or "mamba2"))
    if not isinstance(model_type, str) or not model_type:
        raise SpecError("config.model_type", "is missing; it names the architecture")
    name = name or str(config.get("_name_or_path") or model_type)
    if model_type in _WRAPPERS:
        text = config.get("text_config")
        if text is None and model_type in _FLAT_TEXT:
            text = {k: v for k, v in config.items() if k not in ("vision_config", "model_type")}
        if not isinstance(text, Mapping):
            raise SpecError("config.text_config", f"{model_type} configs need a text_config object")
        inner = dict(text)
        inner["model_type"] = _WRAPPERS[model_type] or text.get("model_type") or _DEFAULT_TEXT_TYPE[model_type]
        if inner["model_type"] in _ENCODER_DECODER_TEXT or text.get("is_encoder_decoder") is True:
            raise SpecError("config.text_config.model_type",
                            f"{inner['model_type']!r} is an encoder-decoder language model (an encoder over "
                            f"the prompt, a decoder cross-attending to it); only decoder-only language "
                            f"models are described")
        if inner["model_type"] in _WRAPPERS:
            raise SpecError("config.text_config.model_type",
                            f"{inner['model_type']!r} is itself an image-text wrapper, not a language model")
        # The head is tied by the wrapper's flag where config.json states one (transformers 5),
        # else by text_config's (transformers 4, which wrote most of these files), else by the
        # wrapper's default. Mistral Small 3.1 states neither: its checkpoint keeps a separate
        # head, as MistralConfig's default says (transformers 5.23 ties it by Mistral3Config's).
        tie = get(config, "tie_word_embeddings", default=get(text, "tie_word_embeddings"))
        if model_type not in _TIED_BY_TEXT:         # else inner keeps text_config's flag or none
            inner["tie_word_embeddings"] = model_type in _TIED_WRAPPERS if tie is None else tie
        if model_type in _TIED_IF_EITHER_TIES:
            nested = config.get("text_config")
            text_tie = nested.get("tie_word_embeddings") if isinstance(nested, Mapping) else None
            text_tie = inner["model_type"] in TIED_BY_DEFAULT if text_tie is None else text_tie
            inner["tie_word_embeddings"] = bool(get(config, "tie_word_embeddings",
                                                    default=model_type in _TIED_WRAPPERS)) or bool(text_tie)
        if model_type in _TEXT_THETA and not _states_rope_base(inner):
            inner["rope_theta"] = _TEXT_THETA[model_type]
        for key, value in _TEXT_DEFAULTS.get(model_type, {}).items():
            if inner.get(key) is None:
                inner[key] = value
        spec = spec_from_hf_config(inner, name)
        if model_type in _NO_QKV_BIAS:
            spec = spec.with_changes(blocks={k: _without_qkv_bias(layer) for k, layer in spec.blocks.items()})
        if model_type in _ROPE_HALVES:
            spec = spec.with_changes(rope_interleaved=False)
        vision_cfg = config.get("vision_config")
        if isinstance(vision_cfg, Mapping) or model_type in _NO_VISION_CONFIG or (
                model_type in _AUDIO_WRAPPERS and isinstance(config.get("audio_config"), Mapping)):
            from .vision import ENCODERS
            try:
                vision = ENCODERS[model_type](vision_cfg, spec.hidden_size, config)
            except SpecError:
                raise
            except _UNREADABLE as exc:
                raise SpecError("config.vision_config", f"cannot read it: {exc!r}") from None
            spec = spec.with_changes(vision=vision, model_type=model_type)
        return spec
    importer = IMPORTERS.get(model_type)
    if importer is None:
        # a different spelling of a supported type (case, "-" or "_"), not a merely similar name:
        # deepseek_v32 is not deepseek_v3
        def squash(t: str) -> str:
            return t.lower().replace("-", "").replace("_", "")
        close = [t for t in SUPPORTED_MODEL_TYPES if squash(t) == squash(model_type)]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SpecError("config.model_type", f"{model_type!r} is not supported{hint}{SUPPORTED_LIST_MARKER}"
                                             f"{', '.join(SUPPORTED_MODEL_TYPES)}")
    try:
        return importer(config, name)
    except SpecError:
        raise
    except _UNREADABLE as exc:
        raise SpecError("config", f"cannot read this {model_type} config: {exc!r}") from None
