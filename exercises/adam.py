"""Exercise 6: one Adam update (Kingma & Ba, 2015).

For one parameter w with gradient g, first moment m, second moment v (all of w's shape), the
step number t (1 for the first update, t already counted for this one) and the
hyperparameters lr, beta1, beta2, eps: update m and v, correct their bias, and step w.
Return the new (w, m, v); do not change the arrays you were given.

Grade: python -m tinygrad_hw.grade exercises/adam.py
"""

import numpy as np


def adam_step(
    w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
    lr: float, beta1: float, beta2: float, eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(w_new, m_new, v_new) after one Adam update at step t."""
    raise NotImplementedError("exercise 6: the Adam update")
