"""Ctrl-C during training: finish the current step, save, then stop.

A KeyboardInterrupt raised in the middle of ``optimizer.step()`` would leave some parameters
updated and others not, and a checkpoint saved then could never be resumed exactly. So while
training runs, the first SIGINT only sets a flag that the loop reads between steps; a second
SIGINT raises :class:`ForcedStop` at once, for a loop that is stuck, and nothing is saved
then (the checkpoint from the end of the last finished epoch stays on disk).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class ForcedStop(KeyboardInterrupt):
    """The second Ctrl-C: the state may be half-updated, so it must not be saved."""


class StopFlag:
    """Set by the first Ctrl-C; the training loop checks ``requested`` after each step."""

    def __init__(self) -> None:
        self.requested = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise ForcedStop
        self.requested = True


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[StopFlag]:
    """Within this block SIGINT sets a flag instead of raising (main thread only: Python
    delivers signals there, and elsewhere ``signal.signal`` is not allowed)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, flag.handle)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
