"""The document model (no Qt): edits are validated by the engine, refused edits change nothing,
undo and redo restore states exactly."""
from __future__ import annotations

import pytest

from models.catalog import find
from models.cost import Workload, cost_report
from models.overrides import apply_overrides
from models.spec import SpecError
from orbit_gui.document import Document


@pytest.fixture
def doc():
    d = Document(Workload(context=4096))
    d.open_catalog("llama-3-8b")
    return d


def test_edit_matches_engine(doc):
    assert doc.set_knob("kv_heads", 2) is None
    expected = cost_report(apply_overrides(find("llama-3-8b").spec(), {"kv_heads": 2}), Workload(context=4096))
    assert doc.report.memory.kv_cache == expected.memory.kv_cache
    assert doc.report.params.total == expected.params.total


def test_refused_edit_changes_nothing(doc):
    before = (doc.state, doc.report.params.total)
    events = []
    doc.events.rejected.connect(lambda k, m: events.append((k, m)))
    message = doc.set_knob("kv_heads", 3)
    assert message and "divisible" in message
    assert events and events[0][0] == "kv_heads"
    assert (doc.state, doc.report.params.total) == before
    assert not doc.can_undo


def test_undo_redo_restore_exactly(doc):
    r0 = doc.report
    doc.set_knob("kv_heads", 1)
    doc.set_workload("batch", 16)
    doc.set_knob("layers", 40)
    r3 = doc.report
    for _ in range(3):
        doc.undo()
    assert doc.report.params.total == r0.params.total and doc.report.ttft_s == r0.ttft_s
    assert doc.state.edits == () and doc.state.workload.batch == 1
    for _ in range(3):
        doc.redo()
    assert doc.report.params.total == r3.params.total and doc.report.tpot_s == r3.tpot_s
    labels, current = doc.history()
    assert current == 3 and labels[1:] == ["KV heads = 1", "Batch = 16", "Layers = 40"]
    doc.set_workload("hardware", "a100-sxm-80gb")
    doc.set_workload("compute_efficiency", 0.1234, memory_efficiency=0.5)
    assert doc.history()[0][-2:] == ["Device = NVIDIA A100 SXM4 80GB",
                                     "Compute efficiency = 0.123, Memory efficiency = 0.5"]


def test_new_edit_clears_redo(doc):
    doc.set_knob("kv_heads", 1)
    doc.undo()
    assert doc.can_redo
    doc.set_knob("kv_heads", 4)
    assert not doc.can_redo


def test_reset_is_undoable(doc):
    doc.set_knob("kv_heads", 1)
    doc.reset()
    assert doc.state.edits == ()
    doc.undo()
    assert doc.state.edits == (("kv_heads", "1"),)


def test_failed_open_keeps_current_model(doc, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    doc.set_knob("kv_heads", 1)
    with pytest.raises(SpecError):
        doc.open_file(bad)
    assert doc.source.ref == "llama-3-8b" and doc.state.edits == (("kv_heads", "1"),)


def test_save_and_reopen_edited_model(doc, tmp_path):
    doc.set_knob("local_global", "3:1")
    path = tmp_path / "edited.toml"
    doc.save_spec(path)
    other = Document(Workload(context=4096))
    other.open_file(path)
    assert other.report.params.total == doc.report.params.total
    assert other.report.memory.kv_cache == doc.report.memory.kv_cache


def test_workload_edit_rejects_bad_values(doc):
    assert doc.set_workload("batch", 0)
    assert doc.set_workload("weights", "int3")
    assert doc.state.workload.batch == 1


def test_a_refused_edit_names_the_setting_as_its_knob_does(doc):
    assert doc.set_knob("window", 512) == ("Window: Llama 3 8B has no sliding-window layers; set a local:global "
                                           "ratio first, such as 5:1 (or 1:0: every attention layer local)")
    assert doc.set_knob("kv_heads", 3).startswith("KV heads: heads (32) must be divisible")
    assert doc.set_knob("top_k", 2).startswith("Top-k: Llama 3 8B has no MoE layers")
