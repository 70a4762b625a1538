"""The shared training loop: rounds of steps, evaluation, metrics, figures, checkpoints, resume.

Every run writes into its folder ``out``:

- ``checkpoint.npz`` (tinygrad_hw.checkpoint): the weights, the optimizer state, and in its
  meta the config, the progress (round, batches done in it, optimizer steps), the data-order
  generator's ``bit_generator.state`` at the start of the round in progress, and the
  metrics so far. Saved after every round and on Ctrl-C.
- ``metrics.json``: hyperparameters, data set, seed, one row per round (row 0 is the
  untrained model), rewritten after every round.
- ``curves.png``: loss and accuracy, train and test, per round.

Resuming restores all of that and replays the interrupted round's batch order, skipping the
batches already done, so a resumed run ends with the same weights, bit for bit, as one that
was never stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from models import plots
from models.device import check_on_device, on_device
from models.experiment import Config, Data, Experiment, seed_streams
from models.interrupt import ForcedStop, StopFlag, deferred_interrupt
from models.progress import ProgressBar
from tinygrad_hw import Tensor, checkpoint, jit, no_grad
from tinygrad_hw.atomic import atomic_open
from tinygrad_hw.errors import ArgumentError, DataError, MissingDataError
from tinygrad_hw.ops.devices import default_device

CHECKPOINT, METRICS, CURVES = "checkpoint.npz", "metrics.json", "curves.png"
EVAL_CHUNK = 5000  # rows per forward pass when evaluating: bounds memory on full MNIST


class Interrupted(Exception):
    """Training stopped by Ctrl-C; ``message`` says what was saved and how to resume."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Progress:
    """Where training stands; JSON-serialisable, saved in the checkpoint's meta."""

    round: int = 0  # rounds finished
    batches_done: int = 0  # batches finished in the round in progress
    steps: int = 0  # optimizer steps in all
    order_state: dict[str, Any] = field(default_factory=dict)  # data order at round start
    running: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # loss*n, correct, n
    seconds: float = 0.0  # training time spent in the round in progress
    history: list[dict[str, Any]] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)


_PROGRESS_TYPES = {
    "round": int,
    "batches_done": int,
    "steps": int,
    "order_state": dict,
    "running": list,
    "seconds": (int, float),
    "history": list,
    "step_losses": list,
}


def json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with every NaN or infinite float written as null (NaN is not JSON: strict
    readers refuse the whole file) and listed, by its path, under "non_finite"."""
    found: list[str] = []

    def clean(value: Any, where: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            found.append(f"{where} ({value})")
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    cleaned = clean(metrics, "")
    if found:
        cleaned["non_finite"] = found
    return cleaned


def progress_from_meta(meta: dict[str, Any]) -> Progress:
    """The checkpoint's ``progress`` member as a Progress; DataError naming the field for a
    missing, unknown, mistyped or negative one (a hand-edited or damaged checkpoint)."""
    raw = meta.get("progress")
    if not isinstance(raw, dict):
        raise DataError(f"meta 'progress' must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_PROGRESS_TYPES))
    if unknown:
        raise DataError(f"meta 'progress' has unknown fields {unknown}")
    for key, kind in _PROGRESS_TYPES.items():
        value = raw.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            raise DataError(f"meta 'progress.{key}' must be {kind}, got {value!r:.60}")
        if isinstance(value, int | float) and not 0 <= value < math.inf:
            raise DataError(f"meta 'progress.{key}' must be >= 0 and finite, got {value!r}")
    if len(raw["running"]) != 3:
        raise DataError("meta 'progress.running' must hold 3 numbers")
    return Progress(**raw)


@dataclass
class RunResult:
    """What a finished run leaves: the metrics dict, its summary line, the trained model."""

    metrics: dict[str, Any]
    summary: str
    out: Path
    model: Any
    optimizer: Any


def resolve_config(
    exp: Experiment, overrides: dict[str, Any], quick: bool, out: Path, resume: bool
) -> Config:
    """The run's config: fresh from defaults and ``overrides``, or, with ``resume``, the
    checkpoint's own, where only ``epochs``/``steps`` may be raised."""
    if not resume:
        return exp.config(overrides, quick)
    meta = _read_meta(exp, out)
    saved = Config.from_json(meta["config"])
    exp.check_schedule(overrides)
    _check_unchanged(saved, overrides, quick)
    longer = {k: overrides[k] for k in ("epochs", "steps") if overrides.get(k) is not None}
    return dataclasses.replace(saved, **longer)


def _read_meta(exp: Experiment, out: Path) -> dict[str, Any]:
    path = out / CHECKPOINT
    if not path.is_file():
        raise MissingDataError(f"--resume: no checkpoint at {path}; start without --resume")
    meta = checkpoint.load(path)
    if meta.get("experiment") != exp.name:
        raise ArgumentError(
            f"--resume: {path} belongs to experiment {meta.get('experiment')!r}, not {exp.name!r}"
        )
    return meta


def _check_unchanged(saved: Config, overrides: dict[str, Any], quick: bool) -> None:
    """A resumed run keeps its hyperparameters: a different explicit value is an error."""
    given = {k: v for k, v in overrides.items() if k not in ("epochs", "steps") and v is not None}
    if quick:
        given["quick"] = True
    for key, value in given.items():
        before = getattr(saved, key) if hasattr(saved, key) else saved.options.get(key)
        if value != before:
            raise ArgumentError(
                f"--resume: {key}={value!r} differs from the checkpoint's {key}={before!r}; "
                "a resumed run keeps its hyperparameters (only --epochs/--steps may grow)"
            )


class Run:
    """One training run of ``exp`` under ``cfg`` into the folder ``out``."""

    def __init__(
        self,
        exp: Experiment,
        cfg: Config,
        out: Path,
        stream: TextIO,
        resume_command: str,
        jit: bool = False,
    ) -> None:
        self.exp, self.cfg, self.out, self.stream = exp, cfg, Path(out), stream
        self.resume_command = resume_command
        self.device = default_device()  # models.device.on_device sets it for the run
        streams = seed_streams(cfg.seed)
        self.order_rng = streams["order"]
        self.data: Data = exp.load_data(cfg, streams)
        self.model, self.optimizer = exp.build(cfg, self.data, streams["init"])
        self.progress = Progress(order_state=self.order_rng.bit_generator.state)
        self.rounds = exp.rounds(cfg)
        self.train_step = exp.train_step if not jit else jitted_train_step(exp, self, stream)

    # ------------------------------------------------------------------ state
    def restore(self) -> None:
        """Load weights, optimizer state and progress from ``out/checkpoint.npz``."""
        path = self.out / CHECKPOINT
        before = (self.model.state_dict(), self.optimizer.state_dict())
        meta = checkpoint.load(path, self.model, self.optimizer)
        try:
            self.progress = progress_from_meta(meta)
        except DataError as error:  # a load that fails part-way changes nothing
            self.model.load_state_dict(before[0])
            self.optimizer.load_state_dict(before[1])
            raise DataError(f"--resume: {path}: {error}") from None

    def save(self) -> None:
        checkpoint.save(
            self.out / CHECKPOINT,
            self.model,
            self.optimizer,
            experiment=self.exp.name,
            config=self.cfg.to_json(),
            progress=dataclasses.asdict(self.progress),
        )

    # ------------------------------------------------------------------ training
    def train(self) -> RunResult:
        """Run the remaining rounds; on Ctrl-C save and raise :class:`Interrupted`."""
        self.out.mkdir(parents=True, exist_ok=True)
        if not self.progress.history:
            self.progress.history.append(self.evaluate_row(0.0))
            self.print_line(self.progress.history[0])
        with deferred_interrupt() as flag:
            try:
                while not self.done():
                    self.run_round(flag)
            except ForcedStop:
                raise Interrupted(self.forced_message()) from None
            except KeyboardInterrupt:
                raise Interrupted(self.stop_and_save()) from None
        return self.finish()

    def done(self) -> bool:
        """All rounds run, or the experiment's own stopping rule met."""
        last = self.progress.history[-1]
        return self.progress.round >= self.rounds or self.exp.should_stop(last, self.cfg)

    def run_round(self, flag: StopFlag) -> None:
        """One round: its batches (skipping those done before an interruption), then
        evaluation, a line of output, the checkpoint and metrics.json."""
        p = self.progress
        self.order_rng.bit_generator.state = p.order_state
        batches = self.exp.batches(self.cfg, self.data, self.order_rng, p.round)
        total = self.exp.steps_in_round(self.cfg, self.data, p.round)
        bar = ProgressBar(total, self.round_label(), self.stream, start_done=p.batches_done)
        start = time.perf_counter()
        try:
            for xb, yb in islice(batches, p.batches_done, None):
                self.one_step(xb, yb, bar)
                if flag.requested:
                    raise KeyboardInterrupt
        finally:
            p.seconds += time.perf_counter() - start
            bar.clear()
        self.end_round()

    def one_step(self, xb: np.ndarray, yb: np.ndarray, bar: ProgressBar) -> None:
        loss, correct = self.train_step(self.model, self.optimizer, xb, yb, self.cfg)
        p = self.progress
        p.batches_done += 1
        p.steps += 1
        p.running = [p.running[0] + loss * len(yb), p.running[1] + correct, p.running[2] + len(yb)]
        if self.exp.record_steps:
            p.step_losses.append(loss)
        bar.update(loss, correct, len(yb))

    def end_round(self) -> None:
        p = self.progress
        row = self.evaluate_row(p.seconds)
        p.round += 1
        row["epoch"] = p.round
        p.history.append(row)
        p.batches_done, p.seconds, p.running = 0, 0.0, [0.0, 0.0, 0.0]
        p.order_state = self.order_rng.bit_generator.state
        self.print_line(row)
        self.save()
        self.write_metrics("running")

    def round_label(self) -> str:
        if self.exp.schedule == "epochs":
            return f"epoch {self.progress.round + 1}/{self.rounds}"
        first = self.progress.round * self.exp.round_steps(self.cfg)
        return f"iter {first}/{self.cfg.steps}"

    # ------------------------------------------------------------------ evaluation
    def evaluate_row(self, seconds: float) -> dict[str, Any]:
        """Loss and accuracy on the full training and test sets, plus the round's running
        means of the training objective (as optimised: penalties, sums) and its timing."""
        start = time.perf_counter()
        train_loss, train_acc = evaluate(self.exp, self.model, self.data.x_train, self.data.y_train)
        test_loss, test_acc = evaluate(self.exp, self.model, self.data.x_test, self.data.y_test)
        loss_n, correct, n = self.progress.running
        return {
            "epoch": self.progress.round,
            "step": self.progress.steps,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "objective": loss_n / n if n else None,
            "running_acc": correct / n if n else None,
            "seconds": seconds,
            "eval_seconds": time.perf_counter() - start,
            **self.exp.row_extras(self.model),
        }

    def print_line(self, row: dict[str, Any]) -> None:
        self.stream.write(self.exp.round_line(row, self.cfg, self.rounds) + "\n")
        self.stream.flush()

    # ------------------------------------------------------------------ outputs
    def metrics(self, status: str) -> dict[str, Any]:
        cfg, p = self.cfg, self.progress
        unused = "steps" if self.exp.schedule == "epochs" else "epochs"
        skip = ("data", "seed", "options", unused)
        hyper = {k: v for k, v in cfg.to_json().items() if k not in skip}
        metrics = {
            "experiment": self.exp.name,
            "title": self.exp.title,
            "seed_report": self.exp.seed_report,
            "status": status,
            "data": {"name": cfg.data, **self.data.describe()},
            "seed": cfg.seed,
            "device": self.device,
            "schedule": self.exp.schedule,
            "hyperparameters": {**hyper, **cfg.options},
            "epochs": p.history,
            "seconds_per_epoch": _mean([row["seconds"] for row in p.history[1:]]),
        }
        if self.exp.record_steps:
            metrics["step_losses"] = p.step_losses
        return metrics

    def write_metrics(self, status: str) -> dict[str, Any]:
        metrics = self.metrics(status)
        with atomic_open(self.out / METRICS, "w") as handle:
            json.dump(json_safe(metrics), handle, indent=1, allow_nan=False)
        return metrics

    def write_curves(self) -> None:
        x_key = "epoch" if self.exp.schedule == "epochs" else "step"
        chance = self.data.classes if self.exp.plot_chance else None
        title = self.exp.figure_title(self.data)
        if self.cfg.quick:
            rows = f"{len(self.data.x_train)} train"
            if self.exp.has_test_set:
                rows += f" / {len(self.data.x_test)} test"
            title += f" (--quick: {rows} rows)"
        plots.plot_curves(
            self.progress.history, title, self.out / CURVES, x_key, chance, self.exp.has_test_set
        )

    def finish(self) -> RunResult:
        metrics = self.write_metrics("complete")
        self.write_curves()
        self.exp.extra_outputs(self.out, self.model, self.data, metrics)
        summary = self.exp.summary(self.progress.history, self.data)
        self.stream.write(summary + "\n")
        self.stream.flush()
        return RunResult(metrics, summary, self.out, self.model, self.optimizer)

    def stop_and_save(self) -> str:
        """After the first Ctrl-C: save everything, return the message saying how to resume."""
        self.save()
        self.write_metrics("interrupted")
        self.write_curves()
        p = self.progress
        where = f"{self.exp.unit()} {p.round + 1} of {self.rounds}"
        return (
            f"Interrupted in {where} after {p.batches_done} batches of it; saved "
            f"{self.out / CHECKPOINT} and {self.out / METRICS}.\n"
            f"Resume with: {self.resume_command}"
        )

    def forced_message(self) -> str:
        return (
            "Stopped by a second Ctrl-C without saving (the state may have been mid-step). "
            f"The checkpoint from the end of {self.exp.unit()} {self.progress.round} is in "
            f"{self.out}.\nResume from it with: {self.resume_command}"
        )


def jitted_train_step(exp: Experiment, run: Run, stream: TextIO) -> Any:
    """``exp.train_step`` recorded once per batch shape and replayed (``tinygrad_hw.jit``);
    an experiment with its own train step keeps it, eager."""
    if type(exp).train_step is not Experiment.train_step:
        stream.write(f"--jit: {exp.name} has its own train step; it runs eagerly\n")
        return exp.train_step

    def step(xb: np.ndarray, yb: np.ndarray) -> tuple[Tensor, Tensor]:
        run.optimizer.zero_grad()
        loss, logits = exp.objective(run.model, Tensor(xb), yb, run.cfg)
        loss.backward()
        run.optimizer.step()
        return loss, logits

    recorded = jit(step)

    def train_step(model: Any, optimizer: Any, xb: np.ndarray, yb: np.ndarray, cfg: Config):
        loss, logits = recorded(xb, yb)
        return loss.item(), exp.count_correct(logits.numpy(), yb)

    return train_step


def evaluate(exp: Experiment, model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean loss per example and accuracy of ``model`` on ``(x, y)``, without recording."""
    total, correct = 0.0, 0
    model.eval()
    try:
        with no_grad():
            for start in range(0, len(x), EVAL_CHUNK):
                rows = slice(start, start + EVAL_CHUNK)
                logits = exp.forward(model, Tensor(x[rows]))
                total += exp.loss_sum(logits, y[rows])
                correct += exp.count_correct(logits.numpy(), y[rows])
    finally:
        model.train()
    return total / len(x), correct / len(x)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def resume_command(exp: Experiment, cfg: Config, out: Path) -> str:
    """The command line that continues this run (the checkpoint holds its other settings)."""
    length = f"--epochs {cfg.epochs}" if exp.schedule == "epochs" else f"--steps {cfg.steps}"
    return f"python -m models run {exp.name} --out {shlex.quote(str(out))} {length} --resume"


def default_out(name: str, quick: bool) -> Path:
    """``runs/NAME``, or ``runs/quick/NAME`` for --quick (which must not replace a full run)."""
    return Path("runs") / "quick" / name if quick else Path("runs") / name


def run_experiment(
    exp: Experiment,
    overrides: dict[str, Any] | None = None,
    quick: bool = False,
    out: str | Path | None = None,
    resume: bool = False,
    stream: TextIO | None = None,
    jit: bool = False,
    device: str | None = None,
) -> RunResult:
    """Train ``exp`` (fresh, or from ``out``'s checkpoint with ``resume``) and write its
    outputs into ``out`` (default ``runs/<name>``, or ``runs/quick/<name>`` with ``quick``),
    with the model and the batches on ``device`` ("cpu": numpy; "cuda": CuPy; or an array-API
    library such as "array_api_strict"; None: the default device, see models/device.py).
    Raises :class:`Interrupted` on Ctrl-C."""
    out = Path(out) if out is not None else default_out(exp.name, quick)
    cfg = resolve_config(exp, overrides or {}, quick, out, resume)
    with on_device(device) as where:
        run = Run(exp, cfg, out, stream or sys.stdout, resume_command(exp, cfg, out), jit)
        check_on_device(run.model, where)
        if resume:
            run.restore()
            if run.done():
                run.stream.write(f"{out} holds a finished run; raise --epochs/--steps to go on.\n")
        return run.train()
