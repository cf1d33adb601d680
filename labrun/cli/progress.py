"""Live progress of queued experiments: one line per change, plus a live block on a terminal.

Every start and end of an experiment is printed as a line of its own (so logs
and CI output read well). On a terminal, a block below them shows each running
experiment with its elapsed time and the last line of its log, redrawn in place.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labrun import api


class QueueProgress:
    """Turns successive queue snapshots into progress output."""

    def __init__(self, *, quiet: bool = False, seen: dict[str, str] | None = None) -> None:
        self.quiet = quiet
        self.states: dict[str, str] = dict(seen or {})
        self.live = not quiet and sys.stdout.isatty()
        self.drawn = 0  # lines of the live block currently on screen
        self.succeeded: list[str] = []
        self.failed: list[str] = []

    def update(self, entries: Iterable[api.QueueEntry]) -> None:
        """Print what changed since the last snapshot; redraw the live block."""
        entries = list(entries)
        self._clear()
        for entry in entries:
            before = self.states.get(entry.id)
            if before != entry.state:
                self.states[entry.id] = entry.state
                self._changed(entry, before)
        self._draw([e for e in entries if e.state == "running"])

    def _changed(self, entry: api.QueueEntry, before: str | None) -> None:
        if entry.state == "running":
            devices = f" on device(s) {','.join(entry.devices)}" if entry.devices else ""
            self._say(f"Running experiment '{entry.name}'{devices}")
        elif entry.state == "succeeded" and before is not None:
            self.succeeded.append(entry.name)
            self._say(f"Experiment '{entry.name}' succeeded in {_elapsed(entry)}")
        elif entry.state in ("failed", "cancelled") and before is not None:
            self.failed.append(entry.name)
            reason = (entry.result or {}).get("error") or entry.state
            self._say(
                f"Experiment '{entry.name}' failed after {_elapsed(entry)}: {reason} "
                f"(see `labrun queue logs {entry.name}`)"
            )

    def finish(self, entries: Iterable[api.QueueEntry]) -> None:
        """Last update, then the summary lines."""
        self.update(entries)
        self._clear()
        if self.quiet:
            return
        if self.succeeded:
            print(f"\nRan experiment(s): {', '.join(self.succeeded)}")
        if self.failed:
            names = ", ".join(f"'{n}'" for n in self.failed)
            print(f"Failed to reproduce experiment(s) {names}", file=sys.stderr)
        if not (self.succeeded or self.failed):
            print("No queued experiments to run.")

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def _draw(self, running: list[api.QueueEntry]) -> None:
        if not self.live or not running:
            return
        width = _width()
        for entry in running:
            tail = _last_line(entry.log)
            line = f"  ⏵ {entry.name} {_elapsed(entry)}  {tail}"
            sys.stdout.write(line[: width - 1] + "\n")
        self.drawn = len(running)
        sys.stdout.flush()

    def _clear(self) -> None:
        if self.drawn:
            sys.stdout.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0


def _elapsed(entry: api.QueueEntry) -> str:
    if entry.started is None:
        return "0.0s"
    seconds = (entry.finished or time.time()) - entry.started
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{seconds:.1f}s"


def _last_line(path: str) -> str:
    """The last non-empty line of a log (reads only its end)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            stream.seek(max(0, size - 4096))
            lines = stream.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 20)).columns
