"""Git revisions for the commands that read results: resolve, walk, and collect rows.

:class:`Revisions` reads refs in-process and objects through one `git cat-file`
process, and keeps the row data of commits in the row cache (`rowcache.py`): a
warm `exp show` or `metrics diff` starts no process at all.

    >>> revs = Revisions(project)                              # doctest: +SKIP
    >>> rows = revs.rows([revs.resolve("HEAD")], collect_options(project), False)  # doctest: +SKIP
    >>> revs.close()                                           # doctest: +SKIP
"""

from __future__ import annotations

import os
import time

from labrun.errors import LabrunError
from labrun.experiments.collect import Collected, CollectOptions, collect_row
from labrun.experiments.refs import iter_exp_refs
from labrun.experiments.rowcache import FILE_NAME, RowCache
from labrun.scm import git

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from labrun.project import Project
    from labrun.scm.catfile import CatFile, CommitInfo


_PREFETCH = 128  # commits collected per batch of prefetched Git objects


class UnknownRevisionError(LabrunError):
    """A revision names no commit and no experiment."""


def timestamp(commit_time: int | None) -> str | None:
    """A commit time as DVC prints it: local time, ISO 8601, no zone."""
    if commit_time is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(commit_time))


class NoGitError(LabrunError):
    """The command needs Git history and the project has none (or `core.no_scm`)."""


class Revisions:
    """Git reads for one command: refs in-process, objects through one cat-file.

    Nothing Git-related happens until asked for, so a command that only reads
    the working tree also works in a project without Git.
    """

    def __init__(self, project: Project, *, use_cache: bool = True) -> None:
        self.project = project
        self.root = project.root
        self._gdir: str | None = None
        self._prefix: str | None = None
        self._cat: CatFile | None = None
        path = os.path.join(project.tmp_dir, FILE_NAME) if use_cache else None
        self.cache = RowCache(path)
        self._infos: dict[str, CommitInfo] = {}
        self._new_infos: list[CommitInfo] = []

    @property
    def gdir(self) -> str:
        """The Git directory; NoGitError outside Git (as DVC words it)."""
        if self._gdir is None:
            if not self.project.has_scm:
                raise NoGitError(
                    "Only supported for Git repositories. If you're seeing this error in a "
                    "Git repo, try updating the DVC configuration with "
                    "`dvc config core.no_scm false`."
                )
            self._gdir = git.git_dir(self.root)
        return self._gdir

    @property
    def prefix(self) -> str:
        """The project's directory inside the Git work tree ("" at its top)."""
        if self._prefix is None:
            worktree = git.find_worktree(self.root) or self.root
            prefix = os.path.relpath(self.root, worktree).replace(os.sep, "/")
            self._prefix = "" if prefix == "." else prefix
        return self._prefix

    def cat(self) -> CatFile:
        """The cat-file process (started on first use)."""
        if self._cat is None:
            from labrun.scm.catfile import CatFile

            _ = self.gdir  # outside Git this is the error to show
            self._cat = CatFile(self.root)
        return self._cat

    def close(self) -> None:
        """Store what was learnt and stop the git process."""
        if self._new_infos:
            self.cache.put_commits(self._new_infos)
            self._new_infos = []
        self.cache.close()
        if self._cat is not None:
            self._cat.close()

    def head(self) -> tuple[str | None, str | None]:
        """(HEAD sha, branch ref)."""
        _ = self.gdir
        return git.head(self.root)

    def resolve(self, rev: str) -> str:
        """The commit a revision or experiment name stands for (DVC's order: Git first)."""
        if rev == "HEAD":
            sha = self.head()[0]
        elif len(rev) == 40 and rev in self._infos:
            sha = rev
        else:
            sha = self.cat().resolve(rev)
        if sha is None and rev != "HEAD" and not rev.startswith("refs/"):
            sha = self._experiment_named(rev)
        if sha is None:
            raise UnknownRevisionError(f"unknown Git revision '{rev}'")
        return sha

    def _experiment_named(self, name: str) -> str | None:
        found = [(r, sha) for r, sha in iter_exp_refs(self.gdir) if r.name == name]
        if len(found) > 1:
            head = self.head()[0]
            found = [(r, sha) for r, sha in found if r.baseline == head]
            if len(found) != 1:
                raise UnknownRevisionError(f"ambiguous Git revision '{name}'")
        return found[0][1] if found else None

    def infos(self, shas: Iterable[str]) -> dict[str, CommitInfo]:
        """Commit infos (parents, time), from memory, the row cache, then Git."""
        known = self._infos
        shas = list(shas)
        wanted = [s for s in dict.fromkeys(shas) if s not in known]
        if wanted:
            known.update(self.cache.get_commits(wanted))
            missing = [s for s in wanted if s not in known]
            for info in self.cat().commits(missing) if missing else []:
                if info is not None:
                    known[info.sha] = info
                    self._new_infos.append(info)
        return {s: known[s] for s in shas if s in known}

    def info(self, sha: str) -> CommitInfo | None:
        """One commit's info (:meth:`infos` of several at once costs far less)."""
        found = self._infos.get(sha)
        return found if found is not None else self.infos([sha]).get(sha)

    def first_parents(self, sha: str, count: int) -> list[str]:
        """``sha`` and up to ``count - 1`` first-parent ancestors (all with count < 0)."""
        chain = [sha]
        while count < 0 or len(chain) < count:
            info = self.info(chain[-1])
            if info is None or not info.parents:
                break
            chain.append(info.parents[0])
        return chain

    def rows(
        self, shas: Sequence[str], options: CollectOptions, force: bool
    ) -> dict[str, Collected]:
        """Row data of commits: cached ones read back (as JSON text), the others collected."""
        use_cache = not (force or options.param_deps)
        cached = self.cache.get_texts(shas) if use_cache else {}
        found = {sha: Collected(text=text) for sha, text in cached.items()}
        missing = [sha for sha in dict.fromkeys(shas) if sha not in found]
        fresh: dict[str, str] = {}
        read: set[str] = set()
        start = 0
        while start < len(missing):
            end = start + 1
            if read and len(missing) - start > 1:
                end = min(start + _PREFETCH, len(missing))
                self.cat().forget()
                self.cat().prefetch(missing[start:end], read)  # what the last commits read
            for sha in missing[start:end]:
                row, paths = self._collect(sha, options)
                found[sha] = row
                read |= paths
                if use_cache and not row.has_errors and row.text is not None:
                    fresh[sha] = row.text
            start = end
        if self._cat is not None:
            self._cat.forget()
        self.cache.put_texts(fresh)
        return found

    def _collect(self, sha: str, options: CollectOptions) -> tuple[Collected, set[str]]:
        from labrun.pipeline.snapshot import ignore_filter
        from labrun.scm.catfile import GitTreeSource

        source = GitTreeSource(self.cat(), sha, self.prefix)
        options = CollectOptions(options.parsing, options.cache_dir, options.param_deps)
        row = collect_row(self.root, source, _with_ignore(options, ignore_filter(source)))
        return row, source.read_paths


def _with_ignore(options: CollectOptions, ignore: Any) -> CollectOptions:
    return CollectOptions(options.parsing, options.cache_dir, options.param_deps, ignore)


def collect_options(project: Project, param_deps: bool = False) -> CollectOptions:
    """Templating config and cache directory of the project."""
    from labrun.pipeline.interpolate import ParsingConfig

    cfg = project.config
    parsing = ParsingConfig(bool_style=cfg.parsing_bool, list_style=cfg.parsing_list)
    return CollectOptions(parsing, str(cfg.cache_dir), param_deps)


def collect_workspace(
    project: Project, options: CollectOptions, root: str | None = None
) -> Collected:
    """The working tree's row (never cached)."""
    from labrun.pipeline.source import WorkspaceSource
    from labrun.scm.gitignore import discovery_filter

    where = root or project.root
    ignore = discovery_filter(project) if root is None else None
    return collect_row(where, WorkspaceSource(where), _with_ignore(options, ignore))
