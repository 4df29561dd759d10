"""Gemma 4 through every layer of the tool: import, parameters, FLOPs and cache against transformers'
modeling_gemma4, the spec's rules, the torch blocks, ONNX Runtime and the profiler.

The four shapes are the text configs of Google's releases as other public projects pin them field
by field (no verbatim config.json is available here): E2B and E4B from the tests of
Gemma4Swift (ConfigurationTests) and a Rust loader (test_detect_gemma4_e2b), and from a QAT
checkpoint's transcribed config (google/gemma-4-E4B-it-qat-w4a16-ct); 31B and 26B-A4B from the
same loader's test_detect_gemma4_31b and a Swift stage planner that checks the 26B-A4B artifacts'
geometry field by field (Gemma4StageGeometry).
"""
from __future__ import annotations

import pytest

from models.cost import (Workload, _Fmt, block_ops, cost_report, kv_cache_bytes, phase_flops,
                         prefill_tail_start, tail_blocks)
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.params import count_params, layer_params, per_layer_table_params
from models.spec import Attention, Layer, ModelSpec, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hf_reference import cache_bytes_held, reference_param_count  # noqa: E402

E2B = {"model_type": "gemma4_text", "hidden_size": 1536, "num_hidden_layers": 35, "intermediate_size": 6144,
       "num_attention_heads": 8, "head_dim": 256, "global_head_dim": 512, "vocab_size": 262144,
       "num_key_value_heads": 1, "num_kv_shared_layers": 20, "hidden_size_per_layer_input": 256,
       "vocab_size_per_layer_input": 262144, "sliding_window": 512, "max_position_embeddings": 131072,
       "final_logit_softcapping": 30.0, "attention_bias": False, "attention_k_eq_v": False,
       "use_double_wide_mlp": True, "enable_moe_block": False, "tie_word_embeddings": True,
       "hidden_activation": "gelu_pytorch_tanh",
       "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 7}
E4B = {"model_type": "gemma4_text", "vocab_size": 262144, "hidden_size": 2560, "intermediate_size": 10240,
       "num_hidden_layers": 42, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256,
       "global_head_dim": 512, "num_kv_shared_layers": 18, "hidden_size_per_layer_input": 256,
       "vocab_size_per_layer_input": 262144, "use_double_wide_mlp": False, "sliding_window": 512,
       "final_logit_softcapping": 30.0, "attention_k_eq_v": False,
       "layer_types": ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(42)]}
G31B = {"model_type": "gemma4_text", "hidden_size": 5376, "intermediate_size": 21504, "num_hidden_layers": 60,
        "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 256, "global_head_dim": 512,
        "num_global_key_value_heads": 4, "vocab_size": 262144, "attention_k_eq_v": True, "sliding_window": 1024,
        "final_logit_softcapping": 30.0, "hidden_size_per_layer_input": 0, "max_position_embeddings": 262144,
        "layer_types": ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(60)]}
A4B = {"model_type": "gemma4_text", "num_hidden_layers": 30, "hidden_size": 2816, "vocab_size": 262144,
       "intermediate_size": 2112, "moe_intermediate_size": 704, "num_experts": 128, "top_k_experts": 8,
       "sliding_window": 1024, "num_attention_heads": 16, "num_key_value_heads": 8,
       "num_global_key_value_heads": 2, "head_dim": 256, "global_head_dim": 512, "num_kv_shared_layers": 0,
       "hidden_size_per_layer_input": 0, "max_position_embeddings": 262144, "attention_k_eq_v": True,
       "enable_moe_block": True, "use_double_wide_mlp": False, "final_logit_softcapping": 30.0,
       "layer_types": ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(30)]}
SHAPES = {"e2b": E2B, "e4b": E4B, "31b": G31B, "26b-a4b": A4B}


def _wrapped(text: dict, vision: dict | None = None, audio: dict | None = None) -> dict:
    """An image-text (and audio) checkpoint around ``text``, as Gemma4ForConditionalGeneration reads it."""
    cfg = {"model_type": "gemma4", "text_config": {k: v for k, v in text.items() if k != "model_type"}}
    if vision is not None:
        cfg["vision_config"] = vision
    if audio is not None:
        cfg["audio_config"] = audio
    return cfg


def _small(**changes) -> dict:
    """An E-model layout at test size: PLE, 3 KV-shared layers, wider MLPs there, a global head size."""
    cfg = dict(model_type="gemma4_text", hidden_size=64, intermediate_size=96, num_hidden_layers=7,
               num_attention_heads=4, num_key_value_heads=2, head_dim=16, global_head_dim=32, vocab_size=512,
               vocab_size_per_layer_input=384, hidden_size_per_layer_input=8, num_kv_shared_layers=3,
               sliding_window=16, use_double_wide_mlp=True, max_position_embeddings=4096,
               layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2 + ["full_attention"])
    cfg.update(changes)
    return cfg


# --------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("name", sorted(SHAPES))
def test_text_models_count_as_transformers_builds_them(name):
    assert count_params(spec_from_hf_config(SHAPES[name])).total == reference_param_count(SHAPES[name])


WRAPPERS = {
    "e2b-vision-audio": _wrapped(E2B, {}, {}),
    "26b-a4b-vision": _wrapped(A4B, {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                                     "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 72}),
    "small-audio-unclipped": _wrapped(_small(), audio={"use_clipped_linears": False, "num_hidden_layers": 2,
                                                       "hidden_size": 256, "subsampling_conv_channels": [64, 16],
                                                       "output_proj_dims": 192}),
    "small-vision-standardized-clipped": _wrapped(_small(), {"standardize": True, "use_clipped_linears": True,
                                                             "num_key_value_heads": 4, "head_dim": 32,
                                                             "num_hidden_layers": 2, "patch_size": 14}),
}


def _unified(**vision) -> dict:
    """The encoder-free 12B (gemma4_unified): merged pixel patches and audio frames projected in."""
    text = {k: v for k, v in transformers.AutoConfig.for_model("gemma4_unified_text").to_dict().items()
            if k not in ("model_type", "per_layer_config")}
    return {"model_type": "gemma4_unified", "text_config": text, "vision_config": vision,
            "audio_config": {"audio_embed_dim": 320}}


WRAPPERS["unified-12b"] = _unified()
WRAPPERS["unified-small-patches"] = _unified(patch_size=14, pooling_kernel_size=2, mm_embed_dim=1024,
                                             output_proj_dims=768, mm_posemb_size=512)


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_checkpoints_with_encoders_count_as_transformers_builds_them(name):
    spec = spec_from_hf_config(WRAPPERS[name])
    assert spec.vision is not None and spec.model_type == WRAPPERS[name]["model_type"]
    assert count_params(spec).total == reference_param_count(WRAPPERS[name])


def test_the_form_transformers_5_saves_reads_the_same():
    """transformers 5 writes per_layer_config (layer index -> head_dim, num_key_value_heads) in place
    of global_head_dim and num_global_key_value_heads."""
    from transformers import Gemma4TextConfig
    saved = Gemma4TextConfig(**{k: v for k, v in _small(attention_k_eq_v=True, num_global_key_value_heads=1,
                                                        num_kv_shared_layers=0).items()
                                if k != "model_type"}).to_dict()
    assert "per_layer_config" in saved and "global_head_dim" not in saved
    spec = spec_from_hf_config(saved)
    assert count_params(spec).total == reference_param_count(saved)
    globals_ = [m for layer in spec.layers for m in layer.mixers if m.kind == "full"]
    assert {(m.head_dim, m.kv_heads, m.value_from_key) for m in globals_} == {(32, 1, True)}


def test_e_models_effective_count_leaves_out_the_per_layer_table():
    """Google counts the E models' per-layer embedding table apart (E2B: "effective" parameters);
    a token reads one row of it, as of the token embedding."""
    spec = spec_from_hf_config(E2B)
    p = count_params(spec)
    table = 262144 * 35 * 256
    assert per_layer_table_params(spec)[0] == table
    assert p.lookup_only == table                              # the token embedding is tied: the head
    assert p.active_without_embeddings == p.total - table
    assert round(p.active_without_embeddings / 1e9, 2) == 2.28


def test_moe_shape_activates_eight_experts_and_the_dense_mlp():
    p = count_params(spec_from_hf_config(A4B))
    assert round(p.total / 1e9, 2) == 25.23 and round(p.active / 1e9, 2) == 3.82


# --------------------------------------------------------------------------- the importer

def test_the_unified_model_has_no_per_layer_inputs_or_moe():
    spec = spec_from_hf_config({**_unified()["text_config"], "model_type": "gemma4_unified_text",
                                "enable_moe_block": True, "hidden_size_per_layer_input": 256})
    assert spec.per_layer_input == 0 and not any(len(layer.ffns) > 1 for layer in spec.layers)


def test_import_reads_every_gemma4_feature():
    spec = spec_from_hf_config(_small(attention_k_eq_v=True, num_global_key_value_heads=1))
    layers = spec.layers
    assert [m.kv_shared for layer in layers for m in layer.mixers] == [False] * 4 + [True] * 3
    producers = [layer.mixer for layer in layers[:4]]
    assert [m.value_from_key for m in producers] == [False, False, True, False]   # global layers only
    assert all(m.v_norm and m.qk_norm == "head" for layer in layers for m in layer.mixers)
    assert [layer.ffn.d_ff for layer in layers] == [96] * 4 + [192] * 3          # double-wide when shared
    assert (spec.per_layer_input, spec.per_layer_vocab, spec.layer_scalar) == (8, 384, True)
    assert prefill_tail_start(spec) == 4
    assert tail_blocks(spec) == {"local-shared+dense", "full-shared+dense"}


@pytest.mark.parametrize("changes, field, says", [
    ({"use_bidirectional_attention": "all"}, "config.use_bidirectional_attention", "encoder"),
    ({"num_kv_shared_layers": 7}, "config.num_kv_shared_layers", "at least one"),
    ({"layer_types": ["chunked_attention"] * 7}, "config.layer_types", "chunked_attention"),
    ({"per_layer_config": [1, 2]}, "config.per_layer_config", "layer indices"),
])
def test_configs_the_importer_refuses_name_the_key(changes, field, says):
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(_small(**changes))
    assert info.value.field == field and says in info.value.rule


# --------------------------------------------------------------------------- the spec's rules

def _spec(layout: tuple[str, ...], blocks: dict) -> ModelSpec:
    return ModelSpec(name="t", vocab_size=64, hidden_size=32, context_length=256, blocks=blocks, layout=layout)


def test_a_shared_layer_needs_an_earlier_layer_with_the_same_cache():
    own = Layer((Attention(heads=4, kv_heads=2, head_dim=8),))
    shared = Layer((Attention(heads=4, kv_heads=2, head_dim=8, kv_shared=True),))
    other = Layer((Attention(heads=4, kv_heads=1, head_dim=8, kv_shared=True),))
    _spec(("own", "shared"), {"own": own, "shared": shared})                  # valid
    with pytest.raises(SpecError) as info:
        _spec(("shared", "own"), {"own": own, "shared": shared})
    assert info.value.field == "blocks.shared.mixers[0].kv_shared" and "layer 0" in info.value.rule
    with pytest.raises(SpecError) as info:
        _spec(("own", "other"), {"own": own, "other": other})
    assert "1 KV head of 8 dims" in info.value.rule


@pytest.mark.parametrize("fields, field", [
    ({"value_from_key": True, "v_head_dim": 4}, "v_head_dim"),
    ({"value_from_key": True, "kv_shared": True}, "value_from_key"),
    ({"v_norm": 1}, "v_norm"),
])
def test_impossible_attention_combinations_are_refused(fields, field):
    with pytest.raises(SpecError) as info:
        Attention(heads=4, kv_heads=2, head_dim=8, **fields).validate("a")
    assert info.value.field == f"a.{field}"


@pytest.mark.parametrize("key, value", [("per_layer_input", -1), ("per_layer_vocab", -3), ("layer_scalar", "yes")])
def test_model_level_fields_are_checked(key, value):
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(_small()).with_changes(**{key: value})
    assert info.value.field == key


def test_spec_round_trips_through_its_file_format():
    spec = spec_from_hf_config(_wrapped(A4B, {}))
    assert ModelSpec.from_dict(spec.to_dict()) == spec


# --------------------------------------------------------------------------- FLOPs and cache

def _counted_flops(cfg: dict, tokens: int, device: str) -> int:
    from test_flops_and_cache import counted_flops
    return counted_flops(cfg, tokens, device=device)


@pytest.mark.parametrize("cfg, device", [
    # at true width: 10 layers, the last 5 KV-shared (only the last token runs through them)
    pytest.param({**E2B, "num_hidden_layers": 10, "num_kv_shared_layers": 5,
                  "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 2}, "meta", id="e2b-10-layers"),
    pytest.param({**G31B, "num_hidden_layers": 6, "layer_types": None}, "meta", id="31b-6-layers"),
    # routing is data dependent: runs for real at reduced width
    pytest.param({**A4B, "num_hidden_layers": 2, "layer_types": ["sliding_attention", "full_attention"],
                  "hidden_size": 256, "intermediate_size": 128, "moe_intermediate_size": 64, "vocab_size": 2048,
                  "num_experts": 16, "top_k_experts": 4}, "cpu", id="26b-a4b-reduced"),
])
def test_prefill_flops_equal_flop_counter(cfg, device):
    """Exact: eager attention (every score of the S x S matrix, the engine's dense convention), the
    per-layer input projections, and transformers' slicing of the KV-shared tail to the last token."""
    tokens = 64
    assert phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True) == _counted_flops(cfg, tokens, device)


def test_the_shared_tail_prefill_costs_one_token_per_layer():
    spec = spec_from_hf_config(_small())
    fmt = _Fmt(2, 2, 2, 2)
    S = 1000
    tail = spec.blocks["full-shared+dense"]
    step = sum(op.flops for op in block_ops(spec, tail, 1, 1, S - 1, fmt, True))
    full = sum(op.flops for op in block_ops(spec, tail, S, 1, 0, fmt, False))
    assert step < full / 100
    report = cost_report(spec, Workload(context=S))
    last = [op for op in report.prefill.ops if "(last token): " in op.name]      # not the LM head
    assert sum(op.count for op in last if op.kind == "attention") == 3
    assert sum(op.flops * op.count for op in last) == pytest.approx(
        2 * step + sum(op.flops for op in block_ops(spec, spec.blocks["local-shared+dense"], 1, 1, S - 1, fmt, True)))


def test_kv_cache_equals_what_transformers_cache_holds():
    """Shared layers hold nothing (transformers gives them placeholder layers). Below the window;
    past it, transformers keeps window - 1 tokens and appends the next one when it comes, where
    the engine counts the window it will need."""
    cfg = _small()
    batch, tokens = 3, 11
    held = cache_bytes_held(cfg, batch, tokens, 384)
    ours = kv_cache_bytes(spec_from_hf_config(cfg), tokens, batch, kv_bytes=2)
    # 3 sliding layers x (16 + 16) + 1 global x (32 + 32) channels, 2 KV heads, bf16
    assert ours == held == batch * tokens * 2 * 2 * (3 * 32 + 64)


# --------------------------------------------------------------------------- blocks

def test_blocks_count_as_the_engine_at_true_width():
    from kernels.blocks import build_layer, count_params as module_params
    for cfg in (E2B, A4B, G31B):
        spec = spec_from_hf_config(cfg)
        for name, layer in spec.blocks.items():
            parts, _ = layer_params(spec, layer)
            assert module_params(build_layer(spec, layer, device="meta")) == sum(c.total for c in parts.values()), name


def _small_layers(**changes):
    from kernels.blocks import build_layer
    from block_cases import randomize
    spec = spec_from_hf_config(_small(**changes))
    torch.manual_seed(0)
    layers = {}
    for name, layer in spec.blocks.items():
        m = build_layer(spec, layer, dtype=torch.float64).eval()
        randomize(m)
        layers[name] = m
    return spec, layers


def test_a_shared_layer_reads_the_cache_and_never_writes_it():
    spec, layers = _small_layers()
    m = layers["full-shared+dense"]
    assert not hasattr(m.mixers[0], "k_proj") and not hasattr(m.mixers[0], "v_proj")
    B, S = 2, 9
    x, ple = torch.randn(B, S, 64, dtype=torch.float64), torch.randn(B, S, 8, dtype=torch.float64)
    states = m.new_state(B, S + 1)
    before = [t.clone() for st in states for t in st.values()]
    with torch.no_grad():
        y = m(x, states, ple)
        last = m.step(x[:, -1:], states, S - 1, ple[:, -1:])            # the tail's prefill
        detached, updates = m.step_detached(x[:, -1:], states, S - 1, ple[:, -1:])
    assert all(torch.equal(a, b) for a, b in zip(before, (t for st in states for t in st.values())))
    assert updates == [{}]
    torch.testing.assert_close(last, y[:, -1:], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(detached, last, rtol=1e-12, atol=1e-12)
    # every copy of the layer reads the same stand-in cache
    assert torch.equal(m.new_state(B, S + 1)[0]["k"], states[0]["k"])


def test_a_sliding_shared_layer_keeps_to_its_window():
    spec, layers = _small_layers(sliding_window=4)
    m = layers["local-shared+dense"]
    B, S = 1, 12
    x, ple = torch.randn(B, S, 64, dtype=torch.float64), torch.randn(B, S, 8, dtype=torch.float64)
    states = m.new_state(B, S + 1)
    with torch.no_grad():
        y = m.step(x[:, -1:], states, S - 1, ple[:, -1:])
        states[0]["k"][:, :, :S - 4] += 100.0                            # keys outside the window
        states[0]["v"][:, :, :S - 4] -= 100.0
        assert torch.equal(m.step(x[:, -1:], states, S - 1, ple[:, -1:]), y)


def test_values_from_the_key_projection():
    from kernels.blocks.attention import rms_normalize
    spec, layers = _small_layers(attention_k_eq_v=True, num_global_key_value_heads=1)
    attn = layers["full+dense"].mixers[0]
    assert attn.cfg.value_from_key and not hasattr(attn, "v_proj")
    x = torch.randn(2, 5, 64, dtype=torch.float64)
    _, _, v, _ = attn._qkv(x, torch.arange(5))
    raw = attn.k_proj(x).view(2, 5, 1, 32).transpose(1, 2)
    torch.testing.assert_close(v, rms_normalize(raw))


def test_a_layer_with_per_layer_inputs_decodes_as_it_prefills():
    spec, layers = _small_layers()
    m = layers["full+dense"]
    x, ple = torch.randn(2, 6, 64, dtype=torch.float64), torch.randn(2, 6, 8, dtype=torch.float64)
    with torch.no_grad():
        y = m(x, m.new_state(2, 6), ple)
        states = m.new_state(2, 6)
        steps = torch.cat([m.step(x[:, t:t + 1], states, t, ple[:, t:t + 1]) for t in range(6)], 1)
    torch.testing.assert_close(steps, y, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="per-layer input"):
        m(x)


# --------------------------------------------------------------------------- profiler, ONNX Runtime

def test_profile_of_an_e_model_runs_every_block_and_backend():
    """torch, SDPA and ONNX Runtime on every block (the KV-shared tail's prefill as the last token's
    step, reading the cache of the layers before it), plus the LM head with the per-layer table."""
    from block_cases import assert_blocks_run

    from kernels.profiler import block_op_costs
    spec = spec_from_hf_config(_small(attention_k_eq_v=True, num_global_key_value_heads=1))
    result, blocks = assert_blocks_run(spec, ("torch", "sdpa", "onnxruntime"))
    assert "last token only" in blocks["full-shared+dense", "prefill", "onnxruntime"].message
    assert "last token" not in blocks["full+dense", "prefill", "torch"].message
    fmt = _Fmt(4, 4, 4, 4)
    tail_prefill = sum(f for f, _ in block_op_costs(spec, "full-shared+dense", "prefill", 32, 1, fmt))
    tail_step = sum(f for f, _ in block_op_costs(spec, "full-shared+dense", "decode", 31, 1, fmt))
    assert tail_prefill == tail_step
    assert result.whole_model is not None and result.whole_model.decode_s > 0


# --------------------------------------------------------------------------- the diagram

def test_diagram_shows_per_layer_inputs_and_shared_caches():
    spec = spec_from_hf_config(_small(attention_k_eq_v=True, num_global_key_value_heads=1))
    model = diagram_model(spec)
    for name, detail in model.blocks.items():
        assert sum(c.params for c in detail.components) == detail.params, name
    names = {c.name for c in model.blocks["full-shared+dense"].components}
    assert "shared K/V" in names and "k_proj" not in names and "per_layer_input_gate" in names
    assert "v = k" in {c.name for c in model.blocks["full+dense"].components}
    ple = next(it for it in model.overview if it.kind == "per_layer_input")
    table, proj = per_layer_table_params(spec)
    assert ple.params == table + proj.total
    assert model.blocks["full-shared+dense"].cache_bytes_per_token == 0


# --------------------------------------------------------------------------- the KV-sharing knob

def test_sharing_the_last_layers_caches_is_the_config_that_says_so():
    """kv_shared_layers=N on a model without sharing equals the config with num_kv_shared_layers=N,
    apart from what that config also widens (use_double_wide_mlp)."""
    from models.overrides import apply_overrides
    plain = spec_from_hf_config(_small(num_kv_shared_layers=0))
    edited = apply_overrides(plain, {"kv_shared_layers": 3})
    expected = spec_from_hf_config(_small(use_double_wide_mlp=False))
    assert count_params(edited).total == count_params(expected).total
    assert kv_cache_bytes(edited, 100, 1, 2) == kv_cache_bytes(expected, 100, 1, 2)
    assert phase_flops(edited, 100) == phase_flops(expected, 100)
    assert apply_overrides(edited, {"kv_shared_layers": 0}) == plain


@pytest.mark.parametrize("spec_of, value, says", [
    (lambda: spec_from_hf_config(_small(num_kv_shared_layers=0)), 7, "from 0 to 6"),
    # the last layer is the only global one: no earlier layer caches global attention
    (lambda: spec_from_hf_config(_small(num_kv_shared_layers=0, layer_types=["sliding_attention"] * 6
                                        + ["full_attention"])), 1, "no earlier layer caches full attention"),
])
def test_impossible_sharing_names_the_knob(spec_of, value, says):
    from models.overrides import apply_overrides
    with pytest.raises(SpecError) as info:
        apply_overrides(spec_of(), {"kv_shared_layers": value})
    assert info.value.field == "kv_shared_layers" and says in info.value.rule


def test_models_without_standard_attention_have_no_sharing_to_set():
    from models.catalog import find
    from models.metrics import knob_values
    from models.overrides import apply_overrides
    spec = find("deepseek-v3").spec()
    assert knob_values(spec)["kv_shared_layers"] is None
    with pytest.raises(SpecError) as info:
        apply_overrides(spec, {"kv_shared_layers": 2})
    assert "multi-head latent attention" in info.value.rule
    assert knob_values(spec_from_hf_config(E2B))["kv_shared_layers"] == 20


def test_prefill_activations_hold_every_layers_per_layer_inputs():
    """transformers makes the per-layer inputs [B, S, L, p] before the first layer; they live
    through the pass (E2B at 32K tokens: 560 MiB in bf16)."""
    spec = spec_from_hf_config(E2B)
    wl = Workload(context=32768, batch=1)
    without = spec.with_changes(per_layer_input=0)
    extra = cost_report(spec, wl).memory.activations - cost_report(without, wl).memory.activations
    assert extra == 32768 * 35 * 256 * 2 == 587_202_560


@pytest.mark.gpu
def test_profile_of_an_e_model_on_cuda_runs_every_backend():
    """On a GPU: our Triton decode attention over values-from-keys and shared caches (the sliding
    shared layer keeps to torch: the kernel reads a ring as its window), ONNX Runtime's CUDA
    provider with the per-layer input bound beside x, all against the float64 reference."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from block_cases import assert_cuda_profile
    result = assert_cuda_profile(spec_from_hf_config(_small(attention_k_eq_v=True, num_global_key_value_heads=1)))
    decode_triton = {b.block: b for b in result.blocks if b.backend == "triton" and b.phase == "decode"}
    assert "decode_attention" in decode_triton["full-shared+dense"].kernels
    assert "decode_attention" not in decode_triton["local-shared+dense"].kernels


def test_triton_decode_attention_reads_a_shared_cache_as_the_torch_layer_does():
    """The profiler's Triton backend on a KV-shared global layer: the flash-decoding kernel over the
    cache another layer wrote equals the torch step (Triton's interpreter on the CPU)."""
    from block_cases import triton_step_of
    spec = spec_from_hf_config(_small())
    used, error = triton_step_of(spec, "full-shared+dense")
    assert "decode_attention" in used and error < 1e-5
    # a sliding shared layer reads a full-length cache through a mask; the kernel reads its whole
    # cache as the window, so the layer keeps to torch
    used, error = triton_step_of(spec, "local-shared+dense")
    assert "decode_attention" not in used and error < 1e-5
