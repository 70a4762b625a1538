"""The standardize primitive, BatchNorm1d/2d, LayerNorm and Embedding: gradients against float64
central differences (orders 1 and 2), values against numpy oracles written out here and
against torch when installed (rtol 1e-10), running statistics, buffers and bad inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_hw import (
    ArgumentError,
    BadIndexError,
    DTypeError,
    ShapeError,
    Tensor,
    nn,
    no_grad,
    ops,
)
from tinygrad_hw.ops.devices import to_host
from tinygrad_hw.testing import (
    arrays,
    assert_grad_close,
    assert_vjp_matches_finite_differences,
    axes,
    floats,
    seeds,
    shapes,
)

# Inputs in [-3, 3] drawn independently can have a slice of (nearly) equal values, where the
# variance is ~0 and 1/sqrt(var + eps) magnifies finite-difference error by up to 1/eps^1.5.
# eps = 0.1 keeps every derivative moderate while still testing the formula (eps enters it).
EPS = 0.1


def _standardized(x: np.ndarray, axis, eps: float) -> np.ndarray:
    mean = x.mean(axis=axis, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axis, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# ------------------------------------------------------------------ the primitive
@given(shape=shapes(min_dims=1), data=st.data())
def test_standardize_matches_finite_differences_orders_1_and_2(shape, data):
    x = data.draw(arrays(shape))
    axis = data.draw(axes(len(shape), allow_none=False).filter(lambda a: a != ()))
    axis = tuple(sorted(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)))
    params = {"axis": axis, "eps": EPS}
    out = ops.standardize.forward(ops.NUMPY, x, **params)[0]
    np.testing.assert_allclose(out, _standardized(x, axis, EPS), rtol=1e-12, atol=1e-14)
    assert_vjp_matches_finite_differences(ops.standardize, [x], data, params=params, order=2)


def test_standardize_of_a_constant_slice_is_finite():
    x = Tensor(np.full((3, 4), 1e4, np.float32), requires_grad=True)
    y = nn.LayerNorm(4)(x)
    y.backward(np.ones((3, 4), np.float32))
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_array_equal(y.data, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_at_magnitude_1e4_is_finite_and_right(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 3)) * 1e4).astype(dtype)
    xt = Tensor(x, requires_grad=True)
    y = nn.BatchNorm1d(3, dtype=dtype)(xt)
    y.backward(rng.standard_normal((8, 3)).astype(dtype))
    assert y.dtype == dtype and to_host(xt.grad).dtype == dtype
    assert np.all(np.isfinite(to_host(xt.grad)))
    want = _standardized(x.astype(np.float64), (0,), 1e-5)
    np.testing.assert_allclose(y.data, want, rtol=1e-4 if dtype == np.float32 else 1e-10)


# ------------------------------------------------------------------ layers: gradients
@pytest.mark.parametrize(
    ("layer", "shape", "param_shape"),
    [
        (lambda: nn.BatchNorm1d(3, eps=EPS, dtype=np.float64), (4, 3), (3,)),
        (lambda: nn.BatchNorm1d(2, eps=EPS, dtype=np.float64), (3, 2, 2), (2,)),
        (lambda: nn.BatchNorm2d(2, eps=EPS, dtype=np.float64), (2, 2, 2, 2), (2,)),
        (lambda: nn.LayerNorm((2, 3), eps=EPS, dtype=np.float64), (2, 2, 3), (2, 3)),
    ],
)
@given(data=st.data())
def test_normalization_layers_match_finite_differences(layer, shape, param_shape, data):
    module = layer()
    x = data.draw(arrays(shape))
    w = data.draw(arrays(param_shape, elements=floats(0.5, 2.0)))
    b = data.draw(arrays(param_shape))

    def forward(x, w, b):
        module.weight, module.bias = w, b
        return module(x)

    assert_grad_close(forward, x, w, b, seed=data.draw(seeds()), order=2)


def test_eval_batch_norm_is_the_running_affine_map():
    bn = nn.BatchNorm1d(2, dtype=np.float64)
    with no_grad():  # a leaf and buffers set by hand, wherever they live
        bn.running_mean[...] = [1.0, -2.0]
        bn.running_var[...] = [4.0, 0.25]
        bn.weight[...] = [3.0, 5.0]
    bn.eval()
    x = Tensor(np.array([[1.0, 0.0], [3.0, -2.0]]), requires_grad=True)
    y = bn(x)
    scale = np.array([3.0, 5.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(y.numpy(), (x.numpy() - [1.0, -2.0]) * scale)
    y.sum().backward()
    np.testing.assert_allclose(to_host(x.grad), np.broadcast_to(scale, (2, 2)))


# ------------------------------------------------------------------ running statistics
def test_running_stats_follow_the_momentum_with_the_unbiased_variance():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm1d(3, momentum=0.25, dtype=np.float64)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((5, 3)) * 2 + 1
        bn(Tensor(x))
        mean = 0.75 * mean + 0.25 * x.mean(axis=0)
        var = 0.75 * var + 0.25 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, var, rtol=1e-12)
    assert bn.num_batches_tracked.data == 3


def test_momentum_none_is_the_cumulative_average_and_no_tracking_uses_batch_stats():
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm2d(2, momentum=None, dtype=np.float64)
    batches = [rng.standard_normal((2, 2, 3, 3)) for _ in range(4)]
    for x in batches:
        bn(x)
    want = np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.data, want, rtol=1e-12)
    free = nn.BatchNorm1d(2, track_running_stats=False, affine=False, dtype=np.float64).eval()
    x = rng.standard_normal((6, 2))
    np.testing.assert_allclose(free(x).data, _standardized(x, (0,), 1e-5), rtol=1e-12)
    assert free.named_buffers() == [] and free.parameters() == []


def test_buffers_are_saved_and_loaded_but_not_trained():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model(np.random.default_rng(3).standard_normal((4, 2)))
    state = model.state_dict()
    assert list(state) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert len(model.parameters()) == 4
    fresh = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh[1].running_var.data, state["1.running_var"])
    assert fresh[1].num_batches_tracked.data == 1
    state["1.running_mean"][:] = 7.0  # the state holds copies
    assert not np.any(fresh[1].running_mean.data == 7.0)
    with pytest.raises(ArgumentError, match=r"missing keys \['1.running_mean'"):
        fresh.load_state_dict({k: v for k, v in state.items() if k != "1.running_mean"})
    with pytest.raises(ArgumentError, match="requires grad"):
        nn.Module().register_buffer("b", Tensor([1.0], requires_grad=True))


# ------------------------------------------------------------------ against PyTorch
@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        ("BatchNorm1d", "BatchNorm1d", (5, 3)),
        ("BatchNorm1d", "BatchNorm1d", (4, 3, 2)),
        ("BatchNorm2d", "BatchNorm2d", (2, 3, 2, 2)),
    ],
)
def test_batch_norm_matches_torch_in_train_and_eval(ours, theirs, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    a, b = getattr(nn, ours)(3, dtype=np.float64), getattr(torch.nn, theirs)(3).double()
    for mode in ["train"] * 3 + ["eval"]:
        a.train(mode == "train")
        b.train(mode == "train")
        x, g = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        xa, xb = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yb = a(xa), b(xb)
        ya.backward(g)
        yb.backward(torch.tensor(g))
        np.testing.assert_allclose(ya.data, yb.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xa.grad, xb.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.weight.grad, b.weight.grad.numpy(), rtol=1e-10)
        a.zero_grad()
        b.zero_grad()
    for name, value in b.state_dict().items():
        np.testing.assert_allclose(a.state_dict()[name], value.numpy(), rtol=1e-12)


def test_layer_norm_and_embedding_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    ln, tln = nn.LayerNorm((3, 2), dtype=np.float64), torch.nn.LayerNorm((3, 2)).double()
    with no_grad():
        ln.weight[...] = rng.uniform(0.5, 2, (3, 2))
    tln.weight.data[...] = torch.tensor(ln.weight.numpy())
    x, g = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    xa, xb = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ln(xa).backward(g)
    tln(xb).backward(torch.tensor(g))
    np.testing.assert_allclose(to_host(xa.grad), xb.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_host(ln.weight.grad), tln.weight.grad.numpy(), rtol=1e-10)
    emb = nn.Embedding(5, 3, dtype=np.float64, rng=0)
    temb = torch.nn.Embedding(5, 3).double()
    temb.weight.data[...] = torch.tensor(emb.weight.numpy())
    index = np.array([[0, 4, 4], [1, 0, 4]])
    g = rng.standard_normal((2, 3, 3))
    emb(index).backward(g)
    temb(torch.tensor(index)).backward(torch.tensor(g))
    np.testing.assert_allclose(to_host(emb.weight.grad), temb.weight.grad.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ Embedding
def test_embedding_looks_up_rows_and_scatter_adds_repeated_indices():
    emb = nn.Embedding(4, 2, dtype=np.float64, rng=1)
    assert emb.weight.dtype == np.float64 and nn.Embedding(4, 2).weight.dtype == np.float32
    index = np.array([3, 1, 3, 3])
    out = emb(index)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[[3, 1, 3, 3]])
    g = np.arange(8.0).reshape(4, 2)
    out.backward(g)
    expected = np.zeros((4, 2))
    for row, i in enumerate(index):
        expected[i] += g[row]
    np.testing.assert_array_equal(to_host(emb.weight.grad), expected)
    assert emb(np.int64(2)).shape == (2,)
    assert emb(Tensor(np.array([[0, 1]]))).shape == (1, 2, 2)


@given(data=st.data())
def test_embedding_matches_finite_differences(data):
    emb = nn.Embedding(3, 2, dtype=np.float64, rng=0)
    index = np.array([[2, 0], [2, 2]])

    def forward(w):
        emb.weight = w
        return emb(index).tanh()

    assert_grad_close(forward, data.draw(arrays((3, 2))), seed=data.draw(seeds()), order=2)


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nn.BatchNorm1d(3)(np.zeros((4, 2))), ShapeError,
         r"BatchNorm1d\(3\): input has shape \(4, 2\), expected \(N, C\) or \(N, C, L\)"),
        (lambda: nn.BatchNorm2d(3)(np.zeros((4, 3))), ShapeError, r"expected \(N, C, H, W\)"),
        (lambda: nn.BatchNorm1d(3)(np.zeros((1, 3))), ShapeError, r"1 value per channel"),
        (lambda: nn.BatchNorm1d(3, momentum=2.0), ArgumentError, r"momentum must lie in"),
        (lambda: nn.BatchNorm1d(3, eps=0.0), ArgumentError, r"eps must be a finite number > 0"),
        (lambda: nn.BatchNorm1d(0), ArgumentError, r"num_features must be >= 1"),
        (lambda: nn.LayerNorm(4)(np.zeros((2, 3))), ShapeError,
         r"LayerNorm\(\(4,\)\): input has shape \(2, 3\), its last 1 axes must be \(4,\)"),
        (lambda: nn.LayerNorm("a"), DTypeError, r"normalized_shape must be an int"),
        (lambda: nn.Embedding(4, 2)(np.array([1, 4])), BadIndexError,
         r"Embedding\(4, 2\): index 4 at position \(1,\) is out of range \[0, 4\)"),
        (lambda: nn.Embedding(4, 2)(np.array([-1])), BadIndexError, r"index -1"),
        (lambda: nn.Embedding(4, 2)(np.array([1.0])), DTypeError, r"indices must be integers"),
    ],
)  # fmt: skip
def test_bad_layer_inputs_are_named_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_eval_batch_norm_of_one_sample_is_allowed_and_dtype_is_kept():
    bn = nn.BatchNorm1d(3).eval()
    y = bn(np.ones((1, 3)))  # float64 data, a float32 layer: the constant takes its dtype
    assert y.dtype == np.float32 and y.shape == (1, 3)
