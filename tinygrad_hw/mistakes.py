"""The classic pipeline mistakes, warned about where they are made.

Code that applies softmax twice, takes the log of a softmax or normalises over the wrong axis
still runs and still trains, only worse; nothing fails. Each check here reads one thing the
graph already holds, the primitive that produced a loss's input (``tensor._node.primitive``),
so it costs one attribute lookup and a comparison when nothing is wrong. A mistake gives a
:class:`~tinygrad_hw.errors.TinygradHWWarning` attributed to the user's line (the first frame
outside this package), so Python's default filter shows it once per call site and
``warnings.simplefilter("ignore", TinygradHWWarning)`` silences it.

The checks see recorded graphs only: under ``no_grad()``, or on inputs no parameter reaches,
there is no node to read.
"""

import sys
import warnings
from typing import Any

from tinygrad_hw import ops
from tinygrad_hw.errors import TinygradHWWarning

__all__ = [
    "check_binary_logits",
    "check_class_logits",
    "check_log_input",
    "check_log_probabilities",
    "warn",
    "warn_unconnected_parameters",
]

_PACKAGE_DIR = __file__.rsplit("/", 1)[0]
_NORMALISERS = (ops.softmax, ops.log_softmax)


def warn(message: str) -> None:
    """``warnings.warn`` with the TinygradHWWarning category, at the user's line."""
    level, frame = 1, sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, TinygradHWWarning, stacklevel=level)


def _producer(tensor: Any) -> Any:
    node = tensor._node
    return None if node is None else node.primitive


def check_class_logits(op: str, logits: Any) -> None:
    """cross_entropy's logits: not a softmax's output, not a log_softmax over the batch."""
    made_by = _producer(logits)
    if made_by is ops.softmax:
        warn(
            f"{op} was given the output of softmax, but it applies log_softmax to its input "
            f"itself: softmax is applied twice (the loss hardly falls and its gradient is "
            f"squashed). Pass the logits: {op}(z, y), not {op}(softmax(z), y)"
        )
    elif made_by is ops.log_softmax:
        _check_axis(op, logits)


def check_log_probabilities(op: str, log_probs: Any) -> None:
    """nll_loss's input: log-probabilities, not probabilities, over the classes."""
    made_by = _producer(log_probs)
    if made_by is ops.softmax:
        warn(
            f"{op} needs log-probabilities but was given the output of softmax (probabilities): "
            "use log_softmax(z, dim=1), or cross_entropy(z, y) on the logits"
        )
    elif made_by is ops.log_softmax:
        _check_axis(op, log_probs)


def _check_axis(op: str, normalised: Any) -> None:
    node = normalised._node
    if len(node.shape) == 2 and node.params["axis"] == 0:
        name = node.primitive.name
        warn(
            f"{op} was given {name} over axis 0 of an (N, K) batch: each class is normalised "
            f"over the samples, but the loss is over rows (one distribution per sample): use "
            f"{name}(z, dim=1)"
        )


def check_binary_logits(op: str, logits: Any) -> None:
    """binary_cross_entropy_with_logits' logits: not a sigmoid's output."""
    if _producer(logits) is ops.sigmoid:
        warn(
            f"{op} was given the output of sigmoid, but it applies the sigmoid itself: sigmoid "
            f"is applied twice. Pass the logits z, or use binary_cross_entropy(sigmoid(z), t)"
        )


def check_log_input(x: Any) -> None:
    """log's input: not a softmax or a sigmoid (their fused logs are exact and stable)."""
    made_by = _producer(x)
    if made_by is ops.softmax:
        warn(
            "log of a softmax: it is -inf once a probability underflows to 0 (logits ~100 "
            "apart in float32) and loses precision before that; use log_softmax(z, dim), or "
            "cross_entropy on the logits"
        )
    elif made_by is ops.sigmoid:
        warn(
            "log of a sigmoid: it is -inf once sigmoid(z) underflows (z < -88 in float32); "
            "use -softplus(-z) for log sigmoid(z), or binary_cross_entropy_with_logits"
        )


def warn_unconnected_parameters(owner: str, params: list[Any]) -> None:
    """Called by an optimizer's step() when some parameters have no ``.grad``."""
    missing = [i for i, p in enumerate(params) if p.grad is None]
    if len(missing) == len(params):
        warn(
            f"{owner}.step(): no parameter has a gradient, so nothing is updated: step() "
            "before backward(), or after zero_grad()? (reported once per optimizer)"
        )
        return
    shown = ", ".join(f"params[{i}] (shape {params[i].shape})" for i in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    warn(
        f"{owner}.step(): {shown}{more} received no gradient from backward() and is not "
        "updated: the loss does not depend on it (computed through .data, numpy or "
        "detach(), or never used). (reported once per optimizer)"
    )
