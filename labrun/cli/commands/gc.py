"""`labrun gc -w [-f] [--dry]`: remove cache objects the workspace does not use."""

from __future__ import annotations

import argparse
import sys

from labrun.cli.argspec import flag

# DVC's scopes beyond the workspace: accepted, then refused with a clear message
_OTHER_SCOPES = {
    "all_branches": "-a|--all-branches",
    "all_tags": "-T|--all-tags",
    "all_commits": "-A|--all-commits",
    "all_experiments": "--all-experiments",
    "commit_date": "--date",
    "rev": "--rev",
    "num": "-n|--num",
    "cloud": "-c|--cloud",
    "remote": "-r|--remote",
    "not_in_remote": "--not-in-remote",
    "repos": "-p|--projects",
}
_CHOICES = ["yes", "no", "y", "n"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `gc` (all of DVC's; only `-w` is supported so far)."""
    add = parser.add_argument
    add("-w", "--workspace", action="store_true", help="Keep data used in the workspace.")
    add("-f", "--force", action="store_true", help="Do not ask for confirmation.")
    add("--dry", action="store_true", help="Only print what would be removed.")
    add("-j", "--jobs", type=int, metavar="<number>", help="Accepted; labrun needs no jobs here.")
    add("--skip-failed", action="store_true", help=argparse.SUPPRESS)
    for flags in (("-a", "--all-branches"), ("-T", "--all-tags"), ("-A", "--all-commits")):
        add(*flags, action="store_true", help=argparse.SUPPRESS)
    for name in ("--all-experiments", "--not-in-remote"):
        add(name, action="store_true", help=argparse.SUPPRESS)
    add("-c", "--cloud", action="store_true", help=argparse.SUPPRESS)
    add("--date", dest="commit_date", help=argparse.SUPPRESS)
    add("--rev", help=argparse.SUPPRESS)
    add("-n", "--num", type=int, help=argparse.SUPPRESS)
    add("-r", "--remote", help=argparse.SUPPRESS)
    add("-p", "--projects", dest="repos", nargs="*", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Warn, ask (unless -f/--dry), collect, and report per cache namespace."""
    from labrun import api
    from labrun.cli.console import ConsoleReporter
    from labrun.errors import ArgumentError

    used = [option for name, option in _OTHER_SCOPES.items() if getattr(args, name)]
    if used:
        raise ArgumentError(f"gc {used[0]} is not supported yet; only -w|--workspace is")
    if not args.workspace:
        api.gc(None, api.GcOptions())  # raises DVC's "Either of `-w|--workspace`, ..." error
    quiet = flag(args, "quiet")
    if not quiet:
        print(
            "WARNING: This will remove all cache except items used in the workspace "
            "of the current repo.",
            file=sys.stderr,
        )
    force = args.force or args.dry
    if not force and not confirm("Are you sure you want to proceed?"):
        return 1
    opts = api.GcOptions(workspace=True, force=force, dry=args.dry)
    result = api.gc(None, opts, ConsoleReporter(quiet=quiet), confirm=_ask_terminal)
    if not quiet:
        for scheme, paths in result.removed.items():
            for path in paths if args.dry else ():
                print(f"Removing {path}")
            print(
                f"Removed {len(paths)} objects from {scheme} cache."
                if paths
                else f"No unused '{scheme}' cache to remove."
            )
    return 0


def confirm(question: str) -> bool:
    """DVC's gc prompt: reads stdin even when it is not a terminal; EOF means no."""
    while True:
        try:
            answer = input(f"{question} [y/n]: ").lower()
        except EOFError:
            return False
        if answer in _CHOICES:
            return answer.startswith("y")
        print(f"Your response must be one of: {_CHOICES}. Please try again.")


def _ask_terminal(question: str) -> bool:
    from labrun.cli.commands.repro import ask

    return ask(question)
