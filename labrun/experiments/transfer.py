"""The cached data of experiment commits, copied to and from a local DVC remote.

`exp push` uploads, and `exp pull` fetches, the objects that the outputs of each
commit of an experiment record (its tip back to, not including, its baseline):
files, `.dir` manifests and the files they list, laid out as in the cache
(`files/md5/ab/cdef…`; DVC 2.x objects at `ab/cdef…`). Objects the other side
already holds are skipped, and a manifest is copied after its files, so that a
manifest in a store means its files are there too (every copy is renamed into
place whole: see `labrun.cache.odb`). With ``run_cache`` the entries under
`runs/` travel too.

Which remote: ``-r NAME``, else ``core.remote`` of the project's config, else the
`remote:` of an output; with none configured nothing is copied (as in DVC).
Only remotes whose url is a local directory are supported yet.

    >>> t = push_data(project, ["00f2881f..."], None, run_cache=False)  # doctest: +SKIP
    >>> t.count, t.missing                                          # doctest: +SKIP
    (3, ())
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from labrun.cache.hashing import HashInfo
from labrun.cache.odb import LocalObjectStore, read_manifest
from labrun.errors import ConfigError, LabrunError
from labrun.experiments.refs import ExperimentError
from labrun.project import Project
from labrun.record import record

Obj = tuple[str, bool]  # (oid, legacy): one object of a cache or remote


class UnknownDataRemoteError(ConfigError):
    """``-r NAME`` (or ``core.remote``) names no remote of the config."""


class UnsupportedDataRemoteError(ExperimentError):
    """A remote whose url is not a local directory (s3://, ssh://, ...)."""


@record
class Transfer:
    """What one data transfer did."""

    count: int = 0  # objects and run-cache entries copied
    missing: tuple[Obj, ...] = ()  # objects that neither side holds
    skipped: tuple[str, ...] = ()  # commits whose outputs could not be read


def push_data(
    project: Project, commits: Sequence[str], remote: str | None, *, run_cache: bool
) -> Transfer:
    """Upload the objects the commits' outputs use (``push: false`` ones excepted)."""
    return _transfer(project, commits, remote, run_cache, upload=True)


def fetch_data(
    project: Project, commits: Sequence[str], remote: str | None, *, run_cache: bool
) -> Transfer:
    """Download into the cache the objects the commits' outputs use (nothing checked out)."""
    return _transfer(project, commits, remote, run_cache, upload=False)


def _transfer(
    project: Project, commits: Sequence[str], remote: str | None, run_cache: bool, upload: bool
) -> Transfer:
    default = remote or project.config.core_remote
    default_store = remote_store(project, default) if default else None
    wanted, skipped = used_objects(project, commits, push=upload, remote=remote)
    local = _cache_store(project)
    count, missing = 0, []
    for name, objs in sorted(wanted.items(), key=lambda item: item[0] or ""):
        store = remote_store(project, name) if name else default_store
        if store is None:
            continue  # no remote configured: DVC moves nothing and says nothing
        src, dst = (local, store) if upload else (store, local)
        done, lost = copy_objects(src, dst, objs)
        count += done
        missing += lost
    if run_cache and default_store is not None:
        src_root, dst_root = (local.root, default_store.root)
        count += copy_runs(*((src_root, dst_root) if upload else (dst_root, src_root)))
    return Transfer(count, tuple(missing), tuple(skipped))


# --- which remote ---


def remote_store(project: Project, name: str) -> LocalObjectStore:
    """The object store of the remote called ``name`` (its url must be a local path)."""
    options = project.config.remotes.get(name.lower())
    if options is None:
        raise UnknownDataRemoteError(f"config file error: remote '{name}' doesn't exist")
    url = options.get("url")
    path = local_path(url) if isinstance(url, str) else None
    if path is None:
        raise UnsupportedDataRemoteError(
            f"data remote '{name}' ({url}) is not supported yet: labrun transfers data only "
            "to and from a local directory; use --no-cache to transfer the Git refs alone"
        )
    return LocalObjectStore(path)


def local_path(url: str) -> str | None:
    """The directory a remote url names, or None for a url of another kind.

    >>> local_path("/mnt/store"), local_path("file:///mnt/store"), local_path("s3://b/x")
    ('/mnt/store', '/mnt/store', None)
    """
    if url.startswith("file://"):
        rest = url[len("file://") :]
        return rest if rest.startswith("/") else None
    scheme, sep, _ = url.partition("://")
    if sep and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return None
    return url


def _cache_store(project: Project) -> LocalObjectStore:
    cfg = project.config
    return LocalObjectStore(cfg.cache_root, shared=cfg.cache_shared == "group")


# --- which objects ---


def used_objects(
    project: Project, commits: Sequence[str], *, push: bool, remote: str | None
) -> tuple[dict[str | None, set[Obj]], list[str]]:
    """Objects the commits' outputs record, by the remote named on the output (or None);
    and the commits whose pipeline could not be loaded (skipped, as DVC does)."""
    found: dict[str | None, set[Obj]] = {}
    skipped: list[str] = []
    if not commits:
        return found, skipped
    from labrun.scm.catfile import CatFile, GitTreeSource

    prefix = _prefix(project.root)
    with CatFile(project.root) as cat:
        for sha in commits:
            try:
                for key, obj in _objects_of(project, GitTreeSource(cat, sha, prefix), push, remote):
                    found.setdefault(key, set()).add(obj)
            except (LabrunError, OSError, ValueError):
                skipped.append(sha)
    return found, skipped


def _objects_of(
    project: Project, source: Any, push: bool, remote: str | None
) -> Iterator[tuple[str | None, Obj]]:
    from labrun.pipeline.index import Index
    from labrun.pipeline.interpolate import ParsingConfig
    from labrun.pipeline.lockfile import LockFile, lock_relpath
    from labrun.pipeline.snapshot import ignore_filter

    cfg = project.config
    parsing = ParsingConfig(bool_style=cfg.parsing_bool, list_style=cfg.parsing_list)
    index = Index.load(project.root, parsing, ignore_filter(source), source)
    locks: dict[str, LockFile] = {}
    for stage in index.stages:
        if stage.is_data_source:
            if _is_import(stage.raw):
                continue
            entry: dict[str, Any] | None = dict(stage.raw)
        else:
            rel = lock_relpath(stage.dvcfile)
            lock = locks.get(rel) or locks.setdefault(rel, LockFile.load(project.root, rel, source))
            entry = lock.entry(stage.name)
        records = _records_by_path(entry)
        for out in stage.outs:
            if not out.cache or (push and not out.push):
                continue
            if remote and out.remote and out.remote != remote:
                continue
            info = HashInfo.from_record(records.get(out.path) or {})
            if info is not None:
                yield out.remote, (info.md5, info.legacy)


def _is_import(entry: Mapping[str, Any]) -> bool:
    deps = entry.get("deps")
    return isinstance(deps, list) and any(isinstance(d, dict) and "repo" in d for d in deps)


def _records_by_path(entry: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    outs = (entry or {}).get("outs") or []
    return {r["path"]: r for r in outs if isinstance(r, dict) and "path" in r}


def _prefix(root: str) -> str:
    from labrun.scm import git

    top = git.find_worktree(root) or root
    rel = os.path.relpath(root, top).replace(os.sep, "/")
    return "" if rel == "." else rel


# --- copying ---


def copy_objects(
    src: LocalObjectStore, dst: LocalObjectStore, objs: Iterable[Obj]
) -> tuple[int, list[Obj]]:
    """Copy what ``dst`` lacks of ``objs`` (directories with their files) from ``src``.

    Returns (objects copied, objects neither store holds). A manifest whose files
    are not all available is not copied.
    """
    files: set[Obj] = set()
    manifests: dict[Obj, set[Obj]] = {}
    missing: list[Obj] = []
    for oid, legacy in sorted(objs):
        if not oid.endswith(".dir"):
            files.add((oid, legacy))
            continue
        listed = _manifest(dst, oid, legacy)
        if listed is None:
            listed = _manifest(src, oid, legacy)
        if listed is None:
            missing.append((oid, legacy))
        else:
            manifests[(oid, legacy)] = listed
            files |= listed
    count, lost = _copy_flat(src, dst, files)
    done = [m for m, listed in sorted(manifests.items()) if not listed & lost]
    more, lost_manifests = _copy_flat(src, dst, set(done))
    missing += sorted(lost | lost_manifests)
    return count + more, missing


def _manifest(store: LocalObjectStore, oid: str, legacy: bool) -> set[Obj] | None:
    if not store.exists(oid, legacy=legacy):
        return None
    try:
        return {(md5, legacy) for _, md5 in read_manifest(store, oid, legacy=legacy).entries}
    except LabrunError:
        return None


def _copy_flat(
    src: LocalObjectStore, dst: LocalObjectStore, objs: set[Obj]
) -> tuple[int, set[Obj]]:
    """Copy single objects; (how many were copied, those neither store has)."""
    count = 0
    lost: set[Obj] = set()
    for legacy in (False, True):
        oids = {oid for oid, flag in objs if flag == legacy}
        absent = dst.missing(oids, legacy=legacy)
        unavailable = src.missing(absent, legacy=legacy)
        todo = sorted(absent - unavailable)
        pairs = ((oid, src.path_of(oid, legacy=legacy)) for oid in todo)
        count += dst.add_many(pairs, legacy=legacy)
        lost |= {(oid, legacy) for oid in unavailable}
    return count, lost


def copy_runs(src_root: str, dst_root: str) -> int:
    """Copy the run-cache entries (`runs/…`) that ``dst_root`` lacks; how many were copied."""
    from labrun.fsutil import atomic_copy

    base = os.path.join(src_root, "runs")
    count = 0
    for top, _dirs, names in os.walk(base):
        for name in sorted(names):
            if name.startswith("."):
                continue  # a temporary file being written
            source = os.path.join(top, name)
            target = os.path.join(dst_root, os.path.relpath(source, src_root))
            if os.path.exists(target):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            atomic_copy(source, target, durable=True)
            count += 1
    return count
