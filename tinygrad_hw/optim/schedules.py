"""Learning-rate schedules: each sets ``optimizer.lr`` from a closed form of its step count.

Call ``schedule.step()`` once per epoch (or once per optimizer step: the caller decides what a
step is). The schedule reads the optimizer's lr once, at construction, as ``base_lr``. Its
state is two numbers, so it fits in a checkpoint's JSON meta:
``save(path, model, optimizer, schedule=schedule.state_dict())``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.optim.base import Optimizer, check_number


class Schedule:
    """Base class: subclasses define ``lr_at(step)``."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise DTypeError(
                f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_step = 0

    def lr_at(self, step: int) -> float:
        raise NotImplementedError

    @property
    def lr(self) -> float:
        return self.lr_at(self.last_step)

    def step(self) -> None:
        """Advance one step and set the optimizer's lr to ``lr_at`` the new step."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)

    def state_dict(self) -> dict[str, float | int]:
        return {"base_lr": self.base_lr, "last_step": self.last_step}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``base_lr`` and ``last_step`` and set the optimizer's lr accordingly."""
        name = type(self).__name__
        if set(state) != {"base_lr", "last_step"}:
            raise ArgumentError(
                f"{name}.load_state_dict: expected keys base_lr, last_step, got {sorted(state)}"
            )
        base_lr = check_number(name, "base_lr", state["base_lr"])
        last_step = _count(name, "last_step", state["last_step"], minimum=0)
        self.base_lr, self.last_step = base_lr, last_step
        self.optimizer.lr = self.lr


class StepLR(Schedule):
    """lr(t) = base_lr * gamma ** floor(t / step_size): divide by 1/gamma every step_size steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _count("StepLR", "step_size", step_size, minimum=1)
        self.gamma = check_number("StepLR", "gamma", gamma)
        if self.gamma == 0:
            raise ArgumentError("StepLR: gamma must be > 0, got 0")

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR(Schedule):
    """lr(t) = min_lr + (base_lr - min_lr) (1 + cos(pi min(t, T) / T)) / 2 with T = total_steps:
    half a cosine from base_lr down to min_lr, reached at step T and kept afterwards."""

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0) -> None:
        super().__init__(optimizer)
        self.total_steps = _count("CosineLR", "total_steps", total_steps, minimum=1)
        self.min_lr = check_number("CosineLR", "min_lr", min_lr)
        if self.min_lr > self.base_lr:
            raise ArgumentError(
                f"CosineLR: min_lr={self.min_lr} is above the optimizer's lr={self.base_lr}"
            )

    def lr_at(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


def _count(owner: str, name: str, value: Any, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise DTypeError(f"{owner}: {name} must be an int, got {value!r:.60}") from None
    if number < minimum:
        raise ArgumentError(f"{owner}: {name} must be >= {minimum}, got {number}")
    return number
