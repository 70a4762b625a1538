"""The LeNet experiment's network: shapes, PyTorch's default initialisation of its layers, and
its refusals. (Its training run is covered by test_models' quick run of every experiment; its
ops by test_ops_conv; its agreement with PyTorch by the conv benchmark's parity check.)"""

import math

import numpy as np
import pytest

from models import builders, registry
from models.lenet import LeNet
from tinygrad_hw import Tensor
from tinygrad_hw.errors import ArgumentError, ShapeError


def test_lenet_takes_rows_or_images_and_gives_logits():
    rng = np.random.default_rng(0)
    images = rng.random((3, 1, 28, 28)).astype(np.float32)
    model = LeNet(rng=0)
    from_images = model(images)
    from_rows = model(images.reshape(3, 784))
    assert from_images.shape == (3, 10) and from_images.dtype == np.float32
    np.testing.assert_array_equal(from_images.data, from_rows.data)


def test_lenet_names_the_image_size_it_needs():
    with pytest.raises(ShapeError, match="28x28"):
        LeNet(rng=0)(np.zeros((2, 64), np.float32))  # scikit-learn's 8x8 digits


def test_lenet_gradients_reach_every_layer():
    model = LeNet(rng=0)
    loss = (model(Tensor(np.random.default_rng(1).random((2, 784), np.float32))) ** 2).sum()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.any(p.grad != 0), name


def test_torch_default_init_bounds_convolutions_by_their_fan_in():
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C * kh * kw: 25 for conv1, 150 for
    conv2; the draws fill most of that range (a bound of 1/sqrt(fan_out) or He's normal
    would not pass both checks)."""
    model = LeNet(rng=0)
    builders.torch_default_init(model, np.random.default_rng(0))
    for layer, fan_in in ((model.conv1, 25), (model.conv2, 150), (model.fc1, 400)):
        bound = 1 / math.sqrt(fan_in)
        for tensor in (layer.weight, layer.bias):
            assert np.abs(tensor.data).max() <= bound
        assert np.abs(layer.weight.data).max() > 0.9 * bound


def test_lenet_refuses_xavier_init():
    exp = registry.get("lenet")
    cfg = exp.config({"options": {"init": "xavier"}}, quick=True)
    with pytest.raises(ArgumentError, match="init"):
        exp.build(cfg, None, np.random.default_rng(0))
