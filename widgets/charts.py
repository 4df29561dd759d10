"""The charts panel: memory vs context, roofline, latency by operator kind, and the survey's
calculators (quantization, Transformer/SSM/hybrid scaling, thinking budget) for the current model.

Display only: every number comes from models.charts.ChartData (built by models.charts.chart_data
from a CostReport). Every plot item is created once in __init__ and updated with setData/setOpts,
so a knob change repaints without rebuilding the scene. A second model (compare) is overlaid
dashed in a second colour.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from models.charts import (KIND_LABELS, KIND_ORDER, MAX_DEVICES, MEMORY_COMPONENTS, MEMORY_LABELS,
                           QUANT_FORMATS, ChartData)
from models.metrics import plural, three_figures

from .palette import COMPONENT_COLORS
from .titled_plot import TitledPlotWidget

GiB = 2**30
PRIMARY = "#0072B2"
COMPARE = "#D55E00"
DECODE = "#E69F00"
COMPARE_DECODE = "#CC79A7"
CAPACITY = "#C0392B"
VARIANT_COLORS = {"current": PRIMARY, "ssm": "#009E73", "hybrid": "#CC79A7", "sliding": "#9467BD"}
VARIANT_KEYS = ("current", "ssm", "hybrid", "sliding")
THEMES = {"light": {"bg": "#FFFFFF", "fg": "#202020", "grid": 0.25, "legend": (255, 255, 255, 215)},
          "dark": {"bg": "#1E1F22", "fg": "#DCDCDC", "grid": 0.30, "legend": (30, 31, 34, 215)}}
DASH = QtCore.Qt.PenStyle.DashLine
DOT = QtCore.Qt.PenStyle.DotLine
TAB_NAMES = ("Memory", "Roofline", "Latency", "Quantization", "Scaling", "Thinking budget")


def _pen(color, width=2.0, style=QtCore.Qt.PenStyle.SolidLine):
    pen = pg.mkPen(color, width=width)
    pen.setStyle(style)
    pen.setCosmetic(True)
    return pen


def _brush(color, alpha=255):
    c = QtGui.QColor(color)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


def _font(points: float) -> QtGui.QFont:
    f = QtGui.QFont()
    f.setPointSizeF(points)
    return f


def _show_line(line: pg.InfiniteLine, pos: float, text: str) -> None:
    """Move a marker line and set its label (the label only re-renders while visible)."""
    line.setVisible(True)
    line.setPos(pos)
    line.label.setFormat(text)
    line.label.valueChanged()


def _positive(values) -> np.ndarray:
    """Non-positive values become NaN so log axes skip them instead of warning."""
    a = np.asarray(values, dtype=float).copy()
    a[~(a > 0)] = np.nan
    return a


def _fmt_bytes(b: float) -> str:
    """Three significant figures, in the unit that keeps them under 1000: 626 MiB, 0.98 GiB,
    1.10 GiB, 2.44 TiB."""
    for unit, size in (("TiB", 2**40), ("GiB", GiB), ("MiB", 2**20)):
        if b >= 0.95 * size or unit == "MiB":
            return f"{three_figures(b / size)} {unit}"
    return f"{b:.0f} B"


def _fmt_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _fmt_tokens(n: float) -> str:
    n = int(n)
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}K"
    return f"{n:,}"


class NiceAxis(pg.AxisItem):
    """An axis whose log mode labels readable values: 1-2-5 (or finer) steps inside a decade when
    the range is short, whole decades when it is long, and, for token counts, powers of two
    written 256, 1K, 32K, 1M. Minor ticks only draw grid lines, never labels, so they cannot crowd."""

    def __init__(self, orientation, tokens=False, seconds=False, **kw):
        super().__init__(orientation, **kw)
        self.tokens = tokens
        self.seconds = seconds  # label log-mode ticks as times: 100 µs, 2 ms, 1.5 s
        self.enableAutoSIPrefix(False)
        self.setStyle(maxTextLevel=0)

    def _max_labels(self, size: float) -> int:
        per = 64 if self.orientation in ("bottom", "top") else 28
        return max(2, int(size / per))

    def tickValues(self, minVal, maxVal, size):
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = sorted((float(minVal), float(maxVal)))
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo <= 0:
            return super().tickValues(minVal, maxVal, size)
        most = self._max_labels(size)
        if self.tokens:
            l2 = math.log10(2)
            exps = list(range(math.ceil(lo / l2), math.floor(hi / l2) + 1))
            step = 1
            while len([e for e in exps if e % step == 0]) > most:
                step += 1
            major = [e * l2 for e in exps if e % step == 0]
            minor = [e * l2 for e in exps if e % step != 0]
            return [(1.0, major), (0.5, minor)]
        d0, d1 = math.floor(lo), math.ceil(hi)

        def ticks(mults, every=1):
            out = []
            for d in range(d0, d1 + 1):
                if d % every:
                    continue
                for m in mults:
                    v = d + math.log10(m)
                    if lo - 1e-9 <= v <= hi + 1e-9:
                        out.append(v)
            return out
        minor = ticks(range(1, 10))
        for mults in ((1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8), (1, 1.5, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,)):
            major = ticks(mults)
            if len(major) <= most:
                break
        every = 1
        while len(major) > most:
            every += 1
            major = ticks((1,), every)
        if len(major) < 3:   # a short range inside one decade: linear nice steps instead
            a, b = 10 ** lo, 10 ** hi
            raw = (b - a) / 4
            mag = 10 ** math.floor(math.log10(raw))
            step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
            vals = np.arange(math.ceil(a / step) * step, b + step * 1e-6, step)
            lin = [math.log10(v) for v in vals if v > 0]
            if len(lin) > len(major):
                major = lin
        return [(1.0, major), (0.5, [v for v in minor if v not in major])]

    def tickStrings(self, values, scale, spacing):
        if not self.logMode and self.tokens and spacing >= 1000:
            return [f"{v / 1000:,.4g}K" if v else "0" for v in values]     # 10K, 20K like the log axes
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            x = 10 ** v
            if self.tokens:
                out.append(_fmt_tokens_approx(x))
            elif self.seconds:
                out.append(_fmt_seconds(x))
            elif x >= 1e5 or x < 1e-3:
                out.append(f"{x:.0e}".replace("e+0", "e").replace("e-0", "e-"))
            elif x >= 1000:
                out.append(f"{x:,.0f}")
            else:
                out.append(f"{x:.3g}")
        return out


def _fmt_tokens_approx(x: float) -> str:
    if x >= 2**20 * 0.999:
        return f"{x / 2**20:.3g}M"
    if x >= 1024 * 0.999:
        return f"{x / 1024:.3g}K"
    return f"{x:.0f}"


def _unit_px(plot, span: float) -> float:
    """Pixels per x unit of a plot showing ``span`` units across (its width less the left axis:
    the view box is laid out only after a resize)."""
    return (plot.width() - plot.getPlotItem().getAxis("left").width() - 24) / span


def _category_ticks(plot, labels: list[str]) -> None:
    """Category names under bars at 0, 1, ...: where the widest is wider than a category's room on
    screen, every other one drops a line, so neighbours no longer run together ("projection" and
    "attention" read "projectionattention" in a narrow plot). Two-line names keep their first line
    then (the axis keeps its height: "fp8\n8 b" becomes "fp8")."""
    metrics = QtGui.QFontMetrics(plot.getPlotItem().getAxis("bottom").style.get("tickFont") or QtGui.QFont())
    widest = max((metrics.horizontalAdvance(line) for text in labels for line in text.split("\n")), default=0)
    stagger = widest + 8 > _unit_px(plot, len(labels) + 0.2)
    if stagger:
        labels = [("\n" if i % 2 else "") + text.split("\n")[0] for i, text in enumerate(labels)]
    plot.getPlotItem().getAxis("bottom").setTicks([list(enumerate(labels))])
    plot.staggered_ticks = stagger


def _if_it_fit(a: ChartData) -> str:
    """A latency chart's note for a model that does not fit its devices (the metrics panel's
    "Latency (if it fit)")."""
    return "" if a.fits else " (does not fit in memory: times as if it did)"


class _Plot(TitledPlotWidget):
    """A PlotWidget that remembers its texts so a theme switch can recolour them."""

    width_changed = None        # called after a change of width (a chart whose labels depend on it)

    def __init__(self, name: str, xlabel: str, ylabel: str, logx=False, logy=False,
                 tokens_x=False, legend=True, parent=None):
        super().__init__(parent=parent, axisItems={"bottom": NiceAxis("bottom", tokens=tokens_x),
                                                   "left": NiceAxis("left")})
        self.setObjectName(name)
        self.setMinimumHeight(180)
        pi = self.getPlotItem()
        pi.setLogMode(x=logx, y=logy)
        self.grid_x = True               # vertical grid lines (bar charts leave them out)
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.setMenuEnabled(True)
        self._labels = {"bottom": xlabel, "left": ylabel}
        self._fg = THEMES["light"]["fg"]
        # The legend sits under the x axis title, in the plot's own layout, so it never hides data.
        self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", verSpacing=-6, horSpacing=18,
                                    frame=False)
        if legend:
            self.legend.setMinimumWidth(100)     # its column is the plot's: long entries must not widen it
            pi.layout.addItem(self.legend, 4, 1)
            pi.layout.setRowSpacing(3, 0)
        else:
            self.legend.setVisible(False)
        self.text_items: list[pg.TextItem] = []
        self.fg_items: list = []          # items drawn in the foreground colour
        self.lines: list[pg.InfiniteLine] = []
        self._apply_labels()

    def _apply_labels(self):
        pi = self.getPlotItem()
        for side, text in self._labels.items():
            pi.setLabel(side, text, color=self._fg, **{"font-size": "9pt"})
        self._show_title()

    def _show_title(self):
        self._title_color = self._fg
        super()._show_title()

    def _refit(self, event):
        if "legend" in self.__dict__:        # (not yet while pyqtgraph builds the widget)
            self._fit_legend()
        super()._refit(event)
        if self.width_changed is not None:
            self.width_changed()

    def sync_legend(self, entries):
        """entries: [(item, name)] shown in this order; legend rows only, items stay."""
        self.legend.clear()
        for item, name in entries:
            self.legend.addItem(item, name)
        self.legend.setLabelTextColor(self._fg)
        self._fit_legend()

    def _fit_legend(self):
        """As many legend columns (up to 3) as the plot's width holds: the legend sits in the
        plot's layout, so a legend wider than the widget pushed the plot's right side out of view."""
        entries = len(self.legend.items)
        if not entries:
            return
        room = self.width() - 24
        for columns in range(1 if entries <= 1 else 2 if entries <= 4 else 3, 0, -1):
            self.legend.setColumnCount(columns)
            if self.legend.layout.effectiveSizeHint(QtCore.Qt.SizeHint.MinimumSize).width() <= room:
                break

    def apply_theme(self, theme: dict):
        self._fg = theme["fg"]
        self.setBackground(theme["bg"])
        pi = self.getPlotItem()
        for side in ("left", "bottom", "right", "top"):
            axis = pi.getAxis(side)
            axis.setPen(self._fg)
            axis.setTextPen(self._fg)
        pi.showGrid(x=self.grid_x, y=True, alpha=theme["grid"])
        self._apply_labels()
        self.legend.setLabelTextColor(self._fg)
        for t in self.text_items:
            t.setColor(self._fg)
        backdrop = QtGui.QColor(theme["bg"])
        backdrop.setAlpha(220)               # a curve passing behind a marker's label leaves it legible
        for line in self.lines:
            if line.label is not None:
                line.label.setColor(self._fg)
                line.label.fill = pg.mkBrush(backdrop)
                line.label.update()
        for item, width, style in self.fg_items:
            item.setPen(_pen(self._fg, width, style))


class ChartsPanel(QtWidgets.QTabWidget):
    """Tabs Memory, Roofline, Latency, Quantization, Scaling, Thinking budget.

    set_data(primary, compare=None) redraws from models.charts.ChartData; set_theme("light" or
    "dark") recolours. Items are created once; chart_items() lists them (for tests)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("chartsPanel")
        self.setDocumentMode(True)
        self._theme = "light"
        self._primary: ChartData | None = None
        self._compare: ChartData | None = None
        self.plots: list[_Plot] = []
        self._items: list = []
        self._build_memory()
        self._build_roofline()
        self._build_latency()
        self._build_quant()
        self._build_scaling()
        self._build_thinking()
        self.set_theme("light")

    # ------------------------------------------------------------------ helpers
    def _new_plot(self, *args, **kwargs) -> _Plot:
        p = _Plot(*args, **kwargs)
        self.plots.append(p)
        return p

    def _curve(self, plot: _Plot, pen, **kw) -> pg.PlotDataItem:
        # antialiased: a few curves of tens of points, drawn smooth as in the exports (not in steps)
        item = pg.PlotDataItem([], [], pen=pen, connect="finite", antialias=True, **kw)
        plot.getPlotItem().addItem(item)
        self._items.append(item)
        return item

    def _add(self, plot: _Plot, item):
        plot.getPlotItem().addItem(item)
        self._items.append(item)
        return item

    def _vline(self, plot: _Plot, color, angle=90, label_pos=0.95, anchors=None) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=angle, movable=False, pen=_pen(color, 1.3, DASH), label="",
                               labelOpts={"position": label_pos, "color": color,
                                          "anchors": anchors or [(0, 1), (0, 1)],
                                          "fill": None})
        line.label.setFont(_font(8))
        line.setZValue(5)                  # its label (on a backdrop) above the curves
        line.setVisible(False)
        self._add(plot, line)
        plot.lines.append(line)
        return line

    def chart_items(self) -> list:
        """Every graphics item the panel draws data with, in creation order."""
        return list(self._items)

    def plot(self, name: str) -> _Plot:
        return self.findChild(pg.PlotWidget, name)

    # ------------------------------------------------------------------ build
    def _build_memory(self):
        p = self._new_plot("memoryChart", "Context length (tokens per sequence)",
                           "Memory (GiB, all devices)", logx=True, logy=True,
                           tokens_x=True)
        self.mem_plot = p
        self.mem_curves = {k: self._curve(p, _pen(COMPONENT_COLORS[k], 2.2,
                                                  DOT if k == "reserve" else QtCore.Qt.PenStyle.SolidLine))
                           for k in MEMORY_COMPONENTS}
        self.mem_total = self._curve(p, _pen(THEMES["light"]["fg"], 3))
        p.fg_items.append((self.mem_total, 3, QtCore.Qt.PenStyle.SolidLine))
        self.mem_capacity = self._curve(p, _pen(CAPACITY, 2, QtCore.Qt.PenStyle.DashDotLine))
        self.mem_cmp_curves = {k: self._curve(p, _pen(COMPONENT_COLORS[k], 1.5, DASH))
                               for k in MEMORY_COMPONENTS}
        self.mem_cmp_total = self._curve(p, _pen(COMPARE, 3, DASH))
        self.mem_cmp_capacity = self._curve(p, _pen(COMPARE, 1.5, QtCore.Qt.PenStyle.DashDotLine))
        self.mem_context = self._vline(p, "#7F7F7F", label_pos=0.06, anchors=[(1.05, 1), (1.05, 1)])
        self.addTab(p, "Memory")

    def _build_roofline(self):
        p = self._new_plot("rooflineChart", "Arithmetic intensity (FLOP/byte)",
                           "Achieved TFLOP/s (per device)", logx=True, logy=True)
        self.roof_plot = p
        self.roof_line = self._curve(p, _pen(THEMES["light"]["fg"], 2.5))
        p.fg_items.append((self.roof_line, 2.5, QtCore.Qt.PenStyle.SolidLine))
        self.roof_attainable = self._curve(p, _pen("#7F7F7F", 1.5, DOT))
        self.roof_cmp_line = self._curve(p, _pen(COMPARE, 2, DASH))
        self.roof_ridge = self._vline(p, "#7F7F7F", label_pos=0.08, anchors=[(-0.05, 1), (-0.05, 1)])

        def scatter(symbol, brush, pen, size=11):
            s = pg.ScatterPlotItem(size=size, symbol=symbol, brush=brush, pen=pen, hoverable=True,
                                   tip=self._roof_tip, hoverSize=size + 5,
                                   hoverPen=pg.mkPen("#000000", width=1.5))
            return self._add(p, s)
        self.roof_prefill = scatter("o", _brush(PRIMARY, 210), pg.mkPen("w", width=0.8))
        self.roof_decode = scatter("t", _brush(DECODE, 230), pg.mkPen("w", width=0.8))
        self.roof_cmp_prefill = scatter("o", _brush(COMPARE, 40), _pen(COMPARE, 1.8))
        self.roof_cmp_decode = scatter("t", _brush(COMPARE_DECODE, 40), _pen(COMPARE_DECODE, 1.8))
        self.addTab(p, "Roofline")

    @staticmethod
    def _roof_tip(x, y, data):
        if not isinstance(data, dict):
            return ""
        return (f"{data['model']}\n{data['phase']}: {data['name']} ({data['kind']})\n"
                f"intensity {data['intensity']:.3g} FLOP/byte\n"
                f"achieved {data['tflops']:.3g} TFLOP/s, {data['bound']}-bound\n"
                f"{_fmt_seconds(data['time_s'])} per layer × {data['count']}")

    def _build_latency(self):
        p = self._new_plot("latencyChart", "Operator kind", "Share of phase time (%)")
        self.lat_plot = p
        p.width_changed = lambda: self._relabel(self._set_latency)
        self.lat_bars = {}
        for key, color, alpha, pen in (("prefill", PRIMARY, 230, None), ("decode", DECODE, 230, None),
                                       ("cmp_prefill", COMPARE, 70, _pen(COMPARE, 1.8, DASH)),
                                       ("cmp_decode", COMPARE_DECODE, 70, _pen(COMPARE_DECODE, 1.8, DASH))):
            bar = pg.BarGraphItem(x=[], height=[], width=0.3, brush=_brush(color, alpha),
                                  pen=pen or pg.mkPen(None))
            self.lat_bars[key] = self._add(p, bar)
        self.lat_texts = []
        for _ in range(len(KIND_ORDER) * 4):
            t = pg.TextItem("", anchor=(0.5, 1.0))
            t.setFont(_font(7.5))
            t.setVisible(False)
            self._add(p, t)
            p.text_items.append(t)
            self.lat_texts.append(t)
        p.getPlotItem().setMouseEnabled(x=False, y=False)
        self.addTab(p, "Latency")

    def _build_quant(self):
        p = self._new_plot("quantChart", "Weight format (storage bits per weight)",
                           "Memory the model needs (GiB)")
        self.quant_plot = p
        p.width_changed = lambda: self._relabel(self._set_quant)
        # per model two stacked bars a format: its weights, then KV cache, activations and reserve
        self.quant_bars = self._add(p, pg.BarGraphItem(x=[], height=[], width=0.38,
                                                       brush=_brush(PRIMARY, 220), pen=pg.mkPen(None)))
        # outlined: a faint fill alone all but vanished on the dark theme's background
        self.quant_rest_bars = self._add(p, pg.BarGraphItem(x=[], height=[], width=0.38,
                                                            brush=_brush(PRIMARY, 90), pen=_pen(PRIMARY, 1.2)))
        self.quant_cmp_bars = self._add(p, pg.BarGraphItem(x=[], height=[], width=0.38,
                                                           brush=_brush(COMPARE, 60),
                                                           pen=_pen(COMPARE, 1.8, DASH)))
        self.quant_cmp_rest_bars = self._add(p, pg.BarGraphItem(x=[], height=[], width=0.38,
                                                                brush=_brush(COMPARE, 25),
                                                                pen=_pen(COMPARE, 1.0, DOT)))
        self.quant_texts = []
        for _ in range(len(QUANT_FORMATS) * 2):
            t = pg.TextItem("", anchor=(0.5, 1.0))
            t.setFont(_font(7.5))
            t.setVisible(False)
            self._add(p, t)
            p.text_items.append(t)
            self.quant_texts.append(t)
        # what 1, 2, 4 ... devices hold, as one path; the right axis names each line
        self.quant_rooms = self._add(p, pg.PlotDataItem(x=[], y=[], connect="pairs",
                                                        pen=_pen("#9E9E9E", 1.0, DOT)))
        self.quant_have = self._add(p, pg.PlotDataItem(x=[], y=[], pen=_pen("#7F7F7F", 1.6, DASH)))
        pi = p.getPlotItem()
        pi.showAxis("right")
        pi.getAxis("right").setStyle(tickLength=0)
        pi.setMouseEnabled(x=False, y=False)
        p.grid_x = False                                           # no lines through the bar labels
        pi.showGrid(x=False, y=True, alpha=0.25)
        pi.getAxis("bottom").setHeight(58)                         # two-line ticks and the axis title
        self.addTab(p, "Quantization")

    def _build_scaling(self):
        box = QtWidgets.QWidget()
        box.setObjectName("scalingTab")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        t = self._new_plot("scalingChart", "Sequence length (tokens)",
                           "Time per output token (ms)", logx=True, logy=True,
                           tokens_x=True)
        m = self._new_plot("scalingMemoryChart", "Sequence length (tokens)",
                           "KV cache + state (GiB)", logx=True, logy=True, tokens_x=True,
                           legend=False)
        m.setXLink(t)
        for plot in (t, m):              # the two left axes line up, whatever their tick labels
            plot.getPlotItem().getAxis("left").setWidth(64)
        self.scale_plot, self.scale_mem_plot = t, m
        self.scale_time = {k: self._curve(t, _pen(VARIANT_COLORS[k], 2.4)) for k in VARIANT_KEYS}
        self.scale_mem = {k: self._curve(m, _pen(VARIANT_COLORS[k], 2.4)) for k in VARIANT_KEYS}
        self.scale_cmp_time = self._curve(t, _pen(COMPARE, 2.4, DASH))
        self.scale_cmp_mem = self._curve(m, _pen(COMPARE, 2.4, DASH))
        self.scale_ctx = self._vline(t, "#7F7F7F", label_pos=0.97, anchors=[(1.05, 0), (1.05, 0)])
        self.scale_note = QtWidgets.QLabel("")
        self.scale_note.setObjectName("scalingNote")
        self.scale_note.setWordWrap(True)
        self.scale_note.setContentsMargins(8, 2, 8, 4)
        lay.addWidget(t, 1)
        lay.addWidget(m, 1)
        lay.addWidget(self.scale_note)
        self.addTab(box, "Scaling")

    def _build_thinking(self):
        box = QtWidgets.QWidget()
        box.setObjectName("thinkingTab")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        t = self._new_plot("thinkingChart", "Thinking budget (reasoning tokens per request)",
                           "Latency (s)", tokens_x=True)
        c = self._new_plot("thinkingCostChart", "Thinking budget (reasoning tokens per request)",
                           "Cost per request batch (US$)", tokens_x=True)
        for plot in (t, c):              # the two left axes line up, whatever their tick labels
            plot.getPlotItem().getAxis("left").setWidth(64)
        c.setXLink(t)
        self.think_plot, self.think_cost_plot = t, c
        self.think_time = self._curve(t, _pen(PRIMARY, 2.4))
        self.think_cmp_time = self._curve(t, _pen(COMPARE, 2.4, DASH))
        self.think_cost = self._curve(c, _pen(PRIMARY, 2.4))
        self.think_cmp_cost = self._curve(c, _pen(COMPARE, 2.4, DASH))
        lay.addWidget(t, 1)
        lay.addWidget(c, 1)
        self.addTab(box, "Thinking budget")

    # ------------------------------------------------------------------ data
    def set_data(self, primary: ChartData, compare: ChartData | None = None) -> None:
        self._primary, self._compare = primary, compare
        self._set_memory(primary, compare)
        self._set_roofline(primary, compare)
        self._set_latency(primary, compare)
        self._set_quant(primary, compare)
        self._set_scaling(primary, compare)
        self._set_thinking(primary, compare)

    def _set_memory(self, a: ChartData, b: ChartData | None):
        p = self.mem_plot
        entries = []
        for k in MEMORY_COMPONENTS:
            ys = a.memory.components[k]
            shown = bool(np.any(ys > 0))
            self.mem_curves[k].setData(a.memory.contexts, _positive(ys / GiB) if shown else [])
            if shown:
                entries.append((self.mem_curves[k], MEMORY_LABELS[k]))
        self.mem_total.setData(a.memory.contexts, a.memory.total / GiB)
        entries.append((self.mem_total, "total"))
        ctx = a.memory.contexts
        self.mem_capacity.setData([ctx[0], ctx[-1]], [a.memory.capacity / GiB] * 2)
        entries.append((self.mem_capacity, f"device memory ({a.devices}× {_fmt_bytes(a.memory.capacity / a.devices)})"))
        if b is not None:
            for k in MEMORY_COMPONENTS:
                ys = b.memory.components[k]
                self.mem_cmp_curves[k].setData(b.memory.contexts,
                                               _positive(ys / GiB) if np.any(ys > 0) else [])
            self.mem_cmp_total.setData(b.memory.contexts, b.memory.total / GiB)
            entries.append((self.mem_cmp_total, f"{b.model}: total (parts dashed)"))
            if b.memory.capacity != a.memory.capacity:
                bc = b.memory.contexts
                self.mem_cmp_capacity.setData([bc[0], bc[-1]], [b.memory.capacity / GiB] * 2)
                entries.append((self.mem_cmp_capacity, f"{b.model}: device memory"))
            else:
                self.mem_cmp_capacity.setData([], [])
        else:
            for item in self.mem_cmp_curves.values():
                item.setData([], [])
            self.mem_cmp_total.setData([], [])
            self.mem_cmp_capacity.setData([], [])
        p.sync_legend(entries)
        _show_line(self.mem_context, math.log10(a.memory.current_context),
                   f"context {_fmt_tokens(a.memory.current_context)}")
        windows = ", ".join(_fmt_tokens(w) for w in a.memory.windows)
        extra = f"; windows {windows}" if windows else ""
        p.set_title(f"Memory vs context: {a.label}, batch {a.memory.batch}{extra}")

    def _points(self, cd: ChartData, phase: str) -> dict:
        x, y, pts = cd.roofline.phase(phase)
        data = [{"model": cd.model, "phase": phase, "name": q.name, "kind": q.kind,
                 "intensity": q.intensity, "tflops": q.flops_per_s / 1e12, "bound": q.bound,
                 "time_s": q.time_s, "count": q.count} for q in pts]
        ok = (x > 0) & (y > 0)
        return {"x": np.log10(x[ok]), "y": np.log10(y[ok] / 1e12),
                "data": [d for d, keep in zip(data, ok) if keep]}

    def _set_roofline(self, a: ChartData, b: ChartData | None):
        p = self.roof_plot
        r = a.roofline
        self.roof_line.setData(r.intensity, r.roof / 1e12)
        self.roof_attainable.setData(r.intensity, r.attainable / 1e12)
        self.roof_prefill.setData(**self._points(a, "prefill"))
        self.roof_decode.setData(**self._points(a, "decode"))
        entries = [(self.roof_line, f"roof: {r.peak / 1e12:.0f} TFLOP/s {r.compute_dtype}, "
                                    f"{r.bandwidth / 1e12:.2f} TB/s"),
                   (self.roof_attainable, f"attainable ({r.compute_efficiency:.0%} compute, "
                                          f"{r.memory_efficiency:.0%} memory efficiency)"),
                   (self.roof_prefill, f"prefill ops ({_fmt_tokens(a.workload.context)} tokens)"),
                   (self.roof_decode, "decode ops (one token)")]
        if b is not None:
            rb = b.roofline
            same_roof = (rb.peak == r.peak and rb.bandwidth == r.bandwidth)
            self.roof_cmp_line.setData([] if same_roof else rb.intensity,
                                       [] if same_roof else rb.roof / 1e12)
            if not same_roof:
                entries.append((self.roof_cmp_line, f"{b.model}: roof ({b.device})"))
            self.roof_cmp_prefill.setData(**self._points(b, "prefill"))
            self.roof_cmp_decode.setData(**self._points(b, "decode"))
            entries += [(self.roof_cmp_prefill, f"{b.model}: prefill ops"),
                        (self.roof_cmp_decode, f"{b.model}: decode ops")]
        else:
            self.roof_cmp_line.setData([], [])
            self.roof_cmp_prefill.setData(x=[], y=[])
            self.roof_cmp_decode.setData(x=[], y=[])
        p.sync_legend(entries)
        _show_line(self.roof_ridge, math.log10(r.ridge), f"ridge {r.ridge:.0f} FLOP/B")
        p.set_title(f"Roofline: {a.label} (hover a point for its operator)")

    def _set_latency(self, a: ChartData, b: ChartData | None):
        p = self.lat_plot
        phases = [("prefill", a, "prefill"), ("decode", a, "decode")]
        if b is not None:
            phases += [("cmp_prefill", b, "prefill"), ("cmp_decode", b, "decode")]
        kinds = [k for k in KIND_ORDER if any(cd.latency[ph].get(k, 0) > 0 for _, cd, ph in phases)]
        kinds += sorted({k for _, cd, ph in phases for k in cd.latency[ph]} - set(kinds))
        n_series = len(phases)
        width = 0.8 / n_series
        for t in self.lat_texts:
            t.setVisible(False)
        shares = []
        for j, (key, cd, ph) in enumerate(phases):
            total = sum(cd.latency[ph].values()) or 1.0
            xs = np.arange(len(kinds)) - 0.4 + width * (j + 0.5)
            secs = np.array([cd.latency[ph].get(k, 0.0) for k in kinds])
            share = 100.0 * secs / total
            self.lat_bars[key].setOpts(x=xs, height=share, width=width * 0.92)
            shares.append((xs, share, secs))
        ymax = max([float(sh.max()) for _, sh, _ in shares if len(sh)] + [10.0])
        # Value labels, one per bar. Four bars per kind, or a plot too narrow for two, leave each
        # bar narrower than its label, so then the labels stand upright on their bars: side by
        # side, none can cover another.
        upright = len(shares) > 2 or self._flat_labels_crowd(len(kinds), width, shares)
        ti = 0
        for i in range(len(kinds)):
            for xs, share, secs in shares:
                if secs[i] <= 0 or ti >= len(self.lat_texts):
                    continue
                t = self.lat_texts[ti]
                ti += 1
                t.setAngle(90 if upright else 0)
                t.setAnchor((-0.1, 0.5) if upright else (0.5, 1.0))
                t.setText(_fmt_seconds(secs[i]))
                t.setPos(xs[i], share[i])
                t.setVisible(True)
        for key in ("cmp_prefill", "cmp_decode"):
            if b is None:
                self.lat_bars[key].setOpts(x=[], height=[])
        _category_ticks(p, [KIND_LABELS.get(k, k) for k in kinds])
        p.getPlotItem().setXRange(-0.6, len(kinds) - 0.4, padding=0)
        p.getPlotItem().setYRange(0, ymax * (1.4 if upright else 1.2), padding=0)
        entries = [(self.lat_bars["prefill"], f"prefill: TTFT {_fmt_seconds(a.ttft_s)}"),
                   (self.lat_bars["decode"], f"decode: {_fmt_seconds(a.tpot_s)} per token")]
        if b is not None:
            entries += [(self.lat_bars["cmp_prefill"], f"{b.model} prefill: {_fmt_seconds(b.ttft_s)}"),
                        (self.lat_bars["cmp_decode"], f"{b.model} decode: {_fmt_seconds(b.tpot_s)}")]
        p.sync_legend(entries)
        p.set_title(f"Latency by operator kind{_if_it_fit(a)}: {a.label}, context "
                    f"{_fmt_tokens(a.workload.context)}, batch {a.workload.batch} (bar labels: time in each kind)")

    def _flat_labels_crowd(self, kinds: int, pitch: float, shares) -> bool:
        """Whether the widest bar label is wider than the bars' pitch on screen (the plot shows
        kinds + 0.2 units across)."""
        metrics = QtGui.QFontMetrics(_font(7.5))
        widest = max((metrics.horizontalAdvance(_fmt_seconds(s)) for _, _, secs in shares for s in secs if s > 0),
                     default=0)
        return widest + 6 > _unit_px(self.lat_plot, kinds + 0.2) * pitch

    def _relabel(self, setter):
        """A change of the plot's width may stand the bar labels up or lay them flat, and stagger
        the category names or line them up."""
        if self._primary is not None:
            setter(self._primary, self._compare)

    def _set_quant(self, a: ChartData, b: ChartData | None):
        p, pi = self.quant_plot, self.quant_plot.getPlotItem()
        rows = {r.dtype: r for r in a.quant}
        fmts = [f for f in QUANT_FORMATS if f in rows] + [f for f in rows if f not in QUANT_FORMATS]
        series = [(a, self.quant_bars, self.quant_rest_bars, PRIMARY)]
        if b is not None:
            series.append((b, self.quant_cmp_bars, self.quant_cmp_rest_bars, COMPARE))
        else:
            for bars in (self.quant_cmp_bars, self.quant_cmp_rest_bars):
                bars.setOpts(x=[], height=[], y0=0)
        tallest = max(r.model_bytes for cd, *_ in series for r in cd.quant)
        room = a.device_room
        # the line of one device joins the chart when the bars reach a quarter of it
        top = max(tallest * 1.22, room * 1.05 if tallest > room / 4 else 0.0)
        unit, size = ("TiB", 2.0**40) if top >= 2048 * GiB else ("GiB", GiB)
        if p._labels["left"] != f"Memory the model needs ({unit})":
            p._labels["left"] = f"Memory the model needs ({unit})"
            p._apply_labels()
        width = 0.8 / len(series)
        for t in self.quant_texts:
            t.setVisible(False)
        texts = iter(self.quant_texts)
        # two bars a format, or a plot too narrow for "352 GiB" side by side, leave no room for the
        # memory's size: the device count alone then
        metrics = QtGui.QFontMetrics(self.quant_texts[0].textItem.font())
        sizes = [_fmt_bytes(r.model_bytes) for r in a.quant]
        show_size = len(series) == 1 and max(map(metrics.horizontalAdvance, sizes), default=0) + 6 \
            <= _unit_px(p, len(fmts) + 0.2)
        for j, (cd, bars, rest, color) in enumerate(series):
            by = {r.dtype: r for r in cd.quant}
            xs = np.arange(len(fmts)) - 0.4 + width * (j + 0.5)
            have = [f in by for f in fmts]
            w = np.array([by[f].weights_bytes / size if f in by else 0.0 for f in fmts])
            o = np.array([by[f].other_bytes / size if f in by else 0.0 for f in fmts])
            bars.setOpts(x=xs, height=w, y0=0, width=width * 0.92)
            rest.setOpts(x=xs, height=o, y0=w, width=width * 0.92)
            for x, f, h, present in zip(xs, fmts, w + o, have):
                if not present:
                    continue
                r, t = by[f], next(texts)
                t.textItem.setTextWidth(-1)             # measure the new text at its natural width
                count = f"{r.devices_needed}" if r.devices_needed is not None else f">{MAX_DEVICES}"
                needs = f"<br>{_fmt_bytes(r.model_bytes)}" if show_size else ""
                t.setHtml(f'<div style="text-align:center; color:{self._fg()}"><b>{count}</b>{needs}</div>')
                doc = t.textItem.document()
                t.textItem.setTextWidth(doc.idealWidth() + 2)   # lets text-align centre the lines
                t.updateTextPos()
                t.setPos(x, h)
                t.setVisible(True)
        x0, x1 = -0.6, len(fmts) - 0.4
        setup = a.workload.devices
        counts = [setup] if setup * room <= top else []
        for n in (2**k for k in range(7)):                 # 1, 2, 4 ... 64 devices
            # the setup's own line first; others where they do not crowd a line already kept
            if n * room <= top and all(abs(n - k) * room >= top / 14 for k in counts):
                counts.append(n)
        counts.sort()
        levels = [n * room / size for n in counts if n != setup]
        self.quant_rooms.setData(np.tile([x0, x1], len(levels)), np.repeat(levels, 2))
        if setup * room <= top:
            self.quant_have.setData([x0, x1], [setup * room / size] * 2)
        else:
            self.quant_have.setData([], [])
        pi.getAxis("right").setTicks([[(n * room / size, f"{n}x") for n in counts], []])
        pi.getAxis("right").setLabel("room on N devices" if counts else "")
        _category_ticks(p, [f"{f}\n{rows[f].bits:.3g} b" for f in fmts])
        pi.setXRange(x0, x1, padding=0)
        pi.setYRange(0, top / size, padding=0)
        labels = "devices needed, memory" if show_size else "devices needed"
        entries = [(self.quant_bars, f"{a.model}: weights (labels: {labels})"),
                   (self.quant_rest_bars, "KV cache, activations, reserve")]
        if b is not None:
            entries.append((self.quant_cmp_bars, f"{b.model} on {b.device}"))
        hold = f"{plural(setup, 'device')} {'hold' if setup > 1 else 'holds'} {_fmt_bytes(setup * room)}"
        reserve = a.workload.reserve_bytes
        if reserve:                     # why "79.0 GiB" where the side panel says 80
            hold += f" ({_fmt_bytes(reserve)} reserve each set aside)"
        every = ", every format fits" if setup * room >= tallest else ""
        entries.append((self.quant_have, f"this setup: {hold}{every}"))
        p.sync_legend(entries)
        p.set_title(f"Memory and devices needed per weight format: {a.device}, context "
                    f"{_fmt_tokens(a.workload.context)}, batch {a.workload.batch}, KV {a.workload.kv}, "
                    f"embeddings {a.workload.embeddings}")

    def _set_scaling(self, a: ChartData, b: ChartData | None):
        s = a.scaling
        t_entries, m_entries = [], []
        present = {v.key: v for v in s.variants}
        for k in VARIANT_KEYS:
            v = present.get(k)
            if v is None:
                self.scale_time[k].setData([], [])
                self.scale_mem[k].setData([], [])
                continue
            self.scale_time[k].setData(s.lengths, _positive(v.decode_s * 1e3))
            self.scale_mem[k].setData(s.lengths, _positive(v.cache_bytes / GiB))
            t_entries.append((self.scale_time[k], v.label))
            m_entries.append((self.scale_mem[k], v.label))
        if b is not None and b.scaling.variant("current") is not None:
            v = b.scaling.variant("current")
            self.scale_cmp_time.setData(b.scaling.lengths, _positive(v.decode_s * 1e3))
            self.scale_cmp_mem.setData(b.scaling.lengths, _positive(v.cache_bytes / GiB))
            t_entries.append((self.scale_cmp_time, f"{b.model} (compare)"))
            m_entries.append((self.scale_cmp_mem, f"{b.model} (compare)"))
        else:
            self.scale_cmp_time.setData([], [])
            self.scale_cmp_mem.setData([], [])
        self.scale_plot.sync_legend(t_entries)
        self.scale_mem_plot.sync_legend(m_entries)
        if s.model_context:
            _show_line(self.scale_ctx, math.log10(s.model_context),
                       f"model context {_fmt_tokens(s.model_context)}")
        else:                                             # a recurrence that states no context
            self.scale_ctx.setVisible(False)
        self.scale_plot.set_title(f"Scaling with sequence length: {a.label}, batch {a.workload.batch}")
        self.scale_mem_plot.set_title("")
        note = "; ".join(f"{label}: not shown ({reason})" for label, reason in s.omitted)
        self.scale_note.setText(note)
        self.scale_note.setVisible(bool(note))

    def _set_thinking(self, a: ChartData, b: ChartData | None):
        th = a.thinking
        self.think_time.setData(th.budgets, th.seconds)
        t_entries = [(self.think_time, f"{a.model}: TTFT {_fmt_seconds(th.ttft_s)} + "
                                       f"{_fmt_seconds(th.tpot_s)} per token")]
        c_entries = []
        if th.dollars is not None:
            self.think_cost.setData(th.budgets, th.dollars)
            c_entries.append((self.think_cost, f"{a.model}: ${th.usd_per_million:.2f} per M tokens"))
        else:
            self.think_cost.setData([], [])
        if b is not None:
            tb = b.thinking
            self.think_cmp_time.setData(tb.budgets, tb.seconds)
            t_entries.append((self.think_cmp_time, f"{b.model}: TTFT {_fmt_seconds(tb.ttft_s)} + "
                                                   f"{_fmt_seconds(tb.tpot_s)} per token"))
            if tb.dollars is not None:
                self.think_cmp_cost.setData(tb.budgets, tb.dollars)
                c_entries.append((self.think_cmp_cost,
                                  f"{b.model}: ${tb.usd_per_million:.2f} per M tokens"))
            else:
                self.think_cmp_cost.setData([], [])
        else:
            self.think_cmp_time.setData([], [])
            self.think_cmp_cost.setData([], [])
        self.think_plot.sync_legend(t_entries)
        self.think_cost_plot.sync_legend(c_entries)
        self.think_plot.set_title(f"Thinking budget{_if_it_fit(a)}: {a.label}, batch {th.batch}")
        self.think_cost_plot.set_title("" if th.dollars is not None else
                                       f"no cloud price listed for {a.device}")

    # ------------------------------------------------------------------ theme
    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")
        self._theme = name
        theme = THEMES[name]
        for p in self.plots:
            p.apply_theme(theme)
        self.scale_note.setStyleSheet(f"color: {theme['fg']}; background: {theme['bg']};")
        if self._primary is not None:      # texts drawn as HTML carry their colour
            self.set_data(self._primary, self._compare)

    def _fg(self) -> str:
        return THEMES[self._theme]["fg"]

    def theme(self) -> str:
        return self._theme
