"""Classic decoders with LayerNorm and biases: GPT-2 (learned positions, tied head), Phi-1/2
(parallel attention and MLP, partial RoPE, biased head) and Falcon (parallel layers, MQA in 7B,
grouped KV with two norms in 40B/180B)."""
from __future__ import annotations

from ..spec import Attention, DenseFFN, Layer
from .common import Config, activation, as_int, build_spec, get, rope_fraction


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


IMPORTERS = {"gpt2": import_gpt2, "phi": import_phi, "falcon": import_falcon}
