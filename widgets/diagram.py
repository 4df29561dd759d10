"""The architecture diagram: a QGraphicsScene of a :class:`models.diagram.DiagramModel`.

Display only: every number and text shown here was computed in ``models.diagram``. The scene has
three columns:

1. the overview (embedding, positions, the decoder stack folded into runs "xN" and repeating
   periods, final norm, LM head) with tensor shapes on the edges;
2. the per-layer strip (mixer and FFN category of every layer), drawn as one QGraphicsPathItem
   per color so that 100+ layer models stay cheap, with a legend;
3. the detail of the selected block: its components in data-flow order with shapes and parameter
   counts, head grouping (query heads wired to their KV heads), the MLA latent, the experts.

Text is QGraphicsSimpleTextItem throughout, so SVG and PDF export keep it as text.
"""
from __future__ import annotations

import functools

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetrics, QFontMetricsF, QKeySequence,
                           QPainter, QPainterPath, QPen)
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QGraphicsItem,
                               QGraphicsPathItem, QGraphicsRectItem, QGraphicsScene,
                               QGraphicsSimpleTextItem, QGraphicsView, QHeaderView, QLabel,
                               QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableWidget,
                               QTableWidgetItem, QToolButton, QVBoxLayout, QWidget)

from models.diagram import CATEGORY_LABELS, BlockDetail, DiagramModel, OverviewItem
from widgets.steady import steady_scroll_bars



# --------------------------------------------------------------------------- palette

_CATEGORY_COLORS = {
    "light": {
        "full": "#3f6fb5", "sliding": "#2a9d8f", "chunked": "#5a9e3a", "mla": "#8e5bb5", "cross": "#a33ea1",
        "linear": "#d6609e", "ssm": "#c8414b", "conv": "#b07a2a", "none": "#a0a0a0",
        "dense": "#7a8791", "moe": "#d4a017",
        "embedding": "#5b7083", "position": "#8a8f98", "final_norm": "#8a8f98",
        "lm_head": "#5b7083", "mtp": "#8a8f98", "vision": "#6d5f8f", "norm": "#9aa3ad",
        "residual": "#6e7781", "per_layer_input": "#4f7f86", "altup": "#8a6d3b",
    },
    "dark": {
        "full": "#6d9eeb", "sliding": "#4cc3b3", "chunked": "#86c56b", "mla": "#b98be0", "cross": "#d77fd5",
        "linear": "#f08cc4", "ssm": "#ef6f78", "conv": "#d9a55a", "none": "#8a8a8a",
        "dense": "#9fb0bd", "moe": "#f0c43c",
        "embedding": "#8fa8bf", "position": "#9aa2ad", "final_norm": "#9aa2ad",
        "lm_head": "#8fa8bf", "mtp": "#9aa2ad", "vision": "#a496c8", "norm": "#8f99a3",
        "residual": "#9aa2ad", "per_layer_input": "#86b8bf", "altup": "#c9a86a",
    },
}

PALETTES = {
    "light": {"background": "#ffffff", "text": "#1f2328", "muted": "#4d5661", "edge": "#6e7781",
              "panel": "#f6f8fa", "panel_border": "#d0d7de", "selected": "#d1242f",
              "tint": 0.82, **_CATEGORY_COLORS["light"]},
    "dark": {"background": "#1e2127", "text": "#e6e8eb", "muted": "#aeb6bf", "edge": "#8b949e",
             "panel": "#262a31", "panel_border": "#3d444d", "selected": "#ff7b72",
             "tint": 0.70, **_CATEGORY_COLORS["dark"]},
}

# geometry (scene units)
OVERVIEW_W = 330.0
STRIP_X = OVERVIEW_W + 70.0
CELL_W = 24.0
STRIP_LABEL_W = 44.0
DETAIL_X = STRIP_X + 2 * CELL_W + 6 + STRIP_LABEL_W + 56.0
DETAIL_W = 360.0
ILLUSTRATION_X = DETAIL_X + DETAIL_W + 30.0
ILLUSTRATION_W = 300.0
EDGE_GAP = 34.0
MAX_DRAWN_HEADS = 16
MAX_DRAWN_EXPERTS = 64
FFN_TAB_LABELS = {"moe": "MoE", "dense": "dense"}


class _Hot:
    """Mixin of the clickable items. Their role lives in Python attributes, not in
    QGraphicsItem.data(): PySide6 6.12 mis-counts references to the None that data() returns
    for an unset key, which aborts the interpreter after enough calls."""

    role: str = ""
    block: str = ""
    layer: int = -1
    foldable: bool = False


class _HotPath(_Hot, QGraphicsPathItem):
    pass


class _Section:
    """The items of one part of the diagram (header, overview, strip, detail), kept from one
    drawing to the next by key.

    An edit changes a few figures; drawing the part again takes back every item whose key
    (its kind, its creation arguments and its parent) is unchanged, creates the rest, and
    removes the items no longer drawn. Items that are taken back cost neither construction nor
    a repaint: Qt's setters ignore values that did not change.
    """

    def __init__(self, scene: QGraphicsScene):
        self.root = QGraphicsRectItem()
        self.root.setPen(QPen(Qt.PenStyle.NoPen))
        self.root.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        scene.addItem(self.root)
        self._scene = scene
        self._items: dict[tuple, list[QGraphicsItem]] = {}
        self._old: dict[tuple, list[QGraphicsItem]] = {}

    def begin(self) -> None:
        self._old, self._items = self._items, {}

    def take(self, key: tuple, parent: QGraphicsItem | None, make):
        """The item drawn under ``key`` last time below the same parent, or ``make(parent)``."""
        parent = parent if parent is not None else self.root
        full = (key, id(parent))    # parents are kept alive by the pools, so ids are stable
        bucket = self._old.get(full)
        item = bucket.pop() if bucket else make(parent)
        self._items.setdefault(full, []).append(item)
        return item

    def end(self) -> None:
        stale = [item for bucket in self._old.values() for item in bucket]
        ids = {id(item) for item in stale}
        for item in stale:
            parent = item.parentItem()
            if parent is None or id(parent) not in ids:   # children leave with their parent
                self._scene.removeItem(item)
        self._old = {}

    def clear(self) -> None:
        self.begin()
        self.end()


@functools.lru_cache(maxsize=64)
def _font(px: float, bold: bool = False, mono: bool = False) -> QFont:
    """Shared; callers must not modify it (setFont copies)."""
    f = QFont("DejaVu Sans Mono" if mono else "DejaVu Sans")
    f.setPixelSize(int(px))
    f.setBold(bold)
    return f


@functools.lru_cache(maxsize=64)
def _metrics(px: float, bold: bool = False, mono: bool = False) -> QFontMetricsF:
    return QFontMetricsF(_font(px, bold, mono))


@functools.lru_cache(maxsize=4096)
def _wrap(text: str, px: float, width: float) -> tuple[str, ...]:
    """Greedy word wrap of ``text`` at ``width`` scene units."""
    fm = _metrics(px)
    line, lines = "", []
    for word in text.split():
        trial = f"{line} {word}".strip()
        if fm.horizontalAdvance(trial) > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return tuple(lines)


@functools.lru_cache(maxsize=4096)
def _label_lines(text: str, px: float, width: float, bold: bool = False) -> tuple[str, ...]:
    """``text`` in lines no wider than ``width``: whole when it fits, else broken before its
    " + " parts ("sliding window GQA 32/16 w1024" / "+ dense 21504"), a part too wide at its
    spaces, a word too wide after its "+" ("mla+mla+" / "dense+moe"). Only a piece of one
    word that is still too wide is elided."""
    fm = _metrics(px, bold)
    if fm.horizontalAdvance(text) <= width:
        return (text,)

    def fill(pieces: list[str], sep: str) -> list[str]:
        lines, line = [], ""
        for piece in pieces:
            trial = f"{line}{sep}{piece}" if line else piece
            if line and fm.horizontalAdvance(trial) > width:
                lines.append(line)
                line = piece
            else:
                line = trial
        return lines + [line] if line else lines

    first, *rest = text.split(" + ")
    out: list[str] = []
    for part in fill([first] + [f"+ {r}" for r in rest], " "):
        if fm.horizontalAdvance(part) <= width:
            out.append(part)
            continue
        for words in fill(part.split(), " "):
            if fm.horizontalAdvance(words) <= width:
                out.append(words)
                continue
            pieces = [p + "+" for p in words.split("+")]
            pieces[-1] = pieces[-1][:-1]
            for piece in fill([p for p in pieces if p], ""):
                out.append(piece if fm.horizontalAdvance(piece) <= width else
                           fm.elidedText(piece, Qt.TextElideMode.ElideRight, width))
    return tuple(out)


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """a blended towards b by t (0: a, 1: b)."""
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def _rounded(rect: QRectF, r: float = 7.0) -> QPainterPath:
    p = QPainterPath()
    p.addRoundedRect(rect, r, r)
    return p


class ArchitectureView(QGraphicsView):
    """Zoomable, pannable architecture diagram.

    Signals: ``blockSelected(str)`` when a block is picked (click on a box, a strip row or
    ``select_block``), ``layerSelected(int)`` when a strip row or an unfolded layer is clicked,
    ``foldToggled(bool)`` when the stack is folded or unfolded from inside the view.
    """

    blockSelected = Signal(str)
    layerSelected = Signal(int)
    foldToggled = Signal(bool)

    ZOOM_STEP = 1.2
    MIN_SCALE, MAX_SCALE = 0.03, 12.0
    # the least zoom of fit_readable: the 11 px labels stay 9 px high on screen
    READABLE_SCALE = 0.8

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("architectureView")
        self._scene = QGraphicsScene(self)
        self._scene.setObjectName("architectureScene")
        # items come and go on every edit and there are only a few hundred: a BSP index costs
        # more to keep up than it saves
        self._scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(self._scene)
        steady_scroll_bars(self)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("")
        self._theme = "light"
        self._pal = PALETTES["light"]
        self._model: DiagramModel | None = None
        self._unfolded = False
        self._selected: str | None = None
        self._selected_layer: int | None = None
        self._boxes: list[_HotPath] = []
        self._sections = {name: _Section(self._scene)
                          for name in ("header", "overview", "strip", "detail")}
        self._section = self._sections["header"]     # the part being drawn
        self._strip_key = None                           # what the strip shows now
        self._strip_sel: QGraphicsPathItem | None = None
        self._strip_geom: tuple[float, float, int] = (0.0, 1.0, 0)   # top, row height, layers
        self._press_pos = None
        self._two_line_blocks: set[str] = set()     # unfolded rows whose label takes 2 lines
        # how a resize fits the diagram again: ("readable", min_scale) or ("all",) after
        # fit_readable or fit, None once the user has zoomed or scrolled by hand
        self._auto_fit: tuple | None = ("readable", self.READABLE_SCALE)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._by_hand)     # dragged, clicked, arrow keys
        self.setBackgroundBrush(QColor(self._pal["background"]))
        # where the view shows the overview only, the detail column lies a scroll to the right:
        # this says so, and goes there
        self.detail_hint = QToolButton(self.viewport(), objectName="detailHint", text="Block detail \u25B8",
                                       autoRaise=False, cursor=Qt.CursorShape.PointingHandCursor)
        self.detail_hint.setToolTip("The selected block's components, shapes and formulas lie to the right: "
                                    "click to scroll there (F fits the whole diagram)")
        self.detail_hint.clicked.connect(self.show_detail)
        self.detail_hint.hide()

    # ------------------------------------------------------------------ public API
    def model(self) -> DiagramModel | None:
        return self._model

    def set_model(self, model: DiagramModel | None, unfolded: bool | None = None) -> None:
        """Draw ``model``. ``unfolded`` None: the model's own ``unfolded`` flag. The selected
        block is kept when the new model has it; the zoom and scroll position are kept.
        An identical model (a workload change that moves no figure in the diagram) redraws
        nothing."""
        if model is not None and model == self._model and (
                unfolded is None or bool(unfolded) == self._unfolded):
            return
        self._model = model
        if unfolded is not None:
            self._unfolded = bool(unfolded)
        elif model is not None:
            self._unfolded = model.unfolded
        if model is not None and (self._selected not in model.blocks):
            self._selected = model.default_block
            self._selected_layer = None
        self._rebuild()

    def is_unfolded(self) -> bool:
        return self._unfolded

    def set_unfolded(self, unfolded: bool) -> None:
        """Show one box per layer (True) or folded runs (False); emits foldToggled on change."""
        unfolded = bool(unfolded)
        if unfolded == self._unfolded:
            return
        self._unfolded = unfolded
        self._rebuild()
        self.foldToggled.emit(unfolded)

    def selected_block(self) -> str | None:
        return self._selected

    def selected_detail(self) -> BlockDetail | None:
        if self._model is None or self._selected is None:
            return None
        return self._model.blocks.get(self._selected)

    def select_block(self, name: str, layer: int | None = None) -> None:
        """Select a block (as a click does): highlight it, draw its detail, emit blockSelected."""
        if self._model is None or name not in self._model.blocks:
            return
        self._selected = name
        self._selected_layer = layer
        self._update_selection()
        self._draw_detail()
        self.blockSelected.emit(name)

    def select_layer(self, index: int) -> None:
        if self._model is None or not 0 <= index < len(self._model.strip):
            return
        self.layerSelected.emit(index)
        self.select_block(self._model.strip[index].block, index)

    def set_theme(self, name: str) -> None:
        """"light" or "dark" (anything else: light)."""
        self._theme = name if name in PALETTES else "light"
        self._pal = PALETTES[self._theme]
        self.setBackgroundBrush(QColor(self._pal["background"]))
        for section in self._sections.values():   # colors are not part of the item keys
            section.clear()
        self._strip_key = None
        self._rebuild()

    def theme(self) -> str:
        return self._theme

    def fit(self) -> None:
        """Everything in view; later resizes keep it so until the user zooms or scrolls."""
        self._auto_fit = ("all",)
        self._fit_all()

    def _fit_all(self) -> None:
        rect = self.scene_rect_for_export()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._clamp_scale()
        self._update_detail_hint()

    def fit_readable(self, min_scale: float | None = None) -> None:
        """Fit everything when the text stays readable (zoom ``min_scale``, default
        READABLE_SCALE); in a narrow view fit the overview and the layer strip instead (their
        full height scrolls), starting at the top left, never below ``min_scale``: what does
        not fit is a scroll away. The detail column is a scroll to the right, and F still fits
        everything. Later resizes fit the same way until the user zooms or scrolls by hand."""
        min_scale = self.READABLE_SCALE if min_scale is None else min_scale
        self._auto_fit = ("readable", min_scale)
        self._fit_readable(min_scale)

    def _fit_readable(self, min_scale: float) -> None:
        whole = self.scene_rect_for_export()
        if whole.isEmpty():
            return
        self._fit_all()
        if self.zoom_factor() >= min_scale:
            return
        left = QRectF(whole.left(), whole.top(), DETAIL_X - 24 - whole.left(), whole.height())
        scale = min(1.0, max(min_scale, self.MIN_SCALE, self.viewport().width() / left.width()))
        self.resetTransform()
        self.scale(scale, scale)
        half_w = self.viewport().width() / (2 * scale)
        half_h = self.viewport().height() / (2 * scale)
        # wider than the view: its left edge (the overview) in view, the strip a scroll away
        x = left.center().x() if half_w * 2 >= left.width() else left.left() + half_w
        self.centerOn(QPointF(x, min(left.top() + half_h, left.center().y())))
        self._update_detail_hint()

    def is_auto_fitted(self) -> bool:
        """True while a resize fits the diagram again (no zoom or scroll by hand since the
        last fit)."""
        return self._auto_fit is not None

    def show_detail(self) -> None:
        """Scroll the selected block's detail column into view, at the zoom the view has."""
        self._by_hand()
        scale = self.zoom_factor() or 1.0
        top = self.mapToScene(0, 0).y()
        self.centerOn(QPointF(DETAIL_X - 24 + self.viewport().width() / (2 * scale),
                              top + self.viewport().height() / (2 * scale)))

    def _update_detail_hint(self) -> None:
        """Show the hint while the detail column starts right of the view (and there is one)."""
        hint = self.__dict__.get("detail_hint")
        if hint is None:
            return
        off = self._model is not None and self.mapFromScene(QPointF(DETAIL_X, 0)).x() > self.viewport().width() - 40
        if off:
            hint.adjustSize()
            hint.move(self.viewport().width() - hint.width() - 8, 8)
        hint.setVisible(off)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt)
        super().scrollContentsBy(dx, dy)
        self._update_detail_hint()

    def _by_hand(self, *_args) -> None:
        """The user zoomed or scrolled: from now on a resize keeps their view."""
        self._auto_fit = None

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        mode = self._auto_fit
        if mode is not None and self._model is not None:
            if mode[0] == "all":
                self._fit_all()
            else:
                self._fit_readable(mode[1])
        self._update_detail_hint()

    def zoom_in(self) -> None:
        self._by_hand()
        self._zoom(self.ZOOM_STEP, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    def zoom_out(self) -> None:
        self._by_hand()
        self._zoom(1 / self.ZOOM_STEP, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    def zoom_factor(self) -> float:
        return self.transform().m11()

    def scene_rect_for_export(self) -> QRectF:
        """Bounding rect of everything drawn, with a margin (for SVG/PNG/PDF export)."""
        rect = self._scene.itemsBoundingRect()
        return rect.adjusted(-16, -16, 16, 16) if not rect.isEmpty() else rect

    def item_for_block(self, name: str) -> QGraphicsPathItem | None:
        """The first overview box of block ``name`` (tests and export use it)."""
        for box in self._boxes:
            if box.block == name:
                return box
        return None

    # ------------------------------------------------------------------ interaction
    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if not delta:
            return super().wheelEvent(event)
        self._by_hand()
        self._zoom(self.ZOOM_STEP ** (delta / 120.0), QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        event.accept()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_F and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.fit()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal) or event.matches(QKeySequence.StandardKey.ZoomIn):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore) or event.matches(QKeySequence.StandardKey.ZoomOut):
            self.zoom_out()
        elif key == Qt.Key.Key_U and not event.modifiers():
            self.set_unfolded(not self._unfolded)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event) -> None:
        self._press_pos = event.position()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if (self._press_pos is not None and event.buttons() & Qt.MouseButton.LeftButton
                and (event.position() - self._press_pos).manhattanLength() > 4):
            self._by_hand()      # a drag pans the view
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        start, self._press_pos = self._press_pos, None
        if start is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if (event.position() - start).manhattanLength() > 4:
            return   # a drag (pan), not a click
        self._click(event.position().toPoint())
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        item = self._hit(event.position().toPoint())
        if item is not None and item.foldable:
            self.set_unfolded(not self._unfolded)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def _hit(self, pos) -> _Hot | None:
        for item in self.items(pos):
            while item is not None and not isinstance(item, _Hot):
                item = item.parentItem()
            if item is not None:
                return item
        return None

    def _click(self, pos) -> None:
        item = self._hit(pos)
        if item is None:
            return
        role = item.role
        if role == "strip":
            top, rh, n = self._strip_geom
            y = self.mapToScene(pos).y()
            index = int((y - top) // rh)
            if 0 <= index < n:
                self.select_layer(index)
        elif role == "block":
            layer = item.layer
            if layer >= 0 and self._unfolded:
                self.layerSelected.emit(layer)
            self.select_block(item.block, layer if layer >= 0 else None)

    def _zoom(self, factor: float, anchor) -> None:
        current = self.transform().m11()
        target = min(self.MAX_SCALE, max(self.MIN_SCALE, current * factor))
        if current <= 0 or abs(target - current) < 1e-9:
            return
        old = self.transformationAnchor()
        self.setTransformationAnchor(anchor)
        self.scale(target / current, target / current)
        self.setTransformationAnchor(old)
        self._update_detail_hint()

    def _clamp_scale(self) -> None:
        s = self.transform().m11()
        if s > self.MAX_SCALE or s < self.MIN_SCALE:
            self._zoom(1.0, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    # ------------------------------------------------------------------ drawing helpers
    def _c(self, key: str) -> QColor:
        return QColor(self._pal.get(key, self._pal["none"]))

    def _fill(self, key: str) -> QColor:
        return _mix(self._c(key), QColor(self._pal["background"]), self._pal["tint"])

    def _text(self, text: str, x: float, y: float, px: float = 12, bold: bool = False,
              color: str = "text", parent: QGraphicsItem | None = None, width: float = 0,
              mono: bool = False) -> QGraphicsSimpleTextItem:
        def make(parent_item: QGraphicsItem) -> QGraphicsSimpleTextItem:
            font = _font(px, bold, mono)
            shown = text
            if width > 0:
                shown = _metrics(px, bold, mono).elidedText(text, Qt.TextElideMode.ElideRight, width)
            item = QGraphicsSimpleTextItem(shown, parent_item)
            item.setFont(font)
            item.setBrush(QColor(self._pal.get(color, color)))
            item.setPos(x, y)
            return item
        return self._section.take(("text", text, x, y, px, bold, color, width, mono), parent, make)

    def _box(self, rect: QRectF, color_key: str, parent: QGraphicsItem | None = None,
             radius: float = 7.0, fill: QColor | None = None, dashed: bool = False,
             width: float = 1.4, hot: bool = False) -> QGraphicsPathItem:
        def make(parent_item: QGraphicsItem) -> QGraphicsPathItem:
            box = (_HotPath if hot else QGraphicsPathItem)(_rounded(rect, radius), parent_item)
            pen = QPen(self._c(color_key), width)
            if dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            box.setPen(pen)
            box.setBrush(QBrush(fill if fill is not None else self._fill(color_key)))
            return box
        key = ("box", rect.getRect(), color_key, radius, fill.rgba() if fill is not None else None,
               dashed, width, hot)
        return self._section.take(key, parent, make)

    def _shape(self, key: tuple, path: QPainterPath, pen: QPen, brush: QBrush | QColor | None = None,
               parent: QGraphicsItem | None = None, z: float = 0.0,
               kind: type = QGraphicsPathItem) -> QGraphicsPathItem:
        """A path item named ``key`` in the current part, set to ``path``, ``pen`` and ``brush``
        (unchanged values cost nothing)."""
        item = self._section.take(("shape", kind, *key), parent, lambda p: kind(p))
        item.setPath(path)
        item.setPen(pen)
        item.setBrush(brush if brush is not None else QBrush(Qt.BrushStyle.NoBrush))
        item.setZValue(z)
        return item

    def _begin(self, name: str) -> _Section:
        self._section = self._sections[name]
        self._section.begin()
        return self._section

    # ------------------------------------------------------------------ the scene
    def _rebuild(self) -> None:
        self._boxes = []
        m = self._model
        if m is None:
            self._strip_key = None
            for section in self._sections.values():
                section.clear()
            self._scene.setSceneRect(QRectF())
            return
        self._begin("header")
        self._text(m.name, 0, -96, 20, bold=True)
        self._text(m.summary.split(": ", 1)[-1], 0, -68, 12, color="muted")
        self._section.end()
        self._begin("overview")
        stack_top, stack_bottom = self._draw_overview(m)
        self._section.end()
        # the strip shows layer kinds only: most edits leave it as it is
        strip_key = (m.strip, m.mixer_categories, m.ffn_categories, stack_top, stack_bottom)
        if strip_key != self._strip_key:
            self._strip_key = strip_key
            self._begin("strip")
            self._draw_strip(m, stack_top, stack_bottom)
            self._section.end()
        self._update_selection()
        self._draw_detail()
        rect = self._scene.itemsBoundingRect().adjusted(-400, -300, 400, 300)
        self._scene.setSceneRect(rect)
        self._update_detail_hint()

    def _draw_overview(self, m: DiagramModel) -> tuple[float, float]:
        items = m.overview_for(self._unfolded)
        self._tabs: dict[str, QPainterPath] = {}
        y = 0.0
        edges = QPainterPath()
        prev_bottom: float | None = None
        prev_item: OverviewItem | None = None
        stack_top = stack_bottom = None
        cx = OVERVIEW_W / 2
        compact = self._unfolded and sum(1 for it in items if it.kind == "layer") > 24
        # blocks whose compact label is too long for one line (on any of their layers, so that
        # the layers of one block look alike): two lines each
        fm = _metrics(12, True)
        self._two_line_blocks = {it.block for it in items if compact and it.kind == "layer" and
                                 fm.horizontalAdvance(self._compact_label(it)[0]) > OVERVIEW_W - 62}
        for it in items:
            if prev_bottom is not None:
                gap = EDGE_GAP if not (compact and it.kind == prev_item.kind == "layer") else 10.0
                y = prev_bottom + gap
                self._arrow(edges, cx, prev_bottom, y)
                if gap == EDGE_GAP and prev_item.out_shape:
                    self._text(prev_item.out_shape, cx + 10, prev_bottom + gap / 2 - 8, 11,
                               color="muted", mono=True)
            elif it.in_shape:
                self._text(it.in_shape, cx + 10, y - 26, 11, color="muted", mono=True)
                self._arrow(edges, cx, y - 30, y)
            is_stack = it.kind in ("run", "repeat", "layer")
            if is_stack and stack_top is None:
                stack_top = y
            if it.kind == "repeat":
                h = self._draw_repeat(it, y)
            elif it.kind == "layer" and compact:
                h = self._draw_layer_compact(it, y)
            else:
                h = self._draw_item(it, y)
            if is_stack:
                stack_bottom = y + h
            prev_bottom, prev_item = y + h, it
        if prev_item is not None and prev_item.out_shape:
            self._arrow(edges, cx, prev_bottom, prev_bottom + 30)
            self._text(prev_item.out_shape, cx + 10, prev_bottom + 8, 11, color="muted", mono=True)
        self._shape(("edges",), edges, QPen(self._c("edge"), 1.4), z=0.5)
        for ffn, path in self._tabs.items():
            tabs = self._shape(("tabs", ffn), path, QPen(Qt.PenStyle.NoPen), self._c(ffn), z=1)
            tabs.setToolTip(CATEGORY_LABELS.get(ffn, ffn))
        if stack_top is None:
            stack_top = stack_bottom = 0.0
        return stack_top, stack_bottom

    @staticmethod
    def _arrow(path: QPainterPath, x: float, y0: float, y1: float) -> None:
        path.moveTo(x, y0)
        path.lineTo(x, y1 - 1)
        path.moveTo(x - 4.5, y1 - 7)
        path.lineTo(x, y1 - 1)
        path.lineTo(x + 4.5, y1 - 7)

    def _color_key(self, it: OverviewItem) -> str:
        return it.mixer if it.kind in ("run", "layer", "repeat") else it.kind

    def _mark_block(self, box: QGraphicsItem, block: str, layer: int, foldable: bool,
                    tooltip: str) -> None:
        box.role, box.block, box.layer, box.foldable = "block", block, layer, foldable
        box.setToolTip(tooltip + ("\nDouble-click to unfold" if foldable and not self._unfolded
                                  else "\nDouble-click to fold" if foldable else ""))
        box.setCursor(Qt.CursorShape.PointingHandCursor)
        self._boxes.append(box)

    def _ffn_badge(self, parent: QGraphicsItem, ffn: str, x: float, y: float) -> None:
        if ffn == "none":
            return
        label = FFN_TAB_LABELS.get(ffn, ffn)
        w = 46.0 if ffn == "moe" else 52.0
        badge = self._box(QRectF(x - w, y, w, 20), ffn, parent, radius=10,
                          fill=self._c(ffn), width=1.0)
        t = self._text(label, 0, 0, 11, bold=True, color="background", parent=badge)
        t.setPos(x - w + (w - t.boundingRect().width()) / 2, y + 3)

    def _draw_item(self, it: OverviewItem, y: float) -> float:
        """A box as tall as its text: lines too long for it wrap (never elided mid-number)."""
        is_block = it.kind in ("run", "layer")
        title_w = OVERVIEW_W - 24 - (60 if is_block else 0)
        titles = _label_lines(it.title, 14, title_w, True)
        lines = [ln for line in it.lines for ln in _label_lines(line, 12, OVERVIEW_W - 24)]
        top = y + 33 + 18 * (len(titles) - 1)      # of the first line under the title
        h = top - y + 17 * len(lines) + 6
        key = self._color_key(it)
        box = self._box(QRectF(0, y, OVERVIEW_W, h), key, hot=is_block)
        for i, title in enumerate(titles):
            self._text(title, 12, y + 10 + 18 * i, 14, bold=True, parent=box)
        for i, line in enumerate(lines):
            self._text(line, 12, top + 17 * i, 12, color="muted", parent=box)
        if is_block:
            self._ffn_badge(box, it.ffn, OVERVIEW_W - 10, y + 9)
            self._mark_block(box, it.block, it.first if it.kind == "layer" else -1,
                             it.folded or it.kind == "layer", it.tooltip)
        elif it.tooltip:
            box.setToolTip(it.tooltip)
        return h

    @staticmethod
    def _compact_label(it: OverviewItem) -> tuple[str, str]:
        params = it.lines[1].split("/layer")[0] if len(it.lines) > 1 else ""
        return f"{it.title}   {params}", params

    def _draw_layer_compact(self, it: OverviewItem, y: float) -> float:
        """Unfolded stacks of many layers: one box and one text per layer; the FFN tabs of all
        layers go into one path per color (see _draw_overview)."""
        label, params = self._compact_label(it)
        width = OVERVIEW_W - 62
        one_line = it.block not in self._two_line_blocks
        h = 26.0 if one_line else 42.0        # too long: the parameters on a line of their own
        box = self._box(QRectF(0, y, OVERVIEW_W, h), it.mixer, radius=5, hot=True)
        if one_line:
            self._text(label, 10, y + 5, 12, bold=True, parent=box)
        else:
            self._text(it.title, 10, y + 5, 12, bold=True, parent=box, width=width)
            self._text(params, 10, y + 22, 11, color="muted", parent=box, width=width)
        if it.ffn != "none":
            self._tabs.setdefault(it.ffn, QPainterPath()).addRoundedRect(
                QRectF(OVERVIEW_W - 44, y + 5, 36, h - 10), 6, 6)
            # the tab says what its colour means; over the tab paths (z 1), so not a child of the box
            # (placed by its own position, so a redraw finds the same item in the same place)
            text = FFN_TAB_LABELS.get(it.ffn, it.ffn)
            metrics = _metrics(9, True)
            label = self._text(text, OVERVIEW_W - 26 - metrics.horizontalAdvance(text) / 2,
                               y + (h - metrics.height()) / 2, 9, bold=True, color="background")
            label.setZValue(2)
        self._mark_block(box, it.block, it.first, True, it.tooltip)
        return h

    def _draw_repeat(self, it: OverviewItem, y: float) -> float:
        """The period's blocks, each as tall as its text, inside one dashed box."""
        gap, head = 6.0, 34.0
        text_w = OVERVIEW_W - 110          # left of the FFN badge
        inner = []
        for run in it.runs:
            detail = self._model.blocks[run.block]
            title = f"{run.block}  x{run.count}" if run.count > 1 else run.block
            titles = _label_lines(title, 13, text_w, True)
            lines = _label_lines(detail.title, 11, text_w)
            inner_h = 21 + 17 * (len(titles) - 1) + 15 * len(lines) + 4     # 40: one line each
            inner.append((run, detail, titles, lines, inner_h))
        h = head + sum(ih + gap for *_, ih in inner) + 8 + 17 * len(it.lines) + 6
        outer = self._box(QRectF(0, y, OVERVIEW_W, h), "edge",
                          fill=QColor(self._pal["panel"]), dashed=True, hot=True)
        outer.role, outer.foldable = "repeat", True
        outer.setToolTip(it.tooltip + "\nDouble-click to unfold")
        self._text(f"× {it.repeat}", OVERVIEW_W - 56, y + 6, 18, bold=True, parent=outer)
        self._text("repeating period", 12, y + 10, 13, bold=True, parent=outer,
                   color="muted")
        yy = y + head
        for run, detail, titles, lines, inner_h in inner:
            box = self._box(QRectF(12, yy, OVERVIEW_W - 24, inner_h), detail.mixer, outer, hot=True)
            for i, title in enumerate(titles):
                self._text(title, 22, yy + 4 + 17 * i, 13, bold=True, parent=box)
            top = yy + 21 + 17 * (len(titles) - 1)
            for i, line in enumerate(lines):
                self._text(line, 22, top + 15 * i, 11, color="muted", parent=box)
            self._ffn_badge(box, detail.ffn, OVERVIEW_W - 20, yy + 10)
            self._mark_block(box, run.block, -1, True, f"{run.block} x{run.count}: {detail.title}")
            yy += inner_h + gap
        yy += 4
        for i, line in enumerate(it.lines):
            self._text(line, 12, yy + 17 * i, 12, color="muted", parent=outer,
                       width=OVERVIEW_W - 24)
        return h

    # ---- per-layer strip
    def _draw_strip(self, m: DiagramModel, top: float, bottom: float) -> None:
        n = len(m.strip)
        if not n:
            return
        avail = max(bottom - top, 360.0)
        rh = max(3.0, min(18.0, avail / n))
        gap = 1.0 if rh >= 5 else 0.0
        self._strip_geom = (top, rh, n)
        x0, x1 = STRIP_X, STRIP_X + CELL_W + 4
        self._text("Layers", x0 - 2, top - 40, 12, bold=True)
        for label, x in (("mix", x0), ("FFN", x1)):
            t = self._text(label, x, top - 20, 11, color="muted")
            t.setX(x + (CELL_W - t.boundingRect().width()) / 2)
        paths: dict[tuple[str, float], QPainterPath] = {}
        for e in m.strip:
            y = top + e.layer * rh
            for key, x in ((e.mixer, x0), (e.ffn, x1)):
                if key == "none":
                    continue
                p = paths.setdefault((key, x), QPainterPath())
                p.addRect(QRectF(x, y, CELL_W, rh - gap))
        merged: dict[str, QPainterPath] = {}
        for (key, _x), p in paths.items():
            merged.setdefault(key, QPainterPath()).addPath(p)
        for key, p in merged.items():
            self._shape(("cells", key), p, QPen(Qt.PenStyle.NoPen), self._c(key))
        # layer labels at a readable spacing
        step = 1
        for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
            step = s
            if s * rh >= 20:
                break
        lx = x1 + CELL_W + 6
        for i in range(0, n, step):
            self._text(m.strip[i].label, lx, top + i * rh + rh / 2 - 7, 11, color="muted")
        if (n - 1) % step and (n - 1) * rh - ((n - 1) // step * step) * rh >= 20:
            self._text(m.strip[-1].label, lx, top + (n - 1) * rh + rh / 2 - 7, 11, color="muted")
        hit_area = QPainterPath()
        hit_area.addRect(QRectF(x0 - 2, top, 2 * CELL_W + 8, n * rh))
        hit = self._shape(("hit",), hit_area, QPen(Qt.PenStyle.NoPen), kind=_HotPath)
        hit.role = "strip"
        hit.setToolTip("Click a layer to show its block")
        hit.setCursor(Qt.CursorShape.PointingHandCursor)
        self._strip_sel = self._shape(("selection",), QPainterPath(), QPen(self._c("selected"), 2.0),
                                      z=5)
        # legend
        ly = top + n * rh + 22
        self._text("Legend", x0 - 4, ly, 12, bold=True)
        ly += 20
        for key in m.mixer_categories + m.ffn_categories:
            if key == "none":
                continue
            swatch = QPainterPath()
            swatch.addRect(QRectF(x0 - 4, ly + 2, 13, 13))
            self._shape(("swatch", key), swatch, QPen(Qt.PenStyle.NoPen), self._c(key))
            self._text(CATEGORY_LABELS.get(key, key), x0 + 15, ly, 12)
            ly += 19

    # ---- selection and detail
    def _update_selection(self) -> None:
        sel = self._selected
        for box in self._boxes:
            on = box.block == sel and (not self._unfolded or self._selected_layer is None
                                       or box.layer == self._selected_layer)
            base = self._c(self._model.blocks[box.block].mixer) if self._model else self._c("edge")
            box.setPen(QPen(self._c("selected") if on else base, 3.0 if on else 1.4))
        if self._strip_sel is not None and self._model is not None:
            top, rh, n = self._strip_geom
            p = QPainterPath()
            x = STRIP_X - 3
            w = 2 * CELL_W + 10
            start = None
            for e in self._model.strip + [None]:
                hit = e is not None and e.block == sel
                if hit and start is None:
                    start = e.layer
                elif not hit and start is not None:
                    end = e.layer if e is not None else n
                    p.addRect(QRectF(x, top + start * rh - 1, w, (end - start) * rh + 1))
                    start = None
            self._strip_sel.setPath(p)

    def _draw_detail(self) -> None:
        section = self._begin("detail")
        try:
            self._draw_detail_items()
        finally:
            section.end()

    def _draw_detail_items(self) -> None:
        d = self.selected_detail()
        if d is None:
            return
        root = self._section.root
        x, w = DETAIL_X, DETAIL_W
        y = 0.0
        # header
        header_lines = [d.title, f"{d.params_text} params/layer · {len(d.layers)} layer"
                        f"{'s' if len(d.layers) != 1 else ''}",
                        dict(d.properties).get("Weights / layer", "").split(" (")[0] + " weights/layer",
                        d.cache_text]
        head = self._box(QRectF(x, y, w, 10), d.mixer, root, fill=QColor(self._pal["panel"]),
                         width=2.0)
        self._text(f"Block  {d.name}", x + 12, y + 10, 16, bold=True, parent=head, width=w - 24)
        ly = y + 36
        for line in header_lines:
            ly += self._wrapped(head, line, x + 12, ly, w - 24, px=12, line_h=17)
        hh = ly - y + 8
        head.setPath(_rounded(QRectF(x, y, w, hh)))
        y += hh + 8
        self._text(f"in  {d.in_shape}", x + w / 2 + 10, y, 11, color="muted", parent=root, mono=True)
        edges = QPainterPath()
        cx = x + w / 2
        y += 22
        anchors: dict[str, float] = {}
        for comp in d.components:
            if comp.kind == "residual":
                r = 9.0
                p = QPainterPath()
                p.addEllipse(QPointF(cx, y + r), r, r)
                p.moveTo(cx - 5, y + r)
                p.lineTo(cx + 5, y + r)
                p.moveTo(cx, y + r - 5)
                p.lineTo(cx, y + r + 5)
                circle = self._shape(("residual", y), p, QPen(self._c("residual"), 1.4),
                                     QColor(self._pal["background"]), root)
                circle.setToolTip(comp.formula)
                self._text("residual add", cx + 16, y + 2, 11, color="muted", parent=root)
                edges.moveTo(cx, y - 10)
                edges.lineTo(cx, y)
                y += 2 * r + 10
                continue
            key = {"norm": "norm", "mixer": d.mixer, "ffn": d.ffn}.get(comp.group, "none")
            if comp.kind in ("shared_experts",):
                key = "dense"
            h = 40.0
            box = self._box(QRectF(x, y, w, h), key, root, radius=5)
            box.setToolTip(comp.formula)
            name_w = w - 24 - (70 if comp.params else 0)
            self._text(comp.name, x + 10, y + 4, 13, bold=True, parent=box, width=name_w)
            if comp.params:
                t = self._text(comp.params_text, 0, y + 4, 13, bold=True, parent=box)
                t.setPos(x + w - 10 - t.boundingRect().width(), y + 4)
            self._text(comp.shape, x + 10, y + 21, 11, color="muted", parent=box, width=w - 20)
            edges.moveTo(cx, y - 10)
            edges.lineTo(cx, y)
            if comp.kind in ("attention", "experts", "recurrence", "cache") and comp.kind not in anchors:
                anchors[comp.kind] = y
            y += h + 10
        self._text(f"out  {d.out_shape}", x + w / 2 + 10, y - 6, 11, color="muted", parent=root,
                   mono=True)
        self._shape(("edges",), edges, QPen(self._c("edge"), 1.2), parent=root, z=-1)
        # illustrations beside the components
        iy = anchors.get("attention", anchors.get("recurrence", anchors.get("cache", 0.0)))
        if d.head_grouping is not None:
            self._draw_heads(root, d, max(iy - 60, 0.0))
        if d.experts is not None and "experts" in anchors:
            self._draw_experts(root, d, anchors["experts"] - 30)
        notes = [t for t in (d.window_text, d.latent_text, d.recurrence_text) if t]
        if notes and not d.head_grouping:
            ny = iy
            for t in notes:
                self._wrapped(root, t, ILLUSTRATION_X, ny, ILLUSTRATION_W)
                ny += 40

    def _wrapped(self, parent: QGraphicsItem, text: str, x: float, y: float, width: float,
                 px: float = 11, color: str = "muted", line_h: float = 0) -> float:
        """Simple greedy word wrap into several text items; returns the height used."""
        lines = _wrap(text, px, width)
        step = line_h or px + 4
        for i, ln in enumerate(lines[:4]):
            self._text(ln, x, y + i * step, px, color=color, parent=parent)
        return min(len(lines), 4) * step

    def _draw_heads(self, root: QGraphicsItem, d: BlockDetail, y: float) -> None:
        g = d.head_grouping
        x, w = ILLUSTRATION_X, ILLUSTRATION_W
        title = {"MLA": "MLA: heads read one shared latent",
                 "linear": "value heads and their q/k heads",
                 "cross": "text query heads and the image's KV heads"}.get(g.kind, f"{g.kind} head grouping")
        self._text(title, x, y, 12, bold=True, parent=root)
        y += 20
        y += self._wrapped(root, g.text, x, y, w) + 6
        sq, pitch = 12.0, 18.0
        nq = min(g.query_heads, MAX_DRAWN_HEADS)
        q_path, kv_path, wires = QPainterPath(), QPainterPath(), QPainterPath()
        qy, ky = y + 14, y + 70
        self._text("query" if g.kind != "linear" else "value", x, y, 11, color="muted", parent=root)
        for i in range(nq):
            q_path.addRect(QRectF(x + 46 + i * pitch, qy, sq, sq))
        if g.query_heads > nq:
            self._text(f"… {g.query_heads}", x + 46 + nq * pitch, qy - 2, 12, color="muted",
                       parent=root)
        if g.kind == "MLA":
            lw = nq * pitch - (pitch - sq)
            kv_path.addRect(QRectF(x + 46, ky, lw, sq + 4))
            for i in range(nq):
                wires.moveTo(x + 46 + i * pitch + sq / 2, qy + sq)
                wires.lineTo(x + 46 + i * pitch + sq / 2, ky)
            if d.latent_dims:
                kv, rope = d.latent_dims
                self._text(f"cached latent {kv} + rope key {rope}", x + 46, ky + 22, 11,
                           color="muted", parent=root)
            self._text("latent", x, ky + 1, 11, color="muted", parent=root)
        else:
            per = max(g.per_group, 1)
            n_kv_drawn = (nq + per - 1) // per
            self._text("KV" if g.kind != "linear" else "q/k", x, ky - 1, 11, color="muted",
                       parent=root)
            for j in range(n_kv_drawn):
                first, last = j * per, min(nq, (j + 1) * per) - 1
                kx = x + 46 + ((first + last) / 2) * pitch
                kv_path.addRect(QRectF(kx, ky, sq, sq))
                for i in range(first, last + 1):
                    wires.moveTo(x + 46 + i * pitch + sq / 2, qy + sq)
                    wires.lineTo(kx + sq / 2, ky)
            if g.kv_heads > n_kv_drawn:
                self._text(f"… {g.kv_heads}", x + 46 + nq * pitch, ky - 2, 12, color="muted",
                           parent=root)
        mixer = self._c(d.mixer)
        self._shape(("wires",), wires, QPen(self._c("edge"), 1.0), parent=root)
        self._shape(("query heads",), q_path, QPen(mixer.darker(130), 1.0), mixer, root)
        self._shape(("kv heads",), kv_path, QPen(mixer.darker(130), 1.0),
                    _mix(mixer, QColor(self._pal["text"]), 0.35), root)
        y = ky + 44
        for t in (d.window_text, d.latent_text if g.kind != "MLA" else "", d.recurrence_text):
            if t:
                y += self._wrapped(root, t, x, y, w) + 6

    def _draw_experts(self, root: QGraphicsItem, d: BlockDetail, y: float) -> None:
        e = d.experts
        x, w = ILLUSTRATION_X, ILLUSTRATION_W
        self._text(f"Router: top-{e.top_k} of {e.experts} experts", x, y, 12, bold=True, parent=root)
        y += 20
        n = min(e.experts, MAX_DRAWN_EXPERTS)
        per_row = 16
        sq, pitch = 12.0, 17.0
        active, idle, shared = QPainterPath(), QPainterPath(), QPainterPath()
        for i in range(n):
            r, c = divmod(i, per_row)
            rect = QRectF(x + c * pitch, y + r * pitch, sq, sq)
            (active if i < e.top_k else idle).addRect(rect)
        rows = (n + per_row - 1) // per_row
        if e.experts > n:
            self._text(f"… {e.experts} in all", x, y + rows * pitch, 11, color="muted", parent=root)
            rows += 1
        y += rows * pitch + 4
        if e.shared:
            self._text("shared", x, y, 11, color="muted", parent=root)
            for i in range(min(e.shared, per_row)):
                shared.addRect(QRectF(x + 52 + i * pitch, y + 1, sq, sq))
            y += pitch + 4
        for name, path, key, alpha in (("idle", idle, "moe", 0.75), ("active", active, "moe", 0.0),
                                       ("shared", shared, "dense", 0.0)):
            color = self._c(key)
            self._shape((name, "experts"), path, QPen(color.darker(125), 1.0),
                        _mix(color, QColor(self._pal["background"]), alpha), root)
        self._text(f"filled: {e.top_k} routed per token (illustrative)", x, y, 11, color="muted",
                   parent=root)
        y += 18
        for t in (d.experts_text, d.shared_text):
            if t:
                y += self._wrapped(root, t, x, y, w) + 4


# not after "(" or ",": a line ending "latent (" or "15," reads badly
_BREAK_AFTER = str.maketrans({c: c + "\u200b" for c in "+*/=>"})
# component names ("shared_expert_gate", "post_attn_norm") may wrap after "_" too
_BREAK_NAME = str.maketrans({"_": "_\u200b"})


def breakable(text: str) -> str:
    """``text`` with a zero-width space after each operator, where a narrow cell may wrap a
    formula that has no spaces ("heads*(qk_nope+qk_rope)"), and after each "_" of a long name
    ("shared_expert_gate:"); Qt wraps only at break opportunities."""
    text = text.translate(_BREAK_AFTER)
    if "_" not in text:
        return text
    return " ".join(word.translate(_BREAK_NAME) if len(word) >= 16 and "\u200b" not in word
                    else word for word in text.split(" "))


def breakable_name(text: str) -> str:
    """A property or component name with a break opportunity after each "_"."""
    return text.translate(_BREAK_NAME)


class _PaddedDelegate(QStyledItemDelegate):
    """Cells with room around their text: ``PAD_X`` beside it (on top of the style's own text
    margin) and ``PAD_Y`` above and below, so wrapped lines never touch the grid."""

    PAD_X, PAD_Y = 2, 3

    def sizeHint(self, option, index):  # noqa: N802 (Qt)
        inner = QStyleOptionViewItem(option)
        rect = option.rect
        table = option.widget
        span = table.columnSpan(index.row(), index.column()) if table is not None else 1
        if span > 1:        # the view measures a spanning cell at its first column's width
            width = table.visualRect(index).width() - (1 if table.showGrid() else 0)
            rect = QRect(rect.x(), rect.y(), width, rect.height())
        inner.rect = rect.adjusted(0, 0, -2 * self.PAD_X, 0)   # the width text wraps in
        size = super().sizeHint(inner, index)
        return QSize(size.width() + 2 * self.PAD_X, size.height() + 2 * self.PAD_Y)

    def paint(self, painter, option, index) -> None:
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        full = QStyleOptionViewItem(option)
        self.initStyleOption(full, index)
        # the selection and background over the whole cell, the text inside the padding
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, full, painter, widget)
        inner = QStyleOptionViewItem(option)
        inner.rect = option.rect.adjusted(self.PAD_X, 0, -self.PAD_X, 0)
        super().paint(painter, inner, index)


class BlockPropertiesPanel(QWidget):
    """The selected block's properties and the formula of each component's parameter count.

    The two columns share the table's width so that nothing is clipped: the value column gets
    its header and its widest unbreakable piece of text ("(11,507,286,272)") and, in a narrow
    panel, most of the width; the property column is as wide as its longest name where there
    is room, else its names wrap. Only a panel narrower than both minimums scrolls sideways."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("blockProperties")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel("Click a block in the diagram", objectName="blockPropertiesTitle")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.table = steady_scroll_bars(QTableWidget(0, 2, objectName="blockPropertiesTable"))
        self.table.setHorizontalHeaderLabels(["Property", "Value / formula"])
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)    # multi-line rows stay apart in both themes
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setItemDelegate(_PaddedDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setTextElideMode(Qt.TextElideMode.ElideNone)
        for column in (0, 1):                       # set by _fit_columns
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        layout.addWidget(self.table, 1)
        self._detail: BlockDetail | None = None
        self._widths: tuple[int, int, int] = (0, 0, 0)   # property: longest, least; value: least
        self._width_cache: dict[tuple[str, bool], tuple[int, int]] = {}
        self._fitting = False
        self._relayout = QTimer(self, singleShot=True, interval=0)
        self._relayout.timeout.connect(self.table.resizeRowsToContents)
        header.sectionResized.connect(
            lambda index, _old, _new: self._rows_stale() if not self._fitting else None)
        self.table.viewport().installEventFilter(self)
        self._measure()
        self._fit_columns()

    def detail(self) -> BlockDetail | None:
        return self._detail

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange,
                            QEvent.Type.PaletteChange):
            self._width_cache.clear()
            self._measure()
            self._fit_columns()
            self._rows_stale()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.Resize and watched is self.table.viewport():
            self._fit_columns()
        return super().eventFilter(watched, event)

    def _rows_stale(self) -> None:
        """Every row's height again (a column's width or the font changed): after the pending
        layout, at most once per burst of changes."""
        if not self._relayout.isActive():
            self._relayout.start()

    def _text_margin(self) -> int:
        """What a cell's width adds to the width of its widest line: the style's text margins,
        the delegate's padding and the grid line."""
        style = self.table.style()
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self.table) + 1
        return 2 * (margin + _PaddedDelegate.PAD_X) + (1 if self.table.showGrid() else 0)

    def _measure(self) -> None:
        """The widths the columns need for the texts shown (see the class docstring)."""
        header = self.table.horizontalHeader()
        style = header.style()
        header_margin = 2 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header) + 4
        header_fm = header.fontMetrics()
        longest = least_key = header_fm.horizontalAdvance("Property") + header_margin
        least_value = header_fm.horizontalAdvance("Value / formula") + header_margin
        margin = self._text_margin()
        for r in range(self.table.rowCount()):
            if self.table.columnSpan(r, 0) > 1:     # a heading across both columns
                continue
            for column in (0, 1):
                item = self.table.item(r, column)
                if item is None:
                    continue
                widest, whole = self._text_widths(item.text(), item.font().bold())
                if column == 0:
                    longest = max(longest, whole + margin)
                    least_key = max(least_key, widest + margin)
                else:
                    least_value = max(least_value, widest + margin)
        self._widths = (longest, least_key, least_value)

    def _text_widths(self, text: str, bold: bool) -> tuple[int, int]:
        """The widest piece of ``text`` that Qt cannot wrap (between spaces, zero-width spaces,
        hyphens...: Qt's own line breaking, laid out one piece a line) and its widest line."""
        key = (text, bold)
        widths = self._width_cache.get(key)
        if widths is None:
            if len(self._width_cache) > 4096:     # texts of earlier edits
                self._width_cache.clear()
            font = self.table.font()
            font.setBold(bold)
            fm = QFontMetrics(font)
            flags = int(Qt.TextFlag.TextWordWrap.value)
            widest = fm.boundingRect(QRect(0, 0, 1, 1 << 20), flags, text).width()
            whole = fm.boundingRect(QRect(0, 0, 1 << 20, 1 << 20), 0, text).width()
            widths = self._width_cache[key] = (widest, whole)
        return widths

    def _fit_columns(self) -> None:
        """Share the viewport's width between the columns (see the class docstring)."""
        longest, least_key, least_value = self._widths
        avail = self.table.viewport().width()
        roomy = max(least_value, 150)
        if avail - longest >= roomy:
            key = longest
        else:    # names wrap; the values get 60% or what they need
            key = max(least_key, min(longest, avail - max(least_value, round(0.6 * avail))))
        value = max(least_value, avail - key)
        if (self.table.columnWidth(0), self.table.columnWidth(1)) == (key, value):
            return
        self._fitting = True
        try:
            self.table.setColumnWidth(0, key)
            self.table.setColumnWidth(1, value)
        finally:
            self._fitting = False
        self._rows_stale()

    def clear(self) -> None:
        self._detail = None
        self.title.setText("Click a block in the diagram")
        self.table.setRowCount(0)

    def show_block(self, detail: BlockDetail | None) -> None:
        if detail is None:
            self.clear()
            return
        if detail == self._detail:
            return
        self._detail = detail
        title = f"{detail.name}: {detail.title}"
        if self.title.text() != title:   # a label's setText re-lays out (and repaints) its tab
            self.title.setText(title)
        rows: list[tuple[str, str, bool]] = [(k, v, False) for k, v in detail.properties]
        # the components' heading: one bold row across both columns
        rows.append(("Components: shape · parameters · formula", "", True))
        for comp in detail.components:
            if comp.kind == "residual":
                continue
            value = "  ·  ".join(t for t in (comp.shape, comp.params_text) if t)
            if comp.formula:
                value = f"{value}\n{comp.formula}" if value else comp.formula
            rows.append((comp.name, value, False))
        # no setUpdatesEnabled(False/True) around this: re-enabling repaints the whole table
        # and its scroll bars, where changed texts repaint only their cells
        if self.table.rowCount() != len(rows):
            self.table.setRowCount(len(rows))
        changed = []
        for r, (key, value, header) in enumerate(rows):
            k, v = self.table.item(r, 0), self.table.item(r, 1)
            if k is None:      # items are reused: creating them is the slow part
                k, v = QTableWidgetItem(), QTableWidgetItem()
                self.table.setItem(r, 0, k)
                self.table.setItem(r, 1, v)
            shown_key = breakable_name(key)
            if k.text() != shown_key or k.font().bold() != header:
                k.setText(shown_key)
                k.setToolTip(key)
                f = k.font()
                f.setBold(header)
                k.setFont(f)
                v.setFont(f)
                changed.append(r)
            shown = breakable(value)
            if v.text() != shown:
                v.setText(shown)
                v.setToolTip(value)
                changed.append(r)
            span = 2 if header else 1
            if self.table.columnSpan(r, 0) != span:
                self.table.setSpan(r, 0, 1, span)
                changed.append(r)
        self._measure()
        self._fit_columns()      # new column widths: every row again, after the pending layout
        if not self._relayout.isActive():
            for r in sorted(set(changed)):
                self.table.resizeRowToContents(r)
