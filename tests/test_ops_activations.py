"""Activations: values against numpy formulas (and PyTorch where installed), gradients against
float64 central differences to second order, and stability at |x| = 1e4.

Tolerances are testing.py's defaults (justified there). leaky_relu, elu and hardtanh are
tested 0.1 away from their kinks (1e5 finite-difference steps), softplus with a threshold
0.1 away from it.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn
from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import (
    arrays,
    arrays_away_from,
    assert_grad_close,
    floats,
    seeds,
    shapes,
)

exact_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + exact_erf(x / math.sqrt(2.0)))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# name: (call on a Tensor, float64 oracle on [-3, 3] (naive formulas are exact there), kinks)
ACTIVATIONS = {
    "softplus": (lambda t: t.softplus(), lambda x: np.log1p(np.exp(x)), ()),
    "softplus_beta": (
        lambda t: t.softplus(beta=2.5),
        lambda x: np.log1p(np.exp(2.5 * x)) / 2.5,
        (),
    ),
    "softplus_threshold": (
        lambda t: t.softplus(beta=2.0, threshold=3.0),
        lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2),
        (1.5,),
    ),
    "gelu": (lambda t: t.gelu(), _gelu, ()),
    "gelu_tanh": (lambda t: t.gelu(approximate="tanh"), _gelu_tanh, ()),
    "silu": (lambda t: t.silu(), lambda x: x / (1.0 + np.exp(-x)), ()),
    "leaky_relu": (lambda t: t.leaky_relu(), lambda x: np.where(x > 0, x, 0.01 * x), (0.0,)),
    "leaky_relu_slope": (
        lambda t: t.leaky_relu(negative_slope=0.3),
        lambda x: np.where(x > 0, x, 0.3 * x),
        (0.0,),
    ),
    "elu": (lambda t: t.elu(), lambda x: np.where(x > 0, x, np.exp(x) - 1.0), (0.0,)),
    "elu_alpha": (
        lambda t: t.elu(alpha=0.7),
        lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1.0)),
        (0.0,),
    ),
    "hardtanh": (lambda t: t.hardtanh(), lambda x: np.clip(x, -1.0, 1.0), (-1.0, 1.0)),
    "hardtanh_bounds": (
        lambda t: t.hardtanh(-0.5, 2.0),
        lambda x: np.clip(x, -0.5, 2.0),
        (-0.5, 2.0),
    ),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(data=st.data())
def test_activation_matches_its_formula_and_finite_differences(name, data):
    call, oracle, kinks = ACTIVATIONS[name]
    x = data.draw(arrays_away_from(shapes(), kinks=kinks) if kinks else arrays(shapes()))
    np.testing.assert_allclose(call(Tensor(x)).data, oracle(x), rtol=1e-13, atol=1e-15)
    assert_grad_close(call, x, seed=data.draw(seeds()), order=2)


@given(
    data=st.data(),
    beta=floats(0.5, 3.0),
    slope=floats(-1.0, 1.0),
    alpha=floats(0.1, 2.0),
)
def test_activation_parameters_drawn_at_random(data, beta, slope, alpha):
    x = data.draw(arrays_away_from(shapes(), kinks=(0.0,)))
    seed = data.draw(seeds())
    np.testing.assert_allclose(
        Tensor(x).softplus(beta).data, np.logaddexp(0, beta * x) / beta, rtol=1e-14
    )
    np.testing.assert_array_equal(Tensor(x).leaky_relu(slope).data, np.where(x > 0, x, slope * x))
    assert_grad_close(lambda t: t.softplus(beta), x, seed=seed, order=2)
    assert_grad_close(lambda t: t.leaky_relu(slope), x, seed=seed, order=2)
    assert_grad_close(lambda t: t.elu(alpha), x, seed=seed, order=2)


def test_functions_match_the_methods():
    x = np.linspace(-3, 3, 13)
    t = Tensor(x)
    pairs = [
        (tg.softplus(x, 2.0, 1.0), t.softplus(2.0, 1.0)),
        (tg.gelu(x), t.gelu()),
        (tg.gelu(x, approximate="tanh"), t.gelu("tanh")),
        (tg.silu(x), t.silu()),
        (tg.leaky_relu(x, 0.2), t.leaky_relu(0.2)),
        (tg.elu(x, 0.5), t.elu(0.5)),
        (tg.hardtanh(x, -0.5, 0.5), t.hardtanh(-0.5, 0.5)),
    ]
    for function, method in pairs:
        np.testing.assert_array_equal(function.data, method.data)


# name in ACTIVATIONS: PyTorch's functional and its keyword arguments
TORCH = {
    "softplus": ("softplus", {}),
    "softplus_beta": ("softplus", {"beta": 2.5}),
    "softplus_threshold": ("softplus", {"beta": 2.0, "threshold": 3.0}),
    "gelu": ("gelu", {}),
    "gelu_tanh": ("gelu", {"approximate": "tanh"}),
    "silu": ("silu", {}),
    "leaky_relu_slope": ("leaky_relu", {"negative_slope": 0.3}),
    "elu_alpha": ("elu", {"alpha": 0.7}),
    "hardtanh": ("hardtanh", {}),
}


@pytest.mark.parametrize("name", list(TORCH))
def test_values_and_gradients_agree_with_pytorch(name):
    """Over [-30, 30] in float64, no element at a kink (conventions there: see below).
    PyTorch's softplus is x itself where beta x > 20 (its default threshold) while ours stays
    exact (they differ by up to 2e-9 there), so those elements are left out unless the test
    passes the same threshold to both."""
    torch = pytest.importorskip("torch")
    functional, kwargs = TORCH[name]
    x = np.linspace(-30, 30, 241) + 0.0123
    if name in ("softplus", "softplus_beta"):
        x = x[x * kwargs.get("beta", 1.0) <= 20]
    t = Tensor(x, requires_grad=True)
    out = ACTIVATIONS[name][0](t)
    upstream = np.cos(x)
    out.backward(upstream)
    p = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn.functional, functional)(p, **kwargs)
    expected.backward(torch.tensor(upstream))
    # atol: PyTorch's 1 + tanh(u) (gelu_tanh) cancels for u << 0: an absolute error of up to
    # |x| * 2.2e-16 ~ 7e-15 there, where ours keeps its relative accuracy
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.grad, p.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gradients_at_the_kinks_follow_the_documented_conventions():
    """leaky_relu and elu take the left slope at 0 (PyTorch's); hardtanh passes the gradient
    at its bounds, as clip does (PyTorch's hardtanh gives 0 there, its clamp 1)."""
    x = Tensor(np.array([0.0]), requires_grad=True)
    x.leaky_relu(0.2).backward(np.array([1.0]))
    assert x.grad[0] == 0.2
    x.grad = None
    x.elu(0.7).backward(np.array([1.0]))
    assert x.grad[0] == 0.7
    bounds = Tensor(np.array([-1.0, 1.0]), requires_grad=True)
    bounds.hardtanh().backward(np.ones(2))
    np.testing.assert_array_equal(bounds.grad, [1.0, 1.0])


# ------------------------------------------------------------------ stability at |x| = 1e4
BIG = np.array([-1e4, -1e3, -50.0, 50.0, 1e3, 1e4])
POSITIVE = BIG > 0
# The true value, first and second derivative at BIG: each is x or a constant up to terms of
# size e^-50 ~ 2e-22, below the atol of 1e-18 (rtol 1e-6: float32 rounding).
LIMITS = {
    "softplus": (lambda t: t.softplus(), np.where(POSITIVE, BIG, 0.0)),
    "silu": (lambda t: t.silu(), np.where(POSITIVE, BIG, 0.0)),
    "gelu": (lambda t: t.gelu(), np.where(POSITIVE, BIG, 0.0)),
    "gelu_tanh": (lambda t: t.gelu("tanh"), np.where(POSITIVE, BIG, 0.0)),
    "elu": (lambda t: t.elu(), np.where(POSITIVE, BIG, -1.0)),
}
CLOSE = {"rtol": 1e-6, "atol": 1e-18}


def _value_and_derivatives(call, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """f(x), f'(x) and f''(x) (elementwise f), numpy's floating-point warnings raised."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = call(x)
        (first,) = tg.grad(out.sum(), [x], create_graph=True)
        (second,) = tg.grad(first.sum(), [x])
    return out, first, second


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LIMITS))
def test_activation_and_two_derivatives_are_finite_and_right_at_1e4(name, dtype):
    call, value = LIMITS[name]
    x = Tensor(BIG.astype(dtype), requires_grad=True)
    out, first, second = _value_and_derivatives(call, x)
    assert out.dtype == first.dtype == second.dtype == dtype
    np.testing.assert_allclose(out.data, value, **CLOSE)
    np.testing.assert_allclose(first.data, POSITIVE.astype(float), **CLOSE)
    np.testing.assert_allclose(second.data, np.zeros(BIG.size), **CLOSE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_expm1_and_log1p_are_finite_and_right_at_1e4(dtype):
    """expm1(-1e4) = -1 with derivatives e^x = 0; log1p(1e4) with 1/(1+x), -1/(1+x)^2
    (e^(1e4) itself is inf in every float: not asked of expm1)."""
    x = Tensor(-BIG[3:].astype(dtype), requires_grad=True)
    out, first, second = _value_and_derivatives(Tensor.expm1, x)
    np.testing.assert_allclose(out.data, [-1.0, -1.0, -1.0], **CLOSE)
    np.testing.assert_allclose(first.data, np.zeros(3), **CLOSE)
    np.testing.assert_allclose(second.data, np.zeros(3), **CLOSE)
    x = Tensor(BIG[3:].astype(dtype), requires_grad=True)
    out, first, second = _value_and_derivatives(Tensor.log1p, x)
    assert out.dtype == first.dtype == second.dtype == dtype
    np.testing.assert_allclose(out.data, np.log1p(BIG[3:]), **CLOSE)
    np.testing.assert_allclose(first.data, 1 / (1 + BIG[3:]), **CLOSE)
    np.testing.assert_allclose(second.data, -1 / (1 + BIG[3:]) ** 2, **CLOSE)


def test_gelu_keeps_its_relative_accuracy_in_the_left_tail():
    """x Phi(x) with Phi by erfc: gelu(-10) ~ -7.6e-23, where 1 + erf(x / sqrt 2) is 0; and
    the tanh form as x sigmoid(2 u), where 1 + tanh(u) would cancel."""
    x = np.array([-10.0, -20.0, -37.0])
    phi = np.array([math.erfc(-v / math.sqrt(2)) / 2 for v in x])
    # rtol: Phi(x) ~ e^(-x^2 / 2) turns the rounding of x / sqrt 2 (a relative 1.1e-16, in
    # ours and in the oracle) into a relative x^2 * 1.1e-16 = 1.5e-13 at x = -37
    np.testing.assert_allclose(tg.gelu(x).data, x * phi, rtol=1e-12)
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    np.testing.assert_allclose(
        tg.gelu(x, "tanh").data, x * np.exp(2 * u) / (1 + np.exp(2 * u)), rtol=1e-14
    )


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_float32_in_float32_out(name):
    call = ACTIVATIONS[name][0]
    x = np.array([-2.3, -0.4, 0.3, 0.9, 2.7], dtype=np.float32)
    t = Tensor(x, requires_grad=True)
    out = call(t)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, call(Tensor(x.astype(np.float64))).data, rtol=2e-6)
    out.backward(np.ones(5, dtype=np.float32))
    assert to_host(t.grad).dtype == np.float32


def test_integer_tensors_promote_to_float64():
    ints = np.array([-2, 0, 3])
    for name in ("softplus", "gelu", "silu", "elu", "leaky_relu"):
        out = getattr(Tensor(ints), name)()
        assert out.dtype == np.float64, name
        np.testing.assert_allclose(out.data, getattr(Tensor(ints.astype(float)), name)().data)


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: t.softplus(beta=0.0), ArgumentError, "softplus: beta must be > 0, got 0.0"),
        (lambda t: t.softplus(beta="2"), DTypeError, "softplus: beta must be a real number"),
        (lambda t: t.softplus(threshold=[1]), DTypeError, "softplus: threshold must be a real"),
        (lambda t: t.gelu(approximate="fast"), ArgumentError, "gelu: approximate must be 'none'"),
        (lambda t: t.gelu(approximate=None), ArgumentError, "or 'tanh', got None"),
        (lambda t: t.leaky_relu(None), DTypeError, "leaky_relu: negative_slope must be a real"),
        (lambda t: t.elu(alpha=float("nan")), ArgumentError, "elu: alpha must be a number, got"),
        (lambda t: t.elu(alpha=True), DTypeError, "elu: alpha must be a real number, got True"),
        (lambda t: t.hardtanh(1.0, -1.0), ArgumentError, "min_val=1.0 is greater than max_val"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call(Tensor([0.5, -0.5]))


def test_the_activation_modules_still_work():
    x = Tensor(np.array([[-1.5, 0.5]]), requires_grad=True)
    for module, expected in [
        (nn.ReLU(), [[0.0, 0.5]]),
        (nn.Tanh(), np.tanh([[-1.5, 0.5]])),
        (nn.Sigmoid(), 1 / (1 + np.exp([[1.5, -0.5]]))),
    ]:
        np.testing.assert_allclose(module(x).data, expected, rtol=1e-14)
