"""Number formats for weights, KV cache and activations, with their storage cost in bits.

Quantized formats carry per-group metadata, counted here so memory figures are what a checkpoint
really occupies (DESIGN.md, "Memory"):

- int4 / int8 (GPTQ/AWQ-style): one 16-bit scale and one 16-bit zero point per group of
  ``group_size`` weights: bits = b + 32 / group_size (int4, group 128: 4.25 bits).
- nf4 (QLoRA, Dettmers et al. 2023): 64-weight blocks with double-quantized absmax constants:
  4 + 8/64 + 32/(64*256) = 4.127 bits.
- fp4 (OCP MXFP4, as in gpt-oss): 32-element blocks sharing one 8-bit E8M0 scale: 4.25 bits.
- ternary (BitNet b1.58): weights in {-1, 0, 1}, packed five to a byte: 1.6 bits.
"""
from __future__ import annotations

from dataclasses import dataclass

from .spec import SpecError


@dataclass(frozen=True)
class DType:
    name: str
    base_bits: float
    grouped: bool          # metadata per group of group_size elements
    compute: str           # the peak-FLOPs key a matmul at this format runs at
    description: str

    def bits(self, group_size: int = 128) -> float:
        """Storage bits per element including quantization metadata."""
        if self.name == "nf4":
            return 4 + 8 / 64 + 32 / (64 * 256)
        if self.name == "fp4":
            return 4 + 8 / 32
        if self.grouped:
            return self.base_bits + 32 / group_size
        return self.base_bits

    def bytes(self, group_size: int = 128) -> float:
        return self.bits(group_size) / 8


DTYPES: dict[str, DType] = {d.name: d for d in (
    DType("fp32", 32, False, "fp32", "IEEE single precision"),
    DType("bf16", 16, False, "bf16", "bfloat16"),
    DType("fp16", 16, False, "fp16", "IEEE half precision"),
    DType("fp8", 8, False, "fp8", "FP8 (E4M3) with per-tensor scales"),
    DType("int8", 8, True, "int8", "INT8 with a 16-bit scale and zero point per group"),
    DType("int4", 4, True, "bf16", "INT4 weight-only, 16-bit scale and zero point per group"),
    DType("nf4", 4, False, "bf16", "4-bit NormalFloat with double-quantized block constants"),
    DType("fp4", 4, False, "fp4", "MXFP4: 32-element blocks with a shared 8-bit scale"),
    DType("ternary", 1.6, False, "bf16", "BitNet b1.58 ternary weights, five per byte"),
)}

ACTIVATION_DTYPES = ("fp32", "bf16", "fp16", "fp8")
KV_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")


def dtype(name: str, field: str = "dtype") -> DType:
    key = str(name).lower().replace("-", "").replace("_", "")
    key = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16",
           "float8": "fp8", "mxfp4": "fp4", "1.58bit": "ternary", "b1.58": "ternary",
           "158bit": "ternary"}.get(key, key)
    if key not in DTYPES:
        raise SpecError(field, f"unknown number format {name!r}; choose from {', '.join(DTYPES)}")
    return DTYPES[key]
