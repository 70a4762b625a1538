"""check_backprop: compare hand-written gradients with the tape's, and say what is wrong.

A student who derives dL/dW by hand is told more than "wrong": common mistakes leave a
fingerprint. With m the hand-written gradient and g the tape's (float64):

- ``sign``: m = -g (y - p instead of p - y: a step along m climbs the loss);
- ``scale``: m = c g for one constant c, the least-squares factor <m, g> / <g, g> (a 1/N
  forgotten or applied twice, the 1/2 of (1/2)||w||^2);
- ``shape``: a gradient of the wrong shape: one row per sample not summed over the batch, a
  weight gradient of shape (k, m) for a weight of shape (m, k), ...; the repaired array is
  diagnosed again, so "sum over the batch axis, and then the sign is flipped" is one message;
- ``transpose``: m = g.T for a square matrix;
- ``mismatch``: none of these: the worst elements, and the cosine between m and g.

``check_forward`` compares hand-computed activations with a forward pass in Tensor ops and
names the first that differs; ``check_layer_grads`` compares hand-computed dL/d(activation)
arrays with the tape's, so that "where does my backprop go wrong" gets an answer.

The comparison and its messages live in :mod:`tinygrad_hw.diagnosis`; this module runs the
tape and collects the results.
"""

import html
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from tinygrad_hw.diagnosis import DIAGNOSES, DiagnosisContext, GradientCheck, diagnose
from tinygrad_hw.errors import ArgumentError, DTypeError, GraphError, ShapeError
from tinygrad_hw.gradients import grad
from tinygrad_hw.modes import no_grad
from tinygrad_hw.tensor import Tensor

__all__ = [
    "DIAGNOSES",
    "BackpropReport",
    "GradientCheck",
    "check_backprop",
    "check_forward",
    "check_layer_grads",
]

_INDENTS = {"initial_indent": "    -> ", "subsequent_indent": "       "}


class BackpropReport(Mapping[str, GradientCheck]):
    """name -> GradientCheck, in the order they were checked; ``str()`` is a table."""

    def __init__(self, entries: dict[str, GradientCheck], title: str, ordered: bool = False):
        self._entries = entries
        self.title = title
        self.ordered = ordered  # entries follow the computation: first_failure locates a bug

    def __getitem__(self, name: str) -> GradientCheck:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ok(self) -> bool:
        return all(entry.ok for entry in self._entries.values())

    @property
    def first_failure(self) -> str | None:
        """The first name, in checking order, whose check failed (None when all are ok)."""
        return next((name for name, entry in self._entries.items() if not entry.ok), None)

    def __repr__(self) -> str:
        diagnoses = {name: entry.diagnosis for name, entry in self._entries.items()}
        return f"BackpropReport({self.title}, ok={self.ok}, {diagnoses})"

    def _headline(self, wrong: list[str]) -> str:
        return f"{self.title}: {len(wrong)} of {len(self)} wrong" if wrong else f"{self.title}: ok"

    def __str__(self) -> str:
        wrong = [name for name, entry in self._entries.items() if not entry.ok]
        head = self._headline(wrong)
        rows = [("name", "shape", "diagnosis", "max abs error", "max rel error")]
        rows += [
            (e.name, str(e.shape), e.diagnosis, f"{e.max_abs_error:.3g}", f"{e.max_rel_error:.3g}")
            for e in self._entries.values()
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [head]
        for index, row in enumerate(rows):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            if index:
                lines.append(textwrap.fill(self[row[0]].message, 100, **_INDENTS))
        if wrong and self.ordered:
            lines.append(f"first wrong: {wrong[0]!r}; all before it agree: look at how it is made")
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        """The table of ``str()`` for Jupyter: one row per entry, wrong ones in red."""
        wrong = [name for name, entry in self._entries.items() if not entry.ok]
        head = self._headline(wrong)
        cells = "".join(f"<th>{c}</th>" for c in ("name", "shape", "diagnosis", "max abs error",
                                                  "max rel error", "message"))  # fmt: skip
        rows = [f"<tr>{cells}</tr>"]
        for e in self._entries.values():
            colour = "green" if e.ok else "#c00"
            values = (e.name, str(e.shape), e.diagnosis, f"{e.max_abs_error:.3g}",
                      f"{e.max_rel_error:.3g}", e.message)  # fmt: skip
            tds = "".join(f"<td>{html.escape(v)}</td>" for v in values)
            rows.append(f'<tr style="color: {colour}">{tds}</tr>')
        tail = ""
        if wrong and self.ordered:
            tail = f"<p>first wrong: <b>{html.escape(wrong[0])}</b>; all before it agree</p>"
        return f"<p><b>{html.escape(head)}</b></p><table>{''.join(rows)}</table>{tail}"


# --------------------------------------------------------------------------- public checks


def check_backprop(
    loss_fn: Callable[[dict[str, Tensor]], Tensor],
    params: Mapping[str, np.ndarray],
    manual_grads: Mapping[str, np.ndarray],
    rtol: float = 1e-5,
    atol: float = 1e-8,
    batch_size: int | None = None,
) -> BackpropReport:
    """Compare hand-written gradients with the tape's; a report, never an error, when wrong.

    ``loss_fn`` receives a dict name -> Tensor (float64 copies of ``params``, requiring grad)
    and returns the scalar loss; ``manual_grads`` holds the hand-written dL/d(param) for
    exactly the names of ``params``. An element passes when |m - g| <= atol + rtol |g|.
    ``batch_size`` N lets a factor N or 1/N be named "off by the batch size"; when it is not
    given, N is the leading length of a per-sample gradient (shape (N, *param.shape)) if
    ``manual_grads`` holds one, and other whole factors n are reported as "is n your N?".
    """
    arrays = _arrays(params, "params")
    manual = _arrays(manual_grads, "manual_grads")
    _same_names(arrays, manual)
    ctx = _context(rtol, atol, batch_size)
    tensors = _leaves(arrays)
    _scalar(loss_fn(tensors), "loss_fn's result").backward()
    expected = {name: _grad_of(tensor) for name, tensor in tensors.items()}
    return _gradient_report(manual, expected, ctx, "check_backprop")


def check_forward(
    forward_fn: Callable[[dict[str, Tensor]], Mapping[str, Tensor]],
    params: Mapping[str, np.ndarray],
    manual_activations: Mapping[str, np.ndarray],
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> BackpropReport:
    """Compare a hand-written forward pass, layer by layer, with one in Tensor ops.

    ``forward_fn`` receives float64 Tensors of ``params`` and returns a dict name -> Tensor of
    activations in the order they are computed; ``manual_activations`` holds some or all of
    them. The report follows that order, so ``report.first_failure`` is the first layer whose
    hand-computed value differs: the mistake is there or in its inputs.
    """
    arrays = _arrays(params, "params")
    manual = _arrays(manual_activations, "manual_activations")
    with no_grad():
        outputs = _outputs(forward_fn(_leaves(arrays)), manual)
    ctx = replace(_context(rtol, atol, None), gradients=False)
    checks = {
        name: diagnose(name, manual[name], outputs[name].data.astype(np.float64), ctx)
        for name in outputs
        if name in manual
    }
    return BackpropReport(checks, "check_forward", ordered=True)


def check_layer_grads(
    forward_fn: Callable[[dict[str, Tensor]], Mapping[str, Tensor]],
    params: Mapping[str, np.ndarray],
    manual_grads: Mapping[str, np.ndarray],
    loss: str = "loss",
    rtol: float = 1e-5,
    atol: float = 1e-8,
    batch_size: int | None = None,
) -> BackpropReport:
    """Compare hand-written dL/d(activation) (and dL/d(param)) with the tape's, layer by layer.

    ``forward_fn`` is as in :func:`check_forward`, and its dict also holds the scalar loss
    under the key ``loss``. ``manual_grads`` maps activation or parameter names to the
    hand-written gradient of the loss with respect to them. The tape keeps no gradient for an
    intermediate result, but the cotangent that an op's vjps receive IS dL/d(its output), so
    the vjps of each named activation are wrapped to record it. Entries run from the loss
    backwards (activations in reverse order of computation, then parameters), so
    ``report.first_failure`` is where the hand-written backward pass first goes wrong.
    """
    arrays = _arrays(params, "params")
    manual = _arrays(manual_grads, "manual_grads")
    ctx = _context(rtol, atol, batch_size)
    tensors = _leaves(arrays)
    outputs = _outputs(forward_fn(tensors), [name for name in manual if name not in arrays])
    if loss not in outputs:
        raise ArgumentError(f"check_layer_grads: forward_fn's dict has no {loss!r} (the loss)")
    activations = [name for name in reversed(outputs) if name in manual and name not in arrays]
    for name in activations:
        if outputs[name]._node is None:
            raise GraphError(f"activation {name!r} does not depend on any parameter: no gradient")
    wanted = [outputs[name] for name in activations] + [tensors[name] for name in arrays]
    found = grad(_scalar(outputs[loss], f"forward_fn's {loss!r}"), wanted, allow_unused=True)
    names = activations + list(arrays)
    expected = {
        name: _as_float64(g, t.shape)
        for name, g, t in zip(names, found, wanted, strict=True)
        if name in manual
    }
    return _gradient_report(manual, expected, ctx, "check_layer_grads", ordered=True)


def _gradient_report(manual, expected, ctx: DiagnosisContext, title: str, ordered: bool = False):
    """Diagnose every expected gradient; N from a per-sample gradient when not given."""
    ctx = replace(ctx, batch_size=ctx.batch_size or _per_sample_length(manual, expected))
    checks = {name: diagnose(name, manual[name], grad, ctx) for name, grad in expected.items()}
    return BackpropReport(checks, title, ordered)


# --------------------------------------------------------------------------- arguments


def _context(rtol: Any, atol: Any, batch_size: Any) -> DiagnosisContext:
    for what, value in (("rtol", rtol), ("atol", atol)):
        if not isinstance(value, int | float) or not value >= 0:
            raise ArgumentError(f"{what} must be a number >= 0, got {value!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ArgumentError(f"batch_size must be a positive int or None, got {batch_size!r}")
    return DiagnosisContext(float(rtol), float(atol), batch_size, gradients=True)


def _arrays(mapping: Any, what: str) -> dict[str, np.ndarray]:
    """The mapping's arrays, checked: numpy arrays (or Tensors: their ``.data``) of real
    numbers, under string names."""
    if not isinstance(mapping, Mapping):
        raise DTypeError(f"{what} must be a dict name -> numpy array, got {type(mapping).__name__}")
    arrays = {}
    for name, value in mapping.items():
        array = value.data if isinstance(value, Tensor) else value  # a model's parameters
        if not isinstance(array, np.ndarray):
            raise DTypeError(f"{what}[{name!r}] is a {type(value).__name__}, not a numpy array")
        if array.dtype.kind not in "biuf":
            raise DTypeError(f"{what}[{name!r}] has dtype {array.dtype}: real numbers needed")
        arrays[name] = array
    return arrays


def _same_names(params: dict[str, np.ndarray], manual: dict[str, np.ndarray]) -> None:
    missing = [name for name in params if name not in manual]
    extra = [name for name in manual if name not in params]
    if missing or extra:
        raise ArgumentError(
            f"manual_grads must have the names of params: missing {missing}, extra {extra}"
        )


def _leaves(arrays: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """Float64 copies that require grad: the user's arrays are never touched."""
    return {name: Tensor(a.astype(np.float64), requires_grad=True) for name, a in arrays.items()}


def _scalar(value: Any, what: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise DTypeError(f"{what} must be a Tensor, got {type(value).__name__}")
    if value.size != 1:
        raise ShapeError(f"{what} must be a scalar, got shape {value.shape}: .sum() or .mean()?")
    if not value.requires_grad:
        raise GraphError(
            f"{what} does not depend on any parameter: was it computed with numpy or .data "
            "instead of the Tensors it was given?"
        )
    return value


def _outputs(value: Any, wanted: Iterable[str]) -> dict[str, Tensor]:
    """forward_fn's dict of Tensors, holding every name in ``wanted``."""
    if not isinstance(value, Mapping) or not all(isinstance(t, Tensor) for t in value.values()):
        raise DTypeError("forward_fn must return a dict name -> Tensor of activations")
    missing = [name for name in wanted if name not in value]
    if missing:
        raise ArgumentError(f"forward_fn's dict has no {missing}; it has {list(value)}")
    return dict(value)


def _grad_of(tensor: Tensor) -> np.ndarray:
    """A leaf's gradient, zeros when the loss does not reach it."""
    grad = tensor.grad if tensor.grad is not None else np.zeros(tensor.shape)
    return grad.astype(np.float64)


def _as_float64(gradient: Tensor | None, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient from tinygrad_hw.grad as float64, zeros when the loss does not reach it."""
    return np.zeros(shape) if gradient is None else gradient.data.astype(np.float64)


def _per_sample_length(manual: dict[str, np.ndarray], expected: dict[str, np.ndarray]):
    """N from a manual gradient of shape (N, *expected shape), N >= 2; else None."""
    for name, m in manual.items():
        g = expected[name]
        if m.ndim == g.ndim + 1 and m.shape[1:] == g.shape and m.shape[0] > 1:
            return m.shape[0]
    return None
