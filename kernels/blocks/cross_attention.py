"""Cross-attention to an image (Flamingo; Llama 3.2 Vision's MllamaTextCrossAttention).

    k, v = k_norm(k_proj(image)), v_proj(image)     # [B, KV, M, hd]: once per image, then cached
    q = q_norm(q_proj(x))                           # [B, H, S, hd]
    y = o_proj(softmax(q k^T / sqrt(hd)) v)         # every text token sees all M image tokens
    y = tanh(attn_gate) * y                         # gated: Flamingo's tanh gate

The layer's FFN output is gated the same way by ``ffn_gate`` (applied by DecoderLayer, which owns
the FFN). The state holds the image's features and their keys and values: a prefill projects the
features and writes K and V, a decode step only reads them (``read_only_state``).

Shape letters: B batch, S text tokens, M image tokens, D hidden, H query heads, KV key/value
heads, hd head_dim.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .attention import RMSNorm, wide

# The gates start at zero in training (the language model unchanged); a profiled layer starts them
# here so that its output, and so the numerical check, depends on the attention and the FFN.
GATE_INIT = 0.5
IMAGE_SEED = 0


class CrossAttention(nn.Module):
    """FLOPs per text token: 2*D*2*H*hd (q, o) + 2*H*2*hd*M (scores and values over M image
    tokens); per image, once: 2*D*2*KV*hd*M (k, v). models.cost._cross_attention_ops."""

    read_only_state = True          # a decode step reads the image's K/V and writes nothing

    def __init__(self, cfg: S.CrossAttention, hidden: int, eps: float = 1e-6, impl: str = "sdpa"):
        super().__init__()
        self.cfg, self.impl = cfg, impl
        self.H, self.KV, self.hd, self.M = cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.image_tokens
        self.hidden = hidden
        self.q_proj = nn.Linear(hidden, self.H * self.hd, bias=False)
        self.k_proj = nn.Linear(hidden, self.KV * self.hd, bias=False)
        self.v_proj = nn.Linear(hidden, self.KV * self.hd, bias=False)
        self.o_proj = nn.Linear(self.H * self.hd, hidden, bias=False)
        if cfg.qk_norm == "head":
            self.q_norm, self.k_norm = RMSNorm(self.hd, eps), RMSNorm(self.hd, eps)
        if cfg.gated:
            self.attn_gate = nn.Parameter(torch.full((1,), GATE_INIT))
            self.ffn_gate = nn.Parameter(torch.full((1,), GATE_INIT))

    def new_state(self, batch: int, max_len: int = 0) -> dict:
        """An image in the context: "image" [B, M, D], a stand-in for the vision encoder's projected
        features (a fixed-seed Gaussian, the same in any dtype), and its keys and values "k", "v"
        [B, KV, M, hd], so that a decode step may follow at once. A prefill projects the image again
        (as a prompt that brings the image does); to use real features, write them into "image"
        before it."""
        p = self.o_proj.weight
        g = torch.Generator(device=p.device).manual_seed(IMAGE_SEED)
        image = torch.randn(batch, self.M, self.hidden, generator=g, device=p.device).to(p.dtype)
        with torch.no_grad():
            k, v = self._image_kv(image)
        return {"image": image, "k": k.contiguous(), "v": v.contiguous()}

    def _image_kv(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image [B, M, D] -> k, v [B, KV, M, hd]."""
        B, M, _ = image.shape
        k = self.k_proj(image).view(B, M, self.KV, self.hd).transpose(1, 2)
        v = self.v_proj(image).view(B, M, self.KV, self.hd).transpose(1, 2)
        return (self.k_norm(k) if hasattr(self, "k_norm") else k), v

    def _attend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """x [B, S, D] against k, v [B, KV, M, hd] -> [B, S, D]."""
        B, S_, _ = x.shape
        q = self.q_proj(x).view(B, S_, self.H, self.hd).transpose(1, 2)        # [B, H, S, hd]
        if hasattr(self, "q_norm"):
            q = self.q_norm(q)
        o = self._core(q, k, v)                                                # [B, H, S, hd]
        y = self.o_proj(o.transpose(1, 2).reshape(B, S_, self.H * self.hd))
        return y * torch.tanh(self.attn_gate).to(y.dtype) if hasattr(self, "attn_gate") else y

    def _core(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q [B, H, S, hd] over k, v [B, KV, M, hd] -> [B, H, S, hd], every key visible (the
        profiler's Triton backend puts its decode attention kernel here for one token)."""
        G = self.H // self.KV
        k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)    # [B, H, M, hd]
        scale = self.hd ** -0.5
        if self.impl == "sdpa":
            return F.scaled_dot_product_attention(q, k, v, scale=scale)        # no mask: all M keys
        return (wide(q @ k.transpose(-1, -2)) * scale).softmax(-1).to(v.dtype) @ v   # eager: [B, H, S, M] scores

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """Prefill: x [B, S, D] -> [B, S, D]; projects the state's image to K and V and keeps them
        (without a state, new_state's stand-in image)."""
        if state is None:                   # no state given: the stand-in image of new_state
            state = self.new_state(x.shape[0])
        k, v = self._image_kv(state["image"])
        if "k" in state:                    # (an exported prefill graph takes the image alone)
            state["k"].copy_(k)
            state["v"].copy_(v)
        return self._attend(x, k, v)

    def step(self, x: torch.Tensor, state: dict, pos: int = 0) -> torch.Tensor:
        """One token: x [B, 1, D] -> [B, 1, D] against the cached image K/V."""
        return self._attend(x, state["k"], state["v"])

    def step_detached(self, x: torch.Tensor, state: dict, pos: int = 0) -> tuple[torch.Tensor, dict]:
        return self.step(x, state, pos), {}

    def ffn_scale(self) -> torch.Tensor | None:
        """tanh(ffn_gate), by which the layer's FFN output is multiplied (None: not gated)."""
        return torch.tanh(self.ffn_gate) if hasattr(self, "ffn_gate") else None
