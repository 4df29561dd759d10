"""The test extras are installed: other suites skip when a module is missing (importorskip), so a
broken install would otherwise leave CI green with whole suites skipped."""
from __future__ import annotations

import importlib
import platform

import pytest

EXTRAS = ["torch", "onnx", "onnxruntime", "PySide6", "pyqtgraph", "pytestqt", "hypothesis",
          "transformers", "pytest_benchmark"]
if platform.system() == "Linux" and platform.machine() == "x86_64":
    EXTRAS.append("triton")      # the kernels' CPU checks run in its interpreter


@pytest.mark.parametrize("module", EXTRAS)
def test_test_extra_is_importable(module):
    importlib.import_module(module)
