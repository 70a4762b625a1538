"""Checkpoints: a model, an optimizer and some metadata in one ``.npz`` file.

The file is a plain numpy archive that ``np.load`` reads without tinygrad_hw (and without
pickle): arrays "model/<parameter name>" and "optim/<state key>", "meta" (a 0-d string array
holding a JSON object) and "format" (the format's name and version). It is written through
:func:`tinygrad_hw.atomic.atomic_open`, so a crash mid-save leaves the previous checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_hw.atomic import atomic_open
from tinygrad_hw.errors import (
    ArgumentError,
    DataError,
    DTypeError,
    MissingDataError,
    ShapeError,
    TinygradHWError,
)
from tinygrad_hw.nn.module import Module, check_state_entry
from tinygrad_hw.npz_reader import Member, read_checked
from tinygrad_hw.optim.base import Optimizer

FORMAT = "tinygrad_hw-checkpoint-1"
MODEL, OPTIM = "model/", "optim/"
PathLike = str | os.PathLike[str]
META_CHARS = 16 * 2**20  # a meta member longer than this (16 Mi characters) is refused


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
    architecture raises ShapeError naming the parameter, and nothing is changed. Every member's
    name, dtype and shape is checked against the model and optimizer from the zip's directory
    and the member's .npy header before any data is read, so a hostile file cannot make us
    allocate more than the model holds. If the optimizer's state does not fit, the model's
    parameters are restored too. A missing file raises MissingDataError, a truncated, foreign
    or tampered one DataError, each naming the file (and the member).
    """
    path = Path(path)
    expected = _Expected(model, optimizer)
    arrays = read_checked(path, expected.check)
    meta = _meta(path, arrays)
    if optimizer is not None and not expected.seen_optim:
        raise DataError(f"load: {path} holds no optimizer state (saved without optimizer=)")
    expected.check_complete(path)
    previous = model.state_dict() if model is not None else None
    loaded = False
    try:
        if model is not None:
            model.load_state_dict(_section(arrays, MODEL))
            loaded = True
        if optimizer is not None:
            optimizer.load_state_dict(_section(arrays, OPTIM))
    except TinygradHWError as error:
        if loaded:
            model.load_state_dict(previous)
        raise type(error)(f"{path}: {error}") from None
    return meta


class _Expected:
    """What the model and optimizer can hold, to check each member's header against."""

    def __init__(self, model: Module | None, optimizer: Optimizer | None) -> None:
        self.model = (
            None
            if model is None
            else {n: t for n, t in model.named_parameters() + model.named_buffers()}
        )
        self.optim = None if optimizer is None else optimizer.state_dict()
        self.seen_model: set[str] = set()
        self.seen_optim: set[str] = set()
        self.foreign: list[str] = []

    def check(self, member: Member) -> bool:
        """True: read this member; False: skip it; raises for one that cannot be loaded."""
        name = member.name
        if name in ("meta", "format"):
            limit = META_CHARS if name == "meta" else 64
            if member.shape != () or member.dtype.kind != "U" or member.dtype.itemsize > 4 * limit:
                raise DataError(
                    f"must be a string of at most {limit} characters, got {member.dtype} of "
                    f"shape {member.shape}"
                )
            return True
        if name.startswith(MODEL):
            return self._check_model(name[len(MODEL) :], member)
        if name.startswith(OPTIM):
            return self._check_optim(name[len(OPTIM) :], member)
        self.foreign.append(name)  # refused once the format member says what the file is
        return False

    def _check_model(self, key: str, member: Member) -> bool:
        if self.model is None:
            return False
        own = self.model.get(key)
        if own is None:
            raise ArgumentError(f"the model has no parameter or buffer '{key}'")
        check_state_entry(key, own, member.shape, member.dtype)  # from the header: no data read
        self.seen_model.add(key)
        return True

    def _check_optim(self, key: str, member: Member) -> bool:
        if self.optim is None:
            return False
        self.seen_optim.add(key)
        if key not in self.optim:
            return True  # Optimizer.load_state_dict names every unexpected key at once
        own = np.asarray(self.optim[key])
        if member.shape != own.shape or member.dtype.kind not in "biuf":
            raise ShapeError(
                f"optimizer state '{key}' has shape {own.shape}, the file holds "
                f"{member.dtype} of shape {member.shape}"
            )
        return True

    def check_complete(self, path: Path) -> None:
        if self.foreign:
            raise DataError(
                f"load: {path}: member '{self.foreign[0]}' is not part of a checkpoint "
                "(expected model/..., optim/..., meta, format)"
            )
        if self.model is not None and set(self.model) != self.seen_model:
            missing = sorted(set(self.model) - self.seen_model)
            raise ArgumentError(f"{path}: load_state_dict: missing keys {missing}")
        if self.optim is not None and len(self.seen_optim) > 4 * len(self.optim) + 8:
            raise DataError(f"{path}: holds {len(self.seen_optim)} optimizer entries")


def _meta(path: Path, arrays: dict[str, np.ndarray]) -> dict:
    if "format" not in arrays or arrays["format"].item() != FORMAT or "meta" not in arrays:
        raise DataError(f"load: {path} is an .npz archive but not a {FORMAT} file")
    try:
        meta = json.loads(arrays["meta"].item())
    except (ValueError, RecursionError) as error:
        kind = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise DataError(f"load: {path} has a corrupt 'meta' member: {kind}") from None
    if not isinstance(meta, dict):
        raise DataError(f"load: {path}'s meta is a {type(meta).__name__}, not a JSON object")
    return meta


def _section(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
