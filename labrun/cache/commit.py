"""Committing workspace data: hash it through the memo and store it, reading each file once.

A file the hash memo knows (unchanged since it was last hashed) is not read
to be hashed: it is copied into the store only if its object is missing. A
file the memo does not know is hashed *while* it is copied into the store
(:meth:`~labrun.cache.odb.ObjectStore.ingest`), instead of being read once
to hash and once more to copy.

    >>> import tempfile, pathlib
    >>> from labrun.cache.odb import MemoryObjectStore
    >>> from labrun.cache.state import State
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("a")
    >>> store = MemoryObjectStore()
    >>> commit_file(State(), store, d / "a.txt").md5
    '0cc175b9c0f1b6a831c399e269772661'
    >>> store.exists('0cc175b9c0f1b6a831c399e269772661')
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from labrun.cache.hashing import HashInfo
from labrun.cache.odb import ObjectStore
from labrun.cache.state import DirListing, State
from labrun.cache.workers import FileItem

if TYPE_CHECKING:
    from labrun.ignore import DvcIgnore


def commit_file(
    state: State, store: ObjectStore, path: str | os.PathLike[str], *, legacy: bool = False
) -> HashInfo:
    """Hash one file and make sure its object is in *store*."""
    ingested: list[str] = []

    def ingest(file: str, _size: int) -> str:
        ingested.append(store.ingest(file, legacy=legacy))
        return ingested[-1]

    info = state.hash_file(path, legacy=legacy, hasher=ingest)
    if not ingested:
        store.add(info.md5, path, legacy=legacy)
    return info


def commit_dir(
    state: State,
    store: ObjectStore,
    path: str | os.PathLike[str],
    ignore: DvcIgnore | None = None,
    *,
    legacy: bool = False,
) -> DirListing:
    """Hash a directory and store it whole: its files, then its manifest (last, so
    that a manifest in the store means its files are there too)."""
    ingested: set[str] = set()

    def ingest(items: Sequence[FileItem]) -> list[str]:
        oids = store.ingest_many(items, legacy=legacy)
        ingested.update(oids)
        return oids

    listing = state.build_dir(path, ignore, legacy=legacy, hasher=ingest)
    files = zip(listing.files, listing.manifest.entries, strict=True)
    store.add_many([(md5, f.path) for f, (_, md5) in files if md5 not in ingested], legacy=legacy)
    store.add(listing.info.md5, listing.manifest.to_bytes(), legacy=legacy)
    return listing


__all__ = ["commit_dir", "commit_file"]
