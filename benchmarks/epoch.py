"""A full training epoch of two seed experiments on mnist5k: tinygrad_hw against hand-written
numpy (manual Adam included).

    python -m benchmarks.epoch [--quick] [--rounds R] [--out benchmarks/results/epoch.json]

- seed 004: MLP 784-100-10 ReLU, summed cross-entropy + 1e-2 * sum W^2, SGD lr 1e-4, batch 30;
- seed 000: MLP 784-100-10 ReLU, mean cross-entropy, Adam lr 1e-3, batch 100.

Both sides see the same batches in the same order (one shuffle seed per round). Parity first:
the loss and gradients of the first batch must agree to rounding, and so must the weights
after one whole epoch (which checks the optimizers too). Then interleaved rounds, one epoch
per contender per round; median, and the ratio ours / manual. ``--quick`` (the test suite's
parity run) uses 120 synthetic rows and 16 hidden units, so it needs no data set.
"""

import argparse
import copy
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import common, ours
from benchmarks.manual import ManualAdam, ManualMLP, init_mlp, sgd_update
from tinygrad_hw.data import minibatches

EXPERIMENTS: dict[str, dict[str, Any]] = {
    "seed004": {"reduction": "sum", "l2": 1e-2, "optimizer": "sgd", "lr": 1e-4, "batch": 30},
    "seed000": {"reduction": "mean", "l2": 0.0, "optimizer": "adam", "lr": 1e-3, "batch": 100},
}
SIZES = [784, 100, 10]
QUICK_SIZES = [784, 16, 10]
QUICK_ROWS = 120
DTYPES = (np.float32, np.float64)
# After one epoch the two sides' weights differ by accumulated rounding only: float32's
# 1.2e-7 per operation over ~134 steps stays far below 1e-4 of the weights' scale.
EPOCH_TOLERANCE = {"float32": 1e-4, "float64": 1e-10}


def load_data(quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """mnist5k's 4,000 training images, or synthetic pixels and labels for ``--quick``."""
    if quick:
        rng = np.random.default_rng(0)
        x = rng.random((QUICK_ROWS, SIZES[0])).astype(np.float32)
        return x, rng.integers(0, 10, QUICK_ROWS), "synthetic"
    from tinygrad_hw.datasets import mnist5k

    (x, y), _ = mnist5k()
    return x, y, "mnist5k"


def manual_epoch(mlp: ManualMLP, spec: dict) -> Callable[[np.ndarray, np.ndarray, int], None]:
    """One epoch of the hand-written training loop, with SGD or the hand-written Adam."""
    adam = ManualAdam(mlp.params, spec["lr"]) if spec["optimizer"] == "adam" else None

    def epoch(x: np.ndarray, y: np.ndarray, seed: int) -> None:
        for xb, yb in minibatches(x, y, spec["batch"], seed=seed):
            _, grads = mlp.loss_and_grads(xb, yb, spec["reduction"], spec["l2"])
            if adam is None:
                sgd_update(mlp.params, grads, spec["lr"])
            else:
                adam.step(grads)

    return epoch


def ours_epoch(
    mlp: ManualMLP, spec: dict
) -> tuple[Any, Callable[[np.ndarray, np.ndarray, int], None]]:
    """The model (a copy of ``mlp``'s weights) and one epoch of tinygrad_hw's training loop."""
    model = ours.build_model(mlp)
    optimizer = ours.make_optimizer(model, spec["optimizer"], spec["lr"])
    step = ours.train_step(model, optimizer, spec["reduction"], spec["l2"])

    def epoch(x: np.ndarray, y: np.ndarray, seed: int) -> None:
        for xb, yb in minibatches(x, y, spec["batch"], seed=seed):
            step(xb, yb)

    return model, epoch


def check_parity(mlp: ManualMLP, spec: dict, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """First-batch loss and gradients, then the weights after one epoch, must agree."""
    dtype = mlp.weights[0].dtype.type
    xb, yb = x[: spec["batch"]], y[: spec["batch"]]
    ref = copy.deepcopy(mlp).loss_and_grads(xb, yb, spec["reduction"], spec["l2"])
    got = ours.loss_and_grads(ours.build_model(mlp), xb, yb, spec["reduction"], spec["l2"])
    first = common.assert_same("ours, first batch", *got, *ref, dtype)
    manual = copy.deepcopy(mlp)
    manual_epoch(manual, spec)(x, y, 0)
    model, epoch = ours_epoch(mlp, spec)
    epoch(x, y, 0)
    drift = max(
        common.max_relative_error(p.data, q)
        for p, q in zip(model.parameters(), manual.params, strict=True)
    )
    tolerance = EPOCH_TOLERANCE[np.dtype(dtype).name]
    if drift > tolerance:
        raise AssertionError(f"weights after one epoch differ by {drift:.3g} > {tolerance}")
    return {"first_batch": first, "after_epoch": drift}


def run_experiment(name: str, dtype: type, x: np.ndarray, y: np.ndarray, settings: dict) -> dict:
    """Parity, then interleaved epochs: each round shuffles with its own seed."""
    spec = EXPERIMENTS[name]
    mlp = init_mlp(settings["sizes"], "relu", dtype, seed=0)
    x = x.astype(dtype, copy=False)
    errors = check_parity(mlp, spec, x, y)
    epochs = {"manual": manual_epoch(copy.deepcopy(mlp), spec), "ours": ours_epoch(mlp, spec)[1]}
    timings = common.interleaved(
        {name: _with_fresh_seeds(epoch, x, y) for name, epoch in epochs.items()},
        settings["rounds"],
        seconds_per_round=0,  # one epoch per contender per round
    )
    return {
        "experiment": name,
        "dtype": np.dtype(dtype).name,
        **spec,
        "steps_per_epoch": -(-len(x) // spec["batch"]),
        "parity_max_rel_error": errors,
        "timings": timings,
        "ratio_ours_over_manual": timings["ours"]["median_s"] / timings["manual"]["median_s"],
    }


def _with_fresh_seeds(epoch: Callable, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """The k-th call shuffles with seed k: both contenders see the same sequence of orders."""
    calls = itertools.count(1)
    return lambda: epoch(x, y, next(calls))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny synthetic data, small net, 3 rounds"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (one epoch each)")
    parser.add_argument("--out", type=Path, default=common.RESULTS / "epoch.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run both experiments in both dtypes, write the JSON, print a markdown table."""
    args = parse_args(argv)
    settings = {
        "rounds": args.rounds or (3 if args.quick else 11),
        "sizes": QUICK_SIZES if args.quick else SIZES,
    }
    x, y, source = load_data(args.quick)
    results = [run_experiment(n, d, x, y, settings) for n in EXPERIMENTS for d in DTYPES]
    payload = {
        "benchmark": "epoch",
        "machine": common.machine_info(),
        "settings": settings | {"data": source, "rows": len(x), "quick": args.quick},
        "results": results,
    }
    common.write_json(args.out, payload)
    header = ["experiment", "dtype", "batch", "optimizer", "manual ms", "ours ms", "ours/manual"]
    rows = [
        [
            *(r["experiment"], r["dtype"], r["batch"], r["optimizer"]),
            *(r["timings"][name]["median_s"] * 1e3 for name in ("manual", "ours")),
            r["ratio_ours_over_manual"],
        ]
        for r in results
    ]
    print(common.markdown_table(header, rows))
    return payload


if __name__ == "__main__":
    main()
