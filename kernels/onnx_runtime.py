"""ONNX Runtime for the profiled blocks: export a torch block to ONNX, open an InferenceSession on
the best execution provider that really loads (TensorRT, CUDA, CPU), run it with IO binding on
the GPU, and say in one plain sentence why a provider was not used.

``onnxruntime.get_available_providers()`` lists the providers the wheel was *built* with: the GPU
wheel lists CUDA and TensorRT even when libcudnn / libcublas / libnvinfer are missing, and the
session then silently falls back to the CPU after printing a screen of logs. So ``make_session``
creates the session, checks ``session.get_providers()``, and, when a provider did not load,
finds the reason itself by loading that provider's shared library (the OSError names the missing
library), with ORT's own logger turned down. Before that, CUDA and cuDNN are preloaded from
NVIDIA's pip packages where they exist (a CUDA build of torch installs them), so the CUDA provider
works without a system-wide CUDA install whenever torch's CUDA does.

onnx, onnxruntime and torch are imported inside the functions: importing this module is free.
"""
from __future__ import annotations

import contextlib
import functools
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

# Opset 17, chosen deliberately: it is the newest opset whose every op both the TorchScript
# exporter and ONNX Runtime's CPU, CUDA and TensorRT (8.6+) providers implement; it has
# LayerNormalization as one op (new in 17) and scaled_dot_product_attention exports from 14 on.
# Opset 18 only moves the Reduce* ops' axes from attributes to inputs (no gain for these blocks)
# and narrows the TensorRT versions that accept the graph. RMSNorm is written out in the blocks
# (RMSNormalization only arrives in opset 23).
OPSET = 17

DEFAULT_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")

_SHORT = {"TensorrtExecutionProvider": "TensorRT", "CUDAExecutionProvider": "CUDA",
          "CPUExecutionProvider": "CPU", "ROCMExecutionProvider": "ROCm",
          "CoreMLExecutionProvider": "CoreML", "DmlExecutionProvider": "DirectML"}
_PROVIDER_LIBS = {"CUDAExecutionProvider": "onnxruntime_providers_cuda",
                  "TensorrtExecutionProvider": "onnxruntime_providers_tensorrt",
                  "ROCMExecutionProvider": "onnxruntime_providers_rocm"}


class OnnxRuntimeError(RuntimeError):
    """An export or ONNX Runtime failure, with a message naming the file and the cause."""


def short_name(provider: str) -> str:
    return _SHORT.get(provider, provider.replace("ExecutionProvider", ""))


# --------------------------------------------------------------------------- export

@dataclass
class ExportInfo:
    path: Path
    exporter: str                  # "torchscript" (torch.onnx.export(dynamo=False)) or "dynamo"
    opset: int
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _dynamic_axes(names: Sequence[str], tensors: Sequence[Any]) -> dict[str, dict[int, str]]:
    """Batch (dim 0) and sequence (dim 1) are dynamic for every input and output of rank >= 2."""
    axes = {}
    for name, t in zip(names, tensors):
        nd = getattr(t, "ndim", 0)
        if nd >= 2:
            axes[name] = {0: "batch", 1: "seq"}
        elif nd == 1:
            axes[name] = {0: "batch"}
    return axes


def export_block(module, example_inputs, path, dynamic: bool = True, *, opset: int = OPSET,
                 exporter: str = "torchscript", input_names: Sequence[str] | None = None,
                 output_names: Sequence[str] | None = None) -> ExportInfo:
    """Export ``module(*example_inputs)`` (the prefill path) to ``path``.

    ``exporter``: "torchscript" (the default: ``torch.onnx.export(..., dynamo=False)``), "dynamo"
    (torch.export-based; needs the ``onnxscript`` package, which this project does not depend on,
    and cannot trace the MoE block's data-dependent routing without rewriting it), or "auto"
    (dynamo, then torchscript if it fails). The TorchScript exporter is used because it works on
    torch 2.3 to 2.13 without extra packages and records the MoE routing as NonZero/Gather ops,
    so the exported graph routes each input afresh. ``dynamic`` marks batch and sequence dynamic.
    """
    import torch

    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    with torch.no_grad():
        out = module(*example_inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    input_names = list(input_names or (["x"] if len(example_inputs) == 1 else
                                       [f"input_{i}" for i in range(len(example_inputs))]))
    output_names = list(output_names or (["y"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]))
    axes = {**_dynamic_axes(input_names, example_inputs), **_dynamic_axes(output_names, outs)} if dynamic else {}
    notes: list[str] = []

    order = {"torchscript": ["torchscript"], "dynamo": ["dynamo"], "auto": ["dynamo", "torchscript"]}
    if exporter not in order:
        raise ValueError(f"exporter must be torchscript, dynamo or auto; got {exporter!r}")
    last_error: Exception | None = None
    for which in order[exporter]:
        try:
            with warnings.catch_warnings(), torch.no_grad(), contextlib.ExitStack() as apart:
                for m in [m for m in module.modules() if hasattr(m, "experts_apart")]:
                    apart.enter_context(m.experts_apart())      # MoE: one initializer per expert
                warnings.simplefilter("ignore")          # the TorchScript exporter's deprecation notice
                if which == "dynamo":
                    import onnxscript  # noqa: F401  (the dynamo exporter's dependency)
                    shapes = None
                    if dynamic:
                        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
                        shapes = tuple({0: batch, 1: seq} if t.ndim >= 2 else None for t in example_inputs)
                    torch.onnx.export(module, example_inputs, str(path), dynamo=True, opset_version=opset,
                                      input_names=input_names, output_names=output_names,
                                      dynamic_shapes=shapes, external_data=False)
                else:
                    torch.onnx.export(module, example_inputs, str(path), dynamo=False, opset_version=opset,
                                      input_names=input_names, output_names=output_names,
                                      dynamic_axes=axes or None, do_constant_folding=True)
            return ExportInfo(path, which, opset, input_names, output_names, axes, notes)
        except Exception as exc:  # noqa: BLE001 - reported, then the next exporter is tried
            last_error = exc
            notes.append(f"{which} exporter failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    raise OnnxRuntimeError(f"could not export {type(module).__name__} to {path}: {'; '.join(notes)}") from last_error


# --------------------------------------------------------------------------- providers and sessions

def _quiet_ort():
    import onnxruntime as ort

    ort.set_default_logger_severity(3)       # errors only from ORT's default logger ...
    return ort


def available_providers() -> list[str]:
    """Providers this onnxruntime build lists (not a promise that they load; see make_session)."""
    try:
        ort = _quiet_ort()
    except ImportError:
        return []
    return list(ort.get_available_providers())


@functools.lru_cache(maxsize=1)
def preload_cuda_libraries() -> str:
    """Load CUDA and cuDNN from NVIDIA's pip packages, if installed, for the GPU providers
    (``onnxruntime.preload_dlls``, ORT >= 1.21). Once per process; what it prints about libraries it
    did not find is returned rather than shown (the provider check then names what is missing)."""
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return ""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            preload()
        except Exception as exc:  # noqa: BLE001 - a failed preload only means the libraries are not there
            print(f"preload_dlls failed: {exc}")
    return printed.getvalue()


def provider_load_error(provider: str) -> str | None:
    """Why ``provider``'s shared library cannot be loaded (the dynamic loader's words, e.g.
    "libcudnn.so.9: cannot open shared object file"), or None when it loads or has no library."""
    import ctypes
    import sys

    lib = _PROVIDER_LIBS.get(provider)
    if lib is None:
        return None
    import onnxruntime as ort

    if provider != "ROCMExecutionProvider":
        preload_cuda_libraries()

    capi = Path(ort.__file__).parent / "capi"
    ext = ".dll" if sys.platform == "win32" else ".so"
    prefix = "" if sys.platform == "win32" else "lib"
    target = capi / f"{prefix}{lib}{ext}"
    if not target.exists():
        return f"{target.name} is not part of this onnxruntime build"
    try:
        shared = capi / f"{prefix}onnxruntime_providers_shared{ext}"
        if shared.exists():
            ctypes.CDLL(str(shared), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
        ctypes.CDLL(str(target))
    except OSError as exc:
        return str(exc).split(": cannot open")[0].strip() + " missing" if "cannot open" in str(exc) else str(exc)
    return None


def _provider_options(provider: str, device_id: int, compute_stream: int | None = None) -> dict:
    """ORT's options for ``provider``. ``compute_stream`` (a raw cudaStream_t, e.g. torch's
    ``current_stream().cuda_stream``) makes the CUDA and TensorRT providers run on that stream, so
    torch's writes to bound inputs and ORT's reads of them are ordered with no host synchronisation;
    on its own stream ORT could read an input before torch's pending write of it has landed."""
    if provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider"):
        opts: dict = {"device_id": device_id}
        if compute_stream is not None and provider != "ROCMExecutionProvider":
            opts["user_compute_stream"] = str(compute_stream)
        return opts
    return {}


def _open(ort, path: Path, providers: list[str], device_id: int, threads: int | None,
          compute_stream: int | None = None):
    """InferenceSession with ORT's logging turned down; returns (session, what ORT printed)."""
    so = ort.SessionOptions()
    # This session's logger: fatal only. A failed run is raised with the same text, which the
    # caller turns into one message; at "errors" ORT also printed it, in colour, to stderr.
    so.log_severity_level = 4
    if threads:
        so.intra_op_num_threads = threads
    opts = [(p, _provider_options(p, device_id, compute_stream)) for p in providers]
    printed = io.StringIO()
    # A provider that fails to initialise is logged at ERROR level by the default logger and
    # announced with print() ("EP Error ... Falling back"); both are captured and turned into
    # one message by the caller. Severity 4 (fatal) only while the providers are being set up.
    ort.set_default_logger_severity(4)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
            warnings.simplefilter("ignore")  # "Specified provider ... is not in available provider names"
            session = ort.InferenceSession(str(path), sess_options=so, providers=opts)
    finally:
        ort.set_default_logger_severity(3)
    return session, printed.getvalue()


def make_session(path, prefer: Sequence[str] = DEFAULT_PREFERENCE, *, device_id: int = 0,
                 threads: int | None = None, compute_stream: int | None = None):
    """Open ``path`` on the first provider of ``prefer`` that really loads.

    Returns (session, messages): messages say, one sentence each, why a preferred provider that
    this build lists was not used ("CUDA execution provider unavailable: libcublasLt.so.13
    missing; using CPU"). Providers the build does not list are skipped without a message.
    Raises OnnxRuntimeError naming the file when the model cannot be loaded at all.
    ``compute_stream``: run a GPU provider on this CUDA stream (see ``_provider_options``).
    """
    path = Path(path)
    if not path.is_file():
        raise OnnxRuntimeError(f"ONNX model {path} does not exist")
    try:
        ort = _quiet_ort()
    except ImportError as exc:
        raise OnnxRuntimeError(f"cannot open {path}: onnxruntime is not installed ({exc})") from exc
    listed = set(ort.get_available_providers())
    candidates = [p for p in prefer if p in listed]
    if "CPUExecutionProvider" not in candidates and "CPUExecutionProvider" in listed:
        candidates.append("CPUExecutionProvider")
    failed: list[tuple[str, str]] = []
    usable = []
    for provider in candidates:              # a provider whose library cannot load is never tried
        why = provider_load_error(provider)
        if why:
            failed.append((provider, why))
        else:
            usable.append(provider)
    for i, provider in enumerate(usable):
        fallbacks = [p for p in usable[i + 1:] if p != "TensorrtExecutionProvider"]
        try:
            session, printed = _open(ort, path, [provider] + fallbacks, device_id, threads, compute_stream)
        except Exception as exc:  # noqa: BLE001 - classified below
            text = str(exc)
            if _is_model_error(text) or provider == "CPUExecutionProvider":
                raise OnnxRuntimeError(f"ONNX Runtime cannot load {path}: {_first_line(text)}") from exc
            failed.append((provider, _first_line(text)))
            continue
        got = session.get_providers()
        if got and got[0] == provider:
            chosen = short_name(provider)
            messages = [f"{short_name(p)} execution provider unavailable: {why}; using {chosen}"
                        for p, why in failed]
            return session, messages
        failed.append((provider, _ep_error(printed) or "it did not initialise on this machine "
                                                        "(no usable device or driver)"))
    reasons = "; ".join(f"{short_name(p)}: {why}" for p, why in failed) or "no execution provider is listed"
    raise OnnxRuntimeError(f"no execution provider could run {path} ({reasons})")


def _ep_error(printed: str) -> str:
    """The cause in ORT's "EP Error <cause> when using [...]" fallback notice, if any."""
    for line in printed.splitlines():
        if line.startswith("EP Error"):
            cause = line[len("EP Error"):].split(" when using")[0].strip()
            return cause.split("] ")[-1] if "] " in cause else cause
    return ""


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else "unknown error"


def _is_model_error(text: str) -> bool:
    """A failure of the model file itself (rather than of one provider)."""
    markers = ("INVALID_PROTOBUF", "Protobuf parsing failed", "INVALID_GRAPH", "NO_MODEL",
               "Load model from", "model_path must not be empty", "ModelProto does not have a graph")
    return any(m in text for m in markers)


# --------------------------------------------------------------------------- running

def session_device(session) -> str:
    """"cuda" when the session's first provider runs on an NVIDIA GPU, else "cpu"."""
    first = session.get_providers()[0]
    return "cuda" if first in ("CUDAExecutionProvider", "TensorrtExecutionProvider") else "cpu"


def run_io_binding(session, inputs: dict, device: str = "cpu", *, device_id: int = 0) -> list:
    """Run ``session`` on ``inputs`` (name -> torch tensor or numpy array).

    On CUDA: inputs are bound where they live (a CUDA torch tensor by its data pointer, zero
    copy; anything else copied to the GPU once), outputs are allocated by ORT on the GPU, and come
    back as numpy arrays (timing loops bind their outputs too: ``bound_run``). On the CPU: a plain ``session.run``. Errors become OnnxRuntimeError.
    """
    import numpy as np

    ort = _quiet_ort()
    try:
        if device != "cuda" or session_device(session) != "cuda":
            feeds = {k: _to_numpy(v) for k, v in inputs.items()}
            return session.run(None, feeds)
        binding = session.io_binding()
        keep_alive = []
        for name, value in inputs.items():
            if _is_cuda_tensor(value):
                value = value.contiguous()
                keep_alive.append(value)
                bind_tensor(binding, name, value)
            else:
                ov = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(_to_numpy(value)), "cuda", device_id)
                keep_alive.append(ov)
                binding.bind_ortvalue_input(name, ov)
        for out in session.get_outputs():
            binding.bind_output(out.name, "cuda", device_id)
        session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()
    except OnnxRuntimeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise OnnxRuntimeError(run_error_message(str(exc), device)) from exc


def bind_tensor(binding, name: str, tensor, *, output: bool = False) -> None:
    """Bind a contiguous torch tensor (CPU or CUDA) as input or output ``name`` by its data pointer:
    ORT reads or writes it in place. The caller keeps the tensor alive while the binding is used."""
    if not tensor.is_contiguous():
        raise OnnxRuntimeError(f"{name}: IO binding needs a contiguous tensor")
    where = "cuda" if _is_cuda_tensor(tensor) else "cpu"
    dev = (tensor.device.index or 0) if where == "cuda" else 0
    bind = binding.bind_output if output else binding.bind_input
    bind(name, where, dev, _np_dtype(tensor), tuple(tensor.shape), tensor.data_ptr())


def bound_run(session, inputs: dict, outputs: dict):
    """A callable that runs ``session`` with ``inputs`` and ``outputs`` (name -> contiguous torch
    tensor, CPU or CUDA) bound once, in place: for timing loops, where a fresh binding or copy per
    run would be measured too. It returns the first output tensor, rewritten by each run."""
    binding = session.io_binding()
    for name, t in inputs.items():
        bind_tensor(binding, name, t)
    for name, t in outputs.items():
        bind_tensor(binding, name, t, output=True)
    first = next(iter(outputs.values()))

    def run():
        run_binding(session, binding, first.device.type)
        return first
    return run


def run_binding(session, binding, device: str) -> None:
    """``session.run_with_iobinding``, its failures (out of memory above all) as OnnxRuntimeError."""
    try:
        session.run_with_iobinding(binding)
    except Exception as exc:  # noqa: BLE001
        raise OnnxRuntimeError(run_error_message(str(exc), device)) from exc


def run_error_message(text: str, device: str) -> str:
    """One line for a failed run; an allocation failure says how much was asked for, and by which node."""
    asked = re.search(r"Failed to allocate memory for requested buffer of size (\d+)", text)
    if asked:
        node = re.search(r"running (\w+) node\. Name:'([^']*)'", text)
        where = f" ({node.group(1)} node {node.group(2)})" if node else ""
        return (f"ONNX Runtime ran out of memory on {device}: a buffer of "
                f"{int(asked.group(1)) / 2**30:.1f} GiB could not be allocated{where}")
    return f"ONNX Runtime failed running the model on {device}: {_first_line(text)}"


def _is_cuda_tensor(v) -> bool:
    return getattr(v, "is_cuda", False) is True


def _to_numpy(v):
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return v


def _np_dtype(t):
    import numpy as np
    import torch

    table = {torch.float32: np.float32, torch.float16: np.float16, torch.int64: np.int64,
             torch.int32: np.int32, torch.bool: np.bool_}
    if t.dtype not in table:
        raise OnnxRuntimeError(f"IO binding of {t.dtype} tensors is not supported; export in fp32 or fp16")
    return table[t.dtype]
