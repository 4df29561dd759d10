"""Mistral 4 (models/hf/deepseek.py: DeepSeek-V3's MLA and MoE layer under a softmax router whose
expert groups rank by their two best scores, spec: MoEFFN.groups_by_two_best), Mistral Small 4 and
Ministral 3 inside Mistral 3's image-text wrapper (which now reads the language model its
text_config names), and the query temperature by position that Llama 4, Ministral 3 and Mistral 4
apply (spec: Attention/MLA.temperature). Their layers equal transformers' in
tests/test_layers_vs_transformers.py; here: counts, FLOPs against FlopCounterMode, the rules, and
the blocks through torch, ONNX Runtime and the Triton decode kernels."""
from __future__ import annotations

import dataclasses

import pytest

from models.cost import phase_flops
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import MLA, Attention, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from block_cases import assert_blocks_run, triton_step_of  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

# (YaRN with factor 1 turns as plain RoPE does; transformers' Mistral 4 sizes its rotary table by
# partial_rotary_factor only through a rope type's own init: 16 of the 32 query dims)
ROPE = {"rope_type": "yarn", "factor": 1.0, "rope_theta": 1e4, "llama_4_scaling_beta": 0.5,
        "original_max_position_embeddings": 3, "partial_rotary_factor": 0.5}
SMALL = dict(num_hidden_layers=2, hidden_size=128, intermediate_size=256, num_attention_heads=4, num_key_value_heads=4,
             moe_intermediate_size=64, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=16,
             v_head_dim=32, n_routed_experts=8, num_experts_per_tok=2, n_group=4, topk_group=2,
             first_k_dense_replace=1, vocab_size=512, rope_parameters=ROPE, head_dim=32, qk_head_dim=32)


@pytest.mark.parametrize("changes", [{}, {"n_group": 4, "topk_group": 2, "first_k_dense_replace": 2,
                                          "num_hidden_layers": 6},
                                     {"q_lora_rank": None, "n_shared_experts": 2, "num_hidden_layers": 4}],
                         ids=["mistral-small-4", "grouped-two-dense", "direct-queries-two-shared"])
def test_counts_equal_transformers(changes):
    assert_counts_equal(default_config("mistral4", **changes))


def test_mistral_small_4_is_119b_with_6_6b_active():
    """Mistral4Config's defaults are Mistral Small 4's text model ("119B"; each token runs 4 of 128
    experts and the shared one)."""
    report = count_params(spec_from_hf_config(default_config("mistral4")))
    assert report.total == 118_972_826_624 and round(report.active / 1e9, 1) == 6.6


@pytest.mark.parametrize("text_type", ["mistral4", "ministral3", "mistral"])
def test_mistral3_wrapper_reads_the_language_model_its_text_config_names(text_type):
    """Mistral Small 4 and Ministral 3 ship as Mistral3ForConditionalGeneration over a mistral4 or
    ministral3 text_config (a Pixtral tower beside it); Mistral Small 3.1's names mistral."""
    cfg = default_config("mistral3")
    cfg["text_config"] = default_config(text_type, num_hidden_layers=3)
    assert_counts_equal(cfg)
    spec = spec_from_hf_config(cfg)
    assert spec.model_type == "mistral3"
    assert isinstance(spec.layers[0].mixer, MLA if text_type == "mistral4" else Attention)


def test_prefill_flops_match_flop_counter():
    """Routing is data dependent: a reduced model runs for real in bf16."""
    cfg = default_config("mistral4", **SMALL)
    ours = phase_flops(spec_from_hf_config(cfg), 32, dense_attention=True)
    ref = counted_flops(cfg, 32, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 1e-6


def test_the_temperature_is_read_where_each_type_keeps_it():
    spec = spec_from_hf_config(default_config("mistral4"))
    assert {(m.temperature, m.temperature_period) for m in (layer.mixer for layer in spec.layers)} == {(0.1, 8192)}
    ministral = spec_from_hf_config(default_config("ministral3"))
    assert {(m.temperature, m.temperature_period) for m in (layer.mixer for layer in ministral.layers)} == {(0.1, 16384)}
    untuned = spec_from_hf_config(default_config("llama4_text", attn_temperature_tuning=False))
    assert {m.temperature for m in (layer.mixer for layer in untuned.layers)} == {0.0}
    plain = spec_from_hf_config(default_config("ministral3", rope_parameters={"rope_type": "default",
                                                                              "rope_theta": 1e6}))
    assert {m.temperature for m in (layer.mixer for layer in plain.layers)} == {0.0}


@pytest.mark.parametrize("rope", [{**ROPE, "original_max_position_embeddings": None},
                                  {**ROPE, "original_max_position_embeddings": 2.5},
                                  {**ROPE, "llama_4_scaling_beta": "high"}])
def test_a_temperature_without_a_usable_period_or_beta_is_refused(rope):
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(default_config("ministral3", rope_parameters=rope))
    assert err.value.field.startswith("config.rope_parameters.")


@pytest.mark.parametrize("part, fields, field", [
    (Attention, {"heads": 4, "kv_heads": 2, "head_dim": 16, "temperature": 0.1}, "temperature_period"),
    (Attention, {"heads": 4, "kv_heads": 2, "head_dim": 16, "temperature": -0.1, "temperature_period": 8},
     "temperature"),
    (MLA, {"heads": 4, "kv_lora_rank": 32, "qk_nope_dim": 16, "qk_rope_dim": 8, "v_head_dim": 16,
           "temperature_period": -1}, "temperature_period"),
])
def test_temperature_rules_name_the_field(part, fields, field):
    with pytest.raises(SpecError) as err:
        part(**fields).validate("m")
    assert err.value.field == f"m.{field}"


def test_groups_ranked_by_two_need_two_experts_each():
    moe = spec_from_hf_config(default_config("mistral4", **SMALL)).layers[1].ffns[0]
    with pytest.raises(SpecError) as err:
        dataclasses.replace(moe, experts=4, top_k=1).validate("f")
    assert err.value.field == "f.expert_groups"


def test_blocks_run_through_torch_and_onnx_runtime():
    """Prefill over 32 tokens and decode at position 32: the temperature's period of 3 tokens puts
    both through several of its steps, in torch and in the exported ONNX graphs alike."""
    assert_blocks_run(spec_from_hf_config(default_config("mistral4", **SMALL)))
    llama4 = default_config("llama4_text", num_hidden_layers=4, hidden_size=128, intermediate_size=128,
                            intermediate_size_mlp=256, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                            num_local_experts=4, interleave_moe_layer_step=2, floor_scale=3, attn_scale=0.5,
                            vocab_size=512, layer_types=None, moe_layers=None, no_rope_layers=None)
    assert_blocks_run(spec_from_hf_config(llama4))


def test_the_triton_decode_attention_kernel_takes_the_temperature():
    """Llama 4's NoPE layer at position 12 with a period of 3: its queries scaled by
    1 + 0.5 ln(1 + 4) before the kernel sees them, as the torch step scales them."""
    cfg = default_config("llama4_text", num_hidden_layers=4, hidden_size=128, intermediate_size=128,
                         intermediate_size_mlp=256, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                         num_local_experts=4, interleave_moe_layer_step=2, floor_scale=3, attn_scale=0.5,
                         vocab_size=512, layer_types=None, moe_layers=None, no_rope_layers=None)
    spec = spec_from_hf_config(cfg)
    nope = spec.layout[3]
    assert spec.blocks[nope].mixer.temperature == 0.5 and not spec.blocks[nope].mixer.rope
    used, error = triton_step_of(spec, nope)
    assert "decode_attention" in used and error < 1e-5


def test_the_triton_mla_decode_kernel_takes_the_temperature():
    spec = spec_from_hf_config(default_config("mistral4", **SMALL))
    moe_block = spec.layout[1]
    used, error = triton_step_of(spec, moe_block)
    assert {"mla_decode", "moe"} <= used and error < 1e-5


def test_the_diagram_states_the_temperature():
    from models.diagram import diagram_model
    formulas = [c.formula for b in diagram_model(spec_from_hf_config(default_config("llama4_text"))).blocks.values()
                for c in b.components if c.name.startswith("full attention")]
    assert formulas and all(f.endswith("q * (1 + 0.1 ln(1 + floor((pos + 1) / 8192)))") for f in formulas)
