"""A fast reader for `dvc.lock` files in the layout DVC writes, in front of the full reader.

Reading a 500-stage lock file the general way (YAML, then the schema, then
splitting it into entries) took about as long as all the rest of a no-op
`status`. DVC always writes the file the same way: `schema: '2.0'`, `stages:`,
then per stage `cmd` on one line and its `deps`, `params` and `outs` in block
style, every record `path`, `hash`, `md5`, `size` (+ `nfiles`, `isexec`) one
scalar a line. :func:`read_lock` reads exactly that, checking each value with
the schema's own rules as it goes: one regular expression takes a whole usual
entry, another each of its dependency and output records.

An entry it cannot follow line by line (a folded command, nested params, a
`files` list...) is read on its own by `yamlfast.load_simple` and checked
against the schema's stage rule. Anything else (another layout, comments, an
invalid value, a top-level key after `stages`) makes it return None: the caller
then reads the file the reference way (`LockFile.from_text_reference`), which
also writes every error message. Both give the same values, which
`tests/unit/test_lockfast.py` checks on the same inputs.

    >>> text = (
    ...     "schema: '2.0'\\nstages:\\n  train:\\n    cmd: python t.py\\n    outs:\\n"
    ...     "    - path: model.pkl\\n      hash: md5\\n"
    ...     "      md5: 0f723ae7f9bf07744445e93ac5595156\\n      size: 14\\n"
    ... )
    >>> stages, texts = read_lock(text)
    >>> stages["train"]["outs"][0]["size"], texts["train"].splitlines()[0]
    (14, '  train:')
    >>> read_lock("schema: '2.0'\\nstages:\\n  a:\\n    cmd: x  # with a comment\\n\\n# end\\n")
"""

from __future__ import annotations

import re

from labrun.pipeline import schema
from labrun.pipeline.yamlfast import (
    NotSimple,
    is_simple_text,
    load_simple,
    read_key,
    read_scalar,
    resolve_plain,
)

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

HEADER = "schema: '2.0'\nstages:\n"

# Where the entry starting at a position ends: at the next line indented by exactly two
# spaces (the next stage) or not at all (a top-level key such as `datasets`).
_ENTRY_END = re.compile(r"\n(?=  [^ \-\n]|[^ \n])")

# A dependency or output record exactly as DVC 3 writes it. The path and the md5 each
# have two groups: the first takes the usual text, whose value is that text as it is
# (a path that starts with a letter, `_` or `/` and has no space, `:` or `#`; 32 hex
# digits, maybe `.dir`, with a letter other than `b` and `e`, so that YAML cannot read
# them as a number); the second anything else, which `read_scalar` reads and the
# schema's rules then check.
_RECORD = re.compile(
    r"    - path: (?:([A-Za-z_/][^\n:# ]*)|([^\n]*))\n"
    r"      hash: md5\n"
    r"      md5: (?:((?=[0-9a-f]{0,31}[acdf])[0-9a-f]{32}(?:\.dir)?)|([^\n]*))\n"
    r"      size: ([0-9]+)\n"
    r"(?:      nfiles: ([0-9]+)\n)?"
    r"(?:      (isexec): true\n)?"
)

# The commonest entry: `cmd` on one line, then `deps` and `outs` blocks (no params).
# The blocks are only delimited here; `_records` then reads them.
_BLOCK = r"((?:    - [^\n]*\n(?:      [^\n]*\n)*)+)"
_USUAL_ENTRY = re.compile(
    rf"  [^\n]*\n    cmd: ([^\n]*)\n(?:    deps:\n{_BLOCK})?(?:    outs:\n{_BLOCK})?"
)

# The record keys whose value is one scalar, with the schema's rule for each.
_SCALAR_FIELDS = {
    key: node
    for key, node in schema.LOCK_DATA.fields.items()
    if isinstance(node, type | schema.Check)
}

Entries = dict[str, dict[str, "Any"]]


def _accepts(node: Any, value: Any) -> bool:
    """The schema's verdict on a scalar (`node` is a type or a Check)."""
    if isinstance(node, schema.Check):
        return bool(node.test(value))
    return isinstance(value, node)


def read_lock(text: str) -> tuple[Entries, dict[str, str]] | None:
    """The stage entries of a lock file in DVC's layout and each entry's text, else None.

    The values are those `files.parse_yaml` gives, and every entry is valid for
    `schema.validate_lockfile`; None means "read it the reference way".
    """
    if not text.startswith(HEADER) or len(text) == len(HEADER) or text[-1] != "\n":
        return None
    if not is_simple_text(text):
        return None
    try:
        return _LockReader(text).read()
    except (NotSimple, ValueError, OverflowError, RecursionError):
        return None


class _LockReader:
    """Positions in the text; every method raises NotSimple when the layout is unusual."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self) -> tuple[Entries, dict[str, str]]:
        text = self.text
        stages: Entries = {}
        texts: dict[str, str] = {}
        pos = len(HEADER)
        while pos < len(text):
            found = _ENTRY_END.search(text, pos)
            end = len(text) if found is None else found.start() + 1
            if text[end : end + 1] not in ("", " "):
                raise NotSimple("a top-level key after the stages")
            name, entry = self._entry(pos, end)
            if name in stages:
                raise NotSimple("duplicate stage")
            stages[name] = entry
            texts[name] = text[pos:end]
            pos = end
        return stages, texts

    def _entry(self, pos: int, end: int) -> tuple[str, dict[str, Any]]:
        """The stage whose key line starts at `pos` (its entry ends at `end`)."""
        text = self.text
        if text[pos : pos + 2] != "  " or text[pos + 2 : pos + 3] in (" ", "-", "\n"):
            raise NotSimple("stage key")
        line_end = text.index("\n", pos)
        key = read_key(text[pos + 2 : line_end])
        if key is None or key[1] or not isinstance(key[0], str):
            raise NotSimple("stage key")
        usual = _USUAL_ENTRY.match(text, pos)
        if usual is not None and usual.end() == end:
            try:
                return key[0], self._usual(usual)
            except NotSimple:
                pass
        try:
            return key[0], self._fields(line_end + 1, end)
        except NotSimple:
            return key[0], self._generic(key[0], pos, end)

    def _usual(self, found: re.Match[str]) -> dict[str, Any]:
        """The entry `_USUAL_ENTRY` matched: its command, then its records."""
        entry: dict[str, Any] = {"cmd": read_scalar(found[1])}
        if not isinstance(entry["cmd"], str):
            raise NotSimple("cmd")
        for key, group in (("deps", 2), ("outs", 3)):
            start, end = found.span(group)
            if start >= 0:
                entry[key], stop = self._records(start, end)
                if stop != end:
                    raise NotSimple("records")
        return entry

    def _generic(self, name: str, pos: int, end: int) -> dict[str, Any]:
        """An entry in another layout: the simple YAML reader, then the schema."""
        data = load_simple("stages:\n" + self.text[pos:end])
        stages = data.get("stages") if isinstance(data, dict) else None
        if not isinstance(stages, dict) or list(stages) != [name]:
            raise NotSimple("entry")
        entry: dict[str, Any] = stages[name]
        if schema.check(schema.LOCK_STAGE, entry, ("stages", name)):
            raise NotSimple("invalid entry")  # the reference path words the error
        return entry

    def _fields(self, pos: int, end: int) -> dict[str, Any]:
        """`cmd` on one line, then `deps`, `params` and `outs` in block style."""
        text = self.text
        entry: dict[str, Any] = {}
        while pos < end:
            line_end = text.index("\n", pos)
            if text[pos : pos + 4] != "    " or text[pos + 4 : pos + 5] in (" ", "-", "\n"):
                raise NotSimple("entry layout")
            key, _, rest = text[pos + 4 : line_end].partition(":")
            if key in entry:
                raise NotSimple("duplicate key")
            if key == "cmd" and rest[:1] == " ":
                entry[key] = read_scalar(rest[1:])
                if not isinstance(entry[key], str):
                    raise NotSimple("cmd")
                pos = line_end + 1
            elif rest:
                raise NotSimple("entry key")
            elif key in ("deps", "outs"):
                entry[key], pos = self._records(line_end + 1, end)
            elif key == "params":
                entry[key], pos = self._params(line_end + 1, end)
            else:
                raise NotSimple("entry key")
        if "cmd" not in entry:
            raise NotSimple("no cmd")
        return entry

    def _records(self, pos: int, end: int) -> tuple[list[dict[str, Any]], int]:
        text = self.text
        records: list[dict[str, Any]] = []
        while pos < end and text.startswith("    - ", pos):
            found = _RECORD.match(text, pos)
            if found is not None and not text.startswith("      ", found.end()):
                records.append(_matched_record(found))
                pos = found.end()
            else:
                record, pos = self._record_lines(pos, end)
                records.append(record)
        if not records:
            raise NotSimple("empty list")
        return records, pos

    def _record_lines(self, pos: int, end: int) -> tuple[dict[str, Any], int]:
        """A record in another key order or with other keys: one `key: scalar` a line."""
        text = self.text
        record: dict[str, Any] = {}
        while True:
            line_end = text.index("\n", pos)
            key, sep, rest = text[pos + 6 : line_end].partition(": ")
            node = _SCALAR_FIELDS.get(key)
            if not sep or node is None or key in record:
                raise NotSimple("record key")
            record[key] = read_scalar(rest)
            if not _accepts(node, record[key]):
                raise NotSimple("record value")
            pos = line_end + 1
            if not (pos < end and _is_key_line(text, pos, 6)):
                break
        if "path" not in record:
            raise NotSimple("record without path")
        return record, pos

    def _params(self, pos: int, end: int) -> tuple[dict[str, dict[str, Any]], int]:
        """Params files, each with one `key: scalar` a line (nested values: NotSimple)."""
        text = self.text
        params: dict[str, dict[str, Any]] = {}
        while pos < end and _is_key_line(text, pos, 6):
            line_end = text.index("\n", pos)
            path = read_key(text[pos + 6 : line_end])
            if path is None or path[1] or not isinstance(path[0], str) or path[0] in params:
                raise NotSimple("params file")
            params[path[0]], pos = self._values(line_end + 1, end)
        if not params:
            raise NotSimple("empty params")
        return params, pos

    def _values(self, pos: int, end: int) -> tuple[dict[str, Any], int]:
        text = self.text
        values: dict[str, Any] = {}
        while pos < end and _is_key_line(text, pos, 8):
            line_end = text.index("\n", pos)
            found = read_key(text[pos + 8 : line_end])
            if found is None or not found[1] or not isinstance(found[0], str):
                raise NotSimple("param")
            if found[0] in values:
                raise NotSimple("duplicate param")
            values[found[0]] = read_scalar(found[1])
            pos = line_end + 1
        if not values:
            raise NotSimple("no params")
        return values, pos


def _is_key_line(text: str, pos: int, indent: int) -> bool:
    """The line at `pos` is indented by exactly `indent` spaces and is no list item."""
    return text.startswith(" " * indent, pos) and text[pos + indent : pos + indent + 1] not in (
        " ",
        "-",
        "\n",
    )


def _matched_record(found: re.Match[str]) -> dict[str, Any]:
    path_text, other_path, md5, other_md5, size, nfiles, isexec = found.groups()
    # a usual path resolves to itself unless it is a keyword such as `true` or `null`
    path = resolve_plain(path_text) if other_path is None else read_scalar(other_path)
    if md5 is None:
        md5 = read_scalar(other_md5)
        if not _accepts(_SCALAR_FIELDS["md5"], md5):
            raise NotSimple("record value")
    if not isinstance(path, str):
        raise NotSimple("record value")
    record: dict[str, Any] = {"path": path, "hash": "md5", "md5": md5, "size": int(size)}
    if nfiles is not None:
        record["nfiles"] = int(nfiles)
    if isexec is not None:
        record["isexec"] = True
    return record
