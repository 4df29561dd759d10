"""The metrics panel: rows prepared by models.metrics (value, formula tooltip, delta), a memory
bar against device capacity, and a fits / does-not-fit badge. Displays only."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from .palette import MEMORY_BAR_COLORS


def _set_text(label: QLabel, text: str) -> None:
    """Relabelling re-lays out and repaints: skip labels whose text did not change."""
    if label.text() != text:
        label.setText(text)


LABEL_PX = 96      # a figure's name wider than this takes two lines (the dock must fit 1024 px screens)


def _two_lines(label: QLabel, text: str) -> str:
    """``text`` in two lines where wider than LABEL_PX, broken where the wider line is narrowest
    (keeping "(...)" whole when that costs a few pixels at most). A hard break, not word wrap: a
    word-wrapped label makes the grid lay out by height-for-width on every figure's change."""
    width = label.fontMetrics().horizontalAdvance
    if width(text) <= LABEL_PX or " " not in text:
        return text
    cut = min((i for i, c in enumerate(text) if c == " "),
              key=lambda i: max(width(text[:i]), width(text[i + 1:])) - (12 if text[i + 1] == "(" else 0))
    return text[:cut] + "\n" + text[cut + 1:]


def _set_style(widget: QWidget, sheet: str) -> None:
    """Style sheets are costly to re-apply (a full re-polish); only set them when they change."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


class MemoryBar(QWidget):
    """Stacked bar of memory per device against capacity."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("memoryBar")
        self.setMinimumHeight(22)
        self._parts: list[tuple[str, float]] = []
        self._capacity = 1.0

    def set_parts(self, parts: list[tuple[str, float]], capacity: float) -> None:
        self._parts, self._capacity = parts, max(capacity, 1.0)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        w, h = self.width() - 2, self.height() - 2
        total = sum(v for _, v in self._parts)
        scale = w / max(total, self._capacity)
        x = 1.0
        for name, value in self._parts:
            width = value * scale
            p.fillRect(QRectF(x, 1, width, h), QColor(MEMORY_BAR_COLORS.get(name, "#888")))
            x += width
        cap_x = 1 + self._capacity * scale
        p.setPen(QColor("#c62828") if total > self._capacity else QColor("#2e7d32"))
        p.drawLine(int(cap_x), 0, int(cap_x), h + 2)
        p.setPen(self.palette().text().color())
        p.drawRect(QRectF(1, 1, w, h))
        p.end()


class MetricsPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("metricsPanel")
        self._layout = QVBoxLayout(self)
        self.fits = QLabel(objectName="fitsLabel")
        self.fits.setAlignment(Qt.AlignCenter)
        self.fits.setStyleSheet("font-weight: bold; padding: 4px; border-radius: 4px;")
        # wrapped: a longer verdict ("Does not fit: 157.09 GiB needed, ...") widened the whole dock
        self.fits.setWordWrap(True)
        self._layout.addWidget(self.fits)
        self.bar = MemoryBar()
        self._layout.addWidget(self.bar)
        self.legend = QLabel(objectName="memoryLegend")
        self.legend.setTextFormat(Qt.RichText)
        self._layout.addWidget(self.legend)
        self._groups: dict[str, QGridLayout] = {}
        self._boxes: dict[str, QGroupBox] = {}
        self._values: dict[str, QLabel] = {}
        self._deltas: dict[str, QLabel] = {}
        self._labels: dict[str, QLabel] = {}
        self._label_texts: dict[str, str] = {}     # each label's unsplit text, as last set
        self._layout.addStretch(1)

    def _ensure_row(self, row) -> None:
        if row.key in self._values:
            return
        grid = self._groups.get(row.group)
        if grid is None:
            box = QGroupBox(row.group)
            grid = QGridLayout(box)
            self._layout.insertWidget(self._layout.count() - 1, box)
            self._groups[row.group], self._boxes[row.group] = grid, box
        r = grid.rowCount()
        label = QLabel()
        value = QLabel(objectName=row.key)
        value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        # fixed column widths: a changed figure must not re-lay out (and repaint) the whole dock
        value.setMinimumWidth(96)         # "108.95 GFLOP" is 85 px
        value.setTextInteractionFlags(Qt.TextSelectableByMouse)
        delta = QLabel(objectName=f"{row.key}Delta")
        delta.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        delta.setMinimumWidth(140)         # "+200 TFLOP (+59.8%)" is 125 px
        grid.addWidget(label, r, 0)
        grid.addWidget(value, r, 1)
        grid.addWidget(delta, r, 2)
        self._labels[row.key], self._values[row.key], self._deltas[row.key] = label, value, delta

    def set_rows(self, rows, fits: bool, parts: list[tuple[str, float]], capacity: float,
                 fits_text: str) -> None:
        for row in rows:
            self._ensure_row(row)
            if self._label_texts.get(row.key) != row.label:   # measuring text costs ~0.1 ms a label
                self._label_texts[row.key] = row.label
                _set_text(self._labels[row.key], _two_lines(self._labels[row.key], row.label))
            value = self._values[row.key]
            _set_text(value, row.text)
            _set_style(value, "color: #8a8d91; font-style: italic;" if row.hypothetical else "")
            value.setToolTip(row.tooltip)
            self._labels[row.key].setToolTip(row.tooltip)
            delta = self._deltas[row.key]
            _set_text(delta, row.delta_text)
            if row.delta_text:
                worse = row.delta_text.startswith("+") == row.better_lower
                _set_style(delta, f"color: {'#c62828' if worse else '#2e7d32'};")
        hypothetical = {row.group for row in rows if row.hypothetical}
        for group, box in self._boxes.items():
            title = f"{group} (if it fit)" if group in hypothetical else group
            if box.title() != title:
                box.setTitle(title)
        _set_text(self.fits, fits_text)
        self.fits.setProperty("fits", fits)
        _set_style(self.fits, "font-weight: bold; padding: 4px; border-radius: 4px; color: white; "
                              f"background: {'#2e7d32' if fits else '#c62828'};")
        self.bar.set_parts(parts, capacity)
        _set_text(self.legend, " ".join(
            f"<span style='color:{MEMORY_BAR_COLORS[k]}'>■</span> {k}" for k, _ in parts))

    def value_text(self, key: str) -> str:
        return self._values[key].text()
