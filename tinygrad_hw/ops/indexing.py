"""numpy's indexing in the array API standard's narrower terms.

The standard indexes with integers, slices, ``...``, ``None`` and one bool array, and with
integer arrays only when every entry of the index is an integer or an integer array. numpy
also mixes integer arrays with slices (``x[:, [0, 2]]``) and leaves trailing axes out
(``x[0]`` of a matrix). ``standard_index`` rewrites such an index for a library that follows
the standard only (array-api-strict): slice bounds are clipped to the axis, trailing axes
become an explicit ``...``, and an index mixing arrays with slices (or a bool array with
anything) becomes integer arrays alone, one open grid per sliced axis, laid out where numpy
puts each result axis (the broadcast arrays' axes in place of the first array when the arrays
are adjacent, else in front). numpy and CuPy take numpy's index as it is.
"""

from typing import Any


def standard_index(xp: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
    """``index`` (a tuple whose arrays are xp's) as an index the array API standard accepts,
    selecting what numpy's indexing selects from an array of ``shape``."""
    if len(index) == 1 and _is_bool_array(xp, index[0]):
        return index  # a mask, the sole index: the standard's own case
    index = _in_bounds_slices(xp, index, shape)
    if not any(_is_int_array(xp, i) or _is_bool_array(xp, i) for i in index):
        if any(i is Ellipsis for i in index) or _axes_named(xp, index) >= len(shape):
            return index
        return (*index, Ellipsis)
    parts = _spelt_out(xp, index, len(shape))
    if all(not isinstance(p, slice) for p in parts):
        return parts
    return _as_grids(xp, parts, shape)


def _in_bounds_slices(xp: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
    """Slices with their bounds inside the axis (numpy clips them; the standard leaves an
    out-of-bounds start or stop unspecified). Entries after ``...`` count from the end."""
    parts = list(index)
    widths = [0 if p is None or p is Ellipsis else _width(xp, p) for p in parts]
    ellipsis = next((k for k, p in enumerate(parts) if p is Ellipsis), len(parts))
    for k, p in enumerate(parts):
        if not isinstance(p, slice):
            continue
        axis = sum(widths[:k]) if k < ellipsis else len(shape) - sum(widths[k:])
        if not 0 <= axis < len(shape):
            continue  # more entries than axes: the library reports it
        start, stop, step = p.indices(shape[axis])
        if not range(start, stop, step):
            parts[k] = slice(0, 0)
        else:
            parts[k] = slice(start, stop if stop >= 0 else None, step)
    return tuple(parts)


def _width(xp: Any, entry: Any) -> int:
    """How many axes of the indexed array one index entry (not None or ...) consumes."""
    return entry.ndim if _is_bool_array(xp, entry) else 1


def _is_int_array(xp: Any, i: Any) -> bool:
    return hasattr(i, "dtype") and xp.isdtype(i.dtype, "integral")


def _is_bool_array(xp: Any, i: Any) -> bool:
    return hasattr(i, "dtype") and xp.isdtype(i.dtype, "bool")


def _axes_named(xp: Any, parts: tuple[Any, ...]) -> int:
    """How many axes of the indexed array an index without ``...`` accounts for."""
    return sum(_width(xp, i) for i in parts if i is not None)


def _spelt_out(xp: Any, index: tuple[Any, ...], ndim: int) -> tuple[Any, ...]:
    """The index with ``...`` (or the missing trailing axes) as slices and bool arrays as
    their nonzero positions, one integer array per axis, as numpy reads them."""
    parts: list[Any] = []
    for i in index:
        if _is_bool_array(xp, i):
            parts.extend(xp.nonzero(i))
        elif i is None:
            raise IndexError("None (a new axis) mixed with integer arrays")
        else:
            parts.append(i)
    if any(p is Ellipsis for p in parts):
        at = next(k for k, p in enumerate(parts) if p is Ellipsis)
        parts[at : at + 1] = [slice(None)] * (ndim - len(parts) + 1)
    return tuple(parts) + (slice(None),) * (ndim - len(parts))


def _as_grids(xp: Any, parts: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
    """Slices and integer arrays (ints count as 0-d arrays) as integer arrays alone."""
    advanced = [k for k, p in enumerate(parts) if not isinstance(p, slice)]
    arrays = [xp.asarray(parts[k]) for k in advanced]
    block = xp.broadcast_arrays(*arrays)[0].shape
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
    sliced = [k for k, p in enumerate(parts) if isinstance(p, slice)]
    before = sum(1 for k in sliced if k < advanced[0]) if adjacent else 0
    ndim = len(sliced) + len(block)
    grids: list[Any] = [None] * len(parts)
    for k, a in zip(advanced, arrays, strict=True):
        padded = (1,) * (len(block) - a.ndim) + a.shape
        grids[k] = xp.reshape(a, (1,) * before + padded + (1,) * (ndim - before - len(block)))
    position = 0
    for k in sliced:
        if position == before:
            position += len(block)
        steps = xp.arange(*parts[k].indices(shape[k]))
        grids[k] = xp.reshape(steps, (1,) * position + (-1,) + (1,) * (ndim - position - 1))
        position += 1
    return tuple(grids)
