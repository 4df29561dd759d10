"""Selective state-space mixers: Mamba-2 (SSD, a scalar decay per head; Mamba-2, Nemotron-H,
Granite 4, Falcon-H1) and Mamba-1 (per-channel selective scan; Jamba).

Both keep a constant-size state per sequence: the short causal conv's last K-1 inputs and the SSM
state (Mamba-2: [B, H, P, N]; Mamba-1: [B, d_inner, N]). Decode applies the recurrence to one token.
Mamba-2's prefill is the chunked SSD form, which is decayed linear attention with q = C, k = B,
v = dt*x (``chunked_delta_rule``): the token loop's result in L/64 steps of matrix products.
Mamba-1's per-channel scan keeps the token loop.

Shape letters: B batch, L tokens, D hidden, E d_inner, H heads, P head dim (E = H * P),
G groups, N d_state, K conv kernel, R dt_rank.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .attention import RMSNorm, scaled, wide, wide_dtype
from .chunked import chunked_delta_rule


# --------------------------------------------------------------------------- short causal conv

def causal_conv(conv: nn.Conv1d, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
    """Depthwise causal conv over time: x [B, L, C] -> [B, L, C]; leaves the last K-1 inputs in
    ``state`` [B, C, K-1] when given. 2*C*K FLOPs per token."""
    K = conv.kernel_size[0]
    xp = F.pad(x.transpose(1, 2), (K - 1, 0))                        # [B, C, K-1+L]
    if state is not None and K > 1:
        state.copy_(xp[..., xp.shape[-1] - (K - 1):])
    return F.conv1d(xp, conv.weight, conv.bias, groups=conv.in_channels).transpose(1, 2)


def conv_step(conv: nn.Conv1d, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """One token of the causal conv: x [B, C], state [B, C, K-1] (shifted in place) -> [B, C]."""
    window = torch.cat((state, x[..., None]), -1)                    # [B, C, K]
    y = (window * conv.weight[:, 0, :]).sum(-1)
    if conv.bias is not None:
        y = y + conv.bias
    state.copy_(window[..., 1:])
    return y


def step_on_copy(mixer: nn.Module, x: torch.Tensor, state: dict, pos: int = 0) -> tuple[torch.Tensor, dict]:
    """A recurrent mixer's ``step`` as a pure function (the ONNX export of the decode step): it
    runs on a copy of the state and returns (y, the new state). A recurrent step reads and
    rewrites its whole state anyway, so the copy adds no traffic to what it measures."""
    new = {name: t.clone() for name, t in state.items()}
    return mixer.step(x, new, pos), new


def depthwise_conv(channels: int, kernel: int, bias: bool) -> nn.Conv1d:
    return nn.Conv1d(channels, channels, kernel, groups=channels, bias=bias)   # C*K (+C) params


class GatedRMSNorm(nn.Module):
    """RMSNorm(y * silu(z)) over groups of ``group`` channels (Mamba-2's norm_before_gate=False)."""

    def __init__(self, dim: int, group: int, eps: float = 1e-6):
        super().__init__()
        self.group, self.eps = group, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = wide(y * F.silu(z))
        shape = h.shape
        h = h.view(*shape[:-1], shape[-1] // self.group, self.group)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h.view(shape) * wide(self.weight)).to(y.dtype)


def _dt_bias_init(n: int) -> torch.Tensor:
    """softplus^-1 of dt drawn log-uniformly in [1e-3, 1e-1] (the Mamba reference init)."""
    dt = torch.exp(torch.rand(n) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
    return dt + torch.log(-torch.expm1(-dt))


# --------------------------------------------------------------------------- Mamba-2

class Mamba2(nn.Module):
    """in_proj -> [z, xBC, dt]; causal conv + SiLU over xBC; SSD recurrence per head
    h_t = exp(dt*A) h_{t-1} + dt * x_t B_t^T, y_t = h_t C_t + D x_t; gated RMSNorm; out_proj.

    FLOPs per token: 2*D*(2E + 2GN + H) + 2*(E + 2GN)*K + 2*E*D for projections and conv, and
    about 4*E*N for the state update and readout (matmul-equivalent MACs of the recurrence).
    """

    def __init__(self, cfg: S.SSM, hidden: int, *, eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        E, N, H, G = cfg.d_inner, cfg.d_state, cfg.heads, cfg.groups
        self.E, self.N, self.H, self.G, self.P = E, N, H, G, E // H
        self.conv_dim = E + 2 * G * N
        self.in_proj = nn.Linear(hidden, 2 * E + 2 * G * N + H, bias=cfg.proj_bias)
        self.conv1d = depthwise_conv(self.conv_dim, cfg.conv_kernel, cfg.conv_bias)
        self.dt_bias = nn.Parameter(_dt_bias_init(H))
        self.A_log = nn.Parameter(torch.log(torch.linspace(1.0, 16.0, H)))    # A = -exp(A_log)
        self.D = nn.Parameter(torch.ones(H))
        if cfg.gated_norm:
            self.norm = GatedRMSNorm(E, E // G, eps)
        self.out_proj = nn.Linear(E, hidden, bias=cfg.proj_bias)
        # Falcon-H1's muP: in_proj's z, x, B, C and dt rows each times its multiplier
        if cfg.proj_scales:
            sizes = (E, E, G * N, G * N, H)
            self.register_buffer("proj_scale", torch.cat([torch.full((n,), float(m)) for n, m in
                                                          zip(sizes, cfg.proj_scales)]), persistent=False)
        else:
            self.proj_scale = None

    def _project(self, x: torch.Tensor):
        """in_proj (with muP's multipliers around it where the spec has them) -> z, xBC, dt."""
        zxbcdt = self.in_proj(scaled(x, self.cfg.in_scale))
        if self.proj_scale is not None:
            zxbcdt = zxbcdt * self.proj_scale.to(zxbcdt.dtype)
        E, GN = self.E, self.G * self.N
        return zxbcdt.split([E, E + 2 * GN, self.H], dim=-1)            # z, xBC, dt

    def _recur(self, xBC: torch.Tensor, dt: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One token: xBC [B, E+2GN] (after conv), dt [B, H] (raw), h [B, H, P, N] in place -> y [B, E]."""
        Bsz = xBC.shape[0]
        x, Bm, Cm = xBC.split([self.E, self.G * self.N, self.G * self.N], dim=-1)
        x = x.view(Bsz, self.H, self.P)
        rep = self.H // self.G                                           # heads per B/C group
        Bm = Bm.view(Bsz, self.G, self.N).repeat_interleave(rep, dim=1)  # [B, H, N]
        Cm = Cm.view(Bsz, self.G, self.N).repeat_interleave(rep, dim=1)
        dt = self._step_size(dt)                                         # [B, H]
        dA = torch.exp(dt * -torch.exp(self.A_log))                      # [B, H] decay in (0, 1)
        h.mul_(dA[..., None, None]).add_((dt[..., None] * x)[..., None] * Bm[:, :, None, :])
        y = (h @ Cm[..., None])[..., 0] + self.D[:, None] * x            # [B, H, P]
        return y.reshape(Bsz, self.E)

    def _step_size(self, dt: torch.Tensor) -> torch.Tensor:
        """softplus(dt + dt_bias), clamped where the model clamps it (Nemotron-H's time_step_min)."""
        dt = F.softplus(dt + self.dt_bias)
        lo, hi = self.cfg.dt_min, self.cfg.dt_max
        return dt.clamp(min=lo or None, max=hi or None) if lo or hi else dt

    def _finish(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        y = self.norm(y, z) if self.cfg.gated_norm else y * F.silu(z)
        return scaled(self.out_proj(y), self.cfg.out_scale)

    def new_state(self, batch: int, max_len: int = 0) -> dict:
        p = self.out_proj.weight
        K = self.cfg.conv_kernel
        return {"conv": torch.zeros(batch, self.conv_dim, K - 1, dtype=p.dtype, device=p.device),
                "ssm": torch.zeros(batch, self.H, self.P, self.N, dtype=wide_dtype(p.dtype), device=p.device)}

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """Chunked prefill: x [B, L, D] -> [B, L, D]; leaves the final state in ``state``."""
        Bsz, L, _ = x.shape
        z, xBC, dt = self._project(x)
        st = state if state is not None else self.new_state(Bsz)
        xBC = wide(F.silu(causal_conv(self.conv1d, xBC, st["conv"])))
        xs, Bm, Cm = xBC.split([self.E, self.G * self.N, self.G * self.N], dim=-1)
        xs = xs.view(Bsz, L, self.H, self.P)
        rep = self.H // self.G
        Bm = Bm.view(Bsz, L, self.G, self.N).repeat_interleave(rep, dim=2)   # [B, L, H, N]
        Cm = Cm.view(Bsz, L, self.G, self.N).repeat_interleave(rep, dim=2)
        dt = self._step_size(wide(dt))                                     # [B, L, H]
        log_decay = dt * -torch.exp(wide(self.A_log))
        # h [B, H, P, N] is S^T of the linear-attention state S [N, P]: updated in place through the view
        y = chunked_delta_rule(st["ssm"].transpose(-1, -2), Cm, Bm, dt[..., None] * xs, log_decay)
        y = y + self.D[:, None] * xs                                         # [B, L, H, P]
        return self._finish(y.reshape(Bsz, L, self.E).to(x.dtype), z)

    def step(self, x: torch.Tensor, state: dict, pos: int = 0) -> torch.Tensor:
        z, xBC, dt = self._project(x[:, 0])
        xBC = F.silu(conv_step(self.conv1d, xBC, state["conv"]))
        y = self._recur(wide(xBC), wide(dt), state["ssm"]).to(x.dtype)
        return self._finish(y, z)[:, None]

    step_detached = step_on_copy


# --------------------------------------------------------------------------- Mamba-1

class Mamba1(nn.Module):
    """in_proj -> [x, z]; causal conv + SiLU; x_proj -> [dt (R), B (N), C (N)] (Jamba: RMSNorm on
    each); dt_proj (R -> E, bias) + softplus; per-channel scan h_t = exp(dt*A) h + dt*B x,
    y = h C + D x; y * silu(z); out_proj.

    FLOPs per token: 2*D*2E + 2*E*K + 2*E*(R+2N) + 2*R*E + 2*E*D, plus about 4*E*N in the scan.
    """

    def __init__(self, cfg: S.SSM, hidden: int, *, eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        E, N, R = cfg.d_inner, cfg.d_state, cfg.dt_rank
        self.E, self.N, self.R = E, N, R
        self.in_proj = nn.Linear(hidden, 2 * E, bias=cfg.proj_bias)
        self.conv1d = depthwise_conv(E, cfg.conv_kernel, cfg.conv_bias)
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))  # [E, N]
        self.D = nn.Parameter(torch.ones(E))
        if cfg.inner_norms:
            affine = cfg.inner_norms_affine
            self.dt_layernorm, self.b_layernorm, self.c_layernorm = (RMSNorm(n, eps, affine=affine) for n in (R, N, N))
        self.out_proj = nn.Linear(E, hidden, bias=cfg.proj_bias)

    def _recur(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One token: x [B, E] (after conv), h [B, E, N] (fp32) in place -> y [B, E] (fp32)."""
        dt, Bm, Cm = self.x_proj(x).split([self.R, self.N, self.N], dim=-1)
        if self.cfg.inner_norms:
            dt, Bm, Cm = self.dt_layernorm(dt), self.b_layernorm(Bm), self.c_layernorm(Cm)
        dt = F.softplus(wide(self.dt_proj(dt)))                        # [B, E]
        x, Bm, Cm = wide(x), wide(Bm), wide(Cm)                    # the scan runs in fp32 (fp64 in a float64 copy)
        dA = torch.exp(dt[..., None] * -torch.exp(self.A_log))           # [B, E, N]
        h.mul_(dA).add_((dt * x)[..., None] * Bm[:, None, :])
        return (h @ Cm[..., None])[..., 0] + self.D * x

    def new_state(self, batch: int, max_len: int = 0) -> dict:
        p = self.out_proj.weight
        return {"conv": torch.zeros(batch, self.E, self.cfg.conv_kernel - 1, dtype=p.dtype, device=p.device),
                "ssm": torch.zeros(batch, self.E, self.N, dtype=wide_dtype(p.dtype), device=p.device)}

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        Bsz, L, _ = x.shape
        xs, z = self.in_proj(x).chunk(2, dim=-1)
        st = state if state is not None else self.new_state(Bsz)
        xs = F.silu(causal_conv(self.conv1d, xs, st["conv"]))
        ys = [self._recur(xs[:, t], st["ssm"]) for t in range(L)]
        y = torch.stack(ys, 1).to(x.dtype)
        return self.out_proj(y * F.silu(z))

    def step(self, x: torch.Tensor, state: dict, pos: int = 0) -> torch.Tensor:
        xs, z = self.in_proj(x[:, 0]).chunk(2, dim=-1)
        xs = F.silu(conv_step(self.conv1d, xs, state["conv"]))
        y = self._recur(xs, state["ssm"]).to(x.dtype)
        return self.out_proj(y * F.silu(z))[:, None]

    step_detached = step_on_copy


def build_ssm(cfg: S.SSM, hidden: int, **kw) -> nn.Module:
    return Mamba2(cfg, hidden, **kw) if cfg.variant == "mamba2" else Mamba1(cfg, hidden, **kw)
