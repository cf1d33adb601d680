"""`labrun exp apply|branch|list|remove|rename|save|clean`: small commands over experiment refs."""

from __future__ import annotations

import argparse

from labrun.cli.argspec import flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labrun import api


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-A", "--all-commits", action="store_true", help="Every baseline.")
    parser.add_argument(
        "--rev", action="append", default=[], metavar="COMMIT", help="Baselines (repeatable)."
    )
    parser.add_argument(
        "-n", "--num", type=int, default=1, metavar="N", help="N first-parent commits per --rev."
    )


def _selected(args: argparse.Namespace) -> api.ExpSelection:
    from labrun import api

    return api.ExpSelection(args.all_commits, tuple(args.rev), args.num)


# --- apply (alias: checkout) ---


def add_apply(parser: argparse.ArgumentParser) -> None:
    """Options of `exp apply`."""
    parser.add_argument("experiment", help="Experiment name, ref or commit.")
    parser.add_argument("--no-force", action="store_true", help="Deprecated; same as default.")
    parser.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run_apply)


def run_apply(args: argparse.Namespace) -> int:
    """Apply and say so."""
    from labrun import api
    from labrun.cli.console import ConsoleReporter

    if args.no_force:
        print("WARNING: --no-force is deprecated: the experiment's files always win.")
    api.exp_apply(None, args.experiment, ConsoleReporter(quiet=True))
    if not flag(args, "quiet"):
        print(
            f"Changes for experiment '{args.experiment}' have been applied to your current "
            "workspace."
        )
    return 0


# --- branch ---


def add_branch(parser: argparse.ArgumentParser) -> None:
    """Options of `exp branch`."""
    parser.add_argument("experiment", help="Experiment to promote.")
    parser.add_argument("branch", nargs="?", help="Branch name (default: <name>-branch).")
    parser.set_defaults(run=run_branch)


def run_branch(args: argparse.Namespace) -> int:
    """Create the branch and tell how to switch to it."""
    from labrun import api

    branch = api.exp_branch(None, args.experiment, args.branch)
    if not flag(args, "quiet"):
        print(
            f"Git branch '{branch}' has been created from experiment '{args.experiment}'.\n"
            f"To switch to the new branch run:\n\n\tgit checkout {branch}"
        )
    return 0


# --- list (alias: ls) ---


def add_list(parser: argparse.ArgumentParser) -> None:
    """Options of `exp list`."""
    _selection(parser)
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--name-only", "--names-only", action="store_true", help="Names only.")
    shown.add_argument("--sha-only", "--shas-only", action="store_true", help="SHAs only.")
    parser.add_argument(
        "git_remote", nargs="?", help="List the experiments on this Git remote (name or URL)."
    )
    parser.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Experiments grouped under their baseline's label."""
    from labrun import api

    if args.git_remote:
        from labrun.cli.commands.exp_remote import print_remote_list

        print_remote_list(args, _selected(args))
        return 0
    grouped = api.exp_list(None, _selected(args))
    labels = {} if args.name_only or args.sha_only else _describe(list(grouped))
    for baseline, items in grouped.items():
        if not (args.name_only or args.sha_only):
            print(f"{labels.get(baseline) or baseline[:7]}:")
        for name, sha in items:
            if args.name_only:
                print(name)
            elif args.sha_only:
                print(sha)
            else:
                print(f"\t{sha[:7]} [{name}]")
    return 0


def _describe(shas: list[str]) -> dict[str, str]:
    from labrun import api

    return api.exp_labels(None, shas)


# --- remove (alias: rm) ---


def add_remove(parser: argparse.ArgumentParser) -> None:
    """Options of `exp remove`."""
    parser.add_argument("experiment", nargs="*", help="Experiments to remove.")
    _selection(parser)
    parser.add_argument("--keep", action="store_true", help="Remove all but the selected ones.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--queue", action="store_true", help="Remove every queued experiment.")
    where.add_argument("-g", "--git-remote", help="Remove them on this Git remote (name or URL).")
    parser.set_defaults(run=run_remove)


def run_remove(args: argparse.Namespace) -> int:
    """Remove and list what went."""
    from labrun import api
    from labrun.errors import LabrunError

    selected = args.all_commits or args.rev or args.queue
    if bool(args.experiment) == bool(selected):
        raise LabrunError(
            "Either provide an experiment argument, or use the --rev or --all-commits or "
            "--queue flag."
        )
    if args.keep and args.queue:
        raise LabrunError("Cannot use both `--keep` and `--queue`.")
    selection = _selected(args) if (args.all_commits or args.rev) else None
    removed: list[str] = []
    if args.git_remote:
        removed = api.exp_remove_remote(
            None, args.git_remote, args.experiment, selection=selection, keep=args.keep
        )
    elif args.experiment or selection is not None:
        removed += api.exp_remove(None, args.experiment, selection=selection, keep=args.keep)
    removed += _remove_queued(args)
    if flag(args, "quiet"):
        return 0
    if removed:
        from labrun.cli.render import join_words as join_names

        print(f"Removed experiments: {join_names([repr(n) for n in removed])}")
    else:
        print("No experiments to remove.")
    return 0


def _remove_queued(args: argparse.Namespace) -> list[str]:
    if not args.queue:
        return []
    from labrun import api

    return [e.name for e in api.queue_remove(None, queued=True)]


# --- rename ---


def add_rename(parser: argparse.ArgumentParser) -> None:
    """Options of `exp rename`."""
    parser.add_argument("experiment", help="Experiment to rename.")
    parser.add_argument("name", help="New name.")
    parser.add_argument("-f", "--force", action="store_true", help="Replace an existing one.")
    parser.add_argument("-g", "--git-remote", help="Rename it on this Git remote (name or URL).")
    parser.set_defaults(run=run_rename)


def run_rename(args: argparse.Namespace) -> int:
    """Rename and say so."""
    from labrun import api
    from labrun.cli.render import join_words as join_names

    if args.git_remote:
        renamed = api.exp_rename_remote(
            None, args.git_remote, args.experiment, args.name, force=args.force
        )
    else:
        renamed = api.exp_rename(None, args.experiment, args.name, force=args.force)
    if not flag(args, "quiet"):
        if renamed:
            print(f"Renamed experiments: {join_names([repr(n) for n in renamed])}")
        else:
            print("No experiments to rename.")
    return 0


# --- save ---


def add_save(parser: argparse.ArgumentParser) -> None:
    """Options of `exp save`."""
    parser.add_argument("targets", nargs="*", help="Stages or .dvc files to commit first.")
    parser.add_argument("-R", "--recursive", action="store_true", help="Recurse into dirs.")
    parser.add_argument("-n", "--name", help="Experiment name (random if not given).")
    parser.add_argument("-f", "--force", action="store_true", help="Replace an existing one.")
    parser.add_argument(
        "-I",
        "--include-untracked",
        action="append",
        default=[],
        metavar="PATH",
        help="Also commit this untracked (or ignored) path.",
    )
    parser.add_argument("-m", "-M", "--message", help="Commit message.")
    parser.add_argument("--json", action="store_true", help='Print {"ref": <sha>}.')
    parser.set_defaults(run=run_save)


def run_save(args: argparse.Namespace) -> int:
    """Save and print the name."""
    from labrun import api

    options = api.ExpSaveOptions(
        targets=tuple(args.targets),
        recursive=args.recursive,
        name=args.name,
        force=args.force,
        include_untracked=tuple(args.include_untracked),
        message=args.message,
    )
    from labrun.cli.console import ConsoleReporter

    quiet = flag(args, "quiet") or args.json
    name, sha = api.exp_save(None, options, ConsoleReporter(quiet=quiet))
    if args.json:
        import json

        print(json.dumps({"ref": sha}))
    elif not flag(args, "quiet"):
        print(f"Experiment has been saved as: {name}")
    return 0


# --- clean ---


def add_clean(parser: argparse.ArgumentParser) -> None:
    """Options of `exp clean`."""
    parser.set_defaults(run=run_clean)


def run_clean(args: argparse.Namespace) -> int:
    """Remove leftovers of interrupted runs."""
    from labrun import api

    quiet = flag(args, "quiet")
    if not quiet:
        print("Cleaning up experiment leftovers...")
    api.exp_clean(None)
    if not quiet:
        print("Done!")
    return 0
