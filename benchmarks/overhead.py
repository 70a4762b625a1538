"""What the tape itself costs: a tiny op against raw numpy, and a profile of a batch-32 step.

    python -m benchmarks.overhead [--quick] [--out benchmarks/results/overhead.json]

1. A 4-element ``(x * w).sum()`` forward and backward, ours against the same maths in numpy
   (the forward, then the hand-written gradient w): at this size every microsecond is
   framework overhead, so the difference is the fixed cost of recording and replaying ops.
2. The MLP 784-100-10 step at batch 32 (float32), ours and manual interleaved: the share of
   our step that is overhead, (ours - manual) / ours.
3. cProfile of that step (and of the manual one, for contrast): the top functions by their
   own time (tottime) per step, and the own time per file. numpy arithmetic written with
   operators (``a @ b``, ``g * mask``) is not a function call, so its time counts as the own
   time of the function that wrote it: the ops files' own time is mostly the maths itself.
   cProfile slows Python-heavy code down, so read the profile for proportions and the
   interleaved timings for sizes.
"""

import argparse
import copy
import cProfile
import pstats
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import common, ours
from benchmarks.manual import init_mlp
from benchmarks.step import manual_step, random_batch
from tinygrad_hw import Tensor, no_grad

SIZES = [784, 100, 10]
ROOT = Path(__file__).resolve().parent.parent


def tiny_op_timings(rounds: int, seconds: float) -> dict[str, Any]:
    """Microseconds of a 4-element multiply-and-sum, forward and backward, four ways."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    x, w = Tensor(a, requires_grad=True), Tensor(b)

    def numpy_forward_backward() -> np.ndarray:
        (a * b).sum()
        return b * 1.0  # d/da sum(a * b) = b

    def ours_forward_backward() -> None:
        x.grad = None
        (x * w).sum().backward()

    def ours_forward_no_grad() -> None:
        with no_grad():
            (x * w).sum()

    contenders = {
        "numpy": numpy_forward_backward,
        "ours": ours_forward_backward,
        "ours_forward_only": lambda: (x * w).sum(),
        "ours_no_grad": ours_forward_no_grad,
    }
    timings = common.interleaved(contenders, rounds, seconds)
    return {name: t["median_s"] * 1e6 for name, t in timings.items()} | {"unit": "us"}


def step_overhead(rounds: int, seconds: float, batch: int = 32) -> dict[str, Any]:
    """Manual and ours at one batch size, interleaved; the overhead share of our step."""
    mlp = init_mlp(SIZES, "relu", np.float32, seed=0)
    x, labels = random_batch(batch, np.float32)
    manual = manual_step(copy.deepcopy(mlp), 1e-3)
    model = ours.build_model(mlp)
    step = ours.train_step(model, ours.make_optimizer(model, "sgd", 1e-3))
    timings = common.interleaved(
        {"manual": lambda: manual(x, labels), "ours": lambda: step(x, labels)}, rounds, seconds
    )
    manual_s, ours_s = timings["manual"]["median_s"], timings["ours"]["median_s"]
    return {
        "batch": batch,
        "manual_us": manual_s * 1e6,
        "ours_us": ours_s * 1e6,
        "overhead_us": (ours_s - manual_s) * 1e6,
        "overhead_share": (ours_s - manual_s) / ours_s,
    }


def profile_step(steps: int, side: str = "ours", batch: int = 32, top: int = 20) -> dict[str, Any]:
    """cProfile ``steps`` of one side's step ("ours" or "manual"); the top functions by
    tottime, per step, and by file."""
    mlp = init_mlp(SIZES, "relu", np.float32, seed=0)
    x, labels = random_batch(batch, np.float32)
    if side == "manual":
        step = manual_step(mlp, 1e-3)
    else:
        model = ours.build_model(mlp)
        step = ours.train_step(model, ours.make_optimizer(model, "sgd", 1e-3))
    step(x, labels)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step(x, labels)
    profiler.disable()
    return summarize(pstats.Stats(profiler), steps, top)


def summarize(stats: pstats.Stats, steps: int, top: int) -> dict[str, Any]:
    """Rows (function, calls per step, own us per step, cumulative us per step), the
    heaviest ``top`` by own time, and the own time summed per source file."""
    rows, by_file = [], {}
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
        where = _short_path(filename)
        rows.append(
            {
                "function": f"{where}:{line}({name})" if line else name,
                "calls_per_step": calls / steps,
                "tottime_us_per_step": tottime / steps * 1e6,
                "cumtime_us_per_step": cumtime / steps * 1e6,
            }
        )
        by_file[where] = by_file.get(where, 0.0) + tottime / steps * 1e6
    rows.sort(key=lambda r: -r["tottime_us_per_step"])
    total = sum(by_file.values())
    files = sorted(by_file.items(), key=lambda item: -item[1])
    return {
        "profiled_us_per_step": total,
        "top_functions": rows[:top],
        "by_file_us_per_step": dict(files),
        "calls_per_step": sum(r["calls_per_step"] for r in rows),
    }


def _short_path(filename: str) -> str:
    """Paths inside the repository relative to it; numpy's and builtins' kept short."""
    if filename.startswith(str(ROOT)):
        return filename[len(str(ROOT)) + 1 :]
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    return filename if filename != "~" else "<built-in>"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, short profile")
    parser.add_argument("--out", type=Path, default=common.RESULTS / "overhead.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure, profile, write the JSON and print a summary."""
    args = parse_args(argv)
    rounds, seconds, steps = (3, 0.002, 20) if args.quick else (21, 0.05, 2000)
    payload = {
        "benchmark": "overhead",
        "machine": common.machine_info(),
        "tiny_op": tiny_op_timings(rounds, seconds),
        "step": [step_overhead(rounds, seconds, batch) for batch in (32, 128)],
        "profile_batch32": profile_step(steps),
        "profile_manual_batch32": profile_step(steps, "manual", top=8),
    }
    common.write_json(args.out, payload)
    print(report(payload))
    return payload


def report(payload: dict[str, Any]) -> str:
    """Markdown: the tiny op, the overhead share, the profile's top functions."""
    tiny = payload["tiny_op"]
    lines = [
        "tiny op (4 elements), us: "
        + ", ".join(f"{k} {v:.2f}" for k, v in tiny.items() if k != "unit"),
        "",
        common.markdown_table(
            ["batch", "manual us", "ours us", "overhead us", "overhead share"],
            [
                [s["batch"], s["manual_us"], s["ours_us"], s["overhead_us"], s["overhead_share"]]
                for s in payload["step"]
            ],
        ),
        "",
        "cProfile, batch-32 step: own time per file (us per step, cProfile overhead included)",
        common.markdown_table(
            ["file", "own us"], list(payload["profile_batch32"]["by_file_us_per_step"].items())
        ),
        "",
        "top functions by own time:",
        common.markdown_table(
            ["function", "calls/step", "own us", "cumulative us"],
            [list(r.values()) for r in payload["profile_batch32"]["top_functions"]],
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
