"""Statistics, products and scans, each forward beside its vjps: var, std, prod, cumsum,
cumprod, and the elementwise maximum and minimum of two tensors.

``axis`` arrives checked by the Tensor layer: a sorted tuple of distinct non-negative ints (or
None for all axes) for var, std and prod; one non-negative int for the scans (``axis=None``,
numpy's "flatten first", is a reshape done by the Tensor layer). Every vjp is written with
``xp`` functions, indexing and Python operators, so it is differentiable again.

Products with zeros: the gradient of a product is the product of the *other* factors, which
``out / x`` gives only where ``x != 0``. ``prod`` builds those exclusive products from two
cumulative products (one from each end), and ``cumprod``'s vjp has an exact formula for
inputs with zeros, so both are exact at zeros, to every order.
"""

from tinygrad_hw.ops.arrays import along_axis
from tinygrad_hw.ops.primitive import primitive
from tinygrad_hw.ops.reductions import Axes, kept_shape, reduced_count


# ------------------------------------------------------------------ variance, deviation
def _centred(xp, x, axis: Axes):
    """x - mean(x) over the reduced axes (keeping them), differentiable in x."""
    return x - xp.mean(x, axis=axis, keepdims=True)


def _var_vjp(xp, g, out, x, *, axis, keepdims, ddof):
    """var = sum (x - m)^2 / (n - ddof); d var / dx = 2 (x - m) / (n - ddof) (the terms from
    m cancel, since sum (x - m) = 0)."""
    scale = 2.0 / (reduced_count(x.shape, axis) - ddof)
    return xp.reshape(g, kept_shape(x.shape, axis)) * (_centred(xp, x, axis) * scale)


var = primitive(
    "var",
    lambda xp, x, *, axis, keepdims, ddof: xp.var(x, axis=axis, keepdims=keepdims, ddof=ddof),
    [_var_vjp],
    needs_float=True,  # integers in float64, as np.var gives (the standard's var refuses them)
)


def _std_vjp(xp, g, out, x, *, axis, keepdims, ddof):
    """d std / dx = (x - m) / ((n - ddof) std). Where std = 0 (a constant slice) std is not
    differentiable; it is convex there (a seminorm of x - m), and 0 is a subgradient: the
    cotangent is 0, as in PyTorch 2 (the formula would read 0 / 0). The denominator is made
    safe before dividing, so no NaN appears even in a second-order pass."""
    std = xp.reshape(out, kept_shape(x.shape, axis))
    flat = std == 0
    safe = xp.where(flat, 1.0, std) * (reduced_count(x.shape, axis) - ddof)
    slope = xp.where(flat, 0.0, _centred(xp, x, axis) / safe)
    return xp.reshape(g, kept_shape(x.shape, axis)) * slope


std = primitive(
    "std",
    lambda xp, x, *, axis, keepdims, ddof: xp.std(x, axis=axis, keepdims=keepdims, ddof=ddof),
    [_std_vjp],
    saves_out=True,
    needs_float=True,
)


# ------------------------------------------------------------------ products
def _last(axis_slice: slice) -> tuple:
    """An index that applies ``axis_slice`` to the last axis."""
    return (Ellipsis, axis_slice)


def exclusive_products(xp, v):
    """e_k = prod_{j != k} v_j along the last axis (length n >= 2), without dividing:
    e_0 = R_1, e_k = L_{k-1} R_{k+1}, e_{n-1} = L_{n-2}, where L and R are the cumulative
    products from the left and from the right. Exact at zeros."""
    left = xp.cumprod(v, axis=-1)
    reverse = _last(slice(None, None, -1))
    right = xp.cumprod(v[reverse], axis=-1)[reverse]
    middle = left[_last(slice(None, -2))] * right[_last(slice(2, None))]
    first, last = right[_last(slice(1, 2))], left[_last(slice(-2, -1))]
    return xp.concat([first, middle, last], axis=-1)


def _prod_vjp(xp, g, out, x, *, axis, keepdims):
    """d prod / dx_k = the product of the other reduced elements. The reduced axes are moved
    last and flattened into one, where ``exclusive_products`` computes it."""
    g = xp.reshape(g, kept_shape(x.shape, axis))
    reduced = tuple(range(x.ndim)) if axis is None else axis
    n = reduced_count(x.shape, axis)
    if n <= 1:  # a product of one factor is that factor (of none, the empty gradient)
        return xp.broadcast_to(g, x.shape)
    kept = tuple(i for i in range(x.ndim) if i not in reduced)
    order = kept + reduced
    moved = xp.permute_dims(x, order)
    rows = xp.reshape(moved, (*moved.shape[: len(kept)], n))
    others = xp.reshape(exclusive_products(xp, rows), moved.shape)
    inverse = tuple(order.index(i) for i in range(x.ndim))
    return g * xp.permute_dims(others, inverse)


prod = primitive(
    "prod",
    lambda xp, x, *, axis, keepdims: xp.prod(x, axis=axis, keepdims=keepdims),
    [_prod_vjp],
)


# ------------------------------------------------------------------ scans
def reverse_cumsum(xp, v, axis: int):
    """s_k = sum_{i >= k} v_i along ``axis``: a cumulative sum of the reversed array."""
    reverse = along_axis(axis, slice(None, None, -1))
    return xp.cumsum(v[reverse], axis=axis)[reverse]


cumsum = primitive(
    "cumsum",
    lambda xp, x, *, axis: xp.cumsum(x, axis=axis),
    # y_i = sum_{k <= i} x_k, so dL/dx_k = sum_{i >= k} g_i
    [lambda xp, g, out, x, *, axis: reverse_cumsum(xp, g, axis)],
    saves_inputs=False,
)


def _cumprod_vjp(xp, g, out, x, *, axis):
    """dL/dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j.

    Without zeros that is reverse_cumsum(g y)_k / x_k (y the output), exact near x as well,
    so all its derivatives are right. With a zero the division fails; then the exclusive
    products are taken literally: for each k, the cumulative product of x with x_k replaced by
    1, kept for i >= k. That builds an (n, n) array per slice (O(n^2) work and memory, only
    when x has a zero); it equals the true derivative for every x, so it is exact to any order.
    """
    if not bool(xp.any(x == 0)):
        return reverse_cumsum(xp, g * out, axis) / x
    n, trailing = x.shape[axis], (1,) * (x.ndim - axis - 1)
    k = xp.reshape(xp.arange(n), (n, 1, *trailing))
    i = xp.reshape(xp.arange(n), (1, n, *trailing))
    rows = xp.where(k == i, 1.0, xp.expand_dims(x, axis=axis))  # row k: x with x_k -> 1
    partial = xp.where(i >= k, xp.cumprod(rows, axis=axis + 1), 0.0)
    return xp.sum(partial * xp.expand_dims(g, axis=axis), axis=axis + 1)


cumprod = primitive(
    "cumprod", lambda xp, x, *, axis: xp.cumprod(x, axis=axis), [_cumprod_vjp], saves_out=True
)


# ------------------------------------------------------------------ elementwise extrema
def _shares(xp, out, wins_a, wins_b, tie):
    """Each operand's share of the gradient: 1 where it wins, 1/2 at a tie (as PyTorch 2),
    0 where it loses (and where a NaN wins). Piecewise constant, so residuals: the second
    derivative is 0. Kept in the output's float dtype, so g * share does not upcast."""
    dtype = out.dtype if xp.isdtype(out.dtype, "real floating") else xp.float64
    half = xp.astype(tie, dtype) * 0.5
    return {"share_a": xp.astype(wins_a, dtype) + half, "share_b": xp.astype(wins_b, dtype) + half}


def _maximum_forward(xp, a, b):
    out = xp.maximum(a, b)  # numpy's dtype and NaN propagation
    return out, _shares(xp, out, a > b, b > a, a == b)


def _minimum_forward(xp, a, b):
    out = xp.minimum(a, b)
    return out, _shares(xp, out, a < b, b < a, a == b)


def _share_a(xp, g, out, a, b, *, share_a, share_b):
    return g * share_a


def _share_b(xp, g, out, a, b, *, share_a, share_b):
    return g * share_b


maximum = primitive(
    "maximum", _maximum_forward, [_share_a, _share_b], saves_inputs=False, residuals=True
)
minimum = primitive(
    "minimum", _minimum_forward, [_share_a, _share_b], saves_inputs=False, residuals=True
)
