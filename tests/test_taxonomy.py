"""The orbit (taxonomy) graph: the survey's eight dimensions and their concepts, every catalog model
with organization, year and lineage, and model-to-technique edges that agree with the specs."""
from __future__ import annotations

import copy
import json

import networkx as nx
import pytest

from models import taxonomy as tx
from models.catalog import catalog, entry_features
from models.spec import ModelSpec, SpecError
from models.taxonomy import CONCEPT, DIMENSION, MODEL, ORGANIZATION, SPEC_CONCEPTS, node_id

FIGURE2_DIMENSIONS = {"scaling_wall", "model_taxonomy", "training_methodology",
                      "architecture_evolution", "breaking_scaling_wall", "agentic_ai",
                      "benchmarking", "economic_environmental"}
# Concepts the issue names explicitly (Figure 2 and Sections 2-9).
NAMED_CONCEPTS = {
    "rlhf", "ppo", "dpo", "grpo", "orpo", "pure_rl",
    "flash_attention", "gqa", "mla", "moe", "sliding_window", "gated_deltanet", "mamba", "retnet",
    "qk_norm", "mtp", "partial_rope", "nope",
    "test_time_compute", "quantization", "edge_computing", "model_merging",
    "small_specialized_models",
    "chain_of_thought", "tree_of_thoughts", "react", "rag", "tool_use", "multi_agent", "mcp",
    "mmlu", "humaneval", "gsm8k", "math_benchmark", "aime", "gpqa", "mt_bench", "alpacaeval",
    "livecodebench",
    "hardware_cost", "hardware_amortization", "energy_cost", "cloud_vs_owned",
}


@pytest.fixture(scope="module")
def graph() -> nx.MultiDiGraph:
    return tx.build_graph()


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(tx.TAXONOMY_PATH.read_text(encoding="utf-8"))


def edges_of(g, node, kind):
    return [v for _, v, k in g.out_edges(node, keys=True) if k == kind]


def uses(g, model_id, source=None):
    return {g.nodes[v]["id"] for _, v, k, d in g.out_edges(node_id(MODEL, model_id), keys=True,
                                                            data=True)
            if k == "uses" and (source is None or d["source"] == source)}


# --------------------------------------------------------------------------- dimensions, concepts

def test_the_eight_dimensions_are_present(graph):
    dims = {d["id"] for _, d in graph.nodes(data=True) if d["kind"] == DIMENSION}
    assert dims == FIGURE2_DIMENSIONS


def test_at_least_60_concepts_each_in_one_dimension(graph):
    concepts = [n for n, d in graph.nodes(data=True) if d["kind"] == CONCEPT]
    assert len(concepts) >= 60
    for n in concepts:
        dims = edges_of(graph, n, "in_dimension")
        assert len(dims) == 1, n
        assert graph.nodes[dims[0]]["kind"] == DIMENSION
        assert graph.nodes[dims[0]]["id"] == graph.nodes[n]["dimension"]
        assert graph.nodes[n]["description"] and graph.nodes[n]["section"]


def test_named_concepts_present(graph):
    ids = {d["id"] for _, d in graph.nodes(data=True) if d["kind"] == CONCEPT}
    assert NAMED_CONCEPTS <= ids, sorted(NAMED_CONCEPTS - ids)
    assert SPEC_CONCEPTS <= ids


def test_every_dimension_has_concepts(graph):
    for dim in FIGURE2_DIMENSIONS:
        assert graph.in_degree(node_id(DIMENSION, dim)) > 0, dim


def test_related_edges_join_concepts(graph):
    related = [(u, v) for u, v, k in graph.edges(keys=True) if k == "related"]
    assert related
    for u, v in related:
        assert graph.nodes[u]["kind"] == CONCEPT and graph.nodes[v]["kind"] == CONCEPT
        assert u != v


def test_benchmark_concepts_name_catalog_columns(graph):
    columns = {d["table6_column"] for _, d in graph.nodes(data=True)
               if d["kind"] == CONCEPT and d.get("table6_column")}
    assert columns == {"MMLU", "HumanEval", "GSM8K", "MATH", "AIME", "GPQA", "Arena Elo"}
    used = {k for e in catalog().values() for k in e.benchmarks}
    assert used <= columns


# --------------------------------------------------------------------------- models

def test_every_catalog_model_present_with_organization_and_year(graph):
    for entry in catalog().values():
        n = node_id(MODEL, entry.id)
        assert n in graph, entry.id
        data = graph.nodes[n]
        assert data["kind"] == MODEL
        assert data["organization"] == entry.organization and entry.organization
        assert data["year"] == entry.year and 2017 <= data["year"] <= 2026
        assert data["family"] == entry.family
        orgs = edges_of(graph, n, "made_by")
        assert orgs == [node_id(ORGANIZATION, entry.organization)]
        assert graph.nodes[orgs[0]]["kind"] == ORGANIZATION
    models = [n for n, d in graph.nodes(data=True) if d["kind"] == MODEL]
    assert len(models) == len(catalog())


def test_model_attributes(graph):
    from models.params import count_params
    for entry in catalog().values():
        data = graph.nodes[node_id(MODEL, entry.id)]
        assert data["open_weights"] == entry.open_weights
        assert data["estimate"] == entry.estimate
        assert data["released"] == entry.released
        if entry.has_spec:
            report = count_params(entry.spec())
            sparse = "MoE" in entry_features(entry.id)
            assert (data["params_total"], data["params_active"]) == (report.total, report.active if sparse else None)
        else:
            assert data["params_total"] == entry.published_params
    scout = graph.nodes[node_id(MODEL, "llama-4-scout-17b-16e")]   # Meta: 17B active, 109B total
    assert round(scout["params_active"] / 1e9) == 17 and round(scout["params_total"] / 1e9) == 109
    # Gemma 3 27B is dense: its text tokens skip the image encoder, which is no sparse activation
    gemma = graph.nodes[node_id(MODEL, "gemma-3-27b")]
    assert gemma["params_active"] is None and gemma["params_total"] > 27.4e9


def test_benchmark_attributes_equal_the_catalog(graph):
    for entry in catalog().values():
        assert graph.nodes[node_id(MODEL, entry.id)]["benchmarks"] == entry.benchmarks
    assert graph.nodes[node_id(MODEL, "deepseek-r1")]["benchmarks"]["MATH"] == 79.8


def test_lineage_edges_follow_the_catalog(graph):
    for entry in catalog().values():
        parents = {graph.nodes[p]["id"] for p in edges_of(graph, node_id(MODEL, entry.id),
                                                           "derived_from")}
        assert parents == set(entry.derived_from), entry.id


def _derived_path(graph, child, ancestor):
    lineage = nx.DiGraph([(u, v) for u, v, k in graph.edges(keys=True) if k == "derived_from"])
    return [graph.nodes[n]["id"] for n in nx.shortest_path(lineage, node_id(MODEL, child),
                                                           node_id(MODEL, ancestor))]


@pytest.mark.parametrize("child", ["llama-4-scout-17b-16e", "llama-4-maverick-17b-128e"])
def test_llama_lineage(graph, child):
    path = _derived_path(graph, child, "llama-65b")
    families = [catalog()[m].family for m in path]
    # Llama 4 -> (Llama 3.1) -> Llama 3 -> Llama 2 -> LLaMA, in that order
    order = [f for i, f in enumerate(families) if i == 0 or f != families[i - 1]]
    assert [f for f in order if f in ("Llama 4", "Llama 3", "Llama 2", "LLaMA")] == \
        ["Llama 4", "Llama 3", "Llama 2", "LLaMA"], path
    assert _derived_path(graph, "llama-3-8b", "llama-2-7b") == ["llama-3-8b", "llama-2-7b"]


@pytest.mark.parametrize("distill", ["deepseek-r1-distill-llama-70b", "deepseek-r1-distill-qwen-32b"])
def test_deepseek_lineage(graph, distill):
    assert _derived_path(graph, distill, "deepseek-v3") == [distill, "deepseek-r1", "deepseek-v3"]


def test_no_dangling_nodes(graph):
    for n, data in graph.nodes(data=True):
        assert data.get("kind") in tx.NODE_KINDS, f"{n} was created implicitly by an edge"
        assert data.get("label"), n
        assert graph.degree(n) > 0, f"{n} has no edges"
    for u, v, k, d in graph.edges(keys=True, data=True):
        assert k in tx.EDGE_KINDS and d["kind"] == k
    for n, data in graph.nodes(data=True):
        if data["kind"] == ORGANIZATION:
            assert graph.in_degree(n) > 0
    for u, v, k in graph.edges(keys=True):
        expected = {"in_dimension": (CONCEPT, DIMENSION), "related": (CONCEPT, CONCEPT),
                    "made_by": (MODEL, ORGANIZATION), "derived_from": (MODEL, MODEL),
                    "uses": (MODEL, CONCEPT)}[k]
        assert (graph.nodes[u]["kind"], graph.nodes[v]["kind"]) == expected, (u, v, k)


# --------------------------------------------------------------------------- techniques vs specs

@pytest.mark.parametrize("entry", [e for e in catalog().values() if e.has_spec], ids=lambda e: e.id)
def test_spec_decided_edges_agree_with_the_spec(graph, entry):
    derived = tx.spec_techniques(entry.spec())
    assert derived <= SPEC_CONCEPTS
    in_graph = {c for c in uses(graph, entry.id) if c in SPEC_CONCEPTS}
    assert in_graph == derived
    assert uses(graph, entry.id, "spec") == derived


def test_models_without_spec_have_no_spec_edges(graph):
    for entry in catalog().values():
        if not entry.has_spec:
            assert not uses(graph, entry.id, "spec"), entry.id


def test_survey_edges_never_contradict_the_spec(graph):
    assert tx.survey_conflicts() == []
    for entry in catalog().values():
        if entry.has_spec:
            derived = tx.spec_techniques(entry.spec())
            for cid in uses(graph, entry.id, "survey"):
                assert cid not in SPEC_CONCEPTS or cid in derived, (entry.id, cid)


def test_spec_edges_of_landmark_models(graph):
    assert {"mla", "moe", "mtp", "shared_experts"} <= uses(graph, "deepseek-v3", "spec")
    assert "sliding_window" in uses(graph, "gemma-2-9b", "spec")
    assert "local_global_attention" in uses(graph, "gemma-2-9b", "spec")
    assert {"gated_deltanet", "moe", "hybrid_architecture", "partial_rope"} <= \
        uses(graph, "qwen3-next-80b-a3b", "spec")
    mixtral = uses(graph, "mixtral-8x7b")
    assert "moe" in mixtral and "mla" not in mixtral and "gqa" in mixtral
    assert "mha" in uses(graph, "llama-2-7b", "spec") and "gqa" in uses(graph, "llama-2-70b", "spec")
    assert {"mamba", "hybrid_architecture"} <= uses(graph, "nemotron-3-nano", "spec")
    assert {"kimi_delta_attention", "mla", "nope"} <= uses(graph, "kimi-linear-48b-a3b", "spec")
    assert "mqa" in uses(graph, "gemma-3-1b", "spec")


def test_survey_edges_of_landmark_models(graph):
    assert {"grpo", "pure_rl"} <= uses(graph, "deepseek-r1", "survey")
    assert "rlhf" in uses(graph, "gpt-4", "survey")
    assert "test_time_compute" in uses(graph, "o1", "survey")
    assert {"rlhf", "ppo"} <= uses(graph, "llama-2-7b", "survey")
    assert {"rlhf", "ppo"} <= uses(graph, "instructgpt", "survey")
    assert "knowledge_distillation" in uses(graph, "deepseek-r1-distill-qwen-32b", "survey")


def test_model_techniques_reports_sources():
    techniques = tx.model_techniques("deepseek-r1")
    assert techniques["mla"] == "spec" and techniques["grpo"] == "survey"


def _spec(blocks, layers, **extra):
    return ModelSpec.from_dict({"name": "t", "vocab_size": 1000, "hidden_size": 256,
                                "context_length": 4096, "blocks": blocks, "layers": layers, **extra})


ATTN = {"type": "attention", "heads": 8, "kv_heads": 8, "head_dim": 32}
DENSE = {"type": "dense", "d_ff": 512}


def test_spec_techniques_on_variants():
    mqa_chunked = _spec({"local": {"mixer": {**ATTN, "kv_heads": 1, "kind": "chunked",
                                             "window": 512}, "ffn": DENSE},
                         "global": {"mixer": {**ATTN, "kv_heads": 1, "rope": False}, "ffn": DENSE}},
                        ["local", "local", "local", "global"])
    got = tx.spec_techniques(mqa_chunked)
    assert {"mqa", "chunked_attention", "local_global_attention", "nope", "rope", "swiglu"} <= got
    assert not got & {"mha", "gqa", "sliding_window", "moe", "hybrid_architecture"}

    lightning = _spec({"lin": {"mixer": {"type": "linear_attention", "key_heads": 4,
                                         "value_heads": 4, "key_dim": 64, "value_dim": 64,
                                         "variant": "lightning"}, "ffn": DENSE},
                       "att": {"mixer": ATTN, "ffn": {**DENSE, "gated": False,
                                                      "activation": "gelu"}}},
                      ["lin", "lin", "lin", "att"], norm_placement="post", mtp_depth=1)
    got = tx.spec_techniques(lightning)
    assert {"lightning_attention", "linear_attention", "hybrid_architecture", "mha", "post_norm",
            "mtp"} <= got

    mamba_only = _spec({"m": {"mixer": {"type": "ssm", "d_inner": 512, "d_state": 16,
                                        "heads": 8}}}, {"count": 4}, position="none")
    got = tx.spec_techniques(mamba_only)
    assert "mamba" in got and "hybrid_architecture" not in got and "rope" not in got
    assert got <= SPEC_CONCEPTS

    moe = _spec({"b": {"mixer": {**ATTN, "kv_heads": 2, "qk_norm": "head"},
                       "ffn": {"type": "moe", "experts": 64, "top_k": 4, "d_expert": 128,
                               "shared_experts": 1}}}, {"count": 2}, rope_fraction=0.5)
    got = tx.spec_techniques(moe)
    assert {"gqa", "qk_norm", "moe", "fine_grained_moe", "shared_experts", "partial_rope"} <= got


# --------------------------------------------------------------------------- malformed data

def _mutated(raw, change):
    data = copy.deepcopy(raw)
    change(data)
    return data


def test_unknown_dimension_raises(raw):
    def change(d):
        d["concepts"][0]["dimension"] = "no_such_dimension"
    with pytest.raises(SpecError) as err:
        tx.parse_taxonomy(_mutated(raw, change))
    assert raw["concepts"][0]["id"] in str(err.value) and "no_such_dimension" in str(err.value)


@pytest.mark.parametrize("change, needle", [
    (lambda d: d["concepts"][1]["related"].append("no_such_concept"), "no_such_concept"),
    (lambda d: d["model_concepts"].__setitem__("no-such-model", ["moe"]), "no-such-model"),
    (lambda d: d["model_concepts"]["deepseek-r1"].append("no_such_concept"), "no_such_concept"),
    (lambda d: d["concepts"].append(dict(d["concepts"][0])), "duplicate"),
    (lambda d: d["concepts"][0].pop("description"), "description"),
    (lambda d: d["concepts"][0].__setitem__("kind", "gadget"), "gadget"),
    (lambda d: d["concepts"][0].__setitem__("colour", "red"), "colour"),
    (lambda d: d.__setitem__("concepts", [c for c in d["concepts"] if c["id"] != "mla"]), "mla"),
])
def test_malformed_taxonomy_raises(raw, change, needle):
    with pytest.raises(SpecError) as err:
        tx.parse_taxonomy(_mutated(raw, change))
    assert needle in str(err.value)


def test_survey_edge_contradicting_the_spec_raises(raw):
    bad = tx.parse_taxonomy(_mutated(raw, lambda d: d["model_concepts"].__setitem__(
        "mixtral-8x7b", ["mla"])))
    assert tx.survey_conflicts(bad) == ["mixtral-8x7b -> mla"]
    with pytest.raises(SpecError) as err:
        tx.build_graph(bad)
    assert "mixtral-8x7b" in str(err.value) and "mla" in str(err.value)


def test_load_taxonomy_from_a_broken_file(tmp_path):
    path = tmp_path / "taxonomy.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SpecError):
        tx.load_taxonomy(path)


def test_build_graph_is_fresh_each_time(graph):
    g = tx.build_graph()
    g.remove_node(node_id(CONCEPT, "moe"))
    assert node_id(CONCEPT, "moe") in tx.build_graph()
