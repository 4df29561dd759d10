"""The document model (no Qt): edits are validated by the engine, refused edits change nothing,
undo and redo restore states exactly."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.catalog import find
from models.charts import QUANT_FORMATS, chart_data
from models.cost import Workload, cost_report
from models.diagram import diagram_model
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


def test_opening_another_model_is_a_step_that_undo_takes_back_with_the_edits(doc):
    """A stray double-click in the browser loses nothing: Undo brings back the model before, with
    its edits and the figures they gave; each model's deltas are against its own original."""
    doc.set_knob("kv_heads", 2)
    edited = doc.report
    sources = []
    doc.events.source_changed.connect(lambda: sources.append(doc.source.ref))
    doc.open_catalog("mistral-7b")
    assert doc.state.edits == () and doc.baseline_report is doc.report
    doc.set_knob("layers", 8)
    assert doc.baseline_report.spec.num_layers == 32 and doc.report.spec.num_layers == 8
    assert doc.history() == (["open Llama 3 8B", "KV heads = 2", "open Mistral 7B (v0.1)", "Layers = 8"], 3)
    doc.undo(), doc.undo()
    assert sources == ["mistral-7b", "llama-3-8b"]
    assert doc.source.ref == "llama-3-8b" and doc.state.edits == (("kv_heads", "2"),)
    assert doc.report.memory.kv_cache == edited.memory.kv_cache
    assert doc.baseline_report.params.total == cost_report(find("llama-3-8b").spec(), doc.state.workload).params.total
    doc.redo(), doc.redo()
    assert doc.source.ref == "mistral-7b" and doc.spec.num_layers == 8
    assert sources[-1] == "mistral-7b"


def test_reopening_the_model_shown_is_a_step_only_when_it_was_edited(doc):
    doc.open_catalog("llama-3-8b")
    assert not doc.can_undo
    doc.set_knob("kv_heads", 2)
    doc.open_catalog("llama-3-8b")             # back to the published config, undoably
    assert doc.state.edits == () and doc.history()[0][-1] == "open Llama 3 8B"
    doc.undo()
    assert doc.state.edits == (("kv_heads", "2"),)


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


# ---- an edit acts on the model shown, whatever edits came before it
EDIT_CHOICES = {"attention": ["mha", "gqa", "mqa", "mla", "linear"], "kv_heads": ["1", "4"],
                "local_global": ["1:0", "3:1", "0:1"], "window": ["512", "2048"], "layers": ["4", "12"],
                "experts": ["4", "16"], "top_k": ["1", "2", "6"], "shared_experts": ["0", "2"]}


def test_re_editing_a_knob_after_an_edit_that_needed_it_is_accepted():
    """Top-k 1, experts 4, then top-k 2 is valid on the model shown; replaying a list from which
    the first top-k was dropped would have met the opened model's top-k 8 with 4 experts."""
    d = Document(Workload(context=4096))
    d.open_catalog("qwen3-30b-a3b")        # (DeepSeek-V3's expert groups would refuse 4 experts)
    for key, value in (("top_k", 1), ("experts", 4), ("top_k", 2)):
        assert d.set_knob(key, value) is None
    assert {b.ffn.top_k for b in d.spec.blocks.values() if hasattr(b.ffn, "top_k")} == {2}
    d.set_knob("top_k", 3)            # a knob stepped again: its last edit is replaced
    assert d.state.edits == (("top_k", "1"), ("experts", "4"), ("top_k", "3"))
    d.set_knob("experts", 16)
    d.set_knob("top_k", 6)            # the list stays short where replaying it gives the same model
    assert d.state.edits == (("experts", "16"), ("top_k", "6")) and d.spec == \
        apply_overrides(find("qwen3-30b-a3b").spec(), [("experts", "16"), ("top_k", "6")])


@settings(max_examples=80, deadline=None)
@given(model=st.sampled_from(["llama-3-8b", "mixtral-8x7b", "gemma-3-27b", "jamba-v0.1", "deepseek-v3"]),
       edits=st.lists(st.sampled_from([(k, v) for k, vs in EDIT_CHOICES.items() for v in vs]),
                      min_size=1, max_size=6))
def test_every_edit_is_judged_on_the_model_shown(model, edits):
    """Accepted exactly when applying it to the current spec is valid, and then the document holds
    that spec: an earlier edit of the same knob never changes the outcome."""
    d = Document(Workload(context=4096))
    d.open_catalog(model)
    for key, value in edits:
        before = d.spec
        try:
            expected = apply_overrides(before, [(key, value)])
            cost_report(expected, d.state.workload)
        except SpecError:
            expected = None
        refused = d.set_knob(key, value)
        if expected is None:
            assert refused and d.spec == before
        else:
            assert refused is None and d.spec == expected


def test_an_edit_of_layers_no_longer_in_use_is_refused_not_a_silent_no_op():
    """Jamba cut to 4 layers keeps only Mamba layers in use; its attention block is kept for when
    the layers come back, but choosing an attention kind has nothing to change now."""
    d = Document(Workload(context=4096))
    d.open_catalog("jamba-v0.1")
    assert d.set_knob("layers", 4) is None
    message = d.set_knob("attention", "mha")
    assert message and "its layers use state-space" in message and d.state.edits == (("layers", "4"),)


def test_a_jump_in_the_history_is_one_change_and_lands_where_single_steps_do(doc):
    for heads in (1, 2, 4):
        doc.set_knob("kv_heads", heads)
    doc.set_workload("batch", 8)
    changes = []
    doc.events.changed.connect(lambda: changes.append(doc.state))
    doc.go_to(1)
    assert len(changes) == 1 and doc.history()[1] == 1
    assert doc.state.edits == (("kv_heads", "1"),) and doc.state.workload.batch == 1
    assert doc.report.params.total == cost_report(doc.spec, doc.state.workload).params.total
    doc.go_to(4)
    assert len(changes) == 2 and doc.state.workload.batch == 8 and not doc.can_redo
    doc.undo(), doc.undo(), doc.undo()
    stepped = doc.state
    doc.go_to(4), doc.go_to(1)
    assert doc.state == stepped


VENDORED = sorted((Path(__file__).parent / "fixtures" / "hf_configs").glob("*.json"))


@pytest.mark.parametrize("path", VENDORED, ids=[p.stem for p in VENDORED])
def test_published_configs_of_new_types_open_and_every_view_model_builds(path):
    """Opening a published config.json of each newer type (per-head QK-norm, NoPE globals,
    parallel blocks, image encoders) gives a costed model whose diagram, charts and knobs build."""
    doc = Document(Workload(context=4096))
    doc.open_file(path)
    report = doc.report
    assert report.params.total > 0 and math.isfinite(report.tpot_s) and report.tpot_s > 0
    diagram = diagram_model(doc.spec, report)
    assert diagram.blocks and diagram.params_total == report.params.total
    assert sum(b.params * len(b.layers) for b in diagram.blocks.values()) <= report.params.total
    charts = chart_data(doc.spec, doc.state.workload, report)
    assert len(charts.quant) == len(QUANT_FORMATS) and charts.memory.contexts.size
    assert doc.set_knob("layers", doc.spec.num_layers - 1) is None       # an edit works on it
