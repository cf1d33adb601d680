"""Stories: `exp run -S` edits real params files, and the bytes are the ones DVC writes.

Every expected text below was produced by dvc 3.67.1 (`dvc.utils.hydra.apply_overrides`,
which `dvc exp run -S` calls) on the same input; the Python-file cases that differ on
purpose are marked as such.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labrun.errors import LabrunError, ParamsFileError
from labrun.experiments.params import OverrideError, apply_overrides, parse_overrides

RICH = """\
# top comment
train:
  lr: 0.1  # learning rate
  epochs: 5
  layers: [1, 2]   # sizes
  nested:
  - a: 1   # in list
    b: [x, y]
name: "str"
single: 'one'
flag: yes
b1: True
sci: 1e-05
sci2: 1.0e-3
f150: 1.50
hexv: 0x1F
date: 2020-01-01
nul: ~
ml: |
  line1
  line2
anch: &A {p: 1, q: 2}
ali: *A
"""
SIMPLE = "train:\n  lr: 0.1  # rate\n  epochs: 5\nname: str\n"
PRETTY_JSON = (
    '{\n  "train": {"lr": 0.1, "epochs": 5, "l": [1, 2]},\n'
    '  "name": "caf\\u00e9 \u00e9",\n  "x": 1e-05, "big": 1E400, "f": 1.50\n}\n'
)
TOML = """\
# comment
title = "t"  # trailing
num = 1_000
flt = 1.50
arr = [1, 2, 3]  # arr
arr2 = [
  "a",  # a
  "b",
]
inl = { a = 1, b = 2 }
dt = 1979-05-27T07:32:00Z

[train]
lr = 0.1
epochs = 5

[[runs]]
seed = 1
"""
PYTHON = '''\
"""Params."""
import os
import subprocess
import sys

LR = 0.1  # learning rate
EPOCHS: int = 5
FLAG = True
LST = [1, 2]
NONE = None
X = os.getcwd()


class Cfg:
    depth = 3

    def __init__(self):
        self.width = 7
'''

CASES = {
    "yaml keeps comments, drops quotes, turns flow lists into block lists": (
        "params.yaml",
        RICH,
        ["train.lr=0.2"],
        "# top comment\ntrain:\n  lr: 0.2  # learning rate\n  epochs: 5\n"
        "  layers:          # sizes\n  - 1\n  - 2\n  nested:\n  - a: 1\n    b:\n    - x\n"
        "    - y\nname: str\nsingle: one\nflag: yes\nb1: true\nsci: 1e-05\nsci2: 1.0e-3\n"
        "f150: 1.50\nhexv: 0x1F\ndate: 2020-01-01\nnul:\nml: |\n  line1\n  line2\n"
        "anch: &A {p: 1, q: 2}\nali: *A\n",
    ),
    "a dict value merges and the comment keeps its column": (
        "params.yaml",
        SIMPLE,
        ["train={lr:1}"],
        "train:\n  lr: 1    # rate\n  epochs: 5\nname: str\n",
    ),
    "new keys of every type": (
        "params.yaml",
        SIMPLE,
        [
            "+a=1e-3",
            "+b=inf",
            "+c=nan",
            "+d=true",
            "+e=''",
            "+f=abc:d",
            "+g='yes'",
            "+h='1'",
            "+i='null'",
            "+k=1_000",
            "+n=[]",
            "+o={}",
            "+p=[1,[2,3],{a: 1}]",
            "+q=2020-01-01",
            "+s='x: y'",
            "+t='#c'",
            "+u=' lead'",
            "name=null",
            "++train.epochs=6",
            "+x.y.z=1",
        ],
        "train:\n  lr: 0.1  # rate\n  epochs: 6\nname:\na: 0.001\nb: .inf\nc: .nan\nd: true\n"
        "e: ''\nf: abc:d\ng: yes\nh: '1'\ni: 'null'\nk: 1000\nn: []\no: {}\np:\n- 1\n- - 2\n"
        "  - 3\n- a: 1\nq: '2020-01-01'\ns: 'x: y'\nt: '#c'\nu: ' lead'\nx:\n  y:\n    z: 1\n",
    ),
    "deleting keys": (
        "params.yaml",
        SIMPLE,
        ["~train.epochs", "~name=str"],
        "train:\n  lr: 0.1  # rate\n",
    ),
    "interpolations in the file are resolved (OmegaConf)": (
        "params.yaml",
        "train:\n  lr: 0.1\nref: ${train.lr}\n",
        ["train.lr=0.5"],
        "train:\n  lr: 0.5\nref: 0.5\n",
    ),
    "windows line endings become unix ones": (
        "params.yaml",
        "a: 1\r\nb: [1, 2]\r\n",
        ["a=2"],
        "a: 2\nb:\n- 1\n- 2\n",
    ),
    "no override still rewrites the file": (
        "params.yaml",
        'a: [1, 2]  # c\nb: "q"\n',
        [],
        "a:         # c\n- 1\n- 2\nb: q\n",
    ),
    "an empty yaml file is an empty mapping": ("params.yaml", "", ["+a=1"], "a: 1\n"),
    "long strings are folded at 80 columns": (
        "params.yaml",
        "a: 1\n",
        ["+s='" + "word " * 30 + "'"],
        "a: 1\ns: 'word word word word word word word word word word word word word word word"
        " word\n  word word word word word word word word word word word word word word '\n",
    ),
    "json is rewritten compactly on one line": (
        "params.json",
        PRETTY_JSON,
        ["train.lr=0.2", "+new=[1,2]", "~x"],
        '{"train": {"lr": 0.2, "epochs": 5, "l": [1, 2]}, "name": "caf\\u00e9 \\u00e9", '
        '"big": Infinity, "f": 1.5, "new": [1, 2]}',
    ),
    "toml keeps comments and formats, arrays are rewritten": (
        "params.toml",
        TOML,
        ["train.lr=0.2", "+inl.c=5", "+new=[1,2]", "runs.0.seed=5", "+zz.a=1"],
        '# comment\ntitle = "t"  # trailing\nnum = 1_000\nflt = 1.50\narr = [1, 2, 3]  # arr\n'
        'arr2 = ["a", "b"]\ninl = { a = 1, b = 2, c = 5}\ndt = 1979-05-27T07:32:00Z\n'
        "new = [1, 2]\n\n[train]\nlr = 0.2\nepochs = 5\n\n[[runs]]\nseed = 5\n\n[zz]\na = 1\n",
    ),
    "python constants and class attributes": (
        "params.py",
        PYTHON,
        ["LR=0.2", "EPOCHS=6", "FLAG=false", "LST=[3,4]", "Cfg.depth=4", "Cfg.width=8", "NONE=1"],
        PYTHON.replace("0.1", "0.2")
        .replace("= 5", "= 6")
        .replace("True", "False")
        .replace("[1, 2]", "[3, 4]")
        .replace("None", "1")
        .replace("= 3", "= 4")
        .replace("= 7", "= 8"),
    ),
    "a missing yaml file is created": (
        "params.yaml",
        None,
        ["+a=1", "+b.c=[1,2]"],
        "a: 1\nb:\n  c:\n  - 1\n  - 2\n",
    ),
    "a missing json file is created": (
        "p.json",
        None,
        ["+a=1", "+b.c=[1,2]"],
        '{"a": 1, "b": {"c": [1, 2]}}',
    ),
    "a missing toml file is created": (
        "p.toml",
        None,
        ["+a=1", "+b.c=[1,2]"],
        "a = 1\n\n[b]\nc = [1, 2]\n",
    ),
}


def write(path: Path, text: str | None) -> None:
    if text is not None:
        path.write_bytes(text.encode("utf-8"))


@pytest.mark.parametrize("story", list(CASES))
def test_edited_bytes_are_dvcs(tmp_path: Path, story: str) -> None:
    file, before, overrides, after = CASES[story]
    write(tmp_path / file, before)
    found = parse_overrides([f"{file}:{o}" for o in overrides]) or {file: []}
    assert apply_overrides(str(tmp_path), found) == [file]
    assert (tmp_path / file).read_bytes() == after.encode("utf-8")


def test_no_overrides_at_all_touches_nothing(tmp_path: Path) -> None:
    assert apply_overrides(str(tmp_path), {}) == []
    assert list(tmp_path.iterdir()) == []


def test_several_files_in_one_run(tmp_path: Path) -> None:
    write(tmp_path / "params.yaml", SIMPLE)
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf" / "p.json", '{"a": 1}')
    found = parse_overrides(["train.lr=0.3", "conf/p.json:a=2", "name=x"])
    assert apply_overrides(str(tmp_path), found) == ["params.yaml", "conf/p.json"]
    assert (tmp_path / "params.yaml").read_text() == SIMPLE.replace("0.1", "0.3").replace(
        "name: str", "name: x"
    )
    assert (tmp_path / "conf" / "p.json").read_text() == '{"a": 2}'


def test_one_file_under_two_names_is_edited_in_turn(tmp_path: Path) -> None:
    write(tmp_path / "params.yaml", SIMPLE)
    found = parse_overrides(["+a=1", "./params.yaml:a=2"])
    assert apply_overrides(str(tmp_path), found) == ["params.yaml", "./params.yaml"]
    assert (tmp_path / "params.yaml").read_text().endswith("name: str\na: 2\n")


def test_params_comma_lists(tmp_path: Path) -> None:
    write(tmp_path / "params.yaml", SIMPLE)
    write(tmp_path / "other.yaml", "a: 0\nb: 0\n")
    found = parse_overrides([], ["train.lr=0.5,train.epochs=9", "other.yaml:a=1,b=yes"])
    apply_overrides(str(tmp_path), found)
    assert (
        tmp_path / "params.yaml"
    ).read_text() == "train:\n  lr: 0.5  # rate\n  epochs: 9\nname: str\n"
    assert (tmp_path / "other.yaml").read_text() == "a: 1\nb: yes\n"


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    write(path, SIMPLE)
    path.chmod(0o640)
    apply_overrides(str(tmp_path), parse_overrides(["train.lr=2"]))
    assert path.stat().st_mode & 0o777 == 0o640


# --- nothing is written unless everything succeeds ---------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ["train.lr=0.3", "other.yaml:nope=1"],
        ["train.lr=0.3", "broken.json:+a=1"],
        ["train.lr=0.3", "~train.epochs=6"],
        ["train.lr=0.3", "new.yaml:+a=1", "missing/dir.yaml:+a=1"],
        ["train.lr=0.3", "params.py:+NEW=1"],
    ],
)
def test_a_failure_leaves_every_file_untouched(tmp_path: Path, arguments: list[str]) -> None:
    write(tmp_path / "params.yaml", SIMPLE)
    write(tmp_path / "other.yaml", "a: 1\n")
    write(tmp_path / "broken.json", "{")
    write(tmp_path / "params.py", PYTHON)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    with pytest.raises(LabrunError):
        apply_overrides(str(tmp_path), parse_overrides(arguments))
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before


def test_set_on_a_missing_file_fails_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(OverrideError) as caught:
        apply_overrides(str(tmp_path), parse_overrides(["p.yaml:key=v"]))
    assert "Key 'key' is not in struct" in caught.value.message
    assert "To append to your config use +key=v" in caught.value.message
    assert not (tmp_path / "p.yaml").exists()


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "params.yaml",
            "a: [1,\n",
            "unable to read: 'params.yaml', YAML file structure is corrupted: "
            "while parsing a flow node\nexpected the node content, but found '<stream end>'\n"
            '  in "<unicode string>", line 2, column 1:\n    \n    ^ (line: 2)',
        ),
        (
            "p.json",
            "",
            "unable to read: 'p.json', JSON file structure is corrupted: "
            "Expecting value: line 1 column 1 (char 0)",
        ),
        (
            "p.toml",
            "a = [",
            "unable to read: 'p.toml', TOML file structure is corrupted: "
            "Unexpected end of file at line 1 col 0",
        ),
        (
            "p.py",
            "a = (",
            "unable to read: 'p.py', Python file structure is corrupted: "
            "'(' was never closed (p.py, line 1)",
        ),
    ],
)
def test_unreadable_files(tmp_path: Path, file: str, content: str, message: str) -> None:
    write(tmp_path / file, content)
    with pytest.raises(ParamsFileError) as caught:
        apply_overrides(str(tmp_path), parse_overrides([f"{file}:+a=1"]))
    assert caught.value.message == message


def test_invalid_utf8(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_bytes(b"a: \xff\n")
    with pytest.raises(ParamsFileError) as caught:
        apply_overrides(str(tmp_path), parse_overrides(["a=1"]))
    assert caught.value.message == (
        "unable to read: 'params.yaml', is not valid utf-8: 'utf-8' codec can't decode byte 0xff "
        "in position 3: invalid start byte"
    )


def test_a_directory_in_place_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").mkdir()
    with pytest.raises(OverrideError) as caught:
        apply_overrides(str(tmp_path), parse_overrides(["+a=1"]))
    assert caught.value.message == "unexpected error - [Errno 21] Is a directory: 'params.yaml'"


# --- Python files: where labrun deliberately differs from DVC -----------------------------
# DVC replaces " = <old>" by " = <new>" on the assignment's line: strings, dict entries and
# lists written differently from Python's repr are then silently left unchanged, a string
# replacing a number corrupts the file, and `+`/`~` crash or do nothing. labrun replaces
# the literal itself.


@pytest.mark.parametrize(
    ("before", "override", "after"),
    [
        ('NAME = "n"\n', "NAME=m", 'NAME = "m"\n'),
        ("NAME = 'n'  # name = 'n'\n", "NAME=m", "NAME = 'm'  # name = 'n'\n"),
        ("LR = 0.1\n", "LR='x y'", "LR = 'x y'\n"),
        ('D = {"a": 1, "b": 2}\n', "D.a=5", 'D = {"a": 5, "b": 2}\n'),
        ("T = (1, 2)\n", "T.0=5", "T = (5, 2)\n"),
        ("class C:\n    lst = [1,2]\n", "C.lst=[3,4]", "class C:\n    lst = [3, 4]\n"),
        ("L = [\n    1,\n    2,\n]\nX = 1\n", "L=[3]", "L = [3]\nX = 1\n"),
        ("É = 'é'; B = 1\n", "B=2", "É = 'é'; B = 2\n"),
    ],
)
def test_python_literals_are_replaced_in_place(
    tmp_path: Path, before: str, override: str, after: str
) -> None:
    write(tmp_path / "params.py", before)
    apply_overrides(str(tmp_path), parse_overrides([f"params.py:{override}"]))
    assert (tmp_path / "params.py").read_text(encoding="utf-8") == after


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "+NEW=1",
            "Cannot add 'NEW' to Python params file 'params.py': "
            "only existing assignments can be changed",
        ),
        (
            "~LR",
            "Cannot delete 'LR' from Python params file 'params.py': remove the assignment by hand",
        ),
        ("X=1", "Could not override 'X'."),
        (
            "LR=inf",
            "Cannot write LR=inf to Python params file 'params.py': "
            "the value has no Python literal",
        ),
    ],
)
def test_python_edits_that_are_refused(tmp_path: Path, override: str, message: str) -> None:
    write(tmp_path / "params.py", PYTHON)
    with pytest.raises(LabrunError) as caught:
        apply_overrides(str(tmp_path), parse_overrides([f"params.py:{override}"]))
    assert message in caught.value.message
    assert (tmp_path / "params.py").read_text() == PYTHON


def test_python_file_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(tmp_path / "params.py", f"open({str(marker)!r}, 'w')\nLR = 0.1\n")
    apply_overrides(str(tmp_path), parse_overrides(["params.py:LR=0.2"]))
    assert not marker.exists()
    assert (tmp_path / "params.py").read_text().endswith("LR = 0.2\n")


def test_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "params.yaml", "a: 1\n")
    monkeypatch.chdir(tmp_path)
    apply_overrides(".", parse_overrides(["a=2"]))
    assert Path("params.yaml").read_text() == "a: 2\n"
    assert os.listdir(".") == ["params.yaml"]  # no temporary file left behind


def test_common_overrides_import_neither_hydra_nor_omegaconf(tmp_path: Path) -> None:
    write(tmp_path / "params.yaml", SIMPLE)
    write(tmp_path / "p.json", '{"a": 1}')
    script = (
        "import sys\n"
        "from labrun.experiments.params import apply_overrides, parse_overrides\n"
        "found = parse_overrides(['train.lr=0.1', '+seed=1', '~name', 'p.json:a=x'])\n"
        f"apply_overrides({str(tmp_path)!r}, found)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf', 'antlr4'}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert proc.stdout == "[]\n"
    assert (tmp_path / "p.json").read_text() == '{"a": "x"}'
