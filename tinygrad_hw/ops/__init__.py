"""Primitives: numpy in, (numpy out, one vjp per input) out. Pure array maths.

Every numpy call of the library's maths lives in this package, so that a GPU backend (CuPy)
can replace it without touching the engine or the Tensor class.
"""

from tinygrad_hw.ops.arrays import sum_to_shape
from tinygrad_hw.ops.elementwise import (
    abs,
    add,
    clip,
    div,
    exp,
    log,
    mul,
    neg,
    power,
    power_const,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from tinygrad_hw.ops.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy_labels,
    cross_entropy_targets,
    l2_penalty,
)
from tinygrad_hw.ops.reductions import log_softmax, logsumexp, max, mean, min, softmax, sum
from tinygrad_hw.ops.shaping import concatenate, getitem, linear, matmul, reshape, stack, transpose
from tinygrad_hw.ops.types import Forward, Vjp

__all__ = [
    "Forward",
    "Vjp",
    "abs",
    "add",
    "binary_cross_entropy_with_logits",
    "clip",
    "concatenate",
    "cross_entropy_labels",
    "cross_entropy_targets",
    "div",
    "exp",
    "getitem",
    "l2_penalty",
    "linear",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "mean",
    "min",
    "mul",
    "neg",
    "power",
    "power_const",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "sum_to_shape",
    "tanh",
    "transpose",
    "where",
]
