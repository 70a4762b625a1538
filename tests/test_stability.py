"""Numerical stability: the softmax family, sigmoid and the fused losses at |x| ~ 1e4.

Inputs are drawn in [-1e4, 1e4] (extremes included) in float32 and float64. Every op runs
with overflow, division by zero and invalid operations raised as errors, and any warning an
error; underflow is allowed, because e^(x - max) flushing to 0 for far-below-max entries is
the intended result. Values are compared with a float64 reference written out here in the
stable form (max + log sum exp(x - max), softplus(z) = max(z, 0) + log1p(e^-|z|)).

Tolerances per dtype (eps = machine epsilon: 1.2e-7 float32, 2.2e-16 float64):
  - log-space results (logsumexp, log_softmax, losses) are sums and differences of the
    inputs, so they carry a few ulps of the largest input: atol 16 eps max(1, |x|);
  - probabilities and gradients in [-1, 1] are formed from exps of those differences, whose
    rounding (at most 16 eps max(1, |x|) in the exponent; exp' <= 1 where it matters) bounds
    their error the same way, capped at 1e-2 (a float32 worst case at 1e4 is ~2e-2 * p).
The float32 bound is loose by design: these tests catch overflow, NaN and a wrong formula
(errors of O(1)), not the last bits.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor, ops
from tinygrad_hw.testing import arrays, evaluate_primitive, floats, shapes

BIG = 1e4
DTYPES = [np.float32, np.float64]


@contextmanager
def strict_floating_point() -> Iterator[None]:
    """Overflow, divide-by-zero, invalid and any warning raise; underflow to 0 is allowed."""
    with (
        np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        yield


def big_arrays(shape, dtype) -> st.SearchStrategy[np.ndarray]:
    return arrays(shape, dtype, floats(-BIG, BIG, dtype))


def tolerance(x: np.ndarray) -> float:
    """Absolute tolerance: 16 ulps of the largest input magnitude (see the module docstring)."""
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    return 16 * float(np.finfo(x.dtype).eps) * scale


def ref_logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """Stable float64 reference: m + log sum exp(x - m), m the maximum."""
    x = x.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def ref_softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), in float64."""
    z = z.astype(np.float64)
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype, atol: float) -> None:
    """Same dtype as the inputs, finite, and within atol of the float64 reference."""
    actual = np.asarray(actual)
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {np.dtype(dtype)}"
    assert np.isfinite(actual).all()
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_softmax_family_at_1e4_is_finite_and_matches_a_stable_reference(dtype, data):
    x = data.draw(big_arrays(shapes(min_dims=1), dtype))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    g = data.draw(arrays(x.shape, dtype))
    lse = ref_logsumexp(x, axis)
    p = np.exp(x.astype(np.float64) - lse)
    atol, prob_atol = tolerance(x), min(tolerance(x), 1e-2)
    with strict_floating_point():
        t = Tensor(x, requires_grad=True)
        assert_close(t.logsumexp(axis=axis).data, np.squeeze(lse, axis), dtype, atol)
        assert_close(t.softmax(axis=axis).data, p, dtype, prob_atol)
        out = t.log_softmax(axis=axis)
        assert_close(out.data, x - lse, dtype, atol)
        out.backward(g)  # d log_softmax: g - p sum(g)
    expected_grad = g - p * np.sum(g, axis=axis, keepdims=True, dtype=np.float64)
    assert_close(t.grad, expected_grad, dtype, prob_atol * (1 + np.sum(np.abs(g))))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_sigmoid_at_1e4_is_finite_with_derivative_s_times_one_minus_s(dtype, data):
    x = data.draw(big_arrays(shapes(), dtype))
    g = data.draw(arrays(x.shape, dtype))
    s = np.exp(-ref_softplus(-x))  # 1 / (1 + e^-x) without overflow
    with strict_floating_point():
        t = Tensor(x, requires_grad=True)
        out = t.sigmoid()
        out.backward(g)
    assert_close(out.data, s, dtype, min(tolerance(x), 1e-2))
    assert_close(t.grad, g * s * (1 - s), dtype, min(tolerance(x), 1e-2))


@st.composite
def big_logits_and_labels(draw: st.DrawFn, dtype) -> tuple[np.ndarray, np.ndarray]:
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return draw(big_arrays((n, k), dtype)), labels


@pytest.mark.parametrize("dtype", DTYPES)
@given(drawn=st.data())
def test_fused_cross_entropy_at_1e4_is_finite_with_gradient_p_minus_y(dtype, drawn):
    """Mean loss -log p[y] = lse(z) - z_y; its gradient is exactly (p - onehot(y)) / N."""
    logits, labels = drawn.draw(big_logits_and_labels(dtype))
    n, k = logits.shape
    lse = ref_logsumexp(logits, axis=1)[:, 0]
    p = np.exp(logits.astype(np.float64) - lse[:, None])
    onehot = np.eye(k)[labels]
    with strict_floating_point():
        loss, (dz,) = evaluate_primitive(
            ops.cross_entropy_labels, [logits], 1.0, labels=labels, reduction="mean"
        )
        loss_t, (dz_t, _) = evaluate_primitive(
            ops.cross_entropy_targets, [logits, onehot.astype(dtype)], 1.0, reduction="mean"
        )
    expected_loss = np.mean(lse - logits[np.arange(n), labels])
    assert_close(loss, expected_loss, dtype, tolerance(logits))
    assert_close(loss_t, expected_loss, dtype, tolerance(logits))
    prob_atol = min(tolerance(logits), 1e-2) / n
    assert_close(dz, (p - onehot) / n, dtype, prob_atol)
    assert_close(dz_t, (p - onehot) / n, dtype, prob_atol)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_composed_cross_entropy_at_1e4_is_finite_with_gradient_p_minus_y(dtype, data):
    """The same loss built from Tensor ops: log_softmax, indexing, mean."""
    logits, labels = data.draw(big_logits_and_labels(dtype))
    n, k = logits.shape
    lse = ref_logsumexp(logits, axis=1)
    p = np.exp(logits.astype(np.float64) - lse)
    with strict_floating_point():
        z = Tensor(logits, requires_grad=True)
        (-(z.log_softmax(axis=1)[np.arange(n), labels]).mean()).backward()
    assert_close(z.grad, (p - np.eye(k)[labels]) / n, dtype, min(tolerance(logits), 1e-2) / n)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_bce_with_logits_at_1e4_is_finite_with_gradient_s_minus_t(dtype, data):
    """Mean of softplus(z) - t z (never log(0)); gradient (sigmoid(z) - t) / size."""
    z = data.draw(big_arrays(shapes(), dtype))
    t = data.draw(arrays(z.shape, dtype, floats(0.0, 1.0, dtype)))
    with strict_floating_point():
        loss, (dz, dt) = evaluate_primitive(ops.bce_with_logits, [z, t], 1.0, reduction="mean")
    z64, t64 = z.astype(np.float64), t.astype(np.float64)
    assert_close(loss, np.mean(ref_softplus(z64) - t64 * z64), dtype, tolerance(z))
    s = np.exp(-ref_softplus(-z64))
    assert_close(dz, (s - t64) / z.size, dtype, min(tolerance(z), 1e-2) / z.size)
    assert_close(dt, -z64 / z.size, dtype, tolerance(z) / z.size)


def test_the_strict_mode_catches_a_naive_softmax_at_1e4():
    """The harness above can fail: e^1e4 overflows, and the check turns that into an error."""
    x = np.array([BIG, 0.0])
    with pytest.raises(FloatingPointError), strict_floating_point():
        np.exp(x) / np.sum(np.exp(x))


FLOAT32_OPS = {
    "scalar": lambda t: (2.0 * t - 1.5) / 3.0 + t**2.0,
    "float64 ndarray": lambda t: np.ones(t.shape) * t + t / np.full(t.shape, 2.0),
    "reductions": lambda t: t.sum(axis=0) + t.mean() - t.max() + t.logsumexp(axis=0),
    "unary": lambda t: t.exp().log() + t.tanh() + t.sigmoid() + t.abs().sqrt() + t.relu(),
    "softmax": lambda t: t.softmax(axis=0) + t.log_softmax(axis=-1) + t.clip(-1.0, 1.0),
    "shaping": lambda t: (t.reshape(-1)[::-1].reshape(t.shape) + t.T.T)[np.array([0, 0])],
    "matmul float64": lambda t: t @ np.ones((3, 2)) + np.ones(2) @ (t @ np.ones(3)),
}


@pytest.mark.parametrize("name", list(FLOAT32_OPS))
def test_float32_stays_float32_through_ops_and_gradients(name):
    """Python floats and float64 arrays used as constants must not upcast a float32 model
    (memory and speed double otherwise); the gradient is float32 and near the float64 one."""
    x = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3))
    grads = {}
    for dtype in DTYPES:
        t = Tensor(x.astype(dtype), requires_grad=True)
        out = FLOAT32_OPS[name](t)
        assert out.dtype == dtype, f"{name}: {np.dtype(dtype)} in, {out.dtype} out"
        out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(dtype))
        grads[dtype] = t.grad
    assert grads[np.float32].dtype == np.float32
    # float32 rounding of O(1) values through ~10 ops: 1e-5 is ~100 eps32
    np.testing.assert_allclose(grads[np.float32], grads[np.float64], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_and_logaddexp_gradients_at_1e4_are_the_exact_softmax_weights(dtype):
    """At a two-way tie the weights are 1/2 exactly, which a vjp written as exp(x - out) misses
    by ~1e-4 in float32 (out = 1e4 + log 2 is rounded to float32's 1e-3 spacing there)."""
    x = Tensor(np.array([[1e4, 1e4, -1e4], [-1e4, 1e4, 1e4 - 1.0]], dtype=dtype), True)
    x.logsumexp(axis=1).sum().backward()
    second = np.array([1.0, np.exp(-1.0)]) / (1.0 + np.exp(-1.0))
    np.testing.assert_allclose(x.grad, [[0.5, 0.5, 0.0], [0.0, *second]], rtol=1e-6, atol=1e-30)
    a = Tensor(np.array([1e4, -1e4, 1e4], dtype=dtype), requires_grad=True)
    b = Tensor(np.array([1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    out = tg.logaddexp(a, b)
    assert out.dtype == dtype and np.all(np.isfinite(out.data))
    out.sum().backward()
    np.testing.assert_allclose(a.grad, [0.5, 0.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(b.grad, [0.5, 1.0, 0.0], rtol=1e-6)
