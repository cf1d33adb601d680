"""Statistics over the timed runs, and the two reports: RESULTS.md and results.json.

The ratio is DVC's time over labrun's (above 1: labrun is faster), given both
as the ratio of the medians and as the median of the per-round ratios (each
round runs DVC and labrun back to back, so a noisy moment hits both).

    >>> summarise([]) is None
    True
    >>> seconds(0.12345), seconds(12.345), seconds(1234.5)
    ('0.123', '12.3', '1234')
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from dataclasses import dataclass
from typing import Any

from bench.measure import Sample
from bench.scenarios import COMMANDS
from bench.session import UNSUPPORTED, Outcome, ScenarioResult

NOT_SUPPORTED = "not supported yet by labrun"


@dataclass(frozen=True)
class Summary:
    """min/median/max wall time (s), median CPU (s) and the largest peak RSS (MiB)."""

    n: int
    median: float
    min: float
    max: float
    user: float
    sys: float
    peak_rss_mib: float


def summarise(samples: list[Sample]) -> Summary | None:
    """Summary of the timed samples, or None when there are none."""
    if not samples:
        return None
    walls = [s.wall for s in samples]
    return Summary(
        len(samples), statistics.median(walls), min(walls), max(walls),
        statistics.median(s.user for s in samples), statistics.median(s.sys for s in samples),
        max(s.peak_rss_mib for s in samples),
    )  # fmt: skip


def ratios(result: ScenarioResult) -> tuple[float | None, float | None]:
    """(DVC median / labrun median, median over rounds of DVC time / labrun time)."""
    dvc, lab = result.outcomes["dvc"], result.outcomes["labrun"]
    if not _ok(dvc) or not _ok(lab):
        return None, None
    medians = _median(dvc) / _median(lab)
    pairs = [a.wall / b.wall for a, b in zip(dvc.samples, lab.samples, strict=False)]
    return medians, statistics.median(pairs)


def _ok(out: Outcome) -> bool:
    return out.status == "ok" and bool(out.samples)


def _median(out: Outcome) -> float:
    return statistics.median(s.wall for s in out.samples)


def seconds(value: float) -> str:
    """Seconds to 3 significant digits (no exponent)."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3f}" if value < 1 else f"{value:.{3 - len(str(int(value)))}f}"


def notes(result: ScenarioResult) -> str:
    """Derived numbers: reference commands, overhead beyond the commands, ideal, linger."""
    parts = [f"{name}: {seconds(_median(o))} s" for name, o in _refs(result) if _ok(o)]
    parts += _overhead(result) + _ideal(result) + _linger(result) + _first(result)
    for name in ("dvc", "labrun"):
        out = result.outcomes[name]
        if out.status not in ("ok", UNSUPPORTED):
            parts.append(f"{_label(name)} {out.status}: {out.reason}")
    return "; ".join(parts)


def _refs(result: ScenarioResult) -> list[tuple[str, Outcome]]:
    return [(n, o) for n, o in result.outcomes.items() if n not in ("dvc", "labrun")]


def _label(name: str) -> str:
    return "DVC" if name == "dvc" else name


def _overhead(result: ScenarioResult) -> list[str]:
    base = result.outcomes.get(COMMANDS.label)
    count = result.scenario.stage_count(result.sizes)
    if base is None or not _ok(base) or not count:
        return []
    cells = []
    for name in ("dvc", "labrun"):
        out = result.outcomes[name]
        if _ok(out):
            extra = _median(out) - _median(base)
            cells.append(f"{_label(name)} {seconds(extra)} s ({extra / count * 1000:.1f} ms/stage)")
    return [f"overhead beyond commands: {', '.join(cells)}"] if cells else []


def _ideal(result: ScenarioResult) -> list[str]:
    if result.ideal is None:
        return []
    cells = [
        f"{_label(n)} ×{_median(o) / result.ideal:.1f}"
        for n in ("dvc", "labrun")
        if _ok(o := result.outcomes[n])
    ]
    return [f"ideal {seconds(result.ideal)} s: " + ", ".join(cells)]


def _linger(result: ScenarioResult) -> list[str]:
    cells = []
    for name in ("dvc", "labrun"):
        out = result.outcomes[name]
        values = [s.extra["linger"] for s in out.samples if "linger" in s.extra]
        if values:
            cells.append(f"{_label(name)} {seconds(statistics.median(values))} s")
    return [f"workers linger after exit: {', '.join(cells)}"] if cells else []


def _first(result: ScenarioResult) -> list[str]:
    if not result.scenario.first_run:
        return []
    cells = [
        f"{_label(n)} {seconds(o.warmup[0].wall)} s"
        for n in ("dvc", "labrun")
        if _ok(o := result.outcomes[n]) and o.warmup
    ]
    return [f"first (cold) run: {', '.join(cells)}"] if cells else []


def to_json(results: list[ScenarioResult], session: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable report of one session (every sample kept)."""
    rows = [_scenario_json(r, 0) for r in results]
    return {"sessions": [session], "scenarios": rows, "profile": ""}


def merge(old: dict[str, Any], new: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """`old` with the scenarios of `new` replacing those of the same name (--merge)."""
    fresh = {row["name"] for row in new["scenarios"]}
    kept = [row for row in old.get("scenarios", []) if row["name"] not in fresh]
    used = sorted({row["session"] for row in kept})
    renumber = {old_index: new_index for new_index, old_index in enumerate(used)}
    sessions = [old["sessions"][i] for i in used] + new["sessions"]
    rows = [{**row, "session": renumber[row["session"]]} for row in kept]
    rows += [{**row, "session": len(used)} for row in new["scenarios"]]
    rows.sort(key=lambda row: order.index(row["name"]) if row["name"] in order else len(order))
    profile = new.get("profile") or old.get("profile", "")
    return {"sessions": sessions, "scenarios": rows, "profile": profile}


def _scenario_json(result: ScenarioResult, session: int) -> dict[str, Any]:
    of_medians, pairwise = ratios(result)
    return {
        "name": result.scenario.name,
        "what": result.scenario.what,
        "size": result.size,
        "session": session,
        "template": result.template,
        "ideal_s": result.ideal,
        "ratio_of_medians": of_medians,
        "median_pairwise_ratio": pairwise,
        "notes": notes(result),
        "players": {name: _outcome_json(out) for name, out in result.outcomes.items()},
    }


def _outcome_json(out: Outcome) -> dict[str, Any]:
    summary = summarise(out.samples) if out.status == "ok" else None
    return {
        "status": out.status,
        "reason": out.reason,
        "summary": dataclasses.asdict(summary) if summary else None,
        "samples": [dataclasses.asdict(s) for s in out.samples],
        "warmup_samples": [dataclasses.asdict(s) for s in out.warmup],
        "output_tail": out.output,
    }


def dumps(doc: dict[str, Any]) -> str:
    """results.json text."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
