"""`status` of a tracked directory: the fast paths never hide a change.

An unchanged tree is known from one walk and one memo lookup (a token of every
file's inode, mtime, size and mode), and its objects from the cache folders'
stat data, without reading the manifest. These stories edit a tracked tree in
every way a user can and expect what dvc prints; `test_status_tree_compat.py`
runs the same edits through the real dvc.

Files written in the last moments are never vouched for: a same-size rewrite
within the same timestamp tick keeps the stat (the "racy" case).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from labrun.cache.state import STATE_DIR, STATE_FILE
from tests import cache_fixtures as cf
from tests.conftest import TmpProject

Make = Callable[[dict[str, Any]], TmpProject]
UP_TO_DATE = "Data and pipelines are up to date.\n"
MODIFIED = "data.dvc:\n\tchanged outs:\n\t\tmodified:           data\n"
NOT_IN_CACHE = "data.dvc:\n\tchanged outs:\n\t\tnot in cache:       data\n"
TREE: dict[str, Any] = {
    "train": {f"{i}": {f"{j:04d}.png": f"img {i}-{j}\n" for j in range(30)} for i in range(3)},
    "test": {f"{j:04d}.png": f"test {j}\n" for j in range(20)},
    "labels.csv": "a,b\n",
}


def status(proj: TmpProject, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = proj.main("status", capsys=capsys)
    assert code == 0, err
    return out


def tracked(make_project: Make, capsys: pytest.CaptureFixture[str], *, settle: bool) -> TmpProject:
    """A project tracking `data` (files and cache written a minute ago when *settle*),
    after a warm status."""
    proj = make_project({"data": TREE})
    if settle:
        cf.settle(proj.root / "data")
    api.add(proj.root, ["data"])
    if settle:
        cf.settle(proj.root / ".dvc" / "cache")
        settle_folders(proj.root / ".dvc" / "cache")
    else:
        # "just now" must hold however slow the machine: a folder stamped ahead of
        # the clock is as fresh as one written in the status's own tick
        freshen_folders(proj.root / ".dvc" / "cache")
    assert status(proj, capsys) == UP_TO_DATE  # warm: the memo is written now
    return proj


def settle_folders(top: Path) -> None:
    """Date every folder under *top* a minute back (their files keep their times)."""
    for folder in [top, *(p for p in top.rglob("*") if p.is_dir())]:
        old = folder.stat().st_mtime_ns - 60_000_000_000
        os.utime(folder, ns=(old, old))


def freshen_folders(top: Path) -> None:
    """Date every folder under *top* a minute ahead, as if written in this very tick."""
    ahead = time.time_ns() + 60_000_000_000
    for folder in [top, *(p for p in top.rglob("*") if p.is_dir())]:
        os.utime(folder, ns=(ahead, ahead))


def present_rows(root: Path) -> int:
    """How many trees the memo knows to be whole in the cache."""
    conn = sqlite3.connect(root / STATE_DIR / STATE_FILE)
    try:
        return int(conn.execute("SELECT count(*) FROM present").fetchone()[0])
    finally:
        conn.close()


def tree_rows(root: Path) -> int:
    """How many directory rows the memo holds."""
    conn = sqlite3.connect(root / STATE_DIR / STATE_FILE)
    try:
        return int(conn.execute("SELECT count(*) FROM dirs").fetchone()[0])
    finally:
        conn.close()


def cache_object(root: Path, data: bytes) -> Path:
    from labrun.cache.hashing import md5_bytes

    oid = md5_bytes(data)
    return root / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]


# -- the fast path is taken, and would hide nothing but an impossible edit -------------------


def test_unchanged_settled_tree_is_a_lookup(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    assert tree_rows(proj.root) == 1
    # same bytes count, same inode, mtime put back: only a memo would miss it, which
    # proves the tree was not read (no real edit keeps a settled file's mtime)
    cf.rewrite_keeping_stat(proj.root / "data" / "train" / "1" / "0007.png", b"IMG 1-7\n")
    assert status(proj, capsys) == UP_TO_DATE


def test_tree_written_just_now_is_read_again(make_project: Make, capsys: Any) -> None:
    proj = make_project({"data": TREE})
    # stamped as written in the tick in which status reads them: every file is racy
    fresh = time.time_ns() + 60_000_000_123
    for path in (proj.root / "data").rglob("*"):
        os.utime(path, ns=(fresh, fresh))
    api.add(proj.root, ["data"])
    assert status(proj, capsys) == UP_TO_DATE
    assert tree_rows(proj.root) == 0  # nothing vouched for
    # a same-size rewrite within the tick of the last write keeps the stat
    cf.rewrite_keeping_stat(proj.root / "data" / "train" / "1" / "0007.png", b"IMG 1-7\n")
    assert status(proj, capsys) == MODIFIED


def test_racy_file_in_a_settled_tree_is_read_again(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    path = proj.root / "data" / "test" / "0003.png"
    path.write_bytes(b"TEST 3\n")  # an edit: new mtime, same size
    path.write_bytes(b"test 3\n")  # and back, within the same moment
    assert status(proj, capsys) == UP_TO_DATE  # re-read: the content is as recorded
    assert tree_rows(proj.root) == 1  # the old tree row; the new tree is not vouched for
    cf.rewrite_keeping_stat(path, b"TEST 3\n")  # a rewrite in the same tick
    assert status(proj, capsys) == MODIFIED


# -- every kind of edit shows ----------------------------------------------------------------


def _touch(root: Path) -> None:
    os.utime(root / "data" / "train" / "2" / "0011.png")


def _same_size(root: Path) -> None:
    (root / "data" / "train" / "2" / "0011.png").write_text("IMG 2-11\n")


def _other_size(root: Path) -> None:
    (root / "data" / "train" / "0" / "0000.png").write_text("bigger image\n")


def _added(root: Path) -> None:
    (root / "data" / "train" / "1" / "new.png").write_text("new\n")


def _removed(root: Path) -> None:
    (root / "data" / "test" / "0019.png").unlink()


def _renamed(root: Path) -> None:
    os.rename(root / "data" / "test" / "0019.png", root / "data" / "test" / "0020.png")


def _moved_folder(root: Path) -> None:
    os.rename(root / "data" / "train" / "2", root / "data" / "train" / "9")


def _empty_folder(root: Path) -> None:
    (root / "data" / "train" / "empty").mkdir()


def _executable(root: Path) -> None:
    os.chmod(root / "data" / "labels.csv", 0o755)


def _replaced_keeping_stat(root: Path) -> None:
    """Same size and mtime, another inode: a copy put in place with its time restored."""
    path = root / "data" / "labels.csv"
    before = path.stat()
    other = root / "elsewhere.csv"
    other.write_text("c,d\n")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, path)


def _swapped(root: Path) -> None:
    """Two files of the same size swap their names (and their stat data with them)."""
    a, b = root / "data" / "test" / "0001.png", root / "data" / "test" / "0002.png"
    os.rename(a, root / "tmp.png")
    os.rename(b, a)
    os.rename(root / "tmp.png", b)


def _ignored_file(root: Path) -> None:
    (root / ".dvcignore").write_text("*.tmp\n")
    (root / "data" / "train" / "scratch.tmp").write_text("scratch\n")


def _file_to_folder(root: Path) -> None:
    (root / "data" / "labels.csv").unlink()
    (root / "data" / "labels.csv").mkdir()


EDITS: dict[str, tuple[Callable[[Path], None], str]] = {
    "touched": (_touch, UP_TO_DATE),
    "same size": (_same_size, MODIFIED),
    "other size": (_other_size, MODIFIED),
    "added": (_added, MODIFIED),
    "removed": (_removed, MODIFIED),
    "renamed": (_renamed, MODIFIED),
    "moved folder": (_moved_folder, MODIFIED),
    "empty folder": (_empty_folder, UP_TO_DATE),
    "executable": (_executable, UP_TO_DATE),
    "replaced keeping stat": (_replaced_keeping_stat, MODIFIED),
    "swapped": (_swapped, MODIFIED),
    "ignored file": (_ignored_file, UP_TO_DATE),
    "file to folder": (_file_to_folder, MODIFIED),
}


@pytest.mark.parametrize("edit", EDITS)
def test_each_edit_shows_as_dvc_shows_it(make_project: Make, capsys: Any, edit: str) -> None:
    proj = tracked(make_project, capsys, settle=True)
    change, expected = EDITS[edit]
    change(proj.root)
    assert status(proj, capsys) == expected
    assert status(proj, capsys) == expected  # and again, from what the first one recorded


def test_edit_then_undo_is_up_to_date_again(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    path = proj.root / "data" / "train" / "0" / "0005.png"
    path.write_text("IMG 0-5\n")
    assert status(proj, capsys) == MODIFIED
    path.write_text("img 0-5\n")
    assert status(proj, capsys) == UP_TO_DATE


# -- the cache side --------------------------------------------------------------------------


def test_settled_cache_is_known_whole_from_its_folders(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    assert present_rows(proj.root) == 1
    # an object gone with its folder's mtime put back: only the memo would miss it,
    # which proves the manifest was not read (no real removal keeps a settled mtime)
    folder = cache_object(proj.root, b"img 1-4\n").parent
    before = folder.stat()
    cache_object(proj.root, b"img 1-4\n").unlink()
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert status(proj, capsys) == UP_TO_DATE


def test_object_removed_from_the_cache_shows(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    assert present_rows(proj.root) == 1
    cache_object(proj.root, b"img 1-4\n").unlink()
    assert status(proj, capsys) == NOT_IN_CACHE


def test_manifest_removed_from_the_cache_shows(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    manifest = next((proj.root / ".dvc" / "cache").rglob("*.dir"))
    manifest.unlink()
    assert status(proj, capsys) == NOT_IN_CACHE


def test_cache_folder_replaced_shows(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=True)
    folder = cache_object(proj.root, b"img 0-1\n").parent
    copy = folder.with_name("copy")
    shutil.copytree(folder, copy)  # copy2: the same mtimes, other inodes
    (copy / cache_object(proj.root, b"img 0-1\n").name).unlink()
    shutil.copystat(folder, copy)
    shutil.rmtree(folder)
    os.rename(copy, folder)
    assert status(proj, capsys) == NOT_IN_CACHE


def test_object_removed_just_after_the_add_shows(make_project: Make, capsys: Any) -> None:
    proj = tracked(make_project, capsys, settle=False)  # cache folders written just now
    assert present_rows(proj.root) == 0
    folder = cache_object(proj.root, b"img 1-4\n").parent
    before = folder.stat()
    cache_object(proj.root, b"img 1-4\n").unlink()
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))  # as if in the same tick
    assert status(proj, capsys) == NOT_IN_CACHE
