"""A small, honest progress bar: what has been done, the running loss and accuracy, the rate.

On a terminal the bar redraws one line with ``\\r`` (at most ten times a second) and the
finished epoch replaces it with a permanent line; anywhere else (a pipe, a log file, CI) only
the one line per epoch is written, so logs stay readable. Nothing here guesses: the ETA is
the measured time per batch so far times the batches left in this epoch.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_REDRAW_EVERY_S = 0.1
_BAR_WIDTH = 24


def format_seconds(seconds: float) -> str:
    """``12.3s`` below a minute, ``4m05s`` below an hour, else ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressBar:
    """Progress of one epoch (or round) of ``total`` batches out of ``rounds``.

    ``update(loss, correct, count)`` after each batch adds to the running means;
    ``finish(line)`` ends the epoch with a permanent line (the caller's summary of it).
    ``tty=None`` asks ``stream.isatty()``.
    """

    def __init__(
        self,
        total: int,
        label: str,
        stream: TextIO | None = None,
        tty: bool | None = None,
        start_done: int = 0,
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stdout
        self.tty = _isatty(self.stream) if tty is None else tty
        self.done = start_done
        self.loss_sum = 0.0
        self.correct = 0
        self.count = 0
        self._start = time.perf_counter()
        self._started_at = start_done
        self._last_draw = 0.0

    def update(self, loss: float, correct: int, count: int) -> None:
        """Record one batch: its mean loss, how many of its ``count`` rows were right."""
        self.done += 1
        self.loss_sum += loss * count
        self.correct += correct
        self.count += count
        now = time.perf_counter()
        if self.tty and (now - self._last_draw >= _REDRAW_EVERY_S or self.done == self.total):
            self._last_draw = now
            self.stream.write("\r" + self.render() + "\x1b[K")
            self.stream.flush()

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.count if self.count else float("nan")

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else float("nan")

    def render(self) -> str:
        """``epoch 3/15 [#########...............]  52/134  loss 0.3121  acc 0.912  4.1s<5.2s``."""
        filled = int(_BAR_WIDTH * self.done / self.total)
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        elapsed = time.perf_counter() - self._start
        steps = self.done - self._started_at
        eta = elapsed / steps * (self.total - self.done) if steps else 0.0
        return (
            f"{self.label} [{bar}] {self.done:>{len(str(self.total))}}/{self.total}  "
            f"loss {self.mean_loss:.4f}  acc {self.accuracy:.3f}  "
            f"{format_seconds(elapsed)}<{format_seconds(eta)}"
        )

    def finish(self, line: str) -> None:
        """Replace the bar (on a terminal) with ``line`` and a newline."""
        prefix = "\r" if self.tty else ""
        suffix = "\x1b[K" if self.tty else ""
        self.stream.write(prefix + line + suffix + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Wipe the bar off a terminal line (before printing a message under it)."""
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or fake streams
        return False
