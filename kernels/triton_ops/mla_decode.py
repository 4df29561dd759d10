"""MLA decode (DeepSeek-V2/V3) in the absorbed form: attention in the compressed latent space.

With W_UK folded into the query and W_UV applied after attention, every head attends over the same
cache rows [latent (R) | k_rope (P)], and the latent doubles as the value. Split-K as in
``decode_attention``: phase 1 (``_mla_split_kernel``) handles BLOCK_H heads of one sequence over one
KV split, loading each cache block once for all of them; the splits are merged inside it (the last
to finish merges, as in ``decode_attention``) or by ``combine_splits`` in a second launch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.triton_ops import dot_operand_config, num_sms
from kernels.triton_ops.arrivals import arrival_counters
from kernels.triton_ops.decode_attention import (LOG2E, check_last_dim_contiguous, combine_splits, dot_dim,
                                                 merge_when_last, online_softmax_step, split_count, split_length,
                                                 store_split)


@triton.jit
def _mla_split_kernel(qn_ptr, qr_ptr, lat_ptr, kr_ptr, lens_ptr, mid_o_ptr, mid_lse_ptr, out_ptr, arrivals_ptr,
                      qk_scale, split_len, n_heads, n_splits,
                      s_qnb, s_qnh, s_qrb, s_qrh, s_lb, s_lt, s_rb, s_rt, s_ob, s_oh,
                      RANK: tl.constexpr, ROPE: tl.constexpr, FUSED: tl.constexpr,
                      BLOCK_H: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr,
                      DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr):
    """Partial absorbed-MLA attention of heads [hb*BLOCK_H, +BLOCK_H) of sequence b over one KV split.

    s[h, t] = qk_scale * (q_nope[h] . latent[t] + q_rope[h] . k_rope[t]); o[h] = softmax(s) @ latent
    over positions [split * split_len, +split_len) ∩ [0, len). Writes mid_o / mid_lse like the GQA kernel;
    FUSED: the last split of (b, head block) to finish merges them into out, as there.
    Bytes: span * (R + P) * itemsize per (b, head block); FLOPs: 2 * BLOCK_H * span * (2R + P).
    """
    hb = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    split = tl.program_id(2)

    seq_len = tl.load(lens_ptr + b)
    lo = split * split_len
    hi = tl.minimum(lo + split_len, seq_len)

    heads = hb * BLOCK_H + tl.arange(0, BLOCK_H)
    offs_r = tl.arange(0, BLOCK_R)
    offs_p = tl.arange(0, BLOCK_P)
    h_mask = heads < n_heads
    r_mask = offs_r < RANK
    p_mask = offs_p < ROPE
    q_nope = tl.load(qn_ptr + b * s_qnb + heads[:, None] * s_qnh + offs_r[None, :],
                     mask=h_mask[:, None] & r_mask[None, :], other=0.0).to(DOT_DTYPE)  # [BLOCK_H, BLOCK_R]
    q_rope = tl.load(qr_ptr + b * s_qrb + heads[:, None] * s_qrh + offs_p[None, :],
                     mask=h_mask[:, None] & p_mask[None, :], other=0.0).to(DOT_DTYPE)  # [BLOCK_H, BLOCK_P]

    m_i = tl.full([BLOCK_H], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_H], tl.float32)
    acc = tl.zeros([BLOCK_H, BLOCK_R], tl.float32)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        n_mask = offs_n < hi
        lat = tl.load(lat_ptr + b * s_lb + offs_n[:, None] * s_lt + offs_r[None, :],
                      mask=n_mask[:, None] & r_mask[None, :], other=0.0).to(DOT_DTYPE)  # [BLOCK_N, BLOCK_R]
        k_rope = tl.load(kr_ptr + b * s_rb + offs_n[:, None] * s_rt + offs_p[None, :],
                         mask=n_mask[:, None] & p_mask[None, :], other=0.0).to(DOT_DTYPE)  # [BLOCK_N, BLOCK_P]
        s = tl.dot(q_nope, tl.trans(lat), input_precision=DOT_PREC)
        s = tl.dot(q_rope, tl.trans(k_rope), s, input_precision=DOT_PREC) * qk_scale  # [BLOCK_H, BLOCK_N]
        p, alpha, m_i, l_i = online_softmax_step(tl.where(n_mask[None, :], s, float("-inf")), m_i, l_i)
        acc = acc * alpha[:, None] + tl.dot(p.to(DOT_DTYPE), lat, input_precision=DOT_PREC)

    first_row = (b * n_heads + heads) * n_splits  # [BLOCK_H] rows of split 0
    store_split(mid_o_ptr, mid_lse_ptr, first_row + split, h_mask, offs_r, r_mask, acc, m_i, l_i, RANK)
    if FUSED:
        merge_when_last(arrivals_ptr, b * tl.num_programs(0) + hb, n_splits, mid_o_ptr, mid_lse_ptr, out_ptr,
                        first_row, h_mask, offs_r, r_mask,
                        out_ptr + b * s_ob + heads[:, None] * s_oh + offs_r[None, :], RANK)


def mla_decode(q_nope: torch.Tensor, q_rope: torch.Tensor, latent: torch.Tensor, k_rope: torch.Tensor,
               seq_lens: torch.Tensor, scale: float, *, num_splits: int | None = None, block_h: int = 16,
               block_n: int = 64, num_warps: int = 4, num_stages: int = 2, fused_merge: bool = False,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """Absorbed MLA decode: returns out [B, H, R] in the latent space (q_nope's dtype), or writes ``out``.

    q_nope [B, H, R] (query times W_UK), q_rope [B, H, P]; latent [B, T, R], k_rope [B, T, P]
    (may be views of one [B, T, R + P] cache); seq_lens [B] int32, 1 <= len <= T; ``scale`` is the
    softmax scale of the unabsorbed head dim. ``fused_merge``: merge the splits inside the split kernel
    (one launch; see ``decode_attention``). Off by default: on the H100 the two-launch path was faster
    in 5 of 6 DeepSeek-V3 cases (B=1 T=4K: 18.0 us against 25.8 us; B=32 T=32K: 1600 us against
    1700 us), since each head block's last program merges all its splits alone. Bytes: B * T * (R + P) * itemsize (+ q, out);
    FLOPs: 2 * B * H * T * (2R + P).
    """
    check_last_dim_contiguous(q_nope=q_nope, q_rope=q_rope, latent=latent, k_rope=k_rope)
    b, h, rank = q_nope.shape
    t_max, rope = latent.shape[1], k_rope.shape[2]
    head_blocks = triton.cdiv(h, block_h)
    splits = num_splits or split_count(b * head_blocks, t_max, num_sms(q_nope.device))
    split_len = split_length(t_max, splits, block_n)
    splits = triton.cdiv(t_max, split_len)

    out = torch.empty_like(q_nope) if out is None else out
    check_last_dim_contiguous(out=out)
    arrivals = arrival_counters(q_nope.device, b * head_blocks) if fused_merge else None
    mid_o = torch.empty(b, h, splits, rank, dtype=torch.float32, device=q_nope.device)
    mid_lse = torch.empty(b, h, splits, dtype=torch.float32, device=q_nope.device)
    dot_dtype, dot_prec = dot_operand_config(q_nope.dtype)
    _mla_split_kernel[(head_blocks, b, splits)](
        q_nope, q_rope, latent, k_rope, seq_lens, mid_o, mid_lse, out, seq_lens if arrivals is None else arrivals,
        scale * LOG2E, split_len, h, splits,
        q_nope.stride(0), q_nope.stride(1), q_rope.stride(0), q_rope.stride(1),
        latent.stride(0), latent.stride(1), k_rope.stride(0), k_rope.stride(1), out.stride(0), out.stride(1),
        RANK=rank, ROPE=rope, FUSED=arrivals is not None, BLOCK_H=block_h, BLOCK_R=dot_dim(rank),
        BLOCK_P=dot_dim(rope), BLOCK_N=block_n, DOT_DTYPE=dot_dtype, DOT_PREC=dot_prec,
        num_warps=num_warps, num_stages=num_stages)
    return out if arrivals is not None else combine_splits(mid_o, mid_lse, out)
