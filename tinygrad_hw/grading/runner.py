"""Run a student's function on drawn cases, contain what it does, and keep the smallest failure.

``grade_function`` runs in this process: Hypothesis draws cases (``hypothesis.find`` looks for
one the answer gets wrong and shrinks it to the smallest shapes), the student's prints are
captured, and whatever the student's code raises becomes the result instead of a crash.
``grade_file`` runs each exercise of a file in its own Python process with a time limit, so
that code that hangs, exits or crashes the interpreter is reported too.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.errors import ArgumentError, MissingDataError
from tinygrad_hw.grading.exercises import EXERCISES, Case, Exercise, Verdict, WrongAnswer

STATUSES = ("pass", "fail", "not done", "error", "timeout", "crashed", "missing")
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise of one submission. ``status`` is one of STATUSES; ``diagnosis`` is "ok",
    what is wrong ("b: shape", "a1: mismatch") or what happened ("raises ZeroDivisionError");
    ``case`` is the smallest failing case, formatted; ``printed`` what the code printed."""

    exercise: str
    status: str
    diagnosis: str
    message: str
    case: str = ""
    cases: int = 0
    printed: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class _NotDone(Exception):
    pass


def grade_function(
    exercise: Exercise | str, fn: Callable[..., Any], max_examples: int = 40
) -> ExerciseResult:
    """Check ``fn`` as the answer to ``exercise`` on up to ``max_examples`` drawn cases."""
    try:
        from hypothesis import HealthCheck, Phase, find, settings
        from hypothesis.errors import NoSuchExample
    except ImportError:  # pragma: no cover - Hypothesis is installed with the test extras
        raise MissingDataError(
            "the grader draws cases with Hypothesis: pip install hypothesis"
        ) from None
    exercise = EXERCISES[exercise] if isinstance(exercise, str) else exercise
    printed = io.StringIO()
    checked = [0]

    def fails(drawn: tuple[dict[str, int], int]) -> bool:
        checked[0] += 1
        return not _attempt(exercise, fn, _case(exercise, drawn), printed, partly_done=True).ok

    smallest_sizes = {name: lo for name, (lo, _) in exercise.sizes.items()}
    try:
        first = _attempt(exercise, fn, _case(exercise, (smallest_sizes, 0)), printed)
    except _NotDone:
        return ExerciseResult(exercise.name, "not done", "not done", "raises NotImplementedError")
    options = settings(
        max_examples=max_examples, database=None, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )  # fmt: skip
    try:
        drawn = (
            (smallest_sizes, 0)
            if not first.ok
            else _smaller(exercise, find(_draws(exercise), fails, settings=options), fails)
        )
    except NoSuchExample:
        return ExerciseResult(
            exercise.name, "pass", "ok", first.message, cases=checked[0] + 1,
            printed=printed.getvalue(),
        )  # fmt: skip
    case = _case(exercise, drawn)
    verdict = _attempt(exercise, fn, case, printed, partly_done=True)
    status = "error" if verdict.diagnosis.startswith("raises ") else "fail"
    return ExerciseResult(
        exercise.name, status, verdict.diagnosis, verdict.message, describe_case(drawn[0], case),
        checked[0] + 1, printed.getvalue(),
    )  # fmt: skip


def _smaller(exercise: Exercise, drawn: tuple[dict[str, int], int], fails: Callable[..., bool]):
    """Shrink a failing draw: each size in turn down to the smallest that still fails (same
    seed), then seed 0 if it fails too. Hypothesis' own shrinker would get there as well, but
    spends hundreds of checks on the seed; this takes at most one check per size value."""
    sizes, seed = dict(drawn[0]), drawn[1]
    for name, (lo, _) in exercise.sizes.items():
        for smaller in range(lo, sizes[name]):
            if fails(({**sizes, name: smaller}, seed)):
                sizes[name] = smaller
                break
    return (sizes, 0) if seed and fails((sizes, 0)) else (sizes, seed)


def _draws(exercise: Exercise) -> Any:
    """Sizes and a seed: the sizes are shrunk (``_smaller``), so the smallest failure has
    small shapes."""
    from hypothesis import strategies as st

    sizes = {name: st.integers(lo, hi) for name, (lo, hi) in exercise.sizes.items()}
    return st.tuples(st.fixed_dictionaries(sizes), st.integers(0, 2**32 - 1))


def _case(exercise: Exercise, drawn: tuple[dict[str, int], int]) -> Case:
    sizes, seed = drawn
    return exercise.make_case(sizes, np.random.default_rng(seed))


def _attempt(
    exercise: Exercise, fn: Callable[..., Any], case: Case, printed: io.StringIO,
    partly_done: bool = False,
) -> Verdict:  # fmt: skip
    """The verdict on one case; the student's prints go to ``printed``, what the student's
    code raises becomes a verdict. NotImplementedError on the first case means the exercise
    is not done (``_NotDone``); once it has run (``partly_done``) it is an error like others."""
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            return exercise.check(fn, case)
    except NotImplementedError as error:
        if not partly_done:
            raise _NotDone from None
        return Verdict(False, "raises NotImplementedError", _where(error))
    except WrongAnswer as error:
        return Verdict(False, "wrong answer", str(error))
    except (Exception, SystemExit) as error:  # the student's bug, reported, never a crash
        return Verdict(False, f"raises {type(error).__name__}", _where(error))


def _where(error: BaseException) -> str:
    """The error and the last line of the student's own code it passed through."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if not f.filename.startswith(_PACKAGE_PARENT + os.sep + "tinygrad_hw")]
    text = f"{type(error).__name__}: {error}"
    if own:
        frame = own[-1]
        text += f" (at line {frame.lineno} of {Path(frame.filename).name}: {frame.line})"
    return text


def describe_case(sizes: dict[str, int], case: Case) -> str:
    """ "N=1, K=2; logits = [[0.25, -1.3]], labels = [1]": sizes, then every input."""
    parts = [", ".join(f"{name}={n}" for name, n in sizes.items())]
    values = []
    for name, value in case.items():
        items = value.items() if isinstance(value, dict) else [(name, value)]
        for key, item in items:
            shown = np.array2string(np.asarray(item), precision=3, threshold=12, separator=", ")
            values.append(f"{key} = {' '.join(shown.split())}")
    return f"{parts[0]}; {', '.join(values)}"


# --------------------------------------------------------------------------- one process each


def grade_file(
    path: str | Path, timeout: float = 30.0, max_examples: int = 40, jobs: int = 2
) -> list[ExerciseResult]:
    """Every exercise whose file is ``path`` (by its name, e.g. relu_backward.py), or every
    exercise when ``path`` is a folder of them; each in a Python process of its own, killed
    after ``timeout`` seconds, ``jobs`` at a time. Returns the ExerciseResults in the
    exercises' order."""
    path = Path(path)
    files = [path / f"{name}.py" for name in EXERCISES] if path.is_dir() else [path]
    if not path.is_dir() and path.stem not in EXERCISES:
        raise ArgumentError(f"grade: {path.name} is no exercise; they are {list(EXERCISES)}")

    def grade_one(file: Path) -> ExerciseResult:
        if not file.exists():
            message = f"no file {file.name} in {file.parent}"
            return ExerciseResult(file.stem, "missing", "missing", message)
        return _in_subprocess(file, timeout, max_examples)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # the work is in the children
        return list(pool.map(grade_one, files))


def _in_subprocess(file: Path, timeout: float, max_examples: int) -> ExerciseResult:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [
            sys.executable, "-m", "tinygrad_hw.grade", "--worker", str(file.resolve()),
            "--result", str(out), "--max-examples", str(max_examples),
        ]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([_PACKAGE_PARENT, os.environ.get("PYTHONPATH", "")]),
        }
        try:
            done = subprocess.run(
                command, cwd=file.parent, env=env, capture_output=True, text=True,
                timeout=timeout, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            message = f"stopped after {timeout:g} s: an endless loop, or far too slow?"
            return ExerciseResult(file.stem, "timeout", "timeout", message)
        if not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            message = f"the process ended with status {done.returncode} before a result: " + (
                " | ".join(tail) or "no output (os._exit or a crash?)"
            )
            return ExerciseResult(file.stem, "crashed", "crashed", message)
        try:
            result = ExerciseResult(**json.loads(out.read_text()))
        except (ValueError, TypeError) as error:  # pragma: no cover - written atomically
            return ExerciseResult(file.stem, "crashed", "crashed", f"unreadable result: {error}")
    leaked = (done.stdout + done.stderr).strip()  # written past sys.stdout (os.write, C code)
    if leaked:
        printed = f"{result.printed}{leaked}\n"
        result = ExerciseResult(**{**asdict(result), "printed": printed})
    return result


def run_worker(file: Path, result_path: Path, max_examples: int) -> None:
    """In the child process: import the student's file, grade its function, write JSON."""
    exercise = EXERCISES[file.stem]
    printed = io.StringIO()
    sys.path.insert(0, str(file.parent))
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            namespace = _load(file)
        fn = namespace.get(exercise.function)
        if not callable(fn):
            message = f"{file.name} defines no function {exercise.function}()"
            result = ExerciseResult(exercise.name, "missing", "missing", message)
        else:
            result = grade_function(exercise, fn, max_examples)
    except NotImplementedError:
        result = ExerciseResult(exercise.name, "not done", "not done", "raises NotImplementedError")
    except (Exception, SystemExit) as error:
        result = ExerciseResult(exercise.name, "error", "import fails", _where(error))
    if printed.getvalue():
        result = ExerciseResult(
            **{**asdict(result), "printed": printed.getvalue() + result.printed}
        )
    atomic_write_bytes(result_path, json.dumps(asdict(result)).encode())


def _load(file: Path) -> dict[str, Any]:
    code = compile(file.read_text(), str(file), "exec")
    namespace: dict[str, Any] = {"__name__": f"submission_{file.stem}", "__file__": str(file)}
    exec(code, namespace)
    return namespace
