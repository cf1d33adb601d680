"""Helpers for the repro stories: run `api.repro` with a recorder, read what it left behind.

>>> result, rec = repro(proj, targets=["train"])          # doctest: +SKIP
>>> started(rec), skipped(rec)                            # doctest: +SKIP
(['prep', 'train'], [])
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrun import api
from labrun.errors import LabrunError
from labrun.repro import events as ev
from tests.conftest import TmpProject

Make = Callable[[dict[str, Any]], TmpProject]
Confirm = Callable[[str], bool]

#: A two-stage pipeline: data.txt → prep → prep.txt → train → model.txt
CHAIN = """\
stages:
  prep:
    cmd: cat data.txt > prep.txt
    deps: [data.txt]
    outs: [prep.txt]
  train:
    cmd: cat prep.txt prep.txt > model.txt
    deps: [prep.txt]
    outs: [model.txt]
"""

# src.txt → a → a.txt → b → b.txt → c → c.txt, a.txt → side → side.txt; `other` stands alone.
# `a` writes the same a.txt whatever src.txt holds, so a change of src.txt re-runs only `a`.
BRANCHY = """\
stages:
  a:
    cmd: echo a > a.txt
    deps: [src.txt]
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: cat b.txt > c.txt
    deps: [b.txt]
    outs: [c.txt]
  side:
    cmd: cat a.txt > side.txt
    deps: [a.txt]
    outs: [side.txt]
  other:
    cmd: echo o > o.txt
    outs: [o.txt]
"""

PARAMS_STAGE = """\
stages:
  train:
    cmd: echo lr=$(grep lr params.yaml) > model.txt
    params: [lr]
    outs: [model.txt]
"""

# `bad` writes half its output then fails; `after` and `later` depend on it; `fine` does not.
FAILING = """\
stages:
  bad:
    cmd: echo partial > bad.txt && exit 3
    outs: [bad.txt]
  after:
    cmd: cat bad.txt > after.txt
    deps: [bad.txt]
    outs: [after.txt]
  later:
    cmd: cat after.txt > later.txt
    deps: [after.txt]
    outs: [later.txt]
  fine:
    cmd: echo ok > fine.txt
    outs: [fine.txt]
"""
BAD_CMD = "failed to run: echo partial > bad.txt && exit 3, exited with 3"


def repro(
    proj: TmpProject, confirm: Confirm | None = None, **options: Any
) -> tuple[api.RunResult, ev.RecordingReporter]:
    """Reproduce with ``ReproOptions(**options)``; the result and every event."""
    rec = ev.RecordingReporter()
    result = api.repro(proj.root, api.ReproOptions(**options), rec, confirm)
    return result, rec


def repro_fails(
    proj: TmpProject, confirm: Confirm | None = None, **options: Any
) -> tuple[LabrunError, ev.RecordingReporter]:
    """Reproduce, expecting a LabrunError; the error and the events seen before it."""
    rec = ev.RecordingReporter()
    with pytest.raises(LabrunError) as info:
        api.repro(proj.root, api.ReproOptions(**options), rec, confirm)
    return info.value, rec


def started(rec: ev.RecordingReporter) -> list[str]:
    """Stages whose command started (or, with --dry, would have)."""
    return rec.names(ev.StageStarted)


def skipped(rec: ev.RecordingReporter) -> list[str]:
    """Stages found up to date."""
    return rec.names(ev.StageSkipped)


def restored(rec: ev.RecordingReporter) -> list[str]:
    """Stages checked out of the run-cache."""
    return rec.names(ev.StageRestored)


def verified(rec: ev.RecordingReporter) -> list[str]:
    """Frozen stages and data sources that were re-verified."""
    return rec.names(ev.StageVerifying)


def failed(rec: ev.RecordingReporter) -> list[str]:
    """Stages that failed."""
    return rec.names(ev.StageFailed)


def evaluated(rec: ev.RecordingReporter) -> list[str]:
    """Every stage the run looked at, in order (skipped, restored, started, verified, failed)."""
    kinds = (ev.StageSkipped, ev.StageRestored, ev.StageStarted, ev.StageVerifying, ev.StageFailed)
    names: list[str] = []
    for event in rec.events:
        if isinstance(event, kinds) and event.stage not in names:
            names.append(event.stage)
    return names


def reasons_of(rec: ev.RecordingReporter, stage: str) -> list[str]:
    """The reasons a stage was started with."""
    (event,) = [e for e in rec.of(ev.StageStarted) if e.stage == stage]
    return list(event.reasons)


def commands(rec: ev.RecordingReporter, stage: str | None = None) -> list[str]:
    """The command lines started (of one stage, or all)."""
    return [e.command for e in rec.of(ev.CommandStarted) if stage in (None, e.stage)]


def warnings(rec: ev.RecordingReporter) -> list[str]:
    """Warning texts."""
    return [e.message for e in rec.of(ev.Warning_)]


def lock(proj: TmpProject, where: str = "dvc.lock") -> dict[str, Any]:
    """The parsed `stages` mapping of a lock file ({} if there is none)."""
    path = proj.root / where
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert data.get("schema") == "2.0"
    stages: dict[str, Any] = data["stages"]
    return stages


def out_md5(proj: TmpProject, stage: str, path: str, where: str = "dvc.lock") -> str:
    """The md5 recorded for one output of a stage."""
    (record,) = [o for o in lock(proj, where)[stage]["outs"] if o["path"] == path]
    md5: str = record["md5"]
    return md5


def md5_of(data: bytes | str) -> str:
    """md5 hex digest of bytes (or UTF-8 text)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.md5(raw).hexdigest()


def cache_path(proj: TmpProject, md5: str) -> Path:
    """Where an object lives in the project's cache."""
    return proj.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def cache_oids(proj: TmpProject) -> set[str]:
    """Every object id in `.dvc/cache/files/md5` (directory manifests keep `.dir`)."""
    base = proj.root / ".dvc" / "cache" / "files" / "md5"
    if not base.exists():
        return set()
    return {p.parent.name + p.name for p in base.glob("*/*") if not p.name.startswith(".")}


def assert_cache_intact(proj: TmpProject) -> None:
    """Every object in the cache hashes to its name (a `.dir` manifest without the suffix)."""
    for oid in cache_oids(proj):
        data = cache_path(proj, oid).read_bytes()
        assert md5_of(data) == oid.removesuffix(".dir"), oid


def run_cache_entries(proj: TmpProject) -> list[Path]:
    """Every file under `.dvc/cache/runs`."""
    base = proj.root / ".dvc" / "cache" / "runs"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def status(proj: TmpProject, *targets: str) -> dict[str, list[str]]:
    """Stale stages → their reasons as strings (up-to-date stages left out)."""
    return {
        s.stage.addressing_from("."): [str(r) for r in s.reasons]
        for s in api.status(proj.root, targets)
        if s.stale
    }


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under root except `.dvc/tmp` → (content or None for dirs, mtime_ns)."""
    found: dict[str, tuple[bytes | None, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir in (os.path.join(".dvc", "tmp"), ".git"):
            dirnames[:] = []
            continue
        for name in dirnames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel not in (os.path.join(".dvc", "tmp"), ".git"):
                found[rel] = (None, os.lstat(path).st_mtime_ns)
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = (f.read(), os.lstat(path).st_mtime_ns)
    return found
