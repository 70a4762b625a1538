"""Array helpers the engine and the Tensor layer need, kept here so that every array call of
the library lives in the ops package. Each takes numpy's path inline (the hot path) and any
other library's through its namespace (``ops.devices``)."""

from typing import Any

import numpy as np

from tinygrad_hw.ops.devices import namespace_of

ndarray = np.ndarray


def ones(shape: tuple[int, ...], dtype: Any, like: Any = None) -> Any:
    """Ones of ``shape`` and (numpy) ``dtype``, on the device of ``like`` (numpy if None)."""
    if like is not None and type(like) is not ndarray:
        return namespace_of(like).ones(shape, dtype=dtype)
    if shape == ():
        return np.array(1, dtype=dtype)  # the usual backward() seed; np.ones is slower
    return np.ones(shape, dtype=dtype)


def along_axis(axis: int, index: Any) -> tuple[Any, ...]:
    """The index applying ``index`` to axis ``axis`` and taking every other axis whole:
    ``x[along_axis(1, 0)]`` is ``x[:, 0]``. The closing ``...`` names the remaining axes, as
    the array API standard asks of an index that does not list them all."""
    return (slice(None),) * axis + (index, Ellipsis)


def all_finite(a: Any) -> bool:
    if type(a) is ndarray:
        return bool(np.isfinite(a).all())
    xp = namespace_of(a)
    return bool(xp.all(xp.isfinite(a)))


def is_float_dtype(dtype: Any) -> bool:
    """Whether a numpy dtype is a floating-point one (Tensor.dtype is always numpy's)."""
    return np.issubdtype(dtype, np.floating)


def as_float_arrays(xp: Any, arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    """The inputs of a real-valued op: unchanged if one of them is a float (or complex) array
    (numpy's promotion then decides), else all of them as float64, the dtype numpy gives
    int64 (and np.mean gives every integer): exact for every integer up to 2**53."""
    for a in arrays:
        if xp.numpy_dtype(a.dtype).kind in "fc":
            return arrays
    return tuple([xp.astype(a, np.float64) for a in arrays])


def cast(a: Any, dtype: Any) -> Any:
    if type(a) is ndarray:
        return a if a.dtype == dtype else a.astype(dtype)
    return namespace_of(a).cast(a, dtype)


def copy(a: Any) -> Any:
    if type(a) is ndarray:
        return np.array(a, copy=True)
    return namespace_of(a).copy(a)


def argmax(a: Any, axis: int | None, keepdims: bool = False) -> Any:
    return namespace_of(a).argmax(a, axis=axis, keepdims=keepdims)


def argmin(a: Any, axis: int | None, keepdims: bool = False) -> Any:
    return namespace_of(a).argmin(a, axis=axis, keepdims=keepdims)
