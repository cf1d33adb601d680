"""One repro or status run over a project: collect, plan, execute, report.

>>> result = reproduce(project, ReproOptions(targets=["train"]), reporter)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from labrun.errors import LabrunError
from labrun.fsutil import FileLock, LockTimeoutError
from labrun.pipeline.dag import build_graph, outputs_outside
from labrun.pipeline.index import Index
from labrun.pipeline.interpolate import ParsingConfig
from labrun.pipeline.stage import Stage
from labrun.pipeline.targets import Collector
from labrun.project import Project
from labrun.record import record
from labrun.repro.context import Confirm, RunContext
from labrun.repro.events import Reporter, RunFinished, Warning_
from labrun.repro.options import ReproOptions
from labrun.repro.plan import Plan, make_plan, single_item_plan
from labrun.repro.status import HashMemo, StageStatus, stage_status
from labrun.scm.gitignore import discovery_filter, explain_dvcignored

TYPE_CHECKING = False  # for the type checker only: importing these costs start-up time
if TYPE_CHECKING:
    from labrun.repro.checkpoint import CheckpointHook
    from labrun.repro.scheduler import RunResult

LOCK_TIMEOUT = 3.0


def parsing_of(project: Project) -> ParsingConfig:
    """The `[parsing]` config as templating options."""
    cfg = project.config
    return ParsingConfig(bool_style=cfg.parsing_bool, list_style=cfg.parsing_list)


@contextmanager
def project_lock(
    project: Project, *, shared: bool = False, reporter: Reporter | None = None
) -> Iterator[None]:
    """The repo lock: readers share it; a writer says it waits, then fails clearly."""
    tmp = os.path.join(project.dvc_dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "labrun.lock")
    lock = FileLock(path, shared=shared, timeout=0)
    try:
        lock.acquire()
    except LockTimeoutError:
        if reporter is not None:
            waiting = (
                f"another labrun process is using this project: waiting up to {LOCK_TIMEOUT:g} s"
            )
            reporter.emit(Warning_("", waiting))
        lock = FileLock(path, shared=shared, timeout=LOCK_TIMEOUT)
        try:
            lock.acquire()
        except LockTimeoutError:
            raise LabrunError(
                "Unable to acquire lock. Most likely another labrun or DVC process is running.",
                hint="wait for it to finish; a crashed process never leaves the lock behind",
            ) from None
    try:
        yield
    finally:
        lock.release()


def _collector(project: Project, index: Index | None) -> Collector:
    col = Collector(project.root, project.cwd_rel, parsing_of(project), discovery_filter(project))
    if index is not None:
        col._files.update(index.pipelines)  # reuse what the index already parsed
    return col


def collect(project: Project, opts: ReproOptions, index: Index | None) -> list[Stage]:
    """The target stages (default: `./dvc.yaml`)."""
    col = _collector(project, index)
    found: list[Stage] = []
    for target in opts.targets or ["dvc.yaml"]:
        found.extend(col.collect(target, recursive=opts.recursive, glob=opts.glob))
    return found


def plan_for(project: Project, opts: ReproOptions, index: Index | None = None) -> Plan:
    """Targets + flags → the ordered stages to evaluate (``index``: already loaded)."""
    if opts.single_item and not (opts.pipeline or opts.all_pipelines):
        return single_item_plan(collect(project, opts, index))
    if index is None:
        index = Index.load(project.root, parsing_of(project), discovery_filter(project))
    explain = explain_dvcignored(project)
    graph = build_graph(project.root, index.stages, project.cwd_rel, explain)
    targets = index.stages if opts.all_pipelines else collect(project, opts, index)
    return make_plan(graph, targets, opts)


@record
class RunHooks:
    """What a caller gives a pipeline run beyond its options.

    ``confirm`` asks the user (`-i`); ``checkpoint`` (given by `exp run`) records the
    checkpoints that stages with `checkpoint: true` outputs signal while they run;
    ``index`` is the project's pipeline when the caller has it loaded already.
    """

    confirm: Confirm | None = None
    checkpoint: CheckpointHook | None = None
    index: Index | None = None


def reproduce(
    project: Project, opts: ReproOptions, reporter: Reporter, hooks: RunHooks | None = None
) -> RunResult:
    """Bring the targets up to date; ReproFailedError when stages failed.

    ``opts.defer_locks`` (set by `exp run`) writes each changed `dvc.lock` once, when
    the stages are done, failed or interrupted, instead of after every stage: one
    fsync instead of one per stage. A crash (power cut, SIGKILL) before that
    write leaves the old entries, so the stages that ran look changed and run
    again (or come back from the run-cache, which is saved after each stage):
    nothing wrong is recorded. Checkpoint runs write at once, as their commits
    take `dvc.lock` from the disk.
    """
    hooks = hooks or RunHooks()
    checkpoint = hooks.checkpoint
    with project_lock(project, reporter=reporter):
        plan = plan_for(project, opts, hooks.index)
        if opts.pull:
            _pull_run_cache(project, opts, reporter)
        bad = outputs_outside(project.root, plan.stages)
        if bad:
            raise LabrunError(
                f"Cached output(s) outside of DVC project: {', '.join(bad)}.",
                hint="use `cache: false` for outputs outside the project",
            )
        ctx = RunContext.open(project)
        ctx.reporter, ctx.confirm, ctx.checkpoint = reporter, hooks.confirm, checkpoint
        if opts.defer_locks and checkpoint is None:
            ctx.deferred_locks = set()
        # imported here: `status` shares this module and runs no stage (start-up is a feature)
        from labrun.repro.scheduler import execute

        try:
            try:
                result = execute(ctx, plan, opts)
            finally:
                ctx.flush_locks()  # the stages that succeeded are recorded, as after each one
        except BaseException:
            _undo_gitignore(ctx)  # as DVC: entries added by a failed run are removed again
            ctx.close()
            raise
        _finish(ctx, reporter, opts, result.changed)
        return result


def _pull_run_cache(project: Project, opts: ReproOptions, reporter: Reporter) -> None:
    """`--pull` starts by pulling the run-cache; there is no remote storage to pull from.

    Without a remote, DVC warns and goes on (missing outputs of unchanged stages are
    then checked out of the local cache). labrun cannot read remote storage yet, so
    with a remote configured it refuses rather than silently not pulling.
    """
    if project.config.remotes:
        raise LabrunError(
            "--pull cannot read remote storage yet",
            hint="run `dvc pull` first, then reproduce without --pull",
        )
    if not opts.no_run_cache:
        reporter.emit(
            Warning_(
                "",
                "Failed to pull run cache: config file error: no remote specified in "
                f"{project.root}. Create a default remote with\n"
                "    dvc remote add -d <remote name> <remote url>",
            )
        )


def _undo_gitignore(ctx: RunContext) -> None:
    from labrun.scm import gitignore

    for path in ctx.ignored_outs:
        gitignore.remove_entry(path)


def _finish(ctx: RunContext, reporter: Reporter, opts: ReproOptions, changed: bool) -> None:
    touched = sorted(os.path.relpath(p, ctx.project.cwd) for p in ctx.touched)
    git_add: list[str] = []
    if touched and ctx.project.has_scm and not opts.dry:
        if ctx.project.config.autostage:
            from labrun.scm import git

            git.add(ctx.project.cwd, touched)
        else:
            git_add = touched
    reporter.emit(RunFinished("", changed=changed, git_add=git_add))
    ctx.close()


def _data_paths(root: str, stages: Sequence[Stage]) -> Iterator[str]:
    """Every dependency and output path of the stages (those the memo may know)."""
    for stage in stages:
        for dep in stage.deps:
            yield stage.abspath(root, dep)
        for out in stage.outs:
            yield stage.abspath(root, out.path)


def status(
    project: Project, targets: Sequence[str] = (), *, with_deps: bool = False
) -> list[StageStatus]:
    """The status of every stage, or of the targets (and their upstream with ``with_deps``)."""
    with project_lock(project, shared=True):
        index = Index.load(project.root, parsing_of(project), discovery_filter(project))
        graph = build_graph(
            project.root, index.stages, project.cwd_rel, explain_dvcignored(project)
        )
        if targets:
            opts = ReproOptions(targets=tuple(targets))
            chosen = collect(project, opts, index)
            stages = make_plan(graph, chosen, opts).stages if with_deps else chosen
        else:
            stages = index.stages
        ctx = RunContext.open(project)
        memo: HashMemo = {}  # status changes no file: a shared dependency is hashed once
        try:
            ctx.state.prefetch(_data_paths(project.root, stages))
            return [stage_status(ctx, s, memo=memo) for s in stages]
        finally:
            ctx.close()
