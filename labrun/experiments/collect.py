"""The row data of one revision: what `exp show` and `exp diff` print for it.

For the working tree or any commit (through a `FileSource`), in DVC's JSON
layout: ``params`` and ``metrics`` per file (`labrun.repro.metrics`), ``deps``
(every non-params dependency of every stage → the hash, size and nfiles its
`dvc.lock` records) and ``outs`` (every output that is not a metric or plot).
A pipeline that cannot be loaded makes the whole row an error; an unreadable
params or metrics file is an error entry for that file only.

    >>> from labrun.pipeline.source import WorkspaceSource
    >>> row = collect_row("/nonexistent", WorkspaceSource("/nonexistent"))
    >>> row.data["params"], row.error
    ({}, None)
"""

from __future__ import annotations

import posixpath

from labrun.errors import LabrunError
from labrun.pipeline.index import Index
from labrun.pipeline.lockfile import LockFile, lock_relpath
from labrun.record import field, record
from labrun.repro import metrics as results
from labrun.repro.overlay import OutputOverlay, Recorded

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from labrun.pipeline.interpolate import ParsingConfig
    from labrun.pipeline.source import FileSource
    from labrun.pipeline.stage import Stage

    _Records = dict[str, list[dict[str, Any]]]  # "deps"/"outs" → records with path and hashes


@record
class CollectOptions:
    """How rows are collected: templating config, cache, params that are stage deps only."""

    parsing: ParsingConfig | None = None
    cache_dir: str | None = None
    param_deps: bool = False
    ignore: Callable[[str, bool], bool] | None = field(default=None, compare=False)


class Collected:
    """One revision's data (DVC's ``data`` object without rev/timestamp), or its error.

    A row read back from the row cache keeps its JSON ``text`` and is decoded
    only when ``data`` is asked for: `exp show --json` copies the text as is.
    """

    __slots__ = ("_data", "_text", "error")

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        error: dict[str, str] | None = None,
        *,
        text: str | None = None,
    ) -> None:
        self._data = data
        self._text = text
        self.error = error

    def __repr__(self) -> str:
        return f"Collected(data={self.data!r}, error={self.error!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Collected) and (self.data, self.error) == (
            other.data,
            other.error,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def data(self) -> dict[str, Any] | None:
        """The row (params, metrics, deps, outs, meta), or None when it failed."""
        if self._data is None and self._text is not None:
            import json

            self._data = json.loads(self._text)
        return self._data

    @property
    def text(self) -> str | None:
        """The row as JSON (DVC's separators), or None when it failed."""
        if self._text is None and self._data is not None:
            import json

            self._text = json.dumps(self._data)
        return self._text

    @property
    def has_text(self) -> bool:
        """True when the JSON text is at hand without encoding anything."""
        return self._text is not None

    @property
    def has_errors(self) -> bool:
        """True if the row or any of its params/metrics files failed (not worth caching)."""
        data = self.data
        if self.error is not None or data is None:
            return True
        entries = [*data["params"].values(), *data["metrics"].values()]
        return any("error" in entry for entry in entries)


# what can go wrong while reading a revision's pipeline (a broken file, a vanished object)
ROW_ERRORS = (LabrunError, OSError, ValueError, RecursionError)


def collect_row(root: str, source: FileSource, options: CollectOptions | None = None) -> Collected:
    """Collect one revision; never raises for problems in the revision's files."""
    options = options or CollectOptions()
    try:
        snap = Snapshot.load(root, source, options)
        return Collected(data=snap.row_data(options.param_deps))
    except ROW_ERRORS as exc:
        return Collected(error=results.describe_error(exc))


@record
class Snapshot:
    """A revision's loaded pipeline, lock records, and its files as DVC sees them."""

    index: Index
    records: dict[tuple[str, str], _Records]
    view: OutputOverlay

    @classmethod
    def load(cls, root: str, source: FileSource, options: CollectOptions) -> Snapshot:
        """Load the pipeline and locks of ``source`` (LabrunError if they are broken)."""
        index = Index.load(root, options.parsing, options.ignore, source=source)
        records = dict(_stage_records(root, index, source))
        outputs = {
            path: info
            for path, info, _out in _out_hashes(index, records, include_reports=True)
            if info is not None
        }
        return cls(index, records, OutputOverlay(source, outputs, options.cache_dir))

    def row_data(self, param_deps: bool = False) -> dict[str, Any]:
        """The row: params, metrics, deps, outs, meta."""
        return {
            "params": results.gather_params(self.index, self.view, deps_only=param_deps),
            "metrics": results.gather_metrics(self.index, self.view),
            "deps": _deps(self.index, self.records),
            "outs": _outs(self.index, self.records),
            "meta": {},
        }


def _stage_records(
    root: str, index: Index, source: FileSource
) -> Iterator[tuple[tuple[str, str], _Records]]:
    """(dvc file, stage name) → the recorded deps/outs of each stage."""
    locks: dict[str, LockFile] = {}
    for stage in index.stages:
        if stage.is_data_source:
            raw: Mapping[str, Any] = stage.raw
        else:
            rel = lock_relpath(stage.dvcfile)
            if rel not in locks:
                locks[rel] = LockFile.load(root, rel, source)
            raw = locks[rel].entry(stage.name) or {}
        recorded = {
            kind: [r for r in raw.get(kind) or [] if isinstance(r, dict)]
            for kind in ("deps", "outs")
        }
        yield (stage.dvcfile, stage.name), recorded


def _path(stage: Stage, def_path: str) -> str:
    if "://" in def_path:
        return def_path
    return posixpath.normpath(posixpath.join(stage.wdir, def_path))


def _find(records: list[dict[str, Any]], def_path: str) -> Recorded | None:
    for rec in records:
        if rec.get("path") == def_path:
            return Recorded.from_record(rec)
    return None


def _deps(index: Index, records: dict[tuple[str, str], _Records]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for stage in index.stages:
        recorded = records[(stage.dvcfile, stage.name)]["deps"]
        deps = stage.deps
        if stage.is_data_source:  # imports: their `deps` records (repo deps are skipped)
            deps = tuple(r["path"] for r in recorded if "repo" not in r and "path" in r)
        for def_path in deps:
            info = _find(recorded, def_path)
            found[_path(stage, def_path)] = _hash_fields(info)
    return found


def _out_hashes(
    index: Index, records: dict[tuple[str, str], _Records], *, include_reports: bool
) -> Iterator[tuple[str, Recorded | None, Any]]:
    for stage in index.stages:
        recorded = records[(stage.dvcfile, stage.name)]["outs"]
        for out in stage.outs:
            if include_reports or not (out.is_metric or out.is_plot):
                yield _path(stage, out.path), _find(recorded, out.path), (stage, out)


def _outs(index: Index, records: dict[tuple[str, str], _Records]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path, info, (stage, out) in _out_hashes(index, records, include_reports=False):
        found[path] = {
            **_hash_fields(info),
            "use_cache": out.cache,
            "is_data_source": stage.is_data_source,
        }
    return found


def _hash_fields(info: Recorded | None) -> dict[str, Any]:
    if info is None:
        return {"hash": None, "size": None, "nfiles": None}
    return {"hash": info.md5, "size": info.size, "nfiles": info.nfiles}
