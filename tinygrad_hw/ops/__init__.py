"""Primitives: every op of the library, its forward beside its vjps, written against ``xp``.

See ``tinygrad_hw.ops.primitive`` for the contract. Nothing here knows about Tensor: the
forward and first-order vjps get arrays and the backend's namespace, and the same functions,
handed Tensors and ``tinygrad_hw.functions``, record a differentiable backward pass.
"""

from tinygrad_hw.ops.conv import avg_pool, fold, max_pool, unfold
from tinygrad_hw.ops.elementwise import (
    abs,
    add,
    clip,
    div,
    exp,
    log,
    logaddexp,
    mul,
    neg,
    power,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from tinygrad_hw.ops.losses import (
    bce_with_logits,
    cross_entropy_labels,
    cross_entropy_targets,
    l2_penalty,
)
from tinygrad_hw.ops.namespace import NUMPY, ArrayNamespace
from tinygrad_hw.ops.primitive import Primitive, primitive
from tinygrad_hw.ops.reductions import log_softmax, logsumexp, max, mean, min, softmax, sum
from tinygrad_hw.ops.shaping import (
    astype,
    broadcast_to,
    concatenate,
    copy,
    getitem,
    linear,
    matmul,
    reshape,
    scatter_add,
    stack,
    sum_to_shape,
    transpose,
)

__all__ = [
    "NUMPY",
    "ArrayNamespace",
    "Primitive",
    "abs",
    "add",
    "astype",
    "avg_pool",
    "bce_with_logits",
    "broadcast_to",
    "clip",
    "concatenate",
    "copy",
    "cross_entropy_labels",
    "cross_entropy_targets",
    "div",
    "exp",
    "fold",
    "getitem",
    "l2_penalty",
    "linear",
    "log",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "matmul",
    "max",
    "max_pool",
    "mean",
    "min",
    "mul",
    "neg",
    "power",
    "primitive",
    "relu",
    "reshape",
    "scatter_add",
    "sigmoid",
    "softmax",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "sum_to_shape",
    "tanh",
    "transpose",
    "unfold",
    "where",
]
