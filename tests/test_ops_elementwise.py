"""Elementwise ops: the tape against float64 central differences, over broadcast shapes.

Every test draws shapes that broadcast (0-d, 1-d, size-1 axes, different ranks), values from a
domain where the op is smooth, and a random cotangent seed; ``assert_grad_close`` then checks
every element of every input's gradient (tolerances justified in tinygrad_hw.testing: atol 1e-6
is ~1e4 times the central-difference error for values in [-3, 3]). The forward value is checked
against numpy in float64 too, so a wrong forward with a matching backward cannot pass.
"""

import operator
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.testing import (
    arrays,
    arrays_away_from,
    assert_grad_close,
    broadcastable_shapes,
    floats,
    positive_arrays,
    seeds,
    shapes,
)

# Domains: where each operand's derivative exists and stays moderate.
#   any      [-3, 3]
#   nonzero  |x| > 0.5, for denominators (1/x, its derivatives bounded by 8 and 16)
#   positive [0.5, 3], for log, sqrt and the base of a real power (x^y, ln x defined)
DOMAINS = {
    "any": arrays,
    "nonzero": lambda shape: arrays_away_from(shape, kinks=(0.0,), margin=0.5),
    "positive": positive_arrays,
}

# operator, domain of the left operand, domain of the right operand
BINARY = {
    "add": (operator.add, "any", "any"),
    "sub": (operator.sub, "any", "any"),
    "mul": (operator.mul, "any", "any"),
    "div": (operator.truediv, "any", "nonzero"),
    "pow": (operator.pow, "positive", "any"),
}


def _forms(op: Callable, a: np.ndarray, b: np.ndarray) -> dict[str, tuple[Callable, list]]:
    """Each operator form as (function of the differentiable operands, those operands).

    Scalars are Python floats (the first element of the drawn array, so in the same domain);
    ndarray operands are constants, and ``ndarray op Tensor`` exercises the reflected methods.
    """
    a0, b0 = float(a.flat[0]), float(b.flat[0])
    return {
        "tensor-tensor": (op, [a, b]),
        "tensor-scalar": (lambda t: op(t, b0), [a]),
        "scalar-tensor": (lambda t: op(a0, t), [b]),
        "tensor-ndarray": (lambda t: op(t, b), [a]),
        "ndarray-tensor": (lambda t: op(a, t), [b]),
    }


@pytest.mark.parametrize("form", list(_forms(operator.add, np.zeros(1), np.zeros(1))))
@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_operator_matches_finite_differences(name, form, data):
    op, left, right = BINARY[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(DOMAINS[left](shape_a)), data.draw(DOMAINS[right](shape_b))
    fn, inputs = _forms(op, a, b)[form]
    tensors = [Tensor(x, requires_grad=True) for x in inputs]
    out = fn(*tensors)
    assert isinstance(out, Tensor) and out.requires_grad
    scalar_a, scalar_b = np.float64(a.flat[0]), np.float64(b.flat[0])
    expected = {"tensor-scalar": op(a, scalar_b), "scalar-tensor": op(scalar_a, b)}
    np.testing.assert_allclose(out.data, expected.get(form, op(a, b)), rtol=1e-12)
    assert_grad_close(fn, *inputs, seed=data.draw(seeds()), order=2)


# method, float64 numpy oracle, domain (see DOMAINS; kinks of abs/relu avoided by 0.1, which
# is 1e5 times the finite-difference step, so no difference straddles the kink)
UNARY = {
    "neg": (lambda t: -t, lambda x: -x, arrays),
    "exp": (Tensor.exp, np.exp, arrays),
    "log": (Tensor.log, np.log, positive_arrays),
    "sqrt": (Tensor.sqrt, np.sqrt, positive_arrays),
    "abs": (Tensor.abs, np.abs, lambda s: arrays_away_from(s, kinks=(0.0,))),
    "relu": (Tensor.relu, lambda x: np.where(x > 0, x, 0.0), lambda s: arrays_away_from(s)),
    "sigmoid": (Tensor.sigmoid, lambda x: 1 / (1 + np.exp(-x)), arrays),
    "tanh": (Tensor.tanh, lambda x: np.sinh(x) / np.cosh(x), arrays),
}


@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_op_matches_finite_differences(name, data):
    method, oracle, domain = UNARY[name]
    x = data.draw(domain(shapes()))
    np.testing.assert_allclose(method(Tensor(x)).data, oracle(x), rtol=1e-12, atol=1e-15)
    assert_grad_close(method, x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_clip_matches_finite_differences_away_from_its_bounds(data):
    """Bounds drawn in [-2, 0] and [0, 2], either may be None (not both: refused, as in
    PyTorch; tests/test_raw_errors.py); inputs stay 0.1 from both."""
    lo = data.draw(st.none() | floats(-2.0, 0.0))
    hi = data.draw(floats(0.0, 2.0) if lo is None else st.none() | floats(0.0, 2.0))
    kinks = tuple(k for k in (lo, hi) if k is not None)
    x = data.draw(arrays_away_from(shapes(), kinks=kinks))
    lower = -np.inf if lo is None else lo
    upper = np.inf if hi is None else hi
    np.testing.assert_array_equal(
        Tensor(x).clip(lo, hi).data, np.minimum(np.maximum(x, lower), upper)
    )
    assert_grad_close(lambda t: t.clip(lo, hi), x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_power_with_a_real_constant_exponent_matches_finite_differences(data):
    """x ** c with c any real in [-3, 3] needs x > 0 (positive domain); the exponent is a
    Python float, an ndarray broadcast against x, or a Tensor that does not require grad."""
    shape_x, shape_c = data.draw(broadcastable_shapes())
    x = data.draw(positive_arrays(shape_x))
    c = data.draw(arrays(shape_c))
    kind = data.draw(st.sampled_from(["float", "ndarray", "tensor"]))
    plain = float(c.flat[0]) if kind == "float" else c
    exponent = Tensor(c) if kind == "tensor" else plain
    np.testing.assert_allclose((Tensor(x) ** exponent).data, x ** np.float64(plain), rtol=1e-12)
    assert_grad_close(lambda t: t**exponent, x, seed=data.draw(seeds()), order=2)


@given(data=st.data(), exponent=st.sampled_from([-2, -1, 1, 2, 3]))
def test_power_with_an_integer_exponent_accepts_negative_bases(data, exponent):
    """x ** n for integer n is smooth at negative x; x stays 0.5 from 0 (negative n divides)."""
    x = data.draw(DOMAINS["nonzero"](shapes()))
    np.testing.assert_allclose((Tensor(x) ** exponent).data, x**exponent, rtol=1e-12)
    assert_grad_close(lambda t: t**exponent, x, seed=data.draw(seeds()), order=2)


def test_bug_power_with_zero_exponent_has_zero_gradient_at_zero_base():
    """d/dx x^0 = 0 everywhere (x^0 = 1), but c * x^(c - 1) gives 0 * inf = NaN at x = 0.

    Known core bug (ops.power_const and ops.power grad_a): see the report.
    """
    upstream = np.array([0.7, -1.3, 2.1])
    for exponent in (0.0, Tensor(np.zeros(3), requires_grad=True)):
        x = Tensor(np.array([0.0, 1.5, -2.0]), requires_grad=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            (x**exponent).backward(upstream)
        np.testing.assert_array_equal(x.grad, np.zeros(3))


@given(data=st.data())
def test_where_matches_finite_differences_with_a_broadcast_condition(data):
    """Condition, a and b broadcast together; the gradient goes to the chosen side only."""
    shape_c, shape_a, shape_b = data.draw(broadcastable_shapes(3))
    condition = data.draw(arrays(shape_c, dtype=bool, elements=st.booleans()))
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    np.testing.assert_array_equal(tg.where(condition, a, Tensor(b)).data, np.where(condition, a, b))
    assert_grad_close(
        lambda x, y: tg.where(condition, x, y), a, b, seed=data.draw(seeds()), order=2
    )
    assert_grad_close(
        lambda y: tg.where(Tensor(condition), a, y), b, seed=data.draw(seeds()), order=2
    )
    assert_grad_close(lambda x: tg.where(condition, x, 0.5), a, seed=data.draw(seeds()), order=2)
