"""Neural-network building blocks: Module, layers, and ``functional`` (losses, metrics, conv)."""

from tinygrad_hw.nn import functional
from tinygrad_hw.nn.activations import Dropout
from tinygrad_hw.nn.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from tinygrad_hw.nn.embedding import Embedding
from tinygrad_hw.nn.layers import MLP, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_hw.nn.module import Module
from tinygrad_hw.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LayerNorm",
    "Linear",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
]
