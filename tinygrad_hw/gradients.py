"""Gradients as values: ``tinygrad_hw.grad`` and the recorded (create_graph) backward pass.

``grad(outputs, inputs)`` follows ``torch.autograd.grad``: it returns d(outputs)/d(inputs) and
leaves every ``.grad`` untouched. With ``create_graph=True`` the engine runs the primitives'
vjps on Tensors, with ``tinygrad_hw.functions`` as their ``xp``, so the gradients it returns
are themselves recorded and can be differentiated again, to any order.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_hw import functions
from tinygrad_hw.autodiff import Node, backward
from tinygrad_hw.errors import DTypeError, GraphError
from tinygrad_hw.ops.arrays import copy
from tinygrad_hw.ops.devices import is_foreign_array
from tinygrad_hw.ops.shaping import sum_to_shape
from tinygrad_hw.recording import new_tensor
from tinygrad_hw.tensor import Tensor


class TensorMath:
    """Cotangents that record: the engine's arithmetic under ``create_graph``."""

    xp = functions

    @staticmethod
    def lift(array: Any, node: Node | None) -> Tensor | None:
        """A saved array as a Tensor carrying its node, so that gradients flow through it."""
        return None if array is None else new_tensor(Tensor, array, node)

    @staticmethod
    def sum_to_shape(value: Tensor, shape: tuple[int, ...]) -> Tensor:
        return sum_to_shape(functions, value, shape)

    @staticmethod
    def cast(value: Tensor, dtype: Any) -> Tensor:
        return functions.astype(value, dtype)

    @staticmethod
    def array(value: Tensor) -> Any:
        return value.data

    @staticmethod
    def residuals(node: Node, inputs: tuple[Tensor | None, ...]) -> dict[str, Any]:
        """Constant residuals as saved (another library's arrays as constant Tensors: unlike
        numpy's, they do not defer to a Tensor operand); smooth ones again, as Tensors, from
        the forward."""
        if not node.primitive.differentiable_residuals:
            return {
                name: new_tensor(Tensor, value) if is_foreign_array(value) else value
                for name, value in node.residuals.items()
            }
        return node.primitive.forward(functions, *inputs, **node.params)[1]

    @staticmethod
    def deliver(owner: Any, value: Tensor) -> None:
        # a clone: the leaf owns its .grad array (not a view, not shared with a sibling)
        owner._accumulate_grad_tensor(functions.clone(value))


TENSOR_MATH = TensorMath()


def backward_recorded(tensors: Sequence[Tensor], seeds: Sequence[Any], retain: bool) -> None:
    """``backward(create_graph=True)``: every leaf's gradient becomes a recorded Tensor."""
    seeds = [s if isinstance(s, Tensor) else Tensor(s) for s in seeds]
    backward([t._node for t in tensors], seeds, retain, math=TENSOR_MATH)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """d(sum of outputs, each weighted by its grad_output)/d(each input), as Tensors.

    As ``torch.autograd.grad``: ``grad_outputs`` may be omitted for one-element outputs; the
    graph is freed unless ``retain_graph`` (default: ``create_graph``); an input the outputs
    do not depend on is an error naming it, or None with ``allow_unused=True``. Inputs may be
    any tensors in the graph, not only leaves. With ``create_graph`` the results record.
    """
    outs = _tensor_list("outputs", outputs)
    ins = _tensor_list("inputs", inputs)
    for i, t in enumerate(outs):
        if t._node is None:
            raise GraphError(f"grad: outputs[{i}] does not require grad (no graph to go back)")
    for i, t in enumerate(ins):
        if t._node is None:
            raise GraphError(
                f"grad: inputs[{i}] (shape {t.shape}) does not require grad: only tensors "
                "with requires_grad=True, or results computed from them, have gradients"
            )
    seeds = [t._seed(g) for t, g in zip(outs, _per_output(grad_outputs, len(outs)), strict=True)]
    retain = create_graph if retain_graph is None else retain_graph
    if create_graph:
        seeds = [s if isinstance(s, Tensor) else Tensor(s) for s in seeds]
    else:
        seeds = [copy(s.data) if isinstance(s, Tensor) else s for s in seeds]
    found = backward(
        [t._node for t in outs],
        seeds,
        retain,
        math=TENSOR_MATH if create_graph else None,
        targets=[t._node for t in ins],
    )
    return tuple(_result(i, t, found.get(t._node), allow_unused) for i, t in enumerate(ins))


def _result(index: int, tensor: Tensor, value: Any, allow_unused: bool) -> Tensor | None:
    if value is None:
        if allow_unused:
            return None
        raise GraphError(
            f"grad: inputs[{index}] (shape {tensor.shape}) is not used to compute the outputs; "
            "pass allow_unused=True to get None for it"
        )
    if isinstance(value, Tensor):
        return value
    if type(value) is not np.ndarray or value.base is not None or not value.flags.writeable:
        value = copy(value)  # the caller owns the array: no read-only broadcast view
    return Tensor(value)


def _tensor_list(what: str, value: Any) -> list[Tensor]:
    items = [value] if isinstance(value, Tensor) else value
    if not isinstance(items, list | tuple) or not items:
        raise DTypeError(f"grad: {what} must be a Tensor or a non-empty list of Tensors")
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise DTypeError(f"grad: {what}[{i}] is a {type(item).__name__}, not a Tensor")
    return list(items)


def _per_output(grad_outputs: Any, n: int) -> list[Any]:
    if grad_outputs is None:
        return [None] * n
    items = grad_outputs if isinstance(grad_outputs, list | tuple) else [grad_outputs]
    if len(items) != n:
        raise DTypeError(f"grad: {len(items)} grad_outputs for {n} outputs")
    return list(items)
