"""The ObjectStore contract, run against every implementation.

Every store must behave the same through the protocol; the local store's
layout, sealing and verification are checked after the shared suite.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labrun import fsutil
from labrun.cache.hashing import Manifest, hash_dir
from labrun.cache.odb import (
    PROTECTED_MODE,
    LocalObjectStore,
    MemoryObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    add_tree,
    read_manifest,
)
from labrun.errors import LabrunError

try:
    from tests import cache_fixtures as cf
except ImportError:
    import cache_fixtures as cf  # type: ignore[no-redef,import-not-found]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


STORES: dict[str, Callable[[Path], ObjectStore]] = {
    "local": lambda tmp: LocalObjectStore(tmp / "cache"),
    "local-fast": lambda tmp: LocalObjectStore(tmp / "cache", durable=False),
    "local-shared": lambda tmp: LocalObjectStore(tmp / "cache", shared=True),
    "memory": lambda tmp: MemoryObjectStore(),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return STORES[request.param](tmp_path)


def read(store: ObjectStore, oid: str, *, legacy: bool = False) -> bytes:
    with store.open(oid, legacy=legacy) as fobj:
        return fobj.read()


# -- the shared contract -------------------------------------------------------------


def test_add_bytes_then_read(store: ObjectStore) -> None:
    oid = md5(b"hello")
    assert not store.exists(oid)
    assert store.add(oid, b"hello") is True
    assert store.exists(oid)
    assert read(store, oid) == b"hello"


def test_add_from_a_file(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    data = os.urandom(70_000)
    src.write_bytes(data)
    assert store.add(md5(data), src)
    assert read(store, md5(data)) == data
    assert src.read_bytes() == data  # the source is left as it was


def test_adding_twice_keeps_the_first(store: ObjectStore) -> None:
    oid = md5(b"x")
    assert store.add(oid, b"x")
    assert store.add(oid, b"x") is False
    assert read(store, oid) == b"x"


def test_missing_object_raises(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError) as err:
        store.open("0" * 32)
    assert isinstance(err.value, LabrunError)
    assert "0" * 32 in str(err.value)


def test_add_many_counts_new_objects(store: ObjectStore, tmp_path: Path) -> None:
    items = []
    for i, content in enumerate([b"a", b"b", b"a", b"c"]):
        path = tmp_path / f"f{i}"
        path.write_bytes(content)
        items.append((md5(content), str(path)))
    store.add(md5(b"c"), b"c")
    assert store.add_many(items) == 2  # "a" once, "b"; "c" was there
    assert all(store.exists(oid) for oid, _ in items)
    assert store.add_many([]) == 0


def test_iter_oids_lists_each_namespace(store: ObjectStore) -> None:
    assert list(store.iter_oids()) == []
    store.add(md5(b"1"), b"1")
    store.add(md5(b"2"), b"2")
    store.add(md5(b"m") + ".dir", b"m")
    store.add(md5(b"old"), b"old", legacy=True)
    assert sorted(store.iter_oids()) == sorted([md5(b"1"), md5(b"2"), md5(b"m") + ".dir"])
    assert list(store.iter_oids(legacy=True)) == [md5(b"old")]


def test_legacy_namespace_is_separate(store: ObjectStore) -> None:
    oid = md5(b"legacy")
    store.add(oid, b"legacy", legacy=True)
    assert store.exists(oid, legacy=True)
    assert not store.exists(oid)
    assert read(store, oid, legacy=True) == b"legacy"


def test_manifests_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    cf.write_tree(tmp_path / "d", cf.ODD_TREE)
    info, manifest = hash_dir(tmp_path / "d")
    assert add_tree(store, tmp_path / "d", manifest) == 8  # 7 files + the manifest
    assert add_tree(store, tmp_path / "d", manifest) == 0
    assert read_manifest(store, info.md5) == manifest
    assert read(store, info.md5) == manifest.to_bytes()
    for rel, oid in manifest:
        assert read(store, oid) == (tmp_path / "d" / rel).read_bytes()


def test_path_of_is_a_real_file_or_none(store: ObjectStore) -> None:
    store.add(md5(b"p"), b"p")
    path = store.path_of(md5(b"p"))
    if path is not None:
        assert Path(path).read_bytes() == b"p"


@pytest.mark.parametrize("size", [0, 300, 4 * 1024 * 1024 + 1])  # read whole / streamed
def test_ingest_hashes_and_stores_a_file(store: ObjectStore, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    oid = store.ingest(tmp_path / "f")
    assert oid == md5(data)
    assert read(store, oid) == data
    assert store.ingest(tmp_path / "f") == oid  # again: nothing new, same answer
    assert list(store.iter_oids()) == [oid]


def test_ingest_many_returns_oids_in_order(store: ObjectStore, tmp_path: Path) -> None:
    contents = [os.urandom(i * 7) for i in range(300)] + [b"dup", b"dup", b"x" * 5_000_000]
    items = []
    for i, data in enumerate(contents):
        (tmp_path / f"f{i}").write_bytes(data)
        items.append((str(tmp_path / f"f{i}"), len(data)))
    oids = store.ingest_many(items)
    assert oids == [md5(data) for data in contents]
    assert sorted(store.iter_oids()) == sorted(set(oids))
    assert all(read(store, oid) == data for oid, data in zip(oids, contents, strict=True))
    assert store.ingest_many([]) == []


def test_ingest_legacy_names_objects_by_the_2x_hash(store: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"a\r\nb\r\n")
    oid = store.ingest(tmp_path / "w.txt", legacy=True)
    assert oid == md5(b"a\nb\n")
    assert read(store, oid, legacy=True) == b"a\r\nb\r\n"
    assert store.ingest_many([(str(tmp_path / "w.txt"), 6)], legacy=True) == [oid]
    assert list(store.iter_oids()) == []


def test_missing_names_the_absent_objects(store: ObjectStore) -> None:
    present = [md5(b"%d" % i) for i in range(300)]
    for i, oid in enumerate(present):
        store.add(oid, b"%d" % i)
    absent = {md5(b"no %d" % i) for i in range(50)}
    assert store.missing(present + sorted(absent)) == absent
    assert store.missing(present[:3]) == set()
    assert store.missing([]) == set()
    assert store.missing(present, legacy=True) == set(present)


# -- the local store -----------------------------------------------------------------


def test_local_layout_matches_dvc(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oid = md5(b"hello")
    store.add(oid, b"hello")
    store.add(oid, b"hello", legacy=True)
    store.add("b20973acde6a40b8deb054ccdfec0121.dir", b"[]")
    cache = tmp_path / "cache"
    assert (cache / "files" / "md5" / oid[:2] / oid[2:]).is_file()
    assert (cache / oid[:2] / oid[2:]).is_file()
    assert (cache / "files" / "md5" / "b2" / "0973acde6a40b8deb054ccdfec0121.dir").is_file()
    assert store.path_of(oid) == str(cache / "files" / "md5" / oid[:2] / oid[2:])


def test_local_objects_are_sealed_read_only(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    (tmp_path / "src").write_bytes(b"src")
    store.add(md5(b"bytes"), b"bytes")
    store.add(md5(b"src"), tmp_path / "src")
    store.add_many([(md5(b"src2"), str(tmp_path / "src"))])  # oid on trust
    for oid in (md5(b"bytes"), md5(b"src")):
        assert cf.mode_of(Path(store.path_of(oid))) == PROTECTED_MODE
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_unsealed_intact_object_is_verified_and_resealed(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oid = md5(b"fine")
    store.add(oid, b"fine")
    path = Path(store.path_of(oid))
    path.chmod(0o644)
    assert store.exists(oid)
    assert cf.mode_of(path) == PROTECTED_MODE


def test_unsealed_corrupt_object_is_dropped(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oid = md5(b"good")
    store.add(oid, b"good")
    path = Path(store.path_of(oid))
    path.chmod(0o644)
    path.write_bytes(b"evil")  # edited through a link, say
    assert not store.exists(oid)
    assert not path.exists()
    assert store.add(oid, b"good")  # and it can be stored again
    assert read(store, oid) == b"good"


def test_sealed_object_is_trusted_without_reading(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oid = md5(b"good")
    store.add(oid, b"good")
    path = Path(store.path_of(oid))
    path.chmod(0o644)
    path.write_bytes(b"evil")
    path.chmod(PROTECTED_MODE)
    assert store.exists(oid)  # documented trade-off: 0444 means "verified"


def test_legacy_objects_are_verified_with_the_legacy_hash(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oid = md5(b"a\nb\n")  # the 2.x hash of a CRLF text file
    store.add(oid, b"a\r\nb\r\n", legacy=True)
    Path(store.path_of(oid, legacy=True)).chmod(0o644)
    assert store.exists(oid, legacy=True)


def test_unsealed_manifest_is_verified_against_its_oid(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    manifest = Manifest([("a", md5(b"a"))])
    store.add(manifest.oid, manifest.to_bytes())
    Path(store.path_of(manifest.oid)).chmod(0o644)
    assert store.exists(manifest.oid)


def test_shared_cache_directories_are_group_writable(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache", shared=True)
    oid = md5(b"s")
    store.add(oid, b"s")
    folder = Path(store.path_of(oid)).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2775


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_local_ingest_seals_objects_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    big, small = os.urandom(5_000_000), b"small"
    (tmp_path / "big").write_bytes(big)
    (tmp_path / "small").write_bytes(small)
    store.ingest(tmp_path / "big")
    store.ingest(tmp_path / "big")  # already there: the second copy is dropped
    store.ingest_many([(str(tmp_path / "small"), 5)] * 300)  # more than one fsync's worth
    for data in (big, small):
        assert cf.mode_of(Path(store.path_of(md5(data)))) == PROTECTED_MODE
    assert _leftovers(tmp_path / "cache") == []


def test_failed_ingest_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    items = []
    for i in range(400):
        (tmp_path / f"f{i}").write_bytes(str(i).encode())
        items.append((str(tmp_path / f"f{i}"), len(str(i))))
    items.append((str(tmp_path / "vanished"), 3))
    with pytest.raises(FileNotFoundError):
        store.ingest_many(items)
    assert _leftovers(tmp_path / "cache") == []
    for oid in store.iter_oids():  # what was stored is whole (and harmless: gc removes it)
        assert read(store, oid).decode() in {str(i) for i in range(400)}


def test_objects_reach_the_disk_before_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects bigger than a block reach the disk before their names; smaller ones are
    whole or empty after a crash, so they are not flushed."""
    events: list[str] = []
    real_fsync, real_replace, real_syncfs = os.fsync, os.replace, fsutil.sync_filesystem
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("sync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1]
    )
    monkeypatch.setattr(
        fsutil, "sync_filesystem", lambda p: (events.append("syncfs"), real_syncfs(p))[1]
    )
    store = LocalObjectStore(tmp_path / "cache")
    (tmp_path / "f").write_bytes(b"one" * 2000)
    store.ingest(tmp_path / "f")
    assert events == ["sync", "rename"]
    events.clear()
    items = []
    for i in range(300):
        (tmp_path / f"g{i}").write_bytes(b"g%d" % i * 3000)
        items.append((str(tmp_path / f"g{i}"), 2))
    store.ingest_many(items)
    assert events == ["syncfs"] + ["rename"] * 300
    events.clear()
    LocalObjectStore(tmp_path / "fast", durable=False).ingest_many(items)
    assert events == ["rename"] * 300
    events.clear()
    (tmp_path / "small").write_bytes(b"one block or less")
    store.ingest(tmp_path / "small")
    store.add(md5(b"tiny"), b"tiny")  # bytes go through atomic_write: always fsynced
    assert events == ["sync", "rename"]  # the small file went straight under its name


def test_an_empty_object_left_by_a_crash_is_not_trusted(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oid = md5(b"lost in a power cut")
    path = Path(store.path_of(oid))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    path.chmod(PROTECTED_MODE)  # sealed, and empty: what a crash can leave behind
    assert not store.exists(oid)
    (tmp_path / "src").write_bytes(b"lost in a power cut")
    assert store.ingest(tmp_path / "src") == oid
    assert store.exists(oid) and path.read_bytes() == b"lost in a power cut"
    store.add(md5(b""), b"")
    assert store.exists(md5(b""))  # the empty file's own object is fine


def test_missing_lists_small_folders_and_stats_in_big_ones(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    oids = [md5(b"%d" % i) for i in range(3000)]
    (tmp_path / "src").write_bytes(b"x")
    store.add_many([(oid, str(tmp_path / "src")) for oid in oids])  # oids on trust
    asked = [*oids[:100], md5(b"gone")]  # few per folder: stat each
    assert store.missing(asked) == {md5(b"gone")}
    os.unlink(store.path_of(oids[5]))
    assert store.missing(oids) == {oids[5]}  # many per folder: one listing each


def test_iter_skips_foreign_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    store.add(md5(b"1"), b"1")
    (tmp_path / "cache" / "runs" / "ab").mkdir(parents=True)
    (tmp_path / "cache" / "files" / "md5" / "zz").mkdir()
    (tmp_path / "cache" / "files" / "md5" / md5(b"1")[:2] / ".x.tmp").write_bytes(b"")
    assert list(store.iter_oids()) == [md5(b"1")]
    assert list(store.iter_oids(legacy=True)) == []


# -- a big settled file: copied in the kernel beside its hashing --------------------------

BIG = 9 * 1024 * 1024  # over the size where the copy gets a thread of its own


def _kernel_copies(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Record what each kernel copy beside the hashing answered (None: declined)."""
    from labrun.cache import odb

    answers: list[str | None] = []
    real = odb._kernel_copy_beside_hash

    def spy(src_fd: int, dst_fd: int, durable: bool) -> str | None:
        answers.append(real(src_fd, dst_fd, durable))
        return answers[-1]

    monkeypatch.setattr(odb, "_kernel_copy_beside_hash", spy)
    return answers


def _stored_whole(store: LocalObjectStore, oid: str) -> bytes:
    data = Path(store.path_of(oid)).read_bytes()
    assert md5(data) == oid  # an object's content always matches its name
    assert cf.mode_of(Path(store.path_of(oid))) == PROTECTED_MODE
    return data


def test_a_settled_big_file_is_copied_in_the_kernel_while_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = _kernel_copies(monkeypatch)
    syncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])
    data = os.urandom(BIG)
    (tmp_path / "big").write_bytes(data)
    cf.settle(tmp_path / "big")
    store = LocalObjectStore(tmp_path / "cache")
    oid = store.ingest(tmp_path / "big")
    assert answers == [md5(data)] and oid == md5(data)
    assert _stored_whole(store, oid) == data
    assert syncs  # durable: flushed before its name appears
    assert _leftovers(tmp_path / "cache") == []


def test_a_fresh_big_file_is_read_once_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written in this very tick could be rewritten unseen: the copy is hashed."""
    answers = _kernel_copies(monkeypatch)
    data = os.urandom(BIG)
    (tmp_path / "big").write_bytes(data)
    ahead = time.time_ns() + 60_000_000_000
    os.utime(tmp_path / "big", ns=(ahead, ahead))  # "just now", however slow the machine
    store = LocalObjectStore(tmp_path / "cache")
    oid = store.ingest(tmp_path / "big")
    assert answers == [None]
    assert _stored_whole(store, oid) == data


def test_a_big_file_changed_during_the_copy_is_stored_as_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labrun.cache import odb

    answers = _kernel_copies(monkeypatch)
    (tmp_path / "big").write_bytes(os.urandom(BIG))
    cf.settle(tmp_path / "big")
    real_hash = odb.md5_fd_overlapped
    changed = os.urandom(BIG)

    def hash_then_edit(fd: int) -> str:
        digest = real_hash(fd)
        (tmp_path / "big").write_bytes(changed)  # a writer got in meanwhile
        return digest

    monkeypatch.setattr(odb, "md5_fd_overlapped", hash_then_edit)
    store = LocalObjectStore(tmp_path / "cache")
    oid = store.ingest(tmp_path / "big")
    assert answers == [None]  # the stat moved: the kernel copy was undone
    assert oid == md5(changed) and _stored_whole(store, oid) == changed
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("errno_name", ["EXDEV", "ENOSYS", "EINVAL"])
def test_a_kernel_that_cannot_copy_falls_back_to_reading_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_name: str
) -> None:
    import errno

    answers = _kernel_copies(monkeypatch)

    def refuse(*args: object) -> int:
        raise OSError(getattr(errno, errno_name), "no copy here")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    data = os.urandom(BIG)
    (tmp_path / "big").write_bytes(data)
    cf.settle(tmp_path / "big")
    store = LocalObjectStore(tmp_path / "cache")
    assert store.ingest(tmp_path / "big") == md5(data)
    assert answers == [None]
    assert _stored_whole(store, md5(data)) == data


def test_a_failed_kernel_copy_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    calls: list[int] = []
    real = os.copy_file_range

    def disk_full(*args: Any) -> int:
        calls.append(1)
        if len(calls) > 1:  # the first piece went through: the disk fills up later
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(os, "copy_file_range", disk_full)
    (tmp_path / "big").write_bytes(os.urandom(BIG))
    cf.settle(tmp_path / "big")
    store = LocalObjectStore(tmp_path / "cache")
    with pytest.raises(OSError, match="No space"):
        store.ingest(tmp_path / "big")
    assert list(store.iter_oids()) == []
    assert _leftovers(tmp_path / "cache") == []


def test_an_interrupted_hash_stops_the_kernel_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labrun.cache import odb

    def interrupted(fd: int) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(odb, "md5_fd_overlapped", interrupted)
    (tmp_path / "big").write_bytes(os.urandom(BIG))
    cf.settle(tmp_path / "big")
    store = LocalObjectStore(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        store.ingest(tmp_path / "big")
    assert list(store.iter_oids()) == []
    assert _leftovers(tmp_path / "cache") == []
