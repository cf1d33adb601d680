"""Typed values for stages, their dependencies, params and outputs.

A :class:`Stage` is one resolved entry of a `dvc.yaml` (after templating and
`foreach`/`matrix` expansion) or the single stage of a `.dvc` file. Paths are
kept exactly as written (*def paths*); :meth:`Stage.abspath` joins them with
the stage's working directory.

    >>> st = Stage(name="train", dvcfile="dvc.yaml", wdir=".", cmd="python t.py",
    ...            deps=("data.csv",), outs=(Out("model.pkl"),))
    >>> st.addressing_from(".")
    'train'
    >>> st.addressing_from("sub")
    '../dvc.yaml:train'
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from functools import lru_cache

from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any, Literal

    OutKind = Literal["outs", "metrics", "plots"]

PLOT_PROPS = ("x", "y", "x_label", "y_label", "title", "template", "header")
ANNOTATIONS = ("desc", "type", "labels", "meta")
DEFAULT_PARAMS_FILE = "params.yaml"


@record
class Out:
    """One output (`outs`, `metrics` or `plots` item) with its flags."""

    path: str
    kind: OutKind = "outs"
    cache: bool = True
    persist: bool = False
    checkpoint: bool = False
    push: bool = True
    remote: str | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)
    plot_props: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_metric(self) -> bool:
        """True for a `metrics` item."""
        return self.kind == "metrics"

    @property
    def is_plot(self) -> bool:
        """True for a `plots` item."""
        return self.kind == "plots"


@record
class ParamsDep:
    """A params file a stage depends on: listed keys, or the whole file (keys=None)."""

    path: str
    keys: tuple[str, ...] | None


@record
class Stage:
    """One stage: where it is defined, what it runs, what it reads and writes.

    ``dvcfile`` and ``wdir`` are project-relative POSIX paths (``.`` for the
    root). ``cmd`` is None only for the data-source stage of a `.dvc` file.
    """

    name: str
    dvcfile: str
    wdir: str
    cmd: Any = None
    deps: tuple[str, ...] = ()
    params: tuple[ParamsDep, ...] = ()
    outs: tuple[Out, ...] = ()
    frozen: bool = False
    always_changed: bool = False
    desc: str | None = None
    meta: Any = None
    group: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_data_source(self) -> bool:
        """True for the stage of a `.dvc` file (no command)."""
        return self.dvcfile.endswith(".dvc")

    @property
    def dvcfile_dir(self) -> str:
        """Project-relative directory of the dvc file (``.`` for the root)."""
        return posixpath.dirname(self.dvcfile) or "."

    def abspath(self, root: str, def_path: str) -> str:
        """Absolute, normalised path of a dep/out def path of this stage."""
        return _joined(root, self.wdir, def_path)

    def params_paths(self) -> tuple[str, ...]:
        """Def paths of the params files (they are dependencies like any other)."""
        return tuple(p.path for p in self.params)

    def addressing_from(self, cwd_rel: str) -> str:
        """How DVC names this stage for a user whose cwd is ``cwd_rel`` (project-relative).

        A `.dvc` file is its relative path; a stage of the `dvc.yaml` in the cwd is
        its bare name; any other is ``<relative dvc.yaml>:<name>``.
        """
        rel = _relative(self.dvcfile, cwd_rel or ".")
        if self.is_data_source:
            return rel
        if rel == "dvc.yaml":
            return self.name
        return f"{rel}:{self.name}"


# Loading, planning and checking a pipeline ask for the same paths many times.
@lru_cache(maxsize=16384)
def _joined(root: str, wdir: str, def_path: str) -> str:
    return os.path.normpath(os.path.join(root, wdir, def_path))


def _relative(path: str, start: str) -> str:
    """`posixpath.relpath` of two project-relative paths (remembered: it is slow)."""
    if ".." in path or ".." in start:  # the answer may then depend on the cwd
        return posixpath.relpath(path, start)
    return _relative_below(path, start)


@lru_cache(maxsize=1024)
def _relative_below(path: str, start: str) -> str:
    return posixpath.relpath(path, start)


@lru_cache(maxsize=8)
def _is_normal(root: str) -> bool:
    return root == os.path.abspath(root)


def _climbs(relpath: str) -> bool:
    return relpath == os.pardir or relpath.startswith(os.pardir + os.sep)


def relpath_in(path: str, root: str) -> str:
    """`os.path.relpath(path, root)`, without its cost when `path` lies inside `root`.

    The quick answer needs an absolute, normalised `root` and `path` (as
    `Stage.abspath` returns them); anything else goes to `os.path.relpath`.

        >>> relpath_in("/p/data/a.csv", "/p"), relpath_in("/q/x", "/p"), relpath_in("/p", "/p")
        ('data/a.csv', '../q/x', '.')
    """
    size = len(root)
    if path.startswith(root) and path[size : size + 1] == os.sep and _is_normal(root):
        tail = path[size + 1 :]
        if tail and os.path.normpath(tail) == tail and not _climbs(tail):
            return tail
    return os.path.relpath(path, root)


def merge_params(items: list[Any]) -> tuple[ParamsDep, ...]:
    """Turn a stage's raw `params` list into ParamsDep values, DVC's merging rules.

    Bare keys go to `params.yaml` unless it is tracked whole; a file listed
    whole anywhere is tracked whole; keys of repeated files are concatenated.

    >>> merge_params(["lr", {"p.json": ["a"]}, {"p.json": ["b"]}, {"w.toml": None}])
    (ParamsDep(path='params.yaml', keys=('lr',)), ParamsDep(path='p.json', keys=('a', 'b')), \
ParamsDep(path='w.toml', keys=None))
    """
    whole = {k for item in items if isinstance(item, dict) for k, v in item.items() if not v}
    files: dict[str, list[str] | None] = {}
    for item in items:
        if isinstance(item, str):
            if DEFAULT_PARAMS_FILE in whole:
                continue
            keys = files.setdefault(DEFAULT_PARAMS_FILE, [])
            assert keys is not None
            keys.append(item)
            continue
        for path, listed in item.items():
            if path in whole:
                files[path] = None
                continue
            current = files.setdefault(path, [])
            assert current is not None
            current.extend(listed)
    return tuple(ParamsDep(p, None if k is None else tuple(k)) for p, k in files.items())


def make_outs(kind: OutKind, items: list[Any]) -> list[Out]:
    """Turn one raw `outs`/`metrics`/`plots` list into Out values (same path merged)."""
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, str):
            merged.setdefault(item, {})
            continue
        for path, flags in item.items():
            merged.setdefault(path, {}).update(flags or {})
    # an output without flags has every default (the usual case: a plain path)
    return [
        _make_out(kind, path, flags) if flags else Out(path=path, kind=kind)
        for path, flags in merged.items()
    ]


def _make_out(kind: OutKind, path: str, flags: dict[str, Any]) -> Out:
    props = {k: v for k, v in flags.items() if k in PLOT_PROPS} if kind == "plots" else {}
    return Out(
        path=path,
        kind=kind,
        cache=bool(flags.get("cache", True)),
        persist=bool(flags.get("persist", False)),
        checkpoint=bool(flags.get("checkpoint", False)),
        push=bool(flags.get("push", True)),
        remote=flags.get("remote"),
        annotations={k: flags[k] for k in ANNOTATIONS if k in flags},
        plot_props=props,
    )
