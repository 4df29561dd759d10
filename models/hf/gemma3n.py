"""Gemma 3n (gemma3n_text): Google's on-device models E2B and E4B, Gemma 3's sandwich-normed
layers (four sliding to one global) with what Gemma 3n adds:

- AltUp: the residual stream is ``altup_num_inputs`` (4) copies of the hidden size; each layer
  runs on one copy, predicts all of them first and corrects them by its output after;
- LAuReL: a rank-``laurel_rank`` learned residual beside each layer's attention;
- per-layer input embeddings (``hidden_size_per_layer_input``), added into the other copies;
- KV sharing: the last ``num_kv_shared_layers`` layers read the cache of the last earlier layer of
  their kind (no K/V projections or norms of their own);
- a weightless norm on the values, QK-norm, attention scaling 1.0;
- a Gaussian top-k on the gate activations of the first layers (``activation_sparsity_pattern``).

The gemma3n checkpoints wrap it with a MobileNet-V5 image encoder and a Conformer audio encoder
(``gemma3n_encoders``). Read the way transformers 5.23's Gemma3nTextConfig and modeling_gemma3n
build the model.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..spec import DenseFFN, Layer, SpecError, VisionEncoder
from .common import (Config, activation, as_int, build_spec, clamp_window, context_length, get, gqa_attention,
                     sliding_or_full_types)
from .mobilenet_v5 import mobilenet_v5_params

SLIDING_PERIOD = 5            # transformers' default layer_types: four sliding layers, then a global one
SPARSE_LAYERS = 10            # transformers' default activation_sparsity_pattern: 0.95 on the first ten
DEFAULT_SPARSITY = 0.95


def _per_layer(cfg: Config, key: str, n: int, default) -> list:
    """A per-layer list, or one value for every layer."""
    value = cfg.get(key)
    if value is None:
        value = default
    if not isinstance(value, (list, tuple)):
        return [value] * n
    if len(value) != n:
        raise SpecError(f"config.{key}", f"must give one value per layer ({n}), got {len(value)}")
    return list(value)


def import_gemma3n_text(cfg: Config, name: str):
    hidden = as_int(cfg, "hidden_size")
    n = as_int(cfg, "num_hidden_layers")
    context = context_length(cfg)
    types = sliding_or_full_types(cfg, n, SLIDING_PERIOD, "Gemma 3n")
    shared_from = n - as_int(cfg, "num_kv_shared_layers", default=15)
    if not 0 < shared_from <= n:
        raise SpecError("config.num_kv_shared_layers", f"must leave at least one of the {n} layers "
                                                       f"caching its own keys and values")
    widths = _per_layer(cfg, "intermediate_size", n, 16_384)
    sparse_default = [DEFAULT_SPARSITY] * SPARSE_LAYERS + [0.0] * (n - SPARSE_LAYERS) if n > SPARSE_LAYERS \
        else [0.0] * n
    sparsity = _per_layer(cfg, "activation_sparsity_pattern", n, sparse_default)
    act = activation(get(cfg, "hidden_activation", default="gelu_pytorch_tanh"))
    window = as_int(cfg, "sliding_window", default=512)
    layers = []
    for i, t in enumerate(types):
        kind, win = clamp_window(window, context) if t == "sliding_attention" else ("full", 0)
        attn = gqa_attention(cfg, hidden=hidden, kind=kind, window=win, qk_norm="head", v_norm=True,
                             kv_shared=i >= shared_from)
        try:
            ffn = DenseFFN(int(widths[i]), activation=act, activation_sparsity=float(sparsity[i]))
        except (TypeError, ValueError):
            raise SpecError("config.intermediate_size", f"layer {i}: {widths[i]!r} and sparsity "
                                                        f"{sparsity[i]!r} are not numbers") from None
        layers.append(Layer((attn,), (ffn,)))
    streams = as_int(cfg, "altup_num_inputs", default=4)
    if streams < 2:
        raise SpecError("config.altup_num_inputs", f"Gemma 3n's AltUp needs at least 2 streams, got {streams}")
    if as_int(cfg, "altup_active_idx", default=0) >= streams:
        raise SpecError("config.altup_active_idx", f"must name one of the {streams} streams")
    return build_spec(cfg, name, layers, norm_placement="sandwich", altup_streams=streams,
                      laurel_rank=as_int(cfg, "laurel_rank", default=64),
                      per_layer_input=as_int(cfg, "hidden_size_per_layer_input", default=256),
                      per_layer_vocab=as_int(cfg, "vocab_size_per_layer_input", default=262_144))


IMPORTERS = {"gemma3n_text": import_gemma3n_text}


# --------------------------------------------------------------------------- encoders

def _g(cfg: Mapping[str, Any], key: str, default):
    value = cfg.get(key)
    return default if value is None else value


def _audio_tower(a: Mapping[str, Any]) -> int:
    """Gemma3nAudioEncoder: two 3x3 conv blocks (no bias; a cumulative group norm's weight each),
    an input projection, Conformer blocks (two half-step FFNs of 4h, chunked local attention with
    a relative-position projection and a per-dim scale, a light depthwise conv block, a norm) and
    nothing after them (the reduction is a stride)."""
    h, n = _g(a, "hidden_size", 1536), _g(a, "conf_num_hidden_layers", 12)
    c0, c1 = _g(a, "sscp_conv_channel_size", (128, 32))
    k = _g(a, "conf_conv_kernel_size", 5)
    kernels = _g(a, "sscp_conv_kernel_size", ((3, 3), (3, 3)))
    strides = _g(a, "sscp_conv_stride_size", ((2, 2), (2, 2)))
    freq = _g(a, "input_feat_size", 128)
    for (_, kw), (_, sw) in zip(kernels, strides):    # the frequency axis after each conv (padded 1, 1)
        freq = (freq + 2 - kw) // sw + 1
    hd = h // _g(a, "conf_num_attention_heads", 8)
    subsample = kernels[0][0] * kernels[0][1] * c0 + c0 + kernels[1][0] * kernels[1][1] * c0 * c1 + c1 \
        + c1 * freq * h
    ffn = 2 * (2 * 4 * h * h + 2 * h)                  # pre/post norms, h -> 4h -> h, twice
    attention = h + 4 * h * h + hd + h * h + h         # pre norm, q k v post, per-dim scale, pos, post norm
    conv = h + 2 * h * h + k * h + h + h * h           # pre norm, linear_start, depthwise, conv norm, end
    return subsample + n * (ffn + attention + conv + h)


def _embedder(vocab: int, width: int, text_hidden: int) -> int:
    """Gemma3nMultimodalEmbedder: a table for the encoder's special tokens, the hard and soft
    embedding norms, the projection into the text width (the norm after it has no weights)."""
    return vocab * width + 2 * width + width * text_hidden


def gemma3n_encoders(vcfg: Mapping[str, Any] | None, text_hidden: int, config: Mapping[str, Any]) -> VisionEncoder:
    """The MobileNet-V5 image encoder and the Conformer audio encoder, each with its embedder."""
    params, names = 0, []
    if isinstance(vcfg, Mapping):
        arch = _g(vcfg, "architecture", "mobilenetv5_300m_enc")
        params += mobilenet_v5_params(arch) + _embedder(_g(vcfg, "vocab_size", 128),
                                                        _g(vcfg, "hidden_size", 2048), text_hidden)
        names.append(f"MobileNet-V5 ({arch})")
    acfg = config.get("audio_config")
    if isinstance(acfg, Mapping):
        params += _audio_tower(acfg) + _embedder(_g(acfg, "vocab_size", 128), _g(acfg, "hidden_size", 1536),
                                                 text_hidden)
        names.append(f"Conformer audio ({_g(acfg, 'conf_num_hidden_layers', 12)} layers)")
    return VisionEncoder(params=params, name=" + ".join(names) or "no encoders")
