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
    routed = base.params.expert_matrix
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


# --------------------------------------------------------------------------- as shipped

@pytest.mark.parametrize("model_id, changes", [
    ("gpt-oss-120b", dict(weights="bf16", expert_weights="fp4", embeddings="bf16")),     # mxfp4 experts
    ("deepseek-v3", dict(weights="fp8", expert_weights="", embeddings="bf16")),          # fp8, blocks of 128x128
    ("llama-3-8b", dict(weights="bf16", expert_weights="", embeddings="bf16")),          # torch_dtype only
])
def test_catalog_configs_say_how_their_checkpoints_are_stored(model_id, changes):
    from models.hf.checkpoint import shipped_formats
    assert shipped_formats(find(model_id).hf_config).workload_changes() == changes


@pytest.mark.parametrize("quantization, weights, group", [
    ({"quant_method": "awq", "bits": 4, "group_size": 128}, "int4", 128),
    ({"quant_method": "gptq", "bits": 8, "group_size": 32}, "int8", 32),
    ({"quant_method": "gptq", "bits": 4, "group_size": -1}, "int4", None),           # per channel
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "nf4", None),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {
        "weights": {"num_bits": 8, "type": "float", "strategy": "channel"}}}}, "fp8", None),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {
        "weights": {"num_bits": 4, "type": "int", "group_size": 128}}}}, "int4", 128),
    ({"quant_method": "bitnet"}, "ternary", None),
])
def test_quantizers_are_read(quantization, weights, group):
    from models.hf.checkpoint import shipped_formats
    shipped = shipped_formats({"torch_dtype": "float16", "quantization_config": quantization})
    assert (shipped.weights, shipped.group_size, shipped.embeddings) == (weights, group, "fp16")


def test_an_unknown_quantizer_or_no_dtype_says_nothing():
    from models.hf.checkpoint import shipped_formats
    assert shipped_formats({"quantization_config": {"quant_method": "hqq"}}) is None
    assert shipped_formats({"model_type": "llama"}) is None


def test_cli_as_shipped(capsys, tmp_path):
    from orbit_gui.cli import run
    assert run(["estimate", "gpt-oss-20b", "--as-shipped", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workload"]["expert_weights"] == "fp4" and data["weights_bytes"] / GiB == pytest.approx(12.8, abs=0.05)
    config = tmp_path / "config.json"          # a config file on disk carries its own
    config.write_text(json.dumps({**find("deepseek-v3").hf_config}))
    assert run(["estimate", str(config), "--as-shipped", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workload"]["weights"] == "fp8"
    assert run(["estimate", "llama-65b", "--as-shipped"]) == 1         # the paper's table, no config
    assert "states no checkpoint format" in capsys.readouterr().err


def test_the_document_sizes_a_model_as_shipped_in_one_undo_step():
    from orbit_gui.document import Document
    d = Document(Workload())
    d.open_catalog("gpt-oss-120b")
    assert d.shipped is not None and d.use_shipped_formats() is None
    assert (d.state.workload.weights, d.state.workload.expert_weights) == ("bf16", "fp4")
    labels, current = d.history()
    assert labels[current] == "Weights as shipped: bf16, experts fp4"
    d.undo()
    assert d.state.workload.expert_weights == ""
    d.open_catalog("llama-65b")
    assert d.shipped is None and "states no checkpoint format" in d.use_shipped_formats()


def test_estimate_says_when_the_checkpoint_ships_in_other_formats(capsys):
    """DeepSeek-V3 costed in bf16 while its config says fp8: a note says so and how to size it;
    none once --as-shipped is given, none for a bf16 model costed in bf16."""
    from orbit_gui.cli import run
    notes = {}
    for args in (["deepseek-v3"], ["deepseek-v3", "--as-shipped"], ["llama-3-8b"]):
        assert run(["estimate", *args]) == 0
        notes[" ".join(args)] = [line for line in capsys.readouterr().out.splitlines() if "--as-shipped" in line]
    assert len(notes["deepseek-v3"]) == 1 and "fp8" in notes["deepseek-v3"][0]
    assert notes["deepseek-v3 --as-shipped"] == [] and notes["llama-3-8b"] == []
