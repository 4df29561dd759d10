"""FLOPs against torch.utils.flop_counter on real (reduced-depth) transformers models, and KV-cache
bytes against what a real transformers cache holds; hand-derived figures for sliding-window, MLA
and linear-attention caches."""
from __future__ import annotations

import copy
import functools

import pytest

from models.catalog import catalog
from models.cost import attended_pairs, kv_cache_bytes, phase_flops
from models.hf import spec_from_hf_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from hf_reference import causal_lm  # noqa: E402
from transformers import AutoConfig  # noqa: E402


def _config(model_id: str, **changes) -> dict:
    cfg = copy.deepcopy(catalog()[model_id].raw["hf_config"])
    cfg.pop("quantization_config", None)
    cfg.update(changes)
    return cfg


def _model(cfg: dict, device: str, dtype=torch.float32):
    config = AutoConfig.for_model(**cfg)
    config._attn_implementation = "eager"   # plain matmuls: the counter sees every score
    config._experts_implementation = "eager"  # per-expert matmuls (the counter has no grouped_mm rule)
    with torch.device(device):
        model = causal_lm(config, dtype=dtype)
    return model.eval()


def counted_flops(cfg: dict, tokens: int, device: str = "meta", dtype=torch.float32) -> int:
    model = _model(cfg, device, dtype)
    ids = torch.randint(0, cfg["vocab_size"], (1, tokens), device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        # an explicit mask keeps transformers from inspecting values (impossible on meta)
        mask = torch.ones(1, tokens, dtype=torch.long, device=device)
        model(input_ids=ids, attention_mask=mask, logits_to_keep=1, use_cache=False)
    return counter.get_total_flops()


# Reduced depth keeps the true widths; eager attention multiplies the full S x S score matrix,
# so the engine is asked for the same "dense" convention (causal savings are tested separately).
DENSE_CASES = [
    ("llama-3-8b", {"num_hidden_layers": 2}),
    ("mistral-7b", {"num_hidden_layers": 2}),
    ("qwen3-0.6b", {}),
    ("gemma-2-9b", {"num_hidden_layers": 4, "layer_types": None}),
    ("phi-2", {"num_hidden_layers": 2}),
    ("qwen2.5-32b", {"num_hidden_layers": 1}),
    ("deepseek-v3", {"num_hidden_layers": 1, "first_k_dense_replace": 1}),
]


def _default_config(model_type: str, **changes) -> dict:
    cfg = transformers.AutoConfig.for_model(model_type).to_dict()
    cfg.update(model_type=model_type, **changes)
    return cfg


# per-layer lists of the 61/78-layer defaults, derived again for the reduced depth
DSA_RESET = {"layer_types": None, "mlp_layer_types": None, "indexer_types": None}

# Types with no catalog model: transformers' default configs at reduced depth (LayerNorm and
# parallel blocks, partial RoPE, per-head QK-norm, NoPE global layers)
TYPE_CASES = [
    ("gpt_neox", {"num_hidden_layers": 2}),
    ("gptj", {"n_layer": 2}),
    ("gpt_bigcode", {"n_layer": 2}),
    ("opt", {"num_hidden_layers": 2}),
    ("mpt", {"n_layers": 2}),
    ("bloom", {"n_layer": 2}),
    ("gpt_neo", {"num_layers": 2, "attention_types": [[["global", "local"], 1]],
                 "attention_layers": ["global", "local"]}),
    ("starcoder2", {"num_hidden_layers": 2}),
    ("stablelm", {"num_hidden_layers": 2, "qk_layernorm": True, "use_parallel_residual": True}),
    ("cohere", {"num_hidden_layers": 2, "use_qk_norm": True}),
    ("cohere2", {"num_hidden_layers": 4, "layer_types": None}),
    ("granite", {"num_hidden_layers": 2}),
    ("cwm", {"num_hidden_layers": 2, "layer_types": None}),
    ("ernie4_5", {"num_hidden_layers": 2, "use_bias": True}),
    ("internlm3", {"num_hidden_layers": 2}),
    ("vaultgemma", {"num_hidden_layers": 2, "layer_types": None}),
    ("hyperclovax", {"num_hidden_layers": 2}),
    ("apertus", {"num_hidden_layers": 2}),
    ("minicpm3", {"num_hidden_layers": 2}),
    # DeepSeek Sparse Attention: eager attention scores every pair and masks all but the top-k, as
    # the engine's dense convention counts it; the lightning indexer's scores come on top
    ("deepseek_v32", {"num_hidden_layers": 1, "first_k_dense_replace": 1, **DSA_RESET}),
    ("glm_moe_dsa", {"num_hidden_layers": 1, "first_k_dense_replace": 1, **DSA_RESET}),
]


FLOP_CASES = ([pytest.param(functools.partial(_config, m, **c), id=m) for m, c in DENSE_CASES]
              + [pytest.param(functools.partial(_default_config, t, **c), id=t) for t, c in TYPE_CASES])


@pytest.mark.parametrize("make_config", FLOP_CASES)
def test_prefill_flops_match_flop_counter(make_config):
    cfg = make_config()
    tokens = 256
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens)
    assert abs(ours - ref) / ref < 0.01, f"ours {ours:.4e} vs FlopCounterMode {ref:.4e}"


def test_moe_prefill_flops_match_flop_counter():
    """Routing is data dependent, so this one runs for real (bf16, one layer, random weights):
    every token reaches exactly top_k experts, which the engine counts."""
    cfg = _config("qwen3-30b-a3b", num_hidden_layers=1)
    tokens = 64
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu", dtype=torch.bfloat16)
    assert abs(ours - ref) / ref < 0.01, f"ours {ours:.4e} vs FlopCounterMode {ref:.4e}"


def test_short_convolution_flops_match_flop_counter():
    """LFM2's gated short convolutions beside attention. transformers' LFM2 reads tensor values
    while it runs (not possible on the meta device), so this one runs on the CPU at reduced width.
    Exact, but for the conv: transformers pads both ends and computes kernel - 1 outputs per
    sequence that it drops; the engine counts the conv's 2 x kernel FLOPs per channel and token."""
    cfg = _default_config("lfm2", num_hidden_layers=4, hidden_size=512, intermediate_size=2048,
                          num_attention_heads=8, num_key_value_heads=2, vocab_size=4096,
                          layer_types=["conv", "full_attention", "conv", "conv"])
    tokens, kernel, conv_layers = 128, 3, 3
    ours = phase_flops(spec_from_hf_config(cfg), tokens, dense_attention=True)
    ref = counted_flops(cfg, tokens, device="cpu")
    assert ref - ours == conv_layers * 2 * kernel * 512 * (kernel - 1)


def test_causal_convention_halves_attention_scores():
    """The engine's default counts only causal pairs: S(S+1)/2 instead of S^2."""
    spec = spec_from_hf_config(_config("llama-3-8b", num_hidden_layers=1))
    s = 1024
    a = spec.layers[0].mixer
    per_pair = 2 * a.heads * (a.head_dim + a.vdim)
    dense = phase_flops(spec, s, dense_attention=True)
    causal = phase_flops(spec, s)
    assert dense - causal == per_pair * (s * s - s * (s + 1) // 2)


def test_attended_pairs_hand_derived():
    assert attended_pairs(10, "full", 0) == 55
    assert attended_pairs(10, "sliding", 4) == 1 + 2 + 3 + 4 * 7          # 31
    assert attended_pairs(10, "chunked", 4) == (1 + 2 + 3 + 4) * 2 + 1 + 2  # 23
    assert attended_pairs(1, "sliding", 4, start=100) == 4                # decode past the window
    assert attended_pairs(1, "full", 0, start=100) == 101


def test_gqa_kv_cache_matches_transformers_dynamic_cache():
    cfg = _config("llama-3-8b", num_hidden_layers=2, hidden_size=512, intermediate_size=1024,
                  num_attention_heads=8, num_key_value_heads=2, vocab_size=1000)
    model = _model(cfg, "cpu", torch.bfloat16)
    batch, tokens = 3, 37
    ids = torch.randint(0, 1000, (batch, tokens))
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
    held = sum(t.numel() * t.element_size() for layer in out.past_key_values.layers
               for t in (layer.keys, layer.values))
    ours = kv_cache_bytes(spec_from_hf_config(cfg), tokens, batch, kv_bytes=2)
    assert ours == held == 2 * 2 * 2 * 64 * tokens * batch * 2   # layers*K/V*kv_heads*hd*T*B*bytes


def test_sliding_window_cache_hand_derived():
    # Gemma 2 9B: 42 layers alternating sliding (4096) and global; 8 KV heads of 256.
    spec = catalog()["gemma-2-9b"].spec()
    per_token_layer = 2 * 8 * 256 * 2      # K and V, bf16
    t = 8192
    expected = 21 * per_token_layer * t + 21 * per_token_layer * 4096
    assert kv_cache_bytes(spec, t, 1, 2) == expected
    # below the window both layer kinds hold every token
    assert kv_cache_bytes(spec, 1000, 1, 2) == 42 * per_token_layer * 1000


def test_mla_cache_hand_derived():
    # DeepSeek-V3: 61 layers cache kv_lora_rank 512 + rope 64 = 576 values per token.
    spec = catalog()["deepseek-v3"].spec()
    assert kv_cache_bytes(spec, 4096, 2, 2) == 61 * 576 * 4096 * 2 * 2


def test_linear_attention_state_hand_derived():
    # Qwen3-Next-80B-A3B: 36 Gated DeltaNet layers, each 32 value heads x 128 x 128 state plus
    # a 3-token conv window over q, k (16 x 128 each) and v (32 x 128); 12 attention layers with
    # 2 KV heads of 256.
    spec = catalog()["qwen3-next-80b-a3b"].spec()
    state = 32 * 128 * 128 + 3 * (2 * 16 * 128 + 32 * 128)
    for t in (100, 100_000):
        expected = 36 * state * 2 + 12 * 2 * 2 * 256 * t * 2
        assert kv_cache_bytes(spec, t, 1, 2) == expected


def _dsa_config(**changes) -> dict:
    cfg = _default_config("deepseek_v32", num_hidden_layers=2, first_k_dense_replace=2, hidden_size=256,
                          intermediate_size=512, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=64, kv_lora_rank=32,
                          qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, index_n_heads=4,
                          index_head_dim=16, index_topk=5, vocab_size=1000, **DSA_RESET)
    cfg.update(changes)
    return cfg


def test_dsa_cache_matches_transformers_indexed_cache():
    """DeepSeek-V3.2's cache: the latent and rope key (transformers' keys and values) and the
    indexer's key per token."""
    cfg = _dsa_config()
    model = _model(cfg, "cpu", torch.bfloat16)
    batch, tokens = 2, 11
    with torch.no_grad():
        out = model(input_ids=torch.randint(0, 1000, (batch, tokens)), use_cache=True)
    held = sum(t.numel() * t.element_size() for layer in out.past_key_values.layers
               for t in (layer.keys, layer.values, layer.indexer_keys))
    ours = kv_cache_bytes(spec_from_hf_config(cfg), tokens, batch, kv_bytes=2)
    assert ours == held == 2 * (32 + 8 + 16) * tokens * batch * 2


def test_dsa_decode_flops_match_flop_counter_on_our_block():
    """Past index_topk tokens a DSA decode step attends to index_topk latent rows, not all of them:
    FlopCounterMode over our MLA block's step (DeepSeek-V3.2's true widths, on the meta device) sees
    what the engine's decode ops say."""
    from kernels.blocks import build_block
    from models.cost import _Fmt, block_ops
    spec = spec_from_hf_config(_default_config("deepseek_v32", num_hidden_layers=1, first_k_dense_replace=1,
                                               **DSA_RESET))
    layer = spec.layers[0]
    mla = layer.mixers[0]
    pos = 3 * mla.index_topk
    block = build_block(mla, spec.hidden_size, device="meta")
    state = block.new_state(1, pos + 1)
    x = torch.randn(1, 1, spec.hidden_size, device="meta")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        block.step(x, state, pos)
    ops = block_ops(spec, spec.layers[0].__class__(layer.mixers, ()), 1, 1, pos, _Fmt(2, 2, 2, 2), True)
    ours = {op.name: op.flops for op in ops}
    assert sum(ours.values()) == counter.get_total_flops()
    attention = 2 * mla.heads * (2 * mla.kv_lora_rank + mla.qk_rope_dim) * mla.index_topk
    assert ours["latent attention"] == attention
    assert ours["DSA indexer"] == 2 * mla.index_heads * (mla.index_head_dim + 1) * (pos + 1) \
        + 2 * spec.hidden_size * mla.index_heads


def test_dsa_prefill_attends_topk_keys_per_query():
    """Causal prefill: query i attends min(i, index_topk) keys (the sliding-window count), and the
    indexer scores all i of them."""
    from models.cost import _Fmt, block_ops
    spec = spec_from_hf_config(_default_config("deepseek_v32", num_hidden_layers=1, first_k_dense_replace=1,
                                               **DSA_RESET))
    mla = spec.layers[0].mixers[0]
    s, k = 8192, mla.index_topk
    ops = {op.name: op.flops for op in block_ops(spec, spec.layers[0], s, 1, 0, _Fmt(2, 2, 2, 2), False)}
    pairs = k * (k + 1) // 2 + (s - k) * k
    assert ours_pairs(ops["latent attention"], mla) == pairs
    assert ops["DSA indexer"] == 2 * mla.index_heads * (mla.index_head_dim + 1) * s * (s + 1) // 2 \
        + 2 * spec.hidden_size * mla.index_heads * s


def ours_pairs(flops: float, mla) -> float:
    return flops / (2 * mla.heads * (mla.qk_head_dim + mla.v_head_dim))


def test_short_convolution_state_hand_derived():
    """LFM2-1.2B: 6 attention layers cache K and V (8 heads of 64); the 10 conv layers keep only
    their conv window, kernel - 1 = 2 inputs of 2048 channels, whatever the context."""
    lt = ["conv", "conv", "full_attention", "conv", "conv", "full_attention", "conv", "conv",
          "full_attention", "conv", "full_attention", "conv", "full_attention", "conv", "full_attention", "conv"]
    spec = spec_from_hf_config({"model_type": "lfm2", "hidden_size": 2048, "block_ff_dim": 12288,
                                "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
                                "vocab_size": 65536, "layer_types": lt})
    for tokens in (1000, 32768):
        assert kv_cache_bytes(spec, tokens, 2, 2) == 2 * 2 * (6 * 2 * 8 * 64 * tokens + 10 * 2 * 2048)
