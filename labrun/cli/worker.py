"""The runner queue workers call for each entry: one temporary experiment, printed as the CLI.

A worker forks this into the entry's process group with stdout/stderr going to
the entry's log, so `labrun queue logs NAME` shows exactly what `exp run` would
have printed. What a run needs is loaded here, at module level (by the work trees,
``api.QueueWorkTrees``): the worker loads this module once, and every runner it
forks starts with it loaded.
Each worker keeps two work trees per project and resets one for each entry (in
the worker: after the claim, or ahead while the previous entry runs) instead of
creating and deleting one per entry.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from labrun import api
from labrun.cli.commands.exp_run import ExpReporter


class QueueRunner:
    """The runner of labrun's queue: ``runner(entry, devices, log)`` plus the worker's hooks.

    >>> run_entry.prepare(entry, "w1@host")  # the worker, after the claim  # doctest: +SKIP
    >>> run_entry(entry, (), log)["name"]  # the forked runner  # doctest: +SKIP
    'q1'
    """

    def __init__(self) -> None:
        self.trees = api.QueueWorkTrees()

    def prepare(self, entry: Any, worker: str) -> None:
        """Check the entry's commit out in this worker's work tree (in the worker)."""
        self.trees.prepare(entry, worker)

    def prepare_ahead(self, entry: Any, worker: str) -> None:
        """Make the other work tree ready for the entry likely claimed next (in the worker).

        None: no entry is likely to come; the other tree is removed already.
        """
        self.trees.prepare_ahead(entry, worker)

    def __call__(self, entry: Any, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
        """Run ``entry``; returns its experiment (name, commit, ref) for the queue's record."""
        shown = f" on device(s) {','.join(devices)}" if devices else ""
        print(f"Running queued experiment '{entry.name}'{shown}", flush=True)
        result = self.trees.execute(entry, devices, ExpReporter(out=sys.stdout))
        print(f"\nRan experiment(s): {result.name}", flush=True)
        return {"name": result.name, "rev": result.rev, "ref": result.ref}

    def close(self) -> None:
        """Remove the work trees (when the worker ends)."""
        self.trees.close()


run_entry = QueueRunner()
