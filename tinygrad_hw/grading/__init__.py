"""The backprop exercises' grader: ``python -m tinygrad_hw.grade`` (tinygrad_hw/grade.py).

``exercises`` says what each exercise asks and how an answer is checked against the tape;
``runner`` draws the cases, contains the student's code and keeps the smallest failure.
"""

from tinygrad_hw.grading.exercises import EXERCISES, Exercise, Verdict
from tinygrad_hw.grading.runner import ExerciseResult, grade_file, grade_function

__all__ = ["EXERCISES", "Exercise", "ExerciseResult", "Verdict", "grade_file", "grade_function"]
