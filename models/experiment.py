"""What an experiment is: its hyperparameters, its data, its model, its loss.

An :class:`Experiment` subclass declares the seed report it reproduces and overrides a few
methods (``build``, ``objective``, maybe ``load_data``); the shared runner (``runner.py``)
does the rest: the training loop, evaluation, metrics, figures, checkpoints and resume.

Two schedules cover the seed reports:

- ``"epochs"``: one round is one pass over the shuffled training set in minibatches;
- ``"iterations"``: ``steps`` optimizer steps in total, reported every ``log_every`` steps
  (one round), each step on ``batch_size`` rows drawn uniformly at random with replacement,
  or on the whole training set when ``batch_size`` is 0 (full-batch gradient descent).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tinygrad_hw import Tensor
from tinygrad_hw.data import minibatches
from tinygrad_hw.datasets import load_dataset
from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.nn import Module
from tinygrad_hw.nn import functional as F

QUICK_TRAIN, QUICK_TEST = 500, 200  # rows kept by --quick: seconds per run, enough to learn
Batch = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Config:
    """The hyperparameters of one run. ``epochs`` counts passes over the data (``"epochs"``
    schedule); ``steps`` counts optimizer steps (``"iterations"`` schedule); ``batch_size``
    0 means full batch. ``classes`` is experiment specific (two digits, or K random labels);
    ``options`` holds the rest (betas, reg, lam, target_loss, ...)."""

    epochs: int = 0
    steps: int = 0
    batch_size: int = 100
    lr: float = 1e-3
    data: str = "mnist5k"
    seed: int = 0
    quick: bool = False
    classes: tuple[int, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> Config:
        return cls(**{**saved, "classes": tuple(saved.get("classes", ()))})


@dataclass
class Data:
    """Training and test arrays, the number of classes, and how the labels were made."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    note: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "train": len(self.x_train),
            "test": len(self.x_test),
            "features": int(self.x_train.shape[1]),
            "classes": self.classes,
            "labels": self.note or "the data set's own labels",
        }


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for initial weights, data order and made-up labels.

    Spawned from one SeedSequence, so changing how many numbers one consumer draws never
    shifts another's stream (a resumed run redraws the same labels, for instance).
    """
    children = np.random.SeedSequence(seed).spawn(3)
    return dict(zip(("init", "order", "labels"), map(np.random.default_rng, children), strict=True))


class Experiment:
    """One runnable experiment; subclasses set the class attributes and override ``build``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""  # one line for `python -m models list`
    seed_report: ClassVar[str] = ""  # which homework report it reproduces
    seed_figure: ClassVar[str] = ""  # what that report states
    reference: ClassVar[str] = ""  # independent reference (PyTorch, mnist5k, 3 seeds)
    schedule: ClassVar[str] = "epochs"
    log_every: ClassVar[int] = 1000
    record_steps: ClassVar[bool] = False  # keep every step's loss in metrics.json
    plot_chance: ClassVar[bool] = False  # draw the chance level (ln K, 1/K) on the curves
    has_test_set: ClassVar[bool] = True  # False: the "test" rows are the training rows
    defaults: ClassVar[dict[str, Any]] = {}
    quick_defaults: ClassVar[dict[str, Any]] = {}

    # ------------------------------------------------------------------ configuration
    def config(self, overrides: dict[str, Any], quick: bool = False) -> Config:
        """Defaults, then the quick defaults (with ``quick``), then explicit overrides.

        Overrides that are not Config fields (``reg``, ``lam``, ...) go into ``options``.
        """
        self.check_schedule(overrides)
        layers = [self.defaults, self.quick_defaults if quick else {}, overrides]
        values: dict[str, Any] = {"quick": quick}
        options: dict[str, Any] = {}
        for layer in layers:
            for key, value in layer.items():
                if key == "options":
                    options.update(value)
                elif key in Config.__dataclass_fields__:
                    values[key] = value
                else:
                    options[key] = value
        return Config(**values, options=options)

    def check_schedule(self, overrides: dict[str, Any]) -> None:
        """--epochs belongs to epoch schedules, --steps to iteration schedules."""
        wrong = "steps" if self.schedule == "epochs" else "epochs"
        if overrides.get(wrong) is not None:
            right = "epochs" if wrong == "steps" else "steps"
            raise ArgumentError(
                f"{self.name} counts {right}, not {wrong}: use --{right} instead of --{wrong}"
            )

    def option_names(self) -> set[str]:
        """The ``--set`` keys this experiment reads (those of its defaults' options)."""
        names = set(self.defaults.get("options", {})) | set(self.quick_defaults.get("options", {}))
        return names | ({"log_every"} if self.schedule == "iterations" else set())

    def check_config(self, cfg: Config) -> None:
        """Raise ArgumentError for a config this experiment cannot run (before any data is
        loaded); experiments that read ``classes`` check them here."""

    def rounds(self, cfg: Config) -> int:
        """Rounds of training: epochs, or blocks of ``log_every`` steps."""
        if self.schedule == "epochs":
            return cfg.epochs
        return math.ceil(cfg.steps / self.round_steps(cfg))

    def round_steps(self, cfg: Config) -> int:
        """Steps per round of the iterations schedule: ``log_every`` (an option)."""
        return max(1, int(cfg.options.get("log_every", self.log_every)))

    def steps_in_round(self, cfg: Config, data: Data, index: int) -> int:
        """Optimizer steps in round ``index`` (the last round may be shorter)."""
        if self.schedule == "epochs":
            n = len(data.x_train)
            return n if cfg.batch_size == 0 else math.ceil(n / cfg.batch_size)
        per_round = self.round_steps(cfg)
        return min(per_round, cfg.steps - index * per_round)

    # ------------------------------------------------------------------ data
    def load_data(self, cfg: Config, streams: dict[str, np.random.Generator]) -> Data:
        """The named data set (train/test as the loader splits it), cut down when quick."""
        (x_train, y_train), (x_test, y_test) = load_dataset(cfg.data)
        data = Data(x_train, y_train, x_test, y_test, int(max(y_train.max(), y_test.max())) + 1)
        return quick_subset(data) if cfg.quick else data

    def batches(
        self, cfg: Config, data: Data, rng: np.random.Generator, index: int
    ) -> Iterator[Batch]:
        """The batches of round ``index``, drawing their order from ``rng``."""
        x, y = data.x_train, data.y_train
        if self.schedule == "epochs":
            return minibatches(x, y, cfg.batch_size or len(x), shuffle=True, seed=rng)
        return sampled_batches(x, y, cfg.batch_size, self.steps_in_round(cfg, data, index), rng)

    # ------------------------------------------------------------------ model and loss
    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        """The model and its optimizer."""
        raise NotImplementedError

    def forward(self, model: Module, x: Tensor) -> Tensor:
        """The logits (or scores) the loss and the accuracy are computed from."""
        return model(x)

    def objective(
        self, model: Module, x: Tensor, y: np.ndarray, cfg: Config
    ) -> tuple[Tensor, Tensor]:
        """The training loss being minimised, and the logits it came from."""
        logits = self.forward(model, x)
        return F.cross_entropy(logits, y), logits

    def loss_sum(self, logits: Tensor, y: np.ndarray) -> float:
        """Summed loss over the rows, without any penalty; divided by N it is the mean loss per
        example that metrics.json reports, comparable between experiments."""
        return F.cross_entropy(logits, y, reduction="sum").item()

    def count_correct(self, logits: np.ndarray, y: np.ndarray) -> int:
        return int(np.sum(np.argmax(logits, axis=1) == y))

    def train_step(
        self, model: Module, optimizer: Any, xb: np.ndarray, yb: np.ndarray, cfg: Config
    ) -> tuple[float, int]:
        """One optimizer step on a batch: the loss it had and how many rows it got right."""
        optimizer.zero_grad()
        loss, logits = self.objective(model, Tensor(xb), yb, cfg)
        loss.backward()
        optimizer.step()
        return loss.item(), self.count_correct(logits.numpy(), yb)

    def row_extras(self, model: Module) -> dict[str, Any]:
        """Extra entries for each round's metrics row (JSON-serialisable)."""
        return {}

    def should_stop(self, row: dict[str, Any], cfg: Config) -> bool:
        """Stop before the planned number of rounds (after the round that gave ``row``)."""
        return False

    # ------------------------------------------------------------------ reporting hooks
    def round_line(self, row: dict[str, Any], cfg: Config, rounds: int) -> str:
        """The permanent line printed after each round (and for round 0, before training)."""
        width = len(str(rounds))
        return (
            f"epoch {row['epoch']:>{width}}/{rounds}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f}  test loss {row['test_loss']:.4f} "
            f"acc {row['test_acc']:.4f}  {row['seconds']:.2f}s"
        )

    def summary(self, rows: list[dict[str, Any]], data: Data) -> str:
        last = rows[-1]
        return (
            f"{self.name}: train acc {last['train_acc']:.4f}, test acc {last['test_acc']:.4f}, "
            f"test loss {last['test_loss']:.4f} after {last['epoch']} {self.unit()}s"
        )

    def figure_title(self, data: Data) -> str:
        """The title of curves.png."""
        return f"{self.name}: {self.title}"

    def unit(self) -> str:
        return "epoch" if self.schedule == "epochs" else "round"

    def extra_outputs(self, out: Any, model: Module, data: Data, metrics: dict) -> None:
        """Experiment-specific figures (written after training)."""


def quick_subset(data: Data, train: int = QUICK_TRAIN, test: int = QUICK_TEST) -> Data:
    """The first rows of each split (the loaders shuffle, so these mix all classes)."""
    return dataclasses.replace(
        data,
        x_train=data.x_train[:train],
        y_train=data.y_train[:train],
        x_test=data.x_test[:test],
        y_test=data.y_test[:test],
    )


def sampled_batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, count: int, rng: np.random.Generator
) -> Iterator[Batch]:
    """``count`` batches of ``batch_size`` rows drawn with replacement (all rows when 0)."""
    for _ in range(count):
        if batch_size == 0:
            yield x, y
        else:
            rows = rng.integers(0, len(x), size=batch_size)
            yield x[rows], y[rows]
