"""Every runnable experiment by name, in the order `python -m models list` shows them."""

from __future__ import annotations

import difflib
from pathlib import Path

from models import lenet, logistic, mlp, random_labels, seed003, toy
from models.experiment import Experiment
from tinygrad_hw.errors import ArgumentError

_FAMILIES = (mlp, logistic, seed003, toy, random_labels, lenet)
EXPERIMENTS: dict[str, Experiment] = {
    exp.name: exp
    for exp in sorted(
        (e for family in _FAMILIES for e in family.EXPERIMENTS),
        key=lambda e: (e.name.startswith("random"), e.name),
    )
}
# Experiments with their own entry point (not run by the shared runner), when present.
STANDALONE = {
    "backprop_mistakes": (
        "models/backprop_mistakes.py",
        "python -m models.backprop_mistakes",
        "seed 003's sign-flipped gradient step, caught by check_backprop and fixed",
    ),
    "newton": (
        "models/newton.py",
        "python -m models.newton",
        "seed 002's logistic regression by Newton's method (tg.func.hessian) vs its GD",
    ),
    "demo": ("models/demo.py", "python -m models.demo", "2-16-1 MLP on XOR blobs, gradcheck"),
}


def get(name: str) -> Experiment:
    """The experiment called ``name``; ArgumentError lists the names (and a close match)."""
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]
    close = difflib.get_close_matches(name, EXPERIMENTS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ArgumentError(f"unknown experiment {name!r}.{hint} Known: {', '.join(EXPERIMENTS)}")


def standalone() -> list[tuple[str, str, str]]:
    """(name, command, description) of the standalone scripts that exist in this checkout."""
    root = Path(__file__).resolve().parent.parent
    return [
        (name, command, text)
        for name, (path, command, text) in STANDALONE.items()
        if (root / path).is_file()
    ]
