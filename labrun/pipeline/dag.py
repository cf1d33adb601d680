"""The stage graph: edges from a stage to the stages whose outputs it reads.

Built from plain dicts (no graph library). Node ids are indices into the
stage list, so iteration orders follow discovery order.

    >>> g = build_graph(root, stages)          # doctest: +SKIP
    >>> [stages[i].name for i in g.upstream_order([2])]      # doctest: +SKIP
    ['prep', 'featurize', 'train']
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Iterator, Sequence

from labrun.errors import GraphError
from labrun.pipeline.index import is_dvcfile_name
from labrun.pipeline.stage import Stage, relpath_in
from labrun.record import field, record

_INTERNAL_DIRS = {".git": ".git", ".dvc": ".dvc/"}


@record(frozen=False)
class Graph:
    """Stages plus ``deps[i]``: the ids of the stages stage ``i`` depends on (ordered)."""

    stages: Sequence[Stage]
    deps: list[list[int]]
    rdeps: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.rdeps:
            self.rdeps = [[] for _ in self.stages]
            for i, targets in enumerate(self.deps):
                for j in targets:
                    self.rdeps[j].append(i)

    def without_frozen_edges(self) -> Graph:
        """The planning graph: a frozen stage does not pull in its upstream."""
        deps = [[] if s.frozen else list(d) for s, d in zip(self.stages, self.deps, strict=True)]
        return Graph(self.stages, deps)

    def upstream_order(self, targets: Iterable[int]) -> list[int]:
        """Targets and everything they depend on, dependencies first (post-order DFS)."""
        return _postorder(targets, self.deps)

    def downstream(self, targets: Iterable[int]) -> set[int]:
        """Targets and every stage that (transitively) depends on them."""
        return _reachable(targets, self.rdeps)

    def component(self, targets: Iterable[int]) -> set[int]:
        """The weakly connected components (pipelines) containing the targets."""
        both = [d + r for d, r in zip(self.deps, self.rdeps, strict=True)]
        return _reachable(targets, both)

    def order(self, selected: set[int]) -> list[int]:
        """The selected stages, dependencies first, in discovery order otherwise."""
        sub = [[j for j in self.deps[i] if j in selected] for i in range(len(self.stages))]
        return [i for i in _postorder(sorted(selected), sub) if i in selected]

    def edges(self) -> list[tuple[int, int]]:
        """All (stage, dependency) pairs in discovery order."""
        return [(i, j) for i, targets in enumerate(self.deps) for j in targets]

    def components(self) -> list[list[int]]:
        """Every pipeline (weakly connected component), ordered by its first stage."""
        seen: set[int] = set()
        out: list[list[int]] = []
        for i in range(len(self.stages)):
            if i not in seen:
                comp = self.component([i])
                seen |= comp
                out.append(sorted(comp))
        return out


def _postorder(roots: Iterable[int], adjacency: list[list[int]]) -> list[int]:
    order: list[int] = []
    done: set[int] = set()
    for root in roots:
        if root in done:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        done.add(root)
        while stack:
            node, pos = stack[-1]
            if pos < len(adjacency[node]):
                stack[-1] = (node, pos + 1)
                nxt = adjacency[node][pos]
                if nxt not in done:
                    done.add(nxt)
                    stack.append((nxt, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def _reachable(roots: Iterable[int], adjacency: list[list[int]]) -> set[int]:
    seen = set(roots)
    todo = list(seen)
    while todo:
        for nxt in adjacency[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class _OutRef:
    """An output of a stage (a plain class: a graph makes one per output)."""

    __slots__ = ("def_path", "path", "stage")

    def __init__(self, path: str, stage: int, def_path: str) -> None:
        self.path = path  # absolute, normalised
        self.stage = stage
        self.def_path = def_path


Explain = Callable[[str], str | None]  # project-relative path → "file:line:pattern" or None


def build_graph(
    root: str, stages: Sequence[Stage], cwd_rel: str = ".", explain: Explain | None = None
) -> Graph:
    """Check outputs and build the graph; GraphError for DVC's graph-level errors.

    Checks, in DVC's order: dvc files as deps/outs, outputs in `.git`/`.dvc`,
    outputs excluded by `.dvcignore` (``explain`` says which rule), duplicate
    outputs, overlapping outputs, then cycles.
    """
    paths = _Paths(root)
    if explain is not None:
        _check_not_ignored(paths, stages, explain)
    outs = _collect_outs(paths, stages, cwd_rel)
    by_path = {o.path: o for o in outs}
    _check_overlaps(outs, by_path, stages, root, cwd_rel)
    sorted_paths = sorted(by_path)
    producers: dict[str, list[int]] = {}  # a dep many stages share is looked up once
    deps: list[list[int]] = []
    for stage in stages:
        targets: list[int] = []
        for dep in (*stage.deps, *stage.params_paths()):
            path = paths.absolute(stage, dep)
            found = producers.get(path)
            if found is None:
                found = producers[path] = list(_producers(path, by_path, sorted_paths))
            for j in found:
                if j not in targets:
                    targets.append(j)
        deps.append(targets)
    graph = Graph(stages, deps)
    _check_cycles(graph, cwd_rel)
    return graph


class _Paths:
    """The absolute path of each (wdir, def path) pair, computed once per graph."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._absolute: dict[tuple[str, str], str] = {}
        self._relative: dict[str, str] = {}

    def absolute(self, stage: Stage, def_path: str) -> str:
        key = (stage.wdir, def_path)
        found = self._absolute.get(key)
        if found is None:
            found = self._absolute[key] = stage.abspath(self.root, def_path)
        return found

    def relative(self, path: str) -> str:
        """An absolute path relative to the root (`os.path.relpath`)."""
        found = self._relative.get(path)
        if found is None:
            found = self._relative[path] = relpath_in(path, self.root)
        return found


def _collect_outs(paths: _Paths, stages: Sequence[Stage], cwd_rel: str) -> list[_OutRef]:
    root = paths.root
    seen: dict[str, list[int]] = {}
    refs: list[_OutRef] = []
    for i, stage in enumerate(stages):
        for dep in stage.deps:
            if is_dvcfile_name(dep):
                raise GraphError(f"DVC file '{dep}' cannot be a dependency.")
        for out in stage.outs:
            if is_dvcfile_name(out.path):
                raise GraphError(f"DVC file '{out.path}' cannot be an output.")
            path = paths.absolute(stage, out.path)
            _check_internal(root, path, paths.relative(path))
            owners = seen.setdefault(path, [])
            owners.append(i)
            if len(owners) == 1:
                refs.append(_OutRef(path, i, out.path))
    for path, owners in seen.items():
        if len(owners) > 1:
            raise _duplicate_error(root, path, [stages[i] for i in owners], cwd_rel)
    return refs


def _check_not_ignored(paths: _Paths, stages: Sequence[Stage], explain: Explain) -> None:
    for stage in stages:
        for out in stage.outs:
            path = paths.absolute(stage, out.path)
            rel = paths.relative(path)
            if rel.startswith(".."):
                continue
            rule = explain(rel.replace(os.sep, "/"))
            if rule is not None:
                raise GraphError(
                    f"Path '{path}' is ignored by {rule}",
                    hint="an output cannot be hidden by .dvcignore: change the rule or the path",
                )


def _check_internal(root: str, path: str, rel: str) -> None:
    top = rel.split(os.sep, 1)[0]
    if top in _INTERNAL_DIRS:
        raise GraphError(
            f"Path '{path}' is ignored by :{_INTERNAL_DIRS[top]}",
            hint=f"outputs cannot live inside '{top}/'; choose another path",
        )


def _duplicate_error(root: str, path: str, owners: list[Stage], cwd_rel: str) -> GraphError:
    shown = os.path.relpath(path, os.path.join(root, cwd_rel))
    names = [s.addressing_from(cwd_rel) for s in owners]
    if len(set(names)) == 1:
        return GraphError(
            f"output '{shown}' is already specified in stage: '{names[0]}'.\n"
            f"Use `dvc remove {names[0]}` to stop tracking the overlapping output."
        )
    listing = "".join(f"\t- {n}\n" for n in names)
    return GraphError(
        f"output '{shown}' is specified in:\n{listing}"
        "Use `dvc remove` with any of the above targets to stop tracking the overlapping output."
    )


def _check_overlaps(
    outs: list[_OutRef], by_path: dict[str, _OutRef], stages: Sequence[Stage], root: str, cwd: str
) -> None:
    clear: set[str] = set()  # directories with no output in them or above them
    for ref in outs:
        walked: list[str] = []
        parent = os.path.dirname(ref.path)
        while parent and parent not in clear and parent != os.path.dirname(parent):
            walked.append(parent)
            outer = by_path.get(parent)
            if outer is not None:
                base = os.path.join(root, cwd)
                first = f"'{os.path.relpath(outer.path, base)}'"
                second = f"'{os.path.relpath(ref.path, base)}'"
                raise GraphError(
                    "The output paths:\n"
                    f"{first}('{stages[outer.stage].addressing_from(cwd)}')\n"
                    f"{second}('{stages[ref.stage].addressing_from(cwd)}')\n"
                    "overlap and are thus in the same tracked directory.\n"
                    "To keep reproducibility, outputs should be in separate tracked directories "
                    "or tracked individually."
                )
            parent = os.path.dirname(parent)
        clear.update(walked)


def _producers(dep: str, by_path: dict[str, _OutRef], sorted_paths: list[str]) -> Iterator[int]:
    """Stages whose output is the dep, contains it, or lies inside it."""
    path = dep
    while True:
        ref = by_path.get(path)
        if ref is not None:
            yield ref.stage
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    prefix = dep.rstrip(os.sep) + os.sep
    pos = bisect.bisect_left(sorted_paths, prefix)
    while pos < len(sorted_paths) and sorted_paths[pos].startswith(prefix):
        yield by_path[sorted_paths[pos]].stage
        pos += 1


def _check_cycles(graph: Graph, cwd_rel: str) -> None:
    for i, targets in enumerate(graph.deps):
        if i in targets:
            name = graph.stages[i].addressing_from(cwd_rel)
            raise GraphError(
                f"Same item(s) are defined as both a dependency and an output in stage: {name}."
            )
    cycle = _find_cycle(graph.deps)
    if cycle:
        names = ", ".join(graph.stages[i].addressing_from(cwd_rel) for i in sorted(cycle))
        raise GraphError(
            f"Same item(s) are defined as both a dependency and an output in stages: {names}."
        )


def _find_cycle(adjacency: list[list[int]]) -> list[int]:
    """The stages of one cycle, or [] (iterative three-colour DFS)."""
    state = [0] * len(adjacency)  # 0 new, 1 on stack, 2 done
    for start in range(len(adjacency)):
        if state[start]:
            continue
        stack: list[tuple[int, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node, pos = stack[-1]
            if pos < len(adjacency[node]):
                stack[-1] = (node, pos + 1)
                nxt = adjacency[node][pos]
                if state[nxt] == 1:
                    path = [n for n, _ in stack]
                    return path[path.index(nxt) :]
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                stack.pop()
    return []


def outputs_outside(root: str, stages: Sequence[Stage]) -> list[str]:
    """Def paths of cached outputs that lie outside the project (an error for repro)."""
    bad: list[str] = []
    for stage in stages:
        for out in stage.outs:
            rel = relpath_in(stage.abspath(root, out.path), root)
            if out.cache and (rel == ".." or rel.startswith(".." + os.sep)):
                bad.append(out.path)
    return bad
