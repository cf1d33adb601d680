"""The experiments a repository holds: find them by name, list, remove, rename, branch.

Every function works on refs only (no work tree changes), so each one is a
few in-process ref reads plus at most one `git update-ref` transaction.

    >>> join_names(["'a'", "'b'", "'c'"])
    "'a', 'b' and 'c'"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from labrun.experiments.refs import (
    EXEC_APPLY,
    EXEC_BRANCH,
    AmbiguousNameError,
    ExperimentError,
    ExperimentExistsError,
    ExpRef,
    find_by_name,
    iter_exp_refs,
    validate_name,
)
from labrun.project import Project
from labrun.record import record
from labrun.scm import git


class UnknownExperimentError(ExperimentError):
    """A name that is neither an experiment nor a commit."""


@record
class ExpSelection:
    """Which baselines' experiments a command works on (default: HEAD's)."""

    all_commits: bool = False
    revs: tuple[str, ...] = ()
    num: int = 1


def join_names(words: Sequence[str]) -> str:
    """`a, b and c`, as DVC writes lists in messages."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def resolve(project: Project, name: str) -> tuple[ExpRef | None, str]:
    """(the experiment ref or None, commit sha) named by a full ref, a revision or a name."""
    gdir = git.git_dir(project.root)
    if name.startswith("refs/"):
        sha = git.resolve_ref(gdir, name)
        if sha is not None:
            return ExpRef.parse(name), sha
    head, _ = git.head(project.root)
    found = find_by_name(gdir, name, head)
    if len(found) > 1:
        raise AmbiguousNameError(name, [r for r, _ in found])
    if found:
        return found[0]
    sha = git.rev_parse(project.root, name) if not name.startswith("-") else None
    if sha is None:
        raise UnknownExperimentError(f"'{name}' is not a valid experiment name")
    owners = [r for r, tip in iter_exp_refs(gdir) if tip == sha]
    return (owners[0] if len(owners) == 1 else None), sha


def baselines(project: Project, sel: ExpSelection) -> set[str] | None:
    """The selected baseline shas (None: every baseline)."""
    if sel.all_commits:
        return None
    revs = sel.revs or ("HEAD",)
    found: set[str] = set()
    for rev in revs:
        out = git.run_git(project.root, ["rev-list", "--first-parent", f"-n{sel.num}", rev])
        found.update(out.split())
    return found


def experiments_of(project: Project, sel: ExpSelection) -> dict[str, list[tuple[ExpRef, str]]]:
    """baseline → its experiments (ref, sha), in ref order."""
    wanted = baselines(project, sel)
    grouped: dict[str, list[tuple[ExpRef, str]]] = {}
    for exp, sha in iter_exp_refs(git.git_dir(project.root)):
        if wanted is None or exp.baseline in wanted:
            grouped.setdefault(exp.baseline, []).append((exp, sha))
    return grouped


def describe(project: Project, shas: Iterable[str]) -> dict[str, str]:
    """Labels for commits: the current branch, else a tag, else a branch name."""
    gdir = git.git_dir(project.root)
    head, branch = git.head(project.root)
    labels: dict[str, str] = {}
    tags = git.read_refs(gdir, "refs/tags/")
    branches = git.read_refs(gdir, "refs/heads/")
    wanted = set(shas)
    for ref, sha in sorted(branches.items(), reverse=True):
        if sha in wanted:
            labels[sha] = ref.removeprefix("refs/heads/")
    for ref, sha in sorted(tags.items(), reverse=True):
        if sha in wanted:
            labels[sha] = ref.removeprefix("refs/tags/")
    if head in wanted and branch is not None:
        labels[head] = branch.removeprefix("refs/heads/")
    return labels


def remove(
    project: Project, names: Sequence[str], sel: ExpSelection | None, keep: bool
) -> list[str]:
    """Delete experiment refs (by name, or every selected one); returns the removed names."""
    if sel is not None:
        chosen = [
            (exp, sha) for group in experiments_of(project, sel).values() for exp, sha in group
        ]
    else:
        chosen = _by_names(project, names)
    if keep:
        kept = {exp.ref for exp, _ in chosen}
        chosen = [(e, s) for e, s in iter_exp_refs(git.git_dir(project.root)) if e.ref not in kept]
    _delete(project, [exp for exp, _ in chosen])
    return [exp.name for exp, _ in chosen]


def _by_names(project: Project, names: Sequence[str]) -> list[tuple[ExpRef, str]]:
    found, missing = [], []
    for name in names:
        try:
            exp, sha = resolve(project, name)
        except UnknownExperimentError:
            exp, sha = None, ""
        if exp is None:
            missing.append(name)
        else:
            found.append((exp, sha))
    if len(missing) == 1:
        raise UnknownExperimentError(f"'{missing[0]}' is not a valid experiment name")
    if missing:
        raise UnknownExperimentError(f"'{'; '.join(missing)}' are not valid experiment names")
    return found


def _delete(project: Project, exps: Sequence[ExpRef]) -> None:
    gdir = git.git_dir(project.root)
    doomed = {e.ref for e in exps}
    tips = {git.resolve_ref(gdir, e.ref) for e in exps}
    extra = [r for r in (EXEC_APPLY, EXEC_BRANCH) if git.resolve_ref(gdir, r) in tips]
    git.delete_refs(project.root, [*sorted(doomed), *extra])


def rename(project: Project, name: str, new_name: str, force: bool) -> list[str]:
    """Move an experiment to a new name under the same baseline."""
    exp, sha = resolve(project, name)
    if exp is None:
        raise UnknownExperimentError(f"'{name}' is not a valid experiment name")
    if new_name == exp.name:
        return []
    validate_name(exp.baseline, new_name)
    target = ExpRef(exp.baseline, new_name)
    if git.resolve_ref(git.git_dir(project.root), target.ref) is not None and not force:
        raise ExperimentExistsError(new_name, "labrun exp rename -f ...")
    script = f"update {target.ref} {sha}\ndelete {exp.ref} {sha}\n"
    git.run_git(project.root, ["update-ref", "--stdin"], input=script)
    return [exp.name]


def branch(project: Project, name: str, branch_name: str | None) -> tuple[str, str]:
    """Create a Git branch at the experiment's commit; returns (experiment name, branch)."""
    exp, sha = resolve(project, name)
    if exp is None:
        raise ExperimentError(f"'{name}' does not appear to be an experiment commit.")
    new = branch_name or f"{exp.name}-branch"
    ref = f"refs/heads/{new}"
    if not git.check_ref_format(ref):
        raise ExperimentError(f"'{new}' is not a valid Git branch name")
    if git.resolve_ref(git.git_dir(project.root), ref) is not None:
        raise ExperimentError(f"Git branch '{new}' already exists.")
    git.update_ref(project.root, ref, sha, f"dvc: Created from experiment '{exp.name}'", "0" * 40)
    return exp.name, new
