"""New files respect the umask, symlinks are followed, a killed save's temp files are removed."""

import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_hw import checkpoint, nn
from tinygrad_hw.atomic import STALE_TEMP_S, atomic_write_bytes, remove_stale_temps


@settings(max_examples=20, deadline=None)
@given(umask=st.integers(0, 0o777))
def test_a_new_file_gets_0o666_minus_the_umask(tmp_path_factory, umask):
    folder = tmp_path_factory.mktemp("umask")
    old = os.umask(umask)
    try:
        atomic_write_bytes(folder / "new.bin", b"x")
        with open(folder / "plain.bin", "wb") as handle:  # what open() itself gives
            handle.write(b"x")
    finally:
        os.umask(old)
    got = os.stat(folder / "new.bin").st_mode & 0o777
    assert got == 0o666 & ~umask == os.stat(folder / "plain.bin").st_mode & 0o777


def test_a_checkpoint_under_umask_077_is_private(tmp_path):
    old = os.umask(0o077)
    try:
        checkpoint.save(tmp_path / "c.npz", nn.Linear(2, 2, rng=0))
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "c.npz").st_mode & 0o777 == 0o600


def test_a_replaced_file_keeps_its_bits(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and os.stat(path).st_mode & 0o777 == 0o640


def test_a_symlinked_path_is_followed_and_the_link_kept(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    real = real_dir / "ck.npz"
    real.write_bytes(b"old")
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    checkpoint.save(link, nn.Linear(2, 2, rng=0))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert checkpoint.load(link) == {} and real.read_bytes()[:2] == b"PK"
    assert not [p for p in real_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "out.bin"
    link.symlink_to(tmp_path / "target.bin")
    atomic_write_bytes(link, b"data")
    assert link.is_symlink() and (tmp_path / "target.bin").read_bytes() == b"data"


def test_stale_temp_files_of_our_pattern_are_removed_on_the_next_save(tmp_path):
    target = tmp_path / "ck.npz"
    old_time = time.time() - STALE_TEMP_S - 5
    stale = tmp_path / ".ck.npz.a1b2c3d4.tmp"  # what a SIGKILLed save leaves
    fresh = tmp_path / ".ck.npz.zzzz9999.tmp"  # maybe another process's save in progress
    others = [tmp_path / ".ck.npz.short.tmp", tmp_path / ".other.npz.a1b2c3d4.tmp"]
    for path in [stale, fresh, *others]:
        path.write_bytes(b"partial")
    for path in [stale, *others]:
        os.utime(path, (old_time, old_time))
    checkpoint.save(target, nn.Linear(2, 2, rng=0))
    assert not stale.exists()
    assert fresh.exists() and all(p.exists() for p in others)
    assert remove_stale_temps(target, older_than_s=-1) == [fresh]


@pytest.mark.parametrize("name", ["ck.npz", "a.b.c", "weird[1]*.npz"])
def test_the_pattern_matches_what_atomic_open_itself_creates(tmp_path, name, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_bytes(tmp_path / name, b"x")
    (tmp_path / seen[0]).write_bytes(b"left behind")
    assert remove_stale_temps(tmp_path / name, older_than_s=-1) == [tmp_path / seen[0]]
