"""Helpers shared by the cache-layer tests (plain functions, no pytest magic).

Import with::

    try:
        from tests import cache_fixtures as cf
    except ImportError:
        import cache_fixtures as cf  # type: ignore[no-redef]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A tree with the names that test sort order and escaping: "-" < "." < "/" in code points.
ODD_TREE: dict[str, Any] = {
    "d-h": "dash\n",
    "d.txt": "dot\n",
    "d": {"g": "g\n", "sub": {"deep.bin": b"\x00\x01\x02"}},
    "f.csv": "a,b\r\n1,2\r\n",
    "naïve-日本.txt": "unicode name\n",
    "A.txt": "upper\n",
}


def write_tree(base: Path, files: dict[str, Any]) -> None:
    """Write files under *base*: str/bytes values are contents, dicts are directories."""
    base.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = base / name
        if isinstance(content, dict):
            write_tree(path, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))


def rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """Overwrite *path* in place with same-size *data*, then restore its mtime.

    Inode, size and mtime stay identical, so only a memo that trusts ``stat``
    would miss the change: the tests use this to prove a file was *not* re-read.
    """
    before = path.stat()
    assert len(data) == before.st_size
    with open(path, "r+b") as fobj:
        fobj.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def settle(path: Path, seconds: int = 60) -> None:
    """Date *path* (or every file under it) *seconds* back, as a file written a while ago.

    The hash memo never trusts the ``stat`` of a file written in the last moments
    (a rewrite within the same timestamp tick would keep it): tests that prove a
    file is *not* re-read start from settled files.
    """
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    for file in files:
        st = file.stat()
        old = st.st_mtime_ns - seconds * 1_000_000_000
        os.utime(file, ns=(old, old))


def bump_mtime(path: Path, seconds: int = 10) -> None:
    """Move a file's mtime forward, as a later edit would."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def mode_of(path: Path) -> int:
    """Permission bits of *path* (no link following)."""
    return path.lstat().st_mode & 0o7777
