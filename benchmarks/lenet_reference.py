"""PyTorch's reference for ``python -m models run lenet``: the same net, data, batches of 64,
Adam lr 1e-3 and epochs, trained by PyTorch eager on the CPU (its default initialisation).

    python -m benchmarks.lenet_reference [--data mnist5k|mnist|fashion] [--epochs 10] [--seed 0]

Prints the test accuracy after each epoch and the seconds taken; README's LeNet table quotes it.
Needs torch (``pip install torch==2.13.0``); the library does not.
"""

import argparse
import time

import numpy as np

from tinygrad_hw.data import minibatches
from tinygrad_hw.datasets import load_dataset


def lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def accuracy(torch, net, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        logits = torch.cat([net(torch.from_numpy(x[i : i + 5000])) for i in range(0, len(x), 5000)])
    return float((logits.argmax(1).numpy() == y).mean())


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="mnist5k")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.data)
    x_train, x_test = (a.reshape(-1, 1, 28, 28) for a in (x_train, x_test))
    net = lenet(torch)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    order = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        for xb, yb in minibatches(x_train, y_train, 64, shuffle=True, seed=order):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                net(torch.from_numpy(xb)), torch.from_numpy(yb)
            )
            loss.backward()
            opt.step()
        test = accuracy(torch, net, x_test, y_test)
        print(f"epoch {epoch}: test acc {test:.4f}  {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
