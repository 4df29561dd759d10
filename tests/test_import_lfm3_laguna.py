"""LFM3 (models/hf/hybrid.py) and Laguna (models/hf/moe.py), the two types that a gate per attention
head and a rotary fraction per layer (spec: Attention.head_gate, Attention.rope_fraction) made
describable: parameter counts equal transformers' modules built on the meta device, prefill FLOPs
equal FlopCounterMode's on real reduced models, the gate does what its name says in our torch block,
and the blocks run through torch and ONNX Runtime."""
from __future__ import annotations

import math

import pytest

from models.cost import phase_flops
from models.hf import spec_from_hf_config
from models.spec import Attention, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import default_config, ours_and_reference  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

COUNT_CASES = {
    "lfm3-default": ("lfm3", {}),
    "lfm3-no-gate-pre-norm-biased-conv": ("lfm3", {"use_attention_gate": False, "use_sandwich_norm": False,
                                                   "conv_bias": True}),
    "lfm3-own-layer-types": ("lfm3", {"num_hidden_layers": 8,
                                      "layer_types": ["conv", "full_attention", "sliding_attention", "conv"] * 2}),
    "laguna-default": ("laguna", {}),
    "laguna-gate-per-element": ("laguna", {"gating": "per-element"}),
    "laguna-heads-per-layer": ("laguna", {"num_hidden_layers": 4,
                                          "layer_types": ["sliding_attention", "full_attention"] * 2,
                                          "num_attention_heads_per_layer": [48, 32, 48, 32],
                                          "mlp_layer_types": ["dense", "sparse", "dense", "sparse"]}),
}


@pytest.mark.parametrize("case", sorted(COUNT_CASES))
def test_counts_equal_transformers(case):
    model_type, changes = COUNT_CASES[case]
    ours, ref = ours_and_reference(default_config(model_type, **changes))
    assert ours == ref, f"ours {ours:,} vs transformers {ref:,} (diff {ours - ref:+,})"


def test_layers_carry_their_gate_and_rotary_fraction():
    lfm3 = spec_from_hf_config(default_config("lfm3", num_hidden_layers=8, layer_types=None))
    attn = [layer.mixer for layer in lfm3.layers if isinstance(layer.mixer, Attention)]
    assert [(m.kind, m.rope_fraction, m.head_gate) for m in attn] == [
        ("full", 0.5, "sigmoid"), ("sliding", 1.0, "sigmoid"), ("full", 0.5, "sigmoid")]
    laguna = spec_from_hf_config(default_config("laguna", num_hidden_layers=2, num_attention_heads_per_layer=[48, 16],
                                                layer_types=["sliding_attention", "full_attention"],
                                                mlp_layer_types=None))
    assert [(layer.mixer.heads, layer.mixer.rope_fraction, layer.mixer.head_gate) for layer in laguna.layers] == [
        (48, 1.0, "softplus"), (16, 0.5, "softplus")]


def test_the_local_global_knob_reads_lfm3s_alternation():
    """LFM3's attention layers alternate global and local, starting global: the knob shows the
    period's 1:1 (not the 0:1 of a first run without local layers)."""
    from models.metrics import knob_values
    assert knob_values(spec_from_hf_config(default_config("lfm3")))["local_global"] == "1:1"


def test_lfm3_prefill_flops_match_flop_counter():
    """Exact but for the convolutions: transformers pads both ends and computes kernel - 1 outputs
    a sequence that it drops, where the engine counts 2 x kernel FLOPs per channel and token."""
    cfg = default_config("lfm3", num_hidden_layers=4, hidden_size=256, intermediate_size=512, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=64, vocab_size=4096, sliding_window=32, pad_token_id=0,
                         layer_types=["conv", "full_attention", "sliding_attention", "conv"])
    tokens, kernel, conv_layers = 64, 7, 2
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu")
    assert ref - ours == conv_layers * 2 * kernel * 256 * (kernel - 1)


def test_laguna_prefill_flops_match_flop_counter():
    """Routing is data dependent: a reduced model runs for real in bf16; each token reaches top_k
    experts and the shared one, as the engine counts."""
    cfg = default_config("laguna", num_hidden_layers=2, hidden_size=256, intermediate_size=512, num_attention_heads=8,
                         num_key_value_heads=2, head_dim=32, vocab_size=4096, num_experts=8, num_experts_per_tok=2,
                         moe_intermediate_size=64, shared_expert_intermediate_size=64,
                         layer_types=["sliding_attention", "full_attention"], num_attention_heads_per_layer=None,
                         mlp_layer_types=None)
    tokens = 64
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 1e-6


@pytest.mark.parametrize("gate, scale", [("sigmoid", 0.5), ("softplus", math.log(2.0))])
def test_a_zero_gate_projection_scales_every_head_as_its_activation_says(gate, scale):
    """With g_proj's weights zero, every head's output is scaled by sigmoid(0) = 1/2 or
    softplus(0) = ln 2: the gated layer equals the ungated one times that."""
    from kernels.blocks import build_block
    gated = build_block(Attention(heads=4, kv_heads=2, head_dim=16, head_gate=gate), 64).double()
    plain = build_block(Attention(heads=4, kv_heads=2, head_dim=16), 64).double()
    state = {k: v for k, v in gated.state_dict().items() if not k.startswith("g_proj")}
    plain.load_state_dict(state)
    with torch.no_grad():
        gated.g_proj.weight.zero_()
        x = torch.randn(2, 5, 64, dtype=torch.float64)
        torch.testing.assert_close(gated(x), plain.o_proj(scale * _attention_output(plain, x)),
                                   rtol=1e-12, atol=1e-12)


def _attention_output(m, x):
    """The attention's output before o_proj: [B, L, H * vd]."""
    positions = torch.arange(x.shape[1])
    q, k, v, _ = m._qkv(x, positions)
    o = m._attend(q, k, v, positions, positions, sdpa=False)
    return o.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)


@pytest.mark.parametrize("model_type", ["lfm3", "laguna"])
def test_blocks_run_through_torch_and_onnx_runtime(model_type):
    small = dict(num_hidden_layers=4, hidden_size=128, intermediate_size=256, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=32, vocab_size=512, sliding_window=16, pad_token_id=0)
    if model_type == "lfm3":
        small.update(layer_types=["conv", "full_attention", "sliding_attention", "conv"])
    else:
        small.update(layer_types=["sliding_attention", "full_attention"] * 2, num_attention_heads_per_layer=None,
                     mlp_layer_types=None, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                     shared_expert_intermediate_size=32)
    assert_blocks_run(spec_from_hf_config(default_config(model_type, **small)))


@pytest.mark.parametrize("model_type, key, value, field", [
    ("laguna", "gating", "per-row", "config.gating"),
    ("laguna", "num_attention_heads_per_layer", [48, "x"], "config.num_attention_heads_per_layer"),
    ("lfm3", "rope_parameters", {"full_attention": {"rope_type": "proportional", "partial_rotary_factor": 2}},
     "config.rope_parameters.full_attention.partial_rotary_factor"),
])
def test_bad_values_name_their_key(model_type, key, value, field):
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(default_config(model_type, **{"num_hidden_layers": 2, key: value}))
    assert info.value.field == field
