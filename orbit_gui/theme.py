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


def _dark_indicators() -> str:
    """Check boxes for the dark theme: Fusion outlines an unchecked box in a shade darker than the
    window, which on a dark window cannot be seen; here it has a light outline and a tick on the accent."""
    from resources import RESOURCES_DIR
    tick = (RESOURCES_DIR / "icons" / "check-dark.svg").as_posix()
    boxes = "QCheckBox::indicator, QAbstractItemView::indicator, QGroupBox::indicator"
    checked = ", ".join(f"{b.strip()}:checked" for b in boxes.split(","))
    disabled = ", ".join(f"{b.strip()}:disabled" for b in boxes.split(","))
    return (f"{boxes} {{ width: 12px; height: 12px; border: 1px solid #9aa0a6; border-radius: 2px; "
            f"background: #18191b; }}\n"
            f"{checked} {{ background: #4f8cc9; border-color: #4f8cc9; image: url({tick}); }}\n"
            f"{disabled} {{ border-color: #55585c; }}\n")


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
    app.setStyleSheet(_dark_indicators() if resolved == "dark" else "")
    apply_theme.current = resolved
    return resolved


apply_theme.current = "light"
