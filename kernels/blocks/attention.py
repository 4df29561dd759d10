"""Softmax attention from a spec ``Attention``: MHA / GQA / MQA (through ``kv_heads``).

Covers RoPE (full or partial, ``rope_fraction``), NoPE layers, ALiBi, QK-norm (per head, over all
heads, or weightless L2), Qwen3-Next's sigmoid output gate, LFM3's and Laguna's gate per head,
gpt-oss's attention sinks, Gemma 2's soft-capped scores, a score scale other than 1/sqrt(hd), and
full, sliding-window and chunked masks. Prefill runs through ``F.scaled_dot_product_attention`` (or
an eager path that writes the score matrix out, needed for sinks, ALiBi and soft-caps); decode runs one token at a
time against a preallocated KV cache [B, kv, T, hd] that is a ring of ``window`` slots for sliding and
chunked layers.

Also home to the small pieces the other blocks share: RMSNorm, rotary embedding, masks.

Shape letters: B batch, S query tokens, T cache slots, D hidden, H query heads, KV key/value heads,
G = H / KV, hd head dim, vd value head dim.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S


# --------------------------------------------------------------------------- shared pieces

def wide(t: torch.Tensor) -> torch.Tensor:
    """``t`` in the precision softmaxes, norms and recurrences run in: fp32, or fp64 when it already
    is (a float64 copy of a block, the profiler's reference, stays float64 throughout)."""
    return t if t.dtype == torch.float64 else t.float()


def wide_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype ``wide`` gives a tensor of ``dtype`` (recurrent states are kept in it)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w (written out so any ONNX opset exports it)."""

    def __init__(self, dim: int, eps: float = 1e-6, heads: int = 0, affine: bool = True):
        super().__init__()
        self.eps = eps
        # heads > 0: one weight vector per head, for x [B, heads, L, dim]; affine=False: no weights
        self.weight = nn.Parameter(torch.ones(heads, 1, dim) if heads else torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = wide(x)
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y if self.weight is None else y * wide(self.weight)).to(x.dtype)


class HeadLayerNorm(nn.Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * w (+ b) over the last dim, written out as RMSNorm
    is; heads > 0: weights (and biases) per head, for x [B, heads, L, dim]. The QK LayerNorms of
    StableLM, Cohere and Persimmon."""

    def __init__(self, dim: int, eps: float = 1e-5, heads: int = 0, bias: bool = False):
        super().__init__()
        self.eps = eps
        shape = (heads, 1, dim) if heads else (dim,)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = wide(x)
        centred = xf - xf.mean(-1, keepdim=True)
        y = centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps) * wide(self.weight)
        return (y if self.bias is None else y + wide(self.bias)).to(x.dtype)


def qk_norm_module(dim: int, eps: float, *, heads: int = 0, layer: bool = False, bias: bool = False) -> nn.Module:
    """A QK norm of the model's form: LayerNorm where the model normalises with LayerNorms, else
    RMSNorm (a bias only on the former: no RMSNorm type has one)."""
    return HeadLayerNorm(dim, eps, heads, bias) if layer else RMSNorm(dim, eps, heads=heads)


def scaled(x: torch.Tensor, multiplier: float) -> torch.Tensor:
    """x times a scalar (muP's multipliers, Falcon-H1), skipped where it is 1."""
    return x if multiplier == 1.0 else x * multiplier


def temperature(q: torch.Tensor, positions: torch.Tensor, cfg) -> torch.Tensor:
    """q [B, H, L, d] times the query temperature at ``positions`` [L] (Llama 4's NoPE layers,
    Ministral 3, Mistral 4): 1 + t ln(1 + floor((pos + offset) / period)); q itself where off."""
    if not cfg.temperature:
        return q
    steps = torch.floor((positions.to(torch.float64) + cfg.temperature_offset) / cfg.temperature_period)
    return q * (1 + cfg.temperature * torch.log1p(steps)).to(q.dtype)[:, None]                    # [L, 1]


def rms_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm without weights over the last dim (Gemma 3n/4's value norm)."""
    xf = wide(x)
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def l2_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Weightless L2 norm over the last dim (Gated DeltaNet's q and k)."""
    return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps)


class Rotary(nn.Module):
    """Rotary position embedding on the first ``rotary_dim`` dims of each head: dim i turns with
    dim i + rotary_dim/2 (NeoX/Llama "rotate half"), or with ``interleaved`` dim 2i with 2i + 1
    (GPT-J, Cohere, DeepSeek's MLA); ``rotary_dim`` < head_dim is partial RoPE (Phi-2,
    Qwen3-Next), 0 is NoPE."""

    def __init__(self, rotary_dim: int, theta: float = 10000.0, interleaved: bool = False,
                 scaling: S.RopeScaling | None = None, reversed_: bool = False):
        super().__init__()
        self.rotary_dim, self.theta, self.interleaved = rotary_dim, float(theta), interleaved
        self.sign = -1.0 if reversed_ else 1.0     # nanochat turns each pair by -angle
        self.scaling = scaling
        # YaRN scales cos and sin (so q.k by its square); 1 otherwise
        self.attention_factor = (scaling.attention_factor or 1.0) if scaling is not None else 1.0
        # the frequencies by (dtype, device), made on first use rather than kept in a buffer that a
        # cast to bf16 would round: 8 mantissa bits turn position 8,000 by radians too far
        self._inv_freq: dict = {}

    def _frequencies(self, dtype: torch.dtype, device: torch.device, long: bool = False) -> torch.Tensor:
        """The frequencies [rd/2] for a sequence within the trained context (``long``: beyond it,
        for longrope; dynamic NTK's depend on the length itself, ``frequencies_at``)."""
        inv = self._inv_freq.get((dtype, device, long))
        if inv is None:
            rd = self.rotary_dim
            inv = self.theta ** -(torch.arange(0, rd, 2, dtype=dtype, device=device) / rd)
            if self.scaling is not None:
                inv = scaled_frequencies(inv, self.scaling, rd, self.theta, long)
            self._inv_freq[dtype, device, long] = inv
        return inv                                                                              # [rd/2]

    def frequencies_at(self, positions: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The frequencies [rd/2] for a forward over ``positions``, as transformers' dynamic_rope_update
        picks them: longrope's long set once the sequence reaches past original_context, dynamic
        NTK's base grown for the sequence's length S = the last position + 1. Tensor ops on S, no
        host sync: CUDA graphs and the ONNX export keep the choice."""
        s, device = self.scaling, positions.device
        if s is None or not s.length_dependent:
            return self._frequencies(dtype, device)
        reach = positions.max() + 1
        if s.kind == "longrope":
            return torch.where(reach > s.original_context, self._frequencies(dtype, device, long=True),
                               self._frequencies(dtype, device))
        rd = self.rotary_dim
        # dynamic NTK (transformers' _compute_dynamic_ntk_parameters); rd = 2 would divide by zero
        grown = (s.factor * reach.to(dtype) / s.original_context - (s.factor - 1)).clamp(min=1)
        base = self.theta * grown ** (rd / (rd - 2) if rd > 2 else 1.0)
        return base ** -(torch.arange(0, rd, 2, dtype=dtype, device=device) / rd)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x [B, H, S, hd], positions [S] -> x with its first rotary_dim dims rotated."""
        rd = self.rotary_dim
        if rd == 0:
            return x
        wd = wide_dtype(x.dtype)                  # the angles in fp32, fp64 for a float64 block
        freqs = positions.to(wd)[:, None] * self.frequencies_at(positions, wd)[None, :]        # [S, rd/2]
        a = self.attention_factor
        freqs = freqs * self.sign if self.sign != 1.0 else freqs
        if self.interleaved:                      # pairs (2i, 2i + 1) turn by angle i
            cos, sin = (freqs.cos() * a).to(x.dtype), (freqs.sin() * a).to(x.dtype)          # [S, rd/2]
            even, odd, rest = x[..., 0:rd:2], x[..., 1:rd:2], x[..., rd:]
            turned = torch.stack((even * cos - odd * sin, odd * cos + even * sin), -1).flatten(-2)
            return torch.cat((turned, rest), -1)
        cos = (torch.cat((freqs, freqs), -1).cos() * a).to(x.dtype)  # [S, rd]
        sin = (torch.cat((freqs, freqs), -1).sin() * a).to(x.dtype)
        xr, xp = x[..., :rd], x[..., rd:]
        x1, x2 = xr[..., : rd // 2], xr[..., rd // 2:]
        rotated = torch.cat((-x2, x1), -1)
        return torch.cat((xr * cos + rotated * sin, xp), -1)


def scaled_frequencies(inv: torch.Tensor, s: S.RopeScaling, dim: int, theta: float,
                       long: bool = False) -> torch.Tensor:
    """RoPE's frequencies ``inv`` [dim/2] stretched as ``s`` says (S.RopeScaling); ``long``: for a
    sequence past the trained context (longrope's long factors). Dynamic NTK stretches nothing
    within the trained context.

    llama3 (Meta's Llama 3.1 code): wavelength 2 pi / f; above original_context / low_freq_factor
    divided by factor, below original_context / high_freq_factor kept, between a linear blend in
    original_context / wavelength. yarn (Peng et al. 2023, "YaRN", eq. 17-20): pair i turns
    original_context / wavelength times over the trained context; pairs turning fewer than beta_slow
    times take f / factor, more than beta_fast times keep f, a ramp over the dims between."""
    if s.kind == "linear":
        return inv / s.factor
    if s.kind == "longrope":      # one factor per pair (LongRoPE's searched rescale factors)
        return inv / torch.tensor(s.long_factors if long else s.short_factors, dtype=inv.dtype, device=inv.device)
    if s.kind == "dynamic":
        return inv
    if s.kind == "llama3":
        ctx, lo, hi = s.original_context, s.low_freq_factor, s.high_freq_factor
        wavelength = 2 * math.pi / inv
        # between the two wavelengths a blend (Llama 4's low = high = 1 leaves no such band)
        smooth = ((ctx / wavelength - lo) / (hi - lo)).clamp(0, 1) if hi > lo else torch.zeros_like(inv)
        blended = (1 - smooth) * inv / s.factor + smooth * inv
        return torch.where(wavelength > ctx / lo, inv / s.factor, torch.where(wavelength < ctx / hi, inv, blended))

    def ramp_dim(rotations: float) -> float:      # the dim whose pair turns ``rotations`` times
        return dim * math.log(s.original_context / (rotations * 2 * math.pi)) / (2 * math.log(theta))
    low, high = ramp_dim(s.beta_fast), ramp_dim(s.beta_slow)
    if s.truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=inv.dtype, device=inv.device) - low) / (high - low)).clamp(0, 1)
    return inv / s.factor * ramp + inv * (1 - ramp)


def rotary_dim_for(head_dim: int, rope_fraction: float, use_rope: bool) -> int:
    """Rotated dims per head: head_dim * rope_fraction rounded down to an even number."""
    if not use_rope:
        return 0
    return int(head_dim * rope_fraction) // 2 * 2


def allowed(q_pos: torch.Tensor, k_pos: torch.Tensor, kind: str, window: int) -> torch.Tensor:
    """[Sq, Sk] bool: query at q_pos may read key at k_pos (causal; sliding keeps the last
    ``window`` tokens, i - j < window; chunked keeps the keys of the query's own chunk)."""
    qp, kp = q_pos[:, None], k_pos[None, :]
    ok = (kp <= qp) & (kp >= 0)
    if kind == "sliding":
        ok = ok & (qp - kp < window)
    elif kind == "chunked":
        ok = ok & (torch.div(qp, window, rounding_mode="floor") == torch.div(kp, window, rounding_mode="floor"))
    return ok


def alibi_slopes(heads: int) -> torch.Tensor:
    """ALiBi's geometric slopes 2^(-8 i / n) (Press et al. 2022), for any head count."""
    n = 2 ** math.floor(math.log2(heads))
    base = [2 ** (-8.0 * (i + 1) / n) for i in range(n)]
    extra = [2 ** (-4.0 * (2 * i + 1) / n) for i in range(heads - n)]
    return torch.tensor(base + extra, dtype=torch.float32)


def ring_positions(pos: int, slots: int, device) -> torch.Tensor:
    """Token position held by each of ``slots`` ring slots after writing position ``pos``
    (slot s holds the latest p <= pos with p % slots == s; negative: never written)."""
    s = torch.arange(slots, device=device)
    return pos - torch.remainder(pos - s, slots)


def detached_key_positions(pos: int, slots: int, device) -> torch.Tensor:
    """[slots + 1] key positions for a decode step that leaves the cache unwritten (``step_detached``):
    the cache's slots as they stand, then the new token. The slot the new token would overwrite is
    given position -1, which ``allowed`` never lets a query read (it holds pos - slots, or nothing)."""
    k_pos = ring_positions(pos, slots, device)
    k_pos = torch.where(torch.arange(slots, device=device) == pos % slots, -1, k_pos)
    return torch.cat((k_pos, torch.tensor([pos], device=device)))


# --------------------------------------------------------------------------- the block

class Attention(nn.Module):
    """Q/K/V/O projections + RoPE + (sliding/chunked) causal softmax attention.

    FLOPs per token (2 per MAC): projections 2*D*(H*hd*(1+gate) + KV*hd + KV*vd) + 2*H*vd*D;
    scores and values 2*H*(hd + vd) per visible key (min(pos, window) for sliding layers).
    """

    def __init__(self, cfg: S.Attention, hidden: int, *, rope_fraction: float = 1.0,
                 position: str = "rope", rope_theta: float = 10000.0, eps: float = 1e-6,
                 impl: str = "sdpa", rope_interleaved: bool = False, rope_scaling: S.RopeScaling | None = None,
                 norm: str = "rmsnorm", depth: tuple[int, int] = (0, 1), rope_reversed: bool = False):
        super().__init__()
        self.cfg = cfg
        H, KV, hd, vd = cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.vdim
        if cfg.output_gate and vd != hd:
            raise ValueError("an output gate needs v_head_dim == head_dim (one gate per output channel)")
        self.H, self.KV, self.hd, self.vd = H, KV, hd, vd
        self.kind, self.window = cfg.kind, cfg.window
        self.impl = impl
        self.scale = cfg.score_scale
        if cfg.experts:                 # JetMoE: q and o per attention expert, a router
            self._build_experts(hidden)
        else:
            self.q_proj = nn.Linear(hidden, H * hd * (2 if cfg.output_gate else 1), bias=cfg.qkv_bias)
        # Gemma 3n/4 KV sharing: the layer only reads a cache another layer wrote (``new_state``)
        self.kv_shared = self.read_only_state = cfg.kv_shared
        if not cfg.kv_shared:
            self.k_proj = nn.Linear(hidden, KV * hd, bias=cfg.qkv_bias)
        if not (cfg.value_from_key or cfg.kv_shared):   # Gemma 4: values from the key projection
            self.v_proj = nn.Linear(hidden, KV * vd, bias=cfg.qkv_bias)
        if not cfg.experts:
            self.o_proj = nn.Linear(H * vd, hidden, bias=cfg.out_bias)
        qk = dict(layer=norm.startswith("layernorm"), bias=cfg.qk_norm_bias)
        if cfg.qk_norm == "head":       # Qwen3, Gemma 3, Persimmon: over head_dim, shared by heads
            self.q_norm, self.k_norm = qk_norm_module(hd, eps, **qk), qk_norm_module(hd, eps, **qk)
        elif cfg.qk_norm == "per_head":  # Cohere, StableLM: over head_dim, a weight vector per head
            self.q_norm, self.k_norm = qk_norm_module(hd, eps, heads=H, **qk), qk_norm_module(hd, eps, heads=KV, **qk)
        elif cfg.qk_norm == "full":     # OLMo 2: over all heads' channels
            self.q_norm, self.k_norm = qk_norm_module(H * hd, eps, **qk), qk_norm_module(KV * hd, eps, **qk)
        if cfg.kv_shared and cfg.qk_norm in ("head", "per_head", "full"):
            del self.k_norm
        if cfg.sinks:                   # gpt-oss: a learned logit per head in the softmax denominator
            self.sinks = nn.Parameter(torch.zeros(H))
        if cfg.head_gate != "none":     # LFM3, Laguna: a gate per head on the attention output
            self.g_proj = nn.Linear(hidden, H, bias=False)
        if cfg.out_norm:                # BitNet: attn_sub_norm over every head's output
            self.attn_sub_norm = RMSNorm(H * vd, eps)
        if cfg.differential:            # DiffLlama: lambda's four vectors; its offset by depth
            for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
                setattr(self, name, nn.Parameter(torch.zeros(hd)))
            self.lambda_init = 0.8 - 0.6 * math.exp(-0.3 * depth[0])
            self.eps = eps
        fraction = cfg.rope_fraction or rope_fraction              # 0: the model's
        # a layer with a base of its own (Gemma 3's local layers) turns unscaled, as transformers'
        # per-layer-type rope parameters have it
        self.rotary = Rotary(rotary_dim_for(hd, fraction, position == "rope" and cfg.rope),
                             cfg.rope_theta or rope_theta, rope_interleaved,
                             None if cfg.rope_theta else rope_scaling, rope_reversed)
        self.alibi = position == "alibi"
        if self.alibi:
            self.register_buffer("slopes", alibi_slopes(H), persistent=False)

    # ---- a mixture of attention heads (JetMoE)
    def _build_experts(self, hidden: int) -> None:
        """Each of E experts: q [KV*hd, D] and o [D, KV*vd] (JetMoE's [E, out, in] layout); the
        router; one bias after the weighted sum of the chosen experts' outputs."""
        E, KV, hd, vd = self.cfg.experts, self.KV, self.hd, self.vd
        self.router = nn.Linear(hidden, E, bias=False)
        self.q_experts = nn.Parameter(torch.empty(E, KV * hd, hidden).normal_(0.0, hidden ** -0.5))
        self.o_experts = nn.Parameter(torch.empty(E, hidden, KV * vd).normal_(0.0, (KV * vd) ** -0.5))
        if self.cfg.out_bias:
            self.o_bias = nn.Parameter(torch.zeros(hidden))
        # the per-expert loop reads the routing on the host, as the MoE block's does
        self.syncs_host = True

    def _routed(self, x: torch.Tensor, weight: torch.Tensor, ids: torch.Tensor, width: int) -> torch.Tensor:
        """x [N, k, in] through expert ids[n, j]'s matrix ``weight`` [E, out, in] -> [N, k, out]."""
        out = x.new_zeros(*x.shape[:2], width)
        tracing = torch.jit.is_tracing()
        for e in range(self.cfg.experts):
            tok, slot = torch.where(ids == e)                        # the rows routed to expert e
            if tok.numel() == 0 and not tracing:
                continue
            out = out.index_put((tok, slot), x[tok, slot] @ weight[e].T)
        return out

    def _expert_queries(self, x: torch.Tensor):
        """x [B, L, D] -> q [B, L, H*hd] with H = KV*k heads, head h*k + j the j-th chosen
        expert's head h (so GQA's grouping, head i on KV head i // k, pairs each with its KV head),
        and the routing (weights [N, k] from a softmax over the chosen logits, expert ids [N, k])."""
        B, L, D = x.shape
        k, KV, hd = self.cfg.top_k, self.KV, self.hd
        flat = x.reshape(-1, D)
        vals, ids = wide(self.router(flat)).topk(k, dim=-1)
        q = self._routed(flat[:, None].expand(-1, k, D), self.q_experts, ids, KV * hd)     # [N, k, KV*hd]
        q = q.view(-1, k, KV, hd).transpose(1, 2).reshape(B, L, KV * k * hd)
        return q, (vals.softmax(-1), ids)

    def _expert_out(self, o: torch.Tensor, route) -> torch.Tensor:
        """o [B, L, H*vd] (heads h*k + j) -> the chosen experts' o projections, weighted and summed."""
        B, L, _ = o.shape
        k, KV, vd = self.cfg.top_k, self.KV, self.vd
        w, ids = route
        per_slot = o.view(-1, KV, k, vd).transpose(1, 2).reshape(-1, k, KV * vd)          # [N, k, KV*vd]
        y = self._routed(per_slot, self.o_experts, ids, self.o_experts.shape[1])            # [N, k, D]
        y = (y * w[..., None].to(y.dtype)).sum(1).view(B, L, -1)
        return y + self.o_bias if self.cfg.out_bias else y

    # ---- projections shared by prefill and decode
    def _qkv(self, x: torch.Tensor, positions: torch.Tensor):
        """-> q [B, H, L, hd], k [B, KV, L, hd], v [B, KV, L, vd], gate; k and v are None in a
        KV-shared layer; gate [B, L, H*vd] multiplies the attention output (None: no gate)."""
        B, L, _ = x.shape
        H, KV, hd, vd = self.H, self.KV, self.hd, self.vd
        gate = None
        x = scaled(x, self.cfg.in_scale)                             # Falcon-H1's muP multipliers
        if self.cfg.experts:               # JetMoE: the routing rides in ``gate`` to ``_out``
            q, gate = self._expert_queries(x)
        else:
            q = self.q_proj(x)
        if self.cfg.output_gate:                                     # Qwen3-Next: [q_h, gate_h] per head
            q, gate = q.view(B, L, H, 2 * hd).chunk(2, dim=-1)      # [B, L, H, hd] each
            q = q.reshape(B, L, H * hd)
            gate = torch.sigmoid(gate.reshape(B, L, H * hd))
        if self.cfg.head_gate != "none":                             # [B, L, H] -> each head's vd channels
            g = wide(self.g_proj(x))
            g = (torch.sigmoid(g) if self.cfg.head_gate == "sigmoid" else F.softplus(g)).to(x.dtype)
            g = g[..., None].expand(B, L, H, vd).reshape(B, L, H * vd)
            gate = g if gate is None else gate * g
        if self.kv_shared:
            return self._queries(q, positions), None, None, gate
        k = scaled(self.k_proj(x), self.cfg.key_scale)
        v = k if self.cfg.value_from_key else self.v_proj(x)
        if self.cfg.qk_norm == "full":
            k = self.k_norm(k)
        k = k.view(B, L, KV, hd).transpose(1, 2)                    # [B, KV, L, hd]
        v = v.view(B, L, KV, vd).transpose(1, 2)                    # [B, KV, L, vd]
        if self.cfg.qk_norm in ("head", "per_head"):
            k = self.k_norm(k)
        k = self.rotary(k, positions)
        if self.cfg.qk_norm == "l2":                                 # Llama 4, nanochat: after RoPE
            k = rms_normalize(k)
        if self.cfg.v_norm:                                          # Gemma 3n/4: no weights
            v = rms_normalize(v)
        return self._queries(q, positions), k, v, gate

    def _queries(self, q: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """q [B, L, H*hd] -> [B, H, L, hd], QK-normed and rotated."""
        B, L, _ = q.shape
        if self.cfg.qk_norm == "full":
            q = self.q_norm(q)
        q = q.view(B, L, self.H, self.hd).transpose(1, 2)
        if self.cfg.qk_norm in ("head", "per_head"):
            q = self.q_norm(q)
        q = self.rotary(q, positions)
        return temperature(rms_normalize(q) if self.cfg.qk_norm == "l2" else q, positions, self.cfg)

    def _attend(self, q, k, v, q_pos, k_pos, sdpa: bool):
        """q [B, H, Sq, hd], k [B, KV, Sk, hd], v [B, KV, Sk, vd] -> [B, H, Sq, vd]."""
        G = self.H // self.KV
        k = k.repeat_interleave(G, dim=1)                           # [B, H, Sk, hd]
        v = v.repeat_interleave(G, dim=1)
        if sdpa and not self.needs_scores:
            if self.kind == "full":                                  # lets SDPA pick a flash kernel
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
            mask = allowed(q_pos, k_pos, self.kind, self.window)    # [Sq, Sk]
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        # eager: scores [B, H, Sq, Sk] = q k^T * scale   (2*H*hd FLOPs per (query, key) pair)
        scores = wide(q @ k.transpose(-1, -2)) * self.scale
        return self._weights(scores, q_pos, k_pos).to(v.dtype) @ v  # 2*H*vd FLOPs per pair

    @property
    def needs_scores(self) -> bool:
        """Whether the softmax needs the score matrix written out (SDPA takes neither sinks, nor
        ALiBi's slopes, nor a soft-cap)."""
        return bool(self.cfg.sinks or self.alibi or self.cfg.softcap)

    def _weights(self, scores: torch.Tensor, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """Softmax weights [B, H, Sq, Sk] from fp32 scores: the soft-cap, ALiBi, the mask,
        gpt-oss's sinks."""
        if self.cfg.softcap:                # Gemma 2: c * tanh(s / c), before the mask
            scores = torch.tanh(scores / self.cfg.softcap) * self.cfg.softcap
        if self.alibi:
            dist = wide(k_pos[None, :] - q_pos[:, None])        # [Sq, Sk], <= 0 where visible
            scores = scores + self.slopes[:, None, None] * dist
        scores = scores.masked_fill(~allowed(q_pos, k_pos, self.kind, self.window), float("-inf"))
        if not self.cfg.sinks:
            return scores.softmax(-1)
        B, H, Sq, _ = scores.shape
        sink = wide(self.sinks).view(1, H, 1, 1).expand(B, H, Sq, 1)
        return torch.cat((scores, sink), -1).softmax(-1)[..., :-1]  # the sink takes mass, no value

    def _values(self, v: torch.Tensor) -> torch.Tensor:
        """v [B, KV, T, vd] -> what the softmax weights multiply: in differential attention KV head j
        and j + KV/2 side by side, [B, KV, T, 2vd], so that query head h reads the pair of head
        (h // G) mod KV/2 (transformers' two calls over v's halves, in one)."""
        if not self.cfg.differential:
            return v
        half = self.KV // 2
        return torch.cat((v[:, :half], v[:, half:]), -1).repeat(1, 2, 1, 1)

    def _combine(self, o: torch.Tensor) -> torch.Tensor:
        """Differential attention: o [B, H, L, 2vd] -> [B, H/2, L, 2vd], head h minus lambda times
        head h + H/2, RMS-normalised (no weights) and scaled by 1 - lambda_init. Otherwise o."""
        if not self.cfg.differential:
            return o
        w = wide(o)
        lam = (torch.exp((wide(self.lambda_q1) * wide(self.lambda_k1)).sum())
               - torch.exp((wide(self.lambda_q2) * wide(self.lambda_k2)).sum()) + self.lambda_init)
        first, second = w.chunk(2, dim=1)
        return ((1 - self.lambda_init) * rms_normalize(first - lam * second, self.eps)).to(o.dtype)

    def _out(self, o: torch.Tensor, gate) -> torch.Tensor:
        """o [B, H, L, vd] -> [B, L, D]; ``gate``: the output gate, or a mixture's routing."""
        B, H, L, vd = o.shape
        o = o.transpose(1, 2).reshape(B, L, H * vd)
        if self.cfg.experts:
            return self._expert_out(o, gate)
        if gate is not None:
            o = o * gate
        if self.cfg.out_norm:
            o = self.attn_sub_norm(o)
        return scaled(self.o_proj(o), self.cfg.out_scale)

    # ---- prefill
    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """x [B, S, D] -> [B, S, D], causal over the whole prompt; fills ``state`` when given."""
        L = x.shape[1]
        positions = torch.arange(L, device=x.device)
        q, k, v, gate = self._qkv(x, positions)
        if self.kv_shared:                      # the prompt's keys and values, as the sharer cached them
            if state is None:
                raise ValueError("a KV-shared attention layer reads its keys and values from the "
                                 "state another layer filled: pass it")
            k, v = state["k"][:, :, :L], state["v"][:, :, :L]
        elif state is not None:
            self._write_prompt(state, k, v)
        o = self._attend(q, k, self._values(v), positions, positions, sdpa=self.impl == "sdpa")
        return self._out(self._combine(o), gate)

    # ---- decode
    def cache_slots(self, max_len: int) -> int:
        """Full layers keep every position; sliding and chunked ones a ring of ``window`` slots.
        What a KV-shared layer reads is full length (transformers' Gemma 3n/4 keep the shared
        keys and values of every position), its window applied by the mask."""
        return max_len if self.kind == "full" or self.kv_shared else min(self.window, max_len)

    # stands in for the layer whose cache a KV-shared layer reads: the same draws in every copy
    SHARED_KV_SEED = 1234

    def new_state(self, batch: int, max_len: int) -> dict:
        """Preallocated KV cache: k [B, KV, T, hd], v [B, KV, T, vd] (T = cache_slots). A KV-shared
        layer's is the cache it reads, as the layer it shares would have filled it: seeded random
        keys and values, drawn in fp32 so that a float64 copy reads the same numbers."""
        p = self.o_experts if self.cfg.experts else self.o_proj.weight
        T = self.cache_slots(max_len)
        shapes = {"k": (batch, self.KV, T, self.hd), "v": (batch, self.KV, T, self.vd)}
        if not self.kv_shared:
            return {name: torch.zeros(shape, dtype=p.dtype, device=p.device) for name, shape in shapes.items()}
        g = torch.Generator(device=p.device).manual_seed(self.SHARED_KV_SEED)
        return {name: torch.randn(shape, generator=g, device=p.device).to(p.dtype)
                for name, shape in shapes.items()}

    def _write_prompt(self, state: dict, k: torch.Tensor, v: torch.Tensor) -> None:
        T, L = state["k"].shape[2], k.shape[2]
        keep = min(T, L)                                             # a ring keeps the last T tokens
        pos = torch.arange(L - keep, L, device=k.device)
        slots = torch.remainder(pos, T)
        state["k"].index_copy_(2, slots, k[:, :, L - keep:])
        state["v"].index_copy_(2, slots, v[:, :, L - keep:])

    def step(self, x: torch.Tensor, state: dict, pos: int) -> torch.Tensor:
        """One token per sequence: x [B, 1, D] at position ``pos`` -> [B, 1, D]; updates the cache."""
        positions = torch.arange(pos, pos + 1, device=x.device)   # no host copy: graph-capturable
        q, k, v, gate = self._qkv(x, positions)                     # q [B, H, 1, hd]
        T = state["k"].shape[2]
        slot = pos % T
        if not self.kv_shared:             # a KV-shared layer reads what its sharer wrote at pos
            state["k"][:, :, slot] = k[:, :, 0]
            state["v"][:, :, slot] = v[:, :, 0]
        n = min(pos + 1, T)                                          # slots written so far
        k_pos = ring_positions(pos, T, x.device)[:n]                 # token position in each slot
        o = self._attend(q, state["k"][:, :, :n], self._values(state["v"][:, :, :n]), positions, k_pos,
                         sdpa=False)
        return self._out(self._combine(o), gate)

    def step_detached(self, x: torch.Tensor, state: dict, pos: int) -> tuple[torch.Tensor, dict]:
        """``step`` as a pure function, for the ONNX export of the decode step: the cache is read,
        never written or copied. Returns (y [B, 1, D], {"k": [B, KV, 1, hd], "v": [B, KV, 1, vd]}),
        the new token's rows, which the caller writes into slot ``pos % T``.

        The G query heads of a KV group score the cache as one [G, hd] x [hd, T] product, so the
        graph reads each cached K and V once (``step``'s eager path repeats them G times)."""
        B = x.shape[0]
        H, KV, hd = self.H, self.KV, self.hd
        G = H // KV
        positions = torch.arange(pos, pos + 1, device=x.device)
        q, k, v, gate = self._qkv(x, positions)                     # q [B, H, 1, hd], k, v [B, KV, 1, *]
        if self.kv_shared:                 # reads only: the sharer's cache, position pos included
            o = self._attend(q, state["k"][:, :, :pos + 1], self._values(state["v"][:, :, :pos + 1]), positions,
                             torch.arange(pos + 1, device=x.device), sdpa=False)
            return self._out(self._combine(o), gate), {}
        T = state["k"].shape[2]
        qg = q.reshape(B, KV, G, hd)
        scores = torch.cat((qg @ state["k"].transpose(-1, -2), qg @ k.transpose(-1, -2)), -1)  # [B, KV, G, T+1]
        scores = wide(scores).reshape(B, H, 1, T + 1) * self.scale
        p = self._weights(scores, positions, detached_key_positions(pos, T, x.device))
        p = p.to(v.dtype).reshape(B, KV, G, T + 1)
        o = p[..., :T] @ self._values(state["v"]) + p[..., T:] * self._values(v)   # [B, KV, G, vd or 2vd]
        return self._out(self._combine(o.reshape(B, H, 1, -1)), gate), {"k": k, "v": v}
