"""Inputs that used to end in a raw Python/numpy error now get the library's own, naming them."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn, optim
from tinygrad_hw.data import minibatches, stratified_split
from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError, SizeError, TinygradHWError
from tinygrad_hw.nn import functional as F

huge_ints = st.integers(2**1024, 10**500) | st.integers(-(10**500), -(2**1024))


@given(value=huge_ints)
def test_a_python_int_past_float64_as_a_constant_is_an_argument_error(value):
    x = Tensor(np.ones(2), requires_grad=True)
    for call in (lambda: x * value, lambda: x + value, lambda: value - x, lambda: x / value):
        with pytest.raises(ArgumentError, match=r"constant of \d+ digits.*float64"):
            call()


@given(value=st.integers(2**1024, 10**500))
def test_huge_learning_rates_and_penalty_weights_are_argument_errors(value):
    w = Tensor(np.ones(2), requires_grad=True)
    for make in (lambda: optim.SGD([w], lr=value), lambda: optim.Adam([w], lr=value)):
        with pytest.raises(ArgumentError, match=r"lr must be >= 0 and finite"):
            make()
    with pytest.raises(ArgumentError, match=r"l2_penalty: weight must be a finite number"):
        F.l2_penalty([w], value)


@given(value=st.integers(2**1024, 10**500))
def test_huge_clip_bounds_mean_no_bound(value):
    x = Tensor(np.array([-3.0, 0.5, 3.0]))
    np.testing.assert_array_equal(x.clip(-value, value).data, x.data)
    np.testing.assert_array_equal(x.clip(-value, 1.0).data, [-3.0, 0.5, 1.0])


def test_clip_with_no_bound_is_refused_as_in_pytorch():
    with pytest.raises(ArgumentError, match=r"clip: at least one of lo and hi"):
        Tensor(np.ones(2)).clip(None, None)


@given(seed=st.integers(-(2**70), -1))
def test_negative_seeds_are_argument_errors_everywhere(seed):
    with pytest.raises(ArgumentError, match=r"seed must be an int >= 0"):
        nn.Linear(2, 2, rng=seed)
    with pytest.raises(ArgumentError, match=r"minibatches: seed must be an int >= 0"):
        minibatches(np.ones((4, 2)), np.ones(4), 2, seed=seed)
    with pytest.raises(ArgumentError, match=r"stratified_split: seed must be an int >= 0"):
        stratified_split(np.ones((4, 2)), np.array([0, 1, 0, 1]), 0.5, seed=seed)


@pytest.mark.parametrize(
    ("grad", "pattern"),
    [
        ([1.0, 1.0], r"\.grad = list: a gradient must be an array; assign np\.asarray"),
        (Tensor(np.ones(2)), r"\.grad = Tensor: .*assign \.data of it"),
        (3.0, r"\.grad = float: a gradient must be an array"),
        (np.ones(2, np.float32), r"\.grad = an array of dtype float32: the tensor has .*float64"),
        (np.ones(2, np.int64), r"\.grad = an array of dtype int64"),
    ],
)
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_a_bad_grad_assignment_is_refused_on_assignment(cls, grad, pattern):
    w = Tensor(np.ones(2), requires_grad=True)
    opt = cls([w], lr=0.1)
    with pytest.raises(DTypeError, match=pattern):
        w.grad = grad
    assert w.grad is None  # the refused value was not kept
    with pytest.warns(tg.TinygradHWWarning, match="no parameter has a gradient"):
        opt.step()  # nothing to apply
    np.testing.assert_array_equal(w.data, [1.0, 1.0])


def test_a_grad_of_another_shape_is_refused_on_assignment():
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    w.grad = np.zeros((2, 3))  # the right shape and dtype is taken as it is
    for shape in [(3,), (3, 2), (1, 2, 3), ()]:
        with pytest.raises(ShapeError, match=rf"shape \({shape[0] if shape else ''}"):
            w.grad = np.zeros(shape)
    np.testing.assert_array_equal(w.grad, np.zeros((2, 3)))


def test_a_grad_written_behind_the_property_is_still_checked_by_step():
    w = Tensor(np.ones(2), requires_grad=True)
    w._grad = [1.0, 1.0]  # past the setter: the optimizer's own check still refuses it
    with pytest.raises(DTypeError, match=r"params\[0\]\.grad is a list"):
        optim.SGD([w], lr=0.1).step()


@pytest.mark.parametrize("create_graph", [False, True])
def test_del_grad_leaves_none_and_the_next_backward_starts_afresh(create_graph):
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward(create_graph=create_graph)
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    del x.grad
    assert x.grad is None and x.grad_tensor is None
    del x.grad  # deleting twice is allowed, as in PyTorch
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])  # not 2x + 3: the old one was forgotten
    opt = optim.SGD([x], lr=1.0)
    del x.grad
    with pytest.warns(tg.TinygradHWWarning, match="no parameter has a gradient"):
        opt.step()  # a deleted gradient is a missing one: the parameter is skipped
    np.testing.assert_allclose(x.data, [1.0, 2.0])


class WithParent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.child = nn.Linear(2, 3, rng=0)
        self.child.parent = self  # a back-reference
        self.blocks = [self.child, nn.Linear(3, 1, rng=1)]
        self.blocks[1].root = self


def test_a_module_with_back_references_walks_each_module_once():
    model = WithParent()
    assert len(model.parameters()) == 4
    assert [name for name, _ in model.named_parameters()] == [
        "child.weight",
        "child.bias",
        "blocks.1.weight",
        "blocks.1.bias",
    ]
    assert len(list(model.modules())) == 3
    model.eval()
    assert not model.child.training and not model.blocks[1].training
    assert repr(model).startswith("WithParent(")  # no RecursionError
    state = model.state_dict()
    model.load_state_dict(state)
    out = model.blocks[1](model.child(Tensor(np.ones((1, 2), np.float32))))
    assert out.shape == (1, 1)


@pytest.mark.parametrize("k", [10**10, 10**12, 2**62])
def test_one_hot_with_absurdly_many_classes_is_a_size_error(k):
    with pytest.raises(SizeError, match=rf"one_hot: 2 labels x {k} classes need [\d,]+ bytes"):
        F.one_hot(np.array([0, 1]), k)
    assert isinstance(SizeError("x"), MemoryError)


def test_one_hot_is_still_right():
    np.testing.assert_array_equal(F.one_hot(np.array([[2], [0]]), 3), [[[0, 0, 1]], [[1, 0, 0]]])


@pytest.mark.parametrize("n", [10**6, 10**7])
def test_a_giant_broadcast_is_a_size_error_naming_the_op_and_shapes(n):
    a, b = Tensor(np.ones((n, 1))), Tensor(np.ones((1, n)))
    with pytest.raises(SizeError, match=rf"add: .*\({n}, 1\), \(1, {n}\).*too large"):
        a + b
    with pytest.raises(TinygradHWError):
        a * b
