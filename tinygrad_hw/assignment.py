"""``x[index] = value``: numpy's assignment, recorded so that gradients stay right.

PyTorch's rules say what may be written: not a leaf that requires grad (outside no_grad), and
on anything else the write is an op of (old x, value). After it, x's gradient passes to the
old x everywhere except at ``index``, and to ``value`` from ``index`` (summed back over
broadcasting).

The write is out of place: a copy of ``x.data`` is written and bound to ``x.data``, and x's
node becomes the write's node. Earlier nodes saved arrays by reference (``y = x * w`` keeps
x's array for w's gradient): an in-place write would silently change w's gradient. Out of
place, every saved array keeps the values its op was run on, so there is nothing to detect
(PyTorch needs version counters and an error at backward for that). The price, documented:
a numpy view taken of x's array earlier (``x.numpy()``, the array of ``x.reshape(...)``)
does not see the write, where PyTorch's views would.

On a library that follows the array API standard only (array-api-strict), ``__setitem__``
takes no integer array and no new axis: there the write goes through a bool mask of x's
shape instead, the value broadcast to ``x[index]`` and reordered to the mask's order
(``_as_mask_write``). numpy's data keeps numpy's own assignment.
"""

import math
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import BadIndexError, DTypeError, GraphError, ShapeError
from tinygrad_hw.modes import enable_grad, is_grad_enabled
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.recording import TensorBase, apply, lift_to_device, new_tensor
from tinygrad_hw.tensor_methods import index_on_device, plain_index
from tinygrad_hw.validation import to_array


def assign(x: Any, index: Any, value: Any) -> None:
    """``x[index] = value`` on the Tensor ``x`` (value: a Tensor, an array or a number)."""
    recording = is_grad_enabled()
    if recording and x.requires_grad and x.is_leaf:
        raise GraphError(
            f"setitem: a leaf tensor that requires grad (shape {x.shape}, dtype {x.dtype}) is "
            "written in place: its gradient would no longer belong to the value it holds "
            "(PyTorch refuses this too). Write into x.clone(), or change the leaf itself "
            "under no_grad()"
        )
    index = plain_index(index)
    host = type(x.data) is np.ndarray
    if not host:  # the index as x's library takes it (host index arrays moved there)
        index = _on_device(x, index)
    value = _value_for(x, index, value)
    if recording and value.requires_grad:
        _refuse_repeated_positions(x, index)
    if not host:
        index, value = _as_mask_write(x, index, value)
    if not recording and not x.is_leaf:
        # under no_grad the value is a constant, but x's history must still lose the
        # written elements, or a later gradient would reach the overwritten ones
        with enable_grad():
            out = apply(ops.setitem, x, value.detach(), index=index)
    else:
        out = apply(ops.setitem, x, value, index=index)
    x.data = out.data
    if out._node is not None:  # a leaf written under no_grad stays that leaf
        x._node = out._node


def _value_for(x: Any, index: Any, value: Any) -> Any:
    """``value`` as a Tensor of x's dtype (cast as numpy casts) and of a shape that broadcasts
    to that of ``x[index]`` (numpy's extra leading axes of size 1 dropped)."""
    try:
        target = x.data[index].shape
    except (IndexError, ValueError, TypeError) as error:
        raise BadIndexError(
            f"setitem: cannot index shape {x.shape} with {index!r:.80} ({error})"
        ) from None
    if isinstance(value, TensorBase):
        if value.requires_grad and x.dtype.kind != "f":
            raise DTypeError(
                f"setitem: a value that requires grad cannot be written into a tensor of "
                f"dtype {x.dtype} (its gradient would be lost)"
            )
        value = value.astype(x.dtype)  # in the graph: the gradient is cast back
    elif type(x.data) is np.ndarray:
        value = new_tensor(type(x), to_array(value).astype(x.dtype))
    else:  # x on another device: the value goes there, as a constant operand's does
        xp = namespace_of(x.data)
        value = new_tensor(type(x), xp.astype(lift_to_device(value, x.data), x.dtype))
    while value.ndim > len(target) and value.shape[0] == 1:
        value = value.reshape(value.shape[1:])
    if value.ndim > len(target) or not _broadcasts(value.shape, target):
        raise ShapeError(
            f"setitem: a value of shape {value.shape} cannot be broadcast to the shape "
            f"{target} of x[{index!r:.60}]"
        )
    return value


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _on_device(x: Any, index: Any) -> Any:
    try:
        return index_on_device(index, x.data)
    except (IndexError, ValueError, TypeError) as error:
        raise BadIndexError(
            f"setitem: cannot index shape {x.shape} with {index!r:.80} ({error})"
        ) from None


def _refuse_repeated_positions(x: Any, index: Any) -> None:
    """numpy writes a repeated position once (which value lands is an accident of order):
    the other values would get a gradient for a write that did not happen."""
    shape = x.shape
    if type(x.data) is np.ndarray:
        positions = np.arange(math.prod(shape)).reshape(shape)[index]
        repeated = positions.size != np.unique(positions).size
    else:
        xp = namespace_of(x.data)
        positions = xp.reshape(xp.arange(math.prod(shape)), shape)[index]
        repeated = positions.size != xp.unique_values(positions).size
    if repeated:
        raise BadIndexError(
            f"setitem: the index writes some element of shape {shape} more than once; which "
            "value lands is not defined, so a value that requires grad cannot be written so"
        )


def _as_mask_write(x: Any, index: Any, value: Any) -> tuple[Any, Any]:
    """``x[index] = value`` as ``x[mask] = flat``, for a library whose ``__setitem__`` takes
    the standard's keys only (no integer array, no new axis): ``mask`` marks the positions
    the index writes, ``flat`` is the value broadcast to ``x[index]``, flattened and read in
    the mask's (ascending) order. Of a position written more than once the last value is
    kept, the one numpy's write leaves there. The value's gradient flows back through the
    broadcast and the reordering, which are Tensor ops."""
    xp = namespace_of(x.data)
    size = math.prod(x.shape)
    positions = xp.reshape(xp.arange(size), x.shape)[index]  # in the order they are written
    target = positions.shape
    positions = xp.reshape(positions, (-1,))
    order = xp.argsort(positions, stable=True)  # among equal positions: the write order
    ordered = xp.take(positions, order)
    if ordered.shape[0] == 0:
        return xp.zeros(x.shape, dtype=bool), value.broadcast_to(target).reshape(-1)
    ones = xp.ones(1, dtype=bool)
    last = xp.concat((ordered[1:] != ordered[:-1], ones))  # the last of each run
    kept, source = ordered[last], order[last]
    everywhere = xp.arange(size)
    at = xp.minimum(xp.searchsorted(kept, everywhere), kept.shape[0] - 1)
    mask = xp.reshape(xp.take(kept, at) == everywhere, x.shape)
    return mask, value.broadcast_to(target).reshape(-1)[new_tensor(type(x), source)]
