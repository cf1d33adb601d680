"""`labrun repro [targets] [options]`: DVC's options, plus `-j N` for parallel stages."""

from __future__ import annotations

import argparse
import sys

from labrun.cli.parser import flag


class _OnError(argparse.Action):
    """-k and --ignore-errors share one setting; the last one given wins (as in DVC)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        namespace.on_error = self.const


def add_repro_options(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    """Options shared by `repro` and `exp run` (whose -j means experiments, not stages)."""
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="Run every stage even if nothing changed.")
    add("-i", "--interactive", action="store_true", help="Ask before running each stage.")
    add("-s", "--single-item", action="store_true", help="Only the targets, no upstream.")
    add("-p", "--pipeline", action="store_true", help="Whole pipelines containing the targets.")
    add("-P", "--all-pipelines", action="store_true", help="Every pipeline of the project.")
    add("-R", "--recursive", action="store_true", help="Every stage in the target directories.")
    add("--downstream", action="store_true", help="The targets and the stages that use them.")
    add("--force-downstream", action="store_true", help="Force dependents of stages that ran.")
    add("--pull", action="store_true", help="Restore missing outputs, not re-run (no remotes yet).")
    add("--allow-missing", action="store_true", help="Missing data does not count as a change.")
    add("--dry", action="store_true", help="Print what would run; run and write nothing.")
    add(
        "-k",
        "--keep-going",
        nargs=0,
        action=_OnError,
        const="keep-going",
        dest="on_error",
        help="Continue with stages that do not depend on a failed one.",
    )
    add(
        "--ignore-errors",
        nargs=0,
        action=_OnError,
        const="ignore",
        dest="on_error",
        help="Continue with every remaining stage after a failure.",
    )
    if jobs:
        add(
            "-j",
            "--jobs",
            type=int,
            default=1,
            metavar="N",
            help="Run up to N independent stages at once (default 1, as DVC).",
        )
    parser.set_defaults(on_error="fail")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `repro`."""
    add_repro_options(parser)
    parser.add_argument("--glob", action="store_true", help="Targets are [file:]patterns.")
    parser.add_argument(
        "--no-commit", action="store_true", help="Do not store outputs in the cache."
    )
    parser.add_argument(
        "--no-run-cache", action="store_true", help="Do not restore from the run-cache."
    )
    parser.add_argument("targets", nargs="*", help="Stages or dvc files (default: ./dvc.yaml).")
    parser.set_defaults(run=run)


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
