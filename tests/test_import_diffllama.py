"""Diff-Llama (models/hf/dense.py), which differential attention (spec: Attention.differential;
arXiv:2410.05258) made describable. Its layer equals transformers' in
tests/test_layers_vs_transformers.py; here: counts, FLOPs against FlopCounterMode (whose count holds
transformers' second score product, which one product serves), the rules the spec keeps, the diagram,
and the blocks through torch and ONNX Runtime, prefill and decode."""
from __future__ import annotations

import dataclasses

import pytest

from models.cost import phase_flops
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import Attention, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

SMALL = dict(num_hidden_layers=2, hidden_size=128, intermediate_size=256, num_attention_heads=8,
             num_key_value_heads=4, head_dim=16, vocab_size=512)


@pytest.mark.parametrize("changes", [{}, {"num_key_value_heads": 8, "attention_bias": True},
                                     {"head_dim": 128, "num_hidden_layers": 4}],
                         ids=["default", "gqa-bias", "head-dim"])
def test_counts_equal_transformers(changes):
    assert_counts_equal(default_config("diffllama", **changes))


def test_the_lambdas_are_four_head_dim_vectors_a_layer():
    cfg = default_config("diffllama")
    spec = spec_from_hf_config(cfg)
    plain = spec.with_changes(blocks={k: dataclasses.replace(
        v, mixers=(dataclasses.replace(v.mixers[0], differential=False),)) for k, v in spec.blocks.items()})
    assert count_params(spec).total - count_params(plain).total == cfg["num_hidden_layers"] * 4 * 64


def test_prefill_flops_match_flop_counter_less_transformers_second_score_product():
    """transformers makes the scores twice (one SDPA call per half of the values); the engine counts
    one q.k product per pair and the values twice as wide: 2 x heads x head_dim x pairs apart."""
    cfg = default_config("diffllama", **SMALL)
    tokens = 48
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    duplicate = cfg["num_hidden_layers"] * 2 * cfg["num_attention_heads"] * cfg["head_dim"] * tokens * tokens
    assert counted_flops(cfg, tokens) - ours == duplicate


def test_values_cost_twice_a_plain_layers():
    cfg = default_config("diffllama", **SMALL)
    spec = spec_from_hf_config(cfg)
    attn = spec.layers[0].mixer
    assert (attn.vdim, attn.mixed_vdim) == (16, 32)
    plain = dataclasses.replace(attn, differential=False)
    assert plain.mixed_vdim == 16


@pytest.mark.parametrize("fields, field", [
    ({"heads": 6, "kv_heads": 3}, "kv_heads"),
    ({"heads": 3, "kv_heads": 1}, "kv_heads"),
    ({"heads": 6, "kv_heads": 2, "head_gate": "sigmoid"}, "head_gate"),
])
def test_differential_attention_needs_even_heads_and_no_gate_per_head(fields, field):
    with pytest.raises(SpecError) as err:
        Attention(head_dim=16, differential=True, **fields).validate("a")
    assert err.value.field == f"a.{field}"


def test_an_odd_kv_heads_edit_is_refused_naming_the_rule():
    from models.overrides import apply_overrides
    spec = spec_from_hf_config(default_config("diffllama", **SMALL))
    with pytest.raises(SpecError) as err:
        apply_overrides(spec, {"kv_heads": 1})
    assert "must be even" in str(err.value)


def test_the_diagram_names_differential_attention():
    spec = spec_from_hf_config(default_config("diffllama", **SMALL))
    (block,) = diagram_model(spec).blocks.values()
    names = [c.name for c in block.components]
    assert "lambda_q1, k1, q2, k2" in names
    assert "differential" in dict(block.properties)["Mixer"]


def test_blocks_run_through_torch_and_onnx_runtime():
    assert_blocks_run(spec_from_hf_config(default_config("diffllama", **SMALL)))
