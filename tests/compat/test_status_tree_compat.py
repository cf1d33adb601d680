"""`labrun status` of an edited tracked tree, after a warm run that memoised it, prints what
the real dvc 3.67.1 prints for the same tree (dvc hashes it afresh: it has no memo there).

The edits are those of tests/func/test_status_tree_fast.py. Skipped when dvc is not
installed (``.venv-dvc/bin/dvc`` at the repository root, or ``$LABRUN_DVC``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import cache_fixtures as cf
from tests.conftest import TmpProject
from tests.func.test_status_tree_fast import EDITS, TREE, settle_folders

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import pipeline_fixtures as fx
except ImportError:
    import pipeline_fixtures as fx  # type: ignore[no-redef]

DVC = fx.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat


def _run(command: list[str], root: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


@pytest.mark.parametrize("edit", EDITS)
def test_status_after_edit_matches_dvc(tmp_path: Path, edit: str) -> None:
    env = fx.compat_env(tmp_path / "env")
    root = tmp_path / "proj"
    root.mkdir()
    labrun = fx.labrun_command()
    _run([str(DVC), "init", "-q", "--no-scm"], root, env)
    TmpProject(root).gen({"data": TREE})
    cf.settle(root / "data")
    _run([*labrun, "add", "-q", "data"], root, env)
    cf.settle(root / ".dvc" / "cache")
    settle_folders(root / ".dvc" / "cache")
    assert _run([*labrun, "status"], root, env) == "Data and pipelines are up to date.\n"
    EDITS[edit][0](root)
    ours = _run([*labrun, "status"], root, env)
    assert ours == _run([str(DVC), "status"], root, env)
    assert ours == EDITS[edit][1]
