"""``python -m models sweep NAME --lr 0.1,0.2 --seeds 0,1,2``: one run per combination.

Every combination of the swept values (``--lr``, each ``--set KEY=V1,V2``) and seeds is an
ordinary run of the experiment, in its own folder under the sweep's (``lr=0.1_seed=0/`` with
its metrics.json, curves.png and checkpoint.npz), so a sweep is resumable: a run whose
metrics.json says "complete" for the same config is read back, not rerun, and an
interrupted one resumes from its checkpoint. The runs go

- one after another in this process (the default, ``--jobs 1``);
- to ``--jobs N`` worker processes on this machine (``concurrent.futures``, spawned, each
  with one BLAS thread: models/threads.py);
- or to a Dask cluster (``--dask tcp://HOST:PORT``): each run is one Dask task that trains in
  a temporary folder on its worker and sends its files back, which are written here, so the
  workers need the package installed but no shared disk.

A run is a pure function of its config, so all three give the same numbers (tests check it).
At the end ``sweep.json`` (every run's final figures, and per value their mean, standard
deviation, minimum and maximum over seeds), ``sweep.md`` (the table) and ``sweep.png``
(final test accuracy and loss against the swept value) are written into the sweep's folder.
"""

from __future__ import annotations

import concurrent.futures
import io
import itertools
import json
import multiprocessing
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from models import options, registry
from models.experiment import Config
from models.runner import CHECKPOINT, METRICS, run_experiment
from models.threads import one_blas_thread, pinned_environment
from tinygrad_hw import checkpoint
from tinygrad_hw.atomic import atomic_open, atomic_write_bytes
from tinygrad_hw.errors import ArgumentError, MissingDataError

SWEEP_JSON, SWEEP_TABLE, SWEEP_PLOT = "sweep.json", "sweep.md", "sweep.png"
FINAL_KEYS = ("test_acc", "test_loss", "train_acc", "train_loss")


@dataclass(frozen=True)
class Task:
    """One run of a sweep: the experiment, its overrides (swept values, seed and the fixed
    options), and its folder. Picklable: it travels to worker processes and Dask workers."""

    experiment: str
    overrides: dict[str, Any]
    quick: bool
    folder: str
    values: dict[str, Any]  # the swept values of this run (without the seed)
    seed: int


@dataclass
class Outcome:
    """What a finished run sends back: its final epoch row, whether it was done before,
    and (from a Dask worker) its files."""

    final: dict[str, Any]
    seconds: float
    reused: bool = False
    files: dict[str, bytes] = field(default_factory=dict)


# --------------------------------------------------------------------------- the grid


def value_text(value: Any) -> str:
    """A value as folder names and tables show it: 0.1, 3, he."""
    return repr(value) if isinstance(value, float) else str(value)


def run_folder_name(values: dict[str, Any], seed: int) -> str:
    """``lr=0.1_reg=0.01_seed=0``: the swept values in order, then the seed."""
    parts = [f"{key}={value_text(value)}" for key, value in values.items()]
    return "_".join([*parts, f"seed={seed}"]).replace("/", "-")


def plan(
    name: str,
    swept: dict[str, Sequence[Any]],
    seeds: Sequence[int],
    fixed: dict[str, Any],
    quick: bool,
    folder: Path,
) -> list[Task]:
    """Every combination of the swept values (in the order given) and the seeds, each
    checked like a ``run`` command before anything runs (ArgumentError names the option)."""
    exp = registry.get(name)
    if not seeds:
        raise ArgumentError("--seeds: give at least one seed, e.g. --seeds 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise ArgumentError(f"--seeds: a seed is repeated in {list(seeds)}")
    for key, values in swept.items():
        if not values:
            raise ArgumentError(f"{options.flag(key)}: give at least one value")
        if len(set(map(value_text, values))) != len(values):
            raise ArgumentError(f"{options.flag(key)}: a value is repeated in {list(values)}")
    tasks = []
    for combination in itertools.product(*swept.values()):
        values = dict(zip(swept, combination, strict=True))
        for seed in seeds:
            overrides = {**fixed, **values, "seed": seed}
            options.check_overrides(exp, overrides, quick)
            out = folder / run_folder_name(values, seed)
            tasks.append(Task(name, overrides, quick, str(out), values, seed))
    return tasks


# --------------------------------------------------------------------------- one run


def run_task(task: Task) -> Outcome:
    """Train one run into its folder, or read it back when it finished before with the same
    config; an interrupted run resumes from its checkpoint."""
    exp = registry.get(task.experiment)
    folder = Path(task.folder)
    wanted = exp.config(task.overrides, task.quick)
    state = saved_state(folder, wanted)
    if state == "complete":
        metrics = json.loads((folder / METRICS).read_text())
        return Outcome(final_row(metrics), 0.0, reused=True)
    start = time.perf_counter()
    resume = state == "partial"
    with one_blas_thread():  # the same numbers in this process, a worker, or a Dask thread
        result = run_experiment(
            exp, task.overrides, task.quick, folder, resume=resume, stream=io.StringIO()
        )
    return Outcome(final_row(result.metrics), time.perf_counter() - start)


def run_task_shipped(task: Task, checkpoint_bytes: bytes | None) -> Outcome:
    """``run_task`` on a Dask worker: train in a temporary folder (with the checkpoint of an
    interrupted run, when there is one) and return the files, for the client to write."""
    with tempfile.TemporaryDirectory(prefix="tinygrad-hw-sweep-") as scratch:
        folder = Path(scratch) / Path(task.folder).name
        folder.mkdir()
        if checkpoint_bytes is not None:
            (folder / CHECKPOINT).write_bytes(checkpoint_bytes)
        outcome = run_task(_moved(task, folder))
        outcome.files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return outcome


def _moved(task: Task, folder: Path) -> Task:
    return Task(task.experiment, task.overrides, task.quick, str(folder), task.values, task.seed)


def saved_state(folder: Path, wanted: Config) -> str:
    """ "complete", "partial" (a checkpoint to resume) or "none" for a run folder; a folder
    holding a run with another config is an error rather than something to overwrite."""
    path = folder / CHECKPOINT
    if not path.is_file():
        return "none"
    meta = checkpoint.load(path)
    saved = Config.from_json(meta["config"])
    if saved != wanted:
        raise ArgumentError(
            f"{folder} holds a run with other settings ({saved}); give the sweep another --out "
            "or remove that folder"
        )
    metrics_path = folder / METRICS
    if metrics_path.is_file() and json.loads(metrics_path.read_text())["status"] == "complete":
        return "complete"
    return "partial"


def final_row(metrics: dict[str, Any]) -> dict[str, Any]:
    """The last epoch's losses and accuracies, and how far training went."""
    last = metrics["epochs"][-1]
    return {**{key: last[key] for key in FINAL_KEYS}, "epoch": last["epoch"], "step": last["step"]}


def _ignore_sigint() -> None:
    """Worker processes ignore Ctrl-C between runs; during a run the runner's own handler
    finishes the step, saves and stops (models/interrupt.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --------------------------------------------------------------------------- executors

Report = Callable[[int, Task, Outcome], None]


def run_serial(tasks: list[Task], report: Report) -> list[Outcome]:
    outcomes = []
    for index, task in enumerate(tasks):
        outcomes.append(run_task(task))
        report(index, task, outcomes[-1])
    return outcomes


def run_processes(tasks: list[Task], jobs: int, report: Report) -> list[Outcome]:
    """``jobs`` spawned worker processes with one BLAS thread each (set in the environment
    they start with, before they import numpy)."""
    outcomes: list[Outcome | None] = [None] * len(tasks)
    context = multiprocessing.get_context("spawn")  # fork after OpenBLAS started can hang
    with (
        pinned_environment(),
        concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_ignore_sigint
        ) as pool,
    ):
        futures = {pool.submit(run_task, task): index for index, task in enumerate(tasks)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            outcomes[index] = future.result()
            report(index, tasks[index], outcomes[index])
    return outcomes  # type: ignore[return-value]


def run_dask(tasks: list[Task], address: str, report: Report) -> list[Outcome]:
    """Each run one task on the Dask cluster at ``address``; files come back and are written
    here, atomically."""
    client = dask_client(address)
    outcomes: list[Outcome | None] = [None] * len(tasks)
    try:
        futures = {}
        for index, task in enumerate(tasks):
            done = _done_here(task)
            if done is not None:  # finished before: nothing to send
                outcomes[index] = done
                report(index, task, done)
                continue
            saved = Path(task.folder) / CHECKPOINT
            resume_from = saved.read_bytes() if saved.is_file() else None
            key = f"tinygrad-hw-{task.experiment}-{Path(task.folder).name}-{index}"
            futures[client.submit(run_task_shipped, task, resume_from, key=key, pure=False)] = index
        for future in _as_completed(futures):
            index = futures[future]
            outcome = future.result()
            _write_files(Path(tasks[index].folder), outcome.files)
            outcome.files = {}
            outcomes[index] = outcome
            report(index, tasks[index], outcome)
    finally:
        client.close()
    return outcomes  # type: ignore[return-value]


def _done_here(task: Task) -> Outcome | None:
    exp = registry.get(task.experiment)
    folder = Path(task.folder)
    if saved_state(folder, exp.config(task.overrides, task.quick)) != "complete":
        return None
    return Outcome(final_row(json.loads((folder / METRICS).read_text())), 0.0, reused=True)


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == METRICS):  # metrics.json last: it says done
        atomic_write_bytes(folder / name, files[name])


def dask_client(address: str) -> Any:
    """A Dask ``Client`` connected to ``address``; MissingDataError saying what to install
    when Dask is not, ArgumentError when nothing answers there."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise MissingDataError(
            "--dask needs Dask: pip install 'dask[distributed]' (or pip install -e '.[sweep]')"
        ) from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise ArgumentError(f"--dask: no Dask scheduler answered at {address!r}: {error}") from None


def _as_completed(futures: dict[Any, int]) -> Iterator[Any]:
    from dask.distributed import as_completed

    return iter(as_completed(list(futures)))


# --------------------------------------------------------------------------- summary


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, standard deviation over seeds (ddof=0: the spread of these runs, no estimate),
    minimum and maximum."""
    array = np.asarray(values, dtype=np.float64)
    stats = (array.mean(), array.std(), array.min(), array.max())
    return dict(zip(("mean", "std", "min", "max"), map(float, stats), strict=True))


def summarise(tasks: list[Task], outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """One group per combination of swept values: its seeds and the spread of each figure."""
    groups: dict[str, dict[str, Any]] = {}
    for task, outcome in zip(tasks, outcomes, strict=True):
        key = json.dumps(task.values, sort_keys=True)
        group = groups.setdefault(key, {"values": task.values, "seeds": [], "finals": []})
        group["seeds"].append(task.seed)
        group["finals"].append(outcome.final)
    return [
        {
            "values": g["values"],
            "seeds": g["seeds"],
            **{key: spread([f[key] for f in g["finals"]]) for key in FINAL_KEYS},
        }
        for g in groups.values()
    ]


def table(swept: Sequence[str], groups: list[dict[str, Any]]) -> str:
    """The markdown table: one row per combination, mean +- std (min-max) over seeds."""
    header = [*swept, "seeds", "test acc", "test loss", "train acc", "train loss"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in groups:
        cells = [value_text(g["values"][key]) for key in swept]
        cells.append(",".join(map(str, g["seeds"])))
        for key, digits in zip(FINAL_KEYS, (3, 3, 3, 3), strict=True):
            s = g[key]
            cells.append(
                f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f} "
                f"({s['min']:.{digits}f}-{s['max']:.{digits}f})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the sweep


def sweep(
    name: str,
    swept: dict[str, Sequence[Any]],
    seeds: Sequence[int],
    fixed: dict[str, Any] | None = None,
    quick: bool = False,
    out: str | Path | None = None,
    jobs: int = 1,
    dask: str | None = None,
    command: str = "",
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Run every combination (see the module docstring) and write sweep.json, sweep.md and
    sweep.png into ``out`` (default ``runs/sweeps/NAME``, ``runs/quick/sweeps/NAME``)."""
    stream = stream or sys.stdout
    if jobs < 1:
        raise ArgumentError(f"--jobs must be a positive integer, got {jobs}")
    if dask is not None and jobs != 1:
        raise ArgumentError("--jobs and --dask: choose one (the Dask cluster has its workers)")
    folder = Path(out) if out is not None else default_folder(name, quick)
    tasks = plan(name, swept, seeds, dict(fixed or {}), quick, folder)
    report = _reporter(len(tasks), stream)
    if dask is not None:
        outcomes = run_dask(tasks, dask, report)
    elif jobs > 1:
        outcomes = run_processes(tasks, jobs, report)
    else:
        outcomes = run_serial(tasks, report)
    result = _results(name, swept, seeds, fixed or {}, quick, command, tasks, outcomes)
    _write_outputs(folder, result)
    return result


def default_folder(name: str, quick: bool) -> Path:
    return Path("runs") / ("quick" if quick else "") / "sweeps" / name


def _reporter(total: int, stream: TextIO) -> Report:
    done = itertools.count(1)

    def report(index: int, task: Task, outcome: Outcome) -> None:
        f = outcome.final
        how = "done before" if outcome.reused else f"{outcome.seconds:.1f}s"
        stream.write(
            f"[{next(done)}/{total}] {Path(task.folder).name}: test acc {f['test_acc']:.4f}, "
            f"test loss {f['test_loss']:.4f} ({how})\n"
        )
        stream.flush()

    return report


def _results(
    name: str,
    swept: dict[str, Sequence[Any]],
    seeds: Sequence[int],
    fixed: dict[str, Any],
    quick: bool,
    command: str,
    tasks: list[Task],
    outcomes: list[Outcome],
) -> dict[str, Any]:
    runs = [
        {"values": t.values, "seed": t.seed, "folder": Path(t.folder).name, **o.final}
        for t, o in zip(tasks, outcomes, strict=True)
    ]
    return {
        "experiment": name,
        "command": command,
        "quick": quick,
        "swept": {key: list(values) for key, values in swept.items()},
        "seeds": list(seeds),
        "fixed": {k: list(v) if isinstance(v, tuple) else v for k, v in fixed.items()},
        "runs": runs,
        "groups": summarise(tasks, outcomes),
    }


def _write_outputs(folder: Path, result: dict[str, Any]) -> None:
    from models import plots  # matplotlib: only for the figure

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(folder / SWEEP_JSON, "w") as handle:
        json.dump(result, handle, indent=1)
    text = table(list(result["swept"]), result["groups"])
    title = _title(result)
    with atomic_open(folder / SWEEP_TABLE, "w") as handle:
        handle.write(f"{title}\n\n{text}")
    plots.plot_sweep(result["groups"], list(result["swept"]), title, folder / SWEEP_PLOT)


def _title(result: dict[str, Any]) -> str:
    quick = " --quick" if result["quick"] else ""
    seeds = ",".join(map(str, result["seeds"]))
    return f"{result['experiment']}{quick}: final figures over seeds {seeds}"
