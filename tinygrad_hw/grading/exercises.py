"""The backprop exercises of ``exercises/``: what each asks for, how a case is drawn, and how an
answer is checked against the tape.

An ``Exercise`` names the file (``exercises/<name>.py``) and the function the student writes,
draws cases (shapes and a seed, so that Hypothesis shrinks to the smallest failing shapes;
values from the seed, continuous, so no draw sits on a ReLU kink), and checks an answer: the
tape computes the right gradients (``check_backprop``, ``check_layer_grads``) and the
diagnosis is theirs (sign, scale with the factor, shape, first wrong layer).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_hw.check_backprop import BackpropReport, check_backprop, check_layer_grads
from tinygrad_hw.diagnosis import DiagnosisContext, diagnose
from tinygrad_hw.nn import functional as F
from tinygrad_hw.optim import Adam
from tinygrad_hw.tensor import Tensor

Case = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one answer on one case: ``diagnosis`` is "ok" or what is wrong, with the
    array's name ("W1: scale"); ``message`` says why."""

    ok: bool
    diagnosis: str
    message: str


@dataclass(frozen=True)
class Exercise:
    name: str  # the file exercises/<name>.py
    function: str  # the function the student writes in it
    sizes: dict[str, tuple[int, int]]  # each size drawn in [lo, hi]
    make_case: Callable[[dict[str, int], np.random.Generator], Case]
    check: Callable[[Callable[..., Any], Case], Verdict]


class WrongAnswer(Exception):
    """An answer that cannot be compared: None, a string, a tuple of the wrong length."""


# --------------------------------------------------------------------------- helpers


def _array(value: Any, what: str) -> np.ndarray:
    if value is None:
        raise WrongAnswer(f"{what} is None: did the function return its result?")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} is a {type(value).__name__}, not an array of numbers") from None
    return array


def _arrays(value: Any, names: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    if len(names) == 1:
        return {names[0]: _array(value, what)}
    if not isinstance(value, tuple | list) or len(value) != len(names):
        raise WrongAnswer(f"{what} must be a tuple ({', '.join(names)}), got {value!r:.80}")
    return {name: _array(v, name) for name, v in zip(names, value, strict=True)}


def _copies(case: Case, *names: str) -> list[Any]:
    """Fresh copies for the student's function: an answer that writes into its inputs
    changes nothing the check reads."""
    return [np.copy(v) if isinstance(v, np.ndarray) else v for v in (case[n] for n in names)]


def _verdict(report: BackpropReport, prefix: str = "") -> Verdict:
    name = (
        report.first_failure
        if report.ordered
        else next((n for n, e in report.items() if not e.ok), None)
    )
    if name is None:
        return Verdict(True, "ok", "matches the tape")
    entry = report[name]
    agree = " (every layer between it and the loss agrees: look at how it is made)"
    where = agree if report.ordered else ""
    return Verdict(False, f"{prefix}{name}: {entry.diagnosis}", f"{entry.message}{where}")


def _labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.integers(0, k, n)


# --------------------------------------------------------------------------- the exercises


def _softmax_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    n, k = s["N"], s["K"]
    return {"logits": 2 * rng.standard_normal((n, k)), "labels": _labels(rng, n, k)}


def _softmax_check(fn: Callable[..., Any], case: Case) -> Verdict:
    answer = _arrays(fn(*_copies(case, "logits", "labels")), ("logits",), "the gradient")
    labels = case["labels"]
    report = check_backprop(
        lambda p: F.cross_entropy(p["logits"], labels), {"logits": case["logits"]}, answer,
        batch_size=len(labels),
    )  # fmt: skip
    return _verdict(report)


def _bce_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    n = s["N"]
    return {"z": 2 * rng.standard_normal(n), "t": rng.integers(0, 2, n).astype(np.float64)}


def _bce_check(fn: Callable[..., Any], case: Case) -> Verdict:
    answer = _arrays(fn(*_copies(case, "z", "t")), ("z",), "the gradient")
    t = case["t"]
    report = check_backprop(
        lambda p: F.binary_cross_entropy_with_logits(p["z"], t), {"z": case["z"]}, answer,
        batch_size=len(t),
    )  # fmt: skip
    return _verdict(report)


def _linear_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    n, d, m = s["N"], s["D"], s["M"]
    return {
        "x": rng.standard_normal((n, d)),
        "w": rng.standard_normal((d, m)),
        "b": rng.standard_normal(m),
        "dout": rng.standard_normal((n, m)),
    }


def _linear_check(fn: Callable[..., Any], case: Case) -> Verdict:
    answer = _arrays(fn(*_copies(case, "x", "w", "b", "dout")), ("x", "w", "b"), "the result")
    dout = Tensor(case["dout"])
    report = check_backprop(
        lambda p: ((p["x"] @ p["w"] + p["b"]) * dout).sum(),
        {name: case[name] for name in ("x", "w", "b")}, answer, batch_size=len(case["x"]),
    )  # fmt: skip
    return _verdict(report)


def _relu_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    shape = (s["N"], s["D"])
    return {"x": rng.standard_normal(shape), "dout": rng.standard_normal(shape)}


def _relu_check(fn: Callable[..., Any], case: Case) -> Verdict:
    answer = _arrays(fn(*_copies(case, "x", "dout")), ("x",), "the gradient")
    dout = Tensor(case["dout"])
    report = check_backprop(lambda p: (p["x"].relu() * dout).sum(), {"x": case["x"]}, answer)
    return _verdict(report)


MLP_PARAMS = ("W1", "b1", "W2", "b2")
MLP_LAYERS = ("z2", "h", "a1")  # dL/d(logits), dL/d(hidden), dL/d(pre-activation)


def _mlp_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    n, d, h, k = s["N"], s["D"], s["H"], s["K"]
    params = {
        "W1": rng.standard_normal((d, h)), "b1": 0.1 * rng.standard_normal(h),
        "W2": rng.standard_normal((h, k)), "b2": 0.1 * rng.standard_normal(k),
    }  # fmt: skip
    lam = float(rng.uniform(0.05, 1.0))
    x = rng.standard_normal((n, d))
    return {"x": x, "labels": _labels(rng, n, k), "params": params, "lam": lam}


def _mlp_forward(case: Case, lam: float):
    x, labels = Tensor(case["x"]), case["labels"]

    def forward(p: dict[str, Tensor]) -> dict[str, Tensor]:
        a1 = x @ p["W1"] + p["b1"]
        h = a1.relu()
        z2 = h @ p["W2"] + p["b2"]
        penalty = F.l2_penalty([p["W1"], p["W2"]], lam)
        return {"a1": a1, "h": h, "z2": z2, "loss": F.cross_entropy(z2, labels) + penalty}

    return forward


def _mlp_answer(fn: Callable[..., Any], case: Case, lam: float) -> dict[str, np.ndarray]:
    params = {name: np.copy(a) for name, a in case["params"].items()}
    grads = fn(np.copy(case["x"]), np.copy(case["labels"]), params, lam)
    if not isinstance(grads, dict):
        raise WrongAnswer(f"the result must be a dict of gradients, got {type(grads).__name__}")
    missing = [name for name in MLP_LAYERS + MLP_PARAMS if name not in grads]
    if missing:
        raise WrongAnswer(f"the dict has no {missing}; it has {sorted(grads)}")
    return {name: _array(grads[name], name) for name in MLP_LAYERS + MLP_PARAMS}


def _mlp_check(fn: Callable[..., Any], case: Case) -> Verdict:
    """Layer by layer at lambda; when only the weights are wrong, the L2 term's part (the
    answer at lambda minus the answer at 0) is diagnosed on its own: 2 lambda W."""
    lam, n = case["lam"], len(case["x"])
    answer = _mlp_answer(fn, case, lam)
    report = check_layer_grads(_mlp_forward(case, lam), case["params"], answer, batch_size=n)
    verdict = _verdict(report)
    if verdict.ok or report.first_failure not in ("W1", "W2"):
        return verdict
    without = check_layer_grads(
        _mlp_forward(case, 0.0), case["params"], _mlp_answer(fn, case, 0.0), batch_size=n
    )
    if not without.ok:
        return verdict
    ctx = DiagnosisContext(1e-5, 1e-8, None, gradients=True)
    for name in ("W1", "W2"):
        weight = case["params"][name]
        part = answer[name] - _mlp_answer(fn, case, 0.0)[name]
        entry = diagnose(f"{name} (L2 term)", part, 2 * lam * weight, ctx)
        if not entry.ok:
            message = f"at lambda = 0 it matches; the L2 term's gradient does not: {entry.message}"
            return Verdict(False, f"{name} L2 term: {entry.diagnosis}", message)
    return verdict


def _adam_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    shape = (s["N"], s["D"])
    return {
        "w": rng.standard_normal(shape), "g": rng.standard_normal(shape),
        "m": 0.1 * rng.standard_normal(shape), "v": 0.1 * rng.random(shape),
        "t": int(rng.integers(1, 20)), "lr": float(rng.uniform(1e-3, 1e-1)),
        "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
    }  # fmt: skip


def _adam_reference(case: Case) -> dict[str, np.ndarray]:
    """tinygrad_hw.optim.Adam's update from the case's state (its m, v and step t - 1)."""
    w = Tensor(np.copy(case["w"]), requires_grad=True)
    opt = Adam([w], lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"])
    opt.state[0]["m"][...] = case["m"]
    opt.state[0]["v"][...] = case["v"]
    opt.updates[0] = case["t"] - 1
    w.grad = np.copy(case["g"])
    opt.step()
    return {"w": w.data, "m": opt.state[0]["m"], "v": opt.state[0]["v"]}


def _adam_check(fn: Callable[..., Any], case: Case) -> Verdict:
    names = ("w", "g", "m", "v", "t", "lr", "beta1", "beta2", "eps")
    answer = _arrays(fn(*_copies(case, *names)), ("w", "m", "v"), "the result")
    right = _adam_reference(case)
    ctx = DiagnosisContext(1e-6, 1e-10, None, gradients=False)
    for name in ("m", "v"):
        entry = diagnose(name, answer[name], right[name], ctx)
        if not entry.ok:
            return Verdict(False, f"{name}: {entry.diagnosis}", entry.message)
    step = diagnose("the step", answer["w"] - case["w"], right["w"] - case["w"], ctx)
    if step.ok:
        return Verdict(True, "ok", "matches tinygrad_hw.optim.Adam")
    hint = "" if step.diagnosis == "sign" else "; is the bias correction 1 - beta^t there?"
    return Verdict(False, f"the step w_new - w: {step.diagnosis}", step.message + hint)


def _logistic_case(s: dict[str, int], rng: np.random.Generator) -> Case:
    n, d = s["N"], s["D"]
    return {
        "x": rng.standard_normal((n, d)), "t": rng.integers(0, 2, n).astype(np.float64),
        "w": rng.standard_normal(d), "b": float(rng.standard_normal()),
        "lam": float(rng.uniform(0.05, 1.0)), "lr": float(rng.uniform(0.05, 0.5)),
    }  # fmt: skip


def _logistic_check(fn: Callable[..., Any], case: Case) -> Verdict:
    """The step's implied gradient (w - w_new) / lr against the tape's gradient of J."""
    result = _arrays(fn(*_copies(case, "x", "t", "w", "b", "lam", "lr")), ("w", "b"), "the result")
    lr, x, t, lam = case["lr"], Tensor(case["x"]), case["t"], case["lam"]
    implied = {name: np.asarray((case[name] - result[name]) / lr) for name in ("w", "b")}

    def objective(p: dict[str, Tensor]) -> Tensor:
        data = F.binary_cross_entropy_with_logits(x @ p["w"] + p["b"], t)
        return data + F.l2_penalty(p["w"], lam / 2)

    params = {"w": case["w"], "b": np.asarray(case["b"])}
    return _verdict(check_backprop(objective, params, implied, batch_size=len(t)), "gradient of ")


_ALL = (
    Exercise(
        "softmax_cross_entropy", "softmax_cross_entropy_grad", {"N": (1, 6), "K": (3, 5)},
        _softmax_case, _softmax_check,
    ),
    Exercise("sigmoid_bce", "sigmoid_bce_grad", {"N": (1, 8)}, _bce_case, _bce_check),
    Exercise(
        "linear_backward", "linear_backward", {"N": (1, 5), "D": (1, 4), "M": (1, 4)},
        _linear_case, _linear_check,
    ),
    Exercise(
        "relu_backward", "relu_backward", {"N": (1, 5), "D": (1, 5)}, _relu_case, _relu_check
    ),
    Exercise(
        "mlp_backward", "mlp_backward", {"N": (1, 5), "D": (1, 4), "H": (1, 5), "K": (3, 4)},
        _mlp_case, _mlp_check,
    ),
    Exercise("adam", "adam_step", {"N": (1, 3), "D": (1, 3)}, _adam_case, _adam_check),
    Exercise(
        "seed002_logistic", "logistic_regression_step", {"N": (1, 8), "D": (1, 4)},
        _logistic_case, _logistic_check,
    ),
)  # fmt: skip
# K >= 3 classes: at K = 2 every p - y is an eigenvector of the softmax Jacobian, so applying
# that Jacobian on top of p - y (seed 000) would pass for a constant factor.
EXERCISES = {exercise.name: exercise for exercise in _ALL}  # in the order students do them
