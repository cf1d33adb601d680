"""Device slots (GPUs) for queue workers: find them, parse them, hand them out.

A worker has a *pool* of device ids (``"0,1,2,3"`` from the user, else the GPUs
that ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L`` name, else none). Every running
entry gets devices of its own from the pool of its host: an entry needing *k*
waits until *k* are free, and an entry needing none never waits for devices. The
choice is made inside the backend's claim, so two workers never get the same one.

    >>> pool = parse_devices("0, 1,2,3")
    >>> pick_devices(pool, busy={"0", "2"}, count=2)
    ('1', '3')
    >>> pick_devices(pool, busy={"0", "2"}, count=3) is None
    True
    >>> device_env(("1", "3"))
    {'CUDA_VISIBLE_DEVICES': '1,3'}
"""

from __future__ import annotations

import os

from labrun.experiments.queue.entry import QueueError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence


class DeviceSpecError(QueueError):
    """A device list given by the user is malformed."""


def parse_devices(text: str) -> tuple[str, ...]:
    """Split a comma-separated device list; ``""`` and ``"none"`` mean no devices.

    >>> parse_devices("0,1"), parse_devices(""), parse_devices("GPU-5fd3,GPU-77aa")
    (('0', '1'), (), ('GPU-5fd3', 'GPU-77aa'))
    """
    if text.strip().lower() in ("", "none"):
        return ()
    devices = tuple(part.strip() for part in text.split(","))
    if any(not device for device in devices):
        raise DeviceSpecError(
            f"empty device id in device list '{text}'",
            hint="give device ids separated by commas, e.g. '0,1,2,3'",
        )
    if len(set(devices)) != len(devices):
        raise DeviceSpecError(
            f"device list '{text}' names a device twice", hint="name each device once"
        )
    return devices


def detect_devices(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The GPUs this machine offers to queue workers.

    ``CUDA_VISIBLE_DEVICES``, when set, is the pool (the user restricted it);
    otherwise every GPU that ``nvidia-smi -L`` lists; otherwise none.
    """
    environ = os.environ if env is None else env
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return () if visible.strip() == "-1" else parse_devices(visible)
    return _nvidia_smi_devices()


def _nvidia_smi_devices() -> tuple[str, ...]:
    # imported here: claims and `queue status` use this module, only `queue start` detects
    import re
    import shutil
    import subprocess

    program = shutil.which("nvidia-smi")
    if program is None:
        return ()
    try:
        out = subprocess.run(
            [program, "-L"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(re.findall(r"^GPU (\d+):", out, re.MULTILINE))


def pick_devices(pool: Sequence[str], busy: Collection[str], count: int) -> tuple[str, ...] | None:
    """The first *count* devices of *pool* not in *busy*; None if there are too few."""
    free = tuple(device for device in pool if device not in busy)
    return free[:count] if count <= len(free) else None


def device_env(devices: Sequence[str]) -> dict[str, str]:
    """Environment that limits a run to *devices* (an empty list hides every GPU)."""
    return {"CUDA_VISIBLE_DEVICES": ",".join(devices)}


__all__ = ["DeviceSpecError", "detect_devices", "device_env", "parse_devices", "pick_devices"]
