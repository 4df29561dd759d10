"""Granite SWA and Jais 2 (models/hf/dense.py), Youtu-LLM and A.X K1 (deepseek.py), Flint and Hy3
preview (moe.py) against transformers 5.23: parameter counts equal those of the model built on the meta
device from the same config (transformers' default config of each type, published shapes and
variants that switch the options on and off); prefill FLOPs equal FlopCounterMode's on reduced-depth
models; the published totals agree; and bad keys raise SpecError naming them."""
from __future__ import annotations

import pytest

from models.cost import phase_flops
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import SpecError

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

TYPES = ["granite_swa", "jais2", "youtu", "flint", "hy_v3", "axk1"]




# Hy3 preview's published config.json (https://huggingface.co/tencent/Hy3-preview-Base/blob/main/config.json),
# keys transformers ignores included
HY3_PREVIEW = {
    "architectures": ["HYV3ForCausalLM"], "enable_attention_fp32_softmax": False, "enable_lm_head_fp32": True,
    "enable_moe_fp32_combine": False, "expert_hidden_dim": 1536, "moe_intermediate_size": 1536,
    "first_k_dense_replace": 1, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.006, "intermediate_size": 13312, "max_position_embeddings": 262144,
    "model_type": "hy_v3", "moe_router_enable_expert_bias": True, "moe_router_use_sigmoid": True,
    "num_attention_heads": 64, "num_experts": 192, "num_experts_per_tok": 8, "num_hidden_layers": 80,
    "num_key_value_heads": 8, "num_shared_experts": 1, "output_router_logits": True, "qk_norm": True,
    "rms_norm_eps": 1e-05, "rope_parameters": {"rope_theta": 11158840.0, "rope_type": "default"},
    "route_norm": True, "router_scaling_factor": 2.826, "tie_word_embeddings": False, "use_cache": True,
    "use_grouped_mm": False, "vocab_size": 120832, "num_nextn_predict_layers": 1}

# Shapes stated by their publishers where no config.json could be read; each equals transformers'
# default config of its type except where changed here.
PUBLISHED = {
    # Jais-2-8B: 32 layers, 26 heads, hidden 3328 (llama.cpp PR #19488, "add JAIS-2 architecture
    # support"); Jais2Config's defaults are this model's (its docstring names inceptionai/Jais-2-8B-Chat)
    "jais-2-8b": default_config("jais2"),
    # Youtu-LLM-2B: MLA with kv_lora 512, q_lora 1536, nope 128, rope 64, v 128; vocabulary 128,256;
    # 128K context (Youtu-LLM technical report, arXiv:2512.24618)
    "youtu-llm-2b": default_config("youtu"),
    # RecursiveSI/flint: 49 layers, hidden 2048, vocabulary 150,144, 32 heads, 4 KV heads of 128,
    # layers 0 and 1 dense, 256 experts top-6 and a shared expert, full layers 0, 1, 5, 9, ..., 45, 48
    # without positions, a 513-token window, untied head (NVIDIA NeMo AutoModel's Flint page)
    "flint": default_config("flint"),
    "hy3-preview": HY3_PREVIEW,
    # skt/A.X-K1 model card: 61 layers (1 dense + 60 MoE), 64 heads, 192 experts + 1 shared, top-8,
    # expert width 2048, vocabulary 163,840, context 131,072; d_model 7168 (A.X K1 technical report)
    "a.x-k1": default_config("axk1", max_position_embeddings=131072),
}

# Realistic variants that exercise each type's options
VARIANTS = {
    # NoPE full layers (layer_rope_theta 0), a 512-token window, biases, untied head, stated head_dim
    "granite_swa-nope-biased": default_config(
        "granite_swa", num_hidden_layers=8, layer_types=None, sliding_window=512, attention_bias=True,
        mlp_bias=True, tie_word_embeddings=False, head_dim=64,
        layer_rope_theta=[0 if i % 4 == 0 else 10000.0 for i in range(8)]),
    # no biases, GQA, tied head
    "jais2-gqa-unbiased": default_config("jais2", num_hidden_layers=4, attention_bias=False, mlp_bias=False,
                                   num_key_value_heads=2, tie_word_embeddings=True),
    # queries projected directly (q_lora_rank null), biased MLA, untied head
    "youtu-direct-queries": default_config("youtu", num_hidden_layers=4, q_lora_rank=None, attention_bias=True,
                                     tie_word_embeddings=False),
    # its own layer pattern, only layer 0 dense, no shared expert, every other layer sparse, tied head
    "flint-pattern": default_config("flint", num_hidden_layers=6, mlp_only_layers=[0], decoder_sparse_step=2,
                              shared_expert_intermediate_size=0, tie_word_embeddings=True,
                              layer_types=["full_attention", "sliding_attention"] * 3),
    # two shared experts, dense layers stated per layer, attention biases
    "hy_v3-two-shared": default_config("hy_v3", num_hidden_layers=4, num_shared_experts=2, attention_bias=True,
                                 mlp_layer_types=["dense", "dense", "sparse", "sparse"]),
    # without shared experts transformers' HYV3MLP still builds one intermediate_size wide
    "hy_v3-no-shared": default_config("hy_v3", num_hidden_layers=2, num_shared_experts=0),
    # dense layers from first_k_dense_replace and moe_layer_freq (no mlp_layer_types), two shared
    # experts, biased MLA, tied head
    "axk1-freq": default_config("axk1", num_hidden_layers=8, mlp_layer_types=None, first_k_dense_replace=3,
                          moe_layer_freq=2, n_shared_experts=2, attention_bias=True,
                          tie_word_embeddings=True),
}



@pytest.mark.parametrize("config", [pytest.param(c, id=k) for k, c in {**PUBLISHED, **VARIANTS}.items()])
def test_published_and_variant_shapes_match_transformers(config):
    """Published shapes and option variants count exactly what transformers builds."""
    assert_counts_equal(config)


def test_published_totals_agree_with_the_publishers():
    """Youtu-LLM "1.96B" (its report); Flint "39.8B total, about 2.5B active" (NVIDIA NeMo, active
    without the embedding table); Hy3 preview "295B, 21B active, 3.8B MTP layer" (Tencent's README);
    A.X K1 "519B, 33B active" (SK Telecom's card)."""
    youtu = count_params(spec_from_hf_config(PUBLISHED["youtu-llm-2b"]))
    flint = count_params(spec_from_hf_config(PUBLISHED["flint"]))
    hy3 = count_params(spec_from_hf_config(PUBLISHED["hy3-preview"]))
    axk1 = count_params(spec_from_hf_config(PUBLISHED["a.x-k1"]))
    assert round(youtu.total / 1e9, 2) == 1.96
    assert (round(flint.total / 1e9, 1), round(flint.active_without_embeddings / 1e9, 1)) == (39.8, 2.5)
    assert (round(hy3.total / 1e9), round(hy3.active / 1e9), round(hy3.mtp / 1e9, 1)) == (295, 21, 3.8)
    assert (round(axk1.total / 1e9), round(axk1.active / 1e9)) == (519, 33)


def test_layer_patterns_follow_the_config_classes():
    """The per-layer structure behind the counts: Flint's full layers carry no RoPE and its sliding
    ones do, all with sinks; Granite SWA's layer 0 and every 4th are full; A.X K1's sparse layers
    hold three norms (post_mlp_layernorm); Hy3's first layer is dense."""
    flint = spec_from_hf_config(PUBLISHED["flint"]).layers
    assert [i for i, layer in enumerate(flint) if layer.mixer.kind == "full"] == [0, 1, *range(5, 49, 4), 48]
    assert all(layer.mixer.rope == (layer.mixer.kind == "sliding") and layer.mixer.sinks for layer in flint)
    assert all(layer.mixer.window == 513 for layer in flint if layer.mixer.kind == "sliding")
    granite = spec_from_hf_config(default_config("granite_swa")).layers
    assert [layer.mixer.kind == "full" for layer in granite] == [i % 4 == 0 for i in range(24)]
    axk1 = spec_from_hf_config(PUBLISHED["a.x-k1"])
    assert [axk1.norms_in(layer) for layer in axk1.layers] == [2] + [3] * 60
    hy3 = spec_from_hf_config(HY3_PREVIEW).layers
    assert [layer.ffn.KIND for layer in hy3] == ["dense"] + ["moe"] * 79


# Reduced depth at the true widths, on the meta device; every layer dense (meta tensors cannot route)
FLOP_CASES = {
    "granite_swa": dict(num_hidden_layers=4, layer_types=None, layer_rope_theta=[0, 1e4, 1e4, 1e4]),
    "jais2": dict(num_hidden_layers=2),
    "youtu": dict(num_hidden_layers=2),
    "flint": dict(num_hidden_layers=4, layer_types=None, mlp_only_layers=[0, 1, 2, 3]),
    "hy_v3": dict(num_hidden_layers=1, mlp_layer_types=["dense"]),
    "axk1": dict(num_hidden_layers=1, mlp_layer_types=["dense"]),
}


@pytest.mark.parametrize("model_type", TYPES)
def test_prefill_flops_match_flop_counter(model_type):
    """Prefill FLOPs (eager attention's full score matrix) equal FlopCounterMode's, within 1%:
    windows, sinks, NoPE layers, MLA and plain ReLU^2 MLPs included."""
    cfg = default_config(model_type, **FLOP_CASES[model_type])
    tokens = 256
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens)
    assert abs(ours - ref) / ref < 0.01, f"ours {ours:.4e} vs FlopCounterMode {ref:.4e}"


# Small widths, so the experts run for real on the CPU (routing is data dependent): a dense layer,
# then sparse ones with their shared experts
_SMALL = dict(hidden_size=256, num_attention_heads=4, intermediate_size=512, moe_intermediate_size=128,
              vocab_size=1000, bos_token_id=None, eos_token_id=None, pad_token_id=None)
MOE_FLOP_CASES = {
    "flint": dict(_SMALL, num_hidden_layers=4, num_key_value_heads=2, head_dim=64, layer_types=None,
                  mlp_only_layers=[0], num_experts=8, num_experts_per_tok=2,
                  shared_expert_intermediate_size=128),
    "hy_v3": dict(_SMALL, num_hidden_layers=2, num_key_value_heads=2, head_dim=64, mlp_layer_types=None,
                  num_experts=8, num_experts_per_tok=2),
    "axk1": dict(_SMALL, num_hidden_layers=2, num_key_value_heads=4, mlp_layer_types=None, n_routed_experts=8,
                 num_experts_per_tok=2, n_group=1, topk_group=1, kv_lora_rank=64, q_lora_rank=96,
                 qk_rope_head_dim=32, qk_nope_head_dim=32, v_head_dim=32, head_dim=32),
}


@pytest.mark.parametrize("model_type", sorted(MOE_FLOP_CASES))
def test_moe_prefill_flops_match_flop_counter(model_type):
    """With routed experts run for real (bf16, random weights), every token reaches top_k experts
    plus the shared ones, and the router's matmul: the engine's count is FlopCounterMode's."""
    cfg = default_config(model_type, **MOE_FLOP_CASES[model_type])
    tokens = 64
    spec = spec_from_hf_config(cfg)
    assert any(layer.ffn.KIND == "moe" for layer in spec.layers)
    ours = phase_flops(spec, tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 0.01, f"ours {ours:.4e} vs FlopCounterMode {ref:.4e}"


@pytest.mark.parametrize("model_type, key, value", [
    ("granite_swa", "layer_rope_theta", ["x"] * 24),
    ("granite_swa", "sliding_window", 1.5),
    ("jais2", "intermediate_size", "big"),
    ("youtu", "kv_lora_rank", True),
    ("youtu", "q_lora_rank", "1536"),
    ("flint", "num_experts", 2.5),
    ("flint", "layer_types", ["full_attention"]),
    ("hy_v3", "mlp_layer_types", "dense"),
    ("hy_v3", "mlp_bias", True),               # biases in the shared expert: not modelled
    ("axk1", "q_lora_rank", None),             # A.X K1 always has a query latent
    ("axk1", "n_shared_experts", [1]),
])
def test_bad_keys_raise_spec_error_naming_them(model_type, key, value):
    """A value of the wrong type, or one the spec cannot express, is refused by name."""
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(default_config(model_type, **{key: value}))
    assert info.value.field == f"config.{key}"
