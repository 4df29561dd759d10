"""Saved profiles (kernels/profile_io.py): what is saved reads back as the same result, the CLI's
``--json`` output opens the same way, CSV rows carry the figures, and a file that is not a
profile raises one error naming the file and the problem, whatever JSON it holds."""
from __future__ import annotations

import argparse
import csv
import json
import math

import pytest

pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from block_cases import LAYOUTS, make_spec  # noqa: E402
from profile_strategies import MODEL, any_json, profile_shaped, typed_profile  # noqa: E402
from kernels.calibration import calibrate, calibrated_predictions  # noqa: E402
from kernels.profile_io import (CSV_COLUMNS, ProfileFileError, model_name, read_profile,  # noqa: E402
                                result_from_data, save_profile)
from kernels.profiler import ProfileRequest, profile  # noqa: E402
from models.spec_io import save_spec  # noqa: E402


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def spec():
    layer, kw = LAYOUTS["pre_rms"]
    return make_spec(layer, name=MODEL, **kw)


@pytest.fixture(scope="module")
def result(spec):
    return profile(ProfileRequest(spec, backends=("torch", "onnxruntime"), context=16, batch=2, repeats=3,
                                  warmup=1))


def test_a_saved_profile_reads_back_as_the_same_result(result, spec, tmp_path):
    assert result.status == "ok" and len(result.blocks) >= 4
    path = save_profile(result, tmp_path / "p.json")
    data = read_profile(path)
    assert model_name(data) == "tiny-profiled"
    back = result_from_data(data, spec)
    assert [b.to_dict() for b in back.blocks] == [b.to_dict() for b in result.blocks]
    assert {k: w.to_dict() for k, w in back.whole_by_backend.items()} == \
        {k: w.to_dict() for k, w in result.whole_by_backend.items()}
    assert back.request.to_dict() == result.request.to_dict()
    assert (back.device, back.device_key, back.peak_flops, back.bandwidth, back.dtype) == \
        (result.device, result.device_key, result.peak_flops, result.bandwidth, result.dtype)
    # what a loaded profile is for: calibrating from it gives what the live result gave
    live, loaded = calibrate(result), calibrate(back)
    assert (loaded.compute_efficiency, loaded.memory_efficiency) == (live.compute_efficiency, live.memory_efficiency)
    assert calibrated_predictions(back, loaded) == calibrated_predictions(result, live)


def test_a_profile_run_with_a_calibration_keeps_its_efficiencies(result, spec, tmp_path):
    """The predictions of a calibrated run were made at the fitted efficiencies; reloading keeps
    them, so a new fit reports the right 'before' figures."""
    cal = calibrate(result)
    calibrated = profile(ProfileRequest(spec, backends=("torch",), context=16, repeats=2, warmup=1,
                                        phases=("decode",), calibration=cal))
    path = save_profile(calibrated, tmp_path / "cal.json", calibration=cal)
    data = read_profile(path)
    assert data["calibration"]["memory_efficiency"] == cal.memory_efficiency      # the fit saved beside
    back = result_from_data(data, spec)
    assert back.request.calibration.memory_efficiency == cal.memory_efficiency
    assert back.workload().memory_efficiency == calibrated.workload().memory_efficiency != 0.8


def test_the_command_lines_json_opens_like_a_saved_profile(spec, tmp_path, capsys):
    from orbit_gui.profile_cli import add_profile_parser, cmd_profile
    spec_path = tmp_path / "tiny.json"
    save_spec(spec, spec_path)
    parser = argparse.ArgumentParser(prog="orbit-explorer")
    add_profile_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["profile", str(spec_path), "--context", "16", "--backends", "torch",
                              "--repeats", "2", "--json"])
    assert cmd_profile(args) == 0
    out = tmp_path / "from-cli.json"
    out.write_text(capsys.readouterr().out)
    data = read_profile(out)
    back = result_from_data(data, spec)
    assert [b.p50_s for b in back.blocks] == [b["p50_s"] for b in json.loads(out.read_text())["blocks"]]
    assert back.whole_model.decode_s > 0 and back.request.context == 16


def test_csv_rows_carry_the_figures(result, tmp_path):
    path = save_profile(result, tmp_path / "p.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 1 + len(result.blocks)
    col = {name: i for i, name in enumerate(CSV_COLUMNS)}
    for row, b in zip(rows[1:], result.blocks):
        assert (row[col["block"]], row[col["phase"]], row[col["backend"]]) == (b.block, b.phase, b.backend)
        assert float(row[col["p50_s"]]) == b.p50_s and float(row[col["predicted_s"]]) == b.predicted_s
        assert math.isclose(float(row[col["ratio"]]), b.ratio)


def test_a_failed_save_leaves_the_earlier_file_whole(result, tmp_path, monkeypatch):
    from models import spec_io
    path = save_profile(result, tmp_path / "p.json")
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(spec_io.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_profile(result, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["p.json"]


BAD = {
    "not json": ("{'request': ", "is not JSON"),
    "a list": ("[1, 2]", "expected a JSON object"),
    "no request": ('{"blocks": []}', "naming the model"),
    "no blocks": ('{"request": {"model": "m"}}', "no \"blocks\" list"),
    "nameless block": ('{"request": {"model": "m"}, "blocks": [{"block": "b", "phase": "decode"}]}',
                       "block 0 lacks"),
    "text time": ('{"request": {"model": "m"}, "blocks": [{"block": "b", "phase": "decode", "backend": "torch", '
                  '"p50_s": "fast"}]}', "p50_s is not a number"),
    "zero context": ('{"request": {"model": "m", "context": 0}, "blocks": []}', "request.context"),
    "fit of zero": ('{"request": {"model": "m"}, "blocks": [], "calibration": {"device_key": "cpu", "samples": 1, '
                    '"compute_efficiency": 0.5, "memory_efficiency": 0.5, "fit": {"decode": {"measured_s": 0, '
                    '"predicted_before_s": 1, "predicted_after_s": 1}}}}', "calibration: fit is not"),
    "NaN efficiency": ('{"request": {"model": "m"}, "blocks": [], "calibration": {"device_key": "cpu", "samples": 1, '
                       '"compute_efficiency": NaN, "memory_efficiency": 0.5}}',
                       "calibration: compute_efficiency is not a positive number"),
    "no device key": ('{"request": {"model": "m", "calibration": {"compute_efficiency": 0.3, '
                      '"memory_efficiency": 0.5, "samples": 1}}, "blocks": []}', "request.calibration: device_key"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_file_that_is_not_a_profile_names_the_problem(name, tmp_path):
    text, expected = BAD[name]
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ProfileFileError, match="bad.json") as err:
        read_profile(path)
    assert expected in str(err.value)


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(ProfileFileError, match="cannot read .*missing.json"):
        read_profile(tmp_path / "missing.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProfileFileError, match="binary.json"):
        read_profile(tmp_path / "binary.json")


@settings(max_examples=150, deadline=None)
@given(data=st.one_of(any_json, profile_shaped, typed_profile))
def test_any_json_is_read_as_a_profile_or_refused_with_a_message(spec, data, tmp_path_factory):
    """Whatever JSON a file holds, reading and rebuilding it gives a result or a ProfileFileError,
    never another exception."""
    path = tmp_path_factory.mktemp("any") / "p.json"
    path.write_text(json.dumps(data))
    try:
        result = result_from_data(read_profile(path), spec)
    except ProfileFileError as exc:
        assert str(exc)
    else:
        assert len(result.blocks) == len(data["blocks"])


@settings(max_examples=60, deadline=None)
@given(data=typed_profile)
def test_a_profile_with_fields_of_the_right_types_is_accepted(spec, data, tmp_path_factory):
    path = tmp_path_factory.mktemp("typed") / "p.json"
    path.write_text(json.dumps(data))
    result = result_from_data(read_profile(path), spec)
    assert [b.block for b in result.blocks] == [b["block"] for b in data["blocks"]]


def test_calibration_skips_timings_that_are_not_numbers_and_refuses_a_profile_without_peaks(result, spec,
                                                                                           tmp_path):
    """A hand-edited NaN timing is left out of the fit (it used to make the efficiencies NaN, saved
    before anything noticed); a profile without the device's peak figures cannot be fitted."""
    data = json.loads((save_profile(result, tmp_path / "p.json")).read_text())
    live = calibrate(result)
    first = next(i for i, b in enumerate(data["blocks"]) if b["backend"] == live.backend and b["p50_s"])
    data["blocks"].append(dict(data["blocks"][first], p50_s=float("nan")))
    (tmp_path / "nan.json").write_text(json.dumps(data))
    fitted = calibrate(result_from_data(read_profile(tmp_path / "nan.json"), spec))
    assert (fitted.compute_efficiency, fitted.memory_efficiency) == (live.compute_efficiency, live.memory_efficiency)
    data["peak_flops"] = 0
    with pytest.raises(ValueError, match="peak"):
        calibrate(result_from_data(data, spec))
