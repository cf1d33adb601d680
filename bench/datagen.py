"""File contents of the scratch projects, and deterministic data generators.

Every generator takes a seed, so the same sizes always give the same bytes.
Commands are written as JSON strings, which YAML reads as double-quoted
scalars (so `: ` and `'` inside a command need no thought).

    >>> "shard" in foreach_dvc_yaml()
    True
    >>> foreach_commands(2)[0]
    'echo s0000 > out/s0000.txt'
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

THREE_PARAMS = """\
prepare:
  split: 0.2
featurize:
  max_features: 100
train:
  seed: 0
  epochs: 2
  lr: 0.01
"""

_TRAIN = (
    "cat data/features.txt params.yaml > model.txt && printf '{\"acc\": 0.5}\\n' > metrics.json"
)


def raw_text() -> str:
    """A small deterministic text input."""
    return "".join(f"line {i} {'abcdefgh' * (i % 5)}\n" for i in range(200))


def three_commands(sleep: float) -> list[str]:
    """The commands of the 3-stage project, in order; `train` sleeps first if `sleep`."""
    train = f"sleep {sleep:g} && {_TRAIN}" if sleep else _TRAIN
    return [
        "cat data/raw.txt params.yaml > data/prepared.txt",
        "cksum data/prepared.txt > data/features.txt",
        train,
    ]


def three_dvc_yaml(sleep: float) -> str:
    """prepare → featurize → train; every stage reruns when `prepare.split` changes."""
    prepare, featurize, train = (json.dumps(c) for c in three_commands(sleep))
    return f"""\
stages:
  prepare:
    cmd: {prepare}
    deps:
    - data/raw.txt
    params:
    - prepare.split
    outs:
    - data/prepared.txt
  featurize:
    cmd: {featurize}
    deps:
    - data/prepared.txt
    params:
    - featurize.max_features
    outs:
    - data/features.txt
  train:
    cmd: {train}
    deps:
    - data/features.txt
    params:
    - train
    outs:
    - model.txt
    metrics:
    - metrics.json:
        cache: false
"""


def foreach_params(stages: int) -> str:
    """params.yaml listing the foreach items."""
    return "shards:\n" + "".join(f"- s{i:04d}\n" for i in range(stages))


def foreach_dvc_yaml() -> str:
    """One `foreach` stage over `${shards}`: each item writes one small output."""
    return """\
stages:
  shard:
    foreach: ${shards}
    do:
      cmd: echo ${item} > out/${item}.txt
      deps:
      - data/input.txt
      outs:
      - out/${item}.txt
"""


def foreach_commands(stages: int) -> list[str]:
    """The commands the foreach pipeline runs, expanded."""
    return [f"echo s{i:04d} > out/s{i:04d}.txt" for i in range(stages)]


def diamond_dvc_yaml(width: int, sleep: float) -> str:
    """top → mid0..mid{width-1} → bottom; every stage sleeps `sleep` seconds."""
    nap = f"sleep {sleep:g} &&"
    mids = [f"mid{i}" for i in range(width)]
    text = f"stages:\n  top:\n    cmd: {nap} echo top > top.txt\n    outs:\n    - top.txt\n"
    for mid in mids:
        text += f"  {mid}:\n    cmd: {nap} cat top.txt > {mid}.txt\n"
        text += f"    deps:\n    - top.txt\n    outs:\n    - {mid}.txt\n"
    inputs = " ".join(f"{m}.txt" for m in mids)
    text += f"  bottom:\n    cmd: {nap} cat {inputs} > bottom.txt\n    deps:\n"
    text += "".join(f"    - {m}.txt\n" for m in mids)
    return text + "    outs:\n    - bottom.txt\n"


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write text files below `root`, creating parent directories."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_commands(path: Path, commands: list[str]) -> None:
    """A shell script running each command in its own `sh -c`, as a pipeline tool does."""
    lines = [f"sh -c {_shell_quote(c)} || exit 1\n" for c in commands]
    path.write_text("set -e\n" + "".join(lines))


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def write_random_file(path: Path, size: int, seed: int) -> None:
    """`size` bytes from a seeded PRNG, written 1 MiB at a time."""
    rng, chunk = random.Random(seed), 1 << 20
    with open(path, "wb") as out:
        for start in range(0, size, chunk):
            out.write(rng.randbytes(min(chunk, size - start)))


def write_mnist_tree(root: Path, count: int, mean_bytes: int, seed: int) -> None:
    """`count` small files laid out like MNIST: `<train|test>/<label>/<index>.png`."""
    rng = random.Random(seed)
    low, high = max(1, mean_bytes * 4 // 5), max(1, mean_bytes * 6 // 5)
    for split, index in _mnist_names(count):
        folder = root / split / str(index % 10)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index:05d}.png").write_bytes(rng.randbytes(rng.randint(low, high)))


def _mnist_names(count: int) -> Iterator[tuple[str, int]]:
    train = count * 6 // 7
    for index in range(count):
        yield ("train", index) if index < train else ("test", index - train)


Git = Callable[..., str]


def write_experiments(repo: Path, count: int, git: Git, env: dict[str, str]) -> None:
    """Add `count` finished experiments on HEAD, as DVC stores them, with `git fast-import`.

    Each is a commit whose parent is the baseline, changing `train.seed` in
    params.yaml and dvc.lock and the metrics, under
    `refs/exps/<bl[:2]>/<bl[2:]>/bench-<n>`.
    """
    baseline = git(repo, "rev-parse", "HEAD").strip()
    files = {n: (repo / n).read_text() for n in ("params.yaml", "dvc.lock")}
    stream = b"".join(_exp_commit(baseline, files, i, count) for i in range(1, count + 1))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, env=env, input=stream, check=True)


def _exp_commit(baseline: str, files: dict[str, str], n: int, count: int) -> bytes:
    ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/bench-{n:04d}"
    changed = {name: text.replace("seed: 0", f"seed: {n}") for name, text in files.items()}
    changed["metrics.json"] = json.dumps({"acc": round(0.5 + n / (2 * count), 6)}) + "\n"
    digest = hashlib.sha256(changed["dvc.lock"].encode()).hexdigest()
    when = f"{1_700_000_000 + n} +0000"
    head = [f"commit {ref}", f"author bench <bench@example.invalid> {when}"]
    head.append(f"committer bench <bench@example.invalid> {when}")
    out = ("\n".join(head) + "\n").encode() + _data(f"dvc: commit experiment {digest}")
    out += f"from {baseline}\n".encode()
    for name, text in changed.items():
        out += f"M 100644 inline {name}\n".encode() + _data(text)
    return out + b"\n"


def _data(text: str) -> bytes:
    raw = text.encode()
    return f"data {len(raw)}\n".encode() + raw + b"\n"
