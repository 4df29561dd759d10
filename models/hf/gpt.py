"""LayerNorm decoders, most with biases: GPT-2 (learned positions, tied head) and its kin
StarCoder/SantaCoder (multi-query), GPT-Neo (local and global layers) and OPT, MPT and BLOOM (ALiBi;
BLOOM normalises the embedding), GPT-J and GPT-NeoX/Pythia (parallel attention and MLP, partial
RoPE), Phi-1/2 (parallel, biased head), Falcon (parallel layers, MQA in 7B, grouped KV with two
norms in 40B/180B), StarCoder2 (biases, plain GELU MLP, sliding window), StableLM (partial RoPE,
optional parallel block and per-head QK-norm), Persimmon (biased QK LayerNorms, squared ReLU) and
Cohere's Command R family (parallel block with one
bias-free LayerNorm; Command R7B interleaves sliding RoPE layers with global NoPE ones); and the
older ones: GPT-1 (openai-gpt: post-norm, no final norm), CodeGen (GPT-J's layout), XGLM and CTRL
(sinusoidal positions, computed rather than stored), BioGPT (learned positions with two extra rows) and
GPT-NeoX-Japanese (unbiased but for its last layer's output projection)."""
from __future__ import annotations

from ..spec import Attention, DenseFFN, Layer, SpecError
from .common import (Config, activation, as_int, build_spec, clamp_window, context_length, dense_ffn, get,
                     gqa_attention, layer_types, rope_fraction)


def import_gpt2(cfg: Config, name: str):
    d = as_int(cfg, "n_embd", "hidden_size")
    heads = as_int(cfg, "n_head", "num_attention_heads")
    n = as_int(cfg, "n_layer", "num_hidden_layers")
    ctx = as_int(cfg, "n_positions", "n_ctx", default=1024)
    attn = Attention(heads=heads, kv_heads=heads, head_dim=d // heads, qkv_bias=True, out_bias=True,
                     rope=False)
    ffn = DenseFFN(d_ff=as_int(cfg, "n_inner", default=4 * d), gated=False,
                   activation=activation(get(cfg, "activation_function", default="gelu_new")),
                   bias=True)
    return build_spec({**cfg, "hidden_size": d, "max_position_embeddings": ctx}, name,
                      [Layer((attn,), (ffn,))] * n, position="learned", learned_positions=ctx,
                      norm="layernorm", norm_bias=True)


def import_gpt_bigcode(cfg: Config, name: str):
    """StarCoder / SantaCoder (gpt_bigcode): GPT-2 with multi-query attention (one K/V head,
    multi_query) and a tied head."""
    d = as_int(cfg, "n_embd", "hidden_size")
    heads = as_int(cfg, "n_head", "num_attention_heads")
    ctx = as_int(cfg, "n_positions", "max_position_embeddings", default=1024)
    kv = 1 if get(cfg, "multi_query", default=True) else heads
    attn = Attention(heads=heads, kv_heads=kv, head_dim=d // heads, qkv_bias=True, out_bias=True, rope=False)
    ffn = DenseFFN(d_ff=as_int(cfg, "n_inner", default=4 * d), gated=False, bias=True,
                   activation=activation(get(cfg, "activation_function", default="gelu_pytorch_tanh")))
    return build_spec({**cfg, "hidden_size": d, "max_position_embeddings": ctx}, name,
                      [Layer((attn,), (ffn,))] * as_int(cfg, "n_layer", "num_hidden_layers"),
                      position="learned", learned_positions=ctx, norm="layernorm", norm_bias=True)


def import_gpt_neo(cfg: Config, name: str):
    """GPT-Neo: GPT-2's layout with global and local (window_size tokens) attention layers as
    attention_layers (else attention_types) lists them, unbiased Q/K/V with a biased output, a
    tied head."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_layers", "num_hidden_layers")
    heads = as_int(cfg, "num_heads", "num_attention_heads")
    ctx = as_int(cfg, "max_position_embeddings", default=2048)
    kinds = get(cfg, "attention_layers")          # the expanded list, as transformers saves it
    if not isinstance(kinds, list):
        spans = get(cfg, "attention_types", default=[[["global", "local"], 12]])
        kinds = [kind for pattern, count in spans for _ in range(int(count)) for kind in pattern]
    if len(kinds) != n:
        raise SpecError("config.attention_types", f"lists {len(kinds)} layers, not num_layers ({n})")
    window = as_int(cfg, "window_size", default=256)
    ffn = DenseFFN(d_ff=as_int(cfg, "intermediate_size", default=4 * d), gated=False, bias=True,
                   activation=activation(get(cfg, "activation_function", default="gelu_new")))
    layers = []
    for kind in kinds:
        span, w = clamp_window(window, ctx) if kind == "local" else ("full", 0)
        layers.append(Layer((Attention(heads=heads, kv_heads=heads, head_dim=d // heads, kind=span, window=w,
                                       out_bias=True, rope=False),), (ffn,)))
    return build_spec({**cfg, "max_position_embeddings": ctx}, name, layers, position="learned",
                      learned_positions=ctx, norm="layernorm", norm_bias=True)


def import_opt(cfg: Config, name: str):
    """OPT: learned positions with two extra rows (OPT's offset of 2), biased projections
    (enable_bias), a plain ReLU MLP (ffn_dim); pre-norm, or post-norm without a final norm where
    do_layer_norm_before is false (OPT-350m, whose embedding projections are not described)."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    if as_int(cfg, "word_embed_proj_dim", default=d) != d:
        raise SpecError("config.word_embed_proj_dim", "an embedding narrower than hidden_size (OPT-350m's "
                                                      "project_in / project_out) cannot be described")
    heads = as_int(cfg, "num_attention_heads")
    ctx = as_int(cfg, "max_position_embeddings", default=2048)
    bias = bool(get(cfg, "enable_bias", default=True))
    attn = Attention(heads=heads, kv_heads=heads, head_dim=d // heads, qkv_bias=bias, out_bias=bias,
                     rope=False)
    ffn = DenseFFN(d_ff=as_int(cfg, "ffn_dim"), gated=False, bias=bias,
                   activation=activation(get(cfg, "activation_function", default="relu")))
    pre = bool(get(cfg, "do_layer_norm_before", default=True))
    affine = bool(get(cfg, "layer_norm_elementwise_affine", default=True))
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * n, position="learned", learned_positions=ctx + 2,
                      norm="layernorm" if affine else "layernorm_noparam", norm_bias=affine,
                      norm_placement="pre" if pre else "post",
                      final_norm=pre and not get(cfg, "_remove_final_layer_norm", default=False))


def import_mpt(cfg: Config, name: str):
    """MPT: ALiBi, fused unbiased QKV, a plain GELU MLP expansion_ratio wide (4 in every published
    checkpoint; transformers builds 4 whatever the config says), no biases anywhere (LayerNorms
    included, as the checkpoints hold them), a tied head."""
    attn_cfg = cfg.get("attn_config") or {}
    if not isinstance(attn_cfg, dict):
        raise SpecError("config.attn_config", f"must be an object, got {type(attn_cfg).__name__}")
    d, heads = as_int(cfg, "d_model", "hidden_size"), as_int(cfg, "n_heads", "num_attention_heads")
    if not get(attn_cfg, "alibi", default=True):
        raise SpecError("config.attn_config.alibi", "MPT without ALiBi (learned positions) is not described; "
                                                    "transformers builds MPT with ALiBi only")
    attn = Attention(heads=heads, kv_heads=heads, head_dim=d // heads, rope=False)
    ffn = DenseFFN(d_ff=as_int(cfg, "expansion_ratio", default=4) * d, gated=False, activation="gelu")
    flat = {**cfg, "hidden_size": d, "max_position_embeddings": get(cfg, "max_seq_len", default=2048)}
    return build_spec(flat, name, [Layer((attn,), (ffn,))] * as_int(cfg, "n_layers", "num_hidden_layers"),
                      position="alibi", norm="layernorm", norm_bias=False)


def import_bloom(cfg: Config, name: str):
    """BLOOM: ALiBi, a LayerNorm right after the token lookup, fused biased QKV, a plain GELU MLP
    4 x wide with biases, biased LayerNorms, a tied head. Its config names no context length:
    BLOOM was trained on 2,048-token sequences (seq_length in some configs)."""
    d = as_int(cfg, "hidden_size", "n_embed")
    heads = as_int(cfg, "n_head", "num_attention_heads")
    attn = Attention(heads=heads, kv_heads=heads, head_dim=d // heads, qkv_bias=True, out_bias=True,
                     rope=False)
    ffn = DenseFFN(d_ff=4 * d, gated=False, activation="gelu_tanh", bias=True)
    flat = {**cfg, "hidden_size": d, "max_position_embeddings": get(cfg, "seq_length", default=2048)}
    return build_spec(flat, name, [Layer((attn,), (ffn,))] * as_int(cfg, "n_layer", "num_hidden_layers"),
                      position="alibi", norm="layernorm", norm_bias=True, embedding_norm=True)


def import_phi(cfg: Config, name: str):
    d = as_int(cfg, "hidden_size")
    heads = as_int(cfg, "num_attention_heads")
    kv = as_int(cfg, "num_key_value_heads", default=heads)
    attn = Attention(heads=heads, kv_heads=kv, head_dim=d // heads, qkv_bias=True, out_bias=True,
                     qk_norm="none")
    ffn = DenseFFN(d_ff=as_int(cfg, "intermediate_size"), gated=False,
                   activation=activation(get(cfg, "hidden_act", default="gelu_new")), bias=True)
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * as_int(cfg, "num_hidden_layers"),
                      norm="layernorm", norm_bias=True, norm_placement="parallel",
                      rope_fraction=rope_fraction(cfg), lm_head_bias=True)


def import_falcon(cfg: Config, name: str):
    d = as_int(cfg, "hidden_size")
    heads = as_int(cfg, "num_attention_heads", "n_head")
    n = as_int(cfg, "num_hidden_layers", "n_layer")
    new_arch = bool(get(cfg, "new_decoder_architecture", default=False))
    if new_arch:
        kv = as_int(cfg, "num_kv_heads", default=heads)
    elif get(cfg, "multi_query", default=True):
        kv = 1
    else:
        kv = heads
    bias = bool(get(cfg, "bias", default=False))
    attn = Attention(heads=heads, kv_heads=kv, head_dim=d // heads, qkv_bias=bias, out_bias=bias,
                     rope=not get(cfg, "alibi", default=False))
    ffn = DenseFFN(d_ff=as_int(cfg, "ffn_hidden_size", default=4 * d), gated=False,
                   activation="gelu", bias=bias)
    parallel = bool(get(cfg, "parallel_attn", default=True))
    two_norms = new_arch and get(cfg, "num_ln_in_parallel_attn", default=2) == 2
    norms = 2 if (two_norms or not parallel) else 1
    return build_spec(cfg, name, [Layer((attn,), (ffn,), norms=norms)] * n,
                      norm="layernorm", norm_bias=True,
                      norm_placement="parallel" if parallel else "pre",
                      position="alibi" if get(cfg, "alibi", default=False) else "rope",
                      default_context=2048)


def import_gptj(cfg: Config, name: str):
    """GPT-J: one LayerNorm before a parallel attention + MLP, unbiased Q/K/V/O, biased MLP and
    head, RoPE on the first rotary_dim dims of each head."""
    return _gptj_layout(cfg, name)


def import_codegen(cfg: Config, name: str):
    """CodeGen: GPT-J's layout and weights (its fused qkv_proj holds Q, K and V unbiased); RoPE on
    rotary_dim dims of each head (64 when absent), 2,048 positions."""
    return _gptj_layout(cfg, name, rotary_default=64)


def _gptj_layout(cfg: Config, name: str, rotary_default: int | None = None):
    """GPT-J and CodeGen: a parallel block after one biased LayerNorm, unbiased attention, a plain
    biased MLP n_inner wide (4 x n_embd when null), a biased head; ``rotary_default`` is
    rotary_dim when the config leaves it out (None: the whole head)."""
    d = as_int(cfg, "n_embd", "hidden_size")
    heads = as_int(cfg, "n_head", "num_attention_heads")
    hd = d // heads
    attn = Attention(heads=heads, kv_heads=heads, head_dim=hd)
    ffn = DenseFFN(d_ff=as_int(cfg, "n_inner", default=4 * d), gated=False,
                   activation=activation(get(cfg, "activation_function", default="gelu_new")), bias=True)
    rotary = as_int(cfg, "rotary_dim", default=rotary_default or hd)
    return build_spec({**cfg, "hidden_size": d}, name,
                      [Layer((attn,), (ffn,))] * as_int(cfg, "n_layer", "num_hidden_layers"),
                      norm="layernorm", norm_bias=True, norm_placement="parallel",
                      rope_fraction=rotary / hd, lm_head_bias=True)


def import_gpt_neox(cfg: Config, name: str):
    """GPT-NeoX / Pythia: two biased LayerNorms a layer whether or not the residual is parallel
    (use_parallel_residual), fused biased QKV, plain GELU MLP with biases, partial RoPE
    (rotary_pct, 0.25 by default)."""
    d = as_int(cfg, "hidden_size")
    heads = as_int(cfg, "num_attention_heads")
    bias = bool(get(cfg, "attention_bias", default=True))
    attn = Attention(heads=heads, kv_heads=heads, head_dim=d // heads, qkv_bias=bias, out_bias=bias)
    ffn = DenseFFN(d_ff=as_int(cfg, "intermediate_size"), gated=False,
                   activation=activation(get(cfg, "hidden_act", default="gelu")), bias=True)
    parallel = bool(get(cfg, "use_parallel_residual", default=True))
    return build_spec(cfg, name, [Layer((attn,), (ffn,), norms=2)] * as_int(cfg, "num_hidden_layers"),
                      norm="layernorm", norm_bias=True, norm_placement="parallel" if parallel else "pre",
                      rope_fraction=rope_fraction(cfg))


def import_starcoder2(cfg: Config, name: str):
    """StarCoder2: GQA with biases everywhere (use_bias), biased LayerNorms, plain GELU MLP, an
    optional sliding window on every layer."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    bias = bool(get(cfg, "use_bias", default=True))
    kind, window = clamp_window(as_int(cfg, "sliding_window", default=0), context_length(cfg))
    attn = gqa_attention(cfg, hidden=d, kind=kind, window=window, qkv_bias=bias, out_bias=bias)
    ffn = DenseFFN(d_ff=as_int(cfg, "intermediate_size"), gated=False,
                   activation=activation(get(cfg, "hidden_act", default="gelu_pytorch_tanh")), bias=bias)
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * n, norm="layernorm", norm_bias=True)


def import_stablelm(cfg: Config, name: str):
    """StableLM (2, 3B-4E1T, Zephyr): biased LayerNorms, SwiGLU, partial RoPE (0.25 by default),
    optional Q/K/V biases, per-head QK LayerNorms (qk_layernorm) and a parallel residual with a
    single norm (use_parallel_residual)."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    attn = gqa_attention(cfg, hidden=d, qkv_bias=bool(get(cfg, "use_qkv_bias", default=False)),
                         out_bias=False,
                         qk_norm="per_head" if get(cfg, "qk_layernorm", default=False) else "none")
    parallel = bool(get(cfg, "use_parallel_residual", default=False))
    return build_spec(cfg, name, [Layer((attn,), (dense_ffn(cfg, bias=False),))] * n,
                      norm="layernorm", norm_bias=True, norm_placement="parallel" if parallel else "pre",
                      rope_fraction=rope_fraction(cfg))


def import_persimmon(cfg: Config, name: str):
    """Persimmon (Adept; Fuyu's language model): MHA with a fused biased QKV and a biased output,
    QK LayerNorms over head_dim shared by the heads, with biases (qk_layernorm), half of each head
    rotated by default, a squared-ReLU MLP with biases, biased LayerNorms, an untied head."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    heads = as_int(cfg, "num_attention_heads")
    qk_norm = bool(get(cfg, "qk_layernorm", default=True))
    attn = Attention(heads=heads, kv_heads=heads, head_dim=d // heads, qkv_bias=True, out_bias=True,
                     qk_norm="head" if qk_norm else "none", qk_norm_bias=qk_norm)
    ffn = DenseFFN(d_ff=as_int(cfg, "intermediate_size"), gated=False,
                   activation=activation(get(cfg, "hidden_act", default="relu2")), bias=True)
    return build_spec(cfg, name, [Layer((attn,), (ffn,))] * n, norm="layernorm", norm_bias=True,
                      rope_fraction=rope_fraction(cfg))


def import_cohere(cfg: Config, name: str):
    """Command R / R+ (cohere) and Command R7B / A (cohere2): attention and SwiGLU side by side
    after one bias-free LayerNorm, a tied head. Command R+ adds per-head QK LayerNorms; cohere2
    makes three of four layers sliding (RoPE) and the fourth global without positions (NoPE)."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    qk = "per_head" if get(cfg, "use_qk_norm", default=False) else "none"
    bias = bool(get(cfg, "attention_bias", default=False))
    if cfg.get("model_type") == "cohere2":
        types = layer_types(cfg, n)
        if types is None:
            period = as_int(cfg, "sliding_window_pattern", default=4)
            types = ["sliding_attention" if (i + 1) % period else "full_attention" for i in range(n)]
        window = as_int(cfg, "sliding_window", default=4096)
        context = context_length(cfg)
        kinds = [(clamp_window(window, context), True) if t == "sliding_attention" else (("full", 0), False)
                 for t in types]
    else:
        kinds = [(("full", 0), True)] * n
    layers = [Layer((gqa_attention(cfg, hidden=d, kind=kind, window=w, rope=rope, qk_norm=qk,
                                   qkv_bias=bias, out_bias=bias),), (dense_ffn(cfg, bias=False),), norms=1)
              for (kind, w), rope in kinds]
    return build_spec(cfg, name, layers, norm="layernorm", norm_bias=False, norm_placement="parallel")


def _head_dim(hidden: int, heads: int, heads_key: str) -> int:
    """hidden // heads for models whose projections are hidden x hidden (transformers refuses a
    width the heads do not divide)."""
    if heads <= 0 or hidden % heads:
        raise SpecError(f"config.{heads_key}", f"must divide the hidden size ({hidden}) into equal "
                                               f"heads, got {heads}")
    return hidden // heads


def _mha(hidden: int, heads: int, heads_key: str, *, bias: bool, **overrides) -> Attention:
    """Multi-head attention over the whole width, without RoPE unless ``rope=True`` is passed."""
    fields = dict(heads=heads, kv_heads=heads, head_dim=_head_dim(hidden, heads, heads_key),
                  qkv_bias=bias, out_bias=bias, rope=False)
    fields.update(overrides)
    return Attention(**fields)


# openai-gpt's own activation table (modeling_openai.ACT_FNS): its "gelu" is the tanh approximation
_OPENAI_GPT_ACTIVATIONS = {"gelu": "gelu_tanh", "relu": "relu", "silu": "silu", "swish": "silu"}


def import_openai_gpt(cfg: Config, name: str):
    """GPT-1 (openai-gpt): post-norm (a biased LayerNorm after each residual sum, none after the
    last layer), learned positions (n_positions, 512 when absent), biased projections, a plain MLP
    4 x n_embd wide (afn), a tied head."""
    d = as_int(cfg, "n_embd", "hidden_size")
    heads = as_int(cfg, "n_head", "num_attention_heads")
    ctx = as_int(cfg, "n_positions", "max_position_embeddings", default=512)
    afn = get(cfg, "afn", default="gelu")
    if not isinstance(afn, str) or afn not in _OPENAI_GPT_ACTIVATIONS:
        raise SpecError("config.afn", f"must be one of {', '.join(_OPENAI_GPT_ACTIVATIONS)}; got {afn!r}")
    attn = _mha(d, heads, "n_head", bias=True)
    ffn = DenseFFN(d_ff=4 * d, gated=False, activation=_OPENAI_GPT_ACTIVATIONS[afn], bias=True)
    return build_spec({**cfg, "hidden_size": d, "max_position_embeddings": ctx}, name,
                      [Layer((attn,), (ffn,))] * as_int(cfg, "n_layer", "num_hidden_layers"),
                      position="learned", learned_positions=ctx, norm="layernorm", norm_bias=True,
                      norm_placement="post", final_norm=False)


def import_xglm(cfg: Config, name: str):
    """XGLM: pre-norm with biased LayerNorms and a final one, biased attention, a plain biased MLP
    (ffn_dim), a tied head. Its sinusoidal positions are computed, not stored (a non-persistent
    buffer), and the embedding scale is a constant: neither holds weights. The cross-attention
    layers of add_cross_attention (a decoder fed by an encoder) are not described."""
    if get(cfg, "add_cross_attention", default=False):
        raise SpecError("config.add_cross_attention", "XGLM's cross-attention layers (reading an "
                                                      "encoder's states) cannot be described")
    d = as_int(cfg, "d_model", "hidden_size")
    heads = as_int(cfg, "attention_heads", "num_attention_heads")
    attn = _mha(d, heads, "attention_heads", bias=True)
    ffn = DenseFFN(d_ff=as_int(cfg, "ffn_dim"), gated=False, bias=True,
                   activation=activation(get(cfg, "activation_function", default="gelu")))
    return build_spec({**cfg, "hidden_size": d}, name,
                      [Layer((attn,), (ffn,))] * as_int(cfg, "num_layers", "num_hidden_layers"),
                      position="sinusoidal", norm="layernorm", norm_bias=True)


def import_biogpt(cfg: Config, name: str):
    """BioGPT: XGLM's pre-norm layer (biased attention and plain MLP, biased LayerNorms, a final
    one) with learned positions of max_position_embeddings + 2 rows (fairseq's offset), a tied
    head."""
    d = as_int(cfg, "hidden_size")
    ctx = as_int(cfg, "max_position_embeddings", default=1024)
    attn = _mha(d, as_int(cfg, "num_attention_heads"), "num_attention_heads", bias=True)
    ffn = DenseFFN(d_ff=as_int(cfg, "intermediate_size"), gated=False, bias=True,
                   activation=activation(get(cfg, "hidden_act", default="gelu")))
    return build_spec({**cfg, "max_position_embeddings": ctx}, name,
                      [Layer((attn,), (ffn,))] * as_int(cfg, "num_hidden_layers"),
                      position="learned", learned_positions=ctx + 2, norm="layernorm", norm_bias=True)


def import_gpt_neox_japanese(cfg: Config, name: str):
    """GPT-NeoX-Japanese: pre-norm (two biased LayerNorms a layer, one after the last), fused
    unbiased QKV and output projections (the last layer alone adds dense_bias after its output
    projection), an unbiased plain MLP intermediate_multiple_size x hidden_size wide, RoPE on
    rotary_pct of each head (all when absent), 2,048 positions, a tied head."""
    d, n = as_int(cfg, "hidden_size"), as_int(cfg, "num_hidden_layers")
    heads = as_int(cfg, "num_attention_heads")
    ffn = DenseFFN(d_ff=d * as_int(cfg, "intermediate_multiple_size", default=4), gated=False, bias=False,
                   activation=activation(get(cfg, "hidden_act", default="gelu")))
    layers = [Layer((_mha(d, heads, "num_attention_heads", bias=False, rope=True, out_bias=i == n - 1),),
                    (ffn,)) for i in range(n)]
    return build_spec(cfg, name, layers, norm="layernorm", norm_bias=True, rope_fraction=rope_fraction(cfg))


def import_ctrl(cfg: Config, name: str):
    """CTRL: pre-norm with biased LayerNorms and a final one, biased Q/K/V/O, a plain biased ReLU
    MLP (dff), a tied head with a bias. Its sinusoidal position table (n_positions rows, 256 when
    absent) is computed at load time, a non-persistent buffer: no weights."""
    d = as_int(cfg, "n_embd", "hidden_size")
    ctx = as_int(cfg, "n_positions", "max_position_embeddings", default=256)
    attn = _mha(d, as_int(cfg, "n_head", "num_attention_heads"), "n_head", bias=True)
    ffn = DenseFFN(d_ff=as_int(cfg, "dff"), gated=False, activation="relu", bias=True)
    return build_spec({**cfg, "hidden_size": d, "max_position_embeddings": ctx}, name,
                      [Layer((attn,), (ffn,))] * as_int(cfg, "n_layer", "num_hidden_layers"),
                      position="sinusoidal", norm="layernorm", norm_bias=True, lm_head_bias=True)


IMPORTERS = {
    "gpt2": import_gpt2, "gpt_bigcode": import_gpt_bigcode, "gpt_neo": import_gpt_neo, "opt": import_opt,
    "mpt": import_mpt, "bloom": import_bloom, "phi": import_phi, "falcon": import_falcon, "gptj": import_gptj,
    "gpt_neox": import_gpt_neox, "starcoder2": import_starcoder2, "stablelm": import_stablelm,
    "persimmon": import_persimmon, "cohere": import_cohere, "cohere2": import_cohere, "codegen": import_codegen,
    "openai-gpt": import_openai_gpt, "xglm": import_xglm, "biogpt": import_biogpt,
    "gpt_neox_japanese": import_gpt_neox_japanese, "ctrl": import_ctrl,
}
