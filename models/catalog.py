"""The model catalog (resources/catalog/*.json): metadata of every model in the survey and,
where the architecture is public, its spec. Open models carry their public config.json and go
through the same importer as users' files."""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from resources import RESOURCES_DIR

from .hf import spec_from_hf_config
from .spec import ModelSpec, SpecError

CATALOG_DIR = RESOURCES_DIR / "catalog"


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    organization: str
    family: str
    released: str
    derived_from: tuple[str, ...]
    open_weights: bool
    estimate: bool
    sources: tuple[str, ...]
    notes: str
    benchmarks: dict[str, float]
    published_params: float | None
    public_facts: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def year(self) -> int:
        return int(self.released[:4])

    @property
    def has_spec(self) -> bool:
        return "hf_config" in self.raw or "spec" in self.raw

    @property
    def provenance(self) -> str:
        """Where the architecture comes from: "config" (the published config.json), "published"
        (a spec from the publisher's stated figures), "estimate" (a spec with third-party
        figures), or "none" (not public)."""
        if "hf_config" in self.raw:
            return "config"
        if "spec" in self.raw:
            return "estimate" if self.estimate else "published"
        return "none"

    def spec(self) -> ModelSpec:
        """The architecture, or SpecError when it is not public."""
        return _spec_of(self.id)

    @property
    def hf_config(self) -> dict[str, Any] | None:
        """The published config.json, where the entry keeps it."""
        return self.raw.get("hf_config")


PROVENANCE_TEXT = {
    "config": "",
    "published": "architecture from the publisher's stated figures (no config.json)",
    "estimate": "architecture partly estimated (see the entry's sources)",
    "none": "architecture not public",
}


def _entry(data: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        id=data["id"], name=data.get("name", data["id"]), organization=data.get("organization", ""),
        family=data.get("family", ""), released=data.get("released", "1970-01-01"),
        derived_from=tuple(data.get("derived_from", ())), open_weights=bool(data.get("open_weights")),
        estimate=bool(data.get("estimate")), sources=tuple(data.get("sources", ())),
        notes=data.get("notes", ""), benchmarks=dict(data.get("benchmarks", {})),
        published_params=data.get("published_params"), public_facts=data.get("public_facts", {}),
        raw=data)


@lru_cache(maxsize=1)
def catalog() -> dict[str, CatalogEntry]:
    entries = {}
    for path in sorted(CATALOG_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        entries[data["id"]] = _entry(data)
    return entries


@lru_cache(maxsize=None)
def _spec_of(model_id: str) -> ModelSpec:
    entry = catalog()[model_id]
    if "hf_config" in entry.raw:
        return spec_from_hf_config(entry.raw["hf_config"], entry.name)
    if "spec" in entry.raw:
        return ModelSpec.from_dict({**entry.raw["spec"], "name": entry.name})
    raise SpecError("", f"{entry.name}: the architecture is not public, so it cannot be "
                             "costed (it still appears in the orbit and timeline views)")


def normalize_id(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def find(name: str) -> CatalogEntry:
    """Look a model up by id or name, forgiving case and punctuation; suggest near matches."""
    entries = catalog()
    if name in entries:
        return entries[name]
    key = normalize_id(name)
    for entry in entries.values():
        if normalize_id(entry.id) == key or normalize_id(entry.name) == key:
            return entry
    close = difflib.get_close_matches(name.lower(), list(entries), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise SpecError("model", f"no catalog model {name!r}{hint} (see `orbit-explorer list`)")


FEATURES = ("MoE", "MLA", "Sliding window", "Linear attention", "SSM", "Hybrid")


def architecture_features(spec: ModelSpec) -> frozenset[str]:
    """The browser's filter features, read off the spec (never stated separately)."""
    from .spec import MLA, SSM, Attention, CrossAttention, LinearAttention, MoEFFN
    mixers = [m for layer in spec.blocks.values() for m in layer.mixers]
    found = set()
    if any(isinstance(f, MoEFFN) for layer in spec.blocks.values() for f in layer.ffns):
        found.add("MoE")
    if any(isinstance(m, MLA) for m in mixers):
        found.add("MLA")
    if any(isinstance(m, Attention) and m.kind != "full" for m in mixers):
        found.add("Sliding window")
    if any(isinstance(m, LinearAttention) for m in mixers):
        found.add("Linear attention")
    if any(isinstance(m, SSM) for m in mixers):
        found.add("SSM")
    # (a short convolution, LFM2's, makes a hybrid with attention like a recurrence does)
    # (cross-attention to an image fuses a modality: softmax attention, not a second family)
    families = {("softmax" if isinstance(m, (Attention, MLA, CrossAttention)) else type(m).__name__)
                for m in mixers}
    if len(families) > 1:
        found.add("Hybrid")
    return frozenset(found)


@lru_cache(maxsize=None)
def entry_features(model_id: str) -> frozenset[str]:
    entry = catalog()[model_id]
    return architecture_features(entry.spec()) if entry.has_spec else frozenset()
