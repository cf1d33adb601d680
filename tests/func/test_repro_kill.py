"""Crash safety: `labrun repro` killed with SIGKILL at a random moment leaves a project that
`labrun status` and `labrun repro` handle, a dvc.lock that is old or new but never torn, and a
cache whose every object hashes to its name.

Trials cycle through three situations (the very first run, a run after changed inputs, a
run that restores everything from the run-cache) and three cache link types (copy, hardlink,
symlink). Each trial is seeded (``random.Random(SEED + trial)``), so a failing trial id
reproduces its inputs and kill delay; both are in every assertion message. Run them alone with
``pytest -n 2 -m slow tests/func/test_repro_kill.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrun import api
from labrun.pipeline.lockfile import LockFile
from tests.conftest import TmpProject, labrun_command

pytestmark = pytest.mark.slow

SEED = 20240611
TRIALS = 24
MAX_DELAY = 0.8  # seconds; a full repro of PIPELINE takes about that long

# Deterministic commands, directory outputs, many small files: the kill can land in a
# command, in hashing, in a cache write, in a lock write or in a run-cache write.
PIPELINE = """\
stages:
  split:
    cmd: rm -rf parts && mkdir parts && for i in $(seq 1 12); do cat raw/a.txt raw/b.txt
      > parts/p$i.txt; echo $i >> parts/p$i.txt; done
    deps: [raw]
    outs: [parts]
  feat:
    cmd: rm -rf feat && mkdir feat && for f in parts/*; do sort -r $f > feat/$(basename $f);
      done
    deps: [parts]
    outs: [feat]
  train:
    cmd: mkdir -p model && cat feat/* | md5sum > model/weights && grep scale params.yaml
      >> model/weights && cp -r feat model/copy
    deps: [feat]
    params: [scale]
    outs: [model]
  report:
    cmd: ls -R model > report.txt && wc -c < model/weights >> report.txt
    deps: [model]
    outs: [report.txt]
"""

OBJECT_NAME = re.compile(r"^[0-9a-f]{30}(\.dir)?$")
TEMP_NAME = re.compile(r"^\..+\.tmp$")


def inputs(rng: random.Random) -> dict[str, Any]:
    return {
        "raw": {"a.txt": f"a {rng.random()}\n", "b.txt": "b\n" * rng.randint(1, 50)},
        "params.yaml": f"scale: {rng.randint(1, 1000)}\n",
    }


def new_project(root: Path) -> TmpProject:
    root.mkdir()
    proj = TmpProject(root)
    proj.git("init", "-q")
    api.init(root)
    proj.gen({"dvc.yaml": PIPELINE})
    return proj


def cli(proj: TmpProject, *args: str, context: str) -> str:
    out = proj.labrun(*args)
    shown = f"{context}: labrun {' '.join(args)}\n{out.stdout}\n{out.stderr}"
    assert out.returncode == 0, shown
    assert "Traceback" not in out.stdout + out.stderr, shown
    assert "unexpected error" not in out.stderr, shown
    return out.stdout


def kill_repro_after(proj: TmpProject, delay: float, *, from_first_line: bool) -> bool:
    """Start `labrun repro` in its own process group and SIGKILL the whole group.

    The delay counts from the start of the process, or (``from_first_line``) from its first
    line of output, so that kills land in the stages and not only in start-up. Returns
    whether the process was still running when the signal was sent.
    """
    proc = subprocess.Popen(
        [*labrun_command(), "repro"],
        cwd=proj.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    if from_first_line:
        proc.stdout.readline()
    time.sleep(delay)
    alive = proc.poll() is None
    with contextlib.suppress(ProcessLookupError):  # it finished first: still a valid trial
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    return alive


def lock_stages(proj: TmpProject, context: str) -> dict[str, Any]:
    """dvc.lock must parse (YAML and labrun's schema) whenever it exists."""
    path = proj.root / "dvc.lock"
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict) and data.get("schema") == "2.0", f"{context}: torn\n{text}"
    LockFile.load(str(proj.root), "dvc.lock")
    stages: dict[str, Any] = data["stages"]
    return stages


def check_cache(proj: TmpProject, context: str) -> None:
    """Every object hashes to its name; anything else is an abandoned temp file."""
    base = proj.root / ".dvc" / "cache" / "files" / "md5"
    if not base.exists():
        return
    for path in base.rglob("*"):
        if path.is_dir():
            continue
        if TEMP_NAME.match(path.name):
            continue
        assert OBJECT_NAME.match(path.name), f"{context}: stray file {path}"
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        assert digest == path.parent.name + path.name.removesuffix(".dir"), (
            f"{context}: corrupt object {path.relative_to(proj.root)}"
        )


def check_run_cache(proj: TmpProject, context: str) -> None:
    base = proj.root / ".dvc" / "cache" / "runs"
    if not base.exists():
        return
    for path in base.rglob("*"):
        if path.is_file() and not TEMP_NAME.match(path.name):
            entry = yaml.safe_load(path.read_text(encoding="utf-8"))
            assert isinstance(entry, dict) and "cmd" in entry, f"{context}: torn {path}"


def prepare(proj: TmpProject, rng: random.Random, kind: str) -> None:
    """Bring the project to the state before the killed run, and set that run's inputs.

    "first run": nothing ran yet. "changed": one run, then new inputs (commands run).
    "restore": two runs, then the first inputs again (outputs come from the run-cache).
    """
    first = inputs(rng)
    if kind == "first run":
        proj.gen(first)
        return
    proj.gen(first)
    api.repro(proj.root, api.ReproOptions())
    proj.gen(inputs(rng))
    if kind == "restore":
        api.repro(proj.root, api.ReproOptions())
        proj.gen(first)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_during_repro_leaves_a_consistent_project(tmp_path: Path, trial: int) -> None:
    rng = random.Random(SEED + trial)
    proj = new_project(tmp_path / "proj")
    kind = ("first run", "changed", "restore")[trial % 3]
    link = ("reflink,copy", "hardlink", "symlink")[trial // 3 % 3]
    proj.gen({".dvc/config": f"[cache]\n    type = {link}\n"})
    prepare(proj, rng, kind)
    old = lock_stages(proj, "baseline")
    delay = rng.uniform(0.0, MAX_DELAY)
    from_first_line = trial % 4 != 0
    anchor = "first output" if from_first_line else "start"
    context = (
        f"trial {trial} ({kind}, cache.type {link}, seed {SEED + trial}, "
        f"kill {delay:.3f}s after {anchor})"
    )

    kill_repro_after(proj, delay, from_first_line=from_first_line)

    killed = lock_stages(proj, context)
    check_cache(proj, context)
    check_run_cache(proj, context)
    cli(proj, "status", context=context)
    cli(proj, "repro", context=context)
    assert cli(proj, "status", context=context).strip() == "Data and pipelines are up to date."
    new = lock_stages(proj, context)
    assert list(new) == ["split", "feat", "train", "report"], context
    for name, entry in killed.items():
        assert entry in (old.get(name), new[name]), f"{context}: {name} is neither old nor new"
    check_cache(proj, context)
    ignored = (proj.root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ignored == ["/parts", "/feat", "/model", "/report.txt"], context
