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
from matplotlib.ticker import MaxNLocator

from tinygrad_hw.atomic import atomic_write_bytes

PathLike = str | os.PathLike[str]
TITLE_WIDTH = 90  # characters per title line: longer titles wrap instead of leaving the figure


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
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
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
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
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
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.4 * cols, 1.6 * rows + 0.4), squeeze=False, layout="constrained"
    )
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
