"""Saved profiles: the object ``orbit-explorer profile --json`` prints (``ProfileResult.to_dict``,
plus "calibration" once one is fitted) in a file, read back into a ProfileResult; and the
per-block rows as CSV for a spreadsheet.

A profile taken on a headless GPU server (``orbit-explorer profile llama-3-8b --device cuda
--json > llama.json``) opens in the app's profiler panel like one saved from it, where it can be
compared and calibrated. Neither Qt nor torch is imported here.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from kernels.calibration import calibration_problem
from kernels.profiler import PHASES, ProfileRequest, ProfileResult
from models.spec import ModelSpec
from models.spec_io import atomic_write_text

CSV_COLUMNS = ("block", "layers", "phase", "backend", "status", "p50_s", "p90_s", "p99_s", "mean_s",
               "samples", "flops", "bytes", "achieved_flops_per_s", "achieved_bytes_per_s", "predicted_s",
               "floor_s", "ratio", "roofline_pct", "peak_memory_bytes", "rel_error", "reference", "provider",
               "message")


class ProfileFileError(ValueError):
    """A file that cannot be read as a saved profile; the message names the file and the problem."""


def profile_data(result: ProfileResult, calibration=None) -> dict:
    """The CLI's ``--json`` object for ``result`` (with ``calibration``'s fit, if given)."""
    data = result.to_dict()
    if calibration is not None:
        data["calibration"] = calibration.to_dict()
    return data


def save_profile(result: ProfileResult, path: str | os.PathLike, calibration=None) -> Path:
    """Write ``result`` to ``path``: CSV rows for a ``.csv`` name, else the JSON object. The file is
    replaced in one step (``atomic_write_text``), so a failed write leaves an earlier file whole.
    Raises OSError."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        text = _csv_text(result)
    else:
        text = json.dumps(profile_data(result, calibration), indent=2) + "\n"
    atomic_write_text(path, text)
    return path


def _csv_text(result: ProfileResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for b in result.blocks:
        row = b.to_dict()
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in CSV_COLUMNS])
    return out.getvalue()


def read_profile(path: str | os.PathLike) -> dict:
    """The saved profile in ``path`` as plain data, checked enough to be shown.
    Raises ProfileFileError saying what is wrong with which file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileFileError(f"{path.name} is not JSON (line {exc.lineno}: {exc.msg})") from exc
    problem = _problem(data)
    if problem:
        raise ProfileFileError(f"{path.name} is not a saved profile: {problem}")
    return data


# The fields a view formats, by kind: a value of another type is refused when the file is read,
# so the panel never meets a string where it prints a number. Absent fields take their defaults.
_NUMBER, _COUNT, _TEXT, _FLAG = "a number", "a whole number", "text", "true or false"
_RESULT_FIELDS = {"device": _TEXT, "device_key": _TEXT, "hardware_id": _TEXT, "hardware_name": _TEXT,
                  "dtype": _TEXT, "status": _TEXT, "note": _TEXT, "peak_flops": _NUMBER,
                  "bandwidth_bytes_per_s": _NUMBER, "elapsed_s": _NUMBER, "extrapolated": _FLAG,
                  "bandwidth_measured": _FLAG}
_REQUEST_FIELDS = {"device": _TEXT, "dtype": _TEXT, "warmup": _COUNT, "max_seconds": _NUMBER}
_BLOCK_FIELDS = {"layers": _COUNT, "samples": _COUNT, "status": _TEXT, "message": _TEXT, "reference": _TEXT,
                 "provider": _TEXT, **{k: _NUMBER for k in (
                     "p50_s", "p90_s", "p99_s", "mean_s", "flops", "bytes", "achieved_flops_per_s",
                     "achieved_bytes_per_s", "predicted_s", "floor_s", "roofline_pct", "peak_memory_bytes",
                     "rel_error")}}
_WHOLE_FIELDS = {"backend": _TEXT, "prefill_s": _NUMBER, "decode_s": _NUMBER, "predicted_prefill_s": _NUMBER,
                 "predicted_decode_s": _NUMBER, "batch": _COUNT, "extrapolated": _FLAG, "note": _TEXT}
_REQUIRED_WHOLE = ("backend", "prefill_s", "decode_s", "predicted_prefill_s", "predicted_decode_s")


def _is(value, kind: str) -> bool:
    if kind == _FLAG:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == _COUNT:
        return isinstance(value, int) and value >= 0
    if kind == _NUMBER:
        return isinstance(value, (int, float))
    return isinstance(value, str)


def _wrong_field(obj: dict, fields: dict, nullable: bool = True) -> str | None:
    """'key is not <kind>' for the first field of ``obj`` of the wrong type (None passes if ``nullable``)."""
    for key, kind in fields.items():
        if key in obj and not (obj[key] is None and nullable and kind == _NUMBER) and not _is(obj[key], kind):
            return f"{key} is not {kind}"
    return None


def _problem(data) -> str | None:
    if not isinstance(data, dict):
        return "expected a JSON object"
    request, blocks = data.get("request"), data.get("blocks")
    if not isinstance(request, dict) or not isinstance(request.get("model"), str):
        return "no \"request\" object naming the model"
    for key in ("context", "batch", "repeats"):
        if key in request and not (_is(request[key], _COUNT) and request[key] >= 1):
            return f"request.{key} is not a positive whole number"
    for key in ("backends", "phases"):
        if key in request and not (isinstance(request[key], list) and all(isinstance(x, str) for x in request[key])):
            return f"request.{key} is not a list of names"
    for where, cal in (("request.calibration", request.get("calibration")), ("calibration", data.get("calibration"))):
        if cal is not None and calibration_problem(cal):
            return f"{where}: {calibration_problem(cal)}"
    wrong = _wrong_field(request, _REQUEST_FIELDS, nullable=False) or _wrong_field(data, _RESULT_FIELDS)
    if wrong:
        return wrong
    if not isinstance(data.get("messages", []), list) or not all(isinstance(m, str) for m in data.get("messages", [])):
        return "messages is not a list of text"
    if not isinstance(blocks, list):
        return "no \"blocks\" list"
    for i, b in enumerate(blocks):
        if not isinstance(b, dict) or not all(isinstance(b.get(k), str) for k in ("block", "phase", "backend")):
            return f"block {i} lacks its block, phase or backend name"
        wrong = _wrong_field(b, _BLOCK_FIELDS)
        if wrong:
            return f"block {i} ({b['block']}): {wrong}"
        if not _pairs_of_numbers(b.get("op_costs", [])):
            return f"block {i} ({b['block']}): op_costs is not a list of (FLOPs, bytes) pairs"
        if not isinstance(b.get("kernels", []), list) or not all(isinstance(k, str) for k in b.get("kernels", [])):
            return f"block {i} ({b['block']}): kernels is not a list of names"
    wholes = data.get("whole_by_backend") or {}
    if not isinstance(wholes, dict):
        return "whole_by_backend is not an object"
    for name, w in [("whole_model", data.get("whole_model")), *wholes.items()]:
        if w is None and name == "whole_model":
            continue
        if not isinstance(w, dict) or any(k not in w for k in _REQUIRED_WHOLE):
            return f"{name}: not a whole-model entry ({', '.join(_REQUIRED_WHOLE)})"
        wrong = _wrong_field(w, _WHOLE_FIELDS)
        if wrong:
            return f"{name}: {wrong}"
    return None


def _pairs_of_numbers(costs) -> bool:
    return isinstance(costs, list) and all(
        isinstance(c, list) and len(c) == 2 and all(_is(x, _NUMBER) for x in c) for c in costs)


def saved_calibration(data: dict):
    """The calibration saved beside the profile (``Calibration``), or None: the app saves the
    fit it showed, the CLI's ``--calibrate`` the one it made."""
    from kernels.calibration import Calibration
    cal = data.get("calibration")
    return Calibration.from_dict(cal) if cal is not None else None   # read_profile checked it


def model_name(data: dict) -> str:
    """The model a saved profile was taken of (its catalog id or spec name)."""
    return data["request"]["model"]


def result_from_data(data: dict, spec: ModelSpec) -> ProfileResult:
    """The ProfileResult in ``data`` (from ``read_profile``), for ``spec``: the model it names,
    which the caller resolves (the catalog, or the open document)."""
    try:
        return _result(data, spec)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ProfileFileError(f"the saved profile of {data['request']['model']} is malformed: {exc}") from exc


def _result(data: dict, spec: ModelSpec) -> ProfileResult:
    from kernels.calibration import Calibration
    r = data["request"]
    phases = tuple(p for p in r.get("phases", PHASES) if p in PHASES) or PHASES
    cal = r.get("calibration")
    request = ProfileRequest(spec, device=str(r.get("device", "cpu")),
                             backends=tuple(r.get("backends") or ()), context=int(r.get("context", 1)),
                             batch=int(r.get("batch", 1)), dtype=str(r.get("dtype", "auto")),
                             repeats=int(r.get("repeats", 1)), warmup=int(r.get("warmup", 0)),
                             max_seconds=float(r.get("max_seconds", 0.0)), threads=r.get("threads"),
                             phases=phases, weights=r.get("weights"),
                             calibration=Calibration.from_dict(cal) if isinstance(cal, dict) else None)
    return ProfileResult.from_dict(data, request)
