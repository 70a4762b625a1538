"""Tensor.register_hook and Tensor.retain_grad: PyTorch's semantics, checked by hand-computed
gradients (torch-free) and against torch itself when it is installed."""

import gc
import weakref

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import DTypeError, GraphError, ShapeError, Tensor
from tinygrad_hw.ops.devices import to_host


def _leaf(values) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------------ register_hook
def test_leaf_hook_sees_the_gradient_before_accumulation_and_replaces_it():
    x = _leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10.0)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])  # d(sum 3x)/dx, before the hook
    np.testing.assert_array_equal(x.grad, [30.0, 30.0])
    (x * 3.0).sum().backward()  # leaf hooks persist; .grad keeps accumulating the hooked value
    np.testing.assert_array_equal(x.grad, [60.0, 60.0])


def test_nonleaf_hook_runs_once_with_the_sum_over_its_uses():
    x = _leaf([1.0, 2.0])
    h = x * 2.0
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h * 3.0 + h * 5.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [8.0, 8.0])
    np.testing.assert_array_equal(x.grad, [16.0, 16.0])  # None returned: gradient unchanged


def test_nonleaf_replacement_flows_to_the_inputs():
    x = _leaf([1.0, -2.0])
    h = x * x
    h.register_hook(lambda g: g * 0.5)
    h.sum().backward()
    np.testing.assert_allclose(x.grad, 0.5 * 2 * x.data)


def test_hooks_run_in_registration_order_each_seeing_the_previous_result():
    x = _leaf([1.0])
    calls = []
    x.register_hook(lambda g: calls.append(("a", g.item())) or g + 1.0)
    x.register_hook(lambda g: calls.append(("b", g.item())) or g * 10.0)
    (x * 2.0).sum().backward()
    assert calls == [("a", 2.0), ("b", 3.0)]
    assert to_host(x.grad).item() == 30.0


def test_root_hook_receives_the_seed():
    x = _leaf([1.0, 2.0])
    y = (x * 2.0).sum()
    y.register_hook(lambda g: g * 5.0)
    y.backward()
    np.testing.assert_array_equal(x.grad, [10.0, 10.0])


def test_remove_stops_the_hook_and_restores_the_fast_path():
    x = _leaf([1.0])
    double = lambda g: g * 2.0  # noqa: E731 (the same function registered twice)
    first = x.register_hook(double)
    second = x.register_hook(double)
    first.remove()
    first.remove()  # idempotent
    (x * 1.0).sum().backward()
    assert to_host(x.grad).item() == 2.0  # one of the two left
    second.remove()
    assert x._node.hooks is None  # no hook left: the engine's one attribute check, nothing more
    x.grad = None
    (x * 1.0).sum().backward()
    assert to_host(x.grad).item() == 1.0


def test_first_order_hook_gets_a_constant_and_records_nothing():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    states = []
    x.register_hook(lambda g: states.append((g.requires_grad, tg.is_grad_enabled())))
    (x * w).sum().backward()
    assert states == [(False, False)]
    assert tg.is_grad_enabled()


def test_grad_returns_the_hooked_gradient_of_an_input():
    x = _leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10.0)
    (gx,) = tg.grad((x * 3.0).sum(), x)
    np.testing.assert_array_equal(gx.data, [30.0, 30.0])
    assert x.grad is None


def test_hook_maths_is_differentiated_under_create_graph():
    # y = sum(h), h = x^2, hook g -> g * h: the hooked gradient is 2 x * x^2 = 2 x^3, whose
    # derivative is 6 x^2 (it would be 2 if the hook's product were a constant).
    x = _leaf([0.5, -1.5, 2.0])
    h = x * x
    handle = h.register_hook(lambda g: g * h)
    (gx,) = tg.grad(h.sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.data, 2 * x.data**3)
    handle.remove()  # else it fires again where the second pass crosses h (as in PyTorch)
    (ggx,) = tg.grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.data, 6 * x.data**2)


def test_a_hook_left_in_place_fires_in_the_second_pass_too_as_in_torch():
    torch = pytest.importorskip("torch")
    values = np.array([0.5, -1.5, 2.0])

    def second(make, grad):
        x = make(values)
        h = x * x
        h.register_hook(lambda g: g * h)
        (gx,) = grad(h.sum(), x, create_graph=True)
        return grad(gx.sum(), x)[0].detach().numpy()

    ours = second(lambda v: Tensor(v, requires_grad=True), tg.grad)
    theirs = second(lambda v: torch.tensor(v, requires_grad=True), torch.autograd.grad)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert not np.allclose(ours, 6 * values**2)  # the hook did change the second pass


def test_hook_under_backward_create_graph_gets_a_recorded_tensor():
    x = _leaf([1.5])
    got = []
    x.register_hook(lambda g: got.append(g.requires_grad))
    (x * x * x).sum().backward(create_graph=True)
    assert got == [True]
    x.grad_tensor.sum().backward()  # d/dx 3 x^2 = 6 x, accumulated onto 3 x^2
    np.testing.assert_allclose(x.grad, 3 * 1.5**2 + 6 * 1.5)


@pytest.mark.parametrize(
    ("hook", "error", "message"),
    [
        (lambda g: g[:1], ShapeError, r"shape \(1,\) for a tensor of shape \(2,\)"),
        (lambda g: tg.astype(g, np.float32), DTypeError, r"dtype float32 .* dtype float64"),
        (lambda g: 3.0, DTypeError, r"returned a float.*shape \(2,\)"),
    ],
)
def test_bad_hook_results_are_named_errors(hook, error, message):
    x = _leaf([1.0, 2.0])
    x.register_hook(hook)
    with pytest.raises(error, match=message):
        (x * 2.0).sum().backward()


def test_hooks_need_a_tensor_in_the_graph_and_a_callable():
    with pytest.raises(GraphError, match=r"register_hook.*does not require gradients"):
        Tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(GraphError, match=r"retain_grad.*shape \(1,\)"):
        Tensor([1.0]).retain_grad()
    with pytest.raises(DTypeError, match="callable"):
        _leaf([1.0]).register_hook(3)


# ------------------------------------------------------------------ retain_grad
def test_retain_grad_fills_a_result_after_its_hooks_and_accumulates():
    x = _leaf([1.0, 2.0])
    h = x * 2.0
    h.retain_grad()  # registered first, still filled last (PyTorch)
    h.register_hook(lambda g: g * 100.0)
    y = (h * h).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(h.grad, 100.0 * 2 * h.data)
    np.testing.assert_allclose(x.grad, 2 * 100.0 * 2 * h.data)
    y.backward()
    np.testing.assert_allclose(h.grad, 2 * 100.0 * 2 * h.data)
    assert not h.is_leaf and x.is_leaf


def test_retained_grad_is_an_array_of_its_own():
    x = _leaf([1.0, 2.0])
    h = x + 0.0
    h.retain_grad()
    (h + x).sum().backward()  # add's vjp hands the same array to both inputs
    h.grad[0] = 99.0
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_retain_grad_on_a_leaf_changes_nothing():
    x = _leaf([1.0])
    x.retain_grad()
    assert x._node.hooks is None
    (x * 4.0).sum().backward()
    assert to_host(x.grad).item() == 4.0


def test_retain_grad_does_not_keep_the_tensor_alive():
    x = _leaf([1.0, 2.0])
    h = x * 2.0
    h.retain_grad()
    y = (h * 3.0).sum()
    alive = weakref.ref(h)
    del h
    gc.collect()
    assert alive() is None
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_retain_grad_under_create_graph_keeps_the_recorded_gradient():
    x = _leaf([2.0])
    h = x * x
    h.retain_grad()
    (h * h).sum().backward(create_graph=True)  # dy/dh = 2 h = 2 x^2
    np.testing.assert_allclose(h.grad, 2 * 4.0)
    h.grad_tensor.sum().backward()  # d(2 x^2)/dx = 4 x, onto x.grad = 4 x^3
    np.testing.assert_allclose(x.grad, 4 * 8.0 + 4 * 2.0)


# ------------------------------------------------------------------ against PyTorch
def test_hooks_and_retain_grad_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))

    def run(lib, make):
        x, w = make(a), make(b)
        h = (x * w).tanh()
        h.retain_grad()
        h.register_hook(lambda g: g * h.detach())
        w.register_hook(lambda g: g + 1.0)
        z = h * h + h
        z.retain_grad()
        z.sum().backward()
        return [np.asarray(t.grad) for t in (x, w, h, z)]

    ours = run(tg, lambda v: Tensor(v, requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor(v, requires_grad=True))
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
