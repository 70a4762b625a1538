"""Function transforms in the style of JAX and ``torch.func``: vjp, jvp, jacobian, hessian, hvp.

``f`` maps Tensors to a Tensor. Arguments may be Tensors or arrays (arrays become float
Tensors that require grad). Every result is a Tensor recorded with ``create_graph=True``, so
the transforms compose: ``hessian(f, x)`` is ``jacobian`` of the gradient of ``f``, and
``jacobian(lambda x: hvp(f, x, v)[1], x)`` is a third derivative.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_hw.errors import DTypeError, ShapeError
from tinygrad_hw.functions import stack
from tinygrad_hw.gradients import grad
from tinygrad_hw.tensor import Tensor

Function = Callable[..., Tensor]


def _primal(x: Any) -> Tensor:
    """A Tensor that requires grad: a tensor already in a graph stays itself (so that
    transforms compose), anything else becomes a new float leaf."""
    if isinstance(x, Tensor) and x.requires_grad:
        return x
    tensor = x if isinstance(x, Tensor) else Tensor(x)
    data = tensor.data if tensor.dtype.kind == "f" else tensor.astype(np.float64).data
    return Tensor(data, requires_grad=True)


def _output(f: Function, primals: list[Tensor]) -> Tensor:
    out = f(*primals)
    if not isinstance(out, Tensor):
        raise DTypeError(f"func: f must return a Tensor, got {type(out).__name__}")
    return out


def recorded_gradients(out: Tensor, primals: list[Tensor], cotangent: Any) -> tuple[Tensor, ...]:
    """J^T cotangent for each primal, recorded (create_graph); zeros where out does not depend
    on it. The building block of every transform here, and of gradgradcheck."""
    if not out.requires_grad:
        return tuple(Tensor(np.zeros(p.shape, p.dtype), device=p.device) for p in primals)
    found = grad(
        out, primals, grad_outputs=cotangent, retain_graph=True, create_graph=True,
        allow_unused=True,
    )  # fmt: skip
    return tuple(
        Tensor(np.zeros(p.shape, p.dtype), device=p.device) if g is None else g
        for g, p in zip(found, primals, strict=True)
    )


def _value_and_gradient(name: str, f: Function, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(f(x), df/dx)`` for a scalar (one-element) ``f``, the gradient recorded."""
    out = _output(f, [x])
    if out.size != 1:
        raise ShapeError(f"{name}: f must return one element, got shape {out.shape}")
    return out, recorded_gradients(out.reshape(()), [x], None)[0]


def vjp(f: Function, *primals: Any) -> tuple[Tensor, Callable[[Any], tuple[Tensor, ...]]]:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(v)`` is the tuple of J_i^T v, one per primal."""
    xs = [_primal(x) for x in primals]
    out = _output(f, xs)

    def vjp_fn(v: Any) -> tuple[Tensor, ...]:
        v = v if isinstance(v, Tensor) else Tensor(np.asarray(v, out.dtype), device=out.device)
        if v.shape != out.shape:
            raise ShapeError(f"vjp: cotangent has shape {v.shape}, the output {out.shape}")
        return recorded_gradients(out, xs, v)

    return out, vjp_fn


def jvp(f: Function, primals: Any, tangents: Any) -> tuple[Tensor, Tensor]:
    """``(f(*primals), J v)``: the directional derivative along the tangents.

    Computed by the double-vjp trick (no forward mode): u -> J^T u is linear in a dummy
    cotangent u, so J v is the gradient of <J^T u, v> with respect to u.
    """
    primals = primals if isinstance(primals, list | tuple) else (primals,)
    tangents = tangents if isinstance(tangents, list | tuple) else (tangents,)
    if len(primals) != len(tangents):
        raise ShapeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    xs = [_primal(x) for x in primals]
    out = _output(f, xs)
    u = Tensor(np.zeros(out.shape, out.dtype), requires_grad=True, device=out.device)
    pullback = recorded_gradients(out, xs, u)
    inner = None
    for g, x, v in zip(pullback, xs, tangents, strict=True):
        v = v.data if isinstance(v, Tensor) else np.asarray(v)
        if v.shape != x.shape:
            raise ShapeError(f"jvp: tangent has shape {v.shape}, its primal {x.shape}")
        term = (g * v).sum()
        inner = term if inner is None else inner + term
    return out, recorded_gradients(inner, [u], None)[0]


def jacobian(f: Function, x: Any) -> Tensor:
    """d f(x) / d x, of shape ``f(x).shape + x.shape``: one reverse pass per output element."""
    x = _primal(x)
    out = _output(f, [x])
    rows = []
    for position in np.ndindex(out.shape):
        basis = np.zeros(out.shape, out.dtype)
        basis[position] = 1
        rows.append(recorded_gradients(out, [x], Tensor(basis, device=out.device))[0])
    if not rows:
        return Tensor(np.zeros(out.shape + x.shape, x.dtype), device=x.device)
    return stack(rows).reshape(out.shape + x.shape)


def hessian(f: Function, x: Any) -> Tensor:
    """d^2 f(x) / d x^2 for a scalar ``f``, of shape ``x.shape + x.shape``: the jacobian of
    the gradient."""

    return jacobian(lambda y: _value_and_gradient("hessian", f, y)[1], x)


def hvp(f: Function, x: Any, v: Any) -> tuple[Tensor, Tensor]:
    """``(f(x), H v)``: the Hessian of a scalar ``f`` times v, without building H (two
    reverse passes)."""
    x = _primal(x)
    out, g = _value_and_gradient("hvp", f, x)
    v = v.data if isinstance(v, Tensor) else np.asarray(v)
    if v.shape != x.shape:
        raise ShapeError(f"hvp: v has shape {v.shape}, x has shape {x.shape}")
    return out, recorded_gradients((g * v).sum(), [x], None)[0]
