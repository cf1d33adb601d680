"""Checkpoint experiments: the signal protocol, chains of commits, resume, interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TmpProject, labrun_command

TRAIN_PY = """\
import json, os, sys, time
from labrun.api import make_checkpoint

params = dict(line.split(": ") for line in open("params.yaml").read().splitlines())
n = int(open("model.txt").read()) if os.path.exists("model.txt") else 0
for _ in range(int(params["epochs"])):
    n += 1
    open("model.txt", "w").write(str(n))
    json.dump({"step": n, "lr": float(params["lr"])}, open("metrics.json", "w"))
    if os.environ.get("STOP_AT") == str(n):
        open("reached", "w").write(str(n))
        time.sleep(60)
    make_checkpoint()
"""

TRAIN_SH = """\
n=0; [ -f model.txt ] && n=$(cat model.txt)
for i in 1 2 3; do
  n=$((n+1)); echo $n > model.txt; echo "{\\"step\\": $n}" > metrics.json
  if [ -n "$DVC_CHECKPOINT" ]; then
    touch "$DVC_ROOT/.dvc/tmp/DVC_CHECKPOINT"
    while [ -e "$DVC_ROOT/.dvc/tmp/DVC_CHECKPOINT" ]; do sleep 0.05; done
  fi
done
"""


def pipeline(cmd: str) -> str:
    return f"""\
stages:
  train:
    cmd: {cmd}
    deps: [train.py]
    params: [lr, epochs]
    outs:
      - model.txt:
          checkpoint: true
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def proj(tmp_project: TmpProject) -> TmpProject:
    tmp_project.gen(
        {
            "train.py": TRAIN_PY,
            "params.yaml": "lr: 0.1\nepochs: 3\n",
            "dvc.yaml": pipeline(f"{sys.executable} train.py"),
        }
    )
    tmp_project.commit("baseline")
    return tmp_project


def refs(p: TmpProject) -> dict[str, str]:
    out = p.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
    found = {}
    for line in out.splitlines():
        ref, sha = line.split()
        if ref.count("/") == 4 and "/exec/" not in ref and "/apply/" not in ref:
            found[ref.rsplit("/", 1)[1]] = sha
    return found


def chain(p: TmpProject, sha: str) -> list[str]:
    """Commits from the tip down to (excluding) the baseline."""
    base = p.git("rev-parse", "HEAD").strip()
    return p.git("rev-list", "--first-parent", sha, f"^{base}").split()


def model_at(p: TmpProject, sha: str) -> str:
    import yaml

    lock = yaml.safe_load(p.git("show", f"{sha}:dvc.lock"))
    (md5,) = [o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "model.txt"]
    obj = p.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    return obj.read_text().strip()


def test_python_script_three_checkpoints_then_resume(proj: TmpProject) -> None:
    res = proj.labrun("exp", "run", "-n", "ck")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Checkpoint experiment iteration '") == 3
    tip = refs(proj)["ck"]
    commits = chain(proj, tip)
    assert len(commits) == 4  # three checkpoints and the final commit
    assert [model_at(proj, c) for c in reversed(commits)] == ["1", "2", "3", "3"]
    again = proj.labrun("exp", "run")
    assert again.returncode == 0, again.stderr
    assert "Existing checkpoint experiment 'ck' will be resumed" in again.stdout
    assert (proj.root / "model.txt").read_text() == "6"
    assert set(refs(proj)) == {"ck"}
    assert model_at(proj, refs(proj)["ck"]) == "6"
    assert len(chain(proj, refs(proj)["ck"])) == 8


def test_force_starts_over_and_rev_resumes_a_chosen_checkpoint(proj: TmpProject) -> None:
    proj.labrun("exp", "run", "-n", "ck")
    first = list(reversed(chain(proj, refs(proj)["ck"])))
    forced = proj.labrun("exp", "run", "-f", "-n", "again")
    assert forced.returncode == 0, forced.stderr
    assert (proj.root / "model.txt").read_text() == "3"  # epochs 1-3 again, from scratch
    assert model_at(proj, refs(proj)["again"]) == "3"
    second = first[1]  # checkpoint 2
    res = proj.labrun("exp", "run", "-r", second, "-n", "from2")
    assert res.returncode == 0, res.stderr
    assert model_at(proj, refs(proj)["from2"]) == "5"  # 2 + three more epochs
    assert second in chain(proj, refs(proj)["from2"])
    assert refs(proj)["ck"] == first[-1]  # the original chain is untouched


def test_changed_param_on_resume_branches_a_new_experiment(proj: TmpProject) -> None:
    proj.labrun("exp", "run", "-n", "ck")
    tip = refs(proj)["ck"]
    proj.gen({"params.yaml": "lr: 0.2\nepochs: 3\n"})
    res = proj.labrun("exp", "run", "-n", "branched")
    assert res.returncode == 0, res.stderr
    assert "Modified checkpoint experiment based on 'ck' will be created" in res.stdout
    new = refs(proj)["branched"]
    assert tip in chain(proj, new) and refs(proj)["ck"] == tip
    assert json.loads((proj.root / "metrics.json").read_text()) == {"step": 6, "lr": 0.2}


def test_shell_script_with_raw_signal_file(proj: TmpProject) -> None:
    proj.gen({"train.sh": TRAIN_SH, "dvc.yaml": pipeline("sh train.sh")})
    proj.commit("shell")
    res = proj.labrun("exp", "run", "-n", "sh")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Checkpoint experiment iteration") == 3
    assert len(chain(proj, refs(proj)["sh"])) == 4
    assert proj.labrun("exp", "resume").returncode == 0  # the original command name
    assert (proj.root / "model.txt").read_text().strip() == "6"


def test_ctrl_c_keeps_the_checkpoints_and_resume_continues(proj: TmpProject) -> None:
    env = {**os.environ, "STOP_AT": "3"}
    proc = subprocess.Popen(
        [*labrun_command(), "exp", "run", "-n", "intr"],
        cwd=proj.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    while not (proj.root / "reached").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Checkpoint stage 'train' was interrupted" in err
    commits = chain(proj, refs(proj)["intr"])
    assert out.count("Checkpoint experiment iteration") == 2
    assert model_at(proj, commits[-2]) == "2"  # the last checkpoint before the interruption
    (proj.root / "reached").unlink()
    res = proj.labrun("exp", "run")
    assert res.returncode == 0, res.stderr
    assert "Existing checkpoint experiment 'intr' will be resumed" in res.stdout


def test_failure_before_any_checkpoint_is_an_ordinary_failure(proj: TmpProject) -> None:
    proj.gen({"dvc.yaml": pipeline("exit 4")})
    proj.commit("broken")
    res = proj.labrun("exp", "run", "-n", "bad")
    assert res.returncode == 255
    assert refs(proj) == {}


def test_repro_runs_checkpoint_stages_without_signals_and_keeps_the_output(
    proj: TmpProject,
) -> None:
    (proj.root / "model.txt").write_text("10")
    res = proj.labrun("repro")
    assert res.returncode == 0, res.stderr
    assert (proj.root / "model.txt").read_text() == "13"  # not deleted before the run
    assert refs(proj) == {}


def test_make_checkpoint_is_a_no_op_outside_experiments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labrun.api import make_checkpoint

    monkeypatch.delenv("DVC_CHECKPOINT", raising=False)
    monkeypatch.chdir(tmp_path)
    make_checkpoint()  # returns at once, creates nothing
    assert list(tmp_path.iterdir()) == []


TRAIN_ONCE_STUCK = """\
import json, os, time
from labrun.api import make_checkpoint

n = int(open("model.txt").read()) if os.path.exists("model.txt") else 0
for _ in range(3):
    n += 1
    open("model.txt", "w").write(str(n))
    json.dump({"step": n}, open("metrics.json", "w"))
    stop = os.environ.get("STOP_FILE")
    if n == 3 and stop and not os.path.exists(stop):
        open(stop, "w").write(str(os.getpid()))
        time.sleep(120)  # the worker is killed here
    make_checkpoint()
"""


def test_queued_checkpoint_experiment_resumes_after_its_worker_dies(
    proj: TmpProject, tmp_path: Path
) -> None:
    from labrun import api

    proj.gen({"train.py": TRAIN_ONCE_STUCK})
    proj.commit("stuck once")
    stop = tmp_path / "stuck"
    api.exp_queue(proj.root, api.ExpRunOptions(name="qck"))
    env = {**os.environ, "STOP_FILE": str(stop)}
    worker = subprocess.Popen(
        [*labrun_command(), "queue", "start"], cwd=proj.root, env=env, start_new_session=True
    )
    worker.wait(timeout=60)
    deadline = time.monotonic() + 90
    while not stop.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    (running,) = [e for e in api.queue_status(proj.root) if e.state == "running"]
    assert running.worker is not None
    os.kill(running.worker.pid, signal.SIGKILL)  # the machine "crashes" under the worker
    deadline = time.monotonic() + 30
    while any(e.state == "running" for e in api.queue_status(proj.root)):
        assert time.monotonic() < deadline  # seen as an orphan, queued again
        time.sleep(0.2)
    first = refs(proj)["qck"]
    assert len(chain(proj, first)) == 2  # checkpoints 1 and 2 were recorded before the crash
    res = proj.labrun("exp", "run", "--run-all")
    assert res.returncode == 0, res.stderr
    (entry,) = api.queue_status(proj.root)
    assert entry.state == "succeeded" and entry.attempts == 2
    tip = refs(proj)["qck"]
    assert first in chain(proj, tip)  # resumed on the same chain
    assert model_at(proj, tip) == "5"  # 2 + three more epochs, not a restart


def test_checkpoints_in_temp_and_queued_runs(proj: TmpProject) -> None:
    from labrun import api

    res = proj.labrun("exp", "run", "--temp", "-n", "tmpck")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Checkpoint experiment iteration") == 3
    assert len(chain(proj, refs(proj)["tmpck"])) == 4
    assert not (proj.root / "model.txt").exists()  # the workspace was not touched
    assert "EXEC_CHECKPOINT" not in proj.git("for-each-ref")  # temp runs never auto-resume
    api.exp_queue(proj.root, api.ExpRunOptions(name="qck", set_params=("lr=0.3",)))
    res = proj.labrun("exp", "run", "--run-all")
    assert res.returncode == 0, res.stderr
    assert model_at(proj, refs(proj)["qck"]) == "3"  # from scratch (a queued run resets)
    log = proj.labrun("queue", "logs", "qck").stdout
    assert log.count("Checkpoint experiment iteration") == 3
    resumed = proj.labrun("exp", "run", "--temp", "-r", refs(proj)["tmpck"])
    assert resumed.returncode == 0, resumed.stderr
    assert "Existing checkpoint experiment 'tmpck' will be resumed" in resumed.stdout
    assert model_at(proj, refs(proj)["tmpck"]) == "6"


def test_exp_show_draws_checkpoint_chains(proj: TmpProject) -> None:
    proj.labrun("exp", "run", "-n", "ck")
    proj.gen({"params.yaml": "lr: 0.2\nepochs: 3\n"})
    proj.labrun("exp", "run", "-n", "branched")
    table = proj.labrun("exp", "show", "--no-pager").stdout
    lines = [line.strip() for line in table.splitlines()]
    firsts = [line.split()[:3] for line in lines]
    assert ["│", "╓", refs(proj)["branched"][:7]] in firsts
    assert ["│", "╓", refs(proj)["ck"][:7]] in firsts
    assert sum(line.startswith("├─╨") for line in lines) == 1  # only ck reaches the baseline
    branch_point = refs(proj)["ck"][:7]
    assert any(line.startswith("│ ╟") and f"({branch_point})" in line for line in lines)
    data = json.loads(proj.labrun("exp", "show", "--json").stdout)
    chains = {e["name"]: len(e["revs"]) for e in data[1]["experiments"]}
    assert chains == {"ck": 4, "branched": 8}  # every commit of each chain, as in dvc's JSON


TRAIN_THEN_CRASH = """\
import os, signal
from labrun.api import make_checkpoint

for n in (1, 2):
    with open("model.bin", "wb") as out:
        out.write(bytes([n]) * (5 << 20))  # big enough to be streamed into the cache
    make_checkpoint()
os.kill(os.getpgid(0), signal.SIGKILL)  # labrun dies the moment the signal is gone
"""


def big_model_pipeline(cmd: str) -> str:
    return f"stages:\n  train:\n    cmd: {cmd}\n    deps: [train.py]\n    outs:\n" + (
        "      - model.bin:\n          checkpoint: true\n"
    )


def test_a_checkpoint_is_complete_when_the_command_resumes(proj: TmpProject) -> None:
    """Everything of a checkpoint is on disk before its signal goes: a crash loses nothing."""
    import hashlib

    proj.gen(
        {"train.py": TRAIN_THEN_CRASH, "dvc.yaml": big_model_pipeline(f"{sys.executable} train.py")}
    )
    proj.commit("crashing")
    proc = subprocess.Popen(
        [*labrun_command(), "exp", "run", "-n", "crash"],
        cwd=proj.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # labrun leads the group the command kills
    )
    assert proc.wait(timeout=60) == -signal.SIGKILL
    commits = chain(proj, refs(proj)["crash"])
    assert len(commits) == 2  # both checkpoints, no final commit
    for n, sha in zip((2, 1), commits, strict=True):
        import yaml

        lock = yaml.safe_load(proj.git("show", f"{sha}:dvc.lock"))
        md5 = lock["stages"]["train"]["outs"][0]["md5"]
        obj = proj.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        data = obj.read_bytes()
        assert data == bytes([n]) * (5 << 20) and hashlib.md5(data).hexdigest() == md5
        assert obj.stat().st_mode & 0o777 == 0o444  # sealed: published whole
    assert not list((proj.root / ".dvc" / "cache").rglob("*.tmp"))
    (proj.root / "model.bin").unlink()
    assert proj.labrun("exp", "apply", commits[0]).returncode == 0
    assert (proj.root / "model.bin").read_bytes() == bytes([2]) * (5 << 20)


def test_checkpoint_outputs_stay_writable_copies_with_link_cache_types(
    proj: TmpProject,
) -> None:
    """With hardlinks into the cache, the next epoch's write must not edit the cache."""
    (proj.root / ".dvc" / "config").write_text("[cache]\n    type = hardlink\n")
    proj.commit("hardlinks")
    res = proj.labrun("exp", "run", "-n", "hl")
    assert res.returncode == 0, res.stderr
    commits = chain(proj, refs(proj)["hl"])
    assert [model_at(proj, c) for c in reversed(commits)] == ["1", "2", "3", "3"]


def test_each_checkpoint_commits_the_tracked_files_of_its_epoch(proj: TmpProject) -> None:
    """Also a file the user stages while the run goes on (the private index follows theirs)."""
    script = TRAIN_SH.replace(
        'echo "{\\"step\\": $n}" > metrics.json',
        'echo "{\\"step\\": $n}" > metrics.json; '
        "[ $i = 2 ] && echo note > notes.txt && git add notes.txt",
    )
    proj.gen({"train.sh": script, "dvc.yaml": pipeline("sh train.sh")})
    proj.commit("shell")
    index_before = set((proj.root / ".git").iterdir())
    res = proj.labrun("exp", "run", "-n", "files")
    assert res.returncode == 0, res.stderr
    commits = list(reversed(chain(proj, refs(proj)["files"])))
    steps = [json.loads(proj.git("show", f"{c}:metrics.json"))["step"] for c in commits]
    assert steps == [1, 2, 3, 3]
    names = [proj.git("ls-tree", "--name-only", c).split() for c in commits]
    assert ["notes.txt" in n for n in names] == [False, True, True, True]
    assert set((proj.root / ".git").iterdir()) == index_before  # no private index left behind


TRAIN_DIR_SH = """\
n=0; [ -f models/n.txt ] && n=$(cat models/n.txt)
for i in 1 2; do
  n=$((n+1)); mkdir -p models; echo $n > models/n.txt; echo "weights $n" > models/w.txt
  touch "$DVC_ROOT/.dvc/tmp/DVC_CHECKPOINT"
  while [ -e "$DVC_ROOT/.dvc/tmp/DVC_CHECKPOINT" ]; do sleep 0.02; done
done
"""


def test_a_directory_checkpoint_output_is_cached_at_each_checkpoint(proj: TmpProject) -> None:
    dvc_yaml = "stages:\n  train:\n    cmd: sh train.sh\n    deps: [train.sh]\n    outs:\n"
    outs = "      - models:\n          checkpoint: true\n"
    proj.gen({"train.sh": TRAIN_DIR_SH, "dvc.yaml": dvc_yaml + outs})
    proj.commit("dir")
    res = proj.labrun("exp", "run", "-n", "dirs")
    assert res.returncode == 0, res.stderr
    first, second, _final = reversed(chain(proj, refs(proj)["dirs"]))
    for sha, n in ((first, "1"), (second, "2")):
        assert proj.labrun("exp", "apply", sha).returncode == 0
        assert (proj.root / "models" / "n.txt").read_text().strip() == n
        assert (proj.root / "models" / "w.txt").read_text().strip() == f"weights {n}"
