"""The checkpoint signal protocol, seen from the engine (DVC 2.x, kept alive by labrun).

A stage with a `checkpoint: true` output, run by `exp run`, gets
``DVC_CHECKPOINT=1`` and ``DVC_ROOT``. Whenever its command wants a checkpoint
it creates ``$DVC_ROOT/.dvc/tmp/DVC_CHECKPOINT`` and waits until the file is
gone. :class:`SignalWatcher` notices the file (inotify where the kernel has
it: well under a millisecond; a 50 ms poll otherwise), calls the hook (which
records the checkpoint) and deletes the file, always, so the command never
hangs. The hook returns only once the checkpoint is safely recorded (its
objects flushed to the cache before the ref naming them moves), so the
command resumes with its checkpoint already complete.

What a checkpoint *is* (a commit on the experiment's ref) is the business of
:mod:`labrun.experiments.checkpoints`; the engine only knows the hook.

    >>> has_checkpoint_outs(type("S", (), {"outs": ()})())
    False
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # a Protocol is a plain base class at run time

SIGNAL_NAME = "DVC_CHECKPOINT"
_POLL_SECONDS = 0.05


class CheckpointHook(Protocol):
    """What the engine calls for checkpoint stages (implemented by the experiments layer)."""

    count: int  # checkpoints recorded so far in this run
    interrupted: str | None  # a checkpoint stage whose command stopped after a checkpoint

    def env(self, root: str) -> dict[str, str]:
        """Extra environment for a checkpoint stage's command."""
        ...

    def record(self, stage: Any, save: Callable[[], None]) -> None:
        """Record one checkpoint: ``save()`` writes the stage's lock entry and caches outputs."""
        ...


def has_checkpoint_outs(stage: Any) -> bool:
    """True for a stage with at least one `checkpoint: true` output."""
    return any(getattr(out, "checkpoint", False) for out in stage.outs)


def signal_path(root: str) -> str:
    """Where the command drops its signal: `<root>/.dvc/tmp/DVC_CHECKPOINT`."""
    return os.path.join(root, ".dvc", "tmp", SIGNAL_NAME)


class SignalWatcher:
    """A thread that turns each signal file into one ``on_signal()`` call, then removes it."""

    def __init__(self, root: str, on_signal: Callable[[], None]) -> None:
        self.path = signal_path(root)
        self.on_signal = on_signal
        self.error: BaseException | None = None
        import threading  # not at module level: it costs start-up time

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="checkpoints")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        _remove(self.path)  # a stale signal from a command that did not wait

    def __enter__(self) -> SignalWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        waiter = _inotify_waiter(os.path.dirname(self.path))
        try:
            while not self._stop.is_set():
                if os.path.exists(self.path):
                    self._handle()
                waiter(_POLL_SECONDS)
        finally:
            waiter(None)

    def _handle(self) -> None:
        try:
            self.on_signal()
        except BaseException as exc:  # reported by the engine after the command is stopped
            self.error = exc
        finally:
            _remove(self.path)  # always: the command must not wait forever


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _inotify_waiter(directory: str) -> Callable[[float | None], None]:
    """A function that sleeps until the directory changes (or ``timeout``); None closes it."""
    fd = _inotify_fd(directory)
    if fd is None:
        import time

        def sleep(timeout: float | None) -> None:
            if timeout is not None:
                time.sleep(timeout)

        return sleep
    import select

    def wait(timeout: float | None) -> None:
        if timeout is None:
            os.close(fd)
            return
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            os.read(fd, 4096)  # drain: we only need to know something happened

    return wait


def _inotify_fd(directory: str) -> int | None:
    """An inotify descriptor watching file creation in ``directory`` (None if unavailable)."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        in_create, in_moved_to, in_close_write = 0x100, 0x80, 0x8
        mask = in_create | in_moved_to | in_close_write
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            os.close(fd)
            return None
        return int(fd)
    except (OSError, AttributeError):
        return None
