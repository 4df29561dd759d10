"""The hardware database (resources/hardware/*.json) and detection of the local CPU.

Peaks are dense datasheet figures per dtype (see resources/hardware/README.md); the local CPU's
figures are estimates from its core count, clock and vector width, to be calibrated by profiling.
"""
from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from resources import RESOURCES_DIR

from .spec import SpecError

HARDWARE_DIR = RESOURCES_DIR / "hardware"
# When a device has no rate for a format, matmuls fall back to the next one it has.
_FALLBACK = {"fp4": ("fp4", "fp8", "bf16", "fp16", "fp32"), "fp8": ("fp8", "bf16", "fp16", "fp32"),
             "int8": ("int8", "fp8", "bf16", "fp16", "fp32"), "bf16": ("bf16", "fp16", "fp32"),
             "fp16": ("fp16", "bf16", "fp32"), "fp32": ("fp32", "tf32")}


@dataclass(frozen=True)
class Hardware:
    id: str
    name: str
    vendor: str
    kind: str
    memory_bytes: float
    bandwidth: float                      # bytes/s
    peak_flops: dict[str, float | None]
    interconnect_bandwidth: float         # bytes/s per direction, for tensor parallelism
    interconnect_name: str = ""
    tdp_w: float | None = None
    price_usd: float | None = None
    cloud_usd_per_hour: float | None = None
    sources: tuple[str, ...] = ()
    notes: str = ""
    estimate: bool = False
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def peak(self, compute: str) -> tuple[float, str]:
        """(FLOP/s, the format actually used) for matmuls in ``compute``."""
        for key in _FALLBACK.get(compute, (compute, "bf16", "fp32")):
            value = self.peak_flops.get(key)
            if value:
                return float(value), key
        raise SpecError("hardware", f"{self.name} lists no matmul rate for {compute}")


def _from_json(data: dict) -> Hardware:
    link = data.get("interconnect") or {}
    host = data.get("host_link") or {}
    return Hardware(
        id=data["id"], name=data["name"], vendor=data.get("vendor", ""), kind=data.get("kind", "gpu"),
        memory_bytes=float(data["memory_bytes"]),
        bandwidth=float(data["memory_bandwidth_bytes_per_s"]),
        peak_flops={k: (float(v) if v else None) for k, v in data["peak_flops"].items()},
        interconnect_bandwidth=float(link.get("bandwidth_bytes_per_s")
                                     or host.get("bandwidth_bytes_per_s") or 3.2e10),
        interconnect_name=link.get("name") or host.get("name") or "",
        tdp_w=data.get("tdp_w"), price_usd=data.get("price_usd"),
        cloud_usd_per_hour=data.get("cloud_usd_per_hour"),
        sources=tuple(data.get("sources", ())), notes=data.get("notes", ""), raw=data)


@lru_cache(maxsize=1)
def hardware_db() -> dict[str, Hardware]:
    db = {}
    for path in sorted(HARDWARE_DIR.glob("*.json")):
        hw = _from_json(json.loads(path.read_text(encoding="utf-8")))
        db[hw.id] = hw
    db["cpu"] = local_cpu()
    return db


def use_measured_bandwidth(hardware_id: str, bandwidth: float) -> bool:
    """For the rest of this process, cost ``hardware_id`` with a profiler's measured bandwidth in
    place of its estimate (the local CPU's guess from its core count), so that efficiencies fitted
    against the measurement predict what was measured. Datasheet figures are kept. Returns whether
    the figure changed."""
    db = hardware_db()
    hw = db.get(hardware_id)
    if hw is None or not hw.estimate or not bandwidth > 0 or hw.bandwidth == bandwidth:
        return False
    note = "bandwidth measured by the profiler"
    db[hardware_id] = replace(hw, bandwidth=float(bandwidth),
                              notes=hw.notes if note in hw.notes else f"{hw.notes}; {note}")
    return True


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def get_hardware(name: str) -> Hardware:
    db = hardware_db()
    if name in db:
        return db[name]
    wanted = _norm(name)
    for hw in db.values():
        if _norm(hw.id) == wanted or _norm(hw.name) == wanted:
            return hw
    import difflib
    # ids that contain what was typed ("a100": both A100s) before ids that merely look alike
    containing = [k for k in db if wanted and wanted in _norm(k)]
    close = containing[:5] or difflib.get_close_matches(name.lower(), list(db), n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise SpecError("hardware", f"unknown device {name!r}{hint} (see `orbit-explorer list --hardware`)")


def _meminfo_bytes() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def _cpu_flags_and_mhz() -> tuple[set[str], float, str]:
    flags: set[str] = set()
    mhz, model = 0.0, platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "flags" and not flags:
                    flags = set(value.split())
                elif key == "cpu MHz" and not mhz:
                    mhz = float(value)
                elif key == "model name":
                    model = value.strip()
    except (OSError, ValueError):
        pass
    return flags, mhz or 2500.0, model


def local_cpu() -> Hardware:
    """This machine's CPU. Peak = cores x clock x FLOPs per cycle (two FMA units of the widest
    vector ISA: AVX-512 64 fp32 FLOP/cycle, AVX2 32, otherwise 16); bandwidth ~12 GB/s per core
    (what one core streams from DDR4/DDR5), capped at 400 GB/s. Both are estimates, marked so,
    and calibration fits the efficiencies to this machine."""
    cores = os.cpu_count() or 1
    flags, mhz, model = _cpu_flags_and_mhz()
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags else 16
    fp32 = cores * mhz * 1e6 * per_cycle
    bf16 = fp32 * (2 if "avx512_bf16" in flags or "amx_bf16" in flags else 1)
    return Hardware(id="cpu", name=f"Local CPU ({model}, {cores} threads)", vendor="", kind="cpu",
                    memory_bytes=_meminfo_bytes(), bandwidth=min(12e9 * cores, 4e11),
                    peak_flops={"fp32": fp32, "bf16": bf16, "fp16": None, "fp8": None, "int8": None},
                    interconnect_bandwidth=1e10, interconnect_name="none",
                    notes="estimated from core count, clock and vector width; calibrate by profiling",
                    estimate=True)
