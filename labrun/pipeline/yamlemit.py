"""A fast writer for the plain YAML of lock entries, run-cache entries and `.dvc` files.

DVC writes these files with ruamel.yaml's round-trip dumper, which is pure
Python, very general, and costs milliseconds per dump and a heavy import.
`dump_simple` writes the same bytes for the values these files hold: dicts
with string keys, lists, and str/int/float/bool/None scalars, in block style.
Whenever it is not sure to match ruamel byte for byte, it declines (returns
None) and the caller dumps with ruamel, the reference, instead. It declines on:

- anything that is not exactly one of those types (subclasses, tuples, dates),
  a root that is not a dict, a container seen twice (ruamel writes an anchor);
- a single-quoted string that would cross column 80 (plain and double-quoted ones
  are folded as ruamel folds them);
- a key that is not a plain scalar, or that would cross column 80 (ruamel
  breaks such a key across lines if it holds spaces, and writes `? key` from
  123 characters on);
- a list directly inside a list;
- a string holding a control character, a line break, a tab or a character
  ruamel escapes, or a non-ASCII one that would need double quotes.

    >>> print(dump_simple({"cmd": "cat a > b", "deps": [{"path": "a", "size": 13}],
    ...                    "params": {"params.yaml": {"lr": 1e-05, "s": "yes", "n": "1"}}}))
    cmd: cat a > b
    deps:
    - path: a
      size: 13
    params:
      params.yaml:
        lr: 1e-05
        s: yes
        n: '1'
    <BLANKLINE>
    >>> dump_simple({"msg": "two\\nlines"}) is None
    True
"""

from __future__ import annotations

import math
import re
from functools import cache

from labrun.pipeline.yamlfast import plainly_text

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

_WIDTH = 80  # ruamel's default line width: longer plain or quoted scalars are folded


class _Decline(Exception):
    """The value needs something the fast writer leaves to ruamel."""


# A word that is plain unless it is one of _KEYWORDS: no indicator, space or digit first.
_WORD = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")

# Characters that, first in a scalar, make it unusable as a plain scalar.
_LEADING_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")

# Plain text that YAML 1.2 (ruamel's resolver) reads as a number or a timestamp:
# such strings must be quoted. Written to match ruamel's implicit resolvers exactly,
# underscores and all (`1_000` is an int, `.5` a float, `2020-1-1` a string).
_NUMBER_OR_TIME = r"""[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?    # 1.5  1.  1.5e3
             |[0-9][0-9_]*[eE][-+]?[0-9]+                   # 1e3  1e-05
             |\.[0-9_]+(?:[eE][-+][0-9]+)?                  # .5   .5e+3
             |\.(?:inf|Inf|INF)
             |0b[01_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)  # ints: 0b1  0o17  017  1_000
       |\.(?:nan|NaN|NAN)
       |[0-9]{4}-[0-9]{2}-[0-9]{2}                          # a date
       |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)       # a date and time
        [0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"""
_KEYWORDS = frozenset(
    ["true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~", "<<", "="]
)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """Patterns are compiled on first use: compiling costs start-up time."""
    return re.compile(pattern, re.X)


def _reads_as_other(text: str) -> bool:
    """Whether `text`, written plain, would be read back as something else than a string."""
    if text[0] in "-+.0123456789":
        if plainly_text(text):
            return False
        return _compiled(_NUMBER_OR_TIME).fullmatch(text) is not None
    return text in _KEYWORDS


def _is_printable_char(char: str) -> bool:
    """Whether ruamel writes `char` as it is (in round-trip mode, which allows Unicode).

    It escapes control characters, the byte-order mark and unpaired surrogates, and
    treats NEL and the Unicode line and paragraph separators as line breaks.
    """
    if "\xa0" <= char <= "\ud7ff":
        return char not in "\u2028\u2029"
    if "\ue000" <= char <= "\ufffd":
        return char != "\ufeff"
    return " " <= char <= "~" or char >= "\U00010000"


def _is_printable(text: str) -> bool:
    if text.isascii():
        return text.isprintable()  # for ASCII: no control characters (tab, newline, DEL…)
    return all(_is_printable_char(char) for char in text)


def _is_plain(text: str) -> bool:
    """Whether ruamel writes a non-empty printable one-line string unquoted."""
    first = text[0]
    if first in _LEADING_INDICATORS or first == " " or text[-1] in " :":
        return False
    if first in "-?:" and text[1:2] in ("", " "):  # `- x`, `? x`, `: x` start structures
        return False
    if ": " in text or " #" in text or text.startswith(("---", "...")):
        return False
    return not _reads_as_other(text)


def _quote(text: str) -> str:
    """The quoted form ruamel picks: single quotes, or double ones if `'` is inside."""
    if "'" not in text:
        return f"'{text}'"
    if not text.isascii():  # double quotes escape some non-ASCII characters
        raise _Decline("non-ASCII text in double quotes")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _str_text(text: str) -> str:
    if _WORD.fullmatch(text) is not None and text not in _KEYWORDS:
        return text  # most keys and paths: the checks below would all pass
    if not text:
        return "''"
    if not _is_printable(text):
        raise _Decline("escapes or line breaks")
    return text if _is_plain(text) else _quote(text)


def _float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value).lower()  # `1e-05`, `1e+16`, `1000.0`: all read back as floats


_RUNS = "[ ]+|[^ ]+"  # runs of spaces and words (a verbose pattern: spaces in brackets)


def _fold_plain(text: str, column: int, indent: int) -> str:
    """A long plain scalar, starting at `column`, folded as ruamel folds it.

    A single space met at column 80 or beyond becomes a line break; a word that
    would cross column 80 starts a new line (unless it already starts one), and
    then the space before it stays at the end of the line. Continuation lines
    start at `indent`.
    """
    out: list[str] = []
    newline = "\n" + " " * indent
    for run in _compiled(_RUNS).findall(text):
        if run[0] == " ":
            if len(run) == 1 and column >= _WIDTH:
                out.append(newline)
                column = indent
                continue
        elif column + len(run) > _WIDTH and column > indent:
            out.append(newline)
            column = indent
        out.append(run)
        column += len(run)
    return "".join(out)


def _fold_double(text: str, column: int, indent: int) -> str:
    """A printable ASCII string in double quotes, from `column`, folded as ruamel folds it.

    `"` and `\\` are escaped. Where the line would pass column 80, at a space or
    right after an escape, the line ends (with a `\\` unless the break can stand
    for the space that follows) and goes on at `indent`.

        >>> print(_fold_double("say 'hi' " * 9, 5, 2))
        "say 'hi' say 'hi' say 'hi' say 'hi' say 'hi' say 'hi' say 'hi' say 'hi' say
          'hi' "
    """
    out = ['"']
    column += 1
    start, last = 0, len(text) - 1
    for end, char in enumerate(text):
        if char in '"\\':
            out += [text[start:end], "\\", char]
            column += end - start + 2
            start = end + 1
        if 0 < end < last and (char == " " or start >= end) and column + end - start > _WIDTH:
            backslash = _break_needs_backslash(text, start, end)
            piece = text[start:end] + ("\\" if backslash else "")
            out += [piece, "\n", " " * indent]
            column, start = indent, max(start, end)
            if text[start] == " ":
                if backslash:
                    out.append("\\")
                    column += 1
                else:
                    start += 1  # the line break reads back as this space
    out += [text[start:], '"']
    return "".join(out)


def _break_needs_backslash(text: str, start: int, end: int) -> bool:
    """Whether ruamel ends a double-quoted line broken at `end` with a `\\`.

    It leaves it out when the break can be read back as a space: the line breaks at
    a single space with text before it, and no quote comes before the next space,
    which must be followed by a non-space.
    """
    space = text.find(" ", end)
    if space < 0 or space + 1 >= len(text) or start == end:
        return True
    word = text[end:space]
    return '"' in word or "'" in word or text[space + 1] == " " or text[end - 1 : end + 1] == "  "


def _key_head(lead: str, key: Any) -> str:
    """`lead` and the key with its colon; the key must be plain and end by column 80."""
    if type(key) is not str or not key or len(lead) + len(key) > _WIDTH:
        raise _Decline("key")
    if _str_text(key) != key:  # quoted
        raise _Decline("key needs quotes")
    return lead + key + ":"


class _Writer:
    """Appends the lines of one document to `out`; raises _Decline when unsure."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()  # containers already written (a repeat is an alias)

    def enter(self, container: dict[Any, Any] | list[Any]) -> None:
        if id(container) in self.seen:
            raise _Decline("shared container")
        self.seen.add(id(container))

    def scalar_line(self, head: str, value: Any, indent: int) -> None:
        """`head` (`key: ` or `- `) and a scalar, its continuation lines (if any) at `indent`."""
        text = self.scalar(value)
        if len(head) + len(text) > _WIDTH:
            if text[0] == '"':
                text = _fold_double(value, len(head), indent)
            elif text[0] in "'[{":  # single-quoted or flow: left to ruamel
                raise _Decline("long quoted string")
            else:
                text = _fold_plain(text, len(head), indent)
        self.out.append(head + text + "\n")

    def scalar(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            return _str_text(value)
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return str(value)
        if kind is float:
            return _float_text(value)
        if (kind is list or kind is dict) and not value:  # empty: flow style
            self.enter(value)
            return "[]" if kind is list else "{}"
        raise _Decline(f"type {kind.__name__}")

    def mapping(self, data: dict[Any, Any], indent: int, lead: str) -> None:
        """Keys at column `indent`; the first line starts with `lead` (spaces or `- `)."""
        self.enter(data)
        pad = " " * indent
        for key, value in data.items():
            head = _key_head(lead, key)
            lead = pad
            kind = type(value)
            if kind is dict and value:
                self.out.append(head + "\n")
                self.mapping(value, indent + 2, " " * (indent + 2))
            elif kind is list and value:
                self.out.append(head + "\n")
                self.sequence(value, indent)  # not indented under its key
            elif value is None:
                self.out.append(head + "\n")
            else:
                self.scalar_line(head + " ", value, indent + 2)

    def sequence(self, items: list[Any], indent: int) -> None:
        self.enter(items)
        lead = " " * indent + "- "
        for item in items:
            kind = type(item)
            if kind is dict and item:
                self.mapping(item, indent + 2, lead)
            elif kind is list and item:
                raise _Decline("list in a list")
            elif item is None:
                self.out.append(lead + "\n")  # ruamel leaves the space after the dash
            else:
                self.scalar_line(lead, item, indent + 2)


def dump_simple(data: Any) -> str | None:
    """The YAML text ruamel's round-trip dumper writes for `data`, or None to decline.

    `data` must be a dict; see the module docstring for what is declined.

        >>> dump_simple({"outs": [{"md5": "3e2b31c72181b87149ff995e7202c0e3", "isexec": True}]})
        'outs:\\n- md5: 3e2b31c72181b87149ff995e7202c0e3\\n  isexec: true\\n'
    """
    if type(data) is not dict:
        return None
    if not data:
        return "{}\n"
    writer = _Writer()
    try:
        writer.mapping(data, 0, "")
    except _Decline:
        return None
    return "".join(writer.out)
