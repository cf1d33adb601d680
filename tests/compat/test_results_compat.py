"""labrun reads results as dvc 3.67.1 does: `exp show`, `exp diff`, `metrics`, `params`.

One project is built once per session with the real dvc (state ``results``):
a pipeline with every kind of params and metrics file (a params dependency
with listed keys, a whole params file, a vars file used by templating, a
top-level `params:` and `metrics:` section, a metrics directory, a metric kept
in the DVC cache only), committed on `main` and tagged (annotated) `ann`; then `dvc exp
run` makes two experiments, a second commit gets a third one, and the
workspace is left as the last run made it. dvc's answers to every command
below are recorded then; labrun then runs the same commands in a copy of the
project (same commits, same cache), so everything must agree:

- JSON output (`exp show --json`, `metrics show --json`, diffs): equal documents;
- tables, CSV and Markdown: the same bytes (dvc renders the `exp show` table
  at full width here, ``COLUMNS=1000``: labrun always does);
- errors: the same exit status and message.

Known, deliberate differences (each has its own test below): dvc's baseline
rows ignore ``--param-deps`` (labrun applies it to every row), dvc ignores
``--precision`` outside ``--csv`` (labrun honours it), and dvc lists the
files of a multi-file diff table in hash order (labrun sorts them; compared as
sets of lines here).

Skipped when dvc is not installed (``.venv-dvc/bin/dvc`` at the repository
root, or ``$LABRUN_DVC``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import exp_fixtures as ef
    from tests.compat import repro_fixtures
except ImportError:
    import exp_fixtures as ef  # type: ignore[no-redef, import-not-found, unused-ignore]
    import repro_fixtures  # type: ignore[no-redef, import-not-found, unused-ignore]

DVC = ef.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat

PIPELINE = """\
vars:
  - vars.yaml
metrics:
  - extra/score.yaml
params:
  - extra/hp.toml
stages:
  prep:
    cmd: python3 prep.py ${data_dir}
    deps: [prep.py]
    params:
      - p.json:
          - b.c
    outs: [prep.out]
    metrics:
      - evals:
          cache: false
  train:
    cmd: python3 train.py
    deps: [prep.out, train.py]
    params: [train]
    metrics: [metrics.json]
"""
PREP = """\
import os
os.makedirs("evals", exist_ok=True)
open("prep.out", "w").write("p")
open("evals/a.json", "w").write('{"x": 1}')
open("evals/b.yaml", "w").write("y: 2\\n")
"""
TRAIN = """\
import json
lines = open("params.yaml").read().splitlines()
lr = float([l for l in lines if "lr:" in l][0].split(":")[1])
epochs = int([l for l in lines if "epochs:" in l][0].split(":")[1])
json.dump({"acc": lr * epochs / 3, "loss": {"val": 1 / (lr + epochs)}, "name": "m",
           "ok": True}, open("metrics.json", "w"))
"""
FILES = {
    "dvc.yaml": PIPELINE,
    "prep.py": PREP,
    "train.py": TRAIN,
    "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\n  layers: [8, 16]\nflag: yes\n",
    "p.json": json.dumps({"a": 1, "b": {"c": 2, "d": [1, 2]}}),
    "vars.yaml": "data_dir: data\n",
    "extra/score.yaml": "score: 0.5\n",
    "extra/hp.toml": 'depth = 3\n[opt]\nname = "adam"\n',
}

# Commands whose output must be the same bytes.
SAME_TEXT: tuple[tuple[str, ...], ...] = (
    ("exp", "show", "--no-pager"),
    ("exp", "show", "--csv"),
    ("exp", "show", "--md"),
    ("exp", "show", "--csv", "-n", "2"),
    ("exp", "show", "--csv", "-a"),
    ("exp", "show", "--csv", "-T", "--sha"),
    ("exp", "show", "--csv", "-A", "--hide-workspace"),
    ("exp", "show", "--csv", "--rev", "lr3"),
    ("exp", "show", "--no-pager", "--only-changed"),
    ("exp", "show", "--csv", "--drop", "train", "--keep", "train.lr"),
    ("exp", "show", "--csv", "--sort-by", "acc", "--sort-order", "desc"),
    ("exp", "show", "--csv", "--sort-by", "metrics.json:loss.val", "-n", "2"),
    ("exp", "show", "--csv", "--precision", "3"),
    ("exp", "show", "--rev", "nope"),
    ("exp", "show", "--sort-by", "nope"),
    ("exp", "diff", "HEAD", "lr4", "--md"),
    ("exp", "diff", "nope"),
    ("metrics", "show"),
    ("metrics", "show", "--md"),
    ("metrics", "show", "-A"),
    ("metrics", "show", "metrics.json", "evals", "--precision", "2"),
    ("metrics", "diff", "--targets", "metrics.json"),
    ("metrics", "diff", "HEAD~1", "--targets", "metrics.json", "--all", "--md"),
    ("metrics", "diff", "nope"),
    ("params", "diff", "--targets", "params.yaml"),
    ("params", "diff", "HEAD~1", "--targets", "params.yaml", "--all", "--no-path"),
)
# Commands whose JSON output must be the same document.
SAME_JSON: tuple[tuple[str, ...], ...] = (
    ("exp", "show", "--json"),
    ("exp", "show", "--json", "-n", "2", "-T"),
    ("exp", "diff", "--json"),
    ("exp", "diff", "lr3", "ep5", "--all", "--json"),
    ("metrics", "show", "--json"),
    ("metrics", "show", "-a", "-T", "--json"),
    ("metrics", "diff", "HEAD~1", "--all", "--json"),
    ("params", "diff", "HEAD~1", "--all", "--json"),
    ("params", "diff", "--deps", "--all", "--json"),
    ("params", "diff", "--targets", "p.json", "--all", "--json"),
)
# Multi-file tables: dvc orders the files by hash (a different order per run).
SAME_LINES: tuple[tuple[str, ...], ...] = (
    ("exp", "diff"),
    ("exp", "diff", "lr3", "ep5", "--all"),
    ("metrics", "diff", "HEAD~1", "--all"),
    ("params", "diff", "HEAD~1", "--all"),
)
DEVIATIONS: tuple[tuple[str, ...], ...] = (
    ("exp", "show", "--json", "--param-deps"),
    ("exp", "show", "--md", "--precision", "3"),
)


class _WideLab(ef.ExpLab):
    """The experiments lab, with dvc's terminal width set so that tables are not cut."""

    def __init__(self, base: Path, dvc: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        env = repro_fixtures.tool_env(base, dvc)
        env["COLUMNS"] = "1000"
        self.tools = ef.ExpTools(env, dvc)
        self.tools.start()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> ef.ExpLab:
    """Both tools (shared by xdist workers)."""
    assert DVC is not None
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return _WideLab(base / "results-compat", DVC)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _build(lab: ef.ExpLab, root: Path) -> dict[str, Any]:
    proj = root / "proj"
    proj.mkdir()
    ef.git(proj, "init", "-q", "-b", "main")
    for key, value in ef.GIT_IDENTITY:
        ef.git(proj, "config", key, value)
    _write(proj, FILES)
    lab.must("dvc", proj, "init", "-q")
    lab.must("dvc", proj, "repro", "-q")
    ef.git(proj, "add", "-A")
    ef.git(proj, "commit", "-q", "-m", "baseline")
    # One tag per commit: with two, dvc's label is whichever its ref iteration meets first.
    ef.git(proj, "tag", "-a", "-m", "release", "ann")  # annotated: labels need peeling
    lab.must("dvc", proj, "exp", "run", "-q", "-n", "lr3", "-S", "train.lr=0.3")
    lab.must("dvc", proj, "exp", "run", "-q", "-n", "ep5", "-S", "train.epochs=5")
    ef.git(proj, "checkout", "-q", "--", ".")
    lab.must("dvc", proj, "checkout", "-q", "-f")
    params = FILES["params.yaml"].replace("lr: 0.1", "lr: 0.2")
    _write(proj, {"params.yaml": params})
    lab.must("dvc", proj, "repro", "-q")
    ef.git(proj, "add", "-A")
    ef.git(proj, "commit", "-q", "-m", "second")
    lab.must("dvc", proj, "exp", "run", "-q", "-n", "lr4", "-S", "train.lr=0.4")
    answers = {}
    for args in (*SAME_TEXT, *SAME_JSON, *SAME_LINES, *DEVIATIONS):
        answers[" ".join(args)] = asdict(lab.run("dvc", proj, *args))
    return answers


@pytest.fixture(scope="session")
def results(lab: ef.ExpLab) -> ef.State:
    """The project and dvc's answers (built once per session)."""
    return lab.state("results", lambda root: _build(lab, root))


@pytest.fixture
def work(results: ef.State, tmp_path: Path) -> Path:
    """A copy of the project for labrun (it writes its row cache under .dvc/tmp)."""
    return ef.copy_project(results.root / "proj", tmp_path / "proj")


def _both(lab: ef.ExpLab, results: ef.State, work: Path, args: tuple[str, ...]) -> tuple[Any, Any]:
    return results.run(" ".join(args)), lab.run("labrun", work, *args)


@pytest.mark.parametrize("args", SAME_TEXT, ids=" ".join)
def test_same_text(lab: ef.ExpLab, results: ef.State, work: Path, args: tuple[str, ...]) -> None:
    dvc, labrun = _both(lab, results, work, args)
    assert labrun.returncode == dvc.returncode, labrun.stderr
    assert labrun.stdout == dvc.stdout
    assert labrun.stderr == dvc.stderr


@pytest.mark.parametrize("args", SAME_JSON, ids=" ".join)
def test_same_json(lab: ef.ExpLab, results: ef.State, work: Path, args: tuple[str, ...]) -> None:
    dvc, labrun = _both(lab, results, work, args)
    assert (labrun.returncode, labrun.stderr) == (dvc.returncode, dvc.stderr)
    assert json.loads(labrun.stdout) == json.loads(dvc.stdout)


@pytest.mark.parametrize("args", SAME_LINES, ids=" ".join)
def test_same_lines(lab: ef.ExpLab, results: ef.State, work: Path, args: tuple[str, ...]) -> None:
    dvc, labrun = _both(lab, results, work, args)
    assert labrun.returncode == dvc.returncode
    for ours, theirs in zip(labrun.stdout.split("\n\n"), dvc.stdout.split("\n\n"), strict=True):
        assert ours.splitlines()[:1] == theirs.splitlines()[:1]  # the header
        assert sorted(ours.splitlines()) == sorted(theirs.splitlines())


def test_warm_row_cache_answers_the_same(lab: ef.ExpLab, results: ef.State, work: Path) -> None:
    args = ("exp", "show", "--json", "-A")
    cold = lab.run("labrun", work, *args)
    warm = lab.run("labrun", work, *args)
    assert cold.stdout == warm.stdout
    assert (work / ".dvc" / "tmp" / "labrun" / "exp-rows.db").exists()
    after = lab.run("dvc", work, *args)  # labrun's cache does not disturb dvc
    assert json.loads(after.stdout) == json.loads(warm.stdout)


def test_param_deps_applies_to_baselines_too(lab: ef.ExpLab, results: ef.State, work: Path) -> None:
    """dvc collects baseline rows without --param-deps (a bug); labrun does not."""
    args = DEVIATIONS[0]
    dvc, labrun = _both(lab, results, work, args)
    theirs, ours = json.loads(dvc.stdout), json.loads(labrun.stdout)
    assert ours[0] == theirs[0]  # the workspace
    assert ours[1]["experiments"] == theirs[1]["experiments"]
    full = theirs[1]["data"]["params"]
    assert "extra/hp.toml" in full and "flag" in full["params.yaml"]["data"]
    expected = {path: value for path, value in full.items() if path != "extra/hp.toml"}
    expected["params.yaml"] = {"data": {"train": full["params.yaml"]["data"]["train"]}}
    assert ours[1]["data"]["params"] == expected


def test_precision_applies_to_markdown(lab: ef.ExpLab, results: ef.State, work: Path) -> None:
    """dvc ignores --precision outside --csv (operator precedence); labrun honours it."""
    dvc, labrun = _both(lab, results, work, DEVIATIONS[1])
    theirs, ours = dvc.stdout.splitlines(), labrun.stdout.splitlines()
    assert ours[0] == theirs[0] and len(ours) == len(theirs)
    main = 3  # header, rule, workspace, then the current commit
    assert "0.3125" in [cell.strip() for cell in theirs[main].split("|")]  # loss.val, 5 digits
    assert "0.312" in [cell.strip() for cell in ours[main].split("|")]
