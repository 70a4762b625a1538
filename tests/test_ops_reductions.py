"""Reductions and the softmax family: the tape against float64 central differences.

Axes are drawn as None, one int (negative included) or a tuple of distinct ints (empty
included), with keepdims both ways, over shapes of 0 to 3 axes with size-1 axes. Tolerances:
atol 1e-6 from tinygrad_hw.testing (central-difference error ~1e-10 for values in [-3, 3]).
Forward values are checked against numpy in float64.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_hw import Tensor
from tinygrad_hw.testing import (
    arrays,
    arrays_with_unique_extrema,
    assert_grad_close,
    axes,
    axis,
    seeds,
    shapes,
)

SMOOTH = {"sum": (Tensor.sum, np.sum), "mean": (Tensor.mean, np.mean)}


@pytest.mark.parametrize("name", list(SMOOTH))
@given(data=st.data(), keepdims=st.booleans())
def test_sum_and_mean_match_finite_differences(name, data, keepdims):
    method, oracle = SMOOTH[name]
    x = data.draw(arrays(shapes()))
    reduced = data.draw(axes(x.ndim))
    out = method(Tensor(x), axis=reduced, keepdims=keepdims)
    np.testing.assert_allclose(out.data, oracle(x, axis=reduced, keepdims=keepdims), rtol=1e-12)
    assert_grad_close(
        lambda t: method(t, axis=reduced, keepdims=keepdims), x, seed=data.draw(seeds()), order=2
    )


EXTREMA = {"max": (Tensor.max, np.max), "min": (Tensor.min, np.min)}


@pytest.mark.parametrize("name", list(EXTREMA))
@given(data=st.data(), keepdims=st.booleans())
def test_max_and_min_match_finite_differences_with_a_unique_extremum(name, data, keepdims):
    """Elements are pairwise >= 0.05 apart (arrays_with_unique_extrema): each reduced slice
    has one extremum and a 1e-6 perturbation never changes which element it is."""
    method, oracle = EXTREMA[name]
    x = data.draw(arrays_with_unique_extrema(shapes()))
    reduced = data.draw(axes(x.ndim))
    out = method(Tensor(x), axis=reduced, keepdims=keepdims)
    np.testing.assert_array_equal(out.data, oracle(x, axis=reduced, keepdims=keepdims))
    assert_grad_close(
        lambda t: method(t, axis=reduced, keepdims=keepdims), x, seed=data.draw(seeds()), order=2
    )


def test_max_splits_the_gradient_evenly_between_ties():
    """At a tie max is not differentiable; the library's documented choice is an even split
    (a subgradient), so the total gradient is still the upstream one."""
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]]), requires_grad=True)
    x.max(axis=1).backward(np.array([0.8, -1.5]))
    np.testing.assert_allclose(x.grad, [[0.0, 0.4, 0.4], [-1.5, 0.0, 0.0]])


def _logsumexp(x: np.ndarray, ax: int, keepdims: bool) -> np.ndarray:
    """Float64 oracle: naive, fine for values in [-3, 3] to ~1e-15 absolute (hence atol)."""
    return np.log(np.sum(np.exp(x), axis=ax, keepdims=keepdims))


@given(data=st.data(), keepdims=st.booleans())
def test_logsumexp_matches_finite_differences(data, keepdims):
    x = data.draw(arrays(shapes(min_dims=1)))
    ax = data.draw(axis(x.ndim))
    out = Tensor(x).logsumexp(axis=ax, keepdims=keepdims)
    np.testing.assert_allclose(out.data, _logsumexp(x, ax, keepdims), atol=1e-12)
    assert_grad_close(
        lambda t: t.logsumexp(axis=ax, keepdims=keepdims), x, seed=data.draw(seeds()), order=2
    )


@given(data=st.data())
def test_softmax_matches_finite_differences(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    ax = data.draw(axis(x.ndim))
    expected = np.exp(x) / np.sum(np.exp(x), axis=ax, keepdims=True)
    np.testing.assert_allclose(Tensor(x).softmax(axis=ax).data, expected, rtol=1e-12)
    assert_grad_close(lambda t: t.softmax(axis=ax), x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_log_softmax_matches_finite_differences(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    ax = data.draw(axis(x.ndim))
    expected = x - _logsumexp(x, ax, keepdims=True)
    np.testing.assert_allclose(Tensor(x).log_softmax(axis=ax).data, expected, atol=1e-12)
    assert_grad_close(lambda t: t.log_softmax(axis=ax), x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_the_softmax_family_defaults_to_the_last_axis(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    np.testing.assert_array_equal(Tensor(x).softmax().data, Tensor(x).softmax(axis=-1).data)
    np.testing.assert_array_equal(
        Tensor(x).log_softmax().data, Tensor(x).log_softmax(axis=x.ndim - 1).data
    )
    np.testing.assert_allclose(Tensor(x).logsumexp().data, _logsumexp(x, -1, False), atol=1e-12)
