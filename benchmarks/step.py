"""One training step of an MLP 784-H-10: tinygrad_hw against hand-written numpy backprop.

    python -m benchmarks.step [--quick] [--rounds R] [--memory] [--device DEV]
                              [--out benchmarks/results/step.json]

A step is forward, mean softmax cross-entropy on integer labels, backward, plain SGD update.
Columns: manual (hand-written numpy), ours (the tape, eager), jit (the same step through
``tinygrad_hw.jit``: its two recorded calls fall in the calibration, then it replays; its
parity check asserts the same bits as eager after a few steps).

``--device DEV`` (default cpu) runs the tinygrad_hw column on DEV ("cuda" with CuPy, or an
array-API library such as "array_api_strict"): the model is moved there and the batch copied
there once, and each step ends by reading its loss (``float``), which waits for a GPU. The
manual column stays numpy on the CPU; PyTorch runs on CUDA only when DEV is cuda and torch
has CUDA, else on the CPU. jit records numpy's arrays, so its column is left out off the
CPU, and so is --memory (tracemalloc sees numpy's buffers only).
For every configuration (H, batch, dtype) the script first asserts that tinygrad_hw (and
PyTorch / HIPS autograd when installed) compute the manual loss and gradients from the same
weights and batch, then times all of them interleaved and reports the median over rounds, the
ratio ours / manual, and the GFLOP/s of each step against numpy's GEMM peak in this run.
Results: JSON and a PNG of the ratio by batch size; a markdown table on stdout.

Timings are wall-clock medians, so run on an idle machine. On a busy one, numpy's OpenBLAS
threads wait for cores that other processes hold and the small GEMMs get erratic;
``OPENBLAS_NUM_THREADS=1`` gives steadier numbers (the JSON records the setting and the load).
"""

import argparse
import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_hw
from benchmarks import common, extras, memory, ours
from benchmarks.manual import ManualMLP, init_mlp, sgd_update
from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.ops.devices import namespace_for_device, to_device
from tinygrad_hw.ops.namespace import NUMPY

IN_FEATURES, CLASSES, LR = 784, 10, 1e-3
FULL = {"hidden": (100, 256), "batch": (32, 128, 1024, 8192), "rounds": 21, "seconds": 0.05}
QUICK = {"hidden": (32,), "batch": (16, 64), "rounds": 3, "seconds": 0.002}
DTYPES = (np.float32, np.float64)
# The targets for ours / manual: (smallest batch it applies to, limit); the first
# one whose batch floor is reached applies. And: faster than PyTorch eager up to batch 128.
TARGETS = ((128, 1.05), (1, 1.15))
TORCH_TARGET_MAX_BATCH = 128


def verdict(record: dict) -> dict[str, Any]:
    """Whether one configuration meets the issue's targets (None: torch not measured)."""
    limit = next(limit for floor, limit in TARGETS if record["batch"] >= floor)
    timings = record["timings"]
    beats_torch = None
    if "torch" in timings and record["batch"] <= TORCH_TARGET_MAX_BATCH:
        beats_torch = timings["ours"]["median_s"] < timings["torch"]["median_s"]
    return {
        "ratio_limit": limit,
        "meets_ratio": record["ratio_ours_over_manual"] <= limit,
        "faster_than_torch": beats_torch,
    }


def random_batch(batch: int, dtype: type, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pixels in [0, 1) like MNIST's and uniformly random integer labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, IN_FEATURES)).astype(dtype)
    return x, rng.integers(0, CLASSES, size=batch)


def manual_step(mlp: ManualMLP, lr: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """The hand-written step: loss and gradients by hand, then SGD in place."""

    def step(x: np.ndarray, labels: np.ndarray) -> float:
        loss, grads = mlp.loss_and_grads(x, labels)
        sgd_update(mlp.params, grads, lr)
        return loss

    return step


def check_jit_parity(mlp: ManualMLP, x: np.ndarray, labels: np.ndarray, steps: int = 4) -> float:
    """Assert that the jitted step (2 recorded calls, then replays) leaves the parameters and
    gradients bit for bit where the eager step does; 0.0, the error, for the table."""
    runs = []
    for recorded in (False, True):
        model = ours.build_model(mlp)
        step = ours.train_step(model, ours.make_optimizer(model, "sgd", LR))
        step = tinygrad_hw.jit(step) if recorded else step
        losses = [float(step(x, labels)) for _ in range(steps)]
        runs.append((losses, [(p.data, p.grad) for p in model.parameters()]))
    assert runs[0][0] == runs[1][0], f"jit: losses {runs[1][0]} differ from eager {runs[0][0]}"
    for (w, g), (jw, jg) in zip(runs[0][1], runs[1][1], strict=True):
        assert np.array_equal(w, jw) and np.array_equal(g, jg), "jit: parameters differ"
    return 0.0


def contender(name: str, mlp: ManualMLP, device: str) -> tuple[Any, Any]:
    """extras.CONTENDERS[name] for this MLP; PyTorch on extras.torch_device(device)."""
    if name == "torch":
        return extras.torch_contender(mlp, LR, extras.torch_device(device))
    return extras.CONTENDERS[name](mlp, LR)


def check_parity(
    mlp: ManualMLP, x: np.ndarray, labels: np.ndarray, names: Sequence[str], device: str = "cpu"
) -> dict[str, float]:
    """Assert every contender's loss and gradients equal the manual ones (same weights, same
    batch; tinygrad_hw's on ``device``); return the worst relative error of each."""
    dtype = mlp.weights[0].dtype.type
    ref_loss, ref_grads = copy.deepcopy(mlp).loss_and_grads(x, labels)
    model = ours.build_model(mlp, device)
    loss, grads = ours.loss_and_grads(model, to_device(x, device), to_device(labels, device))
    errors = {"ours": common.assert_same("ours", loss, grads, ref_loss, ref_grads, dtype)}
    if device == "cpu":
        errors["jit"] = check_jit_parity(mlp, x, labels)
    for name in names:
        _, loss_and_grads = contender(name, mlp, device)
        loss, grads = loss_and_grads(x, labels)
        errors[name] = common.assert_same(name, loss, grads, ref_loss, ref_grads, dtype)
    return errors


def contenders(
    mlp: ManualMLP, x: np.ndarray, labels: np.ndarray, names: Sequence[str], device: str = "cpu"
) -> dict:
    """Zero-argument step functions, each on its own copy of the starting weights, in the
    order they run within a round: manual, ours (on ``device``), jit (cpu only), the extras."""
    model = ours.build_model(mlp, device)
    steps = {
        "manual": manual_step(copy.deepcopy(mlp), LR),
        "ours": ours.train_step(model, ours.make_optimizer(model, "sgd", LR)),
    }
    if device == "cpu":
        jit_model = ours.build_model(mlp)
        jit_step = ours.train_step(jit_model, ours.make_optimizer(jit_model, "sgd", LR))
        steps["jit"] = tinygrad_hw.jit(jit_step)
    for name in names:
        steps[name] = contender(name, mlp, device)[0]
    timed = {name: (lambda step=step: step(x, labels)) for name, step in steps.items()}
    if device != "cpu":  # the batch on the device once; each step waits for its loss
        xd, ld, step = to_device(x, device), to_device(labels, device), steps["ours"]
        timed["ours"] = lambda: float(step(xd, ld))
    return timed


def time_all(steps: dict, settings: dict) -> dict[str, dict[str, float]]:
    """Interleaved rounds of everything but extras.ISOLATED, which then run in blocks."""
    shared = {k: v for k, v in steps.items() if k not in extras.ISOLATED}
    timings = common.interleaved(shared, settings["rounds"], settings["seconds"])
    for name in steps.keys() - shared.keys():
        timings |= common.interleaved({name: steps[name]}, settings["rounds"], settings["seconds"])
    return timings


def run_config(hidden: int, batch: int, dtype: type, settings: dict, names: Sequence[str]) -> dict:
    """Parity first, then timings of one (H, batch, dtype) configuration (tinygrad_hw on
    ``settings["device"]``, default cpu)."""
    device = settings.get("device", "cpu")
    mlp = init_mlp([IN_FEATURES, hidden, CLASSES], "relu", dtype, seed=0)
    x, labels = random_batch(batch, dtype)
    errors = check_parity(mlp, x, labels, names, device)
    timings = time_all(contenders(mlp, x, labels, names, device), settings)
    flops = common.mlp_step_flops([IN_FEATURES, hidden, CLASSES], batch)
    for timing in timings.values():
        timing["gflops"] = flops / timing["median_s"] / 1e9
    ratio = timings["ours"]["median_s"] / timings["manual"]["median_s"]
    jit_ratio = (
        timings["jit"]["median_s"] / timings["manual"]["median_s"] if "jit" in timings else None
    )
    record = {
        "hidden": hidden,
        "batch": batch,
        "dtype": np.dtype(dtype).name,
        "flops": flops,
        "parity_max_rel_error": errors,
        "timings": timings,
        "ratio_ours_over_manual": ratio,
        "ratio_jit_over_manual": jit_ratio,
    }
    return record | {"target": verdict(record)}


def table(
    results: list[dict], peaks: dict[str, float], names: Sequence[str], device: str = "cpu"
) -> str:
    """The markdown summary: microseconds per step, the ratio, and GFLOP/s (no jit columns
    off the CPU; "ours" is named with its device there)."""
    ours_us = "ours us" if device == "cpu" else f"ours us ({device})"
    header = ["H", "dtype", "batch", "manual us", ours_us, "ours/manual", "target"]
    header += ["jit us", "jit/manual"] if device == "cpu" else []
    header += [f"{name} us" for name in names] + ["manual GF/s", "ours GF/s", "ours % peak"]
    rows = []
    for r in results:
        t = r["timings"]
        row = [r["hidden"], r["dtype"], r["batch"], t["manual"]["median_s"] * 1e6]
        row += [t["ours"]["median_s"] * 1e6, r["ratio_ours_over_manual"], _target_cell(r)]
        if device == "cpu":
            row += [t["jit"]["median_s"] * 1e6, r["ratio_jit_over_manual"]]
        row += [t[name]["median_s"] * 1e6 for name in names]
        gflops = t["ours"]["gflops"]
        row += [t["manual"]["gflops"], gflops, 100 * gflops / peaks[r["dtype"]]]
        rows.append(row)
    return common.markdown_table(header, rows)


def _target_cell(record: dict) -> str:
    target = record["target"]
    cell = f"{'met' if target['meets_ratio'] else 'MISSED'} (<= {target['ratio_limit']})"
    if target["faster_than_torch"] is not None:
        cell += ", beats torch" if target["faster_than_torch"] else ", slower than torch"
    return cell


def plot(results: list[dict], path: Path) -> None:
    """Ratio ours / manual against batch size, one line per (H, dtype)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for key in sorted({(r["hidden"], r["dtype"]) for r in results}):
        rows = [r for r in results if (r["hidden"], r["dtype"]) == key]
        batches = [r["batch"] for r in rows]
        axis.plot(
            batches, [r["ratio_ours_over_manual"] for r in rows], "o-", label=f"H={key[0]} {key[1]}"
        )
    axis.axhline(1.0, color="gray", lw=0.8)
    for batch_floor, limit in TARGETS:
        axis.axhline(limit, color="gray", lw=0.8, ls="--")
        axis.annotate(f"target, batch >= {batch_floor}", (min(FULL["batch"]), limit), fontsize=7)
    axis.set(xscale="log", xlabel="batch size", ylabel="time ours / manual numpy")
    axis.set_title("one SGD step of MLP 784-H-10 (median of interleaved rounds)")
    axis.legend()
    common.write_png(path, figure)
    plt.close(figure)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per configuration")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--no-extras", action="store_true", help="skip torch and autograd")
    parser.add_argument(
        "--device", default="cpu",
        help="where tinygrad_hw's column runs: cpu (numpy, the default), cuda or cuda:N "
        "(CuPy), or an installed array-API library such as array_api_strict",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=common.RESULTS / "step.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, write JSON and PNG beside ``--out``, print the table."""
    args = parse_args(argv)
    if namespace_for_device(args.device) is NUMPY:  # DeviceError for an unknown device
        args.device = "cpu"  # "cpu:0" too
    if args.memory and args.device != "cpu":
        raise ArgumentError("--memory measures numpy's buffers (tracemalloc): leave out --device")
    settings = dict(QUICK if args.quick else FULL)
    settings["rounds"] = args.rounds or settings["rounds"]
    settings["device"] = args.device
    wanted = () if args.no_extras else tuple(extras.CONTENDERS)
    names = [name for name in wanted if extras.available(name)]
    notes = [
        f"{name} is not installed: its column is skipped" for name in wanted if name not in names
    ]
    notes += [
        f"{name} is timed in its own block, not interleaved"
        for name in names
        if name in extras.ISOLATED
    ]
    notes += [device_note(args.device, names)]
    peak_n = 256 if args.quick else 1024
    peaks = {np.dtype(d).name: common.gemm_peak(d, peak_n) for d in DTYPES}
    machine = common.machine_info()
    results = [
        run_config(h, b, d, settings, names)
        for d in DTYPES
        for h in settings["hidden"]
        for b in settings["batch"]
    ]
    # measured again after the run, keeping the better: a burst of load during one
    # measurement must not make every step look faster than the machine's peak
    peaks = {d: max(p, common.gemm_peak(np.dtype(d).type, peak_n)) for d, p in peaks.items()}
    payload = {
        "benchmark": "step",
        "machine": machine | {"load_average_after": common.machine_info()["load_average"]},
        "settings": {
            **settings,
            "lr": LR,
            "quick": args.quick,
            "contenders": ["manual", "ours", *(["jit"] if args.device == "cpu" else []), *names],
            "torch_device": extras.torch_device(args.device) if "torch" in names else None,
        },
        "notes": notes,
        "gemm_peak_gflops": peaks,
        "results": results,
    }
    if args.memory:
        payload["memory"] = memory.report(settings["hidden"], settings["batch"], DTYPES)
    common.write_json(args.out, payload)
    plot(results, args.out.with_suffix(".png"))
    print(table(results, peaks, names, args.device))
    print(*notes, sep="\n")
    if args.memory:
        print(memory.table(payload["memory"]))
    return payload


def device_note(device: str, names: Sequence[str]) -> str:
    """The line saying where each column ran."""
    where = f"ours on {device}, manual on cpu (numpy)"
    if "torch" in names:
        where += f", torch on {extras.torch_device(device)}"
    return "devices: " + where + ("" if device == "cpu" else "; jit left out (numpy only)")


if __name__ == "__main__":
    main()
