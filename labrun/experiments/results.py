"""Params and metrics of revisions: `metrics show/diff`, `params show/diff`, `exp diff`.

A revision is the working tree (``workspace``) or any commit; commits are read
through Git (`revisions.py`) and, when the whole pipeline's files are asked for,
straight from the row cache. Results are per file, as `labrun.repro.metrics`
gathers them, keyed by revision label (DVC's names: ``""`` for the plain
workspace, ``workspace``, the revision as typed, branch/tag names, or shas).

    >>> metrics_show(project)                                     # doctest: +SKIP
    {'': {'data': {'metrics.json': {'data': {'acc': 0.9}}}}}
    >>> metrics_diff(project, "HEAD")["diff"]                     # doctest: +SKIP
    {'metrics.json': {'acc': {'old': 0.9, 'new': 0.95, 'diff': 0.04999999999999993}}}
"""

from __future__ import annotations

import posixpath

from labrun.experiments.collect import ROW_ERRORS, Snapshot
from labrun.experiments.revisions import Revisions, collect_options, collect_workspace
from labrun.record import record
from labrun.repro import compare
from labrun.repro import metrics as gather
from labrun.scm import git

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from labrun.experiments.collect import CollectOptions
    from labrun.project import Project

WORKSPACE = "workspace"


@record
class Selection:
    """Which files of a revision: the pipeline's (default), or explicit ``targets``."""

    kind: str  # "metrics" or "params"
    targets: tuple[str, ...] = ()  # project-relative paths
    deps_only: bool = False  # params: only those some stage depends on

    @property
    def whole_pipeline(self) -> bool:
        """True when a cached row holds exactly these results."""
        return not self.targets and not self.deps_only


@record
class RevisionSet:
    """The revisions of `metrics show` / `params show`: flags as in DVC's brancher."""

    revs: tuple[str, ...] = ()
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False

    @property
    def any(self) -> bool:
        """True unless only the workspace is asked for."""
        return bool(self.revs or self.all_branches or self.all_tags or self.all_commits)


def project_paths(project: Project, targets: Sequence[str]) -> tuple[str, ...]:
    """Paths typed by the user (relative to the cwd) as project-relative paths."""
    cwd = project.cwd_rel
    return tuple(posixpath.normpath(posixpath.join(cwd, t.replace("\\", "/"))) for t in targets)


def labels(revs: Revisions, wanted: RevisionSet) -> list[tuple[str, str]]:
    """(label, sha) per distinct commit, in DVC's order; the label joins the names typed."""
    names = [r for r in wanted.revs if r != WORKSPACE]
    if wanted.all_commits:
        from labrun.scm.catfile import all_commits

        names.extend(all_commits(revs.root))
    else:
        if wanted.all_branches:
            names.extend(sorted(r[11:] for r in git.read_refs(revs.gdir, "refs/heads/")))
        if wanted.all_tags:
            names.extend(sorted(r[10:] for r in git.read_refs(revs.gdir, "refs/tags/")))
    grouped: dict[str, list[str]] = {}
    for name in names:
        found = grouped.setdefault(revs.resolve(name), [])
        if name not in found:
            found.append(name)
    return [(",".join(found), sha) for sha, found in grouped.items()]


def results_at(
    revs: Revisions, sha: str | None, selection: Selection, copts: CollectOptions
) -> dict[str, Any]:
    """``{"data": {file: result}}`` of one revision (None: the workspace), or ``{"error"}``."""
    if sha is not None and selection.whole_pipeline:
        row = revs.rows([sha], copts, force=False)[sha]
    elif sha is None and selection.whole_pipeline:
        row = collect_workspace(revs.project, copts)
    else:
        return _targeted(revs, sha, selection, copts)
    if row.data is None:
        return {"error": _type_first(row.error)}
    return {"data": row.data[selection.kind]}


def _targeted(
    revs: Revisions, sha: str | None, selection: Selection, copts: CollectOptions
) -> dict[str, Any]:
    from labrun.experiments.collect import CollectOptions
    from labrun.pipeline.source import WorkspaceSource
    from labrun.scm.gitignore import discovery_filter

    if sha is None:
        source: Any = WorkspaceSource(revs.root)
        ignore: Any = discovery_filter(revs.project)
    else:
        from labrun.pipeline.snapshot import ignore_filter
        from labrun.scm.catfile import GitTreeSource

        source = GitTreeSource(revs.cat(), sha, revs.prefix)
        ignore = ignore_filter(source)
    options = CollectOptions(copts.parsing, copts.cache_dir, copts.param_deps, ignore)
    try:
        snap = Snapshot.load(revs.root, source, options)
    except ROW_ERRORS as exc:
        return {"error": _type_first(gather.describe_error(exc))}
    if selection.kind == "metrics":
        found = gather.gather_metrics(snap.index, snap.view, targets=selection.targets)
    else:
        found = gather.gather_params(
            snap.index, snap.view, deps_only=selection.deps_only, targets=selection.targets
        )
    return {"data": found}


def _type_first(error: dict[str, str] | None) -> dict[str, str] | None:
    """DVC writes these errors type first (its exception encoder), row errors msg first."""
    return None if error is None else {"type": error["type"], "msg": error["msg"]}


def _relative(project: Project, result: dict[str, Any]) -> dict[str, Any]:
    if "data" not in result:
        return result
    cwd = project.cwd_rel
    return {"data": {compare.relative_to(cwd, p): v for p, v in result["data"].items()}}


def show(project: Project, selection: Selection, wanted: RevisionSet) -> dict[str, Any]:
    """label → results for `metrics show` / `params show` (paths relative to the cwd)."""
    revs = Revisions(project)
    try:
        copts = collect_options(project, selection.deps_only)
        if not wanted.any:
            return {"": _relative(project, results_at(revs, None, selection, copts))}
        found = {WORKSPACE: _relative(project, results_at(revs, None, selection, copts))}
        for label, sha in labels(revs, wanted):
            found[label] = _relative(project, results_at(revs, sha, selection, copts))
        _hide_workspace(revs, found)
        return found
    finally:
        revs.close()


def _hide_workspace(revs: Revisions, found: dict[str, Any]) -> None:
    """Drop the workspace when it says what the current branch says (as DVC does)."""
    branch = revs.head()[1]
    if branch and branch.startswith("refs/heads/"):
        name = branch[len("refs/heads/") :]
        if name in found and found[name] == found[WORKSPACE]:
            del found[WORKSPACE]


def metrics_show(
    project: Project, targets: Sequence[str] = (), wanted: RevisionSet | None = None
) -> dict[str, Any]:
    """`metrics show`: label → ``{"data": {file: {"data": metrics}}}`` (or errors)."""
    selection = Selection("metrics", project_paths(project, targets))
    return show(project, selection, wanted or RevisionSet())


def params_show(
    project: Project,
    targets: Sequence[str] = (),
    wanted: RevisionSet | None = None,
    *,
    deps_only: bool = False,
) -> dict[str, Any]:
    """`params show`: label → ``{"data": {file: {"data": params}}}`` (or errors)."""
    selection = Selection("params", project_paths(project, targets), deps_only)
    return show(project, selection, wanted or RevisionSet())


@record
class DiffOptions:
    """`metrics diff` / `params diff` options."""

    targets: tuple[str, ...] = ()  # files to compare (relative to the cwd); default: pipeline's
    show_all: bool = False  # unchanged values too
    deps_only: bool = False  # params: only those some stage depends on


def diff(
    project: Project, kind: str, a_rev: str, b_rev: str, options: DiffOptions
) -> dict[str, Any]:
    """`metrics diff` / `params diff`: ``{"diff": {file: {key: change}}, "errors": {rev: ...}}``.

    ``kind`` is "metrics" or "params". Both keys are left out when empty; a
    repository without commits has no diff.
    """
    selection = Selection(kind, project_paths(project, options.targets), options.deps_only)
    with_unchanged = options.show_all
    revs = Revisions(project)
    try:
        if revs.head()[0] is None:
            return {}
        copts = collect_options(project, selection.deps_only)
        sides = [
            results_at(revs, None if r == WORKSPACE else revs.resolve(r), selection, copts)
            for r in (a_rev, b_rev)
        ]
    finally:
        revs.close()
    sides = [_relative(project, side) for side in sides]
    errors: dict[str, Any] = {}
    for rev, side in zip((a_rev, b_rev), sides, strict=True):
        failed = side.get("error") or compare.file_errors(side.get("data", {}))
        if failed:
            errors[rev] = failed
    old, new = (side.get("data", {}) for side in sides)
    found: dict[str, Any] = {}
    changes = compare.diff_files(old, new, with_unchanged=with_unchanged)
    if changes:
        found["diff"] = changes
    if errors:
        found["errors"] = errors
    return found


def exp_diff(
    project: Project,
    a_rev: str | None = None,
    b_rev: str | None = None,
    *,
    with_unchanged: bool = False,
    param_deps: bool = False,
) -> dict[str, Any]:
    """`exp diff`: ``{"metrics": {file: {key: change}}, "params": {...}}`` (empty: no commits).

    Revisions may be experiment names; ``b_rev`` None is the workspace. An
    unreadable revision compares as empty, as in DVC.
    """
    revs = Revisions(project)
    try:
        if revs.head()[0] is None:
            return {}
        copts = collect_options(project, param_deps)
        old_sha = revs.resolve(a_rev or "HEAD")
        new_sha = revs.resolve(b_rev) if b_rev else None
        rows = revs.rows([old_sha] + ([new_sha] if new_sha else []), copts, force=False)
        old = rows[old_sha].data or {}
        new_row = rows[new_sha] if new_sha else collect_workspace(project, copts)
        new = new_row.data or {}
    finally:
        revs.close()
    return {
        kind: compare.diff_files(
            old.get(kind, {}), new.get(kind, {}), with_unchanged=with_unchanged
        )
        for kind in ("metrics", "params")
    }
