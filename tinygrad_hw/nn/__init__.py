"""Neural-network building blocks: Module, layers, and ``functional`` (losses and metrics)."""

from tinygrad_hw.nn import functional
from tinygrad_hw.nn.layers import MLP, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_hw.nn.module import Module

__all__ = [
    "MLP",
    "Identity",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
]
