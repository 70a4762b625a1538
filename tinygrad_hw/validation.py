"""Argument checks shared by the Tensor layer: each turns a bad call into the library's own
error, naming the op and the offending shapes, dtypes or values, before numpy sees it."""

import math
import operator
from typing import Any

import numpy as np

from tinygrad_hw.errors import ArgumentError, BadIndexError, DTypeError, ShapeError
from tinygrad_hw.ops.devices import is_foreign_array, namespace_of


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray: floats keep their dtype, lists and Python numbers
    become float64 unless ``dtype`` says otherwise; strings, objects, None, ragged lists and
    complex numbers are refused."""
    if data is None:
        raise DTypeError("Tensor data is None: pass a number, a (nested) list or a numpy array")
    if isinstance(data, str | bytes):
        raise DTypeError(f"Tensor data is a string ({data!r:.40}): pass numbers")
    if type(data) is not np.ndarray and is_foreign_array(data):
        return _device_array(data, dtype)  # CuPy, array-api-strict: it stays where it is
    try:
        array = np.asarray(data, dtype=dtype)
    except ValueError as error:
        raise DTypeError(
            f"cannot make a Tensor from {type(data).__name__} data (a ragged nested list, "
            f"with rows of different lengths?): {error}"
        ) from None
    except TypeError as error:
        raise DTypeError(f"cannot make a Tensor with dtype={dtype!r}: {error}") from None
    kind = array.dtype.kind
    if kind in "OUSV" or kind == "M" or kind == "m":
        raise DTypeError(
            f"Tensor data of dtype {array.dtype} is not numeric (got {type(data).__name__})"
        )
    if kind == "c":
        raise DTypeError(f"complex data ({array.dtype}) is not supported: pass real numbers")
    if dtype is None and not isinstance(data, np.ndarray | np.generic) and kind in "biu":
        array = array.astype(np.float64)  # Python numbers and lists default to float64
    return array


def _device_array(data: Any, dtype: Any) -> Any:
    """An array of another array-API library, checked as host data is, cast to ``dtype``."""
    xp = namespace_of(data)
    kind = xp.numpy_dtype(data.dtype).kind
    if kind == "c":
        raise DTypeError(f"complex data ({data.dtype}) is not supported: pass real numbers")
    return data if dtype is None else xp.cast(data, np.dtype(dtype))


def normalize_axis(axis: Any, ndim: int, op: str, shape: tuple[int, ...]) -> int:
    """One axis as a non-negative int, or ShapeError naming the axis and the shape."""
    if isinstance(axis, bool | np.bool_):  # operator.index(True) is 1; numpy refuses it too
        raise DTypeError(f"{op}: axis must be an int, got {axis!r}")
    try:
        index = operator.index(axis)
    except TypeError:
        raise DTypeError(f"{op}: axis must be an int, got {axis!r}") from None
    if not -ndim <= index < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for shape {shape} (ndim {ndim})")
    return index % ndim


def normalize_axes(axis: Any, ndim: int, op: str, shape: tuple[int, ...]):
    """None, an int or a tuple of ints as a sorted tuple of distinct axes (None stays None)."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    normalized = tuple(sorted(normalize_axis(a, ndim, op, shape) for a in axes))
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"{op}: repeated axis in {axis} for shape {shape}")
    return normalized


def explain_failure(op: str, arrays: tuple[np.ndarray, ...], error: Exception):
    """The library's error for a forward pass that numpy refused: shapes that do not
    broadcast, an index that does not fit, else dtypes the op is not defined for (-bool,
    int ** negative int, ...)."""
    shapes = " and ".join(str(a.shape) for a in arrays)
    if isinstance(error, IndexError):
        return BadIndexError(f"{op}: cannot index shape {shapes}: {error}")
    if len(arrays) > 1:
        try:
            np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            return ShapeError(f"{op}: shapes {shapes} cannot be broadcast together")
    dtypes = " and ".join(str(a.dtype) for a in arrays)
    what = "dtypes" if len(arrays) > 1 else "a tensor of dtype"
    return DTypeError(f"{op}: not defined for {what} {dtypes} ({error})")


def clip_bound(name: str, value: Any) -> Any:
    """A clip bound: None or a real number."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating)
    ):
        raise DTypeError(f"clip: {name} must be a number or None, got {value!r:.60}")
    if isinstance(value, int) and abs(value) >= 2**1024:  # past float64: clip at +-inf
        return math.inf if value > 0 else -math.inf
    return value


def matmul_error(a: np.ndarray, b: np.ndarray) -> ShapeError:
    if a.ndim == 0 or b.ndim == 0:
        return ShapeError(
            f"matmul: operands must have at least 1 dimension, got shapes "
            f"{a.shape} and {b.shape} (use * for scaling)"
        )
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        return ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
            f"{inner_a} (last axis of the left) != {inner_b} "
            f"({'axis 0' if b.ndim == 1 else 'second-to-last axis'} of the right)"
        )
    return ShapeError(f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast")


def reshape_target(shape: tuple[Any, ...], size: int, current: tuple[int, ...]):
    """The shape tuple for reshape(*shape), checked against the number of elements."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    try:
        target = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise DTypeError(f"reshape: sizes must be ints, got {shape}") from None
    unknown = [i for i, n in enumerate(target) if n == -1]
    if len(unknown) > 1 or any(n < -1 for n in target):
        raise ShapeError(f"reshape: bad target shape {target} (at most one -1, no negatives)")
    known = int(np.prod([n for n in target if n != -1]))
    fits = size % known == 0 if (unknown and known) else known == size
    if not fits or (unknown and known == 0):
        raise ShapeError(
            f"reshape: cannot reshape shape {current} ({size} elements) into shape {target}"
        )
    return target


def transpose_axes(axes: tuple[Any, ...], ndim: int, shape: tuple[int, ...]):
    if len(axes) == 1 and isinstance(axes[0], tuple | list):
        axes = tuple(axes[0])
    if not axes:
        return tuple(reversed(range(ndim)))
    normalized = tuple(normalize_axis(a, ndim, "transpose", shape) for a in axes)
    if sorted(normalized) != list(range(ndim)):
        raise ShapeError(
            f"transpose: axes {axes} are not a permutation of the {ndim} axes of shape {shape}"
        )
    return normalized


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, or the library's error naming ``name`` and the value."""
    try:
        number = operator.index(value)
    except TypeError:
        raise DTypeError(f"{name} must be an int, got {value!r}") from None
    if number < 1:
        raise ArgumentError(f"{name} must be >= 1, got {number}")
    return number


def torch_alias(op: str, name: str, value: Any, default: Any, **torch_names: Any) -> Any:
    """The argument numpy calls ``name``, or the one of PyTorch's names for it that is given
    (not None): ``dim=`` for ``axis``, ``keepdim=`` for ``keepdims``, ``dims=`` where PyTorch
    says so. Two of them given (``value`` counts when it differs from its ``default``) is an
    ArgumentError naming both. The alias is a name only: the op's meaning stays numpy's.

    Callers test their PyTorch names against None first, so that a call without them pays
    one comparison: ``if dim is not None: axis = torch_alias("sum", "axis", axis, None,
    dim=dim)``.
    """
    given = {key: v for key, v in torch_names.items() if v is not None}
    if value is not default and value != default:
        given = {name: value, **given}
    if len(given) > 1:
        names = " and ".join(f"{key}={v!r:.40}" for key, v in given.items())
        raise ArgumentError(
            f"{op}: pass {name}= or PyTorch's name for it ({'= or '.join(torch_names)}=), "
            f"not both (got {names})"
        )
    return next(iter(given.values()), value)


def torch_reduction_names(
    op: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any, axis_default: Any = None
) -> tuple[Any, Any]:
    """A reduction's ``(axis, keepdims)``, either given under numpy's names or under PyTorch's
    ``dim=`` and ``keepdim=`` (``torch_alias`` on each)."""
    return (
        torch_alias(op, "axis", axis, axis_default, dim=dim),
        torch_alias(op, "keepdims", keepdims, False, keepdim=keepdim),
    )
