"""tinygrad_hw.jit: a replayed step gives the eager step's bits, records again when it must, and
never replays what it cannot see (value reads, arrays built outside the ops, replaced
parameters), falling back to eager with a JitWarning instead."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn, ops, optim
from tinygrad_hw.nn import functional as F
from tinygrad_hw.ops.namespace import NUMPY

SIZES = [784, 32, 10]


def _model(dtype=np.float32, activation="relu") -> nn.MLP:
    return nn.MLP(SIZES, activation=activation, dtype=dtype, rng=0)


def _optimizer(model: nn.Module, name: str):
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    if name == "nesterov":
        return optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    if name == "adamw":
        return optim.AdamW(model.parameters(), lr=1e-3)
    return optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)


def _step_fn(model: nn.Module, optimizer):
    def step(x, y):
        optimizer.zero_grad()
        model.zero_grad()  # also a replaced layer, which the optimizer does not know
        loss = F.cross_entropy(model(Tensor(x)), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _batches(count: int, batch: int = 16, dtype=np.float32, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        (rng.random((batch, SIZES[0])).astype(dtype), rng.integers(0, SIZES[-1], batch))
        for _ in range(count)
    ]


def _pair(dtype=np.float32, optimizer="sgd", activation="relu"):
    """Two identical models and optimizers: one stepped eagerly, one through tg.jit."""
    eager_model, jit_model = _model(dtype, activation), _model(dtype, activation)
    eager_opt, jit_opt = _optimizer(eager_model, optimizer), _optimizer(jit_model, optimizer)
    eager = _step_fn(eager_model, eager_opt)
    jitted = tg.jit(_step_fn(jit_model, jit_opt))
    return (eager_model, eager_opt, eager), (jit_model, jit_opt, jitted)


def _assert_same_parameters(a: nn.Module, b: nn.Module) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
        np.testing.assert_array_equal(p.grad, q.grad)


# ---------------------------------------------------------------------- same bits as eager
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_200_replayed_steps_equal_the_eager_run_bit_for_bit(dtype, name):
    # The replay runs the same numpy calls in the same order on the same values (only with
    # out=), so every parameter must match exactly: no tolerance.
    (em, _, eager), (jm, _, jitted) = _pair(dtype, name)
    for x, y in _batches(200, dtype=dtype):
        assert eager(x, y).item() == jitted(x, y).item()
    _assert_same_parameters(em, jm)
    assert jitted.recordings == 2 and jitted.replays == 198  # it did replay


@pytest.mark.parametrize("name", ["nesterov", "adamw"])
def test_other_optimizers_and_sigmoid_replay_exactly(name):
    (em, _, eager), (jm, _, jitted) = _pair(np.float64, name, activation="sigmoid")
    for x, y in _batches(12, dtype=np.float64):
        eager(x, y)
        jitted(x, y)
    _assert_same_parameters(em, jm)
    assert jitted.replays == 10


def test_a_difference_would_be_seen():
    # The comparison above can fail: one eager step more on one side breaks equality.
    (em, _, eager), (jm, _, jitted) = _pair()
    batches = _batches(5)
    for x, y in batches:
        eager(x, y)
        jitted(x, y)
    eager(*batches[0])
    with pytest.raises(AssertionError):
        _assert_same_parameters(em, jm)


def test_a_new_shape_or_dtype_records_again():
    (em, _, eager), (jm, _, jitted) = _pair()
    batches = _batches(4, batch=16) + _batches(4, batch=5) + _batches(4, batch=16)
    for x, y in batches:
        eager(x, y)
        jitted(x, y)
    x64, y = _batches(1, batch=16, dtype=np.float64)[0]
    for _ in range(3):  # float64 input to a float32 model: cast by Linear, a new signature
        eager(x64, y)
        jitted(x64, y)
    _assert_same_parameters(em, jm)
    assert len(jitted.entries) == 3
    assert jitted.recordings == 6


def test_returned_loss_is_a_fresh_value_each_replay():
    _, (_, _, jitted) = _pair()
    losses = [jitted(x, y) for x, y in _batches(6)]
    assert len({id(loss.data) for loss in losses}) == 6
    values = [loss.item() for loss in losses]
    assert len(set(values)) == 6  # each one this step's loss, not a buffer read later


def test_lr_schedule_and_changed_hyperparameters_take_effect_as_eagerly():
    (em, eopt, eager), (jm, jopt, jitted) = _pair()
    schedules = [optim.StepLR(eopt, step_size=3, gamma=0.5), optim.StepLR(jopt, 3, gamma=0.5)]
    for i, (x, y) in enumerate(_batches(15)):
        eager(x, y)
        jitted(x, y)
        for s in schedules:
            s.step()
        if i == 8:
            eopt.momentum = jopt.momentum = 0.5
            eopt.weight_decay = jopt.weight_decay = 0.0
    _assert_same_parameters(em, jm)
    assert jitted.replays == 13


# ---------------------------------------------------------------------- records again
def test_a_replaced_parameter_array_records_again():
    (em, _, eager), (jm, _, jitted) = _pair()
    for i, (x, y) in enumerate(_batches(8)):
        if i == 4:
            for model in (em, jm):
                model.parameters()[0].data = model.parameters()[0].data * 0.5
        eager(x, y)
        jitted(x, y)
    _assert_same_parameters(em, jm)
    assert jitted.recordings == 4


@pytest.mark.filterwarnings("ignore::tinygrad_hw.TinygradHWWarning")  # old layer unused
def test_a_replaced_layer_records_again():
    (em, _, eager), (jm, _, jitted) = _pair()
    for i, (x, y) in enumerate(_batches(8)):
        if i == 4:  # a new output layer (the optimizers keep updating the old one)
            for model in (em, jm):
                steps = [*model.layers.steps[:-1], nn.Linear(SIZES[1], SIZES[2], rng=1)]
                model.layers = nn.Sequential(*steps)
        eager(x, y)
        jitted(x, y)
    _assert_same_parameters(em, jm)
    assert jitted.recordings == 4


@pytest.mark.filterwarnings("ignore::tinygrad_hw.TinygradHWWarning")  # old layer unused
def test_a_replaced_attribute_records_again():
    (em, _, eager), (jm, _, jitted) = _pair()
    for i, (x, y) in enumerate(_batches(8)):
        if i == 4:
            for model in (em, jm):
                model.layers[0].weight = Tensor(model.layers[0].weight.data, requires_grad=True)
        eager(x, y)
        jitted(x, y)
    assert jitted.recordings == 4


def test_reset_forgets_the_recordings():
    _, (_, _, jitted) = _pair()
    for x, y in _batches(4):
        jitted(x, y)
    jitted.reset()
    for x, y in _batches(3):
        jitted(x, y)
    assert jitted.recordings == 4 and jitted.replays == 3


# ---------------------------------------------------------------------- refused: eager instead
def _run_both(make_step, count: int = 6):
    """make_step(model, optimizer) -> step; run it eagerly and jitted; return the warnings."""
    em, jm = _model(), _model()
    eager = make_step(em, _optimizer(em, "sgd"))
    jitted = tg.jit(make_step(jm, _optimizer(jm, "sgd")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, y in _batches(count):
            eager(x, y)
            jitted(x, y)
    _assert_same_parameters(em, jm)
    assert jitted.replays == 0
    return [str(w.message) for w in caught if issubclass(w.category, tg.JitWarning)]


def _step_with(middle):
    """A step whose loss passes through ``middle(loss, model)`` before backward."""

    def make(model, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            loss = middle(F.cross_entropy(model(Tensor(x)), y), model)
            loss.backward()
            optimizer.step()
            return loss

        return step

    return make


@pytest.mark.parametrize(
    ("middle", "reason"),
    [
        (lambda loss, m: loss * 2.0 if loss.item() > 2.3 else loss, "item()"),
        (lambda loss, m: loss * 2.0 if loss > 2.3 else loss, "bool()"),
        (lambda loss, m: loss + float(loss.numpy()) * 0, "numpy()"),
    ],
)
def test_reading_a_value_inside_the_step_runs_eagerly_with_a_warning(middle, reason):
    messages = _run_both(_step_with(middle))
    assert len(messages) == 1 and reason in messages[0]


def test_random_numbers_made_outside_the_ops_run_eagerly():
    rngs = {}  # one generator per model, so both runs draw the same numbers

    def middle(loss, model):
        rng = rngs.setdefault(id(model), np.random.default_rng(5))
        return loss * Tensor(rng.random(()) + 1)

    messages = _run_both(_step_with(middle))
    assert len(messages) == 1 and "changes between calls" in messages[0]


def test_a_parameter_changed_outside_an_optimizer_step_runs_eagerly():
    # After backward: between forward and backward the saved array is read-only.
    def make(model, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(Tensor(x)), y)
            loss.backward()
            model.layers[0].bias.data += 1e-3  # an update no recorded op and no optimizer made
            optimizer.step()
            return loss

        return step

    messages = _run_both(make)
    assert len(messages) == 1 and "changed outside" in messages[0]


def test_a_hook_inside_the_step_runs_eagerly():
    def middle(loss, model):
        loss.register_hook(lambda g: g * 2)
        return loss

    messages = _run_both(_step_with(middle))
    assert len(messages) == 1 and "hook" in messages[0]


def test_a_step_returning_a_python_float_runs_eagerly():
    def make(model, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(Tensor(x)), y)
            loss.backward()
            optimizer.step()
            return 1.0

        return step

    messages = _run_both(make)
    assert len(messages) == 1 and "returns a float" in messages[0]


def test_gradients_accumulated_across_steps_run_eagerly():
    def make(model, optimizer):
        def step(x, y):  # no zero_grad: each backward adds to the last step's .grad
            F.cross_entropy(model(Tensor(x)), y).backward()
            optimizer.step()
            return None

        return step

    messages = _run_both(make)
    assert len(messages) == 1 and "zero_grad" in messages[0]


def test_two_losses_and_code_after_the_step_replay_exactly():
    def make(model, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            logits = model(Tensor(x))
            F.cross_entropy(logits, y).backward(retain_graph=True)
            (logits * logits).mean().backward()  # a second backward adds to .grad
            optimizer.step()
            return logits, None

        return step

    em, jm = _model(), _model()
    eager, jitted = make(em, _optimizer(em, "adam")), tg.jit(make(jm, _optimizer(jm, "adam")))
    for x, y in _batches(5):
        e_logits, _ = eager(x, y)
        j_logits, _ = jitted(x, y)
        np.testing.assert_array_equal(e_logits.data, j_logits.data)
    _assert_same_parameters(em, jm)
    assert jitted.replays == 3


def _conv_net(extra=()):
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), *extra,
        nn.Linear(27, 4, rng=1),
    )  # fmt: skip


def _run_models(make_model, count=6):
    """Eager and jitted steps of two copies of a model on images; returns the jitted step."""
    rng = np.random.default_rng(0)
    images = [(rng.random((5, 1, 8, 8)), rng.integers(0, 4, 5)) for _ in range(count)]
    models = [make_model(), make_model()]
    steps = [_step_fn(m, _optimizer(m, "adam")) for m in models]
    steps[1] = tg.jit(steps[1])
    for x, y in images:
        for step in steps:
            step(x, y)
    _assert_same_parameters(*models)
    return steps[1]


def test_a_conv_net_replays_exactly():
    # conv, pooling and flatten have no into= variant: computed, then copied into buffers
    assert _run_models(_conv_net).replays == 4


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        (lambda: nn.Dropout(0.5, rng=3), "random"),
        (lambda: nn.BatchNorm1d(27), "running statistics"),
    ],
)
def test_dropout_and_batch_norm_run_eagerly(layer, reason):
    # a fresh mask each step; running statistics updated outside the ops: neither replays
    with pytest.warns(tg.JitWarning, match=reason):
        assert _run_models(lambda: _conv_net([layer()])).replays == 0


def test_bad_arguments_get_the_library_error():
    with pytest.raises(tg.DTypeError, match="expected a function"):
        tg.jit(3)
    with pytest.raises(tg.DTypeError, match="argument 0 is a list"):
        tg.jit(lambda x: None)([1, 2])


# ---------------------------------------------------------------------- the into= variants
def _draw(data, shape, dtype=np.float64):
    return data.draw(arrays(dtype, shape, elements=st.floats(-3, 3, width=32)))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(2, 5), dtype=st.sampled_from([np.float32, np.float64]),
       data=st.data())  # fmt: skip
def test_into_variants_give_the_bits_of_the_plain_ops(n, k, dtype, data):
    """forward_into / vjps_into of linear, relu and cross_entropy against forward / vjps."""
    x, w, b, g = (_draw(data, s, dtype) for s in [(n, k), (k, k), (k,), (n, k)])
    labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    out = np.empty((n, k), dtype)
    ops.linear.forward_into(NUMPY, out, x, w, b)
    np.testing.assert_array_equal(out, ops.linear.forward(NUMPY, x, w, b))
    for i, shape in enumerate([(n, k), (k, k), (k,)]):
        into = np.empty(shape, dtype)
        ops.linear.vjps_into[i](NUMPY, into, g, out, x, w, b)
        np.testing.assert_array_equal(into, ops.linear.vjps[i](NUMPY, g, out, x, w, b))
    y, residual = ops.relu.forward(NUMPY, x)
    relu_into = (x.copy(), {"mask": np.empty((n, k), bool)})  # out is x's own buffer
    ops.relu.forward_into(NUMPY, relu_into, relu_into[0])
    np.testing.assert_array_equal(relu_into[0], y)
    np.testing.assert_array_equal(relu_into[1]["mask"], residual["mask"])
    into = g.copy()
    ops.relu.vjps_into[0](NUMPY, into, into, None, None, mask=residual["mask"])
    np.testing.assert_array_equal(into, ops.relu.vjps[0](NUMPY, g, None, None, **residual))
    for reduction in ("mean", "sum", "none"):
        kw = {"labels": labels, "reduction": reduction}
        loss, res = ops.cross_entropy_labels.forward(NUMPY, x, **kw)
        ce_into = (np.empty(np.shape(loss), dtype), {"probs": np.empty((n, k), dtype)})
        ops.cross_entropy_labels.forward_into(NUMPY, ce_into, x, **kw)
        np.testing.assert_array_equal(ce_into[0], loss)
        np.testing.assert_array_equal(ce_into[1]["probs"], res["probs"])
        upstream = np.asarray(_draw(data, np.shape(loss), dtype))
        into = res["probs"].copy()  # the probs' own buffer, as the jit may hand it
        ops.cross_entropy_labels.vjps_into[0](NUMPY, into, upstream, loss, x, probs=into, **kw)
        expected = ops.cross_entropy_labels.vjps[0](NUMPY, upstream, loss, x, **kw, **res)
        np.testing.assert_array_equal(into, expected)
