"""Profiling in a child process, speaking JSON lines.

The GUI runs profiles here rather than in one of its own threads: importing torch, exporting to
ONNX and building sessions hold Python's GIL for 100 ms and more at a time, which would freeze the
window; a separate interpreter cannot. A crash in a kernel also ends this process, not the app.

stdin:  one JSON object {"spec": <spec dict>, "request": {device, backends, context, batch,
        repeats, ...}}, then optionally the line "cancel".
stdout: {"type": "progress", "fraction", "text"} | {"type": "block", "data": BlockResult dict}
        | {"type": "result", "data": ProfileResult dict} | {"type": "error", "message"}
"""
from __future__ import annotations

import json
import sys
import threading

REQUEST_KEYS = ("device", "backends", "context", "batch", "dtype", "repeats", "warmup",
                "max_seconds", "phases", "check_error", "include_head", "weights", "threads")


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    cancel = threading.Event()
    try:
        first = json.loads(sys.stdin.readline())
        from kernels.profiler import Profiler, ProfileRequest
        from models.spec import ModelSpec
        spec = ModelSpec.from_dict(first["spec"])
        options = {k: v for k, v in first.get("request", {}).items() if k in REQUEST_KEYS}
        for key in ("backends", "phases"):
            if key in options:
                options[key] = tuple(options[key])
        request = ProfileRequest(spec, **options)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a message
        _emit({"type": "error", "message": f"bad profile request: {exc}"})
        return 2

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                cancel.set()
        cancel.set()            # the parent went away: stop

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        result = Profiler(request).run(
            progress=lambda f, t: _emit({"type": "progress", "fraction": float(f), "text": str(t)}),
            should_cancel=cancel.is_set,
            on_result=lambda r: _emit({"type": "block", "data": r.to_dict()}))
    except Exception as exc:  # noqa: BLE001
        _emit({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    _emit({"type": "result", "data": result.to_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
