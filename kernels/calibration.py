"""Calibration: fit the cost model's efficiency factors to a profile of this device.

The cost model times each operator as max(FLOPs / (peak x compute_efficiency), bytes /
(bandwidth x memory_efficiency)). ``calibrate`` takes a :class:`kernels.profiler.ProfileResult`
and finds the two efficiencies for which the predicted time of each phase, summed over the timed
blocks weighted by the layers that use them (plus the LM head), equals the measured time: decode
steps are memory bound and fix ``memory_efficiency``, prefills are compute bound and fix
``compute_efficiency``. Both are clamped to [0.01, 1].

For the local CPU the peak FLOP/s and bandwidth of ``models.hardware.local_cpu()`` are rough
estimates; the fitted efficiencies are relative to those figures (what matters is their product).
An efficiency clamped at 1 means the device's figure is an underestimate.

Calibrations persist as JSON, one entry per device key ("cpu:<model name>", "cuda:<GPU name>"),
in ``calibration.json`` under the config directory: the ``directory`` argument, else
``$ORBIT_EXPLORER_CONFIG_DIR``, else platformdirs' ``user_config_dir("orbit-explorer")``.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from models.cost import Workload

LOW, HIGH = 0.01, 1.0
MIN_BANDWIDTH = 1e8        # bytes/s: below any memory a profile could run from (a value in GB/s typed by hand)
FILE_NAME = "calibration.json"
ENV_DIR = "ORBIT_EXPLORER_CONFIG_DIR"


@dataclass
class Calibration:
    device_key: str
    compute_efficiency: float
    memory_efficiency: float
    samples: int
    hardware_id: str = ""
    dtype: str = ""
    model: str = ""                    # the model whose profile it was fitted on
    backend: str = ""
    created: str = ""                  # ISO 8601, UTC
    clamped: list[str] = field(default_factory=list)
    fit: dict = field(default_factory=dict)   # measured / predicted per phase, before and after
    # The bandwidth the memory efficiency is relative to where the profile measured it (hardware
    # with estimated figures: the local CPU); 0 where the database's datasheet figure was used.
    measured_bandwidth: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        """Raises ValueError naming what is wrong (a file may have been edited by hand)."""
        problem = calibration_problem(data)
        if problem:
            raise ValueError(problem)
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        cal = cls(**known)
        cal.compute_efficiency = _clamp(float(cal.compute_efficiency))
        cal.memory_efficiency = _clamp(float(cal.memory_efficiency))
        return cal


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _has_peaks(result) -> bool:
    """The device's peak FLOP/s and bandwidth, which timings and predictions are relative to."""
    return all(_finite(x) and x > 0 for x in (result.peak_flops, result.bandwidth))


FIT_KEYS = ("measured_s", "predicted_before_s", "predicted_after_s")


def calibration_problem(data) -> str | None:
    """What makes ``data`` unusable as a Calibration's dict, or None."""
    if not isinstance(data, dict):
        return "not an object"
    for key in ("compute_efficiency", "memory_efficiency"):
        if not (_finite(data.get(key)) and data[key] > 0):
            return f"{key} is not a positive number"
    fit = data.get("fit", {})
    if not isinstance(fit, dict) or not all(
            phase in ("prefill", "decode") and isinstance(f, dict)
            and all(_finite(f.get(k)) and f[k] > 0 for k in FIT_KEYS) for phase, f in fit.items()):
        return f"fit is not prefill/decode entries of positive {', '.join(FIT_KEYS)}"
    clamped = data.get("clamped", [])
    if not isinstance(clamped, list) or not all(isinstance(c, str) for c in clamped):
        return "clamped is not a list of names"
    if not isinstance(data.get("device_key"), str):
        return "device_key (the device it was fitted on) is missing"
    for key in ("hardware_id", "dtype", "model", "backend", "created"):
        if not isinstance(data.get(key, ""), str):
            return f"{key} is not text"
    bw = data.get("measured_bandwidth", 0.0)
    if not (_finite(bw) and (bw == 0 or bw >= MIN_BANDWIDTH)):      # 0: the datasheet's figure
        return (f"measured_bandwidth is not 0 or a bandwidth of at least {MIN_BANDWIDTH / 1e9:g} GB/s "
                f"in bytes per second")
    if not isinstance(data.get("samples"), int) or isinstance(data.get("samples"), bool):
        return "samples (the number of timings fitted) is not a whole number"
    return None


def _clamp(x: float) -> float:
    return min(max(x, LOW), HIGH)


def _samples(result, backend: str):
    """(phase, layers, op_costs, measured p50) of the ok results of ``backend`` plus the head."""
    from kernels.profiler import HEAD_BLOCK
    out = []
    for b in result.blocks:
        if not b.ok or not b.op_costs or not (_finite(b.p50_s) and b.p50_s > 0):
            continue
        if b.backend == backend or (b.block == HEAD_BLOCK and b.backend == "torch"):
            out.append((b.phase, b.layers, b.op_costs, b.p50_s))
    return out


def _pick_backend(result) -> str:
    """The fastest backend measured (lowest whole-model decode time): the cost model stands for a
    good implementation on this machine, not for the slowest path that happened to run."""
    whole = {k: w for k, w in (getattr(result, "whole_by_backend", None) or {}).items()
             if w is not None and w.decode_s}
    if whole:
        return min(whole, key=lambda k: whole[k].decode_s)
    if result.whole_model is not None:
        return result.whole_model.backend
    for name in ("torch", "sdpa", "onnxruntime", "triton"):
        if any(b.ok and b.backend == name for b in result.blocks):
            return name
    return "torch"


def calibrate(result, backend: str | None = None, *, iterations: int = 50) -> Calibration:
    """Fit compute and memory efficiencies so the cost model reproduces ``result``'s timings.

    ``backend``: whose timings to fit (default: the fastest one measured). Raises
    ValueError when the result holds no usable timing.
    """
    from kernels.profiler import predict_ops
    backend = backend or _pick_backend(result)
    samples = _samples(result, backend)
    if not samples:
        raise ValueError(f"no successful {backend} timings to calibrate on")
    peak, bw = result.peak_flops, result.bandwidth
    if not _has_peaks(result):
        raise ValueError("the profile has no device peak FLOP/s or bandwidth to relate its timings to")
    wl = result.workload() if hasattr(result, "workload") else Workload()
    ce0, me0 = wl.compute_efficiency, wl.memory_efficiency

    def measured(phase):
        return sum(n * t for p, n, _, t in samples if p == phase)

    def predicted(phase, ce, me):
        return sum(n * predict_ops(c, peak, bw, ce, me) for p, n, c, _ in samples if p == phase)

    def floor(phase, which):
        i = 0 if which == "flops" else 1
        div = peak if which == "flops" else bw
        return sum(n * sum(op[i] for op in c) / div for p, n, c, _ in samples if p == phase)

    m_dec, m_pre = measured("decode"), measured("prefill")
    ce = _clamp(floor("prefill", "flops") / m_pre) if m_pre else ce0
    me = _clamp(floor("decode", "bytes") / m_dec) if m_dec else None
    if me is None:                       # prefill only: let the memory-bound part follow
        me = _clamp(floor("prefill", "bytes") / m_pre) if m_pre else me0
    for _ in range(iterations):          # fixed point: each phase's total matches its measurement
        old = (ce, me)
        if m_dec:
            p = predicted("decode", ce, me)
            me = _clamp(me * p / m_dec) if p else me
        if m_pre:
            p = predicted("prefill", ce, me)
            ce = _clamp(ce * p / m_pre) if p else ce
        if abs(ce - old[0]) < 1e-6 * old[0] and abs(me - old[1]) < 1e-6 * old[1]:
            break
    if not (_finite(ce) and _finite(me)):
        raise ValueError("the profile's operator costs are not finite numbers")
    clamped = [name for name, v in (("compute_efficiency", ce), ("memory_efficiency", me))
               if v in (LOW, HIGH)]
    fit = {}
    for phase, m in (("prefill", m_pre), ("decode", m_dec)):
        if m:
            fit[phase] = {"measured_s": m, "predicted_before_s": predicted(phase, ce0, me0),
                          "predicted_after_s": predicted(phase, ce, me)}
    return Calibration(device_key=result.device_key, compute_efficiency=ce, memory_efficiency=me,
                       samples=len(samples), hardware_id=result.hardware_id, dtype=result.dtype,
                       model=result.request.spec.name, backend=backend,
                       created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       clamped=clamped, fit=fit,
                       measured_bandwidth=bw if getattr(result, "bandwidth_measured", False) else 0.0)


def calibrated_predictions(result, calibration: Calibration) -> list[float | None]:
    """Each block result's predicted time at ``calibration``'s efficiencies (None where the block
    has no operator costs), in ``result.blocks`` order: what the profile's predictions would have
    been had this calibration been in force."""
    from kernels.profiler import predict_ops
    ce, me = calibration.compute_efficiency, calibration.memory_efficiency
    return [predict_ops(b.op_costs, result.peak_flops, result.bandwidth, ce, me) if b.op_costs else None
            for b in result.blocks]


def calibrated_whole_model(result, calibration: Calibration) -> tuple[float, float]:
    """(prefill_s, decode_s): the whole model's prediction for ``result``'s request at the
    calibration's efficiencies, as the profile's own whole-model prediction is made."""
    from kernels.profiler import result_hardware
    from models.cost import cost_report
    rep = cost_report(result.request.spec, apply_calibration(result.workload(), calibration), result_hardware(result))
    return rep.prefill.time_s, rep.decode.time_s


def fit_view(result, calibration: Calibration) -> tuple[list[float | None], list[str], tuple[float, float]]:
    """What a view shows of ``calibration`` on ``result``: each block's calibrated prediction, the
    fit's description and the whole model's calibrated (prefill_s, decode_s). Computed whole before
    anything is shown; raises ValueError saying why when a (loaded) profile cannot carry it."""
    from models.spec import SpecError
    if not _has_peaks(result):
        raise ValueError("the profile has no device peak FLOP/s or bandwidth to predict from")
    try:
        return (calibrated_predictions(result, calibration), describe_fit(calibration),
                calibrated_whole_model(result, calibration))
    except SpecError as exc:            # a dtype or device the cost model does not know
        raise ValueError(f"the profile cannot be costed: {exc}") from None


def describe_fit(calibration: Calibration) -> list[str]:
    """One line per fitted phase: the summed prediction before and after against the measurement."""
    from models.metrics import fmt_seconds
    lines = []
    for phase, f in calibration.fit.items():
        m, before, after = f["measured_s"], f["predicted_before_s"], f["predicted_after_s"]
        lines.append(f"{phase} ({calibration.backend}, every layer of the timed kinds): measured {fmt_seconds(m)}; "
                     f"predicted "
                     f"{fmt_seconds(before)} before (ratio {before / m:.2f}), {fmt_seconds(after)} after "
                     f"(ratio {after / m:.2f})")
    if calibration.clamped:
        lines.append(f"clamped to [{LOW}, {HIGH}]: {', '.join(calibration.clamped)}; the device's peak "
                     f"figures may be off")
    return lines


def apply_calibration(workload: Workload, calibration: Calibration | None) -> Workload:
    """``workload`` with the fitted efficiencies (unchanged when ``calibration`` is None). The
    efficiencies are relative to the peak and bandwidth of the calibration's hardware; apply them
    to workloads on that hardware (``calibration.hardware_id``)."""
    if calibration is None:
        return workload
    return replace(workload, compute_efficiency=_clamp(calibration.compute_efficiency),
                   memory_efficiency=_clamp(calibration.memory_efficiency))


# --------------------------------------------------------------------------- persistence

def config_dir(directory: str | os.PathLike | None = None) -> Path:
    if directory is not None:
        return Path(directory)
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    from platformdirs import user_config_dir
    return Path(user_config_dir("orbit-explorer"))


def calibration_path(directory: str | os.PathLike | None = None) -> Path:
    return config_dir(directory) / FILE_NAME


def _read_all(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    devices = data.get("devices") if isinstance(data, dict) else None
    return devices if isinstance(devices, dict) else {}


def save_calibration(calibration: Calibration, directory: str | os.PathLike | None = None) -> Path:
    """Store ``calibration`` under its device key (replacing that device's entry), atomically."""
    path = calibration_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    devices = _read_all(path)
    devices[calibration.device_key] = calibration.to_dict()
    text = json.dumps({"version": 1, "devices": devices}, indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def load_calibration(device_key: str, directory: str | os.PathLike | None = None) -> Calibration | None:
    """The stored calibration of ``device_key``, or None (no file, no entry, unreadable file)."""
    entry = _read_all(calibration_path(directory)).get(device_key)
    if not isinstance(entry, dict):
        return None
    try:
        return Calibration.from_dict(entry)
    except (TypeError, ValueError):
        return None


def stored_calibration_problem(device_key: str, directory: str | os.PathLike | None = None) -> str | None:
    """Why the stored entry of ``device_key`` cannot be used (``load_calibration`` gives None for
    it), or None when there is no entry or it is usable: a user is told, not silently left
    uncalibrated."""
    entry = _read_all(calibration_path(directory)).get(device_key)
    if entry is None:
        return None
    return calibration_problem(entry)


def load_all(directory: str | os.PathLike | None = None) -> dict[str, Calibration]:
    out = {}
    for key, entry in _read_all(calibration_path(directory)).items():
        try:
            out[key] = Calibration.from_dict(entry)
        except (TypeError, ValueError):
            continue
    return out
