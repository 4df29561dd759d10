"""What the profiler hands to ONNX Runtime: a decoder layer's prefill and its decode step as
graphs, and the decode step's runs with every tensor bound in place.

- prefill (``prefill_graph``): ``forward(x) -> y``, batch and sequence dynamic.
- decode (``DecodeStepGraph``): ``forward(x_t, *state) -> (y, *update)`` at the profiled
  position, the layer's ``step_detached``. A KV or latent cache is an input only: the graph reads
  it once and outputs the new token's rows, which ``DecodeRunner`` writes into slot ``pos % T``
  (a cache rewritten by the graph would be a full copy per token). A recurrent state is an input
  and its new value an output; two IO bindings alternate which buffer is which, so a step reads
  and writes its state once, as the torch step does in place. The cache a KV-shared layer reads
  is an input with no update.
- A layer with per-layer inputs (Gemma 3n/4) takes them as one more input, ``per_layer``
  [B, L, p], after ``x``; a cross-attention layer's prefill takes its image, ``image{i}``
  [B, M, D], after those (its decode step reads the image's cached K/V from the state).

torch and onnxruntime are imported inside the functions: importing this module is free.
"""
from __future__ import annotations

from typing import Any


def takes_per_layer_input(layer) -> bool:
    return hasattr(layer, "per_layer")


def image_mixers(layer) -> list[int]:
    """The mixers that attend to an image (cross-attention): their prefill reads it."""
    from kernels.blocks.cross_attention import CrossAttention
    return [i for i, m in enumerate(layer.mixers) if isinstance(m, CrossAttention)]


def prefill_inputs(layer, x, per_layer, states) -> tuple:
    """The prefill graph's inputs after ``x``: the per-layer input, then each cross-attention
    mixer's image from ``states`` (the layer's state, as new_state makes it), in x's dtype."""
    extra = (per_layer,) if takes_per_layer_input(layer) else ()
    return extra + tuple(states[i]["image"].to(x.dtype) for i in image_mixers(layer))


def prefill_graph(layer):
    """``layer`` as a module whose forward(x[, per_layer][, image...]) takes no cache argument, for
    the ONNX export; a cross-attention mixer gets its image as an input of its own."""
    import torch.nn as nn
    images = image_mixers(layer)
    extra = ["per_layer"] if takes_per_layer_input(layer) else []

    class PrefillGraph(nn.Module):
        input_names = ["x"] + extra + [f"image{i}" for i in images]

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, *rest):
            per_layer, given = rest[:len(extra)], rest[len(extra):]
            states = None
            if images:
                states = [None] * len(self.inner.mixers)
                for i, image in zip(images, given):
                    states[i] = {"image": image}
            return self.inner(x, states, *per_layer)
    return PrefillGraph(layer)


def state_names(states: list[dict]) -> list[tuple[int, str]]:
    """(mixer index, state name) of every state tensor of a DecoderLayer, in graph input order."""
    return [(i, name) for i, st in enumerate(states) for name in st]


def updated_state_names(layer, states: list[dict]) -> list[tuple[int, str]]:
    """The state tensors a decode step changes: all but the caches KV-shared layers only read."""
    return [(i, name) for i, name in state_names(states)
            if not getattr(layer.mixers[i], "read_only_state", False)]


def decode_step_graph(layer, states: list[dict], pos: int):
    """A module ``forward(x_t, [per_layer,] *flat_state) -> (y, *flat_update)``: the layer's decode
    step at ``pos`` over a state laid out like ``states`` (input names ``x``, ``per_layer``,
    ``state{i}_{name}``; output names ``y``, ``update{i}_{name}``)."""
    import torch.nn as nn

    keys = state_names(states)
    changed = updated_state_names(layer, states)
    extra = ["per_layer"] if takes_per_layer_input(layer) else []

    class DecodeStepGraph(nn.Module):
        input_names = ["x"] + extra + [f"state{i}_{n}" for i, n in keys]
        output_names = ["y"] + [f"update{i}_{n}" for i, n in changed]

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, *flat):
            per_layer, flat = flat[:len(extra)], flat[len(extra):]
            grouped: list[dict] = [{} for _ in states]
            for (i, name), t in zip(keys, flat):
                grouped[i][name] = t
            y, updates = self.inner.step_detached(x, grouped, pos, *per_layer)
            return (y, *(updates[i][name] for i, name in changed))
    return DecodeStepGraph(layer)


def flat_states(states: list[dict]) -> list:
    return [states[i][name] for i, name in state_names(states)]


class DecodeRunner:
    """Runs an exported decode step with all tensors bound where they live (torch tensors, CPU or
    CUDA, zero copy), as a real decode loop would: each call runs one step and writes the new
    token's cache rows into the caches; recurrent states alternate between two buffers.

    ``states`` is the layer's state after the prompt (it is updated as steps run); ``first`` is the
    output of the first step from it, for the numerical check.
    """

    def __init__(self, session, x, states: list[dict], pos: int, per_layer=None):
        import torch

        from kernels.blocks import apply_update
        from kernels.onnx_runtime import bind_tensor, run_binding

        self._apply, self._run = apply_update, run_binding
        self.session, self.pos = session, pos
        keys = state_names(states)
        shapes = {o.name: tuple(o.shape) for o in session.get_outputs()}   # static: exported at pos
        # the exporter drops a state a step never reads (the image a cross-attention step does not
        # project again): it has nothing to bind
        inputs = {i.name for i in session.get_inputs()}
        changed = [(i, name) for i, name in keys if f"update{i}_{name}" in shapes]
        self.y = x.new_empty(shapes["y"])
        self.rows: dict[tuple[int, str], Any] = {}
        other: list[dict] = [dict(st) for st in states]        # the second buffer of each recurrent state
        for i, name in changed:
            old, shape = states[i][name], shapes[f"update{i}_{name}"]
            if shape == tuple(old.shape):
                other[i][name] = torch.empty_like(old)
            else:
                self.rows[(i, name)] = old.new_empty(shape)
        self.buffers = (states, other)
        self.bindings = []
        for src, dst in ((states, other), (other, states)):
            b = session.io_binding()
            bind_tensor(b, "x", x)
            if per_layer is not None:
                bind_tensor(b, "per_layer", per_layer)
            bind_tensor(b, "y", self.y, output=True)
            for i, name in keys:
                if f"state{i}_{name}" in inputs:
                    bind_tensor(b, f"state{i}_{name}", src[i][name])
            for i, name in changed:
                bind_tensor(b, f"update{i}_{name}", self.rows.get((i, name), dst[i][name]), output=True)
            self.bindings.append(b)
        self.turn = 0
        self.first = self().clone()

    @property
    def state(self) -> list[dict]:
        """The layer's state as the steps so far left it (the buffers the next step reads)."""
        return self.buffers[self.turn]

    def __call__(self):
        """One decode step: the session's run, then the rows written into the caches."""
        self._run(self.session, self.bindings[self.turn], self.y.device.type)
        self.turn ^= 1
        for (i, name), row in self.rows.items():
            self._apply(self.buffers[0][i], {name: row}, self.pos)
        return self.y
