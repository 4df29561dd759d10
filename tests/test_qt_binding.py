"""Guard against the Qt binding defect that made PySide6 6.12.0 unusable on Python 3.11 (each void
Qt call dropped a reference to None until the interpreter aborted); pyproject excludes it."""
import sys

import pytest

pytest.importorskip("PySide6")


def test_void_qt_calls_keep_none_alive():
    from PySide6.QtCore import QPointF
    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(200):
        point.setX(1.0)
    assert before - sys.getrefcount(None) < 50
