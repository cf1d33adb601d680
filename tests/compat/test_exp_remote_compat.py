"""Experiments travel between labrun and dvc 3.67.1 through a Git remote and a DVC remote.

Each test builds the tiny project of ``exp_fixtures.FILES`` (baseline committed with
its ``dvc.lock`` and a default DVC remote that is a local directory), a bare Git
repository as ``origin``, and fresh clones of it:

1. labrun pushes an experiment; dvc pulls it into a clone, lists and shows it as
   labrun does, and its data is in dvc's cache (``dvc exp apply`` restores it);
2. dvc pushes an experiment; labrun pulls it into a clone and reads it as dvc does;
3. the same commands print the same lines in both tools (push, push again, list
   of the remote, remove on the remote).

Skipped when dvc is not installed (``.venv-dvc/bin/dvc``, or ``$LABRUN_DVC``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:  # tests/ may or may not be a package: support both import layouts
    from tests.compat import exp_fixtures as ef
except ImportError:
    import exp_fixtures as ef  # type: ignore[no-redef, import-not-found, unused-ignore]

DVC = ef.find_dvc()
if DVC is None:
    pytest.skip("dvc 3.67.1 is not installed (.venv-dvc or $LABRUN_DVC)", allow_module_level=True)

pytestmark = pytest.mark.compat


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> ef.ExpLab:
    """Both tools, sharing one environment."""
    assert DVC is not None
    return ef.ExpLab(tmp_path_factory.mktemp("exp-remote-compat"), DVC)


def _origin(lab: ef.ExpLab, root: Path) -> Path:
    """A committed project in `root/work` whose remotes are `root/remote.git` (Git,
    holding `main`) and `root/store` (DVC, default)."""
    work = lab.baseline(root / "work", locked=True)
    lab.must("dvc", work, "remote", "add", "-d", "store", str(root / "store"))
    ef.git(work, "commit", "-q", "-am", "remote")
    ef.git(root, "init", "-q", "--bare", str(root / "remote.git"))
    ef.git(work, "remote", "add", "origin", str(root / "remote.git"))
    ef.git(work, "push", "-q", "origin", "main")
    return work


def _clone(root: Path, name: str) -> Path:
    dest = root / name
    ef.git(root, "clone", "-q", "-b", "main", str(root / "remote.git"), str(dest))
    for key, value in ef.GIT_IDENTITY:
        ef.git(dest, "config", key, value)
    return dest


def _objects(cache: Path) -> set[str]:
    base = cache / "files" / "md5"
    found = set()
    for top, _dirs, names in os.walk(base):
        found |= {Path(top).name + n for n in names}
    return found


def test_dvc_pulls_and_shows_what_labrun_pushed(lab: ef.ExpLab, tmp_path: Path) -> None:
    work = _origin(lab, tmp_path)
    lab.must("labrun", work, "exp", "run", "-n", "x", "-S", "lr=0.3")
    pushed = lab.must("labrun", work, "exp", "push", "origin")
    assert pushed.stdout == "Pushed experiment x to Git remote 'origin'.\n2 files uploaded\n"
    theirs = _clone(tmp_path, "dvc-clone")
    pulled = lab.must("dvc", theirs, "exp", "pull", "origin")
    assert pulled.stdout == "Pulled experiment '['x']' from Git remote 'origin'.\n"
    assert ef.exp_refs(theirs) == ef.exp_refs(work)
    shown = lab.must("dvc", theirs, "exp", "show", "--json").stdout
    mine = lab.must("dvc", work, "exp", "show", "--json").stdout
    assert ef.exp_show_rows(shown)["x"] == ef.exp_show_rows(mine)["x"]
    assert _objects(theirs / ".dvc" / "cache") == _objects(tmp_path / "store")
    lab.must("dvc", theirs, "exp", "apply", "x")
    assert (theirs / "model.txt").read_text() == "model lr=0.3 epochs=2\n"
    listed = lab.must("dvc", theirs, "exp", "list", "origin").stdout
    assert listed == lab.must("labrun", work, "exp", "list", "origin").stdout == "main:\n\tx\n"


def test_labrun_pulls_and_reads_what_dvc_pushed(lab: ef.ExpLab, tmp_path: Path) -> None:
    work = _origin(lab, tmp_path)
    lab.must("dvc", work, "exp", "run", "-n", "y", "-S", "lr=0.5")
    lab.must("dvc", work, "exp", "push", "origin")
    mine = _clone(tmp_path, "labrun-clone")
    pulled = lab.must("labrun", mine, "exp", "pull", "origin")
    assert pulled.stdout == "Pulled experiment '['y']' from Git remote 'origin'.\n"
    assert ef.exp_refs(mine) == ef.exp_refs(work)
    assert _objects(mine / ".dvc" / "cache") >= _objects(tmp_path / "store")
    assert (
        lab.must("labrun", mine, "exp", "list").stdout
        == lab.must("dvc", work, "exp", "list").stdout
    )
    rows = ef.exp_show_rows(lab.must("labrun", mine, "exp", "show", "--json").stdout)
    assert rows["y"] == ef.exp_show_rows(lab.must("dvc", work, "exp", "show", "--json").stdout)["y"]
    lab.must("labrun", mine, "exp", "apply", "y")
    assert (mine / "model.txt").read_text() == "model lr=0.5 epochs=2\n"
    again = lab.must("labrun", mine, "exp", "pull", "origin")
    assert again.stdout == "No experiments to pull.\n"


@pytest.mark.parametrize(
    "steps",
    [
        (("exp", "push", "origin"), ("exp", "push", "origin"), ("exp", "list", "origin")),
        (("exp", "push", "origin", "--no-cache"), ("exp", "remove", "-g", "origin", "z")),
        (("exp", "push", "origin", "nope"), ("exp", "list", "origin", "--sha-only")),
    ],
    ids=["push-twice-list", "no-cache-remove", "errors"],
)
def test_commands_print_what_dvc_prints(
    lab: ef.ExpLab, tmp_path: Path, steps: tuple[tuple[str, ...], ...]
) -> None:
    outputs = {}
    for tool in ("dvc", "labrun"):
        work = _origin(lab, tmp_path / tool)
        lab.must(tool, work, "exp", "run", "-n", "z", "-S", "lr=0.7")
        done = [lab.run(tool, work, *args) for args in steps]
        outputs[tool] = [(r.returncode, r.stdout, ef.first_error_line(r.stderr)) for r in done]
        outputs[f"{tool} remote"] = sorted(ef.exp_refs(tmp_path / tool / "remote.git"))
    assert outputs["labrun"] == outputs["dvc"]
    assert outputs["labrun remote"] == outputs["dvc remote"]
