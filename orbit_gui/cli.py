"""The command line. A stable contract: other tools parse ``--json`` output, so keys only grow.

Errors print one line to stderr and exit non-zero; never a traceback. Start-up imports neither
Qt nor torch for the engine commands.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.spec import ModelSpec, SpecError

EXIT_USAGE, EXIT_INPUT = 2, 1


def resolve_model(text: str) -> ModelSpec:
    """A catalog id, a spec file (.json/.toml), or a Hugging Face config.json or its folder."""
    return resolve_source(text)[0]


def resolve_source(text: str) -> tuple[ModelSpec, dict | None]:
    """``resolve_model``'s spec and the Hugging Face config behind it (None: a spec file, or a
    catalog entry without its config.json)."""
    from models import catalog
    from models.spec_io import load_source
    if not text.strip():
        raise SpecError("model", "is empty: give a catalog id (orbit-explorer list), a spec file or a config.json")
    path = Path(text)
    # a folder named after the model (a download without its config.json) does not hide the catalog's entry
    if path.exists() and not (path.is_dir() and not (path / "config.json").exists() and _in_catalog(text)):
        return load_source(path)
    if text.endswith((".json", ".toml")) or "/" in text or "\\" in text:
        raise SpecError("model", f"no such file: {text}")
    entry = catalog.find(text)
    return entry.spec(), entry.hf_config


def _in_catalog(text: str) -> bool:
    from models import catalog
    try:
        catalog.find(text)
    except SpecError:
        return False
    return True


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.2f} TiB"


# why the largest context shown is where the search stopped, not where the memory ran out
_CAPPED_BY = {"context length": " (the model's context length)", "context asked": " (the context asked)",
              "search cap": " (the search's cap: the model states no context length)"}


def _fmt_count(n: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


def _fmt_time(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def cmd_list(args) -> int:
    if args.model_types:
        from models.hf import SUPPORTED_MODEL_TYPES, WRAPPER_TYPES
        rows = [{"model_type": t, "image_text": t in WRAPPER_TYPES} for t in SUPPORTED_MODEL_TYPES]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            note = "  (image-text: language model + image encoder)"
            for r in rows:
                print(r["model_type"] + (note if r["image_text"] else ""))
        return 0
    if args.hardware:
        from models.hardware import hardware_db
        rows = [{"id": h.id, "name": h.name, "memory_bytes": h.memory_bytes,
                 "bandwidth_bytes_per_s": h.bandwidth, "bf16_flops": h.peak_flops.get("bf16"),
                 "estimate": h.estimate} for h in hardware_db().values()]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                bf16 = f"{r['bf16_flops'] / 1e12:8.1f} TFLOP/s" if r["bf16_flops"] else " " * 16
                print(f"{r['id']:16s} {_fmt_bytes(r['memory_bytes']):>11s} "
                      f"{r['bandwidth_bytes_per_s'] / 1e9:7.0f} GB/s {bf16}  {r['name']}")
        return 0
    from models.catalog import PROVENANCE_TEXT, catalog
    entries = sorted(catalog().values(), key=lambda e: (e.organization.lower(), e.released))
    rows = [{"id": e.id, "name": e.name, "organization": e.organization, "family": e.family,
             "released": e.released, "open_weights": e.open_weights, "estimate": e.estimate,
             "has_spec": e.has_spec, "provenance": e.provenance} for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            note = PROVENANCE_TEXT[r["provenance"]]
            mark = f"  ({note})" if note else ""
            print(f"{r['id']:32s} {r['organization']:14s} {r['released']}  {r['name']}{mark}")
    return 0


def cmd_estimate(args) -> int:
    from models.cost import cost_report
    from models.overrides import apply_assignments, parse_assignments
    from models.report import report_dict
    spec, config = resolve_source(args.model)
    if args.set:
        spec = apply_assignments(spec, parse_assignments(args.set))
    report = cost_report(spec, workload_from_args(args, config))
    data = report_dict(report)
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    hw = report.hardware
    print(f"{spec.name}  ({spec.num_layers} layers, model_type {spec.model_type or 'spec'})")
    print(f"  on {args.gpus} x {hw.name}, batch {args.batch}, context {args.context}, "
          f"weights {report.workload.weights}"
          + (f", experts {report.workload.expert_weights}" if report.workload.expert_weights else "")
          + f", KV {args.kv}" + (" (as shipped)" if args.as_shipped else ""))
    print(f"  parameters   total {_fmt_count(data['params_total'])}  active {_fmt_count(data['params_active'])}"
          + (f"  (+{_fmt_count(data['params_mtp'])} MTP)" if data["params_mtp"] else ""))
    print(f"  memory       weights {_fmt_bytes(data['weights_bytes'])}  KV {_fmt_bytes(data['kv_cache_bytes'])}"
          f"  activations {_fmt_bytes(data['activation_bytes'])}  reserve {_fmt_bytes(data['reserve_bytes'])}")
    verdict = "fits" if data["fits"] else "DOES NOT FIT"
    print(f"               {_fmt_bytes(data['memory_per_device_bytes'])} per device of "
          f"{_fmt_bytes(hw.memory_bytes)}: {verdict}; largest batch {data['max_batch']}, "
          f"largest context {data['max_context']}"
          + _CAPPED_BY.get(data["max_context_limit"], ""))
    print(f"  FLOPs        prefill {data['flops_prefill']:.3e}  decode/token {data['flops_decode_token']:.3e}")
    print(f"  latency      TTFT {_fmt_time(data['ttft_s'])}  per token {_fmt_time(data['tpot_s'])}  "
          f"{data['tokens_per_s']:.1f} tokens/s")
    for note in data["notes"]:
        print(f"  note: {note}")
    shipped = _shipped_note(config, report.workload) if not args.as_shipped else None
    if shipped:
        print(f"  note: {shipped}")
    return 0


def _shipped_note(config, workload) -> str | None:
    """Where the checkpoint ships in other formats than those costed: say so, and how to size it."""
    from models.hf.checkpoint import shipped_formats
    shipped = shipped_formats(config) if config else None
    if shipped is None or all(getattr(workload, k) == v for k, v in shipped.workload_changes().items()):
        return None
    return f"the checkpoint ships as {shipped.source}; --as-shipped sizes it so"


def workload_from_args(args, config: dict | None = None):
    """The Workload the workload flags (``add_workload_flags``) describe; with --as-shipped, the
    formats the model's config.json states replace the weight flags (``config``: that config where
    the caller has already read it)."""
    import dataclasses

    from models.cost import Workload
    wl = Workload(context=args.context, batch=args.batch, weights=args.weights,
                  expert_weights=args.expert_weights, kv=args.kv, activations=args.activations,
                  group_size=args.group_size, hardware=args.hardware, devices=args.gpus,
                  position=args.position)
    if getattr(args, "as_shipped", False):
        from models.hf.checkpoint import shipped_formats
        if config is None:
            _, config = resolve_source(args.model)
        shipped = shipped_formats(config) if config else None
        if shipped is None:
            raise SpecError("as_shipped", f"{args.model} states no checkpoint format: it needs a config.json "
                                          "with a torch_dtype or a quantization_config this tool reads")
        wl = dataclasses.replace(wl, **shipped.workload_changes())
    return wl


def add_workload_flags(p: argparse.ArgumentParser) -> None:
    """The workload flags shared by ``estimate``, ``export`` and ``report``."""
    p.add_argument("--context", type=int, default=4096, help="prompt tokens per sequence")
    p.add_argument("--batch", type=int, default=1, help="sequences")
    p.add_argument("--position", type=int, default=None,
                   help="decode position (default: right after the prompt)")
    p.add_argument("--weights", default="bf16",
                   help="weight format: fp32 bf16 fp16 fp8 int8 int4 nf4 fp4 ternary")
    p.add_argument("--expert-weights", default="", metavar="FORMAT",
                   help="routed experts' own weight format (gpt-oss: fp4); default: --weights")
    p.add_argument("--as-shipped", action="store_true",
                   help="the weight formats the model's config.json states (quantization_config, "
                        "torch_dtype), in place of --weights, --expert-weights and --group-size")
    p.add_argument("--kv", default="bf16", help="KV-cache format")
    p.add_argument("--activations", default="bf16", help="activation/compute format")
    p.add_argument("--group-size", type=int, default=128, help="quantization group size")
    p.add_argument("--hardware", default="h100-sxm", help="device id (see list --hardware) or cpu")
    p.add_argument("--gpus", type=int, default=1, help="devices (tensor parallel)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="edit the spec like the GUI knobs (kv_heads, attention, experts, top_k, "
                        "window, local_global, layers, ...)")


def build_parser() -> argparse.ArgumentParser:
    from orbit_gui import __version__
    p = argparse.ArgumentParser(prog="orbit-explorer",
                                description="Design, size and profile large language models.")
    p.add_argument("--version", action="version", version=f"orbit-explorer {__version__}")
    sub = p.add_subparsers(dest="command")
    ls = sub.add_parser("list", help="list catalog models (or hardware, or config model types)")
    ls.add_argument("--hardware", action="store_true", help="list devices instead of models")
    ls.add_argument("--model-types", action="store_true",
                    help="list the Hugging Face model_type values a config.json may have")
    ls.add_argument("--json", action="store_true")
    gui = sub.add_parser("gui", help="open the desktop app (the default with no command)")
    gui.add_argument("model", nargs="?", help="catalog id, spec file, or config.json / folder")
    est = sub.add_parser("estimate", help="parameters, memory, FLOPs and latency of a model")
    est.add_argument("model", help="catalog id, spec file, or Hugging Face config.json / folder")
    add_workload_flags(est)
    est.add_argument("--json", action="store_true", help="one JSON object on stdout")
    from orbit_gui.export_cli import add_export_parser
    from orbit_gui.profile_cli import add_profile_parser
    from orbit_gui.sweep_cli import add_sweep_parser
    add_sweep_parser(sub)
    add_export_parser(sub)
    add_profile_parser(sub)
    return p


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from orbit_gui.export_cli import cmd_export, cmd_report
    from orbit_gui.profile_cli import cmd_profile
    from orbit_gui.sweep_cli import cmd_sweep
    handlers = {"list": cmd_list, "estimate": cmd_estimate, "sweep": cmd_sweep, "export": cmd_export,
                "report": cmd_report, "profile": cmd_profile}
    if args.command is None:
        return _launch_gui(None)
    if args.command == "gui":
        return _launch_gui(args.model)
    try:
        status = handlers[args.command](args)
        sys.stdout.flush()       # a failed write shows here, not in the interpreter's exit
        return status
    except SpecError as exc:
        print(f"orbit-explorer: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        return 0
    except OSError as exc:       # stdout on a full disk, say: one line, not a traceback
        print(f"orbit-explorer: error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT


def _launch_gui(model: str | None) -> int:
    try:
        from orbit_gui.app import launch
    except ImportError as exc:   # e.g. Qt's system libraries missing on a headless box
        print(f"orbit-explorer: error: the desktop app cannot start: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return launch(model)
