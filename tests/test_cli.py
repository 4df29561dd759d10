"""The command line contract: `list`, `estimate` (text and --json), errors without tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.catalog import find
from models.cost import Workload, cost_report
from models.spec import SpecError
from models.spec_io import spec_to_text
from orbit_gui.cli import resolve_model

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_KEYS = {"params_total", "params_active", "weights_bytes", "kv_cache_bytes", "flops_prefill",
                 "flops_decode_token", "ttft_s", "tpot_s", "tokens_per_s", "fits"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orbit_gui", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_estimate_json_contract_matches_engine():
    out = cli("estimate", "llama-3-8b", "--context", "8192", "--batch", "4", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert REQUIRED_KEYS <= data.keys()
    report = cost_report(find("llama-3-8b").spec(), Workload(context=8192, batch=4))
    assert data["params_total"] == report.params.total == 8_030_261_248
    assert data["kv_cache_bytes"] == report.memory.kv_cache == 32 * 2 * 8 * 128 * 8192 * 4 * 2
    assert data["flops_prefill"] == pytest.approx(report.prefill.flops)
    assert data["ttft_s"] == pytest.approx(report.ttft_s)
    assert isinstance(data["fits"], bool)
    assert data["prefill"]["ops"] and data["decode"]["ops"]


@pytest.mark.parametrize("context, shown", [
    (4096, "fits; largest batch 58, largest context 4096 (the context asked)"),
    (512, "fits; largest batch 465, largest context 1024 (the model's context length)")])
def test_the_largest_context_says_where_its_search_stopped(context, shown):
    """GPT-2 (trained on 1,024 tokens) asked for 4,096 fits: the largest context is not shown
    below the context that fits, and a cap is named as such, not mistaken for the memory's limit."""
    out = cli("estimate", "gpt-2", "--context", str(context))
    assert shown in out.stdout, out.stdout + out.stderr


def test_a_recurrence_without_a_stated_context_names_the_search_cap():
    out = cli("estimate", "mamba2-2.7b")
    assert "largest context 1048576 (the search's cap: the model states no context length)" in out.stdout


def test_estimate_set_changes_the_spec():
    base = json.loads(cli("estimate", "llama-3-8b", "--json").stdout)
    mqa = json.loads(cli("estimate", "llama-3-8b", "--set", "kv_heads=1", "--json").stdout)
    assert mqa["kv_cache_bytes"] * 8 == base["kv_cache_bytes"]
    assert mqa["params_total"] < base["params_total"]


def test_estimate_accepts_config_file_and_folder(tmp_path):
    config = find("mistral-7b").raw["hf_config"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    by_file = json.loads(cli("estimate", str(tmp_path / "config.json"), "--json").stdout)
    by_dir = json.loads(cli("estimate", str(tmp_path), "--json").stdout)
    assert by_file["params_total"] == by_dir["params_total"] == 7_241_732_096


def test_lookup_forgives_case_and_punctuation():
    assert cli("estimate", "Mixtral_8x7B").returncode == 0


@pytest.mark.parametrize("args,needle", [
    (["estimate", "llama-3-8bb"], "did you mean llama-3-8b"),
    (["estimate", "llama-3-8b", "--set", "kv_heads=3"], "kv_heads"),
    (["estimate", "llama-3-8b", "--set", "top_k=2"], "no MoE layers"),
    (["estimate", "mixtral-8x7b", "--set", "top_k=9"], "top_k"),
    (["estimate", "llama-3-8b", "--weights", "int3"], "unknown number format"),
    (["estimate", "llama-3-8b", "--hardware", "h1000"], "unknown device"),
    (["estimate", "gpt-4"], "not public"),
    (["estimate", "missing/config.json"], "no such file"),
])
def test_errors_are_one_line_without_traceback(args, needle):
    out = cli(*args)
    assert out.returncode != 0
    assert needle in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_unsupported_model_type_lists_supported(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    out = cli("estimate", str(tmp_path))
    assert out.returncode != 0 and "supported model types" in out.stderr and "qwen3_next" in out.stderr


def test_malformed_config_is_reported(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama", "hidden_size": ')
    out = cli("estimate", str(bad))
    assert out.returncode != 0 and "not valid JSON" in out.stderr


def test_list_models_and_hardware():
    models = json.loads(cli("list", "--json").stdout)
    assert {"llama-3-8b", "mixtral-8x7b", "deepseek-v3", "qwen3-0.6b", "gpt-oss-120b"} <= {m["id"] for m in models}
    hardware = json.loads(cli("list", "--hardware", "--json").stdout)
    assert {"h100-sxm", "h100-pcie", "h200-sxm", "b200", "cpu"} <= {h["id"] for h in hardware}


def test_list_model_types_names_every_importable_config_type():
    from models.hf import SUPPORTED_MODEL_TYPES
    rows = json.loads(cli("list", "--model-types", "--json").stdout)
    assert [r["model_type"] for r in rows] == list(SUPPORTED_MODEL_TYPES)
    assert {r["model_type"] for r in rows if r["image_text"]} == {"gemma3", "llama4", "mistral3", "qwen2_vl",
                                                                   "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe",
                                                                   "qwen3_5", "qwen3_5_moe", "llava", "llava_next",
                                                                   "llava_onevision", "lfm2_vl",
                                                                   "idefics3", "smolvlm", "aya_vision",
                                                                   "internvl", "glm4v", "glm4v_moe", "gemma3n",
                                                                   "gemma4", "gemma4_unified", "aria", "fuyu",
                                                                   "kimi_k25", "cohere2_vision", "paligemma",
                                                                   "shieldgemma2", "glm46v", "glmga", "cosmos3_omni",
                                                                   "llava_next_video", "video_llava", "vipllava",
                                                                   "lighton_ocr", "exaone4_5", "hyperclovax_vision_v2",
                                                                   "lfm3_vl", "idefics2", "minicpmv4_6", "minicpmv4_7",
                                                                   "minicpm_ocr", "qianfan_ocr", "mllama", "paddleocr_vl",
                                                                   "qwen2_5_omni_thinker", "qwen3_omni_moe_thinker",
                                                                   "deepseek_vl", "video_llama_3", "got_ocr2",
                                                                   "blip-2", "instructblip", "instructblipvideo", "glm_ocr"}
    text = cli("list", "--model-types").stdout
    assert "qwen2_5_vl  (image-text" in text and "\nllama\n" in text


def test_list_says_where_each_architecture_comes_from():
    rows = {m["id"]: m for m in json.loads(cli("list", "--json").stdout)}
    assert rows["llama-3-8b"]["provenance"] == "config"       # the published config.json
    assert rows["llama-65b"]["provenance"] == "published"     # the paper's figures
    assert rows["gpt-4"]["provenance"] == "none" and not rows["gpt-4"]["has_spec"]
    text = cli("list").stdout
    assert "gpt-4 " in text and "architecture not public" in text.split("gpt-4 ")[1].splitlines()[0]


@pytest.mark.parametrize("args", [[], ["gui", "llama-3-8b"]])
def test_the_app_without_a_display_says_so_in_one_line(args, tmp_path):
    """Qt's xcb plugin aborts (exit 134) after lines about plugins; the app says why first."""
    import os
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["ORBIT_EXPLORER_CONFIG_DIR"] = str(tmp_path)
    run = subprocess.run([sys.executable, "-m", "orbit_gui", *args], env=env, capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("orbit-explorer: error: no display") and len(run.stderr.splitlines()) == 1


def test_a_display_or_a_chosen_platform_lets_the_window_open():
    from orbit_gui.app import no_display_reason
    assert no_display_reason({"DISPLAY": ":0"}, "linux") is None
    assert no_display_reason({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert no_display_reason({}, "darwin") is None and no_display_reason({}, "linux")


def test_model_arguments_that_used_to_mislead(tmp_path, monkeypatch, capsys):
    """An empty MODEL, a download folder named like a catalog id without its config.json, and a spec
    whose format has a typo each get the message that fits them."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match="model: is empty"):
        resolve_model(" ")
    (tmp_path / "llama-3-8b").mkdir()
    assert resolve_model("llama-3-8b").name == "Llama 3 8B"
    spec_text = spec_to_text(find("qwen3-0.6b").spec(), "json").replace('"orbit-spec"', '"orbit_spec"')
    (tmp_path / "q.json").write_text(spec_text)
    with pytest.raises(SpecError, match="format: must be 'orbit-spec'"):
        resolve_model("q.json")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failed_write_to_stdout_is_one_line():
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "-m", "orbit_gui", "estimate", "llama-3-8b"], stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 1 and run.stderr == "orbit-explorer: error: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("model,edits", [("mixtral-8x7b", [("experts", "1"), ("top_k", "1")]),
                                         ("llama-3-8b", [("heads", "12"), ("kv_heads", "4")])])
def test_set_edits_describe_a_target_in_any_order(model, edits):
    """experts=1 then top_k=1 was refused (top-k 2 of 1 expert) while the reverse order worked."""
    from models.overrides import apply_assignments, apply_overrides
    spec = find(model).spec()
    assert apply_assignments(spec, edits) == apply_overrides(spec, edits[::-1])
    with pytest.raises(SpecError, match="divisible"):
        apply_assignments(spec, [("heads", "12"), ("kv_heads", "5")])


def test_sweep_rows_are_the_engines_figures_for_each_combination():
    """Every row of `sweep --json` is what cost_report gives for that combination (as `estimate`
    prints it), in the order hardware, gpus, weights, kv, context, batch; 32k is 32,768 tokens."""
    out = cli("sweep", "mixtral-8x7b", "--hardware", "h100-sxm,a100-sxm-80gb", "--gpus", "1,2", "--weights", "bf16,int4",
              "--context", "4096,32k", "--batch", "1,8", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rows = data["rows"]
    assert len(rows) == 2 ** 5 and data["fixed"] == {"kv": "bf16"}
    assert [r["context"] for r in rows[:4]] == [4096, 4096, 32768, 32768]
    assert [(r["hardware"], r["gpus"], r["weights"]) for r in rows[::8]] == [
        ("h100-sxm", 1, "bf16"), ("h100-sxm", 2, "bf16"), ("a100-sxm-80gb", 1, "bf16"), ("a100-sxm-80gb", 2, "bf16")]
    spec = find("mixtral-8x7b").spec()
    for r in rows:
        report = cost_report(spec, Workload(hardware=r["hardware"], devices=r["gpus"], weights=r["weights"],
                                            context=r["context"], batch=r["batch"]))
        assert r["memory_per_device_bytes"] == pytest.approx(report.memory.per_device)
        assert r["fits"] is report.memory.fits
        assert r["tpot_s"] == pytest.approx(report.tpot_s) and r["ttft_s"] == pytest.approx(report.ttft_s)
        assert r["max_batch"] == report.max_batch
    assert {r["fits"] for r in rows} == {True, False}      # the sweep crosses the memory's edge


def test_sweep_table_fits_only_and_csv():
    """The table shows the swept columns and numbers each note; --fits-only drops the rest; CSV
    has one row per combination."""
    out = cli("sweep", "deepseek-v3", "--gpus", "8", "--weights", "fp8,int4", "--context", "4k")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("DeepSeek-V3") and "gpus 8" in lines[0]
    assert lines[1].split()[:2] == ["weights", "per"]
    fp8, int4 = lines[2].split(), lines[3].split()
    assert fp8[0] == "fp8" and fp8[3] == "NO" and fp8[-1] == "1"          # 83 GiB of 80 per device
    assert int4[0] == "int4" and int4[3] == "yes"
    assert lines[4].startswith("  1: not even one token fits")
    fitting = cli("sweep", "deepseek-v3", "--gpus", "8", "--weights", "fp8,int4", "--context", "4k", "--fits-only")
    assert [line.split()[0] for line in fitting.stdout.splitlines()[2:]] == ["int4"]
    table = cli("sweep", "llama-3-8b", "--batch", "1,2,4", "--csv").stdout.splitlines()
    assert table[0].startswith("hardware,gpus,weights,kv,context,batch,memory_per_device_bytes")
    assert [line.split(",")[5] for line in table[1:]] == ["1", "2", "4"]


@pytest.mark.parametrize("args, message", [
    (("--context", "4k,x"), "context: 'x' is not a count (write 4096, 32k or 1M)"),
    (("--hardware", "h100-sxm,h9000"), "hardware: unknown device 'h9000'"),
    (("--weights", "bf16,,int4"), "weights: 'bf16,,int4' has an empty item"),
    (("--weights", "int3"), "weights: unknown number format 'int3'"),
    (("--batch", "1,0"), "batch: must be a positive integer, got 0"),
    (("--gpus", "8,0"), "gpus: must be a positive integer, got 0"),
    (("--batch", "1,2,3,4,5,6,7,8,9,10,11,12", "--context", "1,2,3,4,5,6,7,8,9,10", "--gpus", "1,2,3,4,5,6,7,8,9,10",
      "--weights", "bf16,fp8,int4,int8,nf4,fp4,fp16,fp32,ternary,bf16"), "10,800 combinations; at most 10,000"),
    (("--as-shipped", "--weights", "bf16,fp8"), "--as-shipped takes the weight format from config.json")])
def test_sweep_refuses_a_bad_value_before_costing_anything(args, message):
    out = cli("sweep", "deepseek-v3", *args)
    assert out.returncode == 1 and not out.stdout
    assert message in out.stderr and "Traceback" not in out.stderr
