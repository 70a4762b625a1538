"""Standardisation over axes, the core of batch and layer norm, as one fused primitive.

y = (x - mean(x)) / sqrt(var(x) + eps), mean and (biased) variance over ``axis``. As a
composite it would be ~8 nodes (mean, sub, mul, mean, add, sqrt, div) whose backward chains
through all of them; fused, the vjp is the closed form

    dx = inv * (g - mean(g) - y * mean(g * y)),    inv = 1 / sqrt(var + eps),

(the means over ``axis``), written in ``xp`` so it is differentiable again. Its residual inv
is smooth in x, so under create_graph it is recomputed as a Tensor (differentiable_residuals).
The affine part (gamma * y + beta) is left to mul and add, which broadcast.
"""

from tinygrad_hw.ops.primitive import primitive


def _standardize_forward(xp, x, *, axis, eps):
    mean = xp.mean(x, axis=axis, keepdims=True)
    centred = x - mean
    # the variance from the centred values (not E[x^2] - E[x]^2, which cancels catastrophically)
    var = xp.mean(centred * centred, axis=axis, keepdims=True)
    inv = 1.0 / xp.sqrt(var + eps)
    return centred * inv, {"inv": inv}


def _standardize_vjp(xp, g, out, x, *, axis, eps, inv):
    """The Jacobian of y is inv (I - 1/n - y y^T / n) per slice (symmetric), applied to g."""
    mean_g = xp.mean(g, axis=axis, keepdims=True)
    mean_gy = xp.mean(g * out, axis=axis, keepdims=True)
    return inv * (g - mean_g - out * mean_gy)


standardize = primitive(
    "standardize",
    _standardize_forward,
    [_standardize_vjp],
    saves_out=True,
    differentiable_residuals=True,
    needs_float=True,
)
