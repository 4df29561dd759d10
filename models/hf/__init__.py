"""Hugging Face ``config.json`` import: the raw config dict in, a validated ModelSpec out.

Every supported ``model_type`` maps to an importer in one family module. Nothing here imports
``transformers``, and ``auto_map`` (remote code) is never looked at.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import ModelSpec, SpecError
from . import deepseek, gpt, hybrid, moe
from .dense import import_dense_types

IMPORTERS = {**import_dense_types(), **moe.IMPORTERS, **deepseek.IMPORTERS, **gpt.IMPORTERS,
             **hybrid.IMPORTERS}
# Multimodal wrappers whose language model sits in text_config.
_WRAPPERS = {"gemma3": "gemma3_text", "llama4": "llama4_text"}
SUPPORTED_MODEL_TYPES = tuple(sorted(set(IMPORTERS) | set(_WRAPPERS)))


# What a config with wrong types or absurd values raises inside an importer's arithmetic.
_UNREADABLE = (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, IndexError,
               OverflowError)


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
        if not isinstance(text, Mapping):
            raise SpecError("config.text_config", f"{model_type} configs need a text_config object")
        inner = dict(text)
        inner.setdefault("model_type", _WRAPPERS[model_type])
        inner["model_type"] = _WRAPPERS[model_type]
        for key in ("tie_word_embeddings",):
            if key in config and key not in text:
                inner[key] = config[key]
        spec = spec_from_hf_config(inner, name)
        vision_cfg = config.get("vision_config")
        if isinstance(vision_cfg, Mapping):
            from .vision import ENCODERS
            try:
                vision = ENCODERS[model_type](vision_cfg, spec.hidden_size)
            except SpecError:
                raise
            except _UNREADABLE as exc:
                raise SpecError("config.vision_config", f"cannot read it: {exc!r}") from None
            spec = spec.with_changes(vision=vision, model_type=model_type)
        return spec
    importer = IMPORTERS.get(model_type)
    if importer is None:
        raise SpecError("config.model_type",
                        f"{model_type!r} is not supported; supported model types: "
                        f"{', '.join(SUPPORTED_MODEL_TYPES)}")
    try:
        return importer(config, name)
    except SpecError:
        raise
    except _UNREADABLE as exc:
        raise SpecError("config", f"cannot read this {model_type} config: {exc!r}") from None
