"""`labrun status [targets] [--json] [-q] [--with-deps]`: what `dvc status` prints."""

from __future__ import annotations

import argparse
import os
import sys

from labrun.cli.argspec import flag

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from labrun.api import Project, Stage, StageStatus

_NO_STAGES = (
    "There are no data or pipelines tracked in this project yet.\n"
    "See <https://dvc.org/doc/start> to get started!"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `status`."""
    parser.add_argument("targets", nargs="*", help="Stages or dvc files (default: all).")
    parser.add_argument("--json", action="store_true", help="Print the status as JSON.")
    parser.add_argument(
        "--with-deps", action="store_true", help="Include the targets' upstream stages."
    )
    parser.add_argument(
        "-c", "--cloud", action="store_true", help="Compare with remote storage (not supported)."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print changed stages; with -q print nothing and exit 1 if anything changed."""
    from labrun import api
    from labrun.errors import ArgumentError

    if args.cloud:
        raise ArgumentError("status -c needs remote storage, which labrun does not support yet")
    project = api.open_project()
    statuses = _statuses(project, args)
    report = {_name(s, project): _entries(s, project) for s in statuses if s.stale}
    if flag(args, "quiet"):
        return 1 if report else 0
    for s in statuses:
        if s.stage.frozen and s.stage.cmd is not None:
            addr = s.stage.addressing_from(project.cwd_rel)
            print(
                f"WARNING: stage: '{addr}' is frozen. Its dependencies are not going to be "
                "shown in the status output.",
                file=sys.stderr,
            )
    if args.json:
        import json

        print(json.dumps(report))
    elif report:
        print(_text(report))
    elif statuses or args.targets:
        print("Data and pipelines are up to date.")
    else:
        print(_NO_STAGES)
    return 0


def _statuses(project: Project, args: argparse.Namespace) -> list[StageStatus]:
    """The statuses; an error exits with status 1, as every error of `dvc status` does."""
    from labrun import api
    from labrun.errors import LabrunError

    try:
        return api.status(project, args.targets, with_deps=args.with_deps)
    except LabrunError as exc:
        if exc.exit_code == LabrunError.exit_code:  # errors with their own code keep it
            exc.exit_code = 1
        raise


def _name(status: StageStatus, project: Project) -> str:
    return status.stage.addressing_from(project.cwd_rel)


def _rel(project: Project, stage: Stage, def_path: str) -> str:
    return os.path.relpath(stage.abspath(project.root, def_path), project.cwd)


def _entries(status: StageStatus, project: Project) -> list[Any]:
    deps: dict[str, Any] = {}
    outs: dict[str, str] = {}
    flags: list[str] = []
    for reason in status.reasons:
        if reason.kind == "dep":
            deps[_rel(project, status.stage, reason.path)] = reason.status
        elif reason.kind == "params":
            path = _rel(project, status.stage, reason.path)
            if reason.key is None:
                deps[path] = reason.status
            else:
                deps.setdefault(path, {})[reason.key] = reason.status
        elif reason.kind == "out":
            outs[_rel(project, status.stage, reason.path)] = reason.status
        else:
            flags.append(reason.kind)
    entries: list[Any] = []
    if deps:
        entries.append({"changed deps": deps})
    if outs:
        entries.append({"changed outs": outs})
    entries.extend(f for f in flags if f == "always changed")
    entries.extend(f for f in flags if f != "always changed")
    return entries


def _label(word: str) -> str:
    return f"{word + ':':<20}"


def _text(report: dict[str, list[Any]]) -> str:
    lines: list[str] = []
    for name, entries in report.items():
        lines.append(f"{name}:")
        for entry in entries:
            if isinstance(entry, str):
                lines.append(f"\t{entry}")
                continue
            for title, items in entry.items():
                lines.append(f"\t{title}:")
                for path, value in items.items():
                    if isinstance(value, dict):
                        lines.append(f"\t\t{path}:")
                        lines.extend(f"\t\t\t{_label(v)}{k}" for k, v in value.items())
                    else:
                        lines.append(f"\t\t{_label(value)}{path}")
    return "\n".join(lines)
