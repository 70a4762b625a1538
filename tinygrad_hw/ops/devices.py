"""Devices: which array library a Tensor's data lives in, and moving data between them.

A Tensor's backend is its array's namespace. ``namespace_of(array)`` finds it with one dict
read on the array's type (numpy's is there from the start; another library's is built the
first time one of its arrays is seen, from the array API standard's ``__array_namespace__``),
so a numpy op pays a dictionary look-up, nothing more.

Device names: ``"cpu"`` (numpy), ``"cuda"`` or ``"cuda:N"`` (CuPy, on GPU N), and the name of
any installed module that follows the array API standard, e.g. ``"array_api_strict"`` (its
strict reference implementation, on the CPU: the test suite runs on it to prove no numpy-only
call is left in the maths). ``TINYGRAD_HW_DEVICE`` in the environment, or
``set_default_device``, says where Tensors made from host data (numpy arrays, lists, numbers)
go when no ``device=`` is given.
"""

import importlib
import os
from typing import Any

import numpy as np

from tinygrad_hw.errors import DeviceError
from tinygrad_hw.ops.namespace import NUMPY, ArrayNamespace
from tinygrad_hw.ops.namespace_cupy import CupyNamespace

_NAMESPACES: dict[type, ArrayNamespace] = {np.ndarray: NUMPY}
_BY_MODULE: dict[str, ArrayNamespace] = {"numpy": NUMPY}


def namespace_of(array: Any) -> ArrayNamespace:
    """The namespace ``xp`` that ops on ``array`` use (one dict read once it is known)."""
    found = _NAMESPACES.get(type(array))
    return found if found is not None else _register(array)


def is_foreign_array(value: Any) -> bool:
    """Whether value is an array of a library other than numpy (CuPy's, array-api-strict's):
    it follows the array API standard and is not a numpy array or numpy scalar (numpy's
    scalars have ``__array_namespace__`` too, but are constants like Python's numbers)."""
    return hasattr(value, "__array_namespace__") and not isinstance(value, np.ndarray | np.generic)


def _register(array: Any) -> ArrayNamespace:
    if isinstance(array, np.ndarray | np.generic):  # a subclass, or a numpy scalar
        return NUMPY
    if not hasattr(array, "__array_namespace__"):
        raise DeviceError(
            f"{type(array).__name__} is not an array of a library that follows the array API "
            "standard (no __array_namespace__): pass a numpy or CuPy array"
        )
    module = array.__array_namespace__()
    namespace = _namespace_for_module(module)
    _NAMESPACES[type(array)] = namespace
    return namespace


def _namespace_for_module(module: Any) -> ArrayNamespace:
    name = module.__name__
    if name not in _BY_MODULE:
        _BY_MODULE[name] = CupyNamespace(module) if name == "cupy" else ArrayNamespace(module)
    return _BY_MODULE[name]


def device_of(array: Any) -> str:
    """The device name of an array: ``"cpu"``, ``"cuda:0"``, ``"array_api_strict"``..."""
    return namespace_of(array).device_name(array)


def is_host(array: Any) -> bool:
    return type(array) is np.ndarray or namespace_of(array) is NUMPY


def to_host(array: Any) -> np.ndarray:
    """A numpy copy (or the array itself, when it is numpy already) of ``array``."""
    if isinstance(array, np.ndarray):
        return array
    return namespace_of(array).to_numpy(array)


def namespace_for_device(device: str) -> ArrayNamespace:
    """The namespace of a device name (importing its library on first use)."""
    if not isinstance(device, str):
        raise DeviceError(f"a device is a name such as 'cpu' or 'cuda', got {device!r}")
    base = device.split(":", 1)[0]
    if base == "cpu":
        return NUMPY
    module_name = "cupy" if base == "cuda" else base
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError, TypeError):  # not installed, or not a module name
        hint = "install CuPy (pip install cupy-cuda12x) on a machine with an NVIDIA GPU"
        raise DeviceError(
            f"device {device!r} needs the module {module_name!r}, which is not installed"
            + (f": {hint}" if base == "cuda" else "")
        ) from None
    asarray = getattr(module, "asarray", None)
    if base != "cuda" and (asarray is None or not hasattr(asarray(0), "__array_namespace__")):
        raise DeviceError(f"device {device!r}: {module_name} does not follow the array API")
    return _namespace_for_module(module)


def to_device(array: Any, device: str) -> Any:
    """``array`` on ``device`` (the array itself when it is there already)."""
    target = namespace_for_device(device)
    if namespace_of(array) is target and device_of(array) == target.canonical(device):
        return array
    host = to_host(array)
    return host if target is NUMPY else target.from_numpy(host, device)


def _initial_default() -> str:
    device = os.environ.get("TINYGRAD_HW_DEVICE", "cpu") or "cpu"
    namespace_for_device(device)  # a wrong name fails at import, not at the first Tensor
    return device


class _Settings:
    """The process-wide default device; a Tensor made from host data reads ``device``."""

    __slots__ = ("device",)

    def __init__(self, device: str) -> None:
        self.device = device


settings = _Settings(_initial_default())


def default_device() -> str:
    """Where Tensors made from host data go when no ``device=`` is given."""
    return settings.device


def set_default_device(device: str) -> None:
    """Make ``device`` the default for Tensors made from host data from now on."""
    namespace_for_device(device)
    settings.device = device


def check_same_device(op: str, arrays: tuple[Any, ...]) -> None:
    """DeviceError naming both devices when ``arrays`` do not all live on one device."""
    first = device_of(arrays[0])
    for array in arrays[1:]:
        other = device_of(array)
        if other != first:
            raise DeviceError(
                f"{op}: inputs are on different devices, {first} and {other}: move one with "
                f".to({first!r}) or .to({other!r})"
            )
