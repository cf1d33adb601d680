"""Starting a stage command without the subprocess module.

`import subprocess` brings `threading`, `signal`, `selectors` and `locale` with
it: several milliseconds of every `repro` and `exp run`, more than starting the
commands costs. A command whose output is not captured needs none of that:
:func:`spawn` starts it with ``posix_spawn`` (the stage's folder entered around
the call), and :func:`wait` waits for it. Both give what ``subprocess.Popen``
would: the same errors for a missing program or folder, the same exit codes
(``-N`` for signal N), the signals Python ignores restored to their default.

Changing the working folder is only safe while no other thread runs, so
:func:`spawn` answers None when one does, and the caller uses subprocess.

    >>> pid = spawn(["/bin/sh", "-c", "exit 3"], cwd="/", env={})
    >>> wait(pid) if pid is not None else 3
    3
"""

from __future__ import annotations

import contextlib
import os
from _thread import _count as _threads_started  # `threading` costs start-up time

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def spawn(argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> int | None:
    """Start ``argv`` in ``cwd`` with exactly ``env``; its pid, or None to use subprocess.

    Raises OSError as ``Popen`` does (no such program, no such folder).
    """
    if _threads_started() or not hasattr(os, "posix_spawn"):
        return None
    program = _which(argv[0], env)
    here = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(cwd)
        try:
            return os.posix_spawn(program, list(argv), dict(env), setsigdef=_DEFAULTED)
        finally:
            os.fchdir(here)
    finally:
        os.close(here)


def wait(pid: int) -> int:
    """Wait for ``pid``; its exit code, or ``-N`` when signal N ended it.

    Ctrl-C while waiting: the command (which got the same SIGINT from the
    terminal, or gets it here) is waited for, then KeyboardInterrupt goes on.
    """
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except KeyboardInterrupt:
        _interrupt(pid)
        os.waitpid(pid, 0)
        raise


def _interrupt(pid: int) -> None:
    """SIGINT to the command's process group, if it leads one (else the terminal sent it)."""
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGINT)


def _which(program: str, env: Mapping[str, str]) -> str:
    """The file that runs for ``program``, searched in ``env``'s PATH as subprocess does."""
    if os.sep in program:
        return program
    for folder in os.get_exec_path(dict(env)):
        path = os.path.join(folder, program)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    raise FileNotFoundError(2, "No such file or directory", program)


def _default_signals() -> tuple[int, ...]:
    """The signals Python ignores that a command must get back (as subprocess does)."""
    import _signal  # type: ignore[import-not-found]  # the C half of `signal`: no enums to build

    names = ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
    return tuple(getattr(_signal, name) for name in names if hasattr(_signal, name))


_DEFAULTED = _default_signals()
