"""Report export: the current model's spec, knob edits, workload and every figure, as JSON, CSV
and Markdown (the extension picks). Pure Python: no Qt. Profiles are saved by kernels/profile_io.py,
in the CLI's ``profile --json`` form, so the app can open them again.

- JSON: ``{"format": "orbit-explorer-report", "version": 1, "model", "source", "edits",
  "workload", "spec" (spec.to_dict()), "report" (models.report.report_dict: the same contract
  as ``estimate --json``), "figures" (the metrics panel's rows with their formulas and inputs)}``.
  :func:`load_report_json` reads it back and :func:`recompute` costs the stored spec and
  workload again, which gives the stored figures.
- CSV: one row per figure, columns ``section, key, label, value, unit, text, formula`` then the
  operator columns ``kind, layers, flops, bytes, time_s, bound`` (filled on operator rows, one
  per operator of the prefill and decode passes).
- Markdown: headings and tables (workload, figures with formulas, parameters by component,
  operators), the notes, the cost model's conventions and the spec.
"""
from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

from models.spec import SpecError

REPORT_FORMAT = "orbit-explorer-report"
VERSION = 1
REPORT_EXTENSIONS = (".json", ".csv", ".md")
CSV_COLUMNS = ("section", "key", "label", "value", "unit", "text", "formula",
               "kind", "layers", "flops", "bytes", "time_s", "bound")

_METRIC_UNITS = {"paramsTotal": "params", "paramsActive": "params", "memWeights": "B",
                 "memKV": "B", "memActivations": "B", "memReserve": "B", "memPerDevice": "B",
                 "maxBatch": "sequences", "maxContext": "tokens", "flopsPrefill": "FLOP",
                 "flopsDecode": "FLOP", "ttft": "s", "tpot": "s", "tokensPerSec": "tokens/s"}

_LABELS = {
    "params_total": "Parameters, total", "params_active": "Parameters, active per token",
    "params_active_without_embeddings": "Parameters, active per token without the input embeddings",
    "params_mtp": "Parameters, MTP modules", "weights_bytes": "Weights",
    "kv_cache_bytes": "KV cache / state", "activation_bytes": "Activations (prefill peak)",
    "reserve_bytes": "Reserve", "memory_total_bytes": "Memory, all devices",
    "memory_per_device_bytes": "Memory per device", "capacity_bytes": "Capacity, all devices",
    "fits": "Fits", "max_batch": "Largest batch", "max_context": "Largest context",
    "max_context_limit": "Largest context limited by",
    "kv_bytes_per_token": "KV cache per token", "flops_prefill": "Prefill FLOPs",
    "flops_decode_token": "Decode FLOPs per token", "ttft_s": "Time to first token",
    "tpot_s": "Time per output token", "tokens_per_s": "Tokens per second",
    "serving_usd_per_million_tokens": "Serving cost per million tokens",
    "layers": "Layers", "model": "Model", "model_type": "Model type",
    "compute_dtype": "Compute format",
}


def _unit(key: str) -> str:
    k = key.rsplit(".", 1)[-1]
    if k == "tokens_per_s":
        return "tokens/s"
    if k.endswith("bytes_per_s"):
        return "B/s"
    if k.endswith("bytes_per_token"):
        return "B/token"
    if k.endswith("_bytes") or k == "bytes" or k == "memory_bytes":
        return "B"
    if k.endswith("_s") or k == "time_s":
        return "s"
    if k.startswith("params") or key.startswith("params."):
        return "params"
    if k.startswith("flops") or k == "flops" or k.endswith("_flops"):
        return "FLOP"
    if k == "max_batch":
        return "sequences"
    if k in ("max_context", "context", "position"):
        return "tokens"
    if k.startswith("serving_usd"):
        return "USD per 1M tokens"
    return ""


# --------------------------------------------------------------------------- building

def build_report(spec, workload=None, edits: Iterable[tuple[str, Any]] = (), *,
                 source: str = "", report=None, baseline=None) -> dict[str, Any]:
    """The report of ``spec`` on ``workload`` (a models.cost.Workload) as plain data.

    ``edits``: the knob edits that made ``spec`` ([(key, value)], shown and stored; ``spec`` is
    already edited). ``report``: a CostReport already computed for them (else computed).
    ``baseline``: the unedited model's CostReport, for the figures' deltas."""
    from models.cost import Workload, cost_report
    from models.metrics import metric_rows
    from models.report import report_dict
    workload = workload or Workload()
    report = report or cost_report(spec, workload)
    figures = []
    for row in metric_rows(report, baseline):
        figures.append({"section": row.group, "key": row.key, "label": row.label,
                        "value": row.value, "unit": _METRIC_UNITS.get(row.key, ""),
                        "text": row.text, "delta": row.delta_text, "formula": row.tooltip})
    return {
        "format": REPORT_FORMAT,
        "version": VERSION,
        "model": spec.name,
        "source": source or spec.name,
        "edits": [[str(k), str(v)] for k, v in edits],
        "workload": dataclasses.asdict(report.workload),
        "spec": spec.to_dict(),
        "report": report_dict(report),
        "figures": figures,
    }


def recompute(data: dict[str, Any]) -> dict[str, Any]:
    """report_dict of the stored spec on the stored workload (what the file's figures say)."""
    from models.cost import Workload, cost_report
    from models.report import report_dict
    from models.spec import ModelSpec
    spec = ModelSpec.from_dict(data["spec"])
    names = {f.name for f in dataclasses.fields(Workload)}
    unknown = set(data["workload"]) - names
    if unknown:
        raise SpecError("workload", f"unknown settings {', '.join(sorted(unknown))}")
    return report_dict(cost_report(spec, Workload(**data["workload"])))


def json_ready(value: Any) -> Any:
    """``value`` with dataclasses, enums, numpy values, tuples, sets and paths made JSON-able.
    Non-finite floats become None (JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_ready(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_ready(v) for v in value]
    if isinstance(value, enum.Enum):
        return json_ready(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):           # numpy arrays and scalars
        return json_ready(value.tolist())
    if hasattr(value, "item"):
        return json_ready(value.item())
    return str(value)


# --------------------------------------------------------------------------- rows

def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts/lists as (dotted key, leaf value) pairs in order."""
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            out.extend(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out.append((prefix, value))
    return out


def figure_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure of a report as CSV rows (see CSV_COLUMNS)."""
    rows: list[dict[str, Any]] = []

    def add(section, key, label, value, unit="", text="", formula="", **op):
        rows.append({"section": section, "key": key, "label": label, "value": value,
                     "unit": unit, "text": text, "formula": formula, **op})

    for f in data["figures"]:
        add(f["section"], f["key"], f["label"], f["value"], f["unit"], f["text"], f["formula"])
    rep = data["report"]
    for key, value in rep.items():
        if key in ("prefill", "decode", "notes", "conventions"):
            continue
        if isinstance(value, dict):
            for sub, v in flatten(value, key):
                add(key, sub, sub.split(".", 1)[1], v, _unit(sub))
        else:
            add("report", key, _LABELS.get(key, key), value, _unit(key))
    for phase in ("prefill", "decode"):
        p = rep[phase]
        for key in ("time_s", "flops", "bytes"):
            add(phase, f"{phase}.{key}", f"{phase} {key}", p[key], _unit(key))
        for kind, t in p["time_by_kind_s"].items():
            add(phase, f"{phase}.time_by_kind_s.{kind}", f"{phase} time, {kind}", t, "s")
        for i, op in enumerate(p["ops"]):
            add(f"{phase} ops", f"{phase}.ops.{i}", op["name"], op["time_s"], "s",
                formula=f"max(FLOPs / peak, bytes / bandwidth) = {op['bound']}-bound",
                kind=op["kind"], layers=op["layers"], flops=op["flops"], bytes=op["bytes"],
                time_s=op["time_s"], bound=op["bound"])
    for i, note in enumerate(rep.get("notes", [])):
        add("notes", f"notes.{i}", "note", note)
    add("conventions", "conventions", "cost model conventions", rep.get("conventions", ""))
    for key, value in data.get("edits", []):
        add("edits", f"edits.{key}", key, value)
    return rows


def _csv_text(rows: list[dict[str, Any]], columns: Iterable[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


# --------------------------------------------------------------------------- formats

def report_json(data: dict[str, Any]) -> str:
    return json.dumps(json_ready(data), indent=2, ensure_ascii=False) + "\n"


def report_csv(data: dict[str, Any]) -> str:
    return _csv_text(figure_rows(data), CSV_COLUMNS)


def _md(text: Any) -> str:
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return {True: "yes", False: "no", None: "–"}[v]
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, int):
        return f"{v:,}".replace(",", " ") if abs(v) >= 10000 else str(v)
    return _md(v)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md(c) if not isinstance(c, (int, float)) or isinstance(c, bool)
                              else _num(c) for c in r) + " |" for r in rows]
    return out + [""]


def report_markdown(data: dict[str, Any]) -> str:
    rep = data["report"]
    hw = rep["hardware"]
    wl = data["workload"]
    lines = [f"# {_md(data['model'])}: Orbit Explorer report", ""]
    lines += [f"Source: {_md(data['source'])}. {hw['devices']} × {_md(hw['name'])}"
              + (" (estimated figures)" if hw.get("estimate") else "")
              + f", context {wl['context']}, batch {wl['batch']}, weights {wl['weights']}, "
              f"KV {wl['kv']}, activations {wl['activations']}.", ""]
    lines += ["## Edits", ""]
    if data["edits"]:
        lines += _table(["Knob", "Value"], [[k, v] for k, v in data["edits"]])
    else:
        lines += ["None: the model as published.", ""]
    lines += ["## Workload", ""]
    lines += _table(["Setting", "Value"], [[k, _num(v)] for k, v in wl.items()])
    lines += ["## Figures", "", "Each figure with the formula and the inputs that give it.", ""]
    lines += _table(["Group", "Figure", "Key", "Value", "Formula and inputs"],
                    [[f["section"], f["label"], f["key"], f["text"], f["formula"]]
                     for f in data["figures"]])
    lines += ["## All report values", "",
              "The keys of `orbit-explorer estimate --json` (values in base units).", ""]
    scalar = [[k, _LABELS.get(k, k), _num(v), _unit(k)] for k, v in rep.items()
              if not isinstance(v, (dict, list)) and k != "conventions"]
    scalar += [[key, key.split(".", 1)[1], _num(v), _unit(key)]
               for name in ("hardware", "workload", "params") for key, v in flatten(rep[name], name)]
    lines += _table(["Key", "Figure", "Value", "Unit"], scalar)
    for phase in ("prefill", "decode"):
        p = rep[phase]
        title = ("Prefill" if phase == "prefill" else "Decode (one token)")
        lines += [f"## {title} operators", "",
                  f"Total {p['time_s']:.6g} s, {p['flops']:.6g} FLOP, {p['bytes']:.6g} B. "
                  "Time by kind: " + ", ".join(f"{k} {v:.4g} s" for k, v in
                                                p["time_by_kind_s"].items()) + ".", ""]
        lines += _table(["Operator", "Kind", "Layers", "FLOPs", "Bytes", "Time (s)", "Bound"],
                        [[o["name"], o["kind"], o["layers"], float(o["flops"]), float(o["bytes"]),
                          float(o["time_s"]), o["bound"]] for o in p["ops"]])
    if rep.get("notes"):
        lines += ["## Notes", ""] + [f"- {_md(n)}" for n in rep["notes"]] + [""]
    lines += ["## Conventions", "", _md(rep.get("conventions", "")), ""]
    lines += ["## Spec", "", "```json", json.dumps(json_ready(data["spec"]), indent=2), "```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- files

def _format_of(path: Path) -> str:
    ext = path.suffix.lower()
    if ext == ".markdown":
        return ".md"
    if ext not in REPORT_EXTENSIONS:
        raise SpecError(str(path), f"unknown report format ({ext or 'no extension'}); use a file "
                                   f"name ending in {', '.join(REPORT_EXTENSIONS)}")
    return ext


def report_text(data: dict[str, Any], fmt: str) -> str:
    fmt = fmt if fmt.startswith(".") else "." + fmt
    return {".json": report_json, ".csv": report_csv, ".md": report_markdown}[fmt.lower()](data)


def write_report(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a report (from build_report) as JSON, CSV or Markdown, chosen by the extension."""
    from orbit_gui.export import _check_target, _write_atomic
    path = Path(path).expanduser()
    fmt = _format_of(path)
    _check_target(path)
    _write_atomic(path, report_text(data, fmt).encode("utf-8"))
    return path


def load_report_json(path: str | os.PathLike) -> dict[str, Any]:
    """A report written by write_report(.json), checked; SpecError naming the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(path), f"cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise SpecError(str(path), f"not an Orbit Explorer report (format {REPORT_FORMAT!r})")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise SpecError(str(path), f"report version {data.get('version')!r} is newer than this "
                                   f"app reads ({VERSION})")
    return data
