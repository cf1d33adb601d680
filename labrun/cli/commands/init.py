"""`labrun init [--no-scm] [-f] [--subdir]`."""

from __future__ import annotations

import argparse
import os

from labrun.cli.argspec import flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `init`."""
    parser.add_argument("--no-scm", action="store_true", help="Initiate a project without Git.")
    parser.add_argument(
        "-f", "--force", action="store_true", help="Overwrite an existing '.dvc/' directory."
    )
    parser.add_argument(
        "--subdir", action="store_true", help="Initiate a project in a subdirectory of a Git repo."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Create the project files and say what to do next."""
    from labrun import api

    api.init(os.getcwd(), no_scm=args.no_scm, force=args.force, subdir=args.subdir)
    if not flag(args, "quiet"):
        print("Initialized DVC repository.")
        if not args.no_scm:
            print("\nYou can now commit the changes to git.")
    return 0
