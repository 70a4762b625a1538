"""The differentiable functions of ``tinygrad_hw`` (the library's own ``xp``) that have no
Tensor operator: values against numpy, first and second derivatives against float64 central
differences (tolerances justified in tinygrad_hw.testing), over shapes that broadcast."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import arrays, assert_grad_close, broadcastable_shapes, seeds, shapes


@given(data=st.data())
def test_logaddexp_matches_numpy_and_finite_differences(data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    np.testing.assert_allclose(tg.logaddexp(a, b).data, np.logaddexp(a, b), rtol=1e-12)
    assert_grad_close(tg.logaddexp, a, b, seed=data.draw(seeds()), order=2)
    assert_grad_close(lambda t: tg.logaddexp(a, t), b, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_broadcast_to_sums_the_gradient_back(data):
    shape, target = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=3, max_side=3).map(
            lambda s: (s.input_shapes[0], s.result_shape)
        )
    )
    x = data.draw(arrays(shape))
    np.testing.assert_array_equal(tg.broadcast_to(x, target).data, np.broadcast_to(x, target))
    assert_grad_close(
        lambda t: tg.broadcast_to(t, target) * tg.broadcast_to(t, target),
        x,
        seed=data.draw(seeds()),
        order=2,
    )


@given(data=st.data())
def test_expand_dims_squeeze_and_matrix_transpose_match_numpy_and_finite_differences(data):
    x = data.draw(arrays(shapes(min_dims=2)))
    ax = data.draw(st.integers(-x.ndim - 1, x.ndim))
    np.testing.assert_array_equal(tg.expand_dims(x, ax).data, np.expand_dims(x, ax))
    np.testing.assert_array_equal(
        tg.squeeze(tg.expand_dims(x, ax), ax).data, np.squeeze(np.expand_dims(x, ax), ax)
    )
    np.testing.assert_array_equal(tg.matrix_transpose(x).data, np.swapaxes(x, -1, -2))
    perm = data.draw(st.permutations(range(x.ndim)))
    np.testing.assert_array_equal(tg.permute_dims(x, perm).data, np.transpose(x, perm))

    def fn(t: Tensor) -> Tensor:
        moved = tg.permute_dims(tg.matrix_transpose(tg.squeeze(tg.expand_dims(t, ax), ax)), perm)
        return moved * moved.exp()

    assert_grad_close(fn, x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_clone_and_astype_pass_the_gradient_through(data):
    x = data.draw(arrays(shapes()))
    assert_grad_close(lambda t: tg.clone(t).tanh(), x, seed=data.draw(seeds()), order=2)
    # float64 -> float64 is the identity; float64 -> float32 -> float64 rounds, so its
    # derivative is checked by value and dtype instead of by differences
    assert_grad_close(lambda t: tg.astype(t, np.float64).exp(), x, seed=data.draw(seeds()))
    t = Tensor(x, requires_grad=True)
    narrow = tg.astype(t, np.float32)
    assert narrow.dtype == np.float32
    (narrow * narrow).sum().backward()
    assert to_host(t.grad).dtype == np.float64
    np.testing.assert_allclose(t.grad, 2 * x.astype(np.float32), rtol=1e-6)


@given(data=st.data())
def test_scatter_add_accumulates_and_its_gradient_gathers(data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(hnp.integer_array_indices(shape, result_shape=shapes(1, 2)))
    index = tuple(np.concatenate([i, i]) for i in index)  # repeats must add up
    values = data.draw(arrays(np.zeros(shape)[index].shape))
    expected = np.zeros(shape)
    np.add.at(expected, index, values)
    np.testing.assert_allclose(tg.scatter_add(values, shape, index).data, expected, rtol=1e-12)

    def fn(v: Tensor) -> Tensor:
        scattered = tg.scatter_add(v, shape, index)
        return scattered * scattered

    assert_grad_close(fn, values, seed=data.draw(seeds()), order=2)
