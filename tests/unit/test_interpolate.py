"""`${...}` expressions, the context, dict unpacking (pipelines.md §6)."""

from __future__ import annotations

from typing import Any

import pytest

from labrun.pipeline.interpolate import (
    Context,
    ExpressionError,
    MergeError,
    MissingKeyError,
    ParsingConfig,
    parse_expression,
    resolve,
    resolve_str,
)


def ctx_of(**data: Any) -> Context:
    ctx = Context()
    ctx.merge(data, source="params.yaml")
    return ctx


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${n}", 3),  # whole-string expressions keep their type
        ("${f}", 0.1),
        ("${b}", True),
        ("${z}", None),
        ("n=${n}", "n=3"),
        ("${b}!", "true!"),  # booleans are lowercase inside text
        ("${z}?", "None?"),
        ("${sci}", 1e-05),
        ("x${sci}", "x1e-05"),
        ("${s}", "a b"),
        ("run ${s}", "run a b"),  # strings are inserted unquoted
        ("${d.e}", 2),
        ("${d[e]}", 2),  # [key] is the same as .key
        ("${l[1]}", 20),
        ("${l.1}", 20),
        ("${ d . e }", 2),  # spaces around parts are stripped
        ("\\${n}", "${n}"),  # escaped: literal, backslash removed
        ("${n}-\\${n}", "3-${n}"),
        ("no expression", "no expression"),
        ("${n}${n}", "33"),
        ("${ll[0].x}", 1),
    ],
)
def test_resolve_str(text: str, expected: Any) -> None:
    ctx = ctx_of(
        n=3, f=0.1, b=True, z=None, sci=1e-05, s="a b", d={"e": 2}, l=[10, 20], ll=[{"x": 1}]
    )
    assert resolve_str(text, ctx, field="cmd") == expected


def test_missing_key_message() -> None:
    with pytest.raises(MissingKeyError, match=r"^Could not find 'nope'$"):
        resolve_str("echo ${nope}", ctx_of(), field="cmd")


def test_missing_nested_key_names_the_whole_path() -> None:
    with pytest.raises(MissingKeyError, match=r"Could not find 'a.b'"):
        resolve_str("${a.b}", ctx_of(a=1), field="cmd")


@pytest.mark.parametrize("expr", ["a.", "", "a[0", "a]"])
def test_syntax_errors_point_at_the_problem(expr: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(expr)
    first, pointer, detail = info.value.message.splitlines()
    assert first == "${" + expr + "}"
    assert pointer.strip() == "^"
    assert detail.startswith("ParseException: ")


def test_parse_expression_normalises_indexes() -> None:
    assert parse_expression("a[0].b[c]") == "a.0.b.c"


@pytest.mark.parametrize("field", ["deps", "outs", "wdir"])
def test_collections_cannot_be_interpolated_outside_cmd(field: str) -> None:
    ctx = ctx_of(d={"a": 1}, l=[1])
    with pytest.raises(ExpressionError, match="Cannot interpolate data of type 'dict'"):
        resolve("${d}", ctx, field=field)
    with pytest.raises(ExpressionError, match="Cannot interpolate data of type 'list'"):
        resolve("x ${l}", ctx, field=field)


def test_foreach_values_may_be_collections() -> None:
    ctx = ctx_of(models={"a": {"x": 1}})
    assert resolve("${models}", ctx, field="foreach") == {"a": {"x": 1}}


def test_dict_unpacking_in_cmd_matches_the_spec_example() -> None:
    opts = {
        "foo": "foo bar",
        "n": 1,
        "flag": True,
        "off": False,
        "lst": [2, "q r"],
        "nested": {"baz": 3},
    }
    got = resolve_str("python train.py ${opts}", ctx_of(opts=opts), field="cmd")
    assert got == "python train.py --foo 'foo bar' --n 1 --flag --lst 2 'q r' --nested.baz 3"


def test_dict_unpacking_with_boolean_optional_and_append() -> None:
    parsing = ParsingConfig(bool_style="boolean_optional", list_style="append")
    ctx = ctx_of(opts={"off": False, "lst": [1, 2], "z": None, "empty": {}})
    got = resolve_str("t ${opts}", ctx, field="cmd", parsing=parsing)
    assert got == "t --no-off --lst 1 --lst 2 --z None"


def test_dict_unpacking_rejects_nested_lists() -> None:
    with pytest.raises(ExpressionError, match="Cannot interpolate nested iterable in 'l'"):
        resolve_str("t ${o}", ctx_of(o={"l": [[1]]}), field="cmd")


def test_mapping_keys_are_resolved_too() -> None:
    ctx = ctx_of(name="m")
    assert resolve([{"${name}.csv": {"cache": False}}], ctx, field="outs") == [
        {"m.csv": {"cache": False}}
    ]


def test_merge_is_recursive_and_redefinition_names_both_sources() -> None:
    ctx = Context()
    ctx.merge({"grp": {"a": 1}}, source="params.yaml")
    ctx.merge({"grp": {"b": 2}}, source="vars[0]")
    assert ctx.data == {"grp": {"a": 1, "b": 2}}
    with pytest.raises(MergeError) as info:
        ctx.merge({"grp": {"a": 3}}, source="vars[1]")
    assert info.value.message == (
        "cannot redefine 'grp.a' from 'vars[1]' as it already exists in 'params.yaml'"
    )


def test_redefinition_of_a_nested_key_names_the_source_that_added_it() -> None:
    ctx = Context()
    ctx.merge({"grp": {"a": 1}}, source="params.yaml")
    ctx.merge({"grp": {"b": 2}}, source="vars[0]")
    with pytest.raises(MergeError, match="already exists in 'vars\\[0\\]'"):
        ctx.merge({"grp": {"b": 3}}, source="vars[1]")


def test_unsupported_values_are_rejected_with_their_location() -> None:
    import datetime

    with pytest.raises(MergeError, match=r"Unsupported value of type 'date' in 'params.yaml:d'"):
        Context().merge({"d": datetime.date(2020, 1, 1)}, source="params.yaml")


def test_non_string_keys_are_ignored() -> None:
    ctx = Context()
    ctx.merge({1: "x", "a": {2: "y", "b": 1}}, source="p")
    assert ctx.data == {"a": {"b": 1}}


def test_temporarily_reserves_and_restores() -> None:
    ctx = ctx_of(item="global")
    with ctx.temporarily({"item": 1, "key": "k"}):
        assert ctx.select("item") == 1
        with pytest.raises(MergeError, match="attempted to modify reserved key item"):
            ctx.copy().merge({"item": 2}, source="s.vars[0]")
    assert ctx.select("item") == "global"
    assert "key" not in ctx


def test_copy_is_independent() -> None:
    ctx = ctx_of(a={"b": 1})
    other = ctx.copy()
    other.merge({"a": {"c": 2}}, source="x")
    assert ctx.data == {"a": {"b": 1}}
