"""Ops that take several tensors, or a condition, rather than methods of one Tensor:
``where``, ``concatenate`` and ``stack`` (exported as ``tinygrad_hw.where`` and so on)."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import DTypeError, ShapeError
from tinygrad_hw.tensor import Tensor, _lift, _record
from tinygrad_hw.validation import normalize_axis


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``condition`` else ``b``, broadcasting all three."""
    mask = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if mask.dtype != bool:
        raise DTypeError(f"where: condition must be boolean, got dtype {mask.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    a = _lift(a, b) if isinstance(b, Tensor) else a
    b = _lift(b, a)
    try:
        out, vjps = ops.where(mask, a.data, b.data)
    except ValueError:
        raise ShapeError(
            f"where: shapes {mask.shape}, {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return _record("where", out, vjps[1:], (a, b))


def _tensor_list(op: str, tensors: Sequence[Any]) -> list[Tensor]:
    if not isinstance(tensors, list | tuple) or not tensors:
        raise ShapeError(
            f"{op}: needs a non-empty list or tuple of tensors, got {type(tensors).__name__}"
        )
    first = next((t for t in tensors if isinstance(t, Tensor)), Tensor(tensors[0]))
    return [_lift(t, first) for t in tensors]


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the gradient is split back into the pieces."""
    parts = _tensor_list("concatenate", tensors)
    axis = parts[0]._axis("concatenate", axis)
    shapes = [t.shape for t in parts]
    if any(len(s) != len(shapes[0]) for s in shapes) or any(
        s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :] for s in shapes
    ):
        raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    out, vjps = ops.concatenate([t.data for t in parts], axis)
    return _record("concatenate", out, vjps, tuple(parts))


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis."""
    parts = _tensor_list("stack", tensors)
    shapes = [t.shape for t in parts]
    if any(s != shapes[0] for s in shapes):
        raise ShapeError(f"stack: all shapes must be equal, got {shapes}")
    axis = normalize_axis(axis, parts[0].ndim + 1, "stack", shapes[0])
    out, vjps = ops.stack([t.data for t in parts], axis)
    return _record("stack", out, vjps, tuple(parts))
