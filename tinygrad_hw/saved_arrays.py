"""Arrays saved for backward stay as they were saved: read-only while a graph holds them.

numpy has no version counter (PyTorch's way to notice, at backward, that a saved tensor was
edited in place), so editing an array between the forward pass and backward (``w.data[:] = 0``,
refilling the batch buffer a Tensor wraps without a copy) used to give silently wrong
gradients. Instead, when an op records a node, the writable arrays among the inputs its vjps
read are made read-only (``lock``); the node lets go of them (``node.locks = None``) once
backward has used them, or when it dies with a graph that was never backpropagated (CPython
frees it at once), and they are writable again. A user's edit in between fails at the line
that makes it, with numpy's ``ValueError: assignment destination is read-only``.

The library's own in-place writers (an optimizer's step, load_state_dict) must not fail for a
graph that is alive but may never be used (a validation loss computed outside ``no_grad()``):
``write_while_saved`` unlocks, writes and locks again, and marks the array, so that a later
backward through a node that saved it raises GraphError naming the op (PyTorch's behaviour).

Limits (README, Reliability): results of ops (the tensors' own outputs, which vjps such as exp's
read) are not locked; a view made before the lock still writes into the array; when two nodes
save one array, the first to let go unlocks it.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_hw.errors import GraphError

_locked: set[int] = set()  # id() of the arrays made read-only here and not yet released
modified: dict[int, tuple[str, int]] = {}  # id() of a locked array changed -> (who, when)
writes = 0  # how many write_while_saved calls so far: the clock a node's ``born`` reads


class SavedArrays:
    """The arrays one node made read-only; writable again when this object is dropped."""

    __slots__ = ("arrays",)

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays

    def __del__(self) -> None:
        for array in self.arrays:
            key = id(array)
            _locked.discard(key)
            if modified:
                modified.pop(key, None)
            # try/except, not contextlib.suppress: this runs for every saved array of every
            # step, and suppress() costs a context manager object and two calls each time
            try:  # noqa: SIM105
                array.setflags(True)  # positional: half the cost of write=True
            except ValueError:  # a view whose base another live node has locked since
                pass


def lock(arrays: tuple[Any, ...]) -> SavedArrays | None:
    """Make the writable arrays among ``arrays`` (None allowed) read-only until the returned
    object is dropped; None when there was nothing to lock (the common case costs one flag
    read per array)."""
    held = None
    for array in arrays:
        if array is not None and array.flags.writeable:
            array.setflags(False)  # positional setflags: a quarter of flags.writeable = ...
            _locked.add(id(array))
            if held is None:
                held = [array]
            else:
                held.append(array)
    return None if held is None else SavedArrays(held)


def is_saved(array: np.ndarray) -> bool:
    """Whether ``array`` is read-only because a live node saved it (not by the user's choice):
    one set lookup, cheap enough for every parameter of every optimizer step."""
    return id(array) in _locked


def write_while_saved(array: np.ndarray, who: str, write: Callable[[], None]) -> None:
    """Run ``write()`` (which changes ``array`` in place) although a live node has saved
    ``array``; a backward through a node recorded before this write then raises GraphError
    naming ``who`` (nodes recorded after it saved the new values: they are fine)."""
    global writes
    writes += 1
    array.setflags(True)  # positional: half the cost of write=True
    try:
        write()
    finally:
        array.setflags(False)
    modified[id(array)] = (who, writes)


def check_unmodified(op: str, inputs: tuple[Any, ...], born: int) -> None:
    """Backward, at a node recorded when ``writes`` was ``born``, whose saved ``inputs`` may
    include an array changed since."""
    for index, array in enumerate(inputs):
        change = None if array is None else modified.get(id(array))
        if change is not None and change[1] > born:
            raise GraphError(
                f"backward of op '{op}': its input {index} (shape {array.shape}) was changed "
                f"in place by {change[0]} after the forward pass saved it, so this "
                "gradient would be wrong: run backward() before step(), or recompute the loss"
            )
