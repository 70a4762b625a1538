"""Exercise 5: the full backward pass of a two-layer MLP with L2 regularisation.

x of shape (N, D), integer labels of shape (N,) in [0, K), and params, a dict of arrays
W1 (D, H), b1 (H,), W2 (H, K), b2 (K,). The forward pass and the loss:

    a1 = x @ W1 + b1            (N, H)   pre-activation
    h  = relu(a1)               (N, H)
    z2 = h @ W2 + b2            (N, K)   logits
    L  = mean softmax cross-entropy of z2 against the labels
         + lam * (sum of W1**2 + sum of W2**2)       (the biases are not penalised)

Return a dict holding dL/d(each of) "z2", "h", "a1" (the backward pass, layer by layer) and
"W1", "b1", "W2", "b2". The grader checks them from the loss down, so it can tell you the
first layer where your backward pass goes wrong.

Grade: python -m tinygrad_hw.grade exercises/mlp_backward.py
"""

import numpy as np


def mlp_backward(
    x: np.ndarray, labels: np.ndarray, params: dict[str, np.ndarray], lam: float
) -> dict[str, np.ndarray]:
    """dL/d of z2, h, a1, W1, b1, W2, b2 for the loss above."""
    raise NotImplementedError("exercise 5: the forward pass, then the backward pass")
