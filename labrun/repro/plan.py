"""Which stages a repro evaluates, in which order (dependencies first).

    >>> plan = make_plan(index_stages, graph, targets, ReproOptions())   # doctest: +SKIP

Rules (DVC 3.67.1, repro.md 3): the default plan is every target and its
upstream, with edges out of frozen stages cut; `--downstream` takes the
targets and their dependents; `-p` whole pipelines; `-P` everything; `-s` the
targets alone, in target order, without a graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from labrun.pipeline.dag import Graph
from labrun.pipeline.stage import Stage
from labrun.record import record
from labrun.repro.options import ReproOptions


@record
class Plan:
    """Stages to evaluate in order, and for each one its dependencies within the plan."""

    stages: list[Stage]
    deps: list[list[int]]  # indices into ``stages``

    def dependents(self, i: int) -> set[int]:
        """Every planned stage that (transitively) depends on stage ``i``."""
        found: set[int] = set()
        todo = [i]
        while todo:
            current = todo.pop()
            for j, deps in enumerate(self.deps):
                if current in deps and j not in found:
                    found.add(j)
                    todo.append(j)
        return found


def make_plan(graph: Graph, targets: Sequence[Stage], opts: ReproOptions) -> Plan:
    """Order the stages to evaluate for these targets and options."""
    position = {(s.dvcfile, s.name): i for i, s in enumerate(graph.stages)}
    ids = list(dict.fromkeys(position[(s.dvcfile, s.name)] for s in targets))
    cut = graph.without_frozen_edges()
    if opts.all_pipelines:
        order = cut.order(set(range(len(graph.stages))))
    elif opts.pipeline:
        order = cut.order(graph.component(ids))
    elif opts.downstream:
        order = cut.order(cut.downstream(ids))
    else:
        order = cut.upstream_order(ids)
    return _plan_of(cut, order)


def single_item_plan(targets: Sequence[Stage]) -> Plan:
    """`-s`: the targets alone, in target order, no dependencies between them."""
    unique = list({(s.dvcfile, s.name): s for s in targets}.values())
    return Plan(unique, [[] for _ in unique])


def _plan_of(graph: Graph, order: list[int]) -> Plan:
    index = {node: i for i, node in enumerate(order)}
    deps = [[index[d] for d in graph.deps[node] if d in index] for node in order]
    return Plan([graph.stages[n] for n in order], deps)
