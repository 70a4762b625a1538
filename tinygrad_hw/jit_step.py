"""``tinygrad_hw.jit(step)``: record a training step once, then replay it as a flat list of calls.

``step(*inputs)`` does forward, loss, ``loss.backward()`` and ``optimizer.step()`` and returns
the loss (Tensors, arrays or a tuple of them). For each signature of its inputs (shapes and
dtypes of the arrays and Tensors, values of the other arguments) the first two calls run
eagerly while the library reports every primitive call, the backward pass's vjp calls and
sums, and each optimizer step (``jit_trace``). If both recordings agree, later calls replay
the calls on the new inputs into buffers allocated once (``jit_program``): no Tensor, node or
argument check per op, and the same numpy calls in the same order as eagerly, so the same bits.

The optimizer's step is replayed by calling it, so its lr, an lr schedule and changed
hyperparameters take effect as they would eagerly. Before each replay the jit checks that no
Module attribute was assigned (a replaced layer or parameter, ``train()``/``eval()``), that
each parameter still holds the array recorded, and that each optimizer has the same
parameters; otherwise it records again. A step it cannot replay (it reads a tensor's value
with ``item()``/``numpy()``/``bool()``, so it may branch on it; it builds arrays outside the
library's ops that change between calls; it changes arrays outside an optimizer step; hooks,
``create_graph``) runs eagerly from then on, after one ``JitWarning`` saying why.

Not seen: a layer replaced inside a list (``model.layers.steps[0] = ...``: assign an
attribute, or call ``reset()``), arrays read through ``.data`` inside the step, and the values
of the inputs at replay (a label out of range indexes from the end, as numpy would).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_hw.errors import DTypeError
from tinygrad_hw.jit_program import Mismatch, Program, compare
from tinygrad_hw.jit_trace import Tracer
from tinygrad_hw.modes import modes
from tinygrad_hw.nn.module import Module
from tinygrad_hw.tensor import Tensor

MANY_SIGNATURES = 8  # past this many recorded signatures, warn: an argument changes each call


class JitWarning(UserWarning):
    """A jitted step runs eagerly (it cannot be replayed), or records unusually often."""


class _Entry:
    """What the jit knows about one input signature."""

    __slots__ = ("eager", "first", "program", "stamp")

    def __init__(self) -> None:
        self.first: Tracer | None = None  # the first recording, waiting for the second
        self.program: Program | None = None
        self.stamp = -1  # Module.assignments when the program was recorded
        self.eager = False  # cannot be replayed: always run the step itself


class JitStep:
    """A training step that records itself and then replays; see the module docstring."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise DTypeError(f"jit: expected a function, got {type(fn).__name__}")
        self.fn = fn
        self.entries: dict[tuple, _Entry] = {}
        self.recordings = 0  # how many eager calls were recorded (for tests and curiosity)
        self.replays = 0

    def reset(self) -> None:
        """Forget every recording: the next calls record again. For changes the guards do not
        see (a layer replaced inside a list, an array read through ``.data``)."""
        self.entries.clear()

    def __call__(self, *args: Any) -> Any:
        if modes.tracer is not None:  # inside another jit's recording: it sees our ops
            return self.fn(*args)
        key, inputs = signature(args)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry()
            if len(self.entries) == MANY_SIGNATURES + 1:
                _warn(f"{len(self.entries)} input signatures recorded; an argument that changes "
                      "on every call (a step number?) makes every call record")  # fmt: skip
        program = entry.program
        if program is not None:
            if entry.stamp == Module.assignments and program.guards_hold():
                self.replays += 1
                return program.replay(inputs)
            entry.program, entry.first = None, None  # the model changed: record again
        if entry.eager:
            return self.fn(*args)
        return self._record(entry, args, inputs)

    def _record(self, entry: _Entry, args: tuple, inputs: list[np.ndarray]) -> Any:
        tracer = Tracer(inputs)
        stamp = Module.assignments
        modes.tracer = tracer
        try:
            result = self.fn(*args)
        finally:
            modes.tracer = None
        self.recordings += 1
        tracer.finish()
        spec = tracer.result_slots(result)
        if Module.assignments != stamp:
            tracer.refuse("the step assigns attributes of a Module")
        if tracer.unsupported is not None:
            return self._give_up(entry, tracer.unsupported, result)
        if entry.first is None:
            entry.first = tracer
            tracer.forget_computed()
            return result
        try:
            binding = compare(entry.first, tracer)
        except Mismatch as reason:
            return self._give_up(entry, str(reason), result)
        entry.first = None
        entry.program, entry.stamp = Program(tracer, binding, spec), Module.assignments
        return result

    def _give_up(self, entry: _Entry, reason: str, result: Any) -> Any:
        entry.eager, entry.first = True, None
        _warn(f"{getattr(self.fn, '__name__', 'the step')} runs eagerly: {reason}")
        return result


def jit(fn: Callable[..., Any]) -> JitStep:
    """A recorded, replayed version of the training step ``fn`` (see ``tinygrad_hw.jit``).

    Example::

        @tinygrad_hw.jit
        def train_step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

        for x, y in batches:
            loss = train_step(x, y)   # calls 1-2 per shape: eager, recorded; then replayed
    """
    return JitStep(fn)


def signature(args: tuple) -> tuple[tuple, list[np.ndarray]]:
    """(a hashable key of the arguments' shapes, dtypes and other values, their arrays)."""
    key, arrays = [], []
    for i, arg in enumerate(args):
        if isinstance(arg, np.ndarray | Tensor):
            array = arg if isinstance(arg, np.ndarray) else arg.data
            grad = isinstance(arg, Tensor) and arg.requires_grad
            key.append((type(arg).__name__, array.shape, array.dtype.str, grad))
            arrays.append(array)
            continue
        try:
            hash(arg)
        except TypeError:
            raise DTypeError(
                f"jit: argument {i} is a {type(arg).__name__}; a jitted step takes arrays, "
                "Tensors and hashable constants (numbers, strings)"
            ) from None
        key.append(("value", type(arg).__name__, arg))
    return tuple(key), arrays


def _warn(message: str) -> None:
    warnings.warn(f"tinygrad_hw.jit: {message}", JitWarning, stacklevel=4)
