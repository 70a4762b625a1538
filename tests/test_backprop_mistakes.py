"""The seed reports' wrong gradients, rebuilt in numpy as their authors wrote them, are caught
by check_backprop, and the right ones pass; models/backprop_mistakes.py shows seed 003's.

- seed 003: softmax regression with dz = (y - p) / N (its printed trace is reproduced first);
- seed 000: a ReLU/softmax MLP whose output gradient multiplies the softmax Jacobian onto
  p - y ("training seemed negatively affected from the gradient of the softmax");
- seed 002: logistic regression with dC/dw = x C (1 - C) instead of (yhat - y) x.
"""

import itertools
import re

import numpy as np
import pytest

from models import backprop_mistakes
from tinygrad_hw import Tensor
from tinygrad_hw.check_backprop import check_backprop, check_layer_grads


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(x: np.ndarray, y_onehot: np.ndarray):
    """The softmax-regression loss in Tensor ops, as check_backprop's loss_fn."""

    def loss_fn(t):
        logits = Tensor(x) @ t["W"] + t["b"]
        return -(Tensor(y_onehot) * logits.log_softmax(axis=1)).sum(axis=1).mean()

    return loss_fn


def mean_cross_entropy(p: np.ndarray, y_onehot: np.ndarray) -> float:
    return float(-np.mean(np.sum(y_onehot * np.log(p), axis=1)))


# --------------------------------------------------------------------------- seed 003


def seed003_step(x, y_onehot, w, b, fixed=False):
    """Seed 003's hand-written step: z, p, dz, dW, db (db not summed over the batch, as in
    its trace, where db has one row per sample)."""
    z = x @ w + b
    p = softmax(z)
    dz = (p - y_onehot if fixed else y_onehot - p) / len(x)
    return z, p, dz, x.T @ dz, dz


def test_the_reconstruction_reproduces_seed_003s_printed_trace():
    x = y = np.eye(2)  # problem 3: two samples, two classes, W = b = 0, step size 1
    w, b = np.zeros((2, 2)), np.zeros(2)
    z, p, dz, dw, db = seed003_step(x, y, w, b)
    np.testing.assert_array_equal(dz, [[0.25, -0.25], [-0.25, 0.25]])  # "iteration = 0"
    w, b = w - dw, b - db
    z, p, dz, _, _ = seed003_step(x, y, w, b)
    np.testing.assert_array_equal(z, [[-0.5, 0.5], [0.5, -0.5]])  # "iteration = 1"
    # the report prints 17 digits; float64 rounding differs in the last one or two
    np.testing.assert_allclose(p[0], [0.2689414213699951, 0.7310585786300049], rtol=1e-15)
    np.testing.assert_allclose(dz[0], [0.36552928931500245, -0.36552928931500245], rtol=1e-15)


def test_seed_003s_step_is_diagnosed_as_a_flipped_sign_and_an_unsummed_bias():
    x = y = np.eye(2)
    params = {"W": np.zeros((2, 2)), "b": np.zeros(2)}
    _, p, _, dw, db = seed003_step(x, y, params["W"], params["b"])
    report = check_backprop(cross_entropy(x, y), params, {"W": dw, "b": db})
    assert report["W"].diagnosis == "sign"
    assert "y - p instead of p - y" in report["W"].message
    assert report["b"].diagnosis == "shape"
    assert "sum over the batch axis" in report["b"].message
    # at this symmetric point both the right db and the rows' sum are 0: summing fixes it
    assert "then it matches autograd" in report["b"].message
    _, p_next, _, _, _ = seed003_step(x, y, params["W"] - dw, params["b"] - db)
    assert mean_cross_entropy(p_next, y) > mean_cross_entropy(p, y)  # the loss went up


def test_softmax_regression_on_random_data_sign_error_caught_and_fix_passes():
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((12, 5)), rng.integers(0, 4, 12)
    y = np.eye(4)[labels]
    params = {"W": 0.1 * rng.standard_normal((5, 4)), "b": 0.1 * rng.standard_normal(4)}
    losses = {}
    for fixed in (False, True):
        _, p, _, dw, db = seed003_step(x, y, params["W"], params["b"], fixed)
        report = check_backprop(cross_entropy(x, y), params, {"W": dw, "b": db.sum(axis=0)})
        assert [e.diagnosis for e in report.values()] == (["ok"] * 2 if fixed else ["sign"] * 2)
        unsummed = check_backprop(cross_entropy(x, y), params, {"W": dw, "b": db})["b"]
        assert "sum over the batch axis" in unsummed.message
        assert ("sign flipped" in unsummed.message) != fixed  # what is left once summed
        p_next = softmax(x @ (params["W"] - 0.5 * dw) + params["b"] - 0.5 * db.sum(axis=0))
        losses[fixed] = mean_cross_entropy(p_next, y) - mean_cross_entropy(p, y)
    assert losses[False] > 0 > losses[True]  # one step: the bug climbs, the fix descends


# --------------------------------------------------------------------------- seed 000


def seed000_mlp(seed: int = 0, n: int = 16, d: int = 6, hidden: int = 8, k: int = 4):
    """A 2-layer ReLU/softmax MLP: forward_fn in Tensor ops, params, and a hand-written
    backward pass returning (dL/d(activation), dL/d(param)) with or without seed 000's bug."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), np.eye(k)[rng.integers(0, k, n)]
    shapes = {"W1": (d, hidden), "b1": (hidden,), "W2": (hidden, k), "b2": (k,)}
    params = {name: 0.5 * rng.standard_normal(shape) for name, shape in shapes.items()}

    def forward_fn(t):
        a = Tensor(x) @ t["W1"] + t["b1"]
        h = a.relu()
        z = h @ t["W2"] + t["b2"]
        loss = -(Tensor(y) * z.log_softmax(axis=1)).sum(axis=1).mean()
        return {"a": a, "h": h, "z": z, "loss": loss}

    def backward(softmax_jacobian_too: bool):
        a = x @ params["W1"] + params["b1"]
        h = np.maximum(a, 0)
        p = softmax(h @ params["W2"] + params["b2"])
        dz = (p - y) / n  # already dL/dz: the softmax's derivative is in it
        if softmax_jacobian_too:  # seed 000: J^T dz per row, J = diag(p) - p p^T
            dz = p * (dz - np.sum(p * dz, axis=1, keepdims=True))
        dh = dz @ params["W2"].T
        da = dh * (a > 0)
        grads = {"W1": x.T @ da, "b1": da.sum(0), "W2": h.T @ dz, "b2": dz.sum(0)}
        return {"z": dz, "h": dh, "a": da}, grads

    return forward_fn, params, backward


def test_seed_000s_extra_softmax_jacobian_is_caught_with_a_useful_message():
    forward_fn, params, backward = seed000_mlp()
    _, grads = backward(softmax_jacobian_too=True)
    report = check_backprop(lambda t: forward_fn(t)["loss"], params, grads)
    assert not report.ok
    for entry in report.values():
        # no sign, factor or shape explains it: honest "mismatch", with the likely cause
        assert entry.diagnosis == "mismatch"
        assert "softmax or sigmoid derivative on top of p - y" in entry.message
        assert re.search(r"cosine 0\.\d\d", entry.message)


def test_seed_000s_mistake_is_located_at_the_logits_layer_by_layer():
    forward_fn, params, backward = seed000_mlp(1)
    activation_grads, grads = backward(softmax_jacobian_too=True)
    report = check_layer_grads(forward_fn, params, {**activation_grads, **grads})
    assert report.first_failure == "z"  # everything below inherits it
    activation_grads, grads = backward(softmax_jacobian_too=False)
    assert check_layer_grads(forward_fn, params, {**activation_grads, **grads}).ok
    assert check_backprop(lambda t: forward_fn(t)["loss"], params, grads).ok


# --------------------------------------------------------------------------- seed 002


@pytest.mark.filterwarnings("ignore:log of a sigmoid")  # the report's formula, on purpose
def test_seed_002s_logistic_regression_derivative_is_caught_and_the_right_one_passes():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 5)), rng.integers(0, 2, 20).astype(float)
    params = {"w": 0.3 * rng.standard_normal(5)}

    def loss_fn(t):
        yhat = (Tensor(x) @ t["w"]).sigmoid()
        return -(Tensor(y) * yhat.log() + (1 - Tensor(y)) * (1 - yhat).log()).mean()

    yhat = 1 / (1 + np.exp(-x @ params["w"]))
    c = -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))  # the per-sample loss C^n
    wrong = check_backprop(loss_fn, params, {"w": x.T @ (c * (1 - c)) / len(x)})["w"]
    assert wrong.diagnosis == "mismatch" and "cosine" in wrong.message
    assert "worst at [" in wrong.message
    assert check_backprop(loss_fn, params, {"w": x.T @ (yhat - y) / len(x)}).ok


# --------------------------------------------------------------------------- the script


def test_the_walkthrough_shows_the_loss_rise_with_the_bug_and_fall_with_the_fix(tmp_path, capsys):
    result = backprop_mistakes.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    buggy, fixed = result["buggy"], result["fixed"]
    # the loss is convex in (W, b), so a step along +gradient can only raise it
    assert all(after > before for before, after in itertools.pairwise(buggy))
    assert fixed[-1] < 0.5 * fixed[0]
    assert result["diagnoses"] == {"buggy": "sign", "fixed": "ok"}
    assert re.search(r"^\s+W\s+\(784, 10\)\s+sign\s", printed, re.M)
    assert re.search(r"^\s+W\s+\(784, 10\)\s+ok\s", printed, re.M)
    assert (tmp_path / "backprop_mistakes.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("argv", [["--lr", "-x"], ["--unknown"]])
def test_bad_command_lines_exit_with_usage(argv):
    with pytest.raises(SystemExit):
        backprop_mistakes.main(argv)
