"""Text renderings: plain tables and graphs (mermaid, dot, ASCII).

>>> print(table([("prep", "Prepare data"), ("train@a", "Outputs m.bin")]))
prep     Prepare data
train@a  Outputs m.bin
"""

from __future__ import annotations

import json
from collections.abc import Sequence

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    from typing import Any

    from labrun.api import LabelGraph

ELLIPSIS = "…"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing spaces."""
    if not rows:
        return ""
    widths = [max(width(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def width(text: str) -> int:
    """Columns a string takes on a terminal (wide East Asian characters count two)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def truncate(text: str, width: int = 80) -> str:
    """Cut text to ``width`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def mermaid(view: LabelGraph, *, markdown: bool = False) -> str:
    """`dag --mermaid`: per pipeline, sorted node labels, then sorted data-flow edges."""
    lines = ["flowchart TD"]
    count = 0
    for comp in view.components():
        ids: dict[str, str] = {}
        for label in sorted(comp):
            count += 1
            ids[label] = f"node{count}"
            lines.append(f'\t{ids[label]}["{label}"]')
        members = set(comp)
        flows = sorted((b, a) for a, b in view.edges if a in members)
        lines.extend(f"\t{ids[a]}-->{ids[b]}" for a, b in flows)
    text = "\n".join(lines)
    return f"```mermaid\n{text}\n```" if markdown else text


def dot(view: LabelGraph) -> str:
    """`dag --dot`: nodes in graph order, then data-flow edges grouped by source node."""
    lines = ["strict digraph {"]
    lines.extend(f"{_quote(n)};" for n in view.nodes)
    flows: dict[str, list[str]] = {n: [] for n in view.nodes}
    for a, b in view.edges:
        flows[b].append(a)
    for node in view.nodes:
        lines.extend(f"{_quote(node)} -> {_quote(dep)};" for dep in flows[node])
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(label: str) -> str:
    if label.startswith('"') and label.endswith('"'):
        return label
    return f'"{label}"'


def ascii_graph(view: LabelGraph) -> str:
    """A layered drawing: each pipeline, its stages by depth, arrows from inputs."""
    blocks = [_ascii_component(view, comp) for comp in view.components()]
    return "\n".join(blocks)


def _ascii_component(view: LabelGraph, comp: list[str]) -> str:
    members = set(comp)
    deps = {n: [b for a, b in view.edges if a == n and b in members] for n in comp}
    depth: dict[str, int] = {}

    def level(node: str, trail: frozenset[str] = frozenset()) -> int:
        if node not in depth:
            parents = [p for p in deps[node] if p not in trail]
            depth[node] = 1 + max((level(p, trail | {node}) for p in parents), default=-1)
        return depth[node]

    for node in comp:
        level(node)
    lines: list[str] = []
    for lvl in range(max(depth.values()) + 1):
        row = [n for n in comp if depth[n] == lvl]
        if lvl:
            arrows = [f"{', '.join(deps[n]) or '-'} -> {n}" for n in row]
            lines.extend(f"    {a}" for a in arrows)
        box = "   ".join(f"+{'-' * (len(n) + 2)}+" for n in row)
        lines.extend([box, "   ".join(f"| {n} |" for n in row), box])
    return "\n".join(lines)


def to_json(data: Any) -> str:
    """Indented JSON (what `--json` prints)."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def join_words(words: list[str]) -> str:
    """`a, b and c`, as DVC writes lists in messages.

    >>> join_words(["'a'", "'b'", "'c'"])
    "'a', 'b' and 'c'"
    """
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
