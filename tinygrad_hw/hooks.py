"""Gradient hooks: ``Tensor.register_hook(fn)`` and ``Tensor.retain_grad()``, as in PyTorch.

A tensor's hooks live on its node, as one ``GradientHooks`` object that the engine calls with
the node's cotangent once it is complete (for a leaf: before it is accumulated into ``.grad``;
for a result: once the gradients from all its consumers are summed). The engine knows only
that ``node.hooks`` is None or a callable ``(g, math) -> g``: a node without hooks costs one
attribute read in the backward loop.

What a hook receives: a Tensor holding d(loss)/d(tensor). In a first-order backward pass it is
a constant (the hook runs under ``no_grad``, as PyTorch runs it with grad mode off); under
``create_graph=True`` it is the recorded Tensor of the backward pass itself, so what the hook
computes is differentiated too. It must not be modified in place. A hook returns None (keep
the gradient) or a replacement of the same shape and dtype, which the next hook receives.
"""

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_hw.errors import DTypeError, ShapeError
from tinygrad_hw.modes import modes
from tinygrad_hw.ops.arrays import copy

Hook = Callable[[Any], Any]


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook (idempotent)."""

    __slots__ = ("fn", "owner")

    def __init__(self, owner: "GradientHooks", fn: Hook) -> None:
        self.owner: GradientHooks | None = owner
        self.fn = fn

    def remove(self) -> None:
        if self.owner is not None:
            self.owner.remove(self)
            self.owner = None


class GradientHooks:
    """The hooks of one node, run in registration order, and the tensor that retains its
    gradient (``retain_grad``), which is always filled last, with the final value."""

    __slots__ = ("cls", "dtype", "entries", "node", "retained", "shape")

    def __init__(self, node: Any, cls: type, dtype: np.dtype) -> None:
        self.node = node
        self.cls = cls  # the Tensor class (this module cannot import it: tensor.py imports us)
        # numpy's dtype, as a Tensor's .dtype says it (node.dtype is the array library's own)
        self.shape, self.dtype = node.shape, dtype
        self.entries: list[RemovableHandle] = []
        self.retained: weakref.ref | None = None

    def add(self, fn: Hook) -> RemovableHandle:
        handle = RemovableHandle(self, fn)
        self.entries.append(handle)
        self.node.hooks = self
        return handle

    def remove(self, handle: RemovableHandle) -> None:
        self.entries = [h for h in self.entries if h is not handle]
        if not self.entries and self.retained is None:
            self.node.hooks = None  # back to the engine's fast path

    def __call__(self, g: Any, math: Any) -> Any:
        if self.entries:
            g = self._run(g, math)
        owner = None if self.retained is None else self.retained()
        if owner is not None:
            if math is None:
                owner._accumulate_grad(copy(g))  # g is also sent on: the tensor owns a copy
            else:
                math.deliver(owner, g)
        return g

    def _run(self, g: Any, math: Any) -> Any:
        if math is not None:  # create_graph: Tensors that record, hooks differentiated too
            for handle in list(self.entries):
                g = self._checked(handle.fn, handle.fn(g), g)
            return g
        value = self.cls(g)
        previous = modes.grad_enabled
        modes.grad_enabled = False
        try:
            for handle in list(self.entries):
                value = self._checked(handle.fn, handle.fn(value), value)
        finally:
            modes.grad_enabled = previous
        if value.data is g:
            return g
        return copy(value.data)  # the hook's array may be the user's: the graph gets its own

    def _checked(self, fn: Hook, result: Any, current: Any) -> Any:
        """A hook's return value as a Tensor of the tensor's shape and dtype (None: unchanged)."""
        if result is None:
            return current
        if isinstance(result, np.ndarray):
            result = self.cls(result)
        name = getattr(fn, "__name__", type(fn).__name__)
        if not isinstance(result, self.cls):
            raise DTypeError(
                f"hook {name!r} returned a {type(result).__name__}; it must return None or a "
                f"Tensor of shape {self.shape}"
            )
        if result.shape != self.shape:
            raise ShapeError(
                f"hook {name!r} returned a gradient of shape {result.shape} for a tensor of "
                f"shape {self.shape}: it must keep the shape"
            )
        if result.dtype != self.dtype:
            raise DTypeError(
                f"hook {name!r} returned a gradient of dtype {result.dtype} for a tensor of "
                f"dtype {self.dtype}: it must keep the dtype"
            )
        return result


def hooks_of(node: Any, cls: type, dtype: np.dtype) -> GradientHooks:
    """The node's hooks object, made on first use (``dtype``: the tensor's, numpy's name)."""
    return node.hooks if node.hooks is not None else GradientHooks(node, cls, dtype)
