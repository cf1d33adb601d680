"""`exp show --json` output: cached rows copied as JSON text instead of decoded and re-encoded.

`show.collect_experiments(..., raw=True)` leaves each row read from the row
cache as a :class:`RawData`, and writes each plain finished experiment (one
with no executor and no error) straight away as a :class:`RawJSON` item of its
baseline's ``experiments``. :func:`dump_states` writes the states with those
texts pasted in place, byte-identical to ``json.dumps`` of the decoded states.

    >>> states = [{"rev": "ab", "data": RawData("ab", None, '{"params": {}}')}]
    >>> dump_states(states)
    '[{"rev": "ab", "data": {"rev": "ab", "timestamp": null, "params": {}}}]'
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as quote  # what json.dumps does to a str

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any


class RawData:
    """A state's ``data`` whose body is still the JSON text of the row cache.

    `exp show --json` writes thousands of cached rows: copying their text costs
    far less than decoding it and encoding it again. :func:`dump_states` writes
    it in place; :func:`materialize` turns it into the plain dict.
    """

    __slots__ = ("rev", "stamp", "text")

    def __init__(self, rev: str, stamp: str | None, text: str) -> None:
        self.rev = rev
        self.stamp = stamp
        self.text = text

    def to_json(self) -> str:
        """The ``data`` object as JSON, identical to ``json.dumps`` of the dict."""
        stamp = "null" if self.stamp is None else quote(self.stamp)
        head = f'{{"rev": {quote(self.rev)}, "timestamp": {stamp}'
        body = self.text[1:]
        return head + (", " + body if body != "}" else "}")

    def as_dict(self) -> dict[str, Any]:
        """The ``data`` object as a dict."""
        data: dict[str, Any] = {"rev": self.rev, "timestamp": self.stamp}
        data.update(json.loads(self.text))
        return data


class RawJSON:
    """An item of a baseline's ``experiments`` already written as JSON text.

    ``key`` is what ranges are sorted by (see `show.py`).
    """

    __slots__ = ("key", "text")

    def __init__(self, text: str, key: tuple[str, str] = ("", "")) -> None:
        self.text = text
        self.key = key

    def as_dict(self) -> dict[str, Any]:
        """The item as a dict."""
        found: dict[str, Any] = json.loads(self.text)
        return found


def state_text(rev: str, name: str | None, stamp: str | None, row: str) -> str:
    """A state with no error and no experiments as JSON, equal to ``json.dumps`` of its dict.

    ``row`` is the row's JSON text (as the row cache keeps it).

    >>> text = state_text("ab", "exp-1", "2020", '{"meta": {}}')
    >>> text[:60]
    '{"rev": "ab", "name": "exp-1", "data": {"rev": "ab", "timest'
    >>> json.loads(text)["data"], text.endswith('"error": null, "experiments": null}')
    ({'rev': 'ab', 'timestamp': '2020', 'meta': {}}, True)
    """
    rev_text = quote(rev)
    shown = "null" if name is None else quote(name)
    when = "null" if stamp is None else quote(stamp)
    body = row[1:]
    return (
        f'{{"rev": {rev_text}, "name": {shown}, "data": {{"rev": {rev_text}, "timestamp": {when}'
        f'{", " + body if body != "}" else "}"}, "error": null, "experiments": null}}'
    )


def range_text(states: list[str], name: str | None) -> str:
    """A range of states (JSON texts) with no executor, as JSON."""
    shown = "null" if name is None else quote(name)
    return f'{{"revs": [{", ".join(states)}], "executor": null, "name": {shown}}}'


def stamp_of(data: Any) -> str | None:
    """The timestamp of a state's data (dict or RawData)."""
    if isinstance(data, RawData):
        return data.stamp
    return data["timestamp"] if data else None


def materialize(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The states with every RawData and RawJSON turned into plain values (in place; returned)."""
    for baseline in states:
        items = baseline.get("experiments")
        if items:
            baseline["experiments"] = [
                item.as_dict() if isinstance(item, RawJSON) else item for item in items
            ]
    for item in _all_states(states):
        if isinstance(item["data"], RawData):
            item["data"] = item["data"].as_dict()
    return states


def _all_states(states: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for baseline in states:
        yield baseline
        for exp_range in baseline.get("experiments") or []:
            if not isinstance(exp_range, RawJSON):
                yield from exp_range["revs"]


def dump_states(states: list[dict[str, Any]], indent: int | None = None) -> str:
    """`exp show --json` text: DVC's separators, cached rows copied as they are stored."""
    if indent is not None:
        return json.dumps(materialize(states), indent=indent)
    out: list[str] = []  # joined once: the text may be megabytes, copying it again costs
    _list(out, states, _state_json)
    return "".join(out)


def _list(out: list[str], items: list[Any], write: Callable[[list[str], Any], None]) -> None:
    out.append("[")
    for i, item in enumerate(items):
        if i:
            out.append(", ")
        write(out, item)
    out.append("]")


def _state_json(out: list[str], state: dict[str, Any]) -> None:
    out.append("{")
    for i, (key, value) in enumerate(state.items()):
        out.append(f"{', ' if i else ''}{json.dumps(key)}: ")
        if isinstance(value, RawData):
            out.append(value.to_json())
        elif key == "experiments" and value is not None:
            _list(out, value, _range_json)
        else:
            out.append(json.dumps(value))
    out.append("}")


def _range_json(out: list[str], item: Any) -> None:
    if isinstance(item, RawJSON):
        out.append(item.text)
        return
    out.append("{")
    for i, (key, value) in enumerate(item.items()):
        out.append(f"{', ' if i else ''}{json.dumps(key)}: ")
        if key == "revs":
            _list(out, value, _state_json)
        else:
            out.append(json.dumps(value))
    out.append("}")
