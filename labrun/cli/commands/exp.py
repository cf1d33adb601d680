"""`labrun exp <command>`: the experiment commands, dispatched lazily like the top level.

Each entry names the module under ``labrun.cli.commands`` that implements the
sub-command (``add_arguments(parser)`` and ``run(args) -> int``); only the
chosen one is imported. Aliases map to the same module.
"""

from __future__ import annotations

import argparse

from labrun.cli.parser import Parser, add_common

# name → (module, help, aliases). "module:verb" means the module's ``add_<verb>(parser)``
# registers the options (several small commands share one module).
EXP_COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "run": ("exp_run", "Run an experiment (or queue it).", ()),
    "resume": ("exp_run:resume", "Continue a checkpoint experiment.", ("res",)),
    "apply": ("exp_manage:apply", "Apply an experiment's changes to the workspace.", ("checkout",)),
    "branch": ("exp_manage:branch", "Promote an experiment to a Git branch.", ()),
    "list": ("exp_manage:list", "List experiments.", ("ls",)),
    "remove": ("exp_manage:remove", "Remove experiments.", ("rm",)),
    "rename": ("exp_manage:rename", "Rename an experiment.", ()),
    "save": ("exp_manage:save", "Save the workspace as an experiment without running.", ()),
    "clean": ("exp_manage:clean", "Remove leftovers of interrupted experiment runs.", ()),
    "show": ("exp_show", "Print experiments.", ()),
    "diff": ("exp_diff", "Show changes between experiments.", ()),
    "push": ("exp_remote:push", "Push experiments to a Git remote.", ()),
    "pull": ("exp_remote:pull", "Pull experiments from a Git remote.", ()),
}
_NAMES = frozenset(EXP_COMMANDS) | {a for _, _, aliases in EXP_COMMANDS.values() for a in aliases}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the experiment sub-commands; only the one being run is built fully."""
    from importlib import import_module

    from labrun.cli import parser as parser_module

    sub = parser.add_subparsers(title="exp commands", metavar="COMMAND", parser_class=Parser)
    chosen = parser_module.subcommand_name(parser_module.ARGV, "exp", _NAMES)
    for name, (module, help_text, aliases) in EXP_COMMANDS.items():
        if chosen is not None and chosen != name and chosen not in aliases:
            continue  # as at the top level: only the command being run gets a parser
        cmd = sub.add_parser(name, help=help_text, description=help_text, aliases=list(aliases))
        add_common(cmd)
        module_name, _, verb = module.partition(":")
        loaded = import_module(f"labrun.cli.commands.{module_name}")
        getattr(loaded, f"add_{verb}" if verb else "add_arguments")(cmd)
