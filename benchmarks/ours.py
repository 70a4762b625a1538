"""The same MLP training step written with tinygrad_hw, as a user writes it: nn.MLP,
nn.functional.cross_entropy, an optimizer from tinygrad_hw.optim, loss.backward().

``build_model`` copies the weights of a :class:`benchmarks.manual.ManualMLP` into the model,
so that both start from the same arrays and a parity check can compare them exactly.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.manual import ManualMLP
from tinygrad_hw import Tensor, nn, optim
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops.devices import to_host


def build_model(manual: ManualMLP, device: str = "cpu") -> nn.MLP:
    """An nn.MLP of the same sizes, activation and dtype holding copies of ``manual``'s
    arrays (loaded by name, so a change in the parameter order would fail loudly), on
    ``device`` ("cpu": numpy; "cuda", "array_api_strict", ...: moved there, Module.to)."""
    sizes = [w.shape[0] for w in manual.weights] + [manual.weights[-1].shape[1]]
    model = nn.MLP(sizes, activation=manual.activation, dtype=manual.weights[0].dtype, rng=0)
    names = [name for name, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, manual.params, strict=True)))
    return model if device == "cpu" else model.to(device)


def weights_of(model: nn.Module) -> list[Tensor]:
    """The weight matrices (not the biases): what the seed reports' L2 penalty covers."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def loss_of(
    model: nn.Module, x: np.ndarray, labels: np.ndarray, reduction: str = "mean", l2: float = 0.0
) -> Tensor:
    """Softmax cross-entropy of the model's logits, plus ``l2 * sum W^2`` when l2 > 0."""
    loss = F.cross_entropy(model(Tensor(x)), labels, reduction=reduction)
    if l2:
        loss = loss + F.l2_penalty(weights_of(model), l2)
    return loss


def loss_and_grads(
    model: nn.Module, x: np.ndarray, labels: np.ndarray, reduction: str = "mean", l2: float = 0.0
) -> tuple[float, list[np.ndarray]]:
    """The loss and d(loss)/d(parameter) for every parameter, by the tape (as numpy arrays,
    from whichever device the model is on)."""
    model.zero_grad()
    loss = loss_of(model, x, labels, reduction, l2)
    loss.backward()
    return loss.item(), [to_host(p.grad) for p in model.parameters()]


def make_optimizer(model: nn.Module, name: str, lr: float) -> Any:
    """optim.SGD (plain, no momentum) or optim.Adam with the default betas and eps."""
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=lr)
    return optim.Adam(model.parameters(), lr=lr)


def train_step(
    model: nn.Module, optimizer: Any, reduction: str = "mean", l2: float = 0.0
) -> Callable[[np.ndarray, np.ndarray], float]:
    """A function (x, labels) -> loss doing one full step: zero_grad, forward, backward,
    update."""

    def step(x: np.ndarray, labels: np.ndarray) -> float:
        optimizer.zero_grad()
        loss = loss_of(model, x, labels, reduction, l2)
        loss.backward()
        optimizer.step()
        return loss.data

    return step
