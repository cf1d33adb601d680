"""The runner queue workers call for each entry: one temporary experiment, printed as the CLI.

A worker forks this into the entry's process group with stdout/stderr going to
the entry's log, so `labrun queue logs NAME` shows exactly what `exp run` would
have printed. The heavy modules are imported here, at module level: the worker
loads this module once, and every runner it forks starts with them loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from labrun import api
from labrun.cli.commands.exp_run import ExpReporter

# what a run needs beyond the api module itself, loaded once per worker (see above)
api.preload_experiment_modules()


def run_entry(entry: Any, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
    """Run ``entry``; returns its experiment (name, commit, ref) for the queue's record."""
    shown = f" on device(s) {','.join(devices)}" if devices else ""
    print(f"Running queued experiment '{entry.name}'{shown}", flush=True)
    result = api.queue_execute(entry, devices, ExpReporter(out=sys.stdout))
    print(f"\nRan experiment(s): {result.name}", flush=True)
    return {"name": result.name, "rev": result.rev, "ref": result.ref}
