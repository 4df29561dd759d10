"""Invariants of the cost model on random valid specs and on catalog models.

Parameters add up, KV cache and state grow as each layer kind says, fewer KV heads and fewer bits
never cost more, FLOPs grow with context and position as the attention span says, max_batch and
max_context are tight, and overrides never mutate their input.
"""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models.catalog import find
from models.cost import Workload, cost_report, kv_cache_bytes, layer_cache_bytes, phase_flops
from models.dtypes import DTYPES
from models.hardware import get_hardware
from models.overrides import apply_overrides
from models.params import count_params, norm_params, per_layer_table_params
from models.spec import (MLA, SSM, Attention, CrossAttention, DenseFFN, Layer, LinearAttention, ModelSpec, MoEFFN,
                         SpecError)

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
CATALOG = ["llama-3-8b", "mixtral-8x7b", "gemma-2-9b", "qwen3-next-80b-a3b", "deepseek-v3"]


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


@st.composite
def ffns(draw):
    if draw(st.booleans()):
        experts = draw(st.integers(1, 16))
        return MoEFFN(experts=experts, top_k=draw(st.integers(1, experts)),
                      d_expert=draw(st.integers(1, 256)), shared_experts=draw(st.integers(0, 2)),
                      gated=draw(st.booleans()), router_bias=draw(st.booleans()))
    return DenseFFN(d_ff=draw(st.integers(1, 1024)), gated=draw(st.booleans()),
                    bias=draw(st.booleans()))


@st.composite
def recurrent_mixers(draw):
    if draw(st.booleans()):
        heads = draw(st.integers(1, 8))
        return SSM(d_inner=heads * draw(st.integers(1, 16)), d_state=draw(st.integers(1, 64)),
                   heads=heads, groups=draw(st.sampled_from(_divisors(heads))))
    kh = draw(st.integers(1, 4))
    return LinearAttention(key_heads=kh, value_heads=kh * draw(st.integers(1, 3)),
                           key_dim=draw(st.integers(1, 32)), value_dim=draw(st.integers(1, 32)))


@st.composite
def recurrent_only_specs(draw):
    blocks = {f"r{i}": Layer(mixers=(draw(recurrent_mixers()),), ffns=(draw(ffns()),))
              for i in range(draw(st.integers(1, 3)))}
    layout = draw(st.lists(st.sampled_from(sorted(blocks)), min_size=1, max_size=6))
    return ModelSpec(name="rec", vocab_size=draw(st.integers(1, 4096)),
                     hidden_size=draw(st.sampled_from([16, 64, 256])),
                     context_length=draw(st.integers(1, 10**6)),
                     blocks={k: v for k, v in blocks.items() if k in layout}, layout=tuple(layout))


@st.composite
def specs(draw, sliding="maybe", recurrent=False, mla=False, cross=False):
    """Random valid specs. sliding: "never" | "maybe" | "all" (every attention layer sliding).
    All attention layers share heads, so any divisor of ``heads`` is a valid kv_heads override."""
    head_dim = draw(st.sampled_from([4, 8, 16, 32, 64]))
    heads = draw(st.integers(1, 16))
    kv_heads = draw(st.sampled_from(_divisors(heads)))
    hidden = draw(st.sampled_from([16, 32, 64, 128, 256, 512]))
    context = draw(st.integers(2, 16384))
    n_layers = draw(st.integers(1, 6))
    ffn = draw(ffns())
    attn = Attention(heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                     qk_norm=draw(st.sampled_from(["none", "head", "per_head", "full"])),
                     qkv_bias=draw(st.booleans()), output_gate=draw(st.booleans()),
                     value_from_key=draw(st.booleans()), v_norm=draw(st.booleans()))
    blocks = {"global": Layer(mixers=(attn,), ffns=(ffn,))}
    kinds = ["global"]
    if sliding != "never" and (sliding == "all" or draw(st.booleans())):
        window = draw(st.integers(1, context))
        blocks["local"] = Layer(mixers=(dataclasses.replace(attn, kind="sliding", window=window),),
                                ffns=(ffn,))
        kinds = ["local"] if sliding == "all" else ["local", "global"]
    if recurrent:
        blocks["rec"] = Layer(mixers=(draw(recurrent_mixers()),), ffns=(ffn,))
        kinds.append("rec")
    if mla:
        blocks["mla"] = Layer(mixers=(MLA(heads=heads, kv_lora_rank=draw(st.integers(1, 64)),
                                          qk_nope_dim=draw(st.integers(0, 32)),
                                          qk_rope_dim=draw(st.integers(1, 16)),
                                          v_head_dim=draw(st.integers(1, 32))),), ffns=(ffn,))
        kinds.append("mla")
    if cross:                               # Llama 3.2 Vision: cross-attention layers to an image
        blocks["cross"] = Layer(mixers=(CrossAttention(heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                                                       image_tokens=draw(st.integers(1, 8192)),
                                                       qk_norm=draw(st.sampled_from(["none", "head"])),
                                                       gated=draw(st.booleans())),), ffns=(ffn,))
        kinds.append("cross")
    layout = draw(st.lists(st.sampled_from(kinds), min_size=n_layers, max_size=n_layers))
    sources = sorted({k for k in layout if k in ("global", "local")})
    if sources and draw(st.booleans()):     # Gemma 3n/4: last layers read earlier layers' caches
        source = draw(st.sampled_from(sources))
        shared = dataclasses.replace(blocks[source].mixers[0], kv_shared=True, value_from_key=False)
        blocks[f"{source}-shared"] = Layer(mixers=(shared,), ffns=(ffn,))
        layout += [f"{source}-shared"] * draw(st.integers(1, 3))
    blocks = {k: v for k, v in blocks.items() if k in layout}
    return ModelSpec(name="rand", vocab_size=draw(st.integers(1, 8192)), hidden_size=hidden,
                     context_length=context, blocks=blocks, layout=tuple(layout),
                     tie_embeddings=draw(st.booleans()),
                     norm=draw(st.sampled_from(["rmsnorm", "layernorm", "layernorm_noparam"])),
                     norm_bias=draw(st.booleans()), final_norm=draw(st.booleans()),
                     embedding_norm=draw(st.booleans()), lm_head_bias=draw(st.booleans()), mtp_depth=draw(st.integers(0, 1)),
                     norm_placement=draw(st.sampled_from(["pre", "sandwich", "parallel"])),
                     per_layer_input=draw(st.sampled_from([0, 0, 16])), layer_scalar=draw(st.booleans()))


ANY_SPEC = specs(recurrent=True) | specs() | specs(mla=True) | specs(cross=True)


@pytest.fixture(scope="module", params=CATALOG)
def catalog_spec(request):
    return find(request.param).spec()


# --------------------------------------------------------------------------- parameters

def _check_params(spec: ModelSpec) -> None:
    p = count_params(spec)
    assert 0 < p.active <= p.total
    for name, c in p.by_component.items():
        assert c.matrix >= 0 and c.kept >= 0, name
    assert min(p.per_layer) >= 0 and len(p.per_layer) == spec.num_layers
    assert p.quantizable >= 0 and p.kept >= 0 and p.mtp >= 0 and p.embedding_like >= 0
    assert p.quantizable + p.kept == p.total
    assert p.total == sum(c.total for c in p.by_component.values())
    outer_norms = norm_params(spec) * (spec.final_norm + spec.embedding_norm)
    table, ple_in = per_layer_table_params(spec)
    assert p.total == (sum(p.per_layer) + p.component("embeddings") + p.component("lm_head")
                       + outer_norms + p.component("vision") + table + ple_in.total)


@SETTINGS
@given(ANY_SPEC)
def test_params_add_up(spec):
    _check_params(spec)


def test_params_add_up_catalog(catalog_spec):
    _check_params(catalog_spec)


@SETTINGS
@given(specs(sliding="never"))
def test_dense_model_active_equals_total(spec):
    assume(not any(isinstance(f, MoEFFN) and f.top_k < f.experts
                   for layer in spec.layers for f in layer.ffns))
    p = count_params(spec)
    assert p.active == p.total - p.component("vision")


# --------------------------------------------------------------------------- KV cache and state

def _check_cache_growth(spec: ModelSpec, tokens: list[int]) -> None:
    for name, layer in spec.blocks.items():
        for m in layer.mixers:
            one = Layer(mixers=(m,))
            sizes = [layer_cache_bytes(one, t, 2.0) for t in tokens]
            if isinstance(m, Attention) and m.kv_shared:   # reads another layer's cache
                assert sizes == [0] * len(tokens), name
            elif isinstance(m, (Attention, MLA)) and m.kind == "full":
                per_token = layer_cache_bytes(one, 1, 2.0)
                assert per_token > 0
                assert sizes == [t * per_token for t in tokens], name
            elif isinstance(m, (Attention, MLA)):          # sliding / chunked: bounded by window
                per_token = layer_cache_bytes(one, 1, 2.0)
                assert sizes == [min(t, m.window) * per_token for t in tokens], name
                assert layer_cache_bytes(one, m.window, 2.0) == layer_cache_bytes(
                    one, m.window + 12345, 2.0)
            else:                                          # linear attention / SSM state
                assert len(set(sizes)) == 1 and sizes[0] > 0, name
    # whole model: monotone in tokens, linear in batch
    totals = [kv_cache_bytes(spec, t, 1, 2.0) for t in tokens]
    assert totals == sorted(totals)
    for t in tokens:
        assert kv_cache_bytes(spec, t, 3, 2.0) == pytest.approx(3 * kv_cache_bytes(spec, t, 1, 2.0))


@SETTINGS
@given(ANY_SPEC | recurrent_only_specs(), st.lists(st.integers(1, 10**6), min_size=2, max_size=6))
def test_cache_growth_by_layer_kind(spec, tokens):
    _check_cache_growth(spec, sorted(tokens))


def test_cache_growth_catalog(catalog_spec):
    _check_cache_growth(catalog_spec, [1, 2, 100, 4096, 4097, 32768, 10**6])


@SETTINGS
@given(specs(sliding="never", mla=True), st.integers(1, 10**5), st.integers(1, 10**5))
def test_full_attention_cache_is_linear_in_context(spec, a, b):
    assume(all(isinstance(m, (Attention, MLA)) for l in spec.layers for m in l.mixers))
    assert kv_cache_bytes(spec, a + b, 1, 2.0) == (kv_cache_bytes(spec, a, 1, 2.0)
                                                   + kv_cache_bytes(spec, b, 1, 2.0))


@SETTINGS
@given(specs(sliding="all"), st.integers(0, 10**6))
def test_all_sliding_cache_stops_growing_past_window(spec, extra):
    window = max(m.window for l in spec.layers for m in l.mixers)
    assert kv_cache_bytes(spec, window, 1, 2.0) == kv_cache_bytes(spec, window + extra, 1, 2.0)


# --------------------------------------------------------------------------- KV heads

def _kv_variants(spec: ModelSpec) -> list[ModelSpec]:
    heads = next(m.heads for l in spec.layers for m in l.mixers if isinstance(m, Attention))
    return [apply_overrides(spec, {"kv_heads": k}) for k in _divisors(heads)]


def _check_fewer_kv_heads(spec: ModelSpec, wl: Workload) -> None:
    reports = [cost_report(s, wl) for s in _kv_variants(spec)]
    for small, big in zip(reports, reports[1:]):
        assert small.memory.total <= big.memory.total
        assert small.memory.kv_cache <= big.memory.kv_cache
        assert small.memory.weights <= big.memory.weights
        assert small.tpot_s <= big.tpot_s
        assert small.decode.flops <= big.decode.flops
        assert small.max_batch >= big.max_batch
        assert small.max_context >= big.max_context


@SETTINGS
@given(specs(recurrent=True), st.integers(1, 65536), st.integers(1, 64))
def test_fewer_kv_heads_never_cost_more(spec, context, batch):
    assume(any(isinstance(m, Attention) for l in spec.layers for m in l.mixers))
    _check_fewer_kv_heads(spec, Workload(context=context, batch=batch))


@pytest.mark.parametrize("model", ["llama-3-8b", "mixtral-8x7b", "gemma-2-9b",
                                   "qwen3-next-80b-a3b"])
def test_fewer_kv_heads_never_cost_more_catalog(model):
    _check_fewer_kv_heads(find(model).spec(), Workload(context=8192, batch=4))


# --------------------------------------------------------------------------- weight formats

@SETTINGS
@given(ANY_SPEC, st.sampled_from([32, 64, 128, 256]))
def test_more_bits_never_shrink_weights(spec, group_size):
    ordered = sorted(DTYPES.values(), key=lambda d: d.bits(group_size))
    weights = [cost_report(spec, Workload(context=16, weights=d.name,
                                          group_size=group_size)).memory.weights for d in ordered]
    assert weights == sorted(weights), [(d.name, w) for d, w in zip(ordered, weights)]


def test_more_bits_never_shrink_weights_catalog(catalog_spec):
    ordered = sorted(DTYPES.values(), key=lambda d: d.bits())
    names = [d.name for d in ordered]
    assert names[0] == "ternary" and names[-1] == "fp32"
    weights = [cost_report(catalog_spec, Workload(context=16, weights=n)).memory.weights
               for n in names]
    assert weights == sorted(weights)
    assert weights[0] < weights[-1]


# --------------------------------------------------------------------------- FLOPs

@SETTINGS
@given(ANY_SPEC, st.integers(1, 10**5), st.integers(1, 10**5))
def test_prefill_flops_grow_with_context(spec, a, b):
    lo, hi = sorted((a, b))
    assume(lo < hi)
    f_lo = cost_report(spec, Workload(context=lo)).prefill.flops
    f_hi = cost_report(spec, Workload(context=hi)).prefill.flops
    assert f_lo < f_hi
    assert phase_flops(spec, lo) < phase_flops(spec, hi)


def _decode_flops(spec, p):
    return cost_report(spec, Workload(context=16, position=p)).decode.flops


@SETTINGS
@given(specs(sliding="never", recurrent=True, mla=True), st.integers(0, 10**6),
       st.integers(1, 10**6))
def test_decode_flops_grow_with_position_for_full_attention(spec, p, step):
    assume(any(isinstance(m, (Attention, MLA)) for l in spec.layers for m in l.mixers))
    assert _decode_flops(spec, p) < _decode_flops(spec, p + step)
    assert (phase_flops(spec, 1, start=p, decode=True)
            < phase_flops(spec, 1, start=p + step, decode=True))


@SETTINGS
@given(specs(sliding="all"), st.integers(0, 10**6), st.integers(0, 10**6))
def test_decode_flops_constant_past_window_when_all_sliding(spec, a, b):
    window = max(m.window for l in spec.layers for m in l.mixers)
    lo, hi = sorted((window + a, window + b))
    assert _decode_flops(spec, lo) == _decode_flops(spec, hi)
    # and never decrease before the window
    assert _decode_flops(spec, 0) <= _decode_flops(spec, lo)


@SETTINGS
@given(recurrent_only_specs(), st.integers(0, 10**6), st.integers(0, 10**6))
def test_decode_flops_constant_for_recurrent_only_models(spec, a, b):
    assert _decode_flops(spec, a) == _decode_flops(spec, b)


def test_decode_flops_catalog(catalog_spec):
    flops = [_decode_flops(catalog_spec, p) for p in (0, 1000, 100_000)]
    assert flops[0] < flops[1] < flops[2]  # every catalog model has a full-attention layer


# --------------------------------------------------------------------------- max batch / context

def _small_hw(memory_bytes: float):
    return dataclasses.replace(get_hardware("h100-sxm"), memory_bytes=float(memory_bytes))


def _fits(spec, wl, hw) -> bool:
    return cost_report(spec, wl, hw).memory.fits


def _check_limits(spec: ModelSpec, wl: Workload, hw) -> None:
    rep = cost_report(spec, wl, hw)
    mb, mc = rep.max_batch, rep.max_context
    cap = max(spec.context_length, wl.context)
    assert mb >= 0 and 0 <= mc <= cap
    assert rep.memory.fits == (mc >= wl.context)      # a workload that fits never reads as too long
    if mb == 0:
        assert not _fits(spec, dataclasses.replace(wl, batch=1), hw)
    else:
        assert _fits(spec, dataclasses.replace(wl, batch=mb), hw)
        assert not _fits(spec, dataclasses.replace(wl, batch=mb + 1), hw)
    assert rep.memory.fits == (wl.batch <= mb)
    if mc == 0:
        assert not _fits(spec, dataclasses.replace(wl, context=1), hw)
    else:
        assert _fits(spec, dataclasses.replace(wl, context=mc), hw)
        if mc < cap:
            assert not _fits(spec, dataclasses.replace(wl, context=mc + 1), hw)


@SETTINGS
@given(ANY_SPEC, st.integers(1, 16384), st.integers(1, 256), st.integers(1, 4),
       st.floats(0.0, 1.0), st.sampled_from(["bf16", "int4", "fp8"]),
       st.sampled_from(["bf16", "fp8", "int4"]))
def test_max_batch_and_max_context_are_tight(spec, context, batch, devices, frac, weights, kv):
    wl = Workload(context=context, batch=batch, devices=devices, weights=weights, kv=kv,
                  reserve_bytes=2**20)
    # Memory from "weights barely fit" to "a few hundred sequences fit", so limits bind.
    base = cost_report(spec, dataclasses.replace(wl, batch=1, context=1), _small_hw(1e15))
    need1 = base.memory.per_device
    full = cost_report(spec, dataclasses.replace(wl, batch=1), _small_hw(1e15)).memory.per_device
    memory = need1 * 0.9 + frac * (full - need1 * 0.9) * 300
    _check_limits(spec, wl, _small_hw(max(memory, 1.0)))


@pytest.mark.parametrize("memory_gib", [8, 24, 80, 141, 640])
def test_max_batch_and_max_context_are_tight_catalog(catalog_spec, memory_gib):
    _check_limits(catalog_spec, Workload(context=32768, batch=8), _small_hw(memory_gib * 2**30))


# --------------------------------------------------------------------------- overrides

OVERRIDE_VALUES = {
    "kv_heads": st.integers(-2, 40), "heads": st.integers(-2, 40), "head_dim": st.integers(-2, 128),
    "window": st.integers(-2, 20000), "experts": st.integers(-1, 40), "top_k": st.integers(-1, 40),
    "shared_experts": st.integers(-1, 4), "d_expert": st.integers(-1, 512),
    "d_ff": st.integers(-1, 2048), "hidden_size": st.integers(-1, 1024),
    "vocab_size": st.integers(-1, 10000), "context_length": st.integers(-1, 20000),
    "mtp_depth": st.integers(-1, 3), "tie_embeddings": st.sampled_from(["true", "no", "maybe"]),
    "attention": st.sampled_from(["mha", "gqa", "mqa", "mla", "full", "sliding", "linear", "ssm",
                                  "bogus"]),
    "local_global": st.sampled_from(["5:1", "1:1", "0:1", "3:0", "x", "2:1:1"]),
    "layers": st.integers(-1, 12), "name": st.text(max_size=8),
    "kv_lora_rank": st.integers(-1, 64), "q_lora_rank": st.integers(-1, 64),
    "image_tokens": st.integers(-1, 10000),
}


@st.composite
def override_lists(draw):
    keys = draw(st.lists(st.sampled_from(sorted(OVERRIDE_VALUES)), min_size=1, max_size=3))
    return [(k, draw(OVERRIDE_VALUES[k] | st.text(max_size=4))) for k in keys]


@SETTINGS
@given(ANY_SPEC, override_lists())
def test_overrides_never_mutate_and_raise_only_spec_error(spec, overrides):
    before = spec.to_dict()
    blocks_before = dict(spec.blocks)
    try:
        out = apply_overrides(spec, overrides)
    except SpecError as exc:
        assert exc.field and exc.rule
    else:
        assert isinstance(out, ModelSpec)
        out.validate()
        count_params(out)
    assert spec.to_dict() == before
    assert dict(spec.blocks) == blocks_before
    assert all(spec.blocks[k] is v for k, v in blocks_before.items())


def test_overrides_never_mutate_catalog(catalog_spec):
    before = catalog_spec.to_dict()
    for overrides in ({"kv_heads": 1}, {"attention": "mla"}, {"local_global": "5:1"},
                      {"layers": 3}, {"top_k": 1}, {"attention": "sliding"}, {"attention": "ssm"},
                      {"hidden_size": 1024, "name": "x"}):
        try:
            apply_overrides(catalog_spec, overrides)
        except SpecError:
            pass
    assert catalog_spec.to_dict() == before


@SETTINGS
@given(specs(), st.data())
def test_kv_heads_not_dividing_heads_is_rejected(spec, data):
    heads = next(m.heads for l in spec.layers for m in l.mixers if isinstance(m, Attention))
    bad = [k for k in range(1, 2 * heads + 2) if heads % k]
    k = data.draw(st.sampled_from(bad))
    with pytest.raises(SpecError) as info:
        apply_overrides(spec, {"kv_heads": k})
    assert "kv_heads" in info.value.field


@SETTINGS
@given(specs(), st.integers(1, 100))
def test_top_k_above_experts_is_rejected(spec, extra):
    moe = [f for l in spec.layers for f in l.ffns if isinstance(f, MoEFFN)]
    if not moe:
        with pytest.raises(SpecError):   # a dense model has no top_k to set
            apply_overrides(spec, {"top_k": 1})
        return
    with pytest.raises(SpecError) as info:
        apply_overrides(spec, {"top_k": max(f.experts for f in moe) + extra})
    assert "top_k" in info.value.field


@SETTINGS
@given(specs(sliding="never"), st.integers(1, 4096))
def test_window_without_sliding_layers_is_rejected(spec, window):
    with pytest.raises(SpecError) as info:
        apply_overrides(spec, {"window": window})
    assert info.value.field == "window"


@SETTINGS
@given(specs(sliding="all"), st.integers(1, 10**6))
def test_window_above_context_override_is_rejected(spec, extra):
    with pytest.raises(SpecError) as info:
        apply_overrides(spec, {"window": spec.context_length + extra})
    assert "window" in info.value.field


@pytest.mark.parametrize("model,overrides", [
    ("llama-3-8b", {"kv_heads": 5}), ("llama-3-8b", {"kv_heads": 0}), ("llama-3-8b", {"top_k": 2}),
    ("llama-3-8b", {"window": 1024}), ("mixtral-8x7b", {"top_k": 9}),
    ("mixtral-8x7b", {"experts": 1}), ("gemma-2-9b", {"window": 10**6}),
    ("gemma-2-9b", {"kv_heads": 3}), ("deepseek-v3", {"kv_heads": 8}),
    ("deepseek-v3", {"top_k": 300}), ("qwen3-next-80b-a3b", {"kv_heads": 3}),
    ("qwen3-next-80b-a3b", {"window": 4096}), ("llama-3-8b", {"heads": 30}),
])
def test_impossible_overrides_catalog(model, overrides):
    spec = find(model).spec()
    before = spec.to_dict()
    with pytest.raises(SpecError):
        apply_overrides(spec, overrides)
    assert spec.to_dict() == before


def test_mla_models_take_standard_attention_and_windows():
    """DeepSeek-V3's MLA becomes standard attention with the same heads and q/k/v widths under
    gqa/mha/mqa, takes windows like any attention layer, and its blocks are renamed to match."""
    spec = find("deepseek-v3").spec()
    mla = next(m for m in spec.layers[0].mixers if isinstance(m, MLA))
    wl = Workload(context=32768)
    kv = {}
    for kind, kv_heads in (("mha", mla.heads), ("gqa", 8), ("mqa", 1)):
        out = apply_overrides(spec, {"attention": kind})
        (attn,) = {m for layer in out.layers for m in layer.mixers}
        assert (attn.heads, attn.kv_heads, attn.head_dim, attn.vdim) == \
            (mla.heads, kv_heads, mla.qk_nope_dim + mla.qk_rope_dim, mla.v_head_dim)
        assert set(out.blocks) == {"full+dense", "full+moe"} and len(out.layout) == len(spec.layout)
        kv[kind] = cost_report(out, wl).memory.kv_cache
    assert kv["mha"] == 16 * kv["gqa"] == 128 * kv["mqa"]
    # per token and layer: K of 192 and V of 128 per KV head, against MLA's latent of 512 + 64
    assert kv["mqa"] / cost_report(spec, wl).memory.kv_cache == pytest.approx((192 + 128) / (512 + 64))
    sliding = apply_overrides(spec, {"attention": "sliding"})
    assert {m.kind for layer in sliding.layers for m in layer.mixers} == {"sliding"}
    assert cost_report(sliding, wl).memory.kv_cache < cost_report(spec, wl).memory.kv_cache / 4
    mixed = apply_overrides(spec, {"local_global": "5:1"})
    assert [m.kind for layer in mixed.layers[:6] for m in layer.mixers] == ["sliding"] * 5 + ["full"]
    with pytest.raises(SpecError, match="already uses multi-head latent attention"):
        apply_overrides(spec, {"attention": "mla"})


def test_edited_blocks_are_renamed_after_what_they_now_are():
    """Names made from a block's parts follow an edit ("full+moe" becomes "mla+moe"); names the
    spec chose itself, and blocks the edit left alone, keep theirs."""
    qnext = find("qwen3-next-80b-a3b").spec()
    out = apply_overrides(qnext, {"attention": "mla"})
    assert set(out.blocks) == {"linear+moe", "mla+moe"}
    assert [out.blocks[n] for n in out.layout] == list(out.layers)
    assert [n.split("+")[0] for n in out.layout] == \
        [{"full": "mla"}.get(n.split("+")[0], n.split("+")[0]) for n in qnext.layout]
    own = qnext.with_changes(blocks={("my attention" if n == "full+moe" else n): b for n, b in qnext.blocks.items()},
                             layout=tuple("my attention" if n == "full+moe" else n for n in qnext.layout))
    assert set(apply_overrides(own, {"attention": "mla"}).blocks) == {"linear+moe", "my attention"}
    assert set(apply_overrides(qnext, {"top_k": 4}).blocks) == set(qnext.blocks)   # same kinds, same names


@pytest.mark.parametrize("model,overrides,says", [
    ("mamba2-2.7b", {"attention": "gqa"}, "its layers use state-space (Mamba)"),
    ("mamba2-2.7b", {"local_global": "5:1"}, "has no attention layers: its layers use state-space (Mamba)"),
    ("deepseek-v3", {"kv_heads": 8}, "has no softmax attention (MHA/GQA/MQA) layers to change: its layers use "
                                     "multi-head latent attention (MLA)"),
    ("qwen3-next-80b-a3b", {"kv_lora_rank": 64}, "its layers use linear attention and softmax attention"),
])
def test_an_edit_that_does_not_apply_says_what_the_model_has(model, overrides, says):
    with pytest.raises(SpecError) as info:
        apply_overrides(find(model).spec(), overrides)
    assert says in str(info.value)
