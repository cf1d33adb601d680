"""`.dvcignore` support: gitwildmatch patterns, nested files, pruning walks.

Rules come from the built-in defaults (``.hg/``, ``.git/``, ``.git``, ``.dvc/``)
and from every ``.dvcignore`` file between the project root and a path. A
nested file's patterns are re-anchored to its own directory and appended after
its parents'; the last matching rule wins (a ``!`` rule un-ignores). A path
inside an ignored directory is ignored whatever later rules say, and so is
every directory holding its own ``.dvc/`` (a nested project).

The dialect is DVC's, quirks included: lines are stripped at both ends, the
directory-only patterns ``**/`` and ``*/`` at the top of a file match nothing,
and when several plain rules in a row match, :meth:`DvcIgnore.explain` reports
the first of them (negations: the last).

Example:

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / ".dvcignore").write_text("*.tmp\\n!keep.tmp\\n")
    >>> ign = DvcIgnore(root)
    >>> ign.is_ignored("data/x.tmp"), ign.is_ignored("data/keep.tmp")
    (True, False)
    >>> str(ign.explain("x.tmp"))
    '.dvcignore:1:*.tmp'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from labrun.errors import FileFormatError
from labrun.record import record

IGNORE_FILE = ".dvcignore"
_DEFAULT_PATTERNS = (".hg/", ".git/", ".git", ".dvc/")


class IgnoreFileError(FileFormatError):
    """A ``.dvcignore`` file is unreadable or holds an invalid pattern."""


class _RangeError(ValueError):
    """A ``[...]`` without its closing bracket: git drops such patterns."""


# -- pattern → regex -------------------------------------------------------------


def _translate_bracket(seg: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression opening at ``seg[i - 1]``; return (regex, next i)."""
    j = i
    if j < len(seg) and seg[j] in "!^":
        j += 1
    if j < len(seg) and seg[j] == "]":
        j += 1
    j = seg.find("]", j)
    if j < 0:
        raise _RangeError(seg)
    body = seg[i:j]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    inner = "".join(c if c == "-" else re.escape(c) for c in body)
    return ("[^" if negate else "[") + inner + "]", j + 1


def _translate_glob(seg: str) -> str:
    """Translate one path segment of a glob (``*``, ``?``, ``[...]``, ``\\x``)."""
    out: list[str] = []
    i = 0
    while i < len(seg):
        char = seg[i]
        i += 1
        if char == "\\":
            if i == len(seg):
                raise ValueError("a trailing backslash escapes nothing")
            out.append(re.escape(seg[i]))
            i += 1
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            regex, i = _translate_bracket(seg, i)
            out.append(regex)
        else:
            out.append(re.escape(char))
    return "".join(out)


def _normalize_segments(segs: list[str]) -> list[str]:
    if not segs[0]:
        del segs[0]  # leading "/": anchored to the ignore file's directory
    elif (len(segs) == 1 or (len(segs) == 2 and not segs[1])) and segs[0] != "**":
        segs.insert(0, "**")  # a bare name matches at any depth
    if not segs:
        raise ValueError("the pattern is empty")
    if not segs[-1]:
        segs[-1] = "**"  # "dir/" covers everything below dir
    return [s for k, s in enumerate(segs) if not (k and s == "**" == segs[k - 1])]


def _translate_segments(segs: list[str]) -> str:
    out: list[str] = []
    need_slash = False
    last = len(segs) - 1
    for k, seg in enumerate(segs):
        if seg == "**":
            if k == 0:
                out.append("^(?:.+/)?")
            elif k < last:
                out.append("(?:/.+)?")
                need_slash = True
            else:
                out.append("/")
            continue
        if k == 0:
            out.append("^")
        if need_slash:
            out.append("/")
        out.append("[^/]+" if seg == "*" else _translate_glob(seg))
        if k == last:
            out.append("(?:/|$)")
        need_slash = True
    return "".join(out)


# Patterns DVC matches with re.match() against paths that never start with "/":
# these compile to a regex that can never match.
_NEVER = "/"
_ANYWHERE = "^(?:.+/)?"


def _compile_pattern(pattern: str) -> tuple[str, bool, bool] | None:
    """``(regex, negated, basename_only)`` for one pattern; None if a no-op.

    ``basename_only`` marks ``^(?:.+/)?<one segment>`` regexes, which can only
    match a path through one of its components (see :meth:`RuleSet.keep_files`).
    """
    if not pattern or pattern.startswith("#") or pattern == "/":
        return None
    negated = pattern.startswith("!")
    if negated:
        pattern = pattern[1:]
    segs = pattern.split("/")
    dir_pattern = not segs[-1]
    segs = _normalize_segments(segs)
    if segs == ["**"]:
        return (_NEVER if dir_pattern else "."), negated, False
    if segs in (["**", "*"], ["**", "*", "**"]):
        return (_NEVER if len(segs) == 3 else "."), negated, False
    try:
        regex = _translate_segments(segs)
    except _RangeError:
        return None
    one_segment = segs[0] == "**" and (len(segs) == 2 or segs[2:] == ["**"])
    return regex, negated, one_segment


def translate(pattern: str) -> tuple[str, bool] | None:
    """Compile one gitwildmatch *pattern* to ``(regex, negated)``; None if a no-op.

    The regex is meant for ``re.match`` on ``/``-separated root-relative paths
    (directories also tried with a trailing ``/``). Raises ValueError for
    patterns git rejects outright.

    >>> translate("*.tmp")
    ('^(?:.+/)?[^/]*\\\\.tmp(?:/|$)', False)
    >>> translate("# comment") is None
    True
    """
    compiled = _compile_pattern(pattern)
    return None if compiled is None else compiled[:2]


_GLOB_SPECIALS = re.compile(r"([\\*?\[\]!#])")


def reanchor(pattern: str, dirrel: str, *, verbatim_dir: bool = False) -> str:
    """Rewrite a pattern of ``<dirrel>/.dvcignore`` (or ``.gitignore``) for the root.

    By default the directory name is escaped, which is what git does. With
    ``verbatim_dir=True`` it is pasted in as is, as DVC does for `.dvcignore`
    files: a directory named ``a[1]`` then reads as a glob, and one starting
    with ``!`` or ``#`` turns the rule into a negation or a comment.

    >>> reanchor("*.log", "sub"), reanchor("/a/b", "sub"), reanchor("!x/", "s")
    ('/sub/**/*.log', '/sub/a/b', '!/s/**/x/')
    >>> reanchor("*.log", "a[1]"), reanchor("*.log", "a[1]", verbatim_dir=True)
    ('/a\\\\[1\\\\]/**/*.log', 'a[1]/**/*.log')
    """
    negated = pattern.startswith("!")
    if negated:
        pattern = pattern[1:]
    anywhere = "/" not in pattern[:-1] or pattern.startswith("**/")
    pattern = pattern.removeprefix("**/") if anywhere else pattern.removeprefix("/")
    if pattern.startswith("\\"):
        pattern = pattern[1:]
    base = dirrel if verbatim_dir else "/" + _GLOB_SPECIALS.sub(r"\\\1", dirrel)
    rewritten = f"{base}/**/{pattern}" if anywhere else f"{base}/{pattern}"
    if negated:
        return "!" + (rewritten if rewritten.startswith("/") else "/" + rewritten)
    return rewritten


# -- rules -----------------------------------------------------------------------


@record
class Rule:
    """One compiled line of an ignore file."""

    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    source: str  # ".dvcignore" path relative to the root; "" for built-ins
    line: int  # 1-based; 0 for built-ins
    text: str  # the line as written (stripped)
    tail: str | None = None  # for `^(?:.+/)?X` regexes: X, which can only match one component


_Compiled = tuple["re.Pattern[str]", bool, "str | None"]
# pattern → (regex, negated, tail): the same lines are read again and again (a
# `.gitignore` gaining one entry per stage), translating them is the costly part
_COMPILED: dict[str, _Compiled | None] = {}


def compile_rule(pattern: str, *, source: str, line: int, text: str) -> Rule | None:
    """Compile *pattern* (already re-anchored) into a :class:`Rule`; None if a no-op."""
    try:
        compiled = _COMPILED[pattern]
    except KeyError:
        if len(_COMPILED) > 50_000:  # long-lived processes: keep the memo bounded
            _COMPILED.clear()
        compiled = _COMPILED[pattern] = _compile_uncached(pattern)
    if compiled is None:
        return None
    regex, negated, tail = compiled
    return Rule(regex, negated, pattern.endswith("/"), source, line, text, tail)


def _compile_uncached(pattern: str) -> _Compiled | None:
    compiled = _compile_pattern(pattern)
    if compiled is None:
        return None
    regex, negated, one_segment = compiled
    tail = regex[len(_ANYWHERE) :] if one_segment else None
    try:
        return re.compile(regex), negated, tail
    except re.error as exc:  # e.g. a reversed range such as [z-a]
        raise ValueError(str(exc)) from exc


@record
class _Group:
    negated: bool
    dir_only: bool
    rules: tuple[Rule, ...]


def _group(rules: tuple[Rule, ...]) -> tuple[_Group, ...]:
    """Runs of plain rules of one kind share a group; each negation stands alone."""
    runs: list[tuple[bool, bool, list[Rule]]] = []
    for rule in rules:
        prev = runs[-1] if runs else None
        if prev and not rule.negated and not prev[0] and prev[1] == rule.dir_only:
            prev[2].append(rule)
        else:
            runs.append((rule.negated, rule.dir_only, [rule]))
    return tuple(_Group(negated, dir_only, tuple(run)) for negated, dir_only, run in runs)


def _one_line(regex: str) -> str:
    """The same regex, kept from matching across the lines of a listing."""
    return regex.replace("[^/]", "[^/\\n]")


def _alternation(parts: list[str], flags: int = 0) -> re.Pattern[str] | None:
    return re.compile("|".join(parts), flags) if parts else None


class RuleSet:
    """An ordered list of rules, all relative to the project root."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._groups = _group(rules)
        self._built = False  # the pre-check regexes below are compiled on first use:
        # deciding single paths (`decide`) never needs them, and a `.gitignore`
        # growing by one line per stage would otherwise recompile them each time
        self._any: re.Pattern[str] | None = None
        self._names: re.Pattern[str] | None = None
        self._paths: re.Pattern[str] | None = None
        self._parents: re.Pattern[str] | None = None

    def _build(self) -> None:
        rules = self.rules
        tails = [r.tail for r in rules if r.tail is not None]
        others = [f"^(?:{r.regex.pattern})" for r in rules if r.tail is None]
        anywhere = [_ANYWHERE + "(?:" + "|".join(tails) + ")"] if tails else []
        # one regex matching whatever any rule matches (and maybe a little more)
        self._any = _alternation(others + anywhere)
        # pre-checks for a whole directory listing, one name (or path) per line;
        # `[^/]*` must not run across lines there, or each search goes quadratic
        names = [f"^(?:{'|'.join(map(_one_line, tails))})"] if tails else []
        self._names = _alternation(names, re.MULTILINE)
        self._paths = _alternation([_one_line(p) for p in others], re.MULTILINE)
        self._parents = _alternation(anywhere)
        self._built = True

    def extended(self, more: list[Rule]) -> RuleSet:
        """A new set with *more* rules appended (they take precedence)."""
        return RuleSet((*self.rules, *more))

    def any_match(self, path: str) -> bool:
        """Cheap pre-check for a file path: False means no rule can match it."""
        if not self._built:
            self._build()
        return self._any is not None and self._any.match(path) is not None

    def decide(self, path: str, is_dir: bool) -> tuple[bool, Rule | None]:
        """Return (ignored, deciding rule) for one root-relative path, ancestors aside."""
        candidates = (path, path + "/") if is_dir else (path,)
        for group in reversed(self._groups):
            if group.dir_only and not is_dir:
                continue
            for candidate in candidates:
                for rule in group.rules:
                    if rule.regex.match(candidate):
                        return not group.negated, rule
        return False, None

    def decide_path(self, path: str, is_dir: bool) -> tuple[bool, Rule | None]:
        """Like :meth:`decide`, but an ignored ancestor directory decides first."""
        parts = path.split("/")
        for i in range(1, len(parts)):
            ignored, rule = self.decide("/".join(parts[:i]), True)
            if ignored:
                return ignored, rule
        return self.decide(path, is_dir)

    def keep_files(self, prefix: str, entries: list[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
        """The file *entries* of directory *prefix* (``"a/b/"``, or "") that are not ignored.

        A few regex searches over the whole listing settle the usual case where
        no rule matches anything; only then is each file decided on its own.
        One-component rules are tried on the bare names, plus once on *prefix*
        (to catch a match through a parent directory's name).
        """
        if not self._built:
            self._build()
        if self._any is None or not entries:
            return entries
        names = [e.name for e in entries]
        listing = "\n".join(names)
        if listing.count("\n") != len(names) - 1:  # a name holds a newline: go one by one
            return [e for e in entries if not self.decide(prefix + e.name, False)[0]]
        suspect = (
            (self._names is not None and self._names.search(listing) is not None)
            or (
                self._parents is not None
                and bool(prefix)
                and self._parents.match(prefix) is not None
            )
            or (
                self._paths is not None
                and self._paths.search(prefix + ("\n" + prefix).join(names)) is not None
            )
        )
        if not suspect:
            return entries
        return [e for e in entries if not self.decide(prefix + e.name, False)[0]]


@record
class IgnoreMatch:
    """The rule that decided a path's fate, as ``dvc check-ignore -d`` shows it.

    ``file`` is the ``.dvcignore`` path relative to the root ("" for built-in
    rules), ``line`` is 1-based (0 for built-in rules), ``ignored`` is False when
    the deciding rule is a ``!`` negation.
    """

    file: str
    line: int
    pattern: str
    ignored: bool

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.pattern}"
        return self.file or f":{self.pattern}"


def _builtin_rules() -> tuple[Rule, ...]:
    rules = (compile_rule(p, source="", line=0, text=p) for p in _DEFAULT_PATTERNS)
    return tuple(r for r in rules if r is not None)


def _read_rules(full: str, name: str, dirrel: str) -> list[Rule]:
    try:
        with open(full, encoding="utf-8") as fobj:
            lines = fobj.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IgnoreFileError(f"unable to read '{name}': {exc}") from exc
    return compile_rules(lines, name, dirrel)


def compile_rules(lines: list[str], name: str, dirrel: str) -> list[Rule]:
    """The rules of one `.dvcignore` (``name``, in directory ``dirrel``), in file order."""
    rules = []
    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            # validity and no-ops are judged on the line as written, before re-anchoring
            rule = compile_rule(text, source=name, line=lineno, text=text)
            if rule is not None and dirrel:
                pattern = reanchor(text, dirrel, verbatim_dir=True)
                rule = compile_rule(pattern, source=name, line=lineno, text=text)
        except ValueError as exc:
            raise IgnoreFileError(
                f"invalid pattern '{text}' in '{name}', line {lineno}: {exc}",
                hint="fix or remove that line",
            ) from exc
        if rule is not None:
            rules.append(rule)
    return rules


# -- the project's view ----------------------------------------------------------

_Pending = tuple[str, str, "str | None"]  # (real path, path relative to top, to root)


class DvcIgnore:
    """The `.dvcignore` rules of one project, loaded lazily per directory.

    Paths given to :meth:`is_ignored` and :meth:`explain` are relative to
    ``root`` and use ``/``. :meth:`walk` and :meth:`iter_files` take real
    paths and prune ignored directories as they go.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self._sets: dict[str, RuleSet] = {}

    def _extend(
        self, parent: RuleSet, dirrel: str, subdirs: list[os.DirEntry[str]] | None
    ) -> RuleSet:
        """*parent* plus ``<dirrel>/.dvcignore`` (unless ignored) and nested projects."""
        name = _join(dirrel, IGNORE_FILE)
        full = os.path.join(self.root, name)
        rules: list[Rule] = []
        if os.path.isfile(full) and not parent.decide_path(name, False)[0]:
            rules = _read_rules(full, name, dirrel)
        rules.extend(self._nested_project_rules(dirrel, subdirs))
        return parent.extended(rules) if rules else parent

    def _nested_project_rules(
        self, dirrel: str, subdirs: list[os.DirEntry[str]] | None
    ) -> list[Rule]:
        """A rule ignoring each subdirectory that holds its own ``.dvc/`` (a nested project)."""
        if subdirs is None:
            try:
                with os.scandir(os.path.join(self.root, dirrel)) as it:
                    subdirs = [e for e in it if e.is_dir()]
            except (FileNotFoundError, NotADirectoryError):
                return []
        rules = []
        for entry in subdirs:
            if os.path.isdir(os.path.join(entry.path, ".dvc")):
                # the name is pasted in unescaped, as DVC does (see reanchor)
                pattern = f"{dirrel}/{entry.name}/" if dirrel else f"/{entry.name}/"
                source = f"in sub_repo:{entry.name}"
                rule = compile_rule(pattern, source=source, line=0, text=f"/{entry.name}/")
                if rule is not None:
                    rules.append(rule)
        return rules

    def rules_for(self, dirrel: str, subdirs: list[os.DirEntry[str]] | None = None) -> RuleSet:
        """The rules that apply to the entries of directory *dirrel* ("" = root).

        *subdirs* (the directory's subdirectories, if the caller listed them)
        saves a scan.
        """
        found = self._sets.get(dirrel)
        if found is None:
            if dirrel:
                parent = self.rules_for(dirrel.rpartition("/")[0])
            else:
                parent = RuleSet(_builtin_rules())
            found = self._sets[dirrel] = self._extend(parent, dirrel, subdirs)
        return found

    def relpath(self, path: str | os.PathLike[str]) -> str | None:
        """*path* relative to the root with ``/`` ("" for the root); None if outside."""
        rel = os.path.relpath(os.path.abspath(os.fspath(path)), self.root)
        if rel == os.curdir:
            return ""
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            return None
        return rel.replace(os.sep, "/")

    # -- single paths --------------------------------------------------------------

    def explain(self, relpath: str, is_dir: bool | None = None) -> IgnoreMatch | None:
        """Return the rule deciding *relpath* (see :class:`IgnoreMatch`), or None.

        *is_dir* defaults to whether the path is a directory on disk.
        """
        relpath = relpath.strip("/")
        if not relpath:
            return None
        if is_dir is None:
            is_dir = os.path.isdir(os.path.join(self.root, relpath))
        rules = self.rules_for(relpath.rpartition("/")[0])
        ignored, rule = rules.decide_path(relpath, is_dir)
        return None if rule is None else _as_match(rule, ignored)

    def is_ignored(self, relpath: str, is_dir: bool = False) -> bool:
        """Whether *relpath* (relative to the root, ``/``-separated) is ignored.

        >>> DvcIgnore(".").is_ignored(".git/config")
        True
        """
        match = self.explain(relpath, is_dir)
        return match is not None and match.ignored

    # -- walking -------------------------------------------------------------------

    def _rules_entering(
        self, rootrel: str | None, is_top: bool, subdirs: list[os.DirEntry[str]] | None
    ) -> RuleSet | None:
        """The rules for a directory being scanned; None if it drops out entirely."""
        if rootrel is None:
            return _NO_RULES
        rules = self.rules_for(rootrel, subdirs)
        if not rootrel:
            return rules
        if is_top:
            # DVC checks every entry's ancestors too: below an ignored top, nothing is kept
            return None if rules.decide_path(rootrel, True)[0] else rules
        # A .dvcignore of its own may match its directory (`**`): DVC then drops
        # everything below it. (Rules of the parent were checked by the parent.)
        has_own = rules is not self.rules_for(rootrel.rpartition("/")[0])
        return None if has_own and rules.decide(rootrel, True)[0] else rules

    def _scan(self, path: str, rootrel: str | None, is_top: bool) -> _Scanned | None:
        """List one directory: kept subdirectories and kept files, or None if pruned."""
        dirs: list[os.DirEntry[str]] = []
        files: list[os.DirEntry[str]] = []
        with os.scandir(path) as it:
            for entry in it:
                (dirs if entry.is_dir() else files).append(entry)
        return self.keep_entries(rootrel, is_top, dirs, files)

    def keep_entries(
        self,
        rootrel: str | None,
        is_top: bool,
        dirs: list[os.DirEntry[str]],
        files: list[os.DirEntry[str]],
        *,
        by_path: bool = True,
    ) -> _Scanned | None:
        """The kept subdirectories and files of the listed directory *rootrel* (None:
        outside the root, everything is kept); None if the directory drops out.

        ``by_path=False``: the entries were listed through a descriptor, so their
        paths cannot tell nested projects apart; the rules list the directory again.
        """
        subdirs = dirs if by_path or not dirs else None
        rules = self._rules_entering(rootrel, is_top, subdirs)
        if rules is None:
            return None
        prefix = f"{rootrel}/" if rootrel else ""
        kept = [d for d in dirs if not rules.decide(prefix + d.name, True)[0]]
        return kept, rules.keep_files(prefix, files)

    def iter_dirs(
        self, top: str | os.PathLike[str]
    ) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
        """Yield ``(directory relative to top, kept file entries)`` for every directory.

        Links to files count as files (the entry's ``stat()`` follows them);
        links to directories are not descended into, as in DVC. *top* itself
        is not checked against the rules.
        """
        top_s = os.fspath(top)
        stack: list[_Pending] = [(top_s, "", self.relpath(top_s))]
        while stack:
            path, rel, rootrel = stack.pop()
            scanned = self._scan(path, rootrel, not rel)
            if scanned is None:
                continue
            dirs, files = scanned
            yield rel, files
            for entry in dirs:
                if not entry.is_symlink():
                    child_root = None if rootrel is None else _join(rootrel, entry.name)
                    stack.append((entry.path, _join(rel, entry.name), child_root))

    def iter_files(self, top: str | os.PathLike[str]) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Yield ``(path relative to top, entry)`` for every file kept under *top*."""
        for rel, files in self.iter_dirs(top):
            for entry in files:
                yield _join(rel, entry.name), entry

    def walk(self, top: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk(top)`` (top-down) but without ignored files and directories.

        As with ``os.walk``, removing names from the yielded directory list
        prunes them.

        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); (d / ".git").mkdir()
        >>> _ = (d / "a.txt").write_text("a")
        >>> [(dirs, files) for _, dirs, files in DvcIgnore(d).walk(d)]
        [([], ['a.txt'])]
        """
        top_s = os.fspath(top)
        stack: list[tuple[str, str | None, bool]] = [(top_s, self.relpath(top_s), True)]
        while stack:
            path, rootrel, is_top = stack.pop()
            scanned = self._scan(path, rootrel, is_top)
            if scanned is None:
                continue
            entries = {e.name: e for e in scanned[0]}
            dirs = list(entries)
            yield path, dirs, [e.name for e in scanned[1]]
            for name in reversed(dirs):
                entry = entries.get(name)
                if entry is not None and not entry.is_symlink():
                    child_root = None if rootrel is None else _join(rootrel, name)
                    stack.append((entry.path, child_root, False))


_Scanned = tuple[list[os.DirEntry[str]], list[os.DirEntry[str]]]
_NO_RULES = RuleSet(())


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _as_match(rule: Rule, ignored: bool) -> IgnoreMatch:
    return IgnoreMatch(rule.source, rule.line, rule.text, ignored)


__all__ = [
    "IGNORE_FILE",
    "DvcIgnore",
    "IgnoreFileError",
    "IgnoreMatch",
    "Rule",
    "RuleSet",
    "compile_rule",
    "reanchor",
    "translate",
]
