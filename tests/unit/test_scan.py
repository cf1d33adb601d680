"""The descriptor-based walk of labrun.cache.scan against the plain reference (hashing.scan_dir
on DvcIgnore.iter_dirs), and the tree token it digests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from labrun.cache.hashing import HashingError, scan_dir
from labrun.cache.scan import folders_of, scan_tree, tree_token
from labrun.ignore import DvcIgnore
from tests import cache_fixtures as cf

# (files of the project, the directory walked, relative to the project)
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "odd names": ({"d": cf.ODD_TREE}, "d"),
    "no rules": ({"d": {"a": "a", "s": {"b": "b", "t": {"c": "c"}}, "x.tmp": "x"}}, "d"),
    "file patterns": (
        {".dvcignore": "*.tmp\n!keep.tmp\n", "d": {"a.tmp": "1", "keep.tmp": "2", "b": "3"}},
        "d",
    ),
    "folder patterns": (
        {".dvcignore": "logs/\n/d/s/t\n", "d": {"logs": {"l": "l"}, "s": {"t": "t", "u": "u"}}},
        "d",
    ),
    "double star": (
        {".dvcignore": "d/**/deep\n", "d": {"a": {"b": {"deep": "x", "keep": "k"}}, "deep": "y"}},
        "d",
    ),
    "nested rules above": (
        {"a": {".dvcignore": "*.bin\n", "d": {"x.bin": "x", "y.txt": "y", "s": {"z.bin": "z"}}}},
        "a/d",
    ),
    "nested project inside": (
        {"d": {"sub": {".dvc": {"config": ""}, "x": "x"}, "a": "a", "s": {"b": "b"}}},
        "d",
    ),
    "ignored top": ({".dvcignore": "d/\n", "d": {"a": "a"}}, "d"),
    "rules matching their own folder": (
        {"d": {"s": {"t": {".dvcignore": "**\n", "x": "x"}}, "a": "a"}, ".dvcignore": ""},
        "d",
    ),
    "many files beside folders": (
        {"d": {**{f"f{i:03d}": str(i) for i in range(120)}, "s": {"g": "g"}}},
        "d",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_walk_agrees_with_the_reference(tmp_path: Path, case: str) -> None:
    files, top = CASES[case]
    cf.write_tree(tmp_path, files)
    for ignore in (DvcIgnore(tmp_path), None):
        try:
            expected = scan_dir(tmp_path / top, ignore)
        except HashingError as exc:
            with pytest.raises(HashingError, match=str(exc).split("'")[0]):
                scan_tree(tmp_path / top, ignore).file_stats()
            continue
        assert scan_tree(tmp_path / top, ignore).file_stats() == expected


def test_walk_agrees_on_links(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"other": {"x": "x"}, "d": {"a": "a"}, "t": "target"})
    (tmp_path / "d" / "flink").symlink_to(tmp_path / "t")
    (tmp_path / "d" / "dlink").symlink_to(tmp_path / "other", target_is_directory=True)
    os.link(tmp_path / "d" / "a", tmp_path / "hard")
    for ignore in (DvcIgnore(tmp_path), None):
        stats = scan_tree(tmp_path / "d", ignore).file_stats()
        assert stats == scan_dir(tmp_path / "d", ignore)
        assert [(s.relpath, s.symlink, s.nlink) for s in stats] == [
            ("a", False, 2),
            ("flink", True, 1),
        ]


def test_walk_outside_the_project_keeps_everything(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"proj": {".dvcignore": "*\n"}, "d": {"a": "a", "s": {"b": "b"}}})
    ignore = DvcIgnore(tmp_path / "proj")
    assert scan_tree(tmp_path / "d", ignore).file_stats() == scan_dir(tmp_path / "d", ignore)
    assert scan_tree(tmp_path / "d", ignore).nfiles == 2


def test_walk_errors_name_the_path(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"d": {"s": {"a": "a"}}, "f": "f", "n": {"s": {".dvcignore": ""}}})
    (tmp_path / "d" / "s" / "broken").symlink_to(tmp_path / "nowhere")
    with pytest.raises(HashingError, match=r"'.*/d/s/broken': it is a broken symlink"):
        scan_tree(tmp_path / "d")
    with pytest.raises(HashingError, match="not a directory"):
        scan_tree(tmp_path / "f")
    with pytest.raises(HashingError, match=r"should not be in collected dir path: '.*/n/s'"):
        scan_tree(tmp_path / "n", DvcIgnore(tmp_path))


def test_files_that_are_not_regular_fail_when_hashed(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"d": {"a": "a"}})
    os.mkfifo(tmp_path / "d" / "pipe")
    scan = scan_tree(tmp_path / "d")
    assert scan.nfiles == 2
    with pytest.raises(HashingError, match=r"'.*/d/pipe': it is not a regular file"):
        scan.file_stats()


# -- the token -----------------------------------------------------------------------------


def _token(top: Path) -> str:
    return scan_tree(top).token()


EDITS = {
    "content and mtime": lambda d: cf.bump_mtime(d / "s" / "b"),
    "size": lambda d: os.truncate(d / "a", 0),
    "name": lambda d: os.rename(d / "a", d / "z"),
    "inode": lambda d: _copy_over(d / "s" / "b", d / "s" / "b2", d / "s" / "b"),
    "new file": lambda d: (d / "s" / "c").write_text("c"),
    "moved to another folder": lambda d: os.rename(d / "a", d / "s" / "a"),
}


def _copy_over(src: Path, tmp: Path, dst: Path) -> None:
    """Another inode at *dst*, with the same bytes, size and mtime."""
    st = src.stat()
    tmp.write_bytes(src.read_bytes())
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, dst)


@pytest.mark.parametrize("edit", EDITS)
def test_any_change_of_stat_data_changes_the_token(tmp_path: Path, edit: str) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a", "s": {"b": "b"}})
    before = _token(tmp_path / "d")
    assert _token(tmp_path / "d") == before
    EDITS[edit](tmp_path / "d")
    assert _token(tmp_path / "d") != before


def test_empty_folders_and_modes_do_not_count(tmp_path: Path) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a"})
    before = _token(tmp_path / "d")
    (tmp_path / "d" / "empty" / "deeper").mkdir(parents=True)
    os.chmod(tmp_path / "d" / "a", 0o700)  # no part of a tree's hash
    assert _token(tmp_path / "d") == before


def test_files_grouped_from_their_paths_give_the_walk_token(tmp_path: Path) -> None:
    cf.write_tree(tmp_path / "d", {"b": "b", "a": "a", "s": {"c": "c", "t": {"e": "e"}}})
    scan = scan_tree(tmp_path / "d")
    files = [(f.path, os.stat(f.path)) for f in reversed(scan.file_stats())]
    folders = folders_of(str(tmp_path / "d"), files)
    assert folders is not None
    assert tree_token(folders) == (scan.token(), scan.newest_mtime_ns())
    assert (
        folders_of(str(tmp_path / "d"), [*files, (str(tmp_path / "d" / "gone"), files[0][1])])
        is None
    )


def test_values_past_64_bits_still_digest(tmp_path: Path) -> None:
    st = os.stat(tmp_path)
    times = {k: getattr(st, k) for k in ("st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
    huge = os.stat_result((st.st_mode, 1 << 63, *st[2:10]), times)  # an overlay's inode
    token, _ = tree_token([("", ["a"], [huge])])
    assert token != tree_token([("", ["a"], [st])])[0]
