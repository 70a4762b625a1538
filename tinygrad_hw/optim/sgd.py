"""Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.ops.namespace import NUMPY
from tinygrad_hw.optim.base import Optimizer, Scalar, check_number
from tinygrad_hw.tensor import Tensor


class SGD(Optimizer):
    """w <- w - lr * d, per parameter, with

        d = g + weight_decay * w                      (L2 decay folded into the gradient)
        v = momentum * v + d,  then d = v             (momentum > 0; v starts at 0)
        d = d + momentum * v                          (nesterov=True, instead of d = v)

    which is PyTorch's SGD without dampening; momentum=0 is plain gradient descent
    w <- w - lr * g. ``params`` is any iterable of leaf Tensors with requires_grad (a list,
    ``model.parameters()``, a generator). Extra memory: one velocity array per parameter when
    momentum > 0, plus one scratch array the size of the largest parameter.
    """

    scratch_count = 1

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        self._set_hyperparameters(momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
        self.buffer_names = ("velocity",) if self.momentum else ()
        super().__init__(params, lr)

    def hyperparameters(self) -> dict[str, Scalar]:
        return {
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
        }

    def _set_hyperparameters(self, momentum: float, weight_decay: float, nesterov: bool) -> None:
        momentum = check_number("SGD", "momentum", momentum)
        weight_decay = check_number("SGD", "weight_decay", weight_decay)
        if nesterov and momentum == 0:
            raise ArgumentError("SGD: nesterov=True needs momentum > 0, got momentum=0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, bool(nesterov)

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        xp = NUMPY if type(w) is np.ndarray else namespace_of(w)
        (work,) = self._scratch[i]
        d = g
        if self.weight_decay:
            xp.multiply(w, self.weight_decay, out=work)
            work += g  # d = g + weight_decay * w
            d = work
        if self.momentum:
            v = self.state[i]["velocity"]
            v *= self.momentum
            v += d  # v = momentum * v + d
            if self.nesterov:
                # w -= lr * (d + momentum * v), as two in-place steps: no temporary array
                xp.multiply(d, self._lr, out=work)
                w -= work
                xp.multiply(v, self._lr * self.momentum, out=work)
                w -= work
                return
            d = v
        xp.multiply(d, self._lr, out=work)  # _lr: the checked value, no property call
        w -= work
