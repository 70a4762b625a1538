"""Differentiable functions of Tensors, under numpy's and the array API's names.

``tinygrad_hw.exp(x)``, ``tinygrad_hw.where(c, a, b)``, ``tinygrad_hw.concatenate([...])``: the
functional twin of the Tensor methods, taking Tensors, arrays or numbers. This module is also
the ``xp`` namespace the engine hands to the primitives' vjps under ``create_graph=True``: the
names a vjp uses (``xp.exp``, ``xp.sum``, ``xp.where``, ``xp.scatter_add``, ...) exist here with
the same meaning, on Tensors, so the backward pass records itself.
"""

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_hw import ops
from tinygrad_hw.errors import DTypeError, ShapeError
from tinygrad_hw.ops import devices
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.ops.windows import output_size
from tinygrad_hw.recording import apply, lift
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.tensor_methods import index_on_device
from tinygrad_hw.validation import normalize_axis, torch_alias


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# --------------------------------------------------------------------- elementwise
def exp(x: Any) -> Tensor:
    return _tensor(x).exp()


def log(x: Any) -> Tensor:
    return _tensor(x).log()


def sqrt(x: Any) -> Tensor:
    return _tensor(x).sqrt()


def tanh(x: Any) -> Tensor:
    return _tensor(x).tanh()


def sigmoid(x: Any) -> Tensor:
    return _tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    return _tensor(x).relu()


def abs(x: Any) -> Tensor:
    return _tensor(x).abs()


def logaddexp(a: Any, b: Any) -> Tensor:
    """log(e^a + e^b), finite for any finite a, b."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    return apply(ops.logaddexp, a, b)


def isfinite(x: Any) -> Tensor:
    """Elementwise: neither NaN nor inf (a bool Tensor)."""
    return _tensor(x).isfinite()


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``condition`` else ``b``, broadcasting all three; the
    condition (a bool array or Tensor) is not differentiable."""
    mask = condition.data if isinstance(condition, Tensor) else condition
    if not hasattr(mask, "__array_namespace__"):
        mask = np.asarray(mask)
    if namespace_of(mask).numpy_dtype(mask.dtype) != np.bool_:
        raise DTypeError(f"where: condition must be boolean, got dtype {mask.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    a, b = (lift(a, b), b) if isinstance(b, Tensor) else (a, lift(b, a))
    if type(mask) is not type(a.data) and isinstance(mask, np.ndarray):
        mask = devices.to_device(mask, a.device)  # a host condition for device tensors
    try:
        np.broadcast_shapes(mask.shape, a.shape, b.shape)
    except ValueError:
        raise ShapeError(
            f"where: shapes {mask.shape}, {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return apply(ops.where, a, b, condition=mask)


def astype(x: Any, dtype: Any) -> Tensor:
    """``x`` in another dtype; to a float dtype the gradient is cast back (Tensor.astype)."""
    return _tensor(x).astype(dtype)


def clone(x: Any) -> Tensor:
    """A copy of ``x`` that is still in the graph (gradients pass through unchanged)."""
    return _tensor(x).clone()


# --------------------------------------------------------------------- reductions
# Each also takes PyTorch's dim= and keepdim= (keyword-only), checked by the method.
def sum(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    return _tensor(x).sum(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def mean(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    return _tensor(x).mean(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def max(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    """The largest value over ``axis``: the values only (torch.max(x, dim=) is a pair)."""
    return _tensor(x).max(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def min(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    """The smallest value over ``axis``: the values only (torch.min(x, dim=) is a pair)."""
    return _tensor(x).min(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def logsumexp(
    x: Any, axis: int = -1, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    return _tensor(x).logsumexp(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def softmax(x: Any, axis: int = -1, *, dim: Any = None) -> Tensor:
    return _tensor(x).softmax(axis=axis, dim=dim)


def log_softmax(x: Any, axis: int = -1, *, dim: Any = None) -> Tensor:
    return _tensor(x).log_softmax(axis=axis, dim=dim)


# --------------------------------------------------------------------- shapes
def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    return _tensor(x).reshape(tuple(shape))


def permute_dims(x: Any, axes: Sequence[int]) -> Tensor:
    return _tensor(x).transpose(tuple(axes))


def permute(x: Any, dims: Sequence[int]) -> Tensor:
    """PyTorch's name for ``permute_dims``."""
    return _tensor(x).permute(tuple(dims))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    return _tensor(x).transpose(*(() if axes is None else (tuple(axes),)))


def matrix_transpose(x: Any) -> Tensor:
    """Swap the last two axes."""
    x = _tensor(x)
    axes = list(range(x.ndim))
    axes[-2:] = axes[-1], axes[-2]
    return x.transpose(tuple(axes))


def expand_dims(x: Any, axis: int | tuple[int, ...] | None = None, *, dim: Any = None) -> Tensor:
    return _tensor(x).expand_dims(axis, dim=dim)


def unsqueeze(x: Any, dim: int) -> Tensor:
    """PyTorch's name for ``expand_dims`` with one axis."""
    return _tensor(x).unsqueeze(dim)


def squeeze(x: Any, axis: int | tuple[int, ...] | None = None, *, dim: Any = None) -> Tensor:
    return _tensor(x).squeeze(axis, dim=dim)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    return _tensor(x).broadcast_to(shape)


def matmul(a: Any, b: Any) -> Tensor:
    return _tensor(a) @ b


def scatter_add(values: Any, shape: tuple[int, ...], index: Any) -> Tensor:
    """zeros(shape) with ``values`` added at ``index`` (the gradient of indexing)."""
    values = _tensor(values)
    index = index_on_device(index, values.data, tuple(shape))
    return apply(ops.scatter_add, values, shape=tuple(shape), index=index)


def _pieces(op: str, tensors: Sequence[Any]) -> list[Tensor]:
    if not isinstance(tensors, list | tuple) or not tensors:
        raise ShapeError(
            f"{op}: needs a non-empty list or tuple of tensors, got {type(tensors).__name__}"
        )
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        first = Tensor(tensors[0])
    return [lift(t, first) for t in tensors]


def concatenate(tensors: Sequence[Any], axis: int = 0, *, dim: Any = None) -> Tensor:
    """Join tensors along an existing axis (``dim=``: PyTorch's name); the gradient is split
    back into the pieces."""
    if dim is not None:
        axis = torch_alias("concatenate", "axis", axis, 0, dim=dim)
    parts = _pieces("concatenate", tensors)
    axis = parts[0]._axis("concatenate", axis)
    shapes = [t.shape for t in parts]
    if builtins.any(len(s) != len(shapes[0]) for s in shapes) or builtins.any(
        s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :] for s in shapes
    ):
        raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    return apply(ops.concatenate(len(parts)), *parts, axis=axis)


concat = concatenate  # the array API's name
cat = concatenate  # PyTorch's


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: Any = None) -> Tensor:
    """Join same-shape tensors along a new axis (``dim=``: PyTorch's name)."""
    if dim is not None:
        axis = torch_alias("stack", "axis", axis, 0, dim=dim)
    parts = _pieces("stack", tensors)
    shapes = [t.shape for t in parts]
    if builtins.any(s != shapes[0] for s in shapes):
        raise ShapeError(f"stack: all shapes must be equal, got {shapes}")
    axis = normalize_axis(axis, parts[0].ndim + 1, "stack", shapes[0])
    return apply(ops.stack(len(parts)), *parts, axis=axis)


# --------------------------------------------------------------------- windows
# The vjps of convolution and pooling call these (xp.unfold, xp.fold) under create_graph. Their
# arguments are normalised tuples of ints, checked by tinygrad_hw.nn.functional.conv2d & co.
def unfold(
    x: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    fill: float = 0.0,
) -> Tensor:
    """The sliding windows of the last len(kernel) axes of x, shape (*lead, *out, *kernel):
    windows[..., o, j] = x_padded[..., o * stride + j * dilation] (see ops.windows)."""
    return apply(
        ops.unfold,
        _tensor(x),
        kernel=tuple(kernel),
        stride=tuple(stride),
        padding=tuple(padding),
        dilation=tuple(dilation),
        fill=fill,
    )


def fold(
    windows: Any,
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> Tensor:
    """unfold's adjoint: each window added back where unfold read it, on an input whose last
    axes have shape ``spatial`` (the padding dropped)."""
    windows = _tensor(windows)
    d = len(kernel)
    expected = tuple(
        output_size(n, k, s, p, r)
        for n, k, s, p, r in zip(spatial, kernel, stride, padding, dilation, strict=True)
    )
    if windows.shape[-2 * d :] != expected + tuple(kernel):
        raise ShapeError(
            f"fold: windows of shape {windows.shape} do not end in {expected + tuple(kernel)}, "
            f"the window counts and kernel that unfold gives for spatial shape {tuple(spatial)}"
        )
    return apply(
        ops.fold,
        windows,
        spatial=tuple(spatial),
        kernel=tuple(kernel),
        stride=tuple(stride),
        padding=tuple(padding),
        dilation=tuple(dilation),
    )


# --------------------------------------------------------------------- constants
# Arrays, not Tensors: a vjp uses them as constants (the labels' one-hot rows, row indices).
def one_hot(labels: Any, num_classes: int, dtype: Any) -> np.ndarray:
    labels = labels if hasattr(labels, "__array_namespace__") else np.asarray(labels)
    return namespace_of(labels).one_hot(labels, num_classes, dtype)


def to_device(x: Any, device: str) -> Tensor:
    """``x`` on another device, still in the graph (Tensor.to)."""
    return _tensor(x).to(device)


def arange(n: int) -> np.ndarray:
    return np.arange(n)


# --------------------------------------------------------------------- the other modules
# More elementwise functions (trigonometric, rounding, modulo, activations), layout functions
# (flip, roll, pad, ...) and statistics, scans, contractions and orderings are written in their
# own modules and re-exported here, because this module is the differentiable ``xp``: vjps call
# xp.cos, xp.flip, xp.roll, xp.cumsum, xp.einsum, ... on Tensors under create_graph. These
# imports come last because those modules build on the functions above.
from tinygrad_hw.elementwise_functions import (  # noqa: E402, F401 (re-exported: this xp)
    acos,
    arccos,
    arcsin,
    arctan,
    arctanh,
    asin,
    atan,
    atanh,
    ceil,
    cos,
    cosh,
    elu,
    erf,
    erfc,
    exp2,
    expm1,
    floor,
    fmod,
    gelu,
    hardtanh,
    leaky_relu,
    log1p,
    log2,
    log10,
    reciprocal,
    remainder,
    round,
    sign,
    silu,
    sin,
    sinh,
    softplus,
    square,
    tan,
    trunc,
    zeros_like,
)
from tinygrad_hw.reduction_functions import (  # noqa: E402, F401 (re-exported)
    all,
    any,
    argmax,
    argmin,
    argsort,
    cumprod,
    cumsum,
    dot,
    einsum,
    inner,
    isnan,
    maximum,
    minimum,
    outer,
    prod,
    sort,
    std,
    tensordot,
    topk,
    var,
)
from tinygrad_hw.shape_functions import (  # noqa: E402, F401  (build on the above)
    diag,
    diagonal,
    flip,
    hstack,
    moveaxis,
    pad,
    repeat,
    roll,
    split,
    swapaxes,
    take_along_axis,
    tile,
    tril,
    triu,
    vstack,
)
