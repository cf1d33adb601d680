"""Validation of raw (untemplated) dvc.yaml, dvc.lock and .dvc documents.

The rules are DVC 3.67.1's schemas, written here as small data (`Map`, `Seq`,
`AnyOf`, …) and checked by one walker that reports problems the way DVC's
validator does: same causes, same order, same key paths, and the same code
excerpt under each cause.

    >>> validate_dvcyaml({"stages": {"a": {"cmd": "echo"}}}, "", "./dvc.yaml")
    {'stages': {'a': {'cmd': 'echo'}}}
    >>> text = "stages:\\n  a:\\n    cmd: echo\\n    foo: bar\\n"
    >>> validate_dvcyaml({"stages": {"a": {"cmd": "echo", "foo": "bar"}}}, text, "./dvc.yaml")
    Traceback (most recent call last):
    ...
    labrun.errors.SchemaError: './dvc.yaml' validation failed.
    <BLANKLINE>
    extra keys not allowed, in stages -> a -> foo, line 3, column 5
      2   a:
      3 │   cmd: echo
      4 │   foo: bar
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from labrun.errors import SchemaError
from labrun.pipeline.files import excerpt, locate_collection
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any, TypeAlias

# --- the schema language ----------------------------------------------------------------
# A node is a Python type (isinstance check; `object` accepts anything), None (the
# value must be null), or one of the classes below.


@record
class Map:
    """A mapping with known `fields`; other keys must match `keys` and then `values`."""

    fields: Mapping[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    keys: Node | None = None
    values: Node = object
    nonempty: bool = False  # DVC's `Required(str)`: at least one key


@record
class Seq:
    """A list whose items must each match one of `items` (tried in order)."""

    items: tuple[Node, ...]


@record
class AnyOf:
    """The first alternative that matches; else the most specific failure."""

    options: tuple[Node, ...]


@record
class AllOf:
    """Every node must match; the first failure is reported."""

    nodes: tuple[Node, ...]


@record
class Check:
    """A predicate with the message to report when it is false."""

    test: Callable[[Any], bool]
    message: str


@record
class Switch:
    """Pick the node to apply from the value itself (DVC's foreach-or-stage choice)."""

    choose: Callable[[Any], Node]


Node: TypeAlias = "type | Map | Seq | AnyOf | AllOf | Check | Switch | None"


@record
class Issue:
    """One validation failure: DVC's cause message and the key path it refers to."""

    message: str
    path: tuple[Any, ...]


# --- the walker --------------------------------------------------------------------------


def _check_type(node: type, value: Any, path: tuple[Any, ...]) -> list[Issue]:
    return [] if isinstance(value, node) else [Issue(f"expected {node.__name__}", path)]


def _check_map_key(node: Map, key: Any, value: Any, path: tuple[Any, ...]) -> list[Issue]:
    if key in node.fields:
        return check(node.fields[key], value, (*path, key))
    if node.keys is None:
        return [Issue("extra keys not allowed", (*path, key))]
    return check(node.keys, key, (*path, key)) or check(node.values, value, (*path, key))


def _check_map(node: Map, value: Any, path: tuple[Any, ...]) -> list[Issue]:
    if not isinstance(value, dict):
        return [Issue("expected a dictionary", path)]
    issues = [issue for k, v in value.items() for issue in _check_map_key(node, k, v, path)]
    missing = [(*path, key) for key in node.required if key not in value]
    if node.nonempty and not value:
        missing.append((*path, "<class 'str'>"))
    return issues + [Issue("required key not provided", where) for where in missing]


def _check_seq(node: Seq, value: Any, path: tuple[Any, ...]) -> list[Issue]:
    if not isinstance(value, list):
        return [Issue("expected a list", path)]
    issues: list[Issue] = []
    for index, item in enumerate(value):
        failure: list[Issue] = []
        for option in node.items:
            failure = check(option, item, (*path, index))
            if failure and len(failure[0].path) > len(path) + 1:
                return failure  # a failure inside an item ends the whole list (as in DVC)
            if not failure:
                break
        issues += failure
    return issues


def _check_any(node: AnyOf, value: Any, path: tuple[Any, ...]) -> list[Issue]:
    best: list[Issue] = []
    for option in node.options:
        failure = check(option, value, path)
        if not failure:
            return []
        if not best or len(failure[0].path) > len(best[0].path):
            best = failure
    return best


def _check_all(node: AllOf, value: Any, path: tuple[Any, ...]) -> list[Issue]:
    for part in node.nodes:
        failure = check(part, value, path)
        if failure:
            return failure
    return []


def check(node: Node, value: Any, path: tuple[Any, ...] = ()) -> list[Issue]:
    """Every issue of `value` against `node`, in DVC's order.

    >>> check(Seq((str,)), ["a", 1])
    [Issue(message='expected str', path=(1,))]
    """
    if node is None:
        return [] if value is None else [Issue("not a valid value", path)]
    if isinstance(node, type):
        return _check_type(node, value, path)
    if isinstance(node, Check):
        return [] if node.test(value) else [Issue(node.message, path)]
    if isinstance(node, Switch):
        return check(node.choose(value), value, path)
    walker = _WALKERS[type(node)]
    return walker(node, value, path)


_WALKERS: dict[type, Callable[[Any, Any, tuple[Any, ...]], list[Issue]]] = {
    Map: _check_map,
    Seq: _check_seq,
    AnyOf: _check_any,
    AllOf: _check_all,
}


# --- DVC 3.67.1's schemas ----------------------------------------------------------------

_ANNOTATION: dict[str, Node] = {"desc": str, "type": str, "labels": Seq((str,)), "meta": object}
_OUT_FLAGS: dict[str, Node] = {
    **_ANNOTATION,
    "cache": bool,
    "persist": bool,
    "checkpoint": bool,  # DVC 2.x checkpoint outputs: still accepted, ignored
    "remote": str,
    "push": bool,
}
_PLOT_PROPS = Map(
    {
        **_OUT_FLAGS,
        **dict.fromkeys(("template", "x", "y", "x_label", "y_label", "title"), str),
        "header": bool,
    }
)
_OUT_ITEM = AnyOf((str, Map(keys=str, values=Map(_OUT_FLAGS))))
_PLOT_ITEM = AnyOf((str, Map(keys=str, values=AnyOf((_PLOT_PROPS, Seq((_PLOT_PROPS,)))))))
_VARS = Seq((str, dict))

STAGE = Map(
    {
        "matrix": Map(keys=str, values=AnyOf((str, list))),
        "cmd": AnyOf((str, list)),
        "wdir": str,
        "deps": Seq((str,)),
        "params": Seq((AnyOf((str, dict)),)),
        "vars": _VARS,
        "frozen": bool,
        "meta": object,
        "desc": str,
        "always_changed": bool,
        "outs": Seq((_OUT_ITEM,)),
        "metrics": Seq((_OUT_ITEM,)),
        "plots": Seq((_PLOT_ITEM,)),
    },
    required=("cmd",),
)
FOREACH_STAGE = Map({"foreach": AnyOf((dict, list, str)), "do": STAGE}, required=("foreach", "do"))


def _stage_kind(value: Any) -> Node:
    is_generator = isinstance(value, Mapping) and {"foreach", "do"} & value.keys()
    return FOREACH_STAGE if is_generator else STAGE


_STR_MAP = Map(keys=str, values=str)
_PLOT_DEFINITION = Map(
    {
        "x": AnyOf((str, _STR_MAP)),
        "y": AnyOf((str, Seq((str,)), Map(keys=str, values=AnyOf((str, Seq((str,))))))),
        **dict.fromkeys(("x_label", "y_label", "title", "template"), str),
    }
)
_ARTIFACT = Map({"path": str, **_ANNOTATION}, required=("path",))

DVCYAML = Map(
    {
        "datasets": object,
        "plots": Seq(
            (AnyOf((str, Map(keys=str, values=AnyOf((_PLOT_DEFINITION, None)), nonempty=True))),)
        ),
        "stages": Map(keys=str, values=Switch(_stage_kind)),
        "vars": _VARS,
        "params": Seq((str,)),
        "metrics": Seq((str,)),
        "artifacts": Map(keys=str, values=_ARTIFACT),
    }
)


def _is_checksum(value: Any, *, min_length: int = 3) -> bool:
    """None, '' or a string (or integer) of 3 characters or more."""
    if value is None or value == "":
        return True
    return isinstance(value, (str, int)) and len(str(value)) >= min_length


_CHECKSUM = Check(_is_checksum, "not a valid value")
_META: dict[str, Node] = {"size": int, "nfiles": int, "isexec": bool, "version_id": str}
_CHECKSUMS: dict[str, Node] = {"md5": _CHECKSUM, "checksum": _CHECKSUM, "etag": _CHECKSUM}
_CLOUD = AllOf(
    (
        Map(keys=str, values=Map({**_META, **_CHECKSUMS})),
        Check(lambda value: len(value) <= 1, "length of value must be at most 1"),
    )
)
_DIR_FILES = Map({**_CHECKSUMS, **_META, "relpath": str, "cloud": _CLOUD}, required=("relpath",))
_DATA: dict[str, Node] = {**_CHECKSUMS, **_META, "path": str, "cloud": _CLOUD, "hash": str}
LOCK_DATA = Map({**_DATA, "files": Seq((_DIR_FILES,)), "dataset": dict}, required=("path",))
LOCK_STAGE = Map(
    {
        "cmd": AnyOf((str, list)),
        "deps": Seq((LOCK_DATA,)),
        "params": Map(keys=str, values=Map(keys=str, values=object)),
        "outs": Seq((LOCK_DATA,)),
    },
    required=("cmd",),
)
LOCKFILE = Map(
    {
        "schema": Check(lambda value: value == "2.0", "invalid schema version"),
        "datasets": object,
        "stages": Map(keys=str, values=LOCK_STAGE),
    },
    required=("schema",),
)

_FILE_DATA: dict[str, Node] = {
    **_DATA,
    "persist": bool,
    "files": Seq((_DIR_FILES,)),
    "fs_config": dict,
}
_OUTPUT = Map({**_FILE_DATA, **_ANNOTATION, "cache": bool, "remote": str, "push": bool})
_REPO = Map(
    {
        "url": str,
        "rev": str,
        "rev_lock": str,
        "config": AnyOf((str, dict)),
        "remote": AnyOf((str, dict)),
    },
    required=("url",),
)
_DB = Map(dict.fromkeys(("query", "connection", "file_format", "table"), str))
_DEPENDENCY = Map({**_FILE_DATA, "repo": _REPO, "db": _DB})
DVCFILE = Map(
    {
        "md5": _CHECKSUM,
        "wdir": AnyOf((str, None)),
        "deps": AnyOf((Seq((_DEPENDENCY,)), None)),
        "outs": AnyOf((Seq((_OUTPUT,)), None)),
        "locked": bool,  # the DVC 1.x name of `frozen`
        "frozen": bool,
        "meta": object,
        "always_changed": bool,
        "desc": str,
    }
)


# --- messages -------------------------------------------------------------------------------


def _where(text: str, path: tuple[Any, ...]) -> tuple[tuple[int, int] | None, int]:
    """Position of the nearest enclosing collection, and how many levels up it is (DVC: 1-4)."""
    keys = list(path)
    step = 1
    while keys and step < 5:
        found = None if None in keys else locate_collection(text, keys)
        if found is not None:
            return found, step
        step += 1
        keys.pop()
    return None, step


def _describe(issue: Issue, text: str) -> list[str]:
    position, step = _where(text, issue.path)
    parts = [issue.message]
    if issue.path:
        parts.append("in " + " -> ".join(str(key) for key in issue.path))
    if position is None:
        return [", ".join(parts)]
    line, column = position
    parts += [f"line {line}", f"column {column}"]
    return [", ".join(parts), *excerpt(text, line - 1, line + step - 1)]


def format_issues(issues: list[Issue], data: Any, text: str, display: str) -> str:
    """DVC's validation report: a head line, then each cause with a code excerpt."""
    head = f"'{display}' validation failed"
    if len(issues) > 1:
        head += f": {len(issues)} errors"
    if not isinstance(data, Mapping):
        return f"{head}: {issues[0].message}."
    lines = [f"{head}.", ""]
    for index, issue in enumerate(issues):
        lines += ([""] if index else []) + _describe(issue, text)
    return "\n".join(lines)


def _validate(node: Node, data: Any, text: str, display: str, extra: list[Issue]) -> dict[str, Any]:
    issues = check(node, data) + extra
    if issues:
        hint = _RENAME_HINT if extra else None
        raise SchemaError(format_issues(issues, data, text, display), hint=hint)
    checked: dict[str, Any] = data
    return checked


# DVC accepts such names but can never address the stage afterwards: `a@b` is read as
# key `b` of the foreach group `a`, and `x:y` as stage `y` of the file `x`
# ("Stage 'a@b' not found inside 'dvc.yaml' file"). So they are refused up front.
_RESERVED = ("@", ":")
_RENAME_HINT = (
    "rename the stage: '@' separates a foreach/matrix group from its key and ':' a"
    " dvc.yaml path from a stage name in targets"
)


def _stage_name_issues(data: Any) -> list[Issue]:
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, dict):
        return []
    bad = [n for n in stages if isinstance(n, str) and any(c in n for c in _RESERVED)]
    message = "stage name must not contain '@' or ':'"
    return [Issue(message, ("stages", name)) for name in bad]


def validate_dvcyaml(data: Any, text: str, display: str) -> dict[str, Any]:
    """Check a raw dvc.yaml document; return it unchanged or raise SchemaError.

    `text` is the file's text (for line numbers and excerpts), `display` the
    path shown in the message (`./dvc.yaml`). Besides DVC's schema, stage names
    containing `@` or `:` are refused.
    """
    return _validate(DVCYAML, data, text, display, _stage_name_issues(data))


def validate_lockfile(data: Any, text: str, display: str) -> dict[str, Any]:
    """Check a dvc.lock document (`schema: '2.0'`, DVC 2.x and 3.x records)."""
    return _validate(LOCKFILE, data, text, display, [])


def validate_dvcfile(data: Any, text: str, display: str) -> dict[str, Any]:
    """Check a `.dvc` file (outputs of `dvc add`, imports); `cmd` is not accepted."""
    return _validate(DVCFILE, data, text, display, [])
