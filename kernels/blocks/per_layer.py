"""Gemma 3n/4's per-layer input ("PLE"), the part inside each decoder layer.

At the model's input every token gets ``per_layer_input`` channels for each layer (a table lookup
plus a projection of its embedding, done once for all layers: the profiler times them with the LM
head). Each layer then adds its slice to the residual stream:

    x = x + norm(proj(act(gate(x)) * per_layer_input))        gate: D -> p, proj: p -> D

FLOPs per token: 2 * 2 * D * p. Shapes: x [B, L, D], per_layer_input [B, L, p].
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .ffn import activate

# Gemma's hidden_activation drives both its MLP and this gate; activations with parameters or
# clamps of their own (xIELU, gpt-oss's SwiGLU) fall back to Gemma's default
_PLAIN = ("silu", "relu", "gelu", "gelu_tanh", "relu2")


class PerLayerInput(nn.Module):
    def __init__(self, hidden: int, width: int, norm: nn.Module, activation: str = "gelu_tanh"):
        super().__init__()
        self.gate = nn.Linear(hidden, width, bias=False)         # per_layer_input_gate
        self.proj = nn.Linear(width, hidden, bias=False)         # per_layer_projection
        self.norm = norm                                          # post_per_layer_input_norm
        self.activation = activation if activation in _PLAIN else "gelu_tanh"

    def term(self, x: torch.Tensor, per_layer_input: torch.Tensor) -> torch.Tensor:
        """x [B, L, D], per_layer_input [B, L, p] -> the layer's per-layer term [B, L, D]."""
        h = activate(self.gate(x), None, self.activation) * per_layer_input
        return self.norm(self.proj(h))

    def forward(self, x: torch.Tensor, per_layer_input: torch.Tensor) -> torch.Tensor:
        return x + self.term(x, per_layer_input)
