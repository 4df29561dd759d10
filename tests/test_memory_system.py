"""The profiler's view of the memory system: cache sizes read from sysfs, a flush that writes
twice the last-level cache, and a streaming bandwidth measured where the cost model only has an
estimate (and carried by the calibration fitted against it)."""
from __future__ import annotations

import math

import pytest
import torch

from kernels.calibration import calibrate
from kernels.memory_system import (FALLBACK_CACHE_BYTES, CacheFlush, _size_bytes,
                                   cpu_last_level_cache_bytes, read_bandwidth)
from kernels.profiler import ProfileRequest, profile, result_hardware
from models.catalog import find
from models.hardware import get_hardware, local_cpu, use_measured_bandwidth


@pytest.mark.parametrize("text, expected", [("32768K", 32 * 2**20), ("48M\n", 48 * 2**20), ("1G", 2**30),
                                            ("512", 512), ("", 0), ("big", 0)])
def test_cache_sizes_read_as_sysfs_writes_them(text, expected):
    assert _size_bytes(text) == expected


def test_the_last_level_cache_is_the_largest_of_cpu0(tmp_path):
    for name, size in (("index0", "32K"), ("index2", "1024K"), ("index3", "32768K")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "size").write_text(size)
    assert cpu_last_level_cache_bytes(tmp_path) == 32 * 2**20
    empty = tmp_path / "none"
    empty.mkdir()
    assert cpu_last_level_cache_bytes(empty) > 0          # the C library's figure or the fallback
    assert FALLBACK_CACHE_BYTES == 32 * 2**20


def test_a_flush_writes_twice_the_cache():
    flush = CacheFlush(torch.device("cpu"), 2**20)
    flush()
    assert flush.nbytes == 2 * 2**20 and int(flush._buffer.sum()) == flush.nbytes // 4


def test_read_bandwidth_is_a_plausible_memory_figure():
    bw = read_bandwidth(torch.device("cpu"), 2**20, repeats=2)
    assert math.isfinite(bw) and 1e8 < bw < 1e13       # 0.1 GB/s .. 10 TB/s


def test_a_measured_bandwidth_replaces_only_estimates():
    assert not use_measured_bandwidth("h100-sxm", 1e12)        # datasheet figures are kept
    assert get_hardware("h100-sxm").bandwidth != 1e12
    assert use_measured_bandwidth("cpu", 3.0e10) and get_hardware("cpu").bandwidth == 3.0e10
    assert not use_measured_bandwidth("cpu", 3.0e10)             # no change the second time
    assert get_hardware("cpu").notes.count("measured by the profiler") == 1


def test_a_cpu_profile_measures_the_bandwidth_and_its_calibration_keeps_it():
    spec = find("qwen3-0.6b").spec()
    request = dict(spec=spec, device="cpu", backends=("torch",), context=16, repeats=2, warmup=1,
                   threads=1, phases=("decode",))
    first = profile(ProfileRequest(**request))
    assert first.status == "ok" and first.bandwidth_measured
    assert first.bandwidth != local_cpu().bandwidth
    assert any("bandwidth measured at" in m for m in first.messages)
    assert result_hardware(first).bandwidth == first.bandwidth
    cal = calibrate(first)
    assert cal.measured_bandwidth == first.bandwidth
    # a profile predicted with that calibration uses the bandwidth its efficiency is relative to
    second = profile(ProfileRequest(**request, calibration=cal))
    assert second.bandwidth == first.bandwidth
    assert any("as measured when the calibration was made" in m for m in second.messages)


def test_the_flush_buffer_is_not_counted_as_a_blocks_memory(monkeypatch):
    """The buffer is made before the first block's memory baseline: with a 512 MiB cache (a 1 GiB
    buffer) a tiny block's peak stays small."""
    import kernels.memory_system as memory_system
    from block_cases import LAYOUTS, make_spec
    monkeypatch.setattr(memory_system, "last_level_cache_bytes", lambda kind, index=0: 2**29)
    layer, kw = LAYOUTS["pre_rms"]
    result = profile(ProfileRequest(make_spec(layer, **kw), backends=("torch",), context=16, repeats=2,
                                    warmup=1, threads=1))
    assert result.status == "ok"
    peaks = [b.peak_memory_bytes for b in result.blocks if b.peak_memory_bytes is not None]
    assert peaks and max(peaks) < 2**28


def test_torch_threads_are_restored_after_a_profile_whatever_its_end():
    """The set-up sets the profile's threads (the bandwidth is measured on them); a run that ends,
    one refused in set-up and one cancelled all leave torch as they found it."""
    from block_cases import LAYOUTS, make_spec
    from kernels.profiler import Profiler
    layer, kw = LAYOUTS["pre_rms"]
    spec = make_spec(layer, **kw)
    before = torch.get_num_threads()
    runs = [dict(threads=1), dict(threads=1, warmup=-1), dict(threads=1, device="cuda:99")]
    for extra in runs:
        profile(ProfileRequest(spec, backends=("torch",), context=8, repeats=1, **{"warmup": 1, **extra}))
        assert torch.get_num_threads() == before, extra
    Profiler(ProfileRequest(spec, backends=("torch",), context=8, repeats=1, threads=1)).run(
        should_cancel=lambda: True)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("value, usable", [(0.0, True), (3.8e10, True), (1.0, False), (38.0, False),
                                           (-5.0, False), (float("inf"), False), ("fast", False)])
def test_a_saved_calibrations_bandwidth_must_be_a_memorys(value, usable):
    """A hand-edited measured_bandwidth in GB/s (38) or nonsense is refused naming the field, so
    no profile predicts a decode of 10^9 s from it; 0 means the datasheet's figure."""
    from kernels.calibration import Calibration, calibration_problem
    data = Calibration("cpu:x", 0.5, 0.7, 4, measured_bandwidth=0.0).to_dict()
    data["measured_bandwidth"] = value
    problem = calibration_problem(data)
    assert (problem is None) == usable
    assert usable or "measured_bandwidth" in problem
