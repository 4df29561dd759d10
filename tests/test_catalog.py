"""The catalog: coverage of the survey, well-formed metadata, lineage that resolves, and a spec
for every entry whose architecture is public."""
from __future__ import annotations

import re

import pytest

from models.catalog import catalog
from models.params import count_params

BENCHMARKS = {"MMLU", "HumanEval", "GSM8K", "MATH", "AIME", "GPQA", "Arena Elo"}
SURVEY_ORGS = {"01.AI", "AI2", "Alibaba", "Anthropic", "Baichuan", "DeepSeek", "Google", "Meta",
               "Microsoft", "Mistral", "Moonshot", "OpenAI", "Skywork", "Xiaomi", "Zhipu"}


def test_size_and_organizations():
    entries = catalog()
    assert len(entries) >= 50
    assert SURVEY_ORGS <= {e.organization for e in entries.values()}


@pytest.mark.parametrize("entry", list(catalog().values()), ids=lambda e: e.id)
def test_entry_is_well_formed(entry):
    assert re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", entry.id)
    assert entry.name and entry.organization and entry.family
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.released)
    assert entry.sources, "every entry cites its sources"
    assert set(entry.benchmarks) <= BENCHMARKS
    for parent in entry.derived_from:
        assert parent in catalog(), f"lineage points to unknown id {parent}"
    if entry.has_spec:
        spec = entry.spec()
        assert count_params(spec).total > 0
    else:
        assert not entry.open_weights or "hf_config" not in entry.raw


def test_table6_scores_present():
    assert catalog()["deepseek-r1"].benchmarks["MATH"] == 79.8
    assert catalog()["llama-3-8b"].benchmarks["MMLU"] == 66.6


PUBLISHED = [e for e in catalog().values() if e.has_spec and e.published_params]


@pytest.mark.parametrize("entry", PUBLISHED, ids=lambda e: e.id)
def test_engine_total_is_near_the_publishers_stated_size(entry):
    """The organization's own stated size is rounded ("7B" for 7.59B Falcon-H1, 6.74B LLaMA 2),
    so it checks an architecture only loosely: a wrong layer count, width or expert count would
    land far outside 10%. The exact check is against transformers (test_params_vs_transformers)."""
    ratio = count_params(entry.spec()).total / entry.published_params
    assert 0.9 <= ratio <= 1.1, f"{entry.id}: engine / published = {ratio:.3f}"


def test_every_open_model_has_an_architecture():
    """Open-weight models carry their config.json or a spec built from published figures."""
    missing = [e.id for e in catalog().values() if e.open_weights and not e.has_spec]
    assert missing == []
    kinds = {e.provenance for e in catalog().values() if e.open_weights}
    assert kinds <= {"config", "published", "estimate"}
    assert len(PUBLISHED) >= 60


def test_readme_counts_of_catalog_provenance_are_current():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    text = " ".join(readme[readme.index("- **Catalog** (`resources/catalog/`"):].split()[:80])
    total, open_, configs, specs, estimates = map(int, re.search(
        r"(\d+) models,.*?Of the (\d+) open models, (\d+) carry their public `config.json`.*?"
        r"the other (\d+) carry a spec.*?\((\d+) with some third-party figures", text).groups())
    entries = list(catalog().values())
    open_entries = [e for e in entries if e.open_weights]
    assert (total, open_) == (len(entries), len(open_entries))
    assert configs == sum(e.provenance == "config" for e in open_entries)
    assert specs == sum(e.provenance in ("published", "estimate") for e in open_entries)
    assert estimates == sum(e.provenance == "estimate" for e in open_entries)
