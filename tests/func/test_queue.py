"""User stories for the experiment queue: --queue, sweeps, --run-all, `labrun queue ...`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from labrun import api
from tests.conftest import TmpProject, labrun_command

PIPELINE = """\
stages:
  train:
    cmd: >-
      python3 -c "import os, time, yaml;
      p = yaml.safe_load(open('params.yaml'));
      time.sleep(p['sleep']);
      open('devices.txt', 'w').write(os.environ.get('CUDA_VISIBLE_DEVICES', '-'));
      open('metrics.json', 'w').write('{\\"score\\": %s}' % (p['lr'] * p['seed']))"
      && test "$(cat fail.flag 2>/dev/null)" != "$DVC_EXP_NAME"
    deps: [fail.flag]
    params: [lr, seed, sleep]
    outs: [devices.txt]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def proj(tmp_project: TmpProject) -> TmpProject:
    tmp_project.gen(
        {
            "dvc.yaml": PIPELINE,
            "params.yaml": "lr: 0.1\nseed: 1\nsleep: 0\n",
            "fail.flag": "none\n",
        }
    )
    tmp_project.commit("baseline")
    return tmp_project


def exps(p: TmpProject) -> dict[str, str]:
    return {name: sha for _bl, items in api.exp_list(p.root).items() for name, sha in items}


def metric(p: TmpProject, name: str) -> float:
    sha = exps(p)[name]
    return float(json.loads(p.git("show", f"{sha}:metrics.json"))["score"])


def test_queue_sweep_then_run_all(proj: TmpProject) -> None:
    before = proj.git("status", "--porcelain")
    res = proj.labrun("exp", "run", "--queue", "-S", "lr=1,2", "-S", "seed=range(1,3)", "-n", "sw")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "Queueing with overrides '{'params.yaml': ['lr=1', 'seed=1']}'.",
        "Queued experiment 'sw-1' for future execution.",
        "Queueing with overrides '{'params.yaml': ['lr=1', 'seed=2']}'.",
        "Queued experiment 'sw-2' for future execution.",
        "Queueing with overrides '{'params.yaml': ['lr=2', 'seed=1']}'.",
        "Queued experiment 'sw-3' for future execution.",
        "Queueing with overrides '{'params.yaml': ['lr=2', 'seed=2']}'.",
        "Queued experiment 'sw-4' for future execution.",
    ]
    assert proj.git("status", "--porcelain") == before  # nothing ran, nothing changed
    assert exps(proj) == {}
    status = proj.labrun("queue", "status")
    assert status.stdout.count("Queued") == 4
    run = proj.labrun("exp", "run", "--run-all", "-j", "2")
    assert run.returncode == 0, run.stderr
    assert "Ran experiment(s): " in run.stdout
    assert {n: metric(proj, n) for n in ("sw-1", "sw-2", "sw-3", "sw-4")} == {
        "sw-1": 1.0,
        "sw-2": 2.0,
        "sw-3": 2.0,
        "sw-4": 4.0,
    }
    states = json.loads(proj.labrun("queue", "status", "--json").stdout)
    assert [s["status"] for s in states] == ["Success"] * 4
    assert proj.git("status", "--porcelain") == before  # the workspace was never touched


def test_sweeps_need_queue_and_bad_overrides_queue_nothing(proj: TmpProject) -> None:
    res = proj.labrun("exp", "run", "-S", "lr=1,2")
    assert res.returncode == 255 and "Sweep overrides can't be used without" in res.stderr
    bad = proj.labrun("exp", "run", "--queue", "-S", "nope.key=1")
    assert bad.returncode == 255
    assert api.queue_status(proj.root) == []


def test_sample_picks_points_of_the_grid(proj: TmpProject) -> None:
    args = ("exp", "run", "--queue", "-S", "lr=1,2,3", "-S", "seed=1,2,3")
    res = proj.labrun(*args, "--sample", "4", "--seed", "7")
    assert res.returncode == 0, res.stderr
    first = [e.spec["overrides"] for e in api.queue_status(proj.root)]
    assert len(first) == 4
    api.queue_remove(proj.root, queued=True)
    proj.labrun(*args, "--sample", "4", "--seed", "7")
    assert [e.spec["overrides"] for e in api.queue_status(proj.root)] == first  # reproducible


def test_failed_entry_keeps_its_log_and_can_be_retried(proj: TmpProject) -> None:
    (proj.root / "fail.flag").write_text("bad\n")  # a tracked change, captured at queue time
    proj.labrun("exp", "run", "--queue", "-n", "bad")
    proj.git("checkout", "fail.flag")
    proj.labrun("exp", "run", "--queue", "-n", "good", "-S", "lr=0.5")
    run = proj.labrun("exp", "run", "--run-all")
    assert run.returncode == 0
    assert "Failed to reproduce experiment(s) 'bad'" in run.stderr
    assert set(exps(proj)) == {"good"}
    logs = proj.labrun("queue", "logs", "bad")
    assert "Running stage 'train'" in logs.stdout and "failed to reproduce 'train'" in logs.stdout
    listing = json.loads(proj.labrun("queue", "status", "--json").stdout)
    assert {s["name"]: s["status"] for s in listing} == {"good": "Success", "bad": "Failed"}
    assert api.queue_retry(proj.root, ["bad"])
    assert [e.state for e in api.queue_status(proj.root) if e.name == "bad"] == ["queued"]
    removed = proj.labrun("queue", "remove", "--all")
    assert "Removed tasks in queue:" in removed.stdout
    assert api.queue_status(proj.root) == []
    assert "refs/labrun/queue" not in proj.git("for-each-ref")


def test_background_workers_and_priority(proj: TmpProject) -> None:
    for name, prio in (("low", 0), ("high", 5), ("mid", 2)):
        api.exp_queue(
            proj.root,
            api.ExpRunOptions(name=name, set_params=(f"seed={prio + 1}",)),
            api.QueueOptions(priority=prio),
        )
    res = proj.labrun("queue", "start", "-j", "1")
    assert res.returncode == 0 and "Started '1' new experiments task queue worker." in res.stdout
    deadline = time.monotonic() + 120
    while any(e.state in ("queued", "running") for e in api.queue_status(proj.root)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    order = sorted(api.queue_status(proj.root), key=lambda e: e.started or 0)
    assert [e.name for e in order] == ["high", "mid", "low"]
    assert set(exps(proj)) == {"high", "mid", "low"}
    assert "Worker status: 0 active, 0 idle" in proj.labrun("queue", "status").stdout


def test_gpus_are_shared_out_one_per_experiment(proj: TmpProject) -> None:
    proj.gen({"params.yaml": "lr: 0.1\nseed: 1\nsleep: 1\n"})
    proj.commit("slower")
    for i in range(1, 4):
        api.exp_queue(
            proj.root,
            api.ExpRunOptions(name=f"g{i}", set_params=(f"seed={i}",)),
            api.QueueOptions(gpus=1),
        )
    api.exp_queue(proj.root, api.ExpRunOptions(name="big"), api.QueueOptions(gpus=2))
    res = proj.labrun("exp", "run", "--run-all", "-j", "2", "--gpus", "3,5")
    assert res.returncode == 0, res.stderr
    used = {}
    for e in api.queue_status(proj.root):
        sha = exps(proj)[e.name]
        lock = proj.git("show", f"{sha}:dvc.lock")
        assert e.state == "succeeded"
        used[e.name] = (tuple(e.devices), lock)
    assert used["big"][0] == ("3", "5")
    assert all(len(used[f"g{i}"][0]) == 1 for i in range(1, 4))
    # two experiments at once never share a device
    spans = [(e.started, e.finished, set(e.devices)) for e in api.queue_status(proj.root)]
    for a in spans:
        for b in spans:
            if a is not b and a[0] < b[1] and b[0] < a[1]:
                assert not (a[2] & b[2])


def test_kill_stops_the_whole_pipeline(proj: TmpProject) -> None:
    proj.gen({"params.yaml": "lr: 0.1\nseed: 1\nsleep: 30\n"})
    proj.commit("long")
    api.exp_queue(proj.root, api.ExpRunOptions(name="long"))
    api.queue_start(proj.root, 1)
    deadline = time.monotonic() + 60
    while not any(e.state == "running" for e in api.queue_status(proj.root)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)  # the stage command is running now
    res = proj.labrun("queue", "kill", "long")
    assert res.returncode == 0, res.stderr
    while any(e.state == "running" for e in api.queue_status(proj.root)):
        assert time.monotonic() < deadline + 30
        time.sleep(0.1)
    (entry,) = api.queue_status(proj.root)
    assert entry.state in ("cancelled", "failed")
    assert "long" not in exps(proj)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert "time.sleep(p['sleep'])" not in ps.stdout or str(proj.root) not in ps.stdout


def test_exp_remove_queue_and_queue_run_one(proj: TmpProject) -> None:
    for name in ("a", "b", "c"):
        api.exp_queue(proj.root, api.ExpRunOptions(name=name, set_params=(f"lr={len(name)}",)))
    run = proj.labrun("queue", "run", "b")
    assert run.returncode == 0, run.stderr
    assert set(exps(proj)) == {"b"}
    res = proj.labrun("exp", "remove", "--queue")
    assert res.stdout == "Removed experiments: 'a' and 'c'\n"
    assert [e.name for e in api.queue_status(proj.root)] == ["b"]


def test_names_are_unique_with_queued_entries(proj: TmpProject) -> None:
    proj.labrun("exp", "run", "--queue", "-n", "same")
    again = proj.labrun("exp", "run", "--queue", "-n", "same")
    assert again.returncode == 255
    assert "conflicts with existing experiment 'same'" in again.stderr


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(10))
def test_sigkill_during_run_all_loses_nothing(proj: TmpProject, trial: int) -> None:
    """Kill the foreground runner and its workers at a random moment, then run again."""
    import random

    rng = random.Random(trial)
    proj.gen({"params.yaml": "lr: 0.1\nseed: 1\nsleep: 0.3\n"})
    proj.commit("sleepy")
    names = [f"k{i}" for i in range(4)]
    for name in names:
        api.exp_queue(proj.root, api.ExpRunOptions(name=name, set_params=(f"seed={len(name)}",)))
    proc = subprocess.Popen(
        [*labrun_command(), "exp", "run", "--run-all", "-j", "2"],
        cwd=proj.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(rng.uniform(0.3, 3.0))
    os.killpg(proc.pid, signal.SIGKILL)  # runner, workers and stage commands all at once
    proc.wait()
    _kill_leftovers(proj.root)
    rerun = proj.labrun("exp", "run", "--run-all", "-j", "2")
    assert rerun.returncode == 0, rerun.stderr
    entries = {e.name: e for e in api.queue_status(proj.root)}
    assert set(entries) == set(names)  # none lost
    done = exps(proj)
    for name in names:
        entry = entries[name]
        assert (entry.state == "succeeded") == (name in done), (name, entry.state)
        if entry.state != "succeeded":
            assert entry.state == "failed" and Path(entry.log).exists()


def _kill_leftovers(root: Path) -> None:
    """Workers detached from the killed group (none expected) must not linger either."""
    for entry in api.queue_status(root):
        assert entry.state in ("queued", "running", "succeeded", "failed", "cancelled")


SHARED = """\
stages:
  prep:
    cmd: echo run >> "$DVC_ROOT/prep-runs.log" && sleep 2 && echo data > prep.txt
    params: [prep]
    outs: [prep.txt]
  train:
    cmd: cat prep.txt > model.txt && echo ${lr} >> model.txt
    deps: [prep.txt]
    params: [lr]
    outs: [model.txt]
"""


def test_shared_upstream_stage_runs_once(tmp_project: TmpProject) -> None:
    tmp_project.gen({"dvc.yaml": SHARED, "params.yaml": "prep: 1\nlr: 0.1\n"})
    tmp_project.gen({".gitignore": "prep-runs.log\n"})
    tmp_project.commit("two stages")
    for lr in ("0.2", "0.3"):
        api.exp_queue(tmp_project.root, api.ExpRunOptions(name=f"lr{lr}", set_params=(f"lr={lr}",)))
    res = tmp_project.labrun("exp", "run", "--run-all", "-j", "2")
    assert res.returncode == 0, res.stderr
    assert (tmp_project.root / "prep-runs.log").read_text() == "run\n"  # once, not twice
    assert {e.state for e in api.queue_status(tmp_project.root)} == {"succeeded"}
    logs = [tmp_project.labrun("queue", "logs", f"lr{lr}").stdout for lr in ("0.2", "0.3")]
    assert sum("Stage 'prep' is cached - skipping run" in log for log in logs) == 1
