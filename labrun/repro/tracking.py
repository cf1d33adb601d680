"""Data tracking: `add`, `commit`, `checkout` and `gc` over `.dvc` files and `dvc.lock`.

Every function takes a :class:`~labrun.repro.context.RunContext` (and the
project :class:`~labrun.pipeline.index.Index`), reports on ``ctx.reporter`` and
returns a value; nothing here prints. Messages and file bytes are DVC 3.67.1's.

    >>> added = add_targets(ctx, index, ["data.csv"])              # doctest: +SKIP
    >>> added.dvcfiles                                             # doctest: +SKIP
    ['data.csv.dvc']
    >>> everything = collect_granular(ctx, index, Scope())          # doctest: +SKIP
    >>> checkout_outputs(ctx, everything).added                     # doctest: +SKIP
    ['data.csv']
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from labrun.cache.commit import commit_dir, commit_file, dir_hasher, single_file_hasher
from labrun.cache.hashing import HashInfo, HashingError
from labrun.cache.links import CheckoutError, Seen
from labrun.cache.odb import add_tree, read_manifest
from labrun.cache.state import DirListing
from labrun.errors import LabrunError, TargetError
from labrun.fsutil import atomic_write
from labrun.pipeline import files
from labrun.pipeline.dag import build_graph
from labrun.pipeline.index import PIPELINE_FILE, Index, is_dvcfile_name
from labrun.pipeline.lockfile import build_entry
from labrun.pipeline.stage import Out, Stage
from labrun.pipeline.targets import Collector
from labrun.project import Project
from labrun.record import field, record
from labrun.repro import outputs, status
from labrun.repro.context import Confirm, RunContext, records_by_path
from labrun.repro.events import LockWritten, NullReporter, Reporter
from labrun.repro.outputs import data_progress
from labrun.scm import git, gitignore

Granular = tuple[Stage, str | None]  # a stage, and the path inside one of its outputs (or None)


class DataCommandError(LabrunError):
    """`add` or `commit` failed; exit status 1, as DVC's data commands."""

    exit_code = 1


class CheckoutFailedError(LabrunError):
    """Some outputs could not be checked out; ``result`` says what was done anyway."""

    def __init__(self, failed: Sequence[str], result: CheckoutSummary) -> None:
        super().__init__(
            "Checkout failed for following targets:\n"
            + "\n".join(failed)
            + "\nIs your cache up to date?\n<https://error.dvc.org/missing-files>",
            hint="commit or fetch the missing data, or check out with --allow-missing",
        )
        self.result = result


def as_data_error(exc: LabrunError, prefix: str = "") -> DataCommandError:
    """The same message (after ``prefix``) as a DataCommandError (exit 1)."""
    wrapped = DataCommandError(prefix + exc.message, hint=exc.hint)
    wrapped.plain = exc.plain and not prefix
    return wrapped


@contextmanager
def data_run(
    project: Project, reporter: Reporter | None = None, confirm: Confirm | None = None
) -> Iterator[tuple[RunContext, Index]]:
    """The project lock, a RunContext and the project's stages, for one data command.

    On failure the `.gitignore` entries added meanwhile are removed again, as DVC does.
    """
    from labrun.repro.engine import parsing_of, project_lock

    with project_lock(project):
        ctx = RunContext.open(project)
        ctx.reporter, ctx.confirm = reporter or NullReporter(), confirm
        try:
            yield ctx, Index.load(project.root, parsing_of(project), ctx.ignore.is_ignored)
        except BaseException:
            for path in ctx.ignored_outs:
                gitignore.remove_entry(path)
            raise
        finally:
            ctx.close()


def stage_in_git(ctx: RunContext, paths: Iterable[str]) -> list[str]:
    """`git add` the files with `core.autostage`; else return them (cwd-relative) as a hint."""
    shown = [os.path.relpath(p, ctx.project.cwd) for p in dict.fromkeys(paths)]
    if not shown or not ctx.project.has_scm:
        return []
    if ctx.project.config.autostage:
        git.add(ctx.project.cwd, shown)
        return []
    return shown


# -- .dvc files ---------------------------------------------------------------------------

_FLAG_KEYS: tuple[str, ...] = ("desc", "type", "labels", "meta", "cache", "metric", "plot")
_FLAG_KEYS += ("persist", "remote", "push")
_TRAILING_COMMENT = re.compile(r"\s+#.*$")
_SCALAR_LINE = re.compile(r"^(?P<value>.*?)(?P<rest>\s+#.*)?$")
_FLOW_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- )?(?P<key>[\w.-]+): (?P<value>[\[{].*)$")


def out_record(info: HashInfo, path: str, old: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `.dvc` output record: hash keys, ``path``, then the old record's flags.

    >>> out_record(HashInfo("x", 1), "a.txt", {"path": "a.txt", "desc": "d"})
    {'md5': 'x', 'size': 1, 'hash': 'md5', 'path': 'a.txt', 'desc': 'd'}
    """
    record = {**info.to_dvcfile_dict(), "path": path}
    record.update({k: old[k] for k in _FLAG_KEYS if old and k in old})
    return record


def apply_diff(src: Any, dest: Any) -> None:
    """Make ``dest`` equal ``src`` in place, keeping ``dest``'s key order (DVC's rewrite rule).

    >>> d = {"md5": "a", "path": "p", "size": 1}
    >>> apply_diff({"md5": "b", "size": 2, "hash": "md5", "path": "p"}, d); d
    {'md5': 'b', 'path': 'p', 'size': 2, 'hash': 'md5'}
    """
    if isinstance(src, dict) and isinstance(dest, dict):
        for key, value in src.items():
            if isinstance(value, dict | list) and type(value) is type(dest.get(key)):
                apply_diff(value, dest[key])
            elif key not in dest or value != dest[key]:
                dest[key] = value
        for key in [k for k in dest if k not in src]:
            del dest[key]
    elif isinstance(src, list) and isinstance(dest, list):
        if len(src) != len(dest):
            dest[:] = src
            return
        for i, value in enumerate(src):
            if isinstance(value, dict | list) and type(value) is type(dest[i]):
                apply_diff(value, dest[i])
            elif value != dest[i]:
                dest[i] = value


def render_update(old_text: str, old: Any, new: Any) -> str:
    """The rewritten file: ``old_text`` with ``new``'s values, comments kept when possible.

    When only scalar values change, they are replaced in the text (comments stay
    in their columns, as with ruamel.yaml's round trip, which DVC uses) provided
    the result, comments aside, is laid out as DVC writes; otherwise the data is
    dumped afresh.
    """
    changes = _scalar_changes(old, new, ())
    patched = None if changes is None else _patch(old_text, changes)
    if patched is not None and _strip_comments(patched) == files.dump_yaml(new):
        return patched
    return files.dump_yaml(new)


def _scalar_changes(old: Any, new: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]] | None:
    """(key path, old, new) of changed scalars; None if the structure itself differs."""
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        if type(old) is not type(new) or _keys(old) != _keys(new):
            return None
        found: list[tuple[Any, ...]] = []
        for key in _keys(old):
            sub = _scalar_changes(old[key], new[key], (*path, key))
            if sub is None:
                return None
            found.extend(sub)
        return found
    return [] if type(old) is type(new) and old == new else [(path, old, new)]


def _keys(value: dict[Any, Any] | list[Any]) -> list[Any]:
    return list(value) if isinstance(value, dict) else list(range(len(value)))


def _strip_comments(text: str) -> str:
    """The text without comments and blank lines, one-line flow collections in block style:
    what ruamel.yaml would write for it if it kept none of those details."""
    kept = [_TRAILING_COMMENT.sub("", line) for line in text.splitlines()]
    lines = [line for line in kept if line.strip() and line.lstrip()[:1] != "#"]
    return "".join(f"{part}\n" for line in lines for part in _expand_flow(line))


def _expand_flow(line: str) -> list[str]:
    match = _FLOW_LINE.match(line)
    if match is None:
        return [line]
    try:
        value = files.parse_yaml(match["value"], "<flow>")
    except LabrunError:
        return [line]
    if not isinstance(value, dict | list) or not value:
        return [line]
    block = files.dump_yaml({match["key"]: value}).splitlines()
    pad = " " * (len(match["indent"]) + len(match["dash"] or ""))
    return [match["indent"] + (match["dash"] or "") + block[0], *(pad + b for b in block[1:])]


def _scalar_text(value: Any) -> str | None:
    text = files.dump_yaml({"k": value})
    return None if text.count("\n") != 1 else text[3:-1]


def _patch(text: str, changes: list[tuple[Any, ...]]) -> str | None:
    lines = text.splitlines(keepends=True)
    for keys, old, new in changes:
        pos = files.locate(text, list(keys))
        new_text = _scalar_text(new)
        if pos is None or new_text is None or not isinstance(keys[-1], str):
            return None
        line = lines[pos[0] - 1]
        head = line[: pos[1] - 1] + f"{keys[-1]}: "
        body = _SCALAR_LINE.match(line[len(head) :].rstrip("\r\n"))
        if not line.startswith(head) or body is None or not _reads_as(body["value"], old):
            return None
        comment = (body["rest"] or "").lstrip()
        column = len(head) + len(body["value"]) + len(body["rest"] or "") - len(comment)
        value = head + new_text
        gap = " " * max(1, column - len(value)) if comment else ""
        lines[pos[0] - 1] = value + gap + comment + line[len(line.rstrip("\r\n")) :]
    return "".join(lines)


def _reads_as(text: str, value: Any) -> bool:
    try:
        found = files.parse_yaml(f"k: {text}\n", "<value>")
    except LabrunError:
        return False
    return isinstance(found, dict) and type(found.get("k")) is type(value) and found["k"] == value


def write_dvcfile(ctx: RunContext, relpath: str, data: dict[str, Any]) -> bool:
    """Create or rewrite a `.dvc` file as DVC does; False when its bytes did not change."""
    full = os.path.join(ctx.root, relpath)
    if os.path.exists(full):
        old_text = files.read_text(full, relpath)
        old = files.parse_yaml(old_text, relpath)
        merged = copy.deepcopy(old)
        apply_diff(data, merged)
        text = render_update(old_text, old, merged)
        if text == old_text:
            return False
    else:
        text = files.dump_yaml(data)
    atomic_write(full, text.encode("utf-8"))
    ctx.reporter.emit(LockWritten(relpath, ctx.relpath(full), "updated"))
    return True


# -- saving outputs -------------------------------------------------------------------------


Hashed = tuple[HashInfo, DirListing | None]  # a file's hash, or a directory's and its listing


def hash_output(
    ctx: RunContext, path: str, record: dict[str, Any] | None = None, *, commit: bool = False
) -> Hashed | None:
    """The output's hash now, with a directory's listing; None if it does not exist.

    An unchanged DVC 2.x record (no ``hash: md5``) keeps its legacy form, as in DVC.
    With ``commit`` the data is also stored in the cache, each file read only once
    (hashed as it is copied); :func:`link_output` then links the workspace copy.
    """
    if not os.path.exists(path):
        return None
    if record is not None and "hash" not in record and "md5" in record:
        legacy = _hash_flavour(ctx, path, legacy=True)
        if legacy[0].md5 == record["md5"]:
            if commit:
                _commit_hashed(ctx, path, *legacy)
            return legacy
    return _hash_flavour(ctx, path, legacy=False, commit=commit)


def _hash_flavour(ctx: RunContext, path: str, *, legacy: bool, commit: bool = False) -> Hashed:
    with data_progress(ctx, "hashing", path):
        if os.path.isdir(path):
            if commit:
                listing = commit_dir(ctx.state, ctx.odb, path, ctx.ignore, legacy=legacy)
            else:
                listing = _build_dir(ctx, path, legacy=legacy)
            return listing.info, listing
        if commit:
            return commit_file(ctx.state, ctx.odb, path, legacy=legacy), None
        hasher = single_file_hasher(legacy=legacy)
        return ctx.state.hash_file(path, legacy=legacy, hasher=hasher), None


def _build_dir(ctx: RunContext, path: str, *, legacy: bool) -> DirListing:
    """``ctx.state.build_dir``, with the files it reads counted (see :func:`data_progress`)."""
    hasher = dir_hasher(legacy=legacy, jobs=ctx.state.jobs)
    return ctx.state.build_dir(path, ctx.ignore, legacy=legacy, hasher=hasher)


def _commit_hashed(ctx: RunContext, path: str, info: HashInfo, listing: DirListing | None) -> None:
    """Store what is hashed already (the memo has it all: nothing is read to hash)."""
    if listing is None:
        ctx.odb.add(info.md5, path, legacy=info.legacy)
    else:
        add_tree(ctx.odb, path, listing.manifest, legacy=info.legacy)


def link_output(ctx: RunContext, info: HashInfo, listing: DirListing | None, path: str) -> None:
    """Link a committed output's workspace copy per `cache.type`, and remember it."""
    with data_progress(ctx, "linking", path):
        if listing is not None:
            ctx.workspace.link_committed(listing, path)
        else:
            ctx.workspace.checkout(info, path, relink=True)
    remember_links(ctx, [path])


def save_data_source(
    ctx: RunContext,
    stage: Stage,
    *,
    commit: bool = True,
    only: str | None = None,
    allow_missing: bool = False,
) -> list[str]:
    """Hash (and commit) a `.dvc` file's outputs and rewrite it; return files for Git."""
    touched: list[str] = [os.path.join(ctx.root, stage.dvcfile)]
    old_records = list(stage.raw.get("outs") or [])
    new_records: list[dict[str, Any]] = []
    for out, old in zip(stage.outs, old_records, strict=True):
        path = stage.abspath(ctx.root, out.path)
        if only is not None and not _overlaps(path, only):
            new_records.append(old)
            continue
        hashed = hash_output(ctx, path, old, commit=commit and out.cache)
        if hashed is None:
            if not allow_missing:
                raise DataCommandError(f"output '{ctx.relpath(path)}' does not exist")
            new_records.append(old)
            continue
        info = hashed[0]
        if out.cache:  # `cache: false` data is meant to be committed to Git
            touched.extend(_ignore_in_git(ctx, [path]))
        if commit and out.cache:
            link_output(ctx, *hashed, path)
        def_path = os.path.relpath(path, os.path.join(ctx.root, stage.wdir)).replace(os.sep, "/")
        new_records.append(out_record(info, def_path, old))
    write_dvcfile(ctx, stage.dvcfile, {**stage.raw, "outs": new_records})
    return touched


def _ignore_in_git(ctx: RunContext, paths: Sequence[str]) -> list[str]:
    """Add `.gitignore` entries for outputs Git does not ignore yet; return changed files."""
    if not ctx.project.has_scm:
        return []
    fresh = [p for p in paths if not gitignore.has_entry(p)]
    skip = git.ignored(ctx.root, fresh) if fresh else set()
    changed: list[str] = []
    for path in fresh:
        if path in skip:
            continue
        written = gitignore.add_entry(path)
        if written:
            ctx.ignored_outs.append(path)
            changed.append(written)
    return changed


# -- add ----------------------------------------------------------------------------------------


@record(frozen=False)
class AddResult:
    """What `add` wrote: the `.dvc` files and every file Git should stage (absolute paths);
    ``git_add``: those left for the user to stage (cwd-relative, empty with autostage)."""

    dvcfiles: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    git_add: list[str] = field(default_factory=list)


@record
class _AddTarget:
    path: str  # absolute
    dvcfile: str  # project-relative
    stage: Stage | None  # the data source that already tracks the path


_OUTSIDE = (
    "Cached output(s) outside of DVC project: {}. See "
    "<https://dvc.org/doc/user-guide/data-management/importing-external-data> for more info."
)
_SYMLINKED = (
    "Cannot add files inside symlinked directories to DVC. See "
    "<https://dvc.org/doc/user-guide/troubleshooting#add-symlink> for more information."
)


def add_targets(
    ctx: RunContext, index: Index, targets: Sequence[str], *, no_commit: bool = False
) -> AddResult:
    """Track files or directories with `.dvc` files, as `dvc add` does.

    Every target is checked before anything is written; errors are
    :class:`DataCommandError` with DVC's messages.
    """
    try:
        plans = [_plan_add(ctx, index, target) for target in targets]
        _check_new_overlaps(ctx, index, plans)
        _check_addable(ctx, plans)
        result = AddResult()
        for plan in plans:
            result.touched.extend(_add_one(ctx, plan, no_commit=no_commit))
            result.dvcfiles.append(os.path.join(ctx.root, plan.dvcfile))
    except DataCommandError:
        raise
    except LabrunError as exc:
        raise as_data_error(exc) from exc
    result.touched = list(dict.fromkeys(result.touched))
    return result


def _plan_add(ctx: RunContext, index: Index, target: str) -> _AddTarget:
    path = os.path.normpath(os.path.join(ctx.project.cwd, target))
    rel = os.path.relpath(path, ctx.root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise DataCommandError(_OUTSIDE.format(path))
    if _symlink_above(ctx.root, os.path.dirname(path)) or (
        os.path.isdir(path) and os.path.islink(path)
    ):
        raise DataCommandError(_SYMLINKED)
    owner = output_owner(ctx, index, path)
    if owner is not None:
        stage, out_path = owner
        if not stage.is_data_source:
            raise DataCommandError(
                f"cannot update {os.path.basename(path)!r}: overlaps with an output of "
                f"stage: '{ctx.addressing(stage)}' in '{ctx.relpath(_abs(ctx, stage.dvcfile))}'.\n"
                "Run the pipeline or use 'dvc commit' to force update it."
            )
        return _AddTarget(out_path, stage.dvcfile, stage)
    name = os.path.basename(path)
    if is_dvcfile_name(name):
        raise DataCommandError(f"DVC file '{name}' cannot be an output.")
    match = ctx.ignore.explain(rel.replace(os.sep, "/"), os.path.isdir(path))
    if match is not None and match.ignored:
        raise DataCommandError(f"Path '{path}' is ignored by {match}")
    dvcfile = os.path.relpath(path + ".dvc", ctx.root).replace(os.sep, "/")
    if os.path.exists(path + ".dvc"):
        raise DataCommandError(
            f"'{ctx.relpath(path + '.dvc')}' already exists. Use '--force' to overwrite.",
            hint="it does not track this path: remove or rename it first",
        )
    return _AddTarget(path, dvcfile, None)


def _abs(ctx: RunContext, relpath: str) -> str:
    return os.path.join(ctx.root, relpath)


def _symlink_above(root: str, folder: str) -> bool:
    while folder != root and len(folder) > len(root):
        if os.path.islink(folder):
            return True
        folder = os.path.dirname(folder)
    return False


def output_owner(ctx: RunContext, index: Index, path: str) -> tuple[Stage, str] | None:
    """The stage whose output is ``path`` or contains it, with that output's path."""
    for stage in index.stages:
        for out in stage.outs:
            out_path = stage.abspath(ctx.root, out.path)
            if path == out_path or path.startswith(out_path + os.sep):
                return stage, out_path
    return None


def _check_new_overlaps(ctx: RunContext, index: Index, plans: Sequence[_AddTarget]) -> None:
    """A new output may not contain another tracked output (or another target)."""
    fresh = [p for p in plans if p.stage is None]
    tracked = [(s, s.abspath(ctx.root, o.path)) for s in index.stages for o in s.outs]
    for plan in fresh:
        for stage, out_path in tracked:
            if out_path.startswith(plan.path + os.sep):
                parent, out = ctx.relpath(plan.path), ctx.relpath(out_path)
                raise DataCommandError(
                    f"Cannot add '{parent}', because it is overlapping with other DVC tracked "
                    f"output: '{out}'.\nTo include '{out}' in '{parent}', run "
                    f"'dvc remove {ctx.addressing(stage)}' and then 'dvc add {parent}'"
                )
        for other in fresh:
            if plan.path.startswith(other.path + os.sep):
                child, parent = ctx.relpath(plan.path), ctx.relpath(other.path)
                raise DataCommandError(
                    f"Cannot add '{child}', because it is overlapping with other DVC tracked "
                    f"output: '{parent}'.\nTo include '{child}' in '{parent}', run "
                    f"'dvc commit {ctx.relpath(_abs(ctx, other.dvcfile))}'"
                )


def _check_addable(ctx: RunContext, plans: Sequence[_AddTarget]) -> None:
    for plan in plans:
        if not os.path.exists(plan.path):
            raise DataCommandError(
                f"output '{ctx.relpath(plan.path)}' does not exist: "
                f"[Errno 2] No such file or directory: '{plan.path}'"
            )
        if not (os.path.isfile(plan.path) or os.path.isdir(plan.path)):
            raise DataCommandError(f"output '{ctx.relpath(plan.path)}' is not a file or directory")
    if not ctx.project.has_scm:
        return
    fresh = [p.path for p in plans if not gitignore.has_entry(p.path)]
    for path in sorted(git.tracked(ctx.root, fresh)):
        rel = ctx.relpath(path)
        raise DataCommandError(
            f"output '{rel}' is already tracked by SCM (e.g. Git).\n"
            "    You can remove it from Git, then add to DVC.\n"
            "        To stop tracking from Git:\n"
            f"            git rm -r --cached '{rel}'\n"
            f'            git commit -m "stop tracking {rel}"'
        )


def _add_one(ctx: RunContext, plan: _AddTarget, *, no_commit: bool) -> list[str]:
    if plan.stage is not None:
        return save_data_source(ctx, plan.stage, commit=not no_commit, only=plan.path)
    hashed = hash_output(ctx, plan.path, commit=not no_commit)
    assert hashed is not None
    touched = [_abs(ctx, plan.dvcfile), *_ignore_in_git(ctx, [plan.path])]
    if not no_commit:
        link_output(ctx, *hashed, plan.path)
    record = out_record(hashed[0], os.path.basename(plan.path))
    write_dvcfile(ctx, plan.dvcfile, {"outs": [record]})
    return touched


# -- targets of commit / checkout -----------------------------------------------------------


@record
class Scope:
    """Which stages a data command works on: targets (every stage when empty), `-R`, `-d`."""

    targets: tuple[str, ...] = ()
    recursive: bool = False
    with_deps: bool = False


def collect_granular(
    ctx: RunContext, index: Index, scope: Scope, *, git_hint: bool = False
) -> list[Granular]:
    """Stages (with an optional path inside an output) named by the scope's targets.

    A target is a dvc file or stage (as for repro), a directory with ``recursive``,
    or a tracked path: an output, or a path inside a directory output. With
    ``git_hint`` an unknown target's error suggests `git checkout` (as `dvc checkout`).
    """
    if not scope.targets:
        return [(s, None) for s in index.stages]
    collector = Collector(ctx.root, ctx.project.cwd_rel, _parsing(ctx), ctx.ignore.is_ignored)
    found: list[Granular] = []
    for target in scope.targets:
        try:
            found.extend(_collect_one(ctx, index, collector, target, scope.recursive))
        except TargetError as exc:
            if not git_hint:
                raise
            raise TargetError(f"Did you mean `git checkout {target}`?: {exc.message}") from exc
    if scope.with_deps:
        graph = build_graph(ctx.root, index.stages, ctx.project.cwd_rel)
        from labrun.repro.options import ReproOptions
        from labrun.repro.plan import make_plan

        upstream = make_plan(graph, [s for s, _ in found], ReproOptions()).stages
        found = [(s, None) for s in upstream]
    unique = {(s.dvcfile, s.name, within): (s, within) for s, within in found}
    return list(unique.values())


def _parsing(ctx: RunContext) -> Any:
    from labrun.repro.engine import parsing_of

    return parsing_of(ctx.project)


def _collect_one(
    ctx: RunContext, index: Index, collector: Collector, target: str, recursive: bool
) -> list[Granular]:
    path = os.path.normpath(os.path.join(ctx.project.cwd, target))
    if recursive and os.path.isdir(path):
        return [(s, None) for s in collector.collect(target, recursive=True)]
    if ":" in target or is_dvcfile_name(target):
        return [(s, None) for s in collector.collect(target)]
    owner = output_owner(ctx, index, path)
    if owner is not None:
        return [(owner[0], path)]
    try:
        return [(s, None) for s in collector.collect(target)]
    except TargetError as exc:
        default = os.path.join(ctx.project.cwd, PIPELINE_FILE)
        cause = exc.message if os.path.exists(default) else f"'{PIPELINE_FILE}' does not exist"
        raise TargetError(
            f"'{target}' does not exist as an output or a stage name in '{PIPELINE_FILE}': {cause}"
        ) from exc


# -- commit -----------------------------------------------------------------------------------


@record
class CommitOptions:
    """Flags of `commit` (`-f`, `-R`, `-d`); ``allow_missing`` skips absent data outputs."""

    force: bool = False
    recursive: bool = False
    with_deps: bool = False
    allow_missing: bool = False


def commit_stages(
    ctx: RunContext, index: Index, targets: Sequence[str], opts: CommitOptions | None = None
) -> list[Stage]:
    """Record the current deps/outs of the targets' stages (every stage without targets)
    and store their outputs in the cache, as `dvc commit` does, one target after another.

    A changed stage is committed only with ``opts.force`` or if ``ctx.confirm`` agrees.
    Errors are :class:`DataCommandError` ("failed to commit[ target] - ...").
    """
    opts = opts or CommitOptions()
    done: list[Stage] = []
    for target in targets or (None,):
        scope = Scope(() if target is None else (target,), opts.recursive, opts.with_deps)
        try:
            for stage, filter_path in collect_granular(ctx, index, scope):
                _commit_one(ctx, stage, filter_path, opts)
                done.append(stage)
        except LabrunError as exc:
            prefix = f"failed to commit{' ' + target if target else ''} - "
            raise as_data_error(exc, prefix) from exc
    return done


def _commit_one(
    ctx: RunContext, stage: Stage, filter_path: str | None, opts: CommitOptions
) -> None:
    if not opts.force:
        _confirm_commit(ctx, stage)
    if stage.is_data_source:
        save_data_source(ctx, stage, only=filter_path, allow_missing=opts.allow_missing)
    else:
        _commit_pipeline_stage(ctx, stage)


def _confirm_commit(ctx: RunContext, stage: Stage) -> None:
    question = _commit_question(ctx, stage)
    if question is None:
        return
    if ctx.confirm is None or not ctx.confirm(question):
        raise DataCommandError(
            f"unable to commit changed stage: '{ctx.addressing(stage)}'. Use `-f|--force` to force."
        )


def _commit_question(ctx: RunContext, stage: Stage) -> str | None:
    """DVC's question for a changed stage, or None when nothing changed."""
    st = status.stage_status(ctx, stage)
    deps = [_shown(ctx, stage, r.path) for r in st.reasons if r.kind in ("dep", "params")]
    deps = list(dict.fromkeys(deps))  # one entry per params file, as DVC
    outs = [_shown(ctx, stage, r.path) for r in st.of("out")]
    changed = [f"{word} {items}" for word, items in (("dependencies", deps), ("outputs", outs))]
    changed = [text for text, items in zip(changed, (deps, outs), strict=True) if items]
    name = f"stage: '{ctx.addressing(stage)}'"
    if changed:
        text = f"{' and '.join(changed)} of {name} changed."
    elif st.of("changed command"):
        text = f"'cmd' of {name} has changed."
    else:
        return None
    return text + " Are you sure you want to commit it?"


def _shown(ctx: RunContext, stage: Stage, def_path: str) -> str:
    return ctx.relpath(stage.abspath(ctx.root, def_path))


def _commit_pipeline_stage(ctx: RunContext, stage: Stage) -> None:
    from labrun.repro.runcache import RunCache, can_cache, can_save

    deps, params = outputs.save_deps(ctx, stage)
    saved = outputs.save_outs(ctx, stage, commit=True)
    remember_links(ctx, [stage.abspath(ctx.root, o.path) for o in stage.outs if o.cache])
    entry = build_entry(stage.cmd, deps=deps, params=params, outs=saved.records)
    if can_cache(stage, ctx.root) and can_save(stage):
        outputs.store_uncached_reports(ctx, stage, saved.records)
        RunCache(str(ctx.odb.root)).save(entry)
    lock = ctx.lockfile(stage)
    verb = lock.with_entry(stage.name, entry)
    if verb is not None:
        lock.save()
        ctx.touched.add(_abs(ctx, lock.relpath))
        ctx.reporter.emit(
            LockWritten(ctx.addressing(stage), ctx.relpath(_abs(ctx, lock.relpath)), verb)
        )


# -- checkout ---------------------------------------------------------------------------------


@record(frozen=False)
class CheckoutSummary:
    """Outputs checked out (paths relative to the cwd, directories ending in `/`).

    ``stats`` counts files, as `dvc checkout --summary` does; ``failed`` lists
    outputs that could not be restored.
    """

    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: {"modified": 0, "added": 0, "deleted": 0})
    failed: list[str] = field(default_factory=list)


@record
class _Wanted:
    info: HashInfo
    path: str  # the output (absolute)
    within: str | None  # a path inside a directory output (granular target)


@record
class CheckoutOptions:
    """Flags of `checkout` (`-f`, `--relink`, `--allow-missing`, `-R`, `-d`)."""

    force: bool = False
    relink: bool = False
    allow_missing: bool = False
    recursive: bool = False
    with_deps: bool = False


def checkout_outputs(
    ctx: RunContext,
    stages: Sequence[Granular],
    opts: CheckoutOptions | None = None,
    *,
    remove_unused: bool = False,
) -> CheckoutSummary:
    """Restore recorded outputs from the cache, touching only what differs.

    Files whose current content is not in the cache are never replaced or
    deleted without ``opts.force`` (and then nothing is changed at all).
    Missing objects raise :class:`CheckoutFailedError` (unless ``allow_missing``).
    ``remove_unused`` (a checkout of everything) also deletes outputs labrun once
    checked out that no stage declares any more, if they were not modified since.
    """
    opts = opts or CheckoutOptions()
    summary = CheckoutSummary()
    wanted = _wanted_outputs(ctx, stages, summary)
    todo: list[tuple[_Wanted, Seen | None]] = []
    unsaved: list[str] = []
    for item in wanted:
        found = _compare(ctx, item)
        unsaved.extend(found.unsaved)
        if found.differs or opts.relink:
            todo.append((item, found.seen))
    if unsaved and not opts.force:
        raise LabrunError(
            "Can't remove the following unsaved files without confirmation. "
            "Use `--force` to force.\n" + "\n".join(unsaved),
            hint="commit them first (`labrun commit`), or check out with --force to discard them",
        )
    if remove_unused:
        before = len(summary.deleted)
        _remove_unused(ctx, [stage for stage, _ in stages], summary)
        if len(summary.deleted) > before:  # what was seen in the workspace may be gone
            todo = [(item, None) for item, _seen in todo]
    changed = [item.path for item, seen in todo if _checkout_one(ctx, item, seen, summary, opts)]
    remember_links(ctx, changed)
    for items in (summary.added, summary.modified, summary.deleted):
        items.sort(key=lambda p: (not p.endswith("/"), p))
    if summary.failed and not opts.allow_missing:
        raise CheckoutFailedError(summary.failed, summary)
    return summary


def _wanted_outputs(
    ctx: RunContext, stages: Sequence[Granular], summary: CheckoutSummary
) -> list[_Wanted]:
    wanted: list[_Wanted] = []
    for stage, within in stages:
        records = records_by_path(ctx.recorded(stage), "outs")
        for out in stage.outs:
            path = stage.abspath(ctx.root, out.path)
            if not out.cache or (within and not _overlaps(path, within)):
                continue
            info = HashInfo.from_record(records.get(out.path) or {})
            if info is None:
                ctx.warn(f"No file hash info found for '{path}'. It won't be created.")
                summary.failed.append(ctx.relpath(path))
                continue
            wanted.append(_Wanted(info, path, within if within != path else None))
    return wanted


def _overlaps(path: str, within: str) -> bool:
    return path == within or within.startswith(path + os.sep) or path.startswith(within + os.sep)


def _manifest(ctx: RunContext, info: HashInfo) -> dict[str, str] | None:
    """``relpath → md5`` of what an output should hold ("" for a single file)."""
    if not info.is_dir:
        return {"": info.md5}
    try:
        return dict(read_manifest(ctx.odb, info.md5, legacy=info.legacy).entries)
    except LabrunError:
        return None


def _present(ctx: RunContext, info: HashInfo, path: str) -> dict[str, str]:
    """``relpath → md5`` of what the workspace holds ("" md5: cannot be hashed)."""
    if not os.path.lexists(path):
        return {}
    if os.path.isdir(path) and not os.path.islink(path):
        with data_progress(ctx, "hashing", path):
            return dict(_build_dir(ctx, path, legacy=info.legacy).manifest.entries)
    try:
        return {"": ctx.state.hash_file(path, legacy=info.legacy).md5}
    except HashingError:
        return {"": ""}


def _in_scope(item: _Wanted, rel: str) -> bool:
    if item.within is None:
        return True
    prefix = os.path.relpath(item.within, item.path).replace(os.sep, "/")
    return rel == prefix or rel.startswith(prefix + "/")


class _Comparison(NamedTuple):
    differs: bool  # the workspace does not hold what was recorded
    unsaved: list[str]  # differing files whose content the cache does not hold
    seen: Seen | None  # the manifest and the workspace's content (None: no manifest)


def _compare(ctx: RunContext, item: _Wanted) -> _Comparison:
    """How the workspace differs from the record (DVC refuses to discard unsaved files
    without force)."""
    target = _manifest(ctx, item.info)
    if target is None:
        return _Comparison(True, [], None)  # the checkout itself reports what is missing
    if not os.path.lexists(item.path):
        return _Comparison(True, [], Seen(target, {}))
    present = _present(ctx, item.info, item.path)
    differing = [
        rel
        for rel in {**target, **present}
        if _in_scope(item, rel) and target.get(rel) != present.get(rel)
    ]
    unsaved = [
        os.path.join(item.path, rel) if rel else item.path
        for rel in sorted(differing)
        if rel in present
        and (not present[rel] or not ctx.odb.exists(present[rel], legacy=item.info.legacy))
    ]
    return _Comparison(bool(differing), unsaved, Seen(target, present))


def _checkout_one(
    ctx: RunContext,
    item: _Wanted,
    seen: Seen | None,
    summary: CheckoutSummary,
    opts: CheckoutOptions,
) -> bool:
    existed, relink = os.path.lexists(item.path), opts.relink
    shown = ctx.relpath(item.path) + ("/" if item.info.is_dir else "")
    try:
        if item.within is None:
            with data_progress(ctx, "checkout", item.path):
                done = ctx.workspace.checkout(
                    item.info, item.path, force=True, relink=relink, seen=seen
                )
            counts = (len(done.added), len(done.modified), len(done.deleted))
        else:
            counts = _checkout_within(ctx, item, seen, relink=relink)
    except CheckoutError:
        summary.failed.append(ctx.relpath(item.path))
        return False
    for key, count in zip(("added", "modified", "deleted"), counts, strict=True):
        summary.stats[key] += count
    if not any(counts):
        return relink
    (summary.modified if existed else summary.added).append(shown)
    return True


def _checkout_within(
    ctx: RunContext, item: _Wanted, seen: Seen | None, *, relink: bool
) -> tuple[int, int, int]:
    """A granular checkout: only the files of a directory output below ``item.within``."""
    if seen is None:
        wanted = _manifest(ctx, item.info)
        if wanted is None:
            raise CheckoutError(f"directory manifest '{item.info.md5}' is not in the cache")
        seen = Seen(wanted, _present(ctx, item.info, item.path))
    target, present = seen.wanted, seen.current
    deleted = [r for r in present if _in_scope(item, r) and r not in target]
    for rel in deleted:
        os.unlink(os.path.join(item.path, rel))
    added = modified = 0
    for rel, md5 in target.items():
        if not _in_scope(item, rel):
            continue
        info = HashInfo(md5, legacy=item.info.legacy)
        known = Seen({"": md5}, {"": present[rel]} if rel in present else {})
        path = os.path.join(item.path, rel)
        done = ctx.workspace.checkout(info, path, force=True, relink=relink, seen=known)
        added, modified = added + len(done.added), modified + len(done.modified)
    return added, modified, len(deleted)


# -- outputs labrun put into the workspace (a later full checkout removes stale ones) ----------

_LINKS_FILE = "links.json"


def _links_path(ctx: RunContext) -> str:
    return os.path.join(ctx.project.tmp_dir, _LINKS_FILE)


def _load_links(ctx: RunContext) -> set[str]:
    try:
        with open(_links_path(ctx), encoding="utf-8") as fobj:
            data = json.load(fobj)
    except (FileNotFoundError, ValueError):
        return set()
    return {p for p in data if isinstance(p, str)} if isinstance(data, list) else set()


def _save_links(ctx: RunContext, links: set[str]) -> None:
    os.makedirs(ctx.project.tmp_dir, exist_ok=True)
    atomic_write(_links_path(ctx), json.dumps(sorted(links)).encode(), durable=False)


def remember_links(ctx: RunContext, paths: Iterable[str]) -> None:
    """Record outputs labrun has just put into the workspace (project-relative)."""
    links = _load_links(ctx)
    fresh = {os.path.relpath(p, ctx.root).replace(os.sep, "/") for p in paths} - links
    if fresh:
        _save_links(ctx, links | fresh)


def _remove_unused(ctx: RunContext, stages: Sequence[Stage], summary: CheckoutSummary) -> None:
    """Delete outputs labrun once put into the workspace that no stage (of *stages*: every
    stage of the project) declares any more (after a `git checkout`, say), when every file
    of theirs is safe in the cache."""
    links = _load_links(ctx)
    used = {s.abspath(ctx.root, o.path) for s in stages for o in s.outs}
    stale = [os.path.join(ctx.root, rel) for rel in sorted(links)]
    stale = [p for p in stale if p not in used]
    if stale and ctx.project.has_scm:
        used |= git.tracked(ctx.root, stale)  # Git's own files now: not labrun's to remove
    for rel in sorted(links):
        path = os.path.join(ctx.root, rel)
        if path in used:
            continue
        if os.path.lexists(path) and not _all_cached(ctx, path):
            continue  # edited since: it is the user's data now
        links.discard(rel)
        if not os.path.lexists(path):
            continue
        is_dir = os.path.isdir(path) and not os.path.islink(path)
        summary.deleted.append(ctx.relpath(path) + ("/" if is_dir else ""))
        summary.stats["deleted"] += 1
        shutil.rmtree(path) if is_dir else os.unlink(path)
    _save_links(ctx, links)


def _all_cached(ctx: RunContext, path: str) -> bool:
    present = _present(ctx, HashInfo(""), path)
    return all(md5 and ctx.odb.exists(md5) for md5 in present.values())


# -- gc ---------------------------------------------------------------------------------------


@record
class GcOptions:
    """Flags of `gc`: only the workspace scope (`-w`) exists so far; `-f`, `--dry`."""

    workspace: bool = False
    force: bool = False
    dry: bool = False


@record(frozen=False)
class GcResult:
    """Objects removed per cache namespace ("repo": DVC 3, "legacy": DVC 2.x)."""

    removed: dict[str, list[str]] = field(default_factory=dict)


def used_objects(ctx: RunContext, index: Index, *, force: bool = False) -> set[tuple[bool, str]]:
    """``(legacy, oid)`` of every object the workspace's outputs reference (files of
    directories included). A missing directory manifest needs ``force`` or ``ctx.confirm``."""
    used: set[tuple[bool, str]] = set()
    for stage in index.stages:
        records = records_by_path(ctx.recorded(stage), "outs")
        for out in stage.outs:
            if not out.cache:
                continue
            info = HashInfo.from_record(records.get(out.path) or {})
            if info is None:
                _warn_unversioned(ctx, stage, out)
                continue
            used.add((info.legacy, info.md5))
            if info.is_dir:
                used.update(
                    (info.legacy, md5) for md5 in _dir_objects(ctx, info, stage, out, force)
                )
    return used


def _dir_objects(ctx: RunContext, info: HashInfo, stage: Stage, out: Out, force: bool) -> list[str]:
    try:
        return [md5 for _rel, md5 in read_manifest(ctx.odb, info.md5, legacy=info.legacy)]
    except LabrunError:
        pass
    path = stage.abspath(ctx.root, out.path)
    question = (
        f"Missing cache for directory '{path}'. Cache for files inside will be lost. "
        "Would you like to continue? Use '-f' to force."
    )
    if not force and (ctx.confirm is None or not ctx.confirm(question)):
        raise LabrunError(
            f"unable to fully collect used cache without cache for directory '{ctx.relpath(path)}'",
            hint="fetch or commit the directory again, or run gc with -f to accept the loss",
        )
    return []


def _warn_unversioned(ctx: RunContext, stage: Stage, out: Out) -> None:
    shown, addr = ctx.relpath(stage.abspath(ctx.root, out.path)), ctx.addressing(stage)
    message = (
        f"Output '{shown}'(stage: '{addr}') is missing version info. Cache for it will not "
        "be collected. Use `dvc repro` to get your pipeline up to date."
    )
    if os.path.lexists(stage.abspath(ctx.root, out.path)):
        message += (
            f"\nYou can also use `dvc commit {addr}` to associate existing '{shown}' "
            f"with stage: '{addr}'."
        )
    ctx.warn(message)


def collect_garbage(ctx: RunContext, index: Index, opts: GcOptions) -> GcResult:
    """Remove every cache object the workspace does not use (`dvc gc -w`).

    Manifests go before file objects, so an interrupted gc never leaves a
    manifest whose files are gone. The run-cache is not touched.
    """
    if not opts.workspace:
        raise LabrunError(
            "Either of `-w|--workspace`, `-a|--all-branches`, `-T|--all-tags` "
            "`--all-experiments`, `--all-commits`, `--date` or `--rev` needs to be set."
        )
    used = used_objects(ctx, index, force=opts.force)
    result = GcResult()
    for scheme, legacy in (("repo", False), ("legacy", True)):
        unused = [oid for oid in ctx.odb.iter_oids(legacy=legacy) if (legacy, oid) not in used]
        unused.sort(key=lambda oid: not oid.endswith(".dir"))
        paths = [ctx.odb.path_of(oid, legacy=legacy) for oid in unused]
        if not opts.dry:
            for path in paths:
                os.unlink(path)
        result.removed[scheme] = paths
    return result
