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
from typing import TYPE_CHECKING, Any

from labrun.errors import LabrunError
from labrun.pipeline.dag import Graph, build_graph
from labrun.pipeline.dagview import LabelGraph
from labrun.pipeline.index import Index
from labrun.pipeline.interpolate import ParsingConfig
from labrun.pipeline.stage import Stage
from labrun.pipeline.targets import Collector
from labrun.project import Project
from labrun.repro import events
from labrun.repro.options import ReproOptions

if TYPE_CHECKING:  # loaded on first use (see __getattr__): they pull in the cache and sqlite
    from labrun.repro.scheduler import ReproFailedError, RunResult
    from labrun.repro.status import Reason, StageStatus

_LAZY = {
    "ReproFailedError": "labrun.repro.scheduler",
    "RunResult": "labrun.repro.scheduler",
    "Reason": "labrun.repro.status",
    "StageStatus": "labrun.repro.status",
}


def __getattr__(name: str) -> Any:
    """Heavy names are imported when first used, so light commands start fast."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labrun.api' has no attribute {name!r}")

PathOrProject = str | os.PathLike[str] | Project

__all__ = [
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


def _ignore(project: Project):  # type: ignore[no-untyped-def]
    from labrun.ignore import DvcIgnore

    return DvcIgnore(project.root).is_ignored


def load_index(where: PathOrProject | None = None) -> Index:
    """Every stage of the project (any broken dvc file is an error)."""
    project = open_project(where)
    return Index.load(project.root, parsing=_parsing(project), ignore=_ignore(project))


def collector(project: Project) -> Collector:
    """A target collector for the project, relative to the project's cwd."""
    return Collector(project.root, project.cwd_rel, _parsing(project), _ignore(project))


def stage_list(
    where: PathOrProject | None = None,
    targets: Sequence[str] = (),
    *,
    all_stages: bool = False,
    recursive: bool = False,
) -> list[Stage]:
    """Stages of the targets (default `./dvc.yaml`), or of the whole project with all_stages."""
    project = open_project(where)
    if all_stages:
        return load_index(project).stages
    found: dict[tuple[str, str], Stage] = {}
    col = collector(project)
    for target in targets or ["dvc.yaml"]:
        for stage in col.collect(target, recursive=recursive):
            found.setdefault((stage.dvcfile, stage.name), stage)
    return list(found.values())


def dag(
    where: PathOrProject | None = None,
    target: str | None = None,
    *,
    full: bool = False,
    outs: bool = False,
) -> LabelGraph:
    """The project graph (or the part around ``target``), of stages or of outputs.

    Edges are (dependent, dependency) pairs of labels.
    """
    from labrun.pipeline import dagview

    project = open_project(where)
    index = load_index(project)
    graph = build_graph(project.root, index.stages, project.cwd_rel)
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
    from labrun.repro.engine import reproduce

    project = open_project(where)
    return reproduce(project, options or ReproOptions(), reporter or events.NullReporter(), confirm)


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
    return build_graph(project.root, load_index(project).stages, project.cwd_rel)
