"""The project index: every dvc file and stage of a project, found by walking it.

    >>> idx = Index.load(root, parsing=ParsingConfig())      # doctest: +SKIP
    >>> [s.addressing_from(".") for s in idx.stages]         # doctest: +SKIP
    ['data.dvc', 'prep', 'train@cnn', 'sub/dvc.yaml:eval']

Discovery order is deterministic: at each directory its dvc files (sorted by
name), then its subdirectories (sorted). A directory that is an output of an
already loaded stage, a nested project (own `.dvc/`), and anything excluded by
`.dvcignore` are not descended into.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator

from labrun.pipeline.dvcfile import PipelineFile, load_dvcfile_stage
from labrun.pipeline.interpolate import ParsingConfig
from labrun.pipeline.source import workspace_of
from labrun.pipeline.stage import Stage, relpath_in
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from labrun.pipeline.source import FileSource

PIPELINE_FILE = "dvc.yaml"
IgnoreFn = Callable[[str, bool], bool]
_ALWAYS_SKIPPED = frozenset({".git", ".hg", ".dvc"})


def is_dvcfile_name(name: str) -> bool:
    """True for `dvc.yaml` and `*.dvc` names (the files that define stages)."""
    if not name.endswith((".dvc", PIPELINE_FILE)):  # the common answer, without a split
        return False
    base = posixpath.basename(name)
    return base == PIPELINE_FILE or (base.endswith(".dvc") and base != ".dvc")


def _never(_path: str, _is_dir: bool) -> bool:
    return False


@record(frozen=False)
class Index:
    """Every stage of the project, in discovery order, with the files they came from."""

    root: str
    stages: list[Stage]
    pipelines: dict[str, PipelineFile] = field(default_factory=dict)
    source: FileSource | None = None  # where the files are read (None: the working tree)

    @classmethod
    def load(
        cls,
        root: str,
        parsing: ParsingConfig | None = None,
        ignore: IgnoreFn | None = None,
        source: FileSource | None = None,
    ) -> Index:
        """Walk the project and load every dvc file (any error aborts, as in DVC).

        ``source`` serves the files (default: the working tree at ``root``).
        """
        parsing = parsing or ParsingConfig()
        source = workspace_of(root, source)
        index = cls(root, [], source=source)
        out_dirs: set[str] = set()
        for relpath in iter_dvcfiles(root, ignore or _never, out_dirs, source):
            new = index.add_file(relpath, parsing)
            for stage in new:
                out_dirs.update(_out_relpaths(root, stage))
        return index

    def add_file(self, relpath: str, parsing: ParsingConfig) -> list[Stage]:
        """Load one dvc file into the index and return its stages."""
        if posixpath.basename(relpath) == PIPELINE_FILE:
            pipeline = PipelineFile.load(self.root, relpath, parsing, source=self.source)
            self.pipelines[relpath] = pipeline
            new = pipeline.stages()
        else:
            new = [load_dvcfile_stage(self.root, relpath, source=self.source)]
        self.stages.extend(new)
        return new

    def warnings(self) -> list[str]:
        """Warnings collected while resolving the pipelines (e.g. shadowed `item`)."""
        return [w for p in self.pipelines.values() for w in p.warnings]


def _out_relpaths(root: str, stage: Stage) -> Iterator[str]:
    for out in stage.outs:
        full = stage.abspath(root, out.path)
        rel = relpath_in(full, root)
        if not rel.startswith(".."):
            yield rel.replace(os.sep, "/")


def iter_dvcfiles(
    root: str,
    ignore: IgnoreFn,
    out_dirs: set[str] | None = None,
    source: FileSource | None = None,
) -> Iterator[str]:
    """Project-relative paths of dvc files, depth-first, top-down, sorted by name.

    ``out_dirs`` may grow while iterating (outputs of the files yielded so far):
    such directories are not descended into.
    """
    skip = out_dirs if out_dirs is not None else set()
    yield from _walk(workspace_of(root, source), ".", ignore, skip)


def _walk(source: FileSource, rel: str, ignore: IgnoreFn, skip: set[str]) -> Iterator[str]:
    try:
        entries = sorted(source.scandir(rel), key=lambda e: e.name)
    except OSError:
        return
    subdirs: list[str] = []
    for entry in entries:
        child = entry.name if rel == "." else f"{rel}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _ALWAYS_SKIPPED and not ignore(child, True):
                subdirs.append(child)
        elif is_dvcfile_name(entry.name) and not ignore(child, False):
            yield child
    for sub in subdirs:
        if sub not in skip and not source.isdir(sub + "/.dvc"):
            yield from _walk(source, sub, ignore, skip)
