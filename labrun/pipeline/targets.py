"""Targets: what `stage`, `path/dvc.yaml:stage@key`, `x.dvc`, `-R dir`, `--glob` select.

>>> parse_target("sub/dvc.yaml:train@cnn")
('sub/dvc.yaml', 'train@cnn')
>>> parse_target("train")
('dvc.yaml', 'train')
>>> parse_target("data.dvc")
('data.dvc', None)
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Callable

from labrun.errors import TargetError
from labrun.pipeline.dvcfile import PipelineFile, load_dvcfile_stage
from labrun.pipeline.index import PIPELINE_FILE, IgnoreFn, is_dvcfile_name, iter_dvcfiles
from labrun.pipeline.interpolate import ParsingConfig
from labrun.pipeline.source import workspace_of
from labrun.pipeline.stage import Stage
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from labrun.pipeline.source import FileSource


def split_name(head: str) -> tuple[str, str | None]:
    """``path:name`` at the last colon whose name has no slash; else (head, None).

    What the pattern ``^(?P<path>.*?)(:(?P<name>[^\\/:]*))??$`` finds (DVC's).

    >>> split_name("sub/dvc.yaml:train"), split_name("C:/data")
    (('sub/dvc.yaml', 'train'), ('C:/data', None))
    """
    colon = head.rfind(":")
    name = head[colon + 1 :]
    if colon < 0 or "/" in name or "\\" in name:
        return head, None
    return head[:colon], name


def parse_target(target: str) -> tuple[str, str | None]:
    """Split a target into (dvc file path, stage name or None), DVC's rules.

    A bare word that is not a dvc file name is a stage of `./dvc.yaml`.
    """
    head, at, key = target.partition("@")
    path, name = split_name(head)
    if name is not None and at:
        name = f"{name}@{key}"
    elif name is None and at:
        path = target  # `group@key` without a file: handled as a name below
    if not path:
        return PIPELINE_FILE, name
    if posixpath.basename(path) == "dvc.lock":
        suggestion = path[: -len("dvc.lock")] + PIPELINE_FILE
        raise TargetError(f"Did you mean: `{suggestion}`?")
    if name is None and not is_dvcfile_name(path):
        return PIPELINE_FILE, target
    return path, name


@record(frozen=False)
class Collector:
    """Collects stages for targets, loading only the dvc files it needs."""

    root: str
    cwd_rel: str = "."
    parsing: ParsingConfig = field(default_factory=ParsingConfig)
    ignore: IgnoreFn | None = None
    loader: Callable[[str], list[Stage]] | None = None
    _files: dict[str, PipelineFile] = field(default_factory=dict)
    source: FileSource | None = None  # where the files are read (None: the working tree)

    def collect(self, target: str, *, recursive: bool = False, glob: bool = False) -> list[Stage]:
        """Stages selected by one target (see the module docstring)."""
        if recursive and self._source().isdir(self._relpath(target)):
            return self._collect_dir(target)
        if glob:
            return self._collect_glob(target)
        path, name = parse_target(target)
        relpath = self._relpath(path)
        self._check_file(path, relpath)
        if not relpath.endswith(PIPELINE_FILE):
            return self._stages_of(relpath)
        if name is None:
            return self._stages_of(relpath)
        return self.pipeline(relpath).select(name, shown=path)

    def pipeline(self, relpath: str, shown: str | None = None) -> PipelineFile:
        """The loaded `dvc.yaml` at a project-relative path (cached)."""
        if relpath not in self._files:
            self._files[relpath] = PipelineFile.load(
                self.root, relpath, self.parsing, source=self._source()
            )
        pipeline = self._files[relpath]
        return pipeline

    def warnings(self) -> list[str]:
        """Warnings from the pipelines loaded so far."""
        return [w for p in self._files.values() for w in p.warnings]

    def _stages_of(self, relpath: str) -> list[Stage]:
        if self.loader is not None:
            return self.loader(relpath)
        if relpath.endswith(".dvc"):
            return [load_dvcfile_stage(self.root, relpath, source=self._source())]
        return self.pipeline(relpath).stages()

    def _source(self) -> FileSource:
        if self.source is None:
            self.source = workspace_of(self.root, None)
        return self.source

    def _collect_dir(self, target: str) -> list[Stage]:
        rel = self._relpath(target)
        found: list[Stage] = []
        base = os.path.join(self.root, rel)
        ignore = self.ignore or (lambda _p, _d: False)
        for relpath in iter_dvcfiles(self.root, ignore, source=self._source()):
            full = os.path.join(self.root, relpath)
            if rel == "." or os.path.commonpath([full, base]) == base:
                found.extend(self._stages_of(relpath))
        return found

    def _collect_glob(self, target: str) -> list[Stage]:
        path, sep, pattern = target.rpartition(":")
        relpath = self._relpath(path if sep else PIPELINE_FILE)
        self._check_file(path or PIPELINE_FILE, relpath)
        return [s for s in self._stages_of(relpath) if fnmatch.fnmatchcase(s.name, pattern)]

    def _abs(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.root, self.cwd_rel, path))

    def _relpath(self, path: str) -> str:
        rel = os.path.relpath(self._abs(path), self.root)
        return rel.replace(os.sep, "/")

    def _check_file(self, path: str, relpath: str) -> None:
        full = os.path.join(self.root, relpath)
        source = self._source()
        if not is_dvcfile_name(relpath):
            if source.exists(relpath):
                base = posixpath.basename(path)
                raise TargetError(
                    f"bad DVC file name '{path}'. DVC files should be named 'dvc.yaml' "
                    f"or have a '.dvc' suffix (e.g. '{base}.dvc')."
                )
            raise TargetError(f"'{full}' does not exist")
        if not source.isfile(relpath):
            raise TargetError(f"'{full}' does not exist")
        if self.ignore is not None and self.ignore(relpath, False):
            raise TargetError(f"'{path}' is dvc-ignored")
