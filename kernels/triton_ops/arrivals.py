"""Split-K without a second launch: the programs that share an output count themselves in, and the
last to arrive combines everyone's partial results (the "last block" reduction of CUTLASS's serial
split-K and of FlashDecoding's single-kernel variants).

The counters live in one int32 buffer per device, allocated once and kept at zero between calls:
the last program of each group resets its counter. A call therefore allocates and clears nothing,
and replays of a captured CUDA graph stay correct. Calls that share a device must not run at the
same time on different streams.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

_KEPT: dict[torch.device, torch.Tensor] = {}
_OUTGROWN: list[torch.Tensor] = []   # never freed: a captured CUDA graph may still point at one


def arrival_counters(device: torch.device, n: int) -> torch.Tensor | None:
    """At least n zeroed int32 counters on ``device``; None while a CUDA graph is being captured and
    the kept buffer is too small (allocating then would tie it to the graph's memory pool): the
    caller then takes its two-launch path."""
    kept = _KEPT.get(device)
    if kept is None or kept.numel() < n:
        if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
            return None
        if kept is not None:
            _OUTGROWN.append(kept)
        kept = _KEPT[device] = torch.zeros(max(n, 2 * kept.numel() if kept is not None else 1024),
                                           dtype=torch.int32, device=device)
    return kept


@triton.jit
def last_to_arrive(arrivals_ptr, counter, n_arrivals):
    """Count this program in at ``arrivals[counter]``, after its partial result is stored. True in
    the one program that arrives last (n_arrivals - 1 arrived before it), which then sees every
    partial of the group (acquire) and has already reset the counter for the next call."""
    # every thread's partial is stored before the release below
    tl.debug_barrier()
    arrived = tl.atomic_add(arrivals_ptr + counter, 1, sem="acq_rel", scope="gpu")
    is_last = arrived == n_arrivals - 1
    if is_last:
        tl.store(arrivals_ptr + counter, 0)
    return is_last
