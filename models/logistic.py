"""Seed 002: logistic regression on two MNIST digits, by full-batch gradient descent.

    p = sigmoid(x . w + b),   J(w, b) = mean_n BCE(p_n, t_n) + (lambda / 2) ||w||^2
    dJ/dw = X^T (p - t) / N + lambda w,   dJ/db = mean(p - t)

with t = 1 for the second digit and 0 for the first (default 0 vs 1; ``--classes 4,9``).
The bias is not penalised. Sigmoid and binary cross-entropy are taken together from the
logits (``binary_cross_entropy_with_logits``): the same function, without log(0) once the
classes are separated. 1,000 steps of plain gradient descent on all training rows; every
step's loss is kept for the report's "average loss per training step" plot, and
``samples.png`` shows test digits with their predicted labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models import plots
from models.experiment import Config, Data, Experiment, quick_subset
from tinygrad_hw import Tensor, no_grad, optim
from tinygrad_hw.datasets import load_dataset
from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.nn import Linear, Module
from tinygrad_hw.nn import functional as F

SAMPLES = 16  # test digits shown in samples.png
DIGITS = 10  # every data set here (MNIST, Fashion-MNIST, digits) has classes 0-9


class LogisticRegression(Experiment):
    name = "seed002"
    title = "logistic regression, two digits, L2 (lambda/2)||w||^2, full-batch GD"
    seed_report = "002"
    seed_figure = "no accuracy stated (loss plot and sample digits only)"
    reference = "0 vs 1: 1.000, 4 vs 9: 0.985"
    schedule = "iterations"
    log_every = 100
    record_steps = True
    defaults: ClassVar[dict[str, Any]] = {
        "steps": 1000,
        "batch_size": 0,
        "lr": 0.1,
        "classes": (0, 1),
        "options": {"lam": 1e-3},
    }
    quick_defaults: ClassVar[dict[str, Any]] = {"steps": 200}

    def check_config(self, cfg: Config) -> None:
        _two_classes(cfg.classes)

    def load_data(self, cfg: Config, streams: dict[str, np.random.Generator]) -> Data:
        """The rows of the two digits only, relabelled 0 (first digit) and 1 (second)."""
        classes = _two_classes(cfg.classes)
        (x_train, y_train), (x_test, y_test) = load_dataset(cfg.data)
        keep_train, keep_test = np.isin(y_train, classes), np.isin(y_test, classes)
        note = f"digit {classes[0]} -> 0, digit {classes[1]} -> 1"
        data = Data(
            x_train[keep_train], _is(y_train[keep_train], classes[1]),
            x_test[keep_test], _is(y_test[keep_test], classes[1]), 2, note,
        )  # fmt: skip
        return quick_subset(data) if cfg.quick else data

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        model = Linear(data.x_train.shape[1], 1, init="zeros", rng=rng)
        return model, optim.SGD(model.parameters(), lr=cfg.lr)

    def forward(self, model: Module, x: Tensor) -> Tensor:
        return model(x).reshape(-1)  # one logit per row, shape (N,) like the targets

    def objective(
        self, model: Module, x: Tensor, y: np.ndarray, cfg: Config
    ) -> tuple[Tensor, Tensor]:
        logits = self.forward(model, x)
        bce = F.binary_cross_entropy_with_logits(logits, y.astype(logits.dtype))
        return bce + F.l2_penalty([model.weight], cfg.options["lam"] / 2), logits

    def loss_sum(self, logits: Tensor, y: np.ndarray) -> float:
        targets = y.astype(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum").item()

    def count_correct(self, logits: np.ndarray, y: np.ndarray) -> int:
        return int(np.sum((logits > 0) == (y == 1)))  # sigmoid(z) > 0.5 exactly when z > 0

    def round_line(self, row: dict[str, Any], cfg: Config, rounds: int) -> str:
        return (
            f"step {row['step']:>5}/{cfg.steps}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f}  test loss {row['test_loss']:.4f} "
            f"acc {row['test_acc']:.4f}"
        )

    def figure_title(self, data: Data) -> str:
        return f"{self.name}: logistic regression, {data.note}, full-batch GD with L2"

    def summary(self, rows: list[dict[str, Any]], data: Data) -> str:
        last = rows[-1]
        return (
            f"{self.name} ({data.note}): test acc {last['test_acc']:.4f}, "
            f"train acc {last['train_acc']:.4f} after {last['step']} gradient-descent steps"
        )

    def extra_outputs(self, out: Path, model: Module, data: Data, metrics: dict) -> None:
        """loss_per_step.png (the report's loss plot) and samples.png."""
        title = f"logistic regression, {data.note}: average training loss per step"
        if metrics["hyperparameters"].get("quick"):
            title += f" (--quick: {len(data.x_train)} training rows)"
        ylabel = r"average loss: mean BCE + $\frac{\lambda}{2}\|w\|^2$"
        path = Path(out) / "loss_per_step.png"
        plots.plot_step_losses(metrics["step_losses"], title, path, ylabel)
        digits = _two_classes(tuple(metrics["hyperparameters"]["classes"]))
        with no_grad():
            logits = self.forward(model, Tensor(data.x_test[:SAMPLES])).numpy()
        predicted = [digits[int(z > 0)] for z in logits]
        actual = [digits[int(t)] for t in data.y_test[:SAMPLES]]
        plots.plot_samples(data.x_test[:SAMPLES], predicted, actual, Path(out) / "samples.png")


def _is(labels: np.ndarray, digit: int) -> np.ndarray:
    """1 where the label is ``digit``, else 0 (int64)."""
    return (labels == digit).astype(np.int64)


def _two_classes(classes: tuple[int, ...]) -> tuple[int, int]:
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ArgumentError(
            f"seed002 needs two different digits, e.g. --classes 4,9; got {classes}"
        )
    wrong = [c for c in classes if not 0 <= c < DIGITS]
    if wrong:
        raise ArgumentError(
            f"--classes: seed002's classes are digits 0 to {DIGITS - 1}; "
            f"got {wrong[0]} in {classes}"
        )
    return int(classes[0]), int(classes[1])


EXPERIMENTS = (LogisticRegression(),)
