"""Link strategies and checkout from an object store into the workspace."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from labrun import fsutil
from labrun.cache.hashing import HashInfo, hash_dir, hash_file
from labrun.cache.links import (
    DEFAULT_LINK_TYPES,
    CheckoutError,
    Linker,
    LinkError,
    Workspace,
    parse_link_types,
    unprotect,
)
from labrun.cache.odb import LocalObjectStore, MemoryObjectStore, ObjectStore, add_tree
from labrun.cache.state import State
from labrun.errors import ConfigError
from labrun.ignore import DvcIgnore

try:
    from tests import cache_fixtures as cf
except ImportError:
    import cache_fixtures as cf  # type: ignore[no-redef,import-not-found]


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "cache", durable=False)


def commit_file(store: ObjectStore, path: Path) -> HashInfo:
    info = hash_file(path)
    store.add(info.md5, path)
    return info


def commit_dir(store: ObjectStore, path: Path) -> HashInfo:
    info, manifest = hash_dir(path)
    add_tree(store, path, manifest)
    return info


def reflink_works(folder: Path) -> bool:
    (folder / "probe-src").write_bytes(b"x")
    try:
        fsutil.reflink(folder / "probe-src", folder / "probe-dst")
    except OSError:
        return False
    finally:
        for name in ("probe-src", "probe-dst"):
            (folder / name).unlink(missing_ok=True)
    return True


# -- cache.type ----------------------------------------------------------------------


def test_parse_link_types() -> None:
    assert parse_link_types(None) == DEFAULT_LINK_TYPES == ("reflink", "copy")
    assert parse_link_types("") == DEFAULT_LINK_TYPES
    assert parse_link_types("hardlink, symlink") == ("hardlink", "symlink")
    assert parse_link_types(["copy"]) == ("copy",)
    with pytest.raises(ConfigError, match=r"Unsupported cache type\(s\): foo"):
        parse_link_types("reflink,foo")


# -- linking -------------------------------------------------------------------------


def test_copy_link_is_an_independent_writable_file(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "src").write_bytes(b"data")
    info = commit_file(store, tmp_path / "src")
    obj = store.path_of(info.md5)
    assert Linker(["copy"]).link(obj, str(tmp_path / "out")) == "copy"
    out = tmp_path / "out"
    assert out.read_bytes() == b"data"
    assert out.stat().st_ino != os.stat(obj).st_ino
    assert cf.mode_of(out) == fsutil.DEFAULT_FILE_MODE


def test_hardlink_shares_the_read_only_object(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "src").write_bytes(b"data")
    obj = store.path_of(commit_file(store, tmp_path / "src").md5)
    assert Linker(["hardlink"]).link(obj, str(tmp_path / "out")) == "hardlink"
    assert (tmp_path / "out").stat().st_ino == os.stat(obj).st_ino
    assert cf.mode_of(tmp_path / "out") == 0o444


def test_symlink_points_at_the_object(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "src").write_bytes(b"data")
    obj = store.path_of(commit_file(store, tmp_path / "src").md5)
    assert Linker(["symlink"]).link(obj, str(tmp_path / "out")) == "symlink"
    assert os.readlink(tmp_path / "out") == obj
    assert os.path.isabs(os.readlink(tmp_path / "out"))


def test_link_replaces_an_existing_file(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "src").write_bytes(b"new")
    obj = store.path_of(commit_file(store, tmp_path / "src").md5)
    (tmp_path / "out").write_bytes(b"old")
    Linker(["hardlink"]).link(obj, str(tmp_path / "out"))
    Linker(["hardlink"]).link(obj, str(tmp_path / "out"))  # same inode twice: no leftovers
    assert (tmp_path / "out").read_bytes() == b"new"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_default_types_fall_back_from_reflink_to_copy(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    (tmp_path / "src").write_bytes(b"data")
    obj = store.path_of(commit_file(store, tmp_path / "src").md5)
    linker = Linker()
    expected = "reflink" if reflink_works(tmp_path) else "copy"
    assert linker.link(obj, str(tmp_path / "a")) == expected
    assert linker.link(obj, str(tmp_path / "b")) == expected
    assert cf.mode_of(tmp_path / "a") == fsutil.DEFAULT_FILE_MODE


def test_no_working_type_is_a_link_error(tmp_path: Path, store: LocalObjectStore) -> None:
    if reflink_works(tmp_path):
        pytest.skip("this filesystem supports reflinks")
    (tmp_path / "src").write_bytes(b"data")
    obj = store.path_of(commit_file(store, tmp_path / "src").md5)
    with pytest.raises(LinkError, match="no possible cache link types"):
        Linker(["reflink"]).link(obj, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_unprotect_turns_links_into_private_copies(tmp_path: Path, store: LocalObjectStore) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a", "s": {"b": "b"}})
    info = commit_dir(store, tmp_path / "d")
    shutil.rmtree(tmp_path / "d")
    Workspace(store, Linker(["hardlink"])).checkout(info, tmp_path / "d")
    (tmp_path / "f").write_bytes(b"f")
    finfo = commit_file(store, tmp_path / "f")
    (tmp_path / "f").unlink()
    Workspace(store, Linker(["symlink"])).checkout(finfo, tmp_path / "f")
    unprotect(tmp_path / "d")
    unprotect(tmp_path / "f")
    for path in (tmp_path / "d" / "a", tmp_path / "d" / "s" / "b", tmp_path / "f"):
        st = path.lstat()
        assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1
        assert cf.mode_of(path) == fsutil.DEFAULT_FILE_MODE
    (tmp_path / "d" / "a").write_bytes(b"edited")  # the cache is not affected
    assert store.exists(hash_file(tmp_path / "f").md5)
    assert Path(store.path_of(finfo.md5)).read_bytes() == b"f"


@pytest.mark.parametrize("kind", ["copy", "hardlink", "symlink"])
def test_create_makes_a_new_file_and_never_replaces(
    tmp_path: Path, store: LocalObjectStore, kind: str
) -> None:
    (tmp_path / "src").write_bytes(b"data")
    obj = store.path_of(commit_file(store, tmp_path / "src").md5)
    made, st = Linker([kind]).create(obj, str(tmp_path / "out"))
    assert made == kind and (tmp_path / "out").read_bytes() == b"data"
    if st is not None:
        assert st.st_ino == (tmp_path / "out").stat().st_ino
    (tmp_path / "taken").write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        Linker([kind]).create(obj, str(tmp_path / "taken"))
    assert (tmp_path / "taken").read_bytes() == b"mine"


# -- checkout of files ---------------------------------------------------------------


def test_checkout_file_creates_then_leaves_it_alone(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    (tmp_path / "src").write_bytes(b"content")
    info = commit_file(store, tmp_path / "src")
    ws = Workspace(store, state=State())
    target = tmp_path / "sub" / "out.bin"
    result = ws.checkout(info, target)
    assert result.added == [str(target)] and result.changed
    before = target.stat()
    cf.rewrite_keeping_stat(target, b"CONTENT")  # the checkout recorded the hash it wrote
    assert ws.state.hash_file(target).md5 == info.md5
    again = ws.checkout(info, target)
    assert not again.changed
    assert target.stat().st_ino == before.st_ino
    assert target.stat().st_mtime_ns == before.st_mtime_ns


def test_checkout_file_replaces_content_that_is_in_the_cache(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    (tmp_path / "v1").write_bytes(b"one")
    (tmp_path / "v2").write_bytes(b"two")
    v1, v2 = commit_file(store, tmp_path / "v1"), commit_file(store, tmp_path / "v2")
    ws = Workspace(store)
    ws.checkout(v1, tmp_path / "out")
    result = ws.checkout(v2, tmp_path / "out")
    assert result.modified == [str(tmp_path / "out")]
    assert (tmp_path / "out").read_bytes() == b"two"


def test_checkout_refuses_to_overwrite_unsaved_content(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    (tmp_path / "src").write_bytes(b"cached")
    info = commit_file(store, tmp_path / "src")
    (tmp_path / "out").write_bytes(b"precious local edit")
    with pytest.raises(CheckoutError, match="without a confirmation") as err:
        Workspace(store).checkout(info, tmp_path / "out")
    assert str(tmp_path / "out") in str(err.value)
    assert (tmp_path / "out").read_bytes() == b"precious local edit"
    Workspace(store).checkout(info, tmp_path / "out", force=True)
    assert (tmp_path / "out").read_bytes() == b"cached"


def test_checkout_sets_the_exec_bit(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (tmp_path / "run.sh").chmod(0o755)
    info = commit_file(store, tmp_path / "run.sh")
    assert info.isexec
    (tmp_path / "run.sh").unlink()
    Workspace(store).checkout(info, tmp_path / "run.sh")
    assert os.access(tmp_path / "run.sh", os.X_OK)
    (tmp_path / "run.sh").chmod(0o644)  # lost x bit is restored even if content matches
    Workspace(store).checkout(info, tmp_path / "run.sh")
    assert os.access(tmp_path / "run.sh", os.X_OK)


def test_checkout_of_a_missing_object(tmp_path: Path, store: LocalObjectStore) -> None:
    with pytest.raises(CheckoutError, match="missing from the cache"):
        Workspace(store).checkout(HashInfo("0" * 32, 1), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_checkout_file_over_a_directory(tmp_path: Path, store: LocalObjectStore) -> None:
    cf.write_tree(tmp_path, {"f": "file", "out": {"a": "a"}})
    info = commit_file(store, tmp_path / "f")
    commit_file(store, tmp_path / "out" / "a")  # the directory's content is saved
    Workspace(store).checkout(info, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"file"


def test_checkout_from_a_memory_store_writes_bytes(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    cf.write_tree(tmp_path / "d", {"a": "a", "e": {"b": "b"}})
    info = commit_dir(store, tmp_path / "d")
    Workspace(store).checkout(info, tmp_path / "copy")
    assert hash_dir(tmp_path / "copy")[0] == info


# -- checkout of directories ---------------------------------------------------------


def test_checkout_dir_into_nothing(tmp_path: Path, store: LocalObjectStore) -> None:
    cf.write_tree(tmp_path / "d", cf.ODD_TREE)
    info = commit_dir(store, tmp_path / "d")
    result = Workspace(store).checkout(info, tmp_path / "out")
    assert len(result.added) == 7
    assert hash_dir(tmp_path / "out")[0] == info


def test_checkout_dir_touches_only_what_changed(tmp_path: Path, store: LocalObjectStore) -> None:
    cf.write_tree(tmp_path / "d", {"same": "same", "edit": "v1", "gone": "bye", "s": {"x": "x"}})
    old = commit_dir(store, tmp_path / "d")
    (tmp_path / "d" / "edit").write_text("v2")
    (tmp_path / "d" / "gone").unlink()
    (tmp_path / "d" / "new").write_text("new")
    new = commit_dir(store, tmp_path / "d")
    shutil.rmtree(tmp_path / "d")
    ws = Workspace(store, Linker(["copy"]), State())
    ws.checkout(old, tmp_path / "d")
    same = (tmp_path / "d" / "same").stat()
    result = ws.checkout(new, tmp_path / "d")
    d = tmp_path / "d"
    assert result.added == [str(d / "new")]
    assert result.modified == [str(d / "edit")]
    assert result.deleted == [str(d / "gone")]
    assert (d / "same").stat().st_ino == same.st_ino
    assert (d / "same").stat().st_mtime_ns == same.st_mtime_ns
    assert hash_dir(d)[0] == new
    assert not ws.checkout(new, d).changed


def test_checkout_dir_refuses_to_drop_unsaved_files(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a"})
    info = commit_dir(store, tmp_path / "d")
    (tmp_path / "d" / "mine.txt").write_text("not committed")
    (tmp_path / "d" / "a").write_text("edited")
    with pytest.raises(CheckoutError) as err:
        Workspace(store).checkout(info, tmp_path / "d")
    assert "mine.txt" in str(err.value) and str(tmp_path / "d" / "a") in str(err.value)
    assert (tmp_path / "d" / "mine.txt").exists()
    assert (tmp_path / "d" / "a").read_text() == "edited"
    Workspace(store).checkout(info, tmp_path / "d", force=True)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["a"]


def test_checkout_dir_leaves_ignored_files_alone(tmp_path: Path, store: LocalObjectStore) -> None:
    cf.write_tree(tmp_path, {".dvcignore": "*.log\n", "d": {"a": "a"}})
    ign = DvcIgnore(tmp_path)
    info, manifest = hash_dir(tmp_path / "d", ign)
    add_tree(store, tmp_path / "d", manifest)
    (tmp_path / "d" / "run.log").write_text("log")
    result = Workspace(store, ignore=ign).checkout(info, tmp_path / "d")
    assert not result.changed
    assert (tmp_path / "d" / "run.log").exists()


def test_checkout_dir_replaces_file_and_dir_in_the_way(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    cf.write_tree(tmp_path / "d", {"x": {"inner": "i"}, "y": "y"})
    info = commit_dir(store, tmp_path / "d")
    shutil.rmtree(tmp_path / "d")
    cf.write_tree(tmp_path / "d", {"x": "i", "y": {"z": "y"}})  # swapped kinds, same bytes
    Workspace(store).checkout(info, tmp_path / "d")
    assert hash_dir(tmp_path / "d")[0] == info
    (tmp_path / "d2").write_text("y")  # a plain file where the directory goes
    Workspace(store).checkout(info, tmp_path / "d2")
    assert hash_dir(tmp_path / "d2")[0] == info


def test_checkout_empty_dir(tmp_path: Path, store: LocalObjectStore) -> None:
    (tmp_path / "e").mkdir()
    info = commit_dir(store, tmp_path / "e")
    Workspace(store).checkout(info, tmp_path / "out")
    assert (tmp_path / "out").is_dir() and not list((tmp_path / "out").iterdir())


def test_checkout_dir_reports_missing_objects_but_does_the_rest(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a", "b": "b"})
    info = commit_dir(store, tmp_path / "d")
    os.unlink(store.path_of(hash_file(tmp_path / "d" / "b").md5))
    with pytest.raises(CheckoutError, match="missing from the cache") as err:
        Workspace(store).checkout(info, tmp_path / "out")
    assert str(tmp_path / "out" / "b") in str(err.value)
    assert (tmp_path / "out" / "a").read_text() == "a"


def test_checkout_dir_without_manifest(tmp_path: Path, store: LocalObjectStore) -> None:
    with pytest.raises(CheckoutError, match="manifest"):
        Workspace(store).checkout(HashInfo("1" * 32 + ".dir", 0, 0), tmp_path / "out")


def test_checkout_of_many_files_into_nothing(tmp_path: Path, store: LocalObjectStore) -> None:
    tree = {f"s{i}": {f"f{j}": f"{i}-{j}" for j in range(40)} for i in range(5)}
    cf.write_tree(tmp_path / "d", tree)
    info = commit_dir(store, tmp_path / "d")
    ws = Workspace(store, Linker(["copy"]), State())
    result = ws.checkout(info, tmp_path / "out")
    assert len(result.added) == 200
    assert hash_dir(tmp_path / "out")[0] == info
    cf.rewrite_keeping_stat(tmp_path / "out" / "s0" / "f0", b"XXX")  # a re-hash would see it
    assert ws.state.hash_dir(tmp_path / "out") == info  # the memo knows the new tree


def test_checkout_of_many_files_as_hardlinks(tmp_path: Path, store: LocalObjectStore) -> None:
    cf.write_tree(tmp_path / "d", {f"f{i}": str(i) for i in range(100)})
    info = commit_dir(store, tmp_path / "d")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f7").mkdir()  # in the way of a file
    Workspace(store, Linker(["hardlink"])).checkout(info, tmp_path / "out")
    assert all((tmp_path / "out" / f"f{i}").stat().st_nlink == 2 for i in range(100))
    assert hash_dir(tmp_path / "out")[0] == info


def test_link_committed_relinks_only_what_is_not_the_wanted_kind(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a", "b": "b", "s": {"c": "c"}})
    os.link(tmp_path / "d" / "b", tmp_path / "b-elsewhere")
    state = State()
    listing = state.build_dir(tmp_path / "d")
    add_tree(store, tmp_path / "d", listing.manifest)
    plain = (tmp_path / "d" / "a").stat().st_ino
    assert Workspace(store, Linker(["copy"]), state).link_committed(listing, tmp_path / "d") == 1
    assert (tmp_path / "d" / "a").stat().st_ino == plain  # plain files are left alone
    assert (tmp_path / "d" / "b").stat().st_nlink == 1
    hard = Workspace(store, Linker(["hardlink", "copy"]), state)
    assert hard.link_committed(state.build_dir(tmp_path / "d"), tmp_path / "d") == 3
    assert all(p.stat().st_nlink == 2 for p in (tmp_path / "d").rglob("*") if p.is_file())
    assert state.hash_dir(tmp_path / "d") == listing.info


def test_relink_switches_link_kind_of_unchanged_files(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    cf.write_tree(tmp_path / "d", {"a": "a", "s": {"b": "b"}})
    info = commit_dir(store, tmp_path / "d")
    shutil.rmtree(tmp_path / "d")
    Workspace(store, Linker(["copy"])).checkout(info, tmp_path / "d")
    assert (tmp_path / "d" / "a").stat().st_nlink == 1
    hard = Workspace(store, Linker(["hardlink"]))
    assert not hard.checkout(info, tmp_path / "d").changed  # plain checkout: untouched
    assert (tmp_path / "d" / "a").stat().st_nlink == 1
    hard.checkout(info, tmp_path / "d", relink=True)
    for name in ("a", "s/b"):
        assert (tmp_path / "d" / name).stat().st_nlink == 2
    assert (
        Linker(["hardlink"]).needs_relink(
            str(tmp_path / "d" / "a"), store.path_of(hash_file(tmp_path / "d" / "a").md5)
        )
        is False
    )


def test_first_working_link_type_is_wanted(tmp_path: Path) -> None:
    """`hardlink,copy`: a plain copy must be relinked as a hardlink (DVC's order)."""
    src = tmp_path / "obj"
    src.write_text("x")
    copy = tmp_path / "copy"
    copy.write_text("x")
    assert Linker(["hardlink", "copy"]).needs_relink(str(copy), str(src))
    assert not Linker(["copy"]).needs_relink(str(copy), str(src))
    os.link(src, tmp_path / "hard")
    assert not Linker(["hardlink", "copy"]).needs_relink(str(tmp_path / "hard"), str(src))
