"""Exercise 1: the gradient of softmax cross-entropy.

Logits z of shape (N, K), integer labels y of shape (N,) with values in [0, K). The loss is
the mean over the batch of the cross-entropy of the softmax:

    p_n = softmax(z_n),  p_nk = exp(z_nk) / sum_j exp(z_nj)
    L = -(1/N) sum_n log p_n[y_n]

Return dL/dz, an array of shape (N, K). Derive it on paper first: softmax's Jacobian and the
log's derivative combine into something short.

Grade: python -m tinygrad_hw.grade exercises/softmax_cross_entropy.py
"""

import numpy as np


def softmax_cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """dL/d(logits) of the mean softmax cross-entropy, shape (N, K)."""
    raise NotImplementedError("exercise 1: write dL/dz")
