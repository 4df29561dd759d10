"""Long work off the GUI thread (napari-style workers): profiling runs in a QThread, streams each
block's result as a signal, reports progress, and honours Cancel between and inside timing loops.
torch is imported inside the thread, so the window never waits for it."""
from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal


class ProfileWorker(QObject):
    progress = Signal(float, str)
    blockResult = Signal(object)      # kernels.profiler.BlockResult
    finished = Signal(object)         # kernels.profiler.ProfileResult
    failed = Signal(str)

    def __init__(self, request) -> None:
        super().__init__()
        self.request = request
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            from kernels.profiler import Profiler
            result = Profiler(self.request).run(
                progress=lambda fraction, text: self.progress.emit(float(fraction), str(text)),
                should_cancel=self._cancel.is_set,
                on_result=self.blockResult.emit)
        except Exception as exc:  # noqa: BLE001 - a message, never a crash of the app
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self.failed.emit(f"profiling stopped: {detail}")
            return
        self.finished.emit(result)


class DeviceScanWorker(QObject):
    """Lists CUDA devices (name, memory, driver) without blocking the window on importing torch."""

    found = Signal(list)              # [(device string, label)]

    def run(self) -> None:
        devices = []
        try:
            import torch
            if torch.cuda.is_available():
                driver = ""
                try:
                    driver = torch.cuda.get_device_properties(0).name and torch.version.cuda or ""
                except Exception:  # noqa: BLE001
                    pass
                for i in range(torch.cuda.device_count()):
                    p = torch.cuda.get_device_properties(i)
                    devices.append((f"cuda:{i}", f"cuda:{i} — {p.name}, {p.total_memory / 2**30:.0f} GiB"
                                    + (f", CUDA {driver}" if driver else "")))
        except Exception:  # noqa: BLE001 - no torch or no driver: the CPU remains
            pass
        self.found.emit(devices)


def start_in_thread(worker: QObject, parent: QObject) -> QThread:
    """Move ``worker`` to a new thread, start ``worker.run`` there, clean up when it ends."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    for name in ("finished", "failed", "found"):
        signal = getattr(worker, name, None)
        if signal is not None:
            signal.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread
