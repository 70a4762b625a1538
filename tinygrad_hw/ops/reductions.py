"""Reductions and the softmax family.

``axis`` arrives already checked and normalised to a tuple of non-negative ints (or None for
all axes) by the Tensor layer, so these formulas only do maths.
"""

import numpy as np

from tinygrad_hw.ops.types import Forward

Axes = tuple[int, ...] | None


def _kept_shape(shape: tuple[int, ...], axis: Axes) -> tuple[int, ...]:
    """The shape of the reduction with keepdims=True: reduced axes become 1."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _expand(g: np.ndarray, shape: tuple[int, ...], axis: Axes) -> np.ndarray:
    """Send a reduced gradient back over the reduced axes (a read-only broadcast view)."""
    return np.broadcast_to(g.reshape(_kept_shape(shape, axis)), shape)


def sum(x: np.ndarray, axis: Axes, keepdims: bool) -> Forward:
    return np.sum(x, axis=axis, keepdims=keepdims), (lambda g: _expand(g, x.shape, axis),)


def mean(x: np.ndarray, axis: Axes, keepdims: bool) -> Forward:
    count = x.size if axis is None else int(np.prod([x.shape[i] for i in axis]))
    out = np.mean(x, axis=axis, keepdims=keepdims)
    return out, (lambda g: _expand(g / count, x.shape, axis),)


def _extremum(x: np.ndarray, out_kept: np.ndarray, axis: Axes):
    """Gradient of max/min: split evenly among the elements that tie for the extremum."""
    hits = x == out_kept
    share = hits / np.sum(hits, axis=axis, keepdims=True)
    return lambda g: share * g.reshape(out_kept.shape)


def max(x: np.ndarray, axis: Axes, keepdims: bool) -> Forward:
    out_kept = np.max(x, axis=axis, keepdims=True)
    out = out_kept if keepdims else out_kept.reshape(np.max(x, axis=axis).shape)
    return out, (_extremum(x, out_kept, axis),)


def min(x: np.ndarray, axis: Axes, keepdims: bool) -> Forward:
    out_kept = np.min(x, axis=axis, keepdims=True)
    out = out_kept if keepdims else out_kept.reshape(np.min(x, axis=axis).shape)
    return out, (_extremum(x, out_kept, axis),)


def _stable_max(x: np.ndarray, axis: int) -> np.ndarray:
    """The row maximum used as a shift; rows of all -inf shift by 0 instead of giving NaN."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def logsumexp(x: np.ndarray, axis: int, keepdims: bool) -> Forward:
    """log sum exp x = m + log sum exp(x - m) with m the maximum: no overflow at |x| = 1e4."""
    m = _stable_max(x, axis)
    out_kept = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    out = out_kept if keepdims else np.squeeze(out_kept, axis=axis)
    # d/dx logsumexp = softmax(x) = exp(x - logsumexp(x))
    return out, (lambda g: np.exp(x - out_kept) * g.reshape(out_kept.shape),)


def softmax(x: np.ndarray, axis: int) -> Forward:
    """p = e^(x - m) / sum e^(x - m); vjp p (g - <g, p>), the Jacobian diag(p) - p p^T."""
    e = np.exp(x - _stable_max(x, axis))
    p = e / np.sum(e, axis=axis, keepdims=True)
    return p, (lambda g: p * (g - np.sum(g * p, axis=axis, keepdims=True)),)


def log_softmax(x: np.ndarray, axis: int) -> Forward:
    """x - logsumexp(x); vjp g - softmax(x) sum g. Never the log of an underflowed softmax."""
    shifted = x - _stable_max(x, axis)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out, (lambda g: g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),)
