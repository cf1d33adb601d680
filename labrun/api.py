"""The porcelain: one function per user verb. Never prints, never exits.

Every function takes a path (or an opened :class:`~labrun.project.Project`) and
returns values; errors are :class:`~labrun.errors.LabrunError` subclasses.

    >>> import labrun.api as api
    >>> api.init("/tmp/proj", no_scm=True)                      # doctest: +SKIP
    >>> [s.name for s in api.stage_list("/tmp/proj", all_stages=True)]   # doctest: +SKIP
    []
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from labrun.errors import LabrunError
from labrun.pipeline.dag import Graph, build_graph
from labrun.pipeline.dagview import LabelGraph
from labrun.pipeline.index import Index
from labrun.pipeline.interpolate import ParsingConfig
from labrun.pipeline.stage import Stage
from labrun.pipeline.targets import Collector
from labrun.project import Project

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:  # loaded on first use (see __getattr__): start-up is a feature
    from typing import Any

    from labrun.experiments.catalog import ExpSelection
    from labrun.experiments.queue.entry import QueueEntry
    from labrun.experiments.queue.service import QueueOptions, QueueWorkTrees
    from labrun.experiments.queue.workers import Supervisor
    from labrun.experiments.remote import DataTransferError, ExpSyncOptions, ExpSyncResult
    from labrun.experiments.run import ExpResult, ExpRunOptions
    from labrun.experiments.save import ExpSaveOptions
    from labrun.repro import events
    from labrun.repro.options import ReproOptions
    from labrun.repro.scheduler import ReproFailedError, RunResult
    from labrun.repro.status import Reason, StageStatus

_LAZY = {
    "ExpRunOptions": "labrun.experiments.run",
    "ExpSelection": "labrun.experiments.catalog",
    "ExpSaveOptions": "labrun.experiments.save",
    "ExpSyncOptions": "labrun.experiments.remote",
    "ExpSyncResult": "labrun.experiments.remote",
    "DataTransferError": "labrun.experiments.remote",
    "QueueEntry": "labrun.experiments.queue.entry",
    "QueueOptions": "labrun.experiments.queue.service",
    "QueueWorkTrees": "labrun.experiments.queue.service",
    "Supervisor": "labrun.experiments.queue.workers",
    "ExpResult": "labrun.experiments.run",
    "ReproOptions": "labrun.repro.options",
    "ReproFailedError": "labrun.repro.scheduler",
    "RunResult": "labrun.repro.scheduler",
    "Reason": "labrun.repro.status",
    "StageStatus": "labrun.repro.status",
}


def __getattr__(name: str) -> Any:
    """Heavy names are imported when first used, so light commands start fast."""
    from labrun import load_module

    if name == "events":
        return load_module("labrun.repro.events")
    if name in _LAZY:
        return getattr(load_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labrun.api' has no attribute {name!r}")


PathOrProject = str | os.PathLike[str] | Project

__all__ = [
    "ExpResult",
    "ExpRunOptions",
    "Graph",
    "LabelGraph",
    "PathOrProject",
    "Project",
    "Reason",
    "ReproFailedError",
    "ReproOptions",
    "RunResult",
    "Stage",
    "StageStatus",
    "collector",
    "dag",
    "events",
    "exp_run",
    "graph",
    "init",
    "load_index",
    "open_project",
    "repro",
    "stage_list",
    "status",
]

_DVCIGNORE_TEXT = (
    "# Add patterns of files dvc should ignore, which could improve\n"
    "# the performance. Learn more at\n"
    "# https://dvc.org/doc/user-guide/dvcignore\n"
)


class InitError(LabrunError):
    """`init` refused to (re)create a project."""


def open_project(where: PathOrProject | None = None) -> Project:
    """A Project for a path inside it (default: the cwd), or the Project itself."""
    if isinstance(where, Project):
        return where
    return Project.find(None if where is None else os.fspath(where))


def init(
    path: str | os.PathLike[str] = ".",
    *,
    no_scm: bool = False,
    force: bool = False,
    subdir: bool = False,
) -> list[str]:
    """Create `.dvc/` exactly as `dvc init` does; return the files to stage in Git.

    Inside Git the new files are staged (`git add`), as DVC does.
    """
    from labrun.scm import git

    root = os.path.abspath(os.fspath(path))
    worktree = git.find_worktree(root)
    if not no_scm and (worktree is None or (worktree != root and not subdir)):
        raise InitError(
            f"failed to initiate DVC - {root} is not tracked by any supported SCM tool "
            "(e.g. Git). Use `--no-scm` if you don't want to use any SCM or `--subdir` "
            "if initializing inside a subdirectory of a parent SCM repository."
        )
    dvc_dir = os.path.join(root, ".dvc")
    if os.path.exists(dvc_dir):
        if not force:
            raise InitError("failed to initiate DVC - '.dvc' exists. Use `-f` to force.")
        import shutil

        shutil.rmtree(dvc_dir)
    return _write_init_files(root, no_scm=no_scm, worktree=worktree)


def _write_init_files(root: str, *, no_scm: bool, worktree: str | None) -> list[str]:
    from labrun.scm import git

    dvc_dir = os.path.join(root, ".dvc")
    os.makedirs(os.path.join(dvc_dir, "tmp"))
    with open(os.path.join(dvc_dir, "config"), "w", encoding="utf-8") as f:
        f.write("[core]\n    no_scm = True\n" if no_scm else "")
    created = [".dvc/config", ".dvcignore"]
    if not no_scm:
        with open(os.path.join(dvc_dir, ".gitignore"), "w", encoding="utf-8") as f:
            f.write("/config.local\n/tmp\n/cache\n")
        created.insert(0, ".dvc/.gitignore")
    ignore_path = os.path.join(root, ".dvcignore")
    if not os.path.exists(ignore_path):
        with open(ignore_path, "w", encoding="utf-8") as f:
            f.write(_DVCIGNORE_TEXT)
    if not no_scm and worktree is not None:
        git.add(root, created)
    return created


def _parsing(project: Project) -> ParsingConfig:
    cfg = project.config
    return ParsingConfig(bool_style=cfg.parsing_bool, list_style=cfg.parsing_list)


def _ignore(project: Project) -> Callable[[str, bool], bool]:
    from labrun.scm.gitignore import discovery_filter

    return discovery_filter(project)


Warn = Callable[[str], None]


def load_index(where: PathOrProject | None = None, on_warning: Warn | None = None) -> Index:
    """Every stage of the project (any broken dvc file is an error)."""
    project = open_project(where)
    index = Index.load(project.root, parsing=_parsing(project), ignore=_ignore(project))
    for message in index.warnings():
        if on_warning is not None:
            on_warning(message)
    return index


def collector(project: Project) -> Collector:
    """A target collector for the project, relative to the project's cwd."""
    return Collector(project.root, project.cwd_rel, _parsing(project), _ignore(project))


def stage_list(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    *,
    all_stages: bool = False,
    recursive: bool = False,
    on_warning: Warn | None = None,
) -> list[Stage]:
    """Stages of the targets (default `./dvc.yaml`), or of the whole project with all_stages.

    Warnings met while resolving (e.g. a shadowed `item`) go to ``on_warning``.
    """
    project = open_project(where)
    if all_stages:
        return load_index(project, on_warning).stages
    found: dict[tuple[str, str], Stage] = {}
    col = collector(project)
    for target in targets or ["dvc.yaml"]:
        for stage in col.collect(target, recursive=recursive):
            found.setdefault((stage.dvcfile, stage.name), stage)
    for message in col.warnings():
        if on_warning is not None:
            on_warning(message)
    return list(found.values())


def dag(
    where: PathOrProject | None = None,
    target: str | None = None,
    *,
    full: bool = False,
    outs: bool = False,
    on_warning: Warn | None = None,
) -> LabelGraph:
    """The project graph (or the part around ``target``), of stages or of outputs.

    Edges are (dependent, dependency) pairs of labels.
    """
    from labrun.pipeline import dagview

    project = open_project(where)
    index = load_index(project, on_warning)
    graph = build_graph(project.root, index.stages, project.cwd_rel, _explain(project))
    cwd = project.cwd_rel
    if outs:
        view = dagview.outs_view(project.root, cwd, graph)
    else:
        view = dagview.stages_view(graph, cwd)
    if not target:
        return view
    stages = collector(project).collect(target)
    if outs:
        labels = [dagview.out_label(project.root, cwd, s, o.path) for s in stages for o in s.outs]
    else:
        labels = [s.addressing_from(cwd) for s in stages]
    return dagview.select(view, labels, full=full)


def repro(
    where: PathOrProject | None = None,
    options: ReproOptions | None = None,
    reporter: events.Reporter | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> RunResult:
    """Reproduce the targets' pipelines, as `dvc repro` does.

    Progress goes to ``reporter`` as events; a failure raises ReproFailedError
    after the stages that could run have run (per ``options.on_error``).

        >>> r = repro("/tmp/proj", ReproOptions(targets=["train"]))   # doctest: +SKIP
        >>> r.outcomes                                                 # doctest: +SKIP
        {'prep': 'skipped', 'train': 'ran'}
    """
    from labrun.repro.engine import RunHooks, reproduce
    from labrun.repro.events import NullReporter
    from labrun.repro.options import ReproOptions

    project = open_project(where)
    hooks = RunHooks(confirm=confirm)
    return reproduce(project, options or ReproOptions(), reporter or NullReporter(), hooks)


def status(
    where: PathOrProject | None = None, targets: Sequence[str] = (), *, with_deps: bool = False
) -> list[StageStatus]:
    """The status of every stage (or of the targets), each with its reasons.

    >>> [s.stage.name for s in status("/tmp/proj") if s.stale]    # doctest: +SKIP
    ['train']
    """
    from labrun.repro import engine

    project = open_project(where)
    return engine.status(project, targets, with_deps=with_deps)


def graph(where: PathOrProject | None = None) -> Graph:
    """The checked project graph (cycles, duplicate/overlapping outputs are errors)."""
    project = open_project(where)
    stages = load_index(project).stages
    return build_graph(project.root, stages, project.cwd_rel, _explain(project))


def _explain(project: Project) -> Callable[[str], str | None]:
    from labrun.scm.gitignore import explain_dvcignored

    return explain_dvcignored(project)


# -- data commands --

if TYPE_CHECKING:
    from labrun.repro.tracking import (
        AddResult,
        CheckoutFailedError,
        CheckoutOptions,
        CheckoutSummary,
        CommitOptions,
        DataCommandError,
        GcOptions,
        GcResult,
    )

__all__ += [
    "AddResult",
    "CheckoutFailedError",
    "CheckoutOptions",
    "CheckoutSummary",
    "CommitOptions",
    "DataCommandError",
    "GcOptions",
    "GcResult",
    "add",
    "cache_dir",
    "checkout",
    "commit",
    "gc",
]
_TRACKING_NAMES: tuple[str, ...] = ("AddResult", "CheckoutFailedError", "CheckoutOptions")
_TRACKING_NAMES += ("CheckoutSummary", "CommitOptions", "DataCommandError", "GcOptions", "GcResult")
_LAZY.update(dict.fromkeys(_TRACKING_NAMES, "labrun.repro.tracking"))


def add(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    *,
    no_commit: bool = False,
    glob: bool = False,
    reporter: events.Reporter | None = None,
) -> AddResult:
    """Track files or directories with `.dvc` files and the cache, as `dvc add` does.

    ``result.git_add`` lists the files to `git add` (empty with `core.autostage`,
    which stages them itself).

        >>> add("/tmp/proj", ["data.csv"]).git_add                     # doctest: +SKIP
        ['data.csv.dvc', '.gitignore']
    """
    from labrun.repro import tracking

    project = open_project(where)
    paths = _expand_globs(project, targets) if glob else list(targets)
    with tracking.data_run(project, reporter) as (ctx, index):
        result = tracking.add_targets(ctx, index, paths, no_commit=no_commit)
        result.git_add = tracking.stage_in_git(ctx, result.touched)
    return result


def _expand_globs(project: Project, targets: Sequence[str]) -> list[str]:
    import glob as globbing

    from labrun.repro.tracking import DataCommandError

    found: list[str] = []
    for target in targets:
        matches = sorted(globbing.glob(target, root_dir=project.cwd, recursive=True))
        if not matches:
            raise DataCommandError(f"Glob {target} has no matches.")
        found.extend(matches)
    return found


def checkout(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    options: CheckoutOptions | None = None,
    reporter: events.Reporter | None = None,
) -> CheckoutSummary:
    """Restore the outputs of every stage and `.dvc` file (or of the targets) from the cache.

    Raises CheckoutFailedError (carrying the summary) when objects are missing.

        >>> checkout("/tmp/proj").added                                # doctest: +SKIP
        ['data/', 'model.pkl']
    """
    from labrun.repro import tracking

    project = open_project(where)
    opts = options or tracking.CheckoutOptions()
    scope = tracking.Scope(tuple(targets), opts.recursive, opts.with_deps)
    with tracking.data_run(project, reporter) as (ctx, index):
        stages = tracking.collect_granular(ctx, index, scope, git_hint=True)
        return tracking.checkout_outputs(ctx, stages, opts, remove_unused=not targets)


def commit(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    options: CommitOptions | None = None,
    reporter: events.Reporter | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> list[Stage]:
    """Record the current state of changed stages in `dvc.lock` / `.dvc` files and the cache.

    A stage whose dependencies or outputs changed is committed only with ``force`` or
    when ``confirm(question)`` says yes (DataCommandError otherwise).

        >>> done = commit("/tmp/proj", ["train"], CommitOptions(force=True))  # doctest: +SKIP
        >>> [s.name for s in done]                                        # doctest: +SKIP
        ['train']
    """
    from labrun.repro import tracking

    project = open_project(where)
    with tracking.data_run(project, reporter, confirm) as (ctx, index):
        return tracking.commit_stages(ctx, index, targets, options)


def gc(
    where: PathOrProject | None = None,
    options: GcOptions | None = None,
    reporter: events.Reporter | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> GcResult:
    """Remove cache objects that no `.dvc` file or `dvc.lock` of the workspace uses (`gc -w`).

    ``force`` also accepts losing the files of a directory whose manifest is missing
    (otherwise ``confirm`` is asked). Nothing is deleted with ``dry``.

        >>> gc("/tmp/proj", GcOptions(workspace=True)).removed["repo"]  # doctest: +SKIP
        ['/tmp/proj/.dvc/cache/files/md5/b1/946ac92492d2347c6235b4d2611184']
    """
    from labrun.repro import tracking

    project = open_project(where)
    with tracking.data_run(project, reporter, confirm) as (ctx, index):
        return tracking.collect_garbage(ctx, index, options or tracking.GcOptions())


def cache_dir(
    where: PathOrProject | None = None,
    value: str | None = None,
    *,
    unset: bool = False,
    level: str | None = None,
) -> str | None:
    """Read (no value), set or unset `cache.dir` as `dvc cache dir` does.

    ``level`` is "system", "global", "repo" or "local" (default: the merged config to
    read, `.dvc/config` to write). A relative value is taken from the cwd and stored
    relative to the config file's directory.

        >>> cache_dir("/tmp/proj", "../shared-cache")                  # doctest: +SKIP
        >>> cache_dir("/tmp/proj")                                     # doctest: +SKIP
        '/tmp/shared-cache'
    """
    from pathlib import Path

    from labrun import config

    project = _project_for_level(where, level)
    cwd = project.cwd if project else os.getcwd()
    dvc_dir = Path(project.dvc_dir if project else os.path.join(cwd, ".dvc"))
    if value is None and not unset:
        if level is None and project is not None:
            return str(project.config.cache_dir)
        return _cache_dir_at(dvc_dir, level or "repo")
    path = config.config_path(level or "repo", dvc_dir)
    if unset:
        _cache_dir_at(dvc_dir, level or "repo")
        config.unset_option(path, "cache", "dir")
    else:
        config.set_option(path, "cache", "dir", _config_relpath(value or "", cwd, path.parent))
    return None


def _project_for_level(where: PathOrProject | None, level: str | None) -> Project | None:
    from labrun.errors import NotAProjectError

    try:
        return open_project(where)
    except NotAProjectError:
        if level in ("global", "system"):
            return None
        raise


def _cache_dir_at(dvc_dir: Any, level: str) -> str:
    from labrun.config import load_config
    from labrun.errors import ConfigError

    found = load_config(dvc_dir, levels=(level,)).get("cache", "dir")
    if not isinstance(found, str):
        raise ConfigError(
            "configuration error - config file error: "
            "option 'dir' doesn't exist in section 'cache'",
            hint="set it with `labrun cache dir <path>`",
        )
    return found


def _config_relpath(value: str, cwd: str, conf_dir: Any) -> str:
    """How DVC stores a path typed by the user: relative ones become relative to the file."""
    import re

    if re.match(r"\w+://", value) or os.path.expanduser(value) != value or os.path.isabs(value):
        return value
    relative = os.path.relpath(os.path.join(cwd, value), os.fspath(conf_dir))
    return relative.replace(os.sep, "/")


# --- experiments ---


def exp_run(
    where: PathOrProject | None = None,
    options: ExpRunOptions | None = None,
    reporter: events.Reporter | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> ExpResult:
    """Run the pipeline as an experiment and record it under `refs/exps/` (as `dvc exp run`).

    In the workspace by default (results stay there); with ``options.temp`` in a
    temporary copy sharing the cache (the workspace is not touched).

        >>> r = exp_run("/tmp/proj", ExpRunOptions(set_params=("train.lr=0.2",)))  # doctest: +SKIP
        >>> r.name, r.ref                                                    # doctest: +SKIP
        ('lucky-lynx', 'refs/exps/8c/4051ab.../lucky-lynx')
    """
    from labrun.experiments import run
    from labrun.repro.events import NullReporter

    project = open_project(where)
    opts = options or run.ExpRunOptions()
    if opts.temp:
        from labrun.experiments import tempdir

        return tempdir.run_temp(project, opts, reporter or NullReporter())
    return run.run_workspace(project, opts, reporter or NullReporter(), confirm)


def exp_apply(
    where: PathOrProject | None, name: str, reporter: events.Reporter | None = None
) -> str:
    """Bring an experiment's files and outputs into the workspace; returns its commit.

    The workspace is saved first on `refs/exps/apply/stash` (`git stash apply
    refs/exps/apply/stash` restores it). `HEAD` and the index do not move.

        >>> exp_apply("/tmp/proj", "lucky-lynx")                     # doctest: +SKIP
        '00f2881f1817bf53b08295e5a8fced117638eb2b'
    """
    from labrun.experiments.apply import apply
    from labrun.repro.events import NullReporter

    return apply(open_project(where), name, reporter or NullReporter())


def exp_branch(where: PathOrProject | None, name: str, branch: str | None = None) -> str:
    """Create a Git branch at an experiment (default `<name>-branch`); returns its name.

    >>> exp_branch("/tmp/proj", "lucky-lynx")                    # doctest: +SKIP
    'lucky-lynx-branch'
    """
    from labrun.experiments import catalog

    return catalog.branch(open_project(where), name, branch)[1]


def exp_list(
    where: PathOrProject | None = None, selection: ExpSelection | None = None
) -> dict[str, list[tuple[str, str]]]:
    """baseline sha → [(experiment name, commit sha)] (default: the experiments of HEAD).

    >>> exp_list("/tmp/proj")                                    # doctest: +SKIP
    {'8c4051ab...': [('lucky-lynx', '00f2881f...')]}
    """
    from labrun.experiments import catalog

    grouped = catalog.experiments_of(open_project(where), selection or catalog.ExpSelection())
    return {bl: [(e.name, sha) for e, sha in items] for bl, items in grouped.items()}


def exp_remove(
    where: PathOrProject | None = None,
    names: Sequence[str] = (),
    *,
    selection: ExpSelection | None = None,
    keep: bool = False,
) -> list[str]:
    """Delete experiments by name, or every one of the selected baselines; returns the names.

    ``keep`` inverts the choice: everything except the named/selected experiments goes.

        >>> exp_remove("/tmp/proj", ["lucky-lynx"])                  # doctest: +SKIP
        ['lucky-lynx']
    """
    from labrun.experiments import catalog

    return catalog.remove(open_project(where), names, selection, keep)


def exp_rename(
    where: PathOrProject | None, name: str, new_name: str, *, force: bool = False
) -> list[str]:
    """Rename an experiment (same baseline, same commit); returns the old names renamed."""
    from labrun.experiments import catalog

    return catalog.rename(open_project(where), name, new_name, force)


def exp_save(
    where: PathOrProject | None = None,
    options: ExpSaveOptions | None = None,
    reporter: events.Reporter | None = None,
) -> tuple[str, str]:
    """Record the workspace as an experiment without running anything: (name, commit).

    >>> exp_save("/tmp/proj", ExpSaveOptions(name="by-hand"))    # doctest: +SKIP
    ('by-hand', '5d0f...')
    """
    from labrun.experiments.save import ExpSaveOptions, save_workspace

    return save_workspace(open_project(where), options or ExpSaveOptions(), reporter)


def exp_clean(where: PathOrProject | None = None) -> list[str]:
    """Remove temporary work trees left by interrupted runs; returns the paths removed."""
    from labrun.experiments.tempdir import clean_leftovers

    return clean_leftovers(open_project(where))


def exp_list_remote(
    where: PathOrProject | None, git_remote: str, selection: ExpSelection | None = None
) -> dict[str, list[str]]:
    """baseline sha → names of its experiments on a Git remote (default: HEAD's baseline).

    >>> exp_list_remote("/tmp/proj", "origin")                   # doctest: +SKIP
    {'8c4051ab...': ['lucky-lynx']}
    """
    from labrun.experiments import catalog, remote

    sel = selection or catalog.ExpSelection()
    return remote.list_remote(open_project(where), git_remote, sel)


def exp_push(
    where: PathOrProject | None,
    git_remote: str,
    names: Sequence[str] = (),
    options: ExpSyncOptions | None = None,
) -> ExpSyncResult:
    """Push experiments (names, else the selection) to a Git remote, and their cached data
    to the DVC remote (a local directory) unless ``options.cache`` is off.

    ``DataTransferError`` (whose ``result`` tells what the refs did) when the data fails.

        >>> exp_push("/tmp/proj", "origin", ["lucky-lynx"]).success  # doctest: +SKIP
        ('lucky-lynx',)
    """
    from labrun.experiments import remote

    return remote.push(open_project(where), git_remote, names, options or remote.ExpSyncOptions())


def exp_pull(
    where: PathOrProject | None,
    git_remote: str,
    names: Sequence[str] = (),
    options: ExpSyncOptions | None = None,
) -> ExpSyncResult:
    """Fetch experiments from a Git remote, and their cached data into the cache.

    >>> exp_pull("/tmp/proj", "origin", ["lucky-lynx"]).success  # doctest: +SKIP
    ('lucky-lynx',)
    """
    from labrun.experiments import remote

    return remote.pull(open_project(where), git_remote, names, options or remote.ExpSyncOptions())


def exp_remove_remote(
    where: PathOrProject | None,
    git_remote: str,
    names: Sequence[str] = (),
    *,
    selection: ExpSelection | None = None,
    keep: bool = False,
) -> list[str]:
    """Delete experiments on a Git remote (by name, or the selected baselines'); the names.

    >>> exp_remove_remote("/tmp/proj", "origin", ["lucky-lynx"])  # doctest: +SKIP
    ['lucky-lynx']
    """
    from labrun.experiments import remote

    return remote.remove_remote(open_project(where), git_remote, names, selection, keep)


def exp_rename_remote(
    where: PathOrProject | None, git_remote: str, name: str, new_name: str, *, force: bool = False
) -> list[str]:
    """Rename an experiment on a Git remote (and the local one of that name)."""
    from labrun.experiments import remote

    return remote.rename_remote(open_project(where), git_remote, name, new_name, force)


__all__ += [
    "DataTransferError",
    "ExpSaveOptions",
    "ExpSelection",
    "ExpSyncOptions",
    "ExpSyncResult",
    "exp_apply",
    "exp_branch",
    "exp_clean",
    "exp_list",
    "exp_list_remote",
    "exp_pull",
    "exp_push",
    "exp_remove",
    "exp_remove_remote",
    "exp_rename",
    "exp_rename_remote",
    "exp_save",
]


def make_checkpoint() -> None:
    """Record a checkpoint of the running experiment (call it from the training script).

    Outside `labrun exp run` (no ``DVC_CHECKPOINT`` in the environment) it does
    nothing, so the same script runs on its own. Write the checkpoint outputs
    (and metrics) first; this call returns once labrun has committed them.

        >>> for epoch in range(3):                                   # doctest: +SKIP
        ...     train_one_epoch(); save_model("model.pt")
        ...     make_checkpoint()
    """
    import time

    if not os.environ.get("DVC_CHECKPOINT"):
        return
    root = os.environ.get("DVC_ROOT") or Project.find().root
    path = os.path.join(root, ".dvc", "tmp", "DVC_CHECKPOINT")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    while os.path.exists(path):
        time.sleep(0.01)


__all__ += ["make_checkpoint"]


def last_checkpoint(where: PathOrProject | None = None) -> str | None:
    """The newest checkpoint commit made in this workspace that derives from HEAD, or None."""
    from labrun.experiments import checkpoints
    from labrun.scm import git

    project = open_project(where)
    head, _ = git.head(project.root)
    sha = git.resolve_ref(git.git_dir(project.root), checkpoints.EXEC_CHECKPOINT)
    if sha is None or head is None or checkpoints.baseline_of(project, sha) != head:
        return None
    return sha


__all__ += ["last_checkpoint"]


# --- the experiment queue ---


def exp_queue(
    where: PathOrProject | None = None,
    options: ExpRunOptions | None = None,
    queue_options: QueueOptions | None = None,
    reporter: events.Reporter | None = None,
) -> list[QueueEntry]:
    """`exp run --queue`: queue the experiment (one entry per sweep combination).

    >>> opts = ExpRunOptions(set_params=("train.lr=0.1,0.2",))  # doctest: +SKIP
    >>> [e.name for e in exp_queue("/tmp/proj", opts)]          # doctest: +SKIP
    ['lucky-lynx', 'bushy-wren']
    """
    from labrun.experiments.queue import service
    from labrun.experiments.run import ExpRunOptions

    project = open_project(where)
    emit = reporter.emit if reporter is not None else None
    qopts = queue_options or service.QueueOptions()
    return service.enqueue(project, options or ExpRunOptions(), qopts, emit)


def queue_start(
    where: PathOrProject | None = None,
    jobs: int = 1,
    devices: Sequence[str] = (),
    *,
    detach: bool = True,
    max_entries: int = 0,
) -> Supervisor:
    """Start up to ``jobs`` workers; each takes its own ``devices`` slots (GPUs).

    Workers exit as soon as the queue is empty. With ``detach`` they outlive
    this process (`queue start`); otherwise wait for them (`exp run --run-all`).

        >>> queue_start("/tmp/proj", 2, devices=["0", "1"])          # doctest: +SKIP
    """
    from labrun.experiments.queue import service

    project = open_project(where)
    return service.start(project, jobs, devices, detach=detach, max_entries=max_entries)


def queue_stop(where: PathOrProject | None = None, *, kill: bool = False) -> int:
    """Ask every worker to stop after its current experiment (``kill``: at once)."""
    from labrun.experiments.queue import service

    return service.stop(open_project(where), kill)


def queue_status(where: PathOrProject | None = None) -> list[QueueEntry]:
    """Every queue entry, oldest first; entries of dead workers are settled first."""
    from labrun.experiments.queue import service

    return service.entries(open_project(where))


def queue_entry(where: PathOrProject | None, key: str) -> tuple[QueueEntry, str]:
    """(entry, its log file) by name, id or id prefix."""
    from labrun.experiments.queue import service

    project = open_project(where)
    entry = service.resolve(project, key)
    return entry, str(service.log_of(project, entry))


def queue_remove(
    where: PathOrProject | None = None,
    names: Sequence[str] = (),
    *,
    queued: bool = False,
    failed: bool = False,
    success: bool = False,
) -> list[QueueEntry]:
    """Remove entries by name, and every queued/failed/succeeded one when asked."""
    from labrun.experiments.queue import service
    from labrun.experiments.queue.entry import EntryState

    states = [
        state
        for state, wanted in (
            (EntryState.QUEUED, queued),
            (EntryState.FAILED, failed),
            (EntryState.CANCELLED, failed),
            (EntryState.SUCCEEDED, success),
        )
        if wanted
    ]
    return service.remove(open_project(where), names, states)


def queue_kill(
    where: PathOrProject | None, names: Sequence[str], *, force: bool = False
) -> list[QueueEntry]:
    """Kill running entries (their whole process group: the pipeline too)."""
    from labrun.experiments.queue import service

    return service.kill(open_project(where), names, force)


def queue_retry(where: PathOrProject | None = None, names: Sequence[str] = ()) -> list[str]:
    """Queue failed entries again (every failed one without names)."""
    from labrun.experiments.queue import service

    return service.retry(open_project(where), names)


def queue_priority(where: PathOrProject | None, name: str, priority: int) -> QueueEntry:
    """Change a queued entry's priority (higher runs first)."""
    from labrun.experiments.queue import service

    return service.set_priority(open_project(where), name, priority)


def queue_execute(
    entry: QueueEntry, devices: Sequence[str], reporter: events.Reporter | None = None
) -> ExpResult:
    """Run one queue entry as a temporary experiment (what a queue worker does)."""
    from labrun.experiments.queue import service
    from labrun.experiments.tempdir import run_spec
    from labrun.repro.events import NullReporter

    project, spec, repro = service.run_spec_of(entry, devices)
    return run_spec(project, spec, repro, reporter or NullReporter())


__all__ += [
    "QueueEntry",
    "QueueOptions",
    "QueueWorkTrees",
    "Supervisor",
    "exp_queue",
    "queue_entry",
    "queue_execute",
    "queue_kill",
    "queue_priority",
    "queue_remove",
    "queue_retry",
    "queue_start",
    "queue_status",
    "queue_stop",
]


def exp_labels(where: PathOrProject | None, shas: Sequence[str]) -> dict[str, str]:
    """Names for baseline commits: the current branch, else a tag, else a branch."""
    from labrun.experiments.catalog import describe

    return describe(open_project(where), shas)


def queue_devices(text: str | None = None) -> tuple[str, ...]:
    """The device pool: a list ('0,1,3'), a count ('2' → 0,1), or detected when None."""
    from labrun.experiments.queue.devices import detect_devices, parse_devices

    if text is None:
        return tuple(detect_devices())
    if text.isdigit():
        return tuple(str(i) for i in range(int(text)))
    return tuple(parse_devices(text))


def queue_workers(where: PathOrProject | None = None) -> tuple[int, int]:
    """(active, idle) workers of the project's queue."""
    from labrun.experiments.queue import service
    from labrun.experiments.queue.backend import count_workers

    with service.open_queue(open_project(where)) as queue:
        return count_workers(queue)


def queue_follow(path: str, until: Callable[[], bool], encoding: str = "utf-8") -> Any:
    """Lines of a log as they are written, until ``until()`` is true and the end is read."""
    from labrun.experiments.queue.workers import follow_log

    return follow_log(path, until, encoding=encoding)


# event types of experiments, for reporters (loaded on first use)
_LAZY.update(
    ExperimentStarted="labrun.experiments.run",
    CheckpointRecorded="labrun.experiments.checkpoints",
    Notice="labrun.experiments.checkpoints",
    Queued="labrun.experiments.queue.service",
)

__all__ += ["exp_labels", "queue_devices", "queue_follow", "queue_workers"]


# --- results: metrics, params, exp show ---

if TYPE_CHECKING:
    from labrun.experiments.results import DiffOptions, RevisionSet
    from labrun.experiments.revisions import UnknownRevisionError
    from labrun.experiments.show import QueueRow, ShowOptions
    from labrun.experiments.tabulate import ExpTable, SortColumnError, TableOptions

_LAZY.update(
    ShowOptions="labrun.experiments.show",
    QueueRow="labrun.experiments.show",
    TableOptions="labrun.experiments.tabulate",
    ExpTable="labrun.experiments.tabulate",
    SortColumnError="labrun.experiments.tabulate",
    RevisionSet="labrun.experiments.results",
    DiffOptions="labrun.experiments.results",
    UnknownRevisionError="labrun.experiments.revisions",
)


def exp_show(
    where: PathOrProject | None = None,
    options: ShowOptions | None = None,
    queue_rows: Sequence[QueueRow] = (),
) -> list[dict[str, Any]]:
    """Baselines and their experiments with params, metrics and deps, as `exp show --json`.

    Each item is ``{"rev", "name", "data", "error", "experiments"}`` (DVC 3's
    layout; see `labrun.experiments.show`). Queued, running and failed entries
    are the ``queue_rows`` given (the queue supplies them).

        >>> [s["name"] or s["rev"] for s in exp_show("/tmp/proj")]     # doctest: +SKIP
        ['workspace', 'main']
    """
    from labrun.experiments.show import ShowOptions, collect_experiments

    return collect_experiments(open_project(where), options or ShowOptions(), queue_rows)


def exp_show_json(
    where: PathOrProject | None = None,
    options: ShowOptions | None = None,
    queue_rows: Sequence[QueueRow] = (),
    indent: int | None = None,
) -> str:
    """:func:`exp_show` as JSON text (what `exp show --json` prints), written fast.

    Rows read back from the row cache are copied as stored instead of being
    decoded and encoded again; the text equals ``json.dumps(exp_show(...))``.
    """
    from labrun.experiments.show import ShowOptions, collect_experiments
    from labrun.experiments.showjson import dump_states

    project = open_project(where)
    states = collect_experiments(project, options or ShowOptions(), queue_rows, raw=True)
    return dump_states(states, indent)


def exp_table(states: Sequence[dict[str, Any]], options: TableOptions | None = None) -> ExpTable:
    """The `exp show` table (columns, cells, sorting, --keep/--drop/--only-changed) of states.

    >>> table = exp_table(exp_show("/tmp/proj"))                    # doctest: +SKIP
    >>> table.headers[:2]                                           # doctest: +SKIP
    ['Experiment', 'Created']
    """
    from labrun.experiments.tabulate import TableOptions, tabulate

    return tabulate(states, options or TableOptions())


def exp_diff(
    where: PathOrProject | None = None,
    a_rev: str | None = None,
    b_rev: str | None = None,
    *,
    show_all: bool = False,
    param_deps: bool = False,
) -> dict[str, Any]:
    """Changed metrics and params between two revisions (default HEAD and the workspace).

    Revisions may be experiment names. Returns ``{"metrics": {file: {key:
    {"old", "new"[, "diff"]}}}, "params": {...}}``; ``show_all`` keeps unchanged values.

        >>> exp_diff("/tmp/proj", "main", "lr3")["params"]              # doctest: +SKIP
        {'params.yaml': {'train.lr': {'old': 0.1, 'new': 0.3, 'diff': 0.19999999999999998}}}
    """
    from labrun.experiments.results import exp_diff as diff

    project = open_project(where)
    return diff(project, a_rev, b_rev, with_unchanged=show_all, param_deps=param_deps)


def metrics_show(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    revisions: RevisionSet | None = None,
) -> dict[str, Any]:
    """Metrics per revision label and file, as `metrics show --json`.

    Without ``revisions`` only the workspace is read (label ``""``). Targets are
    paths relative to the project's cwd.

        >>> metrics_show("/tmp/proj")                                   # doctest: +SKIP
        {'': {'data': {'metrics.json': {'data': {'acc': 0.9}}}}}
    """
    from labrun.experiments.results import metrics_show as show

    return show(open_project(where), targets, revisions)


def params_show(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    revisions: RevisionSet | None = None,
    *,
    deps_only: bool = False,
) -> dict[str, Any]:
    """Params per revision label and file (the files `params diff` compares).

    >>> params_show("/tmp/proj")                                    # doctest: +SKIP
    {'': {'data': {'params.yaml': {'data': {'lr': 0.1}}}}}
    """
    from labrun.experiments.results import params_show as show

    return show(open_project(where), targets, revisions, deps_only=deps_only)


def metrics_diff(
    where: PathOrProject | None = None,
    a_rev: str = "HEAD",
    b_rev: str = "workspace",
    options: DiffOptions | None = None,
) -> dict[str, Any]:
    """``{"diff": {file: {key: change}}, "errors": {rev: ...}}`` (empty keys left out).

    >>> metrics_diff("/tmp/proj")["diff"]                           # doctest: +SKIP
    {'metrics.json': {'acc': {'old': 0.9, 'new': 0.95, 'diff': 0.04999999999999993}}}
    """
    from labrun.experiments.results import DiffOptions, diff

    return diff(open_project(where), "metrics", a_rev, b_rev, options or DiffOptions())


def params_diff(
    where: PathOrProject | None = None,
    a_rev: str = "HEAD",
    b_rev: str = "workspace",
    options: DiffOptions | None = None,
) -> dict[str, Any]:
    """Like :func:`metrics_diff`, for params (``options.deps_only``: only stage deps).

    >>> params_diff("/tmp/proj", options=DiffOptions(show_all=True))  # doctest: +SKIP
    {'diff': {'params.yaml': {'lr': {'old': 0.1, 'new': 0.1, 'diff': 0.0}}}}
    """
    from labrun.experiments.results import DiffOptions, diff

    return diff(open_project(where), "params", a_rev, b_rev, options or DiffOptions())


__all__ += [
    "DiffOptions",
    "ExpTable",
    "QueueRow",
    "RevisionSet",
    "ShowOptions",
    "SortColumnError",
    "TableOptions",
    "UnknownRevisionError",
    "exp_diff",
    "exp_show",
    "exp_show_json",
    "exp_table",
    "metrics_diff",
    "metrics_show",
    "params_diff",
    "params_show",
]


def exp_queue_rows(where: PathOrProject | None = None) -> list[QueueRow]:
    """The queue's queued, running and failed experiments, as rows of `exp show`."""
    project = open_project(where)
    if not os.path.exists(os.path.join(project.tmp_dir, "queue", "queue.db")):
        return []  # no queue yet: nothing to open or import (exp show must start fast)
    from labrun.experiments.queue import service
    from labrun.experiments.show import QueueRow

    states = {"queued": "queued", "running": "running", "failed": "failed", "cancelled": "failed"}
    rows = []
    for entry in service.entries(project, tuple(states)):
        local = {"root": None, "log": entry.log or None, "pid": None, "returncode": None}
        rows.append(
            QueueRow(
                rev=entry.spec["capture"],
                baseline=entry.baseline,
                state=states[entry.state],
                name=entry.name,
                executor="tempdir",
                created=int(entry.created),
                local={**local, "task_id": entry.id},
            )
        )
    return rows


__all__ += ["exp_queue_rows"]


def preload_experiment_modules() -> None:
    """Import what running an experiment needs (a process that forks runners does it once)."""
    from labrun.experiments.queue.service import preload_runs

    preload_runs()


__all__ += ["preload_experiment_modules"]
