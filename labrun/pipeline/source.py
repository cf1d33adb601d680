"""Where pipeline files are read from: the working tree, or a snapshot such as a Git commit.

Everything that loads a pipeline (`dvc.yaml` and its templating, vars and params
files, `dvc.lock`, `.dvcignore`) reads through a :class:`FileSource`. Paths are
project-relative with `/` separators; ``.`` is the project root. The working
tree is :class:`WorkspaceSource`; `labrun.scm.catfile.GitTreeSource` serves the
same calls from a commit, so the same loader shows any revision.

    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> _ = open(os.path.join(root, "params.yaml"), "w").write("lr: 0.1\\n")
    >>> src = WorkspaceSource(root)
    >>> src.isfile("params.yaml"), src.exists("dvc.yaml"), src.read_text("params.yaml")
    (True, False, 'lr: 0.1\\n')
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Protocol

    class SourceEntry(Protocol):
        """One item of a directory listing (`os.DirEntry` is one)."""

        @property
        def name(self) -> str:
            """The item's base name."""

        def is_dir(self, *, follow_symlinks: bool = True) -> bool:
            """True for a directory."""

    class FileSource(Protocol):
        """Read-only access to a project's files by project-relative POSIX path.

        ``read_text`` raises what `open()` raises (FileNotFoundError,
        IsADirectoryError, UnicodeDecodeError, other OSError) so that callers
        word their errors the same whatever the source. Text is UTF-8 with
        universal newlines.

            >>> def has_pipeline(src: FileSource) -> bool:      # doctest: +SKIP
            ...     return src.isfile("dvc.yaml")
        """

        def read_text(self, relpath: str) -> str:
            """The text of a file."""

        def exists(self, relpath: str) -> bool:
            """True if a file or directory is there."""

        def isfile(self, relpath: str) -> bool:
            """True for a regular file (or a symlink to one)."""

        def isdir(self, relpath: str) -> bool:
            """True for a directory."""

        def scandir(self, relpath: str) -> Iterable[SourceEntry]:
            """The entries of a directory (any order); OSError if it is not one."""


class WorkspaceSource:
    """The project's working tree on disk."""

    __slots__ = ("root",)

    def __init__(self, root: str) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"WorkspaceSource({self.root!r})"

    def _full(self, relpath: str) -> str:
        return self.root if relpath == "." else os.path.join(self.root, relpath)

    def read_text(self, relpath: str) -> str:
        """The text of a file (UTF-8, universal newlines)."""
        with open(self._full(relpath), encoding="utf-8") as stream:
            return stream.read()

    def exists(self, relpath: str) -> bool:
        """True if a file or directory is there."""
        return os.path.exists(self._full(relpath))

    def isfile(self, relpath: str) -> bool:
        """True for a regular file."""
        return os.path.isfile(self._full(relpath))

    def isdir(self, relpath: str) -> bool:
        """True for a directory."""
        return os.path.isdir(self._full(relpath))

    def scandir(self, relpath: str) -> Iterable[SourceEntry]:
        """`os.scandir` of the directory (entries are `os.DirEntry`)."""
        with os.scandir(self._full(relpath)) as it:
            return list(it)


def workspace_of(root: str, source: FileSource | None) -> FileSource:
    """``source``, or the working tree at ``root`` when None (the usual case)."""
    return WorkspaceSource(root) if source is None else source
