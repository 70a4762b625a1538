"""Devices (issue 11): a Tensor's backend is its array's library. CuPy needs a GPU, so the
second library here is array-api-strict, the array API standard's strict reference on the
CPU: every op it runs proves that no numpy-only call is left in that op's maths."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn
from tinygrad_hw.nn import functional as F

strict = pytest.importorskip("array_api_strict")
STRICT = "array_api_strict"
ROOT = Path(__file__).resolve().parent.parent


def _mlp_loss(model: nn.Module, x: Tensor, y: np.ndarray) -> Tensor:
    return F.cross_entropy(model(x), y)


def test_a_strict_tensor_stays_strict_through_ops_and_backward() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, device=STRICT)
    y = ((x * 2.0 + 1.0).tanh() ** 2).sum()
    y.backward()
    assert type(y.data) is type(x.data) is type(x.grad)
    assert x.device == STRICT and x.dtype == np.float64
    # the same maths on numpy: the closed form d tanh(u)^2 / dx = 2 tanh(u) (1 - tanh^2) * 2
    t = np.tanh(np.arange(6.0).reshape(2, 3) * 2.0 + 1.0)
    np.testing.assert_allclose(np.asarray(x.grad), 4.0 * t * (1.0 - t**2), rtol=1e-12)


def test_an_mlp_on_strict_gives_numpys_loss_and_gradients() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 8)), rng.integers(0, 3, 16)
    host = nn.MLP([8, 5, 3], activation="relu", rng=0, dtype=np.float64)
    device = nn.MLP([8, 5, 3], activation="relu", rng=0, dtype=np.float64).to(STRICT)
    assert {p.device for p in device.parameters()} == {STRICT}
    host_loss = _mlp_loss(host, Tensor(x), y)
    device_loss = _mlp_loss(device, Tensor(x, device=STRICT), y)
    host_loss.backward()
    device_loss.backward()
    # float64, the same operations in the same order: agreement to rounding
    assert device_loss.item() == pytest.approx(host_loss.item(), rel=1e-13)
    for h, d in zip(host.parameters(), device.parameters(), strict=True):
        assert d.device == STRICT
        np.testing.assert_allclose(np.asarray(d.grad), h.grad, rtol=1e-11, atol=1e-14)


def test_numpy_is_a_host_array_and_to_moves_both_ways() -> None:
    x = Tensor([1.0, 2.0], device=STRICT)
    host = x.numpy()
    assert type(host) is np.ndarray and host.tolist() == [1.0, 2.0]
    back = x.to("cpu")
    assert back.device == "cpu" and type(back.data) is np.ndarray
    assert x.to(STRICT) is x and back.to("cpu") is back


def test_the_gradient_moves_back_through_to() -> None:
    z = Tensor([1.0, -2.0, 3.0], requires_grad=True)  # on the CPU
    w = z.to(STRICT)
    (w * w).sum().backward()
    assert type(z.grad) is np.ndarray
    np.testing.assert_array_equal(z.grad, [2.0, -4.0, 6.0])


def test_to_is_differentiable_twice() -> None:
    z = Tensor([0.5, -1.5], requires_grad=True)
    assert tg.gradgradcheck(lambda t: (t.to(STRICT) ** 3).to("cpu"), z)


def test_mixing_devices_in_one_op_names_both() -> None:
    a, b = Tensor([1.0, 2.0], device=STRICT), Tensor([3.0, 4.0])
    for op in (lambda: a + b, lambda: b * a, lambda: a < b):
        with pytest.raises(
            tg.DeviceError, match=r"array_api_strict and cpu|cpu and array_api_strict"
        ):
            op()


def test_a_host_constant_goes_to_the_tensors_device() -> None:
    a = Tensor([1.0, 2.0], device=STRICT, dtype=np.float32)
    out = a * np.array([2.0, 3.0]) + 1.0  # a float64 host array: cast to a's dtype, moved
    assert out.device == STRICT and out.dtype == np.float32
    assert out.numpy().tolist() == [3.0, 7.0]


def test_gradcheck_runs_on_strict_tensors() -> None:
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True, device=STRICT)
    assert tg.gradcheck(lambda t: F.log_softmax(t, axis=-1) * t.sigmoid(), x)
    assert tg.gradgradcheck(lambda t: F.log_softmax(t, axis=-1) * t.sigmoid(), x)


def test_save_writes_host_arrays_and_load_restores_onto_the_models_device(tmp_path) -> None:
    source = nn.MLP([4, 3, 2], rng=0, dtype=np.float64).to(STRICT)
    path = tmp_path / "model.npz"
    tg.save(path, source)
    with np.load(path) as stored:  # a plain .npz of numpy arrays: readable without us
        floats = [stored[k] for k in stored.files if stored[k].dtype == np.float64]
        for p in source.parameters():
            assert any(f.shape == p.shape and np.array_equal(f, p.numpy()) for f in floats)
    target = nn.MLP([4, 3, 2], rng=1, dtype=np.float64).to(STRICT)
    tg.load(path, target)
    for s, t in zip(source.parameters(), target.parameters(), strict=True):
        assert t.device == STRICT
        np.testing.assert_array_equal(t.numpy(), s.numpy())


def test_unknown_devices_are_clear_errors() -> None:
    with pytest.raises(tg.DeviceError, match="not installed"):
        Tensor([1.0], device="no_such_library")
    with pytest.raises(tg.DeviceError, match="device"):
        Tensor([1.0], device=3)
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(tg.DeviceError, match="cupy"):
            Tensor([1.0], device="cuda")


def test_the_default_device_comes_from_the_environment() -> None:
    code = "import tinygrad_hw as tg; print(tg.Tensor([1.0]).device, tg.Tensor([1.0]).dtype)"
    env = {**os.environ, "TINYGRAD_HW_DEVICE": STRICT}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [STRICT, "float64"]


# The op test files that run on array-api-strict as they stand; the others wait on the work
# listed in README (Devices): mostly tests that compare an array's own dtype with numpy's or
# call numpy methods on a device array.
STRICT_TEST_FILES = [
    "tests/test_ops_elementwise.py",
    "tests/test_ops_shaping.py",
    "tests/test_ops_sorting.py",
    "tests/test_ops_reductions.py",
    "tests/test_ops_activations.py",
    "tests/test_ops_functions.py",
    "tests/test_ops_layout.py",
    "tests/test_ops_transcendental.py",
    "tests/test_ops_statistics.py",
    "tests/test_ops_contractions.py",
    "tests/test_ops_conv.py",
    "tests/test_ops_pool.py",
    "tests/test_ops_losses.py",
    "tests/test_nn.py",
    "tests/test_nn_losses.py",
    "tests/test_nn_normalization.py",
    "tests/test_nn_conv.py",
    "tests/test_functional.py",
    "tests/test_optim.py",
    "tests/test_setitem.py",
    "tests/test_testing.py",
    "tests/test_higher_order.py",
    "tests/test_torch_names.py",
    "tests/test_autodiff.py",
    "tests/test_gradcheck.py",
    "tests/test_tensor.py",
    "tests/test_hooks.py",
    "tests/test_integer_inputs.py",
]


def test_the_op_tests_pass_with_array_api_strict_as_the_backend() -> None:
    # the "backend" profile (tests/conftest.py): a quarter of the examples, as this run proves
    # the code paths portable and the numpy run proves the numerics (300 s -> 92 s here)
    env = {**os.environ, "TINYGRAD_HW_DEVICE": STRICT, "HYPOTHESIS_PROFILE": "backend"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *STRICT_TEST_FILES]
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and " failed" not in out.stdout
