"""Hypothesis strategies for saved-profile files (kernels/profile_io.py), shared by the reader's
tests and the panel's: any JSON shaped roughly like a profile, and typed profiles with edge values
(NaN, infinities, zero and negative times, huge counts, empty and long names)."""
from __future__ import annotations

from hypothesis import strategies as st

MODEL = "tiny-profiled"

any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)

_block_shape = st.fixed_dictionaries(
    {"block": st.text(max_size=4), "phase": st.sampled_from(["prefill", "decode"]),
     "backend": st.sampled_from(["torch", "sdpa"])},
    optional={k: any_json for k in ("p50_s", "layers", "status", "ratio", "op_costs", "kernels", "roofline_pct")})

profile_shaped = st.fixed_dictionaries(
    {"request": st.fixed_dictionaries({"model": st.just(MODEL)},
                                      optional={k: any_json for k in ("context", "batch", "phases", "backends",
                                                                       "calibration", "warmup")}),
     "blocks": st.lists(_block_shape, max_size=3)},
    optional={k: any_json for k in ("whole_by_backend", "whole_model", "messages", "elapsed_s", "device")})

_number = (st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10**15)
           | st.sampled_from([0, 0.0, -1e-9, 1e-12, 5e3]))
_seconds = st.floats(min_value=-1.0, max_value=1e4, allow_nan=False) | st.none()
_text = st.text(max_size=60)
_name = st.text(min_size=0, max_size=48)
_count = st.integers(0, 10**6)

_typed_block = st.fixed_dictionaries(
    {"block": _name, "phase": st.sampled_from(["prefill", "decode"]),
     "backend": st.sampled_from(["torch", "sdpa", "triton", "onnxruntime"]),
     "layers": _count, "status": st.sampled_from(["ok", "skipped", "oom", "error", "cancelled"]) | _text,
     "message": _text, "p50_s": _seconds, "p90_s": _seconds, "p99_s": _number, "predicted_s": _number,
     "roofline_pct": _number, "achieved_flops_per_s": _number, "achieved_bytes_per_s": _number,
     "peak_memory_bytes": _number, "rel_error": _number,
     "op_costs": st.lists(st.tuples(st.floats(0, 1e15), st.floats(0, 1e12)).map(list), max_size=3)})

_whole = st.fixed_dictionaries(
    {"backend": st.sampled_from(["torch", "sdpa"]), "prefill_s": _seconds, "decode_s": _seconds,
     "predicted_prefill_s": st.floats(0, 1e3) | st.none(), "predicted_decode_s": st.floats(0, 1e3) | st.none(),
     "batch": _count,
     "note": _text})

typed_profile = st.fixed_dictionaries(
    {"request": st.fixed_dictionaries({"model": st.just(MODEL), "context": st.integers(1, 1 << 20),
                                       "batch": st.integers(1, 4096), "backends": st.lists(_name, max_size=4)}),
     "blocks": st.lists(_typed_block, max_size=6),
     "device": _text, "dtype": _text, "status": st.sampled_from(["ok", "cancelled", "error"]),
     "peak_flops": st.floats(0, 1e16), "bandwidth_bytes_per_s": st.floats(0, 1e13),
     "messages": st.lists(_text, max_size=6),
     "whole_by_backend": st.dictionaries(st.sampled_from(["torch", "sdpa"]), _whole, max_size=2),
     "whole_model": st.none() | _whole})
