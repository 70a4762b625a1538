"""Losses, metrics and activations: ``from tinygrad_hw.nn import functional as F``.

Each loss checks its inputs first (shapes, dtypes, label ranges, the reduction) and raises
the library's own errors with the offending values, because a wrong-shaped target is the most
common silent bug in a training script: (N, 1) minus (N,) broadcasts to (N, N) without a word.

The softmax and sigmoid cross-entropies are the fused primitives of ``tinygrad_hw.ops``
(forward from log_softmax / softplus, never the log of a softmax or sigmoid; backward in
closed form). The other losses are short compositions of Tensor ops.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError, SizeError
from tinygrad_hw.mistakes import check_binary_logits, check_class_logits, check_log_probabilities
from tinygrad_hw.nn.activations import dropout, log_softmax, relu, sigmoid, softmax, tanh
from tinygrad_hw.nn.functional_conv import avg_pool2d as avg_pool2d
from tinygrad_hw.nn.functional_conv import conv1d as conv1d
from tinygrad_hw.nn.functional_conv import conv2d as conv2d
from tinygrad_hw.nn.functional_conv import max_pool2d as max_pool2d
from tinygrad_hw.ops import devices
from tinygrad_hw.recording import apply
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import positive_int

__all__ = [
    "accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "l2_penalty",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

REDUCTIONS = ("mean", "sum", "none")  # "none": one loss per sample (or element)
# Probabilities are clamped to [BCE_EPS, 1] inside the logs of binary_cross_entropy. float32
# cannot resolve 1 - p below ~6e-8 anyway, and log(1e-7) = -16.1 caps each element's loss.
BCE_EPS = 1e-7


# --------------------------------------------------------------------------- checks
def _float_tensor(op: str, name: str, value: Any) -> Tensor:
    tensor = value if isinstance(value, Tensor) else Tensor(numeric_array(op, name, value))
    if tensor.dtype.kind != "f":
        raise DTypeError(
            f"{op}: {name} must be floating point, got dtype {tensor.dtype} "
            f"(cast with .astype(np.float32))"
        )
    return tensor


def numeric_array(op: str, name: str, value: Any) -> np.ndarray:
    """An op's array argument (a Tensor's data, an ndarray, a list) as an ndarray of real
    numbers, or DTypeError naming the op and the argument. A device Tensor's values are
    copied to the host: labels are checked and turned into indices there."""
    if isinstance(value, Tensor):
        return devices.to_host(value.data)
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise DTypeError(f"{op}: cannot read {name} as an array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"{op}: {name} must hold real numbers, got dtype {array.dtype}")
    return array


def _check_reduction(op: str, reduction: Any) -> None:
    if reduction not in REDUCTIONS:
        raise ArgumentError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_nonempty(op: str, name: str, tensor: Tensor) -> None:
    if tensor.size == 0:
        raise ShapeError(
            f"{op}: {name} is empty (shape {tensor.shape}): an empty batch has no loss"
        )


def _rows(op: str, logits: Tensor, name: str = "logits") -> tuple[int, int]:
    """(N, K) of 2-D logits with N >= 1 examples and K >= 1 classes."""
    if logits.ndim != 2:
        raise ShapeError(f"{op}: {name} must be 2-D (N, K), got shape {logits.shape}")
    _check_nonempty(op, name, logits)
    return logits.shape


def _reduced(per_element: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return per_element
    return per_element.mean() if reduction == "mean" else per_element.sum()


def _same_shape_target(op: str, name: str, value: Any, like: Tensor) -> Tensor:
    """``value`` as a Tensor of ``like``'s shape and dtype (a constant is cast; a Tensor that
    requires grad must already have the dtype, since casting would cut its gradient)."""
    if isinstance(value, Tensor) and value.requires_grad:
        if value.dtype != like.dtype:
            raise DTypeError(f"{op}: {name} has dtype {value.dtype}, the input {like.dtype}")
        target = value
    else:
        target = Tensor(numeric_array(op, name, value).astype(like.dtype, copy=False))
    if target.shape != like.shape:
        raise ShapeError(
            f"{op}: input has shape {like.shape} and {name} shape {target.shape}; they must be "
            "equal (reshape one: broadcasting (N, 1) against (N,) would compare every pair)"
        )
    return target


def _check_probability_targets(op: str, targets: np.ndarray) -> None:
    """Targets of the logits' shape are class probabilities: finite floats >= 0 (above 1 is
    allowed, as in PyTorch: a learned target may step past it). Integer
    ones are refused (as PyTorch does): labels of the wrong shape read as probabilities give a
    loss of 0 for every row whose one label is 0."""
    if targets.dtype.kind != "f":
        raise DTypeError(
            f"{op}: targets of shape {targets.shape} (the logits' shape) are class "
            f"probabilities and must be floating point, got dtype {targets.dtype}; pass "
            "integer class labels of shape (N,), or one-hot rows with .astype(np.float32)"
        )
    if targets.size and not (np.isfinite(targets).all() and targets.min() >= 0):
        bad = targets[~(np.isfinite(targets) & (targets >= 0))][0]
        raise ArgumentError(
            f"{op}: targets of shape {targets.shape} are class probabilities and must be "
            f"finite and >= 0, got {bad}"
        )


def _check_in_unit_interval(op: str, name: str, array: np.ndarray, hint: str = "") -> None:
    if array.size and not (np.all(array >= 0) and np.all(array <= 1)):
        raise ArgumentError(
            f"{op}: {name} must lie in [0, 1], got values in "
            f"[{np.min(array)!r}, {np.max(array)!r}]{hint}"
        )


def _class_indices(
    op: str, labels: np.ndarray, n: int, k: int, ignore_index: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer labels of shape (N,), each in [0, K) or equal to ``ignore_index``, as (labels
    with ignored ones replaced by 0, the mask of kept labels or None when all are kept)."""
    if labels.dtype.kind not in "iu":
        raise DTypeError(
            f"{op}: labels of shape {labels.shape} have dtype {labels.dtype}; pass integer "
            f"class indices of shape ({n},) (labels.astype(np.int64)) or one-hot/probability "
            f"targets of shape ({n}, {k})"
        )
    if labels.shape != (n,):
        raise ShapeError(f"{op}: labels have shape {labels.shape}, logits {(n, k)}: need ({n},)")
    kept = None
    if not labels.size:
        return labels, kept
    lowest, highest = np.minimum.reduce(labels), np.maximum.reduce(labels)
    # the default ignore_index (-100) lies outside [lowest, highest] for valid labels: no
    # comparison array is built on the hot path
    if ignore_index is not None and lowest <= ignore_index <= highest:
        kept = labels != ignore_index
        if kept.all():
            kept = None
        else:
            labels = np.where(kept, labels, 0)
            lowest, highest = np.minimum.reduce(labels), np.maximum.reduce(labels)
    if lowest < 0 or highest >= k:
        bad = (labels < 0) | (labels >= k)
        i = int(np.argmax(bad))
        raise ArgumentError(
            f"{op}: label {labels[i]} at position {i} is out of range for K={k} classes "
            f"(labels must lie in [0, {k}), or equal ignore_index={ignore_index})"
        )
    return labels, kept


# --------------------------------------------------------------------------- losses
def cross_entropy(
    logits: Any,
    labels: Any,
    reduction: str = "mean",
    *,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of (N, K) logits, as ``torch.nn.functional.cross_entropy``.

    With integer labels y of shape (N,): loss_i = -log softmax(z_i)[y_i]; with targets t of
    shape (N, K) (one-hot or probabilities): loss_i = -sum_k t_ik log softmax(z_i)_k. The
    result is the mean (or sum) over i, or every loss_i for ``reduction="none"``; the gradient
    is (softmax(z) - t) / N for the mean. Targets that are a Tensor with requires_grad also
    receive a gradient (-log softmax / N).

    Options (PyTorch's): ``label_smoothing`` eps in [0, 1] trains against (1 - eps) one_hot +
    eps / K; ``weight`` (K,) scales each class's term, t_ik -> w_k t_ik; labels equal to
    ``ignore_index`` add nothing. With labels the mean divides by the summed weight of the
    kept labels (their count without ``weight``; NaN when every label is ignored, as PyTorch),
    with targets by N. In every case the loss is sum_k T_ik (-log p_ik) for a constant target
    matrix T, so the gradient stays the closed form (p sum_k T_ik - T) / denominator.
    """
    op = "cross_entropy"
    logits = _float_tensor(op, "logits", logits)
    check_class_logits(op, logits)  # softmax applied twice, or over the batch axis
    _check_reduction(op, reduction)
    n, k = _rows(op, logits)
    eps = _fraction(op, "label_smoothing", label_smoothing)
    class_weight = _class_weights(op, weight, k, logits.dtype)
    label_array = numeric_array(op, "labels", labels)
    if label_array.ndim == 2:
        _check_probability_targets(op, label_array)
        targets = _same_shape_target(op, "targets", labels, logits)
        if eps:
            targets = targets * (1.0 - eps) + eps / k
        if class_weight is not None:
            targets = targets * class_weight
        return apply(ops.cross_entropy_targets, logits, targets, reduction=reduction)
    if label_array.ndim != 1:
        raise ShapeError(
            f"{op}: labels must have shape ({n},) or ({n}, {k}), got {label_array.shape}"
        )
    indices, kept = _class_indices(op, label_array, n, k, _index(op, ignore_index))
    if kept is None and class_weight is None and not eps:  # the plain fused loss
        if type(logits.data) is not np.ndarray:  # host labels index device logits there
            indices = devices.to_device(indices, logits.device)
        return apply(ops.cross_entropy_labels, logits, labels=indices, reduction=reduction)
    per_sample = _label_weights(indices, kept, class_weight, logits.dtype)
    targets = (1.0 - eps) * ops.NUMPY.one_hot(indices, k, logits.dtype) * per_sample[:, None]
    if eps:  # the uniform part: eps / K on every class of a kept row, times its class weight
        uniform = (
            np.full((n, k), eps / k, logits.dtype) if kept is None else kept[:, None] * (eps / k)
        )
        targets += uniform * (1.0 if class_weight is None else class_weight)
    summed = "none" if reduction == "none" else "sum"
    targets = Tensor(targets, device=logits.device)  # built on the host, used on the device
    loss = apply(ops.cross_entropy_targets, logits, targets, reduction=summed)
    return _weighted_mean(loss, per_sample) if reduction == "mean" else loss


def nll_loss(
    log_probs: Any,
    labels: Any,
    reduction: str = "mean",
    *,
    weight: Any = None,
    ignore_index: int = -100,
) -> Tensor:
    """Negative log-likelihood of integer labels under (N, K) log-probabilities, as
    ``torch.nn.functional.nll_loss``: loss_i = -w[y_i] log_probs[i, y_i] (w = 1 without
    ``weight``), 0 for a label equal to ``ignore_index``. The mean divides by the summed
    weight of the kept labels (NaN when none is kept, as PyTorch). ``nll_loss(log_softmax(z),
    y)`` is ``cross_entropy(z, y)``. The gradient is -w[y_i] / denominator at (i, y_i), 0
    elsewhere (indexing, whose vjp scatter-adds).
    """
    op = "nll_loss"
    log_probs = _float_tensor(op, "log_probs", log_probs)
    check_log_probabilities(op, log_probs)  # probabilities, or over the batch axis
    _check_reduction(op, reduction)
    n, k = _rows(op, log_probs, "log_probs")
    class_weight = _class_weights(op, weight, k, log_probs.dtype)
    label_array = numeric_array(op, "labels", labels)
    indices, kept = _class_indices(op, label_array, n, k, _index(op, ignore_index))
    picked = log_probs[np.arange(n), indices]
    if kept is None and class_weight is None:
        return _reduced(-picked, reduction)
    per_sample = _label_weights(indices, kept, class_weight, log_probs.dtype)
    losses = picked * -per_sample
    return (
        _weighted_mean(losses.sum(), per_sample)
        if reduction == "mean"
        else _reduced(losses, reduction)
    )


def _label_weights(
    indices: np.ndarray, kept: np.ndarray | None, class_weight: np.ndarray | None, dtype: Any
) -> np.ndarray:
    """Each sample's weight: its class's weight (1 without ``weight``), 0 if ignored."""
    per_sample = np.ones(len(indices), dtype) if class_weight is None else class_weight[indices]
    return per_sample if kept is None else per_sample * kept


def _weighted_mean(total: Tensor, per_sample: np.ndarray) -> Tensor:
    """total / sum of the samples' weights; NaN (without 0/0's warning) when that sum is 0."""
    denominator = float(np.sum(per_sample, dtype=np.float64))
    return total * (1.0 / denominator if denominator > 0 else float("nan"))


def _class_weights(op: str, weight: Any, k: int, dtype: Any) -> np.ndarray | None:
    """``weight`` as a constant (K,) array of finite values >= 0 in the logits' dtype."""
    if weight is None:
        return None
    array = numeric_array(op, "weight", weight)
    if array.shape != (k,):
        raise ShapeError(f"{op}: weight must have shape ({k},), one per class, got {array.shape}")
    if not (np.all(np.isfinite(array)) and np.all(array >= 0)):
        raise ArgumentError(f"{op}: weight must be finite and >= 0, got {array!r:.80}")
    return array.astype(dtype)


def _fraction(op: str, name: str, value: Any) -> float:
    number = _nonnegative_number(op, name, value)
    if number > 1:
        raise ArgumentError(f"{op}: {name} must lie in [0, 1], got {value!r}")
    return number


def _index(op: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DTypeError(f"{op}: ignore_index must be an int, got {value!r:.60}")
    return int(value)


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """-(t log s(z) + (1 - t) log(1 - s(z))) with s the sigmoid, from the logits z.

    Computed as softplus(z) - t z, so it stays finite for |z| = 1e4 where s(z) rounds to 0
    or 1; the gradient is (s(z) - t) / size for the mean. Targets must lie in [0, 1] and have
    the logits' shape.
    """
    op = "binary_cross_entropy_with_logits"
    logits = _float_tensor(op, "logits", logits)
    check_binary_logits(op, logits)  # sigmoid applied twice
    _check_reduction(op, reduction)
    targets = _same_shape_target(op, "targets", targets, logits)
    _check_nonempty(op, "logits", logits)
    _check_in_unit_interval(op, "targets", targets.data)
    return apply(ops.bce_with_logits, logits, targets, reduction=reduction)


def binary_cross_entropy(probs: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) from probabilities p in [0, 1].

    Both log arguments are clamped to [BCE_EPS, 1] (BCE_EPS = 1e-7), so p = 0 or 1 gives a
    large finite loss (at most -log(1e-7) = 16.1 per element) instead of inf, and no gradient
    flows through a clamped value. Prefer binary_cross_entropy_with_logits, which needs no
    clamp and keeps the gradient of saturated predictions.
    """
    op = "binary_cross_entropy"
    probs = _float_tensor(op, "probs", probs)
    _check_reduction(op, reduction)
    targets = _same_shape_target(op, "targets", targets, probs)
    _check_nonempty(op, "probs", probs)
    hint = " (logits? use binary_cross_entropy_with_logits)"
    _check_in_unit_interval(op, "probs", probs.data, hint)
    _check_in_unit_interval(op, "targets", targets.data)
    log_p = probs.clip(BCE_EPS, 1.0).log()
    log_not_p = (1.0 - probs).clip(BCE_EPS, 1.0).log()
    per_element = -(targets * log_p + (1.0 - targets) * log_not_p)
    return _reduced(per_element, reduction)


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """mean (or sum) of (pred - target)^2 over all elements; shapes must be equal."""
    op = "mse_loss"
    pred = _float_tensor(op, "pred", pred)
    _check_reduction(op, reduction)
    target = _same_shape_target(op, "target", target, pred)
    _check_nonempty(op, "pred", pred)
    diff = pred - target
    return _reduced(diff * diff, reduction)


def l2_penalty(params: Iterable[Tensor] | Tensor, weight: float = 1.0) -> Tensor:
    """weight * sum over params of sum(p^2).

    Seed 004's ``reg * sum(W^2)`` is ``l2_penalty(ws, reg)``; the (lambda / 2) ||w||^2 of
    seed 002 is ``l2_penalty([w], lam / 2)``. Its gradient is 2 * weight * p.
    """
    op = "l2_penalty"
    weight = _nonnegative_number(op, "weight", weight)
    tensors = [params] if isinstance(params, Tensor) else _tensor_list(op, params)
    return apply(ops.l2_penalty(len(tensors)), *tensors, weight=weight)


def _tensor_list(op: str, params: Any) -> list[Tensor]:
    try:
        tensors = list(params)
    except TypeError:
        raise DTypeError(
            f"{op}: params must be a Tensor or an iterable of Tensors (e.g. "
            f"model.parameters()), got {type(params).__name__}"
        ) from None
    if not tensors:
        raise ArgumentError(f"{op}: got no parameters (an already consumed generator?)")
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise DTypeError(f"{op}: params[{i}] is a {type(tensor).__name__}, not a Tensor")
    return tensors


def _nonnegative_number(op: str, name: str, value: Any) -> float:
    try:
        number = float(value)
    except OverflowError:  # an int past float's range
        number = math.inf
    except (TypeError, ValueError):
        raise DTypeError(f"{op}: {name} must be a number, got {value!r:.60}") from None
    if not math.isfinite(number) or number < 0:
        raise ArgumentError(f"{op}: {name} must be a finite number >= 0, got {value!r}")
    return number


# --------------------------------------------------------------------------- metrics
def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Integer labels of any shape -> array of shape labels.shape + (num_classes,) with a 1 at
    each label's position; labels outside [0, num_classes) raise ArgumentError."""
    k = positive_int("one_hot: num_classes", num_classes)
    labels = numeric_array("one_hot", "labels", labels)
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    bad = (labels < 0) | (labels >= k)
    if bad.any():
        value = labels[np.unravel_index(np.argmax(bad), labels.shape)]
        raise ArgumentError(f"one_hot: label {value} is out of range for {k} classes [0, {k})")
    need = labels.size * k * np.dtype(dtype).itemsize
    try:
        if need > physical_memory():  # zeros() would "succeed" lazily, then fail on use
            raise MemoryError
        out = np.zeros((*labels.shape, k), dtype)
    except (MemoryError, ValueError):
        raise SizeError(
            f"one_hot: {labels.size} labels x {k} classes need {need:,} bytes, too large to "
            "allocate (use integer labels with cross_entropy instead)"
        ) from None
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def physical_memory() -> int:
    """Bytes of RAM of this machine (no limit where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**63


def accuracy(logits_or_probs: Any, labels: Any, threshold: float | None = None) -> float:
    """Fraction of rows whose predicted class equals the label.

    Scores of shape (N, K), K >= 2: the prediction is the argmax of each row (the same for
    logits and probabilities). Binary scores of shape (N,) or (N, 1): the prediction is
    ``score > threshold``, which must be given (0.5 for probabilities, 0.0 for logits).
    Labels are integers of shape (N,) (or (N, 1) for binary), or one-hot rows of shape (N, K).
    """
    scores = numeric_array("accuracy", "scores", logits_or_probs)
    truth = numeric_array("accuracy", "labels", labels)
    if scores.ndim not in (1, 2) or scores.shape[0] == 0:
        raise ShapeError(f"accuracy: scores must be (N,) or (N, K) with N >= 1, got {scores.shape}")
    binary = scores.ndim == 1 or scores.shape[1] == 1
    if binary != (threshold is not None):
        need = "threshold= (0.5 for probabilities, 0.0 for logits)" if binary else "no threshold"
        raise ArgumentError(f"accuracy: scores of shape {scores.shape} need {need}")
    if binary:
        predicted = (scores.reshape(-1) > threshold).astype(np.int64)
        compared = truth.reshape(-1) if truth.shape in ((len(scores),), (len(scores), 1)) else truth
    else:
        predicted = np.argmax(scores, axis=1)
        compared = np.argmax(truth, axis=1) if truth.shape == scores.shape else truth
    if compared.shape != predicted.shape:
        raise ShapeError(f"accuracy: scores have shape {scores.shape}, labels {truth.shape}")
    return float(np.mean(predicted == compared))
