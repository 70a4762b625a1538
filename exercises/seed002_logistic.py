"""Exercise 7: one gradient-descent step of seed report 002's logistic regression.

x of shape (N, D), targets t of shape (N,) in {0, 1}, weights w of shape (D,), a bias b (a
float), the L2 strength lam and the learning rate lr. The model and the objective:

    yhat_n = sigmoid(x_n . w + b)
    J(w, b) = -(1/N) sum_n [ t_n log yhat_n + (1 - t_n) log(1 - yhat_n) ] + (lam / 2) ||w||^2

(the bias is not penalised). Return (w_new, b_new) after one step of gradient descent,
w_new = w - lr dJ/dw. Seed report 002 wrote dC/dw_i = x_i C (1 - C), with C the loss: check
your derivation against the grader before you trust it.

Grade: python -m tinygrad_hw.grade exercises/seed002_logistic.py
"""

import numpy as np


def logistic_regression_step(
    x: np.ndarray, t: np.ndarray, w: np.ndarray, b: float, lam: float, lr: float
) -> tuple[np.ndarray, float]:
    """(w_new, b_new) after one gradient-descent step on J."""
    raise NotImplementedError("exercise 7: one gradient-descent step")
