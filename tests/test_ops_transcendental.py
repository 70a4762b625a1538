"""Trigonometric, hyperbolic, log/exp, erf, rounding and modulo ops: values against numpy (or
``math.erf``), gradients against float64 central differences to second order.

Tolerances are testing.py's defaults (atol 1e-6 first order, 1e-5 second order, justified
there). Each op's domain keeps its derivatives moderate: arcsin/arccos/arctanh in [-0.9, 0.9]
(1 / sqrt(1 - x^2) <= 2.3), logs on [0.5, 3], tan on [-1.2, 1.2] (pi/2 ~ 1.57 away), 1 / x at
|x| >= 0.5, so the finite-difference error stays ~1e4 times below the tolerance.
"""

import math
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.errors import DTypeError, ShapeError
from tinygrad_hw.ops.devices import to_host
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

exact_erf = np.vectorize(math.erf, otypes=[np.float64])  # the oracle: libm's erf, per element
exact_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _within(lo: float, hi: float):
    return lambda shape: arrays(shape, elements=floats(lo, hi))


# method name, numpy oracle (float64), domain
SMOOTH = {
    "sin": (np.sin, arrays),
    "cos": (np.cos, arrays),
    "tan": (np.tan, _within(-1.2, 1.2)),
    "arcsin": (np.arcsin, _within(-0.9, 0.9)),
    "arccos": (np.arccos, _within(-0.9, 0.9)),
    "arctan": (np.arctan, arrays),
    "sinh": (np.sinh, arrays),
    "cosh": (np.cosh, arrays),
    "arctanh": (np.arctanh, _within(-0.9, 0.9)),
    "log1p": (np.log1p, _within(-0.5, 3.0)),
    "expm1": (np.expm1, arrays),
    "exp2": (np.exp2, arrays),
    "log2": (np.log2, positive_arrays),
    "log10": (np.log10, positive_arrays),
    "square": (np.square, arrays),
    "reciprocal": (lambda x: 1.0 / x, lambda s: arrays_away_from(s, kinks=(0.0,), margin=0.5)),
    "erf": (exact_erf, arrays),
    "erfc": (exact_erfc, arrays),
}


@pytest.mark.parametrize("name", list(SMOOTH))
@given(data=st.data())
def test_smooth_op_matches_numpy_and_finite_differences(name, data):
    oracle, domain = SMOOTH[name]
    x = data.draw(domain(shapes()))
    method, function = getattr(Tensor, name), getattr(tg, name)
    out = method(Tensor(x))
    # erf/erfc: Cody's approximation is within ~1e-15 of libm's, not bit-equal
    np.testing.assert_allclose(out.data, oracle(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(function(x).data, out.data)  # tg.f(ndarray) == Tensor.f
    assert_grad_close(method, x, seed=data.draw(seeds()), order=2)


def test_pytorch_aliases_are_the_numpy_named_functions():
    for short, numpy_name in [("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan")]:
        assert getattr(Tensor, short) is getattr(Tensor, numpy_name)
        assert getattr(tg, short) is getattr(tg, numpy_name)
    assert Tensor.atanh is Tensor.arctanh and tg.atanh is tg.arctanh


@pytest.mark.parametrize("name", [*SMOOTH, "sign", "floor", "ceil", "trunc", "round"])
def test_float32_in_float32_out_values_and_gradients(name):
    x = np.array([[0.3, -0.7, 0.55], [0.8, 0.6, -0.2]], dtype=np.float32)
    if name in ("log2", "log10"):
        x = np.abs(x)
    t = Tensor(x, requires_grad=True)
    out = getattr(t, name)()
    assert out.dtype == np.float32
    reference = getattr(Tensor(x.astype(np.float64)), name)().data
    np.testing.assert_allclose(out.data, reference, rtol=1e-6, atol=1e-7)
    out.backward(np.full(x.shape, 0.5, dtype=np.float32))
    assert to_host(t.grad).dtype == np.float32


# ------------------------------------------------------------------ the error function
def test_erf_and_erfc_match_libm_to_a_few_ulps_over_the_whole_line():
    """Dense grid through all three of Cody's ranges (|x| <= 0.46875, <= 4, > 4), tiny |x|,
    and the tail where erfc ~ 1e-300: relative error within 4 ulps of math.erf/math.erfc."""
    grid = np.concatenate([np.linspace(-27, 27, 20001), np.geomspace(1e-300, 1, 300)])
    x = np.concatenate([grid, -grid, [0.46875, -0.46875, 4.0, -4.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        erf, erfc = Tensor(x).erf().numpy(), Tensor(x).erfc().numpy()
    np.testing.assert_allclose(erf, exact_erf(x), rtol=1e-15, atol=0)
    normal = np.abs(exact_erfc(x)) > 1e-300  # below, subnormals lose relative precision
    np.testing.assert_allclose(erfc[normal], exact_erfc(x)[normal], rtol=1e-15, atol=0)


def test_erfc_keeps_its_digits_where_one_minus_erf_is_zero():
    x = np.array([6.0, 10.0, 20.0])
    np.testing.assert_allclose(tg.erfc(x).data, exact_erfc(x), rtol=1e-15)
    assert np.all(1.0 - tg.erf(x).data == 0.0)  # why erfc exists


def test_erf_at_infinities_and_nan_and_on_integers():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 50.0])
    np.testing.assert_array_equal(tg.erf(x).data, [1.0, -1.0, np.nan, 0.0, 1.0])
    np.testing.assert_array_equal(tg.erfc(x).data, [0.0, 2.0, np.nan, 1.0, 0.0])
    ints = Tensor(np.arange(-2, 3))
    assert ints.erf().dtype == np.float64
    np.testing.assert_allclose(ints.erf().data, exact_erf(np.arange(-2.0, 3.0)), rtol=1e-15)


# ------------------------------------------------------------------ integer inputs
def test_integer_tensors_compute_in_float64():
    """numpy's int64 rule for every integer: numpy itself gives uint8 float16 (3 digits)."""
    for dtype in (np.int64, np.int32, np.uint8):
        ints = np.arange(1, 5, dtype=dtype)
        for name in ("sin", "cosh", "log1p", "log2", "exp2", "arctan", "sqrt"):
            out = getattr(Tensor(ints), name)()
            expected = getattr(np, name)(ints.astype(np.float64))
            assert out.dtype == np.float64, (name, dtype)
            np.testing.assert_array_equal(out.data, expected)


def test_integer_rounding_and_square_keep_the_dtype_reciprocal_gives_floats():
    ints = np.array([-3, -1, 0, 2, 7], dtype=np.int64)
    for name in ("sign", "floor", "ceil", "trunc", "round", "square"):
        out = getattr(Tensor(ints), name)()
        assert out.dtype == np.int64, name
        np.testing.assert_array_equal(out.data, getattr(np, name)(ints))
    np.testing.assert_array_equal(Tensor(np.array([2, -4])).reciprocal().data, [0.5, -0.25])


# ------------------------------------------------------------------ rounding: zero gradient
ROUNDING = ["sign", "floor", "ceil", "trunc", "round"]


@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_matches_numpy_and_its_gradient_is_exactly_zero(name):
    """Also at the jumps (integers, halves, 0) and for an infinite upstream gradient: zeros,
    not NaN (PyTorch's behaviour)."""
    x = np.array([-2.5, -1.5, -1.0, -0.5, -0.3, 0.0, 0.3, 0.5, 1.5, 2.5, 2.7])
    t = Tensor(x, requires_grad=True)
    out = getattr(t, name)()
    np.testing.assert_array_equal(out.data, getattr(np, name)(x))
    assert out.requires_grad  # recorded, as in PyTorch: the chain goes on with zeros
    out.backward(np.full(x.shape, np.inf))
    np.testing.assert_array_equal(t.grad, np.zeros_like(x))
    np.testing.assert_array_equal(getattr(tg, name)(x).data, out.data)


def test_round_goes_half_to_even_and_takes_decimals():
    np.testing.assert_array_equal(
        Tensor([0.5, 1.5, 2.5, -0.5, -2.5, 3.5]).round().data, [0.0, 2.0, 2.0, -0.0, -2.0, 4.0]
    )
    x = np.array([1.2345, -0.0551, 12.5])
    np.testing.assert_array_equal(Tensor(x).round(2).data, np.round(x, 2))
    np.testing.assert_array_equal(tg.round(x, decimals=-1).data, np.round(x, -1))


def test_rounding_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, -1.7, 1.2])
    for name in ROUNDING:
        expected = getattr(torch, name)(torch.tensor(x)).numpy()
        np.testing.assert_array_equal(getattr(Tensor(x), name)().data, expected)


@pytest.mark.parametrize("name", ROUNDING)
@given(data=st.data())
def test_rounding_matches_finite_differences_between_its_jumps(name, data):
    """Zero first and second derivatives agree with central differences 0.05 away from every
    jump (integers for floor/ceil/trunc, halves for round, 0 for sign)."""
    jumps = {"sign": (0.0,), "round": tuple(np.arange(-3.5, 4.0))}
    x = data.draw(arrays_away_from(shapes(), jumps.get(name, tuple(range(-3, 4))), margin=0.05))
    assert_grad_close(getattr(Tensor, name), x, seed=data.draw(seeds()), order=2)


def test_abs_still_differentiates_twice_through_the_zero_gradient_sign():
    x = Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    (g,) = tg.grad((x.abs() * x).sum(), [x], create_graph=True)  # d(x|x|) = 2|x|
    np.testing.assert_allclose(g.data, [4.0, 1.0, 6.0])
    (h,) = tg.grad(g.sum(), [x])  # d(2|x|) = 2 sign(x)
    np.testing.assert_allclose(h.data, [-2.0, 2.0, 2.0])


def test_bad_decimals_are_refused():
    with pytest.raises(DTypeError, match="round: decimals must be an int"):
        Tensor([1.5]).round(1.5)
    with pytest.raises(DTypeError, match="round: decimals must be an int"):
        Tensor([1.5]).round(True)


# ------------------------------------------------------------------ modulo
MODULO = {"remainder": (tg.remainder, np.remainder), "fmod": (tg.fmod, np.fmod)}


@pytest.mark.parametrize("name", list(MODULO))
@given(data=st.data())
def test_modulo_values_match_numpy_over_broadcast_shapes(name, data):
    function, oracle = MODULO[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(shape_a))
    b = data.draw(arrays_away_from(shape_b, kinks=(0.0,), margin=0.5))
    np.testing.assert_array_equal(function(Tensor(a), b).data, oracle(a, b))
    if name == "remainder":  # the operator forms: Tensor % x, x % Tensor, ndarray % Tensor
        b0 = float(b.flat[0])
        np.testing.assert_array_equal((Tensor(a) % Tensor(b)).data, np.remainder(a, b))
        np.testing.assert_array_equal((Tensor(a) % b0).data, np.remainder(a, b0))
        np.testing.assert_array_equal((a % Tensor(b)).data, np.remainder(a, b))
        np.testing.assert_array_equal((1.7 % Tensor(b)).data, np.remainder(1.7, b))


def test_modulo_signs_follow_numpy():
    a, b = np.array([5.5, -5.5, 5.5, -5.5]), np.array([2.0, 2.0, -2.0, -2.0])
    np.testing.assert_array_equal((Tensor(a) % b).data, [1.5, 0.5, -0.5, -1.5])  # divisor's
    np.testing.assert_array_equal(tg.fmod(a, b).data, [1.5, -1.5, 1.5, -1.5])  # dividend's


@st.composite
def _modulo_operands(draw, broadcast: str):
    """(a, b) whose quotients a / b sit between 0.1 and 0.9 past an integer, away from the
    jumps of a mod b; ``broadcast`` says which operand is the smaller, broadcast one. The other
    is built elementwise from the broadcast pair: a = b (q + f) or b = a / (q + f)."""
    small_shape, full_shape = draw(broadcastable_shapes())
    full = np.broadcast_shapes(small_shape, full_shape)
    q = draw(arrays(full, elements=st.integers(-3, 3).map(float)))
    f = draw(arrays(full, elements=floats(0.1, 0.9)))
    small = draw(arrays_away_from(small_shape, kinks=(0.0,), margin=0.5))
    if broadcast == "divisor":
        return small * (q + f), small
    return small, small / (q + f)


@pytest.mark.parametrize("broadcast", ["divisor", "dividend"])
@pytest.mark.parametrize("name", list(MODULO))
@given(data=st.data())
def test_modulo_matches_finite_differences_away_from_its_jumps(name, broadcast, data):
    function, _ = MODULO[name]
    a, b = data.draw(_modulo_operands(broadcast))
    assert_grad_close(function, a, b, seed=data.draw(seeds()), order=2)
    if name == "remainder":
        assert_grad_close(operator.mod, a, b, seed=data.draw(seeds()), order=2)


def test_modulo_gradients_are_one_and_minus_the_quotient_as_pytorch():
    torch = pytest.importorskip("torch")
    a = np.array([5.5, -5.5, 5.5, -5.5, 0.3])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.7])
    for ours, theirs in [(tg.remainder, torch.remainder), (tg.fmod, torch.fmod)]:
        ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
        ours(ta, tb).backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
        pa = torch.tensor(a, requires_grad=True)
        pb = torch.tensor(b, requires_grad=True)
        theirs(pa, pb).backward(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64))
        np.testing.assert_array_equal(ta.grad, pa.grad.numpy())
        np.testing.assert_array_equal(tb.grad, pb.grad.numpy())


def test_integer_modulo_keeps_the_dtype():
    a, b = np.arange(-5, 5), np.array([3, -3]).repeat(5)
    out = Tensor(a) % Tensor(b)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.remainder(a, b))
    np.testing.assert_array_equal(tg.fmod(Tensor(a), b).data, np.fmod(a, b))


def test_modulo_refuses_shapes_that_do_not_broadcast_and_non_numbers():
    with pytest.raises(ShapeError, match=r"remainder: shapes \(2, 3\) and \(4,\)"):
        Tensor(np.ones((2, 3))) % Tensor(np.ones(4))
    with pytest.raises(ShapeError, match="fmod"):
        tg.fmod(np.ones((2, 3)), np.ones(4))
    with pytest.raises(DTypeError, match="string"):
        Tensor([1.0]) % "2"
