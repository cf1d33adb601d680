"""Command-line options as data: one table builds the argparse parser and feeds a fast parser.

argparse is thorough but slow to start: importing it (with gettext and, for
the help formatter, shutil) and building a parser of thirty options costs
`exp run` more than parsing its params file. The options of a command are
therefore declared once, as :class:`Option` values; :func:`add_options`
registers them with argparse (help, errors and every unusual spelling), and
:func:`parse_options` reads the plain spellings without argparse.

The fast parser is a front door, not a second implementation of argparse's
rules: it accepts only exact option names, ``--long=value``, values that do
not start with ``-`` and one run of positionals, and it answers None for
anything else (``-h``, abbreviations, ``--``, clusters like ``-fq``, a bad
number, ``-q`` with ``-v``...) so that argparse parses the command line and
says what is wrong in its own words. Tests check that both give the same
values on every command line the fast parser accepts.

    >>> opts = [Option(("-n", "--name"), "value", "Name."), Option(("-f", "--force"), "flag", "")]
    >>> parse_options(["-f", "--name=x"], opts)
    {'name': 'x', 'force': True}
    >>> parse_options(["--nam", "x"], opts) is None  # an abbreviation: argparse decides
    True
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and argparse are only for the type checker here
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

# What an option does with its values (argparse's action and type):
#   flag:      store_true                  value: store a string     int: store int(value)
#   append:    append a string to a list that starts empty
#   const:     store the option's const (no value; several options may share the dest)
#   positional: the command's positionals (nargs="*"; at most one per command)
#   verbosity: store_true, absent unless given, exclusive with the other verbosity options
#   unset_value: store a string, absent unless given (as --cd)
KINDS = frozenset(
    {"flag", "value", "int", "append", "const", "positional", "verbosity", "unset_value"}
)
_TAKES_VALUE = frozenset({"value", "int", "append", "unset_value"})
_ABSENT = frozenset({"verbosity", "unset_value"})


class Option:
    """One option (or the positional) of a command, as argparse's ``add_argument`` gets it."""

    __slots__ = ("const", "default", "dest", "help", "kind", "metavar", "names")

    def __init__(
        self,
        names: tuple[str, ...],
        kind: str,
        help: str,
        *,
        metavar: str | None = None,
        default: Any = None,
    ) -> None:
        assert kind in KINDS, kind
        self.names, self.kind, self.help = names, kind, help
        self.metavar, self.default = metavar, default
        self.dest = _dest_of(names)
        self.const: str | None = None

    def __repr__(self) -> str:
        return f"Option({self.names!r}, {self.kind!r})"

    def initial(self) -> Any:
        """The value before any argument is read (a fresh list for ``append``)."""
        if self.kind == "append":
            return []
        return False if self.kind == "flag" else self.default


class ConstOption(Option):
    """An option without a value that stores ``const`` in ``dest`` (which others may share).

    >>> ConstOption(("-k",), "Keep going.", "on_error", "keep-going", "fail").initial()
    'fail'
    """

    __slots__ = ()

    def __init__(self, names: tuple[str, ...], help: str, dest: str, const: str, default: str):
        super().__init__(names, "const", help, default=default)
        self.dest, self.const = dest, const


def _dest_of(names: tuple[str, ...]) -> str:
    """argparse's dest: the first long name (else the first name), without dashes."""
    long = [n for n in names if n.startswith("--")]
    return (long or list(names))[0].lstrip("-").replace("-", "_")


# -q/-v/--cd: accepted before and after every command name (as in DVC)
COMMON = (
    Option(("-q", "--quiet"), "verbosity", "Be quiet."),
    Option(("-v", "--verbose"), "verbosity", "Be verbose."),
    Option(
        ("--cd",),
        "unset_value",
        "Change to directory DIR before running the command.",
        metavar="DIR",
    ),
)


def split_command(
    tokens: Sequence[str], options: Sequence[Option]
) -> tuple[list[str], str, list[str]] | None:
    """(the options before the command name, the name, what follows); None: no name.

    Option values are skipped as :func:`parse_options` reads them.

    >>> split_command(["-q", "--cd", "x", "exp", "run", "-f"], COMMON)
    (['-q', '--cd', 'x'], 'exp', ['run', '-f'])
    """
    takes_value = {n for o in options if o.kind in _TAKES_VALUE for n in o.names}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("-"):
            return list(tokens[:i]), token, list(tokens[i + 1 :])
        i += 2 if token in takes_value else 1
    return None


def flag(args: Any, name: str) -> bool:
    """A store_true option that may be absent from the namespace (the -q/-v kind)."""
    return bool(getattr(args, name, False))


# -- the fast parser ----------------------------------------------------------------------


def parse_options(tokens: Sequence[str], options: Sequence[Option]) -> dict[str, Any] | None:
    """The values argparse would give for ``tokens`` (one command's own arguments).

    None when the tokens use anything but the plain spellings (see the module
    docstring): argparse then parses them, and reports errors, itself.
    """
    reader = _Reader(options)
    positional = next((o for o in options if o.kind == "positional"), None)
    run: list[str] | None = None  # the positionals, once their run has ended
    current: list[str] = []
    i = 0
    while i < len(tokens):
        if not tokens[i].startswith("-"):
            if run is not None or positional is None:
                return None  # a second run of positionals: argparse reports the extras
            current.append(tokens[i])
            i += 1
            continue
        if current:
            run, current = current, []
        step = reader.take(tokens, i)
        if step == 0:
            return None
        i += step
    if positional is not None:
        reader.values[positional.dest] = run if run is not None else current
    return reader.values


class _Reader:
    """The option values read so far by :func:`parse_options`."""

    def __init__(self, options: Sequence[Option]) -> None:
        self.by_name = {name: opt for opt in options for name in opt.names}
        self.values = {o.dest: o.initial() for o in options if o.kind not in _ABSENT}
        self.verbosity: str | None = None  # the dest of the verbosity option given

    def take(self, tokens: Sequence[str], i: int) -> int:
        """Apply the option at ``tokens[i]``; the number of tokens used (0: not plain)."""
        token = tokens[i]
        name, eq, explicit = token.partition("=")
        opt = self.by_name.get(name if name.startswith("--") else token)
        if opt is None or (eq and (opt.kind not in _TAKES_VALUE or not explicit)):
            return 0
        if opt.kind == "verbosity":
            if self.verbosity not in (None, opt.dest):
                return 0  # -q with -v: argparse's error
            self.verbosity = opt.dest
        if opt.kind not in _TAKES_VALUE:
            self.values[opt.dest] = opt.const if opt.kind == "const" else True
            return 1
        if eq:
            return 1 if self._store(opt, explicit) else 0
        if i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            return 2 if self._store(opt, tokens[i + 1]) else 0
        return 0  # a missing value, or one argparse may read as an option

    def _store(self, opt: Option, value: str) -> bool:
        if opt.kind == "append":
            self.values[opt.dest].append(value)
        elif opt.kind == "int":
            try:
                self.values[opt.dest] = int(value)
            except ValueError:
                return False
        else:
            self.values[opt.dest] = value
        return True


# -- argparse -------------------------------------------------------------------------------


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Register ``options`` with an argparse parser, in order (as their help lists them)."""
    import argparse

    group: Any = None
    for opt in options:
        target: Any = parser
        if opt.kind == "verbosity":
            group = group or parser.add_mutually_exclusive_group()
            target = group
        target.add_argument(*opt.names, **_argparse_kwargs(opt, argparse))


def _argparse_kwargs(opt: Option, argparse: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"help": opt.help}
    if opt.metavar is not None:
        kwargs["metavar"] = opt.metavar
    kind = opt.kind
    if kind == "positional":
        return {**kwargs, "nargs": "*"}
    if kind in ("flag", "verbosity"):
        kwargs["action"] = "store_true"
    elif kind == "append":
        kwargs["action"] = "append"
    elif kind == "int":
        kwargs["type"] = int
    elif kind == "const":
        kwargs.update(nargs=0, action=_const_action(argparse), const=opt.const, dest=opt.dest)
    if kind in _ABSENT:
        kwargs["default"] = argparse.SUPPRESS
    elif kind == "append":
        kwargs["default"] = []  # argparse copies it before appending
    elif kind in ("value", "int"):
        kwargs["default"] = opt.default
    return kwargs


_CONST_ACTION: list[type] = []


def _const_action(argparse: Any) -> type:
    """An action storing its ``const`` (several options may share the dest; the last wins).

    Built on first use so that importing this module does not import argparse.
    """
    if not _CONST_ACTION:

        class StoreConst(argparse.Action):  # type: ignore[misc]
            def __call__(
                self, parser: Any, namespace: Any, values: Any, option_string: Any = None
            ) -> None:
                setattr(namespace, self.dest, self.const)

        _CONST_ACTION.append(StoreConst)
    return _CONST_ACTION[0]
