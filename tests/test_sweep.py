"""Sweeps: one run per combination, resumable, and the same numbers whether run serially,
in worker processes (--jobs 2) or on a Dask cluster (a LocalCluster on 127.0.0.1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models import cli
from models.sweep import SWEEP_JSON, SWEEP_PLOT, SWEEP_TABLE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A tiny sweep: 2 learning rates x 2 seeds of seed001 for one quick epoch (~0.5 s a run).
SWEEP = ["sweep", "seed001", "--quick", "--epochs", "1", "--lr", "0.1,0.3", "--seeds", "0,1"]
FOLDERS = ["lr=0.1_seed=0", "lr=0.1_seed=1", "lr=0.3_seed=0", "lr=0.3_seed=1"]


def numbers(out: Path) -> dict:
    """What a sweep found: every run's final figures and the groups' spreads."""
    result = json.loads((out / SWEEP_JSON).read_text())
    return {"runs": result["runs"], "groups": result["groups"]}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert cli.main([*SWEEP, "--out", str(out)]) == 0
    return out


def test_every_combination_is_its_own_run_with_metrics_and_checkpoint(serial):
    for name in FOLDERS:
        metrics = json.loads((serial / name / "metrics.json").read_text())
        assert metrics["status"] == "complete" and (serial / name / "checkpoint.npz").is_file()
        lr, seed = float(name.split("_")[0][3:]), int(name.split("=")[-1])
        assert metrics["hyperparameters"]["lr"] == lr and metrics["seed"] == seed
    assert (serial / SWEEP_PLOT).read_bytes().startswith(PNG_MAGIC)


def test_the_table_gives_mean_and_spread_over_seeds_of_the_runs_own_metrics(serial):
    table = (serial / SWEEP_TABLE).read_text()
    for lr in ("0.1", "0.3"):
        finals = [
            json.loads((serial / f"lr={lr}_seed={s}" / "metrics.json").read_text())["epochs"][-1]
            for s in (0, 1)
        ]
        acc = np.array([row["test_acc"] for row in finals])
        cell = f"{acc.mean():.3f} ± {acc.std():.3f} ({acc.min():.3f}-{acc.max():.3f})"
        row = next(line for line in table.splitlines() if line.startswith(f"| {lr} |"))
        assert row.split(" | ")[1:3] == ["0,1", cell]


def test_jobs_2_gives_the_serial_numbers(serial, tmp_path):
    assert cli.main([*SWEEP, "--jobs", "2", "--out", str(tmp_path)]) == 0
    assert numbers(tmp_path) == numbers(serial)


def test_a_dask_cluster_gives_the_serial_numbers(serial, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    # One worker process running two runs at a time in its two threads, as a real cluster's
    # worker would; its nanny starts it with one BLAS thread (Dask's default environment).
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, protocol="tcp", host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        assert cli.main([*SWEEP, "--dask", address, "--out", str(tmp_path)]) == 0
    assert numbers(tmp_path) == numbers(serial)
    for name in FOLDERS:  # the files came back from the worker
        assert json.loads((tmp_path / name / "metrics.json").read_text())["status"] == "complete"
        assert (tmp_path / name / "checkpoint.npz").is_file()


def test_a_finished_run_is_not_rerun(serial, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(serial, copy)
    before = {name: (copy / name / "metrics.json").stat().st_mtime_ns for name in FOLDERS}
    (copy / FOLDERS[2] / "metrics.json").unlink()  # as if stopped before it ended
    assert cli.main([*SWEEP, "--out", str(copy)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("(done before)") == 3 and f"{FOLDERS[2]}: test acc" in printed
    for name in (FOLDERS[0], FOLDERS[1], FOLDERS[3]):
        assert (copy / name / "metrics.json").stat().st_mtime_ns == before[name]
    assert numbers(copy) == numbers(serial)


def test_a_folder_with_other_settings_is_an_error_not_overwritten(serial, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(serial, copy)
    other = [arg if arg != "1" else "2" for arg in SWEEP]  # --epochs 2
    assert cli.main([*other, "--out", str(copy)]) == cli.EXIT_ERROR
    assert "holds a run with other settings" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "0.1,-0.2"], "--lr must be a positive number, got -0.2"),
        (["--seeds", "0,0"], "--seeds: a seed is repeated"),
        (["--seeds", "0,-1"], "--seed must be an integer >= 0, got -1"),
        (["--set", "foo=1,2"], "--set foo: seed001 has no option 'foo'"),
        (["--jobs", "0"], "--jobs must be a positive integer"),
        (["--jobs", "2", "--dask", "tcp://127.0.0.1:1"], "--jobs and --dask: choose one"),
        (["--classes", "4,9"], "--classes: seed001 does not use classes"),
    ],
)
def test_bad_sweep_options_are_errors_before_any_run(extra, message, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert cli.main([*SWEEP, *extra, "--out", str(out)]) == cli.EXIT_ERROR
    assert message in capsys.readouterr().err
    assert not out.exists()
