"""The shared runner: resume gives the same weights bit for bit, Ctrl-C saves and says how to
resume, the command line, the report, the progress bar."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import cli, registry, report
from models.interrupt import ForcedStop, StopFlag
from models.progress import ProgressBar
from models.runner import CHECKPOINT, METRICS, Interrupted, run_experiment
from tinygrad_hw import checkpoint
from tinygrad_hw.errors import ArgumentError, MissingDataError
from tinygrad_hw.ops.devices import default_device, device_of

ROOT = Path(__file__).resolve().parent.parent
TIMING_KEYS = ("seconds", "eval_seconds")
STRICT = "array_api_strict"  # the array API standard's strict library, on the CPU


def quiet_run(name: str, out: Path, resume: bool = False, **overrides: object):
    return run_experiment(
        registry.get(name), overrides, quick=True, out=out, resume=resume, stream=io.StringIO()
    )


def assert_same_state(a, b) -> None:
    """Every weight and every optimizer buffer equal, bit for bit."""
    for (name, wa), (_, wb) in zip(
        a.model.named_parameters(), b.model.named_parameters(), strict=True
    ):
        np.testing.assert_array_equal(wa.data, wb.data, err_msg=name)
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key], err_msg=key)


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


def interrupt_at_call(exp, monkeypatch, call: int) -> None:
    """Make ``exp.train_step`` raise KeyboardInterrupt (before doing anything) at ``call``."""
    real = exp.train_step
    calls = {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(exp, "train_step", step)


# ---------------------------------------------------------------------- resume
def test_resume_after_one_epoch_ends_with_identical_weights(tmp_path):
    straight = quiet_run("seed000", tmp_path / "a", epochs=3)
    quiet_run("seed000", tmp_path / "b", epochs=1)
    resumed = quiet_run("seed000", tmp_path / "b", resume=True, epochs=3)
    assert_same_state(straight, resumed)
    # Weights changed during the resumed epochs: equality is not that of two untouched models.
    first = checkpoint.load(tmp_path / "b" / CHECKPOINT)
    assert first["progress"]["round"] == 3
    assert without_timing(straight.metrics["epochs"]) == without_timing(resumed.metrics["epochs"])


SEED003_SHORT = {"steps": 60, "log_every": 25}  # three rounds of sampled batches


@pytest.mark.parametrize(
    ("name", "overrides", "call"), [("seed000", {}, 7), ("seed003-relu50", SEED003_SHORT, 40)]
)
def test_ctrl_c_mid_round_saves_and_resume_is_exact(tmp_path, monkeypatch, name, overrides, call):
    """Interrupted in the middle of a round (seed000: batch 2 of epoch 2, 5 batches an
    epoch; seed003-relu50: step 40, in the second 25-step round), then resumed: the same
    weights and optimizer state as a run never stopped."""
    straight = quiet_run(name, tmp_path / "a", **overrides)
    exp = registry.get(name)
    interrupt_at_call(exp, monkeypatch, call)
    with pytest.raises(Interrupted) as stop:
        quiet_run(name, tmp_path / "b", **overrides)
    monkeypatch.undo()
    assert "Resume with: python -m models run " + name in stop.value.message
    assert stop.value.message.rstrip().endswith("--resume")
    metrics = json.loads((tmp_path / "b" / METRICS).read_text())
    assert metrics["status"] == "interrupted"
    saved = checkpoint.load(tmp_path / "b" / CHECKPOINT)["progress"]
    assert saved["batches_done"] > 0  # the checkpoint is from the middle of a round
    resumed = quiet_run(name, tmp_path / "b", resume=True)
    assert_same_state(straight, resumed)
    assert resumed.metrics["epochs"][-1]["step"] == straight.metrics["epochs"][-1]["step"]


def test_resume_keeps_hyperparameters(tmp_path):
    quiet_run("seed000", tmp_path, epochs=1)
    with pytest.raises(ArgumentError, match="lr"):
        quiet_run("seed000", tmp_path, resume=True, lr=0.5)
    with pytest.raises(ArgumentError, match="seed003"):
        quiet_run("seed003", tmp_path, resume=True)


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(MissingDataError, match="no checkpoint"):
        quiet_run("seed000", tmp_path, resume=True)


def test_second_ctrl_c_stops_at_once():
    flag = StopFlag()
    flag.handle(signal.SIGINT, None)
    assert flag.requested
    with pytest.raises(ForcedStop):
        flag.handle(signal.SIGINT, None)


def test_sigint_to_a_running_cli_saves_and_exits_130(tmp_path):
    """A real SIGINT: the run finishes its step, saves, prints the resume command, exits 130."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "models", "run", "seed000", "--quick", "--epochs", "100000"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*command, "--out", str(out)], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().split()[:2] == ["epoch", "0/100000"]  # before training
        assert proc.stdout.readline().split()[:2] == ["epoch", "1/100000"]  # one epoch done
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # a failed assertion must not leave a 100,000-epoch run
            proc.kill()
            proc.communicate()
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    assert f"Resume with: python -m models run seed000 --out {out} --epochs 100000 --resume" in err
    meta = checkpoint.load(out / CHECKPOINT)
    assert meta["progress"]["round"] >= 1
    assert json.loads((out / METRICS).read_text())["status"] == "interrupted"


# ---------------------------------------------------------------------- command line
def test_list_names_every_experiment(capsys):
    assert cli.main(["list"]) == 0
    printed = capsys.readouterr().out
    for name in registry.EXPERIMENTS:
        assert f"  {name} " in printed
    assert "python -m models.demo" in printed
    has_mistakes = (ROOT / "models" / "backprop_mistakes.py").is_file()
    assert ("python -m models.backprop_mistakes" in printed) == has_mistakes


def test_cli_errors_exit_2_with_a_message(tmp_path, capsys):
    assert cli.main(["run", "seed00", "--quick", "--out", str(tmp_path)]) == cli.EXIT_ERROR
    assert "unknown experiment 'seed00'. Did you mean" in capsys.readouterr().err
    assert cli.main(["run", "seed003", "--epochs", "2", "--out", str(tmp_path)]) == 2
    assert "--steps" in capsys.readouterr().err


def test_report_writes_a_markdown_table(tmp_path, monkeypatch, capsys):
    entries = (report.Entry("seed003-toy"), report.Entry("seed002", {"classes": (4, 9)}, "-4v9"))
    monkeypatch.setattr(report, "ENTRIES", entries)
    out = tmp_path / "report.md"
    assert cli.main(["report", "--quick", "--out", str(out)]) == 0
    table = out.read_text()
    assert table in capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| seed")]
    assert [row.split(" | ")[0] for row in rows] == ["| seed003-toy", "| seed002-4v9"]
    metrics = json.loads((tmp_path / "seed002-4v9" / METRICS).read_text())  # next to it
    assert f"test {metrics['epochs'][-1]['test_acc']:.3f}" in rows[1]


# ---------------------------------------------------------------------- progress bar
def three_batches(bar: ProgressBar) -> ProgressBar:
    for loss, correct in ((2.0, 1), (1.0, 3), (0.0, 4)):
        bar.update(loss, correct, 4)
    return bar


def test_progress_bar_is_drawn_by_tqdm_on_a_terminal():
    pytest.importorskip("tqdm")
    stream = io.StringIO()
    bar = three_batches(ProgressBar(3, "epoch 1/1", stream, tty=True))
    drawn = stream.getvalue()
    assert "epoch 1/1" in drawn and "\r" in drawn
    bar.clear()
    assert bar.bar is None and stream.getvalue() != drawn  # wiped, for the permanent line
    assert bar.mean_loss == pytest.approx(1.0)  # (2 + 1 + 0) * 4 rows / 12 rows
    assert bar.accuracy == pytest.approx(8 / 12)


def test_no_bar_in_a_log_and_none_without_tqdm(monkeypatch):
    stream = io.StringIO()
    bar = three_batches(ProgressBar(3, "epoch 1/1", stream, tty=False))
    bar.clear()
    assert stream.getvalue() == ""  # a pipe or a log file: only the runner's epoch lines
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    bar = three_batches(ProgressBar(3, "epoch 1/1", stream, tty=True))
    bar.clear()
    assert stream.getvalue() == "" and bar.mean_loss == pytest.approx(1.0)


def test_a_run_on_a_terminal_keeps_one_permanent_line_per_epoch(tmp_path):
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    run_experiment(registry.get("seed000"), {}, quick=True, out=tmp_path, stream=stream)
    lines = [line.split("\r")[-1].strip() for line in stream.getvalue().split("\n")]
    epochs = [line for line in lines if line.startswith("epoch") and "train loss" in line]
    assert [line.split()[1] for line in epochs] == ["0/2", "1/2", "2/2"]


# ---------------------------------------------------------------------- --jit
def test_jit_run_ends_with_the_eager_weights(tmp_path):
    # the replayed step runs the eager step's numpy calls in the same order: same bits
    eager = quiet_run("seed000", tmp_path / "a", epochs=2)
    jitted = run_experiment(
        registry.get("seed000"), {"epochs": 2}, True, tmp_path / "b", stream=io.StringIO(), jit=True
    )
    assert_same_state(eager, jitted)
    assert without_timing(eager.metrics["epochs"]) == without_timing(jitted.metrics["epochs"])


def test_cli_run_takes_jit(tmp_path, capsys):
    assert cli.main(["run", "seed000", "--quick", "--jit", "--out", str(tmp_path)]) == 0
    assert (tmp_path / METRICS).exists()


# ---------------------------------------------------------------------- --device
def test_a_run_on_array_api_strict_trains_there_and_matches_the_numpy_run(tmp_path):
    pytest.importorskip("array_api_strict")
    before = default_device()
    exp = registry.get("seed000")  # an MLP trained by Adam: parameters and moments to move
    on_strict = run_experiment(
        exp, {"epochs": 2}, True, tmp_path / "strict", stream=io.StringIO(), device=STRICT
    )
    assert default_device() == before  # the run's device was the default for the run only
    assert {p.device for p in on_strict.model.parameters()} == {STRICT}
    assert {device_of(m) for state in on_strict.optimizer.state for m in state.values()} == {STRICT}
    assert on_strict.metrics["device"] == STRICT
    losses = [row["train_loss"] for row in on_strict.metrics["epochs"]]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < 0.9 * losses[0]  # it trains: 2.31 (untrained) -> 1.80 after 2 epochs
    on_cpu = run_experiment(
        exp, {"epochs": 2}, True, tmp_path / "cpu", stream=io.StringIO(), device="cpu"
    )
    assert on_cpu.metrics["device"] == "cpu"
    # the same float32 maths on another array library: the same run, up to rounding
    np.testing.assert_allclose(losses, [r["train_loss"] for r in on_cpu.metrics["epochs"]], 1e-5)
    for a, b in zip(on_strict.model.parameters(), on_cpu.model.parameters(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_cli_run_takes_device_and_writes_it_into_the_metrics(tmp_path):
    pytest.importorskip("array_api_strict")
    argv = ["run", "seed003", "--quick", "--steps", "40", "--set", "log_every=20"]
    assert cli.main([*argv, "--device", STRICT, "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / METRICS).read_text())
    assert metrics["device"] == STRICT and metrics["status"] == "complete"
    losses = [row["train_loss"] for row in metrics["epochs"]]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0]
