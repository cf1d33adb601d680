"""How long a checkpoint costs: from the signal file to the command resuming.

A training script writes a model of ``--mib`` MiB (new random content each
epoch), creates the signal file and times how long it waits until labrun has
committed the checkpoint (outputs hashed and cached, dvc.lock written, commit
made, ref moved). DVC 3 has no checkpoints, so this row has no dvc column.

The md5 of the model is a floor no implementation can go under, and on a
busy machine it varies as much as the rest: so the script also times one md5
of the same bytes just before each signal, and reports the wait beyond it
("overhead") next to the load average.

    python3 bench/checkpoint_latency.py [--mib 100] [--epochs 5] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABRUN = REPO / ".venv" / "bin" / "labrun"
PYTHON = REPO / ".venv" / "bin" / "python"

TRAIN = """\
import hashlib, json, os, time
size = int(os.environ["MODEL_MIB"]) << 20
waits, md5s = [], []
for epoch in range(int(os.environ["EPOCHS"])):
    data = os.urandom(size)
    with open("model.bin", "wb") as out:
        out.write(data)
    start = time.perf_counter()
    hashlib.md5(data).hexdigest()
    md5s.append(time.perf_counter() - start)
    del data
    signal = os.path.join(os.environ["DVC_ROOT"], ".dvc", "tmp", "DVC_CHECKPOINT")
    start = time.perf_counter()
    open(signal, "w").close()
    while os.path.exists(signal):
        time.sleep(0.002)
    waits.append(time.perf_counter() - start)
json.dump([waits, md5s], open(os.environ["WAITS_FILE"], "w"))
"""

PIPELINE = """\
stages:
  train:
    cmd: {python} train.py
    deps: [train.py]
    outs:
      - model.bin:
          checkpoint: true
"""


def measure(mib: int, epochs: int) -> tuple[list[float], list[float]]:
    """Seconds from signal to resume, and of one md5 of the model, per checkpoint."""
    with tempfile.TemporaryDirectory(prefix="labrun-ckpt-bench-") as tmp:
        root = Path(tmp)
        run = lambda *a: subprocess.run(a, cwd=root, check=True, capture_output=True)  # noqa: E731
        run("git", "init", "-q")
        run(str(LABRUN), "init", "-q")
        (root / "train.py").write_text(TRAIN)
        (root / "dvc.yaml").write_text(PIPELINE.format(python=PYTHON))
        run("git", "add", "-A")
        run("git", "commit", "-qm", "baseline")
        waits = root / "waits.json"
        env = {**os.environ, "MODEL_MIB": str(mib), "EPOCHS": str(epochs), "WAITS_FILE": str(waits)}
        subprocess.run([str(LABRUN), "exp", "run", "-q"], cwd=root, env=env, check=True)
        found, md5s = json.loads(waits.read_text())
        return [float(x) for x in found], [float(x) for x in md5s]


def main() -> int:
    """Print the row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1, help="experiments run, results pooled")
    args = parser.parse_args()
    waits: list[float] = []
    overheads: list[float] = []
    for _ in range(args.runs):
        found, md5s = measure(args.mib, args.epochs)
        waits += found
        overheads += [w - m for w, m in zip(found, md5s, strict=True)]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"checkpoint, {args.mib} MiB model: signal→resume median {statistics.median(waits):.3f} s "
        f"(min {min(waits):.3f}, max {max(waits):.3f}) over {len(waits)} checkpoints; "
        f"beyond one md5: median {statistics.median(overheads):.3f} s "
        f"(min {min(overheads):.3f}); load average {load}",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
