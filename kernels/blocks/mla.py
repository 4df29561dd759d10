"""Multi-head latent attention (DeepSeek-V2/V3, Kimi K2, Kimi Linear's global layers).

Keys and values come from one shared latent c_kv (kv_lora_rank) plus one shared RoPE key k_pe
(qk_rope_dim) per token; only those two are cached: (r + dr) numbers per token instead of
2 * H * hd.

- prefill (naive): expand the latent with W_UK / W_UV (kv_b_proj) into per-head keys and values
  and run ordinary attention.
- decode (absorbed): never expand the cache. Fold W_UK into the query (q_nope @ W_UK -> a query in
  latent space), attend over the latent cache directly, and apply W_UV to the latent output.
- DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): a lightning ``Indexer`` scores every earlier
  token and each query attends to its ``index_topk`` best only: a mask in prefill, gathered latent
  rows in decode. The indexer caches one small key per token beside the latent.

Shape letters: B batch, S tokens, T cache slots, D hidden, H heads, dn qk_nope_dim, dr qk_rope_dim,
dv v_head_dim, r kv_lora_rank, rq q_lora_rank, Hi index heads, di index_head_dim.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .attention import RMSNorm, Rotary, allowed, detached_key_positions, ring_positions, temperature, wide


class QuerySide(NamedTuple):
    """What the query projection gives beside the query: the normed query latent [B, L, rq] (DSA's
    indexer reads it) and A.X K2's output gate [B, L, H, dv]; either None where the layer has none."""
    latent: torch.Tensor | None
    gate: torch.Tensor | None


def gather_rows(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """t [B, T, c], idx [B, k] -> the rows idx of each sequence, [B, k, c]."""
    return t.gather(1, idx[..., None].expand(-1, -1, t.shape[-1]))


class Indexer(nn.Module):
    """DeepSeek Sparse Attention's lightning indexer (DeepSeek-V3.2-Exp report, sec. 2.1): the score
    of key s for query t is I[t, s] = sum_h w[t, h] ReLU(q[t, h] . k[s]) over Hi small heads and one
    shared key per token; the attention keeps the top ``index_topk`` keys of each query.

    FLOPs per token: 2*rq*Hi*di (wq_b, from MLA's query latent) + 2*D*di (wk) + 2*D*Hi (weights);
    per (query, key) pair: 2*Hi*(di+1). DeepSeek rotates q and k by a Hadamard transform and scores
    in fp8; the transform keeps dot products and fp8 only rounds, so this is the plain form.
    """

    HEADS_AT_ONCE = 16   # prefill scores a few heads at a time: [B, Hi, S, T] would be the layer's largest

    def __init__(self, cfg: S.MLA, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.heads, self.head_dim, self.topk = cfg.index_heads, cfg.index_head_dim, cfg.index_topk
        self.scale = self.head_dim ** -0.5
        self.wq_b = nn.Linear(cfg.q_lora_rank, self.heads * self.head_dim, bias=False)  # rq -> Hi*di
        self.wk = nn.Linear(hidden, self.head_dim, bias=False)                          # D -> di
        self.k_norm = nn.LayerNorm(self.head_dim, eps=eps)
        self.weights_proj = nn.Linear(hidden, self.heads, bias=False)                   # D -> Hi

    def keys(self, x: torch.Tensor, positions: torch.Tensor, rotary: nn.Module) -> torch.Tensor:
        """x [B, L, D] -> the tokens' index keys [B, L, di] (what the index cache holds)."""
        return rotary(self.k_norm(self.wk(x))[:, None], positions)[:, 0]

    def scores(self, x: torch.Tensor, q_latent: torch.Tensor, positions: torch.Tensor,
               keys: torch.Tensor, rotary: nn.Module) -> torch.Tensor:
        """Index scores [B, L, T] (fp32) of the L queries of x against keys [B, T, di]."""
        B, L, _ = x.shape
        q = self.wq_b(q_latent).view(B, L, self.heads, self.head_dim).transpose(1, 2)  # [B, Hi, L, di]
        q = rotary(q, positions).float()
        w = self.weights_proj(x).float() * self.heads ** -0.5                         # [B, L, Hi]
        k_t = keys.float().transpose(-1, -2)[:, None]                                  # [B, 1, di, T]
        step = self.heads if L == 1 else self.HEADS_AT_ONCE
        total = None
        for h in range(0, self.heads, step):
            part = torch.relu(q[:, h:h + step] @ k_t * self.scale)                     # [B, h, L, T]
            part = torch.einsum("blh,bhlt->blt", w[..., h:h + step], part)
            total = part if total is None else total + part
        return total

    def select(self, scores: torch.Tensor, ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k keys per query among those ``ok`` allows: (indices [B, L, k], whether each pick is
        allowed [B, L, k]; false only where fewer than k keys are)."""
        scores = scores.masked_fill(~ok, float("-inf"))
        top = scores.topk(min(self.topk, scores.shape[-1]), dim=-1)
        return top.indices, top.values > float("-inf")


# The epsilon of MLA's latent norms and DSA's key LayerNorm whatever the model's own: transformers
# builds them with 1e-6 in every MLA type we import, also where rms_norm_eps differs (MiniCPM3's 1e-5)
MLA_NORM_EPS = 1e-6


class MLA(nn.Module):
    """FLOPs per token (2 per MAC): q: 2*D*rq + 2*rq*H*(dn+dr) (or 2*D*H*(dn+dr)); kv_a: 2*D*(r+dr);
    o: 2*H*dv*D. Prefill (naive) adds 2*r*H*(dn+dv) per token for kv_b and 2*H*(dn+dr+dv) per
    visible key; absorbed decode instead pays 2*H*dn*r + 2*H*r*dv per token and 2*H*(2r+dr) per
    cached key (scores over the latent and its rope key, values are the latent). With DSA the
    per-key terms count only each query's index_topk keys, and the ``Indexer`` adds its own."""

    def __init__(self, cfg: S.MLA, hidden: int, *, position: str = "rope", rope_theta: float = 10000.0,
                 rope_interleaved: bool = False, rope_scaling: S.RopeScaling | None = None,
                 rope_reversed: bool = False):
        super().__init__()
        self.cfg = cfg
        H, dn, dr, dv, r = cfg.heads, cfg.qk_nope_dim, cfg.qk_rope_dim, cfg.v_head_dim, cfg.kv_lora_rank
        self.H, self.dn, self.dr, self.dv, self.r = H, dn, dr, dv, r
        self.kind, self.window = cfg.kind, cfg.window
        self.scale = cfg.score_scale                          # (dn + dr)^-1/2 unless YaRN rescales it
        if cfg.q_lora_rank:
            self.q_a_proj = nn.Linear(hidden, cfg.q_lora_rank, bias=cfg.bias)      # D -> rq
            self.q_a_layernorm = RMSNorm(cfg.q_lora_rank, MLA_NORM_EPS)
            if cfg.q_gate:              # A.X K2: [norm(q latent), q latent] -> H*(dn+dr+dv)
                self.q_gate_proj = nn.Linear(2 * cfg.q_lora_rank, H * (dn + dr + dv), bias=False)
            else:
                self.q_b_proj = nn.Linear(cfg.q_lora_rank, H * (dn + dr), bias=False)  # rq -> H*(dn+dr)
        else:
            self.q_proj = nn.Linear(hidden, H * (dn + dr), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(hidden, r + dr, bias=cfg.bias)         # D -> r + dr
        self.kv_a_layernorm = RMSNorm(r, MLA_NORM_EPS)
        self.kv_b_proj = nn.Linear(r, H * (dn + dv), bias=False)                   # W_UK and W_UV
        self.o_proj = nn.Linear(H * dv, hidden, bias=cfg.bias)
        if cfg.head_gate != "none":     # Ling 3.0: a gate per head on the output, before o_proj
            self.g_proj = nn.Linear(hidden, H, bias=False)
        rd = dr if (cfg.rope and position == "rope") else 0
        self.rotary = Rotary(rd, rope_theta, rope_interleaved, rope_scaling, rope_reversed)
        self.indexer = Indexer(cfg, hidden, MLA_NORM_EPS) if cfg.sparse else None
        # the DSA indexer turns its first dr dims as the MLA does, or halves where MLA turns pairs
        # (DeepSeek-V3.2)
        self.index_rotary = Rotary(rd, rope_theta, False, rope_scaling) \
            if cfg.sparse and cfg.index_rope_halves and rope_interleaved else self.rotary

    def _q(self, x: torch.Tensor, positions: torch.Tensor):
        """-> q_nope [B, H, L, dn], q_pe [B, H, L, dr] (rotated), and beside them a QuerySide: the
        query latent [B, L, rq] (None without q_lora_rank; DSA's indexer reads it) and A.X K2's
        output gate [B, L, H, dv] (None without one)."""
        B, L, _ = x.shape
        gate = None
        if self.cfg.q_gate:
            raw = self.q_a_proj(x)
            q_latent = self.q_a_layernorm(raw)
            q, gate = self.q_gate_proj(torch.cat((q_latent, raw), -1)).view(B, L, self.H, -1) \
                .split([self.dn + self.dr, self.dv], dim=-1)                 # [B, L, H, dn+dr], [B, L, H, dv]
        elif self.cfg.q_lora_rank:
            q_latent = self.q_a_layernorm(self.q_a_proj(x))
            q = self.q_b_proj(q_latent)
        else:
            q_latent, q = None, self.q_proj(x)
        q = q.reshape(B, L, self.H, self.dn + self.dr).transpose(1, 2)       # [B, H, L, dn+dr]
        q_nope, q_pe = q.split([self.dn, self.dr], dim=-1)
        # Mistral 4's temperature scales the whole query (W_UK then absorbs the scaled q_nope)
        return temperature(q_nope, positions, self.cfg), temperature(self.rotary(q_pe, positions), positions,
                                                                     self.cfg), QuerySide(q_latent, gate)

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
        q_nope, q_pe, side = self._q(x, positions)
        c, k_pe = self._latent(x, positions)
        rows = {"c": c, "k_pe": k_pe}
        mask = allowed(positions, positions, self.kind, self.window)         # [L, L]
        if self.indexer is not None:
            rows["k_idx"] = self.indexer.keys(x, positions, self.index_rotary)     # [B, L, di]
            scores = self.indexer.scores(x, side.latent, positions, rows["k_idx"], self.index_rotary)
            picked, valid = self.indexer.select(scores, mask)                # [B, L, k]
            mask = torch.zeros(B, L, L, dtype=torch.bool, device=x.device).scatter_(-1, picked, valid)[:, None]
        if state is not None:
            T = state["c"].shape[1]
            keep = min(T, L)
            slots = torch.remainder(torch.arange(L - keep, L, device=x.device), T)
            for name, row in rows.items():
                state[name].index_copy_(1, slots, row[:, L - keep:])
        kv = self.kv_b_proj(c).view(B, L, self.H, self.dn + self.dv).transpose(1, 2)
        k_nope, v = kv.split([self.dn, self.dv], dim=-1)                     # [B, H, L, dn], [B, H, L, dv]
        q = torch.cat((q_nope, q_pe), -1)                                    # [B, H, L, dn+dr]
        k = torch.cat((k_nope, k_pe[:, None].expand(B, self.H, L, self.dr)), -1)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)  # [B, H, L, dv]
        return self.o_proj(self._gated(o.transpose(1, 2), x, side).reshape(B, L, self.H * self.dv))

    # ---- decode: absorbed attention over the latent cache
    def cache_slots(self, max_len: int) -> int:
        return max_len if self.kind == "full" else min(self.window, max_len)

    def new_state(self, batch: int, max_len: int) -> dict:
        """Latent cache: c [B, T, r] and k_pe [B, T, dr]; with DSA the index keys k_idx [B, T, di]."""
        p = self.o_proj.weight
        T = self.cache_slots(max_len)
        widths = {"c": self.r, "k_pe": self.dr}
        if self.indexer is not None:
            widths["k_idx"] = self.indexer.head_dim
        return {name: torch.zeros(batch, T, w, dtype=p.dtype, device=p.device) for name, w in widths.items()}

    def _decode_query(self, x: torch.Tensor, pos: int):
        """The new token at ``pos``: positions [1], q_lat [B, H, r] (W_UK absorbed), q_pe [B, H, dr],
        its cache rows {"c": [B, 1, r], "k_pe": [B, 1, dr] (, "k_idx": [B, 1, di])} and its
        QuerySide (the query latent, the output gate)."""
        positions = torch.arange(pos, pos + 1, device=x.device)   # no host copy: graph-capturable
        q_nope, q_pe, side = self._q(x, positions)                           # [B, H, 1, dn], [B, H, 1, dr]
        c, k_pe = self._latent(x, positions)                                 # [B, 1, r], [B, 1, dr]
        rows = {"c": c, "k_pe": k_pe}
        if self.indexer is not None:
            rows["k_idx"] = self.indexer.keys(x, positions, self.index_rotary)
        w_uk, _ = self._w_uk_uv()
        q_lat = torch.einsum("bhd,hdr->bhr", q_nope[:, :, 0], w_uk)          # absorb W_UK: [B, H, r]
        return positions, q_lat, q_pe[:, :, 0], rows, side

    def store_step(self, state: dict, rows: dict, pos: int) -> int:
        """Write the new token's rows into slot ``pos % T``; returns the slots now written."""
        T = state["c"].shape[1]
        for name, row in rows.items():
            state[name][:, pos % T] = row[:, 0]
        return min(pos + 1, T)

    def read_step(self, x: torch.Tensor, q_latent, state: dict, pos: int, n: int):
        """The latent rows the token at ``pos`` attends to: the first n slots, or with DSA the
        indexer's top-k of them, gathered (c [B, k, r], k_pe [B, k, dr])."""
        c, k_pe = state["c"][:, :n], state["k_pe"][:, :n]
        if self.indexer is None:
            return c, k_pe
        positions = torch.arange(pos, pos + 1, device=x.device)
        scores = self.indexer.scores(x, q_latent, positions, state["k_idx"][:, :n], self.index_rotary)[:, 0]
        picked = scores.topk(min(self.indexer.topk, n), dim=-1).indices      # [B, k]: all n are earlier tokens
        return gather_rows(c, picked), gather_rows(k_pe, picked)

    def _gated(self, o: torch.Tensor, x: torch.Tensor, side: "QuerySide") -> torch.Tensor:
        """o [B, L, H, dv] times each head's gate from x [B, L, D] (Ling 3.0), or times A.X K2's
        gate per output channel from the query projection (sigmoid in float32, as transformers)."""
        if side.gate is not None:
            o = (wide(o) * torch.sigmoid(wide(side.gate))).to(o.dtype)
        if self.cfg.head_gate == "none":
            return o
        g = wide(self.g_proj(x))
        g = torch.sigmoid(g) if self.cfg.head_gate == "sigmoid" else F.softplus(g)
        return o * g.to(o.dtype)[..., None]

    def _decode_out(self, o_lat: torch.Tensor, x: torch.Tensor, side: "QuerySide") -> torch.Tensor:
        """Latent output [B, H, r] of the token x [B, 1, D] -> W_UV -> its gate -> o_proj -> [B, 1, D]."""
        o = torch.einsum("bhr,hvr->bhv", o_lat, self._w_uk_uv()[1])          # [B, H, dv]
        return self.o_proj(self._gated(o[:, None], x, side).reshape(o.shape[0], 1, self.H * self.dv))

    def step(self, x: torch.Tensor, state: dict, pos: int) -> torch.Tensor:
        positions, q_lat, q_pe, rows, side = self._decode_query(x, pos)
        n = self.store_step(state, rows, pos)
        cache_c, cache_pe = self.read_step(x, side.latent, state, pos, n)    # [B, n, r], [B, n, dr]
        scores = wide(torch.einsum("bhr,bnr->bhn", q_lat, cache_c)
                      + torch.einsum("bhd,bnd->bhn", q_pe, cache_pe)) * self.scale
        if self.indexer is None:       # (DSA's gathered rows are all earlier tokens of a full layer)
            ring = ring_positions(pos, state["c"].shape[1], x.device)[:n]
            scores = scores.masked_fill(~allowed(positions, ring, self.kind, self.window), float("-inf"))
        probs = scores.softmax(-1).to(x.dtype)                               # [B, H, n]
        return self._decode_out(torch.einsum("bhn,bnr->bhr", probs, cache_c), x, side)  # over the latent

    def step_detached(self, x: torch.Tensor, state: dict, pos: int) -> tuple[torch.Tensor, dict]:
        """``step`` as a pure function (the ONNX export of the decode step): reads the latent cache,
        never writes or copies it. Returns (y, {"c": [B, 1, r], "k_pe": [B, 1, dr] (, "k_idx":
        [B, 1, di])}), the new token's rows for slot ``pos % T``."""
        positions, q_lat, q_pe, rows, side = self._decode_query(x, pos)
        c, k_pe = rows["c"], rows["k_pe"]
        T = state["c"].shape[1]
        ok = allowed(positions, detached_key_positions(pos, T, x.device), self.kind, self.window)  # [1, T+1]
        if self.indexer is not None:
            # DSA: the top-k of the cache and the new token, gathered; a pick is masked only where
            # fewer than k tokens exist yet
            keys = torch.cat((state["k_idx"], rows["k_idx"]), 1)            # [B, T+1, di]
            scores = self.indexer.scores(x, side.latent, positions, keys, self.index_rotary)[:, 0]
            picked, valid = self.indexer.select(scores, ok)                  # [B, k]
            cand_c = gather_rows(torch.cat((state["c"], c), 1), picked)      # [B, k, r]
            cand_pe = gather_rows(torch.cat((state["k_pe"], k_pe), 1), picked)
            att = wide(q_lat @ cand_c.transpose(-1, -2) + q_pe @ cand_pe.transpose(-1, -2)) * self.scale
            probs = att.masked_fill(~valid[:, None], float("-inf")).softmax(-1).to(x.dtype)  # [B, H, k]
            return self._decode_out(probs @ cand_c, x, side), rows

        def score(cc, pe):                                                   # [B, H, n]
            return q_lat @ cc.transpose(-1, -2) + q_pe @ pe.transpose(-1, -2)
        scores = wide(torch.cat((score(state["c"], state["k_pe"]), score(c, k_pe)), -1)) * self.scale
        probs = scores.masked_fill(~ok, float("-inf")).softmax(-1).to(x.dtype)  # [B, H, T+1]
        o_lat = probs[..., :T] @ state["c"] + probs[..., T:] * c             # [B, H, r]
        return self._decode_out(o_lat, x, side), rows
