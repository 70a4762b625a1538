"""A tiny demo: a 2-16-1 MLP learns XOR-like blobs; its gradients are confirmed by gradcheck."""

import numpy as np

import tinygrad_hw as tg
from tinygrad_hw import Tensor


def make_blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points in four Gaussian blobs; label 1 in the top-right and bottom-left ones (XOR)."""
    centers = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    which = rng.integers(0, 4, size=n)
    x = centers[which] + 0.3 * rng.standard_normal((n, 2))
    return x, (which < 2).astype(float)


def run(steps: int = 300, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    x, y = make_blobs(256, rng)
    w1 = Tensor(rng.standard_normal((2, 16)) * 0.5, requires_grad=True)
    b1 = Tensor(np.zeros(16), requires_grad=True)
    w2 = Tensor(rng.standard_normal((16, 1)) * 0.5, requires_grad=True)
    b2 = Tensor(np.zeros(1), requires_grad=True)

    def loss_fn(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
        p = ((Tensor(x) @ w1 + b1).tanh() @ w2 + b2).sigmoid().reshape(-1)
        return -(y * (p + 1e-12).log() + (1 - y) * (1 - p + 1e-12).log()).mean()

    tg.gradcheck(loss_fn, w1, b1, w2, b2)
    print("gradcheck: tape gradients match finite differences for w1, b1, w2, b2")
    losses = []
    for step in range(steps):
        loss = loss_fn(w1, b1, w2, b2)
        for p in (w1, b1, w2, b2):
            p.grad = None
        loss.backward()
        for p in (w1, b1, w2, b2):
            p.data -= 0.5 * p.grad
        losses.append(loss.item())
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    return losses


if __name__ == "__main__":
    run()
