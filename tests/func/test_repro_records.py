"""Stories about what repro records and what it tells Git, as DVC does: frozen stages
re-saved, params whose type changes, `.dvc` files re-saved with their comments, the
`git add` hint, `.gitignore` entries, `--pull` without remote storage, the `--dry`
layout and the exit status of `status` on errors."""

from __future__ import annotations

import os

from labrun.repro import events as ev
from labrun.repro.run import StagePulled
from tests.conftest import TmpProject
from tests.func.repro_fixtures import (
    Make,
    cache_oids,
    lock,
    md5_of,
    out_md5,
    repro,
    restored,
    run_cache_entries,
    skipped,
    started,
    status,
    verified,
    warnings,
)

FROZEN_B = """\
stages:
  a:
    cmd: cat a_in.txt > a.txt
    deps: [a_in.txt]
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
    frozen: true
"""

USE_RAW = (
    "stages:\n  use:\n    cmd: cat raw.txt > used.txt\n    deps: [raw.txt]\n    outs: [used.txt]\n"
)

NO_REMOTE = (
    "Failed to pull run cache: config file error: no remote specified in {root}. "
    "Create a default remote with\n    dvc remote add -d <remote name> <remote url>"
)


def cli(proj: TmpProject, *args: str) -> tuple[int, str, str]:
    out = proj.labrun(*args)
    assert "Traceback" not in out.stdout + out.stderr
    return out.returncode, out.stdout, out.stderr


def rewrite(path: os.PathLike[str] | str, text: str) -> None:
    """Replace a (possibly read-only, cache-linked) workspace file."""
    os.chmod(path, 0o644)
    os.unlink(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# -- frozen stages -----------------------------------------------------------------------


def test_re_saving_a_frozen_stage_hashes_its_deps_again_and_records_the_run(
    make_project: Make,
) -> None:
    proj = make_project({"dvc.yaml": FROZEN_B.replace("frozen: true", "frozen: false")})
    proj.gen({"a_in.txt": "a v1\n"})
    repro(proj)
    proj.gen({"dvc.yaml": FROZEN_B, "a_in.txt": "a v2\n"})
    _, rec = repro(proj)
    assert started(rec) == ["a"] and skipped(rec) == ["b"]
    assert lock(proj)["b"]["deps"][0]["md5"] == md5_of("a v1\n")  # frozen: not looked at
    entries = len(run_cache_entries(proj))
    rewrite(proj.root / "b.txt", "hand made\n")
    _, rec = repro(proj)
    assert verified(rec) == ["b"] and started(rec) == []
    assert lock(proj)["b"]["deps"][0]["md5"] == md5_of("a v2\n")
    assert out_md5(proj, "b", "b.txt") == md5_of("hand made\n")
    assert len(run_cache_entries(proj)) == entries + 1
    assert status(proj) == {}


# -- params ------------------------------------------------------------------------------


def test_a_param_that_becomes_an_equal_float_runs_the_stage_and_records_the_float(
    make_project: Make,
) -> None:
    proj = make_project(
        {
            "params.yaml": "depth: 3\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: cat params.yaml > model.txt\n"
            "    params: [depth]\n    outs: [model.txt]\n",
        }
    )
    repro(proj)
    proj.gen({"params.yaml": "depth: 3.0\n"})
    assert status(proj) == {"train": ["param params.yaml:depth modified"]}
    _, rec = repro(proj)
    assert started(rec) == ["train"] and restored(rec) == []  # not the lock entry's outputs
    assert (proj.root / "model.txt").read_text() == "depth: 3.0\n"
    assert lock(proj)["train"]["params"] == {"params.yaml": {"depth": 3.0}}
    assert "depth: 3.0" in (proj.root / "dvc.lock").read_text()
    assert status(proj) == {}
    _, rec = repro(proj)
    assert skipped(rec) == ["train"]


# -- data sources ------------------------------------------------------------------------


def test_a_re_saved_data_source_keeps_the_comments_of_its_dvc_file(make_project: Make) -> None:
    old = md5_of("raw")
    text = (
        "# top comment\n"
        f"outs:\n- md5: {old}\n  size: 3\n  hash: md5\n  path: raw.txt  # inline comment\n"
        "# before meta\nmeta:\n  owner: me  # who\ndesc: raw data\n"
    )
    proj = make_project({"raw.txt": "raw", "raw.txt.dvc": text, "dvc.yaml": USE_RAW})
    repro(proj)
    rewrite(proj.root / "raw.txt", "raw2")
    _, rec = repro(proj)
    assert verified(rec) == ["raw.txt.dvc"] and started(rec) == ["use"]
    new = text.replace(old, md5_of("raw2")).replace("size: 3", "size: 4")
    assert (proj.root / "raw.txt.dvc").read_text() == new


def test_force_puts_an_unchanged_data_source_on_the_git_add_list(
    tmp_project: TmpProject,
) -> None:
    proj = tmp_project
    raw_dvc = f"outs:\n- md5: {md5_of('raw')}\n  size: 3\n  hash: md5\n  path: raw.txt\n"
    proj.gen({"raw.txt": "raw", "raw.txt.dvc": raw_dvc, "dvc.yaml": USE_RAW})
    repro(proj)
    proj.commit()
    _, rec = repro(proj, force=True)
    assert verified(rec) == ["raw.txt.dvc"] and started(rec) == ["use"]
    assert (proj.root / "raw.txt.dvc").read_text() == raw_dvc  # same bytes, yet listed
    (finished,) = rec.of(ev.RunFinished)
    assert "raw.txt.dvc" in finished.git_add


# -- .gitignore --------------------------------------------------------------------------


def test_outputs_git_already_ignores_get_no_entry(tmp_project: TmpProject) -> None:
    proj = tmp_project
    proj.gen(
        {
            ".gitignore": "*.log\n/build/\n",
            "in.txt": "in\n",
            "dvc.yaml": "stages:\n  logs:\n    cmd: cp in.txt run.log && cp in.txt out.txt && "
            "mkdir -p build && cp in.txt build/b.txt\n    deps: [in.txt]\n"
            "    outs: [run.log, out.txt, build]\n",
        }
    )
    repro(proj)
    assert (proj.root / ".gitignore").read_text() == "*.log\n/build/\n/out.txt\n"
    (proj.root / "run.log").unlink()
    _, rec = repro(proj)
    assert restored(rec) == ["logs"]
    assert (proj.root / ".gitignore").read_text() == "*.log\n/build/\n/out.txt\n"


def test_a_failed_run_takes_back_only_the_entries_that_needed_no_escaping(
    tmp_project: TmpProject,
) -> None:
    proj = tmp_project
    proj.gen({"in.txt": "in\n", "committed.txt": "in git\n"})
    proj.commit()
    proj.gen(
        {
            "dvc.yaml": "stages:\n  more:\n    cmd: cp in.txt 'b[2].txt' && cp in.txt plain.txt\n"
            "    deps: [in.txt]\n    outs: ['b[2].txt', plain.txt]\n"
            "  tracked:\n    cmd: cp in.txt committed.txt\n    deps: [plain.txt]\n"
            "    outs: [committed.txt]\n"
        }
    )
    code, _, err = cli(proj, "repro")
    assert code == 255 and "output 'committed.txt' is already tracked by SCM" in err
    # as DVC: the entry is looked for unescaped, so `/b\[2\].txt` is not found and stays
    assert (proj.root / ".gitignore").read_text() == "/b\\[2\\].txt\n"


# -- --pull without remote storage -------------------------------------------------------


def test_pull_without_remote_warns_and_checks_missing_outputs_out_of_the_cache(
    make_project: Make,
) -> None:
    proj = make_project({"dvc.yaml": USE_RAW, "raw.txt": "raw"})
    repro(proj)
    result, rec = repro(proj, pull=True)
    assert warnings(rec) == [NO_REMOTE.format(root=proj.root)]
    assert skipped(rec) == ["use"] and rec.of(StagePulled) == []
    (proj.root / "used.txt").unlink()
    result, rec = repro(proj, pull=True)
    assert rec.of(StagePulled) == [StagePulled("use", found=True)]
    assert started(rec) == [] and not result.changed
    assert (proj.root / "used.txt").read_text() == "raw"
    _, rec = repro(proj, pull=True, no_run_cache=True)
    assert warnings(rec) == []  # the run-cache is not pulled: nothing to warn about


def test_pull_runs_a_stage_whose_outputs_are_not_in_the_cache(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": USE_RAW, "raw.txt": "raw"})
    repro(proj)
    (proj.root / "used.txt").unlink()
    (proj.root / ".dvc/cache/files/md5" / md5_of("raw")[:2] / md5_of("raw")[2:]).unlink()
    code, out, _ = cli(proj, "repro", "--pull")
    assert code == 0
    assert out.startswith(
        "Pulling data for stage: 'use'\nUnable to pull data for stage: 'use'\n"
        "Running stage 'use':\n> cat raw.txt > used.txt\n"
    )
    assert md5_of("raw") in cache_oids(proj)


def test_pull_with_remote_storage_configured_is_refused(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": USE_RAW, "raw.txt": "raw"})
    proj.gen({".dvc/config": "[core]\n    remote = s\n['remote \"s\"']\n    url = /nowhere\n"})
    code, _, err = cli(proj, "repro", "--pull")
    assert code == 255 and "ERROR: --pull cannot read remote storage yet" in err
    assert not (proj.root / "used.txt").exists()


# -- console layout and exit statuses ----------------------------------------------------


def test_dry_run_prints_no_empty_line_between_cached_and_running(make_project: Make) -> None:
    two = USE_RAW + "  other:\n    cmd: cat raw.txt > other.txt\n    deps: [raw.txt]\n"
    proj = make_project({"dvc.yaml": two + "    outs: [other.txt]\n", "raw.txt": "raw"})
    repro(proj)
    (proj.root / "used.txt").unlink()
    code, out, _ = cli(proj, "repro", "--dry")
    assert code == 0
    assert out == (
        "Stage 'use' is cached - skipping run, checking out outputs\n"
        "Running stage 'use':\n"
        "> cat raw.txt > used.txt\n"
        "\n"
        "Stage 'other' didn't change, skipping\n"
        "Use `dvc push` to send your updates to remote storage.\n"
    )


def test_status_exits_1_on_errors_and_repro_255(make_project: Make) -> None:
    proj = make_project({"dvc.yaml": USE_RAW, "raw.txt": "raw"})
    with open(proj.root / "dvc.yaml", "a", encoding="utf-8") as f:
        f.write("  bad: [\n")
    code, out, err = cli(proj, "status")
    assert (code, out) == (1, "") and "dvc.yaml" in err
    assert cli(proj, "repro")[0] == 255
    proj.gen({"dvc.yaml": USE_RAW})
    code, _, err = cli(proj, "status", "nosuch")
    assert code == 1 and "nosuch" in err
    outside = proj.labrun("status", cwd=proj.root.parent)  # errors with their own status
    assert outside.returncode == 253
