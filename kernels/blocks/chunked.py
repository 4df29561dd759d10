"""Chunked form of the decayed (delta-rule) linear recurrence shared by Gated DeltaNet, Lightning
attention and Mamba-2's SSD: a whole prefill in L/64 steps of matrix products instead of L steps of
rank-1 updates, with the result of the token loop (to rounding).

Shape letters: B batch, L tokens, H heads, C chunk length, dk key (Mamba-2: state) dim, dv value
(Mamba-2: head) dim.
"""
from __future__ import annotations

import torch

CHUNK = 64


def unit_lower_inverse(A: torch.Tensor) -> torch.Tensor:
    """(I + A)^-1 for strictly lower-triangular A [..., C, C]: A is nilpotent, so the inverse is
    sum_{n<C} (-A)^n = (I - A)(I + A^2)(I + A^4)..., log2(C) squarings (matmuls only, so it exports
    to ONNX, where a triangular solve does not)."""
    C = A.shape[-1]
    P = -A
    T = torch.eye(C, dtype=A.dtype, device=A.device) + P
    n = 2
    while n < C:
        P = P @ P
        T = T + T @ P                                                   # T (I + P^n)
        n *= 2
    return T


def chunked_delta_rule(S_: torch.Tensor, q, k, v, log_decay, beta=None, chunk: int = CHUNK) -> torch.Tensor:
    """The (gated) delta rule over a whole sequence, chunk by chunk; equal to ``delta_rule_step``
    (or ``linear_step`` when ``beta`` is None) applied token by token.

    q, k [B, L, H, dk]; v [B, L, H, dv]; log_decay [B, L, H] (log of the per-head decay, <= 0);
    beta [B, L, H]. S_ [B, H, dk, dv] fp32 is the state entering, updated in place. Returns o [B, L, H, dv].

    In a chunk of C tokens with cumulative log decay G_t and g_t = exp(G_t), the state after token t
    is S_t = g_t S_0 + sum_{j<=t} (g_t/g_j) k_j u_j^T. The new values u_t = beta_t (v_t - k_t^T a_t S_{t-1})
    solve (I + A) U = beta V - beta g K S_0 with A_tj = beta_t (g_t/g_j) k_t.k_j for j < t
    (Yang et al., "Gated Delta Networks", 2024, the WY form). Then
    O = g Q S_0 + (Q K^T * g_t/g_j, j <= t) U and S_C = g_C S_0 + (K * g_C/g)^T U.
    FLOPs per chunk and head: about 2C^2(2dk + dv) + 4C dk dv + the C x C inverse.
    """
    L = q.shape[1]
    outs = []
    for c0 in range(0, L, chunk):
        qc, kc, vc = (t[:, c0:c0 + chunk].transpose(1, 2) for t in (q, k, v))   # [B, H, C, d]
        G = log_decay[:, c0:c0 + chunk].transpose(1, 2).cumsum(-1)              # [B, H, C]
        C = G.shape[-1]
        causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
        ratio = torch.exp((G[..., :, None] - G[..., None, :]).masked_fill(~causal, float("-inf")))
        g = torch.exp(G)[..., None]                                              # [B, H, C, 1]
        if beta is None:
            U = vc
        else:
            b = beta[:, c0:c0 + chunk].transpose(1, 2)[..., None]                 # [B, H, C, 1]
            A = (b * (kc @ kc.transpose(-1, -2)) * ratio).tril(-1)
            T = unit_lower_inverse(A)
            U = T @ (b * vc) - (T @ (b * g * kc)) @ S_                          # [B, H, C, dv]
        outs.append(((g * qc) @ S_ + ((qc @ kc.transpose(-1, -2)) * ratio) @ U).transpose(1, 2))
        tail = torch.exp(G[..., -1:] - G)[..., None]                             # g_C / g_j
        S_.mul_(g[..., -1:, :]).add_((kc * tail).transpose(-1, -2) @ U)
    return torch.cat(outs, 1)
