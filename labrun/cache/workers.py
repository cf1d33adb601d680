"""Work on thousands of files at once: threads where they pay, and no cycle collector.

Hashing big files is work for threads: hashlib and reads release the GIL, so
a few threads keep every core busy. Small files are another matter: the time
goes to system calls of a few microseconds, and threads mostly fight over the
GIL; worse, creating files from several threads makes ext4's inode allocator
race with itself (measured: four threads checking out 70,000 small files took
five times as long as one). So :func:`map_files` uses threads only when there
is real hashing to share, and small files are never created on threads.
Files go to the threads in slices, not one by one, to keep hand-over cheap.

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
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")
FileItem = tuple[str, int]  # (path, size in bytes)

_MAX_WORKERS = 8
_SERIAL_BYTES = 8 << 20  # in all: below this, threads cost more than they save
THREADED_MEAN_SIZE = 64 << 10  # bytes per file on average, for threads to pay
_SLICE_MAX = 1024


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
    return map_items(lambda item: func(*item), items, jobs=1 if serial else jobs)


def map_items(func: Callable[[U], T], items: Sequence[U], *, jobs: int | None = None) -> list[T]:
    """``[func(item) for item in items]`` in slices on *jobs* threads (default: a few)."""
    workers = jobs or default_jobs()
    if workers <= 1 or len(items) < 2:
        return [func(item) for item in items]
    step = max(1, min(_SLICE_MAX, len(items) // (workers * 4)))
    slices = [items[i : i + step] for i in range(0, len(items), step)]

    def run(part: Sequence[U]) -> list[T]:
        return [func(item) for item in part]

    with ThreadPoolExecutor(max_workers=min(workers, len(slices))) as pool:
        return [result for part in pool.map(run, slices) for result in part]


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


__all__ = ["FileItem", "default_jobs", "map_files", "map_items", "paused_gc"]
