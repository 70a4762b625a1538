"""Checking a run's options before anything runs: bad values are errors naming the option.

``check_overrides(exp, overrides)`` is what ``python -m models run`` and ``sweep`` call first:
a negative count, a ``--set`` key the experiment never reads, ``--classes`` on an experiment
that has none, a digit that does not exist; each is an ArgumentError (exit 2) that names the
option, before any data is loaded or any folder is made.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from models import registry
from models.experiment import Config, Experiment
from tinygrad_hw.datasets import DATASETS
from tinygrad_hw.errors import ArgumentError

# Config fields that are counts, with their smallest allowed value.
SMALLEST = {"epochs": 1, "steps": 1, "batch_size": 0, "seed": 0}
FIELDS = {name for name in Config.__dataclass_fields__ if name not in ("quick", "options")}


def flag(key: str) -> str:
    """The command-line spelling of an override: ``batch_size`` -> ``--batch-size``;
    experiment options are given as ``--set KEY=VALUE``."""
    return f"--{key.replace('_', '-')}" if key in FIELDS else f"--set {key}"


def check_overrides(exp: Experiment, overrides: dict[str, Any], quick: bool = False) -> Config:
    """The run's config, after checking every override against ``exp``; raises ArgumentError
    naming the first bad option."""
    check_values(exp, overrides)
    cfg = exp.config(overrides, quick)
    exp.check_config(cfg)
    return cfg


def check_values(exp: Experiment, overrides: dict[str, Any]) -> None:
    """Each override on its own: counts in range, known keys, options of the right type."""
    for key, value in overrides.items():
        if value is not None:
            _check_one(exp, key, value)


def _check_one(exp: Experiment, key: str, value: Any) -> None:
    if key in SMALLEST:
        _check_count(key, value)
    elif key == "lr":
        if not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
            raise ArgumentError(f"--lr must be a positive number, got {value!r}")
    elif key == "classes":
        if "classes" not in exp.defaults:
            users = [name for name, e in registry.EXPERIMENTS.items() if "classes" in e.defaults]
            raise ArgumentError(
                f"--classes: {exp.name} does not use classes (only {', '.join(users)} do)"
            )
    elif key == "data":
        if exp.defaults.get("data", "mnist5k") not in DATASETS:
            raise ArgumentError(f"--data: {exp.name} always trains on its own data")
    else:
        _check_option(exp, key, value)


def _check_count(key: str, value: Any) -> None:
    smallest = SMALLEST[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
        what = "a positive integer" if smallest else "an integer >= 0"
        raise ArgumentError(f"{flag(key)} must be {what}, got {value!r}")


def _check_option(exp: Experiment, key: str, value: Any) -> None:
    known = exp.option_names()
    if key not in known:
        close = registry.closest_name(key, known)
        hint = f" Did you mean {close!r}?" if close else ""
        listed = ", ".join(sorted(known)) or "none"
        raise ArgumentError(
            f"--set {key}: {exp.name} has no option {key!r}.{hint} Its options: {listed}"
        )
    default = _default_option(exp, key)
    numeric = isinstance(default, Real) and not isinstance(default, bool)
    if numeric and (isinstance(value, bool) or not isinstance(value, Real)):
        raise ArgumentError(f"--set {key} must be a number, got {value!r}")


def _default_option(exp: Experiment, key: str) -> Any:
    for layer in (exp.quick_defaults, exp.defaults):
        if key in layer.get("options", {}):
            return layer["options"][key]
    return exp.log_every if key == "log_every" else None
