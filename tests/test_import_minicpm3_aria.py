"""MiniCPM3 (models/hf/deepseek.py: MLA under muP's three scalars) and Aria (models/hf/moe.py: a
Llama attention over experts beside a wide shared MLP; models/hf/vision.py: its projector of learned
queries). Their layers are compared with transformers' in tests/test_layers_vs_transformers.py and
their head scalars in tests/test_score_scales_and_caps.py; here: counts of variants, the keys the
importer refuses, prefill FLOPs and the blocks through torch and ONNX Runtime."""
from __future__ import annotations

import math

import pytest

from models.cost import phase_flops
from models.hf import spec_from_hf_config
from models.spec import SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

SMALL = dict(num_hidden_layers=2, hidden_size=128, intermediate_size=256, num_attention_heads=4,
             num_key_value_heads=4, vocab_size=512, pad_token_id=0)
MINICPM3_SMALL = dict(SMALL, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=16,
                      v_head_dim=32)
ARIA_SMALL = dict(SMALL, num_key_value_heads=2, moe_num_experts=8, moe_topk=2, moe_num_shared_experts=1)

COUNT_CASES = {
    "minicpm3-direct-queries": ("minicpm3", {"q_lora_rank": None}),
    "minicpm3-biased-untied": ("minicpm3", {"attention_bias": True, "tie_word_embeddings": False}),
    "aria-text-no-shared": ("aria_text", {"moe_num_shared_experts": 0, "num_hidden_layers": 4}),
    "aria-text-gqa": ("aria_text", {"num_key_value_heads": 8, "moe_num_experts": 64, "moe_topk": 6,
                                    "num_hidden_layers": 4}),
    # Aria's projector: the query count config.json states, as transformers writes it
    "aria-stated-query-count": ("aria", {"projector_patch_to_query_dict": {"1225": 32, "4900": 64},
                                         "max_value_projector_patch_to_query_dict": 128}),
}


@pytest.mark.parametrize("case", sorted(COUNT_CASES))
def test_counts_equal_transformers(case):
    model_type, changes = COUNT_CASES[case]
    assert_counts_equal(default_config(model_type, **changes))


def test_aria_without_a_stated_query_count_takes_the_largest_entry():
    """(here 64 of 1152-wide queries fewer than the default's 256: what transformers builds)"""
    cfg = default_config("aria", projector_patch_to_query_dict={"1225": 32, "4900": 64})
    cfg.pop("max_value_projector_patch_to_query_dict")
    assert_counts_equal(cfg)
    default = spec_from_hf_config(default_config("aria")).vision.params
    assert default - spec_from_hf_config(cfg).vision.params == (256 - 64) * 1152


def test_minicpm3_scalars_follow_its_config():
    """embedding x scale_emb; residual branches x scale_depth / sqrt(layers); logits / (d / dim_model_base)."""
    spec = spec_from_hf_config(default_config("minicpm3"))        # MiniCPM3-4B's shape
    assert (spec.embedding_scale, spec.logit_scale) == (12.0, 256 / 2560)
    assert spec.residual_scale == pytest.approx(1.4 / math.sqrt(62), rel=1e-15)
    assert not spec.rope_interleaved and spec.layers[0].mixer.q_lora_rank == 768


@pytest.mark.parametrize("key, value", [("scale_emb", 0), ("scale_emb", None), ("scale_depth", -1.4),
                                        ("dim_model_base", "256")])
def test_bad_minicpm3_multipliers_are_named(key, value):
    """scale_emb may not be null (MiniCPM3Config has no no-op for it); the other two may."""
    with pytest.raises(SpecError) as err:
        spec_from_hf_config({**default_config("minicpm3"), key: value})
    assert err.value.field == f"config.{key}"


@pytest.mark.parametrize("key, scale", [("scale_depth", "residual_scale"), ("dim_model_base", "logit_scale")])
def test_null_minicpm3_multipliers_are_no_ops(key, scale):
    assert getattr(spec_from_hf_config({**default_config("minicpm3"), key: None}), scale) == 1.0


@pytest.mark.parametrize("changes, field, says", [
    ({"hidden_act": "gelu"}, "config.hidden_act", "routed experts are SiLU-gated"),
    ({"mlp_bias": True}, "config.mlp_bias", "no biases"),
])
def test_aria_shared_mlps_unlike_its_experts_are_refused(changes, field, says):
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(default_config("aria_text", **changes))
    assert err.value.field == field and says in str(err.value)


def test_aria_routes_to_top_k_and_one_wide_shared_mlp():
    moe = spec_from_hf_config(default_config("aria_text")).layers[0].ffns[0]
    assert (moe.experts, moe.top_k, moe.d_expert, moe.shared_experts, moe.d_shared, moe.normalize_top_k) == (
        8, 2, 4096, 1, 2 * 4096, True)


@pytest.mark.parametrize("model_type, small", [("minicpm3", MINICPM3_SMALL), ("aria_text", ARIA_SMALL)])
def test_prefill_flops_match_flop_counter(model_type, small):
    """Aria's routing is data dependent: a reduced model runs for real in bf16, each token reaching
    top_k experts and the shared MLP, as the engine counts."""
    cfg = default_config(model_type, **small)
    tokens = 48
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 1e-6


@pytest.mark.parametrize("model_type, small", [("minicpm3", MINICPM3_SMALL), ("aria_text", ARIA_SMALL)])
def test_blocks_run_through_torch_and_onnx_runtime(model_type, small):
    assert_blocks_run(spec_from_hf_config(default_config(model_type, **small)))
