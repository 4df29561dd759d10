"""The open document: which model, the user's edits, the workload, and their undo history.

Opening a model is a step of that history like any edit: Undo after opening another model brings
back the one before, with its edits, so nothing the user did is lost to a stray double-click.

Pure Python (no Qt), in the spirit of napari's model layer: views subscribe to ``events`` and
redraw from ``doc.spec`` / ``doc.report``. Every edit is validated by the engine before it is
applied; a rejected edit leaves the document exactly as it was and reports why.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from models.catalog import find
from models.cost import CostReport, Workload, cost_report
from models.hf.checkpoint import ShippedFormats, shipped_formats
from models.overrides import apply_overrides
from models.spec import ModelSpec, SpecError
from models.spec_io import config_name, load_source, save_spec

# History entries name settings as the knobs do, not by their keys ("KV heads = 4", not "kv_heads = 4")
EDIT_NAMES = {"attention": "Attention", "kv_heads": "KV heads", "window": "Window", "local_global": "Local:global",
              "layers": "Layers", "experts": "Experts", "top_k": "Top-k", "shared_experts": "Shared experts",
              "index_topk": "Sparse top-k", "kv_shared_layers": "KV-shared layers",
              "weights": "Weights", "expert_weights": "Expert weights", "embeddings": "Embeddings",
              "kv": "KV cache", "activations": "Activations", "group_size": "Group size",
              "context": "Context", "batch": "Batch", "hardware": "Device", "devices": "Devices",
              "compute_efficiency": "Compute efficiency", "memory_efficiency": "Memory efficiency"}


def rejection_text(exc: SpecError) -> str:
    """Why an edit was refused, naming the setting as its knob does ("KV heads: heads (32) must be
    divisible by kv_heads (3)") rather than by its path in the spec ("blocks.full+dense.mixers[0].kv_heads")."""
    leaf = exc.field.rsplit(".", 1)[-1].split("[", 1)[0] if exc.field else ""
    name = EDIT_NAMES.get(leaf)
    return f"{name}: {exc.rule}" if name else str(exc)


def edit_label(key: str, value: Any) -> str:
    """'KV heads = 4', 'Device = NVIDIA H100 SXM5 80GB', 'Memory efficiency = 0.295'."""
    if key == "hardware":
        from models.hardware import get_hardware
        try:
            value = get_hardware(str(value)).name
        except SpecError:
            pass
    shown = f"{value:.3g}" if isinstance(value, float) else str(value)
    if key == "expert_weights" and not value:
        shown = "as weights"
    return f"{EDIT_NAMES.get(key, key)} = {shown}"


class Emitter:
    """A minimal signal: ``connect(callback)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass
class DocumentEvents:
    changed: Emitter = field(default_factory=Emitter)          # spec, workload or source changed
    source_changed: Emitter = field(default_factory=Emitter)   # a different model was opened
    rejected: Emitter = field(default_factory=Emitter)         # (key, message): an edit refused
    history_changed: Emitter = field(default_factory=Emitter)


@dataclass(frozen=True)
class Source:
    kind: str            # "catalog" | "file"
    ref: str             # catalog id or absolute path
    label: str


@dataclass(frozen=True, eq=False)
class Opened:
    """A model as opened. Compared by identity: each opening is its own step, and the spec (which
    holds dicts) needs no hashing to key the cache of its reports."""

    source: Source
    spec: ModelSpec
    shipped: ShippedFormats | None = None     # the checkpoint's formats, where its config.json says


@dataclass(frozen=True)
class State:
    """Everything undoable: the opened model, the knob edits replayed in order on it, and the
    workload."""

    edits: tuple[tuple[str, str], ...] = ()
    workload: Workload = Workload()
    model: Opened | None = None

    def with_edit(self, key: str, value: str) -> "State":
        """The edit made on the model as it stands: appended to the list."""
        return dataclasses.replace(self, edits=self.edits + ((key, value),))

    def with_edit_replacing(self, key: str, value: str) -> "State":
        """The same edit with the key's earlier edits dropped: a shorter list, which gives the same
        model only when no edit in between depended on the earlier value."""
        edits = tuple((k, v) for k, v in self.edits if k != key) + ((key, value),)
        return dataclasses.replace(self, edits=edits)

    def with_last_edit_replaced(self, key: str, value: str) -> "State":
        """The edit replacing the last one when that was of the same key."""
        if self.edits and self.edits[-1][0] == key:
            return dataclasses.replace(self, edits=self.edits[:-1] + ((key, value),))
        return self.with_edit(key, value)


WORKLOAD_KEYS = ("context", "batch", "weights", "expert_weights", "embeddings", "kv", "activations",
                 "group_size", "hardware", "devices", "position", "compute_efficiency", "memory_efficiency")


class Document:
    def __init__(self, workload: Workload | None = None) -> None:
        self.events = DocumentEvents()
        self.state = State(workload=workload or Workload())
        self.spec: ModelSpec | None = None
        self.report: CostReport | None = None
        self.baseline_report: CostReport | None = None
        self._baselines: dict[tuple[Opened, Workload], CostReport] = {}
        self._undo: list[tuple[str, State]] = []
        self._redo: list[tuple[str, State]] = []

    # ---- opening
    def open_catalog(self, model_id: str) -> None:
        entry = find(model_id)
        self._open(entry.spec(), Source("catalog", entry.id, entry.name), entry.hf_config)

    def open_file(self, path: str | Path) -> None:
        p = Path(path).resolve()
        spec, config = load_source(p)
        self._open(spec, Source("file", str(p), p.name if p.name != "config.json" else config_name(p)), config)

    @property
    def shipped(self) -> ShippedFormats | None:
        """How the opened model's checkpoint is stored, where its config.json says."""
        return self.state.model.shipped if self.state.model else None

    def use_shipped_formats(self) -> str | None:
        """Set the workload's weight formats to the checkpoint's (one undo step); a message when
        the model's config states none."""
        shipped = self.shipped
        if shipped is None:
            return "this model's config states no checkpoint format"
        workload = dataclasses.replace(self.state.workload, **shipped.workload_changes())
        label = f"Weights as shipped: {shipped.weights}" + (f", experts {shipped.expert_weights}"
                                                             if shipped.expert_weights else "")
        return self._commit(dataclasses.replace(self.state, workload=workload), label, "weights")

    def open_spec(self, spec: ModelSpec, label: str | None = None) -> None:
        self._open(spec, Source("spec", spec.name, label or spec.name))

    @property
    def source(self) -> Source | None:
        return self.state.model.source if self.state.model else None

    @property
    def base_spec(self) -> ModelSpec | None:
        """The model as opened, before the edits."""
        return self.state.model.spec if self.state.model else None

    def _open(self, spec: ModelSpec, source: Source, config: dict | None = None) -> None:
        """Costs the new model before switching (raising SpecError), so a model that cannot be
        costed on this workload leaves the current one in place. Opening the model shown, unedited
        and unchanged on disk, is no step."""
        if (self.source == source and self.base_spec == spec and not self.state.edits):
            return
        state = State(workload=self.state.workload,
                      model=Opened(source, spec, shipped_formats(config) if config else None))
        report = cost_report(spec, state.workload)
        self._baselines[state.model, state.workload] = report
        if self.state.model is None:        # the first model is where the history starts
            self._set(state, spec, report, report)
        else:
            self._push(state, "open " + source.label, spec, report, report)

    # ---- editing
    def set_knob(self, key: str, value: Any) -> str | None:
        """Apply a spec edit; returns None, or the reason it was refused."""
        if self.base_spec is None:
            return "no model is open"
        exact = self.state.with_edit(key, str(value))
        # Keep a shorter list when it replays to the same model: the key's earlier edits dropped,
        # else its edit just before replaced (a spin box stepped several times). Replaying the
        # shorter list can differ or fail (top-k 1, experts 4, then top-k 2: without "top-k 1"
        # first, the opened model's top-k 8 meets 4 experts) while the edit on the model shown is valid.
        try:
            target = self._spec_of(exact)
        except SpecError:
            target = None                      # refused below, with the reason
        shorter = (self.state.with_edit_replacing(key, str(value)),
                   self.state.with_last_edit_replaced(key, str(value)))
        for short in shorter if target is not None else ():
            if short == exact:
                continue
            try:
                if self._spec_of(short) == target:
                    exact = short
                    break
            except SpecError:
                pass
        return self._commit(exact, edit_label(key, value), key, target)

    def set_workload(self, key: str, value: Any, **more: Any) -> str | None:
        """Change workload settings (several at once, as one undo step, with ``more``)."""
        if more:
            changes = {key: value, **more}
            if any(k not in WORKLOAD_KEYS for k in changes):
                return f"unknown workload setting in {sorted(changes)}"
            try:
                workload = dataclasses.replace(self.state.workload, **changes)
            except TypeError as exc:
                return str(exc)
            label = ", ".join(edit_label(k, v) for k, v in changes.items())
            return self._commit(dataclasses.replace(self.state, workload=workload), label, key)
        if key not in WORKLOAD_KEYS:
            return f"unknown workload setting {key!r}"
        if getattr(self.state.workload, key) == value:
            return None
        try:
            workload = dataclasses.replace(self.state.workload, **{key: value})
        except TypeError as exc:
            return str(exc)
        new = dataclasses.replace(self.state, workload=workload)
        return self._commit(new, edit_label(key, value), key)

    def _spec_of(self, state: State) -> ModelSpec:
        assert state.model is not None
        return apply_overrides(state.model.spec, list(state.edits))

    def _evaluate(self, state: State, spec: ModelSpec | None = None) -> tuple[ModelSpec, CostReport, CostReport]:
        """``spec``: the state's spec when the caller has just built it."""
        spec = spec if spec is not None else self._spec_of(state)
        report = cost_report(spec, state.workload)
        key = (state.model, state.workload)
        baseline = self._baselines.get(key)
        if baseline is None:
            if len(self._baselines) >= 256:          # a long drag over contexts: keep memory bounded
                self._baselines.clear()
            baseline = self._baselines[key] = cost_report(state.model.spec, state.workload)
        return spec, report, baseline

    def _commit(self, new: State, label: str, key: str, spec: ModelSpec | None = None) -> str | None:
        if new == self.state:
            return None
        try:
            spec, report, baseline = self._evaluate(new, spec)
        except SpecError as exc:
            reason = rejection_text(exc)
            self.events.rejected.emit(key, reason)
            return reason
        self._push(new, label, spec, report, baseline)
        return None

    def _push(self, state: State, label: str, spec: ModelSpec, report: CostReport,
              baseline: CostReport) -> None:
        self._undo.append((label, self.state))
        self._redo.clear()
        self._set(state, spec, report, baseline)

    def _set(self, state: State, spec: ModelSpec, report: CostReport, baseline: CostReport) -> None:
        other_model = state.model is not self.state.model
        self.state, self.spec, self.report, self.baseline_report = state, spec, report, baseline
        if other_model:
            self.events.source_changed.emit()
        self.events.history_changed.emit()
        self.events.changed.emit()

    def recost(self) -> None:
        """Cost the current state again after the hardware figures changed (a measured bandwidth):
        the cached reports of the unedited models are dropped."""
        self._baselines.clear()
        if self.state.model is not None:
            self._set(self.state, *self._evaluate(self.state))

    # ---- history
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def history(self) -> tuple[list[str], int]:
        """Labels of every step (the first is the first model opened) and the index of the current one."""
        first = self._undo[0][1] if self._undo else self.state
        labels = ["open " + (first.model.source.label if first.model else "")]
        labels += [label for label, _ in self._undo]
        current = len(labels) - 1
        labels += [label for label, _ in reversed(self._redo)]
        return labels, current

    def undo(self) -> None:
        self.go_to(len(self._undo) - 1)

    def redo(self) -> None:
        self.go_to(len(self._undo) + 1)

    def go_to(self, step: int) -> None:
        """Undo or redo to ``step`` of ``history()`` (the current step is ``len(self._undo)``) at
        once: one evaluation and one change event, however far the jump (step by step, a jump over
        hundreds of steps redrew each of them)."""
        step = max(0, min(step, len(self._undo) + len(self._redo)))
        if step == len(self._undo):
            return
        state = self.state
        while len(self._undo) > step:
            label, previous = self._undo.pop()
            self._redo.append((label, state))
            state = previous
        while len(self._undo) < step:
            label, following = self._redo.pop()
            self._undo.append((label, state))
            state = following
        self._set(state, *self._evaluate(state))

    def reset(self) -> None:
        """Back to the model as opened (undoable)."""
        if self.state.edits:
            self._commit(dataclasses.replace(self.state, edits=()), "reset to original", "reset")

    # ---- saving
    def save_spec(self, path: str | Path) -> None:
        if self.spec is None:
            raise SpecError("", "no model is open")
        save_spec(self.spec, path)
