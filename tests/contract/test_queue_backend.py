"""The QueueBackend contract, run against every backend.

A new backend (Redis) needs only a new entry in ``BACKENDS``. Tests that need a
second process to open the same queue skip backends whose ``url`` is empty (the
in-memory twin). SQLite-specific behaviour (reopening, damage, layout versions) is
checked after the shared suite.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labrun.experiments.queue.backend import (
    FAIL,
    AmbiguousEntryError,
    EntryExistsError,
    MemoryQueueBackend,
    QueueBackend,
    find_entry,
    open_backend,
)
from labrun.experiments.queue.entry import (
    EntryState,
    ProcessStamp,
    QueueEntry,
    QueueError,
    WorkerInfo,
    current_process,
    is_alive,
    process_stamp,
)
from labrun.experiments.queue.local import SqliteQueueBackend

REPO = Path(__file__).resolve().parents[2]

BACKENDS: dict[str, Callable[[Path], QueueBackend]] = {
    "memory": lambda tmp: MemoryQueueBackend(),
    "sqlite": lambda tmp: SqliteQueueBackend(tmp / "tmp" / "labrun" / "queue.db"),
}


@pytest.fixture(params=sorted(BACKENDS))
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueBackend]:
    backend = BACKENDS[request.param](tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def me() -> ProcessStamp:
    return current_process()


def spawn_sleeper(new_group: bool = False) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=new_group)


def stamp_of(proc: subprocess.Popen[bytes]) -> ProcessStamp:
    stamp = process_stamp(proc.pid)
    assert stamp is not None
    return stamp


@pytest.fixture
def dead() -> ProcessStamp:
    """The stamp of a process that has exited and been reaped."""
    proc = spawn_sleeper()
    stamp = stamp_of(proc)
    proc.kill()
    proc.wait()
    return stamp


def put(queue: QueueBackend, entry_id: str, **fields: object) -> QueueEntry:
    return queue.put(QueueEntry(entry_id, **fields))  # type: ignore[arg-type]


def ids(entries: Iterator[QueueEntry] | list[QueueEntry]) -> list[str]:
    return [e.id for e in entries]


def claim_all(queue: QueueBackend, worker: ProcessStamp, devices: list[str]) -> list[str]:
    claimed = []
    while (entry := queue.claim(worker, devices)) is not None:
        claimed.append(entry.id)
    return claimed


# --- entries ------------------------------------------------------------------------


def test_put_then_get_round_trips(queue: QueueBackend) -> None:
    entry = QueueEntry(
        "4baf851",
        name="q1",
        baseline="af69049",
        spec={"params": {"params.yaml": ["lr=0.1"]}, "targets": []},
        priority=3,
        gpus=2,
        created=1700000000.5,
    )
    stored = queue.put(entry)
    assert stored == entry
    assert queue.get("4baf851") == entry
    assert queue.get("nope") is None


def test_put_stores_a_fresh_queued_entry(queue: QueueBackend, me: ProcessStamp) -> None:
    entry = QueueEntry("e1", state=EntryState.FAILED, worker=me, attempts=4, result={"x": 1})
    stored = queue.put(entry)
    assert (stored.state, stored.worker, stored.result) == (EntryState.QUEUED, None, None)
    assert queue.get("e1") == stored


def test_put_twice_is_an_error(queue: QueueBackend) -> None:
    put(queue, "e1", name="first")
    with pytest.raises(EntryExistsError):
        put(queue, "e1", name="second")
    assert queue.get("e1").name == "first"  # type: ignore[union-attr]


def test_spec_must_be_json_and_comes_back_as_json(queue: QueueBackend) -> None:
    with pytest.raises(QueueError, match="not JSON"):
        put(queue, "bad", spec={"x": object()})
    assert queue.get("bad") is None
    put(queue, "e1", spec={"pair": (1, 2)})
    assert queue.get("e1").spec == {"pair": [1, 2]}  # type: ignore[union-attr]


def test_entries_come_in_put_order_and_by_state(queue: QueueBackend, me: ProcessStamp) -> None:
    for name in ("c", "a", "b"):
        put(queue, name, priority={"a": 5}.get(name, 0))
    running = queue.claim(me, [])
    assert running is not None and running.id == "a"
    assert ids(queue.iter_entries()) == ["c", "a", "b"]
    assert ids(queue.iter_entries([EntryState.QUEUED])) == ["c", "b"]
    assert ids(queue.iter_entries([EntryState.RUNNING, EntryState.FAILED])) == ["a"]
    assert ids(queue.iter_entries([])) == []


def test_remove_forgets_all_but_running_entries(queue: QueueBackend, me: ProcessStamp) -> None:
    for name in ("run", "wait", "done"):
        put(queue, name)
    running = queue.claim(me, [])
    done = queue.claim(me, [])
    assert running is not None and done is not None
    queue.finish(done, EntryState.FAILED, {"error": "boom"})
    removed = queue.remove(["run", "wait", "done", "unknown", "wait"])
    assert sorted(removed) == ["done", "wait"]
    assert ids(queue.iter_entries()) == ["run"]


def test_an_entry_put_again_after_removal_goes_to_the_back(queue: QueueBackend) -> None:
    put(queue, "a")
    put(queue, "b")
    queue.remove(["a"])
    put(queue, "a")
    assert ids(queue.iter_entries()) == ["b", "a"]


def test_find_entry_by_id_name_or_prefix(queue: QueueBackend) -> None:
    put(queue, "4baf851e", name="q1")
    put(queue, "4bc00000", name="q2")
    put(queue, "77aa0000", name="q1")  # a name can come back (after a retry by hand, say)
    assert find_entry(queue, "4baf851e").id == "4baf851e"  # type: ignore[union-attr]
    assert find_entry(queue, "q1").id == "77aa0000"  # type: ignore[union-attr]
    assert find_entry(queue, "4baf").id == "4baf851e"  # type: ignore[union-attr]
    assert find_entry(queue, "zz") is None
    assert find_entry(queue, "") is None
    with pytest.raises(AmbiguousEntryError, match="4baf851e, 4bc00000"):
        find_entry(queue, "4b")


# --- claims -------------------------------------------------------------------------


def test_claim_takes_the_highest_priority_then_the_oldest(
    queue: QueueBackend, me: ProcessStamp
) -> None:
    for entry_id, priority in [("l1", 0), ("h1", 5), ("l2", 0), ("m1", 2), ("h2", 5), ("n", -1)]:
        put(queue, entry_id, priority=priority)
    assert claim_all(queue, me, []) == ["h1", "h2", "m1", "l1", "l2", "n"]
    assert queue.claim(me, []) is None


def test_a_claim_prefers_the_entry_its_worker_got_ready_for(
    queue: QueueBackend, me: ProcessStamp
) -> None:
    """Taken out of turn if it fits and nothing queued that fits outranks it."""
    for entry_id in ("a", "b", "c", "d", "e"):
        put(queue, entry_id)
    put(queue, "gpu", gpus=1)
    put(queue, "low", priority=-1)

    def claimed(prefer: str, devices: tuple[str, ...] = ()) -> str:
        entry = queue.claim(me, list(devices), prefer=prefer)
        assert entry is not None and entry.worker == me
        return entry.id

    assert claimed("c") == "c"
    assert claimed("gpu") == "a"  # it needs a device this worker does not have
    assert claimed("low") == "b"  # outranked
    assert claimed("nosuch") == "d"
    assert claimed("c") == "e"  # running already
    assert claimed("low", ("0",)) == "gpu"  # outranked by the next in turn
    assert claim_all(queue, me, []) == ["low"]


def test_a_claimed_entry_is_running_for_its_worker(queue: QueueBackend, me: ProcessStamp) -> None:
    put(queue, "e1", name="q1")
    before = time.time()
    entry = queue.claim(me, ["0"])
    assert entry is not None
    assert (entry.state, entry.worker, entry.attempts, entry.devices) == ("running", me, 1, ())
    assert entry.started is not None and entry.started >= before - 1
    assert queue.get("e1") == entry


def test_each_running_entry_gets_devices_of_its_own(queue: QueueBackend, me: ProcessStamp) -> None:
    pool = ["0", "1", "2", "3"]
    put(queue, "two", gpus=2)
    put(queue, "three", gpus=3)  # only 2 free after "two": skipped, not lost
    put(queue, "one", gpus=1)
    put(queue, "none", gpus=0)
    got = {e.id: e for e in iter(lambda: queue.claim(me, pool), None)}
    assert {k: e.devices for k, e in got.items()} == {
        "two": ("0", "1"),
        "one": ("2",),
        "none": (),
    }
    assert queue.get("three").state == EntryState.QUEUED  # type: ignore[union-attr]
    assert queue.finish(got["two"], EntryState.SUCCEEDED, {})
    three = queue.claim(me, pool)
    assert three is not None and three.devices == ("0", "1", "3")


def test_entries_without_devices_never_wait_for_them(queue: QueueBackend, me: ProcessStamp) -> None:
    put(queue, "big", gpus=1, priority=9)
    put(queue, "small")
    small = queue.claim(me, [])  # no devices at all: "big" is skipped, "small" runs
    assert small is not None and small.id == "small"
    assert queue.claim(me, []) is None
    assert queue.get("big").state == EntryState.QUEUED  # type: ignore[union-attr]


def test_devices_held_on_another_host_are_free_here(queue: QueueBackend, me: ProcessStamp) -> None:
    elsewhere = ProcessStamp("elsewhere.invalid", me.pid, me.ticks, "other-boot")
    put(queue, "there", gpus=1)
    put(queue, "here", gpus=1)
    there = queue.claim(elsewhere, ["0"])
    here = queue.claim(me, ["0"])
    assert there is not None and here is not None
    assert there.devices == here.devices == ("0",)


def test_finish_records_the_outcome(queue: QueueBackend, me: ProcessStamp) -> None:
    put(queue, "e1")
    entry = queue.claim(me, [])
    assert entry is not None
    with pytest.raises(ValueError, match="final"):
        queue.finish(entry, EntryState.QUEUED, None)
    assert queue.finish(entry, EntryState.SUCCEEDED, {"ref": "refs/exps/ab/cd/q1"})
    done = queue.get("e1")
    assert done is not None and done.is_final
    assert (done.state, done.result, done.worker) == (
        "succeeded",
        {"ref": "refs/exps/ab/cd/q1"},
        me,
    )
    assert done.finished is not None and done.started is not None
    assert done.finished >= done.started
    assert not queue.finish(entry, EntryState.FAILED, {})  # finished once only


def test_a_lost_claim_can_neither_start_nor_finish(
    queue: QueueBackend, me: ProcessStamp, dead: ProcessStamp
) -> None:
    put(queue, "e1")
    stale = queue.claim(dead, [])
    assert stale is not None
    assert [e.state for e in queue.requeue_orphans()] == [EntryState.QUEUED]
    fresh = queue.claim(me, [])
    assert fresh is not None and fresh.attempts == 2
    assert not queue.mark_running(stale, me, "/x.log")
    assert not queue.finish(stale, EntryState.SUCCEEDED, {})
    assert queue.mark_running(fresh, me, "/tmp/e1.log")
    running = queue.get("e1")
    assert running is not None and (running.runner, running.log) == (me, "/tmp/e1.log")
    assert queue.finish(running, EntryState.SUCCEEDED, {})  # `runner` is not part of the claim


# --- orphans ------------------------------------------------------------------------


def test_entries_of_dead_workers_go_back_to_their_place(
    queue: QueueBackend, me: ProcessStamp, dead: ProcessStamp
) -> None:
    put(queue, "first", gpus=1)
    put(queue, "mine")
    put(queue, "later")
    orphan = queue.claim(dead, ["0"])
    mine = queue.claim(me, ["0"])
    assert orphan is not None and orphan.devices == ("0",)
    assert mine is not None and mine.id == "mine"
    settled = queue.requeue_orphans()
    assert ids(settled) == ["first"]
    again = queue.get("first")
    assert again is not None
    assert (again.state, again.worker, again.devices, again.attempts) == ("queued", None, (), 1)
    assert queue.get("mine") == mine  # a live worker's entry is left alone
    assert queue.requeue_orphans() == []
    assert claim_all(queue, me, ["0"]) == ["first", "later"]
    assert queue.get("first").attempts == 2  # type: ignore[union-attr]


def test_orphans_fail_with_the_fail_policy(queue: QueueBackend, dead: ProcessStamp) -> None:
    put(queue, "e1")
    queue.claim(dead, [])
    (failed,) = queue.requeue_orphans(FAIL)
    assert failed.state == EntryState.FAILED
    assert failed.result is not None and "died" in failed.result["error"]
    with pytest.raises(ValueError, match="policy"):
        queue.requeue_orphans("sometimes")


def test_orphans_fail_after_max_attempts(queue: QueueBackend, dead: ProcessStamp) -> None:
    put(queue, "e1")
    states = []
    for _ in range(3):
        assert queue.claim(dead, []) is not None
        states += [e.state for e in queue.requeue_orphans(max_attempts=3)]
    assert states == ["queued", "queued", "failed"]


def test_a_killed_orphan_is_cancelled(queue: QueueBackend, dead: ProcessStamp) -> None:
    put(queue, "e1")
    queue.claim(dead, [])
    assert queue.request_kill("e1")
    (cancelled,) = queue.requeue_orphans()
    assert cancelled.state == EntryState.CANCELLED


def test_what_is_left_of_a_dead_workers_run_is_killed(
    queue: QueueBackend, dead: ProcessStamp
) -> None:
    put(queue, "e1")
    entry = queue.claim(dead, [])
    runner = spawn_sleeper(new_group=True)
    try:
        assert entry is not None and queue.mark_running(entry, stamp_of(runner), "")
        assert ids(queue.requeue_orphans()) == ["e1"]
        assert runner.wait(timeout=10) == -9
    finally:
        runner.kill()
        runner.wait()


def test_a_recycled_pid_or_a_reboot_is_not_the_worker(
    queue: QueueBackend, me: ProcessStamp
) -> None:
    recycled = ProcessStamp(me.host, me.pid, me.ticks + 1, me.boot_id)
    rebooted = ProcessStamp(me.host, me.pid, me.ticks, "an-earlier-boot")
    elsewhere = ProcessStamp("elsewhere.invalid", 1, 1, "unknown")
    assert not is_alive(recycled) and not is_alive(rebooted) and is_alive(elsewhere)
    for stamp in (recycled, rebooted, elsewhere):
        put(queue, str(stamp.ticks) + stamp.boot_id)
        queue.claim(stamp, [])
    assert len(queue.requeue_orphans()) == 2
    (still,) = queue.iter_entries([EntryState.RUNNING])
    assert still.worker == elsewhere  # another host's worker cannot be judged from here


# --- changes by users ---------------------------------------------------------------


def test_priority_changes_the_claim_order_of_queued_entries(
    queue: QueueBackend, me: ProcessStamp
) -> None:
    for entry_id in ("a", "b", "c"):
        put(queue, entry_id)
    assert queue.set_priority("c", 1)
    assert not queue.set_priority("unknown", 1)
    first = queue.claim(me, [])
    assert first is not None and first.id == "c"
    assert not queue.set_priority("c", 7)  # running: too late
    assert claim_all(queue, me, []) == ["a", "b"]


def test_retry_queues_failed_and_cancelled_entries(
    queue: QueueBackend, me: ProcessStamp, dead: ProcessStamp
) -> None:
    for entry_id in ("ok", "bad", "killed", "waiting"):
        put(queue, entry_id)
    outcomes = {"ok": EntryState.SUCCEEDED, "bad": EntryState.FAILED}
    outcomes["killed"] = EntryState.CANCELLED
    for entry_id, state in outcomes.items():
        entry = queue.claim(me, [])
        assert entry is not None and entry.id == entry_id
        queue.finish(entry, state, {"error": "x"})
    assert queue.retry(["ok", "bad", "killed", "waiting", "nope"]) == ["bad", "killed"]
    bad = queue.get("bad")
    assert bad is not None
    assert (bad.state, bad.result, bad.finished, bad.attempts) == ("queued", None, None, 1)
    assert claim_all(queue, me, []) == ["bad", "killed", "waiting"]


def test_kill_requests_reach_running_entries_only(queue: QueueBackend, me: ProcessStamp) -> None:
    put(queue, "run")
    put(queue, "wait")
    assert queue.claim(me, []) is not None
    assert not queue.request_kill("wait")
    assert not queue.request_kill("unknown")
    assert queue.request_kill("run")
    assert queue.get("run").kill == "INT"  # type: ignore[union-attr]
    assert queue.request_kill("run", force=True)
    assert queue.request_kill("run")  # a plain request does not weaken a forced one
    assert queue.get("run").kill == "KILL"  # type: ignore[union-attr]
    assert queue.get("wait").kill == ""  # type: ignore[union-attr]


# --- workers ------------------------------------------------------------------------


def test_a_worker_id_belongs_to_one_live_process(
    queue: QueueBackend, me: ProcessStamp, dead: ProcessStamp
) -> None:
    other = spawn_sleeper()
    try:
        assert queue.register_worker(WorkerInfo("w1", stamp_of(other), ("0",)))
        assert not queue.register_worker(WorkerInfo("w1", me))
        assert queue.register_worker(WorkerInfo("w2", me))
        assert queue.register_worker(WorkerInfo("w2", me))  # the same process again
        other.kill()
        other.wait()
        assert queue.register_worker(WorkerInfo("w1", me))  # the holder died
        assert queue.register_worker(WorkerInfo("w3", dead))
        assert sorted(w.id for w in queue.iter_workers()) == ["w1", "w2"]
    finally:
        other.kill()
        other.wait()


def test_heartbeat_and_stop_requests(queue: QueueBackend, me: ProcessStamp) -> None:
    assert queue.heartbeat("w1") is None
    info = WorkerInfo("w1", me, ("0", "1"), started=5.0)
    queue.register_worker(info)
    assert queue.heartbeat("w1") == info
    assert queue.request_stop() == 1
    stopped = queue.heartbeat("w1")
    assert stopped is not None and stopped.stop and stopped.devices == ("0", "1")
    queue.register_worker(WorkerInfo("w2", me))  # started after the request: keeps going
    assert not queue.heartbeat("w2").stop  # type: ignore[union-attr]


def test_stop_with_kill_asks_every_running_entry_to_die(
    queue: QueueBackend, me: ProcessStamp
) -> None:
    for entry_id in ("a", "b", "c"):
        put(queue, entry_id)
    queue.claim(me, [])
    queue.claim(me, [])
    queue.register_worker(WorkerInfo("w1", me))
    assert queue.request_stop(kill=True) == 1
    assert {e.id: e.kill for e in queue.iter_entries()} == {"a": "KILL", "b": "KILL", "c": ""}


def test_unregister_removes_only_its_own_row(queue: QueueBackend, me: ProcessStamp) -> None:
    mine = WorkerInfo("w1", me)
    queue.register_worker(mine)
    queue.unregister_worker(WorkerInfo("w1", ProcessStamp(me.host, 1, 1, me.boot_id)))
    assert [w.id for w in queue.iter_workers()] == ["w1"]
    queue.unregister_worker(mine)
    assert list(queue.iter_workers()) == []


# --- several processes --------------------------------------------------------------

CLAIMER = """
import json, sys, time
from labrun.experiments.queue.backend import open_backend
from labrun.experiments.queue.entry import EntryState, current_process
queue, me, log = open_backend(sys.argv[1]), current_process(), []
while True:
    entry = queue.claim(me, ["0", "1"])
    if entry is None:
        if not list(queue.iter_entries([EntryState.QUEUED])):
            break
        time.sleep(0.002)
        continue
    start = time.monotonic()
    time.sleep(0.002 * entry.gpus)
    log.append([entry.id, list(entry.devices), start, time.monotonic()])
    queue.finish(entry, EntryState.SUCCEEDED, {"pid": me.pid})
print(json.dumps(log))
"""


def test_processes_claiming_at_once_never_share_an_entry_or_a_device(
    queue: QueueBackend,
) -> None:
    if not queue.url:
        pytest.skip("this backend lives in one process")
    for n in range(60):
        put(queue, f"e{n:02}", gpus=n % 3 % 2)  # a third need one device
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, queue.url], stdout=subprocess.PIPE, env=env
        )
        for _ in range(4)
    ]
    runs = [run for proc in procs for run in json.loads(proc.communicate(timeout=120)[0])]
    assert sorted(run[0] for run in runs) == [f"e{n:02}" for n in range(60)]
    assert {e.state for e in queue.iter_entries()} == {EntryState.SUCCEEDED}
    assert sum(len(devs) for _, devs, _, _ in runs) == 20  # one each for e01, e04, ...
    for device in ("0", "1"):
        spans = sorted((start, end) for _, devs, start, end in runs if device in devs)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_open_backend_opens_the_same_queue(queue: QueueBackend) -> None:
    if not queue.url:
        pytest.skip("this backend lives in one process")
    put(queue, "e1", name="q1")
    other = open_backend(queue.url)
    try:
        assert other.get("e1") == queue.get("e1")
    finally:
        other.close()


# --- SQLite only --------------------------------------------------------------------


def test_sqlite_queue_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with SqliteQueueBackend(path) as queue:
        put(queue, "e1", name="q1", spec={"a": 1})
    with SqliteQueueBackend(path) as queue:
        assert ids(queue.iter_entries()) == ["e1"]
        assert queue.url == f"sqlite:{path}"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_damaged_sqlite_queue_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    path.write_bytes(b"this is not a database, just some text that is long enough" * 20)
    with pytest.raises(QueueError, match="damaged") as info:
        SqliteQueueBackend(path)
    assert str(path) in str(info.value) and info.value.hint


def test_a_sqlite_queue_of_another_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(QueueError, match="layout 99"):
        SqliteQueueBackend(path)


def test_unknown_backend_urls_are_refused() -> None:
    with pytest.raises(QueueError, match="unknown queue backend"):
        open_backend("carrier-pigeon:coop")
