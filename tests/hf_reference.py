"""Build a transformers model on the meta device from a raw config dict and count what it holds.

Test-only: transformers is a test dependency, never imported by the application.
"""
from __future__ import annotations

import warnings


def causal_lm(config, **kwargs):
    """transformers' causal LM for a config object: through AutoModelForCausalLM, else by its class
    name (Mistral 4's is not registered there)."""
    import transformers
    from transformers import AutoModelForCausalLM
    try:
        return AutoModelForCausalLM.from_config(config, **kwargs)
    except ValueError:
        return getattr(transformers, type(config).__name__.replace("Config", "ForCausalLM"))._from_config(
            config, **kwargs)


def reference_param_count(config: dict) -> int:
    """Parameters plus persistent buffers (e.g. DeepSeek-V3's score-correction bias, which the
    checkpoint stores but transformers registers as a buffer); tied weights counted once."""
    import torch
    from transformers import AutoConfig

    config = dict(config)
    config.pop("auto_map", None)
    config.pop("quantization_config", None)
    if config.get("model_type") == "gemma3n":
        return _gemma3n_count(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = AutoConfig.for_model(**config)
        with torch.device("meta"):
            if "vision_config" in config:     # the whole image-text model, vision tower included
                from transformers import AutoModelForImageTextToText
                model = AutoModelForImageTextToText.from_config(cfg)
            else:
                model = causal_lm(cfg)
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


# timm 1.0.31's mobilenetv5_300m_enc built on the meta device (its state dict, counted in this
# project's session of 2026-11-24): Gemma 3n's vision tower, which transformers builds through timm
MOBILENET_V5_300M = 294_126_912


def _gemma3n_count(config: dict) -> int:
    """Gemma3nForConditionalGeneration without timm (not installed here, and its torchvision
    dependency would replace this project's torch): transformers' language model, audio encoder
    and both embedders, built on the meta device, plus timm's count of the vision tower."""
    import torch
    from transformers import Gemma3nConfig, Gemma3nForCausalLM
    from transformers.models.gemma3n.modeling_gemma3n import Gemma3nAudioEncoder, Gemma3nMultimodalEmbedder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = Gemma3nConfig.from_dict({k: v for k, v in config.items() if k != "model_type"})
        if cfg.vision_config.architecture != "mobilenetv5_300m_enc":
            raise ValueError(f"no timm count for {cfg.vision_config.architecture}")
        with torch.device("meta"):
            parts = [Gemma3nForCausalLM(cfg.text_config), Gemma3nAudioEncoder(cfg.audio_config),
                     Gemma3nMultimodalEmbedder(cfg.vision_config, cfg.text_config),
                     Gemma3nMultimodalEmbedder(cfg.audio_config, cfg.text_config)]
    if not cfg.tie_word_embeddings:
        raise ValueError("an untied Gemma 3n head: the language model alone would not say so")
    held = {id(t): t.numel() for m in parts for t in m.state_dict(keep_vars=True).values()}
    return sum(held.values()) + MOBILENET_V5_300M


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


def cache_bytes_held(config: dict, batch: int, tokens: int, id_limit: int) -> int:
    """Bytes of the keys and values transformers' cache holds after a bf16 prefill of ``tokens``
    random ids below ``id_limit`` (Gemma 3n/4: ids the per-layer table has rows for; transformers
    does not clamp them)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.bfloat16).eval()
    with torch.no_grad():
        out = model(input_ids=torch.randint(0, id_limit, (batch, tokens)), use_cache=True)
    return sum(t.numel() * t.element_size() for layer in out.past_key_values.layers
               for t in (getattr(layer, "keys", None), getattr(layer, "values", None)) if isinstance(t, torch.Tensor))
