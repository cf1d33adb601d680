"""Object stores: content addressed by md5, laid out like DVC's cache.

``<cache>/files/md5/ab/cdef…`` holds DVC 3 objects (``….dir`` for manifests);
``<cache>/ab/cdef…`` holds DVC 2.x (legacy) ones, read for legacy records.

Objects are read-only (``0444``, as DVC leaves them), and the mode doubles as
a seal: an object whose mode is exactly ``0444`` is trusted without reading
it; any other mode means it may be unfinished or edited through a link, so it
is re-hashed, re-sealed if intact and deleted if not.

Crash safety. An object is written, sealed, under a temporary name and
renamed to its real name afterwards, so that no reader ever sees half of it.
After a power cut, though, a file renamed before its data reached the disk
can come back empty or cut short (ext4 and xfs allocate its blocks lazily),
and the seal would hide that. So an object bigger than one block is flushed
before its rename: one fsync each, or one ``syncfs`` for a large batch
(thousands of fsyncs would each wait for a journal commit). An object of one
block or less is whole or empty after a crash, and an empty object is
recognised as torn (see :meth:`LocalObjectStore._publish`). The directories
are *not* fsynced after the renames: a rename lost in a crash only means the
object is missing, which status reports ("not in cache") and the next commit
repairs, as the workspace still holds the data. DVC fsyncs nothing at all. A
crash before a rename leaves a hidden ``.….tmp`` file behind, which nothing
reads.

    >>> store = MemoryObjectStore()
    >>> store.add("5d41402abc4b2a76b9719d911017c592", b"hello")
    True
    >>> store.exists("5d41402abc4b2a76b9719d911017c592")
    True
"""

from __future__ import annotations

import contextlib
import errno
import io
import operator
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from labrun import fsutil
from labrun.cache.hashing import (
    CHUNK,
    EMPTY_FILE_MD5,
    Manifest,
    file_hasher,
    md5_bytes,
    md5_copy,
    md5_fd,
    md5_fd_overlapped,
    md5_file_legacy,
    read_small,
)
from labrun.cache.workers import FileItem, map_files, paused_gc
from labrun.errors import LabrunError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO, Protocol
else:
    Protocol = object  # a Protocol is a plain base class at run time

StrPath = str | os.PathLike[str]
PROTECTED_MODE = 0o444
_OID_NAME = r"^[0-9a-f]{30}(\.dir)?$"  # compiled when the cache is listed (re caches it)
_PREFIX = r"^[0-9a-f]{2}$"
_PREFIX_OF = operator.itemgetter(slice(2))
_WHOLE = 4 * CHUNK  # files up to this size are read into memory in one go when stored
_Pending = tuple[str, str, int]  # (a sealed temporary file, the object path it goes to, size)
_WRITE_BACK_EVERY = 32 * CHUNK  # bytes of a big object written before asking for write-back
_ONE_BLOCK = 4096  # bytes: objects up to this size are whole or empty after a crash
_SYNCFS_ABOVE = 256  # files; one syncfs beats that many fsyncs (but flushes everyone's data)
_KERNEL_COPY_ABOVE = 8 * CHUNK  # bytes: below this a second thread is not worth starting
_KERNEL_COPY_PIECE = 8 * CHUNK  # bytes copied before the hashing starts (a probe)
_KERNEL_COPY_STEP = 64 * CHUNK  # bytes per copy call after it: a stop request waits no longer


class ObjectNotFoundError(LabrunError):
    """An object is not in the store (or was corrupt and has been dropped)."""


class ObjectStore(Protocol):
    """Where objects live, addressed by ``oid`` (md5 hex, ``.dir`` for manifests).

    ``legacy=True`` addresses the DVC 2.x namespace (different algorithm,
    different place). Adding is idempotent: an object already present is kept.

    Example:

        >>> def keep(store: ObjectStore, data: bytes) -> str:
        ...     from labrun.cache.hashing import md5_bytes
        ...     oid = md5_bytes(data)
        ...     store.add(oid, data)
        ...     return oid
    """

    def exists(self, oid: str, *, legacy: bool = False) -> bool:
        """Whether an intact object is stored under *oid*."""

    def add(self, oid: str, source: bytes | StrPath, *, legacy: bool = False) -> bool:
        """Store *source* (content, or a file to copy) as *oid*; False if already there.

        The caller vouches that *oid* is the hash of *source*.
        """

    def add_many(self, items: Iterable[tuple[str, StrPath]], *, legacy: bool = False) -> int:
        """Store many ``(oid, file)`` pairs at once; return how many were new."""

    def missing(self, oids: Iterable[str], *, legacy: bool = False) -> set[str]:
        """The oids among *oids* that have no object here (by name: an object that is
        there counts, sealed or not; :meth:`exists` verifies an unsealed one)."""

    def ingest(self, source: StrPath, *, legacy: bool = False) -> str:
        """Hash the file *source* and store it; return its oid.

        The store vouches for the oid: it names the bytes that were stored.
        """

    def ingest_many(self, items: Sequence[FileItem], *, legacy: bool = False) -> list[str]:
        """:meth:`ingest` for many ``(path, size)`` pairs; the oids, in order."""

    def open(self, oid: str, *, legacy: bool = False) -> BinaryIO:
        """Read an object; :class:`ObjectNotFoundError` if absent."""

    def path_of(self, oid: str, *, legacy: bool = False) -> str | None:
        """The object's file, for stores that have files (else None)."""

    def iter_oids(self, *, legacy: bool = False) -> Iterator[str]:
        """Every oid stored in one namespace, in no particular order."""


def read_manifest(store: ObjectStore, oid: str, *, legacy: bool = False) -> Manifest:
    """Load the ``.dir`` manifest *oid* from *store*."""
    with store.open(oid, legacy=legacy) as fobj:
        data = fobj.read()
    return Manifest.from_bytes(data, where=store.path_of(oid, legacy=legacy) or oid)


def add_tree(store: ObjectStore, root: StrPath, manifest: Manifest, *, legacy: bool = False) -> int:
    """Store every file of a hashed directory, then its manifest; return objects added.

    The manifest goes last, so a manifest in the store implies its files are too.
    """
    base = os.fspath(root)
    files = ((md5, os.path.join(base, rel)) for rel, md5 in manifest)
    added = store.add_many(files, legacy=legacy)
    return added + store.add(manifest.oid, manifest.to_bytes(), legacy=legacy)


def _not_found(oid: str, where: str) -> ObjectNotFoundError:
    return ObjectNotFoundError(
        f"object '{oid}' is not in the cache '{where}'",
        hint="commit the data again, or fetch it from a remote",
    )


class LocalObjectStore:
    """A DVC-compatible cache directory (``.dvc/cache`` by default).

    ``shared=True`` mirrors ``cache.shared = group`` (group-writable folders).
    ``durable=False`` skips fsync: only for caches nobody minds losing.
    Safe to share between threads.
    """

    def __init__(self, root: StrPath, *, shared: bool = False, durable: bool = True) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.shared = shared
        self.durable = durable
        self._known_dirs: set[str] = set()
        self._bases = (os.path.join(self.root, "files", "md5", ""), os.path.join(self.root, ""))

    def __repr__(self) -> str:
        return f"LocalObjectStore({self.root!r})"

    def _base(self, legacy: bool) -> str:
        return self._bases[legacy][:-1]

    def path_of(self, oid: str, *, legacy: bool = False) -> str:
        """``<root>/files/md5/ab/cdef…`` (legacy: ``<root>/ab/cdef…``)."""
        return f"{self._bases[legacy]}{oid[:2]}{os.sep}{oid[2:]}"  # called per file: no join

    def _makedirs(self, folder: str) -> None:
        if folder in self._known_dirs:
            return
        os.makedirs(folder, exist_ok=True)
        if self.shared:
            os.chmod(folder, 0o2775)
        self._known_dirs.add(folder)

    # -- reading ---------------------------------------------------------------------

    def exists(self, oid: str, *, legacy: bool = False) -> bool:
        """True for a sealed object, or an unsealed one whose content still matches."""
        path = self.path_of(oid, legacy=legacy)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        if st.st_size == 0 and oid[:32] != EMPTY_FILE_MD5:
            return False  # torn by a crash (see _publish), or being written: replaced when added
        return stat.S_IMODE(st.st_mode) == PROTECTED_MODE or self._verify(oid, path, legacy)

    def _verify(self, oid: str, path: str, legacy: bool) -> bool:
        actual = file_hasher(legacy)(path, None)
        if actual != oid.split(".", 1)[0]:
            os.unlink(path)  # corrupt: as good as missing
            return False
        with contextlib.suppress(OSError):  # a foreign filesystem: usable, re-verified
            os.chmod(path, PROTECTED_MODE)
        return True

    @paused_gc()
    def missing(self, oids: Iterable[str], *, legacy: bool = False) -> set[str]:
        """The oids without an object here, found by listing the prefix folders.

        One listing per folder instead of one ``stat`` per object (70,000 objects
        of a tree: a few hundred system calls, not 70,000), unless a folder holds
        many more objects than are asked about. Names only: an unsealed object
        counts as present, and :meth:`exists` verifies it before it is used.
        """
        wanted = set(oids)
        base = self._bases[legacy]
        present: set[str] = set()
        stat_each: set[str] = set()
        for prefix, count in Counter(map(_PREFIX_OF, wanted)).items():
            names = _listing(base + prefix, count)
            if names is None:
                stat_each.add(prefix)
            else:
                present.update(map(prefix.__add__, names))
        absent = wanted - present
        if stat_each:
            absent -= {o for o in absent if o[:2] in stat_each and self.exists(o, legacy=legacy)}
        return absent

    def open(self, oid: str, *, legacy: bool = False) -> BinaryIO:
        """Open the object for reading; :class:`ObjectNotFoundError` if absent."""
        try:
            return open(self.path_of(oid, legacy=legacy), "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(oid, self.root) from None

    def iter_oids(self, *, legacy: bool = False) -> Iterator[str]:
        """Every oid in one namespace (temporary files skipped)."""
        base = self._base(legacy)
        try:
            prefixes = [e for e in os.scandir(base) if re.match(_PREFIX, e.name) and e.is_dir()]
        except FileNotFoundError:
            return
        for prefix in prefixes:
            for entry in os.scandir(prefix.path):
                if re.match(_OID_NAME, entry.name):
                    yield prefix.name + entry.name

    # -- storing what is already hashed ----------------------------------------------

    def add(self, oid: str, source: bytes | StrPath, *, legacy: bool = False) -> bool:
        """Store one object durably and seal it; False if it was already there."""
        if self.exists(oid, legacy=legacy):
            return False
        dst = self.path_of(oid, legacy=legacy)
        self._makedirs(os.path.dirname(dst))
        if isinstance(source, bytes):
            # fsynced before the rename; the directory is not (see the module docstring)
            fsutil.atomic_write(dst, source, PROTECTED_MODE, durable=self.durable)
        else:
            self._publish([self._copy_in((os.fspath(source), dst))])
        return True

    def add_many(self, items: Iterable[tuple[str, StrPath]], *, legacy: bool = False) -> int:
        """Store many files: copy all, flush the filesystem once, then rename them all."""
        todo: dict[str, str] = {}
        for oid, source in items:
            if oid not in todo and not self.exists(oid, legacy=legacy):
                todo[oid] = os.fspath(source)
        jobs = [(source, self.path_of(oid, legacy=legacy)) for oid, source in todo.items()]
        pending: list[_Pending] = []
        try:
            for job in jobs:  # on one thread: see labrun.cache.workers
                pending.append(self._copy_in(job))
        except BaseException:
            _discard_all(pending)
            raise
        self._publish(pending)
        return len(pending)

    def _copy_in(self, job: tuple[str, str]) -> _Pending:
        """Copy (or clone) a file beside its object path, sealed; the caller publishes it."""
        source, dst = job
        self._makedirs(os.path.dirname(dst))
        tmp = fsutil.tmp_path_for(dst)
        if not fsutil.try_reflink(source, tmp):
            return tmp, dst, fsutil.create_copy(source, tmp, PROTECTED_MODE).st_size
        try:
            os.chmod(tmp, PROTECTED_MODE)
            return tmp, dst, os.stat(tmp).st_size
        except BaseException:
            _discard(tmp)
            raise

    # -- storing while hashing -------------------------------------------------------

    def ingest(self, source: StrPath, *, legacy: bool = False) -> str:
        """Hash *source* while storing it (its bytes are read once); return its oid.

        A big file is copied into a temporary file of the store as it is hashed
        (or cloned first, where the filesystem can; or, when it has not changed
        lately, copied by the kernel beside the hashing), then renamed to its oid.
        """
        path = os.fspath(source)
        if legacy:  # 2.x hashes are not the md5 of the bytes stored: two passes
            oid = md5_file_legacy(path)
            self.add(oid, path, legacy=True)
            return oid
        batch = _Batch()
        oid = self._ingest_one(path, os.stat(path).st_size, batch)
        self._publish(batch.pending)
        return oid

    def ingest_many(self, items: Sequence[FileItem], *, legacy: bool = False) -> list[str]:
        """:meth:`ingest` many ``(path, size)`` pairs, on threads, with one flush at the end."""
        if legacy:
            oids = map_files(lambda path, _size: md5_file_legacy(path), items)
            self.add_many(zip(oids, [path for path, _ in items], strict=True), legacy=True)
            return oids
        batch = _Batch()
        try:
            oids = map_files(lambda path, size: self._ingest_one(path, size, batch), items)
        except BaseException:
            _discard_all(batch.pending)
            raise
        self._publish(batch.pending)
        return oids

    def _ingest_one(self, path: str, size: int, batch: _Batch) -> str:
        """Store one file unless its object exists or is in the batch already."""
        if size > _WHOLE:
            return self._ingest_stream(path, batch)
        fd = fsutil.open_read(path)
        try:
            data = read_small(fd, size)
        finally:
            os.close(fd)
        oid = md5_bytes(data)
        if len(data) <= _ONE_BLOCK and self._put_small(oid, data):
            return oid
        if not self.exists(oid) and batch.claim(oid):
            dst = self.path_of(oid)
            self._makedirs(os.path.dirname(dst))
            tmp = fsutil.tmp_path_for(dst)
            fsutil.write_new(tmp, data, PROTECTED_MODE)
            batch.pending.append((tmp, dst, len(data)))
        return oid

    def _put_small(self, oid: str, data: bytes) -> bool:
        """Write a one-block object straight under its name, sealed; False if an
        object is in the way that :meth:`exists` does not accept (it is replaced).

        No temporary name and no flush: a one-block file is seen (by a reader,
        or after a crash) either empty, which :meth:`exists` takes for absent,
        or whole. That saves a third of the system calls of storing a small file.
        """
        folder = self._bases[False] + oid[:2]  # path_of, without splitting it again
        self._makedirs(folder)
        try:
            fsutil.write_new(f"{folder}{os.sep}{oid[2:]}", data, PROTECTED_MODE)
        except FileExistsError:
            return self.exists(oid)
        return True

    def _ingest_stream(self, path: str, batch: _Batch) -> str:
        base = self._base(False)
        self._makedirs(base)
        tmp = os.path.join(base, f".{fsutil.unique_suffix()}.tmp")  # oid unknown until read
        src_fd = fsutil.open_read(path)
        try:
            dst_fd = fsutil.open_new(tmp, PROTECTED_MODE)
            try:
                oid = _fill(src_fd, dst_fd, self.durable)
                size = os.fstat(dst_fd).st_size
            except BaseException:
                _discard(tmp)
                raise
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)
        if self.exists(oid) or not batch.claim(oid):
            _discard(tmp)
        else:
            dst = self.path_of(oid)
            self._makedirs(os.path.dirname(dst))
            batch.pending.append((tmp, dst, size))
        return oid

    def _publish(self, pending: Sequence[_Pending]) -> None:
        """Get the sealed temporary files to disk, then rename them to their oids.

        Objects of one block or less are not flushed. On a journaling filesystem
        (ext4's default ``data=ordered``, xfs) a block and the file size that
        covers it reach the disk together, so after a crash such an object is
        either whole or empty, and :meth:`exists` drops an empty object whose oid
        is not the empty file's. A bigger object could come back cut short, which
        nothing short of reading it would tell: those are flushed before their
        rename. (A tree of 70,000 small files is thus stored without waiting for
        the disk at all.)
        """
        if not pending:
            return
        try:
            big = [tmp for tmp, _dst, size in pending if size > _ONE_BLOCK]
            if big and self.durable:
                _flush(big, self.root)
            for tmp, dst, _size in pending:
                os.replace(tmp, dst)
        except BaseException:
            _discard_all(pending)
            raise


class _Batch:
    """Objects written by one ingest, waiting to be published (shared by its threads)."""

    def __init__(self) -> None:
        self.pending: list[_Pending] = []
        self._claimed: set[str] = set()

    def claim(self, oid: str) -> bool:
        """True for the first file of the batch with this oid (the one to store)."""
        if oid in self._claimed:
            return False
        self._claimed.add(oid)
        return True


_LIST_AT_LEAST = 8  # oids asked about in one prefix folder before listing it pays
_LIST_AT_MOST = 16  # names listed per oid asked about, at most (else: one stat each)
_DIRENT_BYTES = 40  # what one object's entry takes in a folder (ext4: 8 + 30 name bytes)


def _listing(folder: str, wanted: int) -> set[str] | None:
    """The names in *folder* (empty if it does not exist), or None when a stat per
    object is cheaper (few asked about, or a folder far bigger than what is asked)."""
    if wanted < _LIST_AT_LEAST:
        return None
    try:
        if os.stat(folder).st_size > wanted * _LIST_AT_MOST * _DIRENT_BYTES:
            return None
        return set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return set()


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _discard_all(pending: Iterable[_Pending]) -> None:
    for tmp, _dst, _size in pending:
        _discard(tmp)


def _fill(src_fd: int, dst_fd: int, durable: bool) -> str:
    """Clone or copy *src_fd* into *dst_fd*; the md5 of the bytes stored."""
    if fsutil.try_reflink_fd(src_fd, dst_fd):
        return md5_fd(src_fd)  # the clone shares the source's blocks: hash the source
    oid = _kernel_copy_beside_hash(src_fd, dst_fd, durable)
    if oid is not None:
        return oid
    if not durable:
        return md5_copy(src_fd, dst_fd)
    started = 0

    def write_back(done: int) -> None:  # the disk writes while the rest is hashed
        nonlocal started
        if done - started >= _WRITE_BACK_EVERY:
            fsutil.start_writeback(dst_fd, started, done - started)
            started = done

    return md5_copy(src_fd, dst_fd, on_chunk=write_back)


def _kernel_copy_beside_hash(src_fd: int, dst_fd: int, durable: bool) -> str | None:
    """Copy in the kernel on a second thread (and flush, if *durable*) while this one
    hashes the source; None, with nothing written, when that cannot be trusted here.

    Two cores do the work of one pass: the md5 costs what it costs, the copy and
    its flush run beside it (storing a big file then takes little more than its
    md5). The hash is of the source, not of the copy, so the source must not
    change meanwhile: it must have been settled when the copy started (any later
    write then gets a later mtime) and its stat must be the same at the end.
    Otherwise, or where the kernel cannot copy between these files, the copy is
    undone and the caller reads the file once, hashing what it writes.
    """
    from labrun.cache.state import is_settled  # the memo's racy rule (big files only)

    before = os.fstat(src_fd)
    size = before.st_size
    if size < _KERNEL_COPY_ABOVE or not is_settled(before.st_mtime_ns, time.time_ns()):
        return None
    try:  # the first piece here: a filesystem that cannot do it says so at once
        first = os.copy_file_range(src_fd, dst_fd, _KERNEL_COPY_PIECE, 0, 0)
    except OSError as exc:
        if exc.errno not in fsutil.LINK_UNSUPPORTED | {errno.EBADF}:
            raise
        first = 0
    if first <= 0:
        os.ftruncate(dst_fd, 0)
        return None
    import threading

    failure: list[BaseException] = []
    stop: list[bool] = []  # set when the hashing fails or is interrupted (Ctrl-C)

    def copy_rest() -> None:
        done = first
        try:
            while done < size and not stop:
                piece = min(size - done, _KERNEL_COPY_STEP)
                copied = os.copy_file_range(src_fd, dst_fd, piece, done, done)
                if copied <= 0:
                    break
                done += copied
            if durable and not stop:
                os.fsync(dst_fd)
        except BaseException as exc:  # raised again on the hashing thread
            failure.append(exc)

    copier = threading.Thread(target=copy_rest, name="labrun-copy", daemon=True)
    copier.start()
    try:
        oid = md5_fd_overlapped(src_fd)  # from the file position: the copy gives offsets
    except BaseException:
        stop.append(True)
        raise
    finally:
        copier.join()
    if failure:
        raise failure[0]
    after = os.fstat(src_fd)
    same = (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (
        size,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    if not same or os.fstat(dst_fd).st_size != size:
        os.ftruncate(dst_fd, 0)  # changed while it was read: start again, the safe way
        os.lseek(dst_fd, 0, os.SEEK_SET)
        os.lseek(src_fd, 0, os.SEEK_SET)
        return None
    return oid


def _flush(paths: list[str], root: str) -> None:
    """Get the data of freshly written files to disk: fsync each (in threads), or one
    syncfs for many. Their directories are left alone (see the module docstring)."""
    if len(paths) > _SYNCFS_ABOVE:
        fsutil.sync_filesystem(root)
        return
    if len(paths) == 1:
        fsutil.fsync_file(paths[0])
        return
    from concurrent.futures import ThreadPoolExecutor  # (and logging): only when threads help

    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        list(pool.map(fsutil.fsync_file, paths))


class MemoryObjectStore:
    """The in-memory twin of :class:`LocalObjectStore`, for tests."""

    def __init__(self) -> None:
        self.objects: dict[tuple[bool, str], bytes] = {}

    def exists(self, oid: str, *, legacy: bool = False) -> bool:
        """Whether *oid* is stored."""
        return (legacy, oid) in self.objects

    def add(self, oid: str, source: bytes | StrPath, *, legacy: bool = False) -> bool:
        """Store *source* (bytes, or a file's content); False if already there."""
        if self.exists(oid, legacy=legacy):
            return False
        if not isinstance(source, bytes):
            with open(source, "rb") as fobj:
                source = fobj.read()
        self.objects[(legacy, oid)] = source
        return True

    def add_many(self, items: Iterable[tuple[str, StrPath]], *, legacy: bool = False) -> int:
        """Store many ``(oid, file)`` pairs; return how many were new."""
        return sum(self.add(oid, path, legacy=legacy) for oid, path in items)

    def missing(self, oids: Iterable[str], *, legacy: bool = False) -> set[str]:
        """The oids not stored."""
        return {oid for oid in oids if not self.exists(oid, legacy=legacy)}

    def ingest(self, source: StrPath, *, legacy: bool = False) -> str:
        """Hash the file *source* and store its bytes; return its oid."""
        oid = file_hasher(legacy)(os.fspath(source), None)
        self.add(oid, source, legacy=legacy)
        return oid

    def ingest_many(self, items: Sequence[FileItem], *, legacy: bool = False) -> list[str]:
        """:meth:`ingest` each ``(path, size)`` pair; the oids, in order."""
        return [self.ingest(path, legacy=legacy) for path, _size in items]

    def open(self, oid: str, *, legacy: bool = False) -> BinaryIO:
        """A fresh reader over the object's bytes."""
        try:
            return io.BytesIO(self.objects[(legacy, oid)])
        except KeyError:
            raise _not_found(oid, "memory") from None

    def path_of(self, oid: str, *, legacy: bool = False) -> str | None:
        """Always None: memory objects have no file."""
        return None

    def iter_oids(self, *, legacy: bool = False) -> Iterator[str]:
        """Every oid in one namespace."""
        return iter([oid for flag, oid in self.objects if flag == legacy])


__all__ = [
    "PROTECTED_MODE",
    "LocalObjectStore",
    "MemoryObjectStore",
    "ObjectNotFoundError",
    "ObjectStore",
    "add_tree",
    "read_manifest",
]
