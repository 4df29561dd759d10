"""Ling 3.0 (bailing_hybrid, models/hf/deepseek.py): Kimi Delta Attention with full-rank, bounded
gates (spec: LinearAttention.full_rank_gates, gate_lower_bound) beside MLA with a gate per head
(MLA.head_gate), over DeepSeek-V3's MoE. Its KDA equals transformers' in
tests/test_mixers_vs_transformers.py and its global layer in tests/test_layers_vs_transformers.py;
here: counts (in transformers' key names and in Ling's), the rules, prefill FLOPs, the diagram and the
blocks through torch and ONNX Runtime."""
from __future__ import annotations

import pytest

from models.cost import phase_flops
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.spec import MLA, LinearAttention, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

SMALL = dict(num_hidden_layers=4, hidden_size=128, intermediate_size=256, moe_intermediate_size=32,
             num_attention_heads=4, num_key_value_heads=4, head_dim=32, linear_head_dim=32, kv_lora_rank=32,
             qk_nope_head_dim=16, qk_rope_head_dim=16, v_head_dim=32, num_experts=8, num_experts_per_token=2,
             num_expert_group=1, topk_group=1, first_k_dense_replace=1, layer_group_size=2, layer_types=None,
             mlp_layer_types=None, vocab_size=512, pad_token_id=0, eos_token_id=1)

COUNT_CASES = {
    "small": {**SMALL},
    "softplus-gate-grouped": {**SMALL, "kda_safe_gate": False, "num_experts": 16, "num_expert_group": 4,
                              "topk_group": 2, "num_shared_experts": 2},
    "default": {},
}


@pytest.mark.parametrize("case", sorted(COUNT_CASES))
def test_counts_equal_transformers(case):
    assert_counts_equal(default_config("bailing_hybrid", **COUNT_CASES[case]))


def test_lings_own_key_names_read_as_transformers_attribute_map_does():
    """Ling's config.json keys (num_experts, num_experts_per_tok, num_shared_experts, n_group,
    norm_topk_prob, num_nextn_predict_layers) and transformers' spellings give the same spec."""
    cfg = default_config("bailing_hybrid", **SMALL)
    renames = {"num_experts_per_token": "num_experts_per_tok", "num_expert_group": "n_group",
               "moe_renormalize": "norm_topk_prob", "num_shared_experts": "n_shared_experts"}
    ling = {renames.get(k, k): v for k, v in cfg.items()}
    assert spec_from_hf_config(ling) == spec_from_hf_config(cfg)


def test_one_global_layer_per_group_with_gated_mla_and_bounded_kda():
    spec = spec_from_hf_config(default_config("bailing_hybrid"))       # 42 layers, groups of 6
    kinds = [type(layer.mixer).__name__ for layer in spec.layers]
    assert kinds == (["LinearAttention"] * 5 + ["MLA"]) * 7
    kda, mla = spec.layers[0].mixer, spec.layers[5].mixer
    assert (kda.variant, kda.full_rank_gates, kda.gate_lower_bound, kda.key_dim) == ("kimi_delta", True, -5.0, 128)
    assert (mla.head_gate, mla.q_lora_rank) == ("sigmoid", 0) and spec.rope_interleaved
    moe = spec.layers[2].ffns[0]
    assert (moe.experts, moe.top_k, moe.expert_groups, moe.groups_per_token, moe.routed_scale) == (512, 8, 8, 4, 2.5)
    assert spec.mtp_depth == 1 and spec.context_length == 262144


@pytest.mark.parametrize("part, field", [
    (LinearAttention(key_heads=2, value_heads=2, key_dim=8, value_dim=8, variant="kimi_delta", gate_lower_bound=1.0),
     "gate_lower_bound"),
    (LinearAttention(key_heads=2, value_heads=2, key_dim=8, value_dim=8, gate_lower_bound=-5.0), "gate_lower_bound"),
    (LinearAttention(key_heads=2, value_heads=2, key_dim=8, value_dim=8, full_rank_gates=True), "full_rank_gates"),
    (MLA(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=8, head_gate="tanh"), "head_gate"),
])
def test_the_new_fields_rules_name_the_field(part, field):
    with pytest.raises(SpecError) as err:
        part.validate("m")
    assert err.value.field == f"m.{field}"


@pytest.mark.parametrize("key, value", [("kda_lower_bound", "low"), ("layer_group_size", 0)])
def test_bad_ling_keys_are_named(key, value):
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(default_config("bailing_hybrid", **{**SMALL, key: value}))
    assert err.value.field == f"config.{key}"


def test_the_diagram_shows_the_gates():
    spec = spec_from_hf_config(default_config("bailing_hybrid", **SMALL))
    names = {c.name for block in diagram_model(spec).blocks.values() for c in block.components}
    assert {"f_proj", "g_proj"} <= names and "f_a_proj" not in names


def test_prefill_flops_match_flop_counter():
    """Routing is data dependent: a reduced model runs for real in bf16, each token reaching top_k
    experts and the shared one. The KDA's recurrence is not a matmul in either count's sense: the
    engine counts its state products, FlopCounterMode transformers' chunked einsums, so the
    comparison takes the global and MoE layers alone (every layer global)."""
    cfg = default_config("bailing_hybrid", **{**SMALL, "layer_group_size": 1})
    tokens = 32
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 1e-6


def test_blocks_run_through_torch_and_onnx_runtime():
    assert_blocks_run(spec_from_hf_config(default_config("bailing_hybrid", **SMALL)))


@pytest.mark.parametrize("block", ["linear+dense", "mla+moe"])
def test_the_triton_backend_steps_as_torch_does(block):
    """One decode step with the profiler's Triton kernels patched in (the KDA layer's norms; the
    gated MLA layer's absorbed decode with its gate, the MoE and the norms) against the torch step,
    each from its own copy of the state (in Triton's interpreter on the CPU)."""
    from block_cases import triton_step_of
    used, error = triton_step_of(spec_from_hf_config(default_config("bailing_hybrid", **SMALL)), block)
    assert "rms_norm" in used and ("mla_decode" in used) == (block == "mla+moe") and error < 1e-5
