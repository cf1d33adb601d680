"""The ObjectStore contract, run against every implementation.

Every store must behave the same through the protocol; the local store's
layout, sealing and verification are checked after the shared suite.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

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


def test_iter_skips_foreign_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "cache")
    store.add(md5(b"1"), b"1")
    (tmp_path / "cache" / "runs" / "ab").mkdir(parents=True)
    (tmp_path / "cache" / "files" / "md5" / "zz").mkdir()
    (tmp_path / "cache" / "files" / "md5" / md5(b"1")[:2] / ".x.tmp").write_bytes(b"")
    assert list(store.iter_oids()) == [md5(b"1")]
    assert list(store.iter_oids(legacy=True)) == []
