"""gradcheck itself: it must reject wrong backward passes with a useful message, accept right
ones, and refuse calls it cannot check.

Wrong ops are built as fake primitives (``tinygrad_hw.primitive``, run by ``tinygrad_hw.apply``):
a forward computed correctly and a vjp that is deliberately wrong in one known way.
"""

import re

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.ops.devices import default_device, to_device

RNG = np.random.default_rng(1234)
# A circulant matrix 0.5 I + 2 P + 0.3 P^2 (P the cyclic shift): not symmetric, yet every row
# and every column sums to 2.8, so an all-ones cotangent cannot tell B from B^T; only a random
# one can. The transposed-vjp fake below therefore tests that gradcheck's cotangent is random.
SHIFT = np.roll(np.eye(3), 1, axis=1)
# on the default device, as a primitive's operands must be (array-api-strict adds no numpy)
B = to_device(0.5 * np.eye(3) + 2.0 * SHIFT + 0.3 * SHIFT @ SHIFT, default_device())


BAD_NEG = tg.primitive("bad_neg", lambda xp, x: -x, [lambda xp, g, out, x: g])
# t @ B whose vjp uses B where it needs B^T: invisible to an all-ones cotangent
BAD_MATMUL = tg.primitive("bad_matmul", lambda xp, x: x @ B, [lambda xp, g, out, x: g @ B])
GOOD_MATMUL = tg.primitive("good_matmul", lambda xp, x: x @ B, [lambda xp, g, out, x: g @ B.T])


def negate_with_sign_flipped_vjp(t: Tensor) -> Tensor:
    return tg.apply(BAD_NEG, t)


def matmul_with_transposed_vjp(t: Tensor) -> Tensor:
    return tg.apply(BAD_MATMUL, t)


def matmul_with_correct_vjp(t: Tensor) -> Tensor:
    return tg.apply(GOOD_MATMUL, t)


@pytest.mark.parametrize("fake", [negate_with_sign_flipped_vjp, matmul_with_transposed_vjp])
def test_gradcheck_rejects_a_wrong_vjp(fake):
    x = Tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="input 0"):
        tg.gradcheck(fake, x)


def test_gradcheck_accepts_a_correct_vjp_and_real_ops():
    x = Tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    w = Tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert tg.gradcheck(matmul_with_correct_vjp, x) is True
    assert tg.gradcheck(lambda a, b: (a @ b).tanh().sum(axis=0), x, w, seed=5) is True


def _scaled_with_bumped_vjp(a: Tensor, b: Tensor, bump: np.ndarray) -> Tensor:
    """a * b with the correct vjp for a, and b's vjp off by ``bump`` (added, not scaled by g,
    so the error at each element is exactly the bump whatever the cotangent)."""
    bumped = tg.primitive(
        "bumped",
        lambda xp, a, b: a * b,
        [lambda xp, g, out, a, b: g * b, lambda xp, g, out, a, b: g * a + bump],
    )
    return tg.apply(bumped, a, b)


def test_the_error_names_the_input_the_worst_element_and_both_values():
    a = Tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    b = Tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    bump = np.zeros((3, 4))
    bump[2, 1] = 5.0  # the worst element
    bump[0, 3] = 1.0  # also wrong, less so
    bump = to_device(bump, default_device())
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(lambda a, b: _scaled_with_bumped_vjp(a, b, bump), a, b, seed=3)
    message = str(caught.value)
    assert "input 1" in message and "(3, 4)" in message
    assert "element (2, 1)" in message
    assert "2 of 12 elements fail" in message
    # numbers may print as 1.5 or np.float64(1.5): read the number inside either form
    number = r"(?:np\.float64\()?([-+0-9.e]+)\)?"
    values = re.search(rf"tape {number}, finite differences {number}, error {number} >", message)
    tape, numeric, error = (float(v) for v in values.groups())
    # The tape value is the finite-difference one plus the bump; the difference is exact up
    # to the central-difference error (~1e-10, see tinygrad_hw.testing).
    assert tape - numeric == pytest.approx(5.0, abs=1e-8)
    assert error == pytest.approx(5.0, abs=1e-8)


def test_a_non_tensor_output_is_a_clear_error():
    x = Tensor(np.ones(3), requires_grad=True)
    got = type(x.data).__name__  # ndarray; Array on array-api-strict
    with pytest.raises(tg.DTypeError, match=f"must return a Tensor, got {got}"):
        tg.gradcheck(lambda t: t.data * 2, x)


def test_no_input_requiring_grad_is_a_clear_error():
    with pytest.raises(tg.GradcheckError, match="no input has requires_grad=True"):
        tg.gradcheck(lambda t: t * 2, Tensor(np.ones(3)))
    with pytest.raises(tg.GradcheckError, match="no input has requires_grad=True"):
        tg.gradcheck(lambda t: t * 2, np.ones(3))


def test_float32_inputs_are_checked_in_float64_and_left_untouched():
    """In float32 a central difference with eps = 1e-6 is pure rounding noise (eps32 ~ 1e-7
    relative), so passing at atol 1e-6 is only possible in float64; the caller's tensor keeps
    its dtype, its values and no gradient."""
    data = RNG.uniform(-2, 2, (2, 3)).astype(np.float32)
    x = Tensor(data.copy(), requires_grad=True)
    seen = []

    def fn(t: Tensor) -> Tensor:
        seen.append(t.dtype)
        return (t.exp() * t).sum(axis=1)

    assert tg.gradcheck(fn, x, atol=1e-6, rtol=1e-6)
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32 and x.grad is None
    np.testing.assert_array_equal(x.data, data)
