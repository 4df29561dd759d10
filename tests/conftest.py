import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Without an NVIDIA device, Triton kernels run in its interpreter. The variable must be set before
# anything imports triton (torch may, indirectly), hence here rather than in the kernel tests.
if not Path("/dev/nvidia0").exists() and not os.environ.get("CUDA_VISIBLE_DEVICES"):
    os.environ.setdefault("TRITON_INTERPRET", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture(autouse=True)
def _hardware_figures_restored():
    """A calibration in one test may give the local CPU its measured bandwidth for the process
    (models.hardware.use_measured_bandwidth); the next test starts from the estimates again."""
    from models.hardware import hardware_db
    before = dict(hardware_db())
    yield
    hardware_db().update(before)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """The real main window on llama-3-8b, shown, with settings and calibrations kept under tmp_path."""
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    from orbit_gui.app import create_window
    w = create_window("llama-3-8b")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w
