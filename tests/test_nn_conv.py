"""nn's convolutional layers: Conv2d (forward, init, dtype, state), MaxPool2d, AvgPool2d,
Flatten, and a small CNN whose gradients match finite differences and which learns."""

import math

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import ArgumentError, DTypeError, ShapeError, Tensor, nn
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import assert_grad_close


# ------------------------------------------------------------------ Conv2d
def test_conv2d_layer_is_functional_conv2d_with_its_parameters():
    layer = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, rng=0)
    with tg.no_grad():
        layer.bias[...] = np.arange(6.0)  # non-zero, so a forgotten bias is caught
    x = np.random.default_rng(1).standard_normal((2, 4, 7, 7)).astype(np.float32)
    out = layer(x)
    expected = F.conv2d(
        x, layer.weight.data, layer.bias.data, stride=2, padding=1, dilation=(1, 2), groups=2
    )
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert [(n, p.shape) for n, p in layer.named_parameters()] == [
        ("weight", (6, 2, 3, 2)),
        ("bias", (6,)),
    ]


def test_conv2d_layer_matches_torch_conv2d_with_the_same_weights():
    torch = pytest.importorskip("torch")
    layer = nn.Conv2d(3, 5, 3, padding=1, dtype=np.float64, rng=2)
    with tg.no_grad():
        layer.bias[...] = np.linspace(-1, 1, 5)
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 5))
    ref = torch.nn.functional.conv2d(
        torch.tensor(x),
        torch.tensor(layer.weight.numpy()),
        torch.tensor(layer.bias.numpy()),
        padding=1,
    )
    np.testing.assert_allclose(layer(x).numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_conv2d_he_init_has_variance_two_over_fan_in():
    """fan_in = in_channels / groups * kh * kw: the inputs each output sums over."""
    for layer in (nn.Conv2d(16, 64, 3, rng=0), nn.Conv2d(32, 64, (3, 5), groups=8, rng=0)):
        fan_in = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
        # std of ~10^4 normal draws: relative standard error 1/sqrt(2 n) < 1%, so 5% is safe
        np.testing.assert_allclose(layer.weight.numpy().std(), math.sqrt(2 / fan_in), rtol=0.05)
        assert abs(layer.weight.numpy().mean()) < 0.05 * math.sqrt(2 / fan_in)
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def test_conv2d_seeds_and_dtypes():
    a, b = nn.Conv2d(2, 3, 3, rng=7), nn.Conv2d(2, 3, 3, rng=7, dtype=np.float64)
    assert a.weight.dtype == a.bias.dtype == np.float32
    assert b.weight.dtype == np.float64
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy().astype(np.float32))
    shared = np.random.default_rng(0)
    first, second = nn.Conv2d(2, 3, 3, rng=shared), nn.Conv2d(2, 3, 3, rng=shared)
    assert not np.array_equal(first.weight.numpy(), second.weight.numpy())
    assert nn.Conv2d(2, 3, 3, bias=False, rng=0).parameters()[0].shape == (3, 2, 3, 3)
    assert len(nn.Conv2d(2, 3, 3, bias=False, rng=0).parameters()) == 1


def test_conv2d_float64_constant_input_runs_in_the_layer_dtype():
    layer = nn.Conv2d(1, 2, 2, rng=0)
    assert layer(np.ones((1, 1, 3, 3))).dtype == np.float32


def test_conv2d_state_dict_round_trip():
    source, target = nn.Conv2d(2, 4, 3, rng=1), nn.Conv2d(2, 4, 3, rng=2)
    target.load_state_dict(source.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())
    with pytest.raises(ShapeError, match="weight"):
        nn.Conv2d(2, 4, 5, rng=0).load_state_dict(source.state_dict())


def test_conv2d_repr_names_its_arguments():
    text = repr(nn.Conv2d(3, 8, 5, stride=2, padding=(1, 2), rng=0))
    assert text == (
        "Conv2d(3, 8, kernel_size=(5, 5), stride=(2, 2), padding=(1, 2), dilation=(1, 1), "
        "groups=1, bias=True, dtype=float32)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), ArgumentError, "divisible"),
        (dict(in_channels=0, out_channels=4, kernel_size=3), ArgumentError, "in_channels"),
        (dict(in_channels=2, out_channels=4, kernel_size=0), ArgumentError, "kernel_size"),
        (dict(in_channels=2, out_channels=4, kernel_size=(3, 3, 3)), DTypeError, "2 ints"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, stride=0), ArgumentError, "stride"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, padding=-1), ArgumentError, "padding"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, dtype=np.int32), DTypeError, "dtype"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, rng="seed"), DTypeError, "rng"),
    ],
)
def test_conv2d_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        nn.Conv2d(**kwargs)


def test_conv2d_layer_names_a_channel_mismatch():
    with pytest.raises(ShapeError, match="3 channels"):
        nn.Conv2d(2, 4, 3, rng=0)(np.zeros((1, 3, 5, 5), np.float32))


# ------------------------------------------------------------------ pools and Flatten
def test_pool_layers_are_the_functional_pools_with_stride_defaulting_to_the_kernel():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    pool = nn.MaxPool2d(3)
    np.testing.assert_array_equal(pool(x).numpy(), F.max_pool2d(x, 3, 3).numpy())
    assert pool(x).shape == (2, 3, 2, 2)
    avg = nn.AvgPool2d(2, stride=1, padding=1)
    np.testing.assert_array_equal(avg(x).numpy(), F.avg_pool2d(x, 2, 1, 1).numpy())
    assert pool.parameters() == avg.parameters() == []
    assert repr(pool) == "MaxPool2d(kernel_size=(3, 3), stride=(3, 3), padding=(0, 0))"
    assert repr(avg) == "AvgPool2d(kernel_size=(2, 2), stride=(1, 1), padding=(1, 1))"


def test_pool_layers_check_their_arguments_when_built():
    with pytest.raises(ArgumentError, match="at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ArgumentError, match="kernel_size"):
        nn.AvgPool2d(0)


def test_flatten_merges_the_axes_from_start_to_end():
    x = Tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-2, -1)(x).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))
    g = np.random.default_rng(0).standard_normal((2, 60))
    nn.Flatten()(x).backward(g)
    np.testing.assert_array_equal(to_host(x.grad), g.reshape(x.shape))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_flatten_bad_dims():
    with pytest.raises(ArgumentError, match="comes after"):
        nn.Flatten(2, 1)(np.zeros((2, 3, 4)))
    with pytest.raises(ShapeError, match="out of range"):
        nn.Flatten(3)(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match="0-d"):
        nn.Flatten()(np.zeros(()))
    with pytest.raises(DTypeError, match="start_dim"):
        nn.Flatten(1.0)


# ------------------------------------------------------------------ a small CNN
def _tiny_cnn(dtype, rng):
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, dtype=dtype, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 3, 2, groups=1, dtype=dtype, rng=rng),
        nn.AvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2, dtype=dtype, rng=rng),
    )


def test_a_small_cnn_has_gradients_that_match_finite_differences():
    """The CNN's layers written out with the functional ops, every weight an input: first and
    second order through conv (groups too), ReLU, both pools and a Linear. With these seeded
    normal draws no ReLU input or max-pool tie lies within the 1e-6 step of a kink."""
    rng = np.random.default_rng(0)
    shapes = [(2, 1, 4, 4), (2, 1, 3, 3), (2,), (4, 1, 2, 2), (4,), (4, 2)]
    inputs = [rng.standard_normal(shape) for shape in shapes]

    def cnn(x, w1, b1, w2, b2, w3):
        h = F.max_pool2d(F.conv2d(x, w1, b1, padding=1).relu(), 2)  # (2, 2, 2, 2)
        h = F.avg_pool2d(F.conv2d(h, w2, b2, groups=2, padding=1), 2, stride=1)  # (2, 4, 2, 2)
        return nn.Flatten()(F.max_pool2d(h, 2)) @ w3

    assert_grad_close(cnn, *inputs, seed=3, order=2)


def test_a_small_cnn_learns_a_toy_task_in_float32():
    """Bright top half vs bright bottom half: a few SGD steps must lower the loss a lot."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 32)
    x = rng.random((32, 1, 4, 4)).astype(np.float32) * 0.2
    x[labels == 0, :, :2] += 1.0
    x[labels == 1, :, 2:] += 1.0
    model = _tiny_cnn(np.float32, rng)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0]
