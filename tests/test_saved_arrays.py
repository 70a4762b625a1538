"""Editing an array in place between the forward pass and backward cannot give a wrong gradient.

The arrays an op saved for its vjps are read-only while the graph holds them (see
tinygrad_hw/saved_arrays.py): a user's edit fails at its line with numpy's ValueError, the
library's own writers (optimizer steps, load_state_dict) go through and make a later backward
through that graph raise GraphError, and every array is writable again once backward has used
it or the graph is dropped.
"""

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn, optim
from tinygrad_hw.errors import GraphError
from tinygrad_hw.nn import functional as F

READ_ONLY = "read-only"


def test_editing_a_parameter_before_backward_fails_at_the_edit():
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = np.array([4.0, 5.0, 6.0])
    loss = (w * x).sum()
    with pytest.raises(ValueError, match=READ_ONLY):
        w.data[:] = 0
    loss.backward()
    np.testing.assert_array_equal(w.grad, x)  # d/dw sum(w x) = x, untouched by the attempt
    w.data[:] = 0  # the graph has let go: writable again
    assert (w.data == 0).all()


def test_refilling_the_batch_buffer_before_backward_fails_and_works_after():
    buffer = np.ones((4, 3))
    w = Tensor(np.arange(3.0), requires_grad=True)
    loss = (Tensor(buffer) * w).sum()  # a float array is wrapped without a copy
    with pytest.raises(ValueError, match=READ_ONLY):
        buffer[:] = 2.0
    with pytest.raises(ValueError, match=READ_ONLY):
        buffer *= 2.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, [4.0, 4.0, 4.0])
    buffer[:] = 2.0


def test_a_graph_dropped_without_backward_lets_its_arrays_go():
    w = Tensor(np.ones(3), requires_grad=True)
    x = np.ones(3)
    loss = (w * x).sum()
    assert not w.data.flags.writeable and not x.flags.writeable
    del loss
    gc.collect()  # not needed in CPython (reference counting); harmless
    assert w.data.flags.writeable and x.flags.writeable


def test_a_users_read_only_array_stays_read_only():
    x = np.ones(3)
    x.setflags(write=False)
    w = Tensor(np.ones(3), requires_grad=True)
    (w * x).sum().backward()
    assert not x.flags.writeable
    assert w.data.flags.writeable


def test_retain_graph_keeps_them_locked_until_the_graph_is_gone():
    w = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    first = w.grad.copy()
    with pytest.raises(ValueError, match=READ_ONLY):
        w.data[0] = 7.0
    w.grad = None
    loss.backward()
    np.testing.assert_array_equal(w.grad, first)
    assert w.data.flags.writeable


def test_an_optimizer_step_while_a_graph_is_alive_works_and_that_graph_refuses_backward():
    """A validation loss kept from outside no_grad() must not block training (PyTorch lets
    it too); but backpropagating it after the weights moved would be wrong: GraphError."""
    model = nn.MLP([3, 4, 2], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = np.random.default_rng(0).standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])
    stale = F.cross_entropy(model(Tensor(x)), y)  # kept, never backpropagated
    loss = F.cross_entropy(model(Tensor(x)), y)
    opt.zero_grad()
    loss.backward()
    before = [p.data.copy() for p in model.parameters()]
    opt.step()
    assert any((p.data != b).any() for p, b in zip(model.parameters(), before, strict=True))
    with pytest.raises(GraphError, match=r"linear.*changed in place by SGD.step"):
        stale.backward()


def test_load_state_dict_while_a_graph_is_alive_works_and_that_graph_refuses_backward():
    model = nn.Linear(3, 2, rng=0)
    state = nn.Linear(3, 2, rng=1).state_dict()
    loss = model(Tensor(np.ones((1, 3)))).sum()
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.weight.data, state["weight"])
    with pytest.raises(GraphError, match=r"load_state_dict"):
        loss.backward()
    del loss
    assert model.weight.data.flags.writeable


def test_two_steps_without_edits_train_as_before():
    """The locks change nothing in a plain loop: the same weights as a loop on copies."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    models = [nn.MLP([3, 5, 2], rng=0), nn.MLP([3, 5, 2], rng=0)]
    for i, model in enumerate(models):
        opt = optim.Adam(model.parameters(), lr=0.01)
        for _ in range(3):
            batch = x.copy() if i else x  # the second model never sees a shared buffer
            loss = F.cross_entropy(model(Tensor(batch)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


UNARY = ["exp", "tanh", "sigmoid", "sin", "relu", "square"]


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(st.sampled_from(UNARY), min_size=1, max_size=4),
    use_matmul=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_saved_leaf_array_is_locked_until_backward(ops, use_matmul, seed):
    rng = np.random.default_rng(seed)
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = rng.standard_normal((2, 3))
    h = Tensor(x) @ w if use_matmul else Tensor(x) * w.sum()
    for name in ops:
        h = getattr(h, name)()
    loss = h.sum()
    if use_matmul:  # matmul saves w; sum (the other branch) saves nothing
        assert not w.data.flags.writeable
    assert not x.flags.writeable
    loss.backward()
    assert w.data.flags.writeable and x.flags.writeable
    # the gradient equals a fresh computation on copies (nothing was changed)
    w2 = Tensor(w.data.copy(), requires_grad=True)
    h2 = Tensor(x.copy()) @ w2 if use_matmul else Tensor(x.copy()) * w2.sum()
    for name in ops:
        h2 = getattr(h2, name)()
    h2.sum().backward()
    np.testing.assert_array_equal(w.grad, w2.grad)


def test_no_grad_saves_nothing_so_locks_nothing():
    w = Tensor(np.ones(3), requires_grad=True)
    with tg.no_grad():
        _ = (w * 2).exp()
    assert w.data.flags.writeable


def test_graphs_recorded_after_a_step_are_fine_while_an_older_one_is_stale():
    """One graph kept across many steps (a logged loss): every new step's backward works
    (its nodes saved the weights after the last write), only the kept graph refuses."""
    model = nn.Linear(3, 2, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = np.ones((4, 3))
    kept = model(Tensor(x)).sum()
    for _ in range(3):
        loss = model(Tensor(x)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with pytest.raises(GraphError, match=r"SGD\.step \(params\[0\]\)"):
        kept.backward()
