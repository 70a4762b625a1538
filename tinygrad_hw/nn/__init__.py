"""Neural-network building blocks: Module, layers, and ``functional`` (losses, metrics, conv)."""

from tinygrad_hw.nn import functional
from tinygrad_hw.nn.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from tinygrad_hw.nn.layers import MLP, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_hw.nn.module import Module

__all__ = [
    "MLP",
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "Identity",
    "Linear",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
]
