"""Linear attention with a constant-size state per head [dk, dv]:

- gated_deltanet (Qwen3-Next): S <- exp(g) S (scalar decay per head), then the delta rule
  S <- S + beta k (v - k^T S)^T; o = q^T S. Short conv on q, k, v; L2-normed q, k; gated RMSNorm
  norm(o) * silu(z) per head.
- kimi_delta (Kimi Linear's KDA): the same delta rule with a channel-wise decay exp(g) over dk
  (a low-rank forget gate), and a low-rank sigmoid output gate.
- lightning (MiniMax-01): no delta rule, S <- lambda_h S + k v^T with a fixed decay per head;
  RMSNorm over all heads and a sigmoid output gate.

Decode is the recurrence, one token. Prefill is its chunked form (``chunked_delta_rule``): the
same result in L/64 steps of matrix products instead of L steps of rank-1 updates, as fla and
transformers run it (L/16 for Kimi's channel-wise decay).

Shape letters: B batch, L tokens, D hidden, Hk key heads, Hv value heads, dk key dim, dv value dim,
Kt = Hk*dk, Vt = Hv*dv, K conv kernel.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .attention import RMSNorm, alibi_slopes, l2_normalize, wide, wide_dtype
from .chunked import chunked_delta_rule
from .ssm import _dt_bias_init, causal_conv, conv_step, depthwise_conv, step_on_copy


# --------------------------------------------------------------------------- recurrences

def delta_rule_step(S_: torch.Tensor, q, k, v, decay, beta) -> torch.Tensor:
    """Gated delta rule, one token. S_ [B, H, dk, dv] (fp32, in place); q, k [B, H, dk];
    v [B, H, dv]; decay [B, H, 1, 1] (scalar per head) or [B, H, dk, 1] (per key channel) in (0, 1];
    beta [B, H]. Returns o [B, H, dv]. About 4*dk*dv MACs per head."""
    S_.mul_(decay)
    kv_mem = (S_ * k[..., None]).sum(-2)                            # k^T S: [B, H, dv]
    delta = (v - kv_mem) * beta[..., None]
    S_.add_(k[..., None] * delta[..., None, :])                      # rank-1 correction
    return (S_ * q[..., None]).sum(-2)                              # q^T S: [B, H, dv]


def linear_step(S_: torch.Tensor, q, k, v, decay) -> torch.Tensor:
    """Decayed linear attention, one token: S <- decay S + k v^T; o = q^T S."""
    S_.mul_(decay).add_(k[..., None] * v[..., None, :])
    return (S_ * q[..., None]).sum(-2)


class GatedNorm(nn.Module):
    """Per-head RMSNorm(o) * w * act(gate) (Qwen3-Next: silu; Kimi: sigmoid)."""

    def __init__(self, dim: int, act: str = "silu", eps: float = 1e-6):
        super().__init__()
        self.act, self.eps = act, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, o: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        of = wide(o)
        of = of * torch.rsqrt(of.pow(2).mean(-1, keepdim=True) + self.eps) * wide(self.weight)
        g = F.silu(wide(gate)) if self.act == "silu" else torch.sigmoid(wide(gate))
        return (of * g).to(o.dtype)


class _Recurrent(nn.Module):
    """Shared driver: ``_inputs`` maps x [B, L, D] to per-token recurrence inputs, ``_recur`` runs
    one token, ``_output`` maps [B, L, Hv, dv] back to [B, L, D]."""

    Hv: int
    dk: int
    dv: int
    _chunked = None         # a variant with a chunked prefill defines _chunked(S_, *inputs) -> o

    def new_state(self, batch: int, max_len: int = 0) -> dict:
        p = self.out_weight()
        st = {"S": torch.zeros(batch, self.Hv, self.dk, self.dv, dtype=wide_dtype(p.dtype), device=p.device)}
        for name, conv in self.convs().items():
            st[name] = torch.zeros(batch, conv.in_channels, conv.kernel_size[0] - 1, dtype=p.dtype,
                                   device=p.device)
        return st

    def convs(self) -> dict[str, nn.Conv1d]:
        return {}

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        st = state if state is not None else self.new_state(x.shape[0])
        ins, extra = self._inputs(x, st, step=False)                 # tensors [B, L, ...]
        if self._chunked is not None:
            return self._output(self._chunked(st["S"], *ins), extra)
        outs = [self._recur(st["S"], *(t[:, i] for t in ins)) for i in range(x.shape[1])]
        return self._output(torch.stack(outs, 1), extra)

    def step(self, x: torch.Tensor, state: dict, pos: int = 0) -> torch.Tensor:
        ins, extra = self._inputs(x, state, step=True)
        return self._output(self._recur(state["S"], *(t[:, 0] for t in ins))[:, None], extra)

    step_detached = step_on_copy

    def _conv(self, name: str, u: torch.Tensor, st: dict, step: bool) -> torch.Tensor:
        """Short causal conv + SiLU on u [B, L, C] (a no-op when the spec has conv_kernel 0)."""
        conv = self.convs().get(name)
        if conv is None:
            return u
        if step:
            return F.silu(conv_step(conv, u[:, 0], st[name]))[:, None]
        return F.silu(causal_conv(conv, u, st[name]))


def _heads(t: torch.Tensor, h: int) -> torch.Tensor:
    return t.reshape(*t.shape[:-1], h, t.shape[-1] // h)


# --------------------------------------------------------------------------- Gated DeltaNet

class GatedDeltaNet(_Recurrent):
    """Qwen3-Next linear attention. FLOPs per token: 2*D*(2Kt + 2Vt) + 2*D*2Hv + 2*(2Kt+Vt)*K
    (conv) + 2*Vt*D, plus about 4*Hv*dk*dv in the recurrence."""

    def __init__(self, cfg: S.LinearAttention, hidden: int, *, eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        self.Hk, self.Hv, self.dk, self.dv = cfg.key_heads, cfg.value_heads, cfg.key_dim, cfg.value_dim
        Kt, Vt = self.Hk * self.dk, self.Hv * self.dv
        self.Kt, self.Vt = Kt, Vt
        self.in_proj_qkvz = nn.Linear(hidden, 2 * Kt + 2 * Vt, bias=False)   # q, k, v, z
        self.in_proj_ba = nn.Linear(hidden, 2 * self.Hv, bias=False)          # beta, a (decay)
        if cfg.conv_kernel:
            self.conv1d = depthwise_conv(2 * Kt + Vt, cfg.conv_kernel, bias=False)
        self.dt_bias = nn.Parameter(_dt_bias_init(self.Hv))
        self.A_log = nn.Parameter(torch.log(torch.linspace(1.0, 16.0, self.Hv)))
        self.norm = GatedNorm(self.dv, "silu", eps)
        self.out_proj = nn.Linear(Vt, hidden, bias=False)

    def out_weight(self):
        return self.out_proj.weight

    def convs(self):
        return {"conv": self.conv1d} if self.cfg.conv_kernel else {}

    def _inputs(self, x, st, step):
        Kt, Vt, Hv = self.Kt, self.Vt, self.Hv
        q, k, v, z = self.in_proj_qkvz(x).split([Kt, Kt, Vt, Vt], dim=-1)
        b, a = self.in_proj_ba(x).split([Hv, Hv], dim=-1)
        q, k, v = self._conv("conv", torch.cat((q, k, v), -1), st, step).split([Kt, Kt, Vt], dim=-1)
        rep = Hv // self.Hk
        q = l2_normalize(wide(_heads(q, self.Hk))).repeat_interleave(rep, -2) * self.dk ** -0.5
        k = l2_normalize(wide(_heads(k, self.Hk))).repeat_interleave(rep, -2)   # [B, L, Hv, dk]
        v = wide(_heads(v, Hv))                                               # [B, L, Hv, dv]
        g = -torch.exp(wide(self.A_log)) * F.softplus(wide(a) + wide(self.dt_bias))  # [B, L, Hv]
        beta = torch.sigmoid(wide(b)) * (2.0 if self.cfg.negative_eigenvalues else 1.0)   # OLMo hybrid: (0, 2)
        return (q, k, v, g, beta), (z, x.dtype)

    def _recur(self, S_, q, k, v, log_decay, beta):
        return delta_rule_step(S_, q, k, v, torch.exp(log_decay)[..., None, None], beta)

    def _chunked(self, S_, q, k, v, log_decay, beta):
        return chunked_delta_rule(S_, q, k, v, log_decay, beta)

    def _output(self, o, extra):
        z, dtype = extra
        o = self.norm(o, wide(_heads(z, self.Hv)))                            # [B, L, Hv, dv]
        return self.out_proj(o.flatten(-2).to(dtype))


# --------------------------------------------------------------------------- Kimi Delta Attention

class KimiDelta(_Recurrent):
    """Kimi Linear KDA (and Ling 3.0's: full-rank gates, a bounded forget gate). FLOPs per token:
    2*D*(2Kt + Vt) + conv 2*(2Kt+Vt)*K + forget gate 2*(D*dk + dk*Kt) (Ling: 2*D*Kt) + beta
    2*D*Hv + output gate 2*(D*dv + dv*Vt) (Ling: 2*D*Vt) + 2*Vt*D, plus about 4*Hv*dk*dv in the
    recurrence."""

    def __init__(self, cfg: S.LinearAttention, hidden: int, *, eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        self.Hk, self.Hv, self.dk, self.dv = cfg.key_heads, cfg.value_heads, cfg.key_dim, cfg.value_dim
        Kt, Vt, dk = self.Hk * self.dk, self.Hv * self.dv, self.dk
        self.Kt, self.Vt = Kt, Vt
        self.q_proj = nn.Linear(hidden, Kt, bias=False)
        self.k_proj = nn.Linear(hidden, Kt, bias=False)
        self.v_proj = nn.Linear(hidden, Vt, bias=False)
        if cfg.conv_kernel:
            self.q_conv1d = depthwise_conv(Kt, cfg.conv_kernel, bias=False)
            self.k_conv1d = depthwise_conv(Kt, cfg.conv_kernel, bias=False)
            self.v_conv1d = depthwise_conv(Vt, cfg.conv_kernel, bias=False)
        if cfg.full_rank_gates:                                           # Ling 3.0
            self.f_proj = nn.Linear(hidden, Kt, bias=False)
            self.g_proj = nn.Linear(hidden, Vt, bias=False)
        else:
            self.f_a_proj = nn.Linear(hidden, dk, bias=False)             # low-rank forget gate
            self.f_b_proj = nn.Linear(dk, Kt, bias=False)
            self.g_a_proj = nn.Linear(hidden, dk, bias=False)             # low-rank output gate
            self.g_b_proj = nn.Linear(dk, Vt, bias=False)
        self.dt_bias = nn.Parameter(_dt_bias_init(Kt))                    # per key channel
        self.A_log = nn.Parameter(torch.log(torch.linspace(1.0, 16.0, self.Hk)))  # per head
        self.b_proj = nn.Linear(hidden, self.Hv, bias=False)               # beta
        self.o_norm = GatedNorm(self.dv, "sigmoid", eps)
        self.o_proj = nn.Linear(Vt, hidden, bias=False)

    def out_weight(self):
        return self.o_proj.weight

    def convs(self):
        if not self.cfg.conv_kernel:
            return {}
        return {"q_conv": self.q_conv1d, "k_conv": self.k_conv1d, "v_conv": self.v_conv1d}

    def _inputs(self, x, st, step):
        rep = self.Hv // self.Hk
        q = self._conv("q_conv", self.q_proj(x), st, step)
        k = self._conv("k_conv", self.k_proj(x), st, step)
        v = self._conv("v_conv", self.v_proj(x), st, step)
        q = l2_normalize(wide(_heads(q, self.Hk))).repeat_interleave(rep, -2) * self.dk ** -0.5
        k = l2_normalize(wide(_heads(k, self.Hk))).repeat_interleave(rep, -2)
        v = wide(_heads(v, self.Hv))
        full = self.cfg.full_rank_gates
        f = self.f_proj(x) if full else self.f_b_proj(self.f_a_proj(x))
        f = _heads(wide(f) + wide(self.dt_bias), self.Hk)                  # [B, L, Hk, dk]
        rate = torch.exp(wide(self.A_log))[:, None]
        bound = self.cfg.gate_lower_bound
        # channel-wise log decay: Ling's bounded gate, or Kimi's softplus
        g = bound * torch.sigmoid(rate * f) if bound else -rate * F.softplus(f)
        log_decay = g.repeat_interleave(rep, -2)                           # [B, L, Hv, dk]
        beta = torch.sigmoid(wide(self.b_proj(x)))
        gate = _heads(self.g_proj(x) if full else self.g_b_proj(self.g_a_proj(x)), self.Hv)
        return (q, k, v, log_decay, beta), (gate, x.dtype)

    def _recur(self, S_, q, k, v, log_decay, beta):
        return delta_rule_step(S_, q, k, v, torch.exp(log_decay)[..., None], beta)

    def _chunked(self, S_, q, k, v, log_decay, beta):
        return chunked_delta_rule(S_, q, k, v, log_decay, beta)

    def _output(self, o, extra):
        gate, dtype = extra
        return self.o_proj(self.o_norm(o, gate).flatten(-2).to(dtype))


# --------------------------------------------------------------------------- Lightning attention

class Lightning(_Recurrent):
    """MiniMax-01 Lightning attention (its recurrent form). FLOPs per token: 2*D*(2Kt + Vt) +
    2*D*Vt (gate) + 2*Vt*D, plus about 4*Hv*dk*dv in the recurrence."""

    def __init__(self, cfg: S.LinearAttention, hidden: int, *, eps: float = 1e-6,
                 depth: tuple[int, int] = (0, 1)):
        super().__init__()
        self.cfg = cfg
        self.Hk, self.Hv, self.dk, self.dv = cfg.key_heads, cfg.value_heads, cfg.key_dim, cfg.value_dim
        Kt, Vt = self.Hk * self.dk, self.Hv * self.dv
        self.Kt, self.Vt = Kt, Vt
        self.qkv_proj = nn.Linear(hidden, 2 * Kt + Vt, bias=False)
        self.output_gate = nn.Linear(hidden, Vt, bias=False)
        self.norm = RMSNorm(Vt, eps)                                       # over all heads
        self.out_proj = nn.Linear(Vt, hidden, bias=False)
        # fixed per-head decay lambda_h = exp(-slope_h), ALiBi's slopes (not a parameter), scaled
        # at layer l of L by 1 - l / (L - 1) + 1e-5 where the spec says so (MiniMax-01's
        # get_slope_rate, its 1e-5 in the denominator too)
        layer, layers = depth
        scale = 1 - layer / (layers - 1 + 1e-5) + 1e-5 if cfg.decay_by_depth else 1.0
        self.register_buffer("decay", torch.exp(-alibi_slopes(self.Hv) * scale), persistent=False)

    def out_weight(self):
        return self.out_proj.weight

    def _inputs(self, x, st, step):
        q, k, v = F.silu(self.qkv_proj(x)).split([self.Kt, self.Kt, self.Vt], dim=-1)
        rep = self.Hv // self.Hk
        q = wide(_heads(q, self.Hk)).repeat_interleave(rep, -2)
        k = wide(_heads(k, self.Hk)).repeat_interleave(rep, -2)
        v = wide(_heads(v, self.Hv))
        log_decay = torch.log(wide(self.decay)).expand(*v.shape[:2], self.Hv)   # [B, L, Hv]
        return (q, k, v, log_decay), (x, x.dtype)

    def _recur(self, S_, q, k, v, log_decay):
        return linear_step(S_, q, k, v, torch.exp(log_decay)[..., None, None])

    def _chunked(self, S_, q, k, v, log_decay):
        return chunked_delta_rule(S_, q, k, v, log_decay)

    def _output(self, o, extra):
        x, dtype = extra
        o = self.norm(o.flatten(-2)) * torch.sigmoid(wide(self.output_gate(x)))
        return self.out_proj(o.to(dtype))


def build_linear_attention(cfg: S.LinearAttention, hidden: int, *, depth: tuple[int, int] = (0, 1),
                           **kw) -> nn.Module:
    """``depth``: (the layer's index, the model's layer count), which Lightning's decay may take."""
    if cfg.variant == "lightning":
        return Lightning(cfg, hidden, depth=depth, **kw)
    return {"gated_deltanet": GatedDeltaNet, "kimi_delta": KimiDelta}[cfg.variant](cfg, hidden, **kw)
