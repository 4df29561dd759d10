"""Torch blocks built from specs (kernels/blocks): parameter counts equal the engine's per-layer
counts (small widths and the real dimensions of catalog models, on the meta device), and the
decode paths (KV cache, latent cache, recurrent state) reproduce the prefill paths."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from kernels.blocks import (MLA, Attention, DecoderLayer, MoE, apply_update, build_block,  # noqa: E402
                            build_layer, count_params, plan_stages)
from models import spec as S  # noqa: E402
from models.catalog import find  # noqa: E402
from models.hf import spec_from_hf_config  # noqa: E402
from models.params import layer_params  # noqa: E402

from block_cases import (ATTENTION, FFNS, LAYOUTS, LINEAR, MLAS, SSMS, D, randomize,  # noqa: E402
                         make_spec)


def engine_count(spec: S.ModelSpec, layer: S.Layer) -> int:
    return sum(c.total for c in layer_params(spec, layer)[0].values())


MIXERS = {**ATTENTION, **MLAS, **LINEAR, **SSMS}


@pytest.mark.parametrize("name", list(MIXERS) + list(FFNS))
def test_small_block_counts_equal_engine(name):
    part = MIXERS.get(name) or FFNS[name]
    layer = S.Layer(mixers=(part,)) if name in MIXERS else S.Layer(ffns=(part,))
    spec = make_spec(layer)
    norms = spec.norms_in(layer) * D
    assert count_params(build_block(part, D)) + norms == engine_count(spec, layer)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_small_layer_counts_equal_engine(name):
    layer, kw = LAYOUTS[name]
    spec = make_spec(layer, **kw)
    assert count_params(build_layer(spec, layer)) == engine_count(spec, layer)


def test_plan_stages_of_norms_after_ffns():
    """A.X K1: pre-norms and a norm on the MoE output; Gemma 4: the dense MLP and the MoE block side
    by side, each sandwiched, and a norm on their sum."""
    from kernels.blocks import Stage
    assert plan_stages("pre", 1, 1, 3) == [Stage((("mixer", 0),), (0,), None), Stage((("ffn", 0),), (1,), 2)]
    assert plan_stages("sandwich", 1, 2, 7) == [Stage((("mixer", 0),), (0,), 1),
                                                Stage((("ffn", 0), ("ffn", 1)), (2, 4), 6, (3, 5))]


def test_plan_stages_rejects_an_unknown_norm_layout():
    with pytest.raises(ValueError, match="cannot place 5 norms"):
        plan_stages("pre", 1, 1, 5)


# --------------------------------------------------------------------------- catalog models, real dims

CATALOG = ["llama-3-8b", "qwen3-0.6b", "gemma-2-9b", "mixtral-8x7b", "deepseek-v3", "qwen3-next-80b-a3b",
           "kimi-linear-48b-a3b", "gpt-oss-20b", "nemotron-3-nano", "phi-2"]


# published configs of types the catalog lacks (tests/fixtures/hf_configs): per-head QK-norm and a
# parallel block (StableLM 2 12B), one-norm parallel blocks with global NoPE layers (Command A),
# LayerNorm MoE (Phi-3.5-MoE), two-norm parallel residual (GPT-NeoX-20B)
VENDORED = ["stablelm-2-12b", "c4ai-command-a-03-2025", "phi-3.5-moe-instruct", "gpt-neox-20b"]
FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"


def _spec(model_id: str):
    if model_id in VENDORED:
        return spec_from_hf_config(json.loads((FIXTURES / f"{model_id}.json").read_text()))
    return find(model_id).spec()


@pytest.mark.parametrize("model_id", CATALOG + VENDORED)
def test_catalog_layer_counts_equal_engine_at_true_dims(model_id):
    spec = _spec(model_id)
    for name, layer in spec.blocks.items():       # every distinct layer (dense and MoE, GDN and attention)
        m = build_layer(spec, layer, torch.bfloat16, "meta")
        assert count_params(m) == engine_count(spec, layer), name
        assert all(p.device.type == "meta" for p in m.parameters())


def test_deepseek_v3_moe_layer_holds_the_score_bias_buffer():
    spec = find("deepseek-v3").spec()
    moe_layer = spec.blocks["mla+moe"]
    m = build_layer(spec, moe_layer, torch.bfloat16, "meta")
    moe = m.ffns[0]
    assert isinstance(moe, MoE) and moe.score_bias.shape == (256,)
    assert isinstance(m.mixers[0], MLA)
    assert moe.w_gate.shape == (256, 7168, 2048) and moe.w_down.shape == (256, 2048, 7168)


def test_real_dims_qwen3_layer_runs_on_cpu():
    spec = find("qwen3-0.6b").spec()
    torch.manual_seed(0)
    layer = build_layer(spec, spec.layers[0])
    x = torch.randn(1, 5, spec.hidden_size)
    with torch.no_grad():
        y = layer(x)
        states = layer.new_state(1, 8)
        steps = [layer.step(x[:, t:t + 1], states, t) for t in range(5)]
    assert torch.allclose(torch.cat(steps, 1), y, atol=1e-4, rtol=1e-4)
    assert states[0]["k"].shape == (1, 8, 8, 128)          # [B, kv, T, hd]


# --------------------------------------------------------------------------- decode == prefill

def _decode_matches_prefill(module, L=10, prompt=4, atol=2e-5):
    torch.manual_seed(0)
    randomize(module)
    module.eval()
    x = torch.randn(2, L, D)
    with torch.no_grad():
        full = module(x)
        state = module.new_state(2, L)                    # token by token from position 0
        steps = torch.cat([module.step(x[:, t:t + 1], state, t) for t in range(L)], 1)
        state = module.new_state(2, L)                    # prompt prefill fills the state, then decode
        head = module(x[:, :prompt], state)
        tail = [module.step(x[:, t:t + 1], state, t) for t in range(prompt, L)]
    torch.testing.assert_close(steps, full, atol=atol, rtol=1e-4)
    torch.testing.assert_close(torch.cat([head] + tail, 1), full, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("name", list(ATTENTION))
@pytest.mark.parametrize("position", ["rope", "alibi"])
def test_attention_decode_matches_prefill(name, position):
    m = build_block(ATTENTION[name], D, position=position, rope_fraction=0.5)
    _decode_matches_prefill(m)


@pytest.mark.parametrize("name", list(ATTENTION))
def test_attention_sdpa_equals_eager(name):
    torch.manual_seed(0)
    sdpa = build_block(ATTENTION[name], D, attn_impl="sdpa")
    eager = build_block(ATTENTION[name], D, attn_impl="eager")
    eager.load_state_dict(sdpa.state_dict())
    x = torch.randn(2, 9, D)
    with torch.no_grad():
        torch.testing.assert_close(sdpa(x), eager(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", list(ATTENTION))
def test_profiler_sdpa_backend_equals_eager_in_prefill_and_decode(name):
    """The profiler's "sdpa" backend (kernels.backends.sdpa_attend: a decode step's query heads as
    rows of their KV head, enable_gqa in prefill, neither repeating the cache) computes what the
    eager path does, past a sliding window's wrap too."""
    from kernels.backends import switched_to
    layer = S.Layer((ATTENTION[name],), (FFNS["swiglu"],))
    m = build_layer(make_spec(layer), layer).eval()
    randomize(m)
    x = torch.randn(2, 9, D)
    outs = {}
    with torch.no_grad():
        for backend in ("torch", "sdpa"):
            with switched_to(m, backend, "decode"):
                states = m.new_state(2, 9)
                pre = m(x[:, :5], states)
                steps = [m.step(x[:, t:t + 1], states, t) for t in range(5, 9)]
            outs[backend] = torch.cat([pre] + steps, 1)
    torch.testing.assert_close(outs["sdpa"], outs["torch"], atol=2e-5, rtol=1e-4)


def test_sliding_window_cache_is_a_ring_of_window_slots():
    m = build_block(ATTENTION["sliding"], D)
    assert m.new_state(1, 100)["k"].shape == (1, 2, 4, 16)
    # a sliding layer differs from a full one once the sequence is longer than the window
    full = build_block(S.Attention(heads=4, kv_heads=2, head_dim=16), D)
    full.load_state_dict(m.state_dict())
    x = torch.randn(1, 8, D)
    with torch.no_grad():
        assert torch.allclose(m(x)[:, :4], full(x)[:, :4], atol=1e-6)
        assert not torch.allclose(m(x)[:, 4:], full(x)[:, 4:], atol=1e-3)


@pytest.mark.parametrize("name", list(MLAS))
def test_mla_absorbed_decode_matches_naive_prefill(name):
    _decode_matches_prefill(build_block(MLAS[name], D))


def test_mla_latent_cache_holds_rank_plus_rope_per_token():
    st = build_block(MLAS["q_lora"], D).new_state(3, 20)
    assert st["c"].shape == (3, 20, 16) and st["k_pe"].shape == (3, 20, 4)


@pytest.mark.parametrize("name", list(LINEAR))
def test_linear_attention_decode_matches_prefill(name):
    _decode_matches_prefill(build_block(LINEAR[name], D))


@pytest.mark.parametrize("name", list(SSMS))
def test_ssm_decode_matches_prefill(name):
    _decode_matches_prefill(build_block(SSMS[name], D))


@pytest.mark.parametrize("spec", [LINEAR["gdn"], LINEAR["kda"], LINEAR["lightning"], SSMS["mamba2"]],
                         ids=["gdn", "kda", "lightning", "mamba2"])
def test_chunked_prefill_across_chunks_matches_decode(spec):
    """Past one 64-token chunk, from a prompt that ends mid-chunk: the chunked prefill hands the
    state across chunk boundaries exactly as the token-by-token decode does."""
    _decode_matches_prefill(build_block(spec, D), L=150, prompt=70, atol=5e-5)


@pytest.mark.parametrize("name", ["pre_rms", "sandwich_gemma", "parallel_phi", "falcon_h1", "longcat",
                                  "gdn_moe", "jamba", "kda_dense", "gemma4_moe", "axk1_post_moe_norm", "mllama_cross"])
def test_layer_decode_matches_prefill(name):
    layer, kw = LAYOUTS[name]
    spec = make_spec(layer, **kw)
    _decode_matches_prefill(build_layer(spec, layer), atol=5e-5)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_a_float64_copy_runs_in_float64_throughout(name):
    """The profiler's reference is a float64 copy of the layer: its norms, softmaxes and recurrent
    states stay float64 rather than dropping to fp32 (Mamba-2's in-place scan used to fail on it),
    so it agrees with the fp32 layer only to fp32 rounding, and with itself to fp64 rounding."""
    layer, kw = LAYOUTS[name]
    torch.manual_seed(0)
    m32 = build_layer(make_spec(layer, **kw), layer).eval()
    randomize(m32)
    m64 = copy.deepcopy(m32).to(torch.float64)
    x = torch.randn(2, 6, D, dtype=torch.float64)
    with torch.no_grad():
        st64 = m64.new_state(2, 7)
        y64, t64 = m64(x, st64), m64.step(x[:, :1], st64, 6)
        st32 = m32.new_state(2, 7)
        y32 = m32(x.float(), st32)
    assert {t.dtype for st in st64 for t in st.values()} == {torch.float64}
    assert y64.dtype == t64.dtype == torch.float64
    rel = (torch.linalg.vector_norm(y64 - y32.double()) / torch.linalg.vector_norm(y64)).item()
    assert 1e-10 < rel < 1e-5, rel            # fp32 rounding apart: neither is the other's copy


def _flat(states) -> list[torch.Tensor]:
    states = states if isinstance(states, list) else [states]
    return [t for st in states for t in st.values()]


def _detached_matches_step(module, L=9, prompt=3, window_past=True):
    """``step_detached`` leaves the state untouched, returns what ``step`` returns, and its update,
    applied, leaves the state exactly as ``step`` does: at every position from the prompt on,
    past a sliding window's ring wrap."""
    torch.manual_seed(0)
    randomize(module)
    module.eval()
    x = torch.randn(2, L, D)
    with torch.no_grad():
        stepped = module.new_state(2, L)
        module(x[:, :prompt], stepped)
        detached = module.new_state(2, L)
        module(x[:, :prompt], detached)
        for t in range(prompt, L):
            xt = x[:, t:t + 1]
            before = [v.clone() for v in _flat(detached)]
            y_d, update = module.step_detached(xt, detached, t)
            assert all(torch.equal(a, b) for a, b in zip(before, _flat(detached))), "state written"
            y = module.step(xt, stepped, t)
            torch.testing.assert_close(y_d, y, atol=2e-5, rtol=1e-4)
            pairs = zip(detached, update) if isinstance(detached, list) else [(detached, update)]
            for state, upd in pairs:
                apply_update(state, upd, t)
            for a, b in zip(_flat(detached), _flat(stepped)):
                torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("name", list(ATTENTION))
@pytest.mark.parametrize("position", ["rope", "alibi"])
def test_attention_step_detached_equals_step(name, position):
    _detached_matches_step(build_block(ATTENTION[name], D, position=position, rope_fraction=0.5))


@pytest.mark.parametrize("name", list(MLAS) + list(LINEAR) + list(SSMS))
def test_mixer_step_detached_equals_step(name):
    _detached_matches_step(build_block({**MLAS, **LINEAR, **SSMS}[name], D))


@pytest.mark.parametrize("name", ["pre_rms", "sandwich_gemma", "parallel_phi", "falcon_h1", "longcat",
                                  "gdn_moe", "jamba", "kda_dense", "gemma4_moe", "axk1_post_moe_norm", "mllama_cross"])
def test_layer_step_detached_equals_step(name):
    layer, kw = LAYOUTS[name]
    _detached_matches_step(build_layer(make_spec(layer, **kw), layer))


def test_real_dims_mamba2_layer_decode_matches_prefill():
    spec = find("nemotron-3-nano").spec()
    torch.manual_seed(0)
    m = build_layer(spec, spec.blocks["mamba2"])
    x = torch.randn(1, 4, spec.hidden_size) * 0.5
    with torch.no_grad():
        y = m(x)
        st = m.new_state(1, 4)
        steps = torch.cat([m.step(x[:, t:t + 1], st, t) for t in range(4)], 1)
    torch.testing.assert_close(steps, y, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- MoE vs a dense reference

def _reference_moe(moe: MoE, x: torch.Tensor) -> torch.Tensor:
    """Every expert on every token, weighted by the router's (renormalised) top-k weights."""
    cfg = moe.cfg
    xs = x.reshape(-1, x.shape[-1])
    xr = xs
    if cfg.router_scales:          # Gemma4TextRouter: weightless RMSNorm, scale, 1/sqrt(D)
        xr = xs * torch.rsqrt(xs.pow(2).mean(-1, keepdim=True) + 1e-6) * moe.router_scale / xs.shape[-1] ** 0.5
    logits = xr @ moe.router.weight.T + (moe.router.bias if cfg.router_bias else 0)
    if moe.scoring == "topk_softmax":
        vals, ids = logits.topk(cfg.top_k, -1)
        w = vals.softmax(-1)
    else:
        scores = logits.sigmoid() if moe.scoring == "sigmoid" else logits.softmax(-1)
        bias = moe.score_bias if cfg.router_score_bias else 0
        choose = scores + bias
        if cfg.expert_groups:        # token by token: experts outside its best groups drop out
            size = cfg.experts // cfg.expert_groups
            for n, row in enumerate(choose):
                groups = [sorted(row[g * size:(g + 1) * size].tolist(), reverse=True) for g in range(cfg.expert_groups)]
                rank = [sum(g[:2]) if cfg.router_score_bias else g[0] for g in groups]
                best = sorted(range(cfg.expert_groups), key=lambda g: -rank[g])[:cfg.groups_per_token]
                for g in set(range(cfg.expert_groups)) - set(best):
                    choose[n, g * size:(g + 1) * size] = float("-inf")
        ids = choose.topk(cfg.top_k, -1).indices
        w = scores.gather(-1, ids)
        w = w / w.sum(-1, keepdim=True)
        if cfg.router_scales:
            w = w * moe.per_expert_scale[ids]
    weight = torch.zeros(xs.shape[0], cfg.experts + cfg.zero_experts).scatter(1, ids, w)   # [N, E+Z]

    def act(t):
        return {"silu": torch.nn.functional.silu, "relu2": lambda u: torch.relu(u) ** 2,
                "gelu_tanh": lambda u: torch.nn.functional.gelu(u, approximate="tanh")}[cfg.activation](t)

    out = torch.zeros_like(xs)
    for e in range(cfg.experts):
        b = (lambda n: getattr(moe, n)[e]) if cfg.expert_bias else (lambda n: 0)
        up = xs @ moe.w_up[e] + b("b_up")
        if cfg.activation == "swiglu_oai":
            gate = (xs @ moe.w_gate[e] + b("b_gate")).clamp(max=7)
            h = (up.clamp(-7, 7) + 1) * gate * torch.sigmoid(1.702 * gate)
        elif cfg.gated:
            h = act(xs @ moe.w_gate[e] + b("b_gate")) * up
        else:
            h = act(up)
        out += weight[:, e:e + 1] * (h @ moe.w_down[e] + b("b_down"))
    out += weight[:, cfg.experts:].sum(-1, keepdim=True) * xs                    # zero experts: identity
    shared = sum((m(xs) for m in moe.shared), torch.zeros_like(xs))
    if cfg.shared_gate:
        shared = torch.sigmoid(xs @ moe.shared_gate.weight.T) * shared
    return (out + shared).reshape(x.shape)


@pytest.mark.parametrize("name", [n for n in FFNS if n.startswith("moe")])
def test_moe_equals_dense_reference(name):
    torch.manual_seed(0)
    moe = build_block(FFNS[name], D)
    randomize(moe)
    x = torch.randn(3, 7, D)
    with torch.no_grad():
        ref = _reference_moe(moe, x)
        torch.testing.assert_close(moe(x), ref, atol=1e-5, rtol=1e-4)
        moe.impl = "dense"
        torch.testing.assert_close(moe(x), ref, atol=1e-5, rtol=1e-4)


def test_moe_routes_top_k_and_scoring_follows_the_spec():
    assert build_block(FFNS["moe_deepseek"], D).scoring == "sigmoid"
    assert build_block(FFNS["moe_gptoss"], D).scoring == "topk_softmax"
    assert build_block(FFNS["moe_softmax"], D).scoring == "softmax"
    moe = build_block(FFNS["moe_softmax"], D)
    w, ids = moe.route(torch.randn(5, D))
    assert ids.shape == (5, 2) and torch.allclose(w.sum(-1), torch.ones(5))


def test_dense_ffn_shapes():
    m = build_block(FFNS["swiglu"], D)
    assert m(torch.randn(2, 3, D)).shape == (2, 3, D)
    assert isinstance(build_block(ATTENTION["mha"], D), Attention)
    assert isinstance(DecoderLayer(make_spec(LAYOUTS["pre_rms"][0]), LAYOUTS["pre_rms"][0]).mixers[0], Attention)


# --------------------------------------------------------------------------- recurrences vs independent forms

def test_gated_delta_rule_matches_transformers_chunked_form():
    """Our token-by-token gated delta rule equals transformers' chunked (WY) Qwen3-Next kernel."""
    qwen3_next = pytest.importorskip("transformers.models.qwen3_next.modeling_qwen3_next")
    from kernels.blocks.linear_attention import delta_rule_step

    torch.manual_seed(0)
    B, L, H, dk, dv = 2, 11, 3, 8, 6
    q = torch.nn.functional.normalize(torch.randn(B, L, H, dk), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(B, L, H, dk), dim=-1)
    v, beta = torch.randn(B, L, H, dv), torch.rand(B, L, H)
    g = -torch.rand(B, L, H)                                      # log decay
    want, _ = qwen3_next.torch_chunk_gated_delta_rule(q, k, v, g, beta, chunk_size=4)
    S_ = torch.zeros(B, H, dk, dv)
    got = torch.stack([delta_rule_step(S_, q[:, t] * dk ** -0.5, k[:, t], v[:, t],
                                       g[:, t].exp()[..., None, None], beta[:, t]) for t in range(L)], 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("C", (1, 3, 64))
def test_unit_lower_inverse_is_the_inverse(C):
    from kernels.blocks.chunked import unit_lower_inverse
    torch.manual_seed(C)
    A = torch.randn(2, C, C, dtype=torch.float64).tril(-1) * 0.3
    eye = torch.eye(C, dtype=torch.float64)
    torch.testing.assert_close(unit_lower_inverse(A), torch.linalg.inv(eye + A), atol=1e-10, rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(L=st.integers(1, 140), chunk=st.sampled_from((1, 2, 3, 4, 8, 16, 64)), decay_scale=st.floats(0.0, 80.0),
       delta=st.booleans(), per_channel=st.booleans(), seed=st.integers(0, 2**16))
@example(L=130, chunk=16, decay_scale=2.0, delta=True, per_channel=False, seed=0)  # chunks and a partial one
@example(L=64, chunk=64, decay_scale=0.5, delta=False, per_channel=False, seed=1)  # one chunk, no delta rule
@example(L=40, chunk=16, decay_scale=60.0, delta=True, per_channel=True, seed=2)   # g_t underflows in a chunk
def test_chunked_prefill_equals_the_token_loop(L, chunk, decay_scale, delta, per_channel, seed):
    """Property: for any length, chunk size and decay strength (none at all up to underflow within
    a chunk), per head or per key channel, from a non-zero state, the chunked form's outputs and
    final state are the token loop's, to float64 rounding."""
    from kernels.blocks.chunked import chunked_delta_rule
    from kernels.blocks.linear_attention import delta_rule_step, linear_step
    gen = torch.Generator().manual_seed(seed)
    B, H, dk, dv = 1, 2, 4, 3
    q = torch.nn.functional.normalize(torch.randn(B, L, H, dk, generator=gen, dtype=torch.float64), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(B, L, H, dk, generator=gen, dtype=torch.float64), dim=-1)
    v = torch.randn(B, L, H, dv, generator=gen, dtype=torch.float64)
    S0 = torch.randn(B, H, dk, dv, generator=gen, dtype=torch.float64)
    g = -torch.rand(B, L, H, *((dk,) if per_channel else ()), generator=gen, dtype=torch.float64) * decay_scale
    beta = torch.rand(B, L, H, generator=gen, dtype=torch.float64) if delta else None
    S_loop, S_chunk = S0.clone(), S0.clone()
    decay = g.exp()[..., None] if per_channel else g.exp()[..., None, None]
    want = torch.stack([delta_rule_step(S_loop, q[:, t], k[:, t], v[:, t], decay[:, t], beta[:, t]) if delta
                        else linear_step(S_loop, q[:, t], k[:, t], v[:, t], decay[:, t]) for t in range(L)], 1)
    got = chunked_delta_rule(S_chunk, q, k, v, g, beta, chunk=chunk)
    torch.testing.assert_close(got, want, atol=1e-11, rtol=1e-9)
    torch.testing.assert_close(S_chunk, S_loop, atol=1e-11, rtol=1e-9)


def test_mamba2_scan_matches_the_quadratic_ssd_form():
    """h_t = exp(dt A) h + dt x B^T, y = h C + D x equals the SSD dual form
    y_i = sum_{j<=i} (C_i . B_j) exp(sum_{j<t<=i} dt_t A) dt_j x_j + D x_i."""
    m = build_block(S.SSM(d_inner=16, d_state=4, heads=4, groups=2), D)
    torch.manual_seed(0)
    Bsz, L = 2, 7
    xBC, dt_raw = torch.randn(Bsz, L, m.conv_dim), torch.randn(Bsz, L, m.H)
    with torch.no_grad():
        h = m.new_state(Bsz)["ssm"]
        got = torch.stack([m._recur(xBC[:, t], dt_raw[:, t], h) for t in range(L)], 1)   # [B, L, E]
        x, Bm, Cm = xBC.split([m.E, m.G * m.N, m.G * m.N], -1)
        x = x.view(Bsz, L, m.H, m.P)
        Bm = Bm.view(Bsz, L, m.G, m.N).repeat_interleave(m.H // m.G, 2)                 # [B, L, H, N]
        Cm = Cm.view(Bsz, L, m.G, m.N).repeat_interleave(m.H // m.G, 2)
        dt = torch.nn.functional.softplus(dt_raw + m.dt_bias)                             # [B, L, H]
        a = dt * -torch.exp(m.A_log)                                                      # log decay per step
        cum = a.cumsum(1)
        decay = torch.exp(cum[:, :, None] - cum[:, None, :])                              # [B, i, j, H]
        causal = torch.tril(torch.ones(L, L, dtype=torch.bool))[None, :, :, None]
        scores = torch.einsum("bihn,bjhn->bijh", Cm, Bm) * decay.masked_fill(~causal, 0)
        want = torch.einsum("bijh,bjh,bjhp->bihp", scores, dt, x) + m.D[:, None] * x
    torch.testing.assert_close(got, want.reshape(Bsz, L, m.E), atol=1e-5, rtol=1e-4)


def test_xielu_matches_transformers_activation():
    """Our xIELU (Apertus's learned activation) against transformers' XIELUActivation, in float64
    on fresh inputs spanning both branches, with the learned scalars moved off their init."""
    pytest.importorskip("transformers")
    from transformers.activations import ACT2CLS

    from kernels.blocks.ffn import XIELU
    theirs = ACT2CLS["xielu"](dtype=torch.float64)
    ours = XIELU().double()
    with torch.no_grad():
        for module in (theirs, ours):
            module.alpha_p.fill_(0.3)
            module.alpha_n.fill_(-0.7)
    x = torch.randn(4096, dtype=torch.float64) * 3
    err = ((ours(x) - theirs(x)).norm() / theirs(x).norm()).item()
    assert err < 1e-12 and (x < 0).any() and (x > 0).any()
    assert sorted(n for n, _ in ours.state_dict().items()) == sorted(n for n, _ in theirs.state_dict().items())


def test_llama4_qk_norm_divides_by_the_root_mean_square_after_rope():
    """Llama 4's (and nanochat's) weightless QK norm, applied after RoPE, is transformers'
    Llama4TextL2Norm: it divides each head by its root mean square, not by its L2 norm, so the
    scores are head_dim times larger than unit vectors would give."""
    pytest.importorskip("transformers")
    from transformers.models.llama4.modeling_llama4 import Llama4TextL2Norm
    part = S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="l2")
    attn = build_block(part, D).double()
    x, pos = torch.randn(2, 5, D, dtype=torch.float64), torch.arange(5)
    q, k, _, _ = attn._qkv(x, pos)
    raw_q = attn.q_proj(x).view(2, 5, 4, 16).transpose(1, 2)
    raw_k = attn.k_proj(x).view(2, 5, 2, 16).transpose(1, 2)
    theirs = Llama4TextL2Norm(eps=1e-6)
    # theirs computes in float32
    torch.testing.assert_close(q, theirs(attn.rotary(raw_q, pos)), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(k, theirs(attn.rotary(raw_k, pos)), rtol=1e-6, atol=1e-6)


def test_rope_angles_survive_a_cast_to_bf16():
    """A block cast to bf16 rotates by the same angles as the float64 one: at position 8,000 a bf16
    copy of the frequencies (8 mantissa bits) would turn some pairs by radians too far."""
    part = S.Attention(heads=2, kv_heads=2, head_dim=64)
    exact = build_block(part, D, rope_theta=500000.0).double()
    cast = build_block(part, D, rope_theta=500000.0).to(torch.bfloat16)
    x = torch.randn(1, 2, 4, 64, dtype=torch.float64)
    pos = torch.tensor([0, 1000, 4000, 8000])
    want = exact.rotary(x, pos)
    got = cast.rotary(x.to(torch.bfloat16), pos).double()
    assert ((got - want).norm() / want.norm()).item() < 1e-2          # bf16 rounding of x and the result


@pytest.mark.parametrize("rotary_dim", [16, 8])          # the whole head, and half of it (GLM)
def test_interleaved_rope_is_rotate_half_on_deinterleaved_dims(rotary_dim):
    """Turning pairs (2i, 2i + 1) equals the rotate-half form applied to the dims reordered evens
    first, odds after (how transformers' apply_rotary_pos_emb_interleave computes DeepSeek's), then
    put back; the dims past rotary_dim pass unchanged."""
    from kernels.blocks.attention import Rotary
    x = torch.randn(2, 3, 5, 16, dtype=torch.float64)
    pos = torch.tensor([0, 1, 7, 100, 4000])
    order = torch.cat((torch.arange(0, rotary_dim, 2), torch.arange(1, rotary_dim, 2), torch.arange(rotary_dim, 16)))
    back = torch.argsort(order)
    want = Rotary(rotary_dim)(x[..., order], pos)[..., back]
    got = Rotary(rotary_dim, interleaved=True)(x, pos)
    assert (got - want).abs().max().item() < 1e-12
    assert torch.equal(got[..., rotary_dim:], x[..., rotary_dim:])


def test_interleaved_rope_scores_depend_on_the_distance_only():
    """q.k after RoPE depends on the positions' difference alone, interleaved as in halves."""
    from kernels.blocks.attention import Rotary
    rot = Rotary(32, interleaved=True)
    q, k = torch.randn(1, 1, 1, 32, dtype=torch.float64), torch.randn(1, 1, 1, 32, dtype=torch.float64)

    def score(i, j):
        return (rot(q, torch.tensor([i])) * rot(k, torch.tensor([j]))).sum().item()
    assert score(10, 3) == pytest.approx(score(1007, 1000), rel=1e-9)
    assert score(10, 3) != pytest.approx(score(10, 4), rel=1e-6)
