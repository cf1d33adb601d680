"""`labrun exp show`: baselines and experiments with their params, metrics and deps.

Options as in `dvc exp show` 3.67. Output: the table (through a pager on a
terminal unless --no-pager), --json, --csv or --md. One deliberate difference:
--precision applies to the table and --md too, where DVC honours it only for
--csv (an operator-precedence slip in DVC).
"""

from __future__ import annotations

import argparse

from labrun.errors import LabrunError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable

    from labrun import api

DEFAULT_PRECISION = 5


class ShowFailedError(LabrunError):
    """Collecting the experiments failed (DVC exits 1 here, not 255)."""

    exit_code = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `exp show`."""
    add_revision_flags(parser)
    flag = _flag(parser)
    flag("-a", "--all-branches", "Show experiments derived from the tip of all Git branches.")
    flag("-T", "--all-tags", "Show experiments derived from all Git tags.")
    flag("--no-pager", "--no-pager", "Do not pipe output into a pager.")
    flag(
        "--only-changed",
        "--only-changed",
        "Only show metrics/params with values varying across the selected experiments.",
    )
    for name, what in (("--drop", "Remove"), ("--keep", "Preserve")):
        parser.add_argument(
            name,
            action="append",
            default=[],
            metavar="<regex_pattern>",
            help=f"{what} the columns matching the specified regex pattern.",
        )
    flag("--param-deps", "--param-deps", "Show only params that are stage dependencies.")
    parser.add_argument(
        "--sort-by",
        metavar="<metric/param>",
        help="Sort related experiments by the specified metric or param.",
    )
    parser.add_argument(
        "--sort-order",
        choices=("asc", "desc"),
        default="asc",
        help="Sort order to use with --sort-by. Defaults to ascending ('asc').",
    )
    flag("--sha", "--sha", "Always show git commit SHAs instead of branch/tag names.")
    flag("--hide-failed", "--hide-failed", "Hide failed experiments in the table.")
    flag("--hide-queued", "--hide-queued", "Hide queued experiments in the table.")
    flag("--hide-workspace", "--hide-workspace", "Hide workspace row in the table.")
    flag("--json", "--json", "Print output in JSON format instead of a human-readable table.")
    flag("--csv", "--csv", "Print output in csv format instead of a human-readable table.")
    parser.add_argument(
        "--md",
        action="store_true",
        dest="markdown",
        help="Show tabulated output in the Markdown format (GFM).",
    )
    parser.add_argument(
        "--precision",
        type=int,
        metavar="<n>",
        help=f"Significant digits of floats ({DEFAULT_PRECISION} by default; "
        "full precision in --csv).",
    )
    parser.add_argument("--no-fetch", action="store_true", help=argparse.SUPPRESS)
    flag("-f", "--force", "Re-collect every experiment instead of using the row cache.")
    parser.set_defaults(run=run)


def _flag(parser: argparse.ArgumentParser) -> Callable[[str, str, str], None]:
    def add(short: str, long: str, help_text: str) -> None:
        names = [short] if short == long else [short, long]
        parser.add_argument(*names, action="store_true", help=help_text)

    return add


def add_revision_flags(parser: argparse.ArgumentParser) -> None:
    """-A / --rev / -n, shared by the commands that pick baselines."""
    parser.add_argument(
        "-A",
        "--all-commits",
        action="store_true",
        help="Show experiments derived from all Git commits.",
    )
    parser.add_argument(
        "--rev",
        action="append",
        default=[],
        metavar="<commit>",
        help="Show experiments derived from the specified <commit> as baseline.",
    )
    parser.add_argument(
        "-n",
        "--num",
        type=int,
        default=1,
        metavar="<num>",
        help="Show experiments from the last `num` commits (first parents) starting from "
        "the --rev baseline. Give a negative value to include all first-parent commits.",
    )


def run(args: argparse.Namespace) -> int:
    """Collect, then print in the asked format."""
    from labrun import api

    options = api.ShowOptions(
        revs=tuple(args.rev),
        num=args.num,
        all_branches=args.all_branches,
        all_tags=args.all_tags,
        all_commits=args.all_commits,
        hide_queued=args.hide_queued,
        hide_failed=args.hide_failed,
        hide_workspace=args.hide_workspace,
        sha_only=args.sha,
        param_deps=args.param_deps,
        force=args.force,
    )
    import gc
    import sys

    gc.disable()  # thousands of rows, no cycles, a short-lived process: collecting is waste
    try:
        queued = api.exp_queue_rows(None)
        if args.json:
            indent = 2 if sys.stdout.isatty() else None
            sys.stdout.write(api.exp_show_json(None, options, queued, indent=indent))
            sys.stdout.write("\n")  # not `text + "\n"`: that copies megabytes once more
            return 0
        states = api.exp_show(None, options, queued)
    except LabrunError as exc:
        raise ShowFailedError(f"failed to show experiments - {exc.message}") from exc
    print_states(states, args)
    return 0


def print_states(states: list[dict[str, object]], args: argparse.Namespace) -> None:
    """Write the states as CSV, Markdown or the table."""
    import sys

    from labrun import api
    from labrun.cli import exptable

    table = api.exp_table(states, table_options(args))
    if args.csv:
        sys.stdout.write(exptable.csv_text(table.headers, table.rows))
    elif args.markdown:
        sys.stdout.write(exptable.markdown(table.headers, table.rows) + "\n\n")
    else:
        aligns = ["right" if kind == "metrics" else "left" for kind in table.kinds]
        exptable.page(exptable.ruled(table.headers, table.rows, aligns), pager=not args.no_pager)


def table_options(args: argparse.Namespace) -> api.TableOptions:
    """The table options of the command line (CSV: full precision, ISO dates, no fill)."""
    from labrun import api

    if args.csv:
        return api.TableOptions(
            precision=args.precision or None,
            fill="",
            iso=True,
            sort_by=args.sort_by,
            sort_order=args.sort_order,
            keep=tuple(args.keep),
            drop=tuple(args.drop),
            only_changed=args.only_changed,
            merge_id=False,
        )
    return api.TableOptions(
        precision=args.precision or DEFAULT_PRECISION,
        sort_by=args.sort_by,
        sort_order=args.sort_order,
        keep=tuple(args.keep),
        drop=tuple(args.drop),
        only_changed=args.only_changed,
    )
