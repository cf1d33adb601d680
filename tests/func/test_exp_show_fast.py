"""The fast paths of `exp show --json` give exactly what the plain paths give.

`--json` pastes the row cache's JSON text into the output (`showjson.py`),
finds experiments by reading only the refs of the baselines shown
(`show.exp_tips`), and asks the row cache for thousands of commits in one
query (`rowcache.py`). Each is compared here with the slow path it replaces,
on real Git repositories, cold and warm, and after refs change under it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from labrun import api
from labrun.experiments import rowcache
from labrun.experiments.refs import iter_exp_refs
from labrun.experiments.rowcache import RowCache
from labrun.experiments.show import exp_tips
from labrun.scm.catfile import CommitInfo
from tests.conftest import TmpProject
from tests.func.results_fixtures import add_experiment, commit_all, git, lock_for, results_project

BASE_TIME = 1_700_000_000


def _exp_files(lr: float) -> dict[str, str]:
    return {
        "params.yaml": f"lr: {lr}\nopt:\n  name: adam\n  layers: [1, 2]\n",
        "metrics.json": json.dumps({"acc": lr * 2, "note": "ü \u0000 \\"}),
        "dvc.lock": lock_for(lr, lr * 2),
    }


def _child(proj: TmpProject, parent: str, files: dict[str, str], when: int) -> str:
    """A commit on top of ``parent`` with ``files`` replaced (a checkpoint-like chain)."""
    index = proj.root / ".git" / "chain-index"
    env = {"GIT_INDEX_FILE": str(index)}

    def plumb(*args: str, data: str | None = None) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=proj.root,
            env={**_env(when), **env},
            input=data,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    plumb("read-tree", parent)
    for path, text in files.items():
        blob = plumb("hash-object", "-w", "--stdin", data=text)
        plumb("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    sha = plumb("commit-tree", plumb("write-tree"), "-p", parent, "-m", "checkpoint")
    index.unlink()
    return sha


def _env(when: int) -> dict[str, str]:
    import os

    stamp = f"{when} +0000"
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.invalid",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }


@pytest.fixture
def proj(tmp_path: Path) -> TmpProject:
    """Two baselines (main, and `other` on a branch) with plain, odd and chained experiments."""
    proj = results_project(tmp_path / "proj")
    proj.gen({"dvc.lock": lock_for(0.1, 0.2)})
    commit_all(proj, "baseline", BASE_TIME)
    base = git(proj.root, "rev-parse", "HEAD")
    for i, name in enumerate(["lr3", 'say"hi', "é-1", "same-time"]):
        add_experiment(proj, name, _exp_files(0.3 + i / 10), when=BASE_TIME + 60 * (i % 3))
    add_experiment(proj, "broken", {"metrics.json": "{not json"}, when=BASE_TIME + 500)
    first = add_experiment(proj, "chain", _exp_files(0.8), when=BASE_TIME + 600)
    tip = _child(proj, first, _exp_files(0.9), BASE_TIME + 700)
    git(proj.root, "update-ref", f"refs/exps/{base[:2]}/{base[2:]}/chain", tip)
    git(proj.root, "update-ref", "refs/exps/exec/EXEC_BRANCH", tip)  # bookkeeping, not shown
    git(proj.root, "branch", "other")
    git(proj.root, "checkout", "-q", "other")
    proj.gen({"params.yaml": "lr: 0.05\n"})
    commit_all(proj, "other baseline", BASE_TIME + 1000)
    add_experiment(proj, "on-other", _exp_files(0.6), when=BASE_TIME + 1100)
    git(proj.root, "checkout", "-q", "main")
    return proj


def _queue_rows(proj: TmpProject) -> list[api.QueueRow]:
    base = git(proj.root, "rev-parse", "HEAD")
    lr3 = git(proj.root, "rev-parse", f"refs/exps/{base[:2]}/{base[2:]}/lr3")
    return [
        api.QueueRow(rev=lr3, baseline=base, state="queued", name="q1", executor="dvc-task"),
        api.QueueRow(
            rev="e" * 40,
            baseline=base,
            state="success",
            executor="dvc-task",
            result_ref=f"refs/exps/{base[:2]}/{base[2:]}/lr3",
        ),
    ]


OPTIONS = [
    api.ShowOptions(),
    api.ShowOptions(all_branches=True),
    api.ShowOptions(all_commits=True, hide_workspace=True),
    api.ShowOptions(revs=("other",), num=2, sha_only=True),
]


def test_json_text_equals_the_dumped_states_cold_and_warm(proj: TmpProject) -> None:
    rows = _queue_rows(proj)
    db = proj.root / ".dvc" / "tmp" / "labrun" / "exp-rows.db"
    for options in OPTIONS:
        db.unlink(missing_ok=True)
        cold = api.exp_show_json(proj.root, options, rows)
        assert db.exists()
        warm = api.exp_show_json(proj.root, options, rows)
        plain = json.dumps(api.exp_show(proj.root, options, rows))
        assert cold == warm == plain, options
        assert api.exp_show_json(proj.root, options, rows, indent=2) == json.dumps(
            api.exp_show(proj.root, options, rows), indent=2
        )


def test_json_shows_every_kind_of_experiment(proj: TmpProject) -> None:
    api.exp_show_json(proj.root)  # fills the row cache
    (_, main) = json.loads(api.exp_show_json(proj.root, queue_rows=_queue_rows(proj)))
    names = [(e["name"], len(e["revs"])) for e in main["experiments"]]
    finished = [("chain", 2), ("broken", 1), ("lr3", 1), ('say"hi', 1), ("é-1", 1)]
    assert sorted(names) == sorted([*finished, ("same-time", 1), ("q1", 1)])
    assert names[-1] == ("q1", 1)  # queued ones come after the finished ones
    by_name = {e["name"]: e for e in main["experiments"]}
    assert by_name["lr3"]["executor"]["state"] == "success"
    broken = by_name["broken"]["revs"][0]["data"]["metrics"]["metrics.json"]
    assert "error" in broken
    note = by_name["é-1"]["revs"][0]["data"]["metrics"]["metrics.json"]["data"]["note"]
    assert note == "ü \u0000 \\"


def test_json_follows_refs_rewritten_under_the_row_cache(
    proj: TmpProject, capsys: pytest.CaptureFixture[str]
) -> None:
    api.exp_show_json(proj.root)
    base = git(proj.root, "rev-parse", "HEAD")
    prefix = f"refs/exps/{base[:2]}/{base[2:]}"
    lr3 = git(proj.root, "rev-parse", f"{prefix}/lr3")
    git(proj.root, "update-ref", f"{prefix}/chain", lr3)  # as another tool could
    git(proj.root, "update-ref", "-d", f"{prefix}/same-time")
    git(proj.root, "pack-refs", "--all")
    add_experiment(proj, "fresh", _exp_files(0.95), when=BASE_TIME + 900)
    code, out, err = proj.main("exp", "show", "--json", capsys=capsys)
    assert code == 0, err
    assert out == api.exp_show_json(proj.root, api.ShowOptions(force=True)) + "\n"
    (_, main) = json.loads(out)
    chain = next(e for e in main["experiments"] if e["name"] == "chain")
    assert [s["rev"] for s in chain["revs"]] == [lr3]
    assert {e["name"] for e in main["experiments"]} == {
        "fresh",
        "chain",
        "broken",
        "lr3",
        'say"hi',
        "é-1",
    }


def test_exp_tips_are_the_experiment_refs_of_the_baselines(proj: TmpProject) -> None:
    base = git(proj.root, "rev-parse", "HEAD")
    other = git(proj.root, "rev-parse", "other")
    sha = git(proj.root, "rev-parse", f"refs/exps/{base[:2]}/{base[2:]}/lr3")
    for extra in ("refs/exps/stash", "refs/exps/celery/stash", "refs/exps/temp/x"):
        git(proj.root, "update-ref", extra, sha)
    git(proj.root, "update-ref", f"refs/exps/{base[:2]}/{base[2:]}/nested/name", sha)
    gdir = str(proj.root / ".git")
    for packed in (False, True):
        if packed:  # packed-refs, then one loose ref on top
            git(proj.root, "pack-refs", "--all")
            git(proj.root, "update-ref", f"refs/exps/{base[:2]}/{base[2:]}/loose", sha)
        expected: dict[str, list[tuple[str, str, str]]] = {base: [], other: [], "f" * 40: []}
        for ref, tip in iter_exp_refs(gdir):
            if ref.baseline in expected:
                expected[ref.baseline].append((ref.name, ref.ref, tip))
        assert exp_tips(gdir, [base, other, "f" * 40]) == expected
        assert exp_tips(gdir, [other]) == {other: expected[other]}
        assert exp_tips(gdir, [base]) == {base: expected[base]}
        assert len(expected[base]) == (7 if packed else 6)
    assert exp_tips(gdir, []) == {}


def _infos(count: int) -> list[CommitInfo]:
    return [
        CommitInfo(f"{i:040x}", "", (f"{i + 1:040x}",) if i % 2 else (), BASE_TIME + i)
        for i in range(count)
    ]


def test_row_cache_answers_many_shas_in_one_query_as_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = RowCache(str(tmp_path / "rows.db"))
    infos = _infos(1300)
    cache.put_commits(infos[:1200])
    cache.put_texts({i.sha: json.dumps({"n": n}) for n, i in enumerate(infos[:1100])})
    odd = 'not"hex\\' + "z" * 31
    tab = "ab\tcd" + "0" * 35  # passes as hex digits, but is no JSON string: SQLite refuses it
    cache.put_texts({odd: "{}", tab: "[]"})
    wanted = [i.sha for i in reversed(infos)] + [odd, tab, infos[0].sha]
    one_query = (cache.get_commits(wanted), cache.get_texts(wanted))
    monkeypatch.setattr(rowcache, "_BATCH", 7)  # many small IN (...) queries instead
    batched = (cache.get_commits(wanted), cache.get_texts(wanted))
    monkeypatch.setattr(rowcache, "_BATCH", 5000)  # too few for the one query
    small = (cache.get_commits(wanted), cache.get_texts(wanted))
    assert one_query == batched == small
    assert one_query[0] == {i.sha: i for i in infos[:1200]}
    assert len(one_query[1]) == 1102 and one_query[1][odd] == "{}" and one_query[1][tab] == "[]"
    assert cache.get_texts([]) == {} and cache.get_commits([]) == {}
    cache.close()
