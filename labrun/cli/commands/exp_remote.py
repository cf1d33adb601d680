"""`labrun exp push|pull <git_remote> [<experiment>...]`: experiments to and from a Git remote.

Also the output shared with `exp list|remove|rename` given a Git remote. The
lines are DVC's, down to their missing spaces.
"""

from __future__ import annotations

import argparse
import sys

from labrun.cli.argspec import flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labrun import api


def _sync_options(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-A", "--all-commits", action="store_true", help=f"{verb} every experiment."
    )
    parser.add_argument(
        "--rev", action="append", default=[], metavar="COMMIT", help="Baselines (default HEAD)."
    )
    parser.add_argument(
        "-n", "--num", type=int, default=1, metavar="N", help="N first-parent commits per --rev."
    )
    parser.add_argument("-f", "--force", action="store_true", help="Overwrite diverged refs.")
    parser.add_argument(
        "--no-cache", action="store_false", dest="cache", help="Git refs only, no DVC data."
    )
    parser.add_argument(
        "-r",
        "--remote",
        dest="dvc_remote",
        metavar="NAME",
        help="DVC remote (default: core.remote).",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="Accepted (local copies use one thread)."
    )
    parser.add_argument(
        "--run-cache",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Also transfer the run-cache.",
    )
    parser.add_argument("git_remote", help="Git remote name, URL or path.")
    parser.add_argument("experiment", nargs="*", help="Experiments (default: HEAD's).")


def _options(args: argparse.Namespace) -> api.ExpSyncOptions:
    from labrun import api

    selection = api.ExpSelection(args.all_commits, tuple(args.rev), args.num)
    return api.ExpSyncOptions(
        selection, args.force, args.cache, args.dvc_remote, args.jobs, args.run_cache
    )


# --- push ---


def add_push(parser: argparse.ArgumentParser) -> None:
    """Options of `exp push`."""
    _sync_options(parser, "Push")
    parser.set_defaults(run=run_push)


def run_push(args: argparse.Namespace) -> int:
    """Push, then say what happened to each experiment and how many files went."""
    from labrun import api

    quiet = flag(args, "quiet")
    try:
        result = api.exp_push(None, args.git_remote, args.experiment, _options(args))
    except api.DataTransferError as exc:
        if not quiet:
            _print_push(exc.result, args.git_remote)
        raise
    if not quiet:
        _print_push(result, args.git_remote)
        if not args.cache:
            print(
                "To push cached outputs for this experiment to DVC remote storage,"
                "re-run this command without '--no-cache'."
            )
    return 0


def _print_push(result: api.ExpSyncResult, remote: str) -> None:
    from labrun.cli.render import join_words

    warn_data(result)
    if result.diverged:
        print(
            f"Local experiment {join_words(list(result.diverged))} has diverged from remote "
            "experiment with the same name.\nTo override the remote experiment re-run with "
            "'--force'.",
            file=sys.stderr,
        )
    if result.up_to_date:
        verb = "are" if len(result.up_to_date) > 1 else "is"
        names = join_words(list(result.up_to_date))
        print(f"Experiment {names} {verb} up to date on Git remote {remote!r}.")
    if result.success:
        print(f"Pushed experiment {join_words(list(result.success))} to Git remote {remote!r}.")
    if not result.up_to_date and not result.success:
        print("No experiments to push.")
    if result.data is not None and result.data.count:
        print(files_line(result.data.count, "uploaded"))


def files_line(count: int, state: str) -> str:
    """`1 file uploaded`, `3 files uploaded`.

    >>> files_line(3, "uploaded")
    '3 files uploaded'
    """
    return f"{count} file{'s' if count > 1 else ''} {state}"


def warn_data(result: api.ExpSyncResult) -> None:
    """DVC's warnings about commits it could not read and objects nobody has."""
    data = result.data
    if data is None:
        return
    for sha in data.skipped:
        print(f"WARNING: failed to collect '{sha}', skipping", file=sys.stderr)
    if data.missing:
        listed = "".join(f"\nmd5: {oid}" for oid, _legacy in data.missing)
        print(
            "WARNING: Some of the cache files do not exist neither locally nor on remote. "
            f"Missing cache files:{listed}",
            file=sys.stderr,
        )


# --- pull ---


def add_pull(parser: argparse.ArgumentParser) -> None:
    """Options of `exp pull`."""
    _sync_options(parser, "Pull")
    parser.set_defaults(run=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    """Pull, then name the experiments that came (as a Python list, as DVC prints it)."""
    from labrun import api

    quiet = flag(args, "quiet")
    try:
        result = api.exp_pull(None, args.git_remote, args.experiment, _options(args))
    except api.DataTransferError as exc:
        if not quiet:
            _warn_diverged_local(exc.result)
        raise
    if quiet:
        return 0
    _warn_diverged_local(result)
    warn_data(result)
    if result.success:
        print(f"Pulled experiment '{list(result.success)}' from Git remote '{args.git_remote}'.")
    else:
        print("No experiments to pull.")
    if not args.cache:
        print(
            "To pull cached outputs for this experimentfrom DVC remote storage,"
            "re-run this command without '--no-cache'."
        )
    return 0


def _warn_diverged_local(result: api.ExpSyncResult) -> None:
    if result.diverged:
        print(
            f"Local experiment '{list(result.diverged)}' has diverged from remote experiment "
            "with the same name. To override the local experiment re-run with '--force'.",
            file=sys.stderr,
        )


# --- list, remove and rename given a remote (called from exp_manage) ---


def print_remote_list(args: argparse.Namespace, selection: api.ExpSelection) -> None:
    """`exp list <git_remote>`: names only, grouped under their baseline's label."""
    from labrun import api
    from labrun.errors import LabrunError

    if args.sha_only:
        raise LabrunError("--sha-only not supported with git_remote.")
    grouped = api.exp_list_remote(None, args.git_remote, selection)
    labels = {} if args.name_only else api.exp_labels(None, list(grouped))
    for baseline, names in grouped.items():
        if not args.name_only:
            print(f"{labels.get(baseline) or baseline[:7]}:")
        for name in names:
            print(name if args.name_only else f"\t{name}")
