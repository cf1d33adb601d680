"""Whole trees in the cache: checked once, then known from the cache folders' stat data."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from labrun.cache.commit import commit_dir, commit_file
from labrun.cache.hashing import HashInfo, md5_bytes
from labrun.cache.odb import LocalObjectStore
from labrun.cache.presence import tree_in_store
from labrun.cache.state import State
from tests import cache_fixtures as cf


def _md5(text: str) -> str:
    return md5_bytes(text.encode())


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "cache", durable=False)


def _settle_cache(store: LocalObjectStore) -> None:
    root = Path(store.root)
    cf.settle(root)
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        old = folder.stat().st_mtime_ns - 60_000_000_000
        os.utime(folder, ns=(old, old))


def _freshen_cache(store: LocalObjectStore) -> None:
    """Folders stamped ahead of the clock: fresh however slow the machine is."""
    root = Path(store.root)
    ahead = time.time_ns() + 60_000_000_000
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.utime(folder, ns=(ahead, ahead))


def _tree(tmp_path: Path, store: LocalObjectStore, state: State) -> HashInfo:
    cf.write_tree(tmp_path / "d", {f"f{i}": f"{i}\n" for i in range(40)})
    return commit_dir(state, store, tmp_path / "d").info


def test_a_file_object_is_one_stat(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "f").write_text("f\n")
    info = commit_file(State(), store, tmp_path / "f")
    assert tree_in_store(store, State(), info)
    os.unlink(store.path_of(info.md5))
    assert not tree_in_store(store, State(), info)


def test_a_settled_tree_is_recorded_and_trusted(tmp_path: Path, store: LocalObjectStore) -> None:
    state = State()
    info = _tree(tmp_path, store, state)
    _settle_cache(store)
    assert tree_in_store(store, state, info)
    assert state.recall_presence(store.root, info.md5, legacy=False) is not None
    victim = Path(store.path_of(_md5("7\n")))
    before = victim.parent.stat()
    victim.unlink()
    os.utime(victim.parent, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert tree_in_store(store, state, info)  # the memo: the manifest was not read
    os.utime(victim.parent)  # what a real removal does to its folder
    assert not tree_in_store(store, state, info)


def test_a_fresh_cache_is_checked_each_time(tmp_path: Path, store: LocalObjectStore) -> None:
    state = State()
    info = _tree(tmp_path, store, state)
    _freshen_cache(store)
    assert tree_in_store(store, state, info)
    assert state.recall_presence(store.root, info.md5, legacy=False) is None
    victim = Path(store.path_of(_md5("7\n")))
    before = victim.parent.stat()
    victim.unlink()
    os.utime(victim.parent, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same tick
    assert not tree_in_store(store, state, info)


def test_a_damaged_manifest_is_not_present(tmp_path: Path, store: LocalObjectStore) -> None:
    state = State()
    info = _tree(tmp_path, store, state)
    manifest = Path(store.path_of(info.md5))
    manifest.chmod(0o644)
    manifest.write_bytes(b"[{not json")
    assert not tree_in_store(store, state, info)
    assert state.recall_presence(store.root, info.md5, legacy=False) is None
