"""The profiler panel: choose a device and backends, Run / Cancel, a progress bar, streamed
results (table), a chart of measured against predicted time per block, and Calibrate. It displays
what the profiling engine reports; the main window owns the worker thread.

The chart is a dot plot on a log time axis, one row per (block, phase, backend): prefill and
decode differ by orders of magnitude, which bars on a linear scale flatten, and row labels read
horizontally however many rows there are."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGridLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QScrollArea, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from models.metrics import fmt_bytes, fmt_flops, fmt_seconds
from widgets.charts import NiceAxis
from widgets.steady import narrow_combo

BACKENDS = (("torch", "torch eager"), ("sdpa", "torch SDPA"), ("triton", "our Triton kernels"),
            ("onnxruntime", "ONNX Runtime"))
IDLE_TEXT = ("Profiles one layer of each kind at the model's true size on the chosen device, "
             "against the cost model's prediction; results stream in as each block finishes.")
# the measurement and its prediction side by side, first; the detail after
COLUMNS = ("Block", "Layers", "Phase", "Backend", "p50", "Predicted", "Pred. / p50", "Roofline %",
           "p90", "p99", "Achieved", "Peak memory", "Rel. error", "Status")
COLUMN_TIPS = {"p50": "Median time per call of one layer (whole batch)",
               "Predicted": "The cost model's time for the same call on this device",
               "Pred. / p50": "Predicted time over measured median: below 1, the device was slower than predicted",
               "Roofline %": "The roofline floor (FLOPs at peak, bytes at full bandwidth) as a share of the median",
               "Achieved": "FLOP/s and bytes/s the median time implies, from the cost model's counts",
               "Rel. error": "Relative L2 error of the output against a float64 reference"}
PREDICTED_COL = COLUMNS.index("Predicted")
LABEL_BLOCK_CHARS = 24                 # block names in the chart's row labels, whatever the phase


def _prediction_cells(predicted_s, measured_s) -> tuple[str, str]:
    """The Predicted and Pred. / p50 cells."""
    ratio = predicted_s / measured_s if predicted_s and measured_s else None
    return _time(predicted_s), (f"{ratio:.2f}" if ratio else "–")


def _row_label(r) -> str:
    """'block · phase · backend', the block name cut to the same length on every row."""
    name = r.block if len(r.block) <= LABEL_BLOCK_CHARS else r.block[:LABEL_BLOCK_CHARS - 1] + "…"
    return f"{name} · {r.phase} · {r.backend}"


def _plottable(seconds) -> bool:
    return isinstance(seconds, (int, float)) and 0 < seconds < math.inf


def _time(seconds) -> str:
    return "–" if seconds is None else fmt_seconds(seconds)


def _achieved(r) -> str:
    """'58.1 GFLOP/s · 1.02 GB/s', either part left out when not measured."""
    parts = []
    if r.achieved_flops_per_s:
        parts.append(fmt_flops(r.achieved_flops_per_s) + "/s")
    if r.achieved_bytes_per_s:
        parts.append(f"{r.achieved_bytes_per_s / 1e9:.3g} GB/s")
    return " · ".join(parts)


def _versus(measured: float, predicted: float | None, unit: str = "") -> str:
    """'1.20 ms per token vs 1.00 ms (predicted/measured 0.83)'; a file may lack the prediction."""
    if predicted is None:
        return f"{_time(measured)}{unit} (no prediction saved)"
    return f"{_time(measured)}{unit} vs {_time(predicted)} (predicted/measured {predicted / measured:.2f})"


class ProfilerPanel(QWidget):
    runRequested = Signal(dict)        # {"device", "backends", "phases", "context", "batch", "repeats"}
    cancelRequested = Signal()
    calibrateRequested = Signal()
    openRequested = Signal()
    saveRequested = Signal()

    def _arrange(self, stacked: bool) -> None:
        """The control groups in one row, or (``stacked``) settings above, phases and buttons below."""
        if stacked == self._stacked:
            return
        self._stacked = stacked
        for holder in self._groups:
            self._controls.removeWidget(holder)
        cells = ((0, 0), (0, 1), (1, 0), (1, 1)) if stacked else ((0, 0), (0, 1), (0, 2), (0, 3))
        for holder, (row, column) in zip(self._groups, cells):
            self._controls.addWidget(holder, row, column, Qt.AlignTop | Qt.AlignLeft)

    def _fit_controls(self, available: int) -> None:
        """Stack the controls where one row of them is wider than ``available`` pixels."""
        margins = self.layout().contentsMargins()
        row = sum(h.sizeHint().width() for h in self._groups) + 3 * self._controls.spacing() \
            + margins.left() + margins.right()
        self._arrange(stacked=row > available)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        host = self.parentWidget()          # a scroll area's viewport, whose width is the room there is
        if host is not None and self._watching is not host:
            host.installEventFilter(self)
            self._watching = host
        self._fit_controls(host.width() if host is not None else self.width())

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt)
        if obj is self._watching and event.type() == QEvent.Type.Resize:
            self._fit_controls(obj.width())
        return super().eventFilter(obj, event)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("profilerPanel")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.device = QComboBox(objectName="profileDevice")
        # a GPU's entry names the card, memory and driver: the list shows it whole, the box need not
        narrow_combo(self.device, 14)
        self.device.addItem("CPU (this machine)", "cpu")
        form.addRow("Device", self.device)
        self.context = QSpinBox(objectName="profileContext", minimum=1, maximum=1 << 20, value=512)
        self.batch = QSpinBox(objectName="profileBatch", minimum=1, maximum=4096, value=1)
        self.repeats = QSpinBox(objectName="profileRepeats", minimum=1, maximum=1000, value=10)
        form.addRow("Context", self.context)
        form.addRow("Batch", self.batch)
        form.addRow("Repeats", self.repeats)
        backends = QVBoxLayout()
        self.backend_boxes = {}
        for key, label in BACKENDS:
            box = QCheckBox(label, objectName=f"backend_{key}")
            box.setChecked(key in ("torch", "onnxruntime"))
            backends.addWidget(box)
            self.backend_boxes[key] = box
        backends.addStretch(1)
        phases = QVBoxLayout()
        self.phase_boxes = {}
        for key in ("prefill", "decode"):
            box = QCheckBox(key, objectName=f"phase_{key}", checked=True)
            phases.addWidget(box)
            self.phase_boxes[key] = box
        phases.addStretch(1)
        buttons = QVBoxLayout()
        self.run_button = QPushButton("Run", objectName="profileRun")
        self.cancel_button = QPushButton("Cancel", objectName="profileCancel", enabled=False)
        self.calibrate_button = QPushButton("Calibrate predictions", objectName="profileCalibrate",
                                            enabled=False)
        self.calibrate_button.setToolTip("Fit the cost model's compute and memory efficiency to "
                                         "these measurements; kept per device")
        self.open_button = QPushButton("Open results…", objectName="profileOpen")
        self.open_button.setToolTip("Show a saved profile: one saved here, or the JSON of "
                                    "orbit-explorer profile --json (from another machine, say)")
        self.save_button = QPushButton("Save results…", objectName="profileSave", enabled=False)
        self.save_button.setToolTip("Save these results as JSON (to open again, with the calibration "
                                    "if one was fitted) or as CSV rows")
        for b in (self.run_button, self.cancel_button, self.calibrate_button, self.open_button,
                  self.save_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        # the four groups side by side, or two by two where the view is too narrow for that (the
        # Run button went off-screen behind a scroll bar)
        self._groups = []
        for group in (form, backends, phases, buttons):
            holder = QWidget()
            group.setContentsMargins(0, 0, 0, 0)
            holder.setLayout(group)
            self._groups.append(holder)
        self._controls = QGridLayout()
        self._controls.setColumnStretch(4, 1)
        self._stacked: bool | None = None
        self._watching = None            # the widget whose width is the room for the controls
        self._arrange(stacked=False)
        layout.addLayout(self._controls)
        self.progress = QProgressBar(objectName="profileProgress", minimum=0, maximum=1000)
        self.progress.setVisible(False)         # an empty bar before any run says nothing
        layout.addWidget(self.progress)
        self.status = QLabel(IDLE_TEXT, objectName="profileStatus", wordWrap=True)
        layout.addWidget(self.status)
        self.summary = QLabel(objectName="profileSummary", wordWrap=True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # the whole-model figures first (they are what a run is for), in a pane of their own that
        # scrolls: a long summary must not push the table and chart out of view
        summary_pane = QScrollArea(objectName="profileSummaryPane", widgetResizable=True, frameShape=QFrame.NoFrame)
        summary_pane.setWidget(self.summary)
        summary_pane.setVisible(False)          # shown with the first summary: no blank band before
        self._summary_pane = summary_pane
        split = QSplitter(Qt.Vertical)
        split.addWidget(summary_pane)
        self.table = QTableWidget(0, len(COLUMNS), objectName="profileTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for col, name in enumerate(COLUMNS):
            if name in COLUMN_TIPS:
                self.table.horizontalHeaderItem(col).setToolTip(COLUMN_TIPS[name])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        split.addWidget(self.table)
        self.chart = pg.PlotWidget(objectName="profileChart",
                                   axisItems={"bottom": NiceAxis("bottom", seconds=True)})
        plot = self.chart.getPlotItem()
        plot.setLogMode(x=True, y=False)
        plot.invertY(True)                       # the first block on top, like the table
        plot.showGrid(x=True, alpha=0.2)
        plot.setMouseEnabled(y=False)
        plot.getAxis("left").setStyle(tickTextOffset=10)   # row labels clear of the widget's edge
        self.chart.setLabel("bottom", "time per call (log scale)")
        self._legend = self.chart.addLegend(offset=(-10, 4), colCount=2)   # top right, over a blank row
        # predicted-to-measured gaps as one path of segment pairs, then the two kinds of point
        self._gaps = pg.PlotDataItem(x=[], y=[], connect="pairs", pen=pg.mkPen("#9e9e9e", width=2))
        self._measured = pg.PlotDataItem(x=[], y=[], pen=None, symbol="o", symbolSize=10, symbolPen=None,
                                         symbolBrush="#5c6bc0", name="measured (p50)")
        self._predicted = pg.PlotDataItem(x=[], y=[], pen=None, symbol="d", symbolSize=11, symbolPen=None,
                                          symbolBrush="#ffa726", name="predicted")
        for item in (self._gaps, self._measured, self._predicted):
            self.chart.addItem(item)
        self._hint = pg.TextItem("No measurements yet: Run profiles one layer of each kind;\n"
                                 "each block's time appears here beside the prediction.",
                                 color="#8a8d91", anchor=(0.5, 0.5))
        self._hint.setPos(0.5, 0.5)
        self.chart.addItem(self._hint)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 1)
        split.setSizes([150, 300, 300])
        # a header and five rows stay visible however long the summary below grows
        rows = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + 5 * rows + 20)
        self.chart.setMinimumHeight(160)        # with the table, fits a 720 px window unscrolled
        layout.addWidget(split, 1)
        self.run_button.clicked.connect(self._run_clicked)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.calibrate_button.clicked.connect(self.calibrateRequested)
        self.open_button.clicked.connect(self.openRequested)
        self.save_button.clicked.connect(self.saveRequested)
        self._rows: list = []
        self._result = None                 # the result the summary describes
        self._whole_predicted = None        # (prefill_s, decode_s) at a calibration, once one is shown
        self._calibration_lines: list[str] = []
        self._predicted_s: list = []   # per row: the run's prediction, or a calibrated one
        self._update_chart()

    # ---- requests
    def _run_clicked(self) -> None:
        backends = tuple(k for k, box in self.backend_boxes.items() if box.isChecked())
        phases = tuple(k for k, box in self.phase_boxes.items() if box.isChecked())
        if not backends or not phases:
            self.status.setText("Choose at least one backend." if not backends else
                                "Choose prefill, decode or both.")
            return
        self.runRequested.emit({"device": self.device.currentData(), "backends": backends,
                                "phases": phases, "context": self.context.value(),
                                "batch": self.batch.value(), "repeats": self.repeats.value()})

    def add_devices(self, devices: list[tuple[str, str]]) -> None:
        for key, label in devices:
            if self.device.findData(key) < 0:
                self.device.addItem(label, key)

    # ---- state shown
    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.open_button.setEnabled(not running)
        if running:
            self._clear()
            self.progress.setVisible(True)
            self.status.setText("Starting…")     # not the last run's "done" until the first progress

    def _clear(self) -> None:
        """No results shown: an empty table and chart, nothing to calibrate or save."""
        self.calibrate_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.table.setRowCount(0)
        self._rows = []
        self._predicted_s = []
        self._legend.getLabel(self._predicted).setText("predicted")
        self.progress.setValue(0)
        self.summary.clear()
        self._summary_pane.setVisible(False)
        self._update_chart()

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        self.status.setText(text)

    def add_result(self, r) -> None:
        """One BlockResult, as it streams in."""
        self._rows.append(r)
        self._predicted_s.append(r.predicted_s or None)
        row = self.table.rowCount()
        self.table.insertRow(row)
        roof = f"{r.roofline_pct:.0f}" if r.roofline_pct else "–"
        err = f"{r.rel_error:.1e}" if r.rel_error is not None else "–"
        status = r.status + (f": {r.message}" if r.message and r.status != "ok" else "")
        peak = fmt_bytes(r.peak_memory_bytes) if r.peak_memory_bytes is not None else "–"
        for col, text in enumerate((r.block, str(r.layers), r.phase, r.backend, _time(r.p50_s),
                                    *_prediction_cells(r.predicted_s, r.p50_s), roof, _time(r.p90_s),
                                    _time(r.p99_s), _achieved(r), peak, err, status)):
            item = QTableWidgetItem(text)
            if r.message:
                item.setToolTip(r.message)
            self.table.setItem(row, col, item)
        self._update_chart()

    def show_predictions(self, predicted: list, label: str) -> None:
        """Replace the rows' predictions (e.g. after calibration; one per row, None for none) in
        the table and the chart, whose legend then says ``predicted (label)``."""
        self._predicted_s = list(predicted)
        for row, (r, p) in enumerate(zip(self._rows, self._predicted_s)):
            for col, text in zip((PREDICTED_COL, PREDICTED_COL + 1), _prediction_cells(p, r.p50_s)):
                self.table.item(row, col).setText(text)
        self._legend.getLabel(self._predicted).setText(f"predicted ({label})")
        self._update_chart()

    def shown_predictions(self) -> list:
        return list(self._predicted_s)

    def _update_chart(self) -> None:
        # a log axis shows positive finite times only (a profile file may hold others)
        done = [(r, p) for r, p in zip(self._rows, self._predicted_s) if r.status == "ok" and _plottable(r.p50_s)]
        rows = range(len(done))
        self._measured.setData(x=[r.p50_s for r, _ in done], y=list(rows))
        paired = [(y, r, p) for y, (r, p) in zip(rows, done) if _plottable(p)]
        self._predicted.setData(x=[p for _, _, p in paired], y=[y for y, _, _ in paired])
        self._gaps.setData(x=[t for _, r, p in paired for t in (p, r.p50_s)],
                           y=[y for y, _, _ in paired for _ in (0, 1)])
        self.chart.getAxis("left").setTicks([[(y, _row_label(r)) for y, (r, _) in zip(rows, done)]])
        plot = self.chart.getPlotItem()
        if done:   # one blank row above the first holds the legend
            plot.setYRange(-1.5, len(done) - 0.4, padding=0)
            times = [t for r, p in done for t in (r.p50_s, p) if t and 0 < t < math.inf]
            if times:           # decades, with room for the markers at both ends
                lo, hi = math.log10(min(times)), math.log10(max(times))
                pad = 0.08 * max(hi - lo, 0.5)
                plot.setXRange(lo - pad, hi + pad, padding=0)
        else:                                    # the hint sits in the middle of a blank view
            plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self._hint.setVisible(not done)
        self._legend.setVisible(bool(done))
        for axis in ("left", "bottom"):       # an empty chart shows no meaningless scale
            plot.showAxis(axis, bool(done))

    def show_result(self, result) -> None:
        self.set_running(False)
        self.progress.setValue(1000 if result.status != "cancelled" else self.progress.value())
        self._result, self._whole_predicted, self._calibration_lines = result, None, []
        self._render_summary()
        w = result.whole_model
        self.calibrate_button.setEnabled(result.status == "ok" and w is not None and bool(w.decode_s))
        self.save_button.setEnabled(bool(result.blocks))

    def _render_summary(self) -> None:
        """The run in one line, each backend's whole-model time against the prediction in force
        (calibrated once a fit is shown), the engine's messages, then the calibration's lines."""
        result = self._result
        req = result.request
        head = (f"<b>{req.spec.name}</b>" + (f" on <b>{result.device}</b>" if result.device else ""),
                result.dtype, f"context {req.context:,}", f"batch {req.batch}", f"status {result.status}")
        lines = [" · ".join(part for part in head if part)]
        w = result.whole_model
        whole = result.whole_by_backend or ({w.backend: w} if w is not None else {})
        if whole:
            which = "calibrated prediction" if self._whole_predicted else "predicted"
            lines.append(f"Whole model, extrapolated from one layer of each kind (measured vs {which}):")
        for name, wb in whole.items():
            pre, dec = self._whole_predicted or (wb.predicted_prefill_s, wb.predicted_decode_s)
            parts = []
            if wb.prefill_s:
                parts.append(f"prefill {_versus(wb.prefill_s, pre)}")
            if wb.decode_s:
                parts.append(f"decode {_versus(wb.decode_s, dec, ' per token')}")
            lines.append(f"&nbsp;&nbsp;{name}: " + "; ".join(parts))
        lines += [f"<i>{m}</i>" for m in result.messages[:4]] + self._calibration_lines
        self.summary.setText("<br>".join(lines))
        self._summary_pane.setVisible(True)

    def show_loaded(self, result, source: str) -> None:
        """A saved profile (``source`` names its file), shown as if it had just run."""
        self._clear()
        for r in result.blocks:
            self.add_result(r)
        self.show_result(result)
        self.status.setText(f"Opened {source}: {result.request.spec.name}"
                            + (f" on {result.device}" if result.device else "")
                            + (f", profiled in {result.elapsed_s:.0f} s" if result.elapsed_s else ""))

    def show_failure(self, message: str) -> None:
        self.set_running(False)
        self.status.setText(message)

    def show_calibration(self, text: str, details: list[str] = (), whole_predicted=None) -> None:
        """A fit's description; ``whole_predicted`` (prefill_s, decode_s): the whole model's
        prediction at the fitted efficiencies, which the whole-model lines then compare against."""
        self._calibration_lines = [f"<b>{text}</b>", *details]
        self._whole_predicted = whole_predicted
        self._render_summary()

    def set_theme(self, name: str) -> None:
        self.chart.setBackground("#18191b" if name == "dark" else "w")
