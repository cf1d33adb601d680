"""A pure-Python reader for the plain YAML that dvc.yaml, dvc.lock and params files use.

Importing a YAML library costs a quarter of the start-up time of a command
such as `labrun stage list`, while the files those commands read use a small
part of YAML: block mappings and sequences, one-line scalars (plain and
quoted ones may go on over further lines, as ruamel.yaml writes long
values), one-line flow collections, literal and folded block scalars, and
comments. `load_simple` reads exactly that subset and raises `NotSimple` for
anything else, so that the caller hands the text to the full reader, which also
produces every error message. It never guesses: when a construct could mean two
things, or its indentation is unusual, it declines.

    >>> load_simple("stages:\\n  train:\\n    cmd: python t.py  # run\\n    deps: [a, 'b']\\n")
    {'stages': {'train': {'cmd': 'python t.py', 'deps': ['a', 'b']}}}
    >>> load_simple("a: &x 1\\n")
    Traceback (most recent call last):
    ...
    labrun.pipeline.yamlfast.NotSimple: indicator '&'

Plain scalars resolve with YAML 1.2 rules (`resolve_plain`), as ruamel.yaml's
safe loader, which DVC uses, resolves them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    import datetime as dt
    from typing import Any


class NotSimple(Exception):
    """The text uses YAML beyond the simple subset: read it with the full reader."""

    def __init__(self, reason: str = "the text uses YAML beyond the simple subset") -> None:
        super().__init__(reason)


class _MultiLine(NotSimple):
    """A quoted scalar goes on past the end of its first line."""


# --- YAML 1.2 scalar resolution (ruamel.yaml's safe loader semantics) -------------------

# Compiled on first use: most files never need them, and compiling costs start-up time.
_PATTERNS = {
    "float": r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?   # 1.5, 1., 1.5e3
         |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+                  # 1e3, 1e-05
         |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?                 # .5 (exponent needs a sign)
         |[-+]?\.(?:inf|Inf|INF)
         |\.(?:nan|NaN|NAN))$""",
    "int": r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$",
    # An implicit timestamp: a date needs two-digit month and day, a datetime does not.
    "timestamp": r"""^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}
         |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}
          (?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$""",
    "timestamp_parts": r"""^(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})
         (?:(?:[Tt]|[ \t]+)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})
          (?:\.(?P<fraction>[0-9]*))?
          (?:[ \t]*(?P<tz>Z|(?P<sign>[-+])(?P<tzh>[0-9]{1,2})(?::(?P<tzm>[0-9]{2}))?))?)?$""",
}
_COMPILED: dict[str, re.Pattern[str]] = {}


def _match(name: str, text: str) -> re.Match[str] | None:
    pattern = _COMPILED.get(name)
    if pattern is None:
        pattern = _COMPILED[name] = re.compile(_PATTERNS[name], re.X)
    return pattern.match(text)


_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_INF = float("inf")
_NAN = -_INF / _INF  # the NaN ruamel produces (sign bit set)


def _make_int(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits[1:] if digits[0] in "+-" else digits
    bases = {"0b": 2, "0x": 16, "0o": 8}
    base = bases.get(digits[:2])
    return sign * (int(digits[2:], base) if base else int(digits))


def _make_float(text: str) -> float:
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    digits = digits[1:] if digits[0] in "+-" else digits
    if digits == ".inf":
        return sign * _INF
    return _NAN if digits == ".nan" else sign * float(digits)


def _make_timestamp(text: str) -> dt.date | dt.datetime:
    import datetime as dt  # only files with unquoted dates pay for it

    match = _match("timestamp_parts", text)
    if match is None:
        raise ValueError(f"failed to construct timestamp from {text!r}")
    part = match.groupdict()
    year, month, day = int(part["year"]), int(part["month"]), int(part["day"])
    if part["hour"] is None:
        return dt.date(year, month, day)
    fraction = part["fraction"] or ""
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    micro += 1 if len(fraction) > 6 and int(fraction[6]) > 4 else 0
    tzinfo = None
    if part["sign"]:
        offset = dt.timedelta(hours=int(part["tzh"]), minutes=int(part["tzm"] or 0))
        tzinfo = dt.timezone(-offset if part["sign"] == "-" else offset, name=part["tz"])
    elif part["tz"] == "Z":
        tzinfo = dt.timezone(dt.timedelta(0), name="Z")
    clock = (int(part["hour"]), int(part["minute"]), int(part["second"]))
    if micro > 999999:  # rounding carried into the seconds
        return dt.datetime(year, month, day, *clock, 0, tzinfo) + dt.timedelta(seconds=1)
    return dt.datetime(year, month, day, *clock, micro, tzinfo)


def _is_decimal(text: str) -> bool:
    """`1.5` or `-0.25`: the common float, recognised without compiling a pattern."""
    whole, dot, fraction = text.partition(".")
    whole = whole[1:] if whole[:1] == "-" else whole
    return bool(dot) and whole.isdigit() and fraction.isdigit()


# Every character a number, `.inf`/`.nan` aside, or an implicit timestamp can hold.
_NUMERIC_CHARS = frozenset("0123456789_.eE+-:TtZ \t")


def plainly_text(text: str) -> bool:
    """True for a plain scalar that starts like a number but holds a character none has.

    Most such scalars are md5 digests (`73281bec...`): they need none of the
    patterns below, whose compiling costs more than reading a whole `dvc.lock`.

    >>> plainly_text("73281bec6debd623749bfd8a887ffa02"), plainly_text("1e-05")
    (True, False)
    """
    body = text[1:] if text[:1] in ("-", "+") else text
    if not body[:1].isdigit() or body[:2] in ("0x", "0o", "0b"):
        return False
    return not _NUMERIC_CHARS.issuperset(body)


def _number_or_str(text: str) -> Any:
    if text.isascii() and text.isdigit():
        return int(text)
    if text.isascii() and _is_decimal(text):
        return float(text)
    return text if plainly_text(text) else _by_patterns(text)


def _by_patterns(text: str) -> Any:
    if _match("float", text):
        return _make_float(text)
    if text[0] != "." and _match("int", text):
        return _make_int(text)
    if text[0].isdigit() and _match("timestamp", text):
        return _make_timestamp(text)
    return text


def _special(text: str) -> Any:
    if text in ("<<", "="):  # merge key and value indicator: the full reader handles them
        raise NotSimple(text)
    return text


def _keyword(table: Mapping[str, Any]) -> Callable[[str], Any]:
    return lambda text: table.get(text, text)


_NULL_TABLE: dict[str, Any] = dict.fromkeys(_NULLS)
_BY_FIRST_CHAR: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys("tTfF", _keyword(_BOOLS)),
    **dict.fromkeys("~nN", _keyword(_NULL_TABLE)),
    **dict.fromkeys("-+.0123456789", _number_or_str),
    "<": _special,
    "=": _special,
}


def resolve_plain(text: str) -> Any:
    """The YAML 1.2 value of an unquoted scalar.

    >>> [resolve_plain(s) for s in ["yes", "TRUE", "1e3", "0o17", "017", "~", "1_000"]]
    ['yes', True, 1000.0, 15, 17, None, 1000]
    """
    if not text:
        return None
    convert = _BY_FIRST_CHAR.get(text[0])
    return text if convert is None else convert(text)


# --- one-line scalars ---------------------------------------------------------------------

# Characters that cannot start a plain scalar ("-" can, when a non-space follows it).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_STOPS = frozenset(",[]{}:#")
_ESCAPES = {
    **{"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f"},
    **{"r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\"},
    **{"N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"},
}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _starts_plain(text: str) -> bool:
    return text[0] not in _INDICATORS or (text[0] == "-" and text[1:2] not in ("", " "))


def _plain(text: str) -> str:
    """The text of a plain scalar's first line in block context, up to its comment."""
    if not _starts_plain(text):
        raise NotSimple(f"indicator {text[0]!r}")
    cut = text.find(" #")
    text = (text if cut < 0 else text[:cut]).rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise NotSimple("mapping value in a scalar")
    return text


def _continuation(body: str) -> str:
    """A further line of a plain scalar (as ruamel writes long values), stripped."""
    text = body.rstrip(" ")
    if text[0] in _INDICATORS or ": " in text or text[-1] == ":" or " #" in text:
        raise NotSimple("continuation line")
    return text


def _closing_quote(text: str, begin: int) -> int:
    """The index of the `'` that ends a single-quoted scalar (-1: not on this line)."""
    while True:
        close = text.find("'", begin)
        if close < 0 or text[close + 1 : close + 2] != "'":
            return close
        begin = close + 2  # '' stands for '


def _single_quoted(text: str, start: int) -> tuple[str, int]:
    """The scalar quoted at `start` and the index after its closing quote."""
    close = _closing_quote(text, start + 1)
    if close < 0:
        raise _MultiLine()
    return text[start + 1 : close].replace("''", "'"), close + 1


def _escape(text: str, start: int) -> tuple[str, int]:
    code = text[start : start + 1]
    if code in _ESCAPES:
        return _ESCAPES[code], start + 1
    width = _HEX_WIDTH.get(code, 0)
    digits = text[start + 1 : start + 1 + width]
    if not width or len(digits) != width or not _HEX_DIGITS.issuperset(digits):
        raise NotSimple("escape")
    point = int(digits, 16)
    if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
        raise NotSimple("escape")
    return chr(point), start + 1 + width


def _double_quoted(text: str, start: int) -> tuple[str, int]:
    parts = []
    begin = start + 1
    while True:
        close = text.find('"', begin)
        if close < 0:
            raise _MultiLine()
        slash = text.find("\\", begin, close)
        if slash < 0:
            parts.append(text[begin:close])
            return "".join(parts), close + 1
        parts.append(text[begin:slash])
        char, begin = _escape(text, slash + 1)
        parts.append(char)


def _double_line(line: str) -> tuple[str, int]:
    """A line of a double-quoted scalar that spans lines: (its text, where it stops).

    It stops after the closing quote (the index returned), at the end of the line
    (-1: the text has lost its trailing spaces, which a line break folds away, but
    not its escaped ones) or at an escaped line break, a `\\` last (-2).
    """
    parts: list[str] = []
    begin = 0
    while True:
        stop = begin
        while stop < len(line) and line[stop] not in '"\\':
            stop += 1
        parts.append(line[begin:stop])
        if stop == len(line):
            parts[-1] = parts[-1].rstrip(" ")
            return "".join(parts), -1
        if line[stop] == '"':
            return "".join(parts), stop + 1
        if stop == len(line) - 1:
            return "".join(parts), -2
        char, begin = _escape(line, stop + 1)
        parts.append(char)


def _quoted(text: str, start: int) -> tuple[str, int]:
    if text[start] == "'":
        return _single_quoted(text, start)
    return _double_quoted(text, start)


def _check_tail(text: str, end: int) -> None:
    """After a quoted or flow scalar, only spaces and a comment may follow on the line."""
    rest = text[end:].lstrip(" ")
    if rest and (rest[0] != "#" or len(rest) == len(text) - end):
        raise NotSimple("text after a scalar")


# --- flow collections, on one line -------------------------------------------------------


def _spaces(text: str, start: int) -> int:
    while text[start : start + 1] == " ":
        start += 1
    return start


def _flow_scalar(text: str, start: int) -> tuple[Any, int, str]:
    """A scalar inside [...] or {...}: its value, the index of what follows, and that char."""
    if text[start : start + 1] in ("'", '"'):
        value, end = _quoted(text, start)
    else:
        end = start
        while end < len(text) and text[end] not in _FLOW_STOPS:
            end += 1
        raw = text[start:end].rstrip(" ")
        if not raw or not _starts_plain(raw):
            raise NotSimple("flow scalar")
        value = resolve_plain(raw)
    end = _spaces(text, end)
    return value, end, text[end : end + 1]


def _flow_node(text: str, start: int) -> tuple[Any, int, str]:
    """A scalar or collection inside [...] or {...}, as `_flow_scalar` returns it."""
    opener = text[start : start + 1]
    if opener not in ("[", "{"):
        return _flow_scalar(text, start)
    value, end = (_flow_sequence if opener == "[" else _flow_mapping)(text, start)
    end = _spaces(text, end)
    return value, end, text[end : end + 1]


def _flow_sequence(text: str, start: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    index = start + 1
    while True:
        index = _spaces(text, index)
        if text[index : index + 1] == "]":  # empty, or after a trailing comma
            return items, index + 1
        value, index, stop = _flow_node(text, index)
        items.append(value)
        if stop == "]":
            return items, index + 1
        if stop != ",":
            raise NotSimple("flow sequence")
        index += 1


def _flow_value(text: str, start: int) -> tuple[Any, int, str]:
    index = _spaces(text, start)
    stop = text[index : index + 1]
    if stop in (",", "}"):
        return None, index, stop
    return _flow_node(text, index)


def _flow_mapping(text: str, start: int) -> tuple[dict[Any, Any], int]:
    result: dict[Any, Any] = {}
    index = start + 1
    while True:
        index = _spaces(text, index)
        if text[index : index + 1] == "}":
            return result, index + 1
        key, index, stop = _flow_scalar(text, index)
        if stop != ":" or text[index + 1 : index + 2] != " " or key in result:
            raise NotSimple("flow mapping")
        result[key], index, stop = _flow_value(text, index + 1)
        if stop == "}":
            return result, index + 1
        if stop != ",":
            raise NotSimple("flow mapping")
        index += 1


# --- block scalars ------------------------------------------------------------------------


def _block_header(text: str) -> str:
    """The chomping indicator ('', '-' or '+') of a `|` or `>` header."""
    chomp = text[1:2] if text[1:2] in ("-", "+") else ""
    rest = text[1 + len(chomp) :]
    if rest and (rest[0] != " " or rest.lstrip(" ")[:1] not in ("", "#")):
        raise NotSimple("block scalar header")
    return chomp


def _fold(lines: list[str]) -> str:
    """Folded style: a line break between two lines becomes a space; empty lines stay."""
    if any(line[:1] == " " for line in lines):
        raise NotSimple("more-indented line in a folded scalar")
    out: list[str] = []
    empty = 0
    for line in lines:
        if not line:
            empty += 1
            continue
        out.append("\n" * empty if empty or not out else " ")
        out.append(line)
        empty = 0
    return "".join(out)


def _chomp(body: str, chomp: str, trailing: int) -> str:
    if chomp == "-":
        return body
    return body + "\n" * (1 + trailing) if chomp == "+" else body + "\n"


# --- block structure ----------------------------------------------------------------------


def _is_item(body: str) -> bool:
    return body[0] == "-" and body[1:2] in ("", " ")


def _quoted_entry(body: str) -> tuple[Any, str] | None:
    try:
        key, end = _quoted(body, 0)
    except _MultiLine:
        return None  # a scalar, which `_inline` reads
    after = body[end:].lstrip(" ")
    if after[:1] != ":" or after[1:2] not in ("", " "):
        return None
    if end > 1000:  # the limit of an implicit key
        raise NotSimple("long key")
    return key, after[1:].lstrip(" ")


def _entry(body: str) -> tuple[Any, str] | None:
    """`key: rest` → (key, rest), or None when the line is no mapping entry."""
    if body[0] in "'\"":
        return _quoted_entry(body)
    if not _starts_plain(body):
        return None
    colon = body.find(": ")
    if colon < 0:
        if body[-1] != ":":
            return None
        colon = len(body) - 1
    key = body[:colon]
    if " #" in key:
        return None
    if colon > 1000:  # the limit of an implicit key
        raise NotSimple("long key")
    return resolve_plain(key.rstrip(" ")), body[colon + 1 :].lstrip(" ")


class _Reader:
    """Block structure by indentation; a node parser returns (value, next line index)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.closed = self.lines[-1] == ""  # the last line ends with a line break
        if self.closed:
            self.lines.pop()

    def document(self) -> Any:
        index, indent, body = self._next(0)
        if not body:
            return None
        value, index = self._node(index, indent, body, -1)
        if self._next(index)[2]:
            raise NotSimple("content after the document")
        return value

    def _next(self, index: int) -> tuple[int, int, str]:
        """The first line from `index` that holds content: (index, indentation, content)."""
        lines = self.lines
        for number in range(index, len(lines)):
            line = lines[number]
            body = line.lstrip(" ")
            if body and body[0] != "#":
                return number, len(line) - len(body), body
        return len(lines), -1, ""

    def _node(self, index: int, column: int, body: str, parent: int) -> tuple[Any, int]:
        """The node starting at `column` of line `index` (whose text from there is `body`)."""
        if _is_item(body):
            return self._sequence(index, column, body)
        entry = _entry(body)
        if entry is not None:
            return self._mapping(index, column, entry)
        return self._inline(index, body, parent)

    def _nested(self, index: int, column: int, in_mapping: bool) -> tuple[Any, int]:
        """The value of a `key:` or `-` with nothing after it on the line."""
        found, indent, body = self._next(index)
        if indent > column:
            return self._node(found, indent, body, column)
        if in_mapping and indent == column and _is_item(body):  # an indentless sequence
            return self._sequence(found, column, body)
        return None, found

    def _mapping(self, index: int, column: int, entry: tuple[Any, str]) -> tuple[Any, int]:
        result: dict[Any, Any] = {}
        while True:
            key, rest = entry
            if key in result:
                raise NotSimple("duplicate key")
            if not rest or rest[0] == "#":
                result[key], index = self._nested(index + 1, column, True)
            else:
                result[key], index = self._inline(index, rest, column)
            index, indent, body = self._next(index)
            if indent != column:
                if indent > column:
                    raise NotSimple("indentation")
                return result, index
            found = _entry(body)
            if found is None:
                raise NotSimple("not a mapping entry")
            entry = found

    def _sequence(self, index: int, column: int, body: str) -> tuple[Any, int]:
        items: list[Any] = []
        while True:
            rest = body[1:].lstrip(" ")
            if not rest or rest[0] == "#":
                value, index = self._nested(index + 1, column, False)
            else:
                value, index = self._node(index, column + len(body) - len(rest), rest, column)
            items.append(value)
            index, indent, body = self._next(index)
            if indent != column or not _is_item(body):
                if indent > column:
                    raise NotSimple("indentation")
                return items, index

    def _inline(self, index: int, text: str, parent: int) -> tuple[Any, int]:
        """A scalar or flow collection starting in the line `index` (`text` is its start)."""
        first = text[0]
        if first in "|>":
            return self._block_scalar(index, text, parent)
        value: Any
        if first in "'\"":
            try:
                value, end = _quoted(text, 0)
            except _MultiLine:
                return self._quoted_lines(index, text, parent)
        elif first in "[{":
            value, end = (_flow_sequence if first == "[" else _flow_mapping)(text, 0)
        else:
            return self._plain_scalar(index, text, parent)
        _check_tail(text, end)
        return value, index + 1

    def _plain_scalar(self, index: int, text: str, parent: int) -> tuple[Any, int]:
        """A plain scalar; lines indented deeper than its parent continue it, folded."""
        parts = [_plain(text)]
        if parent < 0 or " #" in text:  # a comment ends the scalar
            return resolve_plain(parts[0]), index + 1
        lines, end, empty = self.lines, index + 1, 0
        for number in range(index + 1, len(lines)):
            line = lines[number]
            body = line.lstrip(" ")
            if not body:
                empty += 1
                continue
            if len(line) - len(body) <= parent or body[0] == "#":
                break
            parts += ["\n" * empty or " ", _continuation(body)]
            end, empty = number + 1, 0
        return resolve_plain("".join(parts)), end

    def _quoted_lines(self, index: int, text: str, parent: int) -> tuple[str, int]:
        """A quoted scalar over several lines (as ruamel writes long ones), folded."""
        if parent < 0:
            raise NotSimple("multi-line quoted scalar")
        if text[0] == '"':
            return self._double_lines(index, text, parent)
        parts, empty = [text[1:].rstrip(" ")], 0
        for number in range(index + 1, len(self.lines)):
            line = self.lines[number]
            body = line.lstrip(" ")
            if not body:
                empty += 1
                continue
            if len(line) - len(body) <= parent:
                break
            close = _closing_quote(body, 0)
            parts += ["\n" * empty or " ", body[:close] if close >= 0 else body.rstrip(" ")]
            if close >= 0:
                _check_tail(body, close + 1)
                return "".join(parts).replace("''", "'"), number + 1
            empty = 0
        raise NotSimple("multi-line quoted scalar")

    def _double_lines(self, index: int, text: str, parent: int) -> tuple[str, int]:
        """A double-quoted scalar over several lines (ruamel folds long ones), folded.

        A line break reads as a space (as many line feeds as empty lines follow it,
        if any); an escaped one (`\\` last on the line) as nothing.
        """
        value, stop = _double_line(text[1:])
        parts, empty = [value], 0
        for number in range(index + 1, len(self.lines)):
            line = self.lines[number]
            body = line.lstrip(" ")
            if not body or len(line) - len(body) <= parent:
                if body or stop == -2:
                    raise NotSimple("multi-line quoted scalar")
                empty += 1
                continue
            if stop == -1:
                parts.append("\n" * empty or " ")
            value, stop = _double_line(body)
            parts.append(value)
            empty = 0
            if stop >= 0:
                _check_tail(body, stop)
                return "".join(parts), number + 1
        raise NotSimple("multi-line quoted scalar")

    def _block_scalar(self, index: int, text: str, parent: int) -> tuple[str, int]:
        chomp = _block_header(text)
        lines, end = self._block_lines(index + 1, parent)
        trailing = 0
        while not lines[-1 - trailing]:  # the first line holds text: the loop stops
            trailing += 1
        content = lines[: len(lines) - trailing]
        body = _fold(content) if text[0] == ">" else "\n".join(content)
        return _chomp(body, chomp, trailing), end

    def _block_lines(self, start: int, parent: int) -> tuple[list[str], int]:
        """The lines of a block scalar without their indentation ('' for empty lines)."""
        lines = self.lines
        indent = self._text_indent(start)
        if indent <= max(parent, 0):
            raise NotSimple("empty block scalar")
        out: list[str] = []
        for number in range(start, len(lines)):
            line = lines[number]
            body = line.lstrip(" ")
            if not body and len(line) > indent:
                raise NotSimple("spaces beyond the indentation of a block scalar")
            if body and len(line) - len(body) < indent:
                return out, number
            out.append(line[indent:])
        if not self.closed:
            raise NotSimple("block scalar without a final line break")
        return out, len(lines)

    def _text_indent(self, start: int) -> int:
        """The indentation of the first line from `start` that is not all spaces."""
        for line in self.lines[start:]:
            body = line.lstrip(" ")
            if body:
                return len(line) - len(body)
        return -1


def read_key(body: str) -> tuple[Any, str] | None:
    """A block mapping entry `key: rest` → (key, rest); None when the line is no entry.

    >>> read_key("train: python t.py"), read_key("'a b':"), read_key("- x")
    (('train', 'python t.py'), ('a b', ''), None)
    """
    return _entry(body)


def read_scalar(text: str) -> Any:
    """The value of a scalar that ends on its line (the text after `key: ` or `- `).

    Only the line is read: the caller makes sure that no further line continues
    it. Flow collections, block scalars and multi-line quoted scalars raise NotSimple.

    >>> read_scalar("1e-05  # lr"), read_scalar("'it''s'"), read_scalar('"x: y"')
    (1e-05, "it's", 'x: y')
    """
    first = text[:1]
    if first in ("'", '"'):
        value, end = _quoted(text, 0)
        _check_tail(text, end)
        return value
    if not first or first in "[{|> ":
        raise NotSimple("not a one-line scalar")
    return resolve_plain(_plain(text))


def _document_marker(text: str) -> bool:
    return text.startswith(("---", "...")) or "\n---" in text or "\n..." in text


def is_simple_text(text: str) -> bool:
    """False when the characters or document markers of a text need the full reader.

    Tabs, NEL and the other characters libyaml and ruamel.yaml read differently are
    not printable; `---` and `...` lines start or end documents.

        >>> is_simple_text("a: 1\\n"), is_simple_text("a:\\tb\\n"), is_simple_text("---\\na: 1\\n")
        (True, False, False)
    """
    if text.isascii():  # the usual case, checked with one table lookup a byte
        printable = not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    else:
        printable = text.replace("\n", "").isprintable()
    return printable and not _document_marker(text)


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n"


def load_simple(text: str) -> Any:
    """The value of a YAML document that keeps to the simple subset (None when empty).

    Raises NotSimple for anything beyond it: tabs, anchors, aliases, tags,
    directives, document markers, multi-line flow scalars,
    duplicate or complex keys, control characters and any text the full reader
    would reject.

        >>> load_simple("lr: 0.01\\nflag: yes\\nsci: 1e-05\\nn: ~\\n")
        {'lr': 0.01, 'flag': 'yes', 'sci': 1e-05, 'n': None}
    """
    if not is_simple_text(text):
        raise NotSimple()
    try:
        return _Reader(text).document()
    except (ValueError, OverflowError, RecursionError) as exc:
        raise NotSimple(str(exc)) from None
