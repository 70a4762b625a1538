"""Hostile and damaged files: checked from the zip directory and the headers before any data
is read, refused with the library's error naming the file and member, and nothing changed."""

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_hw import checkpoint, nn, optim
from tinygrad_hw.errors import ArgumentError, DataError, ShapeError, TinygradHWError


def saved(tmp: Path) -> Path:
    model = nn.Linear(3, 2, rng=0)
    path = tmp / "ck.npz"
    checkpoint.save(path, model, optim.Adam(model.parameters()), epoch=1)
    return path


def rewritten(src: Path, member: str, payload: bytes, compress: bool = False) -> Path:
    out = src.with_name(f"bad-{member.replace('/', '_')}.npz")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", method) as zout:
        for item in zin.infolist():
            data = payload if item.filename == member + ".npy" else zin.read(item.filename)
            zout.writestr(item.filename, data)
    return out


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def header_only(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 64


def fresh() -> tuple[nn.Linear, optim.Adam, dict]:
    model = nn.Linear(3, 2, rng=7)
    opt = optim.Adam(model.parameters(), lr=0.5)
    return model, opt, model.state_dict()


def assert_unchanged(model: nn.Linear, opt: optim.Adam, before: dict) -> None:
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    assert opt.lr == 0.5 and opt.step_count == 0


def test_a_member_claiming_a_trillion_elements_is_refused_without_allocating(tmp_path):
    bad = rewritten(saved(tmp_path), "model/weight", header_only((10**6, 10**6)))
    model, opt, before = fresh()
    with pytest.raises(
        DataError, match=r"bad-model_weight\.npz.*model/weight.*\(1000000, 1000000\)"
    ):
        checkpoint.load(bad, model, opt)
    assert_unchanged(model, opt, before)


def test_a_big_compressed_member_the_model_cannot_hold_is_refused_before_inflating(tmp_path):
    bad = rewritten(saved(tmp_path), "model/weight", npy(np.zeros((50, 10**6), np.float32)), True)
    assert bad.stat().st_size < 2**20  # 200 MB of zeros in well under 1 MiB
    model, opt, before = fresh()
    tracemalloc.start()
    try:
        with pytest.raises(ShapeError, match=r"member 'model/weight'.*\(50, 1000000\)"):
            checkpoint.load(bad, model, opt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**22  # < 4 MiB: nothing like the member's 200 MB was allocated
    assert_unchanged(model, opt, before)


@pytest.mark.parametrize(
    ("member", "payload", "pattern"),
    [
        ("meta", npy(np.array(b"xx")), r"'meta'.*string"),
        ("meta", npy(np.arange(3)), r"'meta'.*string"),
        ("format", npy(np.arange(2)), r"'format'.*string"),
        ("format", npy(np.array("tinygrad_hw-checkpoint-0")), r"not a tinygrad_hw-checkpoint-1"),
        ("meta", npy(np.array("[" * 100_000 + "]" * 100_000)), r"'meta'.*nested too deeply"),
        ("meta", npy(np.array("[1, 2]")), r"meta is a list"),
        ("meta", npy(np.array("{not json")), r"corrupt 'meta'"),
        ("model/weight", npy(np.array([object()])), r"model/weight.*(objects|pickle)"),
        ("model/weight", b"not an npy at all", r"model/weight.*magic"),
        ("model/weight", npy(np.zeros((3, 2), np.float32))[:-4], r"model/weight.*zip directory"),
        ("model/weight", npy(np.zeros((3, 2), np.float64)), r"model/weight.*float64"),
        ("optim/eps", npy(np.array("x")), r"optim/eps"),
        ("optim/state.0.m", npy(np.zeros((2, 3))), r"optim/state\.0\.m.*\(2, 3\)"),
    ],
)
def test_tampered_members_are_refused_naming_the_member_and_nothing_changes(
    tmp_path, member, payload, pattern
):
    bad = rewritten(saved(tmp_path), member, payload)
    model, opt, before = fresh()
    with pytest.raises(TinygradHWError, match=pattern):
        checkpoint.load(bad, model, opt)
    assert_unchanged(model, opt, before)


def test_a_foreign_member_name_is_refused(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("extra.npy", npy(np.zeros(2)))
    model, opt, before = fresh()
    with pytest.raises(DataError, match=r"'extra' is not part of a checkpoint"):
        checkpoint.load(path, model, opt)
    assert_unchanged(model, opt, before)


def test_a_read_only_parameter_fails_the_load_before_anything_is_written(tmp_path):
    path = saved(tmp_path)
    model, opt, before = fresh()
    model.bias.data.setflags(write=False)
    with pytest.raises(ArgumentError, match=r"'bias' has a read-only array"):
        checkpoint.load(path, model, opt)
    assert_unchanged(model, opt, before)


def test_an_optimizer_state_with_other_keys_changes_neither_model_nor_optimizer(tmp_path):
    path = saved(tmp_path)
    model = nn.Linear(3, 2, rng=7)
    before = model.state_dict()
    sgd = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    with pytest.raises(
        ArgumentError, match=r"missing keys \['momentum', 'nesterov'.*unexpected keys \['beta1'"
    ):
        checkpoint.load(path, model, sgd)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    assert sgd.lr == 0.5


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), data=st.data())
def test_any_truncation_or_flipped_byte_is_a_data_error_or_a_clean_load(
    tmp_path_factory, cut, flip, data
):
    tmp = tmp_path_factory.mktemp("fuzz")
    raw = bytearray(saved(tmp).read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: cut % len(raw)]
    else:
        raw[flip % len(raw)] ^= 0xFF
    bad = tmp / "fuzzed.npz"
    bad.write_bytes(bytes(raw))
    model, opt, before = fresh()
    try:
        checkpoint.load(bad, model, opt)
    except TinygradHWError as error:
        assert "fuzzed.npz" in str(error)
        assert_unchanged(model, opt, before)


# --------------------------------------------------------------------------- IDX files
def idx_header(shape: tuple[int, ...], code: int = 0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


@pytest.mark.parametrize(
    "shape", [(10**9, 10**9, 10**9), (60000, 28, 28), (2**31, 2), (100_000, 100_000)]
)
def test_an_idx_gzip_whose_header_claims_more_than_it_can_hold_is_refused_before_inflating(
    tmp_path, shape
):
    import gzip

    from tinygrad_hw.data import load_idx

    path = tmp_path / "images.idx.gz"
    path.write_bytes(gzip.compress(idx_header(shape) + bytes(1000)))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"images\.idx\.gz.*(cannot hold|truncated)"):
            load_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**22


def test_a_gzip_bomb_with_a_lying_header_is_refused_by_its_trailer(tmp_path):
    """80 MiB of zeros (an 80 KiB file): the header claims 2x that; the trailer disagrees."""
    import gzip

    from tinygrad_hw.data import load_idx

    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(gzip.compress(idx_header((2 * 80 * 2**20,)) + bytes(80 * 2**20)))
    with pytest.raises(DataError, match=r"bomb\.idx\.gz.*trailer says"):
        load_idx(path)


def test_a_plain_idx_file_shorter_than_its_header_says_is_refused(tmp_path):
    from tinygrad_hw.data import load_idx

    path = tmp_path / "labels.idx"
    path.write_bytes(idx_header((10**6,)) + bytes(10))
    with pytest.raises(DataError, match=r"labels\.idx.*truncated.*needs 1000000 bytes"):
        load_idx(path)
