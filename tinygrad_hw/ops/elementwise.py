"""Elementwise primitives: each forward beside its vjps, written against ``xp``.

Every vjp is built from ``xp`` functions and Python operators only, so it is differentiable
again when the engine hands it Tensors (``create_graph=True``). Cotangents may have the
broadcast shape of the output; the engine sums them back to each input's shape.
"""

from tinygrad_hw.ops.primitive import primitive

# ------------------------------------------------------------------ arithmetic
add = primitive(
    "add",
    lambda xp, a, b: a + b,
    [lambda xp, g, out, a, b: g, lambda xp, g, out, a, b: g],
    saves_inputs=False,
)

sub = primitive(
    "sub",
    lambda xp, a, b: a - b,
    [lambda xp, g, out, a, b: g, lambda xp, g, out, a, b: -g],
    saves_inputs=False,
)

mul = primitive(
    "mul",
    lambda xp, a, b: a * b,
    [lambda xp, g, out, a, b: g * b, lambda xp, g, out, a, b: g * a],
)

div = primitive(
    "div",
    lambda xp, a, b: a / b,
    [lambda xp, g, out, a, b: g / b, lambda xp, g, out, a, b: -g * out / b],
    saves_out=True,
    saves_inputs=(1,),
)

neg = primitive("neg", lambda xp, a: -a, [lambda xp, g, out, a: -g], saves_inputs=False)


def _power_vjp_base(xp, g, out, a, b):
    """d(a^b)/da = b a^(b-1); where b == 0 and a is 0 or infinite that reads 0 * inf, and x**0
    is constant, so it is 0 there (as in PyTorch). Elsewhere the plain formula, so that its
    own derivative (in b too) is right."""
    constant = (b == 0) & ((a == 0) | ~xp.isfinite(a))
    return xp.where(constant, 0.0, g * b * a ** (b - 1))


def _power_vjp_exponent(xp, g, out, a, b):
    """d(a^b)/db = a^b ln a: real for a > 0; at a == 0 it is the limit of a^b ln a, which is
    0 for b > 0 and -inf for b < 0 (0^b = inf there), and NaN for a < 0."""
    positive = a > 0
    log_a = xp.log(xp.where(positive, a, 1.0))
    at_zero = xp.where(b > 0, 0.0, xp.where(b < 0, -float("inf"), float("nan")))
    return g * xp.where(positive, out * log_a, xp.where(a == 0, at_zero, float("nan")))


power = primitive(
    "pow", lambda xp, a, b: a**b, [_power_vjp_base, _power_vjp_exponent], saves_out=True
)

# ------------------------------------------------------------------ smooth functions
exp = primitive(
    "exp",
    lambda xp, x: xp.exp(x),
    [lambda xp, g, out, x: g * out],
    saves_out=True,
    needs_float=True,
)

log = primitive("log", lambda xp, x: xp.log(x), [lambda xp, g, out, x: g / x], needs_float=True)

sqrt = primitive(
    "sqrt",
    lambda xp, x: xp.sqrt(x),
    [lambda xp, g, out, x: g * 0.5 / out],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)

tanh = primitive(
    "tanh",
    lambda xp, x: xp.tanh(x),
    [lambda xp, g, out, x: g * (1.0 - out * out)],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)


def _sigmoid_forward(xp, x):
    """1 / (1 + e^-x) as exp(-log(1 + e^-x)): no overflow at |x| = 1e4."""
    return xp.exp(-xp.logaddexp(0.0, -x))


sigmoid = primitive(
    "sigmoid",
    _sigmoid_forward,
    [lambda xp, g, out, x: g * out * (1.0 - out)],
    saves_out=True,
    saves_inputs=False,
    needs_float=True,
)


def _logaddexp_vjp(xp, g, out, a, b):
    """d/da log(e^a + e^b) = sigmoid(a - b). Not e^(a - out): out is rounded to a few ulps of
    |a|, so at |a| = 1e4 in float32 that exponent would be off by ~1e-3 and so the weight."""
    return g * _sigmoid_forward(xp, a - b)


logaddexp = primitive(
    "logaddexp",
    lambda xp, a, b: xp.logaddexp(a, b),
    [_logaddexp_vjp, lambda xp, g, out, a, b: _logaddexp_vjp(xp, g, out, b, a)],
    needs_float=True,
)

# ------------------------------------------------------------------ kinks (piecewise linear)
# Their second derivative is 0 wherever it exists: the saved sign or mask is a constant.
abs = primitive("abs", lambda xp, x: xp.abs(x), [lambda xp, g, out, x: g * xp.sign(x)])


def _relu_forward(xp, x):
    """max(x, 0); the mask, not x or the output, is saved: 1/4 (1/8) of a float32 (float64)
    array, and the output can be freed as soon as the next layer's backward is done with it."""
    mask = xp.as_mask(x > 0, x)
    return xp.maximum(x, 0.0), {"mask": mask}


def _relu_forward_into(xp, into, x):
    out, residuals = into
    xp.greater(x, 0, out=residuals["mask"])  # first: out may be x's own buffer
    xp.maximum(x, 0.0, out=out)


relu = primitive(
    "relu",
    _relu_forward,
    [lambda xp, g, out, x, *, mask: g * mask],
    saves_inputs=False,
    residuals=True,
    forward_into=_relu_forward_into,
    vjps_into=[lambda xp, into, g, out, x, *, mask: xp.multiply(g, mask, out=into)],
)


def _clip_forward(xp, x, *, lo, hi):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (the bounds included)."""
    inside = xp.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return xp.clip(x, lo, hi), {"inside": xp.as_mask(inside, x)}


clip = primitive(
    "clip",
    _clip_forward,
    [lambda xp, g, out, x, *, lo, hi, inside: g * inside],
    saves_inputs=False,
    residuals=True,
)

where = primitive(
    "where",
    lambda xp, a, b, *, condition: xp.where(condition, a, b),
    [
        lambda xp, g, out, a, b, *, condition: xp.where(condition, g, 0.0),
        lambda xp, g, out, a, b, *, condition: xp.where(condition, 0.0, g),
    ],
    saves_inputs=False,
)
