"""Weight-only INT4 GEMM/GEMV: y = x @ dequantize(W), dequantizing 4-bit weights tile by tile.

Format (``Int4Weight``) for W [K, N] (y = x @ W, K the input dim):
  packed [K/2, N] uint8   row i holds W-rows 2i (low nibble) and 2i+1 (high nibble), values q in 0..15
  scales [K/G, N], zeros [K/G, N]  per group of G consecutive K-rows: W ~ (q - zero) * scale
Nibble rows pair with the even and odd columns of x, so a tile is two dots and never interleaved.

Dequantisation is in the dot's operand dtype without an integer-to-float conversion: a nibble q
ORed into the mantissa of a "magic" float gives MAGIC + q exactly (bf16 0x4300 = 128, fp16
0x6400 = 1024, fp32 0x4B000000 = 2^23), and (MAGIC + q) - (MAGIC + zero) is exact, so
w = that difference * scale is rounded once, as (q - zero) * scale in fp32 then cast would be.
This is the trick of FasterTransformer's and Marlin's INT4 kernels; it replaces two conversions and
fp32 temporaries twice the size per weight, where the kernel at M >= 32 was ALU- and register-bound.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import triton
import triton.language as tl

from kernels.triton_ops import dot_operand_config, num_sms
from kernels.triton_ops.arrivals import arrival_counters, last_to_arrive


class Int4Weight(NamedTuple):
    packed: torch.Tensor  # [K/2, N] uint8
    scales: torch.Tensor  # [K/G, N]
    zeros: torch.Tensor  # [K/G, N], integer values in 0..15, stored like the scales
    group_size: int


def quantize_int4(w: torch.Tensor, group_size: int = 128) -> Int4Weight:
    """Asymmetric round-to-nearest 4-bit quantization of w [K, N] in groups of ``group_size`` K-rows.

    Per group: scale = (max - min) / 15, zero = round(-min / scale); q = clamp(round(w / scale) + zero, 0, 15).
    Scales and zeros keep w's dtype.
    """
    k, n = w.shape
    if group_size % 2 or k % group_size:
        raise ValueError(f"group size {group_size} must be even and divide K = {k}")
    groups = w.float().view(k // group_size, group_size, n)
    lo, hi = groups.amin(dim=1), groups.amax(dim=1)  # [K/G, N]
    scales = ((hi - lo) / 15).clamp(min=torch.finfo(torch.float32).tiny).to(w.dtype)
    zeros = (-lo / scales.float()).round().clamp(0, 15).to(w.dtype)
    q = (groups / scales.float()[:, None] + zeros.float()[:, None]).round().clamp(0, 15).to(torch.uint8)
    q = q.view(k, n)
    return Int4Weight(q[0::2] | (q[1::2] << 4), scales, zeros, group_size)


MAGIC = {  # dot operand dtype: (integer type of the same width, bits of MAGIC, MAGIC)
    torch.bfloat16: (tl.uint16, 0x4300, 128.0),
    torch.float16: (tl.uint16, 0x6400, 1024.0),
    torch.float32: (tl.uint32, 0x4B000000, 8388608.0),
}


@triton.jit
def dequantize_nibbles(nibbles, magic_zero, scale, BITS_TYPE: tl.constexpr, MAGIC_BITS: tl.constexpr,
                       DOT_DTYPE: tl.constexpr):
    """(q - zero) * scale for nibbles q [R, N] in 0..15, given magic_zero = MAGIC + zero and scale [1, N]
    in DOT_DTYPE: q becomes MAGIC + q by bit pattern, the subtraction is exact, the product rounds once."""
    magic_q = (nibbles.to(BITS_TYPE) | MAGIC_BITS).to(DOT_DTYPE, bitcast=True)
    return (magic_q - magic_zero) * scale


@triton.jit
def _int4_matmul_kernel(x_ptr, qw_ptr, s_ptr, z_ptr, out_ptr, y_ptr, arrivals_ptr, M, N, K, k_per_split,
                        s_xm, s_om, s_osplit, magic,
                        GROUP: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                        BLOCK_K: tl.constexpr, DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr,
                        BITS_TYPE: tl.constexpr, MAGIC_BITS: tl.constexpr, FUSED: tl.constexpr):
    """out[split, m-tile, n-tile] = x[m-tile, ks] @ ((q[ks, n-tile] - zero) * scale) for the K-range ks
    of this split (BLOCK_K divides GROUP, so each K-tile has one scale row). fp32 accumulation.
    FUSED: the tile's last split to finish (``arrivals.last_to_arrive``) adds all the splits into y.
    Bytes: K * N / 2 + 2 * (K / G) * N * itemsize(scales) + M * K * itemsize(x) (+ out);
    FLOPs: 2 * M * N * K (+ ~2 * K * N per M-tile to dequantize). ``magic`` = MAGIC as a float.
    """
    pid_n = tl.program_id(0)
    split = tl.program_id(1)
    offs_m = tl.program_id(2) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_j = tl.arange(0, BLOCK_K // 2)  # packed rows of a K-tile
    m_mask = offs_m < M
    n_mask = offs_n < N
    x_rows = x_ptr + offs_m[:, None].to(tl.int64) * s_xm

    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    k_lo = split * k_per_split
    for k0 in range(k_lo, tl.minimum(k_lo + k_per_split, K), BLOCK_K):
        packed = tl.load(qw_ptr + (k0 // 2 + offs_j)[:, None].to(tl.int64) * N + offs_n[None, :],
                         mask=n_mask[None, :], other=0)  # [BLOCK_K/2, BLOCK_N]
        group_row = (k0 // GROUP) * N + offs_n
        scale = tl.load(s_ptr + group_row, mask=n_mask, other=0.0).to(DOT_DTYPE)[None, :]
        magic_zero = (tl.load(z_ptr + group_row, mask=n_mask, other=0.0).to(tl.float32) + magic).to(DOT_DTYPE)[None, :]
        w_even = dequantize_nibbles(packed & 0xF, magic_zero, scale, BITS_TYPE, MAGIC_BITS, DOT_DTYPE)  # rows k0, k0+2..
        w_odd = dequantize_nibbles(packed >> 4, magic_zero, scale, BITS_TYPE, MAGIC_BITS, DOT_DTYPE)  # k0+1, k0+3..
        x_even = tl.load(x_rows + (k0 + 2 * offs_j)[None, :], mask=m_mask[:, None], other=0.0)
        x_odd = tl.load(x_rows + (k0 + 2 * offs_j + 1)[None, :], mask=m_mask[:, None], other=0.0)
        acc = tl.dot(x_even.to(DOT_DTYPE), w_even, acc, input_precision=DOT_PREC)
        acc = tl.dot(x_odd.to(DOT_DTYPE), w_odd, acc, input_precision=DOT_PREC)
    tile = offs_m[:, None] * s_om + offs_n[None, :]
    mn_mask = m_mask[:, None] & n_mask[None, :]
    tl.store(out_ptr + split * s_osplit + tile, acc.to(out_ptr.dtype.element_ty), mask=mn_mask)
    if FUSED:
        n_splits = tl.num_programs(1)
        if last_to_arrive(arrivals_ptr, tl.program_id(2) * tl.num_programs(0) + pid_n, n_splits):
            total = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
            for s in range(0, n_splits):   # other SMs wrote most of these: bypass L1 (.cg)
                total += tl.load(out_ptr + s * s_osplit + tile, mask=mn_mask, other=0.0, cache_modifier=".cg")
            tl.store(y_ptr + tile, total.to(y_ptr.dtype.element_ty), mask=mn_mask)


_TORCH_DTYPE = {tl.bfloat16: torch.bfloat16, tl.float16: torch.float16, tl.float32: torch.float32}


def int4_matmul(x: torch.Tensor, weight: Int4Weight, *, split_k: int | None = None, block_n: int | None = None,
                num_warps: int = 4, num_stages: int = 3, fused_sum: bool = True,
                out: torch.Tensor | None = None) -> torch.Tensor:
    """x [..., K] (bf16/fp16/fp32) @ W [K, N] stored as ``weight`` -> [..., N] in x's dtype (or ``out``).

    Small M (decode) leaves too few output tiles to fill the GPU, so K is split across programs
    (``split_k``; by default about two programs per SM) and the fp32 partial sums are added: by the
    last split of each tile to finish (``fused_sum``; one launch), else by torch afterwards.
    ``block_n`` defaults to 128 columns for M <= 16 and 256 above (H100 sweep, Llama-3-8B up
    projection: M=1 30.4 us at 128 against 36.7 us at 256; M=32 72.6 us at 256 against 102.4 us at 128).
    """
    packed, scales, zeros, group = weight
    k, n = x.shape[-1], packed.shape[1]
    x2 = x.reshape(-1, k)
    if x2.stride(1) != 1:
        x2 = x2.contiguous()
    m = x2.shape[0]
    block_n = block_n or (128 if m <= 16 else 256)
    block_m = min(64, max(16, triton.next_power_of_2(m)))
    block_k = min(group, 128)
    k_blocks = k // block_k
    tiles = triton.cdiv(n, block_n) * triton.cdiv(m, block_m)
    split_k = split_k or max(1, min(triton.cdiv(2 * num_sms(x.device), tiles), k_blocks // 4))
    k_per_split = triton.cdiv(k_blocks, split_k) * block_k
    split_k = triton.cdiv(k, k_per_split)

    y = torch.empty(*x.shape[:-1], n, dtype=x.dtype, device=x.device) if out is None else out
    y2 = y.view(m, n)
    partial = y2 if split_k == 1 else torch.empty(split_k, m, n, dtype=torch.float32, device=x.device)
    arrivals = arrival_counters(x.device, tiles) if split_k > 1 and fused_sum else None
    dot_dtype, dot_prec = dot_operand_config(x.dtype)
    bits_type, magic_bits, magic = MAGIC[_TORCH_DTYPE[dot_dtype]]
    _int4_matmul_kernel[(triton.cdiv(n, block_n), split_k, triton.cdiv(m, block_m))](
        x2, packed, scales, zeros, partial, y2, partial if arrivals is None else arrivals,
        m, n, k, k_per_split, x2.stride(0), n, m * n, magic,
        GROUP=group, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
        DOT_DTYPE=dot_dtype, DOT_PREC=dot_prec, BITS_TYPE=bits_type, MAGIC_BITS=magic_bits,
        FUSED=arrivals is not None, num_warps=num_warps, num_stages=num_stages)
    if split_k > 1 and arrivals is None:
        y2.copy_(partial.sum(dim=0))
    return y
