"""Exercise 2: the gradient of binary cross-entropy on a sigmoid.

Logits z of shape (N,), targets t of shape (N,) in {0, 1}. With s = sigmoid(z) = 1/(1 + e^-z),

    L = -(1/N) sum_n [ t_n log s_n + (1 - t_n) log(1 - s_n) ]

Return dL/dz, shape (N,). Hint: first write ds/dz in terms of s.

Grade: python -m tinygrad_hw.grade exercises/sigmoid_bce.py
"""

import numpy as np


def sigmoid_bce_grad(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dL/dz of the mean binary cross-entropy of sigmoid(z) against t, shape (N,)."""
    raise NotImplementedError("exercise 2: write dL/dz")
