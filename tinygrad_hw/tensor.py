"""Tensor: an ndarray, its gradient, and the node that recorded how it was made.

Every op method is a one-liner that hands the tensor to a primitive of ``ops`` through
``apply``; the maths of each op, forward and backward, lives in ``ops`` only. This module holds
the attributes, the backward entry point and the operators; the named ops are grouped by kind
in ``tensor_methods``.
"""

import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.autodiff import Node, backward
from tinygrad_hw.errors import DTypeError, GraphError, ShapeError
from tinygrad_hw.hooks import RemovableHandle, hooks_of
from tinygrad_hw.modes import modes
from tinygrad_hw.ops import devices
from tinygrad_hw.ops.arrays import copy, is_float_dtype, ones
from tinygrad_hw.recording import TensorBase, apply, lift_all, lift_to_device, new_tensor
from tinygrad_hw.tensor_math import MathMethods
from tinygrad_hw.tensor_methods import ElementwiseMethods, ReductionMethods, ShapeMethods
from tinygrad_hw.tensor_shapes import LayoutMethods
from tinygrad_hw.tensor_stats import StatisticsMethods
from tinygrad_hw.validation import explain_failure, matmul_error, to_array

REPR_MAX_VALUES = 100  # larger tensors print a one-line summary


def _summary(data: np.ndarray) -> str:
    """``min=-0.1 max=0.1 mean=0.001`` of the finite values, and how many are not finite."""
    if data.size == 0:
        return "empty"
    finite = data[np.isfinite(data)] if data.dtype.kind in "fc" else data
    parts = []
    if finite.size:
        low, high, mean = (float(f(finite.astype(np.float64))) for f in (np.min, np.max, np.mean))
        parts.append(f"min={low:.4g}, max={high:.4g}, mean={mean:.4g}")
    if finite.size < data.size:
        parts.append(f"not finite={data.size - finite.size}")
    return ", ".join(parts)


class Tensor(
    TensorBase,
    ElementwiseMethods,
    ReductionMethods,
    ShapeMethods,
    LayoutMethods,
    MathMethods,
    StatisticsMethods,
):
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: a float ndarray keeps its
    dtype (and is wrapped without a copy); lists and Python numbers become float64 unless
    ``dtype`` is given. Only floating-point tensors can require gradients. A CuPy (or other
    array-API) array stays where it is; host data goes to ``device``, or to the default device
    (``tinygrad_hw.set_default_device``, "cpu" unless changed).
    """

    __slots__ = ("__weakref__", "_grad", "_grad_graph", "_node", "data")
    __array_ufunc__ = None  # make numpy defer to our reflected operators: ndarray + Tensor
    __hash__ = object.__hash__  # == is elementwise (as in numpy), identity stays the hash

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, device: str | None = None
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        array = to_array(data, dtype)
        if device is None and type(array) is np.ndarray:
            device = devices.settings.device  # host data goes to the default device
        if device is not None and (device != "cpu" or type(array) is not np.ndarray):
            array = devices.to_device(array, device)
        self.data: np.ndarray = array
        self._grad: np.ndarray | None = None
        self._grad_graph: Tensor | None = None
        self._node: Node | None = None
        self.requires_grad = requires_grad

    # ----------------------------------------------------------------- attributes
    @property
    def grad(self) -> np.ndarray | None:
        """The gradient accumulated by backward(): an array of this tensor's shape and dtype,
        or None. Assigning checks the value (as PyTorch does); ``del x.grad`` sets it to None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            check_grad_value(value, self.data)
        self._grad = value
        self._grad_graph = None

    @grad.deleter
    def grad(self) -> None:
        self._grad = None
        self._grad_graph = None

    @property
    def requires_grad(self) -> bool:
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._node is None:
            if not is_float_dtype(self.dtype):
                raise DTypeError(
                    f"only floating-point tensors can require gradients, got dtype "
                    f"{self.dtype}: pass dtype=np.float32 or np.float64"
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
        """The numpy dtype, whatever library holds the data (array-api-strict has its own)."""
        data = self.data
        if type(data) is np.ndarray:
            return data.dtype
        return devices.namespace_of(data).numpy_dtype(data.dtype)

    @property
    def device(self) -> str:
        """Where the data lives: "cpu" (numpy), "cuda:0" (CuPy), "array_api_strict", ..."""
        return devices.device_of(self.data)

    def to(self, device: str) -> "Tensor":
        """This tensor on ``device`` ("cpu", "cuda", "cuda:1", "array_api_strict"): itself
        when it is there already, else a copy that stays in the graph (the gradient moves
        back), as PyTorch's ``.to``."""
        if devices.namespace_for_device(device) is devices.namespace_of(self.data) and (
            devices.device_of(self.data) == devices.namespace_of(self.data).canonical(device)
        ):
            return self
        return apply(ops.to_device, self, device=device, source=self.device)

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
        """The data as a numpy array on the host (the array itself on the CPU, else a copy)."""
        if modes.tracer is not None:  # a value read inside a step tinygrad_hw.jit records
            modes.tracer.read_value("numpy()")
        return devices.to_host(self.data)

    def item(self) -> float:
        if modes.tracer is not None:
            modes.tracer.read_value("item()")
        if self.data.size != 1:
            raise ShapeError(f"item() needs a one-element tensor, got shape {self.shape}")
        return devices.to_host(self.data).item()

    def graph(self, names: Any = None) -> str:
        """The recorded graph of this result as Graphviz DOT text (tinygrad_hw.graph.to_dot);
        in Jupyter it shows as the picture."""
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
        """The values when there are at most 100 in at most 2 axes; else one line with the
        shape and a summary (a 784x100 weight must not fill a notebook cell)."""
        grad = ", requires_grad=True" if self.requires_grad else ""
        if type(self.data) is not np.ndarray:
            grad += f", device={self.device!r}"
        host = devices.to_host(self.data)
        if host.size <= REPR_MAX_VALUES and self.ndim <= 2:
            values = np.array2string(host, prefix="Tensor(")
            return f"Tensor({values}, dtype={self.dtype}{grad})"
        return f"Tensor(shape={self.shape}, dtype={self.dtype}{grad}, {_summary(host)})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise ShapeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        for i in range(len(self)):
            yield self[i]

    def __float__(self) -> float:
        return float(self.item())

    # ----------------------------------------------------------------- gradients
    @property
    def grad_tensor(self) -> "Tensor | None":
        """``.grad`` as a Tensor. After ``backward(create_graph=True)`` it is the recorded
        result of the backward pass, so it can be differentiated again (PyTorch's ``x.grad``
        then); otherwise a constant around ``.grad``. None while ``.grad`` is None."""
        if self.grad is None:
            return None
        if self._grad_graph is not None and self._grad_graph.data is self.grad:
            return self._grad_graph
        return Tensor(self.grad)

    def backward(
        self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``grad`` is d(loss)/d(self); it may be omitted only for a one-element tensor. With
        ``create_graph`` the backward pass is recorded too (``.grad_tensor`` holds it), and
        the graph is kept unless ``retain_graph=False``, as in PyTorch.
        """
        if self._node is None:
            raise GraphError(
                "backward() on a tensor that does not require gradients: it was computed "
                "under no_grad(), or from inputs none of which has requires_grad=True"
            )
        seed = self._seed(grad)
        if create_graph:
            from tinygrad_hw.gradients import backward_recorded  # it imports this module

            backward_recorded([self], [seed], retain_graph is not False)
            return
        if isinstance(seed, Tensor):
            seed = copy(seed.data)
        backward([self._node], [seed], bool(retain_graph))

    def register_hook(self, fn: Any) -> RemovableHandle:
        """Call ``fn(grad)`` with d(loss)/d(self), a Tensor, whenever backward computes it.

        As PyTorch: for a leaf before it is accumulated into ``.grad``, for a result once the
        gradients from all its uses are summed. ``fn`` returns None (keep it) or a Tensor of
        the same shape and dtype to use instead; several hooks run in registration order,
        each seeing the previous one's result. Under ``create_graph`` ``grad`` is the recorded
        Tensor, so the hook's maths is differentiated too. Returns a handle: ``.remove()``.
        """
        if not callable(fn):
            raise DTypeError(f"register_hook: fn must be callable, got {type(fn).__name__}")
        return hooks_of(self._graph_node("register_hook"), Tensor, self.dtype).add(fn)

    def retain_grad(self) -> None:
        """Keep this result's gradient in ``.grad`` (accumulated across backward calls, as
        for a leaf; filled after every hook has run). On a leaf it changes nothing."""
        node = self._graph_node("retain_grad")
        if node.sink is None:
            hooks = hooks_of(node, Tensor, self.dtype)
            hooks.retained = weakref.ref(self)
            node.hooks = hooks

    def _graph_node(self, op: str) -> Node:
        if self._node is None:
            raise GraphError(
                f"{op}: the tensor (shape {self.shape}) does not require gradients, so "
                "backward never computes one for it"
            )
        return self._node

    def _seed(self, grad: Any) -> Any:
        """d(loss)/d(self) as an array of self's shape and dtype (a Tensor stays a Tensor)."""
        if grad is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward() without grad= needs a one-element result, this one has shape "
                    f"{self.shape}: reduce it (.sum(), .mean()) or pass grad= of that shape"
                )
            return ones(self.shape, self.dtype, like=self.data)
        seed = grad.data if isinstance(grad, Tensor) else to_array(grad)
        if type(self.data) is not np.ndarray and not isinstance(grad, Tensor):
            seed = devices.to_device(seed, self.device)  # host data for a device tensor
        elif isinstance(grad, Tensor):
            devices.check_same_device("backward(grad=...)", (self.data, seed))
        if seed.shape != self.shape:
            raise ShapeError(
                f"backward(): grad has shape {seed.shape}, the tensor has shape {self.shape}"
            )
        if seed.dtype != self.data.dtype:
            raise DTypeError(
                f"backward(): grad has dtype {seed.dtype}, the tensor has dtype {self.dtype}"
            )
        return grad if isinstance(grad, Tensor) and grad.requires_grad else copy(seed)

    def _accumulate_grad(self, g: np.ndarray) -> None:
        """Called by the engine with an array this tensor may own; sums across backward()s."""
        if self._grad is None:
            self._grad = g
        elif self._grad_graph is not None and self._grad_graph.data is self._grad:
            self._accumulate_grad_tensor(Tensor(g))  # out of place: the graph keeps the old one
        else:
            self._grad += g

    def _accumulate_grad_tensor(self, g: "Tensor") -> None:
        """The engine's delivery under create_graph: the sum stays a recorded Tensor."""
        previous = self.grad_tensor
        total = g if previous is None else previous + g
        self._grad = total.data
        self._grad_graph = total

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> "Tensor":
        return apply(ops.add, self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return apply(ops.add, other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return apply(ops.sub, self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return apply(ops.sub, other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return apply(ops.mul, self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return apply(ops.mul, other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return apply(ops.div, self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return apply(ops.div, other, self)

    def __pow__(self, exponent: Any) -> "Tensor":
        return apply(ops.power, self, exponent)

    def __rpow__(self, base: Any) -> "Tensor":
        return apply(ops.power, base, self)

    def __mod__(self, other: Any) -> "Tensor":  # numpy's remainder: the divisor's sign
        return apply(ops.remainder, self, other)

    def __rmod__(self, other: Any) -> "Tensor":
        return apply(ops.remainder, other, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return _matmul(other, self)

    def __neg__(self) -> "Tensor":
        return apply(ops.neg, self)

    # ----------------------------------------------------------------- comparisons
    # Not differentiable: a bool Tensor outside the graph, for where(), masks and indexing.
    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return _compare("equal", self, other)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return _compare("not_equal", self, other)

    def __lt__(self, other: Any) -> "Tensor":
        return _compare("less", self, other)

    def __le__(self, other: Any) -> "Tensor":
        return _compare("less_equal", self, other)

    def __gt__(self, other: Any) -> "Tensor":
        return _compare("greater", self, other)

    def __ge__(self, other: Any) -> "Tensor":
        return _compare("greater_equal", self, other)

    def __and__(self, other: Any) -> "Tensor":
        return _compare("logical_and", self, other)

    def __or__(self, other: Any) -> "Tensor":
        return _compare("logical_or", self, other)

    def __invert__(self) -> "Tensor":
        return new_tensor(Tensor, devices.namespace_of(self.data).logical_not(self.data))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ShapeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous: use "
                ".any() or .all()"
            )
        if modes.tracer is not None:
            modes.tracer.read_value("bool() (an if or while on a tensor)")
        return bool(self.data)


def _matmul(a: Any, b: Any) -> Tensor:
    a, b = lift_all("matmul", (a, b))
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        raise matmul_error(a.data, b.data)
    return apply(ops.matmul, a, b)


def _compare(name: str, a: Tensor, b: Any) -> Tensor:
    if isinstance(b, Tensor):
        other = b.data
        devices.check_same_device(name, (a.data, other))
    elif type(a.data) is np.ndarray:
        other = to_array(b)
    else:  # a constant, on a's device (a Python number stays one: no promotion)
        other = b if type(b) in (int, float, bool) else lift_to_device(b, a.data)
    try:
        return new_tensor(Tensor, getattr(devices.namespace_of(a.data), name)(a.data, other))
    except (TypeError, ValueError) as error:
        raise explain_failure(name, (a.data, other), error) from None


def check_grad_value(value: Any, data: np.ndarray) -> None:
    """What ``x.grad = value`` accepts: an ndarray of x's shape and dtype (PyTorch refuses a
    gradient of another type, size or dtype on assignment too)."""
    if not isinstance(value, np.ndarray) and not hasattr(value, "__array_namespace__"):
        hint = ".data of it" if isinstance(value, Tensor) else "np.asarray(...)"
        raise DTypeError(
            f".grad = {type(value).__name__}: a gradient must be an array; assign {hint} of "
            f"shape {data.shape} and dtype {data.dtype}"
        )
    devices.check_same_device(".grad =", (data, value))
    if value.dtype != data.dtype:
        raise DTypeError(
            f".grad = an array of dtype {value.dtype}: the tensor has dtype {data.dtype}"
        )
    if value.shape != data.shape:
        raise ShapeError(
            f".grad = an array of shape {value.shape}: the tensor has shape {data.shape}"
        )
