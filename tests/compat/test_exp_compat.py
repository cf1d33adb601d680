"""labrun's experiments are dvc 3.67.1's experiments, and the other way round.

Every test starts from one tiny committed project (``exp_fixtures.FILES``: a
`prep` stage and a `train` stage with params `lr` and `epochs` and a metric
`acc`). The shared state ``made`` is built once per session: the baseline
(with its ``dvc.lock`` committed) copied into twin projects; in ``dvc/``, dvc
runs ``exp run -n x -S lr=0.3`` then ``exp run --temp -n t -S lr=0.5``; in
``labrun/``, labrun runs the same two commands. Both twins have the same
baseline commit, so everything but commit times must agree:

1. dvc reads labrun's experiments: ``dvc exp show --json`` gives the same rows
   for both twins; ``dvc exp list/apply/branch/rename/remove`` work on them;
2. labrun reads dvc's experiments: ``labrun exp list`` prints what ``dvc exp
   list`` prints; ``labrun exp apply`` leaves the same files as ``dvc exp
   apply``; branch/rename/remove print and do what dvc does;
3. the experiment commits: same parent, tree and message (hence hash);
4. names: invalid names and conflicts fail with dvc's exit code (255);
5. the seed syntax ``--params a=1,b=2`` commits what ``-S a=1 -S b=2`` does
   (state ``fresh``: a baseline without ``dvc.lock``, so both stages run);
   ``exp save`` commits what dvc's does (state ``saved``);
6. a project with dvc's experiments gets one more from labrun, and ``dvc exp
   show`` lists all of them.

Known labrun bugs are ``xfail(strict=True)`` with the reason. The module is
skipped when dvc is not installed (``.venv-dvc/bin/dvc`` at the repository
root, or the path in ``$LABRUN_DVC``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import exp_fixtures as ef
except ImportError:
    import exp_fixtures as ef  # type: ignore[no-redef, import-not-found, unused-ignore]

DVC = ef.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat

TOOLS = ("dvc", "labrun")
RUN_X = ("exp", "run", "-n", "x", "-S", "lr=0.3")
RUN_T = ("exp", "run", "--temp", "-n", "t", "-S", "lr=0.5")
MESSAGE = re.compile(r"^dvc: commit experiment [0-9a-f]{64}$")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> ef.ExpLab:
    """Both tools and the session's shared states (shared by xdist workers)."""
    assert DVC is not None
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return ef.ExpLab(base / "exp-compat", DVC)


@pytest.fixture(scope="session")
def made(lab: ef.ExpLab) -> ef.State:
    """Twins where each tool ran `exp run -n x -S lr=0.3` and `exp run --temp -n t`."""

    def build(root: Path) -> dict[str, Any]:
        template = lab.baseline(root / "template", locked=True)
        twins = dict(zip(TOOLS, lab.twins(template, *TOOLS), strict=True))
        data: dict[str, Any] = {"baseline": ef.head(template)}
        for tool, twin in twins.items():
            data[f"{tool} run"] = asdict(lab.run(tool, twin, *RUN_X))
            data[f"{tool} temp"] = asdict(lab.run(tool, twin, *RUN_T))
        for tool, twin in twins.items():  # dvc is the reader of both
            data[f"show {tool}"] = asdict(lab.must("dvc", twin, "exp", "show", "--json"))
        for args in (
            ("exp", "list"),
            ("exp", "list", "--name-only"),
            ("exp", "list", "--sha-only"),
        ):
            data[" ".join(args)] = asdict(lab.must("dvc", twins["dvc"], *args))
        return data

    return lab.state("made", build)


@pytest.fixture(scope="session")
def fresh(lab: ef.ExpLab) -> ef.State:
    """Twins of a baseline without dvc.lock: dvc ran `-S lr=0.2 -S epochs=3`, labrun
    `--params lr=0.2,epochs=3`."""

    def build(root: Path) -> dict[str, Any]:
        template = lab.baseline(root / "template", locked=False)
        dvc_twin, labrun_twin = lab.twins(template, *TOOLS)
        dvc_args = ("exp", "run", "-n", "s", "-S", "lr=0.2", "-S", "epochs=3")
        return {
            "dvc run": asdict(lab.must("dvc", dvc_twin, *dvc_args)),
            "labrun run": asdict(
                lab.run(
                    "labrun", labrun_twin, "exp", "run", "-n", "s", "--params", "lr=0.2,epochs=3"
                )
            ),
        }

    return lab.state("fresh", build)


def _made_ok(made: ef.State) -> None:
    for key in ("labrun run", "labrun temp"):
        run = made.run(key)
        assert run.returncode == 0, f"labrun {key}: {run.stdout}{run.stderr}"


def _copy(made: ef.State, tool: str, dest: Path) -> Path:
    return ef.copy_project(made.root / tool, dest)


# --- 1. dvc reads and uses labrun's experiments -----------------------------------------------


def test_exp_run_prints_what_dvc_prints(made: ef.State) -> None:
    _made_ok(made)
    assert made.run("labrun run").stdout == made.run("dvc run").stdout
    # --temp: the same until the hint, where dvc prints a placeholder (`dvc exp apply <exp>`)
    lab, dvc = (made.run(f"{tool} temp").stdout for tool in ("labrun", "dvc"))
    assert lab.split("To apply")[0] == dvc.split("To apply")[0]


def test_dvc_exp_show_lists_labrun_experiments_like_its_own(made: ef.State) -> None:
    _made_ok(made)
    rows = {tool: ef.exp_show_rows(made.run(f"show {tool}").stdout) for tool in TOOLS}
    assert set(rows["labrun"]) == {"workspace", "main", "x", "t"}
    assert rows["labrun"] == rows["dvc"]
    x, t = rows["labrun"]["x"], rows["labrun"]["t"]
    assert x["params"] == {"params.yaml": {"data": {"lr": 0.3, "epochs": 2}}}
    assert x["metrics"] == {"metrics.json": {"data": {"acc": 0.6}}}
    assert t["params"]["params.yaml"]["data"]["lr"] == 0.5
    assert t["metrics"] == {"metrics.json": {"data": {"acc": 1.0}}}
    assert rows["labrun"]["workspace"]["params"] == x["params"]  # x was applied, t was not


def test_workspace_after_runs_is_what_dvc_leaves(made: ef.State) -> None:
    """x's results applied (outputs, dvc.lock, metrics, .gitignore), t's not."""
    _made_ok(made)
    works = {tool: made.root / tool for tool in TOOLS}
    _assert_same_workspace(works, "after the runs", cache=False)
    assert ef.git_status(works["labrun"]) == [
        " M dvc.lock",
        " M metrics.json",
        " M params.yaml",
    ]


def test_cache_after_runs_is_what_dvc_leaves(made: ef.State) -> None:
    _made_ok(made)
    caches = {tool: ef.files(made.root / tool / ".dvc" / "cache") for tool in TOOLS}
    assert any(path.startswith("runs/") for path in caches["dvc"])
    assert caches["labrun"] == caches["dvc"]


def test_dvc_exp_list_lists_labrun_experiments(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    _made_ok(made)
    work = _copy(made, "labrun", tmp_path / "w")
    refs = ef.exp_refs(work)
    assert set(refs) == {"x", "t"}
    dvc = lab.run("dvc", work, "exp", "list")
    expected = "main:\n" + "".join(f"\t{refs[n][:7]} [{n}]\n" for n in sorted(refs))
    assert (dvc.returncode, dvc.stdout) == (0, expected)
    assert lab.run("labrun", work, "exp", "list").stdout == dvc.stdout


def test_dvc_applies_labrun_experiments_as_its_own(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    """`dvc exp apply` in labrun's twin leaves what it leaves in dvc's twin."""
    _made_ok(made)
    works = {tool: _prepare_apply(_copy(made, tool, tmp_path / tool)) for tool in TOOLS}
    for name in ("t", "x"):
        runs = {tool: lab.run("dvc", work, "exp", "apply", name) for tool, work in works.items()}
        assert runs["labrun"] == runs["dvc"], name
        assert runs["dvc"].returncode == 0, runs["dvc"].stderr
        _assert_same_workspace(works, name, cache=False)  # caches: see test_cache_...
    assert (works["labrun"] / "model.txt").read_text() == "model lr=0.3 epochs=2\n"


def _prepare_apply(work: Path) -> Path:
    """A scratch file (kept by apply) and an edit to a file of the experiment (lost)."""
    (work / "scratch.txt").write_text("mine\n")
    (work / "data.txt").write_text("edited\n")
    return work


def _assert_same_workspace(works: dict[str, Path], step: str, *, cache: bool = True) -> None:
    lab, dvc = ef.files(works["labrun"], cache=cache), ef.files(works["dvc"], cache=cache)
    assert {k: v for k, v in lab.items() if dvc.get(k) != v} == {
        k: v for k, v in dvc.items() if lab.get(k) != v
    }, step
    assert ef.git_status(works["labrun"]) == ef.git_status(works["dvc"]), step
    assert ef.head(works["labrun"]) == ef.head(works["dvc"])


def test_dvc_branches_renames_and_removes_labrun_experiments(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    """The same commands, dvc on labrun's experiments and labrun on dvc's: same results."""
    _made_ok(made)
    works = {
        "dvc": _copy(made, "labrun", tmp_path / "a"),
        "labrun": _copy(made, "dvc", tmp_path / "b"),
    }
    steps = (
        ("exp", "branch", "x"),
        ("exp", "branch", "x"),  # the branch exists now
        ("exp", "branch", "t", "promoted"),
        ("exp", "rename", "x", "x"),
        ("exp", "rename", "x", "z"),
        ("exp", "branch", "z", "again"),  # the renamed experiment is still found
        ("exp", "remove", "z"),
        ("exp", "remove", "nope"),
        ("exp", "remove", "--keep", "t"),
        ("exp", "list", "--name-only"),
    )
    for args in steps:
        runs = {tool: lab.run(tool, work, *args) for tool, work in works.items()}
        lab_run, dvc_run = runs["labrun"], runs["dvc"]
        assert (lab_run.returncode, lab_run.stdout) == (dvc_run.returncode, dvc_run.stdout), args
        assert ef.first_error_line(lab_run.stderr) == ef.first_error_line(dvc_run.stderr), args
    for tool, work in works.items():
        maker = "labrun" if tool == "dvc" else "dvc"
        original = ef.exp_refs(made.root / maker)
        assert ef.exp_refs(work) == {"t": original["t"]}, tool
        assert ef.git(work, "rev-parse", "x-branch", "promoted", "again").split() == [
            original["x"],
            original["t"],
            original["x"],
        ]


# --- 2. labrun reads and uses dvc's experiments -----------------------------------------------


@pytest.mark.parametrize("option", ["", "--name-only", "--sha-only"])
def test_labrun_lists_dvc_experiments(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path, option: str
) -> None:
    args = ("exp", "list", option) if option else ("exp", "list")
    dvc = made.run(" ".join(args))
    work = _copy(made, "dvc", tmp_path / "w")
    got = lab.run("labrun", work, *args)
    assert (got.returncode, got.stdout) == (0, dvc.stdout), got.stderr
    assert dvc.stdout.count("\n") >= 2


def test_labrun_applies_dvc_experiments_as_dvc_does(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    """`labrun exp apply` in a copy of dvc's twin leaves what `dvc exp apply` leaves."""
    works = {tool: _prepare_apply(_copy(made, "dvc", tmp_path / tool)) for tool in TOOLS}
    for name in ("t", "x"):
        runs = {tool: lab.run(tool, work, "exp", "apply", name) for tool, work in works.items()}
        assert runs["dvc"].returncode == 0, runs["dvc"].stderr
        assert (runs["labrun"].returncode, runs["labrun"].stdout) == (0, runs["dvc"].stdout)
        _assert_same_workspace(works, name)


# --- 3. the experiment commits ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["x", "t"])
def test_experiment_commits_are_dvc_commits(made: ef.State, name: str) -> None:
    _made_ok(made)
    projects = {tool: made.root / tool for tool in TOOLS}
    shas = {tool: ef.exp_refs(p)[name] for tool, p in projects.items()}
    trees = {tool: ef.tree(p, shas[tool]) for tool, p in projects.items()}
    assert trees["labrun"] == trees["dvc"]
    assert {"dvc.lock", "params.yaml", "metrics.json", ".gitignore"} <= set(trees["dvc"])
    infos = {tool: ef.commit_info(p, shas[tool]) for tool, p in projects.items()}
    assert infos["labrun"] == infos["dvc"]
    assert infos["dvc"].parents == (made.data["baseline"],)
    assert MESSAGE.match(infos["dvc"].message)


def test_seed_params_syntax_commits_what_set_param_does(fresh: ef.State) -> None:
    lab_run = fresh.run("labrun run")
    assert lab_run.returncode == 0, lab_run.stderr
    assert lab_run.stdout == fresh.run("dvc run").stdout
    projects = {tool: fresh.root / tool for tool in TOOLS}
    shas = {tool: ef.exp_refs(p)["s"] for tool, p in projects.items()}
    trees = {tool: ef.tree(p, shas[tool]) for tool, p in projects.items()}
    assert trees["labrun"] == trees["dvc"]
    assert ".gitignore" not in trees["dvc"] and "dvc.lock" in trees["dvc"]  # new lock: included
    infos = {tool: ef.commit_info(p, shas[tool]) for tool, p in projects.items()}
    assert infos["labrun"] == infos["dvc"]
    assert (
        ef.git(projects["labrun"], "show", f"{shas['labrun']}:params.yaml")
        == "lr: 0.2\nepochs: 3\n"
    )


@pytest.fixture(scope="session")
def saved(lab: ef.ExpLab, made: ef.State) -> ef.State:
    """Two copies of dvc's twin with `lr: 0.4` in params.yaml, then `exp save -n saved`
    by each tool (nothing runs: dvc.lock takes the new params as they are)."""

    def build(root: Path) -> dict[str, Any]:
        data = {}
        for tool in TOOLS:
            work = ef.copy_project(made.root / "dvc", root / tool)
            (work / "params.yaml").write_text("lr: 0.4\nepochs: 2\n")
            data[tool] = asdict(lab.run(tool, work, "exp", "save", "-n", "saved"))
        return data

    return lab.state("saved", build)


def test_exp_save_commits_what_dvc_commits(saved: ef.State) -> None:
    works = {tool: saved.root / tool for tool in TOOLS}
    assert saved.run("dvc").returncode == 0, saved.run("dvc").stderr
    assert saved.run("labrun").returncode == 0, saved.run("labrun").stderr
    shas = {tool: ef.exp_refs(work)["saved"] for tool, work in works.items()}
    trees = {tool: ef.tree(work, shas[tool]) for tool, work in works.items()}
    assert trees["dvc"].pop(".dvc/tmp/repro.dat")  # dvc 3.67.1 commits it by mistake
    assert trees["labrun"] == trees["dvc"]
    infos = {tool: ef.commit_info(work, shas[tool]) for tool, work in works.items()}
    assert infos["labrun"].message == infos["dvc"].message
    assert infos["labrun"].parents == infos["dvc"].parents == (ef.head(works["dvc"]),)
    _assert_same_workspace(works, "save")


def test_exp_save_prints_what_dvc_prints(saved: ef.State) -> None:
    assert saved.run("dvc").stdout == (
        "Updating lock file 'dvc.lock'\nExperiment has been saved as: saved\n"
    )
    assert saved.run("labrun").stdout == saved.run("dvc").stdout


# --- 4. names ---------------------------------------------------------------------------------

BAD_NAMES = ("a..b", "x/y", "has space", "end.lock", "q?", "@{u}")


def _failures(lab: ef.ExpLab, work: Path, commands: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """command → {tool: (exit code, first error line)}, only where the tools disagree."""
    found = {}
    for args in commands:
        runs = {tool: lab.run(tool, work, *args) for tool in TOOLS}
        got = {
            tool: (run.returncode, ef.first_error_line(run.stderr)) for tool, run in runs.items()
        }
        if got["labrun"] != got["dvc"]:
            found[" ".join(args)] = got
    return found


def test_invalid_names_fail_as_in_dvc(lab: ef.ExpLab, made: ef.State, tmp_path: Path) -> None:
    work = ef.copy_project(made.root / "template", tmp_path / "w")
    assert lab.run("dvc", work, "exp", "run", "-n", "a..b").returncode == 255
    assert _failures(lab, work, [("exp", "run", "-n", bad) for bad in BAD_NAMES]) == {}
    assert ef.exp_refs(work) == {}
    assert ef.git_status(work) == []  # nothing ran, nothing changed


def test_save_failures_are_reported_as_in_dvc(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    work = _copy(made, "dvc", tmp_path / "w")
    commands = [("exp", "save", "-n", bad) for bad in BAD_NAMES[:2]]
    commands.append(("exp", "save", "-n", "x"))  # exists
    assert _failures(lab, work, commands) == {}


def test_existing_names_need_force_as_in_dvc(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    """Each tool meets a name the other one created."""
    works = {
        "dvc": _copy(made, "labrun", tmp_path / "a"),
        "labrun": _copy(made, "dvc", tmp_path / "b"),
    }
    commands = (RUN_X, ("exp", "rename", "t", "x"), ("exp", "rename", "t", "a..b"))
    for args in commands:
        runs = {tool: lab.run(tool, work, *args) for tool, work in works.items()}
        assert runs["dvc"].returncode == 255, args
        assert runs["labrun"].returncode == 255, (args, runs["labrun"].stderr)
        assert ef.first_error_line(runs["labrun"].stderr) == ef.first_error_line(
            runs["dvc"].stderr
        ), args
    for tool, work in works.items():
        assert set(ef.exp_refs(work)) == {"x", "t"}, tool


# --- 6. dvc's and labrun's experiments side by side -------------------------------------------


def test_dvc_shows_labrun_experiment_among_its_own(
    lab: ef.ExpLab, made: ef.State, tmp_path: Path
) -> None:
    before = ef.exp_show_rows(made.run("show dvc").stdout)
    work = _copy(made, "dvc", tmp_path / "w")
    for args in (
        ("exp", "run", "-n", "l", "-S", "lr=0.7"),
        ("exp", "run", "-f", "-n", "t", "-S", "lr=0.9"),
    ):
        done = lab.run("labrun", work, *args)
        assert done.returncode == 0, done.stderr
    show = lab.must("dvc", work, "exp", "show", "--json")
    rows = ef.exp_show_rows(show.stdout)
    assert set(rows) == {"workspace", "main", "x", "t", "l"}
    assert rows["x"] == before["x"] and rows["main"] == before["main"]
    assert rows["l"]["params"] == {"params.yaml": {"data": {"lr": 0.7, "epochs": 2}}}
    assert rows["l"]["metrics"] == {"metrics.json": {"data": {"acc": 1.4}}}
    assert rows["t"]["params"] == {"params.yaml": {"data": {"lr": 0.9, "epochs": 2}}}
    assert rows["t"]["metrics"] == {"metrics.json": {"data": {"acc": 1.8}}}
    assert rows["workspace"] == rows["t"]  # the last workspace run's results are applied
    assert lab.must("dvc", work, "status").stdout == "Data and pipelines are up to date.\n"
