"""Object stores: content addressed by md5, laid out like DVC's cache.

``<cache>/files/md5/ab/cdef…`` holds DVC 3 objects (``….dir`` for manifests);
``<cache>/ab/cdef…`` holds DVC 2.x (legacy) ones, read for legacy records.

Objects are written under a temporary name and renamed into place, then made
read-only (``0444``). The mode doubles as a seal: an object whose mode is
exactly ``0444`` is trusted without reading it; any other mode means it may
be unfinished or edited through a link, so it is re-hashed, re-sealed if
intact and deleted if not. Sealing happens only after the data is on disk, so
a power cut can leave an unsealed object but never a sealed bad one.

    >>> store = MemoryObjectStore()
    >>> store.add("5d41402abc4b2a76b9719d911017c592", b"hello")
    True
    >>> store.exists("5d41402abc4b2a76b9719d911017c592")
    True
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Protocol

from labrun import fsutil
from labrun.cache.hashing import Manifest, file_hasher
from labrun.errors import LabrunError

StrPath = str | os.PathLike[str]
PROTECTED_MODE = 0o444
_OID_NAME = re.compile(r"^[0-9a-f]{30}(\.dir)?$")
_PREFIX = re.compile(r"^[0-9a-f]{2}$")


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
    """

    def __init__(self, root: StrPath, *, shared: bool = False, durable: bool = True) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.shared = shared
        self.durable = durable
        self._file_mode = 0o664 if shared else fsutil.DEFAULT_FILE_MODE
        self._known_dirs: set[str] = set()

    def __repr__(self) -> str:
        return f"LocalObjectStore({self.root!r})"

    def path_of(self, oid: str, *, legacy: bool = False) -> str:
        """``<root>/files/md5/ab/cdef…`` (legacy: ``<root>/ab/cdef…``)."""
        base = self.root if legacy else os.path.join(self.root, "files", "md5")
        return os.path.join(base, oid[:2], oid[2:])

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
        if stat.S_IMODE(st.st_mode) == PROTECTED_MODE:
            return True
        return self._verify(oid, path, legacy, st.st_size)

    def _verify(self, oid: str, path: str, legacy: bool, size: int) -> bool:
        actual = file_hasher(legacy)(path, size)
        if actual != oid.split(".", 1)[0]:
            os.unlink(path)  # corrupt: as good as missing
            return False
        self._seal(path)
        return True

    def _seal(self, path: str) -> None:
        with contextlib.suppress(OSError):  # a foreign filesystem: usable, re-verified
            os.chmod(path, PROTECTED_MODE)

    def open(self, oid: str, *, legacy: bool = False) -> BinaryIO:
        """Open the object for reading; :class:`ObjectNotFoundError` if absent."""
        try:
            return open(self.path_of(oid, legacy=legacy), "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(oid, self.root) from None

    def iter_oids(self, *, legacy: bool = False) -> Iterator[str]:
        """Every oid in one namespace (temporary files skipped)."""
        base = self.root if legacy else os.path.join(self.root, "files", "md5")
        try:
            prefixes = [e for e in os.scandir(base) if _PREFIX.match(e.name) and e.is_dir()]
        except FileNotFoundError:
            return
        for prefix in prefixes:
            for entry in os.scandir(prefix.path):
                if _OID_NAME.match(entry.name):
                    yield prefix.name + entry.name

    # -- writing ---------------------------------------------------------------------

    def add(self, oid: str, source: bytes | StrPath, *, legacy: bool = False) -> bool:
        """Store one object durably and seal it; False if it was already there."""
        if self.exists(oid, legacy=legacy):
            return False
        dst = self.path_of(oid, legacy=legacy)
        self._makedirs(os.path.dirname(dst))
        if isinstance(source, bytes):
            fsutil.atomic_write(dst, source, PROTECTED_MODE, durable=self.durable)
        else:
            fsutil.atomic_copy(source, dst, PROTECTED_MODE, durable=self.durable, clone=True)
        return True

    def add_many(self, items: Iterable[tuple[str, StrPath]], *, legacy: bool = False) -> int:
        """Store many files: copy all, flush the filesystem once, then seal them all."""
        written: dict[str, str] = {}
        for oid, source in items:
            if oid in written or self.exists(oid, legacy=legacy):
                continue
            dst = self.path_of(oid, legacy=legacy)
            self._makedirs(os.path.dirname(dst))
            fsutil.atomic_copy(source, dst, self._file_mode, clone=True)
            written[oid] = dst
        if written and self.durable:
            _flush(list(written.values()), self.root)
        for dst in written.values():
            self._seal(dst)
        return len(written)


_SYNCFS_ABOVE = 256  # files; one syncfs beats that many fsyncs (but flushes everyone's data)


def _flush(paths: list[str], root: str) -> None:
    """Make freshly renamed objects durable: fsync each (in threads), or syncfs for many."""
    if len(paths) > _SYNCFS_ABOVE:
        fsutil.sync_filesystem(root)
        return
    folders = sorted({os.path.dirname(p) for p in paths})
    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        list(pool.map(fsutil.fsync_file, paths))
        list(pool.map(fsutil.fsync_dir, folders))


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
