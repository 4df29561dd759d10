"""SVG export of a 100-layer architecture diagram (budget: median under 200 ms), plus PDF and
PNG for reference.

    python benchmarks/bench_export.py

The diagram is built once (that is the window's work); the timed part is export_view writing the
file, as File > Export does. Both the folded and the unfolded (one box per layer) diagram are
timed; the budget applies to each.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUDGET_S = 0.200
REPEATS = 15


def main() -> int:
    from models.catalog import find
    from models.cost import Workload, cost_report
    from models.diagram import diagram_model
    from models.overrides import apply_overrides
    from orbit_gui.export import ensure_app, export_view
    ensure_app()
    from widgets.diagram import ArchitectureView

    spec = apply_overrides(find("deepseek-v3").spec(), {"layers": 100})
    report = cost_report(spec, Workload())
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for unfold in (False, True):
            view = ArchitectureView()
            view.set_model(diagram_model(spec, report, unfold=unfold), unfolded=unfold)
            items = len(view.scene().items())
            for ext in ("svg", "pdf", "png"):
                out = Path(tmp) / f"d.{ext}"
                export_view(view, out, dpi=96)        # warm-up (fonts, generators)
                times = []
                for _ in range(REPEATS if ext == "svg" else 5):
                    t0 = time.perf_counter()
                    export_view(view, out, dpi=192)
                    times.append(time.perf_counter() - t0)
                med = statistics.median(times)
                label = "unfolded" if unfold else "folded"
                line = (f"{ext.upper()} export, {spec.num_layers}-layer diagram ({label}, {items} items, "
                        f"{out.stat().st_size / 1024:.0f} KiB): median {med * 1e3:.1f} ms")
                if ext == "svg":
                    within = med < BUDGET_S
                    ok &= within
                    line += f" (budget {BUDGET_S * 1e3:.0f} ms: {'ok' if within else 'OVER'})"
                print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
