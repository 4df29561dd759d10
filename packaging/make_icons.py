"""Render resources/icons/orbit-explorer.svg to PNGs at the usual icon sizes.

    python packaging/make_icons.py

Writes resources/icons/orbit-explorer-<N>.png for N in SIZES (and orbit-explorer.png, 256 px).
Uses Qt's SVG renderer offscreen; run it again after editing the SVG.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "orbit-explorer.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int, out: Path) -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"cannot write {out}")


def main() -> int:
    from PySide6.QtGui import QGuiApplication
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])   # noqa: F841 (fonts)
    for size in SIZES:
        render(size, ICONS / f"orbit-explorer-{size}.png")
    render(256, ICONS / "orbit-explorer.png")
    print(f"wrote {len(SIZES) + 1} PNGs to {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
