"""`.gitignore` entries for outputs, written exactly as DVC writes them.

>>> entry_for("/p/model")     # the form DVC appends in the output's directory
'/model'
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from labrun.ignore import Rule, RuleSet
    from labrun.project import Project

_SPECIAL = re.compile(r"([\\*?\[\]!#])")


def entry_for(path: str) -> str:
    """`/<basename>` with gitignore's special characters escaped (trailing space too)."""
    name = _SPECIAL.sub(r"\\\1", os.path.basename(path.rstrip(os.sep)))
    if name.endswith(" "):
        name = name[:-1] + "\\ "
    return "/" + name


def gitignore_path(path: str) -> str:
    """The `.gitignore` that DVC edits for an output: the one in its parent directory."""
    return os.path.join(os.path.dirname(path.rstrip(os.sep)), ".gitignore")


def has_entry(path: str) -> bool:
    """True if the output's `.gitignore` already lists it."""
    ignore_file = gitignore_path(path)
    try:
        with open(ignore_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return False
    return entry_for(path) in lines


def add_entry(path: str) -> str | None:
    """Append the output's entry to its `.gitignore`; return that file if it changed."""
    if has_entry(path):
        return None
    ignore_file = gitignore_path(path)
    text = ""
    if os.path.exists(ignore_file):
        with open(ignore_file, encoding="utf-8") as f:
            text = f.read()
    if text and not text.endswith("\n"):
        text += "\n"
    _replace(ignore_file, text + entry_for(path) + "\n")
    return ignore_file


def _replace(ignore_file: str, text: str) -> None:
    """Write the file's new text by temp file and rename, keeping its mode.

    Rewriting it in place would leave an emptied `.gitignore` behind a process killed
    between truncate and write, losing the entries of outputs that `dvc.lock` already
    records (and that a later run skips, so never adds again).
    """
    from labrun.fsutil import atomic_write

    target = os.path.realpath(ignore_file)  # a symlinked .gitignore stays a symlink
    try:
        mode: int | None = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    atomic_write(target, text.encode("utf-8"), mode=mode)


def remove_entry(path: str) -> None:
    """Drop the output's entry again (after a failed run); delete an emptied file.

    As DVC, the line looked for is the *unescaped* `/<basename>`: an entry that
    needed escaping (`/b\\[2\\].txt` for `b[2].txt`) is not found and stays.
    """
    ignore_file = gitignore_path(path)
    try:
        with open(ignore_file, encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return
    entry = "/" + os.path.basename(path.rstrip(os.sep))
    kept = [line for line in lines if line.strip() != entry.strip()]
    if not kept:
        os.unlink(ignore_file)
    elif kept != lines:
        _replace(ignore_file, "".join(kept))


class GitIgnore:
    """Git's ignore rules for a work tree, read from the files (no `git` process).

    `.gitignore` files of every directory (loaded when first needed), then
    `.git/info/exclude` and the user's excludes file. Used to skip Git-ignored
    dvc files when the project is walked, as DVC does.

        >>> GitIgnore("/repo").is_ignored("data/dvc.yaml", False)     # doctest: +SKIP
        False
    """

    def __init__(self, worktree: str) -> None:
        from labrun.ignore import RuleSet

        self.top = worktree
        base: list[Rule] = []
        for path in _exclude_files(worktree):  # the later file's rules win, as in Git
            if path and os.path.isfile(path):
                base.extend(_rules_of(path, "", "exclude"))
        self._base = RuleSet(tuple(base))
        self._sets: dict[str, RuleSet] = {}

    def _rules_for(self, dirrel: str) -> RuleSet:
        if dirrel not in self._sets:
            if dirrel:
                parent = self._rules_for(dirrel.rpartition("/")[0] if "/" in dirrel else "")
            else:
                parent = self._base
            name = f"{dirrel}/.gitignore" if dirrel else ".gitignore"
            full = os.path.join(self.top, name)
            rules = _rules_of(full, dirrel, name) if os.path.isfile(full) else []
            self._sets[dirrel] = parent.extended(rules) if rules else parent
        return self._sets[dirrel]

    def is_ignored(self, relpath: str, is_dir: bool) -> bool:
        """True if Git ignores the path (relative to the work tree, `/` separators)."""
        parts = relpath.split("/")
        for i in range(1, len(parts) + 1):  # an ignored directory hides everything below
            sub = "/".join(parts[:i])
            ruleset = self._rules_for("/".join(parts[: i - 1]))
            if ruleset.decide(sub, is_dir or i < len(parts))[0]:
                return True
        return False


def ignored_by_git(worktree: str, paths: Sequence[str]) -> set[str]:
    """The given absolute paths that Git ignores, by the rules of the files (no `git` run).

    As in Git, a directory pattern (`/build/`) matches only a path that is a directory.

        >>> ignored_by_git("/repo", ["/repo/run.log"])       # doctest: +SKIP
        {'/repo/run.log'}
    """
    rules = GitIgnore(worktree)
    found: set[str] = set()
    for path in paths:
        rel = os.path.relpath(path, worktree).replace(os.sep, "/")
        if not rel.startswith("../") and rules.is_ignored(rel, os.path.isdir(path)):
            found.add(path)
    return found


# (file, directory) → (mtime_ns, size, inode, text, its rules): a run adding one
# output per stage to the same `.gitignore` would otherwise re-read it all each time
_RULES: dict[tuple[str, str], tuple[int, int, int, str, list[Rule]]] = {}


def _rules_of(path: str, dirrel: str, source: str) -> list[Rule]:
    """The rules of one ignore file, re-anchored to the work tree's top.

    A file that only grew (new lines appended, as labrun appends outputs) has
    only its new lines compiled.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            st = os.fstat(f.fileno())
            key = (path, dirrel)
            known = _RULES.get(key)
            if known is not None and known[:3] == (st.st_mtime_ns, st.st_size, st.st_ino):
                return known[4]
            text = f.read()
    except OSError:
        return []
    if known is not None and known[3].endswith("\n") and text.startswith(known[3]):
        old = known[3]
        rules = known[4] + _parse_rules(text[len(old) :], old.count("\n") + 1, dirrel, source)
    else:
        rules = _parse_rules(text, 1, dirrel, source)
    if len(_RULES) > 10_000:  # long-lived processes: keep the memo bounded
        _RULES.clear()
    _RULES[key] = (st.st_mtime_ns, st.st_size, st.st_ino, text, rules)
    return rules


def _parse_rules(text: str, first: int, dirrel: str, source: str) -> list[Rule]:
    """The rules of the lines of *text*, the first of them being line *first* of the file."""
    from labrun.ignore import compile_rule, reanchor

    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=first):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        try:
            pattern = reanchor(line, dirrel) if dirrel else line
            rule = compile_rule(pattern, source=source, line=number, text=line)
        except ValueError:
            continue  # Git skips patterns it cannot use; so do we
        if rule is not None:
            rules.append(rule)
    return rules


def _exclude_files(worktree: str) -> list[str | None]:
    """The user's excludes file, then the repository's `info/exclude` (which linked
    work trees share: it lives in the common Git directory)."""
    from labrun.scm.git import common_dir, git_dir

    try:
        base = common_dir(git_dir(worktree))
    except OSError:  # an unreadable `.git` file: Git would fail louder elsewhere
        base = os.path.join(worktree, ".git")
    return [_user_excludes(base), os.path.join(base, "info", "exclude")]


def _user_excludes(base: str) -> str | None:
    """`core.excludesFile` as Git reads it (system, user and repository configs, the
    last one setting it wins), else Git's default `~/.config/git/ignore`."""
    from labrun.scm.commits import config_files, read_settings

    home = os.path.expanduser("~")
    settings = read_settings(config_files(base))
    if settings is None:  # a config this reader is unsure of: ~/.gitconfig's line, if any
        settings = _plain_user_setting(home)
    value = settings.get(b"core.excludesfile")
    if value is not None:
        name = os.fsdecode(value)
        return os.path.expanduser(name) if name else None
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(xdg, "git", "ignore")


def _plain_user_setting(home: str) -> dict[bytes, bytes]:
    """``core.excludesfile`` from the first such line of ~/.gitconfig (a best guess)."""
    try:
        with open(os.path.join(home, ".gitconfig"), "rb") as f:
            for line in f:
                key, _, value = line.partition(b"=")
                if key.strip().lower() == b"excludesfile" and value.strip():
                    return {b"core.excludesfile": value.strip().strip(b'"')}
    except OSError:
        pass
    return {}


def discovery_filter(project: Project) -> Callable[[str, bool], bool]:
    """What a project walk skips: `.dvcignore`d paths, and Git-ignored ones inside Git.

    Paths are relative to the project root, with `/` separators.
    """
    from labrun.ignore import DvcIgnore
    from labrun.scm.git import find_worktree

    dvcignore = DvcIgnore(project.root).is_ignored
    worktree = find_worktree(project.root) if project.has_scm else None
    if worktree is None:
        return dvcignore
    git = GitIgnore(worktree)
    prefix = os.path.relpath(project.root, worktree).replace(os.sep, "/")
    prefix = "" if prefix == "." else prefix + "/"

    def ignored(relpath: str, is_dir: bool) -> bool:
        return dvcignore(relpath, is_dir) or git.is_ignored(prefix + relpath, is_dir)

    return ignored


def explain_dvcignored(project: Project) -> Callable[[str], str | None]:
    """For output checks: the `.dvcignore` rule hiding a project-relative path, if any."""
    from labrun.ignore import DvcIgnore

    rules = DvcIgnore(project.root)
    written: dict[int, bool] = {}  # id of a rule set → whether a .dvcignore line is in it

    def explain(relpath: str) -> str | None:
        ruleset = rules.rules_for(relpath.strip("/").rpartition("/")[0])
        if not written.setdefault(id(ruleset), any(r.line for r in ruleset.rules)):
            return None  # built-in rules only: nothing a user wrote can hide the path
        found = rules.explain(relpath)
        return str(found) if found is not None and found.ignored and found.line else None

    return explain
