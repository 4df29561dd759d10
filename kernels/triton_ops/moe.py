"""Mixture of experts: top-k routing, token sort by expert, grouped gated-SiLU expert GEMMs.

Pipeline for N tokens, E experts, k experts per token (A = N * k assignments, assignment a = n * k + j):
  route           logits [N, E] -> topk_weights [N, k] fp32, topk_ids [N, k] int32   (Triton or torch)
  sort_by_expert  topk_ids -> the assignments grouped by expert, each expert's group padded to
                  whole blocks of BLOCK_M rows; no host synchronisation (the block count is bounded)
  _gate_up_kernel h[a] = silu(x[n] @ W_gate[e]) * (x[n] @ W_up[e])            h [A, F]
  _down_kernel    y[a] = topk_weights[a] * (h[a] @ W_down[e])                  y [A, d] fp32
  unpermute       out[n] = sum_j y[n * k + j]
Each program of a grouped GEMM reads its expert's weight tile once for up to BLOCK_M tokens, so at
decode the expert weights of the experts in use are read once: the kernels are bandwidth-bound.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from kernels.triton_ops import dot_operand_config, num_sms, reference


@triton.jit
def _route_kernel(logits_ptr, w_ptr, ids_ptr, n_experts, s_ln,
                  TOP_K: tl.constexpr, SIGMOID: tl.constexpr, RENORMALIZE: tl.constexpr,
                  BLOCK_E: tl.constexpr, BLOCK_K: tl.constexpr):
    """Routing of one token: scores = softmax or sigmoid of its E logits, the TOP_K largest in
    descending order, optionally divided by their sum. Bytes: E * itemsize + k * 8; FLOPs: ~(k + 4) * E.
    """
    n = tl.program_id(0).to(tl.int64)
    offs_e = tl.arange(0, BLOCK_E)
    e_mask = offs_e < n_experts
    x = tl.load(logits_ptr + n * s_ln + offs_e, mask=e_mask, other=float("-inf")).to(tl.float32)
    if SIGMOID:
        scores = tl.sigmoid(x)
    else:
        z = tl.exp(x - tl.max(x, axis=0))
        scores = z / tl.sum(z, axis=0)
    scores = tl.where(e_mask, scores, float("-inf"))

    offs_k = tl.arange(0, BLOCK_K)
    top_w = tl.zeros([BLOCK_K], tl.float32)
    top_i = tl.zeros([BLOCK_K], tl.int32)
    for j in tl.static_range(TOP_K):
        best = tl.argmax(scores, axis=0)
        top_w = tl.where(offs_k == j, tl.max(scores, axis=0), top_w)
        top_i = tl.where(offs_k == j, best, top_i)
        scores = tl.where(offs_e == best, float("-inf"), scores)
    if RENORMALIZE:
        top_w = top_w / tl.sum(top_w, axis=0)
    tl.store(w_ptr + n * TOP_K + offs_k, top_w, mask=offs_k < TOP_K)
    tl.store(ids_ptr + n * TOP_K + offs_k, top_i, mask=offs_k < TOP_K)


def route(logits: torch.Tensor, top_k: int, *, scoring: str = "softmax", renormalize: bool = True,
          use_triton: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [N, E] -> (topk_weights [N, k] fp32, topk_ids [N, k] int32), scores in descending order.

    ``scoring`` is "softmax" or "sigmoid" (DeepSeek-V3's bias correction and group limit route in
    torch: ``kernels.blocks.MoE.route``).
    """
    if scoring not in ("softmax", "sigmoid"):
        raise ValueError(f"scoring must be 'softmax' or 'sigmoid', not {scoring!r}")
    if not use_triton:
        weights, ids = reference.route(logits, top_k, scoring, renormalize)
        return weights.float(), ids.int()
    n, e = logits.shape
    weights = torch.empty(n, top_k, dtype=torch.float32, device=logits.device)
    ids = torch.empty(n, top_k, dtype=torch.int32, device=logits.device)
    _route_kernel[(n,)](logits, weights, ids, e, logits.stride(0), TOP_K=top_k, SIGMOID=scoring == "sigmoid",
                        RENORMALIZE=renormalize, BLOCK_E=triton.next_power_of_2(e),
                        BLOCK_K=triton.next_power_of_2(top_k))
    return weights, ids


class ExpertBlocks(NamedTuple):
    """Assignments grouped by expert, in blocks of ``block_m`` rows that each belong to one expert."""

    rows: torch.Tensor  # [num_blocks * block_m] int32: assignment n * k + j, or A for a padding row
    block_expert: torch.Tensor  # [num_blocks] int32: the block's expert, or E for an unused block
    block_m: int


def sort_by_expert(topk_ids: torch.Tensor, n_experts: int, block_m: int) -> ExpertBlocks:
    """Group the A = N * k assignments of topk_ids [N, k] by expert (stable), padding each expert to
    whole blocks. The number of blocks is bounded by A // block_m + min(E, A), so the grid is known
    without reading the counts back to the host; blocks past the used ones are marked unused.
    """
    flat = topk_ids.flatten().long()  # [A] expert of each assignment
    n_assign = flat.numel()
    device = flat.device
    counts = torch.zeros(n_experts, dtype=torch.long, device=device)
    counts.scatter_add_(0, flat, torch.ones_like(flat))  # [E] assignments per expert (bincount syncs)
    blocks = (counts + block_m - 1) // block_m  # [E] blocks per expert
    block_end = blocks.cumsum(0)  # [E] one past each expert's last block
    max_blocks = n_assign // block_m + min(n_experts, n_assign)
    block_expert = torch.searchsorted(block_end, torch.arange(max_blocks, device=device), right=True)

    order = torch.argsort(flat, stable=True)  # [A] assignments grouped by expert
    expert = flat[order]
    rank = torch.arange(n_assign, device=device) - (counts.cumsum(0) - counts)[expert]  # index within expert
    dest = (block_end - blocks)[expert] * block_m + rank  # [A] sorted row of each assignment
    rows = torch.full((max_blocks * block_m,), n_assign, dtype=torch.int32, device=device)
    rows[dest] = order.int()
    return ExpertBlocks(rows, block_expert.int(), block_m)


@triton.jit
def _gate_up_kernel(x_ptr, wg_ptr, wu_ptr, h_ptr, rows_ptr, block_expert_ptr,
                    n_experts, n_assign, top_k, d_model, d_ff, s_xn, k_per_split,
                    SPLIT_K: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                    DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr):
    """g = x[a // k] @ W_gate[e][ks, f-tile], u = x[a // k] @ W_up[e][ks, f-tile] for the BLOCK_M
    assignments a of one expert block over the K-range ks of this split. With SPLIT_K == 1 stores
    h[a, f-tile] = silu(g) * u; otherwise stores g and u to h[split, 0 or 1, a, f-tile] (fp32) for
    the caller to add up. W_gate, W_up [E, d, F] contiguous.
    Bytes: 2 * d * F * itemsize per expert in use (+ x, h); FLOPs: 4 * A * d * F.
    """
    pid_m = tl.program_id(0)
    expert = tl.load(block_expert_ptr + pid_m).to(tl.int64)
    if expert >= n_experts:
        return
    rows = tl.load(rows_ptr + pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)  # [BLOCK_M] assignments
    r_mask = rows < n_assign
    tokens = rows // top_k
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = offs_n < d_ff
    split = tl.program_id(2)
    w_off = expert * d_model * d_ff
    acc_g = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    acc_u = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    k_lo = split * k_per_split
    for k0 in range(k_lo, tl.minimum(k_lo + k_per_split, d_model), BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        k_mask = offs_k < d_model
        a = tl.load(x_ptr + tokens[:, None] * s_xn + offs_k[None, :], mask=r_mask[:, None] & k_mask[None, :],
                    other=0.0).to(DOT_DTYPE)  # [BLOCK_M, BLOCK_K]
        w_tile = w_off + offs_k[:, None] * d_ff + offs_n[None, :]  # [BLOCK_K, BLOCK_N]
        w_mask = k_mask[:, None] & n_mask[None, :]
        acc_g = tl.dot(a, tl.load(wg_ptr + w_tile, mask=w_mask, other=0.0).to(DOT_DTYPE), acc_g,
                       input_precision=DOT_PREC)
        acc_u = tl.dot(a, tl.load(wu_ptr + w_tile, mask=w_mask, other=0.0).to(DOT_DTYPE), acc_u,
                       input_precision=DOT_PREC)
    out_mask = r_mask[:, None] & n_mask[None, :]
    if SPLIT_K == 1:
        h = acc_g * tl.sigmoid(acc_g) * acc_u
        tl.store(h_ptr + rows[:, None] * d_ff + offs_n[None, :], h.to(h_ptr.dtype.element_ty), mask=out_mask)
    else:
        g_ptr = h_ptr + (split * 2 * n_assign + rows[:, None]) * d_ff + offs_n[None, :]
        tl.store(g_ptr, acc_g, mask=out_mask)
        tl.store(g_ptr + n_assign * d_ff, acc_u, mask=out_mask)


@triton.jit
def _down_kernel(h_ptr, wd_ptr, y_ptr, rows_ptr, block_expert_ptr, topk_w_ptr,
                 n_experts, n_assign, d_ff, d_model, k_per_split,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                 DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr):
    """y[split, a, d-tile] = topk_weight[a] * (h[a, ks] @ W_down[e][ks, d-tile]) in fp32 over the
    K-range ks of this split; W_down [E, F, d] contiguous.
    Bytes: F * d * itemsize per expert in use (+ h, y); FLOPs: 2 * A * F * d.
    """
    pid_m = tl.program_id(0)
    expert = tl.load(block_expert_ptr + pid_m).to(tl.int64)
    if expert >= n_experts:
        return
    rows = tl.load(rows_ptr + pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    r_mask = rows < n_assign
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = offs_n < d_model
    split = tl.program_id(2)
    w_off = expert * d_ff * d_model
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    k_lo = split * k_per_split
    for k0 in range(k_lo, tl.minimum(k_lo + k_per_split, d_ff), BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        k_mask = offs_k < d_ff
        a = tl.load(h_ptr + rows[:, None] * d_ff + offs_k[None, :], mask=r_mask[:, None] & k_mask[None, :],
                    other=0.0).to(DOT_DTYPE)
        b = tl.load(wd_ptr + w_off + offs_k[:, None] * d_model + offs_n[None, :],
                    mask=k_mask[:, None] & n_mask[None, :], other=0.0).to(DOT_DTYPE)
        acc = tl.dot(a, b, acc, input_precision=DOT_PREC)
    acc *= tl.load(topk_w_ptr + rows, mask=r_mask, other=0.0)[:, None]
    y = y_ptr + (split * n_assign + rows[:, None]) * d_model + offs_n[None, :]
    tl.store(y, acc, mask=r_mask[:, None] & n_mask[None, :])


def default_block_m(n_assign: int, n_experts: int) -> int:
    """Rows per expert block: the mean assignments per expert, between 16 (tl.dot's minimum) and 64."""
    return min(64, max(16, triton.next_power_of_2(triton.cdiv(n_assign, n_experts))))


def split_k_for(programs: int, k: int, block_k: int, sms: int) -> int:
    """K splits for a grouped GEMM of ``programs`` output tiles: ~8 programs per SM, >= 4 K-blocks each.

    At decode only a few experts are in use, and a grid of one program per output tile leaves each
    program streaming megabytes of weights alone; splitting K shortens that critical path.
    """
    return max(1, min(triton.cdiv(8 * sms, programs), k // block_k // 4))


def moe_ffn(x: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor, w_down: torch.Tensor,
            topk_weights: torch.Tensor, topk_ids: torch.Tensor, *, block_m: int | None = None,
            block_n: int = 64, block_k: int = 128, split_k: int | None = None, num_warps: int = 4,
            num_stages: int = 3, out: torch.Tensor | None = None) -> torch.Tensor:
    """Routed gated-SiLU experts: out[n] = sum_j topk_weights[n, j] * ffn_{topk_ids[n, j]}(x[n]).

    x [N, d]; w_gate, w_up [E, d, F]; w_down [E, F, d] (contiguous); topk_weights, topk_ids [N, k].
    Returns [N, d] in x's dtype (or writes ``out``). ``split_k`` (default: by grid size, per GEMM)
    splits the reduction dim of both GEMMs. Bytes: 3 * d * F * itemsize per expert in use
    (+ activations); FLOPs: 6 * N * k * d * F.
    """
    n_tokens, d_model = x.shape
    n_experts, _, d_ff = w_gate.shape
    top_k = topk_ids.shape[1]
    n_assign = n_tokens * top_k
    for name, t in dict(w_gate=w_gate, w_up=w_up, w_down=w_down, topk_weights=topk_weights).items():
        if not t.is_contiguous():
            raise ValueError(f"{name} must be contiguous")
    if x.stride(1) != 1:
        raise ValueError("x must be contiguous in its last dimension")
    groups = sort_by_expert(topk_ids, n_experts, block_m or default_block_m(n_assign, n_experts))
    n_blocks = groups.block_expert.numel()
    dot_dtype, dot_prec = dot_operand_config(x.dtype)
    meta = dict(BLOCK_M=groups.block_m, BLOCK_N=block_n, BLOCK_K=block_k, DOT_DTYPE=dot_dtype,
                DOT_PREC=dot_prec, num_warps=num_warps, num_stages=num_stages)
    sms = num_sms(x.device)

    tiles = n_blocks * triton.cdiv(d_ff, block_n)
    splits = split_k or split_k_for(tiles, d_model, block_k, sms)
    k_per_split = triton.cdiv(triton.cdiv(d_model, splits), block_k) * block_k
    splits = triton.cdiv(d_model, k_per_split)
    h = torch.empty((n_assign, d_ff) if splits == 1 else (splits, 2, n_assign, d_ff),
                    dtype=x.dtype if splits == 1 else torch.float32, device=x.device)
    _gate_up_kernel[(n_blocks, triton.cdiv(d_ff, block_n), splits)](
        x, w_gate, w_up, h, groups.rows, groups.block_expert, n_experts, n_assign, top_k, d_model, d_ff,
        x.stride(0), k_per_split, SPLIT_K=splits, **meta)
    if splits > 1:
        gate, up = h.sum(dim=0)
        h = (F.silu(gate) * up).to(x.dtype)

    tiles = n_blocks * triton.cdiv(d_model, block_n)
    splits = split_k or split_k_for(tiles, d_ff, block_k, sms)
    k_per_split = triton.cdiv(triton.cdiv(d_ff, splits), block_k) * block_k
    splits = triton.cdiv(d_ff, k_per_split)
    y = torch.empty(splits, n_assign, d_model, dtype=torch.float32, device=x.device)
    _down_kernel[(n_blocks, triton.cdiv(d_model, block_n), splits)](
        h, w_down, y, groups.rows, groups.block_expert, topk_weights, n_experts, n_assign, d_ff, d_model,
        k_per_split, **meta)
    out = torch.empty_like(x) if out is None else out
    return out.copy_(y.view(splits, n_tokens, top_k, d_model).sum(dim=(0, 2)))  # unpermute: row a = n * k + j


def moe(x: torch.Tensor, router_logits: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor,
        w_down: torch.Tensor, top_k: int, *, scoring: str = "softmax", renormalize: bool = True) -> torch.Tensor:
    """Route with the Triton kernel, then run the routed experts: x [N, d], router_logits [N, E] -> [N, d]."""
    topk_weights, topk_ids = route(router_logits, top_k, scoring=scoring, renormalize=renormalize)
    return moe_ffn(x, w_gate, w_up, w_down, topk_weights, topk_ids)
