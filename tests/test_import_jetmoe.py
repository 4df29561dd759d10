"""JetMoE (models/hf/moe.py), which a mixture of attention heads (spec: Attention.experts, top_k)
and a bias after an MoE's sum (MoEFFN.out_bias) made describable. Its layer equals transformers' in
tests/test_layers_vs_transformers.py; here: counts, active parameters, FLOPs against FlopCounterMode,
the rules, the diagram, and the blocks through torch and ONNX Runtime, prefill and decode."""
from __future__ import annotations

import dataclasses

import pytest

from models.cost import phase_flops
from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import Attention, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

SMALL = dict(num_hidden_layers=2, hidden_size=128, intermediate_size=256, num_key_value_heads=4, kv_channels=16,
             num_local_experts=8, num_experts_per_tok=2, vocab_size=512)


@pytest.mark.parametrize("changes", [{}, {"num_hidden_layers": 24},
                                     {"num_local_experts": 16, "num_experts_per_tok": 4}],
                         ids=["default", "jetmoe-8b", "16-experts-top-4"])
def test_counts_equal_transformers(changes):
    assert_counts_equal(default_config("jetmoe", **changes))


def test_jetmoe_8b_is_8_5b_with_2_3b_active():
    """JetMoE-8B's shape (24 layers): 8.52B in all ("8B"); each token runs 2 of 8 attention and 2 of
    8 MLP experts: 2.33B (the paper's "2.2B active" leaves out the tied 65.5M-row embedding, or near)."""
    report = count_params(spec_from_hf_config(default_config("jetmoe", num_hidden_layers=24)))
    assert report.total == 8_522_237_952 and round(report.active / 1e9, 2) == 2.33


def test_prefill_flops_match_flop_counter():
    """Routing is data dependent: a reduced model runs for real in bf16; each token's top_k attention
    experts and MLP experts run, as the engine counts (the routers score every expert)."""
    cfg = default_config("jetmoe", **SMALL)
    tokens = 32
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 1e-6


def test_idle_attention_experts_are_not_active():
    """Against the same layers with only as many attention experts as a token runs, the active
    count differs by the router's extra logits alone (it scores every expert)."""
    spec = spec_from_hf_config(default_config("jetmoe", **SMALL))
    attn = spec.layers[0].mixer
    only_run = dataclasses.replace(attn, experts=attn.top_k)
    fewer = spec.with_changes(blocks={k: dataclasses.replace(v, mixers=(only_run,)) for k, v in spec.blocks.items()})
    routers = SMALL["num_hidden_layers"] * SMALL["hidden_size"] * (attn.experts - attn.top_k)
    assert count_params(spec).active - count_params(fewer).active == routers
    assert count_params(spec).total > count_params(fewer).total + routers


@pytest.mark.parametrize("fields, field", [
    ({"heads": 6, "kv_heads": 2, "experts": 4, "top_k": 2}, "heads"),
    ({"heads": 4, "kv_heads": 2, "experts": 2, "top_k": 3}, "top_k"),
    ({"heads": 4, "kv_heads": 2, "top_k": 2}, "top_k"),
    ({"heads": 4, "kv_heads": 2, "experts": 4, "top_k": 2, "output_gate": True}, "output_gate"),
    ({"heads": 4, "kv_heads": 2, "experts": 4, "top_k": 2, "qkv_bias": True}, "qkv_bias"),
])
def test_mixture_of_attention_heads_rules_name_the_field(fields, field):
    with pytest.raises(SpecError) as err:
        Attention(head_dim=16, **fields).validate("a")
    assert err.value.field == f"a.{field}"


def test_the_diagram_shows_the_attention_experts():
    spec = spec_from_hf_config(default_config("jetmoe", **SMALL))
    (block,) = diagram_model(spec).blocks.values()
    names = [c.name for c in block.components]
    assert "attention router" in names and "q experts" in names and "o experts" in names
    assert "mixture of 8 attention experts" in dict(block.properties)["Mixer"]
    assert "output bias" in names and sum(c.params for c in block.components) == block.params


def test_blocks_run_through_torch_and_onnx_runtime():
    assert_blocks_run(spec_from_hf_config(default_config("jetmoe", **SMALL)))


def test_the_triton_decode_kernel_takes_the_mixture_of_attention_heads():
    """The heads are laid out as GQA (head h*k + j on KV head h), so the decode kernel applies;
    against the torch step, in Triton's interpreter on the CPU."""
    from block_cases import triton_step_of
    used, error = triton_step_of(spec_from_hf_config(default_config("jetmoe", **SMALL)), "full+moe")
    assert {"decode_attention", "moe"} <= used and error < 1e-5
