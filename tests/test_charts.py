"""The charts: series computed in models/charts.py (pure) and the ChartsPanel that draws them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.catalog import find
from models.charts import (CACHE_COMPONENTS, MEMORY_COMPONENTS, VARIANT_LABELS, ChartData, chart_data, decode_times,
                           device_room, devices_per_bitwidth, latency_breakdown, linear_hybrid, memory_vs_context,
                           roofline, scaling_with_sequence, thinking_budget_series)
from models.cost import Workload, cost_report
from models.hardware import get_hardware
from models.spec import SpecError

GiB = 2**30
DSV3_WL = Workload(context=32768, weights="fp8", hardware="h200-sxm", devices=8)


@pytest.fixture(scope="module")
def specs():
    return {m: find(m).spec() for m in ("gemma-3-1b", "qwen3-next-80b-a3b", "deepseek-v3",
                                        "llama-3-8b")}


# --------------------------------------------------------------------------- memory

def test_gemma_sliding_kv_caps_at_window_while_full_kv_grows(specs):
    spec = specs["gemma-3-1b"]
    m = memory_vs_context(spec, Workload())
    assert m.windows == [512]
    ctx = m.contexts
    sliding, full = m.components["kv_sliding"], m.components["kv_full"]
    after = ctx >= 512
    assert after.sum() > 10 and (~after).sum() > 0
    assert np.allclose(sliding[after], sliding[after][0])           # flat past the window
    assert np.all(np.diff(sliding[~after]) > 0)                      # growing before it
    assert np.all(np.diff(full) > 0)                                 # full attention keeps growing
    assert full[-1] / full[np.searchsorted(ctx, 512)] == pytest.approx(ctx[-1] / 512)
    assert not m.components["state"].any() and not m.components["mla_latent"].any()


def test_parts_sum_to_the_report_at_the_workload_context(specs):
    for name, wl in (("gemma-3-1b", Workload()), ("deepseek-v3", DSV3_WL),
                     ("qwen3-next-80b-a3b", Workload(context=8192, batch=4))):
        spec = specs[name]
        m = memory_vs_context(spec, wl)
        i = int(np.flatnonzero(m.contexts == wl.context)[0])
        r = cost_report(spec, wl)
        assert m.total[i] == pytest.approx(r.memory.total, rel=1e-9)
        cache = sum(m.components[k][i] for k in CACHE_COMPONENTS)
        assert cache == pytest.approx(r.memory.kv_cache, rel=1e-9)
        assert m.capacity == r.memory.capacity
        assert set(m.components) == set(MEMORY_COMPONENTS)


def test_qwen3_next_state_is_constant_and_deepseek_has_mla(specs):
    q = memory_vs_context(specs["qwen3-next-80b-a3b"], Workload(batch=2))
    state = q.components["state"]
    assert state[0] > 0 and np.all(state == state[0])
    assert q.components["kv_full"][-1] > q.components["kv_full"][0]
    d = memory_vs_context(specs["deepseek-v3"], DSV3_WL)
    assert d.nonzero() == ["weights", "mla_latent", "activations", "reserve"]
    assert np.all(np.diff(d.components["mla_latent"]) > 0)
    assert d.contexts[0] == 256 and d.contexts[-1] == specs["deepseek-v3"].context_length
    assert 35 <= len(d.contexts) <= 45
    assert np.all(d.components["weights"] == d.components["weights"][0])


# --------------------------------------------------------------------------- roofline

def test_llama_decode_is_memory_bound_and_long_prefill_projections_compute_bound(specs):
    spec = specs["llama-3-8b"]
    r = roofline(cost_report(spec, Workload(context=8192, batch=1)))
    assert r.ridge == pytest.approx(r.peak / r.bandwidth)
    x, y, pts = r.phase("decode")
    assert len(pts) >= 4 and np.all(x < r.ridge)
    assert all(p.bound == "memory" for p in pts)
    x, y, pts = r.phase("prefill")
    proj = [p for p in pts if p.kind in ("projection", "ffn")]
    assert proj and all(p.intensity > r.ridge for p in proj)
    # no point above the roof; the roof is the min of the two ceilings
    roof_at = np.minimum(r.peak, x * r.bandwidth)
    assert np.all(y <= roof_at * (1 + 1e-9))
    assert np.allclose(r.roof, np.minimum(r.peak, r.intensity * r.bandwidth))
    assert r.intensity[0] <= 0.1 and r.intensity[-1] >= 1e4


def test_roofline_skips_comm_and_zero_flop_ops(specs):
    report = cost_report(specs["deepseek-v3"], DSV3_WL)
    r = roofline(report)
    names = {p.name for p in r.points}
    assert "embedding lookup" not in names
    assert all(p.kind != "comm" for p in r.points)
    assert any(op.kind == "comm" for op in report.decode.ops)
    assert r.compute_dtype == report.compute_dtype
    assert r.peak == report.hardware.peak(report.compute_dtype)[0]


# --------------------------------------------------------------------------- latency

def test_latency_breakdown_sums_to_phase_times(specs):
    report = cost_report(specs["deepseek-v3"], DSV3_WL)
    lat = latency_breakdown(report)
    assert sum(lat["prefill"].values()) == pytest.approx(report.ttft_s)
    assert sum(lat["decode"].values()) == pytest.approx(report.tpot_s)
    assert "experts" in lat["decode"] and "comm" in lat["decode"]


# --------------------------------------------------------------------------- quantization

def test_devices_per_bitwidth_non_increasing_as_bits_fall(specs):
    spec = specs["deepseek-v3"]
    wl = Workload(context=8192, hardware="h100-sxm")
    rows = devices_per_bitwidth(spec, wl)
    assert [r.dtype for r in rows] == ["fp32", "bf16", "fp8", "int8", "int4", "nf4", "fp4", "ternary"]
    by_bits = sorted(rows, key=lambda r: -r.bits)
    needed = [r.devices_needed if r.devices_needed is not None else 10**9 for r in by_bits]
    assert needed == sorted(needed, reverse=True)
    assert [r.weights_bytes for r in by_bits] == sorted((r.weights_bytes for r in by_bits),
                                                        reverse=True)
    for row in rows:
        assert not row.fits_on_one                       # 671B never fits one H100
        n = row.devices_needed
        if n is None:
            continue
        fits = cost_report(spec, dataclasses.replace(wl, weights=row.dtype, devices=n)).memory.fits
        assert fits
        # the chart's lines of N devices' room say the same as cost_report
        room = device_room(get_hardware(wl.hardware).memory_bytes, wl)
        assert (n - 1) * room < row.model_bytes <= n * room
        if n > 1:
            assert not cost_report(spec, dataclasses.replace(wl, weights=row.dtype,
                                                             devices=n - 1)).memory.fits
    dtype, bits, weights, n, one, other = rows[4]        # plain tuple unpacking works
    assert dtype == "int4" and bits == pytest.approx(4.25)


def test_small_model_fits_on_one_device_in_every_format(specs):
    rows = devices_per_bitwidth(specs["gemma-3-1b"], Workload())
    assert all(r.devices_needed == 1 and r.fits_on_one for r in rows)


# --------------------------------------------------------------------------- scaling

def test_scaling_variants(specs):
    s = scaling_with_sequence(specs["llama-3-8b"], Workload())
    keys = [v.key for v in s.variants]
    assert keys == ["current", "ssm", "hybrid", "sliding"]
    ssm, cur, hyb = s.variant("ssm"), s.variant("current"), s.variant("hybrid")
    assert np.all(ssm.cache_bytes == ssm.cache_bytes[0])            # constant state
    assert np.allclose(ssm.decode_s, ssm.decode_s[0])
    assert np.all(np.diff(cur.cache_bytes) > 0) and np.all(np.diff(cur.decode_s) > 0)
    # the hybrid keeps a quarter of the full-attention KV, plus some constant state
    assert hyb.cache_bytes[-1] < cur.cache_bytes[-1] / 2
    assert s.lengths[-1] >= 32768


def test_scaling_fast_decode_path_matches_cost_report(specs):
    spec = specs["qwen3-next-80b-a3b"]
    wl = Workload(batch=3, weights="int4", devices=2)
    positions = [1000, 70000]
    fast = decode_times(spec, wl, positions)
    for p, t in zip(positions, fast):
        assert t == pytest.approx(cost_report(spec, dataclasses.replace(wl, context=p)).tpot_s,
                                  rel=1e-12)


def test_unbuildable_variants_are_omitted_with_a_reason(specs):
    s = scaling_with_sequence(specs["deepseek-v3"], DSV3_WL)
    assert {v.key for v in s.variants} == {"current", "ssm", "hybrid", "sliding"}    # MLA takes windows too
    from models.catalog import find
    m = scaling_with_sequence(find("mamba2-2.7b").spec(), Workload())
    assert {v.key for v in m.variants} == {"current"}
    reasons = dict(m.omitted)
    # an all-SSM model's own curve is the all-SSM one: no note for it; the others say why in
    # words, not the knob's key ("local_global: ...")
    assert VARIANT_LABELS["ssm"] not in reasons
    assert reasons[VARIANT_LABELS["sliding"]] == ("Mamba-2 2.7B has no attention layers: its layers use "
                                                  "state-space (Mamba)")
    assert all(":" not in reason.split(" ")[0] for reason in reasons.values())
    q = scaling_with_sequence(specs["qwen3-next-80b-a3b"], Workload())
    assert q.variant("hybrid") is None and q.omitted
    with pytest.raises(SpecError):
        linear_hybrid(specs["qwen3-next-80b-a3b"])


def test_linear_hybrid_is_three_to_one(specs):
    h = linear_hybrid(specs["llama-3-8b"])
    from models.spec import Attention, LinearAttention
    kinds = ["attn" if isinstance(layer.mixers[0], Attention) else
             "lin" if isinstance(layer.mixers[0], LinearAttention) else "?" for layer in h.layers]
    assert kinds == ["lin", "lin", "lin", "attn"] * 8


# --------------------------------------------------------------------------- thinking budget

def test_thinking_budget_is_linear(specs):
    report = cost_report(specs["deepseek-v3"], DSV3_WL)
    budgets, seconds, dollars = thinking_budget_series(report)
    assert budgets[0] == 0 and seconds[0] == pytest.approx(report.ttft_s)
    assert np.allclose(np.diff(seconds), np.diff(budgets) * report.tpot_s)
    assert dollars is not None and dollars[0] == 0 and np.all(np.diff(dollars) > 0)
    assert np.allclose(np.diff(dollars, 2), 0, atol=1e-12)
    cpu = cost_report(specs["gemma-3-1b"], Workload(hardware="cpu"))
    assert thinking_budget_series(cpu, [0, 100]).dollars is None       # no cloud price


# --------------------------------------------------------------------------- bundle + speed

def test_chart_data_bundle_is_built_from_a_cold_cache(specs):
    """The bundle is the same whether the cache is warm or cleared (its speed is measured by
    benchmarks/bench_engine.py, not asserted here)."""
    from models.charts import clear_cache
    spec = specs["deepseek-v3"]
    report = cost_report(spec, DSV3_WL)
    warm = chart_data(spec, DSV3_WL, report)
    assert isinstance(warm, ChartData) and warm.model == spec.name and warm.devices == 8
    clear_cache()
    cold = chart_data(spec, DSV3_WL, report)
    assert _same(cold, warm)


def _same(a, b) -> bool:
    """Equality through dataclasses, containers and numpy arrays."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# --------------------------------------------------------------------------- the panel

@pytest.fixture(scope="module")
def two(specs):
    return (chart_data(specs["deepseek-v3"], DSV3_WL),
            chart_data(specs["gemma-3-1b"], Workload()))


@pytest.fixture
def panel(qtbot):
    from widgets.charts import ChartsPanel
    p = ChartsPanel()
    qtbot.addWidget(p)
    p.resize(1000, 650)
    return p


def test_panel_tabs_and_object_names(panel):
    import pyqtgraph as pg
    assert panel.objectName() == "chartsPanel"
    assert [panel.tabText(i) for i in range(panel.count())] == [
        "Memory", "Roofline", "Latency", "Quantization", "Scaling", "Thinking budget"]
    for name in ("memoryChart", "rooflineChart", "latencyChart", "quantChart", "scalingChart",
                 "thinkingChart"):
        assert isinstance(panel.findChild(pg.PlotWidget, name), pg.PlotWidget), name


def test_set_data_reuses_the_same_items(panel, two):
    a, b = two
    before = panel.chart_items()
    scene_before = {name: list(panel.plot(name).getPlotItem().items)
                    for name in ("memoryChart", "rooflineChart", "latencyChart", "quantChart")}
    panel.set_data(a)
    panel.set_data(b, a)
    panel.set_data(a)
    after = panel.chart_items()
    assert len(before) == len(after) and all(x is y for x, y in zip(before, after))
    for name, items in scene_before.items():
        now = panel.plot(name).getPlotItem().items
        assert len(now) == len(items) and all(x is y for x, y in zip(items, now)), name
    # data really changed: the memory total holds gemma's then deepseek's numbers
    x, y = panel.mem_total.getData()
    assert len(x) == len(a.memory.contexts)


def test_compare_overlay_appears_and_disappears(panel, two):
    a, b = two
    panel.set_data(a)
    assert len(panel.mem_cmp_total.getData()[0] or []) == 0
    assert len(panel.roof_cmp_prefill.data) == 0
    panel.set_data(a, b)
    assert len(panel.mem_cmp_total.getData()[0]) == len(b.memory.contexts)
    assert panel.mem_cmp_total.opts["pen"].style() == panel.mem_total.opts["pen"].style().DashLine
    assert len(panel.roof_cmp_prefill.data) > 0
    assert len(panel.lat_bars["cmp_decode"].opts["height"]) > 0
    assert len(panel.scale_cmp_time.getData()[0]) > 0
    legend_names = [label.text for _, label in panel.mem_plot.legend.items]
    assert any(b.model in n for n in legend_names)
    panel.set_data(a)
    assert len(panel.mem_cmp_total.getData()[0] or []) == 0
    assert len(panel.roof_cmp_prefill.data) == 0
    assert len(panel.lat_bars["cmp_decode"].opts["height"]) == 0
    assert not any(b.model in label.text for _, label in panel.mem_plot.legend.items)


def test_roofline_points_have_hover_tooltips(panel, two):
    a, _ = two
    panel.set_data(a)
    scatter = panel.roof_decode
    assert scatter.opts["hoverable"]
    pts = scatter.points()
    assert len(pts) == len(a.roofline.phase("decode")[2])
    tip = scatter.opts["tip"](x=pts[0].pos().x(), y=pts[0].pos().y(), data=pts[0].data())
    assert "FLOP/byte" in tip and "TFLOP/s" in tip and pts[0].data()["name"] in tip


def test_theme_switch(panel, two):
    from PySide6 import QtGui
    panel.set_data(two[0])
    panel.set_theme("dark")
    assert panel.theme() == "dark"
    bg = panel.plot("memoryChart").backgroundBrush().color()
    assert bg.lightness() < 80
    axis = panel.plot("rooflineChart").getPlotItem().getAxis("left")
    assert axis.textPen().color().lightness() > 180
    panel.set_theme("light")
    assert panel.plot("memoryChart").backgroundBrush().color() == QtGui.QColor("#FFFFFF")
    with pytest.raises(ValueError):
        panel.set_theme("purple")


def test_panel_renders_every_tab(panel, two, tmp_path):
    panel.set_data(*two)
    panel.show()
    for i in range(panel.count()):
        panel.setCurrentIndex(i)
        image = panel.grab().toImage()
        assert image.width() > 100 and not image.isNull()


def test_a_long_title_wraps_instead_of_widening_the_plot(qtbot):
    """pyqtgraph gives a plot the width of its title's one line; a long title pushed the right of
    the plot (bars, legend, ticks) out of view. Wrapped, the plot fits its widget at any width."""
    from widgets.charts import _Plot
    plot = _Plot("t", "x", "y")
    qtbot.addWidget(plot)
    title = ("Latency by operator kind: Qwen3 0.6B on NVIDIA H100 SXM5 80GB, bf16, context 4K, batch 1 "
             "(labels: seconds), with a comparison against the unedited original model")
    plot.set_title(title)
    for width in (420, 700, 1400):
        plot.resize(width, 400)
        plot.show()
        qtbot.waitExposed(plot)
        item = plot.getPlotItem()
        assert item.minimumWidth() <= width and item.titleLabel.minimumWidth() <= width
        lines = item.titleLabel.text.split("<br>")
        assert 1 <= len(lines) <= 2
    assert len(lines) == 1 and plot.toolTip() == ""             # 1400 px: one line, nothing hidden
    plot.resize(420, 400)
    qtbot.waitUntil(lambda: "<br>" in plot.getPlotItem().titleLabel.text)
    assert plot.toolTip() == title


def test_quantization_bars_are_memory_and_the_room_lines_agree_with_the_counts(panel, two):
    """Each format's bars stack its weights and the rest of what the devices hold; the lines of
    1, 2, 4 ... devices (named on the right axis) and the setup's own line sit at N x one device's
    room, so a bar labelled N lies under the line of N devices; the setup is named in the legend;
    no vertical grid line crosses a bar's label."""
    a, b = two
    panel.set_data(a)
    item = panel.plot("quantChart").getPlotItem()
    unit = 2.0**40 if "TiB" in item.getAxis("left").labelText else GiB
    weights, rest = panel.quant_bars.opts, panel.quant_rest_bars.opts
    assert list(weights["height"]) == pytest.approx([r.weights_bytes / unit for r in a.quant])
    assert list(rest["y0"]) == pytest.approx(list(weights["height"]))
    assert list(rest["height"]) == pytest.approx([r.other_bytes / unit for r in a.quant])
    (ticks, _), = [item.getAxis("right")._tickLevels]
    counts = {int(text.rstrip("x")): v for v, text in ticks}
    assert a.workload.devices in counts and 1 in counts
    for n, level in counts.items():
        assert level == pytest.approx(n * a.device_room / unit)
    room_levels = set(np.round(panel.quant_rooms.yData, 6))
    have = panel.quant_have.yData
    assert have[0] == pytest.approx(a.workload.devices * a.device_room / unit)
    assert room_levels | {round(have[0], 6)} == {round(v, 6) for v in counts.values()}
    names = [label.text for _, label in panel.plot("quantChart").legend.items]
    assert a.workload.devices > 1 and any(n.startswith(f"this setup: {a.workload.devices} devices hold")
                                          for n in names)
    # less than their memory: the legend says why (the side panel gives the device's whole size)
    assert any("(1.00 GiB reserve each set aside)" in n for n in names)
    assert not item.getAxis("bottom").grid and item.getAxis("left").grid
    panel.set_theme("dark")
    assert not item.getAxis("bottom").grid                        # the theme keeps it off
    panel.set_theme("light")
    panel.set_data(b)                                             # a 1B model: bars far under one device
    assert "GiB" in item.getAxis("left").labelText
    assert item.viewRange()[1][1] < b.device_room / GiB
    assert panel.quant_rooms.yData is None or len(panel.quant_rooms.yData) == 0
    names = [label.text for _, label in panel.plot("quantChart").legend.items]
    assert any(n.endswith("every format fits") for n in names)


def test_latency_labels_never_cover_each_other(panel, specs, qtbot):
    """With a comparison each kind has four bars, narrower than their labels: every bar with time
    keeps its label, and no two labels overlap on screen (Qwen3-Next against DeepSeek-V3: seven
    kinds, bars of similar height side by side)."""
    a, b = (chart_data(specs[name], Workload()) for name in ("qwen3-next-80b-a3b", "deepseek-v3"))
    panel.set_data(a, b)
    panel.setCurrentWidget(panel.plot("latencyChart"))
    panel.show()
    qtbot.waitExposed(panel)
    view = panel.plot("latencyChart").getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: view.width() > 700)                 # laid out at the panel's size
    qtbot.wait(20)
    shown = [t for t in panel.lat_texts if t.isVisible()]
    bars = sum(1 for cd in (a, b) for ph in ("prefill", "decode") for s in cd.latency[ph].values() if s > 0)
    assert len(shown) == bars
    rects = [t.sceneBoundingRect() for t in shown]
    assert not [(i, j) for i in range(len(rects)) for j in range(i) if rects[i].intersects(rects[j])]


def test_linear_token_axes_read_in_thousands_and_paired_plots_line_up(panel, two):
    a, _ = two
    panel.set_data(a)
    axis = panel.plot("thinkingChart").getPlotItem().getAxis("bottom")
    assert axis.tickStrings([0, 10000, 20000], 1, 10000) == ["0", "10K", "20K"]
    for top, bottom in (("thinkingChart", "thinkingCostChart"), ("scalingChart", "scalingMemoryChart")):
        widths = [panel.plot(name).getPlotItem().getAxis("left").width() for name in (top, bottom)]
        assert widths[0] == widths[1]


def test_every_chart_fits_a_narrow_panel(panel, two, qtbot):
    """A chart's legend and title once set its plot's minimum width (859 px for the roofline with
    a comparison), so in a narrow window the right of the plot was out of view."""
    a, b = two
    panel.set_data(a, b)
    panel.resize(360, 600)
    panel.show()
    qtbot.waitExposed(panel)
    for i in range(panel.count()):
        panel.setCurrentIndex(i)
        for plot in [p for p in panel.plots if p.isVisible()]:
            qtbot.waitUntil(lambda p=plot: p.width() < 400)
            item = plot.getPlotItem()
            assert item.minimumWidth() <= plot.width(), plot.objectName()
            qtbot.waitUntil(lambda p=plot, i=item: i.getViewBox().sceneBoundingRect().right() <= p.width(),
                            timeout=2000)


def test_chart_byte_labels_keep_three_figures():
    from widgets.charts import _fmt_bytes
    assert [_fmt_bytes(b * 2**20) for b in (381, 1002, 1126.4, 641843, 2.44 * 2**20)] == \
        ["381 MiB", "0.98 GiB", "1.10 GiB", "627 GiB", "2.44 TiB"]


def test_marker_labels_sit_on_a_backdrop_and_curves_are_smooth(panel, two):
    """A curve passing behind "model context 160K" leaves it legible, in either theme; curves are
    antialiased (they were drawn in visible steps)."""
    import pyqtgraph as pg
    from PySide6 import QtGui
    from widgets.charts import THEMES
    panel.set_data(*two)
    for theme in ("dark", "light"):
        panel.set_theme(theme)
        fill = panel.scale_ctx.label.fill.color()
        assert fill.name() == QtGui.QColor(THEMES[theme]["bg"]).name() and fill.alpha() > 128
        assert panel.scale_ctx.zValue() > max(c.zValue() for c in panel.chart_items()
                                              if isinstance(c, pg.PlotDataItem))
    assert all(c.opts["antialias"] for c in panel.scale_time.values())


def test_scaling_marks_no_model_context_where_the_model_states_none(panel, two):
    """Mamba-2's config states no context length: no "model context" line at the search's cap."""
    mamba = chart_data(find("mamba2-2.7b").spec(), Workload())
    assert mamba.scaling.model_context == 0
    panel.set_data(two[0])
    assert panel.scale_ctx.isVisible()
    panel.set_data(mamba)
    assert not panel.scale_ctx.isVisible()


def test_latency_labels_stand_up_where_two_bars_a_kind_leave_them_no_room(panel, specs, qtbot):
    """DeepSeek-V3 alone in a 420 px chart: "1.35 ms79.7 µs714 µs" ran together. Narrow, the labels
    stand upright (none overlaps another); widened again, they lie flat."""
    panel.set_data(chart_data(specs["deepseek-v3"], Workload()))
    panel.setCurrentWidget(panel.plot("latencyChart"))
    panel.resize(420, 600)
    panel.show()
    qtbot.waitExposed(panel)
    plot = panel.plot("latencyChart")
    qtbot.waitUntil(lambda: plot.width() < 440)
    shown = [t for t in panel.lat_texts if t.isVisible()]
    qtbot.waitUntil(lambda: all(t.angle == 90 for t in shown))
    qtbot.wait(20)
    rects = [t.sceneBoundingRect() for t in shown]
    assert not [(i, j) for i in range(len(rects)) for j in range(i) if rects[i].intersects(rects[j])]
    panel.resize(1400, 700)
    qtbot.waitUntil(lambda: all(t.angle == 0 for t in panel.lat_texts if t.isVisible()))


def test_category_names_and_bar_sizes_give_way_in_a_narrow_plot(panel, specs, qtbot):
    """In a 420 px chart "projections" and "attention" ran together under the latency bars, and
    "352 GiB342 GiB352 GiB" above the quantization bars. Narrow, every other category name drops a
    line (two-line names keep their first) and the sizes give way to the device counts; wide, the
    names line up again with their bits and the sizes come back."""
    panel.set_data(chart_data(specs["deepseek-v3"], Workload()))
    panel.resize(420, 600)
    panel.show()
    qtbot.waitExposed(panel)
    for name in ("latencyChart", "quantChart"):
        panel.setCurrentWidget(panel.plot(name))
        plot = panel.plot(name)
        qtbot.waitUntil(lambda p=plot: p.width() < 440 and p.staggered_ticks)
        (ticks,) = plot.getPlotItem().getAxis("bottom")._tickLevels
        texts = [text for _, text in ticks]
        assert all(t.startswith("\n") == bool(i % 2) for i, t in enumerate(texts))
        assert all(t.count("\n") <= 1 for t in texts)
    shown = [t for t in panel.quant_texts if t.isVisible()]
    assert shown and not any("GiB" in t.textItem.toPlainText() for t in shown)
    panel.resize(1500, 800)
    plot = panel.plot("quantChart")
    qtbot.waitUntil(lambda: not plot.staggered_ticks)
    (ticks,) = plot.getPlotItem().getAxis("bottom")._tickLevels
    assert all("\n" in text and not text.startswith("\n") for _, text in ticks)     # "fp8\n8 b"
    assert any("GiB" in t.textItem.toPlainText() for t in panel.quant_texts if t.isVisible())
