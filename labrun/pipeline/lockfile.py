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
from dataclasses import dataclass, field
from typing import Any

from labrun.pipeline import files, schema
from labrun.pipeline.stage import DEFAULT_PARAMS_FILE

LOCK_NAME = "dvc.lock"


def lock_relpath(dvcyaml_relpath: str) -> str:
    """The project-relative path of the lock file beside a `dvc.yaml`."""
    return posixpath.join(posixpath.dirname(dvcyaml_relpath), LOCK_NAME)


@dataclass
class LockFile:
    """The parsed entries of one `dvc.lock` (plain dicts, in file order)."""

    root: str
    relpath: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. top-level `datasets`
    exists: bool = False

    @classmethod
    def load(cls, root: str, relpath: str) -> LockFile:
        """Read and validate a lock file; a missing or empty file has no entries."""
        full = os.path.join(root, relpath)
        if not os.path.exists(full):
            return cls(root, relpath)
        text = files.read_text(full, relpath)
        data = files.parse_yaml(text, relpath)
        if not data:
            return cls(root, relpath)
        data = schema.validate_lockfile(data, text, relpath)
        extra = {k: v for k, v in data.items() if k not in ("schema", "stages")}
        return cls(root, relpath, dict(data.get("stages") or {}), extra, exists=True)

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
        return verb

    def dumps(self) -> str:
        """The whole file as DVC writes it."""
        data: dict[str, Any] = {"schema": "2.0", "stages": self.stages, **self.extra}
        return files.dump_yaml(data)

    def save(self) -> None:
        """Write the file atomically (temp file + fsync + rename)."""
        from labrun.fsutil import atomic_write

        atomic_write(os.path.join(self.root, self.relpath), self.dumps().encode("utf-8"))
        self.exists = True


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
