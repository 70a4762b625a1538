"""Tensor methods for statistics, products, scans, orderings and truth tests.

The differentiable ones (var, std, prod, cumsum, cumprod, sort, topk's values) check their
arguments and hand the tensor to a primitive through ``apply`` (or, for sort and topk, to the
differentiable indexing). The others return results outside the graph, as comparisons and
``argmax`` do: truth tests give bool Tensors (usable in ``tg.where`` and as masks), index
results give numpy integer arrays.
"""

import operator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.ops import sorting
from tinygrad_hw.ops.arrays import along_axis, argmin
from tinygrad_hw.ops.reductions import reduced_count
from tinygrad_hw.recording import apply, new_tensor
from tinygrad_hw.validation import torch_alias, torch_reduction_names


class StatisticsMethods:
    """var/std, products and scans; orderings; any/all and the NaN tests."""

    __slots__ = ()
    # Every axis= here also takes PyTorch's dim= (and keepdims= its keepdim=), keyword-only
    # aliases checked by validation.torch_alias; the meaning stays numpy's.

    # ----------------------------------------------------------------- statistics
    def var(
        self,
        axis: Any = None,
        keepdims: bool = False,
        ddof: float = 0,
        *,
        correction: Any = None,
        dim: Any = None,
        keepdim: Any = None,
    ) -> Any:
        """Variance sum (x - mean)^2 / (n - ddof) over ``axis``, as ``np.var``: ddof=0 by
        default (the population variance), with dim= too. ``correction=`` is PyTorch's name
        for ddof; note that PyTorch's default is 1 (the sample variance), numpy's and ours 0:
        port ``torch.var(x, dim=0)`` as ``tg.var(x, dim=0, correction=1)``."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("var", axis, keepdims, dim, keepdim)
        axes, ddof = self._variance_arguments("var", axis, ddof, correction)
        return apply(ops.var, self, axis=axes, keepdims=keepdims, ddof=ddof)

    def std(
        self,
        axis: Any = None,
        keepdims: bool = False,
        ddof: float = 0,
        *,
        correction: Any = None,
        dim: Any = None,
        keepdim: Any = None,
    ) -> Any:
        """Standard deviation sqrt(var) (same arguments as var). Its gradient where std = 0
        (a constant slice) is 0, a subgradient, as in PyTorch 2."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("std", axis, keepdims, dim, keepdim)
        axes, ddof = self._variance_arguments("std", axis, ddof, correction)
        return apply(ops.std, self, axis=axes, keepdims=keepdims, ddof=ddof)

    def _variance_arguments(self, op: str, axis: Any, ddof: Any, correction: Any) -> tuple:
        """The checked axes and ddof: reduced slices must be non-empty (ShapeError) and
        longer than ddof (ArgumentError: numpy would warn and return NaN or inf)."""
        if correction is not None:
            if not (isinstance(ddof, int | float) and ddof == 0):
                raise ArgumentError(f"{op}: pass ddof= or correction= (PyTorch's name), not both")
            ddof = correction
        if isinstance(ddof, bool) or not isinstance(ddof, int | float | np.integer | np.floating):
            raise DTypeError(f"{op}: ddof must be a number, got {ddof!r:.60}")
        axes = self._nonempty_axes(op, axis)
        n = reduced_count(self.shape, axes)
        if not 0 <= ddof < n:
            raise ArgumentError(
                f"{op}: ddof={ddof} needs 0 <= ddof < n, the number of elements reduced; "
                f"axis={axis} of shape {self.shape} reduces n={n}"
            )
        return axes, ddof

    # ----------------------------------------------------------------- products and scans
    def prod(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        """Product over ``axis`` (1 over an empty axis, as numpy). Its gradient is the
        product of the other elements, exact when some of them are zero."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("prod", axis, keepdims, dim, keepdim)
        return apply(ops.prod, self, axis=self._axes("prod", axis), keepdims=keepdims)

    def cumsum(self, axis: int | None = None, *, dim: Any = None) -> Any:
        """Running sum along ``axis``; axis=None runs over the flattened tensor (numpy)."""
        if dim is not None:
            axis = torch_alias("cumsum", "axis", axis, None, dim=dim)
        x, axis = self._scan_arguments("cumsum", axis)
        return apply(ops.cumsum, x, axis=axis)

    def cumprod(self, axis: int | None = None, *, dim: Any = None) -> Any:
        """Running product along ``axis``; axis=None runs over the flattened tensor (numpy).
        Its gradient is exact at zeros, to every order."""
        if dim is not None:
            axis = torch_alias("cumprod", "axis", axis, None, dim=dim)
        x, axis = self._scan_arguments("cumprod", axis)
        return apply(ops.cumprod, x, axis=axis)

    def _scan_arguments(self, op: str, axis: Any) -> tuple[Any, int]:
        if axis is None:
            return self.reshape(-1), 0
        return self, self._axis(op, axis)

    # ----------------------------------------------------------------- orderings
    def argmin(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: Any = None,
    ) -> np.ndarray:
        """Index of the minimum (not differentiable): a numpy integer array."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("argmin", axis, keepdims, dim, keepdim)
        return self._index_of_extremum("argmin", argmin, axis, keepdims)

    def argsort(
        self, axis: int = -1, descending: bool = False, stable: bool = True, *, dim: Any = None
    ) -> np.ndarray:
        """Indices that sort along ``axis`` (a numpy integer array; NaN sorts as the largest).
        ``stable`` (the default here, unlike numpy's) keeps equal elements in their order,
        in descending order too."""
        if dim is not None:
            axis = torch_alias("argsort", "axis", axis, -1, dim=dim)
        axis = self._axis("argsort", axis)
        return sorting.argsort(self.data, axis, bool(descending), bool(stable))

    def sort(self, axis: int = -1, descending: bool = False, *, dim: Any = None) -> Any:
        """The values sorted along ``axis``, differentiable: an indexing of self by the
        sorting permutation, whose gradient scatters back to where each value came from.
        The values only, as numpy, under either name (PyTorch's ``sort(dim=)`` is a pair
        (values, indices); here the indices are ``argsort(dim=)``)."""
        if dim is not None:
            axis = torch_alias("sort", "axis", axis, -1, dim=dim)
        axis = self._axis("sort", axis)
        order = sorting.argsort(self.data, axis, bool(descending), True)
        return self[sorting.along_axis_index(order, axis)]

    def topk(
        self, k: int, axis: int = -1, largest: bool = True, sorted: bool = True, *, dim: Any = None
    ) -> tuple[Any, np.ndarray]:
        """(values, indices) of the k largest (``largest=False``: smallest) along ``axis``,
        as ``torch.topk``: values a differentiable Tensor, indices a numpy integer array.
        Ties go to the earlier index. The result is always sorted; ``sorted=False`` is
        accepted for PyTorch compatibility (it leaves the order unspecified there)."""
        if dim is not None:
            axis = torch_alias("topk", "axis", axis, -1, dim=dim)
        axis = self._axis("topk", axis)
        if isinstance(k, bool):
            raise DTypeError(f"topk: k must be an int, got {k!r}")
        try:
            k = operator.index(k)
        except TypeError:
            raise DTypeError(f"topk: k must be an int, got {k!r:.60}") from None
        if not 0 <= k <= self.shape[axis]:
            raise ArgumentError(
                f"topk: k={k} is out of range for axis {axis} of shape {self.shape} "
                f"(0 <= k <= {self.shape[axis]})"
            )
        order = sorting.argsort(self.data, axis, bool(largest), True)
        indices = order[along_axis(axis, slice(0, k))]
        return self[sorting.along_axis_index(indices, axis)], indices

    # ----------------------------------------------------------------- truth tests
    def any(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        """Whether some element along ``axis`` is nonzero: a bool Tensor (not differentiable)."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("any", axis, keepdims, dim, keepdim)
        axes = self._axes("any", axis)
        return new_tensor(type(self), sorting.any(self.data, axes, keepdims))

    def all(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        """Whether every element along ``axis`` is nonzero: a bool Tensor (not differentiable)."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("all", axis, keepdims, dim, keepdim)
        axes = self._axes("all", axis)
        return new_tensor(type(self), sorting.all(self.data, axes, keepdims))

    def isnan(self) -> Any:
        """Elementwise: is NaN (a bool Tensor)."""
        return new_tensor(type(self), sorting.isnan(self.data))

    def isfinite(self) -> Any:
        """Elementwise: neither NaN nor inf (a bool Tensor)."""
        return new_tensor(type(self), sorting.isfinite(self.data))
