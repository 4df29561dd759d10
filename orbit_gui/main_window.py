"""The main window: wires the document (orbit_gui.document) to the views (widgets/).

Data flow: a knob emits a request -> the document validates and costs it with the engine ->
the document's ``changed`` event -> every view redraws from ``doc.report``. Views never compute.
"""
from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QFrame, QScrollArea,
                               QListWidget, QMainWindow, QMessageBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from models.catalog import FEATURES, PROVENANCE_TEXT, catalog, entry_features
from models.cost import Workload, cost_report
from models.hardware import hardware_db
from models.hf import SUPPORTED_LIST_MARKER
from models.metrics import fmt_bytes, knob_values, metric_rows
from models.spec import SpecError
from orbit_gui import __version__
from orbit_gui.document import Document
from orbit_gui.settings import Settings, save_settings
from orbit_gui.theme import apply_theme
from widgets.browser import ModelBrowser
from widgets.knobs import KnobPanel
from widgets.metrics import MetricsPanel
from widgets.responsive import ResponsiveSplitter
from widgets.steady import SteadyScrollArea, SteadyTabWidget, narrow_combo, steady_scroll_bars

SPEC_FILTER = "Specs and configs (*.json *.toml);;All files (*)"


def _first_size() -> QSize:
    """1500 x 950, or less where the screen is smaller: a laptop's 1366 x 768 must show the whole
    window, title bar and status bar included (its size is saved on close and reused after)."""
    size = QSize(1500, 950)
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry().size()
        size = size.boundedTo(QSize(room.width() * 96 // 100, room.height() * 92 // 100))
    return size


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.settings = settings
        self.doc = Document(Workload(hardware=settings.hardware)
                            if settings.hardware in hardware_db() else None)
        self.setWindowTitle("Orbit Explorer")
        self.setAcceptDrops(True)
        self.resize(_first_size())
        self._unfolded = False
        self._compare_id = ""
        self._charts = None
        self._build_views()
        self._build_menus()
        self.doc.events.changed.connect(self._refresh)
        self.doc.events.source_changed.connect(self._source_changed)
        self.doc.events.rejected.connect(self._rejected)
        self.doc.events.history_changed.connect(self._refresh_history)
        self._restore_geometry()

    # ------------------------------------------------------------------ construction
    def _build_views(self) -> None:
        entries = []
        for e in catalog().values():
            entries.append({"id": e.id, "name": e.name, "organization": e.organization,
                            "family": e.family, "released": e.released, "year": e.year,
                            "has_spec": e.has_spec, "provenance": e.provenance,
                            "features": entry_features(e.id) if e.has_spec else frozenset()})
        self.browser = ModelBrowser(entries, FEATURES)
        self.browser.modelActivated.connect(self.open_catalog)
        dock = QDockWidget("Models", self, objectName="browserDock")
        dock.setWidget(self.browser)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.browser_dock = dock

        hw = [(h.id, h.name) for h in hardware_db().values()]
        self.knobs = KnobPanel(hw)
        self.knobs.editRequested.connect(self._edit)
        self.knobs.workloadRequested.connect(self._edit_workload)
        self.knobs.resetRequested.connect(self._reset)
        self.knobs.shippedRequested.connect(self._use_shipped_formats)
        self.metrics = MetricsPanel()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.knobs)
        side_layout.addWidget(self.metrics)
        scroll = SteadyScrollArea(objectName="sideScroll", widgetResizable=True, fit_width=True)
        scroll.setWidget(side)
        dock = QDockWidget("Knobs and metrics", self, objectName="knobDock")
        dock.setWidget(scroll)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)

        self.history = steady_scroll_bars(QListWidget(objectName="undoHistory"))
        self._history_rows: list[tuple[str, bool]] = []   # what the history list shows
        self.history.itemClicked.connect(self._history_clicked)
        dock = QDockWidget("History", self, objectName="historyDock")
        dock.setWidget(self.history)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)

        self.tabs = SteadyTabWidget(objectName="mainTabs")
        # in a narrow window every tab stays in sight with its name shortened, not behind scroll arrows
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        self.tabs.setUsesScrollButtons(False)
        self.setCentralWidget(self.tabs)
        self._build_architecture_tab()
        self.charts_host = QWidget(objectName="chartsHost")
        QVBoxLayout(self.charts_host).setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(self.charts_host, "Charts")
        self._build_compare_tab()
        self._build_taxonomy_tabs()
        self.profile_host = QWidget(objectName="profileHost")
        QVBoxLayout(self.profile_host).setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(self.profile_host, "Profile")
        for i in range(self.tabs.count()):        # the whole name where a narrow window shortens it
            self.tabs.setTabToolTip(i, self.tabs.tabText(i))
        self.profiler = None
        self._profile_thread = None
        self._profile_worker = None
        self._profile_result = None
        self._profile_calibration = None      # fitted to _profile_result, saved with it
        self.tabs.currentChanged.connect(lambda _i: self._refresh_lazy())
        # Charts and the comparison cost tens of milliseconds to redraw: they follow a burst of
        # knob changes once it settles, so metrics and the diagram repaint at once.
        self._lazy_timer = QTimer(self, singleShot=True, interval=60)
        self._lazy_timer.timeout.connect(self._refresh_lazy)
        self._panel_timer = QTimer(self, singleShot=True, interval=0)
        self._panel_timer.timeout.connect(
            lambda: self.block_panel.show_block(self.diagram.selected_detail()))

        self.status = QLabel(objectName="statusText")
        # as wide as its text where there is room, but never a reason for the window to be wider
        self.status.setMinimumWidth(1)
        self.status.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.statusBar().addPermanentWidget(self.status)
        self.statusBar().showMessage("Open a model from the list, a spec file or a config.json", 5000)

    def _build_architecture_tab(self) -> None:
        from widgets.diagram import ArchitectureView, BlockPropertiesPanel
        self.diagram = ArchitectureView()
        self.block_panel = BlockPropertiesPanel()
        self.diagram.blockSelected.connect(self._block_selected)
        self.diagram.foldToggled.connect(self._fold_toggled)
        # the properties go under the diagram where the two side by side would leave either unreadable
        split = ResponsiveSplitter(560, ((3, 2), (3, 2)), objectName="architectureSplit")
        split.addWidget(self.diagram)
        split.addWidget(self.block_panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.block_panel.setMinimumWidth(240)
        split.setSizes([520, 380])          # the properties readable beside the diagram
        self.tabs.addTab(split, "Architecture")

    def _build_compare_tab(self) -> None:
        page = QWidget(objectName="comparePage")
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare with:"))
        self.compare_box = QComboBox(objectName="compareModel")
        self.compare_box.addItem("its unedited original", "")
        for e in sorted(catalog().values(), key=lambda e: e.name.lower()):
            if e.has_spec:
                self.compare_box.addItem(e.name, e.id)
        # as wide as the page allows, not as the longest model name: the window must fit small screens
        narrow_combo(self.compare_box, 14)
        self.compare_box.currentIndexChanged.connect(self._compare_changed)
        row.addWidget(self.compare_box, 1)
        layout.addLayout(row)
        self.compare_table = QTableWidget(0, 4, objectName="compareTable")
        # the difference reads as the side panel's deltas do: the model shown against the other
        self.compare_table.setHorizontalHeaderLabels(["Figure", "Current", "Compared",
                                                      "Current − compared"])
        self.compare_table.verticalHeader().setVisible(False)
        self.compare_table.verticalHeader().setDefaultSectionSize(22)
        header = self.compare_table.horizontalHeader()   # figures never clipped: the label column gives way
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self._compare_fitted = None
        from widgets.diagram import ArchitectureView
        self.compare_diagrams = (ArchitectureView(), ArchitectureView())
        self.compare_diagrams[0].setObjectName("compareDiagramA")
        self.compare_diagrams[1].setObjectName("compareDiagramB")
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.compare_table)
        pair = ResponsiveSplitter(620, ((1, 1), (1, 1)), objectName="compareDiagrams", stack_from=560)
        pair.addWidget(self.compare_diagrams[0])
        pair.addWidget(self.compare_diagrams[1])
        split.addWidget(pair)
        split.setSizes([340, 560])
        layout.addWidget(split, 1)
        self.tabs.addTab(page, "Compare")
        self.compare_page = page

    def _build_taxonomy_tabs(self) -> None:
        """Orbit, timeline and benchmark views; their graph is built the first time one is shown
        (networkx and the layout stay out of start-up)."""
        self.orbit_host = QWidget(objectName="orbitHost")
        self.timeline_host = QWidget(objectName="timelineHost")
        self.benchmark_host = QWidget(objectName="benchmarkHost")
        for host, title in ((self.orbit_host, "Orbit"), (self.timeline_host, "Timeline"),
                            (self.benchmark_host, "Benchmarks")):
            QVBoxLayout(host).setContentsMargins(0, 0, 0, 0)
            self.tabs.addTab(host, title)
        self.orbit = self.timeline = self.benchmarks = None

    def _ensure_taxonomy_views(self) -> None:
        if self.orbit is not None:
            return
        from models.taxonomy import build_graph
        from widgets.orbit import BenchmarkView, OrbitPanel, TimelineView
        graph = build_graph()
        self.orbit = OrbitPanel(graph)
        self.timeline = TimelineView(graph)
        self.benchmarks = BenchmarkView(graph)
        for view, host in ((self.orbit, self.orbit_host), (self.timeline, self.timeline_host),
                           (self.benchmarks, self.benchmark_host)):
            host.layout().addWidget(view)
            view.set_theme(apply_theme.current)
            view.modelActivated.connect(self._open_from_taxonomy)
        from orbit_gui.export import install_export_menu
        for view, name in ((self.orbit.view, "orbit"), (self.timeline, "timeline"),
                           (self.benchmarks.plot, "benchmarks")):
            install_export_menu(view, lambda v=view, n=name: self.export_diagram_dialog(v, n),
                                "Export view (SVG, PNG, PDF)…")
        self._follow_model_in_orbit()

    def _open_from_taxonomy(self, model_id: str) -> None:
        if self.open_catalog(model_id):
            self.tabs.setCurrentIndex(0)

    def _follow_model_in_orbit(self) -> None:
        """The taxonomy views mark the open catalog model (and nothing for a user's own file)."""
        if self.orbit is None or not self.doc.source:
            return
        current = self.doc.source.ref if self.doc.source.kind == "catalog" else None
        if current is not None:
            self.orbit.select_model(current)
        self.timeline.set_current(current)
        self.benchmarks.set_current(current)

    # ------------------------------------------------------------------ profiling
    def _ensure_profiler(self) -> None:
        if self.profiler is not None:
            return
        import kernels.profiler  # noqa: F401 - loaded with the tab, not while a profile runs
        from orbit_gui.workers import DeviceScanWorker, start_in_thread
        from widgets.profiler import ProfilerPanel
        self.profiler = ProfilerPanel()
        self.profiler.set_theme(apply_theme.current)
        # in a scroll area: the panel's controls need ~590 px, more than a small window leaves
        scroll = QScrollArea(objectName="profileScroll", widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setWidget(self.profiler)
        self.profile_host.layout().addWidget(scroll)
        self.profiler.runRequested.connect(self.start_profile)
        self.profiler.cancelRequested.connect(self.cancel_profile)
        self.profiler.calibrateRequested.connect(self.calibrate_from_profile)
        self.profiler.openRequested.connect(self.open_profile_dialog)
        self.profiler.saveRequested.connect(self.save_profile_dialog)
        scan = DeviceScanWorker()
        scan.found.connect(self.profiler.add_devices)
        self._scan_thread = start_in_thread(scan)
        self._scan_worker = scan

    def start_profile(self, options: dict) -> None:
        if self.doc.spec is None or self._profile_thread is not None:
            return
        from kernels.profiler import ProfileRequest
        from orbit_gui.workers import ProfileWorker, start_in_thread
        request = ProfileRequest(self.doc.spec, device=options["device"], backends=options["backends"],
                                 phases=tuple(options.get("phases", ("prefill", "decode"))),
                                 context=options["context"], batch=options["batch"],
                                 repeats=options["repeats"])
        worker = ProfileWorker(request)
        worker.progress.connect(self.profiler.set_progress)
        worker.blockResult.connect(self.profiler.add_result)
        worker.finished.connect(self._profile_finished)
        worker.failed.connect(self._profile_failed)
        self.profiler.set_running(True)
        self.statusBar().showMessage(f"Profiling {self.doc.spec.name} on {options['device']}…")
        self._profile_worker = worker
        thread = self._profile_thread = start_in_thread(worker)
        thread.finished.connect(lambda: self._profile_thread_done(thread))

    def cancel_profile(self) -> None:
        if self._profile_worker is not None:
            self._profile_worker.cancel()
            self.statusBar().showMessage("Cancelling the profile…", 3000)

    def _profile_finished(self, result) -> None:
        self._profile_thread_done(self._profile_thread)   # its work is over: Run may start the next
        self._profile_result, self._profile_calibration = result, None
        self.profiler.show_result(result)
        self.statusBar().showMessage(f"Profile {result.status}", 5000)

    def _profile_failed(self, message: str) -> None:
        self._profile_thread_done(self._profile_thread)
        self.profiler.show_failure(message)
        self.show_error("Profiling failed", message)

    def _profile_thread_done(self, thread) -> None:
        """Forget the run of ``thread`` (its result is in; the thread itself ends in the workers'
        registry), unless a newer run has started since."""
        if self._profile_thread is thread:
            self._profile_thread = None
            self._profile_worker = None

    def calibrate_from_profile(self) -> None:
        """Fit the efficiencies to the last profile, keep them for this device, and apply them to
        the document when it is costed on the same device (one undoable step)."""
        if self._profile_result is None:
            return
        from kernels.calibration import calibrate, fit_view, save_calibration
        result = self._profile_result
        try:
            cal = calibrate(result)
            view = fit_view(result, cal)
        except ValueError as exc:
            self.show_error("Cannot calibrate", f"{exc}.")
            return
        try:
            save_calibration(cal)
            saved = " (saved)"
        except OSError as exc:
            saved = f" (not saved: {exc.strerror or exc})"
        where = result.hardware_name or result.device or cal.device_key
        text = (f"Calibrated the cost model's device \"{where}\": compute efficiency "
                f"{cal.compute_efficiency:.3f}, memory efficiency {cal.memory_efficiency:.3f}{saved}")
        if result.hardware_id == self.doc.state.workload.hardware:
            from models.hardware import use_measured_bandwidth
            if result.bandwidth_measured and use_measured_bandwidth(result.hardware_id, result.bandwidth):
                self.doc.recost()       # the efficiencies are relative to the measured bandwidth
            self.doc.set_workload("compute_efficiency", cal.compute_efficiency,
                                  memory_efficiency=cal.memory_efficiency)
            text += "; applied to the current predictions"
        else:
            text += "; choose that device in the knobs to use it"
        self._show_fit(cal, text, view)

    def _show_fit(self, cal, text: str, view) -> None:
        """Show ``cal`` on the profile on show (``view``: ``kernels.calibration.fit_view``): each
        block's and the whole model's prediction at its efficiencies, and how the fit went; it is
        saved with the profile from then on."""
        predictions, lines, whole = view
        self._profile_calibration = cal
        self.profiler.show_predictions(predictions, "calibrated")
        self.profiler.show_calibration(text, lines, whole)

    def save_profile_dialog(self) -> None:
        if self._profile_result is None:
            return
        from orbit_gui.export import safe_file_name
        name = safe_file_name(f"{self._profile_result.request.spec.name}-profile")
        path, chosen = QFileDialog.getSaveFileName(self, "Save profile results", name + ".json",
                                                   "Profile, to open again (*.json);;CSV rows (*.csv)")
        if path:
            if Path(path).suffix.lower() not in (".json", ".csv"):
                path += ".csv" if ".csv" in chosen else ".json"
            self.save_profile_to(path)

    def save_profile_to(self, path: str) -> bool:
        from kernels.profile_io import save_profile
        try:
            save_profile(self._profile_result, path, self._profile_calibration)
        except OSError as exc:
            self.show_error("Cannot save the profile", f"{path}\n\n{exc.strerror or exc}")
            return False
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def open_profile_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open profile results", "", "Profile (*.json)")
        if path:
            self.open_profile(path)

    def open_profile(self, path: str) -> bool:
        """Show a saved profile (from the panel or ``orbit-explorer profile --json``) in the panel.
        Its model is found in the catalog, else it must be the open document's; a file that cannot
        be read says why and leaves the panel as it was."""
        from kernels.calibration import fit_view
        from kernels.profile_io import (ProfileFileError, model_name, read_profile, result_from_data,
                                        saved_calibration)
        from models.catalog import find
        if self._profile_thread is not None:
            self.show_error("Cannot open a profile", "A profile is running; cancel it or let it finish first.")
            return False
        try:
            data = read_profile(path)
            name = model_name(data)
            if self.doc.spec is not None and self.doc.spec.name == name:
                spec = self.doc.spec
            else:
                try:
                    spec = find(name).spec()
                except (KeyError, SpecError):
                    raise ProfileFileError(f"{Path(path).name} profiles {name!r}, which is neither in the "
                                           f"catalog nor the open model; open that model first") from None
            result = result_from_data(data, spec)
            saved = saved_calibration(data)
            # everything shown is computed first, so a file that fails leaves the panel as it was
            view = fit_view(result, saved) if saved is not None else None
        except ProfileFileError as exc:
            self.show_error("Cannot open the profile", str(exc))
            return False
        except ValueError as exc:
            self.show_error("Cannot open the profile", f"{Path(path).name}: its calibration cannot be shown: {exc}.")
            return False
        self._ensure_profiler()
        self._profile_result, self._profile_calibration = result, None
        self.profiler.show_loaded(result, Path(path).name)
        if saved is not None:               # the fit saved with the profile is shown as it was
            self._show_fit(saved, f"Calibration saved with this profile: compute efficiency "
                                  f"{saved.compute_efficiency:.3f}, memory efficiency {saved.memory_efficiency:.3f}",
                           view)
        self.tabs.setCurrentWidget(self.profile_host)
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open spec or config…", QKeySequence.Open, self.open_dialog, "actionOpen")
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.setObjectName("recentMenu")
        self._action(file, "&Save spec as…", QKeySequence.Save, self.save_dialog, "actionSave")
        export = file.addMenu("&Export")
        export.setObjectName("exportMenu")
        self._action(export, "Export &diagram (SVG, PNG, PDF)…", QKeySequence("Ctrl+E"),
                     self.export_diagram_dialog, "actionExportDiagram")
        self._action(export, "Export &chart (SVG, PNG, PDF)…", None, self.export_chart_dialog,
                     "actionExportChart")
        self._action(export, "Export &report (JSON, CSV, Markdown)…", QKeySequence("Ctrl+Shift+E"),
                     self.export_report_dialog, "actionExportReport")
        from orbit_gui.export import install_export_menu
        install_export_menu(self.diagram, self.export_diagram_dialog, "Export diagram…",
                            extra=[("Fit diagram", self.diagram.fit)])
        file.addSeparator()
        self._action(file, "&Quit", QKeySequence.Quit, self.close, "actionQuit")
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", QKeySequence.Undo, self._undo, "actionUndo")
        self.redo_action = self._action(edit, "&Redo", None, self._redo, "actionRedo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self._action(edit, "Reset to &original", QKeySequence("Ctrl+R"), self._reset, "actionReset")
        self._action(edit, "&Find model", QKeySequence.Find, self._focus_search, "actionFind")
        view = bar.addMenu("&View")
        self._action(view, "&Fit diagram", QKeySequence("F"), lambda: self.diagram.fit(), "actionFit")
        self.unfold_action = self._action(view, "&Unfold layers", QKeySequence("Ctrl+U"),
                                          self._toggle_unfold, "actionUnfold")
        self.unfold_action.setCheckable(True)
        theme = view.addMenu("&Theme")
        for name in ("system", "light", "dark"):
            act = self._action(theme, name.capitalize(), None, lambda n=name: self.set_theme(n),
                               f"actionTheme{name.capitalize()}")
            act.setCheckable(True)
            act.setChecked(self.settings.theme == name)
        help_ = bar.addMenu("&Help")
        self._action(help_, "&About Orbit Explorer", None, self.about, "actionAbout")
        self._update_recent_menu()

    def _action(self, menu, text, shortcut, slot, name) -> QAction:
        action = QAction(text, self, objectName=name)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    # ------------------------------------------------------------------ opening and saving
    def open_catalog(self, model_id: str) -> bool:
        self.knobs.flush()      # a knob change still in its debounce belongs to the model it was made on
        try:
            self.doc.open_catalog(model_id)
        except SpecError as exc:
            self.show_error("Cannot open this model", str(exc))
            return False
        return True

    def open_path(self, path: str) -> bool:
        self.knobs.flush()
        try:
            self.doc.open_file(path)
        except SpecError as exc:
            message = str(exc)          # (a file that is not JSON names itself already)
            self.show_error("Cannot open this file", message if str(path) in message else f"{path}\n\n{message}")
            return False
        self.settings.add_recent(self.doc.source.ref)
        self._update_recent_menu()
        return True

    def open_model(self, text: str) -> bool:
        """A catalog id or a path (command line, recent files, last session)."""
        if Path(text).exists():
            return self.open_path(text)
        return self.open_catalog(text)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open spec or config.json", "", SPEC_FILTER)
        if path:
            self.open_path(path)

    def save_dialog(self) -> None:
        if self.doc.spec is None:
            return
        default = self._export_name() + ".json"
        path, _ = QFileDialog.getSaveFileName(self, "Save spec", default,
                                              "JSON spec (*.json);;TOML spec (*.toml)")
        if path:
            self.save_to(path)

    def save_to(self, path: str) -> bool:
        try:
            self.doc.save_spec(path)
        except (SpecError, OSError) as exc:
            self.show_error("Cannot save the spec", f"{path}\n\n{exc}")
            return False
        self.settings.add_recent(str(Path(path).resolve()))
        self._update_recent_menu()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    # ------------------------------------------------------------------ export
    def _export_name(self, suffix: str = "") -> str:
        """'Qwen3_0.6B-report': the model's name made safe for a file name, as every export names it."""
        from orbit_gui.export import safe_file_name
        name = self.doc.spec.name if self.doc.spec is not None else "model"
        return safe_file_name(f"{name}-{suffix}" if suffix else name)

    def _current_view(self):
        """The diagram on show: the orbit graph, the timeline, the benchmark plot, or (on any
        other tab) the architecture diagram; with its name."""
        current = self.tabs.currentWidget()
        if self.orbit is not None:
            for host, view, name in ((self.orbit_host, self.orbit.view, "orbit"),
                                     (self.timeline_host, self.timeline, "timeline"),
                                     (self.benchmark_host, self.benchmarks.plot, "benchmarks")):
                if current is host:
                    return view, name
        return self.diagram, ""

    def export_diagram_dialog(self, view=None, name: str = "") -> None:
        from orbit_gui.export import export_dialog
        if self.doc.spec is None:
            return
        if view is None:
            view, name = self._current_view()
        title = f"{self.doc.spec.name}: {name}" if name else self.doc.spec.name
        path = export_dialog(self, view, self._export_name(name), title=title)
        if path:
            self.statusBar().showMessage(f"Exported {path}", 4000)

    def _chart_widget(self):
        """The chart on show (built on demand): a plot, or a tab holding two plots."""
        if self.doc.report is None:
            return None
        if self._charts is None:
            self._refresh_charts()
        return self._charts.currentWidget()

    def export_chart_dialog(self, plot=None) -> None:
        from orbit_gui.export import export_dialog
        widget = plot if plot is not None else self._chart_widget()
        if widget is None:
            return
        name = widget.objectName().replace("Chart", "").replace("Tab", "") or "chart"
        path = export_dialog(self, widget, self._export_name(name),
                             title=f"{self.doc.spec.name}: {name}")
        if path:
            self.statusBar().showMessage(f"Exported {path}", 4000)

    def export_report_to(self, path: str) -> bool:
        """Write the current model's report (spec, edits, workload, every figure); the
        extension picks JSON, CSV or Markdown."""
        from orbit_gui.report_export import build_report, write_report
        if self.doc.spec is None:
            return False
        try:
            data = build_report(self.doc.spec, self.doc.state.workload, self.doc.state.edits,
                                source=self.doc.source.label, report=self.doc.report,
                                baseline=self.doc.baseline_report if self.doc.state.edits else None)
            write_report(data, path)
        except (SpecError, OSError) as exc:
            self.show_error("Cannot export the report", str(exc))
            return False
        self.statusBar().showMessage(f"Exported {path}", 4000)
        return True

    def export_report_dialog(self) -> None:
        if self.doc.spec is None:
            return
        filters = "JSON (*.json);;CSV (*.csv);;Markdown (*.md)"
        path, chosen = QFileDialog.getSaveFileName(self, "Export report",
                                                   self._export_name("report") + ".json", filters)
        if path:
            if Path(path).suffix.lower() not in (".json", ".csv", ".md"):
                path += next((e for e in (".json", ".csv", ".md") if e in chosen), ".json")
            self.export_report_to(path)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
                break

    # ------------------------------------------------------------------ editing
    def _edit(self, key: str, value) -> None:
        self.knobs.show_error(key, None)
        self.doc.set_knob(key, value)

    def _edit_workload(self, key: str, value) -> None:
        self.knobs.show_error(key, None)
        self.doc.set_workload(key, value)

    def _rejected(self, key: str, message: str) -> None:
        self.knobs.show_error(key, message)
        self.statusBar().showMessage(f"Not applied: {message}", 6000)
        self._sync_knobs()      # the control goes back to the value in force

    def _undo(self) -> None:
        self.knobs.flush()
        self.doc.undo()

    def _redo(self) -> None:
        self.knobs.flush()
        self.doc.redo()

    def _reset(self) -> None:
        self.knobs.flush()
        self.doc.reset()

    def _history_clicked(self, item) -> None:
        target = self.history.row(item)
        before = self.doc.history()
        self.knobs.flush()      # else the pending edit would land after the jump and drop the redo steps
        if self.doc.history() != before and target > before[1]:
            return              # the clicked step was redoable, and the pending edit replaced it
        self.doc.go_to(target)

    def _focus_search(self) -> None:
        self.browser_dock.show()
        self.browser.search.setFocus()
        self.browser.search.selectAll()

    def _toggle_unfold(self) -> None:
        self._unfolded = self.unfold_action.isChecked()
        self._refresh_diagram()

    def _fold_toggled(self, unfolded: bool) -> None:
        """The view folded or unfolded itself (double-click, U): remember it for later redraws."""
        self._unfolded = unfolded
        self.unfold_action.setChecked(unfolded)

    # ------------------------------------------------------------------ redrawing
    def _source_changed(self) -> None:
        """Another model is shown: opened, or brought back by undo or redo."""
        source = self.doc.source
        if source.kind in ("catalog", "file"):     # the next launch opens the model shown last
            self.settings.last_model = f"{source.kind}:{source.ref}"
        self.knobs.clear_errors()
        self.statusBar().clearMessage()            # an earlier model's refusal no longer applies
        self.setWindowTitle(f"{self.doc.source.label} — Orbit Explorer")
        self._follow_model_in_orbit()
        QTimer.singleShot(0, self.diagram.fit_readable)
        if self.doc.source.kind == "catalog":      # say when figures are not from a config.json
            note = PROVENANCE_TEXT[catalog()[self.doc.source.ref].provenance]
            if note:
                self.statusBar().showMessage(f"{self.doc.source.label}: {note}", 8000)

    def _sync_knobs(self) -> None:
        if self.doc.spec is not None:
            self.knobs.set_values(knob_values(self.doc.spec), self.doc.state.workload)
            shipped = self.doc.shipped
            self.knobs.set_shipped(shipped.source if shipped else None)

    def _use_shipped_formats(self) -> None:
        self.knobs.flush()
        message = self.doc.use_shipped_formats()
        if message:
            self.statusBar().showMessage(f"Not applied: {message}", 6000)

    def _refresh(self) -> None:
        r = self.doc.report
        if r is None:
            return
        self._sync_knobs()
        self.knobs.clear_errors()       # a refusal beside a knob is about the model before this change
        base = self.doc.baseline_report if self.doc.state.edits else None
        m = r.memory
        n = r.workload.devices
        parts = [("weights", m.weights / n), ("kv", m.kv_cache / n), ("activations", m.activations / n),
                 ("reserve", m.reserve / n)]
        fits_text = (f"Fits: {fmt_bytes(m.per_device)} of {fmt_bytes(r.hardware.memory_bytes)} per device"
                     if m.fits else
                     f"Does not fit: {fmt_bytes(m.per_device)} needed, {fmt_bytes(r.hardware.memory_bytes)} per device")
        self.metrics.set_rows(metric_rows(r, base), m.fits, parts, r.hardware.memory_bytes, fits_text)
        edited = " (edited)" if self.doc.state.edits else ""
        self._set_status(f"{self.doc.spec.name}{edited} · {r.spec.num_layers} layers · "
                            f"{n} × {r.hardware.name} · {'fits' if m.fits else 'does not fit'}")
        self.undo_action.setEnabled(self.doc.can_undo)
        self.redo_action.setEnabled(self.doc.can_redo)
        self._refresh_diagram()
        self._lazy_timer.start()

    def _set_status(self, text: str) -> None:
        if self.status.text() != text:
            self.status.setText(text)

    def _refresh_diagram(self) -> None:
        if self.doc.spec is None:
            return
        from models.diagram import diagram_model
        self._diagram_model = diagram_model(self.doc.spec, self.doc.report, unfold=self._unfolded)
        self.diagram.set_model(self._diagram_model)
        # The side panel's wrapped formula table is the costliest widget to lay out and paint:
        # it follows on the next idle turn, after the metrics and the diagram have repainted.
        self._panel_timer.start()

    def _refresh_lazy(self) -> None:
        """Charts and the comparison are drawn only while their tab is visible."""
        if self.doc.report is None:
            return
        current = self.tabs.currentWidget()
        if current is self.profile_host:
            self._ensure_profiler()
        elif current in (self.orbit_host, self.timeline_host, self.benchmark_host):
            self._ensure_taxonomy_views()
        elif current is self.charts_host:
            self._refresh_charts()
        elif current is self.compare_page:
            self._refresh_compare()

    def _compare_report(self):
        if not self._compare_id:
            return self.doc.baseline_report
        try:
            return cost_report(catalog()[self._compare_id].spec(), self.doc.state.workload)
        except SpecError as exc:
            self.statusBar().showMessage(f"Cannot compare: {exc}", 6000)
            return None

    def _refresh_charts(self) -> None:
        from models.charts import chart_data
        if self._charts is None:
            from widgets.charts import ChartsPanel
            self._charts = ChartsPanel()
            self._charts.set_theme(self._theme_name())
            self.charts_host.layout().addWidget(self._charts)
            from orbit_gui.export import install_export_menu
            for plot in self._charts.plots:
                install_export_menu(plot, lambda p=plot: self.export_chart_dialog(p),
                                    "Export chart (SVG, PNG, PDF)…")
        r = self.doc.report
        mine, theirs = self._pair_suffixes()
        primary = chart_data(self.doc.spec, r.workload, r, name=self.doc.spec.name + mine)
        other = None
        if self._compare_id or self.doc.state.edits:
            b = self._compare_report()
            if b is not None:
                other = chart_data(b.spec, b.workload, b, name=b.spec.name + theirs)
        self._charts.set_data(primary, other)

    def _pair_suffixes(self) -> tuple[str, str]:
        """What tells the current model from what it is compared with where both carry one name:
        an edited model beside its original (or beside its own catalog entry)."""
        edited = " (edited)" if self.doc.state.edits else ""
        return edited, " (original)" if edited and not self._compare_id else ""

    def _compare_changed(self) -> None:
        self._compare_id = self.compare_box.currentData() or ""
        self._refresh_lazy()

    def _refresh_compare(self) -> None:
        a = self.doc.report
        b = self._compare_report()
        if b is None:
            return
        rows_a = metric_rows(a, b)
        rows_b = {row.key: row for row in metric_rows(b)}
        self.compare_table.setRowCount(len(rows_a))
        for i, row in enumerate(rows_a):
            other = rows_b[row.key]
            # a latency of a model that does not fit is what it would take if it did, as in the side panel
            cells = (row.label, row.text + (" (if it fit)" if row.hypothetical else ""),
                     other.text + (" (if it fit)" if other.hypothetical else ""), row.delta_text or "same")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(row.tooltip if j != 2 else other.tooltip)
                self.compare_table.setItem(i, j, item)
        from models.diagram import diagram_model
        for view, report, suffix in zip(self.compare_diagrams, (a, b), self._pair_suffixes()):
            model = diagram_model(report.spec, report)
            view.set_model(dataclasses.replace(model, name=model.name + suffix) if suffix else model)
        pair = (a.spec.name, b.spec.name, self.compare_box.currentIndex())
        if pair != self._compare_fitted:     # a new pair: readable start; an edit keeps the zoom
            self._compare_fitted = pair
            for view in self.compare_diagrams:
                view.fit_readable()

    def _refresh_history(self) -> None:
        labels, current = self.doc.history()
        rows = [(label, i > current) for i, label in enumerate(labels)]   # (text, undone and redoable)
        shown = self._history_rows
        h = self.history
        # Touch only rows that changed, compared in Python: reading every item back from Qt made
        # each edit cost time in proportion to the length of the history.
        while h.count() > len(rows):
            h.takeItem(h.count() - 1)
        del shown[len(rows):]
        for i, (label, redoable) in enumerate(rows):
            if i < len(shown) and shown[i] == (label, redoable):
                continue
            item = h.item(i)
            if item is None:
                h.addItem(label)
                item = h.item(i)
            else:
                item.setText(label)
            # undone steps grey; the rest follow the palette, so a theme switch recolours them
            item.setData(Qt.ForegroundRole, QColor("#8a8d91") if redoable else None)
            shown[i:i + 1] = [(label, redoable)]
        if h.currentRow() != current:
            h.setCurrentRow(current)

    def _block_selected(self, name: str) -> None:
        detail = self._diagram_model.blocks.get(name) if hasattr(self, "_diagram_model") else None
        if detail is not None:
            self.block_panel.show_block(detail)

    # ------------------------------------------------------------------ theme, about, errors
    def _theme_name(self) -> str:
        return apply_theme.current

    def set_theme(self, name: str) -> None:
        self.settings.theme = name
        for act in self.findChildren(QAction):
            if act.objectName().startswith("actionTheme"):
                act.setChecked(act.objectName() == f"actionTheme{name.capitalize()}")
        resolved = apply_theme(name)
        self.diagram.set_theme(resolved)
        for view in self.compare_diagrams:
            view.set_theme(resolved)
        if self._charts is not None:
            self._charts.set_theme(resolved)
        for view in (self.orbit, self.timeline, self.benchmarks, self.profiler):
            if view is not None:
                view.set_theme(resolved)

    def about(self) -> None:
        import platform
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle("About Orbit Explorer")
        box.setText(f"<b>Orbit Explorer {__version__}</b><br>Design, size and profile large "
                    "language models.<br><br>"
                    f"Python {platform.python_version()} · Qt {qVersion()} · PySide6 {pyside_version}<br>"
                    f"Catalog: {len(catalog())} models · Hardware: {len(hardware_db())} devices<br>"
                    "Taxonomy after LLMOrbit (arXiv 2601.14053).")
        box.open()

    def show_error(self, title: str, message: str) -> None:
        """A window-modal message naming the problem; never a traceback, never blocking tests.
        A list of the supported model types goes to the details, behind a button."""
        head, marker, listed = message.partition(SUPPORTED_LIST_MARKER)
        if marker:
            types = listed.split(", ")
            message = f"{head}\n\n{len(types)} model types are supported: see Show Details."
        box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, self)
        box.setObjectName("errorDialog")
        if marker:
            box.setDetailedText("\n".join(types))
        box.open()
        self.statusBar().showMessage(f"{title}: {(head if marker else message).splitlines()[-1]}", 8000)

    # ------------------------------------------------------------------ geometry
    def _restore_geometry(self) -> None:
        """A damaged saved layout is ignored: the window opens at its default size."""
        for text, restore in ((self.settings.geometry, self.restoreGeometry),
                              (self.settings.window_state, self.restoreState)):
            if text:
                try:
                    restore(QByteArray(base64.b64decode(text, validate=True)))
                except ValueError:                  # binascii.Error: not base64
                    pass

    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.geometry = base64.b64encode(bytes(self.saveGeometry())).decode("ascii")
        self.settings.window_state = base64.b64encode(bytes(self.saveState())).decode("ascii")
        self.settings.hardware = self.doc.state.workload.hardware
        save_settings(self.settings)
        from orbit_gui.workers import stop_workers
        stop_workers()             # never leave a thread (or a profiler process) running behind
        super().closeEvent(event)
