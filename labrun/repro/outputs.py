"""Saving a stage's dependencies and outputs: hashes, params values, cache commit.

>>> deps, params = save_deps(ctx, stage)          # doctest: +SKIP
>>> outs = save_outs(ctx, stage, commit=True)     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from labrun.cache.hashing import HashInfo, is_text_block
from labrun.cache.links import unprotect
from labrun.cache.odb import add_tree
from labrun.errors import LabrunError
from labrun.pipeline.stage import Out, Stage
from labrun.record import field, record
from labrun.repro.context import RunContext, records_by_path
from labrun.repro.status import current_values, in_cache, read_params
from labrun.scm import git, gitignore

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from labrun.cache.state import DirListing


class StageError(LabrunError):
    """A stage cannot be saved (missing dependency/output, missing params...)."""


@record(frozen=False)
class SavedOuts:
    """Output records for the lock entry, and files that changed for Git."""

    records: list[dict[str, Any]] = field(default_factory=list)
    gitignores: list[str] = field(default_factory=list)


def save_deps(ctx: RunContext, stage: Stage) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Hash every dependency and read every tracked param; StageError if one is missing."""
    recorded = records_by_path(ctx.recorded(stage), "deps")
    records: list[dict[str, Any]] = []
    for dep in stage.deps:
        path = stage.abspath(ctx.root, dep)
        info = _hash_keeping_legacy(ctx, path, recorded.get(dep))
        if info is None:
            raise StageError(f"dependency '{ctx.relpath(path)}' does not exist")
        records.append({"path": dep, **info.to_lock_dict()})
    params: dict[str, Any] = {}
    for item in stage.params:
        data = read_params(ctx, stage, item)
        listed = list(item.keys or [])
        if data is None:
            # DVC says this with -f, and "Parameters 'x' are missing" otherwise; one message
            # naming the missing file is clearer in both cases.
            shown = ctx.relpath(stage.abspath(ctx.root, item.path))
            raise StageError(f"dependency '{shown}' does not exist")
        values = current_values(data, item)
        missing = [k for k in listed if k not in values]
        if missing:
            raise StageError(f"Parameters '{', '.join(missing)}' are missing from '{item.path}'.")
        params[item.path] = _plain(values)
    return records, params


def _plain(value: Any) -> Any:
    """Tuples and sets (Python params) as lists, so they are written like DVC's."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _hash_keeping_legacy(
    ctx: RunContext, path: str, record: dict[str, Any] | None
) -> HashInfo | None:
    """Current hash; a DVC 2.x record that still matches stays in its legacy form."""
    if record is not None and "hash" not in record and "md5" in record:
        legacy = ctx.hash_path(path, legacy=True)
        if legacy is not None and legacy.md5 == record["md5"]:
            return legacy
    return ctx.hash_path(path)


def _listing_keeping_legacy(
    ctx: RunContext, path: str, record: dict[str, Any] | None
) -> DirListing:
    """Like :func:`_hash_keeping_legacy` for a directory output, with its manifest.

    The files read are counted on this thread's meter (the progress bar), and
    the listing is kept to store the directory without walking it again.
    """
    from labrun.cache.commit import dir_hasher

    def build(legacy: bool) -> DirListing:
        hasher = dir_hasher(legacy=legacy, jobs=ctx.state.jobs)
        return ctx.state.build_dir(path, ctx.ignore, legacy=legacy, hasher=hasher)

    if record is not None and "hash" not in record and "md5" in record:
        listing = build(True)
        if listing.info.md5 == record["md5"]:
            return listing
    return build(False)


def remove_outs(ctx: RunContext, stage: Stage) -> None:
    """Delete every non-persistent output before the command runs; unprotect persistent ones."""
    for out in stage.outs:
        path = stage.abspath(ctx.root, out.path)
        if out.persist or out.checkpoint:
            if os.path.exists(path):
                unprotect(path)  # files or whole directories: links become private copies
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil  # not at start-up: it imports bz2 and lzma

            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)


def save_outs(ctx: RunContext, stage: Stage, *, commit: bool) -> SavedOuts:
    """Hash every output, add cached ones to `.gitignore` and (with commit) to the cache."""
    saved = SavedOuts()
    _check_not_tracked(ctx, stage)
    ignored = _ignored_by_git(ctx, stage)
    recorded = records_by_path(ctx.recorded(stage), "outs")
    for out in stage.outs:
        path = stage.abspath(ctx.root, out.path)
        with data_progress(ctx, "hashing", path, ctx.addressing(stage)):
            info, listing = _hash_out(ctx, stage, out, path, recorded.get(out.path))
        if out.cache and ctx.project.has_scm and path not in ignored:
            changed = gitignore.add_entry(path)
            if changed:
                saved.gitignores.append(changed)
                ctx.touched.add(changed)
                ctx.ignored_outs.append(path)
        if out.cache and commit:
            with data_progress(ctx, "linking", path, ctx.addressing(stage)):
                commit_path(ctx, info, path, listing)
        saved.records.append({"path": out.path, **info.to_lock_dict()})
    return saved


@contextmanager
def data_progress(ctx: RunContext, action: str, path: str, stage: str = "") -> Iterator[None]:
    """Report the data work done meanwhile on *path* (on this thread) as events.

    Nothing is counted when nobody listens (a NullReporter).

        >>> with data_progress(ctx, "hashing", "/repo/model.bin", "train"):  # doctest: +SKIP
        ...     ctx.state.hash_file("/repo/model.bin")
    """
    from labrun.repro.events import DataEvents, NullReporter

    if isinstance(ctx.reporter, NullReporter):
        yield
        return
    from labrun.cache.workers import Meter

    with Meter(DataEvents(ctx.reporter, action, ctx.relpath(path), stage)).current():
        yield


def _hash_out(
    ctx: RunContext, stage: Stage, out: Out, path: str, record: dict[str, Any] | None
) -> tuple[HashInfo, DirListing | None]:
    """The output's hash (and a directory's listing); an unchanged DVC 2.x record keeps
    its legacy form, as in dvc."""
    shown = ctx.relpath(path)
    if not os.path.lexists(path):
        raise StageError(f"output '{shown}' does not exist")
    if not (os.path.isfile(path) or os.path.isdir(path)):
        raise StageError(f"output '{shown}' is not a file or directory")
    if out.is_metric and os.path.isfile(path) and not _is_text(path):
        raise StageError(f"binary file '{path}' cannot be used as metrics.")
    listing = None
    if os.path.isdir(path):
        listing = _listing_keeping_legacy(ctx, path, record)
        info = listing.info
    else:
        found = _hash_keeping_legacy(ctx, path, record)
        assert found is not None
        info = found
    if info.is_dir and info.nfiles == 0:
        ctx.warn(f"'{shown}' is empty.")
    return info, listing


def _is_text(path: str) -> bool:
    with open(path, "rb") as f:
        return is_text_block(f.read(512))


def _ignored_by_git(ctx: RunContext, stage: Stage) -> set[str]:
    """Cached outputs that Git ignores already (e.g. through `*.log`): they get no entry.

    Asked once the outputs exist: Git's directory patterns (`/build/`) only match
    paths that are directories.
    """
    worktree = git.find_worktree(ctx.root) if ctx.project.has_scm else None
    if worktree is None:
        return set()
    paths = [stage.abspath(ctx.root, o.path) for o in stage.outs if o.cache]
    return gitignore.ignored_by_git(worktree, [p for p in paths if not gitignore.has_entry(p)])


def _check_not_tracked(ctx: RunContext, stage: Stage) -> None:
    """An output Git tracks cannot become a cached output (DVC's message and hint)."""
    if not ctx.project.has_scm:
        return
    fresh = [
        stage.abspath(ctx.root, o.path)
        for o in stage.outs
        if o.cache and not gitignore.has_entry(stage.abspath(ctx.root, o.path))
    ]
    for path in sorted(git.tracked(ctx.root, fresh)):
        rel = ctx.relpath(path)
        raise StageError(
            f"output '{rel}' is already tracked by SCM (e.g. Git).\n"
            "    You can remove it from Git, then add to DVC.\n"
            "        To stop tracking from Git:\n"
            f"            git rm -r --cached '{rel}'\n"
            f'            git commit -m "stop tracking {rel}"'
        )


def commit_path(
    ctx: RunContext, info: HashInfo, path: str, listing: DirListing | None = None
) -> None:
    """Store a file or directory in the cache, then link the workspace copy per `cache.type`.

    ``listing``: the directory's listing, as hashed just before (else it is built).
    """
    if info.is_dir:
        if listing is None or listing.info != info:
            listing = ctx.state.build_dir(path, ctx.ignore, legacy=info.legacy)
        add_tree(ctx.odb, path, listing.manifest, legacy=info.legacy)
    else:
        ctx.odb.add(info.md5, path, legacy=info.legacy)
    ctx.workspace.checkout(info, path, relink=True)


def store_uncached_reports(
    ctx: RunContext, stage: Stage, records: Sequence[dict[str, Any]]
) -> None:
    """Copy `cache: false` metrics/plots into the cache so the run-cache can restore them."""
    by_path = {r["path"]: r for r in records}
    for out in stage.outs:
        if out.cache or not (out.is_metric or out.is_plot):
            continue
        info = HashInfo.from_record(by_path[out.path])
        path = stage.abspath(ctx.root, out.path)
        if info is None:
            continue
        if info.is_dir:
            add_tree(ctx.odb, path, ctx.state.build_dir(path, ctx.ignore).manifest)
        else:
            ctx.odb.add(info.md5, path)


def checkout_records(ctx: RunContext, stage: Stage, entry: dict[str, Any]) -> None:
    """Put the outputs recorded in an entry into the workspace (from the cache)."""
    recorded = records_by_path(entry, "outs")
    for out in stage.outs:
        info = HashInfo.from_record(recorded[out.path])
        assert info is not None
        ctx.workspace.checkout(info, stage.abspath(ctx.root, out.path), force=True)


def objects_present(ctx: RunContext, stage: Stage, entry: dict[str, Any]) -> bool:
    """True when every output of the entry can be checked out of the cache."""
    recorded = records_by_path(entry, "outs")
    for out in stage.outs:
        info = HashInfo.from_record(recorded.get(out.path) or {})
        if info is None or not in_cache(ctx, info):
            return False
    return True


def restore_cached(ctx: RunContext, stage: Stage, entry: dict[str, Any], *, dry: bool) -> bool:
    """`--pull`: check the cached outputs of an entry out of the cache; False if one is missing.

    There is no remote storage to pull from, so the local cache is all there is;
    `cache: false` outputs are left alone, as a pull leaves them.
    """
    recorded = records_by_path(entry, "outs")
    wanted: list[tuple[HashInfo, str]] = []
    for out in (o for o in stage.outs if o.cache):
        info = HashInfo.from_record(recorded.get(out.path) or {})
        if info is None or not in_cache(ctx, info):
            return False
        wanted.append((info, stage.abspath(ctx.root, out.path)))
    if not dry:
        for info, path in wanted:
            ctx.workspace.checkout(info, path, force=True)
    return True
