"""Work on thousands of files at once: threads where they pay, and no cycle collector.

Hashing big files is work for threads: hashlib and reads release the GIL, so
a few threads keep every core busy. Small files are another matter: the time
goes to system calls of a few microseconds, and threads mostly fight over the
GIL; worse, creating files from several threads makes ext4's inode allocator
race with itself (measured: four threads checking out 70,000 small files took
five times as long as one). So :func:`map_files` uses threads only when there
is real hashing to share, and small files are never created on threads.
Files go to the threads in slices, not one by one, to keep hand-over cheap.

While files are worked on, a :class:`Meter` may count them: one call per
slice of files (never one per small file), plus one per chunk of a big file
read by :mod:`labrun.cache.hashing`, passed on to a :class:`ProgressSink` at
most ten times a second.

Listing 70,000 files allocates hundreds of thousands of tuples, none of which
can be part of a reference cycle, yet each 700 allocations wake the cycle
collector, which then walks ever older generations: :func:`paused_gc` keeps it
asleep meanwhile (a fifth of the time of a status of such a tree).

    >>> map_files(lambda path, size: path.upper(), [("a", 1), ("b", 2)])
    ['A', 'B']
"""

from __future__ import annotations

import contextlib
import gc
import operator
import os
import time
from _thread import _local as _thread_local
from _thread import allocate_lock  # `threading` costs start-up time
from collections.abc import Callable, Iterator, Sequence

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    T = TypeVar("T")
    U = TypeVar("U")
else:
    Protocol = object  # a Protocol is a plain base class at run time
FileItem = tuple[str, int]  # (path, size in bytes)

_MAX_WORKERS = 8
_SERIAL_BYTES = 8 << 20  # in all: below this, threads cost more than they save
THREADED_MEAN_SIZE = 64 << 10  # bytes per file on average, for threads to pay
_SLICE_MAX = 1024
_SLICE_METERED = 256  # files between two counts of a metered serial run
_SIZE = operator.itemgetter(1)


def default_jobs() -> int:
    """Threads for file work: the cores plus two (I/O waits), at most eight."""
    return min(_MAX_WORKERS, (os.cpu_count() or 1) + 2)


def map_files(
    func: Callable[[str, int], T], items: Sequence[FileItem], *, jobs: int | None = None
) -> list[T]:
    """``[func(path, size) for path, size in items]``, on threads when it pays; in order.

    Threads are used for files of :data:`THREADED_MEAN_SIZE` bytes or more on
    average (and enough of them). The first exception raised by *func* is raised
    here, once the other slices have finished.
    """
    total = sum(size for _, size in items)
    serial = len(items) < 2 or total < _SERIAL_BYTES or total < THREADED_MEAN_SIZE * len(items)
    meter = current_meter()
    if meter is not None:
        return _map_metered(func, items, meter, jobs=1 if serial else jobs)
    return map_items(lambda item: func(*item), items, jobs=1 if serial else jobs)


def map_items(func: Callable[[U], T], items: Sequence[U], *, jobs: int | None = None) -> list[T]:
    """``[func(item) for item in items]`` in slices on *jobs* threads (default: a few)."""
    workers = jobs or default_jobs()
    if workers <= 1 or len(items) < 2:
        return [func(item) for item in items]

    def run(part: Sequence[U]) -> list[T]:
        return [func(item) for item in part]

    return _run_slices(run, items, workers, _thread_step(len(items), workers))


def _thread_step(count: int, workers: int) -> int:
    return max(1, min(_SLICE_MAX, count // (workers * 4)))


def _run_slices(
    run: Callable[[Sequence[U]], list[T]], items: Sequence[U], workers: int, step: int
) -> list[T]:
    slices = [items[i : i + step] for i in range(0, len(items), step)]
    if workers <= 1 or len(slices) < 2:
        return [result for part in slices for result in run(part)]
    from concurrent.futures import ThreadPoolExecutor  # (and logging): only when threads help

    with ThreadPoolExecutor(max_workers=min(workers, len(slices))) as pool:
        return [result for part in pool.map(run, slices) for result in part]


def _map_metered(
    func: Callable[[str, int], T], items: Sequence[FileItem], meter: Meter, jobs: int | None
) -> list[T]:
    """:func:`map_files` counting each slice done on *meter* (also on its threads)."""
    workers = jobs or default_jobs()
    serial = workers <= 1 or len(items) < 2
    step = _SLICE_METERED if serial else _thread_step(len(items), workers)

    def run(part: Sequence[FileItem]) -> list[T]:
        with meter.current():
            done = [func(path, size) for path, size in part]
            meter.settle(len(part), sum(map(_SIZE, part)))
        return done

    return _run_slices(run, items, 1 if serial else workers, step)


# -- counting work done ---------------------------------------------------------------


class ProgressSink(Protocol):
    """Told how one piece of file work goes: its totals, counts so far, and its end.

    >>> class Printing:
    ...     def started(self, files: int, size: int | None) -> None: print("of", files)
    ...     def advanced(self, files: int, size: int) -> None: print("done", files)
    ...     def finished(self, files: int, size: int, ok: bool) -> None: print("end", ok)
    >>> with Meter(Printing()).run(2, None) as meter:
    ...     meter.advance(2, 0)
    of 2
    end True
    """

    def started(self, files: int, size: int | None) -> None:
        """The work begins: *files* in all and, when known, *size* bytes."""

    def advanced(self, files: int, size: int) -> None:
        """Files and bytes done so far (throttled: at most one call per interval)."""

    def finished(self, files: int, size: int, ok: bool) -> None:
        """The work ended, with these counts; ``ok`` is False when it raised."""


_local = _thread_local()  # .meter: the Meter of this thread; .seen: its bytes not settled


class Meter:
    """Counts the files and bytes of one piece of work for a :class:`ProgressSink`.

    Thread-safe. Counts reach the sink at most once per *interval* seconds,
    plus once at the start and once at the end. Work done on a thread that
    has the meter :meth:`current` (as :func:`map_files` does on its threads)
    is counted per slice of files, and big files per chunk read
    (:func:`count_bytes`).

    >>> class Sink:
    ...     def started(self, files, size): print("start", files, size)
    ...     def advanced(self, files, size): print("now", files, size)
    ...     def finished(self, files, size, ok): print("end", files, size, ok)
    >>> with Meter(Sink(), interval=0).run(3, 30) as meter:
    ...     _ = map_files(lambda path, size: path, [("a", 10), ("b", 20)])
    start 3 30
    now 2 30
    end 2 30 True
    """

    def __init__(
        self,
        sink: ProgressSink,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink, self.interval, self.clock = sink, interval, clock
        self.files = self.size = 0
        self.running = False
        self._due = 0.0
        self._lock = allocate_lock()

    @contextlib.contextmanager
    def run(self, files: int, size: int | None) -> Iterator[Meter]:
        """Tell the sink the work starts, count it on this thread, tell it the work ended
        (also when it raises)."""
        self.files = self.size = 0
        self._due = self.clock() + self.interval
        self.sink.started(files, size)
        self.running, ok = True, False
        try:
            with self.current():
                yield self
            ok = True
        finally:
            self.running = False
            self.sink.finished(self.files, self.size, ok)

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Count the work of this thread on this meter meanwhile."""
        before = getattr(_local, "meter", None), getattr(_local, "seen", 0)
        _local.meter, _local.seen = self, 0
        try:
            yield
        finally:
            _local.meter, _local.seen = before

    def advance(self, files: int, size: int) -> None:
        """Count *files* and *size* bytes more done (ignored between runs)."""
        if not self.running:
            return
        with self._lock:
            self.files += files
            self.size += size
            now = self.clock()
            if now >= self._due:
                self._due = now + self.interval
                self.sink.advanced(self.files, self.size)

    def settle(self, files: int, size: int) -> None:
        """Count files done on this thread, whose bytes were partly counted chunk by chunk."""
        seen, _local.seen = getattr(_local, "seen", 0), 0
        self.advance(files, max(0, size - seen))


def current_meter() -> Meter | None:
    """The meter counting this thread's work, if any."""
    meter: Meter | None = getattr(_local, "meter", None)
    return meter


@contextlib.contextmanager
def counted(files: int, size: int | None) -> Iterator[None]:
    """Count the work on *files* (*size* bytes) as one run of this thread's meter, if any.

    What bulk file work in this package wraps itself in: the caller decides
    whether it is counted, by making a meter :meth:`~Meter.current`.

    >>> with counted(3, 30):   # no meter on this thread: nothing happens
    ...     pass
    """
    meter = current_meter()
    if meter is None or meter.running or not files:
        yield
        return
    with meter.run(files, size):
        yield


def count_bytes(size: int) -> None:
    """Count *size* bytes of a file being read on this thread (called per chunk of a
    big file; does nothing when no meter counts this thread's work)."""
    meter: Meter | None = getattr(_local, "meter", None)
    if meter is not None:
        _local.seen += size
        meter.advance(0, size)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Keep the cycle collector from running while many acyclic objects are made.

    >>> with paused_gc():
    ...     rows = [(str(i), i) for i in range(100_000)]
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


__all__ = [
    "FileItem",
    "Meter",
    "ProgressSink",
    "count_bytes",
    "counted",
    "current_meter",
    "default_jobs",
    "map_files",
    "map_items",
    "paused_gc",
]
