"""nn.functional: losses against float64 oracles built independently, and every input check."""

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops.devices import to_host

N, K = 6, 4


def _logits(seed: int = 0, dtype=np.float64) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal((N, K)).astype(dtype), True)


def _labels(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, K, size=N)


def _numpy_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# A scalar loss's upstream gradient: a random number, not 1, so a missing scale shows.
UPSTREAM = 0.37


# ------------------------------------------------------------------ cross_entropy
def test_cross_entropy_equals_minus_mean_log_softmax_of_the_label():
    labels = _labels()
    fused_in, composed_in = _logits(), _logits()
    fused = F.cross_entropy(fused_in, labels)
    composed = -composed_in.log_softmax(axis=1)[np.arange(N), labels].mean()
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-14)  # same float64 maths
    fused.backward(np.array(UPSTREAM))
    composed.backward(np.array(UPSTREAM))
    np.testing.assert_allclose(fused_in.grad, composed_in.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("reduction", "scale"), [("mean", 1 / N), ("sum", 1.0)])
def test_cross_entropy_gradient_is_softmax_minus_one_hot(reduction, scale):
    logits, labels = _logits(), _labels()
    F.cross_entropy(logits, labels, reduction).backward(np.array(UPSTREAM))
    one_hot = np.zeros((N, K))
    one_hot[np.arange(N), labels] = 1
    expected = UPSTREAM * scale * (_numpy_softmax(logits.numpy()) - one_hot)
    np.testing.assert_allclose(to_host(logits.grad), expected, rtol=1e-12, atol=1e-15)


def test_one_hot_targets_give_the_same_loss_and_gradient_as_integer_labels():
    labels = _labels()
    by_index, by_target = _logits(), _logits()
    a = F.cross_entropy(by_index, labels, "sum")
    b = F.cross_entropy(by_target, F.one_hot(labels, K, dtype=np.float64), "sum")
    np.testing.assert_allclose(a.data, b.data, rtol=1e-14)
    a.backward(np.array(UPSTREAM))
    b.backward(np.array(UPSTREAM))
    np.testing.assert_allclose(by_index.grad, by_target.grad, rtol=1e-12, atol=1e-15)


def test_probability_targets_pass_gradcheck_for_logits_and_targets():
    rng = np.random.default_rng(2)
    targets = Tensor(_numpy_softmax(rng.standard_normal((N, K))), requires_grad=True)
    assert tg.gradcheck(lambda z, t: F.cross_entropy(z, t), _logits(), targets)


def test_cross_entropy_keeps_float32_and_is_finite_for_huge_logits():
    logits = Tensor(np.array([[1e4, -1e4, 0.0]], np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1]))
    loss.backward()
    assert loss.dtype == to_host(logits.grad).dtype == np.float32
    assert loss.item() == pytest.approx(2e4, rel=1e-6)  # -log softmax = 1e4 - (-1e4)


@pytest.mark.parametrize(
    ("logits", "labels", "error", "message"),
    [
        (np.zeros(K), [0], tg.ShapeError, r"logits must be 2-D \(N, K\), got shape \(4,\)"),
        (np.zeros((0, K)), np.zeros(0, int), tg.ShapeError, "empty batch"),
        (np.zeros((2, K)), np.array([1, K]), tg.ArgumentError, "label 4 at position 1.*K=4"),
        (np.zeros((2, K)), np.array([-1, 0]), tg.ArgumentError, "label -1 at position 0"),
        (np.zeros((2, K)), np.array([1.0, 0.0]), tg.DTypeError, r"integer.*\(2, 4\)"),
        (np.zeros((2, K)), np.array([1, 0, 2]), tg.ShapeError, r"need \(2,\)"),
        (np.zeros((2, K)), np.zeros((2, 3)), tg.ShapeError, r"\(2, 4\).*\(2, 3\)"),
        (np.zeros((2, K)), np.zeros((2, K, 1)), tg.ShapeError, r"\(2,\) or \(2, 4\)"),
        (np.zeros((2, K), int), np.array([1, 0]), tg.DTypeError, "floating point"),
    ],
)
def test_cross_entropy_input_errors(logits, labels, error, message):
    with pytest.raises(error, match=message):
        F.cross_entropy(logits, labels)


def test_cross_entropy_rejects_an_unknown_reduction():
    with pytest.raises(tg.ArgumentError, match=r"reduction must be one of .*'average'"):
        F.cross_entropy(np.zeros((2, K)), np.array([0, 1]), reduction="average")


# ------------------------------------------------------------------ binary cross-entropy
def _bce_oracle(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _binary_data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, 1)) * 3, rng.uniform(0, 1, size=(N, 1))


def test_bce_with_logits_equals_the_textbook_formula_and_gradient():
    z, t = _binary_data()
    logits = Tensor(z, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, t)
    probs = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(loss.data, _bce_oracle(probs, t).mean(), rtol=1e-12)
    loss.backward(np.array(UPSTREAM))
    np.testing.assert_allclose(logits.grad, UPSTREAM * (probs - t) / N, rtol=1e-12)
    targets = Tensor(t, requires_grad=True)
    assert tg.gradcheck(F.binary_cross_entropy_with_logits, Tensor(z, True), targets)


def test_bce_with_logits_is_finite_at_logits_of_1e4():
    logits = Tensor(np.array([1e4, -1e4, 1e4, -1e4]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, np.array([0.0, 1.0, 1.0, 0.0]), "sum")
    loss.backward()
    assert loss.item() == pytest.approx(2e4)  # the two wrong ones cost |z| each
    np.testing.assert_allclose(logits.grad, [1.0, -1.0, 0.0, 0.0], atol=1e-12)


def test_bce_on_probabilities_equals_the_textbook_formula_and_gradient():
    z, t = _binary_data()
    p = 1 / (1 + np.exp(-z))
    probs = Tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(probs, t, reduction="sum")
    np.testing.assert_allclose(loss.data, _bce_oracle(p, t).sum(), rtol=1e-12)
    loss.backward(np.array(UPSTREAM))
    # d/dp = (p - t) / (p (1 - p))
    np.testing.assert_allclose(probs.grad, UPSTREAM * (p - t) / (p * (1 - p)), rtol=1e-10)


def test_bce_on_probabilities_clamps_the_logs_at_eps():
    probs = Tensor(np.array([0.0, 1.0, 1.0]), requires_grad=True)
    loss = F.binary_cross_entropy(probs, np.array([1.0, 0.0, 1.0]), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(-2 * np.log(F.BCE_EPS))  # finite: -log(1e-7) each
    np.testing.assert_array_equal(probs.grad[:2], [0.0, 0.0])  # clamped: no gradient


@pytest.mark.parametrize(
    "loss_fn", [F.binary_cross_entropy_with_logits, F.binary_cross_entropy, F.mse_loss]
)
def test_elementwise_losses_refuse_n_by_1_against_n(loss_fn):
    with pytest.raises(tg.ShapeError, match=r"shape \(6, 1\) and target.* shape \(6,\)"):
        loss_fn(np.full((N, 1), 0.5), np.zeros(N))


@pytest.mark.parametrize(
    ("loss_fn", "inputs", "targets", "error", "message"),
    [
        (F.binary_cross_entropy, [0.5, 2.0], [0.0, 1.0], tg.ArgumentError, "with_logits"),
        (F.binary_cross_entropy, [0.5, 0.5], [0.0, 2.0], tg.ArgumentError, r"targets.*\[0, 1\]"),
        (F.binary_cross_entropy_with_logits, [3.0], [-1.0], tg.ArgumentError, r"\[0, 1\]"),
        (F.binary_cross_entropy_with_logits, [], [], tg.ShapeError, "empty"),
        (F.mse_loss, [], [], tg.ShapeError, "empty"),
    ],
)
def test_binary_and_mse_value_errors(loss_fn, inputs, targets, error, message):
    with pytest.raises(error, match=message):
        loss_fn(np.array(inputs), np.array(targets))


# ------------------------------------------------------------------ mse and l2
def test_mse_loss_value_and_gradient():
    rng = np.random.default_rng(4)
    pred, target = Tensor(rng.standard_normal((N, 3)), requires_grad=True), rng.random((N, 3))
    loss = F.mse_loss(pred, target)
    np.testing.assert_allclose(loss.numpy(), np.mean((pred.numpy() - target) ** 2), rtol=1e-14)
    loss.backward(np.array(UPSTREAM))
    np.testing.assert_allclose(
        to_host(pred.grad), UPSTREAM * 2 * (pred.numpy() - target) / pred.size
    )
    summed = F.mse_loss(pred, target, "sum")
    np.testing.assert_allclose(summed.numpy(), np.sum((pred.numpy() - target) ** 2), rtol=1e-14)


def test_l2_penalty_is_weight_times_sum_of_squares():
    rng = np.random.default_rng(5)
    ws = [Tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 2), (4,)]]
    penalty = F.l2_penalty(ws, 0.25)
    from_generator = F.l2_penalty((w for w in ws), 0.25)
    assert from_generator.data == penalty.data
    np.testing.assert_allclose(penalty.data, 0.25 * sum(np.sum(w.data**2) for w in ws))
    penalty.backward(np.array(UPSTREAM))
    for w in ws:
        np.testing.assert_allclose(w.grad, UPSTREAM * 0.5 * w.data, rtol=1e-14)


@pytest.mark.parametrize(
    ("params", "weight", "error", "message"),
    [
        ([], 1.0, tg.ArgumentError, "no parameters"),
        ([Tensor(np.ones(2)), np.ones(2)], 1.0, tg.DTypeError, r"params\[1\] is a ndarray"),
        ([Tensor(np.ones(2))], -1.0, tg.ArgumentError, "weight.*-1.0"),
        ([Tensor(np.ones(2))], float("nan"), tg.ArgumentError, "weight.*nan"),
        (3.0, 1.0, tg.DTypeError, "iterable of Tensors"),
    ],
)
def test_l2_penalty_errors(params, weight, error, message):
    with pytest.raises(error, match=message):
        F.l2_penalty(params, weight)


# ------------------------------------------------------------------ one_hot and accuracy
def test_one_hot_puts_a_one_at_each_label():
    labels = np.array([2, 0, 3, 3])
    encoded = F.one_hot(labels, 5, dtype=np.float64)
    assert encoded.shape == (4, 5) and encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded.argmax(axis=1), labels)
    np.testing.assert_array_equal(encoded.sum(axis=1), np.ones(4))
    assert F.one_hot(labels, 5).dtype == np.float32


@pytest.mark.parametrize(
    ("labels", "classes", "error", "message"),
    [
        (np.array([0, 5]), 5, tg.ArgumentError, "label 5 is out of range for 5 classes"),
        (np.array([-1]), 5, tg.ArgumentError, "label -1"),
        (np.array([1.0]), 5, tg.DTypeError, "integers"),
        (np.array([1]), 0, tg.ArgumentError, "num_classes must be >= 1"),
    ],
)
def test_one_hot_errors(labels, classes, error, message):
    with pytest.raises(error, match=message):
        F.one_hot(labels, classes)


def test_accuracy_counts_rows_whose_argmax_is_the_label():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([1, 1, 1, 0])  # rows 0, 2, 3 right
    assert F.accuracy(scores, labels) == 0.75
    assert F.accuracy(Tensor(scores), F.one_hot(labels, 2)) == 0.75
    assert F.accuracy(scores[:, 1:], labels, threshold=0.5) == 0.75  # binary column


@pytest.mark.parametrize(
    ("scores", "labels", "threshold", "message"),
    [
        (np.zeros((3, 1)), np.zeros(3, int), None, "need threshold="),
        (np.zeros((3, 2)), np.zeros(3, int), 0.5, "need no threshold"),
        (np.zeros((3, 2)), np.zeros(4, int), None, r"\(3, 2\), labels \(4,\)"),
        (np.zeros((0, 2)), np.zeros(0, int), None, "N >= 1"),
    ],
)
def test_accuracy_errors(scores, labels, threshold, message):
    with pytest.raises((tg.ArgumentError, tg.ShapeError), match=message):
        F.accuracy(scores, labels, threshold)
