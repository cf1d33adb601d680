"""The temporary executor: run an experiment in a throw-away work tree sharing the cache.

Used by `exp run --temp` and by queue workers. The workspace's tracked
changes are captured as a commit (``capture_workspace``); a linked Git
worktree is created from it under `.dvc/tmp/exps/`; the run happens there
and the experiment ref it writes is shared with the main repository at once
(linked worktrees share refs and objects, so nothing needs fetching back).
The directory is removed afterwards, also on failure.

A queue worker keeps one such work tree for all its runs instead
(:class:`ReusableWorktree`): before each run it is reset to what a fresh one
would hold, which costs one `git checkout` of the files that differ.

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
from labrun.fsutil import FileLock, LockTimeoutError
from labrun.project import Project
from labrun.record import field, record
from labrun.repro.events import Reporter, Warning_
from labrun.repro.options import ReproOptions
from labrun.scm import git

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from labrun.repro.context import RunContext
    from labrun.repro.tracking import Granular


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
    project: Project,
    spec: TempSpec,
    repro: ReproOptions,
    reporter: Reporter,
    workdir: Project | None = None,
) -> exprun.ExpResult:
    """Run ``spec`` and record the experiment.

    The run happens in a fresh worktree, removed afterwards, or in ``workdir``: a
    worktree made ready already (see :class:`ReusableWorktree`): checked out at
    ``spec.capture``, configured, outputs checked out. It is left as the run leaves it.
    """
    if workdir is not None:
        if spec.copy_paths:
            prepare(project, workdir, spec)  # copied paths come before the outputs
        result = _run_in_tree(project, workdir, spec, repro, reporter)
    else:
        with worktree(project, spec.capture) as temp:
            prepare(project, temp, spec)
            result = _run_in_tree(project, temp, spec, repro, reporter)
    reporter.emit(exprun.ExperimentSaved("", name=result.name, rev=result.rev, temp=True))
    return result


def _run_in_tree(
    project: Project, temp: Project, spec: TempSpec, repro: ReproOptions, reporter: Reporter
) -> exprun.ExpResult:
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
    return result


def _with_env(repro: ReproOptions, env: Sequence[tuple[str, str]]) -> ReproOptions:
    from labrun.record import replace

    return replace(repro, env=(*repro.env, *env))


@contextmanager
def worktree(project: Project, commit: str) -> Iterator[Project]:
    """A linked worktree checked out (detached) at ``commit``, as a Project; removed after."""
    import tempfile

    path = tempfile.mkdtemp(prefix="tmp", dir=_standalone_dir(project))
    lock = FileLock(path + ".lock")  # held while the run lives: `exp clean` leaves it be
    lock.acquire()
    try:
        _add_worktree(project.root, path, commit)
        yield _project_in(project, path, _subdir(project))
    finally:
        remove_worktree(project.root, path)
        lock.release()
        with suppress(OSError):
            os.unlink(path + ".lock")


def _standalone_dir(project: Project) -> str:
    parent = os.path.join(project.dvc_dir, "tmp", "exps", "standalone")
    os.makedirs(parent, exist_ok=True)
    return parent


def _subdir(project: Project) -> str:
    """Where the project lies in its Git work tree ("." at the top)."""
    top = git.find_worktree(project.root)
    if top is None:
        top = git.run_git(project.root, ["rev-parse", "--show-toplevel"]).strip()
    return os.path.relpath(project.root, top)


def _project_in(project: Project, path: str, sub: str) -> Project:
    """The project as the worktree at ``path`` holds it."""
    root = os.path.normpath(os.path.join(path, sub))
    return Project(root, os.path.normpath(os.path.join(root, project.cwd_rel)))


def _add_worktree(main_root: str, path: str, commit: str) -> None:
    # --force: a path Git still records (its directory deleted by hand) is taken over
    git.run_git(main_root, ["worktree", "add", "--force", "--detach", "-q", path, commit])


def remove_worktree(main_root: str, path: str) -> None:
    """Delete a worktree directory and Git's record of it (never raises)."""
    admin = _admin_dir(path)
    shutil.rmtree(path, ignore_errors=True)
    if admin is not None:  # what `git worktree prune` would do, without a git process
        shutil.rmtree(admin, ignore_errors=True)
        return
    with suppress(LabrunError):  # housekeeping: a failure must not hide the run's outcome
        git.run_git(main_root, ["worktree", "prune"])


def _admin_dir(path: str) -> str | None:
    """Git's record of the linked worktree at ``path`` (``.git/worktrees/<id>``), if any."""
    try:
        with open(os.path.join(path, ".git"), encoding="utf-8") as stream:
            text = stream.read().strip()
    except OSError:
        return None
    admin = os.path.normpath(os.path.join(path, text.removeprefix("gitdir:").strip()))
    if not text.startswith("gitdir:") or os.path.basename(os.path.dirname(admin)) != "worktrees":
        return None
    return admin if os.path.isdir(admin) else None


class ReusableWorktree:
    """A linked worktree kept from one run to the next (a queue worker has one per project).

    :meth:`checkout` makes it what :func:`worktree` would create: the commit's
    files, and no other file at all (ignored ones included) but the hash memo,
    whose rows are keyed by inode and mtime and so stay true. A tree that cannot be
    reset is made again. Its lock is held from the first checkout to
    :meth:`remove`, so that `exp clean` leaves it be.

        >>> tree = ReusableWorktree(project, "w1")  # doctest: +SKIP
        >>> tree.checkout(entry_commit).root  # doctest: +SKIP
        '/repo/.dvc/tmp/exps/standalone/tmp-w1'
    """

    def __init__(self, project: Project, name: str) -> None:
        self.main = project
        self.path = os.path.join(_standalone_dir(project), "tmp-" + _safe(name))
        self.lock: FileLock | None = None
        self.sub: str | None = None
        self.configured: tuple[object, ...] | None = None  # what :meth:`configure` wrote

    def checkout(self, commit: str) -> Project:
        """The worktree at ``commit``, as fresh, as a Project (created when missing)."""
        if self.lock is None:
            self._take()
        if self.sub is None:
            self.sub = _subdir(self.main)
        temp = _project_in(self.main, self.path, self.sub)
        if not os.path.lexists(self.path):
            _add_worktree(self.main.root, self.path, commit)
            return temp
        try:
            if _admin_dir(self.path) is None:
                raise FileNotFoundError(os.path.join(self.path, ".git"))
            git.run_git(self.path, ["checkout", "--force", "--detach", "-q", commit])
            _clear_untracked(self.path, _memo_files(temp.root) | {_local_config(temp)})
        except (OSError, LabrunError):  # not a worktree of ours any more: make it again
            remove_worktree(self.main.root, self.path)
            _add_worktree(self.main.root, self.path, commit)
        return temp

    def configure(self, project: Project, temp: Project) -> None:
        """:func:`configure`, unless the tree still holds what it wrote for the same config."""
        if self.configured == _config_key(project, temp):
            return  # kept by :meth:`checkout`: rewriting it would cost a flush to disk
        configure(project, temp)
        self.configured = _config_key(project, temp)

    def _take(self) -> None:
        """Lock the tree's path, or a fresh one if a live process holds it."""
        lock = FileLock(self.path + ".lock", timeout=0)
        try:
            lock.acquire()
        except LockTimeoutError:  # a run of an earlier worker of that name is still dying
            self.path = f"{self.path}-{os.getpid()}"
            lock = FileLock(self.path + ".lock", timeout=0)
            lock.acquire()
        self.lock = lock

    def remove(self) -> None:
        """Delete the worktree and release it (never raises)."""
        if self.lock is None:
            return
        remove_worktree(self.main.root, self.path)
        self.lock.release()
        self.lock = None
        with suppress(OSError):
            os.unlink(self.path + ".lock")


def _local_config(project: Project) -> str:
    return os.path.join(project.root, ".dvc", "config.local")


def _config_key(main: Project, temp: Project) -> tuple[object, ...]:
    """What the worktree's local config depends on, and what it is now."""
    return (_stat_key(_local_config(main)), _stat_key(_local_config(temp)), main.config.cache_dir)


def _stat_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _safe(name: str) -> str:
    """``name`` as one file name (``w1@host`` → ``w1-host``)."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


def _memo_files(root: str) -> frozenset[str]:
    from labrun.cache.state import STATE_DIR, STATE_FILE

    base = os.path.join(root, STATE_DIR, STATE_FILE)
    return frozenset(base + suffix for suffix in ("", "-wal", "-shm"))


def _clear_untracked(top: str, keep: frozenset[str]) -> None:
    """Delete every file Git does not track under ``top`` (ignored ones too) but ``keep``."""
    out = git.run_git(top, ["ls-files", "-z", "--others", "--directory"])
    for rel in out.split("\0"):
        if rel:
            _remove_except(os.path.join(top, rel.rstrip("/")), keep)


def _remove_except(path: str, keep: frozenset[str]) -> None:
    if path in keep:
        return
    if not os.path.isdir(path) or os.path.islink(path):
        with suppress(FileNotFoundError):
            os.unlink(path)
    elif any(k.startswith(path + os.sep) for k in keep):
        for name in os.listdir(path):
            _remove_except(os.path.join(path, name), keep)
    else:
        shutil.rmtree(path)


def prepare(project: Project, temp: Project, spec: TempSpec) -> None:
    """Share the cache, copy the local config and ``-C`` paths, check outputs out."""
    configure(project, temp)
    for rel in spec.copy_paths:
        _copy(os.path.join(project.root, rel), os.path.join(temp.root, rel))
    check_out_outputs(temp)


def configure(project: Project, temp: Project) -> None:
    """Give the worktree the project's local config, with the project's cache."""
    from labrun import config

    local = os.path.join(project.dvc_dir, "config.local")
    target = os.path.join(temp.root, ".dvc", "config.local")
    if os.path.exists(local):
        shutil.copyfile(local, target)
    config.set_option(target, "cache", "dir", str(project.config.cache_dir))


def _copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)


def check_out_outputs(temp: Project, max_bytes: int | None = None) -> bool:
    """Outputs as `dvc.lock` records them, so unchanged stages are not run again.

    Missing objects are skipped (the stages that need them simply run). Returns
    whether every output is in place; with ``max_bytes``, nothing is checked out
    (False) when the outputs' recorded sizes add up to more.
    """
    from labrun.repro import tracking
    from labrun.repro.events import NullReporter

    opts = tracking.CheckoutOptions(force=True, allow_missing=True)
    with tracking.data_run(temp, NullReporter()) as (ctx, index):
        stages = tracking.collect_granular(ctx, index, tracking.Scope((), False, False))
        if max_bytes is not None and _recorded_bytes(ctx, stages) > max_bytes:
            return False
        return not tracking.checkout_outputs(ctx, stages, opts).failed


def _recorded_bytes(ctx: RunContext, stages: Sequence[Granular]) -> int:
    from labrun.repro.context import records_by_path

    return sum(
        int(record.get("size") or 0)
        for stage, _ in stages
        for record in records_by_path(ctx.recorded(stage), "outs").values()
    )


def _warn_untracked(temp: Project, rev: str, reporter: Reporter) -> None:
    """Warn about files left in the worktree that the experiment commit ``rev`` lacks.

    The worktree's index still holds the tree the run started from (commits are
    made with a private index): what it lacks, the commit may have added.
    """
    out = git.run_git(temp.root, ["ls-files", "--others", "--exclude-standard", "-z", "--", "."])
    files = sorted(f for f in out.split("\0") if f)
    if files:
        listed = git.run_git(temp.root, ["ls-tree", "-r", "--name-only", "-z", rev, "--", "."])
        committed = set(listed.split("\0"))
        files = [f for f in files if f not in committed]
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
