"""``apply``: the one way an op is run and recorded, for the library's ops and the user's.

``apply(primitive, *operands, **params)`` turns constant operands into Tensors of the right
dtype, runs the primitive's forward on the arrays, and, when recording is on and some operand
requires grad, leaves a Node holding what the primitive declared its vjps need. This module
knows the Tensor class only through the operands it is given (results have the type of the
first Tensor operand), so the Tensor class can be built on top of it.
"""

from typing import Any

import numpy as np

from tinygrad_hw import saved_arrays
from tinygrad_hw.autodiff import Node, check_finite_forward
from tinygrad_hw.errors import ArgumentError, DTypeError, SizeError, TinygradHWError
from tinygrad_hw.modes import call_site, modes
from tinygrad_hw.ops.arrays import as_float_arrays, cast, is_float_dtype, ndarray
from tinygrad_hw.ops.devices import check_same_device, device_of, is_foreign_array, namespace_of
from tinygrad_hw.ops.namespace import NUMPY, ArrayNamespace
from tinygrad_hw.ops.primitive import Primitive
from tinygrad_hw.validation import explain_failure, to_array


class TensorBase:
    """The base of the Tensor class, so that this module recognises Tensors without importing
    the class that is built on it."""

    __slots__ = ()


def apply(primitive: Primitive, *operands: Any, **params: Any) -> Any:
    """Run ``primitive`` on ``operands`` (Tensors, arrays or numbers; at least one Tensor) and
    record it for backward. ``params`` are the op's non-differentiable arguments.

    Example: ``y = tinygrad_hw.apply(cube, x)`` for ``cube`` made by ``tinygrad_hw.primitive``.
    """
    if primitive.__class__ is not Primitive and not isinstance(primitive, Primitive):
        raise DTypeError(f"apply: expected a Primitive, got {type(primitive).__name__}")
    if len(operands) != primitive.arity:
        raise ArgumentError(
            f"apply: {primitive.name} takes {primitive.arity} tensor input(s) (one per vjp), "
            f"got {len(operands)}"
        )
    tensors = operands
    for operand in operands:
        if not isinstance(operand, TensorBase):
            tensors = lift_all(primitive.name, operands)
            break
    arrays = tuple([t.data for t in tensors])
    kind = type(arrays[0])
    for array in arrays:
        if type(array) is not kind:  # numpy would pull another library's array to the host
            check_same_device(primitive.name, arrays)
            break
    xp = NUMPY if kind is ndarray else namespace_of(arrays[0])
    if primitive.needs_float:  # integer/bool inputs of exp, sigmoid, softmax ... as float64
        arrays = as_float_arrays(xp, arrays)
    try:
        if params:
            result = primitive.forward(xp, *arrays, **params)
        else:  # a call without ** is a cheaper one for CPython
            result = primitive.forward(xp, *arrays)
    except TinygradHWError:
        raise
    except (TypeError, ValueError, IndexError) as error:  # numpy's refusals, renamed
        raise explain_failure(primitive.name, _as_numpy_shapes(xp, arrays), error) from None
    except MemoryError as error:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise SizeError(
            f"{primitive.name}: the result for inputs of shapes {shapes} is too large to "
            f"allocate ({error})"
        ) from None
    residuals = None
    if primitive.residuals:
        result, residuals = result
    return record(primitive, result, tensors, arrays, params, residuals, xp)


def _as_numpy_shapes(xp: ArrayNamespace, arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    """For an error message: arrays of another library as numpy stand-ins of their shape and
    dtype (0-d arrays broadcast, no copy), so the message names numpy's dtypes everywhere."""
    if xp is NUMPY:
        return arrays
    return tuple(np.broadcast_to(np.empty((), xp.numpy_dtype(a.dtype)), a.shape) for a in arrays)


def record(
    primitive: Primitive,
    out: Any,
    tensors: tuple[Any, ...],
    arrays: tuple[ndarray, ...],
    params: dict[str, Any],
    residuals: dict[str, Any] | None = None,
    xp: ArrayNamespace = NUMPY,
) -> Any:
    """Wrap a forward result; record a node when gradients are on and an input needs one."""
    if type(out) is not ndarray and isinstance(out, np.generic):
        out = np.asarray(out)  # reductions to a scalar give numpy scalars
    site = None
    switches = modes  # one thread-local lookup
    if switches.detect_anomaly:
        check_finite_forward(primitive.name, out, arrays)
        site = call_site()
    cls = type(tensors[0])
    result = cls.__new__(cls)
    result.data = out
    result._grad = result._grad_graph = result._node = None
    if switches.tracer is not None:  # tinygrad_hw.jit is recording a step
        switches.tracer.forward(primitive, tensors, arrays, params, out, residuals)
    if switches.grad_enabled:
        parents = tuple([t._node for t in tensors])
        if parents.count(None) != len(parents):  # some input needs a gradient
            keep = primitive.saves_inputs
            inputs = arrays if keep is True else primitive.saved_inputs(arrays)
            saved = (out if primitive.saves_out else None, inputs)
            result._node = Node(
                primitive, out.shape, out.dtype, parents, params, saved, residuals, None, site,
                xp.lock(inputs),  # saved inputs are read-only until backward has used them
                saved_arrays.writes,
            )  # fmt: skip
    return result


def new_tensor(cls: type, array: ndarray, node: Node | None = None) -> Any:
    """A Tensor around an array that is already checked and converted (no copy); ``record``
    does the same inline, on the hot path."""
    tensor = cls.__new__(cls)
    tensor.data = array
    tensor._grad = None
    tensor._grad_graph = None
    tensor._node = node
    return tensor


def lift_all(op: str, operands: tuple[Any, ...]) -> tuple[Any, ...]:
    """Every operand as a Tensor; constants take the dtype of the first float Tensor."""
    like = None
    for operand in operands:
        if isinstance(operand, TensorBase) and (
            like is None or (not is_float_dtype(like.dtype) and is_float_dtype(operand.dtype))
        ):
            like = operand
    if like is None:
        raise DTypeError(f"{op}: needs at least one Tensor operand, got only constants")
    return tuple([x if isinstance(x, TensorBase) else lift(x, like) for x in operands])


def lift(value: Any, like: Any) -> Any:
    """A constant operand as a Tensor outside the graph; constants take a float tensor's dtype,
    so that a Python number or a float64 array never upcasts a float32 computation."""
    if isinstance(value, TensorBase):
        return value
    cls, dtype = type(like), like.data.dtype
    if type(like.data) is not ndarray:  # another library's array: the constant goes there
        return new_tensor(cls, lift_to_device(value, like.data))
    if type(value) in (float, int) and dtype.kind == "f":
        try:
            return new_tensor(cls, np.asarray(value, dtype=dtype))  # the common x * 2.0
        except OverflowError:
            raise ArgumentError(
                f"a constant of {len(str(abs(value)))} digits is too large for a number of "
                f"dtype {dtype}"
            ) from None
    array = to_array(value)
    if array.dtype != dtype and is_float_dtype(dtype):
        array = cast(array, dtype)
    return new_tensor(cls, array)


def lift_to_device(value: Any, like: ndarray) -> Any:
    """A constant as an array on the device of ``like`` (an array of a library other than
    numpy), in like's dtype when like is a float array; another device's array is refused."""
    xp = namespace_of(like)
    if is_foreign_array(value):
        check_same_device("a constant operand", (like, value))
        array = value
    else:
        array = xp.from_numpy(to_array(value), device_of(like))
    dtype = xp.numpy_dtype(like.dtype)
    if is_float_dtype(dtype):
        array = xp.cast(array, dtype)
    return array
