"""A splitter whose panes sit side by side where there is room and one above the other where not.

Half a 1920-pixel screen leaves the central area about 350 pixels once the docks are open. Side by
side, a diagram and its properties panel then share those pixels and neither is readable (the
diagram kept a 100-pixel strip); stacked, each gets the whole width.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QSplitter


class ResponsiveSplitter(QSplitter):
    """A QSplitter that is horizontal when at least ``wide_from`` pixels wide and vertical below,
    unless it is less than ``stack_from`` pixels high (stacked, each pane would be a sliver).

    ``shares``: each pane's part of the length on a switch, per orientation (horizontal, vertical);
    a size the user dragged to is kept for that orientation and used again when it returns.
    """

    orientationSwitched = Signal(Qt.Orientation)

    def __init__(self, wide_from: int, shares: tuple[tuple[int, ...], tuple[int, ...]], parent=None,
                 objectName: str = "", stack_from: int = 0) -> None:  # noqa: N803 (Qt's keyword)
        super().__init__(Qt.Orientation.Horizontal, parent)
        if objectName:
            self.setObjectName(objectName)
        self.wide_from = wide_from
        self.stack_from = stack_from
        self._shares = {Qt.Orientation.Horizontal: shares[0], Qt.Orientation.Vertical: shares[1]}
        self._dragged: dict[Qt.Orientation, list[int]] = {}
        self.splitterMoved.connect(lambda _pos, _index: self._remember())

    def _remember(self) -> None:
        self._dragged[self.orientation()] = self.sizes()

    def _lay_out(self, orientation: Qt.Orientation, width: int, height: int) -> None:
        self.setOrientation(orientation)
        self.orientationSwitched.emit(orientation)     # before the sizes: a pane may change its limits
        sizes = self._dragged.get(orientation)
        if sizes is None:
            horizontal = orientation == Qt.Orientation.Horizontal
            caps = [w.maximumWidth() if horizontal else w.maximumHeight()
                    for w in (self.widget(i) for i in range(self.count()))]
            sizes = _shared_out(width if horizontal else height, self._shares[orientation], caps)
        self.setSizes(sizes)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt)
        """As narrow as the widest pane: below ``wide_from`` the panes stack, so the side-by-side
        minimum (the panes' widths added) must not keep the splitter, and the window, wider."""
        hint = super().minimumSizeHint()
        if self.orientation() == Qt.Orientation.Horizontal and self.height() >= self.stack_from:
            panes = [self.widget(i) for i in range(self.count()) if not self.widget(i).isHidden()]
            hint.setWidth(max((p.minimumWidth() or p.minimumSizeHint().width() for p in panes), default=0))
        return hint

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        size = event.size()
        wide = size.width() >= self.wide_from or size.height() < self.stack_from
        wanted = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if wanted != self.orientation():
            self._lay_out(wanted, size.width(), size.height())
        super().resizeEvent(event)


def _shared_out(length: int, shares: tuple[int, ...], caps: list[int]) -> list[int]:
    """``length`` split by ``shares``; what a pane cannot take beyond its cap goes to the others
    (QSplitter leaves it empty)."""
    sizes = [0] * len(shares)
    open_panes = list(range(len(shares)))
    while open_panes:
        total = sum(shares[i] for i in open_panes)
        left = length - sum(sizes[i] for i in range(len(shares)) if i not in open_panes)
        capped = [i for i in open_panes if left * shares[i] // total > caps[i]]
        if not capped:
            for i in open_panes:
                sizes[i] = left * shares[i] // total
            break
        for i in capped:
            sizes[i] = caps[i]
            open_panes.remove(i)
    return sizes
