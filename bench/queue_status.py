"""How long `labrun queue status` takes with many finished entries (target: < 0.2 s at 500).

The queue is filled through labrun's own queue backend with ``--entries``
finished entries shaped like real ones (the spec `exp run --queue` writes, a
result naming an experiment ref), a few of them failed; running them for real
would only slow the set-up down, since `queue status` reads nothing but the
queue. Then the table and ``--json`` forms are timed ``--runs`` times each, in a
fresh process each time as a user would run them, next to the load average.

    python3 bench/queue_status.py [--entries 500] [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABRUN = REPO / ".venv" / "bin" / "labrun"
PYTHON = REPO / ".venv" / "bin" / "python"
TARGET = 0.2

FILL = """\
import sys, time, uuid
from labrun.experiments.queue.entry import EntryState, QueueEntry, current_process
from labrun.experiments.queue.service import open_queue
from labrun.project import Project

count, baseline = int(sys.argv[1]), sys.argv[2]
repro = {"targets": [], "force": False, "single_item": False, "pipeline": False,
         "all_pipelines": False, "recursive": False, "downstream": False, "glob": False,
         "force_downstream": False, "on_error": "fail", "no_run_cache": False,
         "allow_missing": False}
project = Project.find(".")
with open_queue(project) as queue:
    for i in range(count):
        name = f"exp-{i:04d}"
        spec = {"root": project.root, "baseline": baseline, "message": None, "copy_paths": [],
                "rev": None, "repro": repro, "name": name, "capture": "c" * 40,
                "overrides": [f"params.yaml:train.seed={i}"]}
        queue.put(QueueEntry(uuid.uuid4().hex[:12], name, baseline, spec))
    while (entry := queue.claim(current_process(), ())) is not None:
        failed = entry.name.endswith("7")
        ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/{entry.name}"
        result = {"name": entry.name, "rev": "d" * 40, "ref": ref}
        if failed:
            result = {"error": "failed to reproduce 'train'"}
        queue.finish(entry, EntryState.FAILED if failed else EntryState.SUCCEEDED, result)
"""


def main() -> int:
    """Build the queue, time the two forms of `queue status`, print a summary (JSON too)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    with tempfile.TemporaryDirectory(prefix="labrun-queue-status-") as tmp:
        root = Path(tmp) / "proj"
        baseline = _project(root, env)
        subprocess.run(
            [str(PYTHON), "-c", FILL, str(args.entries), baseline], cwd=root, env=env, check=True
        )
        report = {form: _time(root, env, argv, args.runs) for form, argv in _FORMS.items()}
    report["entries"] = args.entries
    report["load_average"] = round(os.getloadavg()[0], 2)
    for form, argv in _FORMS.items():
        times = report[form]
        verdict = "ok" if times["median"] <= TARGET else "over the target"
        print(
            f"labrun {' '.join(argv)}: median {times['median']:.3f} s, "
            f"min {times['min']:.3f} s, CPU {times['cpu_median']:.3f} s (median) over {args.runs} "
            f"runs, {args.entries} entries (target {TARGET} s: {verdict})"
        )
    print(f"load average {report['load_average']}")
    print(json.dumps(report))
    return 0


_FORMS = {"table": ("queue", "status"), "json": ("queue", "status", "--json")}


def _project(root: Path, env: dict[str, str]) -> str:
    """A committed project; returns the baseline commit."""
    root.mkdir(parents=True)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=root, env=env, check=True)
    subprocess.run([str(LABRUN), "init", "-q"], cwd=root, env=env, check=True)
    (root / "params.yaml").write_text("train:\n  seed: 0\n")
    subprocess.run([*git, "add", "-A"], cwd=root, env=env, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "baseline"], cwd=root, env=env, check=True)
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip()


def _time(root: Path, env: dict[str, str], argv: tuple[str, ...], runs: int) -> dict[str, float]:
    """Wall seconds of ``labrun <argv>``: one warm-up, then ``runs`` timed runs.

    The CPU seconds (user + system) are kept too: on a busy machine they show what
    the command costs when the wall time mostly shows the others' load.
    """
    samples, cpu = [], []
    for n in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(LABRUN), *argv], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if n:
            samples.append(wall)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "cpu_median": statistics.median(cpu),
    }


if __name__ == "__main__":
    sys.exit(main())
