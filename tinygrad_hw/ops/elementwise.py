"""Elementwise primitives: numpy in, (numpy out, one vjp per input) out.

Each op returns its result and a tuple with one vector-Jacobian product per input: a pure
function of the upstream gradient ``g`` and arrays saved from the forward pass. Cotangents may
have the broadcast shape of the output; the engine sums them back to each input's shape, so no
formula here mentions broadcasting.
"""

import numpy as np

from tinygrad_hw.ops.types import Forward


def add(a: np.ndarray, b: np.ndarray) -> Forward:
    return a + b, (lambda g: g, lambda g: g)


def sub(a: np.ndarray, b: np.ndarray) -> Forward:
    return a - b, (lambda g: g, lambda g: -g)


def mul(a: np.ndarray, b: np.ndarray) -> Forward:
    return a * b, (lambda g: g * b, lambda g: g * a)


def div(a: np.ndarray, b: np.ndarray) -> Forward:
    out = a / b
    return out, (lambda g: g / b, lambda g: -g * out / b)


def neg(a: np.ndarray) -> Forward:
    return -a, (lambda g: -g,)


def power_const(a: np.ndarray, exponent: np.ndarray) -> Forward:
    """a ** c for a constant exponent c: d/da = c a^(c-1)."""
    # c a^(c-1) with the exponent 0 kept at 0 for c == 0, so x**0 has gradient 0 even at x = 0
    return a**exponent, (lambda g: g * exponent * a ** np.where(exponent == 0, 1, exponent - 1),)


def power(a: np.ndarray, b: np.ndarray) -> Forward:
    """a ** b with both sides differentiable.

    d/db = a^b ln a is real only for a > 0; at a == 0 (and b > 0) the limit is 0, and for a < 0
    the real power has no derivative in b, so that cotangent is NaN.
    """
    out = a**b

    def grad_b(g: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a = np.log(np.where(a > 0, a, 1))
            return g * np.where(a > 0, out * log_a, np.where(a == 0, 0, np.nan))

    return out, (lambda g: g * b * a ** np.where(b == 0, 1, b - 1), grad_b)


def exp(x: np.ndarray) -> Forward:
    y = np.exp(x)
    return y, (lambda g: g * y,)


def log(x: np.ndarray) -> Forward:
    return np.log(x), (lambda g: g / x,)


def sqrt(x: np.ndarray) -> Forward:
    y = np.sqrt(x)
    return y, (lambda g: g * 0.5 / y,)


def abs(x: np.ndarray) -> Forward:
    """|x|; the gradient at 0 is 0 (the subgradient np.sign picks)."""
    return np.abs(x), (lambda g: g * np.sign(x),)


def relu(x: np.ndarray) -> Forward:
    """max(x, 0); the gradient at exactly 0 is 0, as in PyTorch."""
    # Save the mask, not x or y: a bool array is 1/4 (1/8) of a float32 (float64) one, and the
    # output can then be freed as soon as the next layer's backward is done with it.
    mask = x > 0
    return np.maximum(x, 0), (lambda g: g * mask,)


def sigmoid(x: np.ndarray) -> Forward:
    """1 / (1 + e^-x), written as exp(-log(1 + e^-x)) so that |x| = 1e4 cannot overflow."""
    y = np.exp(-np.logaddexp(0, -x))
    return y, (lambda g: g * y * (1 - y),)


def tanh(x: np.ndarray) -> Forward:
    y = np.tanh(x)
    return y, (lambda g: g * (1 - y * y),)


def clip(x: np.ndarray, lo: float | None, hi: float | None) -> Forward:
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (boundaries included)."""
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return np.clip(x, lo, hi), (lambda g: g * inside,)


def where(condition: np.ndarray, a: np.ndarray, b: np.ndarray) -> Forward:
    """condition ? a : b; the condition is not differentiable."""
    out = np.where(condition, a, b)
    return out, (None, lambda g: np.where(condition, g, 0), lambda g: np.where(condition, 0, g))
