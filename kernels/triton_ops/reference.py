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


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6, zero_centered: bool = False):
    """y = x / sqrt(mean(x^2) + eps) * w, with w = 1 + weight when ``zero_centered``.

    x [..., d], weight [d]; computed in fp32 (or wider), cast back to x.dtype once.
    """
    acc = torch.promote_types(x.dtype, torch.float32)
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


def decode_attention(q, k_cache, v_cache, seq_lens, scale=None, window=None):
    """One decode step of (grouped-query) attention over a KV cache.

    q [B, H, D]; k_cache, v_cache [B, KVH, T, D]; seq_lens [B] -> out [B, H, D].
    Query head h reads KV head h // G. With ``window`` only the last ``window`` positions count.
    """
    b, h, d = q.shape
    kvh, t = k_cache.shape[1], k_cache.shape[2]
    scale = d**-0.5 if scale is None else scale
    acc = torch.promote_types(q.dtype, torch.float32)
    qg = q.to(acc).view(b, kvh, h // kvh, d)  # [B, KVH, G, D]
    scores = qg @ k_cache.to(acc).transpose(-1, -2) * scale  # [B, KVH, G, T]
    mask = _cache_mask(seq_lens, t, window)[:, None, None, :]  # [B, 1, 1, T]
    probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    out = probs @ v_cache.to(acc)  # [B, KVH, G, D]
    return out.reshape(b, h, d).to(q.dtype)


def mla_decode(q_nope, q_rope, latent, k_rope, seq_lens, scale):
    """One decode step of DeepSeek MLA with the key/value up-projections absorbed into the query.

    q_nope [B, H, R] (already multiplied by W_UK), q_rope [B, H, P]; latent [B, T, R],
    k_rope [B, T, P]; seq_lens [B] -> out [B, H, R] in the latent space (W_UV is applied later).
    score[b, h, t] = scale * (q_nope[b, h] . latent[b, t] + q_rope[b, h] . k_rope[b, t]).
    """
    acc = torch.promote_types(q_nope.dtype, torch.float32)
    lat = latent.to(acc)
    scores = q_nope.to(acc) @ lat.transpose(1, 2)  # [B, H, T]
    scores = (scores + q_rope.to(acc) @ k_rope.to(acc).transpose(1, 2)) * scale
    mask = _cache_mask(seq_lens, latent.shape[1], None)[:, None, :]  # [B, 1, T]
    probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return (probs @ lat).to(q_nope.dtype)  # [B, H, R]


def route(logits, top_k, scoring="softmax", renormalize=True):
    """Top-k expert routing: logits [N, E] -> (weights [N, k] fp32 or wider, ids [N, k] int64).

    Scores are softmax(logits) or sigmoid(logits); the k highest are kept in descending order and,
    with ``renormalize``, divided by their sum.
    """
    acc = torch.promote_types(logits.dtype, torch.float32)
    x = logits.to(acc)
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
    out[n] = sum_j topk_weights[n, j] * ffn_{topk_ids[n, j]}(x[n]).
    """
    acc = torch.promote_types(x.dtype, torch.float32)
    out = torch.zeros(x.shape, dtype=acc, device=x.device)
    for e in topk_ids.unique().tolist():
        token, slot = (topk_ids == e).nonzero(as_tuple=True)  # tokens routed to expert e
        y = gated_ffn(x[token].to(acc), w_gate[e].to(acc), w_up[e].to(acc), w_down[e].to(acc))
        out.index_add_(0, token, y * topk_weights[token, slot, None].to(acc))
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
