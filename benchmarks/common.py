"""Shared machinery of the benchmarks: interleaved timing, GEMM peak, flop counts, parity checks
and atomic JSON / PNG output.

Timing is interleaved: each round runs every contender once (manual, ours, manual, ours, ...),
so a burst of load from another process hits all of them alike, and the median over rounds
drops the rounds it spoiled.
"""

import io
import itertools
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_hw.atomic import atomic_open

RESULTS = Path(__file__).resolve().parent / "results"


def calibrate(fn: Callable[[], Any], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least 1): one round's repeat count,
    so that a round is long enough for perf_counter and short enough to interleave often."""
    fn()  # warm-up: first-call allocations and caches
    if seconds <= 0:
        return 1
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(seconds / once))


def interleaved(
    contenders: dict[str, Callable[[], Any]], rounds: int, seconds_per_round: float = 0.02
) -> dict[str, dict[str, float]]:
    """Median, min and max seconds per call of each contender over ``rounds`` interleaved
    rounds; each round calls each contender ``repeat`` times back to back."""
    repeats = {name: calibrate(fn, seconds_per_round) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            n = repeats[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: summary(values) for name, values in samples.items()}


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median (the number we report), with min and max to show the noise."""
    array = np.asarray(values)
    return {
        "median_s": float(np.median(array)),
        "min_s": float(array.min()),
        "max_s": float(array.max()),
        "rounds": len(array),
    }


def gemm_peak(dtype: type, n: int = 1024, repeats: int = 5) -> float:
    """numpy's matmul speed in GFLOP/s on an n x n square product (2 n^3 flops), best of
    ``repeats``: the ceiling any MLP step on this machine can reach."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    a @ b  # warm-up: thread pool start
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def mlp_step_flops(sizes: Sequence[int], batch: int) -> int:
    """Matmul flops of one training step: 2 m n k per GEMM; per layer one forward GEMM and two
    backward GEMMs (dW = h^T dz and dh = dz W^T), except that the first layer has no dh (no
    gradient for the input). Elementwise work is not counted."""
    total = 0
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        gemms = 2 if layer == 0 else 3
        total += gemms * 2 * batch * fan_in * fan_out
    return total


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |a - e| / max |e|: an error relative to the array's scale, so that entries that
    happen to be near zero do not inflate it."""
    scale = float(np.max(np.abs(expected))) or 1.0
    return float(np.max(np.abs(np.asarray(actual, np.float64) - expected))) / scale


def parity_tolerance(dtype: type) -> float:
    """Two correct implementations differ by rounding only: float32 rounding (eps 1.2e-7)
    accumulated over sums of up to ~10^4 terms stays well under 1e-4 of the scale; float64
    (eps 2.2e-16) well under 1e-10."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-10


def assert_same(
    name: str,
    loss: float,
    grads: Sequence[np.ndarray],
    ref_loss: float,
    ref_grads: Sequence[np.ndarray],
    dtype: type,
) -> float:
    """Raise AssertionError naming ``name`` unless loss and every gradient match the
    reference to the dtype's tolerance; return the worst relative error."""
    tol = parity_tolerance(dtype)
    errors = [abs(loss - ref_loss) / max(abs(ref_loss), 1e-30)]
    for i, (g, ref) in enumerate(zip(grads, ref_grads, strict=True)):
        if np.shape(g) != ref.shape:
            raise AssertionError(f"{name}: gradient {i} has shape {np.shape(g)}, not {ref.shape}")
        errors.append(max_relative_error(g, ref))
    worst = max(errors)
    if worst > tol:
        raise AssertionError(f"{name}: loss/gradients differ from manual by {worst:.3g} > {tol}")
    return worst


def machine_info() -> dict[str, Any]:
    """Enough about the machine to tell two result files apart, and how busy it was: the load
    average (1, 5, 15 min) above the core count means other processes shared the cores."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=False)
        handle.write("\n")


def write_png(path: str | Path, figure: Any) -> None:
    """Render a matplotlib figure to PNG bytes in memory, then write them atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats are printed with 3 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
