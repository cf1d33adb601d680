"""The `labrun` command: parse, dispatch lazily, map errors to exit codes.

Start-up time is a feature: this module imports only the standard library's
`sys`/`os` at load time. The command table maps each command name to the
module that implements it; only that module (and what it imports) is loaded.
Each command module provides ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at start-up: it costs milliseconds
if TYPE_CHECKING:
    import argparse
    from typing import Any, NoReturn

# name → (module under labrun.cli.commands, one-line help). Sub-commands such as
# `stage list` are a group module that registers its own sub-parsers.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Initialize a labrun/DVC project in the current directory."),
    "dag": ("dag", "Visualize the pipeline as a graph of stages or outputs."),
    "stage": ("stage", "Commands to list and inspect stages."),
    "repro": ("repro", "Reproduce complete or partial pipelines by running their stages."),
    "status": ("status", "Show changed stages, compared with the last recorded run."),
    "add": ("add", "Track data files or directories with DVC."),
    "checkout": ("checkout", "Checkout data files from cache."),
    "commit": ("commit", "Record changes to tracked files or directories in the cache."),
    "gc": ("gc", "Garbage collect unused objects from cache."),
    "cache": ("cache", "Manage cache settings."),
    "exp": ("exp", "Run and manage experiments."),
    "metrics": ("metrics", "Commands to display and compare metrics."),
    "params": ("params", "Commands to display and compare params."),
    "queue": ("queue", "Manage the experiment queue and its workers."),
}


def main(argv: list[str] | None = None) -> int:
    """Run one labrun command and return its exit code (never raises).

    Run as the program (``argv`` None), a command read by the fast parser may end
    the process itself once it is done (see `_end_process`).
    """
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] in (["--version"], ["-V"]):
        from labrun._version import __version__

        print(__version__)
        return 0
    verbose = "-v" in args_list or "--verbose" in args_list
    try:
        return _dispatch(args_list, program=argv is None)
    except KeyboardInterrupt:
        _print_error("interrupted by the user")
        return 252
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Exception as exc:  # the one place that turns errors into exit codes
        return _report(exc, verbose)


# (command, sub-command) → module under labrun.cli.commands whose ``parse_fast(arguments)``
# reads that sub-command's own arguments without argparse (see labrun.cli.argspec)
FAST: dict[tuple[str, str], str] = {("exp", "run"): "exp_run"}
# top-level commands read the same way (their module's ``parse_fast(arguments)``)
FAST_TOP: dict[str, str] = {"repro": "repro"}


def _dispatch(argv: list[str], *, program: bool = False) -> int:
    args = _parse_fast(argv)
    fast = args is not None
    if args is None:
        args = _build_parser(argv).parse_args(argv)
    if getattr(args, "cd", None):
        _chdir(args.cd)
    run = getattr(args, "run", None)
    if run is None:
        _build_parser(argv).print_help()
        return 0
    result: int = run(args)
    if program and fast:
        _end_process(result)
    return result


def _end_process(code: int) -> None:
    """End the process now, with ``code``, when Python's shutdown has nothing left to do.

    Shutting the interpreter down frees every module and object one at a time:
    after an `exp run` that is a tenth of the command's instructions. It is
    skipped only when no other thread runs, no exit handler is registered and
    tempfile (whose objects delete their files when collected) was never
    imported. labrun's own files are written and closed (atomic_write, the hash
    memo) before a command returns; the standard streams are flushed here.
    """
    import atexit
    from _thread import _count as threads_running  # `threading` costs start-up time

    pending = getattr(atexit, "_ncallbacks", None)  # CPython's count of exit handlers
    if pending is None or pending() or threads_running():
        return
    if "tempfile" in sys.modules:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _parse_fast(argv: list[str]) -> Any:
    """The parsed arguments of a FAST sub-command, or None: argparse parses the line.

    The options of each level (`labrun -q exp --cd d run -f`) go to one namespace,
    the deeper level winning, as with argparse's sub-parsers.
    """
    from labrun.cli.argspec import COMMON, parse_options, split_command

    top = split_command(argv, COMMON)
    if top is not None and top[1] in FAST_TOP:
        return _parse_fast_top(top, FAST_TOP[top[1]])
    group = split_command(top[2], COMMON) if top is not None else None
    if top is None or group is None or (top[1], group[1]) not in FAST:
        return None
    from labrun import load_module

    module = load_module(f"labrun.cli.commands.{FAST[top[1], group[1]]}")
    levels = [parse_options(top[0], COMMON), parse_options(group[0], COMMON)]
    levels.append(module.parse_fast(group[2]))
    if any(level is None for level in levels):
        return None
    from types import SimpleNamespace

    return SimpleNamespace(**{k: v for level in levels if level for k, v in level.items()})


def _parse_fast_top(top: Any, module_name: str) -> Any:
    """:func:`_parse_fast` for a command without sub-commands (`labrun -q repro -f`)."""
    from types import SimpleNamespace

    from labrun import load_module
    from labrun.cli.argspec import COMMON, parse_options

    module = load_module(f"labrun.cli.commands.{module_name}")
    levels = [parse_options(top[0], COMMON), module.parse_fast(top[2])]
    if any(level is None for level in levels):
        return None
    return SimpleNamespace(**{k: v for level in levels if level for k, v in level.items()})


def _chdir(path: str) -> None:
    from labrun.errors import ArgumentError

    try:
        os.chdir(path)
    except OSError as exc:
        raise ArgumentError(f"--cd: cannot change directory to '{path}': {exc.strerror}") from None


def _build_parser(argv: list[str]) -> argparse.ArgumentParser:
    from labrun import load_module
    from labrun.cli import parser as parser_module
    from labrun.cli.parser import Parser, add_common, command_name

    parser_module.ARGV = argv  # group commands (`exp`) build only the chosen sub-command too
    parser = Parser(
        prog="labrun",
        description="labrun: fast, crash-safe pipelines and experiments for DVC projects.",
    )
    parser.add_argument("-V", "--version", action="version", version=_version())
    add_common(parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    chosen = command_name(argv, COMMANDS)
    for name, (module, help_text) in COMMANDS.items():
        if chosen is not None and name != chosen:
            continue  # only the command being run gets a parser: each costs start-up time
        if name != chosen:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        cmd_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_common(cmd_parser)
        load_module(f"labrun.cli.commands.{module}").add_arguments(cmd_parser)
    return parser


def _version() -> str:
    from labrun._version import __version__

    return __version__


def _report(exc: Exception, verbose: bool) -> int:
    from labrun.errors import LabrunError

    if isinstance(exc, LabrunError):
        text = exc.message if exc.plain else f"ERROR: {exc.message}"
        if exc.hint:
            text += f"\nhint: {exc.hint}"
        _print_error(text, raw=True)
        if verbose:
            _print_traceback()
        return exc.exit_code
    _print_error(f"unexpected error - {exc}")
    if verbose:
        _print_traceback()
    else:
        print("Having any troubles? Run with -v to see the full traceback.", file=sys.stderr)
    return 255


def _print_traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)


def _print_error(text: str, raw: bool = False) -> None:
    if "-q" in sys.argv[1:] or "--quiet" in sys.argv[1:]:
        return
    print(text if raw else f"ERROR: {text}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def fail(message: str) -> NoReturn:
    """Raise an ArgumentError (exit 254) from a command's argument checks."""
    from labrun.errors import ArgumentError

    raise ArgumentError(message)
