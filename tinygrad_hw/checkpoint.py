"""Checkpoints: a model, an optimizer and some metadata in one ``.npz`` file.

The file is a plain numpy archive that ``np.load`` reads without tinygrad_hw (and without
pickle): arrays "model/<parameter name>" and "optim/<state key>", "meta" (a 0-d string array
holding a JSON object) and "format" (the format's name and version). It is written through
:func:`tinygrad_hw.atomic.atomic_open`, so a crash mid-save leaves the previous checkpoint.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_hw.atomic import atomic_open
from tinygrad_hw.errors import DataError, DTypeError, MissingDataError, TinygradHWError
from tinygrad_hw.nn.module import Module
from tinygrad_hw.optim.base import Optimizer

FORMAT = "tinygrad_hw-checkpoint-1"
MODEL, OPTIM = "model/", "optim/"
PathLike = str | os.PathLike[str]


def save(path: PathLike, model: Module, optimizer: Optimizer | None = None, **meta: Any) -> None:
    """Write ``model``'s parameters, ``optimizer``'s state (if given) and ``meta`` to ``path``.

    ``meta`` must be JSON-serialisable (epoch numbers, losses, a schedule's state_dict(), a
    config dict); it is checked before anything is written. The path is used as given (no
    ".npz" is appended). The previous file at ``path`` is replaced atomically.
    """
    if not isinstance(model, Module):
        raise DTypeError(f"save: model must be a Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise DTypeError(f"save: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    arrays = {MODEL + name: array for name, array in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({OPTIM + k: np.asarray(v) for k, v in optimizer.state_dict().items()})
    arrays["meta"] = np.array(_meta_json(meta))
    arrays["format"] = np.array(FORMAT)
    if not Path(path).parent.is_dir():
        raise MissingDataError(f"save: the folder of {path} does not exist; create it first")
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _meta_json(meta: dict[str, Any]) -> str:
    for key, value in meta.items():
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError) as error:
            raise DTypeError(
                f"save: meta {key}={value!r:.60} is not JSON-serialisable ({error}); pass "
                "numbers, strings, lists and dicts (convert arrays with .tolist())"
            ) from None
    return json.dumps(meta)


def load(path: PathLike, model: Module | None = None, optimizer: Optimizer | None = None) -> dict:
    """Read the checkpoint at ``path`` into ``model`` and ``optimizer`` and return its meta.

    Loading is strict (see Module.load_state_dict / Optimizer.load_state_dict): another
    architecture raises ShapeError naming the parameter, and nothing is changed. If the
    optimizer's state does not fit, the model's parameters are restored too. A missing file
    raises MissingDataError, a truncated or foreign one DataError, each naming the file.
    """
    arrays = _read_arrays(Path(path))
    meta = _meta(path, arrays)
    if optimizer is not None and not any(k.startswith(OPTIM) for k in arrays):
        raise DataError(f"load: {path} holds no optimizer state (saved without optimizer=)")
    previous = model.state_dict() if model is not None else None
    try:
        if model is not None:
            model.load_state_dict(_section(arrays, MODEL))
        if optimizer is not None:
            optimizer.load_state_dict(_section(arrays, OPTIM))
    except TinygradHWError as error:
        if model is not None:
            model.load_state_dict(previous)
        raise type(error)(f"{path}: {error}") from None
    return meta


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read now, so that a truncated member fails here."""
    if not path.exists():
        raise MissingDataError(f"load: no checkpoint at {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"load: {path} holds a single .npy array, not a checkpoint")
        with archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(
            f"load: {path} is not a readable checkpoint (truncated or corrupt): {error}"
        ) from None


def _meta(path: PathLike, arrays: dict[str, np.ndarray]) -> dict:
    if arrays.get("format", np.array("")).item() != FORMAT or "meta" not in arrays:
        raise DataError(f"load: {path} is an .npz archive but not a {FORMAT} file")
    try:
        meta = json.loads(arrays["meta"].item())
    except (ValueError, AttributeError) as error:
        raise DataError(f"load: {path} has a corrupt 'meta' entry: {error}") from None
    if not isinstance(meta, dict):
        raise DataError(f"load: {path}'s meta is a {type(meta).__name__}, not a JSON object")
    return meta


def _section(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
