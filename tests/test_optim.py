"""optim: each optimizer against its update equations written out in numpy, dtype and memory
behaviour, state_dict resumption, argument checks, and the lr schedules' closed forms."""

import math
import tracemalloc

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn, optim
from tinygrad_hw.ops.devices import to_device

SHAPES = [(3, 4), (4,)]
STEPS = 5
# The optimizers compute the same formulas as the oracles below but group some products
# differently (e.g. (lr * mu) * v against lr * (mu * v)); in float64 over 5 steps that moves
# the last few bits only, so rtol 1e-12 is ~1e4 ulps of slack and far below any wrong formula.
RTOL = 1e-12


def _params(dtype=np.float64, seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def _gradients(steps: int = STEPS, seed: int = 1, dtype=np.float64) -> list[list[np.ndarray]]:
    """A fixed random gradient for every step and parameter (the optimizers never see a loss)."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _set_grad(p: Tensor, g: np.ndarray) -> None:
    """A copy of the host array g as p's gradient, on p's device."""
    p.grad = to_device(g.copy(), p.device)


def _run(optimizer: optim.Optimizer, gradients: list[list[np.ndarray]]) -> list[np.ndarray]:
    for step_grads in gradients:
        for p, g in zip(optimizer.params, step_grads, strict=True):
            _set_grad(p, g)
        optimizer.step()
    return [p.numpy() for p in optimizer.params]


# ------------------------------------------------------------------ update equations
def _sgd_oracle(ws, grads, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    ws = [w.copy() for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    for step_grads in grads:
        for w, v, g in zip(ws, vs, step_grads, strict=True):
            d = g + weight_decay * w
            if momentum:
                v[...] = momentum * v + d
                d = d + momentum * v if nesterov else v
            w -= lr * d
    return ws


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"weight_decay": 0.1},
        {"momentum": 0.5, "weight_decay": 0.1, "nesterov": True},
    ],
)
def test_sgd_follows_its_update_equations(options):
    params, grads = _params(), _gradients()
    expected = _sgd_oracle([p.numpy() for p in params], grads, lr=0.05, **options)
    got = _run(optim.SGD(params, lr=0.05, **options), grads)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL)


def test_sgd_with_momentum_zero_is_exactly_plain_gradient_descent():
    params, grads = _params(), _gradients()
    ws = [p.numpy().copy() for p in params]
    for step_grads in grads:
        ws = [w - 0.1 * g for w, g in zip(ws, step_grads, strict=True)]
    got = _run(optim.SGD(params, lr=0.1, momentum=0.0), grads)
    for a, b in zip(got, ws, strict=True):
        np.testing.assert_array_equal(a, b)


def _adam_oracle(ws, grads, lr, b1, b2, eps, weight_decay=0.0, decoupled=False):
    ws = [w.copy() for w in ws]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    for t, step_grads in enumerate(grads, start=1):
        for w, m, v, g in zip(ws, ms, vs, step_grads, strict=True):
            if decoupled:
                w *= 1 - lr * weight_decay
                d = g
            else:
                d = g + weight_decay * w
            m[...] = b1 * m + (1 - b1) * d
            v[...] = b2 * v + (1 - b2) * d**2
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            w -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return ws


@pytest.mark.parametrize(
    ("cls", "weight_decay"),
    [(optim.Adam, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.0), (optim.AdamW, 0.1)],
)
def test_adam_and_adamw_follow_their_update_equations(cls, weight_decay):
    params, grads = _params(), _gradients()
    decoupled = cls is optim.AdamW
    expected = _adam_oracle(
        [p.numpy() for p in params], grads, 0.01, 0.8, 0.95, 1e-6, weight_decay, decoupled
    )
    opt = cls(params, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay)
    for a, b in zip(_run(opt, grads), expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL)


def test_adam_first_step_moves_each_weight_by_lr_thanks_to_bias_correction():
    """With bias correction, m_hat = g and v_hat = g^2 at t = 1: the step is lr * sign(g)
    (eps = 0). Without it, the step would be lr (1 - b1) / sqrt(1 - b2) = 3.16 lr."""
    params, grads = _params(), _gradients(steps=1)
    before = [p.numpy().copy() for p in params]
    _run(optim.Adam(params, lr=0.01, eps=0.0), grads)
    for w0, p, g in zip(before, params, grads[0], strict=True):
        np.testing.assert_allclose(w0 - p.numpy(), 0.01 * np.sign(g), rtol=1e-12)


def test_adamw_decay_is_decoupled_from_the_gradient_scale():
    """Coupled L2 goes through m / sqrt(v) like a gradient; decoupled decay does not. With a
    zero gradient, Adam's step is then lr * sign(weight_decay * w) (as at any first step) and
    AdamW's is exactly w * lr * weight_decay."""
    w0 = np.array([2.0, -3.0])
    coupled = Tensor(w0.copy(), requires_grad=True)
    opt = optim.Adam([coupled], lr=0.1, weight_decay=0.5, eps=0.0)
    _set_grad(coupled, np.zeros(2))
    opt.step()
    np.testing.assert_allclose(coupled.numpy(), w0 - 0.1 * np.sign(w0), rtol=1e-12)
    decoupled = Tensor(w0.copy(), requires_grad=True)
    opt = optim.AdamW([decoupled], lr=0.1, weight_decay=0.5)
    _set_grad(decoupled, np.zeros(2))
    opt.step()
    np.testing.assert_allclose(decoupled.numpy(), w0 * (1 - 0.1 * 0.5), rtol=1e-15)


@pytest.mark.filterwarnings("ignore:.*received no gradient")  # the skip is the point here
def test_step_skips_parameters_without_gradient_and_zero_grad_clears_them():
    params = _params()
    before = params[1].numpy().copy()
    opt = optim.Adam(params, lr=0.1)
    _set_grad(params[0], np.ones(SHAPES[0]))
    opt.step()
    np.testing.assert_array_equal(params[1].numpy(), before)
    assert opt.state_dict()["state.1.step"] == 0 and opt.state_dict()["state.0.step"] == 1
    opt.zero_grad()
    assert all(p.grad is None for p in params)


# ------------------------------------------------------------------ dtype and memory
OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.01),
    lambda ps: optim.AdamW(ps, lr=0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_float32_parameters_stay_float32_and_keep_their_arrays(make):
    params = _params(np.float32)
    arrays = [p.data for p in params]
    opt = make(params)
    opt.lr = np.float64(0.05)  # a numpy float64 scalar must not upcast either
    _run(opt, _gradients(dtype=np.float32))
    for p, array in zip(params, arrays, strict=True):
        assert p.dtype == np.float32
        assert p.data is array  # updated in place: the model still holds the same array
    state = opt.state_dict()
    assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


def _peak_growth(step, repeats: int = 5) -> int:
    """Bytes allocated at peak by ``repeats`` calls, above what was allocated before them."""
    tracemalloc.start()
    try:
        step()  # warm-up: anything allocated once (caches, lazily built state) happens here
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(repeats):
            step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


BIG = (300, 400)  # 480 KB in float32: a single temporary of this size would show at once
NO_ARRAY = 16_384  # bytes: room for Python's small objects, < 4% of one temporary


@pytest.mark.skipif(
    tg.default_device() == "array_api_strict",
    reason="numpy's (and CuPy's) ufuncs write into out=; the array API standard has no out=, "
    "which ops.namespace emulates with a temporary, so only numpy and CuPy steps allocate none",
)
@pytest.mark.parametrize("make", OPTIMIZERS)
def test_a_step_allocates_no_array(make):
    p = Tensor(np.ones(BIG, np.float32), requires_grad=True)
    _set_grad(p, np.random.default_rng(0).standard_normal(BIG).astype(np.float32))
    opt = make([p])
    assert _peak_growth(opt.step) < NO_ARRAY


def test_the_allocation_check_catches_a_naive_update():
    """The measurement above can fail: ``w -= lr * g`` builds lr * g first."""
    p = Tensor(np.ones(BIG, np.float32), requires_grad=True)
    _set_grad(p, np.ones(BIG, np.float32))

    def naive_step():
        p.data -= 0.1 * p.grad

    assert _peak_growth(naive_step) > p.numpy().nbytes


# ------------------------------------------------------------------ state_dict
def _npz_round_trip(state: dict, tmp_path) -> dict:
    """What a checkpoint file gives back: arrays, with scalars as 0-d arrays."""
    np.savez(tmp_path / "state.npz", **state)
    with np.load(tmp_path / "state.npz") as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_a_resumed_optimizer_continues_exactly_like_an_uninterrupted_one(make, tmp_path):
    grads = _gradients(steps=6)
    uninterrupted = make(_params())
    _run(uninterrupted, grads)

    first = make(_params())
    _run(first, grads[:3])
    saved_state = _npz_round_trip(first.state_dict(), tmp_path)
    saved_params = [p.numpy().copy() for p in first.params]
    resumed = make([Tensor(w, requires_grad=True) for w in saved_params])
    resumed.load_state_dict(saved_state)
    _run(resumed, grads[3:])
    for a, b in zip(resumed.params, uninterrupted.params, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert resumed.state_dict()["step"] == 6


def test_load_state_dict_restores_lr_and_hyperparameters():
    source = optim.SGD(_params(), lr=0.3, momentum=0.7, weight_decay=0.2)
    target = optim.SGD(_params(), lr=0.1, momentum=0.9)
    target.load_state_dict(source.state_dict())
    assert (target.lr, target.momentum, target.weight_decay) == (0.3, 0.7, 0.2)


def test_load_state_dict_rejects_another_optimizer_or_other_shapes():
    adam = optim.Adam(_params(), lr=0.1)
    with pytest.raises(tg.ArgumentError, match=r"missing keys \['beta1'.*'state.0.m'"):
        adam.load_state_dict(optim.SGD(_params(), lr=0.1, momentum=0.9).state_dict())
    other = [Tensor(np.zeros((2, 2)), requires_grad=True), Tensor(np.zeros(4), True)]
    state = optim.Adam(other).state_dict()
    with pytest.raises(tg.ShapeError, match=r"'state.0.m' has shape \(3, 4\).*\(2, 2\)"):
        adam.load_state_dict(state)
    state = adam.state_dict()
    state["beta1"] = 1.5
    with pytest.raises(tg.ArgumentError, match=r"betas\[0\]"):
        adam.load_state_dict(state)
    assert adam.beta1 == 0.9  # nothing changed


# ------------------------------------------------------------------ argument checks
@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ([], tg.ArgumentError, "optimizer got no parameters"),
        ([Tensor(np.ones(2), True), np.ones(2)], tg.DTypeError, r"params\[1\] is a ndarray"),
        ([Tensor(np.ones(2))], tg.ArgumentError, r"params\[0\].*requires_grad=False"),
        (Tensor(np.ones(2), True), tg.ArgumentError, "wrap one in a list"),
        (3, tg.DTypeError, "iterable of Tensors"),
        (nn.Linear(2, 2), tg.DTypeError, r"pass model.parameters\(\)"),
    ],
)
def test_bad_params_are_named(params, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(params, lr=0.1)


def test_params_may_be_a_generator_but_not_repeat_or_be_intermediate_results():
    w = Tensor(np.ones(2), requires_grad=True)
    assert optim.SGD((p for p in [w]), lr=0.1).params == [w]
    with pytest.raises(tg.ArgumentError, match=r"params\[1\] appears twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(tg.ArgumentError, match=r"params\[0\] is the result of an op"):
        optim.SGD([w * 2], lr=0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ps: optim.SGD(ps, lr=-0.1), "lr must be >= 0.*-0.1"),
        (lambda ps: optim.SGD(ps, lr=float("nan")), "lr.*nan"),
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "momentum.*-0.5"),
        (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "weight_decay.*-1"),
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov=True needs momentum"),
        (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\).*1.0"),
        (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), r"betas\[1\].*-0.1"),
        (lambda ps: optim.AdamW(ps, eps=-1e-8), "eps.*-1e-08"),
        (lambda ps: optim.AdamW(ps, weight_decay=float("inf")), "weight_decay.*inf"),
    ],
)
def test_bad_hyperparameters_are_named_with_their_value(make, message):
    with pytest.raises(tg.ArgumentError, match=message):
        make(_params())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ps: optim.SGD(ps, lr="0.1"), r"lr must be a number, got '0.1'"),
        (lambda ps: optim.Adam(ps, betas=(0.9, 0.99, 0.999)), "betas must be a pair"),
        (lambda ps: optim.Adam(ps).load_state_dict(None), "expected a dict, got NoneType"),
    ],
)
def test_values_of_the_wrong_kind_are_dtype_errors(make, message):
    with pytest.raises(tg.DTypeError, match=message):
        make(_params())


def test_setting_a_bad_lr_later_is_refused():
    opt = optim.SGD(_params(), lr=0.1)
    with pytest.raises(tg.ArgumentError, match="lr"):
        opt.lr = -1.0
    assert opt.lr == 0.1


# ------------------------------------------------------------------ schedules
def test_step_lr_follows_its_closed_form():
    opt = optim.SGD(_params(), lr=0.8)
    schedule = optim.StepLR(opt, step_size=3, gamma=0.5)
    seen = []
    for _ in range(8):
        schedule.step()
        seen.append(opt.lr)
    # 0.8 * 0.5 ** floor(t / 3) for t = 1..8
    assert seen == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2], rel=1e-15)


def test_cosine_lr_follows_its_closed_form_and_stops_at_min_lr():
    opt = optim.Adam(_params(), lr=1.0)
    schedule = optim.CosineLR(opt, total_steps=4, min_lr=0.2)
    seen = []
    for _ in range(6):
        schedule.step()
        seen.append(opt.lr)
    # 0.2 + 0.8 (1 + cos(pi t / 4)) / 2: t = 2 is the midpoint 0.6, t >= 4 stays at 0.2
    half = 0.2 + 0.4 * (1 + math.sqrt(0.5))
    quarter = 0.2 + 0.4 * (1 - math.sqrt(0.5))
    assert seen == pytest.approx([half, 0.6, quarter, 0.2, 0.2, 0.2], rel=1e-12)


def test_schedule_state_round_trip_resumes_the_sequence():
    first = optim.StepLR(optim.SGD(_params(), lr=1.0), step_size=2)
    for _ in range(3):
        first.step()
    resumed = optim.StepLR(optim.SGD(_params(), lr=0.5), step_size=2)
    resumed.load_state_dict(first.state_dict())
    assert resumed.optimizer.lr == first.optimizer.lr == pytest.approx(0.1)
    first.step()
    resumed.step()
    assert resumed.optimizer.lr == first.optimizer.lr == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda o: optim.StepLR(o, step_size=0), tg.ArgumentError, "step_size must be >= 1"),
        (lambda o: optim.StepLR(o, step_size=1.5), tg.DTypeError, "step_size must be an int"),
        (lambda o: optim.StepLR(o, step_size=2, gamma=0), tg.ArgumentError, "gamma"),
        (lambda o: optim.CosineLR(o, total_steps=0), tg.ArgumentError, "total_steps"),
        (lambda o: optim.CosineLR(o, 10, min_lr=1.0), tg.ArgumentError, "min_lr=1.0 is above"),
        (lambda o: optim.CosineLR(object(), 10), tg.DTypeError, "expected an optimizer"),
    ],
)
def test_schedule_argument_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(optim.SGD(_params(), lr=0.1))
