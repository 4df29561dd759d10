"""The profiler panel's Save results / Open results, driven through its buttons (pytest-qt): a
profile saved from the panel, or printed by ``orbit-explorer profile --json``, opens as it was
shown and can be calibrated; a bad file is a message and leaves the panel as it was; any file the
reader accepts renders without an exception."""
from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton  # noqa: E402

from profile_strategies import MODEL, typed_profile  # noqa: E402
from widgets.profiler import COLUMNS  # noqa: E402


@pytest.fixture
def window(window):
    """conftest's main window, on qwen3-0.6b (small enough to profile quickly), showing the profiler."""
    window.open_catalog("qwen3-0.6b")
    window.tabs.setCurrentWidget(window.profile_host)
    return window


def _table(panel) -> list[list[str]]:
    t = panel.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def _button(panel, name: str) -> QPushButton:
    return panel.findChild(QPushButton, name)


def _answer_dialogs(monkeypatch, path, chosen=""):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), chosen))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def _error_text(window) -> str:
    boxes = [b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible()]
    return boxes[-1].text() if boxes else ""


def test_saved_results_open_again_as_they_were_shown_and_calibrate(window, qtbot, tmp_path, monkeypatch):
    panel = window.profiler
    assert not _button(panel, "profileSave").isEnabled()           # nothing to save yet
    window.start_profile({"device": "cpu", "backends": ("torch",), "context": 16, "batch": 1, "repeats": 2})
    qtbot.waitUntil(lambda: window._profile_result is not None and window._profile_thread is None, timeout=120_000)
    shown, summary, profiled = _table(panel), panel.summary.text(), window.doc.spec.name
    assert _button(panel, "profileSave").isEnabled() and len(shown) >= 4

    _answer_dialogs(monkeypatch, tmp_path / "run", "CSV rows (*.csv)")             # no suffix: the filter's
    qtbot.mouseClick(_button(panel, "profileSave"), Qt.LeftButton)
    with open(tmp_path / "run.csv", newline="") as f:
        assert len(list(csv.reader(f))) == 1 + len(shown)
    _answer_dialogs(monkeypatch, tmp_path / "run.json")
    qtbot.mouseClick(_button(panel, "profileSave"), Qt.LeftButton)
    assert json.loads((tmp_path / "run.json").read_text())["request"]["model"] == window.doc.spec.name

    window.open_catalog("llama-3-8b")          # another model open: the file's own is found in the catalog
    panel.table.setRowCount(0)
    qtbot.mouseClick(_button(panel, "profileOpen"), Qt.LeftButton)
    assert _table(panel) == shown and panel.summary.text() == summary
    assert "Opened run.json" in panel.status.text() and f"<b>{profiled}</b>" in panel.summary.text()
    assert window._profile_result.request.spec.name == profiled != window.doc.spec.name
    qtbot.mouseClick(panel.calibrate_button, Qt.LeftButton)
    assert "Calibrated" in panel.summary.text() and "ratio 1.00" in panel.summary.text()
    # the whole-model lines now compare with the calibrated prediction
    from kernels.calibration import calibrated_whole_model
    cal, result = window._profile_calibration, window._profile_result
    _, decode = calibrated_whole_model(result, cal)
    assert "(measured vs calibrated prediction)" in panel.summary.text()
    assert f"(predicted/measured {decode / result.whole_by_backend['torch'].decode_s:.2f})" in panel.summary.text()
    calibrated_shown = panel.shown_predictions()
    # saved again, the fit goes with it, and opening the file shows it again
    _answer_dialogs(monkeypatch, tmp_path / "calibrated.json")
    qtbot.mouseClick(_button(panel, "profileSave"), Qt.LeftButton)
    saved = json.loads((tmp_path / "calibrated.json").read_text())
    assert saved["calibration"]["memory_efficiency"] == cal.memory_efficiency
    qtbot.mouseClick(_button(panel, "profileOpen"), Qt.LeftButton)
    assert panel.shown_predictions() == calibrated_shown
    assert "Calibration saved with this profile" in panel.summary.text()
    assert window._profile_calibration.memory_efficiency == cal.memory_efficiency


def test_a_bad_file_is_a_message_and_the_panel_keeps_what_it_showed(window, qtbot, tmp_path, monkeypatch):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"request": {"model": "qwen3-0.6b", "context": 64, "batch": 1},
                                "blocks": [{"block": "full+dense", "phase": "decode", "backend": "torch",
                                            "layers": 28, "p50_s": 0.002, "predicted_s": 0.0015}]}))
    assert window.open_profile(str(good))
    before = _table(window.profiler)
    assert before[0][COLUMNS.index("p50")] == "2.00 ms"
    cases = {"bad.json": ("{not json", "bad.json is not JSON"),
             "odd.json": ('{"request": {"model": "qwen3-0.6b"}, "blocks": [{"block": "b", "phase": "decode", '
                          '"backend": "torch", "roofline_pct": "high"}]}', "roofline_pct is not a number"),
             "other.json": ('{"request": {"model": "my-own-model"}, "blocks": []}', "'my-own-model'"),
             # readable, but its saved calibration cannot be costed: nothing of it may reach the panel
             "int3.json": ('{"request": {"model": "qwen3-0.6b"}, "dtype": "int3", "peak_flops": 1e12, '
                           '"bandwidth_bytes_per_s": 1e11, "blocks": [], "calibration": {"device_key": "cpu", '
                           '"samples": 1, "compute_efficiency": 0.5, "memory_efficiency": 0.5}}',
                           "unknown number format 'int3'")}
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        _answer_dialogs(monkeypatch, tmp_path / name)
        qtbot.mouseClick(_button(window.profiler, "profileOpen"), Qt.LeftButton)
        assert expected in _error_text(window)
        assert _table(window.profiler) == before
        for box in window.findChildren(QMessageBox, "errorDialog"):
            box.close()


def test_a_failed_save_is_a_message(window, qtbot, tmp_path, monkeypatch):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"request": {"model": "qwen3-0.6b"}, "blocks": []}))
    assert window.open_profile(str(good))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _answer_dialogs(monkeypatch, blocker / "inside.json")        # a file where a folder should be
    assert not window.save_profile_to(str(blocker / "inside.json"))
    assert "Cannot save the profile" in window.findChildren(QMessageBox, "errorDialog")[-1].windowTitle()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=typed_profile)
def test_any_profile_the_reader_accepts_is_shown_without_an_exception(qtbot, data):
    """NaN, infinities, zero and negative times, huge counts, empty or long names: shown, never raised."""
    from block_cases import LAYOUTS, make_spec
    from kernels.profile_io import _problem, result_from_data
    from widgets.profiler import ProfilerPanel
    assert _problem(data) is None
    layer, kw = LAYOUTS["pre_rms"]
    result = result_from_data(data, make_spec(layer, name=MODEL, **kw))
    panel = ProfilerPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show_loaded(result, "p.json")
    panel.grab()                                    # paint it, chart axes included
    assert panel.table.rowCount() == len(data["blocks"])
