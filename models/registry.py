"""Every runnable experiment by name, in the order `python -m models list` shows them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
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
    close = closest_name(name, EXPERIMENTS)
    hint = f" Did you mean {close!r}?" if close else ""
    raise ArgumentError(f"unknown experiment {name!r}.{hint} Known: {', '.join(EXPERIMENTS)}")


def closest_name(word: str, names: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The name most like ``word`` (difflib's similarity ratio), or None below ``cutoff``.

    Ties go to the name that agrees with ``word`` over more characters at its two ends, then
    to the one that sorts first: ``seed00`` suggests ``seed000`` and ``seed0004`` suggests
    ``seed004`` (difflib's own ``get_close_matches`` breaks ties towards the largest string,
    so ``seed00`` would get ``seed004``).
    """
    best, best_key = None, None
    for name in sorted(names):
        ratio = difflib.SequenceMatcher(None, word, name).ratio()
        key = (ratio, _common_prefix(word, name) + _common_prefix(word[::-1], name[::-1]))
        if ratio >= cutoff and (best_key is None or key > best_key):
            best, best_key = name, key
    return best


def _common_prefix(a: str, b: str) -> int:
    same = 0
    while same < min(len(a), len(b)) and a[same] == b[same]:
        same += 1
    return same


def standalone() -> list[tuple[str, str, str]]:
    """(name, command, description) of the standalone scripts that exist in this checkout."""
    root = Path(__file__).resolve().parent.parent
    return [
        (name, command, text)
        for name, (path, command, text) in STANDALONE.items()
        if (root / path).is_file()
    ]
