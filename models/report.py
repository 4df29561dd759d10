"""A cost report as plain data: the stable JSON contract of `orbit-explorer estimate --json`
(also what the GUI's report export writes)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .cost import CostReport, PhaseReport
from .economics import serving_usd_per_million_tokens

CONVENTIONS = (
    "FLOPs: 2 per multiply-accumulate, matmuls only; causal attention counted exactly (sliding "
    "layers see min(position, window) keys); MoE: top_k routed + shared experts; prefill applies "
    "the LM head to the last token only. Memory: weight matrices at the weight format, the rest "
    "at the embedding format; KV per layer type. Latency: per-operator roofline with efficiency "
    "factors; tensor parallelism adds two ring all-reduces per layer.")


def _phase(phase: PhaseReport) -> dict[str, Any]:
    return {"time_s": phase.time_s, "flops": phase.flops, "bytes": phase.bytes,
            "time_by_kind_s": phase.by_kind(),
            "ops": [{"name": op.name, "kind": op.kind, "layers": op.count, "flops": op.flops,
                     "bytes": op.bytes, "time_s": op.time_s, "bound": op.bound} for op in phase.ops]}


def report_dict(r: CostReport) -> dict[str, Any]:
    p, m = r.params, r.memory
    return {
        "model": r.spec.name,
        "model_type": r.spec.model_type,
        "layers": r.spec.num_layers,
        "hardware": {"id": r.hardware.id, "name": r.hardware.name, "devices": r.workload.devices,
                     "memory_bytes": r.hardware.memory_bytes, "bandwidth_bytes_per_s": r.hardware.bandwidth,
                     "estimate": r.hardware.estimate},
        "workload": asdict(r.workload),
        "compute_dtype": r.compute_dtype,
        "params_total": p.total,
        "params_active": p.active,
        "params_active_without_embeddings": p.active_without_embeddings,
        "params_mtp": p.mtp,
        "params": {name: c.total for name, c in p.by_component.items() if c.total},
        "weights_bytes": m.weights,
        "kv_cache_bytes": m.kv_cache,
        "activation_bytes": m.activations,
        "reserve_bytes": m.reserve,
        "memory_total_bytes": m.total,
        "memory_per_device_bytes": m.per_device,
        "capacity_bytes": m.capacity,
        "fits": m.fits,
        "max_batch": r.max_batch,
        "max_context": r.max_context,
        "max_context_limit": r.max_context_limit,
        "kv_bytes_per_token": r.kv_bytes_per_token,
        "flops_prefill": r.prefill.flops,
        "flops_decode_token": r.decode.flops,
        "ttft_s": r.ttft_s,
        "tpot_s": r.tpot_s,
        "tokens_per_s": r.tokens_per_s,
        "serving_usd_per_million_tokens": serving_usd_per_million_tokens(r),
        "prefill": _phase(r.prefill),
        "decode": _phase(r.decode),
        "notes": list(r.notes),
        "conventions": CONVENTIONS,
    }
