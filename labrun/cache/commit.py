"""Committing workspace data: hash it through the memo and store it, reading each file once.

A file the hash memo knows (unchanged since it was last hashed) is not read
to be hashed: it is copied into the store only if its object is missing. A
file the memo does not know is hashed *while* it is copied into the store
(:meth:`~labrun.cache.odb.ObjectStore.ingest`), instead of being read once
to hash and once more to copy.

Work is counted on the :class:`~labrun.cache.workers.Meter` current on the
calling thread, if any: only the files actually read (not those the memo knows).

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

import operator
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from labrun.cache.hashing import HashInfo, file_hasher, hash_files
from labrun.cache.odb import ObjectStore
from labrun.cache.state import DirHasher, DirListing, FileHasher, State
from labrun.cache.workers import FileItem, current_meter

if TYPE_CHECKING:
    from labrun.ignore import DvcIgnore

_SIZE = operator.itemgetter(1)


def commit_file(
    state: State, store: ObjectStore, path: str | os.PathLike[str], *, legacy: bool = False
) -> HashInfo:
    """Hash one file and make sure its object is in *store*."""
    ingested: list[str] = []

    def ingest(file: str, size: int) -> str:
        with _counted([(file, size)]):
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
        with _counted(items):
            oids = store.ingest_many(items, legacy=legacy)
        ingested.update(oids)
        return oids

    listing = state.build_dir(path, ignore, legacy=legacy, hasher=ingest)
    files = zip(listing.files, listing.manifest.entries, strict=True)
    store.add_many([(md5, f.path) for f, (_, md5) in files if md5 not in ingested], legacy=legacy)
    store.add(listing.info.md5, listing.manifest.to_bytes(), legacy=legacy)
    return listing


def dir_hasher(*, legacy: bool = False, jobs: int | None = None) -> DirHasher:
    """Plain hashing for :meth:`State.build_dir`, counted (as one run) on this thread's meter.

    >>> listing = State().build_dir(path, hasher=dir_hasher())   # doctest: +SKIP
    """

    def hasher(items: Sequence[FileItem]) -> list[str]:
        with _counted(items):
            return hash_files(items, legacy=legacy, jobs=jobs)

    return hasher


def single_file_hasher(*, legacy: bool = False) -> FileHasher:
    """Plain hashing for :meth:`State.hash_file`, counted on this thread's meter."""
    plain = file_hasher(legacy)

    def hasher(path: str, size: int) -> str:
        with _counted([(path, size)]):
            return plain(path, size)

    return hasher


@contextmanager
def _counted(items: Sequence[FileItem]) -> Iterator[None]:
    """Count the work on *items* as one run: :func:`~labrun.cache.workers.map_files`
    counts slices and big files' chunks as they are done, the rest is counted at the
    end. A no-op unless a meter is current."""
    meter = current_meter()
    if meter is None or meter.running or not items:
        yield
        return
    size = sum(map(_SIZE, items))
    with meter.run(len(items), size):
        yield
        meter.advance(len(items) - meter.files, max(0, size - meter.size))  # uncounted rest


__all__ = ["commit_dir", "commit_file", "dir_hasher", "single_file_hasher"]
