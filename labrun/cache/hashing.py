"""File and directory hashes exactly as DVC computes them.

- DVC 3: md5 of a file's raw bytes (:func:`md5_file`).
- DVC 2.x ("legacy", records without ``hash: md5``): md5 after turning CRLF
  into LF in text-looking 1 MiB chunks (:func:`md5_file_legacy`).
- Directories: a ``.dir`` manifest, the JSON list of ``{"md5", "relpath"}``
  sorted by relpath, whose own md5 plus ``.dir`` is the directory's hash
  (:class:`Manifest`).

Nothing here remembers anything: :mod:`labrun.cache.state` adds the memo.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "m.bin").write_bytes(b"a")
    >>> info, manifest = hash_dir(d)
    >>> manifest.to_bytes()
    b'[{"md5": "0cc175b9c0f1b6a831c399e269772661", "relpath": "m.bin"}]'
    >>> info.md5, info.size, info.nfiles
    ('d63986754b3ef0796cdccf82d5da1bc8.dir', 1, 1)
"""

from __future__ import annotations

import operator
import os
import stat
from _thread import _local  # `threading` costs start-up time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, repeat

from labrun import digests
from labrun.cache.workers import count_bytes, map_files, paused_gc
from labrun.errors import LabrunError
from labrun.fsutil import open_read
from labrun.record import record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    from hashlib import _Hash
    from typing import Any, NamedTuple

    from labrun.ignore import DvcIgnore

CHUNK = 1 << 20  # DVC hashes (and legacy-normalises) in 1 MiB chunks
DIR_SUFFIX = ".dir"
EMPTY_DIR_MD5 = "d751713988987e9331980363e24189ce.dir"
EMPTY_FILE_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
_SNIFF = 512
_OVERLAP_ABOVE = 8 * CHUNK  # bytes: reading ahead on a second thread pays from here
_IGNORE_FILE = ".dvcignore"


class HashingError(LabrunError):
    """A path could not be hashed (missing, broken link, not a regular file...)."""


# -- single files ----------------------------------------------------------------

_json_str = digests.json_string  # what json.dumps writes for a string, without json

_buffers = _local()


def _buffer() -> memoryview:
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(CHUNK))
    return view


def _new_md5(data: bytes = b"") -> _Hash:
    """An md5 for data that is streamed: may be big, so OpenSSL's."""
    return digests.md5(data, big=True)


def md5_bytes(data: bytes) -> str:
    """md5 hex digest of *data*.

    >>> md5_bytes(b"")
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    return digests.md5(data).hexdigest()  # called per small file


def md5_file(path: str | os.PathLike[str], size_hint: int | None = None) -> str:
    """md5 of a file's raw bytes (DVC 3). *size_hint* lets small files take one read."""
    fd = open_read(path)
    try:
        if size_hint is not None and size_hint >= _OVERLAP_ABOVE:
            return md5_fd_overlapped(fd)  # a third faster on a big file
        if size_hint is not None and size_hint < CHUNK:
            data = os.read(fd, size_hint + 1)
            digest = digests.md5(data)
            if len(data) <= size_hint:
                return digest.hexdigest()  # done unless the file grew meanwhile
        else:
            digest = _new_md5()
        return _md5_rest(fd, digest)
    finally:
        os.close(fd)


def _md5_rest(fd: int, digest: _Hash) -> str:
    view = _buffer()
    while n := os.readv(fd, [view]):
        digest.update(view[:n])
        count_bytes(n)  # progress of big files (nothing unless a Meter counts this thread)
    return digest.hexdigest()


def md5_fd(fd: int) -> str:
    """md5 of what is left to read from *fd*.

    >>> import os; r, w = os.pipe(); _ = os.write(w, b"a"); os.close(w); md5_fd(r)
    '0cc175b9c0f1b6a831c399e269772661'
    """
    return _md5_rest(fd, _new_md5())


def md5_fd_overlapped(fd: int) -> str:
    """:func:`md5_fd`, with the next chunk read while the last one is hashed (on a
    second thread): for a big file whose reads are slowed by other work beside it."""
    return md5_copy(fd, None)


def md5_copy(
    src_fd: int, dst_fd: int | None, *, on_chunk: Callable[[int], None] | None = None
) -> str:
    """Copy the rest of *src_fd* to *dst_fd* and return its md5: every byte is read once.
    With *dst_fd* None nothing is written (:func:`md5_fd_overlapped`).

    The hash is of the bytes written, so the copy always matches it, even if the
    source changes meanwhile. *on_chunk* gets the number of bytes written so far
    after each chunk (to start write-back early, say). A file of more than one
    chunk is hashed on a second thread while this one reads and writes (hashlib
    lets go of the GIL on big buffers): the copy then costs little beyond the md5.
    """
    digest, view = _new_md5(), _buffer()
    n = os.readv(src_fd, [view])
    if n < CHUNK:  # all of it, in one chunk: nothing to overlap
        chunk = view[:n]
        digest.update(chunk)
        if dst_fd is not None:
            _write_all(dst_fd, chunk)
        count_bytes(n)
        if n and on_chunk is not None:
            on_chunk(n)
        return digest.hexdigest()
    return _Pipeline(digest, bytes(view[:n])).run(src_fd, dst_fd, on_chunk)


def _write_all(fd: int, chunk: memoryview | bytes) -> None:
    while chunk:
        chunk = chunk[os.write(fd, chunk) :]


class _Pipeline:
    """Hash chunk k on a helper thread while chunk k is written and k+1 read.

    Three buffers go round: a buffer is read into again only once the helper has
    hashed what it held (chunks are hashed in order, so waiting for one done
    frees the oldest).
    """

    DEPTH = 3
    SIZE = 4 * CHUNK  # fewer hand-overs between the threads

    def __init__(self, digest: _Hash, first: bytes) -> None:
        import queue

        self.digest = digest
        self.first = first
        self.todo: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.pending = 0

    def _hash(self) -> None:
        while (chunk := self.todo.get()) is not None:
            try:
                self.digest.update(chunk)
            except BaseException as exc:  # handed to the copying thread, which raises it
                self.done.put(exc)
                return
            self.done.put(None)

    def _wait_one(self) -> None:
        failure = self.done.get()
        self.pending -= 1
        if failure is not None:
            raise failure

    def run(self, src: int, dst: int | None, on_chunk: Callable[[int], None] | None) -> str:
        """Copy the rest of *src* to *dst* (the first chunk was read already); the md5.

        With *dst* None, only hash: reading overlaps with hashing all the same.
        """
        import threading

        helper = threading.Thread(target=self._hash, name="labrun-md5", daemon=True)
        helper.start()
        buffers = [memoryview(bytearray(self.SIZE)) for _ in range(self.DEPTH)]
        chunk: memoryview = memoryview(self.first)
        written, turn = 0, 0
        try:
            while chunk:
                self.todo.put(chunk)
                self.pending += 1
                if dst is not None:
                    _write_all(dst, chunk)
                written += len(chunk)
                count_bytes(len(chunk))
                if on_chunk is not None:
                    on_chunk(written)
                if self.pending >= self.DEPTH - 1:
                    self._wait_one()
                turn = (turn + 1) % self.DEPTH
                chunk = buffers[turn][: os.readv(src, [buffers[turn]])]
            while self.pending:
                self._wait_one()
        finally:
            self.todo.put(None)
            helper.join()
        return self.digest.hexdigest()


def read_small(fd: int, size: int) -> bytes:
    """All of a file expected to hold *size* bytes (more if it grew), in one read if it did not.

    >>> import os; r, w = os.pipe(); _ = os.write(w, b"abc"); os.close(w); read_small(r, 3)
    b'abc'
    """
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    parts = [data]
    while part := os.read(fd, CHUNK):
        parts.append(part)
    return b"".join(parts)


def is_text_block(block: bytes) -> bool:
    """DVC 2.x's text sniffing: no NUL and at most 30 % non-text bytes.

    >>> is_text_block(b"a,b\\r\\n"), is_text_block(b"\\x00abc"), is_text_block(b"")
    (True, False, True)
    """
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def md5_file_legacy(path: str | os.PathLike[str]) -> str:
    """DVC 2.x "md5-dos2unix": CRLF→LF in every 1 MiB chunk whose first 512 bytes look like text.

    Chunk by chunk, like DVC 3's reader of legacy hashes (2.x decided once per file).
    """
    digest = _new_md5()
    with open(path, "rb") as fobj:
        while chunk := fobj.read(CHUNK):
            if is_text_block(chunk[:_SNIFF]):
                chunk = chunk.replace(b"\r\n", b"\n")
            digest.update(chunk)
    return digest.hexdigest()


def file_hasher(legacy: bool) -> Callable[[str, int | None], str]:
    """The hashing function for one flavour, as ``f(path, size_hint)``."""
    if legacy:
        return lambda path, _size: md5_file_legacy(path)
    return md5_file


# -- values ----------------------------------------------------------------------


@record
class HashInfo:
    """The hash of a file or directory as DVC records it.

    ``md5`` ends with ``.dir`` for directories. ``legacy`` marks a DVC 2.x
    record (no ``hash: md5`` key; CRLF-normalised text hashes).

    >>> HashInfo("3e2b31c72181b87149ff995e7202c0e3", 10, isexec=True).to_lock_dict()
    {'hash': 'md5', 'md5': '3e2b31c72181b87149ff995e7202c0e3', 'size': 10, 'isexec': True}
    """

    md5: str
    size: int | None = None
    nfiles: int | None = None
    isexec: bool = False
    legacy: bool = False

    @property
    def is_dir(self) -> bool:
        """Whether this is a directory hash (``….dir``)."""
        return self.md5.endswith(DIR_SUFFIX)

    def _meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"md5": self.md5}
        if self.size is not None:
            out["size"] = self.size
        if self.nfiles is not None:
            out["nfiles"] = self.nfiles
        if self.isexec:
            out["isexec"] = True
        return out

    def to_lock_dict(self) -> dict[str, Any]:
        """Keys in ``dvc.lock`` order: ``hash``, ``md5``, ``size``, ``nfiles``, ``isexec``."""
        head: dict[str, Any] = {} if self.legacy else {"hash": "md5"}
        return {**head, **self._meta()}

    def to_dvcfile_dict(self) -> dict[str, Any]:
        """Keys in ``.dvc`` file order: ``md5``, ``size``, ``nfiles``, ``isexec``, ``hash``."""
        tail: dict[str, Any] = {} if self.legacy else {"hash": "md5"}
        return {**self._meta(), **tail}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> HashInfo | None:
        """Read the hash part of a lock/``.dvc`` record; None if it has no md5.

        >>> HashInfo.from_record({"path": "a", "md5": "x", "size": 1}).legacy
        True
        """
        md5 = record.get("md5")
        if not isinstance(md5, str) or not md5:
            return None
        size, nfiles = record.get("size"), record.get("nfiles")
        return cls(
            md5=md5,
            size=size if isinstance(size, int) else None,
            nfiles=nfiles if isinstance(nfiles, int) else None,
            isexec=record.get("isexec") is True,
            legacy="hash" not in record,
        )


_RELPATH = operator.itemgetter(0)
_SIZE_OF = operator.itemgetter(4)  # FileStat.size
_MD5 = operator.itemgetter(1)
_ENTRY_FIELDS = operator.itemgetter("relpath", "md5")


def _all_str(pairs: list[tuple[object, object]]) -> bool:
    """Whether every item of every pair is a str (``str.join`` checks that in C)."""
    try:
        "".join(map(_RELPATH, pairs))
        "".join(map(_MD5, pairs))
    except TypeError:
        return False
    return True


class Manifest:
    """A directory listing ``relpath → md5``, kept sorted by relpath (code points)."""

    __slots__ = ("_bytes", "entries")

    def __init__(self, entries: Sequence[tuple[str, str]], *, presorted: bool = False):
        self.entries: tuple[tuple[str, str], ...] = tuple(
            entries if presorted else sorted(entries, key=_RELPATH)
        )
        self._bytes: bytes | None = None

    def to_bytes(self) -> bytes:
        """The ``.dir`` object: ``json.dumps(list, sort_keys=True)``, ASCII, no newline."""
        if self._bytes is None:
            entries = self.entries
            pieces = zip(  # one join over every piece: quicker than formatting each entry
                repeat('{"md5": "'),
                map(_MD5, entries),
                repeat('", "relpath": '),
                map(_json_str, map(_RELPATH, entries)),
                repeat("}, "),
            )
            items = "".join(chain.from_iterable(pieces))[:-2]
            self._bytes = f"[{items}]".encode()
        return self._bytes

    @property
    def oid(self) -> str:
        """The directory hash: md5 of :meth:`to_bytes` plus ``.dir``."""
        return md5_bytes(self.to_bytes()) + DIR_SUFFIX

    @classmethod
    @paused_gc()
    def from_bytes(cls, data: bytes, where: str = "manifest") -> Manifest:
        """Parse a ``.dir`` object; *where* names it in errors."""
        try:
            import json  # not at module level: it costs start-up time

            raw = json.loads(data)
            pairs = list(map(_ENTRY_FIELDS, raw))  # in C: 70,000 entries in a few ms
            if not _all_str(pairs):
                pairs = [(str(r), str(m)) for r, m in pairs]
        except (ValueError, TypeError, KeyError) as exc:
            raise HashingError(
                f"directory manifest '{where}' is corrupted: {exc}",
                hint="remove it from the cache and commit the directory again",
            ) from exc
        return cls(pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and other.entries == self.entries

    def __hash__(self) -> int:
        return hash(self.entries)


# -- directories -----------------------------------------------------------------


if TYPE_CHECKING:

    class FileStat(NamedTuple):
        """One file found under a directory: where it is and what ``stat`` said."""

        relpath: str  # relative to the walked directory, "/"-separated
        path: str
        ino: int
        mtime_ns: int
        size: int
        mode: int
        nlink: int  # more than one: a hardlink (into the cache, perhaps)
        symlink: bool  # the entry itself is a symbolic link (stat follows it)

else:  # the same fields (a test compares them), without importing typing
    FileStat = namedtuple("FileStat", "relpath path ino mtime_ns size mode nlink symlink")


def _iter_plain(top: str) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """``(dir relative to top, file entries)`` per directory; links to dirs not followed."""
    stack = [(top, "")]
    while stack:
        path, rel = stack.pop()
        with os.scandir(path) as it:
            entries = list(it)
        yield rel, [e for e in entries if not e.is_dir()]
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                stack.append((entry.path, f"{rel}/{entry.name}" if rel else entry.name))


def _stat_entries(prefix: str, entries: list[os.DirEntry[str]], out: list[FileStat]) -> None:
    """Append a :class:`FileStat` per entry (the hot loop of every directory hash)."""
    new, append, regular = tuple.__new__, out.append, stat.S_IFREG
    for entry in entries:
        try:
            st = entry.stat()
        except FileNotFoundError as exc:
            raise HashingError(f"unable to hash '{entry.path}': it is a broken symlink") from exc
        mode = st.st_mode
        if mode & 0o170000 != regular:
            raise HashingError(f"unable to hash '{entry.path}': it is not a regular file")
        name, path, link = prefix + entry.name, entry.path, entry.is_symlink()
        append(
            new(
                FileStat,
                (name, path, st.st_ino, st.st_mtime_ns, st.st_size, mode, st.st_nlink, link),
            )
        )


def reject_ignore_file(folder: str) -> HashingError:
    """The error for a ``.dvcignore`` found inside a directory being hashed."""
    return HashingError(
        f"{_IGNORE_FILE} file should not be in collected dir path: '{folder}'",
        hint=f"move its rules to a {_IGNORE_FILE} above the directory",
    )


@paused_gc()
def scan_dir(path: str | os.PathLike[str], ignore: DvcIgnore | None = None) -> list[FileStat]:
    """Every file under *path* (sorted by relpath), minus what *ignore* excludes.

    A ``.dvcignore`` inside the directory is an error, as in DVC.
    """
    top = os.fspath(path)
    if not os.path.isdir(top):
        raise HashingError(f"unable to hash '{top}': it is not a directory")
    walk = ignore.iter_dirs(top) if ignore is not None else _iter_plain(top)
    stats: list[FileStat] = []
    for rel, entries in walk:
        if any(e.name == _IGNORE_FILE for e in entries):
            raise reject_ignore_file(os.path.join(top, rel) if rel else top)
        _stat_entries(f"{rel}/" if rel else "", entries, stats)
    stats.sort(key=_RELPATH)  # a key of str alone sorts 3x faster than whole tuples
    return stats


def hash_files(
    items: Sequence[tuple[str, int]], *, legacy: bool = False, jobs: int | None = None
) -> list[str]:
    """Hash many ``(path, size)`` pairs, in threads when it pays; results in order.

    hashlib and file reads release the GIL, so threads scale with cores and disks.
    """
    return map_files(file_hasher(legacy), items, jobs=jobs)


def dir_info(
    stats: Sequence[FileStat], md5s: Sequence[str], *, legacy: bool = False
) -> tuple[HashInfo, Manifest]:
    """Build the manifest and the directory's :class:`HashInfo` from sorted stats."""
    manifest = Manifest(list(zip(map(_RELPATH, stats), md5s, strict=True)), presorted=True)
    size = sum(map(_SIZE_OF, stats))
    return HashInfo(manifest.oid, size, len(manifest), legacy=legacy), manifest


def hash_dir(
    path: str | os.PathLike[str], ignore: DvcIgnore | None = None, *, legacy: bool = False
) -> tuple[HashInfo, Manifest]:
    """Hash a directory without any memo: every file is read."""
    stats = scan_dir(path, ignore)
    md5s = hash_files([(s.path, s.size) for s in stats], legacy=legacy)
    return dir_info(stats, md5s, legacy=legacy)


def hash_file(path: str | os.PathLike[str], *, legacy: bool = False) -> HashInfo:
    """Hash one file (links followed) without any memo; ``isexec`` from its mode."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise HashingError(f"unable to hash '{os.fspath(path)}': it does not exist") from exc
    if not stat.S_ISREG(st.st_mode):
        raise HashingError(f"unable to hash '{os.fspath(path)}': it is not a regular file")
    md5 = file_hasher(legacy)(os.fspath(path), st.st_size)
    return HashInfo(md5, st.st_size, isexec=is_exec(st.st_mode), legacy=legacy)


def is_exec(mode: int) -> bool:
    """Any execute bit set (DVC's definition of ``isexec``)."""
    return bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))


__all__ = [
    "CHUNK",
    "EMPTY_DIR_MD5",
    "EMPTY_FILE_MD5",
    "FileStat",
    "HashInfo",
    "HashingError",
    "Manifest",
    "dir_info",
    "file_hasher",
    "hash_dir",
    "hash_file",
    "hash_files",
    "is_exec",
    "is_text_block",
    "md5_bytes",
    "md5_copy",
    "md5_fd",
    "md5_file",
    "md5_file_legacy",
    "read_small",
    "reject_ignore_file",
    "scan_dir",
]
