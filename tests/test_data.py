"""data.py: minibatches, stratified splits and the IDX reader/writer."""

import gzip
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_hw.data import (
    idx_bytes,
    load_idx,
    minibatches,
    save_idx,
    stratified_split,
    stratified_split_indices,
)
from tinygrad_hw.errors import ArgumentError, DataError, DTypeError, MissingDataError, ShapeError

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- minibatches


def epoch_rows(n, batch_size, **kwargs):
    """The row ids of one epoch, batch by batch (x holds each row's own index)."""
    x = np.arange(n)
    return [bx for bx, _ in minibatches(x, x * 10, batch_size, **kwargs)]


@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_every_row_exactly_once_per_epoch_with_full_batches_first(n, batch_size, seed):
    batches = epoch_rows(n, batch_size, seed=seed)
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert [len(b) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert len(batches[-1]) == (n % batch_size or batch_size)


@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_drop_last_keeps_only_full_batches(n, batch_size, seed):
    batches = epoch_rows(n, batch_size, seed=seed, drop_last=True)
    assert len(batches) == n // batch_size
    assert all(len(b) == batch_size for b in batches)
    assert len(set(np.concatenate([*batches, []]).tolist())) == n - n % batch_size


def test_x_and_y_rows_stay_paired():
    x = np.arange(20).reshape(10, 2)
    for bx, by in minibatches(x, x[:, 0] * 7, 3, seed=1):
        np.testing.assert_array_equal(by, bx[:, 0] * 7)


def test_no_shuffle_keeps_order():
    assert np.concatenate(epoch_rows(10, 4, shuffle=False)).tolist() == list(range(10))


def test_equal_seeds_give_equal_orders_and_different_seeds_differ():
    first = np.concatenate(epoch_rows(100, 7, seed=3))
    np.testing.assert_array_equal(first, np.concatenate(epoch_rows(100, 7, seed=3)))
    assert not np.array_equal(first, np.concatenate(epoch_rows(100, 7, seed=4)))
    assert not np.array_equal(first, np.arange(100))  # it is shuffled at all


def test_a_shared_generator_gives_a_new_order_each_epoch():
    rng = np.random.default_rng(0)
    one, two = (np.concatenate(epoch_rows(50, 8, seed=rng)) for _ in range(2))
    assert not np.array_equal(one, two)


def test_saved_generator_state_resumes_the_same_epoch():
    rng = np.random.default_rng(5)
    next(iter(minibatches(np.arange(30), np.arange(30), 4, seed=rng)))  # epoch 0
    state = rng.bit_generator.state  # saved before epoch 1, as a checkpoint would
    epoch1 = epoch_rows(30, 4, seed=rng)
    rng.bit_generator.state = state
    resumed = itertools.islice(minibatches(np.arange(30), np.arange(30), 4, seed=rng), 3, None)
    for expected, (bx, _) in zip(epoch1[3:], resumed, strict=True):
        np.testing.assert_array_equal(bx, expected)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_bad_batch_size_is_an_argument_error_at_call_time(batch_size):
    with pytest.raises(ArgumentError, match="batch_size"):
        minibatches(np.zeros(4), np.zeros(4), batch_size)  # no next(): checked eagerly


def test_length_mismatch_names_both_lengths():
    with pytest.raises(ShapeError, match=r"len\(x\)=5, len\(y\)=4"):
        minibatches(np.zeros((5, 2)), np.zeros(4), 2)


def test_empty_data_is_an_argument_error():
    with pytest.raises(ArgumentError, match="empty"):
        minibatches(np.zeros((0, 3)), np.zeros(0), 2)


def test_scalar_data_is_a_shape_error():
    with pytest.raises(ShapeError, match="scalar"):
        minibatches(np.float64(3.0), np.zeros(1), 1)


# --------------------------------------------------------------------------- stratified split


def test_stratified_split_keeps_class_counts_and_partitions_rows():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    x = np.arange(len(y)) * 2
    (x_train, y_train), (x_test, y_test) = stratified_split(x, y, test_size=0.2, seed=0)
    assert np.bincount(y_test).tolist() == [10, 6, 3, 1]
    assert np.bincount(y_train).tolist() == [40, 24, 12, 4]
    np.testing.assert_array_equal(y[x_train // 2], y_train)  # rows stay paired
    assert sorted([*x_train, *x_test]) == x.tolist()


@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 1000),
)
def test_stratified_indices_are_a_partition_with_rounded_shares(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    if len(y) < 2:
        return
    train, test = stratified_split_indices(y, fraction, seed)
    assert sorted([*train, *test]) == list(range(len(y)))
    expected_share = len(test) * np.array(counts) / len(y)
    assert np.all(np.abs(np.bincount(y[test], minlength=len(counts)) - expected_share) < 1)


def test_stratified_split_count_matches_scikit_learn_convention():
    y = np.arange(1797) % 10
    train, test = stratified_split_indices(y, 0.2, seed=0)
    assert (len(train), len(test)) == (1437, 360)  # ceil(0.2 * 1797) = 360 go to test


def test_stratified_split_is_deterministic_and_shuffled():
    y = np.repeat(np.arange(3), 20)
    first = stratified_split_indices(y, 15, seed=7)
    again = stratified_split_indices(y, 15, seed=7)
    other = stratified_split_indices(y, 15, seed=8)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert not np.all(np.diff(y[first[0]]) >= 0)  # not grouped by class


@pytest.mark.parametrize("test_size", [0, 10, 0.0, 1.0, -0.5, True, "half"])
def test_bad_test_size_is_an_argument_error(test_size):
    with pytest.raises(ArgumentError, match="test_size"):
        stratified_split(np.zeros(10), np.arange(10) % 2, test_size)


def test_stratified_split_needs_1d_labels():
    with pytest.raises(ShapeError, match="1-D"):
        stratified_split(np.zeros(4), np.zeros((4, 1)), 0.5)


# --------------------------------------------------------------------------- IDX files

IDX_DTYPES = st.sampled_from(["uint8", "int8", ">i2", "<i2", "int32", "float32", "float64"])


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(IDX_DTYPES, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)),
    compress=st.booleans(),
)
def test_idx_round_trip(array, compress):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any-name-without-suffix"
        save_idx(path, array, compress=compress)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
        loaded = load_idx(path)
    assert loaded.shape == array.shape
    assert loaded.dtype == array.dtype.newbyteorder("=")
    assert loaded.dtype.isnative
    assert loaded.tobytes() == array.astype(loaded.dtype).tobytes()  # bit-exact, NaNs included
    loaded[...] = 0  # the result is writable, not a read-only view of the file buffer


def test_mnist_headers_are_the_standard_magic_numbers():
    assert idx_bytes(np.zeros((2, 28, 28), np.uint8))[:16].hex() == (
        "00000803" + "00000002" + "0000001c" + "0000001c"
    )
    assert idx_bytes(np.zeros(7, np.uint8))[:8].hex() == "00000801" + "00000007"


def test_gzip_is_chosen_by_file_name_when_not_given(tmp_path):
    save_idx(tmp_path / "a.gz", np.arange(5, dtype=np.uint8))
    save_idx(tmp_path / "a", np.arange(5, dtype=np.uint8))
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "a").read_bytes()[:4] == b"\x00\x00\x08\x01"


def test_gzip_output_is_reproducible(tmp_path):
    array = np.arange(100, dtype=np.int32)
    save_idx(tmp_path / "one.gz", array)
    save_idx(tmp_path / "two.gz", array)
    assert (tmp_path / "one.gz").read_bytes() == (tmp_path / "two.gz").read_bytes()


def test_bad_magic_says_what_was_found_and_expected(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 12)
    with pytest.raises(DataError, match=r"0x12340801.*0x00000801"):
        load_idx(path)


def test_unknown_type_code_is_a_bad_magic(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="0x00000701"):
        load_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_says_expected_and_got_bytes(tmp_path, compress):
    raw = idx_bytes(np.zeros((3, 4, 4), np.uint8))[:-5]
    path = tmp_path / "images"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(DataError, match=r"truncated.*needs 48 bytes.*got 43"):
        load_idx(path)


@pytest.mark.parametrize("raw", [b"", b"\x00\x00", b"\x00\x00\x08\x03\x00\x00\x00\x01"])
def test_truncated_header(tmp_path, raw):
    path = tmp_path / "images"
    path.write_bytes(raw)
    with pytest.raises(DataError, match="truncated IDX header"):
        load_idx(path)


def test_trailing_bytes_are_reported(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"junk")
    with pytest.raises(DataError, match="trailing bytes"):
        load_idx(path)


@pytest.mark.parametrize("damage", ["cut", "flip"])
def test_corrupt_gzip_is_a_data_error(tmp_path, damage):
    packed = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    if damage == "cut":
        packed = packed[: len(packed) // 2]
    else:
        packed[len(packed) // 2] ^= 0xFF
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="gzip"):
        load_idx(path)


def test_missing_idx_file_is_a_missing_data_error(tmp_path):
    with pytest.raises(MissingDataError, match="not found"):
        load_idx(tmp_path / "nope")


@pytest.mark.parametrize("array", [np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, "U1")])
def test_unsupported_dtypes_are_refused(tmp_path, array):
    with pytest.raises(DTypeError, match="IDX cannot hold"):
        save_idx(tmp_path / "x", array)
    assert list(tmp_path.iterdir()) == []


def test_zero_dimensional_arrays_are_refused(tmp_path):
    with pytest.raises(ShapeError, match="dimensions"):
        save_idx(tmp_path / "x", np.uint8(3))


def test_the_package_gives_datasets_data_and_testing_without_extra_imports():
    code = (
        "import tinygrad_hw as tg; "
        "print(tg.datasets.mnist5k.__name__, tg.data.minibatches.__name__, "
        "tg.testing.tensors.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == ["mnist5k", "minibatches", "tensors"], done.stderr


def test_tg_testing_without_hypothesis_says_what_to_install():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"  # as if it were not installed
        "import tinygrad_hw as tg\n"
        "try:\n    tg.testing\nexcept tg.MissingDataError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "pip install hypothesis" in done.stdout, done.stderr
