"""Checkpoint experiments: one commit per signalled checkpoint, and resuming them.

DVC 2.x recorded long training runs as a chain of commits on the experiment's
ref (DVC 3 dropped this; labrun keeps it). The engine calls
:class:`Recorder.record` each time the command signals (see
:mod:`labrun.repro.checkpoint`); the recorder saves the stage, commits the
work tree with the previous checkpoint as parent and advances the ref with a
compare-and-swap. :func:`plan_resume` decides, before a run, whether it
continues an existing chain, branches a new experiment off a checkpoint, or
starts from scratch.

The command waits while a checkpoint is recorded, so recording is kept short:
outputs are read once (hashed while copied into the cache, see
:mod:`labrun.repro.run`), and the commit costs four git commands (add, write-tree,
commit-tree, one ref transaction) on an index kept from one checkpoint to the next.
Everything is on disk before the command resumes: a crash right after loses nothing.

    >>> Resume(rev="a" * 40, exp=None).append
    False
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from labrun.experiments.refs import (
    EXEC_APPLY,
    EXPS,
    ExperimentError,
    ExpRef,
    iter_exp_refs,
)
from labrun.project import Project
from labrun.record import record
from labrun.repro.events import Event, Reporter
from labrun.scm import git

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labrun.experiments.run import ExpRunOptions

EXEC_CHECKPOINT = f"{EXPS}/exec/EXEC_CHECKPOINT"
_ZERO = "0" * 40


class CheckpointExistsError(ExperimentError):
    """A new chain would overwrite an experiment of the same name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Reproduced checkpoint experiment conflicts with existing experiment '{name}'. "
            "To restart (and overwrite) the existing experiment run:\n\n\tlabrun exp run -f ...\n\n"
            f"To resume the existing experiment, run:\n\n\tlabrun exp apply {name}\n"
            "\tlabrun exp run\n"
        )


@record
class CheckpointRecorded(Event):
    """One checkpoint was committed (``rev``) on the experiment's ref."""

    rev: str = ""


@record
class Resume:
    """Where a run continues from: commit ``rev``; ``exp`` set when appending to its chain."""

    rev: str
    exp: ExpRef | None = None
    name: str = ""  # the experiment ``rev`` belongs to
    modified: bool = False

    @property
    def append(self) -> bool:
        """True when new checkpoints go on the same ref (the chain's tip is ``rev``)."""
        return self.exp is not None


class Recorder:
    """The :class:`~labrun.repro.checkpoint.CheckpointHook` of one experiment run."""

    def __init__(
        self, root: str, exp: ExpRef, paths: Sequence[str], reporter: Reporter, start: Resume | None
    ) -> None:
        self.root = root
        self.exp = exp
        self.paths = list(paths)
        self.reporter = reporter
        self.resume = start
        self.count = 0
        self.interrupted: str | None = None
        self.last: str | None = None  # the newest commit of the chain made by this run
        self.track_workspace = True  # keep EXEC_CHECKPOINT (auto-resume) up to date
        self._lock = threading.Lock()
        self._trees = _TreeSnapshots(root, paths)

    def env(self, root: str) -> dict[str, str]:
        """DVC 2.x's variables: the signal is expected under ``root``'s `.dvc/tmp`."""
        env = {"DVC_CHECKPOINT": "1", "DVC_ROOT": root}
        if self.resume is not None:
            env["DVCLIVE_RESUME"] = "1"
        return env

    @property
    def parent(self) -> str:
        """The parent of the next commit of the chain."""
        if self.last is not None:
            return self.last
        return self.resume.rev if self.resume is not None else self.exp.baseline

    @property
    def expected_tip(self) -> str | None:
        """What the ref must point at before the next update (None: it must not exist)."""
        if self.last is not None:
            return self.last
        return self.resume.rev if self.resume is not None and self.resume.append else None

    def record(self, stage: Any, save: Callable[[], None]) -> None:
        """Save the stage, commit the work tree, advance the ref (called on each signal)."""
        with self._lock:
            save()
            message = f"dvc: commit experiment {_stage_hash(self.root, stage)}"
            try:
                sha = self._commit(message, force=False)
            except BaseException:
                self._trees.close()
                raise
            self.count += 1
            self.reporter.emit(CheckpointRecorded("", rev=sha))

    def commit(self, message: str, *, force: bool = False) -> str:
        """The final commit of the chain (the run is over): also releases its private index."""
        with self._lock:
            try:
                return self._commit(message, force=force)
            finally:
                self._trees.close()

    def _commit(self, message: str, *, force: bool) -> str:
        """One commit on the chain, the ref moved compare-and-swap (with EXEC_CHECKPOINT)."""
        tree = self._trees.tree()
        sha = git.commit_tree(self.root, tree, [self.parent], message)
        old = self.expected_tip
        current = git.resolve_ref(git.git_dir(self.root), self.exp.ref)
        if old is None and current is not None and not force:
            raise CheckpointExistsError(self.exp.name)
        moves = [(self.exp.ref, sha, None if force else old or _ZERO)]
        if self.track_workspace:
            moves.append((EXEC_CHECKPOINT, sha, None))
        _move_refs(self.root, moves, "labrun: checkpoint")
        self.last = sha
        return sha


def _move_refs(root: str, moves: Sequence[tuple[str, str, str | None]], message: str) -> None:
    """Update refs in one git transaction; ``(ref, new, old)``, old checked when given."""
    lines = "".join(f"update {ref} {new} {old or ''}".rstrip() + "\n" for ref, new, old in moves)
    git.run_git(root, ["update-ref", "-m", message, "--stdin"], input=lines)


class _TreeSnapshots:
    """Trees of the work tree for one chain, built on a private index kept between commits.

    Like :func:`labrun.scm.git.snapshot_tree` (the user's index + tracked changes +
    ``paths``; the user's index is never touched), but the private copy of the index
    is kept from one checkpoint to the next: `git add -u` finds unchanged files by
    their stat data and only paths not added yet are checked against the ignore
    rules, so a checkpoint costs two git commands instead of four. A new copy is
    taken when the user's index changes meanwhile.
    """

    def __init__(self, root: str, paths: Sequence[str]) -> None:
        self.root = root
        self.paths = list(paths)
        self.gdir = git.git_dir(root)
        self._index: str | None = None
        self._source: tuple[int, int, int] | None = None  # the user's index when copied
        self._added: set[str] = set()
        self._drop: Callable[[], Any] | None = None

    def tree(self) -> str:
        """The sha of a tree of the work tree as it is now."""
        env = self._private_index()
        git.run_git(self.root, ["add", "-u", "--", ":/"], env=env)
        present = {p for p in self.paths if os.path.lexists(os.path.join(self.root, p))}
        new = sorted(present - self._added)
        keep = sorted(set(new) - git.ignored(self.root, new))
        if keep:
            git.run_git(self.root, ["add", "--", *keep], env=env)
        self._added = present  # a path deleted and made again is looked at again
        return git.run_git(self.root, ["write-tree"], env=env).strip()

    def _private_index(self) -> dict[str, str]:
        real = os.path.join(self.gdir, "index")
        source = _signature(real)
        if self._index is None or source != self._source:
            self.close()
            self._index = self._copy_of()
            self._source = source
        return {"GIT_INDEX_FILE": self._index}

    def _copy_of(self) -> str:
        """A private copy of the user's index (of HEAD's tree when there is none)."""
        import weakref

        index = git.private_index(self.gdir)
        # deleted by close(), or at the latest when the run ends in any other way
        self._drop = weakref.finalize(self, _discard, index)
        try:
            if git.copy_index(self.gdir, index) is None:
                git.run_git(self.root, ["read-tree", "HEAD"], env={"GIT_INDEX_FILE": index})
        except BaseException:
            self._drop()
            raise
        return index

    def close(self) -> None:
        """Delete the private index (the next tree starts from a fresh copy)."""
        if self._drop is not None:
            self._drop()
        self._index, self._source, self._added, self._drop = None, None, set(), None


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _stage_hash(root: str, stage: Any) -> str:
    from labrun.experiments.save import exp_hash
    from labrun.pipeline.lockfile import LockFile, lock_relpath

    entry = LockFile.load(root, lock_relpath(stage.dvcfile)).entry(stage.name) or {}
    return exp_hash({stage.name: entry})


def has_checkpoint_stages(stages: Sequence[Any]) -> bool:
    """True when some stage has a `checkpoint: true` output."""
    return any(getattr(o, "checkpoint", False) for s in stages for o in s.outs)


def checkpoint_outs(root: str, stages: Sequence[Any]) -> list[str]:
    """Absolute paths of every checkpoint output."""
    return [s.abspath(root, o.path) for s in stages for o in s.outs if o.checkpoint]


def reset(project: Project, stages: Sequence[Any], *, forget: bool = True) -> None:
    """Start over: delete checkpoint outputs (and with ``forget`` the auto-resume point)."""
    import shutil

    if forget:
        git.delete_refs(project.root, [EXEC_CHECKPOINT, EXEC_APPLY])
    for path in checkpoint_outs(project.root, stages):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)


def auto_resume_point(project: Project, head: str) -> str | None:
    """`EXEC_APPLY`, when it and `EXEC_CHECKPOINT` both derive from HEAD (stale ones go)."""
    gdir = git.git_dir(project.root)
    found = {}
    for ref in (EXEC_CHECKPOINT, EXEC_APPLY):
        sha = git.resolve_ref(gdir, ref)
        if sha is not None and baseline_of(project, sha) == head:
            found[ref] = sha
        elif sha is not None:
            git.delete_refs(project.root, [ref])
    return found.get(EXEC_APPLY) if len(found) == 2 else None


def baseline_of(project: Project, sha: str) -> str | None:
    """The baseline of the experiment containing commit ``sha`` (else its first parent)."""
    chains = chains_containing(project, sha)
    if chains:
        return chains[0][0].baseline
    out = git.run_git(project.root, ["rev-list", "--parents", "-n1", sha]).split()
    return out[1] if len(out) > 1 else None


def chains_containing(project: Project, sha: str) -> list[tuple[ExpRef, str]]:
    """The experiment refs whose chain contains ``sha`` (the one ending at it first)."""
    found = []
    for exp, tip in iter_exp_refs(git.git_dir(project.root)):
        if tip == sha or git.is_ancestor(project.root, sha, tip):
            found.append((exp, tip))
    found.sort(key=lambda item: item[1] != sha)
    return found


def plan_resume(project: Project, rev: str, head: str) -> Resume:
    """Continue from checkpoint ``rev``: on its chain when it is the tip, else as a new branch."""
    chains = chains_containing(project, rev)
    if not chains:
        raise ExperimentError(f"Could not find checkpoint experiment '{rev[:7]}'")
    exp, tip = chains[0]
    if exp.baseline != head:
        raise ExperimentError(
            f"Cannot resume from '{rev[:7]}' as it is not derived from your current workspace.",
            hint=f"check out the experiment's baseline first: git checkout {exp.baseline[:7]}",
        )
    return Resume(rev, exp if tip == rev else None, name=exp.name)


def compare_with(
    project: Project, resume: Resume, paths: Sequence[str], *, explicit: bool
) -> Resume:
    """Decide after overrides: a changed work tree branches a new experiment off ``rev``.

    An unchanged work tree at a checkpoint that is not a chain's tip has nothing
    to continue unless the user asked for that checkpoint explicitly (`-r`).
    """
    tree = git.snapshot_tree(project.root, paths)
    if tree != git.tree_of(project.root, resume.rev):
        return Resume(resume.rev, None, name=resume.name, modified=True)
    if resume.exp is None and not explicit:
        raise ExperimentError(
            f"Nothing to do for unchanged checkpoint '{resume.rev[:7]}'. To resume from the "
            f"head of this experiment, use 'labrun exp apply {resume.name}'."
        )
    return resume


@record
class Notice(Event):
    """A line for the user about how the run continues."""

    message: str = ""


def prepare(
    project: Project, opts: ExpRunOptions, head: str, stages: Sequence[Any]
) -> Resume | None:
    """Before a checkpoint run: continue `--rev`, start over, or continue the last run.

    With ``--rev`` the checkpoint's files are first written to the work tree,
    outputs included. `--reset`, `-f` (as in the original `exp run`) and every
    temporary run start over: checkpoint outputs are deleted and, in the user's
    work tree, the auto-resume point is forgotten.
    """
    rev = opts.rev
    if rev is None and (opts.reset or opts.repro.force or opts.temp):
        reset(project, stages, forget=not opts.temp)
        return None
    if rev is not None:
        from labrun.experiments.catalog import resolve

        _exp, sha = resolve(project, rev)
        resume = plan_resume(project, sha, head)
        _restore(project, sha)
        return resume
    point = auto_resume_point(project, head)
    return plan_resume(project, point, head) if point is not None else None


def _restore(project: Project, sha: str) -> None:
    from labrun.experiments.apply import checkout_outputs, write_tree

    write_tree(project, sha)
    checkout_outputs(project)


def announce(resume: Resume | None, reporter: Reporter) -> None:
    """Say whether the run appends to a chain or branches a new experiment."""
    if resume is None:
        return
    if resume.append:
        text = f"Existing checkpoint experiment '{resume.name}' will be resumed"
    else:
        text = f"Modified checkpoint experiment based on '{resume.name}' will be created"
    reporter.emit(Notice("", message=text))
