"""labrun.digests gives what hashlib and json give, without loading them."""

from __future__ import annotations

import ast
import hashlib
import json
import random
from pathlib import Path

import pytest

from labrun import digests

LABRUN = Path(digests.__file__).parent


_SCALARS = (
    ["", "a", "é", "☃", 'x"y\\', "\n\t\x00", "😀", "z" * 5],
    [0.1, -0.0, 1e300, 1e-300, float("nan"), float("inf"), -float("inf"), 1 / 3],
    [None, True, False, 0, 1, -(10**20), 10**20, 3],
)
_KEYS = ["a", "b", "é", "1", "x y", ""]


def _value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(5 if depth < 4 else 3)
    if kind < len(_SCALARS):
        return rng.choice(_SCALARS[kind])
    if kind == 3:
        items = [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
        return items if rng.random() < 0.7 else tuple(items)
    return {rng.choice(_KEYS) + str(rng.randint(0, 3)): _value(rng, depth + 1) for _ in range(3)}


def test_json_sorted_is_json_dumps_with_sorted_keys() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        value = _value(rng)
        assert digests.json_sorted(value) == json.dumps(value, sort_keys=True), value


@pytest.mark.parametrize(
    "value",
    [{1: "a", 2: "b"}, {True: 1, False: 2}, {None: 1}, {1.5: 2, -3: 4}, {"k": (1, [2, {}])}],
)
def test_json_sorted_converts_keys_as_json(value: object) -> None:
    assert digests.json_sorted(value) == json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("value", [{1: "a", "b": 2}, {(1,): 2}, {"a": {1, 2}}, b"bytes"])
def test_json_sorted_refuses_what_json_refuses(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value, sort_keys=True)
    with pytest.raises(TypeError):
        digests.json_sorted(value)


@pytest.mark.parametrize("data", [b"", b"a", bytes(range(256)) * 4099])
def test_hashes_match_hashlib(data: bytes) -> None:
    assert digests.md5(data).hexdigest() == hashlib.md5(data).hexdigest()
    big = digests.md5(big=True)
    big.update(data)
    assert big.hexdigest() == hashlib.md5(data).hexdigest()
    assert digests.sha1(data).hexdigest() == hashlib.sha1(data).hexdigest()
    assert digests.sha256_hex(data) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("module", "name"), [("cache/hashing.py", "FileStat"), ("cache/scan.py", "Folder")]
)
def test_run_time_named_tuples_have_the_typed_fields(module: str, name: str) -> None:
    """The NamedTuple the type checker sees and the namedtuple that runs agree."""
    import importlib

    tree = ast.parse((LABRUN / module).read_text(encoding="utf-8"))
    typed = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name)
    fields = tuple(
        s.target.id
        for s in typed.body
        if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
    )
    runtime = getattr(importlib.import_module("labrun." + module[:-3].replace("/", ".")), name)
    assert runtime._fields == fields
