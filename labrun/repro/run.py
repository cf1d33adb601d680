"""Reproduce one stage: decide, restore or run, save, write its lock entry.

    >>> outcome = reproduce_stage(ctx, stage, ReproOptions())    # doctest: +SKIP
    >>> outcome                                                   # doctest: +SKIP
    'ran'

Outcomes: "skipped" (up to date, or only missing data that `--pull` checked
out: DVC does not count that as reproduced), "restored" (run-cache), "verified"
(data source or frozen stage re-recorded), "ran". Failures raise StageError (or
CommandError) with DVC's message; the scheduler decides what happens next.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from labrun.errors import LabrunError
from labrun.pipeline.lockfile import build_entry
from labrun.pipeline.stage import Stage
from labrun.record import record, replace
from labrun.repro import outputs
from labrun.repro.checkpoint import CheckpointHook, SignalWatcher, has_checkpoint_outs
from labrun.repro.context import RunContext, records_by_path
from labrun.repro.events import (
    CommandStarted,
    Event,
    LockWritten,
    Output,
    StageRestored,
    StageSkipped,
    StageStarted,
    StageVerifying,
)
from labrun.repro.options import ReproOptions
from labrun.repro.runcache import RunCache, can_cache, can_save, run_key, without_sizes
from labrun.repro.status import StageStatus, same_value, stage_status

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    import subprocess
    import threading
    from typing import Any


class CommandError(LabrunError):
    """A stage's command exited with a non-zero status."""


@record
class StagePulled(Event):
    """`--pull` on a stage that only misses data: its outputs were looked for in the cache.

    ``found``: they were checked out and the stage is skipped; otherwise it runs.
    """

    found: bool = True


def reproduce_stage(
    ctx: RunContext, stage: Stage, opts: ReproOptions, *, force: bool = False
) -> str:
    """Bring one stage up to date (see the module docstring for outcomes).

    ``force`` forces this stage only (`--force-downstream`); command output is
    captured when ``ctx.capture`` is set (parallel runs).
    """
    addr = ctx.addressing(stage)
    if stage.frozen and stage.cmd is not None:
        ctx.warn(f"stage: '{addr}' is frozen. Its dependencies are not going to be reproduced.")
    status: StageStatus | None = None
    if ctx.checkpoint is not None and has_checkpoint_outs(stage):
        force = True  # a checkpoint output is also an input: the stage always runs on
    if not (force or opts.force):
        status = stage_status(ctx, stage, allow_missing=opts.allow_missing)
        if not status.stale:
            ctx.reporter.emit(StageSkipped(addr, data_source=stage.is_data_source))
            return "skipped"
        if opts.pull and _pull(ctx, stage, opts):
            return "skipped"
    if opts.interactive or ctx.project.config.interactive:
        question = f"Going to reproduce stage: '{addr}'. Are you sure you want to continue?"
        if ctx.confirm is None or not ctx.confirm(question):
            raise LabrunError("reproduction aborted by the user")
    if stage.is_data_source or stage.frozen:
        if opts.dry:
            return "skipped"  # as DVC: a dry run neither verifies nor announces them
        return _verify(ctx, stage, opts)
    return _run(ctx, stage, opts, status, force=force or opts.force)


def _pull(ctx: RunContext, stage: Stage, opts: ReproOptions) -> bool:
    """True if the stage only missed outputs and they were checked out (as DVC, not "ran")."""
    if stage_status(ctx, stage, allow_missing=True).stale:
        return False
    found = outputs.restore_cached(ctx, stage, ctx.recorded(stage) or {}, dry=opts.dry)
    ctx.reporter.emit(StagePulled(ctx.addressing(stage), found=found))
    return found


def _verify(ctx: RunContext, stage: Stage, opts: ReproOptions) -> str:
    addr = ctx.addressing(stage)
    ctx.reporter.emit(StageVerifying(addr, frozen=stage.frozen))
    missing = [o.path for o in stage.outs if not os.path.lexists(stage.abspath(ctx.root, o.path))]
    if missing:
        noun = "'source'" if len(missing) == 1 else "'sources'"
        raise outputs.StageError(f"missing data {noun}: {', '.join(missing)}")
    if opts.dry:
        return "verified"
    if stage.is_data_source:
        saved = outputs.save_outs(ctx, stage, commit=not opts.no_commit)
        _write_dvcfile(ctx, stage, saved.records)
    else:  # a frozen stage is saved as after a run: its deps are hashed again, as DVC does
        deps, params = outputs.save_deps(ctx, stage)
        _save(ctx, stage, opts, deps, params)
    return "verified"


def _run(
    ctx: RunContext,
    stage: Stage,
    opts: ReproOptions,
    status: StageStatus | None,
    force: bool,
) -> str:
    if not opts.dry:
        outputs.remove_outs(ctx, stage)
    if force:
        return _execute(ctx, stage, opts, status, None)
    deps, params = outputs.save_deps(ctx, stage)
    with _same_run_lock(ctx, stage, opts, deps, params):
        if _try_restore(ctx, stage, opts, deps, params):
            return "restored"
        return _execute(ctx, stage, opts, status, (deps, params))


@contextmanager
def _same_run_lock(
    ctx: RunContext,
    stage: Stage,
    opts: ReproOptions,
    deps: list[dict[str, Any]],
    params: dict[str, Any],
) -> Iterator[None]:
    """Serialise identical runs (same cmd, deps, params) across processes sharing a cache.

    Queued experiments that share an unchanged upstream stage would otherwise all
    run it at the same time; with this lock the first one runs it and the others,
    once it is done, restore its outputs from the run-cache.
    """
    if opts.dry or opts.no_run_cache or not can_cache(stage, ctx.root):
        yield
        return
    from labrun.digests import sha256_hex
    from labrun.fsutil import key_lock

    probe = build_entry(
        stage.cmd, deps=deps, params=params, outs=[{"path": o.path} for o in stage.outs]
    )
    # Beside the cache, not in it: DVC's cache holds only objects and run-cache entries.
    cache_id = sha256_hex(os.path.realpath(str(ctx.odb.root)).encode())[:16]
    folder = os.path.join(temp_dir(), f"labrun-runs-{os.getuid()}", cache_id)
    os.makedirs(folder, exist_ok=True)
    with key_lock(folder, run_key(probe)):
        yield


def temp_dir() -> str:
    """`tempfile.gettempdir()`, without importing tempfile unless it is needed.

    tempfile (with the random and weakref modules it imports) costs more start-up
    time than a stage's bookkeeping. Where no TMPDIR, TEMP or TMP is set and
    `/tmp` is writable, tempfile answers `/tmp`; every other case asks it.

        >>> temp_dir() == __import__("tempfile").gettempdir()
        True
    """
    plain = os.name == "posix" and "tempfile" not in sys.modules
    unset = not any(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP"))
    if plain and unset and os.access("/tmp", os.W_OK | os.X_OK):
        return "/tmp"
    import tempfile

    return tempfile.gettempdir()


def _execute(
    ctx: RunContext,
    stage: Stage,
    opts: ReproOptions,
    status: StageStatus | None,
    recorded: tuple[list[dict[str, Any]], dict[str, Any]] | None,
) -> str:
    """Run the stage's commands and save it (the outputs are already removed).

    ``recorded`` holds the dependencies hashed before the run; None when forced
    (they are hashed after the run, as DVC does).
    """
    addr = ctx.addressing(stage)
    force = recorded is None
    deps, params = recorded if recorded is not None else ([], {})
    reasons = [str(r) for r in status.reasons] if status else ["forced"]
    ctx.reporter.emit(StageStarted(addr, reasons))
    commands = stage.cmd if isinstance(stage.cmd, list) else str(stage.cmd).splitlines()
    hook = ctx.checkpoint if has_checkpoint_outs(stage) and not opts.dry else None
    if hook is not None:
        _run_checkpointed(ctx, stage, opts, [str(c) for c in commands], hook)
        return "ran"
    for command in commands:
        ctx.reporter.emit(CommandStarted(addr, str(command)))
        if not opts.dry:
            run_command(ctx, stage, str(command), opts)
    if opts.dry:
        return "ran"
    if force:
        deps, params = outputs.save_deps(ctx, stage)
    _save(ctx, stage, opts, deps, params)
    return "ran"


def _run_checkpointed(
    ctx: RunContext, stage: Stage, opts: ReproOptions, commands: list[str], hook: CheckpointHook
) -> None:
    """Run a checkpoint stage: each signal saves the stage and records a checkpoint.

    A command that stops (error, Ctrl-C, kill) after at least one checkpoint is
    *interrupted*, not failed: its outputs as they are are saved, the hook is
    told, and the pipeline stops there (DVC 2.x semantics).
    """
    addr = ctx.addressing(stage)

    def save() -> None:
        if not opts.no_commit:
            _store_outs_once(ctx, stage)
        deps, params = outputs.save_deps(ctx, stage)
        _save(ctx, stage, opts, deps, params)

    def checkpoint() -> None:  # the command goes on: its outputs must stay its own
        save()
        _keep_writable(ctx, stage)

    extra = hook.env(ctx.root)
    try:
        with SignalWatcher(ctx.root, lambda: hook.record(stage, checkpoint)) as watcher:
            for command in commands:
                ctx.reporter.emit(CommandStarted(addr, command))
                run_command(ctx, stage, command, opts, extra_env=extra)
        if watcher.error is not None:
            raise CommandError(f"checkpoint of '{addr}' failed: {watcher.error}")
    except (CommandError, KeyboardInterrupt):
        if hook.count == 0:
            raise
        save()
        hook.interrupted = addr
        raise CommandError(f"checkpoint stage '{addr}' was interrupted") from None
    save()


def _store_outs_once(ctx: RunContext, stage: Stage) -> None:
    """Cache the stage's outputs reading each changed file once: hashed while copied in.

    The save that follows finds their hashes in the memo and their objects in
    the cache, instead of reading every file twice (once to hash, once to copy).
    """
    from labrun.cache.commit import commit_dir, commit_file

    for out in stage.outs:
        path = stage.abspath(ctx.root, out.path)
        if not out.cache or os.path.islink(path):
            continue
        if os.path.isfile(path):
            commit_file(ctx.state, ctx.odb, path)
        elif os.path.isdir(path):
            commit_dir(ctx.state, ctx.odb, path, ctx.ignore)


def _keep_writable(ctx: RunContext, stage: Stage) -> None:
    """Checkpoint outputs stay private writable files while the command runs on (as
    DVC unprotects them): a link into the cache would let the next epoch edit the cache."""
    from labrun.cache.links import unprotect

    for out in stage.outs:
        path = stage.abspath(ctx.root, out.path)
        if out.checkpoint and os.path.lexists(path):
            unprotect(path)


def _save(
    ctx: RunContext,
    stage: Stage,
    opts: ReproOptions,
    deps: list[dict[str, Any]],
    params: dict[str, Any],
) -> dict[str, Any]:
    saved = outputs.save_outs(ctx, stage, commit=not opts.no_commit)
    entry = build_entry(stage.cmd, deps=deps, params=params, outs=saved.records)
    # A frozen stage is never restored from the run-cache, but its re-saved run is recorded.
    cacheable = can_cache(replace(stage, frozen=False), ctx.root)
    if not opts.no_commit and cacheable and can_save(stage):
        outputs.store_uncached_reports(ctx, stage, saved.records)
        RunCache(str(ctx.odb.root)).save(entry)
    _write_entry(ctx, stage, entry)
    return entry


def _try_restore(
    ctx: RunContext,
    stage: Stage,
    opts: ReproOptions,
    deps: list[dict[str, Any]],
    params: dict[str, Any],
) -> bool:
    """Check outputs out of the run-cache (or the current lock entry) instead of running."""
    if not can_cache(stage, ctx.root):
        return False
    # DVC quirk (repro.md 5.2): in --dry mode it looks up the run-cache with the *old*
    # recorded dependency hashes and can print "is cached - skipping run" right before
    # "Running stage". labrun hashes the current dependencies, so the message only
    # appears when the outputs really could be restored.
    candidates: list[dict[str, Any]] = []
    current = ctx.recorded(stage)
    probe = build_entry(
        stage.cmd, deps=deps, params=params, outs=[{"path": o.path} for o in stage.outs]
    )
    if current and _same_inputs(current, probe) and _all_outs_recorded(stage, current):
        candidates.append(current)
    if not opts.no_run_cache:
        candidates.extend(RunCache(str(ctx.odb.root)).lookup(run_key(probe)))
    for candidate in candidates:
        if outputs.objects_present(ctx, stage, candidate):
            ctx.reporter.emit(StageRestored(ctx.addressing(stage)))
            if opts.dry:
                return False  # nothing is checked out in dry mode
            outputs.checkout_records(ctx, stage, candidate)
            _save(ctx, stage, opts, deps, params)
            return True
    return False


def _same_inputs(recorded: dict[str, Any], probe: dict[str, Any]) -> bool:
    """Same cmd, deps and params; a param now 3.0 where 3 was recorded is not the same."""
    keys = ("cmd", "deps", "params")
    return all(
        same_value(without_sizes(recorded.get(k)), without_sizes(probe.get(k))) for k in keys
    )


def _all_outs_recorded(stage: Stage, entry: dict[str, Any]) -> bool:
    recorded = records_by_path(entry, "outs")
    return all(o.path in recorded and "md5" in recorded[o.path] for o in stage.outs)


def _write_entry(ctx: RunContext, stage: Stage, entry: dict[str, Any]) -> None:
    with ctx.write_lock:
        lock = ctx.lockfile(stage)
        verb = lock.with_entry(stage.name, entry)
        if verb is None and not same_value(lock.entry(stage.name), entry):
            # equal for Python (a param 3 recorded, 3.0 now) yet written differently
            lock.with_entry(stage.name, {})
            verb = lock.with_entry(stage.name, entry)
        if verb is not None:
            verb = ctx.save_lock(lock, verb)
            ctx.touched.add(os.path.join(ctx.root, lock.relpath))
            path = ctx.relpath(os.path.join(ctx.root, lock.relpath))
            ctx.reporter.emit(LockWritten(ctx.addressing(stage), path, verb))


def _write_dvcfile(ctx: RunContext, stage: Stage, records: list[dict[str, Any]]) -> None:
    """Rewrite a `.dvc` file with new hashes, keeping its other keys, flags and comments.

    The file goes on the `git add` list even when its bytes stay the same (as DVC
    does after `repro -f` re-saves an unchanged data source).
    """
    from labrun.repro.tracking import write_dvcfile

    by_path = {r["path"]: r for r in records}
    new_outs = []
    for old in stage.raw.get("outs") or []:
        record = by_path.get(old["path"], {})
        hashes = {k: v for k, v in record.items() if k not in ("path", "hash")}
        flags = {k: v for k, v in old.items() if k not in _HASH_KEYS}
        tail = {"hash": "md5"} if "hash" in record else {}
        new_outs.append({**hashes, **tail, "path": old["path"], **flags})
    with ctx.write_lock:
        write_dvcfile(ctx, stage.dvcfile, {**stage.raw, "outs": new_outs})
        ctx.touched.add(os.path.join(ctx.root, stage.dvcfile))


_HASH_KEYS = frozenset({"md5", "size", "nfiles", "isexec", "hash", "path", "etag", "checksum"})


# -- commands --------------------------------------------------------------------------


def shell_argv(command: str) -> list[str]:
    """How DVC runs a command line: `$SHELL -c` (bash/zsh/fish without rc files)."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    name = os.path.basename(shell)
    flags = {"bash": ["--noprofile", "--norc"], "zsh": ["--no-rcs"], "fish": ["--no-config"]}
    return [shell, *flags.get(name, []), "-c", command]


def command_env(ctx: RunContext, stage: Stage, opts: ReproOptions) -> dict[str, str]:
    """The parent's environment plus DVC_ROOT (if unset), DVC_STAGE and run extras."""
    env = dict(os.environ)
    env.setdefault("DVC_ROOT", ctx.root)
    env["DVC_STAGE"] = ctx.addressing(stage)
    env.update(opts.env)
    return env


def run_command(
    ctx: RunContext,
    stage: Stage,
    command: str,
    opts: ReproOptions,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Run one command line in the stage's wdir; CommandError on a non-zero exit."""
    capture = ctx.capture
    cwd = os.path.join(ctx.root, stage.wdir)
    env = command_env(ctx, stage, opts)
    env.update(extra_env or {})
    if not capture:
        code = _run_plain(shell_argv(command), cwd, env, command)
        if code is not None:
            if code != 0:
                raise CommandError(f"failed to run: {command}, exited with {code}")
            return
    import subprocess

    out = subprocess.PIPE if capture else None
    try:
        proc = subprocess.Popen(
            shell_argv(command),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if capture else None,
            start_new_session=capture,
        )
    except OSError as exc:
        raise CommandError(f"failed to run: {command}: {exc.strerror}") from None
    reader = _stream(ctx, stage, proc) if capture else None
    code = _wait(proc)
    if reader is not None:
        reader.join()
    if code != 0:
        raise CommandError(f"failed to run: {command}, exited with {code}")


def _run_plain(argv: list[str], cwd: str, env: dict[str, str], command: str) -> int | None:
    """Run a command whose output is not captured without subprocess (:mod:`labrun.proc`).

    Its exit code; None when another thread runs (the caller uses subprocess).
    """
    from labrun import proc

    try:
        pid = proc.spawn(argv, cwd=cwd, env=env)
    except OSError as exc:
        raise CommandError(f"failed to run: {command}: {exc.strerror}") from None
    return None if pid is None else proc.wait(pid)


def _stream(ctx: RunContext, stage: Stage, proc: subprocess.Popen[bytes]) -> threading.Thread:
    addr = ctx.addressing(stage)

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            ctx.reporter.emit(Output(addr, line))

    import threading  # only captured runs (-j N) need it: it costs start-up time

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the command; Ctrl-C goes to the command (its group), then labrun stops."""
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            if proc.poll() is None:
                _interrupt(proc)
            proc.wait()
            raise


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGINT)
        else:  # pragma: no cover
            proc.send_signal(signal.SIGINT)
    except (ProcessLookupError, PermissionError):
        pass
