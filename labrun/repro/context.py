"""What one repro/status run shares: the project, its cache, hash memo and lock files.

>>> ctx = RunContext.open(project)                 # doctest: +SKIP
>>> ctx.recorded(stage)                            # the lock entry, or None  # doctest: +SKIP
"""

from __future__ import annotations

import os
from _thread import allocate_lock  # `threading` costs start-up time
from collections.abc import Callable

from labrun.cache.hashing import HashInfo
from labrun.cache.odb import LocalObjectStore
from labrun.cache.state import State
from labrun.ignore import DvcIgnore
from labrun.pipeline.lockfile import LockFile, lock_relpath
from labrun.pipeline.stage import Stage
from labrun.project import Project
from labrun.record import field, record
from labrun.repro.events import NullReporter, Reporter, Warning_

TYPE_CHECKING = False  # imported for the type checker only: `status` never links nor signals
if TYPE_CHECKING:
    from _thread import LockType
    from typing import Any

    from labrun.cache.links import Workspace
    from labrun.repro.checkpoint import CheckpointHook

Confirm = Callable[[str], bool]


@record(frozen=False)
class RunContext:
    """Shared, lazily opened resources of a run (thread-safe where stages run in parallel)."""

    project: Project
    state: State
    odb: LocalObjectStore
    ignore: DvcIgnore
    lockfiles: dict[str, LockFile] = field(default_factory=dict)
    write_lock: LockType = field(default_factory=allocate_lock)
    reporter: Reporter = field(default_factory=NullReporter)
    touched: set[str] = field(default_factory=set)  # files to `git add` afterwards
    ignored_outs: list[str] = field(default_factory=list)  # .gitignore entries added this run
    capture: bool = False  # capture command output as Output events (parallel runs)
    # absolute path → md5 recorded for the outputs of stages evaluated so far (--allow-missing)
    recorded_outs: dict[str, str] = field(default_factory=dict)
    confirm: Confirm | None = None  # asks the user before a stage runs (`-i`)
    checkpoint: CheckpointHook | None = None  # set by `exp run`: checkpoint stages signal it
    linked: Workspace | None = None  # built by `workspace` when first needed
    link_lock: LockType = field(default_factory=allocate_lock)
    # lock files (relpaths) whose write waits for flush_locks(); None: each is written at once
    deferred_locks: set[str] | None = None

    def warn(self, message: str, stage: str = "") -> None:
        """Report a warning event."""
        self.reporter.emit(Warning_(stage, message))

    @classmethod
    def open(cls, project: Project) -> RunContext:
        """Open the cache, the hash memo and the ignore rules of a project."""
        cfg = project.config
        jobs = cfg.get("core", "checksum_jobs")  # unset: the memo picks by core count
        state = State.for_project(project.root, jobs=jobs if isinstance(jobs, int) else None)
        odb = LocalObjectStore(cfg.cache_root, shared=cfg.cache_shared == "group")
        return cls(project, state, odb, DvcIgnore(project.root))

    @property
    def workspace(self) -> Workspace:
        """Puts data from the cache into the work tree per `cache.type` (built once)."""
        with self.link_lock:
            if self.linked is None:
                from labrun.cache.links import Linker, Workspace, parse_link_types

                types = parse_link_types(list(self.project.config.cache_types))
                self.linked = Workspace(self.odb, Linker(types), self.state, self.ignore)
            return self.linked

    @property
    def root(self) -> str:
        """The project root."""
        return self.project.root

    def close(self) -> None:
        """Release the hash memo."""
        self.state.close()

    def lockfile(self, stage: Stage) -> LockFile:
        """The `dvc.lock` beside the stage's `dvc.yaml` (loaded once)."""
        relpath = lock_relpath(stage.dvcfile)
        if relpath not in self.lockfiles:
            self.lockfiles[relpath] = LockFile.load(self.root, relpath)
        return self.lockfiles[relpath]

    def save_lock(self, lock: LockFile, verb: str) -> str:
        """Write a changed lock file now, or at :meth:`flush_locks` when writes are deferred.

        Returns the verb to report ("generated" or "updated", from ``with_entry``): a
        file whose first write is pending is "updated" after that, as if written.
        """
        if self.deferred_locks is None:
            lock.save()
            return verb
        if lock.relpath in self.deferred_locks:
            return "updated"
        self.deferred_locks.add(lock.relpath)
        return verb

    def flush_locks(self) -> None:
        """Write the lock files whose writes were deferred (each once)."""
        if self.deferred_locks:
            for relpath in sorted(self.deferred_locks):
                self.lockfiles[relpath].save()
            self.deferred_locks.clear()

    def recorded(self, stage: Stage) -> dict[str, Any] | None:
        """What was recorded for the stage: its lock entry, or a `.dvc` file's data."""
        if stage.is_data_source:
            return dict(stage.raw)
        return self.lockfile(stage).entry(stage.name)

    def addressing(self, stage: Stage) -> str:
        """The stage's name as the user sees it from their cwd."""
        return stage.addressing_from(self.project.cwd_rel)

    def relpath(self, abspath: str) -> str:
        """A path relative to the user's cwd, for messages."""
        return os.path.relpath(abspath, self.project.cwd)

    def hash_path(self, path: str, *, legacy: bool = False) -> HashInfo | None:
        """The current hash of a file or directory, or None if it does not exist."""
        if os.path.isdir(path):
            return self.state.hash_dir(path, self.ignore, legacy=legacy)
        if os.path.exists(path):
            return self.state.hash_file(path, legacy=legacy)
        return None


def records_by_path(entry: dict[str, Any] | None, key: str) -> dict[str, dict[str, Any]]:
    """The `deps`/`outs` records of a lock entry, by def path."""
    if not entry:
        return {}
    return {r["path"]: r for r in entry.get(key) or [] if isinstance(r, dict) and "path" in r}
