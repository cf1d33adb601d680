"""The one exception tree of labrun.

Every error that labrun reports to a user is a :class:`LabrunError`. The CLI
(`labrun.cli.main`) is the only place that turns them into text and an exit
code; library callers catch them like any other exception.

    LabrunError                       exit 255 (DVC's code for "any error")
    ├── ArgumentError                 exit 254: bad command-line arguments
    ├── NotAProjectError              exit 253: no `.dvc/` found above the cwd
    ├── InterruptedError_             exit 252: Ctrl-C reached labrun itself
    ├── ConfigError                   exit 251: bad `.dvc/config` (or local/global)
    ├── FileFormatError               a file could not be read or parsed
    │   ├── YamlSyntaxError           YAML syntax (printed without "ERROR: ")
    │   ├── SchemaError               dvc.yaml/dvc.lock validation (idem)
    │   └── ParamsFileError           a params file is unreadable or not a mapping
    ├── TemplateError                 `${...}`, vars, foreach, matrix
    ├── GraphError                    cycles, duplicate/overlapping outputs
    └── TargetError                   a target names no dvc file or stage

Each error carries a ``message``, an optional ``hint`` (what to do next) and
an ``exit_code``. ``plain`` errors are printed without the ``ERROR: `` prefix,
as DVC does for YAML syntax and validation errors.

Example:

    >>> err = TargetError("Stage 'x' not found inside 'dvc.yaml' file")
    >>> (err.exit_code, str(err))
    (255, "Stage 'x' not found inside 'dvc.yaml' file")
"""

from __future__ import annotations


class LabrunError(Exception):
    """Root of every error labrun reports; carries message, hint and exit code."""

    exit_code: int = 255
    plain: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ArgumentError(LabrunError):
    """The command line could not be parsed."""

    exit_code = 254


class NotAProjectError(LabrunError):
    """No project (a directory holding `.dvc/`) contains the working directory."""

    exit_code = 253


class InterruptedError_(LabrunError):  # the builtin name is taken
    """The user pressed Ctrl-C while labrun itself (not a stage) was running."""

    exit_code = 252


class ConfigError(LabrunError):
    """A config file is malformed or holds an unknown section/option."""

    exit_code = 251


class FileFormatError(LabrunError):
    """A project file could not be read or parsed."""


class YamlSyntaxError(FileFormatError):
    """A YAML document is not valid YAML (or has duplicate keys)."""

    plain = True


class SchemaError(FileFormatError):
    """A YAML document is valid YAML but not a valid dvc.yaml/dvc.lock/.dvc file."""

    plain = True


class ParamsFileError(FileFormatError):
    """A params or vars file is missing, unreadable, or of the wrong shape."""


class TemplateError(LabrunError):
    """`${...}` interpolation, `vars`, `foreach` or `matrix` failed."""


class GraphError(LabrunError):
    """The stages do not form a valid graph (cycle, duplicate or overlapping outputs)."""


class TargetError(LabrunError):
    """A target names no dvc file or stage."""


__all__ = [
    "ArgumentError",
    "ConfigError",
    "FileFormatError",
    "GraphError",
    "InterruptedError_",
    "LabrunError",
    "NotAProjectError",
    "ParamsFileError",
    "SchemaError",
    "TargetError",
    "TemplateError",
    "YamlSyntaxError",
]
