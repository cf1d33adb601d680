"""Helpers for the experiments compatibility suite: twin projects, both tools, what to compare.

A *state* is a small directory of projects built once per test session by a
builder function and shared by pytest-xdist workers (a lock file per state:
the first worker builds it, the others wait and read ``<state>.json``).
Builders usually make one committed baseline (``baseline``), copy it into twin
projects (``copy_project`` keeps the commit, so both twins have the same
baseline SHA), then let each tool run the same experiment commands in its twin.
Tests never change a state: they copy the projects they mutate.

dvc runs in a child forked from a server process that imported dvc's modules
once (see ``repro_fixtures.Tools``); ``ExpTools`` also imports the experiment
machinery there, which makes `dvc exp run` about four times faster.

Example::

    lab = ExpLab(base, dvc)
    state = lab.state("made", lambda root: {"run": asdict(lab.must("dvc", root, "exp", "run"))})
    work = copy_project(state.root / "dvc", tmp_path / "w")
    lab.run("labrun", work, "exp", "list").stdout
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import repro_fixtures as fx
    from tests.compat.pipeline_fixtures import dvc_python
except ImportError:
    import repro_fixtures as fx  # type: ignore[no-redef, import-not-found, unused-ignore]
    from pipeline_fixtures import (  # type: ignore[no-redef, import-not-found, unused-ignore]
        dvc_python,
    )

Run = fx.Run
find_dvc = fx.find_dvc

# The project every test starts from: `prep` copies the data, `train` turns the two
# params into a model and a metric. Outputs depend only on their inputs, so the same
# overrides give the same dvc.lock (and experiment hash) whichever tool ran them.
PIPELINE = """\
stages:
  prep:
    cmd: cat data.txt > prep.txt
    deps: [data.txt]
    outs: [prep.txt]
  train:
    cmd: python3 train.py
    deps: [prep.txt, train.py]
    params: [lr, epochs]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""
TRAIN = """\
import json

params = dict(line.split(": ") for line in open("params.yaml").read().splitlines())
with open("model.txt", "w") as model:
    model.write("model lr=%s epochs=%s\\n" % (params["lr"], params["epochs"]))
with open("metrics.json", "w") as metrics:
    json.dump({"acc": float(params["lr"]) * int(params["epochs"])}, metrics)
"""
FILES = {
    "dvc.yaml": PIPELINE,
    "train.py": TRAIN,
    "params.yaml": "lr: 0.1\nepochs: 2\n",
    "data.txt": "data\n",
}
GIT_IDENTITY = (("user.name", "labrun tests"), ("user.email", "tests@labrun.invalid"))
# Refs under refs/exps/ that are bookkeeping, not experiments.
_NOT_EXPERIMENTS = ("refs/exps/exec/", "refs/exps/apply/", "refs/exps/temp/", "refs/exps/celery/")
# Not part of a project's files: Git's and dvc's private state.
_NOT_FILES = {".git", os.path.join(".dvc", "tmp")}

# Imported by dvc's server before it forks a child per command (errors are ignored:
# some modules need optional packages).
_PRELOAD = r"""
import importlib, pkgutil
def _preload():
    import dvc, dvc_data, scmrepo
    for package in (dvc, dvc_data, scmrepo):
        prefix = package.__name__ + "."
        for info in pkgutil.walk_packages(package.__path__, prefix, onerror=lambda _: None):
            if any(part in info.name for part in ("testing", "tests", "__main__")):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:
                pass
    for name in ("networkx", "dulwich.porcelain", "dulwich.stash", "dulwich.worktree",
                 "hydra.core.override_parser.overrides_parser", "celery.app.base"):
        try:
            importlib.import_module(name)
        except Exception:
            pass
_preload()
"""


class _PreloadedServer(fx._DvcServer):
    """dvc's fork server with the experiment modules already imported."""

    def __init__(self, dvc: Path, env: dict[str, str]) -> None:
        import atexit

        self._process = subprocess.Popen(
            [dvc_python(dvc), "-c", _PRELOAD + fx._SERVER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        atexit.register(self._process.kill)


class ExpTools(fx.Tools):
    """`repro_fixtures.Tools` whose dvc server has imported the experiment modules."""

    def start(self) -> None:
        """Start dvc's server now: it imports dvc while the caller does other work."""
        if os.environ.get("LABRUN_COMPAT_DVC_FORK", "1") != "0" and self._server is None:
            self._server = _PreloadedServer(self.dvc, self.env)

    def run(self, tool: str, project: Path, args: tuple[str, ...]) -> Run:
        """Run `dvc ARGS` or `labrun ARGS` in `project` (stdin closed)."""
        if tool == "dvc":
            self.start()
        return super().run(tool, project, args)


@dataclass(frozen=True)
class State:
    """A built state: its directory and what the builder recorded (JSON data)."""

    root: Path
    data: dict[str, Any]

    def run(self, key: str) -> Run:
        """A command result the builder recorded with `asdict(run)` under `key`."""
        return Run(**self.data[key])


class ExpLab:
    """Runs both tools with one environment and builds shared states."""

    def __init__(self, base: Path, dvc: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.tools = ExpTools(fx.tool_env(base, dvc), dvc)
        self.tools.start()

    def run(self, tool: str, project: Path, *args: str) -> Run:
        """Run one command of `tool` ("dvc" or "labrun") in `project`."""
        return self.tools.run(tool, project, args)

    def must(self, tool: str, project: Path, *args: str) -> Run:
        """Like `run`, but a failure is an error of the test set-up."""
        done = self.run(tool, project, *args)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed in {project} ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        return done

    def state(self, name: str, build: Callable[[Path], dict[str, Any]]) -> State:
        """The state `name`, built by `build(root)` unless a worker already did."""
        root = self.base / name
        answers = self.base / f"{name}.json"
        with _locked(self.base / f"{name}.lock"):
            if not answers.exists():
                if root.exists():  # left over by an interrupted session
                    shutil.rmtree(root)
                root.mkdir()
                text = json.dumps(build(root))
                partial = answers.with_suffix(".partial")
                partial.write_text(text, encoding="utf-8")
                os.replace(partial, answers)
        return State(root, json.loads(answers.read_text(encoding="utf-8")))

    def baseline(self, dest: Path, *, locked: bool) -> Path:
        """Git repository + FILES + `dvc init` (+ `dvc repro` if `locked`) in one commit."""
        dest.mkdir(parents=True)
        git(dest, "init", "-q", "-b", "main")
        for key, value in GIT_IDENTITY:
            git(dest, "config", key, value)
        for rel, text in FILES.items():
            (dest / rel).write_text(text, encoding="utf-8")
        self.must("dvc", dest, "init", "-q")
        if locked:
            self.must("dvc", dest, "repro", "-q")
        git(dest, "add", "-A")
        git(dest, "commit", "-q", "-m", "baseline")
        return dest

    def twins(self, template: Path, *names: str) -> list[Path]:
        """Copies of `template` next to it, one per name (same commits, same cache)."""
        return [copy_project(template, template.parent / name) for name in names]


def copy_project(source: Path, dest: Path) -> Path:
    """Copy a project with its Git repository (symlinks, modes and mtimes kept)."""
    return fx.copy_project(source, dest)


def git(project: Path, *args: str) -> str:
    """Run git in `project` and return its stdout."""
    done = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True)
    return done.stdout


def head(project: Path) -> str:
    """The SHA of HEAD."""
    return git(project, "rev-parse", "HEAD").strip()


def exp_refs(project: Path) -> dict[str, str]:
    """Experiment name → commit SHA, for every experiment ref (whatever its baseline)."""
    out = git(project, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    found: dict[str, str] = {}
    for line in out.splitlines():
        ref, sha = line.split()
        parts = ref.split("/")
        if ref.startswith(_NOT_EXPERIMENTS) or len(parts) != 5:
            continue
        found[parts[-1]] = sha
    return found


def tree(project: Path, rev: str) -> dict[str, str]:
    """Path → "mode type blob" of every file of commit `rev` (`git ls-tree -r`)."""
    out = git(project, "ls-tree", "-r", "--full-tree", rev)
    entries = (line.split("\t", 1) for line in out.splitlines())
    return {path: meta for meta, path in entries}


@dataclass(frozen=True)
class CommitInfo:
    """The parts of a commit that do not depend on when it was made."""

    parents: tuple[str, ...]
    tree: str
    message: str


def commit_info(project: Path, rev: str) -> CommitInfo:
    """Parents, tree and message of `rev`."""
    out = git(project, "log", "-1", "--format=%P%n%T%n%B", rev)
    parents, tree_id, message = out.split("\n", 2)
    return CommitInfo(tuple(parents.split()), tree_id, message.strip())


def files(project: Path, *, cache: bool = True) -> dict[str, str]:
    """Every file of the project but Git's and .dvc/tmp: path → "md5 mode" (or link target).

    Files in .dvc/cache are described by content only (their permission bits are dvc's
    choice), and left out with `cache=False`.
    """
    skipped = _NOT_FILES if cache else {*_NOT_FILES, os.path.join(".dvc", "cache")}
    found: dict[str, str] = {}
    for top, dirs, names in os.walk(project):
        rel_top = os.path.relpath(top, project)
        dirs[:] = sorted(
            d for d in dirs if os.path.normpath(os.path.join(rel_top, d)) not in skipped
        )
        for name in sorted(names):
            path = Path(top) / name
            rel = path.relative_to(project).as_posix()
            found[rel] = _describe(path, rel)
    return found


def _describe(path: Path, rel: str) -> str:
    if path.is_symlink():
        return f"symlink to {os.readlink(path)}"
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if rel.startswith(".dvc/cache/"):
        return digest
    return f"{digest} {stat.S_IMODE(path.stat().st_mode):o}"


def git_status(project: Path) -> list[str]:
    """`git status --porcelain` lines (what is staged, modified and untracked).

    Read-only (no index refresh), so it is safe on a state other workers copy.
    """
    out = git(project, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all")
    return sorted(out.splitlines())


def exp_show_rows(show_json: str) -> dict[str, dict[str, Any]]:
    """The rows of `dvc exp show --json` by label, without revs and timestamps.

    Labels: `workspace`, the baseline's name (`main`), and each experiment's name.

    >>> rows = exp_show_rows('[{"rev": "workspace", "name": null, "data": '
    ...     '{"rev": "workspace", "timestamp": null, "params": {}}, "experiments": null}]')
    >>> rows
    {'workspace': {'params': {}}}
    """
    rows: dict[str, dict[str, Any]] = {}
    for baseline in json.loads(show_json):
        rows[baseline["name"] or baseline["rev"]] = _row_data(baseline)
        for experiment in baseline.get("experiments") or ():
            for rev in experiment["revs"]:
                rows[rev["name"]] = _row_data(rev)
    return rows


def _row_data(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row.get("data") or {})
    data.pop("rev", None)
    data.pop("timestamp", None)
    if row.get("error"):
        data["error"] = row["error"]
    return data


def first_error_line(stderr: str) -> str:
    """The first `ERROR: ` line of stderr, without the prefix ("" if none)."""
    for line in stderr.splitlines():
        if line.startswith("ERROR: "):
            return line[len("ERROR: ") :].rstrip()
    return ""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
