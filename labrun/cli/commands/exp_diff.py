"""`labrun exp diff [a_rev] [b_rev]`: changed metrics and params of two revisions."""

from __future__ import annotations

import argparse

from labrun.errors import LabrunError

DEFAULT_PRECISION = 5


class DiffFailedError(LabrunError):
    """Reading the revisions failed (DVC exits 1 here, not 255)."""

    exit_code = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `exp diff`."""
    parser.add_argument("a_rev", nargs="?", help="Old experiment to compare (defaults to HEAD)")
    parser.add_argument(
        "b_rev", nargs="?", help="New experiment to compare (defaults to the current workspace)"
    )
    parser.add_argument("--all", action="store_true", help="Show unchanged metrics/params as well.")
    parser.add_argument(
        "--param-deps", action="store_true", help="Show only params that are stage dependencies."
    )
    parser.add_argument("--json", action="store_true", help="Show output in JSON format.")
    parser.add_argument(
        "--md",
        action="store_true",
        dest="markdown",
        help="Show tabulated output in the Markdown format (GFM).",
    )
    parser.add_argument("--no-path", action="store_true", help="Don't show metric/param path.")
    parser.add_argument(
        "--precision",
        type=int,
        metavar="<n>",
        help=f"Significant digits of metrics ({DEFAULT_PRECISION} by default).",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Compare, then print JSON or the metrics table and the params table."""
    import sys

    from labrun import api
    from labrun.cli import exptable
    from labrun.cli.commands.metrics import DiffStyle, diff_text

    try:
        diff = api.exp_diff(
            None, args.a_rev, args.b_rev, show_all=args.all, param_deps=args.param_deps
        )
    except LabrunError as exc:
        raise DiffFailedError(f"failed to show experiments diff - {exc.message}") from exc
    if args.json:
        sys.stdout.write(exptable.json_text(diff))
        return 0
    if not diff:
        return 0
    revs = (args.a_rev or "HEAD", args.b_rev or "workspace")
    precision = args.precision or DEFAULT_PRECISION
    parts = []
    for kind, title in (("metrics", "Metric"), ("params", "Param")):
        digits = precision if kind == "metrics" else None
        style = DiffStyle(title, revs, precision=digits, empty_change="diff not supported")
        parts.append(diff_text(diff[kind], style, markdown=args.markdown, no_path=args.no_path))
    sys.stdout.write("\n".join(parts))
    return 0
