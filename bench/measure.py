"""Time one whole process: wall clock, user/sys CPU and peak RSS, from `os.wait4`.

The command is started by a tiny launcher (`python -I -S`, a few MiB) that
forks, execs it, waits for it with `os.wait4` and writes the numbers to a
file. Why not wait for it from here: Linux counts in `ru_maxrss` the peak
RSS of the process image the child had before `exec`, a copy of its parent;
forked straight from the suite, every command would show the suite's own
20+ MiB as a floor. From the launcher the floor is its RSS (`rss_floor_mib`
measures it). Peak RSS is the largest of the command and the descendants it
waited for (not a sum, and not daemons that detach: see `lingering_pids`).
Launcher and command share a new session, so a timeout kills both.

    >>> s = run_timed(["true"], Path("."), {"PATH": "/bin:/usr/bin"}, Path("/dev/null"), 10)
    >>> s.exit_code, s.wall < 10
    (0, True)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_EXIT = -9

_LAUNCHER = """\
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"cannot run {argv[0]}: {exc}\\n".encode())
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    f.write(f"{wall} {ru.ru_utime} {ru.ru_stime} {ru.ru_maxrss} {code}")
"""


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
    """Run `argv` to completion, output to `log`; kill it after `timeout` s."""
    with tempfile.TemporaryDirectory() as tmp, open(log, "wb") as out:
        numbers = Path(tmp) / "rusage"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(numbers), *argv]
        start = time.perf_counter()
        proc = subprocess.Popen(
            launcher, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
        if not numbers.exists():
            return Sample(time.perf_counter() - start, 0, 0, 0, TIMEOUT_EXIT, timed_out=True)
        wall, user, system, rss, code = numbers.read_text().split()
    return Sample(float(wall), float(user), float(system), int(rss) / 1024, int(code))


def rss_floor_mib() -> float:
    """Peak RSS reported for `true`: the launcher's share in every peak RSS."""
    env = {"PATH": os.environ.get("PATH", "/bin:/usr/bin")}
    return run_timed(["true"], Path("/"), env, Path(os.devnull), 60).peak_rss_mib


def run_untimed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a set-up command; return its exit code and combined output."""
    try:
        done = subprocess.run(
            argv, check=False, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout, start_new_session=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        return TIMEOUT_EXIT, f"timed out after {timeout:g} s: {exc.output!r}"
    return done.returncode, done.stdout.decode(errors="replace")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


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
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
