"""Is a whole directory in the cache? Checked once, then known while the cache is unchanged.

A tree of 70,000 files is in the cache when its ``.dir`` manifest is and every
object it lists is: reading the manifest and listing every prefix folder costs a
fifth of a second. Removing, adding or renaming an object changes the mtime of
its prefix folder, so a full check can be recorded with the ``(inode, mtime)``
of each folder the tree uses and the ``(inode, mtime, size)`` of the manifest;
while they are all the same, the answer is too, for the price of ~257 ``stat``
calls. As with file hashes (:func:`labrun.cache.state.is_settled`), a folder
changed in the last moments before the check leaves nothing recorded.

Only names are checked, as :meth:`~labrun.cache.odb.LocalObjectStore.missing`
does: an object whose bytes were damaged in place still counts as present.

    >>> tree_in_store(store, state, info)       # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import time

from labrun.cache.hashing import HashInfo, md5_bytes
from labrun.cache.odb import LocalObjectStore, read_manifest
from labrun.cache.state import State, is_settled
from labrun.errors import LabrunError

_ABSENT = (0, -1, -1)  # the stat data of a folder or file that is not there


def tree_in_store(store: LocalObjectStore, state: State, info: HashInfo) -> bool:
    """Whether the object *info* is in *store*, and for a directory every file of it."""
    legacy = info.legacy
    if not store.exists(info.md5, legacy=legacy):
        return False
    if not info.is_dir:
        return True
    recorded = state.recall_presence(store.root, info.md5, legacy=legacy)
    if recorded is not None and _fingerprint(store, info, recorded[0])[0] == recorded[1]:
        return True
    return _check_all(store, state, info)


def _check_all(store: LocalObjectStore, state: State, info: HashInfo) -> bool:
    """The full check: read the manifest, list the folders; record a success."""
    legacy = info.legacy
    started = time.time_ns()
    manifest_stat = _stat_of(store.path_of(info.md5, legacy=legacy))  # before it is read
    try:
        manifest = read_manifest(store, info.md5, legacy=legacy)
    except LabrunError:
        return False
    oids = [md5 for _rel, md5 in manifest.entries]
    prefixes = "".join(sorted({oid[:2] for oid in oids} | {info.md5[:2]}))
    token, newest = _fingerprint(store, info, prefixes, manifest_stat)  # before the listing
    if store.missing(oids, legacy=legacy):
        return False
    if is_settled(newest, started):
        state.remember_presence(store.root, info.md5, prefixes, token, legacy=legacy)
    return True


def _fingerprint(
    store: LocalObjectStore,
    info: HashInfo,
    prefixes: str,
    manifest_stat: tuple[int, int, int] | None = None,
) -> tuple[str, int]:
    """Digest of the manifest's and the prefix folders' stat data, and the newest mtime."""
    legacy = info.legacy
    manifest = store.path_of(info.md5, legacy=legacy)
    folder = os.path.dirname(manifest)[:-2]  # "<base>/" of the two-character folders
    seen = [manifest_stat or _stat_of(manifest)]
    seen.extend(_stat_of(folder + prefixes[i : i + 2]) for i in range(0, len(prefixes), 2))
    text = "\n".join(f"{ino} {mtime} {size}" for ino, mtime, size in seen)
    return md5_bytes(text.encode()), max(mtime for _ino, mtime, _size in seen)


def _stat_of(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return _ABSENT
    return st.st_ino, st.st_mtime_ns, st.st_size


__all__ = ["tree_in_store"]
