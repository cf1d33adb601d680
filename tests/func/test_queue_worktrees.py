"""Queue workers reuse their work trees, yet every entry starts from a fresh tree.

A worker keeps two work trees per project and resets one for each entry (made ready
ahead while the previous entry runs, once that run has had its start; the next claim
takes the entry made ready). Whatever an entry leaves behind (untracked or ignored
files, outputs, edits of tracked files, a failure half-way) must be gone before the
next entry starts, and nothing is left once the worker ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from labrun.experiments.queue.backend import MemoryQueueBackend, open_backend
from labrun.experiments.queue.entry import EntryState, QueueEntry, current_process
from labrun.experiments.queue.local import SqliteQueueBackend
from labrun.experiments.queue.workers import WorkerConfig, run_worker, worker_name
from labrun.experiments.tempdir import ReusableWorktree, clean_leftovers
from labrun.project import Project
from tests.conftest import TmpProject, run_cli

REPO = Path(__file__).resolve().parents[2]

PIPELINE = """\
stages:
  train:
    cmd: python3 probe.py
    deps: [probe.py]
    params: [seed, fail]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""

# what an entry finds when it starts, then traces of every kind for the next entries
PROBE = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))
leftovers = [f for f in ("junk.txt", "ignored/junk.bin", "model.txt") if os.path.exists(f)]
notes = open("notes.txt").read()
open("junk.txt", "w").write("junk")
os.makedirs("ignored", exist_ok=True)
open("ignored/junk.bin", "w").write("x")
open("notes.txt", "a").write("edited\\n")
os.remove("tracked.txt")
open("model.txt", "w").write(str(p["seed"]))
json.dump({"leftovers": leftovers, "notes": notes}, open("metrics.json", "w"))
raise SystemExit(1 if p["fail"] else 0)
"""


@pytest.fixture
def proj(tmp_project: TmpProject) -> TmpProject:
    tmp_project.gen(
        {
            "dvc.yaml": PIPELINE,
            "probe.py": PROBE,
            "params.yaml": "seed: 0\nfail: false\n",
            "notes.txt": "original\n",
            "tracked.txt": "here\n",
            ".gitignore": "ignored/\n",
        }
    )
    tmp_project.commit("baseline")
    return tmp_project


def exps(p: TmpProject) -> dict[str, str]:
    return {name: sha for _bl, items in api.exp_list(p.root).items() for name, sha in items}


def test_each_entry_starts_from_a_fresh_tree(proj: TmpProject) -> None:
    """One worker, four entries, two trees: each tree serves two entries, one fails."""
    for seed, fail in ((1, "false"), (2, "true"), (3, "false"), (4, "false")):
        name = f"e{seed}"
        res = proj.labrun(
            "exp", "run", "--queue", "-n", name, "-S", f"seed={seed}", "-S", f"fail={fail}"
        )
        assert res.returncode == 0, res.stderr
    run = proj.labrun("exp", "run", "--run-all", "-j", "1")
    assert run.returncode == 0, run.stderr
    states = {e.name: e.state for e in api.queue_status(proj.root)}
    assert states == {"e1": "succeeded", "e2": "failed", "e3": "succeeded", "e4": "succeeded"}
    done = exps(proj)
    assert set(done) == {"e1", "e3", "e4"}
    for name in ("e1", "e3", "e4"):
        sha = done[name]
        found = json.loads(proj.git("show", f"{sha}:metrics.json"))
        assert found == {"leftovers": [], "notes": "original\n"}, name
        assert proj.git("show", f"{sha}:notes.txt") == "original\nedited\n"
        assert "tracked.txt" not in proj.git("ls-tree", "--name-only", sha).split()
        assert "junk.txt" not in proj.git("ls-tree", "--name-only", sha).split()
    standalone = proj.root / ".dvc" / "tmp" / "exps" / "standalone"
    assert not standalone.exists() or os.listdir(standalone) == []
    assert len(proj.git("worktree", "list").splitlines()) == 1
    assert proj.git("status", "--porcelain") == ""


def test_untracked_files_are_reported_in_the_log(proj: TmpProject) -> None:
    proj.labrun("exp", "run", "--queue", "-n", "one", "-S", "seed=5")
    assert proj.labrun("exp", "run", "--run-all").returncode == 0
    log = proj.labrun("queue", "logs", "one").stdout
    warning = log[log.index("The following untracked files") :]
    listed = [line.strip() for line in warning.splitlines()[1:] if line.startswith("\t")]
    assert listed == ["junk.txt"]  # not the ignored file, not what the commit added


def test_an_entry_whose_pipeline_cannot_load_fails_alone(proj: TmpProject) -> None:
    (proj.root / "dvc.yaml").write_text("stages:\n  train:\n    cmd: [unclosed\n")
    assert proj.labrun("exp", "run", "--queue", "-n", "broken").returncode == 0
    proj.git("checkout", "dvc.yaml")
    proj.labrun("exp", "run", "--queue", "-n", "fine", "-S", "seed=6")
    run = proj.labrun("exp", "run", "--run-all")
    assert run.returncode == 0
    assert {e.name: e.state for e in api.queue_status(proj.root)} == {
        "broken": "failed",
        "fine": "succeeded",
    }
    log = proj.labrun("queue", "logs", "broken").stdout
    assert "Running queued experiment 'broken'" in log and "'./dvc.yaml' is invalid" in log


def test_a_copied_project_runs_its_queue_where_it_is_now(proj: TmpProject) -> None:
    """Entries record the root they were queued in; a copy (with its queue) runs in the copy."""
    import shutil

    for seed in (7, 8):
        proj.labrun("exp", "run", "--queue", "-n", f"c{seed}", "-S", f"seed={seed}")
    copy = proj.root.parent / (proj.root.name + "-copy")
    shutil.copytree(proj.root, copy, symlinks=True)
    run = run_cli(("exp", "run", "--run-all", "-j", "2"), copy)
    assert run.returncode == 0, run.stderr
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:short)", "refs/exps"],
        cwd=copy,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert sorted(ref.rsplit("/", 1)[1] for ref in listed) == ["c7", "c8"]
    assert exps(proj) == {}  # nothing ran in (or was written into) the original
    assert {e.name: e.state for e in api.queue_status(proj.root)} == {
        "c7": "queued",
        "c8": "queued",
    }


# --- the reusable work tree itself ----------------------------------------------------


def _commit(proj: TmpProject, files: dict[str, Any], message: str) -> str:
    proj.gen(files)
    proj.commit(message)
    return proj.git("rev-parse", "HEAD").strip()


def _files(root: Path) -> set[str]:
    found: set[str] = set()
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        found.update(os.path.relpath(os.path.join(base, n), root) for n in names)
    return found - {".git"}


def test_reusable_worktree_resets_to_exactly_the_commit(proj: TmpProject) -> None:
    first = proj.git("rev-parse", "HEAD").strip()
    second = _commit(proj, {"params.yaml": "seed: 9\nfail: false\n", "new.txt": "n\n"}, "two")
    project = Project.find(str(proj.root))
    tree = ReusableWorktree(project, "w1@host")
    temp = Path(tree.checkout(first).root)
    assert temp.name == "tmp-w1-host"
    fresh = _files(temp)
    memo = temp / ".dvc" / "tmp" / "labrun" / "hashes.db"
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text("memo")
    (temp / "junk.txt").write_text("junk")
    (temp / "ignored").mkdir()
    (temp / "ignored" / "deep.bin").write_text("x")
    (temp / "notes.txt").write_text("edited\n")
    (temp / "tracked.txt").unlink()
    subprocess.run(["git", "add", "junk.txt"], cwd=temp, check=True)  # even staged
    again = Path(tree.checkout(second).root)
    assert again == temp
    assert _files(temp) == (fresh | {"new.txt", ".dvc/tmp/labrun/hashes.db"})
    assert memo.read_text() == "memo"  # the hash memo is kept: its rows stay true
    assert (temp / "notes.txt").read_text() == "original\n"
    assert (temp / "params.yaml").read_text() == "seed: 9\nfail: false\n"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=temp, capture_output=True, text=True, check=True
    )
    assert head.stdout.strip() == second
    tree.remove()
    assert not temp.exists() and not Path(str(temp) + ".lock").exists()
    assert len(proj.git("worktree", "list").splitlines()) == 1


def test_the_local_config_is_written_again_only_when_it_changed(proj: TmpProject) -> None:
    head = proj.git("rev-parse", "HEAD").strip()
    project = Project.find(str(proj.root))
    tree = ReusableWorktree(project, "w1")
    temp = tree.checkout(head)
    local = Path(temp.root) / ".dvc" / "config.local"
    tree.configure(project, temp)
    assert str(project.config.cache_dir) in local.read_text()
    written = local.stat().st_mtime_ns, local.stat().st_ino
    temp = tree.checkout(head)  # kept through the reset, and not written again
    tree.configure(project, temp)
    assert (local.stat().st_mtime_ns, local.stat().st_ino) == written
    (proj.root / ".dvc" / "config.local").write_text("[core]\n    autostage = true\n")
    project = Project.find(str(proj.root))
    tree.configure(project, tree.checkout(head))
    assert "autostage = true" in local.read_text()
    local.write_text("edited by a run\n")
    tree.configure(project, tree.checkout(head))
    assert "autostage = true" in local.read_text()
    tree.remove()


def test_a_broken_or_deleted_tree_is_made_again(proj: TmpProject) -> None:
    head = proj.git("rev-parse", "HEAD").strip()
    tree = ReusableWorktree(Project.find(str(proj.root)), "w1")
    temp = Path(tree.checkout(head).root)
    (temp / ".git").unlink()  # not a worktree any more
    assert (Path(tree.checkout(head).root) / "probe.py").exists()
    subprocess.run(["rm", "-rf", str(temp)], check=True)  # deleted by hand: Git still records it
    assert (Path(tree.checkout(head).root) / "probe.py").exists()
    assert clean_leftovers(Project.find(str(proj.root))) == []  # in use: `exp clean` leaves it
    assert temp.exists()
    tree.remove()
    assert len(proj.git("worktree", "list").splitlines()) == 1


# --- the worker's hooks ----------------------------------------------------------------


class HookedRunner:
    """A runner with the worker's hooks, recording the calls the worker makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def prepare(self, entry: QueueEntry, worker: str) -> None:
        self.calls.append(("prepare", entry.name))
        if entry.spec.get("unpreparable"):
            raise OSError("no space left on device")

    def prepare_ahead(self, entry: QueueEntry | None, worker: str) -> None:
        self.calls.append(("ahead", entry.name if entry is not None else None))

    def close(self) -> None:
        self.calls.append(("close", None))

    def __call__(self, entry: QueueEntry, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
        return {"name": entry.name}


def test_worker_hooks_prepare_ahead_in_claim_order(tmp_path: Path) -> None:
    queue = MemoryQueueBackend()
    queue.put(QueueEntry("a", name="a"))
    queue.put(QueueEntry("b", name="b", spec={"unpreparable": True}))
    queue.put(QueueEntry("c", name="c"))
    queue.put(QueueEntry("d", name="d", priority=5))
    runner = HookedRunner()
    config = WorkerConfig(str(tmp_path / "queue"), poll=0.05, ahead_delay=0)
    assert run_worker(queue, runner, "w1@host", config) == 4
    assert runner.calls == [
        ("prepare", "d"),
        ("ahead", "a"),
        ("prepare", "a"),
        ("ahead", "b"),
        ("prepare", "b"),  # fails: no run, so nothing to prepare ahead during it
        ("prepare", "c"),
        ("ahead", None),
        ("close", None),
    ]
    failed = queue.get("b")
    assert failed is not None and failed.state == EntryState.FAILED
    assert failed.result == {
        "error": "the run could not be prepared: OSError: no space left on device"
    }
    log = (tmp_path / "queue" / "logs" / "b.log").read_text()
    assert "could not be prepared" in log
    assert {e.name: e.state for e in queue.iter_entries()} == {
        "a": "succeeded",
        "b": "failed",
        "c": "succeeded",
        "d": "succeeded",
    }


class TimedRunner(HookedRunner):
    """Runs last ``secs`` seconds; the hooks record when the worker called them."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[tuple[str, str | None], float] = {}

    def prepare(self, entry: QueueEntry, worker: str) -> None:
        super().prepare(entry, worker)
        self.times["prepare", entry.name] = time.monotonic()

    def prepare_ahead(self, entry: QueueEntry | None, worker: str) -> None:
        super().prepare_ahead(entry, worker)
        self.times["ahead", entry.name if entry is not None else None] = time.monotonic()

    def __call__(self, entry: QueueEntry, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
        time.sleep(entry.spec.get("secs", 0))
        if entry.spec.get("retry"):  # an old entry is queued again, at its old place
            queue = open_backend(entry.spec["queue"])
            queue.retry([entry.spec["retry"]])
            queue.close()
        return {"name": entry.name}


def test_the_next_entry_is_readied_once_the_run_had_a_head_start(tmp_path: Path) -> None:
    """A run shorter than the delay never shares its start with ``prepare_ahead``."""
    queue = MemoryQueueBackend()
    queue.put(QueueEntry("s", name="short"))
    queue.put(QueueEntry("l", name="long", spec={"secs": 1.0}))
    queue.put(QueueEntry("t", name="last"))
    runner = TimedRunner()
    config = WorkerConfig(str(tmp_path / "queue"), poll=0.05, ahead_delay=0.5)
    assert run_worker(queue, runner, "w1@host", config) == 3
    assert runner.calls == [
        ("prepare", "short"),  # no ahead: the run was over before its delay
        ("prepare", "long"),
        ("ahead", "last"),
        ("prepare", "last"),
        ("close", None),
    ]
    assert runner.times["ahead", "last"] - runner.times["prepare", "long"] >= 0.5


def test_a_claim_takes_the_entry_made_ready_even_out_of_turn(tmp_path: Path) -> None:
    """While "a" runs, "b" is made ready; "old", queued again meanwhile before it, waits."""
    queue = SqliteQueueBackend(tmp_path / "queue.db")
    queue.put(QueueEntry("old", name="old"))
    stale = queue.claim(current_process(), [])
    assert stale is not None and queue.finish(stale, EntryState.FAILED, {})
    retry = {"secs": 0.5, "retry": "old", "queue": queue.url}
    queue.put(QueueEntry("a", name="a", spec=retry))
    queue.put(QueueEntry("b", name="b"))
    runner = TimedRunner()
    config = WorkerConfig(str(tmp_path / "queue"), poll=0.05, ahead_delay=0)
    assert run_worker(queue, runner, "w1@host", config) == 3
    prepared = [name for hook, name in runner.calls if hook == "prepare"]
    assert prepared == ["a", "b", "old"]
    assert ("ahead", "b") in runner.calls
    queue.close()


FORKING = """\
import gc, sys
sys.path[:0] = [{repo!r}, {here!r}]
from labrun.experiments.queue.entry import QueueEntry
from labrun.experiments.queue.local import SqliteQueueBackend
from labrun.experiments.queue.workers import ForkedWorker, Supervisor, WorkerConfig

queue = SqliteQueueBackend({db!r})
for i in range(4):
    queue.put(QueueEntry(f"e{{i}}", spec={{"record": {record!r}, "ticks": 2, "step": 0.01}}))
config = WorkerConfig({queue_dir!r}, poll=0.05)
sup = Supervisor(queue, "qrunners:ticking", config)
assert sup.start(2, detach=False, fork=True) == 2
assert all(isinstance(p, ForkedWorker) for p in sup.processes.values())
assert sup.wait(timeout=60)
assert [p.returncode for p in sup.processes.values()] == [0, 0]
assert gc.get_freeze_count() > 0  # what the workers were forked with is out of the collector's way
print(sorted(e.state for e in sup.backend.iter_entries()))
"""


def test_attached_workers_can_be_forked_from_the_caller(tmp_path: Path) -> None:
    from tests.func.test_queue_workers import RUNNERS

    (tmp_path / "qrunners.py").write_text(RUNNERS)
    script = FORKING.format(
        repo=str(REPO),
        here=str(tmp_path),
        db=str(tmp_path / "queue.db"),
        record=str(tmp_path / "record.txt"),
        queue_dir=str(tmp_path / "queue"),
    )
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(["succeeded"] * 4)
    logs = sorted(p.name for p in (tmp_path / "queue" / "workers").iterdir())
    assert logs == [f"{worker_name(1)}.log", f"{worker_name(2)}.log"]


# --- what a worker prepares for its runners ---------------------------------------------

STAGED = """\
stages:
  prepare:
    cmd: cp data.txt prepared.txt
    deps: [data.txt]
    outs: [prepared.txt]
  train:
    cmd: cat prepared.txt params.yaml > model.txt
    deps: [prepared.txt]
    params: [seed]
    outs: [model.txt]
"""


@pytest.fixture
def staged(tmp_project: TmpProject) -> TmpProject:
    """Two entries queued on a reproduced two-stage pipeline ("prepare" is cached)."""
    tmp_project.gen({"dvc.yaml": STAGED, "data.txt": "data\n", "params.yaml": "seed: 0\n"})
    tmp_project.commit("baseline")
    assert tmp_project.labrun("repro").returncode == 0
    tmp_project.commit("reproduced")
    for seed in (1, 2):
        res = tmp_project.labrun("exp", "run", "--queue", "-n", f"s{seed}", "-S", f"seed={seed}")
        assert res.returncode == 0, res.stderr
    return tmp_project


def test_outputs_too_big_to_check_out_ahead_are_checked_out_after_the_claim(
    staged: TmpProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree made ready ahead is kept (no second reset); only its outputs are added."""
    from labrun.experiments.queue import service

    entries = {e.name: e for e in api.queue_status(staged.root)}
    monkeypatch.setattr(service, "AHEAD_BYTES", 0)
    trees = service.QueueWorkTrees()
    trees.prepare(entries["s1"], "w1")
    assert trees.ready is not None
    first = Path(trees.ready.temp.root)
    trees.prepare_ahead(entries["s2"], "w1")
    assert trees.ahead is not None and trees.ahead.outputs is False
    ahead = Path(trees.ahead.temp.root)
    assert ahead != first and not (ahead / "prepared.txt").exists()
    trees.prepare(entries["s2"], "w1")
    assert trees.ready is not None and Path(trees.ready.temp.root) == ahead
    assert trees.ready.outputs and (ahead / "prepared.txt").read_text() == "data\n"
    assert (ahead / "params.yaml").read_text() == "seed: 2\n"
    trees.close()
    assert not first.exists() and not ahead.exists()


def test_run_all_with_two_workers_leaves_no_tree(staged: TmpProject) -> None:
    run = staged.labrun("exp", "run", "--run-all", "-j", "2")
    assert run.returncode == 0, run.stderr
    states = {e.name: e.state for e in api.queue_status(staged.root)}
    assert states == {"s1": "succeeded", "s2": "succeeded"}
    for name, sha in exps(staged).items():
        assert staged.git("show", f"{sha}:params.yaml") == f"seed: {name[1]}\n"
    standalone = staged.root / ".dvc" / "tmp" / "exps" / "standalone"
    assert not standalone.exists() or os.listdir(standalone) == []
    assert len(staged.git("worktree", "list").splitlines()) == 1


PRELOADED = """\
import sys
sys.path.insert(0, {repo!r})
from labrun import api
from labrun.experiments.queue.service import QueueWorkTrees
from labrun.repro.events import NullReporter

entry = next(e for e in api.queue_status({root!r}) if e.name == "s1")
trees = QueueWorkTrees()  # in the worker, when it loads the runner
trees.prepare(entry, "w1")  # in the worker, before it forks the runner
before = set(sys.modules)
print(trees.execute(entry, (), NullReporter()).name)  # what the runner does
trees.close()
print(sorted(m for m in set(sys.modules) - before if m.startswith("labrun")))
"""


def test_a_run_needs_nothing_its_worker_did_not_load(staged: TmpProject) -> None:
    """Every runner is forked from its worker: what it loads itself, each one loads again."""
    script = PRELOADED.format(repo=str(REPO), root=str(staged.root))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=staged.root
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["s1", "[]"]
