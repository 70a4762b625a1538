"""Seeds 000 and 001, question 2: a network memorises labels drawn at random.

Every training and test label is replaced by one drawn uniformly from K classes (10, or 2
with ``--classes 2``), independently of the image. A 784-512-K ReLU network trained with
Adam drives the training loss towards zero (it has 407,050 parameters for 4,000 rows), while
nothing about the test labels can be learnt: test accuracy stays at chance, 1/K, and the
test loss climbs above ln K, the loss of predicting 1/K for every class, because the network
is now confidently wrong on about (K-1)/K of the test rows.

Training stops at the first epoch whose training accuracy reaches ``target_acc`` (default
1.0: every training label memorised; the training loss is then ~0.03), or after ``--epochs``.
That is the reference's stopping point: from PyTorch's initialisation it comes after 79
epochs for K = 10 (test loss 5.62) and 56 for K = 2, and the test loss keeps climbing
afterwards (6.5 at epoch 113, when the training loss reaches 0.01).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from models import builders
from models.experiment import QUICK_TEST, Config, Data, Experiment
from tinygrad_hw import optim
from tinygrad_hw.datasets import load_dataset
from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.nn import Module

HIDDEN = 512
QUICK_ROWS = 200  # --quick: few enough rows that 10 epochs visibly start memorising them


class RandomLabels(Experiment):
    name = "random-labels"
    title = "784-512-K ReLU MLP, Adam, on uniformly random labels (K = 10, or --classes 2)"
    seed_report = "000, 001"
    seed_figure = "train loss ~0, test loss 'almost the initial'; K=2: test loss 1.93, acc 0.50"
    reference = "K=10: train 1.00, test ~0.10, test loss 5.5-5.7; K=2: test 0.485-0.488"
    plot_chance = True
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 200,
        "batch_size": 100,
        "lr": 1e-3,
        "classes": (10,),
        "options": {"target_acc": 1.0, "init": "torch"},
    }
    quick_defaults: ClassVar[dict[str, Any]] = {"epochs": 10, "batch_size": 50}

    def check_config(self, cfg: Config) -> None:
        _classes(cfg)

    def load_data(self, cfg: Config, streams: dict[str, np.random.Generator]) -> Data:
        """The images of the data set, with labels drawn from the run's own label stream."""
        k = _classes(cfg)
        (x_train, _), (x_test, _) = load_dataset(cfg.data)
        if cfg.quick:
            x_train, x_test = x_train[:QUICK_ROWS], x_test[:QUICK_TEST]
        rng = streams["labels"]
        y_train = rng.integers(0, k, size=len(x_train))
        y_test = rng.integers(0, k, size=len(x_test))
        note = f"uniformly random over {k} classes, independent of the images"
        return Data(x_train, y_train, x_test, y_test, k, note)

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        sizes = [data.x_train.shape[1], HIDDEN, data.classes]
        model = builders.mlp(sizes, "relu", cfg, rng)
        return model, optim.Adam(model.parameters(), lr=cfg.lr)

    def figure_title(self, data: Data) -> str:
        k = data.classes
        return f"{self.name}: 784-{HIDDEN}-{k} ReLU MLP, Adam, on uniformly random labels (K = {k})"

    def should_stop(self, row: dict[str, Any], cfg: Config) -> bool:
        return row["epoch"] > 0 and row["train_acc"] >= cfg.options["target_acc"]

    def summary(self, rows: list[dict[str, Any]], data: Data) -> str:
        last, k = rows[-1], data.classes
        return (
            f"{self.name} (K={k}): after {last['epoch']} epochs train acc "
            f"{last['train_acc']:.4f} (train loss {last['train_loss']:.4f}), but test acc "
            f"{last['test_acc']:.4f} (chance {1 / k:.4f}) and test loss "
            f"{last['test_loss']:.4f} vs ln {k} = {math.log(k):.4f}"
        )


def _classes(cfg: Config) -> int:
    if len(cfg.classes) != 1 or cfg.classes[0] < 2:
        raise ArgumentError(f"random-labels: --classes takes one K >= 2, got {cfg.classes}")
    return int(cfg.classes[0])


EXPERIMENTS = (RandomLabels(),)
