"""Validation of raw dvc.yaml, dvc.lock and .dvc documents (DVC 3.67.1's schemas).

Every expected message was printed by the real dvc 3.67.1 in a fresh project
(`cd $(mktemp -d) && git init -q && dvc init -q`):

- dvc.yaml rows: `printf '<text>' > dvc.yaml && dvc stage list`
- dvc.lock rows: dvc.yaml with stage `a` (`cmd: echo`, `deps: [x]`), then
  `printf '<text>' > dvc.lock && dvc status`
- .dvc rows: `printf 'x\\n' > data.txt && printf '<text>' > data.txt.dvc &&
  dvc status data.txt.dvc`

dvc renders through rich, which pads lines with spaces and wraps them at 80
columns when stderr is not a terminal; the expectations are unpadded and unwrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labrun.errors import SchemaError
from labrun.pipeline.files import parse_yaml
from labrun.pipeline.schema import (
    AllOf,
    AnyOf,
    Check,
    Issue,
    Map,
    Seq,
    check,
    validate_dvcfile,
    validate_dvcyaml,
    validate_lockfile,
)

Validator = Callable[[Any, str, str], dict[str, Any]]


def message_of(validator: Validator, text: str, display: str) -> str:
    with pytest.raises(SchemaError) as raised:
        validator(parse_yaml(text, display), text, display)
    assert raised.value.plain
    return str(raised.value)


DVCYAML_ERRORS = [
    pytest.param(
        "stage:\n  a:\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stage, line 2, column 3\n"
        "  1 stage:\n"
        "  2   a:",
        id="top_unknown",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\nfoo: bar\n",
        "'./dvc.yaml' validation failed.\n\nextra keys not allowed, in foo",
        id="top_unknown_scalar",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    foo: bar\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> foo, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   foo: bar",
        id="stage_unknown",
    ),
    pytest.param(
        "stages:\n  a:\n    deps: [x]\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> cmd, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   deps: [x]\n"
        "  4",
        id="missing_cmd",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs: x\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a list, in stages -> a -> outs, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   outs: x",
        id="outs_scalar",
    ),
    pytest.param(
        "vars:\n- f: true\nstages:\n  a:\n    cmd: echo\n    frozen: ${f}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected bool, in stages -> a -> frozen, line 5, column 5\n"
        "  4   a:\n"
        "  5 │   cmd: echo\n"
        "  6 │   frozen: ${f}",
        id="frozen_tpl",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    deps:\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a list, in stages -> a -> deps, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   deps:",
        id="deps_null",
    ),
    pytest.param(
        "stages:\n  a:\n    foreach: [1, 2]\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> do, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   foreach: [1, 2]\n"
        "  4",
        id="foreach_nodo",
    ),
    pytest.param(
        "stages:\n  a:\n    foreach: [1, 2]\n    do:\n      cmd: echo ${item}\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> cmd, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   foreach: [1, 2]\n"
        "  4 │   do:",
        id="foreach_extra",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> cmd, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: 1\n"
        "  4",
        id="cmd_int",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd:\n      x: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> cmd, line 4, column 7\n"
        "  3 │   cmd:\n"
        "  4 │     x: 1",
        id="cmd_dict",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - x:\n        cache: maybe\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected bool, in stages -> a -> outs -> 0 -> x -> cache, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   cache: maybe\n"
        "  7",
        id="out_flag",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    foo: 1\n  b:\n    deps: x\n",
        "'./dvc.yaml' validation failed: 3 errors.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> foo, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   foo: 1\n"
        "\n"
        "expected a list, in stages -> b -> deps, line 6, column 5\n"
        "  5   b:\n"
        "  6 │   deps: x\n"
        "  7\n"
        "\n"
        "required key not provided, in stages -> b -> cmd, line 6, column 5\n"
        "  5   b:\n"
        "  6 │   deps: x\n"
        "  7",
        id="multi",
    ),
    pytest.param(
        "stages:\n  a:\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a dictionary, in stages -> a, line 2, column 3\n"
        "  1 stages:\n"
        "  2   a:\n"
        "  3",
        id="stage_null",
    ),
    pytest.param(
        "stages:\n  a: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a dictionary, in stages -> a, line 2, column 3\n"
        "  1 stages:\n"
        "  2   a: echo\n"
        "  3",
        id="stage_str",
    ),
    pytest.param(
        "stages:\n- a\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a dictionary, in stages, line 2, column 1\n"
        "  1 stages:\n"
        "  2 - a",
        id="stages_list",
    ),
    pytest.param(
        "- a\n- b\n",
        "'./dvc.yaml' validation failed: expected a dictionary.",
        id="top_list",
    ),
    pytest.param(
        "hello\n",
        "'./dvc.yaml' validation failed: expected a dictionary.",
        id="top_str",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    deps:\n    - 1\n    - x\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> deps -> 0, line 5, column 5\n"
        "  4 │   deps:\n"
        "  5 │   - 1\n"
        "  6 │   - x",
        id="deps_int_item",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> outs -> 0, line 5, column 5\n"
        "  4 │   outs:\n"
        "  5 │   - 1\n"
        "  6",
        id="outs_int_item",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - x:\n        cache: 1\n        persist: 2"
        "\n    - 3\n",
        "'./dvc.yaml' validation failed: 2 errors.\n"
        "\n"
        "expected bool, in stages -> a -> outs -> 0 -> x -> cache, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   cache: 1\n"
        "  7 │   │   persist: 2\n"
        "\n"
        "expected bool, in stages -> a -> outs -> 0 -> x -> persist, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   cache: 1\n"
        "  7 │   │   persist: 2",
        id="outs_two_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    plots:\n    - p.csv:\n        x: 1\n"
        "        header: yes\n",
        "'./dvc.yaml' validation failed: 2 errors.\n"
        "\n"
        "expected str, in stages -> a -> plots -> 0 -> p.csv -> x, line 6, column 9\n"
        "  5 │   - p.csv:\n"
        "  6 │   │   x: 1\n"
        "  7 │   │   header: yes\n"
        "\n"
        "expected bool, in stages -> a -> plots -> 0 -> p.csv -> header, line 6, column 9\n"
        "  5 │   - p.csv:\n"
        "  6 │   │   x: 1\n"
        "  7 │   │   header: yes",
        id="plots_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    plots:\n    - p.csv:\n      - x: a\n        y: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> plots -> 0 -> p.csv -> 0 -> y, line 6, column 9\n"
        "  5 │   - p.csv:\n"
        "  6 │     - x: a\n"
        "  7 │   │   y: 1",
        id="plots_list",
    ),
    pytest.param(
        "vars:\n- 1\nstages:\n  a:\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected dict, in vars -> 0, line 2, column 1\n"
        "  1 vars:\n"
        "  2 - 1\n"
        "  3 stages:",
        id="vars_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    params:\n    - 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> params -> 0, line 5, column 5\n"
        "  4 │   params:\n"
        "  5 │   - 1\n"
        "  6",
        id="params_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    matrix:\n      x: 1\n    cmd: echo ${item.x}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> matrix -> x, line 4, column 7\n"
        "  3 │   matrix:\n"
        "  4 │     x: 1\n"
        "  5 │   cmd: echo ${item.x}",
        id="matrix_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    do:\n      cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> foreach, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   do:\n"
        "  4 │     cmd: echo",
        id="do_only",
    ),
    pytest.param(
        "stages:\n  a:\n    foreach: [1]\n    do:\n      cmd: echo\n      foo: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> do -> foo, line 5, column 7\n"
        "  4 │   do:\n"
        "  5 │     cmd: echo\n"
        "  6 │     foo: 1",
        id="foreach_do_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    foreach: 1\n    do:\n      cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected dict, in stages -> a -> foreach, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   foreach: 1\n"
        "  4 │   do:",
        id="foreach_int",
    ),
    pytest.param(
        "plots:\n- p.csv:\n    x: 1\nstages: {}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in plots -> 0 -> p.csv -> x, line 3, column 5\n"
        "  2 - p.csv:\n"
        "  3 │   x: 1\n"
        "  4 stages: {}",
        id="top_plots_bad",
    ),
    pytest.param(
        "plots:\n  p.csv: {}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a list, in plots, line 2, column 3\n"
        "  1 plots:\n"
        "  2   p.csv: {}",
        id="top_plots_map",
    ),
    pytest.param(
        "params:\n- a: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in params -> 0, line 2, column 3\n"
        "  1 params:\n"
        "  2 - a: 1",
        id="top_params_bad",
    ),
    pytest.param(
        "artifacts:\n  m:\n    type: model\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in artifacts -> m -> path, line 3, column 5\n"
        "  2   m:\n"
        "  3 │   type: model\n"
        "  4",
        id="artifacts_bad",
    ),
    pytest.param(
        "artifacts:\n  m:\n    path: m.pkl\n    foo: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in artifacts -> m -> foo, line 3, column 5\n"
        "  2   m:\n"
        "  3 │   path: m.pkl\n"
        "  4 │   foo: 1",
        id="artifacts_extra",
    ),
    pytest.param(
        "stages:\n  a: {cmd: echo, foo: 1}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> foo, line 2, column 6\n"
        "  1 stages:\n"
        "  2   a: {cmd: echo, foo: 1}\n"
        "  3",
        id="flow_stage",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    wdir: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> wdir, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   wdir: 1",
        id="wdir_int",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    desc: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> desc, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   desc: 1",
        id="desc_int",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - x:\n        labels: a\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a list, in stages -> a -> outs -> 0 -> x -> labels, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   labels: a\n"
        "  7",
        id="labels_bad",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    metrics:\n    - x:\n        remote: 1\n"
        "        push: no\n",
        "'./dvc.yaml' validation failed: 2 errors.\n"
        "\n"
        "expected str, in stages -> a -> metrics -> 0 -> x -> remote, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   remote: 1\n"
        "  7 │   │   push: no\n"
        "\n"
        "expected bool, in stages -> a -> metrics -> 0 -> x -> push, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   remote: 1\n"
        "  7 │   │   push: no",
        id="remote_bad",
    ),
    pytest.param(
        "stages:\n  1:\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> 1, line 3, column 5\n"
        "  2   1:\n"
        "  3 │   cmd: echo",
        id="int_key",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n  b:\n    cmd: echo\n  c:\n    cmd: echo\n  d:\n"
        "    cmd: echo\n    foo: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> d -> foo, line 9, column 5\n"
        "   8   d:\n"
        "   9 │   cmd: echo\n"
        "  10 │   foo: 1",
        id="big",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    frozen: 1",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected bool, in stages -> a -> frozen, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4 │   frozen: 1",
        id="laststep",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n\n        \n    foo: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> foo, line 3, column 5\n"
        "  2   a:\n"
        "  3 │   cmd: echo\n"
        "  4",
        id="blank_lines",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - x:\n        checkpoint: 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected bool, in stages -> a -> outs -> 0 -> x -> checkpoint, line 6, column 9\n"
        "  5 │   - x:\n"
        "  6 │   │   checkpoint: 1\n"
        "  7",
        id="checkpoint",
    ),
    pytest.param(
        "stages:\n  a:\n    foreach: [1]\n    do:\n      deps: [x]\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> do -> cmd, line 5, column 7\n"
        "  4 │   do:\n"
        "  5 │     deps: [x]\n"
        "  6",
        id="deep_missing",
    ),
    pytest.param(
        "plots:\n- {}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in plots -> 0 -> <class 'str'>, line 2, column 3\n"
        "  1 plots:\n"
        "  2 - {}\n"
        "  3",
        id="plots_empty_map",
    ),
    pytest.param(
        "plots:\n- p.csv:\n    y: {a: [1]}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in plots -> 0 -> p.csv -> y -> a -> 0, line 3, column 12\n"
        "  2 - p.csv:\n"
        "  3 │   y: {a: [1]}\n"
        "  4",
        id="plots_y_bad",
    ),
    pytest.param(
        "vars: x\n",
        "'./dvc.yaml' validation failed.\n\nexpected a list, in vars",
        id="vars_str",
    ),
    pytest.param(
        "metrics:\n- 1\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in metrics -> 0, line 2, column 1\n"
        "  1 metrics:\n"
        "  2 - 1\n"
        "  3",
        id="metrics_int",
    ),
    pytest.param(
        "artifacts:\n- a\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a dictionary, in artifacts, line 2, column 1\n"
        "  1 artifacts:\n"
        "  2 - a",
        id="artifacts_list",
    ),
    pytest.param(
        "stages:\n  a: {}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> cmd, line 2, column 6\n"
        "  1 stages:\n"
        "  2   a: {}\n"
        "  3",
        id="stage_empty",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - 1\n    - 2\n    deps: [3, x, 4]\n",
        "'./dvc.yaml' validation failed: 4 errors.\n"
        "\n"
        "expected str, in stages -> a -> outs -> 0, line 5, column 5\n"
        "  4 │   outs:\n"
        "  5 │   - 1\n"
        "  6 │   - 2\n"
        "\n"
        "expected str, in stages -> a -> outs -> 1, line 5, column 5\n"
        "  4 │   outs:\n"
        "  5 │   - 1\n"
        "  6 │   - 2\n"
        "\n"
        "expected str, in stages -> a -> deps -> 0, line 7, column 11\n"
        "  6 │   - 2\n"
        "  7 │   deps: [3, x, 4]\n"
        "  8\n"
        "\n"
        "expected str, in stages -> a -> deps -> 2, line 7, column 11\n"
        "  6 │   - 2\n"
        "  7 │   deps: [3, x, 4]\n"
        "  8",
        id="two_stage_errors",
    ),
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n    outs:\n    - 1\n    - x: {cache: 1}\n    - 2\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected bool, in stages -> a -> outs -> 1 -> x -> cache, line 6, column 10\n"
        "  5 │   - 1\n"
        "  6 │   - x: {cache: 1}\n"
        "  7 │   - 2",
        id="deep_seq_abort",
    ),
    pytest.param(
        "stages:\n  a:\n    matrix: [1]\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected a dictionary, in stages -> a -> matrix, line 3, column 13\n"
        "  2   a:\n"
        "  3 │   matrix: [1]",
        id="matrix_list",
    ),
    pytest.param(
        "stages:\n  a:\n    foreach: [1]\n    matrix: {x: [1]}\n    do: {cmd: echo}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> matrix, line 4, column 13\n"
        "  3 │   foreach: [1]\n"
        "  4 │   matrix: {x: [1]}",
        id="foreach_with_matrix",
    ),
    pytest.param(
        "stages:\n  true:\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> True, line 3, column 5\n"
        "  2   true:\n"
        "  3 │   cmd: echo",
        id="key_true",
    ),
    pytest.param(
        "stages:\n  ~:\n    cmd: echo\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> None, line 2, column 3\n"
        "  1 stages:\n"
        "  2   ~:\n"
        "  3 │   cmd: echo",
        id="key_null",
    ),
    pytest.param(
        "stages:\n",
        "'./dvc.yaml' validation failed.\n\nexpected a dictionary, in stages",
        id="stages_null",
    ),
    pytest.param(
        "vars:\n",
        "'./dvc.yaml' validation failed.\n\nexpected a list, in vars",
        id="vars_null",
    ),
    pytest.param(
        "# 1\n# 2\n# 3\n# 4\n# 5\n# 6\nstages:\n  a:\n    foo: 1\n",
        "'./dvc.yaml' validation failed: 2 errors.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> foo, line 9, column 5\n"
        "   8   a:\n"
        "   9 │   foo: 1\n"
        "  10\n"
        "\n"
        "required key not provided, in stages -> a -> cmd, line 9, column 5\n"
        "   8   a:\n"
        "   9 │   foo: 1\n"
        "  10",
        id="lines9",
    ),
    # a complex key: ruamel makes a tuple of it (dvc stage list)
    pytest.param(
        "stages:\n  ? [a, b]\n  : {cmd: echo}\n",
        "'./dvc.yaml' validation failed.\n"
        "\n"
        "expected str, in stages -> ('a', 'b'), line 2, column 3\n"
        "  1 stages:\n"
        "  2   ? [a, b]\n"
        "  3   : {cmd: echo}",
        id="complex_key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), DVCYAML_ERRORS)
def test_dvcyaml_errors(text: str, expected: str) -> None:
    assert message_of(validate_dvcyaml, text, "./dvc.yaml") == expected


LOCKFILE_ERRORS = [
    pytest.param(
        "stages:\n  a:\n    cmd: echo\n",
        "'./dvc.lock' validation failed.\n\nrequired key not provided, in schema",
        id="lock_noschema",
    ),
    pytest.param(
        "schema: '1.0'\nstages:\n  a:\n    cmd: echo\n",
        "'./dvc.lock' validation failed.\n\ninvalid schema version, in schema",
        id="lock_badschema",
    ),
    pytest.param(
        "schema: 2.0\nstages:\n  a:\n    cmd: echo\n",
        "'./dvc.lock' validation failed.\n\ninvalid schema version, in schema",
        id="lock_floatschema",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    deps: []\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> cmd, line 4, column 5\n"
        "  3   a:\n"
        "  4 │   deps: []\n"
        "  5",
        id="lock_nocmd",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - md5: 123\n      size: 1\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> deps -> 0 -> path, line 6, column 7\n"
        "  5 │   deps:\n"
        "  6 │   - md5: 123\n"
        "  7 │     size: 1",
        id="lock_dep_nopath",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - path: x\n      md5: 12\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "not a valid value, in stages -> a -> deps -> 0 -> md5, line 6, column 7\n"
        "  5 │   deps:\n"
        "  6 │   - path: x\n"
        "  7 │     md5: 12",
        id="lock_md5_short",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - path: x\n      md5: abc\n"
        "      size: big\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "expected int, in stages -> a -> deps -> 0 -> size, line 6, column 7\n"
        "  5 │   deps:\n"
        "  6 │   - path: x\n"
        "  7 │     md5: abc",
        id="lock_size_str",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - path: x\n      foo: 1\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> deps -> 0 -> foo, line 6, column 7\n"
        "  5 │   deps:\n"
        "  6 │   - path: x\n"
        "  7 │     foo: 1",
        id="lock_extra_dep",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    desc: x\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "extra keys not allowed, in stages -> a -> desc, line 4, column 5\n"
        "  3   a:\n"
        "  4 │   cmd: echo\n"
        "  5 │   desc: x",
        id="lock_extra_stage",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    params:\n      params.yaml:\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "expected a dictionary, in stages -> a -> params -> params.yaml, line 6, column 7\n"
        "  5 │   params:\n"
        "  6 │     params.yaml:\n"
        "  7",
        id="lock_params_bad",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n- a\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "expected a dictionary, in stages, line 3, column 1\n"
        "  2 stages:\n"
        "  3 - a",
        id="lock_stages_list",
    ),
    pytest.param(
        "schema: '2.0'\nfoo: 1\nstages: {}\n",
        "'./dvc.lock' validation failed.\n\nextra keys not allowed, in foo",
        id="lock_extra_top",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - path: x\n      cloud:\n"
        "        r1: {etag: abc}\n        r2: {etag: abd}\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "length of value must be at most 1, in stages -> a -> deps -> 0 -> cloud"
        ", line 8, column 9\n"
        "   7 │     cloud:\n"
        "   8 │   │   r1: {etag: abc}",
        id="lock_cloud2",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - path: x\n      files:\n"
        "      - size: 1\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "required key not provided, in stages -> a -> deps -> 0 -> files -> 0 -> relpath"
        ", line 8, column 9\n"
        "  7 │     files:\n"
        "  8 │     - size: 1\n"
        "  9",
        id="lock_files",
    ),
    pytest.param(
        "a:\n  cmd: echo\n",
        "'./dvc.lock' validation failed: 2 errors.\n"
        "\n"
        "extra keys not allowed, in a, line 2, column 3\n"
        "  1 a:\n"
        "  2   cmd: echo\n"
        "\n"
        "required key not provided, in schema",
        id="lock_v1",
    ),
    pytest.param(
        "schema: '2.0'\nstages:\n  a:\n    cmd: 1\n",
        "'./dvc.lock' validation failed.\n"
        "\n"
        "expected str, in stages -> a -> cmd, line 4, column 5\n"
        "  3   a:\n"
        "  4 │   cmd: 1\n"
        "  5",
        id="lock_cmd_int",
    ),
]


@pytest.mark.parametrize(("text", "expected"), LOCKFILE_ERRORS)
def test_lockfile_errors(text: str, expected: str) -> None:
    assert message_of(validate_lockfile, text, "./dvc.lock") == expected


DVCFILE_ERRORS = [
    pytest.param(
        "cmd: echo\nouts:\n- md5: 401b30e3b8b5d629635a5c613cdb7919\n  path: data.txt\n",
        "'./data.txt.dvc' validation failed.\n\nextra keys not allowed, in cmd",
        id="dvcf_cmd",
    ),
    pytest.param(
        "outs: data.txt\n",
        "'./data.txt.dvc' validation failed.\n\nexpected a list, in outs",
        id="dvcf_outs_str",
    ),
    pytest.param(
        "outs:\n- path: data.txt\n  cache: maybe\n",
        "'./data.txt.dvc' validation failed.\n"
        "\n"
        "expected bool, in outs -> 0 -> cache, line 2, column 3\n"
        "  1 outs:\n"
        "  2 - path: data.txt\n"
        "  3   cache: maybe",
        id="dvcf_out_bad",
    ),
    pytest.param(
        "outs:\n- path: data.txt\n  foo: 1\n",
        "'./data.txt.dvc' validation failed.\n"
        "\n"
        "extra keys not allowed, in outs -> 0 -> foo, line 2, column 3\n"
        "  1 outs:\n"
        "  2 - path: data.txt\n"
        "  3   foo: 1",
        id="dvcf_out_extra",
    ),
    pytest.param(
        "wdir: 1\nouts:\n- path: data.txt\n",
        "'./data.txt.dvc' validation failed.\n\nexpected str, in wdir",
        id="dvcf_wdir",
    ),
    pytest.param(
        "frozen: x\nouts:\n- path: data.txt\n",
        "'./data.txt.dvc' validation failed.\n\nexpected bool, in frozen",
        id="dvcf_frozen",
    ),
    pytest.param(
        "md5: 1\nouts:\n- path: data.txt\n",
        "'./data.txt.dvc' validation failed.\n\nnot a valid value, in md5",
        id="dvcf_md5",
    ),
    pytest.param(
        "deps:\n- path: x\n  repo:\n    rev: main\nouts:\n- path: data.txt\n",
        "'./data.txt.dvc' validation failed.\n"
        "\n"
        "required key not provided, in deps -> 0 -> repo -> url, line 4, column 5\n"
        "  3   repo:\n"
        "  4 │   rev: main\n"
        "  5 outs:",
        id="dvcf_repo",
    ),
    pytest.param(
        "- a\n",
        "'./data.txt.dvc' validation failed: expected a dictionary.",
        id="dvcf_list",
    ),
]


@pytest.mark.parametrize(("text", "expected"), DVCFILE_ERRORS)
def test_dvcfile_errors(text: str, expected: str) -> None:
    assert message_of(validate_dvcfile, text, "./data.txt.dvc") == expected


# --- what DVC accepts --------------------------------------------------------------------------

VALID_DVCYAML = {
    "full_stage": """\
stages:
  train:
    desc: Train the model
    cmd: python train.py
    wdir: .
    deps:
      - train.py
    params:
      - lr
      - config/train.json:
          - batch
      - extra.toml:
    outs:
      - model.pkl
      - checkpoints:
          persist: true
          cache: false
          checkpoint: true
          remote: r
          push: false
          desc: d
          type: model
          labels: [a, b]
          meta: {any: thing}
    metrics:
      - scores.json:
          cache: false
    plots:
      - curve.csv:
          x: step
          y: loss
          header: true
          template: linear
      - multi.csv:
          - x: a
            y: b
          - title: t
    frozen: false
    always_changed: false
    meta: {owner: ml-team}
    vars:
      - local_value: 3
      - file.yaml
""",
    "generators": """\
stages:
  build:
    foreach: [us, uk]
    do:
      cmd: echo ${item}
  mat:
    matrix:
      model: [a, b]
      data: ${datasets}
    cmd: echo ${item.model}
  from_params:
    foreach: ${models}
    do:
      cmd: echo ${item}
      outs:
        - m-${item}.bin
""",
    "top_level": """\
vars:
  - params.yaml
  - x: 1
params: [p.json]
metrics: [m.json]
plots:
  - p.csv
  - loss:
      x: step
      y: {a.csv: [l1, l2], b.csv: l}
      title: Loss
  - empty.csv:
artifacts:
  model:
    path: m.pkl
    type: model
    labels: [x]
datasets:
  - name: d
    type: dvc
    url: u
""",
    # Accepted by dvc's schema (`dvc stage list` succeeds); any later problem is
    # someone else's to report.
    "odd_but_accepted": """\
datasets: 1
stages:
  a:
    cmd: ''
    meta: 1
  b:
    cmd: [1, 2]
    params:
      - p.json: 1
""",
    "metrics_only": "metrics: [m.json]\n",
}


@pytest.mark.parametrize("name", VALID_DVCYAML)
def test_valid_dvcyaml(name: str) -> None:
    text = VALID_DVCYAML[name]
    data = parse_yaml(text, "./dvc.yaml")
    assert validate_dvcyaml(data, text, "./dvc.yaml") is data


def test_empty_dvcyaml_is_valid() -> None:
    assert validate_dvcyaml(parse_yaml("", "./dvc.yaml"), "", "./dvc.yaml") == {}


VALID_LOCKFILES = {
    "dvc3": """\
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
        lr: 0.01
        train.layers:
        - 16
      config.json: {}
    outs:
    - path: tool.sh
      hash: md5
      md5: 3e2b31c72181b87149ff995e7202c0e3
      size: 10
      isexec: true
  notify:
    cmd: echo done
""",
    "dvc2_records_mixed_in": """\
schema: '2.0'
stages:
  a:
    cmd: cat in.txt new.txt
    deps:
    - path: in.txt
      md5: dd8c6a395b5dd36c56d23275028f526c
      size: 6
    - path: new.txt
      hash: md5
      md5: 5d41402abc4b2a76b9719d911017c592
      size: 5
""",
    "other_record_keys": """\
schema: '2.0'
datasets:
- name: d
  type: dvc
stages:
  a:
    cmd: x
    deps:
    - path: s3://bucket/key
      etag: 0x1234ABCD
      version_id: v1
      cloud:
        remote: {etag: abc, version_id: v1}
    - path: ds://d
      dataset: {name: d}
    outs:
    - path: dir
      md5:
      checksum: ''
      files:
      - relpath: a.txt
        md5: 123
        size: 1
""",
    "no_stages": "schema: '2.0'\n",
}


@pytest.mark.parametrize("name", VALID_LOCKFILES)
def test_valid_lockfile(name: str) -> None:
    text = VALID_LOCKFILES[name]
    assert validate_lockfile(parse_yaml(text, "./dvc.lock"), text, "./dvc.lock")


VALID_DVCFILES = {
    "dvc_add_dir": """\
outs:
- md5: d51af3cbd716ee057b55c228b30d5d82.dir
  size: 6
  nfiles: 4
  hash: md5
  path: data
""",
    "annotated": """\
outs:
- md5: 3e2b31c72181b87149ff995e7202c0e3
  size: 10
  isexec: true
  hash: md5
  path: run.sh
  desc: d
  type: t
  labels: [l]
  meta: {a: 1}
  cache: false
  persist: true
  remote: r
  push: false
""",
    "import": """\
md5: 0123456789abcdef0123456789abcdef
frozen: true
deps:
- path: data/file.txt
  repo:
    url: https://example.com/repo.git
    rev_lock: 0123456789abcdef0123456789abcdef01234567
outs:
- md5: 401b30e3b8b5d629635a5c613cdb7919
  size: 2
  hash: md5
  path: file.txt
""",
    # dvc status accepts it (a 1.x file: `locked` is the old `frozen`)
    "legacy_keys": """\
outs:
- md5: 401b30e3b8b5d629635a5c613cdb7919
  size: 2
  path: data.txt
locked: true
meta: {a: 1}
desc: d
always_changed: false
wdir:
""",
    "null_lists": "outs:\ndeps:\n",
}


@pytest.mark.parametrize("name", VALID_DVCFILES)
def test_valid_dvcfile(name: str) -> None:
    text = VALID_DVCFILES[name]
    assert validate_dvcfile(parse_yaml(text, "./x.dvc"), text, "./x.dvc")


CORPUS = Path(__file__).parents[1] / "compat" / "corpus"
VALIDATORS: dict[str, Validator] = {"dvc.yaml": validate_dvcyaml, "dvc.lock": validate_lockfile}
CORPUS_FILES = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and (p.name in VALIDATORS or p.suffix == ".dvc")
)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_compat_corpus_is_valid(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    validator = VALIDATORS.get(path.name, validate_dvcfile)
    validator(parse_yaml(text, str(path)), text, str(path))


# --- stage names -------------------------------------------------------------------------------
# dvc 3.67.1 accepts these names when loading, but can never address the stage:
#   printf 'stages:\n  a@b:\n    cmd: echo\n' > dvc.yaml && dvc stage list
#   ERROR: Stage 'a@b' not found inside 'dvc.yaml' file
# (`a@b` is read as key `b` of a foreach group `a`; `x:y` as stage `y` of file `x`).
# labrun refuses them up front.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "stages:\n  a@b:\n    cmd: echo\n",
            "'./dvc.yaml' validation failed.\n\n"
            "stage name must not contain '@' or ':', in stages -> a@b, line 3, column 5\n"
            "  2   a@b:\n"
            "  3 │   cmd: echo",
        ),
        (
            "stages:\n  ok:\n    cmd: echo\n  'x:y': {cmd: 1}\n",
            "'./dvc.yaml' validation failed: 2 errors.\n\n"
            "expected str, in stages -> x:y -> cmd, line 4, column 10\n"
            "  3 │   cmd: echo\n"
            "  4   'x:y': {cmd: 1}\n"
            "  5\n\n"
            "stage name must not contain '@' or ':', in stages -> x:y, line 4, column 10\n"
            "  3 │   cmd: echo\n"
            "  4   'x:y': {cmd: 1}",
        ),
    ],
)
def test_stage_names_with_reserved_characters_are_refused(text: str, expected: str) -> None:
    with pytest.raises(SchemaError) as raised:
        validate_dvcyaml(parse_yaml(text, "./dvc.yaml"), text, "./dvc.yaml")
    assert str(raised.value) == expected
    assert raised.value.hint is not None and "rename the stage" in raised.value.hint


def test_reserved_characters_elsewhere_are_fine() -> None:
    text = "stages:\n  a.b-c_d:\n    cmd: echo a@b:c\n    deps: ['x:y@z']\n"
    validate_dvcyaml(parse_yaml(text, "./dvc.yaml"), text, "./dvc.yaml")


# --- the walker ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "value", "expected"),
    [
        (str, "x", []),
        (str, 1, [Issue("expected str", ())]),
        (int, True, []),  # as in DVC, a bool is an int
        (object, None, []),
        (None, None, []),
        (None, 0, [Issue("not a valid value", ())]),
        (Seq((str, dict)), [1], [Issue("expected dict", (0,))]),  # the last option's failure
        (AnyOf((str, dict)), 1, [Issue("expected str", ())]),  # on a tie the first one's
        (
            AnyOf((str, Map({"a": bool}))),
            {"a": 1},
            [Issue("expected bool", ("a",))],  # else the deepest one's
        ),
        (
            Seq((str,)),
            [1, 2],
            [Issue("expected str", (0,)), Issue("expected str", (1,))],
        ),
        (
            Seq((AnyOf((str, Map({"a": bool}))),)),
            [1, {"a": 1}, 2],
            [Issue("expected bool", (1, "a"))],  # a failure inside an item ends the list
        ),
        (
            Map({"a": str}, required=("b",)),
            {"x": 1, "a": 2},
            [
                Issue("extra keys not allowed", ("x",)),
                Issue("expected str", ("a",)),
                Issue("required key not provided", ("b",)),
            ],
        ),
        (
            Map(keys=str, values=int),
            {1: 1, "a": "b"},
            [
                Issue("expected str", (1,)),
                Issue("expected int", ("a",)),
            ],
        ),
        (AllOf((list, Check(lambda v: len(v) < 2, "too long"))), [1, 2], [Issue("too long", ())]),
    ],
)
def test_check(node: Any, value: Any, expected: list[Issue]) -> None:
    assert check(node, value) == expected
