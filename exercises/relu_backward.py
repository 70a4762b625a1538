"""Exercise 4: ReLU's backward pass.

relu(x) = max(x, 0), elementwise, for x of any shape. Given dout = dL/d(relu(x)), of x's
shape, return dL/dx. (At x = 0 exactly, use a derivative of 0, as PyTorch does.)

Grade: python -m tinygrad_hw.grade exercises/relu_backward.py
"""

import numpy as np


def relu_backward(x: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """dL/dx of relu(x), given dout = dL/d(relu(x))."""
    raise NotImplementedError("exercise 4: write dx")
