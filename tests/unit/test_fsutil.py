"""Crash-safe writes and flock-based locks."""

from __future__ import annotations

import os
import signal
import stat
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


class _FsyncLog:
    """Counts fsyncs by the kind of thing synced (calls go through to the real fsync)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.files = self.dirs = 0
        real = os.fsync

        def fsync(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                self.dirs += 1
            else:
                self.files += 1
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


def test_atomic_write_fsyncs_the_data_but_not_the_directory_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _FsyncLog(monkeypatch)
    atomic_write(tmp_path / "lock", b"1")
    assert (log.files, log.dirs) == (1, 0)  # a lost rename only brings the old file back
    atomic_write(tmp_path / "entry", b"2", sync_dir=True)
    assert (log.files, log.dirs) == (2, 1)
    atomic_write(tmp_path / "scratch", b"3", durable=False)
    assert (log.files, log.dirs) == (2, 1)
    assert (tmp_path / "entry").read_bytes() == b"2"


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 3 * 1024 * 1024 + 5])
def test_create_copy_copies_into_a_new_file_and_returns_its_stat(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "src").write_bytes(data)
    st = fsutil.create_copy(tmp_path / "src", tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == data
    now = (tmp_path / "dst").stat()
    assert (st.st_ino, st.st_size, st.st_mtime_ns) == (now.st_ino, size, now.st_mtime_ns)
    assert now.st_mode & 0o777 == fsutil.DEFAULT_FILE_MODE
    fsutil.create_copy(tmp_path / "src", tmp_path / "ro", 0o444)
    assert (tmp_path / "ro").stat().st_mode & 0o777 == 0o444


def test_create_copy_never_replaces_anything(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"new")
    (tmp_path / "dst").write_bytes(b"precious")
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileExistsError):
        fsutil.create_copy(tmp_path / "src", tmp_path / "dst")
    with pytest.raises(FileExistsError):
        fsutil.create_copy(tmp_path / "src", tmp_path / "dir")
    assert (tmp_path / "dst").read_bytes() == b"precious"
    with pytest.raises(FileNotFoundError):
        fsutil.create_copy(tmp_path / "missing", tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_copy_fd_copies_a_file_that_grew_since_its_stat(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        fsutil.copy_fd(src.fileno(), dst.fileno(), 10)  # the size seen before it grew
    assert (tmp_path / "dst").read_bytes() == data


def test_new_files_get_exactly_the_mode_asked_whatever_the_umask(tmp_path: Path) -> None:
    script = (
        "import os, sys; os.umask(0o077); sys.path.insert(0, sys.argv[2]);"
        "from labrun import fsutil; d = sys.argv[1];"
        "fsutil.write_new(d + '/obj', b'x', 0o444); os.close(fsutil.open_new(d + '/o2', 0o644))"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path), str(REPO)], check=True)
    assert (tmp_path / "obj").stat().st_mode & 0o777 == 0o444
    assert (tmp_path / "o2").stat().st_mode & 0o777 == 0o644
    with pytest.raises(FileExistsError):
        fsutil.write_new(tmp_path / "obj", b"y", 0o444)
    assert (tmp_path / "obj").read_bytes() == b"x"


def test_temporary_names_are_unique_across_threads(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(lambda _: fsutil.tmp_path_for(tmp_path / "f"), range(2000)))
    assert len(set(names)) == 2000
    assert all(os.path.basename(n).startswith(".f.") and n.endswith(".tmp") for n in names)


def test_temporary_names_of_a_forked_child_carry_its_own_pid() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write_end, fsutil.unique_suffix().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    os.close(write_end)
    assert child.startswith(f"{pid:x}")
    assert fsutil.unique_suffix().startswith(f"{os.getpid():x}")


def test_open_read_leaves_the_access_time_alone(tmp_path: Path) -> None:
    path = tmp_path / "fresh"
    path.write_bytes(b"data")
    st = path.stat()
    os.utime(path, ns=(st.st_mtime_ns - 10**11, st.st_mtime_ns))  # relatime would update it
    fd = fsutil.open_read(path)
    try:
        assert os.read(fd, 10) == b"data"
    finally:
        os.close(fd)
    assert path.stat().st_atime_ns == st.st_mtime_ns - 10**11


def test_try_reflink_either_clones_or_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"clone me")
    for name in ("a", "b"):  # the second try may be answered from memory
        if fsutil.try_reflink(tmp_path / "src", tmp_path / name):
            assert (tmp_path / name).read_bytes() == b"clone me"
        else:
            assert not (tmp_path / name).exists()
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "c", "wb") as dst:
        cloned = fsutil.try_reflink_fd(src.fileno(), dst.fileno())
    assert (tmp_path / "c").read_bytes() == (b"clone me" if cloned else b"")


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


def test_key_lock_excludes_the_same_key_only(tmp_path: Path) -> None:
    """Threads (each its own open file description) wait for the same key, not for others."""
    import threading

    order: list[str] = []
    with fsutil.key_lock(tmp_path, "00aa"):

        def other(key: str) -> None:
            with fsutil.key_lock(tmp_path, key):
                order.append(key)

        waiter = threading.Thread(target=other, args=("00aa",))
        waiter.start()
        free = threading.Thread(target=other, args=("00ab",))
        free.start()
        free.join(5)
        assert order == ["00ab"]  # a different key is not held up
        # another descriptor of the same file, opened and closed, must not drop the lock
        os.close(os.open(tmp_path / "keys.lock", os.O_RDWR))
        waiter.join(0.3)
        assert waiter.is_alive() and order == ["00ab"]
        order.append("released")
    waiter.join(5)
    assert order == ["00ab", "released", "00aa"]
    created = sorted(p.name for p in tmp_path.iterdir())
    assert created in (["keys.lock"], ["00aa.lock", "00ab.lock"])  # no file per key on Linux
