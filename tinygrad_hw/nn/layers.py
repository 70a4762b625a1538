"""Layers: Linear, the activations as Modules, Sequential and MLP.

Shapes follow the seed reports: a batch is a row per example, ``x`` of shape (N, in_features),
and a Linear layer computes ``x @ W + b`` with ``W`` of shape (in_features, out_features).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError
from tinygrad_hw.nn.module import Module
from tinygrad_hw.recording import apply, lift
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import positive_int

Seed = int | np.random.Generator | None
INITS = ("he", "xavier", "zeros", "normal")
NORMAL_INIT_STD = 0.01


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def as_generator(rng: Seed) -> np.random.Generator:
    """An int seed, a Generator (used as is, so successive layers draw different values) or
    None (fresh OS entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)):
        if rng is not None and rng < 0:
            raise ArgumentError(f"rng: a seed must be an int >= 0, got {rng}")
        return np.random.default_rng(rng)
    raise DTypeError(f"rng must be an int seed, a np.random.Generator or None, got {rng!r:.60}")


def float_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if resolved not in (np.float32, np.float64):
        raise DTypeError(f"dtype must be np.float32 or np.float64, got {resolved}")
    return resolved


def init_weight(
    shape: tuple[int, int], init: str, dtype: np.dtype, rng: np.random.Generator
) -> np.ndarray:
    """A fresh (fan_in, fan_out) weight array.

    - "he" (Kaiming normal): N(0, 2 / fan_in). A ReLU zeroes half its inputs on average, so
      doubling Var(W) keeps Var(activations) constant from layer to layer (He et al. 2015).
    - "xavier" (Glorot uniform): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), so
      Var(W) = 2 / (fan_in + fan_out): keeps the forward and backward variances balanced for
      sigmoid/tanh, which are near-linear around 0 (Glorot & Bengio 2010).
    - "normal": N(0, 0.01^2), the small-random init of the classic tutorials.
    - "zeros": all zero (fine for logistic regression; a hidden layer would never break
      symmetry).
    """
    fan_in, fan_out = shape
    # Drawn in float64 and rounded, so that one seed gives the same weights in both dtypes.
    if init == "he":
        return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(dtype)
    if init == "xavier":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(dtype)
    if init == "normal":
        return (rng.standard_normal(shape) * NORMAL_INIT_STD).astype(dtype)
    if init == "zeros":
        return np.zeros(shape, dtype=dtype)
    raise ArgumentError(f"Linear: init must be one of {INITS}, got {init!r}")


class Linear(Module):
    """y = x @ weight + bias, with weight (in_features, out_features) and bias (out_features,).

    ``init`` picks the weight initialisation (see :func:`init_weight`): "he" for ReLU
    networks, "xavier" for sigmoid/tanh. The bias starts at zero. ``dtype`` is float32 by
    default, float64 on request (for gradcheck). The arrays are created here and owned by the
    layer; ``load_state_dict`` copies into them.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "he",
        dtype: Any = np.float32,
        rng: Seed = None,
    ) -> None:
        super().__init__()
        self.in_features = positive_int("Linear: in_features", in_features)
        self.out_features = positive_int("Linear: out_features", out_features)
        dtype = float_dtype(dtype)
        if init not in INITS:
            raise ArgumentError(f"Linear: init must be one of {INITS}, got {init!r}")
        shape = (self.in_features, self.out_features)
        weight = init_weight(shape, init, dtype, as_generator(rng))
        self.weight = Tensor(weight, requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_features, dtype), requires_grad=True) if bias else None

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor) or (
            x._node is None and x.data.dtype != self.weight.data.dtype
        ):
            # A constant input takes the layer's dtype (Tensor's usual rule for constants), so
            # float64 data never silently turns a float32 model's forward pass into float64.
            x = lift(x.data if isinstance(x, Tensor) else x, self.weight)
        ndim = x.data.ndim
        if ndim == 0 or x.data.shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear({self.in_features}, {self.out_features}): input has shape "
                f"{np.shape(x)}, its last axis must be {self.in_features}"
            )
        if self.bias is not None and ndim == 2:  # a batch of rows: the fused op
            return apply(ops.linear, x, self.weight, self.bias)
        out = x @ self.weight
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return (
            f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None}, "
            f"dtype={self.weight.dtype})"
        )


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).relu()

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid(Module):
    """1 / (1 + e^-x) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).sigmoid()

    def __repr__(self) -> str:
        return "Sigmoid()"


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).tanh()

    def __repr__(self) -> str:
        return "Tanh()"


class Identity(Module):
    """Returns its input unchanged (a no-op activation)."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x)

    def __repr__(self) -> str:
        return "Identity()"


class Sequential(Module):
    """Applies its modules in order; they are named "0", "1", ... (so "layers.0.weight")."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], list | tuple):
            modules = tuple(modules[0])
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise DTypeError(f"Sequential: item {i} is a {type(module).__name__}, not a Module")
        self.steps = list(modules)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, module in enumerate(self.steps):
            yield str(i), module

    def forward(self, x: Any) -> Any:
        for module in self.steps:
            x = module(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return self.steps[index]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.steps)


ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
DEFAULT_INIT = {"relu": "he", "sigmoid": "xavier", "tanh": "xavier"}


def _activation(name: str, value: Any) -> Module:
    if isinstance(value, Module):
        return value  # a Module instance is shared by every hidden layer: keep it stateless
    if value not in ACTIVATIONS:
        raise ArgumentError(
            f"MLP: {name} must be one of {sorted(ACTIVATIONS)} or a Module, got {value!r}"
        )
    return ACTIVATIONS[value]()


def _default_init(activation: Any) -> str:
    """He for ReLU, Glorot for everything else (sigmoid, tanh, a custom Module)."""
    if isinstance(activation, Module):
        return "he" if isinstance(activation, ReLU) else "xavier"
    return DEFAULT_INIT[activation]


class MLP(Module):
    """A stack of Linear layers with an activation between them: MLP([784, 100, 10]).

    ``sizes`` lists the widths from input to output (at least two). ``activation`` follows
    every hidden layer, ``final_activation`` (default none: the output is logits) the last.
    ``init`` defaults to "he" for ReLU and "xavier" otherwise. One ``rng`` draws all layers.
    """

    def __init__(
        self,
        sizes: list[int],
        activation: Any = "relu",
        final_activation: Any = None,
        init: str | None = None,
        dtype: Any = np.float32,
        rng: Seed = None,
    ) -> None:
        super().__init__()
        if isinstance(sizes, int | str) or len(sizes) < 2:
            raise ArgumentError(f"MLP: sizes must list at least 2 widths, got {sizes!r}")
        _activation("activation", activation)  # checked before any layer is built
        init = _default_init(activation) if init is None else init
        generator = as_generator(rng)
        steps: list[Module] = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            linear = Linear(fan_in, fan_out, init=init, dtype=dtype, rng=generator)
            steps += [linear, _activation("activation", activation)]
        steps.pop()
        if final_activation is not None:
            steps.append(_activation("final_activation", final_activation))
        self.sizes = [int(n) for n in sizes]
        self.layers = Sequential(*steps)

    def forward(self, x: Any) -> Tensor:
        return self.layers(x)
