"""Progress within an epoch, drawn by tqdm: a bar on a terminal, a widget in Jupyter.

The runner prints one permanent line per epoch (or round) whatever happens here; this module
adds, while the epoch runs, a bar with the running loss and accuracy, the rate and the time
left (tqdm measures them). It is drawn only where someone watches: on a terminal, or in a
notebook (as a widget, when ipywidgets is installed). Anywhere else (a pipe, a log file, CI)
nothing is drawn, so logs hold exactly one line per epoch. tqdm is optional (``pip install
tqdm``, or the ``progress`` extra): without it only the per-epoch lines are written.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


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
    """Progress of one epoch (or round) of ``total`` batches, ``start_done`` of them done
    before (a resumed run).

    ``update(loss, correct, count)`` after each batch adds to the running means and moves the
    bar; ``clear()`` removes the bar before the epoch's permanent line is printed.
    ``tty=None`` asks the stream (and whether this is a notebook); True or False decides.
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
        self.stream = stream if stream is not None else sys.stdout
        self.loss_sum = 0.0
        self.correct = 0
        self.count = 0
        where = _where(self.stream) if tty is None else ("terminal" if tty else None)
        self.bar = _new_bar(where, self.total, label, self.stream, start_done)

    def update(self, loss: float, correct: int, count: int) -> None:
        """Record one batch: its mean loss, how many of its ``count`` rows were right."""
        self.loss_sum += loss * count
        self.correct += correct
        self.count += count
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"loss {self.mean_loss:.4f}  acc {self.accuracy:.3f}", refresh=False
            )
            self.bar.update(1)  # redraws at most every tqdm.mininterval (0.1 s)

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.count if self.count else float("nan")

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else float("nan")

    def clear(self) -> None:
        """Take the bar away (the epoch's permanent line goes where it was)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _where(stream: TextIO) -> str | None:
    """ "terminal", "notebook" (the stream is a Jupyter kernel's stdout) or None."""
    if _isatty(stream):
        return "terminal"
    if stream is sys.stdout and "ipykernel" in sys.modules:
        return "notebook"
    return None


def _new_bar(where: str | None, total: int, label: str, stream: TextIO, done: int) -> Any:
    """A tqdm bar for ``where``, or None: nobody watching, tqdm or ipywidgets missing."""
    if where is None:
        return None
    try:
        if where == "notebook":
            import ipywidgets  # noqa: F401  (tqdm's widget needs it; without it: no bar)
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None
    options: dict[str, Any] = {"total": total, "initial": done, "desc": label, "leave": False}
    if where == "terminal":
        options.update(file=stream, dynamic_ncols=True)
    return tqdm(**options)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or fake streams
        return False
