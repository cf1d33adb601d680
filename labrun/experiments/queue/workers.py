"""Queue workers: the loop that runs entries, the supervisor that starts workers, logs.

A worker is one process (``python -m labrun.experiments.queue.workers ...``)::

    register in the backend (a live worker already holds this id: exit)
    until stopped or interrupted:
        settle orphans (entries of dead workers); stop if asked to
        claim the next entry that fits the free devices
            none: exit if nothing queued could ever fit the pool, else wait a moment
        fork the runner into a process group of its own, record it, then let it go
        watch it, forwarding kill requests (SIGINT, then SIGKILL) to its group
        kill what is left of the group; record the outcome
    unregister

The runner is any callable ``runner(entry, devices, log_path) -> dict`` named by an
import path (``"package.module:function"``), so that a detached worker can load it.
It runs in a forked child whose stdout and stderr go to the entry's log; the dict it
returns (JSON) is the result, and raising or dying fails the entry. The child waits
for the worker's go-ahead, given only once the backend has recorded the child's
process group, and it dies with the worker (``PR_SET_PDEATHSIG``). So a run whose
worker is gone can always be found, and killed, before its entry runs again.

A runner may also have hooks, which run in the worker itself: ``prepare(entry,
worker_id)`` after each claim, before the fork (what it sets up, the forked runner
inherits; raising fails the entry, which then never runs); ``prepare_ahead(entry,
worker_id)`` on a thread once the run has had ``ahead_delay`` seconds to itself (its
start is what the next claim waits for), with the queued entry this worker will
likely claim next, or None (a guess: the queue order, skipping one entry per run
that started earlier, whose worker will be free first; errors are ignored; the
thread is joined, or cancelled if it has not begun, before the next fork; the next
claim prefers that entry); and ``close()`` when the worker ends. Labrun's runner
keeps its work trees in them (``cli/worker.py``).

Files under the queue directory: ``logs/<entry>.log`` (a run's output, appended
across attempts), ``results/<entry>.<attempt>.json`` (a runner's result, while it is
handed to the worker) and ``workers/<worker>.log`` (a worker's own output).

    >>> import tempfile
    >>> from labrun.experiments.queue.backend import MemoryQueueBackend
    >>> queue = MemoryQueueBackend()
    >>> _ = queue.put(QueueEntry("e1", spec={"x": 2}))
    >>> def square(entry, devices, log):
    ...     return {"y": entry.spec["x"] ** 2}
    >>> run_worker(queue, square, "w1", WorkerConfig(tempfile.mkdtemp()))
    1
    >>> queue.get("e1").state, queue.get("e1").result
    ('succeeded', {'y': 4})
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from labrun import fsutil
from labrun.errors import LabrunError
from labrun.experiments.queue.backend import (
    ORPHAN_POLICIES,
    REQUEUE,
    QueueBackend,
    open_backend,
    same_claim,
)
from labrun.experiments.queue.devices import parse_devices
from labrun.experiments.queue.entry import (
    KILL_LEVELS,
    QUEUE_DIR_ENV,
    EntryState,
    QueueEntry,
    QueueError,
    WorkerInfo,
    current_process,
    host_name,
    process_stamp,
)
from labrun.experiments.queue.logs import (
    follow_entry,
    follow_log,
    log_path,
    result_path,
    worker_log_path,
)
from labrun.record import record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any, NoReturn, TypeAlias

    from labrun.fsutil import StrPath

    #: what a worker runs for each entry: (entry, its devices, its log file) -> result
    Runner: TypeAlias = Callable[[QueueEntry, tuple[str, ...], Path], Mapping[str, Any]]

HEARTBEAT_SECONDS = 5.0
#: seconds a run has to itself before its worker gets the next entry ready beside it
AHEAD_DELAY = 0.2
_WORKER_MODULE = "labrun.experiments.queue.workers"


class RunnerSpecError(QueueError):
    """A runner import path ("module:function") cannot be loaded."""


# --- runners ----------------------------------------------------------------------------


def load_runner(spec: str) -> Runner:
    """Import the runner named ``"package.module:function"``.

    >>> load_runner("os.path:join")("a", "b")
    'a/b'
    """
    module_name, sep, attr = spec.partition(":")
    if not (sep and module_name and attr):
        raise RunnerSpecError(f"runner '{spec}' is not of the form 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RunnerSpecError(f"cannot import the runner module of '{spec}': {exc}") from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
    if not callable(obj):
        raise RunnerSpecError(f"runner '{spec}' names no function")
    runner: Runner = obj
    return runner


# --- the worker loop ----------------------------------------------------------------


@record
class WorkerConfig:
    """How workers run entries.

    ``queue_dir`` holds the logs; ``devices`` is this host's device pool, shared by
    its workers through the backend (see ``devices.py``); ``policy`` settles entries
    of dead workers ("requeue" or "fail"; an entry whose workers died ``max_attempts``
    times fails anyway); with ``stop_when_empty`` a worker exits as
    soon as nothing queued fits the pool, else it waits for new entries until it is
    stopped; every ``poll`` seconds it looks for kill requests and new entries;
    ``ahead_delay`` is the head start of a run over the runner's ``prepare_ahead``.
    """

    queue_dir: str
    devices: tuple[str, ...] = ()
    policy: str = REQUEUE
    stop_when_empty: bool = True
    poll: float = 0.2
    max_attempts: int = 3
    max_entries: int = 0  # stop after this many entries (0: no limit; `queue run NAME`: 1)
    ahead_delay: float = AHEAD_DELAY

    def __post_init__(self) -> None:
        if self.policy not in ORPHAN_POLICIES:
            raise ValueError(f"orphan policy must be one of {ORPHAN_POLICIES}, not {self.policy!r}")


def run_worker(backend: QueueBackend, runner: Runner, worker_id: str, config: WorkerConfig) -> int:
    """Run queued entries until none is left (or a stop); how many it finished.

    SIGINT or SIGTERM interrupts the running entry (a second one kills it) and ends
    the worker. Returns 0 at once if a live worker holds *worker_id*.
    """
    worker = WorkerInfo(worker_id, current_process(), config.devices)
    if not backend.register_worker(worker):
        return 0
    loop = _WorkerLoop(backend, runner, worker, config)
    try:
        with _interrupts(loop), _serving(str(loop.queue_dir)):
            return loop.run()
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
        backend.unregister_worker(worker)


@contextlib.contextmanager
def _serving(queue_dir: str) -> Iterator[None]:
    """Name the queue directory served in the environment (runners find their project by it)."""
    before = os.environ.get(QUEUE_DIR_ENV)
    os.environ[QUEUE_DIR_ENV] = queue_dir
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(QUEUE_DIR_ENV, None)
        else:
            os.environ[QUEUE_DIR_ENV] = before


class _WorkerLoop:
    def __init__(
        self, backend: QueueBackend, runner: Runner, worker: WorkerInfo, config: WorkerConfig
    ) -> None:
        self.backend, self.runner, self.worker, self.config = backend, runner, worker, config
        self.queue_dir = Path(os.path.abspath(config.queue_dir))  # entries record their log
        self.interrupts = 0  # SIGINT/SIGTERM received
        self.done = 0  # entries finished
        self.prefer: str | None = None  # the entry the runner got ready for: claimed first
        self.die_with_parent = _pdeathsig_setter()

    def run(self) -> int:
        while not self.interrupts:
            self.backend.requeue_orphans(self.config.policy, max_attempts=self.config.max_attempts)
            row = self.backend.heartbeat(self.worker.id)
            if row is None or row.stop:
                break
            entry = self.backend.claim(self.worker.process, self.worker.devices, self.prefer)
            self.prefer = None
            if entry is not None:
                self.done += self.run_entry(entry)
                if self.config.max_entries and self.done >= self.config.max_entries:
                    break
            elif self.config.stop_when_empty and not self.has_waiting():
                break
            else:
                time.sleep(self.config.poll)
        return self.done

    def has_waiting(self) -> bool:
        """Whether a queued entry would fit the pool once running ones free devices."""
        pool = len(self.worker.devices)
        return any(e.gpus <= pool for e in self.backend.iter_entries([EntryState.QUEUED]))

    def run_entry(self, entry: QueueEntry) -> int:
        log = log_path(self.queue_dir, entry.id)
        result_file = result_path(self.queue_dir, entry)
        log.parent.mkdir(parents=True, exist_ok=True)
        result_file.parent.mkdir(parents=True, exist_ok=True)
        error = self.prepare(entry, log)
        if error is not None:
            return int(self.backend.finish(entry, EntryState.FAILED, {"error": error}))
        child = _fork_runner(_Job(self.runner, entry, log, result_file), self.die_with_parent)
        stamp = process_stamp(child.pid)
        if stamp is None or not self.backend.mark_running(entry, stamp, str(log)):
            child.reap()  # no go-ahead: the child ends without running anything
            return 0
        child.go()
        ahead = self.prepare_ahead(entry)
        try:
            sent = self.watch(entry, child)
            code = child.reap()
            state, result = _outcome(code, _read_result(result_file), sent)
            with contextlib.suppress(FileNotFoundError):
                result_file.unlink()
            return int(self.backend.finish(entry, state, result))
        finally:
            if ahead is not None:
                self.prefer = ahead.finish()  # no thread may run when the next runner is forked

    def prepare(self, entry: QueueEntry, log: Path) -> str | None:
        """Call the runner's ``prepare`` hook; the error that fails the entry, if any."""
        hook = getattr(self.runner, "prepare", None)
        if hook is None:
            return None
        try:
            hook(entry, self.worker.id)
        except Exception as exc:  # the entry fails, the worker goes on with the next one
            error = f"the run could not be prepared: {_describe(exc)}"
            with open(log, "a", encoding="utf-8", errors="backslashreplace") as out:
                out.write(f"labrun: {error}\n")
            return error
        return None

    def prepare_ahead(self, current: QueueEntry) -> _Ahead | None:
        """Let the runner get ready for the entry this worker will likely claim next.

        The hook runs on a thread of its own, so that kill requests are still
        forwarded meanwhile; the backend is only used here, on the worker's thread.
        """
        hook = getattr(self.runner, "prepare_ahead", None)
        if hook is None or (self.config.max_entries and self.done + 1 >= self.config.max_entries):
            return None
        try:
            upcoming = self.likely_next(current)
        except Exception:  # only a guess: the claim decides
            return None
        return _Ahead(hook, upcoming, self.worker.id, self.config.ahead_delay)

    def likely_next(self, current: QueueEntry) -> QueueEntry | None:
        """The queued entry this worker will claim after *current*, if runs take as long."""
        pool = len(self.worker.devices)
        live = list(self.backend.iter_entries([EntryState.QUEUED, EntryState.RUNNING]))
        queued = [e for e in live if e.state == EntryState.QUEUED and e.gpus <= pool]
        queued.sort(key=lambda e: -e.priority)  # stable: the queue order within a priority
        started = current.started or 0.0
        earlier = sum(
            1
            for e in live
            if e.state == EntryState.RUNNING and e.id != current.id and (e.started or 0.0) < started
        )
        return queued[earlier] if earlier < len(queued) else None

    def watch(self, entry: QueueEntry, child: _Child) -> str:
        """Wait for the runner, forwarding kill requests; the strongest one sent."""
        sent, beat = "", time.monotonic()
        while not child.wait(self.config.poll):
            wanted = self.wanted_kill(entry)
            if KILL_LEVELS.index(wanted) > KILL_LEVELS.index(sent):
                child.signal(signal.SIGKILL if wanted == "KILL" else signal.SIGINT)
                sent = wanted
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                self.backend.heartbeat(self.worker.id)
                beat = time.monotonic()
        return sent

    def wanted_kill(self, entry: QueueEntry) -> str:
        current = self.backend.get(entry.id)
        if current is None or not same_claim(current, entry):
            return "KILL"  # the entry is no longer ours: its run must not go on
        by_signal = KILL_LEVELS[min(self.interrupts, 2)]
        return max(current.kill, by_signal, key=KILL_LEVELS.index)


class _Ahead:
    """The runner's ``prepare_ahead`` on a thread, once the run has had *delay* seconds.

    The run's start is what the next claim waits for: its first moments are left to
    it. A run that ends sooner cancels the hook, which then never runs (the claim
    after it prepares as if there had been no guess).
    """

    def __init__(
        self, hook: Callable[..., object], upcoming: QueueEntry | None, worker: str, delay: float
    ) -> None:
        self.hook, self.upcoming, self.worker, self.delay = hook, upcoming, worker, delay
        self.cancelled = threading.Event()
        self.ready = False  # the hook ran through
        self.thread = threading.Thread(target=self._run, name="labrun-ahead")
        self.thread.start()

    def _run(self) -> None:
        if self.delay > 0 and self.cancelled.wait(self.delay):
            return
        with contextlib.suppress(Exception):  # only a guess: the claim decides
            self.hook(self.upcoming, self.worker)
            self.ready = True

    def finish(self) -> str | None:
        """Cancel the hook if it has not begun, wait for it; the entry it got ready for."""
        self.cancelled.set()
        self.thread.join()
        return self.upcoming.id if self.ready and self.upcoming is not None else None


@contextlib.contextmanager
def _interrupts(loop: _WorkerLoop) -> Iterator[None]:
    """Count SIGINT/SIGTERM on *loop* instead of raising (main thread only)."""

    def count(signum: int, frame: object) -> None:
        loop.interrupts += 1

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            previous[signum] = signal.signal(signum, count)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _outcome(code: int, doc: dict[str, Any] | None, sent: str) -> tuple[str, dict[str, Any]]:
    """(final state, result) of a run that exited with *code*."""
    if code == 0 and doc is not None and "ok" in doc:
        return EntryState.SUCCEEDED, doc["ok"]
    if doc is not None and "error" in doc:
        error = str(doc["error"])
    elif code < 0:
        error = f"the runner was killed by {_signal_name(-code)}"
    else:
        error = f"the runner exited with code {code} and left no result"
    state = EntryState.CANCELLED if sent else EntryState.FAILED
    return state, {"error": error, "exit_code": code}


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


# --- the runner's process ------------------------------------------------------------


class _Child:
    """A forked runner: leader of its own process group, waiting for the go-ahead."""

    def __init__(self, pid: int, go_fd: int) -> None:
        self.pid, self.go_fd = pid, go_fd
        self.status: int | None = None
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):  # Linux 5.3+: wait with select
            self.pidfd = os.pidfd_open(pid)

    def go(self) -> None:
        os.write(self.go_fd, b"1")
        self._close_go()

    def _close_go(self) -> None:
        if self.go_fd >= 0:
            os.close(self.go_fd)
            self.go_fd = -1

    def wait(self, timeout: float) -> bool:
        """Whether the child has exited, waiting up to *timeout*.

        With a pidfd the child is left unreaped, so its pid (the group's number)
        cannot be reused before :meth:`reap` has killed the rest of its group.
        """
        if self.pidfd is not None:
            return bool(select.select([self.pidfd], [], [], timeout)[0])
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
            elif time.monotonic() >= deadline:
                return False
            else:
                time.sleep(0.02)
        return True

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def reap(self) -> int:
        """Kill what is left of the group, reap the child; its exit code."""
        self._close_go()
        self.signal(signal.SIGKILL)  # an unreaped leader keeps the group's number ours
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return os.waitstatus_to_exitcode(self.status)


@record
class _Job:
    runner: Runner
    entry: QueueEntry
    log: Path
    result_file: Path


def _fork_runner(job: _Job, die_with_parent: Callable[[], None]) -> _Child:
    read_fd, write_fd = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # or the child would write our buffers again
        with contextlib.suppress(Exception):
            stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        _child_main(job, read_fd, parent, die_with_parent)
    os.close(read_fd)
    with contextlib.suppress(OSError):  # both sides set the group: no window between them
        os.setpgid(pid, pid)
    return _Child(pid, write_fd)


def _child_main(
    job: _Job, go_fd: int, parent: int, die_with_parent: Callable[[], None]
) -> NoReturn:
    code = 70
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setpgid(0, 0)
        die_with_parent()
        if os.getppid() == parent and os.read(go_fd, 1) == b"1":
            os.close(go_fd)
            _redirect_output(job.log)
            code = _call_runner(job)
        else:
            code = 75  # the worker died or lost the entry before letting the run start
    finally:
        os._exit(code)


def _redirect_output(log: Path) -> None:
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115


def _call_runner(job: _Job) -> int:
    if job.entry.attempts > 1:
        sys.stdout.write(f"labrun: attempt {job.entry.attempts} (an earlier worker died)\n")
    try:
        result = job.runner(job.entry, job.entry.devices, job.log)
        doc, code = json.dumps({"ok": dict(result)}), 0
    except BaseException as exc:  # the run failed, however it failed: that is the outcome
        traceback.print_exc()
        doc, code = json.dumps({"error": _describe(exc)}), 1
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    fsutil.atomic_write(job.result_file, doc.encode(), durable=False)
    return code


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LabrunError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"


@functools.cache  # made once per process: forks inherit it
def _pdeathsig_setter() -> Callable[[], None]:
    """A function that makes the calling process die with its parent (Linux only)."""
    if not sys.platform.startswith("linux"):
        return lambda: None
    import ctypes  # loaded before forking, so children do not pay for it

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGKILL)


# --- supervision --------------------------------------------------------------------


def worker_name(number: int) -> str:
    """The id of this host's worker number *number* (``w1@host``)."""
    return f"w{number}@{host_name()}"


class Supervisor:
    """Starts (and stops) the worker processes of one queue on this host.

    ``start(jobs)`` makes sure workers ``w1..wN`` run, starting the missing ones, as
    ``queue start -j N`` does; a worker exits as soon as nothing queued fits.

        >>> config = WorkerConfig(".dvc/tmp/labrun/queue", devices=("0", "1"))
        >>> sup = Supervisor(queue, "my_project.exec:run_entry", config)  # doctest: +SKIP
        >>> sup.start(2, detach=True)  # `queue start -j 2`: 0 if both run  # doctest: +SKIP
        2
        >>> sup.stop(kill=False)  # `queue stop`: after their entries  # doctest: +SKIP
    """

    def __init__(
        self,
        backend: QueueBackend,
        runner: str,
        config: WorkerConfig,
        *,
        env: Mapping[str, str] | None = None,
        cwd: StrPath | None = None,
    ) -> None:
        if not backend.url:
            raise QueueError("this queue lives in one process: it cannot have worker processes")
        if runner.count(":") != 1 or runner.startswith(":") or runner.endswith(":"):
            raise RunnerSpecError(f"runner '{runner}' is not of the form 'package.module:function'")
        self.backend, self.runner, self.config = backend, runner, config
        self.env, self.cwd = env, cwd
        self.processes: dict[str, subprocess.Popen[bytes] | ForkedWorker] = {}

    def start(self, jobs: int = 1, *, detach: bool = True, fork: bool = False) -> int:
        """Start the missing workers of ``w1..w<jobs>``; how many were started.

        Detached workers get a session of their own and outlive the caller; attached
        ones stay in the caller's process group (Ctrl-C reaches them) until :meth:`wait`.
        With ``fork``, attached workers are forked from this process instead of being
        new interpreters: they start at once, with the runner loaded here only once
        (a process running other threads cannot fork safely: then they are new ones).
        """
        live = {w.id for w in self.backend.iter_workers()}
        missing = []
        for number in range(1, jobs + 1):
            worker_id = worker_name(number)
            proc = self.processes.get(worker_id)
            if worker_id not in live and (proc is None or proc.poll() is not None):
                missing.append(worker_id)
        if missing and fork and not detach and _single_threaded():
            self.processes.update(self._fork_all(missing))
        else:
            self.processes.update((w, self._spawn(w, detach)) for w in missing)
        return len(missing)

    def _fork_all(self, worker_ids: Sequence[str]) -> dict[str, ForkedWorker]:
        runner = load_runner(self.runner)  # once, here: every worker starts with it loaded
        _pdeathsig_setter()  # likewise (it loads ctypes)
        url = self.backend.url
        self.backend.close()  # no open connection may cross a fork (SQLite's locks are per process)
        # What is loaded now lives as long as the processes: out of the collector's sight,
        # forks do not copy its pages to scan them, and this process exits sooner.
        gc.freeze()
        try:
            return {w: self._fork(runner, url, w) for w in worker_ids}
        finally:
            self.backend = open_backend(url)

    def _fork(self, runner: Runner, url: str, worker_id: str) -> ForkedWorker:
        log = worker_log_path(self.config.queue_dir, worker_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        for stream in (sys.stdout, sys.stderr):  # or the child would write our buffers again
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _redirect_output(log)
                if self.cwd is not None:
                    os.chdir(self.cwd)
                if self.env is not None:
                    os.environ.clear()
                    os.environ.update(self.env)
                code = serve(url, runner, worker_id, self.config)
            except BaseException:
                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(code)
        return ForkedWorker(pid)

    def command(self, worker_id: str) -> list[str]:
        """The command line of a worker process."""
        config = self.config
        return [
            sys.executable,
            "-m",
            _WORKER_MODULE,
            f"--backend={self.backend.url}",
            f"--runner={self.runner}",
            f"--id={worker_id}",
            f"--queue-dir={os.path.abspath(config.queue_dir)}",
            f"--devices={','.join(config.devices)}",
            f"--policy={config.policy}",
            f"--poll={config.poll}",
            f"--max-attempts={config.max_attempts}",
            f"--max-entries={config.max_entries}",
            f"--ahead-delay={config.ahead_delay}",
            *([] if config.stop_when_empty else ["--linger"]),
        ]

    def _spawn(self, worker_id: str, detach: bool) -> subprocess.Popen[bytes]:
        log = worker_log_path(self.config.queue_dir, worker_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            return subprocess.Popen(
                self.command(worker_id),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
                env=self._environment(),
                cwd=self.cwd,
            )

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ if self.env is None else self.env)
        root = str(Path(__file__).resolve().parents[3])  # so `-m labrun...` finds this labrun
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        return env

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the workers this supervisor started; False if some still run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for proc in self.processes.values():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                proc.wait(left)
            except subprocess.TimeoutExpired:
                return False
        return True

    def stop(self, *, kill: bool = False) -> int:
        """Ask every live worker of the queue to stop after its entry (``queue stop``).

        With *kill*, running entries are killed too (``queue stop --kill``). Returns
        how many workers were asked.
        """
        return self.backend.request_stop(kill=kill)


def _single_threaded() -> bool:
    return threading.active_count() == 1


class ForkedWorker:
    """A worker process forked from this one (``Supervisor.start(fork=True)``), as a Popen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):  # Linux 5.3+: wake up at its exit
            self.pidfd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit code; ``subprocess.TimeoutExpired`` after *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            if self.pidfd is not None:
                select.select([self.pidfd], [], [], left)
            else:
                time.sleep(0.01 if left is None else min(0.01, left))
        return code

    def _close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


# --- the worker process ---------------------------------------------------------------


def serve(url: str, runner: Runner, worker_id: str, config: WorkerConfig) -> int:
    """Be worker *worker_id* of the queue at *url* until it is done; the exit code."""
    try:
        backend = open_backend(url)
        try:
            run_worker(backend, runner, worker_id, config)
        finally:
            backend.close()
    except LabrunError as exc:
        sys.stderr.write(f"labrun queue worker {worker_id}: {exc.message}\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a worker process (what :class:`Supervisor` starts)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {_WORKER_MODULE}")
    parser.add_argument("--backend", required=True, help="queue url, e.g. sqlite:/path/queue.db")
    parser.add_argument("--runner", required=True, help="package.module:function")
    parser.add_argument("--id", required=True, help="worker id, e.g. w1@host")
    parser.add_argument("--queue-dir", required=True, help="directory for logs")
    parser.add_argument("--devices", default="", help="device pool, e.g. 0,1,2,3")
    parser.add_argument("--policy", default=REQUEUE, choices=ORPHAN_POLICIES)
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between checks")
    parser.add_argument("--max-attempts", type=int, default=3, help="claims before failing")
    parser.add_argument("--max-entries", type=int, default=0, help="stop after N (0: all)")
    parser.add_argument("--linger", action="store_true", help="wait for new entries")
    parser.add_argument("--ahead-delay", type=float, default=AHEAD_DELAY, help="seconds")
    args = parser.parse_args(argv)
    try:
        runner = load_runner(args.runner)
        config = WorkerConfig(
            args.queue_dir,
            parse_devices(args.devices),
            args.policy,
            stop_when_empty=not args.linger,
            poll=args.poll,
            max_attempts=args.max_attempts,
            max_entries=args.max_entries,
            ahead_delay=args.ahead_delay,
        )
    except LabrunError as exc:
        sys.stderr.write(f"labrun queue worker {args.id}: {exc.message}\n")
        return 1
    return serve(args.backend, runner, args.id, config)


__all__ = [
    "AHEAD_DELAY",
    "HEARTBEAT_SECONDS",
    "ForkedWorker",
    "RunnerSpecError",
    "Supervisor",
    "WorkerConfig",
    "follow_entry",
    "follow_log",
    "load_runner",
    "log_path",
    "main",
    "run_worker",
    "serve",
    "worker_log_path",
    "worker_name",
]

if __name__ == "__main__":
    sys.exit(main())
