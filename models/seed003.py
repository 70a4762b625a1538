"""Seed 003: softmax regression and two 3-layer networks by SGD, and the 2x2 toy of problem 3.

Problem 4's runs: SGD lr 0.1, 10,000 iterations, each on 32 rows drawn at random, and a line
``iter N, J=..., accu=...`` every 1,000 iterations. Here J is the mean cross-entropy and accu
the accuracy on the whole training set at iteration N (the report does not say which set; a
32-row batch would make both noisy), followed by the test accuracy.

- ``seed003``: one layer of 10 units, z = x W + b (W starts at zero: the loss is convex).
- ``seed003-relu50``: [(50, ReLU), (50, ReLU), (10, linear)].
- ``seed003-relu70``: [(70, ReLU), (70, ReLU), (10, ReLU)]: a ReLU on the logits. Every
  logit that goes negative for a row is clamped to 0 and gets no gradient, so classes can
  die; this variant is worse and less stable than relu50, not better as the report says.

``seed003-toy`` is problem 3 (in ``toy.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.experiment import Config, Data, Experiment
from tinygrad_hw import optim
from tinygrad_hw.nn import MLP, Linear, Module

ITERATION_DEFAULTS: dict[str, Any] = {"steps": 10_000, "batch_size": 32, "lr": 0.1}
QUICK_ITERATIONS: dict[str, Any] = {"steps": 200, "options": {"log_every": 100}}


class SoftmaxRegression(Experiment):
    name = "seed003"
    title = "softmax regression (one layer, 10 units), SGD 0.1, 10,000 iterations of 32"
    seed_report = "003"
    seed_figure = "iter 9000: accu 0.53"
    reference = "test 0.918-0.921"
    schedule = "iterations"
    log_every = 1000
    defaults: ClassVar[dict[str, Any]] = ITERATION_DEFAULTS
    quick_defaults: ClassVar[dict[str, Any]] = QUICK_ITERATIONS

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        model = Linear(data.x_train.shape[1], data.classes, init="zeros", rng=rng)
        return model, optim.SGD(model.parameters(), lr=cfg.lr)

    def round_line(self, row: dict[str, Any], cfg: Config, rounds: int) -> str:
        return (
            f"iter {row['step']}, J={row['train_loss']:.6f}, accu={row['train_acc']:.2f}  "
            f"(test J={row['test_loss']:.6f}, accu={row['test_acc']:.4f})"
        )

    def summary(self, rows: list[dict[str, Any]], data: Data) -> str:
        last = rows[-1]
        return (
            f"{self.name}: test acc {last['test_acc']:.4f}, train acc {last['train_acc']:.4f} "
            f"after {last['step']} iterations"
        )


class ReLU50(SoftmaxRegression):
    name = "seed003-relu50"
    title = "[(50, ReLU), (50, ReLU), (10, linear)], SGD 0.1, 10,000 iterations of 32"
    seed_figure = "iter 9000: accu 0.70"
    reference = "test 0.942-0.946 (train 1.00)"

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        model = MLP([data.x_train.shape[1], 50, 50, data.classes], activation="relu", rng=rng)
        return model, optim.SGD(model.parameters(), lr=cfg.lr)


class ReLU70(SoftmaxRegression):
    name = "seed003-relu70"
    title = "[(70, ReLU), (70, ReLU), (10, ReLU)]: ReLU on the logits, SGD 0.1"
    seed_figure = "iter 9000: accu 0.90"
    reference = "test 0.66-0.86 (ReLU on the logits)"

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        sizes = [data.x_train.shape[1], 70, 70, data.classes]
        model = MLP(sizes, activation="relu", final_activation="relu", rng=rng)
        return model, optim.SGD(model.parameters(), lr=cfg.lr)


EXPERIMENTS = (SoftmaxRegression(), ReLU50(), ReLU70())
