"""OLMo hybrid (models/hf/hybrid.py), the type a norm placement per layer (spec: Layer.placement)
made describable: Gated DeltaNet layers with pre-norms beside OLMo 3's post-norm attention layers.
Parameter counts equal transformers' built on the meta device; FLOPs equal FlopCounterMode's for
every matmul outside the recurrence (whose chunked form transformers runs does other work than
the engine's delta rule counts); the torch and ONNX Runtime blocks run."""
from __future__ import annotations

import pytest

from models.cost import _Fmt, _runs, block_ops
from models.hf import spec_from_hf_config
from models.spec import Layer, LinearAttention, SpecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402

SMALL = dict(num_hidden_layers=4, layer_types=None, hidden_size=256, intermediate_size=512, num_attention_heads=4,
             num_key_value_heads=4, linear_num_key_heads=4, linear_num_value_heads=4, linear_key_head_dim=48,
             linear_value_head_dim=96, vocab_size=1024, pad_token_id=0, eos_token_id=1)


@pytest.mark.parametrize("changes", [
    pytest.param({}, id="default"),
    # the released checkpoints state no RoPE base
    pytest.param({"rope_parameters": None}, id="no-rope"),
    pytest.param({"num_hidden_layers": 6, "layer_types": ["linear_attention", "full_attention"] * 3,
                  "linear_num_key_heads": 10, "linear_num_value_heads": 20, "num_key_value_heads": 6,
                  "attention_bias": True}, id="own-layers-gqa-biases"),
])
def test_counts_equal_transformers(changes):
    assert_counts_equal(default_config("olmo_hybrid", **changes))


def test_each_layer_kind_keeps_its_norm_placement():
    spec = spec_from_hf_config(default_config("olmo_hybrid", num_hidden_layers=8, layer_types=None))
    kinds = [(isinstance(layer.mixer, LinearAttention), spec.placement_of(layer)) for layer in spec.layers]
    assert kinds == [(True, "pre")] * 3 + [(False, "post")] + [(True, "pre")] * 3 + [(False, "post")]
    assert spec_from_hf_config(default_config("olmo_hybrid", rope_parameters=None)).position == "none"


def test_matmuls_outside_the_recurrence_equal_flop_counter():
    """Every nn.Linear (projections, MLPs, the head on the last token) and the attention layer's
    score and value products, summed per module by FlopCounterMode, equal the engine's."""
    cfg = default_config("olmo_hybrid", **SMALL)
    config = transformers.AutoConfig.for_model(**cfg)
    config._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    linear = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    attention = {name for name, m in model.named_modules() if type(m).__name__ == "OlmoHybridAttention"}
    tokens = 64
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(input_ids=torch.randint(0, 1024, (1, tokens)), logits_to_keep=1, use_cache=False)
    # keys are "OlmoHybridForCausalLM.<module name>"
    by_module = {k.split(".", 1)[1] if "." in k else k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    linear_flops = sum(f for k, f in by_module.items() if k in linear)
    core_flops = sum(f - sum(by_module.get(f"{k}.{p}", 0) for p in ("q_proj", "k_proj", "v_proj", "o_proj"))
                     for k, f in by_module.items() if k in attention)
    spec = spec_from_hf_config(cfg)
    ours: dict[str, float] = {}
    for (name, tail), n in _runs(spec, False).items():
        for op in block_ops(spec, spec.blocks[name], tokens, 1, 0, _Fmt(2, 2, 2, 2), False, True):
            ours[op.kind] = ours.get(op.kind, 0) + n * op.flops
    assert linear_flops == ours["projection"] + ours["ffn"] + 2 * spec.hidden_size * spec.vocab_size
    assert core_flops == ours["attention"]


def test_blocks_run_through_torch_and_onnx_runtime():
    assert_blocks_run(spec_from_hf_config(default_config("olmo_hybrid", **SMALL)))


def test_a_layer_placement_is_validated_and_round_trips():
    from models.spec import ModelSpec
    spec = spec_from_hf_config(default_config("olmo_hybrid", **SMALL))
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError) as info:
        Layer((spec.layers[0].mixer,), placement="middle").validate("blocks.x")
    assert info.value.field == "blocks.x.placement"
