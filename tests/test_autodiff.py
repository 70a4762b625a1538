"""The tape's semantics: accumulation, fan-out, deep chains, freeing, no_grad, errors."""

import gc
import time
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor


def test_gradients_accumulate_across_backward_calls_until_reset():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 3 + 2 * x.data)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_fan_out_sums_the_gradients_of_every_use():
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = x.exp()
    loss = (y * y + y + x).sum()  # d/dx = 2 e^2x + e^x + 1
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * x.data) + np.exp(x.data) + 1)


def test_leaf_gradients_are_separate_arrays():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad[:] = 0  # zeroing one gradient in place must not touch the other
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_a_chain_of_100000_ops_backpropagates_without_recursion_error():
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    y.backward()
    elapsed = time.perf_counter() - start
    assert x.grad == 1.0
    print(f"backward through 100,000 ops: {elapsed:.3f} s")


def test_saved_arrays_are_released_after_backward():
    x = Tensor(np.random.default_rng(0).standard_normal(100), requires_grad=True)
    hidden = x.exp()
    saved = weakref.ref(hidden.data)  # exp's vjp keeps its output alive
    loss = (hidden * 2).sum()
    del hidden
    gc.collect()
    assert saved() is not None  # alive: the graph still needs it
    loss.backward()
    gc.collect()
    assert saved() is None


def test_second_backward_through_freed_graph_is_a_clear_error():
    x = Tensor(np.ones(2), requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(tg.GraphError, match="retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = Tensor(np.ones(2), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_no_grad_records_nothing_and_backward_then_says_so():
    x = Tensor(np.ones(2), requires_grad=True)
    with tg.no_grad():
        y = (x * 2).sum()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad
    with pytest.raises(tg.GraphError, match="no_grad"):
        y.backward()


def test_backward_on_a_non_scalar_needs_grad():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(tg.GraphError, match=r"\(2, 3\)"):
        y.backward()


def test_backward_with_a_grad_of_the_wrong_shape_or_dtype_is_an_error():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(tg.ShapeError, match=r"\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))
    with pytest.raises(tg.DTypeError, match=r"float32.*float64"):
        y.backward(np.ones((2, 3), np.float32))


def test_backward_with_an_upstream_gradient():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    upstream = np.array([[1.0, -1.0], [0.5, 2.0]])
    (x * x).backward(upstream)
    np.testing.assert_allclose(x.grad, 2 * x.numpy() * upstream)
    upstream[:] = 0  # the gradient does not alias the caller's array
    np.testing.assert_allclose(x.grad, 2 * x.numpy() * np.array([[1.0, -1.0], [0.5, 2.0]]))


def test_inputs_without_requires_grad_get_no_gradient():
    x = Tensor(np.ones(2), requires_grad=True)
    c = Tensor(np.ones(2))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_graph_does_not_keep_leaves_alive():
    x = Tensor(np.ones(2), requires_grad=True)
    ref = weakref.ref(x)
    y = (x * 2).sum()
    del x
    gc.collect()
    assert ref() is None
    y.backward()  # the leaf is gone: nothing to deliver to, and no error


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones(4)), r"add.*\(2, 3\).*\(4,\)"),
        (lambda: Tensor(np.ones((2, 3))) * np.ones((3, 2)), r"mul.*\(2, 3\).*\(3, 2\)"),
        (lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 2))), r"matmul.*\(2, 3\).*\(4, 2\)"),
        (lambda: Tensor(np.ones(3)) @ Tensor(2.0), "at least 1 dimension"),
        (lambda: Tensor(np.ones((2, 3))).sum(axis=2), r"axis 2.*\(2, 3\)"),
        (lambda: Tensor(np.ones((2, 3))).softmax(axis=-3), r"axis -3.*\(2, 3\)"),
        (lambda: Tensor(np.ones((2, 3))).reshape(4, 2), r"\(2, 3\).*\(4, 2\)"),
        (lambda: Tensor(np.ones((2, 3))).transpose(0, 0), "permutation"),
        (lambda: Tensor(np.ones((2, 3)))[5], r"\(2, 3\)"),
        (lambda: tg.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]), "axis 0"),
        (lambda: tg.stack([Tensor(np.ones(2)), Tensor(np.ones(3))]), r"\(2,\).*\(3,\)"),
        (lambda: tg.where(np.ones(2), Tensor(np.ones(2)), 0.0), "boolean"),
        (lambda: Tensor(np.ones(0)).max(), "empty"),
    ],
)
def test_bad_calls_raise_the_library_errors_naming_the_culprit(make, pattern):
    with pytest.raises(tg.TinygradHWError, match=pattern):
        make()


def test_anomaly_mode_names_the_op_and_the_call_site():
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    with (
        np.errstate(invalid="ignore"),  # numpy's own warning is not the point here
        tg.detect_anomaly(),
        pytest.raises(tg.AnomalyError, match=r"'log'.*test_autodiff.py:\d+"),
    ):
        x.log()  # log(-1) = nan
    with np.errstate(invalid="ignore"):  # outside anomaly mode: numpy's nan, no error
        assert np.isnan(x.log().data[1])


def test_anomaly_mode_raises_its_error_without_numpy_warnings_first():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning would fail the test
        with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="'log'"):
            x.log()  # log(0) = -inf: numpy alone warns "divide by zero"
        with tg.detect_anomaly():
            y = x.sqrt().sum()
            with pytest.raises(tg.AnomalyError, match="sqrt"):
                y.backward()  # 1 / (2 sqrt(0)): numpy alone warns too
    with pytest.warns(RuntimeWarning, match="divide by zero"):  # restored after the block
        np.log(np.zeros(1))


def test_anomaly_mode_catches_nan_in_backward():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt().sum()  # finite forward, but d sqrt(x)/dx = inf at 0
        with pytest.raises(tg.AnomalyError, match="sqrt"):
            y.backward()
