"""`exp run` in the workspace: overrides, reproduce, commit the result as an experiment.

Unlike DVC, `HEAD`, the branches and the user's index are never moved or
rewritten: the experiment commit is built from a private index (see
:mod:`labrun.experiments.save`). The results stay in the work tree as
uncommitted changes, as with DVC.

    >>> opts = ExpRunOptions(name="lr-02", set_params=("train.lr=0.2",))
    >>> opts.name, opts.repro.force
    ('lr-02', False)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from labrun.experiments import refs
from labrun.experiments.names import random_name
from labrun.experiments.refs import ExperimentError, ExperimentExistsError, ExpRef
from labrun.fsutil import FileLock, LockTimeoutError
from labrun.pipeline.index import Index
from labrun.project import Project
from labrun.record import field, record, replace
from labrun.repro.events import Event, Reporter, Warning_
from labrun.repro.options import ReproOptions
from labrun.scm import git

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from labrun.experiments.params import Override
    from labrun.repro.engine import RunHooks
    from labrun.repro.scheduler import RunResult


@record
class ExpRunOptions:
    """What `exp run` was asked to do (the repro flags travel inside ``repro``)."""

    repro: ReproOptions = field(default_factory=ReproOptions)
    name: str | None = None
    message: str | None = None
    set_params: tuple[str, ...] = ()  # -S values (Hydra override grammar)
    legacy_params: tuple[str, ...] = ()  # the seed's --params comma lists
    temp: bool = False
    copy_paths: tuple[str, ...] = ()
    rev: str | None = None  # resume this checkpoint (`-r/--rev`, `exp resume`)
    reset: bool = False  # start checkpoint experiments over (`--reset`)
    overwrite: bool = False  # replace an experiment of the same name (a queue entry's retry)


@record
class ExpResult:
    """A finished experiment."""

    name: str
    baseline: str
    rev: str
    ref: str
    run: RunResult | None = None


@record
class ExperimentStarted(Event):
    """An experiment is about to reproduce (its name is known before it runs)."""

    name: str = ""


@record
class ExperimentSaved(Event):
    """The experiment was committed under ``ref``."""

    name: str = ""
    rev: str = ""
    temp: bool = False


class WorkspaceBusyError(ExperimentError):
    """Another experiment is already running in this work tree."""


def require_baseline(project: Project) -> tuple[str, str | None]:
    """(HEAD sha, branch ref or None); errors for projects that cannot hold experiments."""
    if not project.has_scm:
        raise ExperimentError(
            "Experiments need a Git repository (this project has `core.no_scm` or no Git).",
            hint="run `git init` and commit the project, then try again",
        )
    sha, branch = git.head(project.root)
    if sha is None:
        raise ExperimentError(
            "Empty Git repo. Add a commit to use experiments.",
            hint="commit your project first: git add -A && git commit -m 'baseline'",
        )
    return sha, branch


def choose_name(project: Project, baseline: str, name: str | None, force: bool) -> str:
    """Validate ``name`` (no conflict unless ``force``) or draw a free random one."""
    taken = refs.refs_of_baseline(git.git_dir(project.root), baseline)
    if name is None:
        return random_name(taken)
    refs.validate_name(baseline, name)
    if name in taken and not force:
        raise ExperimentExistsError(name)
    return name


@contextmanager
def workspace_lock(project: Project) -> Iterator[None]:
    """One experiment at a time per work tree: a second one fails at once, clearly."""
    os.makedirs(project.tmp_dir, exist_ok=True)
    path = os.path.join(project.tmp_dir, "exp-workspace.lock")
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except LockTimeoutError:
        raise WorkspaceBusyError(
            "Another experiment is running in this workspace.",
            hint="wait for it to finish, or run this one with --temp or --queue",
        ) from None
    try:
        yield
    finally:
        lock.release()


def parse_params(opts: ExpRunOptions) -> dict[str, list[Override]]:
    """The overrides of ``opts`` (imported only when there are any: start-up is a feature)."""
    if not (opts.set_params or opts.legacy_params):
        return {}
    from labrun.experiments import params

    overrides: dict[str, list[Override]] = params.parse_overrides(
        opts.set_params, opts.legacy_params
    )
    params.check_no_sweeps(overrides)
    return overrides


def run_env(project: Project, name: str, baseline: str) -> tuple[tuple[str, str], ...]:
    """The variables DVC gives stage commands during experiments."""
    return (
        ("DVC_EXP_NAME", name),
        ("DVC_EXP_BASELINE_REV", baseline),
        ("DVC_ROOT", project.root),
    )


def run_workspace(
    project: Project,
    opts: ExpRunOptions,
    reporter: Reporter,
    confirm: Callable[[str], bool] | None = None,
) -> ExpResult:
    """Run one experiment in the work tree and record it under `refs/exps/`.

    Pipelines with checkpoint outputs continue the last checkpoint experiment
    (or ``opts.rev``) unless ``opts.reset``/``-f`` start them over.
    """
    baseline, _branch = require_baseline(project)
    parse_params(opts)  # bad overrides fail before anything changes
    with workspace_lock(project):
        result = run_in(project, baseline, opts, reporter, confirm)
    reporter.emit(ExperimentSaved("", name=result.name, rev=result.rev))
    return result


def run_in(
    project: Project,
    baseline: str,
    opts: ExpRunOptions,
    reporter: Reporter,
    confirm: Callable[[str], bool] | None = None,
) -> ExpResult:
    """Apply overrides, decide about checkpoints, reproduce and commit, in ``project``'s tree.

    The work tree is the user's (workspace runs) or a temporary copy (``opts.temp``).
    """
    overrides = parse_params(opts)
    index = load_index(project)
    run = _Run(project, opts, reporter, index)
    run.overridden = set(overrides)
    resume = run.prepare_checkpoints(baseline)
    early = None if resume is not None and resume.append else _fresh_name(project, baseline, opts)
    if overrides:
        from labrun.experiments import params

        params.apply_overrides(project.root, overrides)
    commit_data_sources(project, index)
    resume = run.settle(resume)
    name = _name_for(project, baseline, opts, resume, reporter) if early is None else early
    exp = ExpRef(baseline, name)
    reporter.emit(ExperimentStarted("", name=name))
    result, rev = run.execute(exp, resume, confirm)
    return ExpResult(name, baseline, rev, exp.ref, result)


def commit_data_sources(project: Project, index: Index) -> None:
    """Modified `dvc add`-ed data goes into the cache and its `.dvc` file into the experiment.

    (DVC 2.1+ does the same: `dvc commit --force` of data-only stages, missing data allowed.)
    """
    sources = [s.dvcfile for s in index.stages if s.is_data_source]
    if not sources:
        return
    from labrun.repro import tracking
    from labrun.repro.events import NullReporter

    opts = tracking.CommitOptions(force=True, allow_missing=True)
    with tracking.data_run(project, NullReporter()) as (ctx, idx):
        tracking.commit_stages(ctx, idx, sources, opts)


def _fresh_name(project: Project, baseline: str, opts: ExpRunOptions) -> str:
    return choose_name(project, baseline, opts.name, opts.repro.force or opts.overwrite)


def _name_for(
    project: Project, baseline: str, opts: ExpRunOptions, resume: Any, reporter: Reporter
) -> str:
    """The name once it is known whether the run continues an existing chain."""
    if resume is None or not resume.append:
        return _fresh_name(project, baseline, opts)
    if opts.name and opts.name != resume.exp.name:
        message = f"Ignoring option '--name {opts.name}' for resumed experiment."
        reporter.emit(Warning_("", message))
    return str(resume.exp.name)


class _Run:
    """One workspace run: the checkpoint decisions around the pipeline run and the commit."""

    def __init__(self, project: Project, opts: ExpRunOptions, reporter: Reporter, index: Index):
        from labrun.experiments import save
        from labrun.repro.checkpoint import has_checkpoint_outs

        self.project, self.opts, self.reporter, self.index = project, opts, reporter, index
        self.overridden: set[str] = set()  # params files the overrides edit
        self.paths = save.pipeline_paths(project.root, index)
        self.checkpointed = any(has_checkpoint_outs(s) for s in index.stages)

    def prepare_checkpoints(self, head: str) -> Any:
        """The resume point (None: a fresh experiment)."""
        if not self.checkpointed:
            return None
        from labrun.experiments import checkpoints

        return checkpoints.prepare(self.project, self.opts, head, self.index.stages)

    def settle(self, resume: Any) -> Any:
        """After overrides: append to the chain, or branch a new experiment off it."""
        if resume is None:
            return None
        from labrun.experiments import checkpoints

        resume = checkpoints.compare_with(
            self.project, resume, self.paths, explicit=self.opts.rev is not None
        )
        checkpoints.announce(resume, self.reporter)
        return resume

    def execute(
        self, exp: ExpRef, resume: Any, confirm: Callable[[str], bool] | None
    ) -> tuple[RunResult | None, str]:
        """Reproduce, then commit (on the checkpoint chain when there is one)."""
        from labrun.repro.scheduler import ReproFailedError

        recorder = self._recorder(exp, resume)
        result: RunResult | None = None
        try:
            from labrun.repro.engine import RunHooks

            hooks = RunHooks(confirm, recorder, self._unchanged_index(resume))
            result = reproduce_for(self.project, self.opts.repro, exp, self.reporter, hooks)
        except ReproFailedError:
            if recorder is None or recorder.interrupted is None:
                raise
            self._warn_interrupted(recorder.interrupted)
        return result, self._commit(exp, result, recorder)

    def _unchanged_index(self, resume: Any) -> Index | None:
        """The index loaded before the overrides, if it is still the pipeline (else None).

        It is when no pipeline file uses `${...}` (whose values the edited params
        files may change) or was itself edited, and no checkpoint was restored.
        """
        from labrun.pipeline.interpolate import find_expression

        pipelines = self.index.pipelines
        if resume is not None or self.overridden & set(pipelines):
            return None
        if any(find_expression(p.data) for p in pipelines.values()):
            return None
        return self.index

    def _recorder(self, exp: ExpRef, resume: Any) -> Any:
        if not self.checkpointed:
            return None
        from labrun.experiments.checkpoints import Recorder

        recorder = Recorder(self.project.root, exp, self.paths, self.reporter, resume)
        recorder.track_workspace = not self.opts.temp  # temp runs never auto-resume
        return recorder

    def _warn_interrupted(self, stage: str) -> None:
        self.reporter.emit(
            Warning_(
                stage,
                f"Checkpoint stage '{stage}' was interrupted remaining stages in pipeline "
                "will not be reproduced.",
            )
        )

    def _commit(self, exp: ExpRef, result: RunResult | None, recorder: Any) -> str:
        from labrun.experiments.refs import EXEC_APPLY

        if recorder is None:
            return record_result(self.project, exp, result, self.opts, self.index)
        message = commit_message(self.project, self.index, result, self.opts)
        fresh = recorder.resume is None or not recorder.resume.append
        sha: str = recorder.commit(
            message, force=fresh and recorder.count == 0 and self.opts.repro.force
        )
        if not self.opts.temp:
            git.update_ref(self.project.root, EXEC_APPLY, sha, "labrun: checkpoint experiment")
        return sha


def load_index(project: Project) -> Index:
    """The project's pipelines as they are now in the work tree."""
    from labrun.repro.engine import parsing_of
    from labrun.scm.gitignore import discovery_filter

    return Index.load(project.root, parsing_of(project), discovery_filter(project))


def reproduce_for(
    project: Project,
    repro: ReproOptions,
    exp: ExpRef,
    reporter: Reporter,
    hooks: RunHooks | None = None,
) -> RunResult:
    """The pipeline run of an experiment: outputs always committed, experiment env set."""
    from labrun.repro.engine import reproduce

    env = dict(run_env(project, exp.name, exp.baseline))
    env.update(repro.env)  # a temp run's DVC_ROOT (the original project) wins
    # defer_locks: one dvc.lock write per experiment instead of one per stage
    options = replace(repro, no_commit=False, env=tuple(env.items()), defer_locks=True)
    return reproduce(project, options, _QuietFinish(reporter), hooks)


def commit_message(
    project: Project, index: Index, result: RunResult | None, opts: ExpRunOptions
) -> str:
    """``-m``, else DVC's `dvc: commit experiment <hash of the lock entries that ran>`."""
    from labrun.experiments import save

    if opts.message:
        return opts.message
    outcomes = result.outcomes if result is not None else {}
    ran = [a for a, outcome in outcomes.items() if outcome in ("ran", "restored")]
    return f"dvc: commit experiment {save.exp_hash(save.lock_entries(project.root, index, ran))}"


def record_result(
    project: Project,
    exp: ExpRef,
    result: RunResult | None,
    opts: ExpRunOptions,
    index: Index | None = None,
) -> str:
    """Commit the work tree as the experiment; returns the commit sha.

    ``index`` is the pipeline as loaded before the run (`dvc.yaml` files do not
    change while it runs; lock entries are read afresh).
    """
    from labrun.experiments import save

    index = index or load_index(project)
    message = commit_message(project, index, result, opts)
    tree = git.snapshot_tree(project.root, save.pipeline_paths(project.root, index))
    commit = save.ExpCommit(exp, tree, message)
    return save.commit_experiment(project.root, commit, force=opts.repro.force or opts.overwrite)


class _QuietFinish:
    """Passes events on, except the repro summary (`exp run` prints its own)."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def emit(self, event: Event) -> None:
        from labrun.repro.events import RunFinished

        if not isinstance(event, RunFinished):
            self.reporter.emit(event)
