"""The embedded queue: entries and workers in one SQLite file, no server.

The file is ``.dvc/tmp/labrun/queue.db`` (the caller passes the path). SQLite does
what a queue needs from a file, with the kernel's help rather than ours:

* every change is one transaction: a process killed at any moment (SIGKILL, power
  cut; WAL mode with ``synchronous=FULL``) leaves the queue as it was before or after
  that change, so an entry is never lost, duplicated or half-written (claims and
  runner records skip the flush to disk: a power cut may undo them, not tear them);
* every read-check-write (a claim above all) runs under ``BEGIN IMMEDIATE``, the
  database's single write lock, so two workers never claim the same entry; readers
  (``queue status``, ``exp show``) never wait for writers;
* a busy timeout makes contending processes wait their turn instead of failing.

Each entry is a row holding its JSON, plus the columns a claim filters and sorts
on. ``seq`` (AUTOINCREMENT, never reused) is the queue order. Unlike the hash memo,
this file is not a cache: a damaged one is reported, never silently rebuilt.

    >>> import tempfile, os
    >>> from labrun.experiments.queue.entry import QueueEntry
    >>> path = os.path.join(tempfile.mkdtemp(), "queue.db")
    >>> with SqliteQueueBackend(path) as queue:
    ...     _ = queue.put(QueueEntry("e1", name="q1"))
    ...     [e.name for e in queue.iter_entries()]
    ['q1']
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

from labrun.experiments.queue.backend import TableBackend
from labrun.experiments.queue.entry import EntryState, QueueEntry, QueueError, WorkerInfo

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

    from labrun.fsutil import StrPath

_SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL,
        gpus INTEGER NOT NULL,
        doc TEXT NOT NULL)""",
    "CREATE INDEX entries_by_state ON entries (state, priority DESC, seq)",
    "CREATE TABLE workers (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID",
    f"PRAGMA user_version = {_SCHEMA_VERSION}",
)
_HINT = "move the file away to start an empty queue (the entries in it will be lost)"


class SqliteQueueBackend(TableBackend):
    """A durable queue in one SQLite file (see the module docstring)."""

    def __init__(self, path: StrPath, *, timeout: float = 60.0) -> None:
        self.path = os.path.abspath(os.fspath(path))
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            with self._errors():
                self._setup()
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        if self._version() == _SCHEMA_VERSION:
            return
        with self._transaction():
            version = self._version()  # another process may have created it meanwhile
            if version == 0:
                for statement in _SCHEMA:
                    self._conn.execute(statement)
            elif version != _SCHEMA_VERSION:
                raise QueueError(
                    f"the queue database '{self.path}' has layout {version}, "
                    f"this labrun reads layout {_SCHEMA_VERSION}",
                    hint="finish its entries with the labrun version that queued them, or " + _HINT,
                )

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def url(self) -> str:
        """``sqlite:<absolute path>``, for :func:`~.backend.open_backend`."""
        return f"sqlite:{self.path}"

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> SqliteQueueBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as labrun errors that name the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise QueueError(
                    f"the queue database '{self.path}' stayed locked: {exc}",
                    hint="another labrun process holds the queue; try again",
                ) from None
            raise QueueError(f"cannot use the queue database '{self.path}': {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise QueueError(
                f"the queue database '{self.path}' is damaged: {exc}", hint=_HINT
            ) from None

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[None]:
        """One write transaction; not ``durable``: atomic, but not flushed to disk."""
        with self._errors():
            if not durable:
                self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            finally:
                if not durable:
                    self._conn.execute("PRAGMA synchronous = FULL")

    def _docs(self, sql: str, args: tuple[object, ...] = ()) -> list[str]:
        with self._errors():
            return [row[0] for row in self._conn.execute(sql, args)]

    # --- entry primitives ---------------------------------------------------------

    def _get(self, entry_id: str) -> QueueEntry | None:
        docs = self._docs("SELECT doc FROM entries WHERE id = ?", (entry_id,))
        return QueueEntry.from_json(docs[0]) if docs else None

    def _entries(self, states: tuple[str, ...] | None) -> list[QueueEntry]:
        if states is None:
            docs = self._docs("SELECT doc FROM entries ORDER BY seq")
        else:
            marks = ", ".join("?" * len(states))
            sql = f"SELECT doc FROM entries WHERE state IN ({marks}) ORDER BY seq"
            docs = self._docs(sql, states)
        return [QueueEntry.from_json(doc) for doc in docs]

    def _first_queued(self, max_gpus: int) -> QueueEntry | None:
        sql = (
            "SELECT doc FROM entries WHERE state = ? AND gpus <= ?"
            " ORDER BY priority DESC, seq LIMIT 1"
        )
        docs = self._docs(sql, (EntryState.QUEUED, max_gpus))
        return QueueEntry.from_json(docs[0]) if docs else None

    def _insert(self, entry: QueueEntry) -> None:
        sql = "INSERT INTO entries (name, state, priority, gpus, doc, id) VALUES (?, ?, ?, ?, ?, ?)"
        self._conn.execute(sql, _columns(entry))

    def _update(self, entry: QueueEntry) -> None:
        sql = "UPDATE entries SET name = ?, state = ?, priority = ?, gpus = ?, doc = ? WHERE id = ?"
        self._conn.execute(sql, _columns(entry))

    def _delete(self, entry_id: str) -> None:
        self._conn.execute("DELETE FROM entries WHERE id = ?", (entry_id,))

    # --- worker primitives --------------------------------------------------------

    def _workers(self) -> list[WorkerInfo]:
        return [WorkerInfo.from_json(doc) for doc in self._docs("SELECT doc FROM workers")]

    def _worker(self, worker_id: str) -> WorkerInfo | None:
        docs = self._docs("SELECT doc FROM workers WHERE id = ?", (worker_id,))
        return WorkerInfo.from_json(docs[0]) if docs else None

    def _save_worker(self, worker: WorkerInfo) -> None:
        sql = "INSERT OR REPLACE INTO workers (id, doc) VALUES (?, ?)"
        self._conn.execute(sql, (worker.id, worker.to_json()))

    def _delete_worker(self, worker_id: str) -> None:
        self._conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))


def _columns(entry: QueueEntry) -> tuple[object, ...]:
    return (entry.name, entry.state, entry.priority, entry.gpus, entry.to_json(), entry.id)


__all__ = ["SqliteQueueBackend"]
