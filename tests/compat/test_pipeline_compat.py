"""labrun loads pipelines exactly as the real dvc 3.67.1 does.

Every project of ``tests/compat/corpus`` is prepared once per session (Git
repository, ``dvc init``, project files; see ``pipeline_fixtures.py``), dvc's
answers are collected, and labrun is run in the same directory:

- ``stage list --all`` and ``dag --md`` / ``--dot`` / ``-o --md`` must print the
  same bytes and exit with the same status;
- ``labrun stage list --all --json`` must describe the same stages as
  ``dvc_dump.py`` (parsed JSON);
- warnings printed by ``stage list --all`` must be the same lines.

Every project of ``tests/compat/errors`` must make both tools fail with the
same exit status, and labrun's stderr must contain dvc's message (first line
and cause lines; see ``pipeline_fixtures.error_lines``).

The whole module is skipped when dvc is not installed (``.venv-dvc/bin/dvc`` at
the repository root, or the path in ``$LABRUN_DVC``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import pipeline_fixtures as fx
except ImportError:
    import pipeline_fixtures as fx  # type: ignore[no-redef,unused-ignore]

DVC = fx.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat

CORPUS_PROJECTS = fx.list_projects(fx.CORPUS)
ERROR_PROJECTS = fx.list_projects(fx.ERRORS)
DAG_VARIANTS = {"md": ("dag", "--md"), "dot": ("dag", "--dot"), "outs-md": ("dag", "-o", "--md")}


@pytest.fixture(scope="session")
def dvc_runs(tmp_path_factory: pytest.TempPathFactory) -> fx.DvcRuns:
    """One cache of prepared projects and dvc answers for the whole session."""
    assert DVC is not None
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # share the work between the workers
        base = base.parent
    return fx.DvcRuns(base / "pipeline-compat", DVC)


def _corpus(dvc_runs: fx.DvcRuns, name: str) -> fx.DvcResult:
    return dvc_runs.get(fx.CORPUS / name, fx.CORPUS_COMMANDS)


def _error_project(dvc_runs: fx.DvcRuns, name: str) -> fx.DvcResult:
    return dvc_runs.get(fx.ERRORS / name, (fx.error_args(fx.ERRORS / name),))


def _warnings(stderr: str) -> list[str]:
    return [line.rstrip() for line in stderr.splitlines() if line.startswith("WARNING: ")]


def test_corpus_and_errors_are_present() -> None:
    assert len(CORPUS_PROJECTS) >= 32
    assert len(ERROR_PROJECTS) >= 12


@pytest.mark.parametrize("name", CORPUS_PROJECTS)
def test_dvc_loads_corpus_project(dvc_runs: fx.DvcRuns, name: str) -> None:
    result = _corpus(dvc_runs, name)
    failed = [r for r in result.runs if r.returncode != 0]
    assert not failed, f"dvc failed on {name}: {failed}"
    assert result.stages is not None, result.stages_error


@pytest.mark.parametrize("name", ERROR_PROJECTS)
def test_dvc_rejects_error_project(dvc_runs: fx.DvcRuns, name: str) -> None:
    (run,) = _error_project(dvc_runs, name).runs
    assert run.returncode != 0, f"dvc accepted {name}: {run.stdout}"
    assert fx.error_lines(run.stderr), f"dvc printed no error for {name}"


@pytest.mark.parametrize("name", CORPUS_PROJECTS)
def test_stage_list_all(dvc_runs: fx.DvcRuns, name: str) -> None:
    result = _corpus(dvc_runs, name)
    expected = result.run(("stage", "list", "--all"))
    actual = fx.run_labrun(result.project, expected.args, dvc_runs.env)
    assert actual.stdout == expected.stdout, actual.stderr
    assert actual.returncode == expected.returncode, actual.stderr


@pytest.mark.parametrize("variant", sorted(DAG_VARIANTS))
@pytest.mark.parametrize("name", CORPUS_PROJECTS)
def test_dag(dvc_runs: fx.DvcRuns, name: str, variant: str) -> None:
    result = _corpus(dvc_runs, name)
    expected = result.run(DAG_VARIANTS[variant])
    actual = fx.run_labrun(result.project, expected.args, dvc_runs.env)
    assert actual.stdout == expected.stdout, actual.stderr
    assert actual.returncode == expected.returncode, actual.stderr


@pytest.mark.parametrize("name", CORPUS_PROJECTS)
def test_stage_list_json(dvc_runs: fx.DvcRuns, name: str) -> None:
    result = _corpus(dvc_runs, name)
    actual = fx.run_labrun(result.project, fx.JSON_COMMAND, dvc_runs.env)
    assert actual.returncode == 0, actual.stderr
    assert json.loads(actual.stdout) == result.stages


@pytest.mark.parametrize("name", CORPUS_PROJECTS)
def test_stage_list_warnings(dvc_runs: fx.DvcRuns, name: str) -> None:
    result = _corpus(dvc_runs, name)
    expected = result.run(("stage", "list", "--all"))
    actual = fx.run_labrun(result.project, expected.args, dvc_runs.env)
    assert _warnings(actual.stderr) == _warnings(expected.stderr), actual.stderr


# DVC crashes on these; labrun does the sensible thing instead (a test each, here):
# typed-desc: `desc: ${n}` resolving to an int makes `dvc stage list` fail with
# "'int' object has no attribute 'splitlines'"; labrun shows the value as text.
WORKS_WHERE_DVC_CRASHES = {"typed-desc": "release  5\n"}


@pytest.mark.parametrize("name", ERROR_PROJECTS)
def test_error_message(dvc_runs: fx.DvcRuns, name: str) -> None:
    result = _error_project(dvc_runs, name)
    (expected,) = result.runs
    actual = fx.run_labrun(result.project, expected.args, dvc_runs.env)
    if name in WORKS_WHERE_DVC_CRASHES:
        assert fx.is_dvc_crash(expected.stderr)
        assert (actual.returncode, actual.stdout) == (0, WORKS_WHERE_DVC_CRASHES[name])
        return
    assert actual.returncode == expected.returncode, actual.stderr
    if fx.is_dvc_crash(expected.stderr):  # dvc's text is a crash report: not to be copied
        assert actual.stderr.strip(), "labrun failed without a message"
        return
    missing = fx.missing_error_lines(expected.stderr, actual.stderr)
    assert not missing, f"labrun stderr lacks {missing}:\n{actual.stderr}"


def test_error_lines_keep_first_line_and_causes() -> None:
    stderr = (
        "'./dvc.yaml' validation failed.\n\n"
        "extra keys not allowed, in stages -> a -> foo, line 3, column 5\n"
        "  2   a:          \n  3 │   cmd: echo\n"
    )
    assert fx.error_lines(stderr) == [
        "'./dvc.yaml' validation failed.",
        "extra keys not allowed, in stages -> a -> foo, line 3, column 5",
    ]


def test_error_lines_ignore_set_order_of_cycle_stages() -> None:
    dvc = "ERROR: Same item(s) are defined as both a dependency and an output in stages: b, a.\n"
    labrun = "ERROR: Same item(s) are defined as both a dependency and an output in stages: a, b.\n"
    assert fx.missing_error_lines(dvc, labrun) == []
    assert fx.missing_error_lines(dvc, "ERROR: something else\n") != []


def test_error_lines_drop_warnings_and_footer() -> None:
    stderr = (
        "WARNING: item is already specified\n"
        "ERROR: unexpected error - boom\n\n"
        "Having any troubles? Hit us up at https://dvc.org/support, we are always happy to help!\n"
    )
    assert fx.error_lines(stderr) == ["unexpected error - boom"]
    assert fx.is_dvc_crash(stderr)
    assert not fx.is_dvc_crash("ERROR: failed to parse 'vars' in 'dvc.yaml'\n")


def test_prepared_project_is_a_git_and_dvc_repo(dvc_runs: fx.DvcRuns) -> None:
    project: Path = _corpus(dvc_runs, "18-dvc-files").project
    assert (project / ".git").is_dir()
    assert (project / ".dvc" / "config").is_file()
    assert (project / "data" / ".gitignore").read_text() == "/images\n/labels.csv\n"
    assert not list(project.rglob("dot-gitignore"))
