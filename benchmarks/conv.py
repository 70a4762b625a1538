"""Convolutions: tinygrad_hw's conv2d against a hand-written im2col, and a LeNet training step
against PyTorch eager on the CPU, in the same process.

    python -m benchmarks.conv [--quick] [--rounds R] [--out benchmarks/results/conv.json]

1. conv2d forward + backward (dx, dw, db) on LeNet's two convolutions at batch 128, against
   ``benchmarks.manual_conv`` (im2col by sliding_window_view, one GEMM each way). Goal (issue
   10): ours / manual <= 1.1.
2. One LeNet step (forward, mean cross-entropy, backward, Adam) at batch 32, 128 and 512
   against the same net in PyTorch from the same weights (skipped without torch). Goal:
   ours / torch <= 1.5.

Each pair is first checked to give the same values and gradients, then timed interleaved
(median over rounds, see common.py). Run on an idle machine.
"""

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import common
from benchmarks.manual_conv import conv2d_backward, conv2d_forward
from models.lenet import LeNet
from tinygrad_hw import Tensor, optim
from tinygrad_hw.nn import functional as F

# (name, input shape without the batch, weight shape, padding): LeNet's two convolutions
CONVS = (("conv1 1->6 28x28 pad 2", (1, 28, 28), (6, 1, 5, 5), 2),
         ("conv2 6->16 14x14", (6, 14, 14), (16, 6, 5, 5), 0))  # fmt: skip
FULL = {"conv_batch": 128, "step_batch": (32, 128, 512), "rounds": 15, "seconds": 0.1}
QUICK = {"conv_batch": 4, "step_batch": (8,), "rounds": 2, "seconds": 0.0}
CONV_TARGET, STEP_TARGET = 1.1, 1.5
LR = 1e-3


def conv_contenders(
    batch: int, in_shape: tuple, w_shape: tuple, padding: int, seed: int = 0
) -> dict[str, Callable[[], Any]]:
    """ours and manual conv2d forward+backward on the same arrays, after a parity check."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *in_shape)).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.2).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    out, _ = conv2d_forward(x, w, b, padding)
    g = rng.standard_normal(out.shape).astype(np.float32)
    tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))

    def ours() -> tuple[np.ndarray, ...]:
        tx.grad = tw.grad = tb.grad = None
        y = F.conv2d(tx, tw, tb, padding=padding)
        y.backward(g)
        return y.data, tx.grad, tw.grad, tb.grad

    def manual() -> tuple[np.ndarray, ...]:
        y, state = conv2d_forward(x, w, b, padding)
        return (y, *conv2d_backward(g, w, state))

    mine, theirs = ours(), manual()
    tol = common.parity_tolerance(np.float32)
    for name, a, e in zip(("out", "dx", "dw", "db"), mine, theirs, strict=True):
        error = common.max_relative_error(a, e.astype(np.float64))
        if a.dtype != np.float32 or error > tol:
            raise AssertionError(f"conv2d {name}: {a.dtype}, differs from manual by {error:.3g}")
    return {"ours": ours, "manual": manual}


def lenet_contenders(batch: int, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """One LeNet Adam step, ours and (when installed) PyTorch's, from the same weights."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    model = LeNet(rng=seed)
    opt = optim.Adam(model.parameters(), lr=LR)

    def ours() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    contenders: dict[str, Callable[[], Any]] = {"ours": ours}
    try:
        import torch
    except ImportError:
        return contenders
    net, torch_opt = torch_lenet(model, torch)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step() -> float:
        torch_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(tx), ty)
        loss.backward()
        torch_opt.step()
        return loss.item()

    check_lenet_parity(model, x, y, net, tx, ty, torch)
    contenders["torch"] = torch_step
    return contenders


def torch_lenet(model: LeNet, torch: Any) -> tuple[Any, Any]:
    """The same net in PyTorch with ``model``'s weights (Linear weights transposed: ours are
    (in, out), PyTorch's (out, in))."""
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    ours = [model.conv1, model.conv2, model.fc1, model.fc2, model.fc3]
    theirs = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        for mine, layer in zip(ours, theirs, strict=True):
            weight = mine.weight.data if mine.weight.ndim == 4 else mine.weight.data.T
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            layer.bias.copy_(torch.from_numpy(mine.bias.data))
    return net, torch.optim.Adam(net.parameters(), lr=LR)


def check_lenet_parity(model: LeNet, x, y, net, tx, ty, torch: Any) -> None:
    """Same loss and gradients from the same weights, before any timing."""
    for p in model.parameters():
        p.grad = None
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    net.zero_grad()
    ref = torch.nn.functional.cross_entropy(net(tx), ty)
    ref.backward()
    tol = common.parity_tolerance(np.float32)
    if abs(loss.item() - ref.item()) > tol * max(1.0, abs(ref.item())):
        raise AssertionError(f"LeNet loss {loss.item()} != torch {ref.item()}")
    layers = [m for m in net if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    mine = [model.conv1, model.conv2, model.fc1, model.fc2, model.fc3]
    for ours, layer in zip(mine, layers, strict=True):
        dw = ours.weight.grad if ours.weight.ndim == 4 else ours.weight.grad.T
        for name, a, e in (
            ("weight", dw, layer.weight.grad),
            ("bias", ours.bias.grad, layer.bias.grad),
        ):
            error = common.max_relative_error(a, e.numpy().astype(np.float64))
            if error > tol:
                raise AssertionError(f"LeNet {name} gradient differs from torch by {error:.3g}")
    for p in model.parameters():
        p.grad = None


def record(bench: str, case: str, batch: int, timings: dict, against: str, target: float):
    """One row of the results: the median ratio ours / ``against`` and whether it meets the goal
    (None when ``against`` was not measured, e.g. torch not installed)."""
    ratio = None
    if against in timings:
        ratio = timings["ours"]["median_s"] / timings[against]["median_s"]
    meets = None if ratio is None else ratio <= target
    return {"bench": bench, "case": case, "batch": batch, "timings": timings, "ratio": ratio,
            "against": against, "target": target, "meets": meets}  # fmt: skip


def run(settings: dict[str, Any]) -> dict[str, Any]:
    rounds, seconds, batch = settings["rounds"], settings["seconds"], settings["conv_batch"]
    records = []
    for name, in_shape, w_shape, padding in CONVS:
        contenders = conv_contenders(batch, in_shape, w_shape, padding)
        timings = common.interleaved(contenders, rounds, seconds)
        records.append(record("conv2d fwd+bwd", name, batch, timings, "manual", CONV_TARGET))
    for step_batch in settings["step_batch"]:
        timings = common.interleaved(lenet_contenders(step_batch), rounds, seconds)
        records.append(
            record("LeNet step (Adam)", "lenet", step_batch, timings, "torch", STEP_TARGET)
        )
    return {"machine": common.machine_info(), "records": records}


def table(result: dict[str, Any]) -> str:
    header = ["benchmark", "case", "batch", "ours ms", "against", "their ms", "ratio", "goal"]
    rows = []
    for r in result["records"]:
        other = r["timings"].get(r["against"])
        rows.append([
            r["bench"], r["case"], r["batch"], r["timings"]["ours"]["median_s"] * 1e3,
            r["against"], "-" if other is None else other["median_s"] * 1e3,
            "-" if r["ratio"] is None else r["ratio"], f"<= {r['target']}",
        ])  # fmt: skip
    return common.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds (a smoke test)")
    parser.add_argument("--rounds", type=int, help="timing rounds (default 15, quick 2)")
    parser.add_argument("--out", type=Path, default=common.RESULTS / "conv.json")
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.rounds:
        settings["rounds"] = args.rounds
    result = run(settings)
    common.write_json(args.out, result)
    print(table(result))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
