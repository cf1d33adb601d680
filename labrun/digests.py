"""Hash functions that do not load OpenSSL for small inputs.

`import hashlib` loads OpenSSL, which costs a few milliseconds of start-up:
more than a no-op command spends on everything else it hashes. Python's
built-in implementations (`_md5`, `_sha1`, `_sha256`) give the same digests
and load at once; OpenSSL's are a little faster on big inputs, so callers that
stream big files ask for :func:`md5` with ``big=True``.

    >>> md5(b"a").hexdigest()
    '0cc175b9c0f1b6a831c399e269772661'
    >>> sha256_hex(b"")[:12]
    'e3b0c44298fc'
    >>> sha1(b"").hexdigest()[:12]
    'da39a3ee5e6b'
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from hashlib import _Hash


def _builtin(module: str, name: str) -> Callable[[bytes], _Hash] | None:
    """A hash constructor of an interpreter's built-in module, None if it was left out."""
    try:
        found: Callable[[bytes], _Hash] = getattr(__import__(module), name)
    except (ImportError, AttributeError):
        return None
    return found


# Python 3.12 moved sha256 from `_sha256` to `_sha2`
_MD5 = _builtin("_md5", "md5")
_SHA1 = _builtin("_sha1", "sha1")
_SHA256 = _builtin("_sha256", "sha256") or _builtin("_sha2", "sha256")


def md5(data: bytes = b"", *, big: bool = False) -> _Hash:
    """A new md5 object; ``big``: the caller will stream a lot of data (OpenSSL's is faster)."""
    if _MD5 is not None and not big:
        return _MD5(data)
    import hashlib

    return hashlib.md5(data, usedforsecurity=False)


def sha1(data: bytes = b"") -> _Hash:
    """A new sha1 object (Git's object names)."""
    if _SHA1 is not None:
        return _SHA1(data)
    import hashlib

    return hashlib.sha1(data, usedforsecurity=False)


def sha256_hex(data: bytes) -> str:
    """The sha256 hex digest of ``data``."""
    if _SHA256 is not None:
        return _SHA256(data).hexdigest()
    import hashlib

    return hashlib.sha256(data).hexdigest()


def json_sorted(value: object) -> str:
    """``json.dumps(value, sort_keys=True)``, without importing json (start-up time).

    Used for the texts that are hashed into run-cache keys and experiment names;
    values that json cannot write raise the TypeError json would.

        >>> json_sorted({"b": [1, 2.5, None], "a": {"x": True}})
        '{"a": {"x": true}, "b": [1, 2.5, null]}'
    """
    parts: list[str] = []
    _emit(value, parts.append)
    return "".join(parts)


try:  # the C function json.dumps uses for strings
    from _json import encode_basestring_ascii as _encode
except ImportError:  # pragma: no cover - an interpreter built without the accelerator
    from json.encoder import encode_basestring_ascii as _encode

#: the text json.dumps writes for a string (ASCII, quoted), without importing json
json_string: Callable[[str], str] = _encode

_CONSTANTS = {None: "null", True: "true", False: "false"}
_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _emit(value: object, out: Callable[[str], None]) -> None:
    if isinstance(value, str):
        out(json_string(value))
    elif value is None or value is True or value is False:
        out(_CONSTANTS[value])
    elif isinstance(value, int):
        out(int.__repr__(value))
    elif isinstance(value, float):
        out(_float(value))
    elif isinstance(value, list | tuple):
        out("[")
        for i, item in enumerate(value):
            if i:
                out(", ")
            _emit(item, out)
        out("]")
    elif isinstance(value, dict):
        _emit_dict(value, out)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _emit_dict(value: dict[object, object], out: Callable[[str], None]) -> None:
    out("{")
    for i, (key, item) in enumerate(sorted(value.items())):
        if i:
            out(", ")
        out(json_string(_key(key)))
        out(": ")
        _emit(item, out)
    out("}")


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if key is None or key is True or key is False:
        return _CONSTANTS[key]
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return _float(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _float(value: float) -> str:
    text = float.__repr__(value)
    return _FLOATS.get(text, text)
