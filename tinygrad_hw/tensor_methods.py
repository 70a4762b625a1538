"""The named ops of Tensor, grouped by kind: each method checks its arguments (naming the op,
the shape and the culprit) and hands the tensor to its primitive through ``apply``."""

from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, BadIndexError, DTypeError, ShapeError
from tinygrad_hw.mistakes import check_log_input
from tinygrad_hw.ops import devices
from tinygrad_hw.ops.arrays import argmax
from tinygrad_hw.recording import apply
from tinygrad_hw.validation import (
    clip_bound,
    normalize_axes,
    normalize_axis,
    reshape_target,
    torch_alias,
    torch_reduction_names,
    transpose_axes,
)


class ElementwiseMethods:
    """Functions applied to every element."""

    __slots__ = ()

    def exp(self) -> Any:
        return apply(ops.exp, self)

    def log(self) -> Any:
        check_log_input(self)  # log of a softmax or sigmoid: a warning naming the fused op
        return apply(ops.log, self)

    def sqrt(self) -> Any:
        return apply(ops.sqrt, self)

    def abs(self) -> Any:
        return apply(ops.abs, self)

    def relu(self) -> Any:
        return apply(ops.relu, self)

    def sigmoid(self) -> Any:
        return apply(ops.sigmoid, self)

    def tanh(self) -> Any:
        return apply(ops.tanh, self)

    def clip(self, lo: float | None, hi: float | None) -> Any:
        lo, hi = clip_bound("lo", lo), clip_bound("hi", hi)
        if lo is None and hi is None:
            raise ArgumentError("clip: at least one of lo and hi must be a number (as PyTorch)")
        if lo is not None and hi is not None and lo > hi:
            raise ArgumentError(f"clip: lo={lo} is greater than hi={hi}")
        return apply(ops.clip, self, lo=lo, hi=hi)


class ReductionMethods:
    """Reductions over axes, and the softmax family along one axis."""

    __slots__ = ()

    # Each reduction also takes PyTorch's names dim= and keepdim= (keyword-only aliases of
    # axis= and keepdims=; the meaning stays numpy's, see validation.torch_alias). A call
    # without them pays one `is not None` test.
    def sum(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("sum", axis, keepdims, dim, keepdim)
        return apply(ops.sum, self, axis=self._axes("sum", axis), keepdims=keepdims)

    def mean(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("mean", axis, keepdims, dim, keepdim)
        return apply(ops.mean, self, axis=self._nonempty_axes("mean", axis), keepdims=keepdims)

    def max(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        """The largest value over ``axis``: the values only, as numpy, under either name.
        PyTorch's ``x.max(dim=1)`` returns a pair (values, indices); here the indices are
        ``x.argmax(dim=1)``."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("max", axis, keepdims, dim, keepdim)
        return apply(ops.max, self, axis=self._nonempty_axes("max", axis), keepdims=keepdims)

    def min(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        """The smallest value over ``axis``: the values only (PyTorch's ``x.min(dim=1)`` is a
        pair (values, indices); here the indices are ``x.argmin(dim=1)``)."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("min", axis, keepdims, dim, keepdim)
        return apply(ops.min, self, axis=self._nonempty_axes("min", axis), keepdims=keepdims)

    def logsumexp(
        self, axis: int = -1, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
    ) -> Any:
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("logsumexp", axis, keepdims, dim, keepdim, -1)
        axis = self._nonempty_axis("logsumexp", axis)
        return apply(ops.logsumexp, self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1, *, dim: Any = None) -> Any:
        if dim is not None:
            axis = torch_alias("softmax", "axis", axis, -1, dim=dim)
        return apply(ops.softmax, self, axis=self._nonempty_axis("softmax", axis))

    def log_softmax(self, axis: int = -1, *, dim: Any = None) -> Any:
        if dim is not None:
            axis = torch_alias("log_softmax", "axis", axis, -1, dim=dim)
        return apply(ops.log_softmax, self, axis=self._nonempty_axis("log_softmax", axis))

    def argmax(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: Any = None,
    ) -> np.ndarray:
        """Index of the maximum (not differentiable): a numpy integer array."""
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_reduction_names("argmax", axis, keepdims, dim, keepdim)
        return self._index_of_extremum("argmax", argmax, axis, keepdims)

    def _index_of_extremum(self, op: str, find: Any, axis: Any, keepdims: Any) -> np.ndarray:
        """argmax/argmin's checks (an axis, a non-empty slice), then ``find`` on the data."""
        axis = None if axis is None else self._axis(op, axis)
        if self.size == 0 and (axis is None or self.shape[axis] == 0):
            raise ShapeError(f"{op}: empty tensor of shape {self.shape}")
        return find(self.data, axis, bool(keepdims))

    def _axis(self, op: str, axis: Any) -> int:
        if self.ndim == 0:
            raise ShapeError(f"{op}: needs at least 1 dimension, got a 0-d tensor")
        return normalize_axis(axis, self.ndim, op, self.shape)

    def _nonempty_axis(self, op: str, axis: Any) -> int:
        axis = self._axis(op, axis)
        if self.shape[axis] == 0:
            raise ShapeError(f"{op}: axis {axis} of shape {self.shape} is empty")
        return axis

    def _axes(self, op: str, axis: Any) -> tuple[int, ...] | None:
        return normalize_axes(axis, self.ndim, op, self.shape)

    def _nonempty_axes(self, op: str, axis: Any) -> tuple[int, ...] | None:
        axes = self._axes(op, axis)
        reduced = range(self.ndim) if axes is None else axes
        if any(self.shape[a] == 0 for a in reduced):
            raise ShapeError(f"{op}: cannot reduce an empty tensor of shape {self.shape}")
        return axes


class ShapeMethods:
    """Ops that move elements without arithmetic."""

    __slots__ = ()

    def reshape(self, *shape: Any) -> Any:
        return apply(ops.reshape, self, shape=reshape_target(shape, self.size, self.shape))

    def flatten(self) -> Any:
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> Any:
        return apply(ops.transpose, self, axes=transpose_axes(axes, self.ndim, self.shape))

    def __getitem__(self, index: Any) -> Any:
        try:
            index = plain_index(index)
            if type(self.data) is not np.ndarray:  # host index arrays go to the data's device
                index = index_on_device(index, self.data)
            return apply(ops.getitem, self, index=index)
        except (BadIndexError, DTypeError, ValueError) as error:  # numpy's refusal, renamed
            raise BadIndexError(
                f"getitem: cannot index shape {self.shape} with {index!r:.80} ({error})"
            ) from None


def plain_index(index: Any) -> Any:
    """Tensors inside an index become their arrays, lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(plain_index(i) for i in index)
    if hasattr(index, "_node"):  # a Tensor (a bool mask, integer indices)
        return index.data
    if isinstance(index, list):
        array = np.asarray(index)  # a ragged list raises ValueError: a BadIndexError above
        return array.astype(np.intp) if array.size == 0 else array  # x[[]], as numpy
    return index


def index_on_device(index: Any, data: Any, shape: tuple[int, ...] | None = None) -> Any:
    """The index, into an array of ``shape`` (data's by default), for ``data``'s library when
    that is not numpy: its numpy arrays moved to data's device (the standard indexes an array
    only with arrays of its own library), then in the form that library's indexing takes
    (ops.indexing). numpy's data: the index unchanged."""
    if type(data) is np.ndarray:
        return index
    parts = index if isinstance(index, tuple) else (index,)
    device = devices.device_of(data)
    moved = tuple(devices.to_device(i, device) if isinstance(i, np.ndarray) else i for i in parts)
    return devices.namespace_of(data).standard_index(moved, data.shape if shape is None else shape)
