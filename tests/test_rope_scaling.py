"""RoPE's stretched frequencies (linear, llama3, yarn, longrope, dynamic NTK) and the cos/sin
factors of YaRN and longrope against transformers' own rope initialisers (modeling_rope_utils), on
real and default configs; longrope's and dynamic NTK's also at sequences within and past the
trained context."""
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
    # Phi-3.5-MoE's config.json: longrope as rope_scaling, original_max_position_embeddings at the top
    "phi-3.5-moe longrope": lambda: _fixture("phi-3.5-moe-instruct"),
    # Phi-4-mini's shape: a quarter of each head unrotated, 48 factors for the 96 rotated dims
    "phi3 longrope (partial 0.75)": lambda: default_config(
        "phi3", hidden_size=3072, num_attention_heads=24, num_key_value_heads=8, partial_rotary_factor=0.75,
        max_position_embeddings=131072, original_max_position_embeddings=4096,
        rope_scaling={"type": "longrope", "short_factor": [1.0 + i / 40 for i in range(48)],
                      "long_factor": [1.0 + i for i in range(48)]}),
    "dynamic": lambda: default_config("llama", max_position_embeddings=2048, rope_parameters={
        "rope_type": "dynamic", "rope_theta": 1e4, "factor": 4.0}),
}
# stretches whose frequencies depend on the sequence's reach, and the context each begins past
REACH = ("phi-3.5-moe longrope", "phi3 longrope (partial 0.75)", "dynamic")


def _fixture(name: str) -> dict:
    import json
    from pathlib import Path
    return json.loads((Path(__file__).parent / "fixtures" / "hf_configs" / f"{name}.json").read_text())


def _ours(cfg: dict):
    """The rotary module of the spec's first rotary layer, built as the profiler builds it."""
    from kernels.blocks import build_layer
    spec = spec_from_hf_config(cfg)
    name = next(n for n in spec.layout if any(isinstance(m, (Attention, MLA)) and m.rope
                                              for m in spec.blocks[n].mixers))
    layer = build_layer(spec, spec.blocks[name], device="meta")        # (the frequencies are made on use)
    return spec, layer.mixers[0].rotary


def _reference(cfg: dict, reach: int | None = None):
    """transformers' inverse frequencies and cos/sin factor for the same config (for a sequence of
    ``reach`` positions: its seq_len)."""
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    # (Kimi K2 runs DeepSeek-V3's code: transformers knows its config as deepseek_v3)
    config = AutoConfig.for_model(**{**cfg, "model_type": {"kimi_k2": "deepseek_v3"}.get(cfg["model_type"],
                                                                                      cfg["model_type"])})
    config = getattr(config, "text_config", None) or config
    kind = config.rope_parameters["rope_type"]
    return ROPE_INIT_FUNCTIONS[kind](config, "cpu", seq_len=reach)


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


@pytest.mark.parametrize("case", REACH)
@pytest.mark.parametrize("past", [0, 1, 4096], ids=["at", "one-past", "far-past"])
def test_frequencies_for_the_sequences_reach_equal_transformers(case, past):
    """longrope turns to its long factors, and dynamic NTK grows its base, once the sequence reaches
    past the trained context, as transformers' dynamic_rope_update picks them."""
    cfg = CONFIGS[case]()
    spec, rotary = _ours(cfg)
    reach = spec.rope_scaling.original_context + past
    inv_ref, factor_ref = _reference(cfg, reach)
    inv = rotary.frequencies_at(torch.arange(reach), torch.float64)
    assert ((inv - inv_ref.double()).abs() / inv_ref.double()).max().item() < 1e-6
    assert rotary.attention_factor == pytest.approx(factor_ref, rel=1e-12)
    plain = rotary._frequencies(torch.float64, torch.device("cpu"))
    assert torch.equal(inv, plain) == (past == 0)


def test_phi_longrope_imports_its_factors_and_cos_sin_factor():
    """Phi-3.5-MoE: 64 factor pairs, trained at 4,096, stretched to 131,072: cos and sin times
    sqrt(1 + ln 32 / ln 4096) = 1.19024."""
    s = spec_from_hf_config(_fixture("phi-3.5-moe-instruct")).rope_scaling
    assert (s.kind, s.original_context, s.factor) == ("longrope", 4096, 32.0)
    assert len(s.short_factors) == len(s.long_factors) == 64
    assert s.attention_factor == pytest.approx(1.19024, abs=1e-5)
    assert s.long_factors[0] == pytest.approx(1.02) and s.short_factors[0] == pytest.approx(1.0)


def test_longrope_factors_must_fit_the_rotated_dims():
    """A factor list one short of the 48 rotated pairs is named, with what the layer rotates."""
    cfg = CONFIGS["phi3 longrope (partial 0.75)"]()
    cfg["rope_scaling"]["short_factor"] = cfg["rope_scaling"]["short_factor"][:47]
    cfg["rope_scaling"]["long_factor"] = cfg["rope_scaling"]["long_factor"][:47]
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(cfg)
    assert err.value.field == "rope_scaling.short_factors" and "rotates 48 dim pairs" in str(err.value)


def test_mrope_turns_text_as_plain_rope():
    """Qwen2.5-VL's mrope gives text tokens one position on all three axes: plain RoPE."""
    assert spec_from_hf_config(_fixture("qwen2.5-vl-3b-instruct")).rope_scaling is None


@pytest.mark.parametrize("changes, field", [
    (dict(kind="ntk"), "rope_scaling.kind"), (dict(factor=0.0), "rope_scaling.factor"),
    (dict(kind="yarn", original_context=0), "rope_scaling.original_context"),
    (dict(kind="llama3", original_context=8192, low_freq_factor=4.0, high_freq_factor=1.0),
     "rope_scaling.high_freq_factor"),
    (dict(kind="longrope", original_context=4096), "rope_scaling.short_factors"),
    (dict(kind="longrope", original_context=4096, short_factors=[1.0] * 64, long_factors=[1.0] * 63),
     "rope_scaling.long_factors"),
    (dict(kind="longrope", original_context=4096, short_factors=[1.0] * 63 + [0.0], long_factors=[1.0] * 64),
     "rope_scaling.short_factors[63]"),
    (dict(kind="longrope", original_context=4096, short_factors=[1.0] * 32, long_factors=[1.0] * 32),
     "rope_scaling.short_factors"),
    (dict(kind="yarn", original_context=4096, short_factors=[1.0] * 64), "rope_scaling.short_factors"),
    (dict(kind="dynamic"), "rope_scaling.original_context"),
])
def test_impossible_stretches_are_named(changes, field):
    from models.catalog import catalog
    data = catalog()["llama-3-8b"].spec().to_dict()
    data["rope_scaling"] = {**RopeScaling(kind="linear", factor=2.0).to_dict(), **changes}
    from models.spec import ModelSpec
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(data)
    assert err.value.field == field
