"""The cost model: parameters, memory, FLOPs and roofline latency of a spec on a device.

Conventions (DESIGN.md, "Cost model conventions"; shown in the UI's tooltips):

- FLOPs: 2 per multiply-accumulate, matmuls only (projections, attention scores and values,
  recurrences, short convolutions); elementwise work is not counted, as in
  ``torch.utils.flop_counter``. Attention counts exactly the (query, key) pairs of the causal mask;
  a sliding layer's query at position i sees min(i, window) keys; a chunked layer sees the keys of
  its own chunk. MoE counts top_k routed experts plus the shared experts per token. Prefill applies
  the LM head to the last token only. Decode is one new token per sequence at position `position`.
- Memory: weight matrices at the weight format, everything else (embeddings, LM head, norms,
  biases, routers, convolutions) at the embedding format; KV cache per layer type; activations;
  a reserve for the framework.
- Latency: per operator, max(FLOPs / (peak x compute efficiency), bytes / (bandwidth x memory
  efficiency)) (the roofline model, Williams et al., CACM 2009); tensor parallelism divides both
  and adds two ring all-reduces per layer.

Everything is computed once per distinct block and multiplied by the number of layers that use
it, so a report for a 61-layer model costs well under a millisecond.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .dtypes import KV_DTYPES, dtype
from .hardware import Hardware, get_hardware
from .params import (ParamReport, altup_params, altup_stream_params, count_params, ffn_params,
                     laurel_params, mixer_params, moa_expert_params, norm_gate_params, per_layer_input_params,
                     per_layer_table_params, routed_real_experts)
from .spec import (MLA, SSM, Attention, CrossAttention, Layer, LinearAttention, ModelSpec, MoEFFN, ShortConv,
                   SpecError, readable)

GiB = 2**30


# Far beyond any deployment; above them a figure is a typo, and FLOP counts overflow floats.
WORKLOAD_LIMITS = {"context": 2 ** 30, "batch": 2 ** 24, "devices": 2 ** 16, "group_size": 2 ** 20}


@dataclass(frozen=True)
class Workload:
    """What is run and where. ``context`` prompt tokens per sequence, ``batch`` sequences."""

    context: int = 4096
    batch: int = 1
    position: int | None = None        # decode position; None: right after the prompt
    weights: str = "bf16"
    # routed experts' matrices in a format of their own ("": as ``weights``): gpt-oss ships its
    # experts in MXFP4 beside bf16 attention; offloading stacks quantize experts alone
    expert_weights: str = ""
    kv: str = "bf16"
    activations: str = "bf16"
    embeddings: str = "bf16"
    group_size: int = 128
    hardware: str = "h100-sxm"
    devices: int = 1
    compute_efficiency: float = 0.70   # achieved / dense peak on large GEMMs (typical cuBLAS)
    memory_efficiency: float = 0.80    # achieved / datasheet bandwidth on streaming kernels
    allreduce_latency_s: float = 10e-6  # per all-reduce, NCCL ring on NVLink (order of magnitude)
    reserve_bytes: float = 1.0 * GiB   # CUDA context, allocator slack, framework buffers
    reserve_fraction: float = 0.05     # fragmentation, proportional to weights + KV

    def validate(self) -> None:
        for name in ("context", "batch", "devices", "group_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SpecError(name, f"must be a positive integer, got {value!r}")
            if value > WORKLOAD_LIMITS[name]:
                raise SpecError(name, f"must be at most {WORKLOAD_LIMITS[name]:,}, got {readable(value)}")
        if self.position is not None and (isinstance(self.position, bool) or not isinstance(self.position, int)
                                          or not 0 <= self.position <= WORKLOAD_LIMITS["context"]):
            raise SpecError("position", f"must be an integer from 0 to {WORKLOAD_LIMITS['context']:,}, "
                                        f"got {self.position!r:.20}")
        for name in ("weights", "kv", "activations", "embeddings"):
            dtype(getattr(self, name), name)
        if not isinstance(self.expert_weights, str):
            raise SpecError("expert_weights", f"must be a number format or empty, got {self.expert_weights!r}")
        if self.expert_weights:
            dtype(self.expert_weights, "expert_weights")
        if dtype(self.activations).name not in ("fp32", "bf16", "fp16", "fp8"):
            raise SpecError("activations", "activations are fp32, bf16, fp16 or fp8")
        if dtype(self.kv).name not in KV_DTYPES:      # nf4, fp4 and ternary are weight-only formats
            raise SpecError("kv", f"the KV cache is stored as {', '.join(KV_DTYPES)}; "
                                  f"{dtype(self.kv).name} is a weight-only format")
        for name in ("compute_efficiency", "memory_efficiency"):
            value = getattr(self, name)
            if not (0 < value <= 1):
                raise SpecError(name, f"must be in (0, 1], got {value}")

    @property
    def decode_position(self) -> int:
        return self.context if self.position is None else self.position


@dataclass
class Op:
    """One operator of one block, for one forward pass (prefill or a decode step)."""

    name: str
    kind: str            # projection | attention | recurrence | conv | ffn | experts | router | lm_head | comm
    flops: float
    bytes: float
    count: int = 1       # layers that run it
    time_s: float = 0.0
    bound: str = ""      # compute | memory | network

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else math.inf


@dataclass
class PhaseReport:
    ops: list[Op]
    flops: float
    bytes: float
    time_s: float

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for op in self.ops:
            out[op.kind] = out.get(op.kind, 0.0) + op.time_s * op.count
        return out


@dataclass
class MemoryReport:
    weights: float
    kv_cache: float
    activations: float
    reserve: float
    capacity: float          # all devices together
    per_device: float
    devices: int

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.activations + self.reserve

    @property
    def fits(self) -> bool:
        return self.per_device <= self.capacity / self.devices


@dataclass
class CostReport:
    spec: ModelSpec
    workload: Workload
    hardware: Hardware
    params: ParamReport
    memory: MemoryReport
    prefill: PhaseReport
    decode: PhaseReport
    kv_bytes_per_token: float            # all layers, one sequence, at full growth
    max_batch: int
    max_context: int
    compute_dtype: str
    notes: list[str] = field(default_factory=list)

    @property
    def ttft_s(self) -> float:
        return self.prefill.time_s

    @property
    def tpot_s(self) -> float:
        return self.decode.time_s

    @property
    def tokens_per_s(self) -> float:
        return self.workload.batch / self.decode.time_s if self.decode.time_s else math.inf

    @property
    def max_context_limit(self) -> str:
        """What stopped the largest context: "memory", or the search's cap, "context length",
        "context asked" or, for a recurrence that states no context length, "search cap" (see
        ``context_cap``)."""
        if self.max_context < context_cap(self.spec, self.workload):
            return "memory"
        if self.max_context != self.spec.context_length:
            return "context asked"
        return "context length" if self.spec.context_stated else "search cap"


# --------------------------------------------------------------------------- attention geometry

def attended_pairs(tokens: int, kind: str, window: int, start: int = 0) -> int:
    """(query, key) pairs under the causal mask for queries at positions start+1 .. start+tokens.

    full: query i sees i keys; sliding: min(i, window); chunked: the keys of its own chunk up to
    itself, (i-1) mod window + 1.
    """
    def upto(n: int) -> int:   # sum over i = 1..n
        if n <= 0:
            return 0
        if kind == "full" or window <= 0:
            return n * (n + 1) // 2
        if kind == "sliding":
            w = min(n, window)
            return w * (w + 1) // 2 + (n - w) * window
        full_chunks, rest = divmod(n, window)
        return full_chunks * window * (window + 1) // 2 + rest * (rest + 1) // 2
    return upto(start + tokens) - upto(start)


def keys_seen(position: int, kind: str, window: int) -> int:
    """Keys the query at 1-based position ``position`` attends to."""
    return attended_pairs(1, kind, window, start=position - 1)


def kv_cached_tokens(tokens: int, kind: str, window: int) -> int:
    """Tokens a layer must keep: all of them, or the last window (sliding and chunked)."""
    return tokens if kind == "full" or window <= 0 else min(tokens, window)


def kv_elements_per_token(mixer) -> int:
    """Cached elements per token. GQA: 2 * kv_heads * head_dim (K and V), none in a KV-shared
    layer (Gemma 3n/4: it reads an earlier layer's); MLA: kv_lora_rank + qk_rope_dim (the latent
    and the shared RoPE key), plus index_head_dim for DSA's indexer keys (at the KV format:
    DeepSeek's own kernels keep them in fp8)."""
    if isinstance(mixer, Attention):
        return 0 if mixer.kv_shared else mixer.kv_heads * (mixer.head_dim + mixer.vdim)
    if isinstance(mixer, MLA):
        return mixer.kv_lora_rank + mixer.qk_rope_dim + mixer.index_head_dim
    return 0


def image_kv_elements(mixer) -> int:
    """A cross-attention layer's cache per sequence: the image's keys and values, image_tokens x
    2 x kv_heads x head_dim, whatever the context (MllamaTextCrossAttention caches them at the
    prompt and every later token reads them)."""
    if isinstance(mixer, CrossAttention):
        return mixer.image_tokens * 2 * mixer.kv_heads * mixer.head_dim
    return 0


def state_elements(mixer) -> int:
    """Constant recurrent state per sequence: linear attention heads x key_dim x value_dim plus
    the short-conv window; Mamba-2 heads x head_dim x d_state plus conv; Mamba-1 d_inner x d_state;
    LFM2's short convolution only its window, (kernel - 1) x channels."""
    if isinstance(mixer, LinearAttention):
        conv = (mixer.conv_kernel - 1) * (mixer.key_heads * mixer.key_dim * 2
                                          + mixer.value_heads * mixer.value_dim) if mixer.conv_kernel else 0
        return mixer.value_heads * mixer.key_dim * mixer.value_dim + max(conv, 0)
    if isinstance(mixer, SSM):
        if mixer.variant == "mamba2":
            conv = (mixer.conv_kernel - 1) * (mixer.d_inner + 2 * mixer.groups * mixer.d_state)
            return mixer.d_inner * mixer.d_state + conv
        return mixer.d_inner * mixer.d_state + (mixer.conv_kernel - 1) * mixer.d_inner
    if isinstance(mixer, ShortConv):
        return (mixer.kernel - 1) * mixer.channels
    return 0


def layer_cache_bytes(layer: Layer, tokens: int, kv_bytes: float) -> float:
    """KV cache plus recurrent state of one layer for one sequence of ``tokens`` tokens."""
    total = 0.0
    for m in layer.mixers:
        if isinstance(m, (Attention, MLA)):
            total += kv_elements_per_token(m) * kv_cached_tokens(tokens, m.kind, m.window) * kv_bytes
        elif isinstance(m, CrossAttention):
            total += image_kv_elements(m) * kv_bytes
        else:
            total += state_elements(m) * kv_bytes
    return total


def kv_cache_bytes(spec: ModelSpec, tokens: int, batch: int, kv_bytes: float) -> float:
    counts = _block_counts(spec)
    return batch * sum(n * layer_cache_bytes(spec.blocks[b], tokens, kv_bytes)
                       for b, n in counts.items())


def _per_spec(fn):
    """Memoise ``fn(spec, *args)`` for the specs seen last (by identity: a spec's layout never
    changes, and hashing a whole spec costs more than the walk over its layers). The charts cost
    one model at 20 sequence lengths and 4 variants: these walks were a fifth of that."""
    memo: dict = {}

    def cached(spec: ModelSpec, *args):
        key = (id(spec), *args)
        hit = memo.get(key)
        if hit is not None and hit[0] is spec:
            return hit[1]
        if len(memo) > 64:
            memo.clear()
        value = fn(spec, *args)
        memo[key] = (spec, value)
        return value
    cached.__doc__ = fn.__doc__
    return cached


@_per_spec
def _block_counts(spec: ModelSpec) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in spec.layout:
        counts[name] = counts.get(name, 0) + 1
    return counts


def reads_shared_kv_only(layer: Layer) -> bool:
    """A layer whose mixers are all KV-shared attention: it writes no cache for later layers."""
    return bool(layer.mixers) and all(isinstance(m, Attention) and m.kv_shared for m in layer.mixers)


def prefill_tail_start(spec: ModelSpec) -> int:
    """First layer of the trailing run of KV-shared layers (the layer count if there is none).

    Nothing after it reads its keys and values, so a prefill needs those layers only at the
    tokens whose logits it keeps: the last one (transformers' Gemma 3n/4 slice them so). Each such
    layer then costs a decode step at the prompt's last position, over the prompt's cache."""
    i = spec.num_layers
    while i > 0 and reads_shared_kv_only(spec.blocks[spec.layout[i - 1]]):
        i -= 1
    return i


def tail_blocks(spec: ModelSpec) -> set[str]:
    """Blocks every layer of which lies in the tail of ``prefill_tail_start``."""
    tail = prefill_tail_start(spec)
    return set(spec.layout[tail:]) - set(spec.layout[:tail])


@_per_spec
def _runs(spec: ModelSpec, decode: bool) -> dict[tuple[str, bool], int]:
    """Layers per (block, in a prefill's tail of ``prefill_tail_start``)."""
    tail = spec.num_layers if decode else prefill_tail_start(spec)
    counts: dict[tuple[str, bool], int] = {}
    for i, name in enumerate(spec.layout):
        counts[name, i >= tail] = counts.get((name, i >= tail), 0) + 1
    return counts


def _phase_block_ops(spec: ModelSpec, name: str, tail: bool, tokens: int, batch: int, start: int,
                     fmt: "_Fmt", decode: bool, dense_attention: bool = False) -> list["Op"]:
    """A block's ops in a phase; a prefill's tail layers run the last token only."""
    if tail:
        return block_ops(spec, spec.blocks[name], 1, batch, start + tokens - 1, fmt, True, dense_attention)
    return block_ops(spec, spec.blocks[name], tokens, batch, start, fmt, decode, dense_attention)


# --------------------------------------------------------------------------- FLOPs and bytes

@dataclass(frozen=True)
class _Fmt:
    w: float      # bytes per weight-matrix element
    keep: float   # bytes per kept parameter
    act: float
    kv: float
    w_expert: float | None = None     # per routed-expert matrix element; None: as ``w``

    @property
    def expert(self) -> float:
        return self.w if self.w_expert is None else self.w_expert


def _experts_touched(experts: int, picks: float) -> float:
    """Expected distinct experts hit by ``picks`` uniform draws: E (1 - (1 - 1/E)^picks)."""
    return experts * (1.0 - (1.0 - 1.0 / experts) ** picks)


def _mixer_ops(m, d: int, tokens: int, batch: int, start: int, fmt: _Fmt, decode: bool,
               dense_attention: bool) -> list[Op]:
    _, params = mixer_params(m, d)
    n_tok = tokens * batch
    w_bytes = params.matrix * fmt.w + params.kept * fmt.keep
    ops = []
    if isinstance(m, Attention):
        q_out = m.heads * m.head_dim * (2 if m.output_gate else 1)
        kv_elems = m.kv_heads * (m.head_dim + m.vdim)       # read from the cache, its own or shared
        kv_out = 0 if m.kv_shared else m.kv_heads * (m.head_dim + (0 if m.value_from_key else m.vdim))
        proj_io = n_tok * (d + q_out + kv_out + m.heads * m.vdim + d) * fmt.act
        proj_flops = 2 * params.matrix * n_tok
        if m.experts:
            # JetMoE's mixture of attention heads: each token's top_k experts run their q and o
            # (top_k x kv_heads heads in all), the router scores every expert; a batch reads the
            # experts its tokens touch
            per = moa_expert_params(m, d).matrix
            touched = _experts_touched(m.experts, m.top_k * n_tok)
            proj_flops = 2 * (params.matrix - (m.experts - m.top_k) * per) * n_tok + 2 * d * m.experts * n_tok
            w_bytes -= (m.experts - touched) * per * fmt.w
        ops.append(Op("qo projections" if m.kv_shared else "qkvo projections", "projection",
                      proj_flops, w_bytes + proj_io))
        pairs = (tokens * (start + tokens) if dense_attention else
                 attended_pairs(tokens, m.kind, m.window, start))
        keys = kv_cached_tokens(start + tokens, m.kind, m.window)
        core_bytes = batch * ((keys if decode else tokens) * kv_elems * fmt.kv
                              + tokens * m.heads * (m.head_dim + m.mixed_vdim) * fmt.act)
        # per visible (query, key) pair: q.k over head_dim and the weights times mixed_vdim value
        # channels (twice vdim in differential attention, arXiv:2410.05258)
        ops.append(Op("attention", "attention", 2 * batch * m.heads * (m.head_dim + m.mixed_vdim) * pairs,
                      core_bytes))
        return ops
    if isinstance(m, CrossAttention):
        return _cross_attention_ops(m, d, params, tokens, batch, start, fmt, decode)
    if isinstance(m, MLA):
        keys = kv_cached_tokens(start + tokens, m.kind, m.window)
        pairs = tokens * (start + tokens) if dense_attention else attended_pairs(tokens, m.kind, m.window, start)
        latent = m.kv_lora_rank + m.qk_rope_dim
        if m.sparse:
            # DeepSeek Sparse Attention (DeepSeek-V3.2-Exp report, sec. 2.1): the indexer scores
            # every causal pair, I = sum_h w_h ReLU(q_h . k), 2 (index_head_dim + 1) FLOPs per head
            # and pair, after its per-head weights w = x W (kept in fp32, so not among the
            # matrices); the attention then reads only the top index_topk keys: min(i, topk) for
            # query i, the sliding-window count with window topk.
            ih, hd = m.index_heads, m.index_head_dim
            index_bytes = batch * ((keys if decode else tokens) * hd * fmt.kv
                                   + (0 if decode else tokens * ih * hd * fmt.act))
            ops.append(Op("DSA indexer", "attention", 2 * batch * ih * (hd + 1) * pairs + 2 * d * ih * n_tok,
                          index_bytes))
            if not dense_attention:
                pairs = attended_pairs(tokens, "sliding", m.index_topk, start)
            keys = min(keys, m.index_topk)
        if decode:
            # Absorbed decode (DeepSeek-V2 paper, sec. 2.1.2): fold W_UK into the query and W_UV
            # after the attention, so scores and values are taken against the cached latent.
            up = m.kv_lora_rank * m.heads * (m.qk_nope_dim + m.v_head_dim)
            proj_flops = 2 * (params.matrix - up) * n_tok + 2 * up * n_tok
            core = 2 * batch * m.heads * (latent + m.kv_lora_rank) * pairs
            core_bytes = batch * keys * latent * fmt.kv
        else:
            proj_flops = 2 * params.matrix * n_tok
            core = 2 * batch * m.heads * (m.qk_head_dim + m.v_head_dim) * pairs
            core_bytes = batch * tokens * (latent * fmt.kv
                                           + m.heads * (2 * m.qk_head_dim + 2 * m.v_head_dim) * fmt.act)
        ops.append(Op("MLA projections", "projection", proj_flops,
                      w_bytes + n_tok * 2 * d * fmt.act))
        ops.append(Op("latent attention", "attention", core, core_bytes))
        return ops
    state = state_elements(m)
    if isinstance(m, ShortConv):
        # LFM2: in_proj to B, C, x; C * conv(B * x); out_proj. The conv: 2 * kernel FLOPs per channel.
        ch = m.channels
        ops.append(Op("short conv projections", "projection", 2 * params.matrix * n_tok,
                      w_bytes + n_tok * (d + 3 * ch + ch + d) * fmt.act))
        ops.append(Op("short conv", "recurrence", 2 * m.kernel * ch * n_tok,
                      batch * 2 * state * fmt.kv + n_tok * 2 * ch * fmt.act))
        return ops
    if isinstance(m, LinearAttention):
        # Delta-rule recurrence per token and head: read-out S^T k, rank-1 update, output S^T q:
        # three state-sized products (2 FLOPs each per element).
        rec = 3 * 2 * m.value_heads * m.key_dim * m.value_dim * n_tok
        conv_ch = m.key_heads * m.key_dim * 2 + m.value_heads * m.value_dim
        name = {"gated_deltanet": "Gated DeltaNet", "kimi_delta": "Kimi Delta Attention",
                "lightning": "Lightning attention"}[m.variant]
    else:
        # SSD / selective scan per token: decay-and-update of the state and the C read-out.
        rec = 3 * 2 * m.d_inner * m.d_state * n_tok
        conv_ch = m.d_inner + (2 * m.groups * m.d_state if m.variant == "mamba2" else 0)
        name = "Mamba-2 SSD" if m.variant == "mamba2" else "Mamba selective scan"
    ops.append(Op(f"{name} projections", "projection", 2 * params.matrix * n_tok,
                  w_bytes + n_tok * 2 * (d + conv_ch) * fmt.act))
    conv = 2 * getattr(m, "conv_kernel", 0) * conv_ch * n_tok
    ops.append(Op(name, "recurrence", rec + conv,
                  batch * 2 * state * fmt.kv + n_tok * 2 * conv_ch * fmt.act))
    return ops


def _cross_attention_ops(m: CrossAttention, d: int, params, tokens: int, batch: int, start: int, fmt: _Fmt,
                         decode: bool) -> list[Op]:
    """The text's queries against the image's keys and values. A prompt that starts the sequence
    (start 0) projects the image's M = image_tokens features to K and V once; later tokens, a
    decode step or a continued prefill, read them from the cache and need only q and o. Every
    token attends to all M: 2 heads (head_dim + head_dim) M FLOPs per token."""
    n_tok, img = tokens * batch, m.image_tokens
    qo = m.heads * m.head_dim
    kv_out = 2 * m.kv_heads * m.head_dim
    project_image = not decode and start == 0
    kv_matrix = d * kv_out
    matrix = params.matrix - (0 if project_image else kv_matrix)
    proj_flops = 2 * (params.matrix - kv_matrix) * n_tok + (2 * kv_matrix * img * batch if project_image else 0)
    proj_io = n_tok * 2 * (d + qo) * fmt.act + (batch * img * (d + kv_out) * fmt.act if project_image else 0)
    ops = [Op("cross-attention projections" if project_image else "cross-attention q/o projections",
              "projection", proj_flops, matrix * fmt.w + params.kept * fmt.keep + proj_io)]
    core_bytes = batch * (img * kv_out * fmt.kv + tokens * 2 * qo * fmt.act)
    ops.append(Op("cross-attention", "attention", 2 * batch * m.heads * 2 * m.head_dim * tokens * img, core_bytes))
    return ops


def _ffn_ops(f, d: int, tokens: int, batch: int, fmt: _Fmt) -> list[Op]:
    n_tok = tokens * batch
    parts = ffn_params(f, d)
    if not isinstance(f, MoEFFN):
        c = parts["ffn"]
        width = f.d_ff * (2 if f.gated else 1)
        return [Op("dense FFN", "ffn", 2 * c.matrix * n_tok,
                   c.matrix * fmt.w + c.kept * fmt.keep + n_tok * (2 * d + width) * fmt.act)]
    per_expert = parts["experts"].matrix // f.experts
    real_k = routed_real_experts(f)                 # zero experts cost nothing
    touched = _experts_touched(f.experts, real_k * n_tok)
    router = parts["router"]
    ops = [Op("router", "router", 2 * d * (f.experts + f.zero_experts) * n_tok,
              router.kept * fmt.keep + n_tok * d * fmt.act),
           Op("routed experts", "experts", 2 * per_expert * real_k * n_tok,
              touched * (per_expert * fmt.expert + parts["experts"].kept / f.experts * fmt.keep)
              + n_tok * real_k * (2 * d + f.d_expert * 2) * fmt.act)]
    if f.shared_experts:
        sh = parts["shared_experts"]
        ops.append(Op("shared experts", "ffn", 2 * sh.matrix * n_tok,
                      sh.matrix * fmt.w + n_tok * 2 * d * fmt.act))
    return ops


def _per_layer_input_op(spec: ModelSpec, n_tok: int, fmt: _Fmt) -> Op:
    """Gemma 3n/4, in each layer: gate (d -> p), times the layer's slice of the per-layer input,
    projection back (p -> d)."""
    c, d, p = per_layer_input_params(spec), spec.hidden_size, spec.per_layer_input
    return Op("per-layer input", "projection", 2 * c.matrix * n_tok,
              c.matrix * fmt.w + c.kept * fmt.keep + n_tok * (2 * d + 2 * p) * fmt.act)


def _altup_op(spec: ModelSpec, n_tok: int, fmt: _Fmt) -> Op:
    """Gemma 3n's AltUp in each layer, per token: predict (router d -> N, coefficients N -> N^2,
    the N streams times their N x N matrix: 2 (d N + N^3 + d N^2)) and correct (router again and
    coefficients N -> N: 2 (d N + N^2)). Source: Gemma3nTextAltUp in transformers."""
    n, d = spec.altup_streams, spec.hidden_size
    c = altup_params(spec)
    return Op("AltUp predict + correct", "projection", 2.0 * n_tok * (2 * d * n + n ** 3 + d * n * n + n * n),
              c.kept * fmt.keep + n_tok * 4 * n * d * fmt.act)


def _laurel_op(spec: ModelSpec, n_tok: int, fmt: _Fmt) -> Op:
    """Gemma 3n's LAuReL beside the attention: d -> r -> d (2 * 2 d r per token)."""
    c = laurel_params(spec)
    return Op("LAuReL", "projection", 2 * c.matrix * n_tok,
              c.matrix * fmt.w + c.kept * fmt.keep + n_tok * (2 * spec.hidden_size + spec.laurel_rank) * fmt.act)


def image_encoder_ops(spec: ModelSpec, batch: int, fmt: _Fmt) -> list[Op]:
    """A prompt's image through the image encoder, one image per sequence, where the spec models
    the encoder's forward (Llama 3.2 Vision: its cross-attention layers need one): its FLOPs, and
    its weights read once (at the embeddings' format, as they are counted)."""
    vision = spec.vision
    if vision is None or not vision.flops_per_image:
        return []
    return [Op("image encoder (one image per sequence)", "vision", batch * vision.flops_per_image,
               vision.params * fmt.keep)]


def model_end_ops(spec: ModelSpec, n_tok: int, n_last: int, fmt: _Fmt) -> list[Op]:
    """Work outside the layers besides the embedding lookup and the LM head, for ``n_tok`` tokens
    of which ``n_last`` reach the head:

    - Gemma 3n/4 at the input: each token reads its L*p row of the per-layer table, and the
      embedding is projected to L*p (per_layer_model_projection) and added to it;
    - Gemma 3n's AltUp: N - 1 projections (d x d) make the extra streams of every token, and N - 1
      more merge them back before the final norm, needed only where the head reads (transformers
      merges every token).
    """
    ops = []
    if spec.per_layer_input:
        lp = spec.num_layers * spec.per_layer_input
        _, proj = per_layer_table_params(spec)
        ops += [Op("per-layer input lookup", "lm_head", 0.0, n_tok * lp * fmt.keep),
                Op("per-layer input projection", "projection", 2 * proj.matrix * n_tok,
                   proj.matrix * fmt.w + proj.kept * fmt.keep + n_tok * (spec.hidden_size + 2 * lp) * fmt.act)]
    if spec.altup_streams:
        half = altup_stream_params(spec).matrix // 2
        width = spec.altup_streams * spec.hidden_size
        for name, tokens in (("AltUp stream projections (in)", n_tok), ("AltUp stream projections (out)", n_last)):
            ops.append(Op(name, "projection", 2 * half * tokens,
                          half * fmt.w + tokens * (spec.hidden_size + width) * fmt.act))
    return ops


def block_ops(spec: ModelSpec, layer: Layer, tokens: int, batch: int, start: int, fmt: _Fmt,
              decode: bool, dense_attention: bool = False) -> list[Op]:
    ops: list[Op] = []
    if any(layer.norm_gates):
        # A.X K2's gated RMSNorms: a d -> rank -> d MLP on the normed input of each gated sublayer
        d, n_tok = spec.hidden_size, tokens * batch
        gates = norm_gate_params(layer, d)
        ops.append(Op("gated norms", "projection", 2 * gates.matrix * n_tok,
                      gates.matrix * fmt.w + n_tok * 2 * d * fmt.act))
    for m in layer.mixers:
        ops += _mixer_ops(m, spec.hidden_size, tokens, batch, start, fmt, decode, dense_attention)
    for f in layer.ffns:
        ops += _ffn_ops(f, spec.hidden_size, tokens, batch, fmt)
    if spec.per_layer_input:
        ops.append(_per_layer_input_op(spec, tokens * batch, fmt))
    if spec.altup_streams:
        ops.append(_altup_op(spec, tokens * batch, fmt))
    if spec.laurel_rank:
        ops.append(_laurel_op(spec, tokens * batch, fmt))
    return ops


def phase_flops(spec: ModelSpec, tokens: int, batch: int = 1, start: int = 0, *,
                decode: bool = False, dense_attention: bool = False) -> float:
    """Matmul FLOPs of one forward pass over ``tokens`` new tokens after ``start`` cached ones,
    LM head on the last token of each sequence."""
    fmt = _Fmt(2, 2, 2, 2)
    total = 0.0
    for (name, tail), n in _runs(spec, decode).items():
        total += n * sum(op.flops for op in _phase_block_ops(spec, name, tail, tokens, batch, start, fmt,
                                                             decode, dense_attention))
    total += sum(op.flops for op in model_end_ops(spec, tokens * batch, batch, fmt))
    if not decode and start == 0:
        total += sum(op.flops for op in image_encoder_ops(spec, batch, fmt))
    return total + 2 * batch * spec.hidden_size * spec.vocab_size


# --------------------------------------------------------------------------- the report

def _roofline(ops: list[Op], peak: float, bw: float, wl: Workload) -> float:
    total = 0.0
    for op in ops:
        t_c = op.flops / (peak * wl.compute_efficiency)
        t_m = op.bytes / (bw * wl.memory_efficiency)
        op.time_s, op.bound = (t_c, "compute") if t_c >= t_m else (t_m, "memory")
        total += op.time_s * op.count
    return total


def _phase(spec: ModelSpec, wl: Workload, hw: Hardware, fmt: _Fmt, peak: float, decode: bool,
           params: ParamReport) -> PhaseReport:
    tokens = 1 if decode else wl.context
    start = wl.decode_position if decode else 0
    n = wl.devices
    ops: list[Op] = []
    for (name, tail), count in _runs(spec, decode).items():
        for op in _phase_block_ops(spec, name, tail, tokens, wl.batch, start, fmt, decode):
            op.count = count
            op.name = f"{name}{' (last token)' if tail else ''}: {op.name}"
            op.flops /= n
            op.bytes /= n
            ops.append(op)
    d, v = spec.hidden_size, spec.vocab_size
    head_params = params.component("lm_head") or v * d
    ops.append(Op("LM head (last token)", "lm_head", 2 * wl.batch * d * v / n,
                  (head_params * fmt.keep + wl.batch * v * 4) / n))
    ops.append(Op("embedding lookup", "lm_head", 0.0, wl.batch * tokens * d * fmt.keep / n))
    for op in model_end_ops(spec, wl.batch * tokens, wl.batch, fmt) + (
            [] if decode else image_encoder_ops(spec, wl.batch, fmt)):
        op.flops /= n
        op.bytes /= n
        ops.append(op)
    time = _roofline(ops, peak, hw.bandwidth, wl)
    if n > 1:
        # Megatron tensor parallelism: one all-reduce after the mixers, one after the FFNs of
        # each layer; ring all-reduce moves 2 (n-1)/n of the message over each link.
        msg = wl.batch * tokens * d * fmt.act
        per = 2 * (n - 1) / n * msg / hw.interconnect_bandwidth + wl.allreduce_latency_s
        comm = Op("tensor-parallel all-reduce", "comm", 0.0, 2 * (n - 1) / n * msg,
                  count=2 * spec.num_layers, time_s=per, bound="network")
        ops.append(comm)
        time += per * comm.count
    flops = sum(op.flops * op.count for op in ops) * n
    nbytes = sum(op.bytes * op.count for op in ops if op.kind != "comm") * n
    return PhaseReport(ops, flops, nbytes, time)


def widest_intermediate(layer: Layer) -> int:
    """Widest per-token intermediate of a layer, in elements: QKV outputs, the gated FFN hidden,
    the top-k experts' hidden, a recurrence's projections."""
    widest = 0
    for m in layer.mixers:
        if isinstance(m, Attention):
            widest = max(widest, m.heads * m.head_dim * 2 + m.kv_heads * (m.head_dim + m.vdim))
        elif isinstance(m, MLA):
            widest = max(widest, m.heads * (m.qk_head_dim * 2 + m.v_head_dim * 2))
        elif isinstance(m, LinearAttention):
            widest = max(widest, 2 * (m.key_heads * m.key_dim + m.value_heads * m.value_dim))
        elif isinstance(m, ShortConv):
            widest = max(widest, 3 * m.channels)
        elif isinstance(m, CrossAttention):
            widest = max(widest, 2 * m.heads * m.head_dim)
        else:
            widest = max(widest, 2 * m.d_inner + 2 * m.groups * m.d_state)
    for f in layer.ffns:
        if isinstance(f, MoEFFN):
            widest = max(widest, 2 * f.d_expert * f.top_k + 2 * f.shared_dff * f.shared_experts)
        else:
            widest = max(widest, f.d_ff * (2 if f.gated else 1))
    return widest


def activation_bytes(spec: ModelSpec, tokens: int, batch: int, act: float) -> float:
    """Peak transient activations of a prefill pass: the residual stream twice plus the widest
    intermediate of any block, for all tokens at once (no chunked prefill), plus fp32 logits of
    the last token. Gemma 3n/4's per-layer inputs (L x p per token) are made before the first
    layer and live through the pass; Gemma 3n's AltUp makes the stream N copies wide."""
    widest = max(widest_intermediate(layer) for layer in spec.blocks.values())
    per_layer = spec.num_layers * spec.per_layer_input
    return batch * tokens * (2 * spec.residual_width + widest + per_layer) * act + batch * spec.vocab_size * 4


def workload_formats(wl: Workload) -> _Fmt:
    """Bytes per element of each kind as the workload's formats store them."""
    g = wl.group_size
    return _Fmt(dtype(wl.weights).bytes(g), dtype(wl.embeddings).bytes(g), dtype(wl.activations).bytes(),
                dtype(wl.kv).bytes(g), dtype(wl.expert_weights).bytes(g) if wl.expert_weights else None)


def weight_bytes(params: ParamReport, fmt: _Fmt) -> float:
    """Stored weights: the matrices at the weight format (routed experts' at theirs), the rest
    (embeddings, head, norms, biases, routers) at the embedding format."""
    experts = params.expert_matrix
    return (params.quantizable - experts) * fmt.w + experts * fmt.expert + params.kept * fmt.keep


def cost_report(spec: ModelSpec, workload: Workload = Workload(),
                hardware: Hardware | None = None) -> CostReport:
    wl = workload
    wl.validate()
    hw = hardware or get_hardware(wl.hardware)
    notes: list[str] = []
    wdt, adt = dtype(wl.weights, "weights"), dtype(wl.activations, "activations")
    fmt = workload_formats(wl)
    # Weight-only formats compute at the activation format; fp8/fp4 weights with fp8 activations
    # use the device's low-precision tensor-core rate. (The weights' format sets it for every
    # matmul: separate expert weights change bytes, not the rate.)
    compute = adt.compute
    if wdt.name in ("fp8", "fp4", "int8") and adt.name == "fp8":
        compute = wdt.compute
    peak, used = hw.peak(compute)
    if used != compute:
        notes.append(f"{hw.name} has no {compute} rate; matmuls timed at {used}")
    params = count_params(spec)
    weights = weight_bytes(params, fmt)
    kv_total = kv_cache_bytes(spec, wl.context, wl.batch, fmt.kv)
    acts = activation_bytes(spec, wl.context, wl.batch, fmt.act)
    n = wl.devices
    reserve = wl.reserve_bytes * n + wl.reserve_fraction * (weights + kv_total)
    per_device = (weights + kv_total + reserve) / n + acts / n
    memory = MemoryReport(weights, kv_total, acts, reserve, hw.memory_bytes * n, per_device, n)
    prefill = _phase(spec, wl, hw, fmt, peak, False, params)
    decode = _phase(spec, wl, hw, fmt, peak, True, params)
    per_token_kv = kv_cache_bytes(spec, spec.context_length, 1, fmt.kv) / spec.context_length
    max_batch = _max_batch(spec, wl, hw, fmt, weights)
    max_context = _max_context(spec, wl, hw, fmt, weights)
    if max_batch == 0 and max_context == 0:
        # what a sequence holds whatever its length: an image's keys and values, a recurrent state
        fixed = kv_cache_bytes(spec, 0, 1, fmt.kv)
        held = f" (each sequence also holds {fixed / 2**20:,.0f} MiB of cache at any length)" if fixed else ""
        notes.append("not even one token fits beside the weights: add devices or lower the weight bit-width"
                     if wl.batch == 1 else
                     f"at batch {wl.batch} not even one token per sequence fits beside the weights{held}: lower "
                     f"the batch, add devices or lower the weight bit-width")
    elif max_batch == 0:
        notes.append(f"one sequence of {wl.context:,} tokens does not fit; at batch {wl.batch} the "
                     f"largest context that fits is {max_context:,}")
    if wl.context > spec.context_length and spec.context_stated:
        notes.append(f"context {wl.context} exceeds the model's context length "
                     f"{spec.context_length}")
    if wl.position is not None and wl.position > wl.context:
        notes.append(f"the decode step is costed at position {wl.position:,}, beyond the {wl.context:,}-token "
                     f"context that memory and fit are computed for")
    heads = sorted({m.heads for layer in spec.layers for m in layer.mixers
                    if isinstance(m, (Attention, MLA))}) if wl.devices > 1 else []
    if any(h % wl.devices for h in heads):
        notes.append(f"{wl.devices} devices do not split {' or '.join(map(str, heads))} attention heads evenly; "
                     f"the tensor-parallel figures assume an even split")
    if spec.vision is not None and spec.vision.flops_per_image:
        notes.append(f"the prefill runs one image per sequence through the {spec.vision.name} "
                     f"({spec.vision.flops_per_image / 1e12:.1f} TFLOP each)")
    return CostReport(spec, wl, hw, params, memory, prefill, decode, per_token_kv, max_batch,
                      max_context, used, notes)


def _fits(spec: ModelSpec, wl: Workload, hw: Hardware, fmt: _Fmt, weights: float,
          tokens: int, batch: int) -> bool:
    kv = kv_cache_bytes(spec, tokens, batch, fmt.kv)
    acts = activation_bytes(spec, tokens, batch, fmt.act)
    n = wl.devices
    need = (weights + kv + wl.reserve_bytes * n + wl.reserve_fraction * (weights + kv) + acts) / n
    return need <= hw.memory_bytes


def _max_batch(spec, wl, hw, fmt, weights) -> int:
    """Largest batch of ``context``-token sequences that fits (memory is linear in batch)."""
    n = wl.devices
    fixed = (weights * (1 + wl.reserve_fraction) + wl.reserve_bytes * n) / n
    kv1 = kv_cache_bytes(spec, wl.context, 1, fmt.kv)
    per_seq = (kv1 * (1 + wl.reserve_fraction) + activation_bytes(spec, wl.context, 1, fmt.act)) / n
    room = hw.memory_bytes - fixed
    if room <= 0:
        return 0
    return int(room // per_seq) if per_seq > 0 else 1 << 30


def context_cap(spec: ModelSpec, wl: Workload) -> int:
    """Where the search for the largest context stops: the context length, or the context asked
    when that is longer (a stretched RoPE), so that a workload that fits never reports a largest
    context below its own."""
    return max(spec.context_length, wl.context)


def _max_context(spec, wl, hw, fmt, weights) -> int:
    """Largest context (up to ``context_cap``) that fits at ``batch``; memory grows monotonically
    with context, so bisect."""
    if not _fits(spec, wl, hw, fmt, weights, 1, wl.batch):
        return 0
    hi = context_cap(spec, wl)
    if _fits(spec, wl, hw, fmt, weights, hi, wl.batch):
        return hi
    lo = 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _fits(spec, wl, hw, fmt, weights, mid, wl.batch):
            lo = mid
        else:
            hi = mid
    return lo
