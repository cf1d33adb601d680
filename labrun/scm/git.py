"""Git: the only module that runs the `git` command (and, later, imports the git library).

Errors from git become labrun errors here; nothing outside sees git's types.

    >>> find_worktree("/home/u/proj/src")      # doctest: +SKIP
    '/home/u/proj'
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from labrun.errors import LabrunError


class GitError(LabrunError):
    """A git command failed."""


def find_worktree(path: str) -> str | None:
    """The top of the Git work tree containing ``path``, or None outside Git."""
    current = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def run_git(cwd: str, args: Sequence[str]) -> str:
    """Run `git <args>` in ``cwd`` and return stdout; GitError with git's message on failure."""
    import subprocess  # not at module level: finding the work tree must stay cheap

    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed", hint="install git and try again") from None
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()
        raise GitError(f"git {args[0]} failed: {detail[-1] if detail else proc.returncode}")
    return proc.stdout


def add(cwd: str, paths: Sequence[str]) -> None:
    """Stage files (`git add -- paths`)."""
    if paths:
        run_git(cwd, ["add", "--", *paths])


def tracked(cwd: str, paths: Sequence[str]) -> set[str]:
    """The given paths (or paths inside them) that Git tracks, as given."""
    if not paths:
        return set()
    out = run_git(cwd, ["ls-files", "-z", "--", *paths])
    found = {os.path.normpath(os.path.join(cwd, p)) for p in out.split("\0") if p}
    return {
        p
        for p in paths
        if any(
            f == os.path.normpath(p) or f.startswith(os.path.normpath(p) + os.sep) for f in found
        )
    }


def ignored(cwd: str, paths: Sequence[str]) -> set[str]:
    """The given paths that Git ignores (`git check-ignore`)."""
    if not paths:
        return set()
    import subprocess

    proc = subprocess.run(
        ["git", "check-ignore", "-z", "--stdin"],
        cwd=cwd,
        input="\0".join(paths) + "\0",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise GitError(f"git check-ignore failed: {proc.stderr.strip()}")
    return {p for p in proc.stdout.split("\0") if p}
