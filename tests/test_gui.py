"""pytest-qt tests that drive the real main window: open models, move every knob, check the
metrics shown equal the engine's numbers, undo/redo, bad files, and the lazily built tabs."""
from __future__ import annotations

import dataclasses
import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QComboBox, QLabel, QMessageBox, QWidget  # noqa: E402

from models.catalog import find  # noqa: E402
from models.cost import Workload, cost_report  # noqa: E402
from models.metrics import metric_rows  # noqa: E402
from models.overrides import apply_overrides  # noqa: E402
from models.spec_io import save_spec  # noqa: E402

# ``window``: conftest's main window on llama-3-8b


def shown(window, key: str) -> str:
    return window.metrics.value_text(key)


def engine_rows(spec, workload) -> dict[str, str]:
    return {r.key: r.text for r in metric_rows(cost_report(spec, workload))}


def set_spin(window, qtbot, name: str, value: int) -> None:
    from PySide6.QtWidgets import QSpinBox
    box = window.knobs.findChild(QSpinBox, name)
    box.setValue(value)
    window.knobs.flush()


def set_combo(window, name: str, text: str) -> None:
    from PySide6.QtWidgets import QComboBox
    box = window.knobs.findChild(QComboBox, name)
    index = box.findText(text)
    assert index >= 0, text
    box.setCurrentIndex(index)
    window.knobs.flush()


def test_opens_with_engine_numbers(window):
    expected = engine_rows(find("llama-3-8b").spec(), Workload())
    for key in ("paramsTotal", "paramsActive", "memWeights", "memKV", "flopsPrefill", "ttft", "tpot"):
        assert shown(window, key) == expected[key]
    assert window.metrics.fits.property("fits") is True


@pytest.mark.parametrize("name,key,value", [
    ("kvHeads", "kv_heads", 2), ("layers", "layers", 20)])
def test_spec_spin_knobs_match_engine(window, qtbot, name, key, value):
    set_spin(window, qtbot, name, value)
    spec = apply_overrides(find("llama-3-8b").spec(), {key: value})
    expected = engine_rows(spec, Workload())
    assert shown(window, "paramsTotal") == expected["paramsTotal"]
    assert shown(window, "memKV") == expected["memKV"]
    assert window.metrics.findChild(type(window.metrics.fits), "paramsTotalDelta").text()


@pytest.mark.parametrize("name,key,value,typed", [
    ("context", "context", 16384, int), ("batch", "batch", 8, int), ("devices", "devices", 2, int)])
def test_workload_spin_knobs_match_engine(window, qtbot, name, key, value, typed):
    set_spin(window, qtbot, name, value)
    expected = engine_rows(find("llama-3-8b").spec(), Workload(**{key: typed(value)}))
    assert shown(window, "ttft") == expected["ttft"]
    assert shown(window, "memKV") == expected["memKV"]


@pytest.mark.parametrize("name,key,value", [
    ("weightsDtype", "weights", "int4"), ("kvDtype", "kv", "fp8"), ("activationsDtype", "activations", "fp8")])
def test_format_knobs_match_engine(window, name, key, value):
    set_combo(window, name, value)
    expected = engine_rows(find("llama-3-8b").spec(), Workload(**{key: value}))
    assert shown(window, "memWeights") == expected["memWeights"]
    assert shown(window, "memKV") == expected["memKV"]
    assert shown(window, "tpot") == expected["tpot"]


def test_attention_kind_knob(window):
    set_combo(window, "attentionKind", "mqa")
    spec = apply_overrides(find("llama-3-8b").spec(), {"attention": "mqa"})
    assert shown(window, "memKV") == engine_rows(spec, Workload())["memKV"]


def test_moe_knobs(window, qtbot):
    window.open_catalog("mixtral-8x7b")
    set_spin(window, qtbot, "experts", 16)
    set_spin(window, qtbot, "topK", 4)
    spec = apply_overrides(find("mixtral-8x7b").spec(), {"experts": 16, "top_k": 4})
    expected = engine_rows(spec, Workload())
    assert shown(window, "paramsTotal") == expected["paramsTotal"]
    assert shown(window, "paramsActive") == expected["paramsActive"]


def test_sparse_attention_top_k_knob(window, qtbot):
    """DeepSeek-V3.2's DSA top-k: only for models with a lightning indexer; fewer keys per query
    cut the long-context decode time, the KV cache (the indexer still keeps every token) stays."""
    from PySide6.QtWidgets import QSpinBox
    box = window.knobs.findChild(QSpinBox, "sparseTopK")
    assert not box.isEnabled() and box.specialValueText() == "—"      # Llama 3 has no indexer
    window.open_catalog("deepseek-v3.2-exp")
    assert box.isEnabled() and box.value() == 2048
    set_spin(window, qtbot, "context", 131072)
    before = window.doc.report
    set_spin(window, qtbot, "sparseTopK", 512)
    wl = window.doc.state.workload
    spec = apply_overrides(find("deepseek-v3.2-exp").spec(), {"index_topk": 512})
    assert window.doc.report.tpot_s == cost_report(spec, wl).tpot_s < before.tpot_s
    assert shown(window, "memKV") == engine_rows(spec, wl)["memKV"] and window.doc.report.memory.kv_cache \
        == before.memory.kv_cache


def test_kv_shared_layers_knob(window, qtbot):
    """Llama 3 8B with its last 16 layers reading the caches of the layers before them (Gemma
    3n/4's KV sharing): half the KV cache, 16 layers without K/V projections."""
    from PySide6.QtWidgets import QSpinBox
    box = window.knobs.findChild(QSpinBox, "kvSharedLayers")
    assert box.isEnabled() and box.value() == 0
    before = window.doc.report
    set_spin(window, qtbot, "kvSharedLayers", 16)
    wl = window.doc.state.workload
    spec = apply_overrides(find("llama-3-8b").spec(), {"kv_shared_layers": 16})
    assert window.doc.report.memory.kv_cache == cost_report(spec, wl).memory.kv_cache == before.memory.kv_cache / 2
    assert shown(window, "paramsTotal") == engine_rows(spec, wl)["paramsTotal"]
    set_spin(window, qtbot, "kvSharedLayers", 32)            # every layer: none would cache
    assert window.knobs.findChild(QLabel, "kvSharedLayersError").text().startswith("must be from 0 to 31")
    assert window.doc.report.memory.kv_cache == before.memory.kv_cache / 2      # the last good edit stays


def test_image_tokens_knob_of_a_cross_attention_model(window, qtbot, tmp_path):
    """A Llama 3.2 Vision config.json: the Image tokens knob shows its 4 x 1,601 tokens; a quarter
    of them (one tile) shrinks the image cache in the metrics exactly as the engine does. Llama 3 8B
    has no cross-attention: the knob shows "—" and is disabled."""
    from PySide6.QtWidgets import QSpinBox
    from models.hf import spec_from_hf_config
    from test_cross_attention import COUNT_CASES
    (tmp_path / "config.json").write_text(json.dumps(COUNT_CASES["11b-shape"]))
    box = window.knobs.findChild(QSpinBox, "imageTokens")
    assert not box.isEnabled() and box.text() == "—"
    assert window.open_path(str(tmp_path / "config.json"))
    assert box.isEnabled() and box.value() == 6404
    set_spin(window, qtbot, "imageTokens", 1601)
    wl = window.doc.state.workload
    spec = apply_overrides(spec_from_hf_config(COUNT_CASES["11b-shape"]), {"image_tokens": 1601})
    assert window.doc.report.memory.kv_cache == cost_report(spec, wl).memory.kv_cache
    assert shown(window, "memKV") == engine_rows(spec, wl)["memKV"]
    set_spin(window, qtbot, "imageTokens", 1)
    assert window.doc.report.memory.kv_cache < cost_report(spec, wl).memory.kv_cache


def test_a_model_without_a_public_architecture_is_a_message_and_the_model_stays(window):
    assert not window.open_catalog("gpt-4")
    box = [b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible()][-1]
    assert box.text().startswith("GPT-4: the architecture is not public")
    assert window.doc.spec.name == "Llama 3 8B"
    box.close()


def test_a_file_that_is_not_json_is_named_once(window, tmp_path):
    """The message already names the file: it was shown twice, once above it."""
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama",, }')
    assert not window.open_path(str(bad))
    box = [b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible()][-1]
    assert box.text().count(str(bad)) == 1 and "not valid JSON" in box.text()
    assert window.doc.spec.name == "Llama 3 8B"
    box.close()


def test_starting_on_a_closed_model_says_why_another_is_shown(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path))
    from orbit_gui.app import create_window
    w = create_window("gpt-4")
    qtbot.addWidget(w)
    assert w.doc.spec.name == "Llama 3 8B"
    message = w.statusBar().currentMessage()
    assert message.startswith("Cannot open this model: GPT-4") and message.endswith("showing Llama 3 8B instead")


def test_knobs_show_values_beyond_their_usual_range(window, tmp_path):
    """A spec with 2048 KV heads shows 2048, not the spin box's usual maximum."""
    spec = apply_overrides(find("llama-3-8b").spec(), [])
    wide = dataclasses.replace(spec, blocks={name: dataclasses.replace(
        layer, mixers=tuple(dataclasses.replace(m, heads=2048, kv_heads=2048, head_dim=2) for m in layer.mixers))
        for name, layer in spec.blocks.items()})
    save_spec(wide, tmp_path / "wide.json")
    assert window.open_path(str(tmp_path / "wide.json"))
    assert window.knobs.kv_heads.value() == 2048


def test_window_and_ratio_knobs(window, qtbot):
    window.open_catalog("gemma-2-9b")
    set_spin(window, qtbot, "window", 1024)
    box = window.knobs.local_global
    box.setText("3:1")
    box.editingFinished.emit()
    window.knobs.flush()
    spec = apply_overrides(find("gemma-2-9b").spec(), [("window", "1024"), ("local_global", "3:1")])
    assert shown(window, "memKV") == engine_rows(spec, Workload())["memKV"]
    box.clear()                      # a cleared field is no edit: it shows the ratio in force again
    box.editingFinished.emit()
    window.knobs.flush()
    assert box.text() == "3:1" and window.doc.state.edits[-1] == ("local_global", "3:1")


def test_hardware_knob(window):
    box = window.knobs.hardware
    box.setCurrentIndex(box.findData("rtx-4090"))
    window.knobs.flush()
    expected = engine_rows(find("llama-3-8b").spec(), Workload(hardware="rtx-4090"))
    assert shown(window, "tpot") == expected["tpot"]
    assert window.metrics.fits.property("fits") is True


def test_impossible_edit_is_explained_and_not_applied(window, qtbot):
    before = shown(window, "paramsTotal")
    set_spin(window, qtbot, "kvHeads", 3)
    error = window.knobs.findChild(type(window.metrics.fits), "kvHeadsError")
    assert error.isVisible() and error.text() == "heads (32) must be divisible by kv_heads (3)"
    assert window.statusBar().currentMessage() == "Not applied: KV heads: heads (32) must be divisible by kv_heads (3)"
    assert shown(window, "paramsTotal") == before
    assert window.knobs.kv_heads.value() == 8          # the control shows the value in force
    set_spin(window, qtbot, "layers", 16)              # the next change makes that refusal stale
    assert not error.isVisible()
    window.open_catalog("mistral-7b")
    assert not window.statusBar().currentMessage().startswith("Not applied")


def test_undo_redo_restore_metrics(window, qtbot):
    original = shown(window, "memKV")
    set_spin(window, qtbot, "kvHeads", 1)
    edited = shown(window, "memKV")
    assert edited != original
    window.findChild(type(window.undo_action), "actionUndo").trigger()
    assert shown(window, "memKV") == original and window.knobs.kv_heads.value() == 8
    window.findChild(type(window.undo_action), "actionRedo").trigger()
    assert shown(window, "memKV") == edited and window.knobs.kv_heads.value() == 1
    assert window.history.count() == 2


def test_undo_after_opening_another_model_brings_back_the_edited_one(window, qtbot):
    """Double-clicking another model in the browser keeps the edits: Undo shows the model before,
    edited, with its title, and the next launch would open it."""
    set_spin(window, qtbot, "layers", 16)
    window.browser.modelActivated.emit("mistral-7b")
    assert window.windowTitle().startswith("Mistral 7B") and window.knobs.layers.value() == 32
    assert window.settings.last_model == "catalog:mistral-7b"
    window.findChild(type(window.undo_action), "actionUndo").trigger()
    assert window.windowTitle() == "Llama 3 8B — Orbit Explorer"
    assert window.knobs.layers.value() == 16 and window.doc.spec.num_layers == 16
    assert window.settings.last_model == "catalog:llama-3-8b"
    assert [window.history.item(i).text() for i in range(window.history.count())] == \
        ["open Llama 3 8B", "Layers = 16", "open Mistral 7B (v0.1)"]


def test_undo_and_redo_keys_work_while_a_knob_has_focus(window, qtbot):
    """After typing a value and pressing Enter the field keeps focus; Ctrl+Z there undoes the edit
    (a line edit would otherwise take the key for its own text), Ctrl+Y redoes it."""
    from PySide6.QtWidgets import QApplication
    window.activateWindow()
    window.knobs.layers.setFocus()
    qtbot.waitUntil(window.knobs.layers.hasFocus)
    set_spin(window, qtbot, "layers", 16)
    editor = QApplication.focusWidget()           # where the user's keys go
    qtbot.keyClick(editor, Qt.Key_Z, Qt.ControlModifier)
    assert window.doc.spec.num_layers == 32 and window.knobs.layers.value() == 32
    qtbot.keyClick(editor, Qt.Key_Y, Qt.ControlModifier)
    assert window.doc.spec.num_layers == 16


def test_history_rows_follow_the_theme(window, qtbot):
    """Done steps take their colour from the palette (an explicit colour captured in the light theme
    left them black on black after switching to dark); undone steps are grey in both themes."""
    set_spin(window, qtbot, "kvHeads", 1)
    set_spin(window, qtbot, "kvHeads", 2)
    window.findChild(type(window.undo_action), "actionUndo").trigger()
    window.set_theme("dark")
    try:
        done, undone = window.history.item(0), window.history.item(window.history.count() - 1)
        assert done.data(Qt.ForegroundRole) is None
        assert undone.foreground().color().name() == "#8a8d91"
        text = window.history.palette().text().color()
        base = window.history.palette().base().color()
        assert abs(text.lightness() - base.lightness()) > 100     # readable on the dark background
    finally:
        window.set_theme("light")


def test_history_list_follows_undo_redo_and_a_new_branch(window, qtbot):
    """The list is updated row by row from what it last showed: after undoing, redoing and editing
    again (which drops the redoable steps), it holds exactly the document's history, undone steps
    grey, the current step selected."""
    undo = window.findChild(type(window.undo_action), "actionUndo")
    redo = window.findChild(type(window.undo_action), "actionRedo")

    def check() -> None:
        labels, current = window.doc.history()
        h = window.history
        assert [h.item(i).text() for i in range(h.count())] == labels
        assert [h.item(i).data(Qt.ForegroundRole) is not None for i in range(h.count())] == \
            [i > current for i in range(len(labels))]
        assert h.currentRow() == current

    for heads in (1, 2, 4):
        set_spin(window, qtbot, "kvHeads", heads)
    check()
    undo.trigger(), undo.trigger()
    check()
    redo.trigger()
    check()
    set_spin(window, qtbot, "kvHeads", 8)      # a new edit: the undone "4" step is gone
    check()
    assert window.history.count() == 4 and "8" in window.history.item(3).text()
    undo.trigger(), undo.trigger()
    set_spin(window, qtbot, "kvHeads", 4)      # the list shrinks to three rows...
    check()
    set_spin(window, qtbot, "kvHeads", 8)
    undo.trigger()
    check()
    assert window.open_catalog("llama-3-8b")   # a fresh history of one row...
    check()
    set_spin(window, qtbot, "kvHeads", 1)      # ...growing back to a row it once showed
    check()


def test_dark_theme_check_boxes_can_be_seen_and_the_profiler_follows(window, qtbot):
    """Fusion outlines an unchecked box one shade darker than the window: invisible on the dark
    theme. The box painted there must differ from the window behind it; the profiler's chart, built
    before the switch, turns dark too, and both come back in the light theme."""
    from PySide6.QtWidgets import QCheckBox
    window.tabs.setCurrentWidget(window.profile_host)
    box = window.profiler.findChild(QCheckBox, "backend_sdpa")
    box.setChecked(False)

    def box_contrast():
        image = box.grab().toImage()
        edge = image.height() // 2
        behind = image.pixelColor(image.width() - 2, edge).lightness()   # the label's background
        return max(abs(image.pixelColor(x, edge).lightness() - behind) for x in range(0, 16))
    window.set_theme("dark")
    try:
        assert box_contrast() > 60
        assert window.profiler.chart.backgroundBrush().color().lightness() < 60
    finally:
        window.set_theme("light")
    assert window.profiler.chart.backgroundBrush().color().lightness() > 200
    from PySide6.QtWidgets import QApplication
    assert QApplication.instance().styleSheet() == ""      # a style sheet would change size hints


def test_reset_to_original(window, qtbot):
    original = shown(window, "paramsTotal")
    set_spin(window, qtbot, "layers", 10)
    qtbot.mouseClick(window.knobs.reset, Qt.LeftButton)
    assert shown(window, "paramsTotal") == original


def test_bad_file_shows_error_and_keeps_model(window, qtbot, tmp_path):
    set_spin(window, qtbot, "kvHeads", 4)
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama", ')
    assert window.open_path(str(bad)) is False
    dialogs = [d for d in window.findChildren(QMessageBox) if d.objectName() == "errorDialog"]
    assert dialogs and "not valid JSON" in dialogs[-1].text()
    assert window.doc.source.ref == "llama-3-8b" and window.knobs.kv_heads.value() == 4


def test_unsupported_model_type_names_it_and_lists_the_types_behind_details(window, tmp_path):
    """The dialog says which type is not supported in a few lines; the supported types are in
    the details, not a wall of names in the message."""
    from models.hf import SUPPORTED_MODEL_TYPES
    cfg = tmp_path / "config.json"
    cfg.write_text('{"model_type": "bert", "hidden_size": 768}')
    assert window.open_path(str(cfg)) is False
    box = [d for d in window.findChildren(QMessageBox) if d.objectName() == "errorDialog"][-1]
    assert "'bert' is not supported" in box.text() and "llama" not in box.text()
    assert f"{len(SUPPORTED_MODEL_TYPES)} model types are supported" in box.text()
    assert box.detailedText().split("\n") == list(SUPPORTED_MODEL_TYPES)
    assert "'bert' is not supported" in window.statusBar().currentMessage()
    assert window.doc.source.ref == "llama-3-8b"


def test_open_config_file_and_save_spec(window, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(find("qwen3-0.6b").raw["hf_config"]))
    assert window.open_path(str(tmp_path))
    assert shown(window, "paramsTotal") == "596.05M"
    out = tmp_path / "saved.json"
    assert window.save_to(str(out))
    assert str(out.resolve()) in window.settings.recent_files


def test_browser_search_and_filter(window):
    b = window.browser
    b.search.setText("qwen3")
    assert b.visible_ids() and all("qwen3" in i for i in b.visible_ids())
    b.search.setText("")
    b.feature.setCurrentIndex(b.feature.findData("MLA"))
    assert set(b.visible_ids()) >= {"deepseek-v3", "kimi-k2"} and "llama-3-8b" not in b.visible_ids()


def test_charts_and_compare_tabs(window, qtbot):
    window.tabs.setCurrentWidget(window.charts_host)
    assert window._charts is not None
    set_spin(window, qtbot, "kvHeads", 2)
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    window.tabs.setCurrentWidget(window.compare_page)
    box = window.compare_box
    box.setCurrentIndex(box.findData("mistral-7b"))
    table = window.compare_table
    texts = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert "Total" in texts
    row = texts.index("Total")
    assert table.item(row, 2).text() == engine_rows(find("mistral-7b").spec(), Workload())["paramsTotal"]
    # the figure columns are never clipped, and both diagrams start at a readable zoom
    metrics = table.fontMetrics()
    for column in (1, 2, 3):
        widest = max(metrics.horizontalAdvance(table.item(r, column).text()) for r in range(table.rowCount()))
        assert table.columnWidth(column) >= widest
    assert all(view.zoom_factor() >= 0.55 for view in window.compare_diagrams)


def test_compare_with_the_original_reads_as_the_side_panel_does(window, qtbot):
    """Halving KV heads shows the KV cache as "−… (−50.0%)" in the side panel; the Compare tab's
    difference column is the same figure (it used to show the opposite sign), and its two diagrams
    say which is the edited model."""
    from models.metrics import metric_rows
    set_spin(window, qtbot, "kvHeads", 4)
    window.tabs.setCurrentWidget(window.compare_page)
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    table = window.compare_table
    assert table.horizontalHeaderItem(3).text() == "Current − compared"
    row = [table.item(r, 0).text() for r in range(table.rowCount())].index("KV cache / state")
    side = {r.key: r for r in metric_rows(window.doc.report, window.doc.baseline_report)}["memKV"]
    assert table.item(row, 3).text() == side.delta_text and side.delta_text.startswith("−")
    assert [v.model().name for v in window.compare_diagrams] == ["Llama 3 8B (edited)", "Llama 3 8B (original)"]
    window.compare_box.setCurrentIndex(window.compare_box.findData("llama-3-8b"))   # its catalog entry
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    assert [v.model().name for v in window.compare_diagrams] == ["Llama 3 8B (edited)", "Llama 3 8B"]


def test_latency_of_a_setup_that_does_not_fit_is_shown_as_hypothetical(window, qtbot):
    """DeepSeek-V3 on one H100 does not fit: its latency figures are marked as what it would take
    if it did (greyed, the group titled so, the tooltip saying why), and lose the mark once it fits."""
    from PySide6.QtWidgets import QGroupBox
    window.open_catalog("deepseek-v3")
    latency = next(b for b in window.metrics.findChildren(QGroupBox) if b.title().startswith("Latency"))
    tpot = window.metrics.findChild(QLabel, "tpot")
    assert not window.doc.report.memory.fits
    assert latency.title() == "Latency (if it fit)" and "italic" in tpot.styleSheet()
    assert tpot.toolTip().startswith("It does not fit in memory")
    window.doc.set_workload("devices", 16, weights="fp8")
    assert window.doc.report.memory.fits and latency.title() == "Latency" and tpot.styleSheet() == ""


def test_charts_name_the_edited_model_and_its_original(window, qtbot):
    """An edited model and its original carried one name in every chart legend and title; the
    charts now say which is which, as the Compare tab does."""
    set_spin(window, qtbot, "kvHeads", 4)
    window.tabs.setCurrentWidget(window.charts_host)
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    charts = window._charts
    names = [label.text for _, label in charts.mem_plot.legend.items]
    assert "Llama 3 8B (original): total (parts dashed)" in names
    assert charts.mem_plot.title.startswith("Memory vs context: Llama 3 8B (edited) on ")
    lat = [label.text for _, label in charts.lat_plot.legend.items]
    assert any(n.startswith("Llama 3 8B (original) prefill: ") for n in lat)
    assert charts.lat_plot.title.startswith("Latency by operator kind: Llama 3 8B (edited) on ")


def test_charts_and_compare_mark_the_latency_of_a_model_that_does_not_fit(window, qtbot):
    """DeepSeek-V3 on one H100: the Latency and Thinking-budget charts and the Compare table showed
    its times as plain facts while the side panel marked them "if it fit"."""
    window.open_catalog("deepseek-v3")
    window.tabs.setCurrentWidget(window.charts_host)
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    charts = window._charts
    for plot in (charts.lat_plot, charts.think_plot):
        assert "(does not fit in memory: times as if it did)" in plot.title
    window.tabs.setCurrentWidget(window.compare_page)
    window.compare_box.setCurrentIndex(window.compare_box.findData("llama-3-8b"))
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    table = window.compare_table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    ttft = rows["Time to first token"]
    assert table.item(ttft, 1).text().endswith(" (if it fit)")         # DeepSeek-V3
    assert not table.item(ttft, 2).text().endswith(" (if it fit)")     # Llama 3 8B fits
    assert not table.item(rows["Total"], 1).text().endswith(" (if it fit)")
    window.doc.set_workload("devices", 16, weights="fp8")
    qtbot.waitUntil(lambda: not window._lazy_timer.isActive())
    assert not table.item(ttft, 1).text().endswith(" (if it fit)")


def test_settings_persist(window, tmp_path):
    window.set_theme("dark")
    window.close()
    from orbit_gui.settings import load_settings
    s = load_settings()
    assert s.theme == "dark" and s.last_model == "catalog:llama-3-8b" and s.geometry


def test_a_knob_change_still_in_its_debounce_stays_with_its_model_and_history(window, qtbot):
    """Opening a model, clicking a history row or resetting within the 120 ms debounce applies the
    pending change first, where it was made: it never lands on the next model or after the jump."""
    window.knobs.layers.setValue(10)              # pending, not yet sent
    assert window.open_catalog("mistral-7b")
    qtbot.wait(300)
    assert window.doc.state.edits == () and window.doc.spec.num_layers == 32
    set_spin(window, qtbot, "kvHeads", 4)
    window.knobs.batch.setValue(16)               # pending
    window._history_clicked(window.history.item(2))
    qtbot.wait(300)
    labels, current = window.doc.history()
    assert labels == ["open Llama 3 8B", "Layers = 10", "open Mistral 7B (v0.1)", "KV heads = 4", "Batch = 16"]
    assert current == 2 and window.doc.can_redo   # both steps can be redone
    window.doc.redo(), window.doc.redo()
    assert window.doc.state.workload.batch == 16
    window._history_clicked(window.history.item(1))
    assert window.doc.source.ref == "llama-3-8b" and window.doc.spec.num_layers == 10


def test_damaged_settings_still_open_the_window_and_the_device_is_restored(qtbot, tmp_path, monkeypatch):
    """A hand-edited settings file with a layout that is not base64 and recent files that are not
    paths opens the window at its default layout; the device chosen last time comes back."""
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps(
        {"version": 1, "geometry": "abc", "window_state": "abcde", "recent_files": [123, None, "x.json"],
         "hardware": "rtx-4090"}))
    from orbit_gui.app import create_window
    w = create_window("llama-3-8b")
    qtbot.addWidget(w)
    assert [a.text() for a in w.recent_menu.actions()] == ["x.json"]
    assert w.doc.state.workload.hardware == "rtx-4090"
    assert w.findChild(QComboBox, "hardware").currentData() == "rtx-4090"


def test_drop_config_file_opens_it(window, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDropEvent
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(find("mistral-7b").raw["hf_config"]))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(cfg))])
    event = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    assert shown(window, "paramsTotal") == "7.24B"
    assert window.doc.source.kind == "file"


def test_about_box_names_versions(window):
    window.about()
    box = [d for d in window.findChildren(QMessageBox) if d.objectName() == "aboutDialog"][-1]
    assert "Orbit Explorer" in box.text() and "Qt" in box.text()


def test_orbit_double_click_opens_architecture(window, qtbot):
    window.tabs.setCurrentWidget(window.orbit_host)
    assert window.orbit is not None
    with qtbot.waitSignal(window.orbit.modelActivated, timeout=2000):
        window.orbit.modelActivated.emit("deepseek-v3")
    assert window.doc.source.ref == "deepseek-v3"
    assert window.tabs.currentIndex() == 0
    assert shown(window, "paramsTotal") == "671.03B"


def test_orbit_follows_the_open_model(window):
    window.tabs.setCurrentWidget(window.orbit_host)
    window.open_catalog("mixtral-8x7b")
    assert window.orbit.view.selected() == "model:mixtral-8x7b"


def test_timeline_and_benchmarks_mark_and_name_the_open_model(window, qtbot, tmp_path):
    """DeepSeek-V3 sits among close neighbours on both plots (unnamed there before); opened, it is
    ringed and named first. A user's own file is in neither plot: no ring."""
    import numpy as np
    window.resize(1500, 950)
    window.tabs.setCurrentWidget(window.benchmark_host)
    window.open_catalog("deepseek-v3")
    # labels are placed again once the new tab is laid out (debounced)
    qtbot.waitUntil(lambda: "deepseek-v3" in window.benchmarks.labelled_ids(), timeout=3000)
    window.tabs.setCurrentWidget(window.timeline_host)
    qtbot.waitUntil(lambda: "deepseek-v3" in window.timeline.labelled_ids(), timeout=3000)
    b, t = window.benchmarks._by_id["deepseek-v3"], window.timeline._by_id["deepseek-v3"]
    (ring,) = window.benchmarks.current_ring.data
    assert (ring["x"], ring["y"]) == pytest.approx((b.x, b.y))
    (ring,) = window.timeline.current_ring.data
    assert (ring["x"], ring["y"]) == pytest.approx((t.date, np.log10(t.params_total)))
    cfg = tmp_path / "config.json"
    cfg.write_text('{"model_type": "llama", "hidden_size": 512, "intermediate_size": 1024, '
                   '"num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 1000}')
    assert window.open_path(str(cfg))
    assert len(window.timeline.current_ring.data) == 0 and len(window.benchmarks.current_ring.data) == 0


def _profile_options(**kw):
    return {"device": "cpu", "backends": ("torch",), "context": 32, "batch": 1, "repeats": 2, **kw}


def get_hardware_estimate(hardware_id: str) -> float:
    from models.hardware import local_cpu
    assert hardware_id == "cpu"
    return local_cpu().bandwidth


def test_profile_panel_runs_in_a_worker_and_calibrates(window, qtbot):
    window.open_catalog("qwen3-0.6b")
    window.knobs.hardware.setCurrentIndex(window.knobs.hardware.findData("cpu"))
    window.knobs.flush()
    window.tabs.setCurrentWidget(window.profile_host)
    panel = window.profiler
    streamed = []
    panel.table.model().rowsInserted.connect(lambda *a: streamed.append(1))
    axis = panel.chart.getPlotItem().getAxis("left")
    assert panel._hint.isVisible() and not axis.isVisible()     # the empty chart explains itself
    # no empty progress bar or blank summary band before the first run
    assert not panel.progress.isVisible() and not panel._summary_pane.isVisible()
    # when Run is enabled again, a click on it starts the next run (it was ignored while the
    # finished worker's thread wound down)
    show_result, ready = panel.show_result, []
    panel.show_result = lambda r: (ready.append(window._profile_thread is None), show_result(r))
    window.start_profile(_profile_options())
    assert panel.cancel_button.isEnabled()          # returned at once: the work is in a thread
    qtbot.waitUntil(lambda: window._profile_result is not None, timeout=120_000)
    result = window._profile_result
    assert ready == [True]
    assert result.status == "ok" and panel.table.rowCount() == len(result.blocks) == len(streamed)
    from widgets.profiler import COLUMNS
    peak = [panel.table.item(row, COLUMNS.index("Peak memory")).text() for row in range(panel.table.rowCount())]
    assert all(text.endswith(("B", "KiB", "MiB", "GiB")) for text, b in zip(peak, result.blocks)
               if b.peak_memory_bytes is not None) and any(b.peak_memory_bytes for b in result.blocks)
    assert result.whole_model.decode_s > 0 and "extrapolated" in panel.summary.text()
    assert panel.progress.isVisible() and panel._summary_pane.isVisible()
    assert axis.isVisible() and not panel._hint.isVisible()
    labels = [text for _, text in panel.chart.getAxis("left")._tickLevels[0]]
    # one chart row per timed table row; long block names are shortened, phase and backend never
    assert [tuple(text.split(" · ")[-2:]) for text in labels] == [(r.phase, r.backend) for r in result.blocks if r.ok]
    shown_before = panel.shown_predictions()
    assert shown_before == [b.predicted_s for b in result.blocks]
    before = window.doc.report.tpot_s
    qtbot.mouseClick(panel.calibrate_button, Qt.LeftButton)
    assert window.doc.report.tpot_s != before
    # the table and chart now show the calibrated predictions, which fit the measurements
    shown = panel.shown_predictions()
    from widgets.profiler import COLUMNS
    predicted_col = COLUMNS.index("Predicted")
    from models.metrics import fmt_seconds
    assert shown != shown_before and panel.table.item(0, predicted_col).text() == fmt_seconds(shown[0]) \
        != fmt_seconds(shown_before[0])
    decode = [(b.layers * b.p50_s, b.layers * p) for b, p in zip(result.blocks, shown)
              if b.phase == "decode" and b.backend == "torch"]
    assert 0.7 <= sum(p for _, p in decode) / sum(m for m, _ in decode) <= 1.4
    assert "ratio 1.00" in panel.summary.text() and "after" in panel.summary.text()
    # the fitted efficiency (whatever this CPU's timings make it) replaced the default
    from kernels.calibration import calibrate
    assert window.doc.state.workload.memory_efficiency == calibrate(result).memory_efficiency != 0.8
    # the window now costs this CPU with the bandwidth the profile measured, which the fitted
    # efficiencies are relative to (against the core-count estimate they would mispredict)
    from kernels.profiler import result_hardware
    from models.cost import cost_report
    assert window.doc.report.hardware.bandwidth == result.bandwidth != get_hardware_estimate("cpu")
    assert window.doc.report.tpot_s == cost_report(window.doc.spec, window.doc.state.workload,
                                                   result_hardware(result)).tpot_s
    # undo takes the efficiencies back; the bandwidth measured is a fact about this CPU and stays
    window.findChild(type(window.undo_action), "actionUndo").trigger()
    assert window.doc.state.workload.memory_efficiency == 0.8
    assert window.doc.report.tpot_s == cost_report(window.doc.spec, window.doc.state.workload,
                                                   result_hardware(result)).tpot_s


def test_profile_summary_has_a_whole_model_line_per_backend(qtbot):
    """ONNX Runtime times prefill and decode, so each backend gets its own whole-model line."""
    from block_cases import LAYOUTS, make_spec
    from kernels.profiler import ProfileRequest, profile
    from widgets.profiler import ProfilerPanel
    layer, kw = LAYOUTS["pre_rms"]
    result = profile(ProfileRequest(make_spec(layer, **kw), backends=("torch", "onnxruntime"), context=16,
                                    repeats=2, warmup=1))
    panel = ProfilerPanel()
    qtbot.addWidget(panel)
    panel.show_result(result)
    text = panel.summary.text()
    for backend in ("torch", "onnxruntime"):
        w = result.whole_by_backend[backend]
        assert w.decode_s and f"{backend}: prefill" in text and f"{w.decode_ratio:.2f}" in text


def test_the_profile_controls_stack_where_one_row_does_not_fit(window, qtbot):
    """At 1100 px with every dock open the Profile tab's controls needed ~590 px in a row, more than
    the tab had: Run and Cancel lay off-screen behind a scroll bar. There they stack two by two,
    Run in sight; with room they stand in one row again."""
    from PySide6.QtWidgets import QPushButton
    window.tabs.setCurrentWidget(window.profile_host)
    panel = window.profiler
    scroll = window.findChild(QWidget, "profileScroll")
    run = panel.findChild(QPushButton, "profileRun")
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: panel._stacked is True, timeout=2000)
    qtbot.waitUntil(lambda: panel.width() <= scroll.viewport().width())
    right = run.mapTo(scroll.viewport(), run.rect().topRight()).x()
    assert right <= scroll.viewport().width()
    window.resize(1900, 900)
    qtbot.waitUntil(lambda: panel._stacked is False, timeout=2000)


def test_profile_phase_boxes_choose_what_runs(window, qtbot):
    """Through the panel's own controls: decode only runs decode rows; no phase at all is a message."""
    from PySide6.QtWidgets import QCheckBox, QPushButton, QSpinBox
    window.open_catalog("qwen3-0.6b")
    window.tabs.setCurrentWidget(window.profile_host)
    panel = window.profiler
    panel.findChild(QSpinBox, "profileContext").setValue(16)
    panel.findChild(QSpinBox, "profileRepeats").setValue(2)
    prefill, decode = (panel.findChild(QCheckBox, f"phase_{p}") for p in ("prefill", "decode"))
    prefill.setChecked(False)
    decode.setChecked(False)
    qtbot.mouseClick(panel.findChild(QPushButton, "profileRun"), Qt.LeftButton)
    assert window._profile_thread is None and "prefill, decode or both" in panel.status.text()
    decode.setChecked(True)
    qtbot.mouseClick(panel.findChild(QPushButton, "profileRun"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window._profile_result is not None and window._profile_thread is None,
                    timeout=120_000)
    result = window._profile_result
    assert result.status == "ok" and {b.phase for b in result.blocks} == {"decode"}


def test_profile_cancel(window, qtbot):
    window.open_catalog("qwen3-0.6b")
    window.tabs.setCurrentWidget(window.profile_host)
    window.start_profile(_profile_options(backends=("torch", "sdpa"), repeats=50))
    window.cancel_profile()
    qtbot.waitUntil(lambda: window._profile_thread is None, timeout=120_000)
    assert window._profile_result.status == "cancelled"


_STUCK_CHILD = """
import json, sys, time
sys.stdin.readline()
print(json.dumps({"type": "block", "data": {"block": "b", "layers": 1, "phase": "prefill",
                                            "backend": "torch", "status": "ok"}}), flush=True)
time.sleep(600)        # inside a step that cannot stop: an export; 'cancel' on stdin goes unread
"""


def test_cancel_ends_a_child_stuck_in_a_step_and_keeps_what_streamed(window, qtbot, monkeypatch):
    """A profile stuck in a step that cannot stop halfway (an ONNX export of a large layer) is
    ended after the grace period; the blocks that streamed in make the cancelled result."""
    import sys

    from orbit_gui import workers
    monkeypatch.setattr(workers, "CANCEL_GRACE_S", 0.5)
    monkeypatch.setattr(workers.ProfileWorker, "_command", lambda self: ([sys.executable, "-c", _STUCK_CHILD], None))
    window.open_catalog("qwen3-0.6b")
    window.tabs.setCurrentWidget(window.profile_host)
    window.start_profile(_profile_options())
    qtbot.waitUntil(lambda: window.profiler.table.rowCount() == 1, timeout=30_000)
    window.cancel_profile()
    qtbot.waitUntil(lambda: window._profile_thread is None, timeout=30_000)
    result = window._profile_result
    assert result.status == "cancelled" and [b.block for b in result.blocks] == ["b"]
    assert "cancelled" in result.messages[0] and "status cancelled" in window.profiler.summary.text()


def test_profile_missing_gpu_is_a_message(window, qtbot):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    window.open_catalog("qwen3-0.6b")
    window.tabs.setCurrentWidget(window.profile_host)
    window.start_profile(_profile_options(device="cuda"))
    qtbot.waitUntil(lambda: window._profile_thread is None, timeout=60_000)
    r = window._profile_result
    assert r.status == "error" and "CUDA" in (r.message or " ".join(r.messages))


def test_unexpected_error_becomes_a_dialog(window, tmp_path, monkeypatch):
    import sys
    from orbit_gui.app import install_error_handler
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_error_handler(window)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    box = [d for d in window.findChildren(QMessageBox) if d.objectName() == "errorDialog"][-1]
    assert "RuntimeError: boom in a slot" in box.text() and "Traceback" not in box.text()
    assert "boom in a slot" in (tmp_path / "config" / "errors.log").read_text()
    assert window.doc.source.ref == "llama-3-8b"


def test_closing_the_window_while_workers_run_ends_them(qtbot, tmp_path, monkeypatch):
    """The Profile tab starts a device scan (a child process importing torch, seconds). Closing
    and deleting the window at once must end that process and its thread: Qt aborts the whole
    process when a running QThread is destroyed with its parent."""
    from orbit_gui import workers
    from orbit_gui.app import create_window
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    w = create_window("qwen3-0.6b")
    w.show()
    qtbot.waitExposed(w)
    w.tabs.setCurrentWidget(w.profile_host)
    assert w._scan_worker is not None
    qtbot.waitUntil(lambda: w._scan_worker._proc is not None, timeout=10_000)
    scan_proc = w._scan_worker._proc
    w.close()
    w.deleteLater()
    qtbot.waitUntil(lambda: not workers._LIVE, timeout=20_000)
    assert scan_proc.poll() is not None          # the child process ended too


def test_a_model_without_config_says_where_its_figures_come_from(window, qtbot):
    assert window.open_catalog("llama-65b")
    assert "stated figures" in window.statusBar().currentMessage()
    from widgets.browser import ModelBrowser
    browser = window.findChild(ModelBrowser)
    items = browser.tree.findItems("LLaMA 65B", Qt.MatchExactly | Qt.MatchRecursive)
    assert items and "stated figures" in items[0].toolTip(0)


def test_every_catalog_model_opens_in_every_view_without_error(window, qtbot, monkeypatch):
    """Each catalog architecture (configs, published-figure specs, hybrids, ALiBi, vision
    encoders) opens, draws its diagram folded and unfolded, and feeds the charts and compare
    tabs; any exception in a slot would reach sys.excepthook."""
    import sys
    raised = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: raised.append(exc))
    opened = 0
    for model_id, entry in catalog_entries():
        if not entry.has_spec:
            continue
        assert window.open_catalog(model_id), model_id
        for page in (window.charts_host, window.compare_page, window.tabs.widget(0)):
            window.tabs.setCurrentWidget(page)
            window._refresh_lazy()
        window.diagram.set_unfolded(True)
        window.diagram.set_unfolded(False)
        qtbot.wait(1)
        assert not raised, (model_id, raised[0][1])
        assert shown(window, "paramsTotal")
        opened += 1
    assert opened >= 70


def catalog_entries():
    from models.catalog import catalog
    return catalog().items()


def test_the_window_fits_a_1024_pixel_wide_screen_with_every_dock_open(window, qtbot):
    """Long combo items, a fixed-width status text and wide metric labels once made the window
    at least 1323 px wide: off the edge of a 1280 px laptop screen."""
    from PySide6.QtWidgets import QDockWidget
    assert all(d.isVisible() for d in window.findChildren(QDockWidget))
    window.open_catalog("deepseek-v3")
    for i in range(window.tabs.count()):          # every tab built (several are built on first show)
        window.tabs.setCurrentIndex(i)
        qtbot.wait(10)
        assert window.minimumSizeHint().width() <= 1024, window.tabs.tabText(i)
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.width() == 1024)
    # labels that give way in a narrow window still show their text at this width
    window.tabs.setCurrentWidget(window.benchmark_host)
    qtbot.waitUntil(lambda: window.benchmarks.count.width() > 20)
    assert window.status.width() > 150 and window.status.text()
    bar = window.tabs.tabBar()                   # every tab in sight, none behind scroll arrows
    assert all(0 <= bar.tabRect(i).left() and bar.tabRect(i).right() <= bar.width() for i in range(bar.count()))
    assert [window.tabs.tabToolTip(i) for i in range(bar.count())][-1] == "Profile"


def test_a_narrow_window_stacks_the_diagram_over_its_properties(window, qtbot):
    """At half a 1920-px screen the docks leave the central area ~350 px: side by side with the
    240-px properties panel the diagram kept a 100-px strip, the compared diagrams 150 px each.
    There each pane takes the whole width, one above the other (the compared diagrams where they
    are tall enough); with room they stand side by side."""
    from PySide6.QtWidgets import QSplitter
    split = window.findChild(QSplitter, "architectureSplit")
    pair = window.findChild(QSplitter, "compareDiagrams")
    window.resize(960, 1000)
    qtbot.waitUntil(lambda: split.orientation() == Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: window.diagram.width() == split.width())
    assert window.block_panel.width() == split.width() and window.diagram.height() > 300
    window.tabs.setCurrentWidget(window.compare_page)
    window.resize(960, 1300)              # under the figures' table the pair needs 560 px to stack
    qtbot.waitUntil(lambda: pair.orientation() == Qt.Orientation.Vertical)
    assert all(d.width() == pair.width() for d in window.compare_diagrams)
    window.resize(960, 700)               # stacked, each would be 150 px high
    qtbot.waitUntil(lambda: pair.orientation() == Qt.Orientation.Horizontal)
    window.resize(1900, 1000)
    qtbot.waitUntil(lambda: pair.orientation() == Qt.Orientation.Horizontal)
    window.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: split.orientation() == Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: window.diagram.width() > 500 and window.block_panel.width() >= 240)


def test_the_first_window_fits_the_screen(window):
    """The window opened at 1500 x 950 whatever the screen: a 1366 x 768 laptop lost its status bar
    below the screen's edge. A first window (no saved size) fits the screen's free area."""
    from orbit_gui.main_window import _first_size
    room = window.screen().availableGeometry()
    size = _first_size()
    assert size.width() <= room.width() and size.height() <= room.height()
    assert size.width() == min(1500, room.width() * 96 // 100)


def test_the_knob_dock_keeps_its_width_from_model_to_model(window, qtbot):
    """The bold fits verdict is one line: "Does not fit: 157.09 GiB needed, ..." widened the dock
    by 7 px for some models, shifting the whole central area. It wraps instead."""
    scroll = window.findChild(QWidget, "sideScroll")
    widths = set()
    for model in ("deepseek-v3", "qwen3-next-80b-a3b", "gpt-oss-120b", "llama-3-8b"):
        window.open_catalog(model)
        qtbot.wait(10)
        widths.add(scroll.minimumWidth())
    assert len(widths) == 1, widths


def test_local_global_sets_the_span_and_the_attention_box_keeps_head_sharing(window, qtbot):
    """Span (full or sliding) is the Local:global knob's; the Attention box shows how heads share
    K/V, so it never reads "gqa" just after "sliding" was chosen."""
    from PySide6.QtWidgets import QComboBox, QLineEdit
    box = window.knobs.findChild(QComboBox, "attentionKind")
    assert [box.itemText(i) for i in range(box.count())] == ["mha", "gqa", "mqa", "mla", "linear", "ssm"]
    ratio = window.knobs.findChild(QLineEdit, "localGlobal")
    ratio.setText("1:0")
    ratio.editingFinished.emit()
    window.knobs.flush()
    kinds = {m.kind for layer in window.doc.spec.layers for m in layer.mixers}
    assert kinds == {"sliding"} and box.currentText() == "gqa" and ratio.text() == "1:0"
    assert window.knobs.window.isEnabled()
    ratio.setText("0:1")
    ratio.editingFinished.emit()
    window.knobs.flush()
    assert {m.kind for layer in window.doc.spec.layers for m in layer.mixers} == {"full"}


def test_grouped_experts_step_a_group_at_a_time_and_a_count_they_cannot_split_is_named(window, qtbot):
    """DeepSeek-V3 routes within 8 expert groups: the arrows step 8 experts; a typed 100 is refused
    beside the knob with the reason, and the model shown keeps its 256."""
    from PySide6.QtWidgets import QSpinBox
    window.open_catalog("deepseek-v3")
    box = window.knobs.findChild(QSpinBox, "experts")
    assert box.value() == 256 and box.singleStep() == 8
    set_spin(window, qtbot, "experts", 100)
    error = window.knobs.findChild(QLabel, "expertsError")
    assert error.isVisible() and "multiple of 8" in error.text() and "best 4 of 8" in error.text()
    assert {f.experts for b in window.doc.spec.blocks.values() for f in b.ffns if hasattr(f, "experts")} == {256}
    window.open_catalog("mixtral-8x7b")
    assert box.singleStep() == 1


def test_expert_weights_knob(window):
    """gpt-oss's MXFP4 experts beside bf16 attention: the Expert weights box changes the weights
    memory to the engine's; "as weights" goes back; dense models have no experts to set."""
    box = window.knobs.findChild(QComboBox, "expertWeightsDtype")
    assert not box.isEnabled()                               # Llama 3 8B: dense
    window.open_catalog("gpt-oss-120b")
    assert box.isEnabled() and box.currentText() == "as weights"
    set_combo(window, "expertWeightsDtype", "fp4")
    spec = find("gpt-oss-120b").spec()
    assert window.doc.state.workload.expert_weights == "fp4"
    assert shown(window, "memWeights") == engine_rows(spec, Workload(expert_weights="fp4"))["memWeights"]
    set_combo(window, "expertWeightsDtype", "as weights")
    assert window.doc.state.workload.expert_weights == ""
    assert shown(window, "memWeights") == engine_rows(spec, Workload())["memWeights"]


def test_weights_as_shipped_button(window, qtbot):
    """Enabled where the opened config.json states its checkpoint's formats, with them in its
    tooltip; a click sets them (gpt-oss: MXFP4 experts) and the figures follow."""
    from PySide6.QtWidgets import QPushButton
    button = window.knobs.findChild(QPushButton, "asShippedButton")
    window.open_catalog("llama-65b")                     # the paper's table: no config
    assert not button.isEnabled()
    window.open_catalog("gpt-oss-120b")
    assert button.isEnabled() and "mxfp4" in button.toolTip()
    qtbot.mouseClick(button, Qt.LeftButton)
    assert window.knobs.findChild(QComboBox, "expertWeightsDtype").currentText() == "fp4"
    spec = find("gpt-oss-120b").spec()
    assert shown(window, "memWeights") == engine_rows(spec, Workload(expert_weights="fp4"))["memWeights"]
