"""Tensor: an ndarray, its gradient, and the node that recorded how it was made.

Every method is a one-liner that hands arrays to a primitive in ``ops`` and records the result
with ``_record``; the maths of each op, forward and backward, lives in ``ops`` only.
"""

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.autodiff import Node, _Mode, backward, check_finite_forward
from tinygrad_hw.errors import ArgumentError, BadIndexError, DTypeError, GraphError, ShapeError
from tinygrad_hw.ops.arrays import argmax, cast, copy, is_float_dtype, ndarray, ones
from tinygrad_hw.validation import (
    binary_error,
    clip_bound,
    matmul_error,
    normalize_axes,
    normalize_axis,
    reshape_target,
    to_array,
    transpose_axes,
)


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    ``Tensor(data, requires_grad=False, dtype=None)``: a float ndarray keeps its dtype (and is
    wrapped without a copy); lists and Python numbers become float64 unless ``dtype`` is given.
    Only floating-point tensors can require gradients.
    """

    __slots__ = ("__weakref__", "_node", "data", "grad")
    __array_ufunc__ = None  # make numpy defer to our reflected operators: ndarray + Tensor

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: np.ndarray = to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._node: Node | None = None
        self.requires_grad = requires_grad

    # ----------------------------------------------------------------- attributes
    @property
    def requires_grad(self) -> bool:
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._node is None:
            if not is_float_dtype(self.data.dtype):
                raise DTypeError(
                    f"only floating-point tensors can require gradients, got dtype "
                    f"{self.data.dtype}: pass dtype=np.float32 or np.float64"
                )
            self._node = Node.leaf(self, self.data.shape, self.data.dtype)
        elif not value and self._node is not None:
            if self._node.sink is None:
                raise GraphError(
                    "requires_grad can only be switched off on a leaf tensor; "
                    "use .detach() for a copy outside the graph"
                )
            self._node = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ShapeError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def graph(self, names: Any = None) -> str:
        """The recorded graph of this result as Graphviz DOT text (tinygrad_hw.graph.to_dot)."""
        from tinygrad_hw.graph import to_dot  # graph.py imports this module: import at call time

        return to_dot(self, names)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op (no recorded inputs)."""
        return self._node is None or self._node.sink is not None

    def detach(self) -> "Tensor":
        """The same data, outside the graph (no gradient flows through it)."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, prefix='Tensor(')}, dtype={self.dtype}{grad})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise ShapeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator["Tensor"]:
        for i in range(len(self)):
            yield self[i]

    def __float__(self) -> float:
        return float(self.item())

    # ----------------------------------------------------------------- backward
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``grad`` is d(loss)/d(self); it may be omitted only for a one-element tensor.
        """
        if self._node is None:
            raise GraphError(
                "backward() on a tensor that does not require gradients: it was computed "
                "under no_grad(), or from inputs none of which has requires_grad=True"
            )
        autodiff_seed = self._seed(grad)
        backward(self._node, autodiff_seed, retain_graph)

    def _seed(self, grad: Any) -> np.ndarray:
        if grad is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward() without grad= needs a one-element result, this one has shape "
                    f"{self.shape}: reduce it (.sum(), .mean()) or pass grad= of that shape"
                )
            return ones(self.shape, self.dtype)
        seed = grad.data if isinstance(grad, Tensor) else to_array(grad)
        if seed.shape != self.shape:
            raise ShapeError(
                f"backward(): grad has shape {seed.shape}, the tensor has shape {self.shape}"
            )
        if seed.dtype != self.dtype:
            raise DTypeError(
                f"backward(): grad has dtype {seed.dtype}, the tensor has dtype {self.dtype}"
            )
        return copy(seed)

    def _accumulate_grad(self, g: np.ndarray) -> None:
        """Called by the engine with an array this tensor may own; sums across backward()s."""
        if self.grad is None:
            self.grad = g
        else:
            self.grad += g

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> "Tensor":
        return _binary("add", ops.add, self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return _binary("add", ops.add, other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return _binary("sub", ops.sub, self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return _binary("sub", ops.sub, other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return _binary("mul", ops.mul, self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return _binary("mul", ops.mul, other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return _binary("div", ops.div, self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return _binary("div", ops.div, other, self)

    def __pow__(self, exponent: Any) -> "Tensor":
        if isinstance(exponent, Tensor) and exponent.requires_grad:
            return _binary("pow", ops.power, self, exponent)
        constant = _lift(exponent, self).data
        return _unary("pow", ops.power_const, self, constant)

    def __rpow__(self, base: Any) -> "Tensor":
        return _binary("pow", ops.power, base, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return _matmul(other, self)

    def __neg__(self) -> "Tensor":
        return _unary("neg", ops.neg, self)

    # ----------------------------------------------------------------- elementwise
    def exp(self) -> "Tensor":
        return _unary("exp", ops.exp, self)

    def log(self) -> "Tensor":
        return _unary("log", ops.log, self)

    def sqrt(self) -> "Tensor":
        return _unary("sqrt", ops.sqrt, self)

    def abs(self) -> "Tensor":
        return _unary("abs", ops.abs, self)

    def relu(self) -> "Tensor":
        return _unary("relu", ops.relu, self)

    def sigmoid(self) -> "Tensor":
        return _unary("sigmoid", ops.sigmoid, self)

    def tanh(self) -> "Tensor":
        return _unary("tanh", ops.tanh, self)

    def clip(self, lo: float | None, hi: float | None) -> "Tensor":
        lo, hi = clip_bound("lo", lo), clip_bound("hi", hi)
        if lo is not None and hi is not None and lo > hi:
            raise ArgumentError(f"clip: lo={lo} is greater than hi={hi}")
        return _unary("clip", ops.clip, self, lo, hi)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _unary("sum", ops.sum, self, self._axes("sum", axis), keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _unary("mean", ops.mean, self, self._nonempty_axes("mean", axis), keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _unary("max", ops.max, self, self._nonempty_axes("max", axis), keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _unary("min", ops.min, self, self._nonempty_axes("min", axis), keepdims)

    def logsumexp(self, axis: int = -1, keepdims: bool = False) -> "Tensor":
        axis = self._nonempty_axis("logsumexp", axis)
        return _unary("logsumexp", ops.logsumexp, self, axis, keepdims)

    def softmax(self, axis: int = -1) -> "Tensor":
        return _unary("softmax", ops.softmax, self, self._nonempty_axis("softmax", axis))

    def log_softmax(self, axis: int = -1) -> "Tensor":
        return _unary(
            "log_softmax", ops.log_softmax, self, self._nonempty_axis("log_softmax", axis)
        )

    def argmax(self, axis: int | None = None) -> np.ndarray:
        """Index of the maximum (not differentiable): a numpy integer array."""
        axis = None if axis is None else self._axis("argmax", axis)
        if self.size == 0 and (axis is None or self.shape[axis] == 0):
            raise ShapeError(f"argmax: empty tensor of shape {self.shape}")
        return argmax(self.data, axis)

    def _axis(self, op: str, axis: Any) -> int:
        if self.ndim == 0:
            raise ShapeError(f"{op}: needs at least 1 dimension, got a 0-d tensor")
        return normalize_axis(axis, self.ndim, op, self.shape)

    def _nonempty_axis(self, op: str, axis: Any) -> int:
        axis = self._axis(op, axis)
        if self.shape[axis] == 0:
            raise ShapeError(f"{op}: axis {axis} of shape {self.shape} is empty")
        return axis

    def _axes(self, op: str, axis: Any) -> tuple[int, ...] | None:
        return normalize_axes(axis, self.ndim, op, self.shape)

    def _nonempty_axes(self, op: str, axis: Any) -> tuple[int, ...] | None:
        axes = self._axes(op, axis)
        reduced = range(self.ndim) if axes is None else axes
        if any(self.shape[a] == 0 for a in reduced):
            raise ShapeError(f"{op}: cannot reduce an empty tensor of shape {self.shape}")
        return axes

    # ----------------------------------------------------------------- shapes
    def reshape(self, *shape: Any) -> "Tensor":
        target = reshape_target(shape, self.size, self.shape)
        return _unary("reshape", ops.reshape, self, target)

    def flatten(self) -> "Tensor":
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> "Tensor":
        return _unary("transpose", ops.transpose, self, transpose_axes(axes, self.ndim, self.shape))

    def __getitem__(self, index: Any) -> "Tensor":
        try:
            out, vjps = ops.getitem(self.data, _plain_index(index))
        except (IndexError, ValueError, TypeError) as error:
            raise BadIndexError(
                f"getitem: cannot index shape {self.shape} with {index!r:.80}: {error}"
            ) from None
        return _record("getitem", out, vjps, (self,))


# --------------------------------------------------------------------- recording
def _record(op: str, out: Any, vjps: tuple, inputs: tuple[Tensor, ...]) -> Tensor:
    """Wrap an op's result; record a node when gradients are on and some input needs one."""
    if type(out) is not ndarray:
        out = np.asarray(out)  # reductions to a scalar give numpy scalars
    if _Mode.detect_anomaly:
        check_finite_forward(op, out, tuple(t.data for t in inputs))
    result = Tensor.__new__(Tensor)
    result.data = out
    result.grad = None
    result._node = None
    if _Mode.grad_enabled:
        parents = tuple([t._node for t in inputs])
        if parents.count(None) != len(parents):  # some input needs a gradient
            result._node = Node(op, out.shape, out.dtype, parents, vjps)
    return result


def _lift(value: Any, like: Tensor) -> Tensor:
    """A constant operand as a Tensor; constants take a float tensor's dtype, so that a
    Python number or a float64 array never upcasts a float32 computation."""
    if isinstance(value, Tensor):
        return value
    if type(value) in (float, int) and like.data.dtype.kind == "f":
        return _constant(np.asarray(value, dtype=like.data.dtype))  # the common x * 2.0
    array = to_array(value)
    if array.dtype != like.dtype and is_float_dtype(like.dtype):
        array = cast(array, like.dtype)
    return _constant(array)


def _constant(array: np.ndarray) -> Tensor:
    """A Tensor outside the graph around an array already checked and converted."""
    constant = Tensor.__new__(Tensor)
    constant.data = array
    constant.grad = None
    constant._node = None
    return constant


def _unary(op: str, forward: Any, x: Tensor, *params: Any) -> Tensor:
    try:
        out, vjps = forward(x.data, *params)
    except (TypeError, ValueError) as error:  # -bool, int ** negative int, ...
        raise DTypeError(f"{op}: not defined for a tensor of dtype {x.dtype} ({error})") from None
    return _record(op, out, vjps, (x,))


def _binary(op: str, forward: Any, a: Any, b: Any) -> Tensor:
    a = _lift(a, b) if isinstance(b, Tensor) else a
    b = _lift(b, a)
    try:
        out, vjps = forward(a.data, b.data)
    except (TypeError, ValueError) as error:
        raise binary_error(op, a.data, b.data, error) from None
    return _record(op, out, vjps, (a, b))


def _matmul(a: Any, b: Any) -> Tensor:
    a = _lift(a, b) if isinstance(b, Tensor) else a
    b = _lift(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise matmul_error(a.data, b.data)
    try:
        out, vjps = ops.matmul(a.data, b.data)
    except ValueError:
        raise matmul_error(a.data, b.data) from None
    return _record("matmul", out, vjps, (a, b))


def _plain_index(index: Any) -> Any:
    """Tensors inside an index become their arrays, lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        array = np.asarray(index)  # a ragged list raises ValueError: a BadIndexError above
        return array.astype(np.intp) if array.size == 0 else array  # x[[]], as numpy
    return index
