"""labrun alone: `exp show --json` over thousands of experiments, cold and warm.

DVC would take far too long at 10,000 experiments, so this times labrun only,
on the 3-stage project (the `three` template, built with DVC like every other
bench project) plus `--exps` finished experiments written with `git
fast-import` (`datagen.write_experiments`: each its own params.yaml, dvc.lock
and metrics.json). "Cold" runs start without labrun's row cache (every
experiment is collected from Git); "warm" runs reuse it.

    python3 bench/exp_show_many.py --exps 10000 --runs 3
    python3 bench/exp_show_many.py --exps 10000 --packed   # refs in packed-refs, as after `git gc`

It prints one line per timed run and a summary; `--json PATH` also writes
them. Only the standard library and git are needed (plus the bench's `.venv`
and `.venv-dvc`, created by `bench/run.py` on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import datagen  # noqa: E402
from bench.projects import Kit, copy_project, ensure_template  # noqa: E402
from bench.scenarios import Sizes  # noqa: E402
from bench.toolchain import DVC, LABRUN, bench_env, ensure_tools, write_configs  # noqa: E402

ROW_CACHE = Path(".dvc/tmp/labrun/exp-rows.db")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exps", type=int, default=10_000, help="experiments (10000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per mode (3)")
    parser.add_argument("--packed", action="store_true", help="pack the refs first")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--json", type=Path, help="also write the samples here")
    return parser.parse_args(argv)


def build(work: Path, exps: int, packed: bool) -> tuple[Path, dict[str, str]]:
    """The project with `exps` experiments (built once, reused by later runs)."""
    write_configs(work)
    env = bench_env(work)
    kit = Kit(DVC.env(env), DVC.exe)
    base = ensure_template("three", Sizes(), kit, work / "templates")
    path = work / "templates" / f"exp-show-many-{exps}{'-packed' if packed else ''}"
    marker = path.with_name(path.name + ".done")
    if not marker.exists():
        shutil.rmtree(path, ignore_errors=True)
        copy_project(base.path, path)
        datagen.write_experiments(path, exps, kit.git, kit.env)
        if packed:
            kit.git(path, "pack-refs", "--all")
        marker.write_text("1")
    return path, env


def time_once(path: Path, env: dict[str, str], cold: bool) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and output bytes of one `exp show --json`.

    The row cache is dropped first when ``cold``. CPU time is the steadier
    figure on a loaded machine.
    """
    if cold:
        (path / ROW_CACHE).unlink(missing_ok=True)
    argv = [str(LABRUN.venv / "bin" / "labrun"), "exp", "show", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=path, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"labrun exp show failed ({done.returncode}):\n{done.stderr.decode()}")
    return seconds, cpu, len(done.stdout)


def main(argv: list[str] | None = None) -> int:
    """Build (once), then time cold and warm runs; print and optionally save them."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ensure_tools(install=True)
    path, env = build(args.work.resolve(), args.exps, args.packed)
    time_once(path, env, cold=False)  # warm-up: the file cache, Python's bytecode
    samples: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
    size = 0
    for _ in range(args.runs):
        for mode in ("cold", "warm"):
            seconds, cpu, size = time_once(path, env, cold=mode == "cold")
            samples[mode].append((seconds, cpu))
            print(f"{mode:5} {seconds:7.3f} s wall {cpu:7.3f} s CPU", file=sys.stderr, flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for mode, pairs in samples.items():
        wall, cpu = [p[0] for p in pairs], [p[1] for p in pairs]
        print(
            f"{args.exps} exps{' (packed refs)' if args.packed else ''}, {mode}: "
            f"wall median {statistics.median(wall):.3f} s (min {min(wall):.3f}), "
            f"CPU median {statistics.median(cpu):.3f} s ({len(pairs)} runs, {size} bytes "
            f"of JSON, load {load})"
        )
    if args.json:
        args.json.write_text(json.dumps({"exps": args.exps, "samples": samples}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
