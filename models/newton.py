"""Seed 002's logistic regression by Newton's method, next to the report's gradient descent.

    python -m models.newton [--out DIR] [--quick] [--classes 0,1]

The objective is seed 002's, on the same digits (MNIST-5k training rows of two digits):

    J(w, b) = mean_n BCE(sigmoid(x_n . w + b), t_n) + (lambda / 2) ||w||^2,   lambda = 1e-3

Gradient descent takes the report's 1,000 full-batch steps of size 0.1 from zero. Newton's
method solves H d = -g at each step, with the Hessian H = d^2 J / d theta^2 of all
785 parameters from ``tg.func.hessian`` (a reverse pass over the recorded gradient per
parameter: nothing about the model is derived by hand), and stops when the gradient's largest
element is below 1e-9. The script prints the Hessian's distance from the closed form
X^T diag(s (1 - s)) X / N + lambda I (bias row and column unpenalised), the steps each method
needs to come within 1e-6 of the optimum, and draws both curves of J - J* into one PNG.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import tinygrad_hw as tg
from models import plots
from models.experiment import Config
from models.logistic import LogisticRegression
from models.runner import json_safe
from tinygrad_hw import Tensor
from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.nn import functional as F

LAM = 1e-3  # seed 002's lambda
GD_STEPS, GD_LR = 1000, 0.1  # the report's schedule (models.logistic's defaults)
NEWTON_MAX_STEPS, GRADIENT_TOL = 30, 1e-9
CONVERGED = 1e-6  # "converged": J - J* below this


def objective(theta: Tensor, x: np.ndarray, t: np.ndarray) -> Tensor:
    """Seed 002's J with theta = (w, b): mean BCE from the logits plus (lambda/2) ||w||^2."""
    w, b = theta[:-1], theta[-1]
    logits = Tensor(x) @ w + b
    return F.binary_cross_entropy_with_logits(logits, t) + F.l2_penalty([w], LAM / 2)


def closed_form_hessian(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """X1^T diag(s (1 - s)) X1 / N + lambda diag(1, ..., 1, 0), X1 = [X, 1]: the check."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    s = 1.0 / (1.0 + np.exp(-(x1 @ theta)))
    ridge = LAM * np.eye(len(theta))
    ridge[-1, -1] = 0.0  # the bias is not penalised
    return x1.T @ (x1 * (s * (1 - s))[:, None]) / len(x) + ridge


def value_and_gradient(theta: np.ndarray, x: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    parameters = Tensor(theta, requires_grad=True)
    loss = objective(parameters, x, t)
    (gradient,) = tg.grad(loss, parameters)
    return loss.item(), gradient.data


def gradient_descent(x: np.ndarray, t: np.ndarray, steps: int) -> list[float]:
    """J at theta_0 .. theta_steps, theta_{k+1} = theta_k - 0.1 g_k from theta_0 = 0."""
    theta = np.zeros(x.shape[1] + 1)
    losses = []
    for _ in range(steps):
        loss, gradient = value_and_gradient(theta, x, t)
        losses.append(loss)
        theta -= GD_LR * gradient
    losses.append(value_and_gradient(theta, x, t)[0])
    return losses


def newton(x: np.ndarray, t: np.ndarray) -> tuple[list[float], float]:
    """J at each Newton iterate from theta_0 = 0, and the largest |H - closed form| seen."""
    theta = np.zeros(x.shape[1] + 1)
    losses, worst = [], 0.0
    for _ in range(NEWTON_MAX_STEPS):
        loss, gradient = value_and_gradient(theta, x, t)
        losses.append(loss)
        if np.max(np.abs(gradient)) < GRADIENT_TOL:
            break
        hessian = tg.func.hessian(lambda p: objective(p, x, t), theta).data
        worst = max(worst, float(np.max(np.abs(hessian - closed_form_hessian(theta, x)))))
        theta = theta - np.linalg.solve(hessian, gradient)
    return losses, worst


def steps_to_converge(losses: list[float], optimum: float) -> int | None:
    """The first step k with J(theta_k) - J* < CONVERGED, or None if it never gets there."""
    return next((k for k, loss in enumerate(losses) if loss - optimum < CONVERGED), None)


def plot_gaps(curves: dict[str, list[float]], optimum: float, title: str, path: Path) -> None:
    """J - J* per step of each method, on a log scale (zeros drawn at the float64 floor)."""
    figure, axes = plots.plt.subplots(figsize=(7, 4))
    for label, losses in curves.items():
        gaps = np.maximum(np.asarray(losses) - optimum, 1e-16)
        axes.plot(range(len(gaps)), gaps, "o-" if len(gaps) < 50 else "-", ms=4, label=label)
    axes.axhline(CONVERGED, color="k", ls="--", lw=1, label=f"converged: J - J* < {CONVERGED}")
    axes.set_xscale("symlog", linthresh=1.0)  # linear from 0 to 1, then logarithmic
    axes.set(xlim=(0, None), yscale="log", xlabel="step", ylabel="J - J* (training objective)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="center right")
    plots.save_figure(figure, path)


def main(argv: list[str] | None = None) -> dict:
    """Run both methods; returns the metrics written to newton.json."""
    args = _parse(argv)
    experiment = LogisticRegression()
    cfg = Config(classes=args.classes, quick=args.quick, data=args.data)
    data = experiment.load_data(cfg, {})
    x, t = data.x_train.astype(np.float64), data.y_train.astype(np.float64)
    print(f"data: {args.data}, {data.note}, {len(x)} training rows, {x.shape[1]} pixels")
    start = time.perf_counter()
    newton_losses, hessian_error = newton(x, t)
    newton_seconds = time.perf_counter() - start
    start = time.perf_counter()
    gd_losses = gradient_descent(x, t, 100 if args.quick else GD_STEPS)
    gd_seconds = time.perf_counter() - start
    optimum = min(newton_losses + gd_losses)
    metrics = {
        "data": data.describe(),
        "optimum": optimum,
        "hessian_max_abs_error_vs_closed_form": hessian_error,
        "newton": {
            "losses": newton_losses,
            "steps_to_converge": steps_to_converge(newton_losses, optimum),
            "seconds": newton_seconds,
        },
        "gradient_descent": {
            "lr": GD_LR,
            "losses": gd_losses,
            "steps_to_converge": steps_to_converge(gd_losses, optimum),
            "final_gap": gd_losses[-1] - optimum,
            "seconds": gd_seconds,
        },
    }
    print(f"tg.func.hessian vs X^T diag(s(1-s)) X / N + lambda I: max |difference| "
          f"{hessian_error:.2e}")  # fmt: skip
    for name in ("newton", "gradient_descent"):
        run = metrics[name]
        steps = run["steps_to_converge"]
        reached = f"J - J* < {CONVERGED} after {steps} steps" if steps is not None else (
            f"J - J* = {run['losses'][-1] - optimum:.2e} after {len(run['losses']) - 1} steps"
        )  # fmt: skip
        print(f"{name}: J {run['losses'][0]:.4f} -> {run['losses'][-1]:.6f}; {reached} "
              f"({run['seconds']:.1f} s)")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "newton_vs_gd.png"
    curves = {
        "Newton's method (tg.func.hessian)": newton_losses,
        f"gradient descent, lr {GD_LR} (seed 002)": gd_losses,
    }
    plot_gaps(curves, optimum, f"seed 002, {data.note}: Newton vs gradient descent", png)
    safe = json_safe(metrics)  # NaN/inf (a diverged run) as null, listed under "non_finite"
    atomic_write_bytes(
        args.out / "newton.json", json.dumps(safe, indent=2, allow_nan=False).encode()
    )
    print(f"loss curves: {png}")
    return {**metrics, "png": png}


def _classes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/newton"))
    parser.add_argument("--quick", action="store_true", help="500 rows, 100 GD steps")
    parser.add_argument("--classes", type=_classes, default=(0, 1), help="two digits: 4,9")
    parser.add_argument("--data", default="mnist5k", help="mnist5k, mnist, fashion, digits")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
