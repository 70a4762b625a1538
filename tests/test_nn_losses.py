"""nll_loss, cross_entropy's weight/ignore_index/label_smoothing, reduction="none" for every
loss, and the functional activations and dropout.

Gradients: float64 central differences, first and second order, at the tolerances of
tinygrad_hw.testing. Values: float64 oracles written out here (rtol 1e-12), and
torch.nn.functional when installed (rtol 1e-10: both sides round differently, ~1e-15).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_hw import ArgumentError, DTypeError, ShapeError, Tensor, nn
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import arrays, assert_grad_close, floats, seeds

REDUCTIONS = ["mean", "sum", "none"]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """Float64 oracle, shifted by the row maximum (stable at |z| = 1e4)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _oracle(z, y, reduction, weight=None, ignore_index=-100, eps=0.0):
    """PyTorch's definition, written out row by row."""
    n, k = z.shape
    w = np.ones(k) if weight is None else np.asarray(weight, np.float64)
    logp = _log_softmax(z.astype(np.float64))
    losses, denominator = np.zeros(n), 0.0
    for i in range(n):
        if y[i] == ignore_index:
            continue
        losses[i] = -(1 - eps) * w[y[i]] * logp[i, y[i]] - eps / k * np.sum(w * logp[i])
        denominator += w[y[i]]
    if reduction == "none":
        return losses
    return losses.sum() / denominator if reduction == "mean" else losses.sum()


@st.composite
def labelled_logits(draw, min_n=1):
    """(N, K) logits, labels in [0, K) with some set to -100, class weights, an eps."""
    n, k = draw(st.integers(min_n, 4)), draw(st.integers(1, 4))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    ignored = draw(hnp.arrays(bool, (n,)))
    ignored[0] = False  # at least one label counts: a mean over none is NaN
    labels = np.where(ignored, -100, labels)
    weight = draw(st.none() | arrays((k,), elements=floats(0.5, 2.0)))
    eps = draw(st.sampled_from([0.0, 0.1, 0.5]))
    return draw(arrays((n, k))), labels, weight, eps


# ------------------------------------------------------------------ gradients, orders 1 and 2
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(drawn=labelled_logits(), data=st.data())
def test_cross_entropy_options_match_finite_differences(reduction, drawn, data):
    z, y, w, eps = drawn
    out = F.cross_entropy(z, y, reduction, weight=w, label_smoothing=eps)
    np.testing.assert_allclose(out.data, _oracle(z, y, reduction, w, eps=eps), rtol=1e-12)
    assert_grad_close(
        lambda t: F.cross_entropy(t, y, reduction, weight=w, label_smoothing=eps),
        z,
        seed=data.draw(seeds()),
        order=2,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(drawn=labelled_logits(), data=st.data())
def test_nll_loss_matches_finite_differences(reduction, drawn, data):
    z, y, w, _ = drawn
    logp = _log_softmax(z)  # any array works; log-probabilities are the meaningful input
    out = F.nll_loss(logp, y, reduction, weight=w)
    np.testing.assert_allclose(out.data, _oracle(z, y, reduction, w), rtol=1e-12, atol=1e-14)
    assert_grad_close(
        lambda t: F.nll_loss(t, y, reduction, weight=w), logp, seed=data.draw(seeds()), order=2
    )


@given(drawn=labelled_logits(), data=st.data())
def test_soft_targets_with_smoothing_and_weight_match_finite_differences(drawn, data):
    z, _, w, eps = drawn
    t = data.draw(arrays(z.shape, elements=floats(0.1, 1.0)))
    t = t / t.sum(axis=1, keepdims=True)
    assert_grad_close(
        lambda a, b: F.cross_entropy(a, b, "none", weight=w, label_smoothing=eps),
        z,
        t,
        seed=data.draw(seeds()),
        order=2,
    )


# ------------------------------------------------------------------ closed forms
def test_label_smoothing_gradient_is_p_minus_smoothed_target_over_n():
    rng = np.random.default_rng(1)
    z, y, eps = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2]), 0.2
    x = Tensor(z, requires_grad=True)
    F.cross_entropy(x, y, label_smoothing=eps).backward()
    smooth = (1 - eps) * np.eye(4)[y] + eps / 4
    np.testing.assert_allclose(x.grad, (np.exp(_log_softmax(z)) - smooth) / 5, rtol=1e-12)


def test_ignored_rows_get_no_gradient_and_the_mean_counts_kept_rows():
    rng = np.random.default_rng(2)
    z, y = rng.standard_normal((4, 3)), np.array([2, -100, 0, -100])
    x = Tensor(z, requires_grad=True)
    F.cross_entropy(x, y).backward()
    p = np.exp(_log_softmax(z))
    expected = np.zeros_like(z)
    expected[[0, 2]] = (p[[0, 2]] - np.eye(3)[[2, 0]]) / 2  # divided by 2 kept, not 4
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-17)


def test_nll_of_log_softmax_is_cross_entropy():
    rng = np.random.default_rng(3)
    z, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    w = rng.uniform(0.5, 2, 5)
    a, b = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    F.nll_loss(F.log_softmax(a, dim=1), y, weight=w).backward()
    F.cross_entropy(b, y, weight=w).backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12)


def test_every_label_ignored_gives_nan_as_torch():
    out = F.cross_entropy(np.zeros((2, 3)), np.array([-100, -100]))
    assert np.isnan(out.item())
    assert np.isnan(F.nll_loss(np.zeros((2, 3)), np.array([-100, -100])).item())
    assert F.cross_entropy(np.zeros((2, 3)), np.array([-100, -100]), "sum").item() == 0.0


def test_ignore_index_may_be_a_class():
    z, y = np.zeros((3, 2)), np.array([0, 1, 1])
    out = F.cross_entropy(z, y, "none", ignore_index=0)
    np.testing.assert_allclose(out.data, [0.0, np.log(2), np.log(2)])  # two equal logits: log 2


# ------------------------------------------------------------------ against PyTorch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [{}, {"weight": True}, {"label_smoothing": 0.3}, {"weight": True, "label_smoothing": 0.1}],
)
def test_cross_entropy_and_nll_match_torch(reduction, options):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(4)
    z, y = rng.standard_normal((6, 4)), np.array([0, 3, -100, 1, 1, 2])
    w = rng.uniform(0.5, 2.0, 4) if options.get("weight") else None
    eps = options.get("label_smoothing", 0.0)
    tw = None if w is None else torch.tensor(w)
    for ours_fn, theirs_fn, kwargs in [
        (F.cross_entropy, tf.cross_entropy, {"label_smoothing": eps}),
        (F.nll_loss, tf.nll_loss, {}),
    ]:
        if kwargs == {} and eps:
            continue
        x, t = Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        ours = ours_fn(x, y, reduction, weight=w, **kwargs)
        theirs = theirs_fn(t, torch.tensor(y), weight=tw, reduction=reduction, **kwargs)
        g = rng.standard_normal(ours.shape)
        ours.backward(g)
        theirs.backward(torch.tensor(g))
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_probability_targets_with_options_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    z, t = rng.standard_normal((5, 3)), rng.dirichlet(np.ones(3), 5)
    w = rng.uniform(0.5, 2.0, 3)
    for reduction in REDUCTIONS:
        x, a = Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        ours = F.cross_entropy(x, t, reduction, weight=w, label_smoothing=0.2)
        theirs = torch.nn.functional.cross_entropy(
            a, torch.tensor(t), weight=torch.tensor(w), reduction=reduction, label_smoothing=0.2
        )
        ours.backward(np.ones(ours.shape))
        theirs.backward(torch.ones(theirs.shape, dtype=torch.float64))
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(x.grad, a.grad.numpy(), rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------------ stability
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_options_stay_finite_and_right_at_logits_of_1e4(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3.0, -1e4, 1e4]], dtype=dtype)
    y, w = np.array([1, 1, -100]), np.array([1.0, 2.0, 0.5])
    x = Tensor(z, requires_grad=True)
    out = F.cross_entropy(x, y, weight=w, label_smoothing=0.1)
    out.backward()
    assert out.dtype == dtype and to_host(x.grad).dtype == dtype
    assert np.isfinite(out.item()) and np.all(np.isfinite(to_host(x.grad)))
    want = _oracle(z.astype(np.float64), y, "mean", w, eps=0.1)
    np.testing.assert_allclose(out.item(), want, rtol=1e-6 if dtype == np.float32 else 1e-12)


# ------------------------------------------------------------------ reduction="none"
def test_reduction_none_gives_the_per_sample_losses_of_every_loss():
    rng = np.random.default_rng(6)
    z, t = rng.standard_normal((3, 4)), rng.uniform(0.1, 0.9, (3, 4))
    y = np.array([0, 3, 1])
    np.testing.assert_allclose(
        F.cross_entropy(z, y, "none").data, -_log_softmax(z)[np.arange(3), y], rtol=1e-12
    )
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(z, t, "none").data,
        np.logaddexp(0, z) - t * z,
        rtol=1e-12,
    )
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(
        F.binary_cross_entropy(p, t, "none").data,
        -(t * np.log(p) + (1 - t) * np.log(1 - p)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(F.mse_loss(z, t, "none").data, (z - t) ** 2, rtol=1e-12)


@given(data=st.data())
def test_reduction_none_gradients_match_finite_differences(data):
    z = data.draw(arrays((3, 2)))
    t = data.draw(arrays((3, 2), elements=floats(0.1, 0.9)))
    seed = data.draw(seeds())
    y = np.array([1, 0, 1])
    assert_grad_close(lambda a: F.cross_entropy(a, y, "none"), z, seed=seed, order=2)
    assert_grad_close(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, "none"), z, t, seed=seed, order=2
    )
    assert_grad_close(lambda a, b: F.mse_loss(a, b, "none"), z, t, seed=seed, order=2)


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.cross_entropy(np.zeros((2, 3)), [0, 1], label_smoothing=1.5), ArgumentError,
         r"label_smoothing must lie in \[0, 1\], got 1.5"),
        (lambda: F.cross_entropy(np.zeros((2, 3)), [0, 1], weight=[1.0, 2.0]), ShapeError,
         r"weight must have shape \(3,\).*\(2,\)"),
        (lambda: F.nll_loss(np.zeros((2, 3)), [0, 1], weight=[1.0, -1.0, 1.0]), ArgumentError,
         r"weight must be finite and >= 0"),
        (lambda: F.cross_entropy(np.zeros((2, 3)), [0, 1], ignore_index=1.0), DTypeError,
         r"ignore_index must be an int"),
        (lambda: F.nll_loss(np.zeros(3), [0]), ShapeError, r"nll_loss: log_probs must be 2-D"),
        (lambda: F.nll_loss(np.zeros((2, 3)), [0, 5]), ArgumentError,
         r"label 5 at position 1 .* or equal ignore_index=-100"),
        (lambda: F.nll_loss(np.zeros((2, 3)), np.array([0, 1]), "avg"), ArgumentError,
         r"reduction must be one of \('mean', 'sum', 'none'\)"),
    ],
)  # fmt: skip
def test_bad_loss_arguments_are_named_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ activations
def test_functional_activations_are_the_tensor_methods():
    x = Tensor(np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32))
    np.testing.assert_array_equal(F.softmax(x, dim=0).data, x.softmax(axis=0).data)
    np.testing.assert_array_equal(F.softmax(x, axis=0).data, x.softmax(axis=0).data)
    np.testing.assert_array_equal(F.log_softmax(x).data, x.log_softmax(axis=-1).data)
    for ours, method in [(F.relu, x.relu), (F.sigmoid, x.sigmoid), (F.tanh, x.tanh)]:
        out = ours(x)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data, method().data)
    with pytest.raises(ArgumentError, match=r"axis= or PyTorch.s name for it \(dim=\), not both"):
        F.softmax(x, dim=0, axis=1)
    with pytest.raises(DTypeError, match="relu: needs a floating-point tensor"):
        F.relu(Tensor(np.array([1, 2])))


def test_softmax_matches_torch_along_dim():
    torch = pytest.importorskip("torch")
    z = np.random.default_rng(8).standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        ours = F.log_softmax(z, dim=dim).data
        np.testing.assert_allclose(ours, torch.log_softmax(torch.tensor(z), dim).numpy(), 1e-12)


# ------------------------------------------------------------------ dropout
def test_dropout_zeros_with_probability_p_and_scales_the_rest():
    x = Tensor(np.full((100, 100), 3.0), requires_grad=True)
    y = F.dropout(x, p=0.25, rng=0)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 3.0 / 0.75)  # inverted: E[y] = x
    assert abs(kept.mean() - 0.75) < 0.02  # 10^4 Bernoulli draws: std 0.004
    g = np.random.default_rng(1).standard_normal(x.shape)
    y.backward(g)
    np.testing.assert_allclose(to_host(x.grad), g * kept / 0.75)


def test_dropout_edge_probabilities_modes_and_seeds():
    x = Tensor(np.ones((4, 5)), requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.9, training=False) is x
    zeros = F.dropout(x, 1.0)
    zeros.sum().backward()
    assert not zeros.numpy().any() and not to_host(x.grad).any()
    again = F.dropout(x, 0.5, rng=3).numpy()
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=3).numpy(), again)
    layer = nn.Dropout(0.5, rng=3)
    first, second = layer(x).numpy(), layer(x).numpy()
    assert not np.array_equal(first, second)  # one generator: a new mask per call
    np.testing.assert_array_equal(first, nn.Dropout(0.5, rng=3)(x).numpy())  # reproducible
    assert layer.eval()(x) is x
    assert F.dropout(x.numpy().astype(np.float32), 0.5, rng=0).dtype == np.float32


@pytest.mark.parametrize(
    ("p", "error"), [(-0.1, ArgumentError), (1.5, ArgumentError), ("a", DTypeError)]
)
def test_dropout_probability_outside_the_unit_interval_is_refused(p, error):
    with pytest.raises(error, match=r"dropout: p must"):
        F.dropout(np.ones(3), p)
    with pytest.raises(error, match=r"Dropout: p must"):
        nn.Dropout(p)
