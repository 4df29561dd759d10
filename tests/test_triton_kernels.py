"""Correctness of the Triton kernels against float64 torch references.

Every check draws fresh random inputs (the seed is in the failure message), computes the reference
from float64 copies of the kernel's inputs, poisons the output buffer with NaN before the kernel
writes it, and compares by relative error ||out - ref|| / ||ref||. Cases marked ``gpu`` use real
model sizes and need CUDA. Without CUDA the small cases run in Triton's interpreter; it must be on
before the kernel modules are decorated, so if another test imported them first, this file runs
itself again in a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

CUDA = torch.cuda.is_available()
if not CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from triton.runtime.interpreter import InterpretedFunction  # noqa: E402

from kernels.triton_ops import decode_attention as da  # noqa: E402
from kernels.triton_ops import arrivals, int4_gemm, mla_decode, moe, reference, rmsnorm  # noqa: E402

DEVICE = "cuda" if CUDA else "cpu"
IN_PROCESS = CUDA or isinstance(rmsnorm._rmsnorm_kernel, InterpretedFunction)
in_process = pytest.mark.skipif(not IN_PROCESS, reason="kernels were compiled for a GPU before the "
                                "interpreter was enabled; test_interpreter_in_subprocess runs them")
GPU = (pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs CUDA"))
TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}
DTYPES = (torch.float32, torch.bfloat16)


def gpu(*values):
    """A parametrize case at real model sizes: marked ``gpu`` and skipped without CUDA."""
    return pytest.param(*values, marks=GPU)


@pytest.fixture
def seed():
    value = int.from_bytes(os.urandom(4), "little")
    torch.manual_seed(value)
    return value


def randn(*shape, dtype=torch.float32, scale=1.0):
    return (torch.randn(*shape, device=DEVICE) * scale).to(dtype)


def poisoned(*shape, dtype):
    return torch.full(shape, float("nan"), dtype=dtype, device=DEVICE)


def f64(*tensors):
    return [t.double() for t in tensors]


def assert_close(out, ref, dtype, seed):
    assert torch.isfinite(out).all(), f"non-finite or unwritten outputs (seed {seed})"
    err = ((out.double() - ref).norm() / ref.norm()).item()
    assert err <= TOL[dtype], f"relative error {err:.2e} > {TOL[dtype]:.0e} (seed {seed})"


def random_lens(batch, max_len):
    """Per-sequence cache lengths in [1, max_len], the first one full."""
    lens = torch.randint(1, max_len + 1, (batch,), dtype=torch.int32, device=DEVICE)
    lens[0] = max_len
    return lens


@in_process
@pytest.mark.parametrize("dtype", (*DTYPES, torch.float16))
@pytest.mark.parametrize("zero_centered", (False, True))
@pytest.mark.parametrize("rows, dim", ((7, 100), (3, 256), gpu(4096, 7168)))
def test_rms_norm(seed, dtype, zero_centered, rows, dim):
    x, weight = randn(2, rows, dim, dtype=dtype), randn(dim, dtype=dtype, scale=0.5)
    out = rmsnorm.rms_norm(x, weight, 1e-6, zero_centered=zero_centered, out=poisoned(2, rows, dim, dtype=dtype))
    ref = reference.rms_norm(*f64(x, weight), 1e-6, zero_centered=zero_centered)
    assert_close(out, ref, dtype, seed)


GQA = ((8, 8), (8, 2), (16, 2), (8, 1))  # (H, KVH): group sizes 1, 4, 8 and MQA


@in_process
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads, kv_heads", GQA)
@pytest.mark.parametrize("window", (None, 16, 200))  # none, shorter and longer than the cache
@pytest.mark.parametrize("batch, max_len, head_dim, num_splits, fused_merge",  # 1 split: phase 1 writes out
                         ((3, 80, 32, None, True), (2, 50, 24, 3, True), (2, 50, 24, 3, False), (2, 50, 24, 1, True)))
def test_decode_attention_small(seed, dtype, heads, kv_heads, window, batch, max_len, head_dim, num_splits,
                                fused_merge):
    check_decode_attention(seed, dtype, batch, heads, kv_heads, max_len, head_dim, window, num_splits, block_n=16,
                           fused_merge=fused_merge)


def test_outgrown_arrival_counters_stay_allocated():
    """A CUDA graph captured with the old counter buffer keeps its address; growing the buffer must
    not free the old one, or the graph's replays would write into freed memory."""
    device = torch.device("cpu")
    small = arrivals.arrival_counters(device, 8)
    big = arrivals.arrival_counters(device, small.numel() + 1)
    assert big.numel() > small.numel() and not big.any()
    assert any(t is small for t in arrivals._OUTGROWN)
    assert arrivals.arrival_counters(device, 8) is big


@in_process
def test_fused_merge_leaves_its_counters_at_zero_for_the_next_call(seed):
    """The fused merge counts split programs in kept counters; each call must leave them at zero, or the
    next call's 'last program' is the wrong one (then its output misses splits)."""
    q, k, v = randn(3, 8, 24), randn(3, 2, 50, 24), randn(3, 2, 50, 24)
    lens = random_lens(3, 50)
    ref = reference.decode_attention(*f64(q, k, v), lens)
    for splits in (3, 4, 2):  # a different split count each call: stale counts would misfire
        out = da.decode_attention(q, k, v, lens, num_splits=splits, block_n=16, out=poisoned(3, 8, 24, dtype=torch.float32))
        assert_close(out, ref, torch.float32, seed)
        assert not arrivals.arrival_counters(q.device, 3 * 2).any()
    # INT4 split-K and MLA decode share the counters: they too leave them at zero
    int4_gemm.int4_matmul(randn(5, 256), int4_gemm.quantize_int4(randn(256, 40), 32), split_k=3, block_n=32)
    assert not arrivals.arrival_counters(q.device, 1024).any()
    q_nope, q_rope, cache = randn(3, 20, 32), randn(3, 20, 8), randn(3, 50, 40)
    mla_decode.mla_decode(q_nope, q_rope, cache[..., :32], cache[..., 32:], lens, 40 ** -0.5, num_splits=3, block_n=16)
    assert not arrivals.arrival_counters(q.device, 1024).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads, kv_heads", ((32, 32), (32, 8), (32, 4), (32, 1)))
@pytest.mark.parametrize("window", (None, 1024, 8192))
@pytest.mark.parametrize("fused_merge", (True, False))
@pytest.mark.parametrize("batch, max_len", (gpu(4, 4096),))
def test_decode_attention_gpu(seed, dtype, heads, kv_heads, window, batch, max_len, fused_merge):
    check_decode_attention(seed, dtype, batch, heads, kv_heads, max_len, 128, window, None, block_n=64,
                           fused_merge=fused_merge)


@pytest.mark.parametrize("head_dim", (64, 128, 256))
@pytest.mark.parametrize("batch, max_len, window", ((2, 80, None), (1, 200, 64), gpu(1, 4096, None),
                                                     gpu(8, 4096, 1024), gpu(32, 2048, None)))
def test_decode_attention_default_tiles_and_splits(seed, head_dim, batch, max_len, window):
    """The defaults a caller gets (tiles per head dim, splits per SM count, merge per split count)
    at Gemma 2's 256-wide heads as well as 64 and 128."""
    check_decode_attention(seed, torch.bfloat16, batch, 16, 8, max_len, head_dim, window, None, block_n=None,
                           fused_merge=None)


@in_process
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads, kv_heads", ((8, 2), (8, 1)))
@pytest.mark.parametrize("window", (None, 16))
@pytest.mark.parametrize("head_dim", (24, 32))     # a padded head (K/V masked along D) and an exact one
@pytest.mark.parametrize("num_splits", (None, 1, 3))
def test_decode_attention_unmasked_body(seed, dtype, heads, kv_heads, window, head_dim, num_splits):
    """Whole KV blocks without predicates, only each split's partial tail masked: ragged lengths put
    the tail anywhere in a block, or leave a split empty."""
    check_decode_attention(seed, dtype, 3, heads, kv_heads, 90, head_dim, window, num_splits, block_n=16,
                           unmasked_body=True)


@pytest.mark.parametrize("window", (None, 1024))
@pytest.mark.parametrize("batch, max_len", (gpu(8, 4096), gpu(3, 5000)))
def test_decode_attention_unmasked_body_gpu(seed, window, batch, max_len):
    check_decode_attention(seed, torch.bfloat16, batch, 32, 16, max_len, 128, window, None, block_n=None,
                           fused_merge=None, unmasked_body=True)


def check_decode_attention(seed, dtype, batch, heads, kv_heads, max_len, head_dim, window, num_splits, block_n,
                           fused_merge=True, unmasked_body=False, **scores):
    """``scores``: the kernel's ``scale`` and ``softcap``, passed to the reference too."""
    q = randn(batch, heads, head_dim, dtype=dtype)
    k, v = (randn(batch, kv_heads, max_len, head_dim, dtype=dtype) for _ in range(2))
    lens = random_lens(batch, max_len)
    out = da.decode_attention(q, k, v, lens, window=window, num_splits=num_splits, block_n=block_n,
                              fused_merge=fused_merge, unmasked_body=unmasked_body,
                              out=poisoned(batch, heads, head_dim, dtype=dtype), **scores)
    ref = reference.decode_attention(*f64(q, k, v), lens, window=window, **scores)
    assert_close(out, ref, dtype, seed)


@in_process
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window", (None, 16))
@pytest.mark.parametrize("scale, softcap", ((0.3, 1.5), (3.0, 4.0), (0.05, 50.0)),
                         ids=("capped", "saturated", "gemma-2-like"))
@pytest.mark.parametrize("unmasked_body", (False, True))
def test_decode_attention_soft_capped_scores(seed, dtype, window, scale, softcap, unmasked_body):
    """Gemma 2's soft-cap c * tanh(s / c) with a scale of its own: bites at 1.5 (scores of std ~1.7),
    saturates at scale 3 (|s| ~ 17 against a cap of 4), barely matters at Gemma 2's 50."""
    check_decode_attention(seed, dtype, 3, 8, 2, 70, 32, window, 3, block_n=16, unmasked_body=unmasked_body,
                           scale=scale, softcap=softcap)


@pytest.mark.parametrize("window", (gpu(None), gpu(4096)))
def test_decode_attention_soft_capped_scores_gpu(seed, window):
    """Gemma 2 27B's decode shape: 32 heads over 16 KV heads of 128, query_pre_attn_scalar 144, cap 50."""
    check_decode_attention(seed, torch.bfloat16, 4, 32, 16, 8192, 128, window, None, block_n=None,
                           fused_merge=None, scale=144 ** -0.5, softcap=50.0)


def test_decode_attention_refuses_a_negative_softcap():
    q, k = randn(1, 2, 16), randn(1, 2, 8, 16)
    with pytest.raises(ValueError, match="softcap"):
        da.decode_attention(q, k, k, torch.full((1,), 8, dtype=torch.int32), softcap=-1.0)


@in_process
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused_merge", (True, False))
@pytest.mark.parametrize("batch, heads, rank, rope, max_len, num_splits, block_n", (
    (3, 20, 64, 16, 70, 3, 16), (2, 16, 32, 8, 40, None, 16), gpu(4, 128, 512, 64, 2048, None, 32)))
def test_mla_decode(seed, dtype, batch, heads, rank, rope, max_len, num_splits, block_n, fused_merge):
    q_nope, q_rope = randn(batch, heads, rank, dtype=dtype), randn(batch, heads, rope, dtype=dtype)
    cache = randn(batch, max_len, rank + rope, dtype=dtype)  # one cache row: [latent | k_rope]
    latent, k_rope = cache[..., :rank], cache[..., rank:]
    lens = random_lens(batch, max_len)
    scale = (rank + rope) ** -0.5
    out = mla_decode.mla_decode(q_nope, q_rope, latent, k_rope, lens, scale, num_splits=num_splits,
                                block_n=block_n, fused_merge=fused_merge, out=poisoned(batch, heads, rank, dtype=dtype))
    ref = reference.mla_decode(*f64(q_nope, q_rope, latent, k_rope), lens, scale)
    assert_close(out, ref, dtype, seed)


@in_process
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scoring", ("softmax", "sigmoid"))
@pytest.mark.parametrize("top_k", (1, 2, 8))
@pytest.mark.parametrize("renormalize", (False, True))
@pytest.mark.parametrize("use_triton", (True, False))
def test_route(seed, dtype, scoring, top_k, renormalize, use_triton):
    logits = randn(9, 40, dtype=dtype)
    weights, ids = moe.route(logits, top_k, scoring=scoring, renormalize=renormalize, use_triton=use_triton)
    ref_weights, _ = reference.route(logits.double(), top_k, scoring, renormalize)
    x = logits.double()
    scores = x.softmax(dim=1) if scoring == "softmax" else x.sigmoid()  # [N, E]
    best = scores.topk(top_k, dim=1).values  # ties may pick either expert, so compare scores, not ids
    assert ids.dtype == torch.int32
    assert torch.allclose(scores.gather(1, ids.long()), best, rtol=1e-6, atol=0), f"not the top-k (seed {seed})"
    assert (ids.sort(dim=1).values.diff(dim=1) > 0).all(), f"an expert chosen twice (seed {seed})"
    assert_close(weights, ref_weights, torch.float32, seed)


@in_process
@pytest.mark.parametrize("tokens, experts, top_k, block_m", ((5, 8, 2, 16), (40, 16, 8, 16), (3, 64, 8, 4)))
def test_sort_by_expert(tokens, experts, top_k, block_m):
    ids = torch.stack([torch.randperm(experts, device=DEVICE)[:top_k] for _ in range(tokens)]).int()
    rows, block_expert, _ = moe.sort_by_expert(ids, experts, block_m)
    n_assign = ids.numel()
    real = rows < n_assign
    assert torch.equal(rows[real].sort().values.long(), torch.arange(n_assign, device=DEVICE))  # each once
    row_expert = block_expert.long().repeat_interleave(block_m)
    assert torch.equal(row_expert[real], ids.flatten().long()[rows[real].long()])  # right block
    used = block_expert < experts
    assert not used[used.sum():].any() and (block_expert[used].diff() >= 0).all()  # used blocks first, sorted


@in_process
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("top_k", (1, 2, 8))
@pytest.mark.parametrize("tokens, d_model, d_ff, experts, block_n, block_k, split_k", (
    (5, 32, 48, 8, 16, 16, None), (20, 40, 24, 12, 16, 32, None), (6, 80, 24, 8, 16, 16, 3),
    gpu(64, 1024, 512, 64, 64, 128, None), gpu(1, 1024, 512, 64, 64, 128, None)))
def test_moe_ffn(seed, dtype, top_k, tokens, d_model, d_ff, experts, block_n, block_k, split_k):
    x = randn(tokens, d_model, dtype=dtype)
    w_gate, w_up = (randn(experts, d_model, d_ff, dtype=dtype, scale=d_model**-0.5) for _ in range(2))
    w_down = randn(experts, d_ff, d_model, dtype=dtype, scale=d_ff**-0.5)
    weights, ids = moe.route(randn(tokens, experts), top_k, scoring="sigmoid", renormalize=True)
    out = moe.moe_ffn(x, w_gate, w_up, w_down, weights, ids, block_n=block_n, block_k=block_k, split_k=split_k,
                      out=poisoned(tokens, d_model, dtype=dtype))
    ref = reference.moe_ffn(*f64(x, w_gate, w_up, w_down, weights), ids)
    assert_close(out, ref, dtype, seed)


@pytest.mark.parametrize("group_size", (32, 128))
def test_quantize_int4_rounds_to_nearest(seed, group_size):
    w = randn(256, 48)
    qw = int4_gemm.quantize_int4(w, group_size)
    assert qw.packed.shape == (128, 48) and qw.packed.dtype == torch.uint8
    deq = reference.dequantize_int4(qw.packed, qw.scales.double(), qw.zeros.double(), group_size)
    half_step = qw.scales.double().repeat_interleave(group_size, dim=0) / 2
    assert ((deq - w.double()).abs() <= half_step * (1 + 1e-5)).all(), f"seed {seed}"


@pytest.mark.parametrize("dtype", (torch.bfloat16, torch.float16, torch.float32))
def test_int4_magic_bits_read_as_magic_plus_the_nibble(dtype):
    """The dequantiser ORs a nibble into MAGIC's bit pattern. The interpreter cannot run the bf16 case
    (it treats bf16 as integers), so the table is checked here against torch's own bit views."""
    bits_type, magic_bits, magic = int4_gemm.MAGIC[dtype]
    as_int = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}[dtype]
    q = torch.arange(16, dtype=as_int)
    assert torch.equal((q | magic_bits).view(dtype).double(), magic + q.double())
    assert bits_type.primitive_bitwidth == torch.finfo(dtype).bits


@in_process
@pytest.mark.parametrize("dtype", (*DTYPES, torch.float16))
@pytest.mark.parametrize("group_size", (32, 128))
@pytest.mark.parametrize("fused_sum", (True, False))
@pytest.mark.parametrize("m, k, n, split_k, block_n", (
    (1, 256, 48, None, 32), (5, 256, 40, 3, 32), gpu(1, 4096, 4096, None, 128), gpu(32, 4096, 14336, None, 128)))
def test_int4_matmul(seed, dtype, group_size, m, k, n, split_k, block_n, fused_sum):
    x = randn(m, k, dtype=dtype)
    qw = int4_gemm.quantize_int4(randn(k, n, dtype=dtype), group_size)
    out = int4_gemm.int4_matmul(x, qw, split_k=split_k, block_n=block_n, fused_sum=fused_sum,
                                out=poisoned(m, n, dtype=dtype))
    ref = reference.int4_matmul(x.double(), qw.packed, qw.scales.double(), qw.zeros.double(), group_size)
    assert_close(out, ref, dtype, seed)


@pytest.mark.skipif(IN_PROCESS, reason="the kernels run in this process")
def test_interpreter_in_subprocess():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": os.pathsep.join(filter(None, (str(root),
                                                                                             os.environ.get("PYTHONPATH"))))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not gpu",
                           str(Path(__file__).resolve())], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _tiny_spec(mixer: dict):
    from models.spec import ModelSpec
    moe = {"type": "moe", "experts": 8, "top_k": 2, "d_expert": 32, "shared_experts": 1,
           "router_score_bias": True}
    return ModelSpec.from_dict({
        "name": "tiny", "vocab_size": 64, "hidden_size": 64, "context_length": 64,
        "blocks": {"b": {"mixer": mixer, "ffn": moe}}, "layers": {"count": 1, "pattern": ["b"]}})


@in_process
@pytest.mark.parametrize("mixer", [
    {"type": "attention", "heads": 4, "kv_heads": 2, "head_dim": 16},
    {"type": "attention", "heads": 4, "kv_heads": 1, "head_dim": 16, "kind": "sliding", "window": 8},
    {"type": "mla", "heads": 4, "kv_lora_rank": 32, "qk_nope_dim": 16, "qk_rope_dim": 8,
     "v_head_dim": 16, "q_lora_rank": 24},
    # DeepSeek Sparse Attention: the kernel attends over the indexer's top 5 of 13 latent rows
    {"type": "mla", "heads": 4, "kv_lora_rank": 32, "qk_nope_dim": 16, "qk_rope_dim": 8,
     "v_head_dim": 16, "q_lora_rank": 24, "index_heads": 2, "index_head_dim": 16, "index_topk": 5},
    # Gemma 4's global layers: the values are the normed key projection
    {"type": "attention", "heads": 4, "kv_heads": 2, "head_dim": 16, "qk_norm": "head", "value_from_key": True,
     "v_norm": True},
    # Cohere's QK-norm, a weight vector per head: those norms keep to torch
    {"type": "attention", "heads": 4, "kv_heads": 2, "head_dim": 16, "qk_norm": "per_head"},
], ids=["gqa", "mqa-sliding", "mla", "mla-dsa", "gemma4-k-eq-v", "per-head-qk-norm"])
def test_profiler_triton_patch_matches_the_torch_layer(seed, mixer):
    """The profiler's "triton" backend swaps our kernels into a decoder layer (decode attention
    or MLA decode, RMSNorm, and the MoE experts, DeepSeek-V3's score-bias routing included):
    one decode step must equal the torch layer's."""
    from kernels.blocks import build_layer
    from kernels.backends import patch_triton, syncs_host
    spec = _tiny_spec(mixer)
    layer = build_layer(spec, spec.layers[0], torch.float32, DEVICE)
    with torch.no_grad():
        for norm in layer.modules():            # per-head weights that differ by head
            if type(norm).__name__ == "RMSNorm" and norm.weight.dim() > 1:
                norm.weight.uniform_(0.5, 1.5)
        for ffn in layer.ffns:
            ffn.score_bias.uniform_(-0.5, 0.5)          # the bias must change which experts win
        for p in layer.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.2)
        x_prev = randn(2, 12, 64)
        x = randn(2, 1, 64)
        states = layer.new_state(2, 16)
        layer(x_prev, states)
        ref_states = [{k: v.clone() for k, v in s.items()} if isinstance(s, dict) else s for s in states]
        ref = layer.step(x, ref_states, 12)
        undo = []

        def setter(obj, attr, value):
            undo.append((obj, attr))
            object.__setattr__(obj, attr, value)
        assert syncs_host(layer)                # the torch MoE loop: timed on the stream
        used = patch_triton(layer, "decode", setter, None)
        assert not syncs_host(layer)            # the grouped kernel: captured as a CUDA graph
        out = layer.step(x, states, 12)
        for obj, attr in undo:
            obj.__dict__.pop(attr, None)
    assert "moe" in used and ("decode_attention" in used or "mla_decode" in used)
    err = ((out - ref).norm() / ref.norm()).item()
    assert err < 1e-4, f"seed {seed}: relative error {err:.2e} ({used})"
