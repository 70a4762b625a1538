"""Fuzzing the Tensor ops against numpy: random shapes, dtypes, axes, reshape targets, indices.

One rule for every call: numpy is the oracle of what is valid. When numpy refuses a call (an
exception, or for reductions a RuntimeWarning such as the mean of nothing), the library must
refuse it too, with its own TinygradHWError, never a bare numpy IndexError/ValueError/TypeError
from inside. When numpy accepts it, the library must return numpy's values and dtype, and its
backward pass must be the transpose of the op (checked through the inner-product identity
<vjp(g), v> = <g, f(v)> for the linear ops, with a random g).
"""

import warnings
from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import Tensor, TinygradHWError

DTYPES = [np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int32, np.bool_)]
FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]


# --------------------------------------------------------------------------- strategies
def arrays(dtypes: list[np.dtype] = DTYPES, max_dims: int = 4, min_side: int = 0):
    """Small arrays of any of ``dtypes``; values bounded so that exp cannot overflow."""
    shapes = hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=min_side, max_side=4)
    return st.sampled_from(dtypes).flatmap(
        lambda dtype: hnp.arrays(dtype, shapes, elements=_elements(dtype))
    )


def _elements(dtype: np.dtype):
    if dtype.kind == "f":
        return st.floats(-8, 8, width=dtype.itemsize * 8)
    if dtype.kind == "b":
        return st.booleans()
    return st.integers(-5, 5)


axis_ints = st.integers(-6, 6)  # out of range for every array of fewer than 6 dimensions
axis_args = st.one_of(st.none(), axis_ints, st.lists(axis_ints, max_size=3).map(tuple))


def index_parts():
    """One part of an index tuple: ints (some out of range), slices (step 0 included), None,
    Ellipsis, integer lists and arrays, boolean arrays."""
    return st.one_of(
        st.integers(-6, 6),
        st.builds(
            slice,
            st.none() | st.integers(-6, 6),
            st.none() | st.integers(-6, 6),
            st.none() | st.integers(-3, 3),
        ),
        st.just(None),
        st.just(Ellipsis),
        st.lists(st.integers(-5, 5), min_size=0, max_size=3),
        st.lists(st.lists(st.integers(-3, 3), max_size=2), min_size=1, max_size=2),  # ragged?
        hnp.arrays(
            np.int64,
            hnp.array_shapes(min_dims=1, max_dims=2, max_side=3),
            elements=st.integers(-5, 5),
        ),
        hnp.arrays(np.bool_, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
    )


# --------------------------------------------------------------------------- the oracle
def numpy_outcome(numpy_call: Callable[[], Any], warnings_refuse: bool) -> tuple[bool, Any]:
    """(True, value) if numpy accepts the call, (False, error) if it refuses it. With
    ``warnings_refuse``, a RuntimeWarning (mean of an empty axis) also counts as refusal."""
    with warnings.catch_warnings():
        warnings.simplefilter("error" if warnings_refuse else "ignore", RuntimeWarning)
        try:
            return True, numpy_call()
        except Exception as error:  # any numpy refusal is the oracle's answer
            return False, error


def check_against_numpy(
    library_call: Callable[[], Tensor],
    numpy_call: Callable[[], Any],
    warnings_refuse: bool = True,
    rtol: float = 0.0,
) -> Tensor | None:
    """Valid for numpy -> same values and dtype; refused by numpy -> a TinygradHWError.

    Any other exception escapes this helper and fails the test with its own traceback, which
    is what a bare numpy error from inside the library should do.
    """
    valid, expected = numpy_outcome(numpy_call, warnings_refuse)
    if not valid:
        with pytest.raises(TinygradHWError):
            library_call()
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = library_call()
    assert isinstance(result, Tensor)
    expected = np.asarray(expected)
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    np.testing.assert_allclose(result.data, expected, rtol=rtol, atol=0, equal_nan=True)
    return result


def assert_backward_is_transpose(x: np.ndarray, f: Callable[[Tensor], Tensor], seed: int):
    """For a linear f: <f^T g, v> = <g, f(v)> for a random upstream g and a random v.

    The engine's vjp gives f^T g; evaluating f itself on v needs no gradient at all, so one
    float64 comparison checks the whole Jacobian. Sums of at most a few hundred products of
    O(1) numbers in float64: rtol 1e-12 leaves room for summation order and nothing else.
    """
    rng = np.random.default_rng(seed)
    leaf = Tensor(x.astype(np.float64), requires_grad=True)
    out = f(leaf)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    v = rng.standard_normal(x.shape)
    with tg.no_grad():
        fv = f(Tensor(v)).data
    assert leaf.grad.shape == x.shape and leaf.grad.dtype == np.float64
    np.testing.assert_allclose(np.sum(leaf.grad * v), np.sum(g * fv), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- reductions
def numpy_reduce(name: str, x: np.ndarray, axis: Any, **kwargs: Any) -> np.ndarray:
    """numpy's reduction, minus one legacy quirk: numpy lets a 0-d array be reduced over
    "axis 0" or "axis -1" (a bare int only; (0,) is refused). The library refuses that
    axis as out of range, like any other, and we agree with it."""
    if x.ndim == 0 and axis is not None and not isinstance(axis, tuple):
        raise np.exceptions.AxisError(axis, 0)
    return getattr(np, name)(x, axis=axis, **kwargs)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(x=arrays(), axis=axis_args, keepdims=st.booleans(), seed=st.integers(0, 2**16))
def test_sum_and_mean_match_numpy_or_refuse(name, x, axis, keepdims, seed):
    result = check_against_numpy(
        lambda: getattr(Tensor(x), name)(axis, keepdims),
        lambda: numpy_reduce(name, x, axis, keepdims=keepdims),
        rtol=1e-6 if x.dtype == np.float32 else 1e-12,  # mean: numpy may divide in place
    )
    if result is not None and x.dtype.kind == "f":
        assert_backward_is_transpose(x, lambda t: getattr(t, name)(axis, keepdims), seed)


@pytest.mark.parametrize("name", ["max", "min"])
@given(x=arrays(), axis=axis_args, keepdims=st.booleans())
def test_max_and_min_match_numpy_or_refuse(name, x, axis, keepdims):
    check_against_numpy(
        lambda: getattr(Tensor(x), name)(axis, keepdims),
        lambda: numpy_reduce(name, x, axis, keepdims=keepdims),
    )


@given(x=arrays(), axis=st.none() | axis_ints)
def test_argmax_matches_numpy_or_refuses(x, axis):
    valid, expected = numpy_outcome(lambda: numpy_reduce("argmax", x, axis), True)
    if not valid:
        with pytest.raises(TinygradHWError):
            Tensor(x).argmax(axis)
    else:
        np.testing.assert_array_equal(Tensor(x).argmax(axis), expected)


def _float64_softmax_family(x: np.ndarray, axis: int) -> dict[str, np.ndarray]:
    """Float64 references written from the definitions (shifted by the max for overflow)."""
    if x.ndim == 0:  # numpy's 0-d "axis 0" quirk again (see numpy_reduce)
        raise np.exceptions.AxisError(axis, 0)
    z = x.astype(np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return {
        "softmax": np.exp(z - lse),
        "log_softmax": z - lse,
        "logsumexp": np.squeeze(lse, axis=axis),
    }


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@given(x=arrays(), axis=axis_ints)
def test_softmax_family_matches_float64_reference_or_refuses(name, x, axis):
    valid, references = numpy_outcome(lambda: _float64_softmax_family(x, axis), True)
    if not valid:
        with pytest.raises(TinygradHWError):
            getattr(Tensor(x), name)(axis)
        return
    result = getattr(Tensor(x), name)(axis)
    # float32 inputs: a few ulps of float32 from exp and log; float64: of float64
    rtol = 1e-5 if result.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(result.data, references[name], rtol=rtol, atol=rtol)
    assert result.dtype == (x.dtype if x.dtype.kind == "f" else np.float64)


# --------------------------------------------------------------------------- shapes
reshape_targets = st.lists(st.integers(-2, 8), min_size=0, max_size=4).map(tuple)


def numpy_reshape(x: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """numpy's reshape, minus a quirk: numpy reads any negative size (-2, -7) as the one
    unknown size; the library accepts only -1, as numpy documents, and we agree with it."""
    if any(n < -1 for n in target):
        raise ValueError(f"negative size in {target}")
    return x.reshape(target)


@given(x=arrays(), target=reshape_targets, seed=st.integers(0, 2**16))
def test_reshape_matches_numpy_or_refuses(x, target, seed):
    result = check_against_numpy(
        lambda: Tensor(x).reshape(target), lambda: numpy_reshape(x, target)
    )
    if result is not None:
        assert_backward_is_transpose(x, lambda t: t.reshape(target), seed)


@given(
    x=arrays(), axes=st.lists(st.integers(-5, 5), max_size=5).map(tuple), seed=st.integers(0, 99)
)
def test_transpose_matches_numpy_or_refuses(x, axes, seed):
    result = check_against_numpy(
        lambda: Tensor(x).transpose(*axes), lambda: np.transpose(x, axes or None)
    )
    if result is not None:
        assert_backward_is_transpose(x, lambda t: t.transpose(*axes), seed)


@given(x=arrays(), data=st.data())
def test_getitem_matches_numpy_or_refuses(x, data):
    parts = data.draw(st.lists(index_parts(), min_size=1, max_size=3), label="index")
    index = parts[0] if len(parts) == 1 and data.draw(st.booleans()) else tuple(parts)
    result = check_against_numpy(lambda: Tensor(x)[index], lambda: x[index])
    if result is not None:
        assert_backward_is_transpose(x, lambda t: t[index], data.draw(st.integers(0, 99)))


@st.composite
def array_lists(draw):
    """2-3 arrays of one dtype whose shapes often, but not always, fit together."""
    dtype = draw(st.sampled_from(FLOATS))
    base = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    shapes = [base]
    for _ in range(draw(st.integers(1, 2))):
        shape = list(base)
        if shape and draw(st.booleans()):
            shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(1, 3))
        if draw(st.integers(0, 5)) == 0:
            shape.append(2)
        shapes.append(tuple(shape))
    return [draw(hnp.arrays(dtype, s, elements=_elements(dtype))) for s in shapes]


@pytest.mark.parametrize("name", ["concatenate", "stack"])
@given(xs=array_lists(), axis=axis_ints)
def test_concatenate_and_stack_match_numpy_or_refuse(name, xs, axis):
    check_against_numpy(
        lambda: getattr(tg, name)([Tensor(a) for a in xs], axis),
        lambda: getattr(np, name)(xs, axis=axis),
    )


# --------------------------------------------------------------------------- binary ops
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "matmul": (lambda a, b: a @ b, np.matmul),
    "pow": (lambda a, b: a**b, np.power),  # numpy refuses integers to negative integer powers
}


@pytest.mark.parametrize("name", BINARY)
@given(a=arrays(max_dims=3, min_side=1), b=arrays(max_dims=3, min_side=1))
def test_binary_ops_match_numpy_or_refuse(name, a, b):
    library_op, numpy_op = BINARY[name]
    # division by zero and 0/0 are numpy warnings, not refusals: inf/nan, as numpy gives
    check_against_numpy(
        lambda: library_op(Tensor(a), Tensor(b)),
        lambda: numpy_op(a, b),
        warnings_refuse=False,
        rtol=1e-6,  # matmul may block its sums differently; pow of float32 via exp/log
    )


@given(
    condition=hnp.arrays(np.bool_, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)),
    a=arrays(FLOATS, max_dims=3),
    b=arrays(FLOATS, max_dims=3),
)
def test_where_matches_numpy_or_refuses(condition, a, b):
    check_against_numpy(
        lambda: tg.where(condition, Tensor(a), Tensor(b)), lambda: np.where(condition, a, b)
    )


# --------------------------------------------------------------------------- unary ops
UNARY = {
    "neg": lambda z: -z,
    "abs": np.abs,
    "relu": lambda z: np.maximum(z, 0),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


@pytest.mark.parametrize("name", UNARY)
@given(x=arrays())
def test_unary_ops_on_every_dtype_match_numpy_or_refuse(name, x):
    """Float tensors keep their dtype; integer and boolean tensors either give numpy's answer
    or a TinygradHWError (numpy's own refusal, e.g. -bool, must not leak out as TypeError);
    real-valued ops (exp, sigmoid, ...) compute them in float64 (tests/test_integer_inputs)."""
    real_valued = name in ("exp", "log", "sqrt", "tanh", "sigmoid")
    if real_valued and x.dtype.kind != "f":
        x = x.astype(np.float64)  # what apply hands the op
    valid, _ = numpy_outcome(lambda: UNARY[name](x), warnings_refuse=False)
    method = getattr(Tensor(x), "__neg__" if name == "neg" else name)
    if not valid:
        with pytest.raises(TinygradHWError):
            method()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log/sqrt of negatives: nan, as numpy
        result = method()
        expected = UNARY[name](x.astype(np.float64))
    if x.dtype.kind == "f":
        assert result.dtype == x.dtype
    # float16 appears for numpy's exp/tanh of booleans; a few ulps of the result dtype
    eps = np.finfo(result.dtype).eps if result.dtype.kind == "f" else 0.0
    np.testing.assert_allclose(result.data, expected, rtol=8 * eps, atol=8 * eps, equal_nan=True)


# --------------------------------------------------------------------------- construction
python_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)  # past int64: numpy makes an object array
    | st.floats()
    | st.complex_numbers(max_magnitude=10)
    | st.text(max_size=2),
    lambda children: st.lists(children, max_size=3),  # often ragged or of mixed types
    max_leaves=8,
)


def numeric_array(data: Any) -> np.ndarray:
    """numpy's reading of ``data``, refused unless it is a real number array."""
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"not real numbers: {array.dtype}")
    return array


@given(data=python_data)
def test_tensor_from_python_data_matches_numpy_or_refuses(data):
    """Real numbers (nested lists of equal lengths) become a float64 Tensor with numpy's
    values; None, strings, complex numbers, huge ints and ragged lists raise DTypeError."""
    valid, expected = numpy_outcome(lambda: numeric_array(data), warnings_refuse=False)
    if not valid:
        with pytest.raises(tg.DTypeError):
            Tensor(data)
        return
    x = Tensor(data)
    assert x.dtype == np.float64 and x.shape == expected.shape
    np.testing.assert_array_equal(x.data, expected.astype(np.float64))
