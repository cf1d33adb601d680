"""Views of the graph for `dag`: stage labels or output labels, filtered by target.

Edges keep the graph's direction: ``(a, b)`` means *a depends on b*. Renderers
reverse them to draw data flow.

    >>> v = LabelGraph(["prep", "train"], [("train", "prep")])
    >>> sorted(v.upstream_of(["train"]))
    ['prep', 'train']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from labrun.pipeline.dag import Graph
from labrun.pipeline.stage import Stage
from labrun.record import record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any


@record
class LabelGraph:
    """Nodes (labels, in graph order) and (dependent, dependency) edges."""

    nodes: list[str]
    edges: list[tuple[str, str]]

    def upstream_of(self, targets: Iterable[str]) -> set[str]:
        """Targets plus everything they (transitively) depend on."""
        adjacency: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in self.edges:
            adjacency[a].append(b)
        return _reach(targets, adjacency)

    def components_of(self, targets: Iterable[str], keep: set[str]) -> set[str]:
        """Nodes weakly connected to a target, within ``keep``."""
        adjacency: dict[str, list[str]] = {n: [] for n in keep}
        for a, b in self.edges:
            if a in keep and b in keep:
                adjacency[a].append(b)
                adjacency[b].append(a)
        return _reach(targets, adjacency)

    def restricted(self, keep: set[str]) -> LabelGraph:
        """The subgraph on ``keep`` (orders preserved)."""
        return LabelGraph(
            [n for n in self.nodes if n in keep],
            [(a, b) for a, b in self.edges if a in keep and b in keep],
        )

    def components(self) -> list[list[str]]:
        """Weakly connected components, each in node order, ordered by first node."""
        seen: set[str] = set()
        out: list[list[str]] = []
        everything = set(self.nodes)
        for node in self.nodes:
            if node not in seen:
                comp = self.components_of([node], everything)
                seen |= comp
                out.append([n for n in self.nodes if n in comp])
        return out


def _reach(targets: Iterable[str], adjacency: dict[str, list[str]]) -> set[str]:
    seen = set(targets)
    todo = list(seen)
    while todo:
        for nxt in adjacency.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def stages_view(graph: Graph, cwd_rel: str) -> LabelGraph:
    """Stages labelled by their addressing from the cwd."""
    labels = [s.addressing_from(cwd_rel) for s in graph.stages]
    return LabelGraph(labels, [(labels[i], labels[j]) for i, j in graph.edges()])


def out_label(root: str, cwd_rel: str, stage: Stage, def_path: str) -> str:
    """An output as DVC prints it: relative to the cwd (absolute paths kept)."""
    if os.path.isabs(def_path):
        return def_path
    return os.path.relpath(stage.abspath(root, def_path), os.path.join(root, cwd_rel))


def outs_view(root: str, cwd_rel: str, graph: Graph) -> LabelGraph:
    """Outputs as nodes; an output depends on the outputs its stage reads."""
    labels = [[out_label(root, cwd_rel, s, o.path) for o in s.outs] for s in graph.stages]
    paths = [s.abspath(root, o.path) for s in graph.stages for o in s.outs]
    nodes = _trie_order(paths, [label for group in labels for label in group])
    edges: list[tuple[str, str]] = []
    for i in range(len(graph.stages)):
        wanted = _dep_outs(root, cwd_rel, graph, i)
        for label in labels[i]:
            edges.extend((label, other) for other in wanted)
    return LabelGraph(nodes, list(dict.fromkeys(edges)))


def _trie_order(paths: list[str], labels: list[str]) -> list[str]:
    """Labels in DVC's output-trie order: grouped by path prefix, first insertion first."""
    tree: dict[str, Any] = {}
    for path, label in zip(paths, labels, strict=True):
        node = tree
        for part in path.split(os.sep):
            if part:
                node = node.setdefault(part, {})
        node[""] = label  # "" is never a path component
    ordered: list[str] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if "" in node:
            ordered.append(node[""])
        todo.extend(reversed([child for key, child in node.items() if key]))
    return ordered


def _dep_outs(root: str, cwd_rel: str, graph: Graph, i: int) -> list[str]:
    stage = graph.stages[i]
    found: list[str] = []
    for dep in (*stage.deps, *stage.params_paths()):
        dep_path = stage.abspath(root, dep)
        for j in graph.deps[i]:
            producer = graph.stages[j]
            for out in producer.outs:
                out_path = producer.abspath(root, out.path)
                if _overlaps(dep_path, out_path):
                    found.append(out_label(root, cwd_rel, producer, out.path))
    return found


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + os.sep) or b.startswith(a + os.sep)


def select(view: LabelGraph, targets: Sequence[str], *, full: bool) -> LabelGraph:
    """What `dag TARGET` shows: the target's upstream (or, with full, its whole pipeline)."""
    keep = set(view.nodes) if full else view.upstream_of(targets)
    return view.restricted(view.components_of(targets, keep))
