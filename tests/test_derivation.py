"""check_jacobian and check_hessian: right derivations pass, each classic wrong one gets its
diagnosis, and the reports render (str and HTML).

The oracles are closed forms written here in numpy, independent of the tape: the softmax
Jacobian diag(p) - p p^T (seed reports 000-004), a linear map's Jacobian A, the sigmoid's
diag(s (1 - s)), and the Hessian of mean logistic loss X^T diag(s (1 - s)) X / N. The tape
and a closed form agree to float64 rounding (~1e-16 relative), far inside the default
rtol=1e-5, atol=1e-8, so a right derivation can never be flagged; every wrong one below is
wrong by far more than that.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.derivation import check_hessian, check_jacobian

logit_vectors = hnp.arrays(np.float64, st.integers(2, 6), elements=st.floats(-4, 4))
factors = st.floats(0.1, 10).filter(lambda c: abs(c - 1) > 0.01)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)


def seed002_jacobian(z: np.ndarray) -> np.ndarray:
    """Seed 002's derivation: y_i (1 - y_i) on the diagonal (right), -1 / (y_i y_j) off it."""
    p = softmax(z)
    return np.diag(p * (1 - p)) - (1 - np.eye(len(p))) / np.outer(p, p)


def softmax_of(t: Tensor) -> Tensor:
    return t.softmax()


# --------------------------------------------------------------------------- right ones pass


@given(z=logit_vectors)
def test_the_softmax_jacobian_diag_p_minus_ppT_passes(z):
    report = check_jacobian(softmax_of, z, softmax_jacobian(z))
    assert report.ok and report.diagnosis == "ok"
    assert report.check.max_rel_error < 1e-10  # rounding only


@given(z=logit_vectors, seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 4))
def test_right_jacobians_are_never_flagged(z, seed, rows):
    a = np.random.default_rng(seed).standard_normal((rows, len(z)))
    assert check_jacobian(lambda t: Tensor(a) @ t, z, a).ok
    s = 1 / (1 + np.exp(-z))
    assert check_jacobian(lambda t: t.sigmoid(), z, np.diag(s * (1 - s))).ok
    assert check_jacobian(lambda t: (t * t).sum(), z, 2 * z).ok  # scalar f: shape x.shape


def test_a_batch_softmax_jacobian_is_block_diagonal_and_takes_the_matrix_form():
    z = np.random.default_rng(0).standard_normal((3, 4))
    blocks = np.zeros((3, 4, 3, 4))
    for n in range(3):
        blocks[n, :, n, :] = softmax_jacobian(z[n])
    assert check_jacobian(lambda t: t.softmax(axis=1), z, blocks).ok
    assert check_jacobian(lambda t: t.softmax(axis=1), z, blocks.reshape(12, 12)).ok


def test_the_jacobian_may_be_a_function_of_x_and_x_is_not_changed():
    z = np.array([0.3, -1.0, 2.0])
    before = z.copy()
    assert check_jacobian(softmax_of, z, softmax_jacobian).ok
    np.testing.assert_array_equal(z, before)


# --------------------------------------------------------------------------- each diagnosis


@given(z=logit_vectors)
def test_seed002s_softmax_jacobian_is_off_diagonal_wrong(z):
    report = check_jacobian(softmax_of, z, seed002_jacobian(z))
    assert not report.ok and report.diagnosis == "off-diagonal wrong"
    assert "the diagonal d f_i / d x_i matches" in report.message


def test_seed002_at_the_readme_point_names_the_worst_element():
    z = np.array([1.0, 2.0, 0.5])
    report = check_jacobian(softmax_of, z, seed002_jacobian)
    p = softmax(z)
    # the worst off-diagonal element is the smallest pair, p_0 p_2 (index [0, 2] first)
    assert f"[0, 2] yours {-1 / (p[0] * p[2]):.6g} vs autograd {-p[0] * p[2]:.6g}" in str(report)


@given(z=logit_vectors)
def test_the_elementwise_derivative_alone_is_diagonal_only(z):
    p = softmax(z)
    report = check_jacobian(softmax_of, z, np.diag(p * (1 - p)))
    assert report.diagnosis == "diagonal only" and "treated f as elementwise" in report.message
    assert "diagonal is wrong too" not in report.message
    wrong_diagonal = check_jacobian(softmax_of, z, np.diag(p))
    assert wrong_diagonal.diagnosis == "diagonal only"
    assert "diagonal is wrong too" in wrong_diagonal.message


@given(z=logit_vectors)
def test_a_wrong_diagonal_with_right_off_diagonal_terms_is_diagonal_wrong(z):
    p = softmax(z)
    report = check_jacobian(softmax_of, z, -np.outer(p, p))  # the p_i term of i = j forgotten
    assert report.diagnosis == "diagonal wrong" and "recheck d f_i / d x_i" in report.message


@given(z=logit_vectors)
def test_a_flipped_off_diagonal_sign_is_named(z):
    p = softmax(z)
    report = check_jacobian(
        softmax_of, z, np.diag(p * (1 - p)) + np.outer(p, p) * (1 - np.eye(len(z)))
    )
    assert report.diagnosis == "off-diagonal wrong" and "their sign is flipped" in report.message


@given(z=logit_vectors, c=factors)
def test_sign_and_scale(z, c):
    assert check_jacobian(softmax_of, z, -softmax_jacobian(z)).diagnosis == "sign"
    report = check_jacobian(softmax_of, z, c * softmax_jacobian(z))
    assert report.diagnosis == "scale" and report.factor == pytest.approx(c, rel=1e-9)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 5))
def test_a_transposed_jacobian_is_transpose(seed, n):
    a = np.random.default_rng(seed).standard_normal((n, n))  # not symmetric (almost surely)
    report = check_jacobian(lambda t: Tensor(a) @ t, np.ones(n), a.T)
    assert report.diagnosis == "transpose" and "d f_j / d x_i" in report.message


def test_a_jacobian_of_swapped_shape_is_transpose_and_other_shapes_are_shape():
    a = np.arange(6.0).reshape(2, 3)
    linear = lambda t: Tensor(a) @ t  # noqa: E731
    x = np.array([1.0, -2.0, 0.5])
    swapped = check_jacobian(linear, x, a.T)
    assert swapped.diagnosis == "transpose" and "then it matches" in swapped.message
    flat = check_jacobian(linear, x, a.ravel())
    assert flat.diagnosis == "shape" and "reshape it; then it matches" in flat.message
    wrong = check_jacobian(linear, x, np.ones((2, 2)))
    assert wrong.diagnosis == "shape" and "(2, 2)" in wrong.message and "(2, 3)" in wrong.message
    assert not (swapped.ok or flat.ok or wrong.ok)


def test_nan_in_a_derivation_is_a_mismatch_naming_it():
    j = softmax_jacobian(np.zeros(3))
    j[1, 2] = np.nan
    report = check_jacobian(softmax_of, np.zeros(3), j)
    assert report.diagnosis == "mismatch" and "NaN" in report.message


# --------------------------------------------------------------------------- drawn points


def test_drawn_points_report_the_smallest_failing_one():
    strategy = hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-3, 3))
    report = check_jacobian(softmax_of, strategy, seed002_jacobian, max_examples=30)
    # at one element the Jacobian has no off-diagonal part: the smallest failure has two
    assert not report.ok and report.diagnosis == "off-diagonal wrong"
    assert report.x.shape == (2,) and report.points > 1
    assert "smallest failing point" in str(report)
    passing = check_jacobian(softmax_of, strategy, softmax_jacobian, max_examples=15)
    assert passing.ok and passing.points == 15 and "at 15 drawn points" in str(passing)


# --------------------------------------------------------------------------- check_hessian


def logistic_problem(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.integers(0, 2, n).astype(np.float64)

    def loss(w: Tensor) -> Tensor:
        return tg.nn.functional.binary_cross_entropy_with_logits(Tensor(x) @ w, Tensor(y))

    def hessian(w: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-(x @ w)))
        return x.T @ np.diag(s * (1 - s)) @ x / n

    return loss, hessian, rng.standard_normal(d)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6), d=st.integers(1, 4))
def test_the_logistic_hessian_passes_and_a_missing_1_over_n_is_scale_n(seed, n, d):
    loss, hessian, w = logistic_problem(seed, n, d)
    assert check_hessian(loss, w, hessian).ok
    report = check_hessian(loss, w, lambda w: n * hessian(w))
    assert report.diagnosis == "scale" and report.factor == pytest.approx(n, rel=1e-9)


def test_a_hessian_missing_its_cross_terms_is_diagonal_only():
    loss, hessian, w = logistic_problem(3, 6, 3)
    report = check_hessian(loss, w, lambda w: np.diag(np.diag(hessian(w))))
    assert report.diagnosis == "diagonal only" and report.expected.shape == (3, 3)


# --------------------------------------------------------------------------- reports, errors


def test_reports_render_as_text_and_html():
    z = np.array([1.0, 2.0, 0.5])
    report = check_jacobian(softmax_of, z, seed002_jacobian)
    text, page = str(report), report._repr_html_()
    assert "off-diagonal wrong" in text and "at x = [1.  2.  0.5]" in text
    assert "<table>" in page and "off-diagonal wrong" in page and "color: #c00" in page
    assert repr(report) == "DerivationReport(check_jacobian, ok=False, 'off-diagonal wrong')"


def test_check_backprop_reports_render_as_html_escaped():
    x = np.array([[1.0, 2.0]])
    report = tg.check_backprop(lambda p: (Tensor(x) @ p["<W>"]).sum(), {"<W>": np.ones((2, 1))},
                               {"<W>": -x.T})  # fmt: skip
    page = report._repr_html_()
    assert "&lt;W&gt;" in page and "<W>" not in page and "sign" in page

    def forward(p):
        h = Tensor(x) @ p["W"]
        return {"h": h, "loss": h.sum()}

    layers = tg.check_layer_grads(forward, {"W": np.ones((2, 1))}, {"h": np.zeros((1, 1))})
    assert "first wrong: <b>h</b>" in layers._repr_html_()


def test_bad_arguments_get_the_librarys_errors():
    z = np.zeros(3)
    with pytest.raises(tg.DTypeError, match="numpy array or a function"):
        check_jacobian(softmax_of, z, [[1.0]])
    with pytest.raises(tg.ArgumentError, match="rtol"):
        check_jacobian(softmax_of, z, softmax_jacobian, rtol=-1)
    with pytest.raises(tg.DTypeError, match="must be a numpy array"):
        check_jacobian(softmax_of, z, lambda x: "oops")
    with pytest.raises(tg.DTypeError, match="real numbers"):
        check_jacobian(softmax_of, np.array(["a"]), softmax_jacobian)
