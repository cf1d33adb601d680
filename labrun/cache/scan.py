"""One walk of a directory, kept folder by folder, and a token of its ``stat`` data.

A no-op ``status`` of a tree of 70,000 files has to ``stat`` every file (an edit
shows nowhere else), but it need not build a Python object per file: the walk
keeps, per folder, the kept names (in listing order) and their ``stat`` results,
and :func:`tree_token` digests every file's ``(name, inode, mtime, size)``
with a few passes in C per folder. Equal tokens mean the same files with the same
``stat``: :class:`labrun.cache.state.State` then knows the tree's hash without a
per-file lookup. A miss turns the same walk into :class:`FileStat` values
(:meth:`TreeScan.file_stats`) without a second ``stat``.

Each folder is listed through a descriptor, so that the ``stat`` of an entry
resolves one name rather than the whole path (a quarter of the walk's time in a
project a dozen folders deep). The ``.dvcignore`` rules are applied with
:class:`~labrun.ignore.DvcIgnore`'s own decisions, as
:meth:`~labrun.ignore.DvcIgnore.iter_dirs` applies them;
:func:`labrun.cache.hashing.scan_dir`, on that walk, is the plain reference this
must agree with.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "b").write_text("b")
    >>> (d / "s").mkdir(); _ = (d / "s" / "a").write_text("a")
    >>> scan = scan_tree(d)
    >>> [f.relpath for f in scan.file_stats()], scan.nfiles, len(scan.token())
    (['b', 's/a'], 2, 32)
"""

from __future__ import annotations

import operator
import os
import stat
import struct
import time
from collections import namedtuple
from collections.abc import Iterable, Sequence
from itertools import compress, repeat

from labrun.cache.hashing import FileStat, HashingError, md5_bytes, reject_ignore_file
from labrun.cache.workers import paused_gc

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    from typing import NamedTuple

    from labrun.ignore import DvcIgnore

_IGNORE_FILE = ".dvcignore"
_OPEN_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
_NAME = operator.attrgetter("name")
_MTIME = operator.attrgetter("st_mtime_ns")
# the other stat fields by position in the stat tuple: quicker than by name
_MODE, _INO, _NLINK, _SIZE = (operator.itemgetter(i) for i in (0, 1, 3, 6))
_REL = operator.itemgetter(0)
_NEW = tuple.__new__
Entries = list[os.DirEntry[str]]


if TYPE_CHECKING:

    class Folder(NamedTuple):
        """The kept files of one folder, in the order it lists them, with their ``stat``."""

        rel: str  # relative to the walked directory, "/"-separated ("" for the top)
        path: str  # the folder's own path
        names: list[str]
        stats: list[os.stat_result]
        links: list[bool]  # whether each entry is itself a symbolic link (stat follows it)

else:  # the same fields (a test compares them), without importing typing
    Folder = namedtuple("Folder", "rel path names stats links")


class TreeScan:
    """A walked directory: its folders that hold kept files, sorted by ``rel``.

    ``started_ns`` is the clock just before the walk: a file whose mtime is not
    clearly older may still change without changing its ``stat`` (see
    :func:`labrun.cache.state.is_settled`).
    """

    __slots__ = ("_digest", "folders", "started_ns", "top")

    def __init__(self, top: str, folders: list[Folder], started_ns: int) -> None:
        self.top = top
        self.folders = folders
        self.started_ns = started_ns
        self._digest: tuple[str, int] | None = None

    @property
    def nfiles(self) -> int:
        """How many files were kept."""
        return sum(len(f.names) for f in self.folders)

    def token(self) -> str:
        """The digest of every kept file's name and ``stat`` data (see :func:`tree_token`)."""
        return self._digested()[0]

    def newest_mtime_ns(self) -> int:
        """The latest mtime of any kept file (the clock's zero for an empty tree)."""
        return self._digested()[1]

    def _digested(self) -> tuple[str, int]:
        if self._digest is None:
            self._digest = tree_token((f.rel, f.names, f.stats) for f in self.folders)
        return self._digest

    @paused_gc()
    def file_stats(self) -> list[FileStat]:
        """A :class:`FileStat` per kept file, sorted by relpath (what a hash needs).

        Raises :class:`HashingError` for anything that is not a regular file.
        """
        out: list[FileStat] = []
        for folder in self.folders:
            _check_regular(folder)
            prefix, stats = f"{folder.rel}/" if folder.rel else "", folder.stats
            fields = zip(
                map(prefix.__add__, folder.names),
                map(os.path.join(folder.path, "").__add__, folder.names),
                map(_INO, stats),
                map(_MTIME, stats),
                map(_SIZE, stats),
                map(_MODE, stats),
                map(_NLINK, stats),
                folder.links,
                strict=True,
            )
            out.extend(map(_NEW, repeat(FileStat), fields))
        out.sort(key=_REL)  # "a-b" sorts before "a/x": folder order is not relpath order
        return out


def _check_regular(folder: Folder) -> None:
    if all(map(stat.S_ISREG, map(_MODE, folder.stats))):
        return
    for name, st in zip(folder.names, folder.stats, strict=True):
        if not stat.S_ISREG(st.st_mode):
            path = os.path.join(folder.path, name)
            raise HashingError(f"unable to hash '{path}': it is not a regular file")


# -- the walk ------------------------------------------------------------------------


@paused_gc()
def scan_tree(path: str | os.PathLike[str], ignore: DvcIgnore | None = None) -> TreeScan:
    """Walk *path* (minus what *ignore* excludes) and ``stat`` every kept file.

    Errors as :func:`labrun.cache.hashing.scan_dir`: *path* not a directory, a
    ``.dvcignore`` inside it, a broken link. (Files that are not regular are
    reported by :meth:`TreeScan.file_stats`.) Links to files count as files;
    links to directories are neither files nor walked into.
    """
    top = os.fspath(path)
    started = time.time_ns()
    if not os.path.isdir(top):
        raise HashingError(f"unable to hash '{top}': it is not a directory")
    rules = _Rules(ignore, top) if ignore is not None else None
    folders: list[Folder] = []
    stack: list[_Pending] = [(top, "", rules.rootrel if rules is not None else None)]
    while stack:
        folder, rel, rootrel = stack.pop()
        stack.extend(_scan_folder(folder, rel, rootrel, rules, folders))
    folders.sort(key=_REL)
    return TreeScan(top, folders, started)


_Pending = tuple[str, str, "str | None"]  # (folder path, relative to top, to the root)


def _scan_folder(
    path: str, rel: str, rootrel: str | None, rules: _Rules | None, out: list[Folder]
) -> list[_Pending]:
    """List one folder, keep what the rules keep, stat the files; the folders to walk."""
    fd = os.open(path, _OPEN_DIR)  # entries listed through it stat relative to it
    try:
        with os.scandir(fd) as it:
            entries = list(it)
        is_dir = list(map(os.DirEntry.is_dir, entries))
        dirs = list(compress(entries, is_dir))
        files = list(compress(entries, map(operator.not_, is_dir))) if dirs else entries
        if rules is not None and rootrel is not None:
            kept = rules.keep(rootrel, not rel, dirs, files)
            if kept is None:
                return []
            dirs, files = kept
        if files:
            out.append(_stat_files(path, rel, files))
        below = [d.name for d in dirs if not d.is_symlink()]
    finally:
        os.close(fd)
    return [
        (
            os.path.join(path, name),
            _join(rel, name),
            None if rootrel is None else _join(rootrel, name),
        )
        for name in below
    ]


def _stat_files(path: str, rel: str, files: Entries) -> Folder:
    names = list(map(_NAME, files))
    if _IGNORE_FILE in names:
        raise reject_ignore_file(path)
    try:
        stats = list(map(os.DirEntry.stat, files))
    except FileNotFoundError:
        broken = next(n for f, n in zip(files, names, strict=True) if not _stat_ok(f))
        raise HashingError(
            f"unable to hash '{os.path.join(path, broken)}': it is a broken symlink"
        ) from None
    return Folder(rel, path, names, stats, list(map(os.DirEntry.is_symlink, files)))


def _stat_ok(entry: os.DirEntry[str]) -> bool:
    try:
        entry.stat()
    except FileNotFoundError:
        return False
    return True


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


class _Rules:
    """What :meth:`labrun.ignore.DvcIgnore.iter_dirs` decides for a folder it lists,
    decided here for a folder listed through a descriptor."""

    def __init__(self, ignore: DvcIgnore, top: str) -> None:
        self.ignore = ignore
        self.rootrel = ignore.relpath(top)  # None: outside the project, nothing is ignored

    def keep(
        self, rootrel: str, is_top: bool, dirs: Entries, files: Entries
    ) -> tuple[Entries, Entries] | None:
        """The kept subfolders and files of folder *rootrel*; None if it drops out."""
        return self.ignore.keep_entries(rootrel, is_top, dirs, files, by_path=False)


# -- the token -----------------------------------------------------------------------


def tree_token(
    folders: Iterable[tuple[str, Sequence[str], Sequence[os.stat_result]]],
) -> tuple[str, int]:
    """md5 over every file's ``(name, inode, mtime, size)``, and the newest mtime.

    No mode: a chmod does not change a tree's hash, and a file cannot turn into
    something else without a new inode.

    *folders* come sorted by ``rel``, the names of each in the order the folder
    lists them (an unchanged folder lists them in the same order, and sorting
    70,000 names costs more than the digest); folders without files are left out.

    Digested: per folder ``rel \\0 names joined by / \\0`` then the stat values as
    arrays. Names hold neither ``/`` nor NUL and the arrays have a known length,
    so different trees never give the same bytes.

        >>> st = os.stat(".")
        >>> tree_token([("", ["a"], [st])]) == tree_token([("", ["a"], [st])])
        True
    """
    parts: list[bytes] = []
    newest = 0
    for rel, names, stats in folders:
        mtimes = list(map(_MTIME, stats))
        newest = max(newest, max(mtimes, default=newest))
        parts.append(_encode(f"{rel}\0{'/'.join(names)}\0"))
        parts.append(_packed(mtimes))
        parts.append(_packed(list(map(_INO, stats))))
        parts.append(_packed(list(map(_SIZE, stats))))
    return md5_bytes(b"".join(parts)), newest


def _packed(items: list[int]) -> bytes:
    """The values as signed 64-bit integers; their decimal text if one does not fit."""
    try:
        return struct.pack(f"{len(items)}q", *items)
    except struct.error:  # an inode above 2**63 (overlay file systems), say
        return _encode(repr(items))


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def folders_of(
    top: str, files: Iterable[tuple[str, os.stat_result]]
) -> list[tuple[str, list[str], list[os.stat_result]]] | None:
    """``(absolute path, stat)`` of files under *top* grouped as :func:`tree_token` wants
    them, each folder in its listing order; None if a file is no longer listed.

    >>> import tempfile, pathlib
    >>> d = tempfile.mkdtemp(); (pathlib.Path(d) / "s").mkdir(); st = os.stat(d)
    >>> for name in ("a", "s/b"): _ = (pathlib.Path(d) / name).write_text("x")
    >>> [(rel, names) for rel, names, _ in folders_of(d, [(d + "/s/b", st), (d + "/a", st)])]
    [('', ['a']), ('s', ['b'])]
    """
    cut = len(top) + 1
    grouped: dict[str, dict[str, os.stat_result]] = {}
    for path, st in files:
        folder, _, name = path[cut:].replace(os.sep, "/").rpartition("/")
        grouped.setdefault(folder, {})[name] = st
    out = []
    for rel in sorted(grouped):
        known = grouped[rel]
        names = [n for n in os.listdir(os.path.join(top, rel)) if n in known]
        if len(names) != len(known):
            return None
        out.append((rel, names, [known[n] for n in names]))
    return out


__all__ = ["Folder", "TreeScan", "folders_of", "scan_tree", "tree_token"]
