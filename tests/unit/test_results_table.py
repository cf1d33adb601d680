"""The `exp show` table model, diffs of results, and the text renderings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrun.cli import exptable
from labrun.cli.commands.metrics import DiffStyle, diff_text, format_cell, results_table
from labrun.experiments.showjson import RawData, dump_states, materialize
from labrun.experiments.tabulate import (
    Names,
    SortColumnError,
    TableOptions,
    sort_column,
    tabulate,
)
from labrun.repro.compare import diff_files


def data(params: dict[str, Any], metrics: dict[str, Any], stamp: str | None = None) -> Any:
    return {
        "rev": "x",
        "timestamp": stamp,
        "params": {"params.yaml": {"data": params}},
        "metrics": {"m.json": metrics},
        "deps": {"b.py": {"hash": "h2", "size": 1, "nfiles": None}, "a.py": {"hash": None}},
        "outs": {},
        "meta": {},
    }


def exp(sha: str, name: str, params: dict[str, Any], metrics: Any) -> dict[str, Any]:
    state = {"rev": sha, "name": name, "data": data(params, metrics, "2020-01-02T03:04:05")}
    state["error"] = None
    state["experiments"] = None
    return {"revs": [state], "executor": None, "name": name}


SHA = "a" * 40
STATES: list[dict[str, Any]] = [
    {
        "rev": "workspace",
        "name": None,
        "data": data({"lr": 0.5, "opt": {"n": "x"}}, {"error": {"msg": "bad", "type": "E"}}),
        "error": None,
        "experiments": None,
    },
    {
        "rev": SHA,
        "name": "main",
        "data": data(
            {"lr": 0.1, "seed": 7}, {"data": {"acc": 1 / 3, "seed": 1}}, "2020-01-01T20:30:00"
        ),
        "error": None,
        "experiments": [
            exp("b" * 40, "e1", {"lr": 0.2}, {"data": {"acc": 0.5}}),
            exp("c" * 40, "e2", {"lr": 0.3}, {"data": {"acc": 0.25}}),
        ],
    },
]


def test_headers_cells_and_tree_glyphs() -> None:
    table = tabulate(STATES, TableOptions())
    assert table.headers == [
        "Experiment",
        "Created",
        "acc",
        "m.json:seed",  # the same key in two files gets the file name
        "lr",
        "opt.n",
        "params.yaml:seed",
        "a.py",
        "b.py",
    ]
    assert table.kinds[2:5] == ["metrics", "metrics", "params"]
    assert table.rows[0] == ["workspace", "-", "!", "!", "0.5", "x", "-", "-", "h2"]
    assert table.rows[1] == ["main", "Jan 01, 2020", "0.33333", "1", "0.1", "-", "7", "-", "h2"]
    assert table.rows[2][0] == f"├── {'b' * 7} [e1]"
    assert table.rows[3][0] == f"└── {'c' * 7} [e2]"
    assert table.baseline == [True, True, False, False]


def test_csv_layout_keeps_ids_and_full_precision() -> None:
    options = TableOptions(precision=None, fill="", iso=True, merge_id=False)
    table = tabulate(STATES, options)
    assert table.headers[:5] == ["Experiment", "rev", "typ", "Created", "parent"]
    assert table.rows[1][:5] == ["", "main", "baseline", "2020-01-01T20:30:00", ""]
    assert table.rows[1][5] == str(1 / 3)
    assert table.rows[3][:3] == ["e2", "c" * 7, "branch_base"]


def test_keep_drop_and_only_changed() -> None:
    only = tabulate(STATES, TableOptions(only_changed=True))
    assert "b.py" not in only.headers and "lr" in only.headers
    kept = tabulate(STATES, TableOptions(only_changed=True, keep=("b\\.py",)))
    assert "b.py" in kept.headers
    dropped = tabulate(STATES, TableOptions(drop=(".*",), keep=("lr",)))
    assert dropped.headers == ["lr"]
    assert [r[0] for r in dropped.rows] == ["0.5", "0.1", "0.2", "0.3"]


def test_state_and_executor_columns_only_when_used() -> None:
    states = json.loads(json.dumps(STATES))
    states[1]["experiments"][0]["executor"] = {"state": "queued", "name": "dvc-task", "local": None}
    table = tabulate(states, TableOptions())
    assert table.headers[2:4] == ["State", "Executor"]
    assert table.rows[2][2:4] == ["Queued", "Dvc-task"]
    assert table.rows[3][2:4] == ["-", "-"]


def test_sorting_experiments() -> None:
    ordered = tabulate(STATES, TableOptions(sort_by="acc"))
    assert [r[0][-4:] for r in ordered.rows[2:]] == ["[e2]", "[e1]"]
    assert ordered.rows[3][0].startswith("└──")
    names = Names(
        metrics={"m.json": {"acc": None, "seed": None}},
        params={"params.yaml": {"lr": None, "seed": None}},
    )
    assert sort_column("params.yaml:seed", names) == ("params.yaml", "seed", "params")
    assert sort_column(":lr", names) == ("params.yaml", "lr", "params")
    with pytest.raises(SortColumnError, match="Ambiguous sort column 'seed' matched"):
        sort_column("seed", names)
    with pytest.raises(SortColumnError, match="Unknown sort column 'x'"):
        sort_column("x", names)


def test_rows_without_data_and_empty_tables() -> None:
    broken = [{"rev": SHA, "name": None, "data": None, "error": {"msg": "m"}, "experiments": None}]
    table = tabulate(broken, TableOptions())
    assert table.rows == [[SHA[:7], "-"]]
    assert exptable.ruled(table.headers, [], ["left"] * 2) == ""


def test_diffs_compare_python_values() -> None:
    old = {"p.yaml": {"data": {"a": 1, "b": [1, 2], "c": "x", "gone": 1, "t": True}}}
    new = {
        "p.yaml": {"data": {"a": 1.0, "b": [1, 2], "c": "y", "t": 1}},
        "n.json": {"data": {"z": 1}},
    }
    assert diff_files(old, new) == {
        "n.json": {"z": {"old": None, "new": 1}},
        "p.yaml": {"c": {"old": "x", "new": "y"}, "gone": {"old": 1, "new": None}},
    }
    everything = diff_files(old, new, with_unchanged=True)["p.yaml"]
    assert everything["a"] == {"old": 1, "new": 1.0, "diff": 0.0}
    assert everything["b"] == {"old": "[1, 2]", "new": "[1, 2]"}
    assert diff_files({"e": {"error": {"msg": "x"}}}, {"e": {"data": {"k": 2}}}) == {
        "e": {"k": {"old": None, "new": 2}}
    }


def test_raw_rows_are_pasted_byte_identically() -> None:
    text = json.dumps({"params": {"p": {"data": {"ü": "\x00 \\u0000"}}}, "meta": {}})

    def states() -> list[dict[str, Any]]:
        raw = {"rev": "r", "name": "odd \x00 name", "data": RawData("r", "2020", text)}
        plain = {"rev": "s", "name": None, "data": None, "error": None}
        return [{**raw, "error": None, "experiments": [{"revs": [dict(raw)]}]}, plain]

    assert dump_states(states()) == json.dumps(materialize(states()))
    assert json.loads(dump_states(states()))[0]["data"]["params"]["p"]["data"]["ü"] == (
        "\x00 \\u0000"
    )
    assert json.loads(dump_states(states(), indent=2)) == json.loads(dump_states(states()))


def test_text_tables() -> None:
    rows = [["metrics.json", "acc", "0.9", "-"], ["x", "b", "é", "1"]]
    headers = ["Path", "Metric", "HEAD", "workspace"]
    assert exptable.plain(headers, rows) == (
        "Path          Metric    HEAD    workspace\n"
        "metrics.json  acc       0.9     -\n"
        "x             b         é       1"
    )
    assert exptable.markdown(headers, rows).splitlines()[1] == (
        "|--------------|----------|--------|-------------|"
    )
    assert exptable.csv_text(["a", "b"], [["1", "x,y"]]) == 'a,b\r\n1,"x,y"\r\n'
    ruled = exptable.ruled(["Exp", "acc"], [["wide name", "1"]], ["left", "right"])
    assert ruled.splitlines()[1] == "  Exp         acc  "
    assert ruled.splitlines()[3] == "  wide name     1  "


def test_cells_of_metrics_and_diff_tables() -> None:
    assert format_cell(1 / 3, 5, rounding=True) == "0.33333"
    assert format_cell([1 / 3], 2, rounding=True) == "[0.33]"
    assert format_cell({"a": 1 / 3}, 2) == "{'a': '0.33'}"
    results = {"": {"data": {"m.json": {"data": {"b": 1, "a": {"x": [1, 2]}}}, "n": {"data": 5}}}}
    assert results_table(results, 5, with_revision=False) == (
        ["Path", "", "a.x", "b"],
        [["m.json", "-", "[1, 2]", "1"], ["n", "5", "-", "-"]],
    )
    diff = {"m.json": {"acc": {"old": 0.1, "new": 0.30000000000000004, "diff": 0.2}}}
    style = DiffStyle("Metric", ("a", "b"), precision=5, rounding=True)
    assert diff_text(diff, style, markdown=False, no_path=True) == (
        "Metric    a    b    Change\nacc       0.1  0.3  0.2\n"
    )
    assert diff_text({}, style, markdown=False, no_path=False) == ""
