"""RoPE bases as transformers' config classes resolve them: rope_theta, rope_parameters (flat or by
layer type), Gemma's rope_local_base_freq, and each class's default where a config leaves them out."""
from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from models.hf import SUPPORTED_MODEL_TYPES, WRAPPER_TYPES, spec_from_hf_config  # noqa: E402
from models.spec import Attention, SpecError  # noqa: E402

ROPE_KEYS = ("rope_parameters", "rope_theta", "rope_scaling", "rope_local_base_freq")
LAYER_TYPE = {"full": "full_attention", "sliding": "sliding_attention", "chunked": "chunked_attention"}


def _reference_and_config(model_type: str) -> tuple[dict, dict] | None:
    """transformers' default config as a config.json holds it, and its resolved rope_parameters."""
    from transformers import AutoConfig
    try:
        config = AutoConfig.for_model(model_type)
    except (ValueError, KeyError):
        return None
    if getattr(config, "text_config", None) is not None:      # wrappers: the text model's own test
        return None
    params = getattr(config, "rope_parameters", None)
    if not params:
        return None
    return params, {**config.to_dict(), "model_type": model_type}


def _bases(spec) -> set[tuple[str, float]]:
    return {(m.kind, m.rope_theta or spec.rope_theta) for layer in spec.layers for m in layer.mixers
            if isinstance(m, Attention) and m.rope}


def _expected(params: dict, kinds) -> set[tuple[str, float]]:
    if "rope_theta" in params:
        return {(kind, params["rope_theta"]) for kind in kinds}
    return {(kind, params[LAYER_TYPE[kind]]["rope_theta"]) for kind in kinds}


CASES = sorted(SUPPORTED_MODEL_TYPES)


@pytest.mark.parametrize("without_keys", [False, True], ids=["stated", "class-default"])
@pytest.mark.parametrize("model_type", CASES)
def test_rope_bases_match_transformers(model_type, without_keys):
    """Stated: the config as transformers writes it (rope_parameters). Class default: the rope keys
    left out, so that the base comes from the config class's default (our DEFAULT_THETA)."""
    found = _reference_and_config(model_type)
    if found is None:
        pytest.skip("no RoPE, a wrapper, or no default config in transformers")
    params, cfg = found
    if without_keys:
        cfg = {k: v for k, v in cfg.items() if k not in ROPE_KEYS}
    try:
        spec = spec_from_hf_config(cfg)
    except SpecError as exc:        # a default config that leaves out a key we need (DeepSeek-V2's top-k)
        pytest.skip(f"the default config does not import: {exc}")
    got = _bases(spec)
    if not got:
        pytest.skip("no rotary attention layers")
    assert got == _expected(params, {kind for kind, _ in got})


def test_gemma3s_published_config_keeps_its_local_base():
    """google/gemma-3 configs (transformers 4.50): rope_theta 1,000,000, rope_local_base_freq 10,000."""
    from models.catalog import catalog
    spec = catalog()["gemma-3-27b"].spec()
    assert spec.rope_theta == 1e6 and _bases(spec) == {("full", 1e6), ("sliding", 1e4)}


def test_a_bad_base_is_named():
    with pytest.raises(SpecError) as err:
        spec_from_hf_config({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                             "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 10,
                             "rope_theta": -1})
    assert err.value.field == "config.rope_theta"


def test_gemmas_legacy_local_base_is_read():
    """A config in transformers 4's keys: rope_theta for the global layers, rope_local_base_freq
    for the sliding ones (here not the class default, so that reading it shows)."""
    cfg = {"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 6,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
           "rope_theta": 500000.0, "rope_local_base_freq": 20000.0, "sliding_window": 32}
    assert _bases(spec_from_hf_config(cfg)) == {("full", 5e5), ("sliding", 2e4)}


def test_the_positions_box_shows_the_bases():
    from models.catalog import catalog
    from models.diagram import diagram_model
    box = next(item for item in diagram_model(catalog()["gemma-3-27b"].spec()).overview if item.kind == "position")
    assert "base 1,000,000; 10,000 in local layers" in box.lines


def _wrapper_reference(model_type: str, without_keys: bool):
    """(our spec's bases, transformers' text model's) for an image-text type's default config, with
    its text_config's rope keys left out where asked; None where transformers has no default."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    try:
        cfg = {**CONFIG_MAPPING[model_type]().to_dict(), "model_type": model_type}
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(cfg.get("text_config"), dict):
        return None
    if without_keys:
        cfg["text_config"] = {k: v for k, v in cfg["text_config"].items() if k not in ROPE_KEYS}
        cfg = {k: v for k, v in cfg.items() if k not in ROPE_KEYS}
    reference = CONFIG_MAPPING[model_type](**{k: v for k, v in cfg.items() if k != "model_type"}).text_config
    params = getattr(reference, "rope_parameters", None)
    try:
        spec = spec_from_hf_config(cfg)
    except SpecError:
        return None
    got = _bases(spec)
    if not params or not got:
        return None
    return got, _expected(params, {kind for kind, _ in got})


@pytest.mark.parametrize("without_keys", [False, True], ids=["stated", "class-default"])
@pytest.mark.parametrize("model_type", sorted(WRAPPER_TYPES))
def test_image_text_models_take_their_text_configs_rope_bases(model_type, without_keys):
    """An image-text type's language model is read as a supported text type, but a text_config
    that leaves its RoPE base out takes the default of the wrapper's own text-config class
    (Qwen2-VL's 1,000,000, not Qwen2's 10,000)."""
    found = _wrapper_reference(model_type, without_keys)
    if found is None:
        pytest.skip("no RoPE, or no default config in transformers")
    got, expected = found
    assert got == expected
