"""Apply parsed `-S` overrides to the params files of a project, editing them in place.

Each file is edited the way DVC 3 does it: load it with a round-trip loader
(YAML: ruamel.yaml, comments and key order kept; TOML: tomlkit; JSON: plain),
apply the overrides to a plain copy of its values with Hydra's rules (OmegaConf
in struct mode: a key must exist unless `+`/`++` adds it), merge the result back
into the loaded document and dump it. The merge replaces every list and every
changed scalar, so flow lists become block lists and quotes disappear in YAML;
JSON is written compactly on one line. Python files keep every byte except the
literals of the assignments that changed.

    >>> import pathlib, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = pathlib.Path(root, "params.yaml").write_text("train:\\n  lr: 0.1  # rate\\n")
    >>> apply_overrides(root, parse_overrides(["train.lr=0.01", "+seed=1"]))
    ['params.yaml']
    >>> print(pathlib.Path(root, "params.yaml").read_text(), end="")
    train:
      lr: 0.01 # rate
    seed: 1

Every file is loaded, edited and dumped in memory first; nothing is written
unless all overrides of all files succeed. The common overrides (scalar values on
plain data) are applied by a small interpreter of Hydra's rules here; anything
else (list and dict values, `${...}` interpolations, unusual paths, most errors)
goes to Hydra and OmegaConf themselves, the reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from labrun.errors import ParamsFileError
from labrun.experiments.overrides import (
    ADD,
    DELETE,
    FORCE,
    SET,
    Override,
    OverrideError,
    check_no_sweeps,
    expand_sweeps,
    format_overrides,
    has_sweeps,
    parse_override,
    parse_overrides,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Fallback(Exception):
    """The fast interpreter is not sure to do what Hydra does: ask Hydra."""


def apply_overrides(root: str, overrides: Mapping[str, Sequence[Override]]) -> list[str]:
    """Edit the params files under `root`; return the files (as given) that were written.

    A missing file counts as empty (`+key=v` creates it). Raises OverrideError or
    ParamsFileError, with DVC's messages, before writing anything.
    """
    check_no_sweeps(overrides)
    staged: dict[str, str] = {}
    for file, group in overrides.items():
        path = _checked_path(root, file)
        before = staged[path] if path in staged else _read(path, file)
        staged[path] = edit_text(file, before, group)
    for path, text in staged.items():
        _write(path, text)
    return list(overrides)


def edit_text(
    file: str, text: str | None, overrides: Sequence[Override], *, fast: bool = True
) -> str:
    """The new content of params file `file` (None: missing) after `overrides`.

    ``fast=False`` always takes ruamel's round trip for YAML (the reference).

    >>> edit_text("p.json", '{"a": {"b": 1},\\n "c": [1, 2]}', [parse_override("p.json", "a.b=5")])
    '{"a": {"b": 5}, "c": [1, 2]}'
    """
    check_no_sweeps({file: overrides})
    suffix = os.path.splitext(file)[1].lower()
    if suffix == ".py":
        return _edit_python(file, text or "", overrides)
    if fast and suffix not in (".json", ".toml"):
        edited = edit_canonical_yaml(text, overrides)
        if edited is not None:
            return edited
    document = _load(suffix, file, text)
    updated = new_values(_plain(document), overrides)
    try:
        _merge(document, updated)
        _remove_missing(document, updated)
        return _dump(suffix, document)
    except Exception as exc:  # tomlkit cannot hold None, ruamel some objects: as DVC, unexpected
        raise OverrideError(f"unexpected error - {exc}") from exc


def edit_canonical_yaml(text: str | None, overrides: Sequence[Override]) -> str | None:
    """The edit of a YAML text that is exactly as ruamel.yaml writes its values; else None.

    Such a text (no comments, block style, the quotes and number forms ruamel
    picks) survives ruamel's round trip unchanged, so the edited file is the
    dump of the new values, which the fast writer makes without importing
    ruamel. None (use the round trip) for any other text, and whenever the
    overrides need Hydra or fail (the round trip words the errors).

        >>> set_lr = parse_overrides(["train.lr=1"])["params.yaml"]
        >>> edit_canonical_yaml("train:\\n  lr: 0.1\\n", set_lr)
        'train:\\n  lr: 1\\n'
        >>> edit_canonical_yaml("train:\\n  lr: 0.1  # rate\\n", set_lr)
    """
    from labrun.pipeline.yamlemit import dump_simple
    from labrun.pipeline.yamlfast import NotSimple, load_simple

    if not text:
        return None
    try:
        data = load_simple(text)
    except NotSimple:
        return None
    if type(data) is not dict or not _is_simple_data(data) or not _floats_kept(data):
        return None
    if dump_simple(data) != text:
        return None
    try:
        updated = _simple_values(data, overrides)
    except OverrideError:
        return None
    return None if updated is None else dump_simple(_merged(data, updated))


def _merged(document: dict[str, Any], updated: dict[str, Any]) -> dict[str, Any]:
    """`updated` in the key order `_merge` and `_remove_missing` leave in `document`.

    Keys kept from the document keep their place (even if deleted and added again);
    new keys follow, in the order they were added.
    """
    merged: dict[str, Any] = {}
    for key, old in document.items():
        if key in updated:
            new = updated[key]
            both = isinstance(old, dict) and isinstance(new, dict)
            merged[key] = _merged(old, new) if both else new
    for key, new in updated.items():
        merged.setdefault(key, new)
    return merged


def _floats_kept(value: Any) -> bool:
    """Whether ruamel's round trip writes every float back as it reads it.

    It rebuilds a float from its digits; in exponent form it truncates instead of
    rounding, which changes some mantissas of 13 digits or more (`1e-05` is kept,
    `3.7759732760882926e-06` becomes `...925e-06`).
    """
    if isinstance(value, dict):
        return all(_floats_kept(v) for v in value.values())
    if isinstance(value, list):
        return all(_floats_kept(v) for v in value)
    if type(value) is not float:
        return True
    mantissa, exponent, _ = repr(value).partition("e")
    return not exponent or len(mantissa.lstrip("-").replace(".", "").lstrip("0")) <= 12


# --- files -----------------------------------------------------------------------------------


def _checked_path(root: str, file: str) -> str:
    path = os.path.abspath(os.path.join(root, file))
    if not file or not os.path.isdir(os.path.dirname(path)):
        raise OverrideError(f"unexpected error - [Errno 2] No such file or directory: '{file}'")
    if os.path.isdir(path):
        raise OverrideError(f"unexpected error - [Errno 21] Is a directory: '{file}'")
    return path


def _read(path: str, file: str) -> str | None:
    shown = os.path.normpath(file)
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ParamsFileError(f"unable to read: '{shown}', is not valid utf-8: {exc}") from None
    except OSError as exc:
        raise ParamsFileError(f"unable to read: '{shown}', {exc.strerror}") from None


def _write(path: str, text: str) -> None:
    from labrun.fsutil import atomic_write

    try:
        mode: int | None = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    atomic_write(path, text.encode("utf-8"), mode)


def _corrupted(file: str, kind: str, cause: object) -> ParamsFileError:
    shown = os.path.normpath(file)
    return ParamsFileError(
        f"unable to read: '{shown}', {kind} file structure is corrupted: {cause}"
    )


def _load(suffix: str, file: str, text: str | None) -> Any:
    """The round-trip document (a dict for a missing file, as DVC)."""
    if text is None:
        return {}
    if suffix == ".json":
        import json

        try:
            return json.loads(text) or {}
        except json.JSONDecodeError as exc:
            raise _corrupted(file, "JSON", exc) from None
    if suffix == ".toml":
        return _load_toml(file, text)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt").load(text) or {}
    except YAMLError as exc:
        raise _corrupted(file, "YAML", exc) from None


def _load_toml(file: str, text: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        return tomlkit.loads(text)
    except ParseError as exc:
        raise _corrupted(file, "TOML", exc) from None
    except TOMLKitError as exc:
        raise OverrideError(f"unexpected error - {exc}") from None


def _dump(suffix: str, document: Any) -> str:
    if suffix == ".json":
        import json

        return json.dumps(document)
    if suffix == ".toml":
        import tomlkit

        return tomlkit.dumps(document, sort_keys=False)
    from labrun.pipeline.files import dump_yaml_reference

    return dump_yaml_reference(document)


# --- from the document to plain values and back --------------------------------------------


def _plain(value: Any) -> Any:
    """Dicts and lists (and tuples) as plain dicts and lists; scalars kept as they are.

    This is what OmegaConf hands back for a document it was given.
    """
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _merge(document: Any, updated: Any) -> None:
    """Write `updated` into `document`: maps merge, everything else is replaced."""
    for key, value in updated.items():
        current = document.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        else:
            document[key] = value


def _remove_missing(document: Any, updated: Any) -> None:
    for key in list(document.keys()):
        if key not in updated:
            del document[key]
        elif isinstance(document[key], dict):
            _remove_missing(document[key], updated[key])


# --- applying overrides to plain values ------------------------------------------------------


def new_values(data: Any, overrides: Sequence[Override]) -> Any:
    """The values of a params file after the overrides (a new object; `data` is not changed).

    >>> new_values({"a": {"b": 1}}, parse_overrides(["a.b=2", "+c=x"])["params.yaml"])
    {'a': {'b': 2}, 'c': 'x'}
    """
    if isinstance(data, dict) and _is_simple_data(data):
        updated = _simple_values(data, overrides)
        if updated is not None:
            return updated
    return _apply_reference(_plain(data), overrides)


def _simple_values(data: dict[str, Any], overrides: Sequence[Override]) -> Any:
    """`new_values` by the small interpreter; None when Hydra must decide."""
    updated = _plain(data)
    try:
        for override in overrides:
            _apply_simple(updated, override)
    except _Fallback:
        return None
    return updated


def _is_simple_data(value: Any) -> bool:
    """No interpolation, no missing marker, only string keys: OmegaConf changes nothing."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_simple_data(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_simple_data(v) for v in value)
    return not isinstance(value, str) or ("${" not in value and value != "???")


def _is_simple_value(value: Any) -> bool:
    if isinstance(value, str):
        return "${" not in value and value != "???"
    return value is None or isinstance(value, (bool, int, float))


def _apply_simple(data: dict[str, Any], override: Override) -> None:
    if override.package is not None or not override.key or not _is_simple_value(override.value):
        raise _Fallback
    parts = override.key.split(".")
    if override.kind == SET:
        _set(data, parts, override)
    elif override.kind == DELETE:
        _delete(data, parts, override)
    else:
        if override.kind == ADD and _select(data, parts) is not None:
            raise OverrideError(_already_there(override))
        _force(data, parts, override.value)


_INDEX = r"0|[1-9](?:_?[0-9])*"  # compiled when a list is indexed (re caches it)


def _index(node: list[Any], part: str) -> int:
    """A valid list index, else fall back (OmegaConf's own errors for the rest)."""
    if not re.fullmatch(_INDEX, part) or int(part) >= len(node):
        raise _Fallback
    return int(part)


def _set(data: dict[str, Any], parts: list[str], override: Override) -> None:
    node: Any = data
    through_list = False
    slot: int | str
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            through_list, slot = True, _index(node, part)
        elif isinstance(node, dict):
            if part not in node:
                if through_list:
                    raise _Fallback
                raise OverrideError(_not_in_struct(override, part, ".".join(parts[: depth + 1])))
            slot = part
        else:
            raise _Fallback
        if depth == len(parts) - 1:
            node[slot] = override.value
        else:
            node = node[slot]


def _select(data: dict[str, Any], parts: list[str]) -> Any:
    """The value at the path; None if absent or below a scalar (as OmegaConf.select)."""
    node: Any = data
    for part in parts:
        if isinstance(node, list):
            node = node[_index(node, part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _force(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = data
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[_index(node, part)]
        else:
            node = node[part] if part in node else node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise _Fallback  # OmegaConf replaces the scalar by a map: let it
    if isinstance(node, list):
        node[_index(node, parts[-1])] = value
    else:
        node[parts[-1]] = value


def _delete(data: dict[str, Any], parts: list[str], override: Override) -> None:
    current = _select(data, parts)
    if current is None:
        raise OverrideError(
            "Invalid `--set-param` value: Could not delete from config. "
            f"'{override.key}' does not exist."
        )
    wanted = override.value
    if wanted is not None and wanted != current:
        if type(current) not in (str, int, float, bool):
            raise _Fallback  # OmegaConf prints containers and custom scalars its own way
        raise OverrideError(
            "Invalid `--set-param` value: Could not delete from config. "
            f"The value of '{override.key}' is {current} and not {wanted}."
        )
    parent = _select(data, parts[:-1])
    if not isinstance(parent, dict):
        raise _Fallback
    del parent[parts[-1]]


def _not_in_struct(override: Override, part: str, full_key: str) -> str:
    return (
        f"Invalid `--set-param` value: Could not override '{override.key}'.\n"
        f"To append to your config use +{override.text}: Key '{part}' is not in struct\n"
        f"    full_key: {full_key}\n"
        "    object_type=dict"
    )


def _already_there(override: Override) -> str:
    key, line = override.key, override.text
    return (
        "Invalid `--set-param` value: Could not append to config. "
        f"An item is already at '{key}'.\n"
        f"Either remove + prefix: '{line[1:]}'\n"
        f"Or add a second + to add or override '{key}': '+{line}'\n"
    )


# --- the reference: Hydra and OmegaConf --------------------------------------------------


def _apply_reference(data: Any, overrides: Sequence[Override]) -> Any:
    """Apply the overrides exactly as DVC does, with Hydra's config loader on OmegaConf."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.errors import ConfigCompositionException, OverrideParseException
    from omegaconf import OmegaConf

    from labrun.experiments.overrides import _chain

    try:
        config = OmegaConf.create(data, flags={"allow_objects": True})
        OmegaConf.set_struct(config, True)
        hydra_overrides = [_to_hydra(o) for o in overrides]
        ConfigLoaderImpl._apply_overrides_to_config(hydra_overrides, config)
        result = OmegaConf.to_object(config)
    except (ConfigCompositionException, OverrideParseException) as exc:
        raise OverrideError(f"Invalid `--set-param` value: {_chain(exc)}") from exc
    except Exception as exc:  # DVC lets these through: reported as unexpected errors
        raise OverrideError(f"unexpected error - {_chain(exc)}") from exc
    if not isinstance(result, dict):
        raise OverrideError("unexpected error - ")
    return result


def _to_hydra(override: Override) -> Any:
    from hydra.core.override_parser.types import Override as HydraOverride
    from hydra.core.override_parser.types import OverrideType, ValueType

    kind = {SET: OverrideType.CHANGE, ADD: OverrideType.ADD, FORCE: OverrideType.FORCE_ADD}
    return HydraOverride(
        type=kind.get(override.kind, OverrideType.DEL),
        key_or_group=override.key,
        value_type=ValueType.ELEMENT,
        _value=override.value,
        package=override.package,
        input_line=override.text,
    )


# --- Python params files -------------------------------------------------------------------
# DVC rewrites a changed value by replacing " = <old>" with " = <new>" on the assignment's
# line, which silently does nothing for strings and dict entries; here the literal itself
# is replaced, using the positions `ast` gives, and every other byte is kept.


def _edit_python(file: str, text: str, overrides: Sequence[Override]) -> str:
    import ast

    from labrun.pipeline.pyparams import read_python_params

    try:
        before = read_python_params(text, file)
        tree = ast.parse(text, filename=file)
    except SyntaxError as exc:
        raise _corrupted(file, "Python", exc) from None
    changes = _py_changes(file, _plain(before), new_values(before, overrides), ())
    data = text.encode("utf-8")
    starts = [0]
    for line in data.split(b"\n"):
        starts.append(starts[-1] + len(line) + 1)
    slots = _py_slots(tree.body)
    edits = []
    for path, value in changes:
        node = _py_node(slots, path)
        start, end = _py_span(file, path, node, starts)
        source = data[start:end].decode("utf-8")
        edits.append((start, end, _py_replacement(file, path, value, node, source)))
    for start, end, literal in sorted(edits, reverse=True):
        data = data[:start] + literal.encode("utf-8") + data[end:]
    return data.decode("utf-8")


def _py_changes(file: str, before: Any, after: Any, path: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """(key path, new value) for every changed literal; adding or deleting is refused."""
    for key in before:
        if key not in after:
            shown = ".".join(map(str, (*path, key)))
            raise OverrideError(
                f"Cannot delete '{shown}' from Python params file '{file}': "
                "remove the assignment by hand"
            )
    changes: list[tuple[Any, Any]] = []
    for key, value in after.items():
        where = (*path, key)
        if key not in before:
            shown = ".".join(map(str, where))
            raise OverrideError(
                f"Cannot add '{shown}' to Python params file '{file}': "
                "only existing assignments can be changed"
            )
        old = before[key]
        if isinstance(old, dict) and isinstance(value, dict):
            changes.extend(_py_changes(file, old, value, where))
        elif value != old:
            changes.append((where, value))
    return changes


def _py_slots(body: list[Any], only_self: bool = False) -> dict[str, Any]:
    """Name → value node of each literal assignment (classes nested), as pyparams reads them."""
    import ast

    slots: dict[str, Any] = {}
    for stmt in body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = [stmt.target] if isinstance(stmt, ast.AnnAssign) else stmt.targets
            name = _py_name(targets, only_self)
            if name is not None and stmt.value is not None and _is_literal(stmt.value):
                slots[name] = stmt.value
        elif isinstance(stmt, ast.ClassDef):
            slots[stmt.name] = _py_slots(stmt.body)
        elif isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
            slots.update(_py_slots(stmt.body, only_self=True))
    return slots


def _py_name(targets: list[Any], only_self: bool) -> str | None:
    import ast

    if len(targets) != 1:
        return None
    target = targets[0]
    if isinstance(target, ast.Name) and not only_self:
        return target.id
    owner = getattr(target, "value", None)
    if isinstance(target, ast.Attribute) and isinstance(owner, ast.Name) and owner.id == "self":
        return target.attr
    return None


def _is_literal(node: Any) -> bool:
    import ast

    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True


def _py_node(slots: dict[str, Any], path: tuple[Any, ...]) -> Any:
    import ast

    node: Any = slots
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, ast.Dict):
            found = [
                v for k, v in zip(node.keys, node.values, strict=True) if k and _literal_is(k, part)
            ]
            node = found[-1] if found else None
        else:
            return None
    return node if isinstance(node, ast.expr) else None


def _literal_is(node: Any, wanted: Any) -> bool:
    import ast

    try:
        return bool(ast.literal_eval(node) == wanted)
    except (ValueError, TypeError, SyntaxError):
        return False


def _py_span(file: str, path: tuple[Any, ...], node: Any, starts: list[int]) -> tuple[int, int]:
    """The bytes of the value node: ast counts columns in UTF-8 bytes."""
    if node is None or node.end_lineno is None or node.end_col_offset is None:
        shown = ".".join(map(str, path))
        raise OverrideError(f"Cannot change '{shown}' in Python params file '{file}'")
    return starts[node.lineno - 1] + node.col_offset, starts[
        node.end_lineno - 1
    ] + node.end_col_offset


def _py_replacement(file: str, path: tuple[Any, ...], value: Any, node: Any, source: str) -> str:
    """The literal to write; a tuple stays a tuple, a value with no literal is refused."""
    import ast

    if isinstance(node, ast.Tuple) and isinstance(value, list):
        value = tuple(value)
    literal = _py_literal(value, source)
    if not _literal_is(ast.parse(literal, mode="eval").body, value):
        shown = ".".join(map(str, path))
        raise OverrideError(
            f"Cannot write {shown}={value!r} to Python params file '{file}': "
            "the value has no Python literal"
        )
    return literal


def _py_literal(value: Any, source: str) -> str:
    """Python source for `value`, keeping double quotes if the old string had them."""
    literal = repr(value)
    if isinstance(value, str) and source[:1] == '"' and not {"'", '"'} & set(value):
        literal = '"' + literal[1:-1] + '"'
    return literal


__all__ = [
    "Override",
    "OverrideError",
    "apply_overrides",
    "check_no_sweeps",
    "edit_canonical_yaml",
    "edit_text",
    "expand_sweeps",
    "format_overrides",
    "has_sweeps",
    "new_values",
    "parse_override",
    "parse_overrides",
]
