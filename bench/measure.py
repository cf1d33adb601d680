"""Time one whole process: wall clock, user/sys CPU and peak RSS, from `os.wait4`.

The child gets its own session so that a timeout can stop it and everything it
started. Peak RSS is `ru_maxrss` of the child, which on Linux is the largest
of the child and the descendants it waited for (not a sum, and not daemons
that detached themselves: see `lingering_pids`).

    >>> s = run_timed(["true"], Path("."), {"PATH": "/bin:/usr/bin"}, Path("/dev/null"), 10)
    >>> s.exit_code, s.wall < 10
    (0, True)
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_EXIT = -9


@dataclass(frozen=True)
class Sample:
    """One timed run. `extra` holds scenario-specific measures (e.g. worker linger, s)."""

    wall: float
    user: float
    sys: float
    peak_rss_mib: float
    exit_code: int
    timed_out: bool = False
    extra: dict[str, float] = field(default_factory=dict)


def run_timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float) -> Sample:
    """Run `argv` to completion, output to `log`; kill its process group after `timeout` s."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        killer = threading.Timer(timeout, _kill_group, (proc.pid,))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    timed_out = code == TIMEOUT_EXIT and wall >= timeout
    rss = usage.ru_maxrss / 1024
    return Sample(wall, usage.ru_utime, usage.ru_stime, rss, code, timed_out)


def run_untimed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a set-up command; return its exit code and combined output."""
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout, start_new_session=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        return TIMEOUT_EXIT, f"timed out after {timeout:g} s: {exc.output!r}"
    return done.returncode, done.stdout.decode(errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def lingering_pids(root: Path) -> list[int]:
    """Processes (not this one) whose working directory is inside `root` (Linux /proc)."""
    prefix, found = str(root.resolve()), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == prefix or cwd.startswith(prefix + os.sep):
            found.append(int(entry.name))
    return found


def wait_for_linger(root: Path, cap: float) -> float:
    """Seconds until no process works inside `root` any more; stop them after `cap` s."""
    start = time.perf_counter()
    while lingering_pids(root):
        if time.perf_counter() - start > cap:
            _stop(lingering_pids(root))
            break
        time.sleep(0.05)
    return time.perf_counter() - start


def _stop(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
