"""Layout ops (tinygrad_hw.tensor_shapes, shape_functions, ops.layout): values against numpy
(or PyTorch where the semantics are PyTorch's), first and second derivatives against float64
central differences (tolerances: tinygrad_hw.testing's defaults), dtypes, and bad input.

The ops are linear, so each is tested inside ``y * y``: the second derivative then runs the
op's vjp of a vjp (for a linear op alone it would be a check of zeros)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import arrays, assert_grad_close, axis, seeds, shapes

SMALL = shapes(max_side=3)  # 0-d to 3-d, size-1 axes included, at most 27 elements


def squared(fn):
    """t -> fn(t) * fn(t): non-linear, so order 2 exercises fn's vjp of its vjp."""

    def composed(*ts):
        y = fn(*ts)
        return y * y

    return composed


def check(fn, x, data, expected):
    """fn's value equals ``expected`` (dtype too) and its derivatives the differences."""
    out = fn(Tensor(x))
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.data, expected)
    assert_grad_close(squared(fn), x, seed=data.draw(seeds()), order=2)


# --------------------------------------------------------------------- axes
@given(data=st.data())
def test_squeeze_expand_dims_and_unsqueeze_match_numpy(data):
    x = data.draw(arrays(shapes(max_side=2)))
    check(lambda t: t.squeeze(), x, data, np.squeeze(x))
    ones = tuple(i - x.ndim * data.draw(st.booleans()) for i, n in enumerate(x.shape) if n == 1)
    check(lambda t: tg.squeeze(t, ones), x, data, np.squeeze(x, ones))
    ax = data.draw(st.integers(-x.ndim - 1, x.ndim))
    check(lambda t: t.unsqueeze(ax), x, data, np.expand_dims(x, ax))
    check(lambda t: tg.expand_dims(t, (0, -1)), x, data, np.expand_dims(x, (0, -1)))


@given(data=st.data())
def test_swapaxes_moveaxis_permute_and_view_match_numpy(data):
    x = data.draw(arrays(shapes(min_dims=1, max_side=3)))
    a, b = data.draw(axis(x.ndim)), data.draw(axis(x.ndim))
    check(lambda t: t.swapaxes(a, b), x, data, np.swapaxes(x, a, b))
    src = data.draw(st.permutations(range(x.ndim)))[: data.draw(st.integers(0, x.ndim))]
    dst = data.draw(st.permutations(range(-x.ndim, 0)))[: len(src)]
    check(lambda t: tg.moveaxis(t, src, dst), x, data, np.moveaxis(x, src, dst))
    perm = data.draw(st.permutations(range(x.ndim)))
    check(lambda t: t.permute(*perm), x, data, np.transpose(x, perm))
    check(lambda t: t.view(-1, 1), x, data, x.reshape(-1, 1))


@given(data=st.data())
def test_broadcast_to_and_expand(data):
    shape, target = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=3, max_side=3).map(
            lambda s: (s.input_shapes[0], s.result_shape)
        )
    )
    x = data.draw(arrays(shape))
    check(lambda t: t.broadcast_to(target), x, data, np.broadcast_to(x, target))
    lead = len(target) - len(shape)
    sizes = target[:lead] + tuple(
        -1 if n == m else m for n, m in zip(shape, target[lead:], strict=True)
    )
    check(lambda t: t.expand(*sizes), x, data, np.broadcast_to(x, target))


def test_expand_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(3.0).reshape(3, 1)
    expected = torch.from_numpy(x).expand(2, -1, 4).numpy()
    np.testing.assert_array_equal(Tensor(x).expand(2, -1, 4).data, expected)


# --------------------------------------------------------------------- repetition
@given(data=st.data())
def test_repeat_is_numpys_element_repetition(data):
    x = data.draw(arrays(SMALL))
    count = data.draw(st.integers(0, 3))
    check(lambda t: t.repeat(count), x, data, np.repeat(x, count))
    if x.ndim:
        ax = data.draw(axis(x.ndim))
        counts = data.draw(hnp.arrays(np.int64, x.shape[ax], elements=st.integers(0, 3)))
        check(lambda t: tg.repeat(t, counts, axis=ax), x, data, np.repeat(x, counts, axis=ax))


@given(data=st.data())
def test_tile_matches_numpy(data):
    x = data.draw(arrays(shapes(max_dims=2, max_side=3)))
    reps = tuple(data.draw(st.lists(st.integers(0, 2), max_size=3)))
    check(lambda t: tg.tile(t, reps), x, data, np.tile(x, reps))
    check(lambda t: t.tile(2), x, data, np.tile(x, 2))


def test_tile_is_torchs_repeat():
    torch = pytest.importorskip("torch")
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(x).tile((2, 1, 2)).data, torch.tensor(x).repeat(2, 1, 2))


# --------------------------------------------------------------------- order of elements
@given(data=st.data())
def test_flip_and_roll_match_numpy(data):
    x = data.draw(arrays(SMALL))
    check(lambda t: t.flip(), x, data, np.flip(x))
    shift = data.draw(st.integers(-5, 5))
    check(lambda t: tg.roll(t, shift), x, data, np.roll(x, shift))
    if x.ndim:
        axes = data.draw(hnp.valid_tuple_axes(x.ndim, min_size=1))
        shifts = tuple(data.draw(st.integers(-4, 4)) for _ in axes)
        check(lambda t: tg.flip(t, axes), x, data, np.flip(x, axes))
        check(lambda t: t.roll(shifts, axes), x, data, np.roll(x, shifts, axes))
        check(lambda t: t.roll(shift, axes), x, data, np.roll(x, shift, axes))


# --------------------------------------------------------------------- padding
@given(data=st.data())
def test_pad_constant_and_reflect_match_numpy(data):
    x = data.draw(arrays(shapes(min_dims=1, max_dims=2, max_side=4)))
    pairs = [(data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))) for n in x.shape]
    common = (min(p[0] for p in pairs), min(p[1] for p in pairs))  # fits every axis
    forms = [pairs, common, min(common), [common]]
    width = data.draw(st.sampled_from(forms))
    value = data.draw(st.floats(-2, 2))
    expected = np.pad(x, width, constant_values=value)
    check(lambda t: tg.pad(t, width, constant_values=value), x, data, expected)
    check(lambda t: tg.pad(t, width, mode="reflect"), x, data, np.pad(x, width, mode="reflect"))


def test_reflect_pad_gradient_sums_the_mirrored_copies():
    """[a b c] padded by 2 each side is [c b a b c b a]: a is copied twice, b three times."""
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    tg.pad(x, 2, mode="reflect").sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0, 2.0])


def test_reflect_pad_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(12.0).reshape(1, 3, 4)
    expected = torch.nn.functional.pad(torch.tensor(x), (3, 1, 2, 0), mode="reflect").numpy()
    np.testing.assert_array_equal(tg.pad(x, ((0, 0), (2, 0), (3, 1)), "reflect").data, expected)


# --------------------------------------------------------------------- pieces
@given(data=st.data())
def test_split_and_chunk_pieces_match_numpy_and_torch(data):
    x = data.draw(arrays(shapes(min_dims=1, max_side=4)))
    ax = data.draw(axis(x.ndim))
    n = x.shape[ax]
    count = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    cuts = sorted(data.draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)))
    for pieces, expected in [
        (Tensor(x).split(count, ax), np.split(x, count, ax)),
        (tg.split(x, cuts, ax), np.split(x, cuts, ax)),
    ]:
        assert len(pieces) == len(expected)
        for piece, want in zip(pieces, expected, strict=True):
            np.testing.assert_array_equal(piece.data, want)
    chunks = data.draw(st.integers(1, 5))
    assert_grad_close(
        lambda t: tg.concatenate([p * (i + 1.0) for i, p in enumerate(t.chunk(chunks, ax))], ax),
        x,
        seed=data.draw(seeds()),
        order=2,
    )
    torch = pytest.importorskip("torch")
    expected = [c.numpy() for c in torch.tensor(x).chunk(chunks, ax)]
    assert [p.shape for p in Tensor(x).chunk(chunks, ax)] == [c.shape for c in expected]


@given(data=st.data())
def test_hstack_and_vstack_match_numpy(data):
    shape = data.draw(shapes(max_dims=2, max_side=3))
    sides = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    axis_h = 0 if len(shape) <= 1 else 1
    pieces_h = [data.draw(arrays(_with(shape, axis_h, n))) for n in sides]
    pieces_v = [data.draw(arrays(_with(shape, 0, n) if len(shape) == 2 else shape)) for n in sides]
    for stack, pieces in [(tg.hstack, pieces_h), (tg.vstack, pieces_v)]:
        np.testing.assert_array_equal(stack(pieces).data, getattr(np, stack.__name__)(pieces))
        fn = squared(lambda *ts, stack=stack: stack([*ts, np.ones_like(ts[0].data)]))
        assert_grad_close(fn, *pieces, seed=data.draw(seeds()), order=2)


def _with(shape: tuple[int, ...], ax: int, n: int) -> tuple[int, ...]:
    if not shape:
        return ()
    return (*shape[:ax], n, *shape[ax + 1 :])


# --------------------------------------------------------------------- triangles, diagonals
@given(data=st.data())
def test_tril_triu_diag_and_diagonal_match_numpy(data):
    x = data.draw(arrays(shapes(min_dims=2, max_side=3)))
    k = data.draw(st.integers(-3, 3))
    check(lambda t: t.tril(k), x, data, np.tril(x, k))
    check(lambda t: tg.triu(t, k), x, data, np.triu(x, k))
    a, b = data.draw(st.permutations(range(x.ndim)))[:2]
    check(lambda t: tg.diagonal(t, k, a, b), x, data, np.diagonal(x, k, a, b))
    matrix, vector = x.reshape(x.shape[0], -1), x.reshape(-1)[:4]
    check(lambda t: tg.diag(t, k), matrix, data, np.diag(matrix, k))
    check(lambda t: t.diag(k), vector, data, np.diag(vector, k))


# --------------------------------------------------------------------- gathers
@given(data=st.data())
def test_take_along_axis_matches_numpy_and_repeats_accumulate(data):
    x = data.draw(arrays(shapes(min_dims=1, max_side=3)))
    ax = data.draw(axis(x.ndim))
    n = x.shape[ax]
    index_shape = tuple(
        data.draw(st.integers(1, 4)) if d == ax % x.ndim else data.draw(st.sampled_from([1, m]))
        for d, m in enumerate(x.shape)
    )
    index = data.draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-n, n - 1)))
    check(lambda t: t.take_along_axis(index, ax), x, data, np.take_along_axis(x, index, ax))
    doubled = np.concatenate([index, index], axis=ax)  # every pick twice: the gradient adds
    check(lambda t: tg.take_along_axis(t, doubled, ax), x, data, np.take_along_axis(x, doubled, ax))


@given(data=st.data())
def test_gather_and_scatter_add_match_torch(data):
    torch = pytest.importorskip("torch")
    x = data.draw(arrays(shapes(min_dims=1, max_side=3)))
    dim = data.draw(axis(x.ndim))
    index_shape = tuple(
        data.draw(st.integers(1, 4)) if d == dim % x.ndim else data.draw(st.integers(1, m))
        for d, m in enumerate(x.shape)
    )
    index = data.draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, x.shape[dim] - 1)))
    expected = torch.gather(torch.tensor(x), dim, torch.tensor(index)).numpy()
    check(lambda t: t.gather(dim, index), x, data, expected)
    src = data.draw(arrays(index_shape))
    want = torch.tensor(x).scatter_add(dim, torch.tensor(index), torch.tensor(src)).numpy()
    np.testing.assert_allclose(Tensor(x).scatter_add(dim, index, src).data, want, rtol=1e-12)
    fn = squared(lambda t, s: t.scatter_add(dim, index, s))
    assert_grad_close(fn, x, src, seed=data.draw(seeds()), order=2)


# --------------------------------------------------------------------- dtypes and copies
FLOAT32_OPS = {
    "squeeze": lambda t: t.squeeze(),
    "tile": lambda t: t.tile((2, 1)),
    "repeat": lambda t: t.repeat(2, axis=0),
    "flip": lambda t: t.flip(0),
    "roll": lambda t: t.roll(1, 1),
    "pad": lambda t: tg.pad(t, 1, constant_values=1.5),
    "reflect": lambda t: tg.pad(t, 1, mode="reflect"),
    "tril": lambda t: t.tril(),
    "diagonal": lambda t: t.diagonal(),
    "gather": lambda t: t.gather(1, np.array([[0, 0], [1, 0]])),
    "hstack": lambda t: tg.hstack([t, np.ones((2, 1))]),
    "split": lambda t: t.split([1], axis=1)[1],
    "expand": lambda t: t[:, :1].expand(2, 3),
}


@pytest.mark.parametrize("name", list(FLOAT32_OPS))
def test_float32_stays_float32_in_value_and_gradient(name):
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    out = FLOAT32_OPS[name](x)
    assert out.dtype == np.float32
    (out * out).sum().backward()
    assert to_host(x.grad).dtype == np.float32


def test_astype_float_double_clone_and_requires_grad_():
    x = Tensor(np.array([1.5, -2.5]), requires_grad=True)
    assert x.float().dtype == np.float32 and x.float().double().dtype == np.float64
    assert x.astype(np.float64) is x
    as_int = x.astype(np.int32)
    assert as_int.dtype == np.int32 and not as_int.requires_grad
    np.testing.assert_array_equal(as_int.data, np.array([1.5, -2.5]).astype(np.int32))
    copy = x.clone()
    assert copy.data is not x.data and not copy.is_leaf
    (copy * x.float()).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=1e-6)
    leaf = Tensor([1.0])
    assert leaf.requires_grad_() is leaf and leaf.requires_grad
    assert leaf.requires_grad_(False) is leaf and not leaf.requires_grad
    with pytest.raises(tg.GraphError, match="leaf"):
        (x * 2).requires_grad_(False)
    with pytest.raises(tg.DTypeError, match="floating-point"):
        Tensor(np.arange(3)).requires_grad_()


# --------------------------------------------------------------------- bad input
X = np.zeros((2, 3))
BAD = [
    ("axis out of range", lambda: Tensor(X).squeeze(5), tg.ShapeError, "out of range"),
    ("squeeze a long axis", lambda: Tensor(X).squeeze(0), tg.ShapeError, "size 1"),
    ("swap a float axis", lambda: Tensor(X).swapaxes(0.5, 1), tg.DTypeError, "axis"),
    ("moveaxis twice", lambda: tg.moveaxis(X, (0, 0), (0, 1)), tg.ShapeError, "distinct"),
    ("permute too few", lambda: Tensor(X).permute(0), tg.ShapeError, "permute"),
    ("broadcast", lambda: Tensor(X).broadcast_to((3, 3)), tg.ShapeError, r"\(2, 3\)"),
    ("expand new -1", lambda: Tensor(X).expand(-1, 2, 3), tg.ShapeError, "expand"),
    ("negative reps", lambda: tg.tile(X, (-1,)), tg.ArgumentError, "reps"),
    ("float reps", lambda: tg.tile(X, 1.5), tg.DTypeError, "reps"),
    ("negative repeats", lambda: tg.repeat(X, -1), tg.ArgumentError, "repeats"),
    ("repeats count", lambda: tg.repeat(X, [1, 2], axis=1), tg.ShapeError, "repeats"),
    ("negative pad", lambda: tg.pad(X, -1), tg.ArgumentError, ">= 0"),
    ("pad form", lambda: tg.pad(X, [[1, 1]] * 3), tg.ShapeError, "pad_width"),
    ("float pad", lambda: tg.pad(X, 1.5), tg.DTypeError, "pad_width"),
    ("reflect too wide", lambda: tg.pad(X, 2, mode="reflect"), tg.ShapeError, "below the size"),
    ("pad mode", lambda: tg.pad(X, 1, mode="edge"), tg.ArgumentError, "mode"),
    ("uneven split", lambda: tg.split(X, 2, axis=1), tg.ShapeError, "do not divide"),
    ("zero chunks", lambda: Tensor(X).chunk(0), tg.ArgumentError, "chunks"),
    ("tril 1-d", lambda: tg.tril(np.zeros(3)), tg.ShapeError, "2 dimensions"),
    ("diag 3-d", lambda: tg.diag(np.zeros((2, 2, 2))), tg.ShapeError, "1-d or 2-d"),
    ("diagonal same", lambda: tg.diagonal(X, 0, 1, -1), tg.ShapeError, "same axis"),
    ("gather range", lambda: Tensor(X).gather(1, np.array([[3]])), tg.BadIndexError, "index 3"),
    ("gather -1", lambda: Tensor(X).gather(1, np.array([[-1]])), tg.BadIndexError, "-1"),
    ("gather float", lambda: Tensor(X).gather(0, np.zeros((1, 1))), tg.DTypeError, "integer"),
    ("gather ndim", lambda: Tensor(X).gather(0, np.zeros(2, int)), tg.ShapeError, "axes"),
    ("gather wide", lambda: Tensor(X).gather(0, np.zeros((1, 4), int)), tg.ShapeError, "larger"),
    (
        "take broadcast",
        lambda: tg.take_along_axis(X, np.zeros((2, 2), int), axis=0),
        tg.ShapeError,
        "broadcast",
    ),
    ("take range", lambda: tg.take_along_axis(X, np.array([[-4]]), 1), tg.BadIndexError, "-4"),
    ("astype", lambda: Tensor(X).astype("not a dtype"), tg.DTypeError, "dtype"),
    ("astype complex", lambda: Tensor(X).astype(complex), tg.DTypeError, "real"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_problem(case, call, error, message):
    with pytest.raises(error, match=message):
        call()
