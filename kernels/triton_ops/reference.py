"""Plain-torch references for the Triton kernels in this package.

Written for reading, not speed: each function is the textbook formula. Tests call them on float64
copies of the kernels' inputs; benchmarks time them as the "torch eager" baseline. Output dtype
follows the input dtype. Shape letters: B batch, H query heads, KVH key/value heads, G = H / KVH
query heads per KV head, T cache positions, D head dim, R MLA latent rank, P MLA rope dim,
N tokens, E experts, k experts per token, d model dim, F expert FFN dim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _accum_dtype(t: torch.Tensor) -> torch.dtype:
    """fp32 for 16-bit inputs, the input dtype for fp32 and float64."""
    return torch.promote_types(t.dtype, torch.float32)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6, zero_centered: bool = False):
    """y = x / sqrt(mean(x^2) + eps) * w, with w = 1 + weight when ``zero_centered``.

    x [..., d], weight [d]; computed in fp32 (or wider), cast back to x.dtype once.
    """
    acc = _accum_dtype(x)
    xf = x.to(acc)
    w = weight.to(acc) + 1.0 if zero_centered else weight.to(acc)
    rstd = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)
    return (xf * rstd * w).to(x.dtype)


def _cache_mask(seq_lens: torch.Tensor, max_len: int, window: int | None) -> torch.Tensor:
    """[B, T] bool: position t of sequence b is attended (t < len, and within the last ``window``)."""
    pos = torch.arange(max_len, device=seq_lens.device)[None, :]  # [1, T]
    lens = seq_lens.to(pos.dtype)[:, None]  # [B, 1]
    mask = pos < lens
    if window is not None:
        mask &= pos >= lens - window
    return mask


def decode_attention(q, k_cache, v_cache, seq_lens, scale=None, window=None, softcap=0.0):
    """One decode step of (grouped-query) attention over a KV cache.

    q [B, H, D]; k_cache, v_cache [B, KVH, T, D]; seq_lens [B] -> out [B, H, D].
    Query head h reads KV head h // G. With ``window`` only the last ``window`` positions count;
    with ``softcap`` c the scores are c * tanh(scores / c) (Gemma 2).
    Matmuls run in the input dtype, the softmax in fp32 (or wider), as in Hugging Face's eager path.
    """
    b, h, d = q.shape
    kvh, t = k_cache.shape[1], k_cache.shape[2]
    scale = d**-0.5 if scale is None else scale
    qg = q.view(b, kvh, h // kvh, d)  # [B, KVH, G, D]
    scores = (qg @ k_cache.transpose(-1, -2)).to(_accum_dtype(q)) * scale  # [B, KVH, G, T]
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    mask = _cache_mask(seq_lens, t, window)[:, None, None, :]  # [B, 1, 1, T]
    probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1).to(q.dtype)
    return (probs @ v_cache).reshape(b, h, d)  # [B, KVH, G, D] -> [B, H, D]


def mla_decode(q_nope, q_rope, latent, k_rope, seq_lens, scale):
    """One decode step of DeepSeek MLA with the key/value up-projections absorbed into the query.

    q_nope [B, H, R] (already multiplied by W_UK), q_rope [B, H, P]; latent [B, T, R],
    k_rope [B, T, P]; seq_lens [B] -> out [B, H, R] in the latent space (W_UV is applied later).
    score[b, h, t] = scale * (q_nope[b, h] . latent[b, t] + q_rope[b, h] . k_rope[b, t]).
    """
    scores = q_nope @ latent.transpose(1, 2) + q_rope @ k_rope.transpose(1, 2)  # [B, H, T]
    scores = scores.to(_accum_dtype(q_nope)) * scale
    mask = _cache_mask(seq_lens, latent.shape[1], None)[:, None, :]  # [B, 1, T]
    probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1).to(q_nope.dtype)
    return probs @ latent  # [B, H, R]


def route(logits, top_k, scoring="softmax", renormalize=True):
    """Top-k expert routing: logits [N, E] -> (weights [N, k] fp32 or wider, ids [N, k] int64).

    Scores are softmax(logits) or sigmoid(logits); the k highest are kept in descending order and,
    with ``renormalize``, divided by their sum.
    """
    x = logits.to(_accum_dtype(logits))
    scores = x.softmax(dim=-1) if scoring == "softmax" else torch.sigmoid(x)
    weights, ids = scores.topk(top_k, dim=-1)
    if renormalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights, ids


def gated_ffn(x, w_gate, w_up, w_down):
    """SiLU-gated FFN: (silu(x @ w_gate) * (x @ w_up)) @ w_down. x [N, d], w_gate/w_up [d, F], w_down [F, d]."""
    return (F.silu(x @ w_gate) * (x @ w_up)) @ w_down


def moe_ffn(x, w_gate, w_up, w_down, topk_weights, topk_ids):
    """Mixture of gated FFN experts, looping over the experts that received tokens.

    x [N, d]; w_gate, w_up [E, d, F]; w_down [E, F, d]; topk_weights, topk_ids [N, k] -> [N, d].
    out[n] = sum_j topk_weights[n, j] * ffn_{topk_ids[n, j]}(x[n]); experts run in x's dtype and
    their weighted outputs are summed in fp32 (or wider).
    """
    out = torch.zeros(x.shape, dtype=_accum_dtype(x), device=x.device)
    for e in topk_ids.unique().tolist():
        token, slot = (topk_ids == e).nonzero(as_tuple=True)  # tokens routed to expert e
        y = gated_ffn(x[token], w_gate[e], w_up[e], w_down[e])  # [n_e, d]
        out.index_add_(0, token, y.to(out.dtype) * topk_weights[token, slot, None].to(out.dtype))
    return out.to(x.dtype)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """packed [K/2, N] uint8 -> q [K, N] uint8 in 0..15; row 2i is the low nibble, row 2i+1 the high."""
    low, high = packed & 0xF, packed >> 4
    return torch.stack((low, high), dim=1).reshape(-1, packed.shape[1])


def dequantize_int4(packed, scales, zeros, group_size):
    """W [K, N] = (q - zeros[k // group]) * scales[k // group]; scales, zeros [K / group, N]."""
    q = unpack_int4(packed).to(scales.dtype)
    s = scales.repeat_interleave(group_size, dim=0)
    z = zeros.repeat_interleave(group_size, dim=0)
    return (q - z) * s


def int4_matmul(x, packed, scales, zeros, group_size):
    """x [M, K] @ dequantize(W) [K, N] -> [M, N] in x.dtype."""
    return x @ dequantize_int4(packed, scales, zeros, group_size).to(x.dtype)
