"""`labrun cache dir [value] [-u] [--global|--system|--project|--local]`."""

from __future__ import annotations

import argparse

from labrun.cli.parser import Parser, add_common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of `cache` (only `dir` so far)."""
    sub = parser.add_subparsers(title="cache commands", metavar="COMMAND", parser_class=Parser)
    text = "Configure cache directory location."
    cmd = sub.add_parser("dir", help=text, description=text)
    add_common(cmd)
    level = cmd.add_mutually_exclusive_group()
    for name, const in (("global", "global"), ("system", "system"), ("project", "repo")):
        level.add_argument(
            f"--{name}", dest="level", action="store_const", const=const, help=f"Use {name} config."
        )
    level.add_argument(
        "--local",
        dest="level",
        action="store_const",
        const="local",
        help="Use local config (.dvc/config.local).",
    )
    cmd.add_argument("-u", "--unset", action="store_true", help="Unset option.")
    cmd.add_argument(
        "value",
        nargs="?",
        help="Path to cache directory. Relative paths are resolved relative to the current "
        "directory and saved to config relative to the config file location. If no path "
        "is provided, it returns the current cache directory.",
    )
    cmd.set_defaults(run=run_dir, level=None)


def run_dir(args: argparse.Namespace) -> int:
    """Print the cache directory, or set/unset it."""
    from labrun import api

    found = api.cache_dir(None, args.value, unset=args.unset, level=args.level)
    if found is not None:
        print(found)
    return 0
