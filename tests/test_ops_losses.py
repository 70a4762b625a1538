"""The fused losses of tinygrad_hw.ops.losses: primitives against float64 central differences,
and through a thin Tensor wrapper (written here; nn.functional wraps them for users).

Logits lie in [-3, 3], so every loss is smooth and moderate; atol 1e-6 is justified in
tinygrad_hw.testing. Forward values are checked against a float64 oracle written out here, to
rtol 1e-12 plus atol 1e-14 (a loss of exactly 0, e.g. with one class, rounds to ~1e-16).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_hw import Tensor, ops
from tinygrad_hw.ops.devices import default_device, to_device
from tinygrad_hw.recording import apply
from tinygrad_hw.testing import (
    arrays,
    assert_grad_close,
    assert_inner_product_identity,
    assert_vjp_matches_finite_differences,
    evaluate_primitive,
    floats,
    seeds,
    shapes,
)

REDUCTIONS = ["mean", "sum"]


def _log_softmax_rows(z: np.ndarray) -> np.ndarray:
    """Float64 oracle, naive: fine for logits in [-3, 3]."""
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def _reduce(per_sample: np.ndarray, reduction: str) -> float:
    return float(np.mean(per_sample) if reduction == "mean" else np.sum(per_sample))


@st.composite
def logits_and_labels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) logits with N, K in 1..4 and N integer labels in [0, K)."""
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return draw(arrays((n, k))), labels


@st.composite
def probability_rows(draw: st.DrawFn, shape: tuple[int, int]) -> np.ndarray:
    """Rows of positive weights normalised to sum to 1 (soft labels)."""
    weights = draw(arrays(shape, elements=floats(0.1, 1.0)))
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(drawn=logits_and_labels(), data=st.data())
def test_cross_entropy_labels_matches_finite_differences(reduction, drawn, data):
    logits, labels = drawn
    # the primitive indexes the logits with the labels, so they live on the logits' device
    # (the default one here), as nn.functional puts them
    on_device = to_device(labels, default_device())
    out, _ = evaluate_primitive(
        ops.cross_entropy_labels, [logits], labels=on_device, reduction=reduction
    )
    expected = _reduce(-_log_softmax_rows(logits)[np.arange(len(labels)), labels], reduction)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    params = {"labels": on_device, "reduction": reduction}
    assert_vjp_matches_finite_differences(
        ops.cross_entropy_labels, [logits], data, params=params, order=2
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets_kind", ["probabilities", "unnormalised"])
@given(data=st.data())
def test_cross_entropy_targets_matches_finite_differences(reduction, targets_kind, data):
    """Both inputs are differentiable. Unnormalised non-negative targets (rows not summing to
    1) check the general form d/dz = p sum(t) - t, not just p - t."""
    logits = data.draw(arrays(data.draw(shapes(min_dims=2, max_dims=2))))
    if targets_kind == "probabilities":
        targets = data.draw(probability_rows(logits.shape))
    else:
        targets = data.draw(arrays(logits.shape, elements=floats(0.0, 2.0)))
    out, _ = evaluate_primitive(ops.cross_entropy_targets, [logits, targets], reduction=reduction)
    expected = _reduce(-np.sum(targets * _log_softmax_rows(logits), axis=1), reduction)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    params = {"reduction": reduction}
    assert_vjp_matches_finite_differences(
        ops.cross_entropy_targets, [logits, targets], data, params=params, order=2
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_binary_cross_entropy_with_logits_matches_finite_differences(reduction, data):
    """Any shape (0-d included); targets in [0, 1], both inputs differentiable."""
    logits = data.draw(arrays(shapes()))
    targets = data.draw(arrays(logits.shape, elements=floats(0.0, 1.0)))
    out, _ = evaluate_primitive(ops.bce_with_logits, [logits, targets], reduction=reduction)
    s = 1 / (1 + np.exp(-logits))
    per_element = -(targets * np.log(s) + (1 - targets) * np.log(1 - s))
    np.testing.assert_allclose(out, _reduce(per_element, reduction), rtol=1e-11, atol=1e-14)
    params = {"reduction": reduction}
    assert_vjp_matches_finite_differences(
        ops.bce_with_logits, [logits, targets], data, params=params, order=2
    )


# --------------------------------------------------------------------- through the tape
def cross_entropy(logits: Tensor, labels: np.ndarray, reduction: str = "mean") -> Tensor:
    """Thin Tensor wrapper over the fused primitive, as nn.functional would write it (the
    labels moved to the logits' device)."""
    on_device = to_device(labels, logits.device)
    return apply(ops.cross_entropy_labels, logits, labels=on_device, reduction=reduction)


def bce_with_logits(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    return apply(ops.bce_with_logits, logits, targets, reduction=reduction)


@given(drawn=logits_and_labels(), data=st.data())
def test_cross_entropy_after_a_linear_layer_matches_finite_differences(drawn, data):
    """The loss's cotangent flows on into the weights and the inputs of a linear layer."""
    logits, labels = drawn
    n, k = logits.shape
    x = data.draw(arrays((n, 3)))
    w = data.draw(arrays((3, k)))
    b = data.draw(arrays((k,)))
    assert_grad_close(
        lambda x, w, b: cross_entropy(x @ w + b, labels), x, w, b, seed=data.draw(seeds()), order=2
    )


@given(data=st.data())
def test_bce_with_logits_after_a_linear_layer_matches_finite_differences(data):
    n = data.draw(st.integers(1, 4))
    x, w = data.draw(arrays((n, 3))), data.draw(arrays((3,)))
    targets = data.draw(arrays((n,), elements=floats(0.0, 1.0)))
    assert_grad_close(
        lambda x, w, t: bce_with_logits(x @ w, t, "sum"),
        x,
        w,
        targets,
        seed=data.draw(seeds()),
        order=2,
    )


@given(seed=seeds())
def test_a_two_layer_network_with_cross_entropy_passes_the_inner_product_check(seed):
    """Too many parameters (32 x 16 + 16 x 10) for element-wise differences to be cheap: one
    directional difference checks <vjp(v), u> = <v, J u> for the whole Jacobian at once.
    Inputs scaled by 0.3 keep the logits O(1), so the tolerance argument of
    tinygrad_hw.testing holds for the single sum it compares."""
    rng = np.random.default_rng(seed)
    x, w1, w2 = (0.3 * rng.standard_normal(s) for s in [(8, 32), (32, 16), (16, 10)])
    labels = rng.integers(0, 10, size=8)

    def loss(x, w1, w2):
        return cross_entropy((x @ w1).tanh() @ w2, labels)

    assert_inner_product_identity(loss, x, w1, w2, seed=seed)


@given(
    n=st.integers(1, 3),
    sizes=st.lists(shapes(max_dims=2), min_size=1, max_size=3),
    weight=floats(0.01, 2.0),
    data=st.data(),
)
def test_l2_penalty_matches_finite_differences_and_its_closed_form(n, sizes, weight, data):
    """weight * sum ||p||^2 over several arrays (0-d, 1-d, 2-d): gradient 2 weight p."""
    params = [data.draw(arrays(shape)) for shape in sizes]
    g = np.float64(data.draw(floats(-2.0, 2.0)))
    out, grads = evaluate_primitive(ops.l2_penalty(len(params)), params, g, weight=weight)
    np.testing.assert_allclose(out, weight * sum(np.sum(p * p) for p in params), rtol=1e-12)
    for p, grad_p in zip(params, grads, strict=True):
        np.testing.assert_allclose(grad_p, 2 * weight * p * g, rtol=1e-12, atol=1e-15)
    assert_vjp_matches_finite_differences(
        ops.l2_penalty(len(params)), params, data, params={"weight": weight}, order=2
    )
