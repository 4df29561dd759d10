"""The knob panel: edits to the current model and its workload.

It never applies anything itself: it emits ``editRequested(key, value)`` (spec edits) and
``workloadRequested(key, value)``; the owner asks the document, and shows a refusal beside the
control with ``show_error``. Bursts of changes (spin-box arrows held down, slider drags) are
debounced: only the latest value of each control is sent, never a queue of stale ones.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from models.dtypes import KV_DTYPES
from widgets.steady import narrow_combo

# how heads share K/V, or which mixer; the attention span (full or sliding) is the local:global
# knob's, so this box never shows one axis while the other was just changed
ATTENTION_KINDS = ("mha", "gqa", "mqa", "mla", "linear", "ssm")
WEIGHT_FORMATS = ("fp32", "bf16", "fp16", "fp8", "int8", "int4", "nf4", "fp4", "ternary")
AS_WEIGHTS = "as weights"             # the expert-weights box's "no format of their own"
ACT_FORMATS = ("fp32", "bf16", "fp16", "fp8")
GROUP_SIZES = (32, 64, 128, 256)
DEBOUNCE_MS = 120


class _HistoryKeys(QObject):
    """Lets Undo and Redo reach the window's actions while a knob's text field has focus: a line
    edit claims those keys for its own text, and the user's Ctrl+Z meant the edit just applied."""

    KEYS = (QKeySequence.Undo, QKeySequence.Redo)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.ShortcutOverride and any(event.matches(k) for k in self.KEYS):
            event.ignore()          # not claimed: the shortcut goes to the window's action
            return True
        return False


class KnobPanel(QWidget):
    editRequested = Signal(str, object)
    workloadRequested = Signal(str, object)
    resetRequested = Signal()
    shippedRequested = Signal()       # the weight formats the checkpoint ships in

    def __init__(self, hardware: list[tuple[str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("knobPanel")
        self._pending: dict[str, tuple[str, object]] = {}
        self._local_global_shown = ""      # the ratio in force, shown again when the field is cleared
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._flush)
        self._errors: dict[str, QLabel] = {}
        self._names: dict[str, str] = {}          # key -> the label of its row
        self._updating = False
        layout = QVBoxLayout(self)

        model = QGroupBox("Model")
        form = QFormLayout(model)
        self.attention = self._combo("attentionKind", ATTENTION_KINDS)
        self.kv_heads = self._spin("kvHeads", 1, 1024)
        self.window = self._spin("window", 1, 1 << 22)
        self.local_global = QLineEdit(objectName="localGlobal", placeholderText="e.g. 5:1, 1:0")
        self.layers = self._spin("layers", 1, 4096)
        self.experts = self._spin("experts", 1, 4096)
        self.top_k = self._spin("topK", 1, 256)
        self.shared = self._spin("sharedExperts", 0, 64)
        self.index_topk = self._spin("sparseTopK", 1, 1 << 22)
        self.kv_shared = self._spin("kvSharedLayers", 0, 4095)
        self.image_tokens = self._spin("imageTokens", 1, 1 << 20)
        self.window.setToolTip("Sliding-window size; to add windows to a model without them, "
                               "set a local:global ratio (1:0 makes every attention layer local)")
        self._row(form, "Attention", self.attention, "attention",
                  "MHA: one KV head per query head; GQA: groups share KV heads; MQA: one KV head; "
                  "MLA: cache a latent (DeepSeek); linear: Gated DeltaNet; ssm: Mamba-2. "
                  "Sliding windows: the Local:global knob")
        self._row(form, "KV heads", self.kv_heads, "kv_heads", "KV heads of every attention layer")
        self._row(form, "Window", self.window, "window", "Sliding-window size of local layers (tokens)")
        self._row(form, "Local:global", self.local_global, "local_global",
                  "Attention layers re-laid as local (sliding) : global (full), e.g. Gemma 3's 5:1; "
                  "1:0 makes every one local, 0:1 every one global")
        self._row(form, "Layers", self.layers, "layers", "Decoder layers (the pattern repeats)")
        self._row(form, "Experts", self.experts, "experts", "Routed experts per MoE layer")
        self._row(form, "Top-k", self.top_k, "top_k", "Routed experts per token")
        self._row(form, "Shared experts", self.shared, "shared_experts", "Always-on experts")
        self._row(form, "Sparse top-k", self.index_topk, "index_topk",
                  "DeepSeek Sparse Attention: the keys each query reads, chosen by the lightning indexer "
                  "(DeepSeek-V3.2, GLM-5)")
        self._row(form, "KV-shared layers", self.kv_shared, "kv_shared_layers",
                  "The last N layers read the keys and values of the last earlier layer of their kind "
                  "(Gemma 3n/4): no K/V projections and no cache of their own; 0: every layer caches")
        self._row(form, "Image tokens", self.image_tokens, "image_tokens",
                  "The image's tokens the cross-attention layers attend to (Llama 3.2 Vision: tiles x "
                  "(patches + 1), 4 x 1,601); their keys and values are cached whatever the context")
        self.reset = QPushButton("Reset to original", objectName="resetButton")
        self.reset.clicked.connect(self.resetRequested)
        form.addRow(self.reset)
        layout.addWidget(model)

        run = QGroupBox("Workload")
        form = QFormLayout(run)
        self.weights = self._combo("weightsDtype", WEIGHT_FORMATS)
        self.expert_weights = self._combo("expertWeightsDtype", (AS_WEIGHTS,) + WEIGHT_FORMATS)
        self.kv = self._combo("kvDtype", KV_DTYPES)
        self.activations = self._combo("activationsDtype", ACT_FORMATS)
        self.group = self._combo("groupSize", tuple(str(g) for g in GROUP_SIZES))
        self.context = self._spin("context", 1, 1 << 24)
        self.context_slider = QSlider(Qt.Horizontal, objectName="contextSlider", minimum=7, maximum=21)
        self.batch = self._spin("batch", 1, 1 << 16)
        self.hardware = narrow_combo(QComboBox(objectName="hardware"), 16)
        for hw_id, name in hardware:
            self.hardware.addItem(name, hw_id)
        self.devices = self._spin("devices", 1, 1024)
        self._row(form, "Weights", self.weights, "weights", "Weight-matrix format (with group metadata)", True)
        self._row(form, "Expert weights", self.expert_weights, "expert_weights",
                  "The routed experts' own weight format, as gpt-oss ships them (MXFP4 experts beside "
                  "bf16 attention) or an offloading stack quantizes them; MoE models only", True)
        self._row(form, "KV cache", self.kv, "kv", "KV-cache and state format", True)
        self._row(form, "Activations", self.activations, "activations", "Activation / compute format", True)
        self._row(form, "Group size", self.group, "group_size", "Quantization group (int4/int8)", True)
        self._row(form, "Context", self.context, "context", "Prompt tokens per sequence", True)
        form.addRow("", self.context_slider)
        self._row(form, "Batch", self.batch, "batch", "Sequences decoded together", True)
        self._row(form, "Device", self.hardware, "hardware", "Datasheet peaks and bandwidth", True)
        self._row(form, "Devices", self.devices, "devices", "Tensor-parallel devices", True)
        self.as_shipped = QPushButton("Weights as shipped", objectName="asShippedButton", enabled=False)
        self.as_shipped.clicked.connect(self.shippedRequested)
        form.addRow(self.as_shipped)
        layout.addWidget(run)
        layout.addStretch(1)
        self._wire()

    # ---- construction helpers
    def _combo(self, name: str, items) -> QComboBox:
        box = narrow_combo(QComboBox(objectName=name))
        box.addItems(list(items))
        return box

    def _spin(self, name: str, lo: int, hi: int) -> QSpinBox:
        box = QSpinBox(objectName=name, minimum=lo, maximum=hi, keyboardTracking=False)
        box.setAccelerated(True)
        box.setProperty("lowest", lo)
        return box

    @staticmethod
    def _show_optional(spin: QSpinBox, value) -> None:
        """A knob that does not apply to this model shows "—" and is disabled."""
        # Each setter re-lays out and repaints the box: only call the ones that change something.
        special, lowest = ("—", spin.property("lowest") - 1) if value is None else ("", spin.property("lowest"))
        if spin.specialValueText() != special:
            spin.setSpecialValueText(special)
        if spin.minimum() != lowest:
            spin.setMinimum(lowest)
        target = lowest if value is None else int(value)
        if target > spin.maximum():   # a spec file may go past the usual range: show it, never clamp
            spin.setMaximum(target)
        if spin.value() != target:
            spin.setValue(target)
        if spin.isEnabled() != (value is not None):
            spin.setEnabled(value is not None)

    def _row(self, form: QFormLayout, label: str, widget, key: str, tip: str, workload=False) -> None:
        widget.setToolTip(tip)
        error = QLabel(objectName=f"{widget.objectName()}Error", wordWrap=True)
        error.setStyleSheet("color: #e5534b;")     # a red that reads on the light and the dark theme
        error.hide()
        self._errors[key] = error
        self._names[key] = label
        box = QWidget()
        inner = QVBoxLayout(box)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(widget)
        inner.addWidget(error)
        form.addRow(label, box)
        widget.setProperty("knobKey", key)
        widget.setProperty("workload", workload)

    def _wire(self) -> None:
        self._history_keys = _HistoryKeys(self)
        for combo in (self.attention, self.weights, self.expert_weights, self.kv, self.activations, self.group,
                      self.hardware):
            combo.currentIndexChanged.connect(lambda _i, c=combo: self._changed(c, self._combo_value(c)))
        for spin in (self.kv_heads, self.window, self.layers, self.experts, self.top_k, self.shared,
                     self.index_topk, self.kv_shared, self.image_tokens, self.context, self.batch, self.devices):
            spin.valueChanged.connect(lambda v, s=spin: self._changed(s, v))
            spin.installEventFilter(self._history_keys)      # keys reach the spin box, which has focus
        self.local_global.installEventFilter(self._history_keys)
        self.local_global.editingFinished.connect(self._local_global_finished)
        self.context_slider.valueChanged.connect(self._slider_moved)

    def _local_global_finished(self) -> None:
        text = self.local_global.text().strip()
        if not text:                  # a cleared field changes nothing: show the ratio in force again
            self.local_global.setText(self._local_global_shown)
            return
        self._changed(self.local_global, text)

    def _combo_value(self, combo: QComboBox):
        if combo is self.hardware:
            return combo.currentData()
        if combo is self.group:
            return int(combo.currentText())
        if combo is self.expert_weights and combo.currentText() == AS_WEIGHTS:
            return ""                   # (the workload's "as the other weights")
        return combo.currentText()

    def _slider_moved(self, exponent: int) -> None:
        if not self._updating:
            self.context.setValue(1 << exponent)

    # ---- debounced emission
    def _changed(self, widget, value) -> None:
        if self._updating or value is None or (value == "" and widget is not self.expert_weights):
            return
        key = widget.property("knobKey")
        self._pending[key] = (("workload" if widget.property("workload") else "spec"), value)
        self._timer.start()

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for key, (kind, value) in pending.items():
            (self.workloadRequested if kind == "workload" else self.editRequested).emit(key, value)

    def flush(self) -> None:
        """Send pending changes now (tests, and before undo)."""
        self._timer.stop()
        self._flush()

    # ---- showing state
    def set_shipped(self, description: str | None) -> None:
        """What the opened model's checkpoint ships in (None: its config does not say)."""
        self.as_shipped.setEnabled(description is not None)
        self.as_shipped.setToolTip(f"Set the weight formats to the checkpoint's: {description}" if description
                                   else "This model's config.json states no checkpoint format")

    def show_error(self, key: str, message: str | None) -> None:
        label = self._errors.get(key)
        if label is None:
            return
        prefix = f"{self._names.get(key)}: "
        if message and message.startswith(prefix):      # beside the knob, its name goes without saying
            message = message[len(prefix):]
        label.setText(message or "")
        label.setVisible(bool(message))

    def clear_errors(self) -> None:
        for label in self._errors.values():
            if not label.isHidden():     # hiding relays out the form: only labels on show
                label.hide()

    def set_values(self, values: dict, workload) -> None:
        """Show the document's current values without emitting anything."""
        self._updating = True
        try:
            if self.attention.currentText() != str(values.get("attention", "")):
                self.attention.setCurrentText(str(values.get("attention", "")))
            if self.attention.isEnabled() != (values.get("attention") != "none"):
                self.attention.setEnabled(values.get("attention") != "none")
            for spin, key in ((self.kv_heads, "kv_heads"), (self.window, "window"),
                              (self.layers, "layers"), (self.experts, "experts"),
                              (self.top_k, "top_k"), (self.shared, "shared_experts"),
                              (self.index_topk, "index_topk"), (self.kv_shared, "kv_shared_layers"),
                              (self.image_tokens, "image_tokens")):
                self._show_optional(spin, values.get(key))
            self.experts.setSingleStep(int(values.get("experts_step") or 1))
            self._local_global_shown = values.get("local_global") or ""
            if self.local_global.text() != self._local_global_shown:
                self.local_global.setText(self._local_global_shown)
            self.weights.setCurrentText(workload.weights)
            self.expert_weights.setCurrentText(workload.expert_weights or AS_WEIGHTS)
            self.expert_weights.setEnabled(values.get("experts") is not None)
            self.kv.setCurrentText(workload.kv)
            self.activations.setCurrentText(workload.activations)
            self.group.setCurrentText(str(workload.group_size))
            self.context.setValue(workload.context)
            self.context_slider.setValue(max(7, min(21, workload.context.bit_length() - 1)))
            self.batch.setValue(workload.batch)
            index = self.hardware.findData(workload.hardware)
            if index >= 0:
                self.hardware.setCurrentIndex(index)
            self.devices.setValue(workload.devices)
        finally:
            self._updating = False
