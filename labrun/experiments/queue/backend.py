"""The queue backend protocol, the logic stored backends share, and the in-memory twin.

A backend keeps the queue's entries and its registry of live workers, and is the
only writer of an entry's state. Who calls what::

    exp run --queue ........... put
    queue status, exp show .... requeue_orphans, iter_entries, iter_workers
    queue logs ................ find_entry (then workers.follow_entry)
    queue remove .............. remove              queue retry ........... retry
    queue kill ................ request_kill        queue stop [--kill] ... request_stop
    a worker .................. register_worker, heartbeat, requeue_orphans, claim,
                                mark_running, get (kill requests), finish, unregister_worker

:class:`TableBackend` implements the whole protocol over a handful of storage
primitives (read a row, write a row, a write transaction); the SQLite backend
(``local.py``) and :class:`MemoryQueueBackend` only provide those, so they cannot
disagree. The contract suite (``tests/contract/test_queue_backend.py``) runs against
every backend.

    >>> from labrun.experiments.queue.entry import current_process
    >>> queue = MemoryQueueBackend()
    >>> _ = queue.put(QueueEntry("e1", name="q1", gpus=1))
    >>> entry = queue.claim(current_process(), devices=["0", "1"])
    >>> entry.state, entry.devices, entry.attempts
    ('running', ('0',), 1)
    >>> queue.finish(entry, EntryState.SUCCEEDED, {"ref": "refs/exps/ab/cdef/q1"})
    True
"""

from __future__ import annotations

import contextlib
import time

from labrun.experiments.queue.devices import pick_devices
from labrun.experiments.queue.entry import (
    EntryState,
    ProcessStamp,
    QueueEntry,
    QueueError,
    WorkerInfo,
    is_alive,
    kill_group,
)

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from typing import Any, Protocol
else:  # at run time the protocol is a plain base class, and typing is never imported
    Protocol = object

#: orphan policies: a RUNNING entry whose worker died is queued again, or failed
REQUEUE = "requeue"
FAIL = "fail"
ORPHAN_POLICIES = (REQUEUE, FAIL)
RUNNING = EntryState.RUNNING


class EntryExistsError(QueueError):
    """An entry with that id is already in the queue."""


class AmbiguousEntryError(QueueError):
    """A task id prefix matches several entries."""


class QueueBackend(Protocol):
    """Durable queue storage shared by the commands and the workers (see the module doc).

    Every method is atomic with respect to other processes using the same queue.
    """

    @property
    def url(self) -> str:
        """How another process opens this queue (:func:`open_backend`); empty if it cannot."""

    def put(self, entry: QueueEntry) -> QueueEntry:
        """Queue *entry*, stored as QUEUED with no run; EntryExistsError if its id is taken."""

    def get(self, entry_id: str) -> QueueEntry | None:
        """The entry with exactly this id."""

    def iter_entries(self, states: Iterable[str] | None = None) -> Iterator[QueueEntry]:
        """Entries in the order they were put, optionally only those in *states*."""

    def remove(self, entry_ids: Iterable[str]) -> list[str]:
        """Forget entries that are not running; returns the ids removed."""

    def set_priority(self, entry_id: str, priority: int) -> bool:
        """Change a QUEUED entry's priority; False if it is not queued."""

    def retry(self, entry_ids: Iterable[str]) -> list[str]:
        """Queue FAILED or CANCELLED entries again, at their old place; returns their ids."""

    def request_kill(self, entry_id: str, *, force: bool = False) -> bool:
        """Ask the worker of a RUNNING entry to interrupt it (SIGINT; *force*: SIGKILL).

        False if the entry is not running. Its worker polls for the request.
        """

    def claim(
        self, worker: ProcessStamp, devices: Sequence[str], prefer: str | None = None
    ) -> QueueEntry | None:
        """Take the next entry for *worker*: highest priority, then oldest, that fits.

        *devices* is the worker's pool; devices held by running entries of the same
        host are not free, and an entry needing more than are free is skipped. The
        claimed entry is RUNNING, has its devices and one more attempt. Two callers
        never claim the same entry. The queued entry *prefer* (one the worker got ready
        for) is taken instead of the next one if it fits and no queued entry that fits
        has a higher priority.
        """

    def mark_running(self, entry: QueueEntry, runner: ProcessStamp, log: str) -> bool:
        """Record the runner's process group and log; False if the claim was lost."""

    def finish(self, entry: QueueEntry, state: str, result: dict[str, Any] | None) -> bool:
        """End the claimed *entry* in a final *state*; False if the claim was lost."""

    def requeue_orphans(self, policy: str = REQUEUE, *, max_attempts: int = 3) -> list[QueueEntry]:
        """Settle RUNNING entries whose worker died; returns them in their new state.

        What is left of their runner's process group is killed first. An entry with a
        kill request becomes CANCELLED; with *policy* "fail", or after *max_attempts*
        claims, FAILED; otherwise QUEUED again at its old place.
        """

    def register_worker(self, worker: WorkerInfo) -> bool:
        """Add *worker* to the registry; False if a live process holds its id."""

    def heartbeat(self, worker_id: str) -> WorkerInfo | None:
        """A worker's sign of life; returns its registry row (``stop`` flag) or None."""

    def unregister_worker(self, worker: WorkerInfo) -> None:
        """Remove *worker* from the registry (only if the row is still its own)."""

    def iter_workers(self) -> Iterator[WorkerInfo]:
        """The live registered workers (rows of dead workers are dropped)."""

    def request_stop(self, *, kill: bool = False) -> int:
        """Ask every live worker to stop after its entry (*kill*: and SIGKILL the entries).

        Returns how many workers were asked.
        """

    def close(self) -> None:
        """Release the storage."""


class TableBackend:
    """The protocol's logic over storage primitives that subclasses provide.

    Public methods that read, check and write do so inside one ``_transaction()``,
    which a subclass makes a real cross-process write transaction. Claims and runner
    records need not survive a power cut (``durable=False``): lost, they leave the
    entry as it was before, queued or claimed, which a restarted queue settles; a
    later durable change (``finish``) makes them durable too. Nor do the rows of
    workers: a power cut ends every worker, whose rows are dropped as dead anyway.
    """

    # --- primitives ---------------------------------------------------------------

    def _transaction(self, durable: bool = True) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _get(self, entry_id: str) -> QueueEntry | None:
        raise NotImplementedError

    def _entries(self, states: tuple[str, ...] | None) -> list[QueueEntry]:
        """Entries in insertion order."""
        raise NotImplementedError

    def _first_queued(self, max_gpus: int) -> QueueEntry | None:
        """The QUEUED entry needing at most *max_gpus*: highest priority, then oldest."""
        raise NotImplementedError

    def _insert(self, entry: QueueEntry) -> None:
        raise NotImplementedError

    def _update(self, entry: QueueEntry) -> None:
        raise NotImplementedError

    def _delete(self, entry_id: str) -> None:
        raise NotImplementedError

    def _workers(self) -> list[WorkerInfo]:
        raise NotImplementedError

    def _worker(self, worker_id: str) -> WorkerInfo | None:
        raise NotImplementedError

    def _save_worker(self, worker: WorkerInfo) -> None:
        raise NotImplementedError

    def _delete_worker(self, worker_id: str) -> None:
        raise NotImplementedError

    # --- entries ------------------------------------------------------------------

    def put(self, entry: QueueEntry) -> QueueEntry:
        """See :meth:`QueueBackend.put`."""
        stored = entry.queued()
        try:
            stored.to_json()
        except (TypeError, ValueError) as exc:
            raise QueueError(f"queue entry '{entry.id}' is not JSON: {exc}") from None
        with self._transaction():
            if self._get(stored.id) is not None:
                raise EntryExistsError(f"queue entry '{stored.id}' already exists")
            self._insert(stored)
        return stored

    def get(self, entry_id: str) -> QueueEntry | None:
        """See :meth:`QueueBackend.get`."""
        return self._get(entry_id)

    def iter_entries(self, states: Iterable[str] | None = None) -> Iterator[QueueEntry]:
        """See :meth:`QueueBackend.iter_entries`."""
        return iter(self._entries(None if states is None else tuple(states)))

    def remove(self, entry_ids: Iterable[str]) -> list[str]:
        """See :meth:`QueueBackend.remove`."""
        removed = []
        with self._transaction():
            for entry_id in dict.fromkeys(entry_ids):
                current = self._get(entry_id)
                if current is not None and current.state != RUNNING:
                    self._delete(entry_id)
                    removed.append(entry_id)
        return removed

    def set_priority(self, entry_id: str, priority: int) -> bool:
        """See :meth:`QueueBackend.set_priority`."""
        changed = self._change(entry_id, {EntryState.QUEUED}, lambda e: e.evolve(priority=priority))
        return changed is not None

    def retry(self, entry_ids: Iterable[str]) -> list[str]:
        """See :meth:`QueueBackend.retry`."""
        ended = {EntryState.FAILED, EntryState.CANCELLED}
        return [i for i in dict.fromkeys(entry_ids) if self._change(i, ended, _requeued)]

    def request_kill(self, entry_id: str, *, force: bool = False) -> bool:
        """See :meth:`QueueBackend.request_kill`."""
        return self._change(entry_id, {RUNNING}, lambda e: e.killing(force)) is not None

    def _change(
        self, entry_id: str, states: set[str], change: Callable[[QueueEntry], QueueEntry]
    ) -> QueueEntry | None:
        """Apply *change* to the entry if it is in one of *states*; the new entry or None."""
        with self._transaction():
            current = self._get(entry_id)
            if current is None or current.state not in states:
                return None
            new = change(current)
            self._update(new)
        return new

    # --- runs ---------------------------------------------------------------------

    def claim(
        self, worker: ProcessStamp, devices: Sequence[str], prefer: str | None = None
    ) -> QueueEntry | None:
        """See :meth:`QueueBackend.claim`."""
        with self._transaction(durable=False):
            busy = held_devices(self._entries((RUNNING,)), worker.host)
            free = [device for device in devices if device not in busy]
            entry = self._first_queued(len(free))
            if entry is None:
                return None
            if prefer is not None and prefer != entry.id:
                entry = _preferred(self._get(prefer), entry, len(free)) or entry
            picked = pick_devices(devices, busy, entry.gpus)
            assert picked is not None
            claimed = entry.claimed(worker, picked, time.time())
            self._update(claimed)
        return claimed

    def mark_running(self, entry: QueueEntry, runner: ProcessStamp, log: str) -> bool:
        """See :meth:`QueueBackend.mark_running`."""
        return self._change_claim(entry, lambda e: e.with_runner(runner, log), durable=False)

    def finish(self, entry: QueueEntry, state: str, result: dict[str, Any] | None) -> bool:
        """See :meth:`QueueBackend.finish`."""
        now = time.time()
        return self._change_claim(entry, lambda e: e.finished_as(state, result, now))

    def _change_claim(
        self,
        entry: QueueEntry,
        change: Callable[[QueueEntry], QueueEntry],
        durable: bool = True,
    ) -> bool:
        with self._transaction(durable):
            current = self._get(entry.id)
            if current is None or not same_claim(current, entry):
                return False
            self._update(change(current))
        return True

    def requeue_orphans(self, policy: str = REQUEUE, *, max_attempts: int = 3) -> list[QueueEntry]:
        """See :meth:`QueueBackend.requeue_orphans`."""
        if policy not in ORPHAN_POLICIES:
            raise ValueError(f"orphan policy must be one of {ORPHAN_POLICIES}, not {policy!r}")
        orphans = [e for e in self._entries((RUNNING,)) if is_orphan(e)]
        if not orphans:
            return []  # no write transaction: readers (`queue status`) never wait for workers
        for orphan in orphans:  # a dead worker's runner may live on: it must not run twice
            if orphan.runner is not None:
                kill_group(orphan.runner)
        settled = []
        with self._transaction():
            for orphan in orphans:
                current = self._get(orphan.id)
                if current is not None and same_claim(current, orphan):
                    settled.append(settle_orphan(current, policy, max_attempts))
                    self._update(settled[-1])
        return settled

    # --- workers ------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> bool:
        """See :meth:`QueueBackend.register_worker`."""
        with self._transaction(durable=False):
            old = self._worker(worker.id)
            if old is not None and old.process != worker.process and is_alive(old.process):
                return False
            self._save_worker(worker)
        return True

    def heartbeat(self, worker_id: str) -> WorkerInfo | None:
        """See :meth:`QueueBackend.heartbeat` (liveness here comes from process stamps)."""
        return self._worker(worker_id)

    def unregister_worker(self, worker: WorkerInfo) -> None:
        """See :meth:`QueueBackend.unregister_worker`."""
        with self._transaction(durable=False):
            old = self._worker(worker.id)
            if old is not None and old.process == worker.process:
                self._delete_worker(worker.id)

    def iter_workers(self) -> Iterator[WorkerInfo]:
        """See :meth:`QueueBackend.iter_workers`."""
        workers = self._workers()
        dead = [w for w in workers if not is_alive(w.process)]
        if dead:
            with self._transaction():
                for worker in dead:
                    if self._worker(worker.id) == worker:
                        self._delete_worker(worker.id)
        return iter([w for w in workers if w not in dead])

    def request_stop(self, *, kill: bool = False) -> int:
        """See :meth:`QueueBackend.request_stop`."""
        with self._transaction():
            live = [w for w in self._workers() if is_alive(w.process)]
            for w in live:
                self._save_worker(WorkerInfo(w.id, w.process, w.devices, True, w.started))
            if kill:
                for entry in self._entries((RUNNING,)):
                    self._update(entry.killing(True))
        return len(live)


# --- what every backend shares -----------------------------------------------------


def _preferred(wanted: QueueEntry | None, first: QueueEntry, free: int) -> QueueEntry | None:
    """*wanted* if a claim may take it instead of *first* (the next that fits *free* devices)."""
    if wanted is None or wanted.state != EntryState.QUEUED or wanted.gpus > free:
        return None
    return wanted if wanted.priority >= first.priority else None


def _requeued(entry: QueueEntry) -> QueueEntry:
    return entry.requeued()


def same_claim(current: QueueEntry, claimed: QueueEntry) -> bool:
    """Whether *current* is still the run that *claimed* came from (a fencing check)."""
    return (
        current.state == RUNNING
        and current.attempts == claimed.attempts
        and current.worker == claimed.worker
    )


def held_devices(running: Iterable[QueueEntry], host: str) -> set[str]:
    """Devices of *host* held by running entries."""
    return {d for e in running if e.worker is not None and e.worker.host == host for d in e.devices}


def is_orphan(entry: QueueEntry) -> bool:
    """A RUNNING entry whose worker process is gone."""
    return entry.state == RUNNING and entry.worker is not None and not is_alive(entry.worker)


def settle_orphan(entry: QueueEntry, policy: str, max_attempts: int) -> QueueEntry:
    """What an orphaned entry becomes (see :meth:`QueueBackend.requeue_orphans`)."""
    now = time.time()
    if entry.kill:
        error = f"killed on request; its worker {entry.worker} is gone"
        return entry.finished_as(EntryState.CANCELLED, {"error": error}, now)
    if policy == FAIL or entry.attempts >= max_attempts:
        error = f"its worker {entry.worker} died while running it (attempt {entry.attempts})"
        return entry.finished_as(EntryState.FAILED, {"error": error}, now)
    return entry.requeued()


def find_entry(backend: QueueBackend, key: str) -> QueueEntry | None:
    """The entry a user means by *key*: an exact id, a name (the newest), or an id prefix.

    >>> queue = MemoryQueueBackend()
    >>> _ = queue.put(QueueEntry("4baf851e", name="q1"))
    >>> find_entry(queue, "q1").id, find_entry(queue, "4baf").id, find_entry(queue, "zz")
    ('4baf851e', '4baf851e', None)
    """
    if not key:
        return None
    exact = backend.get(key)
    if exact is not None:
        return exact
    entries = list(backend.iter_entries())
    named = [e for e in entries if e.name == key]
    if named:
        return named[-1]
    prefixed = [e for e in entries if e.id.startswith(key)]
    if len(prefixed) > 1:
        ids = ", ".join(e.id for e in prefixed)
        raise AmbiguousEntryError(
            f"'{key}' matches several queue entries: {ids}", hint="give more of the task id"
        )
    return prefixed[0] if prefixed else None


def count_workers(backend: QueueBackend) -> tuple[int, int]:
    """(active, idle) live workers, for ``Worker status: 1 active, 0 idle``."""
    workers = list(backend.iter_workers())
    busy = {e.worker for e in backend.iter_entries([EntryState.RUNNING])}
    active = sum(1 for w in workers if w.process in busy)
    return active, len(workers) - active


def open_backend(url: str) -> QueueBackend:
    """Open the queue named by a backend's ``url`` (``sqlite:/abs/path/queue.db``)."""
    scheme, sep, rest = url.partition(":")
    if sep and scheme == "sqlite" and rest:
        from labrun.experiments.queue.local import SqliteQueueBackend

        return SqliteQueueBackend(rest)
    raise QueueError(f"unknown queue backend '{url}'", hint="expected 'sqlite:<path>'")


# --- the twin ----------------------------------------------------------------------


class MemoryQueueBackend(TableBackend):
    """A queue in two dicts of JSON texts, for tests; one process only (``url`` is empty).

    Entries go through JSON as they do in a real backend, so a spec comes back the
    same way (tuples as lists) and callers cannot change stored entries by mutation.
    """

    def __init__(self) -> None:
        self._docs: dict[str, str] = {}  # insertion order is queue order
        self._worker_docs: dict[str, str] = {}

    @property
    def url(self) -> str:
        """Empty: no other process can open this queue."""
        return ""

    def close(self) -> None:
        """Nothing to release."""

    def _transaction(self, durable: bool = True) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def _get(self, entry_id: str) -> QueueEntry | None:
        doc = self._docs.get(entry_id)
        return None if doc is None else QueueEntry.from_json(doc)

    def _entries(self, states: tuple[str, ...] | None) -> list[QueueEntry]:
        entries = [QueueEntry.from_json(doc) for doc in self._docs.values()]
        return [e for e in entries if states is None or e.state in states]

    def _first_queued(self, max_gpus: int) -> QueueEntry | None:
        best = None
        for entry in self._entries((EntryState.QUEUED,)):
            if entry.gpus <= max_gpus and (best is None or entry.priority > best.priority):
                best = entry
        return best

    def _insert(self, entry: QueueEntry) -> None:
        self._docs[entry.id] = entry.to_json()

    def _update(self, entry: QueueEntry) -> None:
        self._docs[entry.id] = entry.to_json()  # an existing key keeps its place

    def _delete(self, entry_id: str) -> None:
        del self._docs[entry_id]

    def _workers(self) -> list[WorkerInfo]:
        return [WorkerInfo.from_json(doc) for doc in self._worker_docs.values()]

    def _worker(self, worker_id: str) -> WorkerInfo | None:
        doc = self._worker_docs.get(worker_id)
        return None if doc is None else WorkerInfo.from_json(doc)

    def _save_worker(self, worker: WorkerInfo) -> None:
        self._worker_docs[worker.id] = worker.to_json()

    def _delete_worker(self, worker_id: str) -> None:
        del self._worker_docs[worker_id]


__all__ = [
    "FAIL",
    "ORPHAN_POLICIES",
    "REQUEUE",
    "AmbiguousEntryError",
    "EntryExistsError",
    "MemoryQueueBackend",
    "QueueBackend",
    "TableBackend",
    "count_workers",
    "find_entry",
    "held_devices",
    "is_orphan",
    "open_backend",
    "same_claim",
    "settle_orphan",
]
