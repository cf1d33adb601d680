"""`exp show --json` output: cached rows copied as JSON text instead of decoded and re-encoded.

`show.collect_experiments(..., raw=True)` leaves each row read from the row
cache as a :class:`RawData`; :func:`dump_states` writes the states with that
text pasted in place, byte-identical to ``json.dumps`` of the decoded states.

    >>> states = [{"rev": "ab", "data": RawData("ab", None, '{"params": {}}')}]
    >>> dump_states(states)
    '[{"rev": "ab", "data": {"rev": "ab", "timestamp": null, "params": {}}}]'
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterator
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
        head = f'{{"rev": {json.dumps(self.rev)}, "timestamp": {json.dumps(self.stamp)}'
        body = self.text[1:]
        return head + (", " + body if body != "}" else "}")

    def as_dict(self) -> dict[str, Any]:
        """The ``data`` object as a dict."""
        data: dict[str, Any] = {"rev": self.rev, "timestamp": self.stamp}
        data.update(json.loads(self.text))
        return data


def stamp_of(data: Any) -> str | None:
    """The timestamp of a state's data (dict or RawData)."""
    if isinstance(data, RawData):
        return data.stamp
    return data["timestamp"] if data else None


def materialize(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The states with every RawData turned into its dict (in place; returned)."""
    for item in _all_states(states):
        if isinstance(item["data"], RawData):
            item["data"] = item["data"].as_dict()
    return states


def _all_states(states: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for baseline in states:
        yield baseline
        for exp_range in baseline.get("experiments") or []:
            yield from exp_range["revs"]


def dump_states(states: list[dict[str, Any]], indent: int | None = None) -> str:
    """`exp show --json` text: DVC's separators, cached rows copied as they are stored."""
    if indent is not None:
        return json.dumps(materialize(states), indent=indent)
    import os

    token = "\x00" + os.urandom(8).hex()  # cannot occur in Git names and labels
    texts: list[str] = []

    def placeholder(data: RawData) -> str:
        texts.append(data.to_json())
        return f"{token}{len(texts) - 1}"

    for item in _all_states(states):
        if isinstance(item["data"], RawData):  # a placeholder until the text is pasted
            item["data"] = placeholder(item["data"])
    encoded = json.dumps(states)
    marker = json.dumps(token)[1:-1]
    pattern = re.compile('"' + re.escape(marker) + r'(\d+)"')
    return pattern.sub(lambda m: texts[int(m.group(1))], encoded)
