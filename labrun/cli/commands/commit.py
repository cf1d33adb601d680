"""`labrun commit [targets] [-f] [-d] [-R]`: record the current state of changed stages."""

from __future__ import annotations

import argparse

from labrun.cli.argspec import flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `commit`."""
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="Commit without asking, even if deps changed.")
    add("-d", "--with-deps", action="store_true", help="Commit all dependencies of the targets.")
    add("-R", "--recursive", action="store_true", help="Commit every stage below directories.")
    add("targets", nargs="*", help="Tracked files/directories, .dvc files and stage names.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Commit; a changed stage is committed after a yes on the terminal (or with -f)."""
    from labrun import api
    from labrun.cli.commands.repro import ask
    from labrun.cli.console import ConsoleReporter
    from labrun.cli.dataprogress import DataProgressReporter

    opts = api.CommitOptions(args.force, args.recursive, args.with_deps)
    quiet = flag(args, "quiet")
    reporter = DataProgressReporter(ConsoleReporter(quiet=quiet), quiet=quiet)
    api.commit(None, args.targets, opts, reporter, confirm=ask)
    return 0
