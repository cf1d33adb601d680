"""`git write-tree` in-process: the tree objects of an index, written as Git writes them.

An experiment commit takes three `git` processes (`add -u`, `write-tree`,
`commit-tree`); the middle one only turns the private index into tree objects,
which is a few hashes and small writes here. Anything out of the ordinary (an
index version other than 2 or 3, conflicts, intent-to-add entries, split or
sparse indexes) makes :func:`index_entries` answer None, and the caller runs
git instead.

Objects are stored as Git stores loose objects (zlib-deflated ``"tree <size>\\0"``
plus the body, under ``objects/ab/cdef...``, read-only), and only when the
object store has no such object yet, loose or packed.

    >>> entries = [(b"a.txt", 0o100644, bytes.fromhex("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"))]
    >>> tree_sha(entries)
    '65a457425a679cbe9adf0d2741785d3ceabb44a7'
"""

from __future__ import annotations

import contextlib
import os
import zlib

from labrun.digests import sha1
from labrun.fsutil import unique_suffix, write_all
from labrun.scm.gitindex import NOT_PLAIN, entries_of, field

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Entry = tuple[bytes, int, bytes]  # path, mode, binary sha (as in the index)
    Store = Callable[[bytes], bytes]  # object text → its binary sha


class _NotPlain(Exception):
    """The index holds something :func:`tree_sha` does not write the way Git would."""


def index_entries(data: bytes) -> tuple[list[Entry], int] | None:
    """(path, mode, sha) of every entry of a version 2 or 3 index, in index order, and the
    offset where its extensions start; None when git should write the tree itself."""
    parsed = entries_of(data)
    if parsed is None or any(flags & NOT_PLAIN for _, _, flags in parsed[0]):
        return None
    entries = [(path, field(data, at, 24), data[at + 40 : at + 60]) for at, path, _ in parsed[0]]
    return entries, parsed[1]


def tree_sha(entries: Sequence[Entry], store: Store | None = None) -> str | None:
    """The hex sha of the root tree of ``entries``; each tree is passed to ``store``.

    None when the entries cannot make a tree (a path both a file and a folder).
    """
    try:
        return _tree(list(entries), store or _hash).hex()
    except _NotPlain:
        return None


def _hash(obj: bytes) -> bytes:
    return sha1(obj).digest()  # Git's object names


def _tree(entries: list[Entry], store: Store) -> bytes:
    """Store the tree of ``entries`` (paths relative to it) and return its binary sha."""
    lines: list[tuple[bytes, bytes]] = []  # (sort key, entry text)
    i = 0
    while i < len(entries):
        path, mode, sha = entries[i]
        name, slash, _ = path.partition(b"/")
        if not slash:
            lines.append((name, b"%o %s\0%s" % (mode, name, sha)))
            i += 1
            continue
        prefix, j = name + b"/", i
        while j < len(entries) and entries[j][0].startswith(prefix):
            j += 1
        inner = [(p[len(prefix) :], m, s) for p, m, s in entries[i:j]]
        lines.append((prefix, b"40000 %s\0%s" % (name, _tree(inner, store))))
        i = j
    lines.sort()  # Git's order: a folder sorts as if its name ended with "/"
    names = [key.rstrip(b"/") for key, _ in lines]
    if len(set(names)) != len(names) or not all(names):
        raise _NotPlain
    body = b"".join(text for _, text in lines)
    return store(b"tree %d\0%s" % (len(body), body))


def loose_store(objects_dir: str) -> Store:
    """A ``store`` for :func:`tree_sha` that writes missing objects into ``objects_dir``."""

    def store(obj: bytes) -> bytes:
        sha = _hash(obj)
        name = sha.hex()
        path = os.path.join(objects_dir, name[:2], name[2:])
        if not os.path.exists(path) and not in_packs(objects_dir, sha):
            _write_loose(path, obj)
        return sha

    return store


def _write_loose(path: str, obj: bytes) -> None:
    """Write an object file the way Git does: a read-only temporary file, then a link."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f"tmp_obj_{unique_suffix()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    try:
        try:
            write_all(fd, zlib.compress(obj, 1))  # Git's loose objects: Z_BEST_SPEED
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # written meanwhile: the same bytes
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def in_packs(objects_dir: str, sha: bytes) -> bool:
    """True when a pack index (version 2) under ``objects_dir/pack`` lists ``sha``."""
    folder = os.path.join(objects_dir, "pack")
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".idx")]
    except FileNotFoundError:
        return False
    for name in names:
        try:
            with open(os.path.join(folder, name), "rb") as stream:
                if _idx_has(stream.fileno(), sha):
                    return True
        except OSError:
            continue
    return False


def _idx_has(fd: int, sha: bytes) -> bool:
    """Binary search of a version 2 pack index, reading 20 bytes per step."""
    if os.pread(fd, 8, 0) != b"\377tOc\0\0\0\2":
        return False
    fanout = os.pread(fd, 1024, 8)
    first = sha[0]
    lo = int.from_bytes(fanout[4 * first - 4 : 4 * first], "big") if first else 0
    hi = int.from_bytes(fanout[4 * first : 4 * first + 4], "big")
    while lo < hi:
        mid = (lo + hi) // 2
        found = os.pread(fd, 20, 1032 + 20 * mid)
        if found == sha:
            return True
        if found < sha:
            lo = mid + 1
        else:
            hi = mid
    return False
