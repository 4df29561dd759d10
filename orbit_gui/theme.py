"""Light and dark themes. "system" follows the platform's colour scheme (Qt 6.5+ style hints)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_DARK = {
    QPalette.Window: "#202124", QPalette.WindowText: "#e8eaed", QPalette.Base: "#18191b",
    QPalette.AlternateBase: "#26272a", QPalette.ToolTipBase: "#2b2c2f", QPalette.ToolTipText: "#e8eaed",
    QPalette.Text: "#e8eaed", QPalette.Button: "#2b2c2f", QPalette.ButtonText: "#e8eaed",
    QPalette.BrightText: "#ff5252", QPalette.Highlight: "#4f8cc9", QPalette.HighlightedText: "#ffffff",
    QPalette.Link: "#8ab4f8", QPalette.PlaceholderText: "#8a8d91",
}


# Fusion outlines a check box in its palette's window colour darkened by 40%: on the dark theme's
# window that cannot be seen. Check boxes, and the list views that draw them, get a light window
# colour of their own (a check box paints no background, a list view paints its base), so their
# outlines show. A palette, not a style sheet: a style sheet changes every widget's size hints.
_CHECK_BOX_CLASSES = ("QCheckBox", "QListView")
_DARK_OUTLINE_BASIS = "#b4b8be"


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return bool(scheme and scheme() == Qt.ColorScheme.Dark)


def apply_theme(name: str) -> str:
    """Apply ``system``, ``light`` or ``dark``; returns the theme in force (light or dark)."""
    app = QApplication.instance()
    resolved = ("dark" if system_is_dark() else "light") if name == "system" else name
    if resolved not in ("light", "dark"):
        resolved = "light"
    app.setStyle("Fusion")
    if resolved == "dark":
        palette = QPalette()
        for role, color in _DARK.items():
            palette.setColor(role, QColor(color))
        palette.setColor(QPalette.Disabled, QPalette.Text, QColor("#6f7276"))
        palette.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#6f7276"))
    else:
        palette = app.style().standardPalette()
    app.setPalette(palette)
    boxes = QPalette(palette)
    if resolved == "dark":
        boxes.setColor(QPalette.Window, QColor(_DARK_OUTLINE_BASIS))
    for name in _CHECK_BOX_CLASSES:       # set in both themes: a class palette outlives setPalette(p)
        app.setPalette(boxes, name)
    apply_theme.current = resolved
    return resolved


apply_theme.current = "light"
