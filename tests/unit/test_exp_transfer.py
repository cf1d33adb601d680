"""Copying objects between a cache and a local DVC remote (`labrun.experiments.transfer`)."""

from __future__ import annotations

from pathlib import Path

from labrun.cache.hashing import Manifest, md5_bytes
from labrun.cache.odb import LocalObjectStore
from labrun.experiments.transfer import copy_objects, copy_runs, local_path


def _store(tmp_path: Path, name: str) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / name, durable=False)


def _put(store: LocalObjectStore, data: bytes) -> str:
    oid = md5_bytes(data)
    store.add(oid, data)
    return oid


def _put_dir(store: LocalObjectStore, files: dict[str, bytes]) -> str:
    entries = [(rel, _put(store, data)) for rel, data in files.items()]
    manifest = Manifest(entries)
    store.add(manifest.oid, manifest.to_bytes())
    return manifest.oid


def test_directories_travel_with_their_files_and_present_objects_are_skipped(
    tmp_path: Path,
) -> None:
    src, dst = _store(tmp_path, "cache"), _store(tmp_path, "remote")
    single = _put(src, b"model\n")
    tree = _put_dir(src, {"a.txt": b"a\n", "sub/b.txt": b"b\n"})
    empty = _put_dir(src, {})
    count, missing = copy_objects(src, dst, [(single, False), (tree, False), (empty, False)])
    assert (count, missing) == (5, [])
    assert set(dst.iter_oids()) == set(src.iter_oids())
    assert copy_objects(src, dst, [(single, False), (tree, False)]) == (0, [])


def test_what_neither_side_has_is_reported_and_its_manifest_stays_behind(tmp_path: Path) -> None:
    src, dst = _store(tmp_path, "cache"), _store(tmp_path, "remote")
    kept = _put(src, b"kept\n")
    lost_file = md5_bytes(b"lost\n")  # listed by the manifest, held by no store
    partial = Manifest([("kept.txt", kept), ("lost.txt", lost_file)])
    src.add(partial.oid, partial.to_bytes())
    absent_dir = "0" * 32 + ".dir"
    count, missing = copy_objects(src, dst, [(partial.oid, False), (absent_dir, False)])
    assert count == 1  # kept.txt only
    assert missing == [(absent_dir, False), (lost_file, False)]
    assert not dst.exists(partial.oid)


def test_legacy_objects_keep_their_layout(tmp_path: Path) -> None:
    src, dst = _store(tmp_path, "cache"), _store(tmp_path, "remote")
    oid = md5_bytes(b"old\n")
    src.add(oid, b"old\n", legacy=True)
    assert copy_objects(src, dst, [(oid, True)]) == (1, [])
    assert (tmp_path / "remote" / oid[:2] / oid[2:]).read_bytes() == b"old\n"


def test_run_cache_entries_are_copied_once(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "runs" / "ab" / ("ab" + "1" * 62) / ("2" * 64)
    entry.parent.mkdir(parents=True)
    entry.write_text("cmd: x\n")
    (entry.parent / ".tmp-being-written").write_text("")
    assert copy_runs(str(tmp_path / "cache"), str(tmp_path / "remote")) == 1
    copied = tmp_path / "remote" / entry.relative_to(tmp_path / "cache")
    assert copied.read_text() == "cmd: x\n"
    assert copy_runs(str(tmp_path / "cache"), str(tmp_path / "remote")) == 0


def test_local_path_tells_directories_from_other_urls() -> None:
    assert local_path("/mnt/store") == "/mnt/store"
    assert local_path("file:///mnt/store") == "/mnt/store"
    for url in ("s3://bucket/x", "ssh://host/x", "gs://b", "azure://c/x", "file://host/x"):
        assert local_path(url) is None
