"""Gated short convolution (Liquid AI's LFM2): the token mixer of LFM2's non-attention layers.

    B, C, x = in_proj(h).chunk(3)         # [B, L, c] each
    y = out_proj(C * conv(B * x))         # depthwise causal conv over time, K taps

No attention and no recurrence: a token sees the K - 1 tokens before it, so the only state a
sequence carries is the conv's last K - 1 inputs [B, c, K-1].

Shape letters: B batch, L tokens, D hidden, c channels (LFM2: c = D), K kernel taps.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from models import spec as S

from .ssm import causal_conv, conv_step, depthwise_conv, step_on_copy


class ShortConv(nn.Module):
    """FLOPs per token: 2*D*3c (in_proj) + 2*c*K (conv) + 2*c*D (out_proj); the two gating
    products are elementwise."""

    def __init__(self, cfg: S.ShortConv, hidden: int):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.in_proj = nn.Linear(hidden, 3 * c, bias=cfg.bias)          # D -> B, C, x
        self.conv = depthwise_conv(c, cfg.kernel, cfg.bias)              # c*K (+c)
        self.out_proj = nn.Linear(c, hidden, bias=cfg.bias)

    def new_state(self, batch: int, max_len: int = 0) -> dict:
        """The conv window: the last K-1 gated inputs, [B, c, K-1]."""
        p = self.out_proj.weight
        return {"conv": torch.zeros(batch, self.cfg.channels, self.cfg.kernel - 1, dtype=p.dtype,
                                    device=p.device)}

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """Prefill: x [B, L, D] -> [B, L, D]; leaves the conv window in ``state``."""
        b, c, u = self.in_proj(x).chunk(3, dim=-1)                       # [B, L, c] each
        window = state["conv"] if state is not None else None
        return self.out_proj(c * causal_conv(self.conv, b * u, window))

    def step(self, x: torch.Tensor, state: dict, pos: int = 0) -> torch.Tensor:
        """One token: x [B, 1, D] -> [B, 1, D]; shifts the window in place."""
        b, c, u = self.in_proj(x[:, 0]).chunk(3, dim=-1)                 # [B, c] each
        return self.out_proj(c * conv_step(self.conv, b * u, state["conv"]))[:, None]

    step_detached = step_on_copy
