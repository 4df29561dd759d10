"""ONNX export of the spec blocks and ONNX Runtime sessions (kernels/onnx_runtime.py): outputs
equal torch's on the CPU execution provider, batch and sequence axes are dynamic, a provider that
cannot load is named with its reason instead of ORT's log spew, and a corrupt file gives a clear
error."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kernels import onnx_runtime as ox  # noqa: E402
from kernels.blocks import build_block  # noqa: E402
from models import spec as S  # noqa: E402

D = 64
CPU = ("CPUExecutionProvider",)
BLOCKS = {
    "gqa_rope_qknorm": (S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="head"), {"rope_fraction": 0.5}),
    "sliding_sinks_bias": (S.Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=3, sinks=True,
                                       qkv_bias=True, out_bias=True), {}),
    "gated_output_mqa": (S.Attention(heads=4, kv_heads=1, head_dim=16, output_gate=True), {}),
    # Gemma 2: tanh soft-cap and a scale of its own, exported through the eager scores
    "softcap_scaled": (S.Attention(heads=4, kv_heads=2, head_dim=16, scale=0.4, softcap=1.0), {}),
    # RoPE picked by the sequence's reach: exported at 6 tokens, within the trained 8, and run at
    # 11, past it (longrope's long factors, dynamic NTK's grown base)
    "longrope_partial": (S.Attention(heads=4, kv_heads=2, head_dim=16), {"rope_fraction": 0.75, "rope_scaling": S.RopeScaling(
        kind="longrope", factor=4.0, original_context=8, attention_factor=1.3,
        short_factors=(1.0, 1.1, 1.3, 1.6, 2.0, 2.5), long_factors=(1.0, 2.0, 4.0, 7.0, 11.0, 16.0))}),
    "dynamic_ntk": (S.Attention(heads=4, kv_heads=2, head_dim=16),
                    {"rope_scaling": S.RopeScaling(kind="dynamic", factor=3.0, original_context=8)}),
    # Diff-Llama: two value heads side by side per pair of query heads, lambda, a weightless norm
    "differential": (S.Attention(heads=8, kv_heads=4, head_dim=8, differential=True), {}),
    "swiglu": (S.DenseFFN(d_ff=96), {}),
    "gelu_bias": (S.DenseFFN(d_ff=96, gated=False, activation="gelu_tanh", bias=True), {}),
    "moe_shared_sigmoid": (S.MoEFFN(experts=6, top_k=2, d_expert=16, shared_experts=1,
                                    router_score_bias=True), {}),
    "moe_gptoss": (S.MoEFFN(experts=4, top_k=2, d_expert=16, activation="swiglu_oai", router_bias=True,
                            expert_bias=True), {}),
    # DeepSeek-V2's group-limited greedy routing: 2 experts from the best 2 of 3 groups
    "moe_grouped": (S.MoEFFN(experts=6, top_k=2, d_expert=16, expert_groups=3, groups_per_token=2), {}),
}


def _export(tmp_path, name):
    part, kw = BLOCKS[name]
    torch.manual_seed(0)
    module = build_block(part, D, **kw).eval()
    info = ox.export_block(module, (torch.randn(2, 6, D),), tmp_path / f"{name}.onnx")
    return module, info


@pytest.mark.parametrize("name", list(BLOCKS))
def test_block_through_ort_cpu_matches_torch_at_two_lengths(tmp_path, name):
    module, info = _export(tmp_path, name)
    session, _ = ox.make_session(info.path, prefer=CPU)
    assert session.get_providers()[0] == "CPUExecutionProvider"
    for batch, seq in ((2, 6), (3, 11)):                  # the exported length and another one
        x = torch.randn(batch, seq, D)
        got = ox.run_io_binding(session, {"x": x}, "cpu")[0]
        with torch.no_grad():
            want = module(x).numpy()
        assert got.shape == (batch, seq, D)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)


def test_moe_is_exported_with_its_experts_apart_and_comes_back_unchanged(tmp_path, monkeypatch):
    """The export sees each expert's weights as parameters of their own (views of the stacked
    [E, D, F] tensors: slicing one stacked initializer per expert made ONNX shape inference copy it
    whole for every expert, minutes for gpt-oss-20b); the module computes the same, and afterwards
    holds the very same parameters."""
    part, _ = BLOCKS["moe_shared_sigmoid"]
    E = part.experts
    module = build_block(part, D).eval()
    before = dict(module.named_parameters())
    x = torch.randn(2, 6, D)
    with torch.no_grad():
        want = module(x)
        with module.experts_apart():
            assert isinstance(module.w_up, torch.nn.ParameterList) and len(module.w_up) == E
            assert module.w_down[1].data_ptr() == before["w_down"][1].data_ptr()      # a view, no copy
            torch.testing.assert_close(module(x), want)
    seen = []
    original = type(module).experts_apart

    def spy(self):
        seen.append(self)
        return original(self)
    monkeypatch.setattr(type(module), "experts_apart", spy)
    ox.export_block(module, (x,), tmp_path / "moe.onnx")
    assert seen == [module]
    after = dict(module.named_parameters())
    assert list(after) == list(before) and all(after[k] is before[k] for k in after)


def test_export_records_opset_exporter_and_dynamic_axes(tmp_path):
    _, info = _export(tmp_path, "gqa_rope_qknorm")
    assert info.exporter == "torchscript" and info.opset == ox.OPSET == 17
    model = onnx.load(str(info.path))
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq", D]
    assert info.dynamic_axes["y"] == {0: "batch", 1: "seq"}


def test_static_export_has_fixed_shapes(tmp_path):
    module = build_block(BLOCKS["swiglu"][0], D)
    info = ox.export_block(module, torch.randn(2, 5, D), tmp_path / "static.onnx", dynamic=False)
    dims = [d.dim_value for d in onnx.load(str(info.path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 5, D]


def test_auto_exporter_falls_back_and_says_so(tmp_path):
    module = build_block(BLOCKS["swiglu"][0], D)
    info = ox.export_block(module, torch.randn(1, 4, D), tmp_path / "auto.onnx", exporter="auto")
    if info.exporter == "torchscript":                   # dynamo needs onnxscript
        assert info.notes and info.notes[0].startswith("dynamo exporter failed")
    assert info.path.is_file()


def test_make_session_names_why_a_gpu_provider_was_not_used(tmp_path):
    """Without CUDA (or without its libraries) the session runs on the CPU and each GPU provider
    the build lists gets one message naming the cause; one the build does not list gets none."""
    _, info = _export(tmp_path, "swiglu")
    session, messages = ox.make_session(info.path)
    chosen = session.get_providers()[0]
    listed = ox.available_providers()
    if chosen == "CPUExecutionProvider":
        for provider, short in (("CUDAExecutionProvider", "CUDA"), ("TensorrtExecutionProvider", "TensorRT")):
            mine = [m for m in messages if m.startswith(f"{short} execution provider unavailable: ")]
            if provider in listed:
                assert len(mine) == 1 and mine[0].endswith("; using CPU")
                reason = mine[0].split("unavailable: ", 1)[1][: -len("; using CPU")]
                assert reason.strip()                     # e.g. "libcublasLt.so.13 missing"
            else:
                assert not mine                           # not even listed: nothing to explain
    else:                                                 # a GPU provider loaded: nothing about it
        assert not any(m.startswith(ox.short_name(chosen)) for m in messages)
    assert all(m.endswith(f"; using {ox.short_name(chosen)}") for m in messages)


def test_make_session_is_quiet(tmp_path, capfd):
    _, info = _export(tmp_path, "swiglu")
    capfd.readouterr()
    ox.make_session(info.path)
    out, err = capfd.readouterr()
    assert "EP Error" not in out and "[E:onnxruntime" not in err


def test_unlisted_provider_gives_no_message_and_load_failure_is_named(tmp_path, monkeypatch):
    _, info = _export(tmp_path, "swiglu")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    _, messages = ox.make_session(info.path)
    assert messages == []
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ox, "provider_load_error",
                        lambda p: "libcudnn.so.9 missing" if p == "CUDAExecutionProvider" else None)
    session, messages = ox.make_session(info.path)
    assert messages == ["CUDA execution provider unavailable: libcudnn.so.9 missing; using CPU"]
    assert session.get_providers()[0] == "CPUExecutionProvider"


def test_corrupt_or_missing_model_raises_a_clear_error(tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf model")
    with pytest.raises(ox.OnnxRuntimeError, match="corrupt.onnx"):
        ox.make_session(bad, prefer=CPU)
    _, info = _export(tmp_path, "swiglu")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(info.path.read_bytes()[:100])
    with pytest.raises(ox.OnnxRuntimeError, match="truncated.onnx"):
        ox.make_session(truncated)
    with pytest.raises(ox.OnnxRuntimeError, match="does not exist"):
        ox.make_session(tmp_path / "missing.onnx")
    assert issubclass(ox.OnnxRuntimeError, RuntimeError)


def test_run_errors_are_wrapped(tmp_path):
    _, info = _export(tmp_path, "swiglu")
    session, _ = ox.make_session(info.path, prefer=CPU)
    with pytest.raises(ox.OnnxRuntimeError, match="failed running"):
        ox.run_io_binding(session, {"x": np.zeros((1, 3, D + 1), np.float32)})


@pytest.mark.gpu
def test_io_binding_on_cuda_matches_torch(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    module, info = _export(tmp_path, "gqa_rope_qknorm")
    session, messages = ox.make_session(info.path, prefer=("CUDAExecutionProvider", "CPUExecutionProvider"))
    if ox.session_device(session) != "cuda":
        pytest.skip(f"CUDA execution provider did not load: {messages}")
    x = torch.randn(2, 9, D, device="cuda")
    got = ox.run_io_binding(session, {"x": x}, "cuda")[0]
    with torch.no_grad():
        want = module.cuda()(x).cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


def test_gpu_providers_run_on_the_given_cuda_stream_and_the_cpu_ignores_it():
    opts = ox._provider_options
    assert opts("CUDAExecutionProvider", 1, 1234) == {"device_id": 1, "user_compute_stream": "1234"}
    assert opts("TensorrtExecutionProvider", 0, 99) == {"device_id": 0, "user_compute_stream": "99"}
    assert opts("CUDAExecutionProvider", 0) == {"device_id": 0}           # no stream: ORT makes its own
    assert opts("ROCMExecutionProvider", 0, 5) == {"device_id": 0}         # a HIP stream is not a CUDA one
    assert opts("CPUExecutionProvider", 0, 5) == {}


def test_make_session_hands_the_stream_to_every_gpu_provider_it_tries(tmp_path, monkeypatch):
    """The stream reaches ORT with each GPU provider's options; the CPU session that results here
    (no CUDA) runs as usual."""
    _, info = _export(tmp_path, "swiglu")
    asked = []
    real = ort.InferenceSession

    def recording(path, sess_options=None, providers=()):
        asked.append(list(providers))
        return real(path, sess_options=sess_options, providers=["CPUExecutionProvider"])
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ox, "provider_load_error", lambda p: None)
    monkeypatch.setattr(ort, "InferenceSession", recording)
    session, _ = ox.make_session(info.path, compute_stream=4242)
    assert asked[0][0] == ("CUDAExecutionProvider", {"device_id": 0, "user_compute_stream": "4242"})
    assert asked[0][1] == ("CPUExecutionProvider", {})
    assert session.get_providers()[0] == "CPUExecutionProvider"


@pytest.mark.gpu
def test_a_session_on_torchs_stream_reads_what_torch_has_queued_before_it(tmp_path):
    """torch's write of a bound input is still queued behind a long kernel when ORT runs: on
    torch's stream ORT must wait for it (on a stream of its own it would read the old values)."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")

    class Double(torch.nn.Module):
        def forward(self, x):
            return x * 2

    info = ox.export_block(Double(), (torch.zeros(4, 8),), tmp_path / "double.onnx")
    stream = torch.cuda.current_stream().cuda_stream
    session, messages = ox.make_session(info.path, prefer=("CUDAExecutionProvider",), compute_stream=stream)
    if ox.session_device(session) != "cuda":
        pytest.skip(f"CUDA execution provider did not load: {messages}")
    assert session.get_provider_options()["CUDAExecutionProvider"]["user_compute_stream"] == str(stream)
    x, y = torch.zeros(256, 1024, device="cuda"), torch.empty(256, 1024, device="cuda")
    run = ox.bound_run(session, {"x": x}, {"y": y})
    for value in (1.0, 2.0, 3.0):
        torch.cuda._sleep(20_000_000)            # tens of ms of GPU time ahead of the write
        x.fill_(value)
        run()                                    # ORT synchronises its (torch's) stream before returning
        assert torch.equal(y.cpu(), torch.full((256, 1024), 2 * value))


def test_gpu_provider_check_preloads_cuda_quietly_and_names_what_is_missing(capsys):
    """The CUDA provider's check first preloads NVIDIA's pip-installed CUDA libraries; where there are
    none (this CPU machine) ORT's preload prints "Failed to load ...", which must not reach the user,
    and the check still names the missing library."""
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no CUDA provider")
    ox.preload_cuda_libraries.cache_clear()
    why = ox.provider_load_error("CUDAExecutionProvider")
    assert capsys.readouterr() == ("", "")
    if why is not None:  # on a machine without CUDA libraries
        assert "missing" in why or "not part of" in why or ".so" in why


def test_run_error_names_an_allocation_failure_and_its_node():
    """What ORT's CUDA EP raised on the H100 for Gemma 3 27B's prefill at B=8, S=8192."""
    text = ("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running "
            "FusedMatMul node. Name:'/inner/mixers.0/MatMul' Status Message: bfc_arena.cc:360 "
            "void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) "
            "Failed to allocate memory for requested buffer of size 34359738368")
    msg = ox.run_error_message(text, "cuda")
    assert msg == ("ONNX Runtime ran out of memory on cuda: a buffer of 32.0 GiB could not be "
                   "allocated (FusedMatMul node /inner/mixers.0/MatMul)")
    assert ox.run_error_message("bad input\nstack", "cpu") == \
        "ONNX Runtime failed running the model on cpu: bad input"

