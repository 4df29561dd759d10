"""Orbit budget (DESIGN.md): the orbit graph with every catalog model and technique, layout + first
paint < 150 ms. Measured here: build_graph() + orbit_layout() + OrbitPanel.set_graph() + first
paint (grab()), for the whole catalog:

- first run: in a fresh process (catalog parsing, spec import and parameter counting included,
  since build_graph caches them per process), once per process, median over several processes;
- warm: the same steps repeated in one process (graph facts cached), median over repeats.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_orbit.py
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
BUDGET_MS = 150.0

FRESH = r"""
import sys, time
sys.path.insert(0, %r)
from PySide6.QtWidgets import QApplication
app = QApplication([])
import models.taxonomy, models.orbit_layout, widgets.orbit     # imports not counted
from models.taxonomy import build_graph
from models.orbit_layout import orbit_layout
from widgets.orbit import OrbitPanel
panel = OrbitPanel(); panel.resize(1600, 1000); panel.show(); app.processEvents()
t0 = time.perf_counter()
g = build_graph()
t1 = time.perf_counter()
lay = orbit_layout(g)
t2 = time.perf_counter()
panel.set_graph(g, lay)
panel.grab()
t3 = time.perf_counter()
print(f"{(t3 - t0) * 1e3:.2f} {(t1 - t0) * 1e3:.2f} {(t2 - t1) * 1e3:.2f} {(t3 - t2) * 1e3:.2f}")
""" % str(ROOT)


def fresh(repeat: int) -> list[list[float]]:
    out = []
    for _ in range(repeat):
        res = subprocess.run([sys.executable, "-c", FRESH], cwd=ROOT, capture_output=True,
                             text=True, check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        out.append([float(v) for v in res.stdout.split()[-4:]])
    return out


def warm(repeat: int) -> list[list[float]]:
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])
    from models.orbit_layout import orbit_layout
    from models.taxonomy import build_graph
    from widgets.orbit import OrbitPanel
    panel = OrbitPanel()
    panel.resize(1600, 1000)
    panel.show()
    app.processEvents()
    panel.set_graph(build_graph())      # warm the caches once
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        g = build_graph()
        t1 = time.perf_counter()
        lay = orbit_layout(g)
        t2 = time.perf_counter()
        panel.set_graph(g, lay)
        panel.grab()
        t3 = time.perf_counter()
        out.append([(t3 - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3])
    return out


def summary(name: str, rows: list[list[float]]) -> str:
    med = [statistics.median(r[i] for r in rows) for i in range(4)]
    verdict = "within" if med[0] < BUDGET_MS else "OVER"
    return (f"{name}: median {med[0]:.1f} ms ({verdict} the {BUDGET_MS:.0f} ms budget) = build_graph "
            f"{med[1]:.1f} + orbit_layout {med[2]:.1f} + set_graph and first paint {med[3]:.1f}; "
            f"max {max(r[0] for r in rows):.1f} ms over {len(rows)} runs")


def main() -> int:
    print(summary("first run, fresh process", fresh(5)))
    print(summary("warm, same process", warm(20)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
