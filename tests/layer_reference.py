"""Our decoder layer against transformers' decoder layer with the same weights, in float64.

Test-only: transformers is a test dependency. The layer is layer ``index`` of the causal LM that
transformers builds from the config; our block gets random weights, which are copied into it by
name (our modules are named as transformers names them), so a missing or extra weight fails the
strict load. Where transformers computes in float32 (its RMSNorms, RoPE's angles, eager softmax),
the comparison computes in float64: norms are recomputed, the angles are given, attention is SDPA.
"""
from __future__ import annotations

from typing import Callable

import torch

PRE_NORMS = ("input_layernorm", "post_attention_layernorm")
POST_NORMS = ("post_attention_layernorm", "post_feedforward_layernorm")       # OLMo 2


def _zero_centred(module: torch.nn.Module) -> set[str]:
    """Names of the RMSNorms that scale by 1 + w (Gemma, Qwen3-Next): transformers starts their
    weights at zero."""
    return {name for name, norm in module.named_modules() if type(norm).__name__.endswith("RMSNorm")
            and getattr(norm, "weight", None) is not None and not norm.weight.any()}


def float64_norms(module: torch.nn.Module, zero_centred: set[str]) -> None:
    """transformers' RMSNorms upcast to float32: recompute them in float64 (x / rms(x) * w, or
    * (1 + w) where zero-centred)."""
    for name, norm in module.named_modules():
        # (a wrapper around one, such as A.X K2's gated RMSNorm, keeps its own forward)
        if type(norm).__name__.endswith("RMSNorm") and not any(True for _ in norm.children()):
            eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", None))
            weight = norm._parameters.get("weight")        # (FalconMamba's weightless norms keep a dummy buffer)
            shift = 1.0 if name in zero_centred else 0.0
            norm.forward = lambda h, eps=eps, w=weight, shift=shift: h * torch.rsqrt(
                h.pow(2).mean(-1, keepdim=True) + eps) * (1.0 if w is None else w + shift)


def expert_weights(ours: dict, prefix: str = "mlp", shared: str = "shared_expert") -> dict:
    """Our stacked experts (w_gate, w_up [E, D, F], w_down [E, F, D], router) as transformers 5
    stores them: experts.gate_up_proj [E, 2F, D] (gate rows first), experts.down_proj [E, D, F],
    the router as ``gate`` (DeepSeek's score-correction bias beside it); one shared expert as
    ``shared`` (Qwen2-MoE: shared_expert, with shared_expert_gate; DeepSeek: shared_experts)."""
    out = {}
    for name, t in ours.items():
        if name.startswith("shared.0."):
            out[f"{prefix}.{shared}.{name[len('shared.0.'):]}"] = t
        elif name == "shared_gate.weight":
            out[f"{prefix}.shared_expert_gate.weight"] = t
        elif name == "score_bias":
            out[f"{prefix}.gate.e_score_correction_bias"] = t
        if name.endswith("w_gate"):
            up = ours[name[:-len("w_gate")] + "w_up"]
            out[f"{prefix}.experts.gate_up_proj"] = torch.cat([t.transpose(1, 2), up.transpose(1, 2)], 1)
        elif name.endswith("w_down"):
            out[f"{prefix}.experts.down_proj"] = t.transpose(1, 2)
        elif name.endswith("router.weight"):
            out[f"{prefix}.gate.weight"] = t
    return out


def aria_expert_weights(ours: dict, prefix: str = "mlp") -> dict:
    """Aria's experts as transformers stores them, input dim first: gate_up_proj [E, D, 2F] (gate
    columns first), down_proj [E, F, D]; the router as ``router``, the shared MLP as shared_experts."""
    out = {f"{prefix}.experts.gate_up_proj": torch.cat([ours["w_gate"], ours["w_up"]], -1),
           f"{prefix}.experts.down_proj": ours["w_down"], f"{prefix}.router.weight": ours["router.weight"]}
    out.update({f"{prefix}.shared_experts.{n[len('shared.0.'):]}": t for n, t in ours.items()
                if n.startswith("shared.0.")})
    return out


def fused_qkv_per_head(ours: dict, heads: int) -> dict:
    """Persimmon's attention: q, k and v fused in query_key_value with each head's [q, k, v] rows
    together (and their biases), o_proj as ``dense``, q_norm/k_norm as q_layernorm/k_layernorm."""
    def fused(kind):
        q, k, v = (ours[f"{p}_proj.{kind}"] for p in "qkv")
        return torch.stack([t.reshape(heads, -1, *t.shape[1:]) for t in (q, k, v)], 1).reshape(-1, *q.shape[1:])
    out = {"query_key_value.weight": fused("weight"), "query_key_value.bias": fused("bias"),
           "dense.weight": ours["o_proj.weight"], "dense.bias": ours["o_proj.bias"]}
    for ours_name, theirs in (("q_norm", "q_layernorm"), ("k_norm", "k_layernorm")):
        out.update({f"{theirs}.{n.split('.', 1)[1]}": t for n, t in ours.items() if n.startswith(ours_name + ".")})
    return out


def per_head_norm_modules(ours: dict, names: dict[str, str]) -> dict:
    """StableLM's and Cohere's per-head QK LayerNorms: a module per head (``<name>.norms.<h>``)
    in StableLM, one [heads, head_dim] weight in Cohere; ours keep [heads, 1, head_dim]. ``names``:
    our norm's name -> (transformers' name, "modules" or "stacked")."""
    out = {n: t for n, t in ours.items() if not n.startswith(("q_norm.", "k_norm."))}
    for ours_name, (theirs, layout) in names.items():
        weight = ours[f"{ours_name}.weight"][:, 0]                   # [heads, head_dim]
        if layout == "modules":
            out.update({f"{theirs}.norms.{h}.weight": w for h, w in enumerate(weight)})
        else:
            out[f"{theirs}.weight"] = weight
    return out


def jetmoe_attention_weights(ours: dict) -> dict:
    """Our mixture of attention heads as JetMoE stores it: experts.input_linear / output_linear
    ([E, out, in], ours too), the router and the bias under experts, k and v fused in kv_proj."""
    return {"experts.input_linear.weight": ours["q_experts"], "experts.output_linear.weight": ours["o_experts"],
            "experts.bias": ours["o_bias"], "experts.router.layer.weight": ours["router.weight"],
            "kv_proj.weight": torch.cat([ours["k_proj.weight"], ours["v_proj.weight"]])}


def jetmoe_expert_weights(ours: dict) -> dict:
    """Our stacked experts as JetMoE's: input_linear [E, 2F, D] (gate rows first), output_linear
    [E, D, F], the router under router.layer, the bias after the sum."""
    return {"mlp.input_linear.weight": torch.cat([ours["w_gate"].transpose(1, 2), ours["w_up"].transpose(1, 2)], 1),
            "mlp.output_linear.weight": ours["w_down"].transpose(1, 2), "mlp.bias": ours["out_bias"],
            "mlp.router.layer.weight": ours["router.weight"]}


def gpt_oss_expert_weights(ours: dict, prefix: str = "mlp") -> dict:
    """gpt-oss's experts as transformers stores them: gate and up interleaved column by column in
    gate_up_proj [E, D, 2F] (and its bias), down_proj [E, F, D] as ours, a biased ``router``."""
    def interleaved(gate, up):
        out = torch.empty(*gate.shape[:-1], 2 * gate.shape[-1], dtype=gate.dtype)
        out[..., ::2], out[..., 1::2] = gate, up
        return out
    return {f"{prefix}.experts.gate_up_proj": interleaved(ours["w_gate"], ours["w_up"]),
            f"{prefix}.experts.gate_up_proj_bias": interleaved(ours["b_gate"], ours["b_up"]),
            f"{prefix}.experts.down_proj": ours["w_down"], f"{prefix}.experts.down_proj_bias": ours["b_down"],
            f"{prefix}.router.weight": ours["router.weight"], f"{prefix}.router.bias": ours["router.bias"]}


def layer_error(cfg: dict, *, index: int = 0, norm_names=PRE_NORMS, rename: dict | None = None,
                convert: Callable[[dict], dict] | None = None, seed: int = 0,
                batch: int = 2, tokens: int = 7, attention: str = "sdpa", half_angles: bool = False,
                interleaved_angles: bool = False, convert_mixer: Callable[[dict], dict] | None = None,
                mixer_names: tuple[str, ...] = ("self_attn",), ffn_name: str = "mlp") -> float:
    """Relative error (max abs difference over max abs value) of our layer ``index`` against
    transformers' on fresh float64 inputs. ``rename`` maps our FFN module names to transformers'
    (nanochat's fc1/fc2); ``convert`` turns our FFN's weights into transformers' (MoE layouts);
    ``attention`` "eager" for types without SDPA in transformers (its softmax is float32);
    ``half_angles``: the layer takes one angle per rotated pair (gpt-oss);
    ``interleaved_angles``: each angle twice in a row (Cohere's cos and sin); ``convert_mixer``
    turns our attention's weights into transformers' (fused or per-head modules);
    ``mixer_names`` and ``ffn_name``: transformers' modules for our mixers, in order (Falcon-H1:
    self_attn, mamba), and our FFN. A sliding layer gets its window's mask."""
    from transformers import AutoConfig

    from kernels.blocks import build_layer
    from models.hf import spec_from_hf_config
    cfg = {**cfg, "pad_token_id": None}           # small test vocabularies have no such row
    if "layer_types" in cfg:
        cfg["layer_types"] = None                   # the type's default for the layer count
    config = AutoConfig.for_model(**cfg)
    config._attn_implementation = attention         # eager attention takes its softmax in float32
    config._experts_implementation = "eager"
    rope = config.rope_parameters
    theta = rope["rope_theta"] if "rope_theta" in rope else rope[config.layer_types[index]]["rope_theta"]
    from hf_reference import causal_lm
    model = causal_lm(config).model
    ref = model.layers[index].double().eval()
    spec = spec_from_hf_config(cfg)
    torch.manual_seed(seed)
    eps = getattr(config, "rms_norm_eps", None) or getattr(config, "layer_norm_eps", None) or 1e-5
    # (the block's RoPE base is the spec's, as imported: it must be transformers' ``theta``)
    ours = build_layer(spec, spec.blocks[spec.layout[index]], dtype=torch.float64, eps=eps, index=index).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3) if p.dim() > 1 else p.uniform_(0.5, 1.5)
        for name, b in ours.named_buffers():
            if name.endswith("score_bias"):          # it must change which experts win
                b.uniform_(-0.5, 0.5)
    mixer = ours.mixers[0].state_dict()
    weights = {f"{mixer_names[0]}.{n}": t for n, t in (convert_mixer(mixer) if convert_mixer else mixer).items()}
    for name, other in zip(mixer_names[1:], ours.mixers[1:]):
        weights.update({f"{name}.{n}": t for n, t in other.state_dict().items()})
    ffn = ours.ffns[0].state_dict()
    if convert is not None:
        weights.update(convert(ffn))
    else:
        for n, t in ffn.items():
            head, _, tail = n.partition(".")
            weights[f"{ffn_name}.{(rename or {}).get(head, head)}.{tail}"] = t
    for name, norm in zip(norm_names, ours.norms):
        weights.update({f"{name}.{n}": t for n, t in norm.state_dict().items()})
    centred = _zero_centred(ref)
    ref.load_state_dict({k: v.clone() - (1.0 if k.rsplit(".", 1)[0] in centred else 0.0)
                         for k, v in weights.items()}, strict=True)
    float64_norms(ref, centred)
    x = torch.randn(batch, tokens, spec.hidden_size, dtype=torch.float64)
    positions = torch.arange(tokens)[None]
    mixer = spec.layers[index].mixer
    # the rotated dims: MLA's rope dims, else the rotary fraction of each head (partial RoPE)
    hd = getattr(mixer, "qk_rope_dim", None) or \
        int(mixer.head_dim * (mixer.rope_fraction or spec.rope_fraction)) // 2 * 2
    inv_freq, factor = theta ** -(torch.arange(0, hd, 2, dtype=torch.float64) / hd), 1.0
    params = rope if "rope_type" in rope else rope[config.layer_types[index]]
    if params.get("rope_type", "default") != "default":     # stretched: transformers' own frequencies (fp32)
        from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
        layer_type = None if "rope_type" in rope else config.layer_types[index]
        inv_freq, factor = ROPE_INIT_FUNCTIONS[params["rope_type"]](config, "cpu", layer_type=layer_type)
        inv_freq = inv_freq.double()
    if params.get("rope_type") in ("longrope", "dynamic"):
        # frequencies that depend on the sequence's reach: as transformers' rotary module updates them
        model.rotary_emb(x.float(), positions)
        inv_freq, factor = model.rotary_emb.inv_freq.double(), model.rotary_emb.attention_scaling
    angles = torch.cat([positions[0, :, None] * inv_freq] * (1 if half_angles else 2), -1)[None]
    if interleaved_angles:
        angles = (positions[0, :, None] * inv_freq).repeat_interleave(2, -1)[None]
    cos, sin = angles.cos() * factor, angles.sin() * factor
    q, k = torch.arange(tokens)[:, None], torch.arange(tokens)[None, :]
    seen = (k <= q) & ((q - k < mixer.window) if mixer.kind == "sliding" else True)
    mask = torch.zeros(tokens, tokens, dtype=torch.float64).masked_fill(~seen, float("-inf"))[None, None]
    with torch.no_grad():
        expected = ref(x, attention_mask=mask, position_ids=positions, position_embeddings=(cos, sin))
        expected = expected[0] if isinstance(expected, tuple) else expected
        got = ours(x)
    return ((got - expected).abs().max() / expected.abs().max()).item()


RECURRENT = ("SSM", "LinearAttention", "ShortConv")


def mixer_error(cfg: dict, attr: str, *, convert: Callable[[dict], dict] | None = None, seed: int = 0,
                batch: int = 2, tokens: int = 9, eps_name: str = "rms_norm_eps",
                call: dict | None = None, layer: int | None = None) -> tuple[float, str]:
    """Relative error of our first recurrent mixer (Mamba-1/2, a linear attention, a short
    convolution) against the module ``attr`` of transformers' decoder layer at the same index,
    with the same random float64 weights and inputs: transformers' torch path (its CUDA kernels
    are not used on the CPU). ``convert`` turns our weights into transformers' layout where it
    stores the same matrices otherwise (fused or regrouped rows); buffers transformers derives from
    its config (MiniMax's decay rates) are left to it. Returns (the error, transformers' class
    name). ``call``: keyword arguments transformers' module insists on; ``layer``: the index of
    the recurrent layer to compare (None: the first).
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    from kernels.blocks import build_layer
    from models.hf import spec_from_hf_config
    cfg = {**cfg, "pad_token_id": None}
    config = AutoConfig.for_model(**cfg)
    config._experts_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config)
    base = getattr(model, "model", None) or model.backbone
    spec = spec_from_hf_config(cfg)
    index, j = next((i, j) for i, name in enumerate(spec.layout)
                    for j, m in enumerate(spec.blocks[name].mixers)
                    if type(m).__name__ in RECURRENT and (layer is None or i == layer))
    ref = getattr(base.layers[index], attr).double().eval()
    eps = getattr(config, eps_name, None) or 1e-6
    torch.manual_seed(seed)
    ours = build_layer(spec, spec.blocks[spec.layout[index]], dtype=torch.float64, eps=eps,
                       index=index).mixers[j].eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name in ("A_log", "dt_bias") or name.endswith((".A_log", ".dt_bias")):
                p.uniform_(-1.0, 0.5)           # decays from fast to slow
            else:
                p.normal_(0, 0.3) if p.dim() > 1 else p.uniform_(0.5, 1.5)
    weights = ours.state_dict()
    missing, unexpected = ref.load_state_dict(convert(weights) if convert else weights, strict=False)
    parameters = dict(ref.named_parameters())
    assert not unexpected and not [k for k in missing if k in parameters], (missing, unexpected)
    float64_norms(ref, set())
    x = torch.randn(batch, tokens, spec.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        expected = ref(x, **(call or {}))
        expected = expected[0] if isinstance(expected, tuple) else expected
        got = ours(x)
    return ((got - expected).abs().max() / expected.abs().max()).item(), type(ref).__name__
