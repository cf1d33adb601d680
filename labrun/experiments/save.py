"""Turn a work tree into an experiment commit under `refs/exps/...`.

The commit's tree is the baseline's plus every change to tracked files, plus
the files a run produces that belong in Git (`dvc.yaml`, `dvc.lock`, `.dvc`
files, `cache: false` outputs, params and metrics files). It is built on a
private copy of the index, so the user's staging area, `HEAD` and branches
are never touched.

    >>> exp_hash({})[:12]
    '44136fa355b3'
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping

from labrun import digests
from labrun.errors import LabrunError
from labrun.experiments.refs import ExperimentExistsError, ExpRef
from labrun.pipeline.index import Index
from labrun.pipeline.lockfile import LockFile, lock_relpath
from labrun.record import record
from labrun.repro.events import Reporter
from labrun.scm import git

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any


def exp_hash(entries: Mapping[str, Any]) -> str:
    """DVC's experiment hash: sha256 of the lock entries of the stages that ran, as JSON."""
    return digests.sha256_hex(digests.json_sorted(entries).encode())


def lock_entries(root: str, index: Index, addressings: Iterable[str]) -> dict[str, Any]:
    """``{stage name: its dvc.lock entry}`` for the given stage addressings."""
    wanted = set(addressings)
    entries: dict[str, Any] = {}
    locks: dict[str, LockFile] = {}
    for stage in index.stages:
        if stage.is_data_source or not wanted.intersection(_addresses(stage)):
            continue
        rel = lock_relpath(stage.dvcfile)
        lock = locks.get(rel) or locks.setdefault(rel, LockFile.load(root, rel))
        entry = lock.entry(stage.name)
        if entry is not None:
            entries[stage.name] = entry
    return entries


def _addresses(stage: Any) -> set[str]:
    names = {stage.name}
    if stage.dvcfile != "dvc.yaml":
        names.add(f"{stage.dvcfile}:{stage.name}")
    return names


def pipeline_paths(root: str, index: Index) -> list[str]:
    """Files of the pipeline that belong in an experiment commit (relative to ``root``)."""
    paths: set[str] = set()
    for relpath, pf in index.pipelines.items():
        paths.add(relpath)
        if relpath.endswith((".yaml", ".yml")):
            paths.add(lock_relpath(relpath))
        base = posixpath.dirname(relpath)
        for key in ("metrics", "params", "plots"):
            paths.update(posixpath.join(base, p) for p in _top_level_paths(pf, key))
    for stage in index.stages:
        paths.add(stage.dvcfile)
        for out in stage.outs:
            if not out.cache:
                paths.add(_rel(root, stage.abspath(root, out.path)))
        paths.update(_rel(root, stage.abspath(root, p)) for p in stage.params_paths())
    return sorted(p for p in paths if not p.startswith(".."))


def _top_level_paths(pf: Any, key: str) -> list[str]:
    data = getattr(pf, "data", None)
    items = data.get(key) if isinstance(data, dict) else None
    found: list[str] = []
    for item in items or ():
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(k for k in item if isinstance(k, str))
    return found


def _rel(root: str, path: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


@record
class ExpCommit:
    """An experiment commit to make: which ref, which tree, which message, on which parent."""

    exp: ExpRef
    tree: str
    message: str
    parent: str | None = None  # default: the baseline (checkpoints chain on the previous one)


def commit_experiment(root: str, commit: ExpCommit, *, force: bool = False) -> str:
    """Make ``commit`` and point its experiment ref at it; returns the commit sha.

    An existing ref of the same name is replaced with ``force``; without it, an
    identical tree is reused silently and a different one is an error (as DVC).
    """
    exp = commit.exp
    existing = git.resolve_ref(git.git_dir(root), exp.ref)
    if existing is not None and not force:
        if git.tree_of(root, existing) == commit.tree:
            return existing
        raise ExperimentExistsError(exp.name)
    sha = git.commit_tree(root, commit.tree, [commit.parent or exp.baseline], commit.message)
    git.update_ref(root, exp.ref, sha, f"labrun: commit experiment '{exp.name}'")
    return sha


@record
class ExpSaveOptions:
    """Flags of `exp save`."""

    targets: tuple[str, ...] = ()
    recursive: bool = False
    name: str | None = None
    force: bool = False
    include_untracked: tuple[str, ...] = ()
    message: str | None = None


class SaveError(LabrunError):
    """`exp save` failed (DVC reports every such failure with exit code 1)."""

    exit_code = 1


def save_workspace(
    project: Any, opts: ExpSaveOptions, reporter: Reporter | None = None
) -> tuple[str, str]:
    """`exp save`: commit the workspace as an experiment without running anything.

    Stages are first committed (`dvc commit --force` semantics) so `dvc.lock`
    describes the outputs as they are. Returns (name, commit sha). Any failure
    is a :class:`SaveError` ("failed to save experiment - <cause>").
    """
    try:
        return _save(project, opts, reporter)
    except LabrunError as exc:
        raise SaveError(f"failed to save experiment - {exc.message}", hint=exc.hint) from exc


def _save(project: Any, opts: ExpSaveOptions, reporter: Reporter | None) -> tuple[str, str]:
    from labrun.experiments import run as exprun
    from labrun.repro import tracking
    from labrun.repro.events import NullReporter

    baseline, _ = exprun.require_baseline(project)
    with exprun.workspace_lock(project):
        chosen = exprun.choose_name(project, baseline, opts.name, opts.force)
        commit_opts = tracking.CommitOptions(
            force=True, recursive=opts.recursive, allow_missing=True
        )
        with tracking.data_run(project, reporter or NullReporter()) as (ctx, index):
            tracking.commit_stages(ctx, index, opts.targets, commit_opts)
        index = _load_index(project)
        paths = pipeline_paths(project.root, index)
        digest = exp_hash(lock_entries(project.root, index, [s.name for s in index.stages]))
        tree = git.snapshot_tree(project.root, paths, forced=opts.include_untracked)
        message = opts.message or f"dvc: commit experiment {digest}"
        commit = ExpCommit(ExpRef(baseline, chosen), tree, message)
        sha = commit_experiment(project.root, commit, force=opts.force)
    return chosen, sha


def _load_index(project: Any) -> Index:
    from labrun.repro.engine import parsing_of
    from labrun.scm.gitignore import discovery_filter

    return Index.load(project.root, parsing_of(project), discovery_filter(project))
