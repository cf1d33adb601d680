"""`labrun add <targets...> [--no-commit] [--glob]`: track data files and directories."""

from __future__ import annotations

import argparse

from labrun.cli.argspec import flag

GIT_HINT = (
    "\nTo track the changes with git, run:\n\n\tgit add {files}\n"
    "\nTo enable auto staging, run:\n\n\tdvc config core.autostage true"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `add` (DVC's, except the remote-storage ones)."""
    parser.add_argument(
        "--no-commit", action="store_true", help="Don't put files/directories into cache."
    )
    parser.add_argument(
        "--glob", action="store_true", help="Allows targets containing shell-style wildcards."
    )
    # accepted so that they fail with a clear message rather than as unknown options
    parser.add_argument("-o", "--out", metavar="<path>", help=argparse.SUPPRESS)
    parser.add_argument("--to-remote", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-r", "--remote", metavar="<name>", help=argparse.SUPPRESS)
    parser.add_argument("--remote-jobs", type=int, metavar="<number>", help=argparse.SUPPRESS)
    parser.add_argument("targets", nargs="+", help="Input files/directories to add.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Add the targets and say what to stage in Git."""
    import shlex

    from labrun import api
    from labrun.cli.console import ConsoleReporter
    from labrun.cli.dataprogress import DataProgressReporter
    from labrun.errors import ArgumentError

    used = [name for name in ("out", "to_remote", "remote", "remote_jobs") if getattr(args, name)]
    if used:
        option = "--" + used[0].replace("_", "-")
        raise ArgumentError(f"add {option} is not supported yet")
    quiet = flag(args, "quiet")
    result = api.add(
        None,
        args.targets,
        no_commit=args.no_commit,
        glob=args.glob,
        reporter=DataProgressReporter(ConsoleReporter(quiet=quiet), quiet=quiet),
    )
    if result.git_add and not quiet:
        print(GIT_HINT.format(files=" ".join(shlex.quote(f) for f in result.git_add)))
    return 0
