"""The command line without surprises: options checked before anything runs, --quick runs and
reports in runs/quick/, where the files are, the closest-name hint, a quiet broken pipe, the
console script, and the figures' titles, ticks and curves."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from models import cli, plots, registry, report

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["seed000", "--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["seed003", "--steps", "-5"], "--steps must be a positive integer, got -5"),
        (["seed000", "--batch-size", "-5"], "--batch-size must be an integer >= 0, got -5"),
        (["seed000", "--seed", "-1"], "--seed must be an integer >= 0, got -1"),
        (["seed000", "--lr", "0"], "--lr must be a positive number"),
        (["seed000", "--set", "bet1=0.5"], "--set bet1: seed000 has no option 'bet1'. Did you"
                                           " mean 'beta1'?"),
        (["seed003-toy", "--set", "init=he"], "--set init: seed003-toy has no option 'init'"),
        (["seed004", "--set", "reg=big"], "--set reg must be a number, got 'big'"),
        (["seed000", "--classes", "3,4"], "--classes: seed000 does not use classes"),
        (["seed002", "--classes", "3,12"], "--classes: seed002's classes are digits 0 to 9"),
        (["random-labels", "--classes", "1"], "random-labels: --classes takes one K >= 2"),
        (["seed003-toy", "--data", "mnist"], "--data: seed003-toy always trains on its own data"),
        (["seed003", "--epochs", "2"], "use --steps instead of --epochs"),
        (["seed000", "--resume", "--epochs", "-1"], "--epochs must be a positive integer"),
    ],
)  # fmt: skip
def test_bad_options_are_errors_naming_the_option_before_anything_runs(
    argv, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", *argv]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # not one epoch line: it stopped before training
    assert list(tmp_path.iterdir()) == []  # and before making a folder


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("no_such_array_library", "device 'no_such_array_library' needs the module "
                                  "'no_such_array_library', which is not installed"),
        ("json", "device 'json': json does not follow the array API"),
    ],
)  # fmt: skip
def test_an_unknown_device_is_an_error_naming_it_before_anything_runs(
    device, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "seed000", "--quick", "--device", device]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def test_jit_on_another_device_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("array_api_strict")
    monkeypatch.chdir(tmp_path)
    argv = ["run", "seed000", "--quick", "--jit", "--device", "array_api_strict"]
    assert cli.main(argv) == cli.EXIT_ERROR
    assert "--jit records numpy's arrays only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("seed00", "seed000"), ("seed01", "seed001"), ("seed0004", "seed004"), ("lenett", "lenet"),
     ("random", "random-labels"), ("zzzz", None)],
)  # fmt: skip
def test_the_typo_hint_is_the_closest_name(typed, expected):
    assert registry.closest_name(typed, registry.EXPERIMENTS) == expected


def test_quick_runs_go_to_runs_quick_and_every_run_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "seed003-toy"]) == 0
    assert capsys.readouterr().out.endswith(
        "files in runs/seed003-toy: checkpoint.npz, curves.png, metrics.json\n"
    )
    full = (tmp_path / "runs" / "seed003-toy" / "metrics.json").read_bytes()
    assert cli.main(["run", "seed003-toy", "--quick"]) == 0
    assert "files in runs/quick/seed003-toy: " in capsys.readouterr().out
    assert (tmp_path / "runs" / "quick" / "seed003-toy" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "seed003-toy" / "metrics.json").read_bytes() == full


def test_report_quick_leaves_the_full_report_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(report, "ENTRIES", (report.Entry("seed003-toy"),))
    full = tmp_path / "runs" / "report.md"
    full.parent.mkdir()
    full.write_text("the full table\n")
    assert cli.main(["report", "--quick"]) == 0
    assert full.read_text() == "the full table\n"
    quick_table = (tmp_path / "runs" / "quick" / "report.md").read_text()
    assert "| seed003-toy |" in quick_table
    assert (tmp_path / "runs" / "quick" / "seed003-toy" / "metrics.json").is_file()
    assert "wrote runs/quick/report.md" in capsys.readouterr().out


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path):
    command = [sys.executable, "-m", "models", "run", "seed000", "--quick", "--epochs", "100000"]
    proc = subprocess.Popen(
        [*command, "--out", str(tmp_path / "run")], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().startswith("epoch")  # as `| head -1` would
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == cli.EXIT_BROKEN_PIPE
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit


def test_the_console_script_is_the_same_command_line_from_any_folder(tmp_path):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"tinygrad-hw": "models.console:main"}
    # what the installed script does, run from another folder
    code = "import sys; from models.console import main; sys.argv[1:] = ['list']; sys.exit(main())"
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "seed000" in done.stdout
    usage = subprocess.run(
        [sys.executable, "-c", code.replace("['list']", "['--help']")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert usage.stdout.startswith("usage: tinygrad-hw ")


# ---------------------------------------------------------------------- figures
@pytest.fixture
def drawn(monkeypatch):
    """The figures plots.py makes, kept (drawn, not saved) for inspection."""
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig))
    yield figures
    for fig in figures:
        plots.plt.close(fig)


def rows(n: int) -> list[dict]:
    return [
        {"epoch": e, "step": 10 * e, "train_loss": 2.0 / (e + 1), "test_loss": 2.1 / (e + 1),
         "train_acc": e / n, "test_acc": e / (n + 1)}
        for e in range(n + 1)
    ]  # fmt: skip


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_curves_have_integer_ticks_and_a_title_clear_of_everything(drawn):
    title = "seed000: a long experiment title " * 5 + "(--quick: 500 train / 200 test rows)"
    plots.plot_curves(rows(3), title, "unused.png", chance_classes=10)
    fig = drawn[0]
    canvas = FigureCanvasAgg(fig)  # what savefig draws with
    canvas.draw()
    renderer = canvas.get_renderer()
    title_box = fig._suptitle.get_window_extent(renderer)
    assert "--quick" in fig._suptitle.get_text()
    for ax in fig.axes:
        assert all(float(t).is_integer() for t in ax.get_xticks())  # 3 epochs: 0, 1, 2, 3
        assert not overlaps(title_box, ax.get_tightbbox(renderer))  # labels, legend, ticks
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["train loss", "test loss", r"$\ln 10$ (chance)"]  # mathtext


def test_no_test_curve_without_a_test_set(drawn):
    plots.plot_curves(rows(2), "toy", "unused.png", x_key="step", has_test=False)
    for ax in drawn[0].axes:
        assert [line.get_label() for line in ax.get_lines()] == [
            "train loss" if ax is drawn[0].axes[0] else "train accuracy"
        ]


def test_without_matplotlib_the_console_script_says_what_to_install(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.argv[1:] = ['list']\n"
        "from models.console import main; sys.exit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pip install matplotlib" in done.stderr and "Traceback" not in done.stderr
