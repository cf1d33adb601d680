"""Run one scenario: every player in its own copy of the template, alternately, A B A B.

A "player" is DVC, labrun, or a reference command of the scenario. Each round
runs each player once: untimed reset and set-up commands, then the timed
command. The first round is a probe (and warm-up): a tool that answers it
with the argument-parsing exit code 254, or says the command is unknown, is
marked "unsupported" and skipped from then on; any other failure marks it
"error". Nothing is dropped: every player ends with a status and a reason.

    >>> classify(254, "usage: labrun ...\\nERROR: argument COMMAND: invalid choice: 'exp'")
    ('unsupported', "ERROR: argument COMMAND: invalid choice: 'exp'")
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import TIMEOUT_EXIT, Sample, run_timed, run_untimed, wait_for_linger
from bench.projects import Kit, Template, copy_project, ensure_template, template_key
from bench.scenarios import Argv, Reset, Scenario, Sizes
from bench.toolchain import DVC, LABRUN, Tool, log

UNSUPPORTED = "unsupported"
_UNKNOWN = re.compile(
    r"invalid choice|unrecognized arguments|unknown command|no such command",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Settings:
    """How to run: repetitions, limits and sizes."""

    runs: int
    warmup: int
    timeout: float
    linger_cap: float
    sizes: Sizes
    keep: bool = False


@dataclass(frozen=True)
class Context:
    """Everything a scenario run needs from the outside."""

    settings: Settings
    kit: Kit
    env: dict[str, str]
    work: Path


@dataclass(frozen=True)
class Player:
    """One program being timed in a scenario, with its own directory."""

    name: str
    argv: list[str]
    prepare: list[list[str]]
    env: dict[str, str]
    reset: Reset
    dir: Path
    site: Path
    linger: bool = False


@dataclass
class Outcome:
    """What happened to one player: status (ok/unsupported/error/timeout) and timed samples."""

    player: str
    status: str = "ok"
    reason: str = ""
    samples: list[Sample] = field(default_factory=list)
    output: str = ""
    warmup: list[Sample] = field(default_factory=list)


@dataclass
class ScenarioResult:
    """The outcome of every player of one scenario."""

    scenario: Scenario
    sizes: Sizes
    size: str
    template: str
    outcomes: dict[str, Outcome]
    ideal: float | None = None


def classify(code: int, output: str) -> tuple[str, str]:
    """Status and reason for a failed run: 254/"unknown command" means not supported."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    last = (errors or lines or [f"exit code {code}"])[-1][:200]
    if code == TIMEOUT_EXIT:
        return "timeout", "killed after the time limit (--timeout)"
    if code == 254 or _UNKNOWN.search(output):
        return UNSUPPORTED, last
    return "error", f"exit {code}: {last}"


def run_scenario(scenario: Scenario, ctx: Context) -> ScenarioResult:
    """Build (or reuse) the template, then alternate the players for warm-up + timed rounds."""
    sizes = ctx.settings.sizes
    template = ensure_template(scenario.project, sizes, ctx.kit, ctx.work / "templates")
    runs = ctx.work / "runs" / scenario.name
    _wipe(runs, ctx.settings.linger_cap)
    players = _players(scenario, template, ctx, runs)
    outcomes = {p.name: Outcome(p.name) for p in players}
    for n in range(ctx.settings.warmup + ctx.settings.runs):
        for player in players:
            if outcomes[player.name].status == "ok":
                _play(player, outcomes[player.name], template, ctx, n)
    if not ctx.settings.keep:
        _wipe(runs, ctx.settings.linger_cap)
    ideal = scenario.ideal(sizes) if scenario.ideal else None
    key = template_key(scenario.project, sizes)
    label = fill(scenario.size, sizes, template)
    return ScenarioResult(scenario, sizes, label, key, outcomes, ideal)


def prepared_player(scenario: Scenario, ctx: Context, runs: Path) -> Player:
    """labrun's player for `scenario`, its project reset and set up, ready to run once."""
    template = ensure_template(
        scenario.project, ctx.settings.sizes, ctx.kit, ctx.work / "templates"
    )
    _wipe(runs, ctx.settings.linger_cap)
    player = _tool_player(LABRUN, scenario, template, ctx, runs)
    _reset(player, template)
    for argv in player.prepare:
        run_untimed(argv, player.dir, player.env, ctx.settings.timeout)
    return player


def fill(text: str, sizes: Sizes, template: Template) -> str:
    """Replace `{size}`, `{python}` and `{cmds}` placeholders."""
    values = {**sizes.placeholders(), "python": sys.executable, "cmds": str(template.cmds)}
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _players(scenario: Scenario, template: Template, ctx: Context, runs: Path) -> list[Player]:
    tools = [_tool_player(tool, scenario, template, ctx, runs) for tool in (DVC, LABRUN)]
    refs = [
        Player(b.label, _argv(b.argv, ctx, template), [], ctx.env, Reset("keep"),
               runs / "reference", runs / "reference.site")
        for b in scenario.baselines
    ]  # fmt: skip
    return tools + refs


def _tool_player(
    tool: Tool, scenario: Scenario, template: Template, ctx: Context, runs: Path
) -> Player:
    args = scenario.labrun if tool is LABRUN else scenario.dvc
    site = runs / f"{tool.name}.site"
    env = {**tool.env(ctx.env), "DVC_SITE_CACHE_DIR": str(site)}
    prepare = [
        _argv((str(tool.exe), *a), ctx, template)
        for a in scenario.prepare_argvs(ctx.settings.sizes)
    ]
    argv = _argv((str(tool.exe), *args), ctx, template)
    return Player(tool.name, argv, prepare, env, scenario.reset, runs / tool.name, site,
                  scenario.linger)  # fmt: skip


def _argv(argv: Argv, ctx: Context, template: Template) -> list[str]:
    return [fill(a, ctx.settings.sizes, template) for a in argv]


def _play(player: Player, out: Outcome, template: Template, ctx: Context, n: int) -> None:
    limit = ctx.settings.timeout
    _reset(player, template)
    for argv in player.prepare:
        code, text = run_untimed(argv, player.dir, player.env, limit)
        if code != 0:
            _fail(out, code, text, f"set-up `{' '.join(argv[1:])}`: ")
            return
    logfile = player.dir.parent / f"{re.sub(r'[^A-Za-z0-9]+', '-', player.name)}.log"
    sample = run_timed(player.argv, player.dir, player.env, logfile, limit)
    if player.linger:
        linger = wait_for_linger(player.dir, ctx.settings.linger_cap)
        sample = dataclasses.replace(sample, extra={"linger": linger})
    text = logfile.read_text(errors="replace")
    if n == 0:
        out.output = text[-400:]
    if sample.exit_code != 0:
        _fail(out, sample.exit_code, text, "")
    else:
        (out.samples if n >= ctx.settings.warmup else out.warmup).append(sample)
    _progress(player, sample, n, ctx)


def _fail(out: Outcome, code: int, text: str, during: str) -> None:
    out.status, reason = classify(code, text)
    out.reason = during + reason
    out.output = text[-400:]
    log(f"  {out.player}: {out.status}: {out.reason}")


def _progress(player: Player, sample: Sample, n: int, ctx: Context) -> None:
    kind = "warm-up" if n < ctx.settings.warmup else f"run {n - ctx.settings.warmup + 1}"
    log(f"  {player.name:<16} {kind:<8} {sample.wall:8.3f} s  {sample.peak_rss_mib:7.1f} MiB")


def _reset(player: Player, template: Template) -> None:
    reset = player.reset
    if reset.kind == "fresh" or not player.dir.exists():
        shutil.rmtree(player.dir, ignore_errors=True)
        shutil.rmtree(player.site, ignore_errors=True)
        copy_project(template.path, player.dir)
    if reset.kind == "touch":
        os.utime(player.dir / reset.path)
    elif reset.kind == "remove":
        shutil.rmtree(player.dir / reset.path, ignore_errors=True)
    if reset.kind != "keep":
        os.sync()  # write back the copy's dirty pages now, not during the timed run


def _wipe(path: Path, cap: float) -> None:
    if path.exists():
        wait_for_linger(path, cap)
        shutil.rmtree(path)
    path.mkdir(parents=True)
