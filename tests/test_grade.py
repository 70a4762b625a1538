"""The grader: every reference solution passes, each classic mistake gets its diagnosis on a
small case, and a student's code that raises, prints, hangs or exits is contained.

The solutions and mistakes are in tests/grading_solutions.py. The in-process grade_function
checks them (fast); the command line, which runs each exercise in a process of its own, is
tested on a few submission folders (each process costs about a second)."""

import csv
import inspect
import re
import runpy
import subprocess
import sys
from pathlib import Path

import grading_solutions as solutions
import pytest

from tinygrad_hw import grade
from tinygrad_hw.grading import EXERCISES, grade_function

ROOT = Path(__file__).resolve().parent.parent
FEW = 12  # drawn cases per exercise: the mistakes below fail at the first few sizes


@pytest.mark.parametrize("name", EXERCISES)
def test_every_reference_solution_passes(name):
    result = grade_function(name, solutions.RIGHT[name], max_examples=FEW)
    assert result.passed, result
    assert result.status == "pass" and result.diagnosis == "ok" and result.cases > FEW // 2


MISTAKES = [
    # (exercise, wrong solution, diagnosis, words the message must hold)
    ("softmax_cross_entropy", solutions.softmax_ce_sign_flipped, "logits: sign", "y - p"),
    ("softmax_cross_entropy", solutions.softmax_ce_missing_1_over_n, "logits: scale",
     "off by the batch size N = 2"),
    ("softmax_cross_entropy", solutions.softmax_ce_jacobian_on_top, "logits: mismatch",
     "a softmax or sigmoid derivative on top of p - y"),
    ("sigmoid_bce", solutions.sigmoid_bce_derivative_twice, "z: mismatch", "derivative applied"),
    ("linear_backward", solutions.linear_unsummed_bias, "b: shape", "sum over the batch axis"),
    ("linear_backward", solutions.linear_transposed_weight, "w: shape", "x.T @ dz"),
    ("relu_backward", solutions.relu_missing_mask, "x: mismatch", "the others match"),
    ("mlp_backward", solutions.mlp_missing_relu_mask, "a1: mismatch", "between it and the loss"),
    ("mlp_backward", solutions.mlp_missing_1_over_n, "z2: scale", "batch size N = 2"),
    ("mlp_backward", solutions.mlp_lambda_not_2_lambda, "W1 L2 term: scale", "check the 1/2"),
    ("mlp_backward", solutions.mlp_unsummed_bias, "b1: shape", "sum over the batch axis"),
    ("adam", solutions.adam_without_bias_correction, "the step w_new - w: mismatch",
     "bias correction"),
    ("adam", solutions.adam_ascent, "the step w_new - w: sign", "sign flipped"),
    ("seed002_logistic", solutions.logistic_seed002, "gradient of w: mismatch",
     "points the right way"),
    ("seed002_logistic", solutions.logistic_ascent, "gradient of w: sign", "sign flipped"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "wrong", "diagnosis", "words"), MISTAKES,
                         ids=[m[1].__name__ for m in MISTAKES])  # fmt: skip
def test_each_classic_mistake_is_caught_with_its_diagnosis_on_a_small_case(
    name, wrong, diagnosis, words
):
    result = grade_function(name, wrong, max_examples=FEW)
    assert result.status == "fail" and result.diagnosis == diagnosis, result
    assert words in result.message
    sizes = dict(re.findall(r"(\w)=(\d+)", result.case.split(";")[0]))
    assert sizes and all(int(n) <= 2 for k, n in sizes.items() if k == "N"), result.case


def test_the_smallest_failing_case_needs_two_samples_for_a_missing_1_over_n():
    """At N = 1 dividing by N changes nothing: the shrunk case must be the first N that shows
    the mistake, and it is printed with its values."""
    result = grade_function("softmax_cross_entropy", solutions.softmax_ce_missing_1_over_n, FEW)
    assert result.case.startswith("N=2, K=3; logits = [[")


def test_what_student_code_raises_or_prints_is_reported_not_raised():
    def raises(logits, labels):
        return logits / 0 if logits.size > 3 else 1 / 0

    result = grade_function("softmax_cross_entropy", raises, FEW)
    assert result.status == "error" and result.diagnosis == "raises ZeroDivisionError"
    assert "at line" in result.message and "1 / 0" in result.message

    def chatty(x, dout):
        print("debugging", x.shape)
        return solutions.relu_backward(x, dout)

    result = grade_function("relu_backward", chatty, FEW)
    assert result.passed and result.printed.startswith("debugging (1, 1)")

    def returns_nothing(x, w, b, dout):
        solutions.linear_backward(x, w, b, dout)

    result = grade_function("linear_backward", returns_nothing, FEW)
    assert result.diagnosis == "wrong answer" and "must be a tuple (x, w, b)" in result.message


def test_an_exercise_not_done_says_so():
    result = grade_function("adam", lambda *args: (_ for _ in ()).throw(NotImplementedError()))
    assert result.status == "not done" and result.cases == 0


# --------------------------------------------------------------------------- command line


def _write(folder: Path, name: str, source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text("import numpy as np\n\n" + source)


def _solution_source(*functions, named: str | None = None) -> str:
    """The functions' source; the last one renamed to ``named`` (a mistake's own name is
    not the exercise's)."""
    source = "\n\n".join(inspect.getsource(fn) for fn in functions)
    if named:
        source = source.replace(f"def {functions[-1].__name__}(", f"def {named}(")
    return source


def test_the_stubs_in_exercises_are_not_done_and_state_their_task():
    """In this process (a process per stub is what the command line pays; tested below)."""
    for name, exercise in EXERCISES.items():
        stub = ROOT / "exercises" / f"{name}.py"
        source = stub.read_text()
        assert f"python -m tinygrad_hw.grade exercises/{name}.py" in source
        student_function = runpy.run_path(str(stub))[exercise.function]
        assert student_function.__doc__ and source.startswith('"""Exercise ')
        result = grade_function(exercise, student_function, FEW)
        assert result.status == "not done" and result.message == "raises NotImplementedError"


def test_a_folder_of_submissions_gives_a_report_and_contains_hangs_and_exits(tmp_path, capsys):
    alice, bob = tmp_path / "submissions" / "alice", tmp_path / "submissions" / "bob"
    _write(alice, "relu_backward", _solution_source(solutions.relu_backward))
    _write(
        alice,
        "linear_backward",
        _solution_source(solutions.linear_unsummed_bias, named="linear_backward"),
    )
    _write(bob, "relu_backward", "def relu_backward(x, dout):\n    while True:\n        pass\n")
    _write(bob, "linear_backward", "import os\n\ndef linear_backward(x, w, b, dout):\n"
                                   "    os._exit(3)\n")  # fmt: skip
    _write(bob, "adam", "print('hello from import')\n\ndef adam_step(*args):\n    return 1\n")
    report = tmp_path / "grades.csv"
    status = grade.main([str(tmp_path / "submissions"), "--report", str(report),
                         "--timeout", "6", "--max-examples", "5"])  # fmt: skip
    assert status == grade.EXIT_FAILED
    out = capsys.readouterr().out
    assert "alice: 1 of 7 passed" in out and "bob: 0 of 7 passed" in out
    assert "smallest failing case: N=1, D=1, M=1" in out
    rows = {row["student"]: row for row in csv.DictReader(report.open())}
    assert rows["alice"]["relu_backward"] == "pass" and rows["alice"]["passed"] == "1"
    assert rows["alice"]["linear_backward"] == "fail: b: shape"
    assert rows["alice"]["adam"] == "missing"
    assert rows["bob"]["relu_backward"] == "timeout"
    assert rows["bob"]["linear_backward"] == "crashed"
    assert rows["bob"]["adam"] == "fail: wrong answer"
    assert "printed 1 line(s), first: 'hello from import'" in out


def test_one_file_from_the_shell_and_a_bad_path(tmp_path):
    _write(
        tmp_path, "sigmoid_bce", _solution_source(solutions._sigmoid, solutions.sigmoid_bce_grad)
    )
    done = subprocess.run(
        [sys.executable, "-m", "tinygrad_hw.grade", str(tmp_path / "sigmoid_bce.py"),
         "--max-examples", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.search(r"sigmoid_bce\s+pass\s+\(\d+ cases\)", done.stdout)
    (tmp_path / "notes.py").write_text("x = 1\n")
    assert grade.main([str(tmp_path / "notes.py")]) == grade.EXIT_ERROR
