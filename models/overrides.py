"""Edits a user makes to a spec: the GUI's knobs and the CLI's ``--set KEY=VALUE``.

Each edit returns a new validated spec (specs are immutable), or raises SpecError explaining why
the combination is impossible; the original is untouched, so nothing the user did is lost.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .hf.common import block_label
from .spec import (MAX_LAYERS, MLA, SSM, Attention, CrossAttention, DenseFFN, Layer, LinearAttention, ModelSpec,
                   MoEFFN, ShortConv, SpecError)


def _map_layers(spec: ModelSpec, fn: Callable[[Layer], Layer]) -> ModelSpec:
    blocks = {name: fn(layer) for name, layer in spec.blocks.items()}
    return spec.with_changes(blocks=blocks)


_MIXER_NAMES = {Attention: "softmax attention (MHA/GQA/MQA)", MLA: "multi-head latent attention (MLA)",
                LinearAttention: "linear attention", SSM: "state-space (Mamba)",
                ShortConv: "short convolution", CrossAttention: "cross-attention"}


def _mixers_of(spec: ModelSpec) -> str:
    """'multi-head latent attention (MLA)', or several joined: what the model's layers mix with."""
    kinds = dict.fromkeys(type(m) for layer in spec.layers for m in layer.mixers)
    return " and ".join(_MIXER_NAMES.get(k, k.__name__) for k in kinds) or "no mixer"


def _map_mixers(spec: ModelSpec, kinds: tuple[type, ...], fn, what: str) -> ModelSpec:
    # the layers in use: blocks a shorter layer count left out (kept to come back) don't count
    found = any(isinstance(m, kinds) for layer in spec.layers for m in layer.mixers)
    if not found:
        names = [_MIXER_NAMES[k] for k in kinds]
        wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise SpecError(what, f"{spec.name} has no {wanted} layers to change: its layers use {_mixers_of(spec)}")
    return _map_layers(spec, lambda layer: dataclasses.replace(
        layer, mixers=tuple(fn(m) if isinstance(m, kinds) else m for m in layer.mixers)))


def _within_groups(f: MoEFFN, key: str) -> MoEFFN:
    """An experts or top-k edit of a model whose tokens route within expert groups (DeepSeek-V3:
    the best 4 of 8), refused where the groups could no longer hold it, saying why in the knob's
    terms (the spec's own rule names the groups, which no knob sets)."""
    g, chosen = f.expert_groups, f.groups_per_token
    if not g or isinstance(f.experts, bool) or not isinstance(f.experts, int) or f.experts <= 0:
        return f
    where = f"tokens route within their best {chosen} of {g} equal expert groups"
    if f.experts % g:
        raise SpecError(key, f"experts must be a multiple of {g}: {where}")
    size = f.experts // g
    if f.groups_ranked_by_two and size < 2:
        raise SpecError(key, f"experts must be at least {2 * g}: {where}, ranked by their two best experts")
    if isinstance(f.top_k, int) and f.top_k > chosen * size:
        raise SpecError(key, f"top-k ({f.top_k}) exceeds the {chosen * size} experts of a token's {chosen} "
                             f"groups of {size}: {where}")
    return f


def _map_moe(spec: ModelSpec, fn, what: str) -> ModelSpec:
    if not any(isinstance(f, MoEFFN) for layer in spec.layers for f in layer.ffns):
        raise SpecError(what, f"{spec.name} has no MoE layers; it is a dense model")
    return _map_layers(spec, lambda layer: dataclasses.replace(
        layer, ffns=tuple(fn(f) if isinstance(f, MoEFFN) else f for f in layer.ffns)))


def _int(key: str, value: Any) -> int:
    try:
        number = int(str(value), 10)
    except ValueError:
        raise SpecError(key, f"must be an integer, got {value!r}") from None
    return number


def _has_attention(spec: ModelSpec, what: str) -> None:
    """Raise unless some layer attends with softmax (standard attention or MLA)."""
    if not any(isinstance(m, (Attention, MLA)) for layer in spec.layers for m in layer.mixers):
        raise SpecError(what, f"{spec.name} has no attention layers: its layers use {_mixers_of(spec)}")


def set_attention_kind(spec: ModelSpec, kind: str) -> ModelSpec:
    """mha / gqa / mqa change KV heads of every attention layer, and turn MLA layers into standard
    attention with the same heads, query-key dim (nope + rope) and value dim; mla converts attention
    to latent attention with DeepSeek-V3's proportions (kv_lora_rank = 4 x head_dim, RoPE dim =
    head_dim/2); sliding / full set every attention layer's span (MLA's too); linear turns attention
    layers into Gated DeltaNet with the same heads; ssm into Mamba-2 (expand 2, d_state 128)."""
    kind = kind.lower()
    d = spec.hidden_size
    if kind in ("mha", "mqa", "gqa"):
        def kv_heads(heads: int, now: int) -> int:
            if kind == "mha":
                return heads
            if kind == "mqa":
                return 1
            return now if 1 < now < heads else next(
                k for k in (8, 4, 2, 1) if heads % k == 0 and k < heads or k == 1)

        def change(a):
            if isinstance(a, MLA):
                return Attention(heads=a.heads, kv_heads=kv_heads(a.heads, 0),
                                 head_dim=a.qk_nope_dim + a.qk_rope_dim, v_head_dim=a.v_head_dim,
                                 kind=a.kind, window=a.window, rope=a.rope, qkv_bias=a.bias, out_bias=a.bias)
            return dataclasses.replace(a, kv_heads=kv_heads(a.heads, a.kv_heads))
        return _map_mixers(spec, (Attention, MLA), change, "attention")
    if kind in ("full", "sliding"):
        window = next((m.window for layer in spec.layers for m in layer.mixers
                       if isinstance(m, (Attention, MLA)) and m.kind == "sliding"), 4096)
        window = min(window, spec.context_length)
        return _map_mixers(spec, (Attention, MLA), lambda a: dataclasses.replace(
            a, kind=kind, window=window if kind == "sliding" else 0), "attention")
    if kind == "mla" and not any(isinstance(m, Attention) for layer in spec.layers for m in layer.mixers) \
            and any(isinstance(m, MLA) for layer in spec.layers for m in layer.mixers):
        raise SpecError("attention", f"{spec.name} already uses multi-head latent attention (MLA)")
    if kind == "mla":
        def to_mla(a: Attention) -> MLA:
            return MLA(heads=a.heads, kv_lora_rank=4 * a.head_dim, qk_nope_dim=a.head_dim,
                       qk_rope_dim=max(a.head_dim // 2, 1), v_head_dim=a.vdim,
                       q_lora_rank=3 * a.head_dim * 4 if d >= 4096 else 0, rope=a.rope)
        return _map_mixers(spec, (Attention,), to_mla, "attention")
    if kind == "linear":
        return _map_mixers(spec, (Attention, MLA), lambda a: LinearAttention(
            key_heads=a.heads, value_heads=a.heads, key_dim=getattr(a, "head_dim", 128),
            value_dim=getattr(a, "vdim", getattr(a, "v_head_dim", 128))), "attention")
    if kind == "ssm":
        return _map_mixers(spec, (Attention, MLA, LinearAttention), lambda a: SSM(
            d_inner=2 * d, d_state=128, heads=2 * d // 64, groups=8 if (2 * d // 64) % 8 == 0 else 1),
            "attention")
    raise SpecError("attention", f"unknown attention kind {kind!r}; choose mha, gqa, mqa, mla, "
                                 "full, sliding, linear or ssm")


def set_local_global(spec: ModelSpec, ratio: str) -> ModelSpec:
    """Re-lay attention layers as ``local:global`` (e.g. 5:1, Gemma 3): in each run of
    local + global layers, the first ``local`` are sliding-window and the rest full (N:0: all
    sliding, 0:N: all full)."""
    try:
        local, glob = (int(x) for x in str(ratio).split(":"))
    except ValueError:
        raise SpecError("local_global", f"must look like 5:1, got {ratio!r}") from None
    if local < 0 or glob < 0 or local + glob == 0:
        raise SpecError("local_global", "needs a layer per period: local:global such as 5:1, 0:1 (all global) "
                                        "or 1:0 (all local)")
    _has_attention(spec, "local_global")
    attends = (Attention, MLA)
    window = next((m.window for layer in spec.layers for m in layer.mixers
                   if isinstance(m, attends) and m.kind == "sliding"), min(4096, spec.context_length))
    blocks = dict(spec.blocks)
    layout = list(spec.layout)
    period = local + glob
    i_attn = 0
    for i, name in enumerate(spec.layout):
        layer = spec.blocks[name]
        if not any(isinstance(m, attends) for m in layer.mixers):
            continue
        sliding = (i_attn % period) < local
        i_attn += 1
        new = dataclasses.replace(layer, mixers=tuple(
            dataclasses.replace(m, kind="sliding" if sliding else "full",
                                window=window if sliding else 0) if isinstance(m, attends) else m
            for m in layer.mixers))
        rest = name[name.index("+"):] if "+" in name else ""
        # "local"/"global" where both kinds alternate; one kind throughout is named by its parts
        label = block_label(new) if 0 in (local, glob) else ("local" if sliding else "global") + rest
        while label in blocks and blocks[label] != new:
            label += "'"
        blocks[label] = new
        layout[i] = label
    used = set(layout)
    blocks = {k: v for k, v in blocks.items() if k in used}
    return spec.with_changes(blocks=blocks, layout=tuple(layout))


def set_kv_shared_layers(spec: ModelSpec, count: int) -> ModelSpec:
    """The last ``count`` layers read the keys and values cached by the last earlier layer of their
    kind (Gemma 3n/4's KV sharing; cross-layer attention and YOCO share caches likewise): they lose
    their K/V projections and their own cache. 0 gives every layer its own again."""
    if not any(isinstance(m, Attention) for layer in spec.layers for m in layer.mixers):
        raise SpecError("kv_shared_layers", f"{spec.name} has no softmax attention (MHA/GQA/MQA) layers whose "
                                            f"caches could be shared: its layers use {_mixers_of(spec)}")
    n = spec.num_layers
    if not 0 <= count < n:
        raise SpecError("kv_shared_layers", f"must be from 0 to {n - 1} (the first layer keeps a cache of its "
                                            f"own), got {count}")
    blocks, layout = dict(spec.blocks), list(spec.layout)
    for i, name in enumerate(spec.layout):
        layer = spec.blocks[name]
        shared = i >= n - count
        if shared and not all(isinstance(m, Attention) for m in layer.mixers):
            raise SpecError("kv_shared_layers", f"layer {i} ({name}) does not attend with softmax attention "
                                                f"alone; only MHA/GQA/MQA layers can read another layer's cache")
        new = dataclasses.replace(layer, mixers=tuple(
            dataclasses.replace(m, kv_shared=shared, value_from_key=m.value_from_key and not shared)
            if isinstance(m, Attention) else m for m in layer.mixers))
        if new == layer:
            continue
        label = block_label(new)
        while label in blocks and blocks[label] != new:
            label += "'"
        blocks[label] = new
        layout[i] = label
    used = set(layout)
    try:
        return spec.with_changes(blocks={k: v for k, v in blocks.items() if k in used}, layout=tuple(layout))
    except SpecError as exc:           # no earlier layer caches what a shared one would read
        raise SpecError("kv_shared_layers", exc.rule) from None


def set_layers(spec: ModelSpec, count: int) -> ModelSpec:
    """Shrink by dropping the last layers, or grow by continuing the layout's repeating period."""
    if not 0 < count <= MAX_LAYERS:
        raise SpecError("layers", f"must be between 1 and {MAX_LAYERS}, got {count}")
    layout = list(spec.layout)
    if count <= len(layout):
        return spec.with_changes(layout=tuple(layout[:count]))
    period = _period(layout)
    while len(layout) < count:
        layout.append(layout[len(layout) - period])
    return spec.with_changes(layout=tuple(layout))


def _period(layout: list[str]) -> int:
    """Smallest p with which the second half of the layout repeats (prefix layers such as
    DeepSeek's first dense layers may differ)."""
    n = len(layout)
    for p in range(1, n):
        if all(layout[i] == layout[i - p] for i in range(max(n // 2, p), n)):
            return p
    return max(n, 1)


def _set_field(spec: ModelSpec, key: str, value: Any) -> ModelSpec:
    if key in ("kv_heads", "heads", "head_dim"):
        n = _int(key, value)
        # cross-attention layers share the model's head counts (Llama 3.2 Vision's one config), but
        # alone they are not what a model without softmax attention is told it lacks
        kinds = (Attention, CrossAttention) if any(isinstance(m, Attention) for l in spec.layers
                                                   for m in l.mixers) else (Attention,)
        return _map_mixers(spec, kinds, lambda a: dataclasses.replace(a, **{key: n}), "attention")
    if key == "window":
        n = _int(key, value)
        if not any(isinstance(m, (Attention, MLA)) and m.kind != "full" for l in spec.layers for m in l.mixers):
            raise SpecError("window", f"{spec.name} has no sliding-window layers; set a local:global ratio "
                                      "first, such as 5:1 (or 1:0: every attention layer local)")
        return _map_mixers(spec, (Attention, MLA), lambda a: dataclasses.replace(a, window=n)
                           if a.kind != "full" else a, "attention")
    if key in ("experts", "top_k", "shared_experts", "d_expert"):
        n = _int(key, value)
        return _map_moe(spec, lambda f: _within_groups(dataclasses.replace(f, **{key: n}), key), key)
    if key == "d_ff":
        n = _int(key, value)
        if not any(isinstance(f, DenseFFN) for l in spec.layers for f in l.ffns):
            raise SpecError("d_ff", f"{spec.name} has no dense FFN layers")
        return _map_layers(spec, lambda layer: dataclasses.replace(layer, ffns=tuple(
            dataclasses.replace(f, d_ff=n) if isinstance(f, DenseFFN) else f for f in layer.ffns)))
    if key == "image_tokens":
        n = _int(key, value)
        return _map_mixers(spec, (CrossAttention,), lambda c: dataclasses.replace(c, image_tokens=n), key)
    if key in ("kv_lora_rank", "q_lora_rank"):
        n = _int(key, value)
        return _map_mixers(spec, (MLA,), lambda m: dataclasses.replace(m, **{key: n}), "MLA")
    if key == "index_topk":
        return _set_index_topk(spec, _int(key, value))
    if key in ("hidden_size", "vocab_size", "context_length", "mtp_depth"):
        return spec.with_changes(**{key: _int(key, value)})
    if key == "tie_embeddings":
        text = str(value).lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise SpecError(key, f"must be true or false, got {value!r}")
        return spec.with_changes(tie_embeddings=text in ("true", "1", "yes"))
    if key == "attention":
        return set_attention_kind(spec, str(value))
    if key == "local_global":
        return set_local_global(spec, str(value))
    if key == "layers":
        return set_layers(spec, _int(key, value))
    if key == "kv_shared_layers":
        return set_kv_shared_layers(spec, _int(key, value))
    if key == "name":
        return spec.with_changes(name=str(value))
    raise SpecError(key, f"unknown setting; settable keys: {', '.join(SETTABLE)}")


def _set_index_topk(spec: ModelSpec, n: int) -> ModelSpec:
    """Keys each query of a DeepSeek Sparse Attention layer reads; 0 removes the indexer (dense MLA,
    as DeepSeek-V3)."""
    if not any(isinstance(m, MLA) and m.sparse for l in spec.layers for m in l.mixers):
        raise SpecError("index_topk", f"{spec.name} has no sparse (DSA) attention layers: its layers "
                                      f"use {_mixers_of(spec)} without a lightning indexer")
    if n < 0:
        raise SpecError("index_topk", f"must be 0 (dense) or a positive number of keys, got {n}")
    dense = dict(index_heads=0, index_head_dim=0, index_topk=0, index_rope_halves=False)
    return _map_mixers(spec, (MLA,), lambda m: dataclasses.replace(m, **(dense if n == 0 else {"index_topk": n}))
                       if m.sparse else m, "MLA")


SETTABLE = ("attention", "kv_heads", "heads", "head_dim", "window", "local_global", "layers", "kv_shared_layers",
            "experts", "top_k", "shared_experts", "d_expert", "d_ff", "kv_lora_rank", "q_lora_rank", "index_topk",
            "image_tokens",
            "hidden_size", "vocab_size", "context_length", "mtp_depth", "tie_embeddings", "name")


def _relabel(before: ModelSpec, after: ModelSpec) -> ModelSpec:
    """Rename the blocks an edit changed whose names were made from their contents ("mla+moe"),
    so the names say what the blocks now are ("full+moe" after attention=gqa). Names of the
    spec's own choosing, and local:global's "local"/"global", stay."""
    renames: dict[str, str] = {}
    for name, layer in after.blocks.items():
        old = before.blocks.get(name)
        if old is None or old == layer or name != block_label(old) or block_label(layer) == name:
            continue
        label = block_label(layer)
        while label in after.blocks or label in renames.values():
            label += "'"
        renames[name] = label
    if not renames:
        return after
    return after.with_changes(blocks={renames.get(n, n): layer for n, layer in after.blocks.items()},
                              layout=tuple(renames.get(n, n) for n in after.layout))


def apply_overrides(spec: ModelSpec, overrides: dict[str, Any] | list[tuple[str, Any]]) -> ModelSpec:
    """Apply edits in order. Any failure raises SpecError and leaves ``spec`` as it was."""
    items = overrides.items() if isinstance(overrides, dict) else overrides
    for key, value in items:
        try:
            spec = _relabel(spec, _set_field(spec, str(key).strip().lower().replace("-", "_"), value))
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError(str(key), str(exc)) from None
    return spec


def apply_assignments(spec: ModelSpec, edits: list[tuple[str, Any]]) -> ModelSpec:
    """Command-line ``--set`` edits, which describe one target rather than a sequence: an edit
    refused in its place (experts=1 while top-k is still 2) is tried again after the others
    (top_k=1), until none more applies. Raises the first refusal that remains."""
    pending = list(edits)
    while pending:
        deferred, first_error = [], None
        for key, value in pending:
            try:
                spec = apply_overrides(spec, [(key, value)])
            except SpecError as exc:
                deferred.append((key, value))
                first_error = first_error or exc
        if len(deferred) == len(pending):
            raise first_error
        pending = deferred
    return spec


def parse_assignments(texts: list[str]) -> list[tuple[str, str]]:
    out = []
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SpecError("--set", f"expected KEY=VALUE, got {text!r}")
        out.append((key.strip(), value.strip()))
    return out
