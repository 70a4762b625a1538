"""Array functions with no gradient: orderings (argsort) and truth tests (any, all,
isnan, isfinite), plus the index that gathers along an axis by a permutation.

They live in the ops package with every other array call of the library; the Tensor layer
wraps their results as constant Tensors (truth tests) or returns them as integer arrays
(indices), as ``argmax`` does. Sorted *values* stay differentiable: they are an indexing of
the input (``Tensor[index]``), whose vjp scatters the gradient back through the permutation.
"""

from typing import Any

import numpy as np

from tinygrad_hw.ops.arrays import along_axis
from tinygrad_hw.ops.devices import namespace_of


def argsort(a: Any, axis: int, descending: bool, stable: bool) -> Any:
    """Indices that sort ``a`` along ``axis``; NaN counts as the largest value (numpy's and
    PyTorch's order). Descending order is the ascending order of the reversed array, read
    backwards: equal elements then keep their original order too (a stable descending sort),
    which ``argsort(-a)`` would not give for unsigned or boolean data."""
    xp = namespace_of(a)
    if type(a) is not np.ndarray and xp.isdtype(a.dtype, "bool"):
        a = xp.astype(a, xp.uint8)  # the standard sorts numbers only; False < True as 0 < 1
    if not descending:
        return xp.argsort(a, axis=axis, stable=stable)
    reverse = along_axis(axis, slice(None, None, -1))
    return a.shape[axis] - 1 - xp.argsort(a[reverse], axis=axis, stable=stable)[reverse]


def along_axis_index(indices: Any, axis: int) -> tuple[Any, ...]:
    """An index tuple that picks ``x[..., indices[..., j, ...], ...]`` along ``axis`` (a
    gather: ``x[index]`` has the shape of ``indices``): open grids on the other axes."""
    xp, ndim = namespace_of(indices), indices.ndim
    grid = [
        xp.reshape(xp.arange(n), (1,) * d + (n,) + (1,) * (ndim - d - 1))
        for d, n in enumerate(indices.shape)
    ]
    grid[axis] = indices
    return tuple(grid)


# Truth tests return arrays, 0-d ones included (numpy gives a bare np.bool_ there).
def any(a: Any, axis: Any, keepdims: bool) -> Any:
    xp = namespace_of(a)
    return xp.asarray(xp.any(a, axis=axis, keepdims=keepdims))


def all(a: Any, axis: Any, keepdims: bool) -> Any:
    xp = namespace_of(a)
    return xp.asarray(xp.all(a, axis=axis, keepdims=keepdims))


def isnan(a: Any) -> Any:
    xp = namespace_of(a)
    return xp.asarray(xp.isnan(a))


def isfinite(a: Any) -> Any:
    xp = namespace_of(a)
    return xp.asarray(xp.isfinite(a))
