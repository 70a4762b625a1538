"""gradcheck and gradgradcheck: the tape's first and second derivatives against central
finite differences, in float64."""

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_hw.errors import DTypeError, GradcheckError, ShapeError
from tinygrad_hw.func import recorded_gradients
from tinygrad_hw.functions import concatenate
from tinygrad_hw.modes import enable_grad, no_grad
from tinygrad_hw.ops.arrays import cast, copy
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.tensor import Tensor


def _as_float64_inputs(inputs: tuple[Any, ...]) -> list[Any]:
    """Float64 copies of the tensor inputs (keeping requires_grad); other arguments as given."""
    copies = []
    for x in inputs:
        if isinstance(x, Tensor):  # on x's device (the finite differences read host copies)
            data = cast(x.data, np.float64) if x.requires_grad else x.data
            copies.append(Tensor(copy(data), requires_grad=x.requires_grad))
        else:
            copies.append(x)
    return copies


def _checked_inputs(name: str, inputs: tuple[Any, ...]) -> tuple[list[Any], list[int]]:
    """Float64 copies of the inputs and the positions of those that require grad (at least
    one, or GradcheckError)."""
    tensors = _as_float64_inputs(inputs)
    checked = [i for i, x in enumerate(tensors) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise GradcheckError(f"{name}: no input has requires_grad=True, nothing to check")
    return tensors, checked


def _evaluate(fn: Callable[..., Tensor], inputs: list[Any]) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise DTypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s tape gradients for every input that requires grad.

    The output is projected on a random cotangent v (so a non-scalar output checks a random
    combination of Jacobian rows, and a transposed vjp cannot hide behind an all-ones
    gradient): the tape's vjp(v) must match the central difference
    (<v, f(x + eps e_i)> - <v, f(x - eps e_i)>) / (2 eps) for every element i, within
    ``atol + rtol * |numeric|``. Returns True or raises GradcheckError naming the input, the
    worst element, both values and the error.
    """
    tensors, checked = _checked_inputs("gradcheck", inputs)
    return _check_gradients("gradcheck", fn, tensors, checked, eps, atol, rtol, seed)


def _check_gradients(
    label: str,
    fn: Callable[..., Tensor],
    tensors: list[Any],
    checked: list[int],
    eps: float,
    atol: float,
    rtol: float,
    seed: int,
) -> bool:
    """gradcheck's body on inputs from _checked_inputs; ``label`` starts every error
    (gradgradcheck's say "second derivative")."""
    out = _evaluate(fn, tensors)
    v = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:
        out.backward(v.astype(out.dtype))
    # else: fn does not depend on its inputs on the tape, so its gradient is 0 (the finite
    # differences will say whether that is true)
    for i in checked:
        grad = tensors[i].grad
        analytic = to_host(grad) if grad is not None else np.zeros(tensors[i].shape)
        numeric = _numeric_gradient(fn, tensors, i, v, eps)
        _compare(label, i, analytic, numeric, atol, rtol)
    return True


def _numeric_gradient(
    fn: Callable[..., Tensor], tensors: list[Any], index: int, v: np.ndarray, eps: float
) -> np.ndarray:
    """d<v, fn(...)>/d(input index) by central differences, one element at a time."""
    x = tensors[index].data
    host = np.array(to_host(x), copy=True)
    numeric = np.zeros(x.shape)
    with no_grad():
        for position in np.ndindex(x.shape):
            original = float(host[position])
            x[position] = original + eps
            plus = np.sum(v * to_host(_evaluate(fn, tensors).data))
            x[position] = original - eps
            minus = np.sum(v * to_host(_evaluate(fn, tensors).data))
            x[position] = original
            numeric[position] = (plus - minus) / (2 * eps)
    return numeric


def _compare(
    label: str, index: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float
) -> None:
    if analytic.shape != numeric.shape:
        raise ShapeError(
            f"{label}: input {index}'s gradient has shape {analytic.shape}, "
            f"expected {numeric.shape}"
        )
    error = np.abs(analytic - numeric)
    excess = error - (atol + rtol * np.abs(numeric))
    bad = ~(excess <= 0)  # NaN counts as a failure
    if not bad.any():
        return
    worst = np.unravel_index(
        np.nanargmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -1)), error.shape
    )
    raise GradcheckError(
        f"{label}: input {index} (shape {analytic.shape}): gradient wrong at element "
        f"{tuple(int(w) for w in worst)}: tape {float(analytic[worst])!r}, finite differences "
        f"{float(numeric[worst])!r}, error {float(error[worst]):.3g} > atol {atol} + rtol {rtol} "
        "* |numeric|; "
        f"{int(bad.sum())} of {bad.size} elements fail"
    )


def gradgradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s second derivatives for every input that requires grad.

    With a random cotangent v, the first-order vjp G(x) = J(x)^T v is computed on the tape with
    ``create_graph=True``; then G itself is checked by :func:`gradcheck`: the tape's vjp of G
    (a second-order gradient, projected on a second random cotangent) against central finite
    differences of G, each evaluation of which is a first-order backward pass. So a vjp that
    is right but not differentiable correctly (one that detaches what it saved) fails here.
    Returns True or raises GradcheckError naming the input and the worst element.
    """
    tensors, checked = _checked_inputs("gradgradcheck", inputs)
    out_shape = _evaluate(fn, tensors).shape
    device = next(x.device for x in tensors if isinstance(x, Tensor))
    v = Tensor(np.random.default_rng(seed + 1).standard_normal(out_shape), device=device)

    def first_order(*xs: Any) -> Tensor:
        with enable_grad():  # gradcheck's finite differences run under no_grad
            out = _evaluate(fn, list(xs))
            grads = recorded_gradients(out, [xs[i] for i in checked], v)
            return concatenate([g.reshape(-1) for g in grads])

    label = "gradgradcheck (second derivative)"
    return _check_gradients(label, first_order, tensors, checked, eps, atol, rtol, seed)
