"""The project as DVC shows it: its files, plus DVC-tracked outputs read from the cache.

A cached output (say `metrics.json` with `cache: true`) is Git-ignored, so a
commit does not hold it, and a workspace may have lost it; DVC then reads the
object its `dvc.lock` (or `.dvc` file) records. :class:`OutputOverlay` is that
view as a `FileSource`: the base source first, then the recorded outputs, with
tracked directories listed from their `.dir` manifests.

    >>> from labrun.pipeline.source import WorkspaceSource
    >>> view = OutputOverlay(WorkspaceSource("/nonexistent"), {}, cache_dir=None)
    >>> view.exists("metrics.json")
    False
"""

from __future__ import annotations

import posixpath

from labrun.record import record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from labrun.cache.odb import ObjectStore
    from labrun.pipeline.source import FileSource, SourceEntry


@record
class Recorded:
    """The hash of an output as `dvc.lock` or a `.dvc` file records it.

    (`labrun.cache.hashing.HashInfo` says the same; this one avoids importing
    the hashing machinery just to read a record.)

        >>> Recorded.from_record({"path": "m.json", "hash": "md5", "md5": "ab", "size": 3})
        Recorded(md5='ab', size=3, nfiles=None, legacy=False)
    """

    md5: str
    size: int | None = None
    nfiles: int | None = None
    legacy: bool = False  # a DVC 2.x record (no `hash: md5`): the legacy cache layout

    @property
    def is_dir(self) -> bool:
        """True for a directory (`.dir` manifest) hash."""
        return self.md5.endswith(".dir")

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Recorded | None:
        """The hash part of a lock/`.dvc` record, or None when it has no md5."""
        md5, size, nfiles = rec.get("md5"), rec.get("size"), rec.get("nfiles")
        if not isinstance(md5, str) or not md5:
            return None
        return cls(
            md5,
            size if isinstance(size, int) and not isinstance(size, bool) else None,
            nfiles if isinstance(nfiles, int) and not isinstance(nfiles, bool) else None,
            "hash" not in rec,
        )


class _Item:
    """A listing item for a file or directory known only from the cache."""

    __slots__ = ("_dir", "name")

    def __init__(self, name: str, is_dir: bool) -> None:
        self.name = name
        self._dir = is_dir

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._dir


class OutputOverlay:
    """``base`` plus the outputs in ``outputs`` (project-relative path → recorded hash)."""

    def __init__(
        self, base: FileSource, outputs: Mapping[str, Recorded], cache_dir: str | None
    ) -> None:
        self.base = base
        self.outputs = dict(outputs)
        self.cache_dir = cache_dir
        self._store: ObjectStore | None = None
        self._manifests: dict[str, dict[str, str]] = {}

    # -- what the cache knows --------------------------------------------------------------

    def _odb(self) -> ObjectStore | None:
        if self._store is None and self.cache_dir is not None:
            from labrun.cache.odb import LocalObjectStore

            self._store = LocalObjectStore(self.cache_dir)
        return self._store

    def _object(self, info: Recorded) -> bytes:
        store = self._odb()
        if store is None:
            raise FileNotFoundError(2, "No such file or directory", info.md5)
        from labrun.cache.odb import ObjectNotFoundError

        try:
            with store.open(info.md5, legacy=info.legacy) as stream:
                return stream.read()
        except ObjectNotFoundError:
            raise FileNotFoundError(2, "No such file or directory", info.md5) from None

    def _files_of(self, out: str, info: Recorded) -> dict[str, str]:
        """relpath → md5 of the files of a tracked directory (empty if its manifest is lost)."""
        found = self._manifests.get(out)
        if found is None:
            from labrun.cache.hashing import HashingError, Manifest

            try:
                manifest = Manifest.from_bytes(self._object(info), where=info.md5)
                found = dict(manifest.entries)
            except (FileNotFoundError, HashingError):
                found = {}
            self._manifests[out] = found
        return found

    def _lookup(self, relpath: str) -> Recorded | str | None:
        """The recorded hash of a tracked file, "dir" for a tracked directory, or None."""
        path = posixpath.normpath(relpath)
        info = self.outputs.get(path)
        if info is not None:
            return "dir" if info.is_dir else info
        for out, info in self.outputs.items():
            if info.is_dir and path.startswith(out + "/"):
                inner = path[len(out) + 1 :]
                files = self._files_of(out, info)
                md5 = files.get(inner)
                if md5 is not None:
                    return Recorded(md5, legacy=info.legacy)
                if any(f.startswith(inner + "/") for f in files):
                    return "dir"
        if any(out.startswith(path + "/") or path == "." for out in self.outputs):
            return "dir"
        return None

    # -- FileSource --------------------------------------------------------------------------

    def read_text(self, relpath: str) -> str:
        """The base source's file, else the cached object of a tracked output."""
        try:
            return self.base.read_text(relpath)
        except FileNotFoundError:
            found = self._lookup(relpath)
            if found is None:
                raise
            if found == "dir":
                raise IsADirectoryError(21, "Is a directory", relpath) from None
        assert isinstance(found, Recorded)
        text = self._object(found).decode("utf-8")
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

    def exists(self, relpath: str) -> bool:
        """True in the base source or among the tracked outputs."""
        return self.base.exists(relpath) or self._lookup(relpath) is not None

    def isfile(self, relpath: str) -> bool:
        """True for a file of the base source or a tracked file."""
        if self.base.isfile(relpath):
            return True
        return isinstance(self._lookup(relpath), Recorded)

    def isdir(self, relpath: str) -> bool:
        """True for a directory of the base source or a tracked directory."""
        return self.base.isdir(relpath) or self._lookup(relpath) == "dir"

    def scandir(self, relpath: str) -> Iterable[SourceEntry]:
        """The base source's entries merged with those only the cache knows."""
        path = posixpath.normpath(relpath)
        merged: dict[str, SourceEntry] = {}
        try:
            merged.update((e.name, e) for e in self.base.scandir(relpath))
        except OSError:
            if self._lookup(relpath) != "dir":
                raise
        for name, is_dir in self._tracked_children(path):
            merged.setdefault(name, _Item(name, is_dir))
        return list(merged.values())

    def _tracked_children(self, path: str) -> Iterable[tuple[str, bool]]:
        prefix = "" if path == "." else path + "/"
        for out, info in self.outputs.items():
            if out.startswith(prefix):
                rest = out[len(prefix) :]
                name, sep, _ = rest.partition("/")
                yield name, bool(sep) or info.is_dir
            elif info.is_dir and (path == out or path.startswith(out + "/")):
                inner = "" if path == out else path[len(out) + 1 :] + "/"
                for rel in self._files_of(out, info):
                    if rel.startswith(inner):
                        name, sep, _ = rel[len(inner) :].partition("/")
                        yield name, bool(sep)


def walk_files(source: FileSource, relpath: str) -> list[str]:
    """Every file under a directory of ``source``, recursively, sorted (project-relative)."""
    found: list[str] = []
    stack = [posixpath.normpath(relpath)]
    while stack:
        current = stack.pop()
        for entry in source.scandir(current):
            child = entry.name if current == "." else f"{current}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                stack.append(child)
            else:
                found.append(child)
    return sorted(found)
