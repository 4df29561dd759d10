"""Export: every view to SVG, PNG and PDF headless; report JSON/CSV/Markdown; the CLI commands;
the GUI's export actions; and (slow) the built wheel in a fresh virtual environment."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from models.catalog import find
from models.cost import Workload, cost_report
from models.metrics import metric_rows
from models.overrides import apply_overrides
from models.report import report_dict

ROOT = Path(__file__).resolve().parents[1]
SVG_NS = "{http://www.w3.org/2000/svg}"
DPI = 144
FORMATS = ("svg", "png", "pdf")


# (case id, model, overrides, view, unfold, texts that must appear as <text>)
CASES = {
    "architecture-edited": ("llama-3-8b", {"kv_heads": 2}, "architecture", False,
                            ["Llama 3 8B", "L0", "L30", "Token embedding", "LM head", "GQA 32/2"]),
    "architecture-100": ("llama-3-8b", {"layers": 100}, "architecture", True,
                         ["Llama 3 8B", "L0", "L99", "Token embedding"]),
    "memory": ("llama-3-8b", {}, "memory", False, ["Llama 3 8B", "weights"]),
    "roofline": ("llama-3-8b", {}, "roofline", False, ["Llama 3 8B", "decode ops (one token)"]),
    "orbit": ("llama-3-8b", {}, "orbit", False, ["Llama 3 8B", "Meta"]),
    "timeline": ("llama-3-8b", {}, "timeline", False, ["Release date", "GPT-3"]),
    "benchmarks": ("llama-3-8b", {}, "benchmarks", False, ["MMLU"]),
    # the chart tabs stacking two plots: both plots, each its own axis titles
    "scaling": ("llama-3-8b", {}, "scaling", False,
                ["Llama 3 8B", "Time per output token (ms)", "KV cache + state (GiB)"]),
    "thinking": ("llama-3-8b", {}, "thinking", False,
                 ["Llama 3 8B", "Latency (s)", "Cost per request batch (US$)"]),
}


@pytest.fixture(scope="module")
def built(qapp):
    """Each case's view, built once offscreen (as `orbit-explorer export` builds it)."""
    from orbit_gui.export import build_view
    cache: dict = {}

    def get(case: str):
        if case not in cache:
            model, edits, view, unfold, _ = CASES[case]
            spec = find(model).spec()
            if edits:
                spec = apply_overrides(spec, edits)
            cache[case] = (build_view(view, spec, cost_report(spec, Workload()), unfold=unfold),
                           spec)
        return cache[case]
    yield get
    for hv, _ in cache.values():
        for w in (hv.owner, hv.widget):
            if w is not None:
                w.hide()
                w.deleteLater()


def _svg_texts(path: Path) -> tuple[ET.Element, list[str]]:
    root = ET.parse(path).getroot()
    texts = ["".join(t.itertext()).strip() for t in root.iter(f"{SVG_NS}text")]
    return root, texts


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(CASES))
def test_view_exports(built, case, fmt, tmp_path):
    from PySide6.QtGui import QImage
    from orbit_gui.export import export_view, png_size, source_rect
    hv, spec = built(case)
    view = hv.widget
    out = export_view(view, tmp_path / f"{case}.{fmt}", dpi=DPI, title=spec.name)
    assert out.exists() and out.stat().st_size > 1000
    rect = source_rect(view)
    if fmt == "svg":
        root, texts = _svg_texts(out)
        assert root.tag == f"{SVG_NS}svg"
        vb = [float(v) for v in root.get("viewBox").split()]
        assert vb[2] == pytest.approx(rect.width(), abs=0.5)
        assert vb[3] == pytest.approx(rect.height(), abs=0.5)
        assert root.find(f"{SVG_NS}title").text == spec.name
        joined = "\n".join(texts)
        for needle in CASES[case][4]:
            assert needle in joined, f"{needle!r} is not text in the SVG"
        assert "font-family=" in out.read_text(encoding="utf-8")
    elif fmt == "png":
        image = QImage(str(out))
        assert not image.isNull()
        w, h = png_size(view, DPI)
        assert (image.width(), image.height()) == (w, h)
        assert w == math.ceil(rect.width() * DPI / 96 - 1e-6)
        assert h == math.ceil(rect.height() * DPI / 96 - 1e-6)
        assert round(image.dotsPerMeterX() * 0.0254) == DPI
        # every tile was painted: the background reaches all corners and the middle
        for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w // 2, h // 2)):
            assert image.pixelColor(x, y).alpha() == 255, (x, y)
    else:
        data = out.read_bytes()
        assert data.startswith(b"%PDF")
        _check_pdf(out, rect.width() * 0.75, rect.height() * 0.75, tmp_path)


def _check_pdf(path: Path, w_pt: float, h_pt: float, tmp_path: Path) -> None:
    """The PDF renders, one page of the diagram's size in points."""
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "36", "-singlefile", str(path),
                        str(tmp_path / "page")], check=True, timeout=60)
        from PySide6.QtGui import QImage
        page = QImage(str(tmp_path / "page.png"))
        assert not page.isNull()
        assert page.width() == pytest.approx(w_pt / 2, abs=2)     # 36 dpi = half a point
        assert page.height() == pytest.approx(h_pt / 2, abs=2)
        return
    try:
        from PySide6.QtPdf import QPdfDocument
    except ImportError:
        text = path.read_bytes().decode("latin-1")
        assert "/MediaBox" in text
        return
    doc = QPdfDocument()
    assert doc.load(str(path)) == QPdfDocument.Error.None_
    assert doc.pageCount() == 1
    size = doc.pagePointSize(0)
    assert size.width() == pytest.approx(w_pt, abs=1) and size.height() == pytest.approx(h_pt, abs=1)
    assert not doc.render(0, size.toSize()).isNull()


def test_svg_export_of_100_unfolded_layers_is_vector(qapp, tmp_path):
    """100 layers unfolded export as text and paths (benchmarks/bench_export.py times it)."""
    from models.diagram import diagram_model
    from orbit_gui.export import export_view
    from widgets.diagram import ArchitectureView
    spec = apply_overrides(find("deepseek-v3").spec(), {"layers": 100})
    view = ArchitectureView()
    view.set_model(diagram_model(spec, cost_report(spec, Workload()), unfold=True), unfolded=True)
    out = export_view(view, tmp_path / "d.svg")
    root, texts = _svg_texts(out)
    assert any(t.startswith("L99") for t in texts)
    assert not list(root.iter(f"{SVG_NS}image")), "the diagram must be vectors, not a bitmap"


def test_theme_and_errors(qapp, tmp_path):
    from models.diagram import diagram_model
    from models.spec import SpecError
    from orbit_gui.export import ExportError, export_view
    from widgets.diagram import PALETTES, ArchitectureView
    spec = find("mixtral-8x7b").spec()
    view = ArchitectureView()
    view.set_model(diagram_model(spec, cost_report(spec, Workload())))
    out = export_view(view, tmp_path / "dark.svg", theme="dark")
    assert view.theme() == "dark"
    assert PALETTES["dark"]["background"] in out.read_text(encoding="utf-8")
    with pytest.raises(ExportError, match=r"unknown export format \(\.jpg\)"):
        export_view(view, tmp_path / "a.jpg")
    with pytest.raises(ExportError, match="does not exist"):
        export_view(view, tmp_path / "missing" / "a.svg")
    with pytest.raises(ExportError, match="too large"):
        export_view(view, tmp_path / "huge.png", dpi=2400)
    assert not (tmp_path / "huge.png").exists()
    assert issubclass(ExportError, SpecError)
    with pytest.raises(ExportError, match="dpi"):
        export_view(view, tmp_path / "a.png", dpi=0)
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(ExportError, match="permission denied"):
            export_view(view, ro / "a.svg")


def test_a_closed_model_exports_its_place_in_the_taxonomy_but_no_architecture(qapp, tmp_path):
    """GPT-4 has no public architecture to draw, but it has its place in the orbit."""
    from models.spec import SpecError
    from orbit_gui.export import render_headless
    out = render_headless("gpt-4", "orbit", tmp_path / "t.svg")
    _, texts = _svg_texts(out)
    assert "GPT-4" in texts
    with pytest.raises(SpecError, match="not public"):
        render_headless("gpt-4", "architecture", tmp_path / "a.svg")
    assert not (tmp_path / "a.svg").exists()


def test_render_headless_with_edits(qapp, tmp_path):
    from orbit_gui.export import render_headless
    out = render_headless("llama-3-8b", "architecture", tmp_path / "a.svg",
                          overrides=["kv_heads=8", "layers=40"], theme="light")
    _, texts = _svg_texts(out)
    joined = "\n".join(texts)
    assert "GQA 32/8" in joined and "L39" in texts
    root = ET.parse(out).getroot()
    assert "kv_heads=8" in root.find(f"{SVG_NS}desc").text


# --------------------------------------------------------------------------- what each view holds

CHART_VIEWS = ("memory", "roofline", "latency", "quantization", "scaling", "thinking")


@pytest.mark.parametrize("view", CHART_VIEWS)
def test_a_chart_export_holds_every_plot_of_its_tab(qapp, view, tmp_path):
    """The export of a chart view draws every plot the window's tab shows (scaling: time per
    token and KV cache + state; thinking: latency and cost), stacked as there, as vectors."""
    from orbit_gui.export import CHART_NAMES, build_view, chart_page, export_view
    spec = find("llama-3-8b").spec()
    hv = build_view(view, spec, cost_report(spec, Workload()))
    try:
        page = chart_page(hv.owner, CHART_NAMES[view])
        plots = [p for p in hv.owner.plots if p is page or page.isAncestorOf(p)]
        assert len(plots) == (2 if view in ("scaling", "thinking") else 1)
        assert hv.widget is page
        out = export_view(hv.widget, tmp_path / f"{view}.svg", title=spec.name)
        root, texts = _svg_texts(out)
        from collections import Counter
        titles = Counter(plot.getPlotItem().getAxis(side).labelText
                         for plot in plots for side in ("left", "bottom"))
        for title, n in titles.items():          # every plot's axis titles, once per plot
            assert texts.count(title) >= n, (title, n)
        # as tall as the plots stacked, each as tall as on the tab
        vb = [float(v) for v in root.get("viewBox").split()]
        assert vb[3] >= sum(p.height() for p in plots)
        assert all(p.height() >= 300 for p in plots)
        assert not list(root.iter(f"{SVG_NS}image")), "plots are vectors, not bitmaps"
    finally:
        hv.owner.hide()
        hv.owner.deleteLater()


def test_the_cli_exports_both_scaling_plots(qapp, tmp_path):
    from orbit_gui.cli import run
    svg = tmp_path / "s.svg"
    assert run(["export", "llama-3-8b", "--view", "scaling", "--out", str(svg)]) == 0
    texts = _svg_texts(svg)[1]
    assert "Time per output token (ms)" in texts and "KV cache + state (GiB)" in texts
    assert texts.count("Sequence length (tokens)") == 2          # two x axes: two plot areas
    png = tmp_path / "t.png"
    assert run(["export", "deepseek-v3", "--view", "thinking", "--out", str(png), "--dpi", "96"]) == 0
    from PySide6.QtGui import QImage
    image = QImage(str(png))
    assert image.height() > 2 * 336                              # not just the top plot


def _qt_warnings():
    """Collect Qt's warnings (QtSvg's "Invalid path data" among them) while in the block."""
    from contextlib import contextmanager
    from PySide6.QtCore import qInstallMessageHandler

    @contextmanager
    def collect():
        seen: list[str] = []
        previous = qInstallMessageHandler(lambda mode, ctx, msg: seen.append(msg))
        try:
            yield seen
        finally:
            qInstallMessageHandler(previous)
    return collect()


def test_orbit_export_legends_clear_of_the_ring_and_print_no_mouse_hints(built, tmp_path):
    """The exported orbit keeps its legends off the ring (the organizations' legend hid most of
    "Benchmarking"), prints no on-screen hints (no wheel, no hover in a file), names the ringed
    model, and has no empty path (QtSvg: "Invalid path data")."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainterPath
    from PySide6.QtSvg import QSvgRenderer
    from orbit_gui.export import _overlays, export_view, source_rect
    hv, spec = built("orbit")
    view = hv.widget
    whole = source_rect(view)
    dims = [view.node_item(n) for n in view.layout_.dimension_sectors]
    assert len(dims) >= 8
    ring = QPainterPath()
    for item in dims:
        ring.addPath(item.mapToScene(item.shape()))
    legends = _overlays(view)
    assert [lab.text().split("</b>")[0].rsplit(">", 1)[-1] for lab, _ in legends] == \
        ["Organizations", "Shapes"]
    for label, pos in legends:
        box = QRectF(pos, label.size().toSizeF())
        assert whole.contains(box), (label.objectName(), box, whole)
        assert not ring.intersects(box), f"{label.objectName()} lies on the ring"
    with _qt_warnings() as warnings:
        out = export_view(view, tmp_path / "orbit.svg", title=spec.name)
        text = out.read_text(encoding="utf-8")
        assert QSvgRenderer(str(out)).isValid()
    assert 'd=""' not in text
    assert not [w for w in warnings if "Invalid path data" in w], warnings
    texts = _svg_texts(out)[1]
    joined = "\n".join(texts)
    assert "Organizations" in texts and "Shapes" in texts
    for hint in ("wheel", "drag: pan", "F: fit", "hovered"):
        assert hint not in joined, hint
    assert "ringed: Llama 3 8B" in joined
    # the window's own legend keeps its hints: the mouse is there
    assert "wheel: zoom" in view.shape_legend.text()
    # a PNG of it shows both legends: their text's dark pixels in the top and bottom left
    from PySide6.QtGui import QImage
    png = export_view(view, tmp_path / "orbit.png", dpi=96)
    image = QImage(str(png))
    for label, pos in legends:
        x, y = int(pos.x() - whole.left()), int(pos.y() - whole.top())
        dark = sum(1 for i in range(x, x + label.width(), 2) for j in range(y, y + label.height(), 2)
                   if image.pixelColor(i, j).lightness() < 100)
        assert dark > 50, label.objectName()


def _export_texts(model: str, view: str, tmp_path: Path) -> tuple[list[str], bytes]:
    from orbit_gui.export import render_headless
    svg = render_headless(model, view, tmp_path / f"{model}-{view}.svg")
    png = render_headless(model, view, tmp_path / f"{model}-{view}.png", dpi=96)
    return _svg_texts(svg)[1], png.read_bytes()


@pytest.mark.parametrize("view", ["timeline", "benchmarks"])
def test_timeline_and_benchmark_exports_mark_the_model(qapp, view, tmp_path):
    """The exported model is ringed and named in the legend, as the window marks its open model;
    one the plot cannot show is named with the reason. Two models' exports differ."""
    llama, llama_png = _export_texts("llama-3-8b", view, tmp_path)
    deepseek, deepseek_png = _export_texts("deepseek-v3", view, tmp_path)
    gpt4, _ = _export_texts("gpt-4", view, tmp_path)
    assert llama_png != deepseek_png
    assert "Llama 3 8B" in llama and "DeepSeek-V3" in deepseek
    missing = ("GPT-4: parameters not public, not plotted" if view == "timeline"
               else "GPT-4: no MMLU figure in the survey")
    assert missing in gpt4 and missing not in llama
    if view == "benchmarks":     # a title, as every other export has
        title = "Benchmarks (survey Table 6): MMLU against parameters"
        assert title in llama and title in gpt4
    # the ring is round the model's own point
    from orbit_gui.export import build_view
    spec = find("llama-3-8b").spec()
    hv = build_view(view, spec, cost_report(spec, Workload()))
    try:
        owner = hv.owner or hv.widget
        ring = owner.current_ring.data
        assert len(ring) == 1
        by_id = owner._by_id["llama-3-8b"]
        x, y = (by_id.date, math.log10(by_id.params_total)) if view == "timeline" else (by_id.x, by_id.y)
        assert (ring[0]["x"], ring[0]["y"]) == pytest.approx((x, y))
        rows = [label.text for _, label in owner.legend.items]
        assert rows[-1] == "Llama 3 8B"
    finally:
        for w in (hv.owner, hv.widget):
            if w is not None:
                w.hide()
                w.deleteLater()


# --------------------------------------------------------------------------- the CLI

def test_cli_export_and_report(qapp, tmp_path, capsys):
    from orbit_gui.cli import run
    svg = tmp_path / "m.svg"
    assert run(["export", "llama-3-8b", "--view", "memory", "--out", str(svg), "--context", "8192"]) == 0
    assert "Llama 3 8B" in "\n".join(_svg_texts(svg)[1])
    png = tmp_path / "a.png"
    assert run(["export", "qwen3-0.6b", "--out", str(png), "--dpi", "96", "--theme", "dark"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert run(["export", "llama-3-8b", "--out", str(tmp_path / "a.gif")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown export format (.gif)" in err
    assert run(["export", "llama-3-8b", "--out", str(tmp_path / "a.svg"), "--set", "kv_heads=3"]) == 1
    assert "kv_heads" in capsys.readouterr().err
    assert run(["report", "llama-3-8b", "--out", str(tmp_path / "r.txt")]) == 1
    assert "unknown report format" in capsys.readouterr().err


def _report(edits=None, **wl):
    from orbit_gui.report_export import build_report
    spec = find("llama-3-8b").spec()
    edits = list((edits or {}).items())
    if edits:
        spec = apply_overrides(spec, edits)
    workload = Workload(**wl)
    base = cost_report(find("llama-3-8b").spec(), workload) if edits else None
    return build_report(spec, workload, edits, source="llama-3-8b", baseline=base), spec


def _normal(x):
    return json.loads(json.dumps(x))


def test_report_json_round_trip(tmp_path):
    from orbit_gui.cli import run
    from orbit_gui.report_export import load_report_json, recompute
    out = tmp_path / "r.json"
    assert run(["report", "llama-3-8b", "--out", str(out), "--set", "kv_heads=2",
                "--context", "8192", "--weights", "int4"]) == 0
    data = load_report_json(out)
    spec = apply_overrides(find("llama-3-8b").spec(), {"kv_heads": 2})
    expected = report_dict(cost_report(spec, Workload(context=8192, weights="int4")))
    assert data["report"] == _normal(expected)
    assert data["edits"] == [["kv_heads", "2"]]
    assert data["workload"]["context"] == 8192 and data["workload"]["weights"] == "int4"
    # the stored spec and workload give the stored figures again
    assert _normal(recompute(data)) == data["report"]
    keys = [f["key"] for f in data["figures"]]
    assert keys == [r.key for r in metric_rows(cost_report(spec, Workload(context=8192, weights="int4")))]
    assert all(f["formula"] for f in data["figures"])
    from models.spec import ModelSpec
    assert ModelSpec.from_dict(data["spec"]) == spec


def test_report_csv_and_markdown_hold_every_figure(tmp_path):
    from orbit_gui.report_export import write_report
    data, spec = _report({"kv_heads": 4}, context=2048, batch=4)
    rep = data["report"]
    scalar_keys = [k for k, v in rep.items() if not isinstance(v, (dict, list))]
    metric_keys = [f["key"] for f in data["figures"]]
    csv_path = write_report(data, tmp_path / "r.csv")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    keys = {r["key"] for r in rows}
    for k in metric_keys + scalar_keys:
        assert k in keys, k
    for name in rep["params"]:
        assert f"params.{name}" in keys
    ops = [r for r in rows if r["section"].endswith(" ops")]
    assert len(ops) == len(rep["prefill"]["ops"]) + len(rep["decode"]["ops"])
    first = rep["prefill"]["ops"][0]
    assert float(ops[0]["flops"]) == pytest.approx(first["flops"]) and ops[0]["bound"] == first["bound"]
    by_key = {r["key"]: r for r in rows}
    assert float(by_key["params_total"]["value"]) == rep["params_total"]
    assert float(by_key["memKV"]["value"]) == pytest.approx(rep["kv_cache_bytes"])
    assert by_key["memKV"]["unit"] == "B" and by_key["memKV"]["formula"]
    md = write_report(data, tmp_path / "r.md").read_text(encoding="utf-8")
    assert md.startswith(f"# {spec.name}")
    for k in metric_keys + [k for k in scalar_keys if k != "conventions"]:
        assert f"| {k} |" in md, k
    assert "## Conventions" in md and "## Prefill operators" in md and "| kv_heads | 4 |" in md


# --------------------------------------------------------------------------- the GUI

def test_window_exports_what_it_shows(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from orbit_gui.export import export_view
    from orbit_gui.main_window import MainWindow
    from orbit_gui.report_export import load_report_json
    from orbit_gui.settings import Settings
    window = MainWindow(Settings())
    qtbot.addWidget(window)
    window.open_catalog("llama-3-8b")
    window.doc.set_knob("kv_heads", 2)
    out = export_view(window.diagram, tmp_path / "d.svg")
    assert "GQA 32/2" in "\n".join(_svg_texts(out)[1])     # the edit is in the export
    assert window.diagram.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu
    names = {a.objectName() for a in window.findChild(QMenu, "exportMenu").actions()}
    assert {"actionExportDiagram", "actionExportChart", "actionExportReport"} <= names
    assert window.export_report_to(str(tmp_path / "r.json"))
    data = load_report_json(tmp_path / "r.json")
    assert data["edits"] == [["kv_heads", "2"]]
    assert data["report"]["kv_cache_bytes"] == window.doc.report.memory.kv_cache
    # the dialogs, answered without a user
    from PySide6.QtWidgets import QFileDialog, QWidget
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "menu"), "PDF document (*.pdf)"))
    window.findChild(QAction, "actionExportDiagram").trigger()
    assert (tmp_path / "menu.pdf").read_bytes().startswith(b"%PDF")
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "chart.svg"), ""))
    window.export_chart_dialog()
    assert "Llama 3 8B" in "\n".join(_svg_texts(tmp_path / "chart.svg")[1])
    # the Scaling tab on show: both of its plots, as vectors
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentWidget(window.charts_host)
    window._charts.setCurrentWidget(window._charts.findChild(QWidget, "scalingTab"))
    qtbot.waitUntil(lambda: window._charts.currentWidget().isVisible())
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "scaling.svg"), ""))
    window.export_chart_dialog()
    root, texts = _svg_texts(tmp_path / "scaling.svg")
    assert "Time per output token (ms)" in texts and "KV cache + state (GiB)" in texts
    assert not list(root.iter(f"{SVG_NS}image"))


# --------------------------------------------------------------------------- the wheel

@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path):
    """Build the wheel offline, install it into a fresh venv (dependencies from this machine),
    and run the CLI from a folder outside the source tree."""
    import zipfile
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels)], cwd=ROOT, check=True, timeout=300)
    wheel = next(wheels.glob("orbit_explorer-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("resources/catalog/llama-3-8b.json", "resources/taxonomy/taxonomy.json",
                   "resources/hardware/h100-sxm.json", "resources/icons/orbit-explorer.svg",
                   "resources/icons/orbit-explorer-256.png", "orbit_gui/export.py",
                   "orbit_gui/report_export.py", "widgets/diagram.py", "models/cost.py"):
        assert needed in names, f"{needed} is not in {wheel.name}"
    assert not any(n.startswith(("tests/", "benchmarks/", "packaging/")) for n in names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--force-reinstall", str(wheel)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import orbit_gui, resources; "
                            "print(orbit_gui.__file__); print(resources.RESOURCES_DIR)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60, check=True)
    for line in where.stdout.split():
        assert str(venv) in line and str(ROOT) not in line
    exe = venv / "bin" / "orbit-explorer"
    est = subprocess.run([str(exe), "estimate", "llama-3-8b", "--json"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=120)
    assert est.returncode == 0, est.stderr
    assert json.loads(est.stdout)["params_total"] == 8030261248
    svg = work / "a.svg"
    ex = subprocess.run([str(exe), "export", "llama-3-8b", "--view", "architecture", "--out",
                         str(svg)], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert ex.returncode == 0, ex.stderr
    _, texts = _svg_texts(svg)
    assert "Llama 3 8B" in texts and "L0" in texts
