"""Qt containers that repaint only what changed.

On a knob change only a few labels and diagram items change, but Qt's containers answer the
layout requests those labels send by laying out and repainting themselves in full: a scroll area
raises (and so repaints) both scroll bars, a scroll bar repaints when its unchanged page step is
set again, a tab widget repaints every page. A full-height Fusion scroll bar alone costs 2 to 4 ms
to paint on a CPU raster; together these were half of the 16 ms knob-to-repaint budget
(benchmarks/bench_gui.py). Each class below skips the work when its size hints did not change.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (QAbstractScrollArea, QAbstractSlider, QComboBox, QScrollArea, QScrollBar,
                               QTabWidget)


class SteadyScrollBar(QScrollBar):
    """A QScrollBar that skips the repaint of a step change that changed nothing."""

    def __init__(self, *args):
        super().__init__(*args)
        self._steps = (self.singleStep(), self.pageStep())

    def sliderChange(self, change: QAbstractSlider.SliderChange) -> None:  # noqa: N802 (Qt)
        if change == QAbstractSlider.SliderChange.SliderStepsChange:
            steps = (self.singleStep(), self.pageStep())
            if steps == self._steps:
                return
            self._steps = steps
        super().sliderChange(change)


def steady_scroll_bars(area: QAbstractScrollArea) -> QAbstractScrollArea:
    """Give ``area`` steady scroll bars (keeping their policies); returns ``area``."""
    area.setVerticalScrollBar(SteadyScrollBar())
    area.setHorizontalScrollBar(SteadyScrollBar())
    return area


class SteadyScrollArea(QScrollArea):
    """A resizable QScrollArea that ignores layout requests which leave its widget's size hints
    unchanged.

    Every QLabel.setText inside the widget ends in a layout request to the scroll area (QLayout
    re-announces its geometry unconditionally), and the scroll area answers by re-laying out and
    raising its scroll bars, which repaints both of them in full: 4 to 5 ms per metrics update.
    """

    def __init__(self, *args, fit_width: bool = False, **kwargs):
        """``fit_width``: never narrower than the widget's minimum width (no horizontal scroll
        bar; a clipped column of figures is worse than a slightly wider dock)."""
        super().__init__(*args, **kwargs)
        self._hints: dict[str, tuple] = {}
        self._fit_width = fit_width
        if fit_width:
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        steady_scroll_bars(self)

    def _fit(self, hints: tuple | None) -> None:
        if self._fit_width and hints is not None:
            width = hints[1].width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
            if width != self.minimumWidth():
                self.setMinimumWidth(width)

    def _current_hints(self) -> tuple | None:
        inner = self.widget()
        if inner is None:
            return None
        return (inner.sizeHint(), inner.minimumSizeHint(), inner.maximumSize())

    def _laid_out(self) -> None:
        """The area has just laid out its widget and scroll bars for the current hints."""
        hints = self._current_hints()
        self._hints = {"area": hints, "viewport": hints}
        self._fit(hints)

    def setWidget(self, widget) -> None:  # noqa: N802 (Qt)
        super().setWidget(widget)
        self._laid_out()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._laid_out()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        self._laid_out()

    def _no_op(self, event: QEvent, path: str) -> bool:
        """True for a layout request that leaves the widget's size hints as they were when
        ``path`` (the area's own events or its viewport's) last handled one."""
        if event.type() != QEvent.Type.LayoutRequest or self.widget() is None:
            return False
        hints = self._current_hints()
        if self._hints.get(path) == hints:
            return True
        self._hints[path] = hints
        self._fit(hints)
        return False

    def event(self, event: QEvent) -> bool:
        return True if self._no_op(event, "area") else super().event(event)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 (Qt)
        return True if self._no_op(event, "viewport") else super().viewportEvent(event)


class SteadyTabWidget(QTabWidget):
    """A QTabWidget that ignores layout requests which leave its size hints unchanged.

    QTabWidget answers every layout request (one arrives whenever a label anywhere in a tab
    changes its text) by laying out its tab bar and pages again and repainting itself in full,
    scroll bars of every page included: 4 to 5 ms on a CPU raster for nothing.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hints = None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            hints = (self.sizeHint(), self.minimumSizeHint(), self.tabBar().sizeHint(),
                     self.count(), self.currentIndex())
            if hints == self._hints:
                return True
            self._hints = hints
        return super().event(event)


def narrow_combo(box: QComboBox, chars: int = 8) -> QComboBox:
    """A combo box as wide as its column, not its longest item ("NVIDIA H100 SXM5 80GB"): the
    window must fit a small screen. The open list shows items whole."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(chars)
    return box
