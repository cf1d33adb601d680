"""The command line as a user types it: init, stage list, dag, errors and exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TmpProject

Make = Callable[[dict[str, Any]], TmpProject]

PIPELINE = (
    "stages:\n"
    "  prep:\n"
    "    desc: Prepare data\n"
    "    cmd: cat data.txt > prep.txt\n"
    "    deps: [data.txt]\n"
    "    outs: [prep.txt]\n"
    "  train:\n"
    "    foreach: [a, b]\n"
    "    do:\n"
    "      cmd: cp prep.txt m-${item}.bin\n"
    "      deps: [prep.txt]\n"
    "      outs: ['m-${item}.bin']\n"
    "  ev:\n"
    "    cmd: echo\n"
    "    deps: [m-a.bin, m-b.bin]\n"
    "    metrics: [{m.json: {cache: false}}]\n"
)


def test_version_is_printed_without_loading_anything(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    out = run_cli(["--version"], tmp_path)
    assert out.returncode == 0
    assert out.stdout.strip() == "0.1.0"


def test_init_writes_what_dvc_init_writes(tmp_path: Path) -> None:
    from tests.conftest import TmpProject

    proj = TmpProject(tmp_path)
    proj.git("init", "-q")
    out = proj.labrun("init")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / ".dvc/.gitignore").read_text() == "/config.local\n/tmp\n/cache\n"
    assert (tmp_path / ".dvc/config").read_text() == ""
    assert (tmp_path / ".dvcignore").read_text().startswith("# Add patterns of files dvc")
    staged = proj.git("diff", "--cached", "--name-only").split()
    assert staged == [".dvc/.gitignore", ".dvc/config", ".dvcignore"]
    again = proj.labrun("init")
    assert again.returncode == 255
    assert "'.dvc' exists. Use `-f` to force." in again.stderr
    assert proj.labrun("init", "-f").returncode == 0


def test_init_outside_git_needs_no_scm(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    out = run_cli(["init"], tmp_path)
    assert out.returncode == 255
    assert "is not tracked by any supported SCM tool" in out.stderr
    assert "Traceback" not in out.stderr
    assert run_cli(["init", "--no-scm"], tmp_path).returncode == 0
    assert (tmp_path / ".dvc/config").read_text() == "[core]\n    no_scm = True\n"
    assert not (tmp_path / ".dvc/.gitignore").exists()


def test_stage_list_matches_dvc_layout(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PIPELINE})
    out = proj.labrun("stage", "list")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "prep     Prepare data\n"
        "train@a  Outputs m-a.bin\n"
        "train@b  Outputs m-b.bin\n"
        "ev       Reports m.json\n"
    )
    names = proj.labrun("stage", "list", "--name-only")
    assert names.stdout == "prep\ntrain@a\ntrain@b\nev\n"


def test_stage_list_descriptions(make_project: Make) -> None:
    long_desc = "x" * 100
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  s:\n    cmd: echo\n"
                '  d:\n    cmd: echo\n    desc: "\\n\\n  second line  \\nthird"\n'
                "  x:\n    cmd: echo\n    deps: [a, b]\n    params: [lr]\n"
                "  y:\n    cmd: e\n    outs: [o1]\n    plots: [p]\n    metrics: [m]\n"
                f"  long:\n    cmd: e\n    desc: {long_desc}\n"
            )
        }
    )
    out = proj.labrun("stage", "list")
    assert out.stdout.splitlines() == [
        "s     No outputs or dependencies",
        "d     second line",
        "x     Depends on a, b, params.yaml",
        "y     Outputs o1; Reports m, p",
        "long  " + "x" * 79 + "…",
    ]


def test_stage_list_from_a_subdirectory_uses_relative_addressing(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  top:\n    cmd: t\n",
            "sub/dvc.yaml": "stages:\n  s:\n    cmd: s\n    outs: [o]\n",
        }
    )
    out = proj.labrun("stage", "list", "--all", cwd=proj.root / "sub")
    assert out.stdout == "../dvc.yaml:top  No outputs or dependencies\ns                Outputs o\n"
    assert proj.labrun("--cd", "sub", "stage", "list").stdout == "s  Outputs o\n"


def test_dag_formats(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PIPELINE})
    md = proj.labrun("dag", "--md").stdout
    assert md == (
        "```mermaid\nflowchart TD\n"
        '\tnode1["ev"]\n\tnode2["prep"]\n\tnode3["train@a"]\n\tnode4["train@b"]\n'
        "\tnode2-->node3\n\tnode2-->node4\n\tnode3-->node1\n\tnode4-->node1\n```\n"
    )
    dot = proj.labrun("dag", "--dot").stdout
    assert dot == (
        'strict digraph {\n"prep";\n"train@a";\n"train@b";\n"ev";\n'
        '"prep" -> "train@a";\n"prep" -> "train@b";\n"train@a" -> "ev";\n'
        '"train@b" -> "ev";\n}\n\n'  # DVC's dot output ends with a blank line
    )
    outs = proj.labrun("dag", "-o", "--md").stdout
    assert '\tnode4["prep.txt"]' in outs and "\tnode4-->node1" in outs
    upstream = proj.labrun("dag", "--mermaid", "train@a").stdout
    assert upstream == 'flowchart TD\n\tnode1["prep"]\n\tnode2["train@a"]\n\tnode1-->node2\n'
    full = proj.labrun("dag", "--mermaid", "--full", "train@a").stdout
    assert full.count("node") > upstream.count("node")
    ascii_out = proj.labrun("dag").stdout
    assert "| prep |" in ascii_out and "| ev |" in ascii_out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["stage", "list", "nosuch"],
            255,
            "ERROR: Stage 'nosuch' not found inside 'dvc.yaml' file",
        ),
        (["stage", "list", "--bogus"], 254, "ERROR: unrecognized arguments: --bogus"),
        (["nosuchcommand"], 254, "ERROR: argument COMMAND: invalid choice"),
        (["--cd", "/nonexistent-dir", "dag"], 254, "ERROR: --cd: cannot change directory"),
    ],
)
def test_errors_are_one_clear_line_with_dvc_exit_codes(
    make_project: Make, args: list[str], code: int, message: str
) -> None:
    proj = make_project({"dvc.yaml": PIPELINE})
    out = proj.labrun(*args)
    assert out.returncode == code
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_outside_a_project_exits_253(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    out = run_cli(["stage", "list"], tmp_path)
    assert out.returncode == 253
    assert "ERROR: you are not inside of a DVC repository" in out.stderr


def test_quiet_suppresses_error_text_but_not_the_exit_code(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PIPELINE})
    out = proj.labrun("stage", "list", "-q", "nosuch")
    assert out.returncode == 255
    assert out.stderr == ""


def test_help_on_every_command(tmp_path: Path) -> None:
    from labrun.cli.main import COMMANDS
    from tests.conftest import run_cli

    assert "stage" in run_cli(["-h"], tmp_path).stdout
    for name in [*COMMANDS, "stage list"]:
        out = run_cli([*name.split(), "-h"], tmp_path)
        assert out.returncode == 0, name
        assert "--quiet" in out.stdout and "--cd" in out.stdout, name
