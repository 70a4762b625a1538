"""Reference solutions of exercises/ (kept here, not in exercises/), and the classic wrong
ones, each written the way a student would get it wrong. tests/test_grade.py grades them."""

import numpy as np


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# --------------------------------------------------------------------------- right


def softmax_cross_entropy_grad(logits, labels):
    return (_softmax(logits) - _one_hot(labels, logits.shape[1])) / len(labels)


def sigmoid_bce_grad(z, t):
    return (_sigmoid(z) - t) / len(z)


def linear_backward(x, w, b, dout):
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_backward(x, dout):
    return dout * (x > 0)


def mlp_backward(x, labels, params, lam):
    a1 = x @ params["W1"] + params["b1"]
    h = np.maximum(a1, 0)
    z2 = h @ params["W2"] + params["b2"]
    dz2 = (_softmax(z2) - _one_hot(labels, z2.shape[1])) / len(x)
    dh = dz2 @ params["W2"].T
    da1 = dh * (a1 > 0)
    return {
        "z2": dz2, "h": dh, "a1": da1,
        "W1": x.T @ da1 + 2 * lam * params["W1"], "b1": da1.sum(axis=0),
        "W2": h.T @ dz2 + 2 * lam * params["W2"], "b2": dz2.sum(axis=0),
    }  # fmt: skip


def adam_step(w, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def logistic_regression_step(x, t, w, b, lam, lr):
    residual = (_sigmoid(x @ w + b) - t) / len(t)
    return w - lr * (x.T @ residual + lam * w), b - lr * residual.sum()


RIGHT = {
    "softmax_cross_entropy": softmax_cross_entropy_grad,
    "sigmoid_bce": sigmoid_bce_grad,
    "linear_backward": linear_backward,
    "relu_backward": relu_backward,
    "mlp_backward": mlp_backward,
    "adam": adam_step,
    "seed002_logistic": logistic_regression_step,
}


# --------------------------------------------------------------------------- wrong


def softmax_ce_sign_flipped(logits, labels):  # seed 003: y - p
    return -softmax_cross_entropy_grad(logits, labels)


def softmax_ce_missing_1_over_n(logits, labels):
    return _softmax(logits) - _one_hot(labels, logits.shape[1])


def softmax_ce_jacobian_on_top(logits, labels):
    """Seed 000: the softmax Jacobian (diag(p) - p p^T) applied on top of p - y."""
    p = _softmax(logits)
    shortcut = softmax_cross_entropy_grad(logits, labels)
    return np.einsum("nij,nj->ni", np.einsum("ni,ij->nij", p, np.eye(p.shape[1]))
                     - np.einsum("ni,nj->nij", p, p), shortcut)  # fmt: skip


def sigmoid_bce_derivative_twice(z, t):
    s = _sigmoid(z)
    return (s - t) * s * (1 - s) / len(z)


def linear_unsummed_bias(x, w, b, dout):
    return dout @ w.T, x.T @ dout, dout


def linear_transposed_weight(x, w, b, dout):
    return dout @ w.T, dout.T @ x, dout.sum(axis=0)


def relu_missing_mask(x, dout):
    return dout


def mlp_missing_relu_mask(x, labels, params, lam):
    grads = mlp_backward(x, labels, params, lam)
    da1 = grads["h"]  # dL/dh passed through as if relu' were 1 everywhere
    return {**grads, "a1": da1, "W1": x.T @ da1 + 2 * lam * params["W1"], "b1": da1.sum(axis=0)}


def mlp_missing_1_over_n(x, labels, params, lam):
    a1 = x @ params["W1"] + params["b1"]
    h = np.maximum(a1, 0)
    z2 = h @ params["W2"] + params["b2"]
    dz2 = _softmax(z2) - _one_hot(labels, z2.shape[1])  # no / N
    dh = dz2 @ params["W2"].T
    da1 = dh * (a1 > 0)
    return {
        "z2": dz2, "h": dh, "a1": da1,
        "W1": x.T @ da1 + 2 * lam * params["W1"], "b1": da1.sum(axis=0),
        "W2": h.T @ dz2 + 2 * lam * params["W2"], "b2": dz2.sum(axis=0),
    }  # fmt: skip


def mlp_lambda_not_2_lambda(x, labels, params, lam):
    grads = mlp_backward(x, labels, params, lam)
    return {**grads, "W1": grads["W1"] - lam * params["W1"], "W2": grads["W2"] - lam * params["W2"]}


def mlp_unsummed_bias(x, labels, params, lam):
    grads = mlp_backward(x, labels, params, lam)
    return {**grads, "b1": grads["a1"]}


def adam_without_bias_correction(w, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * m / (np.sqrt(v) + eps), m, v


def adam_ascent(w, g, m, v, t, lr, beta1, beta2, eps):
    w_new, m, v = adam_step(w, g, m, v, t, lr, beta1, beta2, eps)
    return 2 * w - w_new, m, v


def logistic_seed002(x, t, w, b, lam, lr):
    """Seed 002: dC/dw_i = x_i C (1 - C), C the per-sample loss, instead of (yhat - y) x_i."""
    yhat = _sigmoid(x @ w + b)
    c = -(t * np.log(yhat) + (1 - t) * np.log(1 - yhat))
    residual = c * (1 - c) / len(t)
    return w - lr * (x.T @ residual + lam * w), b - lr * residual.sum()


def logistic_ascent(x, t, w, b, lam, lr):
    residual = (_sigmoid(x @ w + b) - t) / len(t)
    return w + lr * (x.T @ residual + lam * w), b + lr * residual.sum()
