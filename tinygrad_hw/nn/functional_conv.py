"""Convolution and pooling, PyTorch's functional API: ``F.conv1d``, ``F.conv2d``,
``F.max_pool2d``, ``F.avg_pool2d`` (re-exported by ``tinygrad_hw.nn.functional``).

Layouts are PyTorch's: inputs (N, C, L) or (N, C, H, W) (a single unbatched example (C, ...)
too), weights (O, C / groups, *kernel), and along each spatial axis

    out = floor((n + 2 padding - dilation (k - 1) - 1) / stride) + 1.

A convolution (a cross-correlation, as in every deep-learning library) is built from
primitives, so its gradients of every order come from theirs:

    windows = unfold(x)                          (N, C, *out, *kernel), a strided view
    cols    = windows as (N, C * kernel, out)    the one copy (im2col), rows of x read whole
    y       = W (O, C * kernel) @ cols + b       one GEMM per image, the bias added in place
                                                 (ops.conv.conv_gemm): (N, O, out), NCHW

Its backward is then two matrix products (dW = sum_n g cols^T, d cols = W^T g) and a fold
(col2im: one strided += per kernel offset). Tiny convolutions (below ``COLUMNS_FROM``) and
those with one output pixel per image use rows instead, (N * out, C * kernel) @ W^T + b in
ONE GEMM (ops.linear), whose (N, out, O) result is a transposed view of NCHW: fewer
instructions where the copies are small. With groups G the channels split into G blocks
and the product is a batched matmul over the G blocks. Dilation and stride live in unfold's
strides.

Inputs and weights of different float dtypes follow the library's rule for binary ops
(numpy's promotion: float32 with float64 gives float64; each gradient comes back in its
input's dtype); a constant (an ndarray, not a Tensor) takes the Tensor's dtype.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.ops.conv import conv_gemm
from tinygrad_hw.recording import apply, lift_all
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import positive_int

Sizes = tuple[int, ...]


# --------------------------------------------------------------------------- checks
def int_tuple(op: str, name: str, value: Any, d: int, minimum: int) -> Sizes:
    """An int or a sequence of d ints (PyTorch's int-or-pair) as a tuple of d ints, each
    >= minimum; DTypeError or ArgumentError naming the op, the argument and the value."""
    items = tuple(value) if isinstance(value, tuple | list) else (value,) * d
    if len(items) != d or any(isinstance(v, bool) for v in items):
        raise DTypeError(f"{op}: {name} must be an int or a tuple of {d} ints, got {value!r}")
    try:
        sizes = tuple(operator.index(v) for v in items)
    except TypeError:
        raise DTypeError(
            f"{op}: {name} must be an int or a tuple of {d} ints, got {value!r}"
        ) from None
    if any(v < minimum for v in sizes):
        raise ArgumentError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return sizes


def _float_operands(op: str, *operands: Any) -> list[Any]:
    """Tensors (a constant takes the first float Tensor's dtype), all floating point."""
    present = [v for v in operands if v is not None]
    if not any(isinstance(v, Tensor) for v in present):
        present[0] = Tensor(present[0])
    lifted = iter(lift_all(op, tuple(present)))
    tensors = [None if v is None else next(lifted) for v in operands]
    for name, t in zip(("input", "weight", "bias"), tensors, strict=False):
        if t is not None and t.dtype.kind != "f":
            raise DTypeError(
                f"{op}: {name} must be floating point, got dtype {t.dtype} "
                "(cast with .astype(np.float32))"
            )
    return tensors


def _check_rank(op: str, x: Tensor, d: int) -> None:
    if x.ndim not in (d + 1, d + 2):
        layout = "(N, C, L) or (C, L)" if d == 1 else "(N, C, H, W) or (C, H, W)"
        raise ShapeError(f"{op}: input must be {d + 2}-D {layout}, got shape {x.shape}")


def _check_fits(op: str, spatial: Sizes, kernel: Sizes, padding: Sizes, dilation: Sizes) -> None:
    """At least one window along every axis: the dilated kernel fits the padded input."""
    for n, k, p, r in zip(spatial, kernel, padding, dilation, strict=True):
        if n + 2 * p < r * (k - 1) + 1:
            raise ShapeError(
                f"{op}: kernel {kernel} (dilation {dilation}) is larger than the padded input: "
                f"spatial shape {spatial} with padding {padding}"
            )


def _check_conv_shapes(op: str, x: Tensor, w: Tensor, b: Tensor | None, groups: int) -> None:
    c, o = x.shape[1], w.shape[0]
    if o % groups:
        raise ShapeError(f"{op}: out channels {o} (weight {w.shape}) not divisible by {groups=}")
    if c % groups:
        raise ShapeError(f"{op}: input channels {c} (input {x.shape}) not divisible by {groups=}")
    if c != w.shape[1] * groups:
        raise ShapeError(
            f"{op}: input {x.shape} has {c} channels, weight {w.shape} expects "
            f"{w.shape[1]} * groups ({groups}) = {w.shape[1] * groups}"
        )
    if w.size == 0:
        raise ShapeError(f"{op}: weight {w.shape} is empty (an axis of size 0)")
    if b is not None and b.shape != (o,):
        raise ShapeError(f"{op}: bias must have shape ({o},) for weight {w.shape}, got {b.shape}")


# --------------------------------------------------------------------------- convolution
def conv1d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-d cross-correlation of (N, C, L) input with (O, C / groups, K) weights:
    y[n, o, i] = b[o] + sum_{c, j} w[o, c, j] x_padded[n, g(o) + c, i s + j r], shape
    (N, O, L_out). See the module docstring for the sizes, dtypes and the algorithm."""
    return _convolution("conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-d cross-correlation of (N, C, H, W) input with (O, C / groups, KH, KW) weights:
    y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x_padded[n, g(o) + c, i s_h + u r_h,
    j s_w + v r_w], with g(o) the first input channel of o's group. stride, padding and
    dilation are ints or pairs. Returns (N, O, H_out, W_out)."""
    return _convolution("conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def _convolution(
    op: str, d: int, x: Any, w: Any, b: Any, stride: Any, padding: Any, dilation: Any, groups: Any
) -> Tensor:
    x, w, b = _float_operands(op, x, w, b)
    _check_rank(op, x, d)
    if w.ndim != d + 2:
        raise ShapeError(f"{op}: weight must be {d + 2}-D (O, C / groups, *kernel), got {w.shape}")
    groups = positive_int(f"{op}: groups", groups)
    unbatched = x.ndim == d + 1
    if unbatched:
        x = apply(ops.reshape, x, shape=(1, *x.shape))
    _check_conv_shapes(op, x, w, b, groups)
    stride = int_tuple(op, "stride", stride, d, 1)
    padding = int_tuple(op, "padding", padding, d, 0)
    dilation = int_tuple(op, "dilation", dilation, d, 1)
    _check_fits(op, x.shape[2:], w.shape[2:], padding, dilation)
    y = convolve(x, w, b, stride, padding, dilation, groups)
    return apply(ops.reshape, y, shape=y.shape[1:]) if unbatched else y


# im2col elements (N * out * C / groups * kernel) from which a convolution lays its columns
# out per image, (N, C * kernel, out), for N GEMMs whose results are NCHW already: its copies
# read and write whole rows (2-3 times faster at LeNet's sizes); below, one GEMM of rows
# (N * out, C * kernel) costs fewer instructions
COLUMNS_FROM = 1 << 16


def convolve(
    x: Tensor,
    w: Tensor,
    b: Tensor | None,
    stride: Sizes,
    padding: Sizes,
    dilation: Sizes,
    groups: int,
) -> Tensor:
    """The convolution of checked operands: unfold, then one GEMM of rows, one per image of
    columns (large inputs), or one per group (see the module docstring)."""
    d = w.ndim - 2
    n, o, kernel = x.shape[0], w.shape[0], w.shape[2:]
    windows = apply(
        ops.unfold, x, kernel=kernel, stride=stride, padding=padding, dilation=dilation, fill=0.0
    )
    out = windows.shape[2 : 2 + d]
    spatial_axes, kernel_axes = tuple(range(2, 2 + d)), tuple(range(2 + d, 2 + 2 * d))
    rows, depth = n * math.prod(out), w.size // o  # depth = C / groups * prod(kernel)
    if groups == 1 and (math.prod(out) == 1 or rows * depth < COLUMNS_FROM):
        # small, or one output pixel per image: rows (N * out, C * kernel), one receptive
        # field each, in ONE GEMM (fewer instructions than N small ones); (N, out, O) is
        # then a transposed view of NCHW (already NCHW for one pixel)
        cols = _reshape(_transpose(windows, (0, *spatial_axes, 1, *kernel_axes)), (rows, depth))
        weight = _transpose(_reshape(w, (o, depth)), (1, 0))
        if b is not None and x.dtype == w.dtype == b.dtype:
            y = apply(ops.linear, cols, weight, b)  # one node, the bias added in place
        else:
            y = cols @ weight if b is None else cols @ weight + b
        return _transpose(_reshape(y, (n, *out, o)), (0, d + 1, *range(1, d + 1)))
    if groups == 1:
        # cols (N, C * kernel, out): each image's receptive fields as columns, so that
        # W (O, C * kernel) @ cols is (N, O, out), already NCHW: the im2col copy reads x
        # along its rows (long inner loops) and the fold of d cols reads whole rows too
        cols = _transpose(windows, (0, 1, *kernel_axes, *spatial_axes))
        cols = _reshape(cols, (n, depth, math.prod(out)))
        weight = _reshape(w, (o, depth))
        if b is not None and x.dtype == w.dtype == b.dtype:
            y = apply(conv_gemm, weight, cols, b)  # one node, the bias added in place
        else:  # one GEMM per image (numpy's batched matmul), mixed dtypes promoted
            y = weight @ cols if b is None else weight @ cols + _reshape(b, (o, 1))
        return _reshape(y, (n, o, *out))
    g, c = groups, x.shape[1]
    grouped = _reshape(windows, (n, g, c // g, *out, *kernel))
    by_group = (1, 0, *(a + 1 for a in spatial_axes), 2, *(a + 1 for a in kernel_axes))
    cols = _reshape(_transpose(grouped, by_group), (g, rows, depth))
    weight = _transpose(_reshape(w, (g, o // g, depth)), (0, 2, 1))
    y = cols @ weight  # (G, N * out, O / G): numpy runs one GEMM per group
    if b is not None:
        y = y + _reshape(b, (g, 1, o // g))
    y = _transpose(_reshape(y, (g, n, *out, o // g)), (1, 0, d + 2, *range(2, d + 2)))
    return _reshape(y, (n, o, *out))


def _reshape(t: Tensor, shape: Sizes) -> Tensor:
    return apply(ops.reshape, t, shape=shape)  # shapes computed here: no need to re-check


def _transpose(t: Tensor, axes: Sizes) -> Tensor:
    return apply(ops.transpose, t, axes=axes)


# --------------------------------------------------------------------------- pooling
def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The maximum of each kernel_size window of (N, C, H, W) (or (C, H, W)) input, moved by
    stride (default: kernel_size, non-overlapping) over the input padded with -inf.

    At tied maxima the gradient is split evenly among them (the library's ``max``; PyTorch
    gives it all to one). padding must be at most half the kernel, as in PyTorch."""
    x, kernel, stride, padding = _pool_arguments("max_pool2d", x, kernel_size, stride, padding)
    return apply(ops.max_pool, x, kernel=kernel, stride=stride, padding=padding)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The mean of each kernel_size window of (N, C, H, W) (or (C, H, W)) input, moved by
    stride (default: kernel_size) over the input padded with zeros, which count in the mean
    (PyTorch's count_include_pad=True): every window divides by kh * kw."""
    x, kernel, stride, padding = _pool_arguments("avg_pool2d", x, kernel_size, stride, padding)
    return apply(ops.avg_pool, x, kernel=kernel, stride=stride, padding=padding)


def _pool_arguments(
    op: str, x: Any, kernel_size: Any, stride: Any, padding: Any
) -> tuple[Tensor, Sizes, Sizes, Sizes]:
    (x,) = _float_operands(op, x)
    _check_rank(op, x, 2)
    kernel = int_tuple(op, "kernel_size", kernel_size, 2, 1)
    stride = kernel if stride is None else int_tuple(op, "stride", stride, 2, 1)
    padding = int_tuple(op, "padding", padding, 2, 0)
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ArgumentError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    _check_fits(op, x.shape[-2:], kernel, padding, (1, 1))
    return x, kernel, stride, padding
