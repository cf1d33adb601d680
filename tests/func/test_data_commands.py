"""Stories of the data commands: add, checkout, commit, gc and `cache dir`, through
the API and the command line, on real temporary projects."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from labrun.errors import ConfigError, LabrunError, TargetError
from labrun.repro import events
from labrun.repro.tracking import apply_diff, render_update
from tests.conftest import TmpProject

Make = Callable[[dict[str, Any]], TmpProject]
CACHE = Path(".dvc/cache/files/md5")
HELLO_MD5 = "b1946ac92492d2347c6235b4d2611184"  # "hello\n"
PIPELINE = (
    "stages:\n  prep:\n    cmd: cp data.txt prep.txt\n    deps: [data.txt]\n    outs: [prep.txt]\n"
)


def obj(root: Path, md5: str) -> Path:
    return root / CACHE / md5[:2] / md5[2:]


def objects(root: Path) -> set[str]:
    base = root / CACHE
    return {p.parent.name + p.name for p in base.glob("*/*")} if base.is_dir() else set()


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def up_to_date(root: Path) -> bool:
    return not [s for s in api.status(root) if s.stale]


# -- add ---------------------------------------------------------------------------------------


def test_add_a_file_writes_the_dvc_file_gitignore_and_cache(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"a.txt": "hello\n"})
    result = api.add(root, ["a.txt"])
    assert (root / "a.txt.dvc").read_text() == (
        f"outs:\n- md5: {HELLO_MD5}\n  size: 6\n  hash: md5\n  path: a.txt\n"
    )
    assert (root / ".gitignore").read_text() == "/a.txt\n"
    assert obj(root, HELLO_MD5).read_bytes() == b"hello\n"
    assert stat.S_IMODE(obj(root, HELLO_MD5).stat().st_mode) == 0o444
    assert result.git_add == ["a.txt.dvc", ".gitignore"]
    assert up_to_date(root)


def test_add_a_directory_and_an_executable(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"data": {"x": "x\n", "sub": {"y": "y\n"}}, "run.sh": "#!/bin/sh\n"})
    (root / "run.sh").chmod(0o755)
    api.add(root, ["data", "run.sh"])
    text = (root / "data.dvc").read_text()
    assert text.startswith("outs:\n- md5: ") and ".dir\n  size: 4\n  nfiles: 2\n" in text
    exec_record = (root / "run.sh.dvc").read_text()
    assert exec_record.endswith("  isexec: true\n  hash: md5\n  path: run.sh\n")
    manifest = [o for o in objects(root) if o.endswith(".dir")]
    assert len(manifest) == 1
    assert obj(root, manifest[0]).read_bytes() == (
        b'[{"md5": "009520053b00386d1173f3988c55d192", "relpath": "sub/y"}, '
        b'{"md5": "401b30e3b8b5d629635a5c613cdb7919", "relpath": "x"}]'
    )
    assert (root / ".gitignore").read_text() == "/data\n/run.sh\n"
    assert up_to_date(root)


def test_re_adding_modified_data_keeps_comments_and_flags(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"a.txt": "hello\n"})
    api.add(root, ["a.txt"])
    (root / "a.txt.dvc").write_text(
        "# raw data, do not edit\n"
        f"outs:\n- md5: {HELLO_MD5}   # checked by hand\n  size: 6\n  hash: md5\n"
        "  path: a.txt\n  desc: the data\nmeta: {owner: me}\n"
    )
    (root / "a.txt").write_text("hello again, a longer text\n")
    api.add(root, ["a.txt"])
    assert (root / "a.txt.dvc").read_text() == (
        "# raw data, do not edit\n"
        "outs:\n- md5: 8ce6d7ff83976db46a5cc2ace0405cd9   # checked by hand\n  size: 27\n"
        "  hash: md5\n  path: a.txt\n  desc: the data\nmeta: {owner: me}\n"
    )
    assert up_to_date(root)


def test_add_inside_a_tracked_directory_updates_the_directory(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"d": {"x": "x\n"}})
    api.add(root, ["d"])
    before = (root / "d.dvc").read_text()
    (root / "d" / "x").write_text("changed\n")
    result = api.add(root, ["d/x"])
    assert result.git_add == ["d.dvc"]
    assert (root / "d.dvc").read_text() != before
    assert not (root / "d" / "x.dvc").exists()
    assert up_to_date(root)


@pytest.mark.parametrize(
    ("files", "target", "message"),
    [
        ({}, "nope.txt", "output 'nope.txt' does not exist: [Errno 2] No such file or directory"),
        ({}, ".dvc/config", "is ignored by :.dvc/"),
        ({".dvcignore": "*.tmp\n", "x.tmp": "x"}, "x.tmp", "is ignored by .dvcignore:1:*.tmp"),
        ({"a.txt.dvc": "outs: []\n"}, "a.txt.dvc", "DVC file 'a.txt.dvc' cannot be an output."),
        (
            {"dvc.yaml": PIPELINE, "data.txt": "d", "prep.txt": "d"},
            "prep.txt",
            "cannot update 'prep.txt': overlaps with an output of stage: 'prep' in 'dvc.yaml'.",
        ),
    ],
)
def test_add_refuses_with_dvcs_messages(
    tmp_project: TmpProject, files: dict[str, Any], target: str, message: str
) -> None:
    tmp_project.gen(files)
    with pytest.raises(api.DataCommandError) as err:
        api.add(tmp_project.root, [target])
    assert message in err.value.message
    assert err.value.exit_code == 1


def test_add_refuses_data_git_tracks_and_writes_nothing(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"a.txt": "a", "t.txt": "t"})
    tmp_project.git("add", "t.txt")
    with pytest.raises(api.DataCommandError, match=r"output 't\.txt' is already tracked by SCM"):
        api.add(root, ["a.txt", "t.txt"])
    assert not (root / "a.txt.dvc").exists()
    assert not (root / ".gitignore").exists()
    assert objects(root) == set()


def test_add_refuses_a_directory_holding_tracked_data(tmp_project: TmpProject) -> None:
    tmp_project.gen({"sub": {"f": "f"}})
    api.add(tmp_project.root, ["sub/f"])
    with pytest.raises(api.DataCommandError) as err:
        api.add(tmp_project.root, ["sub"])
    assert err.value.message == (
        "Cannot add 'sub', because it is overlapping with other DVC tracked output: 'sub/f'.\n"
        "To include 'sub/f' in 'sub', run 'dvc remove sub/f.dvc' and then 'dvc add sub'"
    )


def test_add_outside_the_project_is_refused(tmp_project: TmpProject) -> None:
    outside = tmp_project.root.parent / "outside.txt"
    outside.write_text("o")
    with pytest.raises(api.DataCommandError, match="Cached output\\(s\\) outside of DVC project"):
        api.add(tmp_project.root, [str(outside)])


def test_add_no_commit_then_commit(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"a.txt": "hello\n"})
    api.add(root, ["a.txt"], no_commit=True)
    assert (root / "a.txt.dvc").exists() and objects(root) == set()
    assert [r.status for r in api.status(root)[0].reasons] == ["not in cache"]
    api.commit(root, ["a.txt.dvc"], api.CommitOptions(force=True))
    assert objects(root) == {HELLO_MD5}
    assert up_to_date(root)


def test_autostage_stages_the_files_instead_of_a_hint(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    (root / ".dvc" / "config").write_text("[core]\n    autostage = true\n")
    tmp_project.gen({"a.txt": "hello\n"})
    assert api.add(root, ["a.txt"]).git_add == []
    staged = tmp_project.git("diff", "--cached", "--name-only").split()
    assert {"a.txt.dvc", ".gitignore"} <= set(staged)


def test_add_without_git_writes_no_gitignore(make_project: Make) -> None:
    proj = make_project({"a.txt": "hello\n"})
    assert api.add(proj.root, ["a.txt"]).git_add == []
    assert not (proj.root / ".gitignore").exists()
    assert (proj.root / "a.txt.dvc").exists()


def test_add_skips_the_gitignore_entry_when_git_already_ignores(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({".gitignore": "data/\n", "data": {"a.csv": "1"}})
    assert api.add(root, ["data/a.csv"]).git_add == ["data/a.csv.dvc"]
    assert not (root / "data" / ".gitignore").exists()


def test_add_honours_hardlink_cache_type(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    (root / ".dvc" / "config").write_text("[cache]\n    type = hardlink\n")
    tmp_project.gen({"a.txt": "hello\n"})
    api.add(root, ["a.txt"])
    assert os.path.samefile(root / "a.txt", obj(root, HELLO_MD5))


@pytest.mark.parametrize("cache_type", ["reflink,copy", "hardlink", "symlink"])
def test_add_then_checkout_a_tree_of_many_files(tmp_project: TmpProject, cache_type: str) -> None:
    root = tmp_project.root
    (root / ".dvc" / "config").write_text(f"[cache]\n    type = {cache_type}\n")
    tree = {f"c{i}": {f"f{j}.txt": f"{i}:{j}\n" for j in range(60)} for i in range(6)}
    tree["c0"]["dup.txt"] = "0:0\n"  # same content twice: one object
    tmp_project.gen({"data": tree})
    api.add(root, ["data"])
    assert len(objects(root)) == 361  # 360 distinct files + the manifest
    assert not list((root / ".dvc" / "cache").rglob("*.tmp"))
    assert all(stat.S_IMODE(obj(root, o).stat().st_mode) == 0o444 for o in objects(root))
    if cache_type != "reflink,copy":
        assert os.path.samefile(root / "data" / "c3" / "f5.txt", obj(root, md5_of(b"3:5\n")))
    assert up_to_date(root)
    shutil.rmtree(root / "data")
    summary = api.checkout(root)
    assert (summary.added, summary.stats["added"]) == (["data/"], 361)
    assert (root / "data" / "c5" / "f59.txt").read_text() == "5:59\n"
    assert up_to_date(root)


def test_add_of_a_big_file_stores_it_in_one_pass(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    data = os.urandom(5 * 1024 * 1024 + 3)
    (root / "big.bin").write_bytes(data)
    api.add(root, ["big.bin"])
    assert obj(root, md5_of(data)).read_bytes() == data
    assert not list((root / ".dvc" / "cache").rglob("*.tmp"))
    assert up_to_date(root)
    (root / "big.bin").unlink()
    api.checkout(root)
    assert (root / "big.bin").read_bytes() == data


def test_add_after_status_stores_files_the_memo_knows(tmp_project: TmpProject) -> None:
    """Files hashed earlier are not read again to hash; their objects are still stored."""
    root = tmp_project.root
    tmp_project.gen({"d": {"a": "a\n", "b": "b\n"}, "f.txt": "f\n"})
    api.add(root, ["d", "f.txt"], no_commit=True)  # hashes into the memo, stores nothing
    assert objects(root) == set()
    api.commit(root, ["d.dvc", "f.txt.dvc"], api.CommitOptions(force=True))
    assert objects(root) == {md5_of(b"a\n"), md5_of(b"b\n"), md5_of(b"f\n")} | {
        o for o in objects(root) if o.endswith(".dir")
    }
    assert up_to_date(root)


def test_cli_add_prints_the_git_hint(tmp_project: TmpProject, capsys: Any) -> None:
    tmp_project.gen({"sub": {"my file.txt": "x"}})
    code, out, err = tmp_project.main("add", "sub/my file.txt", capsys=capsys)
    assert code == 0, err
    assert out == (
        "\nTo track the changes with git, run:\n\n\tgit add 'sub/my file.txt.dvc' sub/.gitignore\n"
        "\nTo enable auto staging, run:\n\n\tdvc config core.autostage true\n"
    )
    assert (tmp_project.root / "sub" / ".gitignore").read_text() == "/my file.txt\n"
    code, out, err = tmp_project.main("add", "-q", "nope", capsys=capsys)
    assert (code, out) == (1, "")


# -- checkout ----------------------------------------------------------------------------------


@pytest.fixture
def tracked(tmp_project: TmpProject) -> TmpProject:
    """a.txt, d/{x,s/y} and run.sh added and committed to Git."""
    tmp_project.gen({"a.txt": "hello\n", "d": {"x": "x\n", "s": {"y": "y\n"}}, "run.sh": "#!\n"})
    (tmp_project.root / "run.sh").chmod(0o755)
    api.add(tmp_project.root, ["a.txt", "d", "run.sh"])
    tmp_project.commit("data")
    return tmp_project


def test_checkout_restores_what_is_missing_and_touches_nothing_else(tracked: TmpProject) -> None:
    root = tracked.root
    (root / "a.txt").unlink()
    (root / "d" / "s" / "y").unlink()
    untouched = (root / "d" / "x").stat()
    summary = api.checkout(root)
    assert (summary.added, summary.modified, summary.deleted) == (["a.txt"], ["d/"], [])
    assert summary.stats == {"modified": 0, "added": 2, "deleted": 0}
    assert (root / "a.txt").read_text() == "hello\n"
    assert (root / "d" / "s" / "y").read_text() == "y\n"
    after = (root / "d" / "x").stat()
    assert (after.st_ino, after.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    assert api.checkout(root).stats == {"modified": 0, "added": 0, "deleted": 0}
    assert up_to_date(root)


def test_checkout_refuses_to_discard_unsaved_work(tracked: TmpProject) -> None:
    root = tracked.root
    (root / "a.txt").unlink()
    (root / "a.txt").write_text("my precious edit\n")
    (root / "d" / "new").write_text("new\n")
    (root / "run.sh").unlink()
    with pytest.raises(LabrunError) as err:
        api.checkout(root)
    assert err.value.message == (
        "Can't remove the following unsaved files without confirmation. Use `--force` to force.\n"
        f"{root}/a.txt\n{root}/d/new"
    )
    assert not (root / "run.sh").exists()  # nothing was changed at all
    summary = api.checkout(root, options=api.CheckoutOptions(force=True))
    assert (summary.modified, summary.added) == (["d/", "a.txt"], ["run.sh"])
    assert not (root / "d" / "new").exists()
    assert os.access(root / "run.sh", os.X_OK)
    assert up_to_date(root)


def test_checkout_of_missing_objects_names_the_outputs(tracked: TmpProject) -> None:
    root = tracked.root
    (root / "a.txt").unlink()
    obj(root, HELLO_MD5).unlink()
    with pytest.raises(api.CheckoutFailedError) as err:
        api.checkout(root)
    assert err.value.message == (
        "Checkout failed for following targets:\na.txt\nIs your cache up to date?\n"
        "<https://error.dvc.org/missing-files>"
    )
    assert err.value.exit_code == 255 and err.value.hint
    assert api.checkout(root, options=api.CheckoutOptions(allow_missing=True)).failed == ["a.txt"]


def test_checkout_targets_granular_paths_and_unknown_names(tracked: TmpProject) -> None:
    root = tracked.root
    (root / "d" / "x").unlink()
    (root / "d" / "s" / "y").unlink()
    summary = api.checkout(root, ["d/s"])
    assert summary.modified == ["d/"] and summary.stats["added"] == 1
    assert not (root / "d" / "x").exists()
    assert api.checkout(root, ["d.dvc"]).stats["added"] == 1
    with pytest.raises(TargetError) as err:
        api.checkout(root, ["nothere"])
    assert err.value.message == (
        "Did you mean `git checkout nothere`?: 'nothere' does not exist as an output or a "
        "stage name in 'dvc.yaml': 'dvc.yaml' does not exist"
    )


def test_checkout_removes_data_no_dvc_file_declares_any_more(tracked: TmpProject) -> None:
    root = tracked.root
    (root / "run.sh.dvc").unlink()
    (root / "d.dvc").unlink()
    (root / "a.txt.dvc").unlink()
    (root / "a.txt").write_text("edited since: kept\n")
    summary = api.checkout(root)
    assert summary.deleted == ["d/", "run.sh"]
    assert not (root / "d").exists() and not (root / "run.sh").exists()
    assert (root / "a.txt").exists()


def test_checkout_relink_switches_to_the_configured_link_type(tracked: TmpProject) -> None:
    root = tracked.root
    assert not os.path.samefile(root / "a.txt", obj(root, HELLO_MD5))
    (root / ".dvc" / "config").write_text("[cache]\n    type = hardlink\n")
    assert api.checkout(root).stats == {"modified": 0, "added": 0, "deleted": 0}
    api.checkout(root, options=api.CheckoutOptions(relink=True))
    assert os.path.samefile(root / "a.txt", obj(root, HELLO_MD5))


def test_cli_checkout_prints_changes_and_summary(tracked: TmpProject, capsys: Any) -> None:
    root = tracked.root
    (root / "a.txt").unlink()
    (root / "d" / "x").unlink()
    sub = root / "sub"
    sub.mkdir()
    code, out, _ = tracked.main("checkout", cwd=sub, capsys=capsys)
    assert (code, out) == (0, "M       ../d/\nA       ../a.txt\n")
    (root / "a.txt").unlink()
    (root / "d" / "x").unlink()
    code, out, _ = tracked.main("checkout", "--summary", capsys=capsys)
    assert (code, out) == (0, "2 files added\n")
    code, out, _ = tracked.main("checkout", "--summary", capsys=capsys)
    assert out == "No changes.\n"
    code, out, _ = tracked.main("checkout", "--relink", capsys=capsys)
    assert (code, out) == (0, "Relinked successfully\n")
    obj(root, HELLO_MD5).unlink()
    (root / "a.txt").unlink()
    code, out, err = tracked.main("checkout", capsys=capsys)
    assert code == 255 and "ERROR: Checkout failed for following targets:\na.txt\n" in err


# -- commit ------------------------------------------------------------------------------------


def test_commit_asks_before_recording_changed_data(tracked: TmpProject, capsys: Any) -> None:
    root = tracked.root
    (root / "a.txt").write_text("hello, world\n")
    questions: list[str] = []
    with pytest.raises(api.DataCommandError) as err:
        api.commit(root, confirm=lambda q: questions.append(q) is not None)
    assert err.value.message == (
        "failed to commit - unable to commit changed stage: 'a.txt.dvc'. Use `-f|--force` to force."
    )
    assert questions == [
        "outputs ['a.txt'] of stage: 'a.txt.dvc' changed. Are you sure you want to commit it?"
    ]
    api.commit(root, confirm=lambda q: True)
    assert "md5: 22c3683b094136c3398391ae71b20f04\n" in (root / "a.txt.dvc").read_text()
    assert up_to_date(root)
    code, _out, err_text = tracked.main("commit", capsys=capsys)
    assert code == 0, err_text


def test_commit_of_a_pipeline_stage_records_deps_and_outputs(tmp_project: TmpProject) -> None:
    root = tmp_project.root
    tmp_project.gen({"dvc.yaml": PIPELINE, "data.txt": "one\n"})
    api.repro(root)
    (root / "data.txt").write_text("two\n")
    (root / "prep.txt").chmod(0o644)
    (root / "prep.txt").write_text("two\n")
    rec = events.RecordingReporter()
    with pytest.raises(api.DataCommandError, match="failed to commit prep - unable to commit"):
        api.commit(root, ["prep"], reporter=rec)
    api.commit(root, ["prep"], api.CommitOptions(force=True), reporter=rec)
    assert [e.path for e in rec.of(events.LockWritten)] == ["dvc.lock"]
    assert up_to_date(root)


def test_commit_errors_name_the_target(tracked: TmpProject) -> None:
    with pytest.raises(api.DataCommandError) as err:
        api.commit(tracked.root, ["nothere"])
    assert err.value.message.startswith(
        "failed to commit nothere - 'nothere' does not exist as an output or a stage name"
    )
    (tracked.root / "a.txt").unlink()
    with pytest.raises(api.DataCommandError, match=r"output 'a\.txt' does not exist"):
        api.commit(tracked.root, options=api.CommitOptions(force=True))


# -- gc ----------------------------------------------------------------------------------------


def test_gc_keeps_exactly_what_the_workspace_uses(tracked: TmpProject) -> None:
    root = tracked.root
    used = objects(root)
    (root / "a.txt").write_text("second version\n")
    api.add(root, ["a.txt"])
    tracked.gen({"gone.txt": "gone\n"})
    api.add(root, ["gone.txt"])
    (root / "gone.txt.dvc").unlink()
    result = api.gc(root, api.GcOptions(workspace=True, dry=True))
    assert len(result.removed["repo"]) == 2 and objects(root) >= used
    result = api.gc(root, api.GcOptions(workspace=True))
    assert objects(root) == (used - {HELLO_MD5}) | {"27f60b341727cb8ed1de139b0da7c173"}
    assert len(result.removed["repo"]) == 2 and result.removed["legacy"] == []
    assert up_to_date(root)


def test_gc_keeps_legacy_objects_in_use(tracked: TmpProject) -> None:
    root = tracked.root
    legacy = root / ".dvc" / "cache" / "aa" / ("1" * 30)
    used_legacy = root / ".dvc" / "cache" / "bb" / ("2" * 30)
    for path in (legacy, used_legacy):
        path.parent.mkdir()
        path.write_text("x")
    tracked.gen({"old.dvc": f"outs:\n- md5: bb{'2' * 30}\n  size: 1\n  path: old\n"})
    assert api.gc(root, api.GcOptions(workspace=True)).removed["legacy"] == [str(legacy)]
    assert used_legacy.exists() and not legacy.exists()


def test_gc_missing_manifest_needs_force(tracked: TmpProject) -> None:
    root = tracked.root
    manifest = next(o for o in objects(root) if o.endswith(".dir"))
    obj(root, manifest).unlink()
    with pytest.raises(LabrunError, match="without cache for directory 'd'"):
        api.gc(root, api.GcOptions(workspace=True))
    api.gc(root, api.GcOptions(workspace=True, force=True))
    assert objects(root) == {HELLO_MD5, "03c57fba7e80571d976873fa839d234e"}


def test_cli_gc_asks_and_reports(
    tracked: TmpProject, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tracked.root
    (root / "a.txt.dvc").unlink()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = tracked.main("gc", "-w", capsys=capsys)
    assert (code, out) == (1, "Are you sure you want to proceed? [y/n]: ")
    assert "WARNING: This will remove all cache except items used in the workspace" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("maybe\ny\n"))
    code, out, _ = tracked.main("gc", "-w", capsys=capsys)
    assert code == 0 and out.endswith(
        "Removed 1 objects from repo cache.\nNo unused 'legacy' cache to remove.\n"
    )
    assert "Your response must be one of: ['yes', 'no', 'y', 'n']" in out
    code, out, _ = tracked.main("gc", "-w", "-f", capsys=capsys)
    assert out == "No unused 'repo' cache to remove.\nNo unused 'legacy' cache to remove.\n"
    code, _, err = tracked.main("gc", "-f", capsys=capsys)
    assert code == 255 and "Either of `-w|--workspace`" in err
    code, _, err = tracked.main("gc", "-w", "-a", "-f", capsys=capsys)
    assert (code, err) == (
        254,
        "ERROR: gc -a|--all-branches is not supported yet; only -w|--workspace is\n",
    )


# -- cache dir ---------------------------------------------------------------------------------


def test_cache_dir_reads_sets_and_unsets(
    tmp_project: TmpProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_project.root
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(root.parent / "global"))
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(root.parent / "system"))
    assert api.cache_dir(root) == str(root / ".dvc" / "cache")
    sub = root / "sub"
    sub.mkdir()
    api.cache_dir(sub, "../../ext")
    assert (root / ".dvc" / "config").read_text() == "[cache]\n    dir = ../../ext\n"
    assert api.cache_dir(root) == str(root.parent / "ext")
    api.cache_dir(root, "local-cache", level="local")
    assert (root / ".dvc" / "config.local").read_text() == "[cache]\n    dir = ../local-cache\n"
    assert api.cache_dir(root, level="local") == str(root / "local-cache")
    api.cache_dir(root, "/abs/cache", level="global")
    assert api.cache_dir(root, level="global") == "/abs/cache"
    api.cache_dir(root, unset=True)
    assert (root / ".dvc" / "config").read_text() == "\n"
    with pytest.raises(ConfigError) as err:
        api.cache_dir(root, unset=True)
    assert err.value.exit_code == 251
    assert err.value.message == (
        "configuration error - config file error: option 'dir' doesn't exist in section 'cache'"
    )


def test_cli_cache_dir(tmp_project: TmpProject, capsys: Any) -> None:
    code, out, _ = tmp_project.main("cache", "dir", capsys=capsys)
    assert (code, out) == (0, f"{tmp_project.root}/.dvc/cache\n")
    code, out, _ = tmp_project.main("cache", "dir", "--local", capsys=capsys)
    assert code == 251
    code, out, _ = tmp_project.main("cache", "dir", "--project", "/x/y", capsys=capsys)
    assert (code, out) == (0, "")
    code, out, _ = tmp_project.main("cache", "dir", capsys=capsys)
    assert out == "/x/y\n"


# -- the .dvc file writer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("outs:\n- md5: abc  # c1\n  size: 6  # sz\n  path: a\n", {"size": 123456}),
        ("outs:\n- md5: abc  # c1\n  size: 123456 # sz\n  path: a\n", {"size": 6}),
        ("# top\n\nouts:\n- md5: abc\n  size: 1\n  # own line\n  path: a\n", {"md5": "123"}),
        ("outs:\n- md5: abc\n  size: 1\n  path: a\nmeta: {x: [1, 2]}  # m\n", {"md5": "def"}),
        ("outs:\n  - md5: abc\n    size: 1\n    path: a\n", {"md5": "def"}),
        ("outs:\n- md5: 'abc'  # q\n  size: 1\n  path: a\n", {"md5": "def"}),
        ("outs:\n- md5: abc  # c\n  size: 1\n  path: a\n", {"nfiles": 2, "size": 3}),
        ("outs:\n- {md5: abc, size: 1, path: a}\n", {"size": 2}),
    ],
)
def test_dvcfile_rewrite_matches_a_ruamel_round_trip(text: str, change: dict[str, Any]) -> None:
    from ruamel.yaml import YAML

    from labrun.pipeline import files

    yaml = YAML()
    yaml.default_flow_style = False
    data = yaml.load(text)
    apply_diff({**dict(data["outs"][0]), **change}, data["outs"][0])
    stream = io.StringIO()
    yaml.dump(data, stream)
    old = files.parse_yaml(text, "x")
    new = files.parse_yaml(text, "x")
    apply_diff({**new["outs"][0], **change}, new["outs"][0])
    ours = render_update(text, old, new)
    if "{md5" in text:  # flow style: labrun writes block style, DVC keeps the flow
        assert files.parse_yaml(ours, "x") == new
        return
    if "  - md5" in text:  # ruamel re-indents: the same bytes, as there is no comment
        assert ours == files.dump_yaml(new) == stream.getvalue()
        return
    if "nfiles" in change:  # a new key: the file is dumped afresh (comments are lost)
        assert ours == files.dump_yaml(new)
        return
    assert ours == stream.getvalue()
