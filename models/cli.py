"""Command line: ``python -m models {list, run NAME, report}``.

Exit status: 0 done, 2 bad arguments or missing data (the message says what to do),
130 stopped by Ctrl-C (after saving; the message gives the --resume command).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from models import registry
from models.runner import Interrupted, run_experiment
from tinygrad_hw.datasets import DATASETS
from tinygrad_hw.errors import TinygradHWError

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m models", description="Run the seed reports' experiments on tinygrad_hw."
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the experiments")
    run = commands.add_parser("run", help="train one experiment", description=RUN_HELP)
    run.add_argument("name", help="an experiment from `python -m models list`")
    _add_run_options(run)
    report = commands.add_parser("report", help="run every experiment, write a markdown table")
    report.add_argument("--quick", action="store_const", const=True, default=False)
    report.add_argument("--out", default="runs/report.md", help="default runs/report.md")
    return top


RUN_HELP = (
    "Train one experiment; writes metrics.json, curves.png and checkpoint.npz into --out "
    "(default runs/NAME). Options left out take the experiment's own defaults (the seed "
    "report's hyperparameters). With --resume the checkpoint's settings are kept and only "
    "--epochs/--steps may be raised."
)


def _add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--epochs", type=int, help="passes over the training set")
    run.add_argument("--steps", type=int, help="optimizer steps (iteration experiments)")
    run.add_argument("--batch-size", type=int, help="rows per step (0: the whole set)")
    run.add_argument("--lr", type=float, help="learning rate")
    run.add_argument("--data", choices=sorted(DATASETS), help="data set (default mnist5k)")
    run.add_argument("--seed", type=int, help="seed of weights, data order, random labels")
    run.add_argument("--classes", type=_int_tuple, help="seed002: two digits (4,9); "
                     "random-labels: K (2); seed003-toy: the two labels (1,0)")  # fmt: skip
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
        help="an experiment option, e.g. --set reg=0.001 (see metrics.json's hyperparameters)",
    )  # fmt: skip
    run.add_argument("--out", help="output folder (default runs/NAME)")
    run.add_argument("--quick", action="store_const", const=True, default=False,
                     help="500 train / 200 test rows, 2 epochs or 200 steps: seconds")  # fmt: skip
    run.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    run.add_argument("--jit", action="store_true", help="record the train step, then replay it")


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas, got {text!r}"
        ) from None


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}") from None
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            pass
    return key, value


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (None means: the experiment's default)."""
    names = ("epochs", "steps", "batch_size", "lr", "data", "seed", "classes")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return {**given, **dict(args.set)}


def list_experiments() -> str:
    width = max(len(name) for name in registry.EXPERIMENTS)
    lines = ["Experiments (python -m models run NAME [--quick]):"]
    for name, exp in registry.EXPERIMENTS.items():
        origin = f"seed {exp.seed_report}" if exp.seed_report else "new"
        lines.append(f"  {name:<{width}}  [{origin}] {exp.title}")
    scripts = registry.standalone()
    if scripts:
        lines.append("Standalone scripts:")
        lines += [f"  {command:<40}  {text}" for _, command, text in scripts]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "list":
            print(list_experiments())
        elif args.command == "run":
            exp = registry.get(args.name)
            run_experiment(
                exp, overrides_from(args), args.quick, args.out, args.resume, jit=args.jit
            )
        else:
            from models.report import write_report  # imported here: only `report` needs it

            print(write_report(args.quick, args.out, log=sys.stderr))
    except Interrupted as stop:
        print("\n" + stop.message, file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(
            "\nInterrupted outside the training loop (loading data, writing figures): "
            "nothing more was saved; a checkpoint written before is intact.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except TinygradHWError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    return 0
