"""Shared fixtures: a `gen()` builder for tiny real projects, and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


class TmpProject:
    """A temporary project directory with helpers to write files and run labrun.

    >>> proj.gen({"dvc.yaml": "stages: ...", "data/a.txt": "a"})     # doctest: +SKIP
    >>> proj.labrun("stage", "list").stdout                         # doctest: +SKIP
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def gen(self, files: dict[str, Any]) -> None:
        """Write files (str/bytes content; a dict value is a directory)."""
        _write_tree(self.root, files)

    def git(self, *args: str) -> str:
        """Run git in the project and return stdout."""
        out = subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        )
        return out.stdout

    def commit(self, message: str = "commit") -> None:
        """Stage everything and commit."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def labrun(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run the labrun CLI in a subprocess (exactly as a user would)."""
        return run_cli(args, cwd or self.root)

    def main(
        self, *args: str, cwd: Path | None = None, capsys: pytest.CaptureFixture[str]
    ) -> tuple[int, str, str]:
        """Run the CLI in-process (fast); returns (exit code, stdout, stderr)."""
        from labrun.cli.main import main

        old = os.getcwd()
        os.chdir(cwd or self.root)
        try:
            code = main(list(args))
        finally:
            os.chdir(old)
        out = capsys.readouterr()
        return code, out.out, out.err


def _write_tree(base: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = base / name
        if isinstance(content, dict):
            path.mkdir(parents=True, exist_ok=True)
            _write_tree(path, content)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def labrun_command() -> list[str]:
    """How to start the labrun CLI: the venv's script if present, else `python -m labrun`."""
    script = REPO / ".venv" / "bin" / "labrun"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "labrun"]


def run_cli(args: tuple[str, ...] | list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run labrun in a subprocess, capturing text output."""
    return subprocess.run(
        [*labrun_command(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.fixture
def tmp_project(tmp_path: Path) -> Iterator[TmpProject]:
    """An initialised project in a fresh Git repository."""
    root = tmp_path / "proj"
    root.mkdir()
    proj = TmpProject(root)
    proj.git("init", "-q")
    proj.git("config", "user.name", "labrun tests")
    proj.git("config", "user.email", "tests@labrun.invalid")
    from labrun import api

    api.init(root)
    yield proj


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[dict[str, Any]], TmpProject]:
    """Factory: an initialised project (no Git) holding the given files."""
    counter = iter(range(1000))

    def make(files: dict[str, Any]) -> TmpProject:
        root = tmp_path / f"p{next(counter)}"
        root.mkdir()
        from labrun import api

        api.init(root, no_scm=True)
        proj = TmpProject(root)
        proj.gen(files)
        return proj

    return make
