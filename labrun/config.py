"""DVC's INI config files: read, validate, merge into a frozen `Config`; rewrite one file.

The files are the ones DVC reads, merged in this order (later wins, option by
option): system (``/etc/xdg/dvc/config``, or ``$DVC_SYSTEM_CONFIG_DIR/config``),
global (``~/.config/dvc/config``, ``$XDG_CONFIG_HOME``, ``$DVC_GLOBAL_CONFIG_DIR``),
repo (``.dvc/config``) and local (``.dvc/config.local``).

The dialect is the one DVC reads and writes (through configobj)::

    [core]
        remote = storage
    [cache]
        type = "hardlink,symlink"      # quoted: one string; bare commas make a list
    ['remote "storage"']               # `[remote "storage"]` is read too
        url = ../storage               # relative to the directory of this file

Section and option names are case-insensitive (stored lower-case), ``%(opt)s``
inside a value is replaced by another option of the same section, and every
section and option is checked against DVC 3's schema: anything unknown or
mistyped raises `ConfigError` (exit 251) naming the file and the option.

Example:

    >>> cfg = load_config(Path(".dvc"))                       # doctest: +SKIP
    >>> cfg.cache_types, cfg.autostage, cfg.remotes["storage"]["url"]  # doctest: +SKIP
    (('hardlink', 'symlink'), False, '/home/me/storage')
    >>> set_option(Path(".dvc/config"), "core", "autostage", "true")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from labrun.errors import ConfigError
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    # pathlib (with the urllib.parse and ipaddress it imports) would cost every command
    # more start-up time than reading the config: paths are strings inside this module,
    # and only the functions documented to return a Path import it.
    from pathlib import Path
    from typing import Generic, TypeAlias, TypeVar, overload

LEVELS = ("system", "global", "repo", "local")
LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_CACHE_TYPES: tuple[str, ...] = ("reflink", "copy")

Raw: TypeAlias = "str | tuple[str, ...]"
"""A value as written in a file: a string, or a list when it has bare commas."""
Value: TypeAlias = "str | bool | int | float | tuple[str, ...]"
"""A value after validation (``true`` → True, ``checksum_jobs = 4`` → 4, ...)."""
Sections: TypeAlias = "dict[str, dict[str, Raw]]"
StrPath: TypeAlias = "str | os.PathLike[str]"
_Origins: TypeAlias = "dict[tuple[str, str | None], str]"
_Check: TypeAlias = "Callable[[Raw], Value]"

# ---------------------------------------------------------------------------
# Reading the INI text

# Compiled on first use (see _pattern): most commands read empty or no config files.
_PATTERNS: dict[str, tuple[str, int]] = {
    "header": (
        r"""\s*(?P<open>(?:\[\s*)+)              # one '[' per nesting level
        (?P<name>"[^"]*"|'[^']*'|[^'"\s].*?)
        (?P<close>(?:\s*\])+)\s*(?:\#.*)?""",
        re.VERBOSE,
    ),
    "option": (r"""\s*(?P<key>"[^"]*"|'[^']*'|[^'"=\s][^=]*?)\s*=\s*(?P<rest>.*)""", 0),
    "named": (r'\s*(remote|machine|db)\s*"(.*)"\s*', 0),
    "interpolation": (r"%\(([^)]*)\)s", 0),
    "url": (r"\w+://", 0),
    "scheme": (r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)", 0),
}
_COMPILED: dict[str, re.Pattern[str]] = {}
_NAMED_KINDS = ("remote", "machine", "db")


def _pattern(name: str) -> re.Pattern[str]:
    """One of _PATTERNS, compiled once (a compile costs more than parsing a small file)."""
    found = _COMPILED.get(name)
    if found is None:
        found = _COMPILED[name] = re.compile(*_PATTERNS[name])
    return found


class _SyntaxIssue(Exception):
    """A line that is not valid INI; turned into a ConfigError with file and line."""


def parse_ini(text: str, source: str = "<config>") -> Sections:
    """Parse config text into ``{section: {option: raw value}}``, names lower-cased.

    Named sections get one canonical spelling whatever the header form.

    >>> parse_ini("['remote \\"S3\\"']\\n    URL = s3://b/p  # bucket\\n")
    {'remote "s3"': {'url': 's3://b/p'}}
    """
    raw_sections: list[tuple[str, dict[str, Raw]]] = []
    lines = text.lstrip("\ufeff").splitlines()
    index = 0
    while index < len(lines):
        line, number = lines[index], index + 1
        index += 1
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            index = _parse_line(line, lines, index, raw_sections)
        except _SyntaxIssue as exc:
            raise ConfigError(
                f"configuration error: {source}:{number}: {exc}",
                hint="fix or remove that line (see `dvc config --help` for the format)",
            ) from None
    return _canonical(raw_sections, source)


def _parse_line(
    line: str, lines: list[str], index: int, sections: list[tuple[str, dict[str, Raw]]]
) -> int:
    header = _pattern("header").fullmatch(line)
    if header:
        sections.append((_parse_header(header, sections), {}))
        return index
    option = _pattern("option").fullmatch(line)
    if option is None:
        raise _SyntaxIssue(f"invalid line {line.strip()!r} (neither [section] nor key = value)")
    key, rest = _unquote(option["key"]), option["rest"]
    value: Raw
    if rest[:3] in ('"""', "'''"):
        value, index = _take_triple(rest, lines, index)
    else:
        value = _parse_value(rest)
    if not sections:
        raise _SyntaxIssue(f"option {key!r} is outside any [section]")
    if key in sections[-1][1]:
        raise _SyntaxIssue(f"duplicate option {key!r} in [{sections[-1][0]}]")
    sections[-1][1][key] = value
    return index


def _parse_header(match: re.Match[str], sections: list[tuple[str, dict[str, Raw]]]) -> str:
    depth = match["open"].count("[")
    name = _unquote(match["name"])
    if depth != match["close"].count("]"):
        raise _SyntaxIssue(f"unbalanced brackets around section [{name}]")
    if depth > 1:
        raise _SyntaxIssue(f"nested section {'[' * depth}{name}{']' * depth} is not allowed")
    if any(existing == name for existing, _ in sections):
        raise _SyntaxIssue(f"duplicate section [{name}]")
    return name


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _parse_value(text: str) -> Raw:
    """One value: quoted or bare items; bare commas make a list; '#' starts a comment."""
    rest = text.strip()
    if rest.startswith(","):
        if rest[1:].strip() and not rest[1:].strip().startswith("#"):
            raise _SyntaxIssue(f"cannot parse value {text.strip()!r}")
        return ()
    items: list[str] = []
    while rest and not rest.startswith("#"):
        item, rest = _take_item(rest, text)
        items.append(item)
        if not rest.startswith(","):
            if rest and not rest.startswith("#"):
                raise _SyntaxIssue(f"cannot parse value {text.strip()!r}")
            return item if len(items) == 1 else tuple(items)
        rest = rest[1:].lstrip()
    return tuple(items) if items else ""


def _take_item(rest: str, text: str) -> tuple[str, str]:
    """Split off one list item; return it and the remaining text (left-stripped)."""
    quote = rest[0]
    if quote in "\"'":
        # The closing quote is the first one that a comma, a comment or the end follows.
        end = rest.find(quote, 1)
        if end == -1:
            raise _SyntaxIssue(f"unbalanced quotes in value {text.strip()!r}")
        while end != -1:
            after = rest[end + 1 :].lstrip()
            if not after or after[0] in ",#":
                return rest[1:end], after
            end = rest.find(quote, end + 1)
        raise _SyntaxIssue(f"cannot parse value {text.strip()!r} (text after a closing quote)")
    length = next((i for i, char in enumerate(rest) if char in ",#"), len(rest))
    item = rest[:length].rstrip()
    if not item:
        raise _SyntaxIssue(f"empty list item in value {text.strip()!r}")
    return item, rest[length:]


def _take_triple(rest: str, lines: list[str], index: int) -> tuple[str, int]:
    """A '''...''' or \"\"\"...\"\"\" value, possibly over several lines."""
    quote, body = rest[:3], rest[3:]
    parts, line = [], body
    while (end := line.find(quote)) == -1:
        parts.append(line)
        if index >= len(lines):
            raise _SyntaxIssue(f"unterminated {quote} value")
        line, index = lines[index], index + 1
    # The value closes at the first triple quote that only a comment follows.
    while (tail := line[end + 3 :].strip()) and not tail.startswith("#"):
        end = line.find(quote, end + 1)
        if end == -1:
            raise _SyntaxIssue(f"unexpected text after the closing {quote}: {tail!r}")
    return "\n".join([*parts, line[:end]]), index


def _canonical(raw_sections: list[tuple[str, dict[str, Raw]]], source: str) -> Sections:
    """Interpolate, lower-case names; a later spelling of the same name replaces an earlier."""
    result: Sections = {}
    for name, options in raw_sections:
        values = {key: _interpolate(options, key, source, ()) for key in options}
        result[canonical_section(name)] = {key.lower(): value for key, value in values.items()}
    return result


def _interpolate(options: dict[str, Raw], key: str, source: str, trail: tuple[str, ...]) -> Raw:
    value = options[key]
    if isinstance(value, tuple):
        return tuple(_substitute(item, options, key, source, trail) for item in value)
    return _substitute(value, options, key, source, trail)


def _substitute(
    text: str, options: dict[str, Raw], key: str, source: str, trail: tuple[str, ...]
) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name in trail or name == key:
            raise ConfigError(
                f"configuration error: {source}: interpolation loop in {key!r}",
                hint="a %(name)s reference leads back to the option itself; write the value out",
            )
        found = options.get(name)
        if not isinstance(found, str):
            problem = "missing option" if found is None else "cannot insert the list"
            raise ConfigError(
                f"configuration error: {source}: {problem} {name!r} for %({name})s in {key!r}",
                hint=f"define {name!r} as a single value in the same section, or write it out",
            )
        return str(_interpolate(options, name, source, (*trail, key)))

    return _pattern("interpolation").sub(replace, text)


def canonical_section(name: str) -> str:
    """Lower-case a section name; named ones become ``kind "name"``.

    >>> canonical_section('Remote  "MyStore"'), canonical_section("CORE")
    ('remote "mystore"', 'core')
    """
    lowered = name.lower()
    named = _pattern("named").fullmatch(lowered) if '"' in lowered else None
    return f'{named[1]} "{named[2]}"' if named else lowered


def _split_section(key: str) -> tuple[str, str | None]:
    """``'remote "x"'`` → ``('remote', 'x')``; ``'core'`` → ``('core', None)``."""
    named = _pattern("named").fullmatch(key) if '"' in key else None
    return (named[1], named[2]) if named else (key, None)


# ---------------------------------------------------------------------------
# Checks: each turns a raw value into a typed one or raises _Invalid(message)


class _Invalid(Exception):
    """A value does not fit its option; the message is DVC's wording."""


def _string(value: Raw) -> Value:
    if isinstance(value, str):
        return value
    raise _Invalid("expected str")


def _lower(value: Raw) -> Value:
    # DVC lower-cases whatever it gets, lists included (as their repr).
    return (value if isinstance(value, str) else str(list(value))).lower()


def _boolean(value: Raw) -> Value:
    text = _lower(value)
    if text in ("true", "false"):
        return text == "true"
    raise _Invalid("expected true or false")


def _bool_or_str(value: Raw) -> Value:
    if isinstance(value, str) and value.lower() not in ("true", "false"):
        return value
    return _boolean(value)


def _integer(low: int | None = None, high: int | None = None) -> _Check:
    def check(value: Raw) -> Value:
        try:
            number = int(value)  # type: ignore[arg-type]  # a list fails just like bad text
        except (TypeError, ValueError):
            raise _Invalid("expected int") from None
        return _in_range(number, low, high)

    return check


def _number(low: float | None = None) -> _Check:
    def check(value: Raw) -> Value:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _Invalid("expected float") from None
        return _in_range(number, low, None)

    return check


def _in_range(number: float, low: float | None, high: float | None) -> Value:
    if low is not None and number < low:
        raise _Invalid(f"value must be at least {low}")
    if high is not None and number > high:
        raise _Invalid(f"value must be at most {high}")
    return number


def _choices(*allowed: str) -> _Check:
    def check(value: Raw) -> Value:
        text = _lower(value)
        if text in allowed:
            return text
        raise _Invalid(f"expected one of {', '.join(allowed)}")

    return check


def _cache_types(value: Raw) -> Value:
    types = value if isinstance(value, tuple) else tuple(t.strip() for t in value.split(","))
    unsupported = [t for t in dict.fromkeys(types) if t not in LINK_TYPES]
    if unsupported:
        raise _Invalid(f"Unsupported cache type(s): {', '.join(unsupported)}")
    return types


def _never(kind: str) -> _Check:
    """DVC types a few options as a Python bool/int, which no text in a file can satisfy."""

    def check(value: Raw) -> Value:
        raise _Invalid(f"expected {kind}")

    return check


def _anything(value: Raw) -> Value:
    return value


def _group(check: _Check, names: str) -> dict[str, _Check]:
    return dict.fromkeys(names.split(), check)


# ---------------------------------------------------------------------------
# DVC 3.67's schema: every section and option it accepts (obsolete ones included)

_INT, _POSITIVE, _SECONDS = _integer(), _integer(1), _number(0)

_LOCAL_COMMON = {"type": _cache_types, "shared": _choices("group")} | _group(
    _boolean, "protected slow_link_warning verify"
)
_REMOTE_COMMON = {"url": _string, "checksum_jobs": _POSITIVE, "jobs": _POSITIVE} | _group(
    _boolean, "worktree no_traverse version_aware"
)
_HTTP = (
    {"auth": _choices("basic", "digest", "custom"), "ssl_verify": _bool_or_str}
    | _group(_string, "custom_auth_header user password method")
    | _group(_boolean, "ask_password verify")
    | _group(_SECONDS, "connect_timeout read_timeout")
)
_WEBDAV = (
    _group(_string, "user password token bearer_token_command custom_auth_header cert_path")
    | _group(_string, "key_path")
    | {"timeout": _INT, "ssl_verify": _bool_or_str}
    | _group(_boolean, "ask_password verify")
)
_S3 = (
    _group(_string, "region profile credentialpath configpath endpointurl access_key_id")
    | _group(_string, "secret_access_key session_token sse sse_kms_key_id acl grant_read")
    | _group(_string, "sse_customer_algorithm sse_customer_key grant_read_acp grant_write_acp")
    | _group(_string, "grant_full_control")
    | _group(_boolean, "listobjects use_ssl allow_anonymous_login verify")
    | _group(_INT, "read_timeout connect_timeout")
    | {"ssl_verify": _bool_or_str, "cache_regions": _never("bool")}
)
_AZURE = (
    _group(_string, "connection_string sas_token account_name account_key tenant_id")
    | _group(_string, "client_id client_secret")
    | _group(_boolean, "allow_anonymous_login exclude_environment_credential verify")
    | _group(
        _boolean, "exclude_visual_studio_code_credential exclude_shared_token_cache_credential"
    )
    | _group(_boolean, "exclude_managed_identity_credential")
    | _group(_INT, "timeout read_timeout connection_timeout")
)
_GDRIVE = (
    _group(_string, "profile gdrive_client_id gdrive_client_secret gdrive_user_credentials_file")
    | _group(_string, "gdrive_service_account_user_email gdrive_service_account_json_file_path")
    | _group(_boolean, "gdrive_use_service_account gdrive_trash_only gdrive_acknowledge_abuse")
    | {"verify": _boolean}
)
_SSH = (
    {"type": _cache_types}
    | _group(_string, "user password passphrase keyfile")
    | _group(_INT, "port timeout max_sessions")
    | _group(_boolean, "ask_password ask_passphrase gss_auth allow_agent verify")
)
_WEBHDFS = (
    _group(_boolean, "kerberos use_https verify")
    | _group(_string, "kerberos_principal proxy_to token user password data_proxy_target")
    | {"ssl_verify": _bool_or_str}
)
# url scheme → options; None means any option (a `remote://other/path` remote)
_REMOTES: dict[str, dict[str, _Check] | None] = {
    "": _LOCAL_COMMON | _REMOTE_COMMON,
    "s3": _S3 | _REMOTE_COMMON,
    "gs": _group(_string, "projectname credentialpath endpointurl")
    | _group(_boolean, "verify allow_anonymous_login")
    | _REMOTE_COMMON,
    "ssh": _SSH | _REMOTE_COMMON,
    "hdfs": _group(_string, "user kerb_ticket") | {"replication": _never("int")} | _REMOTE_COMMON,
    "webhdfs": _WEBHDFS | _REMOTE_COMMON,
    "azure": _AZURE | _REMOTE_COMMON,
    "oss": _group(_string, "oss_key_id oss_key_secret oss_endpoint")
    | {"verify": _boolean}
    | _REMOTE_COMMON,
    "gdrive": _GDRIVE | _REMOTE_COMMON,
    "http": _HTTP | _REMOTE_COMMON,
    "https": _HTTP | _REMOTE_COMMON,
    "webdav": _WEBDAV | _REMOTE_COMMON,
    "webdavs": _WEBDAV | _REMOTE_COMMON,
    "remote": None,
}
_SECTIONS: dict[str, dict[str, _Check]] = {
    "core": _group(_lower, "remote machine")
    | {"checksum_jobs": _POSITIVE, "site_cache_dir": _string}
    | _group(_boolean, "interactive analytics hardlink_lock no_scm autostage experiments")
    | _group(_boolean, "check_update"),
    "cache": _group(_string, "dir local s3 gs hdfs webhdfs ssh azure") | _LOCAL_COMMON,
    "state": {"dir": _string, "row_limit": _POSITIVE, "row_cleanup_quota": _integer(0, 100)},
    "index": {"dir": _string},
    "feature": {"machine": _boolean},
    "plots": _group(_string, "html_template out_dir") | {"auto_open": _boolean},
    "exp": _group(_string, "git_remote code data models metrics params plots live")
    | {"auto_push": _boolean},
    "parsing": {
        "bool": _choices("store_true", "boolean_optional"),
        "list": _choices("nargs", "append"),
    },
    "hydra": _group(_string, "config_dir config_module config_name plugins_path")
    | {"enabled": _boolean},
    "studio": _group(_string, "token url repo_url") | {"offline": _boolean},
}
_NAMED_SECTIONS: dict[str, dict[str, _Check]] = {
    "machine": _group(_string, "image ssh_private startup_script setup_script")
    | _group(_lower, "instance_type instance_gpu")
    | {
        "cloud": _choices("aws", "azure"),
        "region": _choices("us-west", "us-east", "eu-west", "eu-north"),
        "spot": _boolean,
        "spot_price": _number(),
        "instance_hdd_size": _INT,
    },
    "db": _group(_string, "url username password"),
}


def _any_remote_options() -> dict[str, _Check]:
    """Options of a remote whose url lives in another file: any scheme's, checked if unambiguous."""
    union: dict[str, _Check] = {}
    for options in filter(None, _REMOTES.values()):
        for name, check in options.items():
            union[name] = check if union.get(name, check) is check else _anything
    return union


_ANY_REMOTE = _any_remote_options()
# options holding paths, resolved against the directory of the file that sets them
_PATH_OPTIONS = {
    "cache": {"dir"},
    "remote": {"url", "credentialpath", "configpath", "keyfile", "cert_path", "key_path"}
    | {"gdrive_user_credentials_file", "gdrive_service_account_json_file_path"},
    "machine": {"startup_script", "setup_script"},
}


# ---------------------------------------------------------------------------
# Validation


def _validate(
    merged: Sections, origins: _Origins, *, partial: bool
) -> tuple[dict[str, dict[str, Value]], list[str]]:
    """Check every section; return typed values and warnings (ignored `feature.*` options).

    ``partial`` checks one file alone: a remote's url may then live in another file.
    """
    checked: dict[str, dict[str, Value]] = {}
    warnings: list[str] = []
    for key, options in merged.items():
        checked[key] = _validate_section(key, options, origins, partial, warnings)
    return checked, warnings


def _validate_section(
    key: str, options: dict[str, Raw], origins: _Origins, partial: bool, warnings: list[str]
) -> dict[str, Value]:
    kind = _split_section(key)[0]
    table = _table_for(key, options, origins, partial)
    result: dict[str, Value] = {}
    ignored = []
    for option, raw in options.items():
        check = _anything if table is None else table.get(option)
        where = (origins.get((key, option)), _dotted(key, option))
        if check is None and kind == "feature":
            ignored.append(f"'feature.{option}'")
        elif check is None:
            raise _error(*where, "extra keys not allowed", _unknown_option_hint(key, option, table))
        else:
            result[option] = _checked(check, raw, where, key)
    if ignored:
        plural = " is" if len(ignored) == 1 else "s are"
        warnings.append(f"{', '.join(ignored)} config option{plural} unsupported")
    if kind == "hydra" and {"config_dir", "config_module"} <= result.keys():
        where = (origins.get((key, "config_module")), "hydra.config_module")
        raise _error(*where, "two or more values in the same group of exclusion 'config_source'",
                     "set either hydra.config_dir or hydra.config_module, not both")  # fmt: skip
    return result


def _unknown_option_hint(key: str, option: str, table: dict[str, _Check] | None) -> str:
    elsewhere = [scheme for scheme, options in _REMOTES.items() if option in (options or ())]
    if _split_section(key)[0] == "remote" and elsewhere:
        kinds = ", ".join(f"{scheme}://" if scheme else "local" for scheme in elsewhere)
        return f"'{option}' applies to remotes of these kinds only: {kinds}; check the url"
    known = ", ".join(sorted(table or ()))
    return f"remove '{option}' from [{key}] or fix its spelling (known: {known})"


def _checked(check: _Check, raw: Raw, where: tuple[str | None, str], key: str) -> Value:
    try:
        return check(raw)
    except _Invalid as exc:
        option = where[1].rsplit(".", 1)[-1]
        raise _error(*where, str(exc), f"change '{option}' in [{key}] (it is {raw!r})") from None


def _table_for(
    key: str, options: dict[str, Raw], origins: _Origins, partial: bool
) -> dict[str, _Check] | None:
    kind, name = _split_section(key)
    if name is None and kind in _SECTIONS:
        return _SECTIONS[kind]
    if name is None:
        hint = f"remove the [{kind}] section or fix its name (known: {_known_sections()})"
        if kind in _NAMED_KINDS:
            hint = f"give the section a name, as in ['{kind} \"myname\"']"
        raise _error(origins.get((key, None)), kind, "extra keys not allowed", hint)
    if kind != "remote":
        return _NAMED_SECTIONS[kind]
    return _remote_table(key, name, options.get("url"), origins, partial)


def _remote_table(
    key: str, name: str, url: Raw | None, origins: _Origins, partial: bool
) -> dict[str, _Check] | None:
    if url is None:
        if partial:
            return _ANY_REMOTE
        hint = f"add `url = <path or URL>` to ['{key}'] (or run `dvc remote add {name} <url>`)"
        raise _error(origins.get((key, None)), f"remote.{name}", "expected 'url'", hint)
    if not isinstance(url, str):
        hint = f"quote the url of ['{key}'] if it contains commas"
        raise _error(origins.get((key, "url")), f"remote.{name}.url", "expected str", hint)
    scheme = _url_scheme(url)
    if scheme not in _REMOTES:
        known = ", ".join(s for s in _REMOTES if s)
        hint = f"use a local path or one of these schemes: {known}"
        raise _error(origins.get((key, "url")), f"remote.{name}.url",
                     f"Unsupported URL type {scheme}://", hint)  # fmt: skip
    return _REMOTES[scheme]


def _url_scheme(url: str) -> str:
    """The scheme that picks a remote's options; no host means a local path."""
    match = _pattern("scheme").match(url)
    return match[1].lower() if match and match[2] else ""


def _known_sections() -> str:
    return ", ".join([*_SECTIONS, *(f'{kind} "<name>"' for kind in _NAMED_KINDS)])


def _dotted(key: str, option: str) -> str:
    kind, name = _split_section(key)
    return f"{kind}.{option}" if name is None else f"{kind}.{name}.{option}"


def _error(path: str | None, dotted: str, detail: str, hint: str) -> ConfigError:
    where = f"{_display(path)}: " if path is not None else ""
    return ConfigError(f"configuration error: {where}{detail}: '{dotted}'", hint=hint)


def _display(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        relative = os.path.relpath(path)
    except (OSError, ValueError):
        return str(path)
    return str(path) if relative.startswith("..") else relative


# ---------------------------------------------------------------------------
# Files and levels


def config_path(level: str, dvc_dir: StrPath, environ: Mapping[str, str] | None = None) -> Path:
    """The file DVC reads for one level (it may not exist).

    >>> config_path("local", "proj/.dvc").as_posix()
    'proj/.dvc/config.local'
    """
    from pathlib import Path

    return Path(_config_file(level, _clean(os.fspath(dvc_dir)), environ))


def _config_file(level: str, dvc_dir: str, environ: Mapping[str, str] | None) -> str:
    """:func:`config_path` as a string, spelt as `str(Path(...))` would spell it."""
    env = os.environ if environ is None else environ
    if level == "repo":
        return _clean(os.path.join(dvc_dir, "config"))
    if level == "local":
        return _clean(os.path.join(dvc_dir, "config.local"))
    if level == "system":
        folder = env.get("DVC_SYSTEM_CONFIG_DIR") or _site_config_dir(env)
        return _clean(os.path.join(folder, "config"))
    if level == "global":
        folder = env.get("DVC_GLOBAL_CONFIG_DIR") or _user_config_dir(env)
        return _clean(os.path.join(folder, "config"))
    raise ConfigError(
        f"configuration error: unknown config level {level!r}",
        hint=f"use one of {', '.join(LEVELS)}",
    )


def _clean(path: str) -> str:
    """``str(pathlib.Path(path))`` without pathlib: no `.` parts, doubled or trailing `/`.

    >>> _clean("a//./b/"), _clean("./"), _clean("//srv/x"), _clean("///x")
    ('a/b', '.', '//srv/x', '/x')
    """
    if os.sep != "/":  # pragma: no cover - labrun runs on POSIX systems
        return os.path.normpath(path)
    lead = "/" if path.startswith("/") else ""
    if path.startswith("//") and not path.startswith("///"):
        lead = "//"  # POSIX leaves the meaning of exactly two slashes open, and so does Path
    return lead + "/".join(part for part in path.split("/") if part not in ("", ".")) or "."


def _user_config_dir(env: Mapping[str, str]) -> str:
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "iterative", "dvc")
    xdg = env.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "dvc")
    home = env.get("HOME") or os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "dvc")
    return os.path.join(home, ".config", "dvc")


def _site_config_dir(env: Mapping[str, str]) -> str:
    if sys.platform == "win32":
        return os.path.join(env.get("PROGRAMDATA") or "C:\\ProgramData", "iterative", "dvc")
    dirs = [d for d in env.get("XDG_CONFIG_DIRS", "").split(os.pathsep) if os.path.isabs(d)]
    if dirs:
        return os.path.join(dirs[0], "dvc")
    if sys.platform == "darwin":
        return "/Library/Application Support/dvc"
    return "/etc/xdg/dvc"


def _read_file(path: str) -> Sections | None:
    """Parse one config file; None when it does not exist."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"configuration error: {_display(path)}: cannot read: {exc.strerror}",
            hint="check that the path is a readable file",
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"configuration error: {_display(path)}: not UTF-8 text ({exc.reason} "
            f"at byte {exc.start})",
            hint="save the file as UTF-8",
        ) from None
    return parse_ini(text, _display(path))


def _map_paths(sections: Sections, convert: Callable[[str], str]) -> Sections:
    """Apply ``convert`` to every option that holds a path (string values only)."""
    result: Sections = {}
    for key, options in sections.items():
        names = _PATH_OPTIONS.get(_split_section(key)[0], set())
        result[key] = {
            opt: convert(val) if opt in names and isinstance(val, str) else val
            for opt, val in options.items()
        }
    return result


def _absolute_path(base: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if _pattern("url").match(value) or os.path.isabs(value):
            return value
        expanded = os.path.expanduser(value)
        if os.path.isabs(expanded):
            return expanded
        return os.path.abspath(os.path.join(base, value))

    return convert


def _normalized_path(value: str) -> str:
    """How DVC re-writes a path option: relative ones normalised, the rest kept."""
    if _pattern("url").match(value) or os.path.isabs(value) or os.path.expanduser(value) != value:
        return value
    return os.path.normpath(value).replace(os.sep, "/")


# ---------------------------------------------------------------------------
# The merged value

if TYPE_CHECKING:  # the typed view, for the type checker only (typing costs start-up time)
    _T = TypeVar("_T")

    class _Setting(Generic[_T]):
        def __init__(self, section: str, option: str, default: _T) -> None: ...
        @overload
        def __get__(self, config: None, owner: type | None = None) -> _Setting[_T]: ...
        @overload
        def __get__(self, config: Config, owner: type | None = None) -> _T: ...
        def __get__(self, config: Config | None, owner: type | None = None) -> object: ...

else:

    class _Setting:
        """One option as a typed, read-only attribute of `Config`, with DVC's default."""

        def __class_getitem__(cls, _item):  # `_Setting[str | None](...)` as in the typed view
            return cls

        def __init__(self, section, option, default):
            self.section, self.option, self.default = section, option, default

        def __get__(self, config, owner=None):
            if config is None:
                return self
            value = config.get(self.section, self.option)
            return self.default if value is None else value


@record
class Config:
    """Validated, merged configuration; attributes give the engine's options with DVC's defaults.

    ``sections`` maps canonical section names (``core``, ``remote "x"``) to typed
    values; paths in ``cache.dir`` and remote urls are absolute.

    ``files`` (level → file) and ``origins`` hold the paths as strings; the
    methods that hand out one path (`origin`, `cache_dir`) return a `Path`.

    >>> cfg = Config(dvc_dir="/p/.dvc")
    >>> cfg.cache_dir.as_posix(), cfg.cache_types, cfg.parsing_bool, cfg.autostage
    ('/p/.dvc/cache', ('reflink', 'copy'), 'store_true', False)
    """

    dvc_dir: StrPath
    sections: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    files: Mapping[str, StrPath] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    origins: Mapping[tuple[str, str | None], StrPath] = field(default_factory=dict, repr=False)

    cache_shared = _Setting[str | None]("cache", "shared", None)  # "group" or None
    cache_slow_link_warning = _Setting("cache", "slow_link_warning", True)
    cache_verify = _Setting("cache", "verify", False)
    core_remote = _Setting[str | None]("core", "remote", None)  # lower-cased, as remote names
    autostage = _Setting("core", "autostage", False)
    no_scm = _Setting("core", "no_scm", False)
    interactive = _Setting("core", "interactive", False)
    hardlink_lock = _Setting("core", "hardlink_lock", False)
    check_update = _Setting("core", "check_update", True)
    analytics = _Setting("core", "analytics", True)
    site_cache_dir = _Setting[str | None]("core", "site_cache_dir", None)
    parsing_bool = _Setting("parsing", "bool", "store_true")  # or "boolean_optional"
    parsing_list = _Setting("parsing", "list", "nargs")  # or "append"
    exp_auto_push = _Setting("exp", "auto_push", False)  # env DVC_EXP_AUTO_PUSH overrides
    exp_git_remote = _Setting("exp", "git_remote", "origin")  # env DVC_EXP_GIT_REMOTE overrides
    hydra_enabled = _Setting("hydra", "enabled", False)
    hydra_config_module = _Setting[str | None]("hydra", "config_module", None)
    hydra_config_name = _Setting("hydra", "config_name", "config")
    hydra_plugins_path = _Setting("hydra", "plugins_path", "")  # relative to the project root

    def __post_init__(self) -> None:
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.sections.items()}
        object.__setattr__(self, "sections", MappingProxyType(frozen))
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        object.__setattr__(self, "origins", MappingProxyType(dict(self.origins)))

    def get(self, section: str, option: str, default: Value | None = None) -> Value | None:
        """A value as set in the files (validated), else ``default``.

        >>> Config(".dvc", {"core": {"autostage": True}}).get("CORE", "autostage")
        True
        """
        found = self.sections.get(canonical_section(section), {})
        return found.get(option.lower(), default)

    def origin(self, section: str, option: str) -> Path | None:
        """The file whose value won for this option, if any."""
        found = self.origins.get((canonical_section(section), option.lower()))
        if found is None:
            return None
        from pathlib import Path

        return Path(found)

    @property
    def remotes(self) -> Mapping[str, Mapping[str, Value]]:
        """Remote name → its options (``url`` absolute for local paths)."""
        named = ((_split_section(key), options) for key, options in self.sections.items())
        return MappingProxyType({n: opts for (kind, n), opts in named if n and kind == "remote"})

    @property
    def cache_dir(self) -> Path:
        """The local cache (``cache.dir``, default ``<dvc_dir>/cache``)."""
        from pathlib import Path

        return Path(self.cache_root)

    @property
    def cache_root(self) -> str:
        """:attr:`cache_dir` as a string (for callers that need no `Path`)."""
        configured = self.get("cache", "dir")
        if isinstance(configured, str):
            return _clean(configured)
        return _clean(os.path.join(os.fspath(self.dvc_dir), "cache"))

    @property
    def cache_types(self) -> tuple[str, ...]:
        """Link types to try in order; an empty ``cache.type`` means the default, as in DVC."""
        value = self.get("cache", "type")
        return value if isinstance(value, tuple) and value else DEFAULT_CACHE_TYPES

    @property
    def checksum_jobs(self) -> int:
        """Parallel hashing jobs: ``core.checksum_jobs``, else DVC's max(1, min(4, cpus // 2))."""
        value = self.get("core", "checksum_jobs")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return max(1, min(4, (os.cpu_count() or 1) // 2))

    @property
    def hydra_config_dir(self) -> str | None:
        """Relative to the project root; None when ``hydra.config_module`` is used instead."""
        if self.hydra_config_module is not None:
            return None
        value = self.get("hydra", "config_dir")
        return value if isinstance(value, str) else "conf"


def load_config(
    dvc_dir: str | os.PathLike[str],
    *,
    levels: Iterable[str] = LEVELS,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read the config files of ``levels`` (merged system → global → repo → local) and validate.

    ``environ`` replaces ``os.environ`` when locating the system and global files.

    >>> load_config("proj/.dvc", levels=("repo",)).autostage  # doctest: +SKIP
    False
    """
    folder = _clean(os.fspath(dvc_dir))
    wanted = set(levels)
    files = {level: _config_file(level, folder, environ) for level in LEVELS if level in wanted}
    for unknown in wanted - set(LEVELS):
        _config_file(unknown, folder, None)  # raises the error naming the level
    merged: Sections = {}
    origins: _Origins = {}
    for path in files.values():
        found = _read_file(path)
        for key, options in _map_paths(found or {}, _absolute_path(_parent(path))).items():
            merged.setdefault(key, {}).update(options)
            origins[(key, None)] = path
            origins.update({(key, option): path for option in options})
    checked, warnings = _validate(merged, origins, partial=False)
    return Config(folder, checked, files, tuple(warnings), origins)


def _parent(path: str) -> str:
    """``str(Path(path).parent)`` for a path spelt by :func:`_clean`."""
    return os.path.dirname(path) or "."


# ---------------------------------------------------------------------------
# Writing one file the way DVC does

_SPECIAL_EDGES = " \r\n\v\t'\""


def dump_ini(sections: Mapping[str, Mapping[str, Raw]]) -> str:
    """Format sections as DVC writes them: plain sections first, then named ones by kind.

    Empty plain sections are dropped; options are indented by four spaces.

    >>> print(dump_ini({'remote "s"': {"url": "/x"}, "cache": {"type": "hardlink,copy"}}), end="")
    [cache]
        type = "hardlink,copy"
    ['remote "s"']
        url = /x
    """
    plain = [key for key in sections if _split_section(key)[1] is None and sections[key]]
    kinds = {key: _split_section(key)[0] for key in sections if _split_section(key)[1] is not None}
    named = [key for kind in _NAMED_KINDS for key in kinds if kinds[key] == kind]
    lines: list[str] = []
    for key in plain + named:
        lines.append(f"[{_quote(key, multiline=False)}]")
        lines.extend(
            f"    {_quote(o, multiline=False)} = {_format(v)}" for o, v in sections[key].items()
        )
    return "".join(line + os.linesep for line in lines) or os.linesep


def _format(value: Raw) -> str:
    if isinstance(value, str):
        return _quote(value, multiline=True)
    if len(value) < 2:
        return "".join(_quote(item, multiline=False) for item in value) + ","
    return ", ".join(_quote(item, multiline=False) for item in value)


def _quote(value: str, *, multiline: bool) -> str:
    """Quote only when reading back would otherwise change the value."""
    if not value:
        return '""'
    if multiline and ("\n" in value or ("'" in value and '"' in value)):
        if "'''" in value and '"""' in value:
            raise _unquotable(value)
        return f'"""{value}"""' if '"""' in value else f"'''{value}'''"
    if "\n" in value:
        raise _unquotable(value)
    plain = value[0] not in _SPECIAL_EDGES and value[-1] not in _SPECIAL_EDGES
    if plain and "," not in value and "#" not in value:
        return value
    if "'" in value and '"' in value:
        raise _unquotable(value)
    return f"'{value}'" if '"' in value else f'"{value}"'


def _unquotable(value: str) -> ConfigError:
    return ConfigError(
        f"configuration error: cannot write {value!r}: it cannot be quoted in a config file",
        hint="avoid mixing both quote characters (and newlines) in names and list items",
    )


def set_option(path: StrPath, section: str, option: str, value: str | bool | int) -> None:
    """Set ``section.option`` in one config file, rewriting it as DVC would.

    ``section`` is ``core`` or a named one such as ``remote "storage"``. The file
    (and its directory) is created if needed; comments are dropped and values
    re-quoted, as with ``dvc config``. Relative paths are stored as given, i.e.
    relative to the file's directory. The result is checked on its own (a
    remote's url may live in another file) before the file is replaced.

    >>> set_option(".dvc/config", 'remote "s"', "url", "/mnt/s")  # doctest: +SKIP
    """
    file = _clean(os.fspath(path))
    sections = _read_file(file) or {}
    sections.setdefault(canonical_section(section), {})[option.lower()] = str(value)
    _save(file, sections)


def unset_option(path: StrPath, section: str, option: str) -> None:
    """Remove ``section.option`` from one config file, rewriting it as DVC would.

    >>> unset_option(".dvc/config", "core", "autostage")  # doctest: +SKIP
    """
    file = _clean(os.fspath(path))
    sections = _read_file(file) or {}
    key, name = canonical_section(section), option.lower()
    kind, named = _split_section(key)
    label, title = (kind, named) if named is not None else ("section", kind)
    where = f"configuration error: {_display(file)}: "
    if key not in sections and (named is not None or kind not in _SECTIONS):
        present = ", ".join(f"[{k}]" for k in sections) or "none"
        raise ConfigError(
            f"{where}{label} '{title}' doesn't exist", hint=f"sections in the file: {present}"
        )
    if name not in sections.get(key, {}):
        raise ConfigError(
            f"{where}option '{name}' doesn't exist in {label} '{title}'",
            hint="`dvc config -l` lists the options that are set",
        )
    del sections[key][name]
    _save(file, sections)


def _save(path: str, sections: Sections) -> None:
    text = dump_ini(_map_paths(sections, _normalized_path))
    written = parse_ini(text, _display(path))  # what the next reader will see
    origins: _Origins = {(key, None): path for key in written}
    origins.update({(key, opt): path for key in written for opt in written[key]})
    _validate(written, origins, partial=True)
    _atomic_write(path, text.encode("utf-8"))


def _atomic_write(path: str, data: bytes) -> None:
    """Replace the file crash-safely, keeping an existing file's mode (as DVC's in-place write)."""
    from labrun.fsutil import atomic_write  # writing is rare: keep it off the import path

    os.makedirs(_parent(path), exist_ok=True)
    try:
        mode: int | None = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    atomic_write(path, data, mode)
