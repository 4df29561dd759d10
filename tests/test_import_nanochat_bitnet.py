"""nanochat and BitNet b1.58: import, parameters and FLOPs against transformers, the torch, Triton and
ONNX Runtime blocks, the spec's new rules and the diagram (their layers against transformers' decoder
layers: tests/test_layers_vs_transformers.py).

nanochat (Karpathy, 2025): weightless RMSNorms everywhere (one right after the embedding), a
weightless QK norm after RoPE, a plain ReLU^2 MLP. BitNet b1.58 (Microsoft, 2025): Llama's layer with
an RMSNorm over the attention output before o_proj and one over the MLP hidden before down_proj.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.diagram import diagram_model
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import Attention, DenseFFN, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hf_reference import assert_counts_equal, default_config  # noqa: E402

BITNET_2B4T = json.loads((Path(__file__).parent / "fixtures" / "hf_configs" / "bitnet-b1.58-2b-4t-bf16.json").read_text())


def _nanochat_d20() -> dict:
    """nanochat's depth-20 model as its code sizes it: width 64 x depth, heads of 128, a 65,536-token
    vocabulary, MHA, a 4x MLP."""
    return default_config("nanochat", num_hidden_layers=20, hidden_size=1280, num_attention_heads=10,
                          num_key_value_heads=10, intermediate_size=5120, vocab_size=65536)


def _small(model_type: str, **changes) -> dict:
    cfg = default_config(model_type, num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=96, vocab_size=256)
    cfg.update(changes)
    return cfg


# --------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("cfg", [default_config("nanochat"), _nanochat_d20(), default_config("bitnet"), BITNET_2B4T,
                                 _small("nanochat"), _small("bitnet")],
                         ids=["nanochat-default", "nanochat-d20", "bitnet-default", "bitnet-2b4t", "nanochat-small",
                              "bitnet-small"])
def test_counts_equal_transformers(cfg):
    assert_counts_equal(cfg)


def test_published_sizes():
    """nanochat d20: 560,988,160 (its model cards); BitNet b1.58 2B4T: 2,412,820,480 with the head
    tied, as counted from its bf16 weights (Microsoft: "~2 billion")."""
    assert count_params(spec_from_hf_config(_nanochat_d20())).total == 560_988_160
    bitnet = spec_from_hf_config(BITNET_2B4T)
    assert count_params(bitnet).total == 2_412_820_480 and bitnet.tie_embeddings


def test_import_reads_every_feature():
    nano = spec_from_hf_config(_nanochat_d20())
    attn, ffn = nano.layers[0].mixer, nano.layers[0].ffn
    assert (nano.norm, nano.embedding_norm, nano.tie_embeddings, nano.rope_reversed) == (
        "rmsnorm_noparam", True, False, True)
    assert attn.qk_norm == "l2" and not attn.out_norm and (ffn.gated, ffn.activation) == (False, "relu2")
    assert count_params(nano).by_component["norms"].total == 0
    bit = spec_from_hf_config(BITNET_2B4T)
    attn, ffn = bit.layers[0].mixer, bit.layers[0].ffn
    assert attn.out_norm and ffn.inner_norm and (ffn.gated, ffn.activation) == (True, "relu2")
    assert (attn.heads, attn.kv_heads, attn.head_dim) == (20, 5, 128)


def test_bitnet_needs_the_heads_as_wide_as_the_model():
    with pytest.raises(SpecError, match="attn_sub_norm") as err:
        spec_from_hf_config(_small("bitnet", head_dim=32))
    assert err.value.field == "config.head_dim"


@pytest.mark.parametrize("part, field", [
    (lambda: Attention(4, 2, 16, out_norm="yes"), "out_norm"),
    (lambda: DenseFFN(64, inner_norm=1), "inner_norm"),
])
def test_the_new_flags_are_booleans(part, field):
    with pytest.raises(SpecError) as err:
        part().validate("part")
    assert err.value.field == f"part.{field}"


def test_spec_round_trips():
    from models.spec import ModelSpec
    for cfg in (_small("nanochat"), _small("bitnet")):
        spec = spec_from_hf_config(cfg)
        assert ModelSpec.from_dict(spec.to_dict()) == spec


# --------------------------------------------------------------------------- FLOPs

@pytest.mark.parametrize("cfg", [{**_nanochat_d20(), "num_hidden_layers": 2}, {**BITNET_2B4T, "num_hidden_layers": 2}],
                         ids=["nanochat-d20", "bitnet-2b4t"])
def test_prefill_flops_equal_flop_counter(cfg):
    """At true width, two layers: the sub-norms and weightless norms add no matmuls."""
    from test_flops_and_cache import counted_flops

    from models.cost import phase_flops
    cfg = {k: v for k, v in cfg.items() if k != "quantization_config"}
    assert phase_flops(spec_from_hf_config(cfg), 64, dense_attention=True) == counted_flops(cfg, 64)


# --------------------------------------------------------------------------- kernels and backends
# (each decoder layer against transformers' in float64: tests/test_layers_vs_transformers.py)

@pytest.mark.parametrize("model_type", ["nanochat", "bitnet"])
def test_triton_kernels_in_the_layers_equal_the_torch_step(model_type):
    """The profiler's Triton backend: decode attention and the fused RMSNorm, the weightless ones
    (nanochat) and the sub-norms (BitNet) included (Triton's interpreter on the CPU)."""
    from block_cases import triton_step_of
    spec = spec_from_hf_config(_small(model_type))
    used, error = triton_step_of(spec, spec.layout[0])
    assert {"decode_attention", "rms_norm"} <= used and error < 1e-5


def test_profile_runs_every_block():
    from block_cases import assert_blocks_run
    for cfg in (_small("nanochat"), _small("bitnet")):
        assert_blocks_run(spec_from_hf_config(cfg), ("torch", "sdpa", "onnxruntime"))


# --------------------------------------------------------------------------- the diagram

def test_diagram_shows_the_sub_norms_and_weightless_norms():
    bit = diagram_model(spec_from_hf_config(BITNET_2B4T))
    detail = next(iter(bit.blocks.values()))
    names = [c.name for c in detail.components]
    assert names.index("attn_sub_norm") == names.index("o_proj") - 1
    assert names.index("ffn_sub_norm") == names.index("down_proj") - 1
    assert sum(c.params for c in detail.components) == detail.params
    nano = diagram_model(spec_from_hf_config(_nanochat_d20()))
    detail = next(iter(nano.blocks.values()))
    assert "RMSNorm (no weights)" in detail.norm_text
    assert all(c.params == 0 for c in detail.components if c.kind == "norm")
    assert "after RoPE" in next(c.shape for c in detail.components if c.name == "q/k norm")
    positions = next(it for it in nano.overview if it.kind == "position")
    assert any("each pair turned by -angle" in line for line in positions.lines)
    final = next(it for it in nano.overview if it.kind == "final_norm")
    embedding = next(it for it in nano.overview if it.kind == "embedding")
    assert final.lines[0] == "RMSNorm (no weights) (1280)" and final.params == 0
    assert "then RMSNorm (no weights) (1280)" in embedding.lines
