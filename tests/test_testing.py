"""tinygrad_hw.testing: the strategies generate what they promise, and the assertions fail on
wrong gradients (a check that cannot fail checks nothing)."""

import itertools

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinygrad_hw import GradcheckError, Tensor, ops
from tinygrad_hw.ops.devices import default_device, to_device
from tinygrad_hw.ops.primitive import primitive
from tinygrad_hw.recording import apply
from tinygrad_hw.testing import (
    arrays,
    arrays_away_from,
    arrays_with_unique_extrema,
    assert_grad_close,
    assert_inner_product_identity,
    assert_vjp_matches_finite_differences,
    axes,
    broadcastable_shapes,
    positive_arrays,
    shapes,
    tensors,
)


def _exists(strategy: st.SearchStrategy, condition) -> None:
    """Assert the strategy can produce an example satisfying ``condition`` (coverage check)."""
    find(strategy, condition, settings=settings(database=None, max_examples=2000))


# --------------------------------------------------------------------- strategies
@given(shape=shapes(min_dims=1, max_dims=2, max_side=3))
def test_shapes_respect_their_bounds(shape):
    assert 1 <= len(shape) <= 2 and all(1 <= n <= 3 for n in shape)


def test_shapes_include_0d_and_size_1_axes():
    _exists(shapes(), lambda s: s == ())
    _exists(shapes(), lambda s: len(s) >= 2 and 1 in s)


@given(drawn=st.integers(2, 3).flatmap(lambda n: broadcastable_shapes(n).map(lambda s: (n, s))))
def test_broadcastable_shapes_broadcast_together(drawn):
    count, drawn_shapes = drawn
    assert len(drawn_shapes) == count
    np.broadcast_shapes(*drawn_shapes)  # numpy raises ValueError if they do not


def test_broadcastable_shapes_cover_different_ranks_0d_and_stretched_size_1_axes():
    pairs = broadcastable_shapes()
    _exists(pairs, lambda s: len(s[0]) != len(s[1]))
    _exists(pairs, lambda s: () in s)
    _exists(pairs, lambda s: len(s[0]) == 1 and len(s[1]) == 3)

    def stretched(s):  # an axis of size 1 facing an axis longer than 1
        aligned = zip(s[0][::-1], s[1][::-1], strict=False)  # numpy aligns trailing axes
        return any(1 in (a, b) and max(a, b) > 1 for a, b in aligned)

    _exists(pairs, stretched)


@given(data=st.data())
def test_axes_are_accepted_by_numpy_and_distinct(data):
    x = data.draw(arrays(shapes()))
    chosen = data.draw(axes(x.ndim))
    np.sum(x, axis=chosen)  # numpy raises for an out-of-range or repeated axis
    if isinstance(chosen, tuple):
        assert len({a % x.ndim for a in chosen}) == len(chosen)


def test_axes_cover_none_negative_ints_and_tuples():
    _exists(axes(3), lambda a: a is None)
    _exists(axes(3), lambda a: isinstance(a, int) and a < 0)
    _exists(axes(3), lambda a: isinstance(a, tuple) and len(a) >= 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_arrays_and_tensors_are_finite_bounded_and_of_the_dtype(dtype, data):
    shape = data.draw(shapes())
    x = data.draw(arrays(shape, dtype))
    assert x.shape == shape and x.dtype == dtype
    assert np.all(np.abs(x) <= 3.0)
    t = data.draw(tensors(shape, dtype))
    assert t.requires_grad and t.dtype == dtype and np.isfinite(t.data).all()


@given(x=positive_arrays(shapes(), min_value=0.25))
def test_positive_arrays_are_bounded_away_from_zero(x):
    assert np.all(x >= 0.25)


@given(data=st.data())
def test_arrays_away_from_keep_their_margin_from_every_kink(data):
    kinks = (-1.0, 0.5)
    x = data.draw(arrays_away_from(shapes(), kinks=kinks, margin=0.2))
    for k in kinks:
        assert np.all(np.abs(x - k) > 0.2)


@given(x=arrays_with_unique_extrema(shapes(), gap=0.05))
def test_unique_extrema_arrays_are_pairwise_a_gap_apart(x):
    """Pairwise separation implies a unique max and min of every slice, along any axes."""
    for a, b in itertools.combinations(x.ravel(), 2):
        assert abs(a - b) >= 0.05 - 1e-12  # the grid arithmetic rounds at ~1e-16
    for axis in range(x.ndim):
        ties = np.sum(x == np.max(x, axis=axis, keepdims=True), axis=axis)
        assert np.all(ties == 1)


def test_unique_extrema_arrays_are_shuffled():
    _exists(arrays_with_unique_extrema((4,)), lambda x: np.argmax(x) != 3 and np.argmin(x) != 0)


# --------------------------------------------------------------------- assertions
# The sigmoid forward with the derivative s instead of s (1 - s).
WRONG_SIGMOID = primitive(
    "wrong_sigmoid", ops.sigmoid.forward, [lambda xp, g, out, x: g * out], saves_out=True
)


def test_assert_grad_close_passes_a_right_gradient_and_fails_a_wrong_one():
    x = np.linspace(-2.0, 2.0, 6).reshape(2, 3)
    assert_grad_close(lambda t: t.sigmoid() * t, x, seed=1)

    def wrong(t: Tensor) -> Tensor:
        return apply(WRONG_SIGMOID, t)

    with pytest.raises(AssertionError, match="input 0"):
        assert_grad_close(wrong, x, seed=1)
    with pytest.raises(GradcheckError):
        assert_grad_close(wrong, x, seed=1)


def test_assert_grad_close_treats_tensors_without_grad_as_constants():
    """Only float ndarrays and Tensors that require grad are checked: a wrong vjp for a
    constant input is never called, so it cannot fail the check."""
    x = np.linspace(-2.0, 2.0, 6)

    wrong_mul = primitive(
        "mul",
        lambda xp, t, c: t * c,
        [lambda xp, g, out, t, c: g * c, lambda xp, g, out, t, c: g * 0],
    )

    def times_constant_with_wrong_vjp(t: Tensor, c: Tensor) -> Tensor:
        return apply(wrong_mul, t, c)

    assert_grad_close(times_constant_with_wrong_vjp, x, Tensor(x + 1.0), seed=2)
    with pytest.raises(GradcheckError, match="input 1"):
        assert_grad_close(times_constant_with_wrong_vjp, x, x + 1.0, seed=2)


def test_assert_vjp_matches_finite_differences_checks_a_primitive_directly():
    x = np.linspace(-2.0, 2.0, 5)
    assert_vjp_matches_finite_differences(ops.sigmoid, [x], seed=4)
    with pytest.raises(GradcheckError, match="input 0"):
        assert_vjp_matches_finite_differences(WRONG_SIGMOID, [x], seed=4)


@given(data=st.data())
def test_assert_vjp_matches_finite_differences_draws_its_seed_and_takes_params(data):
    logits = data.draw(arrays((3, 4)))
    params = {"labels": np.array([0, 3, 3]), "reduction": "mean"}
    assert_vjp_matches_finite_differences(ops.cross_entropy_labels, [logits], data, params=params)
    with pytest.raises(GradcheckError):
        params = {"labels": np.array([0, 3, 3]), "reduction": "mean"}
        assert_vjp_matches_finite_differences(
            primitive(
                "wrong_ce",
                ops.cross_entropy_labels.forward,
                [lambda xp, g, out, z, *, labels, reduction, probs: probs * g],
                residuals=True,
            ),
            [logits],
            data,
            params=params,
        )


def test_assert_inner_product_identity_passes_a_right_jacobian_and_fails_a_transposed_one():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    assert_inner_product_identity(lambda a, b: (a @ b).tanh(), a, b, seed=3)

    b = to_device(b, default_device())  # the primitive's constant, on the inputs' device
    forgot_transpose = primitive("bad_matmul", lambda xp, t: t @ b, [lambda xp, g, out, t: g @ b])

    def transposed(t: Tensor) -> Tensor:  # t @ b with a vjp that forgot to transpose b
        return apply(forgot_transpose, t)

    with pytest.raises(GradcheckError, match="inner-product"):
        assert_inner_product_identity(transposed, a, seed=3)
