"""The run-cache: `<cache>/runs/<key[:2]>/<key>/<value>`, DVC's key and value.

Both are SHA-256 of the canonical JSON (``sort_keys``, DVC's default separators,
ASCII) of a lock entry without any ``size``/``nfiles`` keys; the key replaces
``outs`` by the list of output paths.

    >>> entry = {"cmd": "cat data.txt > prep.txt",
    ...          "deps": [{"path": "data.txt", "hash": "md5",
    ...                    "md5": "204b5c867719d0d12813e962b54d6537", "size": 13}],
    ...          "outs": [{"path": "prep.txt", "hash": "md5",
    ...                    "md5": "204b5c867719d0d12813e962b54d6537", "size": 13}]}
    >>> run_key(entry)
    '4e6640a978f04aa76e6bc406466d97a43312d518415564de126347647ff35b18'
    >>> run_value(entry)
    '432086a00eb1a7bbb904a173c9198aa71d16021e005d7eaf459ec49a53e1335f'
"""

from __future__ import annotations

import os

from labrun import digests
from labrun.errors import LabrunError
from labrun.pipeline import files
from labrun.pipeline.stage import Stage

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

_DROPPED = frozenset({"size", "nfiles"})


def without_sizes(value: Any) -> Any:
    """A lock entry (or part) without any `size`/`nfiles` keys, at any depth."""
    if isinstance(value, dict):
        return {k: without_sizes(v) for k, v in value.items() if k not in _DROPPED}
    if isinstance(value, list | tuple):
        return [without_sizes(v) for v in value]
    return value


def _digest(value: Any) -> str:
    try:
        text = digests.json_sorted(without_sizes(value))
    except TypeError as exc:  # e.g. a date in a tracked param
        raise LabrunError(str(exc), hint="quote the value in the params file") from None
    return digests.sha256_hex(text.encode("utf-8"))


def run_key(entry: dict[str, Any]) -> str:
    """The key: the entry with outputs reduced to their paths."""
    keyed = dict(entry)
    keyed["outs"] = [o["path"] for o in entry.get("outs") or []]
    return _digest(keyed)


def run_value(entry: dict[str, Any]) -> str:
    """The value: the whole entry."""
    return _digest(entry)


def can_cache(stage: Stage, root: str) -> bool:
    """Whether a stage may be restored from or saved to the run-cache (DVC 6.1).

    It needs a command, a dependency and an output, must not be always changed,
    and every output must be inside the project and not persistent.
    """
    if stage.cmd is None or stage.always_changed or stage.frozen:
        return False
    if not (stage.deps or stage.params) or not stage.outs:
        return False
    for out in stage.outs:
        if out.persist or out.checkpoint:
            return False
        rel = os.path.relpath(stage.abspath(root, out.path), root)
        if rel.startswith(".."):
            return False
    return True


def can_save(stage: Stage) -> bool:
    """Saving also needs every plain `outs` item to be cached (metrics/plots may not be)."""
    return all(out.cache or out.is_metric or out.is_plot for out in stage.outs)


class RunCache:
    """The `runs/` directory of a cache."""

    def __init__(self, cache_dir: str) -> None:
        self.root = os.path.join(cache_dir, "runs")

    def _dir(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key)

    def save(self, entry: dict[str, Any]) -> str:
        """Store an entry (kept if the same key/value exists); return its path."""
        from labrun.fsutil import atomic_write

        path = os.path.join(self._dir(run_key(entry)), run_value(entry))
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # Not fsynced: a run-cache entry torn by a power cut fails to parse and is
            # deleted on the next lookup; it is a cache, never the only copy of anything.
            atomic_write(path, files.dump_yaml(entry).encode("utf-8"), durable=False)
        return path

    def lookup(self, key: str) -> list[dict[str, Any]]:
        """Entries recorded for a key, newest first; unreadable ones are deleted."""
        folder = self._dir(key)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        paths = sorted(
            (os.path.join(folder, n) for n in names if not n.startswith(".")),
            key=os.path.getmtime,
            reverse=True,
        )
        entries: list[dict[str, Any]] = []
        for path in paths:
            try:
                data = files.load_yaml(path, path)
            except LabrunError:
                data = None
            if isinstance(data, dict) and "cmd" in data:
                entries.append(data)
            else:
                os.unlink(path)
        return entries
