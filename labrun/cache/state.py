"""The hash memo: ``(inode, mtime_ns, size)`` of a path → its md5, in SQLite.

A file whose ``stat`` still matches its row is never read again. Directories
get a row of their own, keyed by a digest of every kept file's
``(relpath, inode, mtime, size)``, so an unchanged tree of 70,000 files costs
one walk with ``stat`` calls and a single lookup.

The database lives in ``<project>/.dvc/tmp/labrun/hashes.db``. It is only a
cache: WAL mode and a busy timeout let several labrun processes share it, and
a damaged file is thrown away and rebuilt.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("a")
    >>> with State() as state:
    ...     state.hash_file(d / "a.txt").md5
    '0cc175b9c0f1b6a831c399e269772661'
"""

from __future__ import annotations

import contextlib
import operator
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from labrun.cache.hashing import (
    FileStat,
    HashInfo,
    HashingError,
    Manifest,
    dir_info,
    file_hasher,
    hash_files,
    is_exec,
    md5_bytes,
    scan_dir,
)
from labrun.cache.workers import paused_gc
from labrun.record import record

if TYPE_CHECKING:
    from labrun.ignore import DvcIgnore

STATE_DIR = os.path.join(".dvc", "tmp", "labrun")
STATE_FILE = "hashes.db"
_SCHEMA_VERSION = 1
_RESET = (
    "DROP TABLE IF EXISTS files",
    "DROP TABLE IF EXISTS dirs",
    """CREATE TABLE files (
        path BLOB NOT NULL, legacy INTEGER NOT NULL,
        ino INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL,
        PRIMARY KEY (path, legacy)) WITHOUT ROWID""",
    """CREATE TABLE dirs (
        path BLOB NOT NULL, legacy INTEGER NOT NULL,
        token TEXT NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL, nfiles INTEGER NOT NULL,
        PRIMARY KEY (path, legacy)) WITHOUT ROWID""",
    f"PRAGMA user_version = {_SCHEMA_VERSION}",
)
_INSERT_FILE = "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_DIR = "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?, ?, ?, ?)"
_FileRow = tuple[int, int, int, str]  # ino, mtime_ns, size, md5
_Row = tuple[bytes, int, int, int, int, str]  # a `files` row
Known = tuple[str, os.stat_result, str]  # (absolute path, its stat, md5) of a file just written
FileHasher = Callable[[str, int], str]  # (path, size) → md5
DirHasher = Callable[[Sequence[tuple[str, int]]], list[str]]  # many (path, size) → md5s


def _version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _reset(conn: sqlite3.Connection) -> None:
    """Create the tables (first use, or a layout from another labrun version)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _version(conn) != _SCHEMA_VERSION:  # another process may have just done it
            for statement in _RESET:
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_IN_BATCH = 500  # values per `IN (...)`: well under SQLite's oldest variable limit (999)
_SELECT_MANY = "SELECT path, ino, mtime_ns, size, md5 FROM files WHERE legacy = 0 AND path IN ({})"


def _key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")  # os.fsencode on POSIX, minus a call


def _file_row(s: FileStat, legacy: int, md5: str) -> _Row:
    return (_key(s.path), legacy, _ino(s.ino), s.mtime_ns, s.size, md5)


def _ino(value: int) -> int:
    """Inodes are unsigned 64-bit; SQLite integers are signed."""
    return value - (1 << 64) if value >= 1 << 63 else value


@record
class DirListing:
    """A hashed directory: its :class:`HashInfo`, manifest and the files seen."""

    info: HashInfo
    manifest: Manifest
    files: tuple[FileStat, ...]


_FIRST = operator.itemgetter(0)
_TOKEN_FIELDS = operator.itemgetter(0, 2, 3, 4)  # relpath, ino, mtime_ns, size
_TOKEN_LINE = "%s\0%d\0%d\0%d".__mod__


def _token(stats: Sequence[tuple[str, str, int, int, int]] | Sequence[FileStat]) -> str:
    """Digest of every file's (relpath, inode, mtime, size): equal tokens, equal trees."""
    lines = "\n".join(map(_TOKEN_LINE, map(_TOKEN_FIELDS, stats)))
    return md5_bytes(lines.encode("utf-8", "surrogateescape"))


class State:
    """The memo in front of :mod:`labrun.cache.hashing`.

    ``State()`` keeps the memo in memory only; ``State.for_project(root)`` uses
    the project's database. Safe to share between threads; open one per process.
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, jobs: int | None = None):
        self.db_path = ":memory:" if db_path is None else os.fspath(db_path)
        self.jobs = jobs
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._early: dict[bytes, _FileRow | None] = {}  # see prefetch()

    @classmethod
    def for_project(cls, root: str | os.PathLike[str], *, jobs: int | None = None) -> State:
        """The memo of the project at *root* (``.dvc/tmp/labrun/hashes.db``)."""
        folder = os.path.join(os.fspath(root), STATE_DIR)
        os.makedirs(folder, exist_ok=True)
        return cls(os.path.join(folder, STATE_FILE), jobs=jobs)

    # -- connection ------------------------------------------------------------------

    def _connect(self, path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if _version(conn) != _SCHEMA_VERSION:
                _reset(conn)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _db(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            self._conn = self._connect(self.db_path)
        except sqlite3.OperationalError:  # cannot open, or locked for too long
            self._conn = self._connect(":memory:")
        except sqlite3.DatabaseError:  # not a database any more: it is only a cache
            self._discard_files()
            self._conn = self._connect(self.db_path)
        self._pid = os.getpid()
        return self._conn

    def _discard_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.db_path + suffix)

    def _fall_back_to_memory(self) -> None:
        """The shared database misbehaves: keep a private memo for this process."""
        with contextlib.suppress(sqlite3.Error):
            if self._conn is not None:
                self._conn.close()
        self._conn = self._connect(":memory:")
        self._pid = os.getpid()

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db().execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                self._fall_back_to_memory()
                return []

    def _transaction(self, steps: Sequence[tuple[str, Iterable[Sequence[object]]]]) -> None:
        """Run ``executemany`` steps atomically; a memo write that fails is dropped."""
        with self._lock:
            self._early.clear()
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for sql, rows in steps:
                        db.executemany(sql, rows)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError:
                self._fall_back_to_memory()

    def close(self) -> None:
        """Close the database (reopened on next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, files: Iterable[_Row]) -> None:
        self._transaction([(_INSERT_FILE, files)])

    # -- files -----------------------------------------------------------------------

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read the memo rows of these files (DVC 3 hashes) in a few queries, so that
        hashing them next costs no query each: `status` asks about hundreds.

        Any write to the memo forgets what was read ahead.
        """
        keys = sorted({_key(os.path.abspath(p)) for p in paths})
        early: dict[bytes, _FileRow | None] = dict.fromkeys(keys)
        for start in range(0, len(keys), _IN_BATCH):
            part = keys[start : start + _IN_BATCH]
            sql = _SELECT_MANY.format(",".join("?" * len(part)))
            for path, *row in self._query(sql, part):
                early[path] = (row[0], row[1], row[2], row[3])
        with self._lock:
            self._early = early

    def _lookup_file(self, key: bytes, legacy: bool) -> _FileRow | None:
        if not legacy and key in self._early:
            return self._early[key]
        rows = self._query(
            "SELECT ino, mtime_ns, size, md5 FROM files WHERE path = ? AND legacy = ?",
            (key, int(legacy)),
        )
        return (rows[0][0], rows[0][1], rows[0][2], rows[0][3]) if rows else None

    def hash_file(
        self,
        path: str | os.PathLike[str],
        *,
        legacy: bool = False,
        hasher: FileHasher | None = None,
    ) -> HashInfo:
        """Hash one file (links followed), reading it only if its stat changed.

        *hasher* ``(path, size) → md5`` replaces plain hashing on a miss (one
        that stores the file while hashing it, say).
        """
        full = os.path.abspath(os.fspath(path))
        st = _stat_file(full)
        key, sig = _key(full), (_ino(st.st_ino), st.st_mtime_ns, st.st_size)
        row = self._lookup_file(key, legacy)
        if row is not None and row[:3] == sig:
            md5 = row[3]
        else:
            md5 = (hasher or file_hasher(legacy))(full, st.st_size)
            self._write([(key, int(legacy), *sig, md5)])
        return HashInfo(md5, st.st_size, isexec=is_exec(st.st_mode), legacy=legacy)

    def remember(self, path: str | os.PathLike[str], md5: str, *, legacy: bool = False) -> None:
        """Record that *path*, as it is now, has content *md5* (after a checkout)."""
        self.remember_many([(path, md5)], legacy=legacy)

    def remember_many(
        self, items: Iterable[tuple[str | os.PathLike[str], str]], *, legacy: bool = False
    ) -> None:
        """:meth:`remember` for many files, in one transaction."""
        known = []
        for path, md5 in items:
            full = os.path.abspath(os.fspath(path))
            known.append((full, _stat_file(full), md5))
        self.remember_stats(known, legacy=legacy)

    @paused_gc()
    def remember_stats(self, items: Iterable[Known], *, legacy: bool = False) -> None:
        """Record ``(absolute path, its stat, md5)`` triples, in one transaction.

        For files labrun has just written, whose stat it already holds.
        """
        flag = int(legacy)
        rows = [
            (_key(path), flag, _ino(st.st_ino), st.st_mtime_ns, st.st_size, md5)
            for path, st, md5 in items
        ]
        rows.sort(key=_FIRST)  # B-tree inserts in key order take half the time of scattered ones
        if rows:
            self._write(rows)

    def remember_dir(
        self, path: str | os.PathLike[str], files: Iterable[Known], info: HashInfo
    ) -> None:
        """Record that the directory *path* holds exactly *files* (and nothing else), so
        the next hash of an unchanged tree is one walk and one lookup.

        For a directory labrun has just created whole (a checkout into nothing).
        """
        top = os.path.abspath(os.fspath(path))
        cut = len(top) + 1
        items = sorted(((p[cut:].replace(os.sep, "/"), p, st) for p, st, _ in files), key=_FIRST)
        token = _token([(rel, p, st.st_ino, st.st_mtime_ns, st.st_size) for rel, p, st in items])
        row = (_key(top), int(info.legacy), token, info.md5, info.size, info.nfiles)
        self._transaction([(_INSERT_DIR, [row])])

    # -- directories -----------------------------------------------------------------

    def _lookup_dir(self, key: bytes, legacy: bool, token: str) -> HashInfo | None:
        rows = self._query(
            "SELECT md5, size, nfiles FROM dirs WHERE path = ? AND legacy = ? AND token = ?",
            (key, int(legacy), token),
        )
        return HashInfo(rows[0][0], rows[0][1], rows[0][2], legacy=legacy) if rows else None

    def _rows_under(self, top: str, legacy: bool) -> dict[bytes, _FileRow]:
        lo, hi = _key(top + "/"), _key(top + "0")  # "0" sorts right after "/"
        rows = self._query(
            "SELECT path, ino, mtime_ns, size, md5 FROM files"
            " WHERE path >= ? AND path < ? AND legacy = ?",
            (lo, hi, int(legacy)),
        )
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    @paused_gc()
    def hash_dir(
        self, path: str | os.PathLike[str], ignore: DvcIgnore | None = None, *, legacy: bool = False
    ) -> HashInfo:
        """Hash a directory; unchanged trees cost a walk and one lookup."""
        top = os.path.abspath(os.fspath(path))
        stats = scan_dir(top, ignore)
        token = _token(stats)
        found = self._lookup_dir(_key(top), legacy, token)
        return found if found is not None else self._build(top, stats, legacy, token).info

    @paused_gc()
    def build_dir(
        self,
        path: str | os.PathLike[str],
        ignore: DvcIgnore | None = None,
        *,
        legacy: bool = False,
        hasher: DirHasher | None = None,
    ) -> DirListing:
        """Hash a directory and return its manifest too (files read only if changed).

        *hasher* hashes the files the memo does not know, ``[(path, size)] → md5s``
        (one that stores them while hashing them, say).
        """
        top = os.path.abspath(os.fspath(path))
        stats = scan_dir(top, ignore)
        return self._build(top, stats, legacy, _token(stats), hasher)

    def _build(
        self,
        top: str,
        stats: list[FileStat],
        legacy: bool,
        token: str,
        hasher: DirHasher | None = None,
    ) -> DirListing:
        known = self._rows_under(top, legacy)
        md5s: list[str] = []
        todo: list[int] = []
        pop = known.pop
        for i, s in enumerate(stats):
            row = pop(s.path.encode("utf-8", "surrogateescape"), None)
            if (
                row is not None
                and row[1] == s.mtime_ns
                and row[2] == s.size
                and row[0] == _ino(s.ino)
            ):
                md5s.append(row[3])
            else:
                md5s.append("")
                todo.append(i)
        pairs = [(stats[i].path, stats[i].size) for i in todo]
        found = hasher(pairs) if hasher else hash_files(pairs, legacy=legacy, jobs=self.jobs)
        for i, md5 in zip(todo, found, strict=True):
            md5s[i] = md5
        info, manifest = dir_info(stats, md5s, legacy=legacy)
        flag, key = int(legacy), _key(top)
        rows = [_file_row(stats[i], flag, md5s[i]) for i in todo]
        if rows or known or self._lookup_dir(key, legacy, token) != info:
            dir_row = (key, flag, token, info.md5, info.size, info.nfiles)
            self._save_dir(rows, [(k, flag) for k in known], dir_row)
        return DirListing(info, manifest, tuple(stats))

    def _save_dir(
        self, rows: list[_Row], stale: list[tuple[bytes, int]], dir_row: tuple[object, ...]
    ) -> None:
        self._transaction(
            [
                (_INSERT_FILE, rows),
                ("DELETE FROM files WHERE path = ? AND legacy = ?", stale),
                (_INSERT_DIR, [dir_row]),
            ]
        )

    def hash_path(
        self, path: str | os.PathLike[str], ignore: DvcIgnore | None = None, *, legacy: bool = False
    ) -> HashInfo:
        """:meth:`hash_dir` for directories, :meth:`hash_file` for anything else."""
        if os.path.isdir(path):
            return self.hash_dir(path, ignore, legacy=legacy)
        return self.hash_file(path, legacy=legacy)


def _stat_file(full: str) -> os.stat_result:
    try:
        st = os.stat(full)
    except FileNotFoundError as exc:
        raise HashingError(f"unable to hash '{full}': it does not exist") from exc
    if not stat.S_ISREG(st.st_mode):
        raise HashingError(f"unable to hash '{full}': it is not a regular file")
    return st


__all__ = ["STATE_DIR", "STATE_FILE", "DirListing", "State"]
