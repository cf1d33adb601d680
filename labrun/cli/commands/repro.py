"""`labrun repro [targets] [options]`: DVC's options, plus `-j N` for parallel stages."""

from __future__ import annotations

import sys

from labrun.cli.argspec import ConstOption, Option, add_options, flag

TYPE_CHECKING = False  # argparse only for the type checker: `exp run` parses without it
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

# Options shared by `repro` and `exp run` (whose -j means experiments, not stages).
# -k and --ignore-errors share one setting; the last one given wins (as in DVC).
REPRO_OPTIONS = (
    Option(("-f", "--force"), "flag", "Run every stage even if nothing changed."),
    Option(("-i", "--interactive"), "flag", "Ask before running each stage."),
    Option(("-s", "--single-item"), "flag", "Only the targets, no upstream."),
    Option(("-p", "--pipeline"), "flag", "Whole pipelines containing the targets."),
    Option(("-P", "--all-pipelines"), "flag", "Every pipeline of the project."),
    Option(("-R", "--recursive"), "flag", "Every stage in the target directories."),
    Option(("--downstream",), "flag", "The targets and the stages that use them."),
    Option(("--force-downstream",), "flag", "Force dependents of stages that ran."),
    Option(("--pull",), "flag", "Restore missing outputs, not re-run (no remotes yet)."),
    Option(("--allow-missing",), "flag", "Missing data does not count as a change."),
    Option(("--dry",), "flag", "Print what would run; run and write nothing."),
    ConstOption(
        ("-k", "--keep-going"),
        "Continue with stages that do not depend on a failed one.",
        "on_error",
        "keep-going",
        "fail",
    ),
    ConstOption(
        ("--ignore-errors",),
        "Continue with every remaining stage after a failure.",
        "on_error",
        "ignore",
        "fail",
    ),
)
STAGE_JOBS = Option(
    ("-j", "--jobs"),
    "int",
    "Run up to N independent stages at once (default 1, as DVC).",
    default=1,
    metavar="N",
)


def add_repro_options(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    """Options shared by `repro` and `exp run` (whose -j means experiments, not stages)."""
    add_options(parser, REPRO_OPTIONS + ((STAGE_JOBS,) if jobs else ()))
    parser.set_defaults(on_error="fail")


# `repro`'s own options, beside the shared ones
REPRO_ONLY = (
    Option(("--glob",), "flag", "Targets are [file:]patterns."),
    Option(("--no-commit",), "flag", "Do not store outputs in the cache."),
    Option(("--no-run-cache",), "flag", "Do not restore from the run-cache."),
    Option(("targets",), "positional", "Stages or dvc files (default: ./dvc.yaml)."),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `repro`."""
    add_repro_options(parser)
    add_options(parser, REPRO_ONLY)
    parser.set_defaults(run=run)


def parse_fast(tokens: Sequence[str]) -> dict[str, Any] | None:
    """`repro`'s own arguments parsed without argparse (None: let argparse parse them)."""
    from labrun.cli.argspec import COMMON, parse_options

    values = parse_options(tokens, COMMON + REPRO_OPTIONS + (STAGE_JOBS,) + REPRO_ONLY)
    if values is not None:
        values["run"] = run
    return values


def options_from(args: argparse.Namespace, *, stage_jobs: bool = True) -> object:
    """A ReproOptions value from parsed arguments (``stage_jobs``: -j is for stages)."""
    from labrun import api
    from labrun.errors import ArgumentError

    jobs = args.jobs if stage_jobs else 1
    if jobs < 1:
        raise ArgumentError("-j/--jobs must be at least 1")
    pipeline = args.pipeline or args.all_pipelines
    return api.ReproOptions(
        targets=tuple(args.targets),
        force=args.force,
        single_item=args.single_item and not pipeline,
        pipeline=args.pipeline,
        all_pipelines=args.all_pipelines,
        recursive=args.recursive,
        downstream=args.downstream and not pipeline,
        glob=getattr(args, "glob", False),
        force_downstream=args.force_downstream,
        interactive=args.interactive,
        dry=args.dry,
        on_error=args.on_error,
        no_commit=getattr(args, "no_commit", False),
        no_run_cache=getattr(args, "no_run_cache", False),
        allow_missing=args.allow_missing,
        pull=args.pull,
        jobs=jobs,
    )


def ask(question: str) -> bool:
    """Ask on the terminal; "no" when stdin/stdout is not a terminal."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    while True:
        answer = input(f"{question} [y/n] ").strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False


def run(args: argparse.Namespace) -> int:
    """Reproduce and print DVC's messages."""
    from labrun import api
    from labrun.cli.console import ConsoleReporter
    from labrun.cli.dataprogress import DataProgressReporter

    opts = options_from(args)
    assert isinstance(opts, api.ReproOptions)
    quiet = flag(args, "quiet")
    api.repro(None, opts, DataProgressReporter(ConsoleReporter(quiet=quiet), quiet=quiet), ask)
    return 0
