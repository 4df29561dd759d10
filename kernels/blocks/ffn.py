"""Feed-forward blocks: the dense MLP (gated SwiGLU/GeGLU or plain, optional biases) and the
mixture of experts (router with softmax or sigmoid scores and an optional score-correction bias,
top-k, always-on shared experts with an optional sigmoid gate, LongCat's zero-computation experts).

Routed expert weights are stacked, w_gate / w_up [E, D, F] and w_down [E, F, D], the layout the
Triton MoE kernels (kernels/triton_ops/moe.py) take, so a profile can hand them over unchanged.

Shape letters: B batch, L tokens, N = B*L, D hidden, F d_ff / d_expert, E experts, Z zero experts,
k top_k.
"""
from __future__ import annotations

import contextlib
import math
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .attention import RMSNorm, rms_normalize, scaled, wide


def activate(gate: torch.Tensor, up: torch.Tensor | None, kind: str) -> torch.Tensor:
    """act(gate) * up for gated MLPs, act(gate) alone when ``up`` is None."""
    if kind == "swiglu_oai":                     # gpt-oss: clamped, alpha = 1.702, (up + 1)
        gate = gate.clamp(max=7.0)
        glu = gate * torch.sigmoid(1.702 * gate)
        return glu if up is None else (up.clamp(-7.0, 7.0) + 1) * glu
    act = {"silu": F.silu, "relu": F.relu, "gelu": F.gelu,
           "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
           "relu2": lambda t: F.relu(t).square()}[kind]
    h = act(gate)
    return h if up is None else h * up


class XIELU(nn.Module):
    """xIELU (Huang et al. 2025, Apertus): x > 0: a_p x^2 + beta x; else a_n (expm1(min(x, eps)) - x)
    + beta x, with a_p = softplus(alpha_p) and a_n = beta + softplus(alpha_n) learned per FFN."""

    def __init__(self, alpha_p: float = 0.8, alpha_n: float = 0.8, beta: float = 0.5, eps: float = -1e-6):
        super().__init__()
        inverse_softplus = lambda v: math.log(math.expm1(v))    # noqa: E731
        self.alpha_p = nn.Parameter(torch.tensor([inverse_softplus(alpha_p)]))
        self.alpha_n = nn.Parameter(torch.tensor([inverse_softplus(alpha_n - beta)]))
        self.register_buffer("beta", torch.tensor(beta))          # stored in checkpoints, as transformers does
        self.register_buffer("eps", torch.tensor(eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a_p = F.softplus(self.alpha_p)
        a_n = self.beta + F.softplus(self.alpha_n)
        m = torch.minimum(x, self.eps)
        t = torch.tanh(m / 2)
        expm1 = 2 * t / (1 - t)          # = expm1(m), accurate near 0; ONNX has no Expm1 operator
        return torch.where(x > 0, a_p * x * x + self.beta * x, (expm1 - x) * a_n + self.beta * x)


class MLP(nn.Module):
    """Gated: down(act(gate(x)) * up(x)); plain: down(act(up(x))).

    FLOPs per token: 2*D*F*(3 if gated else 2). Params: D*F*(2|1) + F*D (+ biases F*(2|1) + D).
    """

    def __init__(self, hidden: int, d_ff: int, *, gated: bool = True, activation: str = "silu",
                 bias: bool = False, sparsity: float = 0.0, inner_norm: bool = False, eps: float = 1e-6,
                 gate_scale: float = 1.0, out_scale: float = 1.0):
        super().__init__()
        self.gated, self.activation = gated, activation
        # Falcon-H1's muP multipliers: the gate's pre-activation and the output
        self.gate_scale, self.out_scale = gate_scale, out_scale
        # Gemma 3n's Gaussian top-k: the gate keeps what lies above mean + z std of its row
        self.sparsity_z = statistics.NormalDist().inv_cdf(sparsity) if sparsity else None
        if gated:
            self.gate_proj = nn.Linear(hidden, d_ff, bias=bias)
        self.up_proj = nn.Linear(hidden, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, hidden, bias=bias)
        self.xielu = XIELU() if activation == "xielu" else None
        # BitNet: an RMSNorm over the hidden before down_proj
        self.ffn_sub_norm = RMSNorm(d_ff, eps) if inner_norm else None

    def _act(self, gate: torch.Tensor, up: torch.Tensor | None) -> torch.Tensor:
        if self.xielu is None:
            return activate(gate, up, self.activation)
        h = self.xielu(gate)
        return h if up is None else h * up

    def _sparsify(self, gate: torch.Tensor) -> torch.Tensor:
        if self.sparsity_z is None:
            return gate
        cutoff = gate.mean(-1, keepdim=True) + gate.std(-1, keepdim=True, unbiased=False) * self.sparsity_z
        return F.relu(gate - cutoff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gated:
            h = self._act(self._sparsify(scaled(self.gate_proj(x), self.gate_scale)), self.up_proj(x))
        else:
            h = self._act(self.up_proj(x), None)
        return scaled(self.down_proj(h if self.ffn_sub_norm is None else self.ffn_sub_norm(h)), self.out_scale)


def dense_ffn(cfg: S.DenseFFN, hidden: int, eps: float = 1e-6) -> MLP:
    return MLP(hidden, cfg.d_ff, gated=cfg.gated, activation=cfg.activation, bias=cfg.bias,
               sparsity=cfg.activation_sparsity, inner_norm=cfg.inner_norm, eps=eps,
               gate_scale=cfg.gate_scale, out_scale=cfg.out_scale)


class MoE(nn.Module):
    """Router -> top-k of E (+Z zero) experts per token -> weighted sum, plus shared experts.

    FLOPs per token: router 2*D*(E+Z); routed 2*D*F*(3|2) for each of the k chosen (zero experts:
    none); shared 2*D*F_s*(3|2) each (+ 2*D for the shared gate).

    ``scoring``: "softmax" (Mixtral, Qwen: softmax, then top-k), "sigmoid" (DeepSeek-V3: sigmoid,
    top-k by score + bias, weights from the unbiased scores), "topk_softmax" (gpt-oss: top-k of the
    logits, softmax over those k). None picks from the spec. ``renormalize`` rescales the k
    weights to sum to one (not for topk_softmax, whose weights already do); None: as the spec's
    ``normalize_top_k`` says.
    """

    def __init__(self, cfg: S.MoEFFN, hidden: int, *, scoring: str | None = None,
                 renormalize: bool | None = None, impl: str = "loop"):
        super().__init__()
        self.cfg = cfg
        E, Z, Fd, D = cfg.experts, cfg.zero_experts, cfg.d_expert, hidden
        self.E, self.Z, self.k = E, Z, cfg.top_k
        if scoring is None:
            scoring = ("sigmoid" if cfg.router_score_bias and not Z else
                       "topk_softmax" if cfg.activation == "swiglu_oai" else "softmax")
        if renormalize is None:
            renormalize = cfg.normalize_top_k
        self.scoring, self.renormalize, self.impl = scoring, renormalize, impl
        # The per-expert loop reads the routing on the host (torch.where on the chosen ids), which
        # a CUDA graph cannot capture; a profiler times such a layer on the stream instead.
        self.syncs_host = impl == "loop"
        self.router = nn.Linear(D, E + Z, bias=cfg.router_bias)
        if cfg.router_scales:     # Gemma 4: router input RMS-normalised, scaled per channel by scale / sqrt(D)
            self.router_scale = nn.Parameter(torch.ones(D))
            self.per_expert_scale = nn.Parameter(torch.ones(E + Z))
        if cfg.router_score_bias:                 # aux-loss-free balancing; a checkpointed buffer
            self.register_buffer("score_bias", torch.zeros(E + Z))
        std = D ** -0.5
        # drawn in place: ``randn(...) * std`` would hold a second copy of each stacked weight for a
        # moment (DeepSeek-V2's 160 experts: 5 GB each in fp32, which ran a 23 GiB machine out)
        self.w_up = nn.Parameter(torch.empty(E, D, Fd).normal_(0.0, std))           # [E, D, F]
        if cfg.gated:
            self.w_gate = nn.Parameter(torch.empty(E, D, Fd).normal_(0.0, std))     # [E, D, F]
        self.w_down = nn.Parameter(torch.empty(E, Fd, D).normal_(0.0, Fd ** -0.5))  # [E, F, D]
        if cfg.expert_bias:
            self.b_up = nn.Parameter(torch.zeros(E, Fd))
            if cfg.gated:
                self.b_gate = nn.Parameter(torch.zeros(E, Fd))
            self.b_down = nn.Parameter(torch.zeros(E, D))
        self.shared = nn.ModuleList(MLP(D, cfg.shared_dff, gated=cfg.gated, activation=cfg.activation)
                                    for _ in range(cfg.shared_experts))
        if cfg.shared_gate and cfg.shared_experts:
            self.shared_gate = nn.Linear(D, 1, bias=False)
        if cfg.out_bias:                          # JetMoE: one bias after the weighted sum
            self.out_bias = nn.Parameter(torch.zeros(D))

    # ---- routing
    def route(self, x: torch.Tensor):
        """x [N, D] -> weights [N, k] (fp32), ids [N, k] (ids >= E are zero experts).

        Gemma 4's router reads the residual stream before the MoE block's pre-norm; here it reads
        the normalised input, which its own weightless RMSNorm maps to the same vector while that
        pre-norm's weights are uniform (as built)."""
        if self.cfg.router_scales:
            x = rms_normalize(x) * self.router_scale * x.shape[-1] ** -0.5
        logits = wide(self.router(x))                                  # [N, E+Z]
        if self.scoring == "topk_softmax":
            vals, ids = logits.topk(self.k, dim=-1)
            return vals.softmax(-1), ids
        scores = logits.sigmoid() if self.scoring == "sigmoid" else logits.softmax(-1)
        choose = scores + wide(self.score_bias) if self.cfg.router_score_bias else scores
        if self.cfg.expert_groups:
            choose = self._within_best_groups(choose)
        ids = choose.topk(self.k, dim=-1).indices
        w = scores.gather(-1, ids)
        if self.renormalize:
            w = w / w.sum(-1, keepdim=True)
        if self.cfg.routed_scale != 1.0:                               # DeepSeek-V3: 2.5
            w = w * self.cfg.routed_scale
        if self.cfg.router_scales:
            w = w * wide(self.per_expert_scale)[ids]
        return w, ids

    def _within_best_groups(self, choose: torch.Tensor) -> torch.Tensor:
        """DeepSeek's group-limited routing: ``choose`` [N, E] with the experts outside each token's
        groups_per_token best groups set to -inf. Groups rank by their two best (biased) scores
        with the score-correction bias (V3's noaux_tc) and in Mistral 4, else by their best (V2's
        group_limited_greedy)."""
        grouped = choose.unflatten(-1, (self.cfg.expert_groups, -1))            # [N, groups, E / groups]
        if self.cfg.groups_ranked_by_two:
            rank = grouped.topk(2, dim=-1).values.sum(-1)                       # [N, groups]
        else:
            rank = grouped.amax(-1)
        # the groups at or above the groups_per_token-th best rank (a threshold, not a scatter of the
        # top indices, whose zeros the ONNX export fixes to the traced token count; ties of float
        # ranks aside, the same groups)
        keep = rank >= rank.topk(self.cfg.groups_per_token, dim=-1).values[..., -1:]   # [N, groups]
        return grouped.masked_fill(~keep[..., None], float("-inf")).flatten(-2)

    # ---- one expert, on the rows routed to it
    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """x [n, D] -> [n, D] through routed expert e."""
        up = x @ self.w_up[e]
        if self.cfg.expert_bias:
            up = up + self.b_up[e]
        if self.cfg.gated:
            gate = x @ self.w_gate[e]
            if self.cfg.expert_bias:
                gate = gate + self.b_gate[e]
            h = activate(gate, up, self.cfg.activation)
        else:
            h = activate(up, None, self.cfg.activation)
        y = h @ self.w_down[e]
        return y + self.b_down[e] if self.cfg.expert_bias else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])                                     # [N, D]
        w, ids = self.route(x)
        out = torch.zeros_like(x)
        if self.impl == "dense":                                         # every expert on every token
            combine = torch.zeros(x.shape[0], self.E + self.Z, dtype=w.dtype, device=x.device)
            combine = combine.scatter(1, ids, w)                         # [N, E+Z]
            for e in range(self.E):
                out = out + combine[:, e, None].to(x.dtype) * self.expert(e, x)
        else:                                                            # per-expert loop on its rows
            tracing = torch.jit.is_tracing()
            for e in range(self.E):
                tok, slot = torch.where(ids == e)                        # rows routed to e, their slot
                if tok.numel() == 0 and not tracing:
                    continue
                y = self.expert(e, x[tok]) * w[tok, slot, None].to(x.dtype)
                out = out.index_add(0, tok, y)
        if self.Z:                                                       # zero experts: identity, no FLOPs
            zero_w = torch.where(ids >= self.E, w, torch.zeros_like(w)).sum(-1, keepdim=True)
            out = out + zero_w.to(x.dtype) * x
        return self.add_shared(x, out).reshape(shape)

    @contextlib.contextmanager
    def experts_apart(self):
        """Within: each stacked expert tensor ([E, ...]: w_up, w_gate, w_down, biases) is a list of E
        parameters, views of the same memory, and ``self.w_up[e]`` reads one of them. For the ONNX
        export: an expert's slice of a stacked initializer makes ONNX shape inference copy the whole
        initializer, for every expert (32 experts of 1024 x 1024 took 46 s to export, gpt-oss-20b's
        minutes per layer); apart, each expert is an initializer of its own."""
        saved = dict(self._parameters)
        stacked = [n for n in ("w_up", "w_gate", "w_down", "b_up", "b_gate", "b_down") if n in saved]
        try:
            for name in stacked:
                del self._parameters[name]
                self.add_module(name, nn.ParameterList(nn.Parameter(t, requires_grad=False)
                                                       for t in saved[name].detach().unbind(0)))
            yield self
        finally:
            for name in stacked:
                self._modules.pop(name, None)
            self._parameters.clear()
            self._parameters.update(saved)

    def add_shared(self, x: torch.Tensor, routed: torch.Tensor) -> torch.Tensor:
        """routed [N, D] plus the shared experts' output on x [N, D] (gated where the spec says) and
        JetMoE's bias."""
        if self.cfg.out_bias:
            routed = routed + self.out_bias
        if not len(self.shared):
            return routed
        s = sum(m(x) for m in self.shared)
        if self.cfg.shared_gate:
            s = torch.sigmoid(self.shared_gate(x)) * s
        return routed + s


def build_ffn(cfg, hidden: int, eps: float = 1e-6, **kw) -> nn.Module:
    if isinstance(cfg, S.DenseFFN):
        return dense_ffn(cfg, hidden, eps)
    return MoE(cfg, hidden, **kw)
