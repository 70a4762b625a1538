"""Closed-form gradients from the seed reports, as property tests.

Each test computes the textbook formula by hand in float64 and compares it with the tape.
Both sides are a handful of float64 roundings of O(1) quantities, so they agree to ~1e-15;
rtol 1e-10 / atol 1e-12 leaves a wide margin and still catches any wrong constant or sign.
Every backward starts from a random upstream gradient (a scalar g for a scalar loss), so a
formula that is right only for g = 1 fails.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_hw import Tensor, ops
from tinygrad_hw.testing import arrays, evaluate_primitive, floats, shapes

TOL = {"rtol": 1e-10, "atol": 1e-12}
upstream = floats(-2.0, 2.0).filter(lambda g: abs(g) > 0.1)  # nonzero: g = 0 would hide all


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@st.composite
def classification_batch(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) logits in [-3, 3] and N labels in [0, K), N in 1..5, K in 2..5."""
    n, k = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return draw(arrays((n, k))), labels


@given(batch=classification_batch(), g=upstream)
def test_mean_softmax_cross_entropy_gradient_is_softmax_minus_onehot_over_n(batch, g):
    """L = -(1/N) sum_i log softmax(z_i)[y_i]  =>  dL/dz = (softmax(z) - onehot(y)) / N,
    from composed Tensor ops and from the fused op alike."""
    logits, labels = batch
    n, k = logits.shape
    expected = g * (_softmax_rows(logits) - np.eye(k)[labels]) / n

    z = Tensor(logits, requires_grad=True)
    loss = -(z.log_softmax(axis=1)[np.arange(n), labels]).mean()
    loss.backward(np.array(g))
    np.testing.assert_allclose(z.grad, expected, **TOL)

    _, (grad_logits,) = evaluate_primitive(
        ops.cross_entropy_labels, [logits], g, labels=labels, reduction="mean"
    )
    np.testing.assert_allclose(grad_logits, expected, **TOL)


@given(z=arrays(shapes(min_dims=1, max_dims=1, max_side=6)))
def test_softmax_jacobian_is_diag_p_minus_p_p_transpose(z):
    """Row i of the Jacobian is the gradient of p_i: backpropagate each basis vector e_i
    through the same graph (retain_graph) and compare with diag(p) - p p^T."""
    x = Tensor(z, requires_grad=True)
    p = x.softmax()
    rows = []
    for i in range(len(z)):
        x.grad = None
        p.backward(np.eye(len(z))[i], retain_graph=True)
        rows.append(x.grad)
    q = _softmax_rows(z)
    np.testing.assert_allclose(np.stack(rows), np.diag(q) - np.outer(q, q), **TOL)


@given(data=st.data())
def test_sigmoid_derivative_is_s_times_one_minus_s(data):
    x = data.draw(arrays(shapes()))
    g = data.draw(arrays(x.shape))
    t = Tensor(x, requires_grad=True)
    t.sigmoid().backward(g)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(t.grad, g * s * (1 - s), **TOL)


@st.composite
def logistic_regression_batch(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (N, D) in [-1, 1], w (D,) in [-0.5, 0.5] (so |Xw| <= 2 and log(1 - yhat) stays
    accurate in the composed loss), labels y in {0, 1}."""
    n, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    x = draw(arrays((n, d), elements=floats(-1.0, 1.0)))
    w = draw(arrays((d,), elements=floats(-0.5, 0.5)))
    y = draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([0.0, 1.0])))
    return x, w, y


@pytest.mark.filterwarnings("ignore:log of a sigmoid")  # the report's formula, on purpose
@given(batch=logistic_regression_batch(), g=upstream)
def test_logistic_regression_gradient_is_x_transpose_times_yhat_minus_y_over_n(batch, g):
    """L = mean BCE(sigmoid(Xw), y)  =>  dL/dw = X^T (yhat - y) / N, from the composed
    sigmoid and log ops and from the fused BCE-with-logits op."""
    x, w, y = batch
    yhat = 1 / (1 + np.exp(-(x @ w)))
    expected = g * x.T @ (yhat - y) / len(y)

    weights = Tensor(w, requires_grad=True)
    p = (Tensor(x) @ weights).sigmoid()
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    loss.backward(np.array(g))
    np.testing.assert_allclose(weights.grad, expected, **TOL)

    _, (grad_logits, _) = evaluate_primitive(ops.bce_with_logits, [x @ w, y], g, reduction="mean")
    np.testing.assert_allclose(x.T @ grad_logits, expected, **TOL)


@given(w=arrays(shapes(min_dims=1)), lam=floats(0.0, 1.0), g=upstream)
def test_l2_penalty_gradient_is_lambda_w(w, lam, g):
    """d/dW (lambda / 2) ||W||^2 = lambda W, written with ** 2 and with W * W."""
    for penalty in (lambda t: (t**2).sum() * (lam / 2), lambda t: lam / 2 * (t * t).sum()):
        weights = Tensor(w, requires_grad=True)
        penalty(weights).backward(np.array(g))
        np.testing.assert_allclose(weights.grad, g * lam * w, **TOL)
