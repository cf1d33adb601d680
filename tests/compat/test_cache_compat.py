"""labrun's hashes, manifests and cache objects against what the real dvc writes.

One project is built twice from the same files: dvc runs `dvc add` in one copy,
labrun hashes and stores the other. Then the `.dvc` records, every object under
`.dvc/cache` (path, bytes, mode) and the `.dvcignore` decisions must agree, and
each tool must be able to use the other's cache.

Skipped when dvc is missing (repo-root ``.venv-dvc/bin/dvc``, or ``$LABRUN_DVC``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrun.cache.hashing import CHUNK, HashInfo, md5_file_legacy
from labrun.cache.links import Linker, Workspace
from labrun.cache.odb import LocalObjectStore, add_tree
from labrun.cache.state import State
from labrun.ignore import DvcIgnore

try:
    from tests import cache_fixtures as cf
except ImportError:
    import cache_fixtures as cf  # type: ignore[no-redef,import-not-found]

ROOT = Path(__file__).resolve().parents[2]


def _find_dvc() -> Path | None:
    configured = os.environ.get("LABRUN_DVC")
    candidate = Path(configured) if configured else ROOT / ".venv-dvc" / "bin" / "dvc"
    return candidate if candidate.is_file() else None


DVC = _find_dvc()
pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(DVC is None, reason="real dvc not installed (.venv-dvc or LABRUN_DVC)"),
]

TARGETS = ("data.txt", "run.sh", "win.csv", "tree")
SOURCES: dict[str, Any] = {
    ".dvcignore": "# project rules\n*.tmp\ntree/logs/\n!keep.tmp\n",
    "data.txt": "hello world\n\n",
    "run.sh": "#!/bin/sh\necho hi\n",
    "win.csv": "a,b\r\n1,2\r\n",
    "tree": {
        **cf.ODD_TREE,
        "scratch.tmp": "ignored",
        "keep.tmp": "kept by negation",
        "logs": {"l.txt": "ignored dir"},
        "deeper": {"x.tmp": "ignored too", "ok.bin": b"\x00" * 100},
    },
}


def _env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    (base / "dvc-global").mkdir(exist_ok=True)
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(base / "dvc-global"),
        DVC_SITE_CACHE_DIR=str(base / "dvc-site"),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t.invalid",
    )
    return env


@dataclass
class Projects:
    """The same files, added by dvc (``by_dvc``) and by labrun (``by_labrun``)."""

    by_dvc: Path
    by_labrun: Path
    env: dict[str, str]
    infos: dict[str, HashInfo]

    def dvc(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        assert DVC is not None
        result = subprocess.run(
            [str(DVC), *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return result


def _init_repo(path: Path, env: dict[str, str]) -> None:
    assert DVC is not None
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, env=env, check=True)
    subprocess.run([str(DVC), "init", "-q"], cwd=path, env=env, check=True)
    cf.write_tree(path, SOURCES)
    (path / "run.sh").chmod(0o755)
    (path / "tree" / "empty-dir").mkdir()


def _labrun_add(root: Path) -> dict[str, HashInfo]:
    ignore = DvcIgnore(root)
    store = LocalObjectStore(root / ".dvc" / "cache")
    infos = {}
    with State.for_project(root) as state:
        for name in TARGETS:
            path = root / name
            if path.is_dir():
                listing = state.build_dir(path, ignore)
                add_tree(store, path, listing.manifest)
                infos[name] = listing.info
            else:
                infos[name] = state.hash_file(path)
                store.add(infos[name].md5, path)
    return infos


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Projects:
    base = tmp_path_factory.mktemp("cache-compat")
    env = _env(base)
    _init_repo(base / "by-dvc", env)
    _init_repo(base / "by-labrun", env)
    found = Projects(base / "by-dvc", base / "by-labrun", env, {})
    found.dvc("add", "-q", *TARGETS, cwd=found.by_dvc)
    found.infos = _labrun_add(found.by_labrun)
    return found


def _out_record(project: Path, target: str) -> dict[str, Any]:
    data = yaml.safe_load((project / f"{target}.dvc").read_text(encoding="utf-8"))
    (out,) = data["outs"]
    assert isinstance(out, dict)
    return out


def _cache_files(project: Path) -> dict[str, tuple[bytes, int]]:
    cache = project / ".dvc" / "cache"
    return {
        p.relative_to(cache).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(cache.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("target", TARGETS)
def test_dvc_file_records_match(projects: Projects, target: str) -> None:
    record = _out_record(projects.by_dvc, target)
    ours = projects.infos[target].to_dvcfile_dict()
    assert record == {**ours, "path": target}
    assert list(record) == [*ours, "path"]  # same key order too


def test_cache_objects_match_byte_for_byte(projects: Projects) -> None:
    theirs = _cache_files(projects.by_dvc)
    ours = _cache_files(projects.by_labrun)
    assert sorted(ours) == sorted(theirs)
    assert ours == theirs
    assert {mode for _, mode in ours.values()} == {0o444}
    tree = projects.infos["tree"].md5
    assert [name for name in ours if name.endswith(".dir")] == [f"files/md5/{tree[:2]}/{tree[2:]}"]


def test_manifest_lists_the_odd_names_in_dvc_order(projects: Projects) -> None:
    oid = projects.infos["tree"].md5
    raw = (projects.by_dvc / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]).read_bytes()
    relpaths = [entry["relpath"] for entry in json.loads(raw)]
    assert relpaths[:4] == ["A.txt", "d-h", "d.txt", "d/g"]
    assert "naïve-日本.txt" in relpaths and "keep.tmp" in relpaths
    assert not any(r.endswith(".tmp") and r != "keep.tmp" for r in relpaths)
    assert not any(r.startswith("logs/") for r in relpaths)


def test_dvc_checks_out_from_a_labrun_cache(projects: Projects) -> None:
    project = projects.by_labrun
    for target in TARGETS:  # the .dvc files dvc wrote describe labrun's cache too
        shutil.copy(projects.by_dvc / f"{target}.dvc", project / f"{target}.dvc")
    shutil.rmtree(project / "tree")
    (project / "data.txt").unlink()
    projects.dvc("checkout", "-q", cwd=project)
    assert (project / "data.txt").read_text() == "hello world\n\n"
    assert os.access(project / "run.sh", os.X_OK)
    status = projects.dvc("status", cwd=project)
    assert "up to date" in status.stdout


def test_labrun_checks_out_from_a_dvc_cache(projects: Projects, tmp_path: Path) -> None:
    store = LocalObjectStore(projects.by_dvc / ".dvc" / "cache")
    workspace = Workspace(store, Linker(["hardlink", "copy"]))
    for target in TARGETS:
        info = HashInfo.from_record(_out_record(projects.by_dvc, target))
        assert info is not None
        workspace.checkout(info, tmp_path / target)
    with State() as state:
        assert state.hash_dir(tmp_path / "tree") == projects.infos["tree"]
        run = state.hash_file(tmp_path / "run.sh")
    assert run.md5 == projects.infos["run.sh"].md5 and run.isexec


def _dvc_legacy_md5(paths: list[Path]) -> list[str]:
    assert DVC is not None
    script = (
        "import sys, json\n"
        "from dvc_data.hashfile.hash import file_md5\n"
        "print(json.dumps([file_md5(p, name='md5-dos2unix') for p in sys.argv[1:]]))\n"
    )
    out = subprocess.run(
        [str(DVC.parent / "python"), "-c", script, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert isinstance(result, list)
    return result


def test_legacy_hashes_match_dvc_reading_2x_records(tmp_path: Path) -> None:
    if not (DVC is not None and (DVC.parent / "python").is_file()):
        pytest.skip("dvc's own python not found")
    text = (b"line\r\n" * (CHUNK // 6 + 1))[: CHUNK - 1] + b"\r"
    samples = {
        "crlf.csv": b"a,b\r\n1,2\r\n",
        "lf.txt": b"plain\n",
        "binary.bin": b"\x00\x01\r\n" * 50,
        "mostly-binary": bytes(range(256)) * 4 + b"\r\n",
        "empty": b"",
        "boundary": text + b"\n\x00" + b"x\r\n" * 10,
        "text-then-crlf": text + b"\nmore\r\nlines\r\n",
    }
    paths = []
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    assert [md5_file_legacy(p) for p in paths] == _dvc_legacy_md5(paths)


def test_check_ignore_agrees_with_dvc(tmp_path: Path) -> None:
    assert DVC is not None
    env = _env(tmp_path)
    project = tmp_path / "repo"
    _init_repo(project, env)
    cf.write_tree(project / "sub", {".dvcignore": "*.csv\n/only.txt\n!keep.csv\n", "a.csv": "a"})
    (project / "nested" / ".dvc").mkdir(parents=True)
    (project / "odd[1]").mkdir()
    (project / "odd[1]" / ".dvcignore").write_text("*.bin\n")
    paths = [
        "tree/scratch.tmp",
        "tree/keep.tmp",
        "tree/logs",
        "tree/logs/l.txt",
        "tree/d.txt",
        "tree/deeper/x.tmp",
        ".git",
        ".dvc/config",
        "sub/a.csv",
        "sub/keep.csv",
        "sub/only.txt",
        "sub/deeper/only.txt",
        "nested/file",
        "nested",
        "odd[1]/x.bin",
    ]
    result = subprocess.run(
        [str(DVC), "check-ignore", "-d", "-n", *paths],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    theirs: dict[str, str] = {}
    for line in result.stdout.splitlines():
        pattern, path = line.split("\t")
        theirs[path] = pattern
    ignore = DvcIgnore(project)
    ours = {path: str(ignore.explain(path) or "::") for path in paths}
    assert ours == theirs
