"""models/newton.py: seed 002's logistic regression by Newton's method with tg.func.hessian.

Tolerances: the Hessian from the tape and the closed form X^T diag(s(1-s)) X / N + lambda I are
two float64 evaluations of the same sums (~800 terms of size <= 1/4), so they agree to ~1e-15;
1e-12 leaves a margin of 1e3 and fails any wrong term (the smallest, lambda = 1e-3, included).
"""

import itertools
import json

import numpy as np
import pytest

from models import newton
from tinygrad_hw.errors import ArgumentError


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("newton")
    return newton.main(["--quick", "--out", str(out)]), out


def test_the_tape_hessian_is_the_closed_form_and_newton_converges_quadratically(quick_run):
    result, out = quick_run
    assert result["hessian_max_abs_error_vs_closed_form"] < 1e-12
    gaps = np.array(result["newton"]["losses"]) - result["optimum"]
    steps = result["newton"]["steps_to_converge"]
    assert steps is not None and steps <= 15
    # superlinear convergence: once close, the gap shrinks by a factor that itself shrinks
    # (0.1, 0.03, 0.001 here), where gradient descent's stays ~0.99 per step
    close = [g for g in gaps if 1e-13 < g < 1e-3]
    ratios = [b / a for a, b in itertools.pairwise(close)]
    assert len(ratios) >= 2 and ratios == sorted(ratios, reverse=True) and ratios[-1] < 1e-2
    # the same objective: both start at J(0) = ln 2, and 100 GD steps are still far away
    assert result["gradient_descent"]["losses"][0] == pytest.approx(np.log(2), rel=1e-12)
    assert result["newton"]["losses"][0] == pytest.approx(np.log(2), rel=1e-12)
    assert result["gradient_descent"]["steps_to_converge"] is None
    assert result["gradient_descent"]["final_gap"] > 1e-3
    saved = json.loads((out / "newton.json").read_text())
    assert saved["newton"]["losses"] == result["newton"]["losses"]
    assert (out / "newton_vs_gd.png").read_bytes().startswith(b"\x89PNG")


def test_newtons_optimum_has_a_zero_gradient():
    x = np.random.default_rng(0).uniform(0, 1, (60, 5))
    t = (x[:, 0] > 0.5).astype(np.float64)
    losses, error = newton.newton(x, t)
    assert error < 1e-12
    assert len(losses) < newton.NEWTON_MAX_STEPS
    theta = np.zeros(6)
    # replay the iterates to the last one and check its gradient directly
    for _ in range(len(losses) - 1):
        _, gradient = newton.value_and_gradient(theta, x, t)
        hessian = newton.closed_form_hessian(theta, x)
        theta = theta - np.linalg.solve(hessian, gradient)
    assert np.max(np.abs(newton.value_and_gradient(theta, x, t)[1])) < 1e-9


def test_bad_command_lines_fail_with_a_message(tmp_path, capsys):
    with pytest.raises(ArgumentError, match="two different digits"):
        newton.main(["--classes", "3", "--out", str(tmp_path)])
    for argv in (["--classes", "a,b"], ["--bogus"]):
        with pytest.raises(SystemExit):
            newton.main(argv)
        assert "usage:" in capsys.readouterr().err


def test_a_diverged_run_still_writes_strict_json(tmp_path, monkeypatch):
    """A NaN loss (a diverged Newton step) is written as null and listed, never as NaN,
    which strict JSON readers refuse."""

    def diverged(x, t):
        return [float(np.log(2)), float("nan"), float("inf")], 0.0

    monkeypatch.setattr(newton, "newton", diverged)
    newton.main(["--quick", "--out", str(tmp_path)])

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    saved = json.loads((tmp_path / "newton.json").read_text(), parse_constant=refuse)
    assert saved["newton"]["losses"][1:] == [None, None]
    assert any(entry.startswith("newton.losses[1]") for entry in saved["non_finite"])
