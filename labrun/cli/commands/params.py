"""`labrun params diff` (as `dvc params diff` 3.67) and `labrun params show`.

`params show` has no DVC counterpart on the command line (dvc has only
`dvc.api.params_show`): it prints the params `params diff` compares, one row
per file, like `metrics show`.
"""

from __future__ import annotations

import argparse

from labrun.cli.commands.metrics import (
    DiffStyle,
    add_diff_arguments,
    add_output_flags,
    add_revision_set,
    diff_text,
    print_results,
    warn_diff_errors,
)
from labrun.cli.parser import Parser, add_common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of `params`."""
    sub = parser.add_subparsers(title="params commands", metavar="COMMAND", parser_class=Parser)
    show = sub.add_parser(
        "show", help="Print params.", description="Print the params of the pipeline."
    )
    add_common(show)
    show.add_argument("targets", nargs="*", help="Limit command scope to these params files.")
    show.add_argument(
        "--deps", action="store_true", help="Show only params that are stage dependencies."
    )
    add_revision_set(show, "params")
    add_output_flags(show)
    show.set_defaults(run=run_show)
    diff = sub.add_parser(
        "diff",
        help="Show changes in params between revisions.",
        description="Show changes in params between commits, or a commit and the workspace.",
    )
    add_common(diff)
    add_diff_arguments(diff, "params")
    diff.add_argument(
        "--deps", action="store_true", help="Show only params that are stage dependencies."
    )
    diff.set_defaults(run=run_diff)


def run_show(args: argparse.Namespace) -> int:
    """Print the params of the workspace (or of every selected revision)."""
    from labrun import api

    revisions = api.RevisionSet(
        all_branches=args.all_branches, all_tags=args.all_tags, all_commits=args.all_commits
    )
    results = api.params_show(None, args.targets, revisions, deps_only=args.deps)
    print_results(results, args, precision=None, what="params")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Print the changed params of two revisions (no Change column, values unrounded)."""
    import sys

    from labrun import api
    from labrun.cli import exptable

    options = api.DiffOptions(
        targets=tuple(args.targets or ()), show_all=args.all, deps_only=args.deps
    )
    result = api.params_diff(None, args.a_rev, args.b_rev, options)
    warn_diff_errors(result, "params")
    diff = result.get("diff", {})
    if args.json:
        sys.stdout.write(exptable.json_text(diff))
        return 0
    style = DiffStyle("Param", (args.a_rev, args.b_rev), empty_change=None)
    sys.stdout.write(diff_text(diff, style, markdown=args.markdown, no_path=args.no_path))
    return 0
