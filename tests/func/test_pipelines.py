"""Stories: given a dvc.yaml (and params/vars files), these are the stages labrun sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labrun import api
from labrun.errors import GraphError, LabrunError, TargetError, TemplateError
from tests.conftest import TmpProject

Make = Callable[[dict[str, Any]], TmpProject]


def stages_of(proj: TmpProject) -> dict[str, Any]:
    return {s.addressing_from("."): s for s in api.stage_list(proj.root, all_stages=True)}


def test_foreach_over_a_list_of_scalars(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  clean:\n"
                "    foreach: [raw1, raw2]\n"
                "    do:\n"
                "      cmd: clean ${item}\n"
                "      outs: ['out/${item}.csv']\n"
            )
        }
    )
    stages = stages_of(proj)
    assert list(stages) == ["clean@raw1", "clean@raw2"]
    assert stages["clean@raw2"].cmd == "clean raw2"
    assert [o.path for o in stages["clean@raw2"].outs] == ["out/raw2.csv"]
    assert stages["clean@raw1"].group == "clean"


def test_foreach_over_dicts_and_lists_of_dicts(make_project: Make) -> None:
    proj = make_project(
        {
            "params.yaml": "models:\n  us: {thr: 0.5}\n  eu: {thr: 0.7}\nsets: [{n: a}, {n: b}]\n",
            "dvc.yaml": (
                "stages:\n"
                "  build:\n"
                "    foreach: ${models}\n"
                "    do:\n"
                "      cmd: train ${key} ${item.thr}\n"
                "  prep:\n"
                "    foreach: ${sets}\n"
                "    do:\n"
                "      cmd: prep ${item.n}\n"
            ),
        }
    )
    stages = stages_of(proj)
    assert list(stages) == ["build@us", "build@eu", "prep@0", "prep@1"]
    assert stages["build@eu"].cmd == "train eu 0.7"
    assert stages["prep@1"].cmd == "prep b"


def test_foreach_scalars_with_the_same_text_collapse(make_project: Make) -> None:
    proj = make_project(
        {"dvc.yaml": "stages:\n  a:\n    foreach: [x, x, 1, '1']\n    do:\n      cmd: e ${item}\n"}
    )
    assert list(stages_of(proj)) == ["a@x", "a@1"]


def test_matrix_names_and_order(make_project: Make) -> None:
    proj = make_project(
        {
            "params.yaml": "seeds: [1, 2]\n",
            "dvc.yaml": (
                "stages:\n"
                "  train:\n"
                "    matrix:\n"
                "      seed: ${seeds}\n"
                "      model: [cnn, xgb]\n"
                "      cfg: [{d: 1}, {d: 2}]\n"
                "    cmd: ./train --seed ${item.seed} --model ${item.model}"
                " --d ${item.cfg.d} ${key}\n"
            ),
        }
    )
    stages = stages_of(proj)
    assert list(stages)[:3] == ["train@1-cnn-cfg0", "train@1-cnn-cfg1", "train@1-xgb-cfg0"]
    assert len(stages) == 8
    assert stages["train@2-xgb-cfg1"].cmd == "./train --seed 2 --model xgb --d 2 2-xgb-cfg1"


def test_vars_files_inline_vars_and_key_selection(make_project: Make) -> None:
    proj = make_project(
        {
            "params.yaml": "lr: 0.1\n",
            "cfg.yaml": "a: 1\nb: 2\nc: 3\n",
            "more.json": '{"j": {"k": "v"}}',
            "dvc.yaml": (
                "vars:\n"
                "  - cfg.yaml:a,b\n"
                "  - more.json\n"
                "  - inline: yes\n"
                "stages:\n"
                "  s:\n"
                "    vars:\n"
                "      - local: 5\n"
                "    cmd: run ${lr} ${a} ${b} ${j.k} ${inline} ${local}\n"
            ),
        }
    )
    assert stages_of(proj)["s"].cmd == "run 0.1 1 2 v yes 5"


def test_cmd_type_is_kept_for_a_whole_expression(make_project: Make) -> None:
    proj = make_project(
        {
            "params.yaml": "n: 3\nb: true\n",
            "dvc.yaml": "stages:\n  s:\n    cmd: ['echo', '${n}', '${b}']\n",
        }
    )
    assert stages_of(proj)["s"].cmd == ["echo", 3, True]


def test_wdir_is_templated_and_relative_to_the_dvc_yaml(make_project: Make) -> None:
    proj = make_project(
        {
            "sub/params.yaml": "d: work\n",
            "sub/dvc.yaml": "stages:\n  s:\n    wdir: ${d}\n    cmd: x\n    deps: [../in.txt]\n",
        }
    )
    stage = stages_of(proj)["sub/dvc.yaml:s"]
    assert stage.wdir == "sub/work"
    assert stage.abspath(str(proj.root), "../in.txt") == str(proj.root / "sub" / "in.txt")


def test_params_merging_rules(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  s:\n"
                "    cmd: x\n"
                "    params:\n"
                "      - lr\n"
                "      - p.json: [a]\n"
                "      - p.json: [b]\n"
                "      - whole.toml:\n"
                "      - w2.yaml: [k]\n"
                "      - w2.yaml: []\n"
            )
        }
    )
    params = {p.path: p.keys for p in stages_of(proj)["s"].params}
    assert params == {
        "params.yaml": ("lr",),
        "p.json": ("a", "b"),
        "whole.toml": None,
        "w2.yaml": None,
    }


def test_outputs_flags_and_kinds(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  s:\n"
                "    cmd: x\n"
                "    outs:\n"
                "      - m.pkl\n"
                "      - ck: {persist: true, cache: false, checkpoint: true, desc: d}\n"
                "    metrics: [{m.json: {cache: false}}]\n"
                "    plots: [{p.csv: {x: step, y: loss, cache: false}}]\n"
            )
        }
    )
    outs = {o.path: o for o in stages_of(proj)["s"].outs}
    assert list(outs) == ["m.pkl", "ck", "m.json", "p.csv"]
    assert outs["ck"].persist and outs["ck"].checkpoint and not outs["ck"].cache
    assert outs["ck"].annotations == {"desc": "d"}
    assert outs["m.json"].is_metric and outs["p.csv"].is_plot
    assert outs["p.csv"].plot_props == {"x": "step", "y": "loss"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"dvc.yaml": "stages:\n  a:\n    cmd: echo ${nope}\n"},
            "failed to parse 'stages.a.cmd' in 'dvc.yaml': Could not find 'nope'",
        ),
        (
            {"dvc.yaml": "vars:\n  - x: ${y}\nstages: {}\n"},
            "failed to parse 'vars' in 'dvc.yaml': interpolating is not allowed",
        ),
        (
            {
                "params.yaml": "n: 3\n",
                "dvc.yaml": "stages:\n  b:\n    foreach: ${n}\n    do:\n      cmd: x\n",
            },
            "failed to resolve 'stages.b.foreach' in 'dvc.yaml': expected list/dictionary, got int",
        ),
        (
            {"params.yaml": "grp: {a: 1}\n", "dvc.yaml": "vars:\n  - grp: {a: 2}\nstages: {}\n"},
            "failed to parse 'vars' in 'dvc.yaml':\n"
            "cannot redefine 'grp.a' from 'vars[0]' as it already exists in 'params.yaml'",
        ),
        (
            {"v.yaml": "a: 1\n", "dvc.yaml": "vars: [v.yaml:a, v.yaml]\nstages: {}\n"},
            "failed to parse 'vars' in 'dvc.yaml': "
            "cannot load 'v.yaml' as it's partially loaded already",
        ),
        (
            {"v.yaml": "a: 1\n", "dvc.yaml": "vars: [v.yaml, v.yaml:a]\nstages: {}\n"},
            "failed to parse 'vars' in 'dvc.yaml': "
            "cannot partially load 'v.yaml:a' as it's already loaded.",
        ),
        (
            {"dvc.yaml": "vars: [missing.yaml]\nstages: {}\n"},
            "failed to parse 'vars' in 'dvc.yaml': 'missing.yaml' does not exist",
        ),
        (
            {"v.yaml": "a: 1\n", "dvc.yaml": "vars: [v.yaml:zz]\nstages: {}\n"},
            "failed to parse 'vars' in 'dvc.yaml': could not find 'zz' in 'v.yaml'",
        ),
        (
            {"dvc.yaml": "stages:\n  a:\n    cmd: echo ${a.}\n"},
            "failed to parse 'stages.a.cmd' in 'dvc.yaml':\n${a.}\n",
        ),
        (
            {
                "params.yaml": "d: {x: 1}\n",
                "dvc.yaml": "stages:\n  a:\n    cmd: x\n    deps: ['${d}']\n",
            },
            "failed to parse 'stages.a.deps' in 'dvc.yaml':\n"
            "Cannot interpolate data of type 'dict'",
        ),
        (
            {"sub/dvc.yaml": "stages:\n  a:\n    cmd: echo ${undefined}\n"},
            "failed to parse 'stages.a.cmd' in 'sub/dvc.yaml': Could not find 'undefined'",
        ),
    ],
)
def test_templating_errors(make_project: Make, files: dict[str, str], message: str) -> None:
    proj = make_project(files)
    with pytest.raises(TemplateError) as info:
        api.stage_list(proj.root, all_stages=True)
    assert info.value.message.startswith(message)


@pytest.mark.parametrize(
    ("dvc_yaml", "error", "message"),
    [
        (
            "stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o]\n",
            GraphError,
            "output 'o' is specified in:\n\t- a\n\t- b\nUse `dvc remove` with any of the above "
            "targets to stop tracking the overlapping output.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [o, {o: {cache: false}}]\n    metrics: [o]\n",
            GraphError,
            "output 'o' is already specified in stage: 'a'.\n"
            "Use `dvc remove a` to stop tracking the overlapping output.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [d]\n  b:\n    cmd: y\n    outs: [d/x]\n",
            GraphError,
            "The output paths:\n'd'('a')\n'd/x'('b')\noverlap and are thus in the same tracked "
            "directory.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    deps: [o]\n    outs: [o]\n",
            GraphError,
            "Same item(s) are defined as both a dependency and an output in stage: a.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    deps: [p]\n    outs: [o]\n"
            "  b:\n    cmd: y\n    deps: [o]\n    outs: [p]\n",
            GraphError,
            "Same item(s) are defined as both a dependency and an output in stages: a, b.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [dvc.yaml]\n",
            GraphError,
            "DVC file 'dvc.yaml' cannot be an output.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    deps: [x.dvc]\n",
            GraphError,
            "DVC file 'x.dvc' cannot be a dependency.",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [.git/o]\n",
            GraphError,
            "Path '{root}/.git/o' is ignored by :.git",
        ),
    ],
)
def test_graph_errors(
    make_project: Make, dvc_yaml: str, error: type[LabrunError], message: str
) -> None:
    proj = make_project({"dvc.yaml": dvc_yaml})
    with pytest.raises(error) as info:
        api.graph(proj.root)
    assert info.value.message.startswith(message.format(root=proj.root))


def test_graph_edges_follow_files_directories_and_params(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  gen:\n    cmd: x\n    outs: [data]\n"
                "  params:\n    cmd: x\n    outs: [params.yaml]\n"
                "  use:\n    cmd: x\n    deps: [data/train.csv]\n    params: [lr]\n    outs: [m]\n"
                "  parent:\n    cmd: x\n    deps: [.]\n"
                "  sib:\n    cmd: x\n    deps: [data2]\n"
            )
        }
    )
    g = api.graph(proj.root)
    names = [s.name for s in g.stages]
    edges = {(names[a], names[b]) for a, b in g.edges()}
    assert ("use", "gen") in edges  # file inside an output directory
    assert ("use", "params") in edges  # a params file is a dependency too
    assert {("parent", "gen"), ("parent", "use"), ("parent", "params")} <= edges
    assert not any(a == "sib" for a, _ in edges)  # data2 is not inside data
    order = [names[i] for i in g.upstream_order([names.index("use")])]
    assert order.index("gen") < order.index("use")


def test_frozen_stage_cuts_its_upstream(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": (
                "stages:\n"
                "  a:\n    cmd: x\n    outs: [a]\n"
                "  b:\n    cmd: x\n    deps: [a]\n    outs: [b]\n    frozen: true\n"
                "  c:\n    cmd: x\n    deps: [b]\n"
            )
        }
    )
    g = api.graph(proj.root).without_frozen_edges()
    assert [g.stages[i].name for i in g.upstream_order([2])] == ["b", "c"]


def test_subdirectories_and_dvc_files_are_discovered(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  top:\n    cmd: x\n    deps: [sub/o]\n"
            "  producer:\n    cmd: z\n    outs: [out_dir]\n",
            "sub/dvc.yaml": "stages:\n  s:\n    cmd: y\n    deps: [../data.csv]\n    outs: [o]\n",
            "data.csv.dvc": "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 1\n"
            "  hash: md5\n  path: data.csv\n",
            "out_dir/dvc.yaml": "stages:\n  hidden:\n    cmd: z\n",
        }
    )
    names = list(stages_of(proj))
    assert names == ["data.csv.dvc", "top", "producer", "sub/dvc.yaml:s"]  # out_dir/ skipped
    g = api.graph(proj.root)
    edges = {(g.stages[a].name, g.stages[b].name) for a, b in g.edges()}
    assert edges == {("top", "s"), ("s", "data.csv.dvc")}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("train", ["train@a", "train@b"]),
        ("train@b", ["train@b"]),
        ("dvc.yaml:train@a", ["train@a"]),
        ("dvc.yaml", ["prep", "train@a", "train@b"]),
        ("sub/dvc.yaml:s", ["sub/dvc.yaml:s"]),
        ("sub/dvc.yaml", ["sub/dvc.yaml:s"]),
    ],
)
def test_targets(make_project: Make, target: str, expected: list[str]) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  prep:\n    cmd: p\n  train:\n    foreach: [a, b]\n"
            "    do:\n      cmd: t ${item}\n",
            "sub/dvc.yaml": "stages:\n  s:\n    cmd: s\n",
        }
    )
    found = api.stage_list(proj.root, [target])
    assert [s.addressing_from(".") for s in found] == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuch", "Stage 'nosuch' not found inside 'dvc.yaml' file"),
        ("train@c", "Stage 'train@c' not found inside 'dvc.yaml' file"),
        ("sub/dvc.yaml:nope", "Stage 'nope' not found inside 'sub/dvc.yaml' file"),
        ("sub/dvc.lock", "Did you mean: `sub/dvc.yaml`?"),
        ("x.dvc", "'{root}/x.dvc' does not exist"),
        (
            "other.yaml:s",
            "bad DVC file name 'other.yaml'. DVC files should be named 'dvc.yaml' "
            "or have a '.dvc' suffix (e.g. 'other.yaml.dvc').",
        ),
        ("missing.yaml:s", "'{root}/missing.yaml' does not exist"),
    ],
)
def test_target_errors(make_project: Make, target: str, message: str) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  train:\n    foreach: [a, b]\n    do:\n      cmd: t\n",
            "sub/dvc.yaml": "stages:\n  s:\n    cmd: s\n",
            "other.yaml": "stages: {}\n",
        }
    )
    with pytest.raises(TargetError) as info:
        api.stage_list(proj.root, [target])
    assert info.value.message == message.format(root=proj.root)


def test_recursive_and_glob_targets(make_project: Make) -> None:
    proj = make_project(
        {
            "dvc.yaml": "stages:\n  top:\n    cmd: t\n",
            "a/dvc.yaml": "stages:\n  x1:\n    cmd: s\n  y1:\n    cmd: s\n",
            "a/b/dvc.yaml": "stages:\n  x2:\n    cmd: s\n",
        }
    )
    found = api.stage_list(proj.root, ["a"], recursive=True)
    assert [s.addressing_from(".") for s in found] == [
        "a/dvc.yaml:x1",
        "a/dvc.yaml:y1",
        "a/b/dvc.yaml:x2",
    ]
    col = api.collector(api.open_project(proj.root))
    assert [s.name for s in col.collect("a/dvc.yaml:x*", glob=True)] == ["x1"]
