"""Reading an ``.npz`` archive member by member, checking each before its data is read.

``np.load(path)[key]`` inflates a member whole before anyone can look at it: a 3 MiB file may
hold a 3 GiB member (zeros compress 1000:1), and a member whose header claims 10^12 elements
ends in a raw MemoryError. Here the zip's directory and each member's ``.npy`` header (a few
hundred bytes) are read first: the name, dtype and shape must be what the caller accepts, and
the header's size must agree with the directory's, before a single byte of data is read.
Every refusal is a DataError (or the caller's own error) naming the file and the member.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_hw.errors import DataError, MissingDataError, TinygradHWError

NPY_MAGIC = b"\x93NUMPY"
MAX_HEADER_BYTES = 10_000  # numpy's own limit for a header it reads without trust


@dataclass(frozen=True)
class Member:
    """One array of the archive as its header describes it (its data not read yet)."""

    name: str  # without ".npy"
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


# check(member) returns True to read the member, False to skip it, or raises to refuse it.
Check = Callable[[Member], bool]


def read_checked(path: Path, check: Check) -> dict[str, np.ndarray]:
    """The arrays of the archive at ``path`` that ``check`` accepts, read only after every
    member's header has been checked (so a refusal reads no data at all)."""
    if not path.exists():
        raise MissingDataError(f"load: no checkpoint at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            members = [_member(path, archive, info) for info in archive.infolist()]
            wanted = [(info, m) for info, m in members if _accepted(path, check, m)]
            return {m.name: _read_data(path, archive, info, m) for info, m in wanted}
    except zipfile.BadZipFile as error:
        if _is_single_npy(path):
            raise DataError(f"load: {path} holds a single .npy array, not a checkpoint") from None
        raise DataError(
            f"load: {path} is not a readable checkpoint (truncated or corrupt): {error}"
        ) from None
    except (OSError, EOFError, ValueError) as error:
        if isinstance(error, TinygradHWError):
            raise
        raise DataError(
            f"load: {path} is not a readable checkpoint (truncated or corrupt): {error}"
        ) from None


def _accepted(path: Path, check: Check, member: Member) -> bool:
    try:
        return check(member)
    except TinygradHWError as error:
        raise type(error)(f"{path}: member '{member.name}': {error}") from None


def _member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple:
    """The member's header, checked against the zip directory's size for it."""
    where = f"load: {path}: member '{info.filename}'"
    if not info.filename.endswith(".npy"):
        raise DataError(f"{where} is not a .npy array (a checkpoint holds only arrays)")
    with archive.open(info) as stream:
        if stream.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DataError(f"{where} does not start with the .npy magic bytes")
        version = (stream.read(1)[0], stream.read(1)[0])
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise DataError(f"{where} has an unknown .npy format version {version}")
        reader = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        try:
            shape, _fortran, dtype = reader(stream, max_header_size=MAX_HEADER_BYTES)
        except ValueError as error:
            raise DataError(f"{where} has a corrupt .npy header: {error}") from None
        header_bytes = stream.tell() if stream.seekable() else None
    if dtype.hasobject:
        raise DataError(f"{where} holds Python objects (dtype {dtype}); refused, no pickle")
    member = Member(info.filename[: -len(".npy")], dtype, tuple(int(n) for n in shape))
    if header_bytes is not None and header_bytes + member.nbytes != info.file_size:
        raise DataError(
            f"{where}: its header says shape {member.shape} of {dtype} ({member.nbytes} "
            f"bytes), the zip directory says {info.file_size - header_bytes} bytes of data"
        )
    return info, member


def _read_data(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: Member
) -> np.ndarray:
    with archive.open(info) as stream:
        array = np.lib.format.read_array(
            stream, allow_pickle=False, max_header_size=MAX_HEADER_BYTES
        )
        stream.read(1)  # reach the end, so that zipfile checks the CRC-32
    if array.shape != member.shape or array.dtype != member.dtype:
        raise DataError(f"load: {path}: member '{member.name}' changed while it was read")
    return array


def _is_single_npy(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(NPY_MAGIC)) == NPY_MAGIC
