"""Property tests of spec validation and spec I/O.

- ``ModelSpec.from_dict`` on arbitrary JSON-like data, and on mutations of a valid spec dict,
  raises nothing but ``SpecError``, and field-level errors name the offending field.
- Valid specs survive ``to_dict``/``from_dict`` and ``save_spec``/``load_spec_file`` (JSON and
  TOML) unchanged; saving is atomic.
- Loading never executes code (``auto_map`` ignored, pickles rejected).
- The Hugging Face importer rejects unsupported and malformed configs with SpecError.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models import spec_io
from models.catalog import find
from models.hf import SUPPORTED_MODEL_TYPES, spec_from_hf_config
from models.spec import (SSM, Attention, DenseFFN, Layer, LinearAttention, ModelSpec, MoEFFN,
                         RopeScaling, SpecError)
from models.spec_io import load_spec_file, save_spec, spec_to_text

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=12)


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


@st.composite
def ffn_objects(draw):
    if draw(st.booleans()):
        experts = draw(st.integers(1, 16))
        top_k = draw(st.integers(1, experts))
        # DeepSeek's expert groups where they divide the experts and hold top_k
        groups = draw(st.sampled_from([g for g in _divisors(experts) if g > 1] or [0])) if draw(st.booleans()) else 0
        chosen = draw(st.integers(-(-top_k * groups // experts), groups)) if groups else 0
        return MoEFFN(experts=experts, top_k=top_k, d_expert=draw(st.integers(1, 256)),
                      shared_experts=draw(st.integers(0, 2)), gated=draw(st.booleans()),
                      expert_groups=groups, groups_per_token=chosen)
    return DenseFFN(d_ff=draw(st.integers(1, 1024)), gated=draw(st.booleans()),
                    activation=draw(st.sampled_from(["silu", "gelu", "relu"])),
                    bias=draw(st.booleans()))


@st.composite
def valid_specs(draw):
    """Small valid specs: GQA attention, dense or MoE FFN, optional sliding-window layers."""
    head_dim = draw(st.sampled_from([4, 8, 16, 32, 64]))
    heads = draw(st.integers(1, 16))
    kv_heads = draw(st.sampled_from(_divisors(heads)))
    hidden = draw(st.sampled_from([16, 32, 64, 128, 256]))
    context = draw(st.integers(1, 8192))
    vocab = draw(st.integers(1, 4096))
    n_layers = draw(st.integers(1, 8))
    ffn = draw(ffn_objects())
    norm = draw(st.sampled_from(["rmsnorm", "layernorm"]))
    qk_norm = draw(st.sampled_from(["none", "head"]))
    full = Attention(heads=heads, kv_heads=kv_heads, head_dim=head_dim, qk_norm=qk_norm,
                     # (Persimmon's biased QK LayerNorms)
                     qk_norm_bias=qk_norm != "none" and norm == "layernorm" and draw(st.booleans()),
                     scale=draw(st.sampled_from([0.0, 0.125, 1.0])), softcap=draw(st.sampled_from([0.0, 50.0])))
    blocks = {"global": Layer(mixers=(full,), ffns=(ffn,))}
    window = draw(st.none() | st.integers(1, context))
    layout = ["global"] * n_layers
    if window is not None:
        blocks["local"] = Layer(mixers=(Attention(heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                                                  kind="sliding", window=window),), ffns=(ffn,))
        layout = draw(st.lists(st.sampled_from(["local", "global"]), min_size=n_layers,
                               max_size=n_layers))
        blocks = {k: v for k, v in blocks.items() if k in layout}
    return ModelSpec(name=draw(st.sampled_from(["tiny", "Model X", "m-1"])), vocab_size=vocab,
                     hidden_size=hidden, context_length=context, blocks=blocks,
                     layout=tuple(layout), tie_embeddings=draw(st.booleans()),
                     norm=norm, mtp_depth=draw(st.integers(0, 1)), rope_interleaved=draw(st.booleans()),
                     logit_softcap=draw(st.sampled_from([0.0, 30.0])),
                     residual_scale=draw(st.sampled_from([1.0, 0.22])),
                     rope_scaling=draw(rope_scalings(head_dim // 2)))


def rope_scalings(pairs: int):
    """None or a RoPE stretch; longrope with a factor per rotated pair (``pairs``)."""
    factors = st.lists(st.floats(0.5, 64.0), min_size=pairs, max_size=pairs).map(tuple)
    return st.none() | st.builds(RopeScaling, kind=st.just("linear"), factor=st.floats(1.0, 64.0)) | \
        st.builds(RopeScaling, kind=st.sampled_from(["dynamic", "yarn"]), factor=st.floats(1.0, 64.0),
                  original_context=st.integers(1, 8192)) | \
        st.builds(RopeScaling, kind=st.just("longrope"), factor=st.floats(1.0, 64.0),
                  original_context=st.integers(1, 8192), attention_factor=st.floats(1.0, 2.0),
                  short_factors=factors, long_factors=factors)


@st.composite
def recurrent_specs(draw):
    """Valid specs without softmax attention (Mamba-2 / Gated DeltaNet mixers)."""
    hidden = draw(st.sampled_from([16, 32, 64]))
    if draw(st.booleans()):
        heads = draw(st.integers(1, 8))
        mixer = SSM(d_inner=heads * draw(st.integers(1, 16)), d_state=draw(st.integers(1, 64)),
                    heads=heads, groups=draw(st.sampled_from(_divisors(heads))))
    else:
        kh = draw(st.integers(1, 4))
        mixer = LinearAttention(key_heads=kh, value_heads=kh * draw(st.integers(1, 3)),
                                key_dim=draw(st.integers(1, 32)), value_dim=draw(st.integers(1, 32)))
    layer = Layer(mixers=(mixer,), ffns=(draw(ffn_objects()),))
    return ModelSpec(name="rec", vocab_size=draw(st.integers(1, 1000)), hidden_size=hidden,
                     context_length=draw(st.integers(1, 4096)), blocks={"rec": layer},
                     layout=("rec",) * draw(st.integers(1, 4)))


@st.composite
def valid_dicts(draw):
    """A valid spec dict as a user would write it: attention (+ optionally an SSM block),
    a dense or MoE FFN, layout as an explicit list or a {count, pattern, prefix} object.

    Parts are discriminated by "type"; an attention's "kind" is full or sliding."""
    heads = draw(st.integers(1, 16))
    kv_heads = draw(st.sampled_from(_divisors(heads)))
    attn = {"type": "attention", "heads": heads, "kv_heads": kv_heads,
            "head_dim": draw(st.sampled_from([8, 16, 64]))}
    if draw(st.booleans()):
        experts = draw(st.integers(1, 16))
        ffn = {"type": "moe", "experts": experts, "top_k": draw(st.integers(1, experts)),
               "d_expert": draw(st.integers(1, 512))}
    else:
        ffn = {"type": "dense", "d_ff": draw(st.integers(1, 2048))}
    blocks = {"attn": {"mixer": attn, "ffn": ffn}}
    names = ["attn"]
    context = draw(st.integers(1, 131072))
    if draw(st.booleans()):
        blocks["local"] = {"mixer": {**attn, "kind": "sliding",
                                     "window": draw(st.integers(1, context))}, "ffn": dict(ffn)}
        names.append("local")
    if draw(st.booleans()):
        blocks["ssm"] = {"mixer": {"type": "ssm", "d_inner": 64, "d_state": 16, "heads": 4},
                         "ffn": dict(ffn)}
        names.append("ssm")
    n = draw(st.integers(1, 6))
    if draw(st.booleans()):
        layers = draw(st.lists(st.sampled_from(names), min_size=n, max_size=n))
    else:
        prefix = draw(st.lists(st.sampled_from(names), max_size=n))
        layers = {"count": n, "pattern": draw(st.lists(st.sampled_from(names), min_size=1,
                                                       max_size=3))}
        if prefix:
            layers["prefix"] = prefix
    data = {"format": "orbit-spec", "version": 1, "name": "toy",
            "vocab_size": draw(st.integers(1, 50000)), "hidden_size": draw(st.integers(1, 4096)),
            "context_length": context, "blocks": blocks, "layers": layers}
    if draw(st.booleans()):
        data["tie_embeddings"] = draw(st.booleans())
    return data


def _paths(obj, prefix=()):
    """Every (path, key) of a key inside nested dicts/lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def _load_ok_or_spec_error(data):
    """from_dict either returns a spec or raises SpecError; anything else fails the test."""
    try:
        spec = ModelSpec.from_dict(data)
    except SpecError as exc:
        assert isinstance(exc.field, str) and isinstance(exc.rule, str) and exc.rule
        assert str(exc)
        return exc
    assert isinstance(spec, ModelSpec)
    return spec


def _expect_field_error(data, key: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        ModelSpec.from_dict(data)
    err = info.value
    assert err.field, f"field-level error without a field: {err}"
    assert str(key) in err.field, f"error field {err.field!r} does not name {key!r} ({err})"
    return err


# Integer fields that must be positive, by where they live in valid_dicts' output.
POSITIVE_FIELDS = {
    (): ("vocab_size", "hidden_size", "context_length"),
    ("mixer",): ("heads", "kv_heads", "head_dim"),
    ("ffn", "dense"): ("d_ff",),
    ("ffn", "moe"): ("experts", "top_k", "d_expert"),
}


def _positive_field_paths(data):
    out = [((k,), k) for k in POSITIVE_FIELDS[()]]
    attn = data["blocks"]["attn"]
    out += [(("blocks", "attn", "mixer", k), k) for k in POSITIVE_FIELDS[("mixer",)]]
    out += [(("blocks", "attn", "ffn", k), k)
            for k in POSITIVE_FIELDS[("ffn", attn["ffn"]["type"])]]
    return out


# --------------------------------------------------------------------------- arbitrary input

@SETTINGS
@given(JSON_VALUES)
def test_from_dict_arbitrary_json_raises_only_spec_error(data):
    _load_ok_or_spec_error(data)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["name", "vocab_size", "hidden_size", "context_length",
                                        "blocks", "layers", "format", "version", "vision",
                                        "rope_fraction", "position", "norm", "tie_embeddings",
                                        "model_type", "learned_positions"]),
                       JSON_VALUES, max_size=10))
def test_from_dict_random_values_for_known_keys_raises_only_spec_error(data):
    _load_ok_or_spec_error(data)


@SETTINGS
@given(valid_dicts(), JSON_VALUES, st.sampled_from(["blocks", "layer", "mixer", "ffn", "layers"]))
def test_from_dict_random_subtrees_raise_only_spec_error(data, value, where):
    data = copy.deepcopy(data)
    if where == "blocks":
        data["blocks"] = {"attn": value}
    elif where == "layer":
        data["blocks"]["attn"] = value
    elif where == "mixer":
        data["blocks"]["attn"]["mixer"] = value
    elif where == "ffn":
        data["blocks"]["attn"]["ffn"] = value
    else:
        data["layers"] = value
    _load_ok_or_spec_error(data)


# --------------------------------------------------------------------------- mutations

@SETTINGS
@given(valid_dicts())
def test_valid_dicts_load(data):
    spec = ModelSpec.from_dict(data)
    assert spec.num_layers == (len(data["layers"]) if isinstance(data["layers"], list)
                               else data["layers"]["count"])


@SETTINGS
@given(valid_dicts(), st.data())
def test_mutation_drop_key(data, draw):
    data = copy.deepcopy(data)
    path = draw.draw(st.sampled_from([p for p in _paths(data) if isinstance(p[-1], str)]))
    parent = _get(data, path[:-1])
    key = path[-1]
    del parent[key]
    result = _load_ok_or_spec_error(data)
    required = {"name", "vocab_size", "hidden_size", "context_length", "blocks", "layers",
                "type", "heads", "kv_heads", "head_dim", "d_ff", "experts", "top_k", "d_expert",
                "count", "d_inner", "d_state"}
    # Dropping the only block of a layer, or a layer's only FFN when it also has a mixer, is
    # allowed; dropping a required key is not.
    if key in required and len(path) != 3:   # blocks.<name>.<mixer|ffn> are optional singly
        assert isinstance(result, SpecError), f"dropping {'.'.join(map(str, path))} was accepted"
        assert result.field and key in result.field, (path, result.field, str(result))


@SETTINGS
@given(valid_dicts(), JSON_VALUES, st.data())
def test_mutation_set_field_to_random_json(data, value, draw):
    data = copy.deepcopy(data)
    path = draw.draw(st.sampled_from(list(_paths(data))))
    _get(data, path[:-1])[path[-1]] = value
    result = _load_ok_or_spec_error(data)
    if isinstance(result, ModelSpec):
        # Whatever loads must be a spec the app can save again.
        spec_to_text(result, "json")
        spec_to_text(result, "toml")


NOT_AN_INT = (st.none() | st.booleans() | st.floats() | st.text(max_size=5)
              | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3),
                                                                       st.integers(), max_size=2))


@SETTINGS
@given(valid_dicts(), NOT_AN_INT, st.data())
def test_mutation_wrong_type_names_the_field(data, value, draw):
    data = copy.deepcopy(data)
    path, key = draw.draw(st.sampled_from(_positive_field_paths(data)))
    _get(data, path[:-1])[path[-1]] = value
    err = _expect_field_error(data, key)
    assert err.field == ".".join(map(str, path))


@SETTINGS
@given(valid_dicts(), st.integers(2**40 + 1, 10**400), st.data())
def test_mutation_absurdly_large_sizes_name_the_field(data, value, draw):
    """Above 2**40 a size is a typo or a damaged file; the cost model's floats would overflow."""
    data = copy.deepcopy(data)
    path, key = draw.draw(st.sampled_from(_positive_field_paths(data)))
    _get(data, path[:-1])[path[-1]] = value
    err = _expect_field_error(data, key)
    assert err.field == ".".join(map(str, path)) and "at most 2**40" in str(err)


@SETTINGS
@given(valid_dicts(), st.integers(-(2**40), 0), st.data())
def test_mutation_non_positive_sizes_name_the_field(data, value, draw):
    data = copy.deepcopy(data)
    path, key = draw.draw(st.sampled_from(_positive_field_paths(data)))
    _get(data, path[:-1])[path[-1]] = value
    err = _expect_field_error(data, key)
    assert err.field == ".".join(map(str, path))


@SETTINGS
@given(valid_dicts(), st.text(min_size=1, max_size=10), st.data())
def test_mutation_unknown_key_names_the_key(data, key, draw):
    data = copy.deepcopy(data)
    known = {"format", "version", "name", "vocab_size", "hidden_size", "context_length", "blocks",
             "layers", "tie_embeddings", "position", "rope_fraction", "learned_positions", "norm",
             "norm_bias", "norm_placement", "final_norm", "embedding_norm", "lm_head_bias", "mtp_depth", "vision",
             "context_stated",
             "model_type", "type", "kind", "window", "mixer", "mixers", "ffn", "ffns", "norms", "count", "pattern",
             "prefix"} | {f for cls in (Attention, DenseFFN, MoEFFN, SSM)
                          for f in cls.__dataclass_fields__}
    assume(key not in known)
    targets = [(), ("blocks", "attn"), ("blocks", "attn", "mixer"), ("blocks", "attn", "ffn")]
    if isinstance(data["layers"], dict):
        targets.append(("layers",))
    target = draw.draw(st.sampled_from(targets))
    _get(data, target)[key] = 1
    err = _expect_field_error(data, key)
    assert "unknown key" in err.rule


@SETTINGS
@given(valid_dicts(), st.data())
def test_mutation_heads_not_divisible_by_kv_heads(data, draw):
    data = copy.deepcopy(data)
    mixer = data["blocks"]["attn"]["mixer"]
    bad = [k for k in range(1, 2 * mixer["heads"] + 2) if mixer["heads"] % k]
    mixer["kv_heads"] = draw.draw(st.sampled_from(bad))
    err = _expect_field_error(data, "kv_heads")
    assert err.field == "blocks.attn.mixer.kv_heads"
    assert "divisible" in err.rule


@SETTINGS
@given(valid_dicts(), st.integers(1, 100), st.integers(1, 64))
def test_mutation_top_k_above_experts(data, extra, experts):
    data = copy.deepcopy(data)
    data["blocks"]["attn"]["ffn"] = {"type": "moe", "experts": experts, "top_k": experts + extra,
                                     "d_expert": 32}
    err = _expect_field_error(data, "top_k")
    assert err.field == "blocks.attn.ffn.top_k"


@SETTINGS
@given(valid_dicts(), st.integers(1, 10**6))
def test_mutation_window_above_context(data, extra):
    data = copy.deepcopy(data)
    attn = data["blocks"]["attn"]["mixer"]
    attn.update(kind="sliding", window=data["context_length"] + extra)
    err = _expect_field_error(data, "window")
    assert err.field.startswith("blocks.attn.")
    assert "context" in err.rule


@SETTINGS
@given(valid_dicts(), st.text(min_size=1, max_size=8), st.data())
def test_mutation_unknown_block_in_layers(data, bad, draw):
    assume(bad not in data["blocks"])
    data = copy.deepcopy(data)
    if isinstance(data["layers"], list):
        i = draw.draw(st.integers(0, len(data["layers"]) - 1))
        data["layers"][i] = bad
    else:
        data["layers"]["pattern"] = [bad]
        data["layers"].pop("prefix", None)
    err = _expect_field_error(data, "layers")
    assert repr(bad) in err.rule


@SETTINGS
@given(valid_specs(), st.integers(1, 1000))
def test_window_larger_than_context_rejected(spec, extra):
    """Sliding window > context_length is rejected, naming the window field, whether the window
    grows or the context shrinks."""
    assume("local" in spec.blocks)
    local = spec.blocks["local"]
    bad = dataclasses.replace(local.mixer, window=spec.context_length + extra)
    with pytest.raises(SpecError) as info:
        spec.with_changes(blocks={**spec.blocks, "local": dataclasses.replace(local, mixers=(bad,))})
    assert info.value.field == "blocks.local.mixers[0].window"
    if local.mixer.window > 1:
        with pytest.raises(SpecError) as info:
            spec.with_changes(context_length=max(local.mixer.window - extra, 1))
        assert info.value.field.endswith("window")


def test_window_larger_than_context_rejected_example():
    attn = Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=2048)
    with pytest.raises(SpecError) as info:
        ModelSpec(name="w", vocab_size=10, hidden_size=64, context_length=1024,
                  blocks={"local": Layer(mixers=(attn,), ffns=(DenseFFN(d_ff=128),))},
                  layout=("local",))
    assert info.value.field.startswith("blocks.local.")
    assert info.value.field.endswith("window")


def test_unhashable_mixer_kind_is_a_spec_error():
    data = {"name": "m", "vocab_size": 10, "hidden_size": 8, "context_length": 16,
            "blocks": {"b": {"mixer": {"type": [], "heads": 1, "kv_heads": 1, "head_dim": 8}}},
            "layers": ["b"]}
    with pytest.raises(SpecError) as info:
        ModelSpec.from_dict(data)
    assert info.value.field == "blocks.b.mixer.type"


@pytest.mark.parametrize("key,value", [("model_type", None), ("model_type", 7),
                                       ("model_type", ["llama"])])
def test_model_type_must_be_a_string(key, value):
    data = {"name": "m", "vocab_size": 10, "hidden_size": 8, "context_length": 16,
            "blocks": {"b": {"ffn": {"type": "dense", "d_ff": 8}}}, "layers": ["b"], key: value}
    with pytest.raises(SpecError) as info:
        ModelSpec.from_dict(data)
    assert info.value.field == key


# --------------------------------------------------------------------------- round trips

@SETTINGS
@given(valid_specs())
def test_dict_round_trip(spec):
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@SETTINGS
@given(recurrent_specs())
def test_dict_round_trip_without_attention(spec):
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@SETTINGS
@given(valid_dicts())
def test_dict_round_trip_from_user_dicts(data):
    spec = ModelSpec.from_dict(data)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_sliding_attention_survives_dict_round_trip():
    attn = Attention(heads=4, kv_heads=2, head_dim=16, kind="sliding", window=512)
    spec = ModelSpec(name="w", vocab_size=10, hidden_size=64, context_length=1024,
                     blocks={"local": Layer(mixers=(attn,), ffns=(DenseFFN(d_ff=128),))},
                     layout=("local",))
    back = ModelSpec.from_dict(spec.to_dict())
    assert back.blocks["local"].mixer.kind == "sliding"
    assert back.blocks["local"].mixer.window == 512
    assert back == spec


@pytest.mark.parametrize("model", ["llama-3-8b", "mixtral-8x7b", "gemma-2-9b",
                                   "qwen3-next-80b-a3b", "deepseek-v3"])
def test_catalog_dict_round_trip(model):
    from models.catalog import find
    spec = find(model).spec()
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@SETTINGS
@given(valid_specs() | recurrent_specs(), st.sampled_from(["json", "toml"]))
def test_save_load_round_trip(tmp_path, spec, ext):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))   # tmp_path is shared by all examples
    path = folder / f"spec.{ext}"
    save_spec(spec, path)
    assert load_spec_file(path) == spec
    assert os.listdir(folder) == [path.name]


@SETTINGS
@given(recurrent_specs(), st.sampled_from(["json", "toml"]))
def test_save_load_round_trip_without_attention(tmp_path, spec, ext):
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / f"spec.{ext}"
    save_spec(spec, path)
    assert load_spec_file(path) == spec


def test_save_writes_through_a_link_and_never_over_a_folder_or_device(tmp_path):
    spec = find("llama-3-8b").spec()
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "real" / "spec.json")
    save_spec(spec, link)
    assert link.is_symlink() and load_spec_file(tmp_path / "real" / "spec.json") == spec
    with pytest.raises(IsADirectoryError) as err:
        save_spec(spec, tmp_path / "real")
    assert ".tmp" not in str(err.value)        # the message names the folder, not a temporary file
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        save_spec(spec, fifo)
    assert not fifo.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "pipe.json", "real"]


@pytest.mark.parametrize("ext", ["json", "toml"])
def test_save_is_atomic_when_replace_fails(tmp_path, monkeypatch, ext):
    path = tmp_path / f"model.{ext}"
    old = "old content, must survive\n"
    path.write_text(old, encoding="utf-8")
    spec = ModelSpec(name="n", vocab_size=10, hidden_size=16, context_length=32,
                     blocks={"b": Layer(ffns=(DenseFFN(d_ff=32),))}, layout=("b",))

    def crash(src, dst):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(spec_io.os, "replace", crash)
    with pytest.raises(OSError):
        save_spec(spec, path)
    assert path.read_text(encoding="utf-8") == old
    assert sorted(os.listdir(tmp_path)) == [path.name], "temporary file left behind"


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    """A KeyboardInterrupt mid-rename also leaves the old file and no temp file."""
    path = tmp_path / "model.json"
    path.write_text("{}", encoding="utf-8")
    spec = ModelSpec(name="n", vocab_size=10, hidden_size=16, context_length=32,
                     blocks={"b": Layer(ffns=(DenseFFN(d_ff=32),))}, layout=("b",))

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_spec(spec, path)
    assert path.read_text(encoding="utf-8") == "{}"
    assert os.listdir(tmp_path) == ["model.json"]


# --------------------------------------------------------------------------- no code execution

def test_auto_map_is_ignored(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "modeling_evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\n", encoding="utf-8")
    config = {
        "model_type": "llama", "architectures": ["EvilForCausalLM"],
        "auto_map": {"AutoConfig": "modeling_evil.EvilConfig",
                     "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"},
        "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100,
        "max_position_embeddings": 256, "tie_word_embeddings": False,
    }
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for source in (tmp_path, tmp_path / "config.json"):
        spec = load_spec_file(source)
        assert spec.num_layers == 2
        assert spec.hidden_size == 64
    assert not marker.exists()


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "executed"))


@pytest.mark.parametrize("name", ["spec.json", "spec.toml", "config.json", "model.pkl",
                                  "model.bin"])
@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_pickle_payload_is_rejected_not_unpickled(tmp_path, name, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(str(marker)), protocol=protocol)
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(SpecError):
        load_spec_file(path)
    assert not marker.exists()


def test_pickle_folder_without_config_is_rejected(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(SpecError):
        load_spec_file(tmp_path)


# --------------------------------------------------------------------------- Hugging Face import

@pytest.mark.parametrize("model_type", ["bert", "t5", "llama_evil", "LLAMA", "unknown"])
def test_hf_unsupported_model_type_lists_supported(model_type):
    with pytest.raises(SpecError) as info:
        spec_from_hf_config({"model_type": model_type, "hidden_size": 64})
    msg = str(info.value)
    assert "model_type" in info.value.field
    assert model_type in msg
    for supported in SUPPORTED_MODEL_TYPES:
        assert supported in msg


@pytest.mark.parametrize("model_type, meant", [("qwen3-moe", "qwen3_moe"), ("Qwen2_5_VL", "qwen2_5_vl"),
                                               ("gemma_3", "gemma3"), ("deepseek_v32", None), ("llava", None)])
def test_hf_unsupported_model_type_suggests_only_a_respelling(model_type, meant):
    with pytest.raises(SpecError) as info:
        spec_from_hf_config({"model_type": model_type, "hidden_size": 64})
    assert (f"(did you mean {meant}?)" in str(info.value)) if meant else "did you mean" not in str(info.value)


def test_exaone4_string_window_pattern_repeats_and_ends_global():
    """EXAONE 4.0's sliding_window_pattern may be a string ("LLLG"): it repeats from layer 0, the
    last layer is global whatever the pattern says, and global layers carry no RoPE."""
    cfg = {"model_type": "exaone4", "hidden_size": 64, "num_hidden_layers": 7, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100, "sliding_window": 16,
           "sliding_window_pattern": "LLG", "max_position_embeddings": 1024}
    layers = spec_from_hf_config(cfg).layers
    kinds = [layer.mixer.kind for layer in layers]
    assert kinds == ["sliding", "sliding", "full", "sliding", "sliding", "full", "full"]
    assert [layer.mixer.rope for layer in layers] == [k == "sliding" for k in kinds]
    assert {layer.mixer.window for layer in layers if layer.mixer.kind == "sliding"} == {16}
    unwindowed = spec_from_hf_config({**cfg, "sliding_window": None}).layers   # every layer global, with RoPE
    assert all(layer.mixer.kind == "full" and layer.mixer.rope for layer in unwindowed)


def test_minimax_attn_type_list_reads_as_layer_types():
    """MiniMax's own configs mark softmax layers with 1 in attn_type_list (0: Lightning)."""
    base = {"model_type": "minimax", "hidden_size": 64, "num_hidden_layers": 8, "num_attention_heads": 4,
            "num_key_value_heads": 2, "intermediate_size": 96, "num_local_experts": 4,
            "num_experts_per_tok": 2, "vocab_size": 100}
    flags = [0, 0, 0, 1] * 2
    by_flags = spec_from_hf_config({**base, "attn_type_list": flags})
    by_types = spec_from_hf_config({**base, "layer_types": ["full_attention" if f else "linear_attention"
                                                            for f in flags]})
    assert by_flags.layers == by_types.layers
    assert [layer.mixer.KIND for layer in by_flags.layers] == ["linear_attention"] * 3 + ["attention"] + \
        ["linear_attention"] * 3 + ["attention"]


def test_readme_lists_every_supported_model_type():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    text = " ".join(readme[readme.index("- **Hugging Face import**"):].split())
    listed = text[:text.index("and the original `mamba_ssm`")]
    count, names = re.search(r"keys for (\d+) model types:(.*)", listed, re.S).groups()
    words = set(re.findall(r"[a-z0-9_-]+", names))   # openai-gpt
    assert set(SUPPORTED_MODEL_TYPES) <= words
    assert int(count) == len(SUPPORTED_MODEL_TYPES)


@pytest.mark.parametrize("config", [None, [], ["llama"], "llama", 3, 2.5, True,
                                    b'{"model_type": "llama"}', ("model_type", "llama")])
def test_hf_non_dict_config_is_spec_error(config):
    with pytest.raises(SpecError):
        spec_from_hf_config(config)


@SETTINGS
@given(st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=8),
       st.sampled_from(SUPPORTED_MODEL_TYPES))
def test_hf_random_config_raises_only_spec_error(config, model_type):
    config = {**config, "model_type": model_type}
    try:
        spec_from_hf_config(config)
    except SpecError:
        pass


# types whose importers read keys of their own (muP scalars and lists, projector tables, patch sizes,
# QK-norm and differential flags): each key of their default config set to any JSON value
OWN_KEY_TYPES = ("minicpm3", "aria_text", "aria", "persimmon", "fuyu", "diffllama", "falcon_h1", "minimax",
                 "bailing_hybrid", "jetmoe")


@SETTINGS
@given(st.sampled_from(OWN_KEY_TYPES), st.data(), JSON_VALUES)
def test_hf_default_config_with_one_key_replaced_raises_only_spec_error(model_type, data, value):
    pytest.importorskip("transformers")
    from hf_reference import default_config
    config = default_config(model_type)
    key = data.draw(st.sampled_from(sorted(config)))
    try:
        spec_from_hf_config({**config, key: value})
    except SpecError:
        pass


@pytest.mark.parametrize("model_type,key,value", [
    ("qwen3", "vocab_size", 10 ** 400), ("qwen3", "hidden_size", float("inf")),
    ("llama", "num_hidden_layers", 1e30), ("qwen3", "num_attention_heads", float("nan")),
    ("llama", "num_hidden_layers", 10_000_000),       # refused before 10M per-layer entries are built
    ("qwen3", "head_dim", 1.5), ("qwen3", "head_dim", True),      # were read as 1
    ("llama", "num_attention_heads", 0),                           # was a ZeroDivisionError
    ("mistral", "sliding_window", 1.5), ("mistral", "sliding_window", float("inf"))])  # 1 / full attention
def test_hf_absurd_numbers_name_the_key(model_type, key, value):
    model = {"qwen3": "qwen3-0.6b", "llama": "llama-3-8b", "mistral": "mistral-7b"}[model_type]
    config = {**find(model).raw["hf_config"], key: value}
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(config)
    assert info.value.field == f"config.{key}"


@pytest.mark.parametrize("vision", [{"patch_size": 0}, {"hidden_size": "x"}, {"image_size": [224]}])
def test_hf_bad_vision_config_is_a_spec_error_naming_it(vision):
    config = copy.deepcopy(find("gemma-3-27b").raw["hf_config"])
    config["vision_config"].update(vision)
    with pytest.raises(SpecError) as info:
        spec_from_hf_config(config)
    assert info.value.field == "config.vision_config"


_DSA = dict(heads=4, kv_lora_rank=16, qk_nope_dim=8, qk_rope_dim=8, v_head_dim=8, q_lora_rank=24,
            index_heads=2, index_head_dim=16, index_topk=4)


@pytest.mark.parametrize("changes, field", [
    ({"index_topk": 0}, "index_topk"),                 # an indexer without a top-k
    ({"index_heads": 0}, "index_topk"),
    ({"q_lora_rank": 0}, "index_heads"),               # the indexer reads the query latent
    ({"index_head_dim": 4}, "index_head_dim"),         # narrower than the rotary dims
    ({"kind": "sliding", "window": 8}, "kind"),
    ({"index_topk": -1}, "index_topk"),
    # halves for an indexer that is not there; a flag that is not a flag
    ({"index_heads": 0, "index_head_dim": 0, "index_topk": 0, "index_rope_halves": True}, "index_rope_halves"),
    ({"index_rope_halves": "yes"}, "index_rope_halves"),
])
def test_sparse_mla_rules_name_the_field(changes, field):
    from models.spec import MLA
    with pytest.raises(SpecError) as err:
        MLA(**{**_DSA, **changes}).validate("layers[0].mixers[0]")
    assert err.value.field.endswith(field)


def test_glm_shared_indexer_layers_are_refused_by_name():
    cfg = {"model_type": "glm_moe_dsa", "num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 2,
           "kv_lora_rank": 16, "q_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
           "v_head_dim": 8, "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
           "intermediate_size": 64, "vocab_size": 100,
           "indexer_types": ["full", "shared", "shared", "full"]}
    with pytest.raises(SpecError, match="shared") as err:
        spec_from_hf_config(cfg)
    assert err.value.field == "config.indexer_types"
    cfg["indexer_types"] = ["full"] * 4
    spec = spec_from_hf_config(cfg)
    assert all(layer.mixers[0].index_topk == 2048 for layer in spec.layers)


def test_llava_wrapper_errors_name_the_key():
    text = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 128, "vocab_size": 100}
    with pytest.raises(SpecError) as err:
        spec_from_hf_config({"model_type": "llava", "text_config": text,
                             "vision_config": {"model_type": "pixtral", "hidden_size": 64}})
    assert err.value.field == "config.vision_config.model_type" and "pixtral" in str(err.value)
    with pytest.raises(SpecError) as err:
        spec_from_hf_config({"model_type": "llava", "text_config": {**text, "model_type": "llava"}})
    assert err.value.field == "config.text_config.model_type"
    spec = spec_from_hf_config({"model_type": "llava_next", "text_config": {k: v for k, v in text.items()
                                                                           if k != "model_type"}})
    assert spec.model_type == "llama" and spec.vision is None     # no vision_config: the language model alone


def test_xielu_is_refused_for_experts():
    with pytest.raises(SpecError, match="only a dense FFN") as err:
        MoEFFN(experts=4, top_k=2, d_expert=16, activation="xielu").validate("layers[0].ffns[0]")
    assert err.value.field == "layers[0].ffns[0].activation"
    DenseFFN(d_ff=16, gated=False, activation="xielu").validate("layers[0].ffns[0]")


@pytest.mark.parametrize("fields, field", [({"routed_scale": 0.0}, "routed_scale"),
                                           ({"routed_scale": float("inf")}, "routed_scale"),
                                           ({"routed_scale": True}, "routed_scale"),
                                           ({"normalize_top_k": "yes"}, "normalize_top_k")])
def test_routing_weight_fields_are_checked(fields, field):
    with pytest.raises(SpecError) as err:
        MoEFFN(experts=4, top_k=2, d_expert=16, **fields).validate("ffn")
    assert err.value.field == f"ffn.{field}"


def test_routing_weight_fields_come_from_the_config_or_the_types_default():
    """norm_topk_prob and routed_scaling_factor, else the config class's defaults: OLMoE leaves the
    top-k weights as they are, DeepSeek-V3 rescales them and multiplies by 2.5."""
    base = {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 96,
            "vocab_size": 100, "num_experts": 4, "num_experts_per_tok": 2}
    olmoe = spec_from_hf_config({**base, "model_type": "olmoe"}).layers[0].ffn
    assert (olmoe.normalize_top_k, olmoe.routed_scale) == (False, 1.0)
    told = spec_from_hf_config({**base, "model_type": "olmoe", "norm_topk_prob": True}).layers[0].ffn
    assert told.normalize_top_k
    ds = {**base, "model_type": "deepseek_v3", "n_routed_experts": 4, "moe_intermediate_size": 32,
          "first_k_dense_replace": 0, "kv_lora_rank": 16, "q_lora_rank": 0, "qk_nope_head_dim": 16,
          "qk_rope_head_dim": 8, "v_head_dim": 16}
    v3 = spec_from_hf_config(ds).layers[0].ffn
    assert (v3.normalize_top_k, v3.routed_scale) == (True, 2.5)
    assert spec_from_hf_config({**ds, "routed_scaling_factor": 1.0}).layers[0].ffn.routed_scale == 1.0
    with pytest.raises(SpecError) as err:
        spec_from_hf_config({**ds, "routed_scaling_factor": "2.5"})
    assert err.value.field == "config.routed_scaling_factor"


def test_a_config_in_the_hugging_face_cache_is_named_by_its_repo(tmp_path):
    """huggingface_hub keeps a download at models--org--name/snapshots/<commit>/config.json: the
    model is called org/name, not the commit hash; elsewhere a config.json is named by its folder."""
    config = json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                         "intermediate_size": 128, "vocab_size": 100})
    cached = tmp_path / "hub" / "models--LiquidAI--LFM2-1.2B" / "snapshots" / ("0123abcd" * 5) / "config.json"
    plain = tmp_path / "my-model" / "config.json"
    for path in (cached, plain):
        path.parent.mkdir(parents=True)
        path.write_text(config)
    assert load_spec_file(cached).name == "LiquidAI/LFM2-1.2B"
    assert load_spec_file(cached.parent).name == "LiquidAI/LFM2-1.2B"
    assert load_spec_file(plain).name == "my-model"


@pytest.mark.parametrize("changes, field", [
    ({"variant": "lightning", "negative_eigenvalues": True}, "negative_eigenvalues"),   # a delta rule's beta only
    ({"negative_eigenvalues": 1}, "negative_eigenvalues"),
    ({"decay_by_depth": True}, "decay_by_depth"),          # lightning's fixed slopes only
    ({"variant": "lightning", "decay_by_depth": "yes"}, "decay_by_depth"),
])
def test_linear_attention_variant_rules_name_the_field(changes, field):
    with pytest.raises(SpecError) as err:
        LinearAttention(**{"key_heads": 2, "value_heads": 4, "key_dim": 8, "value_dim": 8, **changes}).validate("m")
    assert err.value.field == f"m.{field}"


@pytest.mark.parametrize("part, changes, field", [
    (Attention(heads=4, kv_heads=2, head_dim=16), {"key_scale": 0.0}, "key_scale"),
    (Attention(heads=4, kv_heads=2, head_dim=16), {"in_scale": float("nan")}, "in_scale"),
    (SSM(d_inner=64, d_state=16, heads=4), {"proj_scales": (1.0, 2.0)}, "proj_scales"),
    (SSM(d_inner=64, d_state=16, heads=4), {"proj_scales": (1.0, 2.0, 1.0, 1.0, -1.0)}, "proj_scales[4]"),
    (SSM(d_inner=64, d_state=16, variant="mamba1", dt_rank=4), {"out_scale": 0.5}, "out_scale"),
    (DenseFFN(d_ff=64, gated=False), {"gate_scale": 2.0}, "gate_scale"),
    (DenseFFN(d_ff=64), {"out_scale": "1"}, "out_scale"),
])
def test_mup_multiplier_rules_name_the_field(part, changes, field):
    """Falcon-H1's multipliers: positive and finite; five SSM row multipliers, on Mamba-2 only; a
    gate multiplier needs a gate."""
    with pytest.raises(SpecError) as err:
        dataclasses.replace(part, **changes).validate("m")
    assert err.value.field == f"m.{field}"


def test_a_spec_file_lists_the_ssm_row_multipliers():
    ssm = SSM(d_inner=64, d_state=16, heads=4, proj_scales=(0.5, 1.5, 0.8, 1.2, 2.0))
    spec = ModelSpec(name="m", vocab_size=16, hidden_size=32, context_length=64,
                     blocks={"ssm": Layer(mixers=(ssm,), ffns=(DenseFFN(d_ff=64),))}, layout=("ssm",))
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and hash(again.blocks["ssm"]) == hash(spec.blocks["ssm"])


@pytest.mark.parametrize("changes, field", [({"dt_min": 0.1, "dt_max": 0.01}, "dt_max"), ({"dt_min": -1.0}, "dt_min"),
                                            ({"dt_max": float("inf")}, "dt_max")])
def test_mamba2_step_clamp_rules_name_the_field(changes, field):
    with pytest.raises(SpecError) as err:
        SSM(d_inner=64, d_state=16, heads=4, **changes).validate("m")
    assert err.value.field == f"m.{field}"


@pytest.mark.parametrize("limit", [[0.1], "0.1, 1", [-0.1, 1.0], [True, 1.0]])
def test_a_bad_time_step_limit_is_named(limit):
    cfg = {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 1, "num_heads": 4, "head_dim": 32,
           "state_size": 16, "vocab_size": 100, "time_step_limit": limit}
    with pytest.raises(SpecError) as err:
        spec_from_hf_config(cfg)
    assert err.value.field == "config.time_step_limit"
