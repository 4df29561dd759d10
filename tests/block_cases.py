"""Small specs of every block kind and layer layout, shared by the block and ONNX tests."""
from __future__ import annotations

import pytest
import torch

from models import spec as S

D = 64


def make_spec(layer: S.Layer, **kw) -> S.ModelSpec:
    base = dict(name="t", vocab_size=128, hidden_size=D, context_length=512, blocks={"b": layer},
                layout=("b",))
    base.update(kw)
    return S.ModelSpec(**base)


# --------------------------------------------------------------------------- parts of every kind

ATTENTION = {
    "mha": S.Attention(heads=4, kv_heads=4, head_dim=16),
    "gqa_bias": S.Attention(heads=8, kv_heads=2, head_dim=8, qkv_bias=True, out_bias=True),
    "mqa": S.Attention(heads=4, kv_heads=1, head_dim=16),
    "qk_head": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="head"),
    "qk_full": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="full"),
    "qk_per_head": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="per_head"),
    "qk_l2": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="l2"),
    "gate": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="head", output_gate=True),
    "sinks_sliding": S.Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=3,
                                 sinks=True, qkv_bias=True, out_bias=True),
    "sliding": S.Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=4),
    "chunked": S.Attention(heads=4, kv_heads=2, head_dim=16, kind="chunked", window=4),
    "nope": S.Attention(heads=4, kv_heads=2, head_dim=16, rope=False),
    "vdim": S.Attention(heads=4, kv_heads=2, head_dim=16, v_head_dim=8),
    # Gemma 4's global layers: values from the key projection, a weightless norm on them
    "k_eq_v": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="head", value_from_key=True, v_norm=True),
    # LFM3: a sigmoid gate per head, half the dims rotated in this layer alone
    "head_gate_half_rope": S.Attention(heads=4, kv_heads=2, head_dim=16, qk_norm="head", head_gate="sigmoid",
                                       rope_fraction=0.5),
    # Laguna: a softplus gate per head on a sliding layer
    "softplus_head_gate_sliding": S.Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=4,
                                              head_gate="softplus"),
    # Diff-Llama: heads in pairs over values two KV heads wide; on a sliding layer here
    "differential_sliding": S.Attention(heads=8, kv_heads=4, head_dim=8, kind="sliding", window=4, differential=True),
    # Gemma 2: soft-capped scores (a cap low enough to bite) and a scale of query_pre_attn_scalar's
    "softcap_scaled_sliding": S.Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=4,
                                          scale=0.4, softcap=1.0),
}

MLAS = {
    "q_lora": S.MLA(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=8, q_lora_rank=24),
    "direct_q_bias": S.MLA(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=12, bias=True),
    "nope": S.MLA(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=8, rope=False),
    "sliding": S.MLA(heads=2, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=8, kind="sliding",
                     window=3),
    # DeepSeek Sparse Attention: each query reads its indexer's top 3 keys
    "dsa": S.MLA(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=8, q_lora_rank=24,
                 index_heads=3, index_head_dim=8, index_topk=3),
    # DeepSeek-V3's YaRN config: the scale times mscale^2
    "q_lora_yarn_scale": S.MLA(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=4, v_head_dim=8,
                               q_lora_rank=24, scale=0.55),
}
LINEAR = {
    "gdn": S.LinearAttention(key_heads=2, value_heads=4, key_dim=8, value_dim=12),
    "gdn_noconv": S.LinearAttention(key_heads=2, value_heads=2, key_dim=8, value_dim=8, conv_kernel=0),
    "kda": S.LinearAttention(key_heads=4, value_heads=4, key_dim=8, value_dim=8, variant="kimi_delta"),
    "lightning": S.LinearAttention(key_heads=4, value_heads=4, key_dim=8, value_dim=8, variant="lightning"),
}
SSMS = {
    "mamba2": S.SSM(d_inner=64, d_state=8, heads=8, groups=2),
    "mamba2_bias_nonorm": S.SSM(d_inner=32, d_state=4, heads=4, groups=1, conv_kernel=3, proj_bias=True,
                                conv_bias=False, gated_norm=False),
    "mamba1": S.SSM(d_inner=32, d_state=4, variant="mamba1", dt_rank=4, inner_norms=True),
    # LFM2's gated short convolution (no SSM state; its conv window is the whole state)
    "short_conv": S.ShortConv(channels=D),
    "short_conv_bias_wide": S.ShortConv(channels=96, kernel=4, bias=True),
}
FFNS = {
    "swiglu": S.DenseFFN(d_ff=96),
    "gelu_bias": S.DenseFFN(d_ff=96, gated=False, activation="gelu_tanh", bias=True),
    "xielu": S.DenseFFN(d_ff=96, gated=False, activation="xielu"),        # Apertus
    "moe_softmax": S.MoEFFN(experts=6, top_k=2, d_expert=32),
    "moe_deepseek": S.MoEFFN(experts=8, top_k=3, d_expert=16, shared_experts=1, router_score_bias=True),
    # DeepSeek-V3's group-limited routing: 3 experts from the best 2 of 4 groups
    "moe_deepseek_grouped": S.MoEFFN(experts=8, top_k=3, d_expert=16, shared_experts=1, router_score_bias=True,
                                     expert_groups=4, groups_per_token=2),
    "moe_gptoss": S.MoEFFN(experts=4, top_k=2, d_expert=16, activation="swiglu_oai", router_bias=True,
                           expert_bias=True),
    "moe_qwen_shared_gate": S.MoEFFN(experts=6, top_k=2, d_expert=16, shared_experts=1, d_shared=24,
                                     shared_gate=True),
    "moe_relu2_plain": S.MoEFFN(experts=4, top_k=2, d_expert=16, gated=False, activation="relu2",
                                shared_experts=2, router_score_bias=True),
    "moe_zero": S.MoEFFN(experts=4, top_k=2, d_expert=16, zero_experts=2, router_score_bias=True),
    "moe_gemma4": S.MoEFFN(experts=6, top_k=2, d_expert=16, activation="gelu_tanh", router_scales=True),
}


LAYOUTS = {
    "pre_rms": (S.Layer((ATTENTION["gqa_bias"],), (FFNS["swiglu"],)), {}),
    "post_olmo2": (S.Layer((ATTENTION["qk_full"],), (FFNS["swiglu"],)), {"norm_placement": "post"}),
    "sandwich_gemma": (S.Layer((ATTENTION["sliding"],), (FFNS["swiglu"],)), {"norm_placement": "sandwich"}),
    "parallel_phi": (S.Layer((ATTENTION["mha"],), (FFNS["gelu_bias"],)),
                     {"norm_placement": "parallel", "norm": "layernorm", "norm_bias": True,
                      "rope_fraction": 0.4}),
    "parallel_falcon_2norms": (S.Layer((ATTENTION["mqa"],), (FFNS["gelu_bias"],), norms=2),
                               {"norm_placement": "parallel", "norm": "layernorm", "norm_bias": True}),
    "olmo1_noparam": (S.Layer((ATTENTION["mha"],), (FFNS["swiglu"],)), {"norm": "layernorm_noparam"}),
    "falcon_h1": (S.Layer((ATTENTION["gqa_bias"], SSMS["mamba2"]), (FFNS["swiglu"],), norms=2), {}),
    "longcat": (S.Layer((MLAS["q_lora"], MLAS["q_lora"]),
                        (FFNS["swiglu"], FFNS["swiglu"], FFNS["moe_zero"]), norms=4), {}),
    "mamba_only": (S.Layer((SSMS["mamba2"],)), {"position": "none"}),
    "alibi": (S.Layer((ATTENTION["gqa_bias"],), (FFNS["swiglu"],)), {"position": "alibi"}),
    "gdn_moe": (S.Layer((LINEAR["gdn"],), (FFNS["moe_qwen_shared_gate"],)), {"rope_fraction": 0.25}),
    "kda_dense": (S.Layer((LINEAR["kda"],), (FFNS["swiglu"],)), {"position": "none"}),
    "jamba": (S.Layer((SSMS["mamba1"],), (FFNS["moe_softmax"],)), {}),
    "lightning_moe": (S.Layer((LINEAR["lightning"],), (FFNS["moe_deepseek"],)), {}),
    "lfm2_conv": (S.Layer((SSMS["short_conv"],), (FFNS["swiglu"],)), {}),
    "apertus_xielu": (S.Layer((ATTENTION["qk_head"],), (FFNS["xielu"],)), {}),
    # A.X K1: pre-norms and a norm on the MoE block's output
    "axk1_post_moe_norm": (S.Layer((MLAS["q_lora"],), (FFNS["moe_deepseek"],), norms=3), {}),
    # Gemma 4 26B-A4B: a dense MLP beside the MoE block, 7 norms, the layer's output scalar
    "gemma4_moe": (S.Layer((ATTENTION["k_eq_v"],), (S.DenseFFN(d_ff=48, activation="gelu_tanh"), FFNS["moe_gemma4"]),
                           norms=7), {"norm_placement": "sandwich", "layer_scalar": True}),
    # Gemma 2: soft-capped attention in the sandwich; Granite: the residual multiplier
    "gemma2_softcap": (S.Layer((ATTENTION["softcap_scaled_sliding"],), (FFNS["swiglu"],)),
                       {"norm_placement": "sandwich", "logit_softcap": 30.0}),
    "granite_residual_scale": (S.Layer((ATTENTION["gqa_bias"],), (FFNS["swiglu"],)), {"residual_scale": 0.25}),
    # Diff-Llama's differential attention (decode reads the cache's value pairs)
    "diffllama_sliding": (S.Layer((ATTENTION["differential_sliding"],), (FFNS["swiglu"],)), {}),
    # Falcon-H1's muP multipliers on all three parts
    "falcon_h1_mup": (S.Layer((S.Attention(heads=8, kv_heads=2, head_dim=8, in_scale=0.7, key_scale=1.6,
                                           out_scale=0.4),
                               S.SSM(d_inner=64, d_state=8, heads=8, groups=2, in_scale=1.3, out_scale=0.6,
                                     proj_scales=(0.5, 1.5, 0.8, 1.2, 2.0))),
                              (S.DenseFFN(d_ff=96, gate_scale=1.7, out_scale=0.3),), norms=2), {}),
    # RoPE on interleaved pairs: GLM's on half of each head; DeepSeek-V3's MLA with grouped routing
    "glm_interleaved_half": (S.Layer((ATTENTION["qk_head"],), (FFNS["swiglu"],)),
                             {"rope_interleaved": True, "rope_fraction": 0.5}),
    "deepseek_interleaved": (S.Layer((MLAS["q_lora"],), (FFNS["moe_deepseek_grouped"],)), {"rope_interleaved": True}),
    # RoPE whose frequencies depend on the sequence's reach, past a trained context of 4 positions:
    # Phi-3's longrope on three quarters of each head (6 pairs), dynamic NTK
    "phi3_longrope": (S.Layer((ATTENTION["mha"],), (FFNS["swiglu"],)), {
        "rope_fraction": 0.75, "rope_scaling": S.RopeScaling(
            kind="longrope", factor=8.0, original_context=4, attention_factor=1.2,
            short_factors=(1.0, 1.2, 1.5, 2.0, 2.6, 3.3), long_factors=(1.0, 1.9, 3.5, 6.0, 9.8, 15.0))}),
    "dynamic_ntk": (S.Layer((ATTENTION["gqa_bias"],), (FFNS["swiglu"],)), {
        "rope_scaling": S.RopeScaling(kind="dynamic", factor=2.0, original_context=4)}),
    # Llama 3.2 Vision's cross-attention layer: 6 image tokens, QK norms, tanh gates on both sublayers
    "mllama_cross": (S.Layer((S.CrossAttention(heads=4, kv_heads=2, head_dim=16, image_tokens=6, qk_norm="head",
                                               gated=True),), (FFNS["swiglu"],)), {}),
}


def randomize(module: torch.nn.Module) -> None:
    """Random values also in the parameters initialised to constants (norms, sinks, biases)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1 and not name.endswith(("A_log", "dt_bias")):
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in module.named_buffers():
            if name.endswith("score_bias"):
                b.copy_(0.05 * torch.randn(b.shape, generator=g))


def assert_blocks_run(spec, backends=("torch", "onnxruntime")):
    """Every block of ``spec`` and the head build and run, prefill and decode, through ``backends``
    on the CPU, within 1e-4 of the float64 reference. Returns the profile and its results by
    (block, phase, backend)."""
    from kernels.profiler import HEAD_BLOCK, ProfileRequest, profile
    result = profile(ProfileRequest(spec, backends=backends, context=32, repeats=1, warmup=0, threads=1))
    assert result.status == "ok", result.messages
    blocks = {(b.block, b.phase, b.backend): b for b in result.blocks}
    assert {name for name, _, _ in blocks} == set(spec.blocks) | {HEAD_BLOCK}
    assert all(b.status == "ok" for b in result.blocks), [(b.block, b.phase, b.backend, b.message)
                                                           for b in result.blocks if b.status != "ok"]
    for key, b in blocks.items():
        if b.block != HEAD_BLOCK:
            assert b.rel_error is not None and b.rel_error < 1e-4, (key, b.rel_error)
    return result, blocks


def triton_step_of(spec, block: str, pos: int = 12, batch: int = 2) -> tuple[set, float]:
    """``triton_decode_step_error`` of a float32 copy of ``block`` at ``pos`` on fresh inputs (the
    layer's residual width, its per-layer input where the spec has one); skips without a GPU or
    Triton's interpreter."""
    pytest.importorskip("triton")
    from kernels.blocks import build_layer
    from kernels.triton_ops import interpreting
    if not (interpreting() or torch.cuda.is_available()):
        pytest.skip("Triton kernels need a GPU or TRITON_INTERPRET=1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    layer = build_layer(spec, spec.blocks[block], torch.float32, device).eval()
    x = torch.randn(batch, 1, spec.residual_width, device=device)
    ple = torch.randn(batch, 1, spec.per_layer_input, device=device) if spec.per_layer_input else None
    return triton_decode_step_error(layer, x, layer.new_state(batch, pos + 1), pos, ple)


def triton_decode_step_error(layer, x, states, pos: int, per_layer=None) -> tuple[set, float]:
    """The profiler's Triton backend patched into ``layer`` for one decode step and undone: (the
    kernels it used, the step's relative error against the torch step). Each step starts from its
    own copy of ``states``: a recurrent layer's step advances its state in place."""
    import copy

    from kernels.backends import patch_triton
    undo = []

    def setter(obj, attr, value):
        undo.append((obj, attr))
        object.__setattr__(obj, attr, value)
    with torch.no_grad():
        ref = layer.step(x, copy.deepcopy(states), pos, per_layer)
        used = patch_triton(layer, "decode", setter, None)
        out = layer.step(x, copy.deepcopy(states), pos, per_layer)
        for obj, attr in undo:
            obj.__dict__.pop(attr, None)
    return set(used), ((out - ref).norm() / ref.norm()).item()


def assert_cuda_profile(spec):
    """Every block of ``spec`` through torch, SDPA, Triton and ONNX Runtime on the GPU, ok (or
    skipped with its reason) and within 2e-2 of the float64 reference; returns the result."""
    from kernels.profiler import HEAD_BLOCK, ProfileRequest, profile
    result = profile(ProfileRequest(spec, device="cuda", backends=("torch", "sdpa", "triton", "onnxruntime"),
                                    context=256, repeats=3, warmup=1))
    assert result.status == "ok", result.messages
    for b in result.blocks:
        assert b.status in ("ok", "skipped"), (b.block, b.phase, b.backend, b.message)
        if b.status == "ok" and b.block != HEAD_BLOCK:
            assert b.rel_error is not None and b.rel_error < 2e-2, (b.block, b.phase, b.backend, b.rel_error)
    return result
