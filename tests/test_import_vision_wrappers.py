"""Image-text checkpoints over language models the importer already reads (models/hf/__init__.py:
_WRAPPERS; their image encoders in models/hf/vision.py): Kimi K2.5, Command A Vision, PaliGemma,
ShieldGemma 2, GLM-4.6V, Cosmos 3 Omni, LLaVA-NeXT-Video, Video-LLaVA, ViP-LLaVA, LightOnOCR, EXAONE
4.5, HyperCLOVA X SEED Vision, LFM3-VL, Idefics2, MiniCPM-V 4.6/4.7, MiniCPM-OCR, Qianfan-OCR,
PaddleOCR-VL, the thinkers of Qwen2.5-Omni and Qwen3-Omni, DeepSeek-VL, VideoLLaMA 3, GOT-OCR 2.0,
BLIP-2, InstructBLIP and InstructBLIP-Video. Their default configs are compared in
tests/test_params_vs_transformers.py; here, variants that move every key an encoder's count reads,
each against transformers built on the meta device."""
from __future__ import annotations

import copy

import pytest

from models.hf import spec_from_hf_config
from models.params import count_params

pytest.importorskip("torch")
pytest.importorskip("transformers")
from hf_reference import assert_counts_equal, default_config  # noqa: E402


def _changed_sub(model_type: str, key: str, **changes) -> dict:
    """A sub-config (audio_config, ...) of transformers' default config of ``model_type``, changed."""
    return {**default_config(model_type)[key], **changes}


def _variant(model_type: str, vision: dict | None = None, text: dict | None = None, **top) -> dict:
    """transformers' default config of an image-text type with a two-layer language model, the
    changes to vision_config and text_config, and top-level changes."""
    cfg = default_config(model_type, **top)
    cfg["text_config"] = {**cfg["text_config"], "num_hidden_layers": 2, **(text or {})}
    cfg["vision_config"] = {**cfg["vision_config"], **(vision or {})}
    if "layer_types" in cfg["text_config"]:           # keep a per-layer list as long as the stack
        cfg["text_config"]["layer_types"] = cfg["text_config"]["layer_types"][:cfg["text_config"]["num_hidden_layers"]]
    return cfg


CASES = {
    "kimi-k25-grid-merge-and-norm": _variant("kimi_k25", {"pos_emb_height": 32, "pos_emb_width": 48,
                                                          "merge_kernel_size": [3, 2], "num_hidden_layers": 3,
                                                          "hidden_size": 256, "intermediate_size": 640,
                                                          "num_attention_heads": 4},
                                             {"n_routed_experts": 8, "first_k_dense_replace": 1},
                                             projection_hidden_size=256),
    "kimi-k25-moonshot-text-type": _variant("kimi_k25", {"num_hidden_layers": 2},
                                            {"model_type": "kimi_k2", "n_routed_experts": 8}),
    "command-a-vision-small-adapter": _variant("cohere2_vision", {"num_hidden_layers": 3, "image_size": 256},
                                               downsample_factor=4, alignment_intermediate_size=4096),
    "paligemma-headless-narrow": _variant("paligemma", {"vision_use_head": False, "hidden_size": 768,
                                                        "intermediate_size": 3072, "num_hidden_layers": 4,
                                                        "num_attention_heads": 12, "image_size": 448},
                                          projection_dim=2048),
    "paligemma-2-gemma2-text": _variant("paligemma", {"vision_use_head": False, "num_hidden_layers": 2},
                                        {"model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216,
                                         "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                                         "vocab_size": 257152}, projection_dim=2304),
    "shieldgemma2-deeper-tower": _variant("shieldgemma2", {"num_hidden_layers": 5, "image_size": 448}),
    "glm46v-biased-attention": _variant("glm46v", {"depth": 3, "attention_bias": True, "out_hidden_size": 2048,
                                                   "intermediate_size": 5120}),
    "glmga-smaller-merge": _variant("glmga", {"depth": 2, "spatial_merge_size": 3}),
    "cosmos3-omni-one-deepstack": _variant("cosmos3_omni", {"depth": 4, "deepstack_visual_indexes": [1],
                                                            "num_position_embeddings": 1024}),
    "llava-next-video-siglip-two-features": _variant(
        "llava_next_video", {"model_type": "siglip_vision_model", "num_hidden_layers": 4},
        vision_feature_layer=[-2, -3], multimodal_projector_bias=False),
    "video-llava-two-towers": _variant("video_llava", {"num_hidden_layers": 3, "image_size": 336},
                                       vision_feature_layer=[-1, -2, -3]),
    "vipllava-two-feature-layers": _variant("vipllava", {"num_hidden_layers": 6}, vision_feature_layer=[-2, -5]),
    "lighton-ocr-merge-3": _variant("lighton_ocr", {"num_hidden_layers": 3}, spatial_merge_size=3),
    "exaone45-four-kv-heads": _variant("exaone4_5", {"depth": 3, "num_key_value_heads": 4, "hidden_size": 1280,
                                                  "out_hidden_size": 2048}),
    "hyperclovax-narrow-merger": _variant("hyperclovax_vision_v2", {"depth": 2, "out_hidden_size": 2048}),
    "lfm3-vl-own-layer-types": _variant("lfm3_vl", {"num_hidden_layers": 5, "conv_kernel_size": 5,
                                                    "layer_types": ["conv", "full_attention", "full_attention",
                                                                    "conv", "full_attention"]},
                                        projector_bias=False, projector_hidden_size=2048),
    "idefics2-small-perceiver": _variant("idefics2", {"hidden_size": 1152, "intermediate_size": 4304,
                                                      "num_attention_heads": 16, "num_hidden_layers": 3},
                                         perceiver_config={"resampler_n_latents": 32, "resampler_depth": 2,
                                                           "resampler_n_heads": 8, "num_key_value_heads": 2,
                                                           "resampler_head_dim": 64}),
    "minicpmv46-two-mergers": _variant("minicpmv4_6", {"num_hidden_layers": 4, "window_kernel_size": [2, 2],
                                                       "image_size": 448, "patch_size": 14},
                                       merger_times=2),
    "minicpm-ocr-wide-window": _variant("minicpm_ocr", {"num_hidden_layers": 3, "window_kernel_size": [1, 2]}),
    "qianfan-ocr-qk-norm-rms": _variant("qianfan_ocr", {"num_hidden_layers": 3, "use_qk_norm": True,
                                                        "norm_type": "rms_norm", "use_mean_pooling": False},
                                        downsample_ratio=0.25),
    "paddleocr-vl-small-tower-merge-3": _variant("paddleocr_vl", {"hidden_size": 768, "intermediate_size": 3072,
                                                                "num_attention_heads": 12, "num_hidden_layers": 3,
                                                                "image_size": 448, "patch_size": 16,
                                                                "spatial_merge_size": 3, "num_channels": 1}),
    "paddleocr-vl-untied-biased": _variant("paddleocr_vl", {"num_hidden_layers": 2},
                                           {"tie_word_embeddings": False, "use_bias": True},
                                           tie_word_embeddings=False),
    "qwen2-5-omni-small-vit-and-audio": _variant(
        "qwen2_5_omni_thinker", {"depth": 3, "hidden_size": 1000, "num_heads": 16, "intermediate_size": 2048,
                                 "out_hidden_size": 2048, "patch_size": 16, "temporal_patch_size": 1,
                                 "in_channels": 1, "spatial_merge_size": 3, "fullatt_block_indexes": [2]},
        tie_word_embeddings=True,
        audio_config=_changed_sub("qwen2_5_omni_thinker", "audio_config", d_model=640, num_mel_bins=80,
                                  encoder_layers=3, encoder_ffn_dim=2560, output_dim=2048,
                                  encoder_attention_heads=10)),
    "qwen3-omni-small-vit-and-audio": _variant(
        "qwen3_omni_moe_thinker", {"depth": 4, "hidden_size": 768, "intermediate_size": 2048, "num_heads": 12,
                                   "out_hidden_size": 1024, "patch_size": 14, "temporal_patch_size": 1,
                                   "in_channels": 1, "spatial_merge_size": 3, "num_position_embeddings": 1024,
                                   "deepstack_visual_indexes": [1, 2]},
        {"hidden_size": 1024, "num_experts": 8, "moe_intermediate_size": 256, "mlp_only_layers": [0],
         "attention_bias": True, "norm_topk_prob": False},
        audio_config=_changed_sub("qwen3_omni_moe_thinker", "audio_config", d_model=640, num_mel_bins=80,
                                  encoder_layers=3, encoder_ffn_dim=2560, output_dim=1024,
                                  downsample_hidden_size=240, encoder_attention_heads=10)),
    "qwen3-omni-sparse-every-second-layer": _variant(
        "qwen3_omni_moe_thinker", {"depth": 2, "deepstack_visual_indexes": [0]},
        {"num_hidden_layers": 4, "num_experts": 4, "num_experts_per_tok": 2, "decoder_sparse_step": 2},
        tie_word_embeddings=True),
    "deepseek-vl-headless-siglip": _variant("deepseek_vl", {"vision_use_head": False, "hidden_size": 1024,
                                                            "intermediate_size": 4096, "num_attention_heads": 16,
                                                            "num_hidden_layers": 3, "image_size": 384,
                                                            "patch_size": 16, "num_channels": 1},
                                            tie_word_embeddings=False),
    "deepseek-vl-clip-tower-qwen2-text": _variant("deepseek_vl", {"model_type": "clip_vision_model",
                                                                  "num_hidden_layers": 2, "image_size": 336,
                                                                  "patch_size": 14},
                                                  {"model_type": "qwen2", "num_key_value_heads": 8}),
    # the text model's flag ties the head even where the wrapper's says false
    "video-llama-3-small-tower-tied-by-text": _variant(
        "video_llama_3", {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                          "num_hidden_layers": 3, "patch_size": 14, "num_channels": 1},
        {"tie_word_embeddings": True}, tie_word_embeddings=False),
    "got-ocr2-small-sam-windows": _variant("got_ocr2", {"hidden_size": 512, "mlp_dim": 2048, "num_hidden_layers": 4,
                                                        "num_attention_heads": 8, "num_channels": 1, "image_size": 512,
                                                        "patch_size": 16, "output_channels": 128, "window_size": 7,
                                                        "global_attn_indexes": [1, 3, 9], "qkv_bias": False},
                                           tie_word_embeddings=False),
    "got-ocr2-no-position-tables": _variant("got_ocr2", {"num_hidden_layers": 2, "global_attn_indexes": [0],
                                                         "use_abs_pos": False, "use_rel_pos": False}),
    # GLM-OCR: its ViT without biases, narrower, other heads (q/k norms per head), a wider merge and
    # one more input channel (the merger's SwiGLU is in_channels x out_hidden_size wide); the
    # language model GLM-4V's layer without Q/K/V biases, head_dim hidden // heads
    "glm-ocr-unbiased-narrow-vit": _variant("glm_ocr", {"depth": 3, "attention_bias": False, "hidden_size": 512,
                                                        "num_heads": 8, "intermediate_size": 1024,
                                                        "out_hidden_size": 768, "spatial_merge_size": 3,
                                                        "in_channels": 4, "patch_size": 16},
                                            {"hidden_size": 768, "num_attention_heads": 12, "num_key_value_heads": 4,
                                             "intermediate_size": 2048}),
    "glm-ocr-biased-deeper": _variant("glm_ocr", {"depth": 5, "temporal_patch_size": 1, "num_heads": 32}),
    # BLIP-2: a 3-layer ViT without qkv biases, 7 Q-Former layers crossing into it at 0, 3 and 6 (the
    # stated encoder_hidden_size is overwritten by the ViT's width, as transformers does), 16 queries,
    # and a Llama language model of another width (language_projection)
    "blip2-small-vit-qformer-every-third-llama": _variant(
        "blip-2", {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 3, "num_attention_heads": 16,
                   "image_size": 336, "patch_size": 16, "qkv_bias": False},
        {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816, "num_attention_heads": 16,
         "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": False},
        num_query_tokens=16,
        qformer_config=_changed_sub("blip-2", "qformer_config", num_hidden_layers=7, cross_attention_frequency=3,
                                    hidden_size=512, intermediate_size=1536, num_attention_heads=8,
                                    encoder_hidden_size=999)),
    # the Q-Former's second feed-forward; the wrapper's tie flag is not transformers' (text_config's is)
    "blip2-qformer-text-input-untied-by-text": _variant(
        "blip-2", {"num_hidden_layers": 2}, {"tie_word_embeddings": False}, tie_word_embeddings=True,
        qformer_config=_changed_sub("blip-2", "qformer_config", use_qformer_text_input=True,
                                    cross_attention_frequency=1, num_hidden_layers=3)),
    "instructblip-small-qformer-vocab": _variant(
        "instructblip", {"num_hidden_layers": 2, "image_size": 448, "patch_size": 16},
        num_query_tokens=8,
        qformer_config=_changed_sub("instructblip", "qformer_config", num_hidden_layers=5, vocab_size=1000,
                                    max_position_embeddings=128, intermediate_size=2048)),
    "instructblipvideo-qwen2-text-sparse-cross": _variant(
        "instructblipvideo", {"num_hidden_layers": 2, "hidden_size": 768, "intermediate_size": 3072,
                              "num_attention_heads": 12},
        {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
         "num_key_value_heads": 2, "vocab_size": 1000},
        qformer_config=_changed_sub("instructblipvideo", "qformer_config", num_hidden_layers=6,
                                    cross_attention_frequency=4, hidden_size=256, num_attention_heads=4)),
}


def _flat(model_type: str, **top) -> dict:
    """An image-text config in the flat layout (the language model's keys at the top level, no
    text_config), as some publishers write it, with a two-layer language model."""
    cfg = default_config(model_type)
    text = {k: v for k, v in cfg.pop("text_config").items() if k != "model_type"}
    return {**text, **cfg, "num_hidden_layers": 2, **top}


# PaddleOCR-VL's published layout says tie_word_embeddings false; transformers ties it all the same
CASES["paddleocr-vl-flat-untied-flag"] = _flat("paddleocr_vl", tie_word_embeddings=False)


CASES["lfm3-vl-default-pattern"] = _variant("lfm3_vl", {"num_hidden_layers": 7})
del CASES["lfm3-vl-default-pattern"]["vision_config"]["layer_types"]     # conv in layers 0, 1, 3, 5


@pytest.mark.parametrize("case", sorted(CASES))
def test_variant_counts_equal_transformers(case):
    assert_counts_equal(copy.deepcopy(CASES[case]))


def test_kimi_k25_reads_moonshot_spellings_of_the_tower_keys():
    """Moonshot's own config.json (remote code) names the position grid init_pos_emb_height/width and
    the merger norm's width vision_config.mm_hidden_size (older files the tower's sizes vt_hidden_size,
    vt_intermediate_size, vt_num_hidden_layers); transformers, pos_emb_height/width and
    projection_hidden_size. One checkpoint, one count."""
    hf = _variant("kimi_k25", {"pos_emb_height": 32, "pos_emb_width": 48, "hidden_size": 256,
                               "intermediate_size": 640, "num_attention_heads": 4},
                  projection_hidden_size=256)
    moonshot = copy.deepcopy(hf)
    del moonshot["projection_hidden_size"]
    vision = moonshot["vision_config"]
    vision.update(init_pos_emb_height=vision.pop("pos_emb_height"), init_pos_emb_width=vision.pop("pos_emb_width"),
                  mm_hidden_size=256)
    legacy = copy.deepcopy(moonshot)                # older files: the tower's sizes as vt_*
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers"):
        legacy["vision_config"][f"vt_{key}"] = legacy["vision_config"].pop(key)
    ours = [count_params(spec_from_hf_config(c)).total for c in (hf, moonshot, legacy)]
    assert ours[0] == ours[1] == ours[2]
    # the grid: 32 x 48 positions of 256 (not the default 64 x 64)
    assert spec_from_hf_config(default_config("kimi_k25")).vision.params - \
        spec_from_hf_config(_variant("kimi_k25", {"pos_emb_height": 32, "pos_emb_width": 48})).vision.params \
        == (64 * 64 - 32 * 48) * 1152


def test_encoders_are_named_and_counted_outside_the_active_parameters():
    """The image encoder adds to the total, never to the parameters each text token reads."""
    for model_type, name in [("kimi_k25", "MoonViT (27 layers, d 1152)"),
                             ("lfm3_vl", "LFM3 ViT (14 layers: 8 conv, d 1024)"),
                             ("exaone4_5", "EXAONE 4.5 ViT (32 layers, d 3584)"),
                             ("video_llava", "CLIP ViT (24 layers, d 1024) x 2 (images, videos)"),
                             ("idefics2", "SigLIP-shaped ViT (12 layers, d 768) + 64-latent perceiver")]:
        spec = spec_from_hf_config(default_config(model_type))
        counts = count_params(spec)
        assert spec.vision.name == name and spec.model_type == model_type
        text_only = count_params(spec.with_changes(vision=None))
        assert counts.total - text_only.total == spec.vision.params > 0
        assert counts.active == text_only.active


def test_exaone45_reads_its_first_text_type_as_exaone4():
    """EXAONE 4.5 first shipped with text_config.model_type "exaone4_5_text" (transformers now
    reads it as exaone4)."""
    cfg = _variant("exaone4_5", {"depth": 2})
    renamed = copy.deepcopy(cfg)
    renamed["text_config"]["model_type"] = "exaone4_5_text"
    assert count_params(spec_from_hf_config(renamed)).total == count_params(spec_from_hf_config(cfg)).total


def test_a_damaged_tower_size_is_refused_without_building_anything():
    """LFM3-VL's default layer pattern was a list as long as num_hidden_layers: 10^13 layers took
    the machine's memory. Counted instead, the size is refused as too large, at once."""
    from models.spec import SpecError
    cfg = _variant("lfm3_vl", {"num_hidden_layers": 10 ** 13})
    del cfg["vision_config"]["layer_types"]
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(cfg)
    assert "vision" in err.value.field


@pytest.mark.parametrize("model_type", ["blip-2", "instructblip", "instructblipvideo"])
def test_blip2_family_refuses_a_t5_language_model(model_type):
    """BLIP-2's and InstructBLIP's Flan-T5 checkpoints: an encoder-decoder language model, which the
    spec's decoder layers cannot describe; refused with why, not a traceback."""
    from models.spec import SpecError
    cfg = default_config(model_type, text_config=default_config("t5"))
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(cfg)
    assert err.value.field == "config.text_config.model_type"
    assert "'t5'" in err.value.rule and "encoder-decoder" in err.value.rule


@pytest.mark.parametrize("key,value,field", [
    ("vision_config", {"hidden_size": "x"}, "config.vision_config.hidden_size"),
    ("qformer_config", {"hidden_size": "x"}, "config.qformer_config.hidden_size"),
    ("qformer_config", {"cross_attention_frequency": 0}, "config.qformer_config.cross_attention_frequency"),
    ("qformer_config", "x", "config.qformer_config"),
    ("num_query_tokens", 2.5, "config.num_query_tokens"),
])
@pytest.mark.parametrize("model_type", ["blip-2", "instructblip", "instructblipvideo"])
def test_blip2_family_names_a_malformed_sub_config(model_type, key, value, field):
    from models.spec import SpecError
    cfg = default_config(model_type)
    cfg[key] = value
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(cfg)
    assert err.value.field == field
