"""Fused RMSNorm: one read of x, one write of y, fp32 statistics."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rmsnorm_kernel(x_ptr, w_ptr, y_ptr, n_cols, x_row_stride, y_row_stride, eps,
                    ZERO_CENTERED: tl.constexpr, BLOCK: tl.constexpr):
    """y[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * w, w = 1 + weight if ZERO_CENTERED; one row per program.

    Bytes: 2 * rows * d * itemsize(x) + d * itemsize(w). FLOPs: ~4 * rows * d.
    """
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * x_row_stride + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    if ZERO_CENTERED:
        w += 1.0
    rstd = tl.rsqrt(tl.sum(x * x, axis=0) / n_cols + eps)
    tl.store(y_ptr + row * y_row_stride + cols, (x * rstd * w).to(y_ptr.dtype.element_ty), mask=mask)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6, *, zero_centered: bool = False,
             out: torch.Tensor | None = None) -> torch.Tensor:
    """RMSNorm over the last dim of x [..., d] with weight [d]; returns y like x (or writes ``out``).

    ``zero_centered`` multiplies by (1 + weight), as Gemma and Qwen3-Next store their norm weights.
    """
    d = x.shape[-1]
    x2 = x.reshape(-1, d)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    y = torch.empty_like(x) if out is None else out
    y2 = y.view(-1, d)
    block = triton.next_power_of_2(d)
    num_warps = min(max(block // 256, 1), 16)  # 8 elements per thread: one 16-byte bf16 load
    _rmsnorm_kernel[(x2.shape[0],)](x2, weight, y2, d, x2.stride(0), y2.stride(0), eps,
                                    ZERO_CENTERED=zero_centered, BLOCK=block, num_warps=num_warps)
    return y
