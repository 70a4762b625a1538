"""``python -m models report``: run every experiment and tabulate ours against the seeds'.

Each row gives the seed report's own figure (often on other data, sometimes contradicted by
the maths), an independent reference (PyTorch on the same mnist5k split, 3 seeds), and what
this run got. Run folders go next to the table, ``<dir>/<name>``: by default
``runs/report.md`` and ``runs/NAME``, or with --quick ``runs/quick/report.md`` and
``runs/quick/NAME`` (so a quick report replaces neither the full table nor the full runs).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models import registry
from models.runner import RunResult, run_experiment
from tinygrad_hw.atomic import atomic_open


@dataclass(frozen=True)
class Entry:
    """One row of the table: an experiment, its options, and the figures to compare with."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    suffix: str = ""  # appended to the run folder and the row label
    seed_figure: str | None = None  # None: the experiment's own
    reference: str | None = None


ENTRIES = (
    Entry("seed000"),
    Entry("seed001"),
    Entry("seed002", {"classes": (0, 1)}, "-0v1", reference="1.000"),
    Entry("seed002", {"classes": (4, 9)}, "-4v9", reference="0.985"),
    Entry("seed003"),
    Entry("seed003-relu50"),
    Entry("seed003-relu70"),
    Entry("seed003-toy"),
    Entry("seed004"),
    Entry(
        "random-labels", {"classes": (10,)}, "-k10",
        seed_figure="train loss ~0, test loss 'almost the initial' (000)",
        reference="train 1.00 after ~80 epochs, test ~0.10, test loss 5.5-5.7",
    ),
    Entry(
        "random-labels", {"classes": (2,)}, "-k2",
        seed_figure="test loss 1.93, test acc 0.50 (001)",
        reference="train 1.00 after ~56 epochs, test 0.485-0.488",
    ),
    Entry("lenet"),
)  # fmt: skip
HEADER = "| experiment | data | seed report's figure | reference (PyTorch) | ours | train s |"


def run_entry(entry: Entry, quick: bool, folder: Path) -> RunResult:
    """Train one entry quietly (its per-epoch lines are dropped) into ``folder``."""
    exp = registry.get(entry.name)
    out = folder / f"{entry.name}{entry.suffix}"
    return run_experiment(exp, dict(entry.overrides), quick, out, stream=io.StringIO())


def table_row(entry: Entry, result: RunResult) -> str:
    exp = registry.get(entry.name)
    metrics = result.metrics
    data = metrics["data"]
    shape = f"{data['name']} {data['train']}/{data['test']}"
    if entry.name == "seed002":
        shape += f" ({data['labels']})"
    cells = [
        f"{entry.name}{entry.suffix}",
        shape,
        entry.seed_figure or exp.seed_figure,
        entry.reference or exp.reference,
        ours(entry.name, metrics),
        f"{sum(row['seconds'] for row in metrics['epochs']):.1f}",
    ]
    return "| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |"


def ours(name: str, metrics: dict[str, Any]) -> str:
    """The figure of our run that the reference column speaks about."""
    rows = metrics["epochs"]
    last = rows[-1]
    if name == "seed003-toy":
        return "J " + " -> ".join(f"{row['train_loss']:.4f}" for row in rows)
    if name == "random-labels":
        k = metrics["data"]["classes"]
        return (
            f"train {last['train_acc']:.3f} after {last['epoch']} epochs, test "
            f"{last['test_acc']:.3f}, test loss {last['test_loss']:.2f} "
            f"(ln {k} = {math.log(k):.2f})"
        )
    return f"test {last['test_acc']:.3f}, train {last['train_acc']:.3f}"


def write_report(quick: bool, out: str | Path, log: Any = None) -> str:
    """Run every entry, write the markdown table to ``out`` atomically, and return it."""
    out = Path(out)
    folder = out.parent
    folder.mkdir(parents=True, exist_ok=True)
    lines = [_title(quick), "", HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for entry in ENTRIES:
        start = time.perf_counter()
        result = run_entry(entry, quick, folder)
        lines.append(table_row(entry, result))
        if log is not None:
            log.write(f"{result.summary} [{time.perf_counter() - start:.1f}s]\n")
            log.flush()
    text = "\n".join(lines) + "\n"
    with atomic_open(out, "w") as handle:
        handle.write(text)
    return text


def _title(quick: bool) -> str:
    if quick:
        return (
            "## Experiments, --quick (500 train / 200 test rows, 2 epochs or 200 steps: a smoke "
            "test, not comparable with the reference figures)"
        )
    return "## Experiments (default hyperparameters of each seed report, mnist5k 4,000/1,000)"
