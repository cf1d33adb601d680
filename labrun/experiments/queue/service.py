"""The experiment queue of one project: enqueue experiments, run them in workers, manage them.

Queue entries live in `.dvc/tmp/labrun/queue/queue.db` (SQLite, durable); the
workspace state each entry runs is a commit kept alive by
`refs/labrun/queue/<id>` (outside `refs/exps/`, where `dvc` would mistake it
for an experiment). A worker runs an entry with the temporary executor
(:mod:`labrun.experiments.tempdir`), so the result is an ordinary experiment
ref, and its output goes to the entry's log.

    >>> entry_names("sweep", 3)
    ['sweep-1', 'sweep-2', 'sweep-3']
"""

from __future__ import annotations

import functools
import os
import time

from labrun.errors import LabrunError
from labrun.experiments.queue.backend import find_entry
from labrun.experiments.queue.entry import QUEUE_DIR_ENV, EntryState, QueueEntry, QueueError
from labrun.experiments.queue.local import SqliteQueueBackend
from labrun.project import Project
from labrun.record import asdict, record, replace
from labrun.repro.events import Event
from labrun.scm import git

TYPE_CHECKING = False  # `queue status` imports this module: what it does not need loads later
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

    from labrun.experiments import run as exprun
    from labrun.experiments.queue.workers import Supervisor

RUNNER = "labrun.cli.worker:run_entry"  # prints like the CLI into the entry's log


@record
class QueueOptions:
    """How `exp run --queue` enqueues: priority, GPUs needed, random sampling of a sweep."""

    priority: int = 0
    gpus: int = 0
    sample: int | None = None
    seed: int | None = None


@record
class Queued(Event):
    """One experiment was put in the queue (``overrides``: DVC's dict repr, or "")."""

    name: str = ""
    overrides: str = ""


def queue_dir(project: Project) -> str:
    """Where the queue keeps its database, logs and results."""
    return os.path.join(project.tmp_dir, "queue")


def open_queue(project: Project) -> SqliteQueueBackend:
    """The project's durable queue (created on first use)."""
    path = queue_dir(project)
    os.makedirs(path, exist_ok=True)
    return SqliteQueueBackend(os.path.join(path, "queue.db"))


def entry_names(name: str | None, count: int) -> list[str | None]:
    """`-n NAME` for a sweep names its entries NAME-1, NAME-2, ... (as DVC)."""
    if name is None:
        return [None] * count
    return [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]


def enqueue(
    project: Project, opts: exprun.ExpRunOptions, qopts: QueueOptions, emit: Any = None
) -> list[QueueEntry]:
    """`exp run --queue`: one entry per combination of the sweep (or one).

    Each entry's commit holds the workspace with its overrides already applied
    (as DVC's queue entries do), so `exp show` shows its params before it runs.
    Every combination is applied to copies of the params files first: a bad
    override fails here, with nothing queued, rather than later in a worker.
    """
    import uuid

    from labrun.experiments import params
    from labrun.experiments import run as exprun
    from labrun.experiments.overrides import override_texts
    from labrun.experiments.refs import QUEUE_NS

    baseline, _ = exprun.require_baseline(project)
    overrides = params.parse_overrides(opts.set_params, opts.legacy_params)
    combos = params.expand_sweeps(overrides) if params.has_sweeps(overrides) else [overrides]
    combos = _sampled(combos, qopts)
    captures = [_capture(project, baseline, combo) for combo in combos]
    template = _spec(project, opts, baseline)
    entries = []
    with open_queue(project) as queue:
        taken = _taken_names(project, queue, baseline)
        names = entry_names(opts.name, len(combos))
        for combo, capture, wanted in zip(combos, captures, names, strict=True):
            name = _name(baseline, wanted, taken, opts.repro.force)
            texts = [f"{f}:{t}" for f, items in override_texts(combo).items() for t in items]
            spec = {**template, "name": name, "capture": capture, "overrides": texts}
            entry = QueueEntry(
                uuid.uuid4().hex[:12], name, baseline, spec, qopts.priority, qopts.gpus
            )
            git.update_ref(project.root, f"{QUEUE_NS}/{entry.id}", capture, "labrun: queued")
            entries.append(queue.put(entry))
            if emit is not None:
                emit(
                    Queued("", name=name, overrides=params.format_overrides(combo) if combo else "")
                )
    return entries


def _spec(project: Project, opts: exprun.ExpRunOptions, baseline: str) -> dict[str, Any]:
    """What a worker needs to run the entry (JSON): the temp-run spec and repro flags."""
    from labrun.experiments.tempdir import project_relpath

    repro = opts.repro
    return {
        "root": project.root,
        "baseline": baseline,
        "message": opts.message,
        "copy_paths": [project_relpath(project, p) for p in opts.copy_paths],
        "rev": opts.rev,
        "repro": {k: v for k, v in asdict(repro).items() if k in _REPRO_KEYS},
    }


_REPRO_KEYS = (
    "targets",
    "force",
    "single_item",
    "pipeline",
    "all_pipelines",
    "recursive",
    "downstream",
    "glob",
    "force_downstream",
    "allow_missing",
    "on_error",
    "no_run_cache",
)


def _sampled(combos: list[Any], qopts: QueueOptions) -> list[Any]:
    if qopts.sample is None or qopts.sample >= len(combos):
        return combos
    import random

    if qopts.sample < 1:
        raise QueueError("--sample must be at least 1")
    picked = sorted(random.Random(qopts.seed).sample(range(len(combos)), qopts.sample))
    return [combos[i] for i in picked]


def _capture(project: Project, baseline: str, combo: Mapping[str, Any]) -> str:
    """A commit of the workspace with ``combo`` applied to copies of its params files."""
    import shutil
    import tempfile

    from labrun.experiments import params

    with tempfile.TemporaryDirectory(prefix="labrun-params-") as scratch:
        for file in combo:
            source = os.path.join(project.root, file)
            if os.path.isfile(source):
                target = os.path.join(scratch, file)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(source, target)
        edited = params.apply_overrides(scratch, combo) if combo else []
        overlay = {
            f: os.path.join(scratch, f) for f in edited if os.path.isfile(os.path.join(scratch, f))
        }
        tree = git.snapshot_tree(project.root, [], overlay=overlay)
    return git.commit_tree(project.root, tree, [baseline], "labrun: queued experiment")


def _taken_names(project: Project, queue: SqliteQueueBackend, baseline: str) -> set[str]:
    from labrun.experiments.refs import refs_of_baseline

    taken = set(refs_of_baseline(git.git_dir(project.root), baseline))
    live = (EntryState.QUEUED, EntryState.RUNNING)
    taken.update(e.name for e in queue.iter_entries(live) if e.baseline == baseline)
    return taken


def _name(baseline: str, wanted: str | None, taken: set[str], force: bool) -> str:
    from labrun.experiments.names import random_name
    from labrun.experiments.refs import ExperimentExistsError, validate_name

    if wanted is None:
        name = random_name(taken)
    else:
        validate_name(baseline, wanted)
        if wanted in taken and not force:
            raise ExperimentExistsError(wanted)
        name = wanted
    taken.add(name)
    return name


# --- running entries (inside a worker) ---


def project_of(entry: QueueEntry) -> Project:
    """The project a worker runs ``entry`` in: the one whose queue it serves.

    A worker names its queue directory in ``LABRUN_QUEUE_DIR``; when that is a
    project's queue (``<root>/.dvc/tmp/labrun/queue``), that project wins over the
    root recorded at queue time: a project copied or moved together with its queue
    runs its entries where it is now, never in the directory it was copied from.
    """
    served = os.environ.get(QUEUE_DIR_ENV)
    if served:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(served))))
        if os.path.join(root, ".dvc", "tmp", "labrun", "queue") == os.path.normpath(served):
            return Project.find(root)
    return Project.find(entry.spec["root"])


def run_spec_of(entry: QueueEntry, devices: Sequence[str]) -> tuple[Project, Any, Any]:
    """(project, temp-run spec, repro options) of an entry, as a worker runs it.

    A retried entry (its worker died) continues from its last checkpoint when
    it made some, and otherwise replaces what the dead run may have left.
    """
    from labrun.experiments.queue.devices import device_env
    from labrun.experiments.tempdir import TempSpec
    from labrun.repro.options import ReproOptions

    spec = entry.spec
    project = project_of(entry)
    repro = dict(spec["repro"])
    repro["targets"] = tuple(repro.get("targets") or ())
    tip = _previous_attempt(project, entry)
    temp = TempSpec(
        capture=spec["capture"],
        baseline=spec["baseline"],
        name=spec["name"],
        message=spec.get("message"),
        copy_paths=tuple(spec.get("copy_paths") or ()),
        env=tuple(device_env(tuple(devices)).items()),
        rev=spec.get("rev") or tip,
        overwrite=tip is not None,
    )
    return project, temp, ReproOptions(**repro)


#: outputs bigger than this are not copied into a spare work tree ahead of the claim
AHEAD_BYTES = 64 * 1024 * 1024


@record
class _Prepared:
    entry_id: str
    tree: Any  # the ReusableWorktree
    temp: Project  # the project as the tree holds it
    outputs: bool | None  # all checked out (False: not all; None: config or checkout failed)


class QueueWorkTrees:
    """The work trees of one worker process, reused from entry to entry (two per project).

    In the worker, :meth:`prepare` makes a tree ready for the claimed entry: its
    commit checked out, the config written, the outputs checked out. The runner
    forked afterwards finds it so, and :meth:`execute` runs the entry there. While
    it runs, :meth:`prepare_ahead` readies the other tree for the entry that will
    likely come next; if it does, its runner starts at once. :meth:`close` removes
    the trees when the worker ends.

    It is made once per worker process, before any runner is forked, and loads
    what running an entry needs then (:func:`preload_runs`): every runner starts
    with it loaded.

        >>> trees = QueueWorkTrees()
        >>> trees.prepare(entry, "w1@host")  # in the worker  # doctest: +SKIP
        >>> trees.execute(entry, (), reporter).name  # in the runner  # doctest: +SKIP
        'q1'
    """

    def __init__(self) -> None:
        self.trees: dict[str, list[Any]] = {}  # project root → its ReusableWorktrees
        self.ready: _Prepared | None = None  # the claimed entry's tree
        self.ahead: _Prepared | None = None  # a tree made ready for a likely next entry
        preload_runs()

    def prepare(self, entry: QueueEntry, worker: str) -> None:
        """Make a tree of the entry's project ready for it (in the worker, after the claim)."""
        ahead, self.ahead, self.ready = self.ahead, None, None
        if ahead is None or ahead.entry_id != entry.id or ahead.outputs is None:
            self.ready = self._make_ready(entry, worker, None)
        elif ahead.outputs:
            self.ready = ahead
        else:  # checked out and configured; its outputs were too big to check out ahead
            self.ready = replace(ahead, outputs=_check_out_outputs(ahead.temp, None))

    def prepare_ahead(self, entry: QueueEntry | None, worker: str) -> None:
        """Make the other tree ready for ``entry`` (while the claimed entry runs).

        None: no entry is likely to come; the other trees are removed already.
        """
        self.ahead = None
        busy = self.ready.tree if self.ready is not None else None
        if entry is not None:
            self.ahead = self._make_ready(entry, worker, busy, AHEAD_BYTES)
            return
        for root, trees in self.trees.items():
            for tree in trees:
                if tree is not busy:
                    tree.remove()
            self.trees[root] = [tree for tree in trees if tree is busy]

    def _make_ready(
        self, entry: QueueEntry, worker: str, busy: Any, max_bytes: int | None = None
    ) -> _Prepared:
        project = project_of(entry)
        tree = self._tree(project, worker, busy)
        temp = tree.checkout(entry.spec["capture"])
        try:
            tree.configure(project, temp)
        except LabrunError:  # the runner meets it again, and reports it as a run would
            return _Prepared(entry.id, tree, temp, None)
        return _Prepared(entry.id, tree, temp, _check_out_outputs(temp, max_bytes))

    def _tree(self, project: Project, worker: str, busy: Any) -> Any:
        from labrun.experiments.tempdir import ReusableWorktree

        trees = self.trees.setdefault(project.root, [])
        for tree in trees:
            if tree is not busy:
                return tree
        name = worker if not trees else f"{worker}-{len(trees) + 1}"
        trees.append(ReusableWorktree(project, name))
        return trees[-1]

    def execute(self, entry: QueueEntry, devices: Sequence[str], reporter: Any) -> Any:
        """Run ``entry`` (in its prepared tree, else in a fresh one); its ExpResult."""
        from labrun.experiments.tempdir import prepare, run_spec

        project, spec, repro = run_spec_of(entry, devices)
        ready = self.ready if self.ready is not None and self.ready.entry_id == entry.id else None
        if ready is None:
            return run_spec(project, spec, repro, reporter)
        if ready.outputs is None and not spec.copy_paths:
            prepare(project, ready.temp, spec)  # what failed in the worker fails here, logged
        return run_spec(project, spec, repro, reporter, ready.temp)

    def close(self) -> None:
        """Remove the trees (at the end of the worker)."""
        for trees in self.trees.values():
            for tree in trees:
                tree.remove()
        self.trees.clear()
        self.ready = self.ahead = None


#: what running an entry loads beyond the runner's own imports (see :func:`preload_runs`)
_RUN_MODULES = (
    "labrun.experiments.tempdir",
    "labrun.experiments.run",
    "labrun.experiments.save",
    "labrun.experiments.params",
    "labrun.experiments.checkpoints",
    "labrun.repro.engine",
    "labrun.repro.tracking",
    "labrun.repro.scheduler",
    "labrun.repro.run",
    "labrun.pipeline.yamlemit",
    "labrun.proc",
    "labrun.scm.commits",
    "labrun.scm.objects",
    "labrun.scm.staging",
)


@functools.cache  # once per process
def preload_runs() -> None:
    """Load, once, the modules running an entry needs: every runner forked after has them.

    A runner that had to import one itself would import it again for every entry.
    """
    from labrun import load_module

    for name in _RUN_MODULES:
        load_module(name)


def _check_out_outputs(temp: Project, max_bytes: int | None) -> bool | None:
    """Whether all outputs are in place (None: the checkout failed; the runner says why)."""
    from labrun.experiments.tempdir import check_out_outputs

    try:
        return check_out_outputs(temp, max_bytes)
    except LabrunError:
        return None


def _previous_attempt(project: Project, entry: QueueEntry) -> str | None:
    from labrun.experiments.refs import ExpRef

    if entry.attempts <= 1:
        return None
    exp = ExpRef(entry.spec["baseline"], entry.spec["name"])
    return git.resolve_ref(git.git_dir(project.root), exp.ref)


# --- managing the queue ---


def entries(project: Project, states: Iterable[str] | None = None) -> list[QueueEntry]:
    """Entries (oldest first), after settling those whose worker died."""
    with open_queue(project) as queue:
        queue.requeue_orphans()
        return list(queue.iter_entries(tuple(states) if states is not None else None))


def resolve(project: Project, key: str) -> QueueEntry:
    """An entry by id, id prefix or name (the newest of that name)."""
    with open_queue(project) as queue:
        found = find_entry(queue, key)
    if found is None:
        raise QueueError(f"'{key}' is not a queued experiment", hint="see `labrun queue status`")
    return found


def remove(project: Project, keys: Sequence[str], states: Sequence[str] = ()) -> list[QueueEntry]:
    """Remove entries by name/id and every entry in ``states``; running ones stay."""
    with open_queue(project) as queue:
        chosen = [resolve(project, k) for k in keys]
        if states:
            chosen += list(queue.iter_entries(tuple(states)))
        removed = set(queue.remove([e.id for e in chosen]))
    gone = [e for e in chosen if e.id in removed]
    from labrun.experiments.queue.logs import log_path
    from labrun.experiments.refs import QUEUE_NS

    git.delete_refs(project.root, [f"{QUEUE_NS}/{e.id}" for e in gone])
    for entry in gone:
        log_path(queue_dir(project), entry.id).unlink(missing_ok=True)
    return gone


def kill(project: Project, keys: Sequence[str], force: bool = False) -> list[QueueEntry]:
    """Ask the workers running these entries to kill them (whole process group)."""
    chosen = [resolve(project, k) for k in keys]
    with open_queue(project) as queue:
        return [e for e in chosen if queue.request_kill(e.id, force=force)]


def retry(project: Project, keys: Sequence[str]) -> list[str]:
    """Queue failed or cancelled entries again (all of them when ``keys`` is empty)."""
    with open_queue(project) as queue:
        if keys:
            ids = [resolve(project, k).id for k in keys]
        else:
            ids = [e.id for e in queue.iter_entries((EntryState.FAILED, EntryState.CANCELLED))]
        return queue.retry(ids)


def set_priority(project: Project, key: str, priority: int) -> QueueEntry:
    """Change the priority of a queued entry (higher runs first)."""
    entry = resolve(project, key)
    with open_queue(project) as queue:
        if not queue.set_priority(entry.id, priority):
            raise QueueError(f"'{entry.name}' is not queued any more: its priority is fixed")
        return queue.get(entry.id) or entry


def supervisor(project: Project, devices: Sequence[str] = (), max_entries: int = 0) -> Supervisor:
    """The worker supervisor of this project's queue (workers leave when it is empty)."""
    from labrun.experiments.queue.workers import Supervisor, WorkerConfig

    config = WorkerConfig(queue_dir(project), devices=tuple(devices), max_entries=max_entries)
    return Supervisor(open_queue(project), RUNNER, config, cwd=project.root)


def start(
    project: Project,
    jobs: int,
    devices: Sequence[str] = (),
    *,
    detach: bool,
    max_entries: int = 0,
) -> Supervisor:
    """Start up to ``jobs`` workers (the missing ones); they exit when the queue is empty.

    Attached workers (not ``detach``) are forked from this process: no interpreter
    to start, and the experiment modules are loaded once, here.
    """
    if jobs < 1:
        raise QueueError("-j/--jobs must be at least 1")
    entries(project)  # settle orphans first: their entries are queued again
    sup = supervisor(project, devices, max_entries)
    sup.start(jobs, detach=detach, fork=not detach)
    return sup


def stop(project: Project, kill_running: bool = False) -> int:
    """Ask every worker to stop after its entry (or at once, killing it)."""
    with open_queue(project) as queue:
        return queue.request_stop(kill=kill_running)


def log_of(project: Project, entry: QueueEntry) -> Path:
    """The log file of an entry (stage output of every attempt)."""
    from labrun.experiments.queue.logs import log_path

    return log_path(queue_dir(project), entry.id)


def wait_idle(project: Project, poll: float = 0.2) -> None:
    """Block until no entry is queued or running (used by tests and scripts)."""
    live = (EntryState.QUEUED, EntryState.RUNNING)
    while entries(project, live):
        time.sleep(poll)
