"""Array helpers the engine and the Tensor layer need, kept here so that every array call of
the library lives in the ops package (a GPU backend replaces this package, nothing else)."""

import numpy as np

ndarray = np.ndarray


def ones(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if shape == ():
        return np.array(1, dtype=dtype)  # the usual backward() seed; np.ones is slower
    return np.ones(shape, dtype=dtype)


def all_finite(a: np.ndarray) -> bool:
    return bool(np.isfinite(a).all())


def is_float_dtype(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def as_float_arrays(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The inputs of a real-valued op: unchanged if one of them is a float (or complex) array
    (numpy's promotion then decides), else all of them as float64, the dtype numpy gives
    int64 (and np.mean gives every integer): exact for every integer up to 2**53."""
    for a in arrays:
        if a.dtype.kind in "fc":
            return arrays
    return tuple([a.astype(np.float64) for a in arrays])


def cast(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a if a.dtype == dtype else a.astype(dtype)


def copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True)


def argmax(a: np.ndarray, axis: int | None, keepdims: bool = False) -> np.ndarray:
    return np.argmax(a, axis=axis, keepdims=keepdims)


def argmin(a: np.ndarray, axis: int | None, keepdims: bool = False) -> np.ndarray:
    return np.argmin(a, axis=axis, keepdims=keepdims)
