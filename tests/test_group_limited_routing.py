"""DeepSeek's group-limited routing: read from real configs, validated, drawn, and kept by the
profiler's Triton path. The blocks against transformers' routers: tests/test_layers_vs_transformers.py."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from models import spec as S
from models.catalog import catalog
from models.diagram import diagram_model
from models.hf import spec_from_hf_config


def _groups(spec: S.ModelSpec) -> set:
    return {(f.expert_groups, f.groups_per_token) for layer in spec.layers for f in layer.ffns
            if isinstance(f, S.MoEFFN)}


@pytest.mark.parametrize("model_id, groups", [
    ("deepseek-v3", {(8, 4)}), ("deepseek-r1", {(8, 4)}),
    ("deepseek-v2", {(8, 3)}), ("deepseek-v2.5", {(8, 3)}),     # topk_method group_limited_greedy
    ("kimi-k2", {(0, 0)}),                                        # n_group 1: no grouping
])
def test_catalog_models_take_their_configs_groups(model_id, groups):
    assert _groups(catalog()[model_id].spec()) == groups


def _v2(**changes) -> dict:
    cfg = {"model_type": "deepseek_v2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
           "qk_rope_head_dim": 8, "v_head_dim": 8, "moe_intermediate_size": 32, "n_routed_experts": 8,
           "num_experts_per_tok": 2, "n_group": 4, "topk_group": 2, "first_k_dense_replace": 1}
    return {**cfg, **changes}


def test_deepseek_v2_groups_only_with_group_limited_greedy():
    """transformers' DeepseekV2Config defaults topk_method to greedy (V2-Lite's), which ignores n_group."""
    assert _groups(spec_from_hf_config(_v2())) == {(0, 0)}
    assert _groups(spec_from_hf_config(_v2(topk_method="group_limited_greedy"))) == {(4, 2)}


def test_deepseek_v3_without_group_keys_takes_the_config_class_defaults():
    cfg = {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
           "qk_rope_head_dim": 8, "v_head_dim": 8, "moe_intermediate_size": 32, "n_routed_experts": 16,
           "num_experts_per_tok": 4, "first_k_dense_replace": 1, "q_lora_rank": 24}
    assert _groups(spec_from_hf_config(cfg)) == {(8, 4)}


@pytest.mark.parametrize("changes, field, words", [
    (dict(expert_groups=3), "f.expert_groups", "equal groups"),
    (dict(expert_groups=1, groups_per_token=1), "f.expert_groups", "use 0"),
    (dict(groups_per_token=2), "f.groups_per_token", "needs expert_groups"),
    (dict(expert_groups=4, groups_per_token=5), "f.groups_per_token", "from 1 to"),
    (dict(expert_groups=4, groups_per_token=0), "f.groups_per_token", "from 1 to"),
    (dict(expert_groups=4, groups_per_token=1, top_k=3), "f.top_k", "exceeds the 2 experts"),
    (dict(expert_groups=8, groups_per_token=4, router_score_bias=True), "f.expert_groups", "at least 2"),
    (dict(expert_groups=4, groups_per_token=2, zero_experts=2), "f.expert_groups", "zero-computation"),
    (dict(expert_groups=-4), "f.expert_groups", "negative"),
])
def test_impossible_groupings_are_named(changes, field, words):
    with pytest.raises(S.SpecError) as err:
        S.MoEFFN(**{**dict(experts=8, top_k=2, d_expert=16), **changes}).validate("f")
    assert err.value.field == field and words in err.value.rule


@given(experts=st.integers(1, 64), groups=st.integers(0, 16), chosen=st.integers(0, 16), top_k=st.integers(1, 8),
       bias=st.booleans())
def test_a_valid_grouping_leaves_every_token_enough_experts(experts, groups, chosen, top_k, bias):
    """Whatever validation lets through can route: the chosen groups hold at least top_k experts,
    and groups ranked by two scores have two."""
    try:
        f = S.MoEFFN(experts=experts, top_k=top_k, d_expert=8, expert_groups=groups, groups_per_token=chosen,
                     router_score_bias=bias)
        f.validate("f")
    except S.SpecError:
        return
    if f.expert_groups:
        size = f.experts // f.expert_groups
        assert f.experts % f.expert_groups == 0 and f.groups_per_token * size >= f.top_k
        assert size >= 2 or not bias


def test_the_diagram_says_which_groups_a_token_chooses_from():
    dm = diagram_model(catalog()["deepseek-v3"].spec())
    routers = [c.shape for b in dm.blocks.values() for c in b.components if c.name.startswith("router")]
    assert routers and all("top-8 within its best 4 of 8 groups of 32" in r for r in routers)


@pytest.mark.parametrize("moe", ["v3", "v2"])
def test_the_triton_backend_routes_within_the_groups(moe):
    """The profiler's Triton MoE (the grouped expert GEMM) takes the module's own group-limited
    routing, V3's (sigmoid and bias) and V2's (softmax): its decode step equals the torch step
    (Triton's interpreter on the CPU)."""
    from block_cases import ATTENTION, FFNS, make_spec, triton_step_of
    ffn = FFNS["moe_deepseek_grouped"] if moe == "v3" else \
        S.MoEFFN(experts=6, top_k=2, d_expert=16, expert_groups=3, groups_per_token=1)
    spec = make_spec(S.Layer((ATTENTION["gqa_bias"],), (ffn,)))
    used, error = triton_step_of(spec, "b", pos=9, batch=6)
    assert "moe" in used and error < 1e-5


@pytest.mark.parametrize("edit, accepted", [
    (("experts", 128), True),           # 8 groups of 16 still hold top-8
    (("top_k", 12), True),              # 4 groups of 32 hold 12
    (("experts", 100), "experts must be a multiple of 8: tokens route within their best 4 of 8"),
    (("experts", 8), "experts must be at least 16"),          # groups of 1 cannot rank by two scores
    (("top_k", 129), "top-k (129) exceeds the 128 experts of a token's 4 groups of 32"),
])
def test_experts_and_top_k_edits_that_the_groups_cannot_hold_are_refused_in_the_knobs_terms(edit, accepted):
    from models.overrides import apply_overrides
    spec = catalog()["deepseek-v3"].spec()
    if accepted is True:
        assert _groups(apply_overrides(spec, [edit])) == {(8, 4)}
    else:
        with pytest.raises(S.SpecError) as err:
            apply_overrides(spec, [edit])
        assert err.value.field == edit[0] and accepted in err.value.rule


def test_the_experts_knob_steps_a_group_at_a_time():
    from models.metrics import knob_values
    assert knob_values(catalog()["deepseek-v3"].spec())["experts_step"] == 8
    assert knob_values(catalog()["mixtral-8x7b"].spec())["experts_step"] == 1


def test_groups_a_config_cannot_route_with_are_left_out():
    """DeepseekV3Config's default 8 groups in a small config of 8 experts: groups of one cannot
    rank by two scores (transformers' router would fail); the config still opens, ungrouped."""
    cfg = {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
           "qk_rope_head_dim": 8, "v_head_dim": 8, "moe_intermediate_size": 32, "n_routed_experts": 8,
           "num_experts_per_tok": 2, "first_k_dense_replace": 1, "q_lora_rank": 24}
    assert _groups(spec_from_hf_config(cfg)) == {(0, 0)}
    assert _groups(spec_from_hf_config({**cfg, "n_group": 4, "topk_group": 2})) == {(4, 2)}
