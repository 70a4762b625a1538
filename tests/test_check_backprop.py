"""check_backprop: each diagnosis on generated cases, argument errors, and the report.

The oracle is a linear least-squares loss whose gradient has a closed form in numpy
(independent of the tape): L = (1/2N) sum_n ||x_n W + b - t_n||^2, so with the residual
r = x W + b - t, dL/dW = x.T r / N and dL/db = sum_n r_n / N. The hand-written gradients are
built from that closed form: -g, c g, g.T, per-sample rows, g + noise.
check_forward and check_layer_grads run on a two-layer tanh regression written twice, in
numpy by hand and in Tensor ops. The seed reports' mistakes are in
tests/test_backprop_mistakes.py.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.check_backprop import check_backprop, check_forward, check_layer_grads

sizes = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)


def least_squares(seed: int, n: int, m: int, k: int):
    """(loss_fn, params, closed-form gradients, per-sample gradients) of one random problem."""
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal((n, m)), rng.standard_normal((n, k))
    params = {"W": rng.standard_normal((m, k)), "b": rng.standard_normal(k)}

    def loss_fn(p):
        r = Tensor(x) @ p["W"] + p["b"] - Tensor(t)
        return (r * r).sum() / (2 * n)

    r = x @ params["W"] + params["b"] - t
    grads = {"W": x.T @ r / n, "b": r.sum(axis=0) / n}
    per_sample = {"W": np.einsum("ni,nj->nij", x, r) / n, "b": r / n}
    return loss_fn, params, grads, per_sample


@given(seed=seeds, n=sizes, m=sizes, k=sizes)
def test_the_right_gradient_passes(seed, n, m, k):
    loss_fn, params, grads, _ = least_squares(seed, n, m, k)
    report = check_backprop(loss_fn, params, grads)
    assert report.ok and all(entry.diagnosis == "ok" for entry in report.values())
    # the closed form and the tape differ by rounding only: ~1e-16 relative in float64
    assert max(entry.max_rel_error for entry in report.values()) < 1e-10


@given(seed=seeds, n=sizes, m=sizes, k=sizes)
def test_a_flipped_sign_is_diagnosed_as_sign(seed, n, m, k):
    loss_fn, params, grads, _ = least_squares(seed, n, m, k)
    report = check_backprop(loss_fn, params, {name: -g for name, g in grads.items()})
    assert not report.ok
    for name, g in grads.items():
        entry = report[name]
        assert entry.diagnosis == "sign" and "y - p instead of p - y" in entry.message
        # |m - g| = 2|g| and max(|m|, |g|) = |g|: the largest relative error is exactly 2
        assert entry.max_abs_error == pytest.approx(2 * np.max(np.abs(g)), rel=1e-12)
        assert entry.max_rel_error == pytest.approx(2.0, rel=1e-9)


factors = st.floats(0.05, 20).filter(lambda c: abs(c - 1) > 0.01)


@given(seed=seeds, n=sizes, m=sizes, k=st.integers(2, 5), c=factors, negative=st.booleans())
def test_a_constant_factor_is_diagnosed_as_scale_and_named(seed, n, m, k, c, negative):
    c = -c if negative else c
    loss_fn, params, grads, _ = least_squares(seed, n, m, k)
    report = check_backprop(loss_fn, params, {name: c * g for name, g in grads.items()})
    for entry in report.values():
        assert entry.diagnosis == "scale"
        assert entry.factor == pytest.approx(c, rel=1e-9)  # least squares on exact multiples
        assert f"{c:.6g}" in entry.message
        assert ("sign flipped" in entry.message) == negative


@given(seed=seeds, n=st.integers(2, 64), too_big=st.booleans())
def test_a_factor_of_the_batch_size_is_named_as_such(seed, n, too_big):
    loss_fn, params, grads, _ = least_squares(seed, n, 3, 2)
    c = n if too_big else 1 / n
    manual = {name: c * g for name, g in grads.items()}
    report = check_backprop(loss_fn, params, manual, batch_size=n)
    assert all(f"off by the batch size N = {n}" in e.message for e in report.values())
    unnamed = check_backprop(loss_fn, params, manual)  # without batch_size: a question
    assert all(f"is {n} your batch size N?" in e.message for e in unnamed.values() if n != 2)


def test_a_single_element_gradient_is_a_scale_only_for_a_whole_factor():
    # any wrong value of one element is "a multiple": only n or 1/n points at a cause
    loss_fn, params, grads, _ = least_squares(7, 4, 1, 1)
    for c, diagnosis in ((0.4167, "mismatch"), (3.0, "scale"), (1 / 3, "scale")):
        report = check_backprop(loss_fn, params, {name: c * g for name, g in grads.items()})
        assert [entry.diagnosis for entry in report.values()] == [diagnosis] * 2


@given(seed=seeds, n=sizes, m=sizes, k=sizes)
def test_a_per_sample_gradient_is_told_to_sum_over_the_batch(seed, n, m, k):
    loss_fn, params, _, per_sample = least_squares(seed, n, m, k)
    report = check_backprop(loss_fn, params, per_sample)
    for name, entry in report.items():
        assert entry.diagnosis == "shape" and not entry.ok
        assert entry.shape == (n, *params[name].shape)
        assert "sum over the batch axis" in entry.message
        assert "then it matches autograd" in entry.message


def test_a_per_sample_gradient_that_is_also_unscaled_names_the_batch_size():
    loss_fn, params, _, per_sample = least_squares(0, 8, 3, 2)
    report = check_backprop(loss_fn, params, {k: 8 * g for k, g in per_sample.items()})
    assert "off by the batch size N = 8" in report["b"].message  # N inferred from (8, 2)


@given(seed=seeds, n=sizes, m=sizes, k=sizes)
def test_a_transposed_weight_gradient_of_another_shape_is_diagnosed(seed, n, m, k):
    if m == k:
        k = m + 1
    loss_fn, params, grads, _ = least_squares(seed, n, m, k)
    report = check_backprop(loss_fn, params, {"W": grads["W"].T, "b": grads["b"]})
    assert report["W"].diagnosis == "shape" and "transposed" in report["W"].message
    assert "then it matches autograd" in report["W"].message
    assert report["b"].ok


@given(seed=seeds, n=sizes, m=st.integers(2, 5))
def test_a_transposed_square_gradient_is_diagnosed_as_transpose(seed, n, m):
    loss_fn, params, grads, _ = least_squares(seed, n, m, m)
    report = check_backprop(loss_fn, params, {"W": grads["W"].T, "b": grads["b"]})
    assert report["W"].diagnosis == "transpose"
    assert "x.T @ dz" in report["W"].message


@given(seed=seeds, n=sizes, m=st.integers(2, 5), k=st.integers(2, 5))
def test_random_noise_is_a_mismatch_listing_the_worst_element(seed, n, m, k):
    loss_fn, params, grads, _ = least_squares(seed, n, m, k)
    noise = np.random.default_rng(seed + 1).standard_normal((m, k))
    manual = grads["W"] + noise * np.mean(np.abs(grads["W"]))
    report = check_backprop(loss_fn, params, {"W": manual, "b": grads["b"]})
    entry = report["W"]
    assert entry.diagnosis == "mismatch" and "cosine" in entry.message
    worst = np.unravel_index(np.argmax(np.abs(manual - grads["W"])), manual.shape)
    assert f"worst at [{worst[0]}, {worst[1]}] yours {manual[worst]:.6g}" in entry.message
    assert entry.max_abs_error == pytest.approx(np.max(np.abs(manual - grads["W"])), rel=1e-9)


def test_a_few_wrong_elements_are_counted_and_listed_alone():
    loss_fn, params, grads, _ = least_squares(8, 4, 3, 2)
    manual = grads["W"].copy()
    manual[2, 1] += 0.5
    entry = check_backprop(loss_fn, params, {"W": manual, "b": grads["b"]})["W"]
    assert entry.diagnosis == "mismatch"
    assert "1 of 6 elements differ; worst at [2, 1] yours" in entry.message
    assert entry.message.endswith("the others match")


def test_zeros_against_a_nonzero_gradient_are_a_mismatch_not_a_scale_of_zero():
    loss_fn, params, grads, _ = least_squares(1, 4, 3, 2)
    report = check_backprop(loss_fn, params, {"W": np.zeros((3, 2)), "b": grads["b"]})
    assert report["W"].diagnosis == "mismatch" and "yours is all zeros" in report["W"].message


def test_a_nonzero_gradient_for_an_unused_parameter_is_a_mismatch():
    loss_fn, params, grads, _ = least_squares(2, 4, 3, 2)
    params["unused"] = np.ones(3)
    grads["unused"] = np.array([0.0, 0.5, 0.0])
    report = check_backprop(loss_fn, params, grads)
    assert report["unused"].diagnosis == "mismatch"
    assert "autograd's is all zeros" in report["unused"].message
    grads["unused"] = np.zeros(3)
    assert check_backprop(loss_fn, params, grads).ok


def test_nan_in_the_hand_written_gradient_is_named():
    loss_fn, params, grads, _ = least_squares(3, 4, 3, 2)
    grads["W"][1, 0] = np.nan
    entry = check_backprop(loss_fn, params, grads)["W"]
    assert entry.diagnosis == "mismatch" and "NaN or inf (first at [1, 0])" in entry.message


def test_a_float32_gradient_just_outside_tolerance_is_blamed_on_precision():
    loss_fn, params, grads, _ = least_squares(4, 4, 3, 2)
    off = grads["W"] * (1 + 1e-4 * np.random.default_rng(0).standard_normal((3, 2)))
    as_float32 = check_backprop(loss_fn, params, {"W": off.astype(np.float32), "b": grads["b"]})
    assert "float32" in as_float32["W"].message
    as_float64 = check_backprop(loss_fn, params, {"W": off, "b": grads["b"]})
    assert as_float64["W"].message.startswith("wrong")
    # a looser rtol (1e-3, above the 1e-4 perturbation) accepts it
    assert check_backprop(loss_fn, params, {"W": off, "b": grads["b"]}, rtol=1e-3).ok


def test_loss_fn_gets_float64_copies_and_the_params_are_untouched():
    params = {"w": np.array([1.0, -2.0], np.float32)}
    before = params["w"].copy()

    def loss_fn(t):
        assert t["w"].dtype == np.float64 and t["w"].requires_grad
        t["w"].data[0] = 100.0  # changing the copy must not reach the caller
        return (t["w"] * t["w"]).sum()

    check_backprop(loss_fn, params, {"w": np.array([200.0, -4.0])})
    np.testing.assert_array_equal(params["w"], before)


def test_the_report_is_a_mapping_with_a_readable_table():
    loss_fn, params, grads, _ = least_squares(5, 4, 3, 2)
    report = check_backprop(loss_fn, params, {"W": grads["W"], "b": -grads["b"]})
    assert list(report) == ["W", "b"] and len(report) == 2 and not report.ok
    text = str(report)
    assert text.splitlines()[0] == "check_backprop: 1 of 2 wrong"
    assert re.search(r"^\s+W\s+\(3, 2\)\s+ok\s", text, re.M)
    assert re.search(r"^\s+b\s+\(2,\)\s+sign\s", text, re.M)
    assert "sign flipped" in text and "sign" in repr(report)


@pytest.mark.parametrize(
    ("params", "manual", "error", "pattern"),
    [
        ({"w": np.ones(2)}, {}, tg.ArgumentError, r"missing \['w'\]"),
        ({"w": np.ones(2)}, {"w": np.ones(2), "v": np.ones(2)}, tg.ArgumentError, r"extra \['v'\]"),
        ({"w": np.ones(2)}, {"w": [1.0, 1.0]}, tg.DTypeError, r"manual_grads\['w'\] is a list"),
        ({"w": [1.0, 2.0]}, {"w": np.ones(2)}, tg.DTypeError, r"params\['w'\] is a list"),
        ({"w": np.array(["a"])}, {"w": np.ones(1)}, tg.DTypeError, r"params\['w'\].*dtype"),
        ([np.ones(2)], {"w": np.ones(2)}, tg.DTypeError, "params must be a dict"),
    ],
)
def test_bad_arguments_are_clear_errors_naming_the_culprit(params, manual, error, pattern):
    with pytest.raises(error, match=pattern):
        check_backprop(lambda t: t["w"].sum(), params, manual)


@pytest.mark.parametrize(
    ("loss_fn", "error", "pattern"),
    [
        (lambda t: t["w"] * 2, tg.ShapeError, r"scalar, got shape \(2,\)"),
        (lambda t: float(t["w"].data.sum()), tg.DTypeError, "must be a Tensor, got float"),
        (lambda t: Tensor(t["w"].data).sum(), tg.GraphError, "does not depend on any parameter"),
    ],
)
def test_a_loss_that_is_not_a_scalar_tensor_of_the_params_is_an_error(loss_fn, error, pattern):
    with pytest.raises(error, match=pattern):
        check_backprop(loss_fn, {"w": np.ones(2)}, {"w": np.ones(2)})


@pytest.mark.parametrize(
    ("keyword", "value"), [("rtol", -1.0), ("atol", "small"), ("batch_size", 0)]
)
def test_bad_tolerances_and_batch_sizes_are_argument_errors(keyword, value):
    with pytest.raises(tg.ArgumentError, match=keyword):
        check_backprop(
            lambda t: t["w"].sum(), {"w": np.ones(2)}, {"w": np.ones(2)}, **{keyword: value}
        )


# --------------------------------------------------------------------------- layer by layer


def two_layer(seed: int = 0, n: int = 6, m: int = 4, hidden: int = 5, k: int = 3):
    """A tanh network with squared-error loss: (forward_fn, params, hand-written activations,
    hand-written dL/d(activation), hand-written dL/d(param))."""
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal((n, m)), rng.standard_normal((n, k))
    shapes = {"W1": (m, hidden), "b1": (hidden,), "W2": (hidden, k), "b2": (k,)}
    params = {name: rng.standard_normal(shape) for name, shape in shapes.items()}

    def forward_fn(p):
        a = Tensor(x) @ p["W1"] + p["b1"]
        h = a.tanh()
        out = h @ p["W2"] + p["b2"]
        r = out - Tensor(t)
        return {"a": a, "h": h, "out": out, "loss": (r * r).sum() / (2 * n)}

    a = x @ params["W1"] + params["b1"]
    h = np.tanh(a)
    out = h @ params["W2"] + params["b2"]
    d_out = (out - t) / n
    d_h = d_out @ params["W2"].T
    d_a = d_h * (1 - h**2)
    grads = {"W1": x.T @ d_a, "b1": d_a.sum(0), "W2": h.T @ d_out, "b2": d_out.sum(0)}
    return (
        forward_fn,
        params,
        {"a": a, "h": h, "out": out},
        {"out": d_out, "h": d_h, "a": d_a},
        grads,
    )


def test_check_forward_passes_a_right_forward_pass_in_order():
    forward_fn, params, activations, _, _ = two_layer()
    report = check_forward(forward_fn, params, activations)
    assert report.ok and list(report) == ["a", "h", "out"] and report.first_failure is None


def test_check_forward_names_the_first_layer_that_differs():
    forward_fn, params, activations, _, _ = two_layer(1)
    wrong_h = 1 / (1 + np.exp(-activations["a"]))  # sigmoid where the network has tanh
    wrong_out = wrong_h @ params["W2"] + params["b2"]  # inherits the mistake
    report = check_forward(forward_fn, params, {**activations, "h": wrong_h, "out": wrong_out})
    assert report["a"].ok and not report["h"].ok and not report["out"].ok
    assert report.first_failure == "h"
    assert "first wrong: 'h'" in str(report)
    worst = np.unravel_index(np.argmax(np.abs(wrong_h - activations["h"])), wrong_h.shape)
    assert f"[{worst[0]}, {worst[1]}]" in report["h"].message


def test_check_forward_takes_a_subset_and_refuses_unknown_names():
    forward_fn, params, activations, _, _ = two_layer(2)
    assert list(check_forward(forward_fn, params, {"out": activations["out"]})) == ["out"]
    with pytest.raises(tg.ArgumentError, match=r"no \['z'\].*'a', 'h', 'out', 'loss'"):
        check_forward(forward_fn, params, {"z": activations["out"]})
    with pytest.raises(tg.DTypeError, match="dict name -> Tensor"):
        check_forward(lambda p: [p["W1"]], params, {})


def test_check_layer_grads_passes_a_right_backward_pass_from_the_loss_down():
    forward_fn, params, _, activation_grads, grads = two_layer(3)
    report = check_layer_grads(forward_fn, params, {**activation_grads, **grads})
    assert report.ok
    assert list(report) == ["out", "h", "a", "W1", "b1", "W2", "b2"]


def test_check_layer_grads_locates_a_wrong_activation_derivative():
    forward_fn, params, activations, activation_grads, grads = two_layer(4)
    h = activations["h"]
    wrong_a = activation_grads["h"] * (1 - h)  # tanh' written as 1 - h instead of 1 - h^2
    manual = {**activation_grads, "a": wrong_a, **grads}
    report = check_layer_grads(forward_fn, params, manual)
    assert report["out"].ok and report["h"].ok and not report["a"].ok
    assert report.first_failure == "a"
    assert report["W2"].ok and report["b2"].ok  # the hand-written param grads are right here


def test_check_layer_grads_follows_a_sign_error_from_the_output_down():
    forward_fn, params, _, activation_grads, grads = two_layer(5)
    flipped = {name: -g for name, g in {**activation_grads, **grads}.items()}
    report = check_layer_grads(forward_fn, params, flipped)
    assert report.first_failure == "out"
    assert all(entry.diagnosis == "sign" for entry in report.values())


def test_check_layer_grads_argument_errors():
    forward_fn, params, _, activation_grads, _ = two_layer(6)
    with pytest.raises(tg.ArgumentError, match="'cost'"):
        check_layer_grads(forward_fn, params, activation_grads, loss="cost")
    with pytest.raises(tg.ArgumentError, match=r"no \['z'\]"):
        check_layer_grads(forward_fn, params, {"z": np.ones(3)})

    def with_data(p):
        return {**forward_fn(p), "x": Tensor(np.ones(3))}

    with pytest.raises(tg.GraphError, match="'x' does not depend on any parameter"):
        check_layer_grads(with_data, params, {"x": np.ones(3)})


def test_tensors_are_accepted_for_params_and_manual_grads_and_left_untouched():
    loss_fn, params, grads, _ = least_squares(seed=1, n=5, m=3, k=2)
    as_tensors = {name: Tensor(value.copy(), requires_grad=True) for name, value in params.items()}
    report = check_backprop(loss_fn, as_tensors, {k: Tensor(g) for k, g in grads.items()})
    assert report.ok
    flipped = check_backprop(loss_fn, as_tensors, {k: Tensor(-g) for k, g in grads.items()})
    assert flipped["W"].diagnosis == "sign"
    for name, tensor in as_tensors.items():  # the caller's tensors: no gradient, same values
        assert tensor.grad is None
        np.testing.assert_array_equal(tensor.data, params[name])
