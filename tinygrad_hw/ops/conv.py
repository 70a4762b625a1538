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

import itertools
import math
import operator

import numpy as np

from tinygrad_hw.ops.primitive import primitive

Sizes = tuple[int, ...]


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


def _conv_gemm_forward(xp, w, cols, b):
    """W (O, D) @ cols (N, D, P) + b: (N, O, P), one GEMM per image and the bias added in
    place (no second (N, O, P) array), like ops.linear for a convolution's columns."""
    out = w @ cols
    out += xp.reshape(b, (b.shape[0], 1))
    return out


conv_gemm = primitive(
    "conv_gemm",
    _conv_gemm_forward,
    [
        # dW = sum over images of g cols^T, dcols = W^T g, db = g summed over images and pixels
        lambda xp, g, out, w, cols, b: xp.sum(g @ xp.matrix_transpose(cols), axis=0),
        lambda xp, g, out, w, cols, b: xp.matrix_transpose(w) @ g,
        lambda xp, g, out, w, cols, b: xp.sum(g, axis=(0, 2)),
    ],
)


def _window_axes(kernel: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(range(-len(kernel), 0))


def _tiles(spatial: Sizes, kernel: Sizes, stride: Sizes, padding: Sizes) -> bool:
    """Whether the windows tile the input (stride == kernel, no padding, sides multiples of
    the kernel: LeNet's and VGG's pools): then they are a reshape of x, and their gradient
    one reshape back."""
    return (
        stride == kernel
        and not any(padding)
        and all(n % k == 0 for n, k in zip(spatial, kernel, strict=True))
    )


def _interleaved(counts: Sizes, kernel: Sizes) -> Sizes:
    """(m_1, k_1, ..., m_d, k_d): the trailing shape of tiles as a reshape of the input."""
    return tuple(itertools.chain.from_iterable(zip(counts, kernel, strict=True)))


def _pool_windows(xp, x, kernel, stride, padding):
    """(windows, the index of one kernel offset in them, their kernel axes, the shape that
    broadcasts a pooled value over its window). Tiles are x reshaped to (*lead, m_1, k_1,
    ..., m_d, k_d), other windows unfold's view (*lead, m_1..m_d, k_1..k_d) over x padded
    with -inf."""
    d = len(kernel)
    lead = x.shape[:-d]
    if _tiles(x.shape[-d:], kernel, stride, padding):
        counts = tuple(n // k for n, k in zip(x.shape[-d:], kernel, strict=True))
        windows = xp.reshape(x, lead + _interleaved(counts, kernel))
        broadcast = lead + _interleaved(counts, (1,) * d)
        axes = tuple(range(-2 * d + 1, 0, 2))
        return windows, lambda o: (Ellipsis, *_interleaved((slice(None),) * d, o)), axes, broadcast
    windows = xp.unfold(x, kernel, stride, padding, (1,) * d, -math.inf)
    broadcast = windows.shape[:-d] + (1,) * d
    return windows, lambda o: (Ellipsis, *o), _window_axes(kernel), broadcast


# window elements from which a running maximum over the kernel offsets, one strided slice
# each, beats numpy's reduction over the small trailing axes (~15 times faster at 16,000
# elements; below ~1,000 the reduction's one call costs less than the loop's k_1 ... k_d)
LOOP_FROM = 1024


def _over_offsets(xp, reduce, combine, windows, at, axes):
    """``reduce`` over the kernel axes of the windows, as numpy's reduction (small windows)
    or as ``combine`` of the kernel offsets' slices, left to right: a fresh array."""
    if windows.size < LOOP_FROM:
        return reduce(windows, axis=axes)
    offsets = itertools.product(*(range(windows.shape[a]) for a in axes))
    first, total = windows[at(next(offsets))], None
    for offset in offsets:
        total = combine(first if total is None else total, windows[at(offset)])
    return xp.copy(first) if total is None else total  # one offset: a slice, not a view


def _max_pool_forward(xp, x, *, kernel, stride, padding):
    """The maximum of each window (padding is -inf, so it never wins), and what the vjp
    needs: ``hits``, where each window holds its maximum, and ``scale``, 1/t for a window
    with t tied maxima (the library's max: an even split, a subgradient; PyTorch gives the
    whole gradient to one of them). Both are residuals: piecewise constant in x.

    Large windows are reduced by a loop over the kernel offsets (``LOOP_FROM``); the counts
    add the hits as uint8, whose strided slices add fast (a strided bool -> float cast is
    slow). The residuals have the same shapes and dtypes with or without ties, so a
    recorded step (tinygrad_hw.jit) replays either."""
    windows, at, axes, broadcast = _pool_windows(xp, x, kernel, stride, padding)
    out = _over_offsets(xp, xp.max, xp.maximum, windows, at, axes)
    hits = windows == xp.reshape(out, broadcast)
    mask = xp.as_mask(hits, x)  # numpy's stays bool
    if windows.size < LOOP_FROM:
        counts = xp.sum(mask, axis=axes)
    else:
        tally = xp.astype(hits, np.uint8 if math.prod(kernel) < 256 else np.int32)
        counts = _over_offsets(xp, xp.sum, operator.add, tally, at, axes)
    scale = 1.0 / xp.astype(counts, x.dtype)
    spatial = x.shape[-len(kernel) :]
    return out, {"hits": mask, "scale": scale, "spatial": spatial}


def _max_pool_vjp(xp, g, out, x, *, kernel, stride, padding, hits, scale, spatial):
    """Each window's g / t to its t maxima, folded back; tiles that cover the input need
    no fold, only a reshape back."""
    d = len(kernel)
    share = g * scale
    if not _tiles(spatial, kernel, stride, padding):
        spread = hits * xp.reshape(share, g.shape + (1,) * d)
        return xp.fold(spread, spatial, kernel, stride, padding, (1,) * d)
    lead, counts = g.shape[:-d], g.shape[-d:]
    spread = hits * xp.reshape(share, lead + _interleaved(counts, (1,) * d))
    return xp.reshape(spread, lead + tuple(spatial))


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
