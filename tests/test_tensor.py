"""The Tensor contract: construction, dtypes, attributes, operator forms."""

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.ops.devices import default_device, to_host


def test_float_arrays_keep_their_dtype_and_lists_become_float64():
    assert Tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert Tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert Tensor([1, 2, 3]).dtype == np.float64
    assert Tensor(2).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_integer_arrays_stay_integer_but_cannot_require_grad():
    labels = Tensor(np.array([1, 2, 3]))
    assert labels.dtype.kind == "i"
    with pytest.raises(tg.DTypeError, match="int64"):
        Tensor(np.array([1, 2, 3]), requires_grad=True)
    with pytest.raises(tg.DTypeError, match="bool"):
        Tensor(np.array([True]), requires_grad=True)


@pytest.mark.parametrize("bad", [None, "abc", [[1, 2], [3]], np.array(["a"]), [1 + 2j]])
def test_non_numeric_or_ragged_data_is_refused(bad):
    with pytest.raises(tg.DTypeError):
        Tensor(bad)


def test_attributes():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.T.shape == (3, 2)
    assert isinstance(t.numpy(), np.ndarray)
    assert t.grad is None and t.requires_grad
    assert Tensor(5.0).item() == 5.0
    detached = t.detach()
    assert not detached.requires_grad and detached.data is t.data
    with pytest.raises(tg.ShapeError, match=r"\(2, 3\)"):
        t.item()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constants_never_upcast_a_float_tensor(dtype):
    x = Tensor(np.linspace(0.1, 1, 4).astype(dtype), requires_grad=True)
    results = [
        x + 1.5,
        1.5 + x,
        x - np.ones(4),
        np.ones(4) - x,
        x * 2,
        2 * x,
        x / 3.0,
        3.0 / x,
        x**2,
        2.0**x,
        x @ np.ones(4),
        np.ones((2, 4)) @ x,
        -x,
        x.exp(),
        x.log(),
        x.sqrt(),
        x.sigmoid(),
        x.tanh(),
        x.relu(),
        x.abs(),
        x.clip(0.2, 0.8),
        x.softmax(),
        x.log_softmax(),
        x.logsumexp(),
        x.mean(),
        x.max(),
        x.min(),
        x[1:],
        tg.where(x.data > 0.5, x, 0.0),
        tg.concatenate([x, np.ones(2)]),
        tg.stack([x, x]),
    ]
    for result in results:
        assert result.dtype == dtype
    loss = sum(r.sum() for r in results)
    loss.backward()
    assert to_host(x.grad).dtype == dtype


def test_operators_with_numpy_on_the_left_dispatch_to_tensor():
    x = Tensor(np.ones(3), requires_grad=True)
    y = np.full(3, 2.0) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(3, 2.0))


def test_argmax_is_a_numpy_array():
    """A plain array, not a Tensor: numpy's on the CPU, the data's library on another device."""
    t = Tensor([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]])
    np.testing.assert_array_equal(t.argmax(axis=1), np.array([1, 0]))
    assert isinstance(t.argmax(), np.integer | np.ndarray | type(t.data))


def test_reshape_transpose_flatten_accept_both_spellings():
    t = Tensor(np.arange(24.0))
    assert t.reshape(2, 3, 4).shape == t.reshape((2, 3, 4)).shape == (2, 3, 4)
    assert t.reshape(2, -1).shape == (2, 12)
    cube = t.reshape(2, 3, 4)
    assert cube.transpose(2, 0, 1).shape == cube.transpose((2, 0, 1)).shape == (4, 2, 3)
    assert cube.transpose().shape == (4, 3, 2)
    assert cube.flatten().shape == (24,)


def test_iteration_yields_rows():
    rows = list(Tensor(np.arange(6.0).reshape(3, 2)))
    assert [r.shape for r in rows] == [(2,)] * 3


def test_repr_shows_small_tensors_and_summarises_large_ones_on_one_line():
    small = repr(Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True))
    device = "" if default_device() == "cpu" else f", device={default_device()!r}"
    assert small == f"Tensor([[1. 2.]\n        [3. 4.]], dtype=float64, requires_grad=True{device})"
    weights = np.linspace(-0.5, 1.5, 784 * 100, dtype=np.float32).reshape(784, 100)
    weights[0, 0] = np.nan
    big = repr(Tensor(weights, requires_grad=True))
    assert "\n" not in big and len(big) < 120 + len(device)  # the device named on top
    assert big.startswith(
        f"Tensor(shape=(784, 100), dtype=float32, requires_grad=True{device}, min=-0.5"
    )
    assert "max=1.5" in big and "not finite=1" in big
