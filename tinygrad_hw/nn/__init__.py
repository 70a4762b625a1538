"""Neural-network building blocks: Module, layers, and ``functional`` (losses and metrics)."""

from tinygrad_hw.nn import functional
from tinygrad_hw.nn.activations import Dropout
from tinygrad_hw.nn.embedding import Embedding
from tinygrad_hw.nn.layers import MLP, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_hw.nn.module import Module
from tinygrad_hw.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "MLP",
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "Embedding",
    "Identity",
    "LayerNorm",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
]
