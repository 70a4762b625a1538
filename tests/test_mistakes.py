"""The classic pipeline mistakes warn, at the user's line, once per call site; the right code
is silent, even with every warning turned into an error."""

import warnings

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor, TinygradHWWarning, nn, optim
from tinygrad_hw.nn import functional as F

rng = np.random.default_rng(0)
LABELS = np.array([0, 1, 2, 0])


def logits() -> Tensor:
    return Tensor(rng.standard_normal((4, 3)), requires_grad=True)


def caught(fn) -> list[warnings.WarningMessage]:
    """The TinygradHWWarnings that fn raises, each one shown (filter "always")."""
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        fn()
    return [w for w in found if issubclass(w.category, TinygradHWWarning)]


MISTAKES = {
    "softmax into cross_entropy": (
        lambda z: F.cross_entropy(z.softmax(axis=1), LABELS),
        "softmax is applied twice",
    ),
    "softmax into cross_entropy with one-hot targets": (
        lambda z: F.cross_entropy(F.softmax(z, dim=1), np.eye(3)[LABELS]),
        "softmax is applied twice",
    ),
    "softmax into nll_loss": (
        lambda z: F.nll_loss(z.softmax(axis=1), LABELS),
        "needs log-probabilities",
    ),
    "log_softmax over the batch into nll_loss": (
        lambda z: F.nll_loss(z.log_softmax(axis=0), LABELS),
        "axis 0 of an (N, K) batch",
    ),
    "log_softmax over the batch into cross_entropy": (
        lambda z: F.cross_entropy(F.log_softmax(z, dim=0), LABELS),
        "use log_softmax(z, dim=1)",
    ),
    "sigmoid into bce_with_logits": (
        lambda z: F.binary_cross_entropy_with_logits(z.sigmoid(), np.ones((4, 3))),
        "sigmoid is applied twice",
    ),
    "log of a softmax": (lambda z: tg.log(z.softmax(axis=1)), "use log_softmax"),
    "log of a softmax, as a method": (lambda z: z.softmax(axis=1).log(), "log of a softmax"),
    "log of a sigmoid": (lambda z: z.sigmoid().log(), "binary_cross_entropy_with_logits"),
}

RIGHT = {
    "logits into cross_entropy": lambda z: F.cross_entropy(z, LABELS),
    "one-hot targets": lambda z: F.cross_entropy(z, np.eye(3)[LABELS]),
    "log_softmax over rows into nll_loss": lambda z: F.nll_loss(z.log_softmax(axis=1), LABELS),
    "log_softmax into cross_entropy": lambda z: F.cross_entropy(z.log_softmax(axis=1), LABELS),
    "logits into bce_with_logits": lambda z: F.binary_cross_entropy_with_logits(z, np.ones((4, 3))),
    "sigmoid into binary_cross_entropy": lambda z: F.binary_cross_entropy(
        z.sigmoid(), np.ones((4, 3))
    ),
    "log of something else": lambda z: (z.exp() + 1.0).log(),
    "softmax over the batch, not fed to a loss": lambda z: z.softmax(axis=0).sum(),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_each_mistake_warns_at_the_users_line_naming_the_fix(case):
    mistake, fix = MISTAKES[case]
    found = caught(lambda: mistake(logits()))
    assert len(found) == 1, [str(w.message) for w in found]
    assert fix in str(found[0].message)
    assert found[0].filename == __file__  # stacklevel: the user's line, not the library's


@pytest.mark.parametrize("case", RIGHT)
def test_the_right_code_is_silent_even_with_warnings_as_errors(case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RIGHT[case](logits()).sum().backward()


def test_a_warning_is_shown_once_per_call_site_and_filters_silence_it():
    z = logits()
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("default")  # Python's default: once per location
        for _ in range(3):
            F.cross_entropy(z.softmax(axis=1), LABELS)
        F.cross_entropy(z.softmax(axis=1), LABELS)  # another line: shown again
    assert len(found) == 2 and found[0].lineno != found[1].lineno
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", TinygradHWWarning)
        F.cross_entropy(z.softmax(axis=1), LABELS)
    assert not found
    assert issubclass(TinygradHWWarning, UserWarning)


def test_a_parameter_the_loss_does_not_reach_is_reported_once_by_the_optimizer():
    model = nn.Linear(3, 2, rng=0)
    unused = Tensor(np.zeros(5, np.float32), requires_grad=True)
    opt = optim.Adam([*model.parameters(), unused], lr=1e-3)
    x = rng.standard_normal((4, 3)).astype(np.float32)

    def two_steps():
        for _ in range(2):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()

    found = caught(two_steps)
    assert len(found) == 1 and found[0].filename == __file__
    assert "params[2] (shape (5,)) received no gradient" in str(found[0].message)
    np.testing.assert_array_equal(unused.data, 0)  # and it was not stepped


def test_step_before_backward_is_reported():
    w = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    found = caught(opt.step)
    assert len(found) == 1 and "no parameter has a gradient" in str(found[0].message)


def test_a_whole_training_loop_is_silent_with_warnings_as_errors():
    x = rng.standard_normal((16, 8)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    model = nn.MLP([8, 6, 4], activation="relu", rng=0)
    for opt in (optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                optim.Adam(model.parameters(), lr=1e-3)):  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for _ in range(3):
                loss = F.cross_entropy(model(x), y) + F.l2_penalty(model.parameters(), 1e-4)
                opt.zero_grad()
                loss.backward()
                opt.step()
