"""``tg.sin(x)``, ``tg.remainder(a, b)``, ``tg.gelu(x)``...: the functional twins of the
methods in tensor_math, taking Tensors, arrays or numbers.

tinygrad_hw.functions re-exports every name here, so they are also part of the differentiable
``xp`` that vjps run against under ``create_graph`` (abs's vjp calls ``xp.sign``, the rounding
ops' vjps ``xp.zeros_like``).
"""

from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.recording import apply, new_tensor
from tinygrad_hw.tensor import Tensor


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _binary(op: Any, a: Any, b: Any) -> Tensor:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    return apply(op, a, b)


# --------------------------------------------------------------------- trigonometric, hyperbolic
def sin(x: Any) -> Tensor:
    return _tensor(x).sin()


def cos(x: Any) -> Tensor:
    return _tensor(x).cos()


def tan(x: Any) -> Tensor:
    return _tensor(x).tan()


def arcsin(x: Any) -> Tensor:
    return _tensor(x).arcsin()


def arccos(x: Any) -> Tensor:
    return _tensor(x).arccos()


def arctan(x: Any) -> Tensor:
    return _tensor(x).arctan()


def sinh(x: Any) -> Tensor:
    return _tensor(x).sinh()


def cosh(x: Any) -> Tensor:
    return _tensor(x).cosh()


def arctanh(x: Any) -> Tensor:
    return _tensor(x).arctanh()


asin = arcsin  # PyTorch's and the array API's names
acos = arccos
atan = arctan
atanh = arctanh


# --------------------------------------------------------------------- logarithms, exponentials
def log1p(x: Any) -> Tensor:
    return _tensor(x).log1p()


def expm1(x: Any) -> Tensor:
    return _tensor(x).expm1()


def exp2(x: Any) -> Tensor:
    return _tensor(x).exp2()


def log2(x: Any) -> Tensor:
    return _tensor(x).log2()


def log10(x: Any) -> Tensor:
    return _tensor(x).log10()


def square(x: Any) -> Tensor:
    return _tensor(x).square()


def reciprocal(x: Any) -> Tensor:
    return _tensor(x).reciprocal()


def erf(x: Any) -> Tensor:
    return _tensor(x).erf()


def erfc(x: Any) -> Tensor:
    return _tensor(x).erfc()


# --------------------------------------------------------------------- rounding (zero gradient)
def sign(x: Any) -> Tensor:
    """-1, 0 or 1; differentiable with gradient 0 (PyTorch's)."""
    return _tensor(x).sign()


def floor(x: Any) -> Tensor:
    return _tensor(x).floor()


def ceil(x: Any) -> Tensor:
    return _tensor(x).ceil()


def trunc(x: Any) -> Tensor:
    return _tensor(x).trunc()


def round(x: Any, decimals: int = 0) -> Tensor:
    """Halves to even, as numpy and PyTorch; gradient 0."""
    return _tensor(x).round(decimals)


def zeros_like(x: Any) -> Tensor:
    """A constant Tensor of zeros of ``x``'s shape and dtype (the rounding ops' vjp)."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return new_tensor(Tensor, namespace_of(data).zeros_like(data))


# --------------------------------------------------------------------- modulo
def remainder(a: Any, b: Any) -> Tensor:
    """a % b with the sign of b (numpy's remainder); d/da = 1, d/db = -floor(a / b)."""
    return _binary(ops.remainder, a, b)


def fmod(a: Any, b: Any) -> Tensor:
    """C's fmod, with the sign of a (numpy's fmod); d/da = 1, d/db = -trunc(a / b)."""
    return _binary(ops.fmod, a, b)


# --------------------------------------------------------------------- activations
def softplus(x: Any, beta: float = 1.0, threshold: float | None = None) -> Tensor:
    return _tensor(x).softplus(beta, threshold)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    return _tensor(x).gelu(approximate)


def silu(x: Any) -> Tensor:
    return _tensor(x).silu()


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return _tensor(x).leaky_relu(negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return _tensor(x).elu(alpha)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return _tensor(x).hardtanh(min_val, max_val)
