"""Layout primitives that are not a short composition of reshape, transpose, indexing and
joining: flip, roll, constant padding and the out-of-place write of ``x[index] = value``.

Each is linear in its inputs, so each vjp is another linear layout op (flip's is flip, roll's
is roll back, pad's is a slice) and is differentiable again. ``axis``/``shift`` arrive checked
and normalised by the Tensor layer: tuples of non-negative ints.
"""

from tinygrad_hw.ops.primitive import primitive

flip = primitive(
    "flip",
    lambda xp, x, *, axis: xp.flip(x, axis=axis),
    [lambda xp, g, out, x, *, axis: xp.flip(g, axis=axis)],  # a reversal undoes itself
    saves_inputs=False,
)

roll = primitive(
    "roll",
    lambda xp, x, *, shift, axis: xp.roll(x, shift, axis=axis),
    # out[i] = x[i - s], so x[j] reaches out[j + s]: the cotangent rolls back by -s
    [lambda xp, g, out, x, *, shift, axis: xp.roll(g, tuple(-s for s in shift), axis=axis)],
    saves_inputs=False,
)


def _interior(pad_width: tuple[tuple[int, int], ...], padded: tuple[int, ...]) -> tuple:
    """The slices of a padded array (of shape ``padded``) that hold the original elements."""
    return tuple(slice(lo, n - hi) for (lo, hi), n in zip(pad_width, padded, strict=True))


pad_constant = primitive(
    "pad",
    lambda xp, x, *, pad_width, value: xp.pad(x, pad_width, constant_values=value),
    # the padding is constant: only the interior carries gradient
    [lambda xp, g, out, x, *, pad_width, value: g[_interior(pad_width, g.shape)]],
    saves_inputs=False,
)


def _setitem_forward(xp, x, value, *, index):
    """A copy of x with ``value`` written at ``index`` (numpy's assignment: value broadcast
    to x[index] and cast to x's dtype). Out of place, so every array an earlier node saved
    keeps the values that node used. ``written`` marks the overwritten elements."""
    out = xp.asarray(x, copy=True)
    out[index] = value
    written = xp.zeros(x.shape, dtype=bool)
    written[index] = True
    return out, {"written": written}


setitem = primitive(
    "setitem",
    _setitem_forward,
    [
        # the old value survives only where nothing was written
        lambda xp, g, out, x, value, *, index, written: xp.where(written, 0.0, g),
        # value lands at index: its cotangent is read there (the engine sums broadcasts back)
        lambda xp, g, out, x, value, *, index, written: g[index],
    ],
    saves_inputs=False,
    residuals=True,
)
