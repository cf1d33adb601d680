"""`labrun checkout [targets] [-f] [--relink] [-R] [-d] [--summary] [--allow-missing]`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from labrun.cli.argspec import flag

if TYPE_CHECKING:
    from labrun.api import CheckoutSummary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `checkout`."""
    add = parser.add_argument
    add("--summary", action="store_true", help="Show summary of the changes.")
    add("-d", "--with-deps", action="store_true", help="Checkout all dependencies of the targets.")
    add("-R", "--recursive", action="store_true", help="Checkout every stage below directories.")
    add("-f", "--force", action="store_true", help="Do not prompt when removing workspace files.")
    add("--relink", action="store_true", help="Recreate links or copies from cache to workspace.")
    add("--allow-missing", action="store_true", help="Ignore data missing from the cache.")
    add("targets", nargs="*", help="Tracked files/directories, .dvc files and stage names.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check out, print `A/M/D` lines (or `--summary`), then fail if something was missing."""
    from labrun import api
    from labrun.cli.console import ConsoleReporter
    from labrun.cli.dataprogress import DataProgressReporter

    quiet = flag(args, "quiet")
    opts = api.CheckoutOptions(
        args.force, args.relink, args.allow_missing, args.recursive, args.with_deps
    )
    reporter = DataProgressReporter(ConsoleReporter(quiet=quiet), quiet=quiet)
    failure: api.CheckoutFailedError | None = None
    try:
        summary = api.checkout(None, args.targets, opts, reporter)
    except api.CheckoutFailedError as exc:
        summary, failure = exc.result, exc
    if not quiet:
        print_changes(summary, totals=args.summary)
    if failure is not None:
        raise failure
    if args.relink and not quiet:
        print("Relinked successfully")
    return 0


def print_changes(summary: CheckoutSummary, *, totals: bool = False) -> None:
    """`M`/`A`/`D` lines, or the `--summary` sentence.

    DVC separates the letter and the path with a tab that its console expands to
    the next tab stop: so does labrun, for byte-identical output.
    """
    if totals:
        print(summary_text(summary.stats) or "No changes.")
        return
    for letter, paths in (("M", summary.modified), ("A", summary.added), ("D", summary.deleted)):
        for path in paths:
            print(f"{letter:<8}{path}")


def summary_text(stats: dict[str, int]) -> str:
    """DVC's wording: "1 file modified, 2 files added and 1 file deleted".

    >>> summary_text({"modified": 1, "added": 2, "deleted": 0})
    '1 file modified and 2 files added'
    """
    parts = [f"{n} file{'s' if n > 1 else ''} {state}" for state, n in stats.items() if n]
    if len(parts) > 1:
        return f"{', '.join(parts[:-1])} and {parts[-1]}"
    return "".join(parts)
