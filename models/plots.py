"""Figures of a run, drawn with matplotlib's Agg backend (no display needed) and written
atomically: the figure is rendered into memory, then swapped onto the target file, so an
interrupted run never leaves half a PNG behind.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers and CI have no display

import matplotlib.pyplot as plt  # the backend must be chosen before pyplot is imported
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tinygrad_hw.atomic import atomic_write_bytes

PathLike = str | os.PathLike[str]
TITLE_WIDTH = 90  # characters per title line: longer titles wrap instead of leaving the figure


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure outside pyplot's global list (so runs in several threads of one process, as
    on a Dask worker, cannot mix their figures up), laid out so nothing overlaps."""
    return Figure(figsize=figsize, layout="constrained")


def wrapped(title: str, width: int = TITLE_WIDTH) -> str:
    """The title broken into lines of at most ``width`` characters."""
    return textwrap.fill(title, width)


def integer_ticks(ax: Any) -> None:
    """Epochs and steps are whole numbers: no tick at epoch 1.5."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def save_figure(fig: Any, path: PathLike) -> None:
    """Render ``fig`` to PNG bytes in memory, write them atomically to ``path``, close it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_curves(
    epochs: Sequence[dict],
    title: str,
    path: PathLike,
    x_key: str = "epoch",
    chance_classes: int | None = None,
    has_test: bool = True,
) -> None:
    """Loss (left) and accuracy (right) per epoch, train and test, from metrics' epoch rows;
    ``x_key="step"`` puts optimizer steps on the x axis instead.

    With ``chance_classes`` K, dashed lines mark the chance level: loss ln K, accuracy 1/K.
    ``has_test=False`` (an experiment that evaluates on its training rows) draws no test
    curve. The layout is constrained, so the title, labels and legends never overlap.
    """
    x = [row[x_key] for row in epochs]
    xlabel = "epoch" if x_key == "epoch" else "iterations (optimizer steps)"
    fig = new_figure((10, 4.2))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, name in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(x, [row[f"train_{key}"] for row in epochs], "o-", ms=3, label=f"train {name}")
        if has_test:
            ax.plot(x, [row[f"test_{key}"] for row in epochs], "s-", ms=3, label=f"test {name}")
        ax.set_xlabel(xlabel)
        integer_ticks(ax)
        ax.grid(alpha=0.3)
    if chance_classes:
        k = chance_classes
        ax_loss.axhline(math.log(k), color="k", ls="--", lw=1, label=rf"$\ln {k}$ (chance)")
        ax_acc.axhline(1 / k, color="k", ls="--", lw=1, label=f"$1/{k}$ (chance)")
    ax_loss.set_ylabel("mean cross-entropy per example")
    ax_acc.set_ylabel("accuracy")
    fig.suptitle(wrapped(title))
    _legends(ax_loss, ax_acc)
    save_figure(fig, path)


def plot_step_losses(
    losses: Sequence[float], title: str, path: PathLike, ylabel: str = "average loss"
) -> None:
    """The average training loss at each optimisation step (seed 002's loss plot)."""
    fig = new_figure((6, 4))
    ax = fig.subplots()
    ax.plot(np.arange(len(losses)), losses, lw=1.2)
    ax.set_xlabel("number of training steps")
    integer_ticks(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(wrapped(title, 60))
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_samples(
    images: np.ndarray, predicted: Sequence[Any], actual: Sequence[Any], path: PathLike
) -> None:
    """A grid of 28x28 digits, each titled with its predicted label (red when wrong)."""
    n = len(images)
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    fig = new_figure((1.4 * cols, 1.6 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    side = math.isqrt(images.shape[1])
    for ax, image, pred, true in zip(axes.flat, images, predicted, actual, strict=False):
        ax.imshow(image.reshape(side, side), cmap="gray_r")
        ax.set_title(f"pred {pred}", color="black" if pred == true else "red", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("test digits with predicted labels (red: wrong)")
    save_figure(fig, path)


def _legends(*axes: Any) -> None:
    for ax in axes:
        ax.legend(fontsize=8)


AXIS_NAMES = {"lr": "learning rate", "batch_size": "batch size"}


def plot_sweep(
    groups: Sequence[dict[str, Any]], swept: Sequence[str], title: str, path: PathLike
) -> None:
    """A sweep's final test accuracy (left) and test loss (right) against the first swept
    value: the mean over seeds with its standard deviation as error bars and the seeds'
    range shaded; the training figure's mean dashed. Other swept keys give one line each;
    non-numeric values are placed evenly, and a log axis is used when they span > 20x."""
    x_key = swept[0] if swept else None
    series: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        rest = ", ".join(f"{k}={group['values'][k]}" for k in swept[1:])
        series.setdefault(rest, []).append(group)
    fig = new_figure((10, 4.2))
    ax_acc, ax_loss = fig.subplots(1, 2)
    positions, ticks, log_x = _sweep_axis(groups, x_key)
    for index, (label, members) in enumerate(series.items()):
        color = f"C{index}"
        xs = [positions[_x_of(g, x_key)] for g in members]
        for ax, key in ((ax_acc, "acc"), (ax_loss, "loss")):
            test = [g[f"test_{key}"] for g in members]
            ax.errorbar(
                xs, [s["mean"] for s in test], yerr=[s["std"] for s in test], fmt="o-",
                color=color, capsize=3, label=f"test {label}".strip(),
            )  # fmt: skip
            ax.fill_between(
                xs, [s["min"] for s in test], [s["max"] for s in test], color=color, alpha=0.15
            )
            train = [g[f"train_{key}"]["mean"] for g in members]
            ax.plot(xs, train, "--", color=color, lw=1, label=f"train {label}".strip())
    for ax, name in ((ax_acc, "final accuracy"), (ax_loss, "final mean cross-entropy")):
        ax.set_xlabel(AXIS_NAMES.get(x_key, x_key) if x_key else "")
        ax.set_ylabel(name)
        if log_x:
            ax.set_xscale("log")
        if ticks is not None:
            ax.set_xticks(list(positions.values()), ticks)
        ax.grid(alpha=0.3)
    fig.suptitle(wrapped(title + " (mean ± std over seeds; band: min-max)"))
    _legends(ax_acc, ax_loss)
    save_figure(fig, path)


def _x_of(group: dict[str, Any], x_key: str | None) -> Any:
    return group["values"][x_key] if x_key is not None else "defaults"


def _sweep_axis(
    groups: Sequence[dict[str, Any]], x_key: str | None
) -> tuple[dict[Any, float], list[str] | None, bool]:
    """Where each value goes on the x axis, tick labels for non-numeric values, log or not."""
    values = list(dict.fromkeys(_x_of(g, x_key) for g in groups))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric:
        return {v: float(i) for i, v in enumerate(values)}, [str(v) for v in values], False
    positive = all(v > 0 for v in values)
    log_x = positive and max(values) / min(values) > 20
    return {v: float(v) for v in values}, [str(v) for v in values], log_x
