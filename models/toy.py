"""Seed 003, problem 3: two steps of softmax regression on a 2x2 toy, traced by the tape.

X is the 2x2 identity, W and b start at zero, lr = 1, J = mean cross-entropy over N = 2
rows. At iteration 0, z = 0 and p = 0.5 everywhere, so dz = (p - y) / N = +-0.25: the
report's dz = [[0.25, -0.25], [-0.25, 0.25]] is that gradient for y = [[0, 1], [1, 0]], i.e.
labels [1, 0] (sample 0 is class 1). Its z at iteration 1, [[-0.5, 0.5], [0.5, -0.5]], moves
each row towards those labels: a descent step (J = 0.3133 < ln 2). With labels [0, 1] the same
z would raise J to 1.3133, and the report's iteration-1 dz, +-0.3655 = +-p_max / 2, is what
(y - p) / N gives for labels [0, 1]: a sign-flipped gradient, i.e. ascent.

The report's trace also has two slips the maths rules out: db is printed as a 2x2 matrix, but
b has one entry per class, so db = sum over rows of dz = [0, 0] here; and z moves by 0.5 in one
step, which needs that un-summed per-row bias added on top of dW (0.25 + 0.25). With b of
shape (2,) the correct step gives z = [[-0.25, 0.25], [0.25, -0.25]], and J falls from
ln 2 = 0.6931 to 0.4741, then 0.3477.

dz comes from the tape, not a formula: the loss is built on a leaf copy of z, whose ``.grad``
after ``backward()`` is dJ/dz; ``z.backward(dz)`` then carries it on to dW and db.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np

from models.experiment import Config, Data, Experiment
from tinygrad_hw import Tensor, no_grad, optim
from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.nn import Linear, Module
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops.devices import to_host

REPORT_Z1 = [[-0.5, 0.5], [0.5, -0.5]]  # the report's z at iteration 1


class ToyNet(Module):
    """Linear(2, 2) in float64 (so the printed numbers are exact), with the trace of each
    step kept in ``trace`` (a list of dicts: not a parameter)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = Linear(2, 2, init="zeros", dtype=np.float64)
        self.trace: list[dict[str, Any]] = []

    def forward(self, x: Any) -> Tensor:
        return self.linear(x)


def traced_gradients(model: ToyNet, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """z, p, J and the tape's dz, dW, db for one batch; leaves dW, db in the ``.grad``s."""
    z = model(Tensor(x))
    z_leaf = Tensor(z.numpy().copy(), requires_grad=True)  # dJ/dz lands in z_leaf.grad
    loss = F.cross_entropy(z_leaf, y)
    loss.backward()
    model.zero_grad()
    z.backward(z_leaf.grad)  # the chain rule from z on: dW = X^T dz, db = sum_rows dz
    with no_grad():
        p = z_leaf.softmax(axis=1)
    grads = {"dz": z_leaf.grad, "dW": model.linear.weight.grad, "db": model.linear.bias.grad}
    return {
        "z": z.numpy().tolist(),
        "p": p.numpy().tolist(),
        **{k: to_host(v).tolist() for k, v in grads.items()},
        "J": loss.item(),
    }


class Toy(Experiment):
    name = "seed003-toy"
    title = "problem 3: 2x2 toy softmax regression, zero weights, lr 1, two traced steps"
    seed_report = "003"
    seed_figure = "z1 = [[-0.5, 0.5], [0.5, -0.5]], dz1 = +-0.3655 (ascent for labels [0, 1])"
    reference = "closed form (p - y) / N, labels [1, 0]: J 0.6931 -> 0.4741 -> 0.3477"
    schedule = "iterations"
    log_every = 1
    has_test_set = False  # it evaluates on its two training rows
    defaults: ClassVar[dict[str, Any]] = {
        "steps": 2,
        "batch_size": 0,
        "lr": 1.0,
        "data": "toy",
        "classes": (1, 0),
    }

    def check_config(self, cfg: Config) -> None:
        labels = np.array(cfg.classes, dtype=np.int64)
        if labels.shape != (2,) or not np.isin(labels, (0, 1)).all():
            raise ArgumentError(
                f"seed003-toy: --classes must be two labels in {{0, 1}}, got {cfg.classes}"
            )

    def load_data(self, cfg: Config, streams: dict[str, np.random.Generator]) -> Data:
        """X = I (2x2); ``--classes a,b`` gives the labels of rows 0 and 1 (default 1,0)."""
        self.check_config(cfg)
        labels = np.array(cfg.classes, dtype=np.int64)
        x = np.eye(2)
        return Data(x, labels, x, labels, 2, f"X = I, labels {labels.tolist()}")

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        model = ToyNet()
        return model, optim.SGD(model.parameters(), lr=cfg.lr)

    def train_step(
        self, model: Module, optimizer: Any, xb: np.ndarray, yb: np.ndarray, cfg: Config
    ) -> tuple[float, int]:
        trace = traced_gradients(model, xb, yb)
        optimizer.step()
        model.trace.append(trace)
        return trace["J"], self.count_correct(np.array(trace["z"]), yb)

    def row_extras(self, model: Module) -> dict[str, Any]:
        return {"trace": model.trace[-1]} if model.trace else {}

    def round_line(self, row: dict[str, Any], cfg: Config, rounds: int) -> str:
        if "trace" not in row:
            return self.labels_line(cfg) + f"\nstart: W = 0, b = 0, J = {row['train_loss']:.6f}"
        lines = [f"iteration = {row['step'] - 1}"]
        lines += [f"{key} = {_fmt(row['trace'][key])}" for key in ("z", "p", "dz", "dW", "db")]
        return "\n".join([*lines, f"J after the step = {row['train_loss']:.6f}"])

    def labels_line(self, cfg: Config) -> str:
        """Which labels make the report's iteration-1 z a descent step, computed."""
        y = np.array(cfg.classes, dtype=np.int64)
        j_here = F.cross_entropy(Tensor(REPORT_Z1), y).item()
        j_flip = F.cross_entropy(Tensor(REPORT_Z1), 1 - y).item()
        return (
            f"labels {y.tolist()} (y = {F.one_hot(y, 2, np.int64).tolist()}); the report's "
            f"iteration-1 z {REPORT_Z1} has J = {j_here:.4f} for them and {j_flip:.4f} for "
            f"labels {(1 - y).tolist()} (ln 2 = {np.log(2):.4f} at the start)"
        )

    def summary(self, rows: list[dict[str, Any]], data: Data) -> str:
        losses = " -> ".join(f"{row['train_loss']:.4f}" for row in rows)
        falls = all(b["train_loss"] < a["train_loss"] for a, b in itertools.pairwise(rows))
        verdict = "falls at every step" if falls else "does NOT fall at every step"
        return f"{self.name} ({data.note}): J {losses}; the loss {verdict}"


def _fmt(value: Any) -> str:
    return str(np.round(np.array(value), 12).tolist())


EXPERIMENTS = (Toy(),)
