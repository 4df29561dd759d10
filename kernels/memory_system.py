"""The device's memory system as the profiler meets it: cold caches before each timed run, and
the streaming bandwidth measured where the cost model only has an estimate.

Cold caches.

A layer timed over and over keeps its weights in the last-level cache when they fit (Qwen3-0.6B's
layer is 60 MB in fp32, 30 MB in bf16: most of a 32 MB L3 or of an H100's 50 MB L2). In the whole
model they never stay there: the other layers' weights evict them between two visits. Timing
warm would make a small model's decode look faster than the device's memory allows, and the
whole-model extrapolation (layers x one layer's time) with it. So, as triton.testing.do_bench does
on the GPU, each timed run is preceded by a write over twice the last-level cache, outside the
timed interval.

Measured bandwidth. The local CPU's bandwidth in ``models.hardware`` is a guess from the core
count (12 GB/s a core); one core of a recent server streams 30-40 GB/s. Against the guess the
fitted memory efficiency would need to exceed 1 and be clamped, and calibration could not reproduce
the decode it measured. So a profile on hardware whose figures are estimates measures the
bandwidth (the best of several streaming reads of a buffer four times the last-level cache, on
the profile's threads) and uses it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

FALLBACK_CACHE_BYTES = 32 * 2**20        # a typical L3 slice or GPU L2 when the size is not reported


def _size_bytes(text: str) -> int:
    """'32768K', '32M' or '33554432' (sysfs cache sizes) in bytes; 0 when unreadable."""
    text = text.strip().upper()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    digits = text[:-1] if scale != 1 else text
    return int(digits) * scale if digits.isdigit() else 0


def cpu_last_level_cache_bytes(root: str | os.PathLike = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """The largest cache of CPU 0 (its last level) from sysfs, else the C library's figure, else
    ``FALLBACK_CACHE_BYTES``."""
    sizes = []
    for index in Path(root).glob("index*"):
        try:
            sizes.append(_size_bytes((index / "size").read_text()))
        except OSError:
            continue
    if not any(sizes):
        for name in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
            try:
                sizes.append(int(os.sysconf(name)))
            except (ValueError, OSError, AttributeError):
                continue
    return max([s for s in sizes if s > 0], default=FALLBACK_CACHE_BYTES)


def last_level_cache_bytes(kind: str, index: int = 0) -> int:
    """The CPU's last-level cache, or a GPU's L2."""
    if kind != "cuda":
        return cpu_last_level_cache_bytes()
    import torch
    size = getattr(torch.cuda.get_device_properties(index), "L2_cache_size", 0)
    return int(size) if size and size > 0 else FALLBACK_CACHE_BYTES


class CacheFlush:
    """Calling it writes a buffer of twice the last-level cache on the device (and, on a GPU,
    queues the write on the current stream ahead of the run that follows)."""

    def __init__(self, device, cache_bytes: int) -> None:
        import torch
        self.nbytes = 2 * cache_bytes
        self._buffer = torch.empty(self.nbytes // 4, dtype=torch.int32, device=device)
        self()       # its pages are touched now, so a resident-memory baseline taken next holds them

    def __call__(self) -> None:
        self._buffer.fill_(1)         # a write: evicts what the run would otherwise find cached


def read_bandwidth(device, cache_bytes: int, repeats: int = 5) -> float:
    """Bytes per second of the best of ``repeats`` reductions over a buffer of four times the
    last-level cache (at least 256 MiB), so the figure is the memory's and not the cache's."""
    import torch
    numel = max(4 * cache_bytes, 2**28) // 4
    buffer = torch.ones(numel, dtype=torch.float32, device=device)
    cuda = buffer.is_cuda

    def once() -> float:
        if cuda:
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        buffer.sum()
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - t

    once()                                # page faults, clocks and the allocator settle
    return numel * 4 / min(once() for _ in range(repeats))
