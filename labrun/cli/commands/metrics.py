"""`labrun metrics show` and `labrun metrics diff`, as `dvc metrics` 3.67 prints them."""

from __future__ import annotations

import argparse

from labrun.cli.parser import Parser, add_common

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_PRECISION = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of `metrics`."""
    sub = parser.add_subparsers(title="metrics commands", metavar="COMMAND", parser_class=Parser)
    show = sub.add_parser(
        "show", help="Print metrics.", description="Print metrics, with optional formatting."
    )
    add_common(show)
    show.add_argument("targets", nargs="*", help="Limit command scope to these metrics files.")
    add_revision_set(show, "metrics")
    add_output_flags(show)
    show.add_argument(
        "-R", "--recursive", action="store_true", help="Accepted: directories are always expanded."
    )
    add_precision(show)
    show.set_defaults(run=run_show)
    diff = sub.add_parser(
        "diff",
        help="Show changes in metrics between revisions.",
        description="Show changes in metrics between commits, or a commit and the workspace.",
    )
    add_common(diff)
    add_diff_arguments(diff, "metrics")
    add_precision(diff)
    diff.set_defaults(run=run_diff)


def add_revision_set(parser: argparse.ArgumentParser, what: str) -> None:
    """-a / -T / -A of the show commands."""
    parser.add_argument(
        "-a", "--all-branches", action="store_true", help=f"Show {what} for all branches."
    )
    parser.add_argument("-T", "--all-tags", action="store_true", help=f"Show {what} for all tags.")
    parser.add_argument(
        "-A", "--all-commits", action="store_true", help=f"Show {what} for all commits."
    )


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    """--json and --md."""
    parser.add_argument("--json", action="store_true", help="Show output in JSON format.")
    parser.add_argument(
        "--md",
        action="store_true",
        dest="markdown",
        help="Show tabulated output in the Markdown format (GFM).",
    )


def add_precision(parser: argparse.ArgumentParser) -> None:
    """--precision (digits after the point, as DVC rounds metrics)."""
    parser.add_argument(
        "--precision",
        type=int,
        metavar="<n>",
        help=f"Round metrics to `n` digits after the decimal point ({DEFAULT_PRECISION}).",
    )


def add_diff_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Positional revisions, --targets, --all, --json, --md, --no-path."""
    parser.add_argument(
        "a_rev", nargs="?", default="HEAD", help="Old Git commit to compare (defaults to HEAD)"
    )
    parser.add_argument(
        "b_rev",
        nargs="?",
        default="workspace",
        help="New Git commit to compare (defaults to the current workspace)",
    )
    parser.add_argument(
        "--targets",
        nargs="*",
        default=[],
        metavar="<paths>",
        help=f"Specific {what} file(s) to compare.",
    )
    parser.add_argument("-R", "--recursive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--all", action="store_true", help=f"Show unchanged {what} as well.")
    add_output_flags(parser)
    parser.add_argument("--no-path", action="store_true", help=f"Don't show {what} path.")


# --- show ---------------------------------------------------------------------------------


def run_show(args: argparse.Namespace) -> int:
    """Print the metrics of the workspace (or of every selected revision)."""
    from labrun import api

    revisions = api.RevisionSet(
        all_branches=args.all_branches, all_tags=args.all_tags, all_commits=args.all_commits
    )
    results = api.metrics_show(None, args.targets, revisions)
    print_results(results, args, precision=args.precision or DEFAULT_PRECISION, what="metrics")
    return 0


def print_results(
    results: dict[str, Any], args: argparse.Namespace, *, precision: int | None, what: str
) -> None:
    """JSON, or one row per revision and file with a column per flattened key."""
    import sys

    from labrun.cli import exptable

    warn_failed(results, what)
    if args.json:
        sys.stdout.write(exptable.json_text(results))
        return
    revisions = args.all_branches or args.all_tags or args.all_commits
    headers, rows = results_table(results, precision, with_revision=revisions)
    if args.markdown:
        sys.stdout.write(exptable.markdown(headers, rows) + "\n\n")
    elif rows:
        sys.stdout.write(exptable.plain(headers, rows) + "\n")


def warn_failed(results: Mapping[str, Any], what: str) -> None:
    """DVC's notices on stderr: each revision that failed, then every one with an error."""
    import sys

    for rev, result in results.items():
        warn_revision(rev, result.get("error"), what)
    failed = [rev for rev, result in results.items() if _has_error(result)]
    if failed:
        print(
            f"DVC failed to load some {what} for following revisions: '{', '.join(failed)}'.",
            file=sys.stderr,
        )


def _has_error(value: Any) -> bool:
    if isinstance(value, dict):
        return "error" in value or any(_has_error(v) for v in value.values())
    return False


def results_table(
    results: Mapping[str, Any], precision: int | None, *, with_revision: bool
) -> tuple[list[str], list[list[str]]]:
    """Headers (Revision, Path, sorted keys) and rows of a show table; missing cells `-`."""
    records: list[dict[str, str]] = []
    keys: dict[str, None] = {}
    for rev, result in results.items():
        for path, entry in result.get("data", {}).items():
            value = entry.get("data", {})
            flat = flatten(format_lists(value)) if isinstance(value, dict) else {"": value}
            record = {k: format_cell(v, precision, rounding=True) for k, v in flat.items()}
            keys.update(dict.fromkeys(record))
            records.append({"Revision": rev, "Path": path, **record})
    headers = ["Revision", "Path", *sorted(keys)] if with_revision else ["Path", *sorted(keys)]
    return headers, [[r.get(h, "-") for h in headers] for r in records]


def flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened with dots."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def format_lists(data: Mapping[Any, Any]) -> dict[Any, Any]:
    """Lists as their text (`[1, 2]`), recursively."""
    return {
        k: format_lists(v) if isinstance(v, dict) else str(v) if isinstance(v, list) else v
        for k, v in data.items()
    }


def format_cell(value: Any, precision: int | None, *, rounding: bool = False) -> str:
    """A cell: floats rounded to ``precision`` digits after the point (``rounding``) or to
    that many significant digits, inside lists and dicts too; then as Python prints it.

    >>> format_cell(1 / 3, 5, rounding=True), format_cell([1 / 3, 2], 3)
    ('0.33333', "['0.333', 2]")
    """
    return str(_format(value, precision, rounding))


def _format(value: Any, precision: int | None, rounding: bool) -> Any:
    if isinstance(value, float) and precision:
        return round(value, precision) if rounding else f"{value:.{precision}g}"
    if isinstance(value, dict):
        return {k: _format(v, precision, rounding) for k, v in value.items()}
    if isinstance(value, list):
        return [_format(v, precision, rounding) for v in value]
    return value


# --- diff ---------------------------------------------------------------------------------


def run_diff(args: argparse.Namespace) -> int:
    """Print the changed metrics of two revisions."""
    import sys

    from labrun import api
    from labrun.cli import exptable

    options = api.DiffOptions(targets=tuple(args.targets or ()), show_all=args.all)
    result = api.metrics_diff(None, args.a_rev, args.b_rev, options)
    warn_diff_errors(result, "metrics")
    diff = result.get("diff", {})
    if args.json:
        sys.stdout.write(exptable.json_text(diff))
        return 0
    style = DiffStyle(
        "Metric",
        (args.a_rev, args.b_rev),
        precision=args.precision or DEFAULT_PRECISION,
        rounding=True,
    )
    sys.stdout.write(diff_text(diff, style, markdown=args.markdown, no_path=args.no_path))
    return 0


def warn_revision(rev: str, error: Any, what: str) -> None:
    """`WARNING: failed to load <what> in revision '<rev>', <why>` for a whole revision."""
    import sys

    if isinstance(error, dict) and isinstance(error.get("msg"), str):
        print(
            f"WARNING: failed to load {what} in revision '{rev}', {error['msg']}", file=sys.stderr
        )


def warn_diff_errors(result: Mapping[str, Any], what: str) -> None:
    """The stderr notices for revisions that failed (DVC says "metrics" for params too)."""
    import sys

    for rev, errors in result.get("errors", {}).items():
        warn_revision(rev, errors, what)
    failed = [rev for rev, errors in result.get("errors", {}).items() if errors]
    if failed:  # sic: "metrics" for params too, as DVC prints it
        print(
            f"DVC failed to load some metrics for following revisions: '{', '.join(failed)}'.",
            file=sys.stderr,
        )


class DiffStyle:
    """How a diff table is titled and its numbers written.

    ``empty_change`` fills `Change` where there is no difference to show
    (one side missing, not numbers); None leaves the column out (params diff).
    """

    __slots__ = ("empty_change", "precision", "revs", "rounding", "title")

    def __init__(
        self,
        title: str,
        revs: tuple[str, str],
        *,
        precision: int | None = None,
        rounding: bool = False,
        empty_change: str | None = "-",
    ) -> None:
        self.title = title
        self.revs = revs
        self.precision = precision
        self.rounding = rounding
        self.empty_change = empty_change


def diff_text(diff: Mapping[str, Any], style: DiffStyle, *, markdown: bool, no_path: bool) -> str:
    """One diff table (Path, title, the two revisions, Change), sorted by path then key."""
    from labrun.cli import exptable

    headers = ["Path", style.title, *style.revs, "Change"]
    rows = []
    for path, changes in diff.items():
        for key, change in sorted(changes.items()):
            old, new = change.get("old"), change.get("new")
            delta = change.get("diff", style.empty_change or "-")
            cells = [_cell(v, style) for v in (old, new, delta)]
            rows.append([path, str(key), *cells])
    drop = ({0} if no_path else set()) | (set() if style.empty_change is not None else {4})
    headers = [h for i, h in enumerate(headers) if i not in drop]
    rows = [[c for i, c in enumerate(r) if i not in drop] for r in rows]
    if markdown:
        return exptable.markdown(headers, rows) + "\n\n"
    return exptable.plain(headers, rows) + "\n" if rows else ""


def _cell(value: Any, style: DiffStyle) -> str:
    if value is None:
        return "-"
    return format_cell(value, style.precision, rounding=style.rounding)
