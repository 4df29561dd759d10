"""The model spec: one immutable, validated schema for every architecture in the survey.

A spec is a handful of global fields plus an explicit per-layer list. Each layer holds zero or more
token mixers (attention, MLA, linear attention, SSM, short convolution) and zero or more FFNs
(dense, MoE). Most layers have one of each; FFN-only or mixer-only layers (Nemotron-H, Mamba),
parallel hybrids (Falcon-H1: attention and Mamba side by side) and LongCat-Flash's double layers are
the same schema with other counts, so the cost model never needs a per-model code path.

Layers are stored as named blocks plus a layout (one block name per layer), which keeps a 61-layer
spec small and makes "every local layer" edits one replacement.

Invalid input raises :class:`SpecError`, and only that, naming the field and the rule broken.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Mapping, Union


class SpecError(ValueError):
    """A spec, config or override broke a rule. ``field`` is a dotted path, ``rule`` says what."""

    def __init__(self, field_path: str, rule: str):
        self.field = field_path
        self.rule = rule
        super().__init__(f"{field_path}: {rule}" if field_path else rule)


# --------------------------------------------------------------------------- validation helpers

# No size in a model comes near 2**40 (a trillion); beyond it, a typo or a damaged file. The cap
# keeps every figure the cost model derives a finite float.
MAX_SIZE = 2 ** 40


def _positive(path: str, value: Any) -> None:
    _non_negative(path, value)
    if value == 0:
        raise SpecError(path, f"must be positive, got {value}")


def _non_negative(path: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"must be an integer, got {value!r}")
    if value < 0:
        raise SpecError(path, f"must not be negative, got {value}")
    if value > MAX_SIZE:
        raise SpecError(path, too_large(value))


def readable(value: int | float) -> str:
    """A number as a message shows it, however large: 100,000,000, 1.18e+21, a 401-digit number."""
    if isinstance(value, int) and abs(value) < 10 ** 15:
        return f"{value:,}"
    digits = len(str(abs(value))) if isinstance(value, int) else 0
    return f"a {digits}-digit number" if digits > 300 else f"{value:.3g}"


def too_large(value: int | float) -> str:
    """The rule broken by a size above MAX_SIZE."""
    return f"must be at most 2**40 (about 1.1e12), got {readable(value)}"


def _boolean(path: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SpecError(path, f"must be true or false, got {value!r}")


def _scalar(path: str, value: Any, *, zero: bool = True) -> None:
    """A finite real number, positive (or zero where ``zero``: the field's "off" or "default")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(path, f"must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise SpecError(path, f"must be {'zero or ' if zero else ''}positive, got {value!r}")


def _multipliers(path: str, part: Any, names: tuple[str, ...]) -> None:
    """muP's multipliers (Falcon-H1): finite and positive; 1 is none."""
    for name in names:
        _scalar(f"{path}.{name}", getattr(part, name), zero=False)


def _temperature(path: str, part: Any) -> None:
    """A query temperature by position: off (0), or positive over a positive period."""
    _scalar(f"{path}.temperature", part.temperature)
    _non_negative(f"{path}.temperature_period", part.temperature_period)
    _non_negative(f"{path}.temperature_offset", part.temperature_offset)
    if part.temperature and not part.temperature_period:
        raise SpecError(f"{path}.temperature_period", "a query temperature grows once per period: "
                                                      "it needs a positive period (tokens)")


def _choice(path: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SpecError(path, f"must be one of {', '.join(choices)}; got {value!r}")


class _Part:
    """Shared behaviour of the spec's dataclasses: dict round trip with strict keys."""

    KIND: ClassVar[str] = ""

    def validate(self, path: str) -> None:  # overridden
        pass

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.KIND} if self.KIND else {}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str):
        if not isinstance(data, Mapping):
            raise SpecError(path, f"must be an object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        extra = set(data) - names - {"type"}
        if extra:
            raise SpecError(f"{path}.{sorted(extra)[0]}",
                            f"unknown key; allowed keys are {', '.join(sorted(names))}")
        missing = [f.name for f in fields(cls)  # type: ignore[arg-type]
                   if f.name not in data and f.default is dataclasses.MISSING]
        if missing:
            raise SpecError(f"{path}.{missing[0]}", "is required")
        obj = cls(**{k: v for k, v in data.items() if k != "type"})
        obj.validate(path)
        return obj


# --------------------------------------------------------------------------- mixers

HEAD_GATES = ("none", "sigmoid", "softplus")
WEIGHTED_QK_NORMS = ("head", "per_head", "full")


@dataclass(frozen=True)
class Attention(_Part):
    """Softmax attention: MHA (kv_heads == heads), GQA, MQA (kv_heads == 1).

    ``kind`` full attends to every earlier token; sliding to the last ``window`` tokens;
    chunked to the tokens of its own ``window``-sized chunk (Llama 4's local layers).
    """

    KIND: ClassVar[str] = "attention"
    heads: int
    kv_heads: int
    head_dim: int
    kind: str = "full"             # full | sliding | chunked
    window: int = 0                # tokens, for sliding and chunked
    # none | head (over head_dim, one weight vector shared by the heads) | per_head (over head_dim,
    # a weight vector per head: Cohere, StableLM) | full (over all heads' channels) | l2 (no weights,
    # after RoPE: Llama 4's "L2Norm" and nanochat's, both dividing by the root mean square). The
    # weighted ones take the model's norm form: LayerNorms in StableLM, Cohere and Persimmon.
    qk_norm: str = "none"
    qk_norm_bias: bool = False     # Persimmon: the QK LayerNorms add a bias beside each weight
    qkv_bias: bool = False
    out_bias: bool = False
    rope: bool = True              # False: a NoPE layer
    output_gate: bool = False      # Qwen3-Next: q_proj also emits a sigmoid gate per output channel
    sinks: bool = False            # gpt-oss: one learned sink logit per head
    v_head_dim: int = 0            # 0: same as head_dim
    # Gemma 4 (attention_k_eq_v): the values are the key projection's output (before k's norm and
    # RoPE); the layer has no v_proj
    value_from_key: bool = False
    v_norm: bool = False           # Gemma 3n/4: a weightless RMSNorm over each value head
    # Gemma 3n/4 KV sharing: the layer reads the keys and values cached by the last earlier layer
    # of its kind; it has no K/V projections, no K norm and no cache of its own
    kv_shared: bool = False
    # a gate per head on the attention output from g_proj (d -> heads): sigmoid (LFM3) or
    # softplus (Laguna)
    head_gate: str = "none"
    # this layer's share of each head's dims that RoPE rotates (LFM3's and Laguna's full layers);
    # 0: the model's rope_fraction
    rope_fraction: float = 0.0
    rope_theta: float = 0.0        # this layer's RoPE base (Gemma 3's local layers: 10,000); 0: the model's
    out_norm: bool = False         # BitNet: an RMSNorm over all heads' output before o_proj
    # what the scores q.k are multiplied by before the softmax; 0: 1/sqrt(head_dim). Gemma 2/3:
    # query_pre_attn_scalar^-1/2; Gemma 3n/4: 1 (their QK norms set the scale); Granite:
    # attention_multiplier
    scale: float = 0.0
    # Gemma 2's attention soft-cap c: scores -> c * tanh(scores / c) before the softmax. 0: none
    softcap: float = 0.0
    # muP's multipliers (Falcon-H1: attention_in_, key_ and attention_out_multiplier): the input,
    # the keys (after k_proj) and the output (after o_proj) times these. Like any scalar on a
    # projection they change the numbers, not the cost
    in_scale: float = 1.0
    key_scale: float = 1.0
    out_scale: float = 1.0
    # Differential attention (Diff Transformer, arXiv:2410.05258; transformers' DiffLlama): head h
    # and head h + heads/2 attend with the same scores over values two KV heads wide, and the layer
    # keeps softmax_1 V - lambda softmax_2 V, RMS-normalised over those 2 x v_head_dim channels.
    # lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init(layer), its four vectors of head_dim
    # learned; the value products cost twice a plain layer's
    differential: bool = False
    # Mixture of attention heads (MoA, JetMoE): each of ``experts`` holds its own q and o
    # projections for kv_heads heads; a router picks top_k per token, so heads = top_k x kv_heads
    # query heads attend over the shared keys and values, and the outputs of the chosen experts'
    # o projections sum, weighted by the router (out_bias: one bias after the sum). 0: plain
    experts: int = 0
    top_k: int = 0
    # Llama 4's attention temperature (its NoPE layers) and Ministral 3's and Mistral 4's (every
    # layer): the queries times 1 + temperature x ln(1 + floor((position + temperature_offset) /
    # temperature_period)), 1 within the first period, then growing slowly so that long-context
    # scores stay sharp. 0: none. Like the score scale it changes the numbers, not the cost
    temperature: float = 0.0
    temperature_period: int = 0
    temperature_offset: int = 0

    def validate(self, path: str) -> None:
        for name in ("heads", "kv_heads", "head_dim"):
            _positive(f"{path}.{name}", getattr(self, name))
        self._validate_experts(path)
        _temperature(path, self)
        _non_negative(f"{path}.v_head_dim", self.v_head_dim)
        _non_negative(f"{path}.window", self.window)
        if self.heads % self.kv_heads:
            raise SpecError(f"{path}.kv_heads",
                            f"heads ({self.heads}) must be divisible by kv_heads ({self.kv_heads})")
        _choice(f"{path}.kind", self.kind, ("full", "sliding", "chunked"))
        _choice(f"{path}.qk_norm", self.qk_norm, ("none", "head", "per_head", "full", "l2"))
        _choice(f"{path}.head_gate", self.head_gate, HEAD_GATES)
        fraction = self.rope_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or math.isnan(fraction) \
                or not 0.0 <= fraction <= 1.0:
            raise SpecError(f"{path}.rope_fraction", f"must be from 0 (the model's) to 1, got {fraction!r}")
        if self.kind != "full" and self.window <= 0:
            raise SpecError(f"{path}.window", f"a {self.kind} attention layer needs a positive window")
        for name in ("qkv_bias", "out_bias", "rope", "output_gate", "sinks", "value_from_key", "v_norm",
                     "kv_shared", "out_norm", "qk_norm_bias"):
            _boolean(f"{path}.{name}", getattr(self, name))
        if self.qk_norm_bias and self.qk_norm not in WEIGHTED_QK_NORMS:
            raise SpecError(f"{path}.qk_norm_bias", f"a bias needs QK norms with weights "
                                                    f"(qk_norm {' or '.join(WEIGHTED_QK_NORMS)}), not {self.qk_norm!r}")
        _scalar(f"{path}.scale", self.scale)
        _scalar(f"{path}.softcap", self.softcap)
        _scalar(f"{path}.rope_theta", self.rope_theta)
        _multipliers(path, self, ("in_scale", "key_scale", "out_scale"))
        _boolean(f"{path}.differential", self.differential)
        if self.differential:
            if self.heads % 2 or self.kv_heads % 2:
                raise SpecError(f"{path}.kv_heads" if self.kv_heads % 2 else f"{path}.heads",
                                f"differential attention pairs the heads and splits the KV heads in two: "
                                f"both must be even (heads {self.heads}, kv_heads {self.kv_heads})")
            if self.head_gate != "none":
                raise SpecError(f"{path}.head_gate", "a gate per head is not modelled on differential "
                                                     "attention, whose heads combine in pairs")
        if self.value_from_key and self.vdim != self.head_dim:
            raise SpecError(f"{path}.v_head_dim", f"values taken from the keys have head_dim "
                                                  f"({self.head_dim}) channels, not {self.vdim}")
        if self.value_from_key and self.kv_shared:
            raise SpecError(f"{path}.value_from_key", "a KV-shared layer projects no keys or values "
                                                      "of its own")

    @property
    def cache_key(self) -> tuple:
        """What a KV-shared layer and the layer whose cache it reads agree on: the attention
        pattern and the cached K/V shape."""
        return (self.kind, self.window, self.kv_heads, self.head_dim, self.vdim)

    def _validate_experts(self, path: str) -> None:
        _non_negative(f"{path}.experts", self.experts)
        _non_negative(f"{path}.top_k", self.top_k)
        if not self.experts:
            if self.top_k:
                raise SpecError(f"{path}.top_k", "only a mixture of attention heads (experts > 0) routes")
            return
        if not 1 <= self.top_k <= self.experts:
            raise SpecError(f"{path}.top_k", f"must be from 1 to experts ({self.experts}), got {self.top_k}")
        if self.heads != self.top_k * self.kv_heads:
            raise SpecError(f"{path}.heads", f"a mixture of attention heads runs top_k x kv_heads = "
                                             f"{self.top_k * self.kv_heads} query heads, not {self.heads}")
        for name in ("qkv_bias", "output_gate", "value_from_key", "kv_shared", "out_norm", "differential"):
            if getattr(self, name):
                raise SpecError(f"{path}.{name}", "is not modelled on a mixture of attention heads")
        if self.head_gate != "none":
            raise SpecError(f"{path}.head_gate", "is not modelled on a mixture of attention heads")

    @property
    def vdim(self) -> int:
        return self.v_head_dim or self.head_dim

    @property
    def mixed_vdim(self) -> int:
        """The value channels each head's softmax weights multiply: two KV heads' in differential
        attention."""
        return self.vdim * (2 if self.differential else 1)

    @property
    def score_scale(self) -> float:
        return self.scale or self.head_dim ** -0.5


@dataclass(frozen=True)
class MLA(_Part):
    """Multi-head latent attention (DeepSeek-V2/V3, Kimi K2): K and V come from a shared latent of
    ``kv_lora_rank`` plus one shared RoPE key of ``qk_rope_dim``; only those are cached."""

    KIND: ClassVar[str] = "mla"
    heads: int
    kv_lora_rank: int
    qk_nope_dim: int
    qk_rope_dim: int
    v_head_dim: int
    q_lora_rank: int = 0           # 0: queries projected directly (DeepSeek-V2-Lite)
    bias: bool = False             # attention_bias on q_a / kv_a / o projections
    kind: str = "full"
    window: int = 0
    rope: bool = True
    # DeepSeek Sparse Attention (DeepSeek-V3.2): a lightning indexer of index_heads x
    # index_head_dim scores every cached token; the attention then reads only the index_topk best.
    # 0: dense MLA.
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0
    # the indexer's RoPE turns dim i with i + rotated/2 even where the model's turns interleaved
    # pairs (DeepSeek-V3.2; GLM-5's indexer turns pairs as its MLA does)
    index_rope_halves: bool = False
    # what the scores are multiplied by; 0: 1/sqrt(qk_nope_dim + qk_rope_dim). DeepSeek's YaRN
    # configs multiply that by mscale^2 (transformers' yarn_apply_mscale)
    scale: float = 0.0
    # a gate per head on the attention output from g_proj (d -> heads), before o_proj: sigmoid
    # (Ling 3.0's bailing_hybrid)
    head_gate: str = "none"
    # the queries' temperature by position (Mistral 4), as Attention's
    temperature: float = 0.0
    temperature_period: int = 0
    temperature_offset: int = 0
    # A.X K2: no q_b_proj; q_gate_proj (2 q_lora_rank -> heads x (qk_head_dim + v_head_dim)) reads
    # the query latent beside its normed self and gives each head its query and a sigmoid gate
    # per channel of its output, applied before o_proj
    q_gate: bool = False

    def validate(self, path: str) -> None:
        for name in ("heads", "kv_lora_rank", "v_head_dim"):
            _positive(f"{path}.{name}", getattr(self, name))
        _temperature(path, self)
        _boolean(f"{path}.q_gate", self.q_gate)
        if self.q_gate and not self.q_lora_rank:
            raise SpecError(f"{path}.q_gate", "the query gate reads the query latent: it needs q_lora_rank > 0")
        for name in ("qk_nope_dim", "qk_rope_dim", "q_lora_rank", "window", "index_heads",
                     "index_head_dim", "index_topk"):
            _non_negative(f"{path}.{name}", getattr(self, name))
        indexer = (self.index_heads, self.index_head_dim, self.index_topk)
        _boolean(f"{path}.index_rope_halves", self.index_rope_halves)
        if self.index_rope_halves and not any(indexer):
            raise SpecError(f"{path}.index_rope_halves", "only a sparse (DSA) MLA layer has an indexer")
        if any(indexer):
            if not all(indexer):
                raise SpecError(f"{path}.index_topk", "a sparse (DSA) MLA layer needs index_heads, "
                                                      "index_head_dim and index_topk all positive")
            if not self.q_lora_rank:
                raise SpecError(f"{path}.index_heads", "the DSA indexer reads the query latent: "
                                                       "it needs q_lora_rank > 0")
            if self.index_head_dim < self.qk_rope_dim:
                raise SpecError(f"{path}.index_head_dim",
                                f"must hold the {self.qk_rope_dim} rotary dims (qk_rope_dim)")
            if self.kind != "full":
                raise SpecError(f"{path}.kind", "a sparse (DSA) MLA layer attends over all earlier "
                                                "tokens' index scores: kind must be full")
        if self.qk_nope_dim + self.qk_rope_dim <= 0:
            raise SpecError(f"{path}.qk_nope_dim", "qk_nope_dim + qk_rope_dim must be positive")
        _choice(f"{path}.kind", self.kind, ("full", "sliding", "chunked"))
        if self.kind != "full" and self.window <= 0:
            raise SpecError(f"{path}.window", f"a {self.kind} MLA layer needs a positive window")
        _boolean(f"{path}.bias", self.bias)
        _boolean(f"{path}.rope", self.rope)
        _scalar(f"{path}.scale", self.scale)
        _choice(f"{path}.head_gate", self.head_gate, HEAD_GATES)

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_dim + self.qk_rope_dim

    @property
    def score_scale(self) -> float:
        return self.scale or self.qk_head_dim ** -0.5

    @property
    def sparse(self) -> bool:
        """DeepSeek Sparse Attention: an indexer picks the keys each query attends to."""
        return self.index_topk > 0


LINEAR_VARIANTS = ("gated_deltanet", "kimi_delta", "lightning")


@dataclass(frozen=True)
class LinearAttention(_Part):
    """Linear attention with a constant-size recurrent state per head (key_dim x value_dim).

    gated_deltanet: Qwen3-Next's Gated DeltaNet; kimi_delta: Kimi Linear's KDA (channel-wise gate);
    lightning: MiniMax-01's Lightning Attention.
    """

    KIND: ClassVar[str] = "linear_attention"
    key_heads: int
    value_heads: int
    key_dim: int
    value_dim: int
    variant: str = "gated_deltanet"
    conv_kernel: int = 4           # short causal depthwise conv on q/k/v (0: none)
    # gated_deltanet: beta = 2 sigmoid(b), in (0, 2), so a step may flip the state's component
    # along a key (OLMo hybrid's allow_neg_eigval); False: sigmoid(b)
    negative_eigenvalues: bool = False
    # lightning: layer l of L decays with its heads' slopes times 1 - l / (L - 1) + 1e-5, so the
    # last layer hardly forgets (MiniMax-01); False: the same slopes in every layer
    decay_by_depth: bool = False
    # kimi_delta: the forget and output gates as one d x channels projection each (Ling 3.0's
    # f_proj, g_proj); False: through a rank-head_dim bottleneck (Kimi Linear's f_a/f_b, g_a/g_b)
    full_rank_gates: bool = False
    # kimi_delta: Ling 3.0's bounded ("safe") gate, log decay = bound * sigmoid(exp(A_log) (f +
    # dt_bias)) with bound < 0; 0: Kimi's -exp(A_log) softplus(f + dt_bias)
    gate_lower_bound: float = 0.0

    def validate(self, path: str) -> None:
        for name in ("key_heads", "value_heads", "key_dim", "value_dim"):
            _positive(f"{path}.{name}", getattr(self, name))
        _non_negative(f"{path}.conv_kernel", self.conv_kernel)
        _choice(f"{path}.variant", self.variant, LINEAR_VARIANTS)
        _boolean(f"{path}.negative_eigenvalues", self.negative_eigenvalues)
        _boolean(f"{path}.decay_by_depth", self.decay_by_depth)
        _boolean(f"{path}.full_rank_gates", self.full_rank_gates)
        bound = self.gate_lower_bound
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound > 0:
            raise SpecError(f"{path}.gate_lower_bound", f"must be a negative number (or 0: none), got {bound!r}")
        for name, variant in (("negative_eigenvalues", "gated_deltanet"), ("decay_by_depth", "lightning"),
                              ("full_rank_gates", "kimi_delta"), ("gate_lower_bound", "kimi_delta")):
            if getattr(self, name) and self.variant != variant:
                raise SpecError(f"{path}.{name}", f"only the {variant} variant takes it, not {self.variant}")
        if self.value_heads % self.key_heads:
            raise SpecError(f"{path}.key_heads", f"value_heads ({self.value_heads}) must be "
                            f"divisible by key_heads ({self.key_heads})")


@dataclass(frozen=True)
class SSM(_Part):
    """Selective state-space mixer. mamba2: multi-head SSD with scalar decay per head (Mamba-2,
    Nemotron-H, Granite 4, Falcon-H1); mamba1: per-channel selective scan (Jamba)."""

    KIND: ClassVar[str] = "ssm"
    d_inner: int
    d_state: int
    variant: str = "mamba2"
    heads: int = 0                 # mamba2 only; d_inner = heads * head_dim
    groups: int = 1                # mamba2: B/C groups
    conv_kernel: int = 4
    conv_bias: bool = True
    proj_bias: bool = False
    dt_rank: int = 0               # mamba1 only
    inner_norms: bool = False      # mamba1 (Jamba): RMSNorm on dt, B and C
    inner_norms_affine: bool = True  # False: those norms have no weights (Falcon-Mamba)
    gated_norm: bool = True        # mamba2: RMSNorm(y * silu(z)) before out_proj
    # mamba2: the step dt = softplus(.) clamped to [dt_min, dt_max] (Nemotron-H: at least its
    # time_step_min; others: time_step_limit); dt_max 0: no cap
    dt_min: float = 0.0
    dt_max: float = 0.0
    # muP's multipliers (Falcon-H1: ssm_in_multiplier, ssm_out_multiplier, ssm_multipliers): the
    # input and the output times a scalar, in_proj's z, x, B, C and dt rows each times their own
    # (mamba2; empty: none)
    in_scale: float = 1.0
    out_scale: float = 1.0
    proj_scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.proj_scales, list):        # a spec file's list, kept hashable
            object.__setattr__(self, "proj_scales", tuple(self.proj_scales))

    def validate(self, path: str) -> None:
        _choice(f"{path}.variant", self.variant, ("mamba2", "mamba1"))
        _multipliers(path, self, ("in_scale", "out_scale"))
        if not isinstance(self.proj_scales, tuple) or len(self.proj_scales) not in (0, 5):
            raise SpecError(f"{path}.proj_scales", f"must list 5 multipliers (z, x, B, C, dt) or none, got "
                                                   f"{self.proj_scales!r}")
        for i, value in enumerate(self.proj_scales):
            _scalar(f"{path}.proj_scales[{i}]", value, zero=False)
        for name in ("in_scale", "out_scale", "proj_scales"):
            if getattr(self, name) not in (1.0, ()) and self.variant != "mamba2":
                raise SpecError(f"{path}.{name}", "muP's multipliers are modelled on mamba2 mixers only")
        for name in ("d_inner", "d_state", "conv_kernel"):
            _positive(f"{path}.{name}", getattr(self, name))
        for name in ("heads", "groups", "dt_rank"):
            _non_negative(f"{path}.{name}", getattr(self, name))
        if self.variant == "mamba2":
            _positive(f"{path}.heads", self.heads)
            _positive(f"{path}.groups", self.groups)
            if self.d_inner % self.heads:
                raise SpecError(f"{path}.heads",
                                f"d_inner ({self.d_inner}) must be divisible by heads ({self.heads})")
            if self.heads % self.groups:
                raise SpecError(f"{path}.groups",
                                f"heads ({self.heads}) must be divisible by groups ({self.groups})")
        else:
            _positive(f"{path}.dt_rank", self.dt_rank)
        _scalar(f"{path}.dt_min", self.dt_min)
        _scalar(f"{path}.dt_max", self.dt_max)
        if self.dt_max and self.dt_max < self.dt_min:
            raise SpecError(f"{path}.dt_max", f"must be 0 (no cap) or at least dt_min ({self.dt_min}), "
                                              f"got {self.dt_max}")
        _boolean(f"{path}.inner_norms", self.inner_norms)
        _boolean(f"{path}.inner_norms_affine", self.inner_norms_affine)
        for name in ("conv_bias", "proj_bias", "inner_norms", "gated_norm"):
            _boolean(f"{path}.{name}", getattr(self, name))

    @property
    def head_dim(self) -> int:
        return self.d_inner // self.heads if self.heads else self.d_inner


@dataclass(frozen=True)
class ShortConv(_Part):
    """Gated short convolution (Liquid AI's LFM2): in_proj to B, C and x of ``channels`` each,
    y = out_proj(C * conv(B * x)) with a depthwise causal conv of ``kernel`` taps. No attention and
    no recurrence: the state is the last kernel - 1 gated inputs. (LFM2: channels = hidden size.)"""

    KIND: ClassVar[str] = "short_conv"
    channels: int
    kernel: int = 3
    bias: bool = False             # conv_bias: on in_proj, the conv and out_proj

    def validate(self, path: str) -> None:
        _positive(f"{path}.channels", self.channels)
        _positive(f"{path}.kernel", self.kernel)
        _boolean(f"{path}.bias", self.bias)


@dataclass(frozen=True)
class CrossAttention(_Part):
    """Attention from the text to an image's tokens (Flamingo's cross-attention layers, arXiv
    2204.14198; Llama 3.2 Vision's). Queries come from the text, keys and values from the
    ``image_tokens`` features the vision encoder hands over (projected to the hidden size): they
    are projected once per image and cached, so the cache is image_tokens x 2 x kv_heads x
    head_dim per sequence whatever the context, and every text token attends to all of them (no
    causal mask, no positions). ``qk_norm`` "head": an RMSNorm over head_dim on queries and keys.
    ``gated``: Flamingo's tanh gates, the attention's output and the layer's FFN output each times
    tanh of a learned scalar (zero at initialisation, so the language model starts unchanged).
    A cross-attention layer has no other mixer."""

    KIND: ClassVar[str] = "cross_attention"
    heads: int
    kv_heads: int
    head_dim: int
    image_tokens: int
    qk_norm: str = "none"          # none | head
    gated: bool = False

    def validate(self, path: str) -> None:
        for name in ("heads", "kv_heads", "head_dim", "image_tokens"):
            _positive(f"{path}.{name}", getattr(self, name))
        if self.heads % self.kv_heads:
            raise SpecError(f"{path}.kv_heads",
                            f"heads ({self.heads}) must be divisible by kv_heads ({self.kv_heads})")
        _choice(f"{path}.qk_norm", self.qk_norm, ("none", "head"))
        _boolean(f"{path}.gated", self.gated)


Mixer = Union[Attention, MLA, LinearAttention, SSM, ShortConv, CrossAttention]
MIXER_TYPES: dict[str, type] = {c.KIND: c for c in (Attention, MLA, LinearAttention, SSM, ShortConv,
                                                    CrossAttention)}


# --------------------------------------------------------------------------- FFNs

ACTIVATIONS = ("silu", "gelu", "gelu_tanh", "relu", "relu2", "swiglu_oai", "xielu")
# xIELU (Apertus) learns its own two scalars in each FFN (and stores two constants beside them)
XIELU_PARAMS = 4


@dataclass(frozen=True)
class DenseFFN(_Part):
    KIND: ClassVar[str] = "dense"
    d_ff: int
    gated: bool = True             # SwiGLU/GeGLU: gate, up and down projections
    activation: str = "silu"
    bias: bool = False
    # Gemma 3n: the gate keeps only activations above mean + z * std of its row, z the standard
    # normal quantile of this fraction (a Gaussian top-k, the rest zeroed; 0: off). No weights.
    activation_sparsity: float = 0.0
    inner_norm: bool = False       # BitNet: an RMSNorm over the d_ff hidden before down_proj
    # muP's multipliers (Falcon-H1's mlp_multipliers): the gate's pre-activation and the output
    # times these
    gate_scale: float = 1.0
    out_scale: float = 1.0

    def validate(self, path: str) -> None:
        _positive(f"{path}.d_ff", self.d_ff)
        _multipliers(path, self, ("gate_scale", "out_scale"))
        if self.gate_scale != 1.0 and not self.gated:
            raise SpecError(f"{path}.gate_scale", "scales the gate: only a gated FFN has one")
        for name in ("gated", "bias", "inner_norm"):
            _boolean(f"{path}.{name}", getattr(self, name))
        _choice(f"{path}.activation", self.activation, ACTIVATIONS)
        s = self.activation_sparsity
        if isinstance(s, bool) or not isinstance(s, (int, float)) or math.isnan(s) or not 0.0 <= s < 1.0:
            raise SpecError(f"{path}.activation_sparsity", f"must be a fraction from 0 up to (not "
                                                           f"including) 1, got {s!r}")
        if s and not self.gated:
            raise SpecError(f"{path}.activation_sparsity", "sparsifies the gate: only a gated FFN has one")


@dataclass(frozen=True)
class MoEFFN(_Part):
    """Routed experts (top_k of experts per token) plus always-on shared experts."""

    KIND: ClassVar[str] = "moe"
    experts: int
    top_k: int
    d_expert: int
    shared_experts: int = 0
    d_shared: int = 0              # d_ff of each shared expert; 0: same as d_expert
    gated: bool = True
    activation: str = "silu"
    router_bias: bool = False      # bias on the router projection (gpt-oss)
    router_score_bias: bool = False  # aux-loss-free balancing bias, one per expert (DeepSeek-V3)
    expert_bias: bool = False      # biases in the expert projections (gpt-oss)
    shared_gate: bool = False      # sigmoid gate on the shared expert output (Qwen2-MoE, Qwen3-Next)
    zero_experts: int = 0          # LongCat-Flash: identity experts that cost no compute
    out_bias: bool = False         # JetMoE: one bias of d added after the experts' weighted sum
    # Gemma 4: the router normalises its input (no weights) and learns a scale per hidden channel
    # and one per expert
    router_scales: bool = False
    # the k chosen routing weights rescaled to sum to one (norm_topk_prob); False: the scores as
    # they are (OLMoE, Qwen2-MoE, Jamba). Then times routed_scale (routed_scaling_factor:
    # DeepSeek-V3 2.5). Neither changes parameters or FLOPs.
    normalize_top_k: bool = True
    routed_scale: float = 1.0
    # DeepSeek's group-limited routing: the experts in expert_groups equal groups, a token choosing
    # its top_k from its groups_per_token best groups, ranked by their best score (DeepSeek-V2) or,
    # with the score-correction bias, the sum of their two best biased scores (DeepSeek-V3). 0: off
    expert_groups: int = 0
    groups_per_token: int = 0
    # Mistral 4: groups ranked by the sum of their two best softmax scores, without a bias
    groups_by_two_best: bool = False

    def validate(self, path: str) -> None:
        for name in ("experts", "top_k", "d_expert"):
            _positive(f"{path}.{name}", getattr(self, name))
        for name in ("shared_experts", "d_shared", "zero_experts"):
            _non_negative(f"{path}.{name}", getattr(self, name))
        if self.top_k > self.experts + self.zero_experts:
            raise SpecError(f"{path}.top_k",
                            f"top_k ({self.top_k}) cannot exceed the number of experts ({self.experts})")
        _choice(f"{path}.activation", self.activation, ACTIVATIONS)
        if self.activation == "xielu":
            raise SpecError(f"{path}.activation", "xielu learns parameters of its own per FFN: "
                                                  "only a dense FFN takes it")
        for name in ("gated", "router_bias", "router_score_bias", "expert_bias", "shared_gate",
                     "router_scales", "normalize_top_k", "out_bias", "groups_by_two_best"):
            _boolean(f"{path}.{name}", getattr(self, name))
        s = self.routed_scale
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
            raise SpecError(f"{path}.routed_scale", f"must be a positive number, got {s!r}")
        self.validate_groups(path)

    def validate_groups(self, path: str) -> None:
        """The expert groups' rules alone (the importer leaves out groups that break them)."""
        groups, chosen = self.expert_groups, self.groups_per_token
        _non_negative(f"{path}.expert_groups", groups)
        _non_negative(f"{path}.groups_per_token", chosen)
        if groups == 0:
            if chosen:
                raise SpecError(f"{path}.groups_per_token", "needs expert_groups (0: routing is not grouped)")
            return
        if groups == 1:
            raise SpecError(f"{path}.expert_groups", "one group is no grouping: use 0")
        if self.experts % groups:
            raise SpecError(f"{path}.expert_groups", f"must divide the {self.experts} experts into equal groups")
        if self.zero_experts:
            raise SpecError(f"{path}.expert_groups", "zero-computation experts are not grouped")
        if not 1 <= chosen <= groups:
            raise SpecError(f"{path}.groups_per_token", f"must be from 1 to expert_groups ({groups}), got {chosen}")
        size = self.experts // groups
        if self.top_k > chosen * size:
            raise SpecError(f"{path}.top_k", f"top_k ({self.top_k}) exceeds the {chosen * size} experts "
                                             f"of {chosen} groups of {size}")
        if self.groups_ranked_by_two and size < 2:
            raise SpecError(f"{path}.expert_groups", "groups ranked by their two best scores need at "
                                                     "least 2 experts each")

    @property
    def groups_ranked_by_two(self) -> bool:
        """Expert groups rank by their two best scores (DeepSeek-V3's biased ones, Mistral 4's)."""
        return self.router_score_bias or self.groups_by_two_best

    @property
    def shared_dff(self) -> int:
        return self.d_shared or self.d_expert


FFN = Union[DenseFFN, MoEFFN]
FFN_TYPES: dict[str, type] = {c.KIND: c for c in (DenseFFN, MoEFFN)}


def _part_from_dict(data: Any, path: str, types: dict[str, type]):
    if not isinstance(data, Mapping):
        raise SpecError(path, f"must be an object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in types:
        raise SpecError(f"{path}.type", f"must be one of {', '.join(types)}; got {kind!r}")
    return types[kind].from_dict(data, path)


# --------------------------------------------------------------------------- layers

@dataclass(frozen=True)
class Layer:
    """One decoder layer: its mixers, then its FFNs. ``norms`` counts the hidden-size norm weight
    vectors in the layer; None derives it from the norm placement. ``placement`` is this layer's
    own norm placement (OLMo hybrid: post-norm attention layers among pre-norm Gated DeltaNet
    ones); None: the spec's. ``norm_gates``: A.X K2's gated RMSNorms, the rank of the gate on each
    sublayer's input norm, in sublayer order (mixers, then FFNs; 0 or missing: a plain norm): the
    normed input y times sigmoid(W2 silu(W1 y)), W1 d -> rank, W2 rank -> d, no biases."""

    mixers: tuple[Mixer, ...] = ()
    ffns: tuple[FFN, ...] = ()
    norms: int | None = None
    placement: str | None = None
    norm_gates: tuple[int, ...] = ()

    def norm_gate(self, sublayer: int) -> int:
        """The gate rank on sublayer ``sublayer``'s input norm (mixers first, then FFNs); 0: none."""
        return self.norm_gates[sublayer] if sublayer < len(self.norm_gates) else 0

    @property
    def mixer(self) -> Mixer | None:
        return self.mixers[0] if self.mixers else None

    @property
    def ffn(self) -> FFN | None:
        return self.ffns[0] if self.ffns else None

    def validate(self, path: str) -> None:
        if not self.mixers and not self.ffns:
            raise SpecError(path, "a layer needs at least one mixer or FFN")
        if self.norms is not None:
            _non_negative(f"{path}.norms", self.norms)
        if self.placement is not None:
            _choice(f"{path}.placement", self.placement, NORM_PLACEMENTS)
        if not isinstance(self.norm_gates, tuple):
            raise SpecError(f"{path}.norm_gates", f"must be a list of ranks, got {self.norm_gates!r}")
        if len(self.norm_gates) > len(self.mixers) + len(self.ffns):
            raise SpecError(f"{path}.norm_gates", f"gives {len(self.norm_gates)} ranks for "
                                                  f"{len(self.mixers) + len(self.ffns)} sublayers")
        for i, rank in enumerate(self.norm_gates):
            _non_negative(f"{path}.norm_gates[{i}]", rank)
        if len(self.mixers) > 1 and any(isinstance(m, CrossAttention) for m in self.mixers):
            raise SpecError(f"{path}.mixers", "a cross-attention layer has no other mixer")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if len(self.mixers) == 1:
            out["mixer"] = self.mixers[0].to_dict()
        elif self.mixers:
            out["mixers"] = [m.to_dict() for m in self.mixers]
        if len(self.ffns) == 1:
            out["ffn"] = self.ffns[0].to_dict()
        elif self.ffns:
            out["ffns"] = [f.to_dict() for f in self.ffns]
        if self.norms is not None:
            out["norms"] = self.norms
        if self.placement is not None:
            out["placement"] = self.placement
        if self.norm_gates:
            out["norm_gates"] = list(self.norm_gates)
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str) -> "Layer":
        if not isinstance(data, Mapping):
            raise SpecError(path, f"must be an object, got {type(data).__name__}")
        extra = set(data) - {"mixer", "mixers", "ffn", "ffns", "norms", "placement", "norm_gates"}
        if extra:
            raise SpecError(f"{path}.{sorted(extra)[0]}",
                            "unknown key; allowed keys are mixer, mixers, ffn, ffns, norms, placement, norm_gates")
        mixers = _listed(data, "mixer", "mixers", path, MIXER_TYPES)
        ffns = _listed(data, "ffn", "ffns", path, FFN_TYPES)
        gates = data.get("norm_gates", ())
        if not isinstance(gates, (list, tuple)):
            raise SpecError(f"{path}.norm_gates", f"must be a list of ranks, got {gates!r}")
        layer = cls(tuple(mixers), tuple(ffns), data.get("norms"), data.get("placement"), tuple(gates))
        layer.validate(path)
        return layer


def _listed(data: Mapping, one: str, many: str, path: str, types: dict[str, type]) -> list:
    if one in data and many in data:
        raise SpecError(f"{path}.{many}", f"give either {one} or {many}, not both")
    if one in data:
        return [_part_from_dict(data[one], f"{path}.{one}", types)]
    items = data.get(many, [])
    if not isinstance(items, list):
        raise SpecError(f"{path}.{many}", "must be a list")
    return [_part_from_dict(x, f"{path}.{many}[{i}]", types) for i, x in enumerate(items)]


# --------------------------------------------------------------------------- the model

POSITIONS = ("rope", "learned", "alibi", "sinusoidal", "none")   # sinusoidal: computed, no weights
# layernorm_noparam (OLMo 1) and rmsnorm_noparam (nanochat): no weights
NORM_KINDS = ("rmsnorm", "layernorm", "layernorm_noparam", "rmsnorm_noparam")
NORM_PLACEMENTS = ("pre", "post", "sandwich", "parallel")


@dataclass(frozen=True)
class VisionEncoder(_Part):
    """A ViT image encoder and its projector into the language model (LLaVA-style fusion).
    Counted in total parameters; not active per text token."""

    KIND: ClassVar[str] = ""
    params: int
    name: str = "vision encoder"
    # FLOPs of the encoder's forward over one image (and the projector into the language model),
    # which a prompt with an image pays once per sequence; 0: not modelled (not timed)
    flops_per_image: float = 0.0

    def validate(self, path: str) -> None:
        _non_negative(f"{path}.params", self.params)
        if not isinstance(self.name, str):
            raise SpecError(f"{path}.name", f"must be a string, got {self.name!r}")
        flops = self.flops_per_image
        if isinstance(flops, bool) or not isinstance(flops, (int, float)) or not math.isfinite(flops) or flops < 0:
            raise SpecError(f"{path}.flops_per_image", f"must be a non-negative number, got {flops!r}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if not self.flops_per_image:          # spec files of encoders without a modelled forward stay as they were
            del out["flops_per_image"]
        return out


@dataclass(frozen=True)
class RopeScaling(_Part):
    """RoPE's frequencies stretched for a longer context than the model trained at.

    linear: every frequency / factor (position interpolation). llama3 (Llama 3.1): wavelengths
    longer than original_context / low_freq_factor / factor, shorter than original_context /
    high_freq_factor kept, a smooth blend between. yarn (Peng et al. 2023): dims turning fewer than
    beta_slow times over original_context interpolated, more than beta_fast times kept, a linear ramp
    between (its ends rounded outward unless not ``truncate``), and cos and sin times
    ``attention_factor`` (0: 1).

    Two stretches depend on how far the sequence reaches, S = the last position + 1:
    longrope (Phi-3, Ding et al. 2024, "LongRoPE"): frequency i / short_factors[i] while S is at
    most original_context, / long_factors[i] beyond it (one factor per rotated pair), and cos and
    sin times ``attention_factor``. dynamic (dynamic NTK): beyond original_context the base grows to
    base * (factor S / original_context - (factor - 1))^(d / (d - 2)) for d rotated dims."""

    KIND: ClassVar[str] = ""
    KINDS: ClassVar[tuple[str, ...]] = ("linear", "llama3", "yarn", "longrope", "dynamic")
    kind: str
    factor: float
    original_context: int = 0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    truncate: bool = True
    attention_factor: float = 0.0
    short_factors: tuple[float, ...] = ()
    long_factors: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        # a spec file gives lists; kept as tuples so the spec stays hashable
        for name in ("short_factors", "long_factors"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def length_dependent(self) -> bool:
        """Whether the frequencies depend on how far the sequence reaches."""
        return self.kind in ("longrope", "dynamic")

    def validate(self, path: str) -> None:
        _choice(f"{path}.kind", self.kind, self.KINDS)
        _scalar(f"{path}.factor", self.factor, zero=False)
        _non_negative(f"{path}.original_context", self.original_context)
        for name in ("low_freq_factor", "high_freq_factor", "beta_fast", "beta_slow"):
            _scalar(f"{path}.{name}", getattr(self, name), zero=False)
        _scalar(f"{path}.attention_factor", self.attention_factor)
        _boolean(f"{path}.truncate", self.truncate)
        if self.kind != "linear" and self.original_context <= 0:
            raise SpecError(f"{path}.original_context", f"{self.kind} scaling needs the context the model "
                                                        "trained at")
        if self.kind == "llama3" and self.high_freq_factor < self.low_freq_factor:
            raise SpecError(f"{path}.high_freq_factor", "must be at least low_freq_factor")
        for name in ("short_factors", "long_factors"):
            factors = getattr(self, name)
            if not isinstance(factors, tuple):
                raise SpecError(f"{path}.{name}", f"must be a list of numbers, got {type(factors).__name__}")
            if self.kind != "longrope" and factors:
                raise SpecError(f"{path}.{name}", f"only longrope scaling takes factors per dim, not {self.kind}")
            for i, f in enumerate(factors):
                _scalar(f"{path}.{name}[{i}]", f, zero=False)
        if self.kind == "longrope":
            if not self.short_factors:
                raise SpecError(f"{path}.short_factors", "longrope scaling needs a factor per rotated pair")
            if len(self.long_factors) != len(self.short_factors):
                raise SpecError(f"{path}.long_factors", f"has {len(self.long_factors)} factors; "
                                                        f"short_factors has {len(self.short_factors)}")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    vocab_size: int
    hidden_size: int
    context_length: int                  # the model's context; the search's cap where not stated
    blocks: Mapping[str, Layer]
    layout: tuple[str, ...]
    tie_embeddings: bool = False
    position: str = "rope"
    rope_fraction: float = 1.0           # partial RoPE: share of each head's dims rotated
    rope_theta: float = 10000.0          # RoPE's base: dim pair i turns at rope_theta^(-2i/rotated)
    # RoPE rotating neighbouring dims (0, 1), (2, 3), ... (GPT-J, Cohere, ERNIE 4.5, GLM, Llama 4,
    # DeepSeek's MLA) rather than dim i with i + rotated/2 (GPT-NeoX, Llama)
    rope_interleaved: bool = False
    # RoPE turning each pair by -angle (nanochat: y1 = x1 cos + x2 sin): the same cost, other numbers
    rope_reversed: bool = False
    learned_positions: int = 0           # rows of a learned position table (GPT-2)
    norm: str = "rmsnorm"
    norm_bias: bool = False              # LayerNorm with bias
    norm_placement: str = "pre"
    final_norm: bool = True
    embedding_norm: bool = False         # a norm right after the token lookup (BLOOM)
    context_stated: bool = True          # False: the config states no context length (a recurrence)
    lm_head_bias: bool = False
    mtp_depth: int = 0                   # multi-token-prediction modules (DeepSeek-V3, GLM-4.5, ...)
    # Per-layer input embeddings (Gemma 3n/4 "PLE"): a second token table of per_layer_vocab rows
    # (0: vocab_size) holding per_layer_input channels for every layer, added into each layer
    # through a small gated projection
    per_layer_input: int = 0
    per_layer_vocab: int = 0
    layer_scalar: bool = False           # Gemma 4: a stored scalar multiplies each layer's output
    # AltUp (Gemma 3n; Baykal et al. 2023): the residual stream is altup_streams copies of the hidden
    # size. Each layer runs on one, predicts every copy from all of them with coefficients a small
    # router makes, and corrects them by its output; altup_streams - 1 projections make the copies
    # at the input and merge them at the output. 0: off
    altup_streams: int = 0
    # LAuReL (Gemma 3n; Menghani et al. 2024): a rank-r learned residual beside each layer's
    # mixers, x + norm(right(left(x))), averaged with their output. 0: off
    laurel_rank: int = 0
    # Granite's residual_multiplier: each sub-layer's output is scaled by it before the residual add
    residual_scale: float = 1.0
    # the final logits' soft-cap c (Gemma 2/3n/4, nanochat): logits -> c * tanh(logits / c). 0: none
    logit_softcap: float = 0.0
    # what the token embeddings are multiplied by (Gemma: sqrt(hidden_size); Granite, Falcon-H1:
    # embedding_multiplier) and the logits, before any soft-cap (Cohere: logit_scale; Granite:
    # 1 / logits_scaling; Falcon-H1: lm_head_multiplier)
    embedding_scale: float = 1.0
    logit_scale: float = 1.0
    vision: VisionEncoder | None = None
    # RoPE's frequencies stretched past the training context (every rotary layer but those with a
    # base of their own: Gemma 3's local layers keep theirs unscaled). None: as trained
    rope_scaling: RopeScaling | None = None
    model_type: str = ""                 # the Hugging Face model_type it came from, if any

    def __post_init__(self):
        self.validate()

    # ---- derived views
    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(self.blocks[name] for name in self.layout)

    @property
    def num_layers(self) -> int:
        return len(self.layout)

    @property
    def residual_width(self) -> int:
        """Width of the residual stream between layers: the hidden size, N times with AltUp."""
        return self.hidden_size * max(1, self.altup_streams)

    def placement_of(self, layer: Layer) -> str:
        """The layer's norm placement: its own, else the spec's."""
        return layer.placement or self.norm_placement

    def norms_in(self, layer: Layer) -> int:
        """Hidden-size norm weight vectors in ``layer`` (see Layer.norms)."""
        if layer.norms is not None:
            return layer.norms
        subs = len(layer.mixers) + len(layer.ffns)
        placement = self.placement_of(layer)
        if placement == "sandwich":
            return 2 * subs
        if placement == "parallel":
            return 1
        return subs

    # ---- validation
    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpecError("name", "must be a non-empty string")
        if not isinstance(self.model_type, str):
            raise SpecError("model_type", f"must be a string, got {self.model_type!r}")
        for name in ("vocab_size", "hidden_size", "context_length"):
            _positive(name, getattr(self, name))
        for name in ("learned_positions", "mtp_depth", "per_layer_input", "per_layer_vocab", "altup_streams",
                     "laurel_rank"):
            _non_negative(name, getattr(self, name))
        if self.altup_streams == 1:
            raise SpecError("altup_streams", "AltUp needs at least 2 streams (0 turns it off)")
        for name in ("tie_embeddings", "norm_bias", "final_norm", "embedding_norm", "lm_head_bias",
                     "context_stated", "layer_scalar", "rope_interleaved", "rope_reversed"):
            _boolean(name, getattr(self, name))
        _choice("position", self.position, POSITIONS)
        _choice("norm", self.norm, NORM_KINDS)
        _choice("norm_placement", self.norm_placement, NORM_PLACEMENTS)
        _scalar("residual_scale", self.residual_scale, zero=False)
        _scalar("rope_theta", self.rope_theta, zero=False)
        _scalar("logit_softcap", self.logit_softcap)
        _scalar("embedding_scale", self.embedding_scale, zero=False)
        _scalar("logit_scale", self.logit_scale, zero=False)
        if isinstance(self.rope_fraction, bool) or not isinstance(self.rope_fraction, (int, float)) \
                or not (0.0 <= self.rope_fraction <= 1.0) or math.isnan(self.rope_fraction):
            raise SpecError("rope_fraction", f"must be between 0 and 1, got {self.rope_fraction!r}")
        if self.position == "learned" and self.learned_positions <= 0:
            raise SpecError("learned_positions", "learned positions need a positive table size")
        if not self.blocks:
            raise SpecError("blocks", "at least one block is required")
        for bname, layer in self.blocks.items():
            if not isinstance(layer, Layer):
                raise SpecError(f"blocks.{bname}", "must be a layer")
            layer.validate(f"blocks.{bname}")
            if any(layer.norm_gates) and (self.placement_of(layer) != "pre" or layer.norms is not None):
                raise SpecError(f"blocks.{bname}.norm_gates", "gated norms are modelled on a pre-norm layer's "
                                                              "own norms only (one before each sublayer)")
            for i, mixer in enumerate(layer.mixers):
                mixer.validate(f"blocks.{bname}.mixers[{i}]")
                window = getattr(mixer, "window", 0)
                if getattr(mixer, "kind", "full") != "full" and window > self.context_length:
                    raise SpecError(f"blocks.{bname}.mixers[{i}].window",
                                    f"window ({window}) is larger than the context length "
                                    f"({self.context_length})")
                if isinstance(mixer, MLA) and mixer.heads <= 0:
                    raise SpecError(f"blocks.{bname}.mixers[{i}].heads", "must be positive")
                if getattr(mixer, "qk_norm_bias", False) and not self.norm.startswith("layernorm"):
                    raise SpecError(f"blocks.{bname}.mixers[{i}].qk_norm_bias",
                                    f"QK norms take the model's norm form ({self.norm}): only LayerNorms "
                                    f"have biases")
            for i, ffn in enumerate(layer.ffns):
                ffn.validate(f"blocks.{bname}.ffns[{i}]")
        if not self.layout:
            raise SpecError("layers", "a model needs at least one layer")
        if len(self.layout) > MAX_LAYERS:
            raise SpecError("layers", f"at most {MAX_LAYERS} layers, got {len(self.layout)}")
        for i, bname in enumerate(self.layout):
            if bname not in self.blocks:
                raise SpecError(f"layers[{i}]", f"unknown block {bname!r}; blocks are "
                                f"{', '.join(self.blocks)}")
        self._validate_kv_sharing()
        if self.vision is not None:
            self.vision.validate("vision")
        if self.rope_scaling is not None:
            if not isinstance(self.rope_scaling, RopeScaling):
                raise SpecError("rope_scaling", "must be an object with kind and factor")
            self.rope_scaling.validate("rope_scaling")
            self._validate_rope_factors()

    def _validate_rope_factors(self) -> None:
        """longrope gives one factor per rotated pair: every stretched layer must rotate that many."""
        want = len(self.rope_scaling.short_factors)
        if not want or self.position != "rope":
            return
        for bname, layer in self.blocks.items():
            for i, m in enumerate(layer.mixers):
                if isinstance(m, Attention) and m.rope and not m.rope_theta:
                    pairs = int(m.head_dim * (m.rope_fraction or self.rope_fraction)) // 2
                elif isinstance(m, MLA) and m.rope:
                    pairs = m.qk_rope_dim // 2
                else:
                    continue
                if pairs != want:
                    raise SpecError("rope_scaling.short_factors",
                                    f"has {want} factors, but blocks.{bname}.mixers[{i}] rotates {pairs} "
                                    f"dim pairs: longrope needs one factor per pair")

    def _validate_kv_sharing(self) -> None:
        """A KV-shared attention layer needs an earlier layer whose cache it can read."""
        cached: set[tuple] = set()
        for i, bname in enumerate(self.layout):
            for j, m in enumerate(self.blocks[bname].mixers):
                if not isinstance(m, Attention):
                    continue
                if not m.kv_shared:
                    cached.add(m.cache_key)
                elif m.cache_key not in cached:
                    raise SpecError(f"blocks.{bname}.mixers[{j}].kv_shared",
                                    f"layer {i} reads a shared KV cache, but no earlier layer caches "
                                    f"{m.kind} attention with {m.kv_heads} KV head"
                                    f"{'' if m.kv_heads == 1 else 's'} of {m.head_dim} dims")

    # ---- dict round trip
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": "orbit-spec", "version": SPEC_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "blocks":
                out["blocks"] = {k: v.to_dict() for k, v in value.items()}
            elif f.name == "layout":
                out["layers"] = list(value)
            elif f.name in ("vision", "rope_scaling"):
                if value is not None:
                    out[f.name] = value.to_dict()
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "ModelSpec":
        if not isinstance(data, Mapping):
            raise SpecError("", f"a spec must be an object, got {type(data).__name__}")
        data = dict(data)
        fmt = data.pop("format", "orbit-spec")
        if fmt != "orbit-spec":
            raise SpecError("format", f"expected 'orbit-spec', got {fmt!r}")
        version = data.pop("version", SPEC_VERSION)
        if isinstance(version, bool) or version != SPEC_VERSION:
            raise SpecError("version", f"this build reads spec version {SPEC_VERSION}, got {version!r}")
        names = {f.name for f in fields(cls)} - {"layout"} | {"layers"}
        extra = set(data) - names
        if extra:
            raise SpecError(sorted(extra)[0], f"unknown key; allowed keys are {', '.join(sorted(names))}")
        for required in ("name", "vocab_size", "hidden_size", "context_length", "blocks", "layers"):
            if required not in data:
                raise SpecError(required, "is required")
        blocks_in = data.pop("blocks")
        if not isinstance(blocks_in, Mapping) or not blocks_in:
            raise SpecError("blocks", "must be a non-empty object of named layers")
        blocks = {str(k): Layer.from_dict(v, f"blocks.{k}") for k, v in blocks_in.items()}
        layout = expand_layout(data.pop("layers"), tuple(blocks))
        vision = data.pop("vision", None)
        if vision is not None:
            vision = VisionEncoder.from_dict(vision, "vision")
        scaling = data.pop("rope_scaling", None)
        if scaling is not None:
            scaling = RopeScaling.from_dict(scaling, "rope_scaling")
        try:
            return cls(blocks=blocks, layout=layout, vision=vision, rope_scaling=scaling, **data)
        except TypeError as exc:  # wrong argument types that slipped past the key check
            raise SpecError("", str(exc)) from None

    def with_changes(self, **changes) -> "ModelSpec":
        return dataclasses.replace(self, **changes)


SPEC_VERSION = 1
MAX_LAYERS = 4096


def expand_layout(layers: Any, block_names: tuple[str, ...]) -> tuple[str, ...]:
    """Expand a layer layout to one block name per layer.

    Accepts an explicit list (``["local", "local", "global"]``) or a pattern object
    ``{"count": 62, "pattern": ["local", "local", "local", "local", "local", "global"],
    "prefix": ["dense"]}``: ``prefix`` layers first, then ``pattern`` repeated to ``count`` layers.
    """
    if isinstance(layers, list):
        if not all(isinstance(x, str) for x in layers):
            raise SpecError("layers", "an explicit layer list holds block names (strings)")
        return tuple(layers)
    if not isinstance(layers, Mapping):
        raise SpecError("layers", "must be a list of block names or a {count, pattern, prefix} object")
    extra = set(layers) - {"count", "pattern", "prefix"}
    if extra:
        raise SpecError(f"layers.{sorted(extra)[0]}", "unknown key; allowed keys are count, pattern, prefix")
    count = layers.get("count")
    _positive("layers.count", count)
    if count > MAX_LAYERS:
        raise SpecError("layers.count", f"at most {MAX_LAYERS} layers, got {count}")
    pattern = layers.get("pattern", [block_names[0]] if len(block_names) == 1 else None)
    prefix = layers.get("prefix", [])
    if not isinstance(pattern, list) or not pattern or not all(isinstance(x, str) for x in pattern):
        raise SpecError("layers.pattern", "must be a non-empty list of block names")
    if not isinstance(prefix, list) or not all(isinstance(x, str) for x in prefix):
        raise SpecError("layers.prefix", "must be a list of block names")
    if len(prefix) > count:
        raise SpecError("layers.prefix", f"has {len(prefix)} layers but count is {count}")
    body = [pattern[i % len(pattern)] for i in range(count - len(prefix))]
    return tuple(prefix) + tuple(body)
