"""How long a checkpoint costs: from the signal file to the command resuming.

A training script writes a model of ``--mib`` MiB (new random content each
epoch), creates the signal file and times how long it waits until labrun has
committed the checkpoint (outputs hashed and cached, dvc.lock written, commit
made, ref moved). DVC 3 has no checkpoints, so this row has no dvc column.

    python3 bench/checkpoint_latency.py [--mib 100] [--epochs 5]
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
import json, os, time
size = int(os.environ["MODEL_MIB"]) << 20
waits = []
for epoch in range(int(os.environ["EPOCHS"])):
    with open("model.bin", "wb") as out:
        out.write(os.urandom(size))
    signal = os.path.join(os.environ["DVC_ROOT"], ".dvc", "tmp", "DVC_CHECKPOINT")
    start = time.perf_counter()
    open(signal, "w").close()
    while os.path.exists(signal):
        time.sleep(0.002)
    waits.append(time.perf_counter() - start)
json.dump(waits, open(os.environ["WAITS_FILE"], "w"))
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


def measure(mib: int, epochs: int) -> list[float]:
    """Seconds from signal to resume, one per checkpoint."""
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
        return [float(x) for x in json.loads(waits.read_text())]


def main() -> int:
    """Print the row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    waits = measure(args.mib, args.epochs)
    print(
        f"checkpoint, {args.mib} MiB model: signal→resume median {statistics.median(waits):.3f} s "
        f"(min {min(waits):.3f}, max {max(waits):.3f}) over {len(waits)} checkpoints",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
