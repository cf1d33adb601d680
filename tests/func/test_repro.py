"""Stories: given a dvc.yaml, when I repro with these targets and options, then these stages
ran, were skipped or restored, and this is what dvc.lock, the cache and the workspace hold."""

from __future__ import annotations

import os
import shutil

import pytest

from labrun import api
from labrun.api import Reason
from tests.conftest import TmpProject
from tests.func.repro_fixtures import (
    BRANCHY,
    CHAIN,
    PARAMS_STAGE,
    Make,
    assert_cache_intact,
    cache_oids,
    cache_path,
    commands,
    evaluated,
    lock,
    md5_of,
    out_md5,
    reasons_of,
    repro,
    repro_fails,
    restored,
    run_cache_entries,
    skipped,
    started,
    status,
    verified,
    warnings,
)


def before(order: list[str], first: str, then: str) -> bool:
    return order.index(first) < order.index(then)


# -- first run, second run, what changed ------------------------------------------------


def test_first_run_runs_everything_and_records_it(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    result, rec = repro(proj)
    assert started(rec) == ["prep", "train"]
    assert result.outcomes == {"prep": "ran", "train": "ran"}
    assert (proj.root / "model.txt").read_text() == "hello\nhello\n"
    entries = lock(proj)
    assert list(entries) == ["prep", "train"]
    assert entries["prep"]["cmd"] == "cat data.txt > prep.txt"
    assert entries["prep"]["deps"] == [
        {"path": "data.txt", "hash": "md5", "md5": md5_of("hello\n"), "size": 6}
    ]
    assert out_md5(proj, "train", "model.txt") == md5_of("hello\nhello\n")
    assert cache_oids(proj) == {md5_of("hello\n"), md5_of("hello\nhello\n")}
    assert cache_path(proj, md5_of("hello\n")).read_text() == "hello\n"
    assert len(run_cache_entries(proj)) == 2
    assert [(e.path, e.verb) for e in rec.of(api.events.LockWritten)] == [
        ("dvc.lock", "generated"),
        ("dvc.lock", "updated"),
    ]


def test_second_run_skips_everything_and_writes_nothing(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    lock_mtime = (proj.root / "dvc.lock").stat().st_mtime_ns
    result, rec = repro(proj)
    assert skipped(rec) == ["prep", "train"]
    assert started(rec) == [] and restored(rec) == []
    assert result.outcomes == {"prep": "skipped", "train": "skipped"}
    assert rec.of(api.events.LockWritten) == []
    assert (proj.root / "dvc.lock").stat().st_mtime_ns == lock_mtime
    (finished,) = rec.of(api.events.RunFinished)
    assert finished.changed is False


def test_a_changed_input_reruns_the_stage_and_what_uses_its_output(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    (proj.root / "data.txt").write_text("bye\n")
    _, rec = repro(proj)
    assert started(rec) == ["prep", "train"]
    assert reasons_of(rec, "prep") == ["dep data.txt modified"]
    assert reasons_of(rec, "train") == ["dep prep.txt modified"]
    assert (proj.root / "model.txt").read_text() == "bye\nbye\n"
    assert out_md5(proj, "train", "model.txt") == md5_of("bye\nbye\n")


def test_a_stage_whose_output_did_not_change_stops_the_wave(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    (proj.root / "src.txt").write_text("2")
    _, rec = repro(proj, targets=["c"])
    assert started(rec) == ["a"]
    assert skipped(rec) == ["b", "c"]


def test_a_changed_command_reruns_the_stage(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    proj.gen({"dvc.yaml": CHAIN.replace("cat prep.txt prep.txt", "cat prep.txt")})
    _, rec = repro(proj)
    assert skipped(rec) == ["prep"]
    assert started(rec) == ["train"]
    assert reasons_of(rec, "train") == ["changed command"]
    assert lock(proj)["train"]["cmd"] == "cat prep.txt > model.txt"


def test_a_deleted_or_edited_output_is_restored_without_running(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    (proj.root / "prep.txt").unlink()
    os.chmod(proj.root / "model.txt", 0o644)
    (proj.root / "model.txt").unlink()
    (proj.root / "model.txt").write_text("tampered\n")
    _, rec = repro(proj)
    assert restored(rec) == ["prep", "train"]
    assert started(rec) == []
    assert (proj.root / "prep.txt").read_text() == "hello\n"
    assert (proj.root / "model.txt").read_text() == "hello\nhello\n"


def test_only_additions_to_a_stage_definition_make_it_stale(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1", "extra.txt": "x"})
    repro(proj)
    # a description, and a dependency removed: not a change (the lock keeps the old record)
    edited = BRANCHY.replace(
        "    cmd: echo a > a.txt\n", "    desc: first\n    cmd: echo a > a.txt\n"
    )
    proj.gen({"dvc.yaml": edited.replace("    deps: [src.txt]\n", "")})
    _, rec = repro(proj, targets=["a"])
    assert skipped(rec) == ["a"]
    assert lock(proj)["a"]["deps"][0]["path"] == "src.txt"
    # a dependency added: the new item has no record
    proj.gen({"dvc.yaml": BRANCHY.replace("deps: [src.txt]", "deps: [src.txt, extra.txt]")})
    _, rec = repro(proj, targets=["a"])
    assert started(rec) == ["a"]
    assert reasons_of(rec, "a") == ["dep extra.txt modified"]


def test_lock_entries_of_stages_removed_from_dvc_yaml_are_kept(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    proj.gen({"dvc.yaml": CHAIN.split("  train:")[0]})
    _, rec = repro(proj)
    assert skipped(rec) == ["prep"]
    assert list(lock(proj)) == ["prep", "train"]


# -- which stages: targets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [("prep", ["prep"]), ("dvc.yaml:prep", ["prep"]), ("dvc.yaml", ["prep", "train"])],
)
def test_target_forms_of_the_root_dvc_yaml(
    make_project: Make, target: str, expected: list[str]
) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    _, rec = repro(proj, targets=[target])
    assert started(rec) == expected


def test_a_stage_target_brings_its_upstream_but_nothing_else(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    _, rec = repro(proj, targets=["b"])
    assert started(rec) == ["a", "b"]
    assert not (proj.root / "c.txt").exists()
    assert set(lock(proj)) == {"a", "b"}


def test_no_target_means_every_stage_of_the_dvc_yaml_here(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    _, rec = repro(proj)
    order = started(rec)
    assert sorted(order) == ["a", "b", "c", "other", "side"]
    assert before(order, "a", "b") and before(order, "b", "c") and before(order, "a", "side")


def test_file_colon_stage_targets_a_stage_of_another_dvc_yaml(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": CHAIN,
            "data.txt": "hello\n",
            "sub/dvc.yaml": (
                "stages:\n"
                "  report:\n"
                "    cmd: cat ../model.txt > report.txt\n"
                "    deps: [../model.txt]\n"
                "    outs: [report.txt]\n"
                "  lonely:\n"
                "    cmd: echo l > l.txt\n"
                "    outs: [l.txt]\n"
            ),
        }
    )
    _, rec = repro(proj, targets=["sub/dvc.yaml:report"])
    assert started(rec) == ["prep", "train", "sub/dvc.yaml:report"]
    assert (proj.root / "sub/report.txt").read_text() == "hello\nhello\n"
    assert list(lock(proj, "sub/dvc.lock")) == ["report"]
    assert list(lock(proj)) == ["prep", "train"]
    _, rec = repro(proj, targets=["sub/dvc.yaml"])
    assert started(rec) == ["sub/dvc.yaml:lonely"]
    assert skipped(rec) == ["prep", "train", "sub/dvc.yaml:report"]


def test_a_group_target_selects_every_generated_stage(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  train:\n"
                "    foreach: [x, y, z]\n"
                "    do:\n"
                "      cmd: echo ${item} > m-${item}.txt\n"
                "      outs: ['m-${item}.txt']\n"
                "  solo:\n"
                "    cmd: echo s > s.txt\n"
                "    outs: [s.txt]\n"
            )
        }
    )
    _, rec = repro(proj, targets=["train@y"])
    assert started(rec) == ["train@y"]
    _, rec = repro(proj, targets=["train"])
    assert sorted(started(rec)) == ["train@x", "train@z"]
    assert skipped(rec) == ["train@y"]
    assert not (proj.root / "s.txt").exists()
    assert list(lock(proj)) == ["train@y", "train@x", "train@z"]


def test_a_target_that_names_no_stage_is_an_error_before_anything_runs(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    err, rec = repro_fails(proj, targets=["prep", "nope"])
    assert str(err) == "Stage 'nope' not found inside 'dvc.yaml' file"
    assert rec.events == []
    assert not (proj.root / "prep.txt").exists()


def test_recursive_directory_target_selects_the_dvc_files_below_it(make_project: Make) -> None:
    one = "stages:\n  {n}:\n    cmd: echo {n} > {n}.txt\n    outs: [{n}.txt]\n"
    proj = make_project(
        {
            "dvc.yaml": one.format(n="top"),
            "exp/dvc.yaml": one.format(n="mid"),
            "exp/deep/dvc.yaml": one.format(n="low"),
            "exp2/dvc.yaml": one.format(n="sibling"),
        }
    )
    _, rec = repro(proj, targets=["exp"], recursive=True)
    assert sorted(started(rec)) == ["exp/deep/dvc.yaml:low", "exp/dvc.yaml:mid"]
    assert not (proj.root / "top.txt").exists()
    assert not (proj.root / "exp2/sibling.txt").exists()


def test_glob_targets_match_stage_names_of_one_file(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  train:\n"
                "    foreach: [a, b]\n"
                "    do:\n"
                "      cmd: echo ${item} > t-${item}.txt\n"
                "      outs: ['t-${item}.txt']\n"
                "  trial:\n"
                "    cmd: echo t > trial.txt\n"
                "    outs: [trial.txt]\n"
                "  test:\n"
                "    cmd: echo x > test.txt\n"
                "    outs: [test.txt]\n"
            ),
            "sub/dvc.yaml": "stages:\n  train9:\n    cmd: echo 9 > n.txt\n    outs: [n.txt]\n",
        }
    )
    _, rec = repro(proj, targets=["tr*"], glob=True)
    assert sorted(started(rec)) == ["train@a", "train@b", "trial"]
    _, rec = repro(proj, targets=["sub/dvc.yaml:train?"], glob=True)
    assert started(rec) == ["sub/dvc.yaml:train9"]
    assert not (proj.root / "test.txt").exists()


# -- which stages: -s, --downstream, -p, -P --------------------------------------------


def test_single_item_evaluates_only_the_target_even_if_upstream_is_stale(
    make_project: Make,
) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    (proj.root / "data.txt").write_text("bye\n")
    proj.gen({"dvc.yaml": CHAIN.replace("cat prep.txt prep.txt", "cat prep.txt")})
    _, rec = repro(proj, targets=["train"], single_item=True)
    assert evaluated(rec) == ["train"]
    assert (proj.root / "model.txt").read_text() == "hello\n"
    assert status(proj) == {"prep": ["dep data.txt modified"]}


def test_single_item_keeps_target_order(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    _, rec = repro(proj, targets=["c", "other", "a"], single_item=True, force=True)
    assert started(rec) == ["c", "other", "a"]


def test_downstream_evaluates_the_target_and_its_dependents_only(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    (proj.root / "src.txt").write_text("2")  # `a` is stale, but upstream of the target
    _, rec = repro(proj, targets=["b"], downstream=True)
    assert evaluated(rec) == ["b", "c"]
    assert skipped(rec) == ["b", "c"]
    _, rec = repro(proj, targets=["b"], downstream=True, force=True)
    assert started(rec) == ["b", "c"]
    assert "a" in status(proj)


def test_pipeline_takes_the_whole_connected_pipeline_of_the_target(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    _, rec = repro(proj, targets=["c"], pipeline=True)
    order = started(rec)
    assert sorted(order) == ["a", "b", "c", "side"]
    assert before(order, "a", "b") and before(order, "b", "c") and before(order, "a", "side")
    assert not (proj.root / "o.txt").exists()


def test_all_pipelines_ignores_targets_and_takes_every_stage_of_the_project(
    make_project: Make,
) -> None:
    proj = make_project(
        {
            "dvc.yaml": BRANCHY,
            "src.txt": "1",
            "sub/dvc.yaml": "stages:\n  s:\n    cmd: cat ../c.txt > s.txt\n    deps: [../c.txt]\n"
            "    outs: [s.txt]\n",
        }
    )
    _, rec = repro(proj, targets=["other"], all_pipelines=True)
    order = started(rec)
    assert sorted(order) == ["a", "b", "c", "other", "side", "sub/dvc.yaml:s"]
    assert before(order, "c", "sub/dvc.yaml:s")


def test_force_runs_every_planned_stage_instead_of_restoring(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    (proj.root / "b.txt").unlink()
    _, rec = repro(proj, targets=["c"], force=True)
    assert started(rec) == ["a", "b", "c"]
    assert restored(rec) == [] and skipped(rec) == []
    assert (proj.root / "b.txt").read_text() == "a\n"


def test_force_downstream_forces_dependents_of_stages_that_ran(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    (proj.root / "src.txt").write_text("2")
    _, rec = repro(proj, targets=["c"], force_downstream=True)
    assert started(rec) == ["a", "b", "c"]
    _, rec = repro(proj, force_downstream=True)
    assert started(rec) == []
    assert sorted(skipped(rec)) == ["a", "b", "c", "other", "side"]


def test_force_downstream_counts_a_run_cache_restore_as_a_run(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    (proj.root / "src.txt").write_text("2")
    repro(proj)
    (proj.root / "src.txt").write_text("1")
    _, rec = repro(proj, targets=["c"], force_downstream=True)
    assert restored(rec) == ["a"]
    assert started(rec) == ["b", "c"]


# -- frozen, always_changed, callback, persist -----------------------------------------

FROZEN = BRANCHY.replace(
    "    cmd: cat a.txt > b.txt\n", "    cmd: cat a.txt > b.txt\n    frozen: true\n"
)


def test_a_frozen_stage_cuts_its_upstream_and_ignores_its_deps(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    proj.gen({"dvc.yaml": FROZEN, "src.txt": "2"})
    (proj.root / "a.txt").unlink()  # b's dependency is gone: frozen, so nobody cares
    _, rec = repro(proj, targets=["c"])
    assert evaluated(rec) == ["b", "c"]
    assert skipped(rec) == ["b", "c"]
    assert "stage: 'b' is frozen. Its dependencies are not going to be reproduced." in (
        warnings(rec)
    )
    # forced, it is verified and saved, and saving hashes its deps: a.txt is missing (as DVC)
    err, rec = repro_fails(proj, targets=["b"], single_item=True, force=True)
    assert str(err) == "failed to reproduce 'b': dependency 'a.txt' does not exist"
    assert started(rec) == [] and verified(rec) == ["b"]
    assert "stage: 'b' is frozen. Its dependencies are not going to be reproduced." in (
        warnings(rec)
    )


def test_a_frozen_stage_with_a_changed_output_is_verified_and_rerecorded(
    make_project: Make,
) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    proj.gen({"dvc.yaml": FROZEN})
    os.chmod(proj.root / "b.txt", 0o644)
    (proj.root / "b.txt").unlink()
    (proj.root / "b.txt").write_text("hand made\n")
    _, rec = repro(proj, targets=["c"])
    assert verified(rec) == ["b"]
    assert started(rec) == ["c"]
    assert (proj.root / "b.txt").read_text() == "hand made\n"
    assert out_md5(proj, "b", "b.txt") == md5_of("hand made\n")
    assert md5_of("hand made\n") in cache_oids(proj)
    assert (proj.root / "c.txt").read_text() == "hand made\n"


def test_a_frozen_stage_with_a_missing_output_fails(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FROZEN, "src.txt": "1", "a.txt": "a\n"})
    err, rec = repro_fails(proj, targets=["b"])
    assert str(err) == "failed to reproduce 'b': missing data 'source': b.txt"
    assert started(rec) == []


def test_always_changed_stage_runs_every_time_and_is_never_restored(make_project: Make) -> None:
    proj = make_project(
        {
            "data.txt": "d",
            "dvc.yaml": (
                "stages:\n"
                "  tick:\n"
                "    cmd: cat data.txt > tick.txt\n"
                "    deps: [data.txt]\n"
                "    outs: [tick.txt]\n"
                "    always_changed: true\n"
            ),
        }
    )
    repro(proj)
    _, rec = repro(proj)
    assert started(rec) == ["tick"]
    assert reasons_of(rec, "tick") == ["always changed"]
    assert run_cache_entries(proj) == []


def test_a_callback_stage_always_runs_but_outs_without_deps_do_not(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  notify:\n"
                "    cmd: echo ping >> ../pings.txt\n"
                "  seed:\n"
                "    cmd: echo 42 > seed.txt\n"
                "    outs: [seed.txt]\n"
            )
        }
    )
    repro(proj)
    _, rec = repro(proj)
    assert started(rec) == ["notify"]
    assert reasons_of(rec, "notify") == ["always changed"]
    assert skipped(rec) == ["seed"]
    assert (proj.root.parent / "pings.txt").read_text() == "ping\nping\n"


def test_persistent_output_is_kept_and_writable_when_the_stage_runs(make_project: Make) -> None:
    proj = make_project(
        {
            "n.txt": "1",
            "dvc.yaml": (
                "stages:\n"
                "  grow:\n"
                "    cmd: cat n.txt >> log.txt\n"
                "    deps: [n.txt]\n"
                "    outs: [{log.txt: {persist: true}}]\n"
            ),
        }
    )
    repro(proj)
    (proj.root / "n.txt").write_text("2")
    _, rec = repro(proj)
    assert started(rec) == ["grow"]
    assert (proj.root / "log.txt").read_text() == "12"
    assert out_md5(proj, "grow", "log.txt") == md5_of("12")
    assert md5_of("12") in cache_oids(proj)
    assert run_cache_entries(proj) == []  # persistent outputs disable the run-cache


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_persistent_file_linked_into_the_cache_is_unprotected(
    make_project: Make, link: str
) -> None:
    proj = make_project(
        {
            "n.txt": "1\n",
            "dvc.yaml": "stages:\n  grow:\n    cmd: cat n.txt >> log.txt\n    deps: [n.txt]\n"
            "    outs: [{log.txt: {persist: true}}]\n",
        }
    )
    proj.gen({".dvc/config": f"[core]\n    no_scm = True\n[cache]\n    type = {link}\n"})
    repro(proj)
    (proj.root / "n.txt").write_text("2\n")
    _, rec = repro(proj)
    assert started(rec) == ["grow"]
    assert (proj.root / "log.txt").read_text() == "1\n2\n"
    assert_cache_intact(proj)


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_persistent_directory_linked_into_the_cache_is_unprotected(
    make_project: Make, link: str
) -> None:
    proj = make_project(
        {
            "n.txt": "1\n",
            "dvc.yaml": "stages:\n  grow:\n    cmd: mkdir -p logs && cat n.txt >> logs/log.txt\n"
            "    deps: [n.txt]\n    outs: [{logs: {persist: true}}]\n",
        }
    )
    proj.gen({".dvc/config": f"[core]\n    no_scm = True\n[cache]\n    type = {link}\n"})
    repro(proj)
    (proj.root / "n.txt").write_text("2\n")
    _, rec = repro(proj)
    assert started(rec) == ["grow"]
    assert (proj.root / "logs/log.txt").read_text() == "1\n2\n"
    assert_cache_intact(proj)


# -- the run-cache ----------------------------------------------------------------------


def test_reverting_a_param_restores_outputs_from_the_run_cache(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PARAMS_STAGE, "params.yaml": "lr: 1\n"})
    repro(proj)
    first = lock(proj)["train"]
    proj.gen({"params.yaml": "lr: 2\n"})
    _, rec = repro(proj)
    assert started(rec) == ["train"]
    assert reasons_of(rec, "train") == ["param params.yaml:lr modified"]
    proj.gen({"params.yaml": "lr: 1\n"})
    _, rec = repro(proj)
    assert restored(rec) == ["train"] and started(rec) == []
    assert (proj.root / "model.txt").read_text() == "lr=lr: 1\n"
    assert lock(proj)["train"] == first


def test_outputs_deleted_from_workspace_are_checked_out_of_the_cache(make_project: Make) -> None:
    proj = make_project(
        {
            "raw/a.txt": "a",
            "raw/b/c.txt": "c",
            "dvc.yaml": (
                "stages:\n"
                "  copy:\n"
                "    cmd: rm -rf out && cp -r raw out\n"
                "    deps: [raw]\n"
                "    outs: [out]\n"
            ),
        }
    )
    repro(proj)
    dir_md5 = out_md5(proj, "copy", "out")
    assert dir_md5.endswith(".dir") and dir_md5 in cache_oids(proj)
    shutil.rmtree(proj.root / "out")
    assert status(proj) == {"copy": ["out out deleted"]}
    _, rec = repro(proj)
    assert restored(rec) == ["copy"]
    assert (proj.root / "out/b/c.txt").read_text() == "c"
    assert status(proj) == {}


def test_identical_stages_share_run_cache_entries(make_project: Make) -> None:
    one = (
        "stages:\n  s:\n    cmd: cat ../in.txt > o.txt\n    deps: [../in.txt]\n    outs: [o.txt]\n"
    )
    proj = make_project({"in.txt": "i", "x/dvc.yaml": one})
    repro(proj, targets=["x/dvc.yaml"])
    proj.gen({"y/dvc.yaml": one})
    _, rec = repro(proj, targets=["y/dvc.yaml"])
    assert restored(rec) == ["y/dvc.yaml:s"]
    assert (proj.root / "y/o.txt").read_text() == "i"


def test_a_missing_cache_object_makes_the_stage_run_again(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    obj = cache_path(proj, md5_of("hello\nhello\n"))
    os.chmod(obj, 0o644)
    obj.unlink()
    assert status(proj) == {"train": ["out model.txt not in cache"]}
    _, rec = repro(proj)
    assert started(rec) == ["train"]
    assert obj.read_text() == "hello\nhello\n"


def test_uncached_metrics_come_back_from_the_run_cache(make_project: Make) -> None:
    proj = make_project(
        {
            "params.yaml": "lr: 1\n",
            "dvc.yaml": (
                "stages:\n"
                "  train:\n"
                "    cmd: grep lr params.yaml > model.txt && sed s/lr:/n=/ params.yaml > m.txt\n"
                "    params: [lr]\n"
                "    outs: [model.txt]\n"
                "    metrics: [{m.txt: {cache: false}}]\n"
            ),
        }
    )
    repro(proj)
    proj.gen({"params.yaml": "lr: 2\n"})
    repro(proj)
    proj.gen({"params.yaml": "lr: 1\n"})
    _, rec = repro(proj)
    assert restored(rec) == ["train"]
    assert (proj.root / "m.txt").read_text() == "n= 1\n"
    assert status(proj) == {}


def test_plain_uncached_outputs_disable_the_run_cache(make_project: Make) -> None:
    proj = make_project(
        {
            "data.txt": "d",
            "dvc.yaml": "stages:\n  s:\n    cmd: cat data.txt > o.txt\n    deps: [data.txt]\n"
            "    outs: [{o.txt: {cache: false}}]\n",
        }
    )
    repro(proj)
    assert run_cache_entries(proj) == [] and cache_oids(proj) == set()
    (proj.root / "o.txt").unlink()
    assert status(proj) == {"s": ["out o.txt deleted"]}
    _, rec = repro(proj)
    assert started(rec) == ["s"]


# -- status: every kind of reason -------------------------------------------------------

STATUS_PIPELINE = """\
stages:
  train:
    cmd: cat data.txt > model.txt
    deps: [data.txt]
    params: [lr, opt.name, {extra.yaml: [k]}]
    outs: [model.txt]
    metrics: [{m.json: {cache: false}}]
"""


def test_status_reasons_for_each_kind_of_change(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": STATUS_PIPELINE.replace("model.txt\n", "model.txt && echo {} > m.json\n"),
            "data.txt": "d",
            "params.yaml": "lr: 1\nopt:\n  name: sgd\n",
            "extra.yaml": "k: 1\n",
        }
    )
    repro(proj)
    (st,) = api.status(proj.root)
    assert not st.stale and st.reasons == []
    (proj.root / "data.txt").write_text("e")
    proj.gen({"params.yaml": "lr: 2\n"})  # lr modified, opt.name deleted
    (proj.root / "extra.yaml").unlink()
    os.chmod(proj.root / "model.txt", 0o644)
    (proj.root / "model.txt").write_text("changed")
    (proj.root / "m.json").unlink()
    (st,) = api.status(proj.root, ["train"])
    assert st.reasons == [
        Reason("dep", "data.txt", "modified"),
        Reason("params", "params.yaml", "modified", "lr"),
        Reason("params", "params.yaml", "deleted", "opt.name"),
        Reason("params", "extra.yaml", "deleted"),
        Reason("out", "model.txt", "modified"),
        Reason("out", "m.json", "deleted"),
    ]


def test_status_new_params_new_files_and_changed_command(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PARAMS_STAGE, "params.yaml": "lr: 1\n", "more.yaml": "a: 1\n"})
    repro(proj)
    changed = PARAMS_STAGE.replace("params: [lr]", "params: [lr, seed, {more.yaml: }]").replace(
        "> model.txt", ">model.txt"
    )
    proj.gen({"dvc.yaml": changed, "params.yaml": "lr: 1\nseed: 7\n"})
    (st,) = api.status(proj.root)
    assert st.reasons == [
        Reason("params", "params.yaml", "new", "seed"),
        Reason("params", "more.yaml", "new"),
        Reason("changed command"),
    ]


def test_status_whole_file_params_report_each_top_level_key(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": PARAMS_STAGE.replace("params: [lr]", "params: [{cfg.yaml: }]"),
            "cfg.yaml": "a: 1\nb: {c: 2}\n",
        }
    )
    repro(proj)
    proj.gen({"cfg.yaml": "b: {c: 3}\nz: 0\n"})
    (st,) = api.status(proj.root)
    assert sorted(st.reasons, key=str) == sorted(
        [
            Reason("params", "cfg.yaml", "modified", "b"),
            Reason("params", "cfg.yaml", "new", "z"),
            Reason("params", "cfg.yaml", "deleted", "a"),
        ],
        key=str,
    )


def test_status_deleted_dep_always_changed_and_frozen(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": BRANCHY, "src.txt": "1"})
    repro(proj)
    (proj.root / "src.txt").unlink()
    proj.gen(
        {
            "dvc.yaml": FROZEN.replace(
                "    cmd: echo o > o.txt\n", "    cmd: echo o > o.txt\n    always_changed: true\n"
            )
        }
    )
    (proj.root / "a.txt").unlink()
    assert status(proj) == {
        "a": ["dep src.txt deleted", "out a.txt deleted"],
        "side": ["dep a.txt deleted"],
        "other": ["always changed"],
    }  # b is frozen: its missing dependency is not shown
    (proj.root / "b.txt").unlink()
    assert status(proj, "b") == {"b": ["out b.txt deleted"]}


def test_status_of_a_never_run_stage_and_with_deps(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    assert status(proj) == {
        "prep": ["dep data.txt modified", "out prep.txt deleted"],
        "train": ["dep prep.txt deleted", "out model.txt deleted"],
    }
    names = [s.stage.name for s in api.status(proj.root, ["train"], with_deps=True)]
    assert names == ["prep", "train"]
    assert [s.stage.name for s in api.status(proj.root, ["train"])] == ["train"]


def test_commands_are_reported_in_stage_order(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    _, rec = repro(proj)
    assert commands(rec) == ["cat data.txt > prep.txt", "cat prep.txt prep.txt > model.txt"]
    assert status(proj) == {}


def test_busy_project_lock_waits_with_a_message_then_fails(tmp_project: TmpProject) -> None:
    import threading

    from labrun.fsutil import FileLock

    tmp_project.gen(
        {"dvc.yaml": "stages:\n  s:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n"}
    )
    lock_path = tmp_project.root / ".dvc" / "tmp" / "labrun.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path):
        res = tmp_project.labrun("repro")
    assert res.returncode == 255
    assert "waiting up to 3 s" in res.stderr
    assert "Unable to acquire lock" in res.stderr
    held = FileLock(lock_path)
    held.acquire()
    threading.Timer(1.0, held.release).start()  # released while the writer waits
    res = tmp_project.labrun("repro")
    assert res.returncode == 0, res.stderr
    assert "waiting up to 3 s" in res.stderr
    assert (tmp_project.root / "out.txt").read_text() == "hi\n"


def test_an_executable_output_keeps_the_mode_its_command_gave_it(make_project: Make) -> None:
    """DVC quirk: dvc re-copies the file from the cache after the run and adds only u+x
    (755 becomes 744); labrun leaves the copy the command wrote. A restore from the
    cache gives u+x, as dvc does."""
    stages = "stages:\n  tool:\n    cmd: cp data.txt tool.sh && chmod 755 tool.sh\n"
    stages += "    deps: [data.txt]\n    outs: [tool.sh]\n"
    proj = make_project({"dvc.yaml": stages, "data.txt": "#!/bin/sh\n"})
    repro(proj)
    tool = proj.root / "tool.sh"
    assert tool.stat().st_mode & 0o777 == 0o755
    assert lock(proj)["tool"]["outs"][0]["isexec"] is True
    tool.unlink()
    _, rec = repro(proj)
    assert restored(rec) == ["tool"]
    assert tool.stat().st_mode & 0o100
