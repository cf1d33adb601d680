"""Comparing params and metrics of two revisions, as `dvc metrics/params/exp diff` do.

Pure functions over the per-file results of `labrun.repro.metrics`:

    >>> old = {"m.json": {"data": {"acc": 0.9, "loss": {"a": 1}}}}
    >>> new = {"m.json": {"data": {"acc": 0.95, "loss": {"a": 1}}}}
    >>> diff_files(old, new)
    {'m.json': {'acc': {'old': 0.9, 'new': 0.95, 'diff': 0.04999999999999993}}}
    >>> diff_files(old, new, with_unchanged=True)["m.json"]["loss.a"]
    {'old': 1, 'new': 1, 'diff': 0}
"""

from __future__ import annotations

import json
import posixpath

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    Change = dict[str, Any]  # {"old": v, "new": v[, "diff": d]}


def format_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """Lists become their text (`[1, 2]`), recursively: they are compared as text.

    >>> format_dict({"a": {"l": [1, 2]}, "b": 3})
    {'a': {'l': '[1, 2]'}, 'b': 3}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = format_dict(value)
        elif isinstance(value, list):
            out[key] = str(value)
        else:
            out[key] = value
    return out


def flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened with dots; empty mappings vanish."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _parse(raw: Any) -> Any:
    if raw is None or isinstance(raw, dict | list | int | float):
        return raw
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def diff_values(old: Any, new: Any, with_unchanged: bool) -> Change:
    """``{"old", "new"}`` plus ``diff`` (new - old) when both are numbers; {} if equal.

    Equality is Python's: ``1 == 1.0 == True``.
    """
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) == 1:
        return diff_values(old[0], new[0], with_unchanged)
    if not with_unchanged and old == new:
        return {}
    change: Change = {"old": old, "new": new}
    if isinstance(old, int | float) and isinstance(new, int | float):
        change["diff"] = new - old
    return change


def _flat(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if isinstance(value, dict):
        return flatten(value)
    return {}  # "unable to parse" in DVC: a non-mapping document compares as empty


def _diff_document(old_raw: Any, new_raw: Any, with_unchanged: bool) -> dict[str, Change]:
    old, new = _parse(old_raw), _parse(new_raw)
    if isinstance(old, dict) or isinstance(new, dict):
        flat_old, flat_new = _flat(old), _flat(new)
        found: dict[str, Change] = {}
        for key in sorted({*flat_old, *flat_new}):
            change = diff_values(flat_old.get(key), flat_new.get(key), with_unchanged)
            if change:
                found[key] = change
        return found
    change = diff_values(old, new, with_unchanged)
    return {"": change} if change else {}


def diff_files(
    old: Mapping[str, Any], new: Mapping[str, Any], *, with_unchanged: bool = False
) -> dict[str, dict[str, Change]]:
    """file → key → change for two per-file results (files and keys sorted)."""
    old, new = format_dict(old), format_dict(new)
    found: dict[str, dict[str, Change]] = {}
    for path in sorted({*old, *new}):
        changes = _diff_document(
            old.get(path, {}).get("data", {}),
            new.get(path, {}).get("data", {}),
            with_unchanged,
        )
        if changes:
            found[path] = changes
    return found


def file_errors(results: Mapping[str, Any]) -> dict[str, Any]:
    """The per-file errors of one revision's results."""
    return {path: entry["error"] for path, entry in results.items() if "error" in entry}


def relative_to(cwd_rel: str, path: str) -> str:
    """A project-relative path as seen from the user's directory (``cwd_rel``).

    >>> relative_to("sub", "metrics.json"), relative_to(".", "a/b.json")
    ('../metrics.json', 'a/b.json')
    """
    if cwd_rel in ("", "."):
        return path
    return posixpath.relpath(path, cwd_rel)
