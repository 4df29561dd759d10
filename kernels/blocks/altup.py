"""Gemma 3n's additions around a decoder layer: AltUp and LAuReL.

AltUp (Baykal et al., "Alternating Updates for Efficient Transformers", NeurIPS 2023) keeps N
copies ("streams") of the hidden state. A layer runs on stream 0 only; before it, every stream is
predicted as a mix of all of them, and after it, each is corrected by how far the layer moved
stream 0. The mixing weights come from a tiny router on the stream:

    m = tanh(router(norm(x0) / D))                                  [B, L, N]
    predict:  s_j' = s_j + sum_i P(m)[j, i] s_i                     P: N -> N x N
    correct:  s_j'' = s_j' + (C(m')[j] + 1) (y - s_0')              C: N -> N, m' from the output y

FLOPs per token: 2 (2 D N + N^3 + D N^2 + N^2). Shapes: streams [B, L, N, D].

LAuReL (Menghani et al., "LAuReL: Learned Augmented Residual Layer", 2024) adds a rank-r path
beside the attention, h + norm(right(left(h))) on its normed input h, averaged (1 / sqrt 2) with
the attention's residual. FLOPs per token: 2 * 2 D r.

Module names follow transformers' Gemma3nTextAltUp and Gemma3nTextLaurelBlock.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class AltUp(nn.Module):
    def __init__(self, hidden: int, streams: int, norm: nn.Module):
        super().__init__()
        self.streams, self.hidden = streams, hidden
        self.modality_router = nn.Linear(hidden, streams, bias=False)
        self.router_norm = norm
        self.prediction_coefs = nn.Linear(streams, streams * streams, bias=False)
        self.correction_coefs = nn.Linear(streams, streams, bias=False)
        # transformers starts it at zero (trained weights set it); one keeps a fresh block's
        # per-layer input path alive for profiling and its error checks
        self.correct_output_scale = nn.Parameter(torch.ones(hidden))

    def _modalities(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, L, D] -> [B, L, N]"""
        return torch.tanh(self.modality_router(self.router_norm(x) / self.hidden))

    def predict(self, streams: torch.Tensor) -> torch.Tensor:
        """streams [B, L, N, D] -> predictions [B, L, N, D]"""
        n = self.streams
        coefs = self.prediction_coefs(self._modalities(streams[..., 0, :])).unflatten(-1, (n, n))
        return streams + coefs @ streams                          # [B, L, N, N] @ [B, L, N, D]

    def correct(self, predictions: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """predictions [B, L, N, D], the layer's output on stream 0 [B, L, D] -> [B, L, N, D]"""
        gain = self.correction_coefs(self._modalities(output)) + 1.0            # [B, L, N]
        return predictions + gain.unsqueeze(-1) * (output - predictions[..., 0, :]).unsqueeze(-2)

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        """The corrected stream 0 as the per-layer input path reads it."""
        return x * self.correct_output_scale


class Laurel(nn.Module):
    def __init__(self, hidden: int, rank: int, norm: nn.Module):
        super().__init__()
        self.linear_left = nn.Linear(hidden, rank, bias=False)
        self.linear_right = nn.Linear(rank, hidden, bias=False)
        self.post_laurel_norm = norm

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h [B, L, D] (the attention's normed input) -> [B, L, D]"""
        return h + self.post_laurel_norm(self.linear_right(self.linear_left(h)))
