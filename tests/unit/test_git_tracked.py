"""`git.tracked` reads the index in-process; every answer is checked against `git ls-files`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labrun.scm import git


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=full
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    for name in ("a.txt", "d/b.txt", "d/e/c.txt", "dx/f.txt", "untracked.txt", "d2/u.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    _git(tmp_path, "add", "a.txt", "d", "dx")
    return tmp_path


CANDIDATES = ["a.txt", "d", "d/e", "d/e/c.txt", "dx", "d/b", "untracked.txt", "d2", "nope", "e"]


def _by_git(repo: Path, env: dict[str, str] | None = None) -> set[str]:
    return {p for p in CANDIDATES if _git(repo, "ls-files", "-z", "--", p, env=env).strip("\0")}


def _ours(repo: Path) -> set[str]:
    full = [str(repo / p) for p in CANDIDATES]
    return {str(Path(p).relative_to(repo)) for p in git.tracked(str(repo), full)}


def test_tracked_matches_git_ls_files(repo: Path) -> None:
    assert _ours(repo) == _by_git(repo) == {"a.txt", "d", "d/e", "d/e/c.txt", "dx"}
    _git(repo, "rm", "-q", "--cached", "d/e/c.txt")  # the memo notices the new index
    _git(repo, "add", "untracked.txt")
    assert _ours(repo) == _by_git(repo)


def test_tracked_without_an_index_is_empty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "x").write_text("x")
    assert git.tracked(str(tmp_path), [str(tmp_path / "x")]) == set()


def test_tracked_follows_git_index_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = str(repo / ".git" / "other-index")
    env = {"GIT_INDEX_FILE": other}
    _git(repo, "add", "untracked.txt", env=env)
    monkeypatch.setenv("GIT_INDEX_FILE", other)
    assert _ours(repo) == _by_git(repo, env) == {"untracked.txt"}


@pytest.mark.parametrize("setting", ["index.version=4", "core.splitIndex=true"])
def test_unread_index_formats_ask_git(repo: Path, setting: str) -> None:
    key, value = setting.split("=")
    _git(repo, "config", key, value)
    _git(repo, "update-index", "--index-version", "4" if "version" in key else "2")
    if "split" in key:
        _git(repo, "update-index", "--split-index")
        _git(repo, "add", "untracked.txt")  # lands in the small index, the rest is shared
    assert _ours(repo) == _by_git(repo)


def test_tracked_in_a_linked_worktree(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    linked = tmp_path_factory.mktemp("wt") / "linked"
    _git(repo, "worktree", "add", "-q", str(linked))
    assert _ours(linked) == _by_git(linked) == {"a.txt", "d", "d/e", "d/e/c.txt", "dx"}
