"""Experiments on a Git remote: list, push, pull, remove and rename them there.

A remote is a Git remote's name, a URL or a path, handed to the `git` command
(so users' remotes and credentials just work). An experiment on a remote is a
ref ``refs/exps/<bl[:2]>/<bl[2:]>/<name>`` there, as locally.

Each ref pushed or pulled ends in one of three states: *success* (created,
fast-forwarded or forced), *up to date*, or *diverged* (the two sides hold
different commits and neither is an ancestor of the other, or the local one is
ahead when pulling; only ``force`` overwrites them). Pulled refs are fetched
under a private namespace first, then moved into place in one `update-ref`
transaction that checks the old values, so a ref is never half-updated.

Unless ``cache`` is off, the cached data of the experiments that are now on
both sides travels too (`transfer.py`).

    >>> r = push(project, "origin", [], ExpSyncOptions())            # doctest: +SKIP
    >>> r.success, r.up_to_date, r.diverged                       # doctest: +SKIP
    (('lucky-lynx',), (), ())
"""

from __future__ import annotations

from collections.abc import Sequence

from labrun.errors import ConfigError, LabrunError
from labrun.experiments.catalog import ExpSelection, UnknownExperimentError, baselines
from labrun.experiments.refs import (
    EXPS,
    LABRUN_NS,
    AmbiguousNameError,
    ExperimentError,
    ExperimentExistsError,
    ExpRef,
    iter_exp_refs,
    validate_name,
)
from labrun.experiments.transfer import Transfer, fetch_data, push_data
from labrun.project import Project
from labrun.record import field, record
from labrun.scm import git

_ZERO = "0" * 40
Found = list[tuple[ExpRef, str]]  # experiments and their commits, in ref order


class InvalidRemoteError(ExperimentError):
    """Git could not reach the remote (unknown name, not a repository, no access)."""


class RemoteSyncError(ExperimentError):
    """The remote refused some refs for another reason than divergence (a hook...)."""


class DataTransferError(ExperimentError):
    """The refs moved, but their data did not; ``result`` tells what happened to the refs."""

    def __init__(self, message: str, result: ExpSyncResult, exit_code: int = 255) -> None:
        super().__init__(message)
        self.result = result
        self.exit_code = exit_code


@record
class ExpSyncOptions:
    """Options of `exp push` / `exp pull` besides the remote and the names."""

    selection: ExpSelection = field(default_factory=ExpSelection)
    force: bool = False  # overwrite diverged refs
    cache: bool = True  # also move the cached data (False: --no-cache)
    dvc_remote: str | None = None  # -r NAME (default: core.remote)
    jobs: int | None = None  # accepted; local copies run on one thread
    run_cache: bool = False  # also move `runs/` entries


@record
class ExpSyncResult:
    """What a push or pull did: experiment names by outcome, and the data moved."""

    success: tuple[str, ...] = ()
    up_to_date: tuple[str, ...] = ()
    diverged: tuple[str, ...] = ()
    data: Transfer | None = None  # None: no data was moved (--no-cache)


# --- reading the remote ---


def remote_experiments(project: Project, remote: str) -> Found:
    """The experiments on ``remote`` (bookkeeping refs skipped), in ref order.

    InvalidRemoteError when Git cannot list the remote's refs.
    """
    if not remote or remote.startswith("-"):
        raise InvalidRemoteError(f"'{remote}' is not a valid Git remote or URL")
    try:
        refs = git.ls_remote(project.root, remote, f"{EXPS}/")
    except git.GitError as exc:
        hint = None if "does not appear to be a git repository" in exc.message else exc.message
        raise InvalidRemoteError(
            f"'{remote}' is not a valid Git remote or URL", hint=hint
        ) from None
    found = ((ExpRef.parse(ref), sha) for ref, sha in sorted(refs.items()))
    return [(exp, sha) for exp, sha in found if exp is not None]


def list_remote(project: Project, remote: str, sel: ExpSelection) -> dict[str, list[str]]:
    """baseline sha → names of its experiments on ``remote`` (selected baselines only)."""
    grouped: dict[str, list[str]] = {}
    for exp, _sha in _select(project, remote_experiments(project, remote), sel):
        grouped.setdefault(exp.baseline, []).append(exp.name)
    return grouped


def resolve_names(names: Sequence[str], found: Found, head: str | None) -> tuple[Found, list[str]]:
    """The experiments ``names`` pick among ``found`` (full refs or names), and those unmatched.

    A name on several baselines picks HEAD's, else AmbiguousNameError (as DVC).

        >>> exp = ExpRef("ab" * 20, "x")
        >>> resolve_names(["x", "y"], [(exp, "c" * 40)], None)[1]
        ['y']
    """
    chosen: Found = []
    unmatched: list[str] = []
    for name in names:
        if name.startswith("refs/"):
            matches = [(e, s) for e, s in found if e.ref == name]
        else:
            matches = [(e, s) for e, s in found if e.name == name]
        if matches:
            picked = _pick(name, matches, head)
            if picked not in chosen:
                chosen.append(picked)
        else:
            unmatched.append(name)
    return chosen, unmatched


def _pick(name: str, matches: Found, head: str | None) -> tuple[ExpRef, str]:
    if len(matches) > 1:
        preferred = [(e, s) for e, s in matches if e.baseline == head]
        if not preferred:
            raise AmbiguousNameError(name, [e for e, _ in matches])
        return preferred[0]
    return matches[0]


def _select(project: Project, found: Found, sel: ExpSelection) -> Found:
    wanted = baselines(project, sel)
    return [(e, s) for e, s in found if wanted is None or e.baseline in wanted]


def _unknown(names: list[str], remote: str | None = None) -> UnknownExperimentError:
    joined = "; ".join(names)
    if remote is not None:
        return UnknownExperimentError(f"Experiment '{joined}' does not exist in '{remote}'")
    if len(names) > 1:
        return UnknownExperimentError(f"'{joined}' are not valid experiment names")
    return UnknownExperimentError(f"'{joined}' is not a valid experiment name")


def _head(project: Project) -> str | None:
    return git.head(project.root)[0]


# --- push ---


def push(
    project: Project, remote: str, names: Sequence[str], options: ExpSyncOptions
) -> ExpSyncResult:
    """Push experiment refs (names, else the selection: HEAD's by default) and their data.

    DataTransferError (with the refs' result) when the data could not be uploaded.
    """
    local = iter_exp_refs(git.git_dir(project.root))
    if names:
        chosen, unmatched = resolve_names(names, local, _head(project))
        if unmatched:
            raise _unknown(unmatched)
    if options.selection.all_commits:
        chosen = local
    elif not names:
        chosen = _select(project, local, options.selection)
    result, synced = _push_refs(project, remote, chosen, options.force)
    if not options.cache:
        return result
    return _with_data(project, result, synced, options, upload=True)


def _push_refs(
    project: Project, remote: str, chosen: Found, force: bool
) -> tuple[ExpSyncResult, Found]:
    """Push the refs; the result, and the experiments now the same on both sides."""
    remote_experiments(project, remote)  # a bad remote fails here, with DVC's message
    if not chosen:
        return ExpSyncResult(), []
    specs = [f"{e.ref}:{e.ref}" for e, _ in chosen]
    try:
        report = git.push_porcelain(project.root, remote, specs, force=force)
    except git.GitError as exc:
        raise RemoteSyncError(f"Git failed to push experiments to '{remote}': {exc}") from None
    outcome = _Outcome()
    refused = []
    for exp, sha in chosen:
        flag, summary = report.get(exp.ref, ("!", "[no report]"))
        if flag == "=":
            outcome.add("up_to_date", exp, sha)
        elif flag != "!":
            outcome.add("success", exp, sha)
        elif "non-fast-forward" in summary or "fetch first" in summary:
            outcome.add("diverged", exp, sha)
        else:
            refused.append(f"{exp.ref}: {summary}")
    if refused:
        raise RemoteSyncError(f"Git failed to push some refs to '{remote}' ({', '.join(refused)})")
    return outcome.result(), outcome.synced


class _Outcome:
    """Names by outcome, and the experiments (with their local tip) that are in sync."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {"success": [], "up_to_date": [], "diverged": []}
        self.synced: Found = []

    def add(self, kind: str, exp: ExpRef, tip: str) -> None:
        self.names[kind].append(exp.name)
        if kind != "diverged":
            self.synced.append((exp, tip))

    def result(self) -> ExpSyncResult:
        n = self.names
        return ExpSyncResult(tuple(n["success"]), tuple(n["up_to_date"]), tuple(n["diverged"]))


def _with_data(
    project: Project, result: ExpSyncResult, done: Found, options: ExpSyncOptions, *, upload: bool
) -> ExpSyncResult:
    """Move the data of the experiments in sync; errors carry the refs' result.

    The messages are DVC's: a failed upload is "failed to push cache: ...", a config
    error while fetching "configuration error - ..." (exit 251).
    """
    commits = list(dict.fromkeys(c for e, s in done for c in _commits_of(project, e, s)))
    move = push_data if upload else fetch_data
    try:
        data = move(project, commits, options.dvc_remote, run_cache=options.run_cache)
    except ConfigError as exc:
        if upload:
            raise DataTransferError(f"failed to push cache: {exc}", result) from None
        raise DataTransferError(f"configuration error - {exc}", result, exc.exit_code) from None
    except LabrunError as exc:
        prefix = "failed to push cache: " if upload else ""
        raise DataTransferError(f"{prefix}{exc}", result) from None
    return ExpSyncResult(result.success, result.up_to_date, result.diverged, data)


def _commits_of(project: Project, exp: ExpRef, tip: str) -> list[str]:
    """The experiment's commits: its tip back to (not including) its baseline."""
    try:
        return git.commits_between(project.root, tip, exp.baseline)
    except git.GitError:
        return [tip]  # the baseline is not here: the tip alone


# --- pull ---


def pull(
    project: Project, remote: str, names: Sequence[str], options: ExpSyncOptions
) -> ExpSyncResult:
    """Fetch experiment refs from ``remote`` (names, ``-A``, else the selected baselines')
    and their data into the cache (not checked out)."""
    found = remote_experiments(project, remote)
    if options.selection.all_commits:
        chosen = found
    elif names:
        chosen, unmatched = resolve_names(names, found, _head(project))
        if unmatched:
            raise _unknown(unmatched)
    else:
        chosen = _select(project, found, options.selection)
    result, synced = _fetch_refs(project, remote, chosen, options.force)
    if not options.cache:
        return result
    return _with_data(project, result, synced, options, upload=False)


def _fetch_refs(
    project: Project, remote: str, chosen: Found, force: bool
) -> tuple[ExpSyncResult, Found]:
    """Fetch the refs; the result, and the experiments now the same on both sides."""
    gdir = git.git_dir(project.root)
    local = {exp.ref: git.resolve_ref(gdir, exp.ref) for exp, _ in chosen}
    todo = [(e, s) for e, s in chosen if local[e.ref] != s]
    fetched = _fetch_into_namespace(project, remote, todo)
    outcome = _Outcome()
    changes: list[tuple[str, str | None, str | None]] = []
    for exp, sha in chosen:
        old, new = local[exp.ref], fetched.get(exp.ref, sha)
        if old == new:
            outcome.add("up_to_date", exp, new)
        elif old is None or force or git.is_ancestor(project.root, old, new):
            outcome.add("success", exp, new)
            changes.append((exp.ref, new, old or _ZERO))
        else:
            outcome.add("diverged", exp, new)
    git.update_refs(project.root, changes)
    return outcome.result(), outcome.synced


def _fetch_into_namespace(project: Project, remote: str, todo: Found) -> dict[str, str]:
    """Fetch refs under a private namespace; their ref → the commit actually fetched."""
    if not todo:
        return {}
    from labrun.fsutil import unique_suffix

    space = f"{LABRUN_NS}/fetch/{unique_suffix()}"
    temp = {e.ref: f"{space}/{e.ref.removeprefix(EXPS + '/')}" for e, _ in todo}
    try:
        git.fetch_refs(project.root, remote, [f"+{ref}:{tmp}" for ref, tmp in temp.items()])
        held = git.read_refs(git.git_dir(project.root), f"{space}/")
    except git.GitError as exc:
        raise RemoteSyncError(f"Git failed to fetch experiments from '{remote}': {exc}") from None
    finally:
        _drop_namespace(project, space)
    return {ref: held[tmp] for ref, tmp in temp.items() if tmp in held}


def _drop_namespace(project: Project, space: str) -> None:
    leftovers = git.read_refs(git.git_dir(project.root), f"{space}/")
    git.update_refs(project.root, [(ref, None, None) for ref in sorted(leftovers)])


# --- remove and rename on the remote ---


def remove_remote(
    project: Project,
    remote: str,
    names: Sequence[str],
    sel: ExpSelection | None,
    keep: bool,
) -> list[str]:
    """Delete experiment refs on ``remote`` (by name, or the selected baselines'); the names."""
    found = remote_experiments(project, remote)
    if names:
        chosen, unmatched = resolve_names(names, found, _head(project))
        if unmatched:
            raise _unknown(unmatched, remote)
    else:
        chosen = _select(project, found, sel or ExpSelection())
    if keep:
        kept = {e.ref for e, _ in chosen}
        chosen = [(e, s) for e, s in found if e.ref not in kept]
    _push_changes(project, remote, [f":{e.ref}" for e, _ in chosen])
    return [e.name for e, _ in chosen]


def rename_remote(
    project: Project, remote: str, name: str, new_name: str, force: bool
) -> list[str]:
    """Rename an experiment on ``remote`` (and the local one of that name, as DVC does)."""
    if name == new_name:
        return []
    found = remote_experiments(project, remote)
    chosen, unmatched = resolve_names([name], found, _head(project))
    if unmatched:
        raise _unknown(unmatched, remote)
    exp, sha = chosen[0]
    target = ExpRef(exp.baseline, new_name)
    gdir = git.git_dir(project.root)
    taken = any(e.ref == target.ref for e, _ in found) or git.resolve_ref(gdir, target.ref)
    if taken and not force:
        raise ExperimentExistsError(new_name, "labrun exp rename -f ...")
    validate_name(exp.baseline, new_name)
    if not git.has_object(project.root, sha):
        _fetch_into_namespace(project, remote, [(exp, sha)])
    _push_changes(project, remote, [f"+{sha}:{target.ref}", f":{exp.ref}"], atomic=True)
    _rename_local(project, exp, target)
    return [name]


def _rename_local(project: Project, exp: ExpRef, target: ExpRef) -> None:
    tip = git.resolve_ref(git.git_dir(project.root), exp.ref)
    if tip is not None:
        git.update_refs(project.root, [(target.ref, tip, None), (exp.ref, None, tip)])


def _push_changes(project: Project, remote: str, specs: list[str], atomic: bool = False) -> None:
    if not specs:
        return
    try:
        report = git.push_porcelain(project.root, remote, specs, atomic=atomic)
    except git.GitError as exc:
        raise RemoteSyncError(f"Git failed to push to '{remote}': {exc}") from None
    refused = [f"{ref}: {summary}" for ref, (flag, summary) in report.items() if flag == "!"]
    if refused:
        raise RemoteSyncError(f"Git failed to push some refs to '{remote}' ({', '.join(refused)})")
