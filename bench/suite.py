"""The command line of the benchmark suite (run it as `python3 bench/run.py`).

Examples:

    $ python3 bench/run.py                 # every scenario, full sizes, 5 runs
    $ python3 bench/run.py --quick         # small sizes, 3 runs: a smoke test
    $ python3 bench/run.py -k 'startup-*' -k stage-list-3 --runs 9
    $ python3 bench/run.py --list
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import profiling, report, table
from bench.measure import rss_floor_mib
from bench.projects import Kit
from bench.scenarios import SCENARIOS, Scenario, Sizes, by_name
from bench.session import Context, ScenarioResult, Settings, run_scenario
from bench.toolchain import (
    DVC,
    ROOT,
    bench_env,
    dvc_version,
    ensure_tools,
    labrun_version,
    log,
    write_configs,
)

QUICK = {"size_scale": 0.1, "runs": 3, "warmup": 1, "queued": 4, "sleep": 0.5}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line (size flags come from the fields of `Sizes`)."""
    p = argparse.ArgumentParser(prog="bench/run.py", description="labrun vs DVC benchmarks")
    p.add_argument(
        "-k",
        dest="patterns",
        action="append",
        metavar="SCENARIO",
        help="run only these scenarios (shell patterns; repeatable)",
    )
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--runs", type=int, help="timed runs per tool (default 5)")
    p.add_argument("--warmup", type=int, help="untimed warm-up runs, at least 1 (default 1)")
    p.add_argument("--size-scale", type=float, help="multiply the big sizes (default 1)")
    p.add_argument("--quick", action="store_true", help="small sizes and 3 runs")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    p.add_argument("--json", type=Path, help="default: results.json next to --out")
    p.add_argument(
        "--merge", action="store_true", help="keep the other scenarios already in the JSON file"
    )
    p.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per command")
    p.add_argument(
        "--linger-cap", type=float, default=60, help="seconds to wait for lingering queue workers"
    )
    p.add_argument("--no-install", action="store_true", help="fail instead of installing")
    p.add_argument("--keep", action="store_true", help="keep the scenarios' scratch copies")
    p.add_argument(
        "--profile",
        nargs="?",
        const="slowest",
        metavar="SCENARIO",
        help="cProfile labrun once on SCENARIO (default: its slowest)",
    )
    for f in dataclasses.fields(Sizes):
        p.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(f.default),
            help=f"{f.metadata['help']} (default {f.default})",
        )
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings after applying --quick and --size-scale under the explicit flags."""
    quick = QUICK if args.quick else {}

    def pick(name: str, default: Any) -> Any:
        given = getattr(args, name)
        return given if given is not None else quick.get(name, default)

    sizes = Sizes().scaled(pick("size_scale", 1.0))
    explicit = {f.name: pick(f.name, None) for f in dataclasses.fields(Sizes)}
    sizes = dataclasses.replace(sizes, **{k: v for k, v in explicit.items() if v is not None})
    warmup = max(1, pick("warmup", 1))
    return Settings(pick("runs", 5), warmup, args.timeout, args.linger_cap, sizes, args.keep)


def select(patterns: list[str] | None) -> list[Scenario]:
    """Scenarios matching any pattern, in table order (all when no pattern)."""
    if not patterns:
        return list(SCENARIOS)
    chosen = [s for s in SCENARIOS if any(fnmatch.fnmatchcase(s.name, p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"no scenario matches {patterns}; see --list")
    return chosen


def session_meta(argv: list[str], settings: Settings) -> dict[str, Any]:
    """Where, when and how this session ran."""
    return {
        "command": shlex.join(["python3", "bench/run.py", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "dvc_version": dvc_version() or "?",
        "labrun_version": labrun_version() or "?",
        "commit": _commit(),
        "runs": settings.runs,
        "warmup": settings.warmup,
        "sizes": dataclasses.asdict(settings.sizes),
        "rss_floor_mib": round(rss_floor_mib(), 1),
        "load_before": _load(),
        "load_after": "",
    }


def machine() -> str:
    """CPU model, CPU count, memory, OS and the suite's Python."""
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "?"
    mem = _proc_field("/proc/meminfo", "MemTotal")
    ram = f"{int(mem.split()[0]) / 2**20:.0f} GiB RAM" if mem else "? RAM"
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} CPUs, {ram}, {system}, Python {platform.python_version()}"


def _proc_field(path: str, key: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    values = [line.split(":", 1)[1].strip() for line in lines if line.startswith(key)]
    return values[0] if values else ""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _commit() -> str:
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    )
    dirty = subprocess.run(
        [*git, "status", "--porcelain"], check=False, capture_output=True, text=True
    )
    name = head.stdout.strip() if head.returncode == 0 else "no commit yet"
    return name + (" + uncommitted changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios and write RESULTS.md and results.json."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.list:
        print("\n".join(f"{s.name:<22} {s.what}" for s in SCENARIOS))
        return 0
    if args.profile not in (None, "slowest", *(s.name for s in SCENARIOS)):
        raise SystemExit(f"--profile: no scenario called {args.profile!r}; see --list")
    ensure_tools(install=not args.no_install)
    ctx = _context(args)
    meta = session_meta(argv, ctx.settings)
    results: list[ScenarioResult] = []
    for scenario in select(args.patterns):
        log(f"{scenario.name}: {scenario.what}")
        results.append(run_scenario(scenario, ctx))
        _write(args, results, meta, "")
    profile = _profile(args, results, ctx)
    _write(args, results, meta, profile)
    log(f"wrote {args.out} and {_json_path(args)}")
    return 0


def _context(args: argparse.Namespace) -> Context:
    work = args.work.resolve()
    write_configs(work)
    env = bench_env(work)
    return Context(settings_from(args), Kit(DVC.env(env), DVC.exe), env, work)


def _profile(args: argparse.Namespace, results: list[ScenarioResult], ctx: Context) -> str:
    if not args.profile:
        return ""
    if args.profile == "slowest":
        slowest = profiling.pick_slowest(results)
        if slowest is None:
            return "no scenario that labrun supports was run, so nothing was profiled"
        target = slowest.scenario
    else:
        target = by_name(args.profile)
    log(f"profiling labrun on {target.name}")
    text = profiling.profile(target, ctx)
    profiling.save(text, ctx.work / "profile.txt")
    return text


def _json_path(args: argparse.Namespace) -> Path:
    path: Path = args.json or args.out.with_name("results.json")
    return path


def _write(args: argparse.Namespace, results: list[ScenarioResult], meta: dict[str, Any],
           profile: str) -> None:  # fmt: skip
    meta = {**meta, "load_after": _load()}
    doc = {**report.to_json(results, meta), "profile": profile}
    path = _json_path(args)
    if args.merge and path.exists():
        doc = report.merge(json.loads(path.read_text()), doc, [s.name for s in SCENARIOS])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.dumps(doc))
    args.out.write_text(table.render(doc))
