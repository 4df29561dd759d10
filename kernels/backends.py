"""Switching a decoder layer (kernels.blocks) between the profiler's backends, in place and
reversibly: torch eager attention, SDPA, and the project's Triton kernels on the modules they
apply to (decode attention, MLA decode, the grouped MoE GEMM, RMSNorm, the INT4 GEMM).

torch is imported inside the functions: importing this module is free.
"""
from __future__ import annotations

from collections.abc import Callable


def syncs_host(layer) -> bool:
    """Whether some module of ``layer`` (as switched now) waits on the host inside its forward."""
    return any(getattr(m, "syncs_host", False) for m in layer.modules())


class switched_to:
    """Context manager that switches a DecoderLayer to a backend: "torch" (eager attention), "sdpa",
    or "triton" (SDPA plus the project's kernels on the modules they apply to; ``weights="int4"``
    also routes the linears through the INT4 GEMM). ``__enter__`` returns whether anything was
    switched (for triton); ``result``, when given, is told which kernels ran (``kernels``,
    ``message``). Leaving restores the layer exactly."""

    def __init__(self, layer, backend: str, phase: str, weights: str | None = None, result=None,
                 bounded_scores: bool = False):
        self.layer, self.backend, self.phase, self.weights, self.r = layer, backend, phase, weights, result
        # attention that must write its scores out does so a block of queries at a time
        self.bounded_scores = bounded_scores
        self.undo: list[Callable[[], None]] = []

    def _set(self, obj, attr, value):
        had = attr in obj.__dict__
        old = obj.__dict__.get(attr)
        object.__setattr__(obj, attr, value)
        if had:
            self.undo.append(lambda: obj.__dict__.__setitem__(attr, old))
        else:
            self.undo.append(lambda: obj.__dict__.pop(attr, None))

    def __enter__(self) -> bool:
        from kernels.blocks import Attention, CrossAttention
        used: list[str] = []
        for m in self.layer.modules():
            if isinstance(m, CrossAttention):     # eager scores, or SDPA (no Triton kernel of its own)
                self._set(m, "impl", "eager" if self.backend == "torch" else "sdpa")
            elif isinstance(m, Attention):
                if self.backend == "torch":
                    self._set(m, "impl", "eager")
                elif self.backend in ("sdpa", "triton"):
                    self._set(m, "impl", "sdpa")
                    if not m.needs_scores:     # triton: its kernels over this SDPA path
                        self._set(m, "_attend", sdpa_attend(m))
                    elif self.bounded_scores:
                        self._set(m, "_attend", query_blocked(m._attend))
        if self.backend == "triton":
            used = patch_triton(self.layer, self.phase, self._set, self.weights)
            if self.r is not None:
                self.r.kernels = tuple(used)
                if used:
                    self.r.message = "; ".join(x for x in ("Triton: " + ", ".join(used) + "; torch for the rest",
                                                           self.r.message) if x)
        return bool(used) if self.backend == "triton" else True

    def __exit__(self, *exc):
        for f in reversed(self.undo):
            f()
        return False


SCORE_BUDGET = 2 ** 30        # bytes of fp32 scores, mask and probabilities per block of queries


def query_blocked(attend, budget: float = SCORE_BUDGET):
    """``attend`` over blocks of queries small enough that each block's scores, mask and
    probabilities (12 bytes a score) stay under ``budget``: the same numbers as one call, in
    bounded memory (Gemma 2 27B's soft-capped scores at B=8 and 8K tokens would be 206 GB)."""
    import torch

    def blocked(q, k, v, q_pos, k_pos, sdpa):
        B, H, Sq, _ = q.shape
        rows = max(1, int(budget // (B * H * k.shape[2] * 12)))
        if rows >= Sq:
            return attend(q, k, v, q_pos, k_pos, sdpa)
        return torch.cat([attend(q[:, :, i:i + rows], k, v, q_pos[i:i + rows], k_pos, sdpa)
                          for i in range(0, Sq, rows)], dim=2)
    return blocked


def sdpa_attend(m):
    """``m._attend`` through ``F.scaled_dot_product_attention``. A decode step reads each KV head
    once: the G query heads of a group attend as G query rows of their KV head. A causal prefill
    passes ``enable_gqa`` (torch >= 2.5); a masked one (sliding, chunked) repeats the KV heads, as
    only the flash kernel takes ``enable_gqa`` and a mask sends it to the math kernel, which holds
    the whole score matrix (transformers' use_gqa_in_sdpa draws the same line)."""
    import torch
    import torch.nn.functional as F

    from kernels.blocks.attention import allowed

    gqa_flag = tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 5)

    def attend(q, k, v, q_pos, k_pos, sdpa):
        B, H, Sq, hd = q.shape
        G = H // m.KV
        mask = None
        if not (m.kind == "full" and (Sq == 1 or Sq == k.shape[2])):    # full decode: every key visible
            mask = allowed(q_pos, k_pos, m.kind, m.window)               # [Sq, Sk]
        if Sq == 1 and G > 1:               # decode: [B, KV, G, hd] rows against [B, KV, T, hd]
            o = F.scaled_dot_product_attention(q.reshape(B, m.KV, G, hd), k, v, attn_mask=mask, scale=m.scale)
            return o.reshape(B, H, 1, v.shape[-1])
        causal = mask is None and Sq > 1
        if gqa_flag and mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=m.scale, enable_gqa=G > 1)
        k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=m.scale)
    return attend


def patch_triton(layer, phase: str, setter, weights: str | None) -> list[str]:
    """Route the layer's modules through the project's Triton kernels where one applies."""
    import torch
    import torch.nn as nn

    from kernels.blocks import MLA, Attention, CrossAttention, MoE, RMSNorm
    used: list[str] = []
    for m in layer.modules():
        if isinstance(m, RMSNorm) and (m.weight is None or m.weight.dim() == 1):
            # (a weight per head, Cohere's QK-norm, stays on torch: the kernel takes one vector)
            from kernels.triton_ops.rmsnorm import rms_norm

            def norm_fwd(x, m=m):
                weight = m.weight
                if weight is None:                  # nanochat's weightless norms: a vector of ones
                    weight = torch.ones(x.shape[-1], dtype=x.dtype, device=x.device)
                return rms_norm(x.contiguous(), weight, m.eps)
            setter(m, "forward", norm_fwd)
            if "rms_norm" not in used:
                used.append("rms_norm")
        elif isinstance(m, Attention) and phase == "decode" and m.kind != "chunked" \
                and not (m.cfg.sinks or m.alibi or m.cfg.differential) and m.hd == m.vd \
                and not (m.kv_shared and m.kind != "full"):    # the kernel reads a ring as the window
            from kernels.triton_ops.decode_attention import decode_attention
            orig = m._attend

            def attend(q, k, v, q_pos, k_pos, sdpa, m=m, orig=orig):
                if q.shape[2] != 1:
                    return orig(q, k, v, q_pos, k_pos, sdpa)
                B, n = q.shape[0], k.shape[2]
                lens = torch.full((B,), n, dtype=torch.int32, device=q.device)
                o = decode_attention(q[:, :, 0].contiguous(), k, v, lens, scale=m.scale, softcap=m.cfg.softcap)
                return o[:, :, None]
            setter(m, "_attend", attend)
            if "decode_attention" not in used:
                used.append("decode_attention")
        elif isinstance(m, CrossAttention) and phase == "decode":
            setter(m, "_core", cross_triton_core(m))
            if "decode_attention" not in used:
                used.append("decode_attention")
        elif isinstance(m, MLA) and phase == "decode" and m.kind != "chunked":
            setter(m, "step", mla_triton_step(m))
            if "mla_decode" not in used:
                used.append("mla_decode")
        elif isinstance(m, MoE) and m.cfg.gated and m.cfg.activation == "silu" and not m.Z \
                and not m.cfg.expert_bias and m.scoring in ("softmax", "sigmoid"):
            setter(m, "forward", moe_triton_forward(m))
            setter(m, "syncs_host", False)
            if "moe" not in used:
                used.append("moe")
    if weights == "int4":
        from kernels.triton_ops.int4_gemm import int4_matmul, quantize_int4
        for m in layer.modules():
            if isinstance(m, nn.Linear) and m.in_features % 128 == 0 and m.out_features >= 64:
                qw = quantize_int4(m.weight.detach().t().contiguous(), 128)

                def lin(x, m=m, qw=qw):
                    y = int4_matmul(x, qw)
                    return y + m.bias if m.bias is not None else y
                setter(m, "forward", lin)
                if "int4_gemm" not in used:
                    used.append("int4_gemm")
    return used


def cross_triton_core(m):
    """A cross-attention layer's decode step through the decode attention kernel: one query per
    sequence over all the image's cached keys (lengths M, no window)."""
    import torch

    from kernels.triton_ops.decode_attention import decode_attention
    orig = m._core

    def core(q, k, v):
        if q.shape[2] != 1:
            return orig(q, k, v)
        lens = torch.full((q.shape[0],), k.shape[2], dtype=torch.int32, device=q.device)
        return decode_attention(q[:, :, 0].contiguous(), k, v, lens, scale=m.hd ** -0.5)[:, :, None]
    return core


def mla_triton_step(m):
    import torch

    from kernels.triton_ops.mla_decode import mla_decode

    def step(x, state, pos):
        _, q_lat, q_pe, rows, side = m._decode_query(x, pos)
        n = m.store_step(state, rows, pos)
        c, k_pe = m.read_step(x, side.latent, state, pos, n)   # with DSA: the top-k rows, gathered
        lens = torch.full((x.shape[0],), c.shape[1], dtype=torch.int32, device=x.device)
        o_lat = mla_decode(q_lat.contiguous(), q_pe.contiguous(), c, k_pe, lens, m.scale)
        return m._decode_out(o_lat, x, side)
    return step


def moe_triton_forward(m):
    from kernels.triton_ops.moe import moe_ffn, route

    def forward(x):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).contiguous()
        if m.cfg.router_score_bias or m.cfg.expert_groups:
            # DeepSeek-V3: top-k of score + bias within the best expert groups, weights from the
            # unbiased scores. The module's own torch routing (a few small ops, no host sync,
            # graph-capturable); the experts, where the bytes are, go through the grouped kernel.
            w, ids = m.route(x2)
            w, ids = w.float().contiguous(), ids.int().contiguous()
        else:
            logits = m.router(x2).float()
            w, ids = route(logits, m.k, scoring=m.scoring, renormalize=m.renormalize)
            if m.cfg.routed_scale != 1.0:
                w = w * m.cfg.routed_scale
        out = moe_ffn(x2, m.w_gate, m.w_up, m.w_down, w, ids)
        return m.add_shared(x2, out).reshape(shape)
    return forward
