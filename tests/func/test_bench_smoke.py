"""The benchmark suite runs end to end, and its bookkeeping (status, merge, rows) holds.

The smoke test times the real labrun against the real dvc==3.67.1 on the
cheapest scenario, in --quick mode, writing its reports under tmp_path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import merge
from bench.scenarios import SCENARIOS
from bench.session import classify
from bench.table import median_cell, render

REPO = Path(__file__).resolve().parents[2]
DVC = REPO / ".venv-dvc" / "bin" / "dvc"
LABRUN = REPO / ".venv" / "bin" / "labrun"


def _sane(player: dict[str, Any], runs: int) -> None:
    summary = player["summary"]
    assert summary["n"] == runs == len(player["samples"])
    assert 0 < summary["min"] <= summary["median"] <= summary["max"] < 60
    assert all(0 < s["peak_rss_mib"] < 4096 and s["exit_code"] == 0 for s in player["samples"])


@pytest.mark.compat
@pytest.mark.skipif(not DVC.exists(), reason="needs .venv-dvc/bin/dvc (scripts/test.sh)")
@pytest.mark.skipif(not LABRUN.exists(), reason="needs .venv/bin/labrun (scripts/test.sh)")
def test_quick_run_writes_a_row_with_sane_numbers(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    argv = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "-k", "startup-version"]
    argv += ["--out", str(out), "--work", str(tmp_path / "work"), "--no-install"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["sessions"][0]["runs"] == 3
    (row,) = doc["scenarios"]
    assert row["name"] == "startup-version"
    dvc, lab = row["players"]["dvc"], row["players"]["labrun"]
    assert dvc["status"] == "ok" and "3.67.1" in dvc["output_tail"]
    _sane(dvc, 3)
    assert lab["status"] in ("ok", "unsupported"), lab["reason"]
    if lab["status"] == "ok":
        _sane(lab, 3)
        expected = dvc["summary"]["median"] / lab["summary"]["median"]
        assert row["ratio_of_medians"] == pytest.approx(expected)
    assert "| `startup-version`" in out.read_text()


def test_argument_errors_and_unknown_commands_mean_not_supported() -> None:
    usage = "usage: labrun ...\nERROR: argument COMMAND: invalid choice: 'exp'"
    assert classify(254, usage) == ("unsupported", "ERROR: argument COMMAND: invalid choice: 'exp'")
    assert classify(255, "ERROR: unknown command 'queue'")[0] == "unsupported"
    status, reason = classify(255, "ERROR: failed to reproduce 'train'")
    assert (status, reason) == ("error", "exit 255: ERROR: failed to reproduce 'train'")


def _row(name: str, session: int, labrun_status: str = "ok") -> dict[str, Any]:
    ok = {"status": "ok", "reason": "", "summary": {"median": 1.0, "min": 0.9, "max": 1.1,
                                                    "peak_rss_mib": 40.0}}  # fmt: skip
    lab = ok if labrun_status == "ok" else {"status": labrun_status, "reason": "r", "summary": None}
    return {"name": name, "what": "w", "size": "", "session": session, "notes": "",
            "ratio_of_medians": 1.0, "median_pairwise_ratio": 1.0,
            "players": {"dvc": ok, "labrun": lab}}  # fmt: skip


def test_merge_replaces_rows_by_name_and_drops_unused_sessions() -> None:
    meta = {"command": "c", "date": "d", "machine": "m", "dvc_version": "3.67.1",
            "labrun_version": "0", "commit": "x", "runs": 5, "warmup": 1, "sizes": {},
            "load_before": "", "load_after": ""}  # fmt: skip
    order = [s.name for s in SCENARIOS]
    old = {"sessions": [meta, {**meta, "date": "old"}], "profile": "p",
           "scenarios": [_row("stage-list-3", 0), _row("startup-version", 1)]}  # fmt: skip
    new = {"sessions": [{**meta, "date": "new"}], "profile": "",
           "scenarios": [_row("startup-version", 0, "unsupported")]}  # fmt: skip
    doc = merge(old, new, order)
    assert [r["name"] for r in doc["scenarios"]] == ["startup-version", "stage-list-3"]
    assert [s["date"] for s in doc["sessions"]] == ["d", "new"]
    assert [r["session"] for r in doc["scenarios"]] == [1, 0]
    assert doc["profile"] == "p"
    text = render(doc)
    assert "not supported yet by labrun" in text and "**Session 2**" in text
    assert median_cell({"status": "timeout", "summary": None}, "dvc") == "timeout"


def test_file_floor_script_times_every_step(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "bench" / "file_floor.py"
    done = subprocess.run(
        [sys.executable, str(script), "--files", "300", "--runs", "1", "--big-mib", "2",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = [line.split(":")[0].strip() for line in done.stdout.splitlines()[1:]]
    assert summary == ["create", "link", "copy", "cp -r", "md5", "copy+fsync", "both"]
    assert list(tmp_path.iterdir()) == []  # its scratch tree is removed
