"""Llama 3.2 Vision (``mllama``): a Llama 3.1 language model with cross-attention layers that read an
image, and its two-stage ViT.

Every ``cross_attention_layers`` index is a cross-attention layer (MllamaCrossAttentionDecoderLayer):
the text's queries against the keys and values of the image's tokens, QK RMSNorms, Flamingo's tanh
gates on the attention and the FFN; the others are Llama's self-attention layers. The image is
max_num_tiles tiles of (image_size / patch_size)^2 patches plus a class token each: 4 x 1,601 =
6,404 tokens at Llama 3.2 Vision's 560-pixel tiles.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import CrossAttention, Layer, ModelSpec, SpecError, VisionEncoder
from .common import CONTEXT_KEYS, as_int, block_label, get
from .dense import import_dense

# MllamaTextConfig's and MllamaVisionConfig's defaults (transformers 5)
_CROSS_LAYERS = (3, 8, 13, 18, 23, 28, 33, 38)
_TEXT_CONTEXT, _TEXT_THETA = 131072, 500000.0
_VISION = {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_global_layers": 8,
           "num_channels": 3, "image_size": 448, "patch_size": 14, "max_num_tiles": 4, "vision_output_dim": 7680}
_ASPECT_RATIOS = 8          # the default supported_aspect_ratios: 1x1 1x2 1x3 1x4 2x1 2x2 3x1 4x1
# rows of the text's token table beyond vocab_size (MllamaTextModel: vocab_size + 8); the image
# tokens among them, so they are counted with the image encoder
_EXTRA_TOKENS = 8


def _vision_int(vcfg: Mapping[str, Any], key: str) -> int:
    try:
        value = as_int(vcfg, key, default=_VISION[key])
    except SpecError as exc:
        raise SpecError(f"config.vision_config.{key}", exc.rule) from None
    if value <= 0:
        raise SpecError(f"config.vision_config.{key}", f"must be positive, got {value}")
    return value


def image_tokens(vcfg: Mapping[str, Any]) -> int:
    """Tokens one image hands the cross-attention layers: every tile's patches and class token."""
    side = _vision_int(vcfg, "image_size") // _vision_int(vcfg, "patch_size")
    return _vision_int(vcfg, "max_num_tiles") * (side * side + 1)


def vision_params(vcfg: Mapping[str, Any], text_hidden: int) -> int:
    """MllamaVisionModel and the projector:
    - patch embedding (channels x h x patch^2, no bias) and a class embedding (h);
    - gated position embedding: a gate, one row per patch (P = side^2 + 1), and a tile position
      table of (ratios + 1) x tiles*P*h;
    - pre- and post-tile embeddings, (ratios + 1) x tiles*h and a gate each;
    - two LayerNorms (pre, post) and L + G encoder layers: q, k, v, o (h x h, no bias), fc1 and fc2
      with biases, two LayerNorms; the G global layers add two tanh gates each;
    - multi_modal_projector vision_output_dim x text hidden with bias; the token table's 8 extra rows.
    """
    h, inter = _vision_int(vcfg, "hidden_size"), _vision_int(vcfg, "intermediate_size")
    patch, tiles = _vision_int(vcfg, "patch_size"), _vision_int(vcfg, "max_num_tiles")
    side = _vision_int(vcfg, "image_size") // patch
    patches = side * side + 1
    ratios = vcfg.get("supported_aspect_ratios")
    ratio_rows = (len(ratios) if isinstance(ratios, list) and ratios else _ASPECT_RATIOS) + 1
    layer = 4 * h * h + 2 * h * inter + inter + h + 4 * h
    layers = (_vision_int(vcfg, "num_hidden_layers") * layer
              + _vision_int(vcfg, "num_global_layers") * (layer + 2))
    embeddings = (_vision_int(vcfg, "num_channels") * h * patch * patch + h
                  + 1 + patches * h + ratio_rows * tiles * patches * h
                  + 2 * (ratio_rows * tiles * h + 1))
    out = _vision_int(vcfg, "vision_output_dim")
    return embeddings + 4 * h + layers + out * text_hidden + text_hidden + _EXTRA_TOKENS * text_hidden


def vision_flops(vcfg: Mapping[str, Any], text_hidden: int) -> float:
    """FLOPs of MllamaVisionModel's forward over one image of max_num_tiles tiles, and the projector:
    - the patch embedding conv, 2 C patch^2 h per patch;
    - all tiles' T = tiles x P8 tokens through the L + G layers at once (each tile's P = side^2 + 1
      tokens padded to P8, a multiple of 8): 2 (4 h^2 + 2 h I) T for q, k, v, o and the MLP, and
      4 T^2 h for the scores and their weighted values; the padding mask's outer product 2 T^2;
    - multi_modal_projector, 2 vision_output_dim d per unpadded token.
    (transformers' MllamaVisionModel; tests/test_cross_attention.py checks it with FlopCounterMode.)"""
    h, inter = _vision_int(vcfg, "hidden_size"), _vision_int(vcfg, "intermediate_size")
    patch, tiles = _vision_int(vcfg, "patch_size"), _vision_int(vcfg, "max_num_tiles")
    side = _vision_int(vcfg, "image_size") // patch
    patches = side * side + 1
    tokens = tiles * -(-patches // 8) * 8
    conv = 2 * _vision_int(vcfg, "num_channels") * patch * patch * h * tiles * side * side
    layer = 2 * (4 * h * h + 2 * h * inter) * tokens + 4 * tokens * tokens * h
    layers = _vision_int(vcfg, "num_hidden_layers") + _vision_int(vcfg, "num_global_layers")
    mask = 2 * tokens * tokens
    projector = 2 * _vision_int(vcfg, "vision_output_dim") * text_hidden * tiles * patches
    return float(conv + layers * layer + mask + projector)


def import_mllama(config: Mapping[str, Any], name: str) -> ModelSpec:
    text = config.get("text_config")
    if not isinstance(text, Mapping):
        raise SpecError("config.text_config", "mllama configs need a text_config object")
    vcfg = config.get("vision_config") or {}
    if not isinstance(vcfg, Mapping):
        raise SpecError("config.vision_config", f"must be an object, got {vcfg!r}")
    # never tied, whatever a config says: the token table has 8 rows more than the head
    inner = {**text, "model_type": "llama", "tie_word_embeddings": False}
    # MllamaTextConfig's defaults where they are not LlamaConfig's
    if get(text, *CONTEXT_KEYS) is None:
        inner["max_position_embeddings"] = _TEXT_CONTEXT
    if get(text, "rope_theta", "rope_parameters", "rope_scaling") is None:
        inner["rope_theta"] = _TEXT_THETA
    base = import_dense(inner, name)
    n = base.num_layers
    cross = get(text, "cross_attention_layers", default=list(_CROSS_LAYERS))
    if not isinstance(cross, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                       and 0 <= i < n for i in cross):
        raise SpecError("config.text_config.cross_attention_layers",
                        f"must list layer indices from 0 to {n - 1}, got {cross!r}")
    self_layer = base.blocks[base.layout[0]]
    attn = self_layer.mixers[0]
    # MllamaTextCrossAttention: head_dim is hidden_size / heads whatever the config says
    mixer = CrossAttention(heads=attn.heads, kv_heads=attn.kv_heads, head_dim=base.hidden_size // attn.heads,
                           image_tokens=image_tokens(vcfg), qk_norm="head", gated=True)
    mixer.validate("config.text_config")
    cross_layer = Layer((mixer,), self_layer.ffns)
    cross_name = block_label(cross_layer)
    at = set(cross)
    layout = tuple(cross_name if i in at else b for i, b in enumerate(base.layout))
    blocks = {b: base.blocks[b] for b in dict.fromkeys(layout) if b in base.blocks}
    if cross:
        blocks[cross_name] = cross_layer
    vision = VisionEncoder(params=vision_params(vcfg, base.hidden_size), name="Llama 3.2 Vision tiled ViT",
                           flops_per_image=vision_flops(vcfg, base.hidden_size))
    return base.with_changes(blocks=blocks, layout=layout, vision=vision, model_type="mllama")


IMPORTERS = {"mllama": import_mllama}
