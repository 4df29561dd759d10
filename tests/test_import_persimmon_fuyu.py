"""Persimmon (models/hf/gpt.py) and Fuyu (its language model plus a linear patch embedding,
models/hf/vision.py), which QK LayerNorms with biases (spec: Attention.qk_norm_bias) made
describable. A Persimmon layer is compared with transformers' in tests/test_layers_vs_transformers.py
(with StableLM's and Cohere's QK LayerNorms, which the blocks now compute as LayerNorms); here:
counts, what the spec refuses, prefill FLOPs, a round trip through the spec file, and the blocks
through torch and ONNX Runtime."""
from __future__ import annotations

import dataclasses

import pytest

from models.cost import phase_flops
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import Attention, ModelSpec, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

SMALL = dict(num_hidden_layers=2, hidden_size=128, intermediate_size=256, num_attention_heads=4, vocab_size=512,
             pad_token_id=0)

COUNT_CASES = {
    "persimmon-8b": ("persimmon", {}),
    "persimmon-no-qk-norm": ("persimmon", {"qk_layernorm": False, "num_hidden_layers": 4}),
    "fuyu-8b": ("fuyu", {}),
    "fuyu-own-patches": ("fuyu", {"patch_size": 16, "num_channels": 1}),
}


@pytest.mark.parametrize("case", sorted(COUNT_CASES))
def test_counts_equal_transformers(case):
    model_type, changes = COUNT_CASES[case]
    assert_counts_equal(default_config(model_type, **changes))


def test_persimmon_qk_layernorms_are_weights_and_biases_over_head_dim():
    """q_layernorm and k_layernorm: 4 x head_dim a layer in transformers, which the shared QK norm
    with biases counts (without the biases it would count half)."""
    from hf_reference import reference_param_count
    cfg = default_config("persimmon")
    layers, head_dim = cfg["num_hidden_layers"], cfg["hidden_size"] // cfg["num_attention_heads"]
    theirs = reference_param_count(cfg) - reference_param_count({**cfg, "qk_layernorm": False})
    spec = spec_from_hf_config(cfg)
    ours = count_params(spec).total - count_params(spec_from_hf_config({**cfg, "qk_layernorm": False})).total
    assert ours == theirs == layers * 4 * head_dim


def test_fuyu_configs_with_the_language_model_flat_read_the_same():
    """adept/fuyu-8b's config.json keeps Persimmon's keys at the top level."""
    nested = default_config("fuyu")
    flat = {**{k: v for k, v in nested.items() if k != "text_config"}, **nested["text_config"], "model_type": "fuyu"}
    assert spec_from_hf_config(flat) == spec_from_hf_config(nested)
    assert count_params(spec_from_hf_config(flat)).total == 9_408_238_592     # (transformers' count)


def test_persimmon_attention_is_what_its_config_says():
    attn = spec_from_hf_config(default_config("persimmon")).layers[0].mixer
    assert (attn.qk_norm, attn.qk_norm_bias, attn.qkv_bias, attn.out_bias) == ("head", True, True, True)
    assert spec_from_hf_config(default_config("persimmon")).rope_fraction == 0.5


def test_qk_norm_biases_need_weighted_layernorms():
    with pytest.raises(SpecError) as err:
        Attention(heads=4, kv_heads=4, head_dim=16, qk_norm="l2", qk_norm_bias=True).validate("a")
    assert err.value.field == "a.qk_norm_bias"
    spec = spec_from_hf_config(default_config("persimmon", **SMALL))
    with pytest.raises(SpecError) as err:
        spec.with_changes(norm="rmsnorm")
    assert err.value.field.endswith(".qk_norm_bias") and "only LayerNorms have biases" in str(err.value)


def test_the_field_survives_the_spec_file_and_old_files_load_without_it():
    spec = spec_from_hf_config(default_config("persimmon", **SMALL))
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    data = spec.to_dict()
    for block in data["blocks"].values():
        block["mixer"].pop("qk_norm_bias")
    old = ModelSpec.from_dict(data)
    assert old.layers[0].mixer == dataclasses.replace(spec.layers[0].mixer, qk_norm_bias=False)


def test_prefill_flops_match_flop_counter():
    cfg = default_config("persimmon", **SMALL)
    tokens = 48
    assert phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True) == counted_flops(cfg, tokens)


def test_blocks_run_through_torch_and_onnx_runtime():
    assert_blocks_run(spec_from_hf_config(default_config("persimmon", **SMALL)))
