"""User stories for experiments on a Git remote: `exp push|pull`, `exp list <remote>`,
`exp remove -g`, `exp rename -g`, with real bare repositories and a local DVC remote."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TmpProject

PIPELINE = """\
stages:
  train:
    cmd: >-
      mkdir -p out && cp params.yaml model.txt && cp params.yaml out/p.txt
      && echo same > out/s.txt
    params: [lr]
    outs: [model.txt, out]
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def remote_refs(bare: Path) -> dict[str, str]:
    """name → sha of the experiments in a bare repository."""
    out = git(bare, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    pairs = (line.split() for line in out.splitlines())
    return {ref.rsplit("/", 1)[1]: sha for ref, sha in pairs if "/exec/" not in ref}


def local_refs(p: TmpProject) -> dict[str, str]:
    return remote_refs(p.root)


def objects(cache: Path) -> set[str]:
    """The oids stored under `files/md5` of a cache or remote."""
    base = cache / "files" / "md5"
    if not base.is_dir():
        return set()
    return {d.name + f.name for d in base.iterdir() for f in d.iterdir()}


def ok(p: TmpProject, *args: str) -> subprocess.CompletedProcess[str]:
    done = p.labrun(*args)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def proj(tmp_project: TmpProject, tmp_path: Path) -> TmpProject:
    """A committed project whose default DVC remote is a local directory, with a bare
    repository as Git remote `origin` (holding the baseline) and one experiment."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    store = tmp_path / "store"
    tmp_project.gen({"dvc.yaml": PIPELINE, "params.yaml": "lr: 1\n"})
    config = tmp_project.root / ".dvc" / "config"
    config.write_text(f"[core]\n    remote = store\n['remote \"store\"']\n    url = {store}\n")
    tmp_project.commit("baseline")
    tmp_project.git("remote", "add", "origin", str(bare))
    tmp_project.git("push", "-q", "origin", "HEAD:refs/heads/main")
    ok(tmp_project, "exp", "run", "-q", "-n", "a", "-S", "lr=2")
    return tmp_project


def clone(proj: TmpProject, name: str) -> TmpProject:
    dest = proj.root.parent / name
    git(
        proj.root.parent,
        "clone",
        "-q",
        "-b",
        "main",
        str(proj.root.parent / "remote.git"),
        str(dest),
    )
    git(dest, "config", "user.name", "labrun tests")
    git(dest, "config", "user.email", "tests@labrun.invalid")
    return TmpProject(dest)


def test_push_then_a_fresh_clone_pulls_experiments_with_their_data(proj: TmpProject) -> None:
    bare, store = proj.root.parent / "remote.git", proj.root.parent / "store"
    ok(proj, "exp", "run", "-q", "-n", "b", "-S", "lr=3")
    pushed = ok(proj, "exp", "push", "origin")
    assert pushed.stdout == "Pushed experiment a and b to Git remote 'origin'.\n5 files uploaded\n"
    assert remote_refs(bare) == local_refs(proj)
    assert objects(store) == objects(proj.root / ".dvc" / "cache")
    again = ok(proj, "exp", "push", "origin")
    assert again.stdout == "Experiment a and b are up to date on Git remote 'origin'.\n"

    other = clone(proj, "other")
    pulled = ok(other, "exp", "pull", "origin")
    assert pulled.stdout == "Pulled experiment '['a', 'b']' from Git remote 'origin'.\n"
    assert local_refs(other) == local_refs(proj)
    assert objects(other.root / ".dvc" / "cache") == objects(store)
    shown = json.loads(ok(other, "exp", "show", "--json").stdout)
    names = {r["name"] for e in shown[1]["experiments"] for r in e["revs"]}
    assert names == {"a", "b"}
    assert ok(other, "exp", "list").stdout.splitlines()[1:] == [
        f"\t{local_refs(proj)['a'][:7]} [a]",
        f"\t{local_refs(proj)['b'][:7]} [b]",
    ]
    ok(other, "exp", "apply", "b")  # the outputs come out of the pulled cache
    assert (other.root / "model.txt").read_text() == "lr: 3\n"
    assert ok(other, "exp", "pull", "origin").stdout == "No experiments to pull.\n"


def test_diverged_refs_are_kept_unless_forced(proj: TmpProject) -> None:
    bare = proj.root.parent / "remote.git"
    ok(proj, "exp", "push", "origin", "a")
    other = clone(proj, "other")
    ok(other, "exp", "pull", "origin", "a")
    ok(other, "exp", "run", "-q", "-f", "-n", "a", "-S", "lr=5")  # same name, other commit
    refused = ok(other, "exp", "push", "origin", "a")
    assert refused.stdout == "No experiments to push.\n"
    assert refused.stderr == (
        "Local experiment a has diverged from remote experiment with the same name.\n"
        "To override the remote experiment re-run with '--force'.\n"
    )
    assert remote_refs(bare)["a"] == local_refs(proj)["a"]
    forced = ok(other, "exp", "push", "-f", "origin", "a")
    assert forced.stdout.startswith("Pushed experiment a to Git remote 'origin'.\n")
    assert remote_refs(bare)["a"] == local_refs(other)["a"]

    kept = ok(proj, "exp", "pull", "origin", "a")
    assert kept.stdout == "No experiments to pull.\n"
    assert "Local experiment '['a']' has diverged" in kept.stderr
    assert local_refs(proj)["a"] != local_refs(other)["a"]
    ok(proj, "exp", "pull", "-f", "origin", "a")
    assert local_refs(proj)["a"] == local_refs(other)["a"]
    assert not git(proj.root, "for-each-ref", "refs/labrun/fetch")  # no temporary refs left


def test_selection_names_and_errors(proj: TmpProject) -> None:
    assert ok(proj, "exp", "push", "origin", "--rev", "HEAD~0", "--no-cache").stdout == (
        "Pushed experiment a to Git remote 'origin'.\n"
        "To push cached outputs for this experiment to DVC remote storage,re-run this command "
        "without '--no-cache'.\n"
    )
    unknown = proj.labrun("exp", "push", "origin", "nope", "zz")
    assert (unknown.returncode, unknown.stderr) == (
        255,
        "ERROR: 'nope; zz' are not valid experiment names\n",
    )
    bad = proj.labrun("exp", "push", "nowhere", "a")
    assert (bad.returncode, bad.stderr) == (
        255,
        "ERROR: 'nowhere' is not a valid Git remote or URL\n",
    )
    other = clone(proj, "other")
    assert ok(other, "exp", "push", "origin").stdout == "No experiments to push.\n"
    missing = other.labrun("exp", "pull", "origin", "nope")
    assert (missing.returncode, missing.stderr) == (
        255,
        "ERROR: 'nope' is not a valid experiment name\n",
    )
    by_path = ok(other, "exp", "pull", str(proj.root.parent / "remote.git"), "-A", "--no-cache")
    assert by_path.stdout.startswith("Pulled experiment '['a']' from Git remote '/")


def test_list_remote_experiments(proj: TmpProject) -> None:
    bare = proj.root.parent / "remote.git"
    assert ok(proj, "exp", "list", "origin").stdout == ""
    ok(proj, "exp", "push", "--no-cache", "origin")
    branch = proj.git("branch", "--show-current").strip()
    assert ok(proj, "exp", "list", "origin").stdout == f"{branch}:\n\ta\n"
    assert ok(proj, "exp", "ls", f"file://{bare}", "--name-only").stdout == "a\n"
    assert ok(proj, "exp", "list", str(bare), "-A").stdout == f"{branch}:\n\ta\n"
    proj.git("commit", "-q", "--allow-empty", "-m", "next")  # HEAD moves on: a is older
    assert ok(proj, "exp", "list", "origin").stdout == ""
    assert ok(proj, "exp", "list", "origin", "-n", "2").stdout.endswith(":\n\ta\n")
    sha_only = proj.labrun("exp", "list", "origin", "--sha-only")
    assert (sha_only.returncode, sha_only.stderr) == (
        255,
        "ERROR: --sha-only not supported with git_remote.\n",
    )
    bad = proj.labrun("exp", "list", "nowhere")
    assert (bad.returncode, bad.stderr) == (
        255,
        "ERROR: 'nowhere' is not a valid Git remote or URL\n",
    )


def test_remove_on_the_remote(proj: TmpProject) -> None:
    bare = proj.root.parent / "remote.git"
    ok(proj, "exp", "run", "-q", "-n", "b", "-S", "lr=3")
    ok(proj, "exp", "run", "-q", "-n", "c", "-S", "lr=4")
    ok(proj, "exp", "push", "--no-cache", "origin")
    unknown = proj.labrun("exp", "remove", "-g", "origin", "nope", "b", "zz")
    assert (unknown.returncode, unknown.stderr) == (
        255,
        "ERROR: Experiment 'nope; zz' does not exist in 'origin'\n",
    )
    both = proj.labrun("exp", "remove", "-g", "origin", "--queue")
    assert both.returncode == 254
    assert "argument --queue: not allowed with argument -g/--git-remote" in both.stderr
    assert ok(proj, "exp", "remove", "-g", "origin", "b").stdout == "Removed experiments: 'b'\n"
    assert set(remote_refs(bare)) == {"a", "c"}
    assert set(local_refs(proj)) == {"a", "b", "c"}  # only the remote changes
    kept = ok(proj, "exp", "remove", "-g", "origin", "--rev", "HEAD", "--keep")
    assert kept.stdout == "No experiments to remove.\n"
    gone = ok(proj, "exp", "remove", "-g", "origin", "-A")
    assert gone.stdout == "Removed experiments: 'a' and 'c'\n"
    assert remote_refs(bare) == {}


def test_rename_on_the_remote(proj: TmpProject) -> None:
    bare = proj.root.parent / "remote.git"
    ok(proj, "exp", "run", "-q", "-n", "b", "-S", "lr=3")
    ok(proj, "exp", "push", "--no-cache", "origin")
    sha = local_refs(proj)["a"]
    taken = proj.labrun("exp", "rename", "-g", "origin", "a", "b")
    assert taken.returncode == 255 and "conflicts with existing experiment 'b'" in taken.stderr
    done = ok(proj, "exp", "rename", "-g", "origin", "a", "a2")
    assert done.stdout == "Renamed experiments: 'a'\n"
    assert remote_refs(bare) == {"a2": sha, "b": local_refs(proj)["b"]}
    assert local_refs(proj)["a2"] == sha and "a" not in local_refs(proj)  # local follows

    other = clone(proj, "other")  # has none of the experiment commits
    ok(other, "exp", "rename", "-g", "origin", "b", "b2")
    assert set(remote_refs(bare)) == {"a2", "b2"} and local_refs(other) == {}
    missing = other.labrun("exp", "rename", "-g", "origin", "b", "b3")
    assert (missing.returncode, missing.stderr) == (
        255,
        "ERROR: Experiment 'b' does not exist in 'origin'\n",
    )
    ok(other, "exp", "rename", "-g", "origin", "-f", "a2", "b2")
    assert set(remote_refs(bare)) == {"b2"} and remote_refs(bare)["b2"] == sha


def test_data_needs_a_local_remote_or_nothing_moves(proj: TmpProject) -> None:
    store = proj.root.parent / "store"
    config = proj.root / ".dvc" / "config"
    config.write_text("")  # no DVC remote at all: refs only, silently (as DVC)
    assert (
        ok(proj, "exp", "push", "origin").stdout == "Pushed experiment a to Git remote 'origin'.\n"
    )
    assert not store.exists()
    unknown = proj.labrun("exp", "push", "origin", "-r", "nosuch")
    assert unknown.returncode == 255
    assert unknown.stdout == "Experiment a is up to date on Git remote 'origin'.\n"
    assert (
        unknown.stderr
        == "ERROR: failed to push cache: config file error: remote 'nosuch' doesn't exist\n"
    )
    config.write_text("['remote \"cloud\"']\n    url = s3://bucket/path\n")
    cloud = proj.labrun("exp", "push", "origin", "-r", "cloud")
    assert cloud.returncode == 255 and len(cloud.stderr.splitlines()) == 1
    assert "'cloud' (s3://bucket/path)" in cloud.stderr and "--no-cache" in cloud.stderr
    other = clone(proj, "other")
    pulled = other.labrun("exp", "pull", "origin", "-r", "nosuch")
    assert (pulled.returncode, pulled.stderr) == (
        251,
        "ERROR: configuration error - config file error: remote 'nosuch' doesn't exist\n",
    )
    assert set(local_refs(other)) == {"a"}  # the refs came before the data failed


def test_missing_objects_are_reported_and_run_cache_travels(proj: TmpProject) -> None:
    store, cache = proj.root.parent / "store", proj.root / ".dvc" / "cache"
    ok(proj, "exp", "push", "--run-cache", "origin")
    runs = sorted(
        p.relative_to(cache).as_posix() for p in (cache / "runs").rglob("*") if p.is_file()
    )
    assert runs and runs == sorted(
        p.relative_to(store).as_posix() for p in (store / "runs").rglob("*") if p.is_file()
    )
    ok(proj, "exp", "run", "-q", "-n", "lost", "-S", "lr=9")
    lost = {o for o in objects(cache) if o not in objects(store)}
    for oid in lost:
        os.unlink(cache / "files" / "md5" / oid[:2] / oid[2:])
    warned = ok(proj, "exp", "push", "origin", "lost")
    assert warned.stdout == "Pushed experiment lost to Git remote 'origin'.\n"
    head, *listed = warned.stderr.splitlines()
    assert head == (
        "WARNING: Some of the cache files do not exist neither locally nor on remote. "
        "Missing cache files:"
    )
    assert {line.removeprefix("md5: ") for line in listed} == lost

    other = clone(proj, "other")
    ok(other, "exp", "pull", "--run-cache", "origin", "a")
    assert (other.root / ".dvc" / "cache" / runs[0]).is_file()
