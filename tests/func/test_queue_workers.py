"""Queue workers as users meet them: entries run by priority on their own devices,
failures and kills become outcomes, `queue stop` and `queue logs -f` work, and a worker
killed at any moment neither loses an entry nor lets one run twice at the same time.

Workers run either in this process (``run_worker``, with runner functions defined
here) or as real worker processes started by a ``Supervisor``, whose runners live in
a small module written to ``tmp_path``. Runners append one line per event to a
record file with ``O_APPEND`` (``<entry> <attempt> <event> ...``), so the file is a
single global timeline of every run, including lines written by their subprocesses.
"""

from __future__ import annotations

import functools
import os
import random
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labrun.experiments.queue.backend import (
    MemoryQueueBackend,
    count_workers,
    open_backend,
)
from labrun.experiments.queue.devices import (
    DeviceSpecError,
    detect_devices,
    device_env,
    parse_devices,
)
from labrun.experiments.queue.entry import (
    EntryState,
    QueueEntry,
    QueueError,
    WorkerInfo,
    current_process,
    process_stamp,
)
from labrun.experiments.queue.local import SqliteQueueBackend
from labrun.experiments.queue.workers import (
    ForkedWorker,
    RunnerSpecError,
    Supervisor,
    WorkerConfig,
    follow_entry,
    follow_log,
    load_runner,
    log_path,
    run_worker,
    worker_log_path,
)

REPO = Path(__file__).resolve().parents[2]
SEED = 20241128

RUNNERS = textwrap.dedent(
    """\
    import os, signal, subprocess, sys, time

    def record(entry, event):
        fd = os.open(entry.spec["record"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.write(fd, f"{entry.id} {entry.attempts} {event} {time.monotonic()}\\n".encode())
        os.close(fd)

    # ticks come from a shell in the runner's process group: a run that goes on shows
    TICKS = 'for i in $(seq "$2"); do echo "$1 tick" >> "$0"; sleep "$3"; done'

    def ticking(entry, devices, log):
        record(entry, "start " + (",".join(devices) or "-"))
        record(entry, f"pid {os.getpid()}")
        print(f"running {entry.id}", flush=True)
        spec = entry.spec
        args = [spec["record"], f"{entry.id} {entry.attempts}", spec["ticks"], spec["step"]]
        args = [str(arg) for arg in args]
        subprocess.run(["sh", "-c", TICKS, *args], check=True)
        record(entry, "end " + (",".join(devices) or "-"))
        return {"id": entry.id, "devices": list(devices)}

    def printer(entry, devices, log):
        for n in range(entry.spec["lines"]):
            print(f"line {n}", flush=True)
            time.sleep(entry.spec["step"])
        sys.stdout.write("no newline at the end")
        return {}
    """
)


# --- helpers ------------------------------------------------------------------------


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[SqliteQueueBackend]:
    backend = SqliteQueueBackend(tmp_path / "queue.db")
    yield backend
    backend.close()


@pytest.fixture
def config(tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(str(tmp_path / "queue"), poll=0.05)


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "record.txt"


def make_supervisor(
    queue: SqliteQueueBackend,
    tmp_path: Path,
    runner: str,
    devices: tuple[str, ...] = (),
    max_attempts: int = 3,
) -> Supervisor:
    (tmp_path / "qrunners.py").write_text(RUNNERS)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    queue_dir = str(tmp_path / "queue")
    config = WorkerConfig(queue_dir, devices, poll=0.05, max_attempts=max_attempts)
    return Supervisor(queue, f"qrunners:{runner}", config, env=env)


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def events(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [line.split() for line in record.read_text().splitlines()]


def states(queue: SqliteQueueBackend) -> dict[str, str]:
    return {e.id: e.state for e in queue.iter_entries()}


def gone(pid: int) -> bool:
    """No such process, or only its zombie."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return data[data.rindex(b")") + 2 :].split()[0] in (b"Z", b"X")


def put_ticking(
    queue: SqliteQueueBackend, record: Path, n: int, gpus: list[int] | None = None, **spec: Any
) -> list[str]:
    ids = [f"e{i:02}" for i in range(n)]
    for i, entry_id in enumerate(ids):
        full = {"record": str(record), "ticks": 3, "step": 0.03, **spec}
        need = 0 if gpus is None else gpus[i]
        queue.put(QueueEntry(entry_id, name=f"exp-{entry_id}", spec=full, gpus=need))
    return ids


def has_ticked(record: Path, attempt: int) -> bool:
    return any(e[1:3] == [str(attempt), "tick"] for e in events(record))


def check_timeline(record: Path, finals: dict[str, QueueEntry]) -> None:
    """No run of an entry goes on once a later attempt of it has started."""
    latest: dict[str, int] = {}
    for entry_id, attempt, *_ in events(record):
        assert int(attempt) >= latest.get(entry_id, 0), f"attempt {attempt} of {entry_id} ran on"
        latest[entry_id] = int(attempt)
    for entry_id, entry in finals.items():
        assert latest.get(entry_id, 0) <= entry.attempts
        if entry.state == EntryState.SUCCEEDED:
            ends = [e for e in events(record) if e[0] == entry_id and e[2] == "end"]
            assert ends and ends[-1][1] == str(entry.attempts)


# --- runners used in this process (a forked child runs them) -----------------------


def append_id(entry: QueueEntry, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
    with open(entry.spec["out"], "a") as fobj:
        fobj.write(entry.id + "\n")
    print(f"hello from {entry.id}")
    subprocess.run(["echo", "and from its subprocess"], check=True)
    return {"id": entry.id}


def misbehave(entry: QueueEntry, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
    how = entry.spec["how"]
    if how == "raise":
        raise RuntimeError("boom")
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "exit":
        os._exit(3)
    if how == "junk":
        return {"x": object()}
    if how == "leave":  # a background process the run forgets about
        child = subprocess.Popen(["sleep", "60"])
        Path(entry.spec["pidfile"]).write_text(str(child.pid))
    return {"ok": True}


def kill_myself(entry: QueueEntry, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
    """Ask for its own kill through the queue, as `queue kill` from elsewhere would."""
    spec = entry.spec
    if spec.get("ignore_int"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # `sleep` inherits it
    child = subprocess.Popen(["sleep", "60"])
    Path(spec["pidfile"]).write_text(str(child.pid))
    queue = open_backend(spec["queue"])
    queue.request_kill(entry.id)
    if spec.get("ignore_int"):
        time.sleep(0.5)
        print("still here after SIGINT", flush=True)
        queue.request_kill(entry.id, force=True)
    if spec.get("stop"):
        queue.request_stop(kill=True)
    queue.close()
    if spec.get("graceful"):
        try:
            child.wait()
        except KeyboardInterrupt:
            return {"interrupted": True}
    child.wait()
    return {"slept": True}


def stop_queue(entry: QueueEntry, devices: tuple[str, ...], log: Path) -> dict[str, Any]:
    queue = open_backend(entry.spec["queue"])
    queue.request_stop()
    queue.close()
    return {}


# --- one worker in this process -------------------------------------------------------


def test_a_worker_runs_every_entry_by_priority_then_exits(
    queue: SqliteQueueBackend, config: WorkerConfig, tmp_path: Path
) -> None:
    out = tmp_path / "order.txt"
    for entry_id, priority in [("a", 0), ("b", 5), ("c", 0), ("d", 5)]:
        queue.put(QueueEntry(entry_id, priority=priority, spec={"out": str(out)}))
    assert run_worker(queue, append_id, "w1", config) == 4
    assert out.read_text().split() == ["b", "d", "a", "c"]
    assert {e.id: (e.state, e.result) for e in queue.iter_entries()} == {
        i: ("succeeded", {"id": i}) for i in "abcd"
    }
    log = log_path(config.queue_dir, "b")
    assert queue.get("b").log == str(log)  # type: ignore[union-attr]
    assert log.read_text() == "hello from b\nand from its subprocess\n"
    assert list(queue.iter_workers()) == []
    assert list((tmp_path / "queue" / "results").iterdir()) == []


def test_failures_are_outcomes_with_the_traceback_in_the_log(
    queue: SqliteQueueBackend, config: WorkerConfig
) -> None:
    for how in ("raise", "sigkill", "exit", "junk", "fine"):
        queue.put(QueueEntry(how, spec={"how": how}))
    assert run_worker(queue, misbehave, "w1", config) == 5
    ended = {e.id: e for e in queue.iter_entries()}
    assert {k: e.state for k, e in ended.items()} == {
        "raise": "failed",
        "sigkill": "failed",
        "exit": "failed",
        "junk": "failed",
        "fine": "succeeded",
    }
    assert ended["raise"].result == {"error": "RuntimeError: boom", "exit_code": 1}
    assert ended["sigkill"].result == {"error": "the runner was killed by SIGKILL", "exit_code": -9}
    assert ended["exit"].result is not None
    assert ended["exit"].result["error"] == "the runner exited with code 3 and left no result"
    assert (
        ended["junk"].result is not None
        and "not JSON serializable" in ended["junk"].result["error"]
    )
    log = log_path(config.queue_dir, "raise").read_text()
    assert "Traceback (most recent call last)" in log and "RuntimeError: boom" in log


def test_what_a_run_leaves_running_is_killed(
    queue: SqliteQueueBackend, config: WorkerConfig, tmp_path: Path
) -> None:
    pidfile = tmp_path / "left.pid"
    queue.put(QueueEntry("e1", spec={"how": "leave", "pidfile": str(pidfile)}))
    run_worker(queue, misbehave, "w1", config)
    assert queue.get("e1").state == EntryState.SUCCEEDED  # type: ignore[union-attr]
    wait_for(lambda: gone(int(pidfile.read_text())), "the left-over process to die", 5)


def test_a_kill_request_interrupts_the_whole_run(
    queue: SqliteQueueBackend, config: WorkerConfig, tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleep.pid"
    queue.put(QueueEntry("e1", spec={"queue": queue.url, "pidfile": str(pidfile)}))
    queue.put(QueueEntry("e2", spec={"queue": queue.url, "pidfile": str(pidfile) + "2"}))
    queue.put(
        QueueEntry("e3", spec={"queue": queue.url, "pidfile": str(pidfile) + "3", "graceful": True})
    )
    started = time.monotonic()
    assert run_worker(queue, kill_myself, "w1", config) == 3
    assert time.monotonic() - started < 20  # nobody slept their 60 s
    e1 = queue.get("e1")
    assert e1 is not None and e1.state == EntryState.CANCELLED
    assert e1.result == {"error": "interrupted", "exit_code": 1}
    assert gone(int(pidfile.read_text()))  # the runner's subprocess got the SIGINT too
    assert "KeyboardInterrupt" in log_path(config.queue_dir, "e1").read_text()
    e3 = queue.get("e3")  # a runner that handles the interrupt keeps its result
    assert e3 is not None and (e3.state, e3.result) == ("succeeded", {"interrupted": True})


def test_a_forced_kill_ends_a_run_that_ignores_sigint(
    queue: SqliteQueueBackend, config: WorkerConfig, tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleep.pid"
    spec = {"queue": queue.url, "pidfile": str(pidfile), "ignore_int": True}
    queue.put(QueueEntry("e1", spec=spec))
    run_worker(queue, kill_myself, "w1", config)
    e1 = queue.get("e1")
    assert e1 is not None and e1.state == EntryState.CANCELLED
    assert e1.result == {"error": "the runner was killed by SIGKILL", "exit_code": -9}
    assert "still here after SIGINT" in log_path(config.queue_dir, "e1").read_text()
    wait_for(lambda: gone(int(pidfile.read_text())), "the runner's subprocess to die", 5)


def test_stop_lets_the_running_entry_finish(
    queue: SqliteQueueBackend, config: WorkerConfig
) -> None:
    for entry_id in ("a", "b", "c"):
        queue.put(QueueEntry(entry_id, spec={"queue": queue.url}))
    assert run_worker(queue, stop_queue, "w1", config) == 1
    assert states(queue) == {"a": "succeeded", "b": "queued", "c": "queued"}
    assert list(queue.iter_workers()) == []


def test_stop_with_kill_cancels_the_running_entry(
    queue: SqliteQueueBackend, config: WorkerConfig, tmp_path: Path
) -> None:
    for entry_id in ("a", "b"):
        spec = {"queue": queue.url, "pidfile": str(tmp_path / entry_id), "stop": True}
        queue.put(QueueEntry(entry_id, spec=spec))
    assert run_worker(queue, kill_myself, "w1", config) == 1
    assert states(queue) == {"a": "cancelled", "b": "queued"}


def test_a_worker_waits_for_devices_another_run_holds(
    queue: SqliteQueueBackend, config: WorkerConfig, tmp_path: Path
) -> None:
    out = tmp_path / "order.txt"
    other = subprocess.Popen(["sleep", "60"])  # a live worker elsewhere on this host
    try:
        other_stamp = process_stamp(other.pid)
        assert other_stamp is not None
        queue.put(QueueEntry("held", gpus=1))
        held = queue.claim(other_stamp, ["0"])
        queue.put(QueueEntry("next", gpus=1, spec={"out": str(out)}))
        queue.put(QueueEntry("never", gpus=2))  # more than the pool: left queued

        def finish_later() -> None:
            time.sleep(0.5)
            elsewhere = open_backend(queue.url)
            assert held is not None and elsewhere.finish(held, EntryState.SUCCEEDED, {})
            elsewhere.close()

        thread = threading.Thread(target=finish_later)
        started = time.monotonic()
        thread.start()
        cfg = WorkerConfig(config.queue_dir, ("0",), poll=0.05)
        assert run_worker(queue, append_id, "w1", cfg) == 1
        thread.join()
        assert time.monotonic() - started >= 0.5
        assert queue.get("next").devices == ("0",)  # type: ignore[union-attr]
        assert states(queue) == {"held": "succeeded", "next": "succeeded", "never": "queued"}
    finally:
        other.kill()
        other.wait()


def test_a_worker_id_of_a_live_worker_is_not_taken(
    queue: SqliteQueueBackend, config: WorkerConfig
) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        stamp = process_stamp(other.pid)
        assert stamp is not None and queue.register_worker(WorkerInfo("w1", stamp))
        queue.put(QueueEntry("e1", spec={"how": "fine"}))
        assert run_worker(queue, misbehave, "w1", config) == 0
        assert states(queue) == {"e1": "queued"}
    finally:
        other.kill()
        other.wait()


def test_the_in_memory_twin_runs_entries_too(config: WorkerConfig, tmp_path: Path) -> None:
    queue = MemoryQueueBackend()
    queue.put(QueueEntry("e1", spec={"out": str(tmp_path / "out")}))
    assert run_worker(queue, append_id, "w1", config) == 1
    assert states(queue) == {"e1": "succeeded"}  # type: ignore[arg-type]


# --- worker processes ---------------------------------------------------------------


def test_supervised_workers_share_out_devices_and_exit_when_done(
    queue: SqliteQueueBackend, tmp_path: Path, record: Path
) -> None:
    put_ticking(queue, record, 6, [2, 1, 1, 0, 1, 1], ticks=2, step=0.05)
    sup = make_supervisor(queue, tmp_path, "ticking", devices=("0", "1"))
    assert sup.start(2, detach=True) == 2
    assert sup.start(2, detach=True) == 0  # both run already
    for proc in sup.processes.values():
        assert os.getsid(proc.pid) == proc.pid  # detached: a session of their own
    wait_for(lambda: set(states(queue).values()) == {"succeeded"}, "every entry to succeed")
    assert sup.wait(timeout=20), "workers linger after the queue emptied"
    assert count_workers(queue) == (0, 0)
    for entry in queue.iter_entries():
        assert entry.result == {"id": entry.id, "devices": list(entry.devices)}
        assert len(entry.devices) == entry.gpus
    held: dict[str, str] = {}  # device -> entry using it, replayed from the timeline
    for entry_id, _, event, *rest in events(record):
        if event in ("start", "end"):
            for device in [d for d in rest[0].split(",") if d != "-"]:
                if event == "start":
                    assert device not in held, f"{entry_id} got {device} in use by {held}"
                    held[device] = entry_id
                else:
                    del held[device]
    assert worker_log_path(tmp_path / "queue", next(iter(sup.processes))).exists()


def test_attached_workers_stay_in_the_callers_process_group(
    queue: SqliteQueueBackend, tmp_path: Path, record: Path
) -> None:
    put_ticking(queue, record, 3)
    sup = make_supervisor(queue, tmp_path, "ticking")
    assert sup.start(2, detach=False) == 2
    for proc in sup.processes.values():
        assert os.getpgid(proc.pid) == os.getpgrp()
    assert sup.wait(timeout=30)
    assert set(states(queue).values()) == {"succeeded"}


def test_two_supervisors_started_at_once_run_each_entry_once(
    queue: SqliteQueueBackend, tmp_path: Path, record: Path
) -> None:
    ids = put_ticking(queue, record, 10, ticks=2, step=0.02)
    sups = [make_supervisor(queue, tmp_path, "ticking") for _ in range(2)]
    for sup in sups:
        sup.start(2, detach=True)
    for sup in sups:
        assert sup.wait(timeout=60)
    starts = sorted(e[0] for e in events(record) if e[2] == "start")
    assert starts == ids
    assert set(states(queue).values()) == {"succeeded"}


def test_a_killed_workers_entry_runs_again_but_never_alongside_its_old_run(
    queue: SqliteQueueBackend, tmp_path: Path, record: Path
) -> None:
    (entry_id,) = put_ticking(queue, record, 1, ticks=25, step=0.04)
    sup = make_supervisor(queue, tmp_path, "ticking")
    sup.start(1)
    wait_for(lambda: any(e[2] == "tick" for e in events(record)), "the run to tick")
    (worker,) = queue.iter_workers()
    os.kill(worker.process.pid, signal.SIGKILL)
    sup.wait(timeout=10)
    ticks = len(events(record))
    wait_for(lambda: len(events(record)) > ticks + 1, "the orphaned run to tick on")
    sup.start(1)  # the new worker kills what is left of the old run, then runs it again
    wait_for(lambda: queue.get(entry_id).is_final, "the entry to end")  # type: ignore[union-attr]
    final = queue.get(entry_id)
    assert final is not None and (final.state, final.attempts) == ("succeeded", 2)
    check_timeline(record, {entry_id: final})
    assert "labrun: attempt 2" in log_path(tmp_path / "queue", entry_id).read_text()
    assert sup.wait(timeout=20)


@pytest.mark.slow
def test_workers_killed_at_random_moments_lose_and_overlap_nothing(
    queue: SqliteQueueBackend, tmp_path: Path, record: Path
) -> None:
    rng = random.Random(SEED)
    ids = put_ticking(queue, record, 16, ticks=4, step=0.03)
    sup = make_supervisor(queue, tmp_path, "ticking", max_attempts=100)
    deadline = time.monotonic() + 120
    kills = 0
    while any(not e.is_final for e in queue.iter_entries()):
        assert time.monotonic() < deadline, f"stuck: {states(queue)}"
        sup.start(3)
        time.sleep(rng.uniform(0.05, 0.4))
        live = list(queue.iter_workers())
        if live and kills < 12:
            os.kill(rng.choice(live).process.pid, signal.SIGKILL)
            kills += 1
    assert sup.wait(timeout=30)
    finals = {e.id: e for e in queue.iter_entries()}
    assert sorted(finals) == ids
    assert {e.state for e in finals.values()} == {EntryState.SUCCEEDED}
    assert sum(e.attempts for e in finals.values()) > len(ids) + 3  # kills hit runs
    check_timeline(record, finals)
    assert all(gone(int(e[3])) for e in events(record) if e[2] == "pid")


def test_an_entry_whose_workers_keep_dying_fails_with_its_log(
    queue: SqliteQueueBackend, tmp_path: Path, record: Path
) -> None:
    (entry_id,) = put_ticking(queue, record, 1, ticks=50, step=0.02)
    sup = make_supervisor(queue, tmp_path, "ticking", max_attempts=2)
    for attempt in (1, 2):
        sup.start(1)
        wait_for(functools.partial(has_ticked, record, attempt), f"attempt {attempt} to tick")
        (worker,) = queue.iter_workers()
        os.kill(worker.process.pid, signal.SIGKILL)
        sup.wait(timeout=10)
    (failed,) = queue.requeue_orphans(max_attempts=2)
    assert failed.state == EntryState.FAILED and failed.result is not None
    assert "died while running it (attempt 2)" in failed.result["error"]
    assert log_path(tmp_path / "queue", entry_id).read_text().count(f"running {entry_id}") == 2
    check_timeline(record, {entry_id: failed})


# --- logs ---------------------------------------------------------------------------


def test_a_forked_worker_is_waited_for_until_it_exits() -> None:
    pid = os.fork()
    if pid == 0:
        time.sleep(2.0)  # long enough to be still running on a loaded machine
        os._exit(3)
    worker = ForkedWorker(pid)
    with pytest.raises(subprocess.TimeoutExpired):
        worker.wait(timeout=0.05)
    assert worker.poll() is None
    assert worker.wait(timeout=30) == 3
    assert worker.returncode == 3 and worker.pidfd is None


def test_follow_log_yields_lines_as_they_are_written(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    done = threading.Event()

    def write() -> None:
        time.sleep(0.1)  # the file does not exist yet when following starts
        with open(path, "ab", buffering=0) as fobj:
            for n in range(5):
                fobj.write(f"line {n}\n".encode())
                time.sleep(0.02)
            fobj.write(b"half ")
            time.sleep(0.05)
            fobj.write("a line\nnö end".encode())
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    got = list(follow_log(path, done.is_set, poll=0.01))
    thread.join()
    assert got == [*(f"line {n}\n" for n in range(5)), "half a line\n", "nö end"]
    assert list(follow_log(tmp_path / "never.log", lambda: True)) == []


def test_follow_entry_streams_a_running_entry(queue: SqliteQueueBackend, tmp_path: Path) -> None:
    queue.put(QueueEntry("e1", spec={"lines": 15, "step": 0.03}))
    sup = make_supervisor(queue, tmp_path, "printer")
    sup.start(1)
    got = list(follow_entry(queue, "e1", tmp_path / "queue", poll=0.02))
    assert got == [*(f"line {n}\n" for n in range(15)), "no newline at the end"]
    assert queue.get("e1").state == EntryState.SUCCEEDED  # type: ignore[union-attr]
    assert list(follow_entry(queue, "unknown", tmp_path / "queue")) == []
    sup.wait(timeout=20)


# --- status cost, errors, devices -----------------------------------------------------

STATUS = """
from labrun.experiments.queue.backend import count_workers
from labrun.experiments.queue.local import SqliteQueueBackend
import sys
queue = SqliteQueueBackend(sys.argv[1])
queue.requeue_orphans()
rows = list(queue.iter_entries())
assert len(rows) == 500 and all(e.state == "succeeded" for e in rows)
count_workers(queue)
"""


def test_status_of_500_finished_entries_is_cheap(queue: SqliteQueueBackend) -> None:
    queue._conn.execute("PRAGMA synchronous = OFF")  # only to fill the queue faster
    me = current_process()
    for n in range(500):
        spec = {"params": {"params.yaml": [f"lr={n}"]}, "targets": []}
        queue.put(QueueEntry(f"{n:040x}", name=f"exp-{n}", baseline="a" * 40, spec=spec))
    for entry in iter(lambda: queue.claim(me, []), None):
        queue.finish(entry, EntryState.SUCCEEDED, {"ref": f"refs/exps/aa/bb/{entry.name}"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", STATUS, queue.path], check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert spent < 0.2, f"queue status took {spent:.3f} s of process time"


def test_a_worker_with_a_bad_runner_says_so(queue: SqliteQueueBackend, tmp_path: Path) -> None:
    args = [f"--backend={queue.url}", "--runner=no_such_module:run", "--id=w1"]
    proc = subprocess.run(
        [sys.executable, "-m", "labrun.experiments.queue.workers", *args, "--queue-dir=q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert proc.returncode == 1
    assert "cannot import the runner module of 'no_such_module:run'" in proc.stderr
    with pytest.raises(RunnerSpecError, match="names no function"):
        load_runner("os.path:no_such_function")
    with pytest.raises(RunnerSpecError, match="form"):
        load_runner("just_a_module")


def test_supervisors_need_a_shared_queue_and_a_runner_path(
    queue: SqliteQueueBackend, config: WorkerConfig
) -> None:
    with pytest.raises(QueueError, match="one process"):
        Supervisor(MemoryQueueBackend(), "qrunners:ticking", config)
    with pytest.raises(RunnerSpecError):
        Supervisor(queue, "qrunners.ticking", config)
    with pytest.raises(ValueError, match="policy"):
        WorkerConfig("q", policy="sometimes")


def test_device_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_devices(" 0, 1 ,3") == ("0", "1", "3")
    assert parse_devices("none") == parse_devices("") == ()
    for bad in ("0,,1", "0,1,0"):
        with pytest.raises(DeviceSpecError):
            parse_devices(bad)
    assert detect_devices({"CUDA_VISIBLE_DEVICES": "2,3"}) == ("2", "3")
    assert detect_devices({"CUDA_VISIBLE_DEVICES": "-1"}) == ()
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    lines = [f"echo 'GPU {n}: NVIDIA A100 (UUID: GPU-{n}a)'" for n in range(2)]
    fake.write_text("#!/bin/sh\n" + "\n".join(lines) + "\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert detect_devices({}) == ("0", "1")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert detect_devices({}) == ()
    assert device_env(()) == {"CUDA_VISIBLE_DEVICES": ""}
