"""The orbit graph (the survey's Figure 2 as an interactive circle), the release timeline
(Figure 7) and the benchmark scatter (Table 6).

Display only: positions, marker sizes, label anchors, edge curves, filters' results, series, tick
labels and colours all come from models.orbit_layout; these classes turn them into Qt items.

- :class:`OrbitView` draws an :class:`~models.orbit_layout.OrbitLayout`: dimension sectors,
  organization arcs, year rings, concept diamonds, model circles, every edge kind as ONE
  QGraphicsPathItem. Hover dims everything outside the node's neighbourhood; click selects
  (``nodeSelected``); double-click on a model emits ``modelActivated`` with the bare catalog id;
  wheel zooms, drag pans, double-click on empty space (or F / Home) fits.
- :class:`OrbitPanel`: the view plus search, filters and a details pane.
- :class:`TimelineView`: parameters (log) against release date, coloured by organization.
- :class:`BenchmarkView`: any two Table 6 benchmarks, or one against parameters.
"""
from __future__ import annotations

import math
from html import escape as html_escape

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QPointF, Qt, Signal

from models.orbit_layout import (CONCEPT, CURRENT_RING_PX, DIMENSION, MODEL, NOMINAL_PLOT_PX, ORGANIZATION,
                                 PARAMS, R_DIM_OUT, LabelAnchor, OrbitLayout, benchmark_labels, benchmark_names,
                                 benchmark_series, filter_nodes, format_params, log_ticks, neighbourhood, node_details,
                                 organization_colors, orbit_layout, polar, short_label,
                                 short_organization, technique_choices, timeline_labels,
                                 timeline_series, timeline_y_range)

from .responsive import ResponsiveSplitter
from .titled_plot import TitledPlotWidget

LEGEND_OFFSET = 8      # px between a scatter's legend and the plot's corner

THEMES = {
    "light": {"bg": "#FFFFFF", "fg": "#202020", "muted": "#6B6B6B", "ring": "#D8D8D8",
              "edge": (90, 90, 90), "hl": "#D62728", "legend_bg": "rgba(255,255,255,225)",
              "outline": "#FFFFFF", "grid": 0.25},
    "dark": {"bg": "#1E1F22", "fg": "#E3E3E3", "muted": "#A0A0A0", "ring": "#3A3B3F",
             "edge": (190, 190, 190), "hl": "#FF6B6B", "legend_bg": "rgba(30,31,34,225)",
             "outline": "#1E1F22", "grid": 0.30},
}
EDGE_STYLE = {   # kind -> (alpha, width px, visible by default)
    "uses": (48, 1.0, True), "related": (40, 1.0, True), "derived_from": (140, 1.0, True),
    "made_by": (40, 1.0, False), "in_dimension": (40, 1.0, False),
}
NODE_ROLE = QtCore.Qt.ItemDataRole.UserRole   # item.data(0) holds the node id (key 0)
DIM_OPACITY = 0.12


def _color(hex_or_rgb, alpha: int = 255) -> QtGui.QColor:
    c = QtGui.QColor(*hex_or_rgb) if isinstance(hex_or_rgb, tuple) else QtGui.QColor(hex_or_rgb)
    c.setAlpha(alpha)
    return c


def _cosmetic(color: QtGui.QColor, width: float = 1.0, style=Qt.PenStyle.SolidLine) -> QtGui.QPen:
    pen = QtGui.QPen(color, width)
    pen.setCosmetic(True)
    pen.setStyle(style)
    return pen


def _arc_band(r_in: float, r_out: float, a0: float, a1: float) -> QtGui.QPainterPath:
    """A ring sector between compass angles a0..a1 (0 = top, clockwise)."""
    path = QtGui.QPainterPath()
    # Qt angles: 0 = 3 o'clock, counter-clockwise positive; compass a -> Qt 90 - a
    start, sweep = 90.0 - a0, -(a1 - a0)
    outer = QtCore.QRectF(-r_out, -r_out, 2 * r_out, 2 * r_out)
    inner = QtCore.QRectF(-r_in, -r_in, 2 * r_in, 2 * r_in)
    path.arcMoveTo(outer, start)
    path.arcTo(outer, start, sweep)
    path.arcTo(inner, start + sweep, -sweep)
    path.closeSubpath()
    return path


class _EdgePath(QtWidgets.QGraphicsPathItem):
    """All edges of one kind. Faint, dense kinds paint without antialiasing (3x faster to
    stroke, invisible at their low alpha); the orbit's first-paint budget depends on it.

    A translucent pen makes Qt's raster engine take its slow blending path: 600 faint edges
    took 48 ms to paint, 20x their opaque cost. On screen (raster) they are drawn opaque into a
    layer that is blended once at the pen's alpha (crossings no longer darken twice, so the
    alphas in EDGE_STYLE are higher than a per-line blend would need); vector devices (SVG and
    PDF export) get the path itself.
    """

    def __init__(self, path: QtGui.QPainterPath, pen: QtGui.QPen, antialias: bool) -> None:
        super().__init__(path)
        self.setPen(pen)
        self._aa = antialias

    def paint(self, painter, option, widget=None) -> None:
        if self.path().isEmpty():      # nothing to stroke (no hovered node, a filtered-out kind):
            return                     # an SVG export would get a `d=""` that viewers reject
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, self._aa)
        pen = self.pen()
        alpha = pen.color().alphaF()
        device = painter.device()
        engine = painter.paintEngine()
        raster = engine is not None and engine.type() == QtGui.QPaintEngine.Type.Raster
        if alpha >= 1.0 or device is None or not raster:    # SVG and PDF export stay vector
            return super().paint(painter, option, widget)
        to_device = painter.transform()
        area = to_device.mapRect(self.boundingRect()).toAlignedRect().intersected(
            QtCore.QRect(0, 0, device.width(), device.height()))
        if area.isEmpty():
            return
        ratio = device.devicePixelRatioF()
        layer = QtGui.QImage(area.size() * ratio, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        layer.setDevicePixelRatio(ratio)
        layer.fill(Qt.GlobalColor.transparent)
        opaque = QtGui.QPen(pen)
        color = QtGui.QColor(pen.color())
        color.setAlpha(255)
        opaque.setColor(color)
        p = QtGui.QPainter(layer)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, self._aa)
        p.setTransform(to_device * QtGui.QTransform.fromTranslate(-area.x(), -area.y()))
        p.setPen(opaque)
        p.drawPath(self.path())
        p.end()
        painter.save()
        painter.resetTransform()
        painter.setOpacity(painter.opacity() * alpha)
        painter.drawImage(area.topLeft(), layer)
        painter.restore()


def _add_curve(path: QtGui.QPainterPath, c) -> None:
    """Append a layout Curve: a straight segment when its control point is the midpoint (much
    cheaper to stroke than a Bezier), else a quadratic Bezier."""
    path.moveTo(*c.p0)
    mx, my = (c.p0[0] + c.p1[0]) / 2, (c.p0[1] + c.p1[1]) / 2
    if abs(c.c[0] - mx) < 1e-6 and abs(c.c[1] - my) < 1e-6:
        path.lineTo(*c.p1)
    else:
        path.quadTo(QPointF(*c.c), QPointF(*c.p1))


class _Label(QtWidgets.QGraphicsSimpleTextItem):
    """A text item placed by a LabelAnchor (anchor point, rotation, alignment)."""

    def __init__(self, anchor: LabelAnchor, bold: bool = False) -> None:
        super().__init__(anchor.text)
        font = QtGui.QFont()
        font.setPixelSize(max(1, round(anchor.font)))
        font.setBold(bold)
        self.setFont(font)
        rect = self.boundingRect()
        dx = {"left": 0.0, "right": -rect.width(), "center": -rect.width() / 2}[anchor.align]
        t = QtGui.QTransform()
        t.translate(anchor.x, anchor.y)
        t.rotate(anchor.rotation)
        t.translate(dx, -rect.height() / 2)
        self.setTransform(t)
        self.default_visible = anchor.visible


class _ArcLabel(QtWidgets.QGraphicsPathItem):
    """Text written along a circle (a dimension's name on its arc), as one path of glyphs."""

    def __init__(self, anchor: LabelAnchor, light: bool = True) -> None:
        super().__init__()
        font = QtGui.QFont()
        font.setPixelSize(max(1, round(anchor.font)))
        font.setBold(True)
        fm = QtGui.QFontMetricsF(font)
        r, mid = anchor.arc_radius, anchor.arc_angle
        upright = not (90.0 < mid < 270.0)      # bottom half: read counter-clockwise
        total = fm.horizontalAdvance(anchor.text)
        sign = 1.0 if upright else -1.0
        start = mid - sign * math.degrees(total / r) / 2
        path, acc = QtGui.QPainterPath(), 0.0
        base = (fm.ascent() - fm.descent()) / 2
        for ch in anchor.text:
            w = fm.horizontalAdvance(ch)
            ang = start + sign * math.degrees((acc + w / 2) / r)
            glyph = QtGui.QPainterPath()
            glyph.addText(-w / 2, base, font, ch)
            t = QtGui.QTransform()
            t.translate(*polar(r, ang))
            t.rotate(ang if upright else ang - 180.0)
            path.addPath(t.map(glyph))
            acc += w
        self.setPath(path)
        self.setBrush(QtGui.QColor("#FFFFFF" if light else "#111111"))
        self.setPen(QtGui.QPen(Qt.PenStyle.NoPen))
        self.default_visible = True


class OrbitView(QtWidgets.QGraphicsView):
    """The circular taxonomy. ``set_graph(graph, layout)`` draws it; ``apply_filter(visible)``
    shows only the given node ids; ``select(node_id)`` marks a node without emitting."""

    nodeSelected = Signal(str)      # full node id, on a user click
    modelActivated = Signal(str)    # bare catalog id, on a double-click on a model

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("orbitView")
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing
                            | QtGui.QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.graph = None
        self.layout_: OrbitLayout | None = None
        self._theme = "light"
        self._items: dict[str, QtWidgets.QGraphicsItem] = {}
        self._labels: dict[str, _Label] = {}
        self._edge_items: dict[str, QtWidgets.QGraphicsPathItem] = {}
        self._edge_visible = {k: v[2] for k, v in EDGE_STYLE.items()}
        self._visible: set[str] | None = None
        self._hovered: str | None = None
        self._selected: str | None = None
        self._press: QtCore.QPoint | None = None
        self._user_zoomed = False
        self._decor: list[QtWidgets.QGraphicsItem] = []
        self._highlight = None
        self._ring = None
        self.legend = QtWidgets.QLabel(self, objectName="orbitLegend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.legend.move(8, 8)
        self.shape_legend = QtWidgets.QLabel(self, objectName="orbitShapeLegend")
        self.shape_legend.setTextFormat(Qt.TextFormat.RichText)
        self.shape_legend.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        # the shapes' key as an export prints it (never shown on screen)
        self.print_shape_legend = QtWidgets.QLabel(self, objectName="orbitPrintedShapeLegend")
        self.print_shape_legend.setTextFormat(Qt.TextFormat.RichText)
        self.print_shape_legend.hide()

    # ------------------------------------------------------------------ building
    def set_graph(self, graph, layout: OrbitLayout | None = None) -> None:
        self.graph = graph
        self.layout_ = layout if layout is not None else orbit_layout(graph)
        self._hovered = self._selected = None
        self._visible = None
        self._build()
        self.fit()

    def _build(self) -> None:
        scene, lay, g = self.scene(), self.layout_, self.graph
        th = THEMES[self._theme]
        scene.clear()
        self._items.clear()
        self._labels.clear()
        self._edge_items.clear()
        self._decor = []
        scene.setBackgroundBrush(QtGui.QBrush(QtGui.QColor(th["bg"])))
        ring_pen = _cosmetic(QtGui.QColor(th["ring"]), 1.0, Qt.PenStyle.DashLine)
        for year, r in lay.year_rings:
            e = scene.addEllipse(-r, -r, 2 * r, 2 * r, ring_pen)
            e.setZValue(-10)
            self._decor.append(e)
        for anchor in lay.year_labels:
            t = _Label(anchor)
            t.setBrush(QtGui.QColor(th["muted"]))
            t.setZValue(-9)
            scene.addItem(t)
            self._decor.append(t)
        # edges: one path item per kind
        self._curves_by_node: dict[str, list] = {}
        for kind, curves in lay.edges.items():
            path = QtGui.QPainterPath()
            for c in curves:
                _add_curve(path, c)
                self._curves_by_node.setdefault(c.source, []).append((kind, c))
                self._curves_by_node.setdefault(c.target, []).append((kind, c))
            alpha, width, _ = EDGE_STYLE.get(kind, (40, 0.7, True))
            item = _EdgePath(path, _cosmetic(_color(th["edge"], alpha), width), alpha >= 100)
            scene.addItem(item)
            item.setZValue(-5)
            item.setVisible(self._edge_visible.get(kind, True))
            item.setData(1, kind)
            self._edge_items[kind] = item
        self._highlight = _EdgePath(QtGui.QPainterPath(), _cosmetic(QtGui.QColor(th["hl"]), 1.6), True)
        scene.addItem(self._highlight)
        self._highlight.setZValue(-4)
        # nodes
        outline = _cosmetic(QtGui.QColor(th["outline"]), 0.8)
        for node, (x, y) in lay.positions.items():
            d = g.nodes[node]
            kind = d.get("kind")
            col = QtGui.QColor(lay.colors.get(node, "#777777"))
            r = lay.node_radius.get(node, 4.0)
            if kind == MODEL:
                item = QtWidgets.QGraphicsEllipseItem(x - r, y - r, 2 * r, 2 * r)
                if d.get("params_total"):
                    item.setBrush(col)
                    item.setPen(outline)
                else:   # parameters not public: a ring
                    item.setBrush(QtGui.QBrush(QtGui.QColor(th["bg"])))
                    item.setPen(_cosmetic(col, 2.2))
                item.setZValue(3)
            elif kind == CONCEPT:
                poly = QtGui.QPolygonF([QPointF(x, y - r), QPointF(x + r, y), QPointF(x, y + r),
                                        QPointF(x - r, y)])
                item = QtWidgets.QGraphicsPolygonItem(poly)
                item.setBrush(col)
                item.setPen(outline)
                item.setZValue(2)
            elif kind == DIMENSION:
                a0, a1 = lay.dimension_sectors[node]
                item = QtWidgets.QGraphicsPathItem(_arc_band(lay.radii["dim_in"], lay.radii["dim_out"],
                                                             a0, a1))
                item.setBrush(col)
                item.setPen(QtGui.QPen(Qt.PenStyle.NoPen))
                item.setZValue(1)
            elif kind == ORGANIZATION:
                a0, a1 = lay.organization_sectors[node]
                ro = lay.radii["org"]
                item = QtWidgets.QGraphicsPathItem(_arc_band(ro - 3.5, ro + 3.5, a0, a1))
                item.setBrush(col)
                item.setPen(QtGui.QPen(Qt.PenStyle.NoPen))
                item.setZValue(1)
            else:
                item = QtWidgets.QGraphicsEllipseItem(x - r, y - r, 2 * r, 2 * r)
                item.setBrush(col)
            item.setData(0, node)
            item.setToolTip(self._tooltip(node))
            scene.addItem(item)
            self._items[node] = item
            anchor = lay.labels.get(node)
            if anchor is not None and anchor.arc_radius is not None:
                label = _ArcLabel(anchor, light=self._theme == "light")
                label.setData(0, node)
                label.setZValue(2)
                scene.addItem(label)
                self._labels[node] = label
            elif anchor is not None:
                label = _Label(anchor, bold=kind in (DIMENSION,))
                label.setData(0, node)
                if kind == DIMENSION:
                    label.setBrush(col.darker(115) if self._theme == "light" else col.lighter(130))
                elif kind == ORGANIZATION:
                    label.setBrush(col.darker(135) if self._theme == "light" else col.lighter(125))
                else:
                    label.setBrush(QtGui.QColor(th["fg"] if kind == MODEL else th["muted"]))
                label.setZValue(4 if kind == MODEL else 1)
                label.setVisible(label.default_visible)
                scene.addItem(label)
                self._labels[node] = label
        self._ring = scene.addEllipse(0, 0, 1, 1, _cosmetic(QtGui.QColor(th["hl"]), 2.5))
        self._ring.setZValue(5)
        self._ring.setVisible(False)
        x, y, w, h = lay.bounds()
        scene.setSceneRect(x, y, w, h)
        self._update_legend()
        if self._visible is not None:
            self.apply_filter(self._visible)
        if self._selected:
            self.select(self._selected)

    def _tooltip(self, node: str) -> str:
        d = self.graph.nodes[node]
        kind = d.get("kind")
        if kind == MODEL:
            text = f"{d['label']}\n{d.get('organization', '')}, {d.get('released', '')}\n" \
                   f"{format_params(d.get('params_total'))} parameters"
            if d.get("params_active") and d.get("params_total") and d["params_active"] < d["params_total"]:
                text += f" ({format_params(d['params_active'])} active)"
            return text + "\nDouble-click to open its architecture"
        if kind == CONCEPT:
            return f"{d['label']}\n{d.get('description', '')}"
        return d.get("label", node)

    def _update_legend(self) -> None:
        th = THEMES[self._theme]
        colors = self.layout_.colors if self.layout_ else {}
        orgs = sorted(n for n in self._items if n.startswith(f"{ORGANIZATION}:"))
        cells = [f"<span style='color:{colors[o]}'>&#9632;</span>&nbsp;"
                 f"{short_organization(self.graph.nodes[o]['label'])}" for o in orgs]
        cols = 2
        rows = (len(cells) + cols - 1) // cols
        table = "".join("<tr>" + "".join(f"<td style='padding-right:8px'>{cells[c * rows + r]}</td>"
                                          for c in range(cols) if c * rows + r < len(cells)) + "</tr>"
                        for r in range(rows))
        self.legend.setText(
            f"<div style='color:{th['fg']}'><b>Organizations</b><table cellspacing='0' "
            f"cellpadding='0'>{table}</table></div>")
        self.shape_legend.setText(self._shape_legend_html())
        for lab in (self.legend, self.shape_legend, self.print_shape_legend):
            lab.setStyleSheet(f"QLabel {{ background: {th['legend_bg']}; border-radius: 4px;"
                              f" padding: 6px; font-size: 11px; }}")
            lab.adjustSize()
        self._place_legends()

    def _shape_legend_html(self, printed: bool = False) -> str:
        """The shapes' key. On screen it ends with the hover colour and the mouse and keys; a
        printed one (an export: no mouse, no hover) instead names the model ringed, if any."""
        th = THEMES[self._theme]
        rows = ["&#9679; model (size: log parameters)", "&#9711; model, parameters not public",
                "&#9670; technique / concept (colour: dimension)",
                "dashed rings: release year, older inside"]
        if not printed:
            rows += [f"<span style='color:{th['hl']}'>&#9473;</span> edges of the hovered node",
                     "wheel: zoom, drag: pan, F: fit"]
        elif self._selected:
            name = html_escape(str(self.graph.nodes[self._selected].get("label", self._selected)))
            rows.append(f"<span style='color:{th['hl']}'>&#9711;</span> ringed: {name}")
        return f"<div style='color:{th['fg']}'><b>Shapes</b><br>" + "<br>".join(rows) + "</div>"

    # ------------------------------------------------------------------ export
    def _printed_legends(self) -> list[QtWidgets.QLabel]:
        """The legends an export draws: the organizations, and the shapes as printed."""
        self.print_shape_legend.setText(self._shape_legend_html(printed=True))
        self.print_shape_legend.adjustSize()
        self.legend.adjustSize()
        return [self.legend, self.print_shape_legend]

    def _export_layout(self) -> tuple[QtCore.QRectF, list]:
        """The exported scene rectangle and [(legend, scene position of its top left)].

        The orbit's items plus a margin, grown (to the left, and above or below) by the least
        area that puts the organizations' legend in the top left corner and the shapes' in the
        bottom left corner clear of the outermost ring, as the on-screen view keeps them."""
        rect = self.scene().itemsBoundingRect().adjusted(-16, -16, 16, 16)
        legends = self._printed_legends() if self.layout_ is not None else []
        if not legends:
            return rect, []
        (top, bottom), gap = legends, 8.0
        reach = (self.layout_.radii.get("dim_out") or R_DIM_OUT * self.layout_.size) + gap
        widest = max(top.width(), bottom.width())
        best = None
        for left in range(0, int(widest + 2 * gap) + 2, 2):
            x0 = rect.left() - left + gap            # the legends' left edge; the orbit is at 0, 0

            def rise(width: float) -> float:       # how far above (below) 0 a box must end
                dx = 0.0 if x0 <= 0.0 <= x0 + width else min(abs(x0), abs(x0 + width))
                return math.sqrt(reach * reach - dx * dx) if dx < reach else -math.inf
            grow_top = max(0.0, rise(top.width()) + rect.top() + gap + top.height())
            grow_bottom = max(0.0, rise(bottom.width()) - rect.bottom() + gap + bottom.height())
            area = (rect.width() + left) * (rect.height() + grow_top + grow_bottom)
            if best is None or area < best[0] - 1e-6:
                best = (area, left, grow_top, grow_bottom)
        _, left, grow_top, grow_bottom = best
        rect = rect.adjusted(-left, -grow_top, 0, grow_bottom)
        places = [(top, QPointF(rect.left() + gap, rect.top() + gap)),
                  (bottom, QPointF(rect.left() + gap, rect.bottom() - gap - bottom.height()))]
        return rect, [(lab, pos) for lab, pos in places if lab.text()]

    def scene_rect_for_export(self) -> QtCore.QRectF:
        """What an export shows: the whole orbit and, beside it, its legends (see export_overlays)."""
        return self._export_layout()[0]

    def export_overlays(self) -> list:
        """[(legend label, scene position of its top left)] drawn over an export, one scene unit
        per label pixel, none of them on the ring."""
        return self._export_layout()[1]

    def _place_legends(self) -> None:
        """Legends in the top and bottom left corners, each shown only where it leaves the orbit
        clear: in a small view (or zoomed in) they would cover the ring. The organizations' colours
        are in the side panel's list too."""
        self.legend.move(8, 8)
        self.shape_legend.move(8, max(8, self.height() - self.shape_legend.height() - 8))
        if self.layout_ is None or not self._items:
            return
        # the orbit is centred on the scene's origin; its outermost ring is the dimension arcs
        reach = self.layout_.radii.get("dim_out") or R_DIM_OUT * self.layout_.size
        centre = QtCore.QPointF(self.mapFromScene(QtCore.QPointF(0, 0)))
        radius = QtCore.QPointF(self.mapFromScene(QtCore.QPointF(reach, 0))).x() - centre.x()
        for label in (self.legend, self.shape_legend):
            box = label.geometry()
            nearest_x = min(max(centre.x(), box.left()), box.right())
            nearest_y = min(max(centre.y(), box.top()), box.bottom())
            clear = math.hypot(nearest_x - centre.x(), nearest_y - centre.y()) >= radius
            fits = box.width() <= self.viewport().width() - 16 and box.bottom() <= self.viewport().height()
            label.setVisible(clear and fits and bool(label.text()))

    # ------------------------------------------------------------------ public API
    def node_item(self, node: str) -> QtWidgets.QGraphicsItem | None:
        return self._items.get(node)

    def label_item(self, node: str) -> QtWidgets.QGraphicsItem | None:
        return self._labels.get(node)

    def node_viewport_pos(self, node: str) -> QtCore.QPoint:
        """Where a node's marker is in viewport coordinates (for tests and tours)."""
        x, y = self.layout_.positions[node]
        return self.mapFromScene(QPointF(x, y))

    def visible_nodes(self) -> set[str]:
        return {n for n, it in self._items.items() if it.isVisible()}

    def apply_filter(self, visible: set[str] | None) -> None:
        """Show only ``visible`` node ids (None: everything), with the edges between them."""
        self._visible = set(visible) if visible is not None else None
        show = (lambda n: True) if visible is None else (lambda n: n in self._visible)
        for node, item in self._items.items():
            item.setVisible(show(node))
        for node, label in self._labels.items():
            label.setVisible(show(node) and (label.default_visible or node == self._selected))
        for kind, curves in self.layout_.edges.items():
            path = QtGui.QPainterPath()
            for c in curves:
                if show(c.source) and show(c.target):
                    _add_curve(path, c)
            self._edge_items[kind].setPath(path)
        if self._selected and not show(self._selected):
            self._ring.setVisible(False)
        self._set_hover(None)

    def set_edge_kind_visible(self, kind: str, on: bool) -> None:
        self._edge_visible[kind] = on
        if kind in self._edge_items:
            self._edge_items[kind].setVisible(on)

    def select(self, node: str | None) -> None:
        """Mark ``node`` as selected (no signal); None clears."""
        if self._selected and self._selected in self._labels:
            lab = self._labels[self._selected]
            lab.setVisible(lab.default_visible and self._items[self._selected].isVisible())
        self._selected = node if node in self._items else None
        if not self._selected:
            self._ring.setVisible(False)
            return
        x, y = self.layout_.positions[node]
        r = self.layout_.node_radius.get(node, 4.0) + 4
        self._ring.setRect(x - r, y - r, 2 * r, 2 * r)
        self._ring.setVisible(self._items[node].isVisible())
        if node in self._labels:
            self._labels[node].setVisible(self._items[node].isVisible())

    def selected(self) -> str | None:
        return self._selected

    def fit(self) -> None:
        """The whole orbit in view; where the view is tall enough, between the two legends (the
        organizations above, the shapes below) rather than under them."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        w, h = self.viewport().width(), self.viewport().height()
        top, bottom = (label.sizeHint().height() + 12 for label in (self.legend, self.shape_legend))
        left = max(label.sizeHint().width() for label in (self.legend, self.shape_legend)) + 12
        full = min(w / rect.width(), h / rect.height())
        above_below = min(w / rect.width(), (h - top - bottom) / rect.height())   # a tall view
        beside = min((w - left) / rect.width(), h / rect.height())                # a wide one
        scale = max(above_below, beside)
        if scale > 0.75 * full:               # room for the legends costs at most a quarter of the size
            rect = (rect.adjusted(0, -top / scale, 0, bottom / scale) if above_below >= beside
                    else rect.adjusted(-left / scale, 0, 0, 0))
        self.setSceneRect(rect)               # the view's own: the orbit clear of the legends
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._user_zoomed = False
        self._place_legends()

    def zoom(self, factor: float) -> None:
        self.scale(factor, factor)
        self._user_zoomed = True
        self._place_legends()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt)
        super().scrollContentsBy(dx, dy)
        self._place_legends()                # a pan moves the ring under the legends

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")
        self._theme = name
        if self.layout_ is not None:
            transform, zoomed = self.transform(), self._user_zoomed
            self._build()
            if zoomed:
                self.setTransform(transform)
                self._user_zoomed = True

    # ------------------------------------------------------------------ interaction
    def _node_at(self, pos: QtCore.QPoint) -> str | None:
        for item in self.items(pos):
            node = item.data(0)
            if node and item.isVisible():
                return node
        return None

    def _set_hover(self, node: str | None) -> None:
        if node == self._hovered:
            return
        self._hovered = node
        if node is None:
            for item in self._items.values():
                item.setOpacity(1.0)
            for lab in self._labels.values():
                lab.setOpacity(1.0)
            for n, lab in self._labels.items():
                lab.setVisible(self._items[n].isVisible() and (lab.default_visible or n == self._selected))
            for item in self._edge_items.values():
                item.setOpacity(1.0)
            self._highlight.setPath(QtGui.QPainterPath())
            return
        near = neighbourhood(self.graph, node)
        for n, item in self._items.items():
            item.setOpacity(1.0 if n in near else DIM_OPACITY)
        for n, lab in self._labels.items():
            lab.setOpacity(1.0 if n in near else DIM_OPACITY)
        if node in self._labels and self._items[node].isVisible():
            self._labels[node].setVisible(True)
        for item in self._edge_items.values():
            item.setOpacity(0.35)
        path = QtGui.QPainterPath()
        for kind, c in self._curves_by_node.get(node, ()):
            if self._items[c.source].isVisible() and self._items[c.target].isVisible():
                _add_curve(path, c)
        self._highlight.setPath(path)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        if not event.buttons():
            self._set_hover(self._node_at(event.position().toPoint()))

    def leaveEvent(self, event) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        pos = event.position().toPoint()
        if (self._press is not None and event.button() == Qt.MouseButton.LeftButton
                and (pos - self._press).manhattanLength() < 5):
            node = self._node_at(pos)
            if node:
                self.select(node)
                self.nodeSelected.emit(node)
        self._press = None

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:
        node = self._node_at(event.position().toPoint())
        if node and self.graph.nodes[node].get("kind") == MODEL:
            self.select(node)
            self.modelActivated.emit(self.graph.nodes[node]["id"])
            event.accept()
            return
        if node is None:
            self.fit()
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(1.15 ** steps)
        event.accept()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_F, Qt.Key.Key_Home):
            self.fit()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom(0.8)
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_legends()
        if not self._user_zoomed:
            self.fit()


class OrbitPanel(QtWidgets.QWidget):
    """The orbit view with its filters (search, organizations, years, dimension, technique) and
    a details pane. ``modelActivated`` carries the bare catalog id."""

    nodeSelected = Signal(str)      # full node id, on a user click
    modelSelected = Signal(str)     # bare catalog id, on a user click on a model
    modelActivated = Signal(str)    # bare catalog id, on a double-click on a model

    def __init__(self, graph=None, layout: OrbitLayout | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("orbitPanel")
        self.graph = None
        side = QtWidgets.QWidget(objectName="orbitControls")
        form = QtWidgets.QVBoxLayout(side)
        form.setContentsMargins(6, 6, 6, 6)
        self.search = QtWidgets.QLineEdit(objectName="orbitSearch",
                                          placeholderText="Search models…")
        self.search.setClearButtonEnabled(True)
        form.addWidget(self.search)
        form.addWidget(QtWidgets.QLabel("Organizations (none checked: all)"))
        self.organizations = QtWidgets.QListWidget(objectName="orbitOrganizations")
        self.organizations.setMaximumHeight(170)
        form.addWidget(self.organizations)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Years"))
        self.year_from = QtWidgets.QSpinBox(objectName="orbitYearFrom")
        self.year_to = QtWidgets.QSpinBox(objectName="orbitYearTo")
        row.addWidget(self.year_from)
        row.addWidget(QtWidgets.QLabel("–"))
        row.addWidget(self.year_to)
        form.addLayout(row)
        self.dimension = QtWidgets.QComboBox(objectName="orbitDimension")
        self.technique = QtWidgets.QComboBox(objectName="orbitTechnique")
        form.addWidget(self.dimension)
        form.addWidget(self.technique)
        self.reset = QtWidgets.QPushButton("Show all", objectName="orbitReset")
        form.addWidget(self.reset)
        self.count = QtWidgets.QLabel(objectName="orbitCount")
        form.addWidget(self.count)
        self.details = QtWidgets.QTextBrowser(objectName="orbitDetails")
        self.details.setOpenLinks(False)
        form.addWidget(self.details, 1)
        side.setMinimumWidth(260)
        side.setMaximumWidth(340)

        self.view = OrbitView(self)
        # the filters go above the graph where beside it they would leave the graph a sliver
        split = ResponsiveSplitter(720, ((1, 2), (2, 3)), self, objectName="orbitSplit")
        split.addWidget(side)
        split.addWidget(self.view)
        split.setStretchFactor(1, 1)
        split.orientationSwitched.connect(
            lambda o: side.setMaximumWidth(340 if o == Qt.Orientation.Horizontal else 16777215))
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)

        self.search.textChanged.connect(self._refilter)
        self.organizations.itemChanged.connect(self._refilter)
        self.year_from.valueChanged.connect(self._refilter)
        self.year_to.valueChanged.connect(self._refilter)
        self.dimension.currentIndexChanged.connect(self._refilter)
        self.technique.currentIndexChanged.connect(self._refilter)
        self.reset.clicked.connect(self.clear_filters)
        self.view.nodeSelected.connect(self._on_selected)
        self.view.modelActivated.connect(self.modelActivated)
        if graph is not None:
            self.set_graph(graph, layout)

    def set_graph(self, graph, layout: OrbitLayout | None = None) -> None:
        self.graph = graph
        controls = (self.organizations, self.year_from, self.year_to, self.dimension, self.technique)
        for w in controls:
            w.blockSignals(True)
        self.organizations.clear()
        colors = organization_colors(graph)
        for n, d in sorted(graph.nodes(data=True), key=lambda t: str(t[1].get("label", "")).lower()):
            if d.get("kind") == ORGANIZATION:
                item = QtWidgets.QListWidgetItem(d["label"])
                item.setData(Qt.ItemDataRole.UserRole, d["id"])
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                pix = QtGui.QPixmap(10, 10)
                pix.fill(QtGui.QColor(colors.get(d["id"], "#777777")))
                item.setIcon(QtGui.QIcon(pix))
                self.organizations.addItem(item)
        years = sorted({d["year"] for _, d in graph.nodes(data=True) if d.get("kind") == MODEL}) or [2020]
        for spin in (self.year_from, self.year_to):
            spin.setRange(years[0], years[-1])
        self.year_from.setValue(years[0])
        self.year_to.setValue(years[-1])
        self.dimension.clear()
        self.dimension.addItem("All dimensions", "")
        for n, d in graph.nodes(data=True):
            if d.get("kind") == DIMENSION:
                self.dimension.addItem(d["label"], d["id"])
        self.technique.clear()
        self.technique.addItem("All techniques", "")
        for cid, label in technique_choices(graph):
            self.technique.addItem(label, cid)
        for w in controls:
            w.blockSignals(False)
        self.view.set_graph(graph, layout)
        self._refilter()

    # ------------------------------------------------------------------ filters
    def filter_args(self) -> dict:
        orgs = [self.organizations.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.organizations.count())
                if self.organizations.item(i).checkState() == Qt.CheckState.Checked]
        lo, hi = self.year_from.value(), self.year_to.value()
        full = (lo == self.year_from.minimum() and hi == self.year_to.maximum())
        return {"organizations": orgs or None, "years": None if full else (lo, hi),
                "dimensions": [self.dimension.currentData()] if self.dimension.currentData() else None,
                "techniques": [self.technique.currentData()] if self.technique.currentData() else None,
                "search": self.search.text()}

    def _refilter(self, *_) -> None:
        if self.graph is None:
            return
        visible = filter_nodes(self.graph, **self.filter_args())
        self.view.apply_filter(visible)
        shown = sum(1 for n in visible if n.startswith(f"{MODEL}:"))
        total = sum(1 for _, d in self.graph.nodes(data=True) if d.get("kind") == MODEL)
        self.count.setText(f"{shown} of {total} models shown")

    def clear_filters(self) -> None:
        for w in (self.search, self.organizations, self.year_from, self.year_to, self.dimension,
                  self.technique):
            w.blockSignals(True)
        self.search.clear()
        for i in range(self.organizations.count()):
            self.organizations.item(i).setCheckState(Qt.CheckState.Unchecked)
        self.year_from.setValue(self.year_from.minimum())
        self.year_to.setValue(self.year_to.maximum())
        self.dimension.setCurrentIndex(0)
        self.technique.setCurrentIndex(0)
        for w in (self.search, self.organizations, self.year_from, self.year_to, self.dimension,
                  self.technique):
            w.blockSignals(False)
        self._refilter()

    def set_organizations(self, names) -> None:
        """Check exactly these organizations (empty: all shown)."""
        names = set(names)
        self.organizations.blockSignals(True)
        for i in range(self.organizations.count()):
            item = self.organizations.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in names
                               else Qt.CheckState.Unchecked)
        self.organizations.blockSignals(False)
        self._refilter()

    # ------------------------------------------------------------------ selection
    def select_model(self, model_id: str) -> None:
        """Follow the application's current model (no signal)."""
        self.select_node(f"{MODEL}:{model_id}")

    def select_node(self, node: str) -> None:
        if self.graph is None or node not in self.graph:
            return
        self.view.select(node)
        self._show_details(node)

    def _on_selected(self, node: str) -> None:
        self._show_details(node)
        self.nodeSelected.emit(node)
        if self.graph.nodes[node].get("kind") == MODEL:
            self.modelSelected.emit(self.graph.nodes[node]["id"])

    def _show_details(self, node: str) -> None:
        info = node_details(self.graph, node)
        esc = lambda v: html_escape(str(v))  # noqa: E731
        html = [f"<h3>{esc(info['title'])}</h3><p><i>{esc(info['kind'])}</i></p>"]
        if info.get("description"):
            html.append(f"<p>{esc(info['description'])}</p>")
        if info["rows"]:
            html.append("<table>" + "".join(f"<tr><td><b>{esc(k)}</b>&nbsp;</td><td>{esc(v)}</td></tr>"
                                            for k, v in info["rows"]) + "</table>")
        if info["techniques"]:
            html.append("<p><b>Techniques</b> (source)</p><ul>" + "".join(
                f"<li>{esc(name)} <span style='color:gray'>— {esc(dim)}; {esc(src)}</span></li>"
                for name, dim, src in info["techniques"]) + "</ul>")
        if info["benchmarks"]:
            html.append("<p><b>Benchmarks</b> (survey Table 6)</p><table>" + "".join(
                f"<tr><td>{esc(k)}&nbsp;</td><td>{v:g}</td></tr>" for k, v in info["benchmarks"])
                + "</table>")
        if info["items"]:
            html.append(f"<p><b>{'Used by' if info['kind'] == CONCEPT else 'Members'}</b>: "
                        + ", ".join(esc(i) for i in info["items"]) + "</p>")
        self.details.setHtml("".join(html))

    def set_theme(self, name: str) -> None:
        self.view.set_theme(name)


# ====================================================================== timeline and benchmarks

def _style_plot(plot: pg.PlotItem, theme: dict) -> None:
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen(theme["fg"]))
        ax.setTextPen(pg.mkPen(theme["fg"]))
    plot.showGrid(x=True, y=True, alpha=theme["grid"])


def _legend_samples(legend: pg.LegendItem, colors: dict[str, str], orgs) -> None:
    legend.clear()
    for org in orgs:
        sample = pg.ScatterPlotItem(symbol="o", size=9, brush=pg.mkBrush(colors[org]),
                                    pen=pg.mkPen(colors[org]))
        legend.addItem(sample, short_organization(org))


def _emit_point_click(view, points, ev) -> None:
    """A scatter point clicked on a timeline or benchmark plot: double-click opens the model,
    a single click selects it."""
    if not len(points):
        return
    model = points[0].data()
    if ev is not None and hasattr(ev, "double") and ev.double():
        view.modelActivated.emit(model)
    else:
        view.modelClicked.emit(model)


def _label_font() -> QtGui.QFont:
    font = QtGui.QFont()
    font.setPointSize(8)
    return font


def _current_ring() -> pg.ScatterPlotItem:
    """The ring drawn around the open model's point on the timeline and benchmark plots."""
    ring = pg.ScatterPlotItem(size=CURRENT_RING_PX, symbol="o", brush=None, pxMode=True)
    ring.setZValue(5)
    return ring


def _set_ring(ring: pg.ScatterPlotItem, positions: list, color) -> None:
    ring.setData([{"pos": xy, "pen": pg.mkPen(color, width=2.5), "brush": None} for xy in positions])


def _legend_current(legend: pg.LegendItem, text: str, color, ringed: bool) -> None:
    """The legend's last row names the open model: beside a ring like the one round its point,
    or alone (``ringed`` False) to say why it is not plotted; no row when ``text`` is empty."""
    for sample, _label in list(legend.items):
        if getattr(sample.item, "current_model_key", False):
            legend.removeItem(sample.item)
    if not text:
        return
    if ringed:
        key = pg.ScatterPlotItem(symbol="o", size=12, brush=None, pen=pg.mkPen(color, width=2.5))
    else:
        key = pg.PlotDataItem(pen=None)        # draws nothing: the row is its text
    key.current_model_key = True
    legend.addItem(key, text)


def _model_name(graph, model_id: str) -> str:
    node = graph.nodes.get(f"{MODEL}:{model_id}") if graph is not None else None
    return str(node.get("label", model_id)) if node else model_id


def _label_metrics() -> dict:
    """``measure`` and ``line_px`` for the label placers: a label's text width and box height in
    pixels in the labels' font (a TextItem's box adds a 4 px margin on each side)."""
    metrics = QtGui.QFontMetricsF(_label_font())
    return {"measure": lambda text: metrics.horizontalAdvance(text) + 2, "line_px": metrics.height() + 8}


def _replace_point_labels(plot, old: list, labels, color, position) -> list:
    """Text items for ``labels`` (PointLabel: index, text, anchor) at ``position(index)`` in
    ``plot``, replacing the items ``old``."""
    for t in old:
        plot.removeItem(t)
    items, font = [], _label_font()
    for lab in labels:
        t = pg.TextItem(lab.text, color=color, anchor=lab.anchor)
        t.setFont(font)
        t.setPos(*position(lab.index))
        plot.addItem(t)
        items.append(t)
    return items


class _RelabelWhenShown:
    """Placing a scatter's labels takes 15-20 ms; opening a model re-marks both scatters, usually
    while their tabs are hidden, so a hidden view places its labels when it is next shown."""
    _stale_labels = None
    labels_placed_for: tuple[float, float] | None = None   # the plot size the labels were placed for

    def _watch_plot_size(self, view_box) -> None:
        """Place the labels again (debounced) whenever the plot area changes size: the widget's
        own resize comes before pyqtgraph lays out the plot inside it, so labels placed then were
        placed for the old plot."""
        def resized(*_):
            size = view_box.size()
            if self.__dict__.get("series") is not None and (size.width(), size.height()) != self.labels_placed_for:
                self._relabel_timer.start()
        view_box.sigResized.connect(resized)

    def _relabel_when_shown(self, fit) -> None:
        if self.isVisible():
            fit()
        else:
            self._stale_labels = fit

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        fit, self._stale_labels = self._stale_labels, None
        if fit is not None:
            fit()


class TimelineView(_RelabelWhenShown, TitledPlotWidget):
    """Figure 7: total parameters (filled) and, for MoE models, active parameters (hollow) on a
    log axis against the release date, coloured by organization, with lineage lines."""

    modelClicked = Signal(str)
    modelActivated = Signal(str)

    def __init__(self, graph=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineView")
        self._theme = "light"
        self.series = None
        plot = self.getPlotItem()
        plot.setLabel("bottom", "Release date")
        plot.setLabel("left", "Parameters (log scale)")
        self.set_title("Model releases: total (filled) and active (hollow, MoE) parameters")
        plot.setMenuEnabled(False)
        self.lineage = pg.PlotDataItem(pen=pg.mkPen((128, 128, 128, 150), width=1))
        self.moe_links = pg.PlotDataItem(pen=pg.mkPen((128, 128, 128, 130), width=1,
                                                      style=Qt.PenStyle.DotLine))
        self.totals = pg.ScatterPlotItem(hoverable=True, tip=self._tip, size=11)
        self.actives = pg.ScatterPlotItem(hoverable=True, tip=self._tip, size=10)
        for item in (self.lineage, self.moe_links, self.actives, self.totals):
            plot.addItem(item)
        self.totals.sigClicked.connect(self._clicked)
        self.actives.sigClicked.connect(self._clicked)
        self.current_ring = _current_ring()
        plot.addItem(self.current_ring)
        self._current: str | None = None
        self.legend = pg.LegendItem(colCount=5, labelTextSize="8pt", offset=(LEGEND_OFFSET, LEGEND_OFFSET))
        self.legend.setParentItem(plot.vb)
        self._labels: list[pg.TextItem] = []
        # labels are placed for the plot's real size: again (debounced) when it is resized
        self._relabel_timer = QtCore.QTimer(self, singleShot=True, interval=80)
        self._relabel_timer.timeout.connect(self._fit_overlay)
        self._watch_plot_size(plot.vb)
        if graph is not None:
            self.set_graph(graph)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        timer = self.__dict__.get("_relabel_timer")    # None while PlotWidget.__init__ runs
        if timer is not None and self.series is not None:
            timer.start()

    def _fit_overlay(self) -> None:
        """Legend columns for the width, the y range raised clear of the legend, and labels
        placed in the plot's real pixels, none under the legend."""
        plot = self.getPlotItem()
        if plot is None or self.series is None:     # closing
            return
        w, h = plot.vb.width(), plot.vb.height()
        if w < 50 or h < 50:
            return
        self.legend.setColumnCount(max(2, min(5, int((w - 2 * LEGEND_OFFSET) // 125))))
        box = self.legend.boundingRect()
        band = (box.height() + 2 * LEGEND_OFFSET) / h
        y_range = timeline_y_range(self.series, band)
        plot.setYRange(*y_range, padding=0)
        plot.getAxis("left").setTicks([log_ticks(*y_range)])
        reserved = [(0.0, 0.0, min(1.0, (box.width() + 2 * LEGEND_OFFSET) / w), band)]
        labels = timeline_labels(self.series, (w, h), reserved, y_range=y_range, first=self._current,
                                 **_label_metrics())
        pts = self.series.points
        self._labels = _replace_point_labels(plot, self._labels, labels, THEMES[self._theme]["fg"],
                                             lambda i: (pts[i].date, float(np.log10(pts[i].params_total))))
        self.labels_placed_for = (w, h)

    def set_current(self, model_id: str | None) -> None:
        """Ring the open model's point and name it before any other (nothing when not plotted)."""
        self._current = model_id
        p = self._by_id.get(model_id) if self.series else None
        ring = [(p.date, float(np.log10(p.params_total)))] if p is not None and p.params_total else []
        fg = THEMES[self._theme]["fg"]
        _set_ring(self.current_ring, ring, fg)
        if self.series is not None:
            name = _model_name(self.graph, model_id) if model_id else ""
            text = name if ring or not name else f"{name}: parameters not public, not plotted"
            _legend_current(self.legend, text, fg, bool(ring))
        self._relabel_when_shown(self._fit_overlay)

    def labelled_ids(self) -> list[str]:
        """Models whose name is written beside their point."""
        by_text = {t.textItem.toPlainText().strip(): t for t in self._labels}
        return [p.id for p in self.series.points
                if p.params_total and short_label(p.name, 20) in by_text] if self.series else []

    def _tip(self, x, y, data):
        if not self.series:
            return ""
        p = self._by_id.get(data)
        if p is None:
            return str(data)
        text = f"{p.name}\n{p.organization}, {self._dates.get(p.id, '')}\n{format_params(p.params_total)} total"
        if p.params_active:
            text += f", {format_params(p.params_active)} active"
        return text

    def set_graph(self, graph) -> None:
        self.graph = graph
        self.series = s = timeline_series(graph)
        self._by_id = {p.id: p for p in s.points}
        self._dates = {d["id"]: d.get("released", "") for _, d in graph.nodes(data=True)
                       if d.get("kind") == MODEL}
        self.colors = organization_colors(graph)
        self._redraw()

    def _redraw(self) -> None:
        s, th = self.series, THEMES[self._theme]
        plot = self.getPlotItem()
        self.setBackground(th["bg"])
        _style_plot(plot, th)
        self.set_title(self.title, th["fg"])
        outline = pg.mkPen(th["outline"], width=0.8)
        pts = s.plotted()
        self.totals.setData([{"pos": (p.date, np.log10(p.params_total)), "data": p.id,
                              "brush": pg.mkBrush(self.colors[p.organization]), "pen": outline,
                              "symbol": "o", "size": 11} for p in pts])
        moe = [p for p in pts if p.params_active]
        self.actives.setData([{"pos": (p.date, np.log10(p.params_active)), "data": p.id,
                               "brush": pg.mkBrush(th["bg"]),
                               "pen": pg.mkPen(self.colors[p.organization], width=2),
                               "symbol": "o", "size": 9} for p in moe])
        lx, ly = s.lineage_xy
        connect = np.tile([1, 0], len(lx) // 2).astype(np.int32) if lx else None
        self.lineage.setData(np.array(lx, float), np.array(ly, float), connect=connect)
        mx = np.repeat([p.date for p in moe], 2)
        my = np.array([v for p in moe for v in (np.log10(p.params_total), np.log10(p.params_active))])
        self.moe_links.setData(mx, my, connect=np.tile([1, 0], len(moe)).astype(np.int32) if moe else None)
        plot.getAxis("bottom").setTicks([s.x_ticks])
        plot.getAxis("left").setTicks([s.y_ticks])
        plot.setXRange(*s.x_range, padding=0)
        plot.setYRange(*s.y_range, padding=0)
        orgs = sorted({p.organization for p in pts}, key=str.lower)
        self.legend.setLabelTextColor(th["fg"])
        self.legend.setBrush(pg.mkBrush(_color(th["bg"], 215)))
        _legend_samples(self.legend, self.colors, orgs)
        self.legend.addItem(pg.ScatterPlotItem(symbol="o", size=9, brush=pg.mkBrush(th["bg"]),
                                               pen=pg.mkPen(th["fg"], width=2)), "active (MoE)")
        self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen((128, 128, 128), width=1)), "lineage")
        hidden = len(s.points) - len(pts)
        plot.getAxis("bottom").setLabel(f"Release date ({hidden} models without public parameter "
                                        f"counts not plotted)" if hidden else "Release date")
        self.set_current(self._current)      # the ring takes the theme; labels are placed again

    def point_viewport_pos(self, model_id: str, active: bool = False) -> QtCore.QPoint:
        p = self._by_id[model_id]
        y = np.log10(p.params_active if active else p.params_total)
        scene = self.getPlotItem().vb.mapViewToScene(QPointF(p.date, float(y)))
        return self.mapFromScene(scene)

    def plotted_ids(self) -> list[str]:
        return [p.id for p in self.series.plotted()] if self.series else []

    def _clicked(self, item, points, ev) -> None:
        _emit_point_click(self, points, ev)

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")
        self._theme = name
        if self.series is not None:
            self._redraw()


class BenchmarkView(_RelabelWhenShown, QtWidgets.QWidget):
    """Table 6 as a scatter: any two benchmarks, or a benchmark against parameters."""

    modelClicked = Signal(str)
    modelActivated = Signal(str)

    def __init__(self, graph=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("benchmarkView")
        self._theme = "light"
        self.graph = None
        self.series = None
        top = QtWidgets.QHBoxLayout()
        self.x_box = QtWidgets.QComboBox(objectName="benchmarkX")
        self.y_box = QtWidgets.QComboBox(objectName="benchmarkY")
        top.addWidget(QtWidgets.QLabel("X:"))
        top.addWidget(self.x_box)
        top.addSpacing(12)
        top.addWidget(QtWidgets.QLabel("Y:"))
        top.addWidget(self.y_box)
        top.addSpacing(12)
        # one line (a wrapping label changed the plot's height after its labels were placed), as
        # wide as its text where there is room but never widening the window; whole in the tooltip
        self.count = QtWidgets.QLabel(objectName="benchmarkCount")
        self.count.setMinimumWidth(1)
        top.addWidget(self.count, 1)
        self.plot = TitledPlotWidget(objectName="benchmarkPlot")
        self.plot.getPlotItem().setMenuEnabled(False)
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip, size=11)
        self.plot.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._clicked)
        self.current_ring = _current_ring()
        self.plot.addItem(self.current_ring)
        self._current: str | None = None
        self.legend = pg.LegendItem(colCount=4, labelTextSize="8pt", offset=(-LEGEND_OFFSET, -LEGEND_OFFSET))
        self.legend.setParentItem(self.plot.getPlotItem().vb)
        self._labels: list[pg.TextItem] = []
        # labels are placed for the plot's real size: again (debounced) when it is resized
        self._relabel_timer = QtCore.QTimer(self, singleShot=True, interval=80)
        self._relabel_timer.timeout.connect(self._fit_labels)
        self._watch_plot_size(self.plot.getPlotItem().vb)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addLayout(top)
        outer.addWidget(self.plot, 1)
        self.x_box.currentIndexChanged.connect(self._update)
        self.y_box.currentIndexChanged.connect(self._update)
        if graph is not None:
            self.set_graph(graph)

    def set_graph(self, graph, x: str = PARAMS, y: str = "MMLU") -> None:
        self.graph = graph
        self.colors = organization_colors(graph)
        names = benchmark_names(graph)
        for box, value in ((self.x_box, x), (self.y_box, y)):
            box.blockSignals(True)
            box.clear()
            box.addItem("Parameters", PARAMS)
            for n in names:
                box.addItem(n, n)
            i = box.findData(value)
            box.setCurrentIndex(max(0, i))
            box.blockSignals(False)
        self._update()

    def set_axes(self, x: str, y: str) -> None:
        self.x_box.setCurrentIndex(max(0, self.x_box.findData(x)))
        self.y_box.setCurrentIndex(max(0, self.y_box.findData(y)))

    def _tip(self, x, y, data):
        p = self._by_id.get(data) if self.series else None
        if p is None:
            return str(data)
        fx = format_params(10 ** p.x) if self.series.x_log else f"{p.x:g}"
        fy = format_params(10 ** p.y) if self.series.y_log else f"{p.y:g}"
        return f"{p.name} ({p.organization})\n{self.series.x_name}: {fx}\n{self.series.y_name}: {fy}"

    def _update(self, *_) -> None:
        if self.graph is None:
            return
        s = self.series = benchmark_series(self.x_box.currentData(), self.y_box.currentData(),
                                           graph=self.graph)
        self._by_id = {p.id: p for p in s.points}
        th = THEMES[self._theme]
        plot = self.plot.getPlotItem()
        self.plot.setBackground(th["bg"])
        _style_plot(plot, th)
        outline = pg.mkPen(th["outline"], width=0.8)
        self.scatter.setData([{"pos": (p.x, p.y), "data": p.id, "symbol": "o", "size": 11,
                               "brush": pg.mkBrush(self.colors[p.organization]), "pen": outline}
                              for p in s.points])
        self.plot.set_title(f"Benchmarks (survey Table 6): {s.y_name} against {s.x_name.lower()}", th["fg"])
        plot.setLabel("bottom", s.x_name + (" (log scale)" if s.x_log else ""), color=th["fg"])
        plot.setLabel("left", s.y_name + (" (log scale)" if s.y_log else ""), color=th["fg"])
        plot.getAxis("bottom").setTicks([s.x_ticks] if s.x_ticks else None)
        plot.getAxis("left").setTicks([s.y_ticks] if s.y_ticks else None)
        plot.setXRange(*s.x_range, padding=0)
        plot.setYRange(*s.y_range, padding=0)
        self.legend.setLabelTextColor(th["fg"])
        self.legend.setBrush(pg.mkBrush(_color(th["bg"], 215)))
        _legend_samples(self.legend, self.colors,
                        sorted({p.organization for p in s.points}, key=str.lower))
        self.set_current(self._current)

    def set_current(self, model_id: str | None) -> None:
        """Ring the open model's point and name it before any other (nothing when it has no value
        on both axes)."""
        self._current = model_id
        p = self._by_id.get(model_id) if self.series else None
        fg = THEMES[self._theme]["fg"]
        _set_ring(self.current_ring, [(p.x, p.y)] if p is not None else [], fg)
        if self.series:
            text = f"{len(self.series.points)} models with both values"
            name = _model_name(self.graph, model_id) if model_id else ""
            if model_id and p is None:   # say why the open model is missing, not just leave it out
                scores = [n for n in (self.series.x_name, self.series.y_name) if n != "Parameters"]
                missing = f"no {' and '.join(scores)} figure{'s' if len(scores) > 1 else ''} in the survey"
                name += f": {missing}"
            # the reason is the legend's last row; beside the axis boxes it was cut at 1280 px
            self.count.setText(text)
            self.count.setToolTip(f"{text}; {name}" if model_id and p is None else text)
            _legend_current(self.legend, name, fg, p is not None)
        self._relabel_when_shown(self._fit_labels)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        if self.series is not None:
            self._relabel_timer.start()

    def _fit_labels(self) -> None:
        """Labels placed in the plot's real pixels with measured text, none under the legend (the
        series' own labels assume a nominal plot until the view has a size)."""
        s, plot = self.series, self.plot.getPlotItem()
        if s is None or plot is None:
            return
        w, h = plot.vb.width(), plot.vb.height()
        if w >= 50 and h >= 50:
            box = self.legend.boundingRect()
            reserved = [(max(0.0, 1 - (box.width() + 2 * LEGEND_OFFSET) / w),
                         max(0.0, 1 - (box.height() + 2 * LEGEND_OFFSET) / h), 1.0, 1.0)]
            labels = benchmark_labels(s, (w, h), reserved, first=self._current, **_label_metrics())
        else:                          # not laid out yet: a nominal plot until the first resize
            labels = benchmark_labels(s, NOMINAL_PLOT_PX, first=self._current)
        self._labels = _replace_point_labels(plot, self._labels, labels, THEMES[self._theme]["fg"],
                                             lambda i: (s.points[i].x, s.points[i].y))
        self.labels_placed_for = (w, h)

    def labelled_ids(self) -> list[str]:
        """Models whose name is written beside their point."""
        shown = {t.textItem.toPlainText().strip() for t in self._labels}
        return [p.id for p in self.series.points if short_label(p.name, 20) in shown] if self.series else []

    def point_count(self) -> int:
        return len(self.scatter.data)

    def point_viewport_pos(self, model_id: str) -> QtCore.QPoint:
        p = self._by_id[model_id]
        scene = self.plot.getPlotItem().vb.mapViewToScene(QPointF(p.x, p.y))
        return self.plot.mapFromScene(scene)

    def _clicked(self, item, points, ev) -> None:
        _emit_point_click(self, points, ev)

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")
        self._theme = name
        self._update()
