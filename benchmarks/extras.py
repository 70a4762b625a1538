"""Optional contenders: PyTorch eager (on the CPU, or on CUDA when asked for and torch has
it) and HIPS autograd, when they are installed.

Neither is a dependency of the library or of its tests; each factory returns None when its
package cannot be imported, and the benchmark prints a note and leaves that column empty.
Both do exactly the manual step: x W1 + b1, ReLU/sigmoid, x W2 + b2, mean softmax
cross-entropy on integer labels, plain SGD.
"""

import importlib.util
from collections.abc import Callable

import numpy as np

from benchmarks.manual import ManualMLP

Step = Callable[[np.ndarray, np.ndarray], float]
LossAndGrads = Callable[[np.ndarray, np.ndarray], tuple[float, list[np.ndarray]]]


def available(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def torch_device(device: str) -> str:
    """Where PyTorch runs for ``--device device``: CUDA when device is "cuda"/"cuda:N" and
    this torch has CUDA, else the CPU (the hand-written numpy column's device)."""
    if device.split(":")[0] != "cuda" or not available("torch"):
        return "cpu"
    import torch

    return device if torch.cuda.is_available() else "cpu"


def torch_contender(
    manual: ManualMLP, lr: float, device: str = "cpu"
) -> tuple[Step, LossAndGrads] | None:
    """PyTorch eager: leaf tensors made from copies of the manual arrays, torch.optim.SGD, on
    ``device`` (torch's name: "cpu", "cuda:0"). On CUDA the batch is copied there once and
    each step ends with ``loss.item()``, which waits for the GPU, so a step's time is its
    work and not only its launch."""
    if not available("torch"):
        return None
    import torch
    import torch.nn.functional as torch_f

    on_gpu = device != "cpu"
    params = [torch.tensor(p.copy(), requires_grad=True, device=device) for p in manual.params]
    activation = torch.relu if manual.activation == "relu" else torch.sigmoid
    optimizer = torch.optim.SGD(params, lr=lr)

    batches: dict[int, tuple] = {}  # on CUDA: the batch copied there once, by host array

    def on_device(x: np.ndarray, labels: np.ndarray) -> tuple:
        if not on_gpu:
            return torch.from_numpy(x), torch.from_numpy(labels)
        if id(x) not in batches:
            batches[id(x)] = (
                x,
                torch.from_numpy(x).to(device),
                torch.from_numpy(labels).to(device),
            )
        return batches[id(x)][1:]

    def loss_of(x: np.ndarray, labels: np.ndarray) -> "torch.Tensor":
        h, targets = on_device(x, labels)
        for layer in range(0, len(params), 2):
            h = h @ params[layer] + params[layer + 1]
            if layer + 2 < len(params):
                h = activation(h)
        return torch_f.cross_entropy(h, targets)

    def step(x: np.ndarray, labels: np.ndarray) -> float:
        optimizer.zero_grad()
        loss = loss_of(x, labels)
        loss.backward()
        optimizer.step()
        return loss.item() if on_gpu else loss.detach()

    def loss_and_grads(x: np.ndarray, labels: np.ndarray) -> tuple[float, list[np.ndarray]]:
        optimizer.zero_grad()
        loss = loss_of(x, labels)
        loss.backward()
        return loss.item(), [p.grad.cpu().numpy() for p in params]

    return step, loss_and_grads


def autograd_contender(manual: ManualMLP, lr: float) -> tuple[Step, LossAndGrads] | None:
    """HIPS autograd: value_and_grad of a loss written in autograd.numpy; in-place update."""
    if not available("autograd"):
        return None
    import autograd
    import autograd.numpy as anp

    params = [p.copy() for p in manual.params]
    relu = manual.activation == "relu"

    def loss_of(weights: list, x: np.ndarray, labels: np.ndarray):
        h = x
        for layer in range(0, len(weights), 2):
            h = anp.dot(h, weights[layer]) + weights[layer + 1]
            if layer + 2 < len(weights):
                h = anp.maximum(h, 0) if relu else 0.5 * (anp.tanh(0.5 * h) + 1)  # sigmoid
        shifted = h - anp.max(h, axis=1, keepdims=True)
        log_total = anp.log(anp.sum(anp.exp(shifted), axis=1))
        return anp.mean(log_total - shifted[np.arange(len(labels)), labels])

    value_and_grad = autograd.value_and_grad(loss_of)

    def step(x: np.ndarray, labels: np.ndarray) -> float:
        loss, grads = value_and_grad(params, x, labels)
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
        return loss

    def loss_and_grads(x: np.ndarray, labels: np.ndarray) -> tuple[float, list[np.ndarray]]:
        loss, grads = value_and_grad(params, x, labels)
        return float(loss), list(grads)

    return step, loss_and_grads


CONTENDERS = {"torch": torch_contender, "autograd": autograd_contender}
# Timed in a block of their own, not interleaved: PyTorch's OpenMP threads and numpy's
# OpenBLAS threads each spin for a while after their work, and on a 2-core machine the two
# pools interleaved slow each other down (manual numpy by 1.3-1.8x at batch 32-128).
ISOLATED = ("torch",)
