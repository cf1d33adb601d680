"""labrun's data commands against the real dvc 3.67.1: the same bytes, and each tool
reads, checks out and collects what the other one wrote.

- `labrun add` and `dvc add` write byte-identical `.dvc` files, `.gitignore` files and
  cache objects (a plain file, an executable, a directory with odd names);
- `dvc status` finds labrun's result up to date, and `labrun status` dvc's;
- `dvc checkout` restores what labrun added, and `labrun checkout` what dvc added,
  printing the same lines;
- after the same edits, `labrun gc -w -f` keeps exactly the objects `dvc gc -w -f` keeps;
- re-adding and committing data rewrite `.dvc` files (comments included) and
  `dvc.lock` exactly as dvc does; `cache dir` writes the same config.

Skipped when dvc is not installed (``.venv-dvc/bin/dvc`` at the repository root, or
``$LABRUN_DVC``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import pipeline_fixtures as fx
except ImportError:
    import pipeline_fixtures as fx  # type: ignore[no-redef]

DVC = fx.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat

UP_TO_DATE = "Data and pipelines are up to date.\n"
ODD_DIR = {
    "a b.txt": "spaces\n",
    "ünï cödé.csv": "1,2\n",
    "#hash!": "comment-like\n",
    "[x]?*": "glob-like\n",
    "crlf.txt": b"a\r\nb\r\n",
    "empty": "",
    "sub": {"deep file.bin": bytes(range(256)), "d-h": "-", "d.txt": ".", "d": {"g": "/"}},
}
FILES: dict[str, Any] = {
    "plain.txt": "hello\n",
    "run me.sh": "#!/bin/sh\necho hi\n",
    "odd dir #1": ODD_DIR,
    "nested": {"deeper": {"leaf.dat": b"\x00leaf"}},
}
TARGETS = {
    "file": ("plain.txt",),
    "executable": ("run me.sh",),
    "odd-directory": ("odd dir #1",),
    "nested-file": ("nested/deeper/leaf.dat",),
    "several": ("plain.txt", "odd dir #1", "run me.sh"),
}


class Tool:
    """One project copy and the command line that works on it."""

    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name, self.root, self.env = name, root, env

    def run(self, *args: str, stdin: str = "", cwd: Path | None = None) -> fx.Run:
        command = [str(DVC)] if self.name == "dvc" else fx.labrun_command()
        done = subprocess.run(
            [*command, *args],
            cwd=cwd or self.root,
            env=self.env,
            input=stdin.encode(),
            capture_output=True,
            check=False,
        )
        return fx.Run(tuple(args), done.returncode, done.stdout.decode(), done.stderr.decode())

    def ok(self, *args: str) -> fx.Run:
        found = self.run(*args)
        assert found.returncode == 0, (self.name, args, found.stderr)
        return found

    def other(self) -> Tool:
        return Tool("labrun" if self.name == "dvc" else "dvc", self.root, self.env)


def _write(base: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = base / name
        if isinstance(content, dict):
            path.mkdir(parents=True, exist_ok=True)
            _write(path, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Tool, Tool]:
    """Two identical fresh projects (Git, `dvc init`, FILES): one for dvc, one for labrun."""
    env = fx.compat_env(tmp_path / "env")
    template = tmp_path / "template"
    template.mkdir()
    for args in (
        ["init", "-q"],
        ["config", "user.name", "compat"],
        ["config", "user.email", "compat@labrun.invalid"],
    ):
        subprocess.run(["git", *args], cwd=template, env=env, check=True, capture_output=True)
    subprocess.run([str(DVC), "init", "-q"], cwd=template, env=env, check=True)
    _write(template, FILES)
    (template / "run me.sh").chmod(0o755)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=template, env=env, check=True)
    copies = []
    for name in ("dvc", "labrun"):
        shutil.copytree(template, tmp_path / name, symlinks=True)
        copies.append(Tool(name, tmp_path / name, env))
    return copies[0], copies[1]


def _tracked_files(root: Path) -> dict[str, bytes]:
    """`.dvc` files, `.gitignore` files, `dvc.lock` and `.dvc/config*`, by relative path."""
    names = ("*.dvc", ".gitignore", "dvc.lock", "config", "config.local")
    found = {}
    for pattern in names:
        for path in root.rglob(pattern):
            if ".git" not in path.relative_to(root).parts and path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def _cache(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every cache object (and run-cache entry): content and permission bits."""
    base = root / ".dvc" / "cache"
    return {
        p.relative_to(base).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def _workspace(root: Path) -> dict[str, bytes]:
    skip = {".git", ".dvc"}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not skip & set(p.relative_to(root).parts)
    }


def _hint_files(stdout: str) -> set[str]:
    """The files of the `git add` hint (dvc prints them in set order)."""
    lines = [line for line in stdout.splitlines() if line.startswith("\tgit add ")]
    return {word for line in lines for word in line.split()[2:]}


def _without_hint(stdout: str) -> str:
    return "\n".join(line for line in stdout.splitlines() if not line.startswith("\tgit add "))


# -- add ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_add_writes_what_dvc_add_writes(pair: tuple[Tool, Tool], kind: str) -> None:
    dvc, labrun = pair
    outs = [tool.ok("add", *TARGETS[kind]) for tool in pair]
    assert _tracked_files(labrun.root) == _tracked_files(dvc.root)
    assert _cache(labrun.root) == _cache(dvc.root)
    assert _workspace(labrun.root) == _workspace(dvc.root)
    assert _without_hint(outs[1].stdout) == _without_hint(outs[0].stdout)
    assert _hint_files(outs[1].stdout) == _hint_files(outs[0].stdout)


@pytest.mark.parametrize("first", ["dvc", "labrun"])
def test_each_tool_finds_the_others_work_up_to_date(pair: tuple[Tool, Tool], first: str) -> None:
    tool = pair[0] if first == "dvc" else pair[1]
    tool.ok("add", *TARGETS["several"], "nested/deeper/leaf.dat")
    assert tool.other().ok("status").stdout == UP_TO_DATE
    assert tool.ok("status").stdout == UP_TO_DATE


@pytest.mark.parametrize("first", ["dvc", "labrun"])
def test_each_tool_checks_out_what_the_other_added(pair: tuple[Tool, Tool], first: str) -> None:
    tool = pair[0] if first == "dvc" else pair[1]
    tool.ok("add", *TARGETS["several"])
    before = _workspace(tool.root)
    (tool.root / "plain.txt").unlink()
    shutil.rmtree(tool.root / "odd dir #1" / "sub")
    restored = tool.other().ok("checkout")
    assert restored.stdout == "M       odd dir #1/\nA       plain.txt\n"
    assert _workspace(tool.root) == before
    assert tool.ok("status").stdout == UP_TO_DATE


def test_checkout_prints_and_does_what_dvc_does(pair: tuple[Tool, Tool]) -> None:
    for tool in pair:
        tool.ok("add", *TARGETS["several"])
        (tool.root / "run me.sh").unlink()
        (tool.root / "odd dir #1" / "a b.txt").unlink()
        (tool.root / "odd dir #1" / "extra").write_text("x")
    refused = [tool.run("checkout") for tool in pair]
    assert [r.returncode for r in refused] == [255, 255]
    lines = [
        r.stderr.replace(str(t.root), "<root>").splitlines()[:2]
        for r, t in zip(refused, pair, strict=True)
    ]
    assert lines[1] == lines[0]
    forced = [tool.run("checkout", "--force") for tool in pair]
    assert forced[1].stdout == forced[0].stdout == "M       odd dir #1/\nA       run me.sh\n"
    assert _workspace(pair[1].root) == _workspace(pair[0].root)
    summaries = []
    for tool in pair:
        (tool.root / "plain.txt").unlink()
        (tool.root / "odd dir #1" / "empty").unlink()
        summaries.append(tool.run("checkout", "--summary").stdout)
    assert summaries[1] == summaries[0] == "2 files added\n"


# -- gc ----------------------------------------------------------------------------------------


def test_gc_keeps_what_dvc_gc_keeps(pair: tuple[Tool, Tool]) -> None:
    for tool in pair:  # the same history, built by dvc in both copies
        dvc = Tool("dvc", tool.root, tool.env)
        dvc.ok("add", *TARGETS["several"])
        (tool.root / "plain.txt").write_text("second\n")
        (tool.root / "odd dir #1" / "new").write_text("new\n")
        dvc.ok("add", "plain.txt", "odd dir #1")
        dvc.ok("add", "nested")
        (tool.root / "nested.dvc").unlink()
        dvc.ok("stage", "add", "-n", "s", "-o", "out.txt", "echo out > out.txt")
        dvc.ok("stage", "add", "-n", "t", "-o", "never.txt", "echo never > never.txt")
        dvc.ok("repro", "s")
    found = [tool.ok("gc", "-w", "-f") for tool in pair]
    assert _cache(pair[1].root) == _cache(pair[0].root)
    assert found[1].stdout == found[0].stdout
    assert found[1].stderr == found[0].stderr


# -- rewriting .dvc files and dvc.lock --------------------------------------------------------

COMMENTED = [
    "# raw data\nouts:\n- md5: {md5}   # checked\n  size: {size}  # bytes\n  hash: md5\n"
    "  path: plain.txt\n  desc: the data\nmeta: {{owner: me}}\n",
    "outs:\n- md5: '{md5}'\n  size: {size}\n  hash: md5\n  path: plain.txt\n  remote: r\n",
    "outs:\n- md5: {md5}\n  size: {size}\n  path: plain.txt\n",  # DVC 2.x (legacy) record
    "outs:\n  - md5: {md5}\n    size: {size}\n    hash: md5\n    path: plain.txt\n"
    "    push: false\n",
]


@pytest.mark.parametrize("layout", range(len(COMMENTED)))
def test_re_add_and_commit_rewrite_dvc_files_as_dvc(pair: tuple[Tool, Tool], layout: int) -> None:
    text = COMMENTED[layout].format(md5="b1946ac92492d2347c6235b4d2611184", size=6)
    for command in (("add", "plain.txt"), ("commit", "-f")):
        for tool in pair:
            (tool.root / "plain.txt.dvc").write_text(text)
            (tool.root / "plain.txt").write_text(f"{command[0]}: a longer content\n")
            tool.ok(*command)
        assert _tracked_files(pair[1].root) == _tracked_files(pair[0].root), command
        assert _cache(pair[1].root) == _cache(pair[0].root)


def test_commit_of_a_pipeline_stage_writes_dvcs_lock(pair: tuple[Tool, Tool]) -> None:
    pipeline = (
        "stages:\n  prep:\n    cmd: cp plain.txt prep.txt\n    deps: [plain.txt]\n"
        "    outs: [prep.txt]\n"
    )
    runs = []
    for tool in pair:
        (tool.root / "dvc.yaml").write_text(pipeline)
        Tool("dvc", tool.root, tool.env).ok("repro")
        (tool.root / "plain.txt").write_text("changed\n")
        (tool.root / "prep.txt").unlink()
        (tool.root / "prep.txt").write_text("edited by hand\n")
        runs.append((tool.run("commit"), tool.run("commit", "-f")))
    assert [r[0].returncode for r in runs] == [1, 1]
    assert runs[1][0].stderr == runs[0][0].stderr
    assert runs[1][1].stdout == runs[0][1].stdout == "Updating lock file 'dvc.lock'\n"
    assert _tracked_files(pair[1].root) == _tracked_files(pair[0].root)
    assert _cache(pair[1].root) == _cache(pair[0].root)  # run-cache entries included
    assert pair[0].other().ok("status").stdout == UP_TO_DATE


# -- cache dir ---------------------------------------------------------------------------------


def test_cache_dir_writes_and_prints_what_dvc_does(pair: tuple[Tool, Tool]) -> None:
    printed = []
    for tool in pair:
        (tool.root / "sub").mkdir()
        runs = [
            tool.run("cache", "dir", cwd=tool.root / "sub"),
            tool.run("cache", "dir", "../../shared", cwd=tool.root / "sub"),
            tool.run("cache", "dir", "--local", "local-cache"),
            tool.run("cache", "dir"),
            tool.run("cache", "dir", "--local"),
            tool.run("cache", "dir", "-u", "--local"),
            tool.run("cache", "dir", "-u", "--local"),
        ]
        printed.append([(r.returncode, r.stdout.replace(str(tool.root), "<root>")) for r in runs])
    assert printed[1] == printed[0]
    assert _tracked_files(pair[1].root) == _tracked_files(pair[0].root)
