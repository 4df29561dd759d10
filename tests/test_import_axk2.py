"""A.X K2 (models/hf/deepseek.py), which a query gate (spec: MLA.q_gate) and gated RMSNorms
(Layer.norm_gates) made describable. Its layers equal transformers' in
tests/test_layers_vs_transformers.py; here: counts, FLOPs against FlopCounterMode, the rules, the
diagram, and the blocks through torch, ONNX Runtime and the Triton decode kernels."""
from __future__ import annotations

import dataclasses

import pytest

from models.cost import phase_flops
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import MLA, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run, triton_step_of  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

SMALL = dict(num_hidden_layers=2, hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
             num_attention_heads=4, num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16,
             qk_rope_head_dim=16, v_head_dim=32, n_routed_experts=8, num_experts_per_tok=2, index_n_heads=4,
             index_head_dim=32, index_topk=8, gated_norm_rank=8, vocab_size=512, mlp_layer_types=["dense", "sparse"])


def _axk2(**changes) -> dict:
    """transformers' default A.X K2 config with ``changes``, its per-layer lists made again for
    the layer count (mlp_layer_types from first_k_dense_replace 1 unless given)."""
    return default_config("axk2", **{"layer_types": None, "mlp_layer_types": None, **changes})


@pytest.mark.parametrize("changes", [
    {"num_hidden_layers": 6},
    {"num_hidden_layers": 6, "n_group": 4, "topk_group": 2, "gated_norm_rank": 32},
    {"num_hidden_layers": 4, "mlp_layer_types": ["dense", "dense", "sparse", "sparse"], "index_n_heads": 8,
     "index_head_dim": 64, "attention_bias": True},
], ids=["light-6-layers", "grouped-rank-32", "two-dense-biased"])
def test_counts_equal_transformers(changes):
    assert_counts_equal(_axk2(**changes))


def test_a_x_k2_light_is_20_3b():
    """AXK2Config's defaults (A.X K2 Light's shape): 20.31B; each token runs 8 of 128 experts and
    the shared one. The gate MLPs add 2 x 2048 x 16 per gated norm: 48 + 47 of them."""
    spec = spec_from_hf_config(default_config("axk2"))
    report = count_params(spec)
    assert report.total == 20_314_500_992
    gated = sum(1 for layer in spec.layers for rank in layer.norm_gates if rank)
    assert gated == 48 + 47
    plain = spec.with_changes(blocks={k: dataclasses.replace(v, norm_gates=()) for k, v in spec.blocks.items()})
    assert report.total - count_params(plain).total == gated * 2 * 2048 * 16


def test_the_gates_stay_with_the_norms_when_the_attention_kind_changes():
    """The gates belong to the layer's norms: switching the MLA to GQA (or the expert count) keeps
    them, as it keeps the norms."""
    from models.overrides import apply_overrides
    spec = spec_from_hf_config(_axk2(**SMALL))
    for change in ({"attention": "gqa"}, {"experts": 4}, {"layers": 5}):
        edited = apply_overrides(spec, change)
        assert {layer.norm_gates for layer in edited.layers} == {(8, 0), (8, 8)}, change


@pytest.mark.parametrize("gates, placement, field", [((8, 8, 8), None, "blocks.b.norm_gates"),
                                                      ((8, -1), None, "blocks.b.norm_gates[1]"),
                                                      ((8, 8), "post", "blocks.b.norm_gates")])
def test_norm_gate_rules_name_the_field(gates, placement, field):
    spec = spec_from_hf_config(_axk2(**SMALL))
    layer = dataclasses.replace(spec.layers[1], norm_gates=gates, placement=placement)
    with pytest.raises(SpecError) as err:
        spec.with_changes(blocks={"b": layer}, layout=("b",) * 2)
    assert err.value.field == field


def test_gated_norms_round_trip_through_a_spec_file():
    from models.spec import ModelSpec
    spec = spec_from_hf_config(_axk2(**SMALL))
    data = spec.to_dict()
    assert [b.get("norm_gates") for b in data["blocks"].values()] == [[8, 0], [8, 8]]
    assert ModelSpec.from_dict(data) == spec


def test_prefill_flops_match_flop_counter():
    """Routing is data dependent: a reduced model runs for real in bf16. The counter also counts
    the indexer's score products (eager), as the engine does with dense_attention."""
    cfg = _axk2(**SMALL)
    ours = phase_flops(spec_from_hf_config(cfg), 32, dense_attention=True)
    ref = counted_flops(cfg, 32, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 1e-6


def test_the_query_gate_needs_a_query_latent():
    with pytest.raises(SpecError) as err:
        MLA(heads=4, kv_lora_rank=32, qk_nope_dim=16, qk_rope_dim=16, v_head_dim=32, q_gate=True).validate("m")
    assert err.value.field == "m.q_gate"
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(_axk2(q_lora_rank=None))
    assert err.value.field == "config.q_lora_rank"


def test_the_diagram_shows_the_gates():
    spec = spec_from_hf_config(_axk2(**SMALL))
    blocks = diagram_model(spec).blocks
    moe = blocks[spec.layout[1]]
    names = [c.name for c in moe.components]
    assert {"pre_attn_norm gate", "pre_ffn_norm gate", "q_gate_proj"} <= set(names) and "q_b_proj" not in names
    assert "pre_ffn_norm gate" not in [c.name for c in blocks[spec.layout[0]].components]
    assert all(sum(c.params for c in b.components) == b.params for b in blocks.values())
    assert "gated by a rank-8 MLP" in dict(moe.properties)["Norms"]


def test_blocks_run_through_torch_and_onnx_runtime():
    assert_blocks_run(spec_from_hf_config(_axk2(**SMALL)))


def test_the_triton_mla_decode_kernel_takes_the_output_gate():
    spec = spec_from_hf_config(_axk2(**SMALL))
    used, error = triton_step_of(spec, spec.layout[1])
    assert {"mla_decode", "moe"} <= used and error < 1e-5
