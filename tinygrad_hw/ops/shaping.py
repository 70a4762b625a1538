"""Primitives that move elements without arithmetic (reshape, transpose, indexing, joining) and
the matrix products, each forward beside its vjps.

Ops over a list of tensors (concatenate, stack) have one vjp per input, so they are families
of primitives: ``concatenate(n)`` is the primitive for n pieces, made once per n.
"""

from functools import cache, partial

from tinygrad_hw.ops.arrays import along_axis
from tinygrad_hw.ops.primitive import Primitive, primitive


def sum_to_shape(xp, g, shape: tuple[int, ...]):
    """Undo broadcasting: sum ``g`` over the axes that broadcasting added or stretched."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    stretched = tuple(i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1)
    if not stretched:  # only leading axes were added (a bias): a fresh array, no reshape view
        return xp.sum(g, axis=tuple(range(extra)))
    return xp.reshape(xp.sum(g, axis=tuple(range(extra)) + stretched, keepdims=True), shape)


broadcast_to = primitive(
    "broadcast_to",
    lambda xp, x, *, shape: xp.broadcast_to(x, shape),
    [lambda xp, g, out, x, *, shape: sum_to_shape(xp, g, x.shape)],
)

astype = primitive(
    "astype",
    lambda xp, x, *, dtype, from_dtype: xp.astype(x, dtype),
    [lambda xp, g, out, x, *, dtype, from_dtype: xp.astype(g, from_dtype)],
    saves_inputs=False,
)

copy = primitive(
    "copy",
    lambda xp, x: xp.asarray(x, copy=True),
    [lambda xp, g, out, x: g],
    saves_inputs=False,
)

to_device = primitive(
    "to_device",
    lambda xp, x, *, device, source: xp.to_device(x, device),
    [lambda xp, g, out, x, *, device, source: xp.to_device(g, source)],  # the gradient goes back
    saves_inputs=False,
)

reshape = primitive(
    "reshape",
    lambda xp, x, *, shape: xp.reshape(x, shape),
    [lambda xp, g, out, x, *, shape: xp.reshape(g, x.shape)],  # x is a view's base: no memory
)


def _inverse_permutation(axes: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return tuple(inverse)


transpose = primitive(
    "transpose",
    lambda xp, x, *, axes: xp.permute_dims(x, axes),
    [lambda xp, g, out, x, *, axes: xp.permute_dims(g, _inverse_permutation(axes))],
    saves_inputs=False,
)

getitem = primitive(
    "getitem",
    lambda xp, x, *, index: x[index],
    # scatter-add, so that repeated integer indices accumulate
    [lambda xp, g, out, x, *, index: xp.scatter_add(g, x.shape, index)],
)

scatter_add = primitive(
    "scatter_add",
    lambda xp, values, *, shape, index: xp.scatter_add(values, shape, index),
    [lambda xp, g, out, values, *, shape, index: g[index]],  # the vjp of a scatter is a gather
    saves_inputs=False,
)


# ------------------------------------------------------------------ joining
def _concatenate_forward(xp, *pieces, axis):
    bounds = [0]
    for piece in pieces:
        bounds.append(bounds[-1] + piece.shape[axis])
    return xp.concat(pieces, axis=axis), {"bounds": tuple(bounds)}


def _concatenate_piece(i: int, xp, g, out, *pieces, axis, bounds):
    return g[along_axis(axis, slice(bounds[i], bounds[i + 1]))]


@cache
def concatenate(n: int) -> Primitive:
    """Join n arrays along an existing axis; the gradient is cut back into the pieces."""
    vjps = [partial(_concatenate_piece, i) for i in range(n)]
    return primitive("concatenate", _concatenate_forward, vjps, saves_inputs=False, residuals=True)


def _stack_piece(i: int, xp, g, out, *pieces, axis):
    return g[along_axis(axis, i)]


@cache
def stack(n: int) -> Primitive:
    """Join n same-shape arrays along a new axis."""
    vjps = [partial(_stack_piece, i) for i in range(n)]
    return primitive(
        "stack", lambda xp, *pieces, axis: xp.stack(pieces, axis=axis), vjps, saves_inputs=False
    )


# ------------------------------------------------------------------ products
def _matmul_vjp_a(xp, g, out, a, b):
    """dA = g B^T; a 1-D operand is a row (for a) or a column (for b), dropped again."""
    if a.ndim == 2 and b.ndim == 2:  # the common case, without the 1-D bookkeeping
        return g @ b.T
    if b.ndim == 1:
        return xp.expand_dims(g, axis=-1) * b if a.ndim > 1 else g * b
    da = _as_matrix_grad(xp, g, a, b) @ xp.matrix_transpose(b)
    return xp.squeeze(da, axis=-2) if a.ndim == 1 else da


def _matmul_vjp_b(xp, g, out, a, b):
    """dB = A^T g, with the same promotion of 1-D operands."""
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    a2 = xp.expand_dims(a, axis=0) if a.ndim == 1 else a
    db = xp.matrix_transpose(a2) @ _as_matrix_grad(xp, g, a, b)
    return xp.squeeze(db, axis=-1) if b.ndim == 1 else db


def _as_matrix_grad(xp, g, a, b):
    """g with the axes that a 1-D operand's promotion removed put back."""
    if b.ndim == 1:
        g = xp.expand_dims(g, axis=-1)
    if a.ndim == 1:
        g = xp.expand_dims(g, axis=-2)
    return g


matmul = primitive("matmul", lambda xp, a, b: a @ b, [_matmul_vjp_a, _matmul_vjp_b])


def _linear_forward(xp, x, w, b):
    """x @ w + b for rows x (N, in), w (in, out), b (out,): one node, and the bias added in
    place, so no second (N, out) array."""
    out = x @ w
    out += b
    return out


def _linear_forward_into(xp, into, x, w, b):
    xp.matmul(x, w, out=into)
    into += b


linear = primitive(
    "linear",
    _linear_forward,
    [
        lambda xp, g, out, x, w, b: g @ w.T,
        lambda xp, g, out, x, w, b: x.T @ g,
        lambda xp, g, out, x, w, b: xp.sum(g, axis=0),
    ],
    # b is not read, but it is a parameter (kept alive by its module anyway): saving all three
    # skips building a (x, w, None) tuple on every forward of every layer (and costs b's
    # read-only lock, tinygrad_hw.saved_arrays: the same instruction count per step)
    forward_into=_linear_forward_into,
    vjps_into=[
        lambda xp, into, g, out, x, w, b: xp.matmul(g, w.T, out=into),
        lambda xp, into, g, out, x, w, b: xp.matmul(x.T, g, out=into),
        lambda xp, into, g, out, x, w, b: xp.add.reduce(g, axis=0, out=into),
    ],
)
