"""The (inode, mtime, size) → md5 memo.

A file whose stat still matches is never read again. The tests prove it by
changing a file's bytes while keeping its inode, size and mtime: a memo hit
returns the old hash, a miss would return the new one. Files written in the
last moments are never trusted (tests/func/test_status_tree_fast.py covers
that): these tests date their files back first (``cf.settle``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from labrun.cache.hashing import HashingError, hash_dir
from labrun.cache.state import STATE_DIR, STATE_FILE, State
from labrun.ignore import DvcIgnore

try:
    from tests import cache_fixtures as cf
except ImportError:
    import cache_fixtures as cf  # type: ignore[no-redef,import-not-found]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state.db") as st:
        yield st


def test_for_project_lives_in_dvc_tmp_labrun(tmp_path: Path) -> None:
    with State.for_project(tmp_path) as st:
        (tmp_path / "a").write_bytes(b"a")
        st.hash_file(tmp_path / "a")
    assert (tmp_path / STATE_DIR / STATE_FILE).is_file()
    assert os.path.join(".dvc", "tmp", "labrun") == STATE_DIR


def test_unchanged_file_is_not_read_again(tmp_path: Path, state: State) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"version 1")
    cf.settle(path)
    first = state.hash_file(path)
    assert first.md5 == md5(b"version 1") and first.size == 9
    cf.rewrite_keeping_stat(path, b"version 2")
    assert state.hash_file(path).md5 == first.md5  # memo hit: bytes not read
    cf.bump_mtime(path)
    assert state.hash_file(path).md5 == md5(b"version 2")


def test_prefetched_rows_answer_like_lookups_and_writes_forget_them(
    tmp_path: Path, state: State
) -> None:
    paths = [tmp_path / f"f{i}" for i in range(1205)]  # more than one `IN (...)` batch
    for i, path in enumerate(paths):
        path.write_bytes(b"%d" % i)
    cf.settle(tmp_path)
    expected = [state.hash_file(p).md5 for p in paths]
    for i in (3, 700):  # the memo says what it knew; rows read ahead must say the same
        cf.rewrite_keeping_stat(paths[i], b"x" * len(b"%d" % i))
    state.prefetch([str(p) for p in paths] + [str(tmp_path / "never-hashed")])
    assert [state.hash_file(p).md5 for p in paths] == expected
    cf.bump_mtime(paths[3])  # a miss writes the memo: what was read ahead is forgotten
    assert state.hash_file(paths[3]).md5 == md5(b"x")
    assert state.hash_file(paths[700]).md5 == expected[700]
    (tmp_path / "never-hashed").write_bytes(b"new")
    assert state.hash_file(tmp_path / "never-hashed").md5 == md5(b"new")


def test_memo_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"one")
    cf.settle(path)
    with State(tmp_path / "s.db") as st:
        st.hash_file(path)
    cf.rewrite_keeping_stat(path, b"two")
    with State(tmp_path / "s.db") as st:
        assert st.hash_file(path).md5 == md5(b"one")


def test_size_or_inode_change_invalidates(tmp_path: Path, state: State) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    state.hash_file(path)
    st = path.stat()
    path.write_bytes(b"abcd")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert state.hash_file(path).md5 == md5(b"abcd")
    replacement = tmp_path / "g"
    replacement.write_bytes(b"xyzw")
    os.utime(replacement, ns=(st.st_atime_ns, path.stat().st_mtime_ns))
    os.replace(replacement, path)  # new inode, same size and mtime
    assert state.hash_file(path).md5 == md5(b"xyzw")


def test_legacy_and_dvc3_hashes_are_memoised_apart(tmp_path: Path, state: State) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(b"a\r\n")
    assert state.hash_file(path).md5 == md5(b"a\r\n")
    assert state.hash_file(path, legacy=True).md5 == md5(b"a\n")
    assert state.hash_file(path).md5 == md5(b"a\r\n")


def test_exec_bit_comes_from_the_current_stat(tmp_path: Path, state: State) -> None:
    path = tmp_path / "run.sh"
    path.write_bytes(b"#!/bin/sh\n")
    assert not state.hash_file(path).isexec
    path.chmod(0o755)  # chmod does not touch mtime
    assert state.hash_file(path).isexec


def test_errors_for_missing_and_non_files(tmp_path: Path, state: State) -> None:
    with pytest.raises(HashingError, match="does not exist"):
        state.hash_file(tmp_path / "nope")
    with pytest.raises(HashingError):
        state.hash_file(tmp_path)


def test_remember_records_a_known_hash(tmp_path: Path, state: State) -> None:
    path = tmp_path / "checked-out"
    path.write_bytes(b"payload")
    cf.settle(path)
    state.remember(path, "f" * 32)
    assert state.hash_file(path).md5 == "f" * 32


# -- directories ---------------------------------------------------------------------


def test_dir_hash_matches_the_plain_computation(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "data", cf.ODD_TREE)
    expected, manifest = hash_dir(tmp_path / "data")
    assert state.hash_dir(tmp_path / "data") == expected
    listing = state.build_dir(tmp_path / "data")
    assert listing.info == expected
    assert listing.manifest == manifest
    assert [f.relpath for f in listing.files] == [r for r, _ in manifest]


def test_unchanged_tree_is_not_read_again(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "data", {"a": "aaa", "s": {"b": "bbb"}})
    cf.settle(tmp_path / "data")
    first = state.hash_dir(tmp_path / "data")
    cf.rewrite_keeping_stat(tmp_path / "data" / "s" / "b", b"BBB")
    assert state.hash_dir(tmp_path / "data") == first
    assert state.build_dir(tmp_path / "data").info == first  # per-file rows hit too


def test_changed_file_in_tree_is_the_only_one_read(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "data", {"a": "aaa", "b": "bbb"})
    cf.settle(tmp_path / "data")
    state.hash_dir(tmp_path / "data")
    cf.rewrite_keeping_stat(tmp_path / "data" / "a", b"AAA")  # memo must keep "aaa"
    (tmp_path / "data" / "b").write_bytes(b"bbbb")
    cf.bump_mtime(tmp_path / "data" / "b")
    listing = state.build_dir(tmp_path / "data")
    assert dict(listing.manifest.entries) == {"a": md5(b"aaa"), "b": md5(b"bbbb")}


def test_a_changed_file_gets_its_row_replaced(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "d", {"a": "aaa", "b": "bbb"})
    cf.settle(tmp_path / "d")
    state.build_dir(tmp_path / "d")
    (tmp_path / "d" / "a").write_bytes(b"AAAA")
    cf.settle(tmp_path / "d" / "a")
    assert dict(state.build_dir(tmp_path / "d").manifest.entries)["a"] == md5(b"AAAA")
    cf.rewrite_keeping_stat(tmp_path / "d" / "a", b"xxxx")  # the new row answers now
    assert state.hash_file(tmp_path / "d" / "a").md5 == md5(b"AAAA")
    rows = state._rows_under(str(tmp_path / "d"), False)
    assert sorted(r[3] for r in rows.values()) == sorted([md5(b"AAAA"), md5(b"bbb")])


def test_added_removed_and_renamed_files_change_the_tree(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "d", {"a": "1", "b": "2"})
    h1 = state.hash_dir(tmp_path / "d").md5
    os.rename(tmp_path / "d" / "b", tmp_path / "d" / "c")
    h2 = state.hash_dir(tmp_path / "d").md5
    (tmp_path / "d" / "c").unlink()
    h3 = state.hash_dir(tmp_path / "d").md5
    assert len({h1, h2, h3}) == 3
    assert h3 == hash_dir(tmp_path / "d")[0].md5


def test_ignore_rules_apply_to_the_memo(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path, {".dvcignore": "*.tmp\n", "d": {"a": "a", "x.tmp": "x"}})
    info = state.hash_dir(tmp_path / "d", DvcIgnore(tmp_path))
    assert info.nfiles == 1
    assert state.hash_dir(tmp_path / "d").nfiles == 2  # without rules: both files


def test_stale_rows_are_dropped(tmp_path: Path) -> None:
    cf.write_tree(tmp_path / "d", {"a": "1", "b": "2"})
    cf.settle(tmp_path / "d")
    db = tmp_path / "s.db"
    with State(db) as st:
        st.hash_dir(tmp_path / "d")
        (tmp_path / "d" / "b").unlink()
        st.hash_dir(tmp_path / "d")
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM files").fetchone()
    assert rows == (1,)


def test_hash_path_dispatches(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path, {"d": {"a": "a"}, "f": "f"})
    assert state.hash_path(tmp_path / "d").is_dir
    assert not state.hash_path(tmp_path / "f").is_dir


def test_in_memory_state_needs_no_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    with State() as st:
        assert st.hash_file(tmp_path / "a").md5 == md5(b"a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_a_hasher_replaces_reading_only_on_a_miss(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "d", {"a": "aaa", "b": "bbb"})
    cf.settle(tmp_path / "d")
    calls: list[list[str]] = []

    def hasher(items: Sequence[tuple[str, int]]) -> list[str]:
        calls.append([os.path.basename(p) for p, _ in items])
        return [md5(Path(p).read_bytes()) for p, _ in items]

    first = state.build_dir(tmp_path / "d", hasher=hasher)
    (tmp_path / "d" / "b").write_bytes(b"BBBB")
    again = state.build_dir(tmp_path / "d", hasher=hasher)
    assert calls == [["a", "b"], ["b"]]
    assert first.info != again.info == hash_dir(tmp_path / "d")[0]
    seen: list[str] = []
    info = state.hash_file(tmp_path / "d" / "a", hasher=lambda p, n: seen.append(p) or "x" * 32)
    assert (info.md5, seen) == (md5(b"aaa"), [])  # known from the tree's rows


def test_remember_stats_records_files_just_written(tmp_path: Path, state: State) -> None:
    path = tmp_path / "out"
    path.write_bytes(b"written")
    cf.settle(path)
    state.remember_stats([(str(path), path.stat(), "e" * 32)])
    assert state.hash_file(path).md5 == "e" * 32


def test_remember_dir_makes_the_next_tree_hash_a_lookup(tmp_path: Path, state: State) -> None:
    cf.write_tree(tmp_path / "d", {"a": "aaa", "s": {"b": "bbb"}})
    cf.settle(tmp_path / "d")
    expected, _ = hash_dir(tmp_path / "d")
    paths = [p for p in (tmp_path / "d").rglob("*") if p.is_file()]
    files = [(str(p), p.stat(), md5(p.read_bytes())) for p in paths]
    state.remember_dir(tmp_path / "d", files, expected)
    cf.rewrite_keeping_stat(tmp_path / "d" / "s" / "b", b"BBB")  # a read would notice
    assert state.hash_dir(tmp_path / "d") == expected
    (tmp_path / "d" / "c").write_text("c")  # another tree: hashed afresh
    assert state.hash_dir(tmp_path / "d").nfiles == 3


# -- robustness ----------------------------------------------------------------------


def test_a_damaged_database_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"this is not an sqlite database at all" * 100)
    (tmp_path / "a").write_bytes(b"a")
    cf.settle(tmp_path / "a")
    with State(db) as st:
        assert st.hash_file(tmp_path / "a").md5 == md5(b"a")
    assert sqlite3.connect(db).execute("SELECT count(*) FROM files").fetchone() == (1,)


def test_a_database_from_another_layout_is_reset(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    (tmp_path / "a").write_bytes(b"a")
    with State(db) as st:
        st.hash_file(tmp_path / "a")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    cf.rewrite_keeping_stat(tmp_path / "a", b"b")
    with State(db) as st:
        assert st.hash_file(tmp_path / "a").md5 == md5(b"b")  # old rows were dropped


def test_an_unusable_location_falls_back_to_memory(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    cf.settle(tmp_path / "a")
    with State(tmp_path / "no-such-dir" / "s.db") as st:
        assert st.hash_file(tmp_path / "a").md5 == md5(b"a")
        cf.rewrite_keeping_stat(tmp_path / "a", b"b")
        assert st.hash_file(tmp_path / "a").md5 == md5(b"a")  # still memoised


def _hash_tree_in_process(args: tuple[str, str]) -> str:
    db, top = args
    with State(db) as st:
        for _ in range(5):
            info = st.hash_dir(top)
        return info.md5


def test_concurrent_processes_share_the_database(tmp_path: Path) -> None:
    tree = {f"s{i}": {f"f{j}": f"{i}-{j}" for j in range(30)} for i in range(4)}
    cf.write_tree(tmp_path / "data", tree)
    db = str(tmp_path / "shared.db")
    tops = [(db, str(tmp_path / "data" / f"s{i}")) for i in range(4)] * 2
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_hash_tree_in_process, tops)
    expected = [hash_dir(top)[0].md5 for _, top in tops]
    assert results == expected


def test_state_reconnects_after_fork(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    with State(tmp_path / "s.db") as st:
        st.hash_file(tmp_path / "a")
        pid = os.fork()
        if pid == 0:  # child: must open its own connection
            code = 0 if st.hash_file(tmp_path / "a").md5 == md5(b"a") else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        assert st.hash_file(tmp_path / "a").md5 == md5(b"a")


def _counting() -> tuple[list[str], Any]:
    from labrun.cache.hashing import file_hasher

    calls: list[str] = []
    plain = file_hasher(False)

    def hasher(path: str, size: int) -> str:
        calls.append(path)
        return plain(path, size)

    return calls, hasher


def test_a_big_fresh_file_is_hashed_once_its_tick_has_passed(tmp_path: Path) -> None:
    """A stage's new big output: hashed after a tick, then known (fine time stamps)."""
    path = tmp_path / "model.bin"
    path.write_bytes(b"m" * (1 << 20))
    fresh = time.time_ns() - 1_000_001  # written a millisecond ago
    fresh += 1 if fresh % 1_000_000_000 == 0 else 0  # with a fraction of a second
    os.utime(path, ns=(fresh, fresh))
    calls, hasher = _counting()
    with State() as state:
        first = state.hash_file(path, hasher=hasher)
        assert state.hash_file(path, hasher=hasher) == first
    assert len(calls) == 1


def test_whole_second_stamps_keep_fresh_files_racy(tmp_path: Path) -> None:
    """On a file system stamping whole seconds, a file of the last 2 s is read again."""
    path = tmp_path / "small.txt"
    path.write_bytes(b"abc")
    whole = time.time_ns() // 1_000_000_000 * 1_000_000_000
    os.utime(path, ns=(whole, whole))
    calls, hasher = _counting()
    with State() as state:
        state.hash_file(path, hasher=hasher)
        state.hash_file(path, hasher=hasher)
    assert len(calls) == 2
