"""Windowed ops: the sliding-window gather ``unfold``, its adjoint ``fold``, and the pools,
each forward beside its vjp, over the last d axes of an input with any leading axes
(N, C for images; d = 2 for conv2d and the 2-d pools, d = 1 for conv1d).

``unfold`` and ``fold`` are linear and each is the other's vjp, so anything built from them
and the other primitives is differentiable to any order by construction. A convolution is
unfold, then one matrix product (``tinygrad_hw.nn.functional.conv2d``). The pools are one
primitive each (one node instead of unfold + max + reshape), whose vjps are a ``fold``.

Params arrive checked and normalised by the functional layer: ``kernel``, ``stride``,
``padding`` and ``dilation`` are tuples of d ints (k >= 1, s >= 1, p >= 0, r >= 1) and every
axis has at least one window. The numpy implementations are in ``ops.windows``.
"""

import math

from tinygrad_hw.ops.primitive import primitive


def _unfold_forward(xp, x, *, kernel, stride, padding, dilation, fill):
    """Windows (*lead, *out, *kernel): a strided view, nothing copied. The input's trailing
    shape is all the vjp needs of x (a residual: x itself is not kept)."""
    windows = xp.unfold(x, kernel, stride, padding, dilation, fill)
    return windows, {"spatial": x.shape[-len(kernel) :]}


unfold = primitive(
    "unfold",
    _unfold_forward,
    # padded positions hold the constant ``fill``: their cotangent is dropped by fold
    [
        lambda xp, g, out, x, *, kernel, stride, padding, dilation, fill, spatial: xp.fold(
            g, spatial, kernel, stride, padding, dilation
        )
    ],
    saves_inputs=False,
    residuals=True,
)

fold = primitive(
    "fold",
    lambda xp, windows, *, spatial, kernel, stride, padding, dilation: xp.fold(
        windows, spatial, kernel, stride, padding, dilation
    ),
    # the adjoint of a scatter-add is the gather: pad the cotangent with zeros, read windows
    [
        lambda xp, g, out, windows, *, spatial, kernel, stride, padding, dilation: xp.unfold(
            g, kernel, stride, padding, dilation, 0.0
        )
    ],
    saves_inputs=False,
)


def _window_axes(kernel: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(range(-len(kernel), 0))


def _max_pool_forward(xp, x, *, kernel, stride, padding):
    """The maximum of each window (padding is -inf, so it never wins), and each element's
    share of the window's gradient: 1 at the maximum, 0 elsewhere, and 1/t for each of t
    tied maxima (the library's max: an even split, a subgradient; PyTorch gives the whole
    gradient to one of them). The share is a residual: piecewise constant in x."""
    ones = (1,) * len(kernel)
    windows = xp.unfold(x, kernel, stride, padding, ones, -math.inf)
    axes = _window_axes(kernel)
    kept = xp.max(windows, axis=axes, keepdims=True)
    hits = windows == kept
    counts = xp.sum(hits, axis=axes, keepdims=True)
    tied = xp.max(counts) > 1
    # without ties (the usual case) the bool mask is the share: no cast, no division pass
    share = xp.astype(hits, x.dtype) / xp.astype(counts, x.dtype) if tied else hits
    out = xp.reshape(kept, kept.shape[: -len(kernel)])
    return out, {"share": share, "spatial": x.shape[-len(kernel) :]}


def _max_pool_vjp(xp, g, out, x, *, kernel, stride, padding, share, spatial):
    ones = (1,) * len(kernel)
    spread = share * xp.reshape(g, g.shape + ones)
    return xp.fold(spread, spatial, kernel, stride, padding, ones)


max_pool = primitive(
    "max_pool", _max_pool_forward, [_max_pool_vjp], saves_inputs=False, residuals=True
)


def _avg_pool_forward(xp, x, *, kernel, stride, padding):
    """The mean of each window, zero padding included in the count (PyTorch's default
    count_include_pad=True): every window divides by k_1 ... k_d."""
    windows = xp.unfold(x, kernel, stride, padding, (1,) * len(kernel), 0.0)
    return xp.mean(windows, axis=_window_axes(kernel)), {"spatial": x.shape[-len(kernel) :]}


def _avg_pool_vjp(xp, g, out, x, *, kernel, stride, padding, spatial):
    """Each window element gets g / (k_1 ... k_d): a broadcast view, folded back."""
    ones = (1,) * len(kernel)
    spread = xp.reshape(g / math.prod(kernel), g.shape + ones)
    spread = xp.broadcast_to(spread, g.shape + tuple(kernel))
    return xp.fold(spread, spatial, kernel, stride, padding, ones)


avg_pool = primitive(
    "avg_pool", _avg_pool_forward, [_avg_pool_vjp], saves_inputs=False, residuals=True
)
