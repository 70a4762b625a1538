"""Feeding arrays to a training loop: minibatches, the IDX file format, stratified splits.

The data set loaders themselves (MNIST, Fashion-MNIST, digits) live in ``datasets.py``.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.errors import ArgumentError, DataError, DTypeError, MissingDataError, ShapeError

Seed = int | np.random.Generator | None
Batch = tuple[np.ndarray, np.ndarray]

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/, "THE IDX FORMAT").
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------- minibatches


def minibatches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    seed: Seed = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """Iterate once over ``(x, y)`` in batches of ``batch_size`` rows (one epoch).

    Every row appears exactly once; the last batch is shorter unless ``drop_last`` is set, in
    which case it is left out (and an epoch shorter than one batch yields nothing).
    ``seed`` is an int, ``None`` (fresh OS entropy) or a ``np.random.Generator``. The
    permutation is drawn when ``minibatches`` is called, so equal seeds give equal orders.

    Pass one Generator for the whole run to get a new, reproducible order each epoch. To
    resume, save ``rng.bit_generator.state`` before an epoch's call, restore it later, call
    again and skip the batches already done with ``itertools.islice``.

    Arguments are checked here, not at the first ``next()``. Without shuffling the batches are
    views of ``x`` and ``y``; with shuffling they are copies.
    """
    x, y = _check_pair(x, y, "minibatches")
    _check_batch_size(batch_size)
    n = len(x)
    order = generator(seed, "minibatches").permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    return _batches(x, y, order, batch_size, stop)


def generator(seed: Seed, caller: str) -> np.random.Generator:
    """``seed`` (an int >= 0, None or a Generator) as a Generator; ArgumentError otherwise."""
    if isinstance(seed, np.random.Generator) or seed is None:
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ArgumentError(
            f"{caller}: seed must be an int >= 0, None or a np.random.Generator, got {seed!r:.60}"
        )
    return np.random.default_rng(seed)


def _batches(
    x: np.ndarray, y: np.ndarray, order: np.ndarray | None, batch_size: int, stop: int
) -> Iterator[Batch]:
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            rows = order[start : start + batch_size]
            yield x[rows], y[rows]


def _check_pair(x: object, y: object, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Turn ``x`` and ``y`` into arrays with one row per example and the same number of rows."""
    x, y = np.asarray(x), np.asarray(y)
    for name, array in (("x", x), ("y", y)):
        if array.ndim == 0:
            raise ShapeError(f"{caller}: {name} must have one row per example, got a scalar")
    if len(x) != len(y):
        raise ShapeError(f"{caller}: x and y differ in length: len(x)={len(x)}, len(y)={len(y)}")
    if len(x) == 0:
        raise ArgumentError(f"{caller}: x and y are empty (0 examples)")
    return x, y


def _check_batch_size(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ArgumentError(f"minibatches: batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ArgumentError(f"minibatches: batch_size must be at least 1, got {batch_size}")


# --------------------------------------------------------------------------- stratified split


def stratified_split(
    x: np.ndarray, y: np.ndarray, test_size: float | int, seed: Seed = 0
) -> tuple[Batch, Batch]:
    """Split ``(x, y)`` into ``(x_train, y_train), (x_test, y_test)`` keeping class proportions.

    See :func:`stratified_split_indices` for how ``test_size`` and the per-class counts are
    chosen. The rows of each part come in a shuffled order (not grouped by class).
    """
    x, y = _check_pair(x, y, "stratified_split")
    train, test = stratified_split_indices(y, test_size, seed)
    return (x[train], y[train]), (x[test], y[test])


def stratified_split_indices(
    y: np.ndarray, test_size: float | int, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of a stratified split of the labels ``y``.

    ``test_size`` is a fraction in (0, 1) (the test set gets ``ceil(test_size * n)`` rows, as
    in scikit-learn) or a row count in [1, n-1]. Each class c with n_c rows gets a share
    ``test_count * n_c / n`` of the test rows, rounded by largest remainder so that the shares
    add up exactly; which rows of a class go to the test set is drawn from ``seed``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ShapeError(f"stratified_split: y must be 1-D labels, got shape {y.shape}")
    test_count = _test_count(test_size, len(y))
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    per_class = _largest_remainder(test_count * counts / len(y), test_count)
    rng = generator(seed, "stratified_split")
    train_parts, test_parts = [], []
    for label, k in enumerate(per_class):
        rows = rng.permutation(np.flatnonzero(inverse == label))
        test_parts.append(rows[:k])
        train_parts.append(rows[k:])
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


def _test_count(test_size: object, n: int) -> int:
    if n < 2:
        raise ArgumentError(f"stratified_split: need at least 2 examples to split, got {n}")
    is_count = isinstance(test_size, int | np.integer) and not isinstance(test_size, bool)
    if is_count and 1 <= test_size <= n - 1:
        return int(test_size)
    if isinstance(test_size, float | np.floating) and 0.0 < test_size < 1.0:
        # round() first so float noise (0.55 * 100 = 55.00000000000001) cannot add a row
        return min(max(math.ceil(round(test_size * n, 9)), 1), n - 1)
    raise ArgumentError(
        f"stratified_split: test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], "
        f"got {test_size!r}"
    )


def _largest_remainder(quotas: np.ndarray, total: int) -> np.ndarray:
    """Round non-negative ``quotas`` (summing to ``total``) to integers that sum to ``total``."""
    counts = np.floor(quotas).astype(np.int64)
    short = total - int(counts.sum())
    # Stable sort: equal remainders go to the earlier class, so the result is deterministic.
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


# --------------------------------------------------------------------------- IDX files


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or plain, into a native-endian array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, one big-endian uint32 per
    dimension, then the values in C order, big-endian. MNIST images have magic 0x00000803
    (uint8, 3-D), labels 0x00000801 (uint8, 1-D). Gzip is recognised by its first two bytes,
    not by the file name. Raises MissingDataError if the file is absent and DataError if it is
    corrupt, truncated, too long or not IDX at all.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"IDX file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not an IDX file") from None
    if raw[:2] == _GZIP_MAGIC:
        _check_gzip_size_before_inflating(raw, path)
        raw = _gunzip(raw, path)
    return parse_idx(raw, str(path))


# deflate cannot compress better than about 1032:1, so a header claiming more than this many
# bytes per compressed byte describes data the file cannot hold (a gzip bomb, or damage)
_MAX_DEFLATE_RATIO = 1032
_INFLATE_ANYWAY = 2**26  # bytes: below this a mismatch is reported after inflating


def _check_gzip_size_before_inflating(raw: bytes, path: Path) -> None:
    """Compare the IDX header's size (from the first inflated bytes) with what the gzip file
    can hold and with its trailer (ISIZE: the inflated length mod 2**32), before inflating."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            head = stream.read(4 + 4 * 255)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: corrupt or truncated gzip data ({err})") from None
    if len(head) < 4 or head[3] == 0 or len(head) < 4 + 4 * head[3]:
        return  # parse_idx names the bad header
    dtype_code, ndim = head[2], head[3]
    shape = [int.from_bytes(head[i : i + 4], "big") for i in range(4, 4 + 4 * ndim, 4)]
    itemsize = IDX_DTYPES[dtype_code].itemsize if dtype_code in IDX_DTYPES else 1
    total = 4 + 4 * ndim + math.prod(shape) * itemsize
    trailer = int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else None
    # small files are inflated anyway, for parse_idx's exact expected/got message
    wrong_trailer = trailer is not None and total > _INFLATE_ANYWAY and trailer != total % 2**32
    if total > _MAX_DEFLATE_RATIO * len(raw) or wrong_trailer:
        raise DataError(
            f"{path}: IDX header says shape {tuple(shape)} ({total} bytes), which this "
            f"{len(raw)}-byte gzip file cannot hold (its trailer says {trailer} bytes "
            "inflated): truncated, damaged or not what it claims; nothing was inflated"
        )


def _gunzip(raw: bytes, path: Path) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: corrupt or truncated gzip data ({err})") from None


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file; ``source`` names it in error messages."""
    dtype, shape, offset = _parse_idx_header(raw, source)
    expected = math.prod(shape) * dtype.itemsize
    got = len(raw) - offset
    if got != expected:
        problem = "truncated" if got < expected else "has trailing bytes"
        raise DataError(
            f"{source}: IDX data {problem}: shape {shape} of {dtype.name} needs {expected} "
            f"bytes after the {offset}-byte header, got {got}"
        )
    values = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=offset)
    values = values.reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _parse_idx_header(raw: bytes, source: str) -> tuple[np.dtype, tuple[int, ...], int]:
    if len(raw) < 4:
        raise DataError(
            f"{source}: truncated IDX header: expected at least 4 bytes, got {len(raw)}"
        )
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{source}: bad IDX magic number 0x{magic:08X}; expected 0x0000TTNN with type code "
            f"TT in {{{', '.join(f'{c:02X}' for c in IDX_DTYPES)}}} and NN >= 1 dimensions "
            "(MNIST: 0x00000803 for images, 0x00000801 for labels)"
        )
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(
            f"{source}: truncated IDX header: {ndim} dimensions need {offset} bytes, got {len(raw)}"
        )
    shape = tuple(int.from_bytes(raw[i : i + 4], "big") for i in range(4, offset, 4))
    return IDX_DTYPES[code], shape, offset


def save_idx(path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` to ``path`` as an IDX file (see :func:`load_idx`), atomically.

    The file is gzipped if ``compress`` is true, or, when it is None, if the name ends in
    ``.gz``. The gzip header carries no timestamp, so equal arrays give equal bytes (and equal
    SHA-256). IDX holds uint8, int8, int16, int32, float32 and float64 arrays of 1 to 255
    dimensions, each below 2**32; anything else raises DTypeError or ShapeError.
    """
    raw = idx_bytes(array)
    if compress is None:
        compress = Path(path).name.endswith(".gz")
    if compress:
        raw = gzip.compress(raw, mtime=0)
    atomic_write_bytes(path, raw)


def idx_bytes(array: np.ndarray) -> bytes:
    """The bytes of an uncompressed IDX file holding ``array``."""
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(d.name for d in _IDX_CODES)
        raise DTypeError(f"save_idx: IDX cannot hold dtype {array.dtype}; use one of {names}")
    if not 1 <= array.ndim <= 255 or any(side >= 2**32 for side in array.shape):
        raise ShapeError(
            f"save_idx: IDX needs 1 to 255 dimensions each below 2**32, got shape {array.shape}"
        )
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        side.to_bytes(4, "big") for side in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
