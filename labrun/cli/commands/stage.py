"""`labrun stage list [targets] [--all] [-R] [--name-only] [--json] [--fail]`."""

from __future__ import annotations

import argparse

from labrun.cli.parser import Parser, add_common

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of `stage`."""
    sub = parser.add_subparsers(title="stage commands", metavar="COMMAND", parser_class=Parser)
    lst = sub.add_parser("list", help="List stages.", description="List stages.")
    add_common(lst)
    lst.add_argument(
        "targets", nargs="*", help="dvc.yaml/.dvc files, stages or directories ('dvc.yaml')."
    )
    lst.add_argument("--all", action="store_true", help="List all of the stages in the project.")
    lst.add_argument(
        "-R", "--recursive", action="store_true", help="List all stages inside the directories."
    )
    lst.add_argument(
        "--name-only", "--names-only", action="store_true", help="List only stage names."
    )
    lst.add_argument(
        "--fail", action="store_true", help="Accepted for DVC compatibility: errors always fail."
    )
    lst.add_argument(
        "--json", action="store_true", help="Print each stage's resolved definition as JSON."
    )
    lst.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print one row per stage: its address and a short description."""
    from labrun import api
    from labrun.cli import render

    project = api.open_project()
    stages = api.stage_list(
        project, args.targets, all_stages=args.all, recursive=args.recursive, on_warning=warn
    )
    cwd = project.cwd_rel
    if args.json:
        print(render.to_json([_as_json(s, cwd) for s in stages]))
        return 0
    rows = [
        (s.addressing_from(cwd),) if args.name_only else (s.addressing_from(cwd), describe(s))
        for s in stages
    ]
    text = render.table(rows)
    if text:
        print(text)
    return 0


def warn(message: str) -> None:
    """Print a warning from the engine on stderr."""
    import sys

    print(f"WARNING: {message}", file=sys.stderr)


def describe(stage: Any) -> str:
    """The first non-empty line of `desc` (stripped), else a summary of outputs and deps."""
    from labrun.cli.render import truncate

    lines = [line for line in str(stage.desc or "").splitlines() if line]
    first = lines[0].strip() if lines else ""
    return truncate(first or _summary(stage))


def _summary(stage: Any) -> str:
    deps = [*stage.deps, *stage.params_paths()]
    if not deps and not stage.outs:
        return "No outputs or dependencies"
    if not stage.outs:
        return "Depends on " + ", ".join(deps)
    parts = []
    plain = [o.path for o in stage.outs if not (o.is_metric or o.is_plot)]
    if plain:
        parts.append("Outputs " + ", ".join(plain))
    reports = [o.path for o in stage.outs if o.is_metric or o.is_plot]
    if reports:
        parts.append("Reports " + ", ".join(reports))
    return "; ".join(parts)


def _as_json(stage: Any, cwd: str) -> dict[str, Any]:
    return {
        "addressing": stage.addressing_from(cwd),
        "cmd": stage.cmd,
        "wdir": stage.wdir,
        "deps": list(stage.deps),
        "outs": [
            {
                "path": o.path,
                "cache": o.cache,
                "persist": o.persist,
                "metric": o.is_metric,
                "plot": o.is_plot,
            }
            for o in stage.outs
        ],
        "params": {p.path: (None if p.keys is None else sorted(p.keys)) for p in stage.params},
        "frozen": stage.frozen,
        "always_changed": stage.always_changed,
        "desc": stage.desc,
    }
