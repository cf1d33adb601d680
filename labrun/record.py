"""`@record`: frozen value classes that are cheap to define.

The standard `dataclasses` module generates each class's methods with `exec`
(about a millisecond per class) and imports `inspect`; with fifty value classes
that is a large share of a command's start-up. `record` builds the same kind
of class (fields from annotations, defaults, `field(default_factory=...)`,
`__init__`, `__eq__`, `__hash__`, `__repr__`, immutability) from generic
methods, without generating code. Type checkers see it as a frozen dataclass.

    >>> @record
    ... class Point:
    ...     x: int
    ...     y: int = 0
    >>> p = Point(1)
    >>> p, p == Point(1, 0), p.y
    (Point(x=1, y=0), True, 0)
    >>> p.x = 5
    Traceback (most recent call last):
    ...
    AttributeError: Point is immutable
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_kwargs: object) -> object:
        return lambda f: f


_MISSING = object()


class _Field:
    __slots__ = ("compare", "default", "factory")

    def __init__(self, default: object, factory: object, compare: bool) -> None:
        self.default = default
        self.factory = factory
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    compare: bool = True,
    repr: bool = True,  # accepted for dataclasses compatibility
) -> Any:
    """A field with a default or a factory; ``compare=False`` leaves it out of ==/hash."""
    return _Field(default, default_factory, compare)


def _fields(cls: type) -> tuple[list[tuple[str, object, object]], tuple[str, ...]]:
    """(name, default, factory) for every annotated field, base classes first; compared names."""
    out: dict[str, tuple[str, object, object]] = {}
    compared: dict[str, bool] = {}
    for klass in reversed(cls.__mro__):
        if "__record_fields__" in klass.__dict__:
            for spec in klass.__dict__["__record_fields__"]:
                out[spec[0]] = spec
                compared[spec[0]] = spec[0] in klass.__dict__["__record_compared__"]
        # not inspect.get_annotations: importing inspect is what this module avoids
        for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063
            raw = klass.__dict__.get(name, _MISSING)
            if isinstance(raw, _Field):
                out[name] = (name, raw.default, raw.factory)
                compared[name] = raw.compare
            else:
                out[name] = (name, raw, None)
                compared[name] = True
    return list(out.values()), tuple(n for n, keep in compared.items() if keep)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    spec = type(self).__record_fields__
    if args:
        if len(args) > len(spec):
            raise TypeError(f"{type(self).__name__}() takes {len(spec)} arguments")
        for (name, _, _), value in zip(spec, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got two values for '{name}'")
            kwargs[name] = value
    put = object.__setattr__
    for name, default, factory in spec:
        if name in kwargs:
            put(self, name, kwargs.pop(name))
        elif factory is not None:
            put(self, name, factory())
        elif default is not _MISSING:
            put(self, name, default)
        else:
            raise TypeError(f"{type(self).__name__}() missing argument: '{name}'")
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got unexpected arguments: {sorted(kwargs)}")
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in type(self).__record_compared__)


def _eq(self: Any, other: object) -> object:
    if type(other) is not type(self):
        return NotImplemented
    same: bool = _values(self) == _values(other)
    return same


def _hash(self: Any) -> int:
    return hash(_values(self))


def _repr(self: Any) -> str:
    parts = ", ".join(f"{n}={getattr(self, n)!r}" for n, _, _ in type(self).__record_fields__)
    return f"{type(self).__name__}({parts})"


def _frozen(self: Any, name: str, value: Any) -> None:
    raise AttributeError(f"{type(self).__name__} is immutable")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T] | None = None, *, frozen: bool = True) -> Any:
    """Make ``cls`` a value class, frozen unless ``frozen=False`` (see the module docstring)."""

    def build(klass: type[T]) -> type[T]:
        spec, compared = _fields(klass)
        for name, _, _ in spec:  # defaults live in the spec, not as class attributes
            if name in klass.__dict__:
                delattr(klass, name)
        members: dict[str, Any] = {
            "__record_fields__": spec,
            "__record_compared__": compared,
            "__init__": _init,
            "__eq__": _eq,
            "__repr__": _repr,
            "__hash__": _hash if frozen else None,
        }
        if frozen:
            members.update(__setattr__=_frozen, __delattr__=_frozen)
        for name, member in members.items():
            setattr(klass, name, member)
        return klass

    return build if cls is None else build(cls)


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record ``obj`` with some fields changed (like `dataclasses.replace`).

    >>> @record
    ... class P:
    ...     x: int
    ...     y: int = 0
    >>> replace(P(1, 2), y=5)
    P(x=1, y=5)
    """
    values = {name: getattr(obj, name) for name, _, _ in type(obj).__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> dict[str, Any]:
    """The fields of the record ``obj`` as a dict (not recursive).

    >>> @record
    ... class P:
    ...     x: int
    >>> asdict(P(3))
    {'x': 3}
    """
    return {name: getattr(obj, name) for name, _, _ in type(obj).__record_fields__}
