"""Putting cached objects into the workspace: link strategies and checkout.

``cache.type`` is a list of link kinds tried in order per file (DVC's default
``reflink,copy``). A kind that fails with "not possible here" (cross-device,
unsupported filesystem...) is dropped for the rest of the checkout, as DVC
tests each kind once.

Checkout only touches what differs: files whose content already matches are
left alone, and a file labrun would have to delete or overwrite is only
removed if its content is safe in the cache (or with ``force``).

The files placed are counted, slice by slice, on the
:class:`~labrun.cache.workers.Meter` current on the calling thread, if any.

    >>> import tempfile, pathlib
    >>> from labrun.cache.hashing import hash_file
    >>> from labrun.cache.odb import LocalObjectStore
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("a")
    >>> store = LocalObjectStore(d / "cache", durable=False)
    >>> info = hash_file(d / "a.txt"); _ = store.add(info.md5, d / "a.txt")
    >>> Workspace(store).checkout(info, d / "b.txt").added == [str(d / "b.txt")]
    True
"""

from __future__ import annotations

import contextlib
import os
import stat
from _thread import allocate_lock  # `threading` costs start-up time
from collections.abc import Callable, Mapping, Sequence

from labrun import fsutil
from labrun.cache.hashing import HashInfo, HashingError, Manifest
from labrun.cache.odb import ObjectNotFoundError, ObjectStore, read_manifest
from labrun.cache.state import DirListing, Known, State
from labrun.cache.workers import counted, current_meter, paused_gc
from labrun.errors import ConfigError, LabrunError
from labrun.ignore import DvcIgnore
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_LINK_TYPES = ("reflink", "copy")
_COUNT_EVERY = 256  # files placed between two counts on a meter


class CheckoutError(LabrunError):
    """Some workspace files could not be checked out."""


class LinkError(CheckoutError):
    """None of the configured link kinds works for a path."""


def parse_link_types(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Read ``cache.type`` (``"hardlink,symlink"`` or a list); default ``reflink,copy``.

    >>> parse_link_types(" hardlink, copy"), parse_link_types(None)
    (('hardlink', 'copy'), ('reflink', 'copy'))
    """
    if value is None or value == "":
        return DEFAULT_LINK_TYPES
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(item.strip() for item in items)
    unsupported = [k for k in kinds if k not in LINK_TYPES]
    if unsupported:
        raise ConfigError(
            f"Unsupported cache type(s): {', '.join(unsupported)}",
            hint=f"`cache.type` accepts: {', '.join(LINK_TYPES)}",
        )
    return kinds


# -- linking ---------------------------------------------------------------------
#
# Each kind comes in two forms: a "maker" creates a new file that must not exist
# (FileExistsError otherwise) and returns its stat when it has one for free;
# `Linker.link` turns a maker into "replace atomically" with a temporary name.


def _reflink(src: str, dst: str) -> os.stat_result | None:
    fsutil.reflink(src, dst)
    os.chmod(dst, fsutil.DEFAULT_FILE_MODE)  # clones may or may not keep the source mode
    return None


def _hardlink(src: str, dst: str) -> os.stat_result | None:
    os.link(os.path.realpath(src), dst)
    return None


def _symlink(src: str, dst: str) -> os.stat_result | None:
    os.symlink(os.path.abspath(src), dst)
    return None


def _copy(src: str, dst: str) -> os.stat_result | None:
    return fsutil.create_copy(src, dst)


_MAKERS: dict[str, Callable[[str, str], os.stat_result | None]] = {
    "reflink": _reflink,
    "hardlink": _hardlink,
    "symlink": _symlink,
    "copy": _copy,
}


class Linker:
    """Links cache objects into the workspace, trying ``types`` in order.

    Safe to share between threads: a kind that fails is dropped for everyone.

    >>> Linker(("symlink", "copy")).types
    ('symlink', 'copy')
    """

    def __init__(self, types: Sequence[str] = DEFAULT_LINK_TYPES) -> None:
        self.types = parse_link_types(list(types))
        self._working = list(self.types)
        self._lock = allocate_lock()

    def _drop(self, kind: str, exc: OSError) -> None:
        """Forget a kind that cannot work here; re-raise real failures."""
        if kind == "copy" or exc.errno not in fsutil.LINK_UNSUPPORTED:
            raise exc
        with self._lock:
            if kind in self._working:
                self._working.remove(kind)

    def _no_kind(self, dst: str) -> LinkError:
        return LinkError(
            f"no possible cache link types for '{dst}'",
            hint=f"none of {', '.join(self.types)} works here; add `copy` to `cache.type`",
        )

    def create(self, src: str, dst: str) -> tuple[str, os.stat_result | None]:
        """Make *dst*, which must not exist, from object *src*, without a temporary name.

        Returns the kind made and the new file's stat when it came for free.
        ``FileExistsError`` if something is in the way.
        """
        for kind in list(self._working):
            try:
                return kind, _MAKERS[kind](src, dst)
            except FileExistsError:
                raise
            except OSError as exc:  # makers leave nothing behind when they fail
                self._drop(kind, exc)
        raise self._no_kind(dst)

    def link(self, src: str, dst: str) -> str:
        """Create or replace *dst* from object *src*; return the kind of link made."""
        tmp = fsutil.tmp_path_for(dst)
        for kind in list(self._working):
            try:
                _MAKERS[kind](src, tmp)
                os.replace(tmp, dst)
            except OSError as exc:
                _discard(tmp)
                self._drop(kind, exc)
                continue
            if kind == "hardlink" and os.path.lexists(tmp):
                _discard(tmp)  # rename() between two links of one inode does nothing
            return kind
        raise self._no_kind(dst)

    @property
    def wants_plain_files(self) -> bool:
        """Whether the wanted kind is a copy or a clone (which cannot be told apart)."""
        return (self._working[0] if self._working else "copy") in ("copy", "reflink")

    def needs_relink(self, path: str, src: str) -> bool:
        """Whether *path* is not the kind of link the settings ask for.

        The wanted kind is the first of ``cache.type`` that has not failed here (as
        DVC: `hardlink,copy` means hardlinks wherever they work).
        """
        st = os.lstat(path)
        is_symlink = stat.S_ISLNK(st.st_mode)
        is_hardlink = not is_symlink and st.st_nlink > 1
        wanted = self._working[0] if self._working else "copy"
        if wanted in ("copy", "reflink"):  # a reflink cannot be told from a copy
            return is_symlink or is_hardlink
        if wanted == "hardlink":
            return not is_hardlink or st.st_ino != os.stat(src).st_ino
        return not is_symlink or os.readlink(path) != os.path.abspath(src)


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def unprotect(path: str | os.PathLike[str]) -> None:
    """Turn a linked output into private writable copies (for in-place edits).

    Symlinks and hardlinks into the cache are replaced by copies; every file
    ends up with a plain file's mode (execute bits kept).
    """
    top = os.fspath(path)
    if os.path.isdir(top) and not os.path.islink(top):
        files = [os.path.join(d, f) for d, _, names in os.walk(top) for f in names]
    else:
        files = [top]
    for name in files:
        linked = os.lstat(name)
        mode = fsutil.DEFAULT_FILE_MODE | (os.stat(name).st_mode & 0o111)
        if stat.S_ISLNK(linked.st_mode) or linked.st_nlink > 1:
            fsutil.atomic_copy(name, name, mode)
        else:
            os.chmod(name, mode)


# -- checkout --------------------------------------------------------------------


@record(frozen=False)
class CheckoutResult:
    """What a checkout did, as paths in the form the target was given."""

    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything in the workspace changed."""
        return bool(self.added or self.modified or self.deleted)


@record
class Seen:
    """What a caller of :meth:`Workspace.checkout` has read already: the manifest
    (``wanted``: ``relpath → md5``, ``{"": md5}`` for a file) and what the path
    holds now (``current``, in the same form; ``{}`` when nothing is there)."""

    wanted: Mapping[str, str]
    current: Mapping[str, str]


@record(frozen=False)
class _Plan:
    """Paths relative to the target ("" = the target itself) and what to do with them."""

    wanted: dict[str, str]
    current: dict[str, str]
    deleted: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    relink: list[str] = field(default_factory=list)


@record(frozen=False)
class Workspace:
    """How data gets from a store into the workspace.

    ``linker`` applies ``cache.type``; ``state`` avoids re-hashing unchanged
    workspace files (an in-memory memo by default); ``ignore`` hides workspace
    files from directory checkouts (they are neither hashed nor deleted).

        >>> from labrun.cache.odb import MemoryObjectStore
        >>> ws = Workspace(MemoryObjectStore(), Linker(["hardlink", "copy"]))
    """

    store: ObjectStore
    linker: Linker = field(default_factory=Linker)
    state: State = field(default_factory=State)
    ignore: DvcIgnore | None = None

    def checkout(
        self,
        info: HashInfo,
        path: str | os.PathLike[str],
        *,
        force: bool = False,
        relink: bool = False,
        seen: Seen | None = None,
    ) -> CheckoutResult:
        """Make *path* hold the file or directory *info*.

        Unchanged files are not touched (unless ``relink`` and their link kind
        is not the configured one). Files whose content is not in the store are
        only deleted or overwritten with ``force``; otherwise
        :class:`CheckoutError` is raised before anything changes.

        A caller that has read the manifest and hashed *path* already passes
        both as *seen*: then neither is read again.
        """
        return _Checkout(self, info, os.fspath(path)).run(force=force, relink=relink, seen=seen)

    @paused_gc()
    def link_committed(self, listing: DirListing, path: str | os.PathLike[str]) -> int:
        """Give a directory just committed from *path* the configured link kind.

        What ``checkout(listing.info, path, relink=True)`` does right after the
        commit, without walking and hashing the directory again: *listing* (its
        hash, as committed) says which files are links already. Returns how many
        files were relinked.
        """
        pairs = zip(listing.files, listing.manifest.entries, strict=True)
        if self.linker.wants_plain_files:  # no system call for files that are plain already
            todo = [(f.path, md5) for f, (_, md5) in pairs if f.symlink or f.nlink > 1]
        else:
            todo = [(f.path, md5) for f, (_, md5) in pairs]
        legacy = listing.info.legacy
        placed: list[Known] = []

        def relink(item: tuple[str, str]) -> None:
            file, md5 = item
            src = self.store.path_of(md5, legacy=legacy)
            if src is not None and self.linker.needs_relink(file, src):
                self.linker.link(src, file)
                placed.append((os.path.abspath(file), os.stat(file), md5))

        try:  # on one thread: see labrun.cache.workers
            _each_counted(relink, todo, placed)
        finally:
            self.state.remember_stats(placed, legacy=legacy)
        return len(placed)


def _each_counted(func: Callable[[T], None], items: Sequence[T], placed: list[Known]) -> None:
    """``for item in items: func(item)``, counting slices of items on this thread's meter
    (if any), with the bytes of the files *func* adds to *placed*."""
    meter = current_meter()
    if meter is None or meter.running or not items:
        for item in items:
            func(item)
        return
    with counted(len(items), None):
        for start in range(0, len(items), _COUNT_EVERY):
            part, before = items[start : start + _COUNT_EVERY], len(placed)
            for item in part:
                func(item)
            meter.advance(len(part), sum(st.st_size for _, st, _ in placed[before:]))


class _Checkout:
    def __init__(self, workspace: Workspace, info: HashInfo, target: str) -> None:
        self.store, self.info, self.target = workspace.store, info, target
        self.linker, self.state, self.ignore = workspace.linker, workspace.state, workspace.ignore
        self.legacy = info.legacy
        self.abs_target = os.path.abspath(target)
        self._prefix, self._abs_prefix = os.path.join(target, ""), os.path.join(self.abs_target, "")
        self.absent = False  # nothing at the target when the checkout was planned

    @paused_gc()
    def run(
        self,
        *,
        force: bool,
        relink: bool,
        seen: Seen | None,
    ) -> CheckoutResult:
        self.absent = not os.path.lexists(self.target)
        if seen is not None:
            plan = _Plan(dict(seen.wanted), dict(seen.current))
        else:
            plan = _Plan(self._wanted(), self._current())
        self._fill_plan(plan, relink)
        if not force:
            self._check_removable(plan)
        missing = self._apply(plan)
        if missing:
            raise CheckoutError(
                "unable to check out, data missing from the cache: "
                + ", ".join(f"'{self._full(rel)}'" for rel in missing),
                hint="commit the data again, or fetch it from a remote",
            )
        if not self.info.is_dir and self.info.isexec:
            _add_user_exec(self.target)
        return CheckoutResult(
            added=[self._full(rel) for rel in plan.added],
            modified=[self._full(rel) for rel in plan.modified],
            deleted=[self._full(rel) for rel in plan.deleted],
        )

    def _full(self, rel: str) -> str:
        return self._prefix + rel if rel else self.target  # relpaths use "/", as on POSIX

    # -- planning --

    def _wanted(self) -> dict[str, str]:
        if not self.info.is_dir:
            return {"": self.info.md5}
        try:
            manifest: Manifest = read_manifest(self.store, self.info.md5, legacy=self.legacy)
        except ObjectNotFoundError as exc:
            raise CheckoutError(
                f"unable to check out '{self.target}': its directory manifest "
                f"'{self.info.md5}' is not in the cache",
                hint="commit the data again, or fetch it from a remote",
            ) from exc
        return dict(manifest.entries)

    def _current(self) -> dict[str, str]:
        """What the target holds now: ``relpath → md5`` ("" for the target itself).

        An unhashable path (broken link, link to a directory...) maps to "".
        """
        target = self.target
        if self.absent:
            return {}
        if os.path.isdir(target) and not os.path.islink(target):
            listing = self.state.build_dir(target, self.ignore, legacy=self.legacy)
            return dict(listing.manifest.entries)
        try:
            return {"": self.state.hash_file(target, legacy=self.legacy).md5}
        except HashingError:
            return {"": ""}

    def _fill_plan(self, plan: _Plan, relink: bool) -> None:
        plan.deleted = [rel for rel in plan.current if rel not in plan.wanted]
        for rel, md5 in plan.wanted.items():
            if rel not in plan.current:
                plan.added.append(rel)
            elif plan.current[rel] != md5:
                plan.modified.append(rel)
            elif relink and self._needs_relink(rel, md5):
                plan.relink.append(rel)

    def _needs_relink(self, rel: str, md5: str) -> bool:
        src = self.store.path_of(md5, legacy=self.legacy)
        return src is not None and self.linker.needs_relink(self._full(rel), src)

    def _check_removable(self, plan: _Plan) -> None:
        at_risk = [
            self._full(rel)
            for rel in plan.deleted + plan.modified
            if not plan.current[rel] or not self.store.exists(plan.current[rel], legacy=self.legacy)
        ]
        if at_risk:
            names = ", ".join(f"'{name}'" for name in at_risk)
            raise CheckoutError(
                f"unable to remove {names} without a confirmation: the content is not in the cache",
                hint="save it elsewhere, or check out with force to discard it",
            )

    # -- doing --

    def _apply(self, plan: _Plan) -> list[str]:
        for rel in plan.deleted:
            _discard(self._full(rel))
        todo = plan.added + plan.modified + plan.relink
        if self.info.is_dir:
            os.makedirs(self.target, exist_ok=True)  # also when the manifest is empty
            for folder in sorted({rel.rpartition("/")[0] for rel in todo} - {""}):
                os.makedirs(self._prefix + folder, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(self.target) or ".", exist_ok=True)
        fresh = set(plan.added)
        placed: list[Known] = []
        missing: list[str] = []

        def place(rel: str) -> None:
            if not self._place(rel, plan.wanted[rel], rel in fresh, placed):
                missing.append(rel)

        try:  # on one thread: see labrun.cache.workers
            _each_counted(place, todo, placed)
        finally:  # what was written is known content: spare the next status a re-hash
            self.state.remember_stats(placed, legacy=self.legacy)
        if self.absent and self.info.is_dir and not missing:
            self._remember_tree(placed)
        return sorted(missing)

    def _remember_tree(self, placed: Sequence[Known]) -> None:
        """The directory was created whole: the memo can know it as a tree too."""
        size = sum(st.st_size for _, st, _ in placed)
        info = HashInfo(self.info.md5, size, len(placed), legacy=self.legacy)
        self.state.remember_dir(self.abs_target, placed, info)

    def _place(self, rel: str, md5: str, fresh: bool, placed: list[Known]) -> bool:
        """Put one object into place; False if the store does not have it.

        A *fresh* path (nothing there when the checkout was planned) is created
        directly; anything else is replaced atomically.
        """
        if not self.store.exists(md5, legacy=self.legacy):
            return False
        dst = self._full(rel)
        src = self.store.path_of(md5, legacy=self.legacy)
        st: os.stat_result | None = None
        if src is None:
            with self.store.open(md5, legacy=self.legacy) as fobj:
                fsutil.atomic_write(dst, fobj.read(), durable=False)
        else:
            st = self._link(src, dst, fresh)
        full = self._abs_prefix + rel if rel else self.abs_target
        placed.append((full, st if st is not None else os.stat(dst), md5))
        return True

    def _link(self, src: str, dst: str, fresh: bool) -> os.stat_result | None:
        if fresh:
            try:
                return self.linker.create(src, dst)[1]
            except FileExistsError:
                pass  # a directory in the way, say: the careful path below
        if os.path.isdir(dst) and not os.path.islink(dst):
            _clear_dir(dst)
        self.linker.link(src, dst)
        return None


def _clear_dir(path: str) -> None:
    """Remove a directory whose tracked files are gone; refuse if anything else is left."""
    for folder, _, files in os.walk(path, topdown=False):
        if files:
            raise CheckoutError(
                f"unable to check out '{path}': the directory in the way still holds "
                f"files that are not tracked, such as '{os.path.join(folder, files[0])}'",
                hint="move them elsewhere and retry",
            )
        os.rmdir(folder)


def _add_user_exec(path: str) -> None:
    mode = os.stat(path).st_mode
    if not mode & stat.S_IXUSR:
        with contextlib.suppress(OSError):
            os.chmod(path, mode | stat.S_IXUSR)


__all__ = [
    "DEFAULT_LINK_TYPES",
    "LINK_TYPES",
    "CheckoutError",
    "CheckoutResult",
    "LinkError",
    "Linker",
    "Seen",
    "Workspace",
    "parse_link_types",
    "unprotect",
]
