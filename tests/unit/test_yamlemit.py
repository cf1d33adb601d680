"""The fast YAML writer against ruamel.yaml, the reference: same bytes whenever it does not
decline, and typical lock entries, run-cache entries and `.dvc` files never declined."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from labrun.errors import LabrunError
from labrun.pipeline import files
from labrun.pipeline.yamlemit import dump_simple
from labrun.repro.events import RecordingReporter
from tests.conftest import TmpProject
from tests.func.repro_fixtures import Make
from tests.unit.test_files import DVC_WRITTEN

COMPAT = Path(__file__).resolve().parents[1] / "compat"


def check(data: Any) -> str | None:
    """The fast text, asserted equal to ruamel's whenever there is one."""
    fast = dump_simple(data)
    if fast is not None:
        assert fast == files.dump_yaml_reference(data), data
    return fast


def check_all(data: Any) -> str:
    """As `check`, and the fast writer must not decline."""
    fast = check(data)
    assert fast is not None, data
    return fast


# -- scalars ----------------------------------------------------------------------------

LOOKALIKES = [
    # strings ruamel quotes because, unquoted, they would read back as another type
    *["1", "-1", "+1", "017", "0o17", "0x1F", "0b101", "1_000", "-_", "+_", "0_"],
    *["2.0", "1.", ".5", "+.5", "-.5e+3", "1e3", "1e-05", "1E+3", "1_0.0_1", ".5e3"],
    *[".inf", "-.inf", "+.Inf", ".INF", ".nan", ".NaN", ".NAN", "-.nan", "+.nan"],
    *["true", "True", "TRUE", "false", "False", "FALSE", "tRue", "truex"],
    *["null", "Null", "NULL", "nUll", "~", "~x", "<<", "<", "=", "==", "<<<"],
    *["2020-01-01", "2020-1-1", "2020-01-01T10:00:00Z", "2020-1-1 1:00:00", "2020-01-01t1:00:00"],
    *["2020-01-01 10:00:00.5 +01:00", "2020-01-01 10:00:00 -5", "20200-01-01", "2020-01-011"],
    # YAML 1.1 types that are plain strings in YAML 1.2
    *["yes", "no", "on", "off", "y", "n", "Yes", "NO", "1:20", "190:20:30", "0b2", "08", "09.5"],
]
INDICATORS = [
    *["-", "?", ":", "- a", "? a", ": a", "-a", "?a", ":a", "a:", "a: b", "a:b", "http://x"],
    *["#a", "a#b", "a #b", "a# b", ",a", "a,b", "[a]", "a[0]", "{a}", "${x}", "&a", "*a", "!a"],
    *["|a", ">a", "a > b", "a | b", "%a", "@a", "`a`", "'a'", '"a"', "a'b", 'a"b', "it's"],
    *["---", "--- a", "---a", "...", "....", "a...", " a", "a ", " ", "  ", "a  b", "\\", "a\\b"],
    *["'a: b'", "a: 'b'", "a 'b' # c", "\"a\": 'b'", "'\\\"'", "@a'b", "--- 'x'", "'"],
    *["a:\\b", "C:\\dir", "", "''", "-1'", "1'"],
]
TYPICAL = [
    *["data.txt", "./B", "../r1.txt", "out/", "entrée.txt", "données/résumé.csv", "日本語"],
    *["204b5c867719d0d12813e962b54d6537", "39552518d566aa5d4f42dd670996e2d3.dir", "md5"],
    *["cat data.txt > prep.txt", "python train.py --lr 0.1 && touch done", 'echo "hi" > x'],
    *["printf 'a b' | tr a-z A-Z > out.txt", "sh -c 'exit 3'", "a=$(cat x)", "echo a; echo b"],
]
SCALARS: list[Any] = [
    *LOOKALIKES,
    *INDICATORS,
    *TYPICAL,
    *[0, 1, -1, 10**30, -(10**30), True, False, None, [], {}],
    *[0.0, -0.0, 0.1, 1e-05, 1000.0, 1e16, 1.5e300, -2.5e-300, 5e-324, 1 / 3, 12345.678],
    *[float("inf"), float("-inf"), float("nan")],
]


def placements(value: Any) -> Iterator[dict[str, Any]]:
    """`value` as a mapping value and as a list item, at several depths."""
    yield {"k": value}
    yield {"k": [value, value if not isinstance(value, list | dict) else 1]}
    yield {"a": {"b": {"k": value}}}
    yield {"a": [{"b": [1, {"k": value, "z": [value if type(value) in (str, int) else 2]}]}]}


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_scalars_as_values_and_items(value: Any) -> None:
    for data in placements(value):
        check_all(data)


@pytest.mark.parametrize("text", [s for s in LOOKALIKES + INDICATORS if s], ids=repr)
def test_strings_as_keys_are_plain_or_declined(text: str) -> None:
    fast = check({text: 1, "next": {text: [text]}})
    if fast is None:  # declined only for keys that ruamel quotes (or writes as `? key`)
        assert files.dump_yaml_reference({text: 1})[:1] in ("'", '"', "?")


def test_lookalike_strings_are_single_quoted() -> None:
    text = check_all({"v": ["1", "2.0", "true", "null", "~", "2020-01-01", "yes", "", "it's"]})
    assert (
        text
        == "v:\n- '1'\n- '2.0'\n- 'true'\n- 'null'\n- '~'\n- '2020-01-01'\n- yes\n- ''\n- it's\n"
    )


def test_quotes_inside_quoted_strings() -> None:
    assert check_all({"c": "a: 'b'", "d": 'x: "y" \\'}) == "c: \"a: 'b'\"\nd: 'x: \"y\" \\'\n"


def test_floats_as_ruamel_writes_them() -> None:
    rnd = random.Random(7)
    values = [rnd.uniform(-1, 1) * 10 ** rnd.randint(-320, 308) for _ in range(500)]
    values += [float(rnd.randint(-(10**6), 10**6)) for _ in range(100)]
    values += [rnd.random() * 10**e for e in range(-20, 25)]
    check_all({"f": values, "g": {f"x{i}": v for i, v in enumerate(values)}})


def fuzz_strings(seed: int, alphabet: str, count: int, longest: int) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choices(alphabet, k=rnd.randint(1, longest))) for _ in range(count)]


def test_number_like_strings_resolve_as_ruamel_resolves_them() -> None:
    """Random digits, signs, dots, exponents, underscores and date/time marks, as values."""
    strings = fuzz_strings(1, "0123456789_+-.eEoxbaAfFT:Z n", 2500, 10)
    strings += fuzz_strings(2, "0123456789-:T .Z+", 500, 26)
    strings += ["2020-" + s for s in fuzz_strings(3, "0123456789-:Tt .Z+", 500, 20)]
    for start in range(0, len(strings), 500):
        batch = strings[start : start + 500]
        check_all({"v": batch, "m": {f"k{i}": s for i, s in enumerate(batch)}})


def test_indicator_strings_as_values() -> None:
    strings = fuzz_strings(4, "ab -?:#,[]{}&*!|>'\"%@`\\.~<=1", 4000, 8)
    for start in range(0, len(strings), 500):
        check_all({"v": strings[start : start + 500]})


def test_indicator_strings_as_keys() -> None:
    keys = sorted(set(fuzz_strings(5, "ab -?:#,[]{}&*!|>'\"%@`\\.~<=1", 3000, 6)))
    plain = [k for k in keys if dump_simple({k: 1}) is not None]
    assert len(plain) > len(keys) / 3
    check_all({k: i for i, k in enumerate(plain)})
    for key in random.Random(6).sample(sorted(set(keys) - set(plain)), 200):
        assert files.dump_yaml_reference({key: 1})[:1] in ("'", '"', "?"), key


UNICODE_EDGES = (
    "\x7f\x80\x85\x9f\xa0é\u2027\u2028\u2029\u202a\ud7ff\ue000\ufefe\ufeff\uff00\ufffd\ufffe"
)
UNICODE_EDGES += "\U00010000\U0001f600\U0010ffff\t\x00\x1b\r\n"


@pytest.mark.parametrize("char", UNICODE_EDGES, ids=lambda c: f"U+{ord(c):04X}")
def test_unicode_and_control_characters(char: str) -> None:
    texts = [char, f"a{char}", f"{char}a", f"a{char}b", f"'{char}", f"{char}: x", f"a'{char}: x"]
    for text in texts:
        for data in ({"k": text}, {"l": [text]}, {text + "k": 1}):
            check(data)
    if char in "é\u202a\ue000\U0001f600":
        check_all({"path": f"données/{char}.txt", "l": [f"- {char}"]})


# -- line width -------------------------------------------------------------------------


def nested(depth: int, leaf: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"cmd": leaf}
    for level in range(depth):
        data = {f"s{level}": data}
    return data


def words(rnd: random.Random, length: int, glue: str) -> str:
    text = "go "
    while len(text) < length:
        text += rnd.choice(["a", "bb", "ccc", "dddd", "eeeeeeee", "&&", ">", glue]) + " "
    return text[:length].strip() + "x"


@pytest.mark.parametrize("depth", range(7))
def test_long_strings_around_the_folding_width(depth: int) -> None:
    """Fast and ruamel agree; the fast writer declines only quoted strings ruamel folds.

    Plain, single-quoted (`: `) and double-quoted (`'` and ` #`) strings of 60 to 100
    characters, as a value and as a list item, with keys `depth` levels deep.
    """
    rnd = random.Random(depth)
    seen_fast = seen_declined = 0
    for length in range(60, 101):
        glue = rnd.choice(["w", "k: v", "it's #"])
        text = words(rnd, length, glue)
        for data, lines in ((nested(depth, text), depth + 1), (nested(depth, [text]), depth + 2)):
            fast = check(data)
            assert fast is not None or glue != "w"  # plain strings are folded, never declined
            if fast is None:
                reference = files.dump_yaml_reference(data).splitlines()
                assert len(reference) > lines or max(map(len, reference)) > 80
                seen_declined += 1
            else:
                seen_fast += 1
    assert seen_fast > 5 and seen_declined > 5


@pytest.mark.parametrize("depth", range(7))
def test_long_plain_strings_are_folded_as_ruamel_folds_them(depth: int) -> None:
    """Words of 1 to 85 characters (some wider than a line), runs of 1 to 3 spaces."""
    rnd = random.Random(100 + depth)
    for _ in range(40):
        pieces: list[str] = []
        while sum(len(piece) for piece in pieces) < rnd.randint(60, 220):
            pieces.append(
                "w" * rnd.choice([1, 2, 5, 9, 20, 30, 85]) + " " * rnd.choice([1, 1, 2, 3])
            )
        text = "".join(pieces).strip()
        check_all(nested(depth, text))
        check_all(nested(depth, ["short", text, 12345]))
        check_all(nested(depth, [{"key" * rnd.randint(1, 9): text}]))


def test_long_words_and_long_keys() -> None:
    for length in range(70, 90):
        check_all({"k": "x" * length, "l": ["x" * length], "n": 10**length})
        check({"x" * length: "v", "y" * length: {"z": 1}})
    for value in (1, {"a": 1}, [1]):
        assert files.dump_yaml_reference({"k" * 123: value}).startswith("? ")
        assert check({"k" * 123: value}) is None


@pytest.mark.parametrize("depth", range(4))
def test_long_keys_with_spaces(depth: int) -> None:
    """ruamel breaks a key holding spaces across lines when it crosses column 80."""
    results = []
    for length in range(20, 40):
        key = "ab " * length + "c"
        for value in (None, 1, {"x": 1}, ["y"]):
            for data in (nested(depth, {key: value}), nested(depth, [{key: value}])):
                results.append(check(data) is None)
    assert any(results) and not all(results)


# -- structure --------------------------------------------------------------------------


def test_empty_collections_and_nulls() -> None:
    data: dict[str, Any] = {
        "a": [],
        "b": {},
        "c": [[], {}, None, "", 0],
        "d": [{"x": [], "y": None}],
        "e": None,
    }
    assert check_all(data) == (
        "a: []\nb: {}\nc:\n- []\n- {}\n- \n- ''\n- 0\nd:\n- x: []\n  y:\ne:\n"
    )
    assert check_all({}) == "{}\n"


KEYS = ["path", "md5", "a.b", "train.layers", "l.0", "LR", "x-y", "_k", "Cfg.depth", "3d", "é"]


def random_value(rnd: random.Random, depth: int) -> Any:
    roll = rnd.random()
    if depth < 4 and roll < 0.2:
        return {
            rnd.choice(KEYS) + str(i): random_value(rnd, depth + 1)
            for i in range(rnd.randint(0, 4))
        }
    if depth < 4 and roll < 0.35:
        return [random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    return rnd.choice(SCALARS)


def test_random_documents() -> None:
    rnd = random.Random(1234)
    fast = 0
    for _ in range(400):
        data = {rnd.choice(KEYS) + str(i): random_value(rnd, 0) for i in range(rnd.randint(1, 6))}
        fast += check(data) is not None
    assert fast > 250  # lists of lists and long lines are the only declines here


@pytest.mark.parametrize(
    "data",
    [
        {"k": "two\nlines"},
        {"k": "tab\there"},
        {"k": "bell\x07"},
        {"k": date(2020, 1, 1)},
        {"k": (1, 2)},
        {"k": OrderedDict(a=1)},
        {1: "int key"},
        {"": "empty key"},
        {"a: b": "key needing quotes"},
        {"true": "key read as a bool"},
        {"k": [[1, 2]]},
        {"k": "word " * 20},
        {"k": "é'x: y"},
        OrderedDict(a=1),
        [1, 2],
        None,
    ],
    ids=repr,
)
def test_declines(data: Any) -> None:
    assert dump_simple(data) is None
    assert files.dump_yaml(data) == files.dump_yaml_reference(data)


def test_shared_containers_are_declined_as_ruamel_writes_anchors() -> None:
    layers = [16, 32]
    data = {"train": {"layers": layers}, "train.layers": layers}
    assert dump_simple(data) is None
    assert "&id001" in files.dump_yaml(data)
    assert dump_simple({"a": {}, "b": {}}) is not None  # equal but distinct objects


# -- what labrun writes -----------------------------------------------------------------

LOCK_EXAMPLE = """\
schema: '2.0'
stages:
  train:
    cmd:
    - mkdir -p model
    - cp prep.txt model/m.bin
    deps:
    - path: raw
      hash: md5
      md5: 39552518d566aa5d4f42dd670996e2d3.dir
      size: 5
      nfiles: 3
    params:
      params.yaml:
        a: 1
        d.e:
          f: 2
        flag: true
        lr: 1e-05
        name: yes
        none:
        num: '1'
        empty: ''
        train.layers:
        - 16
        - 32.5
        - x
      p.json:
        j:
          k:
          - 1
          - 2
        z:
    outs:
    - path: tool.sh
      hash: md5
      md5: 3e2b31c72181b87149ff995e7202c0e3
      size: 10
      isexec: true
"""


def corpus_files() -> list[Path]:
    found = [p for p in COMPAT.rglob("*") if p.is_file()]
    return sorted(p for p in found if p.name == "dvc.lock" or p.suffix == ".dvc")


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(COMPAT)))
def test_lock_and_dvc_files_of_the_compat_corpus(path: Path) -> None:
    check_all(files.parse_yaml(path.read_text(encoding="utf-8"), str(path)))


@pytest.mark.parametrize("name", DVC_WRITTEN)
def test_files_dvc_wrote(name: str) -> None:
    text = DVC_WRITTEN[name]
    fast = check(files.parse_yaml(text, name))
    assert fast == text or (fast is None and name == "dvc.lock")  # it has folded lines


def test_a_lock_file_with_every_kind_of_value_takes_the_fast_path() -> None:
    assert check_all(files.parse_yaml(LOCK_EXAMPLE, "dvc.lock")) == LOCK_EXAMPLE


def test_every_yaml_file_of_the_compat_corpus() -> None:
    for path in sorted(COMPAT.rglob("*.yaml")):
        try:
            data = files.parse_yaml(path.read_text(encoding="utf-8"), str(path))
        except LabrunError:
            continue  # the corpus of errors
        if isinstance(data, dict):
            check(data)


PARAMS = """\
lr: 0.001
eps: 1e-05
epochs: 10
flag: true
name: yes
tag: '1'
nothing: null
empty: ''
train:
  layers: [16, 32]
  opt: {kind: adam, beta: 0.9}
"""
STAGES = """\
stages:
  prep:
    cmd: cat data.txt > prep.txt && echo "ok" > log.txt
    deps: [data.txt]
    params: [lr, eps, name, tag, nothing, empty]
    outs: [prep.txt, log.txt]
  train:
    cmd: cat prep.txt prep.txt > model.txt
    deps: [prep.txt]
    params: [train, epochs, flag, train.layers]
    outs: [model.txt]
"""


def test_what_a_repro_writes_takes_the_fast_path(make_project: Make) -> None:
    proj: TmpProject = make_project({"dvc.yaml": STAGES, "params.yaml": PARAMS, "data.txt": "a\n"})
    api.repro(proj.root, api.ReproOptions(), RecordingReporter(), None)
    written = [proj.root / "dvc.lock", *sorted((proj.root / ".dvc/cache/runs").rglob("*"))]
    written = [p for p in written if p.is_file()]
    assert len(written) == 3
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert check_all(files.parse_yaml(text, str(path))) == text


def test_the_fast_path_does_not_import_ruamel() -> None:
    code = (
        "import sys\nfrom labrun.pipeline import files\n"
        "files.dump_yaml({'stages': {'a': {'cmd': 'echo', 'deps': [{'path': 'x'}]}}})\n"
        "assert not [m for m in sys.modules if m.startswith('ruamel')]\n"
        "files.dump_yaml({'k': 'two\\nlines'})\n"
        "assert 'ruamel.yaml' in sys.modules\n"
    )
    root = os.fspath(Path(__file__).resolve().parents[2])
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
