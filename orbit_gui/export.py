"""Exporting what a view shows to SVG, PNG or PDF, from the GUI and headless from the CLI.

One entry point, :func:`export_view`, picks the format from the file's extension and works on
any view of the app:

- a ``QGraphicsView`` (the architecture diagram, the orbit graph, and every pyqtgraph
  ``PlotWidget``, which is a QGraphicsView too): its scene is rendered, so the output holds
  exactly the items the view draws, the user's edits and selection included;
- any other ``QWidget`` (a chart tab holding two plots): each graphics view inside it drawn
  from its scene as above, where the widget shows it, and the rest (a note under the plots)
  with ``QWidget.render``. The CLI exports a chart view's whole tab, as the window shows it.

A view may say what it exports: ``scene_rect_for_export()`` (the rectangle) and
``export_overlays()`` (labels drawn over it; the orbit's legends, placed clear of the ring and
without the on-screen mouse hints).

Formats:

- ``.svg``: QSvgGenerator; vectors, text stays ``<text>`` with its font family named, a viewBox,
  the model's name as ``<title>``;
- ``.pdf``: QPdfWriter; vectors, fonts embedded (subset), one page the size of the diagram
  (scene units are 96-dpi pixels, so a 960-unit-wide diagram is a 720 pt = 10 in page);
- ``.png``: rendered at ``dpi / 96`` times the on-screen size in tiles of at most
  ``TILE`` pixels into one image, so a large diagram is neither cut off nor upscaled; the PNG
  records the dpi. Sizes beyond ``MAX_PNG_PIXELS`` are refused with a clear error.

Files are written whole or not at all (a temporary file, then a rename). Problems (unknown
extension, unwritable path, an image too large) raise :class:`ExportError`, a ``SpecError`` the
CLI and the GUI already report as one line.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

from models.spec import SpecError
from models.spec_io import atomic_write_bytes

FORMATS = (".svg", ".png", ".pdf")
DEFAULT_DPI = 192          # 2x the on-screen size
MIN_DPI, MAX_DPI = 24, 2400
TILE = 2048                # PNG tiles, pixels per side
MAX_PNG_PIXELS = 400_000_000   # 1.6 GB as 32-bit pixels: more is refused
MARGIN = 16.0              # scene units around a scene's items when the view gives no rect
VIEWS = ("architecture", "orbit", "timeline", "benchmarks", "memory", "roofline", "latency",
         "quantization", "scaling", "thinking")
CHART_NAMES = {"memory": "memoryChart", "roofline": "rooflineChart", "latency": "latencyChart",
               "quantization": "quantChart", "scaling": "scalingChart",
               "thinking": "thinkingChart"}
PLOT_SIZE = (1100, 700)    # headless size of a chart or the timeline, in pixels


class ExportError(SpecError):
    """An export could not be written; the message names the file and the problem."""

    def __init__(self, what: str, rule: str):
        super().__init__(what, rule)


# --------------------------------------------------------------------------- checks and helpers

def export_format(path: str | os.PathLike) -> str:
    """".svg", ".png" or ".pdf" (from the extension, any case), else ExportError."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        shown = ext or "no extension"
        raise ExportError(str(path), f"unknown export format ({shown}); use a file name ending "
                                     f"in {', '.join(FORMATS)}")
    return ext


def _check_target(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ExportError(str(path), "is a folder; give a file name")
    if not parent.is_dir():
        raise ExportError(str(path), f"cannot write: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(str(path), "cannot write: permission denied")


def _write_atomic(path: Path, data: bytes) -> None:
    _check_target(path)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ExportError(str(path), f"cannot write: {exc.strerror or exc}") from None


def _check_dpi(dpi: float) -> float:
    try:
        dpi = float(dpi)
    except (TypeError, ValueError):
        raise ExportError("dpi", f"must be a number, got {dpi!r}") from None
    if not (MIN_DPI <= dpi <= MAX_DPI) or not math.isfinite(dpi):
        raise ExportError("dpi", f"must be between {MIN_DPI} and {MAX_DPI}, got {dpi:g}")
    return dpi


def _is_graphics_view(obj) -> bool:
    from PySide6.QtWidgets import QGraphicsView
    return isinstance(obj, QGraphicsView)


def source_rect(view):
    """The part of the scene (or widget) that is exported, in scene units (or pixels).

    A view that knows its drawing (``scene_rect_for_export()``) says; a pyqtgraph PlotWidget
    exports what it shows (its scene rect is its viewport); other views their items' bounds
    plus a margin."""
    from PySide6.QtCore import QRectF
    if not _is_graphics_view(view):
        return QRectF(0, 0, max(view.width(), 1), max(view.height(), 1))
    if hasattr(view, "scene_rect_for_export"):
        rect = view.scene_rect_for_export()
        if not rect.isEmpty():
            return QRectF(rect)
    if _is_plot_widget(view):
        return QRectF(view.sceneRect())
    scene = view.scene()
    rect = scene.itemsBoundingRect() if scene is not None else QRectF()
    if rect.isEmpty():
        return QRectF(view.sceneRect())
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def _is_plot_widget(view) -> bool:
    # Never import pyqtgraph just to ask: it costs half a second of start-up, and a widget
    # cannot be a pyqtgraph view before pyqtgraph has been imported.
    pg = sys.modules.get("pyqtgraph")
    return pg is not None and isinstance(view, pg.GraphicsView)


def png_size(view, dpi: float = DEFAULT_DPI) -> tuple[int, int]:
    """The pixel size a PNG export of ``view`` at ``dpi`` has."""
    rect = source_rect(view)
    scale = _check_dpi(dpi) / 96.0
    return max(1, math.ceil(rect.width() * scale - 1e-6)), max(1, math.ceil(rect.height() * scale - 1e-6))


def _background(view):
    """The brush the view paints behind its scene (QGraphicsView.backgroundBrush; pyqtgraph
    sets it there), else the scene's, else the palette's base colour."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QBrush, QPalette
    if _is_graphics_view(view):
        for brush in (view.backgroundBrush(), view.scene().backgroundBrush() if view.scene() else None):
            if brush is not None and brush.style() != Qt.BrushStyle.NoBrush:
                return QBrush(brush)
    else:
        views = _views_inside(view)
        if views:                       # a chart tab: its plots' background fills the gaps too
            return _background(views[0][0])
    return QBrush(view.palette().color(QPalette.ColorRole.Window if not _is_graphics_view(view)
                                       else QPalette.ColorRole.Base))


def _title_of(view, title: str | None) -> str:
    if title:
        return title
    model = getattr(view, "model", None)
    if callable(model):
        try:
            m = model()
            if m is not None and getattr(m, "name", ""):
                return str(m.name)
        except TypeError:
            pass
    return view.objectName() or type(view).__name__


def _paint(view, painter, target, source) -> None:
    """Background, then the scene (or widget), mapping ``source`` onto ``target``."""
    from PySide6.QtGui import QPainter
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.fillRect(target, _background(view))
    if _is_graphics_view(view):
        _paint_scene(view, painter, target, source)
    else:
        _paint_widget(view, painter, target, source)


def _paint_scene(view, painter, target, source) -> None:
    """A graphics view's scene (pyqtgraph items in export mode), then its floating labels."""
    from PySide6.QtCore import Qt
    items = _export_mode(view, True)
    try:
        view.scene().render(painter, target, source, Qt.AspectRatioMode.IgnoreAspectRatio)
    finally:
        for item in items:
            item.setExportMode(False)
    _paint_overlays(view, painter, target, source)


def _views_inside(widget) -> list:
    """The graphics views a widget shows (a chart tab's plots), each with its rectangle and
    its drawing's (inside its frame) in the widget's coordinates; views inside another one are
    that one's business."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QGraphicsView
    views = [v for v in widget.findChildren(QGraphicsView) if v.isVisibleTo(widget)]
    views = [v for v in views if not any(o is not v and o.isAncestorOf(v) for o in views)]
    return [(v, QRect(v.mapTo(widget, QPoint(0, 0)), v.size()),
             QRect(v.mapTo(widget, v.contentsRect().topLeft()), v.contentsRect().size()))
            for v in views]


def _shown_scene_rect(view):
    """The part of a view's scene its viewport shows (a pyqtgraph view: its scene rect)."""
    from PySide6.QtCore import QRectF
    if _is_plot_widget(view):
        return QRectF(view.sceneRect())
    return view.mapToScene(view.viewport().rect()).boundingRect()


def _paint_widget(widget, painter, target, source) -> None:
    """A widget holding graphics views (a chart tab of two plots): each view drawn from its
    scene where the widget shows it, exactly as a view exported alone; the rest of the widget
    (labels, and nothing of the views) with ``QWidget.render``."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QRegion
    from PySide6.QtWidgets import QWidget
    kx = target.width() / source.width()
    ky = target.height() / source.height()
    views = _views_inside(widget)
    rest = QRegion(widget.rect()).intersected(QRegion(source.toAlignedRect()))
    for _, whole, _ in views:
        rest = rest.subtracted(QRegion(whole))
    if not rest.isEmpty():
        painter.save()
        painter.translate(target.topLeft())
        painter.scale(kx, ky)
        painter.translate(-source.topLeft())
        # the region's top left lands at the offset given (widget coordinates here)
        widget.render(painter, rest.boundingRect().topLeft(), rest, QWidget.RenderFlag.DrawChildren)
        painter.restore()

    def mapped(rect):
        return QRectF(target.left() + (rect.x() - source.left()) * kx,
                      target.top() + (rect.y() - source.top()) * ky,
                      rect.width() * kx, rect.height() * ky)
    for view, whole, inner in views:
        where = mapped(inner)
        if mapped(whole).intersects(target):
            painter.save()
            painter.setClipRect(mapped(whole).intersected(target))
            painter.fillRect(mapped(whole), _background(view))
            _paint_scene(view, painter, where, _shown_scene_rect(view))
            painter.restore()


def _export_mode(view, on: bool) -> list:
    """pyqtgraph items drawn for export: no hover buttons, no cached sprites, antialiased."""
    if not _is_plot_widget(view):
        return []
    items = [it for it in view.scene().items() if hasattr(it, "setExportMode")]
    for it in items:
        it.setExportMode(on, {"antialias": True, "resolutionScale": 1.0})
    return items


def _overlays(view) -> list:
    """[(label, scene position of its top left)] floating over a graphics view's export. A view
    that knows its legends (``export_overlays()``, the orbit's: placed clear of its drawing)
    says; otherwise its visible QLabel children, at the same corner of the whole export as on
    screen."""
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QLabel
    if hasattr(view, "export_overlays"):
        return list(view.export_overlays())
    overlays = [w for w in view.children()
                if isinstance(w, QLabel) and w.isVisibleTo(view) and w.text()]
    if not overlays:
        return []
    whole = source_rect(view)
    vw, vh = max(view.width(), 1), max(view.height(), 1)
    out = []
    for w in overlays:
        g = w.geometry()
        sx = whole.left() + g.x() if g.center().x() < vw / 2 else whole.right() - (vw - g.x())
        sy = whole.top() + g.y() if g.center().y() < vh / 2 else whole.bottom() - (vh - g.y())
        out.append((w, QPointF(sx, sy)))
    return out


def _paint_overlays(view, painter, target, source) -> None:
    """Labels floating over a graphics view (the orbit view's legends), one scene unit per
    label pixel. ``target`` and ``source`` may be one tile of the export: positions are in the
    whole export's scene units."""
    from PySide6.QtCore import QPoint
    k = target.width() / max(source.width(), 1e-9)
    for w, pos in _overlays(view):
        painter.save()
        painter.translate(target.left() + (pos.x() - source.left()) * k,
                          target.top() + (pos.y() - source.top()) * k)
        painter.scale(k, k)
        w.render(painter, QPoint(0, 0))
        painter.restore()


# --------------------------------------------------------------------------- the three formats

def _svg_bytes(view, title: str, description: str) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator
    rect = source_rect(view)
    w, h = rect.width(), rect.height()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setResolution(96)                           # scene units are 96-dpi pixels
    gen.setSize(QSize(math.ceil(w), math.ceil(h)))
    gen.setViewBox(QRectF(0, 0, w, h))
    gen.setTitle(title)
    gen.setDescription(description)
    painter = QPainter()
    if not painter.begin(gen):
        raise ExportError("svg", "the SVG generator could not start")
    try:
        _paint(view, painter, QRectF(0, 0, w, h), rect)
    finally:
        painter.end()
    buf.close()
    return _named_fonts(bytes(data))


def _font_list(match) -> str:
    name = match.group(1)
    generic = "monospace" if "mono" in name.lower() else "sans-serif"
    if name.lower() in ("sans serif", "sans-serif", ""):
        return f'font-family="{generic}"'
    return f'font-family="{name}, {generic}"'


def _named_fonts(svg: bytes) -> bytes:
    """Each font family named with a generic fallback, so a viewer without DejaVu still shows
    the text in a similar face (Qt writes its generic "Sans Serif", which CSS does not know)."""
    import re
    text = svg.decode("utf-8")
    return re.sub(r'font-family="([^"]*)"', _font_list, text).encode("utf-8")


def _pdf_bytes(view, title: str, description: str) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF
    from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter
    rect = source_rect(view)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buf)
    writer.setResolution(96)                        # one device unit per scene unit
    points = QSizeF(rect.width() * 72 / 96, rect.height() * 72 / 96)
    size = QPageSize(points, QPageSize.Unit.Point, title, QPageSize.SizeMatchPolicy.ExactMatch)
    writer.setPageLayout(QPageLayout(size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0),
                                     QPageLayout.Unit.Point))
    writer.setTitle(title)
    writer.setCreator(f"Orbit Explorer {_version()}")
    painter = QPainter()
    if not painter.begin(writer):
        raise ExportError("pdf", "the PDF writer could not start")
    try:
        _paint(view, painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    buf.close()
    del description
    return bytes(data)


def _png_bytes(view, dpi: float) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    rect = source_rect(view)
    scale = dpi / 96.0
    width, height = png_size(view, dpi)
    if width * height > MAX_PNG_PIXELS or max(width, height) > 131_072:
        raise ExportError("png", f"{width} x {height} pixels at {dpi:g} dpi is too large "
                                 f"(limit {MAX_PNG_PIXELS // 1_000_000} megapixels); "
                                 "lower --dpi or export SVG or PDF")
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    if image.isNull():
        raise ExportError("png", f"not enough memory for a {width} x {height} image; lower --dpi")
    image.fill(Qt.GlobalColor.transparent)
    out = QPainter(image)
    out.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
    for ty in range(0, height, TILE):
        for tx in range(0, width, TILE):
            tw, th = min(TILE, width - tx), min(TILE, height - ty)
            tile = QImage(tw, th, QImage.Format.Format_ARGB32_Premultiplied)
            tile.fill(Qt.GlobalColor.transparent)
            # The tile is painted in logical (on-screen) units with a device pixel ratio of
            # `scale`, as on a high-DPI screen: items that ignore transformations (pyqtgraph
            # legends, pixel-sized markers) grow with everything else. It shows scene points
            # rect.topLeft + (tx, ty) / scale onward: one big render, cut at whole pixels.
            tile.setDevicePixelRatio(scale)
            src = QRectF(rect.x() + tx / scale, rect.y() + ty / scale, tw / scale, th / scale)
            p = QPainter(tile)
            try:
                _paint(view, p, QRectF(0, 0, tw / scale, th / scale), src)
            finally:
                p.end()
            tile.setDevicePixelRatio(1.0)
            out.drawImage(tx, ty, tile)
    out.end()
    dpm = round(dpi / 0.0254)
    image.setDotsPerMeterX(dpm)
    image.setDotsPerMeterY(dpm)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, "PNG"):
        raise ExportError("png", "the PNG encoder failed")
    buf.close()
    return bytes(data)


def _version() -> str:
    try:
        from orbit_gui import __version__
        return __version__
    except ImportError:   # pragma: no cover
        return ""


# --------------------------------------------------------------------------- public API

def export_bytes(view, fmt: str, *, dpi: float = DEFAULT_DPI, title: str | None = None,
                 description: str = "") -> bytes:
    """The exported file's content (``fmt``: ".svg", ".png" or ".pdf")."""
    fmt = fmt.lower() if fmt.startswith(".") else "." + fmt.lower()
    if fmt not in FORMATS:
        raise ExportError("format", f"unknown export format {fmt}; use {', '.join(FORMATS)}")
    dpi = _check_dpi(dpi)
    if _is_graphics_view(view) and view.scene() is None:
        raise ExportError("view", "the view has nothing to export")
    rect = source_rect(view)
    if rect.isEmpty():
        raise ExportError("view", "the view is empty: open a model first")
    title = _title_of(view, title)
    if not description:
        description = f"{title}, exported by Orbit Explorer {_version()}"
    if fmt == ".svg":
        return _svg_bytes(view, title, description)
    if fmt == ".pdf":
        return _pdf_bytes(view, title, description)
    return _png_bytes(view, dpi)


def export_view(view_or_plot, path: str | os.PathLike, *, dpi: float = DEFAULT_DPI,
                theme: str | None = None, title: str | None = None,
                description: str = "") -> Path:
    """Write what ``view_or_plot`` shows to ``path`` (.svg, .png or .pdf, from the extension).

    ``theme`` ("light"/"dark") first switches a view that has ``set_theme``; None exports the
    view as it is. ``dpi`` sets the PNG's scale (96 = on-screen size). Returns the path."""
    path = Path(path).expanduser()
    fmt = export_format(path)
    _check_target(path)
    if theme is not None and hasattr(view_or_plot, "set_theme"):
        if theme not in ("light", "dark"):
            raise ExportError("theme", f"must be light or dark, got {theme!r}")
        view_or_plot.set_theme(theme)
    data = export_bytes(view_or_plot, fmt, dpi=dpi, title=title, description=description)
    _write_atomic(path, data)
    return path


# --------------------------------------------------------------------------- headless

def ensure_app():
    """The QApplication, created offscreen when there is none (no window ever appears)."""
    if "PySide6.QtWidgets" not in sys.modules or not _has_app():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "orbit-explorer"])
        app.setApplicationName("Orbit Explorer")
    return app


def _has_app() -> bool:
    from PySide6.QtWidgets import QApplication
    return QApplication.instance() is not None


def _overrides_list(overrides) -> list[tuple[str, Any]]:
    from models.overrides import parse_assignments
    if not overrides:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    items = list(overrides)
    if all(isinstance(o, str) for o in items):
        return parse_assignments(items)
    return [tuple(o) for o in items]


class HeadlessView:
    """A view built offscreen: ``widget`` is what is exported; ``owner`` keeps its parent
    (a ChartsPanel, an OrbitPanel) alive."""

    def __init__(self, widget, owner=None):
        self.widget = widget
        self.owner = owner


TAXONOMY_VIEWS = ("orbit", "timeline", "benchmarks")     # drawn from the catalog; the model is only marked


def build_view(view: str, spec, report, *, theme: str = "light", unfold: bool = False,
               size: tuple[int, int] = PLOT_SIZE) -> HeadlessView:
    """Build one of :data:`VIEWS` offscreen for ``spec``/``report``, as the window draws it."""
    ensure_app()
    from PySide6.QtWidgets import QApplication
    if view not in VIEWS:
        raise ExportError("view", f"unknown view {view!r}; one of {', '.join(VIEWS)}")
    if theme not in ("light", "dark"):
        raise ExportError("theme", f"must be light or dark, got {theme!r}")
    if view == "architecture":
        from models.diagram import diagram_model
        from widgets.diagram import ArchitectureView
        w = ArchitectureView()
        w.set_theme(theme)
        w.set_model(diagram_model(spec, report, unfold=unfold), unfolded=unfold)
        return HeadlessView(w)
    if view in TAXONOMY_VIEWS:
        try:
            from models.taxonomy import build_graph
            from widgets.orbit import BenchmarkView, OrbitPanel, TimelineView
        except ImportError as exc:
            raise ExportError("view", f"the {view} view is not available: {exc}") from None
        graph = build_graph()
        # the exported model is marked as the window marks its open model (a ring, its name
        # first); a model outside the catalog (an edited or user file) is simply not marked
        model_id = _catalog_id(spec)
        if view == "orbit":
            panel = OrbitPanel(graph)
            panel.resize(1400, 1000)
            panel.set_theme(theme)
            if model_id:
                panel.select_model(model_id)
            panel.show()
            QApplication.processEvents()
            return HeadlessView(panel.view, panel)
        if view == "benchmarks":
            bench = BenchmarkView(graph)
            bench.set_theme(theme)
            bench.set_current(model_id)
            bench.resize(*size)
            bench.show()
            QApplication.processEvents()
            return HeadlessView(bench.plot, bench)
        tl = TimelineView(graph)
        tl.set_theme(theme)
        tl.set_current(model_id)
        tl.resize(*size)
        tl.show()
        QApplication.processEvents()
        return HeadlessView(tl)
    from models.charts import chart_data
    from widgets.charts import ChartsPanel
    panel = ChartsPanel()
    panel.set_theme(theme)
    panel.set_data(chart_data(spec, report.workload, report))
    page = chart_page(panel, CHART_NAMES[view])
    # the whole tab, as the window shows it: a tab of two plots (scaling: time and KV cache +
    # state; thinking: latency and cost) exports both, stacked, each about as tall as one alone
    plots = len([p for p in panel.plots if p is page or page.isAncestorOf(p)])
    panel.resize(size[0], size[1] * (plots + 1) // 2)
    panel.setCurrentWidget(page)      # shown, so its layout (axes, legend) is computed at this size
    panel.show()
    QApplication.processEvents()
    return HeadlessView(page, panel)


def chart_page(panel, plot_name: str):
    """The charts panel's tab that holds the plot named ``plot_name``: the plot itself, or the
    widget stacking it with the tab's other plots."""
    page = panel.plot(plot_name)
    while page is not None and panel.indexOf(page) < 0:
        page = page.parentWidget()
    if page is None:
        raise ExportError("view", f"no chart tab holds {plot_name}")
    return page


def _catalog_id(spec) -> str | None:
    """The catalog id of the exported model, or None when it is not a catalog model."""
    try:
        from models.catalog import find
        return find(spec.name).id
    except Exception:    # noqa: BLE001 - an edited or user model is simply not marked
        return None


def render_headless(model_text: str, view: str, out: str | os.PathLike, overrides=None,
                    theme: str = "light", dpi: float = DEFAULT_DPI, workload=None, *,
                    unfold: bool = False, size: tuple[int, int] = PLOT_SIZE) -> Path:
    """Resolve ``model_text`` (catalog id or file), apply ``overrides`` (["KEY=VALUE", ...] or
    a dict), cost it on ``workload`` (a models.cost.Workload; default Workload()), build
    ``view`` offscreen and export it to ``out``. Returns the written path."""
    from models.cost import Workload, cost_report
    from models.overrides import apply_assignments
    from orbit_gui.cli import resolve_model
    export_format(out)
    _check_target(Path(out).expanduser())
    _check_dpi(dpi)
    edits = _overrides_list(overrides)
    try:
        spec = resolve_model(model_text)
    except SpecError:
        if view not in TAXONOMY_VIEWS or edits:
            raise
        # a closed model has no architecture to cost, but it has its place in the taxonomy
        from models.catalog import find
        spec, report = SimpleNamespace(name=find(model_text).name), None
    else:
        if edits:
            spec = apply_assignments(spec, edits)
        report = cost_report(spec, workload or Workload())
    built = build_view(view, spec, report, theme=theme, unfold=unfold, size=size)
    title = spec.name if view == "architecture" else f"{spec.name}: {view}"
    edited = "; ".join(f"{k}={v}" for k, v in edits)
    description = (f"{view} view of {spec.name}" + (f" (edited: {edited})" if edited else "")
                   + f", exported by Orbit Explorer {_version()}")
    try:
        return export_view(built.widget, out, dpi=dpi, title=title, description=description)
    finally:
        for w in (built.owner, built.widget):
            if w is not None:
                w.hide()
                w.deleteLater()


# --------------------------------------------------------------------------- GUI helpers

FILE_FILTER = "SVG vector image (*.svg);;PNG image (*.png);;PDF document (*.pdf)"


def with_extension(path: str, selected_filter: str) -> str:
    """A file dialog's answer with the extension its filter implies, when the user typed none."""
    if Path(path).suffix.lower() in FORMATS:
        return path
    for ext in FORMATS:
        if f"*{ext}" in selected_filter:
            return path + ext
    return path + ".svg"


def safe_file_name(name: str) -> str:
    """``name`` with every character but letters, digits, '-', '_' and '.' as '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def export_dialog(parent, view, default_name: str = "diagram", *, title: str | None = None,
                  dpi: float = DEFAULT_DPI) -> Path | None:
    """Ask for a file and export ``view``; errors go to a message box. The exported path, or
    None when cancelled or failed."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    safe = safe_file_name(default_name) or "diagram"
    path, chosen = QFileDialog.getSaveFileName(parent, "Export", safe + ".svg", FILE_FILTER)
    if not path:
        return None
    path = with_extension(path, chosen)
    try:
        return export_view(view, path, dpi=dpi, title=title)
    except SpecError as exc:
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot export", str(exc),
                          QMessageBox.StandardButton.Ok, parent)
        box.setObjectName("errorDialog")
        box.open()
        return None


def install_export_menu(view, handler, label: str = "Export…",
                        extra: Iterable[tuple[str, Any]] = ()) -> None:
    """Give ``view`` a context menu entry calling ``handler()``.

    pyqtgraph views get it added to their own right-click menu; other QGraphicsViews a custom
    context menu with ``label`` then the ``extra`` (text, callback) entries."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu
    if _is_plot_widget(view):
        action = QAction(label, view)
        action.setObjectName("actionExportChartContext")
        action.triggered.connect(lambda _c=False: handler())
        view.scene().contextMenu.append(action)
        return
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def show(pos) -> None:
        menu = QMenu(view)
        menu.setObjectName("exportContextMenu")
        act = menu.addAction(label)
        act.triggered.connect(lambda _c=False: handler())
        for text, cb in extra:
            a = menu.addAction(text)
            a.triggered.connect(lambda _c=False, cb=cb: cb())
        menu.popup(view.viewport().mapToGlobal(pos))
        view._export_menu = menu     # kept for tests (and so it is not collected while open)

    view.customContextMenuRequested.connect(show)
