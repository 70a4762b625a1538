"""tinygrad_hw: a small, readable reverse-mode autograd on numpy, for learning and checking
backpropagation."""

from tinygrad_hw.autodiff import detect_anomaly, is_grad_enabled, no_grad
from tinygrad_hw.errors import (
    AnomalyError,
    ArgumentError,
    BadIndexError,
    DataError,
    DTypeError,
    GradcheckError,
    GraphError,
    MissingDataError,
    ShapeError,
    TinygradHWError,
)
from tinygrad_hw.gradcheck import gradcheck
from tinygrad_hw.tensor import Tensor, concatenate, stack, where

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "ArgumentError",
    "BadIndexError",
    "DTypeError",
    "DataError",
    "GradcheckError",
    "GraphError",
    "MissingDataError",
    "ShapeError",
    "Tensor",
    "TinygradHWError",
    "concatenate",
    "detect_anomaly",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "stack",
    "where",
]
