"""Stories: `labrun metrics show/diff` and `labrun params show/diff`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrun import api
from tests.conftest import TmpProject
from tests.func.results_fixtures import commit_all, git, results_project

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
    params:
      - p.json:
          - b.c
    metrics:
      - evals:
          cache: false
  train:
    cmd: python3 train.py
    params: [train]
    metrics:
      - metrics.json:
          cache: false
"""
FILES = {
    "dvc.yaml": PIPELINE,
    "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\nflag: yes\n",
    "p.json": json.dumps({"a": 1, "b": {"c": 2, "d": [1, 2]}}),
    "vars.yaml": "data_dir: data\n",
    "extra": {"score.yaml": "score: 0.5\n", "hp.toml": 'depth = 3\n[opt]\nname = "adam"\n'},
    "evals": {"a.json": '{"x": 1}', "b.yaml": "y: 2\n"},
    "metrics.json": json.dumps({"acc": 0.9, "loss": {"a": 1}, "lst": [1, 2], "none": None}),
}


@pytest.fixture
def proj(tmp_path: Path) -> TmpProject:
    """A committed pipeline with every kind of params and metrics file."""
    proj = results_project(tmp_path / "proj", FILES)
    commit_all(proj, "baseline")
    return proj


def out_of(proj: TmpProject, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = proj.main(*args, capsys=capsys)
    assert code == 0, err
    return out


def test_metrics_show_lists_every_metrics_file(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    assert out_of(proj, capsys, "metrics", "show") == (
        "Path              acc    loss.a    score    x    y\n"
        "evals/a.json      -      -         -        1    -\n"
        "evals/b.yaml      -      -         -        -    2\n"
        "metrics.json      0.9    1         -        -    -\n"
        "extra/score.yaml  -      -         0.5      -    -\n"
    )
    data = json.loads(out_of(proj, capsys, "metrics", "show", "--json"))
    assert data == {
        "": {
            "data": {
                "evals/a.json": {"data": {"x": 1}},
                "evals/b.yaml": {"data": {"y": 2}},
                "metrics.json": {"data": {"acc": 0.9, "loss": {"a": 1}}},
                "extra/score.yaml": {"data": {"score": 0.5}},
            }
        }
    }


def test_metrics_show_targets_markdown_and_rounding(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    proj.gen({"metrics.json": json.dumps({"acc": 1 / 3})})
    assert out_of(proj, capsys, "metrics", "show", "metrics.json", "--md") == (
        "| Path         | acc     |\n|--------------|---------|\n| metrics.json | 0.33333 |\n\n"
    )
    assert "0.333\n" in out_of(proj, capsys, "metrics", "show", "metrics.json", "--precision", "3")


def test_metrics_show_from_a_subdirectory_uses_relative_paths(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = proj.main("metrics", "show", "--json", cwd=proj.root / "evals", capsys=capsys)
    assert code == 0
    assert list(json.loads(out)[""]["data"]) == [
        "a.json",
        "b.yaml",
        "../metrics.json",
        "../extra/score.yaml",
    ]


def test_metrics_show_for_all_commits(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    first = git(proj.root, "rev-parse", "HEAD")
    proj.gen({"metrics.json": '{"acc": 0.95}'})
    second = commit_all(proj, "better", 1_700_000_100)
    git(proj.root, "tag", "v1", first)
    data = json.loads(out_of(proj, capsys, "metrics", "show", "-A", "--json"))
    assert list(data) == ["workspace", second, first]
    assert data[first]["data"]["metrics.json"]["data"]["acc"] == 0.9
    table = out_of(proj, capsys, "metrics", "show", "-T")
    assert table.splitlines()[0].startswith("Revision")
    assert all(line.startswith(("Revision", "workspace", "v1")) for line in table.splitlines())
    # -a: the workspace equals the current branch, so it is not shown
    assert list(json.loads(out_of(proj, capsys, "metrics", "show", "-a", "--json"))) == ["main"]


def test_metrics_diff(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    proj.gen({"metrics.json": json.dumps({"acc": 0.95, "loss": {"a": 1}, "new": True})})
    assert out_of(proj, capsys, "metrics", "diff") == (
        "Path          Metric    HEAD    workspace    Change\n"
        "metrics.json  acc       0.9     0.95         0.05\n"
        "metrics.json  new       -       True         -\n"
    )
    full = out_of(proj, capsys, "metrics", "diff", "--all", "--no-path")
    assert full.splitlines()[0] == "Metric    HEAD    workspace    Change"
    assert "loss.a    1       1            0" in full
    data = json.loads(out_of(proj, capsys, "metrics", "diff", "--json"))
    assert data == {
        "metrics.json": {
            "acc": {"old": 0.9, "new": 0.95, "diff": 0.04999999999999993},
            "new": {"old": None, "new": True},
        }
    }


def test_metrics_diff_reports_unreadable_revisions(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    proj.gen({"metrics.json": "{broken"})
    done = proj.labrun("metrics", "diff", "--targets", "metrics.json")
    assert done.returncode == 0
    assert done.stderr == (
        "DVC failed to load some metrics for following revisions: 'workspace'.\n"
    )
    assert done.stdout.splitlines()[1].split() == ["metrics.json", "acc", "0.9", "-", "-"]
    result = api.metrics_diff(proj.root)
    assert result["errors"]["workspace"]["metrics.json"]["type"] == "JSONFileCorruptedError"


def test_params_diff_shows_every_params_file(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    proj.gen({"params.yaml": "train:\n  lr: 0.2\n  epochs: 3\nflag: yes\n"})
    assert out_of(proj, capsys, "params", "diff") == (
        "Path         Param     HEAD    workspace\nparams.yaml  train.lr  0.1     0.2\n"
    )
    everything = out_of(proj, capsys, "params", "diff", "--all")
    rows = [line.split()[:2] for line in everything.splitlines()[1:]]
    assert rows == [
        ["extra/hp.toml", "depth"],
        ["extra/hp.toml", "opt.name"],
        ["p.json", "b.c"],  # only the key the stage lists
        ["params.yaml", "flag"],
        ["params.yaml", "train.epochs"],
        ["params.yaml", "train.lr"],
        ["vars.yaml", "data_dir"],  # a value `${...}` took from a vars file
    ]
    assert ["params.yaml", "flag", "yes", "yes"] in [
        line.split() for line in everything.splitlines()
    ]
    deps = json.loads(out_of(proj, capsys, "params", "diff", "--all", "--deps", "--json"))
    assert sorted(deps) == ["p.json", "params.yaml", "vars.yaml"]
    assert "flag" not in deps["params.yaml"]
    targets = json.loads(
        out_of(proj, capsys, "params", "diff", "--all", "--targets", "p.json", "--json")
    )
    assert targets == {
        "p.json": {
            "a": {"old": 1, "new": 1, "diff": 0},
            "b.c": {"old": 2, "new": 2, "diff": 0},
            "b.d": {"old": "[1, 2]", "new": "[1, 2]"},
        }
    }


def test_params_show(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> None:
    table = out_of(proj, capsys, "params", "show", "params.yaml")
    assert table.splitlines() == [
        "Path         flag    train.epochs    train.lr",
        "params.yaml  yes     3               0.1",
    ]
    data = api.params_show(proj.root, deps_only=True)[""]["data"]
    assert data["p.json"] == {"data": {"b": {"c": 2}}}
    assert data["params.yaml"] == {"data": {"train": {"lr": 0.1, "epochs": 3}}}


def test_cached_metrics_are_read_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = results_project(
        tmp_path / "p",
        {
            "dvc.yaml": "stages:\n  m:\n    cmd: python3 m.py\n    metrics: [m.json]\n",
            "m.py": "open('m.json', 'w').write('{\"acc\": 0.7}')\n",
        },
    )
    assert proj.labrun("repro", "-q").returncode == 0
    commit_all(proj, "ran")
    (proj.root / "m.json").unlink()  # git-ignored and now gone: DVC reads the cache
    assert out_of(proj, capsys, "metrics", "show") == "Path    acc\nm.json  0.7\n"
    states = api.exp_show(proj.root)
    assert states[1]["data"]["metrics"] == {"m.json": {"data": {"acc": 0.7}}}


def test_diffs_need_git(make_project: object) -> None:
    proj = make_project({"params.yaml": "a: 1\n"})  # type: ignore[operator]
    done = proj.labrun("params", "diff")
    assert done.returncode == 255
    assert done.stderr.startswith("ERROR: Only supported for Git repositories.")
    shown = proj.labrun("params", "show", "--json")
    assert json.loads(shown.stdout) == {"": {"data": {"params.yaml": {"data": {"a": 1}}}}}
