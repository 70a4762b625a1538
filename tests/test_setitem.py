"""``x[index] = value``: numpy's assignment for the value, PyTorch's rules for what may be
written, and gradients that stay right after the write (against float64 central differences,
tolerances: tinygrad_hw.testing's defaults), including the case an in-place write gets wrong:
an earlier op that saved x's array for its own gradient."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import arrays, assert_grad_close, positive_arrays, seeds, shapes


def written(x: np.ndarray, index, value) -> np.ndarray:
    """numpy's own answer, on a copy."""
    out = x.copy()
    out[index] = value
    return out


def value_shape(data: st.DataObject, target: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts *to* ``target``: some trailing axes of it, each kept or 1."""
    kept = target[len(target) - data.draw(st.integers(0, len(target))) :]
    return tuple(data.draw(st.sampled_from([1, n])) for n in kept)


# --------------------------------------------------------------------- values
@given(data=st.data())
def test_basic_index_with_a_broadcast_value_matches_numpy(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True))
    target = x[index].shape
    value = data.draw(arrays(value_shape(data, target)))
    t = Tensor(x)
    t[index] = value
    np.testing.assert_array_equal(t.data, written(x, index, value))


@given(data=st.data())
def test_advanced_index_bool_mask_and_dtype_cast_match_numpy(data):
    x = data.draw(arrays(shapes(min_dims=1), dtype=np.float32))
    rows = data.draw(hnp.arrays(np.int64, shapes(1, 1), elements=st.integers(0, x.shape[0] - 1)))
    mask = data.draw(hnp.arrays(bool, x.shape))
    value = np.float64(1.0 / 3.0)  # a float64 value is cast to x's float32, as numpy does
    for index in [rows, mask, (mask,), Tensor(mask)]:
        t = Tensor(x)
        t[index] = value
        assert t.dtype == np.float32
        plain = index.data if isinstance(index, Tensor) else index
        np.testing.assert_array_equal(t.data, written(x, plain, value))
    t = Tensor(x)
    t[mask] = np.arange(mask.sum())  # one value per selected element
    np.testing.assert_array_equal(t.data, written(x, mask, np.arange(mask.sum())))


def test_a_float_value_written_into_an_integer_tensor_is_truncated_as_in_numpy():
    x = Tensor(np.arange(4))
    x[1:3] = [2.7, -1.5]
    assert x.dtype == np.arange(4).dtype
    np.testing.assert_array_equal(x.data, written(np.arange(4), slice(1, 3), [2.7, -1.5]))


def test_repeated_positions_with_a_constant_value_follow_numpy():
    x = Tensor(np.zeros(3))
    x[[0, 0, 2]] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.data, written(np.zeros(3), [0, 0, 2], [1.0, 2.0, 3.0]))


# --------------------------------------------------------------------- gradients
@given(data=st.data())
def test_gradient_after_a_write_matches_finite_differences(data):
    """x's gradient passes except at index, value's is read at index and summed back over
    its broadcast; first and second order."""
    x = data.draw(arrays(shapes(min_dims=1, max_side=3)))
    index = data.draw(hnp.basic_indices(x.shape))
    target = x[index].shape
    value = data.draw(arrays(value_shape(data, target)))

    def fn(a: Tensor, v: Tensor) -> Tensor:
        y = a * 1.0  # a non-leaf, so it may be written
        y[index] = v
        return y * y.tanh()

    assert_grad_close(fn, x, value, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_writing_an_array_an_earlier_op_saved_leaves_its_gradient_right(data):
    """The trap: y = x * w saves x's array for w's gradient, and sqrt saves its output, which
    is x's array. An in-place write into x.data would change both saved arrays."""
    a = data.draw(positive_arrays(shapes(min_dims=1, max_side=3)))
    w = data.draw(arrays(a.shape))
    n = a.shape[0]
    picks = st.integers(0, n - 1)
    rows = data.draw(hnp.arrays(np.int64, min(n, 2), elements=picks, unique=True))
    mask = data.draw(hnp.arrays(bool, a.shape))

    def fn(a: Tensor, w: Tensor, v: Tensor) -> Tensor:
        x = a.sqrt()
        y = x * w
        x[rows] = v
        x[mask] = 0.5
        return (y * x).sum() + (y * y).sum()

    value = data.draw(arrays(a[rows].shape[1:]))  # broadcast over the picked rows
    assert_grad_close(fn, a, w, value, seed=data.draw(seeds()), order=2)

    at, wt = Tensor(a, requires_grad=True), Tensor(w, requires_grad=True)
    x = at.sqrt()
    y = x * wt
    x[rows] = 10.0
    y.sum().backward()
    np.testing.assert_allclose(wt.grad, np.sqrt(a), rtol=1e-12)  # the old x, not the new
    np.testing.assert_allclose(at.grad, w * 0.5 / np.sqrt(a), rtol=1e-12)


def test_a_write_into_a_constant_puts_it_in_the_graph():
    v = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    x = Tensor(np.ones((2, 2)))
    x[:, 1] = v
    assert x.requires_grad and not x.is_leaf
    (x * x).sum().backward()
    np.testing.assert_array_equal(v.grad, 2 * v.data)


def test_a_float64_value_into_float32_gets_a_float64_gradient():
    v = Tensor(np.array(1.25), requires_grad=True)
    x = Tensor(np.zeros(3, np.float32)) * 1.0
    x[1:] = v
    assert x.dtype == np.float32
    (x * x).sum().backward()
    assert to_host(v.grad).dtype == np.float64
    np.testing.assert_allclose(v.grad, 2 * 2 * 1.25)


def test_under_no_grad_a_non_leaf_still_loses_the_written_elements():
    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = a * 2.0
    with tg.no_grad():
        x[0] = 5.0
    np.testing.assert_array_equal(x.data, [5.0, 4.0, 6.0])
    x.sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 2.0, 2.0])


def test_a_leaf_may_be_written_under_no_grad_and_earlier_graphs_keep_its_old_value():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    with tg.no_grad():
        w[0] = 10.0
    assert w.is_leaf and w.requires_grad
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # the gradient at the values used


def test_a_view_taken_before_the_write_does_not_see_it():
    """The documented price of the out-of-place write (PyTorch's view would see it)."""
    x = Tensor(np.zeros(3))
    before = x.numpy()
    x[0] = 1.0
    assert before[0] == 0.0 and x.data[0] == 1.0


# --------------------------------------------------------------------- refusals
def test_writing_into_a_leaf_that_requires_grad_is_a_graph_error():
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(tg.GraphError, match=r"leaf tensor that requires grad \(shape \(3,\)"):
        w[0] = 1.0
    np.testing.assert_array_equal(w.data, np.zeros(3))


def test_repeated_positions_with_a_value_that_requires_grad_are_refused():
    x = Tensor(np.zeros(3)) * 1.0
    v = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(tg.BadIndexError, match="more than once"):
        x[[1, 1]] = v


@pytest.mark.parametrize(
    ("index", "value", "error", "message"),
    [
        (5, 1.0, tg.BadIndexError, "cannot index shape"),
        ((0, 0, 0), 1.0, tg.BadIndexError, "cannot index shape"),
        (slice(0, 2), np.ones(3), tg.ShapeError, r"shape \(3,\) cannot be broadcast"),
        (0, "text", tg.DTypeError, "string"),
    ],
)
def test_bad_writes_name_the_problem(index, value, error, message):
    x = Tensor(np.zeros((3, 2)))
    with pytest.raises(error, match=message):
        x[index] = value


def test_a_value_that_requires_grad_cannot_go_into_an_integer_tensor():
    x = Tensor(np.arange(3))
    with pytest.raises(tg.DTypeError, match="int"):
        x[0] = Tensor(np.array(1.0), requires_grad=True)
