"""The benchmarks stay honest: the hand-written baseline is right (finite differences), the tape
computes the same loss and gradients, a float32 step never touches float64, and every script's
``main()`` in --quick mode completes and writes valid JSON. No wall time is asserted."""

import copy
import json

import numpy as np
import pytest

from benchmarks import audit, common, epoch, extras, memory, ours, overhead, step
from benchmarks.manual import ManualAdam, ManualMLP, init_mlp, sgd_update
from tinygrad_hw import Tensor, optim
from tinygrad_hw.errors import ArgumentError, DeviceError

SIZES = [6, 5, 4]
STRICT = "array_api_strict"  # the array API standard's strict library, on the CPU
SETTINGS = [("relu", "mean", 0.0), ("sigmoid", "mean", 0.0), ("relu", "sum", 0.3)]


def _batch(n: int = 7, dtype: type = np.float64, seed: int = 3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, SIZES[0])).astype(dtype), rng.integers(0, SIZES[-1], n)


def _set_params(mlp: ManualMLP, flat: list[np.ndarray]) -> ManualMLP:
    other = copy.deepcopy(mlp)
    for p, value in zip(other.params, flat, strict=True):
        p[...] = value
    return other


# ------------------------------------------------------------------ the manual baseline
@pytest.mark.parametrize(("activation", "reduction", "l2"), SETTINGS)
def test_manual_gradients_match_finite_differences(activation, reduction, l2):
    """<grad, v> equals the central difference of the loss along a random direction v (the
    inner-product check of the whole gradient at once), in float64."""
    mlp = init_mlp(SIZES, activation, np.float64, seed=1)
    x, labels = _batch()
    _, grads = copy.deepcopy(mlp).loss_and_grads(x, labels, reduction, l2)
    rng = np.random.default_rng(5)
    direction = [rng.standard_normal(p.shape) for p in mlp.params]
    h = 1e-6

    def loss_at(sign: float) -> float:
        moved = [p + sign * h * v for p, v in zip(mlp.params, direction, strict=True)]
        return _set_params(mlp, moved).loss_and_grads(x, labels, reduction, l2)[0]

    numeric = (loss_at(1.0) - loss_at(-1.0)) / (2 * h)
    analytic = sum(float(np.sum(g * v)) for g, v in zip(grads, direction, strict=True))
    # central differences: error O(h^2) ~ 1e-12 plus rounding eps/h ~ 1e-10; 1e-7 is far
    # above both and far below the error of any wrong term (order 1e-2 or more)
    assert analytic == pytest.approx(numeric, rel=1e-7, abs=1e-9)


def test_manual_step_keeps_float32():
    mlp = init_mlp(SIZES, "relu", np.float32, seed=1)
    x, labels = _batch(dtype=np.float32)
    arrays = list(mlp.params)
    _, grads = mlp.loss_and_grads(x, labels, "mean", 0.1)
    assert {g.dtype for g in grads} == {np.dtype(np.float32)}
    sgd_update(mlp.params, grads, 0.1)
    ManualAdam(mlp.params).step([np.ones_like(p) for p in mlp.params])
    assert all(p is q and p.dtype == np.float32 for p, q in zip(mlp.params, arrays, strict=True))


def test_manual_adam_matches_tinygrad_adam():
    """Same random gradients for 4 steps: the hand-written Adam (eps folded onto v's scale)
    equals optim.Adam up to float64 rounding (rtol 1e-12, ~1e4 ulps)."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(3, 4), (4,)]]
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    adam, reference = ManualAdam(arrays, lr=0.1), optim.Adam(tensors, lr=0.1)
    for _ in range(4):
        grads = [rng.standard_normal(a.shape) for a in arrays]
        for t, g in zip(tensors, grads, strict=True):
            t.grad = g.copy()
        reference.step()
        adam.step(grads)
    for a, t in zip(arrays, tensors, strict=True):
        np.testing.assert_allclose(a, t.data, rtol=1e-12)


# ------------------------------------------------------------------ parity with the tape
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("activation", "reduction", "l2"), SETTINGS)
def test_tape_matches_manual(activation, reduction, l2, dtype):
    mlp = init_mlp(SIZES, activation, dtype, seed=1)
    x, labels = _batch(dtype=dtype)
    expected = copy.deepcopy(mlp).loss_and_grads(x, labels, reduction, l2)
    got = ours.loss_and_grads(ours.build_model(mlp), x, labels, reduction, l2)
    assert common.assert_same("ours", *got, *expected, dtype) <= common.parity_tolerance(dtype)


def test_parity_check_catches_a_wrong_gradient():
    mlp = init_mlp(SIZES, "relu", np.float64, seed=1)
    x, labels = _batch()
    loss, grads = copy.deepcopy(mlp).loss_and_grads(x, labels)
    wrong = [g.copy() for g in grads]
    wrong[2] = wrong[2].T.reshape(wrong[2].shape)  # a transposition bug in dW2
    with pytest.raises(AssertionError, match="differ from manual"):
        common.assert_same("ours", loss, wrong, loss, grads, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jit_step_matches_the_eager_step_bit_for_bit(dtype):
    mlp = init_mlp([SIZES[0], 6, SIZES[-1]], "relu", dtype, seed=2)
    x, labels = _batch(9, dtype)
    assert step.check_jit_parity(mlp, x, labels, steps=5) == 0.0


def test_jit_parity_check_catches_a_difference(monkeypatch):
    mlp = init_mlp([SIZES[0], 6, SIZES[-1]], "relu", np.float64, seed=2)
    x, labels = _batch(9, np.float64)
    real = ours.make_optimizer
    calls = {"n": 0}

    def differing(model, name, lr):  # the second (jitted) run gets another learning rate
        calls["n"] += 1
        return real(model, name, lr * calls["n"])

    monkeypatch.setattr(ours, "make_optimizer", differing)
    with pytest.raises(AssertionError, match="jit"):
        step.check_jit_parity(mlp, x, labels)


@pytest.mark.parametrize("name", sorted(extras.CONTENDERS))
def test_extra_contenders_match_manual(name):
    pytest.importorskip(name)
    mlp = init_mlp([784, 8, 10], "relu", np.float32, seed=0)
    x, labels = step.random_batch(5, np.float32)
    assert step.check_parity(mlp, x, labels, [name])[name] <= common.parity_tolerance(np.float32)


# ------------------------------------------------------------------ dtype and memory targets
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_float32_step_touches_no_float64(activation):
    mlp = init_mlp(SIZES, activation, np.float32, seed=1)
    x, labels = _batch(dtype=np.float32)
    model = ours.build_model(mlp)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    findings = audit.audit_step(model, optimizer, lambda: ours.loss_of(model, x, labels, l2=0.1))
    kinds = {where for where, _, _ in findings}
    assert {"result", "saved", "cotangent", "grad", "param"} <= kinds
    assert audit.foreign(findings, np.float32) == []


def test_dtype_audit_catches_a_float64_constant():
    mlp = init_mlp(SIZES, "relu", np.float32, seed=1)
    x, _ = _batch(dtype=np.float32)
    model = ours.build_model(mlp)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    float64_scale = Tensor(np.ones(SIZES[-1]))  # a Tensor is not cast like a Python number

    def loss_fn() -> Tensor:
        return (model(Tensor(x)) * float64_scale).sum()

    found = audit.foreign(audit.audit_step(model, optimizer, loss_fn), np.float32)
    assert ("result", "mul", "float64") in found


def test_optimizer_step_allocates_no_parameter_sized_array():
    """tracemalloc sees numpy's buffers: a step's peak stays below the smallest weight matrix,
    so no temporary of a weight's size is made (small Python objects are allowed)."""
    mlp = init_mlp([784, 32, 10], "relu", np.float32, seed=0)
    for name in ("sgd", "adam"):
        report = memory.optimizer_allocations(name, mlp)
        assert report["ours_peak_bytes"] < min(w.nbytes for w in mlp.weights)
        assert report["ours_retained_bytes"] < 1024


# ------------------------------------------------------------------ the scripts run
def _json(path):
    return json.loads(path.read_text())


def test_step_quick_writes_json_and_png(tmp_path):
    out = tmp_path / "step.json"
    step.main(["--quick", "--no-extras", "--rounds", "2", "--out", str(out)])
    payload = _json(out)
    assert {r["dtype"] for r in payload["results"]} == {"float32", "float64"}
    assert all(r["ratio_ours_over_manual"] > 0 for r in payload["results"])
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_step_on_array_api_strict_trains_there_and_says_so(tmp_path, capsys):
    pytest.importorskip("array_api_strict")
    mlp = init_mlp([step.IN_FEATURES, 8, step.CLASSES], "relu", np.float32, seed=0)
    x, labels = step.random_batch(16, np.float32)
    timed = step.contenders(mlp, x, labels, [], device=STRICT)
    assert set(timed) == {"manual", "ours"}  # jit records numpy only: left out
    losses = [timed["ours"]() for _ in range(30)]  # the timed call: one SGD step on strict
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    model = ours.build_model(mlp, STRICT)
    assert {p.device for p in model.parameters()} == {STRICT}
    errors = step.check_parity(mlp, x, labels, [], device=STRICT)  # asserts agreement
    assert set(errors) == {"ours"} and errors["ours"] <= common.parity_tolerance(np.float32)
    out = tmp_path / "step.json"
    step.main(["--quick", "--no-extras", "--rounds", "1", "--device", STRICT, "--out", str(out)])
    payload = _json(out)
    assert payload["settings"]["device"] == STRICT
    assert payload["settings"]["contenders"] == ["manual", "ours"]
    assert all(set(r["timings"]) == {"manual", "ours"} for r in payload["results"])
    printed = capsys.readouterr().out
    assert f"ours us ({STRICT})" in printed and f"ours on {STRICT}, manual on cpu" in printed


def test_step_names_an_unknown_device_and_keeps_memory_on_the_cpu(tmp_path):
    out = str(tmp_path / "step.json")
    with pytest.raises(DeviceError, match="device 'no_such_array_library' needs the module"):
        step.main(["--quick", "--device", "no_such_array_library", "--out", out])
    with pytest.raises(ArgumentError, match="--memory measures numpy's buffers"):
        step.main(["--quick", "--memory", "--device", STRICT, "--out", out])
    assert not (tmp_path / "step.json").exists()


def test_step_memory_report(tmp_path):
    report = memory.report([8], [4], [np.float32])
    (record,) = report["step_peak"]
    assert record["ours_peak_bytes"] > 0 and record["manual_peak_bytes"] > 0
    assert {r["optimizer"] for r in report["optimizer_step"]} == {"sgd", "adam"}


def test_epoch_quick_writes_json(tmp_path):
    out = tmp_path / "epoch.json"
    epoch.main(["--quick", "--rounds", "1", "--out", str(out)])
    results = _json(out)["results"]
    assert {r["experiment"] for r in results} == set(epoch.EXPERIMENTS)
    assert all(r["parity_max_rel_error"]["after_epoch"] >= 0 for r in results)


def test_overhead_quick_writes_json(tmp_path):
    out = tmp_path / "overhead.json"
    overhead.main(["--quick", "--out", str(out)])
    payload = _json(out)
    assert payload["tiny_op"]["ours"] > 0
    assert payload["profile_batch32"]["top_functions"]


def test_verdict_applies_the_issue_targets():
    def record(batch: int, ratio: float) -> dict:
        timings = {"ours": {"median_s": 1.0}, "torch": {"median_s": 2.0}}
        return {"batch": batch, "ratio_ours_over_manual": ratio, "timings": timings}

    assert step.verdict(record(32, 1.1)) == {
        "ratio_limit": 1.15,
        "meets_ratio": True,
        "faster_than_torch": True,
    }
    assert not step.verdict(record(128, 1.1))["meets_ratio"]
    assert step.verdict(record(1024, 1.0))["faster_than_torch"] is None  # torch target <= 128
