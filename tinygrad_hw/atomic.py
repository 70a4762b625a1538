"""Write files so that a reader sees either the old contents or the new, never half of either.

A crash, a Ctrl-C or a full disk in the middle of ``open(path, "wb").write(...)`` leaves a
truncated file behind, and the next run then fails on a corrupt checkpoint or data file.
Here the bytes go to a temporary file in the same folder; once they are flushed and fsynced,
``os.replace`` swaps it onto ``path`` in one step (a rename is atomic within one file system).
If anything goes wrong before that, the temporary file is removed and ``path`` is untouched.

Only a process killed outright (SIGKILL, power loss) can leave a stray ``.<name>.XXXXXXXX.tmp``
file beside the target; the target itself is still intact, and the next save to that path
removes such files once they are over ``STALE_TEMP_S`` old (a younger one may belong to a save
still running in another process).

A new file gets 0o666 minus the umask (as ``open()`` would give it); a replaced file keeps
its permission bits. A symlinked path is followed: the file it points to is replaced (the
temporary file is made beside it, so the rename stays on one file system) and the link stays.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tinygrad_hw.errors import ArgumentError

_MODES = ("wb", "w")
STALE_TEMP_S = 600.0  # a temporary file of ours untouched this long is a killed save's
_TEMP_NAME = r"\.{name}\.[a-z0-9_]{{8}}\.tmp"  # mkstemp's 8 random characters


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without error.

    ``mode`` is ``"wb"`` (bytes) or ``"w"`` (UTF-8 text). On success the data is flushed,
    fsynced, renamed onto ``path`` and the folder is fsynced (where the OS allows it), so the
    new contents survive a power cut. On any exception the temporary file is deleted, the file
    previously at ``path`` (if any) is left byte-identical, and the exception propagates.
    An existing file's permission bits are kept; a new file gets 0o666 minus the umask. A
    symlink is followed (its target is replaced, the link kept).
    """
    if mode not in _MODES:
        raise ArgumentError(f"atomic_open: mode must be one of {_MODES}, got {mode!r}")
    target = Path(os.path.realpath(path))
    remove_stale_temps(target)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _permissions_for(target))
        os.replace(tmp_name, target)
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave the temp file behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the contents of ``path`` with ``data`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def remove_stale_temps(target: Path, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete the temporary files a killed save to ``target`` left (our naming pattern only,
    untouched for ``older_than_s`` seconds); returns what was removed."""
    pattern = re.compile(_TEMP_NAME.format(name=re.escape(target.name)))
    removed = []
    now = time.time()
    try:
        candidates = [p for p in target.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return removed
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if candidate.is_file() and now - candidate.stat().st_mtime > older_than_s:
                candidate.unlink()
                removed.append(candidate)
    return removed


def _permissions_for(target: Path) -> int:
    """Permission bits for the new file: those of the file it replaces, else 0o666 minus the
    umask (what open() gives). mkstemp creates files readable by their owner only, which
    would silently make a shared data file private once it has been rewritten."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read from /proc where possible (os.umask can only be read by
    setting it, which another thread could see for an instant)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(folder: Path) -> None:
    """Flush the folder entry so the rename itself survives a crash (not possible on Windows)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data itself is already synced
    finally:
        os.close(dir_fd)
