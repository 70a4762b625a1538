"""A recorded step turned into a flat list of calls on arrays allocated once, and its replay.

Two recordings of the same step (``jit_trace.Tracer``) are compared first: the same calls on
the same slots, and every array from outside either the same array both times (a parameter,
read live at each replay) or the same values (a constant, such as the backward seed). Anything
else changes from call to call in a way the record cannot see, and is refused.

Each computed slot gets a buffer. A buffer whose value is not read again is handed to a later
call of the same shape and dtype (possibly as the output of the very call that reads it last:
ops written ``into`` read their inputs first), so the buffers take about what one eager step
holds at its peak. Gradients a step leaves in ``.grad`` and its results keep their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_hw.jit_trace import Call, Slot, SlotInfo, Tracer
from tinygrad_hw.ops.arrays import cast, copy
from tinygrad_hw.ops.namespace import NUMPY
from tinygrad_hw.ops.shaping import sum_to_shape


class Mismatch(Exception):
    """Two recordings of a step differ: the reason, for the warning."""


class InputArg:
    """Placeholder for a step input inside a call's arguments, filled at each replay."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot


def compare(first: Tracer, second: Tracer) -> dict[int, str]:
    """How each outside slot of ``second`` is bound ("live" or "constant"), after checking
    that the two recordings agree; raises Mismatch naming the first difference."""
    if len(first.calls) != len(second.calls) or any(
        a.signature() != b.signature() for a, b in zip(first.calls, second.calls, strict=True)
    ):
        raise Mismatch("the step ran different ops on its first two calls (Python branching?)")
    if first.slots != second.slots:
        raise Mismatch("the step's arrays changed shape or origin between its first two calls")
    binding = {}
    for index, info in enumerate(second.slots):
        if info.kind != "outside":
            continue
        a, b = first.arrays[index], second.arrays[index]
        if a is b:
            binding[index] = "live"
        elif a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True):
            binding[index] = "constant"
        else:
            raise Mismatch(
                f"an array of shape {b.shape} that the step builds outside the library's ops "
                "changes between calls (random numbers? data prepared in the step?)"
            )
    return binding


class Program:
    """The replayable step: ``replay(inputs)`` runs the calls and returns fresh results."""

    def __init__(self, tracer: Tracer, binding: dict[int, str], result: Any) -> None:
        self.slots = tracer.slots
        self.values: list[Any] = [None] * len(self.slots)
        for index in binding:
            self.values[index] = tracer.arrays[index]
        self.guards = [
            (tracer.tensors[i], tracer.arrays[i])
            for i, how in binding.items()
            if how == "live" and i in tracer.tensors
        ]
        self.optimizers = [(c.op, c.extra) for c in tracer.calls if c.kind == "step"]
        self.casts = [
            (i, info.input_index, info.dtype)
            for i, info in enumerate(self.slots)
            if info.kind == "input"
        ]
        pinned = _pinned(tracer.calls, result)
        _allocate(tracer.calls, self.slots, self.values, pinned)
        self.calls: list[tuple[Callable, tuple, dict]] = []
        self.patches: list[tuple[int, Callable, tuple, dict]] = []
        for call in tracer.calls:
            self._add(*_lower(call, self._resolve))
        self.result = result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, Slot):
            value = value.index
        elif isinstance(value, tuple | list):
            return type(value)(self._resolve(v) for v in value)
        else:
            return value
        if self.slots[value].kind == "input":
            return InputArg(value)
        return self.values[value]

    def _add(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        if _reads_input((args, kwargs)):
            at_args = [(i, a.slot) for i, a in enumerate(args) if type(a) is InputArg]
            at_kwargs = [(k, v.slot) for k, v in kwargs.items() if type(v) is InputArg]
            nested = len(at_args) + len(at_kwargs) != _count_inputs((args, kwargs))
            where = None if nested else (at_args, at_kwargs)  # None: search at each replay
            self.patches.append((len(self.calls), fn, args, kwargs, where))
        self.calls.append((fn, args, kwargs))

    def guards_hold(self) -> bool:
        """The parameters are the arrays recorded and each optimizer has the same params."""
        for tensor, array in self.guards:
            if tensor.data is not array:
                return False
        for optimizer, params in self.optimizers:
            held = optimizer.params
            if len(held) != len(params) or any(
                p is not q for p, q in zip(held, params, strict=True)
            ):
                return False
        return True

    def replay(self, inputs: list[np.ndarray]) -> Any:
        values, calls = self.values, self.calls
        for slot, k, dtype in self.casts:
            values[slot] = cast(inputs[k], dtype)
        for index, fn, args, kwargs, where in self.patches:
            if where is None:
                calls[index] = (fn, _fill(args, values), _fill(kwargs, values))
                continue
            at_args, at_kwargs = where
            if at_args:
                args = list(args)
                for i, slot in at_args:
                    args[i] = values[slot]
            if at_kwargs:
                kwargs = dict(kwargs)
                for name, slot in at_kwargs:
                    kwargs[name] = values[slot]
            calls[index] = (fn, tuple(args), kwargs)
        for fn, args, kwargs in calls:
            fn(*args, **kwargs)
        for slot, _, _ in self.casts:
            values[slot] = None  # the caller's batch is not kept alive by the record
        return self._result(self.result)

    def _result(self, spec: Any) -> Any:
        from tinygrad_hw.tensor import Tensor  # tensor.py is below this module

        if spec is None:
            return None
        if isinstance(spec[0], str):
            kind, slot = spec
            array = copy(self.values[slot])  # fresh: the buffer is written again next step
            return Tensor(array) if kind == "tensor" else array
        return tuple(self._result(s) for s in spec)


def _reads_input(value: Any) -> bool:
    if type(value) is InputArg:
        return True
    if isinstance(value, tuple | list):
        return any(_reads_input(v) for v in value)
    if isinstance(value, dict):
        return any(_reads_input(v) for v in value.values())
    return False


def _count_inputs(value: Any) -> int:
    if type(value) is InputArg:
        return 1
    if isinstance(value, tuple | list):
        return sum(_count_inputs(v) for v in value)
    if isinstance(value, dict):
        return sum(_count_inputs(v) for v in value.values())
    return 0


def _fill(value: Any, values: list) -> Any:
    """``value`` with each InputArg replaced by this replay's input array."""
    if type(value) is InputArg:
        return values[value.slot]
    if isinstance(value, tuple | list) and _reads_input(value):
        return type(value)(_fill(v, values) for v in value)
    if isinstance(value, dict) and _reads_input(value):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- buffers
def _reads(call: Call) -> list[int]:
    found = [r for r in call.reads if r is not None]

    def walk(value: Any) -> None:
        if isinstance(value, Slot):
            found.append(value.index)
        elif isinstance(value, tuple | list):
            for v in value:
                walk(v)

    walk(tuple(call.params.values()))
    return found


def _pinned(calls: list[Call], result: Any) -> set[int]:
    """Slots that outlive the step: gradients left in .grad and the results."""
    pinned = {c.reads[0] for c in calls if c.kind == "set_grad"}
    pinned |= {g for c in calls if c.kind == "step" for g in c.reads if g is not None}

    def walk(spec: Any) -> None:
        if spec is None:
            return
        if isinstance(spec[0], str):
            pinned.add(spec[1])
        else:
            for s in spec:
                walk(s)

    walk(result)
    return pinned


def _allocate(calls: list[Call], slots: list[SlotInfo], values: list, pinned: set[int]) -> None:
    """A buffer for every computed slot, reusing those whose value is no longer read."""
    last_use: dict[int, int] = {}
    for i, call in enumerate(calls):
        for slot in _reads(call):
            last_use[slot] = i
    free: dict[tuple, list[np.ndarray]] = {}

    def release(slot: int) -> None:
        if slot not in pinned and slots[slot].kind == "computed":
            key = (slots[slot].shape, slots[slot].dtype)
            free.setdefault(key, []).append(values[slot])

    for i, call in enumerate(calls):
        for slot in set(_reads(call)):
            if last_use[slot] == i:
                release(slot)
        for slot in call.writes:
            info = slots[slot]
            pool = free.get((info.shape, info.dtype))
            values[slot] = pool.pop() if pool else np.empty(info.shape, info.dtype)
        for slot in call.writes:
            if slot not in last_use:
                release(slot)  # computed but never read: its buffer is free at once


# ---------------------------------------------------------------------- calls
def _lower(call: Call, resolve: Callable[[Any], Any]) -> tuple[Callable, tuple, dict]:
    """(function, args, kwargs) that perform one recorded call on the buffers."""
    reads = tuple(None if r is None else resolve(Slot(r)) for r in call.reads)
    writes = [resolve(Slot(w)) for w in call.writes]
    params = {name: resolve(value) for name, value in call.params.items()}
    if call.kind == "forward":
        into = writes[0]
        if call.op.residuals:  # (out, residuals): the arrays among them get buffers
            into = (writes[0], dict(zip(call.extra, writes[1:], strict=True)))
        if call.op.forward_into is not None:
            return call.op.forward_into, (NUMPY, into, *reads), params
        return _forward_copy, (call.op, into, *reads), params
    if call.kind == "vjp":
        vjp_into = call.op.vjps_into[call.extra]
        if vjp_into is not None:
            return vjp_into, (NUMPY, writes[0], *reads), params
        return _vjp_copy, (call.op.vjps[call.extra], writes[0], *reads), params
    return _LOWER[call.kind](call, reads, writes)


def _forward_copy(primitive: Any, into: Any, /, *reads: Any, **params: Any) -> None:
    """An op without ``forward_into``: its forward, then copied into the buffers."""
    result = primitive.forward(NUMPY, *reads, **params)
    if isinstance(into, tuple):
        result, residuals = result
        into, buffers = into
        for name, buffer in buffers.items():
            np.copyto(buffer, residuals[name])
    np.copyto(into, result)


def _vjp_copy(vjp: Callable, into: np.ndarray, /, *reads: Any, **params: Any) -> None:
    np.copyto(into, vjp(NUMPY, *reads, **params))


def _sum_into(into: np.ndarray, g: np.ndarray, shape: tuple[int, ...]) -> None:
    np.copyto(into, sum_to_shape(NUMPY, g, shape))


def _cast_into(into: np.ndarray, g: np.ndarray) -> None:
    np.copyto(into, cast(g, into.dtype))


def _step(optimizer: Any, grads: tuple) -> None:
    """The optimizer's own step (its lr, schedule and hyperparameters as they are now), on
    the gradients this replay computed."""
    for p, g in zip(optimizer.params, grads, strict=True):
        p._grad = g  # the replay's own arrays: already of p's shape and dtype
    optimizer.step()


_LOWER: dict[str, Callable[[Call, tuple, list], tuple[Callable, tuple, dict]]] = {
    "sum_to_shape": lambda c, r, w: (_sum_into, (w[0], r[0], c.extra), {}),
    "cast": lambda c, r, w: (_cast_into, (w[0], r[0]), {}),
    "add": lambda c, r, w: (np.add, (r[0], r[1], w[0]), {}),
    "copy": lambda c, r, w: (np.copyto, (w[0], r[0]), {}),
    "set_grad": lambda c, r, w: (setattr, (c.extra, "_grad", r[0]), {}),
    "add_grad": lambda c, r, w: (np.add, (r[0], r[1], r[0]), {}),
    "clear_grad": lambda c, r, w: (setattr, (c.extra, "_grad", None), {}),
    "step": lambda c, r, w: (_step, (c.op, r), {}),
}
