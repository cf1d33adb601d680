"""The character checks of labrun.experiments.overrides against the expressions they replace."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from labrun.experiments import overrides as ov

# The regular expressions the scanner stands for (the module's comment writes them out).
SEGMENT = r"(?:[A-Za-z_$][A-Za-z0-9_$\-]*|0|[1-9](?:_?[0-9])*)"
NAME = r"[A-Za-z_$][A-Za-z0-9_$\-]*"
SIMPLE = re.compile(
    rf"(\+\+|\+|~)?({NAME}|{SEGMENT}(?:\.{SEGMENT})+)(?:=([A-Za-z0-9_/\-+.$%*@?|:]*))?"
)
UINT = r"(?:0|[1-9](?:_?[0-9])*)"
DIGITS = r"[0-9](?:_?[0-9])*"
POINT = rf"(?:{UINT}\.|{UINT}?\.{DIGITS})"
FLOAT = re.compile(
    rf"[+-]?(?:{POINT}|(?:{UINT}|{POINT})[eE][+-]?{DIGITS}|[Ii][Nn][Ff]|[Nn][Aa][Nn])"
)
INT = re.compile(rf"[+-]?{UINT}")
ESCAPED = re.compile(r"[\\()\[\]{}:=, \t]")
PLAIN_VALUE = re.compile(r"[A-Za-z0-9_/\-+.$%*@?|:]*")

NUMBER_CHARS = "0123456789_.eE+-iInNaAfFx"
OVERRIDE_CHARS = "ab_$-0123.=+~x:/ 'é9"


def _strings(alphabet: str, short: int, count: int, seed: int) -> list[str]:
    every = ["".join(p) for n in range(short + 1) for p in itertools.product(alphabet, repeat=n)]
    rng = random.Random(seed)
    longer = ["".join(rng.choices(alphabet, k=rng.randint(4, 12))) for _ in range(count)]
    return every + longer


def test_numbers_are_recognised_as_the_expressions_do() -> None:
    for text in _strings(NUMBER_CHARS, 3, 30000, 1):
        assert ov._is_float(text) == bool(FLOAT.fullmatch(text)), text
        assert ov._is_int(text) == bool(INT.fullmatch(text)), text
    for text in ["İnf", "ınf", "Nan", "1_0.0_1e-1_0", "0.", ".0", "00.5", "1e05", "1E+5"]:
        assert ov._is_float(text) == bool(FLOAT.fullmatch(text)), text


@pytest.mark.parametrize("seed", range(3))
def test_simple_overrides_are_split_as_the_expression_does(seed: int) -> None:
    for text in _strings(OVERRIDE_CHARS, 3 if seed == 0 else 0, 20000, seed):
        match = SIMPLE.fullmatch(text)
        expected = None if match is None else (match[1] or "", match[2], match[3])
        assert ov._split_simple(text) == expected, text


def test_escapes_and_plain_values_as_the_expressions() -> None:
    for text in _strings("a \\(]{}:=,\t/-+.$%*@?|é'", 2, 3000, 4):
        assert ov.escape(text) == ESCAPED.sub(lambda m: "\\" + m.group(0), text), text
        assert ov._VALUE_CHARS.issuperset(text) == bool(PLAIN_VALUE.fullmatch(text)), text
