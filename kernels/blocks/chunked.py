"""Chunked form of the decayed (delta-rule) linear recurrence shared by Gated DeltaNet, Lightning
attention and Mamba-2's SSD: a whole prefill in L/64 steps of matrix products instead of L steps of
rank-1 updates, with the result of the token loop (to rounding).

Shape letters: B batch, L tokens, H heads, C chunk length, dk key (Mamba-2: state) dim, dv value
(Mamba-2: head) dim.
"""
from __future__ import annotations

import torch

CHUNK = 64                  # tokens per step with one decay per head
CHUNK_PER_CHANNEL = 16      # with one per key channel: each step holds C x C x dk decay ratios


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


def chunked_delta_rule(S_: torch.Tensor, q, k, v, log_decay, beta=None, chunk: int | None = None) -> torch.Tensor:
    """The (gated) delta rule over a whole sequence, chunk by chunk; equal to ``delta_rule_step``
    (or ``linear_step`` when ``beta`` is None) applied token by token.

    q, k [B, L, H, dk]; v [B, L, H, dv]; log_decay (log of the decay, <= 0): [B, L, H] for one decay per
    head (Gated DeltaNet, Lightning, Mamba-2) or [B, L, H, dk] for one per key channel (Kimi's KDA);
    beta [B, L, H]. S_ [B, H, dk, dv] fp32 is the state entering, updated in place. Returns o [B, L, H, dv].

    In a chunk of C tokens with cumulative log decay G_t and g_t = exp(G_t) (a diagonal over the key
    channels in the per-channel case), the state after token t is
    S_t = g_t S_0 + sum_{j<=t} (g_t/g_j) k_j u_j^T. The new values u_t = beta_t (v_t - k_t^T a_t S_{t-1})
    solve (I + A) U = beta V - beta (g K) S_0 with A_tj = beta_t (k_t * g_t/g_j).k_j for j < t
    (Yang et al., "Gated Delta Networks", 2024, the WY form). Then
    O = (g Q) S_0 + ((q_t * g_t/g_j).k_j, j <= t) U and S_C = g_C S_0 + (K * g_C/g)^T U.
    FLOPs per chunk and head: about 2C^2(2dk + dv) + 4C dk dv + the C x C inverse. The per-channel
    case holds the C x C x dk decay ratios, hence its shorter chunks (16).
    """
    per_channel = log_decay.dim() == 4
    chunk = chunk or (CHUNK_PER_CHANNEL if per_channel else CHUNK)
    L = q.shape[1]
    outs = []
    for c0 in range(0, L, chunk):
        qc, kc, vc, G = (t[:, c0:c0 + chunk].transpose(1, 2) for t in (q, k, v, log_decay))  # [B, H, C, ...]
        G = G.cumsum(2)                                                           # [B, H, C(, dk)]
        C = G.shape[2]
        causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
        if per_channel:
            diff = (G[:, :, :, None] - G[:, :, None]).masked_fill(~causal[..., None], float("-inf"))
            ratio = torch.exp(diff)                                               # [B, H, C, C, dk]
            qk = torch.einsum("bhtc,bhjc,bhtjc->bhtj", qc, kc, ratio)
            kk = torch.einsum("bhtc,bhjc,bhtjc->bhtj", kc, kc, ratio)
            g = torch.exp(G)                                                      # [B, H, C, dk]
            tail = torch.exp(G[:, :, -1:] - G)                                    # g_C / g_j
            g_end = g[:, :, -1, :, None]                                          # [B, H, dk, 1]
        else:
            ratio = torch.exp((G[..., :, None] - G[..., None, :]).masked_fill(~causal, float("-inf")))
            qk = (qc @ kc.transpose(-1, -2)) * ratio                              # [B, H, C, C]
            kk = (kc @ kc.transpose(-1, -2)) * ratio
            g = torch.exp(G)[..., None]                                           # [B, H, C, 1]
            tail = torch.exp(G[..., -1:] - G)[..., None]
            g_end = g[..., -1:, :]                                                # [B, H, 1, 1]
        if beta is None:
            U = vc
        else:
            b = beta[:, c0:c0 + chunk].transpose(1, 2)[..., None]                 # [B, H, C, 1]
            T = unit_lower_inverse((b * kk).tril(-1))
            U = T @ (b * vc) - (T @ (b * g * kc)) @ S_                          # [B, H, C, dv]
        outs.append(((g * qc) @ S_ + qk @ U).transpose(1, 2))
        S_.mul_(g_end).add_((kc * tail).transpose(-1, -2) @ U)
    return torch.cat(outs, 1)
