"""Normalisation layers: BatchNorm1d, BatchNorm2d and LayerNorm (PyTorch's semantics).

All three standardise with the fused primitive ``ops.standardize`` (one node, closed-form vjp
that is differentiable again) and then apply the learnt affine map gamma * y + beta with mul
and add. Batch norm standardises each channel over the batch (and length/height/width) in
training, with the biased variance, and keeps running estimates of the mean and the UNBIASED
variance (n / (n - 1) times the batch's) as buffers, saved by ``state_dict``; in evaluation
it uses those estimates instead: (x - running_mean) / sqrt(running_var + eps).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.modes import modes
from tinygrad_hw.nn.layers import float_dtype
from tinygrad_hw.nn.module import Module
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.recording import apply, lift
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import positive_int


def _positive_float(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DTypeError(f"{op}: {name} must be a number, got {value!r:.60}")
    if not (math.isfinite(value) and value > 0):
        raise ArgumentError(f"{op}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def _momentum(op: str, value: Any) -> float | None:
    if value is None:
        return None  # a cumulative average over the batches seen (PyTorch's momentum=None)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DTypeError(f"{op}: momentum must be a number in [0, 1] or None, got {value!r:.60}")
    if not 0 <= value <= 1:
        raise ArgumentError(f"{op}: momentum must lie in [0, 1], got {value!r}")
    return float(value)


def _input(x: Any, dtype: np.dtype) -> Tensor:
    """A constant input takes the layer's dtype (as Linear does); a recorded one is kept."""
    if not isinstance(x, Tensor) or (x._node is None and x.dtype != dtype):
        x = lift(x.data if isinstance(x, Tensor) else x, Tensor(np.zeros((), dtype)))
    return x


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they take."""

    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        op = type(self).__name__
        self.num_features = positive_int(f"{op}: num_features", num_features)
        self.eps = _positive_float(op, "eps", eps)
        self.momentum = _momentum(op, momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.dtype = float_dtype(dtype)
        c = self.num_features
        self.weight = Tensor(np.ones(c, self.dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(c, self.dtype), requires_grad=True) if affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, self.dtype))
            self.register_buffer("running_var", np.ones(c, self.dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x: Any) -> Tensor:
        x = _input(x, self.dtype)
        op = type(self).__name__
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ShapeError(
                f"{op}({self.num_features}): input has shape {x.shape}, expected "
                f"{self.layout} with C = {self.num_features}"
            )
        axes = (0, *range(2, x.ndim))  # every axis but the channels
        shape = (self.num_features,) + (1,) * (x.ndim - 2)  # a channel vector that broadcasts
        if self.training or not self.track_running_stats:
            count = math.prod(x.shape[a] for a in axes)
            if self.training and count < 2:
                raise ShapeError(
                    f"{op}: input of shape {x.shape} has {count} value per channel; training "
                    "needs more than 1 (its variance would be 0/0)"
                )
            if self.training and self.track_running_stats:
                self._update_running_stats(x.data, axes, count)
            y = apply(ops.standardize, x, axis=axes, eps=self.eps)
        else:
            xp = namespace_of(self.running_mean.data)
            mean = xp.reshape(self.running_mean.data, shape)
            inv = 1.0 / xp.sqrt(xp.reshape(self.running_var.data, shape) + self.eps)
            y = (x - mean) * inv
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y

    def _update_running_stats(self, x: np.ndarray, axes: tuple[int, ...], count: int) -> None:
        """running = (1 - m) running + m batch, in place; the variance unbiased by n / (n - 1)."""
        if modes.tracer is not None:  # plain numpy on the batch: tinygrad_hw.jit cannot replay it
            modes.tracer.read_value("BatchNorm's running statistics, computed from x.data")
        self.num_batches_tracked.data[...] += 1
        m = self.momentum
        if m is None:
            m = 1.0 / float(self.num_batches_tracked.data)
        xp = namespace_of(x)
        mean = xp.mean(x, axis=axes)
        centred = x - xp.reshape(mean, (1, -1) + (1,) * (x.ndim - 2))
        unbiased = xp.sum(centred * centred, axis=axes) / (count - 1)
        for buffer, batch in ((self.running_mean, mean), (self.running_var, unbiased)):
            buffer.data[...] = (1.0 - m) * buffer.data + m * batch

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum="
            f"{self.momentum}, affine={self.affine}, track_running_stats="
            f"{self.track_running_stats})"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs: per channel c, over N (and L),
    y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]."""

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over NCHW inputs: per channel c, over N, H and W."""

    ranks = (4,)
    layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Standardise each sample over its last axes, ``normalized_shape`` (an int or a tuple):
    y = (x - mean) / sqrt(var + eps) * weight + bias, the mean and biased variance over those
    axes, weight and bias of shape ``normalized_shape``. No running statistics: train and
    eval compute the same thing."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        dims = (
            (normalized_shape,)
            if not isinstance(normalized_shape, tuple | list)
            else normalized_shape
        )
        try:
            self.normalized_shape = tuple(operator.index(n) for n in dims)
        except TypeError:
            raise DTypeError(
                f"LayerNorm: normalized_shape must be an int or a tuple of ints, got "
                f"{normalized_shape!r:.60}"
            ) from None
        if not self.normalized_shape or min(self.normalized_shape) < 1:
            raise ArgumentError(
                f"LayerNorm: normalized_shape must be non-empty sizes >= 1, got {normalized_shape}"
            )
        self.eps = _positive_float("LayerNorm", "eps", eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.dtype = float_dtype(dtype)
        shape = self.normalized_shape
        affine = self.elementwise_affine
        self.weight = Tensor(np.ones(shape, self.dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(shape, self.dtype), requires_grad=True) if affine else None

    def forward(self, x: Any) -> Tensor:
        x = _input(x, self.dtype)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k :] != self.normalized_shape or x.ndim < k:
            raise ShapeError(
                f"LayerNorm({self.normalized_shape}): input has shape {x.shape}, its last "
                f"{k} axes must be {self.normalized_shape}"
            )
        y = apply(ops.standardize, x, axis=tuple(range(x.ndim - k, x.ndim)), eps=self.eps)
        return y * self.weight + self.bias if self.elementwise_affine else y

    def __repr__(self) -> str:
        return (
            f"LayerNorm({self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine})"
        )
