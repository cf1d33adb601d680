"""User stories for `labrun exp run` and the commands over experiment refs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from labrun import api
from labrun.errors import LabrunError
from labrun.fsutil import FileLock
from tests.conftest import TmpProject, labrun_command

PIPELINE = """\
stages:
  prep:
    cmd: cat data.txt > prep.txt
    deps: [data.txt]
    outs: [prep.txt]
  train:
    cmd: >-
      echo "$DVC_EXP_NAME $DVC_EXP_BASELINE_REV $DVC_ROOT" > env.txt &&
      python3 -c "import yaml; lr = yaml.safe_load(open('params.yaml'))['lr'];
      open('metrics.json', 'w').write('{\\"acc\\": %s}' % (lr * 2))"
    deps: [prep.txt]
    params: [lr]
    outs: [env.txt]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def proj(tmp_project: TmpProject) -> TmpProject:
    """A committed two-stage project (no dvc.lock yet)."""
    tmp_project.gen({"dvc.yaml": PIPELINE, "params.yaml": "lr: 0.1 # rate\n", "data.txt": "d\n"})
    tmp_project.commit("baseline")
    return tmp_project


def head(p: TmpProject) -> str:
    return p.git("rev-parse", "HEAD").strip()


def exp_refs(p: TmpProject) -> dict[str, str]:
    out = p.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    pairs = (line.split() for line in out.splitlines())
    return {ref: sha for ref, sha in pairs if "/exec/" not in ref and "/apply/" not in ref}


def ref_of(p: TmpProject, name: str) -> str:
    bl = head(p)
    return f"refs/exps/{bl[:2]}/{bl[2:]}/{name}"


def test_exp_run_records_an_experiment_and_leaves_results(proj: TmpProject) -> None:
    bl = head(proj)
    index_before = (proj.root / ".git" / "index").read_bytes()
    res = proj.labrun("exp", "run", "-n", "first")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Reproducing experiment 'first'\n")
    assert "Ran experiment(s): first\nExperiment results have been applied" in res.stdout
    refs = exp_refs(proj)
    assert list(refs) == [ref_of(proj, "first")]
    sha = refs[ref_of(proj, "first")]
    assert proj.git("rev-parse", f"{sha}^").strip() == bl
    message = proj.git("log", "-1", "--format=%B", sha).strip()
    assert message.startswith("dvc: commit experiment ") and len(message.split()[-1]) == 64
    files = set(proj.git("ls-tree", "-r", "--name-only", sha).split())
    assert {"dvc.lock", "metrics.json", "dvc.yaml", "params.yaml"} <= files
    assert "prep.txt" not in files and ".gitignore" not in files  # cached / generated: not in Git
    # HEAD, branch and index untouched; results stay in the workspace
    assert head(proj) == bl and proj.git("branch", "--show-current").strip() in ("main", "master")
    assert (proj.root / ".git" / "index").read_bytes() == index_before
    assert json.loads((proj.root / "metrics.json").read_text()) == {"acc": 0.2}
    env = (proj.root / "env.txt").read_text().split()
    assert env == ["first", bl, str(proj.root)]


def test_experiment_hash_message_matches_lock_entries(proj: TmpProject) -> None:
    import hashlib

    import yaml

    proj.labrun("exp", "run", "-n", "h")
    stages = yaml.safe_load((proj.root / "dvc.lock").read_text())["stages"]
    digest = hashlib.sha256(json.dumps(stages, sort_keys=True).encode()).hexdigest()
    sha = exp_refs(proj)[ref_of(proj, "h")]
    assert proj.git("log", "-1", "--format=%B", sha).strip() == f"dvc: commit experiment {digest}"


def test_random_names_and_unchanged_runs_still_record(proj: TmpProject) -> None:
    first = api.exp_run(proj.root)
    second = api.exp_run(proj.root)  # nothing changed: still a new experiment (as DVC 3)
    assert first.name != second.name
    assert all("-" in r.name for r in (first, second))
    assert set(exp_refs(proj)) == {first.ref, second.ref}
    assert second.run is not None and set(second.run.outcomes.values()) == {"skipped"}


def test_message_option(proj: TmpProject) -> None:
    proj.labrun("exp", "run", "-n", "m", "-m", "tried a smaller rate")
    sha = exp_refs(proj)[ref_of(proj, "m")]
    assert proj.git("log", "-1", "--format=%B", sha).strip() == "tried a smaller rate"


def test_name_conflict_needs_force(proj: TmpProject) -> None:
    assert proj.labrun("exp", "run", "-n", "dup").returncode == 0
    again = proj.labrun("exp", "run", "-n", "dup")
    assert again.returncode == 255
    assert "Experiment conflicts with existing experiment 'dup'" in again.stderr
    assert proj.labrun("exp", "run", "-n", "dup", "-f").returncode == 0


@pytest.mark.parametrize("bad", ["has space", "a..b", "x/y", "end.lock", "q?"])
def test_invalid_names_are_rejected_before_running(proj: TmpProject, bad: str) -> None:
    res = proj.labrun("exp", "run", "-n", bad)
    assert res.returncode == 255
    assert f"Invalid exp name {bad}" in res.stderr
    assert not (proj.root / "dvc.lock").exists()


def test_failed_stage_leaves_no_experiment(proj: TmpProject) -> None:
    proj.gen({"dvc.yaml": PIPELINE.replace("cat data.txt > prep.txt", "exit 3")})
    proj.commit("broken")
    res = proj.labrun("exp", "run", "-n", "boom")
    assert res.returncode == 255
    assert "failed to reproduce 'prep'" in res.stderr
    assert exp_refs(proj) == {}
    quiet = proj.labrun("exp", "run", "-q", "-n", "boom")
    assert (quiet.returncode, quiet.stdout) == (1, "")  # the original `-q` contract


def test_quiet_run_exits_1_on_any_failure(proj: TmpProject) -> None:
    """The seed's `-q`: 0 when every stage ran or was up to date, otherwise 1 (dvc 3: 255)."""
    bad = proj.labrun("exp", "run", "-S", "missing_key=1")
    assert bad.returncode == 255 and "missing_key" in bad.stderr
    quiet = proj.labrun("exp", "run", "-q", "-S", "missing_key=1")
    assert (quiet.returncode, quiet.stdout) == (1, "")
    assert (proj.root / "params.yaml").read_text() == "lr: 0.1 # rate\n"  # untouched
    assert exp_refs(proj) == {}
    ok = proj.labrun("exp", "run", "-q", "-S", "lr=0.3")
    assert (ok.returncode, ok.stdout) == (0, "")


def test_unknown_git_identity_is_explained(proj: TmpProject, tmp_path: Path) -> None:
    """Git cannot write a commit without an author: one clear error, the results kept."""
    proj.git("config", "--unset", "user.name")
    proj.git("config", "--unset", "user.email")
    home = tmp_path / "empty-home"
    home.mkdir()
    # no guessing from the host name, whatever the machine's (git would on some)
    (home / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "EMAIL"}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", XDG_CONFIG_HOME=str(home))
    res = subprocess.run(
        [*labrun_command(), "exp", "run", "-n", "anon"],
        cwd=proj.root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 255
    error = [line for line in res.stderr.splitlines() if line.startswith("ERROR")]
    assert len(error) == 1 and "git does not know who you are" in error[0], res.stderr
    assert "git config --global user.email" in res.stderr
    assert "Traceback" not in res.stderr
    assert exp_refs(proj) == {}
    assert json.loads((proj.root / "metrics.json").read_text()) == {"acc": 0.2}  # the results


def test_needs_a_commit_and_git(tmp_project: TmpProject, make_project: object) -> None:
    tmp_project.gen({"dvc.yaml": PIPELINE})
    res = tmp_project.labrun("exp", "run")
    assert res.returncode == 255
    assert "Empty Git repo. Add a commit to use experiments." in res.stderr
    assert callable(make_project)
    no_git = make_project({"dvc.yaml": PIPELINE})  # type: ignore[operator]
    res = no_git.labrun("exp", "run")
    assert res.returncode == 255 and "Experiments need a Git repository" in res.stderr


def test_second_run_in_same_workspace_is_refused(proj: TmpProject) -> None:
    lock_path = proj.root / ".dvc" / "tmp" / "labrun" / "exp-workspace.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path):
        res = proj.labrun("exp", "run")
    assert res.returncode == 255
    assert "Another experiment is running in this workspace." in res.stderr
    assert "--temp or --queue" in res.stderr


def test_tracked_changes_and_staged_files_go_into_the_experiment(proj: TmpProject) -> None:
    proj.gen({"data.txt": "changed\n", "notes.md": "staged\n", "scratch.txt": "untracked\n"})
    proj.git("add", "notes.md")
    index_before = (proj.root / ".git" / "index").read_bytes()
    api.exp_run(proj.root, api.ExpRunOptions(name="dirty"))
    sha = exp_refs(proj)[ref_of(proj, "dirty")]
    files = set(proj.git("ls-tree", "-r", "--name-only", sha).split())
    assert "notes.md" in files and "scratch.txt" not in files
    assert proj.git("show", f"{sha}:data.txt") == "changed\n"
    assert (proj.root / ".git" / "index").read_bytes() == index_before


def test_detached_head_and_subdirectory(proj: TmpProject) -> None:
    proj.git("checkout", "-q", "--detach")
    (proj.root / "sub").mkdir()
    res = proj.labrun("exp", "run", "-n", "det", "../dvc.yaml", cwd=proj.root / "sub")
    assert res.returncode == 0, res.stderr
    assert ref_of(proj, "det") in exp_refs(proj)
    assert proj.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"


def test_project_in_a_git_subdirectory(tmp_path: Path) -> None:
    repo = tmp_path / "mono"
    (repo / "proj").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    api.init(repo / "proj", subdir=True)
    sub = TmpProject(repo / "proj")
    sub.gen({"dvc.yaml": PIPELINE, "params.yaml": "lr: 0.1\n", "data.txt": "d\n"})
    sub.commit("baseline")
    for extra in ((), ("--temp",)):
        name = f"sub{len(extra)}"
        res = sub.labrun("exp", "run", "-n", name, *extra)
        assert res.returncode == 0, res.stderr
        sha = exp_refs(sub)[ref_of(sub, name)]
        assert (
            "proj/dvc.lock" in sub.git("ls-tree", "-r", "--full-tree", "--name-only", sha).split()
        )


def test_temp_run_leaves_workspace_alone(proj: TmpProject) -> None:
    proj.gen({"extra.txt": "copied\n"})
    proj.gen({"dvc.yaml": PIPELINE.replace("cat data.txt", "cat data.txt extra.txt")})
    proj.commit("uses an untracked file")
    (proj.root / "extra.txt").write_text("copied\n")
    proj.git("rm", "-q", "--cached", "extra.txt")
    before = sorted(os.listdir(proj.root))
    res = proj.labrun("exp", "run", "--temp", "-n", "tmp", "-C", "extra.txt")
    assert res.returncode == 0, res.stderr
    assert "labrun exp apply tmp" in res.stdout
    assert sorted(os.listdir(proj.root)) == before  # no dvc.lock, metrics or outputs here
    sha = exp_refs(proj)[ref_of(proj, "tmp")]
    assert "metrics.json" in proj.git("ls-tree", "-r", "--name-only", sha).split()
    assert os.listdir(proj.root / ".dvc" / "tmp" / "exps" / "standalone") == []
    assert (
        "worktree" not in proj.git("worktree", "list").splitlines()[-1]
        or len(proj.git("worktree", "list").splitlines()) == 1
    )
    env = proj.git("show", f"{sha}:dvc.lock")
    assert "prep.txt" in env


def test_temp_run_missing_copy_path(proj: TmpProject) -> None:
    res = proj.labrun("exp", "run", "--temp", "-C", "nope.txt")
    assert res.returncode == 255
    assert "Unable to copy 'nope.txt'. It is not a file or directory." in res.stderr


def test_apply_brings_files_back(proj: TmpProject) -> None:
    api.exp_run(proj.root, api.ExpRunOptions(name="a1"))
    proj.gen({"params.yaml": "lr: 0.5\n"})
    api.exp_run(proj.root, api.ExpRunOptions(name="a2"))
    bl = head(proj)
    (proj.root / "scratch.txt").write_text("mine\n")
    res = proj.labrun("exp", "apply", "a1")
    assert res.returncode == 0, res.stderr
    assert (
        res.stdout == "Changes for experiment 'a1' have been applied to your current workspace.\n"
    )
    assert (proj.root / "params.yaml").read_text() == "lr: 0.1 # rate\n"
    assert json.loads((proj.root / "metrics.json").read_text()) == {"acc": 0.2}
    assert (proj.root / "prep.txt").read_text() == "d\n"
    assert (proj.root / "scratch.txt").read_text() == "mine\n"  # not in the experiment: kept
    assert head(proj) == bl
    stash = proj.git("rev-parse", "refs/exps/apply/stash").strip()
    assert proj.git("show", f"{stash}:params.yaml") == "lr: 0.5\n"  # the saved workspace
    checkout = proj.labrun("exp", "checkout", "a2")  # the original name of the command
    assert checkout.returncode == 0
    assert (proj.root / "params.yaml").read_text() == "lr: 0.5\n"
    unknown = proj.labrun("exp", "apply", "nope")
    assert unknown.returncode == 255
    assert "'nope' does not appear to be an experiment commit." in unknown.stderr


def test_branch_list_rename_remove(proj: TmpProject) -> None:
    for name in ("b1", "b2", "b3"):
        api.exp_run(proj.root, api.ExpRunOptions(name=name))
    res = proj.labrun("exp", "branch", "b1")
    assert "Git branch 'b1-branch' has been created from experiment 'b1'." in res.stdout
    assert proj.git("rev-parse", "b1-branch").strip() == exp_refs(proj)[ref_of(proj, "b1")]
    again = proj.labrun("exp", "branch", "b1")
    assert again.returncode == 255 and "Git branch 'b1-branch' already exists." in again.stderr
    listing = proj.labrun("exp", "list").stdout.splitlines()
    assert listing[0].endswith(":") and [line.split()[-1] for line in listing[1:]] == [
        "[b1]",
        "[b2]",
        "[b3]",
    ]
    assert proj.labrun("exp", "ls", "--name-only").stdout.split() == ["b1", "b2", "b3"]
    assert proj.labrun("exp", "rename", "b3", "c3").stdout == "Renamed experiments: 'b3'\n"
    assert ref_of(proj, "c3") in exp_refs(proj)
    clash = proj.labrun("exp", "rename", "c3", "b2")
    assert clash.returncode == 255 and "conflicts with existing experiment 'b2'" in clash.stderr
    out = proj.labrun("exp", "remove", "b1", "b2").stdout
    assert out == "Removed experiments: 'b1' and 'b2'\n"
    missing = proj.labrun("exp", "rm", "zz", "yy")
    assert "'zz; yy' are not valid experiment names" in missing.stderr
    neither = proj.labrun("exp", "remove")
    assert neither.returncode == 255 and "Either provide an experiment argument" in neither.stderr
    assert proj.labrun("exp", "remove", "-A").stdout == "Removed experiments: 'c3'\n"
    assert proj.labrun("exp", "remove", "-A").stdout == "No experiments to remove.\n"


def test_remove_keep_and_rev(proj: TmpProject) -> None:
    api.exp_run(proj.root, api.ExpRunOptions(name="old"))
    proj.commit("second baseline")
    api.exp_run(proj.root, api.ExpRunOptions(name="new"))
    names = proj.labrun("exp", "list", "-A", "--name-only").stdout.split()
    assert sorted(names) == ["new", "old"]
    res = proj.labrun("exp", "remove", "--rev", "HEAD", "--keep")
    assert res.stdout == "Removed experiments: 'old'\n"
    assert proj.labrun("exp", "list", "-A", "--name-only").stdout.split() == ["new"]


def test_save_without_running(proj: TmpProject) -> None:
    api.repro(proj.root)
    proj.gen({"params.yaml": "lr: 0.3\n", "ignored.bin": "x"})
    proj.gen({".gitignore": "ignored.bin\n"})
    res = proj.labrun("exp", "save", "-n", "saved", "-I", "ignored.bin")
    assert res.returncode == 0, res.stderr
    # the lock is re-recorded for the new params (not re-run), as `dvc exp save` prints
    assert res.stdout == "Updating lock file 'dvc.lock'\nExperiment has been saved as: saved\n"
    sha = exp_refs(proj)[ref_of(proj, "saved")]
    files = proj.git("ls-tree", "-r", "--name-only", sha).split()
    assert "ignored.bin" in files
    assert proj.git("show", f"{sha}:params.yaml") == "lr: 0.3\n"
    assert "lr: 0.3" in proj.git("show", f"{sha}:dvc.lock")  # committed as it is, not re-run
    assert json.loads((proj.root / "metrics.json").read_text()) == {"acc": 0.2}
    js = proj.labrun("exp", "save", "--json")
    assert json.loads(js.stdout)["ref"] in exp_refs(proj).values()


def test_clean_removes_dead_temp_dirs(proj: TmpProject) -> None:
    dead = proj.root / ".dvc" / "tmp" / "exps" / "standalone" / "tmpdead"
    dead.mkdir(parents=True)
    (dead / "junk").write_text("x")
    res = proj.labrun("exp", "clean")
    assert res.returncode == 0 and res.stdout.endswith("Done!\n")
    assert not dead.exists()


def test_api_errors_are_labrun_errors(proj: TmpProject) -> None:
    with pytest.raises(LabrunError, match="is not a valid experiment name"):
        api.exp_rename(proj.root, "missing", "x")
    with pytest.raises(LabrunError):
        api.exp_branch(proj.root, "missing")


def test_dvc_can_apply_a_labrun_experiment(proj: TmpProject, tmp_path: Path) -> None:
    """Round trip through plain Git: the experiment ref is an ordinary commit."""
    api.exp_run(proj.root, api.ExpRunOptions(name="plain"))
    sha = exp_refs(proj)[ref_of(proj, "plain")]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(proj.root), str(clone)], check=True)
    subprocess.run(
        ["git", "fetch", "-q", "origin", f"{ref_of(proj, 'plain')}:refs/heads/plain"],
        cwd=clone,
        check=True,
    )
    out = subprocess.run(
        ["git", "rev-parse", "plain"], cwd=clone, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == sha


def test_modified_tracked_data_is_committed_into_the_experiment(tmp_project: TmpProject) -> None:
    p = tmp_project
    p.gen({"raw.csv": "a,b\n1,2\n"})
    api.add(p.root, ["raw.csv"])
    p.gen(
        {
            "dvc.yaml": "stages:\n  count:\n    cmd: wc -l < raw.csv > n.txt\n"
            "    deps: [raw.csv]\n    outs: [n.txt]\n",
        }
    )
    p.commit("data")
    (p.root / "raw.csv").write_text("a,b\n1,2\n3,4\n")
    res = p.labrun("exp", "run", "-n", "more-data")
    assert res.returncode == 0, res.stderr
    sha = exp_refs(p)[ref_of(p, "more-data")]
    dvcfile = p.git("show", f"{sha}:raw.csv.dvc")
    import hashlib

    assert hashlib.md5(b"a,b\n1,2\n3,4\n").hexdigest() in dvcfile
    assert (p.root / "n.txt").read_text().strip() == "3"
