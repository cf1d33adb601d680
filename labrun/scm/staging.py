"""`git add -u` of a copy of the index, in process, for plain repositories.

An experiment commit is the user's index plus every change to tracked files.
Git finds those changes by comparing each entry's recorded ``stat`` with the
file's; only files that differ (or that changed in the same tick as the index
was written) are read and hashed. :func:`stage_tracked` does the same and
returns the entries instead of writing an index, for
:func:`labrun.scm.objects.tree_sha`.

It answers None, and the caller runs git, whenever Git could store something
other than the file's bytes or would look at more than we do: attributes files
(filters, end-of-line conversion), configs that change how files are read or
compared, submodules, conflicts, sparse or split indexes, a tracked path that
became a folder, big files.

    >>> stage_tracked("/repo", index_bytes, store)  # doctest: +SKIP
    [(b'dvc.lock', 33188, b'...'), (b'params.yaml', 33188, b'...')]
"""

from __future__ import annotations

import os
import stat

from labrun.scm.gitindex import ASSUME_VALID, NOT_PLAIN, entries_of, field, plain_extensions

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence

    from labrun.scm.objects import Entry, Store

    # path, mode, sha, flags, ctime s, ctime ns, mtime s, mtime ns, inode, size (32-bit)
    _Record = tuple[bytes, int, bytes, int, int, int, int, int, int, int]

#: files bigger than this are left to git, which streams them
MAX_BLOB = 16 * 1024 * 1024
#: indexes with more entries are left to git, whose stat checks run faster than ours
MAX_ENTRIES = 20_000

# Config words after which Git may store other bytes than the file's, or compare
# fewer stat fields than we do (lower-cased, as the texts are searched). Filter
# drivers (`[filter "lfs"]`, which `git lfs install` puts in every LFS user's
# config) are not among them: a driver only acts on paths an attributes file
# gives it, and any attributes file sends the work to git.
_CONFIG_WORDS = (
    b"autocrlf",
    b"eol",
    b"attributesfile",
    b"symlinks",
    b"ignorestat",
    b"checkstat",
    b"trustctime",
    b"sparse",
    b"precompose",
    b"include",
    b"extensions",
)

_GITLINK, _SYMLINK, _EXEC, _FILE = 0o160000, 0o120000, 0o100755, 0o100644


class _GitDecides(Exception):
    """Something only git itself handles right: the caller runs it."""


def plain_config(config_texts: Sequence[bytes]) -> bool:
    """True if no config (lower-cased texts) changes how `git add` reads or compares files.

    >>> plain_config([b"[core]\\n\\tfilemode = true\\n"]), plain_config([b"autocrlf = input"])
    (True, False)
    """
    return not any(word in text for text in config_texts for word in _CONFIG_WORDS) and not any(
        _filemode_off(text) for text in config_texts
    )


def _filemode_off(text: bytes) -> bool:
    """Whether a (lower-cased) config text sets `core.fileMode` to false, anywhere."""
    for chunk in text.split(b"filemode")[1:]:
        key_end, equals, value = chunk.partition(b"=")
        if equals and not key_end.strip(b" \t"):
            word = value.split(b"\n", 1)[0].split(b"#", 1)[0].split(b";", 1)[0].strip()
            if word.strip(b'"') in (b"false", b"no", b"off", b"0"):
                return True
    return False


def stage_tracked(top: str, index: bytes, index_mtime_ns: int, store: Store) -> list[Entry] | None:
    """The index's entries with the work tree's changes to them, as `git add -u` makes them.

    ``top`` is the work tree, ``index`` the bytes of its index, written at
    ``index_mtime_ns``; new blobs go to ``store``. Deleted files drop out. None: run git.
    """
    records = _records(index)
    if records is None or len(records) > MAX_ENTRIES:
        return None
    staged: list[Entry] = []
    attributes = _Attributes(top)
    try:
        for record in records:
            entry = _staged(top, record, index_mtime_ns, store, attributes)
            if entry is not None:
                staged.append(entry)
    except _GitDecides:
        return None
    return staged


def stage_new(top: str, relpaths: Sequence[str], store: Store) -> list[Entry] | None:
    """Entries for untracked files (`/`-separated, relative to ``top``), as `git add` makes
    them; None (run git) for anything but plain files and symbolic links."""
    attributes = _Attributes(top)
    entries: list[Entry] = []
    try:
        for rel in relpaths:
            full = os.path.join(top, rel)
            st = os.lstat(full)
            entry = _blob_entry(full, st, attributes, store)
            entries.append((os.fsencode(rel), *entry))
    except (_GitDecides, OSError):
        return None
    return entries


def _records(data: bytes) -> list[_Record] | None:
    """The entries of a version 2 or 3 index with their stat data; None for anything else."""
    parsed = entries_of(data)
    if parsed is None or not plain_extensions(data, parsed[1]):
        return None
    found: list[_Record] = []
    for at, path, flags in parsed[0]:
        if flags & NOT_PLAIN:
            return None
        ctime_s, ctime_ns, mtime_s, mtime_ns, _dev, ino, mode, _uid, _gid, size = (
            field(data, at, offset) for offset in range(0, 40, 4)
        )
        sha = data[at + 40 : at + 60]
        found.append((path, mode, sha, flags, ctime_s, ctime_ns, mtime_s, mtime_ns, ino, size))
    return found


def _staged(
    top: str, record: _Record, index_mtime_ns: int, store: Store, attributes: _Attributes
) -> Entry | None:
    path, mode, sha, flags = record[:4]
    if mode == _GITLINK:
        raise _GitDecides  # a submodule: git asks it for its commit
    if flags & ASSUME_VALID:
        return path, mode, sha  # `git update-index --assume-unchanged`: git does not look
    full = os.path.join(top, os.fsdecode(path))
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None  # deleted: `add -u` removes it
    if _mode_of(st) == mode and _unchanged(record, st, index_mtime_ns):
        return path, mode, sha
    return (path, *_blob_entry(full, st, attributes, store))


def _mode_of(st: os.stat_result) -> int:
    if stat.S_ISLNK(st.st_mode):
        return _SYMLINK
    if stat.S_ISREG(st.st_mode):
        return _EXEC if st.st_mode & stat.S_IXUSR else _FILE
    raise _GitDecides  # a folder (or a fifo): git decides what it becomes


def _blob_entry(
    full: str, st: os.stat_result, attributes: _Attributes, store: Store
) -> tuple[int, bytes]:
    """(mode, binary sha) of the file as a stored blob."""
    mode = _mode_of(st)
    if st.st_size > MAX_BLOB:
        raise _GitDecides
    attributes.check(os.path.dirname(full))
    content = os.fsencode(os.readlink(full)) if mode == _SYMLINK else _read(full)
    return mode, store(b"blob %d\0%s" % (len(content), content))


def _unchanged(record: _Record, st: os.stat_result, index_mtime_ns: int) -> bool:
    """Git's stat check: the same times, inode and size, and not written in the index's tick."""
    _, _, _, _, ctime_s, ctime_ns, mtime_s, mtime_ns, ino, size = record
    mask = 0xFFFFFFFF
    same = (
        mtime_s == st.st_mtime_ns // 1_000_000_000 & mask
        and mtime_ns == st.st_mtime_ns % 1_000_000_000
        and ctime_s == st.st_ctime_ns // 1_000_000_000 & mask
        and ctime_ns == st.st_ctime_ns % 1_000_000_000
        and ino == st.st_ino & mask
        and size == st.st_size & mask
    )
    return same and st.st_mtime_ns < index_mtime_ns  # racily clean files are read


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


class _Attributes:
    """Refuses (git decides) when an attributes file may apply to a file being staged."""

    def __init__(self, top: str) -> None:
        self.top = os.path.normpath(top)
        self.seen: set[str] = set()

    def check(self, folder: str) -> None:
        folder = os.path.normpath(folder)
        while folder not in self.seen:
            if os.path.lexists(os.path.join(folder, ".gitattributes")):
                raise _GitDecides
            self.seen.add(folder)
            if folder == self.top or len(folder) <= len(self.top):
                break
            folder = os.path.dirname(folder)


def attribute_files(common: str) -> bool:
    """True if a repository-wide, user or system attributes file exists (git decides then)."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    candidates = (
        os.path.join(common, "info", "attributes"),
        os.path.join(xdg, "git", "attributes"),
        "/etc/gitattributes",
    )
    return any(os.path.lexists(p) for p in candidates)
