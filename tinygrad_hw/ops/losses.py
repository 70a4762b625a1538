"""Fused losses: forward and backward of softmax cross-entropy in one place.

Fusing saves the softmax for the backward pass and never builds a one-hot matrix, and the
gradient is the closed form from the seed reports, (softmax(z) - y) / N, not a chain through
the softmax Jacobian.
"""

import numpy as np

from tinygrad_hw.ops.reductions import log_softmax
from tinygrad_hw.ops.types import Forward


def _reduce(per_sample: np.ndarray, reduction: str) -> tuple[np.ndarray, float]:
    """The loss and the scale 1/N (mean) or 1 (sum) its gradient carries."""
    total = np.add.reduce(per_sample)  # np.mean / np.sum add ~5 us of Python per call
    if reduction == "mean":
        return total / per_sample.shape[0], 1.0 / per_sample.shape[0]
    return total, 1.0


def cross_entropy_labels(logits: np.ndarray, labels: np.ndarray, reduction: str) -> Forward:
    """-log softmax(z)[y] over rows of (N, K) logits and integer labels (N,)."""
    shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=-1, keepdims=True)
    rows = np.arange(logits.shape[0])
    # -log p[y] = log sum e - shifted[y]: one exp for forward and backward alike
    loss, scale = _reduce(np.log(total[:, 0]) - shifted[rows, labels], reduction)

    def grad_logits(g: np.ndarray) -> np.ndarray:
        dz = e / total
        dz[rows, labels] -= 1
        dz *= g * scale
        return dz

    return loss, (grad_logits, None)


def cross_entropy_targets(logits: np.ndarray, targets: np.ndarray, reduction: str) -> Forward:
    """-sum_k t_k log softmax(z)_k per row, for one-hot or probability targets t.

    d/dz = p sum(t) - t, which is p - t when each row of t sums to 1.
    """
    logp, _ = log_softmax(logits, axis=-1)
    loss, scale = _reduce(-np.sum(targets * logp, axis=-1), reduction)

    def grad_logits(g: np.ndarray) -> np.ndarray:
        return (np.exp(logp) * np.sum(targets, axis=-1, keepdims=True) - targets) * (g * scale)

    return loss, (grad_logits, lambda g: -logp * (g * scale))


def binary_cross_entropy_with_logits(
    logits: np.ndarray, targets: np.ndarray, reduction: str
) -> Forward:
    """-(t log s(z) + (1 - t) log(1 - s(z))) = softplus(z) - t z, finite for |z| = 1e4.

    d/dz = s(z) - t: the (yhat - y) of logistic regression.
    """
    per_element = np.logaddexp(0, logits) - targets * logits
    if reduction == "mean":
        loss, scale = np.mean(per_element), 1.0 / max(per_element.size, 1)
    else:
        loss, scale = np.sum(per_element), 1.0

    def grad_logits(g: np.ndarray) -> np.ndarray:
        return (np.exp(-np.logaddexp(0, -logits)) - targets) * (g * scale)

    return loss, (grad_logits, lambda g: -logits * (g * scale))


def l2_penalty(arrays: list[np.ndarray], weight: float) -> Forward:
    """weight * sum_i ||p_i||^2 over several arrays, as one op: d/dp_i = 2 weight p_i.

    One pass over each array forward (a dot product) and one backward, where the chain of
    mul, sum and add ops makes five.
    """
    total = sum(np.vdot(p, p) for p in arrays) * weight

    def grad(p: np.ndarray):
        return lambda g: p * (2 * weight * g)

    return np.asarray(total, dtype=arrays[0].dtype), tuple(grad(p) for p in arrays)
