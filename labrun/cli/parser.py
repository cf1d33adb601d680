"""argparse pieces shared by every command: the parser class and common options."""

from __future__ import annotations

import argparse
from collections.abc import Collection

from labrun.cli.argspec import COMMON, add_options
from labrun.errors import ArgumentError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import NoReturn


ARGV: list[str] = []  # the command line being parsed (set by `labrun.cli.main`)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become ArgumentError (exit 254) with usage."""

    def error(self, message: str) -> NoReturn:
        """Print usage to stderr and raise; the CLI's error handler prints the message."""
        self.print_usage()
        raise ArgumentError(message)


def add_common(parser: argparse.ArgumentParser) -> None:
    """-q/-v/--cd, accepted before and after the command name (as in DVC)."""
    add_options(parser, COMMON)


def command_name(argv: list[str], commands: dict[str, tuple[str, str]]) -> str | None:
    """The first argument naming a command (skipping global options and --cd's value)."""
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
        elif arg == "--cd":
            skip_next = True
        elif arg in commands:
            return arg
        elif not arg.startswith("-"):
            return None
    return None


def subcommand_name(argv: list[str], group: str, names: Collection[str]) -> str | None:
    """The first of *names* after the group command *group* (`exp`, `queue`) in *argv*.

    >>> subcommand_name(["-q", "exp", "show", "--json"], "exp", {"run", "show"})
    'show'
    """
    seen_group = False
    for arg in argv:
        if seen_group and arg in names:
            return arg
        if arg == group:
            seen_group = True
    return None
