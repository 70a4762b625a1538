"""var, std, prod, cumsum, cumprod, maximum and minimum: the tape against float64 central
differences (first and second order), forward values against numpy.

Domains: std uses arrays whose elements are pairwise >= 0.05 apart (arrays_with_unique_extrema),
so every slice of two or more elements has std >= 0.025, far from its kink at std = 0. The
products use |x| in [0.5, 1.5] or exactly 0 over shapes of at most 3 x 3 x 3: products stay
within [1e-9, 6e4], so the rounding of the cotangent projection in the finite differences
(~1e-16 |<v, f>| / 1e-6) stays far below atol 1e-6; products are polynomials, smooth at zeros,
so the finite differences are exact there. maximum/minimum draw a and b on the grids 0.2 Z and
0.2 Z + 0.1, so |a - b| >= 0.1 and a 1e-6 step never crosses a tie. Tolerances are
tinygrad_hw.testing's defaults.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import ArgumentError, DTypeError, ShapeError, Tensor
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.ops.reductions import reduced_count
from tinygrad_hw.testing import (
    arrays,
    arrays_with_unique_extrema,
    assert_grad_close,
    axes,
    broadcastable_shapes,
    floats,
    seeds,
    shapes,
)

SMALL = shapes(max_side=3)
FACTORS = st.one_of(st.just(0.0), floats(0.5, 1.5), floats(-1.5, -0.5))


def _ddof(data, shape, reduced):
    n = reduced_count(shape, None if reduced is None else _normalized(reduced, len(shape)))
    return data.draw(st.integers(0, min(1, n - 1)), label="ddof")


def _normalized(reduced, ndim):
    return tuple(sorted(a % ndim for a in (reduced if isinstance(reduced, tuple) else (reduced,))))


# --------------------------------------------------------------------- var and std
STATS = {"var": (Tensor.var, np.var), "std": (Tensor.std, np.std)}


@pytest.mark.parametrize("name", list(STATS))
@given(data=st.data(), keepdims=st.booleans())
def test_var_and_std_match_numpy_and_finite_differences(name, data, keepdims):
    method, oracle = STATS[name]
    x = data.draw(arrays_with_unique_extrema(shapes()))
    reduced = data.draw(axes(x.ndim))
    ddof = _ddof(data, x.shape, reduced)
    out = method(Tensor(x), axis=reduced, keepdims=keepdims, ddof=ddof)
    expected = oracle(x, axis=reduced, keepdims=keepdims, ddof=ddof)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-15)
    assert_grad_close(
        lambda t: method(t, axis=reduced, keepdims=keepdims, ddof=ddof),
        x,
        seed=data.draw(seeds()),
        order=2,
    )


@pytest.mark.parametrize("name", list(STATS))
def test_var_and_std_take_pytorchs_correction_as_ddof(name):
    method, oracle = STATS[name]
    x = np.array([[1.0, 4.0, 2.0], [0.5, -1.0, 3.0]])
    np.testing.assert_allclose(
        method(Tensor(x), axis=1, correction=1).data, oracle(x, axis=1, ddof=1), rtol=1e-14
    )
    np.testing.assert_allclose(method(Tensor(x)).data, oracle(x), rtol=1e-14)  # ddof 0
    with pytest.raises(ArgumentError, match="not both"):
        method(Tensor(x), ddof=1, correction=1)


def test_var_and_std_match_torch_with_its_correction():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 4.0, 2.0], [0.5, -1.0, 3.0]])
    for correction in (0, 1):
        expected = torch.std(torch.tensor(x), dim=0, correction=correction).numpy()
        np.testing.assert_allclose(tg.std(x, axis=0, correction=correction).data, expected)
        expected = torch.var(torch.tensor(x), dim=1, correction=correction).numpy()
        np.testing.assert_allclose(tg.var(x, axis=1, correction=correction).data, expected)


def test_std_of_a_constant_slice_has_gradient_zero_like_torch():
    """std is not differentiable where the slice is constant (std = |t| std(v) along a line);
    the library gives 0 (a subgradient: std is convex), as PyTorch 2 does, without a NaN or
    a warning, in the first and the second derivative."""
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    v = np.array([0.7, -1.3])
    t = Tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = tg.grad(t.std(axis=1), [t], grad_outputs=v, create_graph=True)
        (h,) = tg.grad((g * Tensor(np.arange(6.0).reshape(2, 3))).sum(), [t])
    g_host, h_host = g.numpy(), h.numpy()
    np.testing.assert_array_equal(g_host[0], 0.0)
    np.testing.assert_array_equal(h_host[0], 0.0)
    centred = x[1] - x[1].mean()
    np.testing.assert_allclose(g_host[1], v[1] * centred / (3 * np.std(x[1])), rtol=1e-14)
    torch = pytest.importorskip("torch")
    tt = torch.tensor(x, requires_grad=True)
    torch.std(tt, dim=1, correction=0).backward(torch.tensor(v))
    np.testing.assert_allclose(g_host, tt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", list(STATS))
def test_var_and_std_refuse_too_few_elements_and_bad_ddof(name):
    method = STATS[name][0]
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ArgumentError, match=r"ddof=3 needs 0 <= ddof < n.*n=3"):
        method(x, axis=1, ddof=3)
    with pytest.raises(ArgumentError, match="ddof=-1"):
        method(x, ddof=-1)
    with pytest.raises(DTypeError, match="ddof must be a number"):
        method(x, ddof="1")
    with pytest.raises(ShapeError, match="empty"):
        method(Tensor(np.ones((2, 0))), axis=1)
    with pytest.raises(ShapeError, match="axis 2 is out of range"):
        method(x, axis=2)


# --------------------------------------------------------------------- prod
@given(data=st.data(), keepdims=st.booleans())
def test_prod_matches_numpy_and_finite_differences_with_zeros(data, keepdims):
    x = data.draw(arrays(SMALL, elements=FACTORS))
    reduced = data.draw(axes(x.ndim))
    out = Tensor(x).prod(axis=reduced, keepdims=keepdims)
    np.testing.assert_allclose(out.data, np.prod(x, axis=reduced, keepdims=keepdims), rtol=1e-13)
    assert_grad_close(
        lambda t: t.prod(axis=reduced, keepdims=keepdims), x, seed=data.draw(seeds()), order=2
    )


def _exclusive_products(x: np.ndarray) -> np.ndarray:
    """The oracle: d prod / dx_k = the product of the others, by deleting x_k."""
    return np.array([np.prod(np.delete(x, k)) for k in range(x.size)])


@pytest.mark.parametrize(
    "values", [[2.0, 0.0, 3.0, -1.5], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0], [0.0], [1.5, -2.0, 4.0]]
)
def test_prod_gradient_is_the_product_of_the_others_with_one_or_two_zeros(values):
    """With one zero only that element's gradient is nonzero; with two every one is 0, yet the
    second derivative d^2 prod / dx_i dx_j (the product of the rest) is not: checked too."""
    x = np.array(values)
    t = Tensor(x, requires_grad=True)
    t.prod().backward()
    np.testing.assert_array_equal(t.grad, _exclusive_products(x))
    assert_grad_close(lambda t: t.prod(), x, order=2)


def test_prod_second_derivative_at_two_zeros_is_the_product_of_the_rest():
    x = np.array([0.0, 3.0, 0.0, 2.0])
    hessian = tg.func.hessian(lambda t: t.prod(), Tensor(x)).data
    expected = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                expected[i, j] = np.prod(np.delete(x, [i, j]))
    np.testing.assert_array_equal(hessian, expected)
    assert expected[0, 2] == 6.0


def test_prod_of_an_empty_axis_is_one_with_an_empty_gradient():
    t = Tensor(np.ones((2, 0)), requires_grad=True)
    out = t.prod(axis=1)
    np.testing.assert_array_equal(out.data, [1.0, 1.0])
    out.backward(np.array([1.0, 2.0]))
    assert t.grad.shape == (2, 0)


# --------------------------------------------------------------------- cumsum, cumprod
SCANS = {"cumsum": (Tensor.cumsum, np.cumsum), "cumprod": (Tensor.cumprod, np.cumprod)}


@pytest.mark.parametrize("name", list(SCANS))
@given(data=st.data())
def test_scans_match_numpy_and_finite_differences(name, data):
    """axis None (numpy: over the flattened tensor) or one int; cumprod's inputs include exact
    zeros, where its vjp switches to the exclusive products."""
    method, oracle = SCANS[name]
    x = data.draw(arrays(SMALL, elements=FACTORS))
    along = data.draw(
        st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)) if x.ndim else st.none()
    )
    np.testing.assert_allclose(
        method(Tensor(x), axis=along).data, oracle(x, axis=along), rtol=1e-13
    )
    assert_grad_close(lambda t: method(t, axis=along), x, seed=data.draw(seeds()), order=2)


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
def test_cumprod_gradient_is_exact_with_zeros(values):
    """dL/dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j, the oracle by deleting x_k."""
    x, g = np.array(values), np.array([1.0, 2.0, 3.0, 4.0][: len(values)])
    t = Tensor(x, requires_grad=True)
    t.cumprod().backward(g)
    expected = [
        sum(g[i] * np.prod(np.delete(x[: i + 1], k)) for i in range(k, x.size))
        for k in range(x.size)
    ]
    np.testing.assert_allclose(t.grad, expected, rtol=1e-14)
    assert_grad_close(lambda t: t.cumprod(), x, order=2)


def test_cumprod_gradient_matches_torch_at_zeros():
    torch = pytest.importorskip("torch")
    x = np.array([[2.0, 0.0, 3.0, 4.0], [1.0, -2.0, 0.0, 0.0]])
    g = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 1.0]])
    t = Tensor(x, requires_grad=True)
    t.cumprod(axis=1).backward(g)
    tt = torch.tensor(x, requires_grad=True)
    torch.cumprod(tt, dim=1).backward(torch.tensor(g))
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("name", list(SCANS))
def test_scans_of_a_0d_tensor_flatten_or_refuse_an_axis(name):
    method, oracle = SCANS[name]
    np.testing.assert_array_equal(method(Tensor(2.0)).data, oracle(np.float64(2.0)))
    with pytest.raises(ShapeError, match="0-d"):
        method(Tensor(2.0), axis=0)
    with pytest.raises(ShapeError, match="out of range"):
        method(Tensor(np.ones((2, 3))), axis=2)


# --------------------------------------------------------------------- dtypes
@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t.var(axis=0),
        lambda t: t.std(),
        lambda t: t.prod(axis=1),
        lambda t: t.cumsum(axis=0),
        lambda t: t.cumprod(axis=1),
        lambda t: tg.maximum(t, 0.5),
        lambda t: tg.minimum(t, np.ones(3)),
    ],
)
def test_float32_stays_float32_in_values_and_gradients(fn):
    t = Tensor(np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 0.25]], dtype=np.float32), True)
    out = fn(t)
    assert out.dtype == np.float32
    out.sum().backward()
    assert to_host(t.grad).dtype == np.float32


def test_integer_inputs_follow_numpy():
    x = np.array([[1, 2, 3], [4, 5, 7]], dtype=np.int64)
    assert tg.var(x).dtype == np.float64 and tg.std(x, axis=0).dtype == np.float64
    np.testing.assert_allclose(tg.var(x, axis=1).data, np.var(x, axis=1))
    for fn, oracle in [(tg.prod, np.prod), (tg.cumsum, np.cumsum), (tg.cumprod, np.cumprod)]:
        out = fn(x)
        assert out.dtype == oracle(x).dtype == np.int64
        np.testing.assert_array_equal(out.data, oracle(x))
    assert tg.maximum(x, x.T[:1].T).dtype == np.int64


# --------------------------------------------------------------------- maximum, minimum
def _grid(shape, offset: float):
    return arrays(shape, elements=st.integers(-15, 15).map(lambda k: 0.2 * k + offset))


EXTREMA = {"maximum": (tg.maximum, np.maximum), "minimum": (tg.minimum, np.minimum)}


@pytest.mark.parametrize("name", list(EXTREMA))
@given(data=st.data())
def test_maximum_and_minimum_match_numpy_and_finite_differences(name, data):
    fn, oracle = EXTREMA[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(_grid(shape_a, 0.0)), data.draw(_grid(shape_b, 0.1))
    np.testing.assert_array_equal(fn(Tensor(a), b).data, oracle(a, b))
    assert_grad_close(fn, a, b, seed=data.draw(seeds()), order=2)


@pytest.mark.parametrize("name", list(EXTREMA))
def test_maximum_and_minimum_split_a_tie_evenly_like_torch(name):
    fn = EXTREMA[name][0]
    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    fn(a, b).backward(np.array([0.8, 1.0, 1.0]))
    a_wins = {"maximum": [0.0, 1.0], "minimum": [1.0, 0.0]}[name]  # at 2 vs 5 and 3 vs 0
    np.testing.assert_array_equal(a.grad, [0.4, *a_wins])
    np.testing.assert_array_equal(b.grad, [0.4, *(1.0 - np.array(a_wins))])
    torch = pytest.importorskip("torch")
    ta = torch.tensor(a.data, requires_grad=True)
    tb = torch.tensor(b.data, requires_grad=True)
    getattr(torch, name)(ta, tb).backward(torch.tensor([0.8, 1.0, 1.0], dtype=torch.float64))
    np.testing.assert_array_equal(a.grad, ta.grad.numpy())
    np.testing.assert_array_equal(b.grad, tb.grad.numpy())


def test_maximum_refuses_shapes_that_do_not_broadcast():
    with pytest.raises(ShapeError, match=r"maximum: shapes \(2, 3\) and \(4,\)"):
        tg.maximum(Tensor(np.ones((2, 3))), np.ones(4))
