"""Reading YAML 1.2 as DVC does, DVC's error messages, params files, key paths, writing.

Every expected error message here was printed by the real dvc 3.67.1, produced with

    cd $(mktemp -d) && git init -q && dvc init -q
    printf '<text>' > dvc.yaml && dvc stage list

(or the command named next to the row). dvc renders through rich, which pads lines
with spaces and wraps them at 80 columns when stderr is not a terminal; the
expectations are unpadded and unwrapped.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labrun.errors import FileFormatError, ParamsFileError, YamlSyntaxError
from labrun.pipeline import files
from labrun.pipeline.files import (
    YamlReadError,
    dump_yaml,
    excerpt,
    get_key_path,
    load_params,
    load_yaml,
    load_yaml_reference,
    locate,
    locate_collection,
    parse_yaml,
    read_text,
    resolve_plain,
)

# --- YAML 1.2 values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("Off", "Off"),
        ("y", "y"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("tRue", "tRue"),
        ("1e3", 1000.0),
        ("1e-05", 1e-05),
        ("1.5E+3", 1500.0),
        (".5", 0.5),
        (".5e3", ".5e3"),  # without a leading digit the exponent needs a sign
        ("1.", 1.0),
        ("0o17", 15),
        ("017", 17),
        ("09", 9),
        ("0x1F", 31),
        ("0b101", 5),
        ("-0b1", -1),
        ("1_000", 1000),
        ("1_000.5", 1000.5),
        ("+12", 12),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("", None),
        ("nuLL", "nuLL"),
        ("1:20", "1:20"),  # YAML 1.1 sexagesimal is a string in 1.2
        ("2020-01-01", dt.date(2020, 1, 1)),
        ("2020-1-1", "2020-1-1"),
        (
            "2020-01-01T10:00:00Z",
            dt.datetime(2020, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(0), "Z")),
        ),
        ("2020-1-1 1:02:03.5", dt.datetime(2020, 1, 1, 1, 2, 3, 500000)),
        ("2020-01-01T00:00:00.9999996", dt.datetime(2020, 1, 1, 0, 0, 1)),
        ("½", "½"),
        ("٣", "٣"),
    ],
)
def test_plain_scalars_resolve_as_yaml_1_2(text: str, expected: Any) -> None:
    value = parse_yaml(f"v: {text}\n", "./params.yaml")["v"]
    assert type(value) is type(expected)
    assert value == expected
    assert same(resolve_plain(text), expected)


def test_nan_is_a_float() -> None:
    assert math.isnan(parse_yaml("v: .nan\n", "p")["v"])


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "---\n", "~\n", "[]\n", "0\n", "false\n"]
)
def test_empty_or_falsy_document_is_an_empty_mapping(text: str) -> None:
    assert parse_yaml(text, "./dvc.yaml") == {}


def test_quoted_scalars_stay_strings() -> None:
    assert parse_yaml("a: 'yes'\nb: \"1e3\"\nc: '~'\n", "p") == {"a": "yes", "b": "1e3", "c": "~"}


# --- the fast path against the reference (ruamel.yaml, what DVC uses) ---------------------


def same_float(a: float, b: float) -> bool:
    if math.isnan(a):
        return math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def same(a: Any, b: Any, seen: set[int] | None = None) -> bool:
    """Equal values of equal types (NaN equals NaN; recursive structures allowed)."""
    seen = set() if seen is None else seen
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, dict)):
        if id(a) in seen:
            return True
        seen.add(id(a))
    if isinstance(a, dict):
        a, b = [*a, *a.values()], [*b, *b.values()]
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, seen) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return same_float(a, b)
    return a == b and repr(a) == repr(b)  # repr: a datetime's zone name too


SCALARS_TEXT = """
yes no on off y n Yes NO true True TRUE false tRue 1e3 1e-05 1E3 1.5e+3 .5 .5e3 .5e+3 -.5
+.5 1. 1._ 1_000 1__0 0o17 017 0x1F 0x_1F 0b101 -0b1 +12 -0 0 00 09 0.0 -0.0 .inf -.inf
+.inf .Inf .INF .nan .NaN .NAN -.nan ~ null Null NULL nuLL 2020-01-01 2020-1-1
2020-01-01T10:00:00Z 2020-1-1T1:00:00 2020-01-01t10:00:00.123456789+01:00
2001-12-14t21:59:43.10-05:00 2020-01-01T10:00:00.9999996 2020-01-01T10:00:00.-5 1:20
1:20:30 12:30:00 1,000 $1 ½ ٣ 1_ 0b2 0o8 1e3.5 inf nan NaN 0.1e1 1_000.5_5 0x 0o
2020-01-01x 0xG +0x1 -0o7 0b 1e+3 1E-3 6.8523015e+5 685.230_15e+03 685_230.15 0.e1
+0.5e-1 -.5E+2 ..5 .5. 1e 1ee3 0_ 0_9 123456789012345678901234567890 - + . <<x =x
"""
SCALARS = SCALARS_TEXT.split()

DOCUMENTS = {
    "anchors": "a: &x [1, 2]\nb: *x\nc: &s str\nd: *s\n",
    "merge": "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
    "merge_list": "a: &a {x: 1}\nb: &b {x: 2, z: 3}\nc:\n  <<: [*a, *b]\n  w: 4\n",
    "merge_no_dup_check": "x: &x {a: 1}\ns:\n  <<: *x\n  b: 1\n  b: 2\n",
    "complex_key": "? [a, b]\n: 1\n",
    "flow_key": "[a, b]: c\n",
    "flow_map_missing_value": "{a: 1, b}\n",
    "flow_pair": "[a: 1, b]\n",
    "empties": "a: {}\nb: []\nc:\nd: ''\ne: \"\"\n",
    "block_scalars": "a: |\n  l1\n  l2\n\nb: |-\n  x\n\nc: |+\n  y\n\nd: >\n  f\n  t\n\n  p\n"
    "e: >-\n  z\nf: |2\n    indented\n",
    "plain_multiline": "a: this is\n  a multi\n\n  line\n",
    "escapes": 'a: "\\x41\\u263A\\U0001F600\\/\\e\\N\\_\\L\\P\\0\\a\\b\\t\\n\\r\\v\\f\\"\\\\\\ "\n',
    "single_quotes": "a: 'it''s ok'\nb: 'multi\n  line'\n",
    "comments": "# c\na: 1 # c\n# c\nb: [1, # c\n 2]\n",
    "doc_markers": "---\na: 1\n...\n",
    "directive_1_2": "%YAML 1.2\n---\na: yes\n",
    "directive_1_1": "%YAML 1.1\n---\na: yes\nb: 017\nc: 1e3\n",
    "tag_directive": "%TAG !e! tag:example.com,2000:\n---\na: 1\n",
    "top_block_scalar": "--- |\n  hello\n",
    "unicode": "ключ: значение\n😀: x\n",
    "bom": "\ufeffa: 1\n",
    "crlf": "a: 1\r\nb: two\r\n",
    "cr": "a: 1\rb: two\r",
    "nel": "a: x\x85b: y\n",
    "line_separator": "a: x\u2028y\n",
    "paragraph_separator": "a: x\u2029y\n",
    "long_key": ("k" * 1100) + ": 1\n",
    "set": "s: !!set {a, b}\n",
    "omap": "o: !!omap [a: 1, b: 2]\n",
    "explicit_tags": "a: !!str 3\nb: !!int \"3\"\nc: !!float 1\nd: !!bool yes\ne: !!null ''\n",
    "non_specific_tag": "a: ! 3\n",
    "binary": "b: !!binary aGVsbG8=\n",
    "tab_separator": "a:\t1\n",
    "tab_in_plain": "a: b\tc\n",
    "tab_in_quotes": 'a: "x\ty"\n',
    "tab_in_block": "a: |\n  \tx\n",
    "tab_before_comment": "a: 1\t# c\n",
    "tab_indent": "a:\n\tb: 1\n",
    "colon_in_flow": "[a:b, c: d]\n",
    "colon_plain": "a: b:c\nd: http://x\n",
    "hash_no_space": "a: b#c\n",
    "dash_plain": "a: -b\n",
    "backslash_plain": "a: c:\\x\\y\n",
    "deep_flow": "a: [[[[[[1]]]]]]\n",
    "anchor_redefined": "a: &x 1\nb: &x 2\nc: *x\n",
    "recursive_anchor": "a: &x [1, *x]\n",
    "keys_bool_int": "1: a\ntrue: b\n",
    "keys_float_int": "1: a\n1.0: b\n",
    "keys_null": "~: a\nnull: b\n",
    "key_date": "2020-01-01: a\n",
    "key_anchor": "&k a: 1\nb: *k\n",
    "key_alias": "a: &k x\n*k : 1\n",
    "key_alias_list": "a: &k [1]\n? *k\n: 1\n",
    "key_empty": ": v\n",
    "indentless_sequence": "a:\n- 1\n- 2\nb: 3\n",
    "nested_sequences": "- - 1\n  - 2\n- - 3\n",
    "value_indicator": "a: =\n",
    "value_indicator_key": "=: 1\n",
    "merge_scalar": "a:\n  <<: x\n",
    "quoted_merge_key": "a:\n  '<<': x\n",
    "control_character": "a: \x01\n",
    "escaped_control": 'a: "\\x01"\n',
    "delete_character": "a: \x7f\n",
    "nbsp": "a: b\u00a0\n",
    "trailing_spaces": "a: b   \n",
    "flow_trailing_comma": "[1, 2, ]\n",
    "multiline_flow": "a: [1,\n2]\n",
    "timestamp_with_space_zone": "a: 2001-12-14 21:59:43.10 -5\n",
    "invalid_date": "a: 2020-13-01\n",
    "invalid_time": "a: 2020-01-01T25:00:00\n",
    "duplicate_key": "a: 1\na: 2\n",
    "two_documents": "a: 1\n---\nb: 2\n",
    "junk_after_end": "a: 1\n... junk\n",
    "bad_indentation": "a:\n  - 1\n - 2\n",
    "undefined_alias": "a: *y\n",
    "custom_tag": "a: !custom 1\n",
    "list_document": "- 1\n- [2, 3]\n",
    "scalar_document": "hello\n",
}

# What DVC itself writes and reads in bulk must never leave the fast path.
FAST_PATH_DOCUMENTS = [
    "anchors",
    "empties",
    "block_scalars",
    "plain_multiline",
    "escapes",
    "single_quotes",
    "comments",
    "doc_markers",
    "top_block_scalar",
    "unicode",
    "bom",
    "crlf",
    "colon_plain",
    "indentless_sequence",
    "nested_sequences",
    "key_date",
    "key_anchor",
]


def reference(text: str) -> tuple[bool, Any]:
    try:
        return True, load_yaml_reference(text)
    except Exception as exc:  # any failure of the reference means "rejected"
        return False, exc


def assert_same_as_reference(text: str) -> None:
    accepted, expected = reference(text)
    if accepted:
        assert same(parse_yaml(text, "./x.yaml"), expected or {})
    else:
        with pytest.raises(YamlSyntaxError):
            parse_yaml(text, "./x.yaml")


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalar_matches_reference(scalar: str) -> None:
    assert_same_as_reference(f"v: {scalar}\n")
    assert_same_as_reference(f"- {scalar}\n")
    assert_same_as_reference(f"{scalar}: key\n")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_matches_reference(name: str) -> None:
    assert_same_as_reference(DOCUMENTS[name])


@pytest.mark.parametrize("name", FAST_PATH_DOCUMENTS)
def test_common_documents_take_the_fast_path(name: str) -> None:
    text = DOCUMENTS[name]
    assert same(files._load_fast(text), load_yaml_reference(text))


CORPUS = Path(__file__).parents[1] / "compat" / "corpus"
CORPUS_FILES = sorted(
    p for p in CORPUS.rglob("*") if p.suffix in {".yaml", ".yml", ".lock", ".dvc"} and p.is_file()
)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_compat_corpus_matches_reference(path: Path) -> None:
    assert_same_as_reference(path.read_text(encoding="utf-8"))


def big_lockfile(stages: int) -> str:
    lines = ["schema: '2.0'", "stages:"]
    for i in range(stages):
        lines += [f"  stage{i}:", f"    cmd: python train.py --seed {i}", "    deps:"]
        for j in range(2):
            lines += [f"    - path: data/f{j}.csv", "      hash: md5"]
            lines += [f"      md5: {i:016x}{j:016x}", f"      size: {i * 7 + j}"]
        lines += ["    params:", "      params.yaml:", "        lr: 0.01", "        flag: yes"]
        lines += ["        sci: 1e-05", "        when: 2020-01-01", "    outs:"]
        lines += ["    - path: model.bin", "      hash: md5", f"      md5: {i:032x}.dir"]
        lines += ["      size: 13", "      nfiles: 3", "      isexec: true"]
    return "\n".join(lines) + "\n"


def test_large_lockfile_takes_the_fast_path() -> None:
    text = big_lockfile(500)
    data = files._load_fast(text)
    assert same(data, load_yaml_reference(text))
    assert data["stages"]["stage499"]["params"]["params.yaml"]["flag"] == "yes"


def test_reading_does_not_import_ruamel() -> None:
    code = "import sys, labrun.pipeline.files as f; f.parse_yaml('a: [1]', 'x'); "
    code += "print(any(m.startswith('ruamel') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- syntax errors --------------------------------------------------------------------------

SYNTAX_ERRORS = [
    pytest.param(
        "stages:\n  x:\n    cmd: echo\n    outs: [m-${item}.bin]\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While parsing a flow sequence, in line 4, column 11\n"
        "  4 │   outs: [m-${item}.bin]\n"
        "\n"
        "Expected ',' or ']', but got '{', in line 4, column 15\n"
        "  4 │   outs: [m-${item}.bin]",
        id="flowseq",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo a: b\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Mapping values are not allowed here, in line 3, column 16\n"
        "  3 │   cmd: echo a: b",
        id="mapval2",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd echo\n    deps: [x]\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Mapping values are not allowed here, in line 4, column 9\n"
        "  4 │   deps: [x]",
        id="simplekey",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    deps\n  b:\n    cmd: x\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While scanning a simple key, in line 4, column 5\n"
        "  4 │   deps\n"
        "\n"
        "Could not find expected ':', in line 5, column 3\n"
        "  5   b:",
        id="simplekey2",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: @foo\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Found character '@' that cannot start any token, in line 3, column 10\n"
        "  3 │   cmd: @foo",
        id="badtoken_at",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: `ls`\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Found character '`' that cannot start any token, in line 3, column 10\n"
        "  3 │   cmd: `ls`",
        id="badtoken_bt",
    ),
    pytest.param(
        "stages:\n  a:\n\tcmd: echo\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Found character '\\t' that cannot start any token, in line 3, column 1\n"
        "  3 │   cmd: echo",
        id="tab",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd:\techo\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Found character '\\t' that cannot start any token, in line 3, column 9\n"
        "  3 │   cmd:    echo",
        id="tab2",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    cmd: echo2\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 3, column 5\n"
        "  3 │   cmd: echo\n"
        "\n"
        'Found duplicate key "cmd" with value "echo2" (original value: "echo"),'
        " in line 4, column 5\n"
        "  4 │   cmd: echo2",
        id="dup",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\nstages:\n  b:\n    cmd: x\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 1, column 1\n"
        "  1 stages:\n"
        "\n"
        'Found duplicate key "stages" with value "{}" (original value: "{}"), in line 4, column 1\n'
        "  4 stages:",
        id="dup_top",
    ),
    pytest.param(
        "stages:\n  A:\n    cmd: Echo\n  A:\n    cmd: X\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 2, column 3\n"
        "  2   A:\n"
        "\n"
        'Found duplicate key "a" with value "{}" (original value: "{}"), in line 4, column 3\n'
        "  4   A:",
        id="dup_case",
    ),
    pytest.param(
        "stages:\n  a:\n  a:\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 2, column 3\n"
        "  2   a:\n"
        "\n"
        'Found duplicate key "a" with value "none" (original value: "none"), in line 3, column 3\n'
        "  3   a:",
        id="dupnull",
    ),
    pytest.param(
        "stages:\n  1: {cmd: a}\n  1.0: {cmd: b}\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 2, column 3\n"
        "  2   1: {cmd: a}\n"
        "\n"
        'Found duplicate key "1.0" with value "{}" (original value: "{}"), in line 3, column 3\n'
        "  3   1.0: {cmd: b}",
        id="dupint",
    ),
    pytest.param(
        "x: &x {a: 1}\nstages:\n  <<: *x\n  <<: *x\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 3, column 3\n"
        "  3   <<: *x\n"
        "\n"
        'Found duplicate merge key "<<", in line 4, column 3\n'
        "  4   <<: *x",
        id="dupmerge",
    ),
    pytest.param(
        "stages:\n<<<<<<< HEAD\n  a:\n    cmd: echo\n=======\n"
        "  a:\n    cmd: echo2\n>>>>>>> branch\n",
        "'./dvc.yaml' is invalid (possible merge conflicts).\n"
        "\n"
        "While scanning a simple key, in line 2, column 1\n"
        "  2 <<<<<<< HEAD\n"
        "\n"
        "Could not find expected ':', in line 3, column 4\n"
        "  3   a:",
        id="merge",
    ),
    pytest.param(
        'stages:\n  a:\n    cmd: "echo\n',
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While scanning a quoted scalar, in line 3, column 10\n"
        '  3 │   cmd: "echo\n'
        "\n"
        "Found unexpected end of stream, in line 4, column 1\n"
        "  4",
        id="unclosed_dq",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: 'echo\n  b:\n    cmd: x\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While scanning a quoted scalar, in line 3, column 10\n"
        "  3 │   cmd: 'echo\n"
        "\n"
        "Found unexpected end of stream, in line 6, column 1\n"
        "  6",
        id="unclosed_sq",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n   deps: [x]\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While parsing a block mapping, in line 2, column 3\n"
        "  2   a:\n"
        "\n"
        "Expected <block end>, but found '<block mapping start>', in line 4, column 4\n"
        "  4    deps: [x]",
        id="blockmap",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n      deps: [x]\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Mapping values are not allowed here, in line 4, column 11\n"
        "  4 │     deps: [x]",
        id="blockmap2",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: *x\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Found undefined alias 'x', in line 3, column 10\n"
        "  3 │   cmd: *x",
        id="alias",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: !foo echo\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Could not determine a constructor for the tag '!foo', in line 3, column 10\n"
        "  3 │   cmd: !foo echo",
        id="tag",
    ),
    pytest.param(
        "stages: {}\n---\nstages: {}\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Expected a single document in the stream, in line 1, column 1\n"
        "  1 stages: {}\n"
        "\n"
        "But found another document, in line 2, column 1\n"
        "  2 ---",
        id="twodocs",
    ),
    pytest.param(
        "stages: {a: {cmd: echo}\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While parsing a flow mapping, in line 1, column 9\n"
        "  1 stages: {a: {cmd: echo}\n"
        "\n"
        "Expected ',' or '}', but got '<stream end>', in line 2, column 1\n"
        "  2",
        id="flowmap",
    ),
    pytest.param(
        "stages: {a: {cmd: echo} b: 1}\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While parsing a flow mapping, in line 1, column 9\n"
        "  1 stages: {a: {cmd: echo} b: 1}\n"
        "\n"
        "Expected ',' or '}', but got '<scalar>', in line 1, column 25\n"
        "  1 stages: {a: {cmd: echo} b: 1}",
        id="flowmap2",
    ),
    pytest.param(
        "stages:\n  ? {a: 1}\n  : 1\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While constructing a mapping, in line 2, column 3\n"
        "  2   ? {a: 1}\n"
        "\n"
        "Found unhashable key, in line 2, column 5\n"
        "  2   ? {a: 1}",
        id="unhash",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: =\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Could not determine a constructor for the tag 'tag:yaml.org,2002:value',"
        " in line 3, column 10\n"
        "  3 │   cmd: =",
        id="value_eq",
    ),
    pytest.param(
        'stages:\n  a:\n    cmd: "echo \\q"\n',
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While scanning a double-quoted scalar, in line 3, column 10\n"
        '  3 │   cmd: "echo \\q"\n'
        "\n"
        "Found unknown escape character 'q', in line 3, column 17\n"
        '  3 │   cmd: "echo \\q"',
        id="badescape",
    ),
    pytest.param(
        "stages:\n  a: &\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While scanning an anchor, in line 2, column 6\n"
        "  2   a: &\n"
        "\n"
        "Expected alphabetic or numeric character, but found '\\n', in line 2, column 7\n"
        "  2   a: &",
        id="anchor_end",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: |x\n      echo\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While scanning a block scalar, in line 3, column 10\n"
        "  3 │   cmd: |x\n"
        "\n"
        "Expected chomping or indentation indicators, but found 'x', in line 3, column 11\n"
        "  3 │   cmd: |x",
        id="block_scalar_bad",
    ),
    pytest.param(
        "stages: {}\n... junk\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "Found non-comment content after document end marker, ('<scalar>',), in line 2, column 5\n"
        "  2 ... junk",
        id="doc_end_junk",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n- x\n",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While parsing a block mapping, in line 1, column 1\n"
        "  1 stages:\n"
        "\n"
        "Expected <block end>, but found '-', in line 4, column 1\n"
        "  4 - x",
        id="ddash",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n  b: [x",
        "'./dvc.yaml' is invalid.\n"
        "\n"
        "While parsing a flow sequence, in line 4, column 6\n"
        "  4   b: [x\n"
        "\n"
        "Expected ',' or ']', but got '<stream end>', in line 4, column 8\n"
        "  4   b: [x",
        id="lastline",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\x01\n",
        "unable to read: 'dvc.yaml', YAML file structure is corrupted: unacceptable character"
        " #x0001: special characters are not allowed\n"
        '  in "<unicode string>", position 26',
        id="nul",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SYNTAX_ERRORS)
def test_syntax_error_message_is_dvcs(text: str, expected: str) -> None:
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(text, "./dvc.yaml")
    assert str(raised.value) == expected
    assert raised.value.plain is (not isinstance(raised.value, YamlReadError))


def test_syntax_error_names_the_file_as_given() -> None:
    # printf 'schema: ...cmd: echo a: b' > dvc.lock && dvc status
    text = "schema: '2.0'\nstages:\n  a:\n    cmd: echo a: b\n"
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(text, "./dvc.lock")
    assert str(raised.value) == (
        "'./dvc.lock' is invalid.\n\n"
        "Mapping values are not allowed here, in line 4, column 16\n"
        "  4 │   cmd: echo a: b"
    )


def test_line_numbers_widen_with_the_line() -> None:
    text = "\n" * 11 + "a:\n  b: [m-${x}]\n"
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(text, "./dvc.yaml")
    assert str(raised.value).splitlines()[2:4] == [
        "While parsing a flow sequence, in line 13, column 6",
        "  13   b: [m-${x}]",
    ]


def test_invalid_utf8_is_reported(tmp_path: Path) -> None:
    # printf 'stages:\n  a:\n    cmd: echo \xff\n' > dvc.yaml && dvc stage list
    path = tmp_path / "dvc.yaml"
    path.write_bytes(b"stages:\n  a:\n    cmd: echo \xff\n")
    with pytest.raises(FileFormatError) as raised:
        load_yaml(path, "./dvc.yaml")
    assert str(raised.value) == (
        "unable to read: 'dvc.yaml', is not valid utf-8: 'utf-8' codec can't decode"
        " byte 0xff in position 27: invalid start byte"
    )


def test_read_text_errors(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"^'missing\.yaml' does not exist$"):
        read_text(tmp_path / "missing.yaml", "missing.yaml")
    with pytest.raises(FileFormatError, match=r"^'sub' is a directory$"):
        read_text(tmp_path, "sub")


def test_read_text_uses_universal_newlines(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_bytes(b"a: 1\r\nb: 2\r\n")
    assert read_text(tmp_path / "dvc.yaml", "dvc.yaml") == "a: 1\nb: 2\n"


# --- positions and excerpts ------------------------------------------------------------------

POSITIONS_TEXT = """\
stages:
  train:
    cmd: echo
    deps:
    - a
    - {path: b}
    outs: [x]
  1: {cmd: y}
"""


@pytest.mark.parametrize(
    ("keys", "key_position", "collection_position"),
    [
        ([], (1, 1), (1, 1)),
        (["stages"], (1, 1), (2, 3)),
        (["stages", "train"], (2, 3), (3, 5)),
        (["stages", "train", "cmd"], (3, 5), None),
        (["stages", "train", "deps"], (4, 5), (5, 5)),
        (["stages", "train", "deps", 0], (5, 7), None),
        (["stages", "train", "deps", 1], (6, 7), (6, 7)),
        (["stages", "train", "outs"], (7, 5), (7, 11)),
        (["stages", 1], (8, 3), (8, 6)),
        (["stages", "nope"], None, None),
        (["stages", "train", "deps", 5], None, None),
    ],
)
def test_locate(keys: list[Any], key_position: Any, collection_position: Any) -> None:
    assert locate(POSITIONS_TEXT, keys) == key_position
    assert locate_collection(POSITIONS_TEXT, keys) == collection_position


def test_locate_on_unparsable_text() -> None:
    assert locate("a: [1", ["a"]) is None


def test_excerpt_draws_indent_guides_and_pads_numbers() -> None:
    text = "".join(f"# {n}\n" for n in range(1, 9)) + "a:\n    b:\n\n        c: 1\n\tt: 2\n"
    assert excerpt(text, 9, 14) == [
        "   9 a:",
        "  10 │   b:",
        "  11 │   │",  # a blank line takes the guides of the next line
        "  12 │   │   c: 1",
        "  13 │   t: 2",  # tabs expand to 4 columns
        "  14",
    ]


# --- params files -----------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "params.yaml",
            "lr: 0.01\nflag: yes\nsci: 1e-05\n",
            {"lr": 0.01, "flag": "yes", "sci": 1e-05},
        ),
        ("params.yml", "", {}),
        ("PARAMS", "a: 017\n", {"a": 17}),
        ("conf.txt", "a: 1\n", {"a": 1}),
        (
            "p.json",
            '{"batch": 32, "z": null, "j": {"k": [1, 2]}}',
            {"batch": 32, "z": None, "j": {"k": [1, 2]}},
        ),
        ("p.JSON", "null", {}),
        ("p.json", "", None),
        (
            "p.toml",
            "[db]\nport = 5432\nwhen = 2020-01-01\n",
            {"db": {"port": 5432, "when": dt.date(2020, 1, 1)}},
        ),
        ("p.toml", "", {}),
    ],
)
def test_load_params_by_extension(tmp_path: Path, name: str, text: str, expected: Any) -> None:
    path = write(tmp_path, name, text)
    if expected is None:
        with pytest.raises(ParamsFileError, match="JSON file structure is corrupted"):
            load_params(path, name)
    else:
        assert load_params(path, name) == expected


PYTHON_PARAMS = """\
import os
LR = 0.1
NAME: str = "n"
a = b = 1
c, d = 1, 2
computed = os.getcwd()
summed = 1 + 2
negative = -3
LAYERS = [16, 32]
SHAPE = (1, 2)
TAGS = {"x"}
OPTS = {"k": [1, 2], 3: None}
BAD = {**OPTS}
NOVALUE: int
def helper():
    inner = 1
class Cfg:
    depth = 3
    def __init__(self):
        self.width = 7
        local = 5
        self.other.attr = 1
    class Nested:
        leaf = True
LR = 0.2
"""


def test_python_params_are_read_statically(tmp_path: Path) -> None:
    path = write(tmp_path, "params.py", PYTHON_PARAMS)
    assert load_params(path, "params.py") == {
        "LR": 0.2,
        "NAME": "n",
        "negative": -3,
        "LAYERS": [16, 32],
        "SHAPE": (1, 2),
        "TAGS": {"x"},
        "OPTS": {"k": [1, 2], 3: None},
        "Cfg": {"depth": 3, "width": 7, "Nested": {"leaf": True}},
    }


def test_python_params_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = write(tmp_path, "p.py", f"open({str(marker)!r}, 'w')\nX = 1\n")
    assert load_params(path, "p.py") == {"X": 1}
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # dvc repro with `params: [lr]` and this params.yaml
        pytest.param(
            "params.yaml",
            "lr: [1\n",
            "unable to read: 'params.yaml', YAML file structure is corrupted: while parsing a flow"
            ' sequence\n  in "<unicode string>", line 1, column 5:\n'
            "    lr: [1\n        ^ (line: 1)\n"
            "expected ',' or ']', but got '<stream end>'\n"
            '  in "<unicode string>", line 2, column 1:\n    \n    ^ (line: 2)',
            id="yaml",
        ),
        # dvc repro with `params: [{p.json: [lr]}]`
        pytest.param(
            "p.json",
            "{lr: 1",
            "unable to read: 'p.json', JSON file structure is corrupted: Expecting property name"
            " enclosed in double quotes: line 1 column 2 (char 1)",
            id="json",
        ),
        # dvc repro with `params: [{p.py: [lr]}]`
        pytest.param(
            "p.py",
            "lr = (1",
            "unable to read: 'p.py', Python file structure is corrupted: '(' was never closed"
            " (p.py, line 1)",
            id="python",
        ),
        # dvc stage list with `cmd: echo ${a}` and this params.yaml (dvc prefixes
        # "failed to parse 'vars' in 'dvc.yaml': ")
        pytest.param(
            "params.yaml",
            "- 1\n",
            "expected a dictionary, got 'list' in file 'params.yaml'",
            id="not-a-mapping",
        ),
        pytest.param(
            "p.json", "[1]", "expected a dictionary, got 'list' in file 'p.json'", id="json-list"
        ),
        pytest.param(
            "p.yaml", "hello\n", "expected a dictionary, got 'str' in file 'p.yaml'", id="str"
        ),
    ],
)
def test_params_file_errors(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ParamsFileError) as raised:
        load_params(path, name)
    assert str(raised.value) == expected


def test_params_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "params.yaml", "lr: 1\nlr: 2\n")
    with pytest.raises(ParamsFileError, match='found duplicate key "lr" with value "2"'):
        load_params(path, "params.yaml")


def test_params_toml_error(tmp_path: Path) -> None:
    # dvc uses tomlkit, whose wording of the cause differs from tomllib's
    path = write(tmp_path, "p.toml", "lr = = 1")
    with pytest.raises(
        ParamsFileError, match=r"^unable to read: 'p.toml', TOML file structure is corrupted: "
    ):
        load_params(path, "p.toml")


def test_params_missing_or_directory(tmp_path: Path) -> None:
    with pytest.raises(ParamsFileError, match=r"^'params.yaml' does not exist$"):
        load_params(tmp_path / "params.yaml", "params.yaml")
    (tmp_path / "p.json").mkdir()
    with pytest.raises(ParamsFileError, match=r"^'p.json' is a directory$"):
        load_params(tmp_path / "p.json", "p.json")


# --- key paths ------------------------------------------------------------------------------

KEYED = {
    "lr": 0.1,
    "train": {"layers": [16, {"size": 32}], "l*": 1},
    "ints": {1: "one", "2": "two"},
    "t": (5, 6),
    "z": None,
    "d.e": "unreachable",
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("lr", 0.1),
        ("train", KEYED["train"]),
        ("train.layers", [16, {"size": 32}]),
        ("train.layers.0", 16),
        ("train.layers.1.size", 32),
        ("train.layers.-1.size", 32),  # dvc reads params with dpath.get, which allows it
        ("train.layers.01", {"size": 32}),
        ("train.l*", 1),  # literal, no globbing
        ("ints.1", "one"),
        ("ints.2", "two"),
        ("t.1", 6),
        ("z", None),
    ],
)
def test_get_key_path(key: str, expected: Any) -> None:
    assert get_key_path(KEYED, key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "missing",
        "lr.x",
        "train.layers.2",
        "train.layers.-3",
        "train.layers.x",
        "d.e",
        "train.l?",
        "",
    ],
)
def test_get_key_path_missing(key: str) -> None:
    with pytest.raises(KeyError):
        get_key_path(KEYED, key)


# --- writing --------------------------------------------------------------------------------

# Written by dvc 3.67.1 (`dvc repro` of a stage tracking every params.yaml key below and
# p.json whole, then `dvc add data2.txt` and `dvc add raw2`); note the trailing space
# ruamel leaves where it folds a long line.
DVC_WRITTEN = {
    "dvc.lock": """\
schema: '2.0'
stages:
  prep:
    cmd: cat data.txt > prep.txt
    deps:
    - path: data.txt
      hash: md5
      md5: 6137cde4893c59f76f005a8123d8e8e6
      size: 5
    outs:
    - path: prep.txt
      hash: md5
      md5: 6137cde4893c59f76f005a8123d8e8e6
      size: 5
  train:
    cmd:
    - mkdir -p model
    - cp prep.txt model/m.bin && printf '%s' "this is a long command line that\x20
      is longer than eighty characters for sure"
    deps:
    - path: prep.txt
      hash: md5
      md5: 6137cde4893c59f76f005a8123d8e8e6
      size: 5
    - path: raw
      hash: md5
      md5: 5b94ef7ba4840901cc23311660411a1d.dir
      size: 2
      nfiles: 2
    - path: tool.sh
      hash: md5
      md5: 3e2b31c72181b87149ff995e7202c0e3
      size: 10
      isexec: true
    params:
      params.yaml:
        big: 1000.0
        colon: 'a: b'
        dec: 17
        dq: say "hi"
        empty: ''
        flag: yes
        hash: 'a #b'
        inf: -.inf
        long: aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff\x20
          gggggggggg hhhhhhhhhh iiiiiiiiii
        lr: 0.01
        multi: "line1\\nline2"
        nan: .nan
        nested:
          x: 1
          y:
          - 16
          - 32
        nothing:
        num_str: '1'
        octal: 15
        quote: it's
        sci: 1e-05
        tilde: '~'
        truth: true
        unicode: héllo wörld
      p.json:
        batch: 32
        j:
          k:
          - 1
          - 2
        z:
    outs:
    - path: model
      hash: md5
      md5: 165cf471e6704a750452c4504435bb68.dir
      size: 5
      nfiles: 1
  multi:
    cmd: "echo a > m.txt\\necho b >> m.txt\\n"
    outs:
    - path: m.txt
      hash: md5
      md5: dd8c6a395b5dd36c56d23275028f526c
      size: 4
  notify:
    cmd: echo done
""",
    "data2.txt.dvc": """\
outs:
- md5: 401b30e3b8b5d629635a5c613cdb7919
  size: 2
  hash: md5
  path: data2.txt
""",
    "raw2.dvc": """\
outs:
- md5: 4f8a69b41158f924148d782117af2916.dir
  size: 1
  nfiles: 1
  hash: md5
  path: raw2
""",
}


@pytest.mark.parametrize("name", DVC_WRITTEN)
def test_dump_yaml_writes_what_dvc_writes(name: str) -> None:
    text = DVC_WRITTEN[name]
    assert dump_yaml(parse_yaml(text, name)) == text


def test_dump_yaml_quotes_only_when_needed() -> None:
    data = {"s": "yes", "n": "1", "e": "", "z": None, "f": 1e-05, "l": [1, {"a": "x\ny"}]}
    assert dump_yaml(data) == "s: yes\nn: '1'\ne: ''\nz:\nf: 1e-05\nl:\n- 1\n- a: \"x\\ny\"\n"


def test_written_text_reads_back(tmp_path: Path) -> None:
    data = {"schema": "2.0", "d": {"when": "2020-01-01", "o": "0o17", "t": "True", "k": ["~"]}}
    path = write(tmp_path, "dvc.lock", dump_yaml(data))
    assert load_yaml(path, os.fspath(path)) == data
