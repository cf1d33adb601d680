"""`dvc.lock`: read it, build a stage's entry in DVC's key order, rewrite it byte-compatibly.

>>> entry = build_entry("python t.py", deps=[{"path": "b"}, {"path": "a"}],
...                     params={"p.json": {"z": 1}, "params.yaml": {"lr": 0.1}}, outs=[])
>>> list(entry), [d["path"] for d in entry["deps"]], list(entry["params"])
(['cmd', 'deps', 'params'], ['a', 'b'], ['params.yaml', 'p.json'])
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from functools import lru_cache

from labrun.pipeline import files, schema
from labrun.pipeline.source import workspace_of
from labrun.pipeline.stage import DEFAULT_PARAMS_FILE
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from labrun.pipeline.source import FileSource

LOCK_NAME = "dvc.lock"


@lru_cache(maxsize=256)  # asked once per stage; a project has few dvc.yaml files
def lock_relpath(dvcyaml_relpath: str) -> str:
    """The project-relative path of the lock file beside a `dvc.yaml`."""
    return posixpath.join(posixpath.dirname(dvcyaml_relpath), LOCK_NAME)


#: lock files this long or longer are read by labrun.pipeline.lockfast (about 10 stages)
FAST_READ_BYTES = 8 * 1024


@record(frozen=False)
class LockFile:
    """The parsed entries of one `dvc.lock` (plain dicts, in file order)."""

    root: str
    relpath: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. top-level `datasets`
    exists: bool = False
    # The YAML text of each entry as it is in the file (or was last written), so that
    # writing one entry does not re-serialise the others: rewriting a 500-stage lock
    # file after every stage would make a full repro quadratic.
    _texts: dict[str, str] = field(default_factory=dict, repr=False)
    _trailer: str | None = field(default=None, repr=False)

    @classmethod
    def load(cls, root: str, relpath: str, source: FileSource | None = None) -> LockFile:
        """Read and validate a lock file; a missing or empty file has no entries.

        ``source`` serves the file (default: the working tree at ``root``).
        """
        source = workspace_of(root, source)
        if not source.exists(relpath):
            return cls(root, relpath)
        return cls.from_text(root, relpath, files.read_text(relpath, relpath, source))

    @classmethod
    def from_text(cls, root: str, relpath: str, text: str) -> LockFile:
        """The lock file whose text is ``text``: as `from_text_reference`, only faster.

        A file in the layout DVC writes is read by `lockfast.read_lock`; any other
        (and every invalid one) by the reference path, as are small files: for a few
        stages, compiling the fast reader's patterns costs more than it saves.

            >>> text = "schema: '2.0'\\nstages:\\n  a:\\n    cmd: x\\n"
            >>> lock = LockFile.from_text("/p", "dvc.lock", text)
            >>> lock.entry("a"), lock.exists
            ({'cmd': 'x'}, True)
        """
        fast = None
        if len(text) >= FAST_READ_BYTES:
            from labrun.pipeline.lockfast import read_lock

            fast = read_lock(text)
        if fast is None:
            return cls.from_text_reference(root, relpath, text)
        lock = cls(root, relpath, fast[0], exists=True)
        lock._texts, lock._trailer = fast[1], ""
        return lock

    @classmethod
    def from_text_reference(cls, root: str, relpath: str, text: str) -> LockFile:
        """Parse the whole YAML document, validate it, then split it into entries."""
        data = files.parse_yaml(text, relpath)
        if not data:
            return cls(root, relpath)
        data = schema.validate_lockfile(data, text, relpath)
        extra = {k: v for k, v in data.items() if k not in ("schema", "stages")}
        lock = cls(root, relpath, dict(data.get("stages") or {}), extra, exists=True)
        lock._split(text)
        return lock

    def _split(self, text: str) -> None:
        """Remember each entry's text, when the file has DVC's layout (else dump all)."""
        lines = text.splitlines(keepends=True)
        if lines[:2] != ["schema: '2.0'\n", "stages:\n"]:
            return
        starts = [i for i, line in enumerate(lines) if i > 1 and _is_entry_line(line)]
        end = next((i for i, line in enumerate(lines) if i > 1 and line[:1] not in " \n"), None)
        starts = [i for i in starts if end is None or i < end]
        if len(starts) != len(self.stages):
            return
        bounds = [*starts, end if end is not None else len(lines)]
        for name, first, last in zip(self.stages, bounds, bounds[1:], strict=False):
            self._texts[name] = "".join(lines[first:last])
        self._trailer = "".join(lines[bounds[-1] :])

    def entry(self, name: str) -> dict[str, Any] | None:
        """The recorded entry of a stage, or None."""
        return self.stages.get(name)

    def with_entry(self, name: str, entry: dict[str, Any]) -> str | None:
        """Put an entry; returns "generated"/"updated" when the file must be written, else None.

        A new entry goes at the end; an existing one is replaced in place.
        """
        if self.stages.get(name) == entry and self.exists:
            return None
        verb = "updated" if self.exists else "generated"
        self.stages[name] = entry
        self._texts.pop(name, None)
        return verb

    def dumps(self) -> str:
        """The whole file as DVC writes it (untouched entries keep their text)."""
        if self.exists and self._trailer is None:  # not DVC's layout: write it all anew
            data: dict[str, Any] = {"schema": "2.0", "stages": self.stages, **self.extra}
            return files.dump_yaml(data)
        for name, entry in self.stages.items():
            if name not in self._texts:
                self._texts[name] = _dump_entry(name, entry)
        trailer = self._trailer if self._trailer is not None else _dump_extra(self.extra)
        body = "".join(self._texts[name] for name in self.stages)
        return "schema: '2.0'\nstages:\n" + body + trailer

    def save(self) -> None:
        """Write the file atomically (temp file + fsync + rename)."""
        from labrun.fsutil import atomic_write

        text = self.dumps()
        atomic_write(os.path.join(self.root, self.relpath), text.encode("utf-8"))
        self.exists = True
        if self._trailer is None:
            self._trailer = _dump_extra(self.extra)


def _is_entry_line(line: str) -> bool:
    """A stage key line: indented by exactly two spaces (DVC's block layout)."""
    return line.startswith("  ") and line[2:3] not in (" ", "-", "\n", "")


def _dump_entry(name: str, entry: dict[str, Any]) -> str:
    text = files.dump_yaml({"stages": {name: entry}})
    assert text.startswith("stages:\n")
    return text[len("stages:\n") :]


def _dump_extra(extra: dict[str, Any]) -> str:
    return files.dump_yaml(extra) if extra else ""


def build_entry(
    cmd: Any,
    *,
    deps: Sequence[Mapping[str, Any]],
    params: Mapping[str, Mapping[str, Any]],
    outs: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A lock entry: keys `cmd`, `deps`, `params`, `outs` (empty ones omitted), DVC's sorting.

    deps/outs are sorted by path; params files with `params.yaml` first then by
    path, keys within a file sorted.
    """
    entry: dict[str, Any] = {"cmd": cmd}
    if deps:
        entry["deps"] = sorted((dict(d) for d in deps), key=lambda d: d["path"])
    if params:
        ordered = sorted(params, key=lambda p: (p != DEFAULT_PARAMS_FILE, p))
        entry["params"] = {p: {k: params[p][k] for k in sorted(params[p])} for p in ordered}
    if outs:
        entry["outs"] = sorted((dict(o) for o in outs), key=lambda o: o["path"])
    return entry
