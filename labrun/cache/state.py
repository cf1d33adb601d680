"""The hash memo: ``(inode, mtime_ns, size)`` of a path → its md5, in SQLite.

A file whose ``stat`` still matches its row is never read again. Directories
get a row of their own, keyed by a digest of every kept file's
``(relpath, inode, mtime, size)`` (:mod:`labrun.cache.scan`), so an
unchanged tree of 70,000 files costs one walk with ``stat`` calls and a single
lookup.

Racy files: file systems stamp a write with a coarse clock (a tick of a few
milliseconds; a second, or two on FAT, on some), so a file rewritten with the
same size in the tick of its last write keeps its ``stat``. A row is therefore
only written for a file whose mtime was at least one tick older than the clock
when its content was read (:func:`is_settled`); a fresher file is read again
next time, as Git does with its racily clean entries. A tree row needs every
file of the tree settled. The tick is taken as :data:`FINE_TICK_NS` where the
mtime has a fraction of a second, and :data:`RACY_NS` where it is a whole
second (FAT, HFS+, some network file systems). A big file found racy is
hashed after its tick has passed, so that the row can be written.

Files labrun wrote itself (a checkout) are recorded with the content it wrote
(:meth:`State.remember_stats`): only another process rewriting one within the
same tick, during the checkout, could make such a row wrong, as it could any
file of a checkout in progress. On a file system with whole-second stamps a
user's edit could fall within that tick, so there such files must be settled.

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
import stat
import time
from _thread import RLock  # `threading` costs start-up time
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from types import TracebackType

from labrun.cache.hashing import (
    FileStat,
    HashInfo,
    HashingError,
    Manifest,
    dir_info,
    file_hasher,
    hash_files,
    is_exec,
)
from labrun.cache.workers import paused_gc
from labrun.record import record
from labrun.sqlitemod import sqlite_module

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    import sqlite3
    from typing import Any

    from labrun.cache.scan import TreeScan
    from labrun.ignore import DvcIgnore
else:  # the C module alone: `sqlite3` would also import datetime (start-up time)
    sqlite3 = sqlite_module()

STATE_DIR = os.path.join(".dvc", "tmp", "labrun")
STATE_FILE = "hashes.db"
_SCHEMA_VERSION = 2
RACY_NS = 2_000_000_000  # whole-second stamps: a rewrite this soon may keep the mtime
FINE_TICK_NS = 20_000_000  # stamps with a fraction: Linux ticks are 10 ms at most
_WAIT_ABOVE = 1 << 20  # bytes: a racy file this big is hashed after its tick passed
_RESET = (
    "DROP TABLE IF EXISTS files",
    "DROP TABLE IF EXISTS dirs",
    "DROP TABLE IF EXISTS present",
    """CREATE TABLE files (
        path BLOB NOT NULL, legacy INTEGER NOT NULL,
        ino INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL,
        PRIMARY KEY (path, legacy)) WITHOUT ROWID""",
    """CREATE TABLE dirs (
        path BLOB NOT NULL, legacy INTEGER NOT NULL,
        token TEXT NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL, nfiles INTEGER NOT NULL,
        PRIMARY KEY (path, legacy)) WITHOUT ROWID""",
    """CREATE TABLE present (
        store TEXT NOT NULL, oid TEXT NOT NULL, legacy INTEGER NOT NULL,
        prefixes TEXT NOT NULL, token TEXT NOT NULL,
        PRIMARY KEY (store, oid, legacy)) WITHOUT ROWID""",
    f"PRAGMA user_version = {_SCHEMA_VERSION}",
)
_INSERT_FILE = "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)"
# rows of a tree, whose old rows are deleted first: a row another process has just
# written for the same file is as good as ours, and plain inserts cost half of replaces
_ADD_FILE = "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_DIR = "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_PRESENT = "INSERT OR REPLACE INTO present VALUES (?, ?, ?, ?, ?)"
_FileRow = tuple[int, int, int, str]  # ino, mtime_ns, size, md5
_Row = tuple[bytes | bytearray, int, int, int, int, str]  # a `files` row
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


def _file_rows(stats: Sequence[FileStat], md5s: Sequence[str], legacy: int) -> list[_Row]:
    """The ``files`` rows of *stats* with their *md5s* (built in C: a tree has 70,000)."""
    inos = list(map(_FILE_INO, stats))
    if inos and max(inos) >= 1 << 63:
        inos = list(map(_ino, inos))
    paths = map(_FILE_PATH, stats)
    keys = map(_bulk_key, map(str.encode, paths, repeat("utf-8"), repeat("surrogateescape")))
    mtimes, sizes = map(_FILE_MTIME, stats), map(_FILE_SIZE, stats)
    return list(zip(keys, repeat(legacy), inos, mtimes, sizes, md5s))


# sqlite3 looks for an adapter for each `bytes` value it binds (a third of an insert's
# time); a bytearray is bound as the same BLOB without that
_bulk_key = bytearray


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
_FILE_PATH, _FILE_INO, _FILE_MTIME, _FILE_SIZE = (operator.itemgetter(i) for i in (1, 2, 3, 4))


def is_settled(mtime_ns: int, seen_ns: int) -> bool:
    """Whether a file with this mtime, read at *seen_ns*, can be memoised: any later
    write gets a later mtime. A file written in the last :data:`RACY_NS` could still
    be rewritten within the same timestamp tick, keeping its ``stat``.

    >>> is_settled(0, RACY_NS + 1), is_settled(5 * RACY_NS, 5 * RACY_NS + 1)
    (True, False)
    >>> is_settled(1_000_001, 1_000_001 + FINE_TICK_NS + 1)
    True
    """
    return mtime_ns < seen_ns - _tick(mtime_ns)


def _tick(mtime_ns: int) -> int:
    """How long after *mtime_ns* a rewrite may still get the same stamp."""
    return RACY_NS if mtime_ns % 1_000_000_000 == 0 else FINE_TICK_NS


def _written_settled(st: os.stat_result) -> bool:
    """Whether a file labrun has just written may be recorded (see the module docstring)."""
    return st.st_mtime_ns % 1_000_000_000 != 0 or is_settled(st.st_mtime_ns, st.st_ctime_ns)


class State:
    """The memo in front of :mod:`labrun.cache.hashing`.

    ``State()`` keeps the memo in memory only; ``State.for_project(root)`` uses
    the project's database. Safe to share between threads; open one per process.
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, jobs: int | None = None):
        self.db_path = ":memory:" if db_path is None else os.fspath(db_path)
        self.jobs = jobs
        self._lock = RLock()
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
        fresh = path != ":memory:" and not os.path.exists(path)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            if fresh:  # creating the tables need not reach the disk: no row exists yet,
                # so a crash leaves no file, an empty one, or one rebuilt on opening
                conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA journal_mode=WAL")
            if _version(conn) != _SCHEMA_VERSION:
                _reset(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # before any row is written
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
        seen = time.time_ns()
        st = _stat_file(full)
        key, sig = _key(full), (_ino(st.st_ino), st.st_mtime_ns, st.st_size)
        row = self._lookup_file(key, legacy)
        if row is not None and row[:3] == sig:
            md5 = row[3]
        else:
            wait = st.st_mtime_ns + _tick(st.st_mtime_ns) - seen
            if st.st_size >= _WAIT_ABOVE and 0 <= wait <= FINE_TICK_NS:
                # a stage's fresh output: reading it once more later costs far more
                time.sleep((wait + 1_000_000) / 1e9)
                seen = time.time_ns()
                st = _stat_file(full)
                sig = (_ino(st.st_ino), st.st_mtime_ns, st.st_size)
            md5 = (hasher or file_hasher(legacy))(full, st.st_size)
            if is_settled(st.st_mtime_ns, seen):
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

        For files labrun has just written, whose stat it took right after: their
        content is the one labrun wrote. On a file system with whole-second stamps
        a file written less than a tick before its ctime (a copy) is left out, as
        a user's edit could still keep its stat; a hard link to an old object is not.
        """
        flag = int(legacy)
        rows = [
            (_bulk_key(_key(path)), flag, _ino(st.st_ino), st.st_mtime_ns, st.st_size, md5)
            for path, st, md5 in items
            if _written_settled(st)
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
        Nothing is recorded unless every file is settled (see :meth:`remember_stats`).
        """
        from labrun.cache.scan import folders_of, tree_token  # directories only: start-up time

        top = os.path.abspath(os.fspath(path))
        stats = [(p, st) for p, st, _ in files]
        if not all(_written_settled(st) for _, st in stats):
            return
        folders = folders_of(top, stats)
        if folders is None:
            return
        token, _newest = tree_token(folders)
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
        from labrun.cache.scan import scan_tree  # directories only: start-up time

        scan = scan_tree(os.path.abspath(os.fspath(path)), ignore)
        found = self._lookup_dir(_key(scan.top), legacy, scan.token())
        return found if found is not None else self._build(scan, legacy).info

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
        from labrun.cache.scan import scan_tree  # directories only: start-up time

        return self._build(scan_tree(os.path.abspath(os.fspath(path)), ignore), legacy, hasher)

    def _build(self, scan: TreeScan, legacy: bool, hasher: DirHasher | None = None) -> DirListing:
        stats = scan.file_stats()
        known = self._rows_under(scan.top, legacy)
        md5s, todo, changed = _known_md5s(stats, known)
        pairs = [(stats[i].path, stats[i].size) for i in todo]
        found = hasher(pairs) if hasher else hash_files(pairs, legacy=legacy, jobs=self.jobs)
        for i, md5 in zip(todo, found, strict=True):
            md5s[i] = md5
        info, manifest = dir_info(stats, md5s, legacy=legacy)
        flag, key, seen = int(legacy), _key(scan.top), scan.started_ns
        token = scan.token()
        whole = is_settled(scan.newest_mtime_ns(), seen)
        settled = todo if whole else [i for i in todo if is_settled(stats[i].mtime_ns, seen)]
        rows = _file_rows([stats[i] for i in settled], [md5s[i] for i in settled], flag)
        stale = [*known, *changed]
        if rows or stale or (whole and self._lookup_dir(key, legacy, token) != info):
            dir_row = (key, flag, token, info.md5, info.size, info.nfiles)
            self._save_dir(rows, [(k, flag) for k in stale], [dir_row] if whole else [])
        return DirListing(info, manifest, tuple(stats))

    def _save_dir(
        self, rows: list[_Row], stale: list[tuple[bytes, int]], dirs: list[tuple[object, ...]]
    ) -> None:
        self._transaction(
            [
                ("DELETE FROM files WHERE path = ? AND legacy = ?", stale),
                (_ADD_FILE, rows),
                (_INSERT_DIR, dirs),
            ]
        )

    # -- objects present in a store -------------------------------------------------

    def recall_presence(self, store: str, oid: str, *, legacy: bool) -> tuple[str, str] | None:
        """What :meth:`remember_presence` recorded for *oid* in *store*: ``(prefixes, token)``."""
        rows = self._query(
            "SELECT prefixes, token FROM present WHERE store = ? AND oid = ? AND legacy = ?",
            (store, oid, int(legacy)),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def remember_presence(
        self, store: str, oid: str, prefixes: str, token: str, *, legacy: bool
    ) -> None:
        """Record that every object of the tree *oid* was in *store* when its folders
        *prefixes* had the ``stat`` data that *token* digests
        (see :mod:`labrun.cache.presence`)."""
        row = (store, oid, int(legacy), prefixes, token)
        self._transaction([(_INSERT_PRESENT, [row])])

    def hash_path(
        self, path: str | os.PathLike[str], ignore: DvcIgnore | None = None, *, legacy: bool = False
    ) -> HashInfo:
        """:meth:`hash_dir` for directories, :meth:`hash_file` for anything else."""
        if os.path.isdir(path):
            return self.hash_dir(path, ignore, legacy=legacy)
        return self.hash_file(path, legacy=legacy)


def _known_md5s(
    stats: list[FileStat], known: dict[bytes, _FileRow]
) -> tuple[list[str], list[int], list[bytes]]:
    """The md5 of each file whose row matches its stat ("" if none), the indexes of the
    others, and the keys of their rows that no longer match. Every row found is taken
    out of *known*: what is left belongs to files that are gone."""
    md5s: list[str] = []
    todo: list[int] = []
    changed: list[bytes] = []
    pop = known.pop
    for i, s in enumerate(stats):
        key = s.path.encode("utf-8", "surrogateescape")
        row = pop(key, None)
        if row is not None and row[1] == s.mtime_ns and row[2] == s.size and row[0] == _ino(s.ino):
            md5s.append(row[3])
            continue
        md5s.append("")
        todo.append(i)
        if row is not None:
            changed.append(key)
    return md5s, todo, changed


def _stat_file(full: str) -> os.stat_result:
    try:
        st = os.stat(full)
    except FileNotFoundError as exc:
        raise HashingError(f"unable to hash '{full}': it does not exist") from exc
    if not stat.S_ISREG(st.st_mode):
        raise HashingError(f"unable to hash '{full}': it is not a regular file")
    return st


__all__ = [
    "FINE_TICK_NS",
    "RACY_NS",
    "STATE_DIR",
    "STATE_FILE",
    "DirListing",
    "State",
    "is_settled",
]
