"""The LLMOrbit taxonomy ("orbit") graph: the survey's eight orbital dimensions, their techniques and
concepts (resources/taxonomy/taxonomy.json), every catalog model with its organization and lineage,
and which techniques each model uses.

Where the architecture decides a technique (MoE layers, MLA, sliding windows, QK-norm, ...), the
model-to-technique edge is derived from the model's spec by :func:`spec_techniques`, never written by
hand, so the orbit graph and the architecture diagrams cannot disagree. Facts that no spec can decide
(DeepSeek-R1 was trained with GRPO, o1 spends test-time compute) come from the taxonomy file's
``model_concepts``, each grounded in the survey; such a "survey" edge may not contradict the spec.

Node ids are namespaced (``dimension:agentic_ai``, ``concept:moe``, ``organization:Meta``,
``model:deepseek-v3``); every node has ``kind`` and ``label`` attributes. Edges are keyed by their
kind (``in_dimension``, ``related``, ``made_by``, ``derived_from``, ``uses``) and also carry it as the
``kind`` attribute. Invalid data raises :class:`~models.spec.SpecError` naming the item.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import networkx as nx

from resources import RESOURCES_DIR

from .catalog import CatalogEntry, architecture_features, catalog
from .params import count_params
from .spec import MLA, SSM, Attention, CrossAttention, LinearAttention, ModelSpec, MoEFFN, ShortConv, SpecError

TAXONOMY_DIR = RESOURCES_DIR / "taxonomy"
TAXONOMY_PATH = TAXONOMY_DIR / "taxonomy.json"

DIMENSION, CONCEPT, ORGANIZATION, MODEL = "dimension", "concept", "organization", "model"
NODE_KINDS = (DIMENSION, CONCEPT, ORGANIZATION, MODEL)
EDGE_KINDS = ("in_dimension", "related", "made_by", "derived_from", "uses")
CONCEPT_KINDS = ("technique", "concept", "benchmark", "paradigm", "method", "architecture",
                 "framework", "protocol", "metric")

# Concepts a ModelSpec decides, one way or the other: for a model with a spec, each is used exactly
# when spec_techniques says so, and a "survey" edge to one the spec does not show is an error.
SPEC_CONCEPTS = frozenset({
    "mha", "gqa", "mqa", "mla", "sliding_window", "local_global_attention", "chunked_attention",
    "moe", "fine_grained_moe", "shared_experts", "linear_attention", "gated_deltanet",
    "kimi_delta_attention", "lightning_attention", "mamba", "hybrid_architecture", "gated_attention",
    "qk_norm", "rope", "partial_rope", "nope", "absolute_position_embeddings", "mtp", "swiglu",
    "rmsnorm", "layernorm", "pre_norm", "post_norm", "sandwich_norm",
})

_LINEAR_VARIANT_CONCEPT = {"gated_deltanet": "gated_deltanet", "kimi_delta": "kimi_delta_attention",
                           "lightning": "lightning_attention"}
_NORM_PLACEMENT_CONCEPT = {"pre": "pre_norm", "post": "post_norm", "sandwich": "sandwich_norm"}
FINE_GRAINED_MIN_EXPERTS = 64


def node_id(kind: str, ident: str) -> str:
    """The graph node id of a dimension, concept, organization or model."""
    return f"{kind}:{ident}"


# --------------------------------------------------------------------------- the data

@dataclass(frozen=True)
class Dimension:
    id: str
    name: str
    description: str
    section: str


@dataclass(frozen=True)
class Concept:
    id: str
    name: str
    dimension: str
    kind: str
    description: str
    section: str
    related: tuple[str, ...] = ()
    year: int | None = None
    table6_column: str | None = None   # benchmarks: the catalog's benchmark key (survey Table 6)


@dataclass(frozen=True)
class Taxonomy:
    dimensions: Mapping[str, Dimension]
    concepts: Mapping[str, Concept]
    model_concepts: Mapping[str, tuple[str, ...]]   # survey-grounded facts, by catalog model id


def _text(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(path, f"must be a non-empty string, got {value!r}")
    return value


def _keys(path: str, data: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    if not isinstance(data, Mapping):
        raise SpecError(path, f"must be an object, got {type(data).__name__}")
    extra = set(data) - set(required) - set(optional)
    if extra:
        raise SpecError(f"{path}.{sorted(extra)[0]}",
                        f"unknown key; allowed keys are {', '.join(required + optional)}")
    for key in required:
        if key not in data:
            raise SpecError(f"{path}.{key}", "is required")


def parse_taxonomy(data: Any, model_ids: Iterable[str] | None = None) -> Taxonomy:
    """Validate taxonomy data (the parsed JSON) and return it as a :class:`Taxonomy`.

    ``model_ids`` are the catalog ids that ``model_concepts`` may name (default: the catalog's).
    """
    _keys("taxonomy", data, ("dimensions", "concepts", "model_concepts"),
          ("format", "version", "source"))
    if data.get("format", "orbit-taxonomy") != "orbit-taxonomy":
        raise SpecError("format", f"expected 'orbit-taxonomy', got {data.get('format')!r}")
    if data.get("version", 1) != 1:
        raise SpecError("version", f"this build reads taxonomy version 1, got {data.get('version')!r}")

    if not isinstance(data["dimensions"], list) or not data["dimensions"]:
        raise SpecError("dimensions", "must be a non-empty list")
    dimensions: dict[str, Dimension] = {}
    for i, raw in enumerate(data["dimensions"]):
        path = f"dimensions[{i}]"
        _keys(path, raw, ("id", "name", "description", "section"))
        did = _text(f"{path}.id", raw["id"])
        path = f"dimensions.{did}"
        if did in dimensions:
            raise SpecError(path, f"duplicate dimension id {did!r}")
        dimensions[did] = Dimension(did, _text(f"{path}.name", raw["name"]),
                                    _text(f"{path}.description", raw["description"]),
                                    _text(f"{path}.section", raw["section"]))

    if not isinstance(data["concepts"], list):
        raise SpecError("concepts", "must be a list")
    concepts: dict[str, Concept] = {}
    for i, raw in enumerate(data["concepts"]):
        path = f"concepts[{i}]"
        _keys(path, raw, ("id", "name", "dimension", "kind", "description", "section"),
              ("related", "year", "table6_column"))
        cid = _text(f"{path}.id", raw["id"])
        path = f"concepts.{cid}"
        if cid in concepts:
            raise SpecError(path, f"duplicate concept id {cid!r}")
        dim = raw["dimension"]
        if dim not in dimensions:
            raise SpecError(f"{path}.dimension", f"concept {cid!r} is in unknown dimension {dim!r}; "
                            f"dimensions are {', '.join(dimensions)}")
        kind = raw["kind"]
        if kind not in CONCEPT_KINDS:
            raise SpecError(f"{path}.kind", f"must be one of {', '.join(CONCEPT_KINDS)}; got {kind!r}")
        related = raw.get("related", [])
        if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
            raise SpecError(f"{path}.related", "must be a list of concept ids")
        year = raw.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)
                                 or not 1900 <= year <= 2100):
            raise SpecError(f"{path}.year", f"must be a year, got {year!r}")
        column = raw.get("table6_column")
        if column is not None:
            _text(f"{path}.table6_column", column)
        concepts[cid] = Concept(cid, _text(f"{path}.name", raw["name"]), dim, kind,
                                _text(f"{path}.description", raw["description"]),
                                _text(f"{path}.section", raw["section"]), tuple(related), year,
                                column)
    for cid, concept in concepts.items():
        for other in concept.related:
            if other not in concepts:
                raise SpecError(f"concepts.{cid}.related",
                                f"concept {cid!r} is related to unknown concept {other!r}")
            if other == cid:
                raise SpecError(f"concepts.{cid}.related", f"concept {cid!r} is related to itself")
    missing = SPEC_CONCEPTS - set(concepts)
    if missing:
        raise SpecError("concepts", "the spec-derived concepts must all be defined; missing "
                        f"{', '.join(sorted(missing))}")

    known_models = set(catalog()) if model_ids is None else set(model_ids)
    raw_mc = data["model_concepts"]
    if not isinstance(raw_mc, Mapping):
        raise SpecError("model_concepts", "must be an object of catalog id -> concept ids")
    model_concepts: dict[str, tuple[str, ...]] = {}
    for mid, ids in raw_mc.items():
        path = f"model_concepts.{mid}"
        if mid not in known_models:
            raise SpecError(path, f"unknown catalog model {mid!r}")
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise SpecError(path, "must be a list of concept ids")
        for cid in ids:
            if cid not in concepts:
                raise SpecError(path, f"model {mid!r} uses unknown concept {cid!r}")
        if len(set(ids)) != len(ids):
            raise SpecError(path, f"model {mid!r} lists a concept twice")
        model_concepts[mid] = tuple(ids)
    return Taxonomy(dimensions, concepts, model_concepts)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file (default: the shipped one, cached)."""
    if path is None:
        return _default_taxonomy()
    return _read(Path(path))


def _read(path: Path) -> Taxonomy:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), f"not valid JSON: {exc}") from None
    except OSError as exc:
        raise SpecError(str(path), f"cannot be read: {exc.strerror or exc}") from None
    return parse_taxonomy(data)


@lru_cache(maxsize=1)
def _default_taxonomy() -> Taxonomy:
    return _read(TAXONOMY_PATH)


# --------------------------------------------------------------------------- techniques from a spec

def spec_techniques(spec: ModelSpec) -> set[str]:
    """The concept ids (all in SPEC_CONCEPTS) that the architecture in ``spec`` uses."""
    out: set[str] = set()
    families: set[str] = set()
    has_full = has_local = False
    attn_rope = attn_no_rope = False
    for layer in _used_blocks(spec):
        for m in layer.mixers:
            if isinstance(m, Attention):
                families.add("softmax")
                if m.kv_heads == m.heads:
                    out.add("mha")
                elif m.kv_heads == 1:
                    out.add("mqa")
                else:
                    out.add("gqa")
                if m.qk_norm != "none":
                    out.add("qk_norm")
                if m.output_gate or m.head_gate != "none":
                    out.add("gated_attention")
            elif isinstance(m, MLA):
                families.add("softmax")
                out.add("mla")
            elif isinstance(m, LinearAttention):
                families.add("linear")
                out.add("linear_attention")
                out.add(_LINEAR_VARIANT_CONCEPT[m.variant])
                continue
            elif isinstance(m, SSM):
                families.add("ssm")
                out.add("mamba")
                continue
            elif isinstance(m, ShortConv):      # LFM2: no survey concept of its own; a hybrid family
                families.add("short_conv")
                continue
            elif isinstance(m, CrossAttention):  # image fusion (Flamingo), no token-mixing family
                continue
            else:  # pragma: no cover - the spec admits no other mixers
                continue
            if m.kind == "sliding":
                out.add("sliding_window")
                has_local = True
            elif m.kind == "chunked":
                out.add("chunked_attention")
                has_local = True
            else:
                has_full = True
            if m.rope:
                attn_rope = True
            else:
                attn_no_rope = True
        for f in layer.ffns:
            if isinstance(f, MoEFFN):
                out.add("moe")
                if f.shared_experts > 0:
                    out.add("shared_experts")
                if f.experts >= FINE_GRAINED_MIN_EXPERTS and f.d_expert < spec.hidden_size:
                    out.add("fine_grained_moe")
            if f.gated and f.activation in ("silu", "swiglu_oai"):
                out.add("swiglu")
    if len(families) > 1:
        out.add("hybrid_architecture")
    if has_full and has_local:
        out.add("local_global_attention")
    if spec.position == "rope" and attn_rope:
        out.add("rope")
        layer_fractions = [m.rope_fraction for layer in _used_blocks(spec) for m in layer.mixers
                           if isinstance(m, Attention) and m.rope and m.rope_fraction]
        if spec.rope_fraction < 1.0 or any(f < 1.0 for f in layer_fractions):
            out.add("partial_rope")
    if spec.position in ("learned", "sinusoidal"):
        out.add("absolute_position_embeddings")
    if attn_no_rope and spec.position in ("rope", "none"):
        out.add("nope")
    if spec.mtp_depth > 0:
        out.add("mtp")
    out.add("rmsnorm" if spec.norm.startswith("rmsnorm") else "layernorm")
    placement = _NORM_PLACEMENT_CONCEPT.get(spec.norm_placement)
    if placement:
        out.add(placement)
    return out


def _used_blocks(spec: ModelSpec):
    """The distinct blocks the layout actually uses (a block defined but unused decides nothing)."""
    seen = dict.fromkeys(spec.layout)
    return [spec.blocks[name] for name in seen]


# (spec-derived concept ids, params_total, params_active); all None without a public architecture
Facts = tuple[frozenset[str] | None, int | None, int | None]


def _facts_of(entry: CatalogEntry) -> Facts:
    if not entry.has_spec:
        return None, None, None
    spec = entry.spec()
    report = count_params(spec)
    # active beside total means sparse activation (the timeline's hollow MoE points); a dense
    # multimodal model's text tokens skip only its image encoder (Gemma 3 27B), which is not that
    sparse = "MoE" in architecture_features(spec)
    return frozenset(spec_techniques(spec)), report.total, report.active if sparse else None


@lru_cache(maxsize=None)
def _catalog_facts(model_id: str) -> Facts:
    """Spec-derived concepts and parameter counts of a catalog model, computed once per id.
    (None, None, None) when the architecture is not public."""
    return _facts_of(catalog()[model_id])


def _entry_facts(entry: CatalogEntry) -> Facts:
    """Cached for the shipped catalog's own entries; computed afresh for any other entry."""
    if catalog().get(entry.id) is entry:
        return _catalog_facts(entry.id)
    return _facts_of(entry)


def model_techniques(model_id: str, taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """Concept id -> "spec" or "survey" for one catalog model."""
    taxonomy = taxonomy or load_taxonomy()
    derived, _, _ = _entry_facts(catalog()[model_id])
    out = {cid: "spec" for cid in sorted(derived or ())}
    for cid in taxonomy.model_concepts.get(model_id, ()):
        out.setdefault(cid, "survey")
    return out


def survey_conflicts(taxonomy: Taxonomy | None = None,
                     entries: Mapping[str, CatalogEntry] | None = None) -> list[str]:
    """Survey edges that the spec contradicts: a spec-decided concept listed for a model whose spec
    does not show it. Empty when the data is consistent."""
    taxonomy = taxonomy or load_taxonomy()
    entries = catalog() if entries is None else entries
    problems = []
    for mid, ids in taxonomy.model_concepts.items():
        if mid not in entries:
            continue
        derived, _, _ = _entry_facts(entries[mid])
        if derived is None:
            continue
        for cid in ids:
            if cid in SPEC_CONCEPTS and cid not in derived:
                problems.append(f"{mid} -> {cid}")
    return problems


# --------------------------------------------------------------------------- the graph

def build_graph(taxonomy: Taxonomy | None = None,
                entries: Mapping[str, CatalogEntry] | None = None) -> nx.MultiDiGraph:
    """The orbit graph of the whole catalog and taxonomy (a fresh graph the caller may modify)."""
    taxonomy = taxonomy or load_taxonomy()
    entries = catalog() if entries is None else entries
    unknown = [m for m in taxonomy.model_concepts if m not in entries]
    if unknown:
        raise SpecError(f"model_concepts.{unknown[0]}", f"unknown catalog model {unknown[0]!r}")
    conflicts = survey_conflicts(taxonomy, entries)
    if conflicts:
        mid, cid = conflicts[0].split(" -> ")
        raise SpecError(f"model_concepts.{mid}", f"the survey edge {mid} -> {cid} contradicts the "
                        f"spec of {mid!r}, which does not use {cid!r}")

    g = nx.MultiDiGraph()
    for d in taxonomy.dimensions.values():
        g.add_node(node_id(DIMENSION, d.id), kind=DIMENSION, id=d.id, label=d.name,
                   description=d.description, section=d.section)
    for c in taxonomy.concepts.values():
        g.add_node(node_id(CONCEPT, c.id), kind=CONCEPT, id=c.id, label=c.name,
                   concept_kind=c.kind, dimension=c.dimension, description=c.description,
                   section=c.section, year=c.year, table6_column=c.table6_column,
                   spec_derived=c.id in SPEC_CONCEPTS)
    for c in taxonomy.concepts.values():
        src = node_id(CONCEPT, c.id)
        g.add_edge(src, node_id(DIMENSION, c.dimension), key="in_dimension", kind="in_dimension")
        for other in c.related:
            g.add_edge(src, node_id(CONCEPT, other), key="related", kind="related")

    for entry in entries.values():
        derived, total, active = _entry_facts(entry)
        if total is None:
            total = entry.published_params
            facts_active = entry.public_facts.get("params_active") if entry.public_facts else None
            active = facts_active if isinstance(facts_active, (int, float)) else None
        mnode = node_id(MODEL, entry.id)
        g.add_node(mnode, kind=MODEL, id=entry.id, label=entry.name,
                   organization=entry.organization, year=entry.year, released=entry.released,
                   family=entry.family, params_total=total, params_active=active,
                   open_weights=entry.open_weights, estimate=entry.estimate,
                   has_spec=derived is not None, provenance=entry.provenance,
                   benchmarks=dict(entry.benchmarks))
        onode = node_id(ORGANIZATION, entry.organization)
        if onode not in g:
            g.add_node(onode, kind=ORGANIZATION, id=entry.organization, label=entry.organization)
        g.add_edge(mnode, onode, key="made_by", kind="made_by")
        for cid in sorted(derived or ()):
            g.add_edge(mnode, node_id(CONCEPT, cid), key="uses", kind="uses", source="spec")
        for cid in taxonomy.model_concepts.get(entry.id, ()):
            if derived is not None and cid in derived:
                continue   # the spec already says so
            g.add_edge(mnode, node_id(CONCEPT, cid), key="uses", kind="uses", source="survey")

    for entry in entries.values():
        for parent in entry.derived_from:
            if parent not in entries:
                raise SpecError(f"catalog.{entry.id}.derived_from",
                                f"{entry.id!r} derives from unknown catalog model {parent!r}")
            g.add_edge(node_id(MODEL, entry.id), node_id(MODEL, parent), key="derived_from",
                       kind="derived_from")
    return g


def lineage(graph: nx.MultiDiGraph, model_id: str) -> list[str]:
    """Catalog ids of every ancestor of ``model_id`` along derived_from edges (nearest first)."""
    out, frontier, seen = [], [node_id(MODEL, model_id)], set()
    while frontier:
        nxt = []
        for node in frontier:
            for _, parent, kind in graph.out_edges(node, keys=True):
                if kind == "derived_from" and parent not in seen:
                    seen.add(parent)
                    out.append(graph.nodes[parent]["id"])
                    nxt.append(parent)
        frontier = nxt
    return out
