"""tinygrad_hw: a small, readable reverse-mode autograd on numpy, for learning and checking
backpropagation.

``tinygrad_hw.testing`` (Hypothesis strategies and gradient assertions) is imported on its own,
so that the library needs only numpy.
"""

from tinygrad_hw import checkpoint, graph, nn, optim
from tinygrad_hw.autodiff import detect_anomaly, is_grad_enabled, no_grad
from tinygrad_hw.check_backprop import (
    BackpropReport,
    check_backprop,
    check_forward,
    check_layer_grads,
)
from tinygrad_hw.checkpoint import load, save
from tinygrad_hw.combine import concatenate, stack, where
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
from tinygrad_hw.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "ArgumentError",
    "BackpropReport",
    "BadIndexError",
    "DTypeError",
    "DataError",
    "GradcheckError",
    "GraphError",
    "MissingDataError",
    "ShapeError",
    "Tensor",
    "TinygradHWError",
    "check_backprop",
    "check_forward",
    "check_layer_grads",
    "checkpoint",
    "concatenate",
    "detect_anomaly",
    "gradcheck",
    "graph",
    "is_grad_enabled",
    "load",
    "nn",
    "no_grad",
    "optim",
    "save",
    "stack",
    "where",
]
