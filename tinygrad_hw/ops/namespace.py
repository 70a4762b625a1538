"""The array namespace ``xp`` that primitives are written against, for one array library.

Primitives use the array API standard's names (``xp.exp``, ``xp.permute_dims``, ``xp.concat``)
and, where the standard has nothing, the few extra functions defined here (scatter-add for the
gradient of indexing). Any name not defined here falls through to the library's own module, so
``NUMPY.exp is numpy.exp``: a first-order backward pass calls numpy directly.

The differentiable twin of this namespace, used when the backward pass is itself recorded, is
``tinygrad_hw.functions``: the same names, on Tensors.
"""

from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_hw.ops import special, windows


class ArrayNamespace:
    """``xp`` for one array library: its module's functions plus the extras below."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def __getattr__(self, name: str) -> Any:
        # Called only for names not found on the instance: look the library up once, then
        # keep the function as an instance attribute so later look-ups are plain reads.
        value = getattr(self.module, name)
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"ArrayNamespace({self.module.__name__})"

    # What the array API standard lacks, written portably; a library may do better below.
    def squared_norm(self, x: Any) -> Any:
        """sum(x * x) over every element: the L2 penalty's forward."""
        flat = self.module.reshape(x, (-1,))
        return self.module.vecdot(flat, flat)

    def one_hot(self, labels: Any, num_classes: int, dtype: Any) -> Any:
        """Rows of ``num_classes`` zeros with a one at each label."""
        classes = self.module.arange(num_classes)
        return self.module.astype(labels[:, None] == classes, dtype)

    def erf(self, x: Any) -> Any:
        """The error function, elementwise (Cody's rational approximations: ops.special)."""
        return special.erf(self.module, x)

    def erfc(self, x: Any) -> Any:
        """1 - erf(x), accurate in its tail (erfc(10) ~ 2e-45, where 1 - erf is 0)."""
        return special.erfc(self.module, x)


class NumpyNamespace(ArrayNamespace):
    """numpy, with ufunc reductions (no Python wrapper) and scatter-add by ``np.add.at``."""

    def __init__(self) -> None:
        super().__init__(np)

    @staticmethod
    def sum(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return np.add.reduce(x, axis=axis, keepdims=keepdims)  # np.sum's wrapper costs ~2 us

    @staticmethod
    def max(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def min(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return np.minimum.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def squared_norm(x: np.ndarray) -> np.ndarray:
        return np.vdot(x, x)  # BLAS, no temporary x * x

    @staticmethod
    def one_hot(labels: np.ndarray, num_classes: int, dtype: Any) -> np.ndarray:
        out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
        out[np.arange(labels.shape[0]), labels] = 1
        return out

    @staticmethod
    def scatter_add(values: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
        """zeros(shape) with ``values`` added at ``index``; repeated indices accumulate."""
        out = np.zeros(shape, dtype=values.dtype)
        if _has_advanced_index(index):
            np.add.at(out, index, values)
        else:  # slices and ints select each element at most once: plain assignment
            out[index] = values
        return out

    # ------------------------------------------------------------ windows (conv, pooling)
    @staticmethod
    def unfold(
        x: np.ndarray,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        fill: float = 0.0,
    ) -> np.ndarray:
        """The sliding windows of x's last len(kernel) axes, a strided view (ops.windows)."""
        return windows.unfold(x, kernel, stride, padding, dilation, fill)

    @staticmethod
    def fold(
        cols: np.ndarray,
        spatial: tuple[int, ...],
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> np.ndarray:
        """unfold's adjoint: windows added back onto an input of trailing shape spatial."""
        return windows.fold(cols, spatial, kernel, stride, padding, dilation)


def _has_advanced_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray | list | tuple) for p in parts)


NUMPY = NumpyNamespace()
