"""Memory of a training step (tracemalloc): peak bytes, ours against manual, and what the
optimizers allocate per step.

numpy reports its array buffers to tracemalloc, so the traced peak covers every array the
step holds at once: parameters, optimizer state, activations saved for the backward pass,
gradients, temporaries. The input batch is created before tracing starts and is not counted.
"""

import copy
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinygrad_hw
from benchmarks import common, ours
from benchmarks.manual import ManualAdam, ManualMLP, init_mlp, sgd_update

IN_FEATURES, CLASSES, LR = 784, 10, 1e-3


def traced(fn: Callable[[], Any]) -> tuple[int, int]:
    """(bytes still held after ``fn``, peak bytes during it), counted from zero at the call;
    tracemalloc must not be running already."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


def step_peak_bytes(build: Callable[[], Callable[[], Any]], warmup: int = 2) -> int:
    """Peak traced bytes of one step, the state built by ``build()`` (parameters, optimizer
    state, anything kept between steps) included: tracing starts before the build."""
    tracemalloc.start()
    try:
        step = build()
        for _ in range(warmup):
            step()
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _manual_builder(mlp: ManualMLP, x: np.ndarray, labels: np.ndarray) -> Callable:
    def build() -> Callable[[], Any]:
        own = copy.deepcopy(mlp)

        def step() -> None:
            _, grads = own.loss_and_grads(x, labels)
            sgd_update(own.params, grads, LR)

        return step

    return build


def _ours_builder(mlp: ManualMLP, x: np.ndarray, labels: np.ndarray) -> Callable:
    def build() -> Callable[[], Any]:
        model = ours.build_model(mlp)
        step = ours.train_step(model, ours.make_optimizer(model, "sgd", LR))
        return lambda: step(x, labels)

    return build


def _jit_builder(mlp: ManualMLP, x: np.ndarray, labels: np.ndarray) -> Callable:
    def build() -> Callable[[], Any]:
        model = ours.build_model(mlp)
        step = tinygrad_hw.jit(ours.train_step(model, ours.make_optimizer(model, "sgd", LR)))
        return lambda: step(x, labels)

    return build


def optimizer_allocations(name: str, mlp: ManualMLP, seed: int = 0) -> dict[str, int]:
    """Bytes one optimizer step allocates, tinygrad_hw's and the hand-written one: the peak of
    its temporaries and what it still holds afterwards. Gradients are random arrays set
    before tracing starts; the first step (which may create the state lazily) is not counted."""
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(p.shape).astype(p.dtype) for p in mlp.params]
    retained, peak = _ours_update_bytes(name, mlp, grads)
    manual_retained, manual_peak = _manual_update_bytes(name, mlp, grads)
    return {
        "ours_peak_bytes": peak,
        "ours_retained_bytes": retained,
        "manual_peak_bytes": manual_peak,
        "manual_retained_bytes": manual_retained,
        "params_bytes": sum(p.nbytes for p in mlp.params),
    }


def _ours_update_bytes(name: str, mlp: ManualMLP, grads: list[np.ndarray]) -> tuple[int, int]:
    model = ours.build_model(mlp)
    optimizer = ours.make_optimizer(model, name, LR)
    params = model.parameters()
    _set_grads(params, grads)
    optimizer.step()  # creates any lazy state
    _set_grads(params, grads)
    return traced(optimizer.step)


def _set_grads(params: list, grads: list[np.ndarray]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()


def _manual_update_bytes(name: str, mlp: ManualMLP, grads: list[np.ndarray]) -> tuple[int, int]:
    params = [p.copy() for p in mlp.params]
    if name == "sgd":
        scratch = [g.copy() for g in grads]
        return traced(lambda: sgd_update(params, scratch, LR))
    adam = ManualAdam(params, LR)
    adam.step([g.copy() for g in grads])
    scratch = [g.copy() for g in grads]
    return traced(lambda: adam.step(scratch))


def report(
    hidden: Sequence[int], batches: Sequence[int], dtypes: Sequence[type]
) -> dict[str, list[dict]]:
    """Peak memory of a step for each configuration, and the optimizers' allocations."""
    steps, optimizers = [], []
    for dtype in dtypes:
        for h in hidden:
            mlp = init_mlp([IN_FEATURES, h, CLASSES], "relu", dtype, seed=0)
            for name in ("sgd", "adam"):
                optimizers.append(
                    {"optimizer": name, "hidden": h, "dtype": np.dtype(dtype).name}
                    | optimizer_allocations(name, mlp)
                )
            for batch in batches:
                steps.append(_step_record(mlp, h, batch, dtype))
    return {"step_peak": steps, "optimizer_step": optimizers}


def _step_record(mlp: ManualMLP, hidden: int, batch: int, dtype: type) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x = rng.random((batch, IN_FEATURES)).astype(dtype)
    labels = rng.integers(0, CLASSES, size=batch)
    manual = step_peak_bytes(_manual_builder(mlp, x, labels))
    mine = step_peak_bytes(_ours_builder(mlp, x, labels))
    # warmup 3: the two recorded calls, then one replay, which frees the eager .grad arrays
    jitted = step_peak_bytes(_jit_builder(mlp, x, labels), warmup=3)
    return {
        "hidden": hidden,
        "batch": batch,
        "dtype": np.dtype(dtype).name,
        "manual_peak_bytes": manual,
        "ours_peak_bytes": mine,
        "ratio_ours_over_manual": mine / manual,
        "jit_peak_bytes": jitted,
        "ratio_jit_over_manual": jitted / manual,
    }


def table(memory: dict[str, list[dict]]) -> str:
    """Two markdown tables: the step peaks, then the optimizer allocations."""
    steps = [
        [
            *(r["hidden"], r["dtype"], r["batch"]),
            *(r[f"{name}_peak_bytes"] / 1024 for name in ("manual", "ours")),
            r["ratio_ours_over_manual"],
            r["jit_peak_bytes"] / 1024,
            r["ratio_jit_over_manual"],
        ]
        for r in memory["step_peak"]
    ]
    header = ["H", "dtype", "batch", "manual peak KiB", "ours peak KiB", "ours/manual"]
    header += ["jit peak KiB", "jit/manual"]
    optim = [
        [
            *(r["optimizer"], r["hidden"], r["dtype"]),
            *(r[key] / 1024 for key in ("params_bytes", "ours_peak_bytes", "ours_retained_bytes")),
            r["manual_peak_bytes"] / 1024,
        ]
        for r in memory["optimizer_step"]
    ]
    optim_header = ["optimizer", "H", "dtype", "params KiB", "ours step peak KiB"]
    optim_header += ["ours retained KiB", "manual peak KiB"]
    return (
        common.markdown_table(header, steps) + "\n\n" + common.markdown_table(optim_header, optim)
    )
