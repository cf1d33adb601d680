"""Run one labrun scenario once under cProfile and return the top of the statistics.

The command runs as the benchmark runs it (same project state after reset and
set-up, same environment), only with `python -m cProfile` in front of the
console script. The statistics are read by labrun's own interpreter.

    >>> pick_slowest([]) is None
    True
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.projects import template_key
from bench.report import summarise
from bench.scenarios import Scenario
from bench.session import Context, ScenarioResult, prepared_player
from bench.toolchain import LABRUN

_PRINT = (
    "import pstats,sys;s=pstats.Stats(sys.argv[1]).strip_dirs();"
    "s.sort_stats('cumulative').print_stats(int(sys.argv[2]));"
    "s.sort_stats('tottime').print_stats(int(sys.argv[2])//2)"
)


def pick_slowest(results: list[ScenarioResult]) -> ScenarioResult | None:
    """The scenario where labrun's median is largest (among those it supports)."""
    timed = [(summarise(r.outcomes["labrun"].samples), r) for r in results]
    ok = [(s.median, r.scenario.name, r) for s, r in timed if s is not None]
    return max(ok)[2] if ok else None


def profile(scenario: Scenario, ctx: Context, top: int = 30) -> str:
    """Profile labrun once on `scenario`; the text starts with the command profiled."""
    player = prepared_player(scenario, ctx, ctx.work / "profile")
    stats = ctx.work / "profile" / "labrun.prof"
    argv = [str(LABRUN.python), "-m", "cProfile", "-o", str(stats), *player.argv]
    subprocess.run(argv, cwd=player.dir, env=player.env, capture_output=True, check=False)
    if not stats.exists():
        return f"profiling `{scenario.name}` produced no statistics"
    shown = subprocess.run(
        [str(LABRUN.python), "-c", _PRINT, str(stats), str(top)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    project = template_key(scenario.project, ctx.settings.sizes)
    title = f"$ labrun {' '.join(scenario.labrun)}   # scenario {scenario.name}, in {project}\n"
    return title + _trim(shown.stdout)


def _trim(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith("   Ordered by"))


def save(text: str, path: Path) -> None:
    """Keep the full profile text next to the work files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
