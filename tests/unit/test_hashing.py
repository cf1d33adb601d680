"""File md5 (DVC 3 and 2.x legacy), `.dir` manifests and the HashInfo value."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from labrun.cache.hashing import (
    CHUNK,
    EMPTY_DIR_MD5,
    HashInfo,
    HashingError,
    Manifest,
    hash_dir,
    hash_file,
    hash_files,
    is_text_block,
    md5_copy,
    md5_fd,
    md5_fd_overlapped,
    md5_file,
    md5_file_legacy,
    read_small,
    scan_dir,
)
from labrun.ignore import DvcIgnore

try:
    from tests import cache_fixtures as cf
except ImportError:
    import cache_fixtures as cf  # type: ignore[no-redef,import-not-found]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# -- files ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4095, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_md5_file_is_md5_of_raw_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert md5_file(path) == md5(data)
    assert md5_file(path, size_hint=size) == md5(data)


def test_md5_file_keeps_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"hello\nworld\r\n")
    assert md5_file(path) == md5(b"hello\nworld\r\n")


def test_md5_file_survives_a_stale_size_hint(tmp_path: Path) -> None:
    path = tmp_path / "grew"
    path.write_bytes(b"x" * 5000)
    assert md5_file(path, size_hint=10) == md5(b"x" * 5000)
    assert md5_file(path, size_hint=10_000) == md5(b"x" * 5000)


def test_text_sniffing() -> None:
    assert is_text_block(b"")
    assert is_text_block(b"plain text\r\n\t\f\b")
    assert not is_text_block(b"text with a \x00 NUL")
    assert is_text_block(b"a" * 7 + b"\xff" * 3)  # exactly 30 % non-text
    assert not is_text_block(b"a" * 6 + b"\xff" * 4)


def test_legacy_hash_normalises_crlf_in_text(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n")
    assert md5_file_legacy(path) == md5(b"a,b\n1,2\n")
    assert md5_file(path) == md5(b"a,b\r\n1,2\r\n")


def test_legacy_hash_leaves_binary_alone(tmp_path: Path) -> None:
    data = b"\x00\x01\r\n\x02" * 10
    path = tmp_path / "bin"
    path.write_bytes(data)
    assert md5_file_legacy(path) == md5(data)
    (tmp_path / "empty").write_bytes(b"")
    assert md5_file_legacy(tmp_path / "empty") == md5(b"")


def test_legacy_hash_decides_per_1mib_chunk(tmp_path: Path) -> None:
    text = (b"line\r\n" * (CHUNK // 6 + 1))[: CHUNK - 1] + b"\r"  # chunk ends mid-CRLF
    binary = b"\n\x00\x00" + b"x\r\n" * 100  # next chunk starts with the "\n", then NULs
    path = tmp_path / "mixed"
    path.write_bytes(text + binary)
    assert len(text) == CHUNK
    expected = md5(text.replace(b"\r\n", b"\n") + binary)
    assert md5_file_legacy(path) == expected


def test_hash_file_reports_size_and_exec(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_bytes(b"#!/bin/sh\n")
    assert hash_file(path) == HashInfo(md5(b"#!/bin/sh\n"), 10)
    path.chmod(0o755)
    assert hash_file(path).isexec
    assert hash_file(path, legacy=True).legacy


def test_hash_file_follows_links_and_rejects_the_rest(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert hash_file(tmp_path / "link").md5 == md5(b"abc")
    with pytest.raises(HashingError, match="does not exist"):
        hash_file(tmp_path / "missing")
    with pytest.raises(HashingError, match="not a regular file"):
        hash_file(tmp_path)


def test_hash_files_threads_agree_with_serial(tmp_path: Path) -> None:
    items = []
    for i in range(300):
        path = tmp_path / f"f{i}"
        path.write_bytes(os.urandom(i * 37))
        items.append((str(path), i * 37))
    big = tmp_path / "big"
    big.write_bytes(os.urandom(2 * CHUNK + 5))
    items.append((str(big), 2 * CHUNK + 5))
    expected = [md5(Path(p).read_bytes()) for p, _ in items]
    assert hash_files(items, jobs=1) == expected
    assert hash_files(items, jobs=4) == expected
    assert hash_files(items[:3], jobs=4) == expected[:3]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 3, 9 * CHUNK, 13 * CHUNK + 7])
def test_md5_copy_hashes_what_it_copies_in_one_read(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "src").write_bytes(data)
    progress: list[int] = []
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        digest = md5_copy(src.fileno(), dst.fileno(), on_chunk=progress.append)
    assert digest == md5(data)
    assert (tmp_path / "dst").read_bytes() == data
    steps = [b - a for a, b in zip([0, *progress], progress, strict=False)]
    assert progress == sorted(progress) and progress[-1:] == ([size] if size else [])
    assert all(0 < step <= 4 * CHUNK for step in steps)
    with open(tmp_path / "src", "rb") as src:
        assert md5_fd(src.fileno()) == md5(data)
    with open(tmp_path / "src", "rb") as src:
        assert md5_fd_overlapped(src.fileno()) == md5(data)


def test_md5_copy_of_a_big_file_stops_cleanly_when_a_write_fails(tmp_path: Path) -> None:
    """The hashing thread is told to stop and joined; the error reaches the caller."""
    import threading

    (tmp_path / "src").write_bytes(os.urandom(6 * CHUNK))
    before = threading.active_count()
    with (
        open(tmp_path / "src", "rb") as src,
        open(tmp_path / "src", "rb") as not_writable,
        pytest.raises(OSError),
    ):
        md5_copy(src.fileno(), not_writable.fileno())
    assert threading.active_count() == before


def test_read_small_reads_a_file_that_grew(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK)
    (tmp_path / "f").write_bytes(data)
    with open(tmp_path / "f", "rb") as fobj:
        assert read_small(fobj.fileno(), 5) == data
    with open(tmp_path / "f", "rb") as fobj:
        assert read_small(fobj.fileno(), len(data)) == data


def test_hash_files_shares_big_files_among_threads(tmp_path: Path) -> None:
    import threading

    from labrun.cache.workers import map_files

    items = []
    for i in range(24):
        (tmp_path / f"big{i}").write_bytes(os.urandom(CHUNK // 2 + i))
        items.append((str(tmp_path / f"big{i}"), CHUNK // 2 + i))
    threads: set[int] = set()

    def hasher(path: str, size: int) -> str:
        threads.add(threading.get_ident())
        return md5_file(path, size)

    assert map_files(hasher, items, jobs=4) == [md5(Path(p).read_bytes()) for p, _ in items]
    assert len(threads) > 1
    threads.clear()
    map_files(hasher, [(p, 300) for p, _ in items] * 100, jobs=4)  # small files: no threads
    assert threads == {threading.get_ident()}


# -- manifests -----------------------------------------------------------------------


def test_manifest_bytes_match_json_dumps_sorted(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, cf.ODD_TREE)
    info, manifest = hash_dir(tmp_path)
    relpaths = [rel for rel, _ in manifest]
    assert relpaths == sorted(relpaths)
    assert relpaths[:4] == ["A.txt", "d-h", "d.txt", "d/g"]  # "-" < "." < "/"
    reference = json.dumps(
        [{"md5": m, "relpath": r} for r, m in manifest.entries], sort_keys=True
    ).encode()
    assert manifest.to_bytes() == reference
    assert b"\\u00ef" in reference  # non-ASCII names are escaped
    assert info.md5 == md5(reference) + ".dir"
    assert info.size == sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert info.nfiles == 7


def test_manifest_of_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    info, manifest = hash_dir(tmp_path / "empty")
    assert manifest.to_bytes() == b"[]"
    assert info == HashInfo(EMPTY_DIR_MD5, 0, 0)


def test_manifest_escapes_like_json(tmp_path: Path) -> None:
    names = ['quo"te', "back\\slash", "tab\there", "emoji\U0001f600", "ctl\x01"]
    manifest = Manifest([(n, "0" * 32) for n in names])
    expected = json.dumps(
        sorted(({"md5": "0" * 32, "relpath": n} for n in names), key=lambda e: e["relpath"]),
        sort_keys=True,
    )
    assert manifest.to_bytes() == expected.encode()


def test_manifest_round_trip_and_corruption() -> None:
    manifest = Manifest([("b", "2" * 32), ("a", "1" * 32)])
    assert Manifest.from_bytes(manifest.to_bytes()) == manifest
    assert list(manifest) == [("a", "1" * 32), ("b", "2" * 32)]
    with pytest.raises(HashingError, match="corrupted"):
        Manifest.from_bytes(b"{not json", where="x.dir")
    with pytest.raises(HashingError):
        Manifest.from_bytes(b'[{"md5": "x"}]')


# -- directories ---------------------------------------------------------------------


def test_scan_dir_follows_file_links_but_not_directory_links(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"other": {"x": "x"}, "d": {"a": "a"}, "t": "target"})
    (tmp_path / "d" / "flink").symlink_to(tmp_path / "t")
    (tmp_path / "d" / "dlink").symlink_to(tmp_path / "other", target_is_directory=True)
    stats = scan_dir(tmp_path / "d")
    assert [s.relpath for s in stats] == ["a", "flink"]
    assert stats[1].size == len("target")
    assert (stats[0].symlink, stats[1].symlink) == (False, True)


def test_scan_dir_reports_hardlinks(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"d": {"a": "a", "b": "b"}})
    os.link(tmp_path / "d" / "a", tmp_path / "elsewhere")
    assert [(s.relpath, s.nlink) for s in scan_dir(tmp_path / "d")] == [("a", 2), ("b", 1)]


def test_scan_dir_errors(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"d": {"a": "a"}, "f": "f"})
    (tmp_path / "d" / "broken").symlink_to(tmp_path / "nowhere")
    with pytest.raises(HashingError, match="broken symlink"):
        scan_dir(tmp_path / "d")
    with pytest.raises(HashingError, match="not a directory"):
        scan_dir(tmp_path / "f")


def test_dir_hash_skips_dvcignored_files(tmp_path: Path) -> None:
    cf.write_tree(
        tmp_path,
        {".dvcignore": "*.tmp\ndata/logs/\n", "data": {"a.txt": "a", "b.tmp": "b"}},
    )
    (tmp_path / "data" / "logs").mkdir()
    (tmp_path / "data" / "logs" / "l.txt").write_text("l")
    ign = DvcIgnore(tmp_path)
    info, manifest = hash_dir(tmp_path / "data", ign)
    assert [r for r, _ in manifest] == ["a.txt"]
    assert info.nfiles == 1
    (tmp_path / "data" / "c.tmp").write_text("new")
    assert hash_dir(tmp_path / "data", DvcIgnore(tmp_path))[0] == info


def test_dvcignore_inside_a_hashed_directory_is_an_error(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"data": {"sub": {".dvcignore": "x\n", "a": "a"}}})
    with pytest.raises(HashingError, match="should not be in collected dir path"):
        hash_dir(tmp_path / "data", DvcIgnore(tmp_path))


def test_legacy_directory_hash_uses_legacy_file_hashes(tmp_path: Path) -> None:
    cf.write_tree(tmp_path, {"w.txt": "a\r\nb\r\n"})
    info, manifest = hash_dir(tmp_path, legacy=True)
    assert manifest.entries == (("w.txt", md5(b"a\nb\n")),)
    assert info.legacy


# -- HashInfo ------------------------------------------------------------------------


def test_hashinfo_record_orders() -> None:
    info = HashInfo("d" * 32 + ".dir", 6, 4)
    assert list(info.to_lock_dict().items()) == [
        ("hash", "md5"),
        ("md5", "d" * 32 + ".dir"),
        ("size", 6),
        ("nfiles", 4),
    ]
    assert list(info.to_dvcfile_dict()) == ["md5", "size", "nfiles", "hash"]
    assert info.is_dir
    legacy = HashInfo("e" * 32, 3, legacy=True)
    assert legacy.to_lock_dict() == {"md5": "e" * 32, "size": 3}
    assert list(HashInfo("f" * 32, 10, isexec=True).to_dvcfile_dict()) == [
        "md5",
        "size",
        "isexec",
        "hash",
    ]


def test_hashinfo_from_records() -> None:
    record = {"path": "a", "hash": "md5", "md5": "a" * 32, "size": 5, "isexec": True}
    assert HashInfo.from_record(record) == HashInfo("a" * 32, 5, isexec=True)
    assert HashInfo.from_record({"path": "a", "md5": "b" * 32, "size": 1}) == HashInfo(
        "b" * 32, 1, legacy=True
    )
    assert HashInfo.from_record({"path": "a"}) is None
    assert HashInfo.from_record({"md5": None}) is None
    info = HashInfo.from_record({"hash": "md5", "md5": "c" * 32 + ".dir", "size": 0, "nfiles": 0})
    assert info is not None and info.to_lock_dict()["nfiles"] == 0
