"""Engine benchmarks (DESIGN.md budgets): the cost report for every catalog model (median under
1 ms), the Charts tab's data for DeepSeek-V3 from a cold cache (about 10 ms), and the CLI's
start-up, which must not import torch or Qt.

    python benchmarks/bench_engine.py [--repeat N] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.catalog import catalog  # noqa: E402
from models.cost import Workload, cost_report  # noqa: E402


def time_reports(repeat: int) -> dict[str, float]:
    out = {}
    wl = Workload(context=8192, batch=8)
    for entry in catalog().values():
        if not entry.has_spec:
            continue
        spec = entry.spec()
        cost_report(spec, wl)                      # warm caches (parameter counts per block)
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cost_report(spec, wl)
            samples.append(time.perf_counter() - t0)
        out[entry.id] = statistics.median(samples)
    return out


def time_chart_data(repeat: int) -> float:
    """Median seconds of the Charts tab's bundle for DeepSeek-V3 (fp8, 8 H200s, 32K), caches cleared."""
    from models.catalog import find
    from models.charts import chart_data, clear_cache
    spec = find("deepseek-v3").spec()
    wl = Workload(context=32768, weights="fp8", hardware="h200-sxm", devices=8)   # the tests' case
    report = cost_report(spec, wl)
    samples = []
    for _ in range(repeat):
        clear_cache()
        t0 = time.perf_counter()
        chart_data(spec, wl, report)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def time_cli_startup(repeat: int) -> tuple[float, list[str]]:
    samples, heavy = [], []
    code = ("import sys, runpy; sys.argv=['orbit-explorer','estimate','deepseek-v3','--json'];"
            "import io, contextlib\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: runpy.run_module('orbit_gui', run_name='__main__')\n"
            "    except SystemExit: pass\n"
            "print(','.join(m for m in ('torch','PySide6','onnxruntime','transformers') if m in sys.modules))")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        samples.append(time.perf_counter() - t0)
        heavy = [m for m in out.stdout.strip().split(",") if m]
    return statistics.median(samples), heavy


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    reports = time_reports(args.repeat)
    charts = time_chart_data(max(5, args.repeat // 10))
    startup, heavy = time_cli_startup(5)
    values = sorted(reports.values())
    summary = {"models": len(values), "median_ms": statistics.median(values) * 1e3,
               "max_ms": values[-1] * 1e3, "slowest": max(reports, key=reports.get),
               "chart_data_ms": charts * 1e3,
               "cli_estimate_wall_s": startup, "cli_heavy_imports": heavy}
    if args.json:
        print(json.dumps({"summary": summary, "per_model_ms": {k: v * 1e3 for k, v in reports.items()}},
                         indent=2))
    else:
        print(f"cost report, {summary['models']} catalog models: median {summary['median_ms']:.3f} ms, "
              f"slowest {summary['max_ms']:.3f} ms ({summary['slowest']}); budget 1 ms")
        print(f"Charts tab data, DeepSeek-V3 on 8 H200s, cold cache: median {charts * 1e3:.1f} ms; "
              "budget 10 ms")
        print(f"`orbit-explorer estimate deepseek-v3 --json` wall time: {startup * 1e3:.0f} ms; "
              f"heavy modules imported: {', '.join(heavy) or 'none'}")
    return 0 if summary["median_ms"] < 1.0 and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
