"""The console reporter: turns engine events into DVC's messages.

stdout gets progress lines, stderr gets warnings; `-q` silences labrun's own
lines (stage commands still print). With `-j N`, captured command output is
printed with a `[stage]` prefix.
"""

from __future__ import annotations

import sys
from _thread import allocate_lock  # the low-level lock: `threading` costs start-up time
from collections.abc import Sequence

from labrun import api

TYPE_CHECKING = False  # typing costs start-up time; only the type checker needs it
if TYPE_CHECKING:
    from typing import TextIO

ev = api.events


class ConsoleReporter:
    """Prints DVC-style messages for repro/exp run events."""

    def __init__(self, *, quiet: bool = False, out: TextIO | None = None) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = sys.stderr
        self.previous_ran = False
        self.before_stage = False
        self.cached: str | None = None  # the stage just announced as cached
        self.lock = allocate_lock()

    def emit(self, event: api.events.Event) -> None:
        """Print one event (thread-safe)."""
        with self.lock:
            if isinstance(event, ev.Output):
                print(f"[{event.stage}] {event.line}", file=self.out, flush=True)
            elif isinstance(event, ev.Warning_ | ev.StageFailed):
                if isinstance(event, ev.StageFailed):
                    self.previous_ran = self.before_stage
                self._warn(event)
            elif not self.quiet:
                self._info(event)

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _stage_start(self) -> None:
        if self.previous_ran:
            self._say("")
        self.before_stage = self.previous_ran  # a failed stage does not count (as DVC)
        self.previous_ran = False

    def _info(self, event: api.events.Event) -> None:
        just_cached, self.cached = self.cached, None
        if isinstance(event, ev.CommandStarted):
            self._say(f"> {event.command}")
        elif isinstance(event, ev.LockWritten):
            if event.path.endswith(".lock"):
                if event.verb == "generated":
                    self._say(f"Generating lock file '{event.path}'")
                self._say(f"Updating lock file '{event.path}'")
        elif isinstance(event, ev.RunFinished):
            self._finished(event)
        else:
            self._stage_event(event, just_cached)

    def _stage_event(self, event: api.events.Event, just_cached: str | None) -> None:
        """The first line(s) about a stage, after an empty line where DVC prints one."""
        if isinstance(event, ev.StageSkipped):
            self._stage_start()
            if event.data_source:
                self._say(f"'{event.stage}' didn't change, skipping")
            else:
                self._say(f"Stage '{event.stage}' didn't change, skipping")
        elif isinstance(event, ev.StageRestored):
            self._stage_start()
            self._say(f"Stage '{event.stage}' is cached - skipping run, checking out outputs")
            self.previous_ran = True
            self.cached = event.stage
        elif isinstance(event, ev.StageStarted):
            if just_cached != event.stage:  # `--dry` says "is cached", then runs it: no gap
                self._stage_start()
            self._say(f"Running stage '{event.stage}':")
            self.previous_ran = True
        elif isinstance(event, ev.StageVerifying):
            self._stage_start()
            kind = "outputs in frozen stage" if event.frozen else "data sources in stage"
            self._say(f"Verifying {kind}: '{event.stage}'")
            self.previous_ran = True
        elif type(event).__name__ == "StagePulled":  # `--pull` (labrun.repro.run)
            self._stage_start()
            self._say(f"Pulling data for stage: '{event.stage}'")
            if not getattr(event, "found", True):
                self._say(f"Unable to pull data for stage: '{event.stage}'")

    def _finished(self, event: api.events.RunFinished) -> None:
        if event.git_add:
            import shlex

            files = " ".join(shlex.quote(f) for f in event.git_add)
            self._say("\nTo track the changes with git, run:\n\n\tgit add " + files)
            self._say("\nTo enable auto staging, run:\n\n\tdvc config core.autostage true")
        if event.changed:
            self._say("Use `dvc push` to send your updates to remote storage.")
        else:
            self._say("Data and pipelines are up to date.")

    def _warn(self, event: api.events.Event) -> None:
        if self.quiet:
            return
        if isinstance(event, ev.Warning_):
            print(f"WARNING: {event.message}", file=self.err, flush=True)
        elif isinstance(event, ev.StageFailed):
            if event.mode == "ignore":
                print(f"WARNING: {event.message} (ignored)", file=self.err, flush=True)
            elif event.mode == "keep-going":
                print(f"WARNING: {event.message}", file=self.err, flush=True)
                if event.skipped:
                    print(f"WARNING: {_skip_text(event.skipped)}", file=self.err, flush=True)


def _skip_text(names: Sequence[str]) -> str:
    items = list(names)
    if len(items) == 1:
        return f"Stage '{items[0]}' will be skipped due to this failure"
    quoted = [f"'{n}'" for n in items]
    return f"Stages {', '.join(quoted[:-1])} and {quoted[-1]} will be skipped due to this failure"
