"""`git cat-file --batch` reads, prefetching, and the row cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labrun.experiments.rowcache import RowCache
from labrun.scm.catfile import CatFile, CommitInfo, GitTreeSource, TreeEntry, all_commits
from labrun.scm.git import GitError


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.name", "t")
    git(tmp_path, "config", "user.email", "t@t.invalid")
    for n in range(3):
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / "f.txt").write_text(f"v{n}\n")
        (tmp_path / "top.txt").write_text(f"top {n}\n")
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-q", "-m", f"c{n}")
    return tmp_path


def test_resolve_commit_tree_and_blob(repo: Path) -> None:
    with CatFile(str(repo)) as cat:
        head = cat.resolve("HEAD")
        assert head == git(repo, "rev-parse", "HEAD")
        assert cat.resolve("main~2") == git(repo, "rev-parse", "HEAD~2")
        assert cat.resolve("nope") is None and cat.resolve("-x") is None
        assert cat.resolve(head[:8]) == head
        info = cat.commit(head)
        assert info.parents == (git(repo, "rev-parse", "HEAD~1"),)
        assert info.commit_time == int(git(repo, "log", "-1", "--format=%ct"))
        tree = cat.tree(info.tree)
        assert tree["d"].is_dir and tree["top.txt"] == TreeEntry("100644", tree["top.txt"].sha)
        assert cat.blob(tree["top.txt"].sha) == b"top 2\n"
        assert sorted(cat.ls_tree(head)) == ["d/f.txt", "top.txt"]
        with pytest.raises(GitError):
            cat.commit("0" * 40)
        with pytest.raises(GitError):
            cat.blob(info.tree)
        assert cat.read_many(["a b c", head])[0] is None  # a name with spaces is just missing


def test_prefetched_reads_answer_from_memory(repo: Path) -> None:
    shas = git(repo, "rev-list", "HEAD").split()
    with CatFile(str(repo)) as cat:
        cat.prefetch(shas, ["d/f.txt", "top.txt", "missing/x"])
        assert set(cat.roots) == set(shas)
        cat.close()  # no process any more: every read below must come from memory
        cat._start = None  # type: ignore[method-assign,assignment]
        texts = [GitTreeSource(cat, sha).read_text("d/f.txt") for sha in shas]
    assert texts == ["v2\n", "v1\n", "v0\n"]


def test_all_commits_newest_first(repo: Path) -> None:
    assert all_commits(str(repo)) == git(repo, "rev-list", "HEAD").split()


def test_row_cache_keeps_rows_and_commit_infos(tmp_path: Path) -> None:
    path = str(tmp_path / "rows.db")
    cache = RowCache(path)
    row = {"params": {"p.yaml": {"data": {"a": 1}}}}
    cache.put_rows({"a" * 40: row})
    cache.put_commits([CommitInfo("a" * 40, "t", ("b" * 40,), 17)])
    cache.close()
    again = RowCache(path)
    assert again.get_rows(["a" * 40, "c" * 40]) == {"a" * 40: row}
    assert again.get_texts(["a" * 40]) == {"a" * 40: '{"params": {"p.yaml": {"data": {"a": 1}}}}'}
    assert again.get_commits(["a" * 40]) == {"a" * 40: CommitInfo("a" * 40, "", ("b" * 40,), 17)}
    many = [f"{i:040x}" for i in range(1200)]  # more shas than one query may hold
    again.put_rows({key: {} for key in many})
    assert len(again.get_rows(many)) == 1200
    again.close()


def test_row_cache_drops_rows_of_another_schema(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "rows.db"
    RowCache(str(path)).put_rows({"a" * 40: {}})
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    assert RowCache(str(path)).get_rows(["a" * 40]) == {}


def test_an_unusable_row_cache_file_is_worked_around(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = RowCache(str(blocker / "rows.db"))  # its directory cannot be made
    cache.put_rows({"a" * 40: {"x": 1}})
    assert cache.get_rows(["a" * 40]) == {"a" * 40: {"x": 1}}
    assert cache.path is None
