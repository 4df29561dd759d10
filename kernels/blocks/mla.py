"""Multi-head latent attention (DeepSeek-V2/V3, Kimi K2, Kimi Linear's global layers).

Keys and values come from one shared latent c_kv (kv_lora_rank) plus one shared RoPE key k_pe
(qk_rope_dim) per token; only those two are cached: (r + dr) numbers per token instead of
2 * H * hd.

- prefill (naive): expand the latent with W_UK / W_UV (kv_b_proj) into per-head keys and values
  and run ordinary attention.
- decode (absorbed): never expand the cache. Fold W_UK into the query (q_nope @ W_UK -> a query in
  latent space), attend over the latent cache directly, and apply W_UV to the latent output.

Shape letters: B batch, S tokens, T cache slots, D hidden, H heads, dn qk_nope_dim, dr qk_rope_dim,
dv v_head_dim, r kv_lora_rank, rq q_lora_rank.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .attention import RMSNorm, Rotary, allowed, detached_key_positions, ring_positions, wide


class MLA(nn.Module):
    """FLOPs per token (2 per MAC): q: 2*D*rq + 2*rq*H*(dn+dr) (or 2*D*H*(dn+dr)); kv_a: 2*D*(r+dr);
    o: 2*H*dv*D. Prefill (naive) adds 2*r*H*(dn+dv) per token for kv_b and 2*H*(dn+dr+dv) per
    visible key; absorbed decode instead pays 2*H*dn*r + 2*H*r*dv per token and 2*H*(2r+dr) per
    cached key (scores over the latent and its rope key, values are the latent)."""

    def __init__(self, cfg: S.MLA, hidden: int, *, position: str = "rope", rope_theta: float = 10000.0,
                 eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        H, dn, dr, dv, r = cfg.heads, cfg.qk_nope_dim, cfg.qk_rope_dim, cfg.v_head_dim, cfg.kv_lora_rank
        self.H, self.dn, self.dr, self.dv, self.r = H, dn, dr, dv, r
        self.kind, self.window = cfg.kind, cfg.window
        self.scale = (dn + dr) ** -0.5
        if cfg.q_lora_rank:
            self.q_a_proj = nn.Linear(hidden, cfg.q_lora_rank, bias=cfg.bias)      # D -> rq
            self.q_a_layernorm = RMSNorm(cfg.q_lora_rank, eps)
            self.q_b_proj = nn.Linear(cfg.q_lora_rank, H * (dn + dr), bias=False)  # rq -> H*(dn+dr)
        else:
            self.q_proj = nn.Linear(hidden, H * (dn + dr), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(hidden, r + dr, bias=cfg.bias)         # D -> r + dr
        self.kv_a_layernorm = RMSNorm(r, eps)
        self.kv_b_proj = nn.Linear(r, H * (dn + dv), bias=False)                   # W_UK and W_UV
        self.o_proj = nn.Linear(H * dv, hidden, bias=cfg.bias)
        self.rotary = Rotary(dr if (cfg.rope and position == "rope") else 0, rope_theta)

    def _q(self, x: torch.Tensor, positions: torch.Tensor):
        B, L, _ = x.shape
        if self.cfg.q_lora_rank:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        else:
            q = self.q_proj(x)
        q = q.view(B, L, self.H, self.dn + self.dr).transpose(1, 2)          # [B, H, L, dn+dr]
        q_nope, q_pe = q.split([self.dn, self.dr], dim=-1)
        return q_nope, self.rotary(q_pe, positions)

    def _latent(self, x: torch.Tensor, positions: torch.Tensor):
        """x [B, L, D] -> c_kv [B, L, r] (normed latent), k_pe [B, L, dr] (rotated, shared by heads)."""
        c, k_pe = self.kv_a_proj_with_mqa(x).split([self.r, self.dr], dim=-1)
        k_pe = self.rotary(k_pe[:, None], positions)[:, 0]
        return self.kv_a_layernorm(c), k_pe

    def _w_uk_uv(self):
        w = self.kv_b_proj.weight.view(self.H, self.dn + self.dv, self.r)     # [H, dn+dv, r]
        return w[:, : self.dn], w[:, self.dn:]                               # W_UK [H, dn, r], W_UV [H, dv, r]

    # ---- prefill: naive (expanded) attention
    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        B, L, _ = x.shape
        positions = torch.arange(L, device=x.device)
        q_nope, q_pe = self._q(x, positions)
        c, k_pe = self._latent(x, positions)
        if state is not None:
            T = state["c"].shape[1]
            keep = min(T, L)
            slots = torch.remainder(torch.arange(L - keep, L, device=x.device), T)
            state["c"].index_copy_(1, slots, c[:, L - keep:])
            state["k_pe"].index_copy_(1, slots, k_pe[:, L - keep:])
        kv = self.kv_b_proj(c).view(B, L, self.H, self.dn + self.dv).transpose(1, 2)
        k_nope, v = kv.split([self.dn, self.dv], dim=-1)                     # [B, H, L, dn], [B, H, L, dv]
        q = torch.cat((q_nope, q_pe), -1)                                    # [B, H, L, dn+dr]
        k = torch.cat((k_nope, k_pe[:, None].expand(B, self.H, L, self.dr)), -1)
        mask = allowed(positions, positions, self.kind, self.window)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)  # [B, H, L, dv]
        return self.o_proj(o.transpose(1, 2).reshape(B, L, self.H * self.dv))

    # ---- decode: absorbed attention over the latent cache
    def cache_slots(self, max_len: int) -> int:
        return max_len if self.kind == "full" else min(self.window, max_len)

    def new_state(self, batch: int, max_len: int) -> dict:
        """Latent cache: c [B, T, r] and k_pe [B, T, dr]."""
        p = self.o_proj.weight
        T = self.cache_slots(max_len)
        return {"c": torch.zeros(batch, T, self.r, dtype=p.dtype, device=p.device),
                "k_pe": torch.zeros(batch, T, self.dr, dtype=p.dtype, device=p.device)}

    def _decode_query(self, x: torch.Tensor, pos: int):
        """The new token at ``pos``: q_lat [B, H, r] (W_UK absorbed), q_pe [B, H, dr] and its
        latent rows c [B, 1, r], k_pe [B, 1, dr]."""
        positions = torch.arange(pos, pos + 1, device=x.device)   # no host copy: graph-capturable
        q_nope, q_pe = self._q(x, positions)                                 # [B, H, 1, dn], [B, H, 1, dr]
        c, k_pe = self._latent(x, positions)                                 # [B, 1, r], [B, 1, dr]
        w_uk, _ = self._w_uk_uv()
        q_lat = torch.einsum("bhd,hdr->bhr", q_nope[:, :, 0], w_uk)          # absorb W_UK: [B, H, r]
        return positions, q_lat, q_pe[:, :, 0], c, k_pe

    def _decode_out(self, o_lat: torch.Tensor) -> torch.Tensor:
        """Latent output [B, H, r] -> W_UV -> o_proj -> [B, 1, D]."""
        o = torch.einsum("bhr,hvr->bhv", o_lat, self._w_uk_uv()[1])          # [B, H, dv]
        return self.o_proj(o.reshape(o.shape[0], 1, self.H * self.dv))

    def step(self, x: torch.Tensor, state: dict, pos: int) -> torch.Tensor:
        positions, q_lat, q_pe, c, k_pe = self._decode_query(x, pos)
        T = state["c"].shape[1]
        state["c"][:, pos % T] = c[:, 0]
        state["k_pe"][:, pos % T] = k_pe[:, 0]
        n = min(pos + 1, T)
        cache_c, cache_pe = state["c"][:, :n], state["k_pe"][:, :n]          # [B, n, r], [B, n, dr]
        scores = wide(torch.einsum("bhr,bnr->bhn", q_lat, cache_c)
                      + torch.einsum("bhd,bnd->bhn", q_pe, cache_pe)) * self.scale
        ok = allowed(positions, ring_positions(pos, T, x.device)[:n], self.kind, self.window)  # [1, n]
        probs = scores.masked_fill(~ok, float("-inf")).softmax(-1).to(x.dtype)  # [B, H, n]
        return self._decode_out(torch.einsum("bhn,bnr->bhr", probs, cache_c))  # attend over the latent

    def step_detached(self, x: torch.Tensor, state: dict, pos: int) -> tuple[torch.Tensor, dict]:
        """``step`` as a pure function (the ONNX export of the decode step): reads the latent cache,
        never writes or copies it. Returns (y, {"c": [B, 1, r], "k_pe": [B, 1, dr]}), the new
        token's rows for slot ``pos % T``."""
        positions, q_lat, q_pe, c, k_pe = self._decode_query(x, pos)
        T = state["c"].shape[1]

        def score(cc, pe):                                                   # [B, H, n]
            return q_lat @ cc.transpose(-1, -2) + q_pe @ pe.transpose(-1, -2)
        scores = wide(torch.cat((score(state["c"], state["k_pe"]), score(c, k_pe)), -1)) * self.scale
        ok = allowed(positions, detached_key_positions(pos, T, x.device), self.kind, self.window)
        probs = scores.masked_fill(~ok, float("-inf")).softmax(-1).to(x.dtype)  # [B, H, T+1]
        o_lat = probs[..., :T] @ state["c"] + probs[..., T:] * c             # [B, H, r]
        return self._decode_out(o_lat), {"c": c, "k_pe": k_pe}
