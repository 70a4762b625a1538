"""Building the experiments' networks, with a choice of initialisation (``--set init=...``).

- ``"he"``: N(0, 2 / fan_in) weights (tinygrad_hw's default for ReLU networks);
- ``"xavier"``: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (the default for sigmoid);
- ``"torch"`` (the default): PyTorch's default for ``nn.Linear``, U(-1/sqrt(fan_in),
  1/sqrt(fan_in)) for the weights AND the biases. Its weights have standard deviation
  1/sqrt(3 fan_in), 2.4 times smaller than He's. The reference figures (PyTorch) were made
  with it, so it is what a comparison with them needs.

The choice matters for seed 003's ReLU-on-the-logits network: a class whose logit is clamped
to zero on all of its own rows gets no gradient and never comes back. With He's larger
weights few classes die (test 0.94-0.95 over seeds 0-2), with PyTorch's 1 to 3 do (test
0.67-0.85), which is the reference's 0.66-0.86.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.experiment import Config
from tinygrad_hw.errors import ArgumentError
from tinygrad_hw.nn import MLP, Conv2d, Linear, Module
from tinygrad_hw.ops.devices import to_device

INITS = ("torch", "he", "xavier")
DEFAULT_INIT = "torch"


def torch_default_init(model: Module, rng: np.random.Generator) -> None:
    """Redraw every Linear and Conv2d layer's weight and bias from U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), PyTorch's default; a convolution's fan_in is in_channels / groups * kh *
    kw, the inputs each output sums over. Drawn on the host, written in place on the model's
    device."""
    for module in model.modules():
        if isinstance(module, Linear | Conv2d):
            conv = isinstance(module, Conv2d)  # weight (O, C/groups, kh, kw); Linear's (in, out)
            fan_in = math.prod(module.weight.shape[1:]) if conv else module.weight.shape[0]
            bound = 1.0 / math.sqrt(fan_in)
            for tensor in (module.weight, module.bias):
                if tensor is not None:
                    values = rng.uniform(-bound, bound, tensor.shape).astype(tensor.dtype)
                    tensor.data[...] = to_device(values, tensor.device)


def init_scheme(cfg: Config) -> str:
    scheme = cfg.options.get("init", DEFAULT_INIT)
    if scheme not in INITS:
        raise ArgumentError(f"--set init= must be one of {', '.join(INITS)}, got {scheme!r}")
    return scheme


def mlp(
    sizes: list[int],
    activation: str,
    cfg: Config,
    rng: np.random.Generator,
    final_activation: Any = None,
) -> MLP:
    """``MLP(sizes, activation, final_activation)`` initialised by ``cfg.options["init"]``
    (default "torch")."""
    scheme = init_scheme(cfg)
    layer_init = "xavier" if scheme == "xavier" else "he"  # "torch" redraws He's weights
    model = MLP(sizes, activation, final_activation, init=layer_init, rng=rng)
    if scheme == "torch":
        torch_default_init(model, rng)
    return model


def linear(in_features: int, out_features: int, cfg: Config, rng: np.random.Generator) -> Linear:
    """One Linear layer (softmax regression), initialised by ``cfg.options["init"]``."""
    scheme = init_scheme(cfg)
    layer = Linear(in_features, out_features, init="he" if scheme == "torch" else scheme, rng=rng)
    if scheme == "torch":
        torch_default_init(layer, rng)
    return layer
