"""Adam (L2 decay folded into the gradient) and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_hw.errors import DTypeError
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.ops.namespace import NUMPY
from tinygrad_hw.optim.base import Optimizer, Scalar, check_number
from tinygrad_hw.tensor import Tensor

_SMALLEST_NORMAL = {
    np.dtype(t): np.finfo(t).smallest_normal
    for t in (np.float16, np.float32, np.float64, np.longdouble)
}


_DEVICE_SMALLEST_NORMAL: dict[np.dtype, float] = {}  # as Python floats, by numpy's dtype


def _smallest_normal(xp: Any, dtype: Any) -> float:
    """The smallest normal number of another library's dtype object as a Python float (the
    standard adds no numpy scalar to an array), remembered under its numpy twin: the keys
    stay numpy's, as array-api-strict warns when its dtype objects are compared with numpy's."""
    key = xp.numpy_dtype(dtype)
    if key not in _DEVICE_SMALLEST_NORMAL:
        _DEVICE_SMALLEST_NORMAL[key] = float(xp.finfo(dtype).smallest_normal)
    return _DEVICE_SMALLEST_NORMAL[key]


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), per parameter at its t-th update:

        d = g + weight_decay * w                      (coupled L2, as in the paper's variant)
        m = beta1 m + (1 - beta1) d,   v = beta2 v + (1 - beta2) d^2
        m_hat = m / (1 - beta1^t),     v_hat = v / (1 - beta2^t)    (bias correction)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at 0; t counts the steps in which this parameter had a gradient. The eps
    added is at least the smallest normal number of the parameter's dtype (6.1e-5 for
    float16, where the default 1e-8 rounds to 0; 1.2e-38 for float32), so that a zero
    gradient moves nothing instead of making 0/0 = NaN, with eps=0 too. Extra
    memory: m and v per parameter plus two scratch arrays the size of the largest parameter.
    """

    buffer_names = ("m", "v")
    scratch_count = 2

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        beta1, beta2 = _pair(type(self).__name__, betas)
        self._set_hyperparameters(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
        super().__init__(params, lr)

    @property
    def betas(self) -> tuple[float, float]:
        return self.beta1, self.beta2

    def hyperparameters(self) -> dict[str, Scalar]:
        return {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def _set_hyperparameters(
        self, beta1: float, beta2: float, eps: float, weight_decay: float
    ) -> None:
        name = type(self).__name__
        beta1 = check_number(name, "betas[0]", beta1, upper=1.0)
        beta2 = check_number(name, "betas[1]", beta2, upper=1.0)
        eps = check_number(name, "eps", eps)
        weight_decay = check_number(name, "weight_decay", weight_decay)
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay

    def _decayed_gradient(
        self, xp: Any, w: np.ndarray, g: np.ndarray, work: np.ndarray
    ) -> np.ndarray:
        """Adam's coupled L2: d = g + weight_decay * w (written into ``work``)."""
        if not self.weight_decay:
            return g
        xp.multiply(w, self.weight_decay, out=work)
        work += g
        return work

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        host = type(w) is np.ndarray
        xp = NUMPY if host else namespace_of(w)
        work, tmp = self._scratch[i]
        m, v = self.state[i]["m"], self.state[i]["v"]
        t = self.updates[i]
        d = self._decayed_gradient(xp, w, g, work)
        m *= self.beta1
        xp.multiply(d, 1.0 - self.beta1, out=tmp)
        m += tmp  # m = beta1 m + (1 - beta1) d
        v *= self.beta2
        xp.multiply(d, 1.0 - self.beta2, out=tmp)
        tmp *= d  # ((1 - beta2) d) d, PyTorch's order: in float16 d^2 overflows for |d| > 256
        v += tmp  # v = beta2 v + (1 - beta2) d^2
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1.0 - self.beta2**t)
        tiny = _SMALLEST_NORMAL[w.dtype] if host else _smallest_normal(xp, w.dtype)
        tmp += max(self.eps, tiny)  # sqrt(v_hat) + eps, eps != 0
        xp.divide(m, tmp, out=tmp)
        tmp *= self._lr / (1.0 - self.beta1**t)  # lr * m_hat / (sqrt(v_hat) + eps)
        w -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): before the Adam step,

        w <- w * (1 - lr * weight_decay)

    and the gradient itself is not changed, so the decay is not rescaled by 1/sqrt(v_hat)
    (which with coupled L2 makes parameters with large gradients decay less).
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def _decayed_gradient(
        self, xp: Any, w: np.ndarray, g: np.ndarray, work: np.ndarray
    ) -> np.ndarray:
        if self.weight_decay:
            w *= 1.0 - self._lr * self.weight_decay
        return g


def _pair(owner: str, betas: Any) -> tuple[Any, Any]:
    if isinstance(betas, str | bytes):
        raise DTypeError(f"{owner}: betas must be a pair of numbers, got {betas!r:.60}")
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise DTypeError(
            f"{owner}: betas must be a pair (beta1, beta2), got {betas!r:.60}"
        ) from None
    return beta1, beta2
