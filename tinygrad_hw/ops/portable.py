"""numpy functions the array API standard does not have, written with the standard's alone.

``ArrayNamespace`` (ops.namespace) uses these for a library that lacks its own; numpy and CuPy
have the real ones. Each gives numpy's values: the same definition, not an approximation.
"""

from typing import Any


def einsum(xp: Any, subscripts: str, *operands: Any) -> Any:
    """Einstein summation for explicit subscripts without ``...`` or repeated letters in one
    operand (the plain form ops.contractions uses): every operand's axes are permuted into one
    letter order and broadcast against each other, multiplied, and the letters absent from the
    output summed. Memory grows with the product of all letter sizes: a fallback, not a GEMM."""
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    summed = [c for term in terms for c in term if c not in output]
    letters = list(output) + list(dict.fromkeys(summed))
    product = None
    for term, x in zip(terms, operands, strict=True):
        order = tuple(term.index(c) for c in letters if c in term)
        shape = tuple(x.shape[term.index(c)] if c in term else 1 for c in letters)
        aligned = xp.reshape(xp.permute_dims(x, order), shape)
        product = aligned if product is None else product * aligned
    reduced = tuple(range(len(output), len(letters)))
    return xp.sum(product, axis=reduced) if reduced else product


def pad_constant(xp: Any, x: Any, pad_width: tuple[tuple[int, int], ...], value: float) -> Any:
    """x with ``pad_width[i] = (before, after)`` elements of ``value`` around axis i."""
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pad_width, strict=True))
    out = xp.full(shape, value, dtype=x.dtype)
    out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, pad_width, strict=True))] = x
    return out


def fmod(xp: Any, a: Any, b: Any) -> Any:
    """C's fmod (the sign of the dividend): |a| mod |b| is exact and non-negative, then a's
    sign is put back (copysign keeps fmod(-0.0, b) = -0.0, as numpy gives)."""
    magnitude = xp.remainder(xp.abs(a), xp.abs(b))
    if xp.isdtype(magnitude.dtype, "real floating"):
        return xp.copysign(magnitude, a)
    return xp.where(a < 0, -magnitude, magnitude)


def round_decimals(xp: Any, x: Any, decimals: int) -> Any:
    """numpy's round to ``decimals`` places: scaled by 10**decimals, rounded half to even,
    scaled back (numpy's own definition, so the same bits). Integers with decimals >= 0 are
    returned unchanged."""
    if decimals == 0:
        return xp.round(x)
    if not xp.isdtype(x.dtype, "real floating"):
        if decimals > 0:
            return xp.asarray(x, copy=True)
        scale = 10.0 ** (-decimals)
        quotient = xp.astype(x, xp.float64) / scale  # numpy divides in float64 too
        return xp.astype(xp.round(quotient) * scale, x.dtype)
    if decimals > 0:
        scale = 10.0**decimals
        return xp.round(x * scale) / scale
    scale = 10.0 ** (-decimals)
    return xp.round(x / scale) * scale
