"""What the engine reports while it works: event values and the Reporter protocol.

The engine never prints. Console output, `--json`, queue-worker logs and tests
all consume the same stream of events.

    >>> rec = RecordingReporter()
    >>> rec.emit(StageSkipped("train"))
    >>> rec.names(StageSkipped)
    ['train']
"""

from __future__ import annotations

from collections.abc import Sequence

from labrun.record import field, record


@record
class Event:
    """Base of every event; ``stage`` is the stage's addressing ("" for run-level events)."""

    stage: str


@record
class StageSkipped(Event):
    """The stage did not change (``data_source``: a `.dvc` file)."""

    data_source: bool = False


@record
class StageRestored(Event):
    """Outputs were checked out of the run-cache instead of running the command."""


@record
class StageStarted(Event):
    """The stage is about to run; ``reasons`` say why it is stale."""

    reasons: Sequence[str] = ()


@record
class CommandStarted(Event):
    """One command line of the stage is about to start."""

    command: str = ""


@record
class StageVerifying(Event):
    """A data source or frozen stage is re-verified instead of run."""

    frozen: bool = False


@record
class StageSucceeded(Event):
    """The stage ran (or was restored/verified) and its lock entry was written."""

    ran: bool = True


@record
class StageFailed(Event):
    """The stage failed; ``mode`` is the run's on-error policy, ``skipped`` the dependents
    that will not run (keep-going)."""

    message: str = ""
    skipped: Sequence[str] = ()
    mode: str = "fail"


@record
class LockWritten(Event):
    """A lock file (or `.dvc` file) was written: ``verb`` is "generated" or "updated"."""

    path: str = ""
    verb: str = "updated"


@record
class Warning_(Event):  # the builtin name is taken
    """Something the user should know that does not stop the run."""

    message: str = ""


@record
class Output(Event):
    """A line a stage's command printed, when output is captured (``-j N``)."""

    line: str = ""
    stream: str = "stdout"


@record
class DataStarted(Event):
    """Files are about to be read or written: ``action`` is "hashing" (hashed, and stored
    when committed), "linking" (workspace copies turned into links to the cache) or
    "checkout"; ``path`` is the output (relative to the cwd); ``files`` and ``size``
    (bytes, None when unknown) are the totals.

    At most one data operation runs at a time per thread; ``DataProgress`` events
    (at most ~10 a second) follow, then one ``DataFinished``, even on failure.
    """

    action: str = "hashing"
    path: str = ""
    files: int = 0
    size: int | None = None


@record
class DataProgress(Event):
    """Files and bytes of the current data operation done so far."""

    action: str = "hashing"
    path: str = ""
    files: int = 0
    size: int = 0


@record
class DataFinished(Event):
    """The data operation ended (``ok`` False: it raised), with what it did."""

    action: str = "hashing"
    path: str = ""
    files: int = 0
    size: int = 0
    ok: bool = True


@record
class RunFinished(Event):
    """The whole run is over; files that changed and should be added to Git."""

    changed: bool = False
    git_add: Sequence[str] = ()


TYPE_CHECKING = False  # typing costs every command start-up time: only for the type checker
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class Reporter(Protocol):
        """Receives the engine's events (console, JSON, logs, tests)."""

        def emit(self, event: Event) -> None:
            """Handle one event; must not raise."""

    E = TypeVar("E", bound=Event)
else:

    class Reporter:
        """Receives the engine's events (console, JSON, logs, tests); a protocol for the
        type checker, a plain class at run time."""

        def emit(self, event: Event) -> None:
            """Handle one event; must not raise."""


@record(frozen=False)
class RecordingReporter:
    """Keeps every event, for tests and for callers that render afterwards."""

    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Record the event."""
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The events of one kind, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def names(self, kind: type[Event]) -> list[str]:
        """Stage addressings of the events of one kind, in order."""
        return [e.stage for e in self.of(kind)]


class NullReporter:
    """Discards every event."""

    def emit(self, event: Event) -> None:
        """Do nothing."""


class DataEvents:
    """Turns the counts of one data operation (a cache ``ProgressSink``) into events.

    >>> rec = RecordingReporter()
    >>> sink = DataEvents(rec, "checkout", "data")
    >>> sink.started(2, None); sink.finished(2, 20, True)
    >>> [type(e).__name__ for e in rec.events]
    ['DataStarted', 'DataFinished']
    """

    def __init__(self, reporter: Reporter, action: str, path: str, stage: str = "") -> None:
        self.reporter, self.action, self.path, self.stage = reporter, action, path, stage

    def started(self, files: int, size: int | None) -> None:
        """Emit :class:`DataStarted`."""
        self.reporter.emit(DataStarted(self.stage, self.action, self.path, files, size))

    def advanced(self, files: int, size: int) -> None:
        """Emit :class:`DataProgress`."""
        self.reporter.emit(DataProgress(self.stage, self.action, self.path, files, size))

    def finished(self, files: int, size: int, ok: bool) -> None:
        """Emit :class:`DataFinished`."""
        self.reporter.emit(DataFinished(self.stage, self.action, self.path, files, size, ok))
