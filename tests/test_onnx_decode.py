"""The decode step through ONNX Runtime (kernels/onnx_graphs.py): for every layer layout and every
attention and MLA variant, the exported step equals torch's ``DecoderLayer.step`` run for run
(recurrent states advancing through the two alternating buffers, cache rows written back), and the
optimised graph reads each KV or latent cache in place, only through matrix products: never copied,
concatenated or expanded per query head."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from block_cases import ATTENTION, FFNS, LAYOUTS, MLAS, D, make_spec, randomize  # noqa: E402
from models import spec as S  # noqa: E402
from kernels import onnx_runtime as ox  # noqa: E402
from kernels.blocks import build_layer  # noqa: E402
from kernels.onnx_graphs import DecodeRunner, decode_step_graph, flat_states, state_names  # noqa: E402

CPU = ("CPUExecutionProvider",)
B, PROMPT = 2, 7


# every attention variant (sinks, chunked, ALiBi-free NoPE, MQA ...) and MLA kind, each in a plain layer
CASES = {**LAYOUTS, **{f"attn_{n}": (S.Layer((a,), (FFNS["swiglu"],)), {}) for n, a in ATTENTION.items()},
         **{f"mla_{n}": (S.Layer((a,), (FFNS["swiglu"],)), {}) for n, a in MLAS.items()}}


def _prompted(name, device="cpu"):
    """(layer, token, state filled with the prompt) for a layout, in fp32."""
    layer, kw = CASES[name]
    torch.manual_seed(0)
    m = build_layer(make_spec(layer, **kw), layer)
    randomize(m)
    m = m.eval().to(device)
    x = torch.randn(B, PROMPT, D, device=device)
    xt = torch.randn(B, 1, D, device=device)
    states = m.new_state(B, PROMPT + 1)
    with torch.no_grad():
        m(x, states)
    return m, xt, states


def _export(tmp_path, m, xt, states):
    graph = decode_step_graph(m, states, PROMPT)
    info = ox.export_block(graph, (xt, *flat_states(states)), tmp_path / "step.onnx", dynamic=False,
                           input_names=graph.input_names, output_names=graph.output_names)
    return info.path


def _clone(states):
    return [{k: t.clone() for k, t in st.items()} for st in states]


@pytest.mark.parametrize("name", list(CASES))
def test_decode_step_through_ort_equals_torch_step_run_for_run(tmp_path, name):
    m, xt, states = _prompted(name)
    path = _export(tmp_path, m, xt, states)
    session, _ = ox.make_session(path, prefer=CPU)
    torch_states = _clone(states)
    runner = DecodeRunner(session, xt, states, PROMPT)     # runs its first step
    with torch.no_grad():
        want = m.step(xt, torch_states, PROMPT)
    torch.testing.assert_close(runner.first, want, atol=2e-5, rtol=1e-4)
    for _ in range(3):   # the same token again: recurrent states advance, the cache slot is rewritten
        got = runner()
        with torch.no_grad():
            want = m.step(xt, torch_states, PROMPT)
        torch.testing.assert_close(got, want, atol=5e-5, rtol=1e-4)
    for (i, key) in state_names(torch_states):
        torch.testing.assert_close(runner.state[i][key], torch_states[i][key], atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["pre_rms", "sandwich_gemma", "parallel_falcon_2norms", "longcat", "falcon_h1"])
def test_optimised_graph_reads_each_cache_in_place_through_matmuls(tmp_path, name):
    """What ORT runs (its optimised graph, saved) consumes every cache input only in MatMul or
    FusedMatMul (a transposed operand folded in): no Concat, Scatter, Expand or Transpose copy."""
    m, xt, states = _prompted(name)
    path = _export(tmp_path, m, xt, states)
    so = ort.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    so.log_severity_level = 3
    ort.InferenceSession(str(path), so, providers=list(CPU))
    graph = onnx.load(str(tmp_path / "optimised.onnx")).graph
    caches = [f"state{i}_{k}" for i, k in state_names(states) if k in ("k", "v", "c", "k_pe")]
    assert caches
    for name_ in caches:
        consumers = {n.op_type for n in graph.node if name_ in n.input}
        assert consumers and consumers <= {"MatMul", "FusedMatMul"}, (name_, consumers)


def test_decode_runner_binds_in_place_and_names_a_wrong_state(tmp_path):
    m, xt, states = _prompted("pre_rms")
    path = _export(tmp_path, m, xt, states)
    session, _ = ox.make_session(path, prefer=CPU)
    runner = DecodeRunner(session, xt, states, PROMPT)
    y = runner()
    assert runner() is y                                  # one output buffer, rewritten by each run
    assert runner.state[0]["k"] is states[0]["k"]         # the cache itself, not a copy
    bad = [{k: t[:, :, :-1].contiguous() for k, t in st.items()} for st in states]
    with pytest.raises(ox.OnnxRuntimeError, match="failed running"):
        DecodeRunner(session, xt, bad, PROMPT)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["pre_rms", "longcat", "gdn_moe"])
def test_decode_step_through_ort_cuda_equals_torch(tmp_path, name):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    m, xt, states = _prompted(name, "cuda")
    path = _export(tmp_path, m, xt, states)
    session, messages = ox.make_session(path, prefer=("CUDAExecutionProvider", "CPUExecutionProvider"))
    if ox.session_device(session) != "cuda":
        pytest.skip(f"CUDA execution provider did not load: {messages}")
    torch_states = _clone(states)
    runner = DecodeRunner(session, xt, states, PROMPT)
    got = runner()
    with torch.no_grad():
        m.step(xt, torch_states, PROMPT)
        want = m.step(xt, torch_states, PROMPT)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-3)
