"""Scores' scales and soft-caps, Granite's residual multiplier, and the embeddings' and logits'
multipliers (Gemma's sqrt(d), Granite's, Cohere's, Falcon-H1's): read from real configs, checked
against what transformers' models multiply by, validated, drawn, and honoured by the profiler. The blocks' numbers against transformers' layers are in
tests/test_layers_vs_transformers.py; the Triton kernel's in tests/test_triton_kernels.py."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from models import spec as S
from models.catalog import catalog
from models.diagram import diagram_model, score_formula
from models.hf import spec_from_hf_config

ATTN = dict(heads=4, kv_heads=2, head_dim=16)


def _attention(spec: S.ModelSpec) -> list:
    return [m for layer in spec.layers for m in layer.mixers]


@pytest.mark.parametrize("model_id, scale, softcap, logit_softcap", [
    # Gemma 2 9B: query_pre_attn_scalar 256 = its head size, so the default scale
    ("gemma-2-9b", 0.0, 50.0, 30.0),
    # Gemma 2 27B: query_pre_attn_scalar 144 (hidden / heads) against 128-wide heads
    ("gemma-2-27b", 144 ** -0.5, 50.0, 30.0),
    # Gemma 3 27B: query_pre_attn_scalar 168; no soft-caps
    ("gemma-3-27b", 168 ** -0.5, 0.0, 0.0),
    # Gemma 3n: scale 1 (its QK norms set it), final logits capped at 30
    ("gemma-3n-e4b", 1.0, 0.0, 30.0),
])
def test_catalog_gemmas_take_their_configs_scales_and_caps(model_id, scale, softcap, logit_softcap):
    spec = catalog()[model_id].spec()
    for m in _attention(spec):
        assert (m.scale, m.softcap) == (pytest.approx(scale, rel=1e-12), softcap)
    assert spec.logit_softcap == logit_softcap


@pytest.mark.parametrize("model_id, factor", [("deepseek-v3", 40), ("deepseek-r1", 40), ("kimi-k2", 32)])
def test_catalog_mla_models_with_yarn_take_mscale_squared(model_id, factor):
    """DeepSeek-V3's rope_scaling (yarn, mscale_all_dim 1): softmax scale 192^-1/2 (0.1 ln 40 + 1)^2."""
    mscale = 0.1 * math.log(factor) + 1
    spec = catalog()[model_id].spec()
    for m in _attention(spec):
        assert m.scale == m.score_scale == pytest.approx(192 ** -0.5 * mscale ** 2, rel=1e-12)


def _granite(**changes) -> dict:
    cfg = {"model_type": "granite", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000,
           "max_position_embeddings": 4096, "attention_multiplier": 0.015625, "residual_multiplier": 0.22,
           "embedding_multiplier": 12.0, "logits_scaling": 8.0}
    return {**cfg, **changes}


def test_granite_multipliers_become_the_scale_and_the_residual_scale():
    spec = spec_from_hf_config(_granite())
    assert {m.scale for m in _attention(spec)} == {0.015625}
    assert spec.residual_scale == 0.22
    # transformers' GraniteConfig defaults both to 1: scores then go unscaled
    plain = spec_from_hf_config({k: v for k, v in _granite().items()
                                 if k not in ("attention_multiplier", "residual_multiplier")})
    assert {m.scale for m in _attention(plain)} == {1.0} and plain.residual_scale == 1.0


def test_a_scale_equal_to_the_head_sizes_is_left_at_the_default():
    """Granite at 1/sqrt(64) with 64-wide heads: stored as 0, drawn as / sqrt(64)."""
    spec = spec_from_hf_config(_granite(attention_multiplier=64 ** -0.5))
    assert {m.scale for m in _attention(spec)} == {0.0}


@pytest.mark.parametrize("cfg, field", [
    ({"model_type": "gemma2", "query_pre_attn_scalar": 0}, "config.query_pre_attn_scalar"),
    ({"model_type": "gemma2", "attn_logit_softcapping": -5.0}, "config.attn_logit_softcapping"),
    ({"model_type": "gemma2", "final_logit_softcapping": "thirty"}, "config.final_logit_softcapping"),
    ({"model_type": "granite", "attention_multiplier": float("nan")}, "config.attention_multiplier"),
    ({"model_type": "granite", "residual_multiplier": 0}, "config.residual_multiplier"),
    ({"model_type": "deepseek_v3", "rope_scaling": {"type": "yarn", "factor": "40", "mscale_all_dim": 1}},
     "config.rope_scaling.factor"),
])
def test_bad_scalars_in_a_config_are_named(cfg, field):
    base = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 100, "head_dim": 16, "kv_lora_rank": 16,
            "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 16, "moe_intermediate_size": 32,
            "n_routed_experts": 4, "num_experts_per_tok": 2}
    with pytest.raises(S.SpecError) as err:
        spec_from_hf_config({**base, **cfg})
    assert err.value.field == field


def test_a_null_soft_cap_is_none():
    """Gemma 3's configs say "attn_logit_softcapping": null; so may a Gemma 2 config."""
    cfg = {"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "head_dim": 16,
           "attn_logit_softcapping": None, "final_logit_softcapping": None}
    spec = spec_from_hf_config(cfg)
    assert {m.softcap for m in _attention(spec)} == {0.0} and spec.logit_softcap == 0.0


@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=3),
                       st.integers(-5, 5)))
def test_spec_validation_takes_finite_non_negative_numbers_only(value):
    ok = not isinstance(value, (bool, str)) and math.isfinite(value) and value >= 0
    for make, field in ((lambda v: S.Attention(**ATTN, scale=v), "a.scale"),
                        (lambda v: S.Attention(**ATTN, softcap=v), "a.softcap"),
                        (lambda v: S.MLA(heads=2, kv_lora_rank=8, qk_nope_dim=4, qk_rope_dim=4, v_head_dim=4,
                                         scale=v), "a.scale")):
        part = make(value)
        if ok:
            part.validate("a")
        else:
            with pytest.raises(S.SpecError) as err:
                part.validate("a")
            assert err.value.field == field


@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.booleans()))
def test_model_scalars_must_be_finite_positive_or_for_the_cap_non_negative(value):
    base = dict(name="t", vocab_size=10, hidden_size=64, context_length=64,
                blocks={"b": S.Layer((S.Attention(**ATTN),))}, layout=("b",))
    number = not isinstance(value, bool) and math.isfinite(value)
    for field, ok in (("residual_scale", number and value > 0), ("logit_softcap", number and value >= 0),
                      ("embedding_scale", number and value > 0), ("logit_scale", number and value > 0)):
        if ok:
            assert getattr(S.ModelSpec(**base, **{field: value}), field) == value
        else:
            with pytest.raises(S.SpecError) as err:
                S.ModelSpec(**base, **{field: value})
            assert err.value.field == field


def test_scales_and_caps_survive_a_spec_file_round_trip():
    spec = catalog()["gemma-2-27b"].spec()
    again = S.ModelSpec.from_dict(spec.to_dict())
    assert again == spec and again.logit_softcap == 30.0


def test_old_spec_files_without_the_fields_load_with_the_defaults():
    data = catalog()["gemma-2-27b"].spec().to_dict()
    data.pop("logit_softcap")
    data.pop("residual_scale")
    for block in data["blocks"].values():
        block["mixer"].pop("scale")
        block["mixer"].pop("softcap")
    spec = S.ModelSpec.from_dict(data)
    assert spec.logit_softcap == 0.0 and {(m.scale, m.softcap) for m in _attention(spec)} == {(0.0, 0.0)}


# the types that scale embeddings or logits, at test size, their multipliers set off 1 where the
# config takes them (transformers' defaults otherwise: Gemma's sqrt(64) = 8, Cohere's 0.0625)
HEAD_SCALED = {
    "gemma": {}, "gemma2": {"final_logit_softcapping": None}, "gemma3_text": {},
    "vaultgemma": {"final_logit_softcapping": None},
    "gemma4_text": {"final_logit_softcapping": None, "hidden_size_per_layer_input": 0, "per_layer_config": {}},
    "granite": {"embedding_multiplier": 12.0, "logits_scaling": 16.0},
    "granitemoe": {"embedding_multiplier": 12.0, "logits_scaling": 8.0, "num_local_experts": 4,
                   "num_experts_per_tok": 2},
    # HyperCLOVA X multiplies its logits by logits_scaling, where Granite divides
    "hyperclovax": {"embedding_multiplier": 2.5, "logits_scaling": 4.0},
    "cohere": {}, "cohere2": {"logit_scale": 0.25},
    "falcon_h1": {"embedding_multiplier": 3.0, "lm_head_multiplier": 0.3, "mamba_d_ssm": 64, "mamba_n_heads": 4,
                  "mamba_d_head": 16, "mamba_n_groups": 1, "mamba_d_state": 16},
    "afmoe": {"mup_enabled": True, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32},
    # MiniCPM3's muP: embeddings times scale_emb, the last hidden state over hidden / dim_model_base
    "minicpm3": {"scale_emb": 3.0, "dim_model_base": 16, "num_key_value_heads": 4, "q_lora_rank": 24, "kv_lora_rank": 32,
                 "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16},
    "llama": {},
}


@pytest.mark.parametrize("model_type", list(HEAD_SCALED))
def test_embedding_and_logit_scales_are_what_transformers_multiplies_by(model_type):
    """transformers' model at test size: what the first layer receives over the embedding rows of
    the ids, and the logits over the LM head applied to the final norm's output, against the spec's
    two scales."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from hf_reference import default_config
    from transformers import AutoConfig, AutoModelForCausalLM
    cfg = default_config(model_type, **{**dict(num_hidden_layers=1, hidden_size=64, intermediate_size=96,
                                               num_attention_heads=4, num_key_value_heads=2, vocab_size=128,
                                               head_dim=16, pad_token_id=None), **HEAD_SCALED[model_type]})
    if "layer_types" in cfg:
        cfg["layer_types"] = None
    config = AutoConfig.for_model(**cfg)
    config._experts_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config).double().eval()
    seen = {}
    model.model.layers[0].register_forward_pre_hook(
        lambda m, args, kwargs: seen.update(x=args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
    # the final norm's output: MiniCPM3 scales it before the head, the others scale the head's output
    final_norm = getattr(model.model, "norm", None) or model.model.final_layernorm
    final_norm.register_forward_hook(lambda m, i, out: seen.update(final=out))
    ids = torch.randint(0, 128, (2, 5), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids).logits
        embedding_scale = seen["x"] / model.get_input_embeddings().weight[ids]
        logit_scale = logits / model.lm_head(seen["final"])
    spec = spec_from_hf_config(cfg)
    torch.testing.assert_close(embedding_scale, torch.full_like(embedding_scale, spec.embedding_scale))
    torch.testing.assert_close(logit_scale, torch.full_like(logit_scale, spec.logit_scale))


@pytest.mark.parametrize("cfg, embedding_scale", [
    ({"model_type": "biogpt"}, 8.0), ({"model_type": "biogpt", "scale_embedding": False}, 1.0),
    ({"model_type": "xglm", "d_model": 64}, 8.0), ({"model_type": "afmoe"}, 1.0),
    ({"model_type": "granite", "embedding_multiplier": None}, 1.0),
])
def test_embedding_scale_flags_and_nulls(cfg, embedding_scale):
    """BioGPT and XGLM scale by sqrt(d) unless scale_embedding is false; AFMoE only with
    mup_enabled; a null multiplier is the config class's default."""
    pytest.importorskip("transformers")
    from hf_reference import default_config
    model_type, changes = cfg["model_type"], {k: v for k, v in cfg.items() if k != "model_type"}
    small = {"xglm": dict(num_layers=1, attention_heads=4, ffn_dim=96)}.get(
        model_type, dict(num_hidden_layers=1, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=96))
    spec = spec_from_hf_config(default_config(model_type, **{**small, **changes}))
    assert spec.embedding_scale == embedding_scale


@pytest.mark.parametrize("key, value", [("embedding_multiplier", 0), ("logits_scaling", -2.0),
                                        ("logits_scaling", "16")])
def test_bad_head_multipliers_are_named(key, value):
    with pytest.raises(S.SpecError) as err:
        spec_from_hf_config({**_granite(), key: value})
    assert err.value.field == f"config.{key}"


def test_the_diagram_shows_the_head_multipliers():
    gemma = diagram_model(catalog()["gemma-3-27b"].spec())
    embedding = next(item for item in gemma.overview if item.kind == "embedding")
    assert "times sqrt(5376) = 73.32" in embedding.lines
    granite = diagram_model(spec_from_hf_config(_granite(embedding_multiplier=12.0, logits_scaling=16.0)))
    embedding = next(item for item in granite.overview if item.kind == "embedding")
    head = next(item for item in granite.overview if item.kind == "lm_head")
    assert "times 12" in embedding.lines and "logits / 16" in head.lines
    cohere = spec_from_hf_config({**_granite(), "model_type": "cohere2", "logit_scale": 0.3})
    assert "logits times 0.3" in next(i for i in diagram_model(cohere).overview if i.kind == "lm_head").lines
    plain = diagram_model(catalog()["llama-3-8b"].spec())
    assert not any("times" in line or "logits /" in line for item in plain.overview for line in item.lines)


@pytest.mark.parametrize("args, text", [
    ((128, 0.0), "q k^T / sqrt(128)"),
    ((128, 144 ** -0.5, 50.0), "50 tanh(q k^T / 12 / 50)"),
    ((128, 168 ** -0.5), "q k^T / sqrt(168)"),
    ((256, 1.0), "q k^T"),
    ((128, 0.0078125), "q k^T / 128"),
    ((192, 0.1352), "q k^T * 0.1352"),
])
def test_score_formula(args, text):
    assert score_formula(*args) == text


def test_the_diagram_shows_the_caps_and_the_residual_scale():
    gemma = diagram_model(catalog()["gemma-2-27b"].spec())
    attention = [c for b in gemma.blocks.values() for c in b.components if c.kind == "attention"]
    assert attention and all("soft-cap 50" in c.shape and "50 tanh(q k^T / 12 / 50)" in c.formula
                             for c in attention)
    head = next(item for item in gemma.overview if item.kind == "lm_head")
    assert any("30 tanh(z / 30)" in line for line in head.lines)
    granite = diagram_model(spec_from_hf_config(_granite()))
    residuals = [c.formula for b in granite.blocks.values() for c in b.components if c.kind == "residual"]
    assert residuals and all("0.22 * sublayer" in f for f in residuals)


def test_sdpa_profile_of_a_soft_capped_layer_says_it_ran_eager_and_budgets_the_scores():
    """SDPA takes no soft-cap: the block runs eager attention, the result says so, and the memory
    check counts the score matrix also on a GPU."""
    from block_cases import LAYOUTS, make_spec
    from kernels.profiler import ProfileRequest, Profiler, profile
    layer, kw = LAYOUTS["gemma2_softcap"]
    spec = make_spec(layer, **kw)
    result = profile(ProfileRequest(spec, backends=("sdpa",), context=24, repeats=2, warmup=1))
    rows = [r for r in result.blocks if r.block == "b"]
    assert [r.status for r in rows] == ["ok", "ok"]
    assert all("SDPA takes no soft-cap: eager attention" in r.message for r in rows)
    assert all(r.rel_error < 1e-5 for r in rows)
    plain = make_spec(*LAYOUTS["pre_rms"][:1])
    gpu = Profiler.__new__(Profiler)
    gpu.kind, gpu.dt = "cuda", "bf16"
    for s, expect_scores in ((spec, True), (plain, False)):
        gpu.request = ProfileRequest(s, device="cuda", context=1024, batch=2)
        need = gpu._need_bytes("b")
        assert (need["sdpa"] == need["eager"] > 0) if expect_scores else need["sdpa"] == 0.0


@pytest.mark.parametrize("name", ["gemma2_softcap", "granite_residual_scale"])
def test_the_triton_backend_keeps_the_cap_and_the_scale(name):
    """The profiler's Triton decode step (decode attention with the cap applied in the kernel, the
    fused RMSNorm) against the torch step, in Triton's interpreter on the CPU."""
    from block_cases import LAYOUTS, make_spec, triton_step_of
    layer, kw = LAYOUTS[name]
    used, error = triton_step_of(make_spec(layer, **kw), "b", pos=9)
    assert "decode_attention" in used and error < 1e-5


def test_attention_in_blocks_of_queries_equals_one_call():
    """The decode profile's prompt fill runs soft-capped (or sink, ALiBi) attention a block of
    queries at a time; each block sees the same keys, masks and positions."""
    import torch

    from block_cases import ATTENTION, D
    from kernels.backends import query_blocked
    from kernels.blocks import build_block
    torch.manual_seed(0)
    m = build_block(ATTENTION["softcap_scaled_sliding"], D, attn_impl="eager").double().eval()
    x = torch.randn(2, 11, D, dtype=torch.float64)
    with torch.no_grad():
        want = m(x)
        calls = []
        attend = m._attend

        def counted(*args):
            calls.append(args[0].shape[2])
            return attend(*args)
        m._attend = query_blocked(counted, budget=2 * 4 * 11 * 12 * 3)      # 3 query rows a block
        got = m(x)
    assert calls == [3, 3, 3, 2]
    assert (got - want).abs().max().item() < 1e-12


def test_the_diagram_lists_falcon_h1s_multipliers_inside_the_layer():
    pytest.importorskip("transformers")
    from hf_reference import default_config
    spec = spec_from_hf_config(default_config("falcon_h1", key_multiplier=0.22, mlp_multipliers=[1.0, 0.25],
                                              ssm_multipliers=[0.5, 1.5, 0.8, 1.2, 2.0]))
    (block,) = diagram_model(spec).blocks.values()
    assert dict(block.properties)["muP multipliers"] == (
        "keys x 0.22; SSM z/x/B/C/dt rows x (0.5, 1.5, 0.8, 1.2, 2); MLP output x 0.25")
    plain = diagram_model(spec_from_hf_config(default_config("falcon_h1")))
    assert all("muP multipliers" not in dict(b.properties) for b in plain.blocks.values())
