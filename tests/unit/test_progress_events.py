"""Progress of data work: the Meter's counting and throttling, and the events that
add, commit and checkout emit while they hash, store and link files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labrun import api
from labrun.cache.commit import commit_dir, commit_file
from labrun.cache.hashing import CHUNK
from labrun.cache.links import Linker, Workspace
from labrun.cache.odb import LocalObjectStore, MemoryObjectStore
from labrun.cache.state import State
from labrun.cache.workers import Meter, count_bytes, current_meter, map_files
from labrun.repro import events


class Sink:
    """Keeps every call, as (kind, files, size[, ok])."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def started(self, files: int, size: int | None) -> None:
        self.calls.append(("started", files, size))

    def advanced(self, files: int, size: int) -> None:
        self.calls.append(("advanced", files, size))

    def finished(self, files: int, size: int, ok: bool) -> None:
        self.calls.append(("finished", files, size, ok))

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _date_back(root: Path) -> None:
    """Make the files look written a minute ago: the hash memo trusts only settled files."""
    for path in root.iterdir():
        old = path.stat().st_mtime_ns - 60_000_000_000
        os.utime(path, ns=(old, old))


def _tree(root: Path, count: int, size: int = 10) -> list[tuple[str, int]]:
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(count):
        path = root / f"{i:05d}.txt"
        path.write_bytes(f"{i:0{size}d}".encode())
        items.append((str(path), size))
    return items


# -- the Meter --------------------------------------------------------------------------------


def test_counts_are_passed_on_at_most_once_per_interval() -> None:
    sink, clock = Sink(), Clock()
    meter = Meter(sink, interval=0.1, clock=clock)
    with meter.run(100, 1000):
        for _ in range(50):
            meter.advance(1, 10)  # no time passes: throttled
        clock.now += 0.1
        meter.advance(1, 10)
        for _ in range(49):
            meter.advance(1, 10)
    assert sink.calls == [
        ("started", 100, 1000),
        ("advanced", 51, 510),
        ("finished", 100, 1000, True),
    ]


def test_the_end_is_reported_even_when_the_work_fails() -> None:
    sink = Sink()
    with pytest.raises(OSError), Meter(sink).run(5, None) as meter:
        meter.advance(2, 0)
        raise OSError("disk full")
    assert sink.calls[0] == ("started", 5, None)
    assert sink.calls[-1] == ("finished", 2, 0, False)
    assert current_meter() is None  # the thread is no longer counted


def test_map_files_counts_slices_not_files(tmp_path: Path) -> None:
    items = _tree(tmp_path, 1000)
    calls: list[int] = []

    class Counting(Sink):
        def advanced(self, files: int, size: int) -> None:
            calls.append(files)

    with Meter(Counting(), interval=0).run(len(items), 10_000):
        found = map_files(lambda path, size: os.path.basename(path), items)
    assert found == [os.path.basename(p) for p, _ in items]
    assert 2 <= len(calls) <= 10  # a few slices, never one call per file
    assert calls[-1] == 1000


def test_map_files_on_threads_counts_every_file(tmp_path: Path) -> None:
    items = [(f"f{i}", 1 << 20) for i in range(64)]  # big enough for threads
    sink = Sink()
    with Meter(sink, interval=0).run(len(items), 64 << 20):
        assert map_files(lambda path, size: path, items, jobs=4) == [p for p, _ in items]
    assert sink.calls[-1] == ("finished", 64, 64 << 20, True)


def test_chunks_of_big_files_are_counted_once(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 * CHUNK + 5))  # streamed into the store, chunk by chunk
    size = big.stat().st_size
    sink = Sink()
    store = LocalObjectStore(tmp_path / "cache", durable=False)
    with Meter(sink, interval=0).run(1, size) as meter:
        store.ingest(big)
        mid = [c for c in sink.calls if c[0] == "advanced"]
        meter.settle(1, size)
    done = [c[2] for c in mid]  # all counted before the end, a few MiB at a time
    assert done == sorted(done) and done[-1] == size and len(done) >= 2
    assert all(0 < b - a <= 4 * CHUNK for a, b in zip([0, *done], done, strict=False))
    assert sink.calls[-1] == ("finished", 1, size, True)


def test_bytes_without_a_meter_cost_nothing() -> None:
    count_bytes(100)  # no meter on this thread: ignored
    assert current_meter() is None


def test_counts_between_runs_are_ignored() -> None:
    sink = Sink()
    meter = Meter(sink, interval=0)
    with meter.current():
        meter.advance(5, 50)  # no run started: no total, nothing to show
        assert map_files(lambda path, size: path, [("a", 1)]) == ["a"]
    assert sink.calls == []


# -- commit and checkout report through a meter --------------------------------------------


def test_commit_dir_reports_the_files_it_hashes(tmp_path: Path) -> None:
    _tree(tmp_path / "data", 600)
    _date_back(tmp_path / "data")
    sink, state = Sink(), State()
    with Meter(sink).current():
        listing = commit_dir(state, MemoryObjectStore(), tmp_path / "data")
    assert listing.info.nfiles == 600
    assert sink.calls[0] == ("started", 600, 6000)
    assert sink.calls[-1] == ("finished", 600, 6000, True)
    again = Sink()
    with Meter(again).current():
        commit_dir(state, MemoryObjectStore(), tmp_path / "data")
    assert again.calls == []  # nothing to read: the memo knows every file


def test_commit_file_reports_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 5000)
    sink = Sink()
    with Meter(sink).current():
        commit_file(State(), MemoryObjectStore(), tmp_path / "a.bin")
    assert sink.calls[0] == ("started", 1, 5000)
    assert sink.calls[-1] == ("finished", 1, 5000, True)


def test_checkout_reports_files_placed(tmp_path: Path) -> None:
    _tree(tmp_path / "data", 300)
    store = LocalObjectStore(tmp_path / "cache", durable=False)
    listing = commit_dir(State(), store, tmp_path / "data")
    sink = Sink()
    ws = Workspace(store, Linker(["copy"]))
    with Meter(sink).current():
        ws.checkout(listing.info, tmp_path / "copy")
    assert sink.calls[0] == ("started", 300, None)
    assert sink.calls[-1][0:2] == ("finished", 300)
    assert sink.calls[-1][3] is True


def test_checkout_of_missing_objects_still_ends_its_progress(tmp_path: Path) -> None:
    _tree(tmp_path / "data", 3)
    store = LocalObjectStore(tmp_path / "cache", durable=False)
    listing = commit_dir(State(), store, tmp_path / "data")
    for oid in list(store.iter_oids()):
        if not oid.endswith(".dir"):
            os.unlink(store.path_of(oid))
    sink = Sink()
    with pytest.raises(api.LabrunError), Meter(sink).current():
        Workspace(store).checkout(listing.info, tmp_path / "copy")
    assert sink.kinds() == ["started", "finished"]  # every file was looked at


# -- the events of the data commands ---------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "proj"
    root.mkdir()
    api.init(root, no_scm=True)
    _tree(root / "data", 700, size=20)
    yield root


def _data_events(rec: events.RecordingReporter) -> list[events.Event]:
    kinds = (events.DataStarted, events.DataProgress, events.DataFinished)
    return [e for e in rec.events if isinstance(e, kinds)]


def test_add_emits_start_progress_end(project: Path) -> None:
    rec = events.RecordingReporter()
    api.add(project, [str(project / "data")], reporter=rec)
    stream = _data_events(rec)
    assert stream[0] == events.DataStarted("", "hashing", "data", 700, 14000)
    assert isinstance(stream[-1], events.DataFinished)
    assert (stream[-1].files, stream[-1].size, stream[-1].ok) == (700, 14000, True)
    middle = stream[1:-1]
    assert all(isinstance(e, events.DataProgress) for e in middle)
    assert len(middle) <= 10  # throttled: at most ~10 a second, whatever the file count


def test_checkout_emits_progress_and_commit_none_when_unchanged(project: Path) -> None:
    _date_back(project / "data")  # files written in the last tick would be read again
    api.add(project, [str(project / "data")])
    for name in os.listdir(project / "data")[:200]:
        os.unlink(project / "data" / name)
    rec = events.RecordingReporter()
    api.checkout(project, reporter=rec)
    stream = _data_events(rec)
    started = [e for e in stream if isinstance(e, events.DataStarted)]
    assert [(e.action, e.files) for e in started] == [("checkout", 200)]
    assert isinstance(stream[-1], events.DataFinished) and stream[-1].files == 200
    rec = events.RecordingReporter()
    api.commit(project, options=api.CommitOptions(force=True), reporter=rec)
    assert _data_events(rec) == []  # the memo knows every file, checked out ones too


def test_repro_reports_the_outputs_it_hashes_and_stores(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    api.init(root, no_scm=True)
    script = (
        "import os\nos.makedirs('out')\nfor i in range(300): open(f'out/{i}', 'w').write(str(i))\n"
    )
    (root / "gen.py").write_text(script)
    (root / "dvc.yaml").write_text(
        "stages:\n  gen:\n    cmd: python3 gen.py\n    deps: [gen.py]\n    outs: [out]\n"
    )
    rec = events.RecordingReporter()
    api.repro(root, reporter=rec)
    stream = _data_events(rec)
    started = [
        (e.stage, e.action, e.path, e.files) for e in stream if isinstance(e, events.DataStarted)
    ]
    assert started[0] == ("gen", "hashing", "out", 300)
    assert all(
        item[:3] in {("gen", "hashing", "out"), ("gen", "linking", "out")} for item in started
    )
    finished = [e for e in stream if isinstance(e, events.DataFinished)]
    assert len(finished) == len(started) and all(e.ok for e in finished)
    assert (finished[0].files, finished[0].size) == (300, sum(len(str(i)) for i in range(300)))
