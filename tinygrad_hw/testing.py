"""Property-testing helpers: Hypothesis strategies for inputs and assertions for gradients.

Use them to check your own op or model in a few lines; the project's own op tests are written
on them too, so there is one source of truth for "what a well-posed test input is" and "what
it means for a gradient to be right".

    from hypothesis import given, strategies as st
    from tinygrad_hw.testing import assert_grad_close, broadcastable_shapes, seeds, tensors

    @given(st.data())
    def test_my_op(data):
        shape_a, shape_b = data.draw(broadcastable_shapes())
        a, b = data.draw(tensors(shape_a)), data.draw(tensors(shape_b))
        assert_grad_close(lambda a, b: (a * b).tanh(), a, b, seed=data.draw(seeds()))

This module needs Hypothesis (``pip install tinygrad_hw[test]``); the library itself does not
import it. Default values lie in [-3, 3]: far from overflow (e^3 ~ 20), and large enough that
a formula with a wrong constant cannot hide. Domain helpers keep inputs away from the points
where an op is not differentiable, by a margin much wider than the finite-difference step.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_hw.errors import GradcheckError
from tinygrad_hw.gradcheck import gradcheck, gradgradcheck
from tinygrad_hw.gradients import grad
from tinygrad_hw.ops.devices import to_device, to_host
from tinygrad_hw.ops.primitive import Primitive
from tinygrad_hw.recording import apply
from tinygrad_hw.tensor import Tensor

Shape = tuple[int, ...]
ShapeArg = Shape | st.SearchStrategy[Shape]

BOUND = 3.0  # default |value| bound of generated arrays
EPS = 1e-6  # central-difference step
# Central differences in float64 with eps = 1e-6 err by O(eps^2 f''') ~ 1e-11 (truncation) plus
# O(1e-16 |f| / eps) ~ 1e-10 (rounding) for values of size ~1: atol 1e-6 leaves a 1e4 margin.
ATOL = 1e-6
RTOL = 1e-5
# Second order differentiates a first-order tape gradient G (exact to rounding) by the same
# central differences: rounding ~1e-16 |G| / eps ~ 1e-10 |G|, truncation eps^2 |G'''| / 6; the
# widest in the default domains (x ** y at x = 0.5, y = -3, |G'''| ~ 1e5) is ~1e-8, so
# atol 1e-5 + rtol 1e-4 keeps a margin of >= 1e3 and still fails a wrong constant or sign.
SECOND_ATOL = 1e-5
SECOND_RTOL = 1e-4


# --------------------------------------------------------------------- shapes
def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` elements.

    The defaults include 0-d ``()`` and 1-d shapes and size-1 axes, and stay small (at most 64
    elements) so that element-by-element finite differences are cheap.

    Example: ``@given(shape=shapes(min_dims=1))``.
    """
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together under numpy's rules.

    The shapes may differ in rank (a 0-d or 1-d one against a 3-d one) and contain size-1 axes
    that stretch against longer ones: exactly the cases where a vjp must be summed back.

    Example: ``shape_a, shape_b = data.draw(broadcastable_shapes())``.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda drawn: tuple(drawn.input_shapes))


def axes(ndim: int, allow_none: bool = True) -> st.SearchStrategy[Any]:
    """An ``axis=`` argument for a reduction over ``ndim`` axes: None (all axes), one int
    (negative ones included), or a tuple of distinct ints (possibly empty, possibly negative).

    Example: ``x.sum(axis=data.draw(axes(x.ndim)))``.
    """
    choices = [hnp.valid_tuple_axes(ndim)]
    if ndim > 0:
        choices.append(st.integers(-ndim, ndim - 1))
    if allow_none:
        choices.append(st.none())
    return st.one_of(*choices)


def axis(ndim: int) -> st.SearchStrategy[int]:
    """One valid axis of an array with ``ndim >= 1`` axes, negative values included.

    Example: ``x.softmax(axis=data.draw(axis(x.ndim)))``.
    """
    return st.integers(-ndim, ndim - 1)


def seeds() -> st.SearchStrategy[int]:
    """Seeds for the random cotangent of :func:`assert_grad_close` (and ``gradcheck``)."""
    return st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------- arrays
def floats(
    min_value: float = -BOUND, max_value: float = BOUND, dtype: Any = np.float64
) -> st.SearchStrategy[float]:
    """Finite floats in ``[min_value, max_value]``, exactly representable in ``dtype``."""
    width = np.dtype(dtype).itemsize * 8
    return st.floats(min_value, max_value, width=width, allow_subnormal=False)


def arrays(
    shape: ShapeArg,
    dtype: Any = np.float64,
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of ``shape`` (a tuple or a strategy of tuples) with well-conditioned values.

    ``elements`` defaults to :func:`floats` in [-3, 3]: finite, bounded away from overflow in
    float32 and float64 alike.

    Example: ``x = data.draw(arrays((2, 3), dtype=np.float32))``.
    """
    if elements is None:
        elements = floats(dtype=dtype)
    return hnp.arrays(dtype, shape, elements=elements)


def tensors(
    shape: ShapeArg,
    dtype: Any = np.float64,
    elements: st.SearchStrategy[float] | None = None,
    requires_grad: bool = True,
) -> st.SearchStrategy[Tensor]:
    """Tensors over :func:`arrays` (same arguments), requiring gradients unless told not to.

    Example: ``@given(x=tensors(shapes()))``.
    """
    return arrays(shape, dtype, elements).map(lambda a: Tensor(a, requires_grad=requires_grad))


def positive_arrays(
    shape: ShapeArg, dtype: Any = np.float64, min_value: float = 0.5, max_value: float = BOUND
) -> st.SearchStrategy[np.ndarray]:
    """Arrays in ``[min_value, max_value]``, bounded away from 0: inputs for log, sqrt, the
    base of a real power, and denominators, where 1/x and its derivatives stay moderate.

    Example: ``x = data.draw(positive_arrays(shape))``, then test ``Tensor(x).log()``.
    """
    return arrays(shape, dtype, floats(min_value, max_value, dtype))


def arrays_away_from(
    shape: ShapeArg,
    kinks: Sequence[float] = (0.0,),
    margin: float = 0.1,
    dtype: Any = np.float64,
    bound: float = BOUND,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays in [-bound, bound] whose every element is more than ``margin`` from each kink.

    At a kink (0 for abs and relu, the bounds of clip) the op has no derivative and a central
    difference straddling it averages two slopes; with margin >> the step 1e-6 it never does.

    Example: ``x = data.draw(arrays_away_from(shape, kinks=(lo, hi)))`` for ``x.clip(lo, hi)``.
    """
    far = floats(-bound, bound, dtype).filter(lambda v: all(abs(v - k) > margin for k in kinks))
    return arrays(shape, dtype, far)


@st.composite
def arrays_with_unique_extrema(
    draw: st.DrawFn, shape: ShapeArg, gap: float = 0.05, dtype: Any = np.float64
) -> np.ndarray:
    """Arrays whose elements are pairwise at least ``gap`` apart (in a random order), so the
    maximum and minimum of every slice, along any axes, are unique by a margin.

    max/min are not differentiable where two elements tie; a gap >> the step 1e-6 keeps the
    central difference on one side. Values are a shuffled grid of spacing ``2 gap``, centred on
    0 (within [-3.2, 3.2] for 64 elements at the default gap), plus jitter in [-gap/2, gap/2].

    Example: ``x = data.draw(arrays_with_unique_extrema(shape))``, then ``Tensor(x).max(axis)``.
    """
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    size = int(np.prod(shape, dtype=np.int64))
    order = np.array(draw(st.permutations(range(size))), dtype=np.float64)
    jitter = draw(arrays((size,), np.float64, floats(-gap / 2, gap / 2)))
    values = (order - (size - 1) / 2) * (2 * gap) + jitter
    return values.reshape(shape).astype(dtype)


# --------------------------------------------------------------------- assertions
def _as_inputs(inputs: Sequence[Any]) -> list[Any]:
    """Float ndarrays become Tensors that require grad; Tensors and other values pass as is."""
    return [
        Tensor(x, requires_grad=True)
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)
        else x
        for x in inputs
    ]


def assert_grad_close(
    fn: Callable[..., Tensor],
    *inputs: Any,
    atol: float = ATOL,
    rtol: float = RTOL,
    eps: float = EPS,
    seed: int = 0,
    order: int = 1,
) -> None:
    """Assert that the tape's gradient of ``fn`` matches central finite differences in float64.

    A thin layer over :func:`tinygrad_hw.gradcheck`: the output is projected on a random
    cotangent v (drawn from ``seed``), and for every input that requires grad, every element
    of vjp(v) must be within ``atol + rtol * |numeric|`` of
    (<v, fn(x + eps e_i)> - <v, fn(x - eps e_i)>) / (2 eps). Float ndarray inputs are wrapped as
    Tensors that require grad; pass ``Tensor(a)`` for a constant. Raises GradcheckError (an
    AssertionError) naming the input, the worst element and both values.

    ``order=2`` also checks the second derivatives with :func:`tinygrad_hw.gradgradcheck`
    (tolerances ``SECOND_ATOL`` and ``SECOND_RTOL``): the vjp of the vjp, built by the tape
    with ``create_graph=True``, against central differences of first-order gradients.

    Example: ``assert_grad_close(lambda a, b: a @ b, np.ones((2, 3)), np.ones((3,)), seed=7)``.
    """
    _check_orders(fn, _as_inputs(inputs), order, seed, atol, rtol, eps)


def _check_orders(
    fn: Callable[..., Tensor],
    tensors: list[Any],
    order: int,
    seed: int,
    atol: float,
    rtol: float,
    eps: float = EPS,
) -> None:
    """gradcheck at (atol, rtol); with order 2 also gradgradcheck at the second-order ones."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    gradcheck(fn, *tensors, eps=eps, atol=atol, rtol=rtol, seed=seed)
    if order == 2:
        gradgradcheck(fn, *tensors, eps=eps, atol=SECOND_ATOL, rtol=SECOND_RTOL, seed=seed)


def assert_vjp_matches_finite_differences(
    primitive: Primitive,
    inputs: Sequence[np.ndarray],
    data: st.DataObject | None = None,
    *,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    atol: float = ATOL,
    rtol: float = RTOL,
    order: int = 1,
) -> None:
    """Assert that a primitive's vjps match central finite differences of its forward pass
    (and, with ``order=2``, that they are differentiable correctly: see assert_grad_close).

    ``primitive`` (an op of ``tinygrad_hw.ops`` or one of yours) runs on the float arrays
    ``inputs`` through ``tinygrad_hw.apply`` with ``params``. The cotangent's seed is drawn
    from ``data`` when given (so Hypothesis explores and shrinks it), else ``seed``.
    Broadcast cotangents are summed back by the engine, as in real use.

    Example::

        @given(x=arrays(shapes()), data=st.data())
        def test_sigmoid(x, data):
            assert_vjp_matches_finite_differences(ops.sigmoid, [x], data)
    """
    if data is not None:
        seed = data.draw(seeds(), label="cotangent seed")
    tensors = [Tensor(x, requires_grad=True) for x in inputs]
    kwargs = _on_device_of(tensors, params or {})
    _check_orders(lambda *ts: apply(primitive, *ts, **kwargs), tensors, order, seed, atol, rtol)


def evaluate_primitive(
    primitive: Primitive, inputs: Sequence[np.ndarray], cotangent: Any = None, **params: Any
) -> tuple[np.ndarray, tuple[np.ndarray | None, ...]]:
    """``(out, (vjp_0(cotangent), vjp_1(cotangent), ...))`` of a primitive on float arrays,
    through ``apply`` and ``tinygrad_hw.grad``; without a cotangent the vjps are not run.

    The inputs go to the default device (``tinygrad_hw.set_default_device``) and the results
    come back as numpy arrays, so they can be compared with a numpy oracle wherever it ran.

    Example: ``out, (dz,) = evaluate_primitive(ops.cross_entropy_labels, [z], 1.0,
    labels=y, reduction="mean")``.
    """
    tensors = [Tensor(x, requires_grad=True) for x in inputs]
    out = apply(primitive, *tensors, **_on_device_of(tensors, params))
    if cotangent is None:
        return to_host(out.data), ()
    seed = np.asarray(cotangent, dtype=out.dtype)
    grads = grad(out, tensors, grad_outputs=np.broadcast_to(seed, out.shape).copy())
    return to_host(out.data), tuple(to_host(g.data) for g in grads)


def _on_device_of(tensors: list[Tensor], params: dict[str, Any]) -> dict[str, Any]:
    """params with each numpy array in it (labels, an index) moved to the device of the
    inputs, where the primitive indexes with it (as F.cross_entropy moves its labels)."""
    if not tensors or type(tensors[0].data) is np.ndarray:
        return params
    device = tensors[0].device
    return {k: to_device(v, device) if isinstance(v, np.ndarray) else v for k, v in params.items()}


def _directional_derivative(
    fn: Callable[..., Tensor], xs: list[Tensor], us: list[np.ndarray], eps: float
) -> np.ndarray:
    """J u = (f(x + eps u) - f(x - eps u)) / (2 eps), moving every input at once."""

    def shifted(sign: float) -> np.ndarray:
        moved = (
            Tensor(x.numpy() + sign * eps * u, device=x.device)  # computed where x lives
            for x, u in zip(xs, us, strict=True)
        )
        return fn(*moved).numpy()  # on the host, whatever the device

    return (shifted(1.0) - shifted(-1.0)) / (2 * eps)


def assert_inner_product_identity(
    fn: Callable[..., Tensor],
    *inputs: np.ndarray,
    seed: int = 0,
    atol: float = ATOL,
    rtol: float = RTOL,
    eps: float = EPS,
) -> None:
    """Assert <vjp(v), u> == <v, J u> for random v, u: the whole Jacobian in one comparison.

    For random directions u (one per input) and a random cotangent v, the tape's
    sum_i <vjp_i(v), u_i> must equal <v, J u>, where J u is one central difference along u.
    Two forward passes instead of two per element: cheap for large inputs, and a wrong Jacobian
    passes only on a measure-zero set of (u, v). All inputs must be float arrays; the check
    runs in float64.

    Example: ``assert_inner_product_identity(lambda a, b: (a @ b).tanh(), a, b, seed=3)``.
    """
    rng = np.random.default_rng(seed)
    xs = [Tensor(np.asarray(x, dtype=np.float64), requires_grad=True) for x in inputs]
    us = [rng.standard_normal(x.shape) for x in xs]
    out = fn(*xs)
    v = rng.standard_normal(out.shape)
    out.backward(v)
    tape = sum(
        float(np.sum(u * (to_host(x.grad) if x.grad is not None else 0.0)))
        for x, u in zip(xs, us, strict=True)
    )
    numeric = float(np.sum(v * _directional_derivative(fn, xs, us, eps)))
    if not abs(tape - numeric) <= atol + rtol * abs(numeric):
        raise GradcheckError(
            f"inner-product check: <vjp(v), u> = {tape!r} from the tape, <v, J u> = {numeric!r} "
            f"from finite differences, error {abs(tape - numeric)!r} > atol {atol} + rtol {rtol}"
            f" * |numeric| (seed {seed})"
        )
