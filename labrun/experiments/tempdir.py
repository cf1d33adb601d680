"""The temporary executor: run an experiment in a throw-away work tree sharing the cache.

Used by `exp run --temp` and by queue workers. The workspace's tracked
changes are captured as a commit (``capture_workspace``); a linked Git
worktree is created from it under `.dvc/tmp/exps/`; the run happens there
and the experiment ref it writes is shared with the main repository at once
(linked worktrees share refs and objects, so nothing needs fetching back).
The directory is removed afterwards, also on failure.

    >>> spec = TempSpec(capture="a" * 40, baseline="b" * 40, name="q1")
    >>> spec.copy_paths
    ()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from labrun.errors import LabrunError
from labrun.experiments import run as exprun
from labrun.experiments.refs import ExperimentError
from labrun.fsutil import FileLock
from labrun.project import Project
from labrun.record import field, record
from labrun.repro.events import Reporter, Warning_
from labrun.repro.options import ReproOptions
from labrun.scm import git


@record
class TempSpec:
    """Everything a temporary run needs; JSON-friendly (queue entries carry it)."""

    capture: str  # commit holding the workspace state to run (parent: the baseline)
    baseline: str
    name: str
    message: str | None = None
    copy_paths: tuple[str, ...] = ()  # project-relative
    set_params: tuple[str, ...] = ()
    legacy_params: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    rev: str | None = None  # a checkpoint to continue from
    overwrite: bool = False  # replace an experiment of the same name (queue retries)


def capture_workspace(project: Project, baseline: str, extra: Sequence[str] = ()) -> str:
    """Commit the workspace's tracked changes (and ``extra`` paths) on top of ``baseline``."""
    tree = git.snapshot_tree(project.root, extra)
    return git.commit_tree(project.root, tree, [baseline], "labrun: workspace for experiment")


def run_temp(project: Project, opts: exprun.ExpRunOptions, reporter: Reporter) -> exprun.ExpResult:
    """`exp run --temp`: the workspace is captured, then left alone while the copy runs."""
    baseline, _ = exprun.require_baseline(project)
    exprun.parse_params(opts)  # bad overrides fail before anything is created
    name = exprun.choose_name(project, baseline, opts.name, opts.repro.force)
    spec = TempSpec(
        capture=capture_workspace(project, baseline),
        baseline=baseline,
        name=name,
        message=opts.message,
        copy_paths=tuple(project_relpath(project, p) for p in opts.copy_paths),
        set_params=opts.set_params,
        legacy_params=opts.legacy_params,
        rev=opts.rev,
    )
    return run_spec(project, spec, opts.repro, reporter)


def project_relpath(project: Project, path: str) -> str:
    """A `-C` path typed by the user (from the cwd), relative to the project root."""
    full = os.path.abspath(os.path.join(project.cwd, path))
    if not os.path.lexists(full):
        raise ExperimentError(f"Unable to copy '{path}'. It is not a file or directory.")
    return os.path.relpath(full, project.root).replace(os.sep, "/")


def run_spec(
    project: Project, spec: TempSpec, repro: ReproOptions, reporter: Reporter
) -> exprun.ExpResult:
    """Run ``spec`` in a fresh worktree and record the experiment; the worktree is removed."""
    with worktree(project, spec.capture) as temp:
        prepare(project, temp, spec)
        env = (*spec.env, ("DVC_ROOT", project.root))
        opts = exprun.ExpRunOptions(
            repro=_with_env(repro, env),
            name=spec.name,
            message=spec.message,
            set_params=spec.set_params,
            legacy_params=spec.legacy_params,
            temp=True,
            rev=spec.rev,
            overwrite=spec.overwrite,
        )
        result = exprun.run_in(temp, spec.baseline, opts, reporter)
        _warn_untracked(temp, result.rev, reporter)
    reporter.emit(exprun.ExperimentSaved("", name=result.name, rev=result.rev, temp=True))
    return result


def _with_env(repro: ReproOptions, env: Sequence[tuple[str, str]]) -> ReproOptions:
    from labrun.record import replace

    return replace(repro, env=(*repro.env, *env))


@contextmanager
def worktree(project: Project, commit: str) -> Iterator[Project]:
    """A linked worktree checked out (detached) at ``commit``, as a Project; removed after."""
    import tempfile

    top = git.run_git(project.root, ["rev-parse", "--show-toplevel"]).strip()
    parent = os.path.join(project.dvc_dir, "tmp", "exps", "standalone")
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix="tmp", dir=parent)
    lock = FileLock(path + ".lock")  # held while the run lives: `exp clean` leaves it be
    lock.acquire()
    try:
        git.run_git(project.root, ["worktree", "add", "--detach", "--no-checkout", path, commit])
        git.run_git(path, ["checkout", "--detach", "-q", commit])
        sub = os.path.relpath(project.root, top)
        root = os.path.normpath(os.path.join(path, sub))
        yield Project(root, os.path.normpath(os.path.join(root, project.cwd_rel)))
    finally:
        remove_worktree(project.root, path)
        lock.release()
        with suppress(OSError):
            os.unlink(path + ".lock")


def remove_worktree(main_root: str, path: str) -> None:
    """Delete a worktree directory and Git's record of it (never raises)."""
    shutil.rmtree(path, ignore_errors=True)
    with suppress(LabrunError):  # housekeeping: a failure must not hide the run's outcome
        git.run_git(main_root, ["worktree", "prune"])


def prepare(project: Project, temp: Project, spec: TempSpec) -> None:
    """Share the cache, copy the local config and ``-C`` paths, check outputs out."""
    from labrun import config

    dvc_dir = os.path.join(temp.root, ".dvc")
    local = os.path.join(project.dvc_dir, "config.local")
    target = os.path.join(dvc_dir, "config.local")
    if os.path.exists(local):
        shutil.copyfile(local, target)
    config.set_option(target, "cache", "dir", str(project.config.cache_dir))
    for rel in spec.copy_paths:
        _copy(os.path.join(project.root, rel), os.path.join(temp.root, rel))
    _checkout(temp)


def _copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)


def _checkout(temp: Project) -> None:
    """Outputs as `dvc.lock` records them, so unchanged stages are not run again."""
    from labrun.repro import tracking
    from labrun.repro.events import NullReporter

    opts = tracking.CheckoutOptions(force=True, allow_missing=True)
    try:
        with tracking.data_run(temp, NullReporter()) as (ctx, index):
            stages = tracking.collect_granular(ctx, index, tracking.Scope((), False, False))
            tracking.checkout_outputs(ctx, stages, opts)
    except tracking.CheckoutFailedError:
        pass  # missing objects: the stages that need them simply run


def _warn_untracked(temp: Project, rev: str, reporter: Reporter) -> None:
    git.run_git(temp.root, ["read-tree", rev])  # the temp index: untracked = not in the commit
    out = git.run_git(temp.root, ["ls-files", "--others", "--exclude-standard", "-z", "--", "."])
    files = sorted(f for f in out.split("\0") if f)
    if files:
        listing = "".join(f"\n\t{f}" for f in files)
        reporter.emit(
            Warning_(
                "",
                "The following untracked files were present in the experiment directory "
                f"after reproduction but will not be included in experiment commits:{listing}",
            )
        )


def clean_leftovers(project: Project) -> list[str]:
    """Temporary work trees of runs that died without cleaning up (no live lock holder)."""
    parent = os.path.join(project.dvc_dir, "tmp", "exps", "standalone")
    removed = []
    for name in sorted(os.listdir(parent)) if os.path.isdir(parent) else ():
        path = os.path.join(parent, name)
        if name.startswith("tmp") and not name.endswith(".lock") and not _in_use(path):
            remove_worktree(project.root, path)
            with suppress(OSError):
                os.unlink(path + ".lock")
            removed.append(path)
    git.run_git(project.root, ["worktree", "prune"])
    return removed


def _in_use(path: str) -> bool:
    """True while a run holds the worktree's lock (see :func:`worktree`)."""
    from labrun.fsutil import FileLock, LockTimeoutError

    lock_path = path + ".lock"
    if not os.path.exists(lock_path):
        return False
    try:
        with FileLock(lock_path, timeout=0):
            return False
    except LockTimeoutError:
        return True
