"""atomic_open / atomic_write_bytes: the old file survives every failure, even SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinygrad_hw.atomic import atomic_open, atomic_write_bytes
from tinygrad_hw.errors import ArgumentError

REPO_ROOT = Path(__file__).resolve().parents[1]
OLD = b"old contents\x00\xff" * 100


def test_write_bytes_round_trips_onto_a_new_file(tmp_path):
    target = tmp_path / "new.bin"
    atomic_write_bytes(target, b"\x00\x01 payload")
    assert target.read_bytes() == b"\x00\x01 payload"
    assert os.listdir(tmp_path) == ["new.bin"]


def test_write_replaces_an_existing_file(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(OLD)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_text_mode_writes_utf8(tmp_path):
    target = tmp_path / "notes.txt"
    with atomic_open(target, "w") as handle:
        handle.write("gradient ∇ step\n")
    assert target.read_bytes() == "gradient ∇ step\n".encode()


def test_exception_mid_write_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError, match="disk full"), atomic_open(target) as handle:
        handle.write(b"half of the new ")
        raise RuntimeError("disk full")
    assert target.read_bytes() == OLD
    assert os.listdir(tmp_path) == ["data.bin"]


def test_exception_before_first_write_creates_nothing(tmp_path):
    target = tmp_path / "never.bin"
    with pytest.raises(KeyboardInterrupt), atomic_open(target):
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_existing_permissions_are_kept(tmp_path):
    target = tmp_path / "shared.bin"
    target.write_bytes(OLD)
    target.chmod(0o640)
    atomic_write_bytes(target, b"new")
    assert target.stat().st_mode & 0o777 == 0o640


def test_bad_mode_is_an_argument_error(tmp_path):
    with pytest.raises(ArgumentError, match="mode"), atomic_open(tmp_path / "x", "ab"):
        pass


def test_sigkill_during_a_slow_write_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "checkpoint.bin"
    target.write_bytes(OLD)
    child = textwrap.dedent(
        f"""
        import time
        from tinygrad_hw.atomic import atomic_open
        with atomic_open({str(target)!r}) as handle:
            for _ in range(1000):
                handle.write(b"new bytes " * 1000)
                handle.flush()
                print("wrote a chunk", flush=True)
                time.sleep(0.05)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, env=env, cwd=REPO_ROOT
    ) as proc:
        # Two chunks on disk means the temporary file is mid-write when the kill lands.
        assert proc.stdout.readline() == b"wrote a chunk\n"
        assert proc.stdout.readline() == b"wrote a chunk\n"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    assert target.read_bytes() == OLD
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p != target)
    assert len(leftovers) == 1  # the half-written temp file: proof the kill came mid-write
    assert leftovers[0].startswith(".checkpoint.bin.")
    assert (tmp_path / leftovers[0]).stat().st_size >= 20_000
