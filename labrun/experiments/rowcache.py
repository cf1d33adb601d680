"""The row index: `exp show` data of commits, by commit id, in one SQLite file.

A commit never changes, so neither does what its files say: the params,
metrics, deps and outs collected from it (`collect.py`), and its parents and
commit time, are stored under its sha in ``.dvc/tmp/labrun/exp-rows.db`` and
read back instead of walking its Git trees again. Refs may be added, moved or
deleted by anyone (dvc included): the cache is asked by commit, never by ref,
so that cannot make it stale. Rows with errors are not stored (a metric file
missing from the cache today may be pulled tomorrow), and neither is the
working tree.

Bump ``SCHEMA`` whenever what a row holds changes: the old rows are dropped.

    >>> import tempfile, os
    >>> cache = RowCache(os.path.join(tempfile.mkdtemp(), "rows.db"))
    >>> cache.put_rows({"a" * 40: {"params": {}, "metrics": {}}})
    >>> cache.get_rows(["a" * 40, "b" * 40])
    {'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': {'params': {}, 'metrics': {}}}
    >>> cache.close()
"""

from __future__ import annotations

import json
import os

from labrun.scm.catfile import CommitInfo
from labrun.sqlitemod import sqlite_module

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

SCHEMA = 2
FILE_NAME = "exp-rows.db"
_BATCH = 500  # shas per query without JSON1 (SQLite's variable limit is 999 on old builds)


class RowCache:
    """Commit sha → row data and commit info, in one SQLite database.

    ``path=None`` keeps everything in memory (the twin used when the file
    cannot be opened, e.g. a read-only `.dvc/tmp`: a cache may always be empty).
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        sqlite = sqlite_module()
        if self.path is not None:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                return _prepare(sqlite.connect(self.path, timeout=10, isolation_level=None))
            except (OSError, sqlite.Error):
                self.path = None  # unusable (read-only, corrupt...): work without it
        return _prepare(sqlite.connect(":memory:", isolation_level=None))

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def _select(self, table: str, columns: str, shas: Sequence[str]) -> list[tuple[Any, ...]]:
        """(sha, *columns) of the stored ones among ``shas``: one query for all of them."""
        if not shas:
            return []
        db = self._conn()
        unique = list(dict.fromkeys(shas))
        if len(unique) > _BATCH:
            try:  # JSON1 (built into SQLite since 3.38) takes the whole list as one value
                query = f"SELECT t.sha, {columns} FROM json_each(?) j JOIN {table} t"
                query += " ON t.sha = j.value"
                return db.execute(query, (_json_list(unique),)).fetchall()
            except sqlite_module().OperationalError:
                pass
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(unique), _BATCH):
            chunk = unique[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT sha, {columns} FROM {table} WHERE sha IN ({marks})"
            found.extend(db.execute(query, chunk))
        return found

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        marks = ",".join("?" * len(rows[0]))
        db = self._conn()
        try:
            db.execute("BEGIN")
            db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", rows)
            db.execute("COMMIT")
        except sqlite_module().OperationalError:  # busy or read-only: a cache may skip a write
            if db.in_transaction:
                db.execute("ROLLBACK")

    def get_rows(self, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored rows among ``shas`` (missing ones are simply absent)."""
        return {sha: json.loads(text) for sha, text in self.get_texts(shas).items()}

    def get_texts(self, shas: Sequence[str]) -> dict[str, str]:
        """The stored rows among ``shas`` as their JSON text (not decoded)."""
        return dict(self._select("rows", "data", shas))

    def put_rows(self, rows: Mapping[str, dict[str, Any]]) -> None:
        """Store rows (JSON-serialisable data) by commit sha."""
        self.put_texts({sha: json.dumps(data) for sha, data in rows.items()})

    def put_texts(self, rows: Mapping[str, str]) -> None:
        """Store rows already encoded as JSON (``json.dumps`` with default separators)."""
        self._insert("rows", list(rows.items()))

    def get_commits(self, shas: Sequence[str]) -> dict[str, CommitInfo]:
        """The stored commit infos among ``shas`` (the tree id is not kept)."""
        return {
            sha: CommitInfo(sha, "", tuple(parents.split()), when)
            for sha, parents, when in self._select("commits", "parents, time", shas)
        }

    def get_peeled(self, shas: Sequence[str]) -> dict[str, str]:
        """Annotated tag object → the commit it names, for the known ones among ``shas``."""
        return dict(self._select("peeled", '"commit"', shas))

    def put_peeled(self, peeled: Mapping[str, str]) -> None:
        """Remember which commit each tag object names (tag objects never change)."""
        self._insert("peeled", list(peeled.items()))

    def put_commits(self, infos: Iterable[CommitInfo]) -> None:
        """Store commit infos (parents and committer time)."""
        self._insert("commits", [(i.sha, " ".join(i.parents), i.commit_time) for i in infos])


def _json_list(shas: list[str]) -> str:
    """A JSON array of strings; commit ids need no escaping, so they are simply joined.

    >>> _json_list(["ab", "cd"]), _json_list(['a"b'])
    ('["ab","cd"]', '["a\\\\"b"]')
    """
    try:
        bytes.fromhex("".join(shas))  # hex digits (and maybe white space, which SQLite refuses)
    except ValueError:
        return json.dumps(shas)
    return '["' + '","'.join(shas) + '"]'


def _prepare(db: sqlite3.Connection) -> sqlite3.Connection:
    """Create the tables, or recreate them when they hold another schema's rows."""
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
        db.executescript(
            "DROP TABLE IF EXISTS rows; DROP TABLE IF EXISTS commits;"
            "DROP TABLE IF EXISTS peeled;"
            "CREATE TABLE rows (sha TEXT PRIMARY KEY, data TEXT NOT NULL);"
            "CREATE TABLE commits (sha TEXT PRIMARY KEY, parents TEXT NOT NULL,"
            " time INTEGER NOT NULL);"
            "CREATE TABLE peeled (sha TEXT PRIMARY KEY, 'commit' TEXT NOT NULL);"
            f"PRAGMA user_version = {SCHEMA};"
        )
    return db
