"""Ops that move elements (reshape, transpose, indexing, concatenate, stack) and matmul: the
tape against float64 central differences (atol 1e-6, justified in tinygrad_hw.testing).

These ops are linear, so the finite differences are exact up to rounding (~1e-10); matmul is
bilinear, also exact in each operand. Forward values are checked against numpy.
"""

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor, ops
from tinygrad_hw.testing import (
    arrays,
    assert_grad_close,
    assert_vjp_matches_finite_differences,
    axis,
    broadcastable_shapes,
    evaluate_primitive,
    seeds,
    shapes,
)


def _reshape_targets(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes with the same number of elements: flat, -1, reversed, with a 1 added."""
    size = int(np.prod(shape))
    targets = [(size,), (-1,), shape[::-1], (1, size), (*shape, 1), (size, -1)]
    return [*targets, ()] if size == 1 else targets


@given(data=st.data())
def test_reshape_and_flatten_match_finite_differences(data):
    x = data.draw(arrays(shapes()))
    target = data.draw(st.sampled_from(_reshape_targets(x.shape)))
    np.testing.assert_array_equal(Tensor(x).reshape(*target).data, x.reshape(target))
    np.testing.assert_array_equal(Tensor(x).reshape(target).data, x.reshape(target))
    np.testing.assert_array_equal(Tensor(x).flatten().data, x.ravel())
    assert_grad_close(lambda t: t.reshape(*target), x, seed=data.draw(seeds()), order=2)
    assert_grad_close(lambda t: t.flatten(), x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_transpose_matches_finite_differences(data):
    """A random permutation (a non-trivial inverse is needed in 3-d), no axes, and .T."""
    x = data.draw(arrays(shapes()))
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    np.testing.assert_array_equal(Tensor(x).transpose(*perm).data, x.transpose(perm))
    np.testing.assert_array_equal(Tensor(x).T.data, x.T)
    assert_grad_close(lambda t: t.transpose(*perm), x, seed=data.draw(seeds()), order=2)
    assert_grad_close(lambda t: t.transpose(), x, seed=data.draw(seeds()), order=2)
    assert_grad_close(lambda t: t.T, x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_getitem_with_basic_indices_matches_finite_differences(data):
    """Ints (negative too), slices (negative steps too), Ellipsis and None."""
    x = data.draw(arrays(shapes()))
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True))
    np.testing.assert_array_equal(Tensor(x)[index].data, x[index])
    assert_grad_close(lambda t: t[index], x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_getitem_with_repeated_integer_arrays_scatter_adds(data):
    """Every index array is doubled, so each picked element is picked at least twice: the
    gradient must accumulate (np.add.at), not overwrite (grad[index] = g)."""
    x = data.draw(arrays(shapes(min_dims=1)))
    drawn = data.draw(hnp.integer_array_indices(x.shape, result_shape=shapes(1, 2)))
    index = tuple(np.concatenate([i, i]) for i in drawn)
    np.testing.assert_array_equal(Tensor(x)[index].data, x[index])
    assert_grad_close(lambda t: t[index], x, seed=data.draw(seeds()), order=2)
    assert_grad_close(lambda t: t[list(index[0])], x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_getitem_mixing_an_integer_array_and_a_slice_matches_finite_differences(data):
    x = data.draw(arrays(shapes(min_dims=2)))
    in_range = st.integers(-x.shape[0], x.shape[0] - 1)  # negative rows count from the end
    rows = data.draw(hnp.arrays(np.int64, shapes(1, 2), elements=in_range))
    np.testing.assert_array_equal(Tensor(x)[rows, ::-1].data, x[rows, ::-1])
    assert_grad_close(lambda t: t[rows, ::-1], x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_getitem_with_a_boolean_mask_matches_finite_differences(data):
    """A mask of the full shape, and a mask over the leading axis only."""
    x = data.draw(arrays(shapes(min_dims=1)))
    full = data.draw(hnp.arrays(bool, x.shape))
    leading = data.draw(hnp.arrays(bool, x.shape[:1]))
    np.testing.assert_array_equal(Tensor(x)[full].data, x[full])
    np.testing.assert_array_equal(Tensor(x)[Tensor(leading)].data, x[leading])
    assert_grad_close(lambda t: t[full], x, seed=data.draw(seeds()), order=2)
    assert_grad_close(lambda t: t[leading], x, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_concatenate_matches_finite_differences(data):
    """1 to 3 pieces differing along the joined axis; one constant ndarray piece mixed in."""
    base = data.draw(shapes(min_dims=1))
    ax = data.draw(axis(len(base)))
    sides = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    pieces = [data.draw(arrays(_at(base, ax, n))) for n in sides]
    constant = pieces[0] + 1.0
    expected = np.concatenate([*pieces, constant], axis=ax)
    np.testing.assert_array_equal(tg.concatenate([*pieces, constant], axis=ax).data, expected)
    assert_grad_close(
        lambda *ts: tg.concatenate([*ts, constant], axis=ax),
        *pieces,
        seed=data.draw(seeds()),
        order=2,
    )


def _at(shape: tuple[int, ...], ax: int, n: int) -> tuple[int, ...]:
    """``shape`` with axis ``ax`` (maybe negative) set to ``n``."""
    sides = list(shape)
    sides[ax] = n
    return tuple(sides)


@given(data=st.data())
def test_stack_matches_finite_differences(data):
    """1 to 3 same-shape pieces along a new axis anywhere in -(ndim + 1)..ndim."""
    shape = data.draw(shapes())
    count = data.draw(st.integers(1, 3))
    pieces = [data.draw(arrays(shape)) for _ in range(count)]
    ax = data.draw(st.integers(-len(shape) - 1, len(shape)))
    np.testing.assert_array_equal(tg.stack(pieces, axis=ax).data, np.stack(pieces, axis=ax))
    assert_grad_close(lambda *ts: tg.stack(ts, axis=ax), *pieces, seed=data.draw(seeds()), order=2)


def _matmul_shapes(case: str, data: st.DataObject) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Operand shapes for one matmul case; batch dims (up to 2) broadcast against each other."""
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = data.draw(broadcastable_shapes(max_dims=2, max_side=3))
    return {
        "1d@1d": ((k,), (k,)),
        "1d@2d": ((k,), (k, m)),
        "2d@1d": ((n, k), (k,)),
        "2d@2d": ((n, k), (k, m)),
        "batched@batched": ((*batch_a, n, k), (*batch_b, k, m)),
        "1d@batched": ((k,), (*batch_b, k, m)),
        "batched@1d": ((*batch_a, n, k), (k,)),
    }[case]


def _matmul_oracle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum of products written out: 1-D operands promoted to a row / a column, then dropped."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out = (a2[..., :, :, None] * b2[..., None, :, :]).sum(axis=-2)
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0] if b.ndim == 1 else out[..., 0, :]
    return out


MATMUL_FORMS = {
    "tensor-tensor": lambda a, b: (operator.matmul, [a, b]),
    "tensor-ndarray": lambda a, b: (lambda t: t @ b, [a]),
    "ndarray-tensor": lambda a, b: (lambda t: a @ t, [b]),
}


@pytest.mark.parametrize("form", list(MATMUL_FORMS))
@pytest.mark.parametrize(
    "case", ["1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched@batched", "1d@batched", "batched@1d"]
)
@given(data=st.data())
def test_matmul_matches_finite_differences(case, form, data):
    """Batch axes that broadcast (size 1 against n, or missing) must be summed back."""
    shape_a, shape_b = _matmul_shapes(case, data)
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    fn, inputs = MATMUL_FORMS[form](a, b)
    out = fn(*(Tensor(x, requires_grad=True) for x in inputs))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, _matmul_oracle(a, b), rtol=1e-12, atol=1e-14)
    assert_grad_close(fn, *inputs, seed=data.draw(seeds()), order=2)


@given(n=st.integers(1, 4), fan_in=st.integers(1, 4), fan_out=st.integers(1, 4), data=st.data())
def test_linear_matches_finite_differences_and_matmul_plus_bias(n, fan_in, fan_out, data):
    """The fused x @ w + b of nn.Linear: value as matmul then add, vjps by differences."""
    x, w = data.draw(arrays((n, fan_in))), data.draw(arrays((fan_in, fan_out)))
    b = data.draw(arrays((fan_out,)))
    out, _ = evaluate_primitive(ops.linear, [x, w, b])
    np.testing.assert_allclose(out, x @ w + b, rtol=1e-12, atol=1e-14)
    assert_vjp_matches_finite_differences(ops.linear, [x, w, b], data, order=2)
