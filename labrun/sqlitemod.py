"""The SQLite module, without what `import sqlite3` brings and labrun does not use.

`sqlite3` is a thin package over the C module `_sqlite3` that also imports
`datetime` (for adapters labrun never registers): a few milliseconds of
start-up for every command that opens the hash memo. Modules that use SQLite
bind the name `sqlite3` to :func:`sqlite_module` at run time, and to the real
package for the type checker.

    >>> sqlite_module().connect(":memory:").execute("select 1").fetchone()
    (1,)
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from types import ModuleType


def sqlite_module() -> ModuleType:
    """`_sqlite3` when it is the usual C module, else the `sqlite3` package."""
    try:
        import _sqlite3

        if hasattr(_sqlite3, "connect") and hasattr(_sqlite3, "OperationalError"):
            return _sqlite3
    except ImportError:  # pragma: no cover - an interpreter without the C module
        pass
    import sqlite3

    return sqlite3
