"""`git commit-tree` in process, when the identity is plainly configured.

A commit object is a few header lines (tree, parents, author and committer with
a time and the local UTC offset), a blank line and the message, stored like any
loose object. The part that needs care is who the author and committer are;
:func:`identity` answers only when the environment or the usual config files
name them outright, and None otherwise (git then works it out, or fails
with its own advice), as it does when dates are given in the environment or a
config asks for signed commits or another encoding.

    >>> who = signature(b"A U Thor <a@example.com>", 0, 0)
    >>> commit_text("4b825dc642cb6eb9a060e54bf8d69288fbe4904d", [], "msg", who, who)[:20]
    b'commit 133\\x00tree 4b82'
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence

# settings after which git would write a different commit (lower-cased config words);
# `commit.gpgSign` is read instead: many configs spell out its default, false
_CONFIG_WORDS = (b"commitencoding", b"include", b"useconfigonly")
_GIT_FALSE = (b"false", b"no", b"off", b"0", b"")  # what git_config_bool reads as false
# keys whose bare form (no `=`, a boolean true to git) this reader leaves to git
_BARE_UNSURE = frozenset(
    [b"commit.gpgsign"]
    + [b"%s.%s" % (r, k) for r in (b"user", b"author", b"committer") for k in (b"name", b"email")]
)
_ENV_DATES = ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")
_ENV_CONFIG = ("GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT")

_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_SECTION_CHARS = _NAME_CHARS | frozenset(b".")  # `[section.subsection]`, the old spelling
_ESCAPES = {b"\\": b"\\", b'"': b'"', b"n": b"\n", b"t": b"\t", b"b": b"\b"}
# characters Git trims from both ends of a name or e-mail address ("crud")
_CRUD = frozenset(b",:;<>\"\\'.") | frozenset(range(33))


class _Unsure(Exception):
    """A config file says something this reader does not follow: git decides."""


def config_files(common: str) -> list[str]:
    """The config files Git reads for a repository, lowest precedence first."""
    env = os.environ
    home = os.path.expanduser("~")
    files = []
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        files.append(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    if env.get("GIT_CONFIG_GLOBAL") is not None:
        files.append(env["GIT_CONFIG_GLOBAL"])
    else:
        xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")]
    files.append(os.path.join(common, "config"))
    return [f for f in files if f]


def read_settings(paths: Sequence[str]) -> dict[bytes, bytes] | None:
    """``{b"section.key": value}`` of plain sections (the last value wins); None if unsure."""
    settings: dict[bytes, bytes] = {}
    for path in paths:
        try:
            with open(path, "rb") as stream:
                text = stream.read()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None
        lowered = text.lower()
        if any(word in lowered for word in _CONFIG_WORDS):
            return None
        try:
            settings.update(_parse(text))
        except _Unsure:
            return None
    if settings.get(b"commit.gpgsign", b"false").lower() not in _GIT_FALSE:
        return None  # a signed commit (or a value git may reject): git writes it
    return settings


def _parse(text: bytes) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    section: bytes | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[:1] in (b"#", b";"):
            continue
        if line[:1] == b"[":
            section = _section(line)
            continue
        key, equals, value = line.partition(b"=")
        key = key.rstrip()
        if not _is_name(key):
            raise _Unsure
        if section is not None and not equals:
            if section + b"." + key.lower() in _BARE_UNSURE:
                raise _Unsure  # `[commit] gpgSign` alone means true; `[user] name`, an error
            continue  # another bare boolean key: not one read here
        if section is not None:
            found[section + b"." + key.lower()] = _value(value)
    return found


def _section(line: bytes) -> bytes | None:
    """The lower-cased name of a `[section]` line; None for `[section "subsection"]`."""
    inner, close, rest = line[1:].partition(b"]")
    rest = rest.strip()
    if not close or (rest and rest[:1] not in (b"#", b";")) or b"[" in inner:
        raise _Unsure
    name = inner.strip()
    if b'"' in name:
        return None  # a subsection: its keys are not the ones read here
    if not name or not _SECTION_CHARS.issuperset(name):
        raise _Unsure
    return name.lower()


def _is_name(key: bytes) -> bool:
    """A config key: a letter, then letters, digits and dashes."""
    return key[:1].isalpha() and _NAME_CHARS.issuperset(key)


def _value(raw: bytes) -> bytes:
    """A config value as Git reads it: quotes, escapes, comments, runs of blanks."""
    out = bytearray()
    quoted, spaces, i = False, 0, 0
    while i < len(raw):
        char = raw[i : i + 1]
        i += 1
        if char in (b" ", b"\t") and not quoted:
            spaces += 1 if out else 0
            continue
        if char in (b"#", b";") and not quoted:
            break
        out += b" " * spaces
        spaces = 0
        if char == b'"':
            quoted = not quoted
        elif char == b"\\":
            escaped = _ESCAPES.get(raw[i : i + 1])
            if escaped is None:
                raise _Unsure  # a line continuation or an escape Git refuses
            out += escaped
            i += 1
        else:
            out += char
    if quoted:
        raise _Unsure
    return bytes(out)


def identity(settings: dict[bytes, bytes], role: str) -> bytes | None:
    """``Name <email>`` of the author or committer, or None when git must work it out.

    >>> identity({b"user.name": b"Ann", b"user.email": b"ann@example.com"}, "author")
    b'Ann <ann@example.com>'
    """
    env = os.environb
    upper = role.upper().encode()
    name = env.get(b"GIT_" + upper + b"_NAME")
    if name is None:
        name = settings.get(role.encode() + b".name", settings.get(b"user.name"))
    email = env.get(b"GIT_" + upper + b"_EMAIL")
    if email is None:
        email = settings.get(role.encode() + b".email", settings.get(b"user.email"))
    if email is None:
        email = env.get(b"EMAIL") or None
    if not (name and email and _clean(name) and _clean(email)):
        return None
    return name + b" <" + email + b">"


def _clean(word: bytes) -> bool:
    """Git would write it unchanged: nothing to trim at the ends, no delimiter inside."""
    inside = b"<" in word or b">" in word or b"\n" in word
    return word[0] not in _CRUD and word[-1] not in _CRUD and not inside


def signature(who: bytes, when: int, offset: int) -> bytes:
    """``Name <email> <seconds> <+hhmm>`` as Git writes it.

    >>> signature(b"Ann <a@example.com>", 1700000000, -5 * 3600)
    b'Ann <a@example.com> 1700000000 -0500'
    """
    sign = b"+" if offset >= 0 else b"-"
    minutes = abs(offset) // 60
    return b"%s %d %s%02d%02d" % (who, when, sign, minutes // 60, minutes % 60)


def commit_text(
    tree: str, parents: Sequence[str], message: str, author: bytes, committer: bytes
) -> bytes:
    """The commit object (header included) that `git commit-tree` writes for these."""
    lines = [b"tree " + tree.encode()]
    lines += [b"parent " + p.encode() for p in parents]
    lines += [b"author " + author, b"committer " + committer]
    body = b"\n".join(lines) + b"\n\n" + message.encode("utf-8")
    return b"commit %d\0%s" % (len(body), body)


def prepared_commit(common: str, tree: str, parents: Sequence[str], message: str) -> bytes | None:
    """The commit object git would write now, or None when git must write it."""
    if any(name in os.environ for name in (*_ENV_DATES, *_ENV_CONFIG)):
        return None
    settings = read_settings(config_files(common))
    if settings is None:
        return None
    author, committer = identity(settings, "author"), identity(settings, "committer")
    if author is None or committer is None:
        return None
    now = int(time.time())
    offset = _utc_offset(now)
    return commit_text(
        tree, parents, message, signature(author, now, offset), signature(committer, now, offset)
    )


def _utc_offset(when: int) -> int:
    """Seconds east of UTC of the local time zone at ``when`` (as Git computes it)."""
    return time.localtime(when).tm_gmtoff
