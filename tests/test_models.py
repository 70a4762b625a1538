"""Every experiment runs in --quick form and learns; each one's loss is the seed report's
formula (checked against float64 numpy oracles); the toy's trace is the correct gradient."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from models import registry
from models.experiment import seed_streams
from models.runner import CHECKPOINT, CURVES, METRICS, run_experiment
from models.toy import REPORT_Z1, traced_gradients
from tinygrad_hw import Tensor
from tinygrad_hw.datasets import load_dataset
from tinygrad_hw.errors import ArgumentError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# float32 forward passes summed over ~100 rows: relative error ~1e-6; 1e-5 leaves room.
F32_RTOL = 1e-5


def quick(name: str, out, **overrides):
    stream = io.StringIO()
    result = run_experiment(registry.get(name), overrides, quick=True, out=out, stream=stream)
    return result, stream.getvalue()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``quick_run(name) -> (folder, result, printed)``, each experiment trained once."""
    done = {}

    def run(name: str):
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            done[name] = (folder, *quick(name, folder))
        return done[name]

    return run


def log_softmax64(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def a_batch(name: str, rows: int = 40, seed: int = 3):
    """A built model, its config, and a batch of real rows for experiment ``name``."""
    exp = registry.get(name)
    cfg = exp.config({}, quick=True)
    streams = seed_streams(cfg.seed)
    data = exp.load_data(cfg, streams)
    model, _ = exp.build(cfg, data, streams["init"])
    for p in model.parameters():  # away from the initial zeros, so every term matters
        p.data += np.random.default_rng(seed).normal(0, 0.05, p.shape).astype(p.dtype)
    return exp, cfg, model, data.x_train[:rows], data.y_train[:rows]


# ---------------------------------------------------------------------- every experiment
@pytest.mark.parametrize("name", list(registry.EXPERIMENTS))
def test_quick_run_writes_its_files_and_the_loss_falls(quick_run, name):
    tmp_path, result, printed = quick_run(name)
    for filename in (METRICS, CHECKPOINT):
        assert (tmp_path / filename).stat().st_size > 0
    assert (tmp_path / CURVES).read_bytes()[:8] == PNG_MAGIC
    metrics = json.loads((tmp_path / METRICS).read_text())
    assert metrics["status"] == "complete" and metrics["seed"] == 0
    rows = metrics["epochs"]
    assert len(rows) >= 3  # the untrained model, then at least two rounds
    for row in rows:
        values = [row[k] for k in ("train_loss", "test_loss", "train_acc", "test_acc")]
        assert all(math.isfinite(v) for v in values), row
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    lines = printed.splitlines()
    assert lines[-1] == result.summary  # not a TTY: no \r redraws, the summary comes last
    assert "\r" not in printed


def test_random_labels_are_memorised_but_not_generalised(quick_run):
    _, result, _ = quick_run("random-labels")
    first, last = result.metrics["epochs"][0], result.metrics["epochs"][-1]
    assert last["train_acc"] > 0.1 + 0.4  # far above chance, 1/K = 0.1, on 200 rows
    # 200 test rows at chance: accuracy ~ Binomial(200, 0.1) / 200, sd 0.021; 0.25 is 7 sd.
    assert last["test_acc"] < 0.25
    assert last["test_loss"] > first["test_loss"] and last["test_loss"] > math.log(10)
    assert "chance 0.1000" in result.summary and "ln 10 = 2.3026" in result.summary


def test_random_labels_ignore_the_images_and_repeat_with_the_seed():
    exp = registry.get("random-labels")
    cfg = exp.config({"classes": (2,)})
    data = exp.load_data(cfg, seed_streams(0))
    again = exp.load_data(cfg, seed_streams(0))
    (_, real), _ = load_dataset("mnist5k")
    np.testing.assert_array_equal(data.y_train, again.y_train)
    assert set(np.unique(data.y_train)) == {0, 1}
    # Independent of the real digit: P(label == (digit is odd)) = 1/2; 4,000 rows, sd 0.008.
    assert abs(np.mean(data.y_train == real % 2) - 0.5) < 0.05


def test_seed002_keeps_two_digits_and_writes_its_figures(tmp_path):
    result, _ = quick("seed002", tmp_path, classes=(4, 9))
    (_, real_train), (_, real_test) = load_dataset("mnist5k")
    exp = registry.get("seed002")
    data = exp.load_data(exp.config({"classes": (4, 9)}), seed_streams(0))
    np.testing.assert_array_equal(data.y_test, (real_test[np.isin(real_test, (4, 9))] == 9))
    assert len(data.y_train) == np.isin(real_train, (4, 9)).sum()
    for figure in ("samples.png", "loss_per_step.png"):
        assert (tmp_path / figure).read_bytes()[:8] == PNG_MAGIC
    assert len(result.metrics["step_losses"]) == 200  # one average loss per GD step
    assert list(result.metrics["hyperparameters"]["classes"]) == [4, 9]


# ---------------------------------------------------------------------- the losses
def test_seed004_objective_is_summed_cross_entropy_plus_reg_sum_w_squared():
    exp, cfg, model, x, y = a_batch("seed004")
    loss, _ = exp.objective(model, Tensor(x), y, cfg)
    w1, b1, w2, b2 = (p.data.astype(np.float64) for p in model.parameters())
    z = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    expected = -log_softmax64(z)[np.arange(len(y)), y].sum()
    expected += 1e-2 * ((w1**2).sum() + (w2**2).sum())  # biases are not penalised
    assert loss.item() == pytest.approx(expected, rel=F32_RTOL)


def test_seed001_objective_is_mean_cross_entropy_against_one_hot_targets():
    exp, cfg, model, x, y = a_batch("seed001")
    loss, _ = exp.objective(model, Tensor(x), y, cfg)
    w1, b1, w2, b2 = (p.data.astype(np.float64) for p in model.parameters())
    z = (1 / (1 + np.exp(-(x @ w1 + b1)))) @ w2 + b2
    one_hot = np.eye(10)[y]
    assert loss.item() == pytest.approx(-(one_hot * log_softmax64(z)).sum(1).mean(), rel=F32_RTOL)


def test_seed002_objective_is_mean_bce_plus_half_lambda_w_squared():
    exp, cfg, model, x, y = a_batch("seed002")
    loss, _ = exp.objective(model, Tensor(x), y, cfg)
    w, b = (p.data.astype(np.float64) for p in model.parameters())
    p = 1 / (1 + np.exp(-(x @ w + b)[:, 0]))
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert loss.item() == pytest.approx(bce + cfg.options["lam"] / 2 * (w**2).sum(), rel=F32_RTOL)


def test_seed003_relu70_puts_a_relu_on_the_logits():
    exp, _, model, x, _ = a_batch("seed003-relu70")
    logits = exp.forward(model, Tensor(x)).data
    assert logits.min() == 0.0  # clamped: some logits are exactly zero ...
    relu50, _, model50, _, _ = a_batch("seed003-relu50")
    assert relu50.forward(model50, Tensor(x)).data.min() < 0  # ... the linear head is not


# ---------------------------------------------------------------------- the toy
def test_toy_trace_is_the_gradient_and_the_loss_falls(quick_run):
    _, result, printed = quick_run("seed003-toy")
    y = np.array([[0.0, 1.0], [1.0, 0.0]])  # labels [1, 0]
    w, b = np.zeros((2, 2)), np.zeros(2)
    for row in result.metrics["epochs"][1:]:
        trace = row["trace"]
        z = np.eye(2) @ w + b
        p = np.exp(log_softmax64(z))
        dz = (p - y) / 2  # d(mean cross-entropy)/dz, N = 2
        np.testing.assert_allclose(trace["z"], z, rtol=0, atol=1e-15)
        np.testing.assert_allclose(trace["dz"], dz, rtol=0, atol=1e-15)
        np.testing.assert_allclose(trace["dW"], np.eye(2).T @ dz, rtol=0, atol=1e-15)
        np.testing.assert_allclose(trace["db"], dz.sum(axis=0), rtol=0, atol=1e-15)
        w, b = w - 1.0 * np.eye(2).T @ dz, b - dz.sum(axis=0)
    losses = [row["train_loss"] for row in result.metrics["epochs"]]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-12)
    assert losses[2] < losses[1] < losses[0]
    assert "dz = [[0.25, -0.25], [-0.25, 0.25]]" in printed  # the report's iteration 0


def test_toy_labels_line_finds_the_descent_labels():
    """CE of the report's z1 = [[-0.5, 0.5], [0.5, -0.5]]: log(1 + e^-1) for labels [1, 0],
    log(1 + e) for labels [0, 1]."""
    line = registry.get("seed003-toy").labels_line(registry.get("seed003-toy").config({}))
    assert f"J = {math.log1p(math.exp(-1)):.4f} for them" in line
    assert f"{math.log1p(math.e):.4f} for labels [0, 1]" in line
    assert REPORT_Z1 == [[-0.5, 0.5], [0.5, -0.5]]


def test_traced_gradients_come_from_the_tape_not_a_formula():
    """With a random W the tape's dW still equals X^T (p - y) / N (float64: 1e-12)."""
    from models.toy import ToyNet

    model = ToyNet()
    rng = np.random.default_rng(5)
    model.linear.weight.data[:] = rng.normal(size=(2, 2))
    x, labels = rng.normal(size=(2, 2)), np.array([0, 1])
    trace = traced_gradients(model, x, labels)
    z = x @ model.linear.weight.data
    dz = (np.exp(log_softmax64(z)) - np.eye(2)[labels]) / 2
    np.testing.assert_allclose(trace["dW"], x.T @ dz, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- initialisation
def test_torch_init_draws_weights_and_biases_uniformly_within_one_over_sqrt_fan_in():
    from models.builders import mlp

    exp = registry.get("seed000")
    model = mlp([784, 100, 10], "relu", exp.config({}), np.random.default_rng(0))
    for (name, p), fan_in in zip(model.named_parameters(), (784, 784, 100, 100), strict=True):
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(p.data).max() <= bound, name
        # U(-a, a) has sd a/sqrt(3). The sample sd of n uniform draws has relative sd
        # sqrt(0.8 / n) / 2: 0.16% for the 78,400 first-layer weights, so 2% is ~12 sd.
        if p.size >= 10_000:
            assert p.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02), name
        assert np.all(p.data != 0), name  # the biases are drawn too, not left at zero
        if p.size >= 100:  # P(all of n draws inside 0.9 a) = 0.9^n: 3e-5 for n = 100
            assert np.abs(p.data).max() > 0.9 * bound, name


def test_unknown_init_is_an_argument_error(tmp_path):
    with pytest.raises(ArgumentError, match="init"):
        quick("seed000", tmp_path, init="lecun")


def test_random_labels_stop_at_the_first_epoch_reaching_target_accuracy(tmp_path):
    result, _ = quick("random-labels", tmp_path, target_acc=0.5)
    accuracies = [row["train_acc"] for row in result.metrics["epochs"]]
    assert accuracies[-1] >= 0.5 and max(accuracies[:-1]) < 0.5
    assert len(accuracies) - 1 < 10  # stopped before the quick run's 10 epochs
