"""check_jacobian, check_hessian: a Jacobian or Hessian derived by hand against the tape's.

Students derive before they code: the softmax Jacobian diag(p) - p p^T, the Hessian of a
logistic loss. ``check_jacobian(f, x, jacobian)`` computes d f / d x by reverse mode (one pass
per output element, float64, ``tinygrad_hw.func.jacobian``) and compares it with the derived
one, an array or a function of x. Both are viewed as matrices J[i, j] = d f_i / d x_j (outputs
and inputs flattened), and a wrong one gets the diagnosis of :mod:`tinygrad_hw.diagnosis`
(``sign``, ``scale`` with its factor, ``transpose``, ``shape``), refined for square matrices:

- ``diagonal only``: the off-diagonal terms are missing (f treated as elementwise);
- ``off-diagonal wrong``: the diagonal d f_i / d x_i matches, the terms i != j do not;
- ``diagonal wrong``: the terms i != j match, the diagonal does not;
- else ``mismatch``, with the worst elements.

Given a Hypothesis strategy instead of a point, the check runs at drawn points and reports
the smallest one where the derivation fails (``hypothesis.find``), or that all passed.
"""

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from tinygrad_hw import func
from tinygrad_hw.check_backprop import BackpropReport
from tinygrad_hw.diagnosis import DiagnosisContext, GradientCheck, diagnose, worst_elements
from tinygrad_hw.errors import ArgumentError, DTypeError
from tinygrad_hw.nn.functional import numeric_array
from tinygrad_hw.tensor import Tensor

__all__ = ["DERIVATION_DIAGNOSES", "DerivationReport", "check_hessian", "check_jacobian"]

DERIVATION_DIAGNOSES = (
    "ok",
    "sign",
    "scale",
    "shape",
    "transpose",
    "diagonal only",
    "off-diagonal wrong",
    "diagonal wrong",
    "mismatch",
)

Derived = np.ndarray | Callable[[np.ndarray], np.ndarray]


class DerivationReport(BackpropReport):
    """The report of one derived Jacobian or Hessian: a BackpropReport with one entry, plus
    the point ``x`` it was checked at (the smallest failing one when points were drawn) and
    ``points``, how many points were checked."""

    def __init__(self, check: GradientCheck, title: str, x: np.ndarray, points: int = 1):
        super().__init__({check.name: check}, title)
        self.x = x
        self.points = points

    @property
    def check(self) -> GradientCheck:
        return next(iter(self.values()))

    @property
    def diagnosis(self) -> str:
        return self.check.diagnosis

    @property
    def message(self) -> str:
        return self.check.message

    @property
    def factor(self) -> float | None:
        return self.check.factor

    @property
    def expected(self) -> np.ndarray:
        """The tape's Jacobian (or Hessian) at ``x``, of shape f(x).shape + x.shape."""
        return self.check.autograd

    def where(self) -> str:
        point = np.array2string(self.x, precision=4, threshold=12)
        if self.points == 1:
            return f"at x = {point}"
        if self.ok:
            return f"at {self.points} drawn points"
        return f"at x = {point}, the smallest failing point found ({self.points} checked)"

    def __str__(self) -> str:
        return f"{super().__str__()}\n  {self.where()}"

    def __repr__(self) -> str:
        return f"DerivationReport({self.title}, ok={self.ok}, {self.diagnosis!r})"

    def _repr_html_(self) -> str:
        return f"{super()._repr_html_()}<p>{self.where()}</p>"


# --------------------------------------------------------------------------- public checks


def check_jacobian(
    f: Callable[[Tensor], Tensor],
    x: Any,
    jacobian: Derived,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_examples: int = 20,
) -> DerivationReport:
    """Compare a derived Jacobian of ``f`` at ``x`` with the tape's; a report, never an error.

    ``f`` maps a Tensor to a Tensor (Tensor ops). ``jacobian`` is an array of shape
    ``f(x).shape + x.shape`` (or the flattened matrix (f(x).size, x.size)), or a function
    taking x (a float64 numpy array) and returning one. ``x`` is an array, or a Hypothesis
    strategy of arrays: then up to ``max_examples`` points are drawn and the smallest failing
    one is reported (do not call it so inside a ``@given`` test: Hypothesis refuses nesting).
    An element passes when |yours - tape| <= atol + rtol |tape|.
    """
    return _check("check_jacobian", f, x, jacobian, _context(rtol, atol), max_examples)


def check_hessian(
    f: Callable[[Tensor], Tensor],
    x: Any,
    hessian: Derived,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_examples: int = 20,
) -> DerivationReport:
    """The same as :func:`check_jacobian` for the Hessian of a scalar ``f``: ``hessian`` has
    shape ``x.shape + x.shape`` (or (x.size, x.size)); the tape's is ``tinygrad_hw.func.
    hessian`` (reverse over reverse)."""
    return _check("check_hessian", f, x, hessian, _context(rtol, atol), max_examples)


def _check(title: str, f, x, derived, ctx: DiagnosisContext, max_examples: int):
    if not callable(f):
        raise DTypeError(f"{title}: f must be a function of a Tensor, got {type(f).__name__}")
    if not (callable(derived) or isinstance(derived, np.ndarray)):
        raise DTypeError(
            f"{title}: the derivation must be a numpy array or a function of x, "
            f"got {type(derived).__name__}"
        )
    if _is_strategy(x):
        return _check_drawn(title, f, x, derived, ctx, max_examples)
    return _check_at(title, f, _point(title, x), derived, ctx)


def _check_at(title: str, f, x: np.ndarray, derived, ctx: DiagnosisContext) -> DerivationReport:
    name = "jacobian" if title == "check_jacobian" else "hessian"
    transform = func.jacobian if name == "jacobian" else func.hessian
    expected = transform(f, Tensor(x.copy())).data.astype(np.float64)
    out_shape = expected.shape[: expected.ndim - x.ndim]
    given = derived(x.copy()) if callable(derived) else derived
    given = _derived_array(title, name, given)
    check = compare_derivative(name, given, expected, out_shape, x.shape, ctx)
    return DerivationReport(check, title, x)


def _check_drawn(title: str, f, strategy, derived, ctx: DiagnosisContext, max_examples: int):
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    checked: list[np.ndarray] = []

    def fails(x: Any) -> bool:
        point = _point(title, x)
        checked.append(point)
        return not _check_at(title, f, point, derived, ctx).ok

    options = settings(
        max_examples=_count(title, max_examples), database=None, deadline=None,
        derandomize=True, suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    try:
        smallest = find(strategy, fails, settings=options)
    except NoSuchExample:
        if not checked:
            raise ArgumentError(f"{title}: the strategy drew no point") from None
        smallest = checked[-1]  # every point passed: report the last one
    report = _check_at(title, f, _point(title, smallest), derived, ctx)
    report.points = len(checked)
    return report


# --------------------------------------------------------------------------- the diagnosis


def compare_derivative(
    name: str,
    given: np.ndarray,
    expected: np.ndarray,
    out_shape: tuple[int, ...],
    in_shape: tuple[int, ...],
    ctx: DiagnosisContext,
) -> GradientCheck:
    """The GradientCheck of a derived Jacobian (or Hessian) against the tape's, both read as
    matrices (f.size, x.size); the entry keeps the tape's full shape."""
    rows, columns = math.prod(out_shape), math.prod(in_shape)
    tape = expected.reshape(rows, columns)
    if given.shape in (expected.shape, (rows, columns)):
        return _same_shape(name, given.reshape(rows, columns), tape, expected, ctx)
    swapped = in_shape + out_shape
    if given.shape in (swapped, (columns, rows)) and given.size == tape.size:
        fixed = _same_shape(name, given.reshape(columns, rows).T, tape, expected, ctx)
        text = (
            f"shape {given.shape}, but d f / d x has shape {expected.shape} (f's shape, then "
            f"x's): yours has a row per input and a column per output, d f_j / d x_i at "
            f"[i, j]; transpose it"
        )
        return _shaped(fixed, given, expected, "transpose" if fixed.ok else "shape", text)
    if given.size == expected.size:
        fixed = _same_shape(name, given.reshape(rows, columns), tape, expected, ctx)
        text = f"shape {given.shape}, but d f / d x has shape {expected.shape}: reshape it"
        return _shaped(fixed, given, expected, "shape", text)
    check = diagnose(name, given, expected, ctx)
    message = f"{check.message} (f's shape {out_shape}, then x's {in_shape})"
    return replace(check, message=message)


def _shaped(fixed: GradientCheck, given, expected, diagnosis: str, text: str) -> GradientCheck:
    """The check of a repaired array, reported against the shape the user gave."""
    after = "then it matches" if fixed.ok else f"then it is still wrong: {fixed.message}"
    return replace(
        fixed, ok=False, diagnosis=diagnosis, message=f"{text}; {after}", shape=given.shape,
        expected_shape=expected.shape, max_abs_error=math.inf, max_rel_error=math.inf,
    )  # fmt: skip


def _same_shape(name: str, m: np.ndarray, j: np.ndarray, expected, ctx: DiagnosisContext):
    check = diagnose(name, m, j, ctx)
    check = replace(check, shape=expected.shape, expected_shape=expected.shape, autograd=expected)
    if check.diagnosis == "transpose":
        return replace(check, message=TRANSPOSED)
    if check.diagnosis != "mismatch" or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        return check
    if not np.all(np.isfinite(m)):
        return check
    refined = _diagonal_diagnosis(m, j, ctx)
    return check if refined is None else replace(check, diagnosis=refined[0], message=refined[1])


TRANSPOSED = (
    "transposed (yours = autograd.T): you wrote d f_j / d x_i at [i, j]; row i of the Jacobian is "
    "the gradient of output i, J[i, j] = d f_i / d x_j"
)


def _diagonal_diagnosis(m: np.ndarray, j: np.ndarray, ctx: DiagnosisContext):
    """(diagnosis, message) when the diagonal and the off-diagonal part tell the mistake
    apart, else None."""
    on = np.eye(len(m), dtype=bool)
    off = ~on
    diagonal_ok, off_ok = ctx.close(m[on], j[on]), ctx.close(m[off], j[off])
    wrong = np.abs(m - j) > ctx.atol + ctx.rtol * np.abs(j)
    if ctx.is_zero(m[off]) and not ctx.is_zero(j[off]):
        also = "" if diagonal_ok else f"; the diagonal is wrong too: {_worst(m, j, wrong & on)}"
        return "diagonal only", (
            "only the diagonal is filled in: the terms d f_i / d x_j for i != j are missing "
            "(you treated f as elementwise, but each output depends on other inputs); "
            f"largest missing: {_worst(m, j, wrong & off)}{also}"
        )
    if diagonal_ok:
        return "off-diagonal wrong", (
            "the diagonal d f_i / d x_i matches; the terms i != j do not"
            f"{_relation(m[off], j[off], ctx)}: recheck d f_i / d x_j for i != j; "
            f"worst at {_worst(m, j, wrong & off)}"
        )
    if off_ok:
        return "diagonal wrong", (
            "the terms d f_i / d x_j for i != j match; the diagonal does not"
            f"{_relation(m[on], j[on], ctx)}: recheck d f_i / d x_i; "
            f"worst at {_worst(m, j, wrong & on)}"
        )
    return None


def _relation(m: np.ndarray, j: np.ndarray, ctx: DiagnosisContext) -> str:
    """' (their sign is flipped)' or ' (off by a factor c)' when the wrong part is that."""
    if ctx.is_zero(j):
        return ""
    if ctx.close(m, -j):
        return " (their sign is flipped)"
    factor = float(np.vdot(m, j) / np.vdot(j, j))
    return f" (off by a factor {factor:.6g})" if ctx.close(m, factor * j, abs(factor)) else ""


def _worst(m: np.ndarray, j: np.ndarray, wrong: np.ndarray) -> str:
    return worst_elements(m, j, wrong)


# --------------------------------------------------------------------------- arguments


def _context(rtol: Any, atol: Any) -> DiagnosisContext:
    for what, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ArgumentError(f"{what} must be a number >= 0, got {value!r}")
    return DiagnosisContext(float(rtol), float(atol), None, gradients=False)


def _count(title: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"{title}: max_examples must be an int >= 1, got {value!r}")
    return value


def _is_strategy(x: Any) -> bool:
    """A Hypothesis strategy, recognised without importing Hypothesis (a test dependency)."""
    return type(x).__module__.startswith("hypothesis.") and hasattr(x, "example")


def _point(title: str, x: Any) -> np.ndarray:
    """x as a float64 array (the tape's Jacobian is taken in float64)."""
    return numeric_array(title, "x", x).astype(np.float64)


def _derived_array(title: str, name: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, np.ndarray):
        raise DTypeError(f"{title}: the derived {name} must be a numpy array, got {value!r:.60}")
    if value.dtype.kind not in "biuf":
        raise DTypeError(f"{title}: the derived {name} has dtype {value.dtype}: real numbers")
    return value.astype(np.float64)
