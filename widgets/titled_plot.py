"""A pyqtgraph PlotWidget whose title wraps to the plot's width instead of widening it.

pyqtgraph sizes a plot to fit its title's one line: a long title in a narrow window pushed the
right of the plot (and its data) out of view, with no scroll bar to say so. Here the title takes at
most two lines, the rest elided, the whole title in the tooltip, and it is refitted on resize.
"""
from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

# narrower than this the plot area is cut at the right rather than pushing the widget wider
MIN_PLOT_WIDTH = 160


def wrap_text(text: str, metrics: QtGui.QFontMetrics, width: int, max_lines: int = 2) -> list[str]:
    """``text`` broken at spaces into lines at most ``width`` pixels wide; past ``max_lines`` the
    last line ends in an ellipsis. HTML-escaped, for a rich-text label."""
    lines: list[str] = []
    words = text.split(" ")
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and metrics.horizontalAdvance(line + " " + words[0]) <= width:
            line += " " + words.pop(0)
        lines.append(line)
    if words:
        lines[-1] = metrics.elidedText(lines[-1] + " " + " ".join(words), QtCore.Qt.ElideRight, width)
    elif lines and metrics.horizontalAdvance(lines[-1]) > width:
        lines[-1] = metrics.elidedText(lines[-1], QtCore.Qt.ElideRight, width)
    return [html.escape(line) for line in lines]


class TitledPlotWidget(pg.PlotWidget):
    """set_title(text, color) shows ``text`` wrapped to the plot's width (two lines at most)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.getPlotItem().setMinimumWidth(MIN_PLOT_WIDTH)
        self._title = ""
        self._title_color = None

    @property
    def title(self) -> str:
        return self._title

    def set_title(self, text: str, color=None) -> None:
        self._title = text
        if color is not None:
            self._title_color = color
        self._show_title()

    def _show_title(self) -> None:
        pi = self.getPlotItem()
        if pi is None:                  # the widget is being torn down
            return
        if not self._title:
            pi.setTitle(None)
            return
        font = QtGui.QFont(self.font())
        font.setPointSizeF(10)
        # the title is centred over the plot area, right of the left axis
        room = self.width() - pi.getAxis("left").width() - 28
        lines = wrap_text(self._title, QtGui.QFontMetrics(font), max(80, room), max_lines=2)
        pi.setTitle("<br>".join(lines), color=self._title_color, size="10pt")
        self.setToolTip(self._title if len(lines) > 1 or lines[0] != self._title else "")

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        # pyqtgraph calls this with None while it builds the widget
        if event is not None and event.size().width() != event.oldSize().width() and "_title" in self.__dict__:
            self._refit(event)

    def _refit(self, event) -> None:
        """What a change of width refits: the title (subclasses add their own)."""
        if self._title:
            self._show_title()
