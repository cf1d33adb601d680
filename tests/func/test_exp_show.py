"""Stories: `labrun exp show` and `labrun exp diff` on projects with experiments.

Experiments are made with Git plumbing (`results_fixtures.add_experiment`), the
way DVC stores them, so these stories need neither dvc nor `exp run`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from tests.conftest import TmpProject
from tests.func.results_fixtures import (
    add_experiment,
    commit_all,
    git,
    lock_for,
    results_project,
)

BASE_TIME = 1_700_000_000  # Nov 14, 2023


@pytest.fixture
def proj(tmp_path: Path) -> TmpProject:
    """main (lr 0.1) with experiments lr3 (older) and lr5 (newer); workspace at lr 0.7."""
    proj = results_project(tmp_path / "proj")
    proj.gen({"dvc.lock": lock_for(0.1, 0.2)})
    commit_all(proj, "baseline", BASE_TIME)
    for name, lr, when in (("lr3", 0.3, BASE_TIME + 60), ("lr5", 0.5, BASE_TIME + 120)):
        add_experiment(
            proj,
            name,
            {
                "params.yaml": f"lr: {lr}\nopt:\n  name: adam\n  layers: [1, 2]\n",
                "metrics.json": json.dumps({"acc": lr * 2, "loss": {"val": 1 - lr}}),
                "dvc.lock": lock_for(lr, lr * 2),
            },
            when=when,
        )
    proj.gen({"params.yaml": "lr: 0.7\nopt:\n  name: sgd\n  layers: [1, 2]\n"})
    return proj


def show_json(proj: TmpProject, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = proj.main("exp", "show", "--json", *args, capsys=capsys)
    assert code == 0, err
    return json.loads(out)


def local_iso(when: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))


def test_json_lists_workspace_baseline_and_experiments_newest_first(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    states = show_json(proj, capsys)
    workspace, main = states
    assert (workspace["rev"], workspace["name"], workspace["experiments"]) == (
        "workspace",
        None,
        None,
    )
    assert workspace["data"]["params"]["params.yaml"]["data"]["lr"] == 0.7
    assert workspace["data"]["timestamp"] is None
    assert main["name"] == "main"
    assert main["data"]["timestamp"] == local_iso(BASE_TIME)
    assert [e["name"] for e in main["experiments"]] == ["lr5", "lr3"]
    lr5 = main["experiments"][0]["revs"][0]
    assert lr5["data"]["metrics"] == {"metrics.json": {"data": {"acc": 1.0, "loss": {"val": 0.5}}}}
    assert lr5["data"]["deps"]["train.py"] == {
        "hash": "0123456789abcdef0123456789abcdef",
        "size": 120,
        "nfiles": None,
    }
    assert main["experiments"][0]["executor"] is None


def test_json_is_the_api_result(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    assert show_json(proj, capsys) == api.exp_show(proj.root)
    # warm: rows come back from the row cache, still the same document
    assert show_json(proj, capsys) == api.exp_show(proj.root)


def test_table_has_tree_glyphs_dates_and_right_aligned_metrics(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = proj.main("exp", "show", "--no-pager", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    rule = lines[0]
    assert rule.startswith(" ─") and rule.endswith("─ ") and lines[2] == rule == lines[-1]
    assert lines[1].split() == [
        "Experiment",
        "Created",
        "acc",
        "loss.val",
        "lr",
        "opt.name",
        "opt.layers",
        "train.py",
    ]
    assert lines[3].split()[:2] == ["workspace", "-"]
    assert lines[4].split()[:4] == ["main", "Nov", "14,", "2023"]
    assert lines[5].lstrip().startswith("├── ") and lines[5].split()[2] == "[lr5]"
    assert lines[6].lstrip().startswith("└── ") and lines[6].split()[2] == "[lr3]"
    assert "[1, 2]" in lines[6] and "0.6" in lines[6]
    header = lines[1]
    assert header.index("acc") + len("acc") == lines[6].index(" 0.6 ") + len(" 0.6")


def test_csv_keeps_full_precision_iso_dates_and_names(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = proj.main("exp", "show", "--csv", capsys=capsys)
    assert code == 0
    rows = out.split("\r\n")
    assert rows[0] == (
        "Experiment,rev,typ,Created,parent,acc,loss.val,lr,opt.name,opt.layers,train.py"
    )
    assert rows[1].startswith(",workspace,baseline,,,0.2,0.9,0.7,sgd,")
    assert rows[2].startswith(f",main,baseline,{local_iso(BASE_TIME)},,0.2,0.9,0.1,adam,")
    assert rows[3].startswith("lr5,") and ",branch_commit," in rows[3]
    assert rows[4].startswith("lr3,") and ",branch_base," in rows[4]
    assert ",0.7,0.3,adam," in rows[4]  # 1 - 0.3 at full precision is 0.7
    assert '"[1, 2]"' in rows[4]


def test_markdown_and_precision(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    proj.gen({"metrics.json": json.dumps({"acc": 1 / 3, "loss": {"val": 2 / 3}})})
    code, out, _ = proj.main("exp", "show", "--md", capsys=capsys)
    assert code == 0
    assert out.startswith("| Experiment ")
    assert out.endswith("|\n\n")
    assert "| 0.33333 " in out
    # --precision applies to the table too (DVC ignores it outside --csv: a bug)
    code, out, _ = proj.main("exp", "show", "--md", "--precision", "2", capsys=capsys)
    assert "| 0.33 " in out


def test_only_changed_drop_and_keep(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = proj.main("exp", "show", "--csv", "--only-changed", capsys=capsys)
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert "opt.layers" not in header and "train.py" not in header
    assert {"lr", "acc", "opt.name"} <= set(header)
    _code, out, _ = proj.main("exp", "show", "--csv", "--drop", ".*", "--keep", "lr", capsys=capsys)
    assert out.splitlines()[0] == "lr"


def test_sort_by_metric_and_errors(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = proj.main("exp", "show", "--csv", "--sort-by", "acc", capsys=capsys)
    assert code == 0
    names = [line.split(",")[0] for line in out.splitlines()[3:]]
    assert names == ["lr3", "lr5"]
    last = out.splitlines()[-1]
    assert ",branch_base," in last  # the glyph follows the sorted order
    _code, out, _ = proj.main(
        "exp",
        "show",
        "--csv",
        "--sort-by",
        "metrics.json:acc",
        "--sort-order",
        "desc",
        capsys=capsys,
    )
    assert [line.split(",")[0] for line in out.splitlines()[3:]] == ["lr5", "lr3"]
    done = proj.labrun("exp", "show", "--sort-by", "nope")
    assert (done.returncode, done.stderr.strip()) == (255, "ERROR: Unknown sort column 'nope'")


def test_ambiguous_sort_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = results_project(tmp_path / "p")
    proj.gen({"params.yaml": "acc: 1\nlr: 0.1\n"})
    commit_all(proj, "base")
    add_experiment(proj, "e", {"params.yaml": "acc: 2\nlr: 0.1\n"})
    done = proj.labrun("exp", "show", "--sort-by", "acc")
    assert done.returncode == 255
    assert "Ambiguous sort column 'acc' matched" in done.stderr
    _code, out, _ = proj.main("exp", "show", "--csv", capsys=capsys)
    assert "metrics.json:acc" in out.splitlines()[0] and "params.yaml:acc" in out


def test_selecting_baselines(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    first = git(proj.root, "rev-parse", "HEAD")
    proj.gen({"params.yaml": "lr: 0.2\nopt:\n  name: adam\n  layers: [1, 2]\n"})
    second = commit_all(proj, "second", BASE_TIME + 500)
    git(proj.root, "tag", "v1", first)
    git(proj.root, "branch", "old", first)
    states = show_json(proj, capsys, "-n", "2")
    assert [s["name"] for s in states] == [None, "main", "v1"]  # a tag wins over a branch
    assert states[1]["experiments"] is None and len(states[2]["experiments"]) == 2
    assert [s["rev"] for s in show_json(proj, capsys, "-n", "2", "--sha")][1:] == [
        second,
        first,
    ]
    assert [s["name"] for s in show_json(proj, capsys, "-a", "--hide-workspace")] == [
        "main",
        "v1",
    ]
    assert [s["rev"] for s in show_json(proj, capsys, "-T", "--hide-workspace")] == [first]
    assert {s["rev"] for s in show_json(proj, capsys, "-A")} == {"workspace", first, second}
    by_name = show_json(proj, capsys, "--rev", "lr3", "--hide-workspace")
    assert by_name[0]["rev"] == git(
        proj.root, "rev-parse", f"refs/exps/{first[:2]}/{first[2:]}/lr3"
    )


def test_unknown_revision_fails_with_exit_1(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    done = proj.labrun("exp", "show", "--rev", "nope")
    assert (done.returncode, done.stderr.strip()) == (
        1,
        "ERROR: failed to show experiments - unknown Git revision 'nope'",
    )


def test_unreadable_files_show_as_errors(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    proj.gen({"metrics.json": "{broken"})
    states = show_json(proj, capsys)
    error = states[0]["data"]["metrics"]["metrics.json"]["error"]
    assert error == {  # DVC's words
        "type": "JSONFileCorruptedError",
        "msg": "unable to read: 'metrics.json', JSON file structure is corrupted",
    }
    _code, out, _ = proj.main("exp", "show", "--csv", capsys=capsys)
    assert out.splitlines()[1].startswith(",workspace,baseline,,,!,!,0.7,")
    proj.gen({"dvc.yaml": "stages: [\n"})
    states = show_json(proj, capsys)
    assert states[0]["data"] is None
    assert states[0]["error"] == {
        "msg": "unable to read: 'dvc.yaml', YAML file structure is corrupted",
        "type": "YAMLSyntaxError",
    }


def test_rows_follow_refs_that_move_or_vanish(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    show_json(proj, capsys)  # fills the row cache
    assert (proj.root / ".dvc" / "tmp" / "labrun" / "exp-rows.db").exists()
    base = git(proj.root, "rev-parse", "HEAD")
    git(proj.root, "update-ref", "-d", f"refs/exps/{base[:2]}/{base[2:]}/lr3")
    add_experiment(
        proj,
        "lr5",
        {"params.yaml": "lr: 0.9\n", "metrics.json": '{"acc": 1.8}'},
        when=BASE_TIME + 300,
    )
    (main,) = show_json(proj, capsys, "--hide-workspace")
    assert [e["name"] for e in main["experiments"]] == ["lr5"]
    assert main["experiments"][0]["revs"][0]["data"]["params"]["params.yaml"]["data"] == {"lr": 0.9}
    assert show_json(proj, capsys, "-f") == show_json(proj, capsys)


def test_queue_rows_from_the_caller(proj: TmpProject) -> None:
    base = git(proj.root, "rev-parse", "HEAD")
    lr3 = git(proj.root, "rev-parse", f"refs/exps/{base[:2]}/{base[2:]}/lr3")
    rows = [
        api.QueueRow(rev=lr3, baseline=base, state="queued", name="q1", executor="dvc-task"),
        api.QueueRow(rev=lr3, baseline=base, state="failed", name="f1", created=BASE_TIME + 1),
        api.QueueRow(
            rev="f" * 40,
            baseline=base,
            state="running",
            name="r1",
            executor="workspace",
            params={"params.yaml": {"data": {"lr": 0.8}}},
        ),
        api.QueueRow(
            rev="e" * 40,
            baseline=base,
            state="success",
            executor="dvc-task",
            result_ref=f"refs/exps/{base[:2]}/{base[2:]}/lr5",
        ),
    ]
    (main,) = api.exp_show(proj.root, api.ShowOptions(hide_workspace=True), rows)
    kinds = [(e["name"], (e["executor"] or {}).get("state")) for e in main["experiments"]]
    assert kinds == [
        ("r1", "running"),
        ("lr5", "success"),
        ("lr3", None),
        ("q1", "queued"),
        ("f1", "failed"),
    ]
    queued = main["experiments"][3]["revs"][0]
    assert queued["data"]["metrics"] == {} and queued["rev"] == lr3
    failed = main["experiments"][4]["revs"][0]
    assert failed["error"] == {"msg": "Experiment run failed", "type": ""}
    table = api.exp_table([main])
    assert table.headers[:3] == ["Experiment", "Created", "State"]
    cells = {row[0]: row[2:4] for row in table.rows}
    assert cells[f"├── {lr3[:7]} [q1]"] == ["Queued", "Dvc-task"]
    assert cells[f"└── {lr3[:7]} [f1]"] == ["Failed", "-"]
    hidden = api.exp_show(proj.root, api.ShowOptions(hide_queued=True, hide_failed=True), rows)
    assert [e["name"] for e in hidden[1]["experiments"]] == ["r1", "lr5", "lr3"]


def test_no_commits_show_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = results_project(tmp_path / "p")
    assert proj.main("exp", "show", "--no-pager", capsys=capsys)[:2] == (0, "")
    assert proj.main("exp", "show", "--json", capsys=capsys)[:2] == (0, "[]\n")


def test_diff_of_head_and_workspace_and_of_two_experiments(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = proj.main("exp", "diff", capsys=capsys)
    assert code == 0
    # no metric changed: an empty metrics table, the separator line, the params table
    assert out == (
        "\n"
        "Path         Param     HEAD    workspace    Change\n"
        "params.yaml  lr        0.1     0.7          0.6\n"
        "params.yaml  opt.name  adam    sgd          diff not supported\n"
    )
    code, out, _ = proj.main("exp", "diff", "lr3", "lr5", "--json", capsys=capsys)
    diff = json.loads(out)
    assert diff["metrics"]["metrics.json"]["acc"] == {"old": 0.6, "new": 1.0, "diff": 0.4}
    assert diff["params"]["params.yaml"]["lr"]["new"] == 0.5
    code, out, _ = proj.main("exp", "diff", "lr3", "lr5", "--all", "--no-path", capsys=capsys)
    assert "opt.layers  [1, 2]  [1, 2]  diff not supported" in out
    assert not out.splitlines()[0].startswith("Path")


def test_diff_of_an_unknown_revision(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    done = proj.labrun("exp", "diff", "nope")
    assert (done.returncode, done.stderr.strip()) == (
        1,
        "ERROR: failed to show experiments diff - unknown Git revision 'nope'",
    )


def test_project_in_a_subdirectory_of_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "user.email", "t@t.invalid")
    (repo / "proj").mkdir()
    api.init(repo / "proj", subdir=True)
    proj = TmpProject(repo / "proj")
    proj.gen({"params.yaml": "lr: 0.1\n", "dvc.yaml": "stages:\n  s:\n    cmd: x\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a")
    add_experiment(TmpProject(repo), "e", {"proj/params.yaml": "lr: 0.4\n"})
    states = show_json(proj, capsys)
    exp = states[1]["experiments"][0]["revs"][0]
    assert exp["data"]["params"] == {"params.yaml": {"data": {"lr": 0.4}}}
