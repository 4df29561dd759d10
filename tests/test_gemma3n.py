"""Gemma 3n through every layer of the tool: import, parameters, FLOPs and cache against transformers'
modeling_gemma3n, the spec's rules for AltUp, LAuReL and the sparse gate, the torch blocks against
transformers' decoder layer, ONNX Runtime and the profiler, and the diagram.

E4B is transformers' default Gemma3nTextConfig (35 layers, d 2048, MLP 16384, 15 KV-shared layers);
E2B is the same with 30 layers, MLP 8192 and 10 KV-shared layers.
"""
from __future__ import annotations

import math

import pytest

from models.cost import Workload, cost_report, kv_cache_bytes, phase_flops
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.hf.mobilenet_v5 import mobilenet_v5_params
from models.params import (altup_params, altup_stream_params, count_params, laurel_params, layer_params,
                           per_layer_table_params)
from models.spec import DenseFFN, ModelSpec, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hf_reference import (MOBILENET_V5_300M, assert_counts_equal, cache_bytes_held,  # noqa: E402
                          default_config)

E4B = default_config("gemma3n_text")
E2B = default_config("gemma3n_text", num_hidden_layers=30, intermediate_size=[8192] * 30, num_kv_shared_layers=10,
                     activation_sparsity_pattern=[0.95] * 10 + [0.0] * 20, layer_types=None)


def _small(**changes) -> dict:
    """Gemma 3n at test size: 4 streams, LAuReL, per-layer inputs, a sparse gate in the first three
    layers, the last two layers KV-shared."""
    n = changes.pop("num_hidden_layers", 7)
    cfg = dict(model_type="gemma3n_text", hidden_size=64, intermediate_size=[96] * n, num_hidden_layers=n,
               num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=512,
               vocab_size_per_layer_input=384, hidden_size_per_layer_input=8, num_kv_shared_layers=2,
               sliding_window=16, laurel_rank=4, max_position_embeddings=4096,
               activation_sparsity_pattern=[0.95] * 3 + [0.0] * (n - 3),
               layer_types=(["sliding_attention", "sliding_attention", "full_attention"] * n)[:n - 1]
               + ["full_attention"])
    cfg.update(changes)
    return cfg


# --------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("cfg", [E4B, E2B, _small()], ids=["e4b", "e2b", "small"])
def test_text_models_count_as_transformers_builds_them(cfg):
    assert_counts_equal(cfg)


def test_published_sizes():
    """Google: E2B "5B" and E4B "8B" raw parameters (text, vision and audio); the language models
    alone 4.44B and 6.84B, of which the per-layer table is 2.01B and 2.35B."""
    e2b, e4b = spec_from_hf_config(E2B), spec_from_hf_config(E4B)
    assert count_params(e2b).total == 4_435_182_688
    assert count_params(e4b).total == 6_835_235_568
    assert per_layer_table_params(e2b)[0] == 262_144 * 30 * 256 == 2_013_265_920


def test_the_wrapper_counts_the_language_model_and_both_encoders():
    """Gemma3nForConditionalGeneration = the language model + MobileNet-V5 + the Conformer audio
    encoder + an embedder for each. transformers builds the vision tower through timm, which this
    project does not install: the reference (hf_reference) takes that part from timm's own count
    and builds the rest from transformers' modules."""
    config = transformers.Gemma3nConfig().to_dict()
    assert_counts_equal(config)
    spec = spec_from_hf_config(config)
    assert count_params(spec).total == 7_818_517_072
    assert spec.vision.name == "MobileNet-V5 (mobilenetv5_300m_enc) + Conformer audio (12 layers)"
    assert spec.model_type == "gemma3n" and spec.tie_embeddings


def test_mobilenet_v5_reads_timms_block_strings():
    assert mobilenet_v5_params("mobilenetv5_300m_enc") == MOBILENET_V5_300M
    with pytest.raises(SpecError, match="mobilenetv5_300m_enc"):
        mobilenet_v5_params("mobilenetv4_conv_small")


def test_component_formulas():
    spec = spec_from_hf_config(E4B)
    d, n, r = 2048, 4, 64
    assert altup_params(spec).total == d * n + n ** 3 + n * n + 2 * d
    assert altup_stream_params(spec).matrix == 2 * (n - 1) * d * d
    assert laurel_params(spec).total == 2 * d * r + d
    parts, _ = layer_params(spec, spec.layers[0])
    assert parts["altup"].total == altup_params(spec).total and parts["laurel"].total == laurel_params(spec).total


# --------------------------------------------------------------------------- import and the spec's rules

def test_import_reads_every_gemma3n_feature():
    spec = spec_from_hf_config(E2B)
    assert (spec.altup_streams, spec.laurel_rank, spec.per_layer_input) == (4, 64, 256)
    assert spec.residual_width == 4 * 2048
    ffns = [layer.ffn for layer in spec.layers]
    assert [f.activation_sparsity for f in ffns] == [0.95] * 10 + [0.0] * 20
    attn = [layer.mixer for layer in spec.layers]
    assert [a.kind for a in attn[:5]] == ["sliding"] * 4 + ["full"]
    assert sum(a.kv_shared for a in attn) == 10 and all(a.kv_shared for a in attn[20:])
    assert all(a.v_norm and a.qk_norm == "head" for a in attn)
    assert "local+dense-sparse" in spec.blocks and "local-shared+dense" in spec.blocks


@pytest.mark.parametrize("changes, field, says", [
    ({"intermediate_size": [96] * 3}, "config.intermediate_size", "one value per layer"),
    ({"altup_num_inputs": 1}, "config.altup_num_inputs", "at least 2 streams"),
    ({"altup_active_idx": 4}, "config.altup_active_idx", "one of the 4 streams"),
    ({"layer_types": ["chunked_attention"] * 7}, "config.layer_types", "chunked_attention"),
    ({"num_kv_shared_layers": 7}, "config.num_kv_shared_layers", "at least one"),
    ({"activation_sparsity_pattern": [1.0] * 7}, "blocks", "activation_sparsity"),
])
def test_configs_the_importer_refuses_name_the_key(changes, field, says):
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(_small(**changes))
    assert err.value.field.startswith(field) and says in str(err.value)


@pytest.mark.parametrize("fields, says", [
    ({"activation_sparsity": 1.0}, "up to (not including) 1"),
    ({"activation_sparsity": -0.1}, "from 0"),
    ({"activation_sparsity": float("nan")}, "fraction"),
    ({"activation_sparsity": 0.5, "gated": False}, "only a gated FFN"),
])
def test_impossible_sparse_gates_are_refused(fields, says):
    with pytest.raises(SpecError, match="activation_sparsity") as err:
        DenseFFN(64, **fields).validate("ffn")
    assert says in str(err.value)


@pytest.mark.parametrize("key, value", [("altup_streams", 1), ("altup_streams", -2), ("laurel_rank", -1),
                                        ("laurel_rank", 2.5)])
def test_model_level_fields_are_checked(key, value):
    spec = spec_from_hf_config(_small())
    with pytest.raises(SpecError) as err:
        spec.with_changes(**{key: value})
    assert err.value.field == key


def test_spec_round_trips_through_its_file_format(tmp_path):
    from models.spec_io import load_spec_file, save_spec
    spec = spec_from_hf_config(_small())
    for name in ("g.json", "g.toml"):
        save_spec(spec, tmp_path / name)
        assert load_spec_file(tmp_path / name) == spec


# --------------------------------------------------------------------------- FLOPs and cache

def test_prefill_flops_equal_flop_counter_at_true_width():
    """E2B's widths, 5 layers (two with the sparse gate), no KV sharing (transformers runs every
    layer over the whole prompt, where the engine runs a shared tail on the last token only). The
    one difference is derived: transformers merges the AltUp streams (N - 1 projections d x d) of
    every token, the engine only of the last, which the head reads."""
    from test_flops_and_cache import counted_flops
    n, tokens = 5, 64
    cfg = {**E2B, "num_hidden_layers": n, "intermediate_size": [8192] * n, "num_kv_shared_layers": 0,
           "activation_sparsity_pattern": [0.95] * 2 + [0.0] * 3}
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    merge_of_other_tokens = 2 * 3 * 2048 * 2048 * (tokens - 1)
    assert ours + merge_of_other_tokens == counted_flops(cfg, tokens)


def test_decode_flops_equal_flop_counter_with_shared_caches():
    """A decode step after 20 tokens, batch 2: the global layers attend to all 21 positions, the
    sliding ones (shared ones included, which read the sliding cache before them) to the 16 of
    their window; exact."""
    from test_flops_and_cache import _model
    from torch.utils.flop_counter import FlopCounterMode
    cfg = _small(num_hidden_layers=6, num_kv_shared_layers=2)
    model = _model(cfg, "cpu")
    batch, tokens = 2, 20
    with torch.no_grad():
        out = model(input_ids=torch.randint(0, 384, (batch, tokens)), use_cache=True)
        counter = FlopCounterMode(display=False)
        with counter:
            model(input_ids=torch.randint(0, 384, (batch, 1)), past_key_values=out.past_key_values,
                  use_cache=True, logits_to_keep=1)
    ours = phase_flops(spec_from_hf_config(cfg), 1, batch, tokens, decode=True)
    assert ours == counter.get_total_flops()


def test_kv_cache_equals_what_transformers_cache_holds():
    """Shared layers hold nothing; below the window every layer holds every token."""
    cfg = _small()
    batch, tokens = 3, 11
    held = cache_bytes_held(cfg, batch, tokens, 384)
    # 5 caching layers x (K + V) x 2 KV heads x 16 dims, bf16
    ours = kv_cache_bytes(spec_from_hf_config(cfg), tokens, batch, kv_bytes=2)
    assert ours == held == batch * tokens * 5 * 2 * 2 * 16 * 2


def test_prefill_activations_carry_every_stream():
    """The residual stream is N = 4 copies of d: the two copies the activation estimate keeps of it
    grow by 2 x 3 x d per token."""
    spec = spec_from_hf_config(E2B)
    wl = Workload(context=4096)
    single = spec.with_changes(altup_streams=0)
    extra = cost_report(spec, wl).memory.activations - cost_report(single, wl).memory.activations
    assert extra == 4096 * 2 * 3 * 2048 * 2


# --------------------------------------------------------------------------- blocks

def test_blocks_count_as_the_engine_at_true_width():
    from kernels.blocks import build_layer, count_params as module_params
    for cfg in (E2B, E4B):
        spec = spec_from_hf_config(cfg)
        for name, layer in spec.blocks.items():
            parts, _ = layer_params(spec, layer)
            held = module_params(build_layer(spec, layer, device="meta"))
            assert held == sum(c.total for c in parts.values()), name


def _layer_pair(index: int):
    """Our decoder layer ``index`` of a 12-layer Gemma 3n and transformers' Gemma3nTextDecoderLayer
    with the same weights, in float64."""
    from layer_reference import float64_norms
    from transformers.models.gemma3n.modeling_gemma3n import Gemma3nTextDecoderLayer

    from kernels.blocks import build_layer
    rope = {"rope_type": "default", "rope_theta": 10000.0}
    cfg = _small(num_hidden_layers=12, num_kv_shared_layers=0,
                 rope_parameters={"full_attention": dict(rope), "sliding_attention": dict(rope)})
    config = transformers.Gemma3nTextConfig(**{k: v for k, v in cfg.items() if k != "model_type"})
    config._attn_implementation = "eager"
    spec = spec_from_hf_config(cfg)
    torch.manual_seed(index)
    ours = build_layer(spec, spec.blocks[spec.layout[index]], dtype=torch.float64).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3) if p.dim() > 1 else p.uniform_(0.5, 1.5)
    ref = Gemma3nTextDecoderLayer(config, index).double().eval()
    a, f, p = ours.mixers[0], ours.ffns[0], ours.per_layer
    names = {"self_attn": a, "mlp": f, "altup": ours.altup, "laurel": ours.laurel}
    weights = {f"{prefix}.{n}": t for prefix, m in names.items() for n, t in m.state_dict().items()}
    norms = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")
    weights.update({f"{n}.weight": norm.weight for n, norm in zip(norms, ours.norms)})
    weights.update({"per_layer_input_gate.weight": p.gate.weight, "per_layer_projection.weight": p.proj.weight,
                    "post_per_layer_input_norm.weight": p.norm.weight})
    # strict: every weight of transformers' layer has its counterpart here, and no more
    ref.load_state_dict({k: v.detach().clone() for k, v in weights.items()}, strict=True)
    float64_norms(ref, set())          # (Gemma 3n's norms scale by w, not 1 + w)
    return spec, ours, ref, config


@pytest.mark.parametrize("index", [0, 4, 11], ids=["sliding-sparse", "global-sparse", "sliding-dense"])
def test_a_layer_computes_what_transformers_layer_computes(index):
    """AltUp's predict and correct, LAuReL, the sparse gate, the sandwich norms and the per-layer
    input into streams 1 .. 3. Scores scaled by 1 (Gemma 3n's QK norms set their scale).
    transformers' norms are recomputed in float64; its eager softmax, in float32, bounds the agreement."""
    from transformers.models.gemma3n.modeling_gemma3n import Gemma3nRotaryEmbedding
    spec, ours, ref, config = _layer_pair(index)
    B, L, N, D = 2, 9, 4, 64
    x = torch.randn(B, L, N * D, dtype=torch.float64)
    ple = torch.randn(B, L, 8, dtype=torch.float64)
    streams = x.unflatten(-1, (N, D)).permute(2, 0, 1, 3)                   # transformers: [N, B, L, D]
    positions = torch.arange(L)[None]
    kind = config.layer_types[index]
    mask = torch.full((L, L), float("-inf"), dtype=torch.float64).triu(1)[None, None]
    with torch.no_grad():
        rotary = Gemma3nRotaryEmbedding(config).double()(streams, positions, kind)
        expected = ref(streams, rotary, ple, attention_mask=mask, position_ids=positions)
        got = ours(x, None, ple)
    expected = expected.permute(1, 2, 0, 3).flatten(-2)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-6
    # stream 0 takes no per-layer input: zeroing it changes only streams 1 .. 3
    with torch.no_grad():
        without = ours(x, None, torch.zeros_like(ple)).unflatten(-1, (N, D))
    assert torch.equal(without[..., 0, :], got.unflatten(-1, (N, D))[..., 0, :])
    assert not torch.equal(without[..., 1, :], got.unflatten(-1, (N, D))[..., 1, :])


def test_an_altup_layer_decodes_as_it_prefills():
    from block_cases import randomize

    from kernels.blocks import build_layer
    spec = spec_from_hf_config(_small())
    m = build_layer(spec, spec.blocks["full+dense-sparse"], dtype=torch.float64).eval()
    randomize(m)
    x, ple = torch.randn(2, 6, spec.residual_width, dtype=torch.float64), torch.randn(2, 6, 8, dtype=torch.float64)
    with torch.no_grad():
        y = m(x, m.new_state(2, 6), ple)
        states = m.new_state(2, 6)
        steps = torch.cat([m.step(x[:, t:t + 1], states, t, ple[:, t:t + 1]) for t in range(6)], 1)
    torch.testing.assert_close(steps, y, rtol=1e-10, atol=1e-10)


def test_the_sparse_gate_keeps_its_share_of_activations():
    """A Gaussian top-k at 0.95 keeps about 5% of a wide gate's activations; below the cut they are zero."""
    from kernels.blocks.ffn import MLP
    torch.manual_seed(0)
    mlp = MLP(256, 16384, activation="gelu_tanh", sparsity=0.95).double()
    gate = mlp.gate_proj(torch.randn(64, 256, dtype=torch.float64))
    kept = (mlp._sparsify(gate) > 0).double().mean().item()
    assert 0.04 < kept < 0.06
    assert MLP(256, 64, sparsity=0.0)._sparsify(gate[:, :64]) is not None
    torch.testing.assert_close(MLP(256, 64, sparsity=0.0)._sparsify(gate), gate)
    assert math.isclose(mlp.sparsity_z, 1.6448536269514722, rel_tol=1e-12)


# --------------------------------------------------------------------------- profiler, ONNX Runtime

def test_profile_runs_every_block_and_backend():
    """torch, SDPA and ONNX Runtime on every block (the layers take all four streams, [B, S, 4 d]),
    plus the LM head with the per-layer table and the AltUp stream projections."""
    from block_cases import assert_blocks_run
    result, blocks = assert_blocks_run(spec_from_hf_config(_small()), ("torch", "sdpa", "onnxruntime"))
    assert result.whole_model is not None and result.whole_model.decode_s > 0
    assert blocks["full-shared+dense", "decode", "onnxruntime"].flops > 0


def test_triton_kernels_in_an_altup_layer_equal_the_torch_step():
    """The profiler's Triton backend on a KV-shared global layer of Gemma 3n: the flash-decoding
    kernel (and whatever else it patches) inside the AltUp streams equals the torch step (Triton's
    interpreter on the CPU)."""
    from block_cases import triton_step_of
    used, error = triton_step_of(spec_from_hf_config(_small()), "full-shared+dense")
    assert "decode_attention" in used and error < 1e-5


@pytest.mark.gpu
def test_profile_on_cuda_runs_every_backend():
    """On a GPU: the AltUp layers ([B, S, 4 d] in and out) through torch, SDPA, our Triton decode
    attention (over the full-attention KV-shared cache) and ONNX Runtime's CUDA provider with the
    per-layer input bound beside x, against the float64 reference."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from block_cases import assert_cuda_profile
    result = assert_cuda_profile(spec_from_hf_config(_small()))
    decode_triton = {b.block: b for b in result.blocks if b.backend == "triton" and b.phase == "decode"}
    assert "decode_attention" in decode_triton["full-shared+dense"].kernels


# --------------------------------------------------------------------------- the diagram

def test_diagram_shows_the_streams_laurel_and_the_sparse_gate():
    spec = spec_from_hf_config(_small())
    model = diagram_model(spec)
    for name, detail in model.blocks.items():
        assert sum(c.params for c in detail.components) == detail.params, name
        assert detail.in_shape == "[B, S, 4, 64]"
    names = [c.name for c in model.blocks["local+dense-sparse"].components]
    assert names[0] == "altup predict" and "laurel" in names and "gaussian top-k" in names
    assert names.index("altup correct") < names.index("per_layer_input_gate")
    assert "gaussian top-k" not in {c.name for c in model.blocks["local+dense"].components}
    altup = [it for it in model.overview if it.kind == "altup"]
    assert [it.title for it in altup] == ["AltUp streams", "AltUp merge"]
    assert sum(it.params for it in altup) == altup_stream_params(spec).total
    assert "gate top 5%" in model.blocks["local+dense-sparse"].title


def test_a_spec_file_without_gemma3n_fields_still_loads():
    """Spec files saved before AltUp and LAuReL existed have neither key."""
    data = spec_from_hf_config({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                                "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}).to_dict()
    for key in ("altup_streams", "laurel_rank"):
        data.pop(key)
    for block in data["blocks"].values():
        block["ffn"].pop("activation_sparsity")
    assert ModelSpec.from_dict(data).altup_streams == 0
