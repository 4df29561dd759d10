"""Routed experts in a weight format of their own (Workload.expert_weights): the engine's memory and
bandwidth, against OpenAI's published gpt-oss checkpoint sizes; the CLI flag; the knob."""
from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from models.catalog import find
from models.cost import Workload, cost_report
from models.dtypes import DTYPES
from models.spec import SpecError

GiB = 2 ** 30


@pytest.mark.parametrize("model_id, published_gib", [("gpt-oss-120b", 60.8), ("gpt-oss-20b", 12.8)])
def test_gpt_oss_checkpoints_are_the_published_size_with_mxfp4_experts(model_id, published_gib):
    """OpenAI's gpt-oss model card: MXFP4 MoE weights (4.25 bits with their block scales), the
    rest bf16; checkpoints of 60.8 GiB and 12.8 GiB."""
    report = cost_report(find(model_id).spec(), Workload(expert_weights="fp4"))
    assert report.memory.weights / GiB == pytest.approx(published_gib, abs=0.05)


def test_experts_at_the_weights_format_change_nothing():
    spec = find("mixtral-8x7b").spec()
    plain = cost_report(spec, Workload(weights="int4"))
    same = cost_report(spec, Workload(weights="int4", expert_weights="int4"))
    assert same.memory.weights == plain.memory.weights and same.tpot_s == plain.tpot_s


def test_a_dense_model_has_no_experts_to_change():
    spec = find("llama-3-8b").spec()
    assert cost_report(spec, Workload(expert_weights="fp4")).memory.weights == \
        cost_report(spec, Workload()).memory.weights


@settings(max_examples=30, deadline=None)
@given(weights=st.sampled_from(sorted(DTYPES)), experts=st.sampled_from(sorted(DTYPES)),
       model=st.sampled_from(["mixtral-8x7b", "deepseek-v3", "qwen3-30b-a3b", "jamba-v0.1"]))
def test_weights_split_exactly_between_the_experts_and_the_rest(weights, experts, model):
    """Weights memory = the model at ``weights`` + routed-expert matrices x (their bytes - the
    weights' bytes); decode reads fewer bytes exactly when the experts' format is smaller."""
    spec = find(model).spec()
    base = cost_report(spec, Workload(weights=weights))
    split = cost_report(spec, Workload(weights=weights, expert_weights=experts))
    routed = base.params.by_component["experts"].matrix
    delta = routed * (DTYPES[experts].bytes(128) - DTYPES[weights].bytes(128))
    assert split.memory.weights == pytest.approx(base.memory.weights + delta, rel=1e-12)
    if delta < 0:
        assert split.decode.bytes < base.decode.bytes
    elif delta > 0:
        assert split.decode.bytes > base.decode.bytes


def test_an_unknown_expert_format_is_named():
    with pytest.raises(SpecError) as err:
        Workload(expert_weights="fp3").validate()
    assert err.value.field == "expert_weights"


def test_cli_estimate_takes_expert_weights(capsys):
    from orbit_gui.cli import run as main
    assert main(["estimate", "gpt-oss-120b", "--expert-weights", "fp4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workload"]["expert_weights"] == "fp4"
    assert data["weights_bytes"] / GiB == pytest.approx(60.8, abs=0.05)
    assert main(["estimate", "gpt-oss-120b", "--expert-weights", "fp3"]) != 0
    assert "expert_weights" in capsys.readouterr().err


def test_a_saved_report_round_trips_the_expert_format(tmp_path):
    from orbit_gui.report_export import build_report, recompute
    spec = find("gpt-oss-20b").spec()
    data = build_report(spec, Workload(expert_weights="fp4"))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    again = recompute(json.loads(path.read_text()))
    assert again["weights_bytes"] == data["report"]["weights_bytes"]


def test_the_devices_chart_keeps_the_experts_format_in_every_row():
    from models.charts import devices_per_bitwidth
    spec = find("gpt-oss-120b").spec()
    wl = Workload(expert_weights="fp4")
    rows = {r.dtype: r for r in devices_per_bitwidth(spec, wl)}
    assert rows["bf16"].weights_bytes == cost_report(spec, wl).memory.weights
    assert rows["fp8"].weights_bytes == cost_report(spec, dataclasses.replace(wl, weights="fp8")).memory.weights
