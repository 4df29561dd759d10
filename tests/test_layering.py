"""The dependency rules of DESIGN.md: models imports neither Qt nor torch (nor the other layers);
kernels imports no Qt; widgets imports no torch. Checked on the source and in a fresh process."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "models": {"PySide6", "pyqtgraph", "torch", "triton", "onnxruntime", "onnx", "transformers",
               "widgets", "orbit_gui", "kernels"},
    "kernels": {"PySide6", "pyqtgraph", "widgets", "orbit_gui"},
    "widgets": {"torch", "triton", "onnxruntime", "kernels"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_layering(package):
    bad = []
    for path in (ROOT / package).rglob("*.py"):
        crossing = imported_roots(path) & FORBIDDEN[package]
        if crossing:
            bad.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(crossing))}")
    assert not bad, "\n".join(bad)


def test_engine_and_cli_start_without_torch_or_qt():
    code = ("import sys; import models.catalog, models.cost, models.hf, orbit_gui.cli;"
            "from models.catalog import find; from models.cost import cost_report;"
            "cost_report(find('deepseek-v3').spec());"
            "bad = [m for m in ('torch', 'PySide6', 'transformers', 'onnxruntime') if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
