"""Long work off the GUI thread (napari-style workers): a profile runs in a child process driven
by a QThread, streams each block's result as a signal, reports progress, and honours Cancel
between and inside timing loops. The window never imports torch."""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal


# Seconds a cancelled child process may take to reach its next stopping point before it is ended:
# an ONNX export or a session build cannot stop halfway (gpt-oss-20b's layer exports for ~40 s).
CANCEL_GRACE_S = 3.0


class ProfileWorker(QObject):
    """Runs a profile in a child Python process (kernels.profile_process) and relays its JSON
    lines as signals. This thread only waits on a pipe, so the GUI thread keeps the GIL: importing
    torch or exporting ONNX in the child cannot freeze the window. Cancel asks the child to stop
    and, past ``CANCEL_GRACE_S``, ends it; the results streamed so far make the cancelled result."""

    progress = Signal(float, str)
    blockResult = Signal(object)      # kernels.profiler.BlockResult
    finished = Signal(object)         # kernels.profiler.ProfileResult
    failed = Signal(str)

    def __init__(self, request) -> None:
        super().__init__()
        self.request = request
        self._cancel = threading.Event()
        self._proc = None

    def cancel(self) -> None:
        self._cancel.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write("cancel\n")
                proc.stdin.flush()
            except (OSError, ValueError):
                pass
            timer = threading.Timer(CANCEL_GRACE_S, _kill, (proc,))
            timer.daemon = True
            timer.start()

    def stop(self) -> None:
        """End now (the window is closing): cancel, and end the child process outright."""
        self._cancel.set()
        _kill(self._proc)

    def _command(self) -> tuple[list[str], dict]:
        import kernels
        root = str(Path(kernels.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        return [sys.executable, "-m", "kernels.profile_process"], env

    def run(self) -> None:
        if getattr(sys, "frozen", False):        # a bundle cannot start `python -m`
            return self._run_here()
        r = self.request
        payload = {"spec": r.spec.to_dict(), "request": {
            "device": r.device, "backends": list(r.backends), "context": r.context, "batch": r.batch,
            "dtype": r.dtype, "repeats": r.repeats, "warmup": r.warmup, "max_seconds": r.max_seconds,
            "phases": list(r.phases), "weights": r.weights, "threads": r.threads}}
        cmd, env = self._command()
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, env=env, bufsize=1)
        except OSError as exc:
            self.failed.emit(f"cannot start the profiler process: {exc}")
            return
        proc = self._proc
        proc.stdin.write(json.dumps(payload) + "\n")
        proc.stdin.flush()
        if self._cancel.is_set():
            self.cancel()
        from kernels.profiler import BlockResult, ProfileResult
        result = None
        received: list = []
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            kind = msg.get("type")
            if kind == "progress":
                self.progress.emit(msg["fraction"], msg["text"])
            elif kind == "block":
                received.append(BlockResult.from_dict(msg["data"]))
                self.blockResult.emit(received[-1])
            elif kind == "result":
                result = ProfileResult.from_dict(msg["data"], self.request)
            elif kind == "error":
                self.failed.emit(f"profiling stopped: {msg.get('message')}")
                proc.wait()
                return
        code = proc.wait()
        if result is None and self._cancel.is_set():     # ended at the end of the grace period
            result = ProfileResult(self.request, status="cancelled", blocks=received, messages=[
                f"cancelled: the profiler process was ended after {CANCEL_GRACE_S:g} s inside a step "
                f"that cannot stop halfway (an ONNX export, a session build or a long timing)"])
        if result is not None:
            self.finished.emit(result)
        else:
            tail = (proc.stderr.read() or "").strip().splitlines()[-1:] or [f"exit status {code}"]
            self.failed.emit(f"the profiler process ended without a result: {tail[0]}")

    def _run_here(self) -> None:
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


_SCAN = """
import json
out = []
try:
    import torch
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append([f"cuda:{i}", f"cuda:{i} \u2014 {p.name}, {p.total_memory / 2**30:.0f} GiB, "
                        f"CUDA {torch.version.cuda}"])
except Exception:
    pass
print(json.dumps(out))
"""


class DeviceScanWorker(QObject):
    """Lists CUDA devices (name, memory, CUDA version). torch is imported in a child process:
    importing it in one of the GUI's threads would hold the GIL long enough to freeze the window."""

    found = Signal(list)              # [(device string, label)]

    def __init__(self) -> None:
        super().__init__()
        self._proc = None

    def run(self) -> None:
        devices = []
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", _SCAN], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True)
            out, _ = self._proc.communicate(timeout=120)
            devices = [tuple(d) for d in json.loads(out.strip().splitlines()[-1])]
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            _kill(self._proc)         # no torch or no driver: the CPU remains
        self.found.emit(devices)

    def stop(self) -> None:
        _kill(self._proc)


def _kill(proc) -> None:
    if proc is not None and proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass


# Running (thread, worker) pairs. Threads have no QObject parent: a window deleted while its
# worker runs must not take a running QThread with it (Qt aborts the process on that).
_LIVE: dict[int, tuple[QThread, QObject]] = {}


def start_in_thread(worker: QObject) -> QThread:
    """Move ``worker`` to a new thread, start ``worker.run`` there, clean up when it ends.
    The pair stays in a registry until then, so that ``stop_workers`` can end it."""
    thread = QThread()
    key = id(thread)
    _LIVE[key] = (thread, worker)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    for name in ("finished", "failed", "found"):
        signal = getattr(worker, name, None)
        if signal is not None:
            signal.connect(thread.quit)
    def done() -> None:
        thread.wait()          # finished is emitted just before the thread ends: let it end
        _LIVE.pop(key, None)
    thread.finished.connect(done)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread


def stop_workers(timeout_ms: int = 10_000) -> None:
    """End every running worker (their child processes are killed) and wait for the threads."""
    for thread, worker in list(_LIVE.values()):
        stop = getattr(worker, "stop", None)
        if stop is not None:
            stop()
        thread.quit()
        thread.wait(timeout_ms)


atexit.register(stop_workers)
