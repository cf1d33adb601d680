"""Helpers for the repro compatibility suite: the same project reproduced by labrun and by dvc.

Each project of ``tests/compat/repro_corpus/<NN-name>/`` holds its files and a
``scenario.yaml`` (format in the corpus README). A project is prepared once per
test session (shared by pytest-xdist workers through a lock file):

1. ``template/``: ``git init``, the project's files, ``dvc init``, the
   scenario's ``setup`` lines (``$DVC`` is the real dvc, e.g. ``$DVC add raw``),
   then one commit;
2. ``dvc/`` and ``labrun/``: two copies of the template, and in each the first
   reproduction by that tool; what both printed (and ``dvc status`` on dvc's
   copy) is kept in ``<project>.json`` next to them.

Tests read those results, or copy them into their own temporary directory before
running anything else in them (``copy_project``).

Example::

    prep = Preparer(base, dvc).get("01-linear")
    prep.first["dvc"].stdout, prep.first["labrun"].stdout
    snapshot(prep.dirs["dvc"]).locks == snapshot(prep.dirs["labrun"]).locks
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat.pipeline_fixtures import compat_env, dvc_python, find_dvc, labrun_command
except ImportError:
    from pipeline_fixtures import (  # type: ignore[no-redef, import-not-found, unused-ignore]
        compat_env,
        dvc_python,
        find_dvc,
        labrun_command,
    )

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "repro_corpus"
SCENARIO = "scenario.yaml"
TOOLS = ("dvc", "labrun")
_NOT_COPIED = {SCENARIO}
_GIT_USER = ["-c", "user.name=labrun tests", "-c", "user.email=tests@labrun.invalid"]
TIMEOUT = 300

__all__ = ["CORPUS", "TOOLS", "Preparer", "Tools", "find_dvc", "outcome", "snapshot"]


@dataclass(frozen=True)
class Step:
    """One scenario step: edit the workspace, then run one command with both tools."""

    name: str
    run: tuple[str, ...]
    cwd: str = "."
    write: dict[str, str] = field(default_factory=dict)
    replace: dict[str, list[str]] = field(default_factory=dict)
    delete: tuple[str, ...] = ()
    sh: str = ""
    expect: dict[str, Any] = field(default_factory=dict)
    exact_stdout: bool = False  # compare stdout as is (only when dvc's stage order is fixed)
    # A deliberate difference: {"why": ..., "expect": what labrun does instead}.
    labrun_differs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """What a corpus project does: setup lines, first command, then the steps."""

    about: str
    setup: tuple[str, ...] = ()
    first: tuple[str, ...] = ("repro",)
    status_clean: bool = True
    steps: tuple[Step, ...] = ()


def load_scenario(source: Path) -> Scenario:
    """Read `<project>/scenario.yaml` into a Scenario."""
    data = yaml.safe_load((source / SCENARIO).read_text(encoding="utf-8")) or {}
    steps = tuple(_step(raw) for raw in data.get("steps") or ())
    return Scenario(
        about=data["about"],
        setup=tuple(str(line) for line in data.get("setup") or ()),
        first=tuple(data.get("first") or ("repro",)),
        status_clean=data.get("status_clean", True),
        steps=steps,
    )


def _step(raw: dict[str, Any]) -> Step:
    run = raw["run"]
    return Step(
        name=raw["name"],
        run=tuple(shlex.split(run) if isinstance(run, str) else run),
        cwd=raw.get("cwd", "."),
        write=raw.get("write") or {},
        replace=raw.get("replace") or {},
        delete=tuple(raw.get("delete") or ()),
        sh=raw.get("sh") or "",
        expect=raw.get("expect") or {},
        exact_stdout=bool(raw.get("exact_stdout")),
        labrun_differs=raw.get("labrun_differs") or {},
    )


def list_projects() -> list[str]:
    """Names of the corpus projects, sorted."""
    return sorted(p.name for p in CORPUS.iterdir() if (p / SCENARIO).is_file())


@dataclass(frozen=True)
class Run:
    """How one command exited and what it printed."""

    returncode: int
    stdout: str
    stderr: str


class Tools:
    """Runs `dvc ARGS` and `labrun ARGS` in a project, with one environment.

    labrun is started as a new process each time, exactly as a user would. dvc runs
    in a child forked from a server process that imported dvc once (`dvc.cli.main`,
    what the `dvc` script calls): the commands and their output are the same, without
    paying dvc's import time on each of the suite's hundreds of runs. With
    LABRUN_COMPAT_DVC_FORK=0 every dvc command is a new process too.
    """

    def __init__(self, env: dict[str, str], dvc: Path) -> None:
        self.env = env
        self.dvc = dvc
        self._server: _DvcServer | None = None

    def run(self, tool: str, project: Path, args: tuple[str, ...]) -> Run:
        """Run one command in `project` (stdin closed: no prompts)."""
        if tool == "dvc" and os.environ.get("LABRUN_COMPAT_DVC_FORK", "1") != "0":
            if self._server is None:
                self._server = _DvcServer(self.dvc, self.env)
            return self._server.run(project, args)
        argv = [str(self.dvc)] if tool == "dvc" else labrun_command()
        done = subprocess.run(
            [*argv, *args],
            cwd=project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=TIMEOUT,
        )
        return Run(done.returncode, _text(done.stdout), _text(done.stderr))


def _text(output: bytes) -> str:
    return output.decode("utf-8", "replace")


# Runs in dvc's interpreter: one JSON request per line on stdin ({"cwd", "args"}), one
# JSON answer per line ({"returncode", "stdout", "stderr"}) on the original stdout.
_SERVER_CODE = r"""
import json, os, sys, tempfile, traceback
import dvc.cli, dvc.repo, dvc.repo.reproduce, dvc.commands.repro, dvc.commands.status
answers = os.fdopen(os.dup(1), "w")
def child(request, out, err):
    code = 250
    try:
        os.chdir(request["cwd"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.argv = ["dvc", *request["args"]]
        code = dvc.cli.main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
for line in sys.stdin:
    request = json.loads(line)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            child(request, out, err)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        answer = {"returncode": os.waitstatus_to_exitcode(status),
                  "stdout": out.read().decode("utf-8", "replace"),
                  "stderr": err.read().decode("utf-8", "replace")}
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
"""


class _DvcServer:
    def __init__(self, dvc: Path, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            [dvc_python(dvc), "-c", _SERVER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        atexit.register(self._process.kill)

    def run(self, project: Path, args: tuple[str, ...]) -> Run:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"cwd": str(project), "args": list(args)}) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], TIMEOUT)
        line = stdout.readline() if ready else ""
        if not line:
            self._process.kill()
            raise RuntimeError(f"the dvc server died or timed out on {args} in {project}")
        return Run(**json.loads(line))


def apply_step(project: Path, step: Step, env: dict[str, str]) -> None:
    """Make the step's edits in `project`: delete, write, replace, then `sh`."""
    for rel in step.delete:
        target = project / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    for rel, text in step.write.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    for rel, (old, new) in step.replace.items():
        text = (project / rel).read_text(encoding="utf-8")
        if old not in text:
            raise ValueError(f"step {step.name!r}: {old!r} is not in {rel}")
        (project / rel).write_text(text.replace(old, new), encoding="utf-8")
    if step.sh:
        subprocess.run(["sh", "-ec", step.sh], cwd=project, env=env, check=True)


def copy_project(source: Path, dest: Path) -> Path:
    """Copy a prepared project (symlinks kept, modes and mtimes kept)."""
    shutil.copytree(source, dest, symlinks=True)
    return dest


@dataclass(frozen=True)
class Prepared:
    """One corpus project after the first reproduction by each tool."""

    name: str
    scenario: Scenario
    template: Path
    dirs: dict[str, Path]
    first: dict[str, Run]
    dvc_status: Run  # `dvc status` on dvc's own result


class Preparer:
    """Prepares corpus projects once per session; see the module docstring."""

    def __init__(self, base: Path, dvc: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.tools = Tools(tool_env(base, dvc), dvc)

    def get(self, name: str) -> Prepared:
        """The prepared project `name` (prepared now if no worker did it yet)."""
        root = self.base / name
        answers = self.base / f"{name}.json"
        with _locked(self.base / f"{name}.lock"):
            if not answers.exists():
                runs = self._prepare(CORPUS / name, root)
                text = json.dumps({key: asdict(run) for key, run in runs.items()})
                partial = answers.with_suffix(".partial")
                partial.write_text(text, encoding="utf-8")
                os.replace(partial, answers)
        data = json.loads(answers.read_text(encoding="utf-8"))
        return Prepared(
            name,
            load_scenario(CORPUS / name),
            root / "template",
            {t: root / t for t in TOOLS},
            {t: Run(**data[t]) for t in TOOLS},
            Run(**data["dvc_status"]),
        )

    def _prepare(self, source: Path, root: Path) -> dict[str, Run]:
        scenario = load_scenario(source)
        if root.exists():  # left over by an interrupted session
            shutil.rmtree(root)
        template = make_template(source, root / "template", scenario, self.tools)
        runs = {}
        for tool in TOOLS:
            project = copy_project(template, root / tool)
            runs[tool] = self.tools.run(tool, project, scenario.first)
        runs["dvc_status"] = self.tools.run("dvc", root / "dvc", ("status",))
        return runs


def tool_env(base: Path, dvc: Path) -> dict[str, str]:
    """The environment for both tools (no analytics, no update check), plus $DVC for setup."""
    env = compat_env(base)
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC"] = str(dvc)
    return env


def make_template(source: Path, dest: Path, scenario: Scenario, tools: Tools) -> Path:
    """Git repository + project files + `dvc init` + setup lines + one commit."""
    env = tools.env
    dest.mkdir(parents=True)
    _git(dest, env, "init", "-q", "-b", "main")
    _copy_files(source, dest)
    init = tools.run("dvc", dest, ("init", "-q"))
    if init.returncode != 0:
        raise RuntimeError(f"dvc init failed in {dest}: {init.stderr}")
    for line in scenario.setup:
        done = subprocess.run(
            ["sh", "-ec", line], cwd=dest, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"setup line {line!r} failed in {dest}:\n{done.stderr}")
    _git(dest, env, "add", "-A")
    _git(dest, env, *_GIT_USER, "commit", "-q", "-m", "initial")
    return dest


def _copy_files(source: Path, dest: Path) -> None:
    for item in source.iterdir():
        if item.name in _NOT_COPIED:
            continue
        name = ".gitignore" if item.name == "dot-gitignore" else item.name
        if item.is_dir():
            shutil.copytree(item, dest / name, symlinks=True)
            _rename_gitignores(dest / name)
        else:
            shutil.copy2(item, dest / name)


def _rename_gitignores(tree: Path) -> None:
    for found in tree.rglob("dot-gitignore"):
        found.rename(found.with_name(".gitignore"))


def _git(project: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- what is compared -------------------------------------------------------------------------

_SKIP_DIRS = {".git", os.path.join(".dvc", "tmp"), os.path.join(".dvc", "cache")}


@dataclass(frozen=True)
class Snapshot:
    """The parts of a project that both tools must leave identical."""

    locks: dict[str, str]  # every dvc.lock and .dvc file → text
    gitignores: dict[str, str]  # every .gitignore → text
    workspace: dict[str, str]  # every other file → "md5 mode" (or its symlink target)
    cache: dict[str, str]  # every file under .dvc/cache → "" (objects) or text (runs/)


def snapshot(project: Path) -> Snapshot:
    """Read what is compared from `project`."""
    locks: dict[str, str] = {}
    ignores: dict[str, str] = {}
    work: dict[str, str] = {}
    for rel, path in _walk(project):
        name = path.name
        if name == "dvc.lock" or name.endswith(".dvc"):
            locks[rel] = path.read_text(encoding="utf-8")
        elif name == ".gitignore" and rel != ".dvc/.gitignore":
            ignores[rel] = path.read_text(encoding="utf-8")
        else:
            work[rel] = _describe(path, project)
    return Snapshot(locks, ignores, work, _cache_files(project / ".dvc" / "cache"))


def _walk(project: Path) -> Iterator[tuple[str, Path]]:
    for top, dirs, files in os.walk(project):
        rel_top = os.path.relpath(top, project)
        dirs[:] = sorted(
            d for d in dirs if os.path.normpath(os.path.join(rel_top, d)) not in _SKIP_DIRS
        )
        for name in sorted(files):
            path = Path(top) / name
            yield path.relative_to(project).as_posix(), path


def _describe(path: Path, project: Path) -> str:
    """md5 and permission bits; a symlink's target relative to the project."""
    if path.is_symlink():
        target = os.readlink(path)
        for prefix in {str(project.resolve()), str(project)}:
            target = target.replace(prefix, "<root>")
        return f"symlink to {target}"
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    return f"{digest} {stat.S_IMODE(path.stat().st_mode):o}"


def _cache_files(cache: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    if not cache.is_dir():
        return found
    for path in sorted(p for p in cache.rglob("*") if p.is_file()):
        rel = path.relative_to(cache).as_posix()
        found[rel] = path.read_text(encoding="utf-8") if rel.startswith("runs/") else ""
    return found


# --- reading what the tools printed -----------------------------------------------------------

_LINE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ran", re.compile(r"^Running stage '(.+)':$")),
    ("cached", re.compile(r"^Stage '(.+)' is cached - skipping run, checking out outputs$")),
    ("unchanged", re.compile(r"^Stage '(.+)' didn't change, skipping$")),
    ("unchanged", re.compile(r"^'(.+)' didn't change, skipping$")),
    ("verified", re.compile(r"^Verifying data sources in stage: '(.+)'$")),
    ("verified", re.compile(r"^Verifying outputs in frozen stage: '(.+)'$")),
    ("pulled", re.compile(r"^Pulling data for stage: '(.+)'$")),
    ("frozen", re.compile(r"^(?:WARNING: )?stage: '(.+)' is frozen\. Its dependencies are not")),
    ("failed", re.compile(r"^ERROR: failed to reproduce '(.+?)'(?::.*)?$")),
)
_SKIPPED = re.compile(r"^WARNING: Stages? (.+) will be skipped due to this failure$")
_FAILED_MANY = re.compile(r"^ERROR: failed to reproduce stages: (.+)$")
_NAME_LIST = re.compile(r"'[^']*'(?:(?:, | and )'[^']*')+")
_LOCK_MESSAGE = re.compile(r"^(Generating|Updating) lock file '(.+)'$")
_GIT_ADD = re.compile(r"^\tgit add (.+)$")
_SUMMARIES = ("Data and pipelines are up to date.", "Use `dvc push` to send your updates")


def outcome(run: Run, root: Path) -> dict[str, Any]:
    """What a repro run did, independent of the order of independent stages.

    `messages` are the WARNING/ERROR lines of stderr (first lines only), with `root`
    shown as `<root>`, runs of spaces collapsed and lists of stage names sorted.

    >>> outcome(Run(0, "Running stage 'a':\\n> true\\n", ""), Path("/p"))["ran"]
    ['a']
    """
    found: dict[str, set[str]] = {}
    locks: list[str] = []
    git_add: list[str] = []
    summary = ""
    for line in [*run.stdout.splitlines(), *run.stderr.splitlines()]:
        _classify(line, found)
        if match := _LOCK_MESSAGE.match(line):
            locks.append(f"{match[1]} {match[2]}")
        elif match := _GIT_ADD.match(line):
            git_add = sorted(shlex.split(match[1], posix=False))
        elif line.startswith(_SUMMARIES):
            summary = line
    result: dict[str, Any] = {"exit": run.returncode, "summary": summary}
    result.update({kind: sorted(names) for kind, names in sorted(found.items())})
    result.update(lock_messages=sorted(locks), git_add=git_add)
    result["messages"] = sorted(
        _message(line, root)
        for line in run.stderr.splitlines()
        if line.startswith(("WARNING: ", "ERROR: "))
    )
    return result


def _message(line: str, root: Path) -> str:
    for prefix in {str(root.resolve()), str(root)}:
        line = line.replace(prefix, "<root>")
    line = re.sub(r"\s+", " ", line).strip()
    if _SKIPPED.match(line) or _FAILED_MANY.match(line):  # dvc lists these from a set
        line = _NAME_LIST.sub(lambda m: ", ".join(sorted(_quoted_names(m[0]))), line)
    return line


def _classify(line: str, found: dict[str, set[str]]) -> None:
    for kind, pattern in _LINE_PATTERNS:
        if match := pattern.match(line):
            found.setdefault(kind, set()).add(match[1])
            return
    if match := _SKIPPED.match(line):
        found.setdefault("skipped_after_failure", set()).update(_quoted_names(match[1]))
    elif match := _FAILED_MANY.match(line):
        found.setdefault("failed", set()).update(_quoted_names(match[1]))


def _quoted_names(text: str) -> list[str]:
    """`'a', 'b' and 'c'` → [a, b, c]."""
    return re.findall(r"'([^']*)'", text)


def normalise_stdout(stdout: str) -> str:
    """stdout with the file list of the `git add` hint sorted (its order is unspecified)."""
    lines = []
    for line in stdout.splitlines(keepends=True):
        if match := _GIT_ADD.match(line.rstrip("\n")):
            words = sorted(shlex.split(match[1], posix=False))  # keeps each word's quoting
            line = "\tgit add " + " ".join(words) + "\n"
        lines.append(line)
    return "".join(lines)
