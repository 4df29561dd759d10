"""`orbit-explorer profile MODEL`: time one layer of each kind of a model on this machine.

    orbit-explorer profile qwen3-0.6b --context 512 --backends torch,sdpa,onnxruntime
    orbit-explorer profile deepseek-v3 --device cuda --backends torch,triton --context 4096 --json

Prints a table (or, with --json, one JSON object: the ProfileResult as plain data, plus
"calibration" with --calibrate). torch is imported only when the command runs.
"""
from __future__ import annotations

import argparse
import json
import sys

from models.metrics import fmt_bytes

BACKEND_CHOICES = ("torch", "sdpa", "triton", "onnxruntime")


def add_profile_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("profile", help="time one layer of each kind on this machine "
                                              "(torch, SDPA, Triton, ONNX Runtime)")
    p.add_argument("model", help="catalog id, spec file, or Hugging Face config.json / folder")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--backends", default="torch,sdpa,triton,onnxruntime",
                   help="comma-separated: torch, sdpa, triton, onnxruntime (default all)")
    p.add_argument("--phases", default="prefill,decode",
                   help="comma-separated: prefill, decode (default both)")
    p.add_argument("--context", type=int, default=512, help="prompt tokens per sequence")
    p.add_argument("--batch", type=int, default=1, help="sequences")
    p.add_argument("--dtype", default="auto", help="fp32, bf16, fp16 (auto: fp32 on the CPU, bf16 on CUDA)")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per block and phase")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    p.add_argument("--max-seconds", type=float, default=20.0, help="time limit per timing")
    p.add_argument("--weights", default=None, help="int4: let the triton backend use its INT4 GEMM")
    p.add_argument("--threads", type=int, default=None, help="torch threads on the CPU")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="edit the spec first (as in estimate)")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the cost model's efficiencies to this run and save them for the device")
    p.add_argument("--no-calibration", action="store_true",
                   help="predict with the default efficiencies even if a calibration is saved")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(handler=cmd_profile)
    return p


def _t(s) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _rate(x, unit) -> str:
    if not x:
        return "-"
    for div, p in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if x >= div:
            return f"{x / div:.1f} {p}{unit}"
    return f"{x:.0f} {unit}"


def _table(result, out) -> None:
    req = result.request
    print(f"{req.spec.name} on {result.device}, {result.dtype}, context {req.context}, "
          f"batch {req.batch}", file=out)
    head = (f"{'block':22s} {'layers':>6s} {'phase':8s} {'backend':12s} {'p50':>10s} "
            f"{'achieved':>22s} {'predicted':>10s} {'ratio':>6s} {'roof%':>6s} {'peak mem':>10s} {'error':>8s}  status")
    print(head, file=out)
    print("-" * len(head), file=out)
    for b in result.blocks:
        ach = (f"{_rate(b.achieved_flops_per_s, 'FLOP/s')} {_rate(b.achieved_bytes_per_s, 'B/s')}"
               if b.p50_s else "-")
        ratio = f"{b.ratio:.2f}" if b.ratio else "-"
        roof = f"{b.roofline_pct:.0f}" if b.roofline_pct is not None else "-"
        err = f"{b.rel_error:.1e}" if b.rel_error is not None else "-"
        peak = fmt_bytes(b.peak_memory_bytes) if b.peak_memory_bytes is not None else "-"
        status = b.status + (f" ({b.message})" if b.message and b.status != "ok" else "")
        print(f"{b.block[:22]:22s} {b.layers:6d} {b.phase:8s} {b.backend:12s} {_t(b.p50_s):>10s} "
              f"{ach:>22s} {_t(b.predicted_s):>10s} {ratio:>6s} {roof:>6s} {peak:>10s} {err:>8s}  {status}",
              file=out)
    if result.whole_by_backend:
        print("whole model (extrapolated: one layer per kind x layer count + LM head):", file=out)
        for name, w in result.whole_by_backend.items():
            dr = f"{w.decode_ratio:.2f}" if w.decode_ratio else "-"
            pr = f"{w.prefill_ratio:.2f}" if w.prefill_ratio else "-"
            print(f"  {name:12s} prefill {_t(w.prefill_s)} (predicted {_t(w.predicted_prefill_s)}, "
                  f"ratio {pr});  decode/token {_t(w.decode_s)} (predicted "
                  f"{_t(w.predicted_decode_s)}, ratio {dr})", file=out)
    for m in result.messages:
        print(f"  note: {m}", file=out)
    for b in result.blocks:
        if b.status == "ok" and b.message:
            print(f"  {b.block} {b.phase} {b.backend}: {b.message}", file=out)


def cmd_profile(args) -> int:
    from models.spec import SpecError
    from orbit_gui.cli import resolve_model
    try:
        spec = resolve_model(args.model)
        if getattr(args, "set", None):
            from models.overrides import apply_assignments, parse_assignments
            spec = apply_assignments(spec, parse_assignments(args.set))
    except SpecError as exc:
        print(f"orbit-explorer: error: {exc}", file=sys.stderr)
        return 1
    backends = tuple(b.strip().lower() for b in str(args.backends).split(",") if b.strip())
    bad = [b for b in backends if b not in BACKEND_CHOICES]
    if bad or not backends:
        print(f"orbit-explorer: error: unknown backend {bad[0] if bad else '(none)'!r}; choose from "
              f"{', '.join(BACKEND_CHOICES)}", file=sys.stderr)
        return 2
    phases = tuple(x.strip().lower() for x in str(getattr(args, "phases", "prefill,decode")).split(",")
                   if x.strip())
    if not phases or any(x not in ("prefill", "decode") for x in phases):
        print(f"orbit-explorer: error: --phases takes prefill, decode or both; got {args.phases!r}",
              file=sys.stderr)
        return 2
    from kernels.calibration import (apply_calibration, calibrate, load_calibration,
                                     save_calibration, stored_calibration_problem)
    from kernels.profiler import ProfileRequest, Profiler, device_key, parse_device, result_hardware
    saved = None
    if not getattr(args, "no_calibration", False):
        try:
            kind, index = parse_device(args.device)
            key = None
            if kind == "cpu":
                key = device_key("cpu")
            else:
                import torch
                if torch.cuda.is_available() and index < torch.cuda.device_count():
                    key = device_key(kind, index)
            if key is not None:
                saved = load_calibration(key)
                problem = stored_calibration_problem(key)
                if problem:
                    print(f"orbit-explorer: note: the saved calibration of {key} is ignored: {problem}",
                          file=sys.stderr)
        except Exception:  # noqa: BLE001 - the profile reports device problems itself
            saved = None
    req = ProfileRequest(spec=spec, device=args.device, backends=backends, context=args.context,
                         batch=args.batch, phases=phases, dtype=getattr(args, "dtype", "auto"),
                         repeats=args.repeats, warmup=getattr(args, "warmup", 2),
                         max_seconds=getattr(args, "max_seconds", 20.0),
                         weights=getattr(args, "weights", None),
                         threads=getattr(args, "threads", None), calibration=saved)
    progress = None
    if not args.json and sys.stderr.isatty():
        def progress(fraction, text):
            sys.stderr.write(f"\r[{fraction * 100:5.1f}%] {text[:70]:70s}")
            sys.stderr.flush()
    try:
        result = Profiler(req).run(progress=progress)
    except KeyboardInterrupt:
        print("orbit-explorer: error: interrupted", file=sys.stderr)
        return 130
    if progress is not None:
        sys.stderr.write("\r" + " " * 80 + "\r")
    data = result.to_dict()
    cal_data = None
    if args.calibrate and result.status == "ok":
        try:
            cal = calibrate(result)
        except ValueError as exc:
            print(f"orbit-explorer: error: cannot calibrate: {exc}", file=sys.stderr)
            return 1
        path = save_calibration(cal)
        from models.cost import cost_report
        base = result.workload()
        from dataclasses import replace
        default = replace(base, compute_efficiency=0.70, memory_efficiency=0.80)
        before = cost_report(spec, default, result_hardware(result))
        after = cost_report(spec, apply_calibration(base, cal), result_hardware(result))
        # compare with the backend the calibration was fitted to (the fastest one measured)
        w = result.whole_by_backend.get(cal.backend) or result.whole_model
        measured = w.decode_s if w else None
        measured_pre = w.prefill_s if w else None
        cal_data = {**cal.to_dict(), "path": str(path),
                    "decode": {"measured_s": measured,
                               "predicted_before_s": before.decode.time_s,
                               "predicted_after_s": after.decode.time_s,
                               "ratio_before": before.decode.time_s / measured if measured else None,
                               "ratio_after": after.decode.time_s / measured if measured else None},
                    "prefill": {"measured_s": measured_pre,
                                "predicted_before_s": before.prefill.time_s,
                                "predicted_after_s": after.prefill.time_s,
                                "ratio_before": before.prefill.time_s / measured_pre if measured_pre else None,
                                "ratio_after": after.prefill.time_s / measured_pre if measured_pre else None}}
        data["calibration"] = cal_data
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif result.status != "error":
        _table(result, sys.stdout)
        if cal_data:
            d = cal_data["decode"]
            print(f"calibration for {cal_data['device_key']} (saved to {cal_data['path']}): "
                  f"compute efficiency {cal_data['compute_efficiency']:.3f}, memory efficiency "
                  f"{cal_data['memory_efficiency']:.3f}")
            if d["measured_s"]:
                print(f"  decode/token measured {_t(d['measured_s'])}; predicted before "
                      f"{_t(d['predicted_before_s'])} (ratio {d['ratio_before']:.2f}), after "
                      f"{_t(d['predicted_after_s'])} (ratio {d['ratio_after']:.2f})")
    if result.status == "error":
        print(f"orbit-explorer: error: {result.message}", file=sys.stderr)
        return 1
    if args.calibrate and result.status != "ok":
        print(f"orbit-explorer: error: cannot calibrate a {result.status} profile", file=sys.stderr)
        return 1
    return 0
