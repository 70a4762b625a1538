"""Primitives that move elements around without arithmetic: reshape, transpose, indexing,
concatenation, stacking, and matmul's shape bookkeeping."""

import numpy as np

from tinygrad_hw.ops.types import Forward


def reshape(x: np.ndarray, shape: tuple[int, ...]) -> Forward:
    return x.reshape(shape), (lambda g: g.reshape(x.shape),)


def transpose(x: np.ndarray, axes: tuple[int, ...]) -> Forward:
    inverse = tuple(np.argsort(axes))
    return x.transpose(axes), (lambda g: g.transpose(inverse),)


def _has_advanced_index(index: object) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray | list) for p in parts)


def getitem(x: np.ndarray, index: object) -> Forward:
    """x[index]; the gradient scatter-adds, so repeated integer indices accumulate."""
    advanced = _has_advanced_index(index)

    def vjp(g: np.ndarray) -> np.ndarray:
        grad = np.zeros(x.shape, dtype=g.dtype)
        if advanced:
            np.add.at(grad, index, g)
        else:
            grad[index] = g
        return grad

    return x[index], (vjp,)


def concatenate(arrays: list[np.ndarray], axis: int) -> Forward:
    bounds = np.cumsum([0] + [a.shape[axis] for a in arrays])

    def piece(i: int):
        span = (slice(None),) * axis + (slice(bounds[i], bounds[i + 1]),)
        return lambda g: g[span]

    return np.concatenate(arrays, axis=axis), tuple(piece(i) for i in range(len(arrays)))


def stack(arrays: list[np.ndarray], axis: int) -> Forward:
    def piece(i: int):
        return lambda g: np.take(g, i, axis=axis)

    return np.stack(arrays, axis=axis), tuple(piece(i) for i in range(len(arrays)))


def _swap_last(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def matmul(a: np.ndarray, b: np.ndarray) -> Forward:
    """numpy matmul for 1-D, 2-D and batched operands.

    1-D operands are promoted to matrices (a row for ``a``, a column for ``b``) so one pair of
    formulas, dA = g B^T and dB = A^T g, covers every case; the promoted axis is dropped again.
    Batch axes that were broadcast are summed away by the engine.
    """
    out = a @ b
    if a.ndim == 2 and b.ndim == 2:  # the common case, without the 1-D bookkeeping below
        return out, (lambda g: g @ b.T, lambda g: a.T @ g)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b

    def as_matrix_grad(g: np.ndarray) -> np.ndarray:
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        return g

    def grad_a(g: np.ndarray) -> np.ndarray:
        da = as_matrix_grad(g) @ _swap_last(b2)
        return np.squeeze(da, -2) if a.ndim == 1 else da

    def grad_b(g: np.ndarray) -> np.ndarray:
        db = _swap_last(a2) @ as_matrix_grad(g)
        return np.squeeze(db, -1) if b.ndim == 1 else db

    return out, (grad_a, grad_b)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Forward:
    """x @ w + b for a batch of rows x (N, in), w (in, out), b (out,), as one op.

    One node instead of two (matmul, add) and the bias added in place: no second (N, out)
    array. vjps: dx = g w^T, dw = x^T g, db = sum over rows of g.
    """
    out = x @ w
    out += b
    return out, (lambda g: g @ w.T, lambda g: x.T @ g, lambda g: np.add.reduce(g, axis=0))
