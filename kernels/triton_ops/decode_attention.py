"""Decode attention over a KV cache: flash-decoding split-K with GQA/MQA and sliding windows.

Phase 1 (``_split_kernel``): one program per (sequence, KV head, KV split) loads each K/V block of
its split once and scores it against all G = H / KVH query heads of the group with one ``tl.dot``,
keeping an online softmax; it writes the split's normalised output and log-sum-exp.
Phase 2 merges the splits. By default it runs inside phase 1 (FUSED): each split program counts
itself in with an atomic once its partial is stored, and the last one of a (sequence, KV head) merges
that group's splits, so a call is one launch. Otherwise ``_combine_kernel`` runs as a second launch,
one program per (sequence, query head). With a single split, phase 1 writes the output itself (DIRECT):
no scratch either. At short spans a launch is most of the cost (see benchmarks/KERNELS_NOTES.md).
The MLA decode kernel shares both merges.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels.triton_ops import dot_operand_config, num_sms
from kernels.triton_ops.arrivals import arrival_counters, last_to_arrive

LOG2E = 1.4426950408889634


@triton.jit
def online_softmax_step(s, m_i, l_i):
    """Fold scores s [M, N] (log2 units, -inf where masked) into the running max m_i and sum l_i [M].

    Returns (p = 2^(s - m_new) [M, N], alpha = 2^(m_i - m_new) [M] to rescale the accumulator,
    m_new, l_new). Every row of s must hold at least one finite score.
    """
    m_new = tl.maximum(m_i, tl.max(s, axis=1))
    alpha = tl.exp2(m_i - m_new)
    p = tl.exp2(s - m_new[:, None])
    return p, alpha, m_new, l_i * alpha + tl.sum(p, axis=1)


@triton.jit
def store_split(mid_o_ptr, mid_lse_ptr, rows, row_mask, offs_d, d_mask, acc, m_i, l_i, HEAD_DIM: tl.constexpr):
    """mid_o[rows] = acc / l_i and mid_lse[rows] = m_i + log2(l_i); an empty split (l_i == 0) gets 0 and -inf."""
    nonempty = l_i > 0.0
    l_safe = tl.where(nonempty, l_i, 1.0)
    tl.store(mid_lse_ptr + rows, tl.where(nonempty, m_i + tl.log2(l_safe), float("-inf")), mask=row_mask)
    tl.store(mid_o_ptr + rows[:, None] * HEAD_DIM + offs_d[None, :], acc / l_safe[:, None],
             mask=row_mask[:, None] & d_mask[None, :])


@triton.jit
def merge_group_splits(mid_o_ptr, mid_lse_ptr, out_ptr, first_row, g_mask, offs_d, d_mask, n_splits, out_rows,
                       HEAD_DIM: tl.constexpr):
    """out[out_rows] = the splits of rows ``first_row`` [G] (rows first_row + s of mid_o/mid_lse) merged
    by their log-sum-exp weights. Split 0 is never empty (len >= 1), so it seeds the running max;
    empty splits (lse = -inf) weigh 0. Loads bypass L1 (.cg): other SMs wrote most of these rows.
    """
    m = tl.load(mid_lse_ptr + first_row, mask=g_mask, other=0.0, cache_modifier=".cg")  # [G]
    acc = tl.load(mid_o_ptr + first_row[:, None] * HEAD_DIM + offs_d[None, :],
                  mask=g_mask[:, None] & d_mask[None, :], other=0.0, cache_modifier=".cg")  # [G, D]
    total = tl.full(m.shape, 1.0, tl.float32)
    for s in range(1, n_splits):
        lse = tl.load(mid_lse_ptr + first_row + s, mask=g_mask, other=float("-inf"), cache_modifier=".cg")
        o = tl.load(mid_o_ptr + (first_row + s)[:, None] * HEAD_DIM + offs_d[None, :],
                    mask=g_mask[:, None] & d_mask[None, :], other=0.0, cache_modifier=".cg")
        m_new = tl.maximum(m, lse)
        alpha, w = tl.exp2(m - m_new), tl.exp2(lse - m_new)
        acc = acc * alpha[:, None] + o * w[:, None]
        total = total * alpha + w
        m = m_new
    tl.store(out_rows, (acc / total[:, None]).to(out_ptr.dtype.element_ty), mask=g_mask[:, None] & d_mask[None, :])


@triton.jit
def merge_when_last(arrivals_ptr, counter, n_splits, mid_o_ptr, mid_lse_ptr, out_ptr, first_row, row_mask, offs_d,
                    d_mask, out_rows, HEAD_DIM: tl.constexpr):
    """The fused merge, after this program stored its split: the group's last split to finish
    (``arrivals.last_to_arrive``) merges all of them into ``out_rows``."""
    if last_to_arrive(arrivals_ptr, counter, n_splits):
        merge_group_splits(mid_o_ptr, mid_lse_ptr, out_ptr, first_row, row_mask, offs_d, d_mask, n_splits,
                           out_rows, HEAD_DIM)


@triton.jit
def soft_capped(s, cap_log2):
    """cap * tanh(s) in log2 units (cap_log2 = cap * log2(e)); tanh(s) = 1 - 2 / (e^2s + 1), which
    saturates to +-1 without overflow (e^2s = inf gives 1)."""
    return cap_log2 * (1.0 - 2.0 / (tl.exp2(s * (2.0 * 1.4426950408889634)) + 1.0))


@triton.jit
def attend_block(q, k_base, v_base, n0, hi, offs_d, d_mask, s_kt, s_vt, qk_scale, cap_log2, acc, m_i, l_i,
                 MASK_N: tl.constexpr, MASK_D: tl.constexpr, BLOCK_N: tl.constexpr,
                 DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr, SOFTCAP: tl.constexpr):
    """Fold keys [n0, n0 + BLOCK_N) (those < hi when MASK_N) into the online softmax of q [BLOCK_G,
    BLOCK_D]. Without MASK_N and MASK_D the K and V tiles load without predicates. SOFTCAP: the
    scores are cap * tanh(q.k * qk_scale), qk_scale then being scale / cap."""
    offs_n = n0 + tl.arange(0, BLOCK_N)
    k_ptrs = k_base + offs_n[:, None] * s_kt + offs_d[None, :]
    v_ptrs = v_base + offs_n[:, None] * s_vt + offs_d[None, :]
    if MASK_N:
        n_mask = offs_n < hi
        kv_mask = n_mask[:, None] & d_mask[None, :]
        k = tl.load(k_ptrs, mask=kv_mask, other=0.0)
    elif MASK_D:
        k = tl.load(k_ptrs, mask=d_mask[None, :], other=0.0)
    else:
        k = tl.load(k_ptrs)
    s = tl.dot(q, tl.trans(k.to(DOT_DTYPE)), input_precision=DOT_PREC) * qk_scale  # [BLOCK_G, BLOCK_N]
    if SOFTCAP:
        s = soft_capped(s, cap_log2)
    if MASK_N:
        s = tl.where(n_mask[None, :], s, float("-inf"))
    p, alpha, m_i, l_i = online_softmax_step(s, m_i, l_i)
    if MASK_N:
        v = tl.load(v_ptrs, mask=kv_mask, other=0.0)
    elif MASK_D:
        v = tl.load(v_ptrs, mask=d_mask[None, :], other=0.0)
    else:
        v = tl.load(v_ptrs)
    acc = acc * alpha[:, None] + tl.dot(p.to(DOT_DTYPE), v.to(DOT_DTYPE), input_precision=DOT_PREC)
    return acc, m_i, l_i


@triton.jit
def _split_kernel(q_ptr, k_ptr, v_ptr, lens_ptr, mid_o_ptr, mid_lse_ptr, out_ptr, arrivals_ptr,
                  qk_scale, cap_log2, window, split_len, n_heads, n_splits,
                  s_qb, s_qh, s_kb, s_kh, s_kt, s_vb, s_vh, s_vt, s_ob, s_oh,
                  GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, SLIDING: tl.constexpr, DIRECT: tl.constexpr,
                  FUSED: tl.constexpr, BLOCK_G: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
                  DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr, UNMASKED_BODY: tl.constexpr,
                  SOFTCAP: tl.constexpr):
    """Partial attention of one KV split for the GROUP query heads sharing KV head ``kvh``.

    Attends positions [lo, hi) of sequence b, where the sequence's visible range is
    [max(len - window, 0), len) (or [0, len)) cut into ``split_len``-long splits.
    Writes mid_o[b, h, split, :] = softmax-weighted V over the split (normalised within it) and
    mid_lse[b, h, split] = log2 of the split's softmax denominator (-inf for an empty split);
    DIRECT (one split, never empty: len >= 1): out[b, h, :] instead.
    FUSED: the last split program of (b, kvh) to finish, counted in ``arrivals[b, kvh]`` (see
    ``kernels.triton_ops.arrivals``), also merges the group's splits into out.
    qk_scale = softmax scale * log2(e), so exp2 replaces exp; with SOFTCAP, scale / cap (the cap,
    cap_log2 = cap * log2(e), is applied after the tanh).
    UNMASKED_BODY: the split's whole KV blocks load without predicates, and only its last, partial
    block is masked (one loop over all blocks, each masked, otherwise).
    Bytes: 2 * span * D * itemsize per (b, kvh) (K and V once); FLOPs: 4 * G * span * D.
    """
    b = tl.program_id(0).to(tl.int64)
    kvh = tl.program_id(1).to(tl.int64)
    split = tl.program_id(2)

    seq_len = tl.load(lens_ptr + b)
    start = tl.maximum(seq_len - window, 0) if SLIDING else 0
    lo = start + split * split_len
    hi = tl.minimum(lo + split_len, seq_len)

    offs_g = tl.arange(0, BLOCK_G)
    offs_d = tl.arange(0, BLOCK_D)
    heads = kvh * GROUP + offs_g  # [BLOCK_G] query heads of this group
    g_mask = offs_g < GROUP
    d_mask = offs_d < HEAD_DIM
    q = tl.load(q_ptr + b * s_qb + heads[:, None] * s_qh + offs_d[None, :],
                mask=g_mask[:, None] & d_mask[None, :], other=0.0).to(DOT_DTYPE)  # [BLOCK_G, BLOCK_D]

    k_base = k_ptr + b * s_kb + kvh * s_kh
    v_base = v_ptr + b * s_vb + kvh * s_vh
    m_i = tl.full([BLOCK_G], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_G], tl.float32)
    acc = tl.zeros([BLOCK_G, BLOCK_D], tl.float32)
    masked_from = lo
    if UNMASKED_BODY:                       # whole blocks first, loaded without predicates
        masked_from = lo + tl.maximum(hi - lo, 0) // BLOCK_N * BLOCK_N
        for n0 in range(lo, masked_from, BLOCK_N):
            acc, m_i, l_i = attend_block(q, k_base, v_base, n0, hi, offs_d, d_mask, s_kt, s_vt, qk_scale,
                                         cap_log2, acc, m_i, l_i, False, BLOCK_D != HEAD_DIM, BLOCK_N,
                                         DOT_DTYPE, DOT_PREC, SOFTCAP)
    for n0 in range(masked_from, hi, BLOCK_N):
        acc, m_i, l_i = attend_block(q, k_base, v_base, n0, hi, offs_d, d_mask, s_kt, s_vt, qk_scale,
                                     cap_log2, acc, m_i, l_i, True, True, BLOCK_N, DOT_DTYPE, DOT_PREC, SOFTCAP)

    if DIRECT:
        out = acc / tl.where(l_i > 0.0, l_i, 1.0)[:, None]
        tl.store(out_ptr + b * s_ob + heads[:, None] * s_oh + offs_d[None, :],
                 out.to(out_ptr.dtype.element_ty), mask=g_mask[:, None] & d_mask[None, :])
    else:
        first_row = (b * n_heads + heads) * n_splits  # [BLOCK_G] rows of split 0 in mid_o / mid_lse
        store_split(mid_o_ptr, mid_lse_ptr, first_row + split, g_mask, offs_d, d_mask, acc, m_i, l_i, HEAD_DIM)
        if FUSED:
            merge_when_last(arrivals_ptr, b * tl.num_programs(1) + kvh, n_splits, mid_o_ptr, mid_lse_ptr, out_ptr,
                            first_row, g_mask, offs_d, d_mask,
                            out_ptr + b * s_ob + heads[:, None] * s_oh + offs_d[None, :], HEAD_DIM)


@triton.jit
def _combine_kernel(mid_o_ptr, mid_lse_ptr, out_ptr, n_heads, n_splits, s_ob, s_oh,
                    HEAD_DIM: tl.constexpr, BLOCK_S: tl.constexpr, BLOCK_D: tl.constexpr):
    """out[b, h] = sum_s w_s * mid_o[b, h, s] / sum_s w_s with w_s = 2^(lse_s - max lse).

    Bytes: S * (D + 1) * 4 read + D * itemsize written per (b, h); FLOPs: ~3 * S * D.
    """
    b = tl.program_id(0).to(tl.int64)
    h = tl.program_id(1).to(tl.int64)
    offs_s = tl.arange(0, BLOCK_S)
    offs_d = tl.arange(0, BLOCK_D)
    s_mask = offs_s < n_splits
    d_mask = offs_d < HEAD_DIM
    rows = (b * n_heads + h) * n_splits + offs_s  # [BLOCK_S]
    lse = tl.load(mid_lse_ptr + rows, mask=s_mask, other=float("-inf"))
    w = tl.exp2(lse - tl.max(lse, axis=0))  # [BLOCK_S]; empty splits weigh 0
    o = tl.load(mid_o_ptr + rows[:, None] * HEAD_DIM + offs_d[None, :],
                mask=s_mask[:, None] & d_mask[None, :], other=0.0)  # [BLOCK_S, BLOCK_D]
    out = tl.sum(o * w[:, None], axis=0) / tl.sum(w, axis=0)
    tl.store(out_ptr + b * s_ob + h * s_oh + offs_d, out.to(out_ptr.dtype.element_ty), mask=d_mask)


def dot_dim(n: int) -> int:
    """Tile size covering n along a ``tl.dot`` dimension: a power of two, at least 16 (tl.dot's minimum)."""
    return max(16, triton.next_power_of_2(n))


def split_count(programs: int, span: int, sms: int, min_tokens: int = 256) -> int:
    """KV splits per program of MLA's phase 1: about 2 programs per SM, each split >= ``min_tokens`` long."""
    return max(1, min(triton.cdiv(2 * sms, programs), span // min_tokens))


def attention_split_count(programs: int, span: int, sms: int, min_tokens: int = 128) -> int:
    """KV splits per program of decode attention's phase 1: about one program per SM (rounded to the
    nearest), each split >= ``min_tokens`` long.

    H100 sweep, 2026-11-23 (graph replays; KERNELS_NOTES.md): the best split count put B*KVH*splits
    near the 132 SMs. Gemma-3 local (window 1024) B=8, 128 programs: 1 split 24.6 us, 3 splits 26.5 us;
    B=1, 16 programs: 8 splits 6.1 us, 4 splits 6.6 us; Llama-3-8B B=32 T=32K, 256 programs: 1 split
    1372 us, 2 splits 1383 us; B=1 T=4K, 8 programs: 16 splits 7.7 us, 8 splits 9.4 us.
    """
    return max(1, min(round(sms / programs), span // min_tokens))


def fuse_merge_by_default(splits: int) -> bool:
    """Merge in the split kernel only for a few splits: the last program of a group merges all of
    them alone, and past 4 splits that tail cost more than the second launch it saves (H100,
    Llama-3-8B B=1 T=4K, 16 splits: 10.7 us fused, 7.7 us two launches; Gemma-3 local B=8,
    3 splits: 26.5 us fused, 27.2 us two launches)."""
    return splits <= 4


def default_tiles(head_dim: int) -> tuple[int, int]:
    """(block_n, num_stages): 128 keys and 3 stages measured best or within 1% of it at head dim 128
    (3 stages against 2 at 64 keys: 24.8 us against 31.8 us for Gemma-3 local B=8). Wider heads keep
    the earlier 64 keys and 2 stages, whose K and V tiles are known to fit in shared memory."""
    return (128, 3) if head_dim <= 128 else (64, 2) if head_dim <= 256 else (32, 2)


def split_length(span: int, splits: int, block_n: int) -> int:
    """Length of each split: ``span / splits`` rounded up to whole KV blocks."""
    return triton.cdiv(triton.cdiv(span, splits), block_n) * block_n


def combine_splits(mid_o: torch.Tensor, mid_lse: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Phase 2: mid_o [B, H, S, D] fp32 and mid_lse [B, H, S] (log2) -> out [B, H, D]."""
    b, h, s, d = mid_o.shape
    _combine_kernel[(b, h)](mid_o, mid_lse, out, h, s, out.stride(0), out.stride(1),
                            HEAD_DIM=d, BLOCK_S=triton.next_power_of_2(s), BLOCK_D=triton.next_power_of_2(d),
                            num_warps=4 if d <= 256 else 8)
    return out


def check_last_dim_contiguous(**tensors: torch.Tensor) -> None:
    """Raise ValueError naming the first tensor whose last dimension is strided."""
    for name, t in tensors.items():
        if t.stride(-1) != 1:
            raise ValueError(f"{name} must be contiguous in its last dimension")


def decode_attention(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, seq_lens: torch.Tensor, *,
                     scale: float | None = None, softcap: float = 0.0, window: int | None = None,
                     num_splits: int | None = None,
                     block_n: int | None = None, num_warps: int = 4, num_stages: int | None = None,
                     fused_merge: bool | None = None, unmasked_body: bool = False,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """Attention of one new token per sequence over its KV cache.

    q [B, H, D]; k_cache, v_cache [B, KVH, T, D] with KVH dividing H (KVH == 1 is MQA);
    seq_lens [B] int32, 1 <= len <= T; ``window``: attend only to the last ``window`` positions;
    ``softcap`` c > 0: the scores are c * tanh(q.k * scale / c) (Gemma 2).
    ``fused_merge``: merge the splits inside the split kernel (one launch) rather than in a second;
    by default only for a few splits (``fuse_merge_by_default``). Tiles default to ``default_tiles``.
    ``unmasked_body``: load whole KV blocks without predicates, masking only each split's tail block
    (off by default until measured on a GPU: benchmarks/KERNELS_NOTES.md).
    Returns out [B, H, D] in q's dtype (or writes ``out``). fp32 softmax and accumulation.
    Bytes: B * KVH * span * D * 2 * itemsize (+ q and out), span = min(len, window);
    FLOPs: 4 * B * H * span * D.
    """
    check_last_dim_contiguous(q=q, k_cache=k_cache, v_cache=v_cache)
    b, h, d = q.shape
    kvh, t_max = k_cache.shape[1], k_cache.shape[2]
    if h % kvh:
        raise ValueError(f"{kvh} KV heads do not divide {h} query heads")
    group = h // kvh
    if not (softcap >= 0 and math.isfinite(softcap)):
        raise ValueError(f"softcap must be 0 (none) or positive, got {softcap}")
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    span = t_max if window is None else min(window, t_max)  # most positions a sequence attends
    tile_n, tile_stages = default_tiles(d)
    block_n, num_stages = block_n or tile_n, num_stages or tile_stages
    splits = num_splits or attention_split_count(b * kvh, span, num_sms(q.device))
    split_len = split_length(span, splits, block_n)
    splits = triton.cdiv(span, split_len)  # no split left empty for a full-length sequence

    out = torch.empty_like(q) if out is None else out
    check_last_dim_contiguous(out=out)
    direct = splits == 1
    fused_merge = fuse_merge_by_default(splits) if fused_merge is None else fused_merge
    arrivals = None if direct or not fused_merge else arrival_counters(q.device, b * kvh)
    if direct:                      # the output is written by phase 1; no scratch
        mid_o = mid_lse = out
    else:
        mid_o = torch.empty(b, h, splits, d, dtype=torch.float32, device=q.device)
        mid_lse = torch.empty(b, h, splits, dtype=torch.float32, device=q.device)
    dot_dtype, dot_prec = dot_operand_config(q.dtype)
    _split_kernel[(b, kvh, splits)](
        q, k_cache, v_cache, seq_lens, mid_o, mid_lse, out, seq_lens if arrivals is None else arrivals,
        scale / softcap if softcap else scale * LOG2E, softcap * LOG2E, window or 0, split_len, h, splits,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2), out.stride(0), out.stride(1),
        GROUP=group, HEAD_DIM=d, SLIDING=window is not None, DIRECT=direct, FUSED=arrivals is not None,
        BLOCK_G=dot_dim(group), BLOCK_D=dot_dim(d), BLOCK_N=block_n,
        DOT_DTYPE=dot_dtype, DOT_PREC=dot_prec, UNMASKED_BODY=unmasked_body, SOFTCAP=softcap > 0,
        num_warps=num_warps,
        num_stages=num_stages)
    return out if direct or arrivals is not None else combine_splits(mid_o, mid_lse, out)
