"""Torch modules built from a ``ModelSpec``: one per mixer and FFN kind, and whole decoder layers.

Each block is small and readable (nanoGPT / gpt-fast style), built at the true dimensions the spec
gives, with a prefill path ``forward(x, state=None)`` and a decode path ``step(x, state, pos)``
over a preallocated KV cache or recurrent state (``new_state(batch, max_len)``). Parameters plus
persistent buffers (:func:`count_params`) equal the engine's ``models.params.layer_params``.

    layer = build_layer(spec, spec.layers[0], torch.bfloat16, "cuda")
    y = layer(x)                                 # prefill, x [B, S, D]
    states = layer.new_state(B, max_len)
    y_t = layer.step(x_t, states, pos)           # decode, x_t [B, 1, D]

Build on ``device="meta"`` to count a large model's layer without allocating it.
Module names follow the Hugging Face implementations (q_proj, kv_b_proj, in_proj_qkvz, A_log ...).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import spec as S

from .altup import AltUp, Laurel
from .attention import Attention, RMSNorm
from .cross_attention import CrossAttention
from .ffn import MLP, MoE, build_ffn
from .linear_attention import GatedDeltaNet, KimiDelta, Lightning, build_linear_attention
from .mla import MLA
from .per_layer import PerLayerInput
from .short_conv import ShortConv
from .ssm import Mamba1, Mamba2, build_ssm

__all__ = ["apply_update", "build_block", "build_layer", "count_params", "DecoderLayer", "Attention", "CrossAttention",
           "MLA", "GatedDeltaNet", "KimiDelta", "Lightning", "Mamba1", "Mamba2", "MLP", "MoE", "RMSNorm", "ShortConv"]


def count_params(module: nn.Module) -> int:
    """Parameters plus persistent buffers (what a checkpoint stores), each tensor once."""
    seen, total = set(), 0
    for t in module.state_dict(keep_vars=True).values():
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel()
    return total


def build_block(part, hidden: int, *, rope_fraction: float = 1.0, position: str = "rope",
                rope_theta: float = 10000.0, eps: float = 1e-6, attn_impl: str = "sdpa",
                moe_impl: str = "loop", dtype: torch.dtype | None = None,
                device: torch.device | str | None = None, rope_interleaved: bool = False,
                rope_scaling: S.RopeScaling | None = None, norm: str = "rmsnorm",
                depth: tuple[int, int] = (0, 1), rope_reversed: bool = False) -> nn.Module:
    """One mixer (Attention, MLA, LinearAttention, SSM, ShortConv, CrossAttention) or FFN (DenseFFN,
    MoEFFN) of the spec; ``norm`` is the model's norm form, which attention's QK norms take;
    ``depth`` the layer's index and the model's layer count (MiniMax's decay by depth, differential
    attention's lambda_init)."""
    with torch.device(device or "cpu"):
        if isinstance(part, S.Attention):
            m = Attention(part, hidden, rope_fraction=rope_fraction, position=position,
                          rope_theta=rope_theta, eps=eps, impl=attn_impl, rope_interleaved=rope_interleaved,
                          rope_scaling=rope_scaling, norm=norm, depth=depth, rope_reversed=rope_reversed)
        elif isinstance(part, S.MLA):
            m = MLA(part, hidden, position=position, rope_theta=rope_theta,
                    rope_interleaved=rope_interleaved, rope_scaling=rope_scaling, rope_reversed=rope_reversed)
        elif isinstance(part, S.LinearAttention):
            m = build_linear_attention(part, hidden, eps=eps, depth=depth)
        elif isinstance(part, S.SSM):
            m = build_ssm(part, hidden, eps=eps)
        elif isinstance(part, S.ShortConv):
            m = ShortConv(part, hidden)
        elif isinstance(part, S.CrossAttention):
            m = CrossAttention(part, hidden, eps=eps, impl=attn_impl)
        elif isinstance(part, S.MoEFFN):
            m = build_ffn(part, hidden, eps, impl=moe_impl)
        elif isinstance(part, (S.DenseFFN,)):
            m = build_ffn(part, hidden, eps)
        else:
            raise TypeError(f"not a spec mixer or FFN: {type(part).__name__}")
    return m.to(dtype) if dtype is not None else m


class GatedNorm(nn.Module):
    """A.X K2's gated RMSNorm: y = norm(x), then y * sigmoid(fc2(silu(fc1(y)))), fc1 d -> rank and
    fc2 rank -> d unbiased, the sigmoid in float32 (transformers' AXK2GatedRMSNorm). Per token:
    4 d rank FLOPs beside the norm (models.cost's "gated norms")."""

    def __init__(self, norm: nn.Module, d: int, rank: int):
        super().__init__()
        self.norm = norm
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, rank, bias=False)
        self.mlp.fc2 = nn.Linear(rank, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        g = self.mlp.fc2(F.silu(self.mlp.fc1(y)))
        return (y * torch.sigmoid(g.float())).to(y.dtype)


def make_norm(spec: S.ModelSpec, eps: float = 1e-6) -> nn.Module:
    """The spec's hidden-size norm: RMSNorm (d), LayerNorm (d, + d bias), OLMo 1's weightless LN,
    nanochat's weightless RMSNorm."""
    d = spec.hidden_size
    if spec.norm == "rmsnorm":
        return RMSNorm(d, eps)
    if spec.norm == "rmsnorm_noparam":
        return RMSNorm(d, eps, affine=False)
    if spec.norm == "layernorm_noparam":
        return nn.LayerNorm(d, eps=eps, elementwise_affine=False)
    return nn.LayerNorm(d, eps=eps, bias=spec.norm_bias)


@dataclass(frozen=True)
class Stage:
    """Sub-blocks that read the same input and add into one residual:
    x + post(sum sub_post_i(sub_i(pre_i(x))))."""
    subs: tuple[tuple[str, int], ...]      # ("mixer", i) or ("ffn", j)
    pre: tuple[int | None, ...]            # norm index applied to the input of each sub-block
    post: int | None                       # norm index applied to the stage's output
    sub_post: tuple[int | None, ...] = ()  # norm index applied to each sub-block's output (or none)


def plan_stages(placement: str, n_mix: int, n_ffn: int, n_norms: int) -> list[Stage]:
    """How a layer's mixers, FFNs and ``n_norms`` norms connect.

    pre: x + sub(norm(x)) per sub-block; post (OLMo 2): x + norm(sub(x)); sandwich (Gemma 2/3):
    x + post_norm(sub(pre_norm(x))); parallel (GPT-J, Phi-2, Falcon): x + sum sub(norm(x)), one
    shared norm or one for the mixers and one for the FFNs. Layers with fewer norms than
    sub-blocks run their mixers side by side (Falcon-H1: attention and Mamba on one norm) or, with
    two norms per mixer, as LongCat-Flash's two sublayers (mixer i, then FFNs j with j % M == i).
    Sandwiched FFNs side by side with a norm before and after each and one after their sum
    (2 M + 2 F + 1 norms) are Gemma 4's dense MLP beside its MoE block; pre-norms plus a norm after
    each FFN (M + 2 F) are A.X K1's layers.
    """
    mixers = [("mixer", i) for i in range(n_mix)]
    ffns = [("ffn", j) for j in range(n_ffn)]
    subs = mixers + ffns
    if placement == "pre" and n_ffn and n_norms == n_mix + 2 * n_ffn:
        # A.X K1: pre-norms, and a norm on each FFN's output before its residual add
        return ([Stage((m,), (i,), None) for i, m in enumerate(mixers)]
                + [Stage((f,), (n_mix + 2 * j,), n_mix + 2 * j + 1) for j, f in enumerate(ffns)])
    if placement == "sandwich" and n_ffn > 1 and n_norms == 2 * (n_mix + n_ffn) + 1:
        first = 2 * n_mix
        return ([Stage((m,), (2 * i,), 2 * i + 1) for i, m in enumerate(mixers)]
                + [Stage(tuple(ffns), tuple(first + 2 * j for j in range(n_ffn)), first + 2 * n_ffn,
                         tuple(first + 2 * j + 1 for j in range(n_ffn)))])
    if placement == "parallel":
        if n_norms <= 1:
            pre = tuple(0 if n_norms else None for _ in subs)
        else:
            pre = tuple(0 if kind == "mixer" else 1 for kind, _ in subs)
        return [Stage(tuple(subs), pre, None)]
    per = 2 if placement == "sandwich" else 1
    if n_norms == per * len(subs):
        groups = [[s] for s in subs]
    elif n_mix > 1 and n_norms == per * (1 + n_ffn):
        groups = [mixers] + [[f] for f in ffns]
    elif n_mix > 1 and n_norms == per * 2 * n_mix:
        groups = []
        for i in range(n_mix):
            groups += [[mixers[i]], [f for f in ffns if f[1] % n_mix == i]]
    else:
        raise ValueError(f"cannot place {n_norms} norms around {n_mix} mixers and {n_ffn} FFNs "
                         f"({placement} norm placement)")
    stages = []
    for g, group in enumerate(groups):
        if placement == "sandwich":
            pre, post = 2 * g, 2 * g + 1
        elif placement == "post":
            pre, post = None, g
        else:
            pre, post = g, None
        stages.append(Stage(tuple(group), tuple(pre for _ in group), post))
    return stages


class DecoderLayer(nn.Module):
    """Norms + mixers + FFNs with residuals, as ``plan_stages`` lays them out."""

    def __init__(self, spec: S.ModelSpec, layer: S.Layer, **block_kw):
        super().__init__()
        d = spec.hidden_size
        kw = {**dict(rope_fraction=spec.rope_fraction, position=spec.position, rope_theta=spec.rope_theta,
                     rope_interleaved=spec.rope_interleaved, rope_scaling=spec.rope_scaling, norm=spec.norm,
                     rope_reversed=spec.rope_reversed),
              **block_kw}
        self.mixers = nn.ModuleList(build_block(m, d, **kw) for m in layer.mixers)
        self.ffns = nn.ModuleList(build_block(f, d, **kw) for f in layer.ffns)
        eps = block_kw.get("eps", 1e-6)
        n_norms = spec.norms_in(layer)
        self.norms = nn.ModuleList(make_norm(spec, eps) for _ in range(n_norms))
        self.stages = plan_stages(spec.placement_of(layer), len(layer.mixers), len(layer.ffns), n_norms)
        for stage in self.stages:       # A.X K2: a sublayer whose input norm is gated
            for (kind, i), pre in zip(stage.subs, stage.pre):
                rank = layer.norm_gate(i + (len(layer.mixers) if kind == "ffn" else 0))
                if rank and pre is not None and not isinstance(self.norms[pre], GatedNorm):
                    self.norms[pre] = GatedNorm(self.norms[pre], d, rank)
        if spec.per_layer_input:        # Gemma 3n/4: the layer's slice of the per-layer inputs
            act = next((f.activation for f in layer.ffns), "gelu_tanh")
            self.per_layer = PerLayerInput(d, spec.per_layer_input, make_norm(spec, eps), act)
        if spec.layer_scalar:           # Gemma 4: the layer's output times a stored scalar
            self.layer_scalar = nn.Parameter(torch.ones(1))
        if spec.altup_streams:          # Gemma 3n: N streams in and out, the layer runs on one
            self.altup = AltUp(d, spec.altup_streams, make_norm(spec, eps))
        if spec.laurel_rank:            # Gemma 3n: a low-rank residual beside the first stage
            self.laurel = Laurel(d, spec.laurel_rank, make_norm(spec, eps))
        self.residual_scale = spec.residual_scale     # Granite: residual_multiplier
        # Flamingo / Llama 3.2 Vision: a gated cross-attention mixer gates the layer's FFNs too
        self._ffn_gated_by = next((i for i, m in enumerate(self.mixers) if hasattr(m, "ffn_gate")), None)

    def _ffn(self, i: int, h: torch.Tensor) -> torch.Tensor:
        y = self.ffns[i](h)
        if self._ffn_gated_by is None:
            return y
        return y * self.mixers[self._ffn_gated_by].ffn_scale().to(y.dtype)

    def _stages(self, x, fn):
        for s, stage in enumerate(self.stages):
            out, first = 0, None
            for n, ((kind, i), pre) in enumerate(zip(stage.subs, stage.pre)):
                h = self.norms[pre](x) if pre is not None else x
                first = h if first is None else first
                y = fn(kind, i, h)
                if stage.sub_post:
                    y = self.norms[stage.sub_post[n]](y) if stage.sub_post[n] is not None else y
                out = out + y
            if stage.post is not None:
                out = self.norms[stage.post](out)
            if s == 0 and hasattr(self, "laurel"):
                x = (x + out + self.laurel(first)) * 0.5 ** 0.5
            else:
                x = x + (out if self.residual_scale == 1.0 else out * self.residual_scale)
        return x

    def _per_layer_input(self, per_layer_input):
        if per_layer_input is None:
            raise ValueError("this layer adds a per-layer input [B, L, per_layer_input]: pass it")
        return per_layer_input

    def _run(self, x, fn, per_layer_input=None):
        if hasattr(self, "altup"):
            return self._run_altup(x, fn, per_layer_input)
        x = self._stages(x, fn)
        if hasattr(self, "per_layer"):
            x = self.per_layer(x, self._per_layer_input(per_layer_input))
        if hasattr(self, "layer_scalar"):
            x = x * self.layer_scalar
        return x

    def _run_altup(self, x, fn, per_layer_input):
        """x [B, L, N * D]: predict the N streams, run the layer on stream 0, correct them all;
        the per-layer input goes into streams 1 .. N - 1 (Gemma3nTextDecoderLayer)."""
        predictions = self.altup.predict(x.unflatten(-1, (self.altup.streams, -1)))     # [B, L, N, D]
        out = self.altup.correct(predictions, self._stages(predictions[..., 0, :], fn))
        if hasattr(self, "per_layer"):
            term = self.per_layer.term(self.altup.scaled(out[..., 0, :]), self._per_layer_input(per_layer_input))
            out = torch.cat([out[..., :1, :], out[..., 1:, :] + term.unsqueeze(-2)], dim=-2)
        return out.flatten(-2)

    def new_state(self, batch: int, max_len: int) -> list:
        return [m.new_state(batch, max_len) for m in self.mixers]

    def carried_state(self, states: list) -> list[torch.Tensor]:
        """The state tensors a prefill reads as well as writes: recurrent and conv states, which a
        prefill continues from (zero them to prefill a new prompt into ``states``). KV and latent
        caches are only written by a prefill."""
        return [t for m, st in zip(self.mixers, states) if not isinstance(m, (Attention, MLA, CrossAttention))
                for t in st.values()]

    def forward(self, x: torch.Tensor, states: list | None = None,
                per_layer_input: torch.Tensor | None = None) -> torch.Tensor:
        """Prefill: x [B, S, W] -> [B, S, W], W the spec's residual_width (D, or N * D with AltUp);
        fills the mixers' ``states`` when given (recurrent ones continue from what they hold: see
        ``carried_state``). ``per_layer_input`` [B, S, p]: the layer's per-layer inputs, where the
        spec has them."""
        def fn(kind, i, h):
            if kind == "ffn":
                return self._ffn(i, h)
            return self.mixers[i](h, states[i] if states is not None else None)
        return self._run(x, fn, per_layer_input)

    def step(self, x: torch.Tensor, states: list, pos: int,
             per_layer_input: torch.Tensor | None = None) -> torch.Tensor:
        """Decode one token per sequence: x [B, 1, W] at position ``pos``."""
        def fn(kind, i, h):
            return self._ffn(i, h) if kind == "ffn" else self.mixers[i].step(h, states[i], pos)
        return self._run(x, fn, per_layer_input)

    def step_detached(self, x: torch.Tensor, states: list, pos: int,
                      per_layer_input: torch.Tensor | None = None) -> tuple[torch.Tensor, list]:
        """``step`` as a pure function, for the ONNX export of the decode step: writes nothing.
        Returns (y, updates): updates[i] is mixer i's change of state, as a dict of its state's
        names: the new token's rows of a KV or latent cache (the caller writes them into slot
        ``pos % T``: ``apply_update`` does both), the whole new value of a recurrent state."""
        updates: list = [None] * len(self.mixers)

        def fn(kind, i, h):
            if kind == "ffn":
                return self._ffn(i, h)
            y, updates[i] = self.mixers[i].step_detached(h, states[i], pos)
            return y
        return self._run(x, fn, per_layer_input), updates


def apply_update(state: dict, update: dict, pos: int) -> None:
    """Apply a mixer's ``step_detached`` update to its ``state``, leaving it as ``step`` would: a
    tensor of the state's shape replaces it; a cache [B, (KV,) T, d] takes the row [B, (KV,) 1, d]
    at slot ``pos % T`` (the token axis is -2 in every cache)."""
    for name, new in update.items():
        old = state[name]
        if new.shape == old.shape:
            old.copy_(new)
        else:
            old.select(-2, pos % old.shape[-2]).copy_(new.squeeze(-2))


def build_layer(spec: S.ModelSpec, layer: S.Layer, dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu", index: int | None = None, **block_kw) -> DecoderLayer:
    """A decoder layer of ``spec`` at its true dimensions, as layer ``index`` of the model (None:
    the first layer of its kind). ``block_kw``: rope_theta, eps, attn_impl ("sdpa" | "eager"),
    moe_impl ("loop" | "dense")."""
    layers = spec.layers
    if index is None:
        index = next((i for i, other in enumerate(layers) if other == layer), 0)
    with torch.device(device):
        m = DecoderLayer(spec, layer, device=device, depth=(index, len(layers)), **block_kw)
    return m.to(dtype)
