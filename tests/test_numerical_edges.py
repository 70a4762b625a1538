"""Numerical edges: huge logits, underflowing softmax, saturated sigmoids, float32 all the
way through training, and the documented gradient at ties and kinks.

Every oracle is float64 and written from the definition with Python's math module, one
element at a time, not with the library's formulas.
"""

import math

import numpy as np
import pytest

import tinygrad_hw.nn.functional as F
import tinygrad_hw.recording as recording_module
from tinygrad_hw import Tensor, autodiff, nn, optim
from tinygrad_hw.data import minibatches

FLOATS = [np.float32, np.float64]
# Logit rows at magnitude 1e4: near-ties (p not one-hot), one dominant class, and two classes
# tied exactly at the top, so p - y has entries other than 0 and +-1.
HUGE_LOGITS = [[1e4, 1e4 - 1, -1e4], [-1e4, 1e4, 0.0], [5e3, -5e3, 5e3], [1e4, -1e4, 1e4 - 3]]
HUGE_LABELS = [2, 0, 1, 2]


def softmax_row(row: list[float]) -> list[float]:
    """p_k = exp(z_k - m) / sum_j exp(z_j - m), in float64 with an exactly summed denominator."""
    m = max(row)
    total = math.fsum(math.exp(v - m) for v in row)
    return [math.exp(v - m) / total for v in row]


def cross_entropy_row(row: list[float], label: int) -> float:
    """-log p_y = logsumexp(z) - z_y, never the log of a rounded probability."""
    m = max(row)
    return m + math.log(math.fsum(math.exp(v - m) for v in row)) - row[label]


def softplus(v: float) -> float:
    """log(1 + e^v) = max(v, 0) + log1p(e^-|v|), finite for any finite v."""
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


# --------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_of_logits_at_1e4_is_finite_and_its_gradient_is_p_minus_y(dtype, reduction):
    z = np.array(HUGE_LOGITS, dtype)
    rows = z.astype(np.float64).tolist()  # the float32 values themselves, read exactly
    n = len(rows)
    per_row = [cross_entropy_row(r, y) for r, y in zip(rows, HUGE_LABELS, strict=True)]
    expected = math.fsum(per_row) / (n if reduction == "mean" else 1)
    p_minus_y = np.array([softmax_row(r) for r in rows])
    p_minus_y[np.arange(n), HUGE_LABELS] -= 1
    g = np.random.default_rng(3).uniform(0.5, 2.0)  # a random upstream gradient, not 1

    logits = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, np.array(HUGE_LABELS), reduction=reduction)
    loss.backward(np.array(g, dtype))

    assert loss.dtype == dtype and logits.grad.dtype == dtype
    assert np.isfinite(loss.item())
    # The loss is ~1e4; float32 stores the logits' differences to 1 ulp of 2e4 = 2^-9 per
    # row, so rtol 1e-6 (0.02 absolute on 2e4) is a few of those; float64 to rounding.
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss.item(), expected, rtol=rtol)
    scale = g / (n if reduction == "mean" else 1)
    # p is within a few ulps of 1, 0.73, 0.5, ...: float32 ulps at 1 are 6e-8
    atol = 1e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(logits.grad, scale * p_minus_y, rtol=0, atol=atol)


def test_log_of_an_underflowed_softmax_is_inf_but_log_softmax_and_cross_entropy_are_not():
    z = np.array([[0.0, -1e4, -2e4]])
    probabilities = Tensor(z).softmax()
    assert probabilities.data[0, 1] == 0.0  # e^-1e4 underflows to exactly 0 in float64
    with np.errstate(divide="ignore"):
        naive = probabilities.log().data
    assert np.isneginf(naive[0, 1:]).all()
    log_probabilities = Tensor(z).log_softmax().data
    np.testing.assert_allclose(log_probabilities, [[0.0, -1e4, -2e4]], rtol=1e-15)
    # cross-entropy of the underflowed class: -log softmax would be inf, the loss is 1e4
    for label in (1, 2):
        loss = F.cross_entropy(Tensor(z), np.array([label])).item()
        assert math.isfinite(loss)
        np.testing.assert_allclose(loss, cross_entropy_row(z[0].tolist(), label), rtol=1e-15)


# --------------------------------------------------------------------------- sigmoid
@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_at_1e4_is_finite_with_gradient_s_times_one_minus_s(dtype):
    x = np.array([1e4, -1e4, 0.5, -3.0], dtype)
    g = np.random.default_rng(4).uniform(0.5, 2.0, size=4).astype(dtype)
    leaf = Tensor(x, requires_grad=True)
    out = leaf.sigmoid()
    out.backward(g)
    s = np.array([sigmoid(v) for v in x.astype(np.float64)])
    tol = 1e-7 if dtype == np.float32 else 1e-16  # a few ulps of values in [0, 1]
    np.testing.assert_allclose(out.data, s, rtol=0, atol=tol)
    np.testing.assert_allclose(leaf.grad, g * s * (1 - s), rtol=0, atol=tol)
    assert np.isfinite(out.data).all() and np.isfinite(leaf.grad).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_with_logits_at_1e4_is_finite_with_gradient_sigmoid_minus_target(dtype):
    z = np.array([1e4, -1e4, 1e4, -1e4, 0.5, -3.0], dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 1.0], dtype)
    g = np.random.default_rng(5).uniform(0.5, 2.0)
    logits = Tensor(z, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, t)
    loss.backward(np.array(g, dtype))
    pairs = list(zip(z.astype(np.float64).tolist(), t.astype(np.float64).tolist(), strict=True))
    expected = math.fsum(softplus(v) - target * v for v, target in pairs) / len(pairs)
    gradient = np.array([(sigmoid(v) - target) * g / len(pairs) for v, target in pairs])
    rtol = 1e-6 if dtype == np.float32 else 1e-14  # float32: a few ulps of 1e4 in the sum
    np.testing.assert_allclose(loss.item(), expected, rtol=rtol)
    np.testing.assert_allclose(logits.grad, gradient, rtol=0, atol=1e-7 if rtol > 1e-9 else 1e-16)
    assert loss.dtype == dtype and logits.grad.dtype == dtype


# --------------------------------------------------------------------------- float32 training
class DtypeRecorder:
    """Records the dtype of every op's output (recording.record, which every apply calls)
    and of every cotangent the engine had to cast to its input's dtype."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.outputs: list[tuple[str, np.dtype]] = []
        self.cast_cotangents: list[np.dtype] = []
        record, cast = recording_module.record, autodiff.cast

        def recording(primitive, *args, **kwargs):
            result = record(primitive, *args, **kwargs)
            self.outputs.append((primitive.name, result.dtype))
            return result

        def casting(array, dtype):
            if array.dtype != dtype:
                self.cast_cotangents.append(array.dtype)
            return cast(array, dtype)

        monkeypatch.setattr(recording_module, "record", recording)
        monkeypatch.setattr(autodiff, "cast", casting)

    def float64_ops(self) -> list[str]:
        return sorted({op for op, dtype in self.outputs if dtype == np.float64})


def graph_dtypes(root: autodiff.Node) -> list[tuple[str, np.dtype]]:
    """(op, dtype) of every node reachable from ``root``, walked iteratively."""
    seen, stack, found = set(), [root], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append((node.op, np.dtype(node.dtype)))
        stack.extend(p for p in node.parents if p is not None)
    return found


def test_float32_training_never_creates_a_float64_array(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12)).astype(np.float32)
    y = np.argmax(x @ rng.standard_normal((12, 4)), axis=1)  # learnable labels
    model = nn.MLP([12, 16, 4], rng=1)
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    recorder = DtypeRecorder(monkeypatch)
    losses = []
    for epoch in range(10):
        for xb, yb in minibatches(x, y, 16, seed=epoch):
            sgd.zero_grad()
            loss = F.cross_entropy(model(xb), yb) + F.l2_penalty(model.parameters(), 1e-4)
            graph = graph_dtypes(loss._node)
            assert {dtype for _, dtype in graph} == {np.dtype(np.float32)}, graph
            loss.backward()
            sgd.step()
            losses.append(loss.item())
            assert loss.dtype == np.float32
    assert recorder.outputs and recorder.float64_ops() == []
    assert recorder.cast_cotangents == []  # no vjp computed a float64 gradient
    for name, p in model.named_parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32, name
    buffers = [v for v in sgd.state_dict().values() if isinstance(v, np.ndarray)]
    assert buffers and all(b.dtype == np.float32 for b in buffers)
    assert all(s.dtype == np.float32 for pool in sgd._scratch for s in pool)
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])  # it did train


def test_the_dtype_recorder_sees_a_float64_op(monkeypatch):
    """The check above can fail: one float64 tensor in a float32 graph is reported."""
    recorder = DtypeRecorder(monkeypatch)
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    stray = Tensor(np.ones(3), requires_grad=True)  # float64, and it requires grad
    loss = (w * stray).sum()
    assert np.dtype(np.float64) in {d for _, d in graph_dtypes(loss._node)}
    loss.backward()
    assert recorder.float64_ops() == ["mul", "sum"]
    assert np.dtype(np.float64) in recorder.cast_cotangents  # w's float64 gradient, cast


# --------------------------------------------------------------------------- ties and kinks
def upstream(shape: tuple[int, ...], dtype, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    ("method", "x", "slope"),
    [
        # ops/elementwise.py: relu "the gradient at exactly 0 is 0, as in PyTorch"
        ("relu", [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),
        # abs "the gradient at 0 is 0 (the subgradient np.sign picks)"
        ("abs", [-2.0, 0.0, 3.0], [-1.0, 0.0, 1.0]),
    ],
)
def test_kink_gradients_are_the_documented_choice(dtype, method, x, slope):
    leaf = Tensor(np.array(x, dtype), requires_grad=True)
    g = upstream(leaf.shape, dtype, 6)
    getattr(leaf, method)().backward(g)
    np.testing.assert_array_equal(leaf.grad, g * np.array(slope, dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_clip_passes_the_gradient_at_its_bounds(dtype):
    """ops/elementwise.py: "the gradient passes where lo <= x <= hi (boundaries included)"."""
    leaf = Tensor(np.array([-1.0, 0.0, 0.5, 1.0, 2.0], dtype), requires_grad=True)
    g = upstream(leaf.shape, dtype, 7)
    leaf.clip(0.0, 1.0).backward(g)
    np.testing.assert_array_equal(leaf.grad, g * np.array([0, 1, 1, 1, 0], dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("method", ["max", "min"])
def test_max_and_min_split_the_gradient_evenly_among_ties(dtype, method):
    """ops/reductions.py: "split evenly among the elements that tie for the extremum"."""
    sign = 1 if method == "max" else -1
    x = sign * np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [3.0, 0.0, -1.0]], dtype)
    leaf = Tensor(x, requires_grad=True)
    g = upstream((3,), dtype, 8)
    getattr(leaf, method)(axis=1).backward(g)
    shares = np.array([[0, 1 / 2, 1 / 2], [1 / 3, 1 / 3, 1 / 3], [1, 0, 0]])
    # 1/3 is inexact: one rounding in g * (1/3), so a float's eps of relative error
    np.testing.assert_allclose(leaf.grad, g[:, None] * shares, rtol=np.finfo(dtype).eps)

    whole = Tensor(x, requires_grad=True)
    total = upstream((), dtype, 9)
    getattr(whole, method)().backward(total)  # over all axes: three tie at sign * 3
    expected = np.where(x == sign * 3, total / 3, 0)
    np.testing.assert_allclose(whole.grad, expected, rtol=np.finfo(dtype).eps)
