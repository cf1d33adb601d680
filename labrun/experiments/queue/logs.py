"""Where a queue keeps its files, and following a log as it grows (`queue logs -f`).

Under the queue directory: ``logs/<entry>.log`` (a run's output, appended across
attempts), ``results/<entry>.<attempt>.json`` (a runner's result while it is handed
to the worker) and ``workers/<worker>.log`` (a worker's own output).

    >>> log_path("/q", "e1").as_posix()
    '/q/logs/e1.log'
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import BinaryIO

    from labrun.experiments.queue.backend import QueueBackend
    from labrun.experiments.queue.entry import QueueEntry
    from labrun.fsutil import StrPath


def _file_name(name: str) -> str:
    return name.replace(os.sep, "_").lstrip(".") or "_"


def log_path(queue_dir: StrPath, entry_id: str) -> Path:
    """The log file of an entry (``<queue dir>/logs/<id>.log``)."""
    return Path(queue_dir, "logs", f"{_file_name(entry_id)}.log")


def result_path(queue_dir: Path, entry: QueueEntry) -> Path:
    return queue_dir / "results" / f"{_file_name(entry.id)}.{entry.attempts}.json"


def worker_log_path(queue_dir: StrPath, worker_id: str) -> Path:
    """Where a supervised worker's own output goes."""
    return Path(queue_dir, "workers", f"{_file_name(worker_id)}.log")


def follow_log(
    path: StrPath,
    until: Callable[[], bool],
    *,
    poll: float = 0.2,
    encoding: str = "utf-8",
) -> Iterator[str]:
    """Yield the lines of *path* as they are written, until ``until()`` and all is read.

    Waits for the file to appear. Lines keep their ``\\n``; a last line without one
    is yielded at the end.

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.log")
        >>> _ = open(path, "w").write("one\\ntwo")
        >>> list(follow_log(path, until=lambda: True))
        ['one\\n', 'two']
    """
    fobj = _open_when_there(Path(path), until, poll)
    if fobj is None:
        return
    with fobj:
        pending = b""
        while True:
            chunk = fobj.read(65536)
            if not chunk:
                if not until():
                    time.sleep(poll)
                    continue
                chunk = fobj.read()  # what was written between the last read and the check
                if not chunk:
                    break
            *lines, pending = (pending + chunk).split(b"\n")
            yield from (line.decode(encoding, "replace") + "\n" for line in lines)
        if pending:
            yield pending.decode(encoding, "replace")


def _open_when_there(path: Path, until: Callable[[], bool], poll: float) -> BinaryIO | None:
    while True:
        try:
            return open(path, "rb")
        except FileNotFoundError:
            if until():
                return None
        time.sleep(poll)


def follow_entry(
    backend: QueueBackend,
    entry_id: str,
    queue_dir: StrPath,
    *,
    poll: float = 0.2,
    encoding: str = "utf-8",
) -> Iterator[str]:
    """Follow an entry's log (``queue logs -f``) until the entry ends or is removed."""

    def over() -> bool:
        entry = backend.get(entry_id)
        return entry is None or entry.is_final

    return follow_log(log_path(queue_dir, entry_id), over, poll=poll, encoding=encoding)
