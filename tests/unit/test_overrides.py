"""Parsing, typing, sweeps and errors of `exp run -S` / `--params` overrides.

The fast scanner for simple overrides and the fast interpreter of Hydra's rules are
checked against Hydra/OmegaConf themselves (the reference) on large tables.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import pytest

from labrun.errors import LabrunError
from labrun.experiments import params
from labrun.experiments.overrides import (
    ADD,
    DELETE,
    FORCE,
    SET,
    Override,
    OverrideError,
    OverrideSyntaxError,
    _parse_hydra,
    _parse_simple,
    check_no_sweeps,
    expand_sweeps,
    format_overrides,
    has_sweeps,
    override_texts,
    parse_grouped_overrides,
    parse_override,
    parse_overrides,
    render_value,
    split_file,
    type_scalar,
)

DOCS = "See https://hydra.cc/docs/1.2/advanced/override_grammar/basic for details"


def shape(value: Any) -> Any:
    """A value with its types spelled out, so that 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {shape(k): shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return (type(value).__name__, repr(value))


def fields(override: Override) -> tuple[Any, ...]:
    return (override.kind, override.key, shape(override.value), override.package, override.sweep)


# --- typing ------------------------------------------------------------------------------

TYPED = [
    ("1", 1),
    ("-20", -20),
    ("+5", 5),
    ("1_000", 1000),
    ("0", 0),
    ("0.1", 0.1),
    ("1e-3", 0.001),
    ("1E5", 100000.0),
    ("-.5e3", -500.0),
    (".5", 0.5),
    ("5.", 5.0),
    ("1_0.5", 10.5),
    ("inf", math.inf),
    ("-INF", -math.inf),
    ("true", True),
    ("TrUe", True),
    ("FALSE", False),
    ("null", None),
    ("Null", None),
    ("abc", "abc"),
    ("a-b_1", "a-b_1"),
    ("yes", "yes"),
    ("01", "01"),
    ("00.5", "00.5"),
    ("0x1F", "0x1F"),
    ("1e", "1e"),
    ("1.5.2", "1.5.2"),
    ("infinity", "infinity"),
    ("nan_", "nan_"),
    ("true_", "true_"),
    ("1+2", "1+2"),
    ("-", "-"),
    (":", ":"),
    ("a:b", "a:b"),
    ("2020-01-01", "2020-01-01"),
    ("$HOME/x", "$HOME/x"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), TYPED)
def test_values_are_typed_as_hydra_types_them(text: str, expected: Any) -> None:
    found = parse_override("params.yaml", f"a={text}")
    assert shape(found.value) == shape(expected)
    assert shape(type_scalar(text)) == shape(expected)
    assert fields(_parse_hydra("params.yaml", f"a={text}")) == fields(found)


def test_nan_is_a_float() -> None:
    value = parse_override("params.yaml", "a=NaN").value
    assert isinstance(value, float)
    assert math.isnan(value)


# --- the fast scanner against Hydra ------------------------------------------------------

PREFIXES = ["", "+", "++", "~"]
KEYS = ["a", "train.lr", "a.0", "a.1_0", "$x", "a-b", "a.$b.c-", "_", "A9.z", "0.a", "a.b_"]
VALUES = [text for text, _ in TYPED] + [
    "1_",
    "1__0",
    "0_0",
    "-1abc",
    "1e+5",
    "1e-05",
    ".e5",
    "inf.5",
    "+",
    ".",
    "@x",
    "a|b",
    "%*?",
    "x/y/z",
    "NULL1",
    "nan",
]


def _inputs(prefix: str) -> list[str]:
    """Every value under one key, and every key with a few values (keys and values lex apart)."""
    texts = [f"{prefix}train.lr={v}" for v in VALUES]
    texts += [f"{prefix}{k}={v}" for k, v in itertools.product(KEYS, ["1", "x", "1e-3", ""])]
    return texts + [f"~{k}" for k in KEYS]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_fast_scanner_agrees_with_hydra_on_every_simple_input(prefix: str) -> None:
    accepted = 0
    for text in _inputs(prefix):
        fast = _parse_simple("params.yaml", text)
        if fast is None:
            continue
        accepted += 1
        assert fields(fast) == fields(_parse_hydra("params.yaml", text)), text
    assert accepted > 90  # the table really exercises the fast path


@pytest.mark.parametrize(
    "text",
    [
        "a='x y'",
        'a="1"',
        "a=[1,2]",
        "a={x:1}",
        "a=1,2",
        "a=x\\ y",
        "a= 1",
        "a=${b}",
        "a=é",
        "a@pkg=1",
        "db/mysql=1",
        "a",
        "+a",
        "a.01=1",
        "0=1",
        "a==1",
        " a=1",
    ],
)
def test_fast_scanner_leaves_everything_else_to_hydra(text: str) -> None:
    assert _parse_simple("params.yaml", text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.lr=0.1", (SET, "train.lr", 0.1, None, "")),
        ("+a.b=v", (ADD, "a.b", "v", None, "")),
        ("++a=1", (FORCE, "a", 1, None, "")),
        ("~a", (DELETE, "a", None, None, "")),
        ("~a=5", (DELETE, "a", 5, None, "")),
        ("a.0=v", (SET, "a.0", "v", None, "")),
        ("a=[1,'x y',[2]]", (SET, "a", [1, "x y", [2]], None, "")),
        ("a={x:1,y:[true]}", (SET, "a", {"x": 1, "y": [True]}, None, "")),
        ("a='0.7'", (SET, "a", "0.7", None, "")),
        ('a="x y"', (SET, "a", "x y", None, "")),
        ("a='it\\'s'", (SET, "a", "it's", None, "")),
        ("a=x\\ y\\,z", (SET, "a", "x y,z", None, "")),
        ("a= 1 ", (SET, "a", 1, None, "")),
        ("a=int(3.7)", (SET, "a", 3, None, "")),
        ("a=${b.c}", (SET, "a", "${b.c}", None, "")),
        ("a@pkg=1", (SET, "a", 1, "pkg", "")),
        ("a=1,2", (SET, "a", None, None, "choice")),
        ("a=choice(x,y)", (SET, "a", None, None, "choice")),
        ("a=range(1,5)", (SET, "a", None, None, "range")),
        ("a=glob(*)", (SET, "a", None, None, "glob")),
        ("a=interval(0,1)", (SET, "a", None, None, "interval")),
    ],
)
def test_hydra_grammar(text: str, expected: tuple[Any, ...]) -> None:
    kind, key, value, package, sweep = expected
    found = parse_override("params.yaml", text)
    assert fields(found) == (kind, key, shape(value), package, sweep)
    assert found.text == text


# --- files and grouping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "file", "text"),
    [
        ("train.lr=1", "params.yaml", "train.lr=1"),
        ("other.yaml:a=1", "other.yaml", "a=1"),
        ("sub/p.json:+a=1", "sub/p.json", "+a=1"),
        ("p.toml:~a", "p.toml", "~a"),
        ("a=http://x:1", "params.yaml", "a=http://x:1"),
        ("p.yaml:a=b:c", "p.yaml", "a=b:c"),
        ("./params.yaml:a=1", "./params.yaml", "a=1"),
    ],
)
def test_file_prefix_is_looked_for_before_the_first_equals(
    argument: str, file: str, text: str
) -> None:
    assert split_file(argument) == (file, text)


def test_overrides_are_grouped_by_file_in_order() -> None:
    found = parse_overrides(["a=1", "o.json:b=2", "c=3", "o.json:~d"])
    assert override_texts(found) == {"params.yaml": ["a=1", "c=3"], "o.json": ["b=2", "~d"]}
    assert format_overrides(found) == "{'params.yaml': ['a=1', 'c=3'], 'o.json': ['b=2', '~d']}"


def test_format_overrides_is_the_dict_repr_dvc_prints() -> None:
    # observed: dvc exp run --queue -S train.lr=3 -S "other.yaml:+b='x y'" -S other.yaml:+c=[1,2]
    found = parse_overrides(["train.lr=3", "other.yaml:+b='x y'", "other.yaml:+c=[1,2]"])
    assert format_overrides(found) == (
        "{'params.yaml': ['train.lr=3'], 'other.yaml': [\"+b='x y'\", '+c=[1,2]']}"
    )


def test_grouped_texts_parse_back_to_the_same_overrides() -> None:
    found = parse_overrides(["a=1", "o.json:+b='x'", "~c"])
    assert parse_grouped_overrides(override_texts(found)) == found


# --- the pre-2.0 `--params` comma lists --------------------------------------------------


def test_params_comma_list_sets_several_keys() -> None:
    found = parse_overrides([], ["train.lr=0.1,train.epochs=5"])
    assert [(o.key, o.value, o.kind) for o in found["params.yaml"]] == [
        ("train.lr", 0.1, SET),
        ("train.epochs", 5, SET),
    ]


def test_params_comma_list_with_a_file_prefix() -> None:
    found = parse_overrides([], ["other.yaml:a=1,b=2"])
    assert list(found) == ["other.yaml"]
    assert [o.text for o in found["other.yaml"]] == ["a=1", "b=2"]


@pytest.mark.parametrize(
    ("item", "value", "text"),
    [
        ("a=yes", "yes", "a=yes"),
        ("a=1e-05", 1e-05, "a=1e-05"),
        ("a=017", 17, "a=17"),
        ("a='1'", "1", "a='1'"),
        ("a=~", None, "a=null"),
        ("a=[1]", [1], "a=[1]"),
        ("a=[x]", ["x"], "a=[x]"),
        ("a=2020-01-01", "2020-01-01", "a=2020-01-01"),
        ("a=x y", "x y", "a='x y'"),
        ("+a=1", 1, "+a=1"),
    ],
)
def test_params_values_are_yaml_1_2(item: str, value: Any, text: str) -> None:
    (found,) = parse_overrides([], [item])["params.yaml"]
    assert shape(found.value) == shape(value)
    assert found.text == text
    assert shape(parse_override("params.yaml", found.text).value) == shape(value)


def test_params_and_set_param_combine() -> None:
    found = parse_overrides(["a=1"], ["b=2", "o.yaml:c=3"])
    assert override_texts(found) == {"params.yaml": ["a=1", "b=2"], "o.yaml": ["c=3"]}


@pytest.mark.parametrize(
    "value",
    [
        "x",
        "1",
        "true",
        "null",
        "x y",
        "it's",
        "back\\slash",
        "ends\\",
        "q\\'",
        "${a}",
        "a,b",
        "a:b",
        "[x]",
        "",
        "é",
        1,
        -2.5,
        1e-05,
        True,
        None,
        math.inf,
        ["a b", 1, [None]],
        {"k": "v w", "n": 1},
    ],
)
def test_rendered_values_parse_back_unchanged(value: Any) -> None:
    text = f"a={render_value(value)}"
    assert shape(parse_override("p.yaml", text).value) == shape(value)
    assert shape(_parse_hydra("p.yaml", text).value) == shape(value)


# --- sweeps ------------------------------------------------------------------------------


def texts_of(sets: list[dict[str, list[Override]]]) -> list[str]:
    return [format_overrides(s) for s in sets]


def test_sweep_expansion_as_in_the_spec() -> None:
    sets = expand_sweeps(parse_overrides(["train.lr=1,2", "seed=range(1,3)"]))
    assert texts_of(sets) == [
        "{'params.yaml': ['train.lr=1', 'seed=1']}",
        "{'params.yaml': ['train.lr=1', 'seed=2']}",
        "{'params.yaml': ['train.lr=2', 'seed=1']}",
        "{'params.yaml': ['train.lr=2', 'seed=2']}",
    ]


def test_sweep_expansion_across_files_first_file_slowest() -> None:
    # observed: dvc exp run --queue -S 'train.lr=1,2' -S '+seed=range(1,3)'
    #           -S 'o.json:+x=choice(a,b)' -n sw
    sets = expand_sweeps(
        parse_overrides(["train.lr=1,2", "+seed=range(1,3)", "o.json:+x=choice(a,b)"])
    )
    assert texts_of(sets) == [
        "{'params.yaml': ['train.lr=1', '+seed=1'], 'o.json': ['+x=a']}",
        "{'params.yaml': ['train.lr=1', '+seed=1'], 'o.json': ['+x=b']}",
        "{'params.yaml': ['train.lr=1', '+seed=2'], 'o.json': ['+x=a']}",
        "{'params.yaml': ['train.lr=1', '+seed=2'], 'o.json': ['+x=b']}",
        "{'params.yaml': ['train.lr=2', '+seed=1'], 'o.json': ['+x=a']}",
        "{'params.yaml': ['train.lr=2', '+seed=1'], 'o.json': ['+x=b']}",
        "{'params.yaml': ['train.lr=2', '+seed=2'], 'o.json': ['+x=a']}",
        "{'params.yaml': ['train.lr=2', '+seed=2'], 'o.json': ['+x=b']}",
    ]


def test_sweep_expansion_rewrites_values_as_hydra_prints_them() -> None:
    sets = expand_sweeps(parse_overrides(["a=1e-3", "~b", "c='x y'", "d=true,null", "e=[1, 2]"]))
    assert texts_of(sets) == [
        "{'params.yaml': ['a=0.001', '~b=null', \"c='x y'\", 'd=True', 'e=[1,2]']}",
        "{'params.yaml': ['a=0.001', '~b=null', \"c='x y'\", 'd=null', 'e=[1,2]']}",
    ]
    assert sets[0]["params.yaml"][3].value is True


def test_a_key_given_twice_keeps_its_place_and_its_last_values() -> None:
    sets = expand_sweeps(parse_overrides(["a=1", "b=5", "a=2,3"]))
    assert texts_of(sets) == [
        "{'params.yaml': ['a=2', 'b=5']}",
        "{'params.yaml': ['a=3', 'b=5']}",
    ]


def test_float_range_and_empty_range() -> None:
    sets = expand_sweeps(parse_overrides(["a=range(0.1,0.5,0.1)"]))
    assert [s["params.yaml"][0].text for s in sets] == [
        "a=0.1",
        "a=0.2",
        "a=0.30000000000000004",
        "a=0.4",
    ]
    assert expand_sweeps(parse_overrides(["a=range(1,1)"])) == []


def test_no_sweep_gives_one_set_and_a_file_without_overrides_is_kept() -> None:
    found = parse_overrides(["a=1"])
    found["other.yaml"] = []
    assert texts_of(expand_sweeps(found)) == ["{'params.yaml': ['a=1'], 'other.yaml': []}"]
    assert not has_sweeps(found)
    check_no_sweeps(found)


# --- errors: one row per message ---------------------------------------------------------

BASE = {"train": {"lr": 0.2, "layers": [1, 2], "nested": [{"a": 1}]}, "name": "str", "nul": None}

APPLY_ERRORS = [
    (
        "train.nope=1",
        "Invalid `--set-param` value: Could not override 'train.nope'.\n"
        "To append to your config use +train.nope=1: Key 'nope' is not in struct\n"
        "    full_key: train.nope\n"
        "    object_type=dict",
    ),
    (
        "x.y=1",
        "Invalid `--set-param` value: Could not override 'x.y'.\n"
        "To append to your config use +x.y=1: Key 'x' is not in struct\n"
        "    full_key: x\n"
        "    object_type=dict",
    ),
    (
        "train.nested.0.zz=1",
        "Invalid `--set-param` value: Could not override 'train.nested.0.zz'.\n"
        "To append to your config use +train.nested.0.zz=1: Key 'zz' is not in struct\n"
        "    full_key: train.nested[0].zz\n"
        "    object_type=dict",
    ),
    (
        "+train.lr=1",
        "Invalid `--set-param` value: Could not append to config. "
        "An item is already at 'train.lr'.\n"
        "Either remove + prefix: 'train.lr=1'\n"
        "Or add a second + to add or override 'train.lr': '++train.lr=1'\n",
    ),
    (
        "~train.lr=5",
        "Invalid `--set-param` value: Could not delete from config. "
        "The value of 'train.lr' is 0.2 and not 5.",
    ),
    ("~nope", "Invalid `--set-param` value: Could not delete from config. 'nope' does not exist."),
    ("~nul", "Invalid `--set-param` value: Could not delete from config. 'nul' does not exist."),
    (
        "train.layers.5=1",
        "Invalid `--set-param` value: Error merging override train.layers.5=1: "
        "list index out of range\n"
        "    full_key: train.layers[5]\n"
        "    object_type=list",
    ),
    (
        "train.layers={a:1}",
        "Invalid `--set-param` value: Error merging override train.layers={a:1}: "
        "Cannot merge DictConfig with ListConfig\n"
        "    full_key: train.layers\n"
        "    object_type=list",
    ),
    (
        "a@b=1",
        "Invalid `--set-param` value: Override a@b=1 looks like a config group override, "
        "but config group 'a' does not exist.",
    ),
    (
        "~train.layers.0",
        "unexpected error - list indices must be integers or slices, not str",
    ),
    (
        "+a=???",
        "unexpected error - Missing mandatory value: a\n    full_key: a\n    object_type=dict",
    ),
]


@pytest.mark.parametrize(("text", "message"), APPLY_ERRORS)
def test_apply_errors_carry_dvcs_messages(text: str, message: str) -> None:
    with pytest.raises(OverrideError) as caught:
        params.new_values(copy.deepcopy(BASE), [parse_override("params.yaml", text)])
    assert caught.value.message == message
    assert caught.value.exit_code == 255


PARSE_ERRORS = [
    (
        "a=[1,",
        f"unexpected error - no viable alternative at input '[1,'\n{DOCS}",
    ),
    (
        "a b=1",
        f"unexpected error - LexerNoViableAltException: a b=1\n{' ' * 28}^\n{DOCS}",
    ),
    (
        "a=foo(1)",
        "unexpected error - Error parsing override 'a=foo(1)'\n"
        "HydraException while evaluating 'foo(1)': Unknown function 'foo'\n"
        "Available: bool,choice,float,glob,int,interval,range,shuffle,sort,str,tag\n\n"
        f"{DOCS}: Unknown function 'foo'\n"
        "Available: bool,choice,float,glob,int,interval,range,shuffle,sort,str,tag\n",
    ),
    (
        "a=int(x)",
        "unexpected error - Error parsing override 'a=int(x)'\n"
        "ValueError while evaluating 'int(x)': invalid literal for int() with base 10: 'x'\n"
        f"{DOCS}: invalid literal for int() with base 10: 'x'",
    ),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_syntax_errors_are_reported_as_dvc_reports_them(text: str, message: str) -> None:
    with pytest.raises(OverrideSyntaxError) as caught:
        parse_overrides([text])
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["a=1,2"], "Sweep overrides can't be used without `--queue`"),
        (["a=range(3)"], "Sweep overrides can't be used without `--queue`"),
        (["b=1", "o.json:a=glob(*)"], "Sweep overrides can't be used without `--queue`"),
    ],
)
def test_sweeps_need_a_queue(arguments: list[str], message: str) -> None:
    found = parse_overrides(arguments)
    assert has_sweeps(found)
    with pytest.raises(OverrideError) as checked:
        check_no_sweeps(found)
    assert checked.value.message == message
    with pytest.raises(OverrideError) as caught:
        params.apply_overrides("/nonexistent", found)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["a=glob(*)"], "Glob override 'a=glob(*)' is not supported."),
        (
            ["a=interval(0,1)"],
            "unexpected error - BasicSweeper does not support sweep type : INTERVAL_SWEEP",
        ),
        (["a=range(0,1,0)"], "unexpected error - range() arg 3 must not be zero"),
    ],
)
def test_sweeps_that_cannot_be_expanded(arguments: list[str], message: str) -> None:
    with pytest.raises(OverrideError) as caught:
        expand_sweeps(parse_overrides(arguments))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("a=", "Must provide a value for parameter 'a'"),
        ("a", "Must provide a value for parameter 'a'"),
        ("a=[1", "Invalid parameter value for 'a': '[1'"),
        ("a b=1", "Invalid parameter name 'a b' in 'a b=1'"),
    ],
)
def test_params_list_errors(argument: str, message: str) -> None:
    with pytest.raises(OverrideError) as caught:
        parse_overrides([], [argument])
    assert caught.value.message == message


def test_errors_are_labrun_errors() -> None:
    assert issubclass(OverrideError, LabrunError)
    assert issubclass(OverrideSyntaxError, OverrideError)


# --- the fast interpreter of Hydra's rules against Hydra/OmegaConf -----------------------

DATA = {
    "a": {"b": 1, "c": [1, {"d": 2}], "n": None, "s": "x", "f": 1.5, "t": True},
    "l": [[1, 2], {"e": {}}],
    "z": None,
    "k": "v",
    "i": 0,
    "e": {},
}
PATHS = [
    "a",
    "a.b",
    "a.c",
    "a.c.0",
    "a.c.1",
    "a.c.1.d",
    "a.c.2",
    "a.n",
    "a.n.q",
    "a.s",
    "a.s.q",
    "a.f",
    "a.t",
    "l",
    "l.0.1",
    "l.1.e",
    "l.1.e.f",
    "z",
    "k.j",
    "i",
    "new",
    "new.deep.er",
    "e.x",
    "a.c.1.zz",
]
APPLIED = ["", "1", "1.5", "x", "true", "null", "???"]


def _outcome(run: Any) -> tuple[str, str]:
    try:
        return "ok", repr(shape(run(copy.deepcopy(DATA))))
    except OverrideError as exc:
        return "error", exc.message


def _fast(overrides: list[Override]) -> Any:
    def run(data: Any) -> Any:
        for override in overrides:
            params._apply_simple(data, override)
        return data

    return run


def _combinations(prefix: str) -> list[list[str]]:
    if prefix == "pairs":
        return [[f"~{k}", f"+{k}.x=1"] for k in PATHS] + [[f"{k}=1", f"~{k}=1"] for k in PATHS]
    singles = [[f"{prefix}{k}={v}"] for k, v in itertools.product(PATHS, APPLIED)]
    return singles + [[f"~{k}"] for k in PATHS if prefix == "~"]


@pytest.mark.parametrize("prefix", [*PREFIXES, "pairs"])
def test_fast_interpreter_agrees_with_hydra_and_omegaconf(prefix: str) -> None:
    handled = 0
    for texts in _combinations(prefix):
        overrides = [parse_override("params.yaml", t) for t in texts]
        try:
            fast = _outcome(_fast(overrides))
        except params._Fallback:
            continue
        handled += 1
        reference = _outcome(lambda d, o=overrides: params._apply_reference(d, o))
        assert fast == reference, texts
    assert handled > 20


@pytest.mark.parametrize(
    "text",
    ["a.b=2", "+new=1", "++a.b=3", "+new.deep.er=x", "~a.b", "~a.b=1", "a.c.0=5", "a.c.1.d=3",
     "a=7", "nope=1", "+a.b=2", "~nope", "~a.b=2", "z=1", "+z=1"],
)  # fmt: skip
def test_common_overrides_never_need_hydra(text: str) -> None:
    try:
        params._apply_simple(copy.deepcopy(DATA), parse_override("params.yaml", text))
    except params._Fallback:
        pytest.fail(f"{text} went to Hydra")
    except OverrideError:
        pass  # the common errors are the fast path's too


def test_interpolations_in_the_file_go_to_omegaconf() -> None:
    data = {"train": {"lr": 0.1}, "ref": "${train.lr}"}
    assert params.new_values(data, [parse_override("p", "train.lr=1")]) == {
        "train": {"lr": 1},
        "ref": 1,
    }
    assert data["ref"] == "${train.lr}"
