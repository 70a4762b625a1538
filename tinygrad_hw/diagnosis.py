"""How a hand-written array is compared with autograd's, and what the report says about it.

With m the hand-written array and g the tape's (float64), checked most specific first:
``ok`` (allclose), ``sign`` (m = -g), ``transpose`` (m = g.T, square), ``scale`` (m = c g for
the least-squares c = <m, g> / <g, g>), else ``mismatch``; arrays of another shape get
``shape``, and the repaired array (batch sum, transpose, reshape) is diagnosed again. The
messages name the likely mistake; with ``gradients=False`` (activations) they leave out the
hints about p - y, batch sums and x.T @ dz.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

DIAGNOSES = ("ok", "sign", "scale", "shape", "transpose", "mismatch")


@dataclass(frozen=True)
class GradientCheck:
    """One compared array, m (yours) against g (autograd's). ``max_rel_error`` is the largest
    |m - g| / max(|m|, |g|, atol) over the elements: 2 for a flipped sign, ~1e-16 for exact
    agreement, and not inflated by elements that are 0 up to rounding. Both errors are inf
    when the shapes differ."""

    name: str
    ok: bool
    diagnosis: str
    max_abs_error: float
    max_rel_error: float
    message: str
    shape: tuple[int, ...]
    expected_shape: tuple[int, ...]
    factor: float | None = None  # the constant c of a "scale" diagnosis
    autograd: np.ndarray = field(default=None, repr=False, compare=False)  # the right value


@dataclass(frozen=True)
class DiagnosisContext:
    rtol: float
    atol: float
    batch_size: int | None
    gradients: bool  # False for activations: no hints about p - y, batch sums, X.T @ dz

    def close(self, a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> bool:
        """np.allclose(a, b) semantics, with atol scaled for a multiple of b; NaN fails."""
        bound = self.atol * max(scale, 1.0) + self.rtol * np.abs(b)
        return bool(np.all(np.abs(a - b) <= bound))

    def is_zero(self, a: np.ndarray) -> bool:
        return bool(np.all(np.abs(a) <= self.atol))


def diagnose(name: str, manual: np.ndarray, expected: np.ndarray, ctx: DiagnosisContext):
    """The GradientCheck of one hand-computed array against the tape's value."""
    m = manual.astype(np.float64)
    if m.shape != expected.shape:
        message = _shape_message(m, expected, ctx)
        shapes = (m.shape, expected.shape)
        return GradientCheck(
            name, False, "shape", math.inf, math.inf, message, *shapes, None, expected
        )
    diagnosis, message, factor = _same_shape(m, expected, ctx)
    errors = _errors(m, expected, ctx.atol)
    entry = GradientCheck(
        name, diagnosis == "ok", diagnosis, *errors, message, m.shape, m.shape, factor, expected
    )
    low_precision = _low_precision_message(manual, entry) if diagnosis == "mismatch" else None
    return entry if low_precision is None else replace(entry, message=low_precision)


def _errors(manual: np.ndarray, expected: np.ndarray, atol: float) -> tuple[float, float]:
    if manual.size == 0:
        return 0.0, 0.0
    diff = np.abs(manual - expected)
    if np.isnan(diff).any():
        return math.nan, math.nan
    size = np.maximum(np.maximum(np.abs(manual), np.abs(expected)), atol)
    relative = np.divide(diff, size, out=np.zeros_like(diff), where=size > 0)
    return float(np.max(diff)), float(np.max(relative))


def _same_shape(
    m: np.ndarray, g: np.ndarray, ctx: DiagnosisContext
) -> tuple[str, str, float | None]:
    """(diagnosis, message, factor) for two arrays of one shape, most specific first."""
    if not np.all(np.isfinite(m)):
        return "mismatch", _mismatch_message(m, g, ctx), None
    if ctx.close(m, g):
        return "ok", "matches autograd", None
    if ctx.is_zero(m) or ctx.is_zero(g):
        return "mismatch", _mismatch_message(m, g, ctx), None
    if ctx.close(m, -g):
        hint = ": did you compute y - p instead of p - y?" if ctx.gradients else ""
        return "sign", f"sign flipped{hint} (yours = -autograd everywhere)", -1.0
    if m.ndim == 2 and m.shape[0] == m.shape[1] and ctx.close(m, g.T):
        hint = ": for z = x @ W the gradient is x.T @ dz, not dz.T @ x" if ctx.gradients else ""
        return "transpose", f"transposed (yours = autograd.T){hint}", None
    factor = float(np.vdot(m, g) / np.vdot(g, g))
    if ctx.close(m, factor * g, abs(factor)) and (m.size > 1 or _whole(factor)):
        return "scale", _scale_message(factor, ctx), factor  # one element: only n or 1/n say much
    return "mismatch", _mismatch_message(m, g, ctx), None


def _scale_message(factor: float, ctx: DiagnosisContext) -> str:
    """Name the factor; say "off by the batch size N" when it is N or 1/N."""
    sign = "sign flipped and " if factor < 0 else ""
    text = f"{sign}off by a constant factor: yours = {factor:.6g} x autograd"
    too_big = abs(factor) >= 1
    n = _whole(factor)
    if not ctx.gradients or not n:
        return text
    fix = "divide by N" if too_big else "you divided by N twice (or the loss is a sum)"
    if n == ctx.batch_size:
        return f"{sign}off by the batch size N = {n}: yours = {factor:.6g} x autograd; {fix}"
    if n == 2:
        return f"{text}; check the 1/2: d/dw of (1/2)||w||^2 is w, of ||w||^2 it is 2w"
    if ctx.batch_size is None:
        return f"{text}; is {n} your batch size N? then {fix}"
    return text


def _whole(factor: float) -> int:
    """n when |factor| is a whole number n >= 2 or its reciprocal 1/n, else 0."""
    size = abs(factor) if abs(factor) >= 1 else 1 / abs(factor)
    return round(size) if size >= 1.5 and math.isclose(size, round(size), rel_tol=1e-6) else 0


def _shape_message(m: np.ndarray, g: np.ndarray, ctx: DiagnosisContext) -> str:
    """Name both shapes; where a repair fits (a batch sum, a transpose, a reshape), say it and
    diagnose the repaired array again."""
    of = "the parameter" if ctx.gradients else "autograd's"
    text = f"shape {m.shape}, but {of} has shape {g.shape}"
    repair = _shape_repair(m, g, ctx)
    if repair is None:
        return (
            f"{text}: a gradient always has the shape of its parameter" if ctx.gradients else text
        )
    how, fixed = repair
    if ctx.batch_size is None and fixed.ndim < m.ndim:
        ctx = replace(ctx, batch_size=m.shape[0])
    diagnosis, message, _ = _same_shape(fixed, g, ctx)
    after = (
        "then it matches autograd" if diagnosis == "ok" else f"then it is still wrong: {message}"
    )
    return f"{text}; {how}; {after}"


def _shape_repair(
    m: np.ndarray, g: np.ndarray, ctx: DiagnosisContext
) -> tuple[str, np.ndarray] | None:
    per_sample = "one gradient per sample: sum over the batch axis"
    if ctx.gradients and m.ndim == g.ndim + 1 and m.shape[1:] == g.shape:
        return f"{per_sample}, grad.sum(axis=0)", m.sum(axis=0)
    if ctx.gradients and m.ndim == g.ndim and g.shape[:1] == (1,) and m.shape[1:] == g.shape[1:]:
        return f"{per_sample}, grad.sum(axis=0, keepdims=True)", m.sum(axis=0, keepdims=True)
    if m.ndim == 2 and m.shape == g.shape[::-1]:
        hint = ": for z = x @ W use x.T @ dz, not dz.T @ x" if ctx.gradients else ""
        return f"transposed{hint}", m.T
    if m.size == g.size:
        return f"the same number of elements: reshape it to {g.shape}", m.reshape(g.shape)
    return None


def _mismatch_message(m: np.ndarray, g: np.ndarray, ctx: DiagnosisContext) -> str:
    if not np.all(np.isfinite(m)):
        where = _index(int(np.argmax(~np.isfinite(m))), m.shape)
        return f"yours holds NaN or inf (first at {where}): a log(0), a 0/0 or an overflow?"
    if ctx.is_zero(m):
        return (
            f"yours is all zeros but autograd's is not (max |autograd| {np.max(np.abs(g)):.3g}): "
            "was it computed and assigned?"
        )
    if ctx.is_zero(g):
        return (
            f"autograd's is all zeros (the loss does not depend on it at these values: an "
            f"unused parameter, dead ReLUs) but yours is not (max |yours| {np.max(np.abs(m)):.3g})"
        )
    abs_error, rel_error = _errors(m, g, ctx.atol)
    wrong = np.abs(m - g) > ctx.atol + ctx.rtol * np.abs(g)
    text = (
        f"wrong: max abs error {abs_error:.3g}, max rel error {rel_error:.3g}; "
        f"{wrong.sum()} of {wrong.size} elements differ; worst at {worst_elements(m, g, wrong)}"
    )
    if wrong.sum() <= wrong.size // 2:
        return f"{text}; the others match"
    return f"{text}; {_direction_hint(m, g, ctx)}"


def worst_elements(m: np.ndarray, g: np.ndarray, wrong: np.ndarray, count: int = 3) -> str:
    """The elements flagged in ``wrong`` that differ most: index, yours, autograd's."""
    order = np.argsort(-np.abs(m - g).ravel() * wrong.ravel(), kind="stable")[:count]
    order = order[wrong.ravel()[order]]
    return ", ".join(
        f"{_index(int(i), m.shape)} yours {m.flat[i]:.6g} vs autograd {g.flat[i]:.6g}"
        for i in order
    )


def _index(flat: int, shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def _direction_hint(m: np.ndarray, g: np.ndarray, ctx: DiagnosisContext) -> str:
    """The cosine between yours and autograd's says which kind of mistake to look for."""
    cosine = float(np.vdot(m, g) / (np.linalg.norm(m) * np.linalg.norm(g)))
    if cosine > 0.2 and not ctx.gradients:
        return f"close in direction (cosine {cosine:.2f}): some elements are computed differently"
    if cosine > 0.2:
        return (
            f"it points {'roughly ' if cosine < 0.9 else ''}the right way (cosine {cosine:.2f}) "
            "but is no constant multiple of autograd: a factor that varies per element or per "
            "sample is wrong, typically a derivative applied twice or left out (a softmax or "
            "sigmoid derivative on top of p - y?)"
        )
    if cosine < -0.2:
        return (
            f"it points against autograd (cosine {cosine:.2f}): a step along it increases the "
            "loss; check the sign of each term"
        )
    return f"it is unrelated to autograd (cosine {cosine:.2f}): check the formula and its inputs"


def _low_precision_message(manual: np.ndarray, entry: GradientCheck) -> str | None:
    """float32 rounding alone can exceed the default tolerances: say so instead of "wrong"."""
    scale = float(np.max(np.abs(entry.autograd), initial=0.0))
    if manual.dtype.kind != "f" or manual.dtype.itemsize >= 8 or entry.max_abs_error > 1e-4 * scale:
        return None
    return (
        f"close but not within tolerance (max abs error {entry.max_abs_error:.3g}); yours is "
        f"{manual.dtype}, whose rounding alone errs this much: compute it in float64, or pass "
        "a larger atol/rtol"
    )
