"""The number formats a checkpoint ships in, read from its config.json: ``quantization_config``
(transformers' quantizers: fp8, mxfp4, awq, gptq, bitsandbytes, compressed-tensors, bitnet) over
``torch_dtype`` / ``dtype``.

What it gives is a workload setting (weights, expert weights, embeddings, group size), so that a
model can be sized as it was released: gpt-oss's MXFP4 experts beside bf16 attention, DeepSeek-V3's
FP8 matrices. Parts a quantizer leaves alone (embeddings, LM head, routers, norms) stay at the
checkpoint's dtype, which is where the cost model keeps them anyway (the embedding format).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

Config = Mapping[str, Any]

_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32",
           "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}


@dataclass(frozen=True)
class ShippedFormats:
    weights: str                 # the matrices' format
    expert_weights: str          # the routed experts' own ("": as ``weights``)
    embeddings: str              # what the quantizer leaves (the checkpoint's dtype)
    group_size: int | None       # int4 / int8 groups, where the quantizer says
    source: str                  # in words, for a tooltip or a note

    def workload_changes(self) -> dict[str, Any]:
        """Workload fields that size the model as shipped."""
        out: dict[str, Any] = dict(weights=self.weights, expert_weights=self.expert_weights,
                                   embeddings=self.embeddings)
        if self.group_size:
            out["group_size"] = self.group_size
        return out


def _dtype(cfg: Config) -> str | None:
    for scope in (cfg, cfg.get("text_config") or {}):
        value = scope.get("torch_dtype") or scope.get("dtype") if isinstance(scope, Mapping) else None
        if isinstance(value, str) and value.lower() in _DTYPES:
            return _DTYPES[value.lower()]
    return None


def _group(value: Any) -> int | None:
    """A positive group size; -1 or none (per channel) leaves the workload's."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _compressed_tensors(q: Config) -> tuple[str, int | None] | None:
    """The first config group's weight scheme: 8-bit float (FP8), 4/8-bit int (W4A16, W8A8)."""
    groups = q.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        return None
    first = next(iter(groups.values()))
    weights = first.get("weights") if isinstance(first, Mapping) else None
    if not isinstance(weights, Mapping):
        return None
    bits, kind = weights.get("num_bits"), str(weights.get("type", "int")).lower()
    if bits == 8 and kind == "float":
        return "fp8", None
    if bits == 4 and kind == "float":
        return "fp4", None
    if bits in (4, 8) and kind == "int":
        return f"int{bits}", _group(weights.get("group_size"))
    return None


def shipped_formats(cfg: Config) -> ShippedFormats | None:
    """The checkpoint's formats, or None where the config says neither a quantization nor a
    dtype (or a quantization this does not know)."""
    dtype = _dtype(cfg)
    q = cfg.get("quantization_config")
    if not isinstance(q, Mapping) or not q:
        return ShippedFormats(dtype, "", dtype, None, f"config.json: {dtype} weights") if dtype else None
    rest = dtype or "bf16"
    method = str(q.get("quant_method", "")).lower()
    found: tuple[str, str, int | None] | None = None
    if method in ("fp8", "fbgemm_fp8"):
        found = ("fp8", "", None)
    elif method == "mxfp4":                    # gpt-oss: the MoE experts only
        found = (rest, "fp4", None)
    elif method in ("awq", "gptq") and q.get("bits") in (4, 8):
        found = (f"int{q['bits']}", "", _group(q.get("group_size")))
    elif method == "bitsandbytes":
        if q.get("load_in_4bit"):
            found = ("nf4", "", None)
        elif q.get("load_in_8bit"):
            found = ("int8", "", None)
    elif method == "compressed-tensors":
        scheme = _compressed_tensors(q)
        found = (scheme[0], "", scheme[1]) if scheme else None
    elif method == "bitnet":
        found = ("ternary", "", None)
    if found is None:
        return None
    weights, experts, group = found
    what = f"{weights} weights" + (f", {experts} routed experts" if experts else "")
    return ShippedFormats(weights, experts, rest, group,
                          f"config.json quantization_config ({method}): {what}, {rest} for the rest")
