"""The project's own Triton kernels, with plain-torch references beside them.

Importing this package imports neither torch nor triton, so the application can ask whether the
kernels can run before paying for either import. The kernel modules (``rmsnorm``,
``decode_attention``, ``mla_decode``, ``moe``, ``int4_gemm``) import triton at module level;
``reference`` needs torch only.

Without a GPU the kernels run in Triton's interpreter: set ``TRITON_INTERPRET=1`` before the first
kernel module is imported (Triton decides at decoration time whether a kernel is interpreted).
"""

from __future__ import annotations

import functools
import importlib.util
import os

__all__ = ["triton_available", "interpreting", "dot_operand_config", "num_sms"]


def triton_available() -> bool:
    """True when the ``triton`` package is installed (it is not imported here)."""
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """True when kernels decorated from now on run in Triton's CPU interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def dot_operand_config(dtype):
    """``(operand dtype, input_precision)`` for ``tl.dot`` on tiles loaded from ``dtype`` tensors.

    fp32 operands use IEEE precision (Triton's default, tf32, costs ~3e-4 relative error); for
    16-bit operands the precision argument is Triton's default and has no effect. bf16 operands
    are widened to fp32 under the interpreter, whose ``dot`` multiplies bf16 bit patterns as
    integers (seen in triton 3.6 and 3.9); on a GPU they stay bf16.
    """
    import torch
    import triton.language as tl

    if dtype == torch.float32:
        return tl.float32, "ieee"
    if dtype == torch.float16:
        return tl.float16, "tf32"
    if dtype == torch.bfloat16:
        return (tl.float32 if interpreting() else tl.bfloat16), "tf32"
    raise TypeError(f"unsupported dtype for Triton kernels: {dtype}")


def num_sms(device) -> int:
    """Streaming multiprocessors on ``device`` (4 on the CPU, where the interpreter runs)."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return 4
    return _cuda_sms(device.index if device.index is not None else torch.cuda.current_device())


@functools.lru_cache(maxsize=None)
def _cuda_sms(index: int) -> int:
    import torch

    return torch.cuda.get_device_properties(index).multi_processor_count
