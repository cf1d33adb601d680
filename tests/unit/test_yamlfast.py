"""The pure-Python reader of simple YAML against the libyaml reader it stands in front of.

For every text here `load_simple` either declines (raises NotSimple) or returns
exactly what the libyaml path (`files._load_libyaml`, itself tested against
ruamel.yaml in test_files.py) returns, types included. It must also decline
every text the libyaml path rejects: the full reader writes the error messages.
"""

from __future__ import annotations

import ast
import math
import random
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labrun.pipeline import files
from labrun.pipeline.files import dump_yaml, parse_yaml
from labrun.pipeline.yamlfast import NotSimple, load_simple, resolve_plain

HERE = Path(__file__).parent
COMPAT = HERE.parent / "compat"

# --- the differential check ---------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (NaN equals NaN, and -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return same(list(a), list(b)) and same(list(a.values()), list(b.values()))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b) and repr(a) == repr(b)  # repr: a datetime's zone name too


def fast(text: str) -> tuple[bool, Any]:
    try:
        return True, load_simple(text)
    except NotSimple:
        return False, None


def disagreement(text: str) -> str | None:
    """None when the fast path declines or agrees with the libyaml path; else why not."""
    taken, value = fast(text)
    if not taken:
        return None
    try:
        expected = files._load_libyaml(text)
    except files._YamlFailure as failure:
        return f"accepted what the full reader rejects ({failure.cause!r}): {value!r}"
    return None if same(value, expected) else f"{value!r} != {expected!r}"


def assert_agreement(texts: Iterable[str], min_taken: float = 0.0) -> None:
    texts = list(texts)
    failures = [(text, why) for text in texts if (why := disagreement(text)) is not None]
    assert failures[:3] == []
    taken = sum(fast(text)[0] for text in texts)
    assert taken >= min_taken * len(texts), f"only {taken} of {len(texts)} took the fast path"


# --- corpora: the texts of test_files.py and test_schema.py, the compat projects ----------


def string_constants(path: Path) -> list[str]:
    """Every string literal of a Python file (adjacent literals already joined)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    return sorted(found)


def assigned_literal(path: Path, name: str) -> Any:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == name:
            return ast.literal_eval(node.value)
    raise LookupError(name)


SCALARS = assigned_literal(HERE / "test_files.py", "SCALARS_TEXT").split()
DVC_WRITTEN: dict[str, str] = assigned_literal(HERE / "test_files.py", "DVC_WRITTEN")


@pytest.mark.parametrize("name", ["test_files.py", "test_schema.py", "test_interpolate.py"])
def test_every_text_of_the_unit_tests_agrees(name: str) -> None:
    assert_agreement(string_constants(HERE / name))


def compat_files() -> list[Path]:
    suffixes = {".yaml", ".yml", ".lock", ".dvc"}
    found = [
        path
        for folder in ("corpus", "errors", "repro_corpus")
        for path in (COMPAT / folder).rglob("*")
        if path.suffix in suffixes and path.is_file()
    ]
    return sorted(found)


COMPAT_FILES = compat_files()
DVC_FILE_NAMES = {"dvc.yaml", "dvc.lock", "params.yaml"}


@pytest.mark.parametrize("path", COMPAT_FILES, ids=lambda p: str(p.relative_to(COMPAT)))
def test_compat_file_agrees(path: Path) -> None:
    assert disagreement(path.read_text(encoding="utf-8")) is None


def test_compat_dvc_files_take_the_fast_path() -> None:
    typical = [
        path
        for path in COMPAT_FILES
        if (path.name in DVC_FILE_NAMES or path.suffix == ".dvc") and "errors" not in path.parts
    ]
    declined = [str(p) for p in typical if not fast(p.read_text(encoding="utf-8"))[0]]
    assert len(typical) > 80  # the pipeline corpus alone has 96
    assert declined == []


@pytest.mark.parametrize("name", DVC_WRITTEN)
def test_dvc_written_files_take_the_fast_path(name: str) -> None:
    text = DVC_WRITTEN[name]
    assert same(load_simple(text), files._load_libyaml(text))


def dvc_lock(stages: int) -> str:
    """A dvc.lock as DVC writes it (ruamel round trip), long commands folded."""
    entries = {}
    for i in range(stages):
        dep = {"path": f"data/f{i}.csv", "hash": "md5", "md5": f"{i:032x}", "size": i}
        out = {"path": f"model{i}", "hash": "md5", "md5": f"{i:032x}.dir", "size": 13}
        entries[f"stage{i}"] = {
            "cmd": f"python t.py --seed {i}" + " --flag value" * (i % 9) + " " * (i % 2),
            "deps": [dep, {**dep, "path": "train.py", "isexec": True}],
            "params": {"params.yaml": {"lr": 0.01, "flag": "yes", "sci": 1e-05, "n": None}},
            "outs": [{**out, "nfiles": 3}],
        }
    return dump_yaml({"schema": "2.0", "stages": entries})


def test_a_large_dvc_written_lock_takes_the_fast_path() -> None:
    text = dvc_lock(120)
    # ruamel folded the long commands over two lines, quoting those with a trailing space
    assert "value --flag \n      value" in text
    assert "cmd: 'python t.py --seed 7 --flag value" in text
    data = load_simple(text)
    assert same(data, files._load_libyaml(text))
    assert data["stages"]["stage8"]["cmd"].endswith(" --flag value --flag value")
    assert data["stages"]["stage7"]["cmd"].endswith(" --flag value --flag value ")


# --- generated documents: every scalar form in every position ----------------------------

EXTRA_VALUES = [
    *["'yes'", "''", "'it''s'", "'a # b'", "'a: b'", "' lead'", "'trail '", "'x'y", "'x' #c"],
    *["'x'#c", "'unclosed", "'a''", "''''", "'é ü'", "'#'", "'- x'", "'[1]'"],
    *['""', '"yes"', '"a\\nb"', '"\\x41\\u263A\\U0001F600"', '"\\""', '"a\\\\b"', '"\\/"'],
    *['"\\e\\0\\a\\b\\t\\v\\f\\r"', '"\\N\\_\\L\\P"', '"\\ x"', '"\\x4"', '"\\xZZ"', '"\\q"'],
    *['"\\ud800"', '"\\U00110000"', '"\\x01"', '"x" y', '"x"#c', '"a # b"', '"unclosed'],
    *["[]", "[ ]", "[1, 2]", "[1,2]", "[a, 'b c', \"d\"]", "[1, 2, ]", "[,]", "[1, , 2]"],
    *["[a: 1]", "[[1, 2], [3]]", "[{a: 1}]", "[a b, c]", "[a #c]", "[a] # c", "[a]#c"],
    *["[-1, -x]", "[- x]", "[&a x]", "[*a]", "[!t x]", "[a", "[a]]", "[a]x", "[yes, ~, 1e3]"],
    *["{}", "{ }", "{a: 1}", "{a: 1, 'b': x}", "{a}", "{a: }", "{a: 1, a: 2}", "{a:1}"],
    *["{a: [1, 2], b: {c: d}}", "{a: b: c}", "{'a': 1}", '{"a": 1}', "{1: x, 2: y}"],
    *["{a: 1,}", "{a: 1", "{? a: 1}", "{a: {b: {c: [d]}}}", "{[a]: 1}", "{a: b, c}"],
    *["-", "- x", "-x", "--flag", "b: c", "b:", "b:c", "&a x", "*a", "!!str x", "? x", ":x"],
    *[",x", "|x", ">x", "%x", "@x", "`x`", "x\u00a0", "x # c", "x #c", "x#c", "x  ", "a ' b"],
    *['a " b', "a\\nb", "x: y", "é", "中文 值", "😀", "a\u0301", "עברית", "${item.x}", "${x}"],
    *["echo 'a' > b", "a [b] {c}", "a, b", "http://x.y/z?q=1#f", "c:\\x\\y", "1 2", "~x", "-.5"],
]
VALUES = SCALARS + EXTRA_VALUES
CONTEXTS = [
    "v: {}\n",
    "- {}\n",
    "a:\n  b: {}\n  c: 1\n",
    "a:\n- {}\n- x\nb: 2\n",
    "- k: {}\n  j: 2\n",
    "- - {}\n  - 2\n",
    "k: [{}, 1]\n",
    "k: {{x: {}}}\n",
    "[{}]\n",
    "{}\n",
    "{}: key\n",
    "- {}: key\n",
    "v: {} # comment\n",
    "v: {}\n  continued\n",
    "- {}\n  continued\n\n  again\n",
    "v:\n  {}\n",
    "v: {}",
    "a:\n  - {}\n  -\n  - z\n",
]


def test_every_scalar_form_in_every_position_agrees() -> None:
    texts = [context.format(value) for value in VALUES for context in CONTEXTS]
    assert_agreement(texts, min_taken=0.5)


KEYS = [
    *["a", "key with spaces", "'quoted key'", '"dq key"', "1", "-1", "1.5", "true", "~", "null"],
    *["2020-01-01", "ключ", "a:b", "http://x", "-k", "a#b", "k  ", "'it''s'", "'a: b'", "''"],
    *['"a\\tb"', "<<", "=", "'<<'", "? a", "[a]", "{a: 1}", "&k a", "*k", "!t a", "a #b"],
    *["'a' b", '"a"  ', "'a'", "k" * 1100, "'" + "k" * 1100 + "'", "😀", "a\u00a0", ".nan"],
]
KEY_CONTEXTS = ["{}: 1\n", "{}:\n  x: 1\n", "- {}: 1\n", "o:\n  {}: 1\n  z: 2\n", "{}:\n"]


def test_every_key_form_agrees() -> None:
    texts = [context.format(key) for key in KEYS for context in KEY_CONTEXTS]
    texts += [f"{a}: 1\n{b}: 2\n" for a in KEYS[:24] for b in KEYS[:24]]  # duplicates
    assert_agreement(texts, min_taken=0.5)


# --- block scalars --------------------------------------------------------------------------

HEADERS = ["|", "|-", "|+", ">", ">-", ">+", "|2", "|-1", "| # c", "|-  #c", "|x", "|#c", "|+-"]
BODIES = [
    "  a\n  b\n",
    "  a\n\n  b\n",
    "\n  a\n",
    "  \n  a\n",
    "    \n  a\n",
    "  a\n\n\n",
    "  a\n   b\n",
    "   a\n  b\n",
    "  # not a comment\n",
    "  a\n  \n  b\n",
    "  a\n     \n",
    "  a\n b\n",
    "  a\n  - b\n  c: d\n",
    "  a  \n  b\t\n",
    "  é 中 😀\n",
    "",
    "\n\n",
]
FOLLOWERS = ["", "z: 1\n", "\nz: 1\n", "# c\nz: 1\n", "  # c\n", "\n\n# c\n\n"]
BLOCK_CONTEXTS = ["k: {}\n{}{}", "o:\n  k: {}\n{}{}", "- {}\n{}{}", "- k: {}\n{}{}"]


def indented(body: str, by: int) -> str:
    return "".join(" " * by + line if line.strip() else line for line in body.splitlines(True))


def block_documents() -> Iterator[str]:
    for header in HEADERS:
        for body in BODIES:
            for context in BLOCK_CONTEXTS:
                shift = 2 if context.startswith(("o:", "- k")) else 0
                for follower in FOLLOWERS:
                    follow = follower if context[0] != "-" else follower.replace("z: 1", "- z")
                    text = context.format(header, indented(body, shift), follow)
                    yield text
                    yield text.rstrip("\n")  # no final line break


def test_block_scalars_agree() -> None:
    assert_agreement(block_documents(), min_taken=0.3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k: |\n  a\n\n  b\n\n\nz: 1\n", {"k": "a\n\nb\n", "z": 1}),
        ("k: |-\n  a\n\n", {"k": "a"}),
        ("k: |+\n  a\n\n\n", {"k": "a\n\n\n"}),
        ("k: >\n  a\n  b\n\n  c\n", {"k": "a b\nc\n"}),
        ("- |\n   indented\n    more\n", ["indented\n more\n"]),
    ],
)
def test_block_scalar_values(text: str, expected: Any) -> None:
    assert load_simple(text) == expected


# --- structure: random documents, and every file of the corpus slightly broken -------------


class Writer:
    """Writes random nested block YAML, with comments and blank lines in odd places."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lines: list[str] = []

    def noise(self, indent: int) -> None:
        roll = self.rng.random()
        if roll < 0.1:
            self.lines.append(" " * self.rng.randint(0, indent + 3) + "# note: here")
        elif roll < 0.15:
            self.lines.append(" " * self.rng.randint(0, 3))

    def comment(self) -> str:
        return self.rng.choice(["", "", "", " # c", "  #: c", "#c"])

    def value(self, prefix: str, indent: int, depth: int) -> None:
        kind = self.rng.choice(["scalar"] * 4 + ["map", "seq", "block", "empty"])
        step = self.rng.choice([1, 2, 2, 4])
        if depth > 3 or kind == "scalar":
            self.lines.append(prefix + " " + self.rng.choice(VALUES[:160]) + self.comment())
        elif kind == "block":
            self.lines.append(prefix + " " + self.rng.choice(HEADERS[:6]) + self.comment())
            self.lines.extend(indented(self.rng.choice(BODIES[:8]), indent + step).splitlines())
        elif kind == "empty":
            self.lines.append(prefix + self.comment())
        else:
            self.lines.append(prefix + self.comment())
            nested = indent + step
            if kind == "seq" and prefix.rstrip().endswith(":") and self.rng.random() < 0.3:
                nested = indent  # an indentless sequence
            (self.mapping if kind == "map" else self.sequence)(nested, depth + 1)

    def mapping(self, indent: int, depth: int, first: str | None = None) -> None:
        keys = self.rng.sample(KEYS[:20], self.rng.randint(1, 4))
        for number, key in enumerate(keys):
            self.noise(indent)
            lead = first if number == 0 and first is not None else " " * indent
            self.value(f"{lead}{key}:", indent, depth)

    def sequence(self, indent: int, depth: int) -> None:
        for _ in range(self.rng.randint(1, 4)):
            self.noise(indent)
            dash = " " * indent + "-" + " " * self.rng.choice([1, 1, 2])
            roll = self.rng.random()
            if roll < 0.3 and depth < 4:
                self.mapping(len(dash), depth + 1, first=dash)
            elif roll < 0.4 and depth < 4:
                self.lines.append(dash.rstrip() + self.comment())
                self.sequence(indent + 2, depth + 1)
            else:
                self.value(dash.rstrip(), indent, depth)

    def document(self) -> str:
        (self.mapping if self.rng.random() < 0.8 else self.sequence)(0, 0)
        return "\n".join(self.lines) + self.rng.choice(["\n", "", "\n\n", "\n# end\n"])


def test_random_documents_agree() -> None:
    assert_agreement((Writer(seed).document() for seed in range(1000)), min_taken=0.2)


def mutations(text: str, rng: random.Random, count: int) -> Iterator[str]:
    lines = text.split("\n")
    for _ in range(count):
        at = rng.randrange(len(lines))
        line = lines[at]
        changed = rng.choice(
            [
                " " + line,
                line[1:] if line.startswith(" ") else line,
                line + " # c",
                line + ":",
                line.replace(": ", ":", 1),
                line.replace(" ", "  ", 1),
                line + "\n" + line,
                line + "\n   x",
                line.replace("-", "", 1),
                line.replace("'", "", 1),
                "",
            ]
        )
        yield "\n".join([*lines[:at], changed, *lines[at + 1 :]])


def test_slightly_broken_corpus_files_agree() -> None:
    rng = random.Random(7)
    texts = [path.read_text(encoding="utf-8") for path in COMPAT_FILES]
    texts += DVC_WRITTEN.values()
    assert_agreement(mutated for text in texts for mutated in mutations(text, rng, 12))


@pytest.mark.parametrize(
    "text", ["1.5", "-0.25", "00.5", "-0.0", "0.0", "1.", "+1.5", "1.5.5", "1..5", "٣.5", "1.٣"]
)
def test_decimals_resolve_as_the_reference_does(text: str) -> None:
    assert same(resolve_plain(text), files.load_yaml_reference(f"v: {text}\n")["v"])


# --- wiring into files.parse_yaml ----------------------------------------------------------


def test_parse_yaml_takes_the_fast_path_and_falls_back() -> None:
    assert parse_yaml("a: &x [1]\nb: *x\n", "./x.yaml") == {"a": [1], "b": [1]}
    assert parse_yaml("# nothing\n", "./x.yaml") == {}
    assert parse_yaml("v: 017\n", "./x.yaml") == {"v": 17}


def test_reading_simple_files_imports_no_yaml_library() -> None:
    text = DVC_WRITTEN["dvc.lock"]
    code = (
        "import sys\nfrom labrun.pipeline import files\n"
        f"files.parse_yaml({text!r}, 'x')\n"
        "libraries = ('yaml', 'ruamel', '_ruamel_yaml')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in libraries))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_plainly_text_never_hides_a_number_or_a_date() -> None:
    """The shortcut for md5-like scalars agrees with the full patterns on random texts."""
    import random

    from labrun.pipeline import yamlemit, yamlfast

    rng = random.Random(3)
    alphabet = "0123456789_.eE+-:TtZ \tabcdfxobinINFaNn"
    seeds = ["0x1f", "-0x1F", "0o17", "0b101", "1e5", "2020-01-02", "2020-1-2 3:04:05.5 +01:00",
             "73281bec6debd623749bfd8a887ffa02", "-.inf", ".NaN", "1_000", "12ab"]  # fmt: skip
    texts = seeds + [
        rng.choice("0123456789-+.")
        + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for _ in range(20000)
    ]
    shortcut = 0
    for text in texts:
        if yamlfast.plainly_text(text):
            shortcut += 1
            assert yamlfast._number_or_str(text) == text
            assert not any(yamlfast._match(n, text) for n in ("float", "int", "timestamp")), text
            full = yamlemit._compiled(yamlemit._NUMBER_OR_TIME).fullmatch(text)
            assert full is None and not yamlemit._reads_as_other(text), text
    assert shortcut > 1000  # the shortcut is taken, not only checked
