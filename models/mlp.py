"""Seeds 000, 001 and 004: a 784-100-10 network on MNIST, trained three ways.

- seed000: ReLU hidden layer, softmax cross-entropy (mean over the batch), Adam
  (lr 1e-3, betas 0.9/0.999, eps 1e-8), batch 100, 15 epochs.
- seed001: sigmoid hidden layer, softmax + cross-entropy against ONE-HOT targets
  (-sum_k t_k log softmax(z)_k, whose gradient is softmax(z) - t), plain SGD lr 0.22,
  batch 128, 15 epochs.
- seed004: ReLU hidden layer, cross-entropy SUMMED over the batch plus
  reg * (sum W1^2 + sum W2^2) with reg 1e-2 (biases not penalised, as in the report's code),
  SGD lr 1e-4, batch 30, 200 epochs. Summing instead of averaging makes each step 30 times
  larger than with a mean, so lr 1e-4 acts like 3e-3 on the mean loss; the penalty's
  gradient 2 reg W is applied once per batch, i.e. about 134 times an epoch.

Weights and biases start from PyTorch's default initialisation, as in the reference runs
(``--set init=he`` or ``init=xavier`` for tinygrad_hw's own; see builders.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models import builders
from models.experiment import Config, Data, Experiment
from tinygrad_hw import Tensor, optim
from tinygrad_hw.nn import Module
from tinygrad_hw.nn import functional as F

HIDDEN = 100


def weights(model: Module) -> list[Tensor]:
    """The weight matrices (not the biases) of a model, in layer order."""
    return [t for name, t in model.named_parameters() if name.endswith("weight")]


class Seed000(Experiment):
    name = "seed000"
    title = "784-100-10 ReLU MLP, softmax cross-entropy, Adam"
    seed_report = "000"
    seed_figure = "no accuracy stated (loss curves only)"
    reference = "test 0.917-0.933"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 15,
        "batch_size": 100,
        "lr": 1e-3,
        "options": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "init": "torch"},
    }
    quick_defaults: ClassVar[dict[str, Any]] = {"epochs": 2}

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        sizes = [data.x_train.shape[1], HIDDEN, data.classes]
        model = builders.mlp(sizes, "relu", cfg, rng)
        o = cfg.options
        betas = (o["beta1"], o["beta2"])
        return model, optim.Adam(model.parameters(), lr=cfg.lr, betas=betas, eps=o["eps"])


class Seed001(Experiment):
    name = "seed001"
    title = "784-100-10 sigmoid MLP, softmax + cross-entropy on one-hot labels, SGD 0.22"
    seed_report = "001"
    seed_figure = "'above 75% quite early on' (no final figure)"
    reference = "test 0.894-0.908"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 15,
        "batch_size": 128,
        "lr": 0.22,
        "options": {"init": "torch"},
    }
    quick_defaults: ClassVar[dict[str, Any]] = {"epochs": 2}

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        sizes = [data.x_train.shape[1], HIDDEN, data.classes]
        model = builders.mlp(sizes, "sigmoid", cfg, rng)
        return model, optim.SGD(model.parameters(), lr=cfg.lr)

    def objective(
        self, model: Module, x: Tensor, y: np.ndarray, cfg: Config
    ) -> tuple[Tensor, Tensor]:
        logits = self.forward(model, x)
        targets = F.one_hot(y, logits.shape[1], dtype=logits.dtype)
        return F.cross_entropy(logits, targets), logits


class Seed004(Experiment):
    name = "seed004"
    title = "784-100-10 ReLU MLP, summed cross-entropy + reg * sum(W^2), SGD 1e-4, batch 30"
    seed_report = "004"
    seed_figure = "train 0.992, test 0.952 (2,580 digits scaled to [-1, 1])"
    reference = "test 0.919-0.929, train 0.95-0.98"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 200,
        "batch_size": 30,
        "lr": 1e-4,
        "options": {"reg": 1e-2, "init": "torch"},
    }
    quick_defaults: ClassVar[dict[str, Any]] = {"epochs": 2}

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        sizes = [data.x_train.shape[1], HIDDEN, data.classes]
        model = builders.mlp(sizes, "relu", cfg, rng)
        return model, optim.SGD(model.parameters(), lr=cfg.lr)

    def objective(
        self, model: Module, x: Tensor, y: np.ndarray, cfg: Config
    ) -> tuple[Tensor, Tensor]:
        logits = self.forward(model, x)
        data_term = F.cross_entropy(logits, y, reduction="sum")
        return data_term + F.l2_penalty(weights(model), cfg.options["reg"]), logits


EXPERIMENTS = (Seed000(), Seed001(), Seed004())
