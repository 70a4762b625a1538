"""Functions for statistics, scans, elementwise extrema, contractions and orderings, under
numpy's names: ``tg.var``, ``tg.cumprod``, ``tg.maximum``, ``tg.einsum``, ``tg.sort``, ...

They take Tensors, arrays or numbers. ``tinygrad_hw.functions`` re-exports them, because it is
also the differentiable ``xp`` of the vjps: a vjp that calls ``xp.cumsum`` or ``xp.einsum``
records itself through these under ``create_graph=True``.

tensordot, inner, outer and dot are spelt as einsums (one primitive, one vjp formula): each
contracts two operands with ``optimize=True``, which numpy runs as one tensordot (one GEMM).
"""

import builtins
import operator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.recording import apply, lift_all
from tinygrad_hw.subscripts import plain_subscripts
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import normalize_axis, torch_alias

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _tensors(op: str, *operands: Any) -> tuple[Tensor, ...]:
    """Operands as Tensors; constants take the dtype of the first float Tensor (as apply)."""
    if not builtins.any(isinstance(x, Tensor) for x in operands):
        operands = (Tensor(operands[0]), *operands[1:])
    return lift_all(op, operands)


# --------------------------------------------------------------------- statistics and scans
# Every axis= (keepdims=) also takes PyTorch's dim= (keepdim=), checked by the method.
def var(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,
    ddof: float = 0,
    *,
    correction: Any = None,
    dim: Any = None,
    keepdim: Any = None,
) -> Tensor:
    """Variance over ``axis`` (numpy's default ddof=0; PyTorch's correction= defaults to 1)."""
    return _tensor(x).var(
        axis=axis, keepdims=keepdims, ddof=ddof, correction=correction, dim=dim, keepdim=keepdim
    )


def std(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,
    ddof: float = 0,
    *,
    correction: Any = None,
    dim: Any = None,
    keepdim: Any = None,
) -> Tensor:
    """Standard deviation over ``axis`` (same arguments as var)."""
    return _tensor(x).std(
        axis=axis, keepdims=keepdims, ddof=ddof, correction=correction, dim=dim, keepdim=keepdim
    )


def prod(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    return _tensor(x).prod(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def cumsum(x: Any, axis: int | None = None, *, dim: Any = None) -> Tensor:
    return _tensor(x).cumsum(axis=axis, dim=dim)


def cumprod(x: Any, axis: int | None = None, *, dim: Any = None) -> Tensor:
    return _tensor(x).cumprod(axis=axis, dim=dim)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise larger of a and b, broadcasting; at a tie each gets half the gradient."""
    return apply(ops.maximum, *_tensors("maximum", a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise smaller of a and b, broadcasting; at a tie each gets half the gradient."""
    return apply(ops.minimum, *_tensors("minimum", a, b))


# --------------------------------------------------------------------- contractions
def einsum(subscripts: str, *operands: Any, optimize: Any = True) -> Tensor:
    """Einstein summation as ``np.einsum`` (see ``tinygrad_hw.subscripts`` for what is
    supported), differentiable to any order in every operand. ``optimize`` is accepted for
    numpy compatibility; the contraction always runs with numpy's ``optimize=True``."""
    if not operands:
        raise ArgumentError("einsum: needs at least one operand")
    tensors = _tensors("einsum", *operands)
    plain = plain_subscripts(subscripts, [t.shape for t in tensors])
    tensors = tuple(
        t.reshape(tuple(n for a, n in enumerate(t.shape) if a not in drop)) if drop else t
        for t, drop in zip(tensors, plain.squeeze, strict=True)
    )
    return apply(ops.einsum(len(tensors)), *tensors, inputs=plain.inputs, output=plain.output)


def _contract(op: str, a: Tensor, b: Tensor, a_axes: tuple, b_axes: tuple) -> Tensor:
    """Sum over a's ``a_axes`` against b's ``b_axes`` (pairwise); the result has a's other
    axes, then b's, in order (tensordot's layout)."""
    if len(a_axes) != len(b_axes):
        raise ShapeError(f"{op}: {len(a_axes)} axes of a against {len(b_axes)} of b")
    a_axes = tuple(normalize_axis(i, a.ndim, op, a.shape) for i in a_axes)
    b_axes = tuple(normalize_axis(i, b.ndim, op, b.shape) for i in b_axes)
    if len(set(a_axes)) != len(a_axes) or len(set(b_axes)) != len(b_axes):
        raise ShapeError(f"{op}: repeated axis in {a_axes} or {b_axes}")
    for i, j in zip(a_axes, b_axes, strict=True):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(
                f"{op}: shapes {a.shape} and {b.shape} are not aligned: axis {i} of a has "
                f"size {a.shape[i]}, axis {j} of b has size {b.shape[j]}"
            )
    if a.ndim + b.ndim - len(a_axes) > len(LETTERS):
        raise ShapeError(f"{op}: too many axes ({a.ndim} and {b.ndim})")
    left = LETTERS[: a.ndim]
    free = iter(LETTERS[a.ndim :])
    paired = dict(zip(b_axes, a_axes, strict=True))
    right = "".join(left[paired[j]] if j in paired else next(free) for j in range(b.ndim))
    output = "".join(c for i, c in enumerate(left) if i not in a_axes)
    output += "".join(c for j, c in enumerate(right) if j not in paired)
    return einsum(f"{left},{right}->{output}", a, b)


def tensordot(a: Any, b: Any, axes: Any = 2, *, dims: Any = None) -> Tensor:
    """numpy's tensordot: ``axes=N`` sums a's last N axes against b's first N; a pair of
    sequences (or ints) names the axes of each. ``dims=`` is torch.tensordot's name."""
    if dims is not None:
        axes = torch_alias("tensordot", "axes", axes, 2, dims=dims)
    a, b = _tensors("tensordot", a, b)
    if isinstance(axes, int | np.integer) and not isinstance(axes, bool):
        n = operator.index(axes)
        if not 0 <= n <= builtins.min(a.ndim, b.ndim):
            raise ShapeError(
                f"tensordot: axes={n} needs 0 <= axes <= the rank of both, shapes {a.shape} "
                f"and {b.shape}"
            )
        return _contract("tensordot", a, b, tuple(range(a.ndim - n, a.ndim)), tuple(range(n)))
    try:
        a_axes, b_axes = axes
    except (TypeError, ValueError):
        raise DTypeError(
            f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}"
        ) from None
    return _contract("tensordot", a, b, _axis_list(a_axes), _axis_list(b_axes))


def _axis_list(axes: Any) -> tuple:
    return tuple(axes) if isinstance(axes, list | tuple) else (axes,)


def inner(a: Any, b: Any) -> Tensor:
    """numpy's inner: the sum over the last axes, a.shape[:-1] + b.shape[:-1]; a 0-d
    operand scales the other."""
    a, b = _tensors("inner", a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return _contract("inner", a, b, (-1,), (-1,))


def outer(a: Any, b: Any) -> Tensor:
    """numpy's outer: out[i, j] = a.flat[i] * b.flat[j]."""
    a, b = _tensors("outer", a, b)
    return einsum("i,j->ij", a.reshape(-1), b.reshape(-1))


def dot(a: Any, b: Any) -> Tensor:
    """numpy's dot: a 0-d operand scales; otherwise the last axis of a against the only axis
    of a 1-d b, or the second-to-last axis of b."""
    a, b = _tensors("dot", a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return _contract("dot", a, b, (-1,), (0,) if b.ndim == 1 else (-2,))


# --------------------------------------------------------------------- orderings, truth tests
def argmax(
    x: Any,
    axis: int | None = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: Any = None,
) -> np.ndarray:
    return _tensor(x).argmax(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def argmin(
    x: Any,
    axis: int | None = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: Any = None,
) -> np.ndarray:
    return _tensor(x).argmin(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def argsort(
    x: Any, axis: int = -1, descending: bool = False, stable: bool = True, *, dim: Any = None
) -> np.ndarray:
    return _tensor(x).argsort(axis=axis, descending=descending, stable=stable, dim=dim)


def sort(x: Any, axis: int = -1, descending: bool = False, *, dim: Any = None) -> Tensor:
    """The sorted values only (torch.sort is a pair (values, indices): see argsort)."""
    return _tensor(x).sort(axis=axis, descending=descending, dim=dim)


def topk(
    x: Any, k: int, axis: int = -1, largest: bool = True, sorted: bool = True, *, dim: Any = None
) -> tuple[Tensor, np.ndarray]:
    return _tensor(x).topk(k, axis=axis, largest=largest, sorted=sorted, dim=dim)


def any(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    return _tensor(x).any(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def all(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    return _tensor(x).all(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def isnan(x: Any) -> Tensor:
    return _tensor(x).isnan()
