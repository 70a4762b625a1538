"""Per-thread switches read by every op: is recording on, is anomaly detection on.

They live in a ``threading.local`` (as PyTorch's grad mode does), so an evaluator thread under
``no_grad()`` never stops a trainer thread from recording, and a block always restores the
value it found, whatever order blocks in other threads end in.
"""

import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np


class _ThreadModes(threading.local):
    """Each thread starts with recording on and anomaly detection off."""

    grad_enabled = True
    detect_anomaly = False
    tracer = None  # tinygrad_hw.jit's recorder while it records a step (jit_trace.Tracer)


modes = _ThreadModes()


def is_grad_enabled() -> bool:
    """Whether ops run now (in this thread) are recorded for backward."""
    return modes.grad_enabled


@contextmanager
def _switch(name: str, value: bool) -> Iterator[None]:
    previous = getattr(modes, name)
    setattr(modes, name, value)
    try:
        yield
    finally:
        setattr(modes, name, previous)


def no_grad() -> AbstractContextManager[None]:
    """A block in which no op is recorded (in this thread): results do not require grad."""
    return _switch("grad_enabled", False)


def enable_grad() -> AbstractContextManager[None]:
    """A block in which ops are recorded again, inside ``no_grad()``."""
    return _switch("grad_enabled", True)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """A block (in this thread) in which the first op whose forward result or backward
    cotangent holds NaN or inf raises AnomalyError, naming the op, its shapes and the line of
    user code that created it. Off by default; when off it costs one attribute read per op.

    numpy's own RuntimeWarnings (divide by zero, invalid value, overflow) are silenced in the
    block (``np.errstate``, which is per thread too): they would only print, before the
    AnomalyError, a less precise account of the same thing."""
    with _switch("detect_anomaly", True), np.errstate(all="ignore"):
        yield


def call_site() -> str:
    """file:line of the innermost frame outside this package: where the user created the op."""
    frame = sys._getframe(1)
    package_dir = __file__.rsplit("/", 1)[0]
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
