"""Array helpers the engine and the Tensor layer need, kept here so that every array call of
the library lives in the ops package (a GPU backend replaces this package, nothing else)."""

import numpy as np

ndarray = np.ndarray


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum ``g`` over the axes that broadcasting added or stretched."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    stretched = tuple(i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1)
    if not stretched:  # only leading axes were added (a bias): a fresh array, no reshape view
        return np.add.reduce(g, axis=tuple(range(extra)))
    return np.add.reduce(g, axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)


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


def argmax(a: np.ndarray, axis: int | None) -> np.ndarray:
    return np.argmax(a, axis=axis)
