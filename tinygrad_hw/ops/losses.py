"""Fused losses: forward and backward of the cross-entropies and the L2 penalty in one place.

Fusing saves the softmax for the backward pass and never chains through the softmax Jacobian:
the gradient is the closed form of the seed reports, (softmax(z) - y) / N. The vjps are written
in ``xp`` like every other, so the fused losses are differentiable twice: their Hessians are
the block-diagonal (diag(p) - p p^T) / N of the textbook.
"""

from functools import cache, partial

from tinygrad_hw.ops.elementwise import _sigmoid_forward
from tinygrad_hw.ops.primitive import Primitive, primitive
from tinygrad_hw.ops.reductions import log_softmax_forward


def _scale(reduction: str, count: int) -> float:
    """The factor d(loss)/d(per-sample loss): 1/N for the mean, 1 for the sum (and "none")."""
    return 1.0 / count if reduction == "mean" else 1.0


def _reduce(xp, per_sample, reduction: str):
    """The mean or sum of the per-sample losses; "none" keeps them, one per row."""
    if reduction == "none":
        return per_sample
    total = xp.sum(per_sample)
    return total / per_sample.shape[0] if reduction == "mean" else total


def _per_row(xp, g, reduction: str):
    """The upstream gradient against (N, K) rows: a scalar, or one value per row for "none"."""
    return xp.expand_dims(g, axis=-1) if reduction == "none" else g


# ------------------------------------------------------------------ softmax cross-entropy
def _cross_entropy_labels_forward(xp, logits, *, labels, reduction):
    """-log softmax(z)[y] over rows of (N, K) logits and integer labels (N,).

    -log p[y] = log sum e^(z - m) - (z - m)[y]: one exp serves forward and backward. The
    residual is the softmax p, a smooth function of z: recomputed under create_graph.
    """
    shifted = logits - xp.max(logits, axis=-1, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=-1, keepdims=True)
    picked = shifted[xp.arange(logits.shape[0]), labels]
    loss = _reduce(xp, xp.log(total[:, 0]) - picked, reduction)
    return loss, {"probs": e / total}


def _cross_entropy_labels_vjp(xp, g, out, logits, *, labels, reduction, probs):
    hot = xp.one_hot(labels, logits.shape[-1], logits.dtype)
    return (probs - hot) * (_per_row(xp, g, reduction) * _scale(reduction, logits.shape[0]))


def _cross_entropy_labels_forward_into(xp, into, logits, *, labels, reduction):
    """The forward above, the softmax written into the residual's buffer."""
    loss, residuals = into
    probs = residuals["probs"]  # holds the shifted logits, then e, then the softmax
    xp.subtract(logits, xp.max(logits, axis=-1, keepdims=True), out=probs)
    picked = probs[xp.arange(logits.shape[0]), labels]
    xp.exp(probs, out=probs)
    total = xp.sum(probs, axis=-1, keepdims=True)
    xp.copyto(loss, _reduce(xp, xp.log(total[:, 0]) - picked, reduction))
    xp.divide(probs, total, out=probs)


def _cross_entropy_labels_vjp_into(xp, into, g, out, logits, *, labels, reduction, probs):
    """(probs - one_hot) * scale: subtracting 1 at the labels and 0 elsewhere gives the same
    bits as subtracting the one-hot matrix, without building it."""
    xp.copyto(into, probs)
    into[xp.arange(logits.shape[0]), labels] -= 1
    xp.multiply(into, _per_row(xp, g, reduction) * _scale(reduction, logits.shape[0]), out=into)


cross_entropy_labels = primitive(
    "cross_entropy",
    _cross_entropy_labels_forward,
    [_cross_entropy_labels_vjp],
    differentiable_residuals=True,
    forward_into=_cross_entropy_labels_forward_into,
    vjps_into=[_cross_entropy_labels_vjp_into],
)


def _cross_entropy_targets_forward(xp, logits, targets, *, reduction):
    """-sum_k t_k log softmax(z)_k per row, for one-hot or probability targets t."""
    log_probs = log_softmax_forward(xp, logits, axis=-1)
    loss = _reduce(xp, -xp.sum(targets * log_probs, axis=-1), reduction)
    return loss, {"log_probs": log_probs}


def _cross_entropy_targets_vjp_logits(xp, g, out, logits, targets, *, reduction, log_probs):
    """d/dz = p sum(t) - t, which is p - t when each row of t sums to 1."""
    row_total = xp.sum(targets, axis=-1, keepdims=True)
    scale = _per_row(xp, g, reduction) * _scale(reduction, logits.shape[0])
    return (xp.exp(log_probs) * row_total - targets) * scale


def _cross_entropy_targets_vjp_targets(xp, g, out, logits, targets, *, reduction, log_probs):
    return -log_probs * (_per_row(xp, g, reduction) * _scale(reduction, logits.shape[0]))


cross_entropy_targets = primitive(
    "cross_entropy",
    _cross_entropy_targets_forward,
    [_cross_entropy_targets_vjp_logits, _cross_entropy_targets_vjp_targets],
    differentiable_residuals=True,
)


# ------------------------------------------------------------------ sigmoid cross-entropy
def _bce_with_logits_forward(xp, logits, targets, *, reduction):
    """-(t log s(z) + (1 - t) log(1 - s(z))) = softplus(z) - t z: finite for |z| = 1e4."""
    per_element = xp.logaddexp(0.0, logits) - targets * logits
    if reduction == "none":
        return per_element
    return xp.mean(per_element) if reduction == "mean" else xp.sum(per_element)


def _bce_scale(reduction: str, logits) -> float:
    return _scale(reduction, max(logits.size, 1))


bce_with_logits = primitive(
    "binary_cross_entropy_with_logits",
    _bce_with_logits_forward,
    [
        # d/dz = s(z) - t: the (yhat - y) of logistic regression
        lambda xp, g, out, z, t, *, reduction: (
            (_sigmoid_forward(xp, z) - t) * (g * _bce_scale(reduction, z))
        ),
        lambda xp, g, out, z, t, *, reduction: -z * (g * _bce_scale(reduction, z)),
    ],
)


# ------------------------------------------------------------------ L2 penalty
def _l2_forward(xp, *params, weight):
    """weight * sum_i ||p_i||^2: one pass over each array (a dot product), where the chain of
    mul, sum and add ops makes five."""
    total = xp.squared_norm(params[0])
    for p in params[1:]:
        total = total + xp.squared_norm(p)
    return xp.asarray(total * weight, dtype=params[0].dtype)


def _l2_vjp(i: int, xp, g, out, *params, weight):
    return params[i] * (2.0 * weight * g)


@cache
def l2_penalty(n: int) -> Primitive:
    """The penalty over n parameter arrays: d/dp_i = 2 weight p_i."""
    return primitive("l2_penalty", _l2_forward, [partial(_l2_vjp, i) for i in range(n)])
