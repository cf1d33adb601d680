"""`exp apply` (the original `exp checkout`): an experiment's files into the work tree.

The workspace is first saved as a stash-shaped commit on
`refs/exps/apply/stash` (tracked changes and untracked files), so
`git stash apply refs/exps/apply/stash` brings it back. Then every file of the
experiment commit is written over the work tree (files the experiment does not
have are kept), and outputs are checked out of the cache. `HEAD`, branches and
the user's index do not move.
"""

from __future__ import annotations

import os

from labrun.experiments.catalog import resolve
from labrun.experiments.refs import APPLY_HEAD, APPLY_STASH, EXEC_APPLY, ExperimentError
from labrun.project import Project
from labrun.repro.events import Reporter
from labrun.scm import git


def apply(project: Project, name: str, reporter: Reporter) -> str:
    """Bring experiment ``name`` into the work tree; returns its commit sha."""
    try:
        _exp, sha = resolve(project, name)
    except ExperimentError:
        raise ExperimentError(f"'{name}' does not appear to be an experiment commit.") from None
    head, branch = git.head(project.root)
    assert head is not None
    _save_workspace(project, head, branch, sha, name)
    write_tree(project, sha)
    checkout_outputs(project, reporter)
    git.update_ref(project.root, EXEC_APPLY, sha, f"labrun: applied '{name}'")
    return sha


def _save_workspace(project: Project, head: str, branch: str | None, sha: str, name: str) -> None:
    """A stash commit of everything (untracked files too) on `refs/exps/apply/stash`."""
    import tempfile

    gdir = git.git_dir(project.root)
    fd, tmp_index = tempfile.mkstemp(prefix="labrun-index-", dir=gdir)
    os.close(fd)
    env = {"GIT_INDEX_FILE": tmp_index}
    try:
        os.unlink(tmp_index)
        git.run_git(project.root, ["read-tree", head], env=env)
        index_tree = git.run_git(project.root, ["write-tree"], env=env).strip()
        git.run_git(project.root, ["add", "-A", "--", ":/"], env=env)
        work_tree = git.run_git(project.root, ["write-tree"], env=env).strip()
    finally:
        if os.path.exists(tmp_index):
            os.unlink(tmp_index)
    where = branch.removeprefix("refs/heads/") if branch else "(no branch)"
    message = f"dvc-exp-apply:{head}:{sha}:{name}"
    index_commit = git.commit_tree(project.root, index_tree, [head], f"index on {where}: {message}")
    stash = git.commit_tree(project.root, work_tree, [head, index_commit], f"On {where}: {message}")
    git.delete_refs(project.root, [APPLY_STASH])  # only the latest apply is kept (as DVC)
    git.run_git(
        project.root,
        ["update-ref", "--create-reflog", "-m", f"On {where}: {message}", APPLY_STASH, stash],
    )
    git.update_ref(project.root, APPLY_HEAD, head, "labrun: exp apply")


def write_tree(project: Project, sha: str) -> None:
    """Write every file of commit ``sha`` into the work tree, through a private index."""
    import tempfile

    gdir = git.git_dir(project.root)
    fd, tmp_index = tempfile.mkstemp(prefix="labrun-index-", dir=gdir)
    os.close(fd)
    os.unlink(tmp_index)
    env = {"GIT_INDEX_FILE": tmp_index}
    top = git.run_git(project.root, ["rev-parse", "--show-toplevel"]).strip()
    try:
        git.run_git(top, ["read-tree", sha], env=env)
        git.run_git(top, ["checkout-index", "-a", "-f"], env=env)
    finally:
        if os.path.exists(tmp_index):
            os.unlink(tmp_index)


def checkout_outputs(project: Project, reporter: Reporter | None = None) -> None:
    """Outputs as the work tree's `dvc.lock` and `.dvc` files record them (forced)."""
    from labrun.repro import tracking
    from labrun.repro.events import NullReporter

    opts = tracking.CheckoutOptions(force=True)
    with tracking.data_run(project, reporter or NullReporter()) as (ctx, index):
        stages = tracking.collect_granular(ctx, index, tracking.Scope())
        tracking.checkout_outputs(ctx, stages, opts)
