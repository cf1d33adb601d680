"""RESULTS.md, rendered from the results.json document (so merged sessions render alike).

One table row per scenario, then the list of what is not supported yet or
failed, then the profile of labrun's slowest scenario if one was taken.

    >>> median_cell({"status": "unsupported", "summary": None}, "labrun")
    'not supported yet by labrun'
"""

from __future__ import annotations

from typing import Any

from bench.report import NOT_SUPPORTED, seconds

Doc = dict[str, Any]

HEADER = (
    "| scenario | size | DVC median (s) | labrun median (s) | DVC/labrun: medians | "
    "DVC/labrun: pairwise | DVC min–max (s) | labrun min–max (s) | "
    "peak RSS MiB: DVC / labrun | notes |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n"
)


def render(doc: Doc) -> str:
    """The whole RESULTS.md text."""
    text = "# labrun vs DVC: benchmark results\n\n"
    text += "".join(_session(i, s, doc) for i, s in enumerate(doc["sessions"]))
    text += (
        "Ratios are DVC's time over labrun's: above 1, labrun is faster. "
        "How to read this table: `bench/README.md`.\n\n"
    )
    text += HEADER + "".join(_row(row, len(doc["sessions"])) for row in doc["scenarios"])
    text += _failures(doc["scenarios"])
    if doc.get("profile"):
        text += f"\n## Where labrun's time goes\n\n```\n{doc['profile'].rstrip()}\n```\n"
    return text


def _session(index: int, meta: Doc, doc: Doc) -> str:
    names = [f"`{r['name']}`" for r in doc["scenarios"] if r["session"] == index]
    sizes = ", ".join(f"{k}={v}" for k, v in meta["sizes"].items())
    return (
        f"**Session {index + 1}**: `{meta['command']}` on {meta['date']}\n\n"
        f"- scenarios: {', '.join(names)}\n"
        f"- machine: {meta['machine']}\n"
        f"- DVC {meta['dvc_version']} (`.venv-dvc`), labrun {meta['labrun_version']} "
        f"(`.venv`, tree {meta['commit']})\n"
        f"- {meta['runs']} timed runs per tool after {meta['warmup']} warm-up, alternating "
        f"DVC, labrun (then the reference commands); load average {meta['load_before']} "
        f"before, {meta['load_after']} after\n"
        f"- sizes: {sizes}\n"
        f"- peak RSS includes a floor of {meta.get('rss_floor_mib', '?')} MiB (the launcher)\n\n"
    )


def _row(row: Doc, sessions: int) -> str:
    dvc, lab = row["players"]["dvc"], row["players"]["labrun"]
    name = f"`{row['name']}`" + (f" (S{row['session'] + 1})" if sessions > 1 else "")
    cells = [
        f"{name}: {row['what']}",
        row["size"] or "—",
        median_cell(dvc, "dvc"),
        median_cell(lab, "labrun"),
        _ratio(row["ratio_of_medians"]),
        _ratio(row["median_pairwise_ratio"]),
        _span(dvc),
        _span(lab),
        f"{_rss(dvc)} / {_rss(lab)}",
        row["notes"],
    ]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n"


def median_cell(player: Doc, name: str) -> str:
    """The median, "not supported yet by labrun", or the kind of failure."""
    if player["summary"]:
        return seconds(player["summary"]["median"])
    if player["status"] == "unsupported":
        return NOT_SUPPORTED if name == "labrun" else "not supported"
    return str(player["status"])


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _span(player: Doc) -> str:
    summary = player["summary"]
    return "—" if not summary else f"{seconds(summary['min'])}–{seconds(summary['max'])}"


def _rss(player: Doc) -> str:
    return "—" if not player["summary"] else f"{player['summary']['peak_rss_mib']:.0f}"


def _failures(rows: list[Doc]) -> str:
    lines = [
        f"- `{row['name']}`, {name}: {player['status']}: {player['reason']}\n"
        for row in rows
        for name, player in row["players"].items()
        if player["status"] != "ok"
    ]
    return "\n## Not supported yet, or failed\n\n" + "".join(lines) if lines else ""
