"""Project: where the root and the `.dvc/` directory are, and the merged config.

No verbs live here; `labrun.api` and the layers below take a Project.

    >>> p = Project.find("/home/u/proj/src")      # doctest: +SKIP
    >>> p.root, p.cwd_rel                         # doctest: +SKIP
    ('/home/u/proj', 'src')
"""

from __future__ import annotations

import os
from functools import cached_property

from labrun.errors import NotAProjectError
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    from labrun.config import Config

DVC_DIR = ".dvc"


def find_root(start: str) -> str:
    """The nearest directory at or above ``start`` holding `.dvc/`."""
    path = os.path.abspath(start)
    while True:
        if os.path.isdir(os.path.join(path, DVC_DIR)):
            return path
        parent = os.path.dirname(path)
        if parent == path or os.path.ismount(path):
            raise NotAProjectError(
                f"you are not inside of a DVC repository (checked up to mount point '{path}')",
                hint="run `labrun init` to make this directory a project",
            )
        path = parent


@record(frozen=False)
class Project:
    """An opened project: its root, the user's cwd inside it, and its config."""

    root: str
    cwd: str
    _config: Config | None = field(default=None, repr=False)

    @classmethod
    def find(cls, cwd: str | None = None) -> Project:
        """Open the project containing ``cwd`` (default: the process's cwd)."""
        here = os.path.abspath(cwd or os.getcwd())
        return cls(find_root(here), here)

    @property
    def dvc_dir(self) -> str:
        """Absolute path of `.dvc/`."""
        return os.path.join(self.root, DVC_DIR)

    @property
    def tmp_dir(self) -> str:
        """labrun's private state directory, `.dvc/tmp/labrun`."""
        return os.path.join(self.dvc_dir, "tmp", "labrun")

    @property
    def cwd_rel(self) -> str:
        """The cwd relative to the root, POSIX separators (``.`` at the root)."""
        rel = os.path.relpath(self.cwd, self.root)
        return rel.replace(os.sep, "/")

    @property
    def config(self) -> Config:
        """The merged system/global/repo/local config (loaded on first use)."""
        if self._config is None:
            from labrun.config import load_config

            self._config = load_config(self.dvc_dir)
        return self._config

    @cached_property
    def has_scm(self) -> bool:
        """True when the project is inside a Git work tree and not `core.no_scm`."""
        if self.config.no_scm:
            return False
        path = self.root
        while True:
            if os.path.exists(os.path.join(path, ".git")):
                return True
            parent = os.path.dirname(path)
            if parent == path:
                return False
            path = parent
