"""Helpers for the pipeline compatibility suite: labrun and the real dvc on the same project.

The corpus lives in ``tests/compat/corpus/<project>/`` (projects that load) and
``tests/compat/errors/<project>/`` (projects that must fail). A project is
prepared once per test session in a temporary directory: ``git init``, ``dvc
init``, then the project's files copied over (see ``dvc_dump.py --batch``).
The real dvc's answers for all the commands are collected in the same step, and
labrun is then run in that very directory, so absolute paths in messages agree.

Example::

    runs = DvcRuns(tmp_path_factory.mktemp("compat"))
    result = runs.get(CORPUS / "01-linear-ml")
    result.run(["stage", "list", "--all"]).stdout
    run_labrun(result.project, ["stage", "list", "--all"], runs.env).stdout
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
ERRORS = HERE / "errors"
DVC_DUMP = HERE / "dvc_dump.py"

# Commands compared byte for byte on every corpus project.
CORPUS_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("stage", "list", "--all"),
    ("dag", "--md"),
    ("dag", "--dot"),
    ("dag", "-o", "--md"),
)
JSON_COMMAND = ("stage", "list", "--all", "--json")
# An error project may hold this file: one line, the arguments to run instead.
ARGS_FILE = ".compat-args"
DEFAULT_ERROR_ARGS = ("dag", "--md")
_GLOBAL_CONFIG = "[core]\n    check_update = false\n    analytics = false\n"


@dataclass(frozen=True)
class Run:
    """What one command printed and how it exited."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class DvcResult:
    """Everything the real dvc said about one prepared project."""

    project: Path
    stages: list[dict[str, Any]] | None
    stages_error: str | None
    runs: tuple[Run, ...]

    def run(self, args: tuple[str, ...] | list[str]) -> Run:
        """The dvc run made with exactly these arguments."""
        wanted = tuple(args)
        for found in self.runs:
            if found.args == wanted:
                return found
        raise KeyError(wanted)


def find_dvc() -> Path | None:
    """The dvc executable: $LABRUN_DVC, else the repository's .venv-dvc, else None."""
    configured = os.environ.get("LABRUN_DVC")
    candidate = Path(configured) if configured else REPO_ROOT / ".venv-dvc" / "bin" / "dvc"
    return candidate if candidate.is_file() else None


def dvc_python(dvc: Path) -> str:
    """The python interpreter that runs `dvc` (from its #! line, else next to it)."""
    with dvc.open("rb") as script:
        first = script.readline().decode("utf-8", "replace").strip()
    if first.startswith("#!") and "python" in first:
        return shlex.split(first[2:])[0]
    return str(dvc.parent / "python")


def labrun_command() -> list[str]:
    """How to start labrun: the repository venv's script if present, else `-m labrun`."""
    script = REPO_ROOT / ".venv" / "bin" / "labrun"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "labrun"]


def compat_env(base: Path) -> dict[str, str]:
    """Environment for both tools: no analytics, no update check, private config dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    global_dir = base / "dvc-global-config"
    global_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(global_dir / "config", _GLOBAL_CONFIG)
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(global_dir),
        DVC_SYSTEM_CONFIG_DIR=str(base / "dvc-system-config"),
        DVC_SITE_CACHE_DIR=str(base / "dvc-site-cache"),
        GIT_CONFIG_NOSYSTEM="1",
        PYTHONIOENCODING="utf-8",
        LC_ALL="C.UTF-8",
    )
    return env


def list_projects(kind_dir: Path) -> list[str]:
    """Names of the project directories under `kind_dir`, sorted."""
    if not kind_dir.is_dir():
        return []
    return sorted(p.name for p in kind_dir.iterdir() if p.is_dir())


def error_args(source: Path) -> tuple[str, ...]:
    """The command an error project is checked with (its .compat-args, or the default)."""
    args_file = source / ARGS_FILE
    if args_file.is_file():
        return tuple(shlex.split(args_file.read_text()))
    return DEFAULT_ERROR_ARGS


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    os.replace(partial, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DvcRuns:
    """Prepares projects and asks the real dvc about them, once per project and session.

    `base` may be shared by several processes of one session (pytest-xdist
    workers): a lock file per project makes sure that only the first one
    prepares it and that the others read its answers from `<project>.json`.
    """

    def __init__(self, base: Path, dvc: Path) -> None:
        self.base = base
        self.env = compat_env(base)
        self._python = dvc_python(dvc)
        self._cache: dict[Path, DvcResult] = {}

    def get(self, source: Path, commands: tuple[tuple[str, ...], ...]) -> DvcResult:
        """Prepare a copy of `source` and run `commands` with dvc there (cached)."""
        if source not in self._cache:
            self._cache[source] = self._load_or_collect(source, commands)
        return self._cache[source]

    def _load_or_collect(self, source: Path, commands: tuple[tuple[str, ...], ...]) -> DvcResult:
        kind_dir = self.base / source.parent.name
        kind_dir.mkdir(parents=True, exist_ok=True)
        project = kind_dir / source.name
        answers = kind_dir / f"{source.name}.json"
        with _locked(kind_dir / f"{source.name}.lock"):
            if not answers.exists():
                _write_atomically(answers, self._collect(source, project, commands))
        return _parse_batch(project, json.loads(answers.read_text()))

    def _collect(self, source: Path, project: Path, commands: tuple[tuple[str, ...], ...]) -> str:
        project.mkdir()
        _git(["init", "-q", "-b", "main", str(project)], self.env)
        batch = {"init_from": str(source), "commands": [list(c) for c in commands]}
        done = subprocess.run(
            [self._python, str(DVC_DUMP), "--batch", str(project)],
            input=json.dumps(batch),
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dvc_dump.py failed on {source.name}:\n{done.stderr}")
        return done.stdout


def _parse_batch(project: Path, data: dict[str, Any]) -> DvcResult:
    runs = tuple(
        Run(tuple(r["args"]), r["returncode"], _unescape(r["stdout"]), _unescape(r["stderr"]))
        for r in data["runs"]
    )
    return DvcResult(project, data["stages"], data["stages_error"], runs)


def _unescape(text: str) -> str:
    # dvc_dump.py decodes with surrogateescape; keep undecodable bytes comparable.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _git(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(["git", *args], env=env, check=True, capture_output=True)


def run_labrun(project: Path, args: tuple[str, ...], env: dict[str, str]) -> Run:
    """Run labrun's command line in `project` and capture what it printed."""
    done = subprocess.run(
        [*labrun_command(), *args],
        cwd=project,
        env=env,
        capture_output=True,
        check=False,
    )
    return Run(
        tuple(args),
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


_EXCERPT = re.compile(r"^\s+\d+\s")  # "  12 │ cmd: ..." lines of a code excerpt
_FOOTER = re.compile(r"^Having any troubles\?")
_STAGE_LIST = re.compile(r"^(?P<head>.* in stages: )(?P<names>.+)\.$")


def _normalise_line(line: str) -> str:
    line = line.rstrip()
    if line.startswith("ERROR: "):
        line = line[len("ERROR: ") :]
    match = _STAGE_LIST.match(line)
    if match:  # dvc builds this list from a set: its order varies between runs
        names = sorted(match["names"].split(", "))
        line = f"{match['head']}{', '.join(names)}."
    return line


def error_lines(stderr: str) -> list[str]:
    """The lines of dvc's error that labrun must also print: first line and causes.

    Warnings before the error, code excerpts, blank lines and the support footer
    are dropped; `ERROR: ` prefixes and trailing spaces are removed.
    """
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if not line.startswith("WARNING: ")), 0)
    kept = []
    for line in lines[start:]:
        if not line.strip() or _EXCERPT.match(line) or _FOOTER.match(line):
            continue
        kept.append(_normalise_line(line))
    return kept


def is_dvc_crash(stderr: str) -> bool:
    """Whether dvc failed with an internal error (its text is a Python crash report).

    For those labrun must fail the same way, but with a message of its own.
    """
    lines = error_lines(stderr)
    return bool(lines) and lines[0].startswith("unexpected error - ")


def missing_error_lines(dvc_stderr: str, labrun_stderr: str) -> list[str]:
    """Lines of dvc's error (see `error_lines`) that labrun's stderr lacks."""
    theirs = "\n".join(_normalise_line(line) for line in labrun_stderr.splitlines())
    return [line for line in error_lines(dvc_stderr) if line not in theirs]
