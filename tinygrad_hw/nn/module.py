"""Module: an object whose trainable Tensors are found by reading its attributes.

There is no registration step and no hidden bookkeeping: ``named_parameters()`` walks
``vars(self)`` in the order the attributes were assigned, and collects

- a leaf ``Tensor`` with ``requires_grad=True`` (a parameter; a Tensor without grad is a
  constant, and the result of an op kept as an attribute is not a parameter either),
- a ``Module`` (its parameters, names prefixed with the attribute name),
- a list or tuple of Modules and/or Tensors (items named by their position: ``blocks.0.w``).

Anything else (numbers, arrays, dicts, the ``training`` flag) is ignored. So a gradient can
only come from a Tensor you can see assigned in ``__init__``.

State that is not trained (batch norm's running statistics) is a *buffer*: a constant Tensor
attribute assigned with ``register_buffer``, which names it in the module's ``_buffers``.
``state_dict`` saves parameters then buffers; an optimizer never sees a buffer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.ops.devices import to_device, to_host
from tinygrad_hw.saved_arrays import is_saved, write_while_saved
from tinygrad_hw.tensor import Tensor

_UNSET = object()


class Module:
    """Base class of layers and models: subclasses assign Tensors/Modules and define forward.

    ``Module.__init__`` must be called first (it sets ``training``); ``model(x)`` calls
    ``model.forward(x)``.
    """

    assignments = 0  # attribute assignments on any Module: tinygrad_hw.jit re-records after one

    def __init__(self) -> None:
        self.training = True

    def __setattr__(self, name: str, value: Any) -> None:
        # A replaced layer or parameter, or a flag forward reads, changes what a step does: a
        # recorded step (tinygrad_hw.jit) compares this count before each replay.
        if vars(self).get(name, _UNSET) is not value:
            Module.assignments += 1
        object.__setattr__(self, name, value)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ walking
    def named_children(self) -> Iterator[tuple[str, Module | Tensor]]:
        """(name, value) of each direct sub-Module and Tensor attribute, in definition order.

        This is the one place that decides what a Module contains; a container that keeps
        its members elsewhere (as Sequential does) overrides it.
        """
        for name, value in vars(self).items():
            if isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    if isinstance(item, Module | Tensor):
                        yield f"{name}.{i}", item
            elif isinstance(value, Module | Tensor):
                yield name, value

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module below it, depth first, each once (a back-reference
        to a parent, or a module shared by two owners, is not walked again)."""
        for _, module in self._walk_modules("", set()):
            yield module

    def _walk_modules(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Module]]:
        """(dotted prefix, module) for this module and those below it not in ``seen``."""
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            if isinstance(child, Module):
                yield from child._walk_modules(f"{prefix}{name}.", seen)

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """Dotted names and parameter Tensors, e.g. ``[("layers.0.weight", W1), ...]``.

        A Tensor reachable under two names (a tied weight) is listed once, under the first
        name, so that an optimizer does not update it twice per step.
        """
        found: list[tuple[str, Tensor]] = []
        seen: set[int] = set()
        for name, tensor in self._walk_parameters(""):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                found.append((name, tensor))
        return found

    def _walk_parameters(
        self, prefix: str, seen: set[int] | None = None
    ) -> Iterator[tuple[str, Tensor]]:
        """In attribute order, each sub-module once (``seen``: ids of those already walked)."""
        seen = set() if seen is None else seen
        if id(self) in seen:
            return
        seen.add(id(self))
        for name, child in self.named_children():
            if isinstance(child, Module):
                yield from child._walk_parameters(f"{prefix}{name}.", seen)
            elif is_parameter(child):
                yield prefix + name, child

    def parameters(self) -> list[Tensor]:
        """The parameter Tensors, in the order of :meth:`named_parameters`."""
        return [tensor for _, tensor in self.named_parameters()]

    def register_buffer(self, name: str, value: Any) -> None:
        """Assign ``self.<name>`` a constant Tensor that is saved and loaded with the state
        (as PyTorch's register_buffer); update it in place (``buffer.data[...] = ...``)."""
        tensor = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        if tensor.requires_grad:
            raise ArgumentError(f"register_buffer: '{name}' requires grad: make it a parameter")
        buffers = vars(self).setdefault("_buffers", [])
        if name not in buffers:
            buffers.append(name)
        setattr(self, name, tensor)

    def named_buffers(self) -> list[tuple[str, Tensor]]:
        """Dotted names and buffer Tensors of this module and its sub-modules."""
        return list(self._walk_buffers(""))

    def _walk_buffers(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        for module_prefix, module in self._walk_modules(prefix, set()):
            for name in vars(module).get("_buffers", ()):
                yield module_prefix + name, getattr(module, name)

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and all sub-modules (dropout-like layers read it)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget accumulated gradients: every parameter's ``.grad`` becomes None."""
        for tensor in self.parameters():
            tensor.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter arrays, then the buffers', by name (later training does not
        change them)."""
        named = self.named_parameters() + self.named_buffers()
        return {name: np.array(to_host(tensor.data), copy=True) for name, tensor in named}

    def to(self, device: str) -> Module:
        """Move every parameter and buffer to ``device`` ("cpu", "cuda", "array_api_strict"),
        in place, and return the module (PyTorch's ``Module.to``). Gradients are dropped; build
        the optimizer after moving, as its state lives on the parameters' device."""
        for _, tensor in self.named_parameters() + self.named_buffers():
            moved = to_device(tensor.data, device)
            if moved is not tensor.data:
                wants_grad = tensor.requires_grad
                tensor.requires_grad = False
                tensor.data, tensor._grad, tensor._grad_graph = moved, None, None
                tensor.requires_grad = wants_grad  # a fresh leaf node, of the new dtype object
        return self

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays from ``state`` into the parameters, in place (their arrays stay theirs).

        Every entry is checked before anything is written, so a failed load leaves the module
        untouched. Raises ArgumentError naming missing/unexpected keys (ignored when
        ``strict=False``), ShapeError or DTypeError naming the parameter whose array differs.
        """
        if not isinstance(state, Mapping):
            raise DTypeError(f"load_state_dict: expected a dict, got {type(state).__name__}")
        own = dict(self.named_parameters() + self.named_buffers())
        if strict:
            _check_keys(own.keys(), state.keys())
        arrays = {
            name: _checked_array(name, own[name], state[name]) for name in own if name in state
        }
        for name in arrays:
            target = own[name].data
            if type(target) is not np.ndarray:
                continue  # another library's array: no read-only flag
            if not target.flags.writeable and not is_saved(target):
                raise ArgumentError(
                    f"load_state_dict: parameter '{name}' has a read-only array; nothing was "
                    "loaded (make it writable, or build a fresh model)"
                )
        for name, array in arrays.items():
            target = own[name].data
            if type(target) is not np.ndarray:  # onto the parameter's device, in place
                target[...] = to_device(array, own[name].device)
            elif is_saved(target):  # a live graph saved it: write anyway, that graph goes stale
                who = f"load_state_dict ('{name}')"
                write_while_saved(target, who, lambda t=target, a=array: np.copyto(t, a))
            else:
                np.copyto(target, array)

    def __repr__(self) -> str:
        _IN_REPR.add(id(self))
        try:
            body = "\n".join(f"  ({n}): {_short(child)}" for n, child in self.named_children())
        finally:
            _IN_REPR.discard(id(self))
        return f"{type(self).__name__}(\n{body}\n)" if body else f"{type(self).__name__}()"


def is_parameter(tensor: Tensor) -> bool:
    """A leaf Tensor with requires_grad. A result of an op (say a cached activation kept as
    an attribute) also requires grad, but never holds a gradient of its own: not a parameter."""
    return tensor.requires_grad and tensor._node.sink is not None


_IN_REPR: set[int] = set()  # modules whose repr is being built: a child naming one is a cycle


def _short(child: Module | Tensor) -> str:
    if id(child) in _IN_REPR:
        return f"<{type(child).__name__}: a reference back up the tree>"
    if isinstance(child, Tensor):
        return f"Tensor(shape={child.shape}, dtype={child.dtype})"
    return repr(child).replace("\n", "\n  ")


def _check_keys(own: Any, given: Any) -> None:
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    if missing or unexpected:
        raise ArgumentError(
            f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
            "(a state from another architecture? pass strict=False to load the common keys)"
        )


def _checked_array(name: str, tensor: Tensor, value: Any) -> np.ndarray:
    array = to_host(value.data) if isinstance(value, Tensor) else np.asarray(value)
    check_state_entry(name, tensor, array.shape, array.dtype)
    return array


def check_state_entry(name: str, own: Any, shape: tuple[int, ...], dtype: Any) -> None:
    """ShapeError / DTypeError unless a state entry of ``shape`` and ``dtype`` fits the
    parameter or buffer ``own`` (load_state_dict's check, and tg.load's on .npy headers)."""
    if shape != own.shape:
        raise ShapeError(
            f"load_state_dict: parameter '{name}' has shape {own.shape}, "
            f"the state holds shape {shape}"
        )
    if dtype != own.dtype:
        raise DTypeError(
            f"load_state_dict: parameter '{name}' has dtype {own.dtype}, the state holds "
            f"dtype {dtype}: build the model with dtype=np.{dtype} or cast the state"
        )
