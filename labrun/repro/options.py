"""ReproOptions: every `repro` flag as one frozen value, passed from the CLI down.

>>> ReproOptions(force=True, jobs=2).jobs
2
"""

from __future__ import annotations

from collections.abc import Sequence

from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    OnError: TypeAlias = Literal["fail", "keep-going", "ignore"]


@record
class ReproOptions:
    """Flags of `repro` (and of `exp run`, which reuses them)."""

    targets: Sequence[str] = field(default_factory=tuple)
    force: bool = False
    single_item: bool = False
    pipeline: bool = False
    all_pipelines: bool = False
    recursive: bool = False
    downstream: bool = False
    glob: bool = False
    force_downstream: bool = False
    interactive: bool = False
    dry: bool = False
    on_error: OnError = "fail"
    no_commit: bool = False
    no_run_cache: bool = False
    allow_missing: bool = False
    pull: bool = False
    jobs: int = 1
    env: tuple[tuple[str, str], ...] = ()  # extra environment for stage commands
    defer_locks: bool = False  # write dvc.lock once, after the stages (see engine.reproduce)
