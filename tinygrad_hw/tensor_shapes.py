"""Layout methods of Tensor: axes added, removed and moved, repetition, flips, triangles and
diagonals, gathers, splits, dtype changes, and ``x[index] = value``.

numpy's meaning wins where numpy has the name (``transpose(*axes)``, ``repeat`` is
``np.repeat``); PyTorch's names are aliases where they mean the same (``permute``, ``view``,
``unsqueeze``), and PyTorch's own semantics where numpy has no such method (``expand``,
``gather``, ``chunk``, ``scatter_add``). Most are compositions of reshape, transpose,
broadcast_to, indexing and where, so their gradients (and second derivatives) come from those
primitives; flip, roll and the write of ``__setitem__`` are primitives of ``ops.layout``.
Every ``axis=`` also takes PyTorch's keyword ``dim=`` (validation.torch_alias), but split's.
"""

import itertools
import operator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.assignment import assign
from tinygrad_hw.errors import ArgumentError, BadIndexError, DTypeError, ShapeError
from tinygrad_hw.ops.arrays import along_axis, cast
from tinygrad_hw.ops.devices import namespace_of, to_device
from tinygrad_hw.recording import TensorBase, apply, lift, new_tensor
from tinygrad_hw.tensor_methods import index_on_device
from tinygrad_hw.validation import normalize_axes, normalize_axis, torch_alias


def _ints(op: str, name: str, value: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple, or DTypeError naming the argument."""
    items = value if isinstance(value, tuple | list) else (value,)
    try:
        if any(isinstance(v, bool | np.bool_) for v in items):
            raise TypeError
        return tuple(operator.index(v) for v in items)
    except TypeError:
        raise DTypeError(
            f"{op}: {name} must be an int or a sequence of ints, got {value!r}"
        ) from None


def _integer_index(op: str, index: Any) -> np.ndarray:
    """An index array (numpy or Tensor) of an integer dtype, or DTypeError."""
    array = np.asarray(index.data if isinstance(index, TensorBase) else index)
    if array.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must have an integer dtype, got {array.dtype}")
    return array


def _index_along(axis: int, index: np.ndarray, sides: tuple[int, ...]) -> tuple:
    """The advanced index that picks ``index`` along ``axis`` and position i along every other
    axis d (an arange of ``sides[d]``, shaped to broadcast against ``index``)."""
    ndim = len(sides)
    return tuple(
        index if d == axis else np.arange(n).reshape([-1 if e == d else 1 for e in range(ndim)])
        for d, n in enumerate(sides)
    )


class LayoutMethods:
    """Ops that move, repeat or select elements, and the dtype and in-place writes."""

    __slots__ = ()

    # ----------------------------------------------------------------- axes of size 1
    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Any:
        """Drop axes of size 1: all of them, or those named (each must have size 1)."""
        if dim is not None:
            axis = torch_alias("squeeze", "axis", axis, None, dim=dim)
        if axis is None:
            axes = tuple(i for i, n in enumerate(self.shape) if n == 1)
        else:
            axes = normalize_axes(axis, self.ndim, "squeeze", self.shape)
        if any(self.shape[a] != 1 for a in axes):
            raise ShapeError(f"squeeze: axes {axis} of shape {self.shape} are not all of size 1")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def expand_dims(self, axis: Any = None, *, dim: Any = None) -> Any:
        """New axes of size 1 at ``axis`` (an int or a tuple), positions in the result."""
        if dim is not None or axis is None:
            axis = torch_alias("expand_dims", "axis", axis, None, dim=dim)
            if axis is None:
                raise ArgumentError("expand_dims: the new axis is missing (axis= or dim=)")
        count = len(axis) if isinstance(axis, tuple | list) else 1
        axes = normalize_axes(axis, self.ndim + count, "expand_dims", self.shape)
        sides = iter(self.shape)
        return self.reshape(
            tuple(1 if i in axes else next(sides) for i in range(len(axes) + self.ndim))
        )

    def unsqueeze(self, dim: int) -> Any:
        """PyTorch's name for ``expand_dims`` with one axis."""
        if isinstance(dim, tuple | list):
            raise DTypeError(f"unsqueeze: dim must be one int, got {dim!r}")
        return self.expand_dims(dim)

    # ----------------------------------------------------------------- axis order
    def swapaxes(self, axis1: int, axis2: int) -> Any:
        """Exchange two axes (PyTorch's ``transpose(d0, d1)``; ``transpose`` here is numpy's)."""
        a = normalize_axis(axis1, self.ndim, "swapaxes", self.shape)
        b = normalize_axis(axis2, self.ndim, "swapaxes", self.shape)
        order = list(range(self.ndim))
        order[a], order[b] = b, a
        return self.transpose(tuple(order))

    def moveaxis(self, source: Any, destination: Any) -> Any:
        """Move axes to new positions, the others keeping their order (numpy's moveaxis)."""
        src = self._axis_list("moveaxis", "source", source)
        dst = self._axis_list("moveaxis", "destination", destination)
        if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
            raise ShapeError(
                f"moveaxis: source {source} and destination {destination} must be distinct "
                "axes, as many of each"
            )
        order = [a for a in range(self.ndim) if a not in src]
        for d, s in sorted(zip(dst, src, strict=True)):
            order.insert(d, s)
        return self.transpose(tuple(order))

    def _axis_list(self, op: str, name: str, value: Any) -> tuple[int, ...]:
        """An int or a sequence of axes, each normalised (order and repeats kept)."""
        return tuple(normalize_axis(a, self.ndim, op, self.shape) for a in _ints(op, name, value))

    def permute(self, *dims: Any) -> Any:
        """PyTorch's name for ``transpose(*axes)`` with every axis given."""
        given = dims[0] if len(dims) == 1 and isinstance(dims[0], tuple | list) else dims
        if len(given) != self.ndim:
            raise ShapeError(f"permute: {len(given)} dims {given} for shape {self.shape}")
        return self.transpose(tuple(given))

    def view(self, *shape: Any) -> Any:
        """PyTorch's name for ``reshape`` (always a new Tensor; there is no aliasing to keep)."""
        return self.reshape(*shape)

    # ----------------------------------------------------------------- broadcasting
    def broadcast_to(self, shape: Any) -> Any:
        """numpy's broadcast_to: each axis equal, or 1 stretched; new axes on the left."""
        target = _ints("broadcast_to", "shape", shape)
        lead = len(target) - self.ndim
        if lead < 0 or any(n not in (1, m) for n, m in zip(self.shape, target[lead:], strict=True)):
            raise ShapeError(f"broadcast_to: shape {self.shape} cannot be broadcast to {target}")
        if any(n < 0 for n in target):
            raise ShapeError(f"broadcast_to: negative size in {target}")
        return apply(ops.broadcast_to, self, shape=target)

    def expand(self, *sizes: Any) -> Any:
        """PyTorch's expand: broadcast_to, where -1 keeps that axis's size."""
        target = _ints("expand", "sizes", sizes[0] if len(sizes) == 1 else sizes)
        lead = len(target) - self.ndim
        if lead < 0 or -1 in target[:lead]:
            raise ShapeError(f"expand: sizes {target} for shape {self.shape}")
        kept = target[:lead] + tuple(
            n if m == -1 else m for n, m in zip(self.shape, target[lead:], strict=True)
        )
        return self.broadcast_to(kept)

    # ----------------------------------------------------------------- repetition
    def repeat(self, repeats: Any, axis: int | None = None, *, dim: Any = None) -> Any:
        """numpy's repeat (PyTorch's ``repeat_interleave``): each element ``repeats`` times
        (an int, or one count per element) along ``axis`` (None: of the flattened tensor).
        PyTorch's ``Tensor.repeat`` is numpy's ``tile``: use ``tile`` for that. An integer
        gather, so repeats' gradients add up."""
        if dim is not None:
            axis = torch_alias("repeat", "axis", axis, None, dim=dim)
        x = self.reshape(-1) if axis is None else self
        ax = 0 if axis is None else normalize_axis(axis, x.ndim, "repeat", x.shape)
        counts = np.asarray(repeats)
        if counts.dtype.kind not in "iu" or counts.ndim > 1:
            raise DTypeError(
                f"repeat: repeats must be an int or a 1-d integer array, got {repeats!r}"
            )
        if counts.ndim == 1 and counts.size not in (1, x.shape[ax]):
            raise ShapeError(f"repeat: {counts.size} repeats for axis {ax} of size {x.shape[ax]}")
        if np.any(counts < 0):
            raise ArgumentError(f"repeat: repeats must be >= 0, got {repeats!r}")
        picks = np.repeat(np.arange(x.shape[ax]), counts)
        return x[along_axis(ax, picks)]

    def tile(self, reps: Any) -> Any:
        """numpy's tile (PyTorch's ``Tensor.repeat``): the whole tensor ``reps[d]`` times along
        each axis d. A broadcast of an axis of size 1 in front of each axis, so the gradient
        is a sum over the copies."""
        reps = _ints("tile", "reps", reps)
        if any(r < 0 for r in reps):
            raise ArgumentError(f"tile: reps must be >= 0, got {reps}")
        ndim = max(len(reps), self.ndim)
        reps = (1,) * (ndim - len(reps)) + reps
        shape = (1,) * (ndim - self.ndim) + self.shape
        spread = self.reshape(tuple(n for side in shape for n in (1, side)))
        copies = spread.broadcast_to(
            tuple(n for pair in zip(reps, shape, strict=True) for n in pair)
        )
        return copies.reshape(tuple(r * n for r, n in zip(reps, shape, strict=True)))

    # ----------------------------------------------------------------- order of elements
    def flip(self, axis: Any = None, *, dim: Any = None, dims: Any = None) -> Any:
        """Reverse the order along ``axis`` (an int, a tuple, or None for every axis);
        ``dims=`` is torch.flip's name for it."""
        if dim is not None or dims is not None:
            axis = torch_alias("flip", "axis", axis, None, dim=dim, dims=dims)
        axes = normalize_axes(axis, self.ndim, "flip", self.shape)
        return apply(ops.flip, self, axis=tuple(range(self.ndim)) if axes is None else axes)

    def roll(self, shift: Any, axis: Any = None, *, dim: Any = None, dims: Any = None) -> Any:
        """numpy's roll: elements move ``shift`` places along ``axis`` and wrap around (None:
        along the flattened tensor, shape restored); ``dims=`` is torch.roll's name."""
        if dim is not None or dims is not None:
            axis = torch_alias("roll", "axis", axis, None, dim=dim, dims=dims)
        shifts = _ints("roll", "shift", shift)
        if axis is None:
            flat = apply(ops.roll, self.reshape(-1), shift=(sum(shifts),), axis=(0,))
            return flat.reshape(self.shape)
        axes = self._axis_list("roll", "axis", axis)
        if len(shifts) != len(axes) and 1 not in (len(shifts), len(axes)):
            raise ShapeError(f"roll: {len(shifts)} shifts for {len(axes)} axes")
        count = max(len(shifts), len(axes))
        shifts, axes = shifts * (count // len(shifts)), axes * (count // len(axes))
        return apply(ops.roll, self, shift=shifts, axis=axes)

    # ----------------------------------------------------------------- triangles, diagonals
    def tril(self, k: int = 0) -> Any:
        """Zero above the k-th diagonal of the last two axes (where with a constant mask)."""
        return self._triangle("tril", k, lower=True)

    def triu(self, k: int = 0) -> Any:
        """Zero below the k-th diagonal of the last two axes."""
        return self._triangle("triu", k, lower=False)

    def _triangle(self, op: str, k: Any, lower: bool) -> Any:
        if self.ndim < 2:
            raise ShapeError(f"{op}: needs at least 2 dimensions, got shape {self.shape}")
        k = _ints(op, "k", k)[0]
        n, m = self.shape[-2:]
        keep = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
        keep = to_device(keep, self.device)
        return apply(ops.where, self, np.zeros((), dtype=self.dtype), condition=keep)

    def diag(self, k: int = 0) -> Any:
        """numpy's diag: a 1-d tensor becomes a square matrix with it on the k-th diagonal; a
        2-d tensor gives its k-th diagonal."""
        k = _ints("diag", "k", k)[0]
        if self.ndim == 2:
            return self.diagonal(k)
        if self.ndim != 1:
            raise ShapeError(f"diag: needs a 1-d or 2-d tensor, got shape {self.shape}")
        n = self.shape[0] + abs(k)
        rows, cols = _diagonal_positions(n, n, k)
        index = index_on_device((rows, cols), self.data, (n, n))
        return apply(ops.scatter_add, self, shape=(n, n), index=index)

    def diagonal(
        self, offset: int = 0, axis1: int = 0, axis2: int = 1, *, dim1: Any = None, dim2: Any = None
    ) -> Any:
        """numpy's diagonal: the entries (i, i + offset) of axes axis1 and axis2 (PyTorch's
        dim1, dim2), as the last axis of the result (a copy, not numpy's read-only view)."""
        if dim1 is not None or dim2 is not None:
            axis1 = torch_alias("diagonal", "axis1", axis1, 0, dim1=dim1)
            axis2 = torch_alias("diagonal", "axis2", axis2, 1, dim2=dim2)
        offset = _ints("diagonal", "offset", offset)[0]
        if self.ndim < 2:
            raise ShapeError(f"diagonal: needs at least 2 dimensions, got shape {self.shape}")
        a = normalize_axis(axis1, self.ndim, "diagonal", self.shape)
        b = normalize_axis(axis2, self.ndim, "diagonal", self.shape)
        if a == b:
            raise ShapeError(f"diagonal: axis1 and axis2 are the same axis ({a})")
        moved = self.moveaxis((a, b), (-2, -1))
        rows, cols = _diagonal_positions(*moved.shape[-2:], offset)
        return moved[..., rows, cols]

    # ----------------------------------------------------------------- gathers
    def take_along_axis(self, indices: Any, axis: int | None = -1, *, dim: Any = None) -> Any:
        """numpy's take_along_axis (PyTorch's take_along_dim): out[..., i, ...] =
        x[..., indices[..., i, ...], ...] along ``axis`` (None: of the flattened tensor);
        indices broadcast against x elsewhere and may be negative. Its gradient
        scatter-adds, so repeated indices accumulate."""
        if dim is not None:
            axis = torch_alias("take_along_axis", "axis", axis, -1, dim=dim)
        index = _integer_index("take_along_axis", indices)
        x = self.reshape(-1) if axis is None else self
        ax = 0 if axis is None else normalize_axis(axis, x.ndim, "take_along_axis", x.shape)
        if index.ndim != x.ndim:
            raise ShapeError(f"take_along_axis: indices of shape {index.shape} for shape {x.shape}")
        try:
            np.broadcast_shapes(
                x.shape[:ax] + x.shape[ax + 1 :], index.shape[:ax] + index.shape[ax + 1 :]
            )
        except ValueError:
            raise ShapeError(
                f"take_along_axis: indices of shape {index.shape} do not broadcast against "
                f"shape {x.shape} outside axis {ax}"
            ) from None
        _check_range("take_along_axis", index, x.shape[ax], allow_negative=True)
        return x[_index_along(ax, index, x.shape)]

    def gather(self, dim: int, index: Any) -> Any:
        """PyTorch's gather: out[i][j] = x[index[i][j]][j] for dim 0 (and so on); index has
        x's number of axes, is no larger than x outside ``dim``, and out has its shape."""
        index = _integer_index("gather", index)
        ax = self._gather_axis("gather", dim, index, self.shape)
        return self[_index_along(ax, index, index.shape)]

    def scatter_add(self, dim: int, index: Any, src: Any) -> Any:
        """PyTorch's scatter_add (out of place): a copy of x with src[i][j] added at
        [index[i][j]][j] for dim 0; repeated indices accumulate."""
        index = _integer_index("scatter_add", index)
        src = src if isinstance(src, TensorBase) else lift(src, self)
        ax = self._gather_axis("scatter_add", dim, index, self.shape)
        if src.ndim != index.ndim or any(
            i > s for i, s in zip(index.shape, src.shape, strict=True)
        ):
            raise ShapeError(
                f"scatter_add: index of shape {index.shape} is larger than src {src.shape}"
            )
        part = src[tuple(slice(0, n) for n in index.shape)]
        added = apply(
            ops.scatter_add,
            part,
            shape=self.shape,
            index=index_on_device(_index_along(ax, index, index.shape), self.data),
        )
        return self + added

    def _gather_axis(self, op: str, dim: Any, index: np.ndarray, shape: tuple[int, ...]) -> int:
        ax = normalize_axis(dim, max(self.ndim, 1), op, shape)
        if index.ndim != self.ndim or any(
            i > n for d, (i, n) in enumerate(zip(index.shape, shape, strict=True)) if d != ax
        ):
            raise ShapeError(
                f"{op}: index of shape {index.shape} must have the {self.ndim} axes of shape "
                f"{shape} and be no larger outside dim {ax}"
            )
        _check_range(op, index, shape[ax] if shape else 1, allow_negative=False)
        return ax

    # ----------------------------------------------------------------- pieces
    def split(self, indices_or_sections: Any, axis: int = 0) -> list[Any]:
        """numpy's split: ``n`` equal pieces (n must divide the axis), or cut before each of
        the given indices (as slices: out-of-range and negative indices as in numpy). No
        ``dim=``, on purpose: PyTorch's ``split(n, dim)`` cuts pieces of size n, which is
        ``split(list(range(n, size, n)), axis)`` here."""
        ax = normalize_axis(axis, self.ndim, "split", self.shape)
        side = self.shape[ax]
        if isinstance(indices_or_sections, tuple | list | np.ndarray):
            cuts = _ints("split", "indices", list(indices_or_sections))
        else:
            (count,) = _ints("split", "sections", indices_or_sections)
            if count < 1 or side % count:
                raise ShapeError(f"split: {count} sections do not divide axis {ax} of size {side}")
            cuts = tuple(range(side // count, side, side // count))[: count - 1]
        bounds = (0, *cuts, side)
        lead = (slice(None),) * ax
        return [self[(*lead, slice(lo, hi))] for lo, hi in itertools.pairwise(bounds)]

    def chunk(self, chunks: int, dim: int = 0) -> list[Any]:
        """PyTorch's chunk: pieces of ceil(size / chunks) along ``dim``, the last one smaller;
        there may be fewer than ``chunks`` pieces."""
        (count,) = _ints("chunk", "chunks", chunks)
        if count < 1:
            raise ArgumentError(f"chunk: chunks must be >= 1, got {count}")
        ax = normalize_axis(dim, self.ndim, "chunk", self.shape)
        side = self.shape[ax]
        step = max(-(-side // count), 1)
        cuts = list(range(step, side, step)) if side else [0] * (count - 1)
        return self.split(cuts, ax)

    # ----------------------------------------------------------------- copies and dtypes
    def clone(self) -> Any:
        """A copy that is still in the graph (the gradient passes through unchanged)."""
        return apply(ops.copy, self)

    def astype(self, dtype: Any) -> Any:
        """The values in another dtype. To a float dtype it is differentiable (the gradient is
        cast back); to an integer or bool dtype the result is a constant, as in PyTorch."""
        try:
            target = np.dtype(dtype)
        except TypeError:
            target = _library_dtype(self.data, dtype)
        if target.kind not in "biuf":
            raise DTypeError(f"astype: dtype {target} is not a real number dtype")
        if target == self.dtype:
            return self
        if target.kind != "f":
            return new_tensor(type(self), cast(self.data, target))
        return apply(ops.astype, self, dtype=target, from_dtype=self.dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Any:
        """Set ``requires_grad`` in place and return self (switching off: leaves only)."""
        self.requires_grad = requires_grad
        return self

    # ----------------------------------------------------------------- x[index] = value
    def __setitem__(self, index: Any, value: Any) -> None:
        """numpy's assignment, recorded out of place (see tinygrad_hw.assignment)."""
        assign(self, index, value)

    # defined last: below this line, ``float`` in the class body would name the method
    def double(self) -> Any:
        """float64, as PyTorch's ``.double()``."""
        return self.astype(np.float64)

    def float(self) -> Any:
        """float32, as PyTorch's ``.float()`` (not Python's float: that is ``float(x)``)."""
        return self.astype(np.float32)


def _diagonal_positions(n: int, m: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the entries (i, i + offset) of an n x m matrix."""
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    rows = np.arange(length) + max(-offset, 0)
    return rows, rows + offset


def _check_range(op: str, index: np.ndarray, side: int, allow_negative: bool) -> None:
    low = -side if allow_negative else 0
    if index.size and (index.min() < low or index.max() >= side):
        bad = index[(index < low) | (index >= side)].flat[0]
        raise BadIndexError(f"{op}: index {bad} is out of range for an axis of size {side}")


def _library_dtype(data: Any, dtype: Any) -> np.dtype:
    """The numpy dtype of one of another array library's dtypes (array-api-strict's)."""
    try:
        found = namespace_of(data).numpy_dtype(dtype)
    except (KeyError, TypeError):
        found = None
    if not isinstance(found, np.dtype):
        raise DTypeError(f"astype: {dtype!r} is not a dtype")
    return found
