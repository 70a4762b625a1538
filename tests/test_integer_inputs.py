"""Integer and bool tensors fed to real-valued ops are computed in float64, never wrapped.

numpy computes exp of a uint8 array in float16 (exp(100) = inf) and negates a uint8 with
wrap-around, so sigmoid(uint8 100) came out as 0 and int8 softmax as float16: silent wrong
answers on the first thing a user feeds in (``load_idx`` returns uint8). ``apply`` now hands
every op that declares ``needs_float`` its integer inputs as float64; the reference here is
numpy on the float64 copy of the same integers, which holds them exactly.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor, ops
from tinygrad_hw.nn import functional as F

INTEGER_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.uint16, np.int64, np.bool_]

# Tensor methods of real-valued ops, with an input range inside their domain (arcsin and
# arctanh need |x| <= 1 / < 1, log-like ops x > 0): integers there are 0, 1 (and -1).
METHODS = {
    "exp": None,
    "log": (1, 100),
    "sqrt": (0, 100),
    "sigmoid": None,
    "tanh": None,
    "sin": None,
    "cos": None,
    "tan": None,
    "arctan": None,
    "sinh": (-50, 50),
    "cosh": (-50, 50),
    "log1p": (0, 100),
    "expm1": None,
    "exp2": None,
    "log2": (1, 100),
    "log10": (1, 100),
    "reciprocal": (1, 100),
    "erf": None,
    "erfc": None,
    "softplus": None,
    "gelu": None,
    "silu": None,
    "elu": None,
    "softmax": None,
    "log_softmax": None,
    "logsumexp": None,
}


def integer_arrays(dtype, bounds):
    info = np.iinfo(dtype) if dtype is not np.bool_ else None
    if info is None:
        return hnp.arrays(np.bool_, hnp.array_shapes(min_dims=1, max_dims=2, max_side=5))
    lo, hi = bounds if bounds is not None else (info.min, info.max)
    lo, hi = max(lo, info.min), min(hi, info.max)
    elements = st.integers(int(lo), int(hi))
    return hnp.arrays(
        dtype, hnp.array_shapes(min_dims=1, max_dims=2, max_side=5), elements=elements
    )


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=lambda d: np.dtype(d).name)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_real_valued_ops_compute_integers_in_float64(method, dtype, data):
    if dtype is np.bool_ and METHODS[method] is not None and METHODS[method][0] > 0:
        return  # log of False is -inf either way; the promotion is checked by the others
    x = data.draw(integer_arrays(dtype, METHODS[method]))
    with np.errstate(all="ignore"):
        got = getattr(Tensor(x), method)()
        want = getattr(Tensor(x.astype(np.float64)), method)()
    assert got.dtype == np.float64
    # the same float64 arithmetic on the same (exactly representable) values: equal bits
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64])
def test_sigmoid_of_large_unsigned_values_is_one_not_zero(dtype):
    """uint8 -x wrapped: sigmoid(100) was e^-156-ish. The exact value is 1 - e^-100."""
    y = Tensor(np.array([0, 100, 200], dtype)).sigmoid().data
    np.testing.assert_allclose(y, [0.5, 1.0, 1.0], rtol=1e-15)


def test_exp_of_uint8_is_finite_and_exact_to_float64_rounding():
    """float16 overflows at 65504, so numpy's exp(uint8 100) is inf; e^100 ~ 2.7e43."""
    y = Tensor(np.array([100, 255], np.uint8)).exp().data
    np.testing.assert_allclose(y, [math.exp(100), math.exp(255)], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.bool_])
def test_softmax_of_small_integers_is_float64_and_sums_to_one(dtype):
    x = np.array([[0, 1, 1, 0], [1, 1, 0, 0]], dtype)
    for fn in (lambda t: t.softmax(1), lambda t: t.softmax(-1)):
        y = fn(Tensor(x))
        assert y.dtype == np.float64
        y = y.numpy()
        e = math.e
        np.testing.assert_allclose(y[0], np.array([1, e, e, 1]) / (2 + 2 * e), rtol=1e-15)
        np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-15)


def test_mnist_style_uint8_pixels_through_a_float_model_give_the_float_answer():
    pixels = np.random.default_rng(0).integers(0, 256, (4, 6)).astype(np.uint8)
    w = Tensor(np.random.default_rng(1).standard_normal((6, 3)), requires_grad=True)
    got = (tg.Tensor(pixels).sigmoid() @ w).log_softmax(1)
    want = (tg.Tensor(pixels.astype(np.float64)).sigmoid() @ w).log_softmax(1)
    np.testing.assert_array_equal(got.data, want.data)
    got.sum().backward()
    assert w.grad is not None and np.isfinite(w.grad).all()


@pytest.mark.skipif(
    tg.default_device() == "array_api_strict",
    reason="mixed integer and float operands: numpy's promotion, which the array API standard "
    "leaves unspecified (array-api-strict's logaddexp refuses a uint8 beside a float32)",
)
def test_a_float_input_keeps_its_dtype_beside_an_integer_one():
    """Only all-integer inputs are promoted: float32 stays float32 (numpy's rule)."""
    a = Tensor(np.array([1.0, 2.0], np.float32))
    b = Tensor(np.array([3, 4], np.uint8))
    assert tg.apply(ops.logaddexp, a, b).dtype == np.float32


def test_integer_arithmetic_keeps_numpy_integer_semantics():
    """+, -, *, @ on integers are integer maths, as in numpy and PyTorch (uint8 wraps)."""
    a = np.array([200, 100], np.uint8)
    np.testing.assert_array_equal((Tensor(a) * Tensor(a)).data, a * a)
    assert (Tensor(a) + Tensor(a)).dtype == np.uint8


def test_every_real_valued_primitive_declares_needs_float():
    flagged = {name for name in dir(ops) if getattr(getattr(ops, name), "needs_float", False)}
    expected = {m for m in METHODS if hasattr(ops, m)} | {"gelu_tanh", "logaddexp", "standardize"}
    assert expected <= flagged, expected - flagged
    arithmetic = {"add", "sub", "mul", "neg", "matmul", "sum", "max", "abs", "sign", "floor"}
    assert not (flagged & arithmetic)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.bool_])
def test_the_nn_activations_and_losses_refuse_integers_by_name(dtype):
    """nn.functional refuses instead (a layer's input is meant to be float already)."""
    x = Tensor(np.ones((2, 3), dtype))
    with pytest.raises(tg.errors.DTypeError, match=np.dtype(dtype).name):
        F.softmax(x, axis=1)
    with pytest.raises(tg.errors.DTypeError, match=np.dtype(dtype).name):
        F.cross_entropy(x, np.array([0, 1]))
