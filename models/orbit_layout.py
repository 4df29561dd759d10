"""Geometry and series for the orbit, timeline and benchmark views (pure: no Qt, no torch).

The orbit is a circular layout in the spirit of the survey's Figure 2, centred on (0, 0) in scene
units (Qt convention: y grows downwards). Angles are compass angles in degrees: 0 at the top,
growing clockwise.

- The eight dimensions are sectors of the outer ring (arcs between ``R_DIM_IN`` and ``R_DIM_OUT``),
  each as wide as its share of the concepts (with a minimum), separated by small gaps.
- Concepts sit on the concept ring (``R_CONCEPT``) inside their dimension's sector, with their
  labels written radially outwards so 140+ labels never collide.
- Organizations are contiguous angular ranges (sorted by name, a gap at the top for the year
  labels), drawn as an arc just outside the models; their node sits at the middle of the arc.
- Models lie inside the organization ring: radius by release date (older inside, one ring per
  year), angle within their organization's sector, same-year models spread evenly across it.
- Label anchors are suggestions computed here: concepts radial; organizations tangential on two
  alternating radii; models horizontal, placed greedily (right, left, above, below, diagonals) so
  that no two labels and no label and node overlap; a model whose label does not fit is marked
  ``visible=False`` (the view shows it on hover or selection).

Also here: :func:`filter_nodes`, :func:`neighbourhood`, :func:`timeline_series`,
:func:`benchmark_series`, :func:`organization_colors`, :func:`dimension_colors` and
:func:`node_details`; the widgets (widgets/orbit.py) only draw what these return.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping

import networkx as nx

from .taxonomy import CONCEPT, DIMENSION, MODEL, ORGANIZATION

# ---------------------------------------------------------------- ring radii (fractions of size)
R_MODEL_IN = 0.075      # the oldest release year
R_MODEL_OUT = 0.300     # the newest release year
R_ORG = 0.317           # organization arcs
R_ORG_LABEL = (0.333, 0.349)   # alternating radii of organization labels
R_CONCEPT = 0.378       # concept nodes
R_CONCEPT_LABEL = 0.386  # concept labels start here, written outwards ...
R_CONCEPT_LABEL_END = 0.518   # ... and end before the dimension arcs
R_DIM_IN, R_DIM_OUT = 0.524, 0.562   # dimension arcs, their names written along them
TOP_GAP_DEG = 12.0      # free angular range at the top of the model disk for the year labels
DIM_GAP_DEG = 1.2

MODEL_FONT = 12.0       # scene units at size=1000
CONCEPT_FONT = 11.0
ORG_FONT = 11.5
DIM_FONT = 15.0
YEAR_FONT = 11.0
CHAR_W = 0.58           # average glyph advance / font size (sans, conservative)
LINE_H = 1.25

DIMENSION_COLORS = {
    "scaling_wall": "#D55E00", "model_taxonomy": "#0072B2", "training_methodology": "#8E44AD",
    "architecture_evolution": "#009E73", "breaking_scaling_wall": "#E69F00",
    "agentic_ai": "#3BA3D9", "benchmarking": "#CC79A7", "economic_environmental": "#7F8C8D",
}
_FALLBACK_DIM = ("#555555", "#AA7733", "#337755", "#773355")

# 26 colours for organizations, taken in order of model count. The first four are the familiar
# category10 hues; each next one is the candidate farthest (CIELAB distance) from those before it,
# among colours of lightness 44-66 (readable on the light and the dark theme). The 25 in use are
# at least 26 ΔE apart; the category10 + Set2 mix before had pairs 8 apart (AI21 and Hugging Face).
PALETTE = ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#FE31D6", "#7B662C", "#624BEE",
           "#D889AA", "#40B1A4", "#E8267F", "#8153AC", "#7F7F7F", "#98A93F", "#3F7345",
           "#D69073", "#2176F8", "#DA79F8", "#A45119", "#CA983B", "#AA97D4", "#B93952",
           "#31ADD1", "#AD3D82", "#18B67D", "#A623D0", "#417516")


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class LabelAnchor:
    """Where to draw a label: ``(x, y)`` is the anchor point, ``rotation`` degrees clockwise;
    ``align`` says which end of the text sits at the anchor (left, right or center), vertically
    centred. ``font`` is the pixel size in scene units. ``visible``: shown by default."""
    text: str
    x: float
    y: float
    rotation: float = 0.0
    align: str = "left"
    font: float = MODEL_FONT
    visible: bool = True
    arc_radius: float | None = None   # set: written along the circle of this radius, centred
    arc_angle: float = 0.0            # on this compass angle (upright: reversed in the bottom half)


@dataclass(frozen=True)
class Curve:
    """A quadratic Bezier from p0 through control c to p1 (a straight line when c is the mid)."""
    source: str
    target: str
    p0: tuple[float, float]
    c: tuple[float, float]
    p1: tuple[float, float]


@dataclass
class OrbitLayout:
    size: float
    positions: dict[str, tuple[float, float]]
    node_radius: dict[str, float]                 # marker half-size in scene units
    labels: dict[str, LabelAnchor]
    dimension_sectors: dict[str, tuple[float, float]]     # node -> (start, end) compass degrees
    organization_sectors: dict[str, tuple[float, float]]
    year_rings: list[tuple[int, float]]     # (year, radius where its band starts), + end of last
    year_labels: list[LabelAnchor]
    edges: dict[str, list[Curve]]                         # edge kind -> curves
    colors: dict[str, str]                                # node -> fill colour
    radii: dict[str, float] = field(default_factory=dict)  # named ring radii

    def bounds(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) enclosing every node and label (estimated text extents)."""
        xs, ys = [], []
        for x, y in self.positions.values():
            xs.append(x)
            ys.append(y)
        for lab in list(self.labels.values()) + self.year_labels:
            for x, y in _label_corners(lab):
                xs.append(x)
                ys.append(y)
        reach = self.radii.get("dim_out", 0.0)
        xs += [-reach, reach]
        ys += [-reach, reach]
        pad = 0.01 * self.size
        return (min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad,
                max(ys) - min(ys) + 2 * pad)


# ---------------------------------------------------------------- small helpers

def polar(radius: float, angle_deg: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return radius * math.sin(a), -radius * math.cos(a)


def text_width(text: str, font: float) -> float:
    return len(text) * CHAR_W * font


def short_label(name: str, limit: int = 22) -> str:
    """A compact display name: 'Grouped-query attention (GQA)' -> 'GQA', 'GPT-2 (1.5B, gpt2-xl)'
    -> 'GPT-2', 'Mamba (selective state-space models)' -> 'Mamba'; then at most ``limit`` chars."""
    m = re.match(r"^(.*?)\s*\(([^)]*)\)\s*(.*)$", name)
    if m:
        head, inner, tail = m.group(1), m.group(2), m.group(3)
        acronym = (inner and " " not in inner and len(inner) <= 10
                   and sum(ch.isupper() for ch in inner) >= 2 and len(head) > 12)
        if acronym:
            text = inner
        else:
            text = (head + (" " + tail if tail else "")).strip()
    else:
        text = name
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def short_organization(name: str) -> str:
    return name.split(" (")[0]


def fractional_year(released: str) -> float:
    """'2024-07-23' -> 2024.556 (start of the day)."""
    try:
        d = date.fromisoformat(released[:10])
    except ValueError:
        return float(released[:4])
    start = date(d.year, 1, 1)
    days = (date(d.year + 1, 1, 1) - start).days
    return d.year + (d - start).days / days


def format_params(n: float | None) -> str:
    if n is None:
        return "not public"
    if n >= 1e12:
        return f"{n / 1e12:.2f}T"
    if n >= 1e9:
        return f"{n / 1e9:.1f}B" if n < 1e11 else f"{n / 1e9:.0f}B"
    return f"{n / 1e6:.0f}M"


def _label_corners(lab: LabelAnchor) -> list[tuple[float, float]]:
    if lab.arc_radius is not None:
        return [polar(lab.arc_radius + lab.font, lab.arc_angle)]
    w = text_width(lab.text, lab.font)
    h = lab.font * LINE_H
    x0 = {"left": 0.0, "right": -w, "center": -w / 2}[lab.align]
    a = math.radians(lab.rotation)
    ca, sa = math.cos(a), math.sin(a)
    out = []
    for dx, dy in ((x0, -h / 2), (x0 + w, -h / 2), (x0, h / 2), (x0 + w, h / 2)):
        out.append((lab.x + dx * ca - dy * sa, lab.y + dx * sa + dy * ca))
    return out


def _nodes(graph: nx.MultiDiGraph, kind: str) -> list[str]:
    return [n for n, d in graph.nodes(data=True) if d.get("kind") == kind]


def _allocate(weights: list[float], start: float, span: float, gap: float) -> list[tuple[float, float]]:
    """Split [start, start + span] into contiguous ranges proportional to weights, with gaps."""
    total = sum(weights) or 1.0
    usable = span - gap * len(weights)
    out, a = [], start
    for w in weights:
        width = usable * w / total
        out.append((a + gap / 2, a + gap / 2 + width))
        a += width + gap
    return out


# ---------------------------------------------------------------- colours

def organization_colors(organizations: Iterable[str] | Mapping[str, Any] | nx.Graph | None = None
                        ) -> dict[str, str]:
    """A colour per organization, deterministic: organizations ranked by how many models they
    have (ties by name) take the palette in order. ``organizations``: a graph, a catalog mapping,
    or names (each name counting once); default: the shipped catalog."""
    counts: dict[str, int] = {}
    if organizations is None:
        from .catalog import catalog
        organizations = catalog()
    if isinstance(organizations, nx.Graph):
        for _, d in organizations.nodes(data=True):
            if d.get("kind") == MODEL:
                counts[d["organization"]] = counts.get(d["organization"], 0) + 1
    elif isinstance(organizations, Mapping):
        for entry in organizations.values():
            org = getattr(entry, "organization", None) or entry.get("organization", "")
            counts[org] = counts.get(org, 0) + 1
    else:
        for org in organizations:
            counts[org] = counts.get(org, 0) + 1
    ranked = sorted(counts, key=lambda o: (-counts[o], o.lower()))
    return {org: PALETTE[i % len(PALETTE)] for i, org in enumerate(ranked)}


def dimension_colors(graph: nx.MultiDiGraph) -> dict[str, str]:
    """Dimension id -> colour (the survey's Figure 2 hues where it has one)."""
    out, extra = {}, 0
    for n in _nodes(graph, DIMENSION):
        did = graph.nodes[n]["id"]
        if did in DIMENSION_COLORS:
            out[did] = DIMENSION_COLORS[did]
        else:
            out[did] = _FALLBACK_DIM[extra % len(_FALLBACK_DIM)]
            extra += 1
    return out


# ---------------------------------------------------------------- the layout

def model_marker_radius(params: float | None, size: float = 1000.0) -> float:
    """Marker radius of a model: grows with log10(parameters), 4 (<= 1B) to 10.6 (1T)."""
    k = size / 1000.0
    if not params:
        return 6.0 * k
    return k * min(11.0, max(4.0, 4.0 + 2.2 * math.log10(params / 1e9)))


def orbit_layout(graph: nx.MultiDiGraph, *, size: float = 1000.0) -> OrbitLayout:
    """Positions, marker sizes, label anchors, sectors, rings and edge curves for every node."""
    k = size / 1000.0
    pos: dict[str, tuple[float, float]] = {}
    radius: dict[str, float] = {}
    labels: dict[str, LabelAnchor] = {}
    colors: dict[str, str] = {}
    dcolors = dimension_colors(graph)

    # --- dimensions and concepts
    dims = _nodes(graph, DIMENSION)          # taxonomy order (the survey's numbering)
    by_dim: dict[str, list[str]] = {d: [] for d in dims}
    for c in _nodes(graph, CONCEPT):
        dnode = f"{DIMENSION}:{graph.nodes[c]['dimension']}"
        by_dim.setdefault(dnode, []).append(c)
    use_count = {c: 0 for c in _nodes(graph, CONCEPT)}
    for u, v, kind in graph.edges(keys=True):
        if kind == "uses" and v in use_count:
            use_count[v] += 1
    weights = [max(len(by_dim[d]), 6) for d in dims]
    dim_sectors = dict(zip(dims, _allocate(weights, 0.0, 360.0, DIM_GAP_DEG)))
    for d, (a0, a1) in dim_sectors.items():
        mid = (a0 + a1) / 2
        rmid = (R_DIM_IN + R_DIM_OUT) / 2 * size
        pos[d] = polar(rmid, mid)
        radius[d] = (R_DIM_OUT - R_DIM_IN) / 2 * size
        colors[d] = dcolors.get(graph.nodes[d]["id"], "#777777")
        labels[d] = _dimension_label(graph.nodes[d]["label"], mid, (a1 - a0), size)
        concepts = sorted(by_dim[d], key=lambda c: (graph.nodes[c].get("concept_kind", ""),
                                                     -use_count[c], graph.nodes[c]["label"].lower()))
        n = len(concepts)
        for i, c in enumerate(concepts):
            ang = a0 + (a1 - a0) * (i + 0.5) / n
            pos[c] = polar(R_CONCEPT * size, ang)
            radius[c] = k * (3.5 + min(4.0, math.sqrt(use_count[c])))
            colors[c] = colors[d]
            start = R_CONCEPT * size + radius[c] + 3 * k
            room = R_CONCEPT_LABEL_END * size - start
            chars = max(6, int(room / (CHAR_W * CONCEPT_FONT * k)))
            labels[c] = _radial_label(short_label(graph.nodes[c]["label"], chars), ang, start,
                                      CONCEPT_FONT * k)

    # --- organizations (sorted, contiguous) and models
    models = _nodes(graph, MODEL)
    org_models: dict[str, list[str]] = {}
    for m in models:
        org_models.setdefault(graph.nodes[m]["organization"], []).append(m)
    org_names = sorted(org_models, key=str.lower)
    ocolors = organization_colors(graph)
    org_weights = [len(org_models[o]) + 1.2 for o in org_names]
    org_sectors_by_name = dict(zip(org_names, _allocate(org_weights, TOP_GAP_DEG / 2,
                                                        360.0 - TOP_GAP_DEG, 0.8)))
    # one band per release year present, as wide as 0.6 + sqrt(models that year): the crowded
    # recent years get room, the sparse early ones stay thin; older inside
    year_count: dict[int, int] = {}
    for m in models:
        year_count[int(graph.nodes[m]["year"])] = year_count.get(int(graph.nodes[m]["year"]), 0) + 1
    years = sorted(year_count) or [2020]
    span_r = (R_MODEL_OUT - R_MODEL_IN) * size
    bw = {y: 0.6 + math.sqrt(year_count.get(y, 0)) for y in years}
    total_w = sum(bw.values())
    band: dict[int, tuple[float, float]] = {}
    r = R_MODEL_IN * size
    for y in years:
        band[y] = (r, r + span_r * bw[y] / total_w)
        r = band[y][1]

    def ring_radius(t: float) -> float:
        y = int(math.floor(t))
        lo, hi = band.get(y, (R_MODEL_IN * size, R_MODEL_IN * size))
        return lo + (hi - lo) * (0.15 + 0.7 * (t - y))

    org_sectors: dict[str, tuple[float, float]] = {}
    for i, org in enumerate(org_names):
        a0, a1 = org_sectors_by_name[org]
        onode = f"{ORGANIZATION}:{org}"
        org_sectors[onode] = (a0, a1)
        mid = (a0 + a1) / 2
        pos[onode] = polar(R_ORG * size, mid)
        radius[onode] = 3.0 * k
        colors[onode] = ocolors[org]
        labels[onode] = _tangential_label(short_organization(org), mid,
                                          R_ORG_LABEL[i % 2] * size, ORG_FONT * k)
        # models of this organization: group by year, spread evenly across the sector
        by_year: dict[int, list[str]] = {}
        for m in org_models[org]:
            by_year.setdefault(int(graph.nodes[m]["year"]), []).append(m)
        margin = min(2.0, (a1 - a0) * 0.15)
        for year, ms in by_year.items():
            ms.sort(key=lambda m: (graph.nodes[m]["released"], graph.nodes[m]["label"]))
            n = len(ms)
            for j, m in enumerate(ms):
                t = fractional_year(graph.nodes[m]["released"])
                if n == 1:
                    ang = mid
                else:
                    ang = a0 + margin + (a1 - a0 - 2 * margin) * (j + 0.5) / n
                r = ring_radius(t)
                if n > 1:   # alternate radial offsets so crowded same-year groups do not touch
                    lo, hi = band[year]
                    r += (0.1 if j % 2 else -0.1) * (hi - lo) * (1 if n > 3 else 0.5)
                pos[m] = polar(r, ang)
                radius[m] = model_marker_radius(graph.nodes[m].get("params_total"), size)
                colors[m] = ocolors[org]

    # nodes of a kind the layout does not know (defensive): at the centre
    for n in graph.nodes:
        if n not in pos:
            pos[n] = (0.0, 0.0)
            radius[n] = 3.0 * k
            colors[n] = "#777777"

    _place_model_labels(graph, models, pos, radius, labels, size)

    year_rings = [(y, band[y][0]) for y in years] + [(years[-1] + 1, band[years[-1]][1])]
    year_labels = [LabelAnchor(str(y), 0.0, -(band[y][0] + band[y][1]) / 2, 0.0, "center",
                               min(YEAR_FONT * k, (band[y][1] - band[y][0]) * 0.9)) for y in years]

    edges = _edge_curves(graph, pos, size)
    return OrbitLayout(size, pos, radius, labels, dim_sectors, org_sectors, year_rings,
                       year_labels, edges, colors,
                       {"model_in": R_MODEL_IN * size, "model_out": R_MODEL_OUT * size,
                        "org": R_ORG * size, "concept": R_CONCEPT * size,
                        "dim_in": R_DIM_IN * size, "dim_out": R_DIM_OUT * size})


def _radial_label(text: str, ang: float, r: float, font: float) -> LabelAnchor:
    x, y = polar(r, ang)
    if ang <= 180.0:
        return LabelAnchor(text, x, y, ang - 90.0, "left", font)
    return LabelAnchor(text, x, y, ang - 270.0, "right", font)


def _tangential_label(text: str, ang: float, r: float, font: float) -> LabelAnchor:
    x, y = polar(r, ang)
    rot = ang if (ang <= 90.0 or ang >= 270.0) else ang - 180.0
    return LabelAnchor(text, x, y, rot, "center", font)


def _dimension_label(name: str, ang: float, span_deg: float, size: float) -> LabelAnchor:
    """Written along the middle of the dimension's arc; shortened (then smaller) to fit."""
    r = (R_DIM_IN + R_DIM_OUT) / 2 * size
    room = math.radians(span_deg) * r * 0.92
    font = DIM_FONT * size / 1000.0
    text = name
    if text_width(text, font) > room:
        short = re.sub(r"^Paradigms that ", "", text).replace(" Analysis", "").replace(
            " Methodology", "").replace("Economic & Environmental", "Economics")
        text = short
    while text_width(text, font) > room and font > 8.0 * size / 1000.0:
        font *= 0.92
    x, y = polar(r, ang)
    return LabelAnchor(text, x, y, 0.0, "center", font, arc_radius=r, arc_angle=ang)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_model_labels(graph, models, pos, radius, labels, size) -> None:
    """Greedy, most prominent models first: the first candidate box that overlaps no placed label,
    no model marker and stays inside the organization ring wins; otherwise hidden by default."""
    k = size / 1000.0
    font = MODEL_FONT * k
    h = font * LINE_H
    limit = (R_ORG - 0.006) * size
    top_gap_half_w = 0.022 * size
    obstacles = [(x - r - 1, y - r - 1, x + r + 1, y + r + 1)
                 for m in models for (x, y), r in [(pos[m], radius[m])]]
    placed: list[tuple[float, float, float, float]] = []

    def prominence(m):
        d = graph.nodes[m]
        p = d.get("params_total") or 3e11      # closed frontier models are prominent too
        return (-p, d.get("released", ""), m)

    for m in sorted(models, key=prominence):
        text = short_label(graph.nodes[m]["label"], 24)
        w = text_width(text, font)
        x, y = pos[m]
        r = radius[m] + 1.5 * k
        cands = [  # (box x0, y0, anchor x, anchor y, align)
            (x + r, y - h / 2, x + r, y, "left"),
            (x - r - w, y - h / 2, x - r, y, "right"),
            (x - w / 2, y - r - h, x, y - r - h / 2, "center"),
            (x - w / 2, y + r, x, y + r + h / 2, "center"),
            (x + r * 0.7, y - r * 0.7 - h, x + r * 0.7, y - r * 0.7 - h / 2, "left"),
            (x + r * 0.7, y + r * 0.7, x + r * 0.7, y + r * 0.7 + h / 2, "left"),
            (x - r * 0.7 - w, y - r * 0.7 - h, x - r * 0.7, y - r * 0.7 - h / 2, "right"),
            (x - r * 0.7 - w, y + r * 0.7, x - r * 0.7, y + r * 0.7 + h / 2, "right"),
        ]
        chosen = None
        for bx, by, ax, ay, align in cands:
            box = (bx, by, bx + w, by + h)
            if any(math.hypot(cx, cy) > limit for cx, cy in
                   ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3]))):
                continue
            if box[1] < 0 and box[0] < top_gap_half_w and box[2] > -top_gap_half_w:
                continue   # the year labels' column at the top
            own = (x - radius[m] - 1, y - radius[m] - 1, x + radius[m] + 1, y + radius[m] + 1)
            if any(_overlaps(box, p) for p in placed):
                continue
            if any(_overlaps(box, o) for o in obstacles if o != own):
                continue
            chosen = (box, ax, ay, align)
            break
        if chosen is None:
            labels[m] = LabelAnchor(text, x + r, y, 0.0, "left", font, visible=False)
        else:
            box, ax, ay, align = chosen
            placed.append(box)
            labels[m] = LabelAnchor(text, ax, ay, 0.0, align, font, visible=True)


def _edge_curves(graph, pos, size) -> dict[str, list[Curve]]:
    out: dict[str, list[Curve]] = {}
    for u, v, kind in graph.edges(keys=True):
        p0, p1 = pos[u], pos[v]
        mx, my = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
        if kind == "related":       # chords bent towards the centre (bundled look)
            c = (mx * 0.45, my * 0.45)
        elif kind == "derived_from":
            c = (mx * 0.8, my * 0.8)
        else:
            c = (mx, my)
        out.setdefault(kind, []).append(Curve(u, v, p0, c, p1))
    return out


# ---------------------------------------------------------------- filters and neighbourhoods

def filter_nodes(graph: nx.MultiDiGraph, *, organizations: Iterable[str] | None = None,
                 years: tuple[int | None, int | None] | None = None,
                 dimensions: Iterable[str] | None = None, techniques: Iterable[str] | str | None = None,
                 search: str = "") -> set[str]:
    """The node ids to show.

    A model is visible when it matches every filter given: its organization is one of
    ``organizations``; its release year lies in ``years`` (inclusive, either end may be None);
    it uses a concept of one of ``dimensions`` (dimension ids); it uses every one of
    ``techniques`` (concept ids); ``search`` (case-insensitive) occurs in its name, id,
    organization or family. A concept is visible when it is in the chosen dimensions (all without
    that filter) and, if any model filter is active, is used by a visible model, is a chosen
    technique or matches the search (the dimension filter alone keeps all of its dimensions'
    concepts). Organizations are visible when one of their models is;
    dimensions always."""
    orgs = set(organizations) if organizations else None
    dims = {d.split(":", 1)[-1] for d in dimensions} if dimensions else None
    if isinstance(techniques, str):
        techniques = [techniques]
    techs = {t.split(":", 1)[-1] for t in techniques} if techniques else None
    lo, hi = (years or (None, None))
    needle = search.strip().lower()
    narrowing = bool(orgs or techs or needle or lo is not None or hi is not None)
    model_filter = narrowing or dims is not None

    visible: set[str] = set()
    used_by_visible: set[str] = set()
    for n, d in graph.nodes(data=True):
        if d.get("kind") != MODEL:
            continue
        if orgs is not None and d.get("organization") not in orgs:
            continue
        y = d.get("year")
        if lo is not None and (y is None or y < lo):
            continue
        if hi is not None and (y is None or y > hi):
            continue
        uses = {v for _, v, kind in graph.out_edges(n, keys=True) if kind == "uses"}
        if techs is not None and not all(f"{CONCEPT}:{t}" in uses for t in techs):
            continue
        if dims is not None and not any(graph.nodes[c].get("dimension") in dims for c in uses):
            continue
        if needle:
            hay = " ".join(str(d.get(key, "")) for key in ("label", "id", "organization", "family"))
            if needle not in hay.lower():
                continue
        visible.add(n)
        visible.add(f"{ORGANIZATION}:{d.get('organization')}")
        used_by_visible |= uses
    for n, d in graph.nodes(data=True):
        kind = d.get("kind")
        if kind == DIMENSION:
            visible.add(n)
        elif kind == CONCEPT:
            if dims is not None and d.get("dimension") not in dims:
                continue
            if narrowing and not (n in used_by_visible
                                     or (techs and d.get("id") in techs)
                                     or (needle and (needle in d.get("label", "").lower()
                                                     or needle in d.get("id", "")))):
                continue
            visible.add(n)
        elif kind == ORGANIZATION and not model_filter:
            visible.add(n)
        elif kind not in (MODEL, ORGANIZATION, CONCEPT, DIMENSION):
            visible.add(n)
    return {n for n in visible if n in graph}


def neighbourhood(graph: nx.MultiDiGraph, node: str) -> set[str]:
    """The node and every node one edge away, in either direction."""
    if node not in graph:
        return set()
    return {node} | set(graph.successors(node)) | set(graph.predecessors(node))


def incident_edges(graph: nx.MultiDiGraph, node: str) -> set[tuple[str, str, str]]:
    """(u, v, kind) of every edge touching ``node``."""
    if node not in graph:
        return set()
    return ({(u, v, k) for u, v, k in graph.out_edges(node, keys=True)}
            | {(u, v, k) for u, v, k in graph.in_edges(node, keys=True)})


def node_details(graph: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    """What the details pane shows for a node: title, kind, rows of (field, value) and, for a
    model, its techniques as (name, dimension name, source) and its benchmarks."""
    d = graph.nodes[node]
    kind = d.get("kind")
    out: dict[str, Any] = {"title": d.get("label", node), "kind": kind, "rows": [],
                           "techniques": [], "benchmarks": [], "items": []}
    rows = out["rows"]
    if kind == MODEL:
        total, active = d.get("params_total"), d.get("params_active")
        rows += [("Organization", d.get("organization", "")), ("Released", d.get("released", "")),
                 ("Family", d.get("family", "")), ("Parameters", format_params(total))]
        if total and active and active < total:
            rows.append(("Active parameters", format_params(active)))
        rows.append(("Open weights", "yes" if d.get("open_weights") else "no"))
        rows.append(("Architecture", ARCHITECTURE_SOURCE.get(d.get("provenance"), "not public")))
        if d.get("estimate"):
            rows.append(("Figures", "estimates"))
        for _, v, data in graph.out_edges(node, data=True):
            if data.get("kind") == "uses":
                c = graph.nodes[v]
                dname = graph.nodes.get(f"{DIMENSION}:{c.get('dimension')}", {}).get("label", "")
                out["techniques"].append((c.get("label", v), dname, data.get("source", "")))
            elif data.get("kind") == "derived_from":
                rows.append(("Derived from", graph.nodes[v].get("label", v)))
        out["techniques"].sort(key=lambda t: (t[1], t[0].lower()))
        out["benchmarks"] = sorted((d.get("benchmarks") or {}).items())
    elif kind == CONCEPT:
        dname = graph.nodes.get(f"{DIMENSION}:{d.get('dimension')}", {}).get("label", "")
        rows += [("Dimension", dname), ("Kind", d.get("concept_kind", "")),
                 ("Survey section", d.get("section", ""))]
        if d.get("year"):
            rows.append(("Year", str(d["year"])))
        if d.get("table6_column"):
            rows.append(("Table 6 column", d["table6_column"]))
        out["description"] = d.get("description", "")
        out["items"] = sorted(graph.nodes[u].get("label", u) for u, _, k in
                              graph.in_edges(node, keys=True) if k == "uses")
    elif kind == DIMENSION:
        rows.append(("Survey section", d.get("section", "")))
        out["description"] = d.get("description", "")
        out["items"] = sorted(graph.nodes[u].get("label", u) for u, _, k in
                              graph.in_edges(node, keys=True) if k == "in_dimension")
    elif kind == ORGANIZATION:
        out["items"] = sorted(graph.nodes[u].get("label", u) for u, _, k in
                              graph.in_edges(node, keys=True) if k == "made_by")
    return out


def technique_choices(graph: nx.MultiDiGraph) -> list[tuple[str, str]]:
    """(concept id, label) of every concept some model uses, sorted by label."""
    used = {v for _, v, k in graph.edges(keys=True) if k == "uses"}
    return sorted(((graph.nodes[c]["id"], graph.nodes[c]["label"]) for c in used),
                  key=lambda t: t[1].lower())


# ---------------------------------------------------------------- timeline (Figure 7)

@dataclass(frozen=True)
class TimelinePoint:
    id: str
    name: str
    organization: str
    date: float
    params_total: float | None
    params_active: float | None      # only where fewer than total (MoE), else None


@dataclass(frozen=True)
class PointLabel:
    index: int          # into the series' points
    text: str
    anchor: tuple[float, float]   # pyqtgraph TextItem anchor (fraction of the text box)


@dataclass
class TimelineSeries:
    points: list[TimelinePoint]
    lineage: list[tuple[str, str]]                     # (child id, parent id), both plotted
    lineage_xy: tuple[list[float], list[float]]        # x, log10 y, pairs of points
    labels: list[PointLabel]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]                   # log10 positions
    x_range: tuple[float, float]
    y_range: tuple[float, float]                       # log10

    def plotted(self) -> list[TimelinePoint]:
        return [p for p in self.points if p.params_total]


def _graph_of(source) -> nx.MultiDiGraph:
    if isinstance(source, nx.Graph):
        return source
    from .taxonomy import build_graph
    return build_graph(entries=source) if source is not None else build_graph()


def _models(graph) -> list[dict]:
    return [d for _, d in graph.nodes(data=True) if d.get("kind") == MODEL]


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    out = []
    for e in range(int(math.floor(lo)), int(math.ceil(hi)) + 1):
        if lo - 1e-9 <= e <= hi + 1e-9:
            unit, base = (("T", 12) if e >= 12 else ("B", 9) if e >= 9 else ("M", 6) if e >= 6
                          else ("", 0))
            out.append((float(e), f"{10 ** (e - base)}{unit}"))
    return out


TIMELINE_LEGEND_BOX = (0.0, 0.0, 0.48, 0.17)   # plot fractions the legend covers (top left)


def timeline_series(source=None, *, plot_px: tuple[float, float] = (1300.0, 760.0),
                    max_labels: int = 50) -> TimelineSeries:
    """Figure 7: release date (fractional year) against parameters for every model of a graph
    (or catalog mapping; default the shipped catalog). Models without public parameters are
    points with params_total None (listed, not plotted). Lineage: derived_from pairs where both
    ends are plotted. Labels: greedy, largest models first, in pixel space of a nominal plot of
    ``plot_px``, so that no two labels overlap and none covers a point."""
    graph = _graph_of(source)
    pts = []
    for d in sorted(_models(graph), key=lambda d: (d.get("released", ""), d["id"])):
        total, active = d.get("params_total"), d.get("params_active")
        active = active if (total and active and active < total) else None
        pts.append(TimelinePoint(d["id"], d.get("label", d["id"]), d.get("organization", ""),
                                 fractional_year(d.get("released", "1970-01-01")),
                                 float(total) if total else None,
                                 float(active) if active else None))
    index = {p.id: i for i, p in enumerate(pts)}
    lineage, lx, ly = [], [], []
    for u, v, k in graph.edges(keys=True):
        if k != "derived_from":
            continue
        cu, pv = graph.nodes[u]["id"], graph.nodes[v]["id"]
        a, b = pts[index[cu]], pts[index[pv]]
        if a.params_total and b.params_total:
            lineage.append((cu, pv))
            lx += [b.date, a.date]
            ly += [math.log10(b.params_total), math.log10(a.params_total)]
    xs = [p.date for p in pts] or [2020.0]
    ys = [math.log10(v) for p in pts for v in (p.params_total, p.params_active) if v] or [9.0, 12.0]
    x_range = (math.floor(min(xs)) - 0.2, math.floor(max(xs)) + 1.2)
    y_range = (math.floor(min(ys) * 2) / 2 - 0.3, max(ys) + 0.75)   # room for the legend
    x_ticks = [(float(y), str(y)) for y in range(int(math.ceil(x_range[0])), int(x_range[1]) + 1)]
    y_ticks = log_ticks(*y_range)
    series = TimelineSeries(pts, lineage, (lx, ly), [], x_ticks, y_ticks, x_range, y_range)
    series.labels = timeline_labels(series, plot_px, [TIMELINE_LEGEND_BOX], max_labels)
    return series


def timeline_y_range(series: TimelineSeries, top_band: float) -> tuple[float, float]:
    """The series' log10 y range, raised so that the top ``top_band`` fraction of the plot (where
    the legend sits) stays clear of every point."""
    lo, hi = series.y_range
    ys = [math.log10(v) for p in series.points for v in (p.params_total, p.params_active) if v]
    if not ys or not 0.0 <= top_band < 0.9:
        return lo, hi
    needed = (max(ys) + 0.15 - lo * top_band) / (1.0 - top_band)   # max + 0.15 below the band
    return lo, max(hi, needed)


def timeline_labels(series: TimelineSeries, plot_px: tuple[float, float], reserved=(),
                    max_labels: int = 50, y_range: tuple[float, float] | None = None,
                    measure=None, line_px: float = 18.0, first: str | None = None) -> list[PointLabel]:
    """Labels for a plot of ``plot_px`` pixels (the real one, when a view knows its size): each
    organization's first release, then the largest models, placed greedily so that no two labels
    overlap, none covers a point, none leaves the plot and none enters a ``reserved`` box (plot
    fractions: x0, y0, x1, y1 from the top left). ``measure(text)``: the text's width in pixels
    in the view's font (default: an average character width); ``line_px``: a label's height;
    ``first``: a model id labelled before all others (the open model), where it is plotted."""
    pts = series.points
    y_range = y_range or series.y_range
    plotted = [i for i, p in enumerate(pts) if p.params_total]
    xy = {i: (pts[i].date, math.log10(pts[i].params_total)) for i in plotted}
    extra = [(p.date, math.log10(p.params_active)) for p in pts if p.params_active]
    first_of_org = {}
    for i in plotted:
        first_of_org.setdefault(pts[i].organization, i)
    firsts = set(first_of_org.values())   # each organization's first release, then the largest
    order, lead = _put_first(sorted(plotted, key=lambda i: (i not in firsts, -pts[i].params_total, pts[i].date)),
                             pts, first)
    return _greedy_point_labels(order, xy, {i: short_label(pts[i].name, 20) for i in plotted},
                                series.x_range, y_range, plot_px, extra, max_labels,
                                reserved=reserved, measure=measure, line_px=line_px, lenient=lead)


def _put_first(order: list[int], pts, model_id: str | None) -> tuple[list[int], int | None]:
    """``order`` with the point of ``model_id`` (if in it) moved to the front, and that point."""
    lead = [i for i in order if pts[i].id == model_id]
    return lead + [i for i in order if i not in lead], (lead[0] if lead else None)


_ANCHORS = (  # TextItem anchors (its box has a ~4 px margin): right, left, above, below, diagonals
    (0.0, 0.5), (1.0, 0.5), (0.5, 1.0), (0.5, 0.0), (0.0, 0.9), (0.0, 0.1), (1.0, 0.9), (1.0, 0.1))
_LEAD_ANCHORS = ((0.0, 0.5), (1.0, 0.5))
CURRENT_RING_PX = 21      # the ring round the open model's point on the timeline and benchmark plots


def _greedy_point_labels(order, xy, texts, x_range, y_range, plot_px, extra_points, max_labels,
                         reserved=(), char_px: float = 6.6, line_px: float = 18.0,
                         marker_px: float = 6.0, measure=None, lenient: int | None = None) -> list[PointLabel]:
    W, H = plot_px

    def to_px(x, y):
        return ((x - x_range[0]) / (x_range[1] - x_range[0]) * W,
                (1 - (y - y_range[0]) / (y_range[1] - y_range[0])) * H)

    pts_px = {i: to_px(*xy[i]) for i in xy}
    def marker(px, py):
        return (px - marker_px, py - marker_px, px + marker_px, py + marker_px)

    own = {i: marker(*pts_px[i]) for i in pts_px}
    obstacles = list(own.values()) + [marker(*to_px(*e)) for e in extra_points]
    placed = [(x0 * W, y0 * H, x1 * W, y1 * H) for x0, y0, x1, y1 in reserved]
    out = []
    for i in order:
        if len(out) >= max_labels:
            break
        text = texts[i]
        px, py = pts_px[i]
        # the open model's label may touch markers that overlap its own (DeepSeek-V3 and R1: same
        # size, a month apart, one blob), or it could never be named; other labels keep clear
        blocking = [o for o in obstacles if o is not own[i] and not (i == lenient and _overlaps(o, own[i]))]
        # the open model's point wears a ring (CURRENT_RING_PX across): its label beside it, clear of
        # the ring, before anywhere else
        anchors = _LEAD_ANCHORS + _ANCHORS if i == lenient else _ANCHORS
        for ax, ay in anchors:
            pad = "   " if i == lenient and ay == 0.5 else " "       # a space by the marker (three by a ring)
            shown = (pad if ax == 0.0 else "") + text + (pad if ax == 1.0 else "")
            w, h = (measure(shown) if measure else len(shown) * char_px) + 8, line_px   # + the item's margins
            x0, y0 = px - ax * w, py - ay * h
            box = (x0, y0, x0 + w, y0 + h)
            if box[0] < 0 or box[2] > W or box[1] < 0 or box[3] > H:
                continue
            if any(_overlaps(box, p) for p in placed) or any(_overlaps(box, o) for o in blocking):
                continue
            placed.append(box)
            out.append(PointLabel(i, shown, (ax, ay)))
            break
    return out


# ---------------------------------------------------------------- benchmarks (Table 6)

PARAMS = "params"
ARCHITECTURE_SOURCE = {"config": "config.json", "published": "publisher's figures",
                       "estimate": "partly estimated", "none": "not public"}   # by CatalogEntry.provenance
NOMINAL_PLOT_PX = (1300.0, 720.0)   # labels are placed for this plot until a view knows its real size


@dataclass(frozen=True)
class BenchmarkPoint:
    id: str
    name: str
    organization: str
    x: float
    y: float


@dataclass
class BenchmarkSeries:
    x_name: str
    y_name: str
    points: list[BenchmarkPoint]
    x_log: bool                  # x/y given as log10 of parameters
    y_log: bool
    labels: list[PointLabel]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_ticks: list[tuple[float, str]] | None
    y_ticks: list[tuple[float, str]] | None


def benchmark_labels(series: BenchmarkSeries, plot_px: tuple[float, float], reserved=(),
                     max_labels: int = 40, measure=None, line_px: float = 18.0,
                     first: str | None = None) -> list[PointLabel]:
    """``series``' labels placed again for a plot of ``plot_px`` real pixels, kept out of the
    ``reserved`` boxes (plot fractions x0, y0, x1, y1 from the top left; the legend's) and sized
    by ``measure(text)`` and ``line_px``, ``first`` labelled before all (see ``timeline_labels``)."""
    return _benchmark_point_labels(series.points, series.x_range, series.y_range, plot_px, max_labels,
                                   reserved, measure, line_px, first)


def _benchmark_point_labels(pts, x_range, y_range, plot_px, max_labels, reserved=(), measure=None,
                            line_px: float = 18.0, first: str | None = None):
    """Highest scores first (they are the ones a reader looks for), then by id for stability."""
    xy = {i: (p.x, p.y) for i, p in enumerate(pts)}
    order, lead = _put_first(sorted(xy, key=lambda i: (-(pts[i].y - y_range[0]) / (y_range[1] - y_range[0] or 1),
                                                       pts[i].id)), pts, first)
    return _greedy_point_labels(order, xy, {i: short_label(p.name, 20) for i, p in enumerate(pts)},
                                x_range, y_range, plot_px, [], max_labels, reserved=reserved, measure=measure,
                                line_px=line_px, lenient=lead)


def benchmark_names(source=None) -> list[str]:
    """Table 6 columns in the taxonomy's order (concepts carrying table6_column), then any other
    benchmark key some model has."""
    graph = _graph_of(source)
    names = [d["table6_column"] for _, d in graph.nodes(data=True)
             if d.get("kind") == CONCEPT and d.get("table6_column")]
    seen = set(names)
    for d in _models(graph):
        for b in sorted(d.get("benchmarks") or {}):
            if b not in seen:
                seen.add(b)
                names.append(b)
    return names


def benchmark_series(benchmark_x: str, benchmark_y: str = PARAMS, *, graph=None,
                     plot_px: tuple[float, float] = NOMINAL_PLOT_PX,
                     max_labels: int = 40) -> BenchmarkSeries:
    """Every model with a value on both axes. An axis named ``"params"`` (or "Parameters")
    plots log10(total parameters) with 1B/10B/... ticks; benchmarks plot their Table 6 score."""
    graph = _graph_of(graph)

    def is_params(name):
        return name.lower() in (PARAMS, "parameters")

    def value(d, name):
        if is_params(name):
            p = d.get("params_total")
            return math.log10(p) if p else None
        v = (d.get("benchmarks") or {}).get(name)
        return float(v) if isinstance(v, (int, float)) else None

    pts = []
    for d in sorted(_models(graph), key=lambda d: (d.get("released", ""), d["id"])):
        x, y = value(d, benchmark_x), value(d, benchmark_y)
        if x is None or y is None:
            continue
        pts.append(BenchmarkPoint(d["id"], d.get("label", d["id"]), d.get("organization", ""), x, y))

    def rng(vals, log):
        if not vals:
            return (0.0, 1.0)
        lo, hi = min(vals), max(vals)
        pad = max((hi - lo) * 0.08, 0.3 if log else 1.0)
        return (lo - pad, hi + pad)

    xr, yr = rng([p.x for p in pts], is_params(benchmark_x)), rng([p.y for p in pts], is_params(benchmark_y))
    labels = _benchmark_point_labels(pts, xr, yr, plot_px, max_labels)
    return BenchmarkSeries("Parameters" if is_params(benchmark_x) else benchmark_x,
                           "Parameters" if is_params(benchmark_y) else benchmark_y, pts,
                           is_params(benchmark_x), is_params(benchmark_y), labels, xr, yr,
                           log_ticks(*xr) if is_params(benchmark_x) else None,
                           log_ticks(*yr) if is_params(benchmark_y) else None)
