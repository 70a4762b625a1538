"""What ``tinygrad_hw.jit`` records while a training step runs eagerly: a flat list of calls.

While a step is recorded, ``modes.tracer`` holds a :class:`Tracer`. The library tells it about
every primitive forward call (``recording.record``), every vjp call, gradient sum and delivery
of the backward pass (``autodiff.backward``), every ``Optimizer.step()`` and every read of a
tensor's value (``item()``, ``numpy()``, ``bool()``). The tracer names each array it meets by a
*slot*: a step input, an array computed by a recorded call, or an array from outside (a
parameter, a constant such as the backward seed). What it cannot replay it notes in
``unsupported``, so that the jit runs that step eagerly instead of replaying something stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_hw.ops.primitive import Primitive


@dataclass(frozen=True)
class Slot:
    """A reference to slot ``index`` inside a recorded call's arguments."""

    index: int


@dataclass
class SlotInfo:
    """Where a slot's array comes from: ("input", k), ("computed", None) or ("outside", None);
    an input slot with another dtype than the step's argument is that argument cast."""

    kind: str
    shape: tuple[int, ...]
    dtype: np.dtype
    input_index: int | None = None


@dataclass
class Call:
    """One recorded call. ``kind`` is forward, vjp, sum_to_shape, cast, add, copy, set_grad,
    add_grad or step; ``reads`` are the slots (or None) it reads, ``writes`` the slots it fills;
    ``op`` the primitive (forward, vjp) or the optimizer (step); ``extra`` the rest: params,
    vjp index, target shape or dtype, the tensor receiving a gradient."""

    kind: str
    op: Any
    reads: tuple[Any, ...]
    writes: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    extra: Any = None

    def signature(self) -> tuple:
        """Everything but the arrays held in params: two recordings of the same step agree."""
        params = tuple(sorted((k, _describe(v)) for k, v in self.params.items()))
        if self.kind == "step":
            extra = tuple(id(p) for p in self.extra)
        elif self.kind in ("set_grad", "add_grad", "clear_grad"):
            extra = id(self.extra)
        else:
            extra = _describe(self.extra)
        return (self.kind, id(self.op), self.reads, self.writes, params, extra)


def _describe(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, tuple | list):
        return tuple(_describe(v) for v in value)
    if isinstance(value, np.dtype):
        return value.str
    return value


class Tracer:
    """Collects the calls of one eager run of a step on ``inputs`` (the step's arrays)."""

    def __init__(self, inputs: list[np.ndarray]) -> None:
        self.inputs = inputs
        self.calls: list[Call] = []
        self.slots: list[SlotInfo] = []
        self.arrays: list[Any] = []  # slot -> its array now (kept alive: ids stay unique)
        self.by_id: dict[int, int] = {}
        self.before: dict[int, np.ndarray] = {}  # outside slot -> a copy from when first seen
        self.tensors: dict[int, Any] = {}  # outside slot -> the Tensor that held it, if any
        self.stepped: list[Any] = []  # optimizers stepped
        self.delivered: dict[int, tuple[Any, int]] = {}  # id(tensor) -> (tensor, grad slot)
        self.unsupported: str | None = None
        for k, array in enumerate(inputs):
            self._new_slot(array, SlotInfo("input", array.shape, array.dtype, k))

    # ------------------------------------------------------------------ slots
    def _new_slot(self, array: Any, info: SlotInfo) -> int:
        self.slots.append(info)
        self.arrays.append(array)
        index = len(self.slots) - 1
        if array is not None:
            self.by_id[id(array)] = index
        return index

    def slot_of(self, array: Any, tensor: Any = None) -> int | None:
        """The slot of an array read by a call (a new outside or cast-input slot if unseen)."""
        if array is None:
            return None
        if not isinstance(array, np.ndarray | np.generic):  # a vjp may give a numpy scalar
            self.refuse(f"a call reads a {type(array).__name__} where an array was expected")
            return None
        known = self.by_id.get(id(array))
        if known is not None:
            return known
        for k, given in enumerate(self.inputs):
            if given.shape == array.shape and np.array_equal(given.astype(array.dtype), array):
                return self._new_slot(array, SlotInfo("input", array.shape, array.dtype, k))
        index = self._new_slot(array, SlotInfo("outside", array.shape, array.dtype))
        self.before[index] = np.array(array, copy=True)
        if tensor is not None:
            self.tensors[index] = tensor
        return index

    def _computed(self, array: Any, shape: Any = None, dtype: Any = None) -> int:
        shape = array.shape if array is not None else shape
        dtype = array.dtype if array is not None else dtype
        return self._new_slot(array, SlotInfo("computed", shape, np.dtype(dtype)))

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: self._param(value) for name, value in params.items()}

    def _param(self, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return Slot(self.slot_of(value))
        if isinstance(value, tuple | list):
            return type(value)(self._param(v) for v in value)
        return value

    def refuse(self, reason: str) -> None:
        """Note the first thing that makes this step impossible to replay."""
        if self.unsupported is None:
            self.unsupported = reason

    # ------------------------------------------------------------------ what the library reports
    def forward(
        self,
        primitive: Primitive,
        tensors: tuple[Any, ...],
        arrays: tuple[np.ndarray, ...],
        params: dict[str, Any],
        out: np.ndarray,
        residuals: dict[str, Any] | None,
    ) -> None:
        reads = tuple(self.slot_of(a, t) for a, t in zip(arrays, tensors, strict=True))
        # residuals that are not arrays (shapes, index tuples) reach the vjp as constants
        names = tuple(n for n, v in (residuals or {}).items() if isinstance(v, np.ndarray))
        outs = [out, *(residuals[n] for n in names)]
        if not residuals and any(out is a for a in arrays):
            return  # the op handed back its input (a cast to the same dtype): nothing to run
        if any(id(a) in self.by_id for a in outs):
            self.refuse(f"op '{primitive.name}' returned an array it was given")
        writes = tuple(self._computed(a) for a in outs)
        self.calls.append(Call("forward", primitive, reads, writes, self._params(params), names))

    def backward_start(self, math: Any, targets: Any) -> None:
        if math is not None:
            self.refuse("backward(create_graph=True) inside the step")
        if targets is not None:
            self.refuse("tinygrad_hw.grad() inside the step (use loss.backward())")

    def backward_edge(
        self, node: Any, index: int, g: Any, raw: Any, cotangent: Any, previous: Any, total: Any
    ) -> None:
        """One vjp call of node (for input ``index``), what the engine did with its result
        (summed to the input's shape, cast to its dtype) and the sum with earlier gradients."""
        if node.hooks is not None:
            self.refuse("a gradient hook (register_hook / retain_grad) inside the step")
        out, inputs = node.saved
        kwargs = self._params({**node.params, **(node.residuals or {})})
        reads = (self.slot_of(g), self.slot_of(out), *(self.slot_of(x) for x in inputs))
        current = self._computed(raw)
        self.calls.append(Call("vjp", node.primitive, reads, (current,), kwargs, index))
        parent = node.parents[index]
        if cotangent is not raw:
            if raw.shape != parent.shape:
                summed = self._computed(None, parent.shape, raw.dtype)
                self.calls.append(
                    Call("sum_to_shape", None, (current,), (summed,), {}, parent.shape)
                )
                current = summed
            if raw.dtype != parent.dtype:
                cast = self._computed(None, parent.shape, parent.dtype)
                self.calls.append(Call("cast", None, (current,), (cast,), {}, parent.dtype))
                current = cast
            self.arrays[current] = cotangent
            self.by_id[id(cotangent)] = current
        if previous is not None:
            added = self._computed(total)
            self.calls.append(Call("add", None, (self.slot_of(previous), current), (added,)))

    def deliver(self, leaf: Any, owner: Any, given: Any, owned: Any) -> None:
        """A leaf's gradient handed to its tensor (copied first when the engine did)."""
        if leaf.hooks is not None:
            self.refuse("a gradient hook (register_hook) on a leaf")
        home = self.by_id.get(id(owner.data))
        if home is not None and self.slots[home].kind == "input":
            self.refuse("a step input requires grad (its gradient would go to the first one)")
        slot = self.slot_of(given)
        if owned is not given:
            copied = self._computed(owned)
            self.calls.append(Call("copy", None, (slot,), (copied,)))
            slot = copied
        if owner.grad is None:
            self.calls.append(Call("set_grad", None, (slot,), (), {}, owner))
            self.delivered[id(owner)] = (owner, slot)
        elif (
            id(owner) in self.delivered and owner.grad is self.arrays[self.delivered[id(owner)][1]]
        ):
            target = self.delivered[id(owner)][1]
            self.calls.append(Call("add_grad", None, (target, slot), (), {}, owner))
        else:
            self.refuse(
                "a .grad from before the step is accumulated into (call zero_grad() in the step)"
            )

    def optimizer_step(self, optimizer: Any) -> None:
        mine = {id(p.data) for p in optimizer.params}
        for index, copy in self.before.items():  # before the update: untouched since read
            array = self.arrays[index]
            if id(array) in mine and not np.array_equal(array, copy, equal_nan=True):
                self.refuse("an array the step reads was changed outside the library's ops")
        grads = []
        for p in optimizer.params:
            if p.grad is None:
                grads.append(None)
            elif id(p.grad) in self.by_id and self.slots[self.by_id[id(p.grad)]].kind == "computed":
                grads.append(self.by_id[id(p.grad)])
            else:
                self.refuse("optimizer.step() with a .grad not computed inside the step")
                grads.append(None)
        self.stepped.append(optimizer)
        self.calls.append(Call("step", optimizer, tuple(grads), (), {}, tuple(optimizer.params)))

    def read_value(self, how: str) -> None:
        self.refuse(f"the step reads a tensor's value ({how}), so it may branch on it")

    # ------------------------------------------------------------------ the end of the step
    def finish(self) -> None:
        """Checks once the step has run: no outside array changed but by an optimizer step,
        and the final state of every .grad the step set."""
        stepped = {id(p.data) for opt in self.stepped for p in opt.params}
        for index, copy in self.before.items():
            array = self.arrays[index]
            if id(array) not in stepped and not np.array_equal(array, copy, equal_nan=True):
                self.refuse("an array the step reads was changed outside the library's ops")
        for owner, slot in self.delivered.values():
            if owner.grad is None:
                self.calls.append(Call("clear_grad", None, (), (), {}, owner))
            elif owner.grad is not self.arrays[slot]:
                self.refuse("a .grad was replaced inside the step")
        self.before.clear()

    def forget_computed(self) -> None:
        """Drop every array but those from outside (all a second recording is compared with)."""
        for index, info in enumerate(self.slots):
            if info.kind != "outside":
                self.arrays[index] = None
        self.by_id.clear()

    def result_slots(self, value: Any) -> Any:
        """The step's result as slots: a Tensor or array becomes ("tensor"|"array", slot)."""
        from tinygrad_hw.tensor import Tensor  # tensor.py imports the tape this module serves

        if value is None:
            return None
        if isinstance(value, tuple | list):
            return tuple(self.result_slots(v) for v in value)
        if isinstance(value, Tensor | np.ndarray):
            array = value.data if isinstance(value, Tensor) else value
            slot = self.by_id.get(id(array))
            if slot is None or self.slots[slot].kind == "outside":
                self.refuse("the step returns a value not computed by the library's ops")
                return None
            return ("tensor" if isinstance(value, Tensor) else "array", slot)
        self.refuse(f"the step returns a {type(value).__name__} (return Tensors or None)")
        return None
