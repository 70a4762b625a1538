"""CuPy's ``xp``: numpy's dtypes and most of numpy's API on an NVIDIA GPU (ops.devices makes
it the first time a CuPy array is seen; nothing here imports CuPy before that)."""

from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_hw.ops.namespace import OWN_IN_NUMPY_AND_CUPY, ArrayNamespace, has_advanced_index


class CupyNamespace(ArrayNamespace):
    """CuPy: numpy's dtypes and most of numpy's API on an NVIDIA GPU; scatter-add by
    ``cupyx.scatter_add``, host copies by ``.get()``."""

    def __init__(self, module: ModuleType) -> None:
        super().__init__(module)
        for name in OWN_IN_NUMPY_AND_CUPY:
            self.__dict__[name] = getattr(module, name)

    def native_dtype(self, dtype: Any) -> Any:
        return dtype

    def numpy_dtype(self, dtype: Any) -> np.dtype:
        return np.dtype(dtype)

    def device_name(self, array: Any) -> str:
        return f"cuda:{array.device.id}"

    def canonical(self, device: str) -> str:
        return device if ":" in device else f"cuda:{self.module.cuda.Device().id}"

    def to_numpy(self, array: Any) -> np.ndarray:
        return array.get()

    def from_numpy(self, array: np.ndarray, device: str) -> Any:
        with self.module.cuda.Device(int(self.canonical(device).split(":")[1])):
            return self.module.asarray(array)

    @staticmethod
    def standard_index(index: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
        return index  # CuPy indexes as numpy does

    def cast(self, x: Any, dtype: Any) -> Any:
        return x if x.dtype == dtype else x.astype(dtype)

    def scatter_add(self, values: Any, shape: tuple[int, ...], index: Any) -> Any:
        import cupyx  # only here: CuPy's extras ship with CuPy

        out = self.module.zeros(shape, dtype=values.dtype)
        if has_advanced_index(index):
            cupyx.scatter_add(out, index, values)
        else:
            out[index] = values
        return out
