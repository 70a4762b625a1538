"""Inputs that used to give a number instead of an error or the right number.

cross_entropy read integer labels of the logits' shape as probabilities (a loss of 0.0 for a
row whose label is 0) and took NaN or negative probabilities; Adam with float16 parameters
(its default eps=1e-8 rounds to 0 there) or eps=0 turned a zero gradient into 0/0 = NaN.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_hw import Tensor, optim
from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.nn import functional as F


def logits(n: int = 3, k: int = 4) -> Tensor:
    return Tensor(np.random.default_rng(0).standard_normal((n, k)), requires_grad=True)


# --------------------------------------------------------------------------- cross_entropy
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_cross_entropy_refuses_integer_targets_of_the_logits_shape(dtype):
    one_hot = np.eye(4, dtype=dtype)[[0, 2, 1]]
    with pytest.raises(DTypeError, match=rf"shape \(3, 4\).*{np.dtype(dtype).name}.*labels"):
        F.cross_entropy(logits(), one_hot)
    # the float version of the same rows is accepted and equals the label form
    want = F.cross_entropy(logits(), np.array([0, 2, 1])).data
    got = F.cross_entropy(logits(), one_hot.astype(np.float64)).data
    np.testing.assert_allclose(got, want, rtol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    row=st.integers(0, 2),
    col=st.integers(0, 3),
    bad=st.sampled_from([np.nan, -np.inf, np.inf, -0.5, -1e-300, -7.0]),
)
def test_cross_entropy_refuses_nan_infinite_and_negative_targets(row, col, bad):
    targets = np.full((3, 4), 0.25)
    targets[row, col] = bad
    for given_as in (targets, Tensor(targets), Tensor(targets, requires_grad=True)):
        with pytest.raises(
            ArgumentError, match=r"cross_entropy: targets .* finite and >= 0, got (nan|-?inf|-)"
        ):
            F.cross_entropy(logits(), given_as)


@settings(max_examples=30, deadline=None)
@given(raw=hnp.arrays(np.float64, (3, 4), elements=st.floats(0, 2)))
def test_cross_entropy_accepts_every_finite_non_negative_target(raw):
    loss = F.cross_entropy(logits(), raw)
    z = logits().data
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.data, -(raw * log_p).sum(1).mean(), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- Adam's eps
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("eps", [0.0, 1e-8, 1e-3])
def test_adam_leaves_a_zero_gradient_entry_alone_in_every_dtype(cls, dtype, eps):
    w = Tensor(np.array([1.0, -2.0, 0.5], dtype), requires_grad=True)
    opt = cls([w], lr=0.1, eps=eps, weight_decay=0.0)
    for grad in ([0.0, 0.0, 0.0], [0.0, 1.0, -3.0], [0.0, 0.0, 0.0]):
        w.grad = np.array(grad, dtype)
        opt.step()
        assert np.isfinite(w.data).all(), (dtype, eps, w.data)
    assert w.data[0] == dtype(1.0)  # its gradient was always 0: it never moved
    assert w.dtype == dtype


@settings(max_examples=40, deadline=None)
@given(
    grads=hnp.arrays(
        np.float16, (3, 5), elements=st.sampled_from([0.0, 1e-7, -1e-4, 0.01, -1.0, 30.0])
    ),
    eps=st.sampled_from([0.0, 1e-12, 1e-8]),
)
def test_adam_float16_steps_stay_finite_and_bounded(grads, eps):
    """Adam's step is about lr per entry (|m_hat| / sqrt(v_hat) <= ~1/sqrt(1-beta2)); with
    eps at least float16's smallest normal (6.1e-5) no step is NaN or blows up."""
    w = Tensor(np.zeros(5, np.float16), requires_grad=True)
    opt = optim.Adam([w], lr=0.01, eps=eps)
    for g in grads:
        w.grad = g.copy()
        opt.step()
    assert np.isfinite(w.data).all()
    assert np.abs(w.data.astype(np.float64)).max() <= 3 * 0.01 * len(grads) * 1.01


@settings(max_examples=30, deadline=None)
@given(
    grads=hnp.arrays(
        np.float16,
        (4, 3),
        elements=st.floats(0.5, 4000.0, width=16).flatmap(lambda m: st.sampled_from([m, -m])),
    )
)
def test_adam_float16_with_large_gradients_moves_as_float64_adam(grads):
    """float16 gradients up to 4000 (d^2 up to 1.6e7, far past float16's 65504): v is built as
    ((1 - beta2) d) d, so it stays finite and the steps follow float64 Adam's on the same
    gradients to float16's precision (a step is ~lr; 2e-3 relative covers the roundings of
    the ~10 float16 operations of a step, each within 2^-11). Below |d| ~ 0.25, (1 - beta2) d^2
    is under float16's smallest normal, whatever the order: float16 moments lose small
    gradients (the bounded-step test above covers those)."""
    w16 = Tensor(np.zeros(3, np.float16), requires_grad=True)
    w64 = Tensor(np.zeros(3), requires_grad=True)
    opt16, opt64 = optim.Adam([w16], lr=0.01), optim.Adam([w64], lr=0.01)
    for g in grads:
        w16.grad, w64.grad = g.copy(), g.astype(np.float64)
        opt16.step()
        opt64.step()
        assert np.isfinite(opt16.state[0]["v"]).all()
    np.testing.assert_allclose(w16.data, w64.data, rtol=2e-3, atol=2e-4)


def test_adam_with_default_eps_matches_torch_in_float64():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    start = rng.standard_normal(4)
    w = Tensor(start.copy(), requires_grad=True)
    tw = torch.tensor(start.copy(), requires_grad=True)
    ours, theirs = optim.Adam([w], lr=0.1), torch.optim.Adam([tw], lr=0.1)
    for _ in range(3):
        g = rng.standard_normal(4) * (rng.random(4) > 0.5)  # zeros among them
        w.grad, tw.grad = g.copy(), torch.tensor(g.copy())
        ours.step()
        theirs.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-13)
