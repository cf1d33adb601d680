"""A progress bar on stderr while data is hashed, stored, linked or checked out.

The engine reports each piece of data work as three kinds of events
(``DataStarted``, throttled ``DataProgress``, ``DataFinished``). This reporter
draws them as a rich progress bar when stderr is a terminal and the command is
not ``-q``; otherwise it draws nothing. Every other event goes on to the
reporter it wraps (the console's messages), unchanged.

rich is imported only when a bar is drawn, and a bar is drawn only for work
that has lasted :data:`DEFAULT_DELAY` seconds (``LABRUN_PROGRESS_DELAY``
overrides it): quick commands neither pay for the import nor flash a bar.
The bar is transient: it is erased when the work ends, leaving the output
as it is without a terminal.

    >>> from labrun import api
    >>> inner = api.events.RecordingReporter()
    >>> reporter = DataProgressReporter(inner, quiet=True)
    >>> reporter.emit(api.events.DataStarted("", "hashing", "data", 10, 100))
    >>> reporter.emit(api.events.StageSkipped("train"))
    >>> inner.names(api.events.StageSkipped), len(inner.events)
    (['train'], 1)
"""

from __future__ import annotations

import os
import sys
import time
from _thread import allocate_lock  # `threading` costs start-up time

from labrun import api

TYPE_CHECKING = False  # typing costs start-up time; only the type checker needs it
if TYPE_CHECKING:
    from typing import Any, TextIO

ev = api.events

DEFAULT_DELAY = 0.5  # seconds of work before a bar is worth drawing
_DELAY_ENV = "LABRUN_PROGRESS_DELAY"
_VERBS = {"hashing": "Hashing", "linking": "Linking", "checkout": "Checking out"}


class DataProgressReporter:
    """Draws data events as a progress bar on a terminal; passes other events to *inner*.

    >>> reporter = DataProgressReporter(api.events.NullReporter())   # doctest: +SKIP
    >>> api.add(None, ["data"], reporter=reporter)                   # doctest: +SKIP
    """

    def __init__(
        self,
        inner: api.events.Reporter,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        delay: float | None = None,
    ) -> None:
        self.inner = inner
        self.stream = stream or sys.stderr
        self.enabled = not quiet and _is_terminal(self.stream)
        self.delay = _delay_setting() if delay is None else delay
        self._lock = allocate_lock()
        self._current: api.events.DataStarted | None = None
        self._started_at = 0.0
        self._bar: _Bar | None = None

    def emit(self, event: api.events.Event) -> None:
        """Draw a data event (thread-safe); hand any other event on."""
        if not isinstance(event, ev.DataStarted | ev.DataProgress | ev.DataFinished):
            self._pause()
            self.inner.emit(event)
        elif self.enabled:
            with self._lock:
                self._data_event(event)

    def _data_event(self, event: api.events.Event) -> None:
        if isinstance(event, ev.DataStarted):
            self._current, self._started_at = event, time.monotonic()
            self._draw(0, 0)
        elif isinstance(event, ev.DataProgress) and self._current is not None:
            self._draw(event.files, event.size)
        elif isinstance(event, ev.DataFinished):
            self._current = None
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def _draw(self, files: int, size: int) -> None:
        current = self._current
        assert current is not None
        elapsed = time.monotonic() - self._started_at
        if self._bar is None:
            if elapsed < self.delay:
                return
            self._bar = _Bar(self.stream)
        self._bar.show(current, files, size, elapsed)

    def _pause(self) -> None:
        """Erase the bar before other output; the next progress event draws it again."""
        if self._bar is None:
            return
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


class _Bar:
    """One rich progress bar, drawn on demand (no refresh thread)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=stream, stderr=stream is sys.stderr)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.progress.add_task("", total=None, detail="")
        self.started = False

    def show(self, work: api.events.DataStarted, files: int, size: int, elapsed: float) -> None:
        """Redraw with the counts done so far."""
        by_size = work.size is not None and work.size > 0
        total = work.size if by_size else work.files
        self.progress.update(
            self.task,
            description=describe(work),
            total=total or None,
            completed=size if by_size else files,
            detail=detail_text(work, files, size, elapsed),
        )
        if self.started:
            self.progress.refresh()
        else:  # drawn first with a description
            self.progress.start()
            self.started = True

    def close(self) -> None:
        """Erase the bar."""
        if self.started:
            self.progress.stop()


def describe(work: api.events.DataStarted) -> str:
    """What the bar is about.

    >>> describe(api.events.DataStarted("", "checkout", "data/images", 3))
    'Checking out data/images'
    """
    verb = _VERBS.get(work.action, work.action.capitalize())
    return f"{verb} {work.path}" if work.path else verb


def detail_text(work: api.events.DataStarted, files: int, size: int, elapsed: float) -> str:
    """Files done of all, bytes (of all, when known) and the rate.

    >>> detail_text(api.events.DataStarted("", "hashing", "d", 7000, 2 << 20), 700, 1 << 20, 2.0)
    '700/7,000 files  1.0/2.1 MB  524.3 kB/s'
    >>> detail_text(api.events.DataStarted("", "checkout", "d", 9), 3, 1500, 0.5)
    '3/9 files  1.5 kB  3.0 kB/s'
    """
    parts = [f"{files:,}/{work.files:,} files"]
    if work.size:
        unit, scale = _unit(work.size)
        parts.append(f"{size / scale:,.1f}/{work.size / scale:,.1f} {unit}")
    elif size:
        unit, scale = _unit(size)
        parts.append(f"{size / scale:,.1f} {unit}")
    if size and elapsed > 0:
        unit, scale = _unit(size / elapsed)
        parts.append(f"{size / elapsed / scale:,.1f} {unit}/s")
    return "  ".join(parts)


def _unit(size: float) -> tuple[str, float]:
    """The decimal unit to show *size* bytes in."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return unit, scale
    return "B", 1.0


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _delay_setting() -> float:
    try:
        return max(0.0, float(os.environ.get(_DELAY_ENV, DEFAULT_DELAY)))
    except ValueError:
        return DEFAULT_DELAY


__all__ = ["DEFAULT_DELAY", "DataProgressReporter", "describe", "detail_text"]
