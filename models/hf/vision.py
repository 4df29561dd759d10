"""Image encoders of multimodal checkpoints, counted into the total (not active per text token).

Gemma 3: a SigLIP ViT plus a projector (mm_input_projection_weight and an RMSNorm).
Llama 4: its own ViT (class token, unfolded-patch linear embedding, pre/post LayerNorms), a
pixel-shuffle MLP adapter and a linear projector. Counts follow the transformers modules; missing
keys take those config classes' defaults.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import VisionEncoder


def _g(cfg: Mapping[str, Any], key: str, default):
    value = cfg.get(key)
    return default if value is None else value


def _vit_layer(h: int, i: int) -> int:
    """Two LayerNorms with bias, q/k/v/o with bias, a two-layer MLP with biases."""
    return 2 * 2 * h + 4 * (h * h + h) + (h * i + i) + (i * h + h)


def gemma3_vision(vcfg: Mapping[str, Any], text_hidden: int) -> VisionEncoder:
    h, i = _g(vcfg, "hidden_size", 768), _g(vcfg, "intermediate_size", 3072)
    layers, p = _g(vcfg, "num_hidden_layers", 12), _g(vcfg, "patch_size", 16)
    c, image = _g(vcfg, "num_channels", 3), _g(vcfg, "image_size", 224)
    patches = (image // p) ** 2
    params = (c * p * p * h + h) + patches * h + layers * _vit_layer(h, i) + 2 * h
    if _g(vcfg, "vision_use_head", True):
        # attention-pooling head: probe, fused in_proj, out_proj, LayerNorm, MLP
        params += h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h)
    params += h * text_hidden + h          # projector weight and its RMSNorm
    return VisionEncoder(params=params, name=f"SigLIP ViT ({layers} layers, d {h})")


def llama4_vision(vcfg: Mapping[str, Any], text_hidden: int) -> VisionEncoder:
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


ENCODERS = {"gemma3": gemma3_vision, "llama4": llama4_vision}
