"""Trigonometric, hyperbolic, logarithmic and exponential primitives, the error function,
rounding and modulo: each forward beside its vjps, written against ``xp``.

Values, dtypes and integer promotion are numpy's (``sin`` of int64 gives float64, ``floor`` of
int64 stays int64). Every vjp uses ``xp`` functions and Python operators only, so it records
under ``create_graph`` and the op has a second derivative.

Rounding (``sign floor ceil round trunc``) is piecewise constant: its derivative is 0 wherever
it exists, and, as in PyTorch, the vjp is 0 everywhere (also at the jumps). The modulo ops'
quotient is piecewise constant too, so it is saved as a residual, not differentiated.
"""

import math

from tinygrad_hw.ops.primitive import primitive

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ------------------------------------------------------------------ trigonometric
sin = primitive(
    "sin", lambda xp, x: xp.sin(x), [lambda xp, g, out, x: g * xp.cos(x)], needs_float=True
)

cos = primitive(
    "cos", lambda xp, x: xp.cos(x), [lambda xp, g, out, x: -g * xp.sin(x)], needs_float=True
)

# d tan = 1 + tan^2: from the output, finite wherever tan is
tan = primitive(
    "tan",
    lambda xp, x: xp.tan(x),
    [lambda xp, g, out, x: g * (1.0 + out * out)],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)

# d arcsin = 1 / sqrt(1 - x^2), d arccos = -1 / sqrt(1 - x^2): infinite at |x| = 1
arcsin = primitive(
    "arcsin",
    lambda xp, x: xp.arcsin(x),
    [lambda xp, g, out, x: g / xp.sqrt(1.0 - x * x)],
    needs_float=True,
)

arccos = primitive(
    "arccos",
    lambda xp, x: xp.arccos(x),
    [lambda xp, g, out, x: -g / xp.sqrt(1.0 - x * x)],
    needs_float=True,
)

arctan = primitive(
    "arctan",
    lambda xp, x: xp.arctan(x),
    [lambda xp, g, out, x: g / (1.0 + x * x)],
    needs_float=True,
)

# ------------------------------------------------------------------ hyperbolic
sinh = primitive(
    "sinh", lambda xp, x: xp.sinh(x), [lambda xp, g, out, x: g * xp.cosh(x)], needs_float=True
)

cosh = primitive(
    "cosh", lambda xp, x: xp.cosh(x), [lambda xp, g, out, x: g * xp.sinh(x)], needs_float=True
)

arctanh = primitive(
    "arctanh",
    lambda xp, x: xp.arctanh(x),
    [lambda xp, g, out, x: g / (1.0 - x * x)],
    needs_float=True,
)

# ------------------------------------------------------------------ logarithms and exponentials
# log1p and expm1 are exact near 0, where log(1 + x) and exp(x) - 1 lose every digit.
log1p = primitive(
    "log1p", lambda xp, x: xp.log1p(x), [lambda xp, g, out, x: g / (1.0 + x)], needs_float=True
)

# d expm1 = e^x = expm1 + 1, from the output
expm1 = primitive(
    "expm1",
    lambda xp, x: xp.expm1(x),
    [lambda xp, g, out, x: g * (out + 1.0)],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)

exp2 = primitive(
    "exp2",
    lambda xp, x: xp.exp2(x),
    [lambda xp, g, out, x: g * out * _LN2],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)

log2 = primitive(
    "log2", lambda xp, x: xp.log2(x), [lambda xp, g, out, x: g / (x * _LN2)], needs_float=True
)

log10 = primitive(
    "log10", lambda xp, x: xp.log10(x), [lambda xp, g, out, x: g / (x * _LN10)], needs_float=True
)

# ------------------------------------------------------------------ powers
square = primitive("square", lambda xp, x: xp.square(x), [lambda xp, g, out, x: 2.0 * g * x])

# 1.0 / x, not np.reciprocal: numpy's integer reciprocal truncates (1 / 2 -> 0); this one
# promotes integers to float64 as true division does (PyTorch's reciprocal also gives floats).
# d(1/x) = -1/x^2 = -out^2, from the output.
reciprocal = primitive(
    "reciprocal",
    lambda xp, x: 1.0 / x,
    [lambda xp, g, out, x: -g * (out * out)],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)

# ------------------------------------------------------------------ the error function
# d erf = 2/sqrt(pi) e^(-x^2); erfc = 1 - erf, so d erfc is its negative
erf = primitive(
    "erf",
    lambda xp, x: xp.erf(x),
    [lambda xp, g, out, x: g * _TWO_OVER_SQRT_PI * xp.exp(-(x * x))],
    needs_float=True,
)

erfc = primitive(
    "erfc",
    lambda xp, x: xp.erfc(x),
    [lambda xp, g, out, x: -g * _TWO_OVER_SQRT_PI * xp.exp(-(x * x))],
    needs_float=True,
)


# ------------------------------------------------------------------ rounding (zero gradient)
def _zero_vjp(xp, g, out, x, **params):
    """The derivative of a piecewise-constant function: 0 (PyTorch's choice at the jumps too).
    zeros_like, not g * 0, so an infinite upstream gradient gives 0, not NaN."""
    return xp.zeros_like(g)


sign = primitive("sign", lambda xp, x: xp.sign(x), [_zero_vjp], saves_inputs=False)

floor = primitive("floor", lambda xp, x: xp.floor(x), [_zero_vjp], saves_inputs=False)

ceil = primitive("ceil", lambda xp, x: xp.ceil(x), [_zero_vjp], saves_inputs=False)

trunc = primitive("trunc", lambda xp, x: xp.trunc(x), [_zero_vjp], saves_inputs=False)

# numpy's round: halves go to the even neighbour (round(2.5) = 2), as in PyTorch
round = primitive(
    "round",
    lambda xp, x, *, decimals: xp.round(x, decimals=decimals),
    [_zero_vjp],
    saves_inputs=False,
)


# ------------------------------------------------------------------ modulo
# a mod b = a - b q with q an integer-valued, piecewise-constant quotient: d/da = 1 and
# d/db = -q (PyTorch's formulas), and q is a residual (a constant of the backward pass).
def _remainder_forward(xp, a, b):
    """numpy's remainder (Python's %): the sign of the divisor, q = floor(a / b), both from
    floor_divide/remainder so that they agree with each other (numpy's divmod)."""
    return xp.remainder(a, b), {"quotient": xp.floor_divide(a, b)}


def _fmod_forward(xp, a, b):
    """C's fmod: the sign of the dividend, q = trunc(a / b) (for integers, where a / b
    would be a float, the exact integer quotient of a minus the remainder)."""
    out = xp.fmod(a, b)
    if xp.isdtype(out.dtype, "integral"):
        return out, {"quotient": (a - out) // b}
    return out, {"quotient": xp.trunc(a / b)}


def _modulo_vjp_dividend(xp, g, out, a, b, *, quotient):
    return g


def _modulo_vjp_divisor(xp, g, out, a, b, *, quotient):
    return -g * quotient


remainder = primitive(
    "remainder",
    _remainder_forward,
    [_modulo_vjp_dividend, _modulo_vjp_divisor],
    saves_inputs=False,
    residuals=True,
)

fmod = primitive(
    "fmod",
    _fmod_forward,
    [_modulo_vjp_dividend, _modulo_vjp_divisor],
    saves_inputs=False,
    residuals=True,
)
