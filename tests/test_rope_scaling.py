"""RoPE's stretched frequencies (linear, llama3, yarn) and YaRN's cos/sin factor against
transformers' own rope initialisers (modeling_rope_utils), on real and default configs."""
from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hf_reference import default_config  # noqa: E402
from models.hf import spec_from_hf_config  # noqa: E402
from models.spec import MLA, Attention, RopeScaling, SpecError  # noqa: E402


def _catalog_config(model_id: str) -> dict:
    from models.catalog import catalog
    return copy.deepcopy(catalog()[model_id].hf_config)


CONFIGS = {
    # Llama 3.1's llama3 stretch (factor 8, low 1, high 4, 8,192 trained)
    # Llama 4 Scout's: low = high = 1, no blended band
    "llama4 llama3 (low = high)": lambda: _catalog_config("llama-4-scout-17b-16e"),
    "llama3": lambda: default_config("llama", rope_parameters={
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    "gpt-oss-120b yarn": lambda: _catalog_config("gpt-oss-120b"),
    "deepseek-v3 yarn (MLA)": lambda: _catalog_config("deepseek-v3"),
    "kimi-k2 yarn (beta 1/1)": lambda: _catalog_config("kimi-k2"),
    "qwen2 yarn": lambda: default_config("qwen2", rope_parameters={
        "rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0, "original_max_position_embeddings": 32768}),
    "linear": lambda: default_config("llama", rope_parameters={"rope_type": "linear", "rope_theta": 1e4,
                                                                "factor": 4.0}),
}


def _ours(cfg: dict):
    """The rotary module of the spec's first rotary layer, built as the profiler builds it."""
    from kernels.blocks import build_layer
    spec = spec_from_hf_config(cfg)
    name = next(n for n in spec.layout if any(isinstance(m, (Attention, MLA)) and m.rope
                                              for m in spec.blocks[n].mixers))
    layer = build_layer(spec, spec.blocks[name], device="meta")        # (the frequencies are made on use)
    return spec, layer.mixers[0].rotary


def _reference(cfg: dict):
    """transformers' inverse frequencies and cos/sin factor for the same config."""
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    # (Kimi K2 runs DeepSeek-V3's code: transformers knows its config as deepseek_v3)
    config = AutoConfig.for_model(**{**cfg, "model_type": {"kimi_k2": "deepseek_v3"}.get(cfg["model_type"],
                                                                                      cfg["model_type"])})
    config = getattr(config, "text_config", None) or config
    kind = config.rope_parameters["rope_type"]
    return ROPE_INIT_FUNCTIONS[kind](config, "cpu")


@pytest.mark.parametrize("case", list(CONFIGS))
def test_stretched_frequencies_and_factor_equal_transformers(case):
    cfg = CONFIGS[case]()
    spec, rotary = _ours(cfg)
    assert spec.rope_scaling is not None
    inv_ref, factor_ref = _reference(cfg)
    inv = rotary._frequencies(torch.float64, torch.device("cpu"))
    assert inv.shape == inv_ref.shape
    assert ((inv - inv_ref.double()).abs() / inv_ref.double()).max().item() < 1e-6     # transformers: fp32
    assert rotary.attention_factor == pytest.approx(factor_ref, rel=1e-12)


def test_the_stretch_changes_the_frequencies():
    """llama3 at factor 8 slows the long waves eightfold and keeps the short ones."""
    cfg = CONFIGS["llama3"]()
    _, rotary = _ours(cfg)
    plain = 500000.0 ** -(torch.arange(0, 128, 2, dtype=torch.float64) / 128)
    inv = rotary._frequencies(torch.float64, torch.device("cpu"))
    assert inv[0] == plain[0] and inv[-1] == pytest.approx(plain[-1] / 8, rel=1e-12)


def test_gemma3s_local_layers_turn_unscaled():
    """Gemma 3 stretches its global layers (linear, factor 8) and not its local ones, which have a
    base of their own (transformers' rope parameters per layer type)."""
    from kernels.blocks import build_layer
    from models.catalog import catalog
    spec = catalog()["gemma-3-27b"].spec()
    assert spec.rope_scaling == RopeScaling(kind="linear", factor=8.0)
    rot = {m.kind: build_layer(spec, layer, device="meta").mixers[0].rotary
           for layer in spec.blocks.values() for m in layer.mixers}
    f_global = rot["full"]._frequencies(torch.float64, torch.device("cpu"))
    f_local = rot["sliding"]._frequencies(torch.float64, torch.device("cpu"))
    assert f_global[0].item() == pytest.approx(1 / 8) and f_local[0].item() == 1.0


@pytest.mark.parametrize("kind", ["dynamic", "longrope"])
def test_stretches_not_modelled_are_left_out(kind):
    cfg = default_config("llama", rope_parameters={"rope_type": kind, "rope_theta": 1e4, "factor": 2.0,
                                                    "original_max_position_embeddings": 4096,
                                                    "short_factor": [1.0] * 64, "long_factor": [2.0] * 64})
    assert spec_from_hf_config(cfg).rope_scaling is None


@pytest.mark.parametrize("changes, field", [
    (dict(kind="ntk"), "rope_scaling.kind"), (dict(factor=0.0), "rope_scaling.factor"),
    (dict(kind="yarn", original_context=0), "rope_scaling.original_context"),
    (dict(kind="llama3", original_context=8192, low_freq_factor=4.0, high_freq_factor=1.0),
     "rope_scaling.high_freq_factor"),
])
def test_impossible_stretches_are_named(changes, field):
    from models.catalog import catalog
    data = catalog()["llama-3-8b"].spec().to_dict()
    data["rope_scaling"] = {**RopeScaling(kind="linear", factor=2.0).to_dict(), **changes}
    from models.spec import ModelSpec
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(data)
    assert err.value.field == field
