"""The architecture diagram: the pure model (models.diagram) against the spec and the parameter
counts, and the Qt view (widgets.diagram) with pytest-qt."""
from __future__ import annotations

import time

import pytest

from models.catalog import find
from models.cost import Workload, cost_report, kv_elements_per_token, layer_cache_bytes
from models.diagram import (FFN_CATEGORIES, MIXER_CATEGORIES, diagram_model, ffn_category,
                            fold_runs, human_count, layer_runs, mixer_category)
from models.overrides import apply_overrides
from models.params import layer_params
from models.spec import MLA, SSM, Attention, LinearAttention, MoEFFN, RopeScaling, ShortConv


def _spec(model_id):
    return find(model_id).spec()


def _jamba_spec():
    pytest.importorskip("transformers")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from models.hf import spec_from_hf_config
    cfg = CONFIG_MAPPING["jamba"]().to_dict()
    cfg["model_type"] = "jamba"
    return spec_from_hf_config(cfg)


def _lfm2_spec():
    """LFM2-1.2B's shape: 10 gated short-convolution layers among 6 attention layers."""
    from models.hf import spec_from_hf_config
    types = ["conv", "conv", "full_attention"] * 3 + ["conv", "full_attention"] * 3 + ["conv"]
    return spec_from_hf_config({"model_type": "lfm2", "hidden_size": 2048, "block_ff_dim": 12288,
                                "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
                                "vocab_size": 65536, "layer_types": types})


SPECS = {
    "gemma-3-1b": lambda: _spec("gemma-3-1b"),
    "qwen3-next-80b-a3b": lambda: _spec("qwen3-next-80b-a3b"),
    "deepseek-v3": lambda: _spec("deepseek-v3"),
    "deepseek-v3.2-exp": lambda: _spec("deepseek-v3.2-exp"),
    "mixtral-8x7b": lambda: _spec("mixtral-8x7b"),
    "jamba": _jamba_spec,
    "lfm2": _lfm2_spec,
}


def _expected_mixer(layer):
    m = layer.mixer
    if isinstance(m, Attention):
        return m.kind
    if isinstance(m, MLA):
        return "mla"
    if isinstance(m, LinearAttention):
        return "linear"
    if isinstance(m, SSM):
        return "ssm"
    if isinstance(m, ShortConv):
        return "conv"
    return "none"


# --------------------------------------------------------------------------- the pure model

@pytest.mark.parametrize("name", sorted(SPECS))
def test_strip_matches_spec_layer_by_layer(name):
    spec = SPECS[name]()
    dm = diagram_model(spec)
    assert len(dm.strip) == spec.num_layers
    for i, (entry, layer) in enumerate(zip(dm.strip, spec.layers)):
        assert entry.layer == i and entry.label == f"L{i}"
        assert entry.block == spec.layout[i]
        assert entry.mixer == _expected_mixer(layer) in MIXER_CATEGORIES
        assert entry.ffn == ("moe" if isinstance(layer.ffn, MoEFFN) else
                             "dense" if layer.ffn else "none") in FFN_CATEGORIES


@pytest.mark.parametrize("name", sorted(SPECS))
def test_folded_runs_cover_every_layer_and_blocks_match_layer_params(name):
    spec = SPECS[name]()
    dm = diagram_model(spec)
    # consecutive runs
    assert sum(r.count for r in dm.runs) == spec.num_layers
    flat = [r.block for r in dm.runs for _ in range(r.count)]
    assert tuple(flat) == spec.layout
    assert all(a.block != b.block for a, b in zip(dm.runs, dm.runs[1:]))
    # the folded overview's stack items cover the layers once, in order
    stack = [it for it in dm.overview if it.kind in ("run", "repeat")]
    assert sum(it.count for it in stack) == spec.num_layers
    expanded = [r.block for it in stack for _ in range(it.repeat) for r in it.runs
                for _ in range(r.count)]
    assert tuple(expanded) == spec.layout
    # unfolded: one item per layer
    un = diagram_model(spec, unfold=True)
    layers = [it for it in un.overview if it.kind == "layer"]
    assert [it.first for it in layers] == list(range(spec.num_layers))
    assert un.unfolded and un.overview is un.unfolded_overview
    # blocks
    assert set(dm.blocks) == set(spec.layout)
    for name_, detail in dm.blocks.items():
        parts, active = layer_params(spec, spec.blocks[name_])
        assert detail.params == sum(c.total for c in parts.values())
        assert detail.params_active == active
        assert sum(c.params for c in detail.components) == detail.params
        assert detail.layers == tuple(i for i, b in enumerate(spec.layout) if b == name_)
        layer = spec.blocks[name_]
        assert detail.cache_bytes_at_context == layer_cache_bytes(layer, spec.context_length, 2.0)
        assert detail.cache_bytes_per_token == \
            sum(kv_elements_per_token(m) for m in layer.mixers) * 2.0
        assert detail.in_shape == detail.out_shape == f"[B, S, {spec.hidden_size}]"


def test_overview_order_embedding_to_head():
    spec = _spec("deepseek-v3")
    dm = diagram_model(spec)
    kinds = [it.kind for it in dm.overview]
    assert kinds[:2] == ["embedding", "position"]
    assert kinds[-3:] == ["final_norm", "lm_head", "mtp"]
    emb = dm.overview[0]
    assert emb.params == spec.vocab_size * spec.hidden_size
    assert f"{spec.vocab_size} x {spec.hidden_size}" in emb.lines[0]
    assert emb.out_shape == f"[B, S, {spec.hidden_size}]"
    runs = [(it.block, it.first, it.count) for it in dm.overview if it.kind == "run"]
    assert runs == [("mla+dense", 0, 3), ("mla+moe", 3, 58)]
    assert dm.overview[-2].out_shape.startswith(f"[B, S, {spec.vocab_size}]")
    assert dm.params_total == cost_report(spec).params.total


def test_tied_head_and_gemma_sliding_window():
    spec = _spec("gemma-3-1b")
    dm = diagram_model(spec)
    head = next(it for it in dm.overview if it.kind == "lm_head")
    assert head.params == 0 and any("tied" in line for line in head.lines)
    cats = [e.mixer for e in dm.strip]
    assert cats[:6] == ["sliding"] * 5 + ["full"]
    assert cats.count("sliding") == 22 and cats.count("full") == 4
    local = dm.blocks["local+dense"]
    assert local.window == 512 and "512" in local.window_text
    assert local.cache_cap_tokens == 512
    assert local.norm_placement == "sandwich"
    assert any(c.name.startswith("post_attn") for c in local.components)
    assert local.qk_norm == "head"
    assert "MQA" in local.grouping_text
    # 5:1 period folded once
    rep = next(it for it in dm.overview if it.kind == "repeat")
    assert rep.repeat == 4 and [(r.block, r.count) for r in rep.runs] == [("local+dense", 5),
                                                                       ("full+dense", 1)]


def test_qwen3_next_three_to_one_and_gqa_text():
    dm = diagram_model(_spec("qwen3-next-80b-a3b"))
    assert [e.mixer for e in dm.strip[:8]] == ["linear"] * 3 + ["full"] + ["linear"] * 3 + ["full"]
    assert all(e.ffn == "moe" for e in dm.strip)
    full = dm.blocks["full+moe"]
    assert full.grouping_text == "GQA: 16 query heads share 2 KV heads, 8 per group"
    lin = dm.blocks["linear+moe"]
    assert lin.state_bytes > 0 and lin.cache_bytes_per_token == 0
    assert "delta" in lin.recurrence_text.lower()
    assert "shared" in lin.shared_text and "sigmoid" in lin.shared_text


def test_mixtral_gqa_and_router():
    dm = diagram_model(_spec("mixtral-8x7b"))
    block = dm.blocks["full+moe"]
    assert block.grouping_text == "GQA: 32 query heads share 8 KV heads, 4 per group"
    q = next(c for c in block.components if c.name == "q_proj")
    assert q.shape == "4096 -> 32x128 (q)"
    assert q.formula == "q_proj: d x heads*head_dim = 4096 x 4096 = 16.8M"
    assert "top-2" in block.router_text and "8" in block.router_text
    assert "8 routed experts" in block.experts_text
    assert block.experts.experts == 8 and block.experts.top_k == 2


def test_deepseek_mla_and_moe_details():
    dm = diagram_model(_spec("deepseek-v3"))
    assert [e.ffn for e in dm.strip[:4]] == ["dense"] * 3 + ["moe"]
    assert all(e.mixer == "mla" for e in dm.strip)
    moe = dm.blocks["mla+moe"]
    assert moe.latent_dims == (512, 64)
    assert "512" in moe.latent_text and "64" in moe.latent_text and "576" in moe.latent_text
    names = [c.name for c in moe.components]
    for n in ("q_a_proj", "q_b_proj", "kv_a_proj", "kv_b_proj", "latent KV cache", "router",
              "routed experts", "shared experts"):
        assert n in names
    assert "256" in moe.experts_text and "top-8" in moe.router_text
    assert "1 shared" in moe.shared_text
    assert moe.cache_bytes_per_token == 576 * 2.0


def test_deepseek_sparse_attention_indexer_details():
    dm = diagram_model(_spec("deepseek-v3.2-exp"))
    block = dm.blocks["mla+moe"]
    parts = {c.name: c for c in block.components}
    assert parts["indexer wq_b"].params == 1536 * 64 * 128
    assert parts["indexer wk"].params == 7168 * 128
    assert parts["indexer weights_proj"].params == 7168 * 64
    assert parts["indexer k_norm"].params == 2 * 128
    assert "index key cache" in parts and "top 2048" in parts["top-k selection"].shape
    assert "top 2048" in parts["MLA attention"].formula
    assert "2048" in block.latent_text and "128" in block.latent_text
    assert block.cache_bytes_per_token == (512 + 64 + 128) * 2.0
    assert dict(block.properties)["Mixer"] == "MLA 128h latent 512 DSA top-2048"


def test_jamba_hybrid_strip():
    spec = _jamba_spec()
    dm = diagram_model(spec)
    mixers = [e.mixer for e in dm.strip]
    assert set(mixers) == {"ssm", "full"}
    assert [e.ffn for e in dm.strip[:4]] == ["dense", "moe", "dense", "moe"]
    ssm = next(b for b in dm.blocks.values() if b.mixer == "ssm")
    assert "Mamba-1" in ssm.recurrence_text and ssm.state_bytes > 0
    # Jamba's 8-layer period folds into one repeat item
    stack = [it for it in dm.overview if it.kind in ("run", "repeat")]
    assert len(stack) < spec.num_layers // 4


def test_report_sizes_bytes():
    spec = _spec("mixtral-8x7b")
    r = cost_report(spec, Workload(context=8192, weights="int4", kv="fp8"))
    dm = diagram_model(spec, r)
    block = dm.blocks["full+moe"]
    assert block.context == 8192
    assert block.cache_bytes_at_context == layer_cache_bytes(spec.blocks["full+moe"], 8192, 1.0)
    assert dm.weight_bytes == pytest.approx(r.memory.weights)


def test_fold_runs_and_categories_helpers():
    runs = layer_runs(("a", "a", "b", "a", "a", "b", "c"))
    assert [(r.block, r.first, r.count) for r in runs] == [("a", 0, 2), ("b", 2, 1), ("a", 3, 2),
                                                           ("b", 5, 1), ("c", 6, 1)]
    folded = fold_runs(runs)
    assert folded[0][1] == 2 and [r.block for r in folded[0][0]] == ["a", "b"]
    assert mixer_category(None) == "none" and ffn_category(None) == "none"
    assert human_count(16_777_216) == "16.8M" and human_count(999_885_952) == "1B"


# --------------------------------------------------------------------------- the Qt view

@pytest.fixture
def view(qtbot):
    from widgets.diagram import ArchitectureView
    v = ArchitectureView()
    qtbot.addWidget(v)
    v.resize(1400, 900)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_view_click_selects_block(view, qtbot):
    dm = diagram_model(_spec("deepseek-v3"))
    view.set_model(dm)
    view.fit()
    assert view.objectName() == "architectureView"
    box = view.item_for_block("mla+dense")
    assert box is not None
    pos = view.mapFromScene(box.sceneBoundingRect().center())
    with qtbot.waitSignal(view.blockSelected, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), __import__("PySide6.QtCore").QtCore.Qt.LeftButton, pos=pos)
    assert blocker.args == ["mla+dense"]
    assert view.selected_block() == "mla+dense"
    assert view.selected_detail() is dm.blocks["mla+dense"]
    # the programmatic path emits too
    with qtbot.waitSignal(view.blockSelected, timeout=1000) as blocker:
        view.select_block("mla+moe")
    assert blocker.args == ["mla+moe"]
    with qtbot.waitSignal(view.layerSelected, timeout=1000) as blocker:
        view.select_layer(1)
    assert blocker.args == [1] and view.selected_block() == "mla+dense"


def test_view_strip_click_selects_layer(view, qtbot):
    from PySide6.QtCore import QPointF, Qt
    from widgets.diagram import CELL_W, STRIP_X
    dm = diagram_model(_spec("gemma-3-1b"))
    view.set_model(dm)
    view.fit()
    top, rh, n = view._strip_geom
    pos = view.mapFromScene(QPointF(STRIP_X + CELL_W / 2, top + 5.5 * rh))
    with qtbot.waitSignal(view.layerSelected, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=pos)
    assert blocker.args == [5]
    assert view.selected_block() == "full+dense"


def test_view_zoom_fit_fold_theme(view, qtbot):
    from PySide6.QtCore import Qt
    view.set_model(diagram_model(_spec("qwen3-next-80b-a3b")))
    view.fit()
    fitted = view.zoom_factor()
    view.zoom_in()
    assert view.zoom_factor() == pytest.approx(fitted * view.ZOOM_STEP)
    view.zoom_out()
    view.zoom_out()
    assert view.zoom_factor() < fitted
    qtbot.keyClick(view, Qt.Key_F)
    assert view.zoom_factor() == pytest.approx(fitted, rel=1e-3)
    qtbot.keyClick(view, Qt.Key_Plus)
    assert view.zoom_factor() > fitted
    with qtbot.waitSignal(view.foldToggled, timeout=1000) as blocker:
        view.set_unfolded(True)
    assert blocker.args == [True] and view.is_unfolded()
    assert len(view._boxes) >= 48
    view.set_unfolded(False)
    view.set_theme("dark")
    assert view.theme() == "dark"
    rect = view.scene_rect_for_export()
    assert rect.width() > 800 and rect.height() > 400


def test_view_120_layers_is_light(view, qtbot):
    from PySide6.QtWidgets import QGraphicsSimpleTextItem
    spec = apply_overrides(_spec("deepseek-v3"), {"layers": 120})
    assert spec.num_layers == 120
    dm = diagram_model(spec)
    t0 = time.perf_counter()
    view.set_model(dm)
    elapsed = time.perf_counter() - t0
    print(f"\nset_model, DeepSeek-V3 at 120 layers: {elapsed * 1e3:.1f} ms, "
          f"{len(view.scene().items())} items")
    items = view.scene().items()
    assert len(items) < 300
    assert any(isinstance(i, QGraphicsSimpleTextItem) and "x117" in i.text() for i in items)
    # unfolded stays bounded too (a box, its text and its FFN tab's label per layer)
    t0 = time.perf_counter()
    view.set_unfolded(True)
    print(f"unfolded: {(time.perf_counter() - t0) * 1e3:.1f} ms, "
          f"{len(view.scene().items())} items")
    assert len(view.scene().items()) < 120 * 4 + 300
    labels = [i.text() for i in view.scene().items() if isinstance(i, QGraphicsSimpleTextItem)]
    assert labels.count("MoE") >= 117 and labels.count("dense") >= 3     # no tab without its word


def test_properties_panel_shows_block(qtbot):
    from widgets.diagram import BlockPropertiesPanel
    panel = BlockPropertiesPanel()
    qtbot.addWidget(panel)
    assert panel.objectName() == "blockProperties"
    detail = diagram_model(_spec("mixtral-8x7b")).blocks["full+moe"]
    panel.show_block(detail)
    # cells wrap after operators (zero-width spaces); the text itself is unchanged
    texts = [panel.table.item(r, 1).text().replace("\u200b", "") for r in range(panel.table.rowCount())]
    keys = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    assert "Head grouping" in keys and "Router" in keys
    assert any("q_proj: d x heads*head_dim = 4096 x 4096 = 16.8M" in t for t in texts)
    assert [panel.table.item(r, 1).toolTip() for r in range(panel.table.rowCount())] == texts
    assert panel.detail() is detail
    # formulas without spaces ("heads*(qk_nope+qk_rope)") wrap inside a narrow cell: no piece
    # between break opportunities is wider than the column
    import re
    panel.resize(300, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_block(diagram_model(_spec("deepseek-v3")).blocks["mla+moe"])
    metrics, column = panel.table.fontMetrics(), panel.table.columnWidth(1)
    cells = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    widest = max(metrics.horizontalAdvance(piece) for t in cells for piece in re.split("[ \u200b\n]", t))
    assert widest <= column - 6
    panel.show_block(None)
    assert panel.table.rowCount() == 0


def _scene_signature(view):
    """What the scene shows, item by item, independent of item identity and insertion order."""
    from PySide6.QtWidgets import QAbstractGraphicsShapeItem, QGraphicsSimpleTextItem
    out = []
    for item in view.scene().items():
        if item.flags() & item.GraphicsItemFlag.ItemHasNoContents:
            continue     # the invisible roots of the diagram's parts
        rect = item.sceneBoundingRect()
        sig = [type(item).__name__, round(rect.x(), 1), round(rect.y(), 1), round(rect.width(), 1),
               round(rect.height(), 1), item.zValue(), item.toolTip()]
        if isinstance(item, QGraphicsSimpleTextItem):
            sig += [item.text(), item.font().pixelSize(), item.font().bold(), item.brush().color().name()]
        elif isinstance(item, QAbstractGraphicsShapeItem):
            sig += [item.brush().color().name(), item.brush().style().value, item.pen().color().name(),
                    item.pen().widthF(), item.pen().style().value]
            if hasattr(item, "path"):
                sig.append(item.path().elementCount())
        out.append(tuple(sig))
    return sorted(out, key=repr)


@pytest.mark.parametrize("model_id, block, edits", [
    ("deepseek-v3", "mla+moe", [{"top_k": 6}, {"top_k": 8}, {"experts": 64}]),   # MoE figures
    ("deepseek-v3", "mla+moe", [{"layers": 30}, {"kv_lora_rank": 256}]),         # structure
    ("deepseek-v3", "mla+moe", [{"attention": "linear"}, {"top_k": 2}]),         # mixer kind
    ("gemma-3-1b", "local+dense", [{"local_global": "3:1"}, {"window": 256},
                                     {"kv_heads": 4}]),                           # pattern
])
def test_incremental_redraw_equals_a_fresh_drawing(qtbot, model_id, block, edits):
    """Redrawing after edits takes back unchanged items; the result must be exactly what a new
    view draws for the final model (texts, positions, colors, tooltips), with no item left over."""
    from widgets.diagram import ArchitectureView
    spec = _spec(model_id)
    report = cost_report(spec, Workload())
    kept = ArchitectureView()
    qtbot.addWidget(kept)
    kept.set_model(diagram_model(spec, report))
    kept.select_block(block)
    first_items = {id(i): i for i in kept.scene().items()}
    merged = {}
    for edit in edits:
        merged.update(edit)
        edited = apply_overrides(spec, merged)
        kept.set_model(diagram_model(edited, cost_report(edited, Workload())))
    fresh = ArchitectureView()
    qtbot.addWidget(fresh)
    fresh.set_model(kept.model())
    if kept.selected_block() != fresh.selected_block():
        fresh.select_block(kept.selected_block())
    assert _scene_signature(kept) == _scene_signature(fresh)
    # and items really were reused (the point of it): the model name and summary at least
    assert sum(1 for i in kept.scene().items() if id(i) in first_items) >= 3


def test_theme_switch_redraws_every_color(qtbot):
    from widgets.diagram import ArchitectureView
    dm = diagram_model(_spec("qwen3-next-80b-a3b"))
    switched = ArchitectureView()
    qtbot.addWidget(switched)
    switched.set_model(dm)
    switched.set_theme("dark")
    fresh = ArchitectureView()
    qtbot.addWidget(fresh)
    fresh.set_theme("dark")
    fresh.set_model(dm)
    assert _scene_signature(switched) == _scene_signature(fresh)
    switched.set_model(None)
    assert [i for i in switched.scene().items()
            if not i.flags() & i.GraphicsItemFlag.ItemHasNoContents] == []


def test_positions_named_by_the_model_scheme():
    """An attention layer without RoPE is NoPE only in a RoPE model; ALiBi (Baichuan 2) and
    learned absolute positions (GPT-2) say so."""
    for model_id, scheme in (("baichuan-2-13b", "ALiBi"), ("gpt-2", "learned positions")):
        dm = diagram_model(_spec(model_id))
        position = [it for it in dm.folded_overview if it.kind == "position"][0]
        assert not any("NoPE" in line for line in position.lines)
        shapes = [c.shape for b in dm.blocks.values() for c in b.components if c.kind == "attention"]
        assert shapes and all(scheme in s and "NoPE" not in s for s in shapes)
    scout = diagram_model(_spec("llama-4-scout-17b-16e"))
    position = [it for it in scout.folded_overview if it.kind == "position"][0]
    assert "NoPE in 12 of 48 attention layers" in position.lines


def test_positions_give_ropes_stretch():
    """The stretch of each kind, with the context it starts past and YaRN's and LongRoPE's cos/sin
    factor where it is not 1; Gemma 3 stretches only its global layers."""
    import json
    from pathlib import Path

    from models.hf import spec_from_hf_config
    phi = json.loads((Path(__file__).parent / "fixtures" / "hf_configs" / "phi-3.5-moe-instruct.json").read_text())
    for spec, line in (
            (_spec("llama-3.1-405b"), "llama3 stretch x8 of long waves (8,192 trained)"),
            (_spec("deepseek-v3"), "YaRN stretch x40 (4,096 trained)"),
            (_spec("gpt-oss-120b"), "YaRN stretch x32 (4,096 trained), cos/sin x1.35"),
            (_spec("gemma-3-27b"), "linear stretch: frequencies / 8 in global layers"),
            (spec_from_hf_config(phi), "LongRoPE: long factors past 4,096 tokens, cos/sin x1.19"),
            (_spec("llama-3-8b").with_changes(rope_scaling=RopeScaling(kind="dynamic", factor=2.0,
                                                                       original_context=8192)),
             "dynamic NTK x2: base grows past 8,192 tokens")):
        position = [it for it in diagram_model(spec).folded_overview if it.kind == "position"][0]
        assert line in position.lines, position.lines
    plain = [it for it in diagram_model(_spec("llama-3-8b")).folded_overview if it.kind == "position"][0]
    assert plain.lines == ("RoPE in attention", "base 500,000", "context 8,192 tokens")


# --------------------------------------------------------------------------- layout at small sizes

def test_property_names_are_user_facing():
    """The per-component parameter rows are named for the user, not by models.params' keys."""
    from models.diagram import PART_LABELS
    for model_id, block in (("deepseek-v3", "mla+moe"), ("llama-3-8b", "full+dense"),
                            ("qwen3-next-80b-a3b", "linear+moe")):
        keys = [k for k, _ in diagram_model(_spec(model_id)).blocks[block].properties]
        assert not any(k.startswith("params:") or "_" in k for k in keys), keys
        assert any(k.endswith(" params") for k in keys)
    keys = [k for k, _ in diagram_model(_spec("deepseek-v3")).blocks["mla+moe"].properties]
    assert {"Attention params", "Router params", "Routed experts params",
            "Shared experts params", "Norm params"} <= set(keys)
    assert set(PART_LABELS) >= {"attention", "linear_attention", "ssm", "ffn", "router", "experts",
                                "shared_experts", "norms"}


def _inside(outer, inner, slack: float = 0.5) -> bool:
    return (inner.left() >= outer.left() - slack and inner.right() <= outer.right() + slack
            and inner.top() >= outer.top() - slack and inner.bottom() <= outer.bottom() + slack)


def test_window_resize_keeps_the_diagram_fitted_until_the_user_zooms(window, qtbot):
    """Laid out at 1500x950 and shrunk to 1280x720, the diagram is fitted again at a readable
    zoom: the title and every block whole in view (they were cut at the left). Once the user
    zooms or scrolls, a resize keeps their view; F fits again."""
    from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QAbstractSlider, QApplication
    from widgets.diagram import DETAIL_X
    view = window.diagram
    window.resize(1500, 950)
    qtbot.wait(50)
    view.fit_readable()          # as when a model opens
    assert view.is_auto_fitted()

    def in_view(rect: QRectF) -> bool:
        return _inside(QRectF(view.viewport().rect()), QRectF(view.mapFromScene(rect).boundingRect()), 1)

    def title():
        return next(i for i in view.scene().items()
                    if hasattr(i, "text") and i.text() == view.model().name)

    for size in ((1280, 720), (1500, 950), (1280, 720)):
        window.resize(*size)
        qtbot.waitUntil(lambda: view.viewport().width() < 400 if size[0] == 1280 else
                        view.viewport().width() > 400)
        assert view.zoom_factor() >= view.READABLE_SCALE - 1e-6, size   # text ~9 px at least
        boxes = view._boxes
        assert boxes and all(in_view(box.sceneBoundingRect()) for box in boxes), size
        assert in_view(title().sceneBoundingRect()), size
        # no half-visible detail column at the right
        assert view.mapFromScene(QPointF(DETAIL_X, 0)).x() >= view.viewport().width() - 2, size
    # the user zooms: their zoom and position stay through a resize
    qtbot.keyClick(view, Qt.Key_Plus)
    zoom, center = view.zoom_factor(), view.mapToScene(view.viewport().rect().center())
    window.resize(1500, 950)
    qtbot.waitUntil(lambda: view.viewport().width() > 400)
    assert view.zoom_factor() == pytest.approx(zoom)
    assert (view.mapToScene(view.viewport().rect().center()) - center).manhattanLength() < 2
    assert not view.is_auto_fitted()
    # F fits again, and so do later resizes; a scroll by hand stops that again
    qtbot.keyClick(view, Qt.Key_F)
    assert view.is_auto_fitted()
    fitted = view.zoom_factor()
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: view.viewport().width() < 400)
    assert view.zoom_factor() < fitted
    view.horizontalScrollBar().triggerAction(QAbstractSlider.SliderAction.SliderSingleStepAdd)
    zoom = view.zoom_factor()
    window.resize(1500, 950)
    qtbot.waitUntil(lambda: view.viewport().width() > 400)
    assert view.zoom_factor() == pytest.approx(zoom)
    assert not view.is_auto_fitted()
    # and so does a pan by dragging
    qtbot.keyClick(view, Qt.Key_F)
    start, end = QPointF(200, 300), QPointF(150, 250)
    for kind, pos, buttons in ((QEvent.Type.MouseButtonPress, start, Qt.LeftButton),
                               (QEvent.Type.MouseMove, end, Qt.LeftButton),
                               (QEvent.Type.MouseButtonRelease, end, Qt.NoButton)):
        QApplication.sendEvent(view.viewport(), QMouseEvent(
            kind, pos, view.viewport().mapToGlobal(pos), Qt.LeftButton, buttons, Qt.NoModifier))
    zoom, center = view.zoom_factor(), view.mapToScene(view.viewport().rect().center())
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: view.viewport().width() < 400)
    assert view.zoom_factor() == pytest.approx(zoom)
    assert not view.is_auto_fitted()


def _panel_cells_fit(panel):
    """The problems of the properties table as shown: a header or a value that does not fit its
    column, a row with less than 2 px above and below its wrapped text, columns that scroll."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QStyle
    from widgets.diagram import _PaddedDelegate
    table = panel.table
    header = table.horizontalHeader()
    problems = []
    header_margin = 2 * header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    for column in (0, 1):
        text = table.horizontalHeaderItem(column).text()
        if header.sectionSize(column) < header.fontMetrics().horizontalAdvance(text) + header_margin:
            problems.append(f"header {text!r} clipped at {header.sectionSize(column)} px")
    if table.columnWidth(0) + table.columnWidth(1) > table.viewport().width():
        problems.append("the columns scroll sideways")
    text_margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    pad_x = pad_y = 2           # at least, around the text of a cell (beside: on top of the style's)
    assert _PaddedDelegate.PAD_X >= pad_x and _PaddedDelegate.PAD_Y >= pad_y
    for r in range(table.rowCount()):
        spanned = table.columnSpan(r, 0) == 2          # a heading across both columns
        for column in ((0,) if spanned else (0, 1)):
            item = table.item(r, column)
            fm = QFontMetrics(item.font())
            width = (table.columnWidth(column) + (table.columnWidth(1) if spanned else 0)
                     - 1 - 2 * (text_margin + pad_x))
            need = fm.boundingRect(QRect(0, 0, width, 1 << 20), int(Qt.TextFlag.TextWordWrap.value),
                                   item.text())
            if need.width() > width:
                problems.append(f"{item.text()!r} wider than its column ({need.width()} > {width})")
            if need.height() + 2 * pad_y > table.rowHeight(r) - 1:
                problems.append(f"row of {item.text()!r} lower than its text and padding")
    return problems


def test_properties_table_is_not_clipped_at_1280(window, qtbot):
    """At a 1280x720 window the properties table shows its headers whole, values are wrapped
    but never cut ("218M (218,112,000" was), rows leave room around their text, names are
    user-facing and no value starts with a stray separator."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QFontMetrics
    window.resize(1280, 720)
    panel = window.block_panel
    table = panel.table
    for model_id in ("llama-3-8b", "deepseek-v3", "jamba-v0.1", "qwen3-next-80b-a3b"):
        window.open_catalog(model_id)
        for block in window.diagram.model().blocks:
            window.diagram.select_block(block)
            qtbot.waitUntil(lambda: panel.detail() is not None and panel.detail().name == block)
            qtbot.waitUntil(lambda: not panel._relayout.isActive())
            assert panel.width() < 260          # the narrow side panel of a 1280 window
            problems = _panel_cells_fit(panel)
            assert not problems, (model_id, block, problems[:5])
            keys = [table.item(r, 0).toolTip() or table.item(r, 0).text()
                    for r in range(table.rowCount())]
            values = [table.item(r, 1).text() for r in range(table.rowCount())]
            assert not any(k.startswith("params:") for k in keys)
            assert not any(v.lstrip().startswith("·") for v in values), (model_id, block)
    # DeepSeek-V3's head grouping read in 10 lines of a 81 px column
    window.open_catalog("deepseek-v3")
    window.diagram.select_block("mla+moe")
    qtbot.waitUntil(lambda: panel.detail() is not None and panel.detail().name == "mla+moe")
    qtbot.waitUntil(lambda: not panel._relayout.isActive())
    row = [table.item(r, 0).text() for r in range(table.rowCount())].index("Head grouping")
    item = table.item(row, 1)
    fm = QFontMetrics(item.font())
    width = table.columnWidth(1) - 13
    lines = fm.boundingRect(QRect(0, 0, width, 1 << 20), int(Qt.TextFlag.TextWordWrap.value),
                            item.text()).height() / fm.lineSpacing()
    assert lines <= 7.5


@pytest.mark.parametrize("model_id", ["gemma-3-27b", "llama-4-scout-17b-16e", "longcat-flash-chat",
                                      "gpt-oss-120b", "qwen3-next-80b-a3b"])
def test_overview_labels_fit_their_boxes(view, model_id):
    """No label of the overview is elided ("+ dense 215…", "w8192 …"): long block titles wrap
    at their " + " parts and the boxes grow to hold them, folded and unfolded."""
    from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsSimpleTextItem
    from widgets.diagram import FFN_TAB_LABELS, _Hot
    dm = diagram_model(_spec(model_id))
    for unfolded in (False, True):
        view.set_model(dm, unfolded=unfolded)
        for block in dm.blocks:
            view.select_block(block)
            texts = [i for i in view.scene().items() if isinstance(i, QGraphicsSimpleTextItem)]
            elided = [t.text() for t in texts if t.text().endswith("…")]
            assert not elided, (unfolded, elided)
            # the FFN badges of the boxes and the FFN tabs of the compact unfolded rows
            badges = [i for i in view.scene().items() if isinstance(i, QGraphicsPathItem)
                      and isinstance(i.parentItem(), _Hot)
                      and any(getattr(c, "text", lambda: "")() in FFN_TAB_LABELS.values()
                              for c in i.childItems())]
            tabs = [i for i in view.scene().items()
                    if isinstance(i, QGraphicsPathItem) and i.zValue() == 1]
            for t in texts:
                box = t.parentItem()
                if isinstance(box, QGraphicsPathItem):
                    assert _inside(box.sceneBoundingRect(), t.sceneBoundingRect(), 1), \
                        (unfolded, t.text())
                if box in badges or t.zValue() == 2:      # a badge's or a tab's own word
                    continue
                rect = t.sceneBoundingRect()
                for other in badges + tabs:
                    assert not other.path().intersects(other.mapRectFromScene(rect)), \
                        (unfolded, t.text())
    # what the widget shows is the model's text, only broken into lines
    view.set_model(dm, unfolded=False)
    shown = " ".join(i.text() for i in sorted(
        (i for i in view.scene().items() if isinstance(i, QGraphicsSimpleTextItem)),
        key=lambda i: (i.scenePos().y(), i.scenePos().x())))
    for b in dm.blocks.values():
        for part in b.title.split(" + "):
            assert part in shown


def test_short_convolution_block_details():
    dm = diagram_model(_lfm2_spec())
    assert [e.mixer for e in dm.strip[:3]] == ["conv", "conv", "full"]
    block = dm.blocks["conv+dense"]
    parts = {c.name: c for c in block.components}
    assert parts["in_proj"].params == 2048 * 3 * 2048 and parts["out_proj"].params == 2048 * 2048
    assert parts["conv"].params == 2048 * 3 and "conv state" in parts
    assert dict(block.properties)["Mixer"] == "short conv k3"
    assert block.cache_bytes_per_token == 0 and block.cache_bytes_at_context == 2 * 2048 * 2.0


def test_the_ssd_scan_gives_the_clamp_of_its_step():
    """Nemotron-H clamps Mamba-2's step from time_step_min (0.001) up; a Mamba-2 without a limit
    says nothing of it."""
    def scan(model_id):
        blocks = diagram_model(_spec(model_id)).blocks.values()
        return [c.formula for b in blocks for c in b.components if c.name.startswith("SSD scan")][0]
    assert scan("nemotron-3-nano").endswith("dt = softplus(.) clamped to [0.001, inf]")
    assert "clamped" not in scan("mamba-codestral-7b")


def test_a_hint_leads_to_the_detail_column_where_the_view_shows_the_overview_only(view, qtbot):
    """Fitted readable in a narrow view, the detail column (components, shapes, formulas) lay a
    scroll away with nothing to say so. A "Block detail" button says so and scrolls there; with
    the column in view (after it, or F) the button goes."""
    from PySide6.QtCore import QPointF, Qt
    from widgets.diagram import DETAIL_X
    view.set_model(diagram_model(_spec("deepseek-v3")))
    view.resize(520, 700)
    qtbot.waitUntil(lambda: view.viewport().width() < 540)
    view.fit_readable()
    hint = view.detail_hint
    assert view.mapFromScene(QPointF(DETAIL_X, 0)).x() >= view.viewport().width() - 2
    assert hint.isVisible() and hint.geometry().right() <= view.viewport().width()
    qtbot.mouseClick(hint, Qt.MouseButton.LeftButton)
    x = view.mapFromScene(QPointF(DETAIL_X, 0)).x()
    assert 0 <= x < view.viewport().width() / 2 and not hint.isVisible()
    assert not view.is_auto_fitted()              # a resize now keeps where the user went
    view.fit_readable()
    assert hint.isVisible()
    qtbot.keyClick(view, Qt.Key_F)                # everything in view
    assert not hint.isVisible()
    view.resize(2600, 1200)                       # room for all of it at a readable zoom
    view.fit_readable()
    qtbot.waitUntil(lambda: view.viewport().width() > 2000)
    view.fit_readable()
    assert not hint.isVisible()
