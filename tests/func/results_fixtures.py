"""Projects with history for the result commands: commits and experiments made with Git alone.

An experiment is what DVC stores: a commit whose parent is the baseline, under
``refs/exps/<bl[:2]>/<bl[2:]>/<name>``. :func:`add_experiment` writes one with
Git plumbing (a temporary index), so these tests do not depend on `exp run`.

    >>> proj = results_project(tmp_path)                        # doctest: +SKIP
    >>> add_experiment(proj, "lr3", {"params.yaml": "lr: 0.3\\n"})   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import TmpProject

TRAIN = """\
import json
lr = float(open("params.yaml").read().split("lr: ")[1].split()[0])
json.dump({"acc": lr * 2, "loss": {"val": 1 - lr}}, open("metrics.json", "w"))
"""
PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [lr]
    metrics:
    - metrics.json:
        cache: false
"""
BASE_FILES: dict[str, Any] = {
    "params.yaml": "lr: 0.1\nopt:\n  name: adam\n  layers: [1, 2]\n",
    "train.py": TRAIN,
    "dvc.yaml": PIPELINE,
    "metrics.json": json.dumps({"acc": 0.2, "loss": {"val": 0.9}}),
}


def git_env(when: int) -> dict[str, str]:
    """Git's environment with fixed author/committer dates (unix seconds, UTC)."""
    stamp = f"{when} +0000"
    return {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def git(root: Path, *args: str, when: int = 1_700_000_000, data: str | None = None) -> str:
    """Run git with fixed dates; stdout."""
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        env=git_env(when),
        input=data,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit_all(proj: TmpProject, message: str, when: int = 1_700_000_000) -> str:
    """Stage everything and commit at a fixed time; the new sha."""
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", message, when=when)
    return git(proj.root, "rev-parse", "HEAD")


def add_experiment(
    proj: TmpProject,
    name: str,
    files: dict[str, str],
    *,
    when: int = 1_700_000_100,
    baseline: str = "HEAD",
) -> str:
    """An experiment commit: the baseline's tree with ``files`` replaced; its sha."""
    root = proj.root
    base = git(root, "rev-parse", baseline)
    index = root / ".git" / f"exp-index-{name}"
    env_index = {"GIT_INDEX_FILE": str(index)}

    def plumb(*args: str, data: str | None = None) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            env={**git_env(when), **env_index},
            input=data,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    plumb("read-tree", base)
    for path, text in files.items():
        blob = plumb("hash-object", "-w", "--stdin", data=text)
        plumb("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = plumb("write-tree")
    sha = plumb("commit-tree", tree, "-p", base, "-m", f"dvc: commit experiment {name}")
    index.unlink()
    git(root, "update-ref", f"refs/exps/{base[:2]}/{base[2:]}/{name}", sha)
    return sha


def results_project(root: Path, files: dict[str, Any] | None = None) -> TmpProject:
    """An initialised Git + labrun project holding ``files`` (default: a train stage)."""
    from labrun import api

    root.mkdir(parents=True, exist_ok=True)
    proj = TmpProject(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "labrun tests")
    git(root, "config", "user.email", "tests@labrun.invalid")
    api.init(root)
    proj.gen(files if files is not None else BASE_FILES)
    return proj


def lock_for(lr: float, acc: float) -> str:
    """A `dvc.lock` for the default pipeline (hashes made up, fields real)."""
    return (
        "schema: '2.0'\n"
        "stages:\n"
        "  train:\n"
        "    cmd: python3 train.py\n"
        "    deps:\n"
        "    - path: train.py\n"
        "      hash: md5\n"
        "      md5: 0123456789abcdef0123456789abcdef\n"
        "      size: 120\n"
        "    params:\n"
        "      params.yaml:\n"
        f"        lr: {lr}\n"
        "    outs:\n"
        "    - path: metrics.json\n"
        "      hash: md5\n"
        f"      md5: {hashlib.md5(str(acc).encode()).hexdigest()}\n"
        "      size: 40\n"
    )
