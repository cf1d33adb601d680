"""`${...}` expressions and the templating context of a `dvc.yaml`.

Pure functions over plain Python values: nothing here reads files. The loader
(`labrun.pipeline.dvcfile`) builds a :class:`Context` from params/vars files and
calls :func:`resolve` on each stage definition.

    >>> ctx = Context()
    >>> ctx.merge({"lr": 0.1, "opts": {"n": 2, "flag": True}}, source="params.yaml")
    >>> resolve("python train.py --lr ${lr}", ctx, field="cmd")
    'python train.py --lr 0.1'
    >>> resolve("${lr}", ctx, field="cmd")   # a whole-string expression keeps its type
    0.1
    >>> resolve("train ${opts}", ctx, field="cmd")
    'train --n 2 --flag'
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping

from labrun.errors import LabrunError
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# `${` not preceded by a backslash, then the shortest text up to the next `}`.
_EXPR_TEXT = r"(?<!\\)\$\{(?P<inner>.*?)\}"
_PRIMITIVES = (str, int, float, bool)


class ExpressionError(LabrunError):
    """An expression is malformed or names a missing key (message without location)."""


class MissingKeyError(ExpressionError):
    """An expression names a key that no variable source defines."""


class MergeError(LabrunError):
    """Two variable sources define the same key, or a reserved key is redefined."""


@record
class ParsingConfig:
    """How a mapping is unpacked into command-line options (`[parsing]` in config)."""

    bool_style: str = "store_true"  # or "boolean_optional"
    list_style: str = "nargs"  # or "append"


def _expr() -> re.Pattern[str]:
    """The expression pattern, compiled on first use (most pipelines have none)."""
    return re.compile(_EXPR_TEXT, re.DOTALL)  # re keeps it after the first compile


def has_expression(value: str) -> bool:
    """True if the string holds at least one unescaped `${...}`."""
    return "${" in value and _expr().search(value) is not None


def parse_expression(inner: str) -> str:
    """Validate the text between `${` and `}` and return it as a dotted key.

    `a[0].b` becomes `a.0.b`; a malformed expression raises ExpressionError with
    a pointer to the offending character.
    """
    parts: list[str] = []
    pos = 0
    word, pos = _read_word(inner, pos)
    if not word:
        _syntax_error(inner, pos, "Expected W:(^.[])")
    parts.append(word)
    while pos < len(inner):
        char = inner[pos]
        if char == ".":
            word, pos = _read_word(inner, pos + 1)
            if not word:
                _syntax_error(inner, pos - 1, f"Expected end of text, found {char!r}")
        elif char == "[":
            word, pos = _read_word(inner, pos + 1)
            if not word or pos >= len(inner) or inner[pos] != "]":
                _syntax_error(inner, pos - 1 if not word else pos, "Expected ']'")
            pos += 1
        else:
            _syntax_error(inner, pos, f"Expected end of text, found {char!r}")
        parts.append(word)
    return ".".join(parts)


def _read_word(text: str, pos: int) -> tuple[str, int]:
    end = pos
    while end < len(text) and text[end] not in ".[]":
        end += 1
    return text[pos:end], end


def _syntax_error(inner: str, pos: int, what: str) -> None:
    col = pos + 2  # the pointer is under the text with `${` in front
    raise ExpressionError(
        "${" + inner + "}\n" + " " * col + "^\n"
        f"ParseException: {what}  (at char {col}), (line:1, col:{col + 1})"
    )


@record(frozen=False)
class Context:
    """The variables visible to `${...}`: params.yaml, `vars`, `item` and `key`.

    Keeps, for error messages, which source defined each key, and which files
    were loaded whole (None) or partially (list of keys).
    """

    data: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    imports: dict[str, list[str] | None] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)

    def copy(self) -> Context:
        """A copy whose merges do not affect this context."""
        return Context(
            _deepcopy(self.data), dict(self.sources), dict(self.imports), set(self.reserved)
        )

    def merge(self, values: Mapping[Any, Any], *, source: str) -> None:
        """Merge a mapping in; redefining an existing leaf is a MergeError."""
        clash = self.reserved.intersection(k for k in values if isinstance(k, str))
        if clash:
            noun = "keys" if len(clash) > 1 else "key"
            raise MergeError(f"attempted to modify reserved {noun} {', '.join(sorted(clash))}")
        _merge_into(self.data, _clean(values, source), source, "", self.sources)

    def select(self, key: str) -> Any:
        """The value at a dotted key (`a.b.0`); ExpressionError if absent."""
        node: Any = self.data
        for raw in key.split("."):
            part = raw.strip()
            try:
                if isinstance(node, Mapping):
                    node = node[part]
                elif isinstance(node, list | tuple):
                    node = node[int(part)]
                else:
                    raise LookupError(part)
            except (LookupError, ValueError):
                raise MissingKeyError(f"Could not find '{key}'") from None
        return node

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def temporarily(self, values: dict[str, Any]) -> _Overlay:
        """Set top-level keys (`item`, `key`) for a `with` block and reserve them.

        A class rather than a generator: it is entered once per generated stage.
        """
        return _Overlay(self, values)


class _Overlay:
    """The `with` block of `Context.temporarily`: set and reserve keys, then restore."""

    __slots__ = ("ctx", "reserved", "saved", "values")

    def __init__(self, ctx: Context, values: dict[str, Any]) -> None:
        self.ctx = ctx
        self.values = values

    def __enter__(self) -> None:
        data, values = self.ctx.data, self.values
        self.saved = {k: data[k] for k in values if k in data}
        data.update(values)
        self.reserved = set(values) - self.ctx.reserved
        self.ctx.reserved |= self.reserved

    def __exit__(self, *exc: object) -> None:
        data = self.ctx.data
        for k in self.values:
            data.pop(k, None)
        data.update(self.saved)
        self.ctx.reserved -= self.reserved


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


def _clean(values: Mapping[Any, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """Drop non-string keys and reject values a context cannot hold (e.g. dates)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(key, str):
            out[key] = _clean_value(value, source, f"{prefix}{key}")
    return out


def _clean_value(value: Any, source: str, path: str) -> Any:
    if value is None or isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, Mapping):
        return _clean(value, source, path + ".")
    if isinstance(value, list | tuple):
        return [_clean_value(v, source, f"{path}.{i}") for i, v in enumerate(value)]
    raise MergeError(
        f"Unsupported value of type '{type(value).__name__}' in '{source}:{path}'",
        hint="quote the value in the file so that it is read as a string",
    )


def _merge_into(
    into: dict[str, Any], new: dict[str, Any], source: str, prefix: str, sources: dict[str, str]
) -> None:
    for key, value in new.items():
        path = prefix + key
        if key not in into:
            into[key] = value
            sources[path] = source
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge_into(into[key], value, source, path + ".", sources)
        else:
            raise MergeError(
                f"cannot redefine '{path}' from '{source}' "
                f"as it already exists in '{_source_of(path, sources)}'"
            )


def _source_of(path: str, sources: dict[str, str]) -> str:
    while path not in sources and "." in path:
        path = path.rsplit(".", 1)[0]
    return sources.get(path, "?")


def resolve(value: Any, ctx: Context, *, field: str, parsing: ParsingConfig | None = None) -> Any:
    """Resolve every `${...}` in a value (strings, list items, mapping keys and values).

    `field` is the stage field being resolved (`cmd`, `deps`, `foreach`...): it
    decides whether a mapping may be interpolated (unpacked in `cmd`; kept as
    data in `foreach`/`matrix`).
    """
    if isinstance(value, str):
        return resolve_str(value, ctx, field=field, parsing=parsing)
    if isinstance(value, Mapping):
        return {
            resolve(k, ctx, field=field, parsing=parsing): resolve(
                v, ctx, field=field, parsing=parsing
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [resolve(v, ctx, field=field, parsing=parsing) for v in value]
    return value


def resolve_str(
    text: str, ctx: Context, *, field: str, parsing: ParsingConfig | None = None
) -> Any:
    """Resolve one string; a string that is exactly one expression keeps the value's type."""
    if "${" not in text:
        return text
    matches = list(_expr().finditer(text))
    if not matches:
        return text.replace("\\${", "${")
    if len(matches) == 1 and matches[0].group(0) == text:
        value = ctx.select(parse_expression(matches[0]["inner"]))
        _check_interpolable(value, field)
        return value
    pieces: list[str] = []
    last = 0
    for match in matches:
        value = ctx.select(parse_expression(match["inner"]))
        _check_interpolable(value, field)
        pieces.append(text[last : match.start()])
        pieces.append(to_text(value, parsing or ParsingConfig()))
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces).replace("\\${", "${")


# --- compiled templates: parse once, substitute per `foreach`/`matrix` item ---------------

if TYPE_CHECKING:
    Resolver = Callable[[Context, ParsingConfig | None], Any]


def compile_value(value: Any, *, field: str) -> Resolver:
    """A function that resolves ``value`` as `resolve` does, with its expressions parsed once.

    For the stages a `foreach` or `matrix` generates, which all resolve one template
    against contexts that differ only in `item` and `key`. It returns what
    `resolve(value, ctx, field=field, parsing=parsing)` returns, or raises the same
    ExpressionError; a malformed expression raises ExpressionError here already.

        >>> ctx = Context()
        >>> ctx.merge({"item": {"n": 2}}, source="vars")
        >>> compile_value(["train --n ${item.n}", "${item}"], field="cmd")(ctx, None)
        ['train --n 2', {'n': 2}]
    """
    if isinstance(value, str):
        return _compile_str(value, field)
    if isinstance(value, Mapping):
        pairs = [
            (compile_value(k, field=field), compile_value(v, field=field)) for k, v in value.items()
        ]
        return lambda ctx, parsing: {k(ctx, parsing): v(ctx, parsing) for k, v in pairs}
    if isinstance(value, list):
        items = [compile_value(v, field=field) for v in value]
        return lambda ctx, parsing: [item(ctx, parsing) for item in items]
    return lambda ctx, parsing: value


def _compile_str(text: str, field: str) -> Resolver:
    matches = list(_expr().finditer(text)) if "${" in text else []
    if not matches:
        constant = text.replace("\\${", "${") if "${" in text else text
        return lambda ctx, parsing: constant
    keys = [parse_expression(match["inner"]) for match in matches]
    if len(matches) == 1 and matches[0].group(0) == text:
        return _whole(keys[0], field)
    literals = [text[: matches[0].start()]]
    literals += [text[a.end() : b.start()] for a, b in itertools.pairwise(matches)]
    return _pieces(literals, keys, text[matches[-1].end() :], field)


def _selector(key: str) -> Callable[[Context], Any]:
    """`ctx.select(key)`, walking nested dicts directly (anything else goes to `select`)."""
    parts = [part.strip() for part in key.split(".")]

    def select(ctx: Context) -> Any:
        node: Any = ctx.data
        try:
            for part in parts:
                if type(node) is not dict:
                    return ctx.select(key)  # lists, and the errors, as `select` words them
                node = node[part]
        except KeyError:
            return ctx.select(key)
        return node

    return select


def _whole(key: str, field: str) -> Resolver:
    select = _selector(key)

    def resolve_whole(ctx: Context, parsing: ParsingConfig | None) -> Any:
        value = select(ctx)
        _check_interpolable(value, field)
        return value

    return resolve_whole


def _pieces(literals: list[str], keys: list[str], tail: str, field: str) -> Resolver:
    pairs = [(literal, _selector(key)) for literal, key in zip(literals, keys, strict=True)]

    def resolve_pieces(ctx: Context, parsing: ParsingConfig | None) -> str:
        out: list[str] = []
        for literal, select in pairs:
            value = select(ctx)
            if type(value) is not str:  # a string is inserted as it is
                _check_interpolable(value, field)
                value = to_text(value, parsing or ParsingConfig())
            out += (literal, value)
        out.append(tail)
        return "".join(out).replace("\\${", "${")

    return resolve_pieces


def check_syntax(value: Any) -> None:
    """Raise ExpressionError for the first malformed expression anywhere in a value."""
    if isinstance(value, str):
        for match in _expr().finditer(value):
            parse_expression(match["inner"])
    elif isinstance(value, Mapping):
        for k, v in value.items():
            check_syntax(k)
            check_syntax(v)
    elif isinstance(value, list):
        for v in value:
            check_syntax(v)


def find_expression(value: Any) -> bool:
    """True if any string inside a value (keys included) holds an expression."""
    if isinstance(value, str):
        return has_expression(value)
    if isinstance(value, Mapping):
        return any(find_expression(k) or find_expression(v) for k, v in value.items())
    if isinstance(value, list):
        return any(find_expression(v) for v in value)
    return False


def _check_interpolable(value: Any, field: str) -> None:
    if value is None or isinstance(value, _PRIMITIVES) or "foreach" in field:
        return
    if isinstance(value, Mapping) and field == "cmd":
        return
    raise ExpressionError(f"Cannot interpolate data of type '{type(value).__name__}'")


def to_text(value: Any, parsing: ParsingConfig) -> str:
    """A value as it appears inside a larger string (`true`, `0.1`, `None`, options)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return _unpack_options(value, parsing)
    return str(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")  # an empty mapping adds nothing
        else:
            yield f"{prefix}{key}", value


def _unpack_options(data: Mapping[str, Any], parsing: ParsingConfig) -> str:
    """A mapping as command-line options: `{n: 1, flag: true}` → `--n 1 --flag`."""
    words: list[str] = []
    for key, value in _flatten(data):
        if isinstance(value, bool):
            if value:
                words.append(f"--{key}")
            elif parsing.bool_style == "boolean_optional":
                words.append(f"--no-{key}")
        elif isinstance(value, str):
            words.append(f"--{key} {_quote(value)}")
        elif isinstance(value, list | tuple):
            words.extend(_unpack_list(key, value, parsing))
        else:
            words.append(f"--{key} {value}")
    return " ".join(w for w in words if w)


def _unpack_list(
    key: str, values: list[Any] | tuple[Any, ...], parsing: ParsingConfig
) -> list[str]:
    items: list[str] = []
    for item in values:
        if isinstance(item, list | tuple | Mapping):
            raise ExpressionError(f"Cannot interpolate nested iterable in '{key}'")
        items.append(_quote(item) if isinstance(item, str) else str(item))
    if not items:
        return []
    if parsing.list_style == "append":
        return [f"--{key} {item}" for item in items]
    return [f"--{key} " + " ".join(items)]


def _quote(word: str) -> str:
    """``shlex.quote`` (imported on first use: few pipelines interpolate dicts or lists)."""
    import shlex

    return shlex.quote(word)
