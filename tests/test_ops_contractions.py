"""einsum, tensordot, inner, outer and dot: values against numpy, the tape against float64
central differences (first and second order: each vjp is an einsum again), and the
contraction of two operands run as one matrix product.

Letter sizes are drawn in 1..3 (1..2 with four letters or more, or with '...'; size 1
included), '...' batch shapes are drawn broadcastable (0 to 2 axes, size-1 axes stretching);
values in [-3, 3]. Einsums are multilinear, so the central differences are exact up to
rounding; tolerances are tinygrad_hw.testing's defaults.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_hw as tg
from tinygrad_hw import ArgumentError, DTypeError, ShapeError, Tensor
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import arrays, assert_grad_close, broadcastable_shapes, seeds, shapes

SPECS = [
    "ij,jk->ik",
    "ij,jk",  # implicit output
    "i,i->",
    "i,j->ij",
    "ij->ji",
    "ij->",
    "ij->j",
    "bij,bjk->bik",
    "ijk,kl->li",
    "i,i,i->i",
    "ij,jk,kl->il",
    "ij,j->i",
    ",i->i",
    "ab,cd->dacb",
    "Ba,aC",  # implicit output with capitals: ASCII order, 'BC'
    "...ij,...jk->...ik",
    "...i,...i->...",
    "i...,i->...",
    "...,...",
    "i...->...i",
]


def _operands(spec: str, data: st.DataObject) -> list[np.ndarray]:
    """Arrays that fit ``spec``: one size per letter, broadcastable '...' shapes."""
    terms = spec.split("->")[0].split(",")
    letters = sorted(set(spec) - set(",->."))
    top = 3 if len(letters) <= 3 and "..." not in spec else 2  # keep to <= 36 elements
    sizes = {c: data.draw(st.integers(1, top), label=c) for c in letters}
    with_batch = [t for t in terms if "..." in t]
    batches = iter(
        data.draw(broadcastable_shapes(len(with_batch), max_dims=2, max_side=3))
        if with_batch
        else ()
    )
    operands = []
    for term in terms:
        head, dots, tail = term.partition("...")
        batch = next(batches) if dots else ()
        shape = tuple(sizes[c] for c in head) + tuple(batch) + tuple(sizes[c] for c in tail)
        operands.append(data.draw(arrays(shape)))
    return operands


@pytest.mark.parametrize("spec", SPECS)
@given(data=st.data())
def test_einsum_matches_numpy_and_finite_differences(spec, data):
    operands = _operands(spec, data)
    out = tg.einsum(spec, *[Tensor(x) for x in operands])
    np.testing.assert_allclose(out.data, np.einsum(spec, *operands), rtol=1e-12, atol=1e-12)
    assert out.shape == np.einsum(spec, *operands).shape
    assert_grad_close(lambda *ts: tg.einsum(spec, *ts), *operands, seed=data.draw(seeds()), order=2)


@given(data=st.data())
def test_einsum_broadcasts_size_1_axes_of_a_letter_like_numpy(data):
    """'j' of size 1 in a against size 3 in b: numpy broadcasts it (a sum over j of a's one
    column times b's rows); so does einsum, and the gradient sums back to the size-1 axis."""
    a, b = data.draw(arrays((2, 1))), data.draw(arrays((3, 4)))
    np.testing.assert_allclose(
        tg.einsum("ij,jk->ik", Tensor(a), b).data, np.einsum("ij,jk->ik", a, b), rtol=1e-12
    )
    assert_grad_close(lambda a, b: tg.einsum("ij,jk->ik", a, b), a, b, seed=data.draw(seeds()))


def test_einsum_keeps_float32_and_integers_follow_numpy():
    a = np.ones((2, 3), dtype=np.float32)
    t = Tensor(a, requires_grad=True)
    out = tg.einsum("ij,jk->ik", t, np.ones((3, 2)))  # a float64 constant takes float32
    assert out.dtype == np.float32
    out.sum().backward()
    assert to_host(t.grad).dtype == np.float32
    ints = np.arange(6).reshape(2, 3)
    assert tg.einsum("ij,kj", ints, ints).dtype == np.einsum("ij,kj", ints, ints).dtype


def test_two_operand_contractions_run_as_one_matrix_product_each(monkeypatch):
    """numpy's einsum with optimize=True hands a pair to bmm_einsum: one matmul (after at most
    a single-operand c_einsum per side, a transpose or a sum). The forward and each vjp are
    such pairs, so a matmul-shaped einsum costs 1 + 2 matmuls and no c_einsum of two
    operands (numpy's loop). It counts numpy's own calls, so its tensors are on the CPU
    whatever the default device (another library's einsum is not numpy's)."""
    einsumfunc = pytest.importorskip("numpy._core.einsumfunc")
    if not hasattr(einsumfunc, "bmm_einsum"):
        pytest.skip("this numpy runs pairs through tensordot, not bmm_einsum")
    calls = {"matmul": 0, "c_einsum": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            operands = args[1:] if name == "c_einsum" else args  # c_einsum(eq, *operands)
            calls[name] += len(operands) > 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(einsumfunc, "matmul", counting("matmul", einsumfunc.matmul))
    monkeypatch.setattr(einsumfunc, "c_einsum", counting("c_einsum", einsumfunc.c_einsum))
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((4, 5)), requires_grad=True, device="cpu")
    b = Tensor(rng.standard_normal((5, 6)), requires_grad=True, device="cpu")
    out = tg.tensordot(a, b, axes=1)
    assert calls == {"matmul": 1, "c_einsum": 0}
    g = rng.standard_normal((4, 6))
    out.backward(g)
    assert calls == {"matmul": 3, "c_einsum": 0}
    np.testing.assert_allclose(out.data, a.data @ b.data, rtol=1e-12)
    np.testing.assert_allclose(a.grad, g @ b.data.T, rtol=1e-12)
    np.testing.assert_allclose(b.grad, a.data.T @ g, rtol=1e-12)


BAD_SUBSCRIPTS = [
    ("ii->i", [(3, 3)], ArgumentError, "repeats within operand 0"),
    ("ij,jk->ik", [(2, 3)], ArgumentError, "name 2 operand"),
    ("ij,jk->ik", [(2, 3), (4, 2)], ShapeError, "letter 'j'.*sizes 3 and 4"),
    ("...i,...i", [(2, 3), (4, 3)], ShapeError, "the '...' axes.*sizes 2 and 4"),
    ("ijk->i", [(2, 3)], ShapeError, r"shape \(2, 3\)"),
    ("ij->k", [(2, 3)], ArgumentError, "output letter 'k'"),
    ("ij->ii", [(2, 3)], ArgumentError, "repeats in the output"),
    ("i2->i", [(2, 3)], ArgumentError, "bad character '2'"),
    ("...i->i", [(2, 3)], ArgumentError, "has no '...'"),
    ("i->i->i", [(2,)], ArgumentError, "more than one '->'"),
]


@pytest.mark.parametrize(("spec", "shapes_", "error", "message"), BAD_SUBSCRIPTS)
def test_einsum_refuses_bad_subscripts_with_a_clear_error(spec, shapes_, error, message):
    with pytest.raises(error, match=message):
        tg.einsum(spec, *[Tensor(np.ones(s)) for s in shapes_])


def test_einsum_refuses_no_operands_and_non_string_subscripts():
    with pytest.raises(ArgumentError, match="at least one operand"):
        tg.einsum("ij")
    with pytest.raises(DTypeError, match="subscripts must be a string"):
        tg.einsum(["ij"], Tensor(np.ones((2, 2))))


# --------------------------------------------------------------------- tensordot and co
PAIRS = {
    "tensordot": (tg.tensordot, np.tensordot),
    "inner": (tg.inner, np.inner),
    "outer": (tg.outer, np.outer),
    "dot": (tg.dot, np.dot),
}


def _pair_shapes(name: str, data: st.DataObject) -> tuple[tuple, tuple, dict]:
    """Shapes of a and b that fit the function (0-d operands included), and its kwargs."""
    a = data.draw(shapes(max_dims=3, max_side=3), label="a")
    if name == "outer":
        return a, data.draw(shapes(max_dims=2, max_side=3), label="b"), {}
    if name == "tensordot":  # b starts with a's last n axes
        n = data.draw(st.integers(0, min(2, len(a))), label="axes")
        b = a[len(a) - n :] + data.draw(shapes(max_dims=1, max_side=3), label="b")
        return a, b, {"axes": n}
    if not a or data.draw(st.booleans(), label="0-d b"):
        return a, (), {}  # a 0-d operand scales the other
    if name == "inner":
        return a, data.draw(shapes(max_dims=1, max_side=3), label="b") + a[-1:], {}
    return a, data.draw(st.sampled_from([a[-1:], (2, a[-1], 3), (a[-1], 2)]), label="b"), {}


@pytest.mark.parametrize("name", list(PAIRS))
@given(data=st.data())
def test_tensordot_inner_outer_dot_match_numpy_and_finite_differences(name, data):
    fn, oracle = PAIRS[name]
    shape_a, shape_b, kwargs = _pair_shapes(name, data)
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    expected = oracle(a, b, **kwargs)
    out = fn(Tensor(a), b, **kwargs)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert_grad_close(lambda a, b: fn(a, b, **kwargs), a, b, seed=data.draw(seeds()), order=2)


def test_tensordot_takes_pairs_of_axes_like_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((2, 5, 3))
    for axes in [([0, 2], [2, 0]), (2, 0), ([-1], [0])]:
        np.testing.assert_allclose(
            tg.tensordot(a, b, axes=axes).data, np.tensordot(a, b, axes=axes), rtol=1e-12
        )
    assert_grad_close(lambda a, b: tg.tensordot(a, b, axes=([0, 2], [2, 0])), a, b, order=2)


def test_contractions_refuse_misaligned_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"tensordot: shapes \(2, 3\) and \(4, 5\) are not"):
        tg.tensordot(a, b, axes=1)
    with pytest.raises(ShapeError, match="axes=3"):
        tg.tensordot(a, b, axes=3)
    with pytest.raises(DTypeError, match="axes must be an int or a pair"):
        tg.tensordot(a, b, axes="x")
    with pytest.raises(ShapeError, match="inner: shapes"):
        tg.inner(a, b)
    with pytest.raises(ShapeError, match="dot: shapes"):
        tg.dot(a, b)
