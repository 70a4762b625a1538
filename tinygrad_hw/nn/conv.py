"""Convolutional layers: Conv2d, MaxPool2d, AvgPool2d and Flatten, PyTorch's names, arguments
and layouts (NCHW input, OIHW weight). The maths is in ``nn.functional_conv``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.nn.functional_conv import avg_pool2d, conv2d, int_tuple, max_pool2d
from tinygrad_hw.nn.layers import Seed, as_generator, float_dtype, init_weight
from tinygrad_hw.nn.module import Module
from tinygrad_hw.recording import lift
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import normalize_axis, positive_int


class Conv2d(Module):
    """y = conv2d(x, weight, bias, stride, padding, dilation, groups) with weight of shape
    (out_channels, in_channels / groups, kh, kw) and bias (out_channels,).

    The weight is He-initialised (Kaiming normal, as Linear's default "he"): N(0, 2 / fan_in)
    with fan_in = in_channels / groups * kh * kw, the inputs each output sums over, which
    keeps the activations' variance constant through ReLU layers. The bias starts at zero.
    ``dtype`` is float32 by default, float64 on request (for gradcheck); ``rng`` is an int
    seed, a Generator or None, as for Linear.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        rng: Seed = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        op = "Conv2d"
        self.in_channels = positive_int(f"{op}: in_channels", in_channels)
        self.out_channels = positive_int(f"{op}: out_channels", out_channels)
        self.groups = positive_int(f"{op}: groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ArgumentError(
                f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                f"be divisible by groups ({groups})"
            )
        self.kernel_size = int_tuple(op, "kernel_size", kernel_size, 2, 1)
        self.stride = int_tuple(op, "stride", stride, 2, 1)
        self.padding = int_tuple(op, "padding", padding, 2, 0)
        self.dilation = int_tuple(op, "dilation", dilation, 2, 1)
        dtype = float_dtype(dtype)
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        # init_weight draws a (fan_in, fan_out) matrix; each column becomes one filter
        columns = init_weight((fan_in, self.out_channels), "he", dtype, as_generator(rng))
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Tensor(np.ascontiguousarray(columns.T).reshape(shape), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_channels, dtype), requires_grad=True) if bias else None

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor) or (
            x._node is None and x.data.dtype != self.weight.data.dtype
        ):
            # a constant input takes the layer's dtype, as in Linear: float64 data never
            # silently turns a float32 model into a float64 one
            x = lift(x.data if isinstance(x, Tensor) else x, self.weight)
        return conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}, dtype={self.weight.dtype})"
        )


class _Pool2d(Module):
    """The arguments shared by the pools, checked when the layer is built."""

    name = "Pool2d"

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = int_tuple(self.name, "kernel_size", kernel_size, 2, 1)
        self.stride = (
            self.kernel_size if stride is None else int_tuple(self.name, "stride", stride, 2, 1)
        )
        self.padding = int_tuple(self.name, "padding", padding, 2, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ArgumentError(
                f"{self.name}: padding {self.padding} must be at most half of kernel_size "
                f"{self.kernel_size}"
            )

    def __repr__(self) -> str:
        return (
            f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding})"
        )


class MaxPool2d(_Pool2d):
    """The maximum over each window (see ``nn.functional.max_pool2d``; stride defaults to
    kernel_size; ties share the gradient evenly)."""

    name = "MaxPool2d"

    def forward(self, x: Any) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """The mean over each window, zero padding counted (see ``nn.functional.avg_pool2d``)."""

    name = "AvgPool2d"

    def forward(self, x: Any) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Merge axes start_dim..end_dim (inclusive, negative counted from the end) into one:
    (N, C, H, W) -> (N, C * H * W) by default, the bridge from convolutions to Linear."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise DTypeError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0:
            raise ShapeError("Flatten: input is 0-d, there are no axes to merge")
        start = normalize_axis(self.start_dim, x.ndim, "Flatten: start_dim", x.shape)
        end = normalize_axis(self.end_dim, x.ndim, "Flatten: end_dim", x.shape)
        if start > end:
            raise ArgumentError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                f"for an input of shape {x.shape}"
            )
        merged = math.prod(x.shape[start : end + 1])
        return x.reshape((*x.shape[:start], merged, *x.shape[end + 1 :]))

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"
