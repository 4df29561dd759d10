"""Our recurrent mixers compute what transformers' mixers compute: the same float64 weights, the
same inputs, transformers' torch path (tests/layer_reference.py ``mixer_error``). Mamba-2 in five
model types (with the clamps of its step size), Mamba-1 in three (Falcon-Mamba's weightless dt/B/C
norms included), Gated DeltaNet in three (OLMo hybrid's with beta doubled), Kimi Delta Attention,
MiniMax's lightning attention (its decay slowing with depth), LFM2's short convolution, and Ling
3.0's Kimi Delta Attention with full-rank, bounded gates.

Where transformers stores the same matrices in another layout, the test moves our rows rather than
the block: Qwen3-Next groups the rows of q, k, v and z (and of b and a) by key head, Qwen3.5 keeps
four projections, OLMo hybrid one per input, MiniMax groups q, k and v by head, Kimi Linear and
Ling nest their forget gate and convolve q, k and v as one.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hf_reference import default_config  # noqa: E402
from layer_reference import mixer_error  # noqa: E402

SMALL = dict(num_hidden_layers=1, hidden_size=64, vocab_size=128, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=96)
MAMBA2 = dict(mamba_n_heads=4, mamba_d_head=32, mamba_d_state=16, mamba_n_groups=2, mamba_chunk_size=4)
MAMBA1 = dict(state_size=8, expand=2, intermediate_size=128)
# Gated DeltaNet: 2 key heads of 16, 4 value heads of 8
GDN = dict(linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=8,
           head_dim=16, layer_types=["linear_attention"])
HK, HV, DK, DV = 2, 4, 16, 8


def _qwen3_next_rows(w: dict) -> dict:
    """Our [q | k | v | z] and [b | a] rows as Qwen3-Next stores them: per key head, its q, k, v
    and z rows (v and z of the value heads it serves), then its b and a rows."""
    q, k, v, z = w["in_proj_qkvz.weight"].split([HK * DK, HK * DK, HV * DV, HV * DV])
    b, a = w["in_proj_ba.weight"].split([HV, HV])

    def per_head(*parts):
        return torch.cat([t.unflatten(0, (HK, -1)) for t in parts], 1).flatten(0, 1)
    return {**w, "in_proj_qkvz.weight": per_head(q, k, v, z), "in_proj_ba.weight": per_head(b, a)}


def _olmo_hybrid_projections(w: dict) -> dict:
    """Our fused projections as OLMo hybrid's one per input, and its norm and output names."""
    w = dict(w)
    q, k, v, z = w.pop("in_proj_qkvz.weight").split([HK * DK, HK * DK, HV * DV, HV * DV])
    b, a = w.pop("in_proj_ba.weight").split([HV, HV])
    norm, out = w.pop("norm.weight"), w.pop("out_proj.weight")
    return {**w, "q_proj.weight": q, "k_proj.weight": k, "v_proj.weight": v, "g_proj.weight": z, "b_proj.weight": b,
            "a_proj.weight": a, "o_norm.weight": norm, "o_proj.weight": out}


MINIMAX = dict(head_dim=16, num_key_value_heads=4, num_local_experts=2, num_experts_per_tok=1,
               layer_types=["linear_attention"], block_size=4, rms_norm_eps=1e-6)


def _minimax_rows(w: dict) -> dict:
    """Our [q | k | v] rows of qkv_proj as MiniMax stores them: per head, its q, k and v rows."""
    q, k, v = w["qkv_proj.weight"].chunk(3)
    return {**w, "qkv_proj.weight": torch.cat([t.unflatten(0, (4, -1)) for t in (q, k, v)], 1).flatten(0, 1)}


def _kimi_delta_names(w: dict) -> dict:
    """Our KDA weights as transformers nests them: one conv over q, k and v, the forget gate's
    projections, bias and decay rates (A_log shaped [1, 1, heads, 1]) under forget_gate."""
    w = dict(w)
    w["conv1d.weight"] = torch.cat([w.pop(f"{n}_conv1d.weight") for n in "qkv"])
    for name in ("dt_bias", "A_log", "f_a_proj.weight", "f_b_proj.weight"):
        w[f"forget_gate.{name}"] = w.pop(name)
    w["forget_gate.A_log"] = w["forget_gate.A_log"].view(1, 1, -1, 1)
    return w


def _ling_kda_names(w: dict) -> dict:
    """Ling 3.0's KDA as transformers nests it: one conv over q, k and v, the forget gate's
    projection, bias and decay rates (A_log per head) under forget_gate."""
    w = dict(w)
    w["conv1d.weight"] = torch.cat([w.pop(f"{n}_conv1d.weight") for n in "qkv"])
    for name in ("dt_bias", "A_log", "f_proj.weight"):
        w[f"forget_gate.{name}"] = w.pop(name)
    return w


def _qwen3_5_projections(w: dict) -> dict:
    """Our fused projections as Qwen3.5's four: in_proj_qkv, in_proj_z, in_proj_b, in_proj_a."""
    w = dict(w)
    qkv, z = w.pop("in_proj_qkvz.weight").split([2 * HK * DK + HV * DV, HV * DV])
    b, a = w.pop("in_proj_ba.weight").split([HV, HV])
    return {**w, "in_proj_qkv.weight": qkv, "in_proj_z.weight": z, "in_proj_b.weight": b, "in_proj_a.weight": a}


CASES = {
    # Mamba-2: its own model (its step clamped by time_step_limit here), and beside attention in
    # Nemotron-H (clamped from time_step_min up, whatever its limit: 0.01 here, so it bites), Bamba,
    # Falcon-H1, Granite 4
    "mamba2": ("mixer", dict(num_heads=4, head_dim=32, state_size=16, n_groups=2, expand=2, chunk_size=4,
                             time_step_limit=(0.05, 1.5)), None),
    "nemotron_h": ("mixer", dict(num_hidden_layers=2, hybrid_override_pattern="M*", mamba_num_heads=4,
                                 mamba_head_dim=32, ssm_state_size=16, n_groups=2, head_dim=16, chunk_size=4,
                                 time_step_min=0.01), None),
    "bamba": ("mamba", dict(MAMBA2, attn_layer_indices=[]), None),
    "falcon_h1": ("mamba", dict(MAMBA2, mamba_d_ssm=128), None),
    "granitemoehybrid": ("mamba", dict(MAMBA2, shared_intermediate_size=96, num_local_experts=0,
                                       layer_types=["mamba"]), None),
    # Mamba-1: its own model, Falcon-Mamba (weightless norms on dt, B, C), Jamba (weighted ones)
    "mamba": ("mixer", MAMBA1, None),
    "falcon_mamba": ("mixer", MAMBA1, None),
    "jamba": ("mamba", dict(mamba_d_state=8, mamba_expand=2, attn_layer_period=2, attn_layer_offset=1,
                            expert_layer_period=2, expert_layer_offset=1, num_experts=2), None),
    # Gated DeltaNet in three layouts
    "qwen3_next": ("linear_attn", dict(GDN, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                                       shared_expert_intermediate_size=32), _qwen3_next_rows),
    "qwen3_5_text": ("linear_attn", GDN, _qwen3_5_projections),
    # beta doubled (allow_neg_eigval); its output norm's eps is fixed at 1e-5, here the layers' too
    "olmo_hybrid": ("linear_attn", dict(GDN, num_hidden_layers=2, layer_types=["linear_attention", "full_attention"],
                                        rms_norm_eps=1e-5), _olmo_hybrid_projections),
    # Kimi Linear's Kimi Delta Attention: 4 heads of 16
    "kimi_linear": ("self_attn", dict(num_key_value_heads=4, head_dim=16, layer_types=["linear_attention"],
                                      mlp_layer_types=["dense"], linear_attn_config={
                                          "head_dim": 16, "num_heads": 4, "short_conv_kernel_size": 4}),
                    _kimi_delta_names),
    # Ling 3.0 (bailing_hybrid): KDA with full-rank forget and output gates, its forget gate
    # bounded at -5 (kda_safe_gate); 4 heads of 16
    "bailing_hybrid": ("self_attn", dict(head_dim=16, linear_head_dim=16, linear_num_heads=4, num_key_value_heads=4,
                                         layer_types=["linear_attention"], mlp_layer_types=["dense"]),
                       _ling_kda_names),
    # MiniMax's lightning attention in its first layer, its decay slopes ALiBi's times 1 + 1e-5
    "minimax": ("self_attn", MINIMAX, _minimax_rows),
    # LFM2's gated short convolution
    "lfm2": ("conv", dict(layer_types=["conv"], block_auto_adjust_ff_dim=False), None),
}


MINIMAX_CALL = {"position_embeddings": None, "attention_mask": None}


@pytest.mark.parametrize("model_type", list(CASES))
def test_a_recurrent_mixer_equals_transformers_mixer(model_type):
    attr, changes, convert = CASES[model_type]
    call = MINIMAX_CALL if model_type == "minimax" else None
    error, name = mixer_error(default_config(model_type, **{**SMALL, **changes}), attr, convert=convert, call=call,
                              eps_name="layer_norm_epsilon" if model_type == "nemotron_h" else "rms_norm_eps")
    assert error < 1e-6, (name, error)          # (transformers runs parts of its scans in float32)


@pytest.mark.parametrize("layer", [1, 3])
def test_minimax_decay_slows_with_depth_as_in_transformers(layer):
    """Layer l of L decays with ALiBi's slopes times 1 - l / (L - 1) + 1e-5: at the last layer
    hardly at all. With the first layer's slopes everywhere the last is 90% off here."""
    cfg = default_config("minimax", **{**SMALL, **MINIMAX, "num_hidden_layers": 4,
                                       "layer_types": ["linear_attention"] * 4})
    error, name = mixer_error(cfg, "self_attn", convert=_minimax_rows, call=MINIMAX_CALL, layer=layer)
    assert error < 1e-6, (name, error)
