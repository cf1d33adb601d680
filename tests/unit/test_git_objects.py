"""Tree objects written in-process (labrun.scm.objects) against `git write-tree`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labrun.scm import git, objects


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        ["git", *args], cwd=root, env=full, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run(root, "init", "-q")
    run(root, "config", "user.name", "t")
    run(root, "config", "user.email", "t@example.invalid")
    files = {
        "a-b": "1", "a.b": "2", "a/c": "3", "a0": "4", "b/c/d/e.txt": "5", "b/c/f": "",
        "z y/é.txt": "6", "x/y.z/w": "7", "x/y/w": "8", "x/y-z": "9",
    }  # fmt: skip
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "link").symlink_to("a.b")
    run(root, "add", "-A")
    blob = run(root, "hash-object", "-w", "a0").strip()
    run(root, "update-index", "--add", "--cacheinfo", f"160000,{blob},sub/module")
    return root


def loose_objects(root: Path) -> set[str]:
    base = root / ".git" / "objects"
    return {f"{d.name}{f.name}" for d in base.iterdir() if len(d.name) == 2 for f in d.iterdir()}


def in_process(root: Path, index: Path) -> str | None:
    data = index.read_bytes()
    parsed = objects.index_entries(data)
    if parsed is None:
        return None
    return objects.tree_sha(parsed[0], objects.loose_store(str(root / ".git" / "objects")))


def test_trees_are_those_git_writes(repo: Path) -> None:
    index = repo / ".git" / "index"
    ours = in_process(repo, index)
    written = loose_objects(repo)
    theirs = run(repo, "write-tree").strip()
    assert ours == theirs
    assert loose_objects(repo) == written  # git found every tree already written
    run(repo, "fsck", "--strict")
    assert "sub/module" in run(repo, "ls-tree", "-r", "--name-only", ours)


def test_the_empty_index_and_the_snapshot_of_a_work_tree(repo: Path) -> None:
    empty = repo / ".git" / "empty-index"
    run(repo, "read-tree", "--empty", env={"GIT_INDEX_FILE": str(empty)})
    assert in_process(repo, empty) == run(repo, "hash-object", "-t", "tree", "/dev/null").strip()
    run(repo, "commit", "-qm", "base")
    (repo / "a0").write_text("changed")
    tree = git.snapshot_tree(str(repo), [])
    assert tree != run(repo, "rev-parse", "HEAD^{tree}").strip()
    assert run(repo, "cat-file", "-p", f"{tree}:a0") == "changed"
    assert run(repo, "diff", "--cached", "--name-only") == ""  # the user's index is untouched


def test_packed_trees_are_not_written_again(repo: Path) -> None:
    run(repo, "commit", "-qm", "base")
    run(repo, "gc", "-q")
    assert not loose_objects(repo)
    tree = in_process(repo, repo / ".git" / "index")
    assert tree == run(repo, "rev-parse", "HEAD^{tree}").strip()
    assert not loose_objects(repo)


@pytest.mark.parametrize(
    "change",
    [
        ["add", "-N", "new.txt"],  # intent-to-add: an extended flag
        ["update-index", "--index-version", "4"],
        ["update-index", "--skip-worktree", "a0"],
    ],
)
def test_unusual_indexes_are_left_to_git(repo: Path, change: list[str]) -> None:
    (repo / "new.txt").write_text("n")
    run(repo, *change)
    assert in_process(repo, repo / ".git" / "index") is None
    index = repo / ".git" / "index"
    assert git.write_tree(str(repo), str(index), {}) == run(repo, "write-tree").strip()


def test_conflicts_are_left_to_git(repo: Path) -> None:
    blob = run(repo, "hash-object", "-w", "a0").strip()
    info = "".join(f"100644 {blob} {stage}\tclash\n" for stage in (1, 2, 3))
    subprocess.run(
        ["git", "update-index", "--index-info"], cwd=repo, input=info, text=True, check=True
    )
    assert in_process(repo, repo / ".git" / "index") is None
    with pytest.raises(git.GitError):
        git.write_tree(str(repo), str(repo / ".git" / "index"), {})


def test_a_path_both_file_and_folder_makes_no_tree() -> None:
    sha = bytes(20)
    assert objects.tree_sha([(b"a", 0o100644, sha), (b"a/b", 0o100644, sha)]) is None
    assert objects.tree_sha([(b"a//b", 0o100644, sha)]) is None


def test_shared_repositories_are_left_to_git(repo: Path) -> None:
    run(repo, "config", "core.sharedRepository", "group")
    assert not git._plain_object_store(str(repo / ".git"))
    assert (
        git.write_tree(str(repo), str(repo / ".git" / "index"), {})
        == run(repo, "write-tree").strip()
    )
