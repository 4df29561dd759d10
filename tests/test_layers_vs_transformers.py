"""Our decoder layers compute what transformers' decoder layers compute: the same float64 weights,
the same inputs, a layer (the first, unless a case names another) of a small model of each type
(tests/layer_reference.py).

Exact to rounding where both sides run in float64; within transformers' float32 where it insists
on it (the MoE routers' softmax, OLMo 1's weightless LayerNorm). Gemma 3n's layers are compared in
tests/test_gemma3n.py. Score scales other than 1/sqrt(head_dim) (Gemma 2/3's query_pre_attn_scalar,
Granite's attention_multiplier, YaRN's mscale^2 in MLA), Gemma 2's soft-capped scores and Granite's
residual_multiplier are set to values that change the output; RoPE on interleaved pairs (ERNIE 4.5,
Helium, Cohere, DeepSeek's rope_interleave) is compared too, and so are muP's multipliers
(MiniCPM3, Falcon-H1), differential attention (Diff-Llama), a mixture of attention heads (JetMoE)
and gated MLA (Ling 3.0). Where transformers stores the same matrices otherwise, the test moves
our weights (Persimmon's per-head fused QKV, StableLM's per-head norm modules, JetMoE's experts).
Not compared: types whose transformers layer fuses projections (Phi-3, GLM) or names its modules
otherwise (GPT-J, CodeGen). Zero-centred norm weights (Gemma, Qwen3-Next: 1 + w) are a
reparametrisation: transformers gets ours less one.
"""
from __future__ import annotations

from functools import partial

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from hf_reference import default_config  # noqa: E402
from layer_reference import (POST_NORMS, aria_expert_weights, expert_weights, fused_qkv_per_head,  # noqa: E402
                             gpt_oss_expert_weights, jetmoe_attention_weights, jetmoe_expert_weights, layer_error,
                             per_head_norm_modules)

from models.hf import spec_from_hf_config  # noqa: E402

SMALL = dict(num_hidden_layers=1, hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
             vocab_size=128)
SANDWICH = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
            "post_feedforward_layernorm")
# Gemma 2/3 scale scores by query_pre_attn_scalar^-1/2, here not the head size's; Gemma 2 soft-caps
# them, here at 0.5, where the cap bites (its default of 50 hardly would at this size)
GEMMA = {"head_dim": 16, "query_pre_attn_scalar": 24}
SOFTCAP = {"attn_logit_softcapping": 0.5}
# Granite's scalars: the scores' scale and the sub-layers' outputs before each residual add
GRANITE = {"attention_multiplier": 0.4, "residual_multiplier": 0.3}
# each type's config changes beyond SMALL; Helium's o_proj takes hidden_size inputs, so its heads
# must fill them
CONFIG = {"gemma": GEMMA, "gemma3_text": GEMMA, "granite": GRANITE, "hyperclovax": GRANITE,
          "helium": {"head_dim": 16}, "aria_text": {"moe_num_experts": 4, "moe_topk": 2, "moe_num_shared_experts": 2},
          "stablelm": {"qk_layernorm": True}}
# QK LayerNorms with a module per head (StableLM) or one [heads, head_dim] weight (Cohere)
PER_HEAD_MODULES = {"q_norm": ("q_layernorm", "modules"), "k_norm": ("k_layernorm", "modules")}
PER_HEAD_STACKED = {"q_norm": ("q_norm", "stacked"), "k_norm": ("k_norm", "stacked")}

EXACT = {
    "llama": {}, "mistral": {}, "qwen2": {}, "qwen3": {}, "smollm3": {}, "internlm3": {}, "arcee": {},
    "seed_oss": {}, "iquestcoder": {}, "jais2": {}, "bitnet": {},
    "olmo2": dict(norm_names=POST_NORMS), "olmo3": dict(norm_names=POST_NORMS),
    "exaone4": dict(norm_names=POST_NORMS),
    # its RoPE turns each pair by -angle (the spec's rope_reversed)
    "nanochat": dict(rename={"up_proj": "fc1", "down_proj": "fc2"}),
    # Gemma's norms scale by 1 + w: transformers' weights are ours less one
    "gemma": {},
    "gemma3_text": dict(norm_names=SANDWICH),
    # RoPE on interleaved pairs (2i, 2i + 1)
    "helium": {},
    "granite": {},
    # Peri-LN: a norm after each sub-layer, before the residual multiplier
    "hyperclovax": dict(norm_names=("input_layernorm", "post_norm1", "post_attention_layernorm", "post_norm2")),
    # Aria: top-2 of 4 experts by logit, a softmax over the two (its router keeps float64); a shared
    # MLP twice intermediate_size wide
    "aria_text": dict(convert=aria_expert_weights),
    # QK LayerNorms (not RMSNorms): per head with their own weights (StableLM); shared by the heads
    # and biased, beside a fused per-head QKV and a squared-ReLU MLP (Persimmon)
    "stablelm": dict(convert_mixer=partial(per_head_norm_modules, names=PER_HEAD_MODULES)),
    "persimmon": dict(convert_mixer=partial(fused_qkv_per_head, heads=SMALL["num_attention_heads"]),
                      rename={"up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h"}),
}
# LongRoPE at test size: 16-dim heads, one factor per rotated pair; trained at 8 positions
LONGROPE = {"rope_type": "longrope", "rope_theta": 1e4, "original_max_position_embeddings": 8,
            "short_factor": [1.0, 1.1, 1.3, 1.6, 2.0, 2.5, 3.1, 3.8],
            "long_factor": [1.0, 1.5, 2.4, 3.9, 6.0, 9.2, 13.5, 19.0]}
MOE = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}
FLOAT32 = {
    "mixtral": ({"num_local_experts": 4, "num_experts_per_tok": 2}, dict(convert=expert_weights)),
    # parallel attention and MLP on one LayerNorm (float32 in transformers), RoPE on interleaved
    # pairs with each angle given twice in a row
    "cohere": ({}, dict(norm_names=("input_layernorm",), interleaved_angles=True)),
    # Command R+'s per-head QK LayerNorms (float32 in transformers)
    "cohere-qk": ({"use_qk_norm": True}, dict(norm_names=("input_layernorm",), interleaved_angles=True,
                                              convert_mixer=partial(per_head_norm_modules, names=PER_HEAD_STACKED))),
    # RoPE on interleaved pairs, turned in float32 by transformers
    "ernie4_5": ({}, {}),
    # RoPE stretched (their configs' defaults: llama3 for Apertus and CWM, yarn for Ministral 3),
    # transformers' frequencies made in float32
    "cwm": ({}, {}), "ministral3": ({}, {}),
    "apertus": ({}, dict(rename={"xielu": "act_fn"}, norm_names=("attention_layernorm", "feedforward_layernorm"))),
    "olmo": ({}, {}),
    # routing weights left as the softmax gave them (OLMoE's and Qwen-MoE's default) or rescaled
    "olmoe": (MOE, dict(convert=expert_weights)),
    "qwen3_moe": ({**MOE, "head_dim": 16}, dict(convert=expert_weights)),
    "qwen3_moe-normalized": ({**MOE, "head_dim": 16, "norm_topk_prob": True}, dict(convert=expert_weights)),
    "qwen2_moe": ({**MOE, "shared_expert_intermediate_size": 48}, dict(convert=expert_weights)),
    # layer 3, full attention: the output gate, partial RoPE (a quarter of each head), QK norms of
    # 1 + w, the MoE's gated shared expert
    "qwen3_next": ({**MOE, "num_hidden_layers": 4, "head_dim": 16, "shared_expert_intermediate_size": 48},
                   dict(index=3, convert=expert_weights)),
    # RoPE frequencies that depend on the sequence's reach (7 tokens): longrope's short factors
    # within the trained 8 positions and its long ones past 4, dynamic NTK's base grown past 4
    "llama-longrope-short": ({"rope_parameters": LONGROPE, "max_position_embeddings": 32, "head_dim": 16}, {}),
    "llama-longrope-long": ({"rope_parameters": {**LONGROPE, "original_max_position_embeddings": 4},
                             "max_position_embeddings": 32, "head_dim": 16}, {}),
    "llama-dynamic": ({"rope_parameters": {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 3.0},
                       "max_position_embeddings": 4}, {}),
    # eager attention only in transformers (a float32 softmax)
    "gemma2": ({**GEMMA, **SOFTCAP}, dict(norm_names=SANDWICH, attention="eager")),
    "vaultgemma": ({**GEMMA, **SOFTCAP},
                   dict(norm_names=("input_layernorm", "pre_feedforward_layernorm"), attention="eager")),
}


@pytest.mark.parametrize("model_type", sorted(EXACT))
def test_a_layer_equals_transformers_layer(model_type):
    cfg = default_config(model_type, **{**SMALL, **CONFIG.get(model_type, {})})
    assert layer_error(cfg, **EXACT[model_type]) < 1e-12


@pytest.mark.parametrize("model_type", sorted(FLOAT32))
def test_a_layer_equals_transformers_layer_within_its_float32(model_type):
    extra, kw = FLOAT32[model_type]
    cfg = default_config(model_type.split("-")[0], **{**SMALL, **extra})
    assert layer_error(cfg, **kw) < 1e-6


@pytest.mark.parametrize("index", [0, 1], ids=["sliding-with-sinks", "full"])
def test_gpt_oss_layers_equal_transformers_layers(index):
    """gpt-oss: attention sinks, a sliding window (4 tokens of 9 here), biased QKV, the clamped
    SwiGLU of the top-k experts with biases, the top-k softmax router with its bias."""
    cfg = default_config("gpt_oss", **{**SMALL, "num_hidden_layers": 2, "intermediate_size": 32, "head_dim": 16,
                                       "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 4})
    error = layer_error(cfg, index=index, convert=gpt_oss_expert_weights, tokens=9, attention="eager",
                        half_angles=True)
    assert error < 1e-6          # its YaRN frequencies (factor 32), made by transformers in float32


def _deepseek_v3(model_type: str = "deepseek_v3", **changes) -> dict:
    """DeepSeek-V3 at test size: MLA with a q LoRA, the first layer dense, then sigmoid routing with
    the score-correction bias, one shared expert and routed_scaling_factor 2.5. One expert group
    unless a test sets more; RoPE on halves, not interleaved pairs."""
    return default_config(model_type, **{**SMALL, "num_hidden_layers": 2, "num_key_value_heads": 4,
                                            "moe_intermediate_size": 32, "q_lora_rank": 24, "kv_lora_rank": 32,
                                            "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "head_dim": 8,
                                            "v_head_dim": 16, "n_routed_experts": 4, "num_experts_per_tok": 2, "n_group": 1,
                                            "topk_group": 1, "first_k_dense_replace": 1, "rope_interleave": False,
                                            **changes})


@pytest.mark.parametrize("interleave", [False, True], ids=["halves", "interleaved-pairs"])
def test_deepseek_v3_mla_layer_equals_transformers_layer(interleave):
    """rope_interleave (DeepseekV3Config's default): the rope dims turn in pairs (2i, 2i + 1)."""
    assert layer_error(_deepseek_v3(rope_interleave=interleave), index=0) < 1e-12


def test_deepseek_v3_moe_layer_equals_transformers_layer():
    """The router's score bias is drawn (it must change which experts win)."""
    from functools import partial
    convert = partial(expert_weights, shared="shared_experts")
    assert layer_error(_deepseek_v3(), index=1, convert=convert) < 1e-6



def test_deepseek_v3_group_limited_moe_layer_equals_transformers_layer():
    """n_group 4, topk_group 2: each token's 3 experts come from its 2 best groups of 2 experts,
    ranked by the sum of their two biased scores."""
    from functools import partial
    convert = partial(expert_weights, shared="shared_experts")
    cfg = _deepseek_v3(n_routed_experts=8, num_experts_per_tok=3, n_group=4, topk_group=2)
    assert layer_error(cfg, index=1, convert=convert, tokens=16) < 1e-6


def test_deepseek_v2_group_limited_greedy_moe_equals_transformers_moe():
    """DeepSeek-V2's group_limited_greedy: groups ranked by their best softmax score. The MoE blocks
    alone (transformers' V2 attention takes complex rotary factors, not the angles given here)."""
    import torch
    from transformers import AutoConfig
    from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2Moe

    from kernels.blocks import build_block
    from models.hf import spec_from_hf_config
    cfg = default_config("deepseek_v2", **{**SMALL, "num_hidden_layers": 2, "moe_intermediate_size": 32,
                                           "n_routed_experts": 8, "num_experts_per_tok": 3, "n_group": 4,
                                           "topk_group": 2, "topk_method": "group_limited_greedy",
                                           "first_k_dense_replace": 1, "n_shared_experts": 1})
    moe = spec_from_hf_config(cfg).layers[1].ffns[0]
    assert (moe.expert_groups, moe.groups_per_token) == (4, 2)
    torch.manual_seed(0)
    ours = build_block(moe, SMALL["hidden_size"]).double().eval()
    ref = DeepseekV2Moe(AutoConfig.for_model(**cfg)).double().eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
        weights = expert_weights(ours.state_dict(), shared="shared_experts")
        ref.load_state_dict({k.removeprefix("mlp."): v for k, v in weights.items()}, strict=True)
        x = torch.randn(2, 16, SMALL["hidden_size"], dtype=torch.float64)
        got, expected = ours(x), ref(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-6


@pytest.mark.parametrize("model_type", ["deepseek_v32", "glm_moe_dsa"])
def test_sparse_mla_layer_equals_transformers_layer(model_type):
    """DeepSeek Sparse Attention: each query attends to the 3 of its 7 keys the lightning indexer
    ranks best. DeepSeek-V3.2's indexer turns its rotary dims in halves beside the MLA's
    interleaved pairs (without that the layer is 63% off here); GLM-5's turns pairs as its MLA
    does. The index scores are float32 in both."""
    cfg = _deepseek_v3(model_type, rope_interleave=True, index_n_heads=4, index_head_dim=16, index_topk=3,
                       mlp_layer_types=["dense", "sparse"], indexer_types=None)
    assert layer_error(cfg, index=0, attention="eager") < 1e-6


@pytest.mark.parametrize("longrope", [False, True], ids=["rope", "longrope"])
def test_minicpm3_mla_layer_equals_transformers_layer(longrope):
    """MiniCPM3: DeepSeek-V2's MLA with RoPE on halves (or longrope past its 8 trained positions, 4
    factors for the 8 rotary dims), under Llama's layer whose sub-layers' outputs are scaled by
    scale_depth / sqrt(layers) = 0.6 / sqrt(2) before each residual add. The latent norms keep
    transformers' 1e-6 while the layer's take rms_norm_eps (1e-5): with 1e-5 there too it is 1e-6
    off."""
    rope = {**LONGROPE, "short_factor": LONGROPE["short_factor"][:4], "long_factor": LONGROPE["long_factor"][:4]}
    cfg = default_config("minicpm3", **{**SMALL, "num_hidden_layers": 2, "num_key_value_heads": 4, "q_lora_rank": 24,
                                        "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8,
                                        "v_head_dim": 16, "scale_depth": 0.6, "max_position_embeddings": 16,
                                        **({"rope_parameters": rope} if longrope else {})})
    # (longrope's frequencies: transformers makes them in float32)
    assert layer_error(cfg, index=1, tokens=11) < (1e-7 if longrope else 1e-12)


# Falcon-H1 at test size, and muP's multipliers inside its layer set off 1
FALCON_H1 = dict(mamba_d_ssm=128, mamba_n_heads=8, mamba_d_head=16, mamba_n_groups=1, mamba_d_state=16, head_dim=16)
FALCON_H1_MUP = dict(attention_in_multiplier=0.7, key_multiplier=1.6, attention_out_multiplier=0.4,
                     ssm_in_multiplier=1.3, ssm_out_multiplier=0.6, ssm_multipliers=[0.5, 1.5, 0.8, 1.2, 2.0],
                     mlp_multipliers=[1.7, 0.3])


@pytest.mark.parametrize("mup", [False, True], ids=["plain", "mup-multipliers"])
def test_falcon_h1_layer_equals_transformers_layer(mup):
    """Attention and Mamba-2 side by side on one norm, then the MLP: the whole layer, with muP's nine
    multipliers (the attention's input, keys and output; the SSM's input, z/x/B/C/dt rows and
    output; the MLP's gate and output). Without them the second case is 68% off. (transformers runs
    parts of its scan in float32.)"""
    cfg = default_config("falcon_h1", **{**SMALL, **FALCON_H1, **(FALCON_H1_MUP if mup else {})})
    assert layer_error(cfg, mixer_names=("self_attn", "mamba"), ffn_name="feed_forward",
                       norm_names=("input_layernorm", "pre_ff_layernorm")) < 1e-6


def test_falcon_h1_blocks_with_multipliers_run_through_torch_and_onnx_runtime():
    """(the SSM's row multipliers are a buffer the exported graph holds as a constant)"""
    from block_cases import assert_blocks_run
    from models.hf import spec_from_hf_config
    cfg = default_config("falcon_h1", **{**SMALL, **FALCON_H1, **FALCON_H1_MUP, "num_hidden_layers": 2,
                                         "vocab_size": 512})
    assert_blocks_run(spec_from_hf_config(cfg))


@pytest.mark.parametrize("heads, kv_heads, index", [(4, 2, 0), (8, 4, 2), (8, 8, 1)])
def test_diffllama_differential_attention_layer_equals_transformers_layer(heads, kv_heads, index):
    """Differential attention: query heads h and h + heads/2 share their scores' pairing with the
    values of KV heads j and j + kv_heads/2, lambda from its four vectors and lambda_init by depth
    (0.2 at layer 0, 0.47 at layer 2), then the weightless RMSNorm over both value heads."""
    cfg = default_config("diffllama", **{**SMALL, "num_hidden_layers": 3, "num_attention_heads": heads,
                                         "num_key_value_heads": kv_heads, "head_dim": 16})
    assert layer_error(cfg, index=index) < 1e-12


def test_ling_gated_mla_layer_equals_transformers_layer():
    """Ling 3.0's global layer: MLA with queries projected directly, RoPE on interleaved pairs and a
    sigmoid gate per head on the output before o_proj, which transformers takes in float32."""
    cfg = default_config("bailing_hybrid", **{**SMALL, "num_hidden_layers": 2, "num_key_value_heads": 4,
                                              "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8,
                                              "v_head_dim": 16, "head_dim": 16, "linear_head_dim": 16,
                                              "layer_group_size": 2, "layer_types": None,
                                              "mlp_layer_types": ["dense", "dense"]})
    assert layer_error(cfg, index=1) < 1e-6


@pytest.mark.parametrize("experts, top_k, kv_heads", [(4, 2, 2), (8, 3, 4)])
def test_jetmoe_mixture_of_attention_heads_layer_equals_transformers_layer(experts, top_k, kv_heads):
    """JetMoE: each token's top_k attention experts project its queries (kv_heads heads each) over
    keys and values projected once, and their o projections' outputs sum, weighted by the router;
    then a mixture of SwiGLU experts. Both add one bias after the sum. (transformers takes the
    routers' softmax in float32.)"""
    cfg = default_config("jetmoe", **{**SMALL, "num_key_value_heads": kv_heads, "kv_channels": 16,
                                      "num_local_experts": experts, "num_experts_per_tok": top_k})
    assert layer_error(cfg, convert_mixer=jetmoe_attention_weights, convert=jetmoe_expert_weights,
                       mixer_names=("self_attention",), tokens=9) < 1e-6


def test_deepseek_v3_mla_layer_with_yarn_takes_mscale_squared():
    """YaRN (factor 40, mscale_all_dim 1, DeepSeek-V3's own) multiplies MLA's softmax scale by
    mscale^2 = (0.1 ln 40 + 1)^2 = 1.87: without it the layer is 26% off here. YaRN's stretched
    frequencies are transformers' own (tests/test_rope_scaling.py checks ours against them)."""
    yarn = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 1.0,
            "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1}
    assert layer_error(_deepseek_v3(rope_parameters=yarn), index=0) < 1e-6     # (YaRN's frequencies: fp32)


# Llama 4's temperature by position: the queries times 1 + beta ln(1 + floor((pos + offset) /
# period)). A period of 3 tokens takes 9 positions through three of its steps.
TEMPERATURE = {"llama_4_scaling_beta": 0.5, "original_max_position_embeddings": 3}


def test_ministral3_queries_take_the_temperature_by_position():
    cfg = default_config("ministral3", **{**SMALL, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6,
                                                                       **TEMPERATURE}})
    assert spec_from_hf_config(cfg).layers[0].mixer.temperature == 0.5
    assert layer_error(cfg, tokens=9) < 1e-6          # (transformers takes the logarithm in float32)


def test_llama4_nope_layer_queries_take_the_temperature_by_position():
    """attn_temperature_tuning: only the NoPE layers (here layer 3 of 4, dense), counting positions
    from 1: floor((pos + 1) / floor_scale)."""
    cfg = default_config("llama4_text", **{**SMALL, "num_hidden_layers": 4, "interleave_moe_layer_step": 3,
                                           "intermediate_size_mlp": 96, "head_dim": 16, "floor_scale": 3,
                                           "attn_scale": 0.5, "layer_types": None, "moe_layers": None,
                                           "no_rope_layers": None})
    mixers = [layer.mixer for layer in spec_from_hf_config(cfg).layers]
    assert [(m.rope, m.temperature, m.temperature_offset) for m in mixers] == \
        [(True, 0.0, 0)] * 3 + [(False, 0.5, 1)]
    assert layer_error(cfg, index=3, ffn_name="feed_forward", tokens=9) < 1e-6      # (float32 there too)


def _mistral4(**changes) -> dict:
    """Mistral 4 at test size: MLA with a q LoRA over RoPE on halves, then a softmax router over 8
    experts in 4 groups (a token's 3 from its 2 best, ranked by their two best scores) and one
    shared expert; the queries' temperature every 3 tokens."""
    return default_config("mistral4", **{**SMALL, "num_hidden_layers": 1, "num_key_value_heads": 4,
                                         "moe_intermediate_size": 32, "q_lora_rank": 24, "kv_lora_rank": 32,
                                         "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16,
                                         "n_routed_experts": 8, "num_experts_per_tok": 3, "n_group": 4,
                                         "topk_group": 2, "rope_interleave": False,
                                         "rope_parameters": {"rope_type": "default", "rope_theta": 1e4,
                                                             **TEMPERATURE}, **changes})


def test_mistral4_layer_equals_transformers_layer():
    moe = spec_from_hf_config(_mistral4()).layers[0].ffns[0]
    assert (moe.expert_groups, moe.groups_per_token, moe.groups_by_two_best, moe.router_score_bias) == \
        (4, 2, True, False)
    convert = partial(expert_weights, shared="shared_experts")
    assert layer_error(_mistral4(), convert=convert, tokens=9) < 1e-6


@pytest.mark.parametrize("index", [0, 1], ids=["dense", "moe"])
def test_axk2_layer_equals_transformers_layer(index):
    """A.X K2: MLA whose q_gate_proj reads [norm(q latent), q latent] and gates each output channel,
    DSA's indexer (3 of 7 keys), the input RMSNorm gated by a rank-8 MLP in every layer, the
    post-attention one in MoE layers only (layer 1: sigmoid routing with the score bias)."""
    cfg = _deepseek_v3("axk2", index_n_heads=4, index_head_dim=16, index_topk=3, gated_norm_rank=8,
                       mlp_layer_types=["dense", "sparse"])
    layer = spec_from_hf_config(cfg).layers[index]
    assert layer.mixer.q_gate and layer.mixer.sparse and layer.norm_gates == (8, 8 if index else 0)
    convert = partial(expert_weights, shared="shared_experts") if index else None
    assert layer_error(cfg, index=index, attention="eager", convert=convert) < 1e-6
