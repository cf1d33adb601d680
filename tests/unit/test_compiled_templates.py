"""Compiled templates (`compile_value`, `PipelineFile.generate`) against the reference resolver.

A `foreach`/`matrix` group's template is parsed once and substituted for each
item. For every value, context and pipeline here, the compiled form must give
exactly what `resolve` (and `generate(..., compiled=False)`) gives, or raise the
same error with the same message.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from labrun.errors import LabrunError
from labrun.pipeline.dvcfile import PipelineFile
from labrun.pipeline.interpolate import Context, ParsingConfig, compile_value, resolve

COMPAT = Path(__file__).parents[1] / "compat"


def attempt(run: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """``run(*args, **kwargs)``: its value (repr and type), or its error."""
    try:
        value = run(*args, **kwargs)
    except LabrunError as exc:
        return ("error", type(exc).__name__, exc.message, exc.hint)
    return ("ok", repr(value), type(value).__name__)


# --- values -------------------------------------------------------------------------------

DATA: dict[str, Any] = {
    "n": 3,
    "f": 0.1,
    "b": False,
    "z": None,
    "s": "a b",
    "esc": "\\${n}",
    "d": {"e": 2, "flag": True, "off": False, "opts": {"lr": 0.1}, "l": [1, "x y"]},
    "l": [10, 20, {"x": 1}],
    "nested": {"bad": [[1]]},
    "item": {"name": "cnn", "size": 2, "tags": ["a", "b"]},
    "key": "cnn",
}
STRINGS = [
    "plain",
    "",
    "${n}",
    "${item}",
    "${item.name}",
    "${item[name]}",
    "${ item . size }",
    "${key}",
    "${d}",
    "${l}",
    "run ${d}",
    "run ${d.opts} --x ${n}",
    "${n}${f}${b}${z}",
    "a ${s} b ${item.tags[1]}",
    "\\${n}",
    "${n} \\${n}",
    "${esc}",
    "x ${esc}",
    "${missing}",
    "a ${item.missing}",
    "${l[5]}",
    "${l.x}",
    "${n.x}",
    "${nested}",
    "run ${nested}",
    "${item.tags}",
    "cmd ${item.tags}",
    "${",
    "}${n}{",
]
VALUES: list[Any] = [
    *STRINGS,
    1,
    None,
    2.5,
    True,
    [],
    {},
    ["${n}", "x", 1, ["${item.name}", {"${key}": "${n}"}]],
    {"${key}": "${item}", "k": ["${s}"], 3: "${n}"},
    {"${n}": 1, "3": 2},  # two keys that resolve the same
]
FIELDS = ["cmd", "deps", "outs", "wdir", "foreach", "params", "desc"]
PARSINGS = [None, ParsingConfig(), ParsingConfig("boolean_optional", "append")]


def context() -> Context:
    ctx = Context()
    ctx.merge(DATA, source="params.yaml")
    return ctx


def test_compiled_values_resolve_as_the_reference_does() -> None:
    ctx = context()
    compared = 0
    for value, field, parsing in itertools.product(VALUES, FIELDS, PARSINGS):
        try:
            compiled = compile_value(value, field=field)
        except LabrunError:  # malformed: the reference must fail on it too
            assert attempt(resolve, value, ctx, field=field, parsing=parsing)[0] == "error"
            continue
        fast = attempt(compiled, ctx, parsing)
        reference = attempt(resolve, value, ctx, field=field, parsing=parsing)
        assert fast == reference, (value, field, parsing)
        compared += 1
    assert compared > len(VALUES) * len(FIELDS)


def test_a_whole_expression_returns_the_context_value_itself() -> None:
    ctx = context()
    assert compile_value("${item}", field="cmd")(ctx, None) is ctx.data["item"]


def test_compiled_containers_are_new_each_time() -> None:
    ctx = context()
    resolver = compile_value({"deps": ["a", "b"]}, field="deps")
    first, second = resolver(ctx, None), resolver(ctx, None)
    assert first == second
    assert first is not second and first["deps"] is not second["deps"]


# --- pipelines ------------------------------------------------------------------------------


def stage_outcomes(root: Path, relpath: str, *, compiled: bool) -> list[tuple[Any, ...]]:
    """Every generated stage of a file (repr of the stage and its raw data), or the error."""
    try:
        pf = PipelineFile.load(str(root), relpath)
        names = pf.stage_names()
    except LabrunError as exc:
        return [("load error", str(exc))]
    out: list[tuple[Any, ...]] = []
    for name in names:
        group, sep, key = name.rpartition("@")
        if sep and group in pf.definitions():
            out.append(attempt(_generated, pf, group, key, compiled))
    return out


def _generated(pf: PipelineFile, group: str, key: str, compiled: bool) -> str:
    stage = pf.generate(group, key, compiled=compiled)
    return f"{stage!r} {stage.raw!r}"


def compat_pipelines() -> list[Path]:
    found = []
    for folder in ("corpus", "errors", "repro_corpus"):
        for path in sorted((COMPAT / folder).rglob("dvc.yaml")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if "foreach" in text or "matrix" in text:
                found.append(path)
    return found


@pytest.mark.parametrize("path", compat_pipelines(), ids=lambda p: str(p.relative_to(COMPAT)))
def test_compat_pipelines_generate_the_same_stages(path: Path) -> None:
    fast = stage_outcomes(path.parent, "dvc.yaml", compiled=True)
    assert fast == stage_outcomes(path.parent, "dvc.yaml", compiled=False)


PIPELINES = {
    "items_missing_keys": """\
stages:
  s:
    foreach: [{a: 1}, {b: 2}, {a: [1]}, {a: x}]
    do:
      cmd: echo ${item.a}
      outs:
      - o-${item.a}.txt
""",
    "dict_foreach_with_wdir": """\
vars:
  - base: sub
stages:
  s:
    foreach:
      x: {n: 1}
      y: {n: 2}
    do:
      wdir: ${base}/${key}
      cmd: run ${item}
      deps:
      - in-${item.n}.csv
      - ${item.n}
      params:
      - p.${key}
      - params.yaml:
        - q.${key}
      outs:
      - o-${key}.txt:
          cache: false
      metrics:
      - m-${key}.json
      plots:
      - p-${key}.csv:
          x: ${key}
      desc: stage ${key}
      frozen: true
""",
    "stage_vars_take_the_reference_path": """\
stages:
  s:
    foreach: [a, b]
    do:
      vars:
        - local: 1
      cmd: echo ${item} ${local}
""",
    "matrix": """\
stages:
  m:
    matrix:
      model: [cnn, xgb]
      opt: [{lr: 1}, {lr: 2}]
    cmd: train ${item.model} ${item.opt.lr} ${key}
    outs:
    - ${item.model}.pkl
""",
    "bad_wdir": """\
stages:
  s:
    foreach: [a, b]
    do:
      wdir: ${missing}
      cmd: echo ${item}
""",
    "escapes_and_types": """\
stages:
  s:
    foreach: [1, 2.5, true, null, '\\${x}']
    do:
      cmd: ${item}
      deps:
      - a \\${item} ${item}
""",
}


@pytest.mark.parametrize("name", PIPELINES)
def test_generated_stages_match_the_reference(name: str, tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text(PIPELINES[name], encoding="utf-8")
    fast = stage_outcomes(tmp_path, "dvc.yaml", compiled=True)
    assert fast and fast[0][0] != "load error"
    assert fast == stage_outcomes(tmp_path, "dvc.yaml", compiled=False)
