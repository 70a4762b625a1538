"""Convolution: values against a direct definition (a float64 loop over output
positions, written here) and against PyTorch when it is installed, gradients of order 1 and 2
against float64 central differences (tolerances of tinygrad_hw.testing, justified there),
over drawn shapes, strides, paddings, dilations and groups; the window primitives' adjointness;
dtypes; and the argument checks.

Images stay tiny (N <= 2, C <= 3, sides <= 6, kernels <= 3) so finite differences are cheap;
second-order checks use one image of sides <= 4.
"""

import contextlib
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import ArgumentError, DTypeError, ShapeError, Tensor, ops
from tinygrad_hw.nn import functional as F
from tinygrad_hw.nn import functional_conv
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import (
    arrays,
    assert_grad_close,
    assert_vjp_matches_finite_differences,
    seeds,
)


# --------------------------------------------------------------------------- oracles
def direct_conv2d(x, w, b, stride, padding, dilation, groups):
    """y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] xp[n, g c0 + c, i s + u r, j s + v r],
    one output position at a time, in float64."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    o, per_group, kh, kw = w.shape
    padded = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    padded[:, :, ph : ph + h, pw : pw + wd] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = padded[:, :, i * sh : i * sh + dh * (kh - 1) + 1 : dh]
            patch = patch[:, :, :, j * sw : j * sw + dw * (kw - 1) + 1 : dw]  # (n, c, kh, kw)
            for oc in range(o):
                group = oc // (o // groups)
                inputs = patch[:, group * per_group : (group + 1) * per_group]
                out[:, oc, i, j] = np.sum(inputs * w[oc], axis=(1, 2, 3))
    return out if b is None else out + b[None, :, None, None]


def direct_conv1d(x, w, b, stride, padding, dilation, groups):
    """conv1d as a conv2d of height 1 (the 2-d oracle with a size-1 axis)."""
    pair = lambda v, one: (one, v[0])  # noqa: E731
    out = direct_conv2d(
        x[:, :, None], w[:, :, None], b, pair(stride, 1), pair(padding, 0), pair(dilation, 1),
        groups,
    )  # fmt: skip
    return out[:, :, 0]


# --------------------------------------------------------------------------- strategies
@st.composite
def conv_cases(draw, d=2, max_batch=2, max_side=6, max_in=3):
    """(x shape, w shape, bias?, stride, padding, dilation, groups), every axis with >= 1
    window: side >= r (k - 1) + 1 - 2p."""
    groups = draw(st.integers(1, max_in))
    c = groups * draw(st.integers(1, max_in // groups))
    o = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    spatial = tuple(
        draw(st.integers(max(1, r * (k - 1) + 1 - 2 * p), max(max_side, r * (k - 1) + 1)))
        for k, p, r in zip(kernel, padding, dilation, strict=True)
    )
    x_shape = (draw(st.integers(1, max_batch)), c, *spatial)
    w_shape = (o, c // groups, *kernel)
    return x_shape, w_shape, draw(st.booleans()), stride, padding, dilation, groups


def _draw_conv(data, **limits):
    x_shape, w_shape, bias, stride, padding, dilation, groups = data.draw(conv_cases(**limits))
    x, w = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    b = data.draw(arrays((w_shape[0],))) if bias else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


# --------------------------------------------------------------------------- convolution
# Tiny images take the rows layout (one GEMM); columns_from=0 sends them through the
# per-image columns layout that large ones take (functional_conv.COLUMNS_FROM)
LAYOUTS, LAYOUT_IDS = [functional_conv.COLUMNS_FROM, 0], ["rows", "columns"]


@contextlib.contextmanager
def _layout(columns_from):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(functional_conv, "COLUMNS_FROM", columns_from)
        yield


@pytest.mark.parametrize(
    ("d", "conv", "oracle"), [(1, F.conv1d, direct_conv1d), (2, F.conv2d, direct_conv2d)]
)
@pytest.mark.parametrize("columns_from", LAYOUTS, ids=LAYOUT_IDS)
@given(data=st.data())
def test_conv_matches_the_direct_definition(d, conv, oracle, columns_from, data):
    with _layout(columns_from):
        _check_conv_against_the_direct_definition(d, conv, oracle, data)


def _check_conv_against_the_direct_definition(d, conv, oracle, data):
    x, w, b, args = _draw_conv(data, d=d)
    expected = oracle(x, w, b, **args)
    np.testing.assert_allclose(conv(x, w, b, **args).data, expected, rtol=1e-12, atol=1e-12)
    # float32 stays float32 (within float32 rounding of a <= 27-term sum of values <= 9)
    f32 = [
        None if a is None else Tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b)
    ]
    out = conv(*f32, **args)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-4, atol=1e-4)
    out.sum().backward()
    assert all(to_host(t.grad).dtype == np.float32 for t in f32 if t is not None)


@pytest.mark.parametrize(("d", "conv"), [(1, F.conv1d), (2, F.conv2d)])
@pytest.mark.parametrize("columns_from", LAYOUTS, ids=LAYOUT_IDS)
@given(data=st.data())
def test_conv_first_derivatives_match_finite_differences(d, conv, columns_from, data):
    x, w, b, args = _draw_conv(data, d=d, max_side=5)
    inputs = (x, w) if b is None else (x, w, b)
    with _layout(columns_from):
        assert_grad_close(lambda *t: conv(*t, **args), *inputs, seed=data.draw(seeds()))


@pytest.mark.parametrize(("d", "conv"), [(1, F.conv1d), (2, F.conv2d)])
@pytest.mark.parametrize("columns_from", LAYOUTS, ids=LAYOUT_IDS)
@given(data=st.data())
def test_conv_second_derivatives_match_finite_differences(d, conv, columns_from, data):
    """The square makes every second derivative (x-x, x-w, w-w) nonzero; the recorded
    backward runs fold and unfold on Tensors."""
    x, w, b, args = _draw_conv(data, d=d, max_batch=1, max_side=4)
    inputs = (x, w) if b is None else (x, w, b)
    with _layout(columns_from):
        assert_grad_close(
            lambda *t: conv(*t, **args) ** 2, *inputs, seed=data.draw(seeds()), order=2
        )


@given(data=st.data())
def test_conv2d_matches_torch(data):
    torch = pytest.importorskip("torch")
    x, w, b, args = _draw_conv(data)
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    bt = None if b is None else Tensor(b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, **args)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ref = torch.nn.functional.conv2d(tx, tw, tb, **args)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(data.draw(seeds())).standard_normal(out.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for ours, theirs in [(xt, tx), (wt, tw), (bt, tb)]:
        if ours is not None:
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv1d_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    args = dict(stride=2, padding=1, dilation=2, groups=2)
    ref = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **args)
    np.testing.assert_allclose(F.conv1d(x, w, b, **args).data, ref.numpy(), rtol=1e-12)


def test_conv2d_of_an_unbatched_image_is_the_batched_one():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 5, 5)), rng.standard_normal((2, 3, 3, 3))
    out = F.conv2d(x, w, padding=1)
    assert out.shape == (2, 5, 5)
    np.testing.assert_allclose(out.numpy(), F.conv2d(x[None], w, padding=1).numpy()[0], rtol=1e-12)


def test_conv2d_of_float32_and_float64_tensors_promotes_as_binary_ops_do():
    """numpy's promotion, as for a * b: a float64 result; each gradient in its input's dtype.
    A constant (an ndarray) instead takes the Tensor's dtype."""
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((1, 2, 4, 4)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    out = F.conv2d(x, w, b)
    assert out.dtype == np.float64
    out.sum().backward()
    grads = (x.grad, w.grad, b.grad)
    assert tuple(to_host(g).dtype for g in grads) == (np.float32, np.float64, np.float32)
    assert F.conv2d(x, w.data).dtype == np.float32
    assert F.conv2d(x.data, w).dtype == np.float64


# --------------------------------------------------------------------------- primitives
@st.composite
def window_cases(draw):
    """(x shape, kernel, stride, padding, dilation) over 1 or 2 trailing axes."""
    d = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    spatial = tuple(
        draw(st.integers(max(1, r * (k - 1) + 1 - 2 * p), 6))
        for k, p, r in zip(kernel, padding, dilation, strict=True)
    )
    lead = draw(st.sampled_from([(), (2,), (1, 2)]))
    return (*lead, *spatial), kernel, stride, padding, dilation


@given(data=st.data())
def test_fold_is_the_adjoint_of_unfold(data):
    """<unfold(x), c> = <x, fold(c)> for random x and c: the one identity that makes each the
    other's vjp; and fold's vjp matches finite differences."""
    shape, kernel, stride, padding, dilation = data.draw(window_cases())
    x = data.draw(arrays(shape))
    windows = tg.functions.unfold(x, kernel, stride, padding, dilation).numpy()
    c = np.random.default_rng(data.draw(seeds())).standard_normal(windows.shape)
    folded = tg.functions.fold(c, shape[-len(kernel) :], kernel, stride, padding, dilation)
    folded = folded.numpy()
    assert folded.shape == x.shape
    np.testing.assert_allclose(np.sum(windows * c), np.sum(x * folded), rtol=1e-12, atol=1e-12)
    params = dict(spatial=shape[-len(kernel) :], kernel=kernel, stride=stride, padding=padding)
    assert_vjp_matches_finite_differences(
        ops.fold, [c], data, params={**params, "dilation": dilation}
    )


def test_unfold_reads_the_dilated_strided_windows():
    x = np.arange(7.0).reshape(1, 7)
    windows = tg.functions.unfold(x, (2,), (3,), (1,), (2,), fill=-1.0).numpy()
    # padded: [-1, 0, 1, 2, 3, 4, 5, 6, -1]; windows start at 0, 3, 6 and read 2 apart
    np.testing.assert_array_equal(windows[0], [[-1.0, 1.0], [2.0, 4.0], [5.0, -1.0]])


# --------------------------------------------------------------------------- bad input
X4 = np.zeros((1, 2, 5, 5))
W4 = np.zeros((4, 2, 3, 3))

BAD_CALLS = {
    "conv2d of a 2-D input": (lambda: F.conv2d(np.zeros((5, 5)), W4), ShapeError, "4-D"),
    "conv2d weight rank": (lambda: F.conv2d(X4, np.zeros((4, 2, 3))), ShapeError, "weight must"),
    "conv1d of a 4-D input": (lambda: F.conv1d(X4, W4), ShapeError, "3-D"),
    "channel mismatch": (
        lambda: F.conv2d(X4, np.zeros((4, 3, 3, 3))),
        ShapeError,
        r"2 channels, weight \(4, 3, 3, 3\) expects 3",
    ),
    "channels not divisible by groups": (
        lambda: F.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3)), groups=2),
        ShapeError,
        "input channels 3",
    ),
    "out channels not divisible by groups": (
        lambda: F.conv2d(X4, np.zeros((3, 1, 3, 3)), groups=2),
        ShapeError,
        "out channels 3",
    ),
    "kernel larger than padded input": (
        lambda: F.conv2d(X4, np.zeros((1, 2, 6, 3)), padding=0),
        ShapeError,
        "larger than the padded input",
    ),
    "dilated kernel too large": (
        lambda: F.conv2d(X4, W4, dilation=3),
        ShapeError,
        "larger than the padded input",
    ),
    "zero stride": (lambda: F.conv2d(X4, W4, stride=0), ArgumentError, "stride must be >= 1"),
    "zero dilation": (
        lambda: F.conv2d(X4, W4, dilation=(1, 0)),
        ArgumentError,
        "dilation must be >= 1",
    ),
    "negative padding": (lambda: F.conv2d(X4, W4, padding=-1), ArgumentError, "padding must"),
    "padding of 3 ints": (lambda: F.conv2d(X4, W4, padding=(1, 1, 1)), DTypeError, "2 ints"),
    "float stride": (lambda: F.conv2d(X4, W4, stride=1.5), DTypeError, "stride must be an int"),
    "string padding": (lambda: F.conv2d(X4, W4, padding="same"), DTypeError, "padding"),
    "zero groups": (lambda: F.conv2d(X4, W4, groups=0), ArgumentError, "groups must be >= 1"),
    "bias shape": (
        lambda: F.conv2d(X4, W4, np.zeros(3)),
        ShapeError,
        r"bias must have shape \(4,\)",
    ),
    "integer input": (
        lambda: F.conv2d(Tensor(np.zeros((1, 2, 5, 5), np.int64)), np.zeros((4, 2, 3, 3))),
        DTypeError,
        "input must be floating point",
    ),
    "pool of a 2-D input": (
        lambda: F.max_pool2d(np.zeros((4, 4)), 2),
        ShapeError,
        r"\(N, C, H, W\)",
    ),
    "pool padding over half the kernel": (
        lambda: F.max_pool2d(X4, 2, padding=2),
        ArgumentError,
        "at most half",
    ),
    "pool kernel larger than input": (
        lambda: F.avg_pool2d(X4, 6),
        ShapeError,
        "larger than the padded input",
    ),
    "pool zero stride": (lambda: F.avg_pool2d(X4, 2, stride=0), ArgumentError, "stride"),
    "pool zero kernel": (lambda: F.max_pool2d(X4, 0), ArgumentError, "kernel_size must be"),
    "fold of windows of the wrong shape": (
        lambda: tg.functions.fold(np.zeros((1, 3, 2)), (5,), (2,), (1,), (0,), (1,)),
        ShapeError,
        "do not end in",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise_the_library_error_naming_the_problem(case):
    call, error, pattern = BAD_CALLS[case]
    with pytest.raises(error, match=pattern) as raised:
        call()
    op = re.match(r"(\w+):", str(raised.value))
    assert op is not None and op.group(1) in {
        "conv1d",
        "conv2d",
        "max_pool2d",
        "avg_pool2d",
        "fold",
    }


def test_output_sizes_follow_the_pytorch_formula():
    x = np.zeros((1, 1, 11, 9))
    out = F.conv2d(x, np.zeros((1, 1, 3, 2)), stride=(2, 3), padding=(1, 2), dilation=(2, 1))
    expected = tuple(
        math.floor((n + 2 * p - r * (k - 1) - 1) / s) + 1
        for n, k, s, p, r in [(11, 3, 2, 1, 2), (9, 2, 3, 2, 1)]
    )
    assert out.shape[2:] == expected == (5, 4)
