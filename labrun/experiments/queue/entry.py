"""Queue entries, queue workers, and the processes that hold them.

A :class:`QueueEntry` is one queued experiment: what to run (``spec``: JSON the queue
never reads, for the runner), how urgent it is (``priority``: higher first, first in
first out within a priority), what it needs (``gpus``) and where it is in its life
(``state``). Entries are values. A backend is the only writer of ``state``; it makes
each new version with the transition methods below, so every backend moves entries
the same way::

    QUEUED ──claim──► RUNNING ──finish──► SUCCEEDED | FAILED | CANCELLED
      ▲                  │                             │
      ├── worker died ───┘  (requeue_orphans)          │
      └─────────── retry ◄─────────────────────────────┘  (FAILED, CANCELLED)

A :class:`ProcessStamp` names one process for good: host, pid, the kernel's start
time of that pid (``/proc/<pid>/stat`` field 22) and the boot id. A recycled pid has
another start time and a reboot changes the boot id, so neither is ever mistaken for
the worker that claimed an entry.

    >>> e = QueueEntry("4baf851", name="q1", spec={"params": {"lr": 0.1}}, created=0.0)
    >>> QueueEntry.from_json(e.to_json()) == e, e.state
    (True, 'queued')
    >>> is_alive(current_process())
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

from labrun.errors import LabrunError
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any


class QueueError(LabrunError):
    """The experiment queue cannot do what was asked."""


class EntryState:
    """The states of a queue entry (plain strings, stored as they are)."""

    QUEUED = "queued"  # waiting for a worker with enough free devices
    RUNNING = "running"  # claimed by a worker; its runner may not have started yet
    SUCCEEDED = "succeeded"  # the runner returned a result
    FAILED = "failed"  # the runner raised or died, or its worker died (policy "fail")
    CANCELLED = "cancelled"  # killed on request (`queue kill`, `queue stop --kill`, Ctrl-C)
    ALL = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
    FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


#: pending kill requests, weakest first: none, SIGINT to the runner's group, SIGKILL
KILL_LEVELS = ("", "INT", "KILL")
#: set by a worker while it serves a queue: that queue's directory (see service.project_of)
QUEUE_DIR_ENV = "LABRUN_QUEUE_DIR"


# --- processes -------------------------------------------------------------------------


@record
class ProcessStamp:
    """One process, told apart from any later process that reuses its pid."""

    host: str
    pid: int
    ticks: int = 0  # start time in clock ticks after boot; 0 where there is no /proc
    boot_id: str = ""

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"host": self.host, "pid": self.pid, "ticks": self.ticks, "boot_id": self.boot_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessStamp:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["host"]), int(data["pid"]), int(data["ticks"]), str(data["boot_id"]))


_BOOT_ID: list[str] = []


def boot_id() -> str:
    """This boot's id (``/proc/sys/kernel/random/boot_id``); empty where unknown."""
    if not _BOOT_ID:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fobj:
                _BOOT_ID.append(fobj.read().strip())
        except OSError:
            _BOOT_ID.append("")
    return _BOOT_ID[0]


def host_name() -> str:
    """The name of this machine, as stamps record it."""
    return os.uname().nodename


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start ticks) of a live pid from /proc, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fobj:
            data = fobj.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()  # the command name may hold spaces
    return fields[0].decode("ascii"), int(fields[19])


def _has_proc() -> bool:
    return os.path.isdir("/proc/self")


def process_stamp(pid: int) -> ProcessStamp | None:
    """The stamp of a running process, or None if there is no such process."""
    if not _has_proc():
        return ProcessStamp(host_name(), pid) if _signal_zero(pid) else None
    stat = _proc_stat(pid)
    if stat is None:
        return None
    return ProcessStamp(host_name(), pid, stat[1], boot_id())


def current_process() -> ProcessStamp:
    """The stamp of the calling process."""
    stamp = process_stamp(os.getpid())
    assert stamp is not None
    return stamp


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_alive(stamp: ProcessStamp) -> bool:
    """Whether the stamped process still runs (zombies are dead).

    A process on another host cannot be checked from here and counts as alive;
    after a reboot every stamp of the previous boot is dead.
    """
    if stamp.host != host_name():
        return True
    if stamp.boot_id != boot_id():
        return False
    if not _has_proc():
        return _signal_zero(stamp.pid)
    stat = _proc_stat(stamp.pid)
    if stat is None:
        return False
    state, ticks = stat
    return state not in ("Z", "X") and ticks == stamp.ticks


def kill_group(stamp: ProcessStamp, sig: int = signal.SIGKILL) -> None:
    """Send *sig* to the process group led by *stamp*, unless that group is gone.

    The kernel keeps a pid from being reused while a group of that number has
    members, so a leader pid that now belongs to a newer process means the group
    is empty and nothing is sent.
    """
    if stamp.host != host_name() or stamp.boot_id != boot_id():
        return
    stat = _proc_stat(stamp.pid) if _has_proc() else None
    if stat is not None and stat[1] != stamp.ticks:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(stamp.pid, sig)


# --- entries -------------------------------------------------------------------------


@record
class QueueEntry:
    """One queued experiment and the state of its run (see the module docstring).

    ``worker`` is the worker process that claimed it, ``runner`` the leader of the
    process group running it, ``devices`` the devices it was given, ``attempts`` how
    many times it was claimed, ``kill`` a pending kill request (``KILL_LEVELS``),
    ``result`` the runner's JSON result (or ``{"error": ...}``), ``log`` its log file.
    ``spec`` is shared, not copied: treat it as read-only.
    """

    id: str
    name: str = ""
    baseline: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    gpus: int = 0
    state: str = EntryState.QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    worker: ProcessStamp | None = None
    runner: ProcessStamp | None = None
    devices: tuple[str, ...] = ()
    attempts: int = 0
    kill: str = ""
    result: dict[str, Any] | None = None
    log: str = ""

    def __post_init__(self) -> None:
        if self.state not in EntryState.ALL:
            raise ValueError(f"unknown queue entry state {self.state!r}")
        if self.gpus < 0:
            raise ValueError(f"queue entry '{self.id}' asks for {self.gpus} devices")

    @property
    def is_final(self) -> bool:
        """Whether the run is over (succeeded, failed or cancelled)."""
        return self.state in EntryState.FINAL

    def evolve(self, **changes: Any) -> QueueEntry:
        """A copy with some fields changed."""
        values = {name: getattr(self, name) for name, _, _ in _FIELDS}
        values.update(changes)
        return QueueEntry(**values)

    # -- transitions (used by backends only) --

    def queued(self) -> QueueEntry:
        """This entry as a backend stores it on ``put``: waiting, with no run yet."""
        return self.evolve(state=EntryState.QUEUED, **_NO_RUN)

    def claimed(self, worker: ProcessStamp, devices: tuple[str, ...], now: float) -> QueueEntry:
        """Claimed by *worker*, with *devices*."""
        return self.evolve(
            state=EntryState.RUNNING,
            **{**_NO_RUN, "started": now, "worker": worker, "devices": devices},
            attempts=self.attempts + 1,
        )

    def with_runner(self, runner: ProcessStamp, log: str) -> QueueEntry:
        """Its runner has been started (leader of the runner's process group)."""
        return self.evolve(runner=runner, log=log)

    def finished_as(self, state: str, result: dict[str, Any] | None, now: float) -> QueueEntry:
        """Ended in a final *state*."""
        if state not in EntryState.FINAL:
            raise ValueError(f"'{state}' is not a final queue entry state")
        return self.evolve(state=state, result=result, finished=now)

    def requeued(self) -> QueueEntry:
        """Back in the queue at its old place (its worker died, or it is retried)."""
        return self.evolve(state=EntryState.QUEUED, **{**_NO_RUN, "log": self.log})

    def killing(self, force: bool) -> QueueEntry:
        """With a kill request; a forced one is never weakened by a later plain one."""
        wanted = "KILL" if force or self.kill == "KILL" else "INT"
        return self.evolve(kill=wanted)

    # -- JSON --

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (a plain dict)."""
        data = {name: getattr(self, name) for name, _, _ in _FIELDS}
        for key in ("worker", "runner"):
            if data[key] is not None:
                data[key] = data[key].to_dict()
        data["devices"] = list(self.devices)
        return data

    def to_json(self) -> str:
        """Compact JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueEntry:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        try:
            values = {name: data[name] for name, _, _ in _FIELDS if name in data}
            for key in ("worker", "runner"):
                if values.get(key) is not None:
                    values[key] = ProcessStamp.from_dict(values[key])
            values["devices"] = tuple(str(d) for d in values.get("devices", ()))
            return cls(**values)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise QueueError(f"malformed queue entry {data.get('id', '?')!r}: {exc}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> QueueEntry:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


_FIELDS: list[tuple[str, object, object]] = QueueEntry.__record_fields__  # type: ignore[attr-defined]
_NO_RUN: dict[str, Any] = {
    "started": None,
    "finished": None,
    "worker": None,
    "runner": None,
    "devices": (),
    "kill": "",
    "result": None,
    "log": "",
}


@record
class WorkerInfo:
    """A registered worker: its name in the queue, its process, its device pool.

    ``stop`` is set by ``request_stop``: the worker ends after its current entry.
    """

    id: str
    process: ProcessStamp
    devices: tuple[str, ...] = ()
    stop: bool = False
    started: float = field(default_factory=time.time)

    def to_json(self) -> str:
        """Compact JSON text."""
        data = {
            "id": self.id,
            "process": self.process.to_dict(),
            "devices": list(self.devices),
            "stop": self.stop,
            "started": self.started,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerInfo:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        process = ProcessStamp.from_dict(data["process"])
        devices = tuple(data["devices"])
        return cls(data["id"], process, devices, bool(data["stop"]), float(data["started"]))


__all__ = [
    "KILL_LEVELS",
    "EntryState",
    "ProcessStamp",
    "QueueEntry",
    "QueueError",
    "WorkerInfo",
    "boot_id",
    "current_process",
    "host_name",
    "is_alive",
    "kill_group",
    "process_stamp",
]
