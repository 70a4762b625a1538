"""Command line: ``python -m models {list, run NAME, sweep NAME, report}`` (or
``tinygrad-hw ...``).

Every option is checked before anything runs (models/options.py), and every run and report
ends by printing where its files are. ``--quick`` runs go to ``runs/quick/``, so they never
overwrite a full run.

Exit status: 0 done, 2 bad arguments or missing data (the message says what to do),
130 stopped by Ctrl-C (after saving; the message gives the --resume command), 141 when the
reader of the output went away (``... | head -3``): quietly, as other Unix tools do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models import options, registry
from models.runner import Interrupted, default_out, run_experiment
from models.sweep import SWEEP_JSON, SWEEP_PLOT, SWEEP_TABLE, sweep, table
from models.sweep import default_folder as default_sweep_folder
from tinygrad_hw.datasets import DATASETS
from tinygrad_hw.errors import ArgumentError, TinygradHWError
from tinygrad_hw.ops.devices import namespace_for_device
from tinygrad_hw.ops.namespace import NUMPY

EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 130, 141


def parser(prog: str = "python -m models") -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=prog, description="Run the seed reports' experiments on tinygrad_hw."
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the experiments")
    run = commands.add_parser("run", help="train one experiment", description=RUN_HELP)
    run.add_argument("name", help="an experiment from `python -m models list`")
    _add_run_options(run)
    sweep = commands.add_parser("sweep", help="one run per combination of values and seeds",
                                description=SWEEP_HELP)  # fmt: skip
    sweep.add_argument("name", help="an experiment from `python -m models list`")
    _add_sweep_options(sweep)
    report = commands.add_parser("report", help="run every experiment, write a markdown table")
    report.add_argument(
        "--quick", action="store_const", const=True, default=False,
        help="every experiment in seconds; writes runs/quick/report.md",
    )  # fmt: skip
    report.add_argument(
        "--out", help="the table (default runs/report.md, --quick: runs/quick/report.md); "
        "the run folders go next to it",
    )  # fmt: skip
    return top


RUN_HELP = (
    "Train one experiment; writes metrics.json, curves.png and checkpoint.npz into --out "
    "(default runs/NAME, or runs/quick/NAME with --quick). Options left out take the "
    "experiment's own defaults (the seed report's hyperparameters). With --resume the "
    "checkpoint's settings are kept and only --epochs/--steps may be raised."
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
    run.add_argument("--out", help="output folder (default runs/NAME, --quick: runs/quick/NAME)")
    run.add_argument("--quick", action="store_const", const=True, default=False,
                     help="500 train / 200 test rows, 2 epochs or 200 steps: seconds")  # fmt: skip
    run.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    run.add_argument("--jit", action="store_true", help="record the train step, then replay it")
    run.add_argument(
        "--device", default="cpu",
        help="where the model and each batch live: cpu (numpy, the default), cuda or cuda:N "
        "(CuPy), or an installed array-API library such as array_api_strict",
    )  # fmt: skip


SWEEP_HELP = (
    "Run the experiment once per combination of the swept values (--lr, each --set "
    "KEY=V1,V2) and --seeds, each in its own folder under --out (default runs/sweeps/NAME), "
    "then write sweep.json, sweep.md (mean and spread over seeds) and sweep.png. Finished "
    "runs are not rerun: run the same command again to go on after a stop."
)


def _add_sweep_options(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument("--lr", type=_float_list, help="learning rates, e.g. 0.1,0.2,0.3")
    sweep.add_argument("--seeds", type=_int_list, default=[0], help="e.g. 0,1,2 (default 0)")
    sweep.add_argument(
        "--set", action="append", default=[], metavar="KEY=V1,V2", type=_key_values,
        help="an experiment option and its values, e.g. --set reg=0.001,0.01",
    )  # fmt: skip
    sweep.add_argument("--epochs", type=int, help="passes over the training set, every run")
    sweep.add_argument("--steps", type=int, help="optimizer steps, every run")
    sweep.add_argument("--batch-size", type=int, help="rows per step, every run")
    sweep.add_argument("--data", choices=sorted(DATASETS), help="data set (default mnist5k)")
    sweep.add_argument("--classes", type=_int_tuple, help="as for run")
    sweep.add_argument("--quick", action="store_const", const=True, default=False,
                       help="every run on 500/200 rows (runs/quick/sweeps/NAME)")  # fmt: skip
    sweep.add_argument("--out", help="the sweep's folder (default runs/sweeps/NAME)")
    sweep.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    sweep.add_argument("--dask", metavar="tcp://HOST:PORT", help="a Dask scheduler to run on")


def _float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def _int_list(text: str) -> list[int]:
    return list(_int_tuple(text))


def _key_values(text: str) -> tuple[str, list[Any]]:
    key, sep, values = text.partition("=")
    if not sep or not key or not values:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}") from None
    return key, [_key_value(f"{key}={value}")[1] for value in values.split(",")]


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


def files_line(folder: Path) -> str:
    """``files in runs/quick/seed000: checkpoint.npz, curves.png, metrics.json``."""
    names = sorted(path.name for path in Path(folder).iterdir() if path.is_file())
    return f"files in {folder}: {', '.join(names)}"


def run_command(args: argparse.Namespace) -> None:
    exp = registry.get(args.name)
    if namespace_for_device(args.device) is not NUMPY and args.jit:  # checked before it runs
        raise ArgumentError(
            f"--jit records numpy's arrays only: run on --device {args.device} without --jit"
        )
    overrides = overrides_from(args)
    if args.resume:
        options.check_values(exp, overrides)  # the rest is the checkpoint's (runner checks)
    else:
        options.check_overrides(exp, overrides, args.quick)
    out = Path(args.out) if args.out else default_out(exp.name, args.quick)
    result = run_experiment(
        exp, overrides, args.quick, out, args.resume, jit=args.jit, device=args.device
    )
    print(files_line(result.out))


def sweep_command(args: argparse.Namespace, command: str) -> None:
    swept: dict[str, list[Any]] = {}
    if args.lr is not None:
        swept["lr"] = args.lr
    for key, values in args.set:
        if key in swept or key in ("seed", "seeds"):
            raise ArgumentError(f"--set {key}: give it once (seeds go in --seeds)")
        swept[key] = values
    names = ("epochs", "steps", "batch_size", "data", "classes")
    fixed = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    result = sweep(
        args.name, swept, args.seeds, fixed, args.quick, args.out, args.jobs, args.dask, command
    )
    folder = Path(args.out) if args.out else default_sweep_folder(args.name, args.quick)
    print(table(list(result["swept"]), result["groups"]), end="")
    print(f"files in {folder}: {SWEEP_JSON}, {SWEEP_TABLE}, {SWEEP_PLOT}, and a folder per run")


def report_command(args: argparse.Namespace) -> None:
    from models.report import write_report  # imported here: only `report` needs it

    default = Path("runs") / ("quick" if args.quick else "") / "report.md"
    out = Path(args.out) if args.out else default
    print(write_report(args.quick, out, log=sys.stderr), end="")
    print(f"wrote {out}; the runs are in {out.parent}/NAME")


def main(argv: Sequence[str] | None = None, prog: str = "python -m models") -> int:
    """Run the command line ``argv`` (default sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(parser(prog).parse_args(argv), shlex.join([*prog.split(), *argv]))
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and none at exit when Python
        # flushes stdout again, so stdout now points at /dev/null.
        with contextlib.suppress(AttributeError, OSError, ValueError):  # no file descriptor
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(args: argparse.Namespace, command: str) -> int:
    try:
        if args.command == "list":
            print(list_experiments())
        elif args.command == "run":
            run_command(args)
        elif args.command == "sweep":
            sweep_command(args, command)
        else:
            report_command(args)
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
