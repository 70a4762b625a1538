"""Activations and dropout as functions, under PyTorch's names (re-exported by ``functional``).

``F.softmax(x, dim=1)`` and ``F.relu(x)`` are the Tensor methods; they take PyTorch's ``dim``
or numpy's ``axis`` (one of them), so code from either side reads the same.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.nn.layers import Seed, as_generator
from tinygrad_hw.nn.module import Module
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import torch_alias


def _float(op: str, x: Any) -> Tensor:
    tensor = x if isinstance(x, Tensor) else Tensor(x)
    if tensor.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating-point tensor, got dtype {tensor.dtype}")
    return tensor


def softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """e^x / sum e^x along ``dim`` (default the last axis), shifted by the maximum."""
    if dim is not None:
        axis = torch_alias("softmax", "axis", axis, None, dim=dim)
    return _float("softmax", x).softmax(axis=-1 if axis is None else axis)


def log_softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (default the last axis): never log of a softmax."""
    if dim is not None:
        axis = torch_alias("log_softmax", "axis", axis, None, dim=dim)
    return _float("log_softmax", x).log_softmax(axis=-1 if axis is None else axis)


def relu(x: Any) -> Tensor:
    """max(x, 0) elementwise."""
    return _float("relu", x).relu()


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x) elementwise, finite at |x| = 1e4."""
    return _float("sigmoid", x).sigmoid()


def tanh(x: Any) -> Tensor:
    """tanh(x) elementwise."""
    return _float("tanh", x).tanh()


def dropout_probability(op: str, p: Any) -> float:
    """``p`` as a float in [0, 1]: the probability of zeroing each element."""
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise DTypeError(f"{op}: p must be a number in [0, 1], got {p!r:.60}")
    if not (math.isfinite(p) and 0 <= p <= 1):
        raise ArgumentError(f"{op}: p must lie in [0, 1] (the drop probability), got {p!r}")
    return float(p)


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: Seed = None) -> Tensor:
    """Inverted dropout: each element is zeroed with probability ``p`` and the kept ones are
    scaled by 1 / (1 - p), so E[output] = x and evaluation needs no rescaling.

    ``training=False`` or ``p=0`` returns ``x`` itself; ``p=1`` zeros everything (gradient 0).
    ``rng`` is an int seed (the same mask every call), a np.random.Generator (a reproducible
    sequence of masks) or None (fresh entropy). The gradient is g times the same scaled mask.
    """
    p = dropout_probability("dropout", p)
    x = _float("dropout", x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = as_generator(rng).random(x.shape) >= p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


class Dropout(Module):
    """Inverted dropout while ``training`` (see :func:`dropout`); the identity after
    ``.eval()``. ``rng`` (an int seed or a Generator) makes the sequence of masks reproducible.
    """

    def __init__(self, p: float = 0.5, rng: Seed = None) -> None:
        super().__init__()
        self.p = dropout_probability("Dropout", p)
        self.rng = as_generator(rng)

    def forward(self, x: Any) -> Tensor:
        return dropout(x, self.p, self.training, self.rng)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
