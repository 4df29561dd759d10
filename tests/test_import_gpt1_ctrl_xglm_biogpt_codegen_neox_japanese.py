"""CodeGen, GPT-1 (openai-gpt), XGLM, BioGPT, GPT-NeoX-Japanese and CTRL (models/hf/gpt.py) against
transformers 5.23: parameter counts equal those of the model built on the meta device from the same
config (each type's default config, published shapes and option variants); prefill FLOPs equal
FlopCounterMode's on reduced-depth models; the torch and ONNX Runtime blocks of a reduced spec build
and run; publishers' totals agree; bad keys raise SpecError naming them."""
from __future__ import annotations

import pytest

from models.cost import phase_flops
from models.hf import SUPPORTED_MODEL_TYPES, spec_from_hf_config
from models.params import count_params
from models.spec import SpecError

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
from block_cases import assert_blocks_run  # noqa: E402
from hf_reference import assert_counts_equal, default_config  # noqa: E402
from test_flops_and_cache import counted_flops  # noqa: E402

TYPES = ["codegen", "openai-gpt", "xglm", "biogpt", "gpt_neox_japanese", "ctrl"]




# Published shapes. No config.json of a CodeGen checkpoint was found in the search index, so CodeGen
# is covered by its default config and the variants below only.
PUBLISHED = {
    # openai-community/openai-gpt: OpenAIGPTModel.from_pretrained("openai-gpt").config as printed
    # in a markdown dump (code-search index file id 28599413534; the same values in id 7768956847)
    "openai-gpt": {
        "afn": "gelu", "architectures": ["OpenAIGPTLMHeadModel"], "attn_pdrop": 0.1, "embd_pdrop": 0.1,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "openai-gpt", "n_ctx": 512,
        "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 512, "n_special": 0,
        "predict_special_tokens": True, "resid_pdrop": 0.1, "summary_activation": None,
        "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
        "summary_use_proj": True, "vocab_size": 40478},
    # facebook/xglm-1.7B: "the config file from HF" quoted by a fairseq-to-transformers conversion
    # script (code-search index file id 26992185356)
    "xglm-1.7b": {
        "activation_dropout": 0.0, "activation_function": "gelu", "architectures": ["XGLMForCausalLM"],
        "attention_dropout": 0.1, "attention_heads": 16, "bos_token_id": 0, "d_model": 2048,
        "decoder_start_token_id": 2, "dropout": 0.1, "eos_token_id": 2, "ffn_dim": 8192, "init_std": 0.02,
        "layerdrop": 0.0, "max_position_embeddings": 2048, "model_type": "xglm", "num_layers": 24,
        "pad_token_id": 1, "scale_embedding": True, "use_cache": True, "vocab_size": 256008},
    # microsoft/BioGPT-Large: its config.json's size fields as a test suite copies them
    # (code-search index file id 69105168293)
    "biogpt-large": {"model_type": "biogpt", "vocab_size": 57717, "hidden_size": 1600,
                     "intermediate_size": 6400, "num_hidden_layers": 48, "num_attention_heads": 25,
                     "max_position_embeddings": 2048},
    # Salesforce/ctrl: the size fields of the "ctrl" entry of PaddleNLP's pretrained_init_configuration
    # (GitHub PaddlePaddle/PaddleNLP, paddlenlp/transformers/ctrl/modeling.py, a copy of the Hub config)
    "ctrl": {"model_type": "ctrl", "dff": 8192, "n_embd": 1280, "n_head": 16, "n_layer": 48,
             "n_positions": 50000, "vocab_size": 246534, "layer_norm_epsilon": 1e-06,
             "tie_word_embeddings": True},
    # abeja/gpt-neox-japanese-2.7b: vocab_size 32000, 32 layers, hidden 2560 as a metadata test
    # mocks its Hub config (code-search index file id 60313453943); the other keys are
    # GPTNeoXJapaneseConfig's defaults, which its docstring documents as this checkpoint's
    "gpt-neox-japanese-2.7b": default_config("gpt_neox_japanese", vocab_size=32000, num_hidden_layers=32,
                                       hidden_size=2560),
}

# Realistic variants that exercise each type's options
VARIANTS = {
    # a narrower rotary part, a stated MLP width, a tied head
    "codegen-rotary32-tied": default_config("codegen", n_layer=3, rotary_dim=32, n_inner=10000,
                                      tie_word_embeddings=True),
    # ReLU MLP, a longer position table, an untied head
    "openai-gpt-relu-untied": default_config("openai-gpt", n_layer=3, afn="relu", n_positions=1024,
                                       tie_word_embeddings=False),
    "xglm-untied-relu": default_config("xglm", num_layers=3, activation_function="relu", tie_word_embeddings=False),
    "biogpt-untied": default_config("biogpt", num_hidden_layers=3, max_position_embeddings=2048,
                              tie_word_embeddings=False),
    # half the head rotated, a narrower MLP, an untied head; one layer (it is also the last)
    "gpt_neox_japanese-partial-untied": default_config("gpt_neox_japanese", num_hidden_layers=1, rotary_pct=0.5,
                                                 intermediate_multiple_size=2, tie_word_embeddings=False),
    "ctrl-untied": default_config("ctrl", n_layer=3, tie_word_embeddings=False),
}



@pytest.mark.parametrize("config", [pytest.param(c, id=k) for k, c in {**PUBLISHED, **VARIANTS}.items()])
def test_published_and_variant_shapes_match_transformers(config):
    """Published shapes and option variants count exactly what transformers builds."""
    assert_counts_equal(config)


def test_published_totals_agree_with_the_publishers():
    """XGLM-564M "564 million parameters" (facebook/xglm-564M's card; XGLMConfig's defaults are its
    shape); BioGPT "347M" (its 24-layer, 1024-wide base model, as bio.rodeo and aiwiki.ai quote the
    paper); CTRL "a 1.63 billion-parameter conditional transformer" (the paper's abstract, quoted
    in transformers' docs/source/model_doc/ctrl.rst): 1,637,964,550, which the paper truncates."""
    xglm = count_params(spec_from_hf_config(default_config("xglm"))).total
    biogpt = count_params(spec_from_hf_config(default_config("biogpt"))).total
    ctrl = count_params(spec_from_hf_config(PUBLISHED["ctrl"])).total
    assert round(xglm / 1e6) == 564
    assert round(biogpt / 1e6) == 347
    assert ctrl // 10 ** 7 == 163


def test_layer_structure_follows_the_modules():
    """The structure behind the counts: GPT-1 normalises after each residual sum and not at the end;
    GPT-NeoX-Japanese biases only its last layer's output projection; XGLM's and CTRL's sinusoidal
    positions hold no weights while BioGPT's learned table has two extra rows; CodeGen rotates 64
    dims of each head when rotary_dim is absent (CodeGenConfig's default)."""
    gpt1 = spec_from_hf_config(PUBLISHED["openai-gpt"])
    assert (gpt1.norm_placement, gpt1.final_norm, gpt1.position, gpt1.learned_positions) == ("post", False,
                                                                                             "learned", 512)
    neox = spec_from_hf_config(PUBLISHED["gpt-neox-japanese-2.7b"]).layers
    assert [layer.mixer.out_bias for layer in neox] == [False] * 31 + [True]
    assert not any(layer.mixer.qkv_bias or layer.ffn.bias for layer in neox)
    for config in (PUBLISHED["xglm-1.7b"], PUBLISHED["ctrl"]):
        spec = spec_from_hf_config(config)
        assert spec.position == "sinusoidal" and not any(layer.mixer.rope for layer in spec.layers)
    assert spec_from_hf_config(PUBLISHED["biogpt-large"]).learned_positions == 2050
    codegen = default_config("codegen")
    codegen.pop("rotary_dim")
    assert spec_from_hf_config(codegen).rope_fraction == 64 / 256
    assert spec_from_hf_config({**codegen, "rotary_dim": 256}).rope_fraction == 1.0


# Reduced depth at the true widths, on the meta device
FLOP_CASES = {"codegen": {"n_layer": 2}, "openai-gpt": {"n_layer": 2}, "xglm": {"num_layers": 2},
              "biogpt": {"num_hidden_layers": 2}, "gpt_neox_japanese": {"num_hidden_layers": 2},
              "ctrl": {"n_layer": 2}}


@pytest.mark.parametrize("model_type", TYPES)
def test_prefill_flops_match_flop_counter(model_type):
    """Prefill FLOPs (eager attention's full score matrix) equal FlopCounterMode's within 1%:
    fused QKV, post-norm, sinusoidal and learned positions, biased heads."""
    cfg = default_config(model_type, **FLOP_CASES[model_type])
    tokens = 256
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens)
    assert abs(ours - ref) / ref < 0.01, f"ours {ours:.4e} vs FlopCounterMode {ref:.4e}"


# Small widths so the blocks run quickly on the CPU
SMALL = {
    "codegen": dict(n_layer=2, n_embd=128, n_head=4, rotary_dim=16, vocab_size=1000),
    "openai-gpt": dict(n_layer=2, n_embd=128, n_head=4, vocab_size=1000),
    "xglm": dict(num_layers=2, d_model=128, attention_heads=4, ffn_dim=256, vocab_size=1000),
    "biogpt": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=4, intermediate_size=256,
                   vocab_size=1000),
    "gpt_neox_japanese": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=4, vocab_size=1000,
                              rotary_pct=0.5),
    "ctrl": dict(n_layer=2, n_embd=128, n_head=4, dff=256, vocab_size=1000),
}


@pytest.mark.parametrize("model_type", TYPES)
def test_torch_and_onnx_blocks_run_for_the_spec(model_type):
    """Every block of a reduced spec (GPT-NeoX-Japanese: two, the last with its output bias) and the
    head build and run for prefill and decode with torch and ONNX Runtime."""
    assert_blocks_run(spec_from_hf_config(default_config(model_type, **SMALL[model_type])))


@pytest.mark.parametrize("model_type, key, value", [
    ("codegen", "rotary_dim", "32"),
    ("codegen", "n_inner", 1.5),
    ("openai-gpt", "afn", "gelu_new"),          # not in modeling_openai's activation table
    ("openai-gpt", "n_positions", True),
    ("xglm", "add_cross_attention", True),      # cross-attention layers: not described
    ("xglm", "ffn_dim", "big"),
    ("biogpt", "num_attention_heads", 0),
    ("biogpt", "max_position_embeddings", [1024]),
    ("gpt_neox_japanese", "intermediate_multiple_size", 2.5),
    ("gpt_neox_japanese", "num_attention_heads", 7),   # does not divide hidden_size
    ("ctrl", "dff", True),
    ("ctrl", "n_head", 3),
])
def test_bad_keys_raise_spec_error_naming_them(model_type, key, value):
    """A value of the wrong type, or one the spec cannot express, is refused by name."""
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(default_config(model_type, **{key: value}))
    assert info.value.field == f"config.{key}"


def test_openai_gpt_keeps_its_hyphen_and_a_respelling_is_pointed_to_it():
    """transformers names GPT-1 "openai-gpt": that spelling imports, "openai_gpt" is told of it."""
    assert "openai-gpt" in SUPPORTED_MODEL_TYPES
    with pytest.raises(SpecError, match=r"did you mean openai-gpt\?"):
        spec_from_hf_config({**PUBLISHED["openai-gpt"], "model_type": "openai_gpt"})
