"""Cross-attention to an image (Llama 3.2 Vision, ``mllama``): the importer's counts, the block's
computation, its FLOPs and its cache, each against transformers or torch's own counters."""
from __future__ import annotations

import copy

import pytest

from models import spec as S
from models.cost import _Fmt, block_ops, kv_cache_bytes, phase_flops
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.params import count_params

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from layer_reference import float64_norms  # noqa: E402

LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192, "rope_theta": 500000.0}


def _mllama(text: dict | None = None, vision: dict | None = None, **top) -> dict:
    cfg = default_config("mllama", **top)
    cfg["text_config"] = {**cfg["text_config"], **(text or {})}
    cfg["vision_config"] = {**cfg["vision_config"], **(vision or {})}
    return cfg


def _tiny(**text) -> dict:
    return _mllama({"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
                    "num_hidden_layers": 4, "cross_attention_layers": [1, 3], "vocab_size": 300,
                    "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, **text},
                   {"image_size": 28, "patch_size": 14, "max_num_tiles": 2, "hidden_size": 32,
                    "supported_aspect_ratios": [[1, 1], [1, 2], [2, 1]],
                    # one intermediate layer's features beside the last: vision_output_dim = 2 x 32
                    "intermediate_layers_indices": [0],
                    "intermediate_size": 48, "num_hidden_layers": 2, "num_global_layers": 1,
                    "attention_heads": 2, "vision_output_dim": 64})


COUNT_CASES = {
    "defaults": _mllama(),
    # Llama 3.2 11B Vision's shape: 560-pixel tiles (4 x 1,601 image tokens), llama3 RoPE
    "11b-shape": _mllama({"rope_parameters": LLAMA3_ROPE}, {"image_size": 560}),
    # the 90B shape: 100 layers, every fifth from 3 a cross-attention layer
    "90b-shape": _mllama({"hidden_size": 8192, "num_hidden_layers": 100, "intermediate_size": 28672,
                          "num_attention_heads": 64, "cross_attention_layers": list(range(3, 100, 5)),
                          "rope_parameters": LLAMA3_ROPE}, {"image_size": 560}),
    "small-vision-other-ratios": _mllama(
        {"num_hidden_layers": 6, "cross_attention_layers": [0, 5]},
        {"image_size": 224, "max_num_tiles": 2, "supported_aspect_ratios": [[1, 1], [1, 2], [2, 1]],
         "num_hidden_layers": 3, "num_global_layers": 2, "vision_output_dim": 2560, "hidden_size": 512,
         "intermediate_size": 1024, "attention_heads": 8}),
    "no-cross-layers": _mllama({"num_hidden_layers": 3, "cross_attention_layers": []}),
    # a tie flag changes nothing: the token table (vocab + 8 rows) cannot be the head (vocab rows)
    "tie-flag-ignored": _mllama({"num_hidden_layers": 4, "cross_attention_layers": [2], "tie_word_embeddings": True},
                                tie_word_embeddings=True),
}


@pytest.mark.parametrize("name", list(COUNT_CASES))
def test_counts_equal_transformers(name):
    assert_counts_equal(copy.deepcopy(COUNT_CASES[name]))


def test_the_11b_shape_reads_as_llama_with_cross_attention_layers():
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    assert count_params(spec).total == 10_670_220_835
    assert [i for i, b in enumerate(spec.layout) if b == "cross+dense"] == [3, 8, 13, 18, 23, 28, 33, 38]
    cross = spec.blocks["cross+dense"].mixers[0]
    assert cross == S.CrossAttention(heads=32, kv_heads=8, head_dim=128, image_tokens=4 * (40 * 40 + 1),
                                     qk_norm="head", gated=True)
    assert spec.rope_scaling.kind == "llama3" and spec.model_type == "mllama"


def test_the_image_cache_is_the_same_at_any_context():
    """The 8 cross-attention layers of the 11B shape cache 6,404 image tokens of 2 x 8 x 128 each;
    the 32 self-attention layers 2 x 8 x 128 per text token."""
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    image = 8 * 6404 * 2 * 8 * 128 * 2
    for tokens in (1, 4096, 131072):
        assert kv_cache_bytes(spec, tokens, 2, 2) == 2 * (image + 32 * tokens * 2 * 8 * 128 * 2)


@pytest.mark.parametrize("config, key", [
    ({"cross_attention_layers": [1, 40]}, "config.text_config.cross_attention_layers"),
    ({"cross_attention_layers": "3,8"}, "config.text_config.cross_attention_layers"),
])
def test_a_bad_cross_layer_list_is_named(config, key):
    with pytest.raises(S.SpecError, match=key.replace(".", r"\.")):
        spec_from_hf_config(_mllama(config))


def test_a_bad_vision_config_is_named():
    with pytest.raises(S.SpecError, match=r"config\.vision_config\.image_size"):
        spec_from_hf_config(_mllama(vision={"image_size": "big"}))
    with pytest.raises(S.SpecError, match=r"config\.vision_config\.patch_size"):
        spec_from_hf_config(_mllama(vision={"patch_size": 0}))


@pytest.mark.parametrize("changes, key", [
    ({"heads": 6, "kv_heads": 4}, "kv_heads"), ({"image_tokens": 0}, "image_tokens"),
    ({"qk_norm": "full"}, "qk_norm"), ({"gated": 1}, "gated")])
def test_spec_validation_names_the_field(changes, key):
    data = {"type": "cross_attention", "heads": 8, "kv_heads": 2, "head_dim": 16, "image_tokens": 10, **changes}
    with pytest.raises(S.SpecError, match=key):
        S.CrossAttention.from_dict(data, "mixer")


def test_a_cross_attention_layer_has_no_other_mixer_and_round_trips():
    cross = S.CrossAttention(heads=4, kv_heads=2, head_dim=16, image_tokens=6, qk_norm="head", gated=True)
    with pytest.raises(S.SpecError, match="no other mixer"):
        S.Layer((cross, S.Attention(heads=4, kv_heads=2, head_dim=16))).validate("layer")
    spec = spec_from_hf_config(_tiny())
    assert S.ModelSpec.from_dict(spec.to_dict()) == spec


# --------------------------------------------------------------------------- the block

def _layers(seed: int = 0):
    """(our cross-attention DecoderLayer, transformers' MllamaCrossAttentionDecoderLayer) with the
    same random weights, gates and norms included, in float64."""
    from transformers import MllamaConfig
    from transformers.models.mllama.modeling_mllama import MllamaCrossAttentionDecoderLayer

    from kernels.blocks import build_layer
    cfg = _tiny()
    spec = spec_from_hf_config(cfg)
    config = MllamaConfig(**{k: v for k, v in cfg.items() if k != "model_type"})
    config.text_config._attn_implementation = "eager"
    torch.manual_seed(seed)
    theirs = MllamaCrossAttentionDecoderLayer(config.text_config, layer_idx=1).double().eval()
    float64_norms(theirs, set())             # transformers' RMSNorms compute in float32
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p) * 0.2 + (1.0 if p.ndim == 1 and p.numel() > 1 else 0.0))
    # the config's rms_norm_eps: the spec leaves it to the runtime (1e-6 by default)
    ours = build_layer(spec, spec.blocks["cross+dense"], torch.float64, eps=config.text_config.rms_norm_eps).eval()
    t = theirs.state_dict()
    mine = {"mixers.0.q_proj.weight": "cross_attn.q_proj.weight", "mixers.0.k_proj.weight": "cross_attn.k_proj.weight",
            "mixers.0.v_proj.weight": "cross_attn.v_proj.weight", "mixers.0.o_proj.weight": "cross_attn.o_proj.weight",
            "mixers.0.q_norm.weight": "cross_attn.q_norm.weight", "mixers.0.k_norm.weight": "cross_attn.k_norm.weight",
            "mixers.0.attn_gate": "cross_attn_attn_gate", "mixers.0.ffn_gate": "cross_attn_mlp_gate",
            "norms.0.weight": "input_layernorm.weight", "norms.1.weight": "post_attention_layernorm.weight",
            "ffns.0.gate_proj.weight": "mlp.gate_proj.weight", "ffns.0.up_proj.weight": "mlp.up_proj.weight",
            "ffns.0.down_proj.weight": "mlp.down_proj.weight"}
    assert set(mine) == set(ours.state_dict())
    ours.load_state_dict({k: t[v] for k, v in mine.items()})
    return spec, ours, theirs


def _theirs(theirs, x, image):
    return theirs(x, cross_attention_states=image, cross_attention_mask=None, attention_mask=None,
                  full_text_row_masked_out_mask=None, past_key_values=None)


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_layer_equals_transformers_in_prefill_and_decode(impl):
    """Prefill over the state's image, then a decode step reading its cached keys and values, both
    equal MllamaCrossAttentionDecoderLayer's output for the same text and image."""
    spec, ours, theirs = _layers()
    ours.mixers[0].impl = impl
    x = torch.randn(2, 5, 64, dtype=torch.float64)
    xt = torch.randn(2, 1, 64, dtype=torch.float64)
    states = ours.new_state(2, 6)
    image = states[0]["image"]
    assert image.shape == (2, 2 * (2 * 2 + 1), 64)
    with torch.no_grad():
        got, got_t = ours(x, states), ours.step(xt, states, 5)
        want, want_t = _theirs(theirs, x, image), _theirs(theirs, xt, image)
    # (transformers' eager softmax runs in float32: agreement to ~1e-8, not float64's 1e-15)
    assert (got - want).norm() / want.norm() < 5e-8
    assert (got_t - want_t).norm() / want_t.norm() < 5e-8
    without_gate = copy.deepcopy(ours)
    with torch.no_grad():
        without_gate.mixers[0].ffn_gate.fill_(20.0)     # tanh = 1: the FFN ungated
        assert (without_gate(x, ours.new_state(2, 6)) - want).norm() / want.norm() > 1e-3


def test_layer_flops_equal_flop_counter():
    """The cost model's FLOPs of a cross-attention layer: a prompt that projects the image (q, o
    over the text, k, v over the image's tokens, scores and values over them) and a decode step
    (q, o, the scores against the cached image), equal to FlopCounterMode's count of the eager
    path (the counter sees no FLOPs in the CPU's float64 SDPA)."""
    from torch.utils.flop_counter import FlopCounterMode
    spec, ours, _ = _layers()
    layer = spec.blocks["cross+dense"]
    fmt = _Fmt(2, 2, 2, 2)
    x = torch.randn(3, 7, 64, dtype=torch.float64)
    ours.mixers[0].impl = "eager"
    if True:
        states = ours.new_state(3, 8)
        with torch.no_grad(), FlopCounterMode(display=False) as prefill:
            ours(x, states)
        with torch.no_grad(), FlopCounterMode(display=False) as step:
            ours.step(x[:, :1], states, 7)
        assert prefill.get_total_flops() == sum(op.flops for op in block_ops(spec, layer, 7, 3, 0, fmt, False))
        assert step.get_total_flops() == sum(op.flops for op in block_ops(spec, layer, 1, 3, 7, fmt, True))


def test_the_cache_holds_what_the_engine_counts():
    """The block's state after a prefill: the image's keys and values, image_tokens x 2 x kv_heads
    x head_dim per sequence, as models.cost counts a cross-attention layer's cache."""
    spec, ours, _ = _layers()
    states = ours.new_state(2, 9)
    with torch.no_grad():
        ours(torch.randn(2, 9, 64, dtype=torch.float64), states)
    held = states[0]["k"].nbytes + states[0]["v"].nbytes
    assert held == kv_cache_bytes(spec.with_changes(layout=("cross+dense",)), 9, 2, 8)


def test_model_flops_count_each_image_once():
    """Against the same model with self-attention in place of its 8 cross-attention layers: a
    100-token prompt projects the image's 6,404 tokens to K and V (not the text's) and scores all
    of them per token; a decode step reads the cached image and projects nothing of it."""
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    plain = spec.with_changes(layout=tuple("full+dense" for _ in spec.layout))
    d, heads, kv, hd, m, s = 4096, 32, 8, 128, 6404, 100
    kv_proj = 2 * d * 2 * kv * hd                   # per token projected to K and V
    per_pair = 2 * heads * 2 * hd                   # q.k and the weights times v
    prefill = phase_flops(spec, s) - phase_flops(plain, s)
    assert prefill == 8 * (kv_proj * (m - s) + per_pair * (s * m - s * (s + 1) // 2))
    step = phase_flops(spec, 1, start=s, decode=True) - phase_flops(plain, 1, start=s, decode=True)
    assert step == 8 * (per_pair * (m - (s + 1)) - kv_proj)


def test_diagram_and_profile_of_a_small_mllama():
    """The diagram names the cross-attention block and its image cache; the profiler runs both
    blocks on the CPU through torch, SDPA and ONNX Runtime (the cross layer's exported prefill
    takes the image as an input of its own), every timing within 1e-4 of the float64 reference."""
    from kernels.profiler import ProfileRequest, profile
    spec = spec_from_hf_config(_tiny())
    detail = diagram_model(spec).blocks["cross+dense"]
    assert detail.mixer == "cross" and "image KV" in detail.cache_text
    assert detail.head_grouping.kind == "cross"
    result = profile(ProfileRequest(spec, backends=("torch", "sdpa", "onnxruntime"), context=24, repeats=1,
                                    warmup=0, threads=1, include_head=False))
    rows = {(b.block, b.phase, b.backend): b for b in result.blocks}
    assert len(rows) == 2 * 2 * 3
    for key, b in rows.items():
        assert b.status == "ok" and b.rel_error < 1e-4, (key, b.message, b.rel_error)


def test_a_batch_too_large_for_its_images_says_what_each_sequence_holds():
    """On a 24 GB card the 11B shape's weights fit, but 32 sequences' image caches (8 layers x
    6,404 tokens x 2 x 8 x 128 x 2 bytes = 200 MiB each) do not: the note names the batch and the
    cache a sequence holds at any length, not the weights alone."""
    from models.cost import Workload, cost_report
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    r = cost_report(spec, Workload(hardware="rtx-4090", batch=32, context=131072))
    assert r.max_batch == r.max_context == 0
    assert r.notes[0].startswith("at batch 32 not even one token per sequence fits beside the weights "
                                 "(each sequence also holds 200 MiB of cache at any length)")


def test_the_triton_decode_attention_kernel_runs_the_cross_attention_step():
    """The profiler's Triton backend: the decode attention kernel takes one query per sequence over
    the image's cached keys (6 here, lengths the image's), within 1e-5 of the torch step (on the
    CPU in Triton's interpreter)."""
    from block_cases import LAYOUTS, make_spec, triton_step_of
    layer, kw = LAYOUTS["mllama_cross"]
    used, error = triton_step_of(make_spec(layer, **kw), "b")
    assert "decode_attention" in used and error < 1e-5, (used, error)


def test_head_count_edits_change_the_cross_attention_layers_too():
    """Llama 3.2 Vision's cross-attention layers take the model's head counts from the same config
    keys: the KV heads knob changes them with the self-attention layers, and so the image cache."""
    from models.overrides import apply_overrides
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    edited = apply_overrides(spec, {"kv_heads": 2})
    assert {m.kv_heads for layer in edited.layers for m in layer.mixers} == {2}
    assert kv_cache_bytes(edited, 1000, 1, 2) * 4 == kv_cache_bytes(spec, 1000, 1, 2)
    assert count_params(edited).total == spec_and_count(COUNT_CASES["11b-shape"], num_key_value_heads=2)


def spec_and_count(config: dict, **text) -> int:
    """The engine's total for ``config`` with text_config changes (what the knob must equal)."""
    changed = copy.deepcopy(config)
    changed["text_config"].update(text)
    return count_params(spec_from_hf_config(changed)).total


def test_the_engines_cache_equals_what_transformers_caches_after_an_image_prompt():
    """MllamaForConditionalGeneration (bf16) after a 9-token prompt with one two-tile image: its
    cache holds 9 tokens in each self-attention layer and the image's 2 x (2 x 2 + 1) = 10 tokens in
    each cross-attention layer, exactly the bytes models.cost counts."""
    from transformers import MllamaConfig, MllamaForConditionalGeneration
    cfg = {**_tiny(), "image_token_index": 300}
    config = MllamaConfig(**{k: v for k, v in cfg.items() if k != "model_type"})
    torch.manual_seed(0)
    model = MllamaForConditionalGeneration(config).to(torch.bfloat16).eval()
    batch, tokens = 2, 9
    ids = torch.randint(3, 300, (batch, tokens))
    ids[:, 0] = 300                                     # the image token
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=torch.randn(batch, 1, 2, 3, 28, 28, dtype=torch.bfloat16),
                    aspect_ratio_ids=torch.full((batch, 1), 2),                 # 1 x 2 tiles
                    aspect_ratio_mask=torch.ones(batch, 1, 2, dtype=torch.long),
                    cross_attention_mask=torch.ones(batch, tokens, 1, 2, dtype=torch.long), use_cache=True)
    layers = out.past_key_values.layers
    assert [layer.keys.shape[2] for layer in layers] == [9, 10, 9, 10]
    held = sum(layer.keys.nbytes + layer.values.nbytes for layer in layers)
    assert held == kv_cache_bytes(spec_from_hf_config(cfg), tokens, batch, 2) == 9728


@pytest.mark.gpu
def test_profile_on_cuda_runs_every_backend():
    """On a GPU: both blocks of a small mllama through torch, SDPA, our Triton kernels (the
    cross-attention decode step through decode_attention) and ONNX Runtime's CUDA provider, against
    the float64 reference."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from block_cases import assert_cuda_profile
    result = assert_cuda_profile(spec_from_hf_config(_tiny()))
    decode_triton = {b.block: b for b in result.blocks if b.backend == "triton" and b.phase == "decode"}
    assert "decode_attention" in decode_triton["cross+dense"].kernels


def test_the_memory_chart_shows_the_image_cache_flat_in_context():
    """The Memory chart's parts sum to the report at the workload's context, the image's keys and
    values among them as their own flat line (they were missing from the chart's cache)."""
    import numpy as np

    from models.charts import CACHE_COMPONENTS, memory_vs_context
    from models.cost import Workload, cost_report
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    wl = Workload(context=8192, batch=2)
    m = memory_vs_context(spec, wl)
    i = int(np.flatnonzero(m.contexts == wl.context)[0])
    r = cost_report(spec, wl)
    assert sum(m.components[k][i] for k in CACHE_COMPONENTS) == pytest.approx(r.memory.kv_cache, rel=1e-12)
    assert m.total[i] == pytest.approx(r.memory.total, rel=1e-12)
    image = m.components["image_kv"]
    assert np.all(image == 2 * 8 * 6404 * 2 * 8 * 128 * 2)


def test_the_image_encoders_flops_equal_flop_counter():
    """Llama 3.2 Vision's ViT over one image at its max tiles (patches padded to a multiple of 8,
    all tiles attending together, the local and the global layers) and the projector: the
    importer's flops_per_image equals FlopCounterMode's count of transformers' modules (eager)."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import MllamaConfig
    from transformers.models.mllama.modeling_mllama import MllamaVisionModel
    cfg = _tiny()
    config = MllamaConfig(**{k: v for k, v in cfg.items() if k != "model_type"})
    config.vision_config._attn_implementation = "eager"
    vision = MllamaVisionModel(config.vision_config).eval()
    projector = torch.nn.Linear(config.vision_config.vision_output_dim, config.text_config.hidden_size)
    tiles, size = config.vision_config.max_num_tiles, config.vision_config.image_size
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = vision(pixel_values=torch.randn(1, 1, tiles, 3, size, size), aspect_ratio_ids=torch.tensor([[2]]),
                     aspect_ratio_mask=torch.ones(1, 1, tiles, dtype=torch.long))
        projector(out.last_hidden_state)
    assert spec_from_hf_config(cfg).vision.flops_per_image == counter.get_total_flops()


def test_a_prompt_pays_for_its_image_once():
    """The prefill of the 11B shape runs its image through the ViT (19.0 TFLOP a sequence); a
    decode step does not. The profiler's whole-model figure adds the encoder's predicted time and
    says so, since it times the layers only."""
    from models.cost import Workload, cost_report
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    per_image = spec.vision.flops_per_image
    assert per_image == pytest.approx(19.0e12, rel=1e-3)
    r = cost_report(spec, Workload(context=4096, batch=3))
    image = [op for op in r.prefill.ops if op.kind == "vision"]
    assert len(image) == 1 and image[0].flops == 3 * per_image
    assert not any(op.kind == "vision" for op in r.decode.ops)
    assert r.notes[-1] == ("the prefill runs one image per sequence through the Llama 3.2 Vision tiled ViT "
                           "(19.0 TFLOP each)")
    assert phase_flops(spec, 10) - phase_flops(spec, 10, start=5) > per_image
    from kernels.profiler import ProfileRequest, profile
    result = profile(ProfileRequest(spec_from_hf_config(_tiny()), backends=("torch",), context=16, repeats=1,
                                    warmup=0, threads=1))
    assert "image encoder predicted, not run" in result.whole_model.note


def test_the_diagram_says_what_an_image_costs():
    """The overview's image-encoder box gives its parameters and, where the cost model times its
    forward, the FLOPs of one image (19.0 TFLOP at the 11B shape); other encoders only the former."""
    spec = spec_from_hf_config(COUNT_CASES["11b-shape"])
    box = diagram_model(spec).overview[0]
    assert box.kind == "vision" and box.lines[-1] == "19.0 TFLOP per image, in the prefill"
    plain = spec.with_changes(vision=S.VisionEncoder(params=spec.vision.params, name="ViT"))
    assert diagram_model(plain).overview[0].lines == ("895M params (not active per text token)",)


def test_the_exported_prefill_takes_the_image_as_an_input(tmp_path):
    """The cross-attention layer's prefill through ONNX Runtime: the image is a graph input of its
    own (image0), so features other than new_state's stand-in flow through, at another batch,
    text length and image size than the exported ones, within 1e-4 of torch."""
    import numpy as np

    from block_cases import LAYOUTS, make_spec, randomize
    from kernels import onnx_runtime as ox
    from kernels.blocks import build_layer
    from kernels.onnx_graphs import prefill_graph, prefill_inputs
    layer, kw = LAYOUTS["mllama_cross"]
    torch.manual_seed(0)
    m = build_layer(make_spec(layer, **kw), layer).eval()
    randomize(m)
    x = torch.randn(2, 5, 64)
    graph = prefill_graph(m)
    assert graph.input_names == ["x", "image0"]
    info = ox.export_block(graph, (x, *prefill_inputs(m, x, None, m.new_state(2, 6))), tmp_path / "p.onnx",
                           input_names=graph.input_names)
    session, _ = ox.make_session(info.path, prefer=("CPUExecutionProvider",))
    x, image = torch.randn(3, 9, 64), torch.randn(3, 7, 64)          # real features, not the stand-in
    got = ox.run_io_binding(session, {"x": x, "image0": image}, "cpu")[0]
    with torch.no_grad():
        want = m(x, [{"image": image}]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
