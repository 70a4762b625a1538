"""Optimizers (SGD, Adam, AdamW) that update parameters in place, and lr schedules."""

from tinygrad_hw.optim.adam import Adam, AdamW
from tinygrad_hw.optim.base import Optimizer
from tinygrad_hw.optim.schedules import CosineLR, Schedule, StepLR
from tinygrad_hw.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "CosineLR", "Optimizer", "Schedule", "StepLR"]
