"""Stories about how repro runs: -i, --dry, -k, --ignore-errors, --no-commit, --no-run-cache,
--allow-missing, -j, failing stages, the commands' environment, cache links, data sources,
and the `labrun repro` command line (exit codes, no tracebacks)."""

from __future__ import annotations

import os
import shutil

import pytest

from labrun import api
from labrun.repro import events as ev
from tests.conftest import TmpProject
from tests.func.repro_fixtures import (
    BAD_CMD,
    CHAIN,
    FAILING,
    PARAMS_STAGE,
    Make,
    cache_oids,
    cache_path,
    commands,
    evaluated,
    failed,
    lock,
    md5_of,
    out_md5,
    repro,
    repro_fails,
    restored,
    run_cache_entries,
    skipped,
    snapshot,
    started,
    status,
    verified,
    warnings,
)


def question(stage: str) -> str:
    return f"Going to reproduce stage: '{stage}'. Are you sure you want to continue?"


# -- -i / --interactive ------------------------------------------------------------------


def test_interactive_asks_before_each_changed_stage(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    asked: list[str] = []

    def yes(text: str) -> bool:
        asked.append(text)
        return True

    _, rec = repro(proj, yes, interactive=True)
    assert asked == [question("prep"), question("train")]
    assert started(rec) == ["prep", "train"]
    asked.clear()
    _, rec = repro(proj, yes, interactive=True)
    assert asked == [] and skipped(rec) == ["prep", "train"]


def test_interactive_refusal_aborts_the_run(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    err, rec = repro_fails(proj, lambda text: False, interactive=True)
    assert str(err) == "failed to reproduce 'prep': reproduction aborted by the user"
    assert started(rec) == [] and failed(rec) == ["prep"]
    assert not (proj.root / "prep.txt").exists()
    assert not (proj.root / "dvc.lock").exists()


def test_interactive_refusing_the_second_stage_keeps_the_first(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    err, rec = repro_fails(proj, lambda text: "'prep'" in text, interactive=True)
    assert str(err) == "failed to reproduce 'train': reproduction aborted by the user"
    assert started(rec) == ["prep"]
    assert list(lock(proj)) == ["prep"]


def test_core_interactive_config_asks_too(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    proj.gen({".dvc/config": "[core]\n    no_scm = True\n    interactive = true\n"})
    err, _ = repro_fails(proj)  # nobody to ask: the answer is "no"
    assert str(err) == "failed to reproduce 'prep': reproduction aborted by the user"


# -- --dry -------------------------------------------------------------------------------


def test_dry_run_reports_what_would_run_and_writes_nothing(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    before = snapshot(proj.root)
    result, rec = repro(proj, dry=True, force=True)
    assert started(rec) == ["prep", "train"]
    assert commands(rec) == ["cat data.txt > prep.txt", "cat prep.txt prep.txt > model.txt"]
    assert result.changed
    assert rec.of(ev.LockWritten) == []
    assert snapshot(proj.root) == before
    # as DVC: without -f, `train` needs prep.txt hashed, which the dry run never made
    err, rec = repro_fails(proj, dry=True)
    assert str(err) == "failed to reproduce 'train': dependency 'prep.txt' does not exist"
    assert started(rec) == ["prep"]
    assert snapshot(proj.root) == before


def test_dry_run_after_a_change_keeps_outputs_lock_and_cache(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    (proj.root / "data.txt").write_text("bye\n")
    before = snapshot(proj.root)
    _, rec = repro(proj, dry=True)
    assert started(rec) == ["prep"]
    assert skipped(rec) == ["train"]  # judged against the unchanged workspace
    assert snapshot(proj.root) == before
    _, rec = repro(proj, dry=True, force=True)
    assert started(rec) == ["prep", "train"]
    assert snapshot(proj.root) == before


def test_dry_run_does_not_verify_frozen_stages(make_project: Make) -> None:
    proj = make_project(
        {
            "a.txt": "a\n",
            "dvc.yaml": "stages:\n  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n"
            "    outs: [b.txt]\n    frozen: true\n",
        }
    )
    before = snapshot(proj.root)
    result, rec = repro(proj, dry=True)
    assert result.failed == [] and verified(rec) == []
    assert snapshot(proj.root) == before


# -- failures: default, -k, --ignore-errors ---------------------------------------------


def test_a_failure_stops_the_run_and_keeps_earlier_lock_entries(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    old_train = lock(proj)["train"]
    proj.gen({"data.txt": "bye\n", "dvc.yaml": CHAIN.replace("cat prep.txt prep.txt", "false &&")})
    err, rec = repro_fails(proj)
    assert (
        str(err)
        == "failed to reproduce 'train': failed to run: false && > model.txt, exited with 1"
    )
    assert started(rec) == ["prep", "train"]
    assert out_md5(proj, "prep", "prep.txt") == md5_of("bye\n")
    assert lock(proj)["train"] == old_train
    assert status(proj)["train"] == [
        "dep prep.txt modified",
        "out model.txt deleted",
        "changed command",
    ]


def test_default_failure_stops_before_independent_stages(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    err, rec = repro_fails(proj)
    assert str(err) == f"failed to reproduce 'bad': {BAD_CMD}"
    assert evaluated(rec) == ["bad"]
    assert (proj.root / "bad.txt").read_text() == "partial\n"  # left as the command wrote it
    assert not (proj.root / "fine.txt").exists()
    assert lock(proj) == {}


def test_a_failing_command_stops_the_remaining_commands_of_its_stage(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: [echo 1 > o.txt, exit 4, echo 3 > o.txt]\n"
            "    outs: [o.txt]\n"
        }
    )
    err, rec = repro_fails(proj)
    assert str(err) == "failed to reproduce 's': failed to run: exit 4, exited with 4"
    assert commands(rec) == ["echo 1 > o.txt", "exit 4"]
    assert (proj.root / "o.txt").read_text() == "1\n"


def test_keep_going_skips_dependents_and_continues_with_the_rest(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    err, rec = repro_fails(proj, on_error="keep-going")
    assert str(err) == "failed to reproduce 'bad'"
    (failure,) = rec.of(ev.StageFailed)
    assert (failure.stage, failure.message) == ("bad", BAD_CMD)
    assert list(failure.skipped) == ["after", "later"]
    assert evaluated(rec) == ["bad", "fine"]
    assert started(rec) == ["bad", "fine"]
    assert (proj.root / "fine.txt").read_text() == "ok\n"
    assert list(lock(proj)) == ["fine"]


def test_keep_going_names_every_failed_stage(make_project: Make) -> None:
    three = FAILING.replace("echo ok > fine.txt", "exit 5") + "  last:\n    cmd: exit 6\n"
    proj = make_project({"dvc.yaml": three})
    err, rec = repro_fails(proj, on_error="keep-going")
    assert failed(rec) == ["bad", "fine", "last"]
    assert str(err) == "failed to reproduce stages: 'bad', 'fine' and 'last'"


def test_ignore_errors_goes_on_with_dependents_of_the_failed_stage(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    result, rec = repro(proj, on_error="ignore")
    assert result.failed == ["bad"]
    assert result.outcomes == {"bad": "failed", "after": "ran", "later": "ran", "fine": "ran"}
    (failure,) = rec.of(ev.StageFailed)
    assert failure.mode == "ignore" and failure.message == BAD_CMD
    assert (proj.root / "later.txt").read_text() == "partial\n"  # ran on the partial output
    assert list(lock(proj)) == ["after", "later", "fine"]


# -- errors that fail one stage ------------------------------------------------------------


def test_missing_dependency_fails_before_the_command_runs(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  a:\n    cmd: touch ran.txt && echo x > o.txt\n"
            "    deps: [missing.txt]\n    outs: [o.txt]\n"
        }
    )
    err, rec = repro_fails(proj)
    # deliberate: for a run-cacheable stage like this one DVC leaks the OSError of hashing
    # it (`[Errno 2] No such file or directory: '<absolute path>'`); labrun names the dep
    assert str(err) == "failed to reproduce 'a': dependency 'missing.txt' does not exist"
    assert started(rec) == [] and failed(rec) == ["a"]
    assert not (proj.root / "ran.txt").exists()
    assert lock(proj) == {}
    err, _ = repro_fails(proj, force=True)  # forced: the command runs, saving fails
    assert str(err) == "failed to reproduce 'a': dependency 'missing.txt' does not exist"
    assert (proj.root / "ran.txt").exists()
    assert lock(proj) == {}


def test_missing_params_key_fails_the_stage(make_project: Make) -> None:
    proj = make_project(
        {
            "params.yaml": "y: 1\n",
            "dvc.yaml": "stages:\n  a:\n    cmd: echo > o.txt\n    params: [x, y]\n"
            "    outs: [o.txt]\n",
        }
    )
    err, _ = repro_fails(proj)
    assert str(err) == "failed to reproduce 'a': Parameters 'x' are missing from 'params.yaml'."
    assert lock(proj) == {}


def test_a_stage_without_its_params_file_names_the_file(make_project: Make) -> None:
    # DVC: "dependency 'params.yaml' does not exist" with -f, but "Parameters 'x' are
    # missing" (after running the command) without; labrun names the missing file in
    # both cases and fails before the command runs.
    proj = make_project(
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo > o.txt\n    params: [x]\n    outs: [o.txt]\n"}
    )
    err, _ = repro_fails(proj)
    assert str(err) == "failed to reproduce 'a': dependency 'params.yaml' does not exist"
    assert not (proj.root / "o.txt").exists()
    err, _ = repro_fails(proj, force=True)
    assert str(err) == "failed to reproduce 'a': dependency 'params.yaml' does not exist"


def test_an_output_the_command_does_not_produce_fails_the_stage(make_project: Make) -> None:
    proj = make_project(
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo hi > other.txt\n    outs: [sub/o.txt]\n"}
    )
    err, _ = repro_fails(proj)
    assert (
        str(err)
        == f"failed to reproduce 'a': output '{os.path.join('sub', 'o.txt')}' does not exist"
    )
    assert lock(proj) == {}
    assert cache_oids(proj) == set()


def test_an_output_tracked_by_git_fails_with_dvcs_advice(tmp_project: TmpProject) -> None:
    proj = tmp_project
    proj.gen({"o.txt": "old\n"})
    proj.commit("track o.txt in git")
    proj.gen({"dvc.yaml": "stages:\n  a:\n    cmd: echo new > o.txt\n    outs: [o.txt]\n"})
    err, rec = repro_fails(proj)
    lines = [line.rstrip() for line in str(err).replace(":  output", ": output").splitlines()]
    assert lines == [
        "failed to reproduce 'a': output 'o.txt' is already tracked by SCM (e.g. Git).",
        "    You can remove it from Git, then add to DVC.",
        "        To stop tracking from Git:",
        "            git rm -r --cached 'o.txt'",
        '            git commit -m "stop tracking o.txt"',
    ]
    assert started(rec) == ["a"]
    assert not (proj.root / ".gitignore").exists()
    assert lock(proj) == {}


def test_cached_outputs_outside_the_project_are_refused(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  a:\n    cmd: echo x > ../outside.txt\n"
            "    outs: [../outside.txt]\n"
        }
    )
    err, _ = repro_fails(proj)
    assert str(err).startswith("Cached output(s) outside of DVC project: ../outside.txt")
    assert lock(proj) == {} and cache_oids(proj) == set()


def test_uncached_outputs_outside_the_project_are_recorded(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  a:\n    cmd: echo x > ../outside.txt\n"
            "    outs: [{../outside.txt: {cache: false}}]\n"
        }
    )
    _, rec = repro(proj)
    assert started(rec) == ["a"]
    assert (proj.root.parent / "outside.txt").read_text() == "x\n"
    assert out_md5(proj, "a", "../outside.txt") == md5_of("x\n")
    assert cache_oids(proj) == set()
    assert status(proj) == {}
    _, rec = repro(proj)
    assert skipped(rec) == ["a"]


# -- --no-commit, --no-run-cache, --allow-missing ---------------------------------------


def test_no_commit_records_hashes_but_stores_nothing(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    _, rec = repro(proj, no_commit=True)
    assert started(rec) == ["prep", "train"]
    assert out_md5(proj, "train", "model.txt") == md5_of("hello\nhello\n")
    assert cache_oids(proj) == set()
    assert run_cache_entries(proj) == []
    assert status(proj) == {
        "prep": ["out prep.txt not in cache"],
        "train": ["out model.txt not in cache"],
    }
    _, rec = repro(proj)
    assert started(rec) == ["prep", "train"]
    assert cache_oids(proj) == {md5_of("hello\n"), md5_of("hello\nhello\n")}
    assert status(proj) == {}


def test_no_run_cache_runs_instead_of_restoring_an_earlier_run(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PARAMS_STAGE, "params.yaml": "lr: 1\n"})
    repro(proj, no_run_cache=True)
    assert len(run_cache_entries(proj)) == 1  # entries are still saved
    proj.gen({"params.yaml": "lr: 2\n"})
    repro(proj)
    proj.gen({"params.yaml": "lr: 1\n"})
    _, rec = repro(proj, no_run_cache=True)
    assert started(rec) == ["train"] and restored(rec) == []
    assert (proj.root / "model.txt").read_text() == "lr=lr: 1\n"


def test_no_run_cache_still_restores_from_the_current_lock_entry(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PARAMS_STAGE, "params.yaml": "lr: 1\n"})
    repro(proj)
    (proj.root / "model.txt").unlink()
    _, rec = repro(proj, no_run_cache=True)
    assert restored(rec) == ["train"] and started(rec) == []
    assert (proj.root / "model.txt").read_text() == "lr=lr: 1\n"


def test_allow_missing_skips_stages_whose_data_is_only_missing(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    lock_before = lock(proj)
    (proj.root / "data.txt").unlink()
    (proj.root / "prep.txt").unlink()
    obj = cache_path(proj, md5_of("hello\nhello\n"))
    os.chmod(obj, 0o644)
    obj.unlink()
    _, rec = repro(proj, allow_missing=True)
    assert skipped(rec) == ["prep", "train"]
    assert not (proj.root / "prep.txt").exists()
    assert lock(proj) == lock_before
    err, rec = repro_fails(proj)
    assert str(err) == "failed to reproduce 'prep': dependency 'data.txt' does not exist"


def test_allow_missing_still_runs_stages_with_real_changes(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    (proj.root / "data.txt").write_text("bye\n")
    (proj.root / "model.txt").unlink()
    _, rec = repro(proj, allow_missing=True)
    assert started(rec) == ["prep", "train"]
    assert (proj.root / "model.txt").read_text() == "bye\nbye\n"


# -- -j: independent stages at once ------------------------------------------------------

PARALLEL = """\
stages:
  left:
    cmd: date +%s.%N > left.start && echo left says hi && sleep 0.8 && echo left done
      && date +%s.%N > left.end
    outs: [left.start, left.end]
  right:
    cmd: date +%s.%N > right.start && echo right says hi && sleep 0.8 && echo right done
      && date +%s.%N > right.end
    outs: [right.start, right.end]
  join:
    cmd: date +%s.%N > join.start && cat left.end right.end > join.txt
    deps: [left.end, right.end]
    outs: [join.start, join.txt]
"""


def stamp(proj: TmpProject, name: str) -> float:
    return float((proj.root / name).read_text())


def test_two_jobs_overlap_independent_stages_and_respect_dependencies(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": PARALLEL})
    result, rec = repro(proj, jobs=2)
    assert result.outcomes == {"left": "ran", "right": "ran", "join": "ran"}
    assert stamp(proj, "left.start") < stamp(proj, "right.end")
    assert stamp(proj, "right.start") < stamp(proj, "left.end")
    assert stamp(proj, "join.start") >= max(stamp(proj, "left.end"), stamp(proj, "right.end"))
    lines = {s: [e.line for e in rec.of(ev.Output) if e.stage == s] for s in ("left", "right")}
    assert lines == {
        "left": ["left says hi", "left done"],
        "right": ["right says hi", "right done"],
    }
    assert set(lock(proj)) == {"left", "right", "join"}
    _, rec = repro(proj, jobs=2)
    assert sorted(skipped(rec)) == ["join", "left", "right"]


def test_two_jobs_keep_going_skips_only_dependents(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    err, rec = repro_fails(proj, jobs=2, on_error="keep-going")
    assert str(err) == "failed to reproduce 'bad'"
    assert sorted(evaluated(rec)) == ["bad", "fine"]
    assert list(lock(proj)) == ["fine"]


# -- the command's world: shell lines, env, wdir -----------------------------------------


def test_each_line_of_a_multiline_cmd_runs_in_its_own_shell(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": 'stages:\n  s:\n    cmd: |\n      X=1\n      echo "x=$X" > o.txt\n'
            "    outs: [o.txt]\n"
        }
    )
    _, rec = repro(proj)
    assert commands(rec) == ["X=1", 'echo "x=$X" > o.txt']
    assert (proj.root / "o.txt").read_text() == "x=\n"
    assert lock(proj)["s"]["cmd"] == 'X=1\necho "x=$X" > o.txt\n'


def test_commands_see_dvc_root_and_their_stage_address(make_project: Make) -> None:
    stage = (
        'stages:\n  s:\n    cmd: echo "$DVC_ROOT|$DVC_STAGE|$(pwd)" > env.txt\n'
        "    outs: [env.txt]\n"
    )
    proj = make_project({"dvc.yaml": stage, "sub/dvc.yaml": stage})
    repro(proj, targets=["dvc.yaml", "sub/dvc.yaml"])
    root = os.path.realpath(proj.root)
    top = (proj.root / "env.txt").read_text().strip().split("|")
    sub = (proj.root / "sub/env.txt").read_text().strip().split("|")
    assert [os.path.realpath(top[0]), top[1], os.path.realpath(top[2])] == [root, "s", root]
    assert sub[1] == "sub/dvc.yaml:s"
    assert os.path.realpath(sub[2]) == os.path.join(root, "sub")


def test_a_dvc_root_already_set_is_kept(
    make_project: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DVC_ROOT", "/somewhere/else")
    proj = make_project(
        {"dvc.yaml": 'stages:\n  s:\n    cmd: echo "$DVC_ROOT" > env.txt\n    outs: [env.txt]\n'}
    )
    repro(proj)
    assert (proj.root / "env.txt").read_text() == "/somewhere/else\n"


def test_wdir_sets_where_commands_run_and_what_paths_mean(make_project: Make) -> None:
    proj = make_project(
        {
            "work/in.txt": "w",
            "work/params.yaml": "n: 3\n",
            "dvc.yaml": (
                "stages:\n"
                "  s:\n"
                "    wdir: work\n"
                "    cmd: cat in.txt > out.txt && pwd > where.txt\n"
                "    deps: [in.txt]\n"
                "    params: [n]\n"
                "    outs: [out.txt, where.txt]\n"
            ),
        }
    )
    repro(proj)
    assert (proj.root / "work/out.txt").read_text() == "w"
    assert os.path.realpath((proj.root / "work/where.txt").read_text().strip()) == (
        os.path.realpath(proj.root / "work")
    )
    entry = lock(proj)["s"]
    assert entry["deps"][0]["path"] == "in.txt"
    assert entry["params"] == {"params.yaml": {"n": 3}}
    assert [o["path"] for o in entry["outs"]] == ["out.txt", "where.txt"]
    proj.gen({"work/params.yaml": "n: 4\n"})
    assert status(proj) == {"s": ["param params.yaml:n modified"]}


def test_directory_outputs_are_stored_as_a_manifest(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: mkdir -p d/e && echo 1 > d/a && echo 2 > d/e/b\n"
            "    outs: [d]\n"
        }
    )
    repro(proj)
    dir_md5 = out_md5(proj, "s", "d")
    assert dir_md5.endswith(".dir")
    assert {md5_of("1\n"), md5_of("2\n"), dir_md5} == cache_oids(proj)
    manifest = cache_path(proj, dir_md5).read_bytes()
    assert md5_of(manifest) + ".dir" == dir_md5
    shutil.rmtree(proj.root / "d")
    _, rec = repro(proj)
    assert started(rec) == ["s"]  # no dependency: not run-cacheable, so it runs again
    assert (proj.root / "d/e/b").read_text() == "2\n"


# -- the command line ---------------------------------------------------------------------


def cli(proj: TmpProject, *args: str) -> tuple[int, str, str]:
    out = proj.labrun(*args)
    assert "Traceback" not in out.stdout + out.stderr
    return out.returncode, out.stdout, out.stderr


def test_cli_exit_codes_for_success_failure_and_ignored_failure(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    code, out, err = cli(proj, "repro", "fine")
    assert code == 0 and "Running stage 'fine':\n> echo ok > fine.txt\n" in out
    code, out, err = cli(proj, "repro")
    assert code == 255
    assert err.strip().splitlines()[-1] == f"ERROR: failed to reproduce 'bad': {BAD_CMD}"
    code, out, err = cli(proj, "repro", "--ignore-errors")
    assert code == 0
    assert f"WARNING: {BAD_CMD} (ignored)" in err
    code, out, err = cli(proj, "repro", "-k")
    assert code == 255
    assert "WARNING: Stages 'after' and 'later' will be skipped due to this failure" in err
    assert err.strip().splitlines()[-1] == "ERROR: failed to reproduce 'bad'"


def test_cli_keep_going_prints_what_dvc_prints(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    code, out, _ = cli(proj, "repro", "-k")
    assert code == 255
    assert out == (
        "Running stage 'bad':\n"
        "> echo partial > bad.txt && exit 3\n"
        "Running stage 'fine':\n"
        "> echo ok > fine.txt\n"
        "Generating lock file 'dvc.lock'\n"
        "Updating lock file 'dvc.lock'\n"
    )


def test_cli_keep_going_and_ignore_errors_last_one_wins(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    assert cli(proj, "repro", "-k", "--ignore-errors")[0] == 0
    assert cli(proj, "repro", "--ignore-errors", "-k")[0] == 255


def test_cli_bad_arguments_exit_254(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    code, _, err = cli(proj, "repro", "--bogus")
    assert code == 254
    assert "unrecognized arguments: --bogus" in err
    assert cli(proj, "repro", "-j", "zero")[0] == 254
    assert not (proj.root / "prep.txt").exists()


def test_cli_interactive_without_a_terminal_aborts(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    code, _, err = cli(proj, "repro", "-i")
    assert code == 255
    assert "ERROR: failed to reproduce 'prep': reproduction aborted by the user" in err


def test_cli_errors_never_print_a_traceback(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  a:\n    cmd: echo\n    deps: [nope.txt]\n    outs: [o]\n"
            "  b:\n    cmd: echo x > o2\n    params: [missing]\n    outs: [o2]\n",
            "params.yaml": "other: 1\n",
        }
    )
    for args in (["repro"], ["repro", "b"], ["repro", "nosuch"], ["repro", "-f"], ["status"]):
        code, _, err = cli(proj, *args)
        assert code == (0 if args == ["status"] else 255), (args, err)
        assert "unexpected error" not in err
    proj.gen({"dvc.yaml": "stages: [\n"})
    code, _, err = cli(proj, "repro")
    assert code == 255 and "dvc.yaml" in err


def test_cli_status_after_a_run(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    assert cli(proj, "repro")[0] == 0
    (proj.root / "data.txt").write_text("bye\n")
    code, out, _ = cli(proj, "status")
    assert code == 0
    assert out == "prep:\n\tchanged deps:\n\t\tmodified:           data.txt\n"


def test_run_events_end_with_a_summary(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    _, rec = repro(proj)
    assert isinstance(rec.events[-1], ev.RunFinished)
    assert rec.events[-1].changed
    assert [type(e).__name__ for e in rec.events if e.stage == "prep"] == [
        "StageStarted",
        "CommandStarted",
        "LockWritten",
        "StageSucceeded",
    ]


# -- cache links, run-cache details, data sources, subdirectories, Git --------------------


def test_allow_missing_still_sees_a_dependency_changed_upstream(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    repro(proj)
    (proj.root / "data.txt").write_text("bye\n")
    repro(proj, targets=["prep"], single_item=True)  # prep recorded a new prep.txt
    (proj.root / "prep.txt").unlink()
    err, rec = repro_fails(proj, allow_missing=True)
    assert skipped(rec) == ["prep"]
    assert str(err) == "failed to reproduce 'train': dependency 'prep.txt' does not exist"


def test_two_jobs_stop_starting_stages_after_a_failure(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  bad:\n"
                "    cmd: exit 2\n"
                "  slow:\n"
                "    cmd: sleep 3 && echo s > slow.txt\n"
                "    outs: [slow.txt]\n"
                "  next1:\n"
                "    cmd: echo 1 > n1.txt\n"
                "    outs: [n1.txt]\n"
                "  next2:\n"
                "    cmd: echo 2 > n2.txt\n"
                "    outs: [n2.txt]\n"
            )
        }
    )
    err, rec = repro_fails(proj, jobs=2)
    assert str(err) == "failed to reproduce 'bad': failed to run: exit 2, exited with 2"
    assert sorted(evaluated(rec)) == ["bad", "slow"]
    assert list(lock(proj)) == ["slow"]  # the stage already running finished and was recorded
    assert not (proj.root / "n1.txt").exists()


def test_single_item_keep_going_cannot_skip_dependents(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": FAILING})
    err, rec = repro_fails(proj, targets=["bad", "after"], single_item=True, on_error="keep-going")
    assert str(err) == "failed to reproduce 'bad'"
    assert started(rec) == ["bad", "after"]
    assert (proj.root / "after.txt").read_text() == "partial\n"


def test_a_data_source_is_verified_and_rewritten_when_its_data_changes(make_project: Make) -> None:
    raw_dvc = f"outs:\n- md5: {md5_of('raw')}\n  size: 3\n  hash: md5\n  path: raw.txt\n"
    proj = make_project(
        {
            "raw.txt": "raw",
            "raw.txt.dvc": raw_dvc,
            "dvc.yaml": "stages:\n  use:\n    cmd: cat raw.txt > used.txt\n    deps: [raw.txt]\n"
            "    outs: [used.txt]\n",
        }
    )
    _, rec = repro(proj)  # raw.txt is not in the cache yet: verified and committed
    assert verified(rec) == ["raw.txt.dvc"] and started(rec) == ["use"]
    assert md5_of("raw") in cache_oids(proj)
    _, rec = repro(proj)
    assert [e.stage for e in rec.of(ev.StageSkipped) if e.data_source] == ["raw.txt.dvc"]
    _, rec = repro(proj, downstream=True)
    assert evaluated(rec) == ["use"]
    (proj.root / "raw.txt").write_text("raw2")
    _, rec = repro(proj)
    assert verified(rec) == ["raw.txt.dvc"] and started(rec) == ["use"]
    assert (proj.root / "raw.txt.dvc").read_text() == raw_dvc.replace(
        md5_of("raw"), md5_of("raw2")
    ).replace("size: 3", "size: 4")
    assert (proj.root / "used.txt").read_text() == "raw2"


def test_repro_from_a_subdirectory_uses_its_dvc_yaml(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": CHAIN,
            "data.txt": "hello\n",
            "sub/dvc.yaml": "stages:\n  report:\n    cmd: cat ../model.txt > r.txt && "
            'echo "$DVC_STAGE" > who.txt\n    deps: [../model.txt]\n    outs: [r.txt]\n',
        }
    )
    rec = ev.RecordingReporter()
    api.repro(proj.root / "sub", api.ReproOptions(), rec)
    assert started(rec) == ["../dvc.yaml:prep", "../dvc.yaml:train", "report"]
    assert (proj.root / "sub/who.txt").read_text() == "report\n"
    assert [(e.stage, e.path) for e in rec.of(ev.LockWritten)][-1] == ("report", "dvc.lock")
    assert list(lock(proj, "sub/dvc.lock")) == ["report"]


def test_outputs_go_to_gitignore_and_a_failed_run_takes_them_back(
    tmp_project: TmpProject,
) -> None:
    proj = tmp_project
    proj.gen({"dvc.yaml": CHAIN, "data.txt": "hello\n"})
    _, rec = repro(proj)
    assert (proj.root / ".gitignore").read_text() == "/prep.txt\n/model.txt\n"
    (finished,) = rec.of(ev.RunFinished)
    assert sorted(finished.git_add) == [".gitignore", "dvc.lock"]
    proj.gen({"dvc.yaml": CHAIN + "  bad:\n    cmd: echo > b.txt && exit 1\n    outs: [b.txt]\n"})
    repro_fails(proj)
    assert (proj.root / ".gitignore").read_text() == "/prep.txt\n/model.txt\n"


def test_an_empty_directory_output_is_recorded_with_a_warning(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": "stages:\n  s:\n    cmd: mkdir -p d\n    outs: [d]\n"})
    _, rec = repro(proj)
    assert "'d' is empty." in warnings(rec)
    assert lock(proj)["s"]["outs"][0]["nfiles"] == 0
