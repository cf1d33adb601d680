r"""Parameter overrides of `exp run`: parse `-S` (Hydra's override grammar) and `--params`.

Each `-S` value is one override, optionally prefixed by the params file it edits
(`other.yaml:train.lr=0.1`; without a prefix the file is `params.yaml`):

    >>> found = parse_overrides(["train.lr=1e-3", "other.yaml:+seed=7", "~old"])
    >>> found["params.yaml"][0].value, found["other.yaml"][0].kind, found["params.yaml"][1].kind
    (0.001, 'add', 'delete')
    >>> format_overrides(found)
    "{'params.yaml': ['train.lr=1e-3', '~old'], 'other.yaml': ['+seed=7']}"

Values are typed as Hydra types them (`1`→int, `1e-3`→float, `TRUE`→bool,
`null`→None, `'1'`→str). Hydra's parser costs about 0.3 s to import, so the
simple forms most people type (`key=value`, `+key=value`, `++key=value`,
`~key` with a plain unquoted scalar) are read by a small scanner here, which
mirrors Hydra's lexer (longest token wins, then the earliest rule); everything
else (quotes, lists, dicts, sweeps, functions, escapes, errors) goes to Hydra.
A differential test runs both on the same inputs.

Sweeps (`a=1,2`, `choice(...)`, `range(...)`) are only valid with a queue;
`expand_sweeps` turns them into one override set per combination, exactly as
Hydra's basic sweeper orders them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from labrun.errors import LabrunError
from labrun.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hydra.core.override_parser.types import Override as HydraOverride

DEFAULT_PARAMS_FILE = "params.yaml"

# Override kinds (Hydra's CHANGE, ADD, FORCE_ADD and DEL).
SET = "set"
ADD = "add"
FORCE = "force"
DELETE = "delete"

_PREFIX = {SET: "", ADD: "+", FORCE: "++", DELETE: "~"}
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in _PREFIX.items()}
_HYDRA_DOCS = "See https://hydra.cc/docs/1.2/advanced/override_grammar/basic for details"


class OverrideError(LabrunError):
    """A `-S`/`--params` override is invalid or cannot be applied to its params file."""


class OverrideSyntaxError(OverrideError):
    """An override is not valid Hydra syntax (DVC reports these as unexpected errors)."""


@record
class Override:
    """One parsed override for one params file.

    ``kind`` is `set`, `add` (`+k=v`), `force` (`++k=v`) or `delete` (`~k`, `~k=v`);
    ``sweep`` is "" for a single value, else `choice`, `range`, `glob` or
    `interval` (and ``value`` is then None).

        >>> one = parse_overrides(["p.json:++a.0=x"])["p.json"][0]
        >>> one.file, one.text, one.kind, one.key, one.value, one.sweep
        ('p.json', '++a.0=x', 'force', 'a.0', 'x', '')
    """

    file: str
    text: str
    kind: str = SET
    key: str = ""
    value: Any = None
    package: str | None = None
    sweep: str = ""


# --- the fast path: plain `[prefix]key[=scalar]` -------------------------------------------

# Hydra's tokens as character sets and small checks, not regular expressions: compiling
# the expressions cost `exp run` more than the rest of parsing its overrides. The
# expressions they stand for (tests/unit/test_overrides_scanner.py checks both agree):
#   simple override  (\+\+|\+|~)?(NAME|SEGMENT(\.SEGMENT)+)(=VALUE_CHAR*)?
#   NAME             [A-Za-z_$][A-Za-z0-9_$\-]*       SEGMENT  NAME|UINT
#   UINT             0|[1-9](_?[0-9])*                 DIGITS   [0-9](_?[0-9])*
#   POINT            UINT\.|UINT?\.DIGITS
#   float            [+-]?(POINT|(UINT|POINT)[eE][+-]?DIGITS|inf|nan, any case)
#   int              [+-]?UINT
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$")
_DIGIT_CHARS = frozenset("0123456789")
_NAME_CHARS = _LETTERS | _DIGIT_CHARS | {"-"}
_VALUE_CHARS = _LETTERS | _DIGIT_CHARS | frozenset("/-+.%*@?|:")
_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None}


def _is_name(text: str) -> bool:
    return text[:1] in _LETTERS and _NAME_CHARS.issuperset(text)


def _is_digits(text: str) -> bool:
    """DIGITS: digits, single underscores between them."""
    return (
        text[:1] in _DIGIT_CHARS
        and text[-1] in _DIGIT_CHARS
        and "__" not in text
        and _DIGIT_CHARS.issuperset(text.replace("_", ""))
    )


def _is_uint(text: str) -> bool:
    return text == "0" or (text[:1] != "0" and _is_digits(text))


def _is_point(text: str) -> bool:
    whole, dot, fraction = text.partition(".")
    if not dot:
        return False
    if not fraction:
        return _is_uint(whole)
    return (not whole or _is_uint(whole)) and _is_digits(fraction)


def _unsigned(text: str) -> str:
    return text[1:] if text[:1] in ("+", "-") else text


def _is_float(text: str) -> bool:
    body = _unsigned(text)
    if len(body) == 3 and body.isascii() and body.lower() in ("inf", "nan"):
        return True
    if _is_point(body):
        return True
    cut = max(body.find("e"), body.find("E"))
    if cut <= 0 or ("e" in body and "E" in body):
        return False
    mantissa, exponent = body[:cut], _unsigned(body[cut + 1 :])
    return (_is_uint(mantissa) or _is_point(mantissa)) and _is_digits(exponent)


def _is_int(text: str) -> bool:
    return _is_uint(_unsigned(text))


def _split_simple(text: str) -> tuple[str, str, str | None] | None:
    """(prefix, key, raw value or None) of a simple override, else None."""
    prefix = next((p for p in ("++", "+", "~") if text.startswith(p)), "")
    key, equals, raw = text[len(prefix) :].partition("=")
    if equals and not _VALUE_CHARS.issuperset(raw):
        return None
    parts = key.split(".")
    if len(parts) == 1 and not _is_name(key):
        return None
    if len(parts) > 1 and not all(_is_name(p) or _is_uint(p) for p in parts):
        return None
    return prefix, key, raw if equals else None


def type_scalar(text: str) -> Any:
    """Type an unquoted, unescaped Hydra value as Hydra does.

    >>> [type_scalar(t) for t in ["1_000", "-.5e3", "iNf", "True", "NULL", "01", "1e", ""]]
    [1000, -500.0, inf, True, None, '01', '1e', '']
    """
    if _is_float(text):
        return float(text)
    if _is_int(text):
        return int(text)
    return _WORDS.get(text.lower(), text)


def _parse_simple(file: str, text: str) -> Override | None:
    """The override if it is one of the simple forms, else None (Hydra decides)."""
    found = _split_simple(text)
    if found is None:
        return None
    prefix, key, raw = found
    kind = _KIND_OF_PREFIX[prefix]
    if raw is None and kind != DELETE:
        return None
    value = None if raw is None else type_scalar(raw)
    return Override(file, text, kind, key, value)


# --- the reference: Hydra's own parser -------------------------------------------------------


def _chain(exc: BaseException | None) -> str:
    """An exception and its causes, joined as DVC's logger prints them."""
    parts = []
    while exc is not None:
        parts.append(str(exc))
        exc = exc.__cause__
    return ": ".join(parts)


def _parse_hydra(file: str, text: str) -> Override:
    from hydra.core.override_parser.types import OverrideType

    parsed = _hydra_parse(text)
    kind = {
        OverrideType.CHANGE: SET,
        OverrideType.ADD: ADD,
        OverrideType.FORCE_ADD: FORCE,
        OverrideType.DEL: DELETE,
    }[parsed.type]
    sweep = _sweep_kind(parsed)
    value = None if sweep else parsed.value()
    return Override(file, text, kind, parsed.key_or_group, value, parsed.package, sweep)


def _hydra_parse(text: str) -> HydraOverride:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides([text])[0]
    except OverrideParseException as exc:
        raise OverrideSyntaxError(f"unexpected error - {_chain(exc)}") from None


def _sweep_kind(parsed: HydraOverride) -> str:
    from hydra.core.override_parser.types import ValueType

    return {
        ValueType.CHOICE_SWEEP: "choice",
        ValueType.SIMPLE_CHOICE_SWEEP: "choice",
        ValueType.RANGE_SWEEP: "range",
        ValueType.GLOB_CHOICE_SWEEP: "glob",
        ValueType.INTERVAL_SWEEP: "interval",
    }.get(parsed.value_type, "")  # type: ignore[arg-type]


def parse_override(file: str, text: str) -> Override:
    """Parse one override (the text after the file prefix) for `file`.

    >>> parse_override("params.yaml", "a=[1,'x y']").value
    [1, 'x y']
    """
    return _parse_simple(file, text) or _parse_hydra(file, text)


# --- grouping by file ------------------------------------------------------------------------


def split_file(argument: str) -> tuple[str, str]:
    """Split one `-S` value into (params file, override) by DVC's prefix rule.

    The file prefix is looked for only before the first `=`:

    >>> split_file("other.yaml:a=1"), split_file("a=http://x"), split_file("p.json:~b")
    (('other.yaml', 'a=1'), ('params.yaml', 'a=http://x'), ('p.json', '~b'))
    """
    if ":" not in argument.partition("=")[0]:
        return DEFAULT_PARAMS_FILE, argument
    file, _, override = argument.partition(":")
    return file, override


def parse_overrides(
    set_params: Sequence[str], legacy_params: Sequence[str] = ()
) -> dict[str, list[Override]]:
    """Parse `-S` values and `--params` comma lists, grouped by params file in order.

    `-S` values come first, then the `--params` lists (`[file:]k1=v1,k2=v2`, split
    on the last `:`, then on `,`; values typed as YAML 1.2).

    >>> found = parse_overrides(["a=1"], ["other.yaml:b=yes,c=[1]"])
    >>> [(o.file, o.key, o.value) for group in found.values() for o in group]
    [('params.yaml', 'a', 1), ('other.yaml', 'b', 'yes'), ('other.yaml', 'c', [1])]
    """
    grouped: dict[str, list[Override]] = {}
    for argument in set_params:
        file, text = split_file(argument)
        grouped.setdefault(file, []).append(parse_override(file, text))
    for argument in legacy_params:
        file, items = _split_legacy(argument)
        grouped.setdefault(file, []).extend(_parse_legacy(file, item) for item in items)
    return grouped


def parse_grouped_overrides(grouped: Mapping[str, Iterable[str]]) -> dict[str, list[Override]]:
    """Parse overrides already grouped by file (as stored in a queue entry).

    >>> parse_grouped_overrides({"p.yaml": ["a=1"]})["p.yaml"][0].value
    1
    """
    return {file: [parse_override(file, text) for text in texts] for file, texts in grouped.items()}


def override_texts(overrides: Mapping[str, Sequence[Override]]) -> dict[str, list[str]]:
    """The overrides as `{file: [text, ...]}`, the JSON-friendly form DVC stores and prints.

    >>> override_texts(parse_overrides(["a=1", "b.json:c=2"]))
    {'params.yaml': ['a=1'], 'b.json': ['c=2']}
    """
    return {file: [o.text for o in group] for file, group in overrides.items()}


def format_overrides(overrides: Mapping[str, Sequence[Override]]) -> str:
    """The Python dict repr DVC prints in `Queueing with overrides '...'.`.

    >>> format_overrides(parse_overrides(["train.lr=1", "+b='x y'"]))
    '{\\'params.yaml\\': [\\'train.lr=1\\', "+b=\\'x y\\'"]}'
    """
    return repr(override_texts(overrides))


# --- the pre-2.0 `--params [file:]k1=v1,k2=v2` lists ---------------------------------------


def _split_legacy(argument: str) -> tuple[str, list[str]]:
    file, _, rest = argument.rpartition(":")
    return file or DEFAULT_PARAMS_FILE, [item for item in rest.split(",") if item]


def _parse_legacy(file: str, item: str) -> Override:
    from labrun.errors import FileFormatError
    from labrun.pipeline.files import parse_yaml

    key, equals, raw = item.partition("=")
    if not equals or not raw:
        raise OverrideError(f"Must provide a value for parameter '{key}'")
    found = _split_simple(key)
    if found is None or found[2] is not None:
        raise OverrideError(f"Invalid parameter name '{key}' in '{item}'")
    try:  # as a list item: a document that is `0` or `~` would read as an empty file
        value = parse_yaml(f"- {raw}", "--params")[0] if raw.strip() else raw
    except FileFormatError:
        raise OverrideError(f"Invalid parameter value for '{key}': '{raw}'") from None
    kind = _KIND_OF_PREFIX[found[0]]
    value = _hydra_value(value)
    text = f"{key}={render_value(value)}"
    return Override(file, text, kind, found[1], value)


def _hydra_value(value: Any) -> Any:
    """A YAML value as one Hydra could have produced (dates and the like become strings)."""
    if isinstance(value, dict):
        return {k: _hydra_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hydra_value(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


_ESCAPES = {ord(c): "\\" + c for c in "\\()[]{}:=, \t"}


def escape(text: str) -> str:
    r"""Escape Hydra's special characters in an unquoted string (as Hydra prints values).

    >>> escape("a b:c")
    'a\\ b\\:c'
    """
    return text.translate(_ESCAPES)


def _quote(text: str) -> str:
    """Single-quote a string so that Hydra reads it back unchanged."""
    body = re.sub(r"(\\*)'", lambda m: "\\" * (2 * len(m.group(1))) + "\\'", text)
    trailing = len(body) - len(body.rstrip("\\"))
    return "'" + body + "\\" * trailing + "'"


def render_value(value: Any) -> str:
    """Hydra text for a value, such that parsing it gives the value back.

    >>> [render_value(v) for v in [None, True, 1e-05, "1", "x", ["a b", {"k": 2}]]]
    ['null', 'True', '1e-05', "'1'", 'x', "['a b',{k:2}]"]
    """
    if isinstance(value, str):
        plain = _VALUE_CHARS.issuperset(value) and type_scalar(value) == value
        return value if plain and "${" not in value else _quote(value)
    if isinstance(value, list):
        return "[" + ",".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{escape(str(k))}:{render_value(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    return "null" if value is None else str(value)


# --- sweeps ----------------------------------------------------------------------------------


def has_sweeps(overrides: Mapping[str, Sequence[Override]]) -> bool:
    """True if any override is a sweep (choice, range, glob or interval).

    >>> has_sweeps(parse_overrides(["a=1"])), has_sweeps(parse_overrides(["a=1,2"]))
    (False, True)
    """
    return any(o.sweep for group in overrides.values() for o in group)


def check_no_sweeps(overrides: Mapping[str, Sequence[Override]]) -> None:
    """Raise OverrideError if there is a sweep: sweeps need `--queue`.

    >>> check_no_sweeps(parse_overrides(["a=range(3)"]))
    Traceback (most recent call last):
    ...
    labrun.experiments.overrides.OverrideError: Sweep overrides can't be used without `--queue`
    """
    if has_sweeps(overrides):
        raise OverrideError("Sweep overrides can't be used without `--queue`")


def expand_sweeps(overrides: Mapping[str, Sequence[Override]]) -> list[dict[str, list[Override]]]:
    """One override set per combination of sweep values, in DVC's order.

    Within a file the first override varies slowest (a key given twice keeps its first
    position and its last values); across files, the first file varies slowest.
    Every override is written back as Hydra prints it (`1e-3` becomes `0.001`).

    >>> sets = expand_sweeps(parse_overrides(["a=1,2", "b=range(2)"]))
    >>> [format_overrides(s) for s in sets]  # doctest: +NORMALIZE_WHITESPACE
    ["{'params.yaml': ['a=1', 'b=0']}", "{'params.yaml': ['a=1', 'b=1']}",
     "{'params.yaml': ['a=2', 'b=0']}", "{'params.yaml': ['a=2', 'b=1']}"]
    """
    import itertools

    per_file = [_file_combinations(group) for group in overrides.values()]
    return [
        parse_grouped_overrides(dict(zip(overrides, combination, strict=True)))
        for combination in itertools.product(*per_file)
    ]


def _file_combinations(group: Sequence[Override]) -> list[list[str]]:
    import itertools

    parsed = [_hydra_parse(o.text) for o in group]
    for one, override in zip(parsed, group, strict=True):
        if _sweep_kind(one) == "glob":
            raise OverrideError(f"Glob override '{override.text}' is not supported.")
    columns: dict[str, list[str]] = {}
    try:
        for one in parsed:
            columns[one.get_key_element()] = _column(one)
        return [list(row) for row in itertools.product(*columns.values())]
    except OverrideError:
        raise
    except Exception as exc:  # Hydra's own failures (a zero range step...) are unexpected
        raise OverrideError(f"unexpected error - {_chain(exc)}") from exc


def _column(parsed: HydraOverride) -> list[str]:
    """The texts one override contributes to the product (as Hydra's basic sweeper)."""
    key = parsed.get_key_element()
    if not parsed.is_sweep_override():
        return [f"{key}={parsed.get_value_element_as_str()}"]
    if not parsed.is_discrete_sweep():
        kind = parsed.value_type.name if parsed.value_type else ""
        raise OverrideError(f"unexpected error - BasicSweeper does not support sweep type : {kind}")
    return [f"{key}={value}" for value in parsed.sweep_string_iterator()]


__all__ = [
    "ADD",
    "DEFAULT_PARAMS_FILE",
    "DELETE",
    "FORCE",
    "SET",
    "Override",
    "OverrideError",
    "OverrideSyntaxError",
    "check_no_sweeps",
    "escape",
    "expand_sweeps",
    "format_overrides",
    "has_sweeps",
    "override_texts",
    "parse_grouped_overrides",
    "parse_override",
    "parse_overrides",
    "render_value",
    "split_file",
    "type_scalar",
]
