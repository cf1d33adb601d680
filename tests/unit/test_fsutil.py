"""Crash-safe writes and flock-based locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labrun import fsutil
from labrun.errors import LabrunError
from labrun.fsutil import FileLock, LockTimeoutError, atomic_copy, atomic_write

REPO = Path(__file__).resolve().parents[2]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_creates_file_with_default_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write(target, b"hello\n")
    assert target.read_bytes() == b"hello\n"
    assert target.stat().st_mode & 0o777 == fsutil.DEFAULT_FILE_MODE
    assert _leftovers(tmp_path) == []


def test_atomic_write_replaces_and_applies_mode(tmp_path: Path) -> None:
    target = tmp_path / "obj"
    target.write_bytes(b"old")
    target.chmod(0o444)
    atomic_write(target, b"new content", mode=0o444, durable=False)
    assert target.read_bytes() == b"new content"
    assert target.stat().st_mode & 0o777 == 0o444


def test_failed_atomic_write_keeps_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_bytes(b"precious")
    with pytest.raises(TypeError):
        atomic_write(target, object())  # type: ignore[arg-type]  # fails mid-write
    assert target.read_bytes() == b"precious"
    assert _leftovers(tmp_path) == []


def test_atomic_copy_copies_bytes_and_mode(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    src.chmod(0o444)
    dst = tmp_path / "dst.bin"
    dst.write_bytes(b"to be replaced")
    atomic_copy(src, dst)
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_mode & 0o777 == fsutil.DEFAULT_FILE_MODE
    atomic_copy(src, tmp_path / "sealed", 0o444, durable=True, clone=True)
    assert (tmp_path / "sealed").stat().st_mode & 0o777 == 0o444
    assert _leftovers(tmp_path) == []


def test_atomic_copy_of_missing_source_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_copy(tmp_path / "nope", tmp_path / "dst")
    assert list(tmp_path.iterdir()) == []


def test_reflink_is_a_clone_or_a_clean_unsupported_error(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_bytes(b"clone me")
    try:
        fsutil.reflink(src, tmp_path / "b")
    except OSError as exc:
        assert exc.errno in fsutil.LINK_UNSUPPORTED
        assert not (tmp_path / "b").exists()
    else:
        assert (tmp_path / "b").read_bytes() == b"clone me"


def test_sync_filesystem_and_fsync_dir_run(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    fsutil.sync_filesystem(tmp_path)
    fsutil.fsync_dir(tmp_path)


# -- locks -------------------------------------------------------------------------

_HOLDER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from labrun.fsutil import FileLock
    lock = FileLock(sys.argv[1], shared=sys.argv[2] == "shared")
    lock.acquire()
    print("locked", flush=True)
    time.sleep(60)
    """
)


def _hold(path: Path, shared: bool) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), "shared" if shared else "exclusive", str(REPO)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def test_exclusive_lock_times_out_while_another_process_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = _hold(path, shared=False)
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as err, FileLock(path, timeout=0.2):
            pass
        assert time.monotonic() - started >= 0.2
        assert isinstance(err.value, LabrunError)
        assert str(path) in str(err.value)
        with pytest.raises(LockTimeoutError), FileLock(path, shared=True, timeout=0):
            pass
    finally:
        _stop(proc)


def test_shared_locks_coexist_but_exclude_writers(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = _hold(path, shared=True)
    try:
        with FileLock(path, shared=True, timeout=0) as lock:
            assert lock.is_locked
        with pytest.raises(LockTimeoutError), FileLock(path, timeout=0):
            pass
    finally:
        _stop(proc)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = _hold(path, shared=False)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()
    with FileLock(path, timeout=2) as lock:
        assert lock.is_locked
    assert path.exists()  # the file stays; only the kernel lock mattered


def test_two_lock_objects_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with FileLock(path), pytest.raises(LockTimeoutError), FileLock(path, timeout=0):
        pass
    with FileLock(path, timeout=0):
        pass


def test_lock_waits_until_released(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = _hold(path, shared=False)
    try:
        waiter = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, sys.argv[2]);"
                "from labrun.fsutil import FileLock;"
                "FileLock(sys.argv[1], timeout=30).acquire(); print('got it')",
                str(path),
                str(REPO),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.1)
        assert waiter.poll() is None  # still waiting
    finally:
        _stop(proc)
    out, _ = waiter.communicate(timeout=30)
    assert out.strip() == "got it"


def test_release_is_idempotent_and_reacquire_works(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "lock", timeout=0)
    lock.release()
    lock.acquire()
    with pytest.raises(RuntimeError):
        lock.acquire()
    lock.release()
    lock.release()
    assert not lock.is_locked
