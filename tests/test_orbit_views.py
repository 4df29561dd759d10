"""The orbit, timeline and benchmark views: the pure layout, filters and series
(models/orbit_layout.py) and the widgets (widgets/orbit.py) under pytest-qt."""
from __future__ import annotations

import math

import pytest

from models.orbit_layout import (R_CONCEPT, benchmark_series, filter_nodes, neighbourhood, node_details,
                                 orbit_layout, organization_colors, timeline_series)
from models.taxonomy import build_graph


@pytest.fixture(scope="module")
def graph():
    return build_graph()


@pytest.fixture(scope="module")
def layout(graph):
    return orbit_layout(graph)


def models_in(nodes):
    return {n.split(":", 1)[1] for n in nodes if n.startswith("model:")}


# ------------------------------------------------------------------ pure

def test_every_node_positioned(graph, layout):
    assert set(layout.positions) == set(graph.nodes)
    assert set(layout.labels) == set(graph.nodes)
    for x, y in layout.positions.values():
        assert math.isfinite(x) and math.isfinite(y)


def test_models_inside_the_concept_ring(graph, layout):
    ring = R_CONCEPT * layout.size
    for n, d in graph.nodes(data=True):
        r = math.hypot(*layout.positions[n])
        if d["kind"] == "model":
            assert r < ring - layout.node_radius[n]
        elif d["kind"] == "concept":
            assert r == pytest.approx(ring)


def test_older_models_inside(graph, layout):
    r = {d["id"]: math.hypot(*layout.positions[n]) for n, d in graph.nodes(data=True)
         if d["kind"] == "model"}
    assert r["gpt-2"] < r["llama-2-7b"] < r["llama-3-8b"] < r["qwen3-8b"]


def test_concepts_in_their_dimension_sector(graph, layout):
    for n, d in graph.nodes(data=True):
        if d["kind"] == "concept":
            a0, a1 = layout.dimension_sectors[f"dimension:{d['dimension']}"]
            x, y = layout.positions[n]
            ang = math.degrees(math.atan2(x, -y)) % 360
            assert a0 <= ang <= a1


def test_layout_is_deterministic(graph, layout):
    again = orbit_layout(build_graph())
    assert again.positions == layout.positions
    assert again.labels == layout.labels
    assert organization_colors(graph) == organization_colors(build_graph())


def test_visible_model_labels_do_not_overlap(graph, layout):
    boxes = []
    for n, lab in layout.labels.items():
        if n.startswith("model:") and lab.visible:
            w = len(lab.text) * 0.58 * lab.font
            x0 = {"left": lab.x, "right": lab.x - w, "center": lab.x - w / 2}[lab.align]
            boxes.append((x0, lab.y - lab.font * 0.62, x0 + w, lab.y + lab.font * 0.62))
    assert len(boxes) >= 40
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_organization_filter(graph):
    visible = models_in(filter_nodes(graph, organizations=["Meta"]))
    assert visible and all(graph.nodes[f"model:{m}"]["organization"] == "Meta" for m in visible)
    assert "deepseek-v3" not in visible
    assert "organization:Meta" in filter_nodes(graph, organizations=["Meta"])
    assert "organization:DeepSeek" not in filter_nodes(graph, organizations=["Meta"])


def test_year_filter(graph):
    visible = models_in(filter_nodes(graph, years=(2024, 2024)))
    assert "llama-3-8b" in visible and "deepseek-v3" in visible
    assert "gpt-2" not in visible and "qwen3-8b" not in visible


def test_technique_filter_mla(graph):
    visible = models_in(filter_nodes(graph, techniques="mla"))
    assert {"deepseek-v2", "deepseek-v3", "deepseek-r1", "kimi-k2"} <= visible
    assert "llama-3-8b" not in visible
    nodes = filter_nodes(graph, techniques=["mla"])
    assert "concept:mla" in nodes and all(n in nodes for n in (
        "dimension:agentic_ai", "dimension:architecture_evolution"))


def test_search(graph):
    visible = models_in(filter_nodes(graph, search="deepseek"))
    assert {"deepseek-v2", "deepseek-v3", "deepseek-r1"} <= visible
    assert "llama-3-8b" not in visible


def test_dimension_filter_keeps_only_its_concepts(graph):
    nodes = filter_nodes(graph, dimensions=["benchmarking"])
    concepts = [n for n in nodes if n.startswith("concept:")]
    assert concepts and all(graph.nodes[c]["dimension"] == "benchmarking" for c in concepts)


def test_no_filter_shows_everything(graph):
    assert filter_nodes(graph) == set(graph.nodes)


def test_neighbourhood(graph):
    near = neighbourhood(graph, "model:deepseek-v3")
    assert {"model:deepseek-v3", "concept:mla", "organization:DeepSeek"} <= near


def test_timeline_series(graph):
    s = timeline_series(graph)
    ids = {p.id: p for p in s.points}
    assert len(ids) == sum(1 for _, d in graph.nodes(data=True) if d["kind"] == "model")
    assert ids["deepseek-v3"].params_active < ids["deepseek-v3"].params_total
    assert ids["llama-3-8b"].params_active is None          # dense: no separate active count
    assert 2024.9 < ids["deepseek-v3"].date < 2025.0
    assert ("deepseek-r1", "deepseek-v3") in s.lineage
    assert s.labels and all(s.points[lab.index].params_total for lab in s.labels)


def test_benchmark_series(graph):
    s = benchmark_series("MMLU", "params", graph=graph)
    assert s.points and all(p.y > 8 for p in s.points)       # log10 of parameters
    both = benchmark_series("MMLU", "GPQA", graph=graph)
    assert {p.id for p in both.points} != {p.id for p in s.points}


# ------------------------------------------------------------------ widgets

@pytest.fixture
def panel(qtbot, graph, layout):
    from widgets.orbit import OrbitPanel
    p = OrbitPanel(graph, layout)
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitExposed(p)
    return p


def visible_models(view):
    return models_in(n for n in view.visible_nodes())


def test_search_hides_non_matching_models(panel, qtbot):
    total = sum(1 for n in panel.graph if n.startswith("model:"))
    assert len(visible_models(panel.view)) == total
    qtbot.keyClicks(panel.findChild(type(panel.search), "orbitSearch"), "deepseek")
    shown = visible_models(panel.view)
    assert "deepseek-v3" in shown and "llama-3-8b" not in shown
    assert not panel.view.node_item("model:llama-3-8b").isVisible()
    assert panel.view.node_item("model:deepseek-v3").isVisible()


def test_organization_filter_hides_others(panel):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QListWidget
    orgs = panel.findChild(QListWidget, "orbitOrganizations")
    item = next(orgs.item(i) for i in range(orgs.count()) if orgs.item(i).text() == "Meta")
    item.setCheckState(Qt.CheckState.Checked)
    shown = visible_models(panel.view)
    assert "llama-3-8b" in shown and "deepseek-v3" not in shown
    assert not panel.view.label_item("model:deepseek-v3").isVisible()


def test_year_and_technique_controls(panel):
    from PySide6.QtWidgets import QComboBox, QSpinBox
    panel.findChild(QSpinBox, "orbitYearFrom").setValue(2025)
    assert "llama-3-8b" not in visible_models(panel.view)
    panel.findChild(QSpinBox, "orbitYearFrom").setValue(2019)
    tech = panel.findChild(QComboBox, "orbitTechnique")
    tech.setCurrentIndex(tech.findData("mla"))
    shown = visible_models(panel.view)
    assert "deepseek-v3" in shown and "llama-3-8b" not in shown


def test_double_click_emits_model_activated(panel, qtbot):
    from PySide6.QtCore import Qt
    view = panel.view
    pos = view.node_viewport_pos("model:deepseek-v3")
    assert view.node_item("model:deepseek-v3") in view.items(pos)
    with qtbot.waitSignal(panel.modelActivated, timeout=2000) as blocker:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["deepseek-v3"]


def test_click_selects_and_shows_details(panel, qtbot):
    from PySide6.QtCore import Qt
    view = panel.view
    pos = view.node_viewport_pos("model:deepseek-v3")
    with qtbot.waitSignal(panel.modelSelected, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["deepseek-v3"]
    text = panel.details.toPlainText()
    assert "DeepSeek" in text and "Multi-head latent attention" in text and "MMLU" in text
    panel.select_node("concept:mla")
    assert "Survey section" in panel.details.toPlainText()


def test_hover_dims_outside_neighbourhood(panel, qtbot):
    view = panel.view
    view._set_hover("model:deepseek-v3")
    assert view.node_item("concept:mla").opacity() == 1.0
    assert view.node_item("model:llama-3-8b").opacity() < 0.5
    view._set_hover(None)
    assert view.node_item("model:llama-3-8b").opacity() == 1.0


def test_edges_are_one_path_per_kind(panel):
    from PySide6.QtWidgets import QGraphicsPathItem
    kinds = [it.data(1) for it in panel.view.scene().items()
             if isinstance(it, QGraphicsPathItem) and it.data(1)]
    assert sorted(kinds) == sorted({"uses", "related", "in_dimension", "made_by", "derived_from"})


def test_theme_switch(panel):
    panel.set_theme("dark")
    panel.set_theme("light")
    assert panel.view.node_item("model:deepseek-v3") is not None


def test_timeline_click_emits_model_clicked(qtbot, graph):
    from PySide6.QtCore import Qt
    from widgets.orbit import TimelineView
    view = TimelineView(graph)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    pos = view.point_viewport_pos("gpt-3")
    with qtbot.waitSignal(view.modelClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["gpt-3"]


def _labels_in_the_clear(qtbot, view, plot_item, size, at_least: int):
    """Show ``view`` at ``size``, wait for its labels to be placed, and check that there are at
    least ``at_least`` of them and none leaves the plot, overlaps another or touches the legend.
    Returns the view box, the legend's and the labels' scene rectangles."""
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    vb = plot_item.vb
    # placed for the plot's final size (pyqtgraph lays the plot out after the widget's resize)
    qtbot.waitUntil(lambda: not view._relabel_timer.isActive()
                    and view.labels_placed_for == (vb.width(), vb.height()), timeout=3000)
    plot_rect = vb.sceneBoundingRect()
    legend = view.legend.sceneBoundingRect()
    rects = [t.mapRectToScene(t.boundingRect()) for t in view._labels]
    assert len(rects) >= at_least
    for i, r in enumerate(rects):
        assert plot_rect.adjusted(-1, -1, 1, 1).contains(r)
        assert not r.intersects(legend)
        for other in rects[i + 1:]:
            assert not r.adjusted(1, 1, -1, -1).intersects(other.adjusted(1, 1, -1, -1))
    return vb, legend, rects


@pytest.mark.parametrize("size", [(640, 800), (1300, 760)])
def test_timeline_labels_fit_the_real_plot(qtbot, graph, size):
    """Labels are placed for the plot's real size (again after a resize): none overlaps another,
    the legend, or leaves the plot; the legend covers no point."""
    import numpy as np
    from PySide6.QtCore import QPointF
    from widgets.orbit import TimelineView
    view = TimelineView(graph)
    vb, legend, _ = _labels_in_the_clear(qtbot, view, view.getPlotItem(), size, at_least=10)
    for p in view.series.plotted():
        point = vb.mapViewToScene(QPointF(p.date, float(np.log10(p.params_total))))
        assert not legend.contains(point), p.id
    assert "gpt-3" in view.labelled_ids()


@pytest.mark.parametrize("size", [(700, 520), (1300, 860)])
def test_benchmark_labels_fit_the_real_plot(qtbot, graph, size):
    """The scatter's labels are placed for the plot's real size with measured text (they were
    placed for a nominal plot and overlapped, e.g. Llama 3.1 405B over DeepSeek-V3): none
    overlaps another or the legend, none leaves the plot, none covers a point."""
    from PySide6.QtCore import QPointF
    from widgets.orbit import BenchmarkView
    view = BenchmarkView(graph)
    vb, _, rects = _labels_in_the_clear(qtbot, view, view.plot.getPlotItem(), size, at_least=8)
    markers = [vb.mapViewToScene(QPointF(p.x, p.y)) for p in view.series.points]
    for r in rects:
        assert not any(r.adjusted(2, 2, -2, -2).contains(m) for m in markers)
    assert "deepseek-r1" in view.labelled_ids()      # the top score is always named


def test_benchmark_axis_choice_changes_point_count(qtbot, graph):
    from PySide6.QtWidgets import QComboBox
    from widgets.orbit import BenchmarkView
    view = BenchmarkView(graph)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    x = view.findChild(QComboBox, "benchmarkX")
    y = view.findChild(QComboBox, "benchmarkY")
    x.setCurrentIndex(x.findData("params"))
    y.setCurrentIndex(y.findData("MMLU"))
    before = view.point_count()
    assert before == len(benchmark_series("MMLU", "params", graph=graph).points)
    x.setCurrentIndex(x.findData("AIME"))
    after = view.point_count()
    assert after == len(benchmark_series("AIME", "MMLU", graph=graph).points)
    assert after != before


def test_faint_edges_paint_as_one_layer_on_screen_and_as_paths_in_svg(qtbot, graph, layout, tmp_path):
    """On a raster device the translucent edge kinds are drawn through an opaque layer (fast);
    the picture must still show them, and SVG export must keep them as vector paths."""
    import numpy as np
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgGenerator
    from widgets.orbit import OrbitPanel
    panel = OrbitPanel(graph, layout)
    qtbot.addWidget(panel)
    scene = panel.view.scene()
    for item in scene.items():              # only the faint "uses" edges remain visible
        if item.data(1) != "uses":
            item.setVisible(False)
    rect = scene.itemsBoundingRect()
    image = QImage(800, 800, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, 800, 800), rect)
    painter.end()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(800, 800, 4)[:, :, :3]
    assert (pixels < 250).any(axis=2).mean() > 0.01      # the edge web is there
    svg = tmp_path / "edges.svg"
    gen = QSvgGenerator()
    gen.setFileName(str(svg))
    gen.setSize(QSize(800, 800))
    painter = QPainter(gen)
    scene.render(painter, QRectF(0, 0, 800, 800), rect)
    painter.end()
    text = svg.read_text()
    assert "<path" in text and "<image" not in text


@pytest.mark.parametrize("model, source", [("deepseek-v3", "config.json"), ("glm-4.5", "publisher's figures"),
                                           ("mistral-large-2", "partly estimated"), ("minimax-m2", "config.json"),
                                           ("gpt-4", "not public")])
def test_model_details_say_where_the_architecture_comes_from(graph, model, source):
    """The orbit's details panel gives the catalog entry's provenance (it said "public spec" for all
    four kinds alike, a config.json included)."""
    rows = dict(node_details(graph, f"model:{model}")["rows"])
    assert rows["Architecture"] == source


def test_benchmarks_say_why_the_open_model_is_not_plotted(qtbot, graph):
    from widgets.orbit import BenchmarkView
    view = BenchmarkView(graph)
    qtbot.addWidget(view)
    series = benchmark_series("MMLU", "params", graph=graph)
    plotted = series.points[0].id
    missing = next(n for n, d in graph.nodes(data=True) if d.get("kind") == "model"
                   and not (d.get("benchmarks") or {}).get("MMLU"))
    view.set_current(plotted)
    assert view.count.text() == f"{len(series.points)} models with both values"
    view.set_current(missing)
    assert view.count.text() == f"{len(series.points)} models with both values"     # fits the bar
    assert view.count.toolTip().endswith(": no MMLU figure in the survey")


def test_orbit_legends_never_cover_the_ring(panel, qtbot):
    """Shown beside the orbit in a roomy view; hidden where they would lie on the ring or not fit
    (a narrow view, or zoomed in), and back once the view is fitted again."""
    view = panel.view
    # fitted beside the legends (this view is wide): both shown, neither on the ring
    assert view.legend.isVisible() and view.shape_legend.isVisible()
    from PySide6.QtCore import QPointF
    centre = view.mapFromScene(QPointF(0, 0))
    assert centre.x() > view.viewport().width() / 2 + 50       # the orbit moved right to make room
    view.zoom(3.0)
    assert not view.legend.isVisible() and not view.shape_legend.isVisible()
    view.fit()
    assert view.legend.isVisible()
    panel.resize(280, 420)                       # the filters above leave the view a thin strip
    qtbot.waitUntil(lambda: view.width() < 300)
    assert not view.legend.isVisible()


def test_the_orbit_takes_the_whole_width_where_the_filters_beside_it_would_leave_a_strip(panel, qtbot):
    """At half a 1920-px screen the tab is ~350 px wide: beside the 260-px filters the orbit was a
    70-px strip. Below the filters it has the whole width, and beside them again once there is room."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QSplitter
    split = panel.findChild(QSplitter, "orbitSplit")
    panel.resize(560, 900)
    qtbot.waitUntil(lambda: split.orientation() == Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: panel.view.width() >= 540)
    side = split.widget(0)
    assert side.width() >= 540                  # the filters as wide as the tab too, not 340 px
    assert panel.view.height() >= 300
    panel.resize(1400, 900)
    qtbot.waitUntil(lambda: split.orientation() == Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: panel.view.width() >= 1000)
    assert side.width() <= 340


def _lab(hex_colour: str) -> tuple[float, float, float]:
    """sRGB (D65) to CIELAB, by the CIE formulas."""
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in rgb]
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           0.0193 * r + 0.1192 * g + 0.9505 * b)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29
    fx, fy, fz = (f(v / n) for v, n in zip(xyz, (0.95047, 1.0, 1.08883)))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def test_organization_colours_are_told_apart_on_both_themes():
    """Every pair of the catalog's organizations is at least 20 ΔE (CIELAB) apart, a difference
    seen at a glance (Meta and NVIDIA were 8 apart), and each colour is mid-tone: readable on the
    light and the dark background."""
    import itertools
    import math
    from models.orbit_layout import organization_colors
    colours = organization_colors()
    labs = {org: _lab(c) for org, c in colours.items()}
    closest = min(itertools.combinations(labs, 2), key=lambda p: math.dist(labs[p[0]], labs[p[1]]))
    assert math.dist(labs[closest[0]], labs[closest[1]]) >= 20, closest
    assert all(40 <= lab[0] <= 70 for lab in labs.values())


@pytest.mark.parametrize("view, model_id", [("timeline", "deepseek-v3"), ("timeline", "gpt-3"),
                                            ("benchmarks", "llama-3-8b"), ("benchmarks", "mistral-7b")])
def test_the_open_models_label_clears_its_ring(qtbot, graph, view, model_id):
    """The ring round the open model's point (CURRENT_RING_PX across) covered the start of its
    name ("ma 3 8B"): its label sits beside it, padded past the ring."""
    from models.orbit_layout import CURRENT_RING_PX, benchmark_labels, timeline_labels
    from PySide6.QtGui import QFont, QFontMetricsF
    space = QFontMetricsF(QFont()).horizontalAdvance(" ")
    if view == "timeline":
        series = timeline_series(graph)
        labels = timeline_labels(series, (1000.0, 560.0), first=model_id)
    else:
        series = benchmark_series("MMLU", "params", graph=graph)
        labels = benchmark_labels(series, (900.0, 520.0), first=model_id)
    lead = next(lb for lb in labels if series.points[lb.index].id == model_id)
    assert lead.anchor in ((0.0, 0.5), (1.0, 0.5))
    gap = len(lead.text) - len(lead.text.strip())
    assert gap * space + 4 >= CURRENT_RING_PX / 2      # the spaces and the item's 4 px margin


@pytest.mark.parametrize("which", ["timeline", "benchmarks"])
def test_a_narrow_view_wraps_its_title_and_keeps_the_plot_in_sight(qtbot, graph, which):
    """A one-line title once set the plot's minimum width (554 px for the timeline): in a 410 px
    view the plot's right side, the newest models and the ringed current one, were cut off with
    no scroll bar. Wrapped, the plot fits the view; the whole title is in the tooltip."""
    from widgets.orbit import BenchmarkView, TimelineView
    view = TimelineView(graph) if which == "timeline" else BenchmarkView(graph)
    plot = view if which == "timeline" else view.plot
    qtbot.addWidget(view)
    view.resize(410, 600)
    view.show()
    qtbot.waitExposed(view)
    item = plot.getPlotItem()
    qtbot.waitUntil(lambda: plot.width() <= 410)
    assert item.minimumWidth() <= plot.width()
    qtbot.waitUntil(lambda: item.getViewBox().sceneBoundingRect().right() <= plot.width(), timeout=2000)
    assert "<br>" in item.titleLabel.text and plot.toolTip() == plot.title
    view.set_theme("dark")                       # a theme switch keeps the wrapped title
    assert "<br>" in item.titleLabel.text
