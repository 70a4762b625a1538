"""Einstein summation, the one primitive behind einsum, tensordot, inner, outer and dot.

The primitive sees subscripts in a plain form that the Tensor layer
(``tinygrad_hw.reduction_functions.einsum``) has already made of the user's: one string of
letters per operand and one for the output, no ``...`` (spelt out as letters), no letter
repeated within an operand, every letter of the same size in every operand (size-1
broadcasting was squeezed away). In that form the vjp is a one-liner of the same kind:

    out = einsum("s_0,...,s_m->o", x_0, ..., x_m)
    dL/dx_i = einsum("o,s_0,..(not s_i)..,s_m->s_i", g, x_0, ..(not x_i).., x_m)

except that a letter of s_i found nowhere else was summed away by the forward, so its
gradient is the same for every value of that letter: the einsum runs without it and the
result is broadcast back over it. Being an einsum of g and the other operands, the vjp is
differentiable again, to any order. Contractions run with ``optimize=True``: numpy then
hands a two-operand contraction to one ``tensordot`` (one BLAS GEMM), never a Python loop.
"""

from functools import cache, partial

from tinygrad_hw.ops.primitive import Primitive, primitive


def spec(inputs: tuple[str, ...], output: str) -> str:
    """``("ij", "jk"), "ik"`` as ``"ij,jk->ik"``."""
    return ",".join(inputs) + "->" + output


def _einsum_forward(xp, *operands, inputs, output):
    return xp.einsum(spec(inputs, output), *operands, optimize=True)


def _einsum_vjp(index: int, xp, g, out, *operands, inputs, output):
    """The cotangent of operand ``index``: an einsum of g with the other operands."""
    mine = inputs[index]
    others = [s for i, s in enumerate(inputs) if i != index]
    elsewhere = set(output).union(*others)
    target = "".join(c for c in mine if c in elsewhere)
    rest = [x for i, x in enumerate(operands) if i != index]
    if not rest and target == output:
        grad = g  # a single operand whose letters the output keeps in order
    else:
        grad = xp.einsum(spec((output, *others), target), g, *rest, optimize=True)
    if target == mine:
        return grad
    x = operands[index]
    kept = tuple(n if c in elsewhere else 1 for c, n in zip(mine, x.shape, strict=True))
    return xp.broadcast_to(xp.reshape(grad, kept), x.shape)


@cache
def einsum(n: int) -> Primitive:
    """Einstein summation of n operands (params ``inputs``, ``output``: see the module)."""
    vjps = [partial(_einsum_vjp, i) for i in range(n)]
    return primitive("einsum", _einsum_forward, vjps)
