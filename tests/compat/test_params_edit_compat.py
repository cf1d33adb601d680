"""`-S` overrides against the real dvc: same bytes written, same errors, same sweep sets.

The corpus is applied by dvc's own Python in one process (the function `dvc exp run -S`
calls, `dvc.utils.hydra.apply_overrides`) and by labrun; a few `dvc exp run` commands
check the messages printed by the command itself. Python params files are left out of
the corpus: labrun edits them differently on purpose (see tests/func/test_params_edit.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from labrun.errors import LabrunError
from labrun.experiments.overrides import (
    expand_sweeps,
    format_overrides,
    parse_grouped_overrides,
    parse_overrides,
)
from labrun.experiments.params import edit_text
from tests.compat.pipeline_fixtures import compat_env, dvc_python, find_dvc

DVC = find_dvc()
pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(DVC is None, reason="real dvc not installed (.venv-dvc or LABRUN_DVC)"),
]

# Runs inside dvc's environment: applies each case with dvc's function, reports the new
# text or the error as dvc's CLI would print it (without the "ERROR: " prefix).
_DVC_SCRIPT = r"""
import json, os, sys
from dvc.exceptions import DvcException
from dvc.utils.hydra import apply_overrides, to_hydra_overrides

def chain(exc):
    parts = []
    while exc is not None:
        parts.append(str(exc))
        exc = exc.__cause__
    return ": ".join(parts)

results = []
for case in json.load(sys.stdin):
    os.chdir(case["dir"])
    try:
        to_hydra_overrides(case["overrides"])
        apply_overrides(case["file"], case["overrides"])
    except DvcException as exc:
        results.append({"error": chain(exc)})
        continue
    except Exception as exc:
        results.append({"error": "unexpected error - " + chain(exc)})
        continue
    with open(case["file"], encoding="utf-8", newline="") as handle:
        results.append({"text": handle.read()})
print("@@" + json.dumps(results))
"""

YAML = """\
# a project's params
train:
  lr: 0.1  # learning rate
  epochs: 5
  layers: [16, 32]   # sizes
  opt: {name: adam, beta: 0.9}
  nested:
  - a: 1   # first
    b: [x, y]
name: "resnet"
flag: yes
sci: 1.0e-3
hexv: 0x1F
date: 2020-01-01
nothing: ~
text: |
  line one
  line two
base: &B {p: 1}
copy: *B
"""
JSON = '{\n  "train": {"lr": 0.1, "layers": [16, 32]},\n  "name": "caf\\u00e9",\n  "x": 1e-05\n}\n'
TOML = """\
# comment
title = "t"  # trailing
num = 1_000
arr = [
  1,  # one
  2,
]
inl = { a = 1, b = 2 }

[train]
lr = 0.1
epochs = 5

[[runs]]
seed = 1
"""
FILES = {
    "params.yaml": YAML,
    "params.json": JSON,
    "params.toml": TOML,
    "list.yaml": "- 1\n- 2\n",
    "dup.yaml": "a: 1\na: 2\n",
    "docs.yaml": "a: 1\n---\nb: 2\n",
    "null.json": "null",
    "crlf.yml": "train:\r\n  lr: 0.1\r\n",
    "empty.toml": "",
    "noext": "train: {lr: 0.1}\n",
}
OVERRIDES = [
    ["train.lr=0.2"],
    ["train.lr=1e-3", "train.epochs=10"],
    ["+seed=42", "++train.lr=3"],
    ["~train.epochs"],
    ["~train.lr=0.1"],
    ["~train.lr=0.5"],
    ["train.layers.0=8"],
    ["train.layers=[1,2,3]"],
    ["train={lr:1}"],
    ["+train.new={a: [1, {b: 2}]}"],
    ["name='x y'", "+s='0.7'", '+t="yes"', "+u=null", "+v=true", "+w=inf"],
    ["train.nope=1"],
    ["x.y=1"],
    ["+train.lr=1"],
    ["~nope"],
    ["train.layers.9=1"],
    ["train.layers={a:1}"],
    ["a@b=1"],
    ["+a=???"],
    ["+r=${train.lr}"],
    ["train.nested.0.a=5"],
    ["train.nested.0.zz=5"],
    ["~train.nested.0.a"],
    ["+name.x=1"],
    ["runs.0.seed=7"],
    ["inl.a=5", "+inl.c=6"],
    ["arr.1=9"],
    ["+a=[1", "b=2"],
    [],
]


def _corpus(tmp_path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, (file, text) in enumerate(
        (f, t) for f, t in [*FILES.items(), ("missing.yaml", None), ("missing.json", None)]
    ):
        for index, overrides in enumerate(OVERRIDES):
            where = tmp_path / f"{number}-{index}"
            where.mkdir(parents=True)
            if text is not None:
                (where / file).write_bytes(text.encode("utf-8"))
            cases.append({"dir": str(where), "file": file, "text": text, "overrides": overrides})
    return cases


def _run_dvc_python(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, str]]:
    assert DVC is not None
    proc = subprocess.run(
        [dvc_python(DVC), "-c", _DVC_SCRIPT],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=compat_env(tmp_path / "env"),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@")]
    assert marker, proc.stderr
    return list(json.loads(marker[-1][2:]))


def _labrun(case: dict[str, Any]) -> dict[str, str]:
    try:
        overrides = parse_grouped_overrides({case["file"]: case["overrides"]})[case["file"]]
        return {"text": edit_text(case["file"], case["text"], overrides)}
    except LabrunError as exc:
        return {"error": exc.message}


def test_the_corpus_is_edited_as_dvc_edits_it(tmp_path: Path) -> None:
    cases = _corpus(tmp_path / "corpus")
    expected = _run_dvc_python(cases, tmp_path)
    mismatches = [
        (case["file"], case["overrides"], found, wanted)
        for case, wanted in zip(cases, expected, strict=True)
        if (found := _labrun(case)) != wanted
    ]
    assert mismatches == []
    assert sum("text" in e for e in expected) > 40  # many cases really write a file


# --- the command itself ------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("exp-run")
    env = compat_env(root / "env")
    repo = root / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (repo / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo hi\n    params:\n    - train\n")
    for args in (["git", "init", "-q"], [str(DVC), "init", "-q"]):
        subprocess.run(args, cwd=repo, env=env, check=True, timeout=120)
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    commit = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]
    subprocess.run(commit, cwd=repo, env=env, check=True)
    return repo, env


def _exp_run(project: tuple[Path, dict[str, str]], *args: str) -> subprocess.CompletedProcess[str]:
    repo, env = project
    return subprocess.run(
        [str(DVC), "exp", "run", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _labrun_error(arguments: list[str], *, queue: bool = False) -> str:
    try:
        found = parse_overrides(arguments)
        if queue:
            expand_sweeps(found)
        else:
            from labrun.experiments.overrides import check_no_sweeps

            check_no_sweeps(found)
            edit_text("params.yaml", "train:\n  lr: 0.1\n", found["params.yaml"])
    except LabrunError as exc:
        return f"ERROR: {exc.message}"
    raise AssertionError("labrun accepted the overrides")


@pytest.mark.parametrize(
    ("arguments", "queue"),
    [
        (["train.nope=1"], False),
        (["+train.lr=1"], False),
        (["a=1,2"], False),
        (["a=[1,"], False),
        (["a=glob(*)"], True),
    ],
)
def test_exp_run_reports_the_same_errors(
    project: tuple[Path, dict[str, str]], arguments: list[str], queue: bool
) -> None:
    flags = [item for a in arguments for item in ("-S", a)] + (["--queue"] if queue else [])
    proc = _exp_run(project, *flags)
    assert proc.returncode == 255
    assert proc.stderr.startswith(_labrun_error(arguments, queue=queue))


def test_queued_sweeps_are_the_same_sets(project: tuple[Path, dict[str, str]]) -> None:
    arguments = ["train.lr=1,2", "+seed=range(1,3)", "o.json:+x=choice(a,b)", "o.json:+y=1e-3"]
    flags = [item for a in arguments for item in ("-S", a)]
    proc = _exp_run(project, "--queue", *flags)
    assert proc.returncode == 0, proc.stderr
    printed = [line for line in proc.stdout.splitlines() if line.startswith("Queueing")]
    sets = expand_sweeps(parse_overrides(arguments))
    assert printed == [f"Queueing with overrides '{format_overrides(s)}'." for s in sets]
