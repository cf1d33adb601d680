"""What `exp run` costs beyond its stage commands: modules imported, `dvc.lock` writes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import TmpProject

# Each of these would cost every `exp run` start-up time; none is needed to run one.
NOT_IMPORTED = (
    "argparse",  # the command line is read by labrun.cli.argspec
    "gettext",
    "pathlib",  # labrun.config works on strings
    "urllib.parse",
    "ipaddress",
    "concurrent.futures",  # only `-j N` runs stages on threads
    "logging",
    "tempfile",  # labrun.repro.run.temp_dir
    "random",
    "typing",  # annotations only: every module imports it under TYPE_CHECKING
    "hashlib",  # OpenSSL: labrun.digests uses the built-in hashes for small inputs
    "json",  # labrun.digests.json_sorted writes the hashed texts
    "shlex",
    "subprocess",  # stage commands start by posix_spawn (labrun.proc), git work is in process
    "threading",  # locks come from _thread; only -j N and checkpoints start threads
    "importlib",  # labrun.load_module
    "sqlite3",  # the hash memo opens _sqlite3 (the package imports datetime)
    "datetime",
)

THREE = """\
stages:
  one:
    cmd: cat data.txt params.yaml > one.txt
    deps: [data.txt]
    params: [split]
    outs: [one.txt]
  two:
    cmd: (cat dvc.lock 2>/dev/null || echo none) > seen.txt && cksum one.txt > two.txt
    deps: [one.txt]
    outs: [two.txt, seen.txt]
  three:
    cmd: cat two.txt > three.txt && {fail}
    deps: [two.txt]
    outs: [three.txt]
"""


def _project(tmp_project: TmpProject, fail: str = "true") -> TmpProject:
    tmp_project.gen(
        {
            "dvc.yaml": THREE.format(fail=fail),
            "params.yaml": "split: 0.2\n",
            "data.txt": "data\n",
        }
    )
    tmp_project.commit("baseline")
    return tmp_project


def test_exp_run_imports_none_of_the_costly_modules(tmp_project: TmpProject) -> None:
    proj = _project(tmp_project)
    code = (
        "import sys\n"
        "from labrun.cli.main import main\n"
        "code = main(['exp', 'run', '-q', '-S', 'split=0.3'])\n"
        f"print(code, sorted(m for m in {NOT_IMPORTED!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=proj.root,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TEMP", "TMP")},
    )
    assert out.stdout.split("\n")[-2] == "0 []", out.stderr
    assert "split: 0.3" in (proj.root / "params.yaml").read_text()


def test_exp_run_writes_dvc_lock_once_after_its_stages(tmp_project: TmpProject) -> None:
    proj = _project(tmp_project)
    res = proj.labrun("exp", "run", "-S", "split=0.3")
    assert res.returncode == 0, res.stderr
    # the messages are those of a write after each stage
    assert res.stdout.count("Generating lock file 'dvc.lock'\nUpdating lock file") == 1
    assert res.stdout.count("Updating lock file 'dvc.lock'") == 3
    # the second stage ran before any entry was written: one write for the three stages
    assert (proj.root / "seen.txt").read_text() == "none\n"
    lock = (proj.root / "dvc.lock").read_text()
    assert all(f"  {name}:\n" in lock for name in ("one", "two", "three"))


def test_repro_still_writes_dvc_lock_after_each_stage(tmp_project: TmpProject) -> None:
    proj = _project(tmp_project)
    res = proj.labrun("repro")
    assert res.returncode == 0, res.stderr
    assert "  one:\n" in (proj.root / "seen.txt").read_text()


def test_a_failed_experiment_records_the_stages_that_succeeded(tmp_project: TmpProject) -> None:
    proj = _project(tmp_project, fail="exit 3")
    res = proj.labrun("exp", "run", "-S", "split=0.3")
    assert res.returncode != 0
    assert "failed to reproduce 'three'" in res.stderr
    lock = (proj.root / "dvc.lock").read_text()
    assert "  one:\n" in lock and "  two:\n" in lock and "  three:\n" not in lock
    assert "split: 0.3" in lock


@pytest.mark.parametrize("tmpdir", [None, "custom"])
def test_the_run_lock_folder_is_tempfiles(tmp_path: os.PathLike[str], tmpdir: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TEMP", "TMP")}
    if tmpdir is not None:
        folder = os.path.join(tmp_path, tmpdir)
        os.mkdir(folder)
        env["TMPDIR"] = folder
    ask = [sys.executable, "-c"]
    ours = "from labrun.repro.run import temp_dir; print(temp_dir())"
    theirs = "import tempfile; print(tempfile.gettempdir())"
    found = [
        subprocess.run([*ask, code], env=env, capture_output=True, text=True, check=True).stdout
        for code in (ours, theirs)
    ]
    assert found[0] == found[1]


def _run_as_program(proj: TmpProject, prelude: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"{prelude}\n"
        "sys.argv = ['labrun', 'exp', 'run', '-S', 'split=0.3']\n"
        "from labrun.cli.main import main\n"
        "sys.exit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=proj.root, capture_output=True, text=True, check=False
    )


def test_the_program_ends_without_tearing_python_down(tmp_project: TmpProject) -> None:
    proj = _project(tmp_project)
    prelude = (
        "class Witness:\n    def __del__(self):\n        print('torn down')\nwitness = Witness()"
    )
    res = _run_as_program(proj, prelude)
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("Experiment results have been applied to your workspace.\n")
    assert "torn down" not in res.stdout


def test_exit_handlers_still_run(tmp_project: TmpProject) -> None:
    proj = _project(tmp_project)
    res = _run_as_program(proj, "import atexit\natexit.register(lambda: print('handler ran'))")
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("workspace.\nhandler ran\n")


TEMPLATED = """\
vars: [params.yaml]
stages:
  show:
    cmd: echo ${split} > shown.txt
    deps: [data.txt]
    outs: [shown.txt]
"""


@pytest.mark.parametrize("templated", [False, True])
def test_the_pipeline_is_loaded_once_unless_the_overrides_can_change_it(
    tmp_project: TmpProject, monkeypatch: pytest.MonkeyPatch, templated: bool
) -> None:
    """The index read before `-S` is applied is reused, except when a stage interpolates
    params (the edited values change the stage) or a pipeline file itself was edited."""
    from labrun.pipeline.index import Index

    if templated:
        tmp_project.gen({"dvc.yaml": TEMPLATED, "params.yaml": "split: 0.2\n", "data.txt": "d\n"})
        tmp_project.commit("baseline")
    else:
        _project(tmp_project)
    loads: list[str] = []
    real = Index.load.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Index], root: str, *args: object, **kwargs: object) -> Index:
        loads.append(root)
        return real(cls, root, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Index, "load", classmethod(counted))
    monkeypatch.chdir(tmp_project.root)
    from labrun.cli.main import main

    assert main(["exp", "run", "-q", "-S", "split=0.7"]) == 0
    assert len(loads) == (2 if templated else 1)
    if templated:
        assert (tmp_project.root / "shown.txt").read_text() == "0.7\n"
