"""Activation primitives: each forward beside its vjp, written against ``xp``.

Each stays finite, in value and gradient, at |x| = 1e4 in float32 and float64: exponentials
only ever see arguments that cannot overflow (logaddexp, sigmoid as exp(-logaddexp(0, -x)),
expm1 of min(x, 0)), and the vjps are written so that no 0 * inf appears. ``hardtanh`` is not
here: it is ``clip`` (ops.elementwise), with clip's gradient at the bounds.
"""

import math

from tinygrad_hw.ops.elementwise import sigmoid
from tinygrad_hw.ops.primitive import primitive

_SIGMOID = sigmoid.forward  # 1 / (1 + e^-x) without overflow; on Tensors too (xp.exp, ...)
_SQRT_HALF = math.sqrt(0.5)
_ONE_OVER_SQRT_TWO_PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715  # the tanh approximation's constant (Hendrycks & Gimpel)


# ------------------------------------------------------------------ softplus
def _softplus_forward(xp, x, *, beta, threshold):
    """log(1 + e^(beta x)) / beta as logaddexp(0, beta x) / beta: exact for every x (no
    overflow at beta x = 1e4, no lost digits at beta x = -1e4). With a ``threshold`` (PyTorch's
    default is 20) it is x where beta x > threshold, as in PyTorch."""
    z = beta * x
    out = xp.logaddexp(0.0, z) / beta
    return out if threshold is None else xp.where(z > threshold, x, out)


def _softplus_vjp(xp, g, out, x, *, beta, threshold):
    """d softplus = sigmoid(beta x); 1 where the threshold made it linear."""
    slope = _SIGMOID(xp, beta * x)
    if threshold is not None:
        slope = xp.where(beta * x > threshold, 1.0, slope)
    return g * slope


softplus = primitive("softplus", _softplus_forward, [_softplus_vjp], needs_float=True)


# ------------------------------------------------------------------ gelu
def _normal_cdf(xp, x):
    """Phi(x) = erfc(-x / sqrt 2) / 2, not (1 + erf(x / sqrt 2)) / 2: the same value, but
    erfc keeps its relative accuracy in the left tail (Phi(-10) ~ 7.6e-24, where 1 + erf is 0)."""
    return 0.5 * xp.erfc(-_SQRT_HALF * x)


def _gelu_forward(xp, x):
    """x Phi(x); Phi is kept for the vjp (a smooth residual: recomputed on Tensors under
    create_graph), so the backward pass does not evaluate erfc again."""
    cdf = _normal_cdf(xp, x)
    return x * cdf, {"cdf": cdf}


def _gelu_vjp(xp, g, out, x, *, cdf):
    """d (x Phi(x)) = Phi(x) + x phi(x), phi the standard normal density."""
    return g * (cdf + x * (_ONE_OVER_SQRT_TWO_PI * xp.exp(-0.5 * (x * x))))


gelu = primitive(
    "gelu", _gelu_forward, [_gelu_vjp], differentiable_residuals=True, needs_float=True
)


def _gelu_tanh_twice_inner(xp, x):
    """2 u = 2 sqrt(2/pi) (x + 0.044715 x^3); x^3 = 1e12 at x = 1e4 is finite in float32."""
    return (2.0 * _SQRT_TWO_OVER_PI) * (x + _GELU_CUBIC * (x * x * x))


def _gelu_tanh_forward(xp, x):
    """0.5 x (1 + tanh(u)) written as x sigmoid(2 u): the same number, but 1 + tanh(u)
    cancels to a few digits for u << 0 (PyTorch's form), where the sigmoid keeps them all."""
    return x * _SIGMOID(xp, _gelu_tanh_twice_inner(xp, x))


def _gelu_tanh_vjp(xp, g, out, x):
    """d (x s(2u)) = s + x s (1 - s) 2 u', with u' = sqrt(2/pi) (1 + 3 0.044715 x^2)."""
    s = _SIGMOID(xp, _gelu_tanh_twice_inner(xp, x))
    du2 = (2.0 * _SQRT_TWO_OVER_PI) * (1.0 + 3.0 * _GELU_CUBIC * (x * x))
    return g * (s + x * ((s * (1.0 - s)) * du2))


gelu_tanh = primitive("gelu_tanh", _gelu_tanh_forward, [_gelu_tanh_vjp], needs_float=True)


# ------------------------------------------------------------------ silu
def _silu_forward(xp, x):
    """x s(x), s = sigmoid(x) kept for the vjp (a smooth residual, as gelu's Phi)."""
    s = _SIGMOID(xp, x)
    return x * s, {"s": s}


def _silu_vjp(xp, g, out, x, *, s):
    """d (x s(x)) = s + x s (1 - s): 0 at x = -1e4 (s = 0), 1 at x = 1e4 (1 - s = 0)."""
    return g * (s * (1.0 + x * (1.0 - s)))


silu = primitive(
    "silu", _silu_forward, [_silu_vjp], differentiable_residuals=True, needs_float=True
)


# ------------------------------------------------------------------ kinks
# The mask x > 0 is piecewise constant: a residual. At x = 0 the slope on the left is taken,
# as PyTorch does (relu's gradient at 0 is 0 here too).
def _leaky_relu_forward(xp, x, *, negative_slope):
    mask = x > 0
    return xp.where(mask, x, negative_slope * x), {"mask": mask}


leaky_relu = primitive(
    "leaky_relu",
    _leaky_relu_forward,
    [lambda xp, g, out, x, *, negative_slope, mask: xp.where(mask, g, negative_slope * g)],
    saves_inputs=False,
    residuals=True,
    needs_float=True,  # numpy gives integers float64 (a float slope); the standard refuses
)


def _elu_forward(xp, x, *, alpha):
    """x for x > 0, alpha (e^x - 1) otherwise; expm1 of min(x, 0), so that the branch
    discarded at x = 1e4 does not overflow, and e^x - 1 keeps its digits near 0."""
    mask = x > 0
    return xp.where(mask, x, alpha * xp.expm1(xp.minimum(x, 0.0))), {"mask": mask}


def _elu_vjp(xp, g, out, x, *, alpha, mask):
    """1 for x > 0, alpha e^x = out + alpha otherwise: from the saved output, which records
    under create_graph, so the second derivative alpha e^x follows."""
    return xp.where(mask, g, g * (out + alpha))


elu = primitive(
    "elu",
    _elu_forward,
    [_elu_vjp],
    saves_out=True,
    saves_inputs=False,
    residuals=True,
    needs_float=True,
)
