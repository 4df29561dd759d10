"""Image encoders of multimodal checkpoints, counted into the total (not active per text token).

Gemma 3: a SigLIP ViT plus a projector (mm_input_projection_weight and an RMSNorm).
Llama 4: its own ViT (class token, unfolded-patch linear embedding, pre/post LayerNorms), a
pixel-shuffle MLP adapter and a linear projector.
Mistral 3 (Mistral Small 3.1): a Pixtral ViT (RMSNorms, SwiGLU, 2D RoPE: no position table), then
an RMSNorm, a patch merger (2x2 patches into one) and a two-layer projector.
Qwen2-VL / Qwen2.5-VL: a ViT over 2-frame 3D patches (Conv3d, no bias) and a merger (norm, then
an MLP over 2x2 merged patches into the text width); Qwen2-VL's blocks use biased LayerNorms and a
plain MLP, Qwen2.5-VL's RMSNorms and a biased SwiGLU. Qwen3.5 adds a learned position table and
biases the patch embedding; Qwen3-VL adds DeepStack mergers.
LLaVA, LLaVA-NeXT and LLaVA-OneVision: a CLIP or SigLIP vision model (vision_config's
model_type), then a two-layer projector from the chosen feature layers to the text width; NeXT and
OneVision add an image_newline vector.
LFM2-VL: a SigLIP 2 NaFlex tower, pixel unshuffle and a LayerNorm-then-two-layer projector.
Idefics3 and SmolVLM: a SigLIP-shaped tower without its head, pixel shuffle, one linear.
Aria: the same tower, then a projector whose learned queries cross-attend to the patches.
Fuyu: no tower; one biased linear embeds each patch's pixels into the text width.
Aya Vision: a SigLIP tower, pixel shuffle, a LayerNorm and a SwiGLU adapter.
InternVL: InternViT (layer scale, optional QK-norm), pixel unshuffle and a two-layer projector.
GLM-4.1V / GLM-4.5V: a 3D-patch ViT with RMSNorms, a downsampling conv and a SwiGLU merger.
Gemma 4: its ViT and the E models' audio encoder; the unified model's patch and audio-frame
projections (models.hf.gemma4).
Counts follow the transformers modules; missing keys take those config classes' defaults. Each
encoder gets the vision config, the text model's width and the whole config (for keys of the
wrapper such as the projector's bias).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import VisionEncoder
from .gemma3n import gemma3n_encoders
from .gemma4 import gemma4_encoders, gemma4_unified_encoders


def _g(cfg: Mapping[str, Any], key: str, default):
    value = cfg.get(key)
    return default if value is None else value


def _vit_layer(h: int, i: int) -> int:
    """Two LayerNorms with bias, q/k/v/o with bias, a two-layer MLP with biases."""
    return 2 * 2 * h + 4 * (h * h + h) + (h * i + i) + (i * h + h)


def _siglip(vcfg: Mapping[str, Any]) -> tuple[int, str]:
    """SiglipVisionModel: biased patch conv, position table, LayerNorm blocks, post-LayerNorm and
    (vision_use_head) the attention-pooling head; SigLIP 2 (NaFlex) the same with a linear patch
    embedding and num_patches positions. -> (params, name)."""
    h, i = _g(vcfg, "hidden_size", 768), _g(vcfg, "intermediate_size", 3072)
    layers, p = _g(vcfg, "num_hidden_layers", 12), _g(vcfg, "patch_size", 16)
    c, image = _g(vcfg, "num_channels", 3), _g(vcfg, "image_size", 224)
    v2 = vcfg.get("model_type") == "siglip2_vision_model"
    patches = _g(vcfg, "num_patches", 256) if v2 else (image // p) ** 2
    params = (c * p * p * h + h) + patches * h + layers * _vit_layer(h, i) + 2 * h
    if _g(vcfg, "vision_use_head", True):
        # attention-pooling head: probe, fused in_proj, out_proj, LayerNorm, MLP
        params += h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h)
    return params, f"SigLIP{' 2' if v2 else ''} ViT ({layers} layers, d {h})"


def _clip(vcfg: Mapping[str, Any]) -> tuple[int, str]:
    """CLIPVisionModel: class token, patch conv (no bias), position table (patches + 1),
    pre-LayerNorm, LayerNorm blocks, post-LayerNorm. -> (params, name)."""
    h, i = _g(vcfg, "hidden_size", 768), _g(vcfg, "intermediate_size", 3072)
    layers, p = _g(vcfg, "num_hidden_layers", 12), _g(vcfg, "patch_size", 32)
    c, image = _g(vcfg, "num_channels", 3), _g(vcfg, "image_size", 224)
    positions = (image // p) ** 2 + 1
    params = h + c * p * p * h + positions * h + 2 * h + layers * _vit_layer(h, i) + 2 * h
    return params, f"CLIP ViT ({layers} layers, d {h})"


def gemma3_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    params, name = _siglip(vcfg)
    width = _g(vcfg, "hidden_size", 768)
    params += width * text_hidden + width           # projector weight and its RMSNorm
    return VisionEncoder(params=params, name=name)


# LLaVA's vision towers by vision_config.model_type, and each wrapper's default tower
_LLAVA_TOWERS = {"clip_vision_model": _clip, "siglip_vision_model": _siglip, "siglip2_vision_model": _siglip}
_LLAVA_DEFAULT_TOWER = {"llava": "clip_vision_model", "llava_next": "clip_vision_model",
                        "llava_onevision": "siglip_vision_model", "aya_vision": "siglip_vision_model"}


def _tower(vcfg: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[int, str]:
    """The CLIP or SigLIP tower vision_config names (the wrapper's default when it names none)."""
    from ..spec import SpecError
    tower = str(vcfg.get("model_type") or _LLAVA_DEFAULT_TOWER[str(config.get("model_type"))])
    if tower not in _LLAVA_TOWERS:
        raise SpecError("config.vision_config.model_type",
                        f"{tower!r} is not a vision tower this importer counts (it reads "
                        f"{', '.join(_LLAVA_TOWERS)})")
    return _LLAVA_TOWERS[tower](vcfg)


def llava_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """The vision tower, then linear_1 (vision width x feature layers -> text width) + GELU +
    linear_2 (text -> text), biased unless multimodal_projector_bias is false; NeXT and OneVision
    add image_newline (text width)."""
    wrapper = str(config.get("model_type"))
    params, name = _tower(vcfg, config)
    width = _g(vcfg, "hidden_size", 768)
    feature = _g(config, "vision_feature_layer", -1 if wrapper == "llava_onevision" else -2)
    feature_layers = 1 if isinstance(feature, int) else len(feature)
    bias = bool(_g(config, "multimodal_projector_bias", True))
    params += width * feature_layers * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
    if wrapper != "llava":
        params += text_hidden                               # image_newline
    return VisionEncoder(params=params, name=name)


def llama4_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    h, i = _g(vcfg, "hidden_size", 768), _g(vcfg, "intermediate_size", 5632)
    layers, p = _g(vcfg, "num_hidden_layers", 34), _g(vcfg, "patch_size", 14)
    c, image = _g(vcfg, "num_channels", 3), _g(vcfg, "image_size", 448)
    proj_in, proj_out = _g(vcfg, "projector_input_dim", 4096), _g(vcfg, "projector_output_dim", 4096)
    out_dim = _g(vcfg, "vision_output_dim", 7680)
    positions = (image // p) ** 2 + 1                       # + the class token
    params = h + positions * h + c * p * p * h + 2 * 2 * h + layers * _vit_layer(h, i)
    params += i * proj_in + proj_in * proj_out              # pixel-shuffle MLP adapter (no bias)
    params += out_dim * text_hidden                         # projector (multi_modal_projector_bias off)
    if _g(vcfg, "multi_modal_projector_bias", False):
        params += text_hidden
    return VisionEncoder(params=params, name=f"Llama 4 ViT ({layers} layers, d {h})")


def mistral3_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    h, i = _g(vcfg, "hidden_size", 1024), _g(vcfg, "intermediate_size", 4096)
    layers, p, c = _g(vcfg, "num_hidden_layers", 24), _g(vcfg, "patch_size", 16), _g(vcfg, "num_channels", 3)
    merge = _g(config, "spatial_merge_size", 2)
    feature_layers = _g(config, "vision_feature_layer", -1)
    feature_layers = 1 if isinstance(feature_layers, int) else len(feature_layers)
    bias = bool(_g(config, "multimodal_projector_bias", False))
    params = c * p * p * h + h                              # patch conv (no bias), ln_pre
    params += layers * (2 * h + 4 * h * h + 3 * h * i)      # two RMSNorms, q/k/v/o, SwiGLU
    params += h + merge * merge * h * h                     # projector's norm, patch merger
    params += h * feature_layers * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
    return VisionEncoder(params=params, name=f"Pixtral ViT ({layers} layers, d {h})")


def _qwen_vl_merger(width: int, out: int, merge: int, norm: int) -> int:
    """Norm over the ViT width (norm: its weights), then Linear(4w, 4w) + GELU + Linear(4w, out)."""
    wide = width * merge * merge
    return norm + (wide * wide + wide) + (wide * out + out)


def qwen2_vl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    h = _g(vcfg, "embed_dim", 1280)
    i = int(h * _g(vcfg, "mlp_ratio", 4))
    layers, p, t = _g(vcfg, "depth", 32), _g(vcfg, "patch_size", 14), _g(vcfg, "temporal_patch_size", 2)
    c, merge = _g(vcfg, "in_channels", 3), _g(vcfg, "spatial_merge_size", 2)
    out = _g(vcfg, "hidden_size", 3584)
    params = c * t * p * p * h                                      # Conv3d patch embedding, no bias
    params += layers * (2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h))
    params += _qwen_vl_merger(h, out, merge, 2 * h)                 # LayerNorm with bias
    return VisionEncoder(params=params, name=f"Qwen2-VL ViT ({layers} layers, d {h})")


def qwen2_5_vl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    h, i = _g(vcfg, "hidden_size", 1280), _g(vcfg, "intermediate_size", 3420)
    layers, p, t = _g(vcfg, "depth", 32), _g(vcfg, "patch_size", 14), _g(vcfg, "temporal_patch_size", 2)
    c, merge = _g(vcfg, "in_channels", 3), _g(vcfg, "spatial_merge_size", 2)
    out = _g(vcfg, "out_hidden_size", 3584)
    params = c * t * p * p * h
    params += layers * (2 * h + (3 * h * h + 3 * h) + (h * h + h) + 3 * h * i + 2 * i + h)   # biased SwiGLU
    params += _qwen_vl_merger(h, out, merge, h)                     # RMSNorm
    return VisionEncoder(params=params, name=f"Qwen2.5-VL ViT ({layers} layers, d {h})")


def qwen3_5_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Qwen3-VL's and Qwen3.5's ViT: biased Conv3d patches, a learned position table (resampled
    per image), LayerNorm blocks with a plain biased MLP, a LayerNorm-then-MLP merger, and for
    Qwen3-VL one more merger per DeepStack layer (normed after the 2x2 shuffle) feeding early
    language-model layers."""
    h, i = _g(vcfg, "hidden_size", 1152), _g(vcfg, "intermediate_size", 4304)
    layers, p, t = _g(vcfg, "depth", 27), _g(vcfg, "patch_size", 16), _g(vcfg, "temporal_patch_size", 2)
    c, merge = _g(vcfg, "in_channels", 3), _g(vcfg, "spatial_merge_size", 2)
    out, positions = _g(vcfg, "out_hidden_size", 3584), _g(vcfg, "num_position_embeddings", 2304)
    params = c * t * p * p * h + h + positions * h
    params += layers * (2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h))
    params += _qwen_vl_merger(h, out, merge, 2 * h)
    deepstack = len(_g(vcfg, "deepstack_visual_indexes", (8, 16, 24))) \
        if str(config.get("model_type")).startswith("qwen3_vl") else 0
    params += deepstack * _qwen_vl_merger(h, out, merge, 2 * h * merge * merge)
    name = "Qwen3-VL" if deepstack else "Qwen3.5"
    return VisionEncoder(params=params, name=f"{name} ViT ({layers} layers, d {h})")


def lfm2_vl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """LFM2-VL: a SigLIP 2 NaFlex tower, then pixel unshuffle (downsample_factor^2 patches into
    one), a LayerNorm (projector_use_layernorm), and two linear layers through
    projector_hidden_size (biased unless projector_bias is false)."""
    params, name = _siglip({"model_type": "siglip2_vision_model", **vcfg})
    wide = _g(vcfg, "hidden_size", 768) * _g(config, "downsample_factor", 2) ** 2
    hidden = _g(config, "projector_hidden_size", 2560)
    bias = bool(_g(config, "projector_bias", True))
    params += (2 * wide if _g(config, "projector_use_layernorm", True) else 0)
    params += wide * hidden + hidden * text_hidden + ((hidden + text_hidden) if bias else 0)
    return VisionEncoder(params=params, name=name)


def aya_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Aya Vision: a SigLIP tower, pixel shuffle (downsample_factor^2 patches into one), a
    LayerNorm and a biased SwiGLU adapter: linear_1 to alignment_intermediate_size (default the
    text width), half of it out through linear_2."""
    params, name = _tower(vcfg, config)
    wide = _g(vcfg, "hidden_size", 768) * _g(config, "downsample_factor", 2) ** 2
    inner = _g(config, "alignment_intermediate_size", text_hidden)
    params += 2 * wide + (wide * inner + inner) + (inner // 2 * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=name)


def _pair(value) -> tuple[int, int]:
    """An image or patch size given as one int or [height, width]."""
    return (int(value[0]), int(value[1])) if isinstance(value, (list, tuple)) else (int(value), int(value))


def internvl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """InternVL: InternViT (class token, biased patch conv, position table, attention with an
    output projection and optional QK-norm over the width, LayerNorm or RMSNorm blocks with a
    layer scale per sublayer, LayerNorm at the end unless mean pooling), then pixel unshuffle by
    1/downsample_ratio and a LayerNorm + two-layer biased projector."""
    h, i = _g(vcfg, "hidden_size", 1024), _g(vcfg, "intermediate_size", 4096)
    layers, c = _g(vcfg, "num_hidden_layers", 24), _g(vcfg, "num_channels", 3)
    (ih, iw), (ph, pw) = _pair(_g(vcfg, "image_size", 448)), _pair(_g(vcfg, "patch_size", 14))
    params = h + c * ph * pw * h + h                                   # class token, patch conv
    params += h if _g(vcfg, "use_mask_token", False) else 0
    if _g(vcfg, "use_absolute_position_embeddings", True):
        params += ((ih // ph) * (iw // pw) + 1) * h
    norm = 2 * h if _g(vcfg, "norm_type", "layer_norm") == "layer_norm" else h
    attn = 3 * (h * h + (h if _g(vcfg, "attention_bias", False) else 0)) + h * h + h
    attn += 2 * h if _g(vcfg, "use_qk_norm", False) else 0
    params += layers * (attn + (h * i + i) + (i * h + h) + 2 * norm + 2 * h)   # + lambda_1, lambda_2
    params += 0 if _g(vcfg, "use_mean_pooling", True) else 2 * h
    wide = h * int(1 / _g(config, "downsample_ratio", 0.5)) ** 2
    params += 2 * wide + (wide * text_hidden + text_hidden) + (text_hidden * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=f"InternViT ({layers} layers, d {h})")


def glm4v_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """GLM-4.1V / GLM-4.5V: a biased Conv3d over 2-frame patches, RMSNorm, a position table, RMSNorm
    blocks (fused biasable qkv, unbiased out and an unbiased SwiGLU of out_hidden_size), RMSNorm, a
    2x2 downsampling conv into out_hidden_size, and the merger (linear, LayerNorm, SwiGLU of
    intermediate_size)."""
    h, out = _g(vcfg, "hidden_size", 1536), _g(vcfg, "out_hidden_size", 4096)
    ctx, layers = _g(vcfg, "intermediate_size", 13696), _g(vcfg, "depth", 24)
    c, t, p = _g(vcfg, "in_channels", 3), _g(vcfg, "temporal_patch_size", 2), _g(vcfg, "patch_size", 14)
    image, merge = _g(vcfg, "image_size", 336), _g(vcfg, "spatial_merge_size", 2)
    bias = 3 * h if _g(vcfg, "attention_bias", False) else 0
    params = c * t * p * p * h + h + h + (image // p) ** 2 * h
    params += layers * (2 * h + 3 * h * h + bias + h * h + 3 * h * out)
    params += h + h * out * merge * merge + out
    params += out * out + 2 * out + 3 * out * ctx
    return VisionEncoder(params=params, name=f"GLM-4V ViT ({layers} layers, d {h})")


# Idefics3VisionConfig's and SmolVLMVisionConfig's defaults (transformers 5.23)
_IDEFICS3_VISION = {"hidden_size": 1152, "intermediate_size": 3072, "num_hidden_layers": 12, "image_size": 224,
                    "patch_size": 32}


def idefics3_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Idefics3 and SmolVLM: a SigLIP-shaped tower without the pooling head, then pixel shuffle
    (scale_factor^2 patches into one) and one unbiased linear into the text width."""
    vcfg = {**_IDEFICS3_VISION, **{k: v for k, v in vcfg.items() if v is not None}, "vision_use_head": False,
            "model_type": "siglip_vision_model"}
    params, name = _siglip(vcfg)
    params += vcfg["hidden_size"] * _g(config, "scale_factor", 2) ** 2 * text_hidden
    return VisionEncoder(params=params, name=name.replace("SigLIP", "SigLIP-shaped"))


# AriaConfig's projector_patch_to_query_dict when config.json leaves it out: patches -> queries
_ARIA_QUERIES = {1225: 128, 4900: 256}


def aria_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Aria: Idefics3's SigLIP-shaped tower, then AriaProjector: learned queries (as many as the
    largest entry of projector_patch_to_query_dict), a cross-attention (LayerNorms on queries and on
    patches, unbiased q/k/v, then torch's MultiheadAttention with its biased in and out projections,
    then a biased linear), a LayerNorm and a GELU MLP into the text width (both layers that wide)."""
    vcfg = {**_IDEFICS3_VISION, **{k: v for k, v in vcfg.items() if v is not None}, "vision_use_head": False,
            "model_type": "siglip_vision_model"}
    params, name = _siglip(vcfg)
    w, t = vcfg["hidden_size"], text_hidden
    # transformers sizes the query table by max_value_projector_patch_to_query_dict where config.json
    # states it (its own files do), else by the dict's largest entry
    queries = int(_g(config, "max_value_projector_patch_to_query_dict", 0)) or \
        max(int(q) for q in _g(config, "projector_patch_to_query_dict", _ARIA_QUERIES).values())
    cross = 3 * w * w + (3 * w * w + 3 * w) + (w * w + w) + (w * w + w) + 2 * (2 * w)
    params += queries * w + cross + 2 * w + w * t + t * t
    return VisionEncoder(params=params, name=f"{name.replace('SigLIP', 'SigLIP-shaped')} + {queries}-query projector")


def fuyu_vision(vcfg: Mapping[str, Any] | None, text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Fuyu: vision_embed_tokens, a biased linear from patch_size^2 x num_channels pixels to the text
    width; the patches then enter the decoder as tokens (no vision_config: the wrapper's own keys)."""
    p, c = _g(config, "patch_size", 30), _g(config, "num_channels", 3)
    return VisionEncoder(params=p * p * c * text_hidden + text_hidden,
                         name=f"linear patch embedding ({p}x{p}x{c} pixels)")


ENCODERS = {"gemma3": gemma3_vision, "llama4": llama4_vision, "mistral3": mistral3_vision,
            "qwen2_vl": qwen2_vl_vision, "qwen2_5_vl": qwen2_5_vl_vision, "qwen3_5": qwen3_5_vision,
            "qwen3_5_moe": qwen3_5_vision, "qwen3_vl": qwen3_5_vision, "qwen3_vl_moe": qwen3_5_vision,
            "llava": llava_vision, "llava_next": llava_vision, "llava_onevision": llava_vision,
            "lfm2_vl": lfm2_vl_vision, "idefics3": idefics3_vision, "smolvlm": idefics3_vision,
            "aya_vision": aya_vision, "internvl": internvl_vision, "glm4v": glm4v_vision,
            "glm4v_moe": glm4v_vision, "gemma3n": gemma3n_encoders, "gemma4": gemma4_encoders,
            "gemma4_unified": gemma4_unified_encoders, "aria": aria_vision, "fuyu": fuyu_vision}
