"""Crash-safe file writes and OS-level locks.

Every file labrun writes goes through :func:`atomic_write` or :func:`atomic_copy`:
the data lands in a temporary file in the destination's directory and is renamed
over the destination, so a reader (or a crash) sees the old content or the new
one, never half of it.

What survives a power cut is chosen per call:

- ``durable=True`` (the default for ``atomic_write``) fsyncs the file before the
  rename. Without it a crash soon after the rename may leave the *new name* with
  empty or partial content (ext4 and xfs allocate blocks lazily, and a rename
  does not wait for them), which is worse than either version.
- ``sync_dir=True`` also fsyncs the directory after the rename, so that the
  rename itself has reached the disk when the call returns. Only writes whose
  loss after a crash nobody would notice or repair need it (a queue entry the
  user was told is queued, say). For most of labrun's files a lost rename is
  harmless: the old ``dvc.lock`` comes back and the stage looks stale, so it runs
  again; the old ``.dvc`` file comes back and ``add`` is repeated. Each directory
  fsync costs a journal commit, so the default leaves it out.

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
import itertools
import os
import time
from collections.abc import Callable, Iterator
from types import TracebackType

from labrun.errors import LabrunError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

StrPath = str | os.PathLike[str]

_UMASK = os.umask(0)
os.umask(_UMASK)
#: Mode a plain new file gets (what ``open(path, "w")`` would give).
DEFAULT_FILE_MODE = 0o666 & ~_UMASK


class LockTimeoutError(LabrunError):
    """A lock could not be taken before the timeout ran out."""


_UNIQUE = itertools.count()
_RANDOM = os.urandom(3).hex()
_pid = [os.getpid()]  # os.getpid() is a system call: refreshed after a fork instead
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def unique_suffix() -> str:
    """A name part no other call, thread or process uses at the same time.

    The pid tells processes apart, the counter calls within one, and a random
    part processes that reuse a pid (cheaper than a uuid4 per name).

    >>> unique_suffix() != unique_suffix()
    True
    """
    return f"{_pid[0]:x}{_RANDOM}{next(_UNIQUE):x}"


def tmp_path_for(path: StrPath) -> str:
    """Return a fresh hidden temporary name in the same directory as *path*.

    >>> tmp_path_for("/a/b.txt").startswith("/a/.b.txt.")
    True
    """
    head, tail = os.path.split(os.fspath(path))
    return os.path.join(head, f".{tail}.{unique_suffix()}.tmp")


_NOATIME = getattr(os, "O_NOATIME", 0)
_read_flags = [os.O_RDONLY | os.O_CLOEXEC | _NOATIME]


def open_read(path: StrPath) -> int:
    """Open a file for reading, without updating its access time where allowed; its fd.

    A file read for the first time since it was written (a fresh copy, say) has
    its access time updated under ``relatime``: one inode write, through the
    journal, per file, 70,000 of them when a tree is added. Only a file's owner
    may skip that: after the first refusal this opens plainly for good.
    """
    try:
        return os.open(path, _read_flags[0])
    except PermissionError as exc:
        if exc.errno != errno.EPERM or not _read_flags[0] & _NOATIME:
            raise
    _read_flags[0] &= ~_NOATIME
    return os.open(path, _read_flags[0])


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


def write_all(fd: int, data: bytes | memoryview) -> None:
    """``os.write`` until every byte of *data* is written."""
    done = os.write(fd, data)
    if done < len(data):  # rare with regular files: only then pay for a view
        view = memoryview(data)[done:]
        while view:
            view = view[os.write(fd, view) :]


def atomic_write(
    path: StrPath,
    data: bytes,
    mode: int | None = None,
    *,
    durable: bool = True,
    sync_dir: bool = False,
) -> None:
    """Replace *path* with *data* atomically (temp file, fsync, ``os.replace``).

    *mode* defaults to a plain new file's mode (``0o666 & ~umask``). ``durable``
    fsyncs the data before the rename; ``sync_dir`` fsyncs the directory after
    it (see the module docstring for when each matters).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write(p, b"hello\\n", mode=0o444)
    >>> p.read_bytes(), oct(p.stat().st_mode & 0o777)
    (b'hello\\n', '0o444')
    """
    dst = os.fspath(path)
    tmp = tmp_path_for(dst)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            write_all(fd, data)
            os.fchmod(fd, DEFAULT_FILE_MODE if mode is None else mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dst)
    except BaseException:
        _discard(tmp)
        raise
    if sync_dir:
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
        if not (clone and try_reflink(src, tmp)):
            import shutil  # not at start-up: it imports bz2 and lzma

            shutil.copyfile(os.fspath(src), tmp)
        os.chmod(tmp, DEFAULT_FILE_MODE if mode is None else mode)
        if durable:
            fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


_SMALL_COPY = 1 << 16  # bytes: below this one read + one write beat the kernel copy set-up


def copy_fd(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy a file's bytes from *src_fd* to *dst_fd* (positions at 0), in the kernel when
    it pays; *size* is what ``fstat`` said (a file that grew meanwhile is copied whole)."""
    if size < _SMALL_COPY:
        data = os.read(src_fd, size + 1)
        if len(data) <= size:
            write_all(dst_fd, data)
            return
        write_all(dst_fd, data)  # it grew: carry on with the rest
    while os.sendfile(dst_fd, src_fd, None, 1 << 30):
        pass


def create_copy(src: StrPath, dst: StrPath, mode: int | None = None) -> os.stat_result:
    """Copy *src* to *dst*, which must not exist (``FileExistsError``); no temp file.

    For workspace files that did not exist: a crash leaves a partial file where
    there was none, which the next checkout sees as changed. Returns the new
    file's ``fstat`` (its mtime is final once the last byte is written).
    """
    src_fd = open_read(src)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        dst_fd = os.open(os.fspath(dst), flags, 0o666)
        try:
            copy_fd(src_fd, dst_fd, os.fstat(src_fd).st_size)
            if mode is not None:
                os.fchmod(dst_fd, mode)
            return os.fstat(dst_fd)
        except BaseException:
            _discard(os.fspath(dst))
            raise
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


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
    if not _can_clone():
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


# Where clones failed: target devices whose filesystem cannot clone at all, and
# (source device, target device) pairs that failed for another reason (EXDEV...).
_NO_REFLINK_TO: set[int] = set()
_NO_REFLINK: set[tuple[int, int]] = set()
_FS_WIDE = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTTY, errno.ENOSYS})
_dir_devices: dict[str, int] = {}


def _device_of_dir(folder: str) -> int:
    device = _dir_devices.get(folder)
    if device is None:
        device = _dir_devices[folder] = os.stat(folder).st_dev
    return device


def _remember_no_reflink(exc: OSError, pair: tuple[int, int]) -> None:
    if exc.errno not in LINK_UNSUPPORTED:
        raise exc
    if exc.errno in _FS_WIDE:
        _NO_REFLINK_TO.add(pair[1])
    else:
        _NO_REFLINK.add(pair)


def try_reflink(src: StrPath, dst: StrPath) -> bool:
    """Clone *src* to the new file *dst* if the filesystem can; False (and *dst* not
    created) if it cannot. Failures are remembered, so the next try costs no system call.
    """
    try:
        target = _device_of_dir(os.path.dirname(os.fspath(dst)) or ".")
        pair = (-1 if target in _NO_REFLINK_TO else os.stat(src).st_dev, target)
    except OSError:
        return False  # let the plain copy report the problem
    if target in _NO_REFLINK_TO or pair in _NO_REFLINK:
        return False
    try:
        reflink(src, dst)
    except OSError as exc:
        _remember_no_reflink(exc, pair)
        return False
    return True


def try_reflink_fd(src_fd: int, dst_fd: int) -> bool:
    """Make the empty file *dst_fd* a clone of *src_fd* if the filesystem can."""
    pair = (os.fstat(src_fd).st_dev, os.fstat(dst_fd).st_dev)
    if pair[1] in _NO_REFLINK_TO or pair in _NO_REFLINK or not _can_clone():
        return False
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
    except OSError as exc:
        _remember_no_reflink(exc, pair)
        return False
    return True


@functools.cache
def _can_clone() -> bool:
    return hasattr(fcntl, "ioctl") and os.uname().sysname == "Linux"


def open_new(path: StrPath, mode: int) -> int:
    """Create *path* (which must not exist) for writing, with exactly *mode*; its fd.

    The umask is the one read when this module was imported (as for
    :data:`DEFAULT_FILE_MODE`): labrun never changes it.
    """
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    if mode & _UMASK:  # the umask took bits away: put them back
        try:
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
    return fd


def write_new(path: StrPath, data: bytes, mode: int) -> None:
    """Create *path* (which must not exist) with *data* and exactly *mode*; not fsynced."""
    fd = open_new(path, mode)
    try:
        write_all(fd, data)
    except BaseException:
        _discard(os.fspath(path))
        raise
    finally:
        os.close(fd)


def fsync_file(path: StrPath) -> None:
    """Flush one file's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _libc() -> Any:
    import ctypes  # only paid by the few commands that write many objects or big ones

    try:
        return ctypes.CDLL(None, use_errno=True)  # libc is already mapped in the process
    except OSError:
        return None


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    func: Callable[[int], int] | None = getattr(_libc(), "syncfs", None)
    return func


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    import ctypes

    func = getattr(_libc(), "sync_file_range", None)
    if func is None:
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    typed: Callable[[int, int, int, int], int] = func
    return typed


_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a just-written range of *fd* to disk, without
    waiting (Linux ``sync_file_range``; nothing elsewhere).

    While a big file is being written, this keeps the disk busy from the start,
    so the final fsync has only the tail left to wait for.
    """
    func = _sync_file_range()
    if func is not None:
        func(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


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


_OFD_SETLKW: int | None = getattr(fcntl, "F_OFD_SETLKW", None)  # Linux 3.15+


@contextlib.contextmanager
def key_lock(folder: StrPath, key: str) -> Iterator[None]:
    """Hold an exclusive lock named *key* (hex digits) among all processes using *folder*.

    On Linux, every key is one byte of the same file, ``folder/keys.lock``, locked
    with an open-file-description lock (``F_OFD_SETLKW``): no file is created per key,
    and closing another descriptor of the file does not drop it (as it would a
    POSIX record lock). Elsewhere each key gets its own lock file.

        >>> import tempfile
        >>> with key_lock(tempfile.mkdtemp(), "0a1b2c"):
        ...     pass
    """
    if _OFD_SETLKW is None:
        with FileLock(os.path.join(folder, key + ".lock")):
            yield
        return
    import struct

    offset = int(key[:15], 16)  # 60 bits: distinct runs share a byte once in ~10**18
    fd = os.open(os.path.join(folder, "keys.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (0, as OFD locks require)
        fcntl.fcntl(
            fd, _OFD_SETLKW, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0)
        )
        yield
    finally:
        os.close(fd)  # drops the lock: it belongs to this open file description only


__all__ = [
    "DEFAULT_FILE_MODE",
    "LINK_UNSUPPORTED",
    "FileLock",
    "LockTimeoutError",
    "atomic_copy",
    "atomic_write",
    "copy_fd",
    "create_copy",
    "fsync_dir",
    "fsync_file",
    "key_lock",
    "open_new",
    "open_read",
    "reflink",
    "start_writeback",
    "sync_filesystem",
    "tmp_path_for",
    "try_reflink",
    "try_reflink_fd",
    "unique_suffix",
    "write_all",
    "write_new",
]
