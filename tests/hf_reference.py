"""Build a transformers model on the meta device from a raw config dict and count what it holds.

Test-only: transformers is a test dependency, never imported by the application.
"""
from __future__ import annotations

import warnings


def reference_param_count(config: dict) -> int:
    """Parameters plus persistent buffers (e.g. DeepSeek-V3's score-correction bias, which the
    checkpoint stores but transformers registers as a buffer); tied weights counted once."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = dict(config)
    config.pop("auto_map", None)
    config.pop("quantization_config", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = AutoConfig.for_model(**config)
        with torch.device("meta"):
            if "vision_config" in config:     # the whole image-text model, vision tower included
                from transformers import AutoModelForImageTextToText
                model = AutoModelForImageTextToText.from_config(cfg)
            else:
                model = AutoModelForCausalLM.from_config(cfg)
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    for module in model.modules():
        for name, buf in module.named_buffers(recurse=False):
            if name not in module._non_persistent_buffers_set and id(buf) not in seen:
                seen.add(id(buf))
                total += buf.numel()
    return total


def default_config(model_type: str, **changes) -> dict:
    """transformers' default config of ``model_type``, as a config.json would hold it, with changes."""
    from transformers import AutoConfig
    cfg = AutoConfig.for_model(model_type).to_dict()
    cfg.update(model_type=model_type, **changes)
    return cfg


def ours_and_reference(config: dict) -> tuple[int, int]:
    """(the engine's total, transformers' count) for a raw config dict."""
    import copy

    from models.hf import spec_from_hf_config
    from models.params import count_params
    return count_params(spec_from_hf_config(config)).total, reference_param_count(copy.deepcopy(config))


def assert_counts_equal(config: dict) -> None:
    """The engine's total equals transformers' count for ``config``, exactly."""
    ours, ref = ours_and_reference(config)
    assert ours == ref, f"ours {ours:,} vs transformers {ref:,} (diff {ours - ref:+,})"
