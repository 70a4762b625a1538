"""Reductions and the softmax family, each forward beside its vjp.

``axis`` arrives checked and normalised by the Tensor layer: a tuple of non-negative ints (or
None for all axes) for the reductions, one non-negative int for the softmax family. Every vjp
sends the reduced gradient back over the reduced axes with ``_expand`` (a reshape and a
broadcast: both differentiable, so the vjps are too).
"""

import math

from tinygrad_hw.ops.primitive import primitive

Axes = tuple[int, ...] | None


def kept_shape(shape: tuple[int, ...], axis: Axes) -> tuple[int, ...]:
    """The shape of the reduction with keepdims=True: reduced axes become 1."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _expand(xp, g, shape: tuple[int, ...], axis: Axes):
    """A reduced gradient sent back over the reduced axes (a read-only broadcast view)."""
    return xp.broadcast_to(xp.reshape(g, kept_shape(shape, axis)), shape)


def reduced_count(shape: tuple[int, ...], axis: Axes) -> int:
    """How many elements each reduced slice holds (1 for axis=())."""
    return math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)


sum = primitive(
    "sum",
    lambda xp, x, *, axis, keepdims: xp.sum(x, axis=axis, keepdims=keepdims),
    [lambda xp, g, out, x, *, axis, keepdims: _expand(xp, g, x.shape, axis)],
)

mean = primitive(
    "mean",
    lambda xp, x, *, axis, keepdims: xp.mean(x, axis=axis, keepdims=keepdims),
    [
        lambda xp, g, out, x, *, axis, keepdims: _expand(
            xp, g / reduced_count(x.shape, axis), x.shape, axis
        )
    ],
)


def _extremum_forward(reduce):
    """max or min, saving each element's share of the gradient: ties split it evenly. The
    share is piecewise constant in x, so it is a residual (not differentiated again)."""

    def forward(xp, x, *, axis, keepdims):
        out_kept = getattr(xp, reduce)(x, axis=axis, keepdims=True)
        hits = xp.astype(x == out_kept, x.dtype)
        share = hits / xp.sum(hits, axis=axis, keepdims=True)
        out = out_kept if keepdims else xp.reshape(out_kept, _reduced_shape(x.shape, axis))
        return out, {"share": share}

    return forward


def _reduced_shape(shape: tuple[int, ...], axis: Axes) -> tuple[int, ...]:
    return () if axis is None else tuple(n for i, n in enumerate(shape) if i not in axis)


def _extremum_vjp(xp, g, out, x, *, axis, keepdims, share):
    return share * xp.reshape(g, kept_shape(share.shape, axis))


max = primitive(
    "max", _extremum_forward("max"), [_extremum_vjp], saves_inputs=False, residuals=True
)
min = primitive(
    "min", _extremum_forward("min"), [_extremum_vjp], saves_inputs=False, residuals=True
)


def stable_max(xp, x, axis: int):
    """The maximum along ``axis`` used as a shift; rows of all -inf shift by 0, not NaN."""
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0.0)


def _logsumexp_forward(xp, x, *, axis, keepdims):
    """log sum exp x = m + log sum exp(x - m) with m the maximum: no overflow at |x| = 1e4."""
    m = stable_max(xp, x, axis)
    out = m + xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else xp.squeeze(out, axis=axis)


def _logsumexp_vjp(xp, g, out, x, *, axis, keepdims):
    """d/dx logsumexp = softmax(x), recomputed from x: exp(x - out) would carry out's rounding
    (a few ulps of |x|: ~1e-3 at |x| = 1e4 in float32) into every weight."""
    return softmax_forward(xp, x, axis=axis) * xp.reshape(g, kept_shape(x.shape, (axis,)))


logsumexp = primitive("logsumexp", _logsumexp_forward, [_logsumexp_vjp], needs_float=True)


def softmax_forward(xp, x, *, axis):
    """p = e^(x - m) / sum e^(x - m)."""
    e = xp.exp(x - stable_max(xp, x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


softmax = primitive(
    "softmax",
    softmax_forward,
    # p (g - <g, p>): the Jacobian diag(p) - p p^T applied to g without building it
    [lambda xp, g, out, x, *, axis: out * (g - xp.sum(g * out, axis=axis, keepdims=True))],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)


def log_softmax_forward(xp, x, *, axis):
    """x - logsumexp(x): never the log of an underflowed softmax."""
    shifted = x - stable_max(xp, x, axis)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


log_softmax = primitive(
    "log_softmax",
    log_softmax_forward,
    [lambda xp, g, out, x, *, axis: g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True)],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)
