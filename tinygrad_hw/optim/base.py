"""Optimizer: the bookkeeping every update rule shares.

An optimizer holds a list of parameter Tensors and, per parameter, state arrays allocated once
(velocity, Adam's moments) and scratch arrays for temporaries. ``step()`` changes each
``p.data`` in place with ufuncs writing into those arrays (``out=``), so a step allocates no
array: a float32 parameter stays float32 (the scalars lr, betas, ... are Python floats, which
numpy 2 never lets upcast an array) and its array stays the one the model and the graph hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.mistakes import warn_unconnected_parameters
from tinygrad_hw.modes import modes
from tinygrad_hw.ops.devices import device_of, namespace_of, to_device, to_host
from tinygrad_hw.saved_arrays import is_saved, write_while_saved
from tinygrad_hw.tensor import Tensor

Scalar = float | int | bool
State = dict[str, np.ndarray | Scalar]


class Optimizer:
    """Base class: subclasses set ``buffer_names`` and ``scratch_count`` and define
    ``_update(i, w, g)`` (change ``w`` in place), ``hyperparameters()`` and
    ``_set_hyperparameters(**values)`` (validate all, then assign)."""

    buffer_names: tuple[str, ...] = ()
    scratch_count = 1

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = check_params(type(self).__name__, params)
        self.lr = lr
        self.step_count = 0
        self.updates = [0] * len(self.params)  # per parameter: steps in which it had a .grad
        self.state = [{n: _zeros_like(p.data) for n in self.buffer_names} for p in self.params]
        self._scratch = shared_scratch(self.params, self.scratch_count)
        self._warned_unconnected = False  # a parameter without .grad at step(): warned once

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_number(type(self).__name__, "lr", value)

    def hyperparameters(self) -> dict[str, Scalar]:
        raise NotImplementedError

    def _set_hyperparameters(self, **values: Any) -> None:
        raise NotImplementedError

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (backward() then starts afresh)."""
        for p in self.params:
            p._grad = p._grad_graph = None

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters with ``.grad is None`` are
        skipped (their state and update count are left as they are)."""
        if modes.tracer is not None:  # tinygrad_hw.jit records the step: it replays this call
            modes.tracer.optimizer_step(self)
        self.step_count += 1
        skipped = False
        for i, p in enumerate(self.params):
            g, w = p._grad, p.data  # the slots, read once: the .grad property is for users
            if g is None:
                skipped = True
                continue
            if type(g) is not np.ndarray or g.dtype is not w.dtype:  # fast
                check_grad(type(self).__name__, i, p)
            if g.shape != w.shape:
                raise ShapeError(
                    f"{type(self).__name__}.step: params[{i}] has shape {p.shape} but its "
                    f".grad has shape {g.shape}"
                )
            self.updates[i] += 1
            if is_saved(w):  # a live graph saved it: write anyway, that graph goes stale
                who = f"{type(self).__name__}.step (params[{i}])"
                write_while_saved(w, who, lambda i=i, w=w, g=g: self._update(i, w, g))
            else:
                self._update(i, w, g)
        if skipped and not self._warned_unconnected:
            self._warned_unconnected = True
            warn_unconnected_parameters(type(self).__name__, self.params)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> State:
        """A flat dict: "lr", "step", the hyperparameters, and per parameter i
        "state.i.step" and copies of its buffers, "state.i.<buffer>"."""
        state: State = {"lr": self.lr, "step": self.step_count, **self.hyperparameters()}
        for i, buffers in enumerate(self.state):
            state[f"state.{i}.step"] = self.updates[i]
            for name, array in buffers.items():
                state[f"state.{i}.{name}"] = np.array(to_host(array), copy=True)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state``: lr, step counts, hyperparameters and buffers are restored.

        The keys must be exactly those of this optimizer's own state_dict (same class, same
        number and shapes of parameters); everything is checked before anything changes.
        Scalars may be 0-d arrays (as np.load returns them).
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise DTypeError(f"{owner}: expected a dict, got {type(state).__name__}")
        own = self.state_dict()
        check_keys(owner, own.keys(), state.keys())
        arrays = {k: checked_buffer(owner, k, v, state[k]) for k, v in own.items() if is_array(v)}
        scalars = {k: scalar(owner, k, state[k]) for k in own if k not in arrays}
        lr = check_number(type(self).__name__, "lr", scalars.pop("lr"))
        counts = {k: count(owner, k, scalars.pop(k)) for k in list(scalars) if k.endswith("step")}
        self._set_hyperparameters(**scalars)
        self.lr, self.step_count = lr, counts.pop("step")
        for key, value in counts.items():
            self.updates[int(key.split(".")[1])] = value
        for key, array in arrays.items():
            _, i, name = key.split(".")
            buffer = self.state[int(i)][name]
            if type(buffer) is np.ndarray:
                np.copyto(buffer, array)
            else:  # on the parameter's device, in its dtype (same_kind, as np.copyto)
                buffer[...] = to_device(array.astype(buffer_dtype(buffer)), device_of(buffer))


# ---------------------------------------------------------------------- helpers
def check_params(owner: str, params: Iterable[Tensor]) -> list[Tensor]:
    """The parameters as a list: an iterable (a list, model.parameters(), a generator) of
    distinct leaf Tensors with requires_grad and writable arrays."""
    if isinstance(params, Tensor):
        raise ArgumentError(f"{owner}: params must be an iterable of Tensors; wrap one in a list")
    try:
        tensors = list(params)
    except TypeError:
        raise DTypeError(
            f"{owner}: params must be an iterable of Tensors, got {type(params).__name__} "
            "(a model? pass model.parameters())"
        ) from None
    if not tensors:
        raise ArgumentError(f"{owner}: optimizer got no parameters (an exhausted generator?)")
    seen: set[int] = set()
    for i, p in enumerate(tensors):
        check_param(owner, i, p, seen)
    return tensors


def check_param(owner: str, i: int, p: Any, seen: set[int]) -> None:
    if not isinstance(p, Tensor):
        raise DTypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a Tensor")
    if not p.requires_grad:
        raise ArgumentError(
            f"{owner}: params[{i}] (shape {p.shape}) has requires_grad=False: it would never "
            "get a gradient"
        )
    if p._node is not None and p._node.sink is None:
        raise ArgumentError(f"{owner}: params[{i}] is the result of an op, not a leaf tensor")
    if isinstance(p.data, np.ndarray) and not p.data.flags.writeable:
        raise ArgumentError(f"{owner}: params[{i}] has a read-only array; pass a writable copy")
    if id(p) in seen:
        raise ArgumentError(f"{owner}: params[{i}] appears twice; it would be updated twice")
    seen.add(id(p))


def check_grad(owner: str, i: int, p: Tensor) -> None:
    """A ``.grad`` the user assigned must be an array of the parameter's library and dtype
    (PyTorch checks on assignment; here the check runs where the value is used, so reading
    .grad costs nothing)."""
    g = p.grad
    if not isinstance(g, type(p.data)):
        raise DTypeError(
            f"{owner}.step: params[{i}].grad is a {type(g).__name__}, not an array: assign "
            f"np.asarray(...) of shape {p.shape} and dtype {p.dtype}"
        )
    if g.dtype != p.data.dtype:
        raise DTypeError(
            f"{owner}.step: params[{i}].grad has dtype {g.dtype}, the parameter {p.dtype}"
        )


def check_number(owner: str, name: str, value: Any, upper: float = math.inf) -> float:
    """A finite float in [0, upper) (or [0, inf)) as a Python float."""
    if isinstance(value, Tensor | str | bytes) or (isinstance(value, np.ndarray) and value.ndim):
        raise DTypeError(f"{owner}: {name} must be a number, got {value!r:.60}")
    try:
        number = float(value)
    except OverflowError:  # an int past float's range
        number = math.inf
    except (TypeError, ValueError):
        raise DTypeError(f"{owner}: {name} must be a number, got {value!r:.60}") from None
    if math.isnan(number) or number < 0 or number >= upper or math.isinf(number):
        bound = f"in [0, {upper:g})" if upper < math.inf else ">= 0 and finite"
        raise ArgumentError(f"{owner}: {name} must be {bound}, got {value!r}")
    return number


def shared_scratch(params: list[Tensor], count: int) -> list[tuple[np.ndarray, ...]]:
    """``count`` scratch arrays per parameter, views into ``count`` flat buffers per dtype
    sized for the largest parameter of that dtype: temporaries cost max(size), not sum(size),
    because parameters are updated one after another."""
    largest: dict[tuple[str, np.dtype], Any] = {}  # per device and dtype: the largest array
    for p in params:
        key = (p.device, p.dtype)
        if key not in largest or p.size > largest[key].size:
            largest[key] = p.data
    pools = {key: [_flat_empty_like(a) for _ in range(count)] for key, a in largest.items()}
    return [
        tuple(namespace_of(buf).reshape(buf[: p.size], p.shape) for buf in pools[p.device, p.dtype])
        for p in params
    ]


def _flat_empty_like(array: Any) -> Any:
    """A 1-d uninitialized array of array's size, dtype and device."""
    xp = namespace_of(array)
    return xp.reshape(xp.empty_like(array), (-1,))


def _zeros_like(array: Any) -> Any:
    return namespace_of(array).zeros_like(array)


def buffer_dtype(buffer: Any) -> np.dtype:
    return namespace_of(buffer).numpy_dtype(buffer.dtype)


def is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray)


def check_keys(owner: str, own: Iterable[str], given: Iterable[str]) -> None:
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    if missing or unexpected:
        raise ArgumentError(
            f"{owner}: missing keys {missing}, unexpected keys {unexpected} (a state from "
            "another optimizer class, other hyperparameters or another number of parameters?)"
        )


def checked_buffer(owner: str, key: str, own: np.ndarray, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != own.shape:
        raise ShapeError(f"{owner}: '{key}' has shape {own.shape}, the state holds {array.shape}")
    if not np.can_cast(array.dtype, own.dtype, casting="same_kind"):
        raise DTypeError(f"{owner}: '{key}' has dtype {own.dtype}, the state holds {array.dtype}")
    return array


def scalar(owner: str, key: str, value: Any) -> Scalar:
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "biuf":
        raise DTypeError(f"{owner}: '{key}' must be a number, got {value!r:.60}")
    return array.item()


def count(owner: str, key: str, value: Scalar) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ArgumentError(f"{owner}: '{key}' must be a count >= 0, got {value!r}")
    return int(value)
