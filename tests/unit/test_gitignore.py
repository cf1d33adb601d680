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
