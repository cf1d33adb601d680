"""Read and write the project's YAML, JSON, TOML and Python files as DVC does.

Reading is YAML 1.2 (as ruamel.yaml's safe loader resolves it, which is what DVC
uses). Three readers are tried in turn, each handing on what it is not sure of:
`yamlfast.load_simple`, pure Python, reads the plain YAML most files are made of
without importing any YAML library; a second fast path builds values straight
from libyaml's event stream; anything neither handles (explicit tags, merge keys,
directives, duplicate keys, tabs, syntax errors) goes to ruamel.yaml's
pure-Python safe loader, the reference, so that the values and the error
messages are exactly DVC's.

    >>> parse_yaml("a: yes\\nb: 1e-05\\nc: 017\\n", "./params.yaml")
    {'a': 'yes', 'b': 1e-05, 'c': 17}

Writing (`dump_yaml`) produces what ruamel.yaml's round-trip dumper writes with
DVC's settings: a small emitter (`yamlemit`) handles the values lock entries hold,
and ruamel itself (`dump_yaml_reference`, imported only then) everything else.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from labrun.errors import FileFormatError, ParamsFileError, YamlSyntaxError
from labrun.pipeline.yamlfast import NotSimple as _Fallback
from labrun.pipeline.yamlfast import load_simple, resolve_plain

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    from typing import Any

    import yaml

    from labrun.pipeline.source import FileSource


class YamlReadError(YamlSyntaxError):
    """YAML text libyaml and ruamel cannot even read (control characters, bad encoding)."""

    plain = False


_TAG_OF_TYPE = {bool: "bool", int: "int", float: "float", type(None): "null", str: "str"}


@lru_cache(maxsize=1)
def _loader() -> type[yaml.CSafeLoader]:
    """The loader class, defined on first use: simple files never import yaml."""
    import yaml

    class _Loader(yaml.CSafeLoader):
        """libyaml's parser; its resolver (used when composing nodes with marks) is YAML 1.2."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode and implicit[0]:
                try:
                    found = resolve_plain(value)
                except _Fallback:
                    return "tag:yaml.org,2002:" + ("merge" if value == "<<" else "value")
                return "tag:yaml.org,2002:" + _TAG_OF_TYPE.get(type(found), "timestamp")
            if kind is yaml.ScalarNode:
                return "tag:yaml.org,2002:str"
            return "tag:yaml.org,2002:" + ("seq" if kind is yaml.SequenceNode else "map")

    return _Loader


# --- the fast path: values straight from libyaml events ---------------------------------

_NOKEY = object()


def _attach(stack: list[Any], keys: list[Any], value: Any) -> None:
    top = stack[-1]
    if type(top) is list:
        top.append(value)
        return
    key = keys[-1]
    if key is not _NOKEY:
        top[key] = value
        keys[-1] = _NOKEY
    elif type(value) in (dict, list) or value in top:  # complex or duplicate key
        raise _Fallback("key")
    else:
        keys[-1] = value


def _event_value(event: Any, anchors: dict[str, Any]) -> Any:
    from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent

    kind = type(event)
    if kind is AliasEvent:
        if event.anchor not in anchors:
            raise _Fallback("alias")
        return anchors[event.anchor]
    if event.tag is not None:
        raise _Fallback("tag")
    if kind is ScalarEvent:
        value = resolve_plain(event.value) if event.implicit[0] else event.value
    else:
        value = {} if kind is MappingStartEvent else []
    if event.anchor is not None:
        if event.anchor in anchors:
            raise _Fallback("anchor")
        anchors[event.anchor] = value
    return value


def _structural_event(
    event: Any, stack: list[Any], keys: list[Any], anchors: dict[str, Any]
) -> None:
    from yaml import events

    kind = type(event)
    if kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
        stack.pop()
        keys.pop()
    elif kind is events.ScalarEvent or kind is events.AliasEvent:
        _attach(stack, keys, _event_value(event, anchors))
    elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
        value = _event_value(event, anchors)
        _attach(stack, keys, value)
        stack.append(value)
        keys.append(_NOKEY)
    elif kind is events.DocumentStartEvent and (len(stack[0]) or event.version or event.tags):
        raise _Fallback("document")  # a second document, or directives


def _load_fast(text: str) -> Any:
    """Build the document from libyaml events; raise _Fallback for anything unusual.

    Plain scalars without anchor or tag, most of any file, are handled inline:
    `top` and `key` mirror `stack[-1]` and `keys[-1]` in locals for speed.
    """
    from yaml.events import ScalarEvent, StreamEndEvent

    get_event = _loader()(text).get_event
    root: list[Any] = []  # collects the document
    stack: list[Any] = [root]  # the open collections
    keys: list[Any] = [_NOKEY]  # per open collection: a mapping key awaiting its value
    anchors: dict[str, Any] = {}
    top: Any = root
    key: Any = _NOKEY
    while True:
        event: Any = get_event()
        if type(event) is ScalarEvent and event.anchor is None and event.tag is None:
            value = resolve_plain(event.value) if event.implicit[0] else event.value
            if type(top) is list:
                top.append(value)
            elif key is not _NOKEY:
                top[key] = value
                key = _NOKEY
            elif value in top:
                raise _Fallback("duplicate key")
            else:
                key = value
            continue
        if type(event) is StreamEndEvent:
            return root[0] if root else None
        keys[-1] = key
        _structural_event(event, stack, keys, anchors)
        top, key = stack[-1], keys[-1]


# --- the reference path: ruamel.yaml's pure safe loader ---------------------------------


def load_yaml_reference(text: str) -> Any:
    """Load with ruamel.yaml's pure-Python safe loader, exactly as DVC reads YAML.

    Slow; used when the fast path declines and in tests as the reference.
    """
    import warnings

    from ruamel.yaml import YAML

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return YAML(typ="safe", pure=True).load(text)


class _YamlFailure(Exception):
    """The reference loader rejected the text; `cause` is its exception."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


# libyaml reads these characters as YAML 1.1 does (tabs as separators, NEL and the
# Unicode separators as line breaks) where ruamel, and so DVC, refuses or differs.
_SLOW_CHARACTERS = ("\t", "\x85", "\u2028", "\u2029")


def _load_document(text: str) -> Any:
    try:
        return load_simple(text)  # pure Python, no YAML library to import
    except _Fallback:
        return _load_libyaml(text)


def _load_libyaml(text: str) -> Any:
    import yaml

    if not any(char in text for char in _SLOW_CHARACTERS):
        try:
            return _load_fast(text)
        except (_Fallback, yaml.YAMLError, ValueError, OverflowError):
            pass
    try:
        return load_yaml_reference(text)
    except Exception as exc:  # the reference loader is a black box: report whatever it raises
        raise _YamlFailure(exc) from None


# --- error messages ---------------------------------------------------------------------

_CONFLICT_MARKER = r"^([<=>]{7}) .*$"  # compiled when an error needs it


def _guide_lines(lines: Sequence[str]) -> list[str]:
    """Draw a `│` every 4 columns of indentation; blank lines take the next line's guides."""
    out: list[str] = []
    blanks = 0
    for line in lines:
        body = line.lstrip(" ")
        if not body:
            blanks += 1
            continue
        depth = len(line) - len(body)
        guide = "│   " * (depth // 4) + " " * (depth % 4)
        out.extend([guide] * blanks + [guide + body])
        blanks = 0
    return out + [""] * blanks


def _numbered(lines: Sequence[str], first: int, width: int) -> list[str]:
    guided = _guide_lines([line.rstrip("\r").expandtabs(4) for line in lines])
    return [f"  {str(no).rjust(width)} {line}".rstrip() for no, line in enumerate(guided, first)]


def excerpt(text: str, first: int, last: int) -> list[str]:
    """Lines `first`..`last` (1-based, inclusive) of `text` as DVC shows them in errors.

    >>> excerpt("stages:\\n  a:\\n    cmd: echo\\n", 2, 3)
    ['  2   a:', '  3 │   cmd: echo']
    """
    offset = max(0, first - 1)
    lines = text.split("\n")
    width = len(str(1 + text.count("\n")))
    return _numbered(lines[offset:last], offset + 1, width)


def _cause(message: str, mark: Any) -> str:
    if mark is None:
        return message.capitalize()
    return f"{message.capitalize()}, in line {mark.line + 1}, column {mark.column + 1}"


def _code(source: list[str], mark: Any) -> list[str]:
    line = mark.line + 1
    code = source[line - 1] if line <= len(source) else ""
    return _numbered([code], line, len(str(line)))


def _marked_details(text: str, exc: Any) -> list[str]:
    source = text.splitlines()
    context_mark, problem_mark = exc.context_mark, exc.problem_mark
    lines: list[str] = []
    if context_mark is not None:
        lines.append(_cause(str(exc.context), context_mark))
        same = problem_mark is not None and (
            (context_mark.name, context_mark.line, context_mark.column)
            == (problem_mark.name, problem_mark.line, problem_mark.column)
        )
        if exc.problem is None or not same:
            lines += [*_code(source, context_mark), ""]
    if exc.problem is not None:
        lines.append(_cause(str(exc.problem), problem_mark))
    if problem_mark is not None:
        lines += _code(source, problem_mark)
    return lines


def _syntax_error(text: str, display: str, cause: Exception) -> YamlSyntaxError:
    if not hasattr(cause, "problem_mark"):  # e.g. a reader error: no position to show
        shown = os.path.normpath(display)
        message = f"unable to read: '{shown}', YAML file structure is corrupted: {cause}"
        return YamlReadError(message)
    hint = " (possible merge conflicts)" if re.search(_CONFLICT_MARKER, text, re.M) else ""
    details = _marked_details(text, cause)
    head = f"'{display}' is invalid{hint}."
    return YamlSyntaxError("\n".join([head, "", *details] if details else [head]))


# --- public reading API -------------------------------------------------------------------


def parse_yaml(text: str, path: str) -> Any:
    """Parse YAML 1.2 text as DVC does; an empty (or falsy) document is `{}`.

    `path` is the display path used in the error message (`./dvc.yaml`).

        >>> parse_yaml("", "./dvc.yaml")
        {}
        >>> parse_yaml("a: [1", "./dvc.yaml")
        Traceback (most recent call last):
        ...
        labrun.errors.YamlSyntaxError: './dvc.yaml' is invalid.
        <BLANKLINE>
        While parsing a flow sequence, in line 1, column 4
          1 a: [1
        <BLANKLINE>
        Expected ',' or ']', but got '<stream end>', in line 1, column 6
          1 a: [1
    """
    try:
        data = _load_document(text)
    except _YamlFailure as failure:
        raise _syntax_error(text, path, failure.cause) from None
    return data or {}


def _read(
    path: str | os.PathLike[str],
    display: str,
    error: type[FileFormatError],
    source: FileSource | None = None,
) -> str:
    try:
        if source is not None:
            return source.read_text(os.fspath(path))
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except UnicodeDecodeError as exc:
        shown = os.path.normpath(display)
        raise error(f"unable to read: '{shown}', is not valid utf-8: {exc}") from None
    except FileNotFoundError:
        raise error(f"'{display}' does not exist") from None
    except IsADirectoryError:
        raise error(f"'{display}' is a directory") from None
    except OSError as exc:
        raise error(f"unable to read: '{display}', {exc.strerror}") from None


def read_text(path: str | os.PathLike[str], display: str, source: FileSource | None = None) -> str:
    """Read a UTF-8 text file (universal newlines), naming it `display` in errors.

    With a ``source`` (`labrun.pipeline.source`), ``path`` is project-relative
    and the text comes from that source (e.g. a Git commit).

    >>> read_text("/nonexistent/dvc.yaml", "dvc.yaml")
    Traceback (most recent call last):
    ...
    labrun.errors.FileFormatError: 'dvc.yaml' does not exist
    """
    return _read(path, display, FileFormatError, source)


def load_yaml(path: str | os.PathLike[str], display: str) -> Any:
    """Read and parse a YAML file: `read_text` followed by `parse_yaml`."""
    return parse_yaml(read_text(path, display), display)


# --- positions (error paths only) ---------------------------------------------------------


@lru_cache(maxsize=4)
def _compose(text: str) -> yaml.Node | None:
    import yaml

    try:
        return yaml.compose(text, Loader=_loader())
    except yaml.YAMLError:
        return None


def _key_value(node: yaml.Node) -> Any:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        return None  # complex keys are never looked up
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return resolve_plain(node.value)
    except (_Fallback, ValueError):
        return node.value


def _child(node: yaml.Node, key: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):  # the last duplicate wins
            if _key_value(key_node) == key:
                return key_node, value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key >= 0:
        items = node.value[key : key + 1]
        return (items[0], items[0]) if items else None
    return None


def _walk(text: str, keys: Sequence[str | int]) -> tuple[yaml.Node, yaml.Node] | None:
    node = _compose(text)
    found = None if node is None else (node, node)
    for key in keys:
        if found is None:
            return None
        found = _child(found[1], key)
    return found


def locate(text: str, keys: Sequence[str | int]) -> tuple[int, int] | None:
    """1-based (line, column) of the item at `keys`: a mapping key's own position.

    >>> locate("stages:\\n  train:\\n    cmd: echo\\n", ["stages", "train", "cmd"])
    (3, 5)
    """
    found = _walk(text, keys)
    if found is None:
        return None
    mark = found[0].start_mark
    return mark.line + 1, mark.column + 1


def locate_collection(text: str, keys: Sequence[str | int]) -> tuple[int, int] | None:
    """Start of the mapping or sequence found at `keys` (None for scalars and absent keys).

    This is the position DVC quotes in validation errors.

        >>> locate_collection("stages:\\n  train:\\n    cmd: echo\\n", ["stages", "train"])
        (3, 5)
    """
    import yaml

    found = _walk(text, keys)
    if found is None or isinstance(found[1], yaml.ScalarNode):
        return None
    mark = found[1].start_mark
    return mark.line + 1, mark.column + 1


# --- params files -----------------------------------------------------------------------


def _corrupted(display: str, kind: str, cause: object) -> ParamsFileError:
    shown = os.path.normpath(display)
    return ParamsFileError(
        f"unable to read: '{shown}', {kind} file structure is corrupted: {cause}"
    )


def _parse_python(text: str, display: str) -> dict[str, Any]:
    from labrun.pipeline.pyparams import read_python_params

    try:
        return read_python_params(text, display)
    except (SyntaxError, ValueError) as exc:
        raise _corrupted(display, "Python", exc) from None


def _parse_json(text: str, display: str) -> Any:
    import json

    try:
        return json.loads(text) or {}
    except json.JSONDecodeError as exc:
        raise _corrupted(display, "JSON", exc) from None


def _parse_toml(text: str, display: str) -> Any:
    import importlib

    toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise _corrupted(display, "TOML", exc) from None


def _parse_yaml_params(text: str, display: str) -> Any:
    try:
        return _load_document(text) or {}
    except _YamlFailure as failure:
        raise _corrupted(display, "YAML", failure.cause) from None


_PARAMS_PARSERS: dict[str, Callable[[str, str], Any]] = {
    ".json": _parse_json,
    ".toml": _parse_toml,
    ".py": _parse_python,
}


def load_params(
    path: str | os.PathLike[str], display: str, source: FileSource | None = None
) -> dict[str, Any]:
    """Load a params (or vars) file, choosing the format by its lower-cased extension.

    `.json`, `.toml` and `.py` (read statically, never run); anything else is YAML.
    With a ``source``, ``path`` is project-relative inside it (see `read_text`).

        >>> load_params("/nonexistent/params.yaml", "params.yaml")
        Traceback (most recent call last):
        ...
        labrun.errors.ParamsFileError: 'params.yaml' does not exist
    """
    data = parse_data(_read(path, display, ParamsFileError, source), os.fspath(path), display)
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ParamsFileError(f"expected a dictionary, got '{kind}' in file '{display}'")
    return data


def parse_data(text: str, path: str, display: str) -> Any:
    """Parse a params/metrics document by the extension of ``path`` (any top-level type).

    >>> parse_data('{"acc": 0.9}', "m.json", "m.json"), parse_data("0.93", "m", "m")
    ({'acc': 0.9}, 0.93)
    """
    extension = os.path.splitext(path)[1].lower()
    parse = _PARAMS_PARSERS.get(extension, _parse_yaml_params)
    return parse(text, display)


_MISSING = object()


def _is_index(segment: str) -> bool:
    """`-?[0-9]+`: a list index in a dotted key."""
    digits = segment[1:] if segment[:1] == "-" else segment
    return digits.isascii() and digits.isdigit()


def _step(value: Any, segment: str) -> Any:
    index = int(segment) if _is_index(segment) else None
    if isinstance(value, Mapping):
        if segment in value:
            return value[segment]
        return _MISSING if index is None else value.get(index, _MISSING)
    if isinstance(value, (list, tuple)) and index is not None:
        return value[index] if -len(value) <= index < len(value) else _MISSING
    return _MISSING


def get_key_path(data: Mapping[Any, Any], key: str) -> Any:
    """The value at a dotted key path; list items are selected by index.

        >>> get_key_path({"train": {"layers": [16, {"size": 32}]}}, "train.layers.1.size")
        32

    Raises KeyError when any segment is absent. Like DVC, a segment that is an
    integer also finds an integer mapping key, and negative list indices count
    from the end. Glob characters have no special meaning.
    """
    value: Any = data
    for segment in key.split("."):
        value = _step(value, segment)
        if value is _MISSING:
            raise KeyError(key)
    return value


# --- writing ------------------------------------------------------------------------------


def dump_yaml(data: Any) -> str:
    """YAML text exactly as DVC writes it (ruamel round-trip, block style).

    Lock entries, run-cache entries and `.dvc` files are written by a fast writer
    (`yamlemit.dump_simple`, about a hundred times quicker); whatever it is not sure to write
    byte for byte as ruamel does goes to ruamel (`dump_yaml_reference`), which is
    imported only then.

    >>> print(dump_yaml({"schema": "2.0", "stages": {"a": {"cmd": "echo", "deps": ["x"]}}}))
    schema: '2.0'
    stages:
      a:
        cmd: echo
        deps:
        - x
    <BLANKLINE>
    """
    from labrun.pipeline.yamlemit import dump_simple

    text = dump_simple(data)
    return text if text is not None else dump_yaml_reference(data)


def dump_yaml_reference(data: Any) -> str:
    """Dump with ruamel.yaml's round-trip dumper and DVC's settings: the reference.

    >>> dump_yaml_reference({"msg": "two\\nlines"})
    'msg: "two\\\\nlines"\\n'
    """
    from collections import OrderedDict

    from ruamel.yaml import YAML

    writer = YAML()
    writer.default_flow_style = False
    writer.Representer.add_representer(OrderedDict, writer.Representer.represent_dict)
    import io

    stream = io.StringIO()
    writer.dump(data, stream)
    return stream.getvalue()
