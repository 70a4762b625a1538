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

from tinygrad_hw import saved_arrays
from tinygrad_hw.ops import indexing, portable, special, windows

_DTYPE_NAMES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)  # fmt: skip

# numpy's names where the standard has others (numpy and CuPy know both)
_STANDARD_NAMES = {
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
}  # fmt: skip

# What ArrayNamespace writes portably below and numpy and CuPy have themselves (faster: a
# real einsum, ufuncs that write into out=): their namespaces use their own.
OWN_IN_NUMPY_AND_CUPY = (
    "einsum", "pad", "fmod", "round", "copyto", "multiply", "divide", "subtract", "sqrt", "exp",
)  # fmt: skip


class ArrayNamespace:
    """``xp`` for one array library: its module's functions plus the extras below.

    The library's dtypes may not be numpy's (array-api-strict has its own objects): the Tensor
    layer speaks numpy dtypes, so the creation functions and ``astype`` here translate a numpy
    dtype into the library's, and ``numpy_dtype`` translates back."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.name = module.__name__
        self._native: dict[np.dtype, Any] = {}
        self._numpy: dict[Any, np.dtype] = {}
        for name in _DTYPE_NAMES:
            if hasattr(module, name):
                self._native[np.dtype(name)] = getattr(module, name)
                self._numpy[getattr(module, name)] = np.dtype(name)

    # ------------------------------------------------------------ dtypes and devices
    def native_dtype(self, dtype: Any) -> Any:
        """The library's dtype for a numpy dtype (or one of the library's own, unchanged)."""
        if isinstance(dtype, np.dtype | type | str):  # numpy's, np.float32 or "float32"
            return self._native[np.dtype(dtype)]
        return dtype  # None, or the library's own

    def numpy_dtype(self, dtype: Any) -> np.dtype:
        """The numpy dtype for one of the library's dtypes."""
        return dtype if isinstance(dtype, np.dtype) else self._numpy[dtype]

    def device_name(self, array: Any) -> str:
        return self.name

    def canonical(self, device: str) -> str:
        return self.name

    def to_numpy(self, array: Any) -> np.ndarray:
        """A host copy (the array API's DLPack exchange, which numpy reads)."""
        return np.from_dlpack(array).copy()

    def from_numpy(self, array: np.ndarray, device: str) -> Any:
        return self.module.asarray(array, copy=True)

    def to_device(self, x: Any, device: str) -> Any:
        """x on another device (ops.devices; imported here, as it imports this module)."""
        from tinygrad_hw.ops import devices

        return devices.to_device(x, device)

    def lock(self, arrays: tuple[Any, ...]) -> None:
        """Arrays of other libraries have no read-only flag: nothing to lock (see
        saved_arrays for numpy's)."""
        return None

    def is_fresh(self, array: Any) -> bool:
        """Whether backward may hand ``array`` to a leaf as its own ``.grad`` without a copy:
        only numpy tells a view from an owner, so other libraries' gradients are copied."""
        return False

    def as_mask(self, condition: Any, like: Any) -> Any:
        """A bool mask that a vjp multiplies a gradient by (``g * mask``): in like's dtype,
        as the standard multiplies no bool by a float (numpy does: its mask stays bool)."""
        return self.module.astype(condition, like.dtype)

    def where(self, condition: Any, x1: Any, x2: Any) -> Any:
        """where(), also for two Python scalars (a float64 result, as numpy gives)."""
        if isinstance(x1, float | int) and isinstance(x2, float | int):
            x1 = self.module.asarray(x1, dtype=self.module.float64)
        return self.module.where(condition, x1, x2)

    # ------------------------------------------------------------ with numpy dtypes
    def astype(self, x: Any, dtype: Any, copy: bool = True) -> Any:
        return self.module.astype(x, self.native_dtype(dtype), copy=copy)

    def asarray(self, x: Any, dtype: Any = None, copy: Any = None) -> Any:
        return self.module.asarray(x, dtype=self.native_dtype(dtype), copy=copy)

    def zeros(self, shape: Any, dtype: Any = None) -> Any:
        return self.module.zeros(shape, dtype=self.native_dtype(dtype))

    def ones(self, shape: Any, dtype: Any = None) -> Any:
        return self.module.ones(shape, dtype=self.native_dtype(dtype))

    def empty(self, shape: Any, dtype: Any = None) -> Any:
        return self.module.empty(shape, dtype=self.native_dtype(dtype))

    def full(self, shape: Any, fill_value: Any, dtype: Any = None) -> Any:
        return self.module.full(shape, fill_value, dtype=self.native_dtype(dtype))

    def arange(self, *args: Any, dtype: Any = None) -> Any:
        return self.module.arange(*args, dtype=self.native_dtype(dtype))

    def cast(self, x: Any, dtype: Any) -> Any:
        """x in ``dtype``, x itself when it has that dtype already."""
        native = self.native_dtype(dtype)
        return x if x.dtype == native else self.module.astype(x, native)

    def copy(self, x: Any) -> Any:
        return self.module.asarray(x, copy=True)

    def __getattr__(self, name: str) -> Any:
        # Called only for names not found on the instance: look the library up once, then
        # keep the function as an instance attribute so later look-ups are plain reads.
        value = getattr(self.module, _STANDARD_NAMES.get(name, name))
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
        classes = self.module.arange(num_classes, dtype=labels.dtype)
        return self.module.astype(labels[:, None] == classes, self.native_dtype(dtype))

    def scatter_add(self, values: Any, shape: tuple[int, ...], index: Any) -> Any:
        """zeros(shape) with ``values`` added at ``index``; repeated indices accumulate.

        The standard has no scatter: slices and ints are plain assignment, integer arrays go
        through the host (numpy's add.at) and back, the slow but portable fallback."""
        if not has_advanced_index(index):
            out = self.module.zeros(shape, dtype=values.dtype)
            parts = index if isinstance(index, tuple) else (index,)
            if any(p is None for p in parts):  # the standard assigns through no new axis
                index = tuple(p for p in parts if p is not None)
                values = self.module.reshape(values, out[index].shape)
            out[index] = values
            return out
        host = np.zeros(shape, dtype=self.numpy_dtype(values.dtype))
        np.add.at(host, _host_index(index), self.to_numpy(values))
        return self.module.asarray(host)

    def unfold(
        self,
        x: Any,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        fill: float = 0.0,
    ) -> Any:
        """The sliding windows of x's last len(kernel) axes (ops.windows says what), built
        from one strided slice per kernel offset: a copy, where numpy's is a view."""
        return windows.unfold_portable(self, x, kernel, stride, padding, dilation, fill)

    def fold(
        self,
        cols: Any,
        spatial: tuple[int, ...],
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Any:
        """unfold's adjoint: windows added back onto an input of trailing shape spatial."""
        return windows.fold_portable(self, cols, spatial, kernel, stride, padding, dilation)

    def standard_index(self, index: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
        """numpy's index (a tuple of this library's arrays, ints, slices...) as the array API
        standard's (ops.indexing): explicit ``...``, integer arrays not mixed with slices."""
        return indexing.standard_index(self.module, index, shape)

    def erf(self, x: Any) -> Any:
        """The error function, elementwise (Cody's rational approximations: ops.special)."""
        return special.erf(self, x)

    def erfc(self, x: Any) -> Any:
        """1 - erf(x), accurate in its tail (erfc(10) ~ 2e-45, where 1 - erf is 0)."""
        return special.erfc(self, x)

    floating = np.floating  # ops.special asks xp.issubdtype(dtype, xp.floating)

    # numpy's names for what the standard calls otherwise
    def issubdtype(self, dtype: Any, kind: Any) -> bool:
        return bool(np.issubdtype(self.numpy_dtype(dtype), kind))

    def cumsum(self, x: Any, axis: int) -> Any:
        return self.module.cumulative_sum(x, axis=axis)

    def cumprod(self, x: Any, axis: int) -> Any:
        return self.module.cumulative_prod(x, axis=axis)

    def var(self, x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return self.module.var(x, axis=axis, keepdims=keepdims, correction=ddof)

    def std(self, x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return self.module.std(x, axis=axis, keepdims=keepdims, correction=ddof)

    def exp2(self, x: Any) -> Any:
        return self.module.pow(2.0, x)

    def einsum(self, subscripts: str, *operands: Any, optimize: Any = None) -> Any:
        return portable.einsum(self.module, subscripts, *operands)

    def pad(self, x: Any, pad_width: Any, constant_values: float = 0) -> Any:
        return portable.pad_constant(self.module, x, pad_width, constant_values)

    def fmod(self, x1: Any, x2: Any) -> Any:
        return portable.fmod(self.module, x1, x2)

    def round(self, x: Any, decimals: int = 0) -> Any:
        return portable.round_decimals(self.module, x, decimals)

    # numpy's out= (the optimizers update in place): the standard's in-place assignment
    def copyto(self, dst: Any, src: Any) -> None:
        dst[...] = src

    def multiply(self, x1: Any, x2: Any, out: Any = None) -> Any:
        return _into(out, self.module.multiply(x1, x2))

    def divide(self, x1: Any, x2: Any, out: Any = None) -> Any:
        return _into(out, self.module.divide(x1, x2))

    def subtract(self, x1: Any, x2: Any, out: Any = None) -> Any:
        return _into(out, self.module.subtract(x1, x2))

    def sqrt(self, x: Any, out: Any = None) -> Any:
        return _into(out, self.module.sqrt(x))

    def exp(self, x: Any, out: Any = None) -> Any:
        return _into(out, self.module.exp(x))


def _into(out: Any, value: Any) -> Any:
    """value, written into ``out`` first when one is given."""
    if out is None:
        return value
    out[...] = value
    return out


class NumpyNamespace(ArrayNamespace):
    """numpy, with ufunc reductions (no Python wrapper) and scatter-add by ``np.add.at``.
    numpy's dtypes are the Tensor layer's: no translation, its own functions are used."""

    def __init__(self) -> None:
        super().__init__(np)
        for name in ("astype", "asarray", "zeros", "ones", "empty", "full", "arange", "where"):
            self.__dict__[name] = getattr(np, name)
        for name in OWN_IN_NUMPY_AND_CUPY:
            self.__dict__[name] = getattr(np, name)

    def native_dtype(self, dtype: Any) -> Any:
        return dtype

    def numpy_dtype(self, dtype: Any) -> np.dtype:
        return dtype

    def device_name(self, array: Any) -> str:
        return "cpu"

    def canonical(self, device: str) -> str:
        return "cpu"

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def from_numpy(self, array: np.ndarray, device: str) -> np.ndarray:
        return array

    @staticmethod
    def as_mask(condition: np.ndarray, like: np.ndarray) -> np.ndarray:
        return condition

    lock = staticmethod(saved_arrays.lock)

    @staticmethod
    def is_fresh(array: np.ndarray) -> bool:
        return array.base is None and array.flags.writeable

    @staticmethod
    def cast(x: np.ndarray, dtype: Any) -> np.ndarray:
        return x if x.dtype == dtype else x.astype(dtype)

    @staticmethod
    def copy(x: np.ndarray) -> np.ndarray:
        return np.array(x, copy=True)

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
        if has_advanced_index(index):
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


def has_advanced_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(
        isinstance(p, np.ndarray | list | tuple) or hasattr(p, "__array_namespace__") for p in parts
    )


def _host_index(index: Any) -> Any:
    """An index with every array in it as a numpy array."""
    parts = index if isinstance(index, tuple) else (index,)
    host = tuple(np.from_dlpack(p) if hasattr(p, "__array_namespace__") else p for p in parts)
    return host if isinstance(index, tuple) else host[0]


NUMPY = NumpyNamespace()
