"""The fast `dvc.lock` reader against the reference reader, on the same texts.

`LockFile.from_text` reads DVC's own layout with `lockfast.read_lock`;
`LockFile.from_text_reference` parses the whole YAML document, validates it
and splits it into entries. For every text here both must give the same
entries (values and types), the same entry texts (what a later write keeps),
or the same error. The texts are lock files as DVC and labrun write them, every
scalar form in every position of an entry, and many slightly broken files.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from labrun.errors import LabrunError
from labrun.pipeline import lockfile
from labrun.pipeline.files import dump_yaml
from labrun.pipeline.lockfast import read_lock
from labrun.pipeline.lockfile import LockFile
from labrun.pipeline.yamlfast import is_simple_text

HERE = Path(__file__).parent
COMPAT = HERE.parent / "compat"
SCALARS_TEXT = (HERE / "test_files.py").read_text(encoding="utf-8")
SCALARS = SCALARS_TEXT.split('SCALARS_TEXT = """', 1)[1].split('"""', 1)[0].split()


@pytest.fixture(autouse=True)
def fast_reader_for_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons below are of the fast reader, which small files skip otherwise."""
    monkeypatch.setattr(lockfile, "FAST_READ_BYTES", 0)


def outcome(text: str, *, reference: bool) -> tuple[Any, ...]:
    """What loading gives: the entries (repr keeps the types), texts, trailer; or the error."""
    load = LockFile.from_text_reference if reference else LockFile.from_text
    try:
        lock = load("/project", "dvc.lock", text)
    except LabrunError as exc:
        return ("error", type(exc).__name__, str(exc), exc.hint)
    state = (lock.exists, lock.stages, lock.extra, lock._texts, lock._trailer)
    return ("ok", repr(state), lock.dumps() if lock.exists else None)


def assert_same(text: str) -> None:
    assert outcome(text, reference=False) == outcome(text, reference=True), text


def fast_taken(text: str) -> bool:
    return read_lock(text) is not None


# --- lock files as DVC writes them --------------------------------------------------------


def record(path: str, md5: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"path": path, "hash": "md5", "md5": md5, "size": size, **extra}


def unshared(value: Any) -> Any:
    """A copy in which no dict or list appears twice (else YAML writes an anchor)."""
    if isinstance(value, dict):
        return {k: unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unshared(v) for v in value]
    return value


def foreach_lock(stages: int) -> str:
    """The lock file of the benchmark's foreach pipeline (as DVC 3.67.1 wrote it)."""
    entries = {
        f"shard@s{i:04d}": {
            "cmd": f"echo s{i:04d} > out/s{i:04d}.txt",
            "deps": [record("data/input.txt", "bd1cdc9f15c22f2d4b3e528cc700b1d6", 5090)],
            "outs": [record(f"out/s{i:04d}.txt", f"{i:032x}", 6)],
        }
        for i in range(stages)
    }
    return dump_yaml({"schema": "2.0", "stages": entries})


def varied_lock(seed: int) -> str:
    """A lock file with every kind of entry labrun writes: params, dirs, isexec, legacy."""
    rng = random.Random(seed)
    entries: dict[str, Any] = {}
    for i in range(rng.randint(1, 6)):
        entry: dict[str, Any] = {"cmd": rng.choice(COMMANDS)}
        if rng.random() < 0.8:
            entry["deps"] = [rng.choice(RECORDS) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            entry["params"] = {"params.yaml": rng.choice(PARAMS), **rng.choice(MORE_PARAMS)}
        if rng.random() < 0.8:
            entry["outs"] = [rng.choice(RECORDS) for _ in range(rng.randint(1, 2))]
        entries[rng.choice(NAMES) + str(i)] = entry
    # a value used twice is written once with an anchor: only some files get that
    data = {"schema": "2.0", "stages": entries if seed % 4 == 0 else unshared(entries)}
    return dump_yaml(data)


COMMANDS: list[Any] = [
    "python train.py",
    "echo 'a: b' > x",
    "echo a # not a comment in the value",
    "python t.py --seed 7" + " --flag value" * 9,
    "python t.py --seed 7" + " --flag value" * 9 + " ",
    "  leading spaces",
    "true",
    "123",
    "1e-05",
    "~",
    "a: b",
    "- item",
    "#hash",
    "it's",
    'say "hi"',
    "two\nlines",
    "tab\there",
    "ünï cödé 😀",
    "",
    ["echo a", "echo b"],
]
RECORDS: list[dict[str, Any]] = [
    record("data.csv", "0f723ae7f9bf07744445e93ac5595156", 14),
    record("model", "d51af3cbd716ee057b55c228b30d5d82.dir", 6, nfiles=4),
    record("run.sh", "9a0364b9e99bb480dd25e1f0284c8555", 7, isexec=True),
    record("dir", "9a0364b9e99bb480dd25e1f0284c8555.dir", 7, nfiles=2, isexec=True),
    record("my data/a b.csv", "0f723ae7f9bf07744445e93ac5595156", 1),
    record("true", "0f723ae7f9bf07744445e93ac5595156", 1),
    record("null", "0f723ae7f9bf07744445e93ac5595156", 1),
    record("123", "0f723ae7f9bf07744445e93ac5595156", 1),
    record("x.csv", "12345678901234567890123456789012", 3),
    record("y.csv", "1234567890123456789012345678901e", 3),
    record("z.csv", "0b101010101010101010101010101010", 3),
    record("/abs/path", "0f723ae7f9bf07744445e93ac5595156", 0),
    record("a#b", "0f723ae7f9bf07744445e93ac5595156", 0),
    record("a: b", "0f723ae7f9bf07744445e93ac5595156", 0),
    {"path": "legacy.txt", "md5": "0f723ae7f9bf07744445e93ac5595156", "size": 14},
    {"path": "s3://bucket/key", "etag": "0x1234ABCD", "version_id": "v1"},
    {"path": "dir", "md5": "abc.dir", "files": [{"relpath": "a", "md5": "123", "size": 1}]},
    {"path": "ds://d", "dataset": {"name": "d"}},
]
PARAMS: list[dict[str, Any]] = [
    {"lr": 0.01},
    {"lr": 0.01, "flag": "yes", "sci": 1e-05, "n": None, "on": True},
    {"train.epochs": 10, "train.layers": [16, 32]},
    {"model": {"depth": 3, "name": "cnn"}},
    {"name": "it's", "empty": "", "date": "2020-01-01"},
]
MORE_PARAMS: list[dict[str, Any]] = [{}, {"p.json": {"a": 1}}, {"sub/params.toml": {"b": "x"}}]
NAMES = ["train", "prep@cnn", "eval-x", "a.b", "stage_1", "true", "123", "ü"]


def test_the_benchmark_lock_takes_the_fast_path_and_agrees() -> None:
    text = foreach_lock(500)
    assert fast_taken(text)
    assert_same(text)
    lock = LockFile.from_text("/project", "dvc.lock", text)
    assert lock.dumps() == text  # untouched entries are written back as they were


@pytest.mark.parametrize("seed", range(60))
def test_lock_files_labrun_writes_agree(seed: int) -> None:
    assert_same(varied_lock(seed))


def test_usual_entries_take_the_fast_path() -> None:
    usual = RECORDS[:4]
    stages = {
        "train": {"cmd": "python t.py", "deps": usual, "params": {"params.yaml": PARAMS[1]}},
        "eval": {"cmd": "python e.py", "deps": usual[:1], "outs": usual[1:]},
    }
    text = dump_yaml({"schema": "2.0", "stages": unshared(stages)})
    assert fast_taken(text)
    assert_same(text)


def compat_locks() -> list[Path]:
    return sorted(p for p in COMPAT.rglob("dvc.lock") if "errors" not in p.parts)


@pytest.mark.parametrize("path", compat_locks(), ids=lambda p: str(p.relative_to(COMPAT)))
def test_compat_lock_files_take_the_fast_path(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert fast_taken(text)
    assert_same(text)


# --- every scalar form in every position ----------------------------------------------------

ENTRY = """\
schema: '2.0'
stages:
  {name}:
    cmd: {cmd}
    deps:
    - path: {path}
      hash: md5
      md5: {md5}
      size: {size}
    params:
      params.yaml:
        {key}: {value}
    outs:
    - path: out.txt
      md5: 0f723ae7f9bf07744445e93ac5595156
      size: 14
      {other}: {other_value}
"""
USUAL = {
    "name": "train",
    "cmd": "python t.py",
    "path": "data.csv",
    "md5": "0f723ae7f9bf07744445e93ac5595156",
    "size": "14",
    "key": "lr",
    "value": "0.1",
    "other": "nfiles",
    "other_value": "3",
}
QUOTED = ["'x'", "'it''s'", '"a\\tb"', '"x: y"', "'a' # c", "'unclosed", '"\\q"', "'a' b"]
FIELD_VALUES = [*SCALARS, *QUOTED, "[1, 2]", "{a: 1}", "|", "&a x", "*a", "!!str x", ""]
FIELD_VALUES += ["x  # comment", "a b", "x ", "a: b", "a:", "-x", "- x", "#x", "x#y", "@x"]


def one_field_varied() -> list[str]:
    texts = []
    for field in USUAL:
        for value in FIELD_VALUES:
            texts.append(ENTRY.format(**{**USUAL, field: value}))
    return texts


def test_every_scalar_form_in_every_field_agrees() -> None:
    texts = one_field_varied()
    for text in texts:
        assert_same(text)
    taken = sum(fast_taken(text) for text in texts)
    assert taken > len(texts) // 4  # most forms are no valid size, path, md5 or name


# --- slightly broken files --------------------------------------------------------------------

LINE_EDITS = [
    lambda line, rng: " " + line,
    lambda line, rng: line[1:],
    lambda line, rng: line + " # c",
    lambda line, rng: line + "  ",
    lambda line, rng: line.replace(": ", ":", 1),
    lambda line, rng: line.replace(": ", ": " + rng.choice(FIELD_VALUES) + " ", 1),
    lambda line, rng: line.split(": ")[0] + ": " + rng.choice(FIELD_VALUES),
    lambda line, rng: line.replace("-", " ", 1),
    lambda line, rng: line + "\n",
    lambda line, rng: line + "\n" + line,
    lambda line, rng: "# " + line,
    lambda line, rng: line.replace("md5", "md6"),
    lambda line, rng: line.replace("path", "paths"),
    lambda line, rng: "",
    lambda line, rng: line + "\n  extra: 1" if rng.random() < 0.5 else line + "\ndatasets: []",
    lambda line, rng: line.replace("    ", "\t", 1),
]


def mutants(text: str, seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    lines = text.split("\n")
    out = []
    for _ in range(count):
        copy = list(lines)
        for _ in range(rng.randint(1, 2)):
            where = rng.randrange(len(copy))
            copy[where] = rng.choice(LINE_EDITS)(copy[where], rng)
        out.append("\n".join(copy))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_broken_lock_files_agree(seed: int) -> None:
    base = [foreach_lock(3), varied_lock(seed), ENTRY.format(**USUAL)][seed % 3]
    for text in mutants(base, seed, 100):
        assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "schema: '2.0'\n",
        "schema: '2.0'\nstages:\n",
        "schema: '2.0'\nstages: {}\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x",  # no final line break
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n",  # duplicate stage
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    cmd: y\n",  # duplicate key
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\ndatasets:\n- name: d\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: 1\n",
        "schema: '2.0'\nstages:\n  a:\n    deps:\n    - path: x\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    outs:\n    - path: x\n      size: big\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    outs:\n    - md5: abc\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    deps:\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    params:\n      params.yaml:\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    params:\n      p.yaml:\n        1: x\n",
        "schema: '2.0'\nstages:\n  1:\n    cmd: x\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n---\n",
        "schema: '1.0'\nstages:\n  a:\n    cmd: x\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n\n  b:\n    cmd: y\n",
        "schema: '2.0'\nstages:\n  # comment\n  a:\n    cmd: x\n",
        "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    outs:\n    - path: o\n      nfiles: 1.5\n",
    ],
)
def test_edge_cases_agree(text: str) -> None:
    assert_same(text)


# --- the character check in front of both fast readers --------------------------------------


def test_is_simple_text_is_the_printable_check_it_stands_for() -> None:
    """ASCII text takes a byte-table check; it must agree with `str.isprintable`."""
    rng = random.Random(7)
    odd = [chr(i) for i in range(0x180)] + ["\u2028", "\x85", "\ufeff", "é", "😀", "\t"]
    for _ in range(5000):
        size = rng.randint(0, 40)
        text = "".join(
            rng.choice(odd) if rng.random() < 0.05 else rng.choice("ab \n:-.") for _ in range(size)
        )
        printable = text.replace("\n", "").isprintable()
        marker = text.startswith(("---", "...")) or "\n---" in text or "\n..." in text
        assert is_simple_text(text) == (printable and not marker), repr(text)


def test_only_long_lock_files_load_the_fast_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few stages are read the reference way: compiling the fast reader's patterns
    would cost more than it saves."""
    monkeypatch.undo()
    calls: list[int] = []
    from labrun.pipeline import lockfast

    real = lockfast.read_lock
    monkeypatch.setattr(lockfast, "read_lock", lambda text: calls.append(len(text)) or real(text))
    small = "schema: '2.0'\nstages:\n  a:\n    cmd: x\n"
    assert LockFile.from_text("/p", "dvc.lock", small).stages == {"a": {"cmd": "x"}}
    assert calls == []
    big = small + "".join(f"  s{i}:\n    cmd: echo {i}\n" for i in range(1000))
    assert len(big) >= lockfile.FAST_READ_BYTES
    assert len(LockFile.from_text("/p", "dvc.lock", big).stages) == 1001
    assert calls == [len(big)]
