"""Emu3 (models/hf/dense.py) against transformers 5.23: its parameter count equals that of the model
AutoModelForCausalLM builds on the meta device from the same config (transformers' default config,
BAAI's published shapes and variants that switch its options on); prefill FLOPs equal
FlopCounterMode's on a reduced-depth model; the torch and ONNX Runtime blocks build and run for a
reduced spec; bad keys inside text_config raise SpecError naming them."""
from __future__ import annotations

import pytest

from models.cost import phase_flops
from models.hf import spec_from_hf_config
from models.params import count_params
from models.spec import SpecError

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, ours_and_reference  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

def _emu3(**text_changes) -> dict:
    """transformers' default Emu3 config, as a config.json holds it, with text_config changed."""
    cfg = transformers.AutoConfig.for_model("emu3").to_dict()
    cfg["model_type"] = "emu3"
    cfg["text_config"] = {**cfg["text_config"], **text_changes}
    return cfg



# BAAI/Emu3-Gen's config.json (remote-code format, model_type "Emu3": BAAI's own Emu3ForCausalLM),
# as quoted in MindSpore ONE's Emu3 inference test; the same language model as text_config of an emu3
# config, as transformers' convert_emu3_weights_to_hf.py nests it. BAAI/Emu3-Chat-hf, written by that
# script, keeps Emu3TextConfig's defaults (transformers' default config, tested below).
EMU3_GEN_TEXT = {
    "architectures": ["Emu3ForCausalLM"], "attention_dropout": 0.1, "bos_token_id": 151849,
    "eos_token_id": 151850, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 5120, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pad_token_id": 151643, "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0, "tie_word_embeddings": False, "vocab_size": 184622}

# Small widths, so that variants build quickly; token ids inside the small vocabulary
_SMALL = dict(num_hidden_layers=2, hidden_size=512, intermediate_size=1024, num_attention_heads=8,
              num_key_value_heads=2, vocab_size=1000, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def _without(key: str, cfg: dict) -> dict:
    """``cfg`` with ``key`` left out of text_config (Emu3TextConfig's default then applies:
    num_key_value_heads 8, not the head count)."""
    cfg["text_config"].pop(key)
    return cfg


SHAPES = {
    "default (Emu3-Chat-hf)": _emu3(),
    "emu3-gen": _emu3(**EMU3_GEN_TEXT),
    # biases on all four attention projections and in the MLP, a stated head size, tied head, MHA
    "biased-tied-head_dim": _emu3(**_SMALL, attention_bias=True, mlp_bias=True, head_dim=32,
                                  tie_word_embeddings=True),
    "mha": _emu3(**{**_SMALL, "num_key_value_heads": 8}),
    # 16 heads, num_key_value_heads left out: 8 KV heads
    "kv-heads-left-out": _without("num_key_value_heads", _emu3(**{**_SMALL, "num_attention_heads": 16})),
}


@pytest.mark.parametrize("config", [pytest.param(c, id=k) for k, c in SHAPES.items()])
def test_parameter_count_equals_transformers(config):
    """Default, published and variant shapes count exactly what transformers builds."""
    assert_counts_equal(config)


def test_emu3_total_agrees_with_baai():
    """Emu3's decoder: "approximately 8.5 billion parameters" over 32 layers (the Emu3 paper, Nature
    2025, as summarised by bioengineer.org); both published shapes hold 8,492,011,520."""
    for cfg in (SHAPES["default (Emu3-Chat-hf)"], SHAPES["emu3-gen"]):
        assert count_params(spec_from_hf_config(cfg)).total == 8_492_011_520


def test_emu3_reads_the_language_model_in_text_config():
    """The spec is text_config's Llama decoder: its context (Emu3-Gen 5,120; Emu3TextConfig's 9,216
    when left out), an untied head unless text_config ties it (the top-level flag does not, as in
    transformers' causal LM), and the emu3 model type."""
    gen = spec_from_hf_config(SHAPES["emu3-gen"])
    assert (gen.context_length, gen.tie_embeddings, gen.model_type, gen.num_layers) == (5120, False, "emu3", 32)
    attn = gen.layers[0].mixer
    assert (attn.heads, attn.kv_heads, attn.head_dim, attn.qk_norm) == (32, 8, 128, "none")
    without_context = _emu3()
    without_context["text_config"].pop("max_position_embeddings")
    assert spec_from_hf_config(without_context).context_length == 9216
    tied_outside = {**_emu3(**_SMALL), "tie_word_embeddings": True}
    assert not spec_from_hf_config(tied_outside).tie_embeddings
    ours, ref = ours_and_reference(tied_outside)
    assert ours == ref


def test_prefill_flops_match_flop_counter():
    """Prefill FLOPs (eager attention's full score matrix) equal FlopCounterMode's within 1% on the
    true widths at two layers, on the meta device."""
    cfg = _emu3(num_hidden_layers=2)
    cfg["vocab_size"] = cfg["text_config"]["vocab_size"]    # counted_flops draws its ids from it
    tokens = 256
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens)
    assert abs(ours - ref) / ref < 0.01, f"ours {ours:.4e} vs FlopCounterMode {ref:.4e}"


def test_torch_and_onnx_blocks_run_for_the_spec(tmp_path, monkeypatch):
    """The profiler builds and runs every block of a reduced Emu3 spec with torch and ONNX Runtime."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("ORBIT_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    assert_blocks_run(spec_from_hf_config(_emu3(**_SMALL, attention_bias=True, mlp_bias=True)))


@pytest.mark.parametrize("key, value", [
    ("hidden_size", "4096"),
    ("num_hidden_layers", 2.5),
    ("num_key_value_heads", True),
    ("intermediate_size", [14336]),
    ("max_position_embeddings", "long"),
])
def test_bad_text_config_keys_raise_spec_error_naming_them(key, value):
    """A value of the wrong type inside text_config is refused by its full path."""
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(_emu3(**{key: value}))
    assert info.value.field == f"config.text_config.{key}"


@pytest.mark.parametrize("text_config", [None, [], "llama"])
def test_emu3_without_a_language_model_is_refused(text_config):
    """Without a text_config object there is no language model to read."""
    cfg = _emu3()
    cfg["text_config"] = text_config
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(cfg)
    assert info.value.field == "config.text_config"
