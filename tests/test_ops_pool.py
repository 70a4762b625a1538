"""Pooling (max and average): values against a direct definition (a float64 loop over the
windows, written here) and against PyTorch when it is installed, ties split evenly, gradients
of order 1 and 2 against float64 central differences (tolerances of tinygrad_hw.testing,
justified there), over drawn shapes, kernels, strides and paddings, on both the tiled
(stride = kernel) and the general path.

Images stay tiny (N, C <= 2, sides <= 7, kernels <= 3) so finite differences are cheap.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops import conv as conv_ops
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import (
    arrays,
    arrays_with_unique_extrema,
    assert_grad_close,
    seeds,
)


def direct_pool2d(x, kernel, stride, padding, reduce, fill):
    """reduce (np.max or np.mean) over each window of x padded with ``fill``, one window at a
    time."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    h, w = x.shape[-2:]
    padded = np.full((*x.shape[:-2], h + 2 * ph, w + 2 * pw), fill)
    padded[..., ph : ph + h, pw : pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((*x.shape[:-2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = padded[..., i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[..., i, j] = reduce(window, axis=(-2, -1))
    return out


@st.composite
def pool_cases(draw, max_side=6):
    """(x shape, kernel, stride, padding) with padding <= kernel / 2 (PyTorch's rule)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(
        draw(st.integers(max(1, k - 2 * p), max_side)) for k, p in zip(kernel, padding, strict=True)
    )
    lead = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2,)]))  # (N, C) or unbatched (C,)
    return (*lead, *spatial), kernel, stride, padding


# --------------------------------------------------------------------------- pooling
POOLS = {
    "max": (F.max_pool2d, np.max, -np.inf),
    "avg": (F.avg_pool2d, np.mean, 0.0),
}


@pytest.mark.parametrize("name", list(POOLS))
@given(data=st.data())
def test_pool_matches_the_direct_definition(name, data):
    pool, reduce, fill = POOLS[name]
    shape, kernel, stride, padding = data.draw(pool_cases())
    x = data.draw(arrays(shape))
    expected = direct_pool2d(x, kernel, stride, padding, reduce, fill)
    np.testing.assert_allclose(pool(x, kernel, stride, padding).data, expected, rtol=1e-12)
    x32 = Tensor(x.astype(np.float32), requires_grad=True)
    out = pool(x32, kernel, stride, padding)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert to_host(x32.grad).dtype == np.float32


@pytest.mark.parametrize("name", list(POOLS))
@given(data=st.data())
def test_pool_first_and_second_derivatives_match_finite_differences(name, data):
    """Elements pairwise >= 0.05 apart (arrays_with_unique_extrema): every window has one
    maximum and a 1e-6 step never changes it. The square makes the second derivative
    nonzero and sends it back through the pool's recorded vjp."""
    pool = POOLS[name][0]
    shape, kernel, stride, padding = data.draw(pool_cases(max_side=5))
    x = data.draw(arrays_with_unique_extrema(shape))
    assert_grad_close(
        lambda t: pool(t, kernel, stride, padding) ** 2, x, seed=data.draw(seeds()), order=2
    )


@given(data=st.data())
def test_pools_match_torch(data):
    torch = pytest.importorskip("torch")
    shape, kernel, stride, padding = data.draw(pool_cases())
    x = data.draw(arrays_with_unique_extrema(shape))  # no ties: PyTorch splits them otherwise
    g = np.random.default_rng(data.draw(seeds())).standard_normal(
        F.max_pool2d(x, kernel, stride, padding).shape
    )
    for ours, theirs in [
        (F.max_pool2d, torch.nn.functional.max_pool2d),
        (F.avg_pool2d, torch.nn.functional.avg_pool2d),
    ]:
        xt, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, ref = ours(xt, kernel, stride, padding), theirs(tx, kernel, stride, padding)
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-15)
        out.backward(g)
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(to_host(xt.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_max_pool_splits_the_gradient_evenly_between_tied_maxima():
    """The documented choice at a tie (as the library's max): 1/t to each of t tied maxima;
    an element that is the maximum of two overlapping windows receives both gradients."""
    x = Tensor(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).backward(np.array([[[[0.8]]]]))
    np.testing.assert_allclose(to_host(x.grad)[0, 0], [[0.0, 0.4], [0.4, 0.0]])
    y = Tensor(np.array([[[0.0, 5.0, 1.0]]]), requires_grad=True)  # (C, H, W) = (1, 1, 3)
    F.max_pool2d(y, (1, 2), stride=1).backward(np.array([[[2.0, -0.5]]]))
    np.testing.assert_allclose(to_host(y.grad), [[[0.0, 1.5, 0.0]]])


@st.composite
def tile_cases(draw, max_side=7):
    """(x shape, kernel) for stride = kernel without padding: sides mostly multiples of the
    kernel (the windows tile the input: max_pool's reshape path), sometimes not (the last
    rows or columns then fit no window: the general path)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    spatial = tuple(
        k * draw(st.integers(1, max_side // k))
        + (draw(st.integers(0, k - 1)) if draw(st.integers(0, 3)) == 0 else 0)
        for k in kernel
    )
    lead = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2,)]))
    return (*lead, *spatial), kernel


def _pool_case(data, max_side=6):
    """Tiles (the pool's reshape path) half the time, any other pool case otherwise."""
    if data.draw(st.booleans()):
        shape, kernel = data.draw(tile_cases(max_side=max_side))
        return shape, kernel, kernel, (0, 0)
    return data.draw(pool_cases(max_side=max_side))


def direct_max_pool2d_grad(x, g, kernel, stride, padding):
    """The gradient of max_pool2d at x for cotangent g, one window at a time: each window's
    g split evenly among the positions holding its maximum (the documented tie rule)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    h, w = x.shape[-2:]
    padded = np.full((*x.shape[:-2], h + 2 * ph, w + 2 * pw), -np.inf)
    padded[..., ph : ph + h, pw : pw + w] = x
    grad = np.zeros(padded.shape)
    for lead in np.ndindex(*x.shape[:-2]):
        for i, j in np.ndindex(*g.shape[-2:]):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            window = padded[lead][rows, cols]
            hits = window == window.max()
            grad[lead][rows, cols] += hits * g[lead][i, j] / hits.sum()
    return grad[..., ph : ph + h, pw : pw + w]


@pytest.mark.parametrize("loop_from", [conv_ops.LOOP_FROM, 0], ids=["default", "loop"])
@given(data=st.data())
def test_max_pool_with_ties_matches_the_direct_definition(loop_from, data):
    """Values from {-1, 0, 1} (ties in most windows, as after a ReLU), tiles half the time:
    the values and the even split of the gradient, in float64 and float32. Tiny images
    reduce by numpy's reduction; loop_from=0 sends them through the loop over kernel
    offsets that large images take."""
    shape, kernel, stride, padding = _pool_case(data, max_side=7)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_ops, "LOOP_FROM", loop_from)
        _check_max_pool_against_the_direct_definition(data, shape, kernel, stride, padding)


def _check_max_pool_against_the_direct_definition(data, shape, kernel, stride, padding):
    x = data.draw(arrays(shape, elements=st.sampled_from([-1.0, 0.0, 1.0])))
    out = F.max_pool2d(x, kernel, stride, padding)
    expected = direct_pool2d(x, kernel, stride, padding, np.max, -np.inf)
    np.testing.assert_array_equal(out.numpy(), expected)
    g = np.random.default_rng(data.draw(seeds())).standard_normal(out.shape)
    want = direct_max_pool2d_grad(x, g, kernel, stride, padding)
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        xt = Tensor(x.astype(dtype), requires_grad=True)
        F.max_pool2d(xt, kernel, stride, padding).backward(g.astype(dtype))
        grad = to_host(xt.grad)  # numpy's array, on any backend
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, want, rtol=rtol, atol=rtol)


@given(data=st.data())
def test_max_pool_of_tiles_first_and_second_derivatives_match_finite_differences(data):
    """The reshape path (stride = kernel, no padding) on unique extrema, as the test above
    does for all pool cases; the square sends the second derivative through the vjp."""
    shape, kernel = data.draw(tile_cases(max_side=5))
    x = data.draw(arrays_with_unique_extrema(shape))
    assert_grad_close(lambda t: F.max_pool2d(t, kernel) ** 2, x, seed=data.draw(seeds()), order=2)


def test_avg_pool_counts_the_zero_padding():
    x = np.ones((1, 1, 2, 2))
    out = F.avg_pool2d(x, 2, stride=1, padding=1).numpy()[0, 0]
    np.testing.assert_allclose(out, [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def test_max_pool_with_padding_stays_finite_under_detect_anomaly():
    """The -inf padding never leaves the pool: anomaly mode has nothing to report."""
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    with tg.detect_anomaly():
        F.max_pool2d(x, 3, stride=2, padding=1).sum().backward()
    assert np.isfinite(to_host(x.grad)).all()
