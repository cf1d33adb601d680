"""`labrun queue start|stop|status|logs|remove|kill|run|retry|priority`."""

from __future__ import annotations

import argparse

from labrun.cli.argspec import flag
from labrun.cli.parser import Parser, add_common

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from labrun import api

_VERBS = ("start", "stop", "status", "logs", "remove", "kill", "run", "retry", "priority")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of `queue`; only the one being run is built fully (start-up time)."""
    from labrun.cli import parser as parser_module

    sub = parser.add_subparsers(title="queue commands", metavar="COMMAND", parser_class=Parser)
    chosen = parser_module.subcommand_name(parser_module.ARGV, "queue", _VERBS)
    for verb in _VERBS:
        if chosen is not None and verb != chosen:
            sub.add_parser(verb, help=_HELP[verb], add_help=False)
            continue
        cmd = sub.add_parser(verb, help=_HELP[verb], description=_HELP[verb])
        add_common(cmd)
        globals()[f"_add_{verb}"](cmd)


_HELP = {
    "start": "Start workers that run queued experiments in the background.",
    "stop": "Stop the workers after their current experiment (--kill: at once).",
    "status": "Show queued, running, succeeded and failed experiments.",
    "logs": "Show the output of a queued experiment (-f: follow it).",
    "remove": "Remove queue entries.",
    "kill": "Kill running experiments (their whole process group).",
    "run": "Run one chosen queued experiment now, in the foreground.",
    "retry": "Queue failed experiments again.",
    "priority": "Change the priority of a queued experiment (higher runs first).",
}


def add_devices(parser: argparse.ArgumentParser) -> None:
    """--gpus: the device list (or a count) whose slots the experiments share."""
    parser.add_argument(
        "--gpus",
        metavar="LIST|N",
        help="Devices to share out, e.g. '0,1,3' or a count; default: CUDA_VISIBLE_DEVICES, "
        "else the GPUs nvidia-smi lists, else none.",
    )


def devices_from(args: argparse.Namespace) -> tuple[str, ...]:
    """The device pool from --gpus (a count N means 0..N-1), else detected."""
    from labrun import api

    return api.queue_devices(getattr(args, "gpus", None))


def _add_start(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="Workers (default 1).")
    add_devices(p)
    p.set_defaults(run=_start)


def _start(args: argparse.Namespace) -> int:
    from labrun import api

    sup = api.queue_start(None, args.jobs, devices_from(args), detach=True)
    started = len(sup.processes)
    if not flag(args, "quiet"):
        noun = "worker" if started == 1 else "workers"
        print(f"Started '{started}' new experiments task queue {noun}.")
    return 0


def _add_stop(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kill", action="store_true", help="Kill running experiments too.")
    p.set_defaults(run=_stop)


def _stop(args: argparse.Namespace) -> int:
    from labrun import api

    count = api.queue_stop(None, kill=args.kill)
    if not flag(args, "quiet"):
        print(
            "Queue workers will stop after running tasks finish."
            if not args.kill
            else "Queue workers and running experiments are being killed."
        )
        if count == 0:
            print("No workers are running.")
    return 0


def _add_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="Print the entries as JSON.")
    p.set_defaults(run=_status)


def _status(args: argparse.Namespace) -> int:
    from labrun import api
    from labrun.cli import render

    entries = api.queue_status(None)
    if args.json:
        print(render.to_json([_as_json(e) for e in entries]))
        return 0
    rows: list[tuple[str, ...]] = [
        ("Task", "Name", "Created", "Status", "Duration", "Devices", "Params")
    ]
    rows += [_row(e) for e in entries]
    if len(rows) > 1:
        print(render.table(rows))
    else:
        print("No experiments in task queue for now.")
    active, idle = api.queue_workers(None)
    print(f"\nWorker status: {active} active, {idle} idle")
    return 0


_STATUS = {
    "queued": "Queued",
    "running": "Running",
    "succeeded": "Success",
    "failed": "Failed",
    "cancelled": "Failed",
}


def _row(entry: api.QueueEntry) -> tuple[str, ...]:
    return (
        entry.id[:7],
        entry.name,
        _clock(entry.created),
        _STATUS.get(entry.state, entry.state),
        _duration(entry),
        ",".join(entry.devices) or "-",
        " ".join(entry.spec.get("overrides") or ()) or "-",
    )


def _clock(stamp: float) -> str:
    import time

    return time.strftime("%I:%M %p", time.localtime(stamp))


def _duration(entry: api.QueueEntry) -> str:
    import time

    if entry.started is None:
        return "-"
    seconds = (entry.finished or time.time()) - entry.started
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}:{sec:02d}" if minutes else f"{seconds:.1f}s"


def _as_json(entry: api.QueueEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "status": _STATUS.get(entry.state, entry.state),
        "state": entry.state,
        "baseline": entry.baseline,
        "created": entry.created,
        "started": entry.started,
        "finished": entry.finished,
        "devices": list(entry.devices),
        "priority": entry.priority,
        "attempts": entry.attempts,
        "params": list(entry.spec.get("overrides") or ()),
        "result": entry.result,
    }


def _add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", nargs="?", help="Entry name or id (default with -f: every running one).")
    p.add_argument("-f", "--follow", action="store_true", help="Follow the output as it grows.")
    p.add_argument("-e", "--encoding", default="utf-8", help="Text encoding of the log.")
    p.set_defaults(run=_logs)


def _logs(args: argparse.Namespace) -> int:
    import sys

    from labrun import api
    from labrun.errors import ArgumentError

    if args.task is None:
        if not args.follow:
            raise ArgumentError("queue logs needs a task name or id (or -f to follow all)")
        return _follow_all(args.encoding)
    entry, path = api.queue_entry(None, args.task)
    if not args.follow:
        try:
            with open(path, encoding=args.encoding, errors="replace") as stream:
                sys.stdout.write(stream.read())
        except FileNotFoundError:
            print(f"No output yet for '{entry.name}' ({entry.state}).")
        return 0
    return _follow(entry.id, path, args.encoding, prefix="")


def _follow(entry_id: str, path: str, encoding: str, prefix: str) -> int:
    import sys

    from labrun import api

    def over() -> bool:
        entry = next((e for e in api.queue_status(None) if e.id == entry_id), None)
        return entry is None or entry.is_final

    for line in api.queue_follow(path, over, encoding):
        sys.stdout.write(prefix + line)
        sys.stdout.flush()
    return 0


def _follow_all(encoding: str) -> int:
    import threading

    from labrun import api

    threads = []
    for entry in api.queue_status(None):
        if entry.state == "running":
            _, path = api.queue_entry(None, entry.id)
            t = threading.Thread(
                target=_follow, args=(entry.id, path, encoding, f"[{entry.name}] "), daemon=True
            )
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    return 0


def _add_remove(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", nargs="*", help="Entries to remove (name or id).")
    p.add_argument("--all", action="store_true", help="Every entry that is not running.")
    p.add_argument("--queued", action="store_true", help="Every queued entry.")
    p.add_argument("--failed", action="store_true", help="Every failed entry.")
    p.add_argument("--success", action="store_true", help="Every succeeded entry.")
    p.set_defaults(run=_remove)


def _remove(args: argparse.Namespace) -> int:
    from labrun import api
    from labrun.cli.render import join_words as join_names

    everything = args.all
    removed = api.queue_remove(
        None,
        args.task,
        queued=args.queued or everything,
        failed=args.failed or everything,
        success=args.success or everything,
    )
    if not flag(args, "quiet"):
        if removed:
            print(f"Removed tasks in queue: {join_names([repr(e.name) for e in removed])}")
        else:
            print("No tasks to remove.")
    return 0


def _add_kill(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", nargs="+", help="Running entries to kill.")
    p.add_argument("-f", "--force", action="store_true", help="SIGKILL at once (no SIGINT).")
    p.set_defaults(run=_kill)


def _kill(args: argparse.Namespace) -> int:
    from labrun import api
    from labrun.errors import LabrunError

    killed = api.queue_kill(None, args.task, force=args.force)
    names = {e.name for e in killed}
    missed = [
        t for t in args.task if t not in names and not any(e.id.startswith(t) for e in killed)
    ]
    if missed:
        raise LabrunError(f"Task(s) {', '.join(missed)} are not running.")
    return 0


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="The queued entry to run now.")
    p.set_defaults(run=_run_one)


def _run_one(args: argparse.Namespace) -> int:
    """Run one entry in the foreground: raise it above the rest and run one worker for it."""
    from labrun import api
    from labrun.cli.commands.exp_run import run_all_foreground

    entry, _path = api.queue_entry(None, args.task)
    top = max((e.priority for e in api.queue_status(None)), default=0)
    api.queue_priority(None, entry.id, top + 1)
    return run_all_foreground(1, (), quiet=flag(args, "quiet"), max_entries=1)


def _add_retry(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", nargs="*", help="Failed entries (default: every failed one).")
    p.set_defaults(run=_retry)


def _retry(args: argparse.Namespace) -> int:
    from labrun import api

    ids = api.queue_retry(None, args.task)
    if not flag(args, "quiet"):
        print(f"Queued again: {len(ids)} experiment(s).")
    return 0


def _add_priority(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="A queued entry.")
    p.add_argument("priority", type=int, help="New priority (higher runs first; default 0).")
    p.set_defaults(run=_priority)


def _priority(args: argparse.Namespace) -> int:
    from labrun import api

    entry = api.queue_priority(None, args.task, args.priority)
    if not flag(args, "quiet"):
        print(f"Priority of '{entry.name}' is now {entry.priority}.")
    return 0
