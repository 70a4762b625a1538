"""Tensor methods for the transcendental, rounding and activation ops (ops.transcendental and
ops.activations): numpy's names, PyTorch's where numpy has none, and PyTorch's (which are also
the array API's) short aliases ``asin acos atan atanh`` for ``arcsin arccos arctan arctanh``.

Each method checks its non-differentiable arguments (naming the op, the argument and the value)
and hands the tensor to its primitive through ``apply``. The operator ``%`` is in tensor.py
with the other operators.
"""

import math
import operator
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.recording import apply


def _real(op: str, name: str, value: Any) -> float:
    """A real-number argument (an int or a float, not a bool, not NaN) as a Python float."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DTypeError(f"{op}: {name} must be a real number, got {value!r:.60}")
    if math.isnan(value):
        raise ArgumentError(f"{op}: {name} must be a number, got NaN")
    return float(value)


class MathMethods:
    """Trigonometric, hyperbolic, logarithmic, rounding, modulo and activation functions."""

    __slots__ = ()

    # ------------------------------------------------------------ trigonometric, hyperbolic
    def sin(self) -> Any:
        return apply(ops.sin, self)

    def cos(self) -> Any:
        return apply(ops.cos, self)

    def tan(self) -> Any:
        return apply(ops.tan, self)

    def arcsin(self) -> Any:
        return apply(ops.arcsin, self)

    def arccos(self) -> Any:
        return apply(ops.arccos, self)

    def arctan(self) -> Any:
        return apply(ops.arctan, self)

    def sinh(self) -> Any:
        return apply(ops.sinh, self)

    def cosh(self) -> Any:
        return apply(ops.cosh, self)

    def arctanh(self) -> Any:
        return apply(ops.arctanh, self)

    asin = arcsin  # PyTorch's and the array API's names
    acos = arccos
    atan = arctan
    atanh = arctanh

    # ------------------------------------------------------------ logarithms, exponentials
    def log1p(self) -> Any:
        """log(1 + x), exact near 0."""
        return apply(ops.log1p, self)

    def expm1(self) -> Any:
        """e^x - 1, exact near 0."""
        return apply(ops.expm1, self)

    def exp2(self) -> Any:
        return apply(ops.exp2, self)

    def log2(self) -> Any:
        return apply(ops.log2, self)

    def log10(self) -> Any:
        return apply(ops.log10, self)

    def square(self) -> Any:
        return apply(ops.square, self)

    def reciprocal(self) -> Any:
        """1 / x; integer tensors give floats (as true division), not numpy's truncation."""
        return apply(ops.reciprocal, self)

    def erf(self) -> Any:
        """The error function 2/sqrt(pi) int_0^x e^(-t^2) dt (numpy has none: ops.special)."""
        return apply(ops.erf, self)

    def erfc(self) -> Any:
        """1 - erf(x), accurate where it is tiny."""
        return apply(ops.erfc, self)

    # ------------------------------------------------------------ rounding: zero gradient
    def sign(self) -> Any:
        """-1, 0 or 1; its gradient is 0 (PyTorch's)."""
        return apply(ops.sign, self)

    def floor(self) -> Any:
        """Round down; gradient 0. Integer tensors keep their dtype (numpy's)."""
        return apply(ops.floor, self)

    def ceil(self) -> Any:
        """Round up; gradient 0."""
        return apply(ops.ceil, self)

    def trunc(self) -> Any:
        """Round towards 0; gradient 0."""
        return apply(ops.trunc, self)

    def round(self, decimals: int = 0) -> Any:
        """Round to ``decimals`` places, halves to even (numpy's and PyTorch's); gradient 0."""
        if isinstance(decimals, bool | np.bool_):
            raise DTypeError(f"round: decimals must be an int, got {decimals!r}")
        try:
            decimals = operator.index(decimals)
        except TypeError:
            raise DTypeError(f"round: decimals must be an int, got {decimals!r:.60}") from None
        return apply(ops.round, self, decimals=decimals)

    # ------------------------------------------------------------ modulo
    def remainder(self, other: Any) -> Any:
        """self % other with the sign of the divisor (numpy's remainder, Python's %)."""
        return apply(ops.remainder, self, other)

    def fmod(self, other: Any) -> Any:
        """C's fmod: the remainder with the sign of the dividend (numpy's fmod)."""
        return apply(ops.fmod, self, other)

    # ------------------------------------------------------------ activations
    def softplus(self, beta: float = 1.0, threshold: float | None = None) -> Any:
        """log(1 + e^(beta x)) / beta, exact and finite for every x. PyTorch switches to x
        where beta x > 20 (off by < 2e-9); pass threshold=20 for that, None (default) never."""
        beta = _real("softplus", "beta", beta)
        if beta <= 0:
            raise ArgumentError(f"softplus: beta must be > 0, got {beta}")
        if threshold is not None:
            threshold = _real("softplus", "threshold", threshold)
        return apply(ops.softplus, self, beta=beta, threshold=threshold)

    def gelu(self, approximate: str = "none") -> Any:
        """x Phi(x), Phi the standard normal CDF (exact, by erfc); approximate="tanh" is
        0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch."""
        if approximate == "none":
            return apply(ops.gelu, self)
        if approximate == "tanh":
            return apply(ops.gelu_tanh, self)
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r:.60}")

    def silu(self) -> Any:
        """x sigmoid(x) (swish), finite at |x| = 1e4."""
        return apply(ops.silu, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Any:
        """x for x > 0, negative_slope * x otherwise (the gradient at 0 is negative_slope)."""
        slope = _real("leaky_relu", "negative_slope", negative_slope)
        return apply(ops.leaky_relu, self, negative_slope=slope)

    def elu(self, alpha: float = 1.0) -> Any:
        """x for x > 0, alpha (e^x - 1) otherwise."""
        return apply(ops.elu, self, alpha=_real("elu", "alpha", alpha))

    def hardtanh(self, min_val: float = -1.0, max_val: float = 1.0) -> Any:
        """clip(x, min_val, max_val), with clip's gradient: 1 on [min_val, max_val], the
        bounds included (PyTorch's hardtanh gives 0 at the bounds, its clamp 1)."""
        lo, hi = _real("hardtanh", "min_val", min_val), _real("hardtanh", "max_val", max_val)
        if lo > hi:
            raise ArgumentError(f"hardtanh: min_val={lo} is greater than max_val={hi}")
        return apply(ops.clip, self, lo=lo, hi=hi)
