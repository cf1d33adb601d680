"""Crash-safe file writes and OS-level locks.

Every file labrun writes goes through :func:`atomic_write` or :func:`atomic_copy`:
the data lands in a temporary file in the destination's directory and is renamed
over the destination, so a reader (or a crash) sees the old content or the new
one, never half of it. With ``durable=True`` (the default for ``atomic_write``)
the file and its directory are fsynced too, so the new content survives a power
cut once the call returns.

:class:`FileLock` wraps ``fcntl.flock``. The kernel drops a flock when the
process holding it dies, so a crash can never leave a stale lock behind; the
lock file itself is left on disk on purpose (unlinking it would let two
processes lock two different inodes under one name).

This module imports nothing from labrun except :mod:`labrun.errors`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import shutil
import time
import uuid
from collections.abc import Callable
from types import TracebackType

from labrun.errors import LabrunError

StrPath = str | os.PathLike[str]

_UMASK = os.umask(0)
os.umask(_UMASK)
#: Mode a plain new file gets (what ``open(path, "w")`` would give).
DEFAULT_FILE_MODE = 0o666 & ~_UMASK


class LockTimeoutError(LabrunError):
    """A lock could not be taken before the timeout ran out."""


def tmp_path_for(path: StrPath) -> str:
    """Return a fresh hidden temporary name in the same directory as *path*.

    >>> tmp_path_for("/a/b.txt").startswith("/a/.b.txt.")
    True
    """
    head, tail = os.path.split(os.fspath(path))
    return os.path.join(head, f".{tail}.{uuid.uuid4().hex[:12]}.tmp")


def fsync_dir(path: StrPath) -> None:
    """Flush a directory's entries (renames, creations) to disk."""
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def atomic_write(
    path: StrPath, data: bytes, mode: int | None = None, *, durable: bool = True
) -> None:
    """Replace *path* with *data* atomically (temp file + fsync + ``os.replace``).

    *mode* defaults to a plain new file's mode (``0o666 & ~umask``).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write(p, b"hello\\n", mode=0o444)
    >>> p.read_bytes(), oct(p.stat().st_mode & 0o777)
    (b'hello\\n', '0o444')
    """
    dst = os.fspath(path)
    tmp = tmp_path_for(dst)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, DEFAULT_FILE_MODE if mode is None else mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dst)
    except BaseException:
        _discard(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(dst) or ".")


def atomic_copy(
    src: StrPath,
    dst: StrPath,
    mode: int | None = None,
    *,
    durable: bool = False,
    clone: bool = False,
) -> None:
    """Copy *src* over *dst* atomically; the copy gets *mode* or a new file's mode.

    With ``clone=True`` a copy-on-write clone (:func:`reflink`) is tried first.
    Unlike :func:`atomic_write` this does not fsync by default: copies made on
    checkout can always be recreated from the cache.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "a").write_bytes(b"1")
    1
    >>> atomic_copy(d / "a", d / "b"); (d / "b").read_bytes()
    b'1'
    """
    target = os.fspath(dst)
    tmp = tmp_path_for(target)
    try:
        if not (clone and _try_reflink(os.fspath(src), tmp)):
            shutil.copyfile(os.fspath(src), tmp)
        os.chmod(tmp, DEFAULT_FILE_MODE if mode is None else mode)
        if durable:
            fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(target) or ".")


#: errnos meaning "this kind of link is not possible here", not a real failure
LINK_UNSUPPORTED = frozenset(
    {
        errno.EPERM,
        errno.ENOTSUP,
        errno.EOPNOTSUPP,
        errno.EXDEV,
        errno.ENOTTY,
        errno.ENOSYS,
        errno.EINVAL,
        errno.EAGAIN,
    }
)
_FICLONE = 0x40049409  # Linux ioctl: share src's extents with dst (btrfs, xfs, ...)


def reflink(src: StrPath, dst: StrPath) -> None:
    """Create *dst* as a copy-on-write clone of *src*; OSError if unsupported.

    *dst* must not exist. Only Linux's ``FICLONE`` is implemented; elsewhere this
    raises ``OSError(ENOTSUP)``.
    """
    if not hasattr(fcntl, "ioctl") or os.uname().sysname != "Linux":
        raise OSError(errno.ENOTSUP, "reflink is not supported on this system")
    src_fd = os.open(os.fspath(src), os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst_fd = os.open(os.fspath(dst), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        except OSError:
            os.close(dst_fd)
            _discard(os.fspath(dst))
            raise
        os.close(dst_fd)
    finally:
        os.close(src_fd)


_NO_REFLINK: set[tuple[int, int]] = set()  # (source device, target device) pairs that failed


def _try_reflink(src: str, dst: str) -> bool:
    """Clone if the filesystem can; a failure is remembered per pair of devices."""
    try:
        devices = (os.stat(src).st_dev, os.stat(os.path.dirname(dst) or ".").st_dev)
    except OSError:
        devices = (-1, -1)
    if devices in _NO_REFLINK:
        return False
    try:
        reflink(src, dst)
    except OSError as exc:
        if exc.errno not in LINK_UNSUPPORTED:
            raise
        _NO_REFLINK.add(devices)
        return False
    return True


def fsync_file(path: StrPath) -> None:
    """Flush one file's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    import ctypes  # only paid by the few commands that write many objects

    try:
        libc = ctypes.CDLL(None, use_errno=True)  # libc is already mapped in the process
    except OSError:
        return None
    func: Callable[[int], int] | None = getattr(libc, "syncfs", None)
    return func


def sync_filesystem(path: StrPath) -> None:
    """Flush every dirty file of the filesystem holding *path* (``syncfs``).

    One call is far cheaper than one fsync per file when thousands of files
    were just written; falls back to a global ``os.sync()`` where ``syncfs``
    is unavailable.
    """
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


class FileLock:
    """An ``flock``-based lock on *path*, shared or exclusive, with a timeout.

    ``timeout=None`` waits forever, ``0`` fails at once. The lock file is
    created if needed and never deleted. Locks are per open file description,
    so two ``FileLock`` objects exclude each other even inside one process.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "lock")
    >>> with FileLock(path, shared=True), FileLock(path, shared=True, timeout=0):
    ...     pass  # two readers at once are fine
    """

    _POLL_SECONDS = 0.02

    def __init__(self, path: StrPath, *, shared: bool = False, timeout: float | None = None):
        self.path = os.fspath(path)
        self.shared = shared
        self.timeout = timeout
        self._fd: int | None = None

    @property
    def is_locked(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, polling until ``timeout``; raise :class:`LockTimeoutError`."""
        if self._fd is not None:
            raise RuntimeError(f"lock '{self.path}' is already held by this object")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            self._wait_for(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _wait_for(self, fd: int) -> None:
        op = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, op)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if deadline is not None and time.monotonic() >= deadline:
                kind = "shared" if self.shared else "exclusive"
                raise LockTimeoutError(
                    f"could not take the {kind} lock '{self.path}' within {self.timeout} s",
                    hint="another labrun process is using the project; wait for it to finish",
                )
            time.sleep(self._POLL_SECONDS)

    def release(self) -> None:
        """Drop the lock (a no-op when not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


__all__ = [
    "DEFAULT_FILE_MODE",
    "LINK_UNSUPPORTED",
    "FileLock",
    "LockTimeoutError",
    "atomic_copy",
    "atomic_write",
    "fsync_dir",
    "fsync_file",
    "reflink",
    "sync_filesystem",
    "tmp_path_for",
]
