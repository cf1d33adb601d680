"""`status` hashes a path once however many stages use it: same reasons as hashing each time.

`stage_status(..., memo=...)` (what `engine.status` uses) against `stage_status`
without a memo, on the same real project, up to date and after edits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from labrun.pipeline.index import Index
from labrun.repro.context import RunContext
from labrun.repro.options import ReproOptions
from labrun.repro.status import HashMemo, stage_status
from tests.conftest import TmpProject

Make = Callable[[dict[str, Any]], TmpProject]

PIPELINE = """\
stages:
  shard:
    foreach: [a, b, c]
    do:
      cmd: cat shared.txt > out-${item}.txt
      deps:
      - shared.txt
      - data
      outs:
      - out-${item}.txt
  merge:
    cmd: cat out-a.txt out-b.txt out-c.txt > all.txt
    deps:
    - out-a.txt
    - out-b.txt
    - out-c.txt
    - shared.txt
    outs:
    - all.txt
"""


def reasons(root: Path, *, memo: HashMemo | None) -> list[list[str]]:
    project = api.open_project(root)
    ctx = RunContext.open(project)
    try:
        stages = Index.load(project.root).stages
        found = [stage_status(ctx, s, memo=memo) for s in stages]
    finally:
        ctx.close()
    return [[str(r) for r in s.reasons] for s in found]


EDITS: dict[str, Callable[[Path], None]] = {
    "nothing": lambda root: None,
    "shared dep": lambda root: (root / "shared.txt").write_text("changed\n"),
    "dep dir": lambda root: (root / "data" / "new.txt").write_text("new\n"),
    "deleted dep": lambda root: os.remove(root / "shared.txt"),
    "output": lambda root: (root / "out-b.txt").write_text("edited\n"),
    "deleted output": lambda root: os.remove(root / "out-c.txt"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_memo_gives_the_same_reasons(make_project: Make, edit: str) -> None:
    proj = make_project({"dvc.yaml": PIPELINE, "shared.txt": "s\n", "data": {"x.txt": "x\n"}})
    api.repro(proj.root, ReproOptions())
    EDITS[edit](proj.root)
    expected = reasons(proj.root, memo=None)
    assert reasons(proj.root, memo={}) == expected
    assert any(expected) == (edit != "nothing")
    statuses = api.status(proj.root)  # the memo, as `labrun status` uses it
    assert [[str(r) for r in s.reasons] for s in statuses] == expected
