"""Sliding windows on numpy: the gather (im2col) and the scatter-add (col2im) behind
convolution and pooling, over the last ``d`` axes of an array with any leading axes.

``unfold(x, kernel, stride, padding, dilation, fill)`` of ``x`` with shape
``(*lead, n_1, ..., n_d)`` is the array ``windows`` of shape ``(*lead, m_1, ..., m_d, k_1, ...,
k_d)`` with

    windows[..., o_1, ..., o_d, j_1, ..., j_d] = x_padded[..., o_1 s_1 + j_1 r_1, ...]

(s the stride, r the dilation, x_padded = x with ``padding`` elements of ``fill`` on both
sides of each axis) and ``m_i = floor((n_i + 2 p_i - r_i (k_i - 1) - 1) / s_i) + 1``, PyTorch's
output size. It is a read-only strided view of x (of one padded copy when padding > 0): no
element is copied. A convolution reshapes it into the rows of one matrix product (the one
copy of im2col); a pooling reduces over its last d axes directly.

``fold`` is its adjoint, the linear map with <unfold(x), c> = <x, fold(c)>: it adds every
window back where it was read from (an element read by several overlapping windows receives
their sum) and drops the padding. It loops over the k_1 ... k_d kernel offsets (each step one
strided, vectorised +=), never over positions.

Both are numpy-only (``as_strided`` is not in the array API): ``NumpyNamespace`` exposes
them as ``xp.unfold`` and ``xp.fold``; their differentiable twins are in
``tinygrad_hw.functions``.
"""

import functools
import itertools
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

Sizes = tuple[int, ...]


def output_size(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """Windows along one axis: floor((n + 2p - r(k - 1) - 1) / s) + 1 (< 1: none fits)."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _padded(x: np.ndarray, padding: Sizes, fill: float) -> np.ndarray:
    """x with ``padding[i]`` elements of ``fill`` on both sides of its i-th trailing axis."""
    if not any(padding):
        return x
    d = len(padding)
    shape = x.shape[:-d] + tuple(n + 2 * p for n, p in zip(x.shape[-d:], padding, strict=True))
    padded = np.full(shape, fill, dtype=x.dtype)
    padded[_interior(x.shape[-d:], padding)] = x
    return padded


def _interior(spatial: Sizes, padding: Sizes) -> tuple[slice, ...]:
    """The index of the unpadded part in a padded array."""
    return (Ellipsis, *(slice(p, p + n) for n, p in zip(spatial, padding, strict=True)))


def unfold(
    x: np.ndarray,
    kernel: Sizes,
    stride: Sizes,
    padding: Sizes,
    dilation: Sizes,
    fill: float = 0.0,
) -> np.ndarray:
    """The windows of x as a read-only strided view (see the module docstring)."""
    d = len(kernel)
    padded = _padded(x, padding, fill)
    steps = padded.strides[-d:]
    counts = tuple(
        output_size(n, k, s, 0, r)
        for n, k, s, r in zip(padded.shape[-d:], kernel, stride, dilation, strict=True)
    )
    shape = padded.shape[:-d] + counts + tuple(kernel)
    strides = (
        padded.strides[:-d]
        + tuple(step * s for step, s in zip(steps, stride, strict=True))
        + tuple(step * r for step, r in zip(steps, dilation, strict=True))
    )
    return as_strided(padded, shape, strides, writeable=False)


def fold(
    windows: np.ndarray,
    spatial: Sizes,
    kernel: Sizes,
    stride: Sizes,
    padding: Sizes,
    dilation: Sizes,
) -> np.ndarray:
    """The adjoint of ``unfold`` onto an input of trailing shape ``spatial``: each window
    added back where it was read, what it read of the padding dropped. The sum is built in
    a fresh array of the input's shape (each offset's slice clipped to the input), not in a
    padded one: no padded allocation, and no copy when it becomes a leaf's ``.grad``."""
    d = len(kernel)
    lead, counts = windows.shape[: -2 * d], windows.shape[-2 * d : -d]
    out = np.zeros(lead + tuple(spatial), windows.dtype)
    for target, source in _fold_plan(tuple(spatial), counts, kernel, stride, padding, dilation):
        view = out[target]
        view += windows[source]  # a view: adds in place, no write-back copy
    return out


@functools.lru_cache(maxsize=512)
def _fold_plan(
    spatial: Sizes, counts: Sizes, kernel: Sizes, stride: Sizes, padding: Sizes, dilation: Sizes
) -> tuple[tuple[tuple, tuple], ...]:
    """(index into the input, index into the windows) for each kernel offset that reads
    some of the input: computed once per shape (a layer's every step reuses it)."""
    plan = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        clipped = [
            _clip(n, m, j * r - p, s)
            for n, m, j, r, p, s in zip(
                spatial, counts, offset, dilation, padding, stride, strict=True
            )
        ]
        if all(c is not None for c in clipped):  # else this offset reads only padding
            target = (Ellipsis, *(t for t, _ in clipped))
            plan.append((target, (Ellipsis, *(w for _, w in clipped), *offset)))
    return tuple(plan)


def _clip(n: int, m: int, start: int, s: int) -> tuple[slice, slice] | None:
    """For the m positions start, start + s, ..., start + (m - 1) s read along an axis of
    n elements (start < 0 or past n - 1: in the padding): the slice of those inside
    [0, n) and the slice of the windows that read them; None when none is inside."""
    first = max(0, -(start // s) if start < 0 else 0)  # the first o with start + o s >= 0
    last = min(m - 1, (n - 1 - start) // s)  # the last o with start + o s <= n - 1
    if first > last:
        return None
    return slice(start + first * s, start + last * s + 1, s), slice(first, last + 1)


# ---------------------------------------------------------------- any array-API library
def _offset_slices(offset: Sizes, dilation: Sizes, counts: Sizes, stride: Sizes) -> tuple:
    """The positions read at one kernel offset: j r, j r + s, ..., j r + (m - 1) s."""
    return (
        Ellipsis,
        *(
            slice(j * r, j * r + (m - 1) * s + 1, s)
            for j, r, m, s in zip(offset, dilation, counts, stride, strict=True)
        ),
    )


def unfold_portable(
    xp: Any, x: Any, kernel: Sizes, stride: Sizes, padding: Sizes, dilation: Sizes, fill: float
) -> Any:
    """``unfold`` with array-API calls only: one strided slice per kernel offset, stacked."""
    d = len(kernel)
    padded = x
    if any(padding):
        shape = x.shape[:-d] + tuple(n + 2 * p for n, p in zip(x.shape[-d:], padding, strict=True))
        padded = xp.full(shape, fill, dtype=x.dtype)
        padded[_interior(x.shape[-d:], padding)] = x
    counts = tuple(
        output_size(n, k, s, 0, r)
        for n, k, s, r in zip(padded.shape[-d:], kernel, stride, dilation, strict=True)
    )
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    pieces = [padded[_offset_slices(o, dilation, counts, stride)] for o in offsets]
    stacked = xp.stack(pieces, axis=-1)  # (*lead, m_1..m_d, k_1 * ... * k_d)
    return xp.reshape(stacked, padded.shape[:-d] + counts + tuple(kernel))


def fold_portable(
    xp: Any, windows: Any, spatial: Sizes, kernel: Sizes, stride: Sizes, padding: Sizes,
    dilation: Sizes,
) -> Any:  # fmt: skip
    """``fold`` with array-API calls only: the same plan of clipped slices as ``fold``, each
    offset's windows added into its strided slice of the input."""
    d = len(kernel)
    lead, counts = windows.shape[: -2 * d], windows.shape[-2 * d : -d]
    out = xp.zeros(lead + tuple(spatial), dtype=windows.dtype)
    for target, source in _fold_plan(tuple(spatial), counts, kernel, stride, padding, dilation):
        out[target] = out[target] + windows[source]
    return out
