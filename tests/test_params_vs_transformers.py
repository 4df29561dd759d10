"""Parameter counts equal those of the transformers implementation built on the meta device from
the same config: every catalog model with a transformers model_type, every supported model_type's
default config, and variants with changed KV heads, experts, layer counts and layer patterns."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from models.catalog import catalog
from models.hf import SUPPORTED_MODEL_TYPES, spec_from_hf_config
from models.hf.common import CONTEXT_KEYS
from models.overrides import apply_overrides
from models.params import count_params

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
from hf_reference import reference_param_count  # noqa: E402
from transformers.models.auto.configuration_auto import CONFIG_MAPPING  # noqa: E402
from transformers.models.auto.modeling_auto import (  # noqa: E402
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)

# Checkpoints whose model_type transformers registers under another name.
ALIASES = {"kimi_k2": "deepseek_v3"}


def _as_transformers(config: dict) -> dict:
    config = copy.deepcopy(config)
    config["model_type"] = ALIASES.get(config["model_type"], config["model_type"])
    return config


def known_to_transformers(config: dict) -> bool:
    return "model_type" in config and _as_transformers(config)["model_type"] in CONFIG_MAPPING


def longcat_correction(config: dict) -> int:
    """transformers allocates gate_up_proj for LongCat-Flash's zero-computation experts too
    (768 x 2*2048 x d instead of 512); the checkpoint holds none, and Meituan's published total
    (560B) agrees with our count. We subtract the phantom rows from the reference."""
    if config.get("model_type") != "longcat_flash":
        return 0
    zero = config.get("zero_expert_num") or 0
    d = config.get("hidden_size")
    ff = config.get("expert_ffn_hidden_size")
    return config.get("num_layers") * zero * 2 * ff * d


CATALOG_CASES = [pytest.param(e.raw["hf_config"], id=e.id) for e in catalog().values()
                 if "hf_config" in e.raw and known_to_transformers(e.raw["hf_config"])]


def _default_config(model_type: str) -> dict:
    cfg = CONFIG_MAPPING[model_type]().to_dict()
    cfg["model_type"] = model_type
    return cfg


# transformers 5.23 cannot build a model from its own default DbrxConfig (attn_config lacks
# rope_theta), HunYuanDenseV1Config, HunYuanMoEV1Config or MinistralConfig (head_dim None), NemotronConfig
# (num_key_value_heads None), Dots1Config (no experts), Lfm2MoeConfig (no layer_types) or
# AyaVisionConfig (a 1152-wide tower of 14 heads): they are checked among the variants
DEFAULT_TYPES = [t for t in SUPPORTED_MODEL_TYPES
                 if t in CONFIG_MAPPING
                 and t not in ("deepseek_v2", "dbrx", "hunyuan_v1_dense", "hunyuan_v1_moe", "nemotron", "dots1",
                               "ministral", "lfm2_moe", "aya_vision")
                 and (t in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or t in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)]
# (text models of image-text checkpoints that transformers builds only inside them, such as
# qwen3_vl_text, are checked through their wrappers)


def untied_head_correction(config: dict) -> int:
    """transformers 5.23 ties the head of an image-text model whose config.json states no
    tie_word_embeddings at either level by the wrapper's class default (Mistral3Config: tied);
    transformers 4, which wrote such files, went by the language model's (MistralConfig: untied),
    and Mistral Small 3.1's checkpoint holds a separate lm_head ("24B" parameters). We count the
    head; the reference gets its rows back."""
    text = config.get("text_config")
    if config.get("model_type") != "mistral3" or not isinstance(text, dict) \
            or config.get("tie_word_embeddings") is not None or text.get("tie_word_embeddings") is not None:
        return 0
    return text.get("vocab_size", 131072) * text.get("hidden_size", 5120)


def lightning_decay_buffers(config: dict) -> int:
    """transformers' MiniMax registers four persistent buffers per Lightning Attention layer
    (slope_rate, query_decay, key_decay, diagonal_decay: heads x (1 + 2 block + block^2)): constants
    computed from the head count and block size, not weights. The reference loses them."""
    if config.get("model_type") != "minimax":
        return 0
    n, heads = config["num_hidden_layers"], config["num_attention_heads"]
    types = config.get("layer_types") or ["full_attention" if (i + 1) % 2 else "linear_attention"
                                          for i in range(n)]
    block = config.get("block_size") or 256
    return sum(t == "linear_attention" for t in types[:n]) * heads * (1 + 2 * block + block * block)


def assert_same_count(config: dict) -> None:
    ours = count_params(spec_from_hf_config(config)).total
    ref = reference_param_count(_as_transformers(config)) - longcat_correction(config) \
        + untied_head_correction(config) - lightning_decay_buffers(config)
    assert ours == ref, f"ours {ours:,} vs transformers {ref:,} (diff {ours - ref:+,})"


def test_catalog_has_transformers_cases():
    assert len(CATALOG_CASES) >= 20


@pytest.mark.parametrize("config", CATALOG_CASES)
def test_catalog_model_matches_transformers(config):
    assert_same_count(config)


@pytest.mark.parametrize("model_type", DEFAULT_TYPES)
def test_default_config_matches_transformers(model_type):
    assert_same_count(_default_config(model_type))


def _small(model_type: str, **changes) -> dict:
    cfg = _default_config(model_type)
    cfg.update(changes)
    return cfg


def _gemma3_siglip_400m() -> dict:
    """Gemma 3's production vision tower shape (SigLIP So400m at 896 px, no pooling head)."""
    cfg = _small("gemma3")
    cfg["vision_config"] = {**cfg["vision_config"], "hidden_size": 1152, "intermediate_size": 4304,
                            "num_hidden_layers": 27, "num_attention_heads": 16, "image_size": 896,
                            "patch_size": 14, "vision_use_head": False}
    return cfg


def _flat_qwen_vl(model_type: str) -> dict:
    """Qwen2-VL and Qwen2.5-VL as published: the language model's keys at the top level, no
    text_config (transformers builds one from them)."""
    cfg = _default_config(model_type)
    text = {k: v for k, v in cfg.pop("text_config").items() if k not in ("model_type", "dtype")}
    return {**cfg, **text, "num_hidden_layers": 4, "layer_types": None, "tie_word_embeddings": False}


# DBRX's published shape (Databricks' model card: d 6144, 40 layers, 48 heads, 8 KV heads, 16
# experts of 10752, 4 active, vocabulary 100352)
DBRX_132B = _small("dbrx", d_model=6144, n_heads=48, n_layers=40, vocab_size=100352, max_seq_len=32768,
                   attn_config={"kv_n_heads": 8, "clip_qkv": 8, "rope_theta": 500000},
                   ffn_config={"ffn_hidden_size": 10752, "moe_num_experts": 16, "moe_top_k": 4,
                               "ffn_act_fn": {"name": "silu"}})

# MiniMax-Text-01's published shape (MiniMax-01 report: d 6144, 80 layers, 64 heads of 128, 8 KV
# heads, Lightning Attention 7:1, 32 experts of 9216 top-2, vocabulary 200064)
MINIMAX_01 = _small("minimax", hidden_size=6144, num_hidden_layers=80, num_attention_heads=64,
                    num_key_value_heads=8, head_dim=128, intermediate_size=9216, num_local_experts=32,
                    num_experts_per_tok=2, vocab_size=200064,
                    layer_types=(["linear_attention"] * 7 + ["full_attention"]) * 10)

LFM2_VL_1_6B = {"model_type": "lfm2_vl", "downsample_factor": 2, "projector_hidden_size": 2560,
                "text_config": {"model_type": "lfm2", "hidden_size": 2048, "block_ff_dim": 12288, "num_hidden_layers": 16,
                                "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 65536,
                                "layer_types": (["conv", "conv", "full_attention"] * 3 + ["conv", "full_attention"] * 3
                                                + ["conv"])},
                "vision_config": {"model_type": "siglip2_vision_model", "hidden_size": 1152, "intermediate_size": 4304,
                                  "num_hidden_layers": 26, "num_attention_heads": 16, "patch_size": 16,
                                  "num_patches": 256, "vision_use_head": False}}
def _aya_vision_8b(**text_changes) -> dict:
    """Aya Vision 8B's shape: Command R7B (cohere2) with a SigLIP tower (So400m, 364 px) and a
    SwiGLU adapter of 28672."""
    text = _small("cohere2", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  intermediate_size=14336, vocab_size=256000, layer_types=None)
    text.update(text_changes)
    return {"model_type": "aya_vision", "downsample_factor": 2, "alignment_intermediate_size": 28672,
            "text_config": text,
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152, "intermediate_size": 4304,
                              "num_hidden_layers": 27, "num_attention_heads": 16, "patch_size": 14, "image_size": 364,
                              "vision_use_head": False}}


SMOLVLM_256M = {"model_type": "smolvlm", "scale_factor": 4, "tie_word_embeddings": False,
                "text_config": {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30,
                                "num_attention_heads": 9, "num_key_value_heads": 3, "intermediate_size": 1536,
                                "vocab_size": 49280, "head_dim": 64},
                "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                                  "num_attention_heads": 12, "patch_size": 16, "image_size": 512}}
HUNYUAN_A13B = {"model_type": "hunyuan_v1_moe", "hidden_size": 4096, "intermediate_size": 3072,
                "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                "num_experts": 64, "moe_topk": [8] * 32, "vocab_size": 128167, "tie_word_embeddings": True}
LFM2_LAYERS = ["conv", "conv", "full_attention", "conv", "conv", "full_attention", "conv", "conv",
               "full_attention", "conv", "full_attention", "conv", "full_attention", "conv", "full_attention", "conv"]

VARIANTS = [
    pytest.param(_gemma3_siglip_400m(), id="gemma3-siglip-400m"),
    pytest.param(MINIMAX_01, id="minimax-text-01-shape"),
    pytest.param(_flat_qwen_vl("qwen2_vl"), id="qwen2-vl-flat"),
    pytest.param(_flat_qwen_vl("qwen2_5_vl"), id="qwen2.5-vl-flat"),
    pytest.param(_small("mistral3", multimodal_projector_bias=True, vision_feature_layer=[-1, -4],
                        spatial_merge_size=3, tie_word_embeddings=False), id="mistral3-untied-2-feature-layers"),
    pytest.param(_small("llama", num_key_value_heads=8), id="llama-gqa8"),
    pytest.param(_small("llama", num_key_value_heads=1, num_hidden_layers=5), id="llama-mqa-5layers"),
    pytest.param(_small("mixtral", num_local_experts=4, num_experts_per_tok=1), id="mixtral-4experts"),
    pytest.param(_small("qwen3_moe", num_experts=16, decoder_sparse_step=2, mlp_only_layers=[0, 5],
                        num_hidden_layers=8), id="qwen3moe-interleaved"),
    pytest.param(_small("deepseek_v3", n_routed_experts=32, first_k_dense_replace=2,
                        num_hidden_layers=6, n_shared_experts=2), id="deepseek3-32experts"),
    pytest.param(_small("gemma3_text", num_hidden_layers=12, sliding_window_pattern=3,
                        layer_types=None), id="gemma3-2to1"),
    pytest.param(_small("qwen3_next", num_hidden_layers=8, full_attention_interval=2,
                        layer_types=None), id="qwen3next-1to1"),
    pytest.param(_small("jamba", num_hidden_layers=8, attn_layer_period=4, attn_layer_offset=1,
                        expert_layer_period=4, expert_layer_offset=3), id="jamba-pattern"),
    pytest.param(_small("gpt_oss", num_local_experts=8, num_hidden_layers=4, layer_types=None),
                 id="gpt-oss-8experts"),
    pytest.param(_small("llama4_text", num_hidden_layers=8, interleave_moe_layer_step=2,
                        num_local_experts=4, moe_layers=None, no_rope_layers=None,
                        layer_types=None), id="llama4-alternating"),
    # LayerNorm families and their optional parts
    pytest.param(_small("gpt_neox", use_parallel_residual=False, attention_bias=False,
                        num_hidden_layers=4), id="neox-sequential-nobias"),
    pytest.param(_small("gptj", rotary_dim=32, n_inner=1000, n_layer=3), id="gptj-rotary32"),
    pytest.param(_small("starcoder2", sliding_window=1024, use_bias=False, num_hidden_layers=4),
                 id="starcoder2-sliding-nobias"),
    pytest.param(_small("stablelm", qk_layernorm=True, use_parallel_residual=True, use_qkv_bias=True,
                        num_key_value_heads=8, num_hidden_layers=4), id="stablelm-qknorm-parallel"),
    pytest.param(_small("cohere", use_qk_norm=True, attention_bias=True, num_key_value_heads=8,
                        num_hidden_layers=4), id="command-r-plus-qknorm"),
    pytest.param(_small("cohere2", num_hidden_layers=6, sliding_window_pattern=3, layer_types=None),
                 id="cohere2-2to1"),
    pytest.param(_small("phimoe", lm_head_bias=True, attention_bias=True, num_hidden_layers=3),
                 id="phimoe-biases"),
    pytest.param(_small("olmoe", num_key_value_heads=4, num_hidden_layers=3), id="olmoe-gqa"),
    pytest.param(_small("granite", attention_bias=True, mlp_bias=True, num_hidden_layers=3),
                 id="granite-biases"),
    pytest.param({k: v for k, v in _small("ernie4_5", use_bias=True).items() if k != "head_dim"},
                 id="ernie45-bias-default-head-dim"),
    pytest.param(_small("ernie4_5_moe", num_hidden_layers=9, moe_layer_start_index=2, moe_layer_end_index=7,
                        moe_layer_interval=2, moe_num_shared_experts=1, moe_num_experts=8),
                 id="ernie45-moe-interleaved"),
    pytest.param(_small("ernie4_5_moe", num_hidden_layers=3, moe_num_shared_experts=0, use_bias=True),
                 id="ernie45-moe-biased-no-shared"),
    pytest.param(DBRX_132B, id="dbrx-132b-shape"),
    pytest.param(_small("seed_oss", attention_out_bias=True, mlp_bias=True, num_hidden_layers=3),
                 id="seed-oss-out-and-mlp-bias"),
    pytest.param(_small("exaone4", num_hidden_layers=7, sliding_window_pattern=3, layer_types=None),
                 id="exaone4-2to1"),
    pytest.param(_small("hunyuan_v1_dense", head_dim=128), id="hunyuan-dense"),
    pytest.param(_small("hunyuan_v1_dense", head_dim=64, attention_bias=True, num_hidden_layers=3,
                        tie_word_embeddings=True), id="hunyuan-dense-bias-tied"),
    pytest.param(_small("helium", attention_bias=True, num_hidden_layers=3), id="helium-qkv-bias"),
    pytest.param(_small("glm4_moe_lite", num_hidden_layers=5, mlp_layer_types=["dense", "dense", "sparse",
                                                                                "dense", "sparse"]),
                 id="glm4-moe-lite-pattern"),
    pytest.param(_small("gpt_bigcode", multi_query=False, n_layer=3, n_inner=1000), id="bigcode-mha"),
    pytest.param(_small("opt", do_layer_norm_before=False, enable_bias=False, num_hidden_layers=3),
                 id="opt-post-norm-unbiased"),
    pytest.param(_small("opt", layer_norm_elementwise_affine=False, num_hidden_layers=3), id="opt-no-affine"),
    pytest.param(_small("mpt", n_layers=3, tie_word_embeddings=False), id="mpt-untied"),
    pytest.param(_small("bloom", n_layer=3, hidden_size=256, n_head=8, tie_word_embeddings=False),
                 id="bloom-untied"),
    pytest.param(_small("nemotron", num_key_value_heads=8, head_dim=128, num_hidden_layers=3),
                 id="nemotron"),
    pytest.param(_small("nemotron", num_key_value_heads=48, head_dim=128, attention_bias=True, mlp_bias=True,
                        num_hidden_layers=2, tie_word_embeddings=True), id="nemotron-biases-tied"),
    pytest.param(_small("granitemoeshared", shared_intermediate_size=0, num_hidden_layers=3),
                 id="granitemoeshared-without-shared"),
    pytest.param(_small("bamba", num_hidden_layers=6, attn_layer_indices=[2, 5]), id="bamba-2-attention"),
    pytest.param(_small("cwm", num_hidden_layers=6, layer_types=None), id="cwm-default-pattern"),
    pytest.param(_small("ministral", head_dim=128, num_hidden_layers=4,
                        layer_types=["sliding_attention", "full_attention"] * 2), id="ministral-mixed"),
    pytest.param(_small("flex_olmo", num_hidden_layers=3, num_key_value_heads=8), id="flex-olmo-gqa"),
    pytest.param(_small("dots1", num_hidden_layers=4, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=2,
                        first_k_dense_replace=1, sliding_window=128, max_window_layers=2, layer_types=None),
                 id="dots1-shared-sliding"),
    pytest.param({k: v for k, v in _small("gpt_neo", num_layers=5, window_size=128, intermediate_size=3000,
                                          attention_types=[[["local"], 1], [["global", "local"], 2]]).items()
                  if k != "attention_layers"}, id="gpt-neo-pattern"),
    pytest.param(_small("mamba", hidden_size=512, num_hidden_layers=3, time_step_rank=20, use_bias=True,
                        use_conv_bias=False, expand=3), id="mamba-biases-rank"),
    pytest.param(_small("falcon_mamba", num_hidden_layers=3, tie_word_embeddings=False), id="falcon-mamba-untied"),
    pytest.param(_small("minimax", num_hidden_layers=8, num_local_experts=4,
                        layer_types=["linear_attention"] * 7 + ["full_attention"]), id="minimax-7to1"),
    pytest.param(_small("arcee", mlp_bias=True, attention_bias=True, num_hidden_layers=3), id="arcee-biases"),
    pytest.param({k: v for k, v in _small("qwen3_5_text", num_hidden_layers=6, layer_types=None,
                                          full_attention_interval=2).items() if k != "head_dim"},
                 id="qwen3.5-1to1-default-head-dim"),
    pytest.param(_small("qwen3_5_moe_text", num_hidden_layers=4, layer_types=None, num_experts=16,
                        mlp_only_layers=[0], decoder_sparse_step=2), id="qwen3.5-moe-every-layer-sparse"),
    # InternLM3's own names for its biases (InternLM3-8B writes qkv_bias and bias)
    pytest.param({k: v for k, v in _small("internlm3", qkv_bias=True, bias=True).items()
                  if k not in ("attention_bias", "mlp_bias")}, id="internlm3-biases-by-their-names"),
    pytest.param(_small("hyperclovax", use_post_norm=False, num_hidden_layers=3), id="hyperclovax-without-peri-ln"),
    pytest.param(_small("vaultgemma", num_hidden_layers=5, layer_types=None, sliding_window=64),
                 id="vaultgemma-alternating"),
    # DeepSeek Sparse Attention's indexer at other sizes; GLM-5's layers every one "full"
    pytest.param(_small("deepseek_v32", num_hidden_layers=4, first_k_dense_replace=1, mlp_layer_types=None,
                        layer_types=None, indexer_types=None, index_n_heads=8, index_head_dim=96,
                        n_routed_experts=8), id="deepseek-v3.2-indexer-8x96"),
    # LFM2 at LFM2-1.2B's shape in Liquid's own keys (block_ff_dim, tie_embedding); LFM2-8B-A1B's
    # shape; conv biases, another multiplier and full_attn_idxs
    pytest.param({"model_type": "lfm2", "hidden_size": 2048, "block_ff_dim": 12288, "num_hidden_layers": 16,
                  "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 65536, "tie_embedding": True,
                  "layer_types": LFM2_LAYERS}, id="lfm2-1.2b-shape"),
    pytest.param({"model_type": "lfm2_moe", "hidden_size": 2048, "intermediate_size": 7168,
                  "moe_intermediate_size": 1792, "num_hidden_layers": 24, "num_attention_heads": 32,
                  "num_key_value_heads": 8, "num_experts": 32, "num_experts_per_tok": 4, "vocab_size": 65536,
                  "layer_types": (LFM2_LAYERS * 2)[:24]}, id="lfm2-8b-a1b-shape"),
    pytest.param(LFM2_VL_1_6B, id="lfm2-vl-1.6b-shape"),
    pytest.param(SMOLVLM_256M, id="smolvlm-256m-shape"),
    pytest.param(_aya_vision_8b(), id="aya-vision-8b-shape"),
    # GLM-4.1V / GLM-4.5V: the GLM-4 and GLM-4.5 language models behind GLM's 3D-patch ViT
    pytest.param(_small("glm4v", text_config={**_small("glm4v")["text_config"], "num_hidden_layers": 2},
                        vision_config={**_small("glm4v")["vision_config"], "depth": 3, "attention_bias": True,
                                       "out_hidden_size": 2048, "intermediate_size": 5000, "image_size": 448,
                                       "spatial_merge_size": 3}), id="glm4v-biased-vit-merge-3"),
    pytest.param(_small("glm4v_moe", text_config={**_small("glm4v_moe")["text_config"], "num_hidden_layers": 3,
                                                  "n_routed_experts": 16, "first_k_dense_replace": 2},
                        vision_config={**_small("glm4v_moe")["vision_config"], "depth": 2}), id="glm4.5v-small"),
    # InternVL3-1B's shape, and InternViT-6B's kind of tower (RMSNorm, QK-norm, biased q/k/v, no
    # mean pooling, a mask token) at a small size
    pytest.param(_small("internvl", text_config=_small("qwen2", hidden_size=896, num_hidden_layers=24,
                                                        num_attention_heads=14, num_key_value_heads=2,
                                                        intermediate_size=4864, vocab_size=151674, layer_types=None)),
                 id="internvl3-1b-shape"),
    pytest.param(_small("internvl", downsample_ratio=0.25, text_config=_small("qwen2", num_hidden_layers=2, layer_types=None),
                        vision_config={"model_type": "internvl_vision", "hidden_size": 256, "intermediate_size": 512,
                                       "num_hidden_layers": 2, "num_attention_heads": 4, "norm_type": "rms_norm",
                                       "use_qk_norm": True, "attention_bias": True, "use_mean_pooling": False,
                                       "use_mask_token": True, "image_size": [224, 336], "patch_size": 16}),
                 id="internvit-rmsnorm-qknorm-bias-no-pooling"),
    pytest.param({**{k: v for k, v in _aya_vision_8b(num_hidden_layers=2).items() if k != "alignment_intermediate_size"},
                  "tie_word_embeddings": False, "downsample_factor": 3}, id="aya-vision-untied-default-adapter-factor-3"),
    pytest.param({**SMOLVLM_256M, "model_type": "idefics3", "scale_factor": 2, "tie_word_embeddings": True},
                 id="idefics3-tied-scale-2"),
    pytest.param({**LFM2_VL_1_6B, "downsample_factor": 3, "projector_use_layernorm": False, "projector_bias": False,
                  "vision_config": {**LFM2_VL_1_6B["vision_config"], "num_hidden_layers": 2, "vision_use_head": True}},
                 id="lfm2-vl-factor-3-no-norm-no-bias-head"),
    pytest.param(_small("lfm2", num_hidden_layers=4, conv_bias=True, block_ffn_dim_multiplier=1.5,
                        block_multiple_of=128, full_attn_idxs=[1, 3], layer_types=None, tie_word_embeddings=False),
                 id="lfm2-biases-multiplier-idxs"),
    # LLaVA: the language model named by text_config (Mistral, Qwen2), a SigLIP tower, several
    # feature layers, an unbiased projector
    pytest.param(_small("llava_next", text_config=_small("mistral", num_hidden_layers=2, vocab_size=32064),
                        vision_feature_layer=[-2, -5, -8], multimodal_projector_bias=False),
                 id="llava-next-mistral-3-feature-layers"),
    pytest.param(_small("llava", vision_config={"model_type": "siglip_vision_model", "hidden_size": 1152,
                                                "intermediate_size": 4304, "num_hidden_layers": 3,
                                                "num_attention_heads": 16, "patch_size": 14, "image_size": 384},
                        text_config=_small("qwen2", num_hidden_layers=2, layer_types=None)), id="llava-siglip-qwen2"),
    pytest.param(_small("llava_onevision", vision_config={"model_type": "siglip_vision_model", "num_hidden_layers": 2},
                        text_config=_small("qwen3", num_hidden_layers=2, layer_types=None)), id="llava-onevision-qwen3"),
    # Hunyuan-A13B's shape (per-layer moe_topk), and a variant; Solar Open with biases
    pytest.param(HUNYUAN_A13B, id="hunyuan-a13b-shape"),
    pytest.param({**HUNYUAN_A13B, "num_hidden_layers": 3, "num_experts": 8, "moe_topk": [1, 2, 4],
                  "attention_bias": True, "tie_word_embeddings": False}, id="hunyuan-moe-topk-per-layer-biases"),
    pytest.param(_small("solar_open", num_hidden_layers=3, attention_bias=True, n_shared_experts=2),
                 id="solar-open-biases-2-shared"),
    pytest.param(_small("exaone_moe", num_hidden_layers=6, layer_types=None, mlp_layer_types=None, first_k_dense_replace=2,
                        num_shared_experts=2, sliding_window_pattern=3), id="exaone-moe-2to1-2-dense"),
    pytest.param(_small("glm_moe_dsa", num_hidden_layers=4, mlp_layer_types=["dense", "sparse", "dense", "sparse"],
                        layer_types=None, indexer_types=["full"] * 4, n_routed_experts=8),
                 id="glm5-mlp-layer-types"),
]


@pytest.mark.parametrize("config", VARIANTS)
def test_variant_matches_transformers(config):
    assert_same_count(config)


FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"     # provenance: SOURCES.md there
FIXTURE_CASES = [pytest.param(path, id=path.stem) for path in sorted(FIXTURES.glob("*.json"))]


def test_vendored_configs_cover_the_types_without_catalog_models():
    types = {json.loads(path.read_text())["model_type"] for path in FIXTURES.glob("*.json")}
    assert {"gptj", "gpt_neox", "starcoder2", "stablelm", "cohere", "cohere2", "phimoe", "ernie4_5",
            "olmoe", "granite", "mistral3", "qwen2_5_vl"} <= types


@pytest.mark.parametrize("path", FIXTURE_CASES)
def test_vendored_config_matches_transformers(path):
    assert_same_count(json.loads(path.read_text()))


# Published totals, with the precision the publisher gives. Model cards that print an exact count
# differ from the transformers module by under 0.05% (their tables count the original
# checkpoint's layout); our count equals transformers' exactly (the test above).
PUBLISHED = {
    "gpt-neox-20b": (20_556_201_984, 1e-4),     # model card: "Num. parameters 20,556,201,984"
    "gpt-j-6b": (6_053_381_344, 5e-4),          # model card: n_parameters 6,053,381,344
    "stablelm-3b-4e1t": (2_795_443_200, 0.0),   # model card table, exact
    "stablelm-2-1_6b": (1_644_417_024, 1e-4),   # model card table
    "stablelm-2-12b": (12_143_605_760, 1e-4),   # model card table
    "c4ai-command-a-03-2025": (111e9, 0.005),   # Cohere's model card: 111 billion
    "phi-3.5-moe-instruct": (42e9, 0.01),       # 42B total, 6.6B active (below), as reported
    "mistral-small-3.1-24b-instruct-2503": (24e9, 0.005),   # Mistral AI: 24 billion (with its head)
    "olmoe-1b-7b-0125-instruct": (7e9, 0.02),   # AI2 (arXiv 2409.02060): 7B total, 1B active
}


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_vendored_config_totals_match_published_figures(stem):
    value, tolerance = PUBLISHED[stem]
    total = count_params(spec_from_hf_config(json.loads((FIXTURES / f"{stem}.json").read_text()))).total
    assert abs(total - value) <= tolerance * value, f"{total:,} vs published {value:,.0f}"


def test_dbrx_counts_match_databricks():
    """Databricks: 132B parameters in total, 36B active on any input."""
    p = count_params(spec_from_hf_config(DBRX_132B))
    assert abs(p.total - 132e9) / 132e9 < 0.005 and abs(p.active - 36e9) / 36e9 < 0.02


def test_minimax_text_01_counts_match_the_report():
    """MiniMax-01: 456B parameters, 45.9B activated per token (the report counts the activated
    ones without the embedding and the head)."""
    p = count_params(spec_from_hf_config(MINIMAX_01))
    assert abs(p.total - 456e9) / 456e9 < 0.002
    assert abs(p.active - p.embedding_like - 45.9e9) / 45.9e9 < 0.005


def test_phi_3_5_moe_active_count_matches_microsoft():
    p = count_params(spec_from_hf_config(json.loads((FIXTURES / "phi-3.5-moe-instruct.json").read_text())))
    assert abs(p.active - 6.6e9) / 6.6e9 < 0.01


def test_solar_open_and_hunyuan_a13b_counts_match_their_publishers():
    """Upstage: Solar Open "102B total, 12B active"; Tencent: Hunyuan-A13B "80B, 13B active"."""
    solar = count_params(spec_from_hf_config(_default_config("solar_open")))
    hunyuan = count_params(spec_from_hf_config(HUNYUAN_A13B))
    for count, stated in ((solar.total, 102e9), (solar.active, 12e9), (hunyuan.total, 80e9), (hunyuan.active, 13e9)):
        assert abs(count - stated) / stated < 0.02, (count, stated)


def test_lfm2_counts_match_liquid():
    """Liquid AI's stated sizes: LFM2-1.2B "1.17B"; LFM2-8B-A1B "8.3B total, 1.5B active";
    LFM2-VL-1.6B (LFM2-1.2B with a SigLIP 2 tower of 400M)."""
    vl = count_params(spec_from_hf_config(LFM2_VL_1_6B))
    assert vl.active == 1_170_340_608 and abs(vl.total - 1.6e9) / 1.6e9 < 0.02


def test_smolvlm_256m_count_matches_hugging_face():
    """SmolVLM-256M: SmolLM2-135M's layers with a 93M SigLIP-shaped tower, "256M"."""
    assert abs(count_params(spec_from_hf_config(SMOLVLM_256M)).total - 256e6) / 256e6 < 0.01
    dense, moe = (count_params(spec_from_hf_config(p.values[0])) for p in VARIANTS
                  if p.id in ("lfm2-1.2b-shape", "lfm2-8b-a1b-shape"))
    assert dense.total == dense.active == 1_170_340_608
    assert abs(moe.total - 8.3e9) / 8.3e9 < 0.01 and abs(moe.active - 1.5e9) / 1.5e9 < 0.05


@pytest.mark.parametrize("kv_heads", [1, 2, 4, 16])
def test_kv_heads_knob_equals_config_change(kv_heads):
    """The knob gives the same model as editing the config: same count as transformers."""
    base = spec_from_hf_config(_small("llama", num_attention_heads=32))
    edited = apply_overrides(base, {"kv_heads": kv_heads})
    ref = reference_param_count(_small("llama", num_attention_heads=32, num_key_value_heads=kv_heads))
    assert count_params(edited).total == ref


def test_layers_knob_equals_config_change():
    cfg = _default_config("gemma2")
    edited = apply_overrides(spec_from_hf_config(cfg), {"layers": 10})
    ref = reference_param_count({**cfg, "num_hidden_layers": 10, "layer_types": None})
    assert count_params(edited).total == ref


def test_experts_knob_equals_config_change():
    cfg = _default_config("mixtral")
    edited = apply_overrides(spec_from_hf_config(cfg), {"experts": 16, "top_k": 4})
    ref = reference_param_count({**cfg, "num_local_experts": 16, "num_experts_per_tok": 4})
    assert count_params(edited).total == ref


def test_published_totals():
    """Figures the organizations publish, to the precision they publish them."""
    published = {"deepseek-v3": (671e9, 0.005), "mixtral-8x7b": (46.7e9, 0.005),
                 "llama-3.1-405b": (405e9, 0.005), "qwen3-235b-a22b": (235e9, 0.005),
                 "gpt-oss-120b": (116.8e9, 0.005), "llama-65b": (65.2e9, 0.005),
                 "gpt-3": (175e9, 0.005), "smollm3-3b": (3.08e9, 0.005)}
    entries = catalog()
    for model_id, (value, tol) in published.items():
        total = count_params(entries[model_id].spec()).total
        assert abs(total - value) / value < tol, (model_id, total)
    assert abs(count_params(entries["deepseek-v3"].spec()).active - 37e9) / 37e9 < 0.02


@pytest.mark.parametrize("model_id, convention, published", [
    # OpenAI, gpt-oss model card (arXiv 2508.10925) Table 1: active parameters without embeddings
    ("gpt-oss-120b", "without", 5.13e9), ("gpt-oss-20b", "without", 3.61e9),
    # DeepSeek-V3 README_WEIGHTS.md: 36.7B active "including 0.9B for the output head"
    ("deepseek-v3", "without", 36.6e9),
    # Mistral AI (Mixtral of Experts, arXiv 2401.04088): 12.9B active; Qwen3-30B-A3B card: 3.3B
    ("mixtral-8x7b", "with", 12.9e9), ("qwen3-30b-a3b", "with", 3.3e9),
    # Meituan LongCat-Flash: 18.6B-31.3B per token with zero-computation experts, about 27B
    ("longcat-flash-chat", "with", 27e9)])
def test_published_active_counts_under_each_publishers_convention(model_id, convention, published):
    p = count_params(catalog()[model_id].spec())
    ours = p.active if convention == "with" else p.active_without_embeddings
    # to the publishers' precision: one decimal of a billion (3.3B: 2%); LongCat's "about 27B": 4%
    tolerance = 0.04 if model_id.startswith("longcat") else 0.02
    assert abs(ours - published) / published < tolerance, ours


@pytest.mark.parametrize("model_type", DEFAULT_TYPES)
def test_missing_tie_key_follows_transformers_default(model_type):
    """config.json files often omit tie_word_embeddings (SmolLM3's does): each type then
    follows its transformers config class's default."""
    cfg = _default_config(model_type)
    cfg.pop("tie_word_embeddings", None)
    if isinstance(cfg.get("text_config"), dict):
        cfg["text_config"].pop("tie_word_embeddings", None)
    assert_same_count(cfg)


def _transformers_rope_fraction(config: dict) -> float:
    """partial_rotary_factor as transformers resolves it for this config (1.0 when absent)."""
    c = _as_transformers(config)
    tc = CONFIG_MAPPING[c["model_type"]](**{k: v for k, v in c.items() if k != "model_type"})
    tc = getattr(tc, "text_config", None) or tc
    params = getattr(tc, "rope_parameters", None) or {}
    if isinstance(params, dict) and isinstance(params.get("full_attention"), dict):
        params = params["full_attention"]
    value = params.get("partial_rotary_factor") if isinstance(params, dict) else None
    if value is None:
        value = getattr(tc, "partial_rotary_factor", None)
    return 1.0 if value is None else float(value)


@pytest.mark.parametrize("config", CATALOG_CASES)
def test_rope_fraction_matches_transformers(config):
    """The share of each head that RoPE rotates (the diagram's position text and the taxonomy's
    position-encoding class): GLM configs that omit partial_rotary_factor rotate half, as
    transformers does."""
    assert spec_from_hf_config(config).rope_fraction == pytest.approx(_transformers_rope_fraction(config))


def test_mamba_ssm_format_checkpoint_matches_transformers_mamba2():
    """state-spaces/mamba2-2.7b ships mamba_ssm's own config (no model_type). transformers'
    conversion script turns it into a Mamba2Config: d_model -> hidden_size, n_layer ->
    num_hidden_layers, the vocabulary padded to pad_vocab_size_multiple (50277 -> 50288) and the
    Mamba2 module defaults (d_state 128, headdim 64, expand 2, one group, conv 4)."""
    entry = catalog()["mamba2-2.7b"]
    config = entry.raw["hf_config"]
    assert "model_type" not in config
    reference = {"model_type": "mamba2", "hidden_size": 2560, "num_hidden_layers": 64,
                 "vocab_size": 50288, "state_size": 128, "expand": 2, "head_dim": 64,
                 "num_heads": 80, "n_groups": 1, "conv_kernel": 4, "use_bias": False,
                 "use_conv_bias": True, "tie_word_embeddings": True}
    ours = count_params(entry.spec()).total
    assert ours == reference_param_count(reference)
    assert round(ours / 1e9, 1) == 2.7            # the model's name


def test_mamba_ssm_format_unsupported_variants_are_named():
    from models.spec import SpecError
    base = {"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {"layer": "Mamba2"},
            "pad_vocab_size_multiple": 16}
    for change, field in (({"ssm_cfg": {}}, "ssm_cfg.layer"),
                          ({"attn_layer_idx": [3]}, "attn_layer_idx"),
                          ({"d_intermediate": 1024}, "d_intermediate"),
                          ({"ssm_cfg": {"layer": "Mamba2", "d_stat": 64}}, "ssm_cfg")):
        with pytest.raises(SpecError) as err:
            spec_from_hf_config({**base, **change})
        assert field in str(err.value)


def test_gemma3_text_config_without_vocab_size_takes_transformers_default():
    """Google's Gemma 3 configs leave vocab_size out of text_config; transformers then uses
    262,208, and so must we (rather than refuse the file)."""
    cfg = _default_config("gemma3")
    cfg["text_config"] = {k: v for k, v in cfg["text_config"].items() if k != "vocab_size"}
    assert spec_from_hf_config(cfg).vocab_size == CONFIG_MAPPING["gemma3_text"]().vocab_size == 262_208
    assert_same_count(cfg)



@pytest.mark.parametrize("model_type", DEFAULT_TYPES)
def test_missing_head_dim_follows_transformers_default(model_type):
    """Without head_dim, some config classes fix one (Gemma: 256, Qwen3: 128) where others derive
    hidden_size // num_attention_heads: the count follows whichever the type's class does."""
    cfg = _default_config(model_type)
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    text.pop("head_dim", None)
    heads = text.get("num_attention_heads")
    # (the Mamba sizes of Nemotron-H, Granite 4 and Bamba and OPT's embedding width follow
    # hidden_size; Helium's o_proj is hidden x hidden, so another head size gives a model
    # transformers builds but cannot run)
    # (the language model's own type decides: BLIP-2's is OPT)
    if (text.get("model_type") or model_type) not in ("nemotron_h", "granitemoehybrid", "bamba", "helium", "opt") \
            and isinstance(heads, int) and isinstance(text.get("hidden_size"), int):
        text["hidden_size"] = heads * 40              # hidden // heads = 40: no class default
    assert_same_count(cfg)


# (a recurrence, or ALiBi in BLOOM, has no context key in transformers' config)
@pytest.mark.parametrize("model_type", [t for t in DEFAULT_TYPES if t not in ("mamba", "mamba2", "falcon_mamba",
                                                                             "bloom")])
def test_missing_context_key_follows_transformers_default(model_type):
    """A config.json without max_position_embeddings (Gemma 3's text_config) runs in transformers
    with its config class's default, and that is the context the model is costed and capped at."""
    cfg = _default_config(model_type)
    for d in (cfg, cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else {}):
        for key in CONTEXT_KEYS:
            d.pop(key, None)
    # what transformers builds from that file (a text_config without the key takes its class's
    # default, not the wrapper's default text config: Idefics2's is 32,768, MistralConfig's 131,072)
    reference = CONFIG_MAPPING[model_type](**{k: v for k, v in copy.deepcopy(cfg).items() if k != "model_type"})
    reference = getattr(reference, "text_config", None) or reference
    expected = getattr(reference, "max_position_embeddings", None) or getattr(reference, "n_positions", None) \
        or reference.max_seq_len
    assert spec_from_hf_config(cfg).context_length == expected
