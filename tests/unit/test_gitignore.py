"""Git's ignore rules, read without running git, checked against `git check-ignore`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labrun.scm import gitignore
from labrun.scm.gitignore import GitIgnore

FILES = {
    ".gitignore": "/private/\n*.log\n!keep.log\nbuild\nsub/only-here.txt\n",
    "sub/.gitignore": "local/\n*.tmp\n!important.tmp\n",
    ".git/info/exclude": "excluded-by-info\n",
}
PATHS = [
    ("private/dvc.yaml", False),
    ("private", True),
    ("a/private/dvc.yaml", False),
    ("x.log", False),
    ("keep.log", False),
    ("build/dvc.yaml", False),
    ("a/build", True),
    ("sub/only-here.txt", False),
    ("sub/local/dvc.yaml", False),
    ("other/local/dvc.yaml", False),
    ("sub/x.tmp", False),
    ("sub/important.tmp", False),
    ("x.tmp", False),
    ("excluded-by-info", False),
    ("fine/dvc.yaml", False),
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_matches_git_check_ignore(repo: Path) -> None:
    names = [p for p, _ in PATHS]
    out = subprocess.run(
        ["git", "check-ignore", "--no-index", *[p + "/" if d else p for p, d in PATHS]],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    expected = {n for n in names if n in out or n + "/" in out}
    ours = GitIgnore(str(repo))
    got = {p for p, is_dir in PATHS if ours.is_ignored(p, is_dir)}
    assert got == expected


def test_gitignore_entries_are_written_like_dvc(tmp_path: Path) -> None:
    out = tmp_path / "data" / "model[1].bin"
    out.parent.mkdir()
    assert gitignore.add_entry(str(out)) == str(tmp_path / "data" / ".gitignore")
    assert gitignore.add_entry(str(out)) is None  # no duplicates
    assert (tmp_path / "data" / ".gitignore").read_text() == "/model\\[1\\].bin\n"
    # As dvc: removal looks for the unescaped `/model[1].bin`, so an escaped entry stays
    # (dvc and labrun leave the same .gitignore after a failed run; see the repro compat suite).
    gitignore.remove_entry(str(out))
    assert (tmp_path / "data" / ".gitignore").read_text() == "/model\\[1\\].bin\n"
    plain = tmp_path / "data" / "plain.txt"
    gitignore.add_entry(str(plain))
    gitignore.remove_entry(str(plain))
    assert (tmp_path / "data" / ".gitignore").read_text() == "/model\\[1\\].bin\n"


def _check_ignore(repo: Path, paths: list[str]) -> set[str]:
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=repo,
        input="\n".join(paths) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return set(proc.stdout.split())


def test_rules_follow_a_growing_and_rewritten_gitignore(repo: Path) -> None:
    """The per-file memo compiles only appended lines, and rereads anything else."""
    sub = repo / "grow"
    sub.mkdir()
    names = [f"f{i}.txt" for i in range(6)]
    paths = [f"grow/{n}" for n in names]
    for i, name in enumerate(names[:3]):  # appended one line at a time, as stages do
        with open(sub / ".gitignore", "a") as f:
            f.write(f"/{name}\n" if i != 1 else f"{name}\n#c\n")
        got = gitignore.ignored_by_git(str(repo), [str(repo / p) for p in paths])
        assert {str(Path(p).relative_to(repo)) for p in got} == _check_ignore(repo, paths)
    (sub / ".gitignore").write_text("/f4.txt\n!f0.txt\n*.txt\n!f5.txt")  # rewritten
    got = gitignore.ignored_by_git(str(repo), [str(repo / p) for p in paths])
    assert {str(Path(p).relative_to(repo)) for p in got} == _check_ignore(repo, paths)
    with open(sub / ".gitignore", "a") as f:  # no final newline before: the line grows
        f.write(".txt\n")
    got = gitignore.ignored_by_git(str(repo), [str(repo / p) for p in paths])
    assert {str(Path(p).relative_to(repo)) for p in got} == _check_ignore(repo, paths)
    assert "grow/f5.txt" in _check_ignore(repo, paths)  # "!f5.txt.txt" no longer saves it


@pytest.mark.parametrize("fail_in", ["write_all", "replace"])
def test_a_failed_entry_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_in: str
) -> None:
    """A process that dies while adding or removing an entry leaves the old `.gitignore`,
    never an emptied one (whose lost entries a later run, skipping those stages, would
    not add again)."""
    import os

    from labrun import fsutil

    ignore = tmp_path / ".gitignore"
    ignore.write_text("/parts\n/feat\n", encoding="utf-8")
    ignore.chmod(0o640)

    def boom(*args: object) -> None:
        raise OSError("no space left")

    target = (fsutil, "write_all") if fail_in == "write_all" else (os, "replace")
    with monkeypatch.context() as m:
        m.setattr(*target, boom)
        with pytest.raises(OSError, match="no space"):
            gitignore.add_entry(str(tmp_path / "model"))
        with pytest.raises(OSError, match="no space"):
            gitignore.remove_entry(str(tmp_path / "feat"))
    assert ignore.read_text(encoding="utf-8") == "/parts\n/feat\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore"]  # no temp file left

    gitignore.add_entry(str(tmp_path / "model"))
    gitignore.remove_entry(str(tmp_path / "feat"))
    assert ignore.read_text(encoding="utf-8") == "/parts\n/model\n"
    assert ignore.stat().st_mode & 0o777 == 0o640  # the file keeps its mode


def test_a_symlinked_gitignore_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "shared-ignore"
    real.write_text("/a\n", encoding="utf-8")
    (tmp_path / ".gitignore").symlink_to(real)
    gitignore.add_entry(str(tmp_path / "b"))
    assert (tmp_path / ".gitignore").is_symlink()
    assert real.read_text(encoding="utf-8") == "/a\n/b\n"
