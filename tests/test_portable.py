"""The numpy functions written with the array API standard alone (ops.portable, ops.indexing,
the windows of ops.windows)
give numpy's own results: each is run on numpy's namespace (numpy 2 has the standard's names)
and on array-api-strict's, and compared with the numpy function it stands in for, exactly
(the same arithmetic) or, for einsum's other summation order, to float64 rounding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from tinygrad_hw.ops import indexing, portable, windows

strict = pytest.importorskip("array_api_strict")
BACKENDS = [np, strict]
FINITE = st.floats(-1e3, 1e3, allow_nan=False, width=64)


def _on(xp, a):
    return xp.asarray(a)


def _host(a) -> np.ndarray:
    return np.asarray(a) if isinstance(a, np.ndarray | np.generic) else np.from_dlpack(a)


@pytest.mark.parametrize("xp", BACKENDS, ids=["numpy", "strict"])
@given(data=st.data())
@settings(max_examples=40, deadline=None)
def test_einsum_matches_numpys(xp, data):
    letters = "abcd"
    sizes = {c: data.draw(st.integers(1, 3)) for c in letters}
    n = data.draw(st.integers(1, 3))
    terms = [
        "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(0, 3))])
        for _ in range(n)
    ]
    used = sorted(set("".join(terms)))
    output = "".join(c for c in used if data.draw(st.booleans()))
    operands = [
        data.draw(arrays(np.float64, tuple(sizes[c] for c in t), elements=FINITE)) for t in terms
    ]
    subscripts = ",".join(terms) + "->" + output
    got = portable.einsum(xp, subscripts, *(_on(xp, a) for a in operands))
    # another order of the same sums: float64 rounding of terms up to 1e3 ** 3 each
    np.testing.assert_allclose(_host(got), np.einsum(subscripts, *operands), rtol=1e-9, atol=1e-3)


@pytest.mark.parametrize("xp", BACKENDS, ids=["numpy", "strict"])
@given(data=st.data())
@settings(max_examples=40, deadline=None)
def test_pad_constant_matches_numpys(xp, data):
    x = data.draw(arrays(np.float32, array_shapes(min_dims=1, max_dims=3, min_side=0)))
    widths = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in x.shape)
    value = data.draw(st.floats(-5, 5, width=32))
    got = _host(portable.pad_constant(xp, _on(xp, x), widths, value))
    want = np.pad(x, widths, constant_values=value)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("xp", BACKENDS, ids=["numpy", "strict"])
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_fmod_matches_numpys_for_floats_and_integers(xp, data):
    shape = data.draw(array_shapes(max_dims=2, max_side=4))
    if data.draw(st.booleans()):
        a = data.draw(arrays(np.float64, shape, elements=st.floats(allow_nan=True, width=64)))
        b = data.draw(arrays(np.float64, shape, elements=st.floats(allow_nan=True, width=64)))
    else:
        a = data.draw(arrays(np.int64, shape, elements=st.integers(-1000, 1000)))
        b = data.draw(arrays(np.int64, shape, elements=st.integers(1, 50) | st.integers(-50, -1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        got = _host(portable.fmod(xp, _on(xp, a), _on(xp, b)))
        want = np.fmod(a, b)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)  # NaN where numpy's is NaN, signed zeros too
    numbers = ~np.isnan(want)  # a NaN's sign bit means nothing
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(want[numbers]))


@pytest.mark.parametrize("xp", BACKENDS, ids=["numpy", "strict"])
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_round_with_decimals_matches_numpys(xp, data):
    decimals = data.draw(st.integers(-3, 4))
    if data.draw(st.booleans()):
        x = data.draw(arrays(np.float64, (5,), elements=st.floats(-1e6, 1e6, width=64)))
    else:
        x = data.draw(arrays(np.int64, (5,), elements=st.integers(-(10**6), 10**6)))
    got = _host(portable.round_decimals(xp, _on(xp, x), decimals))
    want = np.round(x, decimals)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


SHAPE = (2, 3, 4, 5)
_ENTRY = st.one_of(
    st.integers(-2, 1),
    st.builds(slice, st.none() | st.integers(-3, 3), st.none() | st.integers(-3, 3),
              st.sampled_from([None, 1, 2, -1])),
    st.lists(st.integers(-2, 1), min_size=1, max_size=3).map(np.array),
    st.just(Ellipsis),
)  # fmt: skip


@pytest.mark.parametrize("xp", BACKENDS, ids=["numpy", "strict"])
@given(entries=st.lists(_ENTRY, min_size=1, max_size=4))
@settings(max_examples=150, deadline=None)
def test_standard_index_selects_what_numpys_index_selects(xp, entries):
    index = tuple(entries)
    x = np.arange(np.prod(SHAPE), dtype=np.float64).reshape(SHAPE)
    try:
        want = x[index]
    except IndexError:  # two Ellipses, or arrays that do not broadcast: not numpy's index
        return
    standard = indexing.standard_index(
        xp, tuple(_on(xp, i) if isinstance(i, np.ndarray) else i for i in index), SHAPE
    )
    got = _host(_on(xp, x)[standard])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "index",
    [
        (slice(None), slice(None), np.array([True, False, True, False])),
        (np.arange(24).reshape(2, 3, 4)[:, :, 0] > 4,),
        (np.arange(24).reshape(2, 3, 4)[:, :, 0] > 4, 1),
        (Ellipsis, np.array([True, False, True, True, False])),
        (None, 0),
        (np.array(1),),
    ],
    ids=["mask-after-slices", "sole-mask", "mask-then-int", "mask-after-ellipsis", "newaxis", "0d"],
)
def test_standard_index_handles_masks_new_axes_and_0d_arrays_on_strict(index):
    x = np.arange(np.prod(SHAPE), dtype=np.float64).reshape(SHAPE)
    moved = tuple(strict.asarray(i) if isinstance(i, np.ndarray) else i for i in index)
    got = _host(strict.asarray(x)[indexing.standard_index(strict, moved, SHAPE)])
    np.testing.assert_array_equal(got, x[index])


@st.composite
def _window_cases(draw):
    """(x shape, kernel, stride, padding, dilation) over 1 or 2 trailing axes, >= 1 window."""
    d = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    spatial = tuple(
        draw(st.integers(max(1, r * (k - 1) + 1 - 2 * p), 7))
        for k, p, r in zip(kernel, padding, dilation, strict=True)
    )
    return (draw(st.integers(1, 2)), *spatial), kernel, stride, padding, dilation


@pytest.mark.parametrize("xp", BACKENDS, ids=["numpy", "strict"])
@given(case=_window_cases(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_unfold_and_fold_match_numpys_strided_versions(xp, case, seed):
    shape, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    expected = windows.unfold(x, kernel, stride, padding, dilation, -1.5)
    got = windows.unfold_portable(xp, _on(xp, x), kernel, stride, padding, dilation, -1.5)
    np.testing.assert_array_equal(_host(got), expected)
    cotangent = rng.standard_normal(expected.shape)
    spatial = shape[1:]
    expected = windows.fold(cotangent, spatial, kernel, stride, padding, dilation)
    got = windows.fold_portable(xp, _on(xp, cotangent), spatial, kernel, stride, padding, dilation)
    # the same additions in the same order (offset by offset): equal to the last bit
    np.testing.assert_array_equal(_host(got), expected)
