"""Is a stage stale, and why? Status values carry their reasons.

    >>> st = stage_status(ctx, stage)                       # doctest: +SKIP
    >>> st.stale, [str(r) for r in st.reasons]              # doctest: +SKIP
    (True, ['dep data.csv modified', 'changed command'])

Rules (DVC 3.67.1): the command is compared with the lock entry; every
dependency's current hash with its record (legacy records hashed the 2.x way);
params per key; outputs must exist, match their record and, when cached, have
their objects in the cache. Frozen stages ignore their dependencies;
`always_changed` and callback stages (no deps, no outs) are always stale.
"""

from __future__ import annotations

import os

from labrun.cache.hashing import HashInfo
from labrun.cache.presence import tree_in_store
from labrun.errors import LabrunError
from labrun.pipeline import files
from labrun.pipeline.stage import Out, ParamsDep, Stage
from labrun.record import field, record
from labrun.repro.context import RunContext, records_by_path

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

DELETED, MODIFIED, NEW, NOT_IN_CACHE = "deleted", "modified", "new", "not in cache"

# (absolute path, legacy) → its current hash (None: absent), for runs that change no file
HashMemo = dict[tuple[str, bool], "HashInfo | None"]


@record
class Reason:
    """One reason a stage is stale.

    ``kind`` is "dep", "params", "out" (with ``path``, ``status`` and, for
    params, ``key``), or a whole-stage label: "changed command",
    "always changed", "changed checksum".
    """

    kind: str
    path: str = ""
    status: str = ""
    key: str | None = None

    def __str__(self) -> str:
        if self.kind in ("dep", "out"):
            return f"{self.kind} {self.path} {self.status}"
        if self.kind == "params":
            return f"param {self.path}:{self.key or '*'} {self.status}"
        return self.kind


@record(frozen=False)
class StageStatus:
    """A stage and the reasons it is stale (none: up to date)."""

    stage: Stage
    reasons: list[Reason] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        """True if there is at least one reason."""
        return bool(self.reasons)

    def of(self, kind: str) -> list[Reason]:
        """The reasons of one kind."""
        return [r for r in self.reasons if r.kind == kind]


def is_callback(stage: Stage) -> bool:
    """A stage with a command but no deps and no outs: always stale."""
    return stage.cmd is not None and not stage.deps and not stage.params and not stage.outs


def stage_status(
    ctx: RunContext, stage: Stage, *, allow_missing: bool = False, memo: HashMemo | None = None
) -> StageStatus:
    """Every reason the stage is stale, in DVC's order (deps, outs, flags, command).

    ``memo`` keeps the hashes of the paths already checked, for a run that changes
    no file (`status`): a dependency many stages share is then hashed once.
    """
    entry = ctx.recorded(stage)
    status = StageStatus(stage)
    if not stage.frozen:
        if stage.always_changed or is_callback(stage):
            status.reasons.append(Reason("always changed"))
        else:
            status.reasons.extend(dep_reasons(ctx, stage, entry, allow_missing, memo))
    status.reasons.extend(out_reasons(ctx, stage, entry, allow_missing, memo))
    if entry is not None and not stage.is_data_source and entry.get("cmd") != stage.cmd:
        status.reasons.append(Reason("changed command"))
    return status


def dep_reasons(
    ctx: RunContext,
    stage: Stage,
    entry: dict[str, Any] | None,
    allow_missing: bool = False,
    memo: HashMemo | None = None,
) -> list[Reason]:
    """File/directory dependencies, then params files."""
    recorded = records_by_path(entry, "deps")
    reasons: list[Reason] = []
    for dep in stage.deps:
        path = stage.abspath(ctx.root, dep)
        state = compare(ctx, path, recorded.get(dep), memo)
        if state == DELETED and allow_missing:
            # still a change when an upstream stage recorded other content at that path
            upstream = ctx.recorded_outs.get(path)
            if upstream is None or upstream == (recorded.get(dep) or {}).get("md5"):
                continue
            state = MODIFIED
        if state:
            reasons.append(Reason("dep", dep, state))
    for params in stage.params:
        reasons.extend(params_reasons(ctx, stage, params, entry))
    return reasons


def compare(
    ctx: RunContext, path: str, record: dict[str, Any] | None, memo: HashMemo | None = None
) -> str:
    """ "" when the path matches its record, else "deleted" or "modified"."""
    legacy = record is not None and "hash" not in record
    if memo is None:
        current = ctx.hash_path(path, legacy=legacy)
    elif (path, legacy) in memo:
        current = memo[path, legacy]
    else:
        current = memo[path, legacy] = ctx.hash_path(path, legacy=legacy)
    if current is None:
        return DELETED
    recorded = HashInfo.from_record(record) if record else None
    if recorded is None or recorded.md5 != current.md5:
        return MODIFIED
    return ""


def read_params(ctx: RunContext, stage: Stage, params: ParamsDep) -> dict[str, Any] | None:
    """The params file's data, or None if it does not exist."""
    path = stage.abspath(ctx.root, params.path)
    if not os.path.exists(path):
        return None
    if os.path.isdir(path):
        raise LabrunError(f"'{ctx.relpath(path)}' is a directory, expected a parameters file")
    return files.load_params(path, ctx.relpath(path))


def current_values(data: dict[str, Any], params: ParamsDep) -> dict[str, Any]:
    """The tracked values: listed keys that exist, or every top-level key."""
    if params.keys is None:
        return dict(data)
    values: dict[str, Any] = {}
    for key in params.keys:
        try:
            values[key] = files.get_key_path(data, key)
        except KeyError:
            continue
    return values


def params_reasons(
    ctx: RunContext, stage: Stage, params: ParamsDep, entry: dict[str, Any] | None
) -> list[Reason]:
    """Per-key status of one params file (file-level `deleted`/`new` first)."""
    data = read_params(ctx, stage, params)
    if data is None:
        return [Reason("params", params.path, DELETED)]
    recorded = ((entry or {}).get("params") or {}).get(params.path)
    if recorded is None:
        return [Reason("params", params.path, NEW)]
    now = current_values(data, params)
    keys = list(params.keys) if params.keys is not None else list(now)
    keys += [k for k in recorded if k not in keys] if params.keys is None else []
    reasons: list[Reason] = []
    for key in keys:
        if key not in now:
            reasons.append(Reason("params", params.path, DELETED, key))
        elif key not in recorded:
            reasons.append(Reason("params", params.path, NEW, key))
        elif not same_value(now[key], recorded[key]):
            reasons.append(Reason("params", params.path, MODIFIED, key))
    return reasons


def same_value(a: Any, b: Any) -> bool:
    """Equality of loaded values, where a change of numeric type counts as a change.

    DVC quirk (params-metrics.md 3.2): it uses plain Python equality, so editing
    `epochs: 1` to `epochs: 1.0` or `true` is "no change" although the script then
    receives a float or a bool. labrun re-runs the stage in that case. Mappings
    ignore key order; a tuple (Python params) equals a list with the same items.

        >>> same_value({"lr": 3}, {"lr": 3.0}), same_value([1, True], (1, True))
        (False, True)
    """
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def out_reasons(
    ctx: RunContext,
    stage: Stage,
    entry: dict[str, Any] | None,
    allow_missing: bool = False,
    memo: HashMemo | None = None,
) -> list[Reason]:
    """Outputs: not in cache, deleted, or modified."""
    recorded = records_by_path(entry, "outs")
    reasons: list[Reason] = []
    for out in stage.outs:
        state = out_state(ctx, stage, out, recorded.get(out.path), memo)
        if state in (DELETED, NOT_IN_CACHE) and allow_missing:
            continue
        if state:
            reasons.append(Reason("out", out.path, state))
    return reasons


def out_state(
    ctx: RunContext,
    stage: Stage,
    out: Out,
    record: dict[str, Any] | None,
    memo: HashMemo | None = None,
) -> str:
    """ "" if the output is intact, else "not in cache", "deleted" or "modified"."""
    info = HashInfo.from_record(record) if record else None
    if info is not None and out.cache and not in_cache(ctx, info):
        return NOT_IN_CACHE
    return compare(ctx, stage.abspath(ctx.root, out.path), record, memo)


def in_cache(ctx: RunContext, info: HashInfo) -> bool:
    """True if the object (and, for a directory, every file of it) is in the cache.

    A directory fully checked once is known present while the cache's folders it
    uses are unchanged (:mod:`labrun.cache.presence`).
    """
    return tree_in_store(ctx.odb, ctx.state, info)
