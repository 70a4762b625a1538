"""``python -m tinygrad_hw.grade PATH``: grade backprop exercises against the tape.

PATH is one student's file (``relu_backward.py``), one student's folder of exercise files
(``exercises/``), or a folder of submissions with one subfolder per student. Each exercise
runs in its own process with a time limit, on cases Hypothesis draws; the output says, per
exercise, pass, or what is wrong (sign, scale and its factor, shape, the first wrong layer)
with the smallest failing case. ``--report grades.csv`` writes one row per student.

Exit status: 0 when every exercise passed, 1 when some did not, 2 for a bad argument.
"""

import argparse
import csv
import io
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.errors import TinygradHWError
from tinygrad_hw.grading.exercises import EXERCISES
from tinygrad_hw.grading.runner import ExerciseResult, grade_file, run_worker

EXIT_FAILED, EXIT_ERROR = 1, 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m tinygrad_hw.grade",
        description="Grade backprop exercises (exercises/*.py) against the tape.",
    )
    top.add_argument("path", nargs="?", help="a file, a folder of exercises, or of students")
    top.add_argument("--report", help="write one CSV row per student to this file")
    top.add_argument("--timeout", type=float, default=30.0, help="seconds per exercise (30)")
    top.add_argument("--max-examples", type=int, default=40, help="cases per exercise (40)")
    top.add_argument("--jobs", type=int, default=2, help="exercises graded at once (2)")
    top.add_argument("--worker", help=argparse.SUPPRESS)  # the child process of one exercise
    top.add_argument("--result", help=argparse.SUPPRESS)
    return top


def submissions(path: Path) -> dict[str, Path]:
    """student name -> file or folder: one entry for a file or a folder holding exercise
    files, else one per subfolder."""
    if path.is_file() or any((path / f"{name}.py").exists() for name in EXERCISES):
        return {path.stem if path.is_file() else path.name: path}
    students = {sub.name: sub for sub in sorted(path.iterdir()) if sub.is_dir()}
    if not students:
        raise FileNotFoundError(f"{path} holds no exercise files and no student folders")
    return students


def format_results(student: str, results: list[ExerciseResult]) -> str:
    """A headline, then a line per exercise; for a failure the message and the smallest
    failing case; a note when the code printed something."""
    width = max(len(r.exercise) for r in results)
    lines = [f"{student}: {sum(r.passed for r in results)} of {len(results)} passed"]
    for r in results:
        shown = "FAIL" if r.status == "fail" else r.status
        detail = f"({r.cases} cases)" if r.passed else r.diagnosis * (r.diagnosis != r.status)
        lines.append(f"  {r.exercise.ljust(width)}  {shown:<8}  {detail}".rstrip())
        if not r.passed and r.status not in ("not done", "missing"):
            lines.append(_indented(r.message))
        if r.case:
            lines.append(_indented(f"smallest failing case: {r.case}"))
        printed = r.printed.strip().splitlines()
        if printed:
            lines.append(f"      printed {len(printed)} line(s), first: {printed[0][:80]!r}")
    return "\n".join(lines)


def _indented(text: str) -> str:
    return textwrap.fill(text, 100, initial_indent=" " * 6, subsequent_indent=" " * 8)


def write_report(path: str, grades: dict[str, list[ExerciseResult]]) -> None:
    """One row per student: name, passed, total, then each exercise's status ("pass",
    "fail: b: shape", "timeout", ...)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "passed", "total", *EXERCISES])
    for student, results in grades.items():
        by_name = {r.exercise: r for r in results}
        cells = [_cell(by_name[name]) if name in by_name else "" for name in EXERCISES]
        writer.writerow([student, sum(r.passed for r in results), len(results), *cells])
    atomic_write_bytes(path, buffer.getvalue().encode())


def _cell(result: ExerciseResult) -> str:
    """ "pass", "fail: b: shape", "error: raises KeyError", "timeout", "missing", ..."""
    if result.passed or result.diagnosis == result.status:
        return result.status
    return f"{result.status}: {result.diagnosis}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.worker:
        run_worker(Path(args.worker), Path(args.result), args.max_examples)
        return 0
    if args.path is None:
        parser().error("give a file or folder to grade")
    try:
        grades = {
            student: grade_file(where, args.timeout, args.max_examples, args.jobs)
            for student, where in submissions(Path(args.path)).items()
        }
    except (TinygradHWError, OSError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return EXIT_ERROR
    print("\n\n".join(format_results(student, results) for student, results in grades.items()))
    if args.report:
        write_report(args.report, grades)
        print(f"\nwrote {args.report}")
    every = [r for results in grades.values() for r in results]
    return 0 if all(r.passed for r in every) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
