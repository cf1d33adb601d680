"""labrun reproduces pipelines exactly as the real dvc 3.67.1 does.

Every project of ``tests/compat/repro_corpus`` is prepared once per session (see
``repro_fixtures.py``): one template (Git repository, ``dvc init``, setup, one
commit), copied twice, then reproduced once by dvc in one copy and once by
labrun in the other. Then:

(a) first reproduction: same exit code and stdout (the file list of the ``git
    add`` hint sorted), byte-identical ``dvc.lock`` and ``.dvc`` files, the same
    ``.gitignore`` files, the same files in ``.dvc/cache`` (objects, and run-cache
    entries with their text) and the same workspace (content and permission bits);
(b) cross-check: ``dvc status`` on labrun's result prints what it prints on its
    own result, and ``labrun status`` on dvc's result prints what dvc does (both
    "up to date" unless the scenario says ``status_clean: false``);
(c) the project's scenario steps, applied to both copies: after each step the
    same stages ran / were restored / were skipped / failed, with the same exit
    code, WARNING/ERROR lines and lock-file messages (``outcome``), the same
    stdout lines (sorted: dvc may order independent stages differently), and the
    lock files, .gitignore files, cache and workspace are still identical;
    ``status`` steps must print the same text.

Known differences are listed in ``KNOWN``: a labrun bug is an ``xfail(strict=True)``
(so the test flips when it is fixed); a deliberate difference is asserted as
labrun's behaviour where it applies (see ``_comparable``).

The module is skipped when dvc is not installed (``.venv-dvc/bin/dvc`` at the
repository root, or the path in ``$LABRUN_DVC``).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import repro_fixtures as fx
except ImportError:
    import repro_fixtures as fx  # type: ignore[no-redef, import-not-found, unused-ignore]

DVC = fx.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat

PROJECTS = fx.list_projects()
UP_TO_DATE = "Data and pipelines are up to date.\n"

# (test function, project) → why labrun differs from dvc there (a labrun bug).
KNOWN: dict[tuple[str, str], str] = {}


def _projects(test: str) -> list[Any]:
    marked = []
    for name in PROJECTS:
        reason = KNOWN.get((test, name))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        marked.append(pytest.param(name, marks=marks, id=name))
    return marked


@pytest.fixture(scope="session")
def preparer(tmp_path_factory: pytest.TempPathFactory) -> fx.Preparer:
    """One set of prepared projects for the whole session, shared by xdist workers."""
    assert DVC is not None
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return fx.Preparer(base / "repro-compat", DVC)


def test_corpus_is_complete() -> None:
    readme = (fx.CORPUS / "README.md").read_text(encoding="utf-8")
    assert len(PROJECTS) >= 16
    assert [name for name in PROJECTS if f"| {name} |" not in readme] == []
    for name in PROJECTS:
        steps = fx.load_scenario(fx.CORPUS / name).steps
        assert steps, f"{name} has no scenario steps"
        differing = [i for i, step in enumerate(steps) if step.labrun_differs]
        assert differing in ([], [len(steps) - 1]), f"{name}: labrun_differs only on the last step"
        assert all(steps[i].labrun_differs.get("why") for i in differing), name


# --- (a) the first reproduction ---------------------------------------------------------------


@pytest.mark.parametrize("name", _projects("test_first_repro_output"))
def test_first_repro_output(preparer: fx.Preparer, name: str) -> None:
    prep = preparer.get(name)
    dvc, lab = prep.first["dvc"], prep.first["labrun"]
    assert dvc.returncode == 0, f"dvc failed on {name}:\n{dvc.stdout}{dvc.stderr}"
    assert lab.returncode == dvc.returncode, lab.stderr
    assert fx.normalise_stdout(lab.stdout) == fx.normalise_stdout(dvc.stdout), lab.stderr


@pytest.mark.parametrize("name", _projects("test_first_repro_lockfiles"))
def test_first_repro_lockfiles(preparer: fx.Preparer, name: str) -> None:
    dvc, lab = _snapshots(preparer.get(name))
    assert dvc.locks, "dvc wrote no lock file"
    assert lab.locks == dvc.locks, _diff(dvc.locks, lab.locks)


@pytest.mark.parametrize("name", _projects("test_first_repro_cache"))
def test_first_repro_cache(preparer: fx.Preparer, name: str) -> None:
    dvc, lab = _snapshots(preparer.get(name))
    assert lab.cache == dvc.cache


@pytest.mark.parametrize("name", _projects("test_first_repro_gitignores"))
def test_first_repro_gitignores(preparer: fx.Preparer, name: str) -> None:
    dvc, lab = _snapshots(preparer.get(name))
    assert lab.gitignores == dvc.gitignores, _diff(dvc.gitignores, lab.gitignores)


@pytest.mark.parametrize("name", _projects("test_first_repro_workspace"))
def test_first_repro_workspace(preparer: fx.Preparer, name: str) -> None:
    dvc, lab = _snapshots(preparer.get(name))
    assert _exec_bits_as_dvc(lab.workspace, dvc.workspace) == dvc.workspace


def _snapshots(prep: fx.Prepared) -> tuple[fx.Snapshot, fx.Snapshot]:
    return fx.snapshot(prep.dirs["dvc"]), fx.snapshot(prep.dirs["labrun"])


# --- (b) each tool's status on the other's result ---------------------------------------------


@pytest.mark.parametrize("name", _projects("test_dvc_status_on_labrun_result"))
def test_dvc_status_on_labrun_result(preparer: fx.Preparer, name: str, tmp_path: Path) -> None:
    prep = preparer.get(name)
    other = _status(preparer, "dvc", prep.dirs["labrun"], tmp_path)
    assert other == prep.dvc_status, other.stderr
    if prep.scenario.status_clean:
        assert other.stdout == UP_TO_DATE, other.stderr


@pytest.mark.parametrize("name", _projects("test_labrun_status_on_dvc_result"))
def test_labrun_status_on_dvc_result(preparer: fx.Preparer, name: str, tmp_path: Path) -> None:
    prep = preparer.get(name)
    expected = prep.dvc_status
    actual = _status(preparer, "labrun", prep.dirs["dvc"], tmp_path)
    got, wanted = (actual.returncode, actual.stdout), (expected.returncode, expected.stdout)
    assert got == wanted, actual.stderr
    if prep.scenario.status_clean:
        assert actual.stdout == UP_TO_DATE, actual.stderr


def _status(preparer: fx.Preparer, tool: str, result: Path, tmp_path: Path) -> fx.Run:
    project = fx.copy_project(result, tmp_path / "project")
    return preparer.tools.run(tool, project, ("status",))


# --- (c) scenario steps -----------------------------------------------------------------------


@pytest.mark.parametrize("name", _projects("test_scenario"))
def test_scenario(preparer: fx.Preparer, name: str, tmp_path: Path) -> None:
    prep = preparer.get(name)
    env = preparer.tools.env
    dirs = {tool: fx.copy_project(prep.dirs[tool], tmp_path / tool) for tool in fx.TOOLS}
    for number, step in enumerate(prep.scenario.steps, 1):
        runs = {}
        for tool in fx.TOOLS:
            fx.apply_step(dirs[tool], step, env)
            runs[tool] = preparer.tools.run(tool, dirs[tool] / step.cwd, step.run)
        label = f"step {number} ({step.name}: {' '.join(step.run)})"
        if not _check_step(label, step, runs, dirs):
            _check_own_status(preparer.tools, dirs, prep.scenario.status_clean, label)


def _check_step(label: str, step: fx.Step, runs: dict[str, fx.Run], dirs: dict[str, Path]) -> bool:
    """Compare the tools after one step; False after a deliberate difference (the last step)."""
    shown = f"{label}\n--- dvc:\n{_show(runs['dvc'])}\n--- labrun:\n{_show(runs['labrun'])}"
    if step.run[0] == "status":
        dvc, lab = runs["dvc"], runs["labrun"]
        assert (lab.returncode, lab.stdout) == (dvc.returncode, dvc.stdout), shown
        _check_snapshots(dirs, shown)
        return True
    outcomes = {tool: fx.outcome(runs[tool], dirs[tool]) for tool in fx.TOOLS}
    _check_expectations(step.expect, outcomes["dvc"], "dvc", shown)
    if step.labrun_differs:  # on purpose; the copies differ from now on (always the last step)
        _check_expectations(step.labrun_differs["expect"], outcomes["labrun"], "labrun", shown)
        return False
    expected, actual = _comparable(step, outcomes["dvc"], outcomes["labrun"])
    assert actual == expected, shown
    lines = {tool: _stdout_lines(step, runs[tool]) for tool in fx.TOOLS}
    assert lines["labrun"] == lines["dvc"], f"stdout lines differ (sorted) after {shown}"
    if step.exact_stdout:
        stdout = {tool: fx.normalise_stdout(runs[tool].stdout) for tool in fx.TOOLS}
        assert stdout["labrun"] == stdout["dvc"], f"stdout differs after {shown}"
    _check_snapshots(dirs, shown)
    return True


def _stdout_lines(step: fx.Step, run: fx.Run) -> list[str]:
    """stdout as a sorted list of non-empty lines.

    dvc may order independent stages differently from run to run (it walks a set when
    few stages are selected), and the empty lines between stages depend on that order.
    """
    lines = [line for line in fx.normalise_stdout(run.stdout).splitlines() if line]
    if "--dry" in step.run:  # see _comparable
        lines = [
            line
            for line in lines
            if not line.endswith("is cached - skipping run, checking out outputs")
        ]
    return sorted(lines)


def _check_own_status(tools: fx.Tools, dirs: dict[str, Path], clean: bool, label: str) -> None:
    """After a deliberate difference each tool must find its own result up to date."""
    for tool in fx.TOOLS:
        run = tools.run(tool, dirs[tool], ("status",))
        assert run.returncode == 0, f"{tool} status after {label}:\n{_show(run)}"
        if clean:
            assert run.stdout == UP_TO_DATE, f"{tool} status after {label}:\n{_show(run)}"


def _check_snapshots(dirs: dict[str, Path], shown: str) -> None:
    dvc, lab = fx.snapshot(dirs["dvc"]), fx.snapshot(dirs["labrun"])
    assert lab.locks == dvc.locks, f"lock files differ after {shown}{_diff(dvc.locks, lab.locks)}"
    gitignores = _diff(dvc.gitignores, lab.gitignores)
    assert lab.gitignores == dvc.gitignores, f".gitignore files differ after {shown}{gitignores}"
    assert lab.cache == dvc.cache, f"cache differs after {shown}"
    workspace = _exec_bits_as_dvc(lab.workspace, dvc.workspace)
    assert workspace == dvc.workspace, f"workspace differs after {shown}"


def _exec_bits_as_dvc(lab: dict[str, str], dvc: dict[str, str]) -> dict[str, str]:
    """labrun's workspace, with one deliberate difference undone where it applies.

    DVC quirk: after a stage runs, dvc replaces each executable single-file output by
    a fresh copy of its cache object and adds only u+x, so the 755 the command gave
    becomes 744. labrun leaves a file that is already an independent copy as the
    command wrote it (no second copy) and so keeps 755. Asserted here: the two may
    differ only in the group/other exec bits of a file that is executable for its user.
    """
    same = dict(lab)
    for rel, described in lab.items():
        theirs = dvc.get(rel, "")
        digest, _, mode = described.rpartition(" ")
        their_digest, _, their_mode = theirs.rpartition(" ")
        if digest != their_digest or not digest or mode == their_mode:
            continue
        ours, dvcs = int(mode, 8), int(their_mode, 8)
        if ours & 0o100 and dvcs & 0o100 and (ours ^ dvcs) & ~0o011 == 0:
            same[rel] = theirs
    return same


def _check_expectations(
    expect: dict[str, Any], found: dict[str, Any], tool: str, shown: str
) -> None:
    """What the scenario says a tool does must hold (for dvc: guards the corpus itself)."""
    for key, wanted in {"exit": 0, **expect}.items():
        got = found.get(key, [] if isinstance(wanted, list) else None)
        if isinstance(wanted, list):
            got, wanted = sorted(got or ()), sorted(wanted)
        assert got == wanted, f"{tool}'s {key} is not as the scenario expects\n{shown}"


def _comparable(
    step: fx.Step, dvc: dict[str, Any], lab: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two outcomes, minus deliberate differences (asserted here for labrun)."""
    if "--dry" in step.run:
        # dvc --dry looks up the run-cache with the *old* recorded dependency hashes and
        # then prints "is cached" for stages whose outputs it cannot restore, right
        # before "Running stage" (repro.md 5.2). labrun hashes the current deps and says
        # "is cached" only when it really could restore (then dvc says so too); it never
        # restores in dry mode, so every stage it calls cached is also listed as running.
        cached = set(lab.get("cached", []))
        assert cached <= set(lab.get("ran", [])) & set(dvc.get("cached", [])), (lab, dvc)
        dvc, lab = dict(dvc), dict(lab)
        dvc.pop("cached", None)
        lab.pop("cached", None)
    # dvc leaks the OSError of hashing a missing dependency of a run-cacheable stage
    # (`[Errno 2] No such file or directory: '<absolute path>'`, repro.md 5.4); labrun
    # names the dependency as it does for every other stage.
    leaked = "[Errno 2] No such file or directory: '<root>/"

    def named(message: str) -> str:
        head, found, path = message.partition(leaked)
        if not found:
            return message
        path, _, tail = path.partition("'")
        return f"{head}dependency '{os.path.relpath(path, step.cwd)}' does not exist{tail}"

    dvc = {**dvc, "messages": sorted(named(m) for m in dvc.get("messages", []))}
    return dvc, lab


def _diff(dvc: dict[str, str], lab: dict[str, str]) -> str:
    """A unified diff (dvc → labrun) of the texts that differ."""
    parts = []
    for name in sorted(set(dvc) | set(lab)):
        if dvc.get(name) != lab.get(name):
            lines = difflib.unified_diff(
                dvc.get(name, "").splitlines(keepends=True),
                lab.get(name, "").splitlines(keepends=True),
                f"dvc/{name}",
                f"labrun/{name}",
            )
            parts.append("".join(lines))
    return "\n" + "\n".join(parts)


def _show(run: fx.Run) -> str:
    return f"exit {run.returncode}\n{run.stdout}{run.stderr}"
