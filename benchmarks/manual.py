"""Hand-written numpy backprop for the seed reports' MLPs: the baseline the tape is timed against.

This is what a careful student writes after deriving the gradients by hand (seed 004, fixed):

    z1 = x W1 + b1,  h = act(z1),  z2 = h W2 + b2,  p = softmax(z2)
    L  = mean_i -log p[i, y_i]  (+ l2 * sum ||W||^2)
    dz2 = (p - onehot(y)) / N            (the closed form, never the softmax Jacobian)
    dW2 = h^T dz2,  db2 = sum_i dz2,  dh = dz2 W2^T,  dz1 = dh * act'(z1)
    dW1 = x^T dz1,  db1 = sum_i dz1      (no gradient for the input x)

Labels are integer indices (no one-hot matrix), the softmax is shifted by the row maximum, the
update is in place, and every array keeps the parameters' dtype: Python scalars never upcast
a float32 array under numpy 2's promotion rules.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("relu", "sigmoid")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) as exp(-log(1 + e^-z)): finite for any z, and the formula the library
    uses, so that a ratio measures the tape and not two different sigmoids."""
    return np.exp(-np.logaddexp(0, -z))


@dataclass
class ManualMLP:
    """Weights ``W[l]`` of shape (fan_in, fan_out) and biases ``b[l]``: forward is x W + b."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str = "relu"
    _cache: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def params(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2, ...]: the order the tinygrad_hw model's parameters() use."""
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The logits; keeps the inputs of each layer for the backward pass."""
        self._cache = [x]
        h = x
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = h @ w
            z += b
            if layer == len(self.weights) - 1:
                return z
            h = np.maximum(z, 0) if self.activation == "relu" else sigmoid(z)
            self._cache.append(h)
        raise ValueError("an MLP needs at least one layer")

    def backward(self, dz: np.ndarray) -> list[np.ndarray]:
        """Gradients [dW1, db1, ...] from dL/dlogits, layer by layer from the top."""
        grads: list[np.ndarray] = []
        for layer in range(len(self.weights) - 1, -1, -1):
            h = self._cache[layer]
            grads[:0] = [h.T @ dz, dz.sum(axis=0)]
            if layer == 0:
                break  # no gradient for the input x
            dz = dz @ self.weights[layer].T
            if self.activation == "relu":
                dz *= h > 0  # h = relu(z) > 0 exactly where z > 0
            else:
                dz *= h * (1 - h)
        return grads

    def loss_and_grads(
        self, x: np.ndarray, labels: np.ndarray, reduction: str = "mean", l2: float = 0.0
    ) -> tuple[float, list[np.ndarray]]:
        """Softmax cross-entropy (mean or sum over rows) plus ``l2 * sum W^2``, and its
        gradients in the order of ``params``."""
        logits = self.forward(x)
        loss, dz = softmax_cross_entropy(logits, labels, reduction)
        grads = self.backward(dz)
        if l2:
            for w, dw in zip(self.weights, grads[::2], strict=True):
                loss += l2 * float(np.sum(w * w))
                dw += (2 * l2) * w
        return loss, grads


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, reduction: str = "mean"
) -> tuple[float, np.ndarray]:
    """-log softmax(z)[y] per row, reduced; and dL/dz = (softmax(z) - onehot(y)) * scale.

    -log p[y] = log sum_k e^(z_k - m) - (z_y - m) with m the row maximum: one exp serves both
    the loss and the gradient, and nothing overflows.
    """
    rows = np.arange(len(labels))
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    per_row = np.log(total[:, 0]) - shifted[rows, labels]
    scale = 1.0 / len(labels) if reduction == "mean" else 1.0
    loss = float(per_row.sum()) * scale
    dz = e
    dz /= total
    dz[rows, labels] -= 1
    if scale != 1.0:
        dz *= scale
    return loss, dz


def init_mlp(
    sizes: Sequence[int], activation: str = "relu", dtype: type = np.float32, seed: int = 0
) -> ManualMLP:
    """He-normal weights (std sqrt(2 / fan_in)) for ReLU, Glorot-uniform for sigmoid; zero
    biases: the contract's nn.Linear defaults, so both sides can start from the same arrays."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        if activation == "relu":
            w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, (fan_in, fan_out))
        weights.append(w.astype(dtype))
        biases.append(np.zeros(fan_out, dtype=dtype))
    return ManualMLP(weights, biases, activation)


def sgd_update(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], lr: float) -> None:
    """p <- p - lr * g, in place, so the arrays the model holds are updated."""
    for p, g in zip(params, grads, strict=True):
        g *= lr  # the gradient is ours to scale: no temporary the size of p
        p -= g


class ManualAdam:
    """Adam (Kingma & Ba 2015) by hand, as seed 000 wrote it inside its backward function.

    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)  with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
    """

    def __init__(
        self,
        params: Sequence[np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """One update of every parameter, in place; ``grads`` are consumed as scratch."""
        self.t += 1
        step_size = self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            g *= g
            v += (1 - self.beta2) * g
            np.sqrt(v, out=g)
            g += self.eps * np.sqrt(1 - self.beta2**self.t)  # eps on v_hat's scale
            np.divide(m, g, out=g)
            g *= step_size
            p -= g
