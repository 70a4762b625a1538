"""checkpoint: round trips, the file's plain-numpy format, atomic writes and corrupt files."""

import json
import os

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import checkpoint, nn, optim
from tinygrad_hw.nn import functional as F

SIZES = [4, 5, 3]


def _trained(seed: int = 0) -> tuple[nn.MLP, optim.Adam]:
    """A model and an Adam state after two real steps (nonzero moments, step counts)."""
    rng = np.random.default_rng(seed)
    model = nn.MLP(SIZES, rng=seed)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, size=8)
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, opt


def _same_step(opt: optim.Optimizer, seed: int = 9) -> None:
    rng = np.random.default_rng(seed)
    for p in opt.params:
        p.grad = rng.standard_normal(p.shape).astype(p.dtype)
    opt.step()


def test_round_trip_restores_model_optimizer_and_meta(tmp_path):
    model, opt = _trained()
    path = tmp_path / "run.npz"
    checkpoint.save(path, model, opt, epoch=3, history={"loss": [1.5, 0.25]}, name="mlp")
    restored = nn.MLP(SIZES, rng=1)
    restored_opt = optim.Adam(restored.parameters(), lr=0.5)
    meta = checkpoint.load(path, restored, restored_opt)
    assert meta == {"epoch": 3, "history": {"loss": [1.5, 0.25]}, "name": "mlp"}
    for (name, a), (_, b) in zip(
        model.named_parameters(), restored.named_parameters(), strict=True
    ):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert restored_opt.lr == 0.01
    _same_step(opt)  # the optimizers continue identically (moments, step counts restored)
    _same_step(restored_opt)
    for a, b in zip(model.parameters(), restored.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_the_file_is_a_plain_npz_with_named_arrays(tmp_path):
    model, opt = _trained()
    path = tmp_path / "run.npz"
    checkpoint.save(path, model, opt, epoch=7)
    with np.load(path, allow_pickle=False) as archive:  # no pickle: no tinygrad_hw class inside
        files = set(archive.files)
        np.testing.assert_array_equal(archive["model/layers.0.weight"], model.layers[0].weight.data)
        assert json.loads(archive["meta"].item()) == {"epoch": 7}
        assert archive["optim/state.2.m"].shape == (5, 3)
    model_keys = {f"model/{name}" for name, _ in model.named_parameters()}
    optim_keys = {f"optim/{key}" for key in opt.state_dict()}
    assert files == model_keys | optim_keys | {"meta", "format"}


def test_load_without_model_returns_the_meta_and_model_only_files_load(tmp_path):
    model, _ = _trained()
    checkpoint.save(tmp_path / "m.npz", model, accuracy=0.75)
    assert checkpoint.load(tmp_path / "m.npz") == {"accuracy": 0.75}
    with pytest.raises(tg.DataError, match="no optimizer state"):
        checkpoint.load(tmp_path / "m.npz", nn.MLP(SIZES), optim.SGD(model.parameters(), 0.1))


def test_a_failure_during_the_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model, opt = _trained()
    path = tmp_path / "run.npz"
    checkpoint.save(path, model, opt, epoch=1)
    previous = path.read_bytes()

    def savez_then_fail(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    _same_step(opt)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(path, model, opt, epoch=2)
    assert path.read_bytes() == previous
    assert os.listdir(tmp_path) == ["run.npz"]  # no temporary file left behind
    monkeypatch.undo()
    assert checkpoint.load(path, nn.MLP(SIZES)) == {"epoch": 1}


def test_meta_that_is_not_json_is_refused_before_writing(tmp_path):
    model, _ = _trained()
    with pytest.raises(tg.DTypeError, match=r"meta weights=.*not JSON-serialisable"):
        checkpoint.save(tmp_path / "run.npz", model, weights=np.ones(2))
    assert not (tmp_path / "run.npz").exists()


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_a_truncated_file_is_a_data_error_naming_it(tmp_path, keep):
    model, opt = _trained()
    path = tmp_path / "run.npz"
    checkpoint.save(path, model, opt)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(tg.DataError, match=r"run\.npz"):
        checkpoint.load(path, nn.MLP(SIZES))


def test_a_corrupted_array_is_a_data_error(tmp_path):
    model, _ = _trained()
    path = tmp_path / "run.npz"
    checkpoint.save(path, model)
    data = bytearray(path.read_bytes())
    weight_bytes = model.layers[0].weight.data.tobytes()
    start = bytes(data).index(weight_bytes)
    data[start + 3] ^= 0xFF  # flip bits inside the first weight: the zip CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(tg.DataError, match=r"run\.npz"):
        checkpoint.load(path, nn.MLP(SIZES))


def test_other_files_are_data_errors_and_a_missing_one_says_so(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(tg.DataError, match="not a tinygrad_hw-checkpoint"):
        checkpoint.load(tmp_path / "other.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(tg.DataError, match=r"single \.npy array"):
        checkpoint.load(tmp_path / "single.npy")
    with pytest.raises(tg.MissingDataError, match=r"no checkpoint at .*absent\.npz"):
        checkpoint.load(tmp_path / "absent.npz")
    with pytest.raises(tg.MissingDataError, match=r"folder of .*absent.*does not exist"):
        checkpoint.save(tmp_path / "absent" / "run.npz", nn.MLP(SIZES))


def test_another_models_shapes_are_a_shape_error_naming_the_parameter(tmp_path):
    model, _ = _trained()
    checkpoint.save(tmp_path / "run.npz", model)
    other = nn.MLP([4, 6, 3], rng=0)
    before = other.state_dict()
    with pytest.raises(tg.ShapeError, match=r"run.npz.*'layers.0.weight' has shape \(4, 6\)"):
        checkpoint.load(tmp_path / "run.npz", other)
    for name, p in other.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


def test_an_optimizer_mismatch_leaves_the_model_unchanged(tmp_path):
    model, opt = _trained()
    checkpoint.save(tmp_path / "run.npz", model, opt)
    target = nn.MLP(SIZES, rng=5)
    before = target.state_dict()
    with pytest.raises(tg.ArgumentError, match="missing keys"):
        checkpoint.load(tmp_path / "run.npz", target, optim.SGD(target.parameters(), 0.1, 0.9))
    for name, p in target.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])
