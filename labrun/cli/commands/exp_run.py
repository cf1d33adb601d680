"""`labrun exp run [targets] [repro options] [-S ...] [-n NAME] [--temp | --queue | --run-all]`."""

from __future__ import annotations

from labrun.cli.argspec import COMMON, Option, add_options, flag, parse_options
from labrun.cli.commands.repro import REPRO_OPTIONS, ask, options_from
from labrun.cli.console import ConsoleReporter

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

    from labrun import api

# DVC 3's options, the seed's `--params`, and the queue's, after the repro ones.
RUN_OPTIONS = (
    *REPRO_OPTIONS,
    Option(("targets",), "positional", "Stages or dvc files to reproduce (default: ./dvc.yaml)."),
    Option(
        ("-n", "--name"), "value", "Name of the experiment (random if not given).", metavar="NAME"
    ),
    Option(
        ("-S", "--set-param"),
        "append",
        "Change a parameter (Hydra override: k=v, +k=v, ++k=v, ~k; sweeps with --queue).",
        metavar="[FILE:]OVERRIDE",
    ),
    Option(
        ("--params",),
        "append",
        "Change parameters, as a comma-separated list (the original `exp run` syntax).",
        metavar="[FILE:]K1=V1,K2=V2",
    ),
    Option(("-m", "-M", "--message"), "value", "Commit message of the experiment.", metavar="TEXT"),
    Option(("--temp",), "flag", "Run in a temporary copy; the workspace stays as is."),
    Option(
        ("-C", "--copy-paths"),
        "append",
        "Untracked or ignored file/directory to copy into a --temp/--queue run.",
        metavar="PATH",
    ),
    Option(("--queue",), "flag", "Queue the experiment instead of running it."),
    Option(("--run-all",), "flag", "Run every queued experiment."),
    Option(("-j", "--jobs"), "int", "Experiments at once (--run-all).", default=1, metavar="N"),
    Option(("--priority",), "int", "Queue priority (higher first).", default=0, metavar="P"),
    Option(
        ("--gpus",),
        "value",
        "With --queue: devices the experiment needs (a count). With --run-all: the "
        "devices to share out ('0,1' or a count; default: detected).",
        metavar="N|LIST",
    ),
    Option(("--sample",), "int", "With --queue: N random points of the sweep.", metavar="N"),
    Option(("--seed",), "int", "Random seed of --sample.", metavar="S"),
    Option(
        ("-r", "--rev"),
        "value",
        "Continue a checkpoint experiment from this checkpoint (name, ref or commit).",
        metavar="COMMIT",
    ),
    Option(
        ("--reset",),
        "flag",
        "Start checkpoint experiments over instead of continuing the last one.",
    ),
    Option(("--no-commit",), "flag", "Accepted; experiments always commit outputs."),
    Option(("--no-run-cache",), "flag", "Do not restore stages from the run-cache."),
    Option(("--glob",), "flag", "Targets are [file:]patterns."),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `exp run` (DVC 3's, the seed's `--params`, and the queue's)."""
    add_options(parser, RUN_OPTIONS)
    parser.set_defaults(on_error="fail", run=run)


def parse_fast(tokens: Sequence[str]) -> dict[str, Any] | None:
    """`exp run`'s own arguments parsed without argparse (None: let argparse parse them).

    -q/-v/--cd are accepted here too (`labrun exp` registers them on every sub-command).
    """
    values = parse_options(tokens, COMMON + RUN_OPTIONS)
    if values is not None:
        values["run"] = run
    return values


def run(args: argparse.Namespace) -> int:
    """Run (or queue) the experiment and print DVC's messages; `-q`: exit 1 on failure."""
    from labrun import api
    from labrun.errors import LabrunError

    quiet = flag(args, "quiet")
    if args.run_all:
        from labrun.cli.commands.queue import devices_from

        return run_all_foreground(args.jobs, devices_from(args), quiet=quiet)
    if args.queue:
        return _queue(args, quiet)
    try:
        result = api.exp_run(None, _options(args), ExpReporter(quiet=quiet), ask)
    except LabrunError:
        if quiet:  # the original `exp run -q` contract: 0 when every stage ran or was
            return 1  # up to date, 1 otherwise (a failed stage, a bad override...)
        raise
    if not quiet:
        _print_done(result, args.temp)
    return 0


def _queue(args: argparse.Namespace, quiet: bool) -> int:
    from labrun import api

    gpus = args.gpus or "0"
    if not gpus.isdigit():
        from labrun.errors import ArgumentError

        raise ArgumentError("--gpus with --queue is the number of devices the experiment needs")
    qopts = api.QueueOptions(args.priority, int(gpus), args.sample, args.seed)
    api.exp_queue(None, _options(args), qopts, ExpReporter(quiet=quiet))
    return 0


def _options(args: argparse.Namespace) -> api.ExpRunOptions:
    from labrun import api

    repro = options_from(args, stage_jobs=False)  # reads --no-run-cache and --glob too
    assert isinstance(repro, api.ReproOptions)
    return api.ExpRunOptions(
        repro=repro,
        name=args.name,
        message=args.message,
        set_params=tuple(args.set_param),
        legacy_params=tuple(args.params),
        temp=args.temp,
        copy_paths=tuple(args.copy_paths),
        rev=args.rev,
        reset=args.reset,
    )


def _print_done(result: api.ExpResult, temp: bool) -> None:
    print(f"\nRan experiment(s): {result.name}")
    if temp:
        print(
            "To apply the results of an experiment to your workspace run:\n\n"
            f"\tlabrun exp apply {result.name}"
        )
    else:
        print("Experiment results have been applied to your workspace.")


class ExpReporter(ConsoleReporter):
    """The console reporter plus experiment events.

    Events are told apart by class name: importing their modules (the queue's,
    say) only to compare classes would cost every `exp run` start-up time.
    """

    def emit(self, event: api.events.Event) -> None:
        """Print `Reproducing experiment 'x'` first, then the repro messages."""
        text = _EXP_TEXT.get(type(event).__name__)
        if text is None:
            super().emit(event)
        elif not self.quiet:
            print(text(event), file=self.out, flush=True)


def _queued(event: Any) -> str:
    lines = [f"Queued experiment '{event.name}' for future execution."]
    if event.overrides:
        lines.insert(0, f"Queueing with overrides '{event.overrides}'.")
    return "\n".join(lines)


_EXP_TEXT: dict[str, Callable[[Any], str]] = {
    "ExperimentStarted": lambda e: f"Reproducing experiment '{e.name}'",
    "Notice": lambda e: str(e.message),
    "CheckpointRecorded": lambda e: f"Checkpoint experiment iteration '{e.rev[:7]}'.",
    "Queued": _queued,
}


def add_resume(parser: argparse.ArgumentParser) -> None:
    """`exp resume` / `exp res` (the original names): `exp run` from the last checkpoint."""
    add_arguments(parser)
    parser.set_defaults(run=run_resume)


def run_resume(args: argparse.Namespace) -> int:
    """Resume ``--rev`` or the last checkpoint of this workspace."""
    from labrun import api
    from labrun.errors import LabrunError

    if args.rev is None:
        args.rev = api.last_checkpoint(None)
        if args.rev is None:
            raise LabrunError(
                "No checkpoint experiment to resume in this workspace.",
                hint="run a checkpoint experiment with `labrun exp run` first, or pass -r REV",
            )
    return run(args)


def run_all_foreground(
    jobs: int, devices: tuple[str, ...], *, quiet: bool = False, max_entries: int = 0
) -> int:
    """`exp run --run-all -j N`: workers in the foreground, one progress line per experiment.

    Returns when the queue is empty (or, with ``max_entries``, after that many).
    Exit code 0 even if some failed (as DVC 3); with `-q`, 1 when any failed.
    """
    from labrun import api
    from labrun.cli.progress import QueueProgress

    known = {e.id: e.state for e in api.queue_status(None)}
    sup = api.queue_start(None, jobs, devices, detach=False, max_entries=max_entries)
    progress = QueueProgress(quiet=quiet, seen=known)
    while True:
        done = sup.wait(timeout=0.25)
        entries = api.queue_status(None)
        live = any(e.state in ("queued", "running") for e in entries)
        if done and (max_entries or not live or not _other_workers()):
            break
        progress.update(entries)
    progress.finish(entries)  # the workers are gone: this snapshot is the last word
    return 1 if quiet and progress.failed else 0


def _other_workers() -> bool:
    from labrun import api

    return sum(api.queue_workers(None)) > 0
