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
Kimi K2.5: MoonViT and a patch merger. Command A Vision: Aya Vision's adapter without its norm.
PaliGemma: a SigLIP tower and one linear. LLaVA-NeXT-Video, Video-LLaVA (two towers) and ViP-LLaVA
(five feature layers): LLaVA's. LightOnOCR: Mistral 3's. EXAONE 4.5 (grouped) and HyperCLOVA X
SEED Vision (one more linear): Qwen2.5-VL's ViT. LFM3-VL: a ViT of attention and gated-conv
layers. Idefics2: a perceiver resampler. MiniCPM-V 4.6: a window merger inside the tower.
Qianfan-OCR: InternVL's. ShieldGemma 2, GLM-4.6V and Cosmos 3 Omni reuse Gemma 3's, GLM-4V's and
Qwen3-VL's. PaddleOCR-VL: a SigLIP-shaped tower and a Qwen-VL-style merger. Qwen2.5-Omni's thinker:
Qwen2.5-VL's ViT and a Whisper-style audio encoder; Qwen3-Omni's: Qwen3-VL's ViT and an audio
encoder that downsamples through convs. DeepSeek-VL: a SigLIP or CLIP tower and a two-layer aligner.
VideoLLaMA 3: a SigLIP-shaped ViT with 2D RoPE and a two-layer projector. GOT-OCR 2.0: SAM's ViT and
neck, two downsampling convs and a linear. GLM-OCR: GLM-4V's ViT without a position table, with
biases and per-head q/k norms.
Counts follow the transformers modules; missing keys take those config classes' defaults. Each
encoder gets the vision config, the text model's width and the whole config (for keys of the
wrapper such as the projector's bias).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import SpecError, VisionEncoder
from .common import as_int
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
                        "llava_next_video": "clip_vision_model", "video_llava": "clip_vision_model",
                        "vipllava": "clip_vision_model",
                        "llava_onevision": "siglip_vision_model", "aya_vision": "siglip_vision_model",
                        "deepseek_vl": "siglip_vision_model"}


# Where a LLaVA wrapper's default feature layer is not -2 (the penultimate layer)
_LLAVA_FEATURE_LAYER = {"llava_onevision": -1, "vipllava": (-2, -5, -8, -11, 6)}


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
    linear_2 (text -> text), biased unless multimodal_projector_bias is false. NeXT, NeXT-Video
    and OneVision add image_newline (text width); Video-LLaVA holds two towers of one config (images
    and videos); ViP-LLaVA reads five feature layers by default, LayerNorms them, and always biases
    its projector."""
    wrapper = str(config.get("model_type"))
    params, name = _tower(vcfg, config)
    width = _g(vcfg, "hidden_size", 768)
    feature = _g(config, "vision_feature_layer", _LLAVA_FEATURE_LAYER.get(wrapper, -2))
    wide = width * (1 if isinstance(feature, int) else len(feature))
    bias = wrapper == "vipllava" or bool(_g(config, "multimodal_projector_bias", True))
    if wrapper == "video_llava":
        params, name = 2 * params, f"{name} x 2 (images, videos)"
    params += wide * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
    params += 2 * wide if wrapper == "vipllava" else 0              # projector_layernorm
    if wrapper in ("llava_next", "llava_next_video", "llava_onevision"):
        params += text_hidden                                       # image_newline
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


def _pixtral(vcfg: Mapping[str, Any]) -> tuple[int, str]:
    """PixtralVisionModel: an unbiased patch conv, ln_pre, RMSNorm blocks (q/k/v/o, SwiGLU), 2D RoPE
    (no position table). -> (params, name)."""
    h, i = _g(vcfg, "hidden_size", 1024), _g(vcfg, "intermediate_size", 4096)
    layers, p, c = _g(vcfg, "num_hidden_layers", 24), _g(vcfg, "patch_size", 16), _g(vcfg, "num_channels", 3)
    params = c * p * p * h + h + layers * (2 * h + 4 * h * h + 3 * h * i)
    return params, f"Pixtral ViT ({layers} layers, d {h})"


def mistral3_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Mistral 3 and LightOnOCR: a Pixtral ViT, an RMSNorm, a patch merger (merge^2 patches into
    one, no bias) and a two-layer projector from the chosen feature layers (LightOnOCR: one,
    unbiased)."""
    params, name = _pixtral(vcfg)
    h = _g(vcfg, "hidden_size", 1024)
    merge = _g(config, "spatial_merge_size", 2)
    feature_layers = _g(config, "vision_feature_layer", -1)
    feature_layers = 1 if isinstance(feature_layers, int) else len(feature_layers)
    bias = bool(_g(config, "multimodal_projector_bias", False))
    params += h + merge * merge * h * h                     # projector's norm, patch merger
    params += h * feature_layers * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
    return VisionEncoder(params=params, name=name)


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
    """Qwen2.5-VL's ViT: an unbiased Conv3d over 2-frame patches, RMSNorm blocks with a fused biased
    qkv (EXAONE 4.5's: grouped, num_key_value_heads), a biased SwiGLU, and the RMSNorm merger.
    HyperCLOVA X SEED Vision v2 adds one biased linear from out_hidden_size to the text width."""
    h, i = _g(vcfg, "hidden_size", 1280), _g(vcfg, "intermediate_size", 3420)
    layers, p, t = _g(vcfg, "depth", 32), _g(vcfg, "patch_size", 14), _g(vcfg, "temporal_patch_size", 2)
    c, merge = _g(vcfg, "in_channels", 3), _g(vcfg, "spatial_merge_size", 2)
    out = _g(vcfg, "out_hidden_size", 3584)
    heads = _g(vcfg, "num_heads", 16)
    qkv = h + 2 * _g(vcfg, "num_key_value_heads", heads) * (h // heads)
    params = c * t * p * p * h
    params += layers * (2 * h + (h * qkv + qkv) + (h * h + h) + 3 * h * i + 2 * i + h)
    params += _qwen_vl_merger(h, out, merge, h)                     # RMSNorm
    name = f"{_QWEN2_5_VIT_NAME.get(str(config.get('model_type')), 'Qwen2.5-VL')} ViT ({layers} layers, d {h})"
    if config.get("model_type") == "hyperclovax_vision_v2":
        params += out * text_hidden + text_hidden
    return VisionEncoder(params=params, name=name)


_QWEN2_5_VIT_NAME = {"exaone4_5": "EXAONE 4.5", "qwen2_5_omni_thinker": "Qwen2.5-Omni"}


def _whisper_audio(d: int, ffn: int, layers: int, key_bias: bool) -> int:
    """A Whisper-style encoder's LayerNorm blocks (q/v/out biased, k biased only where key_bias)
    and its final LayerNorm."""
    attention = 4 * d * d + (4 if key_bias else 3) * d
    return layers * (attention + 2 * 2 * d + (d * ffn + ffn) + (ffn * d + d)) + 2 * d


# Qwen2_5OmniVisionEncoderConfig's width when vision_config leaves it out (transformers 5.23; the
# checkpoint states 1280)
_QWEN2_5_OMNI_VIT_WIDTH = 3584


def qwen2_5_omni_encoders(vcfg: Mapping[str, Any] | None, text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Qwen2.5-Omni's thinker: Qwen2.5-VL's ViT (q, k and v as three biased linears, as many
    parameters as the fused qkv, no grouping) and a Whisper-style audio encoder: two biased convs
    over the mel bins (kernel 3), a begin/end embedding pair of output_dim, LayerNorm blocks, a final
    LayerNorm and a biased projection to output_dim (its positions are sinusoids, not weights)."""
    params, names = 0, []
    if isinstance(vcfg, Mapping):
        # k and v are as wide as the ViT whatever its head count: counted as one head, ungrouped
        vit = {"hidden_size": _QWEN2_5_OMNI_VIT_WIDTH, **{k: v for k, v in vcfg.items() if v is not None},
               "num_heads": 1, "num_key_value_heads": 1}
        vision = qwen2_5_vl_vision(vit, text_hidden, config)
        params, names = vision.params, [vision.name]
    acfg = config.get("audio_config")
    if isinstance(acfg, Mapping):
        d, mels, out = _g(acfg, "d_model", 1280), _g(acfg, "num_mel_bins", 128), _g(acfg, "output_dim", 3584)
        layers = _g(acfg, "encoder_layers", 32)
        params += (mels * d * 3 + d) + (d * d * 3 + d) + 2 * out
        params += _whisper_audio(d, _g(acfg, "encoder_ffn_dim", 5120), layers, key_bias=False) + (d * out + out)
        names.append(f"Whisper-style audio ({layers} layers, d {d})")
    return VisionEncoder(params=params, name=" + ".join(names) or "no encoders")


def qwen3_omni_moe_encoders(vcfg: Mapping[str, Any] | None, text_hidden: int,
                            config: Mapping[str, Any]) -> VisionEncoder:
    """Qwen3-Omni's thinker: Qwen3-VL's ViT with its DeepStack mergers, and an audio encoder: three
    biased stride-2 3x3 convs over the mel spectrogram (1 -> downsample_hidden_size channels), an
    unbiased linear from the convs' channels x the mel bins left to d_model, Whisper-style
    LayerNorm blocks (k biased too) and a final LayerNorm, then Linear(d, d) + GELU + Linear(d,
    output_dim)."""
    params, names = 0, []
    if isinstance(vcfg, Mapping):
        vision = qwen3_5_vision(vcfg, text_hidden, config)
        params, names = vision.params, [vision.name]
    acfg = config.get("audio_config")
    if isinstance(acfg, Mapping):
        d, mels, out = _g(acfg, "d_model", 1280), _g(acfg, "num_mel_bins", 128), _g(acfg, "output_dim", 3584)
        layers, c = _g(acfg, "encoder_layers", 32), _g(acfg, "downsample_hidden_size", 480)
        bins = (((mels + 1) // 2 + 1) // 2 + 1) // 2                     # after three stride-2 convs
        params += (9 * c + c) + 2 * (9 * c * c + c) + c * bins * d
        params += _whisper_audio(d, _g(acfg, "encoder_ffn_dim", 5120), layers, key_bias=True)
        params += (d * d + d) + (d * out + out)
        names.append(f"Whisper-style audio ({layers} layers, d {d})")
    return VisionEncoder(params=params, name=" + ".join(names) or "no encoders")


# Wrappers of Qwen3-VL's ViT, with its DeepStack mergers (Cosmos 3 Omni: NVIDIA's)
_DEEPSTACK_WRAPPERS = frozenset({"qwen3_vl", "qwen3_vl_moe", "cosmos3_omni", "qwen3_omni_moe_thinker"})


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
        if config.get("model_type") in _DEEPSTACK_WRAPPERS else 0
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


def lfm3_vl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """LFM3-VL: LFM's own ViT: an unbiased linear patch embedding over 2-frame patches, an RMSNorm,
    then RMSNorm blocks that either attend (grouped q/k/v/out, QK RMSNorms, 2D RoPE) or run a gated
    depthwise conv over the patch grid (in_proj to three gates, a kxk depthwise conv, out_proj),
    each with an unbiased SwiGLU; the default layer_types convolve in layers 0, 1 and every odd
    one. The projector: a LayerNorm per patch, merge^2 patches into one, two linear layers."""
    h, i = _g(vcfg, "hidden_size", 1024), _g(vcfg, "intermediate_size", 2560)
    layers, heads = _g(vcfg, "num_hidden_layers", 14), _g(vcfg, "num_attention_heads", 16)
    kv, d = _g(vcfg, "num_key_value_heads", 8), h // heads
    p, t, c = _g(vcfg, "patch_size", 16), _g(vcfg, "temporal_patch_size", 2), _g(vcfg, "in_channels", 3)
    k, merge = _g(vcfg, "conv_kernel_size", 3), _g(vcfg, "spatial_merge_size", 2)
    types = vcfg.get("layer_types")
    if types is None:      # conv in layers 0, 1 and every odd one (counted, not listed: a damaged
        convs = min(layers, 1 + layers // 2) if layers > 0 else 0     # layer count must not allocate)
    else:
        convs = sum(kind == "conv" for kind in types[:layers])
    attention = 2 * h * heads * d + 2 * h * kv * d + 2 * d
    conv = 3 * h * h + h * k * k + h * h
    params = c * t * p * p * h + h + convs * conv + (layers - convs) * attention + layers * (3 * h * i + 2 * h)
    hidden, bias = _g(config, "projector_hidden_size", 4096), bool(_g(config, "projector_bias", True))
    wide = h * merge * merge
    params += 2 * h + wide * hidden + hidden * text_hidden + ((hidden + text_hidden) if bias else 0)
    return VisionEncoder(params=params, name=f"LFM3 ViT ({layers} layers: {convs} conv, d {h})")


def aya_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Aya Vision and Command A Vision (cohere2_vision): a SigLIP tower, pixel shuffle
    (downsample_factor^2 patches into one), a LayerNorm (Aya only) and a biased SwiGLU adapter:
    linear_1 to alignment_intermediate_size (Aya's default the text width, Command A's 36864), half
    of it out through linear_2."""
    params, name = _tower(vcfg, config)
    aya = config.get("model_type") == "aya_vision"
    wide = _g(vcfg, "hidden_size", 768) * _g(config, "downsample_factor", 2) ** 2
    inner = _g(config, "alignment_intermediate_size", text_hidden if aya else 36864)
    params += (2 * wide if aya else 0) + (wide * inner + inner) + (inner // 2 * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=name)


def deepseek_vl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """DeepSeek-VL: the SigLIP (default, pooling head included) or CLIP tower vision_config names,
    then the aligner: Linear(vision width, text) + GELU + Linear(text, text), both biased."""
    params, name = _tower(vcfg, config)
    width = _g(vcfg, "hidden_size", 768)
    params += (width * text_hidden + text_hidden) + (text_hidden * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=name)


def video_llama_3_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """VideoLLaMA 3: a SigLIP-shaped ViT with 2D RoPE in place of the position table (a biased patch
    conv, LayerNorm blocks, a post-LayerNorm), then Linear(vision width, text) + GELU +
    Linear(text, text), both biased."""
    h, i = _g(vcfg, "hidden_size", 768), _g(vcfg, "intermediate_size", 3072)
    layers, p, c = _g(vcfg, "num_hidden_layers", 12), _g(vcfg, "patch_size", 16), _g(vcfg, "num_channels", 3)
    params = (c * p * p * h + h) + layers * _vit_layer(h, i) + 2 * h
    params += (h * text_hidden + text_hidden) + (text_hidden * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=f"SigLIP-shaped ViT with 2D RoPE ({layers} layers, d {h})")


def got_ocr2_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """GOT-OCR 2.0: SAM's ViT (a biased patch conv, an absolute position grid, LayerNorm blocks with a
    fused qkv and relative position tables per head dim, over a window_size window except in the
    global_attn_indexes layers, which see the whole grid), SAM's neck (a 1x1 and a 3x3 conv to
    output_channels, no biases, each followed by a LayerNorm), then two unbiased stride-2 3x3 convs
    (to twice the channels, then to the text width) and a biased linear."""
    h, mlp = _g(vcfg, "hidden_size", 768), _g(vcfg, "mlp_dim", 3072)
    layers, heads = _g(vcfg, "num_hidden_layers", 12), _g(vcfg, "num_attention_heads", 12)
    c, image, p = _g(vcfg, "num_channels", 3), _g(vcfg, "image_size", 1024), _g(vcfg, "patch_size", 16)
    out, window = _g(vcfg, "output_channels", 256), _g(vcfg, "window_size", 14)
    grid = image // p
    global_layers = len({i for i in _g(vcfg, "global_attn_indexes", (2, 5, 8, 11)) if 0 <= i < layers})
    params = (c * p * p * h + h) + (grid * grid * h if _g(vcfg, "use_abs_pos", True) else 0)
    qkv_bias = 3 * h if _g(vcfg, "qkv_bias", True) else 0
    params += layers * (2 * 2 * h + (3 * h * h + qkv_bias) + (h * h + h) + (h * mlp + mlp) + (mlp * h + h))
    if _g(vcfg, "use_rel_pos", True):      # rel_pos_h and rel_pos_w: 2 span - 1 rows of the head dim
        span_rows = (layers - global_layers) * (2 * window - 1) + global_layers * (2 * grid - 1)
        params += 2 * span_rows * (h // heads)
    params += h * out + 2 * out + 9 * out * out + 2 * out                        # neck
    params += 9 * out * 2 * out + 9 * 2 * out * text_hidden + (text_hidden * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=f"SAM ViT ({layers} layers, d {h})")


def paligemma_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """PaliGemma 1 and 2: a SigLIP tower (their files turn its pooling head off), then one biased
    linear to projection_dim (the wrapper's key, which transformers copies into vision_config)."""
    params, name = _siglip(vcfg)
    out = _g(config, "projection_dim", _g(vcfg, "projection_dim", 2048))
    params += _g(vcfg, "hidden_size", 768) * out + out
    return VisionEncoder(params=params, name=name)


def _pair(value) -> tuple[int, int]:
    """An image or patch size given as one int or [height, width]."""
    return (int(value[0]), int(value[1])) if isinstance(value, (list, tuple)) else (int(value), int(value))


def internvl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """InternVL: InternViT (class token, biased patch conv, position table, attention with an
    output projection and optional QK-norm over the width, LayerNorm or RMSNorm blocks with a
    layer scale per sublayer, LayerNorm at the end unless mean pooling), then pixel unshuffle by
    1/downsample_ratio and a LayerNorm + two-layer biased projector. Qianfan-OCR's is the same
    (with biased q/k/v by default)."""
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


def glm_ocr_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """GLM-OCR: GLM-4V's ViT without its position table and post-conv norm, whose blocks take
    biases on qkv, the out projection and the SwiGLU (of intermediate_size) where attention_bias
    says, and an RMSNorm over each head's q and k; its merger's SwiGLU is in_channels x
    out_hidden_size wide."""
    h, out = _g(vcfg, "hidden_size", 1024), _g(vcfg, "out_hidden_size", 1536)
    inter, layers = _g(vcfg, "intermediate_size", 4096), _g(vcfg, "depth", 24)
    c, t, p = _g(vcfg, "in_channels", 3), _g(vcfg, "temporal_patch_size", 2), _g(vcfg, "patch_size", 14)
    merge, heads = _g(vcfg, "spatial_merge_size", 2), _g(vcfg, "num_heads", 16)
    b = 1 if _g(vcfg, "attention_bias", True) else 0
    params = c * t * p * p * h + h                                       # Conv3d patches, biased
    params += layers * (2 * h + 4 * h * h + 4 * h * b + 2 * (h // heads)  # norms, qkv + proj, q/k norms
                        + 3 * h * inter + (2 * inter + h) * b)           # SwiGLU
    params += h + h * out * merge * merge + out                           # post norm, downsample conv
    ctx = c * out
    params += out * out + 2 * out + 3 * out * ctx                         # merger: proj, LayerNorm, SwiGLU
    return VisionEncoder(params=params, name=f"GLM-OCR ViT ({layers} layers, d {h})")


# Idefics3VisionConfig's and SmolVLMVisionConfig's defaults (transformers 5.23)
_IDEFICS3_VISION = {"hidden_size": 1152, "intermediate_size": 3072, "num_hidden_layers": 12, "image_size": 224,
                    "patch_size": 32}


def _headless_siglip(vcfg: Mapping[str, Any], defaults: Mapping[str, Any]) -> tuple[dict, int, str]:
    """A SigLIP-shaped tower without the pooling head, its missing keys from the wrapper's vision
    config class ``defaults``. -> (the completed vision config, params, name)."""
    vcfg = {**defaults, **{k: v for k, v in vcfg.items() if v is not None}, "vision_use_head": False,
            "model_type": "siglip_vision_model"}
    params, name = _siglip(vcfg)
    return vcfg, params, name.replace("SigLIP", "SigLIP-shaped")


def idefics3_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Idefics3 and SmolVLM: a SigLIP-shaped tower without the pooling head, then pixel shuffle
    (scale_factor^2 patches into one) and one unbiased linear into the text width."""
    vcfg, params, name = _headless_siglip(vcfg, _IDEFICS3_VISION)
    params += vcfg["hidden_size"] * _g(config, "scale_factor", 2) ** 2 * text_hidden
    return VisionEncoder(params=params, name=name)


# MiniCPMV4_6VisionConfig's defaults (transformers 5.23) where SigLIP's differ
_MINICPMV_VISION = {"hidden_size": 768, "intermediate_size": 3072, "patch_size": 16}


def minicpmv4_6_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """MiniCPM-V 4.6 / 4.7 and MiniCPM-OCR: a SigLIP-shaped tower without the pooling head, plus a
    window merger inside it (at insert_layer_id: an attention layer, then window_kernel_size patches
    into one through a LayerNorm and a GELU MLP, both widened by the window), then merger_times
    MLPs that each merge 2x2 patches (LayerNorm, Linear(4w, 4w), GELU, Linear), the last into the
    text width."""
    vcfg, params, name = _headless_siglip(vcfg, _MINICPMV_VISION)
    h, i = vcfg["hidden_size"], vcfg["intermediate_size"]
    kh, kw = _pair(_g(vcfg, "window_kernel_size", (2, 2)))
    window, window_inner = h * kh * kw, i * kh * kw
    params += 4 * (h * h + h) + 2 * h + 2 * window + (window * window_inner + window_inner) + (window_inner * h + h)
    wide = 4 * h
    def downsample(out: int) -> int:
        return 2 * wide + (wide * wide + wide) + (wide * out + out)
    times = _g(config, "merger_times", 1)
    params += (times - 1) * downsample(h) + downsample(text_hidden)
    return VisionEncoder(params=params, name=name)


# PaddleOCRVisionConfig's defaults (transformers 5.23)
_PADDLEOCR_VISION = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27, "image_size": 384,
                     "patch_size": 14}


def paddleocr_vl_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """PaddleOCR-VL: a SigLIP-shaped tower without the pooling head (its 2D RoPE holds no weights),
    then the projector: a LayerNorm per patch, spatial_merge_size^2 patches into one,
    Linear(wide, wide) + GELU + Linear(wide, text)."""
    vcfg, params, name = _headless_siglip(vcfg, _PADDLEOCR_VISION)
    width = vcfg["hidden_size"]
    params += _qwen_vl_merger(width, text_hidden, _g(vcfg, "spatial_merge_size", 2), 2 * width)
    return VisionEncoder(params=params, name=name)


# Idefics2VisionConfig's defaults (transformers 5.23)
_IDEFICS2_VISION = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "image_size": 224,
                    "patch_size": 32}


def idefics2_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Idefics2: a SigLIP-shaped tower without the pooling head; the connector's SwiGLU from the
    vision width through the text model's intermediate size to the text width; then a perceiver
    resampler at the text width: learned latents, layers of RMSNorms on latents and context, a
    grouped cross-attention (unbiased) and a 4x SwiGLU, and a final RMSNorm."""
    vcfg, params, name = _headless_siglip(vcfg, _IDEFICS2_VISION)
    text = config.get("text_config") or {}
    inner = _g(text, "intermediate_size", 14336)                    # MistralConfig's default
    params += 2 * vcfg["hidden_size"] * inner + inner * text_hidden
    pcfg, h = config.get("perceiver_config") or {}, text_hidden
    latents, depth = _g(pcfg, "resampler_n_latents", 64), _g(pcfg, "resampler_depth", 3)
    heads, kv, d = _g(pcfg, "resampler_n_heads", 16), _g(pcfg, "num_key_value_heads", 4), \
        _g(pcfg, "resampler_head_dim", 96)
    attention = 2 * h * heads * d + 2 * h * kv * d
    params += latents * h + depth * (3 * h + attention + 3 * h * 4 * h) + h
    return VisionEncoder(params=params, name=f"{name} + {latents}-latent perceiver")


# AriaConfig's projector_patch_to_query_dict when config.json leaves it out: patches -> queries
_ARIA_QUERIES = {1225: 128, 4900: 256}


def aria_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Aria: Idefics3's SigLIP-shaped tower, then AriaProjector: learned queries (as many as the
    largest entry of projector_patch_to_query_dict), a cross-attention (LayerNorms on queries and on
    patches, unbiased q/k/v, then torch's MultiheadAttention with its biased in and out projections,
    then a biased linear), a LayerNorm and a GELU MLP into the text width (both layers that wide)."""
    vcfg, params, name = _headless_siglip(vcfg, _IDEFICS3_VISION)
    w, t = vcfg["hidden_size"], text_hidden
    # transformers sizes the query table by max_value_projector_patch_to_query_dict where config.json
    # states it (its own files do), else by the dict's largest entry
    queries = int(_g(config, "max_value_projector_patch_to_query_dict", 0)) or \
        max(int(q) for q in _g(config, "projector_patch_to_query_dict", _ARIA_QUERIES).values())
    cross = 3 * w * w + (3 * w * w + 3 * w) + (w * w + w) + (w * w + w) + 2 * (2 * w)
    params += queries * w + cross + 2 * w + w * t + t * t
    return VisionEncoder(params=params, name=f"{name} + {queries}-query projector")


def kimi_k25_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Kimi K2.5: MoonViT (a biased patch conv, a learned height x width position table resampled
    per image, biased LayerNorm blocks with 2D RoPE, a final LayerNorm), then the patch merger: a
    LayerNorm per patch, kh x kw patches into one, Linear(wide, wide) + GELU + Linear(wide, text).
    transformers spells the table's size pos_emb_height/width, Moonshot's own files
    init_pos_emb_height/width (and the tower's sizes vt_hidden_size, vt_intermediate_size,
    vt_num_hidden_layers in older ones); the norm's width is projection_hidden_size (Moonshot:
    vision_config.mm_hidden_size)."""
    h = _g(vcfg, "hidden_size", _g(vcfg, "vt_hidden_size", 1152))
    i = _g(vcfg, "intermediate_size", _g(vcfg, "vt_intermediate_size", 4304))
    layers = _g(vcfg, "num_hidden_layers", _g(vcfg, "vt_num_hidden_layers", 27))
    p = _g(vcfg, "patch_size", 14)
    rows = _g(vcfg, "pos_emb_height", _g(vcfg, "init_pos_emb_height", 64))
    cols = _g(vcfg, "pos_emb_width", _g(vcfg, "init_pos_emb_width", 64))
    kh, kw = _pair(_g(vcfg, "merge_kernel_size", (2, 2)))
    norm = _g(config, "projection_hidden_size", _g(vcfg, "mm_hidden_size", h))
    wide = h * kh * kw
    params = (3 * p * p * h + h) + rows * cols * h + layers * _vit_layer(h, i) + 2 * h
    params += 2 * norm + (wide * wide + wide) + (wide * text_hidden + text_hidden)
    return VisionEncoder(params=params, name=f"MoonViT ({layers} layers, d {h})")


def fuyu_vision(vcfg: Mapping[str, Any] | None, text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """Fuyu: vision_embed_tokens, a biased linear from patch_size^2 x num_channels pixels to the text
    width; the patches then enter the decoder as tokens (no vision_config: the wrapper's own keys)."""
    p, c = _g(config, "patch_size", 30), _g(config, "num_channels", 3)
    return VisionEncoder(params=p * p * c * text_hidden + text_hidden,
                         name=f"linear patch embedding ({p}x{p}x{c} pixels)")



# Blip2VisionConfig's defaults (transformers 5.23; InstructBLIP's and InstructBLIP-Video's are the
# same), and Blip2QFormerConfig's (InstructBLIP's: the same sizes)
_BLIP2_VISION = {"hidden_size": 1408, "intermediate_size": 6144, "num_hidden_layers": 39, "image_size": 224,
                 "patch_size": 14}
_BLIP2_QFORMER = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                  "cross_attention_frequency": 2, "vocab_size": 30522, "max_position_embeddings": 512}


def _int_keys(cfg: Any, defaults: Mapping[str, int], where: str) -> dict[str, int]:
    """defaults' keys read from cfg as integers (the default where missing); a bad one is named
    under ``where`` (BLIP-2's sizes sit in two sub-configs, so say which)."""
    if not isinstance(cfg, Mapping):
        raise SpecError(where, f"must be an object, got {cfg!r}")
    try:
        return {key: as_int(cfg, key, default=default) for key, default in defaults.items()}
    except SpecError as exc:
        raise SpecError(f"{where}.{exc.field.removeprefix('config.')}", exc.rule) from None


def blip2_vision(vcfg: Mapping[str, Any], text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """BLIP-2, InstructBLIP and InstructBLIP-Video: a ViT (class token, biased 3-channel patch conv,
    position table, LayerNorm blocks with a fused qkv whose bias is there only with qkv_bias,
    post-LayerNorm; no pre-LayerNorm), learned query tokens, the Q-Former and language_projection.
    The Q-Former is BERT-like: biased q/k/v, an output dense + LayerNorm per attention, a
    cross-attention into the ViT's patches at layers 0, f, 2f, ... (f = cross_attention_frequency),
    and a feed-forward for the queries; InstructBLIP's adds a second feed-forward per layer for the
    instruction's tokens and word + position embeddings for them (BLIP-2's, only with
    use_qformer_text_input, and no embeddings)."""
    instruct = config.get("model_type") in ("instructblip", "instructblipvideo")
    v = _int_keys(vcfg, _BLIP2_VISION, "config.vision_config")
    q = _int_keys(config.get("qformer_config") or {}, _BLIP2_QFORMER, "config.qformer_config")
    h, i, layers, p = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"], v["patch_size"]
    params = h + (3 * p * p * h + h) + ((v["image_size"] // p) ** 2 + 1) * h      # class, conv, positions
    qkv_bias = 3 * h if _g(vcfg, "qkv_bias", True) else 0     # q and v biases, k's zeros held between
    params += layers * (2 * 2 * h + 3 * h * h + qkv_bias + (h * h + h) + (h * i + i) + (i * h + h)) + 2 * h
    qh, qi, ql = q["hidden_size"], q["intermediate_size"], q["num_hidden_layers"]
    # transformers sets the Q-Former's encoder_hidden_size to the ViT's width, whatever the file says
    self_attn = 4 * (qh * qh + qh) + 2 * qh
    cross_attn = 2 * (qh * qh + qh) + 2 * (h * qh + qh) + 2 * qh
    ffn = (qh * qi + qi) + (qi * qh + qh) + 2 * qh
    text_ffn = instruct or bool(_g(config.get("qformer_config") or {}, "use_qformer_text_input", False))
    every = q["cross_attention_frequency"]
    if every < 1:
        raise SpecError("config.qformer_config.cross_attention_frequency", f"must be at least 1, got {every}")
    cross_layers = (ql + every - 1) // every                             # layers 0, every, 2 every, ...
    params += ql * (self_attn + (2 if text_ffn else 1) * ffn) + cross_layers * cross_attn
    params += 2 * qh                # BLIP-2's final LayerNorm, InstructBLIP's embeddings' LayerNorm
    if instruct:
        params += (q["vocab_size"] + q["max_position_embeddings"]) * qh
    queries = _int_keys(config, {"num_query_tokens": 32}, "config")["num_query_tokens"]
    params += queries * qh + (qh * text_hidden + text_hidden)           # query_tokens, language_projection
    return VisionEncoder(params=params, name=f"BLIP-2 ViT ({layers} layers, d {h}) + {ql}-layer Q-Former")


ENCODERS = {"gemma3": gemma3_vision, "llama4": llama4_vision, "mistral3": mistral3_vision,
            "qwen2_vl": qwen2_vl_vision, "qwen2_5_vl": qwen2_5_vl_vision, "qwen3_5": qwen3_5_vision,
            "qwen3_5_moe": qwen3_5_vision, "qwen3_vl": qwen3_5_vision, "qwen3_vl_moe": qwen3_5_vision,
            "llava": llava_vision, "llava_next": llava_vision, "llava_onevision": llava_vision,
            "lfm2_vl": lfm2_vl_vision, "idefics3": idefics3_vision, "smolvlm": idefics3_vision,
            "aya_vision": aya_vision, "internvl": internvl_vision, "glm4v": glm4v_vision,
            "glm4v_moe": glm4v_vision, "gemma3n": gemma3n_encoders, "gemma4": gemma4_encoders,
            "gemma4_unified": gemma4_unified_encoders, "aria": aria_vision, "fuyu": fuyu_vision,
            "kimi_k25": kimi_k25_vision, "cohere2_vision": aya_vision, "paligemma": paligemma_vision,
            "shieldgemma2": gemma3_vision, "glm46v": glm4v_vision, "glmga": glm4v_vision,
            "cosmos3_omni": qwen3_5_vision, "llava_next_video": llava_vision, "video_llava": llava_vision,
            "vipllava": llava_vision, "lighton_ocr": mistral3_vision, "exaone4_5": qwen2_5_vl_vision,
            "hyperclovax_vision_v2": qwen2_5_vl_vision, "lfm3_vl": lfm3_vl_vision, "idefics2": idefics2_vision,
            "minicpmv4_6": minicpmv4_6_vision, "minicpmv4_7": minicpmv4_6_vision,
            "minicpm_ocr": minicpmv4_6_vision, "qianfan_ocr": internvl_vision, "paddleocr_vl": paddleocr_vl_vision,
            "qwen2_5_omni_thinker": qwen2_5_omni_encoders, "qwen3_omni_moe_thinker": qwen3_omni_moe_encoders,
            "deepseek_vl": deepseek_vl_vision, "video_llama_3": video_llama_3_vision,
            "got_ocr2": got_ocr2_vision, "blip-2": blip2_vision,
            "instructblip": blip2_vision, "instructblipvideo": blip2_vision, "glm_ocr": glm_ocr_vision}
