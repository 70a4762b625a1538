"""A LeNet-5-like CNN on 28x28 digits (issue 10): the first network here that is not an MLP.

conv 5x5, 6 channels (padding 2, so 28x28 stays 28x28) -> ReLU -> 2x2 max pool -> conv 5x5,
16 channels -> ReLU -> 2x2 max pool -> 400 -> 120 -> 84 -> 10 (ReLU between), softmax
cross-entropy, Adam lr 1e-3, batch 64, 10 epochs. LeCun et al.'s LeNet-5 reads 32x32 images
with no padding; the padding gives the same 28 -> 14 -> 10 -> 5 sizes on MNIST's 28x28.

Weights start from PyTorch's default initialisation (``--set init=torch``, see builders.py),
as the PyTorch reference (``python -m benchmarks.lenet_reference``) does, so the two runs differ
only in their random numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models import builders
from models.experiment import Config, Data, Experiment
from tinygrad_hw import Tensor, nn, optim
from tinygrad_hw.errors import ArgumentError, ShapeError
from tinygrad_hw.nn import Module
from tinygrad_hw.nn import functional as F

SIDE = 28  # images are 28x28, one channel


class LeNet(Module):
    """conv(1->6, 5x5, pad 2) - pool - conv(6->16, 5x5) - pool - 120 - 84 - classes."""

    def __init__(self, classes: int = 10, rng: Any = None, dtype: Any = np.float32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2, rng=rng, dtype=dtype)
        self.conv2 = nn.Conv2d(6, 16, 5, rng=rng, dtype=dtype)
        self.fc1 = nn.Linear(16 * 5 * 5, 120, rng=rng, dtype=dtype)
        self.fc2 = nn.Linear(120, 84, rng=rng, dtype=dtype)
        self.fc3 = nn.Linear(84, classes, rng=rng, dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 2:  # flattened rows, as the data loaders give them
            if x.shape[1] != SIDE * SIDE:
                raise ShapeError(
                    f"LeNet: rows of {x.shape[1]} pixels; it needs {SIDE}x{SIDE} images "
                    f"({SIDE * SIDE} pixels): use --data mnist5k, mnist or fashion"
                )
            x = x.reshape(-1, 1, SIDE, SIDE)
        x = F.max_pool2d(self.conv1(x).relu(), 2)
        x = F.max_pool2d(self.conv2(x).relu(), 2)
        x = x.reshape(x.shape[0], -1)
        x = self.fc1(x).relu()
        x = self.fc2(x).relu()
        return self.fc3(x)


class LeNetExperiment(Experiment):
    name = "lenet"
    title = "LeNet-5-like CNN (conv 6, pool, conv 16, pool, 120, 84), ReLU, Adam"
    seed_report = ""
    seed_figure = "(no seed report: the CNN the seeds' next homework asks for)"
    reference = "test 0.958-0.964"  # benchmarks/lenet_reference.py, mnist5k, seeds 0-2
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-3,
        "options": {"init": "torch"},
    }
    quick_defaults: ClassVar[dict[str, Any]] = {"epochs": 2}

    def build(self, cfg: Config, data: Data, rng: np.random.Generator) -> tuple[Module, Any]:
        scheme = builders.init_scheme(cfg)
        if scheme == "xavier":
            raise ArgumentError("lenet: --set init= must be torch or he (its layers are ReLU)")
        model = LeNet(data.classes, rng=rng)  # He-initialised
        if scheme == "torch":
            builders.torch_default_init(model, rng)
        return model, optim.Adam(model.parameters(), lr=cfg.lr)


EXPERIMENTS = (LeNetExperiment(),)
