"""Exercise 3: a Linear layer's backward pass.

The layer computes out = x @ w + b for x of shape (N, D), w of shape (D, M), b of shape (M,)
(added to every row). Given dout = dL/d(out), shape (N, M), return the tuple

    (dL/dx, dL/dw, dL/db)   of shapes (N, D), (D, M), (M,)

Each gradient has the shape of what it is the gradient of.

Grade: python -m tinygrad_hw.grade exercises/linear_backward.py
"""

import numpy as np


def linear_backward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of out = x @ w + b, given dout = dL/d(out)."""
    raise NotImplementedError("exercise 3: write dx, dw, db")
