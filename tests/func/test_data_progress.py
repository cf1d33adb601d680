"""The progress bar of the data commands: drawn on stderr when it is a terminal,
never otherwise, and never with -q."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrun import api
from tests.conftest import labrun_command, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

FILES = 3000


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "data" / "images").mkdir(parents=True)
    api.init(root, no_scm=True)
    for i in range(FILES):
        (root / "data" / "images" / f"{i:05d}.txt").write_text(f"image {i}\n")
    return root


def _run_on_terminal(args: list[str], cwd: Path, delay: str = "0") -> tuple[int, str, str]:
    """Run labrun with stderr on a pseudo-terminal (stdout on a pipe): code, stdout, stderr."""
    leader, follower = pty.openpty()
    env = {**os.environ, "LABRUN_PROGRESS_DELAY": delay, "TERM": "xterm", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [*labrun_command(), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    err = _drain(leader, proc)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(), out, err


def _drain(leader: int, proc: subprocess.Popen[bytes]) -> str:
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the other end is closed (Linux: EIO)
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_add_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    root = _project(tmp_path)
    code, out, err = _run_on_terminal(["add", "data/images"], root)
    assert code == 0, err
    assert "Hashing data/images" in err
    assert f"/{FILES:,} files" in err
    assert "\x1b[" in err  # drawn in place, then erased
    assert err.rstrip().endswith("\x1b[2K")  # erased at the end: the terminal is left clean
    assert "\x1b" not in out


def test_checkout_draws_a_bar_and_errors_stay_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path)
    api.add(root, [str(root / "data" / "images")])
    for name in os.listdir(root / "data" / "images"):
        os.unlink(root / "data" / "images" / name)
    code, out, err = _run_on_terminal(["checkout"], root)
    assert code == 0, err
    assert "Checking out data/images" in err
    assert out.splitlines() == ["M       data/images/"]
    code, out, err = _run_on_terminal(["checkout", "nope"], root)
    assert code != 0
    assert "Checking out" not in err
    assert [line for line in err.splitlines() if line.startswith("ERROR")]


def test_nothing_is_drawn_without_a_terminal_or_with_quiet(tmp_path: Path) -> None:
    root = _project(tmp_path)
    piped = run_cli(["add", "data/images"], root)
    assert piped.returncode == 0
    assert piped.stderr == ""
    (root / "data" / "images" / "new.txt").write_text("new\n")
    code, out, err = _run_on_terminal(["add", "-q", "data/images"], root)
    assert (code, out, err) == (0, "", "")


def test_quick_work_draws_no_bar(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    api.init(root, no_scm=True)
    (root / "small.txt").write_text("small\n")
    code, _out, err = _run_on_terminal(["add", "small.txt"], root, delay="30")
    assert (code, err) == (0, "")
