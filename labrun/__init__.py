"""labrun: fast, crash-safe, DVC-compatible pipelines and experiments.

The public surface is :mod:`labrun.api` (one function per user verb) and the
error classes of :mod:`labrun.errors`. Attributes are loaded lazily so that
`import labrun` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

import sys

from labrun._version import __version__

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from types import ModuleType

_API = ("init", "load_index", "open_project", "stage_list", "dag", "graph")
_ERRORS = (
    "ArgumentError",
    "ConfigError",
    "FileFormatError",
    "GraphError",
    "LabrunError",
    "NotAProjectError",
    "ParamsFileError",
    "SchemaError",
    "TargetError",
    "TemplateError",
    "YamlSyntaxError",
)

__all__ = [  # noqa: RUF022 - grouped: version, verbs, errors
    "__version__",
    "dag",
    "graph",
    "init",
    "load_index",
    "open_project",
    "stage_list",
    "ArgumentError",
    "ConfigError",
    "FileFormatError",
    "GraphError",
    "LabrunError",
    "NotAProjectError",
    "ParamsFileError",
    "SchemaError",
    "TargetError",
    "TemplateError",
    "YamlSyntaxError",
]


def __getattr__(name: str) -> object:
    if name in _API:
        from labrun import api

        return getattr(api, name)
    if name in _ERRORS:
        from labrun import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'labrun' has no attribute {name!r}")


def load_module(name: str) -> ModuleType:
    """``importlib.import_module(name)`` for absolute names, without importing importlib.

    >>> load_module("labrun.errors").__name__
    'labrun.errors'
    """
    __import__(name)
    return sys.modules[name]
