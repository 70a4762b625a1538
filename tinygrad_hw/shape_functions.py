"""numpy's layout functions on Tensors: ``tinygrad_hw.flip(x)``, ``tinygrad_hw.pad(x, 1)``,
``tinygrad_hw.hstack([a, b])``, ... Each takes Tensors, arrays or numbers, and is the Tensor
method of the same name where there is one (the method checks the arguments), so a fact is
computed once. ``functions`` re-exports them: ``xp.flip`` and ``xp.roll`` in the vjps of
``ops.layout`` resolve here under ``create_graph``.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_hw import functions, ops
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.recording import TensorBase, apply
from tinygrad_hw.tensor import Tensor


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, TensorBase) else Tensor(x)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    return _tensor(x).swapaxes(axis1, axis2)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    return _tensor(x).moveaxis(source, destination)


def repeat(x: Any, repeats: Any, axis: int | None = None, *, dim: Any = None) -> Tensor:
    return _tensor(x).repeat(repeats, axis, dim=dim)


def tile(x: Any, reps: Any) -> Tensor:
    return _tensor(x).tile(reps)


def flip(x: Any, axis: Any = None, *, dim: Any = None, dims: Any = None) -> Tensor:
    return _tensor(x).flip(axis, dim=dim, dims=dims)


def roll(x: Any, shift: Any, axis: Any = None, *, dim: Any = None, dims: Any = None) -> Tensor:
    return _tensor(x).roll(shift, axis, dim=dim, dims=dims)


def tril(x: Any, k: int = 0) -> Tensor:
    return _tensor(x).tril(k)


def triu(x: Any, k: int = 0) -> Tensor:
    return _tensor(x).triu(k)


def diag(x: Any, k: int = 0) -> Tensor:
    return _tensor(x).diag(k)


def diagonal(
    x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, *, dim1: Any = None, dim2: Any = None
) -> Tensor:
    return _tensor(x).diagonal(offset, axis1, axis2, dim1=dim1, dim2=dim2)


def take_along_axis(x: Any, indices: Any, axis: int | None = -1, *, dim: Any = None) -> Tensor:
    return _tensor(x).take_along_axis(indices, axis, dim=dim)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """numpy's split; no dim=, as PyTorch's split means pieces of a size (Tensor.split)."""
    return _tensor(x).split(indices_or_sections, axis)


# --------------------------------------------------------------------- stacking
def hstack(tensors: Sequence[Any]) -> Tensor:
    """numpy's hstack: 1-d (and 0-d) pieces join end to end, others along axis 1."""
    pieces = [_at_least(t, 1) for t in _sequence("hstack", tensors)]
    return functions.concatenate(pieces, axis=0 if pieces[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """numpy's vstack: pieces as rows (a 1-d piece of n is a (1, n) row), joined on axis 0."""
    return functions.concatenate([_at_least(t, 2) for t in _sequence("vstack", tensors)])


def _sequence(op: str, tensors: Any) -> Sequence[Any]:
    if not isinstance(tensors, list | tuple) or not tensors:
        raise ShapeError(f"{op}: needs a non-empty list or tuple of tensors")
    return tensors


def _at_least(x: Any, ndim: int) -> Any:
    """numpy's atleast_1d / atleast_2d: a 0-d value becomes (1,) or (1, 1), a 1-d (n,) row
    (1, n). Arrays stay arrays, so that concatenate lifts them to the Tensors' dtype."""
    if not isinstance(x, TensorBase):
        return np.atleast_1d(x) if ndim == 1 else np.atleast_2d(x)
    if x.ndim >= ndim:
        return x
    return x.reshape((1,) * (ndim - x.ndim) + x.shape)


# --------------------------------------------------------------------- padding
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Tensor:
    """numpy's pad with mode "constant" or "reflect". ``pad_width`` is numpy's: an int, one
    (before, after) pair, or one pair per axis. "reflect" mirrors about the edge element
    without repeating it (numpy's and PyTorch's reflect) and, as PyTorch, needs each width
    below the axis's size (numpy would reflect again); its gradient adds each mirrored
    element's cotangent back onto the element it copies."""
    x = _tensor(x)
    widths = _pad_widths(pad_width, x.ndim)
    if mode == "constant":
        if not isinstance(constant_values, int | float | np.integer | np.floating) or isinstance(
            constant_values, bool
        ):
            raise DTypeError(f"pad: constant_values must be a number, got {constant_values!r:.40}")
        return apply(ops.pad_constant, x, pad_width=widths, value=constant_values)
    if mode != "reflect":
        raise ArgumentError(f"pad: mode must be 'constant' or 'reflect', got {mode!r}")
    for axis, (before, after) in enumerate(widths):
        x = _reflect(x, axis, before, after)
    return x


def _pad_widths(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """numpy's pad_width forms broadcast to one (before, after) pair of ints >= 0 per axis."""
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise DTypeError(f"pad: pad_width must hold ints, got {pad_width!r:.60}")
    try:
        pairs = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ShapeError(
            f"pad: pad_width {pad_width!r:.60} is not an int, a pair or {ndim} pairs"
        ) from None
    if np.any(pairs < 0):
        raise ArgumentError(f"pad: pad widths must be >= 0, got {pad_width!r:.60}")
    return tuple((int(before), int(after)) for before, after in pairs)


def _reflect(x: Tensor, axis: int, before: int, after: int) -> Tensor:
    """x with ``before`` elements x[before], ..., x[1] in front along ``axis`` and
    x[n-2], ..., x[n-1-after] behind: slices, so the gradient sums each copy back."""
    n = x.shape[axis]
    if before == after == 0:
        return x
    if max(before, after) >= n:
        raise ShapeError(
            f"pad: reflect widths ({before}, {after}) must be below the size {n} of axis "
            f"{axis} (shape {x.shape})"
        )
    lead = (slice(None),) * axis
    stop = n - 2 - after  # -1 would mean "the end" to a slice: None reads up to index 0
    front = x[(*lead, slice(before, 0, -1))]
    back = x[(*lead, slice(n - 2, stop if stop >= 0 else None, -1))]
    return functions.concatenate([front, x, back], axis=axis)
