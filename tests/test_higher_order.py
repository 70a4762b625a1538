"""The primitive contract's second order: tinygrad_hw.grad, create_graph, tinygrad_hw.func and
gradgradcheck, against closed forms and finite differences (float64).

Tolerances: gradgradcheck compares a second derivative with central differences (eps 1e-6) of
a first-order tape gradient; for values in [-3, 3] that error is ~1e-9, far under atol 1e-5.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.nn import functional as F
from tinygrad_hw.testing import arrays, broadcastable_shapes, positive_arrays, shapes

TOL = {"rtol": 1e-9, "atol": 1e-12}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


SMOOTH_UNARY = {
    "exp": lambda t: t.exp(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "softmax": lambda t: t.softmax(axis=-1) if t.ndim else t.exp(),
    "log_softmax": lambda t: t.log_softmax(axis=-1) if t.ndim else t.exp(),
    "logsumexp": lambda t: t.logsumexp(axis=-1) if t.ndim else t.exp(),
    "square": lambda t: t * t,
    "sum_mean": lambda t: (t * t).sum() + (t * t).mean(),
}


@pytest.mark.parametrize("name", list(SMOOTH_UNARY))
@given(x=arrays(shapes(max_dims=2)))
def test_second_derivatives_of_smooth_ops_match_finite_differences(name, x):
    assert tg.gradgradcheck(SMOOTH_UNARY[name], Tensor(x, requires_grad=True))


@given(x=positive_arrays(shapes(max_dims=2)))
def test_second_derivatives_of_log_sqrt_and_div_match_finite_differences(x):
    t = Tensor(x, requires_grad=True)
    assert tg.gradgradcheck(lambda t: t.log() + t.sqrt() + 1.0 / t, t)


@given(data=st.data())
def test_second_derivatives_of_broadcast_binary_ops_match_finite_differences(data):
    shape_a, shape_b = data.draw(broadcastable_shapes(max_dims=2, max_side=3))
    a = Tensor(data.draw(positive_arrays(shape_a)), requires_grad=True)
    b = Tensor(data.draw(arrays(shape_b)), requires_grad=True)
    assert tg.gradgradcheck(lambda a, b: a * b + a / (b * b + 1.0) + a**b - b, a, b)


@given(data=st.data())
def test_second_derivatives_of_matmul_and_linear_match_finite_differences(data):
    x = Tensor(data.draw(arrays((3, 2))), requires_grad=True)
    w = Tensor(data.draw(arrays((2, 4))), requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: (x @ w).tanh(), x, w)


# Piecewise-linear ops: their vjps multiply g by a mask, a tie share or a selection that is
# constant in x, so the second derivative is exactly 0 where it exists, and the tape defines it
# as 0 at kinks and ties too (as PyTorch does). gradgradcheck away from kinks is in the op tests
# (order=2); here values are drawn from a grid that hits the kinks (0, clip's +-0.5) and ties.
PIECEWISE_LINEAR = {
    "relu": lambda t: t.relu(),
    "abs": lambda t: t.abs(),
    "clip": lambda t: t.clip(-0.5, 0.5),
    "max": lambda t: t.max(axis=-1) if t.ndim else t.max(),
    "min": lambda t: t.min(axis=0) if t.ndim else t.min(),
    "getitem": lambda t: t.reshape(-1)[np.array([0, 0, -1])],
    "where": lambda t: tg.where(t.data > 0, t, 3.0 * t),
    "concatenate": lambda t: tg.concatenate([t.reshape(-1), -t.reshape(-1)]),
    "stack": lambda t: tg.stack([t, 2.0 * t], axis=-1),
}
GRID = st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0])


@pytest.mark.parametrize("name", list(PIECEWISE_LINEAR))
@given(data=st.data())
def test_piecewise_linear_ops_have_a_zero_hessian_even_at_kinks_and_ties(name, data):
    x = data.draw(arrays(shapes(max_dims=2), elements=GRID))
    op = PIECEWISE_LINEAR[name]
    weights = Tensor(data.draw(arrays(op(Tensor(x)).shape)))
    hessian = tg.func.hessian(lambda t: (op(t) * weights).sum(), x)
    assert hessian.shape == x.shape + x.shape
    np.testing.assert_array_equal(hessian.data, np.zeros(x.shape + x.shape))


def test_gradgradcheck_rejects_a_vjp_that_detaches_its_saved_output():
    """exp whose vjp uses the saved output as a constant: right to first order only."""
    detached = tg.primitive(
        "detached_exp",
        lambda xp, x: xp.exp(x),
        [lambda xp, g, out, x: g * getattr(out, "data", out)],
        saves_out=True,
    )
    x = Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    assert tg.gradcheck(lambda t: tg.apply(detached, t), x)
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(lambda t: tg.apply(detached, t), x)


@given(z=arrays(shapes(min_dims=1, max_dims=1, max_side=5)))
def test_jacobian_of_softmax_and_hessian_of_logsumexp_are_diag_p_minus_p_pt(z):
    p = _softmax(z)
    expected = np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(tg.func.jacobian(lambda t: t.softmax(), z).data, expected, **TOL)
    np.testing.assert_allclose(tg.func.hessian(lambda t: t.logsumexp(), z).data, expected, **TOL)


@given(data=st.data())
def test_hessian_of_mean_cross_entropy_is_block_diagonal(data):
    n, k = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
    z = data.draw(arrays((n, k)))
    labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    for target in (labels, np.eye(k)[labels]):
        h = tg.func.hessian(lambda t, target=target: F.cross_entropy(t, target), z).data
        for i in range(n):
            for j in range(n):
                p = _softmax(z[i])
                block = (np.diag(p) - np.outer(p, p)) / n if i == j else np.zeros((k, k))
                np.testing.assert_allclose(h[i, :, j, :], block, rtol=1e-9, atol=1e-12)


@given(data=st.data())
def test_hessian_of_logistic_regression_and_l2(data):
    n, d = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    x, w = data.draw(arrays((n, d))), data.draw(arrays((d,)))
    y = (data.draw(arrays((n,))) > 0).astype(np.float64)
    h = tg.func.hessian(lambda w: F.binary_cross_entropy_with_logits(Tensor(x) @ w, y), w)
    s = 1 / (1 + np.exp(-(x @ w)))
    np.testing.assert_allclose(h.data, x.T @ np.diag(s * (1 - s)) @ x / n, **TOL)
    lam = 0.7
    h2 = tg.func.hessian(lambda w: F.l2_penalty(w, lam / 2), w)
    np.testing.assert_allclose(h2.data, lam * np.eye(d), **TOL)


@given(data=st.data())
def test_hvp_of_a_quadratic_and_jvp_inner_product_identity(data):
    k = data.draw(st.integers(1, 4))
    a, x, v = data.draw(arrays((k, k))), data.draw(arrays((k,))), data.draw(arrays((k,)))
    _, hv = tg.func.hvp(lambda x: 0.5 * (x @ (Tensor(a) @ x)), x, v)
    np.testing.assert_allclose(hv.data, (a + a.T) / 2 @ v, **TOL)
    u = data.draw(arrays((k,)))

    def f(t):
        return (Tensor(a) @ t).tanh() * t

    _, jv = tg.func.jvp(f, (x,), (v,))
    _, pullback = tg.func.vjp(f, x)
    (jtu,) = pullback(u)
    np.testing.assert_allclose(np.dot(jv.data, u), np.dot(v, jtu.data), rtol=1e-9, atol=1e-12)


def test_grad_leaves_dot_grad_alone_and_names_an_unused_input():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = Tensor(np.array([3.0]), requires_grad=True)
    (gx,) = tg.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    assert x.grad is None
    with pytest.raises(tg.GraphError, match=r"inputs\[1\]"):
        tg.grad((x * x).sum(), [x, z])
    assert tg.grad((x * x).sum(), [x, z], allow_unused=True)[1] is None


def test_grad_of_an_intermediate_tensor():
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    h = x.exp()
    (gh,) = tg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, 2 * np.exp(x.data), **TOL)


def test_backward_create_graph_gives_a_differentiable_grad_tensor():
    """A gradient penalty: d/dx sum((d/dx sum x^3)^2) = d/dx sum(9 x^4) = 36 x^3."""
    x = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad, 3 * x.data**2)
    penalty = (x.grad_tensor * x.grad_tensor).sum()
    x.grad = None
    penalty.backward()
    np.testing.assert_allclose(x.grad, 36 * x.data**3, **TOL)


def test_a_user_primitive_works_with_gradcheck_gradgradcheck_and_anomaly_mode():
    cube = tg.primitive("cube", lambda xp, x: x**3, [lambda xp, g, out, x: 3.0 * x * x * g])
    x = Tensor(np.array([0.4, -1.5, 2.0]), requires_grad=True)
    assert tg.gradcheck(lambda t: tg.apply(cube, t), x)
    assert tg.gradgradcheck(lambda t: tg.apply(cube, t), x)
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="cube"):
        tg.apply(cube, Tensor(np.array([np.inf])))
    with pytest.raises(tg.ArgumentError, match="cube takes 1"):
        tg.apply(cube, x, x)


def test_no_grad_is_per_thread():
    import threading

    x = Tensor(np.ones(2), requires_grad=True)
    inside, release = threading.Event(), threading.Event()

    def evaluator():
        with tg.no_grad():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=evaluator)
    thread.start()
    inside.wait(5)
    y = (x * 2).sum()  # recorded in this thread while the other is under no_grad
    release.set()
    thread.join()
    assert y.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])
