"""Orderings and truth tests: sort and topk (differentiable values), argsort, argmin, any,
all, isnan, isfinite (results outside the graph).

sort and topk are permutations of the input: piecewise linear, with kinks where two elements
tie. Their gradients are checked (first and second order) on arrays whose elements are
pairwise >= 0.05 apart (arrays_with_unique_extrema), so a 1e-6 step never changes the
permutation. Orders are checked against numpy, and against PyTorch where numpy has no
counterpart (descending stable order, NaN placement, topk).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import ArgumentError, DTypeError, ShapeError, Tensor
from tinygrad_hw.testing import (
    arrays,
    arrays_with_unique_extrema,
    assert_grad_close,
    axes,
    axis,
    seeds,
    shapes,
)

# values on a coarse grid, so that ties are common
TIED = st.integers(-2, 2).map(float)


# --------------------------------------------------------------------- sort, argsort
@given(data=st.data(), descending=st.booleans())
def test_sort_matches_numpy_and_finite_differences(data, descending):
    x = data.draw(arrays_with_unique_extrema(shapes(min_dims=1)))
    along = data.draw(axis(x.ndim))
    expected = np.sort(x, axis=along)
    if descending:
        expected = np.flip(expected, axis=along)
    np.testing.assert_array_equal(tg.sort(x, axis=along, descending=descending).data, expected)
    assert_grad_close(
        lambda t: t.sort(axis=along, descending=descending), x, seed=data.draw(seeds()), order=2
    )


def test_sort_sends_each_gradient_back_to_where_the_value_came_from():
    x = Tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    x.sort().backward(np.array([10.0, 20.0, 30.0]))  # sorted: 1 (from 1), 2 (from 2), 3 (from 0)
    np.testing.assert_array_equal(x.grad, [30.0, 10.0, 20.0])


@given(data=st.data())
def test_argsort_is_numpys_stable_argsort(data):
    x = data.draw(arrays(shapes(min_dims=1), elements=TIED))
    along = data.draw(axis(x.ndim))
    np.testing.assert_array_equal(
        Tensor(x).argsort(axis=along), np.argsort(x, axis=along, kind="stable")
    )


@given(data=st.data())
def test_descending_argsort_is_stable_and_puts_nan_first_like_torch(data):
    torch = pytest.importorskip("torch")
    elements = st.one_of(TIED, st.just(float("nan")))
    x = data.draw(arrays(shapes(min_dims=1), elements=elements))
    along = data.draw(axis(x.ndim))
    for descending in (False, True):
        expected = torch.sort(torch.tensor(x), dim=along, descending=descending, stable=True)
        order = tg.argsort(x, axis=along, descending=descending)
        np.testing.assert_array_equal(order, expected.indices.numpy())
        values = tg.sort(x, axis=along, descending=descending).data
        np.testing.assert_array_equal(values, expected.values.numpy())


def test_descending_argsort_of_unsigned_and_bool_data():
    """argsort(-x) would wrap for unsigned integers; the reversed-ascending order does not."""
    x = np.array([1, 3, 0, 3], dtype=np.uint8)
    np.testing.assert_array_equal(tg.argsort(x, descending=True), [1, 3, 0, 2])
    np.testing.assert_array_equal(
        tg.argsort(np.array([False, True, True]), descending=True), [1, 2, 0]
    )


# --------------------------------------------------------------------- topk
@given(data=st.data(), largest=st.booleans())
def test_topk_matches_sorting_and_finite_differences(data, largest):
    x = data.draw(arrays_with_unique_extrema(shapes(min_dims=1)))
    along = data.draw(axis(x.ndim))
    k = data.draw(st.integers(0, x.shape[along]), label="k")
    values, indices = tg.topk(x, k, axis=along, largest=largest)
    order = np.argsort(-x if largest else x, axis=along)
    expected = np.take(order, np.arange(k), axis=along)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(values.data, np.take_along_axis(x, expected, axis=along))
    assert_grad_close(
        lambda t: t.topk(k, axis=along, largest=largest)[0], x, seed=data.draw(seeds()), order=2
    )


def test_topk_matches_torch_including_ties():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3.0, 3.0, 2.0], [0.0, -1.0, 5.0, 5.0]])
    for largest in (True, False):
        values, indices = tg.topk(x, 2, largest=largest)
        expected = torch.topk(torch.tensor(x), 2, largest=largest)
        np.testing.assert_array_equal(values.data, expected.values.numpy())
        np.testing.assert_array_equal(indices, expected.indices.numpy())


def test_topk_refuses_a_bad_k():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ArgumentError, match=r"k=4 is out of range for axis 1 of shape \(2, 3\)"):
        x.topk(4)
    with pytest.raises(ArgumentError, match="k=-1"):
        x.topk(-1)
    with pytest.raises(DTypeError, match="k must be an int"):
        x.topk(1.5)


@pytest.mark.parametrize(
    "call", [lambda t: t.sort(), lambda t: t.argsort(), lambda t: t.topk(1)], ids=str
)
def test_orderings_refuse_a_0d_tensor_and_a_bad_axis(call):
    with pytest.raises(ShapeError, match="0-d"):
        call(Tensor(1.0))
    with pytest.raises(ShapeError, match="out of range"):
        Tensor(np.ones(3)).sort(axis=1)


# --------------------------------------------------------------------- argmin
@given(data=st.data())
def test_argmin_matches_numpy(data):
    x = data.draw(arrays(shapes(min_dims=1), elements=TIED))
    along = data.draw(st.one_of(st.none(), axis(x.ndim)))
    np.testing.assert_array_equal(Tensor(x).argmin(axis=along), np.argmin(x, axis=along))
    np.testing.assert_array_equal(tg.argmax(x, axis=along), np.argmax(x, axis=along))


def test_argmin_refuses_an_empty_tensor():
    with pytest.raises(ShapeError, match="argmin: empty tensor"):
        tg.argmin(np.ones((0, 2)))


# --------------------------------------------------------------------- truth tests
@pytest.mark.parametrize("name", ["any", "all"])
@given(data=st.data(), keepdims=st.booleans())
def test_any_and_all_match_numpy_as_bool_tensors(name, data, keepdims):
    x = data.draw(arrays(shapes(min_side=0), elements=st.sampled_from([0.0, 1.0])))
    reduced = data.draw(axes(x.ndim))
    out = getattr(Tensor(x), name)(axis=reduced, keepdims=keepdims)
    expected = getattr(np, name)(x, axis=reduced, keepdims=keepdims)
    assert isinstance(out, Tensor) and out.dtype == bool and not out.requires_grad
    np.testing.assert_array_equal(out.data, expected)
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(
        getattr(tg, name)(x, axis=reduced, keepdims=keepdims).data, expected
    )


def test_truth_tests_work_in_where_and_as_masks():
    x = Tensor(np.array([[1.0, np.nan], [np.inf, 2.0]]), requires_grad=True)
    assert x.isnan().dtype == bool and x.isfinite().dtype == bool
    np.testing.assert_array_equal(x.isnan().data, [[False, True], [False, False]])
    np.testing.assert_array_equal(tg.isnan(x).data, np.isnan(x.data))
    np.testing.assert_array_equal(x.isfinite().data, np.isfinite(x.data))
    clean = tg.where(x.isfinite(), x, 0.0)
    clean.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0], [0.0, 1.0]])
    rows = x.isfinite().all(axis=1)
    np.testing.assert_array_equal(x[~rows].data.shape, (2, 2))
    np.testing.assert_array_equal((x > 1).any(axis=0).data, [True, True])


def test_any_and_all_refuse_a_bad_axis():
    with pytest.raises(ShapeError, match="any: axis 2 is out of range"):
        Tensor(np.ones((2, 2))).any(axis=2)
    with pytest.raises(ShapeError, match="all: repeated axis"):
        Tensor(np.ones((2, 2))).all(axis=(0, 0))
