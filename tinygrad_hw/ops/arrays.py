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


def cast(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a if a.dtype == dtype else a.astype(dtype)


def copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True)


def argmax(a: np.ndarray, axis: int | None, keepdims: bool = False) -> np.ndarray:
    return np.argmax(a, axis=axis, keepdims=keepdims)


def argmin(a: np.ndarray, axis: int | None, keepdims: bool = False) -> np.ndarray:
    return np.argmin(a, axis=axis, keepdims=keepdims)
