"""The profiling engine, calibration and `orbit-explorer profile` on the CPU, with a real model's
dimensions (Qwen3-0.6B: hidden 1024, 28 identical layers) at a short context."""
from __future__ import annotations

import argparse
from dataclasses import replace
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from kernels.calibration import (apply_calibration, calibrate, calibrated_predictions,  # noqa: E402
                                 calibration_path, describe_fit, load_calibration, save_calibration)
from kernels.profiler import (HEAD_BLOCK, ProfileRequest, Profiler, profile, result_hardware)  # noqa: E402
from models.catalog import find  # noqa: E402
from models.cost import cost_report  # noqa: E402
from models import spec as S  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = 128


@pytest.fixture(scope="module")
def spec():
    return find("qwen3-0.6b").spec()


@pytest.fixture(scope="module")
def run(spec):
    """One profile with torch and ONNX Runtime, recording the stream and the progress."""
    streamed, progress = [], []
    req = ProfileRequest(spec, device="cpu", backends=("torch", "onnxruntime"), context=CONTEXT,
                         batch=1, repeats=10, warmup=2, threads=1)
    result = Profiler(req).run(progress=lambda f, text: progress.append((f, text)),
                               on_result=streamed.append)
    return result, streamed, progress


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))


def test_profile_runs_end_to_end(run, spec):
    result, _, _ = run
    assert result.status == "ok", result.messages
    assert result.device.startswith("CPU") and result.dtype == "fp32"
    assert any("float32" in m for m in result.messages)
    for name in dict.fromkeys(spec.layout):
        for phase, backend in (("prefill", "torch"), ("decode", "torch"), ("prefill", "onnxruntime"),
                               ("decode", "onnxruntime")):
            (r,) = result.find(name, phase, backend)
            assert r.status == "ok", (phase, backend, r.message)
            assert r.layers == spec.layout.count(name)
            assert 0 < r.p50_s <= r.p90_s <= r.p99_s
            assert r.samples >= 1
            assert r.achieved_flops_per_s > 0 and r.achieved_bytes_per_s > 0
            assert r.predicted_s > 0 and 0 < r.floor_s <= r.predicted_s
            assert r.roofline_pct == pytest.approx(100 * r.floor_s / r.p50_s)
            assert r.peak_memory_bytes is not None and r.peak_memory_bytes >= 0
            assert r.reference == "fp64" and r.rel_error < 1e-4, r.rel_error
        for phase in ("prefill", "decode"):
            (ort,) = result.find(name, phase, "onnxruntime")
            assert ort.provider == "CPU" and "CPU" in ort.message
    for phase in ("prefill", "decode"):
        (h,) = result.find(HEAD_BLOCK, phase, "torch")
        assert h.status == "ok" and h.p50_s > 0


def test_whole_model_is_extrapolated_and_reports_predicted_and_measured_decode(run, spec):
    result, _, _ = run
    w = result.whole_model
    assert w is not None and w.backend == "torch"
    assert result.extrapolated and w.extrapolated
    assert "extrapolated" in result.note and "extrapolated" in w.note
    assert w.decode_s > 0 and w.predicted_decode_s > 0 and w.decode_ratio > 0
    assert w.prefill_s > 0 and w.predicted_prefill_s > 0
    (layer,) = result.find("full+dense", "decode", "torch")
    (head,) = result.find(HEAD_BLOCK, "decode", "torch")
    assert w.decode_s == pytest.approx(layer.p50_s * spec.num_layers + head.p50_s)
    # ONNX Runtime times both phases of the layer; the head is torch's for every backend
    ort = result.whole_by_backend["onnxruntime"]
    (ort_layer,) = result.find("full+dense", "decode", "onnxruntime")
    assert ort.prefill_s > 0
    assert ort.decode_s == pytest.approx(ort_layer.p50_s * spec.num_layers + head.p50_s)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["whole_model"]["decode_s"] == pytest.approx(w.decode_s)


def test_results_stream_in_order_with_progress(run):
    result, streamed, progress = run
    assert streamed == result.blocks
    assert [(b.block, b.phase, b.backend) for b in streamed][:4] == [
        ("full+dense", "prefill", "torch"), ("full+dense", "prefill", "onnxruntime"),
        ("full+dense", "decode", "torch"), ("full+dense", "decode", "onnxruntime")]
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(isinstance(t, str) and t for _, t in progress)


def test_cancel_after_first_block_returns_partial_result(spec):
    got = []
    req = ProfileRequest(spec, backends=("torch",), context=32, repeats=2, warmup=1)
    result = profile(req, should_cancel=lambda: len(got) >= 1, on_result=got.append)
    assert result.status == "cancelled"
    assert len(result.blocks) == 1 and result.blocks[0].status == "ok"
    assert any("cancel" in m for m in result.messages)


def test_cancel_inside_timing_loop(spec):
    calls = []

    def should_cancel():
        calls.append(1)
        return len(calls) > 4          # a few checks into the first timing loop

    result = profile(ProfileRequest(spec, backends=("torch",), context=32, repeats=1000, warmup=1,
                                    max_seconds=60), should_cancel=should_cancel)
    assert len(calls) == 5             # it stopped at the first "yes", 995 runs short
    assert result.status == "cancelled"
    assert result.blocks[-1].status == "cancelled"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a CUDA device")
def test_cuda_without_a_device_is_an_error_result(spec):
    for device in ("cuda", "cuda:3"):
        result = profile(ProfileRequest(spec, device=device, backends=("torch",), context=16))
        assert result.status == "error"
        assert result.message.startswith("no CUDA device: ")
        assert result.blocks == []


def test_bad_device_and_backend_are_error_results(spec):
    assert "unknown device" in profile(ProfileRequest(spec, device="tpu")).message
    assert "unknown backend" in profile(ProfileRequest(spec, backends=("tensorflow",))).message


@pytest.mark.parametrize("change,expected", [
    ({"threads": -2}, "threads must be from 1"), ({"threads": 0}, "threads must be from 1"),
    ({"warmup": -1}, "warmup must be 0 or more"), ({"max_seconds": float("nan")}, "max_seconds must be"),
    ({"max_seconds": -1.0}, "max_seconds must be"), ({"repeats": 0}, "repeats must be a positive"),
    ({"weights": "int3"}, "weights takes int4")])
def test_impossible_run_settings_are_error_results_naming_them(spec, change, expected):
    """torch.set_num_threads(-2) raised out of the profiler; a negative warmup ran nothing."""
    result = profile(ProfileRequest(spec, **change))
    assert result.status == "error" and expected in result.message and not result.blocks


def test_impossible_memory_request_is_oom_without_allocating(spec, monkeypatch):
    def build(*_):
        raise AssertionError("a block was built although it cannot fit")
    monkeypatch.setattr(Profiler, "_build", build)
    result = profile(ProfileRequest(spec, backends=("torch", "sdpa"), context=1_000_000,
                                    batch=100_000, repeats=1))
    assert result.status == "ok" and result.blocks
    assert all(b.status == "oom" for b in result.blocks)
    assert all("not allocated" in b.message for b in result.blocks)
    assert all(b.peak_memory_bytes is None and b.p50_s is None for b in result.blocks)


def test_blocks_whose_export_would_unroll_are_not_sent_to_onnx_runtime():
    """A token-loop recurrence unrolls per token, a chunked one per 64 tokens, and the MoE loop per
    expert (the H100 run spent over two minutes exporting Qwen3-Next's first layer): past the
    limits such blocks are skipped with the reason."""
    from kernels.profiler import ORT_MAX_CHUNKS, ORT_MAX_RECURRENT_STEPS, ort_export_limit
    jamba = find("jamba-v0.1").spec()
    mamba1 = next(b for b in jamba.blocks.values() if b.mixers[0].__class__.__name__ == "SSM")
    mamba1 = replace(mamba1, ffns=mamba1.ffns[:0])                        # Mamba-1: token loop
    assert ort_export_limit(mamba1, ORT_MAX_RECURRENT_STEPS) is None
    assert "mamba1 recurrence unrolls" in ort_export_limit(mamba1, ORT_MAX_RECURRENT_STEPS + 1)
    mamba2 = find("mamba2-2.7b").spec()
    layer = next(iter(mamba2.blocks.values()))                            # Mamba-2: chunked SSD
    assert ort_export_limit(layer, 64 * ORT_MAX_CHUNKS) is None
    assert "chunked mamba2 prefill" in ort_export_limit(layer, 64 * ORT_MAX_CHUNKS + 1)
    qwen_next = find("qwen3-next-80b-a3b").spec()
    full = next(b for name, b in qwen_next.blocks.items() if name.startswith("full"))
    assert "unrolls its 512 experts" in ort_export_limit(full, 16)
    linear = next(b for name, b in qwen_next.blocks.items() if name.startswith("linear"))
    linear_dense = replace(linear, ffns=full.ffns[:0])     # its Gated DeltaNet alone: chunked prefill
    assert ort_export_limit(linear_dense, 64 * ORT_MAX_CHUNKS) is None
    assert "64-token chunk" in ort_export_limit(linear_dense, 64 * ORT_MAX_CHUNKS + 1)
    kimi = find("kimi-linear-48b-a3b").spec()
    kda = next(b for b in kimi.blocks.values() if b.mixers[0].__class__.__name__ == "LinearAttention")
    kda = replace(kda, ffns=())                                          # KDA: 16-token chunks
    assert ort_export_limit(kda, 16 * ORT_MAX_CHUNKS) is None
    assert "16-token chunk" in ort_export_limit(kda, 16 * ORT_MAX_CHUNKS + 1)
    llama = find("llama-3-8b").spec()
    assert all(ort_export_limit(b, 32768) is None for b in llama.blocks.values())
    result = profile(ProfileRequest(mamba2, backends=("onnxruntime",), phases=("prefill",),
                                    context=64 * ORT_MAX_CHUNKS + 1, repeats=1))
    skipped = [b for b in result.blocks if b.backend == "onnxruntime"]
    assert skipped and all(b.status == "skipped" and "unrolls" in b.message for b in skipped)


def test_calibration_brings_decode_prediction_within_range(run, spec):
    first, _, _ = run
    hw = result_hardware(first)            # the CPU with the bandwidth the profile measured
    cal = calibrate(first)
    assert cal.device_key == first.device_key and cal.device_key.startswith("cpu:")
    assert 0.01 <= cal.compute_efficiency <= 1 and 0.01 <= cal.memory_efficiency <= 1
    assert cal.samples >= 4
    base = first.workload()
    before = cost_report(spec, base, hw).decode.time_s
    after = cost_report(spec, apply_calibration(base, cal), hw).decode.time_s
    # it fits the fastest backend measured; on the run it was fitted to, the calibrated
    # prediction reproduces that backend's measurement, unless an efficiency had to stop at its
    # bound (a decode faster than the measured single-thread streaming bandwidth allows): then
    # the fit names it and the prediction stays on the slow side
    fitted = first.whole_by_backend[cal.backend]
    assert fitted.decode_s == min(w.decode_s for w in first.whole_by_backend.values())
    if "memory_efficiency" in cal.clamped:
        assert cal.memory_efficiency == 1.0 and after > fitted.decode_s
    else:
        assert after / fitted.decode_s == pytest.approx(1.0, rel=0.05)
    # ... and on a second, independent run of that backend it stays within 0.7-1.4
    # one thread, as the first run: CI's two cores may be shared with other jobs, and a neighbour
    # only ever slows a run down, so the faster of two runs is the machine's figure
    second = min((profile(ProfileRequest(spec, backends=(cal.backend,), context=CONTEXT, repeats=20,
                                         warmup=2, phases=("decode",), calibration=cal, threads=1))
                  for _ in range(2)), key=lambda r: r.whole_model.decode_s)
    measured = second.whole_model.decode_s
    ratio = after / measured
    print(f"decode/token measured {measured * 1e3:.1f} ms; predicted {before * 1e3:.1f} ms "
          f"before calibration (ratio {before / measured:.2f}), {after * 1e3:.1f} ms after "
          f"(ratio {ratio:.2f})")
    assert 0.7 <= ratio <= 1.4
    assert second.whole_model.predicted_decode_s == pytest.approx(after)
    assert any("calibration" in m for m in second.messages)


def test_calibrated_block_predictions_add_up_to_the_measured_phases(run):
    """Per-block predictions at the fitted efficiencies, weighted by the layers that use each block,
    sum to the measured time of each phase for the backend fitted (the calibration's defining
    property, recomputed block by block from the operator costs), and the fit's summary says so."""
    result, _, _ = run
    cal = calibrate(result)
    predicted = calibrated_predictions(result, cal)
    assert len(predicted) == len(result.blocks)
    for phase in ("prefill", "decode"):
        rows = [(b, p) for b, p in zip(result.blocks, predicted)
                if b.ok and b.phase == phase and (b.backend == cal.backend or b.block == HEAD_BLOCK and b.backend == "torch")]
        measured = sum(b.layers * b.p50_s for b, _ in rows)
        after = sum(b.layers * p for b, p in rows)
        assert after == pytest.approx(measured, rel=0.02) or cal.clamped, (phase, after, measured)
        assert after == pytest.approx(cal.fit[phase]["predicted_after_s"], rel=1e-9)
    assert any(line.startswith("decode") and "ratio 1.00" in line for line in describe_fit(cal)) or cal.clamped


def test_calibration_persists_per_device(run, tmp_path):
    first, _, _ = run
    cal = calibrate(first)
    path = save_calibration(cal)
    assert path == tmp_path / "config" / "calibration.json" == calibration_path()
    loaded = load_calibration(cal.device_key)
    assert loaded == cal
    other = type(cal)(device_key="cuda:Some GPU", compute_efficiency=0.5, memory_efficiency=0.9,
                      samples=3)
    save_calibration(other)
    assert load_calibration(cal.device_key) == cal
    assert load_calibration("cuda:Some GPU").memory_efficiency == 0.9
    assert load_calibration("cpu:another machine") is None
    explicit = tmp_path / "elsewhere"
    save_calibration(other, explicit)
    assert load_calibration("cuda:Some GPU", explicit) == other
    path.write_text("{not json", encoding="utf-8")
    assert load_calibration(cal.device_key) is None


def _profile_args(argv):
    from orbit_gui.profile_cli import add_profile_parser
    parser = argparse.ArgumentParser(prog="orbit-explorer")
    add_profile_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cmd_profile_json_and_calibrate(capsys, tmp_path):
    from orbit_gui.profile_cli import cmd_profile
    args = _profile_args(["profile", "qwen3-0.6b", "--device", "cpu", "--context", "64",
                          "--backends", "torch", "--repeats", "5", "--calibrate", "--json"])
    assert cmd_profile(args) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["status"] == "ok" and data["extrapolated"] is True
    assert {b["status"] for b in data["blocks"]} == {"ok"}
    cal = data["calibration"]
    assert cal["decode"]["measured_s"] > 0 and cal["decode"]["predicted_before_s"] > 0
    # calibration moves the prediction towards the measurement (the 0.7-1.4 bound on a held-out
    # run is checked by test_calibration_brings_decode_prediction_within_range)
    assert abs(cal["decode"]["ratio_after"] - 1) < abs(cal["decode"]["ratio_before"] - 1)
    assert (tmp_path / "config" / "calibration.json").exists()
    # the next run predicts with the saved calibration
    args = _profile_args(["profile", "qwen3-0.6b", "--context", "64", "--backends", "torch",
                          "--repeats", "3"])
    assert cmd_profile(args) == 0
    table = capsys.readouterr().out
    assert "decode/token" in table and "predictions use calibration" in table
    assert "full+dense" in table and "ratio" in table


def test_cmd_profile_decode_only(capsys):
    from orbit_gui.profile_cli import cmd_profile
    args = _profile_args(["profile", "qwen3-0.6b", "--context", "32", "--backends", "torch,onnxruntime",
                          "--phases", "decode", "--repeats", "2", "--json"])
    assert cmd_profile(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert {b["phase"] for b in data["blocks"]} == {"decode"}
    assert {b["status"] for b in data["blocks"]} == {"ok"}


def test_cmd_profile_errors_are_one_line(capsys):
    from orbit_gui.profile_cli import cmd_profile
    assert cmd_profile(_profile_args(["profile", "no-such-model-xyz"])) == 1
    err = capsys.readouterr().err
    assert err.startswith("orbit-explorer: error:") and err.count("\n") == 1
    assert cmd_profile(_profile_args(["profile", "qwen3-0.6b", "--backends", "cudnn"])) == 2
    assert "unknown backend" in capsys.readouterr().err
    assert cmd_profile(_profile_args(["profile", "qwen3-0.6b", "--phases", "decode,train"])) == 2
    err = capsys.readouterr().err
    assert "--phases takes prefill, decode or both" in err and err.count("\n") == 1
    if not torch.cuda.is_available():
        assert cmd_profile(_profile_args(["profile", "qwen3-0.6b", "--device", "cuda"])) == 1
        err = capsys.readouterr().err
        assert "no CUDA device" in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_refused_run_with_json_still_prints_its_object(capsys):
    """A script reads every outcome from stdout the same way; a person sees the reason on stderr."""
    from orbit_gui.profile_cli import cmd_profile
    assert cmd_profile(_profile_args(["profile", "qwen3-0.6b", "--threads", "-2", "--json"])) == 1
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["status"] == "error" and "threads must be from 1" in data["messages"][0]
    assert err == f"orbit-explorer: error: {data['messages'][0]}\n"


def test_cli_subprocess(tmp_path):
    env = {**__import__("os").environ, "ORBIT_EXPLORER_CONFIG_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "orbit_gui", "profile", "qwen3-0.6b", "--context",
                          "64", "--repeats", "3", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["whole_model"]["decode_s"] > 0 and data["whole_model"]["predicted_decode_s"] > 0
    statuses = {(b["backend"], b["status"]) for b in data["blocks"]}
    assert ("torch", "ok") in statuses and ("triton", "skipped") in statuses
    assert math.isfinite(data["whole_model"]["decode_ratio"])


@pytest.mark.parametrize("name", ["falcon_h1", "gdn_moe", "kda_dense", "jamba", "lightning_moe", "longcat",
                                  "phi3_longrope", "dynamic_ntk"])
def test_every_mixer_kind_gets_an_fp64_error_on_both_backends_and_phases(name):
    """Recurrent and hybrid layers, through torch and ONNX Runtime: each timing carries its error
    against the float64 copy (Mamba-2's float64 reference used to fail), small as fp32 rounding.
    Also RoPE picked by the sequence's reach (longrope, dynamic NTK), past its trained context here:
    the exported prefill graph keeps the choice for any length."""
    from block_cases import LAYOUTS, make_spec
    layer, kw = LAYOUTS[name]
    result = profile(ProfileRequest(make_spec(layer, **kw), backends=("torch", "onnxruntime"), context=24,
                                    repeats=2, warmup=1, include_head=False))
    assert len(result.blocks) == 4
    for r in result.blocks:
        assert r.status == "ok", (r.phase, r.backend, r.message)
        assert r.reference == "fp64" and r.rel_error < 1e-4, (r.phase, r.backend, r.reference, r.rel_error)


def test_a_block_never_exported_says_so_rather_than_out_of_memory(monkeypatch):
    """Over the expert limit, ONNX Runtime rows say the block is not exported, in both phases, even
    where its ONNX copy would not have fitted either (the reason that holds on any machine)."""
    from block_cases import ATTENTION, make_spec
    from kernels.profiler import ORT_MAX_EXPERTS, Profiler
    moe = S.MoEFFN(experts=ORT_MAX_EXPERTS + 2, top_k=2, d_expert=8)
    spec = make_spec(S.Layer((ATTENTION["gqa_bias"],), (moe,)))
    need = Profiler._need_bytes
    monkeypatch.setattr(Profiler, "_need_bytes",
                        lambda self, name: {**need(self, name), "ort": 1e15, "ort_decode": 1e15})
    result = profile(ProfileRequest(spec, backends=("onnxruntime",), context=16, repeats=1, warmup=0,
                                    include_head=False))
    assert [r.phase for r in result.blocks] == ["prefill", "decode"]
    for r in result.blocks:
        assert r.status == "skipped" and f"unrolls its {ORT_MAX_EXPERTS + 2} experts" in r.message, r.message


@pytest.mark.parametrize("name", ["mamba_only", "pre_rms"])
def test_onnx_runtime_is_not_run_where_its_copy_would_not_fit(monkeypatch, name):
    """ONNX Runtime's own copy of the weights (and the exported protobuf, on the CPU) is checked
    against free memory in both phases, for any mixer: Mixtral's layer once needed 2.3x its
    weights at the peak of its export and session."""
    from block_cases import LAYOUTS, make_spec
    from kernels.profiler import Profiler
    layer, kw = LAYOUTS[name]
    need = Profiler._need_bytes
    monkeypatch.setattr(Profiler, "_need_bytes",
                        lambda self, block: {**need(self, block), "ort": 1e15, "ort_decode": 1e15})
    result = profile(ProfileRequest(make_spec(layer, **kw), backends=("torch", "onnxruntime"), context=16,
                                    repeats=1, warmup=0, include_head=False))
    for r in result.blocks:
        if r.backend == "onnxruntime":
            assert r.status == "oom" and "its own copy of the weights" in r.message and "not run" in r.message
        else:
            assert r.status == "ok"


def test_a_saved_calibration_that_cannot_be_used_is_named_not_silently_dropped(capsys, tmp_path):
    """The autouse fixture keeps calibrations under tmp_path/config."""
    from kernels.profiler import device_key
    from orbit_gui.profile_cli import cmd_profile
    path = tmp_path / "config" / "calibration.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "devices": {device_key("cpu"): {
        "device_key": device_key("cpu"), "compute_efficiency": 0.5, "memory_efficiency": 0.7,
        "samples": 4, "measured_bandwidth": 38.0}}}))
    assert cmd_profile(_profile_args(["profile", "qwen3-0.6b", "--context", "16", "--backends", "torch",
                                      "--phases", "decode", "--repeats", "1", "--json"])) == 0
    err = capsys.readouterr().err
    assert f"the saved calibration of {device_key('cpu')} is ignored: measured_bandwidth" in err
